"""outpost acs webhooks: signed events reach a receiver on 127.0.0.1 (checked
here with the secret, as docs/webhooks.md tells receivers to), a failing
receiver is retried with backoff, one down for longer than --webhook-retry-for
leaves a failed delivery in the API, deliveries pending at a restart go out
after it, and a receiver that never answers does not slow CWMP sessions."""
import hashlib
import hmac
import http.server
import json
import re
import signal
import threading
import time
import urllib.parse

import pytest
import requests

import prom
from conftest import acs_db, run_outpost, free_port
from cwmp_cpe import CPE
from test_acs_session import TOKEN, Api, cwmp_addr, start_acs

SECRET = "s3cret-for-the-test-receiver"


class Receiver:
    """A webhook receiver: records every POST (time, headers, body); answers
    with the next status of `plan` (then 200), or never answers (hang)."""

    def __init__(self, port=0, plan=(), hang=False, tls=None):
        self.got = []
        self.plan = list(plan)
        self.hang = hang
        self.release = threading.Event()
        self.cv = threading.Condition()
        rcv = self

        class H(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with rcv.cv:
                    rcv.got.append((time.monotonic(), dict(self.headers), body))
                    status = rcv.plan.pop(0) if rcv.plan else 200
                    rcv.cv.notify_all()
                if rcv.hang:
                    rcv.release.wait(60)
                    return
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *a):
                pass

        http.server.ThreadingHTTPServer.allow_reuse_address = True
        self.srv = http.server.ThreadingHTTPServer(("127.0.0.1", port), H)
        self.srv.daemon_threads = True
        self.port = self.srv.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/hook"
        if tls:  # (cert, key): https
            import ssl
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(*tls)
            self.srv.socket = ctx.wrap_socket(self.srv.socket, server_side=True)
            self.url = f"https://127.0.0.1:{self.port}/hook"
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()

    def wait(self, pred, timeout=20):
        deadline = time.monotonic() + timeout
        with self.cv:
            while not pred(self.got):
                left = deadline - time.monotonic()
                assert left > 0, f"receiver: condition not met; got {[self.event(g) for g in self.got]}"
                self.cv.wait(left)
            return list(self.got)

    @staticmethod
    def event(g):
        return g[1].get("X-Outpost-Event")

    def events(self, name):
        return [g for g in self.got if self.event(g) == name]

    def close(self):
        self.release.set()
        self.srv.shutdown()
        self.srv.server_close()


def verify(g, secret=SECRET):
    """What a receiver does (docs/webhooks.md): HMAC-SHA256 over 'timestamp.body'."""
    _, h, body = g
    ts = h["X-Outpost-Timestamp"]
    want = hmac.new(secret.encode(), ts.encode() + b"." + body, hashlib.sha256).hexdigest()
    assert h["X-Outpost-Signature"] == "sha256=" + want
    assert abs(int(ts) - time.time()) < 60
    assert h["Content-Type"] == "application/json"
    assert int(h["X-Outpost-Delivery"]) > 0
    return json.loads(body)


def hook(url, *extra):
    return ["--webhook", " ".join([f"url={url}", f"secret={SECRET}", *extra])]


def deliveries(api, **q):
    r = api.get("/api/webhooks/deliveries", params=q)
    assert r.status_code == 200, r.text
    return r.json()


def wait_api(api, pred, timeout=20, **q):
    deadline = time.monotonic() + timeout
    while True:
        d = deliveries(api, **q)
        if pred(d):
            return d
        assert time.monotonic() < deadline, d
        time.sleep(0.1)


def has_cpesim():
    return "cpe-sim" in run_outpost("--help").stdout


