"""cwmp-proxy wake-up relay: Digest or Basic from the ACS, allowlist of rewritten
origins, Digest (MD5 and SHA-256) to the CPE, status mapping, persistence."""
import http.client
import os
import socket
import threading
import time
from urllib.parse import urlsplit

import requests

from conftest import free_port
from cwmp_proxy_util import (Backend, Conn, CpeEndpoint, _h, _parse_auth, gpv_response, inform,
                              proxied)

PUB = "http://proxy.test:7548"
ACS = ("acs", "acs-secret")


def start_proxy(outpost, tmp_path, backend, *extra, data="px"):
    return outpost("cwmp-proxy", "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0",
                   "--wakeup-deny", "169.254.0.0/16",
                   "--public-url", PUB, "--data-dir", str(tmp_path / data), "--api-token", "tok",
                   "--backend", backend.url, "--acs-username", ACS[0], "--acs-password", ACS[1],
                   "--wakeup-connect-timeout", "500ms", "--wakeup-timeout", "1s", *extra)


def register(px, serial, crurl):
    """A CPE informs through the proxy; returns the URL the ACS got."""
    c = Conn(*px.addr())
    st, _, _ = c.post(inform(serial=serial, crurl=crurl))
    assert st == 200
    c.close()
    return proxied(PUB, crurl)


def wake(px, url, auth=ACS):
    local = url.replace(PUB, px.url())
    return requests.get(local, auth=auth, timeout=10)


def test_wakeup_digest_both_algorithms(outpost, tmp_path):
    a = Backend("A")
    sha = CpeEndpoint(algorithms=("SHA-256",))
    md5 = CpeEndpoint(algorithms=("MD5",))
    px = start_proxy(outpost, tmp_path, a, "--cpe-username", "cpe", "--cpe-password", "secret")
    for i, cpe in enumerate((sha, md5)):
        url = register(px, f"W{i}", cpe.url)
        # what the ACS stored is what it calls
        assert url in a.requests[-1]["body"].decode()
        r = wake(px, url)
        assert r.status_code == 200, r.text
        assert cpe.woken == 1
        assert cpe.hits[0] is None  # challenged first
        assert cpe.algorithm_used() == cpe.algorithms[0]
    px.wait_for(r"wakeup device=00259E-EG8145V5-W1 .*outcome=ok status=200")
    m = requests.get(px.url("admin") + "/metrics", headers={"Authorization": "Bearer tok"}).text
    assert 'outpost_cwmp_proxy_wakeups_total{outcome="ok"} 2' in m
    a.stop()
    sha.stop()
    md5.stop()


def digest_wake(px, url, user, password, alg="SHA-256"):
    """A wake-up answered in Digest: ask, then answer the `alg` challenge."""
    u = urlsplit(url.replace(PUB, px.url()))
    target = u.path + "?" + u.query
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    c.request("GET", target)
    r = c.getresponse()
    r.read()
    assert r.status == 401
    chal = [v for k, v in r.getheaders() if k.lower() == "www-authenticate"
            and f"algorithm={alg}" in v][0]
    p = _parse_auth(chal)[1]
    cnonce, nc = os.urandom(8).hex(), "00000001"
    ha1 = _h(alg, f"{user}:{p['realm']}:{password}")
    ha2 = _h(alg, f"GET:{target}")
    resp = _h(alg, f"{ha1}:{p['nonce']}:{nc}:{cnonce}:auth:{ha2}")
    c.request("GET", target, headers={"Authorization": (
        f'Digest username="{user}", realm="{p["realm"]}", nonce="{p["nonce"]}", uri="{target}", '
        f'algorithm={alg}, qop=auth, nc={nc}, cnonce="{cnonce}", response="{resp}"')})
    r = c.getresponse()
    body = r.read().decode()
    c.close()
    return r.status, body


