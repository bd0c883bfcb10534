"""The commented example configurations in examples/ are accepted by their
daemons as they are: each daemon starts with `--config examples/NAME.yaml`,
and only what points at this machine's resources is overridden by flags
(listeners on free loopback ports, state in a temporary directory, files and
peers made by the test), so every key of every example is parsed, checked
and applied. Nothing is sent to the example's addresses."""
import pathlib

import pytest
import requests

from conftest import ROOT
from cwmp_proxy_util import Backend
from relay_util import PKI, ws_url

EXAMPLES = ROOT / "examples"
LOCAL = ("--admin-listen", "127.0.0.1:0")


def example(name):
    p = EXAMPLES / f"{name}.yaml"
    assert p.exists(), p
    return ("--config", str(p))


def test_every_daemon_has_an_example():
    names = {p.stem for p in EXAMPLES.glob("*.yaml")}
    assert names == {"acs", "cwmp-proxy", "relay", "relay-client", "relay-connector", "gateway", "agent",
                     "cpe-sim"}
    for p in EXAMPLES.glob("*.yaml"):
        text = p.read_text()
        assert text.startswith("# outpost "), p          # says what it is
        assert "--help" in text, p                        # and where the rest is


@pytest.mark.acs
def test_examples_are_accepted(outpost, tmp_path):
    creds = tmp_path / "acs-cpe-credentials"
    creds.write_text("cpe-1 secret 00D09E-IGD-SN1\n")
    acs = outpost("acs", *example("acs"), "--cwmp-listen", "127.0.0.1:0", "--api-listen", "127.0.0.1:0",
                  *LOCAL, "--data-dir", str(tmp_path / "acs"), "--cpe-credentials", str(creds))
    assert acs.fields["cpe_auth"] == "digest"

    node = Backend("A")
    outpost("cwmp-proxy", *example("cwmp-proxy"), "--listen", "127.0.0.1:0", *LOCAL,
            "--data-dir", str(tmp_path / "px"), "--backend", node.url)

    pki = PKI(tmp_path / "pki")
    relay = outpost("relay", *example("relay"), "--listen", "127.0.0.1:0", *LOCAL,
                    "--data-dir", str(tmp_path / "relay"), "--tls-cert", pki.pkeycert("relay"),
                    "--tls-ca", pki.cert("root"))
    peer_tls = ("--tls-ca", pki.cert("root"))
    outpost("relay-connector", *example("relay-connector"), "--relay-url", ws_url(relay, "gw-0001"),
            "--tls-cert", pki.pkeycert("gw-0001"), *peer_tls, "--target", node.url,
            "--events-listen", "127.0.0.1:0", *LOCAL, "--data-dir", str(tmp_path / "rcn"))
    outpost("relay-client", *example("relay-client"), "--relay-url", ws_url(relay, "gw-0001"),
            "--tls-cert", pki.pkeycert("manager"), *peer_tls, "--listen", "127.0.0.1:0", *LOCAL,
            "--data-dir", str(tmp_path / "rcl"))

    gw = outpost("gateway", *example("gateway"), "--listen", "127.0.0.1:0", *LOCAL,
                 "--data-dir", str(tmp_path / "gw"), "--tls-cert", pki.pkeycert("relay"))
    assert gw.fields["agents"] == "2" and gw.fields["rules"] == "1"
    key = tmp_path / "agent.key"
    key.write_text("not-the-right-key\n")
    host, port = gw.addr()
    outpost("agent", *example("agent"), "--gateway", f"wss://localhost:{port}/tunnel", "--key-file", str(key),
            "--tls-ca", pki.cert("root"), "--listen", "127.0.0.1:0", *LOCAL, "--data-dir", str(tmp_path / "ag"))

    outpost("cpe-sim", *example("cpe-sim"), "--acs", "http://" + acs.fields["listen"] + "/", "--count", "2",
            "--cr-listen", "127.0.0.1:0", *LOCAL, "--data-dir", str(tmp_path / "sim"))
    node.stop()


@pytest.mark.acs
def test_acs_provisioning_example_is_accepted(outpost, tmp_path):
    """The commented presets: and ext: of examples/acs.yaml, uncommented, start the ACS
    and its presets are stored as written."""
    text = (EXAMPLES / "acs.yaml").read_text()
    block = text[text.index("# --- presets (example) ---"):text.index("# --- end ---")]
    lines = [ln[2:] for ln in block.splitlines()[1:] if ln.startswith("# ")]
    lines = [ln for ln in lines if not ln.lstrip().startswith("#")]  # the prose stays out
    cfg = tmp_path / "acs.yaml"
    cfg.write_text("cpe-auth: none\napi-token: t\n" + "\n".join(lines) + "\n")
    acs = outpost("acs", "--config", str(cfg), "--cwmp-listen", "127.0.0.1:0", "--api-listen", "127.0.0.1:0",
                  *LOCAL, "--data-dir", str(tmp_path / "acs"))
    acs.wait_for(r"presets_config presets=2 ")
    acs.wait_for(r"ext_configured name=ipam ")
    got = requests.get(acs.url("api") + "/api/presets/AutoSSID", headers={"Authorization": "Bearer t"},
                       timeout=10).json()
    assert got["provisions"][1] == {"type": "set", "path": "Device.WiFi.SSID.1.SSID",
                                    "value": "AutoSSID_{serial_number}"}
