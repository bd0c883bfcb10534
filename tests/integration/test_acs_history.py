"""outpost acs: what the ACS remembers of a device -- the values an operator
set (stored when the CPE accepts them, marked as the ACS's), the inform
interval and how to reach it behind NAT learnt from any parameter read, writable flags from the bootstrap
rediscovery, a parameter's history and the device's recent sessions."""
import re
import time
import urllib.parse

import pytest

from cwmp_cpe import CPE, envelope, fault, pvs, acs_envelopes_valid  # noqa: F401 (autouse: validates what the ACS sent)
from test_acs_session import Api, cwmp_addr, start_acs

NAME = "InternetGatewayDevice.DeviceInfo.ProvisioningCode"
PII = "InternetGatewayDevice.ManagementServer.PeriodicInformInterval"


def dev_id(serial):
    return urllib.parse.quote(f"00D09E-IGD-{serial}", safe="")


def params(api, serial):
    r = api.get(f"/api/devices/{dev_id(serial)}/parameters")
    assert r.status_code == 200, r.text
    return {p["name"]: p for p in r.json()}


def spv_response(status):
    return (f"<cwmp:SetParameterValuesResponse><Status>{status}</Status>"
            f"</cwmp:SetParameterValuesResponse>")


def gpv_response(values):
    return f"<cwmp:GetParameterValuesResponse>{pvs(values)}</cwmp:GetParameterValuesResponse>"


def task_of(api, tid):
    return api.get(f"/api/tasks/{tid}").json()


@pytest.mark.parametrize("status", [0, 1])
def test_accepted_set_params_are_stored_as_the_acs(outpost, tmp_path, status):
    d = start_acs(outpost, tmp_path, "--cpe-auth", "none")
    api = Api(d)
    cpe = CPE(cwmp_addr(d))
    cpe.inform("H1", events=[("1 BOOT", "")], params=[(NAME, "before", "xsd:string")])
    assert cpe.post().status == 204
    before = params(api, "H1")[NAME]
    assert before["value"] == "before" and before["set_by"] == "cpe"
    t = api.post(f"/api/devices/{dev_id('H1')}/tasks", {"type": "set_params", "parameters": {
        "values": {NAME: "after", "InternetGatewayDevice.X_Count": 7}}}).json()
    cpe.inform("H1", events=[("6 CONNECTION REQUEST", "")])
    r = cpe.post()
    assert r.rpc == "SetParameterValues"
    t0 = time.time()
    assert cpe.answer(r, spv_response(status)).status == 204
    assert task_of(api, t["id"])["status"] == "done"
    # the values the CPE accepted are the stored ones now, marked as the ACS's
    p = params(api, "H1")
    assert p[NAME]["value"] == "after" and p[NAME]["set_by"] == "acs", p[NAME]
    assert p["InternetGatewayDevice.X_Count"]["value"] == "7"
    assert p["InternetGatewayDevice.X_Count"]["type"] == "xsd:unsignedInt"
    assert p["InternetGatewayDevice.X_Count"]["set_by"] == "acs"
    set_at = time.mktime(time.strptime(p[NAME]["set_at"], "%Y-%m-%dT%H:%M:%SZ")) - time.timezone
    assert abs(set_at - t0) < 5, p[NAME]
    # and the old value went into the history, as the CPE's
    h = api.get(f"/api/devices/{dev_id('H1')}/parameters/history", params={"name": NAME})
    assert h.status_code == 200, h.text
    assert [(x["value"], x["set_by"]) for x in h.json()] == [("after", "acs"), ("before", "cpe")]
    # the CPE reporting the same value again does not make it the CPE's
    cpe.inform("H1", events=[("4 VALUE CHANGE", "")], params=[(NAME, "after", "xsd:string")])
    assert cpe.post().status == 204
    assert params(api, "H1")[NAME]["set_by"] == "acs"
    # a value the CPE changes itself is the CPE's again
    cpe.inform("H1", events=[("4 VALUE CHANGE", "")], params=[(NAME, "local", "xsd:string")])
    assert cpe.post().status == 204
    assert params(api, "H1")[NAME]["set_by"] == "cpe"
    h = api.get(f"/api/devices/{dev_id('H1')}/parameters/history", params={"name": NAME}).json()
    assert [(x["value"], x["set_by"]) for x in h] == [("local", "cpe"), ("after", "acs"),
                                                      ("before", "cpe")]


