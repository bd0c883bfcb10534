"""outpost acs: the fleet's open faults (GET /api/faults) -- failed tasks and
faulted presets, by code and device, paged -- retried and cleared."""
import urllib.parse

from cwmp_cpe import CPE, fault, pvs, acs_envelopes_valid  # noqa: F401 (autouse: validates what the ACS sent)
from test_acs_openapi import HISTORY_TAGS, Checker, _close_conns, doc, operations  # noqa: F401
from test_acs_session import Api, cwmp_addr, start_acs

NAME = "InternetGatewayDevice.DeviceInfo.ProvisioningCode"


def dev_id(serial):
    return f"00D09E-IGD-{serial}"


def path(serial):
    return urllib.parse.quote(dev_id(serial), safe="")


def failed_get(api, cpe, serial, code):
    """A get_params task the CPE answers with a fault."""
    t = api.post(f"/api/devices/{path(serial)}/tasks", {"type": "get_params", "parameters": {
        "names": [NAME]}}).json()
    cpe.inform(serial, events=[("6 CONNECTION REQUEST", "")])
    r = cpe.post()
    assert r.rpc == "GetParameterValues"
    assert cpe.answer(r, fault(code, "nope")).status == 204
    assert api.get(f"/api/tasks/{t['id']}").json()["status"] == "failed"
    return t["id"]


def test_task_faults_listed_filtered_retried_cleared(outpost, tmp_path):
    d = start_acs(outpost, tmp_path, "--cpe-auth", "none")
    api = Api(d)
    cpes = {sn: CPE(cwmp_addr(d)) for sn in ("F1", "F2")}
    for sn, cpe in cpes.items():
        cpe.inform(sn, events=[("1 BOOT", "")])
        assert cpe.post().status == 204
    assert api.get("/api/faults").json() == []
    t1 = failed_get(api, cpes["F1"], "F1", 9005)
    t2 = failed_get(api, cpes["F2"], "F2", 9002)
    t3 = failed_get(api, cpes["F1"], "F1", 9005)
    r = api.get("/api/faults")
    assert r.status_code == 200 and r.headers["X-Total-Count"] == "3"
    f = r.json()
    assert {x["task"]["id"] for x in f} == {t1, t2, t3}
    one = next(x for x in f if x["task"]["id"] == t2)
    assert one["kind"] == "task" and one["device_id"] == dev_id("F2") and one["code"] == 9002
    assert one["message"] == "nope" and one["task"]["type"] == "get_params" and one["at"].endswith("Z")
    assert one["path"] == f"/api/faults/tasks/{t2}"
    # filters, paging
    assert {x["task"]["id"] for x in api.get("/api/faults", params={"code": 9005}).json()} == {t1, t3}
    assert [x["task"]["id"] for x in api.get("/api/faults", params={"device": dev_id("F2")}).json()] == [t2]
    assert api.get("/api/faults", params={"kind": "preset"}).json() == []
    page1 = api.get("/api/faults", params={"limit": 2})
    page2 = api.get("/api/faults", params={"limit": 2, "offset": 2})
    assert page1.headers["X-Total-Count"] == page2.headers["X-Total-Count"] == "3"
    ids = [x["task"]["id"] for x in page1.json() + page2.json()]
    assert sorted(ids) == sorted([t1, t2, t3])
    for q, field in (({"limit": 0}, "limit"), ({"limit": 1001}, "limit"), ({"code": "x"}, "code"),
                     ({"kind": "other"}, "kind"), ({"offset": -1}, "offset")):
        r = api.get("/api/faults", params=q)
        assert r.status_code == 400 and field in r.json()["message"], (q, r.text)

    # retry: a new task like it, the device woken (its live session takes it here)
    r = api.post(f"/api/faults/tasks/{t1}/retry")
    assert r.status_code == 201, r.text
    nt = r.json()
    assert nt["id"] > t3 and nt["status"] == "pending" and nt["type"] == "get_params"
    assert nt["parameters"] == {"names": [NAME]} and nt["device_id"] == dev_id("F1")
    cpe = cpes["F1"]
    cpe.inform("F1", events=[("6 CONNECTION REQUEST", "")])
    r = cpe.post()
    assert r.rpc == "GetParameterValues"
    body = f"<cwmp:GetParameterValuesResponse>{pvs([(NAME, 'ok', 'xsd:string')])}</cwmp:GetParameterValuesResponse>"
    assert cpe.answer(r, body).status == 204
    assert api.get(f"/api/tasks/{nt['id']}").json()["status"] == "done"
    assert api.post(f"/api/faults/tasks/{t1}/retry").status_code == 409   # not open any more
    assert api.post(f"/api/faults/tasks/{nt['id']}/retry").status_code == 409  # never failed
    # clear
    assert api.delete(f"/api/faults/tasks/{t2}").status_code == 204
    r = api.delete(f"/api/faults/tasks/{t2}")
    assert r.status_code == 409 and "cleared" in r.json()["message"]
    assert api.delete("/api/faults/tasks/99999").status_code == 404
    assert api.delete("/api/faults/tasks/x").status_code == 404
    f = api.get("/api/faults").json()
    assert [x["task"]["id"] for x in f] == [t3]
    # the task itself is still there, failed
    assert api.get(f"/api/tasks/{t2}").json()["status"] == "failed"


