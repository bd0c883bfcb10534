"""`outpost relay`: pairing, the original's races, mutual TLS, authorisation,
bad input, backpressure, keepalive and the admin endpoints, driven by
independent python-websockets peers holding certificates from `outpost certs`."""
import asyncio
import json
import ssl
import time
import urllib.error

import pytest
import requests
import websockets

from relay_util import (PKI, PREFIX, TOKEN, RawWS, admin_get, hello, metric, peer_status, start_relay,
                        ws_url)


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return PKI(tmp_path_factory.mktemp("pki"))


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 30))


async def connect(relay, pki, meeting, who, **kw):
    return await websockets.connect(ws_url(relay, meeting), ssl=pki.client_ctx(who), max_size=None, **kw)


async def closed_with(ws):
    """Wait for the relay to close ws; returns (code, reason)."""
    try:
        while True:
            await ws.recv()
    except websockets.ConnectionClosed as e:
        return e.code, e.reason


async def waiting(relay, meeting, n=1):
    """Until the relay lists `meeting` with n peers that said HELLO."""
    for _ in range(500):
        st = peer_status(relay, meeting)
        if st and len(st["peers"]) >= n:
            return st
        await asyncio.sleep(0.01)
    raise AssertionError(f"{meeting} never had {n} peers")


async def pair(relay, pki, meeting="gw-0001", a="manager", b="gw-0001"):
    wa = await connect(relay, pki, meeting, a)
    wb = await connect(relay, pki, meeting, b)
    await wa.send(hello("manager", "m1"))
    await wb.send(hello("dhcp", "d1"))
    assert json.loads(await wa.recv())["message"]["peerId"] == "d1"
    assert json.loads(await wb.recv())["message"]["peerId"] == "m1"
    return wa, wb


def test_pairing_both_hello_orders_and_verbatim_copy(outpost, pki):
    relay = start_relay(outpost, pki)

    async def scenario(first_is_a):
        wa = await connect(relay, pki, "gw-0001", "manager")
        wb = await connect(relay, pki, "gw-0001", "gw-0001")
        ha, hb = hello("micronets-ws-test-client", "12345678"), hello("micronets-dhcp-service", "gw1")
        first, second = ((wa, ha), (wb, hb)) if first_is_a else ((wb, hb), (wa, ha))
        await first[0].send(first[1])
        st = await waiting(relay, "gw-0001")  # the relay has the first HELLO before the second is sent
        assert st["state"] == "waiting"
        await second[0].send(second[1])
        assert await wa.recv() == hb  # the partner's HELLO, byte for byte
        assert await wb.recv() == ha
        # everything after is copied verbatim and in order: text, binary, even non-JSON
        for i in range(50):
            await wa.send(json.dumps({"message": {"messageId": i + 1, "messageType": "REST:REQUEST"}}))
        await wa.send(b"\x00\xffbinary")
        await wa.send("not json {")
        for i in range(50):
            assert json.loads(await wb.recv())["message"]["messageId"] == i + 1
        assert await wb.recv() == b"\x00\xffbinary"
        assert await wb.recv() == "not json {"
        await wb.send("back")
        assert await wa.recv() == "back"
        await wa.close()
        assert await closed_with(wb) == (1001, "partner left")

    run(scenario(True))
    run(scenario(False))
    assert metric(relay, "outpost_relay_pairings_total") == 2


