"""outpost acs: every task type end to end through a scripted CPE, faults,
connection requests with Digest, ?wait=, and schema validation of every
envelope the ACS sent."""
import hashlib
import http.server
import os
import re
import subprocess
import threading
import time

import pytest

from conftest import SHARED
from cwmp_cpe import CPE, fault, acs_envelopes_valid  # noqa: F401 (autouse: validates what the ACS sent)
from test_acs_session import Api, cwmp_addr, start_acs

DEV = "00D09E-IGD-T1"


def gpv_response(params):
    items = "".join(f'<ParameterValueStruct><Name>{n}</Name><Value xsi:type="{t}">{v}</Value>'
                    f'</ParameterValueStruct>' for n, v, t in params)
    return (f'<cwmp:GetParameterValuesResponse><ParameterList soapenc:arrayType='
            f'"cwmp:ParameterValueStruct[{len(params)}]">{items}</ParameterList>'
            f'</cwmp:GetParameterValuesResponse>')


# type, parameters, expected RPC, CPE answer, expected status, result check
CASES = [
    ("get_params", {"names": ["InternetGatewayDevice.DeviceInfo.UpTime"]}, "GetParameterValues",
     gpv_response([("InternetGatewayDevice.DeviceInfo.UpTime", "42", "xsd:unsignedInt")]),
     "done", lambda r: r["parameters"][0] == {"name": "InternetGatewayDevice.DeviceInfo.UpTime",
                                             "value": "42", "type": "xsd:unsignedInt"}),
    ("set_params", {"values": {"InternetGatewayDevice.LANDevice.1.WLANConfiguration.1.SSID": "new",
                               "InternetGatewayDevice.ManagementServer.PeriodicInformInterval": 600,
                               "X.Enable": {"value": True, "type": "xsd:boolean"},
                               "X.Bytes": 5000000000, "X.Offset": -5000000000,
                               "X.When": {"value": "2026-01-31T23:59:59Z", "type": "xsd:dateTime"},
                               "X.Blob": {"value": "AAE=", "type": "xsd:base64Binary"}}},
     "SetParameterValues", "<cwmp:SetParameterValuesResponse><Status>0</Status>"
                           "</cwmp:SetParameterValuesResponse>", "done", lambda r: r["status"] == 0),
    ("set_params", {"values": {"X.ReadOnly": "1"}}, "SetParameterValues",
     fault(9003, "Invalid arguments", [("X.ReadOnly", 9008, "not writable")]), "failed",
     lambda r: r["set_parameter_values_faults"][0] == {"name": "X.ReadOnly", "code": 9008,
                                                       "message": "not writable"}),
    ("get_names", {"path": "InternetGatewayDevice.DeviceInfo.", "next_level": True},
     "GetParameterNames",
     '<cwmp:GetParameterNamesResponse><ParameterList soapenc:arrayType="cwmp:ParameterInfoStruct[1]">'
     '<ParameterInfoStruct><Name>InternetGatewayDevice.DeviceInfo.ProvisioningCode</Name>'
     '<Writable>1</Writable></ParameterInfoStruct></ParameterList></cwmp:GetParameterNamesResponse>',
     "done", lambda r: r["parameters"] == [{"name": "InternetGatewayDevice.DeviceInfo.ProvisioningCode",
                                            "writable": True}]),
    ("get_attributes", {"names": ["X.A"]}, "GetParameterAttributes",
     '<cwmp:GetParameterAttributesResponse><ParameterList soapenc:arrayType='
     '"cwmp:ParameterAttributeStruct[1]"><ParameterAttributeStruct><Name>X.A</Name>'
     '<Notification>2</Notification><AccessList soapenc:arrayType="xsd:string[1]"><string>Subscriber'
     '</string></AccessList></ParameterAttributeStruct></ParameterList>'
     '</cwmp:GetParameterAttributesResponse>', "done",
     lambda r: r["attributes"] == [{"name": "X.A", "notification": 2, "access_list": ["Subscriber"]}]),
    ("set_attributes", {"attributes": [{"name": "X.A", "notification": 1}]}, "SetParameterAttributes",
     "<cwmp:SetParameterAttributesResponse/>", "done", lambda r: r == {}),
    ("add_object", {"object": "InternetGatewayDevice.LANDevice.1.WLANConfiguration."}, "AddObject",
     "<cwmp:AddObjectResponse><InstanceNumber>3</InstanceNumber><Status>0</Status>"
     "</cwmp:AddObjectResponse>", "done", lambda r: r == {"instance_number": 3, "status": 0}),
    ("delete_object", {"object": "InternetGatewayDevice.LANDevice.1.WLANConfiguration.3."},
     "DeleteObject", "<cwmp:DeleteObjectResponse><Status>0</Status></cwmp:DeleteObjectResponse>",
     "done", lambda r: r == {"status": 0}),
    ("delete_object", {"object": "InternetGatewayDevice.Nope.1."}, "DeleteObject",
     fault(9005, "Invalid parameter name"), "failed", lambda r: r is None),
    ("upload", {"url": "http://files.invalid/up", "file_type": "1 Vendor Configuration File"},
     "Upload", "<cwmp:UploadResponse><Status>0</Status><StartTime>2026-01-01T00:00:00Z</StartTime>"
               "<CompleteTime>2026-01-01T00:00:01Z</CompleteTime></cwmp:UploadResponse>", "done",
     lambda r: r["status"] == 0),
    ("schedule_inform", {"delay_seconds": 30}, "ScheduleInform", "<cwmp:ScheduleInformResponse/>",
     "done", lambda r: r == {}),
    ("get_rpc_methods", {}, "GetRPCMethods",
     '<cwmp:GetRPCMethodsResponse><MethodList soapenc:arrayType="xsd:string[2]"><string>Reboot'
     '</string><string>Download</string></MethodList></cwmp:GetRPCMethodsResponse>', "done",
     lambda r: r["methods"] == ["Reboot", "Download"]),
    ("factory_reset", None, "FactoryReset", "<cwmp:FactoryResetResponse/>", "done",
     lambda r: r == {}),
    ("reboot", None, "Reboot", "<cwmp:RebootResponse/>", "done", lambda r: r == {}),
]


