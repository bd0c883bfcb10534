"""outpost acs: a CPE's identity. A per-device credential speaks for its own
device only (a DeviceId column, or --cpe-username-template), a session is
continued from another connection only by the identity that started it, a
session's DeviceId never changes, and wrong passwords lock an address out
for a while (429) with one log line per address, not one per failure."""
import signal
import time

import pytest
import requests

import prom
from conftest import acs_db, run_outpost
from cwmp_cpe import CPE, envelope, inform, acs_envelopes_valid  # noqa: F401 (autouse: validates what the ACS sent)
from test_acs_session import TOKEN, Api, cwmp_addr, start_acs

A = "00D09E-IGD-A1"
B = "00D09E-IGD-B1"
CR_A = "http://127.0.0.1:9/cr-a"
NAME = "InternetGatewayDevice.DeviceInfo.SoftwareVersion"
GPV_ANSWER = ('<cwmp:GetParameterValuesResponse><ParameterList soapenc:arrayType='
              '"cwmp:ParameterValueStruct[1]"><ParameterValueStruct><Name>' + NAME +
              '</Name><Value xsi:type="xsd:string">6.6.6</Value></ParameterValueStruct>'
              '</ParameterList></cwmp:GetParameterValuesResponse>')


def start_pair(outpost, tmp_path, *extra):
    """An ACS where user-a may be A1 only and user-b B1 only."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    f = tmp_path / "cpe-credentials"
    f.write_text(f"# user password device\nuser-a pass-a {A}\nuser-b pass-b {B}\n")
    return start_acs(outpost, tmp_path, "--cpe-credentials", str(f), *extra)


def session_rows(tmp_path, device, at_least=0):
    """The device's session rows in the store (waits up to 5 s for at_least)."""
    deadline = time.monotonic() + 5
    while True:
        n = acs_db(tmp_path / "data").query("SELECT count(*) FROM sessions WHERE device_id = ?",
                                            (device,))[0][0]
        if n >= at_least or time.monotonic() > deadline:
            return n
        time.sleep(0.05)


def informed(d, addr, auth, serial, **kw):
    """One whole session (Inform, empty POST -> 204)."""
    cpe = CPE(addr, auth=auth)
    r = cpe.inform(serial, **kw)
    assert r.rpc == "InformResponse", r.status
    assert cpe.post().status == 204
    cpe.close()


def pair_with_a_read_queued(outpost, tmp_path, *extra):
    """start_pair, A1 informed once and a read of NAME queued for it."""
    d = start_pair(outpost, tmp_path, *extra)
    addr, api = cwmp_addr(d), Api(d)
    informed(d, addr, ("user-a", "pass-a"), "A1")
    t = api.post(f"/api/devices/{A}/tasks",
                 {"type": "get_params", "parameters": {"names": [NAME]}}).json()
    return d, addr, api, t


def test_a_device_credential_cannot_inform_as_another_device(outpost, tmp_path):
    d = start_pair(outpost, tmp_path)
    addr, api = cwmp_addr(d), Api(d)
    informed(d, addr, ("user-a", "pass-a"), "A1", cr_url=CR_A)
    rows = session_rows(tmp_path, A, at_least=1)
    assert rows == 1
    before = api.get(f"/api/devices/{A}").json()
    params = api.get(f"/api/devices/{A}/parameters").json()
    start = len(d.lines)

    # B's own credentials, A's DeviceId: refused before anything is stored.
    b = CPE(addr, auth=("user-b", "pass-b"))
    r = b.inform("A1", cr_url="http://203.0.113.9/evil", params=[(NAME, "6.6.6", "xsd:string")])
    assert r.status == 401
    d.wait_for(r"cwmp_identity_mismatch user=user-b device=%s peer=127\.0\.0\.1:\d+" % A, start=start)
    # ... and a device nobody registered is not created either
    assert b.inform("NEW1").status == 401
    d.wait_for(r"cwmp_identity_mismatch user=user-b device=00D09E-IGD-NEW1", start=start)
    assert api.get("/api/devices/00D09E-IGD-NEW1").status_code == 404

    after = api.get(f"/api/devices/{A}").json()
    assert after == before
    assert after["connection_request_url"] == CR_A
    assert api.get(f"/api/devices/{A}/parameters").json() == params
    assert api.get("/api/stats").json()["live_sessions"] == 0
    assert [x["id"] for x in api.get("/api/devices").json()] == [A]
    assert session_rows(tmp_path, A) == rows
    assert session_rows(tmp_path, "00D09E-IGD-NEW1") == 0
    # once per refused Inform
    assert sum("cwmp_identity_mismatch" in l for l in d.lines[start:]) == 2
    assert not any("cwmp_inform " in l for l in d.lines[start:])

    # B as itself is fine.
    informed(d, addr, ("user-b", "pass-b"), "B1")
    assert api.get(f"/api/devices/{B}").status_code == 200


