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
    gw.wait_for(r"agent_protocol_error .*reason=\"" + reason)


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
