"""Agent logins under attack: a flood of wrong keys from one address neither
starves another address's login (key checks are queued per address and
served in turn) nor floods the log; an address that keeps failing is locked
out before any key is hashed, its right key included, and only it."""
import re
import socket
import time

import pytest
import requests

import prom

from tunnel_util import (DATA, LoginFlood, RawWS, Server, connect_retry, echo_handler,
                         forward_port, msg, start_agent, start_gateway, try_login, wait_connected)

GW_AUTH = {"Authorization": "Bearer admintoken"}
REAL_ITER = 100000  # `hash-key`'s default: what a key check costs in production


def metrics(gw):
    r = requests.get(gw.url("admin") + "/metrics", headers=GW_AUTH, timeout=5)
    assert r.status_code == 200
    return {name.replace("outpost_gateway_", ""): int(v)
            for (name, labels), v in prom.parse(r.text).items()
            if name.startswith("outpost_gateway_") and not labels}


def auth_lines(gw, start=0):
    return [l for l in gw.lines[start:] if re.search(r"\bagent_auth_", l)]


@pytest.fixture
def echo():
    s = Server(echo_handler)
    yield s
    s.close()


def timed_login(outpost, tmp_path, gw, tag, echo_port, timeout):
    """Start agent a (its key not cached by this gateway process) and return
    (agent, seconds from its start to its login)."""
    t0 = time.monotonic()
    a = start_agent(outpost, tmp_path / tag, gw, "a", "key-a",
                    forwards=[f"local=0 gateway=b ip=127.0.0.1 remote={echo_port}"])
    wait_connected(a, timeout=timeout)
    return a, time.monotonic() - t0


@pytest.mark.parametrize("lockout", ["on", "off"])
def test_login_survives_a_flood_of_wrong_keys(outpost, tmp_path, echo, lockout):
    extra = [] if lockout == "on" else ["--auth-lockout", "0"]
    agents = {"a": ("key-a", REAL_ITER), "b": "key-b"}
    rules = ["from=a to=b net=127.0.0.1 ports=*"]
    gw = start_gateway(outpost, tmp_path / "gw1", agents, rules, extra=extra)
    b = start_agent(outpost, tmp_path, gw, "b", "key-b", allow=["net=127.0.0.0/8 ports=*"])
    wait_connected(b)
    # the normal time: an uncached key, nothing else going on
    a, normal = timed_login(outpost, tmp_path, gw, "a0", echo.port, timeout=30)
    a.stop()
    # a restart forgets the verified keys: a's next login pays the full PBKDF2
    port = gw.addr()[1]
    nb = len(b.lines)
    gw.stop()
    gw = start_gateway(outpost, tmp_path / "gw2", agents, rules, extra=extra, port=port)
    wait_connected(b, start=nb + 1)
    flood = LoginFlood(gw, n=24, source="127.0.0.2", name="a", key="wrong-key")
    try:
        deadline = time.monotonic() + 10
        while flood.total("ack") < 8 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert flood.total("ack") >= 8, flood.counts  # the flood is on
        allowed = 3 * normal + 1.0
        a, took = timed_login(outpost, tmp_path, gw, "a1", echo.port, timeout=allowed + 30)
        print("normal", round(normal, 3), "took", round(took, 3), flood.counts)
        assert took <= allowed, f"login took {took:.2f}s under the flood, {normal:.2f}s without"
        # at its first attempt: another address's flood never gets it refused
        refused = [l for l in a.lines if "gateway_connect_failed" in l]
        assert not refused, refused
        # and it carries a byte stream
        s = connect_retry(forward_port(a))
        payload = bytes(range(256)) * 256
        s.sendall(payload)
        got = b""
        while len(got) < len(payload):
            d = s.recv(65536)
            assert d, "stream ended early"
            got += d
        assert got == payload
        s.close()
    finally:
        flood.stop()
    m = metrics(gw)
    if lockout == "on":
        assert m["auth_lockouts_total"] >= 1 and m["auth_locked_out_total"] >= 1
        assert flood.total(4429) >= 1, flood.counts
    else:
        assert m["auth_lockouts_total"] == 0
        # the flood had more logins waiting than its address may queue
        assert flood.total(1013) >= 1 and m["auth_busy_total"] >= 1, flood.counts
    assert m["auth_failures_total"] >= 8
    a.stop()


