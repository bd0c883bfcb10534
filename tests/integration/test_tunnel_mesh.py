"""The tunnel at scale: three gateways in a mesh (mutual TLS with gateway
certificates from `outpost certs`) and four agents on loopback.

    a -> gw1        b -> gw3        c -> gw2, then gw3        d -> gw2, then gw1

Every gateway lists the other two as peers, so each pair dials both ways
and must end with one link. Streams between agents on different gateways
cross one mesh link with credit end to end; a gateway that dies takes its
routes and streams with it, its agents fail over, and new streams work
within seconds. Also: a split-brain login resolved alike everywhere, a peer
with other rules refused, and memory bounded behind a slow reader."""
import hashlib
import os
import signal
import socket
import time

import pytest
import requests

import prom
from conftest import free_port
from tunnel_util import (ACK, AG_AUTH, GW_AUTH, INITIATOR, MESH_HELLO, PRESENCE, MeshPKI, RawWS,
                         Server, add_forward,
                         api, echo_handler, mesh_agent, mesh_gateway, msg, read_all, routes,
                         rss_kb, sink_handler, small_quarantine, source_digest, source_handler,
                         transfer_to_sink, wait_connected, wait_until)

KEYS = {"a": "key-a", "b": "key-b", "c": "key-c", "d": "key-d", "x": "key-x"}
RULES = ["from=* to=* net=127.0.0.1/32 ports=1024-65535"]
ALLOW = ["net=127.0.0.0/8 ports=1024-65535"]


class Mesh:
    def __init__(self, outpost, tmp_path, gw_extra=(), agent_extra=(), env=None):
        self.outpost, self.tmp = outpost, tmp_path
        self.pki = MeshPKI(tmp_path / "pki")
        self.echo = Server(echo_handler)
        self.sink = Server(sink_handler)
        self.source = Server(source_handler)
        self.mports = {n: free_port() for n in ("gw1", "gw2", "gw3")}
        self.gw = {}
        for n in ("gw1", "gw2", "gw3"):
            peers = [p for m, p in self.mports.items() if m != n]
            self.gw[n] = mesh_gateway(outpost, tmp_path, self.pki, n, KEYS, RULES, self.mports[n],
                                      peers, extra=gw_extra, env=env)
        g = self.gw
        ex = list(agent_extra)
        self.ag = {
            "a": mesh_agent(outpost, tmp_path, [g["gw1"]], "a", "key-a", allow=ALLOW, extra=ex,
                            env=env),
            "b": mesh_agent(outpost, tmp_path, [g["gw3"]], "b", "key-b", allow=ALLOW, extra=ex,
                            env=env),
            # c reaches gw2 by name: resolved by the agent, address by address
            "c": mesh_agent(outpost, tmp_path,
                            [f"ws://localhost:{g['gw2'].addr()[1]}/tunnel", g["gw3"]], "c",
                            "key-c", allow=ALLOW, extra=ex, env=env),
            "d": mesh_agent(outpost, tmp_path, [g["gw2"], g["gw1"]], "d", "key-d", allow=ALLOW,
                            extra=ex, env=env),
        }
        for a in self.ag.values():
            wait_connected(a)
        self.wait_full()

    def wait_full(self, gws=("gw1", "gw2", "gw3"), agents="abcd"):
        """Every gateway linked to every other by the link the pair keeps
        (dialled by the name that sorts first: both dial at first contact),
        and routes for every agent."""
        def ok():
            for n in gws:
                st = api(self.gw[n], "/status")["mesh"]
                if st["links_up"] != len(gws) - 1:
                    return False
                for link in st["links"]:
                    dialler = min(n, link["gateway"])
                    if link["direction"] != ("outbound" if dialler == n else "inbound"):
                        return False
                if set(routes(self.gw[n])) != set(agents):
                    return False
            return True
        wait_until(ok, timeout=20, what="a full mesh with every agent routed")

    def close(self):
        for s in (self.echo, self.sink, self.source):
            s.close()


@pytest.fixture
def mesh(outpost, tmp_path):
    m = Mesh(outpost, tmp_path)
    yield m
    m.close()