def test_events_from_cpe_sim_are_signed(outpost, tmp_path):
    if not has_cpesim():
        pytest.skip("cpe-sim not built")
    rcv = Receiver()
    d = start_acs(outpost, tmp_path, "--cpe-password", "pw", "--cr-username", "cr",
                  "--cr-password", "crpw", "--cr-deny", "169.254.0.0/16", *hook(rcv.url),
                  "--admin-listen", "127.0.0.1:0")
    api = Api(d)
    host, port = d.addr("listen")
    sim = outpost("cpe-sim", "--acs", f"http://{host}:{port}/", "--count", "1",
                  "--username", "cpe", "--password", "pw", "--cr-listen", "127.0.0.1:0",
                  "--cr-username", "cr", "--cr-password", "crpw", "--inform-interval", "600")
    got = rcv.wait(lambda g: {"device.registered", "device.boot"} <= {Receiver.event(x) for x in g})
    reg = verify(rcv.events("device.registered")[0])
    boot = verify(rcv.events("device.boot")[0])
    dev_id = reg["data"]["device"]["id"]
    assert reg["event"] == "device.registered" and reg["created"]
    assert boot["data"]["device"]["id"] == dev_id
    assert "1 BOOT" in boot["data"]["events"] and boot["data"]["bootstrap"] is True
    assert len(rcv.events("device.registered")) == 1

    dev = urllib.parse.quote(dev_id, safe="")
    ok = api.post(f"/api/devices/{dev}/tasks?wait=20", {"type": "get_params", "parameters": {
        "names": ["Device.DeviceInfo.SoftwareVersion"]}}).json()
    assert ok["status"] == "done", ok
    bad = api.post(f"/api/devices/{dev}/tasks?wait=20",
                   {"type": "get_params", "parameters": {"names": ["Device.NoSuchThing."]}}).json()
    assert bad["status"] == "failed" and bad["fault"]["code"] == 9005, bad
    rcv.wait(lambda g: {"task.done", "task.failed", "fault"} <= {Receiver.event(x) for x in g})

    def task_event(name, task_id):
        found = [b for b in map(verify, rcv.events(name)) if b["data"]["task"]["id"] == task_id]
        assert len(found) == 1, (name, task_id, found)
        return found[0]
    # (the BOOTSTRAP's rediscovery task is done too: each task has its own event)
    assert task_event("task.done", ok["id"])["data"]["task"]["status"] == "done"
    assert task_event("task.failed", bad["id"])["data"]["task"]["fault"]["code"] == 9005
    fault = task_event("fault", bad["id"])
    assert fault["data"]["source"] == "task" and fault["data"]["code"] == 9005
    assert fault["data"]["device_id"] == dev_id
    # a forged signature is what the receiver refuses: the check can fail
    _, h, body = rcv.events("task.done")[0]
    with pytest.raises(AssertionError):
        verify((0, h, body + b" "))
    with pytest.raises(AssertionError):
        verify((0, h, body), secret="another-secret-of-some-length")
    # every delivery has its own id; the API shows them delivered, without the secret
    got = rcv.got
    ids = [int(g[1]["X-Outpost-Delivery"]) for g in got]
    assert len(set(ids)) == len(ids)
    rows = wait_api(api, lambda r: len(r) >= 5 and all(x["status"] == "delivered" for x in r))
    assert {r["id"] for r in rows} == set(ids)
    hooks = api.get("/api/webhooks").json()
    assert len(hooks) == 1 and hooks[0]["name"] == "hook1" and SECRET not in json.dumps(hooks)
    assert hooks[0]["counters"]["delivered"] == len(ids)
    assert hooks[0]["deliveries"]["delivered"] == len(ids)
    m = prom.parse(requests.get(d.url("admin") + "/metrics", timeout=5,
                                headers={"Authorization": f"Bearer {TOKEN}"}).text)
    assert m[("outpost_acs_webhook_deliveries_total", (("hook", "hook1"), ("outcome", "delivered")))] == len(ids)
    sim.stop()
    rcv.close()


