"""outpost acs: CWMP sessions (bootstrap, periodic, cookies, namespaces,
authentication, hostile input) and the REST API around them."""
import json
import signal
import subprocess
import time

import pytest
import requests

import prom

from conftest import PG_MODE, run_outpost
from cwmp_cpe import CPE, envelope, inform, acs_envelopes_valid  # noqa: F401 (autouse: validates what the ACS sent)

TOKEN = "test-token"


def start_acs(outpost, tmp_path, *extra):
    return outpost("acs", "--cwmp-listen", "127.0.0.1:0", "--api-listen", "127.0.0.1:0",
                   "--data-dir", str(tmp_path / "data"), "--api-token", TOKEN, *extra)


class Api:
    def __init__(self, d):
        self.base = d.url("api")
        self.s = requests.Session()
        self.s.headers["Authorization"] = f"Bearer {TOKEN}"

    def get(self, path, **kw):
        return self.s.get(self.base + path, timeout=30, **kw)

    def post(self, path, body=None, **kw):
        return self.s.post(self.base + path, json=body, timeout=30, **kw)

    def delete(self, path):
        return self.s.delete(self.base + path, timeout=30)


def cwmp_addr(d):
    return d.addr("listen")


@pytest.mark.parametrize("ns", ["0", "1", "2"])
def test_bootstrap_then_periodic(outpost, tmp_path, ns):
    d = start_acs(outpost, tmp_path, "--cpe-auth", "none")
    api = Api(d)
    cpe = CPE(cwmp_addr(d), ns=ns)
    r = cpe.inform("SN-1", events=[("0 BOOTSTRAP", ""), ("1 BOOT", "")])
    assert r.status == 200 and r.rpc == "InformResponse"
    assert r.ns == f"urn:dslforum-org:cwmp-1-{ns}"      # answered in the CPE's namespace
    assert r.id == "inform-1"                            # cwmp:ID echoed
    assert r.find("MaxEnvelopes") == "1"
    assert "acs_session=" in r.headers["set-cookie"]
    # BOOTSTRAP: stored parameters are forgotten and the data model read again:
    # the names with their writable flags, then the values
    r = cpe.post()
    assert r.rpc == "GetParameterNames" and r.find("ParameterPath") == "InternetGatewayDevice."
    r = cpe.answer(r, '<cwmp:GetParameterNamesResponse><ParameterList soapenc:arrayType='
                      '"cwmp:ParameterInfoStruct[1]"><ParameterInfoStruct><Name>'
                      'InternetGatewayDevice.DeviceInfo.UpTime</Name><Writable>0</Writable>'
                      '</ParameterInfoStruct></ParameterList></cwmp:GetParameterNamesResponse>')
    assert r.rpc == "GetParameterValues" and r.findall("string") == ["InternetGatewayDevice."]
    r = cpe.answer(r, '<cwmp:GetParameterValuesResponse><ParameterList soapenc:arrayType='
                      '"cwmp:ParameterValueStruct[1]"><ParameterValueStruct><Name>'
                      'InternetGatewayDevice.DeviceInfo.UpTime</Name><Value xsi:type='
                      '"xsd:unsignedInt">7</Value></ParameterValueStruct></ParameterList>'
                      '</cwmp:GetParameterValuesResponse>')
    assert r.status == 204                               # nothing else queued: session over
    devs = api.get("/api/devices").json()
    assert len(devs) == 1
    dev = devs[0]
    assert dev["id"] == "00D09E-IGD-SN%2D1"
    assert dev["serial_number"] == "SN-1" and dev["online"] is True
    assert dev["software_version"] == "1.0.0" and dev["periodic_inform_interval"] == 300
    first = dev["last_inform"]
    # Periodic: same device, events recorded, parameters kept.
    cpe.inform("SN-1", events=[("2 PERIODIC", "")])
    assert cpe.post().status == 204
    dev = api.get("/api/devices/00D09E-IGD-SN%252D1").json()
    assert dev["last_events"] == "2 PERIODIC" and dev["last_inform"] >= first
    params = api.get("/api/devices/00D09E-IGD-SN%252D1/parameters",
                     params={"prefix": "InternetGatewayDevice.DeviceInfo."}).json()
    assert {p["name"] for p in params} == {"InternetGatewayDevice.DeviceInfo.SoftwareVersion",
                                            "InternetGatewayDevice.DeviceInfo.HardwareVersion",
                                            "InternetGatewayDevice.DeviceInfo.UpTime"}
    stats = api.get("/api/stats").json()
    assert stats["total_devices"] == 1 and stats["online_devices"] == 1
    assert stats["offline_devices"] == 0 and stats["pending_tasks"] == 0


