"""cwmp-proxy with cpe-sim and two `outpost acs` nodes: a small fleet's
sessions spread over both nodes and none fails (a split session would), the
ACS stores the proxy's URLs, and an ACS connection request reaches a
simulated CPE through the proxy (Digest), which then informs with
6 CONNECTION REQUEST."""
import re
import time
from urllib.parse import quote, unquote

import pytest
import requests

from conftest import free_port

pytestmark = pytest.mark.acs  # every test here starts an outpost acs (conftest.py)

TOKEN = "test-token"
RELAY = ("acs-relay", "relay-secret")
CR = ("cruser", "crpass")


def wait_until(pred, timeout=15.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def test_fleet_through_proxy(outpost, tmp_path):
    nodes = []
    port = free_port()
    for name in ("acs1", "acs2"):
        nodes.append(outpost("acs", "--cwmp-listen", "127.0.0.1:0", "--api-listen", "127.0.0.1:0",
                             "--data-dir", str(tmp_path / name), "--api-token", TOKEN,
                             "--cpe-auth", "digest", "--cpe-username", "cpe", "--cpe-password", "pw",
                             "--cr-proxy", f"http://127.0.0.1:{port}",
                             "--cr-proxy-username", RELAY[0], "--cr-proxy-password", RELAY[1]))
    px = outpost("cwmp-proxy", "--listen", f"127.0.0.1:{port}", "--admin-listen", "127.0.0.1:0",
                 "--wakeup-deny", "169.254.0.0/16",
                 "--public-url", f"http://127.0.0.1:{port}", "--data-dir", str(tmp_path / "px"),
                 "--api-token", "tok", "--backend", nodes[0].url("listen") + "/",
                 "--backend", nodes[1].url("listen") + "/",
                 "--acs-username", RELAY[0], "--acs-password", RELAY[1],
                 "--cpe-username", CR[0], "--cpe-password", CR[1])
    sim = outpost("cpe-sim", "--acs", px.url() + "/", "--count", "12", "--rate", "0",
                  "--inform-interval", "1s", "--jitter", "0.3", "--username", "cpe",
                  "--password", "pw", "--cr-listen", "127.0.0.1:0", "--cr-username", CR[0],
                  "--cr-password", CR[1], "--stats-interval", "0", "--json",
                  "--serial-prefix", "PXS")

    def api(node, path, method="GET"):
        return requests.request(method, node.url("api") + path,
                                headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30)

    def devices(node):
        return {d["serial_number"]: d for d in api(node, "/api/devices").json()}

    # every CPE bootstraps; the two nodes share the fleet
    wait_until(lambda: len(devices(nodes[0])) + len(devices(nodes[1])) >= 12, what="12 devices")
    d1, d2 = devices(nodes[0]), devices(nodes[1])
    assert d1 and d2
    # a few periodic rounds, then stop the fleet and look at its counters
    stats = requests.get(px.url("admin") + "/status", headers={"Authorization": "Bearer tok"}).json()
    wait_until(lambda: requests.get(px.url("admin") + "/status",
                                    headers={"Authorization": "Bearer tok"}).json()["requests"]
               > stats["requests"] + 60, what="periodic sessions")
    # the ACS holds the proxy's URL for the CPE's own listener
    serial, dev = next(iter(d1.items()))
    url = dev["connection_request_url"]
    assert url.startswith(f"http://127.0.0.1:{port}/client?origin=")
    origin = unquote(url.split("origin=", 1)[1])
    assert origin == f"http://{sim.fields['listen']}/cr/{serial}"
    # connection request: ACS -> proxy (Basic) -> cpe-sim (Digest) -> a session
    mark = len(px.lines)
    r = api(nodes[0], f"/api/devices/{quote(dev['id'], safe='')}/connection-request", "POST")
    assert r.status_code == 200, r.text
    px.wait_for(rf"wakeup device={re.escape(dev['id'])} .*outcome=ok status=200", start=mark)
    sim.stop()
    final = [l for l in sim.lines if l.startswith('{"final"')]
    assert final, sim.output()[-2000:]
    import json
    s = json.loads(final[-1])["stats"]
    assert s["sessions"]["failed"] == 0, s
    assert s["sessions"]["completed"] >= 24
    assert s["connection_requests"]["answered"] >= 1
    status = requests.get(px.url("admin") + "/status", headers={"Authorization": "Bearer tok"}).json()
    sessions = [b["sessions"] for b in status["backends"]]
    assert min(sessions) > 0 and abs(sessions[0] - sessions[1]) <= max(2, sum(sessions) // 5), sessions
    assert status["wakeups"]["ok"] == 1