def echo_ok(port, payload=b"hello"):
    with socket.create_connection(("127.0.0.1", port), timeout=10) as c:
        c.sendall(payload)
        c.shutdown(socket.SHUT_WR)
        assert read_all(c) == payload


def test_one_link_per_pair_and_routes_agree(mesh):
    """Both gateways of each pair dial each other; one link stays, the same
    one on both sides (the one dialled by the name that sorts first). Every
    gateway routes every agent to the gateway it is logged in to."""
    want = {"a": "gw1", "b": "gw3", "c": "gw2", "d": "gw2"}
    for n, g in mesh.gw.items():
        st = api(g, "/status")["mesh"]
        assert st["name"] == n and st["enabled"]
        assert sorted(l["gateway"] for l in st["links"]) == sorted(m for m in mesh.gw if m != n)
        for link in st["links"]:
            # kept: the link dialled by the smaller name of the pair
            dialler = min(n, link["gateway"])
            assert link["direction"] == ("outbound" if dialler == n else "inbound"), (n, link)
        assert routes(g) == want, n
        m = prom.parse(requests.get(g.url("admin") + "/metrics", headers=GW_AUTH, timeout=5).text)
        assert prom.value(m, "outpost_gateway_mesh_links_up") == 2
        assert prom.value(m, "outpost_gateway_mesh_routes") == 4
    # the duplicate links were closed with a reason, on both sides alike
    mesh.gw["gw3"].wait_for(r"mesh_link_duplicate gateway=gw1 .*keeping the one gw1 dialled")
    # and that is the end of it: nobody dials a peer whose link is up
    def dup_lines():
        return {n: sum("mesh_link_duplicate" in l or "mesh_link_up" in l for l in g.lines)
                for n, g in mesh.gw.items()}
    before = dup_lines()
    time.sleep(1.5)
    assert dup_lines() == before


def test_64mb_between_gateways_byte_exact(mesh):
    """a (on gw1) to b's network (b on gw3): 64 MB each way, byte for byte,
    through gw1 -> gw3; the streams are counted as relayed on both."""
    a = mesh.ag["a"]
    p_sink = add_forward(a, mesh.sink.port, "b")
    p_src = add_forward(a, mesh.source.port, "b")
    data = os.urandom(64 * 1024 * 1024)
    h, n = transfer_to_sink(p_sink, data)
    assert n == len(data) and h == hashlib.sha256(data).hexdigest()
    with socket.create_connection(("127.0.0.1", p_src), timeout=60) as c:
        c.sendall(b"%d mesh\n" % len(data))
        got = hashlib.sha256()
        total = 0
        while True:
            d = c.recv(1 << 20)
            if not d:
                break
            got.update(d)
            total += len(d)
    assert total == len(data) and got.hexdigest() == source_digest(len(data), b"mesh")
    for n in ("gw1", "gw3"):
        m = prom.parse(requests.get(mesh.gw[n].url("admin") + "/metrics", headers=GW_AUTH,
                                    timeout=5).text)
        assert prom.value(m, "outpost_gateway_mesh_streams_total") >= 2, n
    # gw2 was not on the path
    m = prom.parse(requests.get(mesh.gw["gw2"].url("admin") + "/metrics", headers=GW_AUTH,
                                timeout=5).text)
    assert prom.value(m, "outpost_gateway_mesh_streams_total") == 0


