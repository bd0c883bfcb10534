"""cpe-sim through `outpost cwmp-proxy` to `outpost acs`: the ACS stores the
proxy's ConnectionRequestURL and its tasks wake the simulated CPEs through it."""
import time
from urllib.parse import quote

import pytest
import requests

from conftest import free_port

pytestmark = pytest.mark.acs  # every test here starts an outpost acs (conftest.py)

TOKEN = "cpesim-proxy-token"


def test_fleet_behind_the_proxy(outpost, tmp_path):
    port = free_port()  # the proxy's public URL names the port the ACS will call
    acs = outpost("acs", "--cwmp-listen", "127.0.0.1:0", "--api-listen", "127.0.0.1:0",
                  "--data-dir", str(tmp_path / "acs"), "--api-token", TOKEN, "--cpe-password", "cpe-pw",
                  "--cr-proxy", "http://127.0.0.1:%d" % port,
                  "--cr-proxy-username", "relay", "--cr-proxy-password", "relay-pw")
    outpost("cwmp-proxy", "--listen", "127.0.0.1:%d" % port, "--admin-listen", "127.0.0.1:0",
            "--wakeup-deny", "169.254.0.0/16",
            "--public-url", "http://127.0.0.1:%d" % port, "--data-dir", str(tmp_path / "px"),
            "--api-token", "tok", "--backend", acs.url("listen") + "/",
            "--acs-user", "relay", "--acs-password", "relay-pw", "--cpe-user", "cr", "--cpe-password", "cr-pw")
    sim = outpost("cpe-sim", "--acs", "http://127.0.0.1:%d/" % port, "--count", "4", "--cr-listen", "127.0.0.1:0",
                  "--stats-interval", "0", "--username", "cpe", "--password", "cpe-pw",
                  "--cr-username", "cr", "--cr-password", "cr-pw")
    s = requests.Session()
    s.headers["Authorization"] = "Bearer " + TOKEN
    api = acs.url("api")
    deadline = time.monotonic() + 20
    while len(s.get(api + "/api/devices", timeout=10).json()) < 4:
        assert time.monotonic() < deadline, "the fleet did not register through the proxy"
        time.sleep(0.1)  # polling the REST API: there is no event to wait on
    devs = {d["serial_number"]: d for d in s.get(api + "/api/devices", timeout=10).json()}
    cr = devs["SIM000003"]["connection_request_url"]
    assert cr.startswith("http://127.0.0.1:%d/client?origin=" % port)
    assert quote(sim.url() + "/cr/SIM000003", safe="") in cr
    dev = quote(devs["SIM000003"]["id"], safe="")
    t = s.post("%s/api/devices/%s/tasks?wait=20" % (api, dev), timeout=30, json={
        "type": "get_params", "parameters": {"names": ["Device.DeviceInfo.SerialNumber"]}}).json()
    assert t["status"] == "done", t
    assert t["result"]["parameters"][0]["value"] == "SIM000003"
    assert not [l for l in sim.lines if "session_failed" in l], sim.output()