def test_stolen_cookie_gets_nothing_of_the_session(outpost, tmp_path):
    d, addr, api, t = pair_with_a_read_queued(outpost, tmp_path)
    a = CPE(addr, auth=("user-a", "pass-a"))
    assert a.inform("A1").rpc == "InformResponse"            # A's session: a task waits
    assert a.cookie and a.cookie.startswith("acs_session=")
    params = api.get(f"/api/devices/{A}/parameters").json()
    start = len(d.lines)

    # No credentials, A's cookie, another connection: a challenge and nothing else.
    thief = CPE(addr)
    thief.cookie = a.cookie
    r = thief.post()
    assert r.status == 401 and "digest" in r.headers["www-authenticate"].lower()
    r = thief.post(envelope(GPV_ANSWER, msg_id=str(t["id"])))
    assert r.status == 401
    r = thief.post(envelope(inform("A1", cr_url="http://203.0.113.9/evil"), msg_id="x"))
    assert r.status == 401
    # B's valid credentials do not make A's cookie B's.
    bthief = CPE(addr, auth=("user-b", "pass-b"))
    bthief.cookie = a.cookie
    assert bthief.post().status == 401
    assert bthief.post(envelope(GPV_ANSWER, msg_id=str(t["id"]))).status == 401
    assert bthief.post(envelope(inform("A1", cr_url="http://203.0.113.9/evil"),
                                msg_id="x")).status == 401
    d.wait_for(r"cwmp_identity_mismatch user=user-b device=%s" % A, start=start)

    assert api.get(f"/api/tasks/{t['id']}").json()["status"] == "pending"   # never handed out
    assert api.get(f"/api/devices/{A}/parameters").json() == params       # nothing stored
    assert api.get(f"/api/devices/{A}").json()["connection_request_url"] == ""
    assert not any("cwmp_rpc " in l or "cwmp_inform " in l for l in d.lines[start:])

    # A itself, re-authenticating on a new connection, continues its session.
    a.new_connection()
    r = a.post()
    assert r.rpc == "GetParameterValues" and r.id == str(t["id"])
    a.new_connection()                                         # and once more, mid-RPC
    assert a.answer(r, GPV_ANSWER).status == 204
    assert api.get(f"/api/tasks/{t['id']}").json()["status"] == "done"
    # The thief's connection never carried the session.
    assert thief.post().status == 401


def test_connection_that_authenticated_stays_authenticated(outpost, tmp_path):
    """The proof is the connection: a CPE that authenticated once is not
    challenged again on it, with or without the cookie."""
    d, addr, api, t = pair_with_a_read_queued(outpost, tmp_path)
    a = CPE(addr, auth=("user-a", "pass-a"))
    assert a.inform("A1").rpc == "InformResponse"
    a.auth = None                                              # no credentials from now on
    r = a.post()
    assert r.rpc == "GetParameterValues" and r.id == str(t["id"])
    a.cookie = None
    assert a.answer(r, GPV_ANSWER).status == 204


