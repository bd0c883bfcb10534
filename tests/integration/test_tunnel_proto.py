"""Tunnel protocol by hand: hostile and malformed input closes the offending
session (never the gateway), stream errors reset only their stream, and a
version-0 (seed protocol) agent still works through the gateway."""
import socket
import struct

import pytest
import requests

from tunnel_util import (ACK, DATA, GOAWAY, HANDSHAKE, INITIATOR, PING, PONG, TERMINATOR, WINDOW,
                         RawWS, Server, echo_handler, msg, parse, read_all, start_agent,
                         start_gateway, wait_connected)

AG_AUTH = {"Authorization": "Bearer agenttoken"}


@pytest.fixture
def gw(outpost, tmp_path):
    return start_gateway(outpost, tmp_path, {"a": "key-a", "raw": "key-raw", "old": "key-old"},
                         ["from=* to=* net=* ports=*"],
                         extra=["--max-message", "64KiB", "--handshake-timeout", "300ms"])


def login(gw, name="raw", key="key-raw", version=1):
    ws = RawWS(*gw.addr())
    assert ws.status == 101
    kw = {"Name": name, "Key": key}
    if version is not None:
        kw["Version"] = version
    ws.send(msg(HANDSHAKE, **kw))
    t, ack = ws.recv_msg()
    assert t == ACK and ack["Ok"] is True, ack
    return ws, ack


def closed_with(ws, code):
    while True:
        m = ws.recv(timeout=10)
        if m is None:
            break
    assert ws.close_code == code, (ws.close_code, ws.close_reason)
    return ws.close_reason


def test_login_ack_and_keepalive(gw):
    ws, ack = login(gw)
    assert ack["Version"] == 1 and ack["MaxMessage"] == 65536
    assert ack["MaxWindow"] == 16 << 20  # the gateway's --max-window (default)
    ws.send(msg(PING, Seq=42))
    assert ws.recv_msg() == (PONG, {"Seq": 42})
    ws.close()


@pytest.mark.parametrize("payload,code,reason", [
    (b"\x01", 1008, "message too short"),
    (b"\x01\x91\x01", 1008, "payload is not a msgpack map"),
    (msg(DATA, GUID="x", Data=b"z"), 1008, "handshake required"),
    (b"\x01\xdf\xff\xff\xff\xff", 1008, "msgpack count exceeds the bytes present"),
    (b"\x01\x82\xa4Name", 1008, "msgpack truncated"),
])
def test_bad_first_message(gw, payload, code, reason):
    ws = RawWS(*gw.addr())
    ws.send(payload)
    assert reason in closed_with(ws, code)
    # a failed login for the address, logged through its report
    gw.wait_for(r"agent_auth_failed addr=127\.0\.0\.1 failures=1 .*reason=\"" + reason)


@pytest.mark.parametrize("payload,reason", [
    (b"\x03\xde\x00\x01\xa4GUID\xdd\xff\xff\xff\xff", "msgpack"),
    (msg(DATA, GUID=5, Data=b"z"), "bad value for key GUID"),
    (msg(INITIATOR, GUID="g", Ip="10.0.0.1", Port=0, Gatename="a"), "bad value for key Port"),
    (b"\x42\x80", "unknown message type"),
    (msg(HANDSHAKE, Name="raw", Key="key-raw"), "second handshake"),
    (msg(GOAWAY, Code="x"), "message type not sent by agents"),
    (msg(DATA, GUID="x", Data=b"z") + b"\x00", "trailing bytes"),
])
def test_bad_message_after_login(gw, payload, reason):
    ws, _ = login(gw)
    ws.send(payload)
    assert reason in closed_with(ws, 1002)
    # the gateway is still fine
    ws2, _ = login(gw)
    ws2.close()


def test_text_and_oversize(gw):
    ws, _ = login(gw)
    ws.send_frame(b"hello", opcode=1)
    closed_with(ws, 1003)
    ws, _ = login(gw)
    ws.send(msg(DATA, GUID="x", Data=b"z" * 70000))
    closed_with(ws, 1009)


def test_handshake_timeout(gw):
    ws = RawWS(*gw.addr())
    assert "handshake timeout" in closed_with(ws, 1008)


def test_wrong_key_gets_ack_then_close(gw):
    ws = RawWS(*gw.addr())
    ws.send(msg(HANDSHAKE, Name="raw", Key="nope", Version=1))
    t, ack = ws.recv_msg()
    assert t == ACK and ack["Ok"] is False and ack["Message"] == "authentication failed"
    closed_with(ws, 1008)


