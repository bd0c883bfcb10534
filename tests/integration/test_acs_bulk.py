"""outpost acs: bulk tasks (POST /api/tasks, GET/DELETE /api/bulk/{id}) with cpe-sim.

* a bulk over a filter makes one task per device; its progress counts add
  up; the in-flight cap holds at every look; it ends `done`;
* DELETE cancels what was not sent; the rest finishes; a second DELETE is
  a 409;
* the failure ratio stops a bulk (canary): the held tasks are cancelled,
  the failed ones listed with their faults;
* the connection request rate: a bulk over 15 devices at 5/s takes its time;
* bad bodies are 4xx JSON naming the field; a bulk over no device is a 422.
"""
import time

import pytest
import requests

TOKEN = "bulk-test-token"


class Api:
    def __init__(self, d):
        self.base = d.url("api")
        self.s = requests.Session()
        self.s.headers["Authorization"] = "Bearer " + TOKEN

    def get(self, path):
        r = self.s.get(self.base + path, timeout=30)
        assert r.status_code == 200, r.text
        return r.json()

    def post(self, path, body):
        return self.s.post(self.base + path, json=body, timeout=30)

    def until(self, path, pred, timeout=30, seen=None):
        deadline = time.monotonic() + timeout
        while True:
            v = self.get(path)
            if seen is not None:
                seen.append(v)
            if pred(v):
                return v
            assert time.monotonic() < deadline, "timed out on %s: %s" % (path, v)
            time.sleep(0.05)  # polling the REST API: there is no event to wait on


def start(outpost, tmp_path, count, *acs_extra, slow="0"):
    acs = outpost("acs", "--cwmp-listen", "127.0.0.1:0", "--api-listen", "127.0.0.1:0",
                  "--data-dir", str(tmp_path / "acs"), "--api-token", TOKEN, "--cpe-auth", "none",
                  "--cr-deny", "169.254.0.0/16", "--cr-username", "cr", "--cr-password", "cr-pw",
                  *acs_extra)  # cpe-sim's requests are on loopback
    host, port = acs.addr("listen")
    sim = outpost("cpe-sim", "--acs", "http://%s:%d/" % (host, port), "--count", str(count),
                  "--cr-listen", "127.0.0.1:0", "--stats-interval", "0", "--slow-ms", slow,
                  "--cr-username", "cr", "--cr-password", "cr-pw")
    api = Api(acs)
    # every CPE has informed and finished its bootstrap session (no task of its own left)
    api.until("/api/devices?limit=1000", lambda v: len(v) == count)
    api.until("/api/stats", lambda v: v["pending_tasks"] == 0 and v["sent_tasks"] == 0
              and v["live_sessions"] == 0)
    return acs, sim, api


def counts_add_up(b):
    c = b["counts"]
    return c["pending"] + c["sent"] + c["done"] + c["failed"] + c["expired"] + c["cancelled"] == b["total"]


def test_bulk_progress_and_cap(outpost, tmp_path):
    acs, sim, api = start(outpost, tmp_path, 12, slow="100ms")
    r = api.post("/api/tasks", {"filter": "serial^=SIM AND online",
                                "task": {"type": "set_params",
                                         "parameters": {"values": {"Device.WiFi.SSID.1.SSID": "wave"}}},
                                "max_in_flight": 3})
    assert r.status_code == 201, r.text
    b = r.json()
    assert b["total"] == 12 and b["state"] == "running" and b["type"] == "set_params"
    assert b["max_in_flight"] == 3 and b["filter"] == "serial^=SIM AND online"
    seen = []
    b = api.until("/api/bulk/%d" % b["id"], lambda v: v["state"] != "running", timeout=60, seen=seen)
    assert b["state"] == "done", b
    assert b["counts"]["done"] == 12 and b["failed_tasks"] == []
    # device by device
    done = api.get("/api/bulk/%d?status=done&limit=1000" % b["id"])["tasks"]
    assert sorted(t["device"] for t in done) == ["ACDE48-OP%%2D1000-SIM%06d" % i for i in range(1, 13)]
    assert api.get("/api/bulk/%d?status=pending" % b["id"])["tasks"] == []
    for v in seen:
        assert counts_add_up(v), v
        assert v["counts"]["in_flight"] <= 3, v          # the cap held at every look
    # it was a rollout, not all at once: some looks saw tasks held back while others ran
    assert any(v["counts"]["held"] > 0 and v["counts"]["in_flight"] > 0 for v in seen)
    # the devices took the value (read back from one)
    r = api.post("/api/devices/ACDE48-OP%252D1000-SIM000007/tasks?wait=15",
                 {"type": "get_params", "parameters": {"names": ["Device.WiFi.SSID.1.SSID"]}})
    assert r.status_code == 201 and r.json()["status"] == "done", r.text
    assert [x["value"] for x in r.json()["result"]["parameters"]] == ["wave"]
    acs.wait_for(r"bulk_finished bulk=%d state=done" % b["id"])


