"""outpost acs: the fleet-wide lists the dashboard pages through.

* GET /api/tasks: every device's tasks newest first, filtered by status,
  device and bulk; pages walked through the Link header return each task
  once, in order, also while new tasks are made between pages; bad query
  parameters are 400s naming the parameter;
* GET /api/bulk: the bulks newest first with their counts, by state, paged;
* both answer as docs/api/openapi.yaml says (test_lists_against_document).
"""
import time
import urllib.parse

from cwmp_cpe import CPE, fault, acs_envelopes_valid  # noqa: F401 (autouse: validates what the ACS sent)
from test_acs_openapi import Checker, _close_conns, doc  # noqa: F401
from test_acs_session import Api, cwmp_addr, start_acs

NAME = "InternetGatewayDevice.DeviceInfo.ProvisioningCode"


def dev_id(serial):
    return f"00D09E-IGD-{serial}"


def enc(serial):
    return urllib.parse.quote(dev_id(serial), safe="")


def boot(d, serials):
    cpes = {}
    for sn in serials:
        cpes[sn] = CPE(cwmp_addr(d))
        cpes[sn].inform(sn, events=[("1 BOOT", "")])
        assert cpes[sn].post().status == 204
    return cpes


def add_task(api, serial, code="x"):
    r = api.post(f"/api/devices/{enc(serial)}/tasks",
                 {"type": "get_params", "parameters": {"names": [NAME]}})
    assert r.status_code == 201, r.text
    return r.json()["id"]


def walk(api, path, params):
    """Every page from the first, following rel="next": the rows in order."""
    rows, r = [], api.get(path, params=params)
    pages = 0
    while True:
        assert r.status_code == 200, r.text
        rows += r.json()
        pages += 1
        nxt = r.links.get("next")
        if not nxt:
            return rows, pages
        assert nxt["url"].startswith(path.split("?")[0] + "?")
        r = api.get(nxt["url"])


def test_tasks_across_the_fleet(outpost, tmp_path):
    d = start_acs(outpost, tmp_path, "--cpe-auth", "none")
    api = Api(d)
    cpes = boot(d, ["L1", "L2", "L3"])
    assert api.get("/api/tasks").json() == []
    made = [add_task(api, sn) for sn in ("L1", "L2", "L3", "L1", "L2", "L1", "L3")]
    # one fails: the CPE answers its get with a fault
    cpes["L2"].inform("L2", events=[("6 CONNECTION REQUEST", "")])
    r = cpes["L2"].post()
    assert r.rpc == "GetParameterValues"
    first_l2 = made[1]
    assert cpes["L2"].answer(r, fault(9005, "nope")).status in (200, 204)
    # one cancelled
    assert api.delete(f"/api/tasks/{made[0]}").status_code == 200

    everything = api.get("/api/tasks").json()
    assert [t["id"] for t in everything] == sorted(made, reverse=True)
    one = next(t for t in everything if t["id"] == first_l2)
    assert one["status"] == "failed" and one["fault"]["code"] == 9005
    assert one["device_id"] == dev_id("L2") and one["type"] == "get_params"
    assert {t["status"] for t in everything if t["id"] == made[0]} == {"cancelled"}

    # filters: status, device (decoded in the answer, encoded in the query), both
    st = {s: [t["id"] for t in api.get("/api/tasks", params={"status": s}).json()]
          for s in ("pending", "sent", "done", "failed", "expired", "cancelled")}
    assert st["cancelled"] == [made[0]] and first_l2 in st["failed"]
    assert sorted(sum(st.values(), []), reverse=True) == sorted(made, reverse=True)
    l1 = [t["id"] for t in api.get("/api/tasks", params={"device": dev_id("L1")}).json()]
    assert l1 == [made[5], made[3], made[0]]
    pend_l1 = api.get("/api/tasks", params={"device": dev_id("L1"), "status": "pending"}).json()
    assert [t["id"] for t in pend_l1] == [made[5], made[3]]
    assert api.get("/api/tasks", params={"device": "nobody"}).json() == []

    # pages: limit 2 walks 4 pages, each task once, newest first; the links
    # keep the filters
    rows, pages = walk(api, "/api/tasks", {"limit": 2})
    assert [t["id"] for t in rows] == sorted(made, reverse=True) and pages == 4
    rows, pages = walk(api, "/api/tasks", {"limit": 1, "device": dev_id("L1"), "status": "pending"})
    assert [t["id"] for t in rows] == [made[5], made[3]] and pages == 2
    # a last page that is exactly full has no next link
    r = api.get("/api/tasks", params={"limit": 7})
    assert len(r.json()) == 7 and "next" not in r.links

    # a task made while paging is not on the later pages and pushes nothing
    r = api.get("/api/tasks", params={"limit": 3})
    page1 = [t["id"] for t in r.json()]
    newer = add_task(api, "L3")
    rest, _ = walk(api, r.links["next"]["url"], None)
    assert page1 + [t["id"] for t in rest] == sorted(made, reverse=True)
    assert api.get("/api/tasks", params={"limit": 1}).json()[0]["id"] == newer

    # bad query parameters: 400 naming the parameter
    for q, name in (({"status": "bogus"}, "status"), ({"limit": 0}, "limit"),
                    ({"limit": 1001}, "limit"), ({"cursor": "abc"}, "cursor"),
                    ({"cursor": 0}, "cursor"), ({"bulk": "x"}, "bulk"),
                    ({"device": "x" * 300}, "")):
        r = api.get("/api/tasks", params=q)
        assert r.status_code == 400, (q, r.text)
        assert r.json()["error"] == "bad_request" and name in r.json()["message"], (q, r.text)


