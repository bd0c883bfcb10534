"""REST round trips through relay-client -> relay -> relay-connector -> a local
HTTP service (Python's http.server), and EVENT delivery the other way."""
import base64
import concurrent.futures
import http.server
import json
import os
import threading
import time
import urllib.parse

import pytest
import requests

from conftest import run_outpost
from relay_util import PKI, metric, start_relay, ws_url


class Target(http.server.BaseHTTPRequestHandler):
    """Echoes what it received as JSON, except for a few special paths."""
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def _body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def _send(self, status, ctype, body, extra=(), reason=None):
        self.send_response(status, reason)
        if ctype:
            self.send_header("Content-Type", ctype)
        for k, v in extra:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _handle(self):
        body = self._body()
        u = urllib.parse.urlsplit(self.path)
        if u.path == "/bin":
            return self._send(200, "application/octet-stream", bytes(range(256)) * 4)
        if u.path == "/text":
            return self._send(200, "text/plain; charset=utf-8", "héllo wörld\n".encode())
        if u.path == "/teapot":
            return self._send(418, "application/json", b'{"short":"and stout"}', [("X-Custom", "yes")],
                              reason="Short And Stout")
        if u.path == "/big":
            return self._send(200, "application/octet-stream", b"z" * 100000)
        if u.path == "/empty":
            return self._send(204, None, b"")
        if u.path == "/slow":
            ms = int(urllib.parse.parse_qs(u.query).get("ms", ["3000"])[0])
            time.sleep(ms / 1000)
        echo = {
            "method": self.command, "path": u.path, "query": urllib.parse.parse_qsl(u.query, keep_blank_values=True),
            "headers": {k.lower(): v for k, v in self.headers.items()},
            "ctype": self.headers.get("Content-Type"), "body_b64": base64.b64encode(body).decode(),
        }
        self._send(200, "application/json", json.dumps(echo).encode())

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _handle


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return PKI(tmp_path_factory.mktemp("pki"))


class TargetServer(http.server.ThreadingHTTPServer):
    request_queue_size = 256  # socketserver's default backlog of 5 drops SYNs under a burst
    daemon_threads = True


@pytest.fixture
def target():
    srv = TargetServer(("127.0.0.1", 0), Target)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()


def start_connector(outpost, pki, relay, target, *extra, meeting="gw-0001"):
    return outpost("relay-connector", "--relay-url", ws_url(relay, meeting), "--tls-cert", pki.pkeycert("gw-0001"),
                   "--tls-ca", pki.cert("root"), "--target", target, "--events-listen", "127.0.0.1:0",
                   "--peer-class", "micronets-dhcp-service", "--peer-id", "gw-0001", "--reconnect-min", "50ms",
                   "--reconnect-max", "500ms", *extra)


def start_client(outpost, pki, relay, *extra, meeting="gw-0001"):
    return outpost("relay-client", "--listen", "127.0.0.1:0", "--relay-url", ws_url(relay, meeting),
                   "--tls-cert", pki.pkeycert("manager"), "--tls-ca", pki.cert("root"),
                   "--peer-class", "micronets-manager", "--peer-id", "m1", "--reconnect-min", "50ms",
                   "--reconnect-max", "500ms", *extra)


@pytest.fixture
def chain(outpost, pki, target):
    relay = start_relay(outpost, pki)
    conn = start_connector(outpost, pki, relay, target)
    client = start_client(outpost, pki, relay, "--request-timeout", "1s")
    client.wait_for(r"relay_link_up .*partner_id=gw-0001")
    conn.wait_for(r"relay_link_up .*partner_id=m1")
    return relay, conn, client


def echo(resp):
    assert resp.status_code == 200, resp.text
    return resp.json()


def test_get_with_query_and_headers(chain):
    relay, conn, client = chain
    r = requests.get(client.url() + "/micronets/v1/dhcp/subnets?a=1&b=x%20y&b=z&empty=",
                     headers={"X-Trace": "abc", "Accept": "application/json", "Content-Type": "application/json"})
    e = echo(r)
    assert e["method"] == "GET"
    assert e["path"] == "/micronets/v1/dhcp/subnets"
    assert e["query"] == [["a", "1"], ["b", "x y"], ["b", "z"], ["empty", ""]]
    assert e["headers"]["x-trace"] == "abc"
    assert e["headers"]["accept"] == "application/json"
    assert e["headers"]["host"] == urllib.parse.urlsplit(conn.args[conn.args.index("--target") + 1]).netloc
    assert e["body_b64"] == ""
    assert r.headers["Content-Type"] == "application/json"