def test_wakeup_accepts_digest_from_the_acs(outpost, tmp_path):
    """The ACS may answer the proxy's challenge in Digest (SHA-256 or MD5), so
    nothing has to send the password over a plain-HTTP hop."""
    a = Backend("A")
    cpe = CpeEndpoint()
    px = start_proxy(outpost, tmp_path, a, "--cpe-username", "cpe", "--cpe-password", "secret")
    url = register(px, "DG1", cpe.url)
    assert digest_wake(px, url, *ACS) == (200, "CPE answered 200\n")
    assert digest_wake(px, url, *ACS, alg="MD5")[0] == 200
    assert cpe.woken == 2
    assert digest_wake(px, url, ACS[0], "wrong")[0] == 401
    assert cpe.woken == 2
    m = requests.get(px.url("admin") + "/metrics", headers={"Authorization": "Bearer tok"}).text
    assert 'outpost_cwmp_proxy_wakeups_total{outcome="unauthorized"} 1' in m
    a.stop()
    cpe.stop()


def test_wakeup_204_and_per_device_credentials(outpost, tmp_path):
    a = Backend("A")
    cpe = CpeEndpoint(user="dev7", password="pw7", status=204)
    px = start_proxy(outpost, tmp_path, a, "--cpe-username", "cpe", "--cpe-password", "wrong",
                     "--cpe-credential", "device=00259E-EG8145V5-D7 user=dev7 password=pw7")
    r = wake(px, register(px, "D7", cpe.url))
    assert r.status_code == 204
    a.stop()
    cpe.stop()


def test_wakeup_compat_mode_uses_acs_credentials(outpost, tmp_path):
    a = Backend("A")
    cpe = CpeEndpoint(user=ACS[0], password=ACS[1])
    px = start_proxy(outpost, tmp_path, a, "--cpe-auth", "acs")
    assert wake(px, register(px, "C1", cpe.url)).status_code == 200
    # the original's URL form, origin not percent-encoded, names the same origin
    r = requests.get(f"{px.url()}/client?origin={cpe.url}", auth=ACS, timeout=10)
    assert r.status_code == 200 and cpe.woken == 2
    a.stop()
    cpe.stop()


def test_wakeup_refusals(outpost, tmp_path):
    a = Backend("A")
    cpe = CpeEndpoint()
    px = start_proxy(outpost, tmp_path, a, "--cpe-username", "cpe", "--cpe-password", "secret")
    url = register(px, "X1", cpe.url)
    # missing credentials: 401 with Digest challenges (SHA-256 first) and Basic
    r = wake(px, url, auth=None)
    chal = r.headers["WWW-Authenticate"]
    assert r.status_code == 401 and chal.startswith("Digest") and "algorithm=SHA-256" in chal
    assert "algorithm=MD5" in chal and 'Basic realm="outpost cwmp-proxy"' in chal
    assert "credentials required" in r.text
    # wrong ones: 401
    r = wake(px, url, auth=("acs", "nope"))
    assert r.status_code == 401
    r = wake(px, url, auth=("someone", ACS[1]))
    assert r.status_code == 401
    # the challenge is the normal first step of an ACS that waits for one:
    # counted apart and not logged as a failure
    m = requests.get(px.url("admin") + "/metrics", headers={"Authorization": "Bearer tok"}).text
    assert 'outpost_cwmp_proxy_wakeups_total{outcome="challenged"} 1' in m
    assert 'outpost_cwmp_proxy_wakeups_total{outcome="unauthorized"} 2' in m
    # (the log is read by another thread: wait for the second line)
    deadline = time.monotonic() + 5
    while len([l for l in px.lines if "outcome=unauthorized" in l]) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not [l for l in px.lines if "outcome=challenged" in l]
    assert len([l for l in px.lines if "outcome=unauthorized" in l]) == 2
    # an origin the proxy never rewrote: 403, nothing called
    for other in ("http://169.254.169.254/latest/meta-data", cpe.url + "x",
                  f"http://127.0.0.1:{px.addr()[1]}/"):
        r = wake(px, proxied(PUB, other))
        assert r.status_code == 403 and "not rewritten" in r.text
    r = requests.get(px.url() + "/client", auth=ACS, timeout=5)
    assert r.status_code == 400
    assert cpe.hits == []
    # wrong CPE credentials configured: the CPE's 401 becomes 403
    px2 = start_proxy(outpost, tmp_path, a, "--cpe-username", "cpe", "--cpe-password", "bad", data="px2")
    r = wake(px2, register(px2, "X2", cpe.url))
    assert r.status_code == 403 and "refused" in r.text
    # Basic-only CPE: refused unless allowed
    basic = CpeEndpoint(basic_only=True)
    r = wake(px2, register(px2, "X3", basic.url))
    assert r.status_code == 403
    px3 = start_proxy(outpost, tmp_path, a, "--cpe-username", "cpe", "--cpe-password", "secret",
                      "--cpe-allow-basic", data="px3")
    r = wake(px3, register(px3, "X4", basic.url))
    assert r.status_code == 200
    # no credentials configured at all: 403, and the reason says so
    px4 = start_proxy(outpost, tmp_path, a, data="px4")
    r = wake(px4, register(px4, "X5", cpe.url))
    assert r.status_code == 403 and "none are configured for device 00259E-EG8145V5-X5" in r.text
    a.stop()
    cpe.stop()
    basic.stop()