def test_gateway_killed_agents_fail_over(mesh):
    """kill -9 of gw2: a stream through it ends with a reset, the others drop
    its routes at once, c and d fail over to their next gateways, and a new
    transfer to c's network works within 5 s."""
    a, c = mesh.ag["a"], mesh.ag["c"]
    p_echo = add_forward(a, mesh.echo.port, "c")
    p_sink = add_forward(a, mesh.sink.port, "c")
    held = socket.create_connection(("127.0.0.1", p_echo), timeout=10)
    held.sendall(b"1")
    assert held.recv(1) == b"1"
    nc, nd = len(c.lines), len(mesh.ag["d"].lines)
    n1 = len(mesh.gw["gw1"].lines)
    mesh.gw["gw2"].kill()
    t0 = time.monotonic()
    with pytest.raises(ConnectionResetError):
        held.recv(10)
        held.recv(10)
    held.close()
    # the route through the dead gateway is gone at once (link loss, not a timeout)
    mesh.gw["gw1"].wait_for(r"mesh_routes_dropped gateway=gw2 routes=2", start=n1, timeout=3)
    # agents on gw2 reconnect elsewhere and a new transfer works within 5 s:
    # the client does not even retry, a waits for c (offline meanwhile)
    data = os.urandom(4 * 1024 * 1024)
    h, n = transfer_to_sink(p_sink, data, timeout=5)
    assert n == len(data) and h == hashlib.sha256(data).hexdigest()
    assert time.monotonic() - t0 < 5
    c.wait_for(r"gateway_failover from=ws://localhost:\d+/tunnel to=ws://127\.0\.0\.1:", start=nc)
    mesh.ag["d"].wait_for(r"gateway_connected", start=nd)
    want = {"a": "gw1", "b": "gw3", "c": "gw3", "d": "gw1"}
    for n in ("gw1", "gw3"):
        wait_until(lambda: routes(mesh.gw[n]) == want, timeout=5, what=f"routes on {n}")
        st = api(mesh.gw[n], "/status")["mesh"]
        assert [l["gateway"] for l in st["links"]] == [x for x in ("gw1", "gw3") if x != n]
    st = requests.get(c.url() + "/api/status", headers=AG_AUTH, timeout=5).json()
    assert st["connected"] and st["failovers"] == 1 and st["gateway"].endswith(
        f":{mesh.gw['gw3'].addr()[1]}/tunnel")


def test_split_brain_login_resolves_alike(outpost, tmp_path):
    """Agent x logged in on gw1 (linked with gw2) and, meanwhile, another
    process as x on gw3, which has no links yet: a split brain. When gw3
    joins (SIGHUP with its peers), every gateway keeps the same winner, the
    newest login, and the loser's session is closed with a reason."""
    pki = MeshPKI(tmp_path / "pki")
    mp = {n: free_port() for n in ("gw1", "gw2", "gw3")}
    gw1 = mesh_gateway(outpost, tmp_path, pki, "gw1", KEYS, RULES, mp["gw1"], [mp["gw2"]])
    gw2 = mesh_gateway(outpost, tmp_path, pki, "gw2", KEYS, RULES, mp["gw2"], [mp["gw1"]])
    cfg = tmp_path / "gw3.yaml"
    cfg.write_text("peer: []\n")
    gw3 = mesh_gateway(outpost, tmp_path, pki, "gw3", KEYS, RULES, mp["gw3"],
                       extra=["--config", str(cfg)])
    x1 = mesh_agent(outpost, tmp_path / "x1", [gw1], "x", "key-x", allow=ALLOW,
                    extra=["--reconnect-max", "60s"])
    wait_connected(x1)
    wait_until(lambda: routes(gw2).get("x") == "gw1", what="x routed to gw1 on gw2")
    x2 = mesh_agent(outpost, tmp_path / "x2", [gw3], "x", "key-x", allow=ALLOW,
                    extra=["--reconnect-max", "60s"])
    wait_connected(x2)
    assert routes(gw3) == {"x": "gw3"} and routes(gw1) == {"x": "gw1"}  # two truths
    epoch2 = [r for r in api(gw3, "/api/routes") if r["agent"] == "x"][0]["epoch"]
    cfg.write_text(f"peer:\n  - wss://127.0.0.1:{mp['gw1']}/mesh\n"
                   f"  - wss://127.0.0.1:{mp['gw2']}/mesh\n")
    gw3.signal(signal.SIGHUP)
    gw3.wait_for(r"mesh_peer_added")
    # the newest login (x2, on gw3) wins everywhere; x1 is told why
    for g in (gw1, gw2, gw3):
        wait_until(lambda: [(r["gateway"], r["epoch"]) for r in api(g, "/api/routes")
                            if r["agent"] == "x"] == [("gw3", epoch2)], what="x routed to gw3")
    gw1.wait_for(r"agent_replaced agent=x .*by_gateway=gw3")
    x1.wait_for(r"gateway_goaway code=replaced reason=\"a newer login of x on gateway gw3 "
                r"took the name\"")
    agents1 = requests.get(gw1.url("admin") + "/api/agents", headers=GW_AUTH, timeout=5).json()
    assert agents1 == []
    m = prom.parse(requests.get(gw1.url("admin") + "/metrics", headers=GW_AUTH, timeout=5).text)
    assert prom.value(m, "outpost_gateway_mesh_replaced_total") == 1
    # x2 stays logged in on gw3
    time.sleep(0.5)
    assert [a["name"] for a in requests.get(gw3.url("admin") + "/api/agents", headers=GW_AUTH,
                                            timeout=5).json()] == ["x"]
    x1.stop()


