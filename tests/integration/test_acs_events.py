"""outpost acs: the CPE's own requests inside a session (GetRPCMethods,
TransferComplete, AutonomousTransferComplete, RequestDownload) in every
namespace, the events stored with the session row, and what BOOTSTRAP and
VALUE CHANGE do to the stored parameters."""
import time

import pytest

from conftest import acs_db
from cwmp_cpe import CPE, envelope, acs_envelopes_valid  # noqa: F401 (autouse: validates what the ACS sent)
from test_acs_session import Api, cwmp_addr, start_acs

NAME = "InternetGatewayDevice.DeviceInfo.ProvisioningCode"


def session_rows(tmp_path, device, n):
    """The device's session rows, oldest first, once n of them are written
    (the row is committed by the store thread after the final 204)."""
    deadline = time.monotonic() + 10
    while True:
        rows = acs_db(tmp_path / "data").query("SELECT events, rpcs, outcome FROM sessions"
                                               " WHERE device_id = ? ORDER BY id", (device,))
        if len(rows) >= n or time.monotonic() > deadline:
            return rows
        time.sleep(0.05)


ATC = ("<cwmp:AutonomousTransferComplete><AnnounceURL></AnnounceURL><TransferURL>"
       "http://files.invalid/fw.bin</TransferURL><IsDownload>1</IsDownload><FileType>"
       "1 Firmware Upgrade Image</FileType><FileSize>1000</FileSize><TargetFileName>"
       "</TargetFileName><FaultStruct><FaultCode>0</FaultCode><FaultString></FaultString>"
       "</FaultStruct><StartTime>2026-01-01T00:00:00Z</StartTime><CompleteTime>"
       "2026-01-01T00:01:00Z</CompleteTime></cwmp:AutonomousTransferComplete>")
TC = ("<cwmp:TransferComplete><CommandKey>someone-else</CommandKey><FaultStruct><FaultCode>0"
      "</FaultCode><FaultString></FaultString></FaultStruct><StartTime>2026-01-01T00:00:00Z"
      "</StartTime><CompleteTime>2026-01-01T00:01:00Z</CompleteTime></cwmp:TransferComplete>")
RD = ('<cwmp:RequestDownload><FileType>2 Web Content</FileType><FileTypeArg '
      'soapenc:arrayType="cwmp:ArgStruct[0]"></FileTypeArg></cwmp:RequestDownload>')


@pytest.mark.parametrize("ns", ["0", "1", "2"])
def test_cpe_requests_and_stored_events(outpost, tmp_path, ns):
    d = start_acs(outpost, tmp_path, "--cpe-auth", "none")
    cpe = CPE(cwmp_addr(d), ns=ns)
    events = [("1 BOOT", ""), ("7 TRANSFER COMPLETE", ""), ("M Download", "someone-else"),
              ("X 00D09E Frobbed", "")]
    r = cpe.inform("EV1", events=events)
    assert r.rpc == "InformResponse" and r.ns == f"urn:dslforum-org:cwmp-1-{ns}"
    r = cpe.post(envelope("<cwmp:GetRPCMethods/>", ns, msg_id="g1"))
    assert r.rpc == "GetRPCMethodsResponse" and r.id == "g1"
    assert set(r.findall("string")) == {"Inform", "GetRPCMethods", "TransferComplete",
                                        "AutonomousTransferComplete", "RequestDownload"}
    r = cpe.post(envelope(TC, ns, msg_id="t1"))
    assert r.rpc == "TransferCompleteResponse" and r.id == "t1"
    r = cpe.post(envelope(RD, ns, msg_id="r1"))
    assert r.rpc == "RequestDownloadResponse" and r.id == "r1"
    if ns != "0":  # AutonomousTransferComplete came with CWMP 1.1
        r = cpe.post(envelope(ATC, ns, msg_id="a1"))
        assert r.rpc == "AutonomousTransferCompleteResponse" and r.id == "a1"
    assert cpe.post().status == 204
    # Every event, vendor ones included, is kept with the session row.
    rows = session_rows(tmp_path, "00D09E-IGD-EV1", 1)
    assert rows == [("1 BOOT,7 TRANSFER COMPLETE,M Download,X 00D09E Frobbed", 0, "ok")]
    dev = Api(d).get("/api/devices/00D09E-IGD-EV1").json()
    assert dev["last_events"] == "1 BOOT,7 TRANSFER COMPLETE,M Download,X 00D09E Frobbed"