def test_lockout_refuses_before_hashing_and_ends(outpost, tmp_path):
    gw = start_gateway(outpost, tmp_path, {"raw": "key-raw"}, [],
                       extra=["--auth-max-failures", "3", "--auth-lockout", "2s"])
    for _ in range(3):
        ack, code, _ = try_login(gw, "raw", "wrong", source="127.0.0.2")
        assert ack["Ok"] is False and ack["Message"] == "authentication failed"
        assert code == 1008
    locked_at = time.monotonic()
    gw.wait_for(r"agent_auth_failed addr=127\.0\.0\.2 .*locked_ms=2000 strike=1")
    hashes = metrics(gw)["auth_hashes_total"]
    # the right key from that address is refused too, without being checked
    t0 = time.monotonic()
    ack, code, reason = try_login(gw, "raw", "key-raw", source="127.0.0.2")
    assert time.monotonic() - t0 < 1.8  # at once, not after the 2 s lockout
    assert ack["Ok"] is False and code == 4429, (ack, code, reason)
    assert re.search(r"locked out.* retry in [12] s", ack["Message"]), ack
    assert "locked out" in reason
    m = metrics(gw)
    assert m["auth_hashes_total"] == hashes
    assert m["auth_lockouts_total"] == 1 and m["auth_locked_out_total"] == 1
    assert m["auth_failures_total"] == 3
    # another address is not affected
    ack, _, _ = try_login(gw, "raw", "key-raw", source="127.0.0.1")
    assert ack["Ok"] is True
    ack["ws"].close()
    # and now that key is cached: its next login is not hashed
    hashes = metrics(gw)["auth_hashes_total"]
    ack, _, _ = try_login(gw, "raw", "key-raw", source="127.0.0.1")
    assert ack["Ok"] is True
    ack["ws"].close()
    assert metrics(gw)["auth_hashes_total"] == hashes
    # the lock-out ends
    while True:
        ack, code, _ = try_login(gw, "raw", "key-raw", source="127.0.0.2")
        if ack["Ok"]:
            ack["ws"].close()
            break
        assert code == 4429
        assert time.monotonic() - locked_at < 5, "still locked out"
        time.sleep(0.2)
    assert time.monotonic() - locked_at > 1.5


def test_missing_and_malformed_handshakes_count(outpost, tmp_path):
    gw = start_gateway(outpost, tmp_path, {"raw": "key-raw"}, [],
                       extra=["--auth-max-failures", "3", "--handshake-timeout", "300ms"])
    src = "127.0.0.3"
    ws = RawWS(*gw.addr(), source=src)
    ws.send(b"\x01\x91\x01")  # not a map
    while ws.recv() is not None:
        pass
    assert ws.close_code == 1008
    ws = RawWS(*gw.addr(), source=src)
    ws.send(msg(DATA, GUID="x", Data=b"z"))  # not a handshake
    while ws.recv() is not None:
        pass
    assert ws.close_code == 1008
    ws = RawWS(*gw.addr(), source=src)  # no handshake at all
    while ws.recv() is not None:
        pass
    assert "handshake timeout" in ws.close_reason
    gw.wait_for(r"agent_auth_failed addr=127\.0\.0\.3 .*strike=1 .*reason=\"handshake timeout\"")
    ack, code, _ = try_login(gw, "raw", "key-raw", source=src)
    assert ack["Ok"] is False and code == 4429
    ack, _, _ = try_login(gw, "raw", "key-raw", source="127.0.0.1")
    assert ack["Ok"] is True
    ack["ws"].close()


@pytest.mark.parametrize("lockout", ["1m", "0"])
def test_failure_log_lines_are_bounded(outpost, tmp_path, lockout):
    gw = start_gateway(outpost, tmp_path, {"raw": "key-raw"}, [],
                       extra=["--auth-lockout", lockout, "--auth-log-interval", "2s"])
    n0 = len(gw.lines)
    for _ in range(200):
        ack, code, _ = try_login(gw, "raw", "wrong", source="127.0.0.2")
        assert ack["Ok"] is False and code in (1008, 4429)
    lines = auth_lines(gw, n0)
    assert 1 <= len(lines) <= 4, "\n".join(lines)
    # the sweep says what no later attempt flushed: every attempt is in a count
    def counted():
        total = 0
        for l in auth_lines(gw, n0):
            m = re.search(r"\b(?:failures|attempts)=(\d+)", l)
            assert m, l
            total += int(m.group(1))
        return total
    deadline = time.monotonic() + 10
    while counted() < 200 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert counted() == 200, "\n".join(auth_lines(gw, n0))
    assert len(auth_lines(gw, n0)) <= 6
    m = metrics(gw)
    if lockout == "0":
        assert m["auth_failures_total"] == 200 and m["auth_lockouts_total"] == 0
    else:
        assert m["auth_failures_total"] == 10 and m["auth_locked_out_total"] == 190


def test_one_address_cannot_hold_every_connection(outpost, tmp_path):
    """Before any handshake a connection is only an address: with
    --max-connections-per-addr one address holding its share gets its next
    connection answered 503 and closed, and an agent from another address
    still logs in."""
    gw = start_gateway(outpost, tmp_path, {"raw": "key-raw"}, [],
                       extra=["--max-connections-per-addr", "2"])
    host, port = gw.addr()
    idle = [socket.create_connection((host, port), source_address=("127.0.0.9", 0), timeout=10)
            for _ in range(2)]
    s = socket.create_connection((host, port), source_address=("127.0.0.9", 0), timeout=10)
    s.settimeout(5)
    out = b""
    while chunk := s.recv(4096):
        out += chunk
    assert out.startswith(b"HTTP/1.1 503 ") and b"too many connections from your address" in out
    s.close()
    gw.wait_for(r"conn_refused .*last_addr=127\.0\.0\.9 max_per_addr=2")
    ack, code, _ = try_login(gw, "raw", "key-raw", source="127.0.0.2")
    assert ack["Ok"] is True
    ack["ws"].close()
    for c in idle:
        c.close()