def test_failing_receiver_is_retried_with_backoff(outpost, tmp_path):
    rcv = Receiver(plan=[500, 503])
    d = start_acs(outpost, tmp_path, "--cpe-auth", "none", *hook(rcv.url, "events=device.registered"),
                  "--webhook-backoff", "1s")
    api = Api(d)
    CPE(cwmp_addr(d)).inform("R1")
    got = rcv.wait(lambda g: len(g) >= 3)
    times = [g[0] for g in got]
    assert times[1] - times[0] >= 0.9 and times[2] - times[1] >= 1.9   # 1 s, then 2 s
    assert len({g[1]["X-Outpost-Delivery"] for g in got}) == 1          # the same delivery
    bodies = {verify(g)["data"]["device"]["id"] for g in got}
    assert bodies == {"00D09E-IGD-R1"}
    row = wait_api(api, lambda r: r and r[0]["status"] == "delivered")[0]
    assert row["attempts"] == 3 and row["last_status"] == 200 and row["event"] == "device.registered"
    time.sleep(1.5)
    assert len(rcv.got) == 3                                             # nothing after success
    rcv.close()


def test_receiver_down_past_the_bound_fails_then_retry(outpost, tmp_path):
    port = free_port()
    d = start_acs(outpost, tmp_path, "--cpe-auth", "none",
                  *hook(f"http://127.0.0.1:{port}/hook", "name=crm", "events=device.registered"),
                  "--webhook-backoff", "1s", "--webhook-retry-for", "3s")
    api = Api(d)
    CPE(cwmp_addr(d)).inform("F1")
    row = wait_api(api, lambda r: r and r[0]["status"] == "failed", status="failed")[0]
    assert row["hook"] == "crm" and row["attempts"] >= 2 and row["last_error"]
    assert row["last_status"] is None and row["next_attempt"] is None
    assert deliveries(api, status="pending") == []
    hooks = api.get("/api/webhooks").json()
    assert hooks[0]["counters"]["failed"] == 1 and hooks[0]["deliveries"]["failed"] == 1
    # the API refuses what it cannot do, naming the field
    r = api.get("/api/webhooks/deliveries", params={"status": "bogus"})
    assert r.status_code == 400 and r.json()["field"] == "status"
    r = api.get("/api/webhooks/deliveries", params={"limit": "0"})
    assert r.status_code == 400 and r.json()["field"] == "limit"
    assert api.post("/api/webhooks/deliveries/999999/retry").status_code == 404
    assert api.post("/api/webhooks/deliveries/abc/retry").status_code == 404
    # the receiver is back: a retry delivers it
    rcv = Receiver(port=port)
    r = api.post(f"/api/webhooks/deliveries/{row['id']}/retry")
    assert r.status_code == 200 and r.json()["status"] == "pending", r.text
    got = rcv.wait(lambda g: len(g) >= 1)
    assert int(got[0][1]["X-Outpost-Delivery"]) == row["id"]
    verify(got[0])
    wait_api(api, lambda r: r and r[0]["status"] == "delivered")
    r = api.post(f"/api/webhooks/deliveries/{row['id']}/retry")
    assert r.status_code == 409                                          # delivered: nothing to retry
    rcv.close()


def test_pending_deliveries_survive_a_restart(outpost, tmp_path):
    port = free_port()
    args = ["--cpe-auth", "none", *hook(f"http://127.0.0.1:{port}/hook"), "--webhook-backoff", "1s"]
    d = start_acs(outpost, tmp_path, *args)
    api = Api(d)
    CPE(cwmp_addr(d)).inform("P1", events=[("1 BOOT", "")])
    rows = wait_api(api, lambda r: len(r) == 2 and all(x["attempts"] >= 1 for x in r), status="pending")
    d.stop()
    rcv = Receiver(port=port)
    time.sleep(1.5)
    assert rcv.got == []                                                 # nobody sends while stopped
    d = start_acs(outpost, tmp_path, *args)
    api = Api(d)
    got = rcv.wait(lambda g: len(g) >= 2)
    assert {int(g[1]["X-Outpost-Delivery"]) for g in got} == {r["id"] for r in rows}
    assert {verify(g)["event"] for g in got} == {"device.registered", "device.boot"}
    wait_api(api, lambda r: len(r) == 2 and all(x["status"] == "delivered" for x in r))
    rcv.close()


