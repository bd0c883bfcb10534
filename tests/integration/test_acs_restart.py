"""outpost acs: killed in the middle of queued work, restarted, nothing lost
and nothing that must not repeat is sent twice."""
import time

from cwmp_cpe import CPE, acs_envelopes_valid  # noqa: F401 (autouse: validates what the ACS sent)
from test_acs_session import Api, cwmp_addr, start_acs
from test_acs_tasks import DEV, gpv_response

NAME = "InternetGatewayDevice.DeviceInfo.UpTime"


def test_restart_mid_queue(outpost, tmp_path):
    d = start_acs(outpost, tmp_path, "--cpe-auth", "none")
    api = Api(d)
    cpe = CPE(cwmp_addr(d))
    cpe.inform("T1")
    cpe.post()
    base = f"/api/devices/{DEV}/tasks"
    a = api.post(base, {"type": "get_params", "parameters": {"names": [NAME]}}).json()["id"]
    b = api.post(base, {"type": "reboot"}).json()["id"]
    c = api.post(base, {"type": "get_params", "parameters": {"names": [NAME]}}).json()["id"]
    e = api.post(base, {"type": "get_names", "parameters": {"path": "X."}}).json()["id"]
    cpe.inform("T1")
    r = cpe.post()
    assert r.rpc == "GetParameterValues" and r.id == str(a)
    r = cpe.answer(r, gpv_response([(NAME, "1", "xsd:unsignedInt")]))
    assert r.rpc == "Reboot" and r.id == str(b)         # sent: persisted as such
    d.kill()                                             # crash before the RebootResponse
    cpe.close()

    d = start_acs(outpost, tmp_path, "--cpe-auth", "none")
    api = Api(d)
    st = {t["id"]: t for t in api.get(f"/api/devices/{DEV}/tasks").json()}
    assert st[a]["status"] == "done"
    assert st[b]["status"] == "sent"                     # never re-sent...
    assert st[c]["status"] == "pending" and st[e]["status"] == "pending"
    cpe = CPE(cwmp_addr(d))
    # ...the CPE rebooted; its "M Reboot" with our CommandKey marks it done.
    r = cpe.inform("T1", events=[("1 BOOT", ""), ("M Reboot", f"task-{b}")])
    assert r.rpc == "InformResponse"
    r = cpe.post()
    assert r.rpc == "GetParameterValues" and r.id == str(c)
    r = cpe.answer(r, gpv_response([(NAME, "2", "xsd:unsignedInt")]))
    assert r.rpc == "GetParameterNames" and r.id == str(e)
    # Crash again while a re-runnable task is out: it comes back once.
    d.kill()
    cpe.close()
    d = start_acs(outpost, tmp_path, "--cpe-auth", "none")
    api = Api(d)
    d.wait_for(r"tasks_recovered count=1")
    cpe = CPE(cwmp_addr(d))
    cpe.inform("T1")
    r = cpe.post()
    assert r.rpc == "GetParameterNames" and r.id == str(e)
    r = cpe.answer(r, '<cwmp:GetParameterNamesResponse><ParameterList soapenc:arrayType='
                      '"cwmp:ParameterInfoStruct[0]"></ParameterList></cwmp:GetParameterNamesResponse>')
    assert r.status == 204
    st = {t["id"]: t for t in api.get(f"/api/devices/{DEV}/tasks").json()}
    assert [st[i]["status"] for i in (a, b, c, e)] == ["done"] * 4
    assert [st[i]["attempts"] for i in (a, b, c, e)] == [1, 1, 1, 2]
    assert api.get("/api/stats").json()["pending_tasks"] == 0


def test_finished_tasks_trimmed_after_retention(outpost, tmp_path):
    """--task-retention: finished tasks go once they are that old (the sweep
    runs a second after start, then every minute); pending ones never."""
    d = start_acs(outpost, tmp_path, "--cpe-auth", "none")
    api = Api(d)
    cpe = CPE(cwmp_addr(d))
    cpe.inform("T1")
    cpe.post()
    cpe.close()
    base = f"/api/devices/{DEV}/tasks"
    old = api.post(base, {"type": "reboot"}).json()["id"]
    keep = api.post(base, {"type": "reboot"}).json()["id"]
    assert api.delete(f"/api/tasks/{old}").json()["status"] == "cancelled"
    d.stop()
    time.sleep(2.2)  # the cancelled task is now more than 2 s old
    d = start_acs(outpost, tmp_path, "--cpe-auth", "none", "--task-retention", "2s")
    d.wait_for(r"tasks_trimmed count=1 ")
    api = Api(d)
    assert api.get(f"/api/tasks/{old}").status_code == 404
    assert api.get(f"/api/tasks/{keep}").json()["status"] == "pending"
