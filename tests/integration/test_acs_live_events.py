"""GET /api/events: the ACS's live events (Server-Sent Events), fed from the
same places as the webhooks; GET /api/stats/history, the minute counters."""
import time
import urllib.parse

import pytest
import requests

from conftest import run_outpost
from cwmp_cpe import CPE
from sse import SSE

TOKEN = "events-token"


def start_acs(outpost, tmp_path, *extra):
    return outpost("acs", "--cwmp-listen", "127.0.0.1:0", "--api-listen", "127.0.0.1:0",
                   "--data-dir", str(tmp_path / "data"), "--api-token", TOKEN, "--cpe-auth", "none",
                   "--cr-deny", "169.254.0.0/16", "--cr-username", "cr", "--cr-password", "crpw", *extra)


def api(d, method, path, **kw):
    return requests.request(method, d.url("api") + path, headers={"Authorization": f"Bearer {TOKEN}"},
                            timeout=30, **kw)


def stream(d, query="", **kw):
    s = SSE(d.addr("api"), "/api/events" + (("?" + query) if query else ""), token=TOKEN, **kw)
    assert s.head() == 200, s.raw
    assert s.headers["content-type"].startswith("text/event-stream")
    return s


def enc(dev_id):
    return urllib.parse.quote(dev_id, safe="")


def test_needs_a_key_and_good_filters(outpost, tmp_path):
    d = start_acs(outpost, tmp_path)
    s = SSE(d.addr("api"), "/api/events")
    assert s.head() == 401
    s.close()
    s = SSE(d.addr("api"), "/api/events", token="wrong")
    assert s.head() == 401
    s.close()
    for q, why in (("types=task,nope", "nope"), ("types=bulk,,task", "''"), ("device=", "device")):
        r = api(d, "GET", "/api/events?" + q)
        assert r.status_code == 400 and why in r.json()["message"], (q, r.text)
    # a viewer may listen
    k = api(d, "POST", "/api/keys", json={"name": "v", "role": "viewer"}).json()["token"]
    s = SSE(d.addr("api"), "/api/events", token=k)
    assert s.head() == 200
    s.close()


def test_inform_and_online_events_and_device_filter(outpost, tmp_path):
    d = start_acs(outpost, tmp_path)
    cpe_addr = d.addr("listen")
    only_a = stream(d, "device=" + enc("00D09E-IGD-A"))
    every = stream(d, "types=inform,device")
    tasks_only = stream(d, "types=task")
    CPE(cpe_addr).inform("A", events=(("0 BOOTSTRAP", ""), ("1 BOOT", "")))
    CPE(cpe_addr).inform("B")
    got = every.events_until(lambda e: e["event"] == "inform" and e["data"]["device"] == "00D09E-IGD-B")
    kinds = [(e["event"], e["data"]["device"]) for e in got]
    assert ("inform", "00D09E-IGD-A") in kinds and ("device", "00D09E-IGD-A") in kinds
    a_inform = next(e for e in got if e["event"] == "inform" and e["data"]["device"] == "00D09E-IGD-A")
    assert a_inform["data"]["events"] == ["0 BOOTSTRAP", "1 BOOT"]
    online = next(e for e in got if e["event"] == "device" and e["data"]["device"] == "00D09E-IGD-A")
    assert online["data"]["state"] == "online"
    ids = [int(e["id"]) for e in got]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    # the filtered stream saw A only
    first = only_a.next_event()
    assert first["data"]["device"] == "00D09E-IGD-A"
    CPE(cpe_addr).inform("A")   # again: an inform, no "online" (it was online already)
    seen = only_a.events_until(lambda e: e["event"] == "inform" and e["data"]["events"] == ["2 PERIODIC"])
    assert all(e["data"]["device"] == "00D09E-IGD-A" for e in seen)
    assert not any(e["event"] == "device" for e in seen[1:])
    with pytest.raises(TimeoutError):   # a task-only stream got nothing of it
        tasks_only.next_event(timeout=0.5)
    for s in (only_a, every, tasks_only):
        s.close()