def test_post_put_delete_json(chain):
    relay, conn, client = chain
    doc = {"subnetId": "mocksubnet007", "ipv4Network": {"network": "192.168.1.0", "mask": "255.255.255.0"},
           "nameservers": ["1.2.3.4", "1.2.3.5"], "n": [1, 2.5, True, None], "text": "é\u2603"}
    for method in ("POST", "PUT", "PATCH"):
        e = echo(requests.request(method, client.url() + "/micronets/v1/dhcp/subnets", json=doc))
        assert e["method"] == method
        assert e["ctype"] == "application/json"
        assert json.loads(base64.b64decode(e["body_b64"])) == doc
    e = echo(requests.delete(client.url() + "/micronets/v1/dhcp/subnets/mocksubnet007"))
    assert e["method"] == "DELETE" and e["path"] == "/micronets/v1/dhcp/subnets/mocksubnet007"


def test_text_and_binary_bodies_both_ways(chain):
    relay, conn, client = chain
    text = "plain text, ünïcödé\nline two\x00nul".encode()
    e = echo(requests.put(client.url() + "/t", data=text, headers={"Content-Type": "text/plain; charset=utf-8"}))
    assert base64.b64decode(e["body_b64"]) == text
    assert e["ctype"] == "text/plain; charset=utf-8"
    blob = os.urandom(50000) + b"\x00\xff"
    e = echo(requests.post(client.url() + "/b", data=blob, headers={"Content-Type": "application/octet-stream"}))
    assert base64.b64decode(e["body_b64"]) == blob
    # a body its type cannot carry (not JSON, not UTF-8) still arrives byte for byte
    for ctype, body in (("application/json", b"{not json"), ("text/plain; charset=latin1", b"caf\xe9")):
        e = echo(requests.post(client.url() + "/x", data=body, headers={"Content-Type": ctype}))
        assert base64.b64decode(e["body_b64"]) == body and e["ctype"] == ctype
    r = requests.get(client.url() + "/bin")
    assert r.status_code == 200 and r.content == bytes(range(256)) * 4
    assert r.headers["Content-Type"] == "application/octet-stream"
    r = requests.get(client.url() + "/text")
    assert r.content == "héllo wörld\n".encode() and r.headers["Content-Type"] == "text/plain; charset=utf-8"


def test_status_and_headers_come_back(chain):
    relay, conn, client = chain
    r = requests.get(client.url() + "/teapot")
    assert r.status_code == 418 and r.json() == {"short": "and stout"} and r.headers["X-Custom"] == "yes"
    assert r.reason == "Short And Stout"  # the service's own reason phrase, not the standard one
    r = requests.get(client.url() + "/empty")
    assert r.status_code == 204 and r.content == b""


def test_many_requests_in_flight(chain):
    relay, conn, client = chain
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        futs = {pool.submit(requests.get, client.url() + f"/slow?ms=100&n={i}"): i for i in range(48)}
        for f in concurrent.futures.as_completed(futs):
            e = echo(f.result())
            assert ["n", str(futs[f])] in e["query"]


def test_timeout_is_504(chain):
    relay, conn, client = chain
    r = requests.get(client.url() + "/slow?ms=2500")
    assert r.status_code == 504
    client.wait_for(r"relay_client_timeout")
    assert echo(requests.get(client.url() + "/fast"))["path"] == "/fast"  # the late answer is ignored


def test_too_large_is_413(outpost, pki, target):
    relay = start_relay(outpost, pki)
    start_connector(outpost, pki, relay, target)
    client = start_client(outpost, pki, relay, "--max-message", "64KiB")
    client.wait_for(r"relay_link_up")
    r = requests.post(client.url() + "/big", data=os.urandom(60000), headers={"Content-Type": "application/octet-stream"})
    assert r.status_code == 413  # base64 makes 80 kB out of it


def test_response_too_large_is_502(outpost, pki, target):
    relay = start_relay(outpost, pki)
    conn = start_connector(outpost, pki, relay, target, "--max-message", "64KiB")
    client = start_client(outpost, pki, relay)
    client.wait_for(r"relay_link_up")
    r = requests.get(client.url() + "/big")
    assert r.status_code == 502 and "larger than --max-message" in r.text, (r.status_code, r.text)
    conn.wait_for(r"relay_connector_target_failed .*ENOBUFS")
    assert echo(requests.get(client.url() + "/small"))["path"] == "/small"  # the connector carries on