def test_hanging_receiver_does_not_slow_sessions(outpost, tmp_path):
    rcv = Receiver(hang=True)
    d = start_acs(outpost, tmp_path, "--cpe-auth", "none", *hook(rcv.url, "timeout=30s"),
                  "--webhook-concurrency", "2")
    api = Api(d)
    slowest = 0
    for i in range(20):
        cpe = CPE(cwmp_addr(d))
        t0 = time.monotonic()
        r = cpe.inform(f"H{i}", events=[("1 BOOT", "")])
        assert r.rpc == "InformResponse"
        r = cpe.post()
        assert r.status == 204                                           # the session is over
        slowest = max(slowest, time.monotonic() - t0)
        cpe.close()
    assert slowest < 2.0, slowest
    rcv.wait(lambda g: len(g) >= 2)
    time.sleep(0.5)
    assert len(rcv.got) == 2                                             # the concurrency bound holds
    assert len(deliveries(api, status="pending", limit=1000)) == 40
    # the API answers meanwhile too
    assert api.get("/api/stats").json()["total_devices"] == 20
    rcv.close()
    d.stop()


def test_device_offline_once_per_spell(outpost, tmp_path):
    rcv = Receiver()
    args = ["--cpe-auth", "none", *hook(rcv.url, "events=device.offline"),
            "--webhook-offline-check", "200ms"]
    d = start_acs(outpost, tmp_path, *args)
    CPE(cwmp_addr(d)).inform("O1")
    CPE(cwmp_addr(d)).inform("O2")
    time.sleep(0.6)
    assert rcv.got == []                                                 # both online
    d.stop()
    # O1's last Inform is far older than its inform window (2 x interval + 60 s)
    acs_db(tmp_path / "data").execute(
        "UPDATE devices SET last_inform = last_inform - 100000 WHERE serial = 'O1'")
    d = start_acs(outpost, tmp_path, *args)
    got = rcv.wait(lambda g: len(g) >= 1)
    body = verify(got[0])
    assert body["event"] == "device.offline" and body["data"]["device"]["id"] == "00D09E-IGD-O1"
    assert body["data"]["device"]["online"] is False
    time.sleep(1.0)
    assert len(rcv.got) == 1                                             # once, not every sweep
    rcv.close()


@pytest.mark.parametrize("spec,field", [
    ("url=ftp://example.com/ secret=0123456789abcdef", "url"),
    ("url=http:// secret=0123456789abcdef", "url"),
    ("secret=0123456789abcdef", "url: missing"),
    ("url=http://127.0.0.1:1/", "secret: missing"),
    ("url=http://127.0.0.1:1/ secret=short", "secret: at least 16"),
    ("url=http://127.0.0.1:1/ secret=0123456789abcdef events=task.exploded", "events"),
    ("url=http://127.0.0.1:1/ secret=0123456789abcdef timeout=1h", "timeout"),
    ("url=http://127.0.0.1:1/ secret=0123456789abcdef colour=blue", "unknown key 'colour'"),
])
def test_bad_webhook_config_is_refused(tmp_path, spec, field):
    r = run_outpost("acs", "--data-dir", str(tmp_path / "data"), "--cpe-auth", "none",
                    "--webhook", spec)
    assert r.returncode == 2
    assert "webhook" in r.stderr and field in r.stderr, r.stderr


def test_webhook_from_the_config_file(outpost, tmp_path):
    rcv = Receiver()
    cfg = tmp_path / "acs.yaml"
    cfg.write_text("webhook:\n"
                   f"  - {{url: '{rcv.url}', secret: '{SECRET}', name: ops,"
                   " events: 'device.registered,device.boot'}\n"
                   "webhook-backoff: 2s\n"
                   "admin-listen: 127.0.0.1:0\n")  # not the fixed default port
    d = start_acs(outpost, tmp_path, "--cpe-auth", "none", "--config", str(cfg))
    CPE(cwmp_addr(d)).inform("Y1")
    got = rcv.wait(lambda g: len(g) >= 1)
    assert verify(got[0])["event"] == "device.registered"
    assert Api(d).get("/api/webhooks").json()[0]["events"] == ["device.registered", "device.boot"]
    rcv.close()