def test_every_task_type(outpost, tmp_path):
    d = start_acs(outpost, tmp_path, "--cpe-auth", "none")
    api = Api(d)
    cap = tmp_path / "captured"
    cap.mkdir()
    cpe = CPE(cwmp_addr(d), capture_dir=str(cap))
    cpe.inform("T1", events=[("1 BOOT", "")])
    assert cpe.post().status == 204
    ids = []
    for typ, params, *_ in CASES:
        body = {"type": typ} if params is None else {"type": typ, "parameters": params}
        r = api.post(f"/api/devices/{DEV}/tasks", body)
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])
    # A Download the CPE finishes later, with TransferComplete.
    dl = api.post(f"/api/devices/{DEV}/tasks", {"type": "download", "parameters": {
        "url": "http://files.invalid/fw.bin?access_token=dl-token", "file_size": 1000,
        "username": "dl-user", "password": "dl-pass"}}).json()
    # The API never shows a transfer's secrets back; the CPE gets them (below).
    shown = api.get(f"/api/tasks/{dl['id']}").json()["parameters"]
    assert shown["password"] == "***" and shown["username"] == "dl-user"
    assert shown["url"] == "http://files.invalid/fw.bin?access_token=***"
    assert api.get("/api/stats").json()["pending_tasks"] == len(CASES) + 1

    cpe.inform("T1", events=[("6 CONNECTION REQUEST", "")])
    r = cpe.post()
    for (typ, params, rpc, answer, status, check), tid in zip(CASES, ids):
        assert r.rpc == rpc, (typ, r.rpc)
        assert r.id == str(tid)
        if typ == "set_params" and status == "done":
            assert r.find("ParameterKey") == f"task-{tid}"
            vals = dict(zip(r.findall("Name"), r.findall("Value")))
            assert vals["InternetGatewayDevice.ManagementServer.PeriodicInformInterval"] == "600"
            assert vals["X.Enable"] == "true" and vals["X.Bytes"] == "5000000000"
        if typ == "reboot":
            assert r.find("CommandKey") == f"task-{tid}"
        r = cpe.answer(r, answer)
    # The download: DownloadResponse status 1 = "will report with TransferComplete".
    assert r.rpc == "Download" and r.find("URL") == "http://files.invalid/fw.bin?access_token=dl-token"
    assert r.find("Username") == "dl-user" and r.find("Password") == "dl-pass"
    r = cpe.answer(r, "<cwmp:DownloadResponse><Status>1</Status><StartTime>0001-01-01T00:00:00Z"
                      "</StartTime><CompleteTime>0001-01-01T00:00:00Z</CompleteTime>"
                      "</cwmp:DownloadResponse>")
    assert r.status == 204
    for (typ, params, rpc, answer, status, check), tid in zip(CASES, ids):
        t = api.get(f"/api/tasks/{tid}").json()
        assert t["status"] == status, (typ, t)
        assert check(t["result"]), (typ, t["result"])
        if status == "failed":
            assert t["fault"]["code"] in (9003, 9005)
    assert api.get(f"/api/tasks/{dl['id']}").json()["status"] == "sent"
    # Next session: "7 TRANSFER COMPLETE" + TransferComplete with our CommandKey.
    cpe.inform("T1", events=[("7 TRANSFER COMPLETE", ""), ("M Download", f"task-{dl['id']}")])
    r = cpe.post(b'<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" '
                 b'xmlns:cwmp="urn:dslforum-org:cwmp-1-2"><soap:Header><cwmp:ID '
                 b'soap:mustUnderstand="1">tc1</cwmp:ID></soap:Header><soap:Body><cwmp:TransferComplete>'
                 b'<CommandKey>task-' + str(dl["id"]).encode() + b'</CommandKey><FaultStruct>'
                 b'<FaultCode>0</FaultCode><FaultString></FaultString></FaultStruct><StartTime>'
                 b'2026-01-01T00:00:00Z</StartTime><CompleteTime>2026-01-01T00:01:00Z</CompleteTime>'
                 b'</cwmp:TransferComplete></soap:Body></soap:Envelope>')
    assert r.rpc == "TransferCompleteResponse" and r.id == "tc1"
    assert cpe.post().status == 204
    assert api.get(f"/api/tasks/{dl['id']}").json()["status"] == "done"
    tasks = api.get(f"/api/devices/{DEV}/tasks").json()
    assert len(tasks) == len(CASES) + 1
    assert api.get("/api/stats").json()["pending_tasks"] == 0
    # Every envelope the ACS sent validates against the BBF schemas (when the
    # reference kit is beside the checkout; the rest of the test runs anyway).
    files = sorted(str(p) for p in cap.iterdir())
    assert len(files) >= len(CASES) + 4
    validator = SHARED / "cwmp" / "validate-soap"
    if validator.exists():
        p = subprocess.run([str(validator)] + files, capture_output=True, text=True)
        assert p.returncode == 0, p.stdout + p.stderr