def test_third_peer_path_busy_and_silent_connection(outpost, pki):
    relay = start_relay(outpost, pki, "--hello-timeout", "500ms")

    async def scenario():
        silent = await connect(relay, pki, "gw-0001", "gw-0001")  # never says HELLO
        wa, wb = await pair(relay, pki)  # ...and blocks nothing
        third = await connect(relay, pki, "gw-0001", "manager")
        assert await closed_with(third) == (1008, "path busy")
        assert await closed_with(silent) == (1008, "no CONN:HELLO in time")
        # the pair is untouched
        await wa.send("still here")
        assert await wb.recv() == "still here"
        # a third that sneaks in before the pair completes is refused at its HELLO
        x = await connect(relay, pki, "gw-0002", "gw-0002")
        y = await connect(relay, pki, "gw-0002", "manager")
        z = await connect(relay, pki, "gw-0002", "manager")
        await x.send(hello("a", "x"))
        await waiting(relay, "gw-0002")
        await y.send(hello("b", "y"))
        assert json.loads(await x.recv())["message"]["peerId"] == "y"
        await z.send(hello("c", "z"))
        assert await closed_with(z) == (1008, "path busy")
        for w in (wa, wb, x, y):
            await w.close()

    run(scenario())
    assert metric(relay, "outpost_relay_rejects_total", '{reason="busy"}') == 2


def test_peer_dropping_during_pairing(outpost, pki):
    relay = start_relay(outpost, pki)

    async def scenario():
        wa = await connect(relay, pki, "gw-0001", "manager")
        await wa.send(hello("manager", "m1"))
        await waiting(relay, "gw-0001")
        wa.transport.abort()  # vanish without a close frame
        wb = await connect(relay, pki, "gw-0001", "gw-0001")
        await wb.send(hello("dhcp", "d1"))
        wc = await connect(relay, pki, "gw-0001", "manager")
        await wc.send(hello("manager", "m2"))
        # b is paired with c, never with the peer that left
        assert json.loads(await wb.recv())["message"]["peerId"] == "m2"
        await wb.close()
        await wc.close()

    run(scenario())


def test_bad_first_messages(outpost, pki):
    relay = start_relay(outpost, pki)
    cases = [
        ("hello", "not JSON"),
        (json.dumps({"message": {"messageId": 1, "messageType": "REST:REQUEST", "requiresResponse": True}}),
         "expected CONN:HELLO first"),
        (json.dumps({"message": {"messageId": 0, "messageType": "CONN:HELLO", "requiresResponse": False,
                                 "peerClass": "x"}}), "peerId"),
        (b"\x01binary", "expected a CONN:HELLO text message"),
    ]

    async def scenario():
        for msg, why in cases:
            w = await connect(relay, pki, "gw-0001", "manager")
            await w.send(msg)
            code, reason = await closed_with(w)
            assert code == 1008 and why in reason, (code, reason)
        # message before any partner
        w = await connect(relay, pki, "gw-0001", "manager")
        await w.send(hello("manager", "m1"))
        await w.send("anyone?")
        assert await closed_with(w) == (1008, "message before partner")

    run(scenario())
    assert metric(relay, "outpost_relay_rejects_total", '{reason="protocol"}') == 5


def test_oversized_message_1009(outpost, pki):
    relay = start_relay(outpost, pki, "--max-message", "64KiB")

    async def scenario():
        wa, wb = await pair(relay, pki)
        await wa.send("x" * 70000)
        code, _ = await closed_with(wa)
        assert code == 1009
        assert (await closed_with(wb))[0] == 1001

    run(scenario())


def test_not_found_and_plain_http(outpost, pki):
    relay = start_relay(outpost, pki)

    async def scenario():
        for path in ("/other/gw-0001?access_token=tok-in-query", PREFIX):
            host, port = relay.addr()
            with pytest.raises(websockets.InvalidStatusCode) as e:
                await websockets.connect(f"wss://{host}:{port}{path}", ssl=pki.client_ctx("manager"))
            assert e.value.status_code == 404

    run(scenario())
    assert metric(relay, "outpost_relay_rejects_total", '{reason="not_found"}') == 2
    # the refusal is logged with the target's credential-named query values hidden
    relay.wait_for(r'relay_refused .*target="/other/gw-0001\?access_token=\*\*\*"')
    assert not any("tok-in-query" in l for l in relay.lines)
    # a plain GET (no upgrade) on a good path is told to upgrade, and counts as no connection
    r = requests.get(ws_url(relay, "gw-0001", "https"), cert=pki.pkeycert("manager"), verify=pki.cert("root"),
                     timeout=10)
    assert r.status_code == 426 and r.headers["Upgrade"].lower() == "websocket"
    assert metric(relay, "outpost_relay_connections_total") == 0


