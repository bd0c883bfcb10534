"""UDP connection requests with STUN (TR-069 Annex G, TR-111 Part 2), on
loopback: cpe-sim's CPEs bind through the ACS's STUN server, the ACS wakes
them by UDP and records the outcome on the task; forged, replayed and
stale UDP connection requests are ignored by the CPE; malformed STUN and a
flood leave the STUN server answering. The real NAT is test_nat_netns.py."""
import re
import socket
import time

import pytest
import requests

from nat_util import binding_request, metric, parse_stun, stun_msg, udp_cr
from test_acs_session import Api, start_acs

CR_USER, CR_PASS = "cr", "cr-secret"


def start_pair(outpost, tmp_path, *acs_extra, sim_extra=(), count=2):
    acs = start_acs(outpost, tmp_path, "--cpe-auth", "none", "--stun-listen", "127.0.0.1:0",
                    "--cr-username", CR_USER, "--cr-password", CR_PASS, "--metrics-public",
                    "--cr-deny", "169.254.0.0/16", *acs_extra)
    sim = outpost("cpe-sim", "--acs", f"http://{acs.fields['listen']}/", "--count", str(count),
                  "--cr-listen", "127.0.0.1:0", "--stats-interval", "0", "--inform-interval", "1h",
                  "--stun-server", acs.fields["stun"], "--stun-keepalive", "1s",
                  "--cr-username", CR_USER, "--cr-password", CR_PASS, "--metrics-public",
                  "--data-dir", str(tmp_path / "sim"), *sim_extra)
    return acs, sim


def dev_id(serial):
    return f"ACDE48-OP%2D1000-{serial}"


def url_id(serial):
    return requests.utils.quote(dev_id(serial), safe="")


def mapped(sim, serial):
    return sim.wait_for(rf"stun_mapped_address cpe={serial} local=(\S+) mapped=(\S+) nat=(\w+)", 15).group(2)


def wait_task(api, serial, task_id, status, timeout=15):
    deadline = time.monotonic() + timeout
    while True:
        t = api.get(f"/api/tasks/{task_id}").json()
        cr = t.get("connection_request") or {}
        if cr.get("status") == status:
            return t
        assert time.monotonic() < deadline, f"task {task_id}: connection_request {cr}, wanted {status}"
        time.sleep(0.1)


def wait_idle(api, serial, timeout=10):
    deadline = time.monotonic() + timeout
    while api.get(f"/api/devices/{url_id(serial)}").json().get("in_session"):
        assert time.monotonic() < deadline, "the device's session did not end"
        time.sleep(0.1)


@pytest.mark.acs
def test_stun_binding_then_udp_wake(outpost, tmp_path):
    acs, sim = start_pair(outpost, tmp_path, "--cr-udp", "prefer")
    api = Api(acs)
    addr = mapped(sim, "SIM000001")
    acs.wait_for(rf"stun_binding device={re.escape(dev_id('SIM000001'))} address={re.escape(addr)} "
                 r"change=false new=true")
    # the CPE reports it too: a VALUE CHANGE Inform with the parameter
    acs.wait_for(rf"cwmp_inform device={re.escape(dev_id('SIM000001'))} events=\"?4 VALUE CHANGE")
    dev = api.get(f"/api/devices/{url_id('SIM000001')}").json()
    assert dev["udp_connection_request_address"] == addr
    # a task wakes it by UDP: "udp sent" at once, "ok" when its session came
    t = api.post(f"/api/devices/{url_id('SIM000001')}/tasks",
                 {"type": "get_params", "parameters": {"names": ["Device.DeviceInfo.UpTime"]}}).json()
    acs.wait_for(rf"cwmp_connection_request device={re.escape(dev_id('SIM000001'))} via=udp "
                 rf"to={re.escape(addr)} outcome=\"udp sent\"")
    sim.wait_for(r"udp_connection_request cpe=SIM000001 peer=\S+ id=\d+")
    acs.wait_for(rf"cwmp_inform device={re.escape(dev_id('SIM000001'))} events=\"?6 CONNECTION REQUEST")
    wait_task(api, "SIM000001", t["id"], "ok")  # noted as the Inform came, before the RPC
    deadline = time.monotonic() + 10
    while api.get(f"/api/tasks/{t['id']}").json()["status"] != "done":
        assert time.monotonic() < deadline, "the task was not done in the session the wake-up started"
        time.sleep(0.1)
    # the other CPE was not woken
    assert "udp_connection_request cpe=SIM000002" not in sim.output()
    m = requests.get(acs.url("admin") + "/metrics", timeout=5).text
    assert metric(m, "outpost_acs_udp_connection_requests_total", 'outcome="ok"') == 1
    assert metric(m, "outpost_acs_stun_bindings") == 2
    assert metric(m, "outpost_acs_stun_bindings_learnt_total") == 2
    # the API's connection request goes the same way
    r = api.post(f"/api/devices/{url_id('SIM000002')}/connection-request")
    assert r.status_code == 200, r.text
    sim.wait_for(r"udp_connection_request cpe=SIM000002")


