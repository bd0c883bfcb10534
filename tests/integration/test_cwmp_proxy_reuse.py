"""cwmp-proxy: connections to ACS nodes kept between CWMP sessions. Only a
connection whose session the node ended (204 to a CWMP message) changes
hands; per node `reuse=auto|on|off`, auto meaning "the node said it is an
Outpost ACS" (Server: outpost). Sessions stay pinned by cookie whatever
connection carries them, and an Outpost ACS that authenticates CPEs still
asks a new session's CPE for its credentials on a reused connection."""
import pytest
import requests

import cwmp_cpe
from cwmp_cpe import CPE, envelope
from cwmp_proxy_util import Backend, Conn, cookie_value, inform
from test_cwmp_proxy_acs import start as start_acs_pair
from test_cwmp_proxy_forwarding import start_proxy, status, wait_until


def cwmp_reply(req):
    """A node that answers an Inform (or any body) with 200 naming itself and
    ends the session with 204 on an empty POST, like an ACS."""
    if not req["body"]:
        return 204, {}, b""
    return 200, {"Content-Type": "text/xml"}, req["backend"].encode()


def session(host, port, serial, cookie=None):
    """One whole CWMP session on a new CPE connection; the node's answer."""
    c = Conn(host, port)
    st, hd, body = c.post(inform(serial=serial), {"Cookie": cookie} if cookie else None)
    assert st == 200
    st2, _, _ = c.post("")
    assert st2 == 204
    c.close()
    return body.decode()


def concurrent_sessions(host, port, prefix, n):
    """n sessions open at once (so n connections to the nodes), then ended."""
    conns = [Conn(host, port) for _ in range(n)]
    for i, c in enumerate(conns):
        assert c.post(inform(serial=f"{prefix}{i}"))[0] == 200
    for c in conns:
        assert c.post("")[0] == 204
        c.close()


def be_status(px, name):
    return next(b for b in status(px)["backends"] if b["name"] == name)


def test_outpost_node_reuse_auto(outpost, tmp_path):
    a = Backend("A", cwmp_reply, server="outpost")
    px = start_proxy(outpost, tmp_path, [f"url={a.url} name=A"])
    host, port = px.addr()
    for i in range(4):
        assert session(host, port, f"RA{i}") == "A"
    # the first session's connection carried the other three
    assert len(a.requests) == 8
    assert {r["conn"] for r in a.requests} == {a.requests[0]["conn"]}
    st = be_status(px, "A")
    assert st["reuse"] == "auto" and st["reusing"] is True
    assert st["conns_opened"] == 1 and st["conns_reused"] == 3 and st["idle_connections"] == 1
    a.stop()


def test_reuse_off_per_node_and_not_for_other_servers(outpost, tmp_path):
    off = Backend("OFF", cwmp_reply, server="outpost")
    other = Backend("OTHER", cwmp_reply)          # Python's Server header: not Outpost
    forced = Backend("ON", cwmp_reply)            # not Outpost either, reuse=on
    px = start_proxy(outpost, tmp_path, [f"url={off.url} name=OFF reuse=off",
                                         f"url={other.url} name=OTHER",
                                         f"url={forced.url} name=ON reuse=on"])
    host, port = px.addr()
    got = [session(host, port, f"RO{i}") for i in range(9)]
    assert sorted(got) == ["OFF"] * 3 + ["ON"] * 3 + ["OTHER"] * 3
    for be in (off, other):  # a connection per session, as before
        assert len({r["conn"] for r in be.requests}) == 3, be.name
        assert {r["conn"] for r in be.requests[0:2]} == {be.requests[0]["conn"]}
    assert len({r["conn"] for r in forced.requests}) == 1
    assert be_status(px, "OFF")["reusing"] is False
    assert be_status(px, "OTHER")["reusing"] is False
    assert be_status(px, "ON")["conns_reused"] == 2
    for b in (off, other, forced):
        b.stop()


def test_node_closing_kept_connections(outpost, tmp_path):
    # The node closes connections once idle without saying so: the proxy
    # forgets them and the next session gets a new one, nothing fails.
    a = Backend("A", cwmp_reply, server="outpost")
    a.close_after_204 = True
    px = start_proxy(outpost, tmp_path, [f"url={a.url} name=A"])
    host, port = px.addr()
    for i in range(3):
        assert session(host, port, f"CL{i}") == "A"
        wait_until(lambda: be_status(px, "A")["idle_connections"] == 0, what="the closed one forgotten")
    assert len({r["conn"] for r in a.requests}) == 3
    st = be_status(px, "A")
    assert st["conns_opened"] == 3 and st["conns_reused"] == 0