def test_wakeup_unreachable_and_slow(outpost, tmp_path):
    a = Backend("A")
    closed_port = free_port()
    slow = CpeEndpoint(delay=5.0)
    px = start_proxy(outpost, tmp_path, a, "--cpe-username", "cpe", "--cpe-password", "secret")
    r = wake(px, register(px, "U1", f"http://127.0.0.1:{closed_port}/cr"))
    assert r.status_code == 502 and "unreachable" in r.text
    t0 = time.monotonic()
    r = wake(px, register(px, "U2", slow.url))
    assert r.status_code == 504 and "in time" in r.text
    assert time.monotonic() - t0 < 4.5  # the proxy's deadline (1 s), not the CPE's (5 s)
    px.wait_for(r"wakeup device=00259E-EG8145V5-U2 .*outcome=timeout status=504")
    a.stop()
    slow.stop()


def test_origins_survive_restart_and_device_moves(outpost, tmp_path):
    a = Backend("A")
    old, new = CpeEndpoint(), CpeEndpoint()
    px = start_proxy(outpost, tmp_path, a, "--cpe-username", "cpe", "--cpe-password", "secret")
    old_url = register(px, "M1", old.url)
    px.stop()
    px = start_proxy(outpost, tmp_path, a, "--cpe-username", "cpe", "--cpe-password", "secret")
    assert px.fields["origins"] == "1"
    assert wake(px, old_url).status_code == 200
    # the device comes back with another address: the old one is refused
    new_url = register(px, "M1", new.url)
    assert wake(px, old_url).status_code == 403
    assert wake(px, new_url).status_code == 200
    a.stop()
    old.stop()
    new.stop()


def test_wrong_passwords_lock_the_address_out(outpost, tmp_path):
    a = Backend("A")
    cpe = CpeEndpoint()
    px = start_proxy(outpost, tmp_path, a, "--cpe-username", "cpe", "--cpe-password", "secret",
                     "--acs-auth-max-failures", "3", "--acs-auth-lockout", "1s")
    url = register(px, "G1", cpe.url)
    # asking for the challenge is not a failure
    for _ in range(5):
        assert wake(px, url, auth=None).status_code == 401
    assert wake(px, url).status_code == 200
    # three wrong passwords in a row lock this address out...
    for _ in range(3):
        assert wake(px, url, auth=("acs", "guess")).status_code == 401
    # said when the first failure came and when the lock-out began, with a count
    px.wait_for(r"wakeup_auth_failed addr=127.0.0.1 failures=1 locked_ms=0 ")
    px.wait_for(r"wakeup_auth_failed addr=127.0.0.1 failures=2 locked_ms=1000 strike=1")
    # ... the right password included: it is not even looked at
    r = wake(px, url)
    assert r.status_code == 429 and r.headers["Retry-After"] == "1" and "locked out" in r.text
    assert cpe.woken == 1
    m = requests.get(px.url("admin") + "/metrics", headers={"Authorization": "Bearer tok"}).text
    assert "outpost_cwmp_proxy_wakeup_lockouts_total 1" in m
    assert 'outpost_cwmp_proxy_wakeups_total{outcome="locked_out"} 1' in m
    # logged when the lock began, not per refused attempt
    assert not [l for l in px.lines if "outcome=locked_out" in l]
    assert len([l for l in px.lines if "wakeup_auth_failed" in l]) == 2
    # until the lock-out ends
    deadline = time.monotonic() + 5
    while (r := wake(px, url)).status_code == 429 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert r.status_code == 200 and cpe.woken == 2
    a.stop()
    cpe.stop()