def test_api_against_document(outpost, tmp_path):
    """Every webhooks operation's answers (2xx and errors) as docs/api/openapi.yaml says."""
    import yaml
    from test_acs_openapi import DOC_PATH, Checker
    with open(DOC_PATH, encoding="utf-8") as f:
        doc = yaml.safe_load(f)
    port = free_port()
    rcv = Receiver()
    acs = start_acs(outpost, tmp_path, "--cpe-auth", "none",
                    *hook(f"http://user:pw@127.0.0.1:{port}/hook", "name=ops", "events=device.boot,fault"),
                    *hook(rcv.url, "name=all"),
                    "--webhook-backoff", "1s", "--webhook-retry-for", "1s")
    c = Checker(acs, doc)
    CPE(cwmp_addr(acs)).inform("D1", events=[("1 BOOT", "")])
    _, hooks = c.req("GET", "/api/webhooks", "/api/webhooks", want=200)
    assert [h["name"] for h in hooks] == ["ops", "all"]
    assert hooks[0]["url"] == f"http://user:***@127.0.0.1:{port}/hook"   # no password shown
    assert hooks[0]["events"] == ["device.boot", "fault"] and len(hooks[1]["events"]) == 7
    deadline = time.monotonic() + 20
    while True:
        _, rows = c.req("GET", "/api/webhooks/deliveries", "/api/webhooks/deliveries", want=200)
        if sorted(r["status"] for r in rows) == ["delivered", "delivered", "failed"]:
            break
        assert time.monotonic() < deadline, rows
        time.sleep(0.2)
    assert sorted((r["hook"], r["event"], r["status"]) for r in rows) == [
        ("all", "device.boot", "delivered"), ("all", "device.registered", "delivered"),
        ("ops", "device.boot", "failed")]
    _, failed = c.req("GET", "/api/webhooks/deliveries?status=failed&limit=1",
                      "/api/webhooks/deliveries", want=200)
    for q, field in (("status=sent", "status"), ("limit=1001", "limit"), ("limit=x", "limit"),
                     ("status=", "status")):
        _, e = c.req("GET", "/api/webhooks/deliveries?" + q, "/api/webhooks/deliveries", want=400)
        assert e["field"] == field and e["error"] == "bad_request"
    tpl = "/api/webhooks/deliveries/{id}/retry"
    rid = failed[0]["id"]
    _, r = c.req("POST", f"/api/webhooks/deliveries/{rid}/retry", tpl, want=200)
    assert r["status"] == "pending" and r["id"] == rid
    done = [r for r in rows if r["status"] == "delivered"][0]["id"]
    _, e = c.req("POST", f"/api/webhooks/deliveries/{done}/retry", tpl, want=409)
    assert e["error"] == "conflict"
    c.req("POST", "/api/webhooks/deliveries/424242/retry", tpl, want=404)
    c.req("POST", "/api/webhooks/deliveries/-1/retry", tpl, want=404)
    c.req("GET", "/api/webhooks", "/api/webhooks", token=None, want=401)
    ops = {op["operationId"] for p, item in doc["paths"].items() for m, op in item.items()
           if isinstance(op, dict) and "webhooks" in op.get("tags", [])}
    assert ops == {o for o, st in c.seen if st < 300}
    rcv.close()


