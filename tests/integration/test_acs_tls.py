"""outpost acs with TLS on the CWMP endpoint: Basic is accepted there (and
only there, by default)."""
import ssl

from conftest import run_outpost
from cwmp_cpe import CPE, acs_envelopes_valid  # noqa: F401 (autouse: validates what the ACS sent)
from test_acs_session import start_acs


def test_cwmp_over_tls_with_basic(outpost, tmp_path):
    pki = tmp_path / "pki"
    pki.mkdir()
    p = run_outpost("certs", "root", "--out", str(pki / "root"))
    assert p.returncode == 0, p.stderr
    p = run_outpost("certs", "leaf", "--out", str(pki / "acs"), "--cn", "localhost", "--ip",
                    "127.0.0.1", "--ca-cert", str(pki / "root.cert.pem"), "--ca-key",
                    str(pki / "root.key.pem"))
    assert p.returncode == 0, p.stderr
    d = start_acs(outpost, tmp_path, "--cpe-auth", "both", "--cpe-password", "pw",
                  "--tls-cert", str(pki / "acs.cert.pem"), "--tls-key", str(pki / "acs.key.pem"))
    assert d.fields["tls"] == "true"
    ctx = ssl.create_default_context(cafile=str(pki / "root.cert.pem"))
    cpe = CPE(d.addr("listen"), auth=("cpe", "pw"), tls=ctx, basic=True)
    r = cpe.inform("TLS1")
    assert r.rpc == "InformResponse"
    assert cpe.post().status == 204
    wrong = CPE(d.addr("listen"), auth=("cpe", "nope"), tls=ctx, basic=True)
    assert wrong.inform("TLS1").status == 401
