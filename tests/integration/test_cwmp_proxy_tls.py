"""cwmp-proxy over TLS: CPEs reach it with https, it reaches an https ACS
node verified against a CA, and HTTP health checks."""
import http.client
import ssl

from conftest import run_outpost
from cwmp_proxy_util import Backend, inform, proxied

PUB = "https://proxy.test:7548"


def make_certs(tmp_path):
    d = tmp_path / "pki"
    d.mkdir()
    r = run_outpost("certs", "root", "--out", str(d / "root"), "--subject-org-name", "Test Root")
    assert r.returncode == 0, r.stderr
    for name in ("proxy", "acs"):
        r = run_outpost("certs", "leaf", "--out", str(d / name), "--subject-org-name", "Test",
                        "--ca-cert", str(d / "root.cert.pem"), "--ca-key", str(d / "root.key.pem"),
                        "--cn", "localhost", "--ip", "127.0.0.1")
        assert r.returncode == 0, r.stderr
    return d


def test_tls_both_sides(outpost, tmp_path):
    pki = make_certs(tmp_path)
    node = Backend("TLS")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(pki / "acs.cert.pem"), str(pki / "acs.key.pem"))
    node.server.socket = ctx.wrap_socket(node.server.socket, server_side=True)
    url = f"https://127.0.0.1:{node.port}/"
    px = outpost("cwmp-proxy", "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0",
                 "--wakeup-deny", "169.254.0.0/16",
                 "--public-url", PUB, "--data-dir", str(tmp_path / "px"), "--api-token", "tok",
                 "--tls-cert", str(pki / "proxy.cert.pem"), "--tls-key", str(pki / "proxy.key.pem"),
                 "--backend", url, "--backend-ca", str(pki / "root.cert.pem"),
                 "--health-path", "/health")
    client_ctx = ssl.create_default_context(cafile=str(pki / "root.cert.pem"))
    host, port = px.addr()
    c = http.client.HTTPSConnection(host, port, context=client_ctx, timeout=10)
    body = inform(crurl="http://10.2.2.2:7547/")
    c.request("POST", "/", body=body.encode(), headers={"Content-Type": "text/xml"})
    r = c.getresponse()
    assert r.status == 200 and r.read() == b"TLS"
    cookie = r.getheader("Set-Cookie")
    assert cookie.startswith("OPLB=") and "Secure" in cookie
    got = node.requests[-1]
    assert got["headers"]["X-Forwarded-Proto"] == "https"
    assert got["body"].decode() == body.replace("http://10.2.2.2:7547/", proxied(PUB, "http://10.2.2.2:7547/"))
    c.close()
    # the HTTP health check reached the node over TLS
    assert any(q["path"] == "/health" for q in node.requests)
    node.stop()


def test_backend_certificate_not_trusted(outpost, tmp_path):
    pki = make_certs(tmp_path)
    node = Backend("TLS")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(pki / "acs.cert.pem"), str(pki / "acs.key.pem"))
    node.server.socket = ctx.wrap_socket(node.server.socket, server_side=True,
                                         do_handshake_on_connect=False)
    px = outpost("cwmp-proxy", "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0",
                 "--wakeup-deny", "169.254.0.0/16",
                 "--public-url", PUB, "--data-dir", str(tmp_path / "px"), "--api-token", "tok",
                 "--backend", f"https://127.0.0.1:{node.port}/", "--health-interval", "1h",
                 "--health-fall", "100")  # the system store does not know our test root
    c = http.client.HTTPConnection(*px.addr(), timeout=10)
    c.request("POST", "/", body=inform().encode())
    r = c.getresponse()
    assert r.status in (502, 504)
    assert node.requests == []
    c.close()
    node.stop()


def test_wakeup_https_origin(outpost, tmp_path):
    # A CPE whose connection-request URL is https with a certificate nobody
    # vouches for (the rule for CPEs): the relay still reaches it, Digest.
    from cwmp_proxy_util import Conn, CpeEndpoint
    import requests
    pki = make_certs(tmp_path)
    node = Backend("A")
    cpe = CpeEndpoint()
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(pki / "acs.cert.pem"), str(pki / "acs.key.pem"))
    cpe.server.socket = ctx.wrap_socket(cpe.server.socket, server_side=True)
    origin = f"https://127.0.0.1:{cpe.port}/cr"
    px = outpost("cwmp-proxy", "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0",
                 "--wakeup-deny", "169.254.0.0/16",
                 "--public-url", "http://proxy.test:7548", "--data-dir", str(tmp_path / "px"),
                 "--api-token", "tok", "--backend", node.url, "--acs-username", "acs",
                 "--acs-password", "pw", "--cpe-username", "cpe", "--cpe-password", "secret")
    c = Conn(*px.addr())
    assert c.post(inform(serial="TLS1", crurl=origin))[0] == 200
    c.close()
    url = proxied(px.url(), origin)
    r = requests.get(url, auth=("acs", "pw"), timeout=10)
    assert r.status_code == 200, r.text
    assert cpe.woken == 1 and cpe.hits[0] is None
    node.stop()
    cpe.stop()