def test_cookie_continues_session_on_new_connection(outpost, tmp_path):
    d = start_acs(outpost, tmp_path, "--cpe-auth", "none")
    api = Api(d)
    cpe = CPE(cwmp_addr(d))
    cpe.inform("C1")
    cpe.post()
    t = api.post("/api/devices/00D09E-IGD-C1/tasks", {"type": "get_params", "parameters": {
        "names": ["InternetGatewayDevice.DeviceInfo.SoftwareVersion"]}}).json()
    assert t["status"] == "pending"
    r = cpe.inform("C1")
    assert r.rpc == "InformResponse"
    cpe.new_connection()             # same cookie, new TCP connection
    r = cpe.post()
    assert r.rpc == "GetParameterValues" and r.id == str(t["id"])
    cpe.new_connection()
    r = cpe.answer(r, '<cwmp:GetParameterValuesResponse><ParameterList soapenc:arrayType='
                      '"cwmp:ParameterValueStruct[1]"><ParameterValueStruct><Name>'
                      'InternetGatewayDevice.DeviceInfo.SoftwareVersion</Name><Value '
                      'xsi:type="xsd:string">2.0</Value></ParameterValueStruct></ParameterList>'
                      '</cwmp:GetParameterValuesResponse>')
    assert r.status == 204
    t = api.get(f"/api/tasks/{t['id']}").json()
    assert t["status"] == "done"
    assert t["result"]["parameters"][0]["value"] == "2.0"


def test_cookieless_cpe_keeps_its_connection(outpost, tmp_path):
    d = start_acs(outpost, tmp_path, "--cpe-auth", "none")
    api = Api(d)
    cpe = CPE(cwmp_addr(d), use_cookies=False)
    cpe.inform("NC1")
    cpe.post()
    t = api.post("/api/devices/00D09E-IGD-NC1/tasks", {"type": "reboot"}).json()
    other = CPE(cwmp_addr(d), use_cookies=False)   # another CPE's connection meanwhile
    other.inform("NC2")
    assert cpe.inform("NC1").rpc == "InformResponse"
    r = cpe.post()                                   # no cookie: found by its connection
    assert r.rpc == "Reboot" and r.id == str(t["id"])
    assert cpe.answer(r, "<cwmp:RebootResponse/>").status == 204
    assert other.post().status == 204
    assert api.get(f"/api/tasks/{t['id']}").json()["status"] == "done"


def test_cookieless_cpe_closing_mid_session_ends_it_at_once(outpost, tmp_path):
    """A CPE that ignores cookies can never find its session again from another
    connection: when it closes its connection mid-session the session ends at
    once, not at the 30 s timeout, and the unanswered read is queued again. A
    CPE that uses cookies may come back, so its session stays."""
    d = start_acs(outpost, tmp_path, "--cpe-auth", "none")     # 30 s session timeout
    api = Api(d)
    cpe = CPE(cwmp_addr(d), use_cookies=False)
    cpe.inform("NC3")
    assert cpe.post().status == 204
    name = "InternetGatewayDevice.DeviceInfo.UpTime"
    t = api.post("/api/devices/00D09E-IGD-NC3/tasks",
                 {"type": "get_params", "parameters": {"names": [name]}}).json()
    cpe.inform("NC3")
    r = cpe.post()                                   # found by its connection
    assert r.rpc == "GetParameterValues" and r.id == str(t["id"])
    start = len(d.lines)
    cpe.close()
    d.wait_for(r"cwmp_session_closed device=00D09E-IGD-NC3", start=start, timeout=5)
    d.wait_for(r"cwmp_task_unanswered task=%d .*requeued=true" % t["id"], start=start, timeout=5)
    assert api.get("/api/stats").json()["live_sessions"] == 0

    cookie_cpe = CPE(cwmp_addr(d))
    cookie_cpe.inform("C3")
    assert cookie_cpe.post().status == 204
    t2 = api.post("/api/devices/00D09E-IGD-C3/tasks",
                  {"type": "get_params", "parameters": {"names": [name]}}).json()
    cookie_cpe.inform("C3")
    r = cookie_cpe.post()                            # found by its cookie
    assert r.rpc == "GetParameterValues" and r.id == str(t2["id"])
    cookie_cpe.new_connection()                      # the first connection closes
    r = cookie_cpe.answer(r, '<cwmp:GetParameterValuesResponse><ParameterList soapenc:arrayType='
                             '"cwmp:ParameterValueStruct[1]"><ParameterValueStruct><Name>'
                             f'{name}</Name><Value xsi:type="xsd:unsignedInt">7</Value>'
                             '</ParameterValueStruct></ParameterList></cwmp:GetParameterValuesResponse>')
    assert r.status == 204
    assert api.get(f"/api/tasks/{t2['id']}").json()["status"] == "done"
    assert "cwmp_session_closed device=00D09E-IGD-C3" not in "\n".join(d.lines)


