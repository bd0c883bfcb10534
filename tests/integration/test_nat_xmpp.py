"""XMPP connection requests (TR-069 Annex K) end to end: a real Prosody on
loopback (STARTTLS with a test CA, SASL), the ACS logged in as acs@localhost,
cpe-sim CPEs logged in as <serial>@localhost/cwmp. The ACS learns each
CPE's JID from its Informs (ConnReqJabberID), wakes it with a
connectionRequest IQ and records the outcome on the task."""
import re
import socket
import time
from urllib.parse import quote

import pytest
import requests

from acs_api import AcsApi
from cwmp_cpe import CPE
from conftest import free_port, run_outpost
from xmpp_server import DOMAIN, prosody  # noqa: F401 (fixture)

pytestmark = pytest.mark.acs  # every test here starts an outpost acs (conftest.py)

TOKEN = "xmpp-test-token"
ACS_JID = "acs@" + DOMAIN
ACS_PW = "acs-secret"
CR = ("cr", "cr-pw")


def dev_id(serial):
    # the ACS escapes the '-' of "OP-1000"; the id goes into URLs escaped once more
    return quote("ACDE48-OP%2D1000-" + serial, safe="")


def serials(n):
    return ["SIM%06d" % i for i in range(1, n + 1)]


def cpe_password(serial):
    return "x-" + serial


class Api(AcsApi):
    def __init__(self, d):
        super().__init__(d, TOKEN)

    def idle(self, dev, timeout=30):
        """Wait until the device is out of its session (a task made during one
        runs in it, with no connection request)."""
        self.until("/api/devices/" + dev, lambda d: not d["in_session"], timeout)

    def task(self, dev, typ="get_params", params=None, wait=0, idle=True):
        if idle:
            self.idle(dev)
        body = {"type": typ, "parameters": params or {"names": ["Device.DeviceInfo.SerialNumber"]}}
        return self.post_task(dev, body, wait)

    def task_cr(self, task_id, timeout=20):
        """The task's connection_request outcome once it is known."""
        return self.until("/api/tasks/%d" % task_id, lambda t: t.get("connection_request"),
                          timeout)["connection_request"]


def start_acs(outpost, tmp_path, pki, server_port, *extra):
    return outpost("acs", "--cwmp-listen", "127.0.0.1:0", "--api-listen", "127.0.0.1:0",
                   "--data-dir", str(tmp_path / "acs"), "--api-token", TOKEN, "--cpe-auth", "none",
                   "--cr-username", CR[0], "--cr-password", CR[1], "--cr-deny", "169.254.0.0/16",
                   "--xmpp-jid", ACS_JID + "/acs", "--xmpp-password", ACS_PW,
                   "--xmpp-server", "127.0.0.1:%d" % server_port, "--xmpp-ca-file", pki["ca.pem"],
                   "--xmpp-timeout", "3s", *extra)


def start_sim(outpost, acs, pki, server_port, count, *extra):
    host, port = acs.addr("listen")
    return outpost("cpe-sim", "--acs", "http://%s:%d/" % (host, port), "--count", str(count),
                   "--cr-listen", "127.0.0.1:0", "--stats-interval", "0", "--inform-interval", "1h",
                   "--cr-username", CR[0], "--cr-password", CR[1],
                   "--xmpp-server", "127.0.0.1:%d" % server_port, "--xmpp-domain", DOMAIN,
                   "--xmpp-password", "x-{serial}", "--xmpp-ca-file", pki["ca.pem"],
                   "--api-token", TOKEN, *extra)


@pytest.fixture
def xmpp_system(outpost, tmp_path, pki, prosody):
    def start(count=3, acs_extra=(), sim_extra=()):
        srv = prosody(accounts={s: cpe_password(s) for s in serials(count)})
        srv.register("acs", ACS_PW)
        srv.start()
        acs = start_acs(outpost, tmp_path, pki, srv.port, *acs_extra)
        acs.wait_for(r"xmpp_online jid=acs@localhost/acs", timeout=20)
        sim = start_sim(outpost, acs, pki, srv.port, count, *sim_extra)
        sim.wait_for(r"xmpp_all_online cpes=%d" % count, timeout=60)
        api = Api(acs)
        api.until("/api/devices?limit=1000", lambda v: len(v) == count and all(d.get("xmpp_jid") for d in v),
                  timeout=60)
        return srv, acs, sim, api
    return start