def test_max_connections_503(outpost, pki):
    relay = start_relay(outpost, pki, "--max-connections", "2")

    async def scenario():
        a = await connect(relay, pki, "gw-0001", "manager")
        b = await connect(relay, pki, "gw-0002", "manager")
        with pytest.raises(websockets.InvalidStatusCode) as e:
            await connect(relay, pki, "gw-0003", "manager")
        assert e.value.status_code == 503
        await a.close()
        for _ in range(500):  # until the relay has let go of it
            if metric(relay, "outpost_relay_connections") < 2:
                break
            await asyncio.sleep(0.01)
        c = await connect(relay, pki, "gw-0003", "manager")  # room again
        await b.close()
        await c.close()

    run(scenario())
    assert metric(relay, "outpost_relay_rejects_total", '{reason="full"}') == 1
    relay.wait_for(r"relay_refused .*status=503")


def test_max_connections_per_cert(outpost, pki):
    """One certificate holding its --max-connections-per-cert gets 429 with
    the reason; other certificates are not held up; an upgrade that fails or
    a connection that closes gives its count back."""
    relay = start_relay(outpost, pki, "--max-connections-per-cert", "2")

    def plain_get():  # no upgrade: 426, and it must not keep a count
        r = requests.get(ws_url(relay, "gw-0001", "https"), cert=pki.pkeycert("manager"),
                         verify=pki.cert("root"), timeout=10)
        assert r.status_code == 426

    async def scenario():
        plain_get()
        plain_get()
        a = await connect(relay, pki, "gw-0001", "manager")
        b = await connect(relay, pki, "gw-0002", "manager")
        with pytest.raises(websockets.InvalidStatusCode) as e:
            await connect(relay, pki, "gw-0003", "manager")
        assert e.value.status_code == 429
        gw = await connect(relay, pki, "gw-0001", "gw-0001")   # another certificate
        await a.send(hello("manager", "m1"))
        await gw.send(hello("dhcp", "d1"))
        assert json.loads(await a.recv())["message"]["peerId"] == "d1"
        await b.close()
        for _ in range(500):  # until the relay has let go of it
            if metric(relay, "outpost_relay_connections") < 3:
                break
            await asyncio.sleep(0.01)
        c = await connect(relay, pki, "gw-0003", "manager")   # its count came back
        for w in (a, c, gw):
            await w.close()

    run(scenario())
    assert metric(relay, "outpost_relay_rejects_total", '{reason="per_cert"}') == 1
    assert admin_get(relay, "/status")["totals"]["rejected_per_cert"] == 1
    relay.wait_for(r'relay_refused .*status=429 reason="too many connections for this certificate"')


def test_max_connections_per_addr(outpost, pki):
    """Connections still in their TLS handshake count: one address holding
    its --max-connections-per-addr cannot keep others out, and gets its
    next connection closed at once."""
    import socket
    relay = start_relay(outpost, pki, "--max-connections-per-addr", "2")
    host, port = relay.addr()
    idle = [socket.create_connection((host, port), timeout=10) for _ in range(2)]

    async def from_addr(src):
        s = socket.socket()
        s.bind((src, 0))
        s.connect((host, port))
        return await websockets.connect(ws_url(relay, "gw-0001"), ssl=pki.client_ctx("manager"),
                                        sock=s, server_hostname=host, open_timeout=5)

    async def scenario():
        with pytest.raises((OSError, ssl.SSLError, EOFError, websockets.InvalidHandshake)):
            await connect(relay, pki, "gw-0001", "manager", open_timeout=5)
        other = await from_addr("127.0.0.2")   # another address is not held up
        await other.close()
        idle.pop().close()
        for _ in range(500):
            try:
                w = await connect(relay, pki, "gw-0001", "manager", open_timeout=5)
                break
            except (OSError, ssl.SSLError, EOFError, websockets.InvalidHandshake):
                await asyncio.sleep(0.01)     # until the relay has counted the close
        await w.close()

    run(scenario())
    relay.wait_for(r"conn_refused .*max_per_addr=2")
    for s in idle:
        s.close()