def test_second_inform_replaces_live_session(outpost, tmp_path):
    d = start_acs(outpost, tmp_path, "--cpe-auth", "none")
    a, b = CPE(cwmp_addr(d)), CPE(cwmp_addr(d))
    assert a.inform("DUP").rpc == "InformResponse"
    assert b.inform("DUP").rpc == "InformResponse"   # the old session is ended
    assert b.post().status == 204
    assert a.post().status == 204                     # old cookie: nothing left to do


def test_digest_authentication(outpost, tmp_path):
    d = start_acs(outpost, tmp_path, "--cpe-username", "cpe", "--cpe-password", "s3cret")
    addr = cwmp_addr(d)
    anon = CPE(addr)
    r = anon.post(envelope(inform("AUTH1")))
    assert r.status == 401
    chal = r.headers["www-authenticate"]
    assert "Digest" in chal and "Basic" not in chal   # no Basic without TLS
    bad = CPE(addr, auth=("cpe", "wrong"))
    assert bad.inform("AUTH1").status == 401
    d.wait_for(r"cwmp_auth_failed")
    good = CPE(addr, auth=("cpe", "s3cret"))
    assert good.inform("AUTH1").rpc == "InformResponse"
    assert good.post().status == 204
    # Authentication comes before the body: an unauthenticated 5 MB body is
    # answered 401 and never buffered (the server then closes: the client
    # may notice that before it reads the 401).
    big = b"<x>" + b" " * (5 * 1024 * 1024) + b"</x>"
    try:
        assert anon.post(big).status == 401
    except (BrokenPipeError, ConnectionResetError):
        pass
    anon = CPE(addr)
    assert anon.post(envelope(inform("AUTH1"))).status == 401
    # Authenticated, a session's first message is still capped (1 MiB): 413,
    # and the connection is closed (the client may see that first).
    good = CPE(addr, auth=("cpe", "s3cret"))
    good.new_connection()
    good.conn.request("POST", "/", body=b"")
    resp = good.conn.getresponse()
    resp.read()
    assert resp.status == 401
    chal = [v for k, v in resp.getheaders() if k.lower() == "www-authenticate" and "MD5" in v][0]
    good.new_connection()
    try:
        assert good.post(big, authorization=good._digest(chal, "/")).status == 413
    except (BrokenPipeError, ConnectionResetError):
        pass
    d.wait_for(r"http_body_too_large .*content_length=\d+ cap=1048576")
    # The same cap holds for a chunked body, counted as it is decoded: a 3 MiB
    # first message in 64 KiB chunks is refused with 413 and never stored.
    good.new_connection()
    seen = len(d.lines)
    def chunks():
        for _ in range(48):
            yield b" " * 65536
    try:
        good.conn.request("POST", "/", body=chunks(), encode_chunked=True,
                          headers={"Authorization": good._digest(chal, "/"),
                                   "Content-Type": "text/xml"})
        resp = good.conn.getresponse()
        assert resp.status == 413 and b"first message is at most 1 MiB" in resp.read()
    except (BrokenPipeError, ConnectionResetError):
        pass
    d.wait_for(r"http_body_too_large .*cap=1048576", start=seen)
    assert len([l for l in d.lines if "http_body_too_large" in l]) == 2


