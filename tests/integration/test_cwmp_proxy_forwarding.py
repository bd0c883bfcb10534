"""cwmp-proxy against scripted ACS nodes: balancing per session, stickiness,
ConnectionRequestURL rewriting on the wire, body codings, health, reload,
admin endpoints and hostile input."""
import gzip
import json
import os
import signal
import socket
import threading
import time
import zlib

import requests

from cwmp_proxy_util import (Backend, Conn, cookie_value, gpv_response, header, inform,
                             proxied)

PUB = "http://proxy.test:7548"


def start_proxy(outpost, tmp_path, backends, *extra, name="px"):
    args = ["cwmp-proxy", "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0",
            "--wakeup-deny", "169.254.0.0/16",
            "--public-url", PUB, "--data-dir", str(tmp_path / name), "--api-token", "tok",
            "--health-interval", "100ms", "--health-timeout", "200ms", "--health-rise", "1",
            "--health-fall", "1"]
    for b in backends:
        args += ["--backend", b if isinstance(b, str) else b.url]
    return outpost(*args, *extra)


def wait_until(pred, timeout=10.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def status(px):
    r = requests.get(px.url("admin") + "/status", headers={"Authorization": "Bearer tok"}, timeout=5)
    assert r.status_code == 200
    return r.json()


def test_sessions_alternate_and_never_split(outpost, tmp_path):
    a, b = Backend("A"), Backend("B")
    px = start_proxy(outpost, tmp_path, [a, b])
    host, port = px.addr()
    seen = []
    for i in range(6):
        c = Conn(host, port)
        st, hd, body = c.post(inform(serial=f"S{i}"))
        assert st == 200
        seen.append(body.decode())
        # the rest of the session on the same connection: same node
        for _ in range(3):
            st, _, body2 = c.post("")
            assert st == 200 and body2.decode() == body.decode()
        c.close()
    assert seen == ["A", "B", "A", "B", "A", "B"]
    assert len(a.requests) == 12 and len(b.requests) == 12
    # each session is one TCP connection on its node
    assert len({r["conn"] for r in a.requests}) == 3
    a.stop()
    b.stop()


def test_reconnect_mid_session_stays(outpost, tmp_path):
    def reply(req):
        return 200, {"Set-Cookie": f"acs_sid={req['backend']}x; Path=/"}, req["backend"].encode()
    a, b = Backend("A", reply), Backend("B", reply)
    px = start_proxy(outpost, tmp_path, [a, b])
    host, port = px.addr()
    c = Conn(host, port)
    st, hd, body = c.post(inform(serial="R1"))
    node = body.decode()
    token = cookie_value(hd, "OPLB")
    assert st == 200 and token and len(token) == 32
    assert cookie_value(hd, "acs_sid") == node + "x"  # the ACS's cookie passes through
    c.close()
    # Meanwhile other sessions move the rotation on.
    for i in range(3):
        Conn(host, port).post(inform(serial=f"other{i}"))
    for _ in range(4):  # reconnects with the proxy cookie
        c = Conn(host, port)
        st, hd, body = c.post("", {"Cookie": f"OPLB={token}; acs_sid={node}x"})
        assert st == 200 and body.decode() == node
        assert cookie_value(hd, "OPLB") is None  # nothing new to hand out
        c.close()
    # The node never sees the proxy's cookie, only its own.
    last = (a if node == "A" else b).requests[-1]
    assert last["headers"]["Cookie"] == f"acs_sid={node}x"
    # A CPE that only echoes the ACS's cookie lands there too.
    for _ in range(3):
        c = Conn(host, port)
        st, hd, body = c.post("", {"Cookie": f"acs_sid={node}x"})
        assert body.decode() == node
        c.close()
    # A new Inform with an old cookie is a new session: rotation decides.
    picks = set()
    for i in range(2):
        c = Conn(host, port)
        picks.add(c.post(inform(serial=f"new{i}"), {"Cookie": f"OPLB={token}"})[2].decode())
        c.close()
    assert picks == {"A", "B"}
    a.stop()
    b.stop()


def test_rewrite_on_the_wire(outpost, tmp_path):
    a = Backend("A")
    px = start_proxy(outpost, tmp_path, [a])
    host, port = px.addr()
    c = Conn(host, port)
    body = inform(crurl="http://192.168.100.50:7547/cr?x=1&amp;y=2")
    st, _, _ = c.post(body, {"X-Forwarded-For": "6.6.6.6", "Forwarded": "for=6.6.6.6"})
    assert st == 200
    got = a.requests[-1]
    want = body.replace("http://192.168.100.50:7547/cr?x=1&amp;y=2",
                        proxied(PUB, "http://192.168.100.50:7547/cr?x=1&y=2"))
    assert got["body"].decode() == want  # byte-exact elsewhere
    assert int(got["headers"]["Content-Length"]) == len(want.encode())
    # the CPE's own forwarding headers are not trusted
    assert got["headers"]["X-Forwarded-For"] == "127.0.0.1"
    assert got["headers"]["Forwarded"] == "for=127.0.0.1;proto=http"
    # hop-by-hop headers stay on the CPE's hop, also those Connection names
    c.post(body, {"Connection": "keep-alive, X-Hop", "X-Hop": "secret", "X-End": "kept"})
    got = a.requests[-1]
    assert "X-Hop" not in got["headers"] and got["headers"]["X-End"] == "kept"
    assert "Connection" not in got["headers"] or got["headers"]["Connection"] != "keep-alive, X-Hop"
    # GetParameterValuesResponse, TR-098 and TR-181, every occurrence
    g = gpv_response([("InternetGatewayDevice.ManagementServer.ConnectionRequestURL", "http://a:1/"),
                      ("Device.ManagementServer.URL", "http://acs/"),
                      ("Device.ManagementServer.ConnectionRequestURL", "http://b:2/")])
    st, _, _ = c.post(g)
    got = a.requests[-1]["body"].decode()
    assert proxied(PUB, "http://a:1/") in got and proxied(PUB, "http://b:2/") in got
    assert ">http://acs/<" in got
    # a message without any: forwarded untouched
    plain = '<soap-env:Envelope xmlns:soap-env="http://schemas.xmlsoap.org/soap/envelope/"><soap-env:Body/></soap-env:Envelope>'
    c.post(plain)
    assert a.requests[-1]["body"].decode() == plain
    # malformed XML: passed through, counted
    bad = inform().replace("</cwmp:Inform>", "</cwmp:Informx>")
    c.post(bad)
    assert a.requests[-1]["body"].decode().endswith("</cwmp:Informx></soap-env:Body></soap-env:Envelope>\n")
    c.close()
    s = status(px)
    assert s["rewrites"] == 5  # the malformed tail came after its rewrite
    px.wait_for(r"crurl_passthrough .*mismatched tag")
    a.stop()


def test_gzip_and_deflate_bodies(outpost, tmp_path):
    a = Backend("A")
    px = start_proxy(outpost, tmp_path, [a])
    host, port = px.addr()
    c = Conn(host, port)
    body = inform(crurl="http://10.9.9.9:7547/")
    # rewritten: sent decoded (identity) with correct headers
    c.post(gzip.compress(body.encode()), {"Content-Encoding": "gzip"})
    got = a.requests[-1]
    assert "Content-Encoding" not in got["headers"]
    assert proxied(PUB, "http://10.9.9.9:7547/") in got["body"].decode()
    assert int(got["headers"]["Content-Length"]) == len(got["body"])
    c.post(zlib.compress(body.encode()), {"Content-Encoding": "deflate"})
    assert proxied(PUB, "http://10.9.9.9:7547/") in a.requests[-1]["body"].decode()
    # nothing to rewrite: the compressed bytes go through untouched
    plain = gzip.compress(b"<soap-env:Envelope xmlns:soap-env='x'/>")
    c.post(plain, {"Content-Encoding": "gzip"})
    assert a.requests[-1]["body"] == plain
    assert a.requests[-1]["headers"]["Content-Encoding"] == "gzip"
    # corrupt and unknown codings are refused with a reason
    st, _, txt = c.post(b"\x1f\x8b\x08\x00garbage", {"Content-Encoding": "gzip"})
    assert st == 400 and b"corrupt" in txt
    c = Conn(host, port)
    st, _, txt = c.post(b"x", {"Content-Encoding": "br"})
    assert st == 415
    c.close()
    a.stop()


def test_gzip_reencoded_when_asked(outpost, tmp_path):
    a = Backend("A")
    px = start_proxy(outpost, tmp_path, [a], "--backend-encoding", "same")
    c = Conn(*px.addr())
    c.post(gzip.compress(inform(crurl="http://10.8.8.8:7547/").encode()), {"Content-Encoding": "gzip"})
    got = a.requests[-1]
    assert got["headers"]["Content-Encoding"] == "gzip"
    assert proxied(PUB, "http://10.8.8.8:7547/") in gzip.decompress(got["body"]).decode()
    c.close()
    a.stop()


def test_large_body_streams_chunked(outpost, tmp_path):
    a = Backend("A")
    px = start_proxy(outpost, tmp_path, [a], "--rewrite-window", "4KiB")
    c = Conn(*px.addr())
    filler = [(f"Device.X.{i}.Name", "v" * 100) for i in range(2000)]
    body = gpv_response(filler + [("Device.ManagementServer.ConnectionRequestURL", "http://10.7.7.7:1/")])
    st, _, _ = c.post(body)
    assert st == 200
    got = a.requests[-1]
    assert got["chunked"]
    assert got["body"].decode() == body.replace("http://10.7.7.7:1/", proxied(PUB, "http://10.7.7.7:1/"))
    px.wait_for(r"cwmp_proxy_streaming")
    # compressed and over the window: decoded and rewritten as it streams
    z = gzip.compress(body.encode())
    assert len(z) > 4096
    st, _, _ = c.post(z, {"Content-Encoding": "gzip"})
    assert st == 200
    got = a.requests[-1]
    assert got["chunked"] and "Content-Encoding" not in got["headers"]
    assert got["body"].decode() == body.replace("http://10.7.7.7:1/", proxied(PUB, "http://10.7.7.7:1/"))
    c.close()
    a.stop()


def test_large_gzip_body_reencoded_streaming(outpost, tmp_path):
    a = Backend("A")
    px = start_proxy(outpost, tmp_path, [a], "--rewrite-window", "4KiB", "--backend-encoding", "same")
    c = Conn(*px.addr())
    filler = [(f"Device.Y.{i}.Name", f"value-{i * 7919 % 1000003}") for i in range(4000)]
    body = gpv_response(filler + [("Device.ManagementServer.ConnectionRequestURL", "http://10.6.6.6:1/")])
    z = zlib.compress(body.encode())
    assert len(z) > 4096
    st, _, _ = c.post(z, {"Content-Encoding": "deflate"})
    assert st == 200
    got = a.requests[-1]
    assert got["chunked"] and got["headers"]["Content-Encoding"] == "deflate"
    assert zlib.decompress(got["body"]).decode() == body.replace(
        "http://10.6.6.6:1/", proxied(PUB, "http://10.6.6.6:1/"))
    c.close()
    a.stop()


def test_backend_killed(outpost, tmp_path):
    a, b = Backend("A"), Backend("B")
    px = start_proxy(outpost, tmp_path, [a, b])
    host, port = px.addr()
    live = {}
    for i in range(2):  # one live session on each node
        c = Conn(host, port)
        st, hd, body = c.post(inform(serial=f"L{i}"))
        live[body.decode()] = (c, cookie_value(hd, "OPLB"))
    b.stop()
    # the live session on B fails cleanly on its connection...
    cb, tok = live["B"]
    st, _, txt = cb.post("")
    assert st in (502, 504), (st, txt)
    cb.close()
    # ... and on a reconnect: never replayed to A
    c = Conn(host, port)
    st, _, txt = c.post("", {"Cookie": f"OPLB={tok}"})
    assert st == 502 and b"down" in txt
    c.close()
    # new sessions all go to A; the session on A carries on
    wait_until(lambda: not [x for x in status(px)["backends"] if x["url"] == b.url][0]["up"],
               what="B marked down")
    for i in range(4):
        c = Conn(host, port)
        assert c.post(inform(serial=f"N{i}"))[2] == b"A"
        c.close()
    ca, _ = live["A"]
    assert ca.post("")[2] == b"A"
    ca.close()
    # nothing up: 503 with Retry-After
    a.stop()
    wait_until(lambda: not any(x["up"] for x in status(px)["backends"]), what="all down")
    c = Conn(host, port)
    st, hd, txt = c.post(inform(serial="Z"))
    assert st == 503 and header(hd, "Retry-After") == "10"
    c.close()
    m = requests.get(px.url("admin") + "/metrics", headers={"Authorization": "Bearer tok"}).text
    assert 'outpost_cwmp_proxy_backend_up{backend="127.0.0.1:%d"} 0' % a.port in m
    assert "outpost_cwmp_proxy_no_backend_total 1" in m


def test_connect_failure_redispatches_new_session(outpost, tmp_path):
    a = Backend("A")
    dead = socket.socket()
    dead.bind(("127.0.0.1", 0))
    dead_port = dead.getsockname()[1]
    dead.close()  # nothing listens there
    px = start_proxy(outpost, tmp_path, [f"http://127.0.0.1:{dead_port}/", a],
                     "--health-interval", "1h", "--health-fall", "100")  # only passive marking
    host, port = px.addr()
    for i in range(3):
        c = Conn(host, port)
        st, _, body = c.post(inform(serial=f"D{i}"))
        assert st == 200 and body == b"A"
        c.close()
    px.wait_for(r"backend_down backend=127.0.0.1:%d" % dead_port)
    px.wait_for(r"cwmp_proxy_redispatch")
    a.stop()


def test_streamed_body_never_redispatched(outpost, tmp_path):
    """A body over the rewrite window went to the first node as it came and
    is in no buffer: when that node fails before it is connected (here a TLS
    handshake it never answers), the request fails; it is not sent to the
    next node with what little is left of its body."""
    a = Backend("A")
    mute = socket.socket()
    mute.bind(("127.0.0.1", 0))
    mute.listen(8)
    held = []

    def hold():  # accepts, reads everything, never speaks TLS, closes after 1.5 s
        mute.settimeout(10)
        try:
            c, _ = mute.accept()
        except OSError:
            return
        held.append(c)
        c.settimeout(0.2)
        t0 = time.monotonic()
        while time.monotonic() - t0 < 1.5:
            try:
                if not c.recv(65536):
                    break
            except socket.timeout:
                pass
        c.close()

    th = threading.Thread(target=hold, daemon=True)
    th.start()
    px = start_proxy(outpost, tmp_path, [f"https://127.0.0.1:{mute.getsockname()[1]}/", a],
                     "--rewrite-window", "4KiB", "--health-interval", "1h", "--health-fall", "100")
    c = Conn(*px.addr())
    big = inform(serial="ST1").replace("</ParameterList>", "".join(
        f"<ParameterValueStruct><Name>Device.X.{i}</Name><Value>{'v' * 100}</Value>"
        "</ParameterValueStruct>" for i in range(100)) + "</ParameterList>")
    assert len(big) > 8192
    st, _, _ = c.post(big)
    px.wait_for(r"cwmp_proxy_streaming")
    assert st in (502, 504)  # its connection closed, or its connect timeout ran out first
    assert not a.requests, [(r["headers"].get("Content-Length"), len(r["body"])) for r in a.requests]
    c.close()
    th.join(5)
    mute.close()
    a.stop()


def test_sighup_reload_keeps_live_sessions(outpost, tmp_path):
    a, b = Backend("A"), Backend("B")
    cfg = tmp_path / "proxy.yaml"
    cfg.write_text(f"backend:\n  - {a.url}\n")
    px = outpost("cwmp-proxy", "--config", str(cfg), "--listen", "127.0.0.1:0",
                 "--admin-listen", "127.0.0.1:0", "--wakeup-deny", "169.254.0.0/16", "--public-url", PUB,
                 "--data-dir", str(tmp_path / "px"), "--api-token", "tok")
    host, port = px.addr()
    live = Conn(host, port)
    assert live.post(inform(serial="H1"))[2] == b"A"
    cfg.write_text(f"backend:\n  - url={b.url} weight=2 name=acs-b\n")
    px.signal(signal.SIGHUP)
    px.wait_for(r"reload backends=1 added=1 retired=1")
    # the live session keeps its node...
    assert live.post("")[2] == b"A"
    assert live.post("")[2] == b"A"
    # ... new ones go to the new list
    for i in range(3):
        c = Conn(host, port)
        assert c.post(inform(serial=f"H{i+2}"))[2] == b"B"
        c.close()
    names = [x["name"] for x in status(px)["backends"]]
    assert "acs-b" in names
    live.close()
    # a broken file keeps the old list
    cfg.write_text("backend:\n  - ftp://nope/\n")
    px.signal(signal.SIGHUP)
    px.wait_for(r"reload_failed")
    c = Conn(host, port)
    assert c.post(inform(serial="H9"))[2] == b"B"
    c.close()
    a.stop()
    b.stop()


def test_admin_requires_token(outpost, tmp_path):
    a = Backend("A")
    px = start_proxy(outpost, tmp_path, [a])
    base = px.url("admin")
    assert requests.get(base + "/metrics", timeout=5).status_code == 401
    r = requests.get(base + "/status", headers={"Authorization": "Bearer nope"}, timeout=5)
    assert r.status_code == 401 and "Bearer" in r.headers["WWW-Authenticate"]
    r = requests.get(base + "/metrics", headers={"Authorization": "Bearer tok"}, timeout=5)
    assert r.status_code == 200
    for name in ("outpost_cwmp_proxy_requests_total", "outpost_cwmp_proxy_backend_up", "outpost_cwmp_proxy_rewrites_total",
                 "outpost_cwmp_proxy_wakeups_total", "outpost_cwmp_proxy_backend_response_seconds_bucket",
                 "outpost_cwmp_proxy_backend_sessions_total"):
        assert name in r.text
    s = status(px)
    assert s["daemon"] == "cwmp-proxy" and s["public_url"] == PUB
    a.stop()


def test_hostile_input(outpost, tmp_path):
    a = Backend("A")
    px = start_proxy(outpost, tmp_path, [a], "--max-body", "64KiB")
    host, port = px.addr()
    # body over the cap
    c = Conn(host, port)
    st, _, txt = c.post("x" * 70000)
    assert st == 413
    c.close()
    # request smuggling attempt
    s = socket.create_connection((host, port))
    s.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
    assert s.recv(100).startswith(b"HTTP/1.1 400")
    s.close()
    # a header continued on the next line (obs-fold)
    s = socket.create_connection((host, port))
    s.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n")
    assert s.recv(200).startswith(b"HTTP/1.1 400")
    s.close()
    # a CPE that stops mid-body: nothing reaches the node, the proxy stays up
    s = socket.create_connection((host, port))
    s.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n<soap")
    s.close()
    # upgrade attempts are refused
    s = socket.create_connection((host, port))
    s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")
    assert s.recv(100).startswith(b"HTTP/1.1 501")
    s.close()
    c = Conn(host, port)
    assert c.post(inform())[0] == 200
    c.close()
    assert all(r["body"] != b"<soap" for r in a.requests)
    a.stop()


def test_one_address_cannot_hold_every_connection(outpost, tmp_path):
    """--max-connections-per-addr: the one more from an address holding its
    share is answered 503 and closed; another address goes on."""
    a = Backend("A")
    px = start_proxy(outpost, tmp_path, [a], "--max-connections-per-addr", "2")
    host, port = px.addr()
    idle = [socket.create_connection((host, port), source_address=("127.0.0.9", 0), timeout=10)
            for _ in range(2)]
    s = socket.create_connection((host, port), source_address=("127.0.0.9", 0), timeout=10)
    out = b""
    while chunk := s.recv(4096):
        out += chunk
    assert out.startswith(b"HTTP/1.1 503 ") and b"too many connections from your address" in out
    s.close()
    c = Conn(host, port)                          # from 127.0.0.1
    assert c.post(inform())[0] == 200
    c.close()
    for i in idle:
        i.close()
    a.stop()


def send_chunked(host, port, head, body, piece=8192):
    """A CPE that uploads with Transfer-Encoding: chunked (no length up front)."""
    s = socket.create_connection((host, port))
    s.settimeout(10)
    s.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n" + head + b"\r\n")
    return s, [b"%x\r\n" % len(body[i:i + piece]) + body[i:i + piece] + b"\r\n"
               for i in range(0, len(body), piece)] + [b"0\r\n\r\n"]


def test_chunked_upload_expect_and_trusted_forwarding(outpost, tmp_path):
    a = Backend("A")
    px = start_proxy(outpost, tmp_path, [a], "--trust-forwarded")
    body = inform(crurl="http://10.3.3.3:7547/").encode()
    s, chunks = send_chunked(*px.addr(), b"Expect: 100-continue\r\nX-Forwarded-For: 192.0.2.1\r\n"
                             b"Forwarded: for=192.0.2.1\r\n", body, piece=300)
    # the proxy answers the expectation itself, before any body
    assert s.recv(100) == b"HTTP/1.1 100 Continue\r\n\r\n"
    for c in chunks:
        s.sendall(c)
    assert s.recv(4096).startswith(b"HTTP/1.1 200 ")
    s.close()
    got = a.requests[-1]
    # collected whole, rewritten, sent with an exact length
    assert not got["chunked"] and int(got["headers"]["Content-Length"]) == len(got["body"])
    assert got["body"].decode() == body.decode().replace(
        "http://10.3.3.3:7547/", proxied(PUB, "http://10.3.3.3:7547/"))
    assert "Expect" not in got["headers"]
    # a proxy in front is trusted: its addresses are kept and ours appended
    assert got["headers"]["X-Forwarded-For"] == "192.0.2.1, 127.0.0.1"
    assert got["headers"]["Forwarded"] == "for=192.0.2.1, for=127.0.0.1;proto=http"
    a.stop()


def test_chunked_body_over_max_body(outpost, tmp_path):
    # Streamed (over the window) and chunked (no length to refuse up front):
    # the cap still holds, and the node is not blamed for the cut.
    a = Backend("A")
    px = start_proxy(outpost, tmp_path, [a], "--max-body", "64KiB", "--rewrite-window", "4KiB",
                     "--health-interval", "1h")
    body = gpv_response([(f"Device.X.{i}.Name", "v" * 100) for i in range(2000)]).encode()
    assert len(body) > 4 * 65536
    s, chunks = send_chunked(*px.addr(), b"", body)
    try:
        for c in chunks:
            s.sendall(c)
    except OSError:
        pass  # the proxy may close while we still send
    assert s.recv(100).startswith(b"HTTP/1.1 413")
    s.close()
    px.wait_for(r"cwmp_proxy_refused .*status=413")
    assert all(len(r["body"]) < 65536 for r in a.requests)
    # the node is still up and takes the next session
    assert all(x["up"] for x in status(px)["backends"])
    assert not [l for l in px.lines if "backend_down" in l]
    c = Conn(*px.addr())
    assert c.post(inform(serial="AFTER"))[0] == 200
    c.close()
    a.stop()


def test_node_back_up_and_chunked_response(outpost, tmp_path):
    parts = [b"<soap-env:Envelope>", b"x" * 5000, b"</soap-env:Envelope>"]

    def chunked(req):
        return 200, {"Transfer-Encoding": "chunked"}, b"".join(
            b"%x\r\n" % len(p) + p + b"\r\n" for p in parts) + b"0\r\n\r\n"
    a, b = Backend("A", chunked), Backend("B")
    px = start_proxy(outpost, tmp_path, [a, b], "--health-rise", "2")
    host, port = px.addr()
    # a node's chunked answer reaches the CPE whole
    c = Conn(host, port)
    st, _, body = c.post(inform(serial="C0"))
    assert st == 200 and body == b"".join(parts)
    c.close()
    # B goes away, then comes back where it was: after --health-rise
    # passed checks it takes new sessions again
    b.stop()
    wait_until(lambda: not [x for x in status(px)["backends"] if x["url"] == b.url][0]["up"],
               what="B marked down")
    b2 = Backend("B", port=b.port)
    px.wait_for(r"backend_up backend=127.0.0.1:%d" % b.port)
    picks = []
    for i in range(4):
        c = Conn(host, port)
        picks.append(c.post(inform(serial=f"U{i}"))[2][:1])
        c.close()
    assert sorted(picks) == [b"<", b"<", b"B", b"B"]
    a.stop()
    b2.stop()


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        return int(next(l for l in f if l.startswith("VmRSS:")).split()[1])


def test_response_backpressure(outpost, tmp_path):
    # A node sends far more than a CPE reads: the proxy holds a bounded
    # amount, pausing the node, and relays everything once the CPE reads.
    big = os.urandom(1 << 20) * 40  # 40 MiB
    a = Backend("A", lambda req: (200, {"Content-Type": "application/octet-stream"}, big))
    px = start_proxy(outpost, tmp_path, [a])
    base = rss_kib(px.proc.pid)
    s = socket.create_connection(px.addr())
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    body = inform().encode()
    s.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
    got = s.recv(65536)
    head, _, rest = got.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200") and b"Content-Length: %d" % len(big) in head
    # the CPE stops reading; give the node time to push whatever it can
    time.sleep(1.0)
    grown = rss_kib(px.proc.pid) - base
    assert grown < 16 * 1024, f"proxy grew {grown} KiB while the CPE did not read"
    n = len(rest)
    s.settimeout(20)
    while n < len(big):
        chunk = s.recv(1 << 20)
        assert chunk
        n += len(chunk)
    assert n == len(big)
    s.close()
    a.stop()


def test_node_errors_map_to_gateway_statuses(outpost, tmp_path):
    import threading
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)
    mode = {"m": "silent"}
    conns = []
    stop = threading.Event()

    def serve():
        srv.settimeout(0.1)
        while not stop.is_set():
            try:
                s, _ = srv.accept()
            except OSError:
                continue
            conns.append(s)
            try:
                s.settimeout(2)
                if s.recv(65536) and mode["m"] == "garbage":
                    s.sendall(b"NOT HTTP\r\n\r\n")
                elif mode["m"] == "fold":
                    s.sendall(b"HTTP/1.1 200 OK\r\nContent-Length:\r\n 2\r\n\r\nok")
            except OSError:
                pass
    t = threading.Thread(target=serve, daemon=True)
    t.start()
    px = start_proxy(outpost, tmp_path, [f"http://127.0.0.1:{srv.getsockname()[1]}/"],
                     "--backend-timeout", "300ms", "--health-interval", "1h")
    # A node that accepts and never answers: 504 after --backend-timeout.
    c = Conn(*px.addr())
    st, _, txt = c.post(inform())
    assert st == 504 and b"in time" in txt
    c.close()
    # A node that answers garbage: 502 with the reason.
    mode["m"] = "garbage"
    c = Conn(*px.addr())
    st, _, txt = c.post(inform())
    assert st == 502 and b"invalid response" in txt
    c.close()
    # A node that folds a header line: refused as a proxy may (RFC 9112 5.2).
    mode["m"] = "fold"
    c = Conn(*px.addr())
    st, _, txt = c.post(inform())
    assert st == 502 and b"obs-fold" in txt
    c.close()
    stop.set()
    t.join(2)
    srv.close()
    for s in conns:
        s.close()