def test_stream_errors_reset_only_their_stream(outpost, tmp_path, gw):
    echo = Server(echo_handler)
    a = start_agent(outpost, tmp_path, gw, "a", "key-a", allow=["net=127.0.0.0/8 ports=*"],
                    extra=["--window", "16KiB"])
    wait_connected(a)
    ws, _ = login(gw)
    # reserved GUID prefix and missing Window are refused with an Ack naming the GUID
    ws.send(msg(INITIATOR, GUID="gw-1", Ip="127.0.0.1", Port=echo.port, Gatename="a",
                Window=65536))
    t, ack = ws.recv_msg()
    assert t == ACK and ack["GUID"] == "gw-1" and ack["Ok"] is False and "reserved" in ack["Message"]
    ws.send(msg(INITIATOR, GUID="s0", Ip="127.0.0.1", Port=echo.port, Gatename="a"))
    t, ack = ws.recv_msg()
    assert ack["GUID"] == "s0" and "Window is required" in ack["Message"]
    # Data before the Ack: the stream is refused, the session lives
    ws.send_many([msg(INITIATOR, GUID="s1", Ip="127.0.0.1", Port=echo.port, Gatename="a",
                      Window=65536), msg(DATA, GUID="s1", Data=b"too early")])
    t, ack = ws.recv_msg()
    assert t == ACK and ack["GUID"] == "s1" and ack["Ok"] is False
    assert ack["Message"] == "Data before Ack"
    # a good stream, then one that overruns the credit it was given
    ws.send(msg(INITIATOR, GUID="s2", Ip="127.0.0.1", Port=echo.port, Gatename="a", Window=65536))
    t, ack = ws.recv_msg()
    assert ack["GUID"] == "s2" and ack["Ok"] is True
    credit = ack["Window"]
    ws.send(msg(DATA, GUID="s2", Data=b"hello"))
    t, d = ws.recv_msg()
    assert (t, d["GUID"], d["Data"]) == (DATA, "s2", b"hello")
    ws.send(msg(INITIATOR, GUID="s3", Ip="127.0.0.1", Port=echo.port, Gatename="a", Window=65536))
    t, ack = ws.recv_msg()
    assert ack["GUID"] == "s3" and ack["Ok"] is True
    assert credit == 16384
    ws.send(msg(DATA, GUID="s3", Data=b"x" * (credit + 1)))
    # s3 is reset with the reason; s2 still echoes (late s3 echoes are skipped)
    seen_reset = False
    ws.send(msg(DATA, GUID="s2", Data=b"still here"))
    while True:
        t, d = ws.recv_msg()
        if t == TERMINATOR and d["GUID"] == "s3":
            assert d["Mode"] == "reset" and d["Reason"] == "flow control window exceeded"
            seen_reset = True
        elif t == DATA and d["GUID"] == "s2":
            assert d["Data"] == b"still here"
            break
    assert seen_reset
    ws.send(msg(TERMINATOR, GUID="s2", Mode="fin"))
    t, d = ws.recv_msg()
    assert (t, d["GUID"], d["Mode"]) == (TERMINATOR, "s2", "fin")
    # an Initiator reusing the GUID of a live stream resets that stream
    ws.send(msg(INITIATOR, GUID="s4", Ip="127.0.0.1", Port=echo.port, Gatename="a", Window=65536))
    t, ack = ws.recv_msg()
    assert (t, ack["GUID"], ack["Ok"]) == (ACK, "s4", True)
    ws.send(msg(INITIATOR, GUID="s4", Ip="127.0.0.1", Port=echo.port, Gatename="a", Window=65536))
    t, d = ws.recv_msg()
    assert (t, d["GUID"], d["Mode"]) == (TERMINATOR, "s4", "reset")
    assert "GUID reused" in d["Reason"]
    # messages for unknown streams are ignored, not errors
    ws.send(msg(WINDOW, GUID="nope", Credit=5))
    ws.send(msg(DATA, GUID="nope", Data=b"late"))
    ws.send(msg(TERMINATOR, GUID="s4", Mode="reset"))
    ws.send(msg(PING, Seq=1))
    assert ws.recv_msg() == (PONG, {"Seq": 1})
    ws.close()
    echo.close()


