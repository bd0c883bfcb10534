"""outpost acs: where connection requests may go and what they carry.

A CPE reports its ConnectionRequestURL itself, so the ACS must not become a
client of its own host (--cr-deny), must give the cwmp-proxy's credentials
only to a configured proxy (--cr-proxy: scheme, host, port and its /client
path), never sends Basic before a challenge nor over plain HTTP unless told
to (--cr-basic, --cr-basic-plain), and records on the task what became of
the wake-up."""
import base64
import http.server
import os
import re
import socketserver
import threading
import time

import pytest
import requests

from conftest import free_port, run_outpost
from cwmp_cpe import CPE, acs_envelopes_valid  # noqa: F401 (autouse: validates what the ACS sent)
from cwmp_proxy_util import CpeEndpoint
from test_acs_session import Api, cwmp_addr, start_acs

CR = ("cr-user", "cr-pass")
RELAY = ("relay", "relay-pw")
ALLOW_LOOPBACK = ("--cr-deny", "169.254.0.0/16")


def basic(user, password):
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def digest_user(auth):
    m = re.search(r'username="([^"]*)"', auth or "")
    return m.group(1) if m else None


class Capture:
    """A connection-request endpoint that records every request. `offer`:
    the challenges it sends ("digest", "basic" or both); any Authorization
    of an offered scheme is taken as good (what was sent is what the tests
    look at)."""

    def __init__(self, offer=("digest",)):
        self.offer = offer
        self.seen = []          # (path, Authorization or None)
        outer = self

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                auth = self.headers.get("Authorization")
                outer.seen.append((self.path, auth))
                scheme = (auth or "").split(" ")[0].lower()
                if scheme in outer.offer:
                    self.send_response(200)
                else:
                    self.send_response(401)
                    if "digest" in outer.offer:
                        self.send_header("WWW-Authenticate", 'Digest realm="cpe", qop="auth", '
                                         f'algorithm=MD5, nonce="{os.urandom(8).hex()}"')
                    if "basic" in outer.offer:
                        self.send_header("WWW-Authenticate", 'Basic realm="cpe"')
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *a):
                pass

        class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
            daemon_threads = True

        self.server = S(("127.0.0.1", 0), H)
        self.port = self.server.server_address[1]
        self.base = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def capture():
    made = []

    def make(offer=("digest",)):
        c = Capture(offer)
        made.append(c)
        return c
    yield make
    for c in made:
        c.stop()


def register(d, serial, cr_url=None):
    cpe = CPE(cwmp_addr(d))
    cpe.inform(serial, cr_url=cr_url)
    cpe.post()
    cpe.close()
    return f"00D09E-IGD-{serial}"


def task_cr(api, dev, task_id, timeout=10):
    """The task's connection_request once it is known (as GET /api/tasks and
    the device's task list show it)."""
    deadline = time.monotonic() + timeout
    while True:
        t = api.get(f"/api/tasks/{task_id}").json()
        if t["connection_request"]:
            listed = [x for x in api.get(f"/api/devices/{dev}/tasks").json() if x["id"] == task_id]
            assert listed and listed[0]["connection_request"] == t["connection_request"]
            return t["connection_request"]
        assert time.monotonic() < deadline, t
        time.sleep(0.05)