@pytest.mark.acs
def test_without_nat_auto_keeps_http(outpost, tmp_path):
    """--cr-udp auto (the default): a CPE not behind NAT is woken by HTTP."""
    acs, sim = start_pair(outpost, tmp_path, count=1)
    api = Api(acs)
    mapped(sim, "SIM000001")
    acs.wait_for(r"cwmp_inform device=\S+ events=\"?4 VALUE CHANGE")
    r = api.post(f"/api/devices/{url_id('SIM000001')}/connection-request")
    assert r.status_code == 200 and r.json()["http_status"] == 200, r.text
    assert "via=udp" not in acs.output()



@pytest.mark.acs
def test_udp_address_in_cr_deny_is_refused(outpost, tmp_path):
    """The UDP address is the CPE's word (or a STUN source, spoofable without
    --stun-password): --cr-deny holds for UDP connection requests as for HTTP
    ones. Nothing is sent, nor does HTTP go instead."""
    acs, sim = start_pair(outpost, tmp_path, "--cr-udp", "prefer", "--cr-deny", "127.0.0.0/8", count=1)
    api = Api(acs)
    mapped(sim, "SIM000001")
    acs.wait_for(r"cwmp_inform device=\S+ events=\"?4 VALUE CHANGE")
    wait_idle(api, "SIM000001")
    t = api.post(f"/api/devices/{url_id('SIM000001')}/tasks", {"type": "reboot"}).json()
    assert t["connection_request"]["status"] == "refused", t
    assert "--cr-deny" in t["connection_request"]["reason"], t
    r = api.post(f"/api/devices/{url_id('SIM000001')}/connection-request")
    assert r.status_code == 403 and "--cr-deny" in r.json()["message"], r.text
    acs.wait_for(r"cwmp_connection_request device=\S+ via=udp to=127\.0\.0\.1:\d+ outcome=refused")
    time.sleep(1.0)
    assert "udp_connection_request cpe=" not in sim.output()
    assert "outcome=\"udp sent\"" not in acs.output()
    m = requests.get(acs.url("admin") + "/metrics", timeout=5).text
    assert metric(m, "outpost_acs_udp_connection_request_datagrams_total") == 0

@pytest.mark.acs
def test_udp_timeout_is_recorded(outpost, tmp_path):
    acs, sim = start_pair(outpost, tmp_path, "--cr-udp", "prefer", "--cr-udp-timeout", "4s", count=1)
    api = Api(acs)
    mapped(sim, "SIM000001")
    acs.wait_for(r"cwmp_inform device=\S+ events=\"?4 VALUE CHANGE")
    wait_idle(api, "SIM000001")
    sim.stop()
    t = api.post(f"/api/devices/{url_id('SIM000001')}/tasks", {"type": "reboot"}).json()
    wait_task(api, "SIM000001", t["id"], "udp sent", timeout=3)
    t = wait_task(api, "SIM000001", t["id"], "timeout", timeout=10)
    assert "6 CONNECTION REQUEST" in t["connection_request"]["reason"]
    m = requests.get(acs.url("admin") + "/metrics", timeout=5).text
    assert metric(m, "outpost_acs_udp_connection_requests_total", 'outcome="timeout"') == 1
    assert metric(m, "outpost_acs_udp_connection_request_datagrams_total") == 4


@pytest.mark.acs
def test_forged_replayed_stale_requests_are_ignored(outpost, tmp_path):
    acs, sim = start_pair(outpost, tmp_path, count=1)
    host, port = mapped(sim, "SIM000001").rsplit(":", 1)
    acs.wait_for(r"cwmp_inform device=\S+ events=\"?4 VALUE CHANGE")
    hp = f"{host}:{port}"
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    to = (host, int(port))

    def woken():
        return len(re.findall(r"events=\"?6 CONNECTION REQUEST", acs.output()))

    now = int(time.time())
    s.sendto(udp_cr(hp, CR_USER, "wrong", ts=now), to)              # bad signature
    s.sendto(udp_cr(hp, "someone", CR_PASS, ts=now), to)            # wrong username
    s.sendto(udp_cr(hp, CR_USER, CR_PASS, ts=now - 3600), to)       # stale
    s.sendto(b"GET / HTTP/1.1\r\n\r\n", to)                         # malformed
    s.sendto(b"\xff" * 3000, to)                                    # junk, too large
    sim.wait_for(r"udp_connection_request_ignored cpe=SIM000001 .*kind=auth")
    sim.wait_for(r"udp_connection_request_ignored cpe=SIM000001 .*kind=stale")
    sim.wait_for(r"udp_connection_request_ignored cpe=SIM000001 .*kind=malformed")
    time.sleep(0.5)
    assert woken() == 0
    good = udp_cr(hp, CR_USER, CR_PASS, ts=now, msg_id=7)
    s.sendto(good, to)
    acs.wait_for(r"events=\"?6 CONNECTION REQUEST")
    s.sendto(good, to)                                               # a copy (same id)
    s.sendto(udp_cr(hp, CR_USER, CR_PASS, ts=now - 10, msg_id=8), to)  # older than the last accepted
    sim.wait_for(r"udp_connection_request_ignored cpe=SIM000001 .*kind=replay")
    time.sleep(1.0)
    assert woken() == 1
    m = requests.get(sim.url("admin") + "/metrics", timeout=5).text
    ign = "outpost_cpesim_udp_connection_requests_ignored_total"
    assert metric(m, ign, 'reason="auth"') == 2
    assert metric(m, ign, 'reason="stale"') == 1
    assert metric(m, ign, 'reason="replay"') == 1
    assert metric(m, ign, 'reason="malformed"') == 2
    assert metric(m, "outpost_cpesim_udp_connection_requests_total") == 1
    assert metric(m, "outpost_cpesim_udp_connection_request_copies_total") == 1
    # logged once per kind in the window, however many came
    for _ in range(20):
        s.sendto(udp_cr(hp, CR_USER, "wrong"), to)
    time.sleep(0.5)
    assert len(re.findall(r"udp_connection_request_ignored .*kind=auth", sim.output())) == 1
    s.close()