def test_not_connected_503_then_link_loss_502_and_reconnect(outpost, pki, target):
    relay = start_relay(outpost, pki)
    client = start_client(outpost, pki, relay, "--request-timeout", "10s")
    r = requests.get(client.url() + "/x")
    assert r.status_code == 503 and r.headers["Retry-After"]
    conn = start_connector(outpost, pki, relay, target)
    client.wait_for(r"relay_link_up")
    assert echo(requests.get(client.url() + "/x"))["path"] == "/x"
    # the connector dies with a request in flight: 502 at once, not after the timeout
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        f = pool.submit(requests.get, client.url() + "/slow?ms=3000")
        for _ in range(500):  # until the relay has copied the request to the connector
            if metric(relay, "outpost_relay_messages_total") >= 3:
                break
            time.sleep(0.01)
        conn.kill()
        r = f.result(timeout=10)
    assert r.status_code == 502
    client.wait_for(r"relay_link_retry")
    # a new connector: the client has reconnected and works again
    seen = len(client.lines)
    start_connector(outpost, pki, relay, target)
    client.wait_for(r"relay_link_up .*partner_id=gw-0001", start=seen)
    for _ in range(100):
        r = requests.get(client.url() + "/again")
        if r.status_code == 200:
            break
        time.sleep(0.05)
    assert echo(r)["path"] == "/again"


def test_events(outpost, pki, target, tmp_path):
    relay = start_relay(outpost, pki)
    got = []

    class Hook(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            got.append((self.headers["X-Relay-Event"], json.loads(body)))
            self.send_response(204)
            self.send_header("Content-Length", "0")
            self.end_headers()

    hook = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=hook.serve_forever, daemon=True).start()
    try:
        conn = start_connector(outpost, pki, relay, target)
        client = start_client(outpost, pki, relay)
        client.wait_for(r"relay_link_up")
        conn.wait_for(r"relay_link_up")
        events = conn.url("listen")
        # a local service publishes an event: the client prints it, one JSON line
        r = requests.post(events + "/events/lease-change", json={"ip": "10.0.0.2", "mac": "aa:bb"})
        assert r.status_code == 202
        m = client.wait_for(r'^\{"message":\{.*"messageType":"EVENT:lease-change"')
        msg = json.loads(m.string)["message"]
        assert msg["dataFormat"] == "application/json" and msg["messageBody"] == {"ip": "10.0.0.2", "mac": "aa:bb"}
        # the command-line form
        r = run_outpost("relay-connector", "--event", "gateway-up", "--data", '{"uptime": 5}', "--events-url", events)
        assert r.returncode == 0, r.stderr
        m = client.wait_for(r'"messageType":"EVENT:gateway-up"')
        assert json.loads(m.string)["message"]["messageBody"] == {"uptime": 5}
        r = run_outpost("relay-connector", "--event", "note", "--data", "plain words", "--events-url", events)
        assert r.returncode == 0, r.stderr
        m = client.wait_for(r'"messageType":"EVENT:note"')
        assert json.loads(m.string)["message"]["messageBody"] == "plain words"
        # with a webhook instead of stdout
        hooked = start_client(outpost, pki, relay, "--event-webhook",
                              f"http://127.0.0.1:{hook.server_address[1]}/hook", meeting="gw-0002")
        conn2 = start_connector(outpost, pki, relay, target, "--events-listen", "127.0.0.1:0", meeting="gw-0002")
        hooked.wait_for(r"relay_link_up")
        conn2.wait_for(r"relay_link_up")
        assert requests.post(conn2.url("listen") + "/events/alarm", data="fire", headers={"Content-Type": "text/plain"}
                             ).status_code == 202
        for _ in range(500):
            if got:
                break
            time.sleep(0.01)
        assert got[0][0] == "alarm" and got[0][1]["message"]["messageBody"] == "fire"
    finally:
        hook.shutdown()
        hook.server_close()
    # no partner: the events endpoint says so
    r = run_outpost("relay-connector", "--event", "x", "--data", "1", "--events-url", "http://127.0.0.1:1")
    assert r.returncode == 1


