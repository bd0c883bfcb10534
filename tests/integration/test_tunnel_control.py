"""Tunnel control plane: ACL and whitelist denials, unreachable targets,
duplicate logins, bad keys, gateway restarts, agent deaths, the admin and
agent APIs (with the persisted forwards) and SIGHUP reloads."""
import os
import signal
import socket
import threading
import time

import pytest
import requests

import prom

from conftest import free_port
from tunnel_util import (Server, echo_handler, read_all, start_agent, start_gateway,
                         wait_connected)

GW_AUTH = {"Authorization": "Bearer admintoken"}
AG_AUTH = {"Authorization": "Bearer agenttoken"}


def add_forward(agent, remote, gateway="b", ip="127.0.0.1", local=0):
    r = requests.post(agent.url() + "/api/forwards", headers=AG_AUTH, timeout=5,
                      json={"local": local, "gateway": gateway, "ip": ip, "remote": remote})
    assert r.status_code == 201, r.text
    return r.json()


def port_of(fw):
    return int(fw["local"].rsplit(":", 1)[1])


def closed_quickly(port, send=b"x", timeout=5.0):
    """Connect through a forward; the tunnel must end it (EOF or reset) fast."""
    t0 = time.monotonic()
    try:
        # the reset can arrive before connect() has even returned
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as c:
            c.sendall(send)
            data = c.recv(100)
    except (ConnectionResetError, BrokenPipeError):
        data = b""
    assert data == b""
    return time.monotonic() - t0


@pytest.fixture
def echo():
    s = Server(echo_handler)
    yield s
    s.close()


def pair(outpost, tmp_path, rules, allow, extra_gw=(), **kw):
    gw = start_gateway(outpost, tmp_path, {"a": "key-a", "b": "key-b"}, rules, extra=extra_gw)
    b = start_agent(outpost, tmp_path, gw, "b", "key-b", allow=allow, **kw)
    a = start_agent(outpost, tmp_path, gw, "a", "key-a", **kw)
    wait_connected(a)
    wait_connected(b)
    return gw, a, b


def echo_ok(port):
    with socket.create_connection(("127.0.0.1", port), timeout=10) as c:
        c.sendall(b"hello")
        c.shutdown(socket.SHUT_WR)
        assert read_all(c) == b"hello"


def test_acl_default_deny(outpost, tmp_path, echo):
    gw, a, b = pair(outpost, tmp_path, [f"from=a to=b net=127.0.0.1 ports={echo.port}"],
                    ["net=127.0.0.0/8 ports=*"])
    echo_ok(port_of(add_forward(a, echo.port)))
    # another port, the other direction, another address: all denied
    closed_quickly(port_of(add_forward(a, echo.port + 1 if echo.port < 65535 else 1)))
    gw.wait_for(r"stream_denied from=a to=b ip=127\.0\.0\.1")
    a.wait_for(r"stream_refused .*reason=\"denied by ACL")
    closed_quickly(port_of(add_forward(b, echo.port, gateway="a")))
    gw.wait_for(r"stream_denied from=b to=a")
    m = prom.parse(requests.get(gw.url("admin") + "/metrics", headers=GW_AUTH, timeout=5).text)
    assert prom.value(m, "outpost_gateway_stream_refusals_total", reason="acl") == 2
    # and the stream that opened was counted both ways
    assert prom.value(m, "outpost_gateway_bytes_total", direction="to_acceptor") == 5
    assert prom.value(m, "outpost_gateway_bytes_total", direction="to_initiator") == 5


def test_whitelist_and_unreachable(outpost, tmp_path, echo):
    gw, a, b = pair(outpost, tmp_path, ["from=a to=b net=* ports=*"],
                    [f"net=127.0.0.1/32 ports={echo.port}"])
    echo_ok(port_of(add_forward(a, echo.port)))
    closed_quickly(port_of(add_forward(a, echo.port, ip="127.0.0.2")))
    b.wait_for(r"stream_denied .*ip=127\.0\.0\.2 .*reason=\"not in whitelist\"")
    a.wait_for(r"stream_refused .*reason=\"not in whitelist: 127\.0\.0\.2")
    m = prom.parse(requests.get(gw.url("admin") + "/metrics", headers=GW_AUTH, timeout=5).text)
    assert prom.value(m, "outpost_gateway_stream_refusals_total", reason="agent") == 1
    # allowed but nobody listens: the Ack names the reason
    dead = free_port()
    gw2, a2, b2 = pair(outpost, tmp_path / "x", ["from=a to=b net=* ports=*"],
                       ["net=127.0.0.1/32 ports=*"])
    closed_quickly(port_of(add_forward(a2, dead)))
    a2.wait_for(r"stream_refused .*reason=\"connection refused\"")