def test_bulks_listed(outpost, tmp_path):
    d = start_acs(outpost, tmp_path, "--cpe-auth", "none")
    api = Api(d)
    boot(d, ["B1", "B2", "B3"])
    assert api.get("/api/bulk").json() == []
    bulks = []
    for ids in (["B1", "B2"], ["B3"], ["B1", "B2", "B3"]):
        r = api.post("/api/tasks", {"ids": [dev_id(s) for s in ids],
                                    "task": {"type": "get_params", "parameters": {"names": [NAME]}}})
        assert r.status_code == 201, r.text
        bulks.append(r.json())
    assert api.delete(f"/api/bulk/{bulks[1]['id']}").status_code == 200

    # the pump releases held tasks a tick after they were made (counts move
    # from held to pending): wait for it, then the counts stand still
    deadline = time.monotonic() + 10
    listed = api.get("/api/bulk").json()
    while any(x["counts"]["held"] for x in listed) and time.monotonic() < deadline:
        time.sleep(0.05)
        listed = api.get("/api/bulk").json()
    assert [b["id"] for b in listed] == [b["id"] for b in reversed(bulks)]
    for b in listed:
        one = api.get(f"/api/bulk/{b['id']}").json()
        # as GET /api/bulk/{id} shows it (counts may move on between the
        # two reads only if a device was in a session: none is)
        assert "failed_tasks" not in b
        one.pop("failed_tasks")
        assert b == one
    assert listed[1]["state"] == "cancelled" and listed[1]["counts"]["cancelled"] == 1
    assert listed[0]["total"] == 3

    assert [b["id"] for b in api.get("/api/bulk", params={"state": "cancelled"}).json()] == [bulks[1]["id"]]
    assert [b["id"] for b in api.get("/api/bulk", params={"state": "running"}).json()] == \
        [bulks[2]["id"], bulks[0]["id"]]
    assert api.get("/api/bulk", params={"state": "done"}).json() == []
    rows, pages = walk(api, "/api/bulk", {"limit": 1})
    assert [b["id"] for b in rows] == [b["id"] for b in reversed(bulks)] and pages == 3

    # a bulk's tasks in the fleet-wide task list
    tasks = api.get("/api/tasks", params={"bulk": bulks[2]["id"]}).json()
    assert sorted(t["device_id"] for t in tasks) == [dev_id(s) for s in ("B1", "B2", "B3")]

    for q, name in (({"state": "bogus"}, "state"), ({"limit": 0}, "limit"), ({"cursor": "-1"}, "cursor")):
        r = api.get("/api/bulk", params=q)
        assert r.status_code == 400 and name in r.json()["message"], (q, r.text)


def test_lists_against_document(outpost, tmp_path, doc):
    """Both operations answer as docs/api/openapi.yaml says, errors too."""
    d = start_acs(outpost, tmp_path, "--cpe-auth", "none")
    api = Api(d)
    boot(d, ["D1"])
    c = Checker(d, doc)
    for _ in range(3):
        add_task(api, "D1")
    assert api.post("/api/tasks", {"ids": [dev_id("D1")], "task": {"type": "reboot"}}).status_code == 201
    _, body = c.req("GET", "/api/tasks?limit=2", "/api/tasks", want=200)
    assert len(body) == 2
    c.req("GET", "/api/tasks?device=" + enc("D1") + "&status=pending", "/api/tasks", want=200)
    c.req("GET", "/api/tasks?status=nope", "/api/tasks", want=400)
    c.req("GET", "/api/tasks", "/api/tasks", token=None, want=401)
    _, body = c.req("GET", "/api/bulk", "/api/bulk", want=200)
    assert len(body) == 1
    c.req("GET", "/api/bulk?state=running&limit=5", "/api/bulk", want=200)
    c.req("GET", "/api/bulk?limit=x", "/api/bulk", want=400)
    c.req("GET", "/api/bulk", "/api/bulk", token=None, want=401)