def cr_informs(acs, serial):
    return [l for l in acs.lines if re.search(r"cwmp_inform device=\S*%s .*6 CONNECTION REQUEST" % serial, l)]


def test_task_wakes_cpe_over_xmpp(xmpp_system):
    srv, acs, sim, api = xmpp_system(3)
    dev = api.get("/api/devices/" + dev_id("SIM000002"))
    assert dev["xmpp_jid"] == "SIM000002@localhost/cwmp", dev
    status = requests.get(acs.url("admin") + "/status", headers={"Authorization": "Bearer " + TOKEN},
                          timeout=10).json()
    assert status["xmpp"]["connected"] is True and status["xmpp"]["state"] == "online", status
    assert cr_informs(acs, "SIM000002") == []

    t = api.task(dev_id("SIM000002"), wait=20)
    assert t["status"] == "done", t
    cr = api.task_cr(t["id"])
    assert cr["status"] == "ok", cr
    assert "XMPP" in cr["reason"], cr
    assert cr_informs(acs, "SIM000002"), acs.output()[-3000:]
    assert cr_informs(acs, "SIM000001") == []
    acs.wait_for(r"cwmp_connection_request device=\S*SIM000002 via=xmpp outcome=ok")
    # no HTTP connection request went out: the CPE's listener saw nothing
    assert "connection_request cpe=" not in sim.output()

    metrics = requests.get(acs.url("admin") + "/metrics", headers={"Authorization": "Bearer " + TOKEN},
                           timeout=10).text
    assert re.search(r"^outpost_acs_xmpp_connected 1$", metrics, re.M), metrics
    assert re.search(r"^outpost_acs_xmpp_iqs_sent_total 1$", metrics, re.M)
    assert re.search(r"^outpost_acs_xmpp_iqs_ok_total 1$", metrics, re.M)
    assert re.search(r"^outpost_acs_xmpp_iqs_failed_total 0$", metrics, re.M)


def put_cr_credentials(api, dev, user, password):
    r = api.s.put("%s/api/devices/%s/connection-request-credentials" % (api.base, dev),
                  json={"username": user, "password": password}, timeout=30)
    assert r.status_code == 200, r.text


def test_wrong_credentials_fail_with_not_authorized(xmpp_system):
    srv, acs, sim, api = xmpp_system(2)
    put_cr_credentials(api, dev_id("SIM000001"), CR[0], "not-the-password")
    t = api.task(dev_id("SIM000001"))
    cr = api.task_cr(t["id"])
    assert cr["status"] == "failed" and "not-authorized" in cr["reason"], cr
    sim.wait_for(r'connection_request_refused cpe=SIM000001 via=xmpp .*reason="bad credentials"')
    time.sleep(0.5)
    assert cr_informs(acs, "SIM000001") == []
    # the right ones again: woken
    put_cr_credentials(api, dev_id("SIM000001"), CR[0], CR[1])
    t = api.task(dev_id("SIM000001"), wait=20)
    assert t["status"] == "done" and api.task_cr(t["id"])["status"] == "ok", t


@pytest.mark.parametrize("allowed,ok", [
    ("someone-else@localhost", False),
    ("acs@localhost/ACS", False),          # a full JID matches exactly: the resource is case-sensitive
    ("acs@localhost/acs", True),
    ("x@y.example, ACS@LOCALHOST", True),  # a bare JID matches any resource; local and domain any case
])
def test_cpe_takes_requests_only_from_allowed_jid(xmpp_system, allowed, ok):
    srv, acs, sim, api = xmpp_system(1, sim_extra=("--xmpp-allowed-jid", allowed))
    t = api.task(dev_id("SIM000001"))
    cr = api.task_cr(t["id"])
    if ok:
        assert cr["status"] == "ok", cr
        return
    assert cr["status"] == "failed" and "service-unavailable" in cr["reason"], cr
    sim.wait_for(r"connection_request_refused cpe=SIM000001 via=xmpp from=acs@localhost/acs "
                 r'reason="sender not in ConnReqAllowedJabberIDs"')