def test_bulk_cancel(outpost, tmp_path):
    acs, sim, api = start(outpost, tmp_path, 8, slow="200ms")
    ids = ["ACDE48-OP%%2D1000-SIM%06d" % i for i in range(1, 9)]
    r = api.post("/api/tasks", {"ids": ids + ["nope"], "max_in_flight": 1,
                                "task": {"type": "get_params",
                                         "parameters": {"names": ["Device.DeviceInfo.UpTime"]}}})
    assert r.status_code == 201, r.text
    b = r.json()
    assert b["total"] == 8 and b["unknown_ids"] == 1 and b["filter"] is None
    path = "/api/bulk/%d" % b["id"]
    api.until(path, lambda v: v["counts"]["done"] + v["counts"]["sent"] >= 1)
    r = api.s.delete(api.base + path, timeout=30)
    assert r.status_code == 200, r.text
    c = r.json()
    assert c["state"] == "cancelled" and c["cancelled_now"] >= 5
    assert c["counts"]["pending"] == 0 and c["counts"]["held"] == 0
    # what was sent finishes; nothing else ever runs
    b = api.until(path, lambda v: v["counts"]["sent"] == 0)
    assert b["counts"]["done"] + b["counts"]["cancelled"] == 8 and counts_add_up(b)
    assert b["counts"]["done"] <= 3
    time.sleep(0.5)
    assert api.get(path)["counts"] == b["counts"]
    r = api.s.delete(api.base + path, timeout=30)
    assert r.status_code == 409 and r.json()["field"] == "id"


def test_bulk_failure_ratio_stops_it(outpost, tmp_path):
    acs, sim, api = start(outpost, tmp_path, 12, slow="50ms")
    r = api.post("/api/tasks", {"filter": "model=OP-1000", "max_in_flight": 2,
                                "max_failure_ratio": 0.5, "min_finished": 3,
                                "task": {"type": "set_params",   # not writable: every CPE refuses
                                         "parameters": {"values": {"Device.DeviceInfo.Manufacturer": "x"}}}})
    assert r.status_code == 201, r.text
    b = api.until("/api/bulk/%d" % r.json()["id"], lambda v: v["state"] != "running"
                  and v["counts"]["sent"] == 0 and v["counts"]["pending"] == 0, timeout=60)
    assert b["state"] == "stopped", b
    assert "max_failure_ratio" in b["reason"]
    c = b["counts"]
    assert 3 <= c["failed"] <= 3 + 2 and c["done"] == 0      # stopped at the first look past it
    assert c["cancelled"] == 12 - c["failed"] and counts_add_up(b)
    assert len(b["failed_tasks"]) == c["failed"]
    assert {t["fault_code"] for t in b["failed_tasks"]} == {9003}
    assert all(t["device"].startswith("ACDE48-OP%2D1000-SIM") for t in b["failed_tasks"])
    acs.wait_for(r"bulk_stopped bulk=%d" % b["id"])


def test_bulk_connection_request_rate(outpost, tmp_path):
    acs, sim, api = start(outpost, tmp_path, 15, "--bulk-cr-rate", "5")
    t0 = time.monotonic()
    r = api.post("/api/tasks", {"filter": "online", "task": {"type": "reboot"}})
    assert r.status_code == 201 and r.json()["total"] == 15
    seen = []
    path = "/api/bulk/%d" % r.json()["id"]
    api.until(path, lambda v: v["counts"]["held"] == 0, seen=seen, timeout=30)
    took = time.monotonic() - t0
    assert took >= 2.0, took                      # 15 at 5 a second, one second's burst at most
    early = [v for v in seen][:3]
    assert all(15 - v["counts"]["held"] <= 7 for v in early), early