def test_wait_for_completion(outpost, tmp_path):
    d = start_acs(outpost, tmp_path, "--cpe-auth", "none")
    api = Api(d)
    cpe = CPE(cwmp_addr(d))
    cpe.inform("T1")
    cpe.post()
    out = {}

    def create():
        out["r"] = api.post(f"/api/devices/{DEV}/tasks?wait=20", {"type": "reboot"})

    th = threading.Thread(target=create)
    th.start()
    d.wait_for(r"api_task_created")
    cpe.inform("T1")
    r = cpe.post()
    assert r.rpc == "Reboot"
    cpe.answer(r, "<cwmp:RebootResponse/>")
    th.join(20)
    assert out["r"].status_code == 201
    assert out["r"].json()["status"] == "done"
    # ?wait= that times out answers with the task as it is.
    r = api.post(f"/api/devices/{DEV}/tasks?wait=1", {"type": "factory_reset"})
    assert r.status_code == 201 and r.json()["status"] == "pending"
    assert api.post(f"/api/devices/{DEV}/tasks?wait=9999", {"type": "reboot"}).status_code == 400
    # Cancelling a task someone waits for answers the waiter at once.
    th = threading.Thread(target=lambda: out.update(c=api.post(
        f"/api/devices/{DEV}/tasks?wait=120", {"type": "schedule_inform",
                                               "parameters": {"delay_seconds": 5}})))
    n = len(d.lines)
    th.start()
    m = d.wait_for(r"api_task_created task=(\d+) .*type=schedule_inform", start=n)
    assert api.delete(f"/api/tasks/{m.group(1)}").json()["status"] == "cancelled"
    th.join(30)                     # far less than the 120 s the waiter asked for
    assert not th.is_alive()
    assert out["c"].status_code == 201 and out["c"].json()["status"] == "cancelled"


def test_wait_on_a_task_that_expires(outpost, tmp_path):
    """A ?wait= caller on a task that expires before the wait is over is
    answered when it expires (the sweep comes early for it), not after the
    wait it asked for; the task was never sent."""
    d = start_acs(outpost, tmp_path, "--cpe-auth", "none", "--task-ttl", "2s")
    api = Api(d)
    cpe = CPE(cwmp_addr(d))
    cpe.inform("T1")
    cpe.post()                        # the device exists; no CR URL: it never comes back
    t0 = time.monotonic()
    r = api.post(f"/api/devices/{DEV}/tasks?wait=60", {"type": "reboot"})
    took = time.monotonic() - t0
    assert r.status_code == 201 and r.json()["status"] == "expired", r.text
    assert 1.5 < took < 10, took
    d.wait_for(r"tasks_expired count=1")