def test_a_session_keeps_its_device_id(outpost, tmp_path):
    # Per-device credentials: the identity check refuses it (401).
    d = start_pair(outpost, tmp_path / "a")
    addr, api = cwmp_addr(d), Api(d)
    a = CPE(addr, auth=("user-a", "pass-a"))
    assert a.inform("A1").rpc == "InformResponse"
    start = len(d.lines)
    cookie = a.cookie
    r = a.post(envelope(inform("B1"), msg_id="2"))             # inside A's session
    assert r.status == 401
    d.wait_for(r"cwmp_identity_mismatch user=user-a device=%s" % B, start=start)
    assert api.get(f"/api/devices/{B}").status_code == 404
    assert api.get("/api/stats").json()["live_sessions"] == 0   # A's session ended too
    a.cookie = cookie
    assert CPE(addr).post().status in (204, 401)

    # A fleet-wide credential (or none) binds no identity, but a session
    # still keeps the DeviceId it started with: fault 8001, session over.
    for sub, extra in (("b", ("--cpe-password", "fleet")), ("c", ("--cpe-auth", "none"))):
        d = start_acs(outpost, tmp_path / sub, *extra)
        addr, api = cwmp_addr(d), Api(d)
        auth = ("cpe", "fleet") if sub == "b" else None
        x = CPE(addr, auth=auth)
        assert x.inform("X1").rpc == "InformResponse"
        start = len(d.lines)
        r = x.post(envelope(inform("X2"), msg_id="2"))         # same connection
        assert r.rpc == "Fault" and r.find("FaultCode") == "8001" and r.id == "2"
        d.wait_for(r"cwmp_session_device_changed device=00D09E-IGD-X1 informed=00D09E-IGD-X2",
                   start=start)
        assert api.get("/api/devices/00D09E-IGD-X2").status_code == 404
        assert api.get("/api/stats").json()["live_sessions"] == 0
        # the cookie on a new connection: the same
        assert x.inform("X1").rpc == "InformResponse"
        x.new_connection()
        r = x.post(envelope(inform("X3"), msg_id="3"))
        assert r.rpc == "Fault" and r.find("FaultCode") == "8001"
        assert api.get("/api/devices/00D09E-IGD-X3").status_code == 404
        # a new session (no cookie) for another device is fine
        x.new_connection()
        assert x.inform("X3").rpc == "InformResponse"
        assert x.post().status == 204


def test_a_balancer_sharing_its_connection_between_cpes(outpost, tmp_path):
    """A balancer may send the requests of several CPEs on one connection
    (haproxy's http-reuse, nginx's upstream keepalive). A cookie-less Inform
    for another device on a connection that carries a session is that other
    CPE's new session, authenticated as itself, not fault 8001; neither CPE
    gets the other's RPCs, and each goes on by its cookie."""
    d, addr, api, t = pair_with_a_read_queued(outpost, tmp_path, "--admin-listen", "127.0.0.1:0")
    a = CPE(addr, auth=("user-a", "pass-a"))
    b = CPE(addr, auth=("user-b", "pass-b"))
    assert a.inform("A1").rpc == "InformResponse"
    b.conn = a.conn                                           # one connection, two CPEs
    r = b.inform("B1")                                        # 401, then as user-b
    assert r.rpc == "InformResponse", r.status
    assert b.cookie and b.cookie != a.cookie
    d.wait_for(r"cwmp_inform device=%s" % B)
    assert b.post().status == 204                             # A's task is not B's
    r = a.post()                                              # A, by its cookie (and credentials)
    assert r.rpc == "GetParameterValues" and r.id == str(t["id"])
    assert a.answer(r, GPV_ANSWER).status == 204
    assert api.get(f"/api/tasks/{t['id']}").json()["status"] == "done"
    text = requests.get(d.url("admin") + "/metrics", timeout=10,
                        headers={"Authorization": f"Bearer {TOKEN}"}).text
    assert prom.parse(text)[("outpost_acs_shared_connection_informs_total", ())] == 1
    assert not any("cwmp_session_device_changed" in l for l in d.lines)

    # Without credentials the other device's Inform gets a challenge, and
    # user-a's credentials cannot start B1's session on A's connection.
    assert a.inform("A1").rpc == "InformResponse"
    thief = CPE(addr)
    thief.conn = a.conn
    assert thief.inform("B1").status == 401
    start = len(d.lines)
    x = CPE(addr, auth=("user-a", "pass-a"))
    x.conn = a.conn
    assert x.inform("B1").status == 401
    d.wait_for(r"cwmp_identity_mismatch user=user-a device=%s" % B, start=start)
    assert api.get(f"/api/devices/{B}").json()["last_inform"]  # B1 informed once, above


GET_RPC_METHODS = "<cwmp:GetRPCMethods></cwmp:GetRPCMethods>"


def others(d):
    """outpost_acs_shared_connection_others_total: cookie-less requests on a
    trusted proxy's connection not taken as the session it carries."""
    text = requests.get(d.url("admin") + "/metrics", timeout=10,
                        headers={"Authorization": f"Bearer {TOKEN}"}).text
    return prom.parse(text)[("outpost_acs_shared_connection_others_total", ())]