def test_jid_outside_the_allowed_domains_is_refused(xmpp_system):
    """The IQ carries the connection request password in clear: a device that
    reports a JID in another domain gets no IQ (refused, nothing sent);
    --xmpp-cr-domain names the domains allowed."""
    srv, acs, sim, api = xmpp_system(1)
    cpe = CPE(acs.addr("listen"))
    cpe.inform("E1", params=[("InternetGatewayDevice.ManagementServer.ConnReqJabberID",
                              "E1@elsewhere.example/cwmp", "xsd:string")])
    cpe.post()
    cpe.close()
    t = api.task("00D09E-IGD-E1")
    cr = api.task_cr(t["id"])
    assert cr["status"] == "refused" and "--xmpp-cr-domain" in cr["reason"], cr
    acs.wait_for(r"cwmp_connection_request device=00D09E-IGD-E1 via=xmpp outcome=refused")
    metrics = requests.get(acs.url("admin") + "/metrics", headers={"Authorization": "Bearer " + TOKEN},
                           timeout=10).text
    assert re.search(r"^outpost_acs_xmpp_iqs_sent_total 0$", metrics, re.M), metrics
    # the ACS's own domain still works
    t = api.task(dev_id("SIM000001"), wait=20)
    assert t["status"] == "done" and api.task_cr(t["id"])["status"] == "ok", t


def test_acs_survives_server_restart_and_fails_clearly_meanwhile(xmpp_system):
    srv, acs, sim, api = xmpp_system(3)
    srv.stop()
    acs.wait_for(r"xmpp_offline jid=acs@localhost/acs", timeout=20)
    # down: the request fails at once and says why (nothing hangs)
    t0 = time.monotonic()
    t = api.task(dev_id("SIM000003"))
    assert t["connection_request"]["status"] == "failed", t
    assert "xmpp not connected" in t["connection_request"]["reason"], t
    assert time.monotonic() - t0 < 5
    r = api.s.post("%s/api/devices/%s/connection-request" % (api.base, dev_id("SIM000003")), timeout=30)
    assert r.status_code == 502 and "xmpp not connected" in r.json()["message"], r.text
    status = requests.get(acs.url("admin") + "/status", headers={"Authorization": "Bearer " + TOKEN},
                          timeout=10).json()
    assert status["xmpp"]["connected"] is False, status

    n = len(acs.lines)
    nsim = len(sim.lines)
    srv.start()
    acs.wait_for(r"xmpp_online jid=acs@localhost/acs", timeout=60, start=n)
    sim.wait_for(r"xmpp_all_online cpes=3", timeout=90, start=nsim)
    t = api.task(dev_id("SIM000003"), wait=20)
    assert t["status"] == "done", t
    assert api.task_cr(t["id"])["status"] == "ok"
    assert cr_informs(acs, "SIM000003")


def test_unreachable_server_fails_clearly(outpost, tmp_path, pki):
    dead = free_port()  # nothing listens there
    acs = start_acs(outpost, tmp_path, pki, dead)
    sim = start_sim(outpost, acs, pki, dead, 1)
    acs.wait_for(r"xmpp_offline jid=acs@localhost/acs .*reason=")
    api = Api(acs)
    api.until("/api/devices", lambda v: len(v) == 1 and v[0].get("xmpp_jid"))
    t = api.task(dev_id("SIM000001"))
    assert t["connection_request"]["status"] == "failed", t
    assert "xmpp not connected" in t["connection_request"]["reason"], t
    sim.wait_for(r"xmpp_login_failed|xmpp_offline")


def test_silent_server_times_the_login_out(outpost, tmp_path, pki):
    """A server that takes the TCP connection and never speaks does not hold
    the login forever: the whole negotiation has a deadline (15 s)."""
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(4)
    try:
        acs = start_acs(outpost, tmp_path, pki, lsock.getsockname()[1])
        acs.wait_for(r'xmpp_offline jid=acs@localhost/acs reason="login timed out"', timeout=40)
    finally:
        lsock.close()