def test_task_transitions_arrive_in_order(outpost, tmp_path):
    if "cpe-sim" not in run_outpost("--help").stdout:
        pytest.skip("cpe-sim not built")
    d = start_acs(outpost, tmp_path)
    host, port = d.addr("listen")
    outpost("cpe-sim", "--acs", f"http://{host}:{port}/", "--count", "2", "--cr-listen", "127.0.0.1:0",
            "--cr-username", "cr", "--cr-password", "crpw",
            "--inform-interval", "600", "--data-dir", str(tmp_path / "sim"))
    deadline = time.monotonic() + 20
    while api(d, "GET", "/api/stats").json()["total_devices"] < 2:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    devs = sorted(x["id"] for x in api(d, "GET", "/api/devices").json())
    mine, other = devs
    s = stream(d, "types=task&device=" + enc(mine))
    every_task = stream(d, "types=task,fault")
    t_other = api(d, "POST", f"/api/devices/{enc(other)}/tasks?wait=20",
                  json={"type": "get_params", "parameters": {"names": ["Device.DeviceInfo."]}}).json()
    t = api(d, "POST", f"/api/devices/{enc(mine)}/tasks?wait=20",
            json={"type": "get_params", "parameters": {"names": ["Device.DeviceInfo.SoftwareVersion"]}}).json()
    assert t["status"] == "done" and t_other["status"] == "done"
    got = s.events_until(lambda e: e["data"]["id"] == t["id"] and e["data"]["status"] == "done")
    assert all(e["data"]["device"] == mine for e in got)   # the filter: never the other device's
    mine_ev = [e for e in got if e["data"]["id"] == t["id"]]   # (its bootstrap's tasks may finish now)
    assert [e["data"]["status"] for e in mine_ev] == ["pending", "sent", "done"]
    assert all(e["data"]["type"] == "get_params" and e["data"]["fault"] is None for e in mine_ev)
    # a failure carries the CPE's fault, and a fault event follows
    bad = api(d, "POST", f"/api/devices/{enc(mine)}/tasks?wait=20",
              json={"type": "get_params", "parameters": {"names": ["Device.NoSuchThing."]}}).json()
    assert bad["status"] == "failed"
    got = every_task.events_until(lambda e: e["event"] == "fault")
    failed = [e for e in got if e["event"] == "task" and e["data"]["id"] == bad["id"]]
    assert [e["data"]["status"] for e in failed] == ["pending", "sent", "failed"]
    assert failed[-1]["data"]["fault"]["code"] == 9005
    assert got[-1]["data"]["code"] == 9005 and got[-1]["data"]["device_id"] == mine
    # cancelled: pending then cancelled (the device is asleep: its CR goes nowhere now)
    s.close()
    every_task.close()


def test_slow_client_is_cut_off(outpost, tmp_path):
    """A client that never reads is closed once its unsent bytes pass
    --events-client-buffer; the ACS keeps no more than that for it."""
    d = start_acs(outpost, tmp_path, "--events-client-buffer", "4KiB")
    CPE(d.addr("listen")).inform("S")     # a device with no CR URL: its tasks stay pending
    slow = SSE(d.addr("api"), "/api/events?types=task", token=TOKEN, rcvbuf=2048)
    time.sleep(0.3)
    n = 0
    sess = requests.Session()
    sess.headers["Authorization"] = f"Bearer {TOKEN}"
    url = d.url("api") + f"/api/devices/{enc('00D09E-IGD-S')}/tasks"
    start = len(d.lines)
    while not any("events_client_closed" in x for x in d.lines[start:]):
        assert n < 5000, "the slow client was never cut off"
        r = sess.post(url, json={"type": "reboot"}, timeout=10)
        assert r.status_code == 201
        n += 1
    d.wait_for(r"events_client_closed .*too slow", start=start)
    # the stream ends for the client (the bytes it had not read, then EOF)
    slow.s.settimeout(20)
    with pytest.raises((EOFError, ConnectionError)):
        while True:
            slow._recv_raw()
    slow.close()
    # others are not affected: a new stream works and counts the slow one
    s = stream(d, "types=task")
    api(d, "POST", url[len(d.url("api")):], json={"type": "reboot"})
    assert s.next_event()["data"]["status"] == "pending"
    s.close()
    m = requests.get(d.url("admin") + "/metrics", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10).text
    assert "outpost_acs_events_slow_closed_total 1" in m