def test_refused_set_params_leave_the_stored_values(outpost, tmp_path):
    d = start_acs(outpost, tmp_path, "--cpe-auth", "none")
    api = Api(d)
    cpe = CPE(cwmp_addr(d))
    cpe.inform("H2", events=[("1 BOOT", "")], params=[(NAME, "before", "xsd:string")])
    assert cpe.post().status == 204
    t = api.post(f"/api/devices/{dev_id('H2')}/tasks", {"type": "set_params", "parameters": {
        "values": {NAME: "after"}}}).json()
    cpe.inform("H2", events=[("6 CONNECTION REQUEST", "")])
    r = cpe.post()
    assert r.rpc == "SetParameterValues"
    assert cpe.answer(r, fault(9003, "Invalid arguments", [(NAME, 9007, "bad value")])).status == 204
    assert task_of(api, t["id"])["status"] == "failed"
    p = params(api, "H2")[NAME]
    assert p["value"] == "before" and p["set_by"] == "cpe"


def test_interval_learnt_from_a_parameter_read(outpost, tmp_path):
    d = start_acs(outpost, tmp_path, "--cpe-auth", "none", "--default-inform-interval", "1d")
    api = Api(d)
    cpe = CPE(cwmp_addr(d))
    cpe.inform("H3", events=[("1 BOOT", "")], interval=0)  # the Inform says nothing useful
    assert cpe.post().status == 204
    assert api.get(f"/api/devices/{dev_id('H3')}").json()["periodic_inform_interval"] == 0
    # a GetParameterValues result carrying the interval teaches it
    t = api.post(f"/api/devices/{dev_id('H3')}/tasks", {"type": "get_params", "parameters": {
        "names": ["InternetGatewayDevice.ManagementServer."]}}).json()
    cpe.inform("H3", events=[("6 CONNECTION REQUEST", "")], interval=0)
    r = cpe.post()
    assert r.rpc == "GetParameterValues"
    assert cpe.answer(r, gpv_response([(PII, "60", "xsd:unsignedInt")])).status == 204
    assert task_of(api, t["id"])["status"] == "done"
    dev = api.get(f"/api/devices/{dev_id('H3')}").json()
    assert dev["periodic_inform_interval"] == 60
    # an operator's accepted set_params of it does too (TR-181 name this time)
    t = api.post(f"/api/devices/{dev_id('H3')}/tasks", {"type": "set_params", "parameters": {
        "values": {"Device.ManagementServer.PeriodicInformInterval": 90}}}).json()
    cpe.inform("H3", events=[("6 CONNECTION REQUEST", "")], interval=0)
    r = cpe.post()
    assert r.rpc == "SetParameterValues"
    assert cpe.answer(r, spv_response(0)).status == 204
    assert api.get(f"/api/devices/{dev_id('H3')}").json()["periodic_inform_interval"] == 90
    # a name that only ends like it (an object of its own) does not
    t = api.post(f"/api/devices/{dev_id('H3')}/tasks", {"type": "get_params", "parameters": {
        "names": ["InternetGatewayDevice.X_Vendor."]}}).json()
    cpe.inform("H3", events=[("6 CONNECTION REQUEST", "")], interval=0)
    r = cpe.post()
    assert cpe.answer(r, gpv_response([("InternetGatewayDevice.X_Vendor.ManagementServer."
                                        "PeriodicInformInterval", "5", "xsd:unsignedInt")])).status == 204
    assert api.get(f"/api/devices/{dev_id('H3')}").json()["periodic_inform_interval"] == 90