def stun_ask(sock, to, msg, timeout=2.0):
    sock.settimeout(timeout)
    sock.sendto(msg, to)
    data, _ = sock.recvfrom(2048)
    return parse_stun(data)


@pytest.mark.acs
def test_stun_server_answers_and_survives_garbage_and_floods(outpost, tmp_path):
    acs = start_acs(outpost, tmp_path, "--cpe-auth", "none", "--stun-listen", "127.0.0.1:0",
                    "--stun-rate", "50", "--metrics-public")
    host, port = acs.fields["stun"].rsplit(":", 1)
    to = (host, int(port))
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    # any RFC 5389 client: our address back, XOR-mapped
    mtype, _, a = stun_ask(s, to, binding_request(crb=False))
    assert mtype == 0x0101 and a["xor"] == s.getsockname()
    # an unknown comprehension-required attribute: 420 naming it
    mtype, _, a = stun_ask(s, to, binding_request(crb=False, extra=[(0x0003, b"\0\0\0\0")]))
    assert mtype == 0x0111 and a["error"] == 420 and a[0x000A] == b"\x00\x03"
    # malformed: dropped without an answer, counted
    for junk in (b"", b"\x00\x01\x00", b"\x00\x01\x00\x04" + b"\x21\x12\xa4\x42" + b"x" * 12,
                 binding_request(crb=False)[:-3], b"\x00\x01\x00\x00\x00\x00\x00\x00" + b"y" * 12,
                 b"\x00\x01\x05\x00\x21\x12\xa4\x42" + b"z" * 1300):
        s.sendto(junk, to)
    # a flood from one address: most is dropped (the CPU does not go to it)
    f = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    f.bind(("127.0.0.1", 0))
    req = binding_request(crb=False)
    t0 = time.monotonic()
    for _ in range(3000):
        f.sendto(req, to)
    # another address is still answered (loopback has all of 127/8); while
    # the socket's buffer is full the kernel drops datagrams, so ask again
    o = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    o.bind(("127.0.0.2", 0))
    for attempt in range(10):
        try:
            mtype, _, a = stun_ask(o, to, binding_request(crb=False), timeout=0.5)
            break
        except TimeoutError:
            assert attempt < 9, "the STUN server stopped answering after the flood"
    assert mtype == 0x0101 and a["xor"] == o.getsockname()
    # the flooder got at most the bucket's worth: a burst of 100, then 50/s
    # (the kernel drops what overflows the socket buffer before the ACS
    # sees it; the bucket drops the rest of what it reads)
    answers = 0
    f.settimeout(0.3)
    try:
        while True:
            f.recvfrom(2048)
            answers += 1
    except TimeoutError:
        pass
    elapsed = time.monotonic() - t0
    assert 0 < answers <= 100 + 50 * elapsed + 5, (answers, elapsed)
    m = requests.get(acs.url("admin") + "/metrics", timeout=5).text
    assert metric(m, "outpost_acs_stun_malformed_total") >= 5
    assert metric(m, "outpost_acs_stun_rate_limited_total") >= 50
    assert metric(m, "outpost_acs_stun_unknown_attributes_total") == 1
    acs.wait_for(r"stun_malformed peer=127\.0\.0\.1:\d+ reason=")
    assert len(re.findall(r"stun_malformed|stun_rate_limited", acs.output())) <= 3  # rate-limited lines
    assert Api(acs).get("/api/devices").status_code == 200
    for x in (s, f, o):
        x.close()