def test_duplicate_login_replaces_old_session(outpost, tmp_path, echo):
    gw, a, b = pair(outpost, tmp_path, ["from=a to=b net=* ports=*"], ["net=127.0.0.0/8 ports=*"])
    port = port_of(add_forward(a, echo.port))
    held = socket.create_connection(("127.0.0.1", port), timeout=10)
    held.sendall(b"1")
    assert held.recv(1) == b"1"
    # a second process logs in as b: it takes over, the old b's streams reset
    b2 = start_agent(outpost, tmp_path / "b2", gw, "b", "key-b", allow=["net=127.0.0.0/8 ports=*"],
                     extra=["--reconnect-max", "30s"])
    wait_connected(b2)
    gw.wait_for(r"agent_replaced agent=b")
    b.wait_for(r"gateway_goaway code=replaced")
    with pytest.raises(ConnectionResetError):  # a reset, not an EOF or a hang
        held.recv(10)
    held.close()
    echo_ok(port)  # served by the new b
    agents = requests.get(gw.url("admin") + "/api/agents", headers=GW_AUTH, timeout=5).json()
    assert sorted(x["name"] for x in agents) == ["a", "b"]


def test_bad_key_is_refused(outpost, tmp_path):
    gw = start_gateway(outpost, tmp_path, {"a": "key-a"}, [])
    bad = start_agent(outpost, tmp_path, gw, "a", "wrong-key")
    bad.wait_for(r"gateway_login_failed .*reason=\"authentication failed\"")
    # one line for the address (later failures are counted into the next one)
    gw.wait_for(r"agent_auth_failed addr=127\.0\.0\.1 failures=1 .*agent=a reason=\"wrong key\"")
    ghost = start_agent(outpost, tmp_path, gw, "nobody", "key-a")
    ghost.wait_for(r"gateway_login_failed")
    assert "wrong-key" not in gw.output() and "key-a" not in gw.output()


def test_gateway_restart_reconnects(outpost, tmp_path, echo):
    """Streams end with the gateway; a local connection made while it is
    away waits for the link (--link-wait): reset with a log line when none
    comes in time, carried when the agents are back in time."""
    gw, a, b = pair(outpost, tmp_path, ["from=a to=b net=* ports=*"], ["net=127.0.0.0/8 ports=*"],
                    extra=["--link-wait", "4s"])
    port = port_of(add_forward(a, echo.port))
    held = socket.create_connection(("127.0.0.1", port), timeout=10)
    held.sendall(b"1")
    assert held.recv(1) == b"1"
    gw_port = gw.addr()[1]
    na, nb = len(a.lines), len(b.lines)
    gw.stop()
    # streams end on both sides
    with pytest.raises(ConnectionResetError):
        held.recv(10)
    held.close()
    a.wait_for(r"gateway_disconnected", start=na)
    # no link within --link-wait: the waiting client is reset, and the log says why
    waited = closed_quickly(port, timeout=10)
    assert 3.5 < waited < 8, waited
    a.wait_for(r"forward_wait_expired .*reason=\"no gateway link within --link-wait\"", start=na)
    # a client that arrives now waits, and is served once the gateway is back
    early = socket.create_connection(("127.0.0.1", port), timeout=10)
    early.sendall(b"early bytes")
    gw2 = start_gateway(outpost, tmp_path / "again", {"a": "key-a", "b": "key-b"},
                        ["from=a to=b net=* ports=*"], port=gw_port)
    wait_connected(a, start=na)
    wait_connected(b, start=nb)
    early.shutdown(socket.SHUT_WR)
    assert read_all(early) == b"early bytes"
    early.close()
    echo_ok(port)
    gw2.stop()