def test_a_request_without_the_cookie_on_a_shared_connection_is_not_the_sessions(outpost, tmp_path):
    """Through a balancer sharing its connections (a --trusted-proxy), a
    request without a cookie on the connection that carries A's session may
    be another CPE's. Once A has sent its cookie back (a CPE keeps cookies or
    it does not), such a request is not A's: it must authenticate as itself
    and gets none of A's RPCs; A's next request, with its cookie, gets them.
    (Straight from a CPE the connection stays the proof:
    test_connection_that_authenticated_stays_authenticated.)"""
    d, addr, api, t = pair_with_a_read_queued(outpost, tmp_path, "--trusted-proxy", "127.0.0.0/8",
                                              "--admin-listen", "127.0.0.1:0")
    a = CPE(addr, auth=("user-a", "pass-a"))
    assert a.inform("A1").rpc == "InformResponse"
    assert a.post(envelope(GET_RPC_METHODS)).rpc == "GetRPCMethodsResponse"  # the cookie, back
    thief = CPE(addr)
    thief.conn = a.conn
    assert thief.post().status == 401                  # was: A's GetParameterValues
    b = CPE(addr, auth=("user-b", "pass-b"))
    b.conn = a.conn
    assert b.post().status == 204                      # user-b, with no session of its own
    r = a.post()
    assert r.rpc == "GetParameterValues" and r.id == str(t["id"])
    assert a.answer(r, GPV_ANSWER).status == 204
    assert api.get(f"/api/tasks/{t['id']}").json()["status"] == "done"
    assert others(d) == 3                              # the thief, user-b (challenged, then in)


def test_a_cookieless_cpe_behind_a_trusted_proxy(outpost, tmp_path):
    """A CPE that ignores cookies keeps its session on its connection; behind
    a --trusted-proxy that shares the connection, a request forwarded for
    another address is not that session's."""
    d, addr, api, t = pair_with_a_read_queued(outpost, tmp_path, "--trusted-proxy", "127.0.0.0/8",
                                              "--admin-listen", "127.0.0.1:0")
    a = CPE(addr, auth=("user-a", "pass-a"), use_cookies=False)
    a.extra_headers = {"X-Forwarded-For": "198.18.0.10"}
    assert a.inform("A1").rpc == "InformResponse"
    other = CPE(addr)
    other.conn = a.conn
    other.extra_headers = {"X-Forwarded-For": "198.18.0.11"}
    assert other.post().status == 401                  # was: A's GetParameterValues
    r = a.post()                                       # A, no cookie, its own address
    assert r.rpc == "GetParameterValues" and r.id == str(t["id"])
    assert a.answer(r, GPV_ANSWER).status == 204
    assert api.get(f"/api/tasks/{t['id']}").json()["status"] == "done"
    assert others(d) == 1                              # the other address's; A's were its


def test_username_template(outpost, tmp_path):
    f = tmp_path / "cpe-credentials"
    f.write_text("00D09E-T1 pw1\n"             # bound by the template
                 "00D09E-T%2D4 pw4\n"          # {oui}-{serial} uses the raw serial: no match
                 "00D09E-T-4 pw4b\n"
                 "lab pwlab *\n"               # explicitly any device
                 f"other pwo {A}\n")           # an explicit device wins over the template
    d = start_acs(outpost, tmp_path, "--cpe-credentials", str(f),
                  "--cpe-username-template", "{oui}-{serial}")
    addr = cwmp_addr(d)
    informed(d, addr, ("00D09E-T1", "pw1"), "T1")
    assert CPE(addr, auth=("00D09E-T1", "pw1")).inform("T2").status == 401
    assert CPE(addr, auth=("00D09E-T1", "pw1")).inform("T1", oui="AABBCC").status == 401
    informed(d, addr, ("00D09E-T-4", "pw4b"), "T-4")
    assert CPE(addr, auth=("00D09E-T%2D4", "pw4")).inform("T-4").status == 401
    informed(d, addr, ("lab", "pwlab"), "L1")
    informed(d, addr, ("lab", "pwlab"), "L2")
    informed(d, addr, ("other", "pwo"), "A1")
    assert CPE(addr, auth=("other", "pwo")).inform("other").status == 401
    d.stop()

    # {id} is the ACS's device id (escaped as the API shows it), and
    # {product_class} the ProductClass.
    f.write_text("00D09E-IGD-T%2D5 pw5\n")
    d = start_acs(outpost, tmp_path, "--cpe-credentials", str(f), "--cpe-username-template",
                  "{id}")
    informed(d, cwmp_addr(d), ("00D09E-IGD-T%2D5", "pw5"), "T-5")
    assert CPE(cwmp_addr(d), auth=("00D09E-IGD-T%2D5", "pw5")).inform("T-6").status == 401
    d.stop()
    f.write_text("cpe-IGD-7 pw7\n")
    d = start_acs(outpost, tmp_path, "--cpe-credentials", str(f), "--cpe-username-template",
                  "cpe-{product_class}-{serial}")
    informed(d, cwmp_addr(d), ("cpe-IGD-7", "pw7"), "7")
    assert CPE(cwmp_addr(d), auth=("cpe-IGD-7", "pw7")).inform("7", pclass="ONT").status == 401


