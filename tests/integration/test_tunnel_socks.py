"""SOCKS5 forwards through the mesh: agent a (on gw1) runs SOCKS5 servers
whose CONNECT targets are opened behind agent b (on gw3). Names are resolved
behind b, never by a (curl --socks5-hostname), and checked there against b's
whitelist and the networks the gateways' rules allow; the reply code tells a
refusal by the rules (2), an agent that is not online (3) and a refused
connection (5) apart. Username/password (RFC 1929) when configured; the REST
API creates listeners that persist like forwards."""
import http.server
import socket
import subprocess
import threading

import pytest
import requests

import prom
from conftest import free_port
from tunnel_util import (AG_AUTH, GW_AUTH, MeshPKI, Server, api, echo_handler, mesh_agent,
                         mesh_gateway, read_all, socks_connect, wait_connected, wait_until)

KEYS = {"a": "key-a", "b": "key-b"}
# the rules let a reach 127.0.0.0/8 behind b on high ports; b's whitelist is
# narrower (127.0.0.1 only): each check has something of its own to refuse
RULES = ["from=a to=b net=127.0.0.0/8 ports=1024-65535",
         "from=a to=nobody net=127.0.0.0/8 ports=1024-65535"]
ALLOW = ["net=127.0.0.1/32 ports=1024-65535 from=a"]
BODY = b"served behind agent b\n" * 1000


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", str(len(BODY)))
        self.end_headers()
        self.wfile.write(BODY)

    def log_message(self, *args):
        pass


class Socks:
    def __init__(self, outpost, tmp_path, a_extra=()):
        self.pki = MeshPKI(tmp_path / "pki")
        self.http = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.http.serve_forever, daemon=True).start()
        self.http_port = self.http.server_address[1]
        self.echo = Server(echo_handler)
        p1, p3 = free_port(), free_port()
        self.gw1 = mesh_gateway(outpost, tmp_path, self.pki, "gw1", KEYS, RULES, p1, [p3])
        self.gw3 = mesh_gateway(outpost, tmp_path, self.pki, "gw3", KEYS, RULES, p3, [p1])
        self.b = mesh_agent(outpost, tmp_path, [self.gw3], "b", "key-b", allow=ALLOW)
        pw = tmp_path / "socks.pass"
        pw.write_text("s3cret\n")
        self.a = mesh_agent(outpost, tmp_path, [self.gw1], "a", "key-a", extra=[
            "--socks", "listen=127.0.0.1:0 gateway=b",
            "--socks", f"listen=127.0.0.1:0 gateway=b user=alice password-file={pw}",
            "--socks", "listen=127.0.0.1:0 gateway=nobody", *a_extra])
        wait_connected(self.a)
        wait_connected(self.b)
        lst = requests.get(self.a.url() + "/api/socks", headers=AG_AUTH, timeout=5).json()
        assert [(x["gateway"], x["auth"]) for x in lst] == [("b", "none"), ("b", "password"),
                                                            ("nobody", "none")]
        self.port, self.port_auth, self.port_nobody = (int(x["listen"].rsplit(":", 1)[1])
                                                       for x in lst)
        wait_until(lambda: api(self.gw1, "/api/routes") and
                   {r["agent"] for r in api(self.gw1, "/api/routes")} == {"a", "b"},
                   what="b routed on gw1")

    def close(self):
        self.http.shutdown()
        self.echo.close()


@pytest.fixture
def socks(outpost, tmp_path):
    s = Socks(outpost, tmp_path)
    yield s
    s.close()


def curl(*args):
    return subprocess.run(["curl", "-sS", "--max-time", "20", "--noproxy", "", *args],
                          capture_output=True, timeout=30, env={"PATH": "/usr/bin:/bin"})


def test_curl_socks5_hostname_through_the_mesh(socks):
    """curl resolves nothing itself: the name goes to b, which resolves it."""
    r = curl("--socks5-hostname", f"127.0.0.1:{socks.port}",
             f"http://localhost:{socks.http_port}/file")
    assert r.returncode == 0, r.stderr
    assert r.stdout == BODY
    # an address as the target works as well (curl --socks5 sends the address)
    r = curl("--socks5", f"127.0.0.1:{socks.port}", f"http://127.0.0.1:{socks.http_port}/x")
    assert r.returncode == 0 and r.stdout == BODY, r.stderr
    # the name crossed the mesh as a name: gw1 saw "localhost" as the target
    s, rep = socks_connect(socks.port, "localhost", socks.echo.port)
    assert rep == 0
    s.sendall(b"ping")
    assert s.recv(4) == b"ping"
    streams = api(socks.gw1, "/api/streams")
    assert [(x["ip"], x["via"]) for x in streams] == [("localhost", "gw3")], streams
    s.close()
    m = prom.parse(requests.get(socks.a.url("admin") + "/metrics", headers=AG_AUTH,
                                timeout=5).text)
    assert prom.value(m, "outpost_agent_socks_requests_total") == 3