def test_slow_webhook_is_bounded(outpost, pki, target):
    """A webhook that does not answer holds at most 64 events in flight; the rest are dropped
    (logged), and delivery resumes once it answers."""
    lock, release = threading.Lock(), threading.Event()
    state = {"active": 0, "max": 0, "done": []}

    class Hook(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            with lock:
                state["active"] += 1
                state["max"] = max(state["max"], state["active"])
            release.wait(20)
            with lock:
                state["active"] -= 1
                state["done"].append(body["message"]["messageBody"])
            self.send_response(204)
            self.send_header("Content-Length", "0")
            self.end_headers()

    hook = TargetServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=hook.serve_forever, daemon=True).start()
    try:
        relay = start_relay(outpost, pki)
        client = start_client(outpost, pki, relay, "--event-webhook", f"http://127.0.0.1:{hook.server_address[1]}/")
        conn = start_connector(outpost, pki, relay, target)
        client.wait_for(r"relay_link_up")
        conn.wait_for(r"relay_link_up")
        events = conn.url("listen")
        for i in range(100):
            assert requests.post(events + "/events/tick", json=i).status_code == 202
        client.wait_for(r"relay_client_event_dropped .*in_flight=64")
        for _ in range(500):
            if state["active"] == 64:
                break
            time.sleep(0.01)
        assert state["active"] == 64 and state["max"] == 64, state
        release.set()
        for _ in range(2000):  # up to 20 s: 64 handler threads on a loaded machine
            if len(state["done"]) == 64:
                break
            time.sleep(0.01)
        # the 64 held events arrive once each, in full (which 64 may vary when a
        # POST fails on a loaded machine and frees its slot for a later event)
        done = state["done"]
        assert len(done) == len(set(done)) == 64 and set(done) <= set(range(100)), state
        assert requests.post(events + "/events/tick", json="after").status_code == 202
        for _ in range(500):
            if "after" in state["done"]:
                break
            time.sleep(0.01)
        assert "after" in state["done"]
    finally:
        release.set()
        hook.shutdown()
        hook.server_close()


def test_connector_answers_bad_requests(outpost, pki, target):
    """A hand-written manager sends malformed REST:REQUESTs; the connector answers each with an error."""
    import asyncio
    import websockets
    from relay_util import hello
    relay = start_relay(outpost, pki)
    conn = start_connector(outpost, pki, relay, target)

    async def scenario():
        w = await websockets.connect(ws_url(relay, "gw-0001"), ssl=pki.client_ctx("manager"))
        await w.send(hello("manager", "hand"))
        assert json.loads(await w.recv())["message"]["peerId"] == "gw-0001"
        bad = [
            {"messageId": 1, "messageType": "REST:REQUEST", "requiresResponse": True, "method": "GET", "path": "@x/"},
            {"messageId": 2, "messageType": "REST:REQUEST", "requiresResponse": True, "method": "GET", "path": "/",
             "headers": [{"name": "X", "value": "a\r\nInjected: 1"}]},
            {"messageId": 3, "messageType": "REST:REQUEST", "requiresResponse": True, "method": "get", "path": "/"},
            {"messageId": 4, "messageType": "SOMETHING:ELSE", "requiresResponse": True},
        ]
        for m in bad:
            await w.send(json.dumps({"message": m}))
        answers = {}
        for _ in bad:
            a = json.loads(await w.recv())["message"]
            answers[a["inResponseTo"]] = a["statusCode"]
        assert answers == {1: 400, 2: 400, 3: 400, 4: 501}
        # and a good one still works
        await w.send(json.dumps({"message": {"messageId": 5, "messageType": "REST:REQUEST", "requiresResponse": True,
                                             "method": "GET", "path": "/ok", "queryStrings": [{"name": "q", "value": "1 2"}]}}))
        a = json.loads(await w.recv())["message"]
        assert a["inResponseTo"] == 5 and a["statusCode"] == 200
        assert a["messageBody"]["query"] == [["q", "1 2"]]
        await w.close()

    asyncio.run(asyncio.wait_for(scenario(), 30))