def test_seed_agent_interop(outpost, tmp_path, gw):
    """A version-0 agent (no Version, no Window, Acks without GUID) as the
    acceptor: the gateway grants credit for it and holds its excess."""
    a = start_agent(outpost, tmp_path, gw, "a", "key-a",
                    forwards=["local=0 gateway=old ip=10.1.2.3 remote=22"])
    wait_connected(a)
    old, ack = login(gw, "old", "key-old", version=None)
    assert "Version" not in ack
    lst = requests.get(a.url() + "/api/forwards", headers=AG_AUTH, timeout=5).json()
    port = int(lst[0]["local"].rsplit(":", 1)[1])
    c = socket.create_connection(("127.0.0.1", port), timeout=10)
    t, init = old.recv_msg()
    assert t == INITIATOR and init["Ip"] == "10.1.2.3" and init["Port"] == 22
    guid = init["GUID"]
    old.send(msg(ACK, Ok=True, Message=""))  # seed Ack: no GUID
    # the seed agent pushes 1 MiB at once; the gateway must pace it
    blob = bytes(range(256)) * 4096
    for i in range(0, len(blob), 32768):
        old.send(msg(DATA, GUID=guid, Data=blob[i:i + 32768]))
    got = b""
    while len(got) < len(blob):
        d = c.recv(65536)
        assert d
        got += d
    assert got == blob
    # and the other way: client bytes reach the seed agent
    c.sendall(b"from the client")
    t, d = old.recv_msg()
    assert (t, d["GUID"], d["Data"]) == (DATA, guid, b"from the client")
    old.send(msg(TERMINATOR, GUID=guid))  # seed Terminator: close
    assert read_all(c) == b""
    c.close()
    old.close()


def test_seed_agent_as_initiator(outpost, tmp_path, gw):
    """A version-0 agent opening a stream sends no Window and ignores credit:
    the gateway paces its Data to the v1 acceptor's window (pausing it) and
    grants credit on its behalf for the replies."""
    echo = Server(echo_handler)
    b = start_agent(outpost, tmp_path, gw, "a", "key-a", allow=["net=127.0.0.0/8 ports=*"],
                    extra=["--window", "16KiB"])
    wait_connected(b)
    old, _ = login(gw, "old", "key-old", version=None)
    old.send(msg(INITIATOR, GUID="legacy-1", Ip="127.0.0.1", Port=str(echo.port), Gatename="a"))
    t, ack = old.recv_msg()
    assert t == ACK and ack["Ok"] is True and "Window" not in ack
    blob = bytes(range(251)) * 2000  # ~500 KB, far beyond the 16 KiB window
    for i in range(0, len(blob), 32768):
        old.send(msg(DATA, GUID="legacy-1", Data=blob[i:i + 32768]))
    got = b""
    while len(got) < len(blob):
        t, d = old.recv_msg()
        assert t == DATA and d["GUID"] == "legacy-1", (t, d)
        got += d["Data"]
    assert got == blob
    old.send(msg(TERMINATOR, GUID="legacy-1"))
    old.close()
    echo.close()


class FakeGateway:
    """Just enough of a gateway to log an agent in and then misbehave: it
    never answers Pings and reads the agent's bytes at the pace it is told."""

    def __init__(self):
        self.lst = socket.socket()
        # a small receive buffer, so the pace of reading is what the agent sees
        self.lst.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        self.lst.bind(("127.0.0.1", 0))
        self.lst.listen(1)
        self.port = self.lst.getsockname()[1]

    def accept_login(self):
        import base64
        import hashlib
        self.lst.settimeout(15)
        self.c, _ = self.lst.accept()
        self.c.settimeout(10)
        head = b""
        while b"\r\n\r\n" not in head:
            head += self.c.recv(1)
        key = [x.split(b":", 1)[1].strip() for x in head.split(b"\r\n")
               if x.lower().startswith(b"sec-websocket-key:")][0]
        acc = base64.b64encode(hashlib.sha1(key + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11")
                               .digest()).decode()
        self.c.sendall(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                        f"Connection: Upgrade\r\nSec-WebSocket-Accept: {acc}\r\n\r\n").encode())
        t, hs = parse(self.read_frame())
        assert t == HANDSHAKE and hs["Name"] == "a"
        self.send(msg(ACK, Ok=True, Message="welcome", Version=1, MaxMessage=1 << 20))

    def read_frame(self):
        def need(n):
            b = b""
            while len(b) < n:
                d = self.c.recv(n - len(b))
                assert d
                b += d
            return b
        h = need(2)
        n = h[1] & 127
        if n == 126:
            n = struct.unpack(">H", need(2))[0]
        elif n == 127:
            n = struct.unpack(">Q", need(8))[0]
        mask = need(4)
        return bytes(b ^ mask[i % 4] for i, b in enumerate(need(n)))

    def send(self, payload):
        n = len(payload)
        hdr = b"\x82" + (bytes([n]) if n < 126 else b"\x7e" + struct.pack(">H", n))
        self.c.sendall(hdr + payload)

    def close(self):
        for s in (getattr(self, "c", None), self.lst):
            if s:
                s.close()