def test_hostile_server_does_not_crash_the_acs(outpost, tmp_path, pki):
    """Oversized and malformed stanzas end the stream (with a stream error)
    and the ACS logs in again; an IQ the CPE never answers times out."""
    from xmpp_server import FakeServer

    seen = {}

    def script(t, n):
        if n == 0:  # a stanza over the 64 KiB cap, into the kernel whole: the ACS
            # closes once past the cap, and a send still blocked then would fail
            t.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
            t.sendall(b"<message><body>" + b"a" * 100000 + b"</body></message>")
        elif n == 1:  # not XML
            t.sendall(b"<iq type='get' id='1'><<</iq>")
        elif n == 2:  # deep nesting
            t.sendall(b"<message>" + b"<a>" * 100 + b"</a>" * 100 + b"</message>")
        else:  # an IQ for the ACS (refused), then connection requests nobody answers
            t.sendall(b"<iq type='get' id='q1' from='x@localhost/r'><ping xmlns='urn:xmpp:ping'/></iq>")
            while True:
                data = t.recv(65536)
                if not data:
                    return
                seen.setdefault(n, []).append(data)
        if n < 3:
            seen[n] = FakeServer.recv_until(t, b"</stream:stream>")

    srv = FakeServer(pki["server.pem"], pki["server.key"], script)
    try:
        acs = start_acs(outpost, tmp_path, pki, srv.port)
        acs.wait_for(r'xmpp_offline .*reason="bad stream from server: stanza too large', timeout=30)
        acs.wait_for(r'xmpp_offline .*reason="bad stream from server: not well-formed', timeout=30)
        acs.wait_for(r'xmpp_offline .*reason="bad stream from server: stanza nested too deep', timeout=30)
        assert b"policy-violation" in seen[0] and b"not-well-formed" in seen[1], seen
        acs.wait_for(r"xmpp_online", timeout=60, start=0)
        deadline = time.monotonic() + 30
        # the 4th login's first bytes are the ACS's presence: wait for its answer to q1
        while srv.logins < 4 or b"id='q1'" not in b"".join(seen.get(3, [])):
            assert time.monotonic() < deadline, acs.output()[-3000:]
            time.sleep(0.1)
        assert b"service-unavailable" in b"".join(seen[3]) and b"id='q1'" in b"".join(seen[3]), seen[3]

        cpe = CPE(acs.addr("listen"))
        cpe.inform("X1", params=[("InternetGatewayDevice.ManagementServer.ConnReqJabberID",
                                  "X1@localhost/cwmp", "xsd:string")])
        cpe.post()
        cpe.close()
        api = Api(acs)
        dev = api.get("/api/devices/00D09E-IGD-X1")
        assert dev["xmpp_jid"] == "X1@localhost/cwmp"
        t = api.task("00D09E-IGD-X1")
        cr = api.task_cr(t["id"], timeout=15)
        # no answer: `timeout`, as for a UDP connection request
        assert cr["status"] == "timeout" and "no answer" in cr["reason"], cr
        sent = b"".join(seen[3])
        assert (b"<connectionRequest xmlns='urn:broadband-forum-org:cwmp:xmppConnReq-1-0'><username>cr"
                b"</username><password>cr-pw</password></connectionRequest>") in sent, sent
        assert b"to='X1@localhost/cwmp'" in sent and b"type='get'" in sent
    finally:
        srv.close()


def test_answer_counts_only_from_the_jid_asked(outpost, tmp_path, pki):
    """A result with the request's id from another resource of the CPE's
    account, from another account, or with no sender is not the CPE's
    answer: the request times out. The CPE's own (the server may change the
    case of its local part and domain, never of its resource) counts."""
    from xmpp_server import FakeServer

    def script(t, n):
        buf, asked = b"", 0
        while True:
            m = re.search(rb"<iq type='get' id='([^']+)' to='X1@localhost/cwmp'>", buf)
            if not m:
                data = t.recv(65536)
                if not data:
                    return
                buf += data
                continue
            buf = buf[m.end():]
            froms = ([b" from='X1@localhost/other'", b"", b" from='Y1@localhost/cwmp'"] if asked == 0
                     else [b" from='x1@LOCALHOST/cwmp'"])
            for f in froms:
                t.sendall(b"<iq type='result' id='" + m.group(1) + b"'" + f + b"/>")
            asked += 1

    srv = FakeServer(pki["server.pem"], pki["server.key"], script)
    try:
        acs = start_acs(outpost, tmp_path, pki, srv.port)
        acs.wait_for(r"xmpp_online", timeout=30)
        cpe = CPE(acs.addr("listen"))
        cpe.inform("X1", params=[("InternetGatewayDevice.ManagementServer.ConnReqJabberID",
                                  "X1@localhost/cwmp", "xsd:string")])
        cpe.post()
        cpe.close()
        api = Api(acs)
        cr = api.task_cr(api.task("00D09E-IGD-X1")["id"], timeout=15)
        assert cr["status"] == "timeout", cr
        cr = api.task_cr(api.task("00D09E-IGD-X1")["id"], timeout=15)
        assert cr["status"] == "ok", cr
    finally:
        srv.close()

