"""outpost acs: session timeout with an RPC unanswered, HoldRequests, and a
failed download reported by TransferComplete."""
import time

from cwmp_cpe import CPE, envelope, inform, acs_envelopes_valid  # noqa: F401 (autouse: validates what the ACS sent)
from test_acs_session import Api, cwmp_addr, start_acs
from test_acs_tasks import DEV, gpv_response

NAME = "InternetGatewayDevice.DeviceInfo.UpTime"


def test_timeout_requeues_an_unanswered_read(outpost, tmp_path):
    d = start_acs(outpost, tmp_path, "--cpe-auth", "none", "--session-timeout", "1s")
    api = Api(d)
    cpe = CPE(cwmp_addr(d))
    cpe.inform("T1")
    cpe.post()
    t = api.post(f"/api/devices/{DEV}/tasks", {"type": "get_params",
                                               "parameters": {"names": [NAME]}}).json()
    r_ = api.post(f"/api/devices/{DEV}/reboot").json()
    cpe.inform("T1")
    r = cpe.post()
    assert r.rpc == "GetParameterValues"
    d.wait_for(r"cwmp_session_timeout")                # the CPE went quiet
    d.wait_for(r"cwmp_task_unanswered task=%d .*requeued=true" % t["id"])
    cpe.close()
    cpe = CPE(cwmp_addr(d))
    cpe.inform("T1")
    r = cpe.post()
    assert r.rpc == "GetParameterValues" and r.id == str(t["id"])   # sent again
    r = cpe.answer(r, gpv_response([(NAME, "9", "xsd:unsignedInt")]))
    assert r.rpc == "Reboot" and r.id == str(r_["id"])
    d.wait_for(r"cwmp_session_timeout", start=len(d.lines))
    # A reboot that timed out unanswered is NOT sent again: it stays `sent`.
    d.wait_for(r"cwmp_task_unanswered task=%d .*requeued=false" % r_["id"])
    cpe.close()
    cpe = CPE(cwmp_addr(d))
    cpe.inform("T1")
    assert cpe.post().status == 204
    got = api.get(f"/api/tasks/{t['id']}").json()
    assert got["status"] == "done" and got["attempts"] == 2
    assert api.get(f"/api/tasks/{r_['id']}").json()["status"] == "sent"


def test_timeout_counts_from_the_last_request(outpost, tmp_path):
    """--session-timeout is idleness: every request starts it again, however
    long the session has been open; once the CPE goes quiet, the session
    ends one timeout after its last request, not before."""
    d = start_acs(outpost, tmp_path, "--cpe-auth", "none", "--session-timeout", "1s")
    api = Api(d)
    cpe = CPE(cwmp_addr(d))
    cpe.inform("T1")
    cpe.post()
    t = api.post(f"/api/devices/{DEV}/tasks", {"type": "get_params",
                                               "parameters": {"names": [NAME]}}).json()
    r_ = api.post(f"/api/devices/{DEV}/reboot").json()
    cpe.inform("T1")                                    # t = 0
    time.sleep(0.7)
    r = cpe.post()                                      # t = 0.7
    assert r.rpc == "GetParameterValues" and r.id == str(t["id"])
    time.sleep(0.7)
    r = cpe.answer(r, gpv_response([(NAME, "9", "xsd:unsignedInt")]))   # t = 1.4: open 1.4 s
    assert r.rpc == "Reboot" and r.id == str(r_["id"])
    last = time.monotonic()
    assert not any("cwmp_session_timeout" in line for line in d.lines)
    d.wait_for(r"cwmp_session_timeout", timeout=5)
    assert time.monotonic() - last >= 0.9               # a whole timeout after the last request
    assert api.get(f"/api/tasks/{t['id']}").json()["status"] == "done"
    cpe.close()


def test_hold_requests(outpost, tmp_path):
    d = start_acs(outpost, tmp_path, "--cpe-auth", "none")
    api = Api(d)
    cpe = CPE(cwmp_addr(d))
    cpe.inform("T1")
    cpe.post()
    api.post(f"/api/devices/{DEV}/reboot")
    body = envelope(inform("T1"), msg_id="h1").replace(
        b"</cwmp:ID></soap:Header>",
        b'</cwmp:ID><cwmp:HoldRequests soap:mustUnderstand="1">1</cwmp:HoldRequests></soap:Header>')
    assert cpe.post(body).rpc == "InformResponse"
    assert cpe.post().status == 204                     # held: nothing sent
    assert api.get("/api/stats").json()["pending_tasks"] == 1
    cpe.inform("T1")
    assert cpe.post().rpc == "Reboot"


def test_failed_download(outpost, tmp_path):
    d = start_acs(outpost, tmp_path, "--cpe-auth", "none")
    api = Api(d)
    cpe = CPE(cwmp_addr(d))
    cpe.inform("T1")
    cpe.post()
    t = api.post(f"/api/devices/{DEV}/tasks", {"type": "download", "parameters": {
        "url": "http://files.invalid/fw.bin"}}).json()
    cpe.inform("T1")
    r = cpe.post()
    assert r.rpc == "Download" and r.find("CommandKey") == f"task-{t['id']}"
    r = cpe.answer(r, "<cwmp:DownloadResponse><Status>1</Status><StartTime>0001-01-01T00:00:00Z"
                      "</StartTime><CompleteTime>0001-01-01T00:00:00Z</CompleteTime>"
                      "</cwmp:DownloadResponse>")
    assert r.status == 204
    cpe.inform("T1", events=[("7 TRANSFER COMPLETE", ""), ("M Download", f"task-{t['id']}")])
    r = cpe.post(envelope(
        f"<cwmp:TransferComplete><CommandKey>task-{t['id']}</CommandKey><FaultStruct><FaultCode>"
        f"9016</FaultCode><FaultString>unable to access file</FaultString></FaultStruct>"
        f"<StartTime>2026-01-01T00:00:00Z</StartTime><CompleteTime>2026-01-01T00:00:05Z"
        f"</CompleteTime></cwmp:TransferComplete>", msg_id="tc"))
    assert r.rpc == "TransferCompleteResponse" and r.id == "tc"
    assert cpe.post().status == 204
    got = api.get(f"/api/tasks/{t['id']}").json()
    assert got["status"] == "failed"
    assert got["fault"] == {"code": 9016, "message": "unable to access file"}


def test_task_past_its_ttl_is_never_sent(outpost, tmp_path):
    d = start_acs(outpost, tmp_path, "--cpe-auth", "none", "--task-ttl", "3s")
    api = Api(d)
    cpe = CPE(cwmp_addr(d))
    cpe.inform("T1")
    cpe.post()
    t = api.post(f"/api/devices/{DEV}/reboot").json()
    assert t["status"] == "pending" and t["expires_at"]
    # Wall-clock expiry (seconds) is the event here. The housekeeping sweep
    # ran 1 s after start (before the task expired) and runs again only a
    # minute later, so it has not marked the task yet.
    time.sleep(3.2)
    cpe.inform("T1")
    assert cpe.post().status == 204                   # not sent late
    got = api.get(f"/api/tasks/{t['id']}").json()
    assert got["status"] == "expired" and got["attempts"] == 0
    assert api.get("/api/stats").json()["pending_tasks"] == 0