@pytest.mark.parametrize("who,ca", [(None, "root"), ("intruder", "root")])
def test_mutual_tls_rejects_no_cert_and_wrong_ca(outpost, pki, who, ca):
    relay = start_relay(outpost, pki)

    async def scenario():
        ctx = pki.client_ctx(who, ca)
        with pytest.raises((ssl.SSLError, OSError, websockets.InvalidHandshake, websockets.ConnectionClosed,
                            EOFError)):
            w = await websockets.connect(ws_url(relay, "gw-0001"), ssl=ctx)
            await w.send(hello("x", "y"))
            await w.recv()
        # a good peer still gets in
        w = await connect(relay, pki, "gw-0001", "manager")
        await w.send(hello("manager", "m1"))
        await w.close()

    run(scenario())
    assert metric(relay, "outpost_relay_connections_total") == 1  # the bad one never reached the relay


def test_client_rejects_relay_from_wrong_ca(outpost, pki):
    relay = start_relay(outpost, pki)

    async def scenario():
        with pytest.raises(ssl.SSLCertVerificationError):
            await websockets.connect(ws_url(relay, "gw-0001"), ssl=pki.client_ctx("manager", ca="rogue"))

    run(scenario())


def test_authorisation_rules(outpost, pki):
    relay = start_relay(outpost, pki, "--allow", "path={cn} org=Gateways", "--allow", "org=Managers",
                        "--allow", f"path=lab-* fingerprint={pki.fingerprint('gw-0002')}")

    async def scenario():
        # each gateway only on its own path; managers anywhere
        w = await connect(relay, pki, "gw-0001", "gw-0001")
        await w.close()
        w = await connect(relay, pki, "gw-0002", "manager")
        await w.close()
        w = await connect(relay, pki, "lab-1", "gw-0002")
        await w.close()
        for meeting, who in (("gw-0002", "gw-0001"), ("lab-1", "gw-0001")):
            with pytest.raises(websockets.InvalidStatusCode) as e:
                await connect(relay, pki, meeting, who)
            assert e.value.status_code == 403

    run(scenario())
    assert metric(relay, "outpost_relay_rejects_total", '{reason="forbidden"}') == 2
    relay.wait_for(r"relay_forbidden .*path=gw-0002 .*CN=gw-0001")


def test_bad_rule_is_a_config_error(outpost, pki, tmp_path):
    from conftest import run_outpost
    r = run_outpost("relay", "--allow", "colour=blue", *pki.relay_args())
    assert r.returncode == 2 and "unknown key" in r.stderr


def test_partner_left_and_keep_waiting(outpost, pki):
    relay = start_relay(outpost, pki, "--keep-waiting")

    async def scenario():
        gw = await connect(relay, pki, "gw-0001", "gw-0001")
        await gw.send(hello("dhcp", "d1"))
        await waiting(relay, "gw-0001")
        m1 = await connect(relay, pki, "gw-0001", "manager")
        await m1.send(hello("manager", "m1"))
        assert json.loads(await gw.recv())["message"]["peerId"] == "m1"
        await m1.close()
        # the gateway is not closed; a new manager pairs with it and gets its HELLO again
        m2 = await connect(relay, pki, "gw-0001", "manager")
        await m2.send(hello("manager", "m2"))
        assert json.loads(await m2.recv())["message"]["peerId"] == "d1"
        assert json.loads(await gw.recv())["message"]["peerId"] == "m2"
        await m2.send("hi")
        assert await gw.recv() == "hi"
        await gw.close()
        await m2.close()

    run(scenario())