def test_full_queue_refuses_new_events(outpost, tmp_path):
    port = free_port()
    d = start_acs(outpost, tmp_path, "--cpe-auth", "none",
                  *hook(f"http://127.0.0.1:{port}/hook", "events=device.registered"),
                  "--webhook-max-pending", "2", "--webhook-backoff", "60s",
                  "--admin-listen", "127.0.0.1:0")
    api = Api(d)
    for i in range(4):
        CPE(cwmp_addr(d)).inform(f"Q{i}")
    d.wait_for(r"webhook_queue_full hook=hook1 event=device.registered max_pending=2")
    rows = wait_api(api, lambda r: len(r) == 2, status="pending")
    # the first two were kept, in order; the later ones refused
    assert sorted(json.dumps(r["body"]["data"]["device"]["id"]) for r in rows) == [
        '"00D09E-IGD-Q0"', '"00D09E-IGD-Q1"']
    assert sum("webhook_queue_full" in line for line in d.lines) == 1    # one line per spell
    hooks = api.get("/api/webhooks").json()
    assert hooks[0]["counters"]["refused"] == 2 and hooks[0]["counters"]["queued"] == 2
    m = prom.parse(requests.get(d.url("admin") + "/metrics", timeout=5,
                                headers={"Authorization": f"Bearer {TOKEN}"}).text)
    assert m[("outpost_acs_webhook_refused_total", ())] == 2


def test_https_receiver_verified(outpost, tmp_path, pki):
    """TLS is verified by default: a receiver whose CA the ACS does not know
    gets nothing; with ca=FILE (its CA) it gets the event."""
    rcv = Receiver(tls=(pki["server.pem"], pki["server.key"]))
    d = start_acs(outpost, tmp_path, "--cpe-auth", "none",
                  *hook(rcv.url, "name=unknown-ca", "events=device.registered"),
                  *hook(rcv.url, "name=our-ca", f"ca={pki['ca.pem']}", "events=device.registered"),
                  "--webhook-backoff", "1s", "--webhook-retry-for", "1s")
    api = Api(d)
    CPE(cwmp_addr(d)).inform("S1")
    rows = wait_api(api, lambda r: len(r) == 2 and all(x["status"] != "pending" for x in r))
    by = {r["hook"]: r for r in rows}
    assert by["our-ca"]["status"] == "delivered"
    assert by["unknown-ca"]["status"] == "failed" and "certificate" in by["unknown-ca"]["last_error"].lower()
    got = rcv.wait(lambda g: len(g) >= 1)
    assert len(got) == 1 and verify(got[0])["event"] == "device.registered"
    rcv.close()


def test_provisioning_fault_event(outpost, tmp_path):
    if not has_cpesim():
        pytest.skip("cpe-sim not built")
    rcv = Receiver()
    d = start_acs(outpost, tmp_path, "--cpe-auth", "none", "--cr-deny", "169.254.0.0/16",
                  *hook(rcv.url, "events=fault"))
    api = Api(d)
    r = api.s.put(api.base + "/api/provisions/broken", data=b"local x = 1\nerror('boom')\n", timeout=30)
    assert r.status_code in (200, 201), r.text
    r = api.s.put(api.base + "/api/presets/broken", json={
        "events": ["0 BOOTSTRAP"], "provisions": [{"type": "script", "name": "broken"}]}, timeout=30)
    assert r.status_code in (200, 201), r.text
    host, port = d.addr("listen")
    sim = outpost("cpe-sim", "--acs", f"http://{host}:{port}/", "--count", "1",
                  "--cr-listen", "127.0.0.1:0", "--inform-interval", "600", "--stats-interval", "0")
    got = rcv.wait(lambda g: len(g) >= 1)
    body = verify(got[0])
    assert body["event"] == "fault"
    data = body["data"]
    assert data["source"] == "provisioning" and data["preset"] == "broken"
    assert data["provision"] == "broken" and data["line"] == 2 and "boom" in data["message"]
    assert data["code"] == 9002 and data["outcome"] == "fault"
    sim.stop()
    rcv.close()