def test_preset_faults_retried_and_cleared(outpost, tmp_path):
    d = start_acs(outpost, tmp_path, "--cpe-auth", "none")
    api = Api(d)
    r = api.s.put(api.base + "/api/presets/code", json={
        "events": ["1 BOOT"], "provisions": [{"type": "set", "path": NAME, "value": "x"}]}, timeout=30)
    assert r.status_code in (200, 201), r.text
    cpe = CPE(cwmp_addr(d))

    def boot_and_fault():
        cpe.inform("P1", events=[("1 BOOT", "")])
        r = cpe.post()
        assert r.rpc == "SetParameterValues"
        r = cpe.answer(r, fault(9003, "Invalid arguments", [(NAME, 9007, "no")]))
        assert r.status == 204
    boot_and_fault()
    f = api.get("/api/faults", params={"kind": "preset"}).json()
    assert len(f) == 1
    assert f[0]["kind"] == "preset" and f[0]["device_id"] == dev_id("P1") and f[0]["code"] == 9003
    assert f[0]["preset"]["name"] == "code" and f[0]["path"] == f"/api/faults/presets/{dev_id('P1')}/code"
    assert api.get("/api/faults", params={"code": 9003, "device": dev_id("P1")}).json() == f
    # retry: pending, it runs at the device's next session
    r = api.post(f"/api/faults/presets/{path('P1')}/code/retry")
    assert r.status_code == 200 and r.json()["status"] == "pending", r.text
    assert api.get("/api/faults").json() == []
    runs = api.get(f"/api/devices/{path('P1')}/presets").json()
    assert [(x["preset"], x["status"]) for x in runs] == [("code", "pending")]
    assert api.post(f"/api/faults/presets/{path('P1')}/code/retry").status_code == 409
    assert api.delete(f"/api/faults/presets/{path('P1')}/code").status_code == 409
    boot_and_fault()
    assert len(api.get("/api/faults").json()) == 1
    # clear: the record goes
    assert api.delete(f"/api/faults/presets/{path('P1')}/code").status_code == 204
    assert api.get(f"/api/devices/{path('P1')}/presets").json() == []
    assert api.get("/api/faults").json() == []
    assert api.delete(f"/api/faults/presets/{path('P1')}/code").status_code == 404
    assert api.post(f"/api/faults/presets/{path('NOPE')}/code/retry").status_code == 404