def test_slow_receiver_is_bounded(outpost, pki):
    relay = start_relay(outpost, pki, "--pair-buffer", "256KiB", "--max-message", "128KiB")
    chunk = "y" * 65536
    # 64 MiB offered to a peer that does not read: more than every socket
    # buffer on the way (both kernels, both directions) can absorb
    total = 1000

    async def scenario():
        wa, wb = await pair(relay, pki)
        wb.transport.pause_reading()  # b stops reading: its socket fills, then the relay's queue
        sent = 0

        async def pump():
            nonlocal sent
            for i in range(total):
                await wa.send(f"{i:06d}" + chunk)
                sent += 1

        task = asyncio.create_task(pump())
        for _ in range(1000):
            if metric(relay, "outpost_relay_backpressure_pauses_total") >= 1:
                break
            await asyncio.sleep(0.02)
        assert metric(relay, "outpost_relay_backpressure_pauses_total") >= 1
        # the sender stalls: nothing moves for a while
        last = -1
        while sent != last:
            last = sent
            await asyncio.sleep(0.3)
        assert sent < total, sent
        st = peer_status(relay, "gw-0001")
        queued = {p["id"]: p["queued"] for p in st["peers"]}
        # what the relay holds for the slow peer stays within the pair buffer
        # plus what was in flight (a read chunk and a message or two)
        assert queued["d1"] <= 256 * 1024 + 2 * 131072 + 256 * 1024, queued
        # the slow peer catches up: everything arrives, in order
        wb.transport.resume_reading()
        for i in range(total):
            assert (await wb.recv())[:6] == f"{i:06d}"
        await task
        await wa.close()
        await wb.close()

    run(scenario())


def test_ping_timeout(outpost, pki):
    relay = start_relay(outpost, pki, "--ping-interval", "300ms", "--pong-timeout", "300ms")

    async def scenario():
        wb = await connect(relay, pki, "gw-0001", "gw-0001")
        await wb.send(hello("dhcp", "d1"))
        await waiting(relay, "gw-0001")
        mute = RawWS(relay, "gw-0001", pki.client_ctx("manager"))  # never answers pings
        assert mute.status == 101
        mute.send_text(hello("manager", "mute"))
        assert json.loads(await wb.recv())["message"]["peerId"] == "mute"
        # b keeps answering pings and survives; the mute peer is dropped, b told so
        assert await closed_with(wb) == (1001, "partner left")
        mute.close()

    run(scenario())
    relay.wait_for(r"ws_ping_timeout")


def test_admin_status_and_metrics(outpost, pki):
    relay = start_relay(outpost, pki)

    async def scenario():
        wa, wb = await pair(relay, pki)
        await wa.send("12345")
        assert await wb.recv() == "12345"
        lonely = await connect(relay, pki, "gw-0002", "gw-0002")
        await lonely.send(hello("dhcp", "d2"))
        await waiting(relay, "gw-0002")
        st = admin_get(relay, "/status")
        assert st["paired_paths"] == 1 and st["waiting_paths"] == 1
        paths = {p["path"]: p for p in st["paths"]}
        assert paths["gw-0001"]["state"] == "paired"
        peers = {p["id"]: p for p in paths["gw-0001"]["peers"]}
        assert peers["m1"]["class"] == "manager"
        assert peers["m1"]["subject"] == "CN=manager,O=Managers"
        assert peers["d1"]["subject"] == "CN=gw-0001,O=Gateways"
        assert peers["m1"]["bytes_out"] >= 5 and peers["d1"]["bytes_in"] >= 5
        assert peers["m1"]["since"].endswith("Z")
        assert paths["gw-0002"]["state"] == "waiting"
        for w in (wa, wb, lonely):
            await w.close()

    run(scenario())
    with pytest.raises(urllib.error.HTTPError) as e:
        admin_get(relay, "/status", token="wrong")
    assert e.value.code == 401
    with pytest.raises(urllib.error.HTTPError) as e:
        admin_get(relay, "/status", token=None)
    assert e.value.code == 401
    m = admin_get(relay, "/metrics")
    assert "outpost_relay_connections " in m and 'outpost_relay_paths{state="paired"}' in m
    assert metric(relay, "outpost_relay_messages_total") >= 1


