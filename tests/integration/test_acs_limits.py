"""outpost acs: connection limits that hold. A flood of idle connections on
the CWMP port, under a low descriptor limit, must not take the REST API (same
process, same descriptor table) down; the CWMP listener pauses at its cap and
resumes as connections close; a client address over its own cap is answered
503; obs-fold is refused with 400."""
import os
import re
import resource
import socket
import time

import requests

from cwmp_cpe import CPE, envelope, inform, acs_envelopes_valid  # noqa: F401 (autouse)
from test_acs_session import TOKEN, Api, cwmp_addr, start_acs
from test_net_http import raw


def start_acs_limited(outpost, tmp_path, nofile, *extra):
    """start_acs with RLIMIT_NOFILE set to `nofile` (soft and hard) for the daemon."""
    return outpost("acs", "--cwmp-listen", "127.0.0.1:0", "--api-listen", "127.0.0.1:0",
                   "--data-dir", str(tmp_path / "data"), "--api-token", TOKEN, *extra,
                   preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile)))


def idle(addr, n):
    """n connections that never send a byte (connected from the client's
    side even when the server has not taken them: the kernel's backlog)."""
    out = []
    for _ in range(n):
        s = socket.socket()
        s.settimeout(5)
        s.connect(addr)
        out.append(s)
    return out


def open_fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def inform_raw(serial="L1"):
    body = envelope(inform(serial))
    return (b"POST / HTTP/1.1\r\nHost: acs\r\nContent-Type: text/xml\r\nContent-Length: "
            + str(len(body)).encode() + b"\r\n\r\n" + body)


def test_descriptor_flood_leaves_the_api_answering(outpost, tmp_path):
    # 256 descriptors in all; the defaults share them out (docs/acs.md, Limits)
    d = start_acs_limited(outpost, tmp_path, 256, "--cpe-auth", "none")
    m = d.wait_for(r"acs_limits fd_limit=256 cwmp_max_connections=(\d+) api_max_connections=(\d+)")
    cwmp_cap, api_cap = int(m.group(1)), int(m.group(2))
    assert 16 <= cwmp_cap and cwmp_cap + api_cap + 64 < 256
    api = Api(d)
    assert api.get("/api/stats").status_code == 200
    # far more idle connections than there are descriptors
    conns = idle(cwmp_addr(d), 400)
    try:
        d.wait_for(r"conn_cap_reached listen=\S+ max_connections=%d" % cwmp_cap)
        # the API still answers, with the token, and still refuses without it
        for _ in range(3):
            r = api.get("/api/stats")
            assert r.status_code == 200 and "pending_tasks" in r.json()
        assert requests.get(d.url("api") + "/api/stats", timeout=10).status_code == 401
        # the CWMP listener holds its cap (plus the one socket parked in libuv)
        assert open_fds(d.proc.pid) < 256 - api_cap
        assert not any("accept_failed" in l or "EMFILE" in l for l in d.lines)
    finally:
        for s in conns:
            s.close()
    # once the idle ones are gone, a CPE gets a session again
    cpe = CPE(cwmp_addr(d))
    r = cpe.inform("SN-FLOOD")
    assert r.status == 200 and r.rpc == "InformResponse"
    assert cpe.post().status == 204
    cpe.close()
    assert api.get("/api/stats").status_code == 200


def test_accepting_pauses_at_the_cap_and_resumes(outpost, tmp_path):
    d = start_acs(outpost, tmp_path, "--cpe-auth", "none", "--max-connections", "3",
                  "--api-max-connections", "2")
    d.wait_for(r"acs_limits .*cwmp_max_connections=3 api_max_connections=2")
    conns = idle(cwmp_addr(d), 3)
    # a fourth client is connected (backlog) but not served while three are held
    late = socket.create_connection(cwmp_addr(d), timeout=1.5)
    late.sendall(inform_raw())
    try:
        late.recv(100)
        assert False, "served over the cap"
    except socket.timeout:
        pass
    d.wait_for(r"conn_cap_reached .*max_connections=3")
    # one closes: the waiting client is taken and answered
    conns.pop().close()
    late.settimeout(10)
    assert late.recv(100).startswith(b"HTTP/1.1 200 ")
    late.close()
    # the API has a budget of its own, untouched by the CWMP listener's
    api = Api(d)
    assert api.get("/api/stats").status_code == 200
    for s in conns:
        s.close()


def test_per_address_cap_answers_503(outpost, tmp_path):
    d = start_acs(outpost, tmp_path, "--cpe-auth", "none", "--max-connections-per-addr", "3")
    conns = idle(cwmp_addr(d), 3)
    out = raw(cwmp_addr(d), inform_raw())
    assert out.startswith(b"HTTP/1.1 503 ") and b"too many connections from your address" in out
    assert b"Retry-After:" in out
    d.wait_for(r"conn_refused .*last_addr=127\.0\.0\.1 max_per_addr=3")
    # one of the three goes: the address may connect again
    conns.pop().close()
    time.sleep(0.3)
    cpe = CPE(cwmp_addr(d))
    assert cpe.inform("SN-ADDR").status == 200
    cpe.close()
    for s in conns:
        s.close()
    # refusals are reported per window, not one line per connection
    time.sleep(0.3)
    extra = idle(cwmp_addr(d), 3)
    for _ in range(5):
        assert raw(cwmp_addr(d), inform_raw()).startswith(b"HTTP/1.1 503 ")
    for s in extra:
        s.close()
    assert sum(1 for l in d.lines if "conn_refused" in l) == 1


def test_trusted_proxy_is_not_counted_per_address(outpost, tmp_path):
    d = start_acs(outpost, tmp_path, "--cpe-auth", "none", "--max-connections-per-addr", "2",
                  "--trusted-proxy", "127.0.0.1")
    conns = idle(cwmp_addr(d), 4)
    cpe = CPE(cwmp_addr(d))
    assert cpe.inform("SN-PROXY").status == 200
    cpe.close()
    for s in conns:
        s.close()
    assert not any("conn_refused" in l for l in d.lines)


def test_obs_fold_refused(outpost, tmp_path):
    d = start_acs(outpost, tmp_path, "--cpe-auth", "none")
    body = envelope(inform("SN-FOLD"))
    folded = (b"POST / HTTP/1.1\r\nHost: acs\r\nContent-Type: text/xml\r\nTransfer-Encoding:\r\n"
              b" chunked\r\n\r\n" + hex(len(body))[2:].encode() + b"\r\n" + body + b"\r\n0\r\n\r\n")
    out = raw(cwmp_addr(d), folded)
    assert out.startswith(b"HTTP/1.1 400 ") and b"obs-fold" in out
    # any header, on the API listener too
    out = raw(d.addr("api"), b"GET /api/stats HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer\r\n "
                            + TOKEN.encode() + b"\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 400 ") and b"obs-fold" in out
    d.wait_for(r"http_bad_request .*status=400 reason=\"obsolete line folding")
    # nothing was stored from the refused Inform
    r = Api(d).get("/api/devices")
    assert r.status_code == 200 and "SN-FOLD" not in r.text