def test_agent_death_resets_far_side(outpost, tmp_path):
    """Killing the acceptor agent resets the initiator's streams."""
    def slow(c):
        c.recv(10)
        c.sendall(b"ok")
        c.recv(10)  # wait for the end
    srv = Server(slow)
    gw, a, b = pair(outpost, tmp_path, ["from=a to=b net=* ports=*"], ["net=127.0.0.0/8 ports=*"])
    port = port_of(add_forward(a, srv.port))
    c = socket.create_connection(("127.0.0.1", port), timeout=10)
    c.sendall(b"go")
    assert c.recv(2) == b"ok"
    b.kill()
    with pytest.raises(ConnectionResetError):
        c.recv(10)
    c.close()
    gw.wait_for(r"agent_offline agent=b")
    srv.close()


def test_admin_api(outpost, tmp_path, echo):
    gw, a, b = pair(outpost, tmp_path, ["from=a to=b net=* ports=*"], ["net=127.0.0.0/8 ports=*"])
    admin = gw.url("admin")
    assert requests.get(admin + "/api/agents", timeout=5).status_code == 401
    assert requests.get(admin + "/api/agents", headers={"Authorization": "Bearer nope"},
                        timeout=5).status_code == 401
    agents = requests.get(admin + "/api/agents", headers=GW_AUTH, timeout=5).json()
    assert {x["name"] for x in agents} == {"a", "b"}
    for x in agents:
        assert x["address"].startswith("127.0.0.1:") and x["since"].endswith("Z")
    port = port_of(add_forward(a, echo.port))
    c = socket.create_connection(("127.0.0.1", port), timeout=10)
    c.sendall(b"abc")
    assert c.recv(3) == b"abc"
    streams = requests.get(admin + "/api/streams", headers=GW_AUTH, timeout=5).json()
    assert len(streams) == 1 and streams[0]["from"] == "a" and streams[0]["to"] == "b"
    assert streams[0]["bytes_out"] == 3 and streams[0]["state"] == "open"
    st = requests.get(admin + "/status", headers=GW_AUTH, timeout=5).json()
    assert st["agents_online"] == 2 and st["streams"] == 1
    n = len(b.lines)
    r = requests.delete(admin + "/api/agents/b", headers=GW_AUTH, timeout=5)
    assert r.status_code == 200
    b.wait_for(r"gateway_goaway code=kicked", start=n)
    with pytest.raises(ConnectionResetError):
        c.recv(10)
    c.close()
    wait_connected(b, start=n)  # it comes back by itself
    assert requests.delete(admin + "/api/agents/zz", headers=GW_AUTH, timeout=5).status_code == 404
    m = requests.get(admin + "/metrics", headers=GW_AUTH, timeout=5).text
    assert "outpost_gateway_agents_online 2" in m


def test_agent_api_persists_forwards(outpost, tmp_path, echo):
    gw, a, b = pair(outpost, tmp_path, ["from=a to=b net=* ports=*"], ["net=127.0.0.0/8 ports=*"])
    api = a.url()
    assert requests.get(api + "/api/forwards", timeout=5).status_code == 401
    bad = requests.post(api + "/api/forwards", headers=AG_AUTH, timeout=5,
                        json={"local": 0, "gateway": "b", "ip": "not-an-ip", "remote": 1})
    assert bad.status_code == 400 and "ip" in bad.json()["error"]
    fw = add_forward(a, echo.port)
    assert fw["local"].startswith("127.0.0.1:")  # a bare port is bound to loopback only
    other = add_forward(a, echo.port, local="127.0.0.2:0")  # HOST:PORT is taken as given
    assert other["local"].startswith("127.0.0.2:")
    with socket.create_connection(("127.0.0.2", port_of(other)), timeout=10) as c:
        c.sendall(b"via .2")
        c.shutdown(socket.SHUT_WR)
        assert read_all(c) == b"via .2"
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port_of(other)), timeout=5).close()
    assert requests.delete(api + f"/api/forwards/{other['id']}", headers=AG_AUTH,
                           timeout=5).status_code == 200
    gone = add_forward(a, echo.port)
    assert requests.delete(api + f"/api/forwards/{gone['id']}", headers=AG_AUTH,
                           timeout=5).status_code == 200
    assert requests.delete(api + "/api/forwards/999", headers=AG_AUTH,
                           timeout=5).status_code == 404
    lst = requests.get(api + "/api/forwards", headers=AG_AUTH, timeout=5).json()
    assert [f["id"] for f in lst] == [fw["id"]]
    st = requests.get(api + "/api/status", headers=AG_AUTH, timeout=5).json()
    assert st["connected"] is True and st["name"] == "a"
    # restart the agent: the forward comes back on the same port
    a.stop()
    a2 = start_agent(outpost, tmp_path, gw, "a", "key-a")
    wait_connected(a2)
    lst = requests.get(a2.url() + "/api/forwards", headers=AG_AUTH, timeout=5).json()
    assert [(f["local"], f["remote"], f["persistent"]) for f in lst] == \
        [(fw["local"], echo.port, True)]
    echo_ok(port_of(fw))