def test_client_cap_and_heartbeat(outpost, tmp_path):
    d = start_acs(outpost, tmp_path, "--events-max-clients", "2", "--events-heartbeat", "200ms")
    a, b = stream(d), stream(d)
    r = api(d, "GET", "/api/events")
    assert r.status_code == 503 and "events-max-clients" in r.json()["message"]
    assert r.headers["retry-after"]
    with pytest.raises(TimeoutError):
        a.next_event(timeout=1.0)
    assert a.comments.count("heartbeat") >= 2, a.comments
    b.close()
    deadline = time.monotonic() + 5
    while True:     # the server notices the closed one: a place is free again
        c = SSE(d.addr("api"), "/api/events", token=TOKEN)
        if c.head() == 200:
            break
        c.close()
        assert time.monotonic() < deadline
        time.sleep(0.1)
    c.close()
    a.close()


def test_a_closed_stream_is_noticed_at_once(outpost, tmp_path):
    """A client that closes its stream is gone from the count (and from what
    the node must tell) at once, not at the next heartbeat (15 s here)."""
    d = start_acs(outpost, tmp_path)

    def clients():
        m = requests.get(d.url("admin") + "/metrics", headers={"Authorization": f"Bearer {TOKEN}"},
                         timeout=10).text
        return [line for line in m.splitlines() if line.startswith("outpost_acs_events_clients ")]

    s = stream(d)
    assert clients() == ["outpost_acs_events_clients 1"]
    with pytest.raises(TimeoutError):  # read what came (so the close is a FIN, not a reset)
        s.next_event(timeout=0.3)
    assert any("connected" in c for c in s.comments), s.comments
    s.close()
    deadline = time.monotonic() + 3
    while clients() != ["outpost_acs_events_clients 0"]:
        assert time.monotonic() < deadline, clients()
        time.sleep(0.05)
    assert "events_client_closed" not in d.output()  # a client leaving is not a failure


def test_last_event_id_is_accepted(outpost, tmp_path):
    d = start_acs(outpost, tmp_path)
    s = stream(d, headers={"Last-Event-ID": "12"})
    CPE(d.addr("listen")).inform("L")
    ev = s.next_event()
    assert ev["event"] in ("inform", "device") and int(ev["id"]) >= 1
    s.close()


def test_stats_history(outpost, tmp_path):
    d = start_acs(outpost, tmp_path)
    for serial in ("H1", "H2", "H3"):
        CPE(d.addr("listen")).inform(serial)
    h = api(d, "GET", "/api/stats/history?minutes=5").json()
    assert h["minute_seconds"] == 60 and len(h["buckets"]) == 5
    ts = [b["t"] for b in h["buckets"]]
    assert ts == sorted(ts) and all(b - a == 60 for a, b in zip(ts, ts[1:]))
    assert h["from"] == ts[0] and h["to"] == ts[-1] + 59
    assert sum(b["informs"] for b in h["buckets"]) == 3
    assert max(b["sessions"] for b in h["buckets"]) >= 1
    assert set(h["buckets"][0]) == {"t", "informs", "sessions", "faults", "tasks_done", "tasks_failed"}
    assert len(api(d, "GET", "/api/stats/history").json()["buckets"]) == 180
    for bad in ("0", "1441", "x"):
        assert api(d, "GET", "/api/stats/history?minutes=" + bad).status_code == 400
    assert requests.get(d.url("api") + "/api/stats/history", timeout=5).status_code == 401


def test_stats_breakdown(outpost, tmp_path):
    d = start_acs(outpost, tmp_path)
    assert api(d, "GET", "/api/stats/breakdown").json() == {
        "model": {"top": [], "others": 0}, "software_version": {"top": [], "others": 0}}
    for i, pclass in enumerate(["GW-A"] * 3 + ["GW B"] * 2 + ["GW-C"]):
        CPE(d.addr("listen")).inform(f"BD{i}", pclass=pclass)
    for i in range(22):   # more models than the top 20: the rest are "others"
        CPE(d.addr("listen")).inform(f"X{i}", pclass=f"M{i:02d}")
    b = api(d, "GET", "/api/stats/breakdown").json()
    top = b["model"]["top"]
    assert top[:3] == [{"value": "GW-A", "count": 3}, {"value": "GW B", "count": 2},
                       {"value": "GW-C", "count": 1}]
    assert len(top) == 20 and b["model"]["others"] == 28 - sum(x["count"] for x in top) == 5
    assert b["software_version"] == {"top": [{"value": "1.0.0", "count": 28}], "others": 0}
