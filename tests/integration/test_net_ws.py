"""The WebSocket server of the network floor (outpost testd /ws) driven by
python3-websockets and raw sockets, over ws:// and mutual-TLS wss://."""
import asyncio
import base64
import os
import socket
import ssl
import struct
import time

import pytest
import websockets


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 30))


async def echo_roundtrips(url, **kw):
    async with websockets.connect(url, max_size=None, **kw) as ws:
        await ws.send("hello")
        assert await ws.recv() == "hello"
        blob = os.urandom(200000)
        await ws.send(blob)
        assert await ws.recv() == blob
        for i in range(100):
            await ws.send(f"m{i}")
        for i in range(100):
            assert await ws.recv() == f"m{i}"
        await ws.send("close")
        with pytest.raises(websockets.ConnectionClosed) as ei:
            await ws.recv()
        assert ei.value.rcvd.code == 1000 and ei.value.rcvd.reason == "bye"


def test_echo_plain(outpost):
    d = outpost("testd", "--listen", "127.0.0.1:0")
    run(echo_roundtrips(d.url(scheme="ws") + "/ws"))


def test_echo_mutual_tls(outpost, pki):
    d = outpost("testd", "--listen", "127.0.0.1:0", "--tls-cert", pki["server.pem"],
                "--tls-key", pki["server.key"], "--tls-ca", pki["ca.pem"])
    ctx = ssl.create_default_context(cafile=pki["ca.pem"])
    ctx.load_cert_chain(pki["client.pem"], pki["client.key"])
    run(echo_roundtrips(d.url(scheme="wss") + "/ws", ssl=ctx))

    bare = ssl.create_default_context(cafile=pki["ca.pem"])

    async def no_cert():
        async with websockets.connect(d.url(scheme="wss") + "/ws", ssl=bare) as ws:
            await ws.send("x")
            await ws.recv()
    with pytest.raises((ssl.SSLError, websockets.InvalidHandshake, websockets.ConnectionClosed,
                        ConnectionError, OSError)):
        run(no_cert())


def test_message_over_cap_closes_1009(outpost):
    d = outpost("testd", "--listen", "127.0.0.1:0", "--ws-max-message", "1KiB")

    async def go():
        async with websockets.connect(d.url(scheme="ws") + "/ws") as ws:
            await ws.send("a" * 2000)
            with pytest.raises(websockets.ConnectionClosed) as ei:
                await ws.recv()
            assert ei.value.rcvd.code == 1009
    run(go())


def raw_upgrade(addr, extra=b"", key=None, version=b"13"):
    key = key or base64.b64encode(os.urandom(16))
    s = socket.create_connection(addr, timeout=5)
    s.sendall(b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
              b"Sec-WebSocket-Key: " + key + b"\r\nSec-WebSocket-Version: " + version + b"\r\n"
              + extra + b"\r\n")
    head = b""
    while b"\r\n\r\n" not in head:
        c = s.recv(1)
        if not c:
            break
        head += c
    return s, head


def test_bad_upgrades_refused(outpost):
    d = outpost("testd", "--listen", "127.0.0.1:0")
    s, head = raw_upgrade(d.addr(), key=b"short")
    assert head.startswith(b"HTTP/1.1 400 ")
    s.close()
    s, head = raw_upgrade(d.addr(), version=b"8")
    assert head.startswith(b"HTTP/1.1 426 ") and b"Sec-WebSocket-Version: 13" in head
    s.close()


def test_unmasked_client_frame_is_protocol_error(outpost):
    d = outpost("testd", "--listen", "127.0.0.1:0")
    s, head = raw_upgrade(d.addr())
    assert head.startswith(b"HTTP/1.1 101 ")
    s.sendall(b"\x81\x02hi")  # clients must mask
    data = b""
    while len(data) < 4:
        c = s.recv(64)
        assert c
        data += c
    assert data[0] == 0x88 and struct.unpack(">H", data[2:4])[0] == 1002
    s.close()


def test_ping_timeout_closes_silent_client(outpost):
    d = outpost("testd", "--listen", "127.0.0.1:0", "--ws-ping", "100ms")
    s, head = raw_upgrade(d.addr())
    assert head.startswith(b"HTTP/1.1 101 ")
    first = s.recv(16)
    assert first[0] == 0x89  # a ping arrives; we never answer
    s.settimeout(15)
    t0 = time.monotonic()
    try:
        while s.recv(4096):
            pass
    except ConnectionResetError:
        pass  # a dead peer gets a reset, not a closing handshake
    assert time.monotonic() - t0 < 14
    d.wait_for("ws_ping_timeout")
    s.close()


def test_frames_with_the_upgrade_request(outpost):
    """Bytes that arrive in the same packet as the upgrade are not lost."""
    d = outpost("testd", "--listen", "127.0.0.1:0")
    key = base64.b64encode(os.urandom(16))
    mask = b"\x01\x02\x03\x04"
    payload = bytes(b ^ mask[i % 4] for i, b in enumerate(b"early"))
    s = socket.create_connection(d.addr(), timeout=5)
    s.sendall(b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
              b"Sec-WebSocket-Key: " + key + b"\r\nSec-WebSocket-Version: 13\r\n\r\n"
              + b"\x81\x85" + mask + payload)
    data = b""
    while b"early" not in data:
        c = s.recv(4096)
        assert c
        data += c
    assert data.startswith(b"HTTP/1.1 101 ")
    s.close()