def test_peer_with_other_rules_is_refused(outpost, tmp_path):
    """A gateway whose rules differ is refused by the mesh, said in both
    logs, /status and /metrics; the same rules written otherwise are not;
    a peer whose certificate names another gateway than it claims is
    refused; a certificate from another CA never gets past TLS."""
    pki = MeshPKI(tmp_path / "pki")
    p1, p4 = free_port(), free_port()
    gw1 = mesh_gateway(outpost, tmp_path, pki, "gw1", KEYS, RULES, p1)
    gw4 = mesh_gateway(outpost, tmp_path, pki, "gw4", KEYS,
                       RULES + ["from=a to=b net=10.0.0.0/8 ports=22"], p4, [p1])
    gw1.wait_for(r"mesh_peer_refused gateway=gw4 .*why=digest by_peer=false "
                 r"reason=\"rules or agents differ from ours")
    gw4.wait_for(r"mesh_peer_refused .*why=digest by_peer=true")
    st = api(gw1, "/status")["mesh"]
    assert st["links_up"] == 0 and st["refused"][0]["gateway"] == "gw4"
    assert "rules or agents differ" in st["refused"][0]["reason"]
    peers = api(gw4, "/api/peers")["peers"]
    assert peers[0]["state"] == "refused" and "differ" in peers[0]["reason"]
    m = prom.parse(requests.get(gw1.url("admin") + "/metrics", headers=GW_AUTH, timeout=5).text)
    assert prom.value(m, "outpost_gateway_mesh_refused_total", reason="digest") >= 1
    assert prom.value(m, "outpost_gateway_mesh_links_up") == 0
    # the same rules in another order and spelling are the same rule set
    gw5 = mesh_gateway(outpost, tmp_path, pki, "gw5", dict(reversed(list(KEYS.items()))),
                       ["from=* to=* net=127.0.0.1 ports=1024-2000,2001-65535"], free_port(), [p1])
    gw5.wait_for(r"mesh_link_up gateway=gw1")
    # a peer whose MeshHello names another gateway than its certificate does
    ws = RawWS("127.0.0.1", p1, path="/mesh", ssl_ctx=pki.client_ctx("gw6"))
    assert ws.status == 101
    ws.send(msg(MESH_HELLO, Name="gw9", Version=2, Digest=st["digest"]))
    t, ack = ws.recv_msg()
    assert t == ACK and ack["Ok"] is False and ack["Code"] == "identity", ack
    assert ws.recv() is None and ws.close_code == 1008
    ws.close()
    gw1.wait_for(r"mesh_peer_refused gateway=gw9 .*why=identity .*reason=\"certificate CN "
                 r"'gw6' is not the gateway name 'gw9'\"")
    # a gateway certificate from another CA: the TLS handshake fails
    pki.leaf("gw7", ca="rogue")
    gw7 = mesh_gateway(outpost, tmp_path, pki, "gw7", KEYS, RULES, free_port(), [p1])
    gw7.wait_for(r"mesh_dial_failed")
    assert api(gw1, "/status")["mesh"]["links_up"] == 1  # gw5 only