@pytest.mark.parametrize("host,port,code,why", [
    # outside the gateways' rules (a port below 1024): refused at gw1
    ("127.0.0.1", 80, 2, "denied by ACL"),
    ("localhost", 80, 2, "denied by ACL"),
    # inside the rules, outside b's whitelist
    ("127.0.0.2", "echo", 2, "not in whitelist"),
    # allowed, but nobody listens there
    ("127.0.0.1", "dead", 5, "connection refused"),
    ("localhost", "dead", 5, "connection refused"),
])
def test_reply_codes_tell_refusals_apart(socks, host, port, code, why):
    if port == "echo":
        port = socks.echo.port
    elif port == "dead":
        port = free_port()
    s, rep = socks_connect(socks.port, host, port)
    assert s is None and rep == code, (host, port, rep)
    socks.a.wait_for(r"stream_refused .*reason=\"" + why)


def test_agent_offline_and_unsupported(socks):
    # a listener whose agent is logged in nowhere: network unreachable
    s, rep = socks_connect(socks.port_nobody, "127.0.0.1", socks.echo.port)
    assert rep == 3
    socks.a.wait_for(r"stream_refused .*reason=\"agent nobody is offline\"")
    # BIND is not supported: 7; a malformed request ends without a reply
    c = socket.create_connection(("127.0.0.1", socks.port), timeout=5)
    c.sendall(b"\x05\x01\x00")
    assert c.recv(2) == b"\x05\x00"
    c.sendall(b"\x05\x02\x00\x01\x7f\x00\x00\x01\x00\x50")
    assert c.recv(10)[:2] == b"\x05\x07"
    c.close()
    c = socket.create_connection(("127.0.0.1", socks.port), timeout=5)
    c.sendall(b"\x04\x01\x00\x50\x7f\x00\x00\x01\x00")  # SOCKS4
    assert read_all(c) == b""
    c.close()
    socks.a.wait_for(r"socks_refused .*reason=\"not a SOCKS5 greeting\"")


def test_username_password(socks):
    s, rep = socks_connect(socks.port_auth, "127.0.0.1", socks.echo.port)
    assert s is None and rep == "no acceptable method"
    s, rep = socks_connect(socks.port_auth, "127.0.0.1", socks.echo.port, "alice", "wrong")
    assert s is None and rep == "authentication failed"
    socks.a.wait_for(r"socks_auth_failed addr=127\.0\.0\.1 failures=1")
    s, rep = socks_connect(socks.port_auth, "127.0.0.1", socks.echo.port, "alice", "s3cret")
    assert rep == 0
    s.sendall(b"authenticated")
    s.shutdown(socket.SHUT_WR)
    assert read_all(s) == b"authenticated"
    s.close()
    r = curl("--proxy", f"socks5h://alice:s3cret@127.0.0.1:{socks.port_auth}",
             f"http://localhost:{socks.http_port}/")
    assert r.returncode == 0 and r.stdout == BODY, r.stderr
    assert "s3cret" not in socks.a.output()


def test_api_socks_listener_persists(outpost, tmp_path, socks):
    r = requests.post(socks.a.url() + "/api/socks", headers=AG_AUTH, timeout=5,
                      json={"listen": 0, "gateway": "b", "user": "bob", "password": "pw"})
    assert r.status_code == 201, r.text
    made = r.json()
    assert made["auth"] == "password" and made["persistent"] is True and "password" not in made
    port = int(made["listen"].rsplit(":", 1)[1])
    bad = requests.post(socks.a.url() + "/api/socks", headers=AG_AUTH, timeout=5,
                        json={"listen": 0, "gateway": "b", "user": "bob"})
    assert bad.status_code == 400 and "together" in bad.json()["error"]
    # not a forward: the forwards list and its DELETE do not see it
    assert requests.get(socks.a.url() + "/api/forwards", headers=AG_AUTH, timeout=5).json() == []
    assert requests.delete(socks.a.url() + f"/api/forwards/{made['id']}", headers=AG_AUTH,
                           timeout=5).status_code == 404
    # it comes back after a restart, on the same port, with its password
    socks.a.stop()
    a2 = mesh_agent(outpost, tmp_path, [socks.gw1], "a", "key-a")
    wait_connected(a2)
    lst = requests.get(a2.url() + "/api/socks", headers=AG_AUTH, timeout=5).json()
    assert [(x["listen"], x["user"]) for x in lst] == [(made["listen"], "bob")]
    s, rep = wait_until(lambda: (lambda r: r if r[1] == 0 else None)(
        socks_connect(port, "127.0.0.1", socks.echo.port, "bob", "pw")), what="socks after restart")
    s.sendall(b"x")
    assert s.recv(1) == b"x"
    s.close()
    assert requests.delete(a2.url() + f"/api/socks/{lst[0]['id']}", headers=AG_AUTH,
                           timeout=5).status_code == 200
    assert requests.get(a2.url() + "/api/socks", headers=AG_AUTH, timeout=5).json() == []
    m = prom.parse(requests.get(socks.gw1.url("admin") + "/metrics", headers=GW_AUTH,
                                timeout=5).text)
    assert prom.value(m, "outpost_gateway_mesh_streams_total") >= 1