def test_tls_is_required_unless_insecure(outpost, pki):
    from conftest import run_outpost
    r = run_outpost("relay", "--listen", "127.0.0.1:0", "--admin-listen", "")
    assert r.returncode == 1 and "relay_tls_required" in r.stderr
    r = run_outpost("relay", "--listen", "127.0.0.1:0", "--admin-listen", "", "--tls-cert", pki.pkeycert("relay"))
    assert r.returncode == 1 and "--tls-ca" in r.stderr
    relay = start_relay(outpost, pki, "--insecure", tls=False)
    relay.wait_for(r"warn relay_insecure")

    async def scenario():
        a = await websockets.connect(ws_url(relay, "lab", "ws"))
        b = await websockets.connect(ws_url(relay, "lab", "ws"))
        await a.send(hello("a", "1"))
        await waiting(relay, "lab")
        await b.send(hello("b", "2"))
        assert json.loads(await a.recv())["message"]["peerId"] == "2"
        await a.close()
        await b.close()

    run(scenario())


def test_shutdown_closes_peers_1001(outpost, pki):
    relay = start_relay(outpost, pki)

    async def scenario():
        wa, wb = await pair(relay, pki)
        relay.signal(__import__("signal").SIGTERM)
        assert await closed_with(wa) == (1001, "relay shutting down")
        assert await closed_with(wb) == (1001, "relay shutting down")

    run(scenario())
    relay.proc.wait(20)  # a second SIGTERM from stop() would race the exit
    relay.stop()


def test_sighup_reloads_the_certificate(outpost, pki, tmp_path):
    import hashlib
    import shutil
    import signal
    import socket
    live = tmp_path / "relay.pem"
    shutil.copy(pki.pkeycert("relay"), live)
    relay = outpost("relay", "--listen", "127.0.0.1:0", "--admin-listen", "", "--tls-cert", str(live),
                    "--tls-ca", pki.cert("root"))

    def served_fingerprint():
        host, port = relay.addr()
        with socket.create_connection((host, port), timeout=10) as raw:
            with pki.client_ctx("manager").wrap_socket(raw, server_hostname=host) as s:
                return hashlib.sha256(s.getpeercert(binary_form=True)).hexdigest()

    assert served_fingerprint() == pki.fingerprint("relay")
    pki.leaf("relay-next", "root", "--ip", "127.0.0.1")
    shutil.copy(pki.pkeycert("relay-next"), live)
    relay.signal(signal.SIGHUP)
    relay.wait_for(r"relay_tls_reloaded")
    assert served_fingerprint() == pki.fingerprint("relay-next")


def test_yaml_config_with_rules(outpost, pki, tmp_path):
    cfg = tmp_path / "relay.yaml"
    cfg.write_text(f"""
listen: 127.0.0.1:0
admin-listen: 127.0.0.1:0
api-token: {TOKEN}
tls-cert: {pki.pkeycert("relay")}
tls-ca: {pki.cert("root")}
keep-waiting: true
hello-timeout: 2s
allow:
  - {{path: "{{cn}}", org: Gateways}}
  - org: Managers
""")
    relay = outpost("relay", "--config", str(cfg))

    async def scenario():
        w = await connect(relay, pki, "gw-0001", "gw-0001")
        await w.close()
        with pytest.raises(websockets.InvalidStatusCode) as e:
            await connect(relay, pki, "gw-0002", "gw-0001")
        assert e.value.status_code == 403
        w = await connect(relay, pki, "anything", "manager")
        await w.close()

    run(scenario())
    bad = tmp_path / "bad.yaml"
    bad.write_text("listen: 127.0.0.1:0\nkeep-waiting: maybe\n")
    from conftest import run_outpost
    r = run_outpost("relay", "--config", str(bad))
    assert r.returncode == 2 and "keep-waiting" in r.stderr