def test_acs_needs_a_cpe_password(tmp_path):
    p = run_outpost("acs", "--cwmp-listen", "127.0.0.1:0", "--api-listen", "127.0.0.1:0",
                    "--data-dir", str(tmp_path / "d"), "--api-token", "x", timeout=20)
    assert p.returncode == 2 and "cpe-password" in p.stderr


def test_hostile_cwmp(outpost, tmp_path):
    d = start_acs(outpost, tmp_path, "--cpe-auth", "none", "--cwmp-max-body", "64KiB")
    addr = cwmp_addr(d)
    cpe = CPE(addr)
    # DOCTYPE / entity expansion: a SOAP fault, not a crash or a hang.
    r = cpe.post(b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]>'
                 b'<x>&b;</x>')
    assert r.status == 200 and r.rpc == "Fault" and r.find("FaultCode") == "8003"
    r = cpe.post(b"\x00\x01garbage<<<")
    assert r.rpc == "Fault"
    # A session must begin with an Inform.
    r = cpe.post(envelope("<cwmp:GetRPCMethods/>"))
    assert r.rpc == "Fault" and r.find("FaultCode") == "8001"
    # Over the body cap: 413 from the HTTP layer.
    r = cpe.post(envelope("<cwmp:GetRPCMethods/>" + " " * 70000))
    assert r.status == 413
    cpe.close()
    # Inside a session: an unknown method gets 8000, the session goes on.
    cpe = CPE(addr)
    cpe.inform("H1")
    r = cpe.post(envelope("<cwmp:X_Vendor_Frob/>", msg_id="9"))
    assert r.rpc == "Fault" and r.find("FaultCode") == "8000" and r.id == "9"
    r = cpe.post(envelope("<cwmp:GetRPCMethods/>", msg_id="10"))
    assert r.rpc == "GetRPCMethodsResponse" and "Inform" in r.findall("string")
    assert cpe.post().status == 204
    # Wrong paths and methods.
    assert requests.get(f"http://{addr[0]}:{addr[1]}/", timeout=5).status_code == 405
    assert requests.post(f"http://{addr[0]}:{addr[1]}/nope", timeout=5).status_code == 404


def test_api_errors(outpost, tmp_path):
    d = start_acs(outpost, tmp_path, "--cpe-auth", "none")
    api = Api(d)
    assert requests.get(api.base + "/api/devices", timeout=5).status_code == 401
    r = requests.get(api.base + "/api/devices", headers={"Authorization": "Bearer nope"}, timeout=5)
    assert r.status_code == 401 and r.json()["error"] == "unauthorized"
    assert api.get("/api/devices/none").status_code == 404
    assert api.get("/api/tasks/12345").json()["error"] == "not_found"
    assert api.get("/api/nothing").status_code == 404
    assert api.get("/api/devices", params={"limit": "x"}).status_code == 400
    assert api.get("/api/devices?limit=%zz").status_code == 400
    assert api.get("/api/devices?limit=99999999999999999999999").status_code == 400
    cpe = CPE(cwmp_addr(d))
    cpe.inform("E1")
    cpe.post()
    base = "/api/devices/00D09E-IGD-E1/tasks"
    r = api.s.post(api.base + base, data=b"{not json", timeout=5)
    assert r.status_code == 400 and r.json()["error"] == "bad_json"
    for bad in ({"type": "nope"}, {"type": "get_params"}, {"type": "get_params", "extra": 1},
                {"type": "get_params", "parameters": {"names": ["a"], "typo": 1}},
                {"type": "set_params", "parameters": {"values": {"A.B": [1]}}},
                {"type": "set_params", "parameters": {"values": {"A.B": {"value": "x", "type": "xsd:bogus"}}}},
                {"type": "set_params", "parameters": {"values": {"A.B": {"value": 4294967296,
                                                                         "type": "xsd:unsignedInt"}}}},
                {"type": "add_object", "parameters": {"object": "no.dot"}},
                {"type": "schedule_inform", "parameters": {"delay_seconds": 0}},
                [1, 2]):
        r = api.post(base, bad)
        assert r.status_code == 422, bad
        assert set(r.json()) == {"error", "message"}
    assert api.post(base, "string").status_code == 400   # not an object at all
    r = api.s.post(api.base + base, data=b"x" * (2 * 1024 * 1024), timeout=10)
    assert r.status_code == 413
    # Cancel: pending -> cancelled, then 409.
    t = api.post(base, {"type": "reboot"}).json()
    r = api.delete(f"/api/tasks/{t['id']}")
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    assert api.delete(f"/api/tasks/{t['id']}").status_code == 409
    # Delete the device.
    assert api.delete("/api/devices/00D09E-IGD-E1").status_code == 204
    assert api.get("/api/devices/00D09E-IGD-E1").status_code == 404
    # Tags.
    cpe.inform("F1")
    cpe.post()
    r = api.s.put(api.base + "/api/devices/00D09E-IGD-F1/tags", json={"tags": ["lab", "north"]},
                  timeout=5)
    assert r.status_code == 200 and r.json()["tags"] == ["lab", "north"]
    for bad in ({"tags": ["a,b"]}, {"tags": [""]}, {"tags": "lab"}, {"tags": ["x"], "more": 1}):
        assert api.s.put(api.base + "/api/devices/00D09E-IGD-F1/tags", json=bad,
                         timeout=5).status_code == 422
    assert api.s.put(api.base + "/api/devices/nope/tags", json={"tags": []},
                     timeout=5).status_code == 404
    assert [x["id"] for x in api.get("/api/devices", params={"tag": "north"}).json()] == \
        ["00D09E-IGD-F1"]
    assert api.get("/api/devices", params={"tag": "nor"}).json() == []
    # Filters.
    for s in ("F1", "F2", "G1"):
        cpe.inform(s)
        cpe.post()
    assert len(api.get("/api/devices", params={"q": "00D09E-IGD-F"}).json()) == 2
    assert len(api.get("/api/devices", params={"q": "G"}).json()) == 1
    assert len(api.get("/api/devices", params={"online": "false"}).json()) == 0
    assert len(api.get("/api/devices", params={"limit": 1, "offset": 1}).json()) == 1