def test_fleet_credential_is_not_an_identity(outpost, tmp_path):
    """--cpe-username/--cpe-password is one password for the whole fleet: it
    authenticates, it does not say which device; per-device lines next to
    it stay bound."""
    f = tmp_path / "cpe-credentials"
    f.write_text(f"user-a pass-a {A}\n")
    d = start_acs(outpost, tmp_path, "--cpe-credentials", str(f), "--cpe-password", "fleet")
    d.wait_for(r"acs_config .*fleet-wide")
    addr = cwmp_addr(d)
    informed(d, addr, ("cpe", "fleet"), "F1")
    informed(d, addr, ("cpe", "fleet"), "A1")
    assert CPE(addr, auth=("user-a", "pass-a")).inform("F1").status == 401


def lockout_acs(outpost, tmp_path, *extra):
    return start_acs(outpost, tmp_path, "--cpe-password", "right", "--cpe-auth-max-failures", "5",
                     "--cpe-auth-lockout", "30s", *extra)


def test_wrong_passwords_lock_an_address_out(outpost, tmp_path):
    d = lockout_acs(outpost, tmp_path)
    addr = cwmp_addr(d)
    start = len(d.lines)
    # Challenges (no credentials) never count.
    anon = CPE(addr, source="127.0.0.2")
    for _ in range(12):
        assert anon.post(envelope(inform("L1"))).status == 401
    # Wrong passwords do: 5 in a row lock the address out.
    bad = CPE(addr, auth=("cpe", "wrong"), source="127.0.0.2")
    for _ in range(5):
        assert bad.inform("L1").status == 401
    r = bad.inform("L1")
    assert r.status == 429 and 25 <= int(r.headers["retry-after"]) <= 30
    # ... whatever it sends, even the right password, until the lock-out ends
    assert CPE(addr, auth=("cpe", "right"), source="127.0.0.2").inform("L1").status == 429
    assert anon.post(envelope(inform("L1"))).status == 429
    # Another address is not affected.
    good = CPE(addr, auth=("cpe", "right"), source="127.0.0.3")
    assert good.inform("L1").rpc == "InformResponse" and good.post().status == 204
    # One line when it started failing and one when the lock-out started: not one per failure.
    d.wait_for(r"cwmp_auth_failed addr=127\.0\.0\.2 failures=4 locked_ms=30000 strike=1", start=start)
    lines = [l for l in d.lines[start:] if "cwmp_auth_failed" in l]
    assert len(lines) == 2, lines
    assert "addr=127.0.0.2 failures=1 " in lines[0]
    # The refused attempts are said later (the guard's minutely report) or at exit.
    d.stop()
    tail = [l for l in d.lines if "cwmp_auth_failed" in l]
    assert len(tail) == 3 and "addr=127.0.0.2 failures=3 " in tail[-1], tail


def test_lockout_by_forwarded_address_behind_a_trusted_proxy(outpost, tmp_path):
    """Behind outpost cwmp-proxy every CPE comes from the proxy's address: the
    guard counts the address the proxy saw, so one CPE's wrong password does
    not lock out its neighbours."""
    d = lockout_acs(outpost, tmp_path, "--trusted-proxy", "127.0.0.0/8")
    addr = cwmp_addr(d)
    bad = CPE(addr, auth=("cpe", "wrong"))
    bad.extra_headers = {"X-Forwarded-For": "198.51.100.7"}
    for _ in range(5):
        assert bad.inform("P1").status == 401
    assert bad.inform("P1").status == 429
    good = CPE(addr, auth=("cpe", "right"))
    good.extra_headers = {"X-Forwarded-For": "198.51.100.8"}
    assert good.inform("P2").rpc == "InformResponse"
    d.wait_for(r"cwmp_auth_failed addr=198\.51\.100\.7 failures=4 locked_ms=")