def test_sighup_reloads_rules(outpost, tmp_path, echo):
    from tunnel_util import key_hash
    cfg = tmp_path / "gw.yaml"

    def write(rules, agents=("a", "b")):
        lines = ["agent:"] + [f"  - name={x} key-hash={key_hash('key-' + x)}" for x in agents]
        lines += ["rule:"]
        lines += [f"  - {r}" for r in rules] or ["  []"]
        cfg.write_text("\n".join(lines) + "\n")
    write([])
    gw = outpost("gateway", "--config", str(cfg), "--listen", "127.0.0.1:0", "--admin-listen",
                 "127.0.0.1:0", "--insecure", "--data-dir", str(tmp_path / "gw"),
                 "--api-token", "admintoken")
    b = start_agent(outpost, tmp_path, gw, "b", "key-b", allow=["net=127.0.0.0/8 ports=*"])
    a = start_agent(outpost, tmp_path, gw, "a", "key-a")
    wait_connected(a)
    wait_connected(b)
    port = port_of(add_forward(a, echo.port))
    closed_quickly(port)
    write(["from=a to=b net=127.0.0.1 ports=*"])
    n = len(gw.lines)
    gw.signal(signal.SIGHUP)
    gw.wait_for(r"reloaded agents=2 rules=1", start=n)
    echo_ok(port)
    # b is removed: its session ends with GoAway{removed} and it cannot log in again
    held = socket.create_connection(("127.0.0.1", port), timeout=10)
    held.sendall(b"1")
    assert held.recv(1) == b"1"
    write(["from=a to=b net=127.0.0.1 ports=*"], agents=("a",))
    n, nb = len(gw.lines), len(b.lines)
    gw.signal(signal.SIGHUP)
    gw.wait_for(r"reloaded agents=1 rules=1", start=n)
    b.wait_for(r"gateway_goaway code=removed", start=nb)
    with pytest.raises(ConnectionResetError):
        held.recv(10)
    held.close()
    b.wait_for(r"gateway_login_failed", start=nb)
    # an invalid file keeps what was loaded
    cfg.write_text("agent:\n  - name=a key=clear-text-key\n")
    n = len(gw.lines)
    gw.signal(signal.SIGHUP)
    gw.wait_for(r"reload_failed", start=n)
    assert [x["name"] for x in requests.get(gw.url("admin") + "/api/agents", headers=GW_AUTH,
                                            timeout=5).json()] == ["a"]


def test_forward_removed_under_live_streams(outpost, tmp_path, echo):
    """A forward deleted (or the agent stopped) while streams that came in on
    it are still open or closing: the streams carry on and end cleanly, and
    the forward is only freed after the last of them (ASan checks)."""
    gw, a, b = pair(outpost, tmp_path, ["from=a to=b net=* ports=*"], ["net=127.0.0.0/8 ports=*"])
    fw = add_forward(a, echo.port)
    live = [socket.create_connection(("127.0.0.1", port_of(fw)), timeout=10) for _ in range(3)]
    for c in live:
        c.sendall(b"ping")
        assert c.recv(4) == b"ping"
    assert requests.delete(a.url() + f"/api/forwards/{fw['id']}", headers=AG_AUTH,
                           timeout=5).status_code == 200
    live[0].sendall(b"still")  # the stream outlives its forward
    assert live[0].recv(5) == b"still"
    live[0].close()
    live[1].shutdown(socket.SHUT_WR)  # half-closed, then the agent stops
    fw2 = add_forward(a, echo.port)
    more = socket.create_connection(("127.0.0.1", port_of(fw2)), timeout=10)
    more.sendall(b"x")
    assert more.recv(1) == b"x"
    a.stop()  # streams of a closed forward and of a live one end while the agent drains
    for c in live[1:] + [more]:
        c.close()