def test_lockout_behind_a_trusted_front_proxy_is_per_client(outpost, tmp_path):
    # With --trust-forwarded every request comes from the front proxy's
    # address: the guesser behind it must not lock the ACS out.
    a = Backend("A")
    cpe = CpeEndpoint()
    px = start_proxy(outpost, tmp_path, a, "--cpe-username", "cpe", "--cpe-password", "secret",
                     "--acs-auth-max-failures", "2", "--trust-forwarded")
    url = register(px, "G2", cpe.url).replace(PUB, px.url())
    guesser = {"X-Forwarded-For": "203.0.113.9"}
    acs = {"X-Forwarded-For": "198.51.100.7"}
    for _ in range(2):
        assert requests.get(url, auth=("acs", "guess"), headers=guesser, timeout=10).status_code == 401
    assert requests.get(url, auth=ACS, headers=guesser, timeout=10).status_code == 429
    assert requests.get(url, auth=ACS, headers=acs, timeout=10).status_code == 200
    px.wait_for(r"wakeup_auth_failed addr=203.0.113.9 failures=1 locked_ms=60000 strike=1")
    a.stop()
    cpe.stop()


def test_wakeup_deny_list(outpost, tmp_path):
    """By default a wake-up never connects to the proxy's own host (loopback,
    0.0.0.0) or link-local addresses (cloud metadata), whatever URL a CPE
    reported: 403 naming the address, and the CPE is not contacted. The
    operator's list replaces the defaults."""
    a = Backend("A")
    cpe = CpeEndpoint()
    px = outpost("cwmp-proxy", "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0",
                 "--public-url", PUB, "--data-dir", str(tmp_path / "px"), "--api-token", "tok",
                 "--backend", a.url, "--acs-username", ACS[0], "--acs-password", ACS[1],
                 "--cpe-username", "cpe", "--cpe-password", "secret",
                 "--wakeup-connect-timeout", "500ms", "--wakeup-timeout", "1s")
    r = wake(px, register(px, "N1", cpe.url))
    assert r.status_code == 403 and "127.0.0.1 is in --wakeup-deny" in r.text
    r = wake(px, register(px, "N2", "http://169.254.169.254/latest/meta-data/"))
    assert r.status_code == 403 and "169.254.169.254 is in --wakeup-deny" in r.text
    r = wake(px, register(px, "N3", "http://localhost:%d/cr" % cpe.port))  # names are resolved first
    assert r.status_code == 403 and "in --wakeup-deny" in r.text
    assert cpe.hits == []
    px.wait_for(r"wakeup device=00259E-EG8145V5-N2 .*outcome=forbidden status=403")
    px.stop()
    px = start_proxy(outpost, tmp_path, a, "--cpe-username", "cpe", "--cpe-password", "secret",
                     data="px2")  # --wakeup-deny 169.254.0.0/16: loopback allowed
    assert wake(px, register(px, "N4", cpe.url)).status_code == 200
    assert cpe.woken == 1
    a.stop()
    cpe.stop()


# ---- origins are recorded only from requests the ACS node accepted -----------------

def inform_status(px, serial, crurl, extra="", headers=None):
    """One Inform on a connection of its own; the status the CPE got."""
    c = Conn(*px.addr())
    st, _, _ = c.post(inform(serial=serial, crurl=crurl, extra=extra), headers)
    c.close()
    return st


def origins_now(px):
    r = requests.get(px.url("admin") + "/status", headers={"Authorization": "Bearer tok"}, timeout=10)
    return r.json()["origins"]