@pytest.mark.acs
def test_made_up_usernames_are_logged_rate_limited(outpost, tmp_path):
    """Without --stun-password anyone may send USERNAMEs: ones naming no
    device cost one line per 10 s, not a stun_binding line each."""
    acs = start_acs(outpost, tmp_path, "--cpe-auth", "none", "--stun-listen", "127.0.0.1:0",
                    "--metrics-public")
    host, port = acs.fields["stun"].rsplit(":", 1)
    to = (host, int(port))
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    for i in range(40):
        mtype, _, _ = stun_ask(s, to, binding_request(f"made-up-{i}"))
        assert mtype == 0x0101
    deadline = time.monotonic() + 10
    while True:
        m = requests.get(acs.url("admin") + "/metrics", timeout=5).text
        if metric(m, "outpost_acs_stun_unknown_devices_total") == 40:
            break
        assert time.monotonic() < deadline, "the made-up bindings were not all refused"
        time.sleep(0.1)
    assert metric(m, "outpost_acs_stun_bindings") == 0
    assert len(re.findall(r"stun_binding_unknown_device ", acs.output())) == 1
    assert not re.search(r"stun_binding device=", acs.output())
    s.close()

@pytest.mark.acs
def test_made_up_usernames_do_not_evict_real_bindings(outpost, tmp_path):
    """A flood of made-up USERNAMEs, many more than --stun-max-bindings, from
    several addresses and ports: they wait on probation for the store's word
    and never enter the table of known devices, so the real CPE's binding
    stays (nothing evicted) and its UDP connection request still goes to it."""
    acs, sim = start_pair(outpost, tmp_path, "--cr-udp", "prefer", "--stun-max-bindings", "4", count=1)
    api = Api(acs)
    addr = mapped(sim, "SIM000001")
    acs.wait_for(rf"stun_binding device={re.escape(dev_id('SIM000001'))} address={re.escape(addr)} "
                 r"change=false new=true")
    acs.wait_for(r"cwmp_inform device=\S+ events=\"?4 VALUE CHANGE")
    wait_idle(api, "SIM000001")
    host, port = acs.fields["stun"].rsplit(":", 1)
    to = (host, int(port))
    flood = 0
    for batch in range(6):  # bursts of 50 at once: more than the cap in flight
        f = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        f.bind((f"127.0.0.{2 + batch % 3}", 0))
        f.settimeout(2)
        for i in range(50):
            f.sendto(binding_request(f"made-up-{batch}-{i}"), to)
        for i in range(50):
            mtype, _, _ = parse_stun(f.recvfrom(2048)[0])
            assert mtype == 0x0101  # answered all the same
        flood += 50
        f.close()
    deadline = time.monotonic() + 15
    while True:
        m = requests.get(acs.url("admin") + "/metrics", timeout=5).text
        settled = (metric(m, "outpost_acs_stun_unknown_devices_total")
                   + metric(m, "outpost_acs_stun_probation_full_total"))
        if settled >= flood and metric(m, "outpost_acs_stun_probation") == 0:
            break
        assert time.monotonic() < deadline, "the made-up USERNAMEs were not all settled"
        time.sleep(0.1)
    assert metric(m, "outpost_acs_stun_bindings_evicted_total") == 0
    assert metric(m, "outpost_acs_stun_bindings") == 1
    assert metric(m, "outpost_acs_stun_bindings_learnt_total") == 1
    assert len(re.findall(r"stun_binding_unknown_device ", acs.output())) <= 2  # one per 10 s
    assert not re.search(r"stun_binding device=made-up", acs.output())
    # the real CPE is still woken by UDP, at the binding the STUN server holds
    r = api.post(f"/api/devices/{url_id('SIM000001')}/connection-request")
    assert r.status_code == 200, r.text
    acs.wait_for(rf"cwmp_connection_request device={re.escape(dev_id('SIM000001'))} via=udp "
                 rf"to={re.escape(addr)} outcome=\"udp sent\" stun_binding=true")
    sim.wait_for(r"udp_connection_request cpe=SIM000001")