def test_connect_timeout(outpost, tmp_path):
    """A whitelisted target that never answers the SYN (its accept queue is
    full, so the kernel drops it): the acceptor gives up after
    --connect-timeout and the Ack names the reason."""
    lst = socket.socket()
    lst.bind(("127.0.0.1", 0))
    lst.listen(0)
    filler = socket.create_connection(lst.getsockname(), timeout=5)  # fills the queue
    gw, a, b = pair(outpost, tmp_path, ["from=a to=b net=* ports=*"], ["net=127.0.0.1/32 ports=*"],
                    extra=["--connect-timeout", "1s"])
    port = port_of(add_forward(a, lst.getsockname()[1]))
    assert closed_quickly(port, timeout=10) < 8.0  # well before the kernel's own ~2 min
    b.wait_for(r"stream_connect_failed .*reason=\"connect timeout\"")
    a.wait_for(r"stream_refused .*reason=\"connect timeout\"")
    filler.close()
    lst.close()


def test_keepalive_detects_a_hung_gateway(outpost, tmp_path, echo):
    """A gateway that stops answering (stopped process, dead path) is noticed
    by the agents' Ping within --keepalive + --keepalive-timeout: the link is
    dropped, local clients are refused at once (--link-wait 0), and the
    agents come back when the gateway does."""
    gw, a, b = pair(outpost, tmp_path, ["from=a to=b net=* ports=*"], ["net=127.0.0.0/8 ports=*"],
                    extra=["--keepalive", "300ms", "--keepalive-timeout", "500ms",
                           "--connect-timeout", "1s", "--link-wait", "0"])
    port = port_of(add_forward(a, echo.port))
    echo_ok(port)
    na, nb = len(a.lines), len(b.lines)
    gw.signal(signal.SIGSTOP)
    try:
        a.wait_for(r"gateway_keepalive_timeout", start=na)
        a.wait_for(r"gateway_disconnected", start=na)
        assert closed_quickly(port) < 2.0
    finally:
        gw.signal(signal.SIGCONT)
    wait_connected(a, start=na)
    wait_connected(b, start=nb)
    echo_ok(port)


def test_gateway_drops_silent_agent(outpost, tmp_path, echo):
    """An agent that stops sending (no Ping for --idle-timeout) is dropped by
    the gateway, its streams reset on the far side; an agent that keeps
    pinging stays online; the stopped one logs in again once it runs."""
    gw, a, b = pair(outpost, tmp_path, ["from=a to=b net=* ports=*"], ["net=127.0.0.0/8 ports=*"],
                    extra_gw=["--idle-timeout", "1500ms"], extra=["--keepalive", "200ms"])
    port = port_of(add_forward(a, echo.port))
    held = socket.create_connection(("127.0.0.1", port), timeout=10)
    held.sendall(b"1")
    assert held.recv(1) == b"1"
    ng, nb = len(gw.lines), len(b.lines)
    b.signal(signal.SIGSTOP)
    try:
        gw.wait_for(r"agent_idle_timeout agent=b ", start=ng)
        with pytest.raises(ConnectionResetError):
            held.recv(10)
        held.close()
    finally:
        b.signal(signal.SIGCONT)
    assert not [x for x in gw.lines[ng:] if "agent_idle_timeout agent=a " in x]
    assert "gateway_disconnected" not in "".join(a.lines)
    wait_connected(b, start=nb)
    echo_ok(port)