def test_nat_reach_learnt_from_informs_and_reads(outpost, tmp_path):
    """NATDetected, UDPConnectionRequestAddress and ConnReqJabberID, from a
    VALUE CHANGE Inform or a read, kept until reported again."""
    d = start_acs(outpost, tmp_path, "--cpe-auth", "none")
    api = Api(d)
    cpe = CPE(cwmp_addr(d))
    ms = "InternetGatewayDevice.ManagementServer."
    cpe.inform("H9", events=[("1 BOOT", "")])
    assert cpe.post().status == 204
    dev = api.get(f"/api/devices/{dev_id('H9')}").json()
    assert (dev["nat_detected"], dev["udp_connection_request_address"], dev["xmpp_jid"]) == \
        (False, "", "")
    cpe.inform("H9", events=[("4 VALUE CHANGE", "")], params=[
        (ms + "NATDetected", "1", "xsd:boolean"),
        (ms + "UDPConnectionRequestAddress", "198.18.0.9:40001", "xsd:string"),
        (ms + "ConnReqJabberID", "h9@xmpp.test/cwmp", "xsd:string")])
    assert cpe.post().status == 204
    dev = api.get(f"/api/devices/{dev_id('H9')}").json()
    assert (dev["nat_detected"], dev["udp_connection_request_address"], dev["xmpp_jid"]) == \
        (True, "198.18.0.9:40001", "h9@xmpp.test/cwmp")
    # a periodic Inform that does not carry them keeps them
    cpe.inform("H9")
    assert cpe.post().status == 204
    dev = api.get(f"/api/devices/{dev_id('H9')}").json()
    assert dev["udp_connection_request_address"] == "198.18.0.9:40001" and dev["nat_detected"]
    # a read of the ManagementServer object updates them (the binding moved)
    t = api.post(f"/api/devices/{dev_id('H9')}/tasks", {"type": "get_params", "parameters": {
        "names": [ms]}}).json()
    cpe.inform("H9", events=[("6 CONNECTION REQUEST", "")])
    r = cpe.post()
    assert r.rpc == "GetParameterValues"
    assert cpe.answer(r, gpv_response([(ms + "NATDetected", "false", "xsd:boolean"),
                                       (ms + "UDPConnectionRequestAddress", "198.18.0.9:40002",
                                        "xsd:string")])).status == 204
    assert task_of(api, t["id"])["status"] == "done"
    dev = api.get(f"/api/devices/{dev_id('H9')}").json()
    assert (dev["nat_detected"], dev["udp_connection_request_address"], dev["xmpp_jid"]) == \
        (False, "198.18.0.9:40002", "h9@xmpp.test/cwmp")


def test_bootstrap_rediscovery_reads_writable_flags(outpost, tmp_path):
    d = start_acs(outpost, tmp_path, "--cpe-auth", "none")
    api = Api(d)
    cpe = CPE(cwmp_addr(d))
    cpe.inform("H4", events=[("0 BOOTSTRAP", "")], params=[(NAME, "x", "xsd:string")])
    # the names with their writable flags, of the whole tree, then the values
    r = cpe.post()
    assert r.rpc == "GetParameterNames", r.body
    assert r.find("ParameterPath") == "InternetGatewayDevice." and r.find("NextLevel") in ("0", "false")
    body = ('<cwmp:GetParameterNamesResponse><ParameterList soapenc:arrayType='
            '"cwmp:ParameterInfoStruct[3]">'
            f'<ParameterInfoStruct><Name>{NAME}</Name><Writable>1</Writable></ParameterInfoStruct>'
            '<ParameterInfoStruct><Name>InternetGatewayDevice.DeviceInfo.</Name>'
            '<Writable>0</Writable></ParameterInfoStruct>'
            '<ParameterInfoStruct><Name>InternetGatewayDevice.DeviceInfo.UpTime</Name>'
            '<Writable>0</Writable></ParameterInfoStruct></ParameterList>'
            '</cwmp:GetParameterNamesResponse>')
    r = cpe.answer(r, body)
    assert r.rpc == "GetParameterValues" and r.findall("string") == ["InternetGatewayDevice."]
    assert cpe.answer(r, gpv_response([(NAME, "x", "xsd:string"),
                                       ("InternetGatewayDevice.DeviceInfo.UpTime", "7",
                                        "xsd:unsignedInt")])).status == 204
    p = params(api, "H4")
    assert p[NAME]["writable"] is True and p[NAME]["value"] == "x"
    assert p["InternetGatewayDevice.DeviceInfo.UpTime"]["writable"] is False
    assert p["InternetGatewayDevice.DeviceInfo.UpTime"]["value"] == "7"
    assert p["InternetGatewayDevice.DeviceInfo."]["writable"] is False  # an object: a name only
    assert p["InternetGatewayDevice.DeviceInfo."]["value"] is None
    tasks = api.get(f"/api/devices/{dev_id('H4')}/tasks").json()
    assert sorted((t["type"], t["status"]) for t in tasks) == [("get_names", "done"), ("get_params", "done")]
    assert [t["result"] for t in tasks] == [{"parameters_stored": 2}, {"parameters_stored": 3}]