@pytest.mark.acs
def test_stun_password_unsigned_requests_move_no_binding(outpost, tmp_path):
    """With --stun-password, a request naming a real device without (or with
    a wrong) MESSAGE-INTEGRITY is refused (401) and moves nothing: the
    device's binding, stored and in memory, stays the signed one, and its
    connection request goes there. (The signed binding is made here: a CPE
    with the password, whose source is this socket.)"""
    acs, sim = start_pair(outpost, tmp_path, "--cr-udp", "prefer", "--stun-password", "stun-key", count=1)
    api = Api(acs)
    acs.wait_for(rf"cwmp_inform device={re.escape(dev_id('SIM000001'))} events=\"?0 BOOTSTRAP")
    wait_idle(api, "SIM000001")
    host, port = acs.fields["stun"].rsplit(":", 1)
    to = (host, int(port))
    cpe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    cpe.bind(("127.0.0.3", 0))
    good = "%s:%d" % cpe.getsockname()
    mtype, _, a = stun_ask(cpe, to, binding_request(dev_id("SIM000001"), key="stun-key"))
    assert mtype == 0x0101 and 0x0008 in a
    acs.wait_for(rf"stun_binding device={re.escape(dev_id('SIM000001'))} address={re.escape(good)} "
                 r"change=false new=true")
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.2", 0))
    for key in (None, "wrong"):
        for change in (False, True):
            mtype, _, a = stun_ask(s, to, binding_request(dev_id("SIM000001"), change=change, key=key))
            assert mtype == 0x0111 and a["error"] == 401
    time.sleep(0.5)
    m = requests.get(acs.url("admin") + "/metrics", timeout=5).text
    assert metric(m, "outpost_acs_stun_bindings_changed_total") == 0
    assert metric(m, "outpost_acs_stun_bindings") == 1
    assert api.get(f"/api/devices/{url_id('SIM000001')}").json()["udp_connection_request_address"] == good
    r = api.post(f"/api/devices/{url_id('SIM000001')}/tasks", {"type": "reboot"})
    assert r.status_code in (200, 201, 202), r.text
    acs.wait_for(rf"via=udp to={re.escape(good)} outcome=\"udp sent\" stun_binding=true")
    cpe.settimeout(3)
    data, _ = cpe.recvfrom(2048)
    assert data.startswith(b"GET http://" + good.encode() + b"?ts=")
    s.settimeout(0.5)
    try:
        s.recvfrom(2048)
        raise AssertionError("a connection request went to the unsigned requests' address")
    except TimeoutError:
        pass
    cpe.close()
    s.close()


@pytest.mark.acs
def test_cpe_sim_signs_with_its_stun_password(outpost, tmp_path):
    """cpe-sim's STUNPassword (--stun-password) signs its Binding Requests
    (MESSAGE-INTEGRITY): an ACS with the same --stun-password learns the
    binding and wakes the CPE by UDP; with another password it refuses
    them (401) and learns nothing."""
    acs, sim = start_pair(outpost, tmp_path, "--cr-udp", "prefer", "--stun-password", "stun-key",
                          sim_extra=("--stun-password", "stun-key"), count=1)
    api = Api(acs)
    addr = mapped(sim, "SIM000001")
    acs.wait_for(rf"stun_binding device={re.escape(dev_id('SIM000001'))} address={re.escape(addr)} "
                 r"change=false new=true")
    r = api.post(f"/api/devices/{url_id('SIM000001')}/connection-request")
    assert r.status_code == 200, r.text
    sim.wait_for(r"udp_connection_request cpe=SIM000001")
    m = requests.get(acs.url("admin") + "/metrics", timeout=5).text
    assert metric(m, "outpost_acs_stun_unauthorized_total") == 0
    acs.stop()
    sim.stop()
    acs, sim = start_pair(outpost, tmp_path / "other", "--cr-udp", "prefer", "--stun-password", "stun-key",
                          sim_extra=("--stun-password", "not-the-key"), count=1)
    deadline = time.monotonic() + 10
    while True:
        m = requests.get(acs.url("admin") + "/metrics", timeout=5).text
        if metric(m, "outpost_acs_stun_unauthorized_total") >= 1:
            break
        assert time.monotonic() < deadline, "the wrongly signed requests were not refused"
        time.sleep(0.1)
    assert metric(m, "outpost_acs_stun_bindings") == 0


@pytest.mark.acs
def test_stun_password_needs_message_integrity(outpost, tmp_path):
    acs = start_acs(outpost, tmp_path, "--cpe-auth", "none", "--stun-listen", "127.0.0.1:0",
                    "--stun-password", "stun-key", "--metrics-public", "--cpe-auth-max-failures", "3")
    host, port = acs.fields["stun"].rsplit(":", 1)
    to = (host, int(port))
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    mtype, _, a = stun_ask(s, to, binding_request("dev-1"))
    assert mtype == 0x0111 and a["error"] == 401
    mtype, _, a = stun_ask(s, to, binding_request("dev-1", key="wrong"))
    assert mtype == 0x0111 and a["error"] == 401
    mtype, _, a = stun_ask(s, to, binding_request("dev-1", key="stun-key"))
    assert mtype == 0x0101 and 0x0008 in a
    # a plain Binding Request (no CONNECTION-REQUEST-BINDING) needs nothing
    mtype, _, a = stun_ask(s, to, binding_request(crb=False))
    assert mtype == 0x0101
    m = requests.get(acs.url("admin") + "/metrics", timeout=5).text
    assert metric(m, "outpost_acs_stun_unauthorized_total") == 2
    # "dev-1" is no device of this ACS: the signed request is answered, but
    # its binding is not learnt (the store said no such device)
    acs.wait_for(r"stun_binding_unknown_device device=dev-1")
    m = requests.get(acs.url("admin") + "/metrics", timeout=5).text
    assert metric(m, "outpost_acs_stun_unknown_devices_total") == 1
    assert metric(m, "outpost_acs_stun_bindings_learnt_total") == 0
    assert metric(m, "outpost_acs_stun_bindings") == 0
    # guessing the key: three wrong ones in a row lock the address out, so
    # that even the right one is not answered; other addresses still are
    for _ in range(3):
        mtype, _, a = stun_ask(s, to, binding_request("dev-1", key="guess"))
        assert a["error"] == 401
    acs.wait_for(r"stun_auth_failed addr=127\.0\.0\.1 .*locked_ms=[1-9]")
    try:
        stun_ask(s, to, binding_request("dev-1", key="stun-key"), timeout=1.0)
        raise AssertionError("a locked-out address was answered")
    except TimeoutError:
        pass
    o = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    o.bind(("127.0.0.2", 0))
    mtype, _, a = stun_ask(o, to, binding_request("dev-1", key="stun-key"))
    assert mtype == 0x0101
    m = requests.get(acs.url("admin") + "/metrics", timeout=5).text
    assert metric(m, "outpost_acs_stun_locked_out_total") == 1
    o.close()
    s.close()


