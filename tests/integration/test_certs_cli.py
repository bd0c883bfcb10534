"""`outpost certs root|leaf`: files, modes, chain, key types, SANs, refusal to overwrite.

The produced files are checked with the openssl command line and used for a
real mutual-TLS handshake with Python's ssl module.
"""
import os
import socket
import ssl
import stat
import subprocess
import threading

import pytest

from conftest import run_outpost


def openssl(*args, check=True):
    return subprocess.run(["openssl"] + list(args), capture_output=True, text=True, check=check)


def make_root(d, name="root", *extra):
    r = run_outpost("certs", "root", "--out", str(d / name), "--subject-org-name", "Outpost Test Root",
                    *extra)
    assert r.returncode == 0, r.stderr
    return d / name


def make_leaf(d, root, name, *extra):
    r = run_outpost("certs", "leaf", "--out", str(d / name), "--subject-org-name", "Outpost Test",
                    "--ca-cert", f"{root}.cert.pem", "--ca-key", f"{root}.key.pem", *extra)
    assert r.returncode == 0, r.stderr
    return d / name


def text(cert):
    return openssl("x509", "-in", str(cert), "-noout", "-text").stdout


def mode(p):
    return stat.S_IMODE(os.stat(p).st_mode)


def test_root_and_leaf_chain_verifies(tmp_path):
    root = make_root(tmp_path, "lib/ws-root")  # missing directory is created
    leaf = make_leaf(tmp_path, root, "lib/ws-proxy", "--dns", "relay.example.net", "--ip", "127.0.0.1")
    for base in (root, leaf):
        for suffix in (".cert.pem", ".key.pem", ".pkeycert.pem"):
            assert (tmp_path / f"{base}{suffix}").exists()
    v = openssl("verify", "-CAfile", f"{root}.cert.pem", "-purpose", "sslserver", f"{leaf}.cert.pem")
    assert v.stdout.strip().endswith("OK")
    v = openssl("verify", "-CAfile", f"{root}.cert.pem", "-purpose", "sslclient", f"{leaf}.cert.pem")
    assert v.stdout.strip().endswith("OK")
    rt = text(f"{root}.cert.pem")
    assert "CA:TRUE" in rt and "Certificate Sign" in rt
    lt = text(f"{leaf}.cert.pem")
    assert "CA:FALSE" in lt
    assert "TLS Web Server Authentication, TLS Web Client Authentication" in lt
    assert "O = Outpost Test, CN = ws-proxy" in lt  # CN defaults to the basename
    assert "Issuer: O = Outpost Test Root, CN = Outpost Test Root" in lt


def test_modes_and_pkeycert_contents(tmp_path):
    root = make_root(tmp_path)
    leaf = make_leaf(tmp_path, root, "peer")
    for base in (root, leaf):
        assert mode(f"{base}.key.pem") == 0o600
        assert mode(f"{base}.pkeycert.pem") == 0o600
        assert mode(f"{base}.cert.pem") == 0o644
        both = open(f"{base}.pkeycert.pem").read()
        assert both == open(f"{base}.cert.pem").read() + open(f"{base}.key.pem").read()
    # no temporary files left behind
    assert sorted(os.listdir(tmp_path)) == sorted(
        f"{n}{s}" for n in ("root", "peer") for s in (".cert.pem", ".key.pem", ".pkeycert.pem"))


def test_default_key_is_ec_p256(tmp_path):
    root = make_root(tmp_path)
    assert "NIST CURVE: P-256" in text(f"{root}.cert.pem")
    k = openssl("pkey", "-in", f"{root}.key.pem", "-noout", "-text").stdout
    assert "P-256" in k