def test_lockout_off(outpost, tmp_path):
    d = start_acs(outpost, tmp_path, "--cpe-password", "right", "--cpe-auth-max-failures", "0")
    bad = CPE(cwmp_addr(d), auth=("cpe", "wrong"))
    for _ in range(15):
        assert bad.inform("O1").status == 401


def refused(tmp_path, text, *extra, name="creds"):
    f = tmp_path / name
    f.write_text(text)
    p = run_outpost("acs", "--cwmp-listen", "127.0.0.1:0", "--api-listen", "127.0.0.1:0",
                    "--data-dir", str(tmp_path / "d"), "--api-token", "x",
                    "--cpe-credentials", str(f), *extra, timeout=20)
    assert p.returncode == 2, p.stderr
    return p.stderr


@pytest.mark.parametrize("text,line,why", [
    ("# c\nuser pass\n", 2, "no device"),                       # unbound without a template
    (f"u1 p1 {A}\nu2 p2 SN-1\n", 2, "device id"),
    ("u1 p1 a-b-c/d\n", 1, "device id"),
    (f"u1 p1 {A}\nu2 p2 {B} extra\n", 2, "expected"),
    ("u1\n", 1, "expected"),
    (f"u1 p1 {A}\n\nu1 p2 {B}\n", 3, "duplicate"),
    ("u1 p1 00D09E-IGD-A 1\n", 1, "expected"),
])
def test_bad_credentials_files_are_refused(tmp_path, text, line, why):
    err = refused(tmp_path, text)
    assert f"creds:{line}" in err and why in err, err
    assert err.count(" error ") == 1, err                          # one line for one failure


def test_bad_identity_options_are_refused(tmp_path):
    assert "{mac}" in refused(tmp_path, "u p\n", "--cpe-username-template", "{oui}-{mac}")
    assert "placeholder" in refused(tmp_path, "u p\n", "--cpe-username-template", "fixed")
    p = run_outpost("acs", "--cwmp-listen", "127.0.0.1:0", "--api-listen", "127.0.0.1:0",
                    "--data-dir", str(tmp_path / "d"), "--api-token", "x", "--cpe-password", "pw",
                    "--cpe-username-template", "{serial}", timeout=20)
    assert p.returncode == 2 and "cpe-credentials" in p.stderr, p.stderr


def test_reload_with_a_bad_file_keeps_the_old_table(outpost, tmp_path):
    f = tmp_path / "cpe-credentials"
    f.write_text(f"user-a pass-a {A}\n")
    d = start_acs(outpost, tmp_path, "--cpe-credentials", str(f))
    f.write_text(f"user-a pass-a {A}\nuser-b pass-b\n")
    start = len(d.lines)
    d.signal(signal.SIGHUP)
    d.wait_for(r"acs_credentials .*cpe-credentials:2 .*no device", start=start)
    informed(d, cwmp_addr(d), ("user-a", "pass-a"), "A1")
    assert CPE(cwmp_addr(d), auth=("user-b", "pass-b")).inform("B1").status == 401


def cwmp_ns(r):
    """The cwmp namespace of a Fault's detail."""
    tags = [e.tag for e in r.root.iter() if e.tag.startswith("{urn:dslforum-org:cwmp-")]
    return tags[-1].split("}")[0].lstrip("{")


def test_unknown_cwmp_namespace_is_fault_8006(outpost, tmp_path):
    """8006 ("ACS version incompatible with CPE", CWMP 1.4) answers a cwmp
    namespace the ACS does not know, in the newest namespace it speaks
    (1-2); inside a 1-0 session, whose schema stops at 8005, it is 8003."""
    d = start_acs(outpost, tmp_path, "--cpe-auth", "none")
    cpe = CPE(cwmp_addr(d), ns="9")
    r = cpe.post(envelope(inform("NS1"), ns="9", msg_id="1"))
    assert r.rpc == "Fault" and r.find("FaultCode") == "8006"
    assert cwmp_ns(r) == "urn:dslforum-org:cwmp-1-2"
    old = CPE(cwmp_addr(d), ns="0")
    assert old.inform("NS2").rpc == "InformResponse"
    r = old.post(envelope("<cwmp:GetRPCMethods/>", ns="9", msg_id="2"))
    assert r.rpc == "Fault" and r.find("FaultCode") == "8003"
    assert cwmp_ns(r) == "urn:dslforum-org:cwmp-1-0"