def test_cwmp_proxy_relays_udp_connection_requests(outpost, tmp_path):
    """The ACS asks the cwmp-proxy (its /client wake-up endpoint, udp=IP:PORT)
    and the proxy sends the signed datagrams from inside, to the host of the
    origin it rewrote only, never to a --wakeup-deny address."""
    import hashlib
    import hmac
    from urllib.parse import parse_qs, urlsplit

    from cwmp_proxy_util import Backend
    from test_cwmp_proxy_wakeup import register, start_proxy, wake

    backend = Backend("A")
    cpe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    cpe.bind(("127.0.0.1", 0))
    port = cpe.getsockname()[1]
    try:
        px = start_proxy(outpost, tmp_path, backend, "--cpe-username", CR_USER, "--cpe-password", CR_PASS)
        url = register(px, "U1", f"http://127.0.0.1:{port}/cr")
        r = wake(px, url + f"&udp=127.0.0.1:{port}")
        assert r.status_code == 200 and "UDP connection request sent" in r.text, r.text
        cpe.settimeout(6)
        seen = []
        for _ in range(4):  # 0, 0.5, 1.5, 3.5 s
            data, src = cpe.recvfrom(2048)
            line = data.split(b"\r\n")[0].decode()
            q = {k: v[0] for k, v in parse_qs(urlsplit(line.split(" ")[1]).query).items()}
            seen.append(q["id"])
            want = hmac.new(CR_PASS.encode(), f"{q['ts']}{q['id']}{q['un']}{q['cn']}".encode(),
                            hashlib.sha1).hexdigest()
            assert q["un"] == CR_USER and q["sig"] == want
            assert b"\r\nHost: 127.0.0.1:%d\r\n" % port in data
        assert len(set(seen)) == 1  # copies of one request
        # not the CPE's host: refused (the relay sends to nobody else)
        r = wake(px, url + f"&udp=127.0.0.2:{port}")
        assert r.status_code == 403 and "not the host" in r.text
        r = wake(px, url + "&udp=nonsense")
        assert r.status_code == 400
        # the proxy's own addresses stay out of reach (--wakeup-deny's defaults)
        px2 = outpost("cwmp-proxy", "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0",
                      "--public-url", "http://proxy.test:7548", "--data-dir", str(tmp_path / "px2"),
                      "--api-token", "tok", "--backend", backend.url, "--acs-username", "acs",
                      "--acs-password", "acs-secret", "--cpe-username", CR_USER, "--cpe-password", CR_PASS)
        url2 = register(px2, "U2", f"http://127.0.0.1:{port}/cr")
        r = wake(px2, url2 + f"&udp=127.0.0.1:{port}")
        assert r.status_code == 403 and "is in --wakeup-deny" in r.text
    finally:
        backend.stop()
        cpe.close()