def test_client_against_a_misbehaving_gateway(outpost, pki):
    """A hand-written gateway: a REST:RESPONSE that does not decode is a 502 with the reason,
    a request sent to the client is answered 501, and an answer for nobody is ignored."""
    import asyncio
    import websockets
    from relay_util import hello
    relay = start_relay(outpost, pki)
    client = start_client(outpost, pki, relay, "--request-timeout", "10s")

    async def scenario():
        w = await websockets.connect(ws_url(relay, "gw-0001"), ssl=pki.client_ctx("gw-0001"))
        await w.send(hello("micronets-dhcp-service", "hand"))
        assert json.loads(await w.recv())["message"]["peerId"] == "m1"
        loop = asyncio.get_running_loop()
        fut = loop.run_in_executor(None, lambda: requests.get(client.url() + "/x", timeout=10))
        req = json.loads(await w.recv())["message"]
        assert req["messageType"] == "REST:REQUEST" and req["path"] == "/x"
        await w.send(json.dumps({"message": {"messageId": 1, "messageType": "REST:RESPONSE", "requiresResponse": False,
                                             "inResponseTo": req["messageId"] + 1000, "statusCode": 200}}))
        await w.send(json.dumps({"message": {"messageId": 2, "messageType": "REST:RESPONSE", "requiresResponse": False,
                                             "inResponseTo": req["messageId"], "statusCode": 99}}))
        r = await fut
        assert r.status_code == 502 and "statusCode" in r.text, (r.status_code, r.text)
        await w.send(json.dumps({"message": {"messageId": 3, "messageType": "REST:REQUEST", "requiresResponse": True,
                                             "method": "GET", "path": "/"}}))
        a = json.loads(await w.recv())["message"]
        assert a["messageType"] == "REST:RESPONSE" and a["inResponseTo"] == 3 and a["statusCode"] == 501
        await w.close()

    asyncio.run(asyncio.wait_for(scenario(), 30))
    client.wait_for(r"relay_client_bad_response .*statusCode")


def test_keep_waiting_partner_replaced(outpost, pki, target):
    """With --keep-waiting the client is never closed: a new connector's HELLO tells it
    the partner changed, and requests flow again."""
    relay = start_relay(outpost, pki, "--keep-waiting")
    conn = start_connector(outpost, pki, relay, target)
    client = start_client(outpost, pki, relay, "--request-timeout", "1s")
    client.wait_for(r"relay_link_up")
    assert echo(requests.get(client.url() + "/one"))["path"] == "/one"
    conn.kill()
    relay.wait_for(r"relay_partner_left .*action=waiting")
    assert requests.get(client.url() + "/lost").status_code == 504  # dropped by the relay: nobody there
    seen = len(client.lines)
    start_connector(outpost, pki, relay, target)
    client.wait_for(r"relay_link_partner_changed .*partner_id=gw-0001", start=seen)
    assert echo(requests.get(client.url() + "/two"))["path"] == "/two"
    assert metric(relay, "outpost_relay_dropped_total") >= 1


def test_relay_restart_both_ends_reconnect(outpost, pki, target):
    from conftest import free_port
    from relay_util import TOKEN
    port = free_port()
    args = ["relay", "--listen", f"127.0.0.1:{port}", "--admin-listen", "", "--api-token", TOKEN,
            *pki.relay_args()]
    relay = outpost(*args)
    conn = start_connector(outpost, pki, relay, target)
    client = start_client(outpost, pki, relay)
    client.wait_for(r"relay_link_up")
    assert echo(requests.get(client.url() + "/before"))["path"] == "/before"
    relay.stop()
    client.wait_for(r"relay_link_closed .*was_up=true")
    assert requests.get(client.url() + "/during").status_code == 503
    seen_c, seen_n = len(client.lines), len(conn.lines)
    outpost(*args)  # same address
    client.wait_for(r"relay_link_up", start=seen_c, timeout=15)
    conn.wait_for(r"relay_link_up", start=seen_n, timeout=15)
    assert echo(requests.get(client.url() + "/after"))["path"] == "/after"


