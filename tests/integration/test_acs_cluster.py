"""Several `outpost acs` nodes on one PostgreSQL store, behaving as one ACS
(docs/scaling.md, "Running several nodes"): two nodes, two cwmp-proxies
(each with both nodes as backends), two cpe-sim fleets through them.

- tasks queued through node A's API complete in sessions on node B, and a
  `?wait=` on A is answered when B finishes (LISTEN/NOTIFY);
- a preset made on A is used by B's sessions (its snapshot reloads);
- `kill -9` of a node in the middle of a session loses nothing: its task's
  lease runs out, the other node puts it back and sends it once more, and it
  completes once; no other task is sent twice (the nodes' logs and the
  CPEs' own counts agree);
- PostgreSQL restarted under them: the API answers 503 with a reason
  meanwhile, nothing it acknowledged is lost, everything resumes by itself;
- a dashboard's event stream on one node shows what happens on the other
  (informs, devices online, tasks queued and sent), each event once, and a
  node tells nothing while no other node has a stream open.

Short leases and intervals keep it well under a minute. Skipped without the
PostgreSQL binaries."""
import collections
import json
import re
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import quote

import pytest
import requests

from conftest import free_port
import cwmp_cpe
from cwmp_cpe import CPE, acs_envelopes_valid  # noqa: F401 (autouse: validates what the ACS sent)
from test_acs_tasks import DEV, gpv_response

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import pg_server  # noqa: E402 pylint: disable=wrong-import-position
import prom  # noqa: E402
from sse import SSE  # noqa: E402

TOKEN = "cluster-token"
PER_SIM = 12
SERIAL = "Device.DeviceInfo.SerialNumber"
NAME = "InternetGatewayDevice.DeviceInfo.UpTime"


class Api:
    def __init__(self, d):
        self.base = d.url("api")
        self.s = requests.Session()
        self.s.headers["Authorization"] = f"Bearer {TOKEN}"

    def get(self, path, **kw):
        return self.s.get(self.base + path, timeout=30, **kw)

    def post(self, path, body=None, timeout=30, **kw):
        return self.s.post(self.base + path, json=body, timeout=timeout, **kw)


def start_node(outpost, tmp_path, db, name, proxies, *extra):
    args = ["acs", *extra, "--cwmp-listen", "127.0.0.1:0", "--api-listen", "127.0.0.1:0",
            "--admin-listen", "127.0.0.1:0",
            "--data-dir", str(tmp_path / name), "--api-token", TOKEN, "--cpe-password", "cpe-pw",
            "--db", db, "--node-id", name, "--task-lease", "5s", "--rediscover=false",
            "--cr-proxy-username", "relay", "--cr-proxy-password", "relay-pw"]
    for p in proxies:
        args += ["--cr-proxy", f"http://127.0.0.1:{p}"]
    return outpost(*args)


def task_lines(d, what):
    """task id -> how many `what` lines (cwmp_rpc, cwmp_task_done) the node logged."""
    c = collections.Counter()
    for line in list(d.lines):
        m = re.search(r"\b" + what + r"\b.* task=(\d+)", line)
        if m:
            c[int(m.group(1))] += 1
    return c


def status(d):
    """The node's /status "cluster" object."""
    return requests.get(d.url("admin") + "/status", timeout=10,
                        headers={"Authorization": f"Bearer {TOKEN}"}).json()["cluster"]


def wait_until(fn, timeout, what):
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v:
            return v
        assert time.monotonic() < deadline, what() if callable(what) else what
        time.sleep(0.1)