def test_cwmp_proxy_udp_relay_needs_credentials_and_is_bounded(outpost, tmp_path):
    """udp= is behind the same checks as an HTTP wake-up: no datagram without
    the ACS's credentials, and the relays held for their copies (3.5 s) are
    capped by --max-wakeups (503), so the proxy's memory stays bounded."""
    from cwmp_proxy_util import Backend
    from test_cwmp_proxy_wakeup import register, start_proxy, wake

    backend = Backend("A")
    cpe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    cpe.bind(("127.0.0.1", 0))
    port = cpe.getsockname()[1]
    try:
        px = start_proxy(outpost, tmp_path, backend, "--cpe-username", CR_USER, "--cpe-password", CR_PASS,
                         "--max-wakeups", "1")
        url = register(px, "U1", f"http://127.0.0.1:{port}/cr")
        r = wake(px, url + f"&udp=127.0.0.1:{port}", auth=("acs", "wrong"))
        assert r.status_code == 401, r.text
        r = wake(px, url + f"&udp=127.0.0.1:{port}", auth=None)
        assert r.status_code == 401, r.text
        cpe.settimeout(0.5)
        try:
            cpe.recvfrom(2048)
            raise AssertionError("a datagram went out without the ACS's credentials")
        except TimeoutError:
            pass
        r = wake(px, url + f"&udp=127.0.0.1:{port}")
        assert r.status_code == 200, r.text
        r = wake(px, url + f"&udp=127.0.0.1:{port}")
        assert r.status_code == 503 and r.headers.get("Retry-After") == "1", r.text
        time.sleep(5.0)  # the first one's copies (0 to 3.5 s) are out: room again
        r = wake(px, url + f"&udp=127.0.0.1:{port}")
        assert r.status_code == 200, r.text
    finally:
        backend.stop()
        cpe.close()

@pytest.mark.acs
def test_acs_wakes_through_the_cwmp_proxy_by_udp(outpost, tmp_path):
    """End to end: ACS -> cwmp-proxy /client?...&udp= -> UDP -> cpe-sim."""
    from conftest import free_port

    pxport = free_port()
    pub = f"http://127.0.0.1:{pxport}"
    acs = start_acs(outpost, tmp_path, "--cpe-auth", "none", "--stun-listen", "127.0.0.1:0",
                    "--cr-proxy", pub, "--cr-proxy-username", "acs", "--cr-proxy-password", "acs-secret",
                    "--cr-udp", "prefer", "--metrics-public")
    px = outpost("cwmp-proxy", "--listen", f"127.0.0.1:{pxport}", "--public-url", pub,
                 "--data-dir", str(tmp_path / "px"), "--api-token", "tok",
                 "--backend", f"http://{acs.fields['listen']}", "--acs-username", "acs",
                 "--acs-password", "acs-secret", "--cpe-username", CR_USER, "--cpe-password", CR_PASS,
                 "--wakeup-deny", "169.254.0.0/16")
    sim = outpost("cpe-sim", "--acs", f"{pub}/", "--count", "1", "--cr-listen", "127.0.0.1:0",
                  "--stats-interval", "0", "--inform-interval", "1h", "--stun-server", acs.fields["stun"],
                  "--stun-keepalive", "1s", "--cr-username", CR_USER, "--cr-password", CR_PASS,
                  "--data-dir", str(tmp_path / "sim"))
    addr = mapped(sim, "SIM000001")
    acs.wait_for(r"cwmp_inform device=\S+ events=\"?4 VALUE CHANGE")
    api = Api(acs)
    wait_idle(api, "SIM000001")
    dev = api.get(f"/api/devices/{url_id('SIM000001')}").json()
    assert dev["connection_request_url"].startswith(pub + "/client?origin=")
    r = api.post(f"/api/devices/{url_id('SIM000001')}/connection-request")
    assert r.status_code == 200, r.text
    acs.wait_for(rf"cwmp_connection_request device=\S+ via=udp-proxy to={re.escape(addr)}")
    px.wait_for(r"wakeup device=\S+ .*outcome=ok status=200")
    sim.wait_for(r"udp_connection_request cpe=SIM000001 peer=127\.0\.0\.1:\d+")
    assert not re.search(rf"udp_connection_request cpe=SIM000001 peer={re.escape(acs.fields['stun'])}",
                         sim.output())  # it came from the proxy, not the ACS's STUN socket


@pytest.mark.acs
def test_bindings_are_capped(outpost, tmp_path):
    """--stun-max-bindings: the least recently heard binding goes first."""
    acs, sim = start_pair(outpost, tmp_path, "--stun-max-bindings", "2", count=3)
    for serial in ("SIM000001", "SIM000002", "SIM000003"):
        mapped(sim, serial)
    deadline = time.monotonic() + 10
    while True:
        m = requests.get(acs.url("admin") + "/metrics", timeout=5).text
        if metric(m, "outpost_acs_stun_bindings_evicted_total") >= 1:
            break
        assert time.monotonic() < deadline, "no binding was evicted"
        time.sleep(0.2)
    assert metric(m, "outpost_acs_stun_bindings") == 2
    assert metric(m, "outpost_acs_stun_bindings_learnt_total") >= 3