def test_default_deny_refuses_loopback_without_a_request(outpost, tmp_path, capture):
    cap = capture()
    d = start_acs(outpost, tmp_path, "--cpe-auth", "none", "--cr-username", CR[0],
                  "--cr-password", CR[1], "--cr-proxy-username", RELAY[0],
                  "--cr-proxy-password", RELAY[1], "--cr-proxy", "http://proxy.example:7548")
    api = Api(d)
    dev = register(d, "D1", cap.base + "/client?origin=x")
    r = api.post(f"/api/devices/{dev}/connection-request")
    assert r.status_code == 403, r.text
    assert r.json()["error"] == "connection_request_refused"
    assert "127.0.0.1" in r.json()["message"] and "--cr-deny" in r.json()["message"]
    # a name is resolved first, and its addresses are checked the same way
    dev2 = register(d, "D2", f"http://localhost:{cap.port}/cr")
    r = api.post(f"/api/devices/{dev2}/connection-request")
    assert r.status_code == 403 and "--cr-deny" in r.json()["message"], r.text
    # a task's wake-up is refused the same way, and the task says so
    t = api.post(f"/api/devices/{dev}/tasks", {"type": "reboot"}).json()
    cr = task_cr(api, dev, t["id"])
    assert cr["status"] == "refused" and "127.0.0.1" in cr["reason"], cr
    assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", cr["at"]), cr
    assert cap.seen == []                                   # not a single request
    d.wait_for(r"cwmp_connection_request device=00D09E-IGD-D1 .*outcome=refused")


def test_task_records_every_outcome(outpost, tmp_path, capture):
    cap = capture()
    d = start_acs(outpost, tmp_path, "--cpe-auth", "none", "--cr-username", CR[0],
                  "--cr-password", CR[1], *ALLOW_LOOPBACK)
    api = Api(d)
    cases = [
        ("O1", None, "refused", "ConnectionRequestURL"),               # none reported
        ("O2", "file:///etc/passwd", "refused", "http"),              # not http(s)
        ("O3", "http://169.254.169.254/latest/", "refused", "--cr-deny"),
        ("O4", f"http://127.0.0.1:{free_port()}/cr", "failed", ""),   # nobody listens
        ("O5", cap.base + "/cr", "ok", ""),
    ]
    for serial, url, status, why in cases:
        dev = register(d, serial, url)
        created = api.post(f"/api/devices/{dev}/tasks", {"type": "reboot"})
        assert created.status_code == 201, created.text
        cr = task_cr(api, dev, created.json()["id"])
        assert cr["status"] == status and why in cr["reason"], (serial, cr)
    assert [digest_user(a) for _, a in cap.seen] == [None, CR[0]]
    # the manual request says why too
    r = api.post("/api/devices/00D09E-IGD-O2/connection-request")
    assert r.status_code == 409 and "http" in r.json()["message"], r.text
    r = api.post("/api/devices/00D09E-IGD-O4/connection-request")
    assert r.status_code == 502 and r.json()["error"] == "connection_request_failed", r.text


def test_proxy_credentials_only_to_a_configured_proxy(outpost, tmp_path, capture):
    proxy, other = capture(), capture()
    d = start_acs(outpost, tmp_path, "--cpe-auth", "none", "--cr-username", CR[0],
                  "--cr-password", CR[1], "--cr-proxy-username", RELAY[0],
                  "--cr-proxy-password", RELAY[1], "--cr-proxy", proxy.base, *ALLOW_LOOPBACK)
    api = Api(d)
    # /client?origin= on a host:port that is not a configured proxy: a CPE like any other
    dev = register(d, "P1", other.base + "/client?origin=http%3A%2F%2F10.0.0.1%2F")
    assert api.post(f"/api/devices/{dev}/connection-request").status_code == 200
    assert [digest_user(a) for _, a in other.seen] == [None, CR[0]]
    # the configured proxy's port, but not its /client endpoint
    dev = register(d, "P2", proxy.base + "/elsewhere")
    assert api.post(f"/api/devices/{dev}/connection-request").status_code == 200
    assert [digest_user(a) for _, a in proxy.seen] == [None, CR[0]]
    # the configured port under another name: not the configured proxy either
    proxy.seen.clear()
    dev = register(d, "P4", f"http://localhost:{proxy.port}/client?origin=x")
    assert api.post(f"/api/devices/{dev}/connection-request").status_code == 200
    assert [digest_user(a) for _, a in proxy.seen] == [None, CR[0]]
    # the configured proxy: its credentials, after a challenge, Digest
    proxy.seen.clear()
    dev = register(d, "P3", proxy.base + "/client?origin=http%3A%2F%2F10.0.0.1%2F")
    assert api.post(f"/api/devices/{dev}/connection-request").status_code == 200
    assert [digest_user(a) for _, a in proxy.seen] == [None, RELAY[0]]
    assert proxy.seen[0][0] == "/client?origin=http%3A%2F%2F10.0.0.1%2F"
    for c in (proxy, other):
        assert not any(a and a.startswith("Basic") for _, a in c.seen), c.seen