def woken_as(px, url, device):
    """A wake-up relayed to the CPE, logged under `device` (whose credentials it used)."""
    start = len(px.lines)
    r = wake(px, url)
    assert r.status_code == 200, r.text
    px.wait_for(r"wakeup device=00259E-EG8145V5-" + device + " .*outcome=ok", start=start)


class GatedNode(Backend):
    """A scripted ACS node that answers `self.status` (200 by default) to every
    request: 401 with a Digest challenge, as an ACS that does not believe the CPE."""

    def __init__(self):
        self.status = 200
        super().__init__("A", reply=self._reply)

    def _reply(self, req):
        if self.status == 401:
            return 401, {"WWW-Authenticate": 'Digest realm="acs", qop="auth", nonce="n1"'}, b""
        return self.status, {"Content-Type": "text/xml"}, b"<InformResponse/>"


def test_refused_inform_does_not_move_or_take_an_origin(outpost, tmp_path):
    """An Inform's DeviceId is the CPE's own claim until the ACS accepted it: an
    Inform the node refused (401) neither replaces the device's origin nor
    takes another device's."""
    a = GatedNode()
    victim, rogue = CpeEndpoint(), CpeEndpoint()
    px = start_proxy(outpost, tmp_path, a, "--cpe-username", "cpe", "--cpe-password", "secret")
    url_a = register(px, "VICTIM1", victim.url)
    woken_as(px, url_a, "VICTIM1")
    a.status = 401
    # the same DeviceId with another URL, refused by the node
    assert inform_status(px, "VICTIM1", rogue.url) == 401
    woken_as(px, url_a, "VICTIM1")
    r = wake(px, proxied(PUB, rogue.url))
    assert r.status_code == 403 and "not rewritten" in r.text
    # another device reporting the victim's URL, refused: the origin stays the victim's
    assert inform_status(px, "ROGUE2", victim.url) == 401
    woken_as(px, url_a, "VICTIM1")
    assert rogue.hits == [] and victim.woken == 3
    assert origins_now(px) == 1
    # once the node accepts, the device does move (as before)
    a.status = 200
    url_b = register(px, "VICTIM1", rogue.url)
    woken_as(px, url_b, "VICTIM1")
    assert wake(px, url_a).status_code == 403
    a.stop()
    victim.stop()
    rogue.stop()


class RawNode:
    """An ACS node on a raw socket, one thread per connection, that answers
    each request as `mode` says: a status code, "silent" (reads, never
    answers) or "drop" (reads, closes without a word)."""

    def __init__(self):
        self.mode = "200"
        self.conns = []
        self.srv = socket.socket()
        self.srv.bind(("127.0.0.1", 0))
        self.srv.listen(16)
        self.url = f"http://127.0.0.1:{self.srv.getsockname()[1]}/"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                s, _ = self.srv.accept()
            except OSError:
                return
            self.conns.append(s)
            threading.Thread(target=self._serve, args=(s,), daemon=True).start()

    def _read_request(self, s):
        data = b""
        while b"\r\n\r\n" not in data:
            got = s.recv(65536)
            if not got:
                return False
            data += got
        head, _, body = data.partition(b"\r\n\r\n")
        n = 0
        for line in head.split(b"\r\n")[1:]:
            k, _, v = line.partition(b":")
            if k.strip().lower() == b"content-length":
                n = int(v)
        while len(body) < n:
            got = s.recv(65536)
            if not got:
                return False
            body += got
        return True

    def _serve(self, s):
        try:
            s.settimeout(10)
            while self._read_request(s):
                mode = self.mode
                if mode == "silent":
                    continue  # the proxy gives up (--backend-timeout) and closes
                if mode == "drop":
                    s.close()
                    return
                body = b"<InformResponse/>" if mode == "200" else b"no\n"
                s.sendall(b"HTTP/1.1 %s X\r\nContent-Length: %d\r\n\r\n%s" % (mode.encode(), len(body), body))
        except OSError:
            pass

    def stop(self):
        self.srv.close()
        for s in self.conns:
            try:
                s.close()
            except OSError:
                pass