@pytest.mark.parametrize("kt,bits", [("rsa-2048", 2048), ("rsa-4096", 4096)])
def test_rsa_keys(tmp_path, kt, bits):
    root = make_root(tmp_path, "root", "--key-type", kt)
    leaf = make_leaf(tmp_path, root, "leaf", "--key-type", kt)
    for base in (root, leaf):
        assert f"Public-Key: ({bits} bit)" in text(f"{base}.cert.pem")
    assert "Key Encipherment" in text(f"{leaf}.cert.pem")
    v = openssl("verify", "-CAfile", f"{root}.cert.pem", f"{leaf}.cert.pem")
    assert v.stdout.strip().endswith("OK")


def test_mixed_key_types_chain(tmp_path):
    root = make_root(tmp_path, "root", "--key-type", "rsa-2048")
    leaf = make_leaf(tmp_path, root, "leaf")  # EC leaf signed by an RSA CA
    assert "sha256WithRSAEncryption" in text(f"{leaf}.cert.pem")
    assert openssl("verify", "-CAfile", f"{root}.cert.pem", f"{leaf}.cert.pem").returncode == 0


def test_sans(tmp_path):
    root = make_root(tmp_path)
    leaf = make_leaf(tmp_path, root, "a", "--dns", "relay.example.net", "--dns", "*.relay.example.net",
                     "--ip", "127.0.0.1", "--ip", "::1", "--cn", "relay-1")
    t = text(f"{leaf}.cert.pem")
    assert "DNS:relay.example.net, DNS:*.relay.example.net, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1" in t
    assert "CN = relay-1" in t
    # the CN doubles as DNS SAN when no SAN is given
    b = make_leaf(tmp_path, root, "b", "--cn", "gw-0001.example.net")
    assert "DNS:gw-0001.example.net" in text(f"{b}.cert.pem")
    # ...but not when it is not a host name
    c = make_leaf(tmp_path, root, "c", "--cn", "Micronets Manager")
    assert "Subject Alternative Name" not in text(f"{c}.cert.pem")
    v = openssl("verify", "-CAfile", f"{root}.cert.pem", "-verify_hostname", "relay.example.net",
                f"{leaf}.cert.pem")
    assert v.stdout.strip().endswith("OK")
    v = openssl("verify", "-CAfile", f"{root}.cert.pem", "-verify_ip", "127.0.0.1", f"{leaf}.cert.pem")
    assert v.stdout.strip().endswith("OK")


def test_bad_sans_rejected(tmp_path):
    root = make_root(tmp_path)
    for args in (["--dns", "bad name"], ["--ip", "300.1.1.1"], ["--dns", "-x.example"]):
        r = run_outpost("certs", "leaf", "--out", str(tmp_path / "x"), "--ca-cert", f"{root}.cert.pem",
                        "--ca-key", f"{root}.key.pem", *args)
        assert r.returncode == 1, args
        assert not (tmp_path / "x.cert.pem").exists()


def test_refuses_overwrite_without_force(tmp_path):
    root = make_root(tmp_path)
    before = open(f"{root}.cert.pem").read()
    r = run_outpost("certs", "root", "--out", str(root))
    assert r.returncode == 1
    assert "exists" in r.stderr and "--force" in r.stderr
    assert open(f"{root}.cert.pem").read() == before
    # one existing file blocks the whole set: nothing half-written
    (tmp_path / "half.key.pem").write_text("precious\n")
    r = run_outpost("certs", "root", "--out", str(tmp_path / "half"))
    assert r.returncode == 1
    assert not (tmp_path / "half.cert.pem").exists()
    assert (tmp_path / "half.key.pem").read_text() == "precious\n"
    # --force replaces all three
    r = run_outpost("certs", "root", "--out", str(root), "--force")
    assert r.returncode == 0, r.stderr
    assert open(f"{root}.cert.pem").read() != before
    assert mode(f"{root}.key.pem") == 0o600