def test_rediscovery_names_kept_when_the_values_never_come(outpost, tmp_path):
    d = start_acs(outpost, tmp_path, "--cpe-auth", "none")
    api = Api(d)
    cpe = CPE(cwmp_addr(d))
    cpe.inform("H9", events=[("0 BOOTSTRAP", "")], params=[(NAME, "x", "xsd:string")])
    r = cpe.post()
    assert r.rpc == "GetParameterNames"
    body = ('<cwmp:GetParameterNamesResponse><ParameterList soapenc:arrayType='
            '"cwmp:ParameterInfoStruct[1]">'
            f'<ParameterInfoStruct><Name>{NAME}</Name><Writable>1</Writable></ParameterInfoStruct>'
            '</ParameterList></cwmp:GetParameterNamesResponse>')
    r = cpe.answer(r, body)
    assert r.rpc == "GetParameterValues"
    # the CPE faults the read: the names are stored all the same
    assert cpe.answer(r, fault(9002, "busy")).status == 204
    deadline = time.monotonic() + 10
    while params(api, "H9")[NAME]["writable"] is not True:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert params(api, "H9")[NAME]["value"] == "x"


def test_history_bounded_newest_first_and_bad_input(outpost, tmp_path):
    d = start_acs(outpost, tmp_path, "--cpe-auth", "none", "--param-history", "3")
    api = Api(d)
    cpe = CPE(cwmp_addr(d))
    for i in range(6):
        cpe.inform("H5", events=[("4 VALUE CHANGE", "")], params=[(NAME, f"v{i}", "xsd:string")])
        assert cpe.post().status == 204
    url = f"/api/devices/{dev_id('H5')}/parameters/history"
    h = api.get(url, params={"name": NAME}).json()
    # the value now, then the 3 kept before it, newest first
    assert [(x["value"], x["current"], x["set_by"]) for x in h] == [
        ("v5", True, "cpe"), ("v4", False, "cpe"), ("v3", False, "cpe"), ("v2", False, "cpe")]
    assert all(x["set_at"].endswith("Z") for x in h)
    assert [x["value"] for x in api.get(url, params={"name": NAME, "limit": 2}).json()] == ["v5", "v4"]
    r = api.get(url)
    assert r.status_code == 400 and "name" in r.json()["message"]
    r = api.get(url, params={"name": "InternetGatewayDevice.DeviceInfo."})
    assert r.status_code == 400 and "name" in r.json()["message"]
    r = api.get(url, params={"name": NAME, "limit": 0})
    assert r.status_code == 400 and "limit" in r.json()["message"]
    r = api.get(url, params={"name": "InternetGatewayDevice.Nothing"})
    assert r.status_code == 404, r.text
    r = api.get(f"/api/devices/{dev_id('NOPE')}/parameters/history", params={"name": NAME})
    assert r.status_code == 404 and r.json()["message"] == "no such device"


