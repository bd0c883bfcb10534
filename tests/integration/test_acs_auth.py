"""outpost acs: Basic stays off plain HTTP unless configured (CPEs and
connection requests alike), connection requests to a configured outpost
cwmp-proxy's /client?origin= use the proxy's credentials, and the API token
generated on first start."""
import base64
import http.server
import threading

import requests

from conftest import run_outpost
from cwmp_cpe import CPE, envelope, inform, acs_envelopes_valid  # noqa: F401 (autouse: validates what the ACS sent)
from test_acs_session import Api, cwmp_addr, start_acs


def basic(user, password):
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def challenges(addr):
    anon = CPE(addr)
    anon.new_connection()
    anon.conn.request("POST", "/", body=envelope(inform("B1")))
    r = anon.conn.getresponse()
    r.read()
    assert r.status == 401
    return [v for k, v in r.getheaders() if k.lower() == "www-authenticate"]


def test_cpe_basic_only_over_tls_unless_configured(outpost, tmp_path):
    d = start_acs(outpost, tmp_path / "a", "--cpe-auth", "both", "--cpe-password", "pw")
    addr = cwmp_addr(d)
    chal = challenges(addr)
    assert chal and all(c.startswith("Digest") for c in chal)     # Basic not offered...
    r = CPE(addr).post(envelope(inform("B1")), authorization=basic("cpe", "pw"))
    assert r.status == 401                                         # ...nor accepted
    assert CPE(addr, auth=("cpe", "pw")).inform("B1").rpc == "InformResponse"   # Digest is
    d = start_acs(outpost, tmp_path / "b", "--cpe-auth", "both", "--cpe-password", "pw",
                  "--cpe-basic-plain")
    addr = cwmp_addr(d)
    assert any(c.startswith("Basic") for c in challenges(addr))
    assert CPE(addr, auth=("cpe", "pw"), basic=True).inform("B1").rpc == "InformResponse"
    # Basic alone over plain HTTP is a configuration error, caught at start.
    p = run_outpost("acs", "--cwmp-listen", "127.0.0.1:0", "--api-listen", "127.0.0.1:0",
                    "--data-dir", str(tmp_path / "c"), "--api-token", "x", "--cpe-auth", "basic",
                    "--cpe-password", "pw", timeout=20)
    assert p.returncode == 2 and "cpe-basic-plain" in p.stderr
    assert p.stderr.count(" error ") == 1                          # one line for one failure


class BasicEndpoint(http.server.BaseHTTPRequestHandler):
    """A connection request endpoint that only speaks Basic: a CPE's
    (/cr, user/pass) or outpost cwmp-proxy's (/client?origin=..., relay)."""
    want = {"/cr": ("cr-user", "cr-pass"), "/client": ("relay", "relay-pw")}
    seen = []

    def do_GET(self):
        path = self.path.split("?")[0]
        auth = self.headers.get("Authorization")
        BasicEndpoint.seen.append((self.path, auth))
        ok = auth == basic(*self.want[path])
        self.send_response(200 if ok else 401)
        if not ok:
            self.send_header("WWW-Authenticate", 'Basic realm="cr"')
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *a):
        pass


def test_connection_request_basic_and_proxy(outpost, tmp_path):
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), BasicEndpoint)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{srv.server_address[1]}"
    creds = ("--cr-username", "cr-user", "--cr-password", "cr-pass", "--cr-proxy", base,
             "--cr-proxy-username", "relay", "--cr-proxy-password", "relay-pw",
             "--cr-deny", "169.254.0.0/16")  # the CPE and proxy here live on loopback
    try:
        for sub, extra in (("a", ()), ("b", ("--cr-basic", "--cr-basic-plain"))):
            d = start_acs(outpost, tmp_path / sub, "--cpe-auth", "none", *creds, *extra)
            api = Api(d)
            cpe = CPE(cwmp_addr(d))
            cpe.inform("CR1", cr_url=base + "/cr")
            cpe.post()
            cpe.inform("CR2", cr_url=base + "/client?origin=abc")
            cpe.post()
            for dev, path, want in (("CR1", "/cr", ("cr-user", "cr-pass")),
                                    ("CR2", "/client?origin=abc", ("relay", "relay-pw"))):
                BasicEndpoint.seen.clear()
                r = api.post(f"/api/devices/00D09E-IGD-{dev}/connection-request")
                if not extra:
                    # Digest only by default: a Basic-only endpoint never gets the password.
                    assert r.status_code == 502 and r.json()["error"] == "connection_request_failed"
                    assert all(a is None for _, a in BasicEndpoint.seen), BasicEndpoint.seen
                else:
                    # Basic over plain http when told, and only after the challenge; the
                    # configured cwmp-proxy's /client gets the proxy's credentials.
                    assert r.status_code == 200 and r.json() == {"ok": True, "http_status": 200}
                    assert BasicEndpoint.seen == [(path, None), (path, basic(*want))]
    finally:
        srv.shutdown()
        srv.server_close()


def test_api_token_generated_once(outpost, tmp_path):
    args = ("acs", "--cwmp-listen", "127.0.0.1:0", "--api-listen", "127.0.0.1:0",
            "--data-dir", str(tmp_path / "data"), "--cpe-auth", "none")
    d = outpost(*args)
    m = d.wait_for(r"api_token_generated .*token=([0-9a-f]+)")
    token = m.group(1)
    assert len(token) >= 32
    stored = (tmp_path / "data" / "api-token")
    assert stored.read_text().strip() == token
    assert stored.stat().st_mode & 0o077 == 0                      # readable by its owner only
    url = d.url("api") + "/api/stats"
    assert requests.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=5).status_code == 200
    assert requests.get(url, timeout=5).status_code == 401
    d.stop()
    # Second start: the stored token, not printed again.
    d = outpost(*args)
    # (the event, not the test's own directory name in a logged path)
    assert " api_token_generated " not in d.output() and token not in d.output()
    assert requests.get(d.url("api") + "/api/stats", headers={"Authorization": f"Bearer {token}"},
                        timeout=5).status_code == 200