def test_wrong_ca_inputs(tmp_path):
    root = make_root(tmp_path)
    other = make_root(tmp_path, "other")
    leaf = make_leaf(tmp_path, root, "leaf")
    # key of another CA
    r = run_outpost("certs", "leaf", "--out", str(tmp_path / "x"), "--ca-cert", f"{root}.cert.pem",
                    "--ca-key", f"{other}.key.pem")
    assert r.returncode == 1 and "does not belong" in r.stderr
    # a leaf is not a CA
    r = run_outpost("certs", "leaf", "--out", str(tmp_path / "x"), "--ca-cert", f"{leaf}.cert.pem",
                    "--ca-key", f"{leaf}.key.pem")
    assert r.returncode == 1 and "not a CA" in r.stderr
    # missing file
    r = run_outpost("certs", "leaf", "--out", str(tmp_path / "x"), "--ca-cert", str(tmp_path / "nope"),
                    "--ca-key", f"{root}.key.pem")
    assert r.returncode == 1 and "nope" in r.stderr
    assert not (tmp_path / "x.cert.pem").exists()


def test_usage_and_help():
    r = run_outpost("certs")
    assert r.returncode == 2 and "root|leaf" in r.stderr
    r = run_outpost("certs", "--help")
    assert r.returncode == 0 and "leaf" in r.stdout
    r = run_outpost("certs", "root", "--help")
    assert r.returncode == 0 and "--expiration-in-days" in r.stdout and "--key-type" in r.stdout
    r = run_outpost("certs", "leaf", "--help")
    assert r.returncode == 0 and "--ca-cert" in r.stdout and "--dns" in r.stdout
    r = run_outpost("certs", "root")
    assert r.returncode == 2 and "--out" in r.stderr
    r = run_outpost("certs", "leaf", "--out", "x")
    assert r.returncode == 2 and "--ca-cert" in r.stderr
    r = run_outpost("certs", "root", "--out", "x", "--key-type", "dsa")
    assert r.returncode == 2
    r = run_outpost("certs", "frob")
    assert r.returncode == 2


def test_original_script_option_names(tmp_path):
    """The seed's gen-ocf-*-cert flags keep working."""
    r = run_outpost("certs", "root", "--cert-basename", str(tmp_path / "r"), "--subject-org-name", "R",
                    "--expiration-in-days", "3650")
    assert r.returncode == 0, r.stderr
    r = run_outpost("certs", "leaf", "--cert-basename", str(tmp_path / "l"), "--subject-org-name", "L",
                    "--expiration-in-days", "3650", "--ca-certfile", str(tmp_path / "r.cert.pem"),
                    "--ca-keyfile", str(tmp_path / "r.key.pem"))
    assert r.returncode == 0, r.stderr
    end = openssl("x509", "-in", str(tmp_path / "l.cert.pem"), "-noout", "-enddate").stdout
    assert any(str(y) in end for y in range(2034, 2040))


def test_mutual_tls_handshake_with_generated_certs(tmp_path):
    """Python's ssl loads the pkeycert files and completes a mutual-TLS handshake."""
    root = make_root(tmp_path)
    server = make_leaf(tmp_path, root, "server", "--dns", "localhost")
    client = make_leaf(tmp_path, root, "client", "--cn", "gw-0001")
    sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    sctx.load_cert_chain(f"{server}.pkeycert.pem")
    sctx.load_verify_locations(f"{root}.cert.pem")
    sctx.verify_mode = ssl.CERT_REQUIRED
    cctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    cctx.load_cert_chain(f"{client}.cert.pem", f"{client}.key.pem")
    cctx.load_verify_locations(f"{root}.cert.pem")
    a, b = socket.socketpair()
    seen = {}

    def serve():
        with sctx.wrap_socket(a, server_side=True) as s:
            seen["peer"] = s.getpeercert()
            s.sendall(b"ok")

    t = threading.Thread(target=serve)
    t.start()
    with cctx.wrap_socket(b, server_hostname="localhost") as c:
        assert c.recv(2) == b"ok"
    t.join(10)
    subject = dict(x[0] for x in seen["peer"]["subject"])
    assert subject["commonName"] == "gw-0001"