def test_value_change_and_bootstrap(outpost, tmp_path):
    d = start_acs(outpost, tmp_path, "--cpe-auth", "none")
    api = Api(d)
    dev = "00D09E-IGD-EV2"
    cpe = CPE(cwmp_addr(d))
    cpe.inform("EV2", events=[("1 BOOT", "")], params=[(NAME, "first", "xsd:string"),
                                                        ("InternetGatewayDevice.X_Old", "1", "xsd:string")])
    assert cpe.post().status == 204

    def stored():
        return {p["name"]: p["value"] for p in api.get(f"/api/devices/{dev}/parameters").json()}
    assert stored()[NAME] == "first" and stored()["InternetGatewayDevice.X_Old"] == "1"
    # 4 VALUE CHANGE: the reported value replaces the stored one, the rest stays.
    cpe.inform("EV2", events=[("4 VALUE CHANGE", "")], params=[(NAME, "second", "xsd:string")])
    assert cpe.post().status == 204
    assert stored()[NAME] == "second" and stored()["InternetGatewayDevice.X_Old"] == "1"
    # 0 BOOTSTRAP: what was stored is forgotten, the data model is read again.
    cpe.inform("EV2", events=[("0 BOOTSTRAP", "")], params=[(NAME, "third", "xsd:string")])
    assert "InternetGatewayDevice.X_Old" not in stored() and stored()[NAME] == "third"
    r = cpe.post()
    assert r.rpc == "GetParameterNames" and r.find("ParameterPath") == "InternetGatewayDevice."
    tasks = api.get(f"/api/devices/{dev}/tasks").json()
    # newest first: the values are read after the names and their writable flags
    assert [(t["type"], t["status"]) for t in tasks] == [("get_params", "pending"), ("get_names", "sent")]
    assert tasks[0]["parameters"] == {"names": ["InternetGatewayDevice."], "keep_result": False}
    assert tasks[1]["parameters"] == {"path": "InternetGatewayDevice.", "next_level": False,
                                      "keep_result": False}


def test_long_multibyte_text_from_a_cpe(outpost, tmp_path):
    """Values longer than their stored field, cut inside a UTF-8 character,
    used to make the device (and a faulted task) unreadable through the API."""
    d = start_acs(outpost, tmp_path, "--cpe-auth", "none")
    api = Api(d)
    cpe = CPE(cwmp_addr(d))
    events = [("1 BOOT", "")] + [(f"X 00D09E Événement{i}", "") for i in range(20)]
    cpe.inform("EV3", events=events, cr_url="http://127.0.0.1/" + "x" * 300,
               params=[("InternetGatewayDevice.DeviceInfo.SoftwareVersion", "é" * 40, "xsd:string")])
    d.wait_for(r"cwmp_inform_bad_cr_url")
    t = api.post("/api/devices/00D09E-IGD-EV3/tasks", {"type": "reboot"}).json()
    r = cpe.post()
    assert r.rpc == "Reboot"
    assert cpe.answer(r, f'<soap:Fault><faultcode>Client</faultcode><faultstring>CWMP fault'
                         f'</faultstring><detail><cwmp:Fault><FaultCode>9002</FaultCode><FaultString>'
                         f'{"€" * 120}</FaultString></cwmp:Fault></detail></soap:Fault>').status == 204
    r = api.get("/api/devices/00D09E-IGD-EV3")
    assert r.status_code == 200, r.text
    dev = r.json()
    assert "é" * 33 == dev["software_version"]          # cut between characters
    assert dev["connection_request_url"] == ""           # a cut URL is not stored
    assert dev["last_events"].startswith("1 BOOT,X 00D09E Événement0,")
    assert dev["last_events"].endswith(tuple(f"Événement{i}" for i in range(20)))
    assert [x["id"] for x in api.get("/api/devices").json()] == ["00D09E-IGD-EV3"]
    r = api.get(f"/api/tasks/{t['id']}")
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "failed" and r.json()["fault"]["message"].startswith("€" * 80)