def test_slow_reader_across_two_gateways_keeps_memory_bounded(outpost, tmp_path):
    """A reader behind b (on gw3) that stops reading: the sender on gw1's
    side stops after a window, and no process holds more than about one
    window for it, however much the client tries to push."""
    mesh = Mesh(outpost, tmp_path, env=small_quarantine())
    stalled = []

    def stall(c):
        stalled.append(c)
        time.sleep(120)  # never reads
    srv = Server(stall)
    a = mesh.ag["a"]
    port = add_forward(a, srv.port, "b")
    procs = {"gw1": mesh.gw["gw1"], "gw2": mesh.gw["gw2"], "gw3": mesh.gw["gw3"], "a": a,
             "b": mesh.ag["b"]}
    before = {n: rss_kb(p.proc.pid) for n, p in procs.items()}
    c = socket.create_connection(("127.0.0.1", port), timeout=10)
    c.setblocking(False)
    chunk = b"z" * (1 << 20)
    sent, t0 = 0, time.monotonic()
    while time.monotonic() - t0 < 6:  # push as much as will go, for a while
        try:
            sent += c.send(chunk)
        except BlockingIOError:
            time.sleep(0.05)
    after = {n: rss_kb(p.proc.pid) for n, p in procs.items()}
    grown = {n: (after[n] - before[n]) // 1024 for n in procs}
    # stuck: at most the windows and socket buffers, not what the client pushed
    assert sent < 64 * 1024 * 1024, sent
    for n, mb in grown.items():
        assert mb < 24, (n, grown, sent)
    # the link still carries every other stream meanwhile
    echo_ok(add_forward(a, mesh.echo.port, "b"))
    c.close()
    srv.close()
    mesh.close()


def test_hostile_mesh_peer(outpost, tmp_path):
    """A peer with a valid gateway certificate is still held to the
    protocol: it speaks only for its own agents, only for configured ones,
    and its streams carry its prefix and a configured initiator; any
    breach closes the link (1002), a bad stream is refused alone."""
    pki = MeshPKI(tmp_path / "pki")
    p1 = free_port()
    gw1 = mesh_gateway(outpost, tmp_path, pki, "gw1", KEYS, RULES, p1)
    digest = api(gw1, "/status")["mesh"]["digest"]

    def link():
        ws = RawWS("127.0.0.1", p1, path="/mesh", ssl_ctx=pki.client_ctx("gw9"))
        assert ws.status == 101
        ws.send(msg(MESH_HELLO, Name="gw9", Version=2, Digest=digest, MaxMessage=1 << 20,
                    MaxWindow=16 << 20))
        t, hello = ws.recv_msg()
        assert t == MESH_HELLO and hello["Name"] == "gw1" and hello["Digest"] == digest
        return ws

    # a stream before any Presence: the target is offline; a wrong prefix or
    # an unknown initiator is refused; the link lives on
    ws = link()
    ws.send(msg(INITIATOR, GUID="c-1", Ip="127.0.0.1", Port=2000, Gatename="a", From="b",
                Window=262144))
    t, ack = ws.recv_msg()
    assert t == ACK and ack["Ok"] is False and ack["Code"] == "offline", ack
    ws.send(msg(INITIATOR, GUID="s-1", Ip="127.0.0.1", Port=2000, Gatename="a", From="b",
                Window=262144))
    assert ws.recv_msg()[1]["Code"] == "invalid"
    ws.send(msg(INITIATOR, GUID="c-2", Ip="127.0.0.1", Port=2000, Gatename="a", From="mallory",
                Window=262144))
    assert ws.recv_msg()[1]["Code"] == "invalid"
    # its own agent: fine, and routed
    ws.send(msg(PRESENCE, Name="b", Gateway="gw9", Epoch=5, Online=True))
    wait_until(lambda: routes(gw1) == {"b": "gw9"}, what="b routed to gw9")
    # another gateway's agent: a protocol error, the link and its routes go
    ws.send(msg(PRESENCE, Name="c", Gateway="gw2", Epoch=5, Online=True))
    while ws.recv(5) is not None:
        pass
    assert ws.close_code == 1002 and "another gateway" in ws.close_reason
    ws.close()
    wait_until(lambda: routes(gw1) == {}, what="gw9's routes dropped")
    # an agent that is not configured: the same
    ws = link()
    ws.send(msg(PRESENCE, Name="nobody", Gateway="gw9", Epoch=5, Online=True))
    while ws.recv(5) is not None:
        pass
    assert ws.close_code == 1002 and "not configured" in ws.close_reason
    ws.close()
    gw1.wait_for(r"mesh_protocol_error gateway=gw9 .*reason=\"Presence for an agent that is "
                 r"not configured\"")