def test_basic_after_a_challenge_and_over_http_only_when_told(outpost, tmp_path, capture):
    cap = capture(offer=("basic",))
    creds = ("--cpe-auth", "none", "--cr-username", CR[0], "--cr-password", CR[1], *ALLOW_LOOPBACK)
    # --cr-basic alone: Basic is for https; the password stays home over http
    d = start_acs(outpost, tmp_path / "a", *creds, "--cr-basic")
    api = Api(d)
    dev = register(d, "B1", cap.base + "/cr")
    r = api.post(f"/api/devices/{dev}/connection-request")
    assert r.status_code == 502, r.text
    assert "--cr-basic-plain" in r.json()["message"]
    assert cap.seen and all(a is None for _, a in cap.seen), cap.seen
    t = api.post(f"/api/devices/{dev}/tasks", {"type": "reboot"}).json()
    cr = task_cr(api, dev, t["id"])
    assert cr["status"] == "failed" and "--cr-basic-plain" in cr["reason"], cr
    assert all(a is None for _, a in cap.seen), cap.seen
    d.stop()
    # with --cr-basic-plain: Basic, but only in answer to the challenge
    cap.seen.clear()
    d = start_acs(outpost, tmp_path / "b", *creds, "--cr-basic", "--cr-basic-plain")
    api = Api(d)
    dev = register(d, "B2", cap.base + "/cr")
    r = api.post(f"/api/devices/{dev}/connection-request")
    assert r.status_code == 200, r.text
    assert cap.seen == [("/cr", None), ("/cr", basic(*CR))]
    # a CPE that offers Digest too gets Digest, never Basic
    both = capture(offer=("digest", "basic"))
    dev = register(d, "B3", both.base + "/cr")
    assert api.post(f"/api/devices/{dev}/connection-request").status_code == 200
    assert [digest_user(a) for _, a in both.seen] == [None, CR[0]]


@pytest.mark.parametrize("args, word", [
    (("--cr-proxy-username", "relay", "--cr-proxy-password", "pw"), "--cr-proxy"),
    (("--cr-basic-plain",), "--cr-basic"),
    (("--cr-proxy", "ftp://proxy.example/"), "--cr-proxy"),
    (("--cr-proxy", "http://proxy.example/x?y=1"), "--cr-proxy"),
    (("--cr-deny", "not-a-cidr"), "--cr-deny"),
])
def test_start_refuses_bad_cr_options(tmp_path, args, word):
    p = run_outpost("acs", "--cwmp-listen", "127.0.0.1:0", "--api-listen", "127.0.0.1:0",
                    "--data-dir", str(tmp_path / "x"), "--api-token", "x", "--cpe-auth", "none",
                    *args, timeout=20)
    assert p.returncode == 2, p.stderr
    assert word in p.stderr


def test_download_urls_are_http_https_or_ftp(outpost, tmp_path):
    d = start_acs(outpost, tmp_path, "--cpe-auth", "none")
    api = Api(d)
    dev = register(d, "U1")
    for url in ("file:///etc/passwd", "gopher://h/x", "http:///nohost", "FILE://h/etc/passwd"):
        for typ in ("download", "upload"):
            r = api.post(f"/api/devices/{dev}/tasks", {"type": typ, "parameters": {"url": url}})
            assert r.status_code == 422 and r.json()["error"] == "invalid_task", (url, r.text)
            assert "url" in r.json()["message"]
    for url in ("http://h/fw.bin", "HTTPS://h:8443/fw", "ftp://user@h/fw"):
        r = api.post(f"/api/devices/{dev}/tasks", {"type": "download", "parameters": {"url": url}})
        assert r.status_code == 201, (url, r.text)