def test_bulk_bad_input(outpost, tmp_path):
    acs, sim, api = start(outpost, tmp_path, 2)
    task = {"type": "reboot"}
    cases = [
        ({"filter": "model=nothing", "task": task}, 422, "no_devices", "filter"),
        ({"ids": ["x-y-z"], "task": task}, 422, "no_devices", "ids"),
        ({"filter": "online", "ids": ["a"], "task": task}, 422, "invalid_bulk", "filter"),
        ({"task": task}, 422, "invalid_bulk", "filter"),
        ({"filter": "online"}, 422, "invalid_task", "task"),
        ({"filter": "online", "task": {"type": "explode"}}, 422, "invalid_task", "task"),
        ({"filter": "model=", "task": task}, 400, "bad_filter", "filter"),
        ({"filter": 5, "task": task}, 422, "invalid_bulk", "filter"),
        ({"ids": [], "task": task}, 422, "invalid_bulk", "ids"),
        ({"ids": ["a", 3], "task": task}, 422, "invalid_bulk", "ids"),
        ({"filter": "online", "task": task, "max_in_flight": -1}, 422, "invalid_bulk", "max_in_flight"),
        ({"filter": "online", "task": task, "max_failure_ratio": 2}, 422, "invalid_bulk", "max_failure_ratio"),
        ({"filter": "online", "task": task, "min_finished": "3"}, 422, "invalid_bulk", "min_finished"),
        ({"filter": "online", "task": task, "colour": 1}, 422, "invalid_bulk", "colour"),
    ]
    for body, status, err, field in cases:
        r = api.post("/api/tasks", body)
        assert r.status_code == status, (body, r.text)
        assert r.json()["error"] == err and r.json()["field"] == field, (body, r.json())
    r = api.s.post(api.base + "/api/tasks", data=b"{", timeout=30)
    assert r.status_code == 400 and r.json()["error"] == "bad_json"
    r = api.post("/api/tasks", {"filter": "model=", "task": task})
    assert r.json()["position"] == 6
    for q, field in (("?status=lost", "status"), ("?status=done&limit=0", "limit")):
        r = api.s.get(api.base + "/api/bulk/1" + q, timeout=30)
        assert r.status_code == 400 and r.json()["field"] == field
    for path in ("/api/bulk/999", "/api/bulk/0", "/api/bulk/x"):
        r = api.s.get(api.base + path, timeout=30)
        assert r.status_code == 404 and r.json()["field"] == "id"
    # nothing was made by the refused ones
    assert api.get("/api/stats")["pending_tasks"] == 0


def test_bulk_survives_a_restart(outpost, tmp_path):
    acs, sim, api = start(outpost, tmp_path, 6, slow="150ms")
    r = api.post("/api/tasks", {"filter": "online", "max_in_flight": 1,
                                "task": {"type": "get_params",
                                         "parameters": {"names": ["Device.DeviceInfo.UpTime"]}}})
    assert r.status_code == 201, r.text
    path = "/api/bulk/%d" % r.json()["id"]
    api.until(path, lambda v: v["counts"]["done"] >= 1)
    acs.stop()
    # the same store: the bulk goes on where it was (a task the stop caught
    # in flight is requeued, get_params being safe to repeat)
    acs = outpost("acs", "--cwmp-listen", "127.0.0.1:%d" % acs.addr("listen")[1],
                  "--api-listen", "127.0.0.1:0", "--data-dir", str(tmp_path / "acs"),
                  "--api-token", TOKEN, "--cpe-auth", "none", "--cr-deny", "169.254.0.0/16",
                  "--cr-username", "cr", "--cr-password", "cr-pw")
    api = Api(acs)
    b = api.until(path, lambda v: v["state"] != "running", timeout=60)
    assert b["state"] == "done" and b["counts"]["done"] == 6, b
    done = api.get(path + "?status=done")["tasks"]
    assert len({t["device"] for t in done}) == 6
    assert all(1 <= t["attempts"] <= 2 for t in done)