def test_agent_keepalive_tolerates_a_slow_link_not_a_dead_one(outpost, tmp_path):
    """The agent's Ping waits behind its queued Data on a slow uplink, so its
    Pong is late: a link whose bytes still move is not dropped; one that
    moves nothing is, within a few keepalive periods."""
    def blast(c):
        try:
            while True:
                c.sendall(b"\0" * 65536)
        except OSError:
            pass
    src = Server(blast)
    fake = FakeGateway()
    a = outpost("agent", "--gateway", f"ws://127.0.0.1:{fake.port}/tunnel", "--insecure",
                "--name", "a", "--key", "k", "--listen", "127.0.0.1:0",
                "--data-dir", str(tmp_path / "a"), "--api-token", "agenttoken",
                "--allow", "net=127.0.0.0/8 ports=*", "--keepalive", "100ms",
                "--keepalive-timeout", "500ms", "--reconnect-min", "30s")
    try:
        fake.accept_login()
        wait_connected(a)
        # a stream whose target sends without end: the agent's Data queues up
        fake.send(msg(INITIATOR, GUID="g1", Ip="127.0.0.1", Port=src.port, Gatename="a",
                      From="x", Window=16 << 20))
        import time
        t_end = time.monotonic() + 2.0
        got = 0
        while time.monotonic() < t_end:  # ~6 MB/s: within the 16 MiB of credit
            got += len(fake.c.recv(65536))
            time.sleep(0.01)
        assert got > 1 << 20
        assert "gateway_keepalive_timeout" not in a.output()
        # now nothing moves at all: the agent gives up on the link
        a.wait_for(r"gateway_keepalive_timeout", timeout=10)
        a.wait_for(r"gateway_disconnected")
    finally:
        fake.close()
        src.close()


def test_gateway_idle_timeout_counts_bytes_not_messages(outpost, tmp_path):
    """A message still arriving (slow uplink) keeps a session alive past
    --idle-timeout; a session that sends nothing but WebSocket pongs (which
    a proxy could send in its place) is closed."""
    import time
    gw = start_gateway(outpost, tmp_path, {"raw": "key-raw"}, [],
                       extra=["--idle-timeout", "1500ms"])
    ws, _ = login(gw)
    frame = ws.frame(msg(DATA, GUID="nobody", Data=b"z" * 60000))
    step = len(frame) // 30
    for i in range(0, len(frame), step):  # one message over ~3 s
        ws.s.sendall(frame[i:i + step])
        time.sleep(0.1)
    ws.send(msg(PING, Seq=7))
    assert ws.recv_msg() == (PONG, {"Seq": 7})
    assert "agent_idle_timeout" not in gw.output()
    # now only WebSocket heartbeats (unsolicited pongs), as a proxy might send
    t0 = time.monotonic()
    while ws.close_code is None:
        assert time.monotonic() - t0 < 6, "not closed for idleness"
        ws.send_frame(b"hb", opcode=10)
        try:
            ws.recv(timeout=0.1)
        except socket.timeout:
            pass
    assert ws.close_code == 1001 and "idle timeout" in ws.close_reason
    gw.wait_for(r"agent_idle_timeout agent=raw ")


def test_open_timeout_fails_every_unanswered_stream(outpost, tmp_path):
    """An acceptor that never answers: after --open-timeout each of the
    initiator's streams gets a failed Ack naming the agent, the acceptor a
    reset for each, and both sessions live on (several expire in one sweep)."""
    gw = start_gateway(outpost, tmp_path, {"a": "key-a", "raw": "key-raw"},
                       ["from=* to=* net=* ports=*"], extra=["--open-timeout", "300ms"])
    silent, _ = login(gw, "a", "key-a")
    ws, _ = login(gw)
    guids = [f"t{i}" for i in range(5)]
    ws.send_many([msg(INITIATOR, GUID=g, Ip="127.0.0.1", Port=9, Gatename="a", Window=65536)
                  for g in guids])
    failed = {}
    while len(failed) < len(guids):
        t, ack = ws.recv_msg(timeout=10)
        assert t == ACK and ack["Ok"] is False, (t, ack)
        failed[ack["GUID"]] = ack["Message"]
    assert sorted(failed) == guids
    assert all("open timeout: agent a did not answer" in m for m in failed.values())
    opened, reset = set(), set()
    while len(reset) < len(guids):
        t, m = silent.recv_msg(timeout=10)
        if t == INITIATOR:
            opened.add(m["GUID"])
        elif t == TERMINATOR:
            reset.add(m["GUID"])
    assert len(opened) == len(reset) == len(guids)
    for s in (ws, silent):  # both sessions still answer
        s.send(msg(PING, Seq=7))
        assert s.recv_msg() == (PONG, {"Seq": 7})
    gw.wait_for(r"stream_open_timeout")