def test_sessions_list_rpcs_outcome_and_log(outpost, tmp_path):
    d = start_acs(outpost, tmp_path, "--cpe-auth", "none", "--session-log", "all")
    api = Api(d)
    cpe = CPE(cwmp_addr(d))
    cpe.inform("H6", events=[("1 BOOT", "")])
    assert cpe.post().status == 204
    secret = {"InternetGatewayDevice.ManagementServer.ConnectionRequestPassword": "cr-secret"}
    sets = [api.post(f"/api/devices/{dev_id('H6')}/tasks", {"type": "set_params", "parameters": {
        "values": {NAME: f"x{i}", **(secret if i == 0 else {})}}}).json() for i in range(2)]
    get = api.post(f"/api/devices/{dev_id('H6')}/tasks", {"type": "get_params", "parameters": {
        "names": [NAME]}}).json()
    cpe.inform("H6", events=[("6 CONNECTION REQUEST", "")])
    r = cpe.post()
    assert r.rpc == "SetParameterValues"
    r = cpe.answer(r, fault(9007, "Invalid parameter value", [(NAME, 9007, "no")]))
    assert r.rpc == "SetParameterValues"
    r = cpe.answer(r, spv_response(0))
    assert r.rpc == "GetParameterValues"
    assert cpe.answer(r, gpv_response([(NAME, "x1", "xsd:string")])).status == 204
    assert [task_of(api, t["id"])["status"] for t in sets + [get]] == ["failed", "done", "done"]

    def sessions(**q):
        deadline = time.monotonic() + 10
        while True:  # the row is written by the store thread after the final 204
            r = api.get(f"/api/devices/{dev_id('H6')}/sessions", params=q)
            assert r.status_code == 200, r.text
            if len(r.json()) >= 2 or time.monotonic() > deadline:
                return r.json()
            time.sleep(0.05)
    s = sessions()
    assert len(s) == 2
    last, first = s
    assert first["events"] == ["1 BOOT"] and first["rpcs"] == [] and first["outcome"] == "ok"
    assert last["events"] == ["6 CONNECTION REQUEST"] and last["outcome"] == "ok"
    assert last["rpcs"] == [{"name": "SetParameterValues", "from": "acs", "fault": 9007},
                            {"name": "SetParameterValues", "from": "acs", "fault": None},
                            {"name": "GetParameterValues", "from": "acs", "fault": None}]
    assert last["rpc_count"] == 3 and last["duration_ms"] >= 0 and last["started"].endswith("Z")
    assert "<cwmp:SetParameterValues>" in last["log"] and "9007" in last["log"]
    # kept without its secrets: the password the first set sent is ***
    assert "cr-secret" not in last["log"]
    assert "ConnectionRequestPassword</Name><Value xsi:type=\"xsd:string\">***</Value>" in last["log"]
    assert "log" not in sessions(log="false")[0]
    # the CPE's own requests are in the list too, in their place
    cpe.inform("H6", events=[("1 BOOT", "")])
    r = cpe.post(envelope("<cwmp:GetRPCMethods/>", msg_id="g1"))
    assert r.rpc == "GetRPCMethodsResponse"
    assert cpe.post().status == 204
    deadline = time.monotonic() + 10
    while len(sessions()) < 3:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert sessions()[0]["rpcs"] == [{"name": "GetRPCMethods", "from": "cpe", "fault": None}]
    assert len(sessions(limit=1)) == 1
    r = api.get(f"/api/devices/{dev_id('H6')}/sessions", params={"limit": 1000})
    assert r.status_code == 400 and "limit" in r.json()["message"]
    r = api.get(f"/api/devices/{dev_id('H6')}/sessions", params={"log": "maybe"})
    assert r.status_code == 400 and "log" in r.json()["message"]
    assert api.get(f"/api/devices/{dev_id('NOPE')}/sessions").status_code == 404


def test_a_cut_log_starts_at_a_message(outpost, tmp_path):
    """A session's log over its caps loses its oldest messages whole: what
    is held and what is stored start at a message's header, never inside
    one (where a secret could be left without the element that names it)."""
    d = start_acs(outpost, tmp_path, "--cpe-auth", "none", "--session-log", "all")
    api = Api(d)
    cpe = CPE(cwmp_addr(d))
    cpe.inform("H9", events=[("1 BOOT", "")])
    assert cpe.post().status == 204
    names = [f"InternetGatewayDevice.X_Test.Item{i}.Text" for i in range(300)]
    for _ in range(8):
        api.post(f"/api/devices/{dev_id('H9')}/tasks", {"type": "get_params", "parameters": {"names": names}})
    cpe.inform("H9", events=[("6 CONNECTION REQUEST", "")])
    r = cpe.post()
    for _ in range(8):                           # 8 x ~40 KB answers: past the 256 KiB held
        assert r.rpc == "GetParameterValues"
        r = cpe.answer(r, gpv_response([(n, "v" * 60, "xsd:string") for n in names]))
    assert r.status == 204
    deadline = time.monotonic() + 10
    while len(s := api.get(f"/api/devices/{dev_id('H9')}/sessions").json()) < 2:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    log = s[0]["log"]
    assert log.startswith("--- ") and "InformResponse" not in log, log[:200]
    assert 32 * 1024 < len(log) <= 64 * 1024      # the last 64 KiB, from a message's start