@pytest.mark.acs
def test_udp_relay_the_proxy_refuses_is_not_counted_sent(outpost, tmp_path):
    """A UDP connection request relayed through the cwmp-proxy (udp=) counts
    as sent only when the proxy said it sent it (its 200). One the proxy
    refuses (here: 127.0.0.1 is in its default --wakeup-deny, its own
    addresses) is failed, in the UDP series and as the HTTP request it was,
    and no datagram is counted."""
    from conftest import free_port

    pxport = free_port()
    pub = f"http://127.0.0.1:{pxport}"
    acs = start_acs(outpost, tmp_path, "--cpe-auth", "none", "--stun-listen", "127.0.0.1:0",
                    "--cr-proxy", pub, "--cr-proxy-username", "acs", "--cr-proxy-password", "acs-secret",
                    "--cr-udp", "prefer", "--metrics-public")
    outpost("cwmp-proxy", "--listen", f"127.0.0.1:{pxport}", "--public-url", pub,
            "--data-dir", str(tmp_path / "px"), "--api-token", "tok",
            "--backend", f"http://{acs.fields['listen']}", "--acs-username", "acs",
            "--acs-password", "acs-secret", "--cpe-username", CR_USER, "--cpe-password", CR_PASS)
    sim = outpost("cpe-sim", "--acs", f"{pub}/", "--count", "1", "--cr-listen", "127.0.0.1:0",
                  "--stats-interval", "0", "--inform-interval", "1h", "--stun-server", acs.fields["stun"],
                  "--stun-keepalive", "1s", "--cr-username", CR_USER, "--cr-password", CR_PASS,
                  "--data-dir", str(tmp_path / "sim"))
    mapped(sim, "SIM000001")
    acs.wait_for(r"cwmp_inform device=\S+ events=\"?4 VALUE CHANGE")
    api = Api(acs)
    wait_idle(api, "SIM000001")
    r = api.post(f"/api/devices/{url_id('SIM000001')}/connection-request")
    assert r.status_code == 502, r.text
    body = r.json()
    assert body["outcome"] == "failed" and body["http_status"] == 403, body
    assert "cwmp-proxy answered 403" in body["message"], body
    acs.wait_for(r"cwmp_connection_request device=\S+ via=udp-proxy")
    m = requests.get(acs.url("admin") + "/metrics", timeout=5).text
    assert metric(m, "outpost_acs_udp_connection_requests_total", 'outcome="sent"') == 0
    assert metric(m, "outpost_acs_udp_connection_requests_total", 'outcome="failed"') == 1
    assert metric(m, "outpost_acs_udp_connection_request_datagrams_total") == 0
    assert metric(m, "outpost_acs_connection_requests_total", 'outcome="failed"') == 1
    assert "udp_connection_request cpe=" not in sim.output()


@pytest.mark.acs
def test_device_calls_while_its_relay_request_is_out(outpost, tmp_path):
    """The device's "6 CONNECTION REQUEST" session can come before the
    cwmp-proxy answered the relay request (a slow proxy, or the device called
    anyway): the connection request is ok then, and the proxy's late answer
    changes nothing (nor touches what was freed: the ASan run says so)."""
    import http.server
    import threading

    from cwmp_cpe import CPE
    from test_acs_session import cwmp_addr

    asked, answer = threading.Event(), threading.Event()

    class SlowProxy(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            asked.set()
            answer.wait(20)
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *a):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), SlowProxy)
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    pub = f"http://127.0.0.1:{srv.server_address[1]}"
    try:
        acs = start_acs(outpost, tmp_path, "--cpe-auth", "none", "--stun-listen", "127.0.0.1:0",
                        "--cr-proxy", pub, "--cr-proxy-username", "acs", "--cr-proxy-password", "acs-secret",
                        "--cr-udp", "prefer", "--metrics-public")
        udp = [("InternetGatewayDevice.ManagementServer.UDPConnectionRequestAddress", "127.0.0.1:9",
                "xsd:string")]
        cpe = CPE(cwmp_addr(acs))
        assert cpe.inform("R1", params=udp, cr_url=f"{pub}/client?origin=r1").rpc == "InformResponse"
        assert cpe.post().status == 204
        cpe.close()
        api = Api(acs)
        out = {}
        t = threading.Thread(target=lambda: out.update(r=api.post("/api/devices/00D09E-IGD-R1/connection-request")))
        t.start()
        assert asked.wait(10), "the ACS did not ask the proxy"
        cpe = CPE(cwmp_addr(acs))
        assert cpe.inform("R1", events=[("6 CONNECTION REQUEST", "")], params=udp,
                          cr_url=f"{pub}/client?origin=r1").rpc == "InformResponse"
        assert cpe.post().status == 204
        cpe.close()
        t.join(10)
        assert out["r"].status_code == 200 and out["r"].json()["ok"], out["r"].text
        answer.set()  # the proxy's 200 comes after it all
        acs.wait_for(r"cwmp_connection_request device=00D09E-IGD-R1 status=200 outcome=ok")
        m = requests.get(acs.url("admin") + "/metrics", timeout=5).text
        assert metric(m, "outpost_acs_udp_connection_requests_total", 'outcome="ok"') == 1
        assert metric(m, "outpost_acs_udp_connection_requests_total", 'outcome="timeout"') == 0
        acs.stop()
    finally:
        answer.set()
        srv.shutdown()
        srv.server_close()