def test_two_nodes_one_store(outpost, tmp_path, pg_dir):
    db = pg_server.url(pg_dir)
    pports = [free_port(), free_port()]
    a = start_node(outpost, tmp_path, db, "node-a", pports)
    b = start_node(outpost, tmp_path, db, "node-b", pports)
    for n in (a, b):
        n.wait_for(r"store_listen_up", timeout=10)
    api_a, api_b = Api(a), Api(b)
    proxies, sims = [], []
    for i, port in enumerate(pports):
        proxies.append(outpost(
            "cwmp-proxy", "--listen", f"127.0.0.1:{port}", "--admin-listen", "127.0.0.1:0",
            "--wakeup-deny", "169.254.0.0/16", "--public-url", f"http://127.0.0.1:{port}",
            "--data-dir", str(tmp_path / f"px{i}"), "--api-token", "tok",
            "--backend", a.url("listen") + "/", "--backend", b.url("listen") + "/",
            "--health-interval", "300ms", "--health-fall", "1", "--retry-after", "1s",
            "--acs-user", "relay", "--acs-password", "relay-pw",
            "--cpe-user", "cr", "--cpe-password", "cr-pw"))
        sims.append(outpost(
            "cpe-sim", "--acs", f"http://127.0.0.1:{port}/", "--count", str(PER_SIM),
            "--serial-prefix", f"P{i}X", "--cr-listen", "127.0.0.1:0", "--inform-interval", "20s",
            "--stats-interval", "0", "--json", "--username", "cpe", "--password", "cpe-pw",
            "--cr-username", "cr", "--cr-password", "cr-pw",
            "--retry-min", "500ms"))
    total = 2 * PER_SIM
    wait_until(lambda: len(api_b.get("/api/devices").json()) >= total, 30,
               lambda: "the fleets did not register through the proxies:\n"
               + "\n".join(d.output()[-3000:] for d in (sims[0], proxies[0], a, b)))
    devs = {d["serial_number"]: d["id"] for d in api_a.get("/api/devices").json()}
    ids = sorted(devs.values())

    # the node id, its lease and the listener in /status
    for n, name in ((a, "node-a"), (b, "node-b")):
        c = status(n)
        assert c["node"] == name and c["task_lease_s"] == 5, c
        assert c["shared_store"] and c["listening"], c

    # ---- 1: queued on A, answered on A's ?wait= whichever node finished it ----
    results = {}

    def queue_wait(api, dev, key):
        r = api.post(f"/api/devices/{quote(dev, safe='')}/tasks?wait=25", timeout=40,
                     body={"type": "get_params", "parameters": {"names": [SERIAL]}})
        results[key] = r

    threads = [threading.Thread(target=queue_wait, args=(api_a, dev, dev)) for dev in ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    on_b = task_lines(b, "cwmp_task_done")
    on_a = task_lines(a, "cwmp_task_done")
    finished_on_b = 0
    for dev in ids:
        r = results[dev]
        assert r.status_code in (200, 201), r.text
        t = r.json()
        assert t["status"] == "done", t
        assert t["result"]["parameters"][0]["value"] in devs
        assert on_a[t["id"]] + on_b[t["id"]] == 1, (t["id"], on_a, on_b)
        finished_on_b += on_b[t["id"]]
    # round-robin over the nodes: B took part, and A's waiters heard of it
    assert finished_on_b >= 1, (on_a, on_b)
    assert b.wait_for(r"cwmp_task_done").group(0)

    # ---- 2: a preset made through A is used by B's sessions at once ----
    mark_b = len(b.lines)
    r = api_a.s.put(api_a.base + "/api/presets/tag-all", timeout=30, json={
        "events": ["6 CONNECTION REQUEST"],
        "provisions": [{"type": "add_tag", "tag": "seen-by-preset"}]})
    assert r.status_code in (200, 201), r.text
    b.wait_for(r"provisioning_loaded presets=1 ", timeout=2, start=mark_b)
    for dev in ids:  # wake them: about half of the sessions go to B
        api_a.post(f"/api/devices/{quote(dev, safe='')}/connection-request")
    b.wait_for(r"prov_preset_done .*preset=tag-all", timeout=20, start=mark_b)

    def tagged():
        got = [api_b.get(f"/api/devices/{quote(d, safe='')}").json() for d in ids]
        return all("seen-by-preset" in (g.get("tags") or []) for g in got)
    wait_until(tagged, 30, "the preset made on A was not applied in every session")

    # ---- 2b: an API key made on A is taken by B within a second or so ----
    mark_b = len(b.lines)
    t0 = time.monotonic()
    r = api_a.post("/api/keys", {"name": "ops", "role": "viewer"})
    assert r.status_code == 201, r.text
    b.wait_for(r"api_keys_loaded keys=1 ", timeout=3, start=mark_b)
    assert time.monotonic() - t0 < 3
    key = {"Authorization": "Bearer " + r.json()["token"]}
    assert requests.get(api_b.base + "/api/devices", headers=key, timeout=10).status_code == 200

    # ---- 3: kill -9 of node A in the middle of a session ----
    # A scripted CPE talks to A directly and never answers A's RPC; the
    # fleets' tasks queued meanwhile run in sessions on both nodes.
    cpe = CPE(a.addr("listen"), auth=("cpe", "cpe-pw"))
    assert cpe.inform("T1").rpc == "InformResponse"  # registered
    assert cpe.post().status == 204
    cpe.close()
    # queued through B while the device is in session on A: A hears of it
    # and its session sends it
    cpe = CPE(a.addr("listen"), auth=("cpe", "cpe-pw"))
    assert cpe.inform("T1").rpc == "InformResponse"
    heard = status(a)["heard"]
    r = api_b.post(f"/api/devices/{quote(DEV, safe='')}/tasks",
                   {"type": "get_params", "parameters": {"names": [NAME]}})
    assert r.status_code == 201, r.text
    victim = r.json()["id"]
    wait_until(lambda: status(a)["heard"] > heard, 5, "A did not hear of the task B queued")
    queued = {}
    for dev in ids:  # queuing wakes each device: about half of the sessions go to A
        r = api_b.post(f"/api/devices/{quote(dev, safe='')}/tasks",
                       {"type": "get_params", "parameters": {"names": [SERIAL]}})
        assert r.status_code == 201, r.text
        queued[r.json()["id"]] = dev
    r = cpe.post()
    assert r.rpc == "GetParameterValues" and r.id == str(victim)
    a.wait_for(rf"cwmp_rpc device=\S+ task={victim} ", timeout=5)
    a.kill()  # A dies with the victim's RPC out, leased to it
    cpe.close()
    # B puts it back once A's lease (5 s) has run out; the CPE's next session
    # (through B) takes it
    b.wait_for(r"tasks_recovered count=\d+ reason=\"lease ran out\"", timeout=15)
    wait_until(lambda: api_b.get(f"/api/tasks/{victim}").json()["status"] == "pending", 10,
               "the victim did not go back to the queue")
    cpe = CPE(b.addr("listen"), auth=("cpe", "cpe-pw"))
    assert cpe.inform("T1").rpc == "InformResponse"
    r = cpe.post()
    assert r.rpc == "GetParameterValues" and r.id == str(victim)
    assert cpe.answer(r, gpv_response([(NAME, "7", "xsd:unsignedInt")])).status == 204
    cpe.close()
    t = api_b.get(f"/api/tasks/{victim}").json()
    assert t["status"] == "done" and t["attempts"] == 2, t

    final = {}

    def all_done():
        final.update({t: api_b.get(f"/api/tasks/{t}").json() for t in queued})
        return all(v["status"] == "done" for v in final.values())
    wait_until(all_done, 40, "a task queued before the crash never completed")
    sent_a, sent_b = task_lines(a, "cwmp_rpc"), task_lines(b, "cwmp_rpc")
    done_a, done_b = task_lines(a, "cwmp_task_done"), task_lines(b, "cwmp_task_done")
    assert (sent_a[victim], sent_b[victim], done_a[victim], done_b[victim]) == (1, 1, 0, 1)
    # The fleets' tasks: each sent once, except one A had out when it died
    # (its answer, logged or not, never committed): sent again by B, once.
    # attempts (one per committed `sent` mark) says no send went unlogged, but
    # for a task A had marked sent and was killed before writing (and logging)
    # its RPC: never sent by A, sent by B once its lease ran out.
    lost_with_a = 0
    for t in queued:
        n = (t, sent_a[t], sent_b[t], done_a[t], done_b[t], final[t]["attempts"])
        unlogged = final[t]["attempts"] - (sent_a[t] + sent_b[t])
        assert unlogged in (0, 1), n
        if unlogged:
            assert sent_a[t] == 0 and sent_b[t] == 1 and done_b[t] == 1, n
        assert sent_b[t] <= 1 and sent_a[t] <= 1, n
        if sent_a[t] and sent_b[t]:
            lost_with_a += 1
            assert done_b[t] == 1, n
        assert done_a[t] + done_b[t] >= 1, n

    # ---- 4: PostgreSQL restarted under the surviving node ----
    acked = []
    for dev in ids[:8]:
        r = api_b.post(f"/api/devices/{quote(dev, safe='')}/tasks",
                       {"type": "get_params", "parameters": {"names": [SERIAL]}})
        assert r.status_code == 201, r.text
        acked.append(r.json()["id"])
    subprocess.run([pg_server.psql(), "-X", "-q", "-d", db, "-c", "CHECKPOINT"], check=True,
                   capture_output=True)
    pg_server.stop(pg_dir, keep=True)
    try:
        r = api_b.get(f"/api/devices/{quote(ids[0], safe='')}")
        assert r.status_code == 503, r.text
        assert "database" in r.json()["message"] and r.headers.get("Retry-After")
        r = api_b.post(f"/api/devices/{quote(ids[0], safe='')}/tasks",
                       {"type": "reboot"})
        assert r.status_code == 503, r.text  # not acknowledged: the caller knows
        # a CPE's Inform is not acknowledged either: 503, come back later
        host, port = b.addr("listen")
        r = requests.post(f"http://{host}:{port}/", data=cwmp_cpe.envelope(cwmp_cpe.inform("T1")), timeout=30,
                          auth=requests.auth.HTTPDigestAuth("cpe", "cpe-pw"),
                          headers={"Content-Type": "text/xml"})
        assert r.status_code == 503 and int(r.headers["Retry-After"]) > 0, r.text
        time.sleep(1.5)  # sessions meanwhile are refused (503, Retry-After) and retried
    finally:
        pg_server.start(pg_dir)
    # node A comes back with the same id: its own leftovers are its to recover
    a2 = start_node(outpost, tmp_path, db, "node-a", pports)
    a2.wait_for(r"store_listen_up", timeout=15)
    b.wait_for(r"store_listen_up", timeout=20, start=1 + [i for i, l in enumerate(b.lines)
                                                         if "store_listen_up" in l][0])
    # the wake-ups of the acked tasks may have gone while the store was away:
    # the devices' next Informs (or the restarted node's start-up wake-ups) take them

    def acked_done():
        st = {t: api_b.get(f"/api/tasks/{t}") for t in acked}
        return all(r.status_code == 200 and r.json()["status"] == "done" for r in st.values())
    wait_until(acked_done, 40, "a task acknowledged before the outage never completed")
    # the outage said once per thing that noticed it, not once per retry
    assert len([x for x in b.lines if "bulk_tick" in x]) <= 1, b.output()[-3000:]
    # and the cluster serves again: a ?wait= on the restarted A
    r = Api(a2).post(f"/api/devices/{quote(ids[1], safe='')}/tasks?wait=25", timeout=40,
                     body={"type": "get_params", "parameters": {"names": [SERIAL]}})
    assert r.status_code in (200, 201) and r.json()["status"] == "done", r.text

    # ---- the CPEs' own count: every GetParameterValues a node logged, none more ----
    for sim in sims:
        sim.stop()
    got = 0
    for sim in sims:
        finals = [json.loads(l) for l in sim.lines if l.startswith("{") and '"final":true' in l]
        assert finals, sim.output()[-2000:]
        got += finals[-1]["stats"]["rpcs"].get("GetParameterValues", 0)
    logged = sum(len([l for l in d.lines if "cwmp_rpc" in l and "GetParameterValues" in l])
                 for d in (a, b, a2))
    # the scripted CPE's two GetParameterValues are not the fleets'; one A
    # logged as it was killed may have died with it
    logged -= 2
    assert logged - lost_with_a <= got <= logged, (got, logged, lost_with_a)


def metrics(d):
    text = requests.get(d.url("admin") + "/metrics", timeout=10,
                        headers={"Authorization": f"Bearer {TOKEN}"}).text
    return {name: v for (name, labels), v in prom.parse(text).items() if not labels}


def test_live_events_cross_nodes(outpost, tmp_path, pg_dir):
    db = pg_server.url(pg_dir)
    px = [free_port()]  # no proxy there: nothing here wakes a CPE
    # a heartbeat each second: B finds its closed stream at the next one
    a = start_node(outpost, tmp_path, db, "node-a", px, "--events-heartbeat", "1s")
    b = start_node(outpost, tmp_path, db, "node-b", px, "--events-heartbeat", "1s")
    for n in (a, b):
        n.wait_for(r"store_listen_up", timeout=10)
    # no stream open anywhere: an Inform on A is told to nobody
    cpe = CPE(a.addr("listen"), auth=("cpe", "cpe-pw"))
    assert cpe.inform("Q1", events=(("0 BOOTSTRAP", ""),)).rpc == "InformResponse"
    assert cpe.post().status == 204
    cpe.close()
    time.sleep(3)  # past a watch round (2 s)
    m = metrics(a)
    assert m["outpost_acs_events_shared_watched"] == 0 and m["outpost_acs_events_shared_total"] == 0, m

    # a dashboard on B: within a watch round A knows, and tells
    s = SSE(b.addr("api"), "/api/events", token=TOKEN, timeout=30)
    assert s.head() == 200, s.raw
    wait_until(lambda: metrics(a)["outpost_acs_events_shared_watched"] == 1, 10,
               "node A never learnt that B has an event stream open")
    assert metrics(b)["outpost_acs_events_shared_watched"] == 0  # nobody watches B's
    dev = "00D09E-IGD-Q2"
    cpe = CPE(a.addr("listen"), auth=("cpe", "cpe-pw"))
    assert cpe.inform("Q2", events=(("0 BOOTSTRAP", ""), ("1 BOOT", ""))).rpc == "InformResponse"
    assert cpe.post().status == 204
    cpe.close()
    evs = s.events_until(lambda e: e["event"] == "inform" and e["data"]["device"] == dev, timeout=15)
    inform = [e for e in evs if e["event"] == "inform"][-1]
    assert inform["data"]["events"] == ["0 BOOTSTRAP", "1 BOOT"], inform
    # the device came online (it was new), told before or after the inform
    seen = evs + ([] if any(e["event"] == "device" for e in evs) else
                  s.events_until(lambda e: e["event"] == "device", timeout=10))
    online = [e for e in seen if e["event"] == "device"]
    assert online and online[0]["data"] == {"device": dev, "state": "online"}, seen

    # a task queued through A and sent in A's session: B's stream shows
    # pending and sent (from A), then done (B reads the finish from the store)
    r = requests.post(a.url("api") + f"/api/devices/{quote(dev, safe='')}/tasks", timeout=30,
                      headers={"Authorization": f"Bearer {TOKEN}"},
                      json={"type": "get_params", "parameters": {"names": [NAME]}})
    assert r.status_code == 201, r.text
    tid = r.json()["id"]
    cpe = CPE(a.addr("listen"), auth=("cpe", "cpe-pw"))
    req = cpe.inform("Q2")
    assert req.rpc == "InformResponse"
    req = cpe.post()
    assert req.rpc == "GetParameterValues", req.body
    assert cpe.answer(req, gpv_response([(NAME, "42", "xsd:unsignedInt")])).status == 204
    cpe.close()
    evs = s.events_until(lambda e: e["event"] == "task" and e["data"]["id"] == tid
                         and e["data"]["status"] == "done", timeout=15)
    statuses = [e["data"]["status"] for e in evs if e["event"] == "task" and e["data"]["id"] == tid]
    assert statuses == ["pending", "sent", "done"], statuses
    assert len([e for e in evs if e["event"] == "inform"]) == 1  # Q2's second inform, once
    s.close()
    ma, mb = metrics(a), metrics(b)
    assert ma["outpost_acs_events_shared_total"] >= 5 and ma["outpost_acs_events_shared_dropped_total"] == 0, ma
    assert mb["outpost_acs_events_heard_total"] >= 5, mb
    # the stream closed: within a watch round and the interest's end A stops telling
    wait_until(lambda: metrics(a)["outpost_acs_events_shared_watched"] == 0, 10,
               lambda: f"node A still tells events with no stream open on B: {metrics(a)} {metrics(b)}")