def test_acs_wakes_through_the_proxy_with_digest(outpost, tmp_path):
    """ACS -> cwmp-proxy in Digest over plain HTTP (no Basic allowed on the
    ACS), the proxy -> CPE in Digest, end to end."""
    port = free_port()
    pub = f"http://127.0.0.1:{port}"
    acs = start_acs(outpost, tmp_path, "--cpe-auth", "none", "--cr-proxy", pub,
                    "--cr-proxy-username", RELAY[0], "--cr-proxy-password", RELAY[1])
    px = outpost("cwmp-proxy", "--listen", f"127.0.0.1:{port}", "--admin-listen", "127.0.0.1:0",
                 "--wakeup-deny", "169.254.0.0/16", "--public-url", pub,
                 "--data-dir", str(tmp_path / "px"), "--api-token", "tok",
                 "--backend", acs.url("listen") + "/",
                 "--acs-username", RELAY[0], "--acs-password", RELAY[1],
                 "--cpe-username", "cpe", "--cpe-password", "cpe-secret", ready=False)
    px.wait_ready()
    endpoint = CpeEndpoint(user="cpe", password="cpe-secret")
    try:
        cpe = CPE(px.addr())
        cpe.inform("PX1", cr_url=endpoint.url)
        cpe.post()
        cpe.close()
        api = Api(acs)
        dev = "00D09E-IGD-PX1"
        assert api.get(f"/api/devices/{dev}").json()["connection_request_url"].startswith(pub + "/client?")
        r = api.post(f"/api/devices/{dev}/connection-request")
        assert r.status_code == 200, r.text
        assert endpoint.woken == 1
        px.wait_for(r"wakeup device=00D09E-IGD-PX1 .*outcome=ok")
        # the proxy's /client challenges with Digest (and Basic, for older ACSs)
        url = api.get(f"/api/devices/{dev}").json()["connection_request_url"]
        r = requests.get(url, timeout=10)
        assert r.status_code == 401 and "Digest" in r.headers["WWW-Authenticate"]
        # a task wakes it the same way and says so
        t = api.post(f"/api/devices/{dev}/tasks", {"type": "reboot"}).json()
        assert task_cr(api, dev, t["id"])["status"] == "ok"
        assert endpoint.woken == 2
    finally:
        endpoint.stop()


def test_connection_requests_in_flight_are_capped(outpost, tmp_path):
    """Each connection request holds a socket until the CPE answers: a bulk
    action must not take every descriptor. Beyond --cr-max-in-flight the
    request is refused (not sent) and the task says why."""
    held = threading.Event()
    release = threading.Event()

    class Slow(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):
            held.set()
            release.wait(10)
            self.send_response(204)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *a):
            pass

    class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
        daemon_threads = True

    srv = S(("127.0.0.1", 0), Slow)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{srv.server_address[1]}/cr"
    try:
        d = start_acs(outpost, tmp_path, "--cpe-auth", "none", "--cr-max-in-flight", "1", *ALLOW_LOOPBACK)
        api = Api(d)
        a, b = register(d, "F1", url), register(d, "F2", url)
        t1 = api.post(f"/api/devices/{a}/tasks", {"type": "reboot"}).json()
        assert held.wait(10)
        t2 = api.post(f"/api/devices/{b}/tasks", {"type": "reboot"}).json()
        cr = task_cr(api, b, t2["id"])
        assert cr["status"] == "refused" and "--cr-max-in-flight" in cr["reason"], cr
        r = api.post(f"/api/devices/{b}/connection-request")
        assert r.status_code == 503 and r.json()["error"] == "busy", r.text
        release.set()
        assert task_cr(api, a, t1["id"])["status"] == "ok"
        # the slot is free again
        assert api.post(f"/api/devices/{b}/connection-request").status_code == 200
    finally:
        release.set()
        srv.shutdown()
        srv.server_close()
