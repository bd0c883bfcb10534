"""Who may call what, on every daemon's HTTP API.

Each daemon is started with --log-level debug, which makes its router say
every route it registers (`http_route api=... method=... path=... access=...`).
For every registered route the test sends requests without a token, with a
wrong one and with the right one, under many spellings of the route's path:
no spelling may reach a handler without the token. The canonical spelling
answers 401; spellings that are not canonical are refused with 400 before
any route is looked at; spellings that name another path (case, %2F) are
401 like every unknown path, so an unauthenticated client learns nothing
about which routes exist.
"""
import json
import re
import socket

import pytest

from cwmp_proxy_util import Backend
from relay_util import PKI, start_relay, ws_url, TOKEN as RELAY_TOKEN
from tunnel_util import start_agent, start_gateway

pytestmark = pytest.mark.acs  # every test here starts an outpost acs (conftest.py)

ROUTE_RE = re.compile(r"http_route api=(\S+) method=(\S+) path=(\S+) access=(\S+)")


def request(addr, method, path, token=None, timeout=10.0):
    """One raw request (HTTP libraries clean paths up themselves): (status, body).
    An event stream's answer is its head: the stream itself never ends."""
    hdr = f"{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 0\r\n"
    if token is not None:
        hdr += f"Authorization: Bearer {token}\r\n"
    s = socket.create_connection(addr, timeout=timeout)
    s.sendall((hdr + "\r\n").encode())
    out = b""
    try:
        while chunk := s.recv(65536):
            out += chunk
            head, sep, _ = out.partition(b"\r\n\r\n")
            if sep and b"\r\ncontent-type: text/event-stream" in head.lower():
                break
    except (socket.timeout, ConnectionResetError):
        pass
    s.close()
    head, _, body = out.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1]) if head.startswith(b"HTTP/1.1 ") else 0
    return status, body


def concrete(pattern):
    """A path for a route pattern: captures filled in."""
    return re.sub(r"\{\*?\w+\}", "x1", pattern)


def spellings(path):
    """(spelling, kind) for one canonical path: "bad" spellings are not
    canonical (400), "same" ones are the same route (escapes of unreserved
    characters), "other" ones name another path (paths are case-sensitive;
    an escaped slash is data inside a segment, not a separator)."""
    if path == "/":
        return [("//", "bad"), ("/.", "bad"), ("/%2e", "bad"), ("/%2E%2E", "bad")]
    segs = path.strip("/").split("/")
    first, rest = segs[0], "/".join(segs[1:])
    tail = "/" + rest if rest else ""
    body = path.lstrip("/")
    out = [
        ("//" + body, "bad"),                                  # doubled slash in front
        ("/./" + body, "bad"),                                 # dot segment
        ("/zz/../" + body, "bad"),                             # dot-dot segment
        ("/%2e%2e/" + body, "bad"),                            # escaped dot-dot
        ("/%2E/" + body, "bad"),                               # escaped dot
        (path + "/", "bad"),                                   # trailing slash
        ("/" + first + "//" + rest if rest else path + "//", "bad"),  # doubled inside
        ("/" + first + "/%zz" + tail, "bad"),                  # malformed escape
        ("/" + first.upper() + tail, "other"),                 # another case
        ("/%" + format(ord(first[0]), "02x") + first[1:] + tail, "same"),  # escaped letter
    ]
    if rest:
        out.append(("/" + first + "%2F" + rest, "other"))
        out.append(("/" + first + "%2f" + rest.replace("/", "%2F"), "other"))
    return out


def routes_of(daemon):
    found = {}
    for line in daemon.lines:
        m = ROUTE_RE.search(line)
        if m:
            api, method, path, access = m.groups()
            found.setdefault(api, []).append((method, path, access))
    return found


def check_api(addr, routes, token, who):
    assert routes, f"{who}: no routes were logged"
    guarded = any(access != "public" for _, _, access in routes)
    checked = 0
    for method, pattern, access in routes:
        path = concrete(pattern)
        m = "GET" if method == "*" else method
        if access == "public":
            status, _ = request(addr, m, path)
            assert status != 401, f"{who}: public {m} {path} asks for a token"
        else:
            status, body = request(addr, m, path)
            assert status == 401, f"{who}: {m} {path} without a token: {status} {body[:200]!r}"
            assert json.loads(body)["error"] == "unauthorized"
            status, _ = request(addr, m, path, token="wrong-" + token)
            assert status == 401, f"{who}: {m} {path} with a wrong token: {status}"
            # with the token the route's handler answers (a 404 of its own,
            # for the made-up id, is the handler's, not the router's; a
            # success may mention those codes: the API's own description does)
            status, body = request(addr, m, path, token=token)
            assert status not in (401, 403, 405, 429) and (status < 400 or (
                b"no such endpoint" not in body and b"bad_path" not in body)), \
                f"{who}: {m} {path} with the token: {status} {body[:200]!r}"
        for spelled, kind in spellings(path):
            status, body = request(addr, m, spelled)
            if kind == "bad":
                want = 400
            elif kind == "same" and access == "public":
                want = request(addr, m, path)[0]
            elif kind == "other" and not guarded:
                want = 404  # a router with public routes only has no token to ask for
            else:
                want = 401
            assert status == want, f"{who}: {m} {spelled} (route {pattern}): {status} {body[:200]!r}"
            checked += 1
    return checked