def test_sighup_reloads_the_webhooks(outpost, tmp_path):
    """The config file's webhooks are read again on SIGHUP: a hook whose URL
    and secret changed sends the next event to the new receiver, signed with
    the new secret; a hook that is gone sends nothing more: its pending
    delivery is failed when its turn comes (counted); a file with an error
    changes nothing."""
    old, new, gone = Receiver(), Receiver(), Receiver(plan=[500])
    new_secret = "another-secret-for-the-new-receiver"
    cfg = tmp_path / "acs.yaml"

    def config(*hooks):
        cfg.write_text("webhook:\n" + "".join(
            f"  - {{url: '{url}', secret: '{secret}', name: {name}}}\n" for url, secret, name in hooks)
            + "webhook-backoff: 5s\nadmin-listen: 127.0.0.1:0\nmetrics-public: true\n")

    config((old.url, SECRET, "ops"), (gone.url, SECRET, "gone"))
    d = start_acs(outpost, tmp_path, "--cpe-auth", "none", "--config", str(cfg))
    api = Api(d)
    CPE(cwmp_addr(d)).inform("S1")
    verify(old.wait(lambda g: len(g) >= 1)[0])
    gone.wait(lambda g: len(g) >= 1)  # answered 500: its delivery waits 5 s for a retry
    config((new.url, new_secret, "ops"))
    d.signal(signal.SIGHUP)
    d.wait_for(r"webhooks_reloaded hooks=1 added=0 changed=1 removed=1")
    d.wait_for(rf"webhook_changed name=ops url={re.escape(new.url)}")
    d.wait_for(r"webhook_removed name=gone")
    CPE(cwmp_addr(d)).inform("S2")
    got = new.wait(lambda g: len(g) >= 1)
    body = verify(got[0], secret=new_secret)
    assert body["event"] == "device.registered" and body["data"]["device"]["id"] == "00D09E-IGD-S2"
    with pytest.raises(AssertionError):
        verify(got[0])  # not the old secret's signature
    assert len(old.got) == 1  # nothing more went to the old URL
    # the removed hook's delivery: failed when its retry came, not sent
    rows = wait_api(api, lambda r: any(x["hook"] == "gone" for x in r), status="failed")
    row = [x for x in rows if x["hook"] == "gone"][0]
    assert "no hook of that name is configured" in row["last_error"], row
    assert len(gone.got) == 1
    d.wait_for(r"webhook_unconfigured hook=gone ")
    m = prom.parse(requests.get(d.url("admin") + "/metrics", timeout=5).text)
    assert m[("outpost_acs_webhook_unconfigured_total", ())] == 1
    assert [h["name"] for h in api.get("/api/webhooks").json()] == ["ops"]
    assert api.get("/api/webhooks").json()[0]["url"] == new.url
    # a file with an error: the hooks stay as they were
    n = len(d.lines)
    cfg.write_text("webhook:\n  - {url: 'ftp://nowhere/', secret: 'short'}\nadmin-listen: 127.0.0.1:0\n")
    d.signal(signal.SIGHUP)
    d.wait_for(r"presets_reload_failed", start=n)
    CPE(cwmp_addr(d)).inform("S3")
    new.wait(lambda g: len(g) >= 2)
    verify(new.got[1], secret=new_secret)
    for r in (old, new, gone):
        r.close()


def test_sighup_adds_the_first_webhook(outpost, tmp_path):
    """An ACS started without webhooks gets one from the file on SIGHUP."""
    rcv = Receiver()
    cfg = tmp_path / "acs.yaml"
    cfg.write_text("admin-listen: 127.0.0.1:0\n")
    d = start_acs(outpost, tmp_path, "--cpe-auth", "none", "--config", str(cfg))
    CPE(cwmp_addr(d)).inform("F1")  # no hook: no event queued
    cfg.write_text(f"webhook:\n  - {{url: '{rcv.url}', secret: '{SECRET}'}}\nadmin-listen: 127.0.0.1:0\n")
    d.signal(signal.SIGHUP)
    d.wait_for(r"webhooks_reloaded hooks=1 added=1 changed=0 removed=0")
    CPE(cwmp_addr(d)).inform("F2")
    got = rcv.wait(lambda g: len(g) >= 1)
    body = verify(got[0])
    assert body["event"] == "device.registered" and body["data"]["device"]["id"] == "00D09E-IGD-F2"
    time.sleep(0.5)
    assert len(rcv.got) == 1
    rcv.close()