def test_per_device_credentials_and_reload(outpost, tmp_path):
    creds = tmp_path / "cpe-credentials"
    creds.write_text("# user password\nSN-A  pass-a\n")
    d = start_acs(outpost, tmp_path, "--cpe-credentials", str(creds),
                  "--cpe-username-template", "SN-{serial}")   # SN-A may be serial A only
    addr = cwmp_addr(d)
    assert CPE(addr, auth=("SN-A", "pass-a")).inform("A").rpc == "InformResponse"
    assert CPE(addr, auth=("SN-A", "pass-b")).inform("A").status == 401
    assert CPE(addr, auth=("SN-B", "pass-b")).inform("B").status == 401
    creds.write_text("SN-A pass-a\nSN-B pass-b\n")
    d.signal(signal.SIGHUP)
    d.wait_for(r"acs_credentials .*users=2")
    assert CPE(addr, auth=("SN-B", "pass-b")).inform("B").rpc == "InformResponse"


def test_admin_metrics_status_and_health(outpost, tmp_path):
    d = start_acs(outpost, tmp_path, "--cpe-auth", "none", "--admin-listen", "127.0.0.1:0",
                  "--fleet-refresh", "200ms")
    cpe = CPE(cwmp_addr(d))
    cpe.inform("M1")
    cpe.post()
    cpe.inform("M2", events=(("1 BOOT", ""), ("M Reboot", "x")))
    cpe.post()
    base = d.url("admin")
    auth = {"Authorization": f"Bearer {TOKEN}"}
    # every admin path is behind the API token
    for p in ("/metrics", "/status", "/health"):
        assert requests.get(base + p, timeout=5).status_code == 401, p
    assert requests.get(base + "/health", headers=auth, timeout=5).text == "ok\n"
    # a task, cancelled: finished tasks are counted by status
    api = Api(d)
    t = api.post("/api/devices/00D09E-IGD-M1/tasks", {"type": "reboot"}).json()
    time.sleep(0.5)  # a fleet snapshot with the open task
    m = prom.parse(requests.get(base + "/metrics", headers=auth, timeout=5).text)
    assert prom.value(m, "outpost_acs_sessions_total") == 2
    assert prom.value(m, "outpost_acs_informs_total", event="1 BOOT") == 1
    assert prom.value(m, "outpost_acs_informs_total", event="2 PERIODIC") == 1
    assert prom.value(m, "outpost_acs_informs_total", event="M") == 1
    assert prom.value(m, "outpost_acs_session_seconds_count") == 2
    assert prom.value(m, "outpost_acs_devices") == 2
    assert prom.value(m, "outpost_acs_devices_online") == 2
    assert prom.value(m, "outpost_acs_tasks", type="reboot", status="pending") == 1
    assert prom.value(m, "process_open_fds") > 5
    assert any(k[0] == "outpost_build_info" and dict(k[1])["daemon"] == "acs" for k in m)
    assert api.delete(f"/api/tasks/{t['id']}").status_code == 200
    # finished tasks are counted by type and status as the snapshots see them
    # (by the second they finished in: within a second or two)
    deadline = time.monotonic() + 5
    while True:
        m = prom.parse(requests.get(base + "/metrics", headers=auth, timeout=5).text)
        key = ("outpost_acs_tasks_finished_total", (("status", "cancelled"), ("type", "reboot")))
        if m.get(key) == 1 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert m.get(key) == 1, {k: v for k, v in m.items() if "finished" in k[0]}
    assert prom.value(m, "outpost_acs_tasks_finished_total", type="reboot", status="done") == 0
    assert ("outpost_acs_tasks", (("status", "pending"), ("type", "reboot"))) not in m
    st = requests.get(base + "/status", headers=auth, timeout=5).json()
    assert st["informs"] == 2 and st["live_sessions"] == 0 and st["devices"]["total"] == 2


