"""UDP connection requests through a real NAT (TR-069 Annex G, TR-111
Part 2). The test builds three network namespaces (netns_nat.py: a lan
with cpe-sim, a router doing source NAT with nftables, a wan with the ACS)
and removes them afterwards, whatever happened. It shows that an HTTP
connection request cannot reach the CPE through the NAT, that the UDP one
does, and that after the router forgets its mappings (conntrack -F; the
next mapping gets another port) the CPE's BINDING-CHANGE updates the ACS
and the next UDP connection request reaches it again. Needs root, ip,
nft and conntrack; skipped with the reason otherwise."""
import os
import re
import time

import pytest
import requests

from conftest import outpost_bin
from netns_nat import LAN_IP, MGMT_WAN, ROUTER_WAN, WAN_IP, Nat, unavailable
from test_acs_session import TOKEN

pytestmark = pytest.mark.acs  # every test here starts an outpost acs (conftest.py)

CR_USER, CR_PASS = "cr", "cr-secret"
DEV = "ACDE48-OP%2D1000-SIM000001"
QDEV = requests.utils.quote(DEV, safe="")


@pytest.fixture
def nat():
    why = unavailable()
    if why:
        pytest.skip(f"namespace NAT: {why}")
    n = Nat(os.urandom(3).hex())
    try:
        n.up()
    except RuntimeError as e:
        errs = n.down()
        pytest.skip(f"namespace NAT could not be built here: {e} {errs}")
    try:
        yield n
    finally:
        errs = n.down()
        assert not errs, errs


class Api:
    def __init__(self, acs):
        self.base = acs.url("api")
        self.h = {"Authorization": f"Bearer {TOKEN}"}

    def get(self, path):
        return requests.get(self.base + path, headers=self.h, timeout=30)

    def post(self, path, body=None):
        return requests.post(self.base + path, json=body, headers=self.h, timeout=30)


def start_acs(outpost, nat, tmp_path, *extra):
    return outpost("acs", "--cwmp-listen", f"{WAN_IP}:7547", "--api-listen", f"{MGMT_WAN}:0",
                   "--admin-listen", f"{MGMT_WAN}:0", "--metrics-public", "--stun-listen", f"{WAN_IP}:3478",
                   "--data-dir", str(tmp_path / "acs"), "--api-token", TOKEN, "--cpe-auth", "none",
                   "--cr-username", CR_USER, "--cr-password", CR_PASS, *extra,
                   exe=nat.exec_prefix(nat.wan) + [outpost_bin()])


def wait_task_cr(api, task_id, status, timeout=20):
    deadline = time.monotonic() + timeout
    while True:
        cr = api.get(f"/api/tasks/{task_id}").json().get("connection_request") or {}
        if cr.get("status") == status:
            return cr
        assert time.monotonic() < deadline, f"task {task_id}: {cr}, wanted {status}"
        time.sleep(0.1)


def wait_idle(api, timeout=15):
    deadline = time.monotonic() + timeout
    while api.get(f"/api/devices/{QDEV}").json().get("in_session"):
        assert time.monotonic() < deadline, "the device's session did not end"
        time.sleep(0.1)


def test_udp_connection_request_through_nat(outpost, nat, tmp_path):
    # first an ACS that may only use HTTP: the CPE's URL is a lan address
    acs = start_acs(outpost, nat, tmp_path, "--cr-udp", "off")
    sim = outpost("cpe-sim", "--acs", f"http://{WAN_IP}:7547/", "--count", "1",
                  "--cr-listen", f"{LAN_IP}:0", "--udp-listen", LAN_IP, "--stats-interval", "0",
                  "--inform-interval", "1h", "--stun-server", f"{WAN_IP}:3478", "--stun-keepalive", "1s",
                  "--cr-username", CR_USER, "--cr-password", CR_PASS, "--data-dir", str(tmp_path / "sim"),
                  exe=nat.exec_prefix(nat.lan) + [outpost_bin()])
    m = sim.wait_for(r"stun_mapped_address cpe=SIM000001 local=(\S+) mapped=(\S+) nat=true", 20)
    first = m.group(2)
    assert first.startswith(ROUTER_WAN + ":"), first  # the router's wan address: behind NAT
    acs.wait_for(rf"stun_binding device={re.escape(DEV)} address={re.escape(first)}")
    api = Api(acs)
    acs.wait_for(r"cwmp_inform device=\S+ events=\"?4 VALUE CHANGE")
    dev = api.get(f"/api/devices/{QDEV}").json()
    assert dev["nat_detected"] is True and dev["udp_connection_request_address"] == first
    wait_idle(api)
    r = api.post(f"/api/devices/{QDEV}/connection-request")
    assert r.status_code == 502 and r.json()["outcome"] == "failed", r.text  # no route into the lan
    assert "connection_request cpe=SIM000001" not in sim.output()
    acs.stop()

    # the same ACS with UDP connection requests (the default, auto)
    acs = start_acs(outpost, nat, tmp_path)
    api = Api(acs)
    acs.wait_for(rf"stun_binding device={re.escape(DEV)} address={re.escape(first)}", 10)
    t = api.post(f"/api/devices/{QDEV}/tasks",
                 {"type": "get_params", "parameters": {"names": ["Device.DeviceInfo.UpTime"]}}).json()
    acs.wait_for(rf"via=udp to={re.escape(first)} outcome=\"udp sent\"")
    sim.wait_for(rf"udp_connection_request cpe=SIM000001 peer={re.escape(WAN_IP)}:3478")
    assert wait_task_cr(api, t["id"], "ok")["reason"].startswith("the device called")
    wait_idle(api)

    # the router forgets its mappings: the next keep-alive gets another port
    # (random in 20000-60000; flushed again in the unlikely case it does not)
    for _ in range(3):
        mark = len(sim.lines)
        nat.flush()
        m = sim.wait_for(r"stun_mapped_address cpe=SIM000001 local=\S+ mapped=(\S+) nat=true", 10, start=mark)
        second = m.group(1)
        if second != first:
            break
    assert second != first
    # the CPE said so with BINDING-CHANGE; the ACS wrote it at once
    acs.wait_for(rf"stun_binding device={re.escape(DEV)} address={re.escape(second)} change=true", 10)
    deadline = time.monotonic() + 10
    while api.get(f"/api/devices/{QDEV}").json()["udp_connection_request_address"] != second:
        assert time.monotonic() < deadline, "the new binding did not reach the device"
        time.sleep(0.1)
    wait_idle(api)
    mark = len(sim.lines)
    t = api.post(f"/api/devices/{QDEV}/tasks", {"type": "get_params",
                                               "parameters": {"names": ["Device.DeviceInfo.UpTime"]}}).json()
    acs.wait_for(rf"via=udp to={re.escape(second)} outcome=\"udp sent\"")
    sim.wait_for(r"udp_connection_request cpe=SIM000001", start=mark)
    wait_task_cr(api, t["id"], "ok")
    mtx = requests.get(acs.url("admin") + "/metrics", timeout=5).text
    assert re.search(r'outpost_acs_udp_connection_requests_total\{outcome="ok"\} 2\b', mtx)
    assert re.search(r"outpost_acs_stun_bindings_changed_total [1-9]", mtx)