def test_stalled_stdout_reader_costs_events_not_requests(outpost, pki, target, tmp_path):
    """Nobody reads the client's stdout: requests through it keep being answered, events beyond
    a 1 MiB queue are dropped with one warning, and a reader that comes back gets the queued
    events whole and in order."""
    import subprocess
    from conftest import outpost_bin
    relay = start_relay(outpost, pki)
    conn = start_connector(outpost, pki, relay, target)
    rfd, wfd = os.pipe()
    log_path = tmp_path / "client.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [outpost_bin(), "relay-client", "--listen", "127.0.0.1:0", "--relay-url", ws_url(relay, "gw-0001"),
             "--tls-cert", pki.pkeycert("manager"), "--tls-ca", pki.cert("root"),
             "--peer-class", "micronets-manager", "--peer-id", "m1", "--admin-listen", ""],
            stdin=subprocess.DEVNULL, stdout=wfd, stderr=log, cwd=tmp_path)
    os.close(wfd)

    def wait_log(pattern, timeout=15):
        import re
        end = time.time() + timeout
        while time.time() < end:
            m = re.search(pattern, log_path.read_text())
            if m:
                return m
            time.sleep(0.05)
        raise AssertionError(f"no /{pattern}/ in:\n{log_path.read_text()[-3000:]}")

    try:
        listen = wait_log(r"ready relay-client listen=(\S+)").group(1)
        wait_log(r"relay_link_up")
        conn.wait_for(r"relay_link_up")
        events = conn.url("listen")
        pad = "x" * 4000
        for i in range(400):  # 1.6 MB: the pipe's 64 KiB, then the 1 MiB queue, then drops
            assert requests.post(events + "/events/bulk", json={"n": i, "pad": pad}).status_code == 202
        wait_log(r'relay_client_event_dropped .*reason="stdout reader too slow"')
        r = requests.get(f"http://{listen}/echo", timeout=5)
        assert r.status_code == 200
        os.set_blocking(rfd, False)
        data, idle_since = b"", time.time()
        while time.time() - idle_since < 1.0:
            try:
                chunk = os.read(rfd, 1 << 16)
            except BlockingIOError:
                time.sleep(0.02)
                continue
            if chunk:
                data += chunk
                idle_since = time.time()
        lines = data.split(b"\n")
        assert lines[-1] == b""
        nums = [json.loads(line)["message"]["messageBody"]["n"] for line in lines[:-1]]
        assert nums == list(range(len(nums))) and 250 <= len(nums) < 400, len(nums)
        # the reader goes away: said once, then events are dropped, requests still served
        os.close(rfd)
        rfd = None
        for i in range(50):
            assert requests.post(events + "/events/late", json={"n": i}).status_code == 202
        wait_log(r"relay_client_stdout_failed .*EPIPE|relay_client_stdout_failed .*[Bb]roken pipe")
        assert requests.get(f"http://{listen}/echo", timeout=5).status_code == 200
        assert log_path.read_text().count("relay_client_stdout_failed") == 1
    finally:
        proc.terminate()
        assert proc.wait(timeout=15) == 0
        if rfd is not None:
            os.close(rfd)


def test_a_client_reading_val_gets_response_headers(outpost, pki, target):
    """The reference implementation's own test client reads a REST:RESPONSE
    header's value from `val`, the message spec from `value`: our connector
    answers with both in every header object, and a REST:REQUEST whose headers
    carry only `val` is read too."""
    import asyncio
    import websockets
    from relay_util import hello

    relay = start_relay(outpost, pki)
    conn = start_connector(outpost, pki, relay, target)

    async def run():
        async with websockets.connect(ws_url(relay, "gw-0001"), ssl=pki.client_ctx("manager"),
                                      max_size=None) as ws:
            await ws.send(hello("micronets-manager", "ref-client"))
            got = {}
            while len(got) < 2:  # the connector's own HELLO comes first
                m = json.loads(await ws.recv())["message"]
                if m["messageType"] == "CONN:HELLO":
                    for mid, path in ((7, "/teapot"), (8, "/echo")):
                        await ws.send(json.dumps({"message": {
                            "messageId": mid, "messageType": "REST:REQUEST", "requiresResponse": True,
                            "method": "GET", "path": path,
                            "headers": [{"name": "X-Asked-By", "val": "ref-client"}]}}))
                elif m["messageType"] == "REST:RESPONSE":
                    got[m["inResponseTo"]] = m
            return got[7], got[8]

    conn.wait_for(r"relay_link_open")
    m, echoed = asyncio.run(asyncio.wait_for(run(), 30))
    assert echoed["statusCode"] == 200
    body = echoed["messageBody"]
    body = body if isinstance(body, dict) else json.loads(body)
    assert body["headers"]["x-asked-by"] == "ref-client"  # a request header given as `val`
    assert m["statusCode"] == 418
    by_val = {h["name"].lower(): h["val"] for h in m["headers"]}
    assert by_val["x-custom"] == "yes"
    assert all(h["val"] == h["value"] for h in m["headers"])