def test_sessions_without_log_by_default_and_bounded(outpost, tmp_path):
    d = start_acs(outpost, tmp_path, "--cpe-auth", "none")  # --session-log errors
    api = Api(d)
    cpe = CPE(cwmp_addr(d))
    for _ in range(25):
        cpe.inform("H7", events=[("2 PERIODIC", "")])
        assert cpe.post().status == 204
    deadline = time.monotonic() + 10
    while len(api.get(f"/api/devices/{dev_id('H7')}/sessions", params={"limit": 100}).json()) < 20:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    time.sleep(0.3)
    s = api.get(f"/api/devices/{dev_id('H7')}/sessions", params={"limit": 100}).json()
    assert len(s) == 20                     # bounded per device
    assert all(x["log"] is None for x in s)  # a clean session's log is not kept
    assert [x["id"] for x in s] == sorted((x["id"] for x in s), reverse=True)


@pytest.mark.parametrize("mode", ["errors", "none"])
def test_session_log_on_for_one_device(outpost, tmp_path, mode):
    d = start_acs(outpost, tmp_path, "--cpe-auth", "none", "--session-log", mode)
    api = Api(d)
    cpes = {sn: CPE(cwmp_addr(d)) for sn in ("L1", "L2")}

    def session(sn):
        cpes[sn].inform(sn, events=[("2 PERIODIC", "")])
        assert cpes[sn].post().status == 204

    def logs(sn, n):
        deadline = time.monotonic() + 10
        while True:
            s = api.get(f"/api/devices/{dev_id(sn)}/sessions").json()
            if len(s) >= n or time.monotonic() > deadline:
                return [x["log"] for x in s]
            time.sleep(0.05)
    for sn in cpes:
        session(sn)
    r = api.s.put(f"{api.base}/api/devices/{dev_id('L1')}/session-log", json={"all": True}, timeout=30)
    assert r.status_code == 200 and r.json()["session_log"] == "all", r.text
    for sn in cpes:
        session(sn)
    assert logs("L1", 2)[1] is None and "InformResponse" in logs("L1", 2)[0]
    assert logs("L2", 2) == [None, None]            # the other device: as --session-log says
    # kept across a restart, then off again
    d.stop()
    d = start_acs(outpost, tmp_path, "--cpe-auth", "none", "--session-log", mode)
    api = Api(d)
    cpes = {sn: CPE(cwmp_addr(d)) for sn in ("L1", "L2")}
    session("L1")
    assert "InformResponse" in logs("L1", 3)[0]
    r = api.s.put(f"{api.base}/api/devices/{dev_id('L1')}/session-log", json={"all": False}, timeout=30)
    assert r.status_code == 200 and r.json()["session_log"] == "default"
    session("L1")
    assert logs("L1", 4)[0] is None
    for body in ({"all": 1}, {}, {"all": True, "x": 1}, []):
        r = api.s.put(f"{api.base}/api/devices/{dev_id('L1')}/session-log", json=body, timeout=30)
        assert r.status_code == 422 and "all" in r.json()["message"], r.text


# ---- notification attributes, with outpost cpe-sim ------------------------------------------------

def test_set_attributes_validated_strictly(outpost, tmp_path):
    d = start_acs(outpost, tmp_path, "--cpe-auth", "none")
    api = Api(d)
    cpe = CPE(cwmp_addr(d))
    cpe.inform("H8", events=[("1 BOOT", "")])
    assert cpe.post().status == 204
    bad = [
        ([{"name": "X.A", "notification": 7}], "notification"),
        ([{"name": "X.A", "notification": "2"}], "notification"),
        ([{"name": "X.A", "notification": True}], "notification"),
        ([{"name": "", "notification": 1}], "name"),
        ([{"name": "X.A"}], "notification and/or access_list"),
        ([{"name": "X.A", "notification": 1}, {"name": "X.A", "notification": 2}], "twice"),
        ([{"name": "X.A", "access_list": ["a,b"]}], "access_list"),
        ([{"name": "X.A", "access_list": "Subscriber"}], "access_list"),
        ([{"name": "X.A", "notification": 1, "extra": 1}], "extra"),
        ([], "attributes"),
    ]
    for attrs, why in bad:
        r = api.post(f"/api/devices/{dev_id('H8')}/tasks", {"type": "set_attributes",
                                                             "parameters": {"attributes": attrs}})
        assert r.status_code == 422 and why in r.json()["message"], (attrs, r.text)