@pytest.mark.skipif(PG_MODE, reason="makes the SQLite file read-only; a PostgreSQL server that"
                    " cannot commit is another fault (the store's reconnect path)")
def test_health_reports_a_store_that_cannot_commit(outpost, tmp_path):
    d = start_acs(outpost, tmp_path, "--cpe-auth", "none", "--admin-listen", "127.0.0.1:0")
    auth = {"Authorization": f"Bearer {TOKEN}"}
    base = d.url("admin")
    assert requests.get(base + "/health", headers=auth, timeout=5).status_code == 200
    # the disk is "full": the database file and its directory become read-only
    # (root ignores modes, so the file is made immutable to everyone instead)
    db = tmp_path / "data" / "acs.db"
    r = subprocess.run(["chattr", "+i", str(db), str(db) + "-wal"], capture_output=True)
    if r.returncode != 0:
        pytest.skip("chattr +i is not available here: " + r.stderr.decode().strip())
    try:
        cpe = CPE(cwmp_addr(d))
        cpe.inform("RO1")
        deadline = time.monotonic() + 10
        while (h := requests.get(base + "/health", headers=auth, timeout=5)).status_code == 200 \
                and time.monotonic() < deadline:
            time.sleep(0.1)
        assert h.status_code == 503 and "store cannot commit" in h.text
    finally:
        subprocess.run(["chattr", "-i", str(db), str(db) + "-wal"], capture_output=True)
    # writable again: the next commit succeeds and /health says so
    cpe = CPE(cwmp_addr(d))
    cpe.inform("RO2")
    deadline = time.monotonic() + 10
    while (h := requests.get(base + "/health", headers=auth, timeout=5)).status_code != 200 \
            and time.monotonic() < deadline:
        cpe.inform("RO2")
        time.sleep(0.1)
    assert h.status_code == 200


def test_cpe_address_behind_a_trusted_proxy(outpost, tmp_path):
    """Behind outpost cwmp-proxy the ACS records the CPE's address from
    X-Forwarded-For, but only when the peer is a proxy it was told to trust."""
    def recorded_ip(d, serial):
        cpe = CPE(cwmp_addr(d))
        cpe.extra_headers = {"X-Forwarded-For": "198.51.100.23"}
        assert cpe.inform(serial).status == 200
        assert cpe.post().status == 204
        dev_id = f"00D09E-IGD-{serial}"
        return Api(d).get(f"/api/devices/{dev_id}").json()["ip_address"]

    trusting = start_acs(outpost, tmp_path / "a", "--cpe-auth", "none", "--trusted-proxy", "127.0.0.0/8")
    assert recorded_ip(trusting, "XFF1") == "198.51.100.23"
    plain = start_acs(outpost, tmp_path / "b", "--cpe-auth", "none")
    assert recorded_ip(plain, "XFF2") == "127.0.0.1"  # anyone may send the header