class DigestCPE(http.server.BaseHTTPRequestHandler):
    """A CPE's connection request endpoint: Digest MD5, qop=auth."""
    user, password, realm, nonce = "cr-user", "cr-pass", "cpe", "n0nce"
    hits = []

    def do_GET(self):
        auth = self.headers.get("Authorization")
        if not auth:
            self.send_response(401)
            self.send_header("WWW-Authenticate", f'Digest realm="{self.realm}", nonce="{self.nonce}", '
                                                 f'qop="auth", algorithm=MD5')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        f = dict(re.findall(r'(\w+)="?([^",]*)"?', auth))
        ha1 = hashlib.md5(f"{self.user}:{self.realm}:{self.password}".encode()).hexdigest()
        ha2 = hashlib.md5(f"GET:{f['uri']}".encode()).hexdigest()
        want = hashlib.md5(f"{ha1}:{self.nonce}:{f['nc']}:{f['cnonce']}:auth:{ha2}".encode()).hexdigest()
        ok = f.get("username") == self.user and f.get("response") == want
        DigestCPE.hits.append(ok)
        self.send_response(200 if ok else 401)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *a):
        pass


def test_connection_request_digest(outpost, tmp_path):
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), DigestCPE)
    th = threading.Thread(target=srv.serve_forever, daemon=True)
    th.start()
    try:
        d = start_acs(outpost, tmp_path, "--cpe-auth", "none", "--cr-username", "cr-user",
                      "--cr-password", "cr-pass", "--cr-deny", "169.254.0.0/16")  # CPE on loopback
        api = Api(d)
        cpe = CPE(cwmp_addr(d))
        url = f"http://127.0.0.1:{srv.server_address[1]}/cr"
        cpe.inform("T1", cr_url=url)
        cpe.post()
        r = api.post(f"/api/devices/{DEV}/connection-request")
        assert r.status_code == 200 and r.json()["ok"] is True, r.text
        assert DigestCPE.hits[-1] is True
        # A new task wakes the device by itself.
        n = len(DigestCPE.hits)
        t = api.post(f"/api/devices/{DEV}/tasks", {"type": "reboot"}).json()
        line = "cwmp_connection_request device=00D09E-IGD-T1 status=200 outcome=ok"
        deadline = time.monotonic() + 10
        while d.output().count(line) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert d.output().count(line) == 2
        # ...and its outcome is visible on the task.
        deadline = time.monotonic() + 10
        while not api.get(f"/api/tasks/{t['id']}").json()["connection_request"]:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        cr = api.get(f"/api/tasks/{t['id']}").json()["connection_request"]
        assert cr["status"] == "ok" and cr["reason"] == "CPE answered 200", cr
        assert len(DigestCPE.hits) == n + 1
        # Wrong credentials: reported as a failure, not a hang.
        DigestCPE.password = "other"
        r = api.post(f"/api/devices/{DEV}/connection-request")
        assert r.status_code == 502 and r.json()["error"] == "connection_request_failed"
        # Its own credentials, set through the API, win over the global ones.
        DigestCPE.user, DigestCPE.password = "own-user", "own-pass"
        r = api.s.put(api.base + f"/api/devices/{DEV}/connection-request-credentials",
                      json={"username": "own-user", "password": "own-pass"}, timeout=5)
        assert r.status_code == 200 and r.json()["connection_request_username"] == "own-user"
        assert "own-pass" not in r.text
        r = api.post(f"/api/devices/{DEV}/connection-request")
        assert r.status_code == 200 and r.json()["ok"] is True, r.text
        # A device without a URL.
        cpe.inform("T2")
        cpe.post()
        r = api.post("/api/devices/00D09E-IGD-T2/connection-request")
        assert r.status_code == 409
    finally:
        srv.shutdown()
        DigestCPE.user, DigestCPE.password = "cr-user", "cr-pass"


def test_20000_parameter_answer(outpost, tmp_path):
    d = start_acs(outpost, tmp_path, "--cpe-auth", "none")
    api = Api(d)
    cpe = CPE(cwmp_addr(d))
    cpe.inform("T1")
    cpe.post()
    t = api.post(f"/api/devices/{DEV}/tasks", {"type": "get_params",
                                               "parameters": {"names": ["Device.Hosts."]}}).json()
    cpe.inform("T1")
    r = cpe.post()
    assert r.rpc == "GetParameterValues"
    params = [(f"Device.Hosts.Host.{i}.HostName", f"host-{i}.lan", "xsd:string")
              for i in range(1, 20001)]
    r = cpe.answer(r, gpv_response(params))
    assert r.status == 204
    t = api.get(f"/api/tasks/{t['id']}").json()
    assert t["status"] == "done" and len(t["result"]["parameters"]) == 20000
    got = api.get(f"/api/devices/{DEV}/parameters", params={"prefix": "Device.Hosts.Host.1999"}).json()
    assert [p["value"] for p in got] == ["host-1999.lan"] + [f"host-{i}.lan" for i in range(19990, 20000)]