def test_attributes_stored_and_value_change_reported(outpost, tmp_path):
    d = start_acs(outpost, tmp_path, "--cpe-auth", "none", "--cr-deny", "169.254.0.0/16",
                  "--cr-username", "cr", "--cr-password", "crpw")  # cpe-sim on loopback
    api = Api(d)
    host, port = d.addr("listen")
    sim = outpost("cpe-sim", "--acs", f"http://{host}:{port}/", "--count", "1", "--model", "tr181",
                  "--cr-username", "cr", "--cr-password", "crpw",
                  "--serial-prefix", "VC", "--cr-listen", "127.0.0.1:0", "--stats-interval", "0",
                  "--inform-interval", "600", "--value-change-interval", "500ms", "--seed", "3",
                  "--log-level", "debug")
    dev = None
    deadline = time.monotonic() + 30
    while not dev:  # registered, and its bootstrap's two reads done
        devs = api.get("/api/devices").json()
        if devs:
            tasks = api.get(f"/api/devices/{urllib.parse.quote(devs[0]['id'], safe='')}/tasks").json()
            if len(tasks) == 2 and all(t["status"] == "done" for t in tasks):
                dev = urllib.parse.quote(devs[0]["id"], safe="")
        assert time.monotonic() < deadline, "no bootstrap"
        time.sleep(0.1)

    def stored(prefix):
        return {p["name"]: p for p in api.get(f"/api/devices/{dev}/parameters",
                                              params={"prefix": prefix}).json()}
    chan = "Device.WiFi.Radio.1.Channel"
    before = stored("Device.")
    assert before[chan]["writable"] is True and before[chan]["notification"] is None
    assert before["Device.DeviceInfo.UpTime"]["writable"] is False
    # active notification on everything that changes by itself (a partial path each)
    t = api.post(f"/api/devices/{dev}/tasks?wait=20", {"type": "set_attributes", "parameters": {
        "attributes": [{"name": "Device.WiFi.Radio.", "notification": 2},
                       {"name": "Device.Hosts.", "notification": 2, "access_list": ["Subscriber"]}]}}).json()
    assert t["status"] == "done", t
    after = stored("Device.")
    assert after[chan]["notification"] == 2 and after[chan]["access_list"] is None
    hosts = [n for n in after if n.startswith("Device.Hosts.Host.") and n.endswith(".Active")]
    assert hosts and all(after[n]["notification"] == 2 and after[n]["access_list"] == ["Subscriber"]
                         for n in hosts)
    assert after["Device.DeviceInfo.UpTime"]["notification"] is None
    # what the CPE reports with attributes read comes back too
    t = api.post(f"/api/devices/{dev}/tasks?wait=20", {"type": "get_attributes", "parameters": {
        "names": ["Device.DeviceInfo.SoftwareVersion"]}}).json()
    assert t["status"] == "done", t
    sw = stored("Device.DeviceInfo.SoftwareVersion")["Device.DeviceInfo.SoftwareVersion"]
    assert sw["notification"] == t["result"]["attributes"][0]["notification"]
    assert sw["access_list"] == t["result"]["attributes"][0]["access_list"]

    # the CPE changes a value: it informs at once with 4 VALUE CHANGE, the ACS stores it
    d.wait_for(r"cwmp_inform .*device=ACDE48-.*events=.*4 VALUE CHANGE", timeout=30)
    deadline = time.monotonic() + 10
    while True:
        now = stored("Device.")
        changed = [n for n in hosts + [chan] if now[n]["value"] != before[n]["value"]]
        if changed or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert changed, "no stored value changed"
    logged = {}
    for ln in sim.lines:
        m = re.search(r"value_change .*param=(\S+) value=(\S+) notification=2", ln)
        if m:
            logged.setdefault(m.group(1), set()).add(m.group(2))
    for n in changed:
        assert now[n]["value"] in logged.get(n, ()), (n, now[n], logged)
        assert now[n]["set_by"] == "cpe" and now[n]["notification"] == 2
        h = api.get(f"/api/devices/{dev}/parameters/history", params={"name": n}).json()
        assert h[0]["current"] and before[n]["value"] in [x["value"] for x in h[1:]], h
    sim.stop()
