"""outpost acs with outpost cpe-sim: the two ends of the shared codec talk to
each other (Digest both ways, connection requests, tasks)."""
import time
import urllib.parse

import pytest

from conftest import run_outpost
from test_acs_session import Api, start_acs


def has_cpesim():
    return "cpe-sim" in run_outpost("--help").stdout


@pytest.mark.parametrize("version", ["1.0", "1.2"])
def test_acs_drives_cpe_sim(outpost, tmp_path, version):
    if not has_cpesim():
        pytest.skip("cpe-sim not built")
    d = start_acs(outpost, tmp_path, "--cpe-password", "pw", "--cr-username", "cr",
                  "--cr-password", "crpw", "--cr-deny", "169.254.0.0/16")  # cpe-sim on loopback
    api = Api(d)
    host, port = d.addr("listen")
    sim = outpost("cpe-sim", "--acs", f"http://{host}:{port}/", "--count", "3",
                  "--username", "cpe", "--password", "pw", "--cr-listen", "127.0.0.1:0",
                  "--cr-username", "cr", "--cr-password", "crpw", "--inform-interval", "600",
                  "--cwmp-version", version, "--reboot-time", "100ms")
    deadline = time.monotonic() + 20
    while api.get("/api/stats").json()["total_devices"] < 3 and time.monotonic() < deadline:
        time.sleep(0.1)
    devs = api.get("/api/devices").json()
    assert len(devs) == 3 and all(x["online"] and x["connection_request_url"] for x in devs)
    dev = urllib.parse.quote(devs[0]["id"], safe="")
    # Each task wakes the CPE with a Digest connection request and waits for it.
    t = api.post(f"/api/devices/{dev}/tasks?wait=20",
                 {"type": "get_params", "parameters": {"names": ["Device.DeviceInfo.SoftwareVersion"]}}).json()
    assert t["status"] == "done", t
    assert t["result"]["parameters"][0]["name"] == "Device.DeviceInfo.SoftwareVersion"
    t = api.post(f"/api/devices/{dev}/tasks?wait=20", {"type": "set_params", "parameters": {
        "values": {"Device.DeviceInfo.ProvisioningCode": "outpost"}}}).json()
    assert t["status"] == "done" and t["result"] == {"status": 0}, t
    t = api.post(f"/api/devices/{dev}/tasks?wait=20", {"type": "get_params", "parameters": {
        "names": ["Device.DeviceInfo.ProvisioningCode"]}}).json()
    assert t["result"]["parameters"][0]["value"] == "outpost"
    t = api.post(f"/api/devices/{dev}/tasks?wait=20",
                 {"type": "get_params", "parameters": {"names": ["Device.NoSuchThing."]}}).json()
    assert t["status"] == "failed" and t["fault"]["code"] == 9005, t
    t = api.post(f"/api/devices/{dev}/reboot?wait=20").json()
    assert t["status"] == "done", t
    # Back from the reboot: its Inform carries "M Reboot" with our CommandKey.
    deadline = time.monotonic() + 20
    while "M Reboot" not in api.get(f"/api/devices/{dev}").json()["last_events"]:
        assert time.monotonic() < deadline, "no Inform after the reboot"
        time.sleep(0.1)
    r = api.post(f"/api/devices/{dev}/connection-request")
    assert r.status_code == 200 and r.json()["ok"], r.text
    sim.stop()