def test_refused_informs_do_not_fill_the_origin_table(outpost, tmp_path):
    """With --max-origins 3, Informs the node refused (401, 403, 500), never
    answered or dropped take no place in the table (nor in the file): a real
    device that comes next is recorded and woken."""
    node = RawNode()
    cpe = CpeEndpoint()
    extra = ("--cpe-username", "cpe", "--cpe-password", "secret", "--max-origins", "3",
             "--backend-timeout", "300ms", "--health-interval", "1h")
    px = start_proxy(outpost, tmp_path, node, *extra)
    for i, (mode, status) in enumerate((("401", 401), ("403", 403), ("500", 500),
                                        ("silent", 504), ("drop", 502))):
        node.mode = mode
        assert inform_status(px, f"JUNK{i}", f"http://127.0.0.1:{40000 + i}/cr") == status, mode
    assert origins_now(px) == 0
    node.mode = "200"
    url = register(px, "REAL1", cpe.url)
    woken_as(px, url, "REAL1")
    assert not [l for l in px.lines if "origin_table_full" in l]
    # nothing refused was written to the file either
    px.stop()
    px = start_proxy(outpost, tmp_path, node, *extra)
    assert px.fields["origins"] == "1"
    woken_as(px, url, "REAL1")
    node.stop()
    cpe.stop()


def test_accepted_requests_record_their_origin(outpost, tmp_path):
    """The normal case: the Inform the ACS accepts, after its own 401 asked for
    credentials, is recorded (logged once, as origin_recorded); so is the
    origin of a GetParameterValuesResponse it accepts, and of a streamed
    Inform (over --rewrite-window: a rewriter of its own), refused or not."""
    def reply(req):
        if b"<cwmp:Inform>" in req["body"] and "Authorization" not in req["headers"]:
            return 401, {"WWW-Authenticate": 'Digest realm="acs", qop="auth", nonce="n1"'}, b""
        return 200, {"Content-Type": "text/xml"}, b"<InformResponse/>"
    a = Backend("A", reply=reply)
    cpe, cpe2, cpe3 = CpeEndpoint(), CpeEndpoint(), CpeEndpoint()
    px = start_proxy(outpost, tmp_path, a, "--cpe-username", "cpe", "--cpe-password", "secret",
                     "--rewrite-window", "4KiB")
    c = Conn(*px.addr())
    st, _, _ = c.post(inform(serial="OK1", crurl=cpe.url))
    assert st == 401
    url = proxied(PUB, cpe.url)
    assert wake(px, url).status_code == 403
    st, _, _ = c.post(inform(serial="OK1", crurl=cpe.url), {"Authorization": 'Digest username="x"'})
    assert st == 200
    woken_as(px, url, "OK1")
    px.wait_for(r"origin_recorded device=00259E-EG8145V5-OK1 origin=http://127\.0\.0\.1:%d/cr " % cpe.port)
    # the device's next address, in a GetParameterValuesResponse on its session
    st, _, _ = c.post(gpv_response([("Device.ManagementServer.ConnectionRequestURL", cpe2.url)]))
    assert st == 200
    woken_as(px, proxied(PUB, cpe2.url), "OK1")
    assert wake(px, url).status_code == 403
    c.close()
    assert len([l for l in px.lines if "origin_recorded" in l]) == 2
    # a streamed Inform: refused, then accepted
    filler = "".join(f"<ParameterValueStruct><Name>Device.X.{i}.Name</Name>"
                     f"<Value>{'v' * 100}</Value></ParameterValueStruct>" for i in range(100))
    assert inform_status(px, "BIG1", cpe3.url, extra=filler) == 401
    assert wake(px, proxied(PUB, cpe3.url)).status_code == 403
    assert inform_status(px, "BIG1", cpe3.url, extra=filler,
                         headers={"Authorization": 'Digest username="x"'}) == 200
    px.wait_for(r"cwmp_proxy_streaming")
    woken_as(px, proxied(PUB, cpe3.url), "BIG1")
    assert a.requests[-1]["chunked"]
    a.stop()
    cpe.stop()
    cpe2.stop()
    cpe3.stop()