def test_history_routes_against_document(outpost, tmp_path, doc):
    """Every history operation answers as docs/api/openapi.yaml says, errors too."""
    d = start_acs(outpost, tmp_path, "--cpe-auth", "none", "--session-log", "all")
    api = Api(d)
    c = Checker(d, doc)
    api.s.put(api.base + "/api/presets/code", json={
        "events": ["1 BOOT"], "provisions": [{"type": "set", "path": NAME, "value": "x"}]}, timeout=30)
    cpe = CPE(cwmp_addr(d))
    cpe.inform("D1", events=[("1 BOOT", "")], params=[(NAME, "a", "xsd:string")])
    r = cpe.post()
    assert r.rpc == "SetParameterValues"
    assert cpe.answer(r, fault(9003, "Invalid arguments", [(NAME, 9007, "no")])).status == 204
    t = failed_get(api, cpe, "D1", 9005)
    t2 = failed_get(api, cpe, "D1", 9002)
    dev, nope = "/api/devices/" + path("D1"), "/api/devices/" + path("NOPE")

    hist = "/api/devices/{id}/parameters/history"
    _, h = c.req("GET", f"{dev}/parameters/history?name={NAME}", hist, want=200)
    assert h[0]["value"] == "a"
    c.req("GET", f"{dev}/parameters/history", hist, want=400)
    c.req("GET", f"{dev}/parameters/history?name=X.Nothing", hist, want=404)
    c.req("GET", f"{nope}/parameters/history?name={NAME}", hist, want=404)

    sess = "/api/devices/{id}/sessions"
    _, s = c.req("GET", f"{dev}/sessions", sess, want=200)
    assert s and s[0]["log"]
    c.req("GET", f"{dev}/sessions?limit=0", sess, want=400)
    c.req("GET", f"{nope}/sessions", sess, want=404)
    sl = "/api/devices/{id}/session-log"
    _, r = c.req("PUT", f"{dev}/session-log", sl, body={"all": True}, want=200)
    assert r == {"device_id": dev_id("D1"), "session_log": "all"}
    c.req("PUT", f"{dev}/session-log", sl, body={"all": "yes"}, want=422)
    c.req("PUT", f"{dev}/session-log", sl, body=b"{", want=400)
    c.req("PUT", f"{nope}/session-log", sl, body={"all": False}, want=404)

    _, f = c.req("GET", "/api/faults", "/api/faults", want=200)
    assert {x["kind"] for x in f} == {"task", "preset"}
    c.req("GET", "/api/faults?kind=x", "/api/faults", want=400)

    tf, tr = "/api/faults/tasks/{id}", "/api/faults/tasks/{id}/retry"
    _, nt = c.req("POST", f"/api/faults/tasks/{t}/retry", tr, want=201)
    c.req("POST", f"/api/faults/tasks/{t}/retry", tr, want=409)
    c.req("POST", "/api/faults/tasks/99999/retry", tr, want=404)
    c.req("DELETE", f"/api/faults/tasks/{t}", tf, want=409)
    c.req("DELETE", f"/api/faults/tasks/{t2}", tf, want=204)
    c.req("DELETE", "/api/faults/tasks/99999", tf, want=404)

    pf, pr = "/api/faults/presets/{id}/{name}", "/api/faults/presets/{id}/{name}/retry"
    base = f"/api/faults/presets/{path('D1')}/code"
    c.req("POST", base + "/retry", pr, want=200)
    c.req("POST", base + "/retry", pr, want=409)
    c.req("DELETE", base, pf, want=409)
    c.req("POST", f"/api/faults/presets/{path('NOPE')}/code/retry", pr, want=404)
    c.req("DELETE", f"/api/faults/presets/{path('D1')}/other", pf, want=404)
    # the pending preset runs (and faults) at the next session: then cleared
    cpe.inform("D1", events=[("2 PERIODIC", "")])
    r = cpe.post()
    while r.rpc and r.rpc != "SetParameterValues":  # the retried task's read first
        body = f"<cwmp:GetParameterValuesResponse>{pvs([(NAME, 'a', 'xsd:string')])}</cwmp:GetParameterValuesResponse>"
        r = cpe.answer(r, body)
    assert r.rpc == "SetParameterValues"
    assert cpe.answer(r, fault(9003, "Invalid arguments", [(NAME, 9007, "no")])).status == 204
    c.req("DELETE", base, pf, want=204)

    ops = {op["operationId"] for _, _, _, op in operations(doc) if set(op.get("tags", [])) & HISTORY_TAGS}
    assert ops == {o for o, st in c.seen if st < 300}, "operations never exercised"


def test_preset_fault_path_usable_for_an_escaped_id(outpost, tmp_path):
    """A device id with an escape (a '-' in the product class is %2D) gets
    a fault `path` that names it: the path works as it is given."""
    d = start_acs(outpost, tmp_path, "--cpe-auth", "none")
    api = Api(d)
    r = api.s.put(api.base + "/api/presets/code", json={
        "events": ["1 BOOT"], "provisions": [{"type": "set", "path": NAME, "value": "x"}]}, timeout=30)
    assert r.status_code in (200, 201), r.text
    cpe = CPE(cwmp_addr(d))
    cpe.inform("P2", events=[("1 BOOT", "")], pclass="IG-D")
    r = cpe.post()
    assert r.rpc == "SetParameterValues"
    assert cpe.answer(r, fault(9003, "Invalid arguments", [(NAME, 9007, "no")])).status == 204
    f = api.get("/api/faults", params={"kind": "preset"}).json()
    assert len(f) == 1 and f[0]["device_id"] == "00D09E-IG%2DD-P2", f
    assert f[0]["path"] == "/api/faults/presets/00D09E-IG%252DD-P2/code"
    r = api.post(f[0]["path"] + "/retry")
    assert r.status_code == 200 and r.json()["status"] == "pending", r.text