def check_daemon(d, token, main_key="listen"):
    """Every route group a daemon logged: its admin listener's ("NAME-admin")
    and its main API's, each on its own listener. Returns {group: checks}."""
    out = {}
    for api, routes in routes_of(d).items():
        addr = d.addr("admin") if api.endswith("-admin") else d.addr(main_key)
        out[api] = check_api(addr, routes, token, f"{d.name} {api}")
    return out


def test_every_route_of_every_daemon_needs_its_token(outpost, tmp_path):
    debug = ("--log-level", "debug")
    checked = {}
    acs = outpost("acs", "--cwmp-listen", "127.0.0.1:0", "--api-listen", "127.0.0.1:0",
                  "--admin-listen", "127.0.0.1:0", "--data-dir", str(tmp_path / "acs"),
                  "--api-token", "acs-token", "--cpe-auth", "none", *debug)
    assert any(p == "/api/devices/{id}" for _, p, _ in routes_of(acs)["acs"])
    checked.update(check_daemon(acs, "acs-token", "api"))

    backend = Backend("A")
    px = outpost("cwmp-proxy", "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0",
                 "--public-url", "http://proxy.test:7548", "--backend", backend.url,
                 "--data-dir", str(tmp_path / "px"), "--api-token", "px-token", *debug)
    checked.update(check_daemon(px, "px-token"))

    pki = PKI(tmp_path / "pki")
    relay = start_relay(outpost, pki, "--data-dir", str(tmp_path / "relay"), *debug)
    checked.update(check_daemon(relay, RELAY_TOKEN))
    end = ("--tls-ca", pki.cert("root"), "--admin-listen", "127.0.0.1:0", "--api-token", "end-token", *debug)
    conn = outpost("relay-connector", "--relay-url", ws_url(relay, "gw-0001"), "--tls-cert",
                   pki.pkeycert("gw-0001"), "--target", "http://127.0.0.1:9", "--events-listen", "127.0.0.1:0",
                   "--data-dir", str(tmp_path / "rcn"), *end)
    checked.update(check_daemon(conn, "end-token"))
    client = outpost("relay-client", "--listen", "127.0.0.1:0", "--relay-url", ws_url(relay, "gw-0001"),
                     "--tls-cert", pki.pkeycert("manager"), "--data-dir", str(tmp_path / "rcl"), *end)
    checked.update(check_daemon(client, "end-token"))

    gw = start_gateway(outpost, tmp_path, {"a1": "key-a1"}, [], extra=debug)
    checked.update(check_daemon(gw, "admintoken"))
    ag = start_agent(outpost, tmp_path, gw, "a1", "key-a1", extra=debug)
    checked.update(check_daemon(ag, "agenttoken"))

    sim = outpost("cpe-sim", "--acs", "http://" + acs.fields["listen"] + "/", "--count", "1",
                  "--cr-listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0", "--api-token", "sim-token",
                  "--data-dir", str(tmp_path / "sim"), *debug)
    checked.update(check_daemon(sim, "sim-token"))

    # every daemon's APIs were really exercised, spellings included
    for group in ("acs", "acs-admin", "cwmp-proxy-admin", "relay-admin", "relay-connector-admin",
                  "relay-connector-events", "relay-client-admin", "gateway-admin", "agent", "agent-admin",
                  "cpe-sim-admin"):
        assert checked.get(group, 0) >= 9, (group, checked)
    backend.stop()


def test_unknown_paths_do_not_reveal_routes(outpost, tmp_path):
    acs = outpost("acs", "--cwmp-listen", "127.0.0.1:0", "--api-listen", "127.0.0.1:0",
                  "--data-dir", str(tmp_path / "acs"), "--api-token", "acs-token", "--cpe-auth", "none")
    addr = acs.addr("api")
    # without the token a real route, an unknown one and a wrong method look alike
    for m, p in (("GET", "/api/devices"), ("GET", "/api/nothing-here"), ("PATCH", "/api/devices"),
                 ("GET", "/favicon.ico")):
        assert request(addr, m, p)[0] == 401, (m, p)
    # with it, the usual answers
    assert request(addr, "GET", "/api/nothing-here", token="acs-token")[0] == 404
    assert request(addr, "PATCH", "/api/devices", token="acs-token")[0] == 405
    # the dashboard's page is public: it is where the token is entered
    assert request(addr, "GET", "/")[0] == 200


def test_wrong_tokens_lock_an_address_out(outpost, tmp_path):
    acs = outpost("acs", "--cwmp-listen", "127.0.0.1:0", "--api-listen", "127.0.0.1:0",
                  "--data-dir", str(tmp_path / "acs"), "--api-token", "acs-token", "--cpe-auth", "none")
    addr = acs.addr("api")
    for i in range(10):
        assert request(addr, "GET", "/api/stats", token=f"guess{i}")[0] == 401
    # locked out: the right token is not even looked at, and the answer says so
    status, body = request(addr, "GET", "/api/stats", token="acs-token")
    assert status == 429 and json.loads(body)["error"] == "locked_out"
    # a missing token is not a guess (a browser asking for the challenge)...
    # ...and failures are said as a few lines with a count, not one per request
    acs.wait_for(r"api_auth_failed api=acs addr=127\.0\.0\.1 failures=1 locked_ms=0 ")
    acs.wait_for(r"api_auth_failed api=acs addr=127\.0\.0\.1 failures=9 locked_ms=60000 strike=1")
    for i in range(50):
        assert request(addr, "GET", "/api/stats", token="acs-token")[0] == 429
    assert len([l for l in acs.lines if "api_auth_failed" in l]) == 2