def test_many_cpes_woken_at_once(xmpp_system):
    """100 CPEs, one XMPP login each on one cpe-sim loop; 100 tasks at once:
    100 IQs in flight from the one ACS login, every one answered."""
    n = 100
    srv, acs, sim, api = xmpp_system(n)
    ids = [api.task(dev_id(s))["id"] for s in serials(n)]
    for tid in ids:
        cr = api.task_cr(tid, timeout=60)
        assert cr["status"] == "ok", cr
    api.until("/api/tasks?status=done&limit=1000", lambda v: len(v) >= n, timeout=120)
    for s in serials(n):
        assert cr_informs(acs, s), s
    metrics = requests.get(sim.url("admin") + "/metrics", headers={"Authorization": "Bearer " + TOKEN},
                           timeout=10).text
    assert re.search(r"^outpost_cpesim_xmpp_online %d$" % n, metrics, re.M), metrics


def test_server_certificate_is_verified(outpost, tmp_path, pki, prosody):
    """A server whose certificate does not chain to --xmpp-ca-file gets no
    password: the login stops at the TLS handshake and says so."""
    srv = prosody()
    srv.register("acs", ACS_PW)
    srv.start()
    acs = outpost("acs", "--cwmp-listen", "127.0.0.1:0", "--api-listen", "127.0.0.1:0",
                  "--data-dir", str(tmp_path / "acs"), "--api-token", TOKEN, "--cpe-auth", "none",
                  "--xmpp-jid", ACS_JID, "--xmpp-password", ACS_PW,
                  "--xmpp-server", "127.0.0.1:%d" % srv.port, "--xmpp-ca-file", pki["rogue-ca.pem"])
    acs.wait_for(r'tls_handshake_failed .*side=client reason="unable to get local issuer certificate"',
                 timeout=20)
    acs.wait_for(r'xmpp_offline jid=acs@localhost reason="STARTTLS handshake failed', timeout=20)
    assert not [l for l in acs.lines if "xmpp_online" in l]
    acs.stop()
    # --xmpp-insecure (tests only) takes any certificate, and says so at start
    acs = outpost("acs", "--cwmp-listen", "127.0.0.1:0", "--api-listen", "127.0.0.1:0",
                  "--data-dir", str(tmp_path / "acs2"), "--api-token", TOKEN, "--cpe-auth", "none",
                  "--xmpp-jid", ACS_JID, "--xmpp-password", ACS_PW,
                  "--xmpp-server", "127.0.0.1:%d" % srv.port, "--xmpp-insecure")
    acs.wait_for(r"acs_config reason=\"--xmpp-insecure: the XMPP server's certificate is not verified")
    acs.wait_for(r"xmpp_online jid=acs@localhost/", timeout=20)


@pytest.mark.parametrize("args,why", [
    (("--xmpp-jid", "acs@localhost"), "--xmpp-jid needs --xmpp-password"),
    (("--xmpp-jid", "localhost", "--xmpp-password", "x"), "--xmpp-jid must be user@domain"),
    (("--xmpp-jid", "a@b", "--xmpp-password", "x", "--xmpp-insecure", "--xmpp-ca-file", "/dev/null"),
     "contradict"),
])
def test_bad_xmpp_options_are_usage_errors(tmp_path, args, why):
    r = run_outpost("acs", "--cwmp-listen", "127.0.0.1:0", "--api-listen", "127.0.0.1:0",
                    "--admin-listen", "127.0.0.1:0", "--data-dir", str(tmp_path / "acs"),
                    "--api-token", TOKEN, "--cpe-auth", "none", *args, timeout=30)
    assert r.returncode == 2, r.stdout + r.stderr
    assert why in r.stdout + r.stderr