def test_session_ended_by_answer_to_cwmp_message(outpost, tmp_path):
    # A session the node ends with 204 to a CWMP message (here the CPE's
    # answer to an ACS request, not an empty POST) frees its connection; a
    # 204 to a POST elsewhere (a file upload) ends nothing.
    def reply(req):
        if req["path"] != "/" or b"<end/>" in req["body"]:
            return 204, {}, b""
        return 200, {"Content-Type": "text/xml"}, req["backend"].encode()
    a = Backend("A", reply, server="outpost")
    px = start_proxy(outpost, tmp_path, [f"url={a.url} name=A"])
    host, port = px.addr()
    c1 = Conn(host, port)
    assert c1.post(inform(serial="E1"))[0] == 200
    assert c1.post("<end/>")[0] == 204
    first = a.requests[-1]["conn"]
    c1.close()
    c2 = Conn(host, port)
    assert c2.post(inform(serial="E2"))[0] == 200
    assert a.requests[-1]["conn"] == first           # kept and taken
    c2.c.request("POST", "/uploads/tok", body=b"file", headers={"Content-Type": "text/plain"})
    r = c2.c.getresponse()
    r.read()
    assert r.status == 204 and a.requests[-1]["conn"] == first
    c3 = Conn(host, port)                             # E2's session is still open
    assert c3.post(inform(serial="E3"))[0] == 200
    assert a.requests[-1]["conn"] != first
    assert c2.post("<end/>")[0] == 204
    assert a.requests[-1]["conn"] == first
    st = be_status(px, "A")
    assert st["conns_reused"] == 1, st
    for c in (c2, c3):
        c.close()
    a.stop()


def test_open_session_keeps_its_connection(outpost, tmp_path):
    # A connection that carries a session the node has not ended is never
    # handed to another CPE: an ACS may let that connection continue the
    # session without a cookie.
    a = Backend("A", cwmp_reply, server="outpost")
    px = start_proxy(outpost, tmp_path, [a])
    host, port = px.addr()
    session(host, port, "W0")                    # leaves one idle connection
    first = a.requests[-1]["conn"]
    ca = Conn(host, port)
    assert ca.post(inform(serial="W1"))[0] == 200  # takes it; session open
    assert a.requests[-1]["conn"] == first
    cb = Conn(host, port)
    assert cb.post(inform(serial="W2"))[0] == 200  # a connection of its own
    second = a.requests[-1]["conn"]
    assert second != first
    cb.close()                                    # W2 gone mid-session: not kept
    wait_until(lambda: len(a.conns) == 1, what="the node's connection of W2 closed")
    assert ca.post("")[0] == 204                  # W1 ended: its connection is kept
    ca.close()
    session(host, port, "W3")
    assert a.requests[-1]["conn"] == first
    assert a.requests[-2]["conn"] == first
    a.stop()


def test_cookie_pins_session_across_reused_connections(outpost, tmp_path):
    def reply(req):
        if not req["body"]:
            return 204, {}, b""
        return 200, {"Set-Cookie": f"sid={req['backend']}{len(req['body'])}; Path=/"}, \
            req["backend"].encode()
    a = Backend("A", reply, server="outpost")
    b = Backend("B", reply, server="outpost")
    px = start_proxy(outpost, tmp_path, [a, b])
    host, port = px.addr()
    concurrent_sessions(host, port, "PIN", 8)  # four idle connections on each node
    seen = {be.name: {r["conn"] for r in be.requests} for be in (a, b)}
    c = Conn(host, port)
    st, hd, body = c.post(inform(serial="PINX"))
    node = body.decode()
    token = cookie_value(hd, "OPLB")
    assert st == 200 and token
    c.close()  # the CPE comes back on a new connection, with the cookie
    home = a if node == "A" else b
    for _ in range(3):
        c = Conn(host, port)
        st, _, body2 = c.post("<x/>", {"Cookie": f"OPLB={token}"})
        assert st == 200 and body2.decode() == node
        c.close()
    # every request of the session went to its node, on kept connections
    assert all(r["backend"] == node for r in home.requests[-4:])
    assert {r["conn"] for r in home.requests[-4:]} <= seen[node]
    assert len(seen[node]) == 4
    a.stop()
    b.stop()


@pytest.mark.acs
def test_real_acs_reuse_keeps_authentication(outpost, tmp_path):
    # Two Outpost ACS nodes authenticating CPEs (Digest): reuse is on by
    # itself, and a CPE without credentials gets 401 even on a connection
    # an authenticated CPE's session used before.
    nodes, px = start_acs_pair(outpost, tmp_path, ("--cpe-auth", "digest", "--cpe-username", "cpe",
                                                   "--cpe-password", "pw"))
    for i in range(4):
        cpe = CPE(px.addr(), auth=("cpe", "pw"))
        r = cpe.inform(f"RR{i}")
        assert r.status == 200 and r.rpc == "InformResponse"
        assert cpe.post().status == 204
        cpe.close()
    admin = px.url("admin") + "/status"
    bes = requests.get(admin, headers={"Authorization": "Bearer tok"}, timeout=5).json()["backends"]
    assert all(b["reusing"] for b in bes)
    assert sum(b["conns_reused"] for b in bes) >= 2
    for i in range(2):
        intruder = CPE(px.addr())
        assert intruder.post(envelope(cwmp_cpe.inform(f"RR{i}"))).status == 401
        intruder.close()
    # nor on one whose session is still open (it is never handed over)
    owner = CPE(px.addr(), auth=("cpe", "pw"))
    assert owner.inform("RR0").status == 200
    for i in range(3):
        intruder = CPE(px.addr())
        assert intruder.post(envelope(cwmp_cpe.inform("RR0"))).status == 401
        intruder.close()
    assert owner.post().status == 204
    # and the devices were stored by the node each session went to
    assert sorted(sum((list(n.devices()) for n in nodes), [])) == ["RR0", "RR1", "RR2", "RR3"]