def test_agent_windows_fit_the_gateway_max_window(outpost, tmp_path, echo):
    """The gateway announces its --max-window in the login Ack and agents keep
    their windows within it: a window that grows on a fast stream must not
    outgrow what the gateway accepts (it would reset the stream mid-transfer),
    nor may an initial --window above it make every stream fail."""
    gw, a, b = pair(outpost, tmp_path, ["from=a to=b net=* ports=*"], ["net=127.0.0.0/8 ports=*"],
                    extra_gw=["--max-window", "64KiB"], extra=["--window", "32KiB"])
    a.wait_for(r"gateway_connected .* window=32768 max_window=65536")
    port = port_of(add_forward(a, echo.port))
    blob = os.urandom(8 << 20)
    with socket.create_connection(("127.0.0.1", port), timeout=30) as c:
        t = threading.Thread(target=lambda: (c.sendall(blob), c.shutdown(socket.SHUT_WR)))
        t.start()
        got = read_all(c)
        t.join()
    assert got == blob
    assert "stream_error" not in gw.output()
    # an initial --window above the gateway's maximum is narrowed, not refused
    a.stop()
    a2 = start_agent(outpost, tmp_path, gw, "a", "key-a", extra=["--window", "1MiB"])
    a2.wait_for(r"gateway_connected .* window=65536 max_window=65536")
    echo_ok(port)
    assert "stream_error" not in gw.output() and "stream_refused" not in a2.output()


def test_stored_forwards_survive_a_bad_start(outpost, tmp_path, echo):
    """A stored forward whose port is taken at start-up is not dropped from
    the state file by the next save, and comes back once its port is free; a
    state file that is not JSON is moved aside, not overwritten."""
    import json
    gw = start_gateway(outpost, tmp_path, {"a": "key-a", "b": "key-b"},
                       ["from=a to=b net=* ports=*"])
    b = start_agent(outpost, tmp_path, gw, "b", "key-b", allow=["net=127.0.0.0/8 ports=*"])
    wait_connected(b)
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    busy_local = "127.0.0.1:%d" % busy.getsockname()[1]
    state = tmp_path / "a" / "forwards.json"
    state.parent.mkdir(parents=True)
    stored = {"local": busy_local, "gateway": "b", "ip": "127.0.0.1", "remote": echo.port}
    state.write_text(json.dumps([stored]))
    a = start_agent(outpost, tmp_path, gw, "a", "key-a")
    wait_connected(a)
    a.wait_for(r"state_forward_skipped .*cannot listen")
    add_forward(a, echo.port)  # saves the state file
    saved = json.loads(state.read_text())
    assert stored in saved and len(saved) == 2
    a.stop()
    busy.close()
    a2 = start_agent(outpost, tmp_path, gw, "a", "key-a")
    wait_connected(a2)
    lst = requests.get(a2.url() + "/api/forwards", headers=AG_AUTH, timeout=5).json()
    assert busy_local in [f["local"] for f in lst]
    echo_ok(int(busy_local.rsplit(":", 1)[1]))
    a2.stop()
    # a damaged file is kept for the operator
    state.write_text("[{\"local\": 1")
    a3 = start_agent(outpost, tmp_path, gw, "a", "key-a")
    a3.wait_for(r"state_load_failed .*moved_to=")
    assert (tmp_path / "a" / "forwards.json.bad").read_text() == "[{\"local\": 1"
    add_forward(a3, echo.port)
    assert len(json.loads(state.read_text())) == 1


def test_agent_api_state_write_failure(outpost, tmp_path, echo):
    """When the state file cannot be written the API says so (500 with the
    reason) instead of reporting success, and a new forward is not kept."""
    gw, a, b = pair(outpost, tmp_path, ["from=a to=b net=* ports=*"], ["net=127.0.0.0/8 ports=*"])
    fw = add_forward(a, echo.port)
    blocker = tmp_path / "a" / "forwards.json.tmp"
    blocker.mkdir()  # the temporary file cannot be created
    r = requests.delete(a.url() + f"/api/forwards/{fw['id']}", headers=AG_AUTH, timeout=5)
    assert r.status_code == 500 and "comes back after a restart" in r.json()["error"]
    r = requests.post(a.url() + "/api/forwards", headers=AG_AUTH, timeout=5,
                      json={"local": 0, "gateway": "b", "ip": "127.0.0.1", "remote": echo.port})
    assert r.status_code == 500 and "state file" in r.json()["error"]
    assert requests.get(a.url() + "/api/forwards", headers=AG_AUTH, timeout=5).json() == []
    a.wait_for(r"state_save_failed")
    blocker.rmdir()