def test_streams_opened_to_an_agent_do_not_use_up_its_own(outpost, tmp_path):
    """--max-streams caps what an agent opens and, apart, what is opened to
    it: another agent filling y's share cannot stop y opening its own."""
    gw = start_gateway(outpost, tmp_path, {"x": "key-x", "y": "key-y", "z": "key-z"},
                       ["from=* to=* net=* ports=*"], extra=["--max-streams", "2"])
    x, _ = login(gw, "x", "key-x")
    y, _ = login(gw, "y", "key-y")
    z, _ = login(gw, "z", "key-z")

    def initiate(ws, guid, to):
        ws.send(msg(INITIATOR, GUID=guid, Ip="127.0.0.1", Port=9, Gatename=to, Window=65536))

    for g in ("x1", "x2"):
        initiate(x, g, "y")
        t, init = y.recv_msg()
        assert t == INITIATOR and init["Port"] == 9
    initiate(y, "y1", "x")                       # y's own: still free
    t, init = x.recv_msg()
    assert t == INITIATOR
    initiate(x, "x3", "y")                       # x's own share is used up
    t, ack = x.recv_msg()
    assert (t, ack["GUID"], ack["Ok"]) == (ACK, "x3", False) and "too many streams" in ack["Message"]
    initiate(z, "z1", "y")                       # y's share of streams opened to it too
    t, ack = z.recv_msg()
    assert (t, ack["GUID"], ack["Ok"]) == (ACK, "z1", False) and "takes no more streams" in ack["Message"]
    for ws in (x, y, z):
        ws.close()


def test_windows_adding_up_past_the_queue_reset_streams_not_the_agent(outpost, tmp_path):
    """A receiver's windows over many streams may add up past its send queue
    at the gateway (128 MiB): data that does not fit resets its own stream
    (code limit), logged once; the slow agent stays online with its session."""
    gw = start_gateway(outpost, tmp_path, {"x": "key-x", "y": "key-y"},
                       ["from=x to=y net=* ports=*"])
    x, _ = login(gw, "x", "key-x")
    y, _ = login(gw, "y", "key-y")
    y.s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    win = 16 << 20                              # --max-window's default
    n = 9                                       # 144 MiB of credit towards y
    x.send_many([msg(INITIATOR, GUID=f"x{i}", Ip="127.0.0.1", Port=9, Gatename="y", Window=65536)
                 for i in range(n)])
    for _ in range(n):
        t, init = y.recv_msg()
        assert t == INITIATOR
        y.send(msg(ACK, GUID=init["GUID"], Ok=True, Window=win))
    for _ in range(n):
        t, ack = x.recv_msg()
        assert t == ACK and ack["Ok"] and ack["Window"] == win
    chunk = b"\xa5" * 65000                     # y reads nothing from here on
    for i in range(n):
        frames = [x.frame(msg(DATA, GUID=f"x{i}", Data=chunk))] * (win // len(chunk))
        x.s.sendall(b"".join(frames))
    resets = set()
    x.s.settimeout(10)
    while not resets:
        t, d = x.recv_msg()
        if t == TERMINATOR:
            assert d["Mode"] == "reset" and "queue is full" in d["Reason"], d
            resets.add(d["GUID"])
    gw.wait_for(r"stream_queue_full agent=y ")
    agents = requests.get(gw.url("admin") + "/api/agents", headers={"Authorization": "Bearer admintoken"},
                          timeout=10).json()
    assert {a["name"] for a in agents} == {"x", "y"}
    assert not any("agent_queue_overflow" in l for l in gw.lines)
    assert sum("stream_queue_full" in l for l in gw.lines) == 1
    x.close()
    y.close()
