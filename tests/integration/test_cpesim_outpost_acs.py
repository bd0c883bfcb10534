"""cpe-sim against `outpost acs`: Digest both ways, tasks end to end, connection requests."""
from urllib.parse import quote

import pytest

from acs_api import AcsApi
from test_cpesim_transfer import FIRMWARE, FileServer

pytestmark = pytest.mark.acs  # every test here starts an outpost acs (conftest.py)

TOKEN = "cpesim-test-token"
# The ACS escapes the '-' of "OP-1000" in the device id; the id goes into URLs escaped once more.
DEV1 = quote("ACDE48-OP%2D1000-SIM000001", safe="")


class Api(AcsApi):
    UNTIL_TIMEOUT = 15

    def __init__(self, d):
        super().__init__(d, TOKEN)

    def task(self, dev, typ, params=None, wait=15):
        body = {"type": typ} if params is None else {"type": typ, "parameters": params}
        return self.post_task(dev, body, wait)


@pytest.fixture
def system(outpost, tmp_path):
    acs = outpost("acs", "--cwmp-listen", "127.0.0.1:0", "--api-listen", "127.0.0.1:0",
                  "--data-dir", str(tmp_path / "acs"), "--api-token", TOKEN,
                  "--cpe-auth", "digest", "--cpe-username", "cpe", "--cpe-password", "cpe-pw",
                  "--cr-username", "cr", "--cr-password", "cr-pw",
                  "--cr-deny", "169.254.0.0/16")  # cpe-sim's connection requests are on loopback
    host, port = acs.addr("listen")
    sim = outpost("cpe-sim", "--acs", "http://%s:%d/" % (host, port), "--count", "3",
                  "--cr-listen", "127.0.0.1:0", "--stats-interval", "0", "--reboot-time", "200ms",
                  "--username", "cpe", "--password", "cpe-pw", "--cr-username", "cr", "--cr-password", "cr-pw")
    api = Api(acs)
    api.until("/api/devices", lambda v: len(v) == 3)
    return acs, sim, api


def test_tasks_end_to_end(system):
    acs, sim, api = system
    dev = api.get("/api/devices/" + DEV1)
    assert dev["serial_number"] == "SIM000001" and dev["manufacturer"] == "Outpost"
    assert dev["connection_request_url"].endswith("/cr/SIM000001")

    t = api.task(DEV1, "get_params", {"names": ["Device.DeviceInfo.SerialNumber", "Device.WiFi.SSID.1."]})
    assert t["status"] == "done", t
    vals = {p["name"]: p["value"] for p in t["result"]["parameters"]}
    assert vals["Device.DeviceInfo.SerialNumber"] == "SIM000001"
    assert vals["Device.WiFi.SSID.1.SSID"] == "Outpost-2G"

    t = api.task(DEV1, "set_params", {"values": {"Device.WiFi.SSID.1.SSID": "from-acs"}})
    assert t["status"] == "done", t
    t = api.task(DEV1, "set_params", {"values": {"Device.DeviceInfo.Manufacturer": "x"}})
    assert t["status"] == "failed"
    assert t["fault"]["code"] == 9003
    assert t["result"]["set_parameter_values_faults"][0]["code"] == 9008

    t = api.task(DEV1, "get_names", {"path": "Device.NAT.", "next_level": True})
    assert {"name": "Device.NAT.PortMapping.", "writable": True} in t["result"]["parameters"]
    t = api.task(DEV1, "add_object", {"object": "Device.NAT.PortMapping."})
    assert t["result"] == {"instance_number": 1, "status": 0}
    # the new instance read, so stored; the instance deleted, its rows go (and only its)
    t = api.task(DEV1, "get_params", {"names": ["Device.NAT.PortMapping.1."]})
    assert t["status"] == "done", t
    stored = lambda prefix: api.get("/api/devices/%s/parameters?prefix=%s" % (DEV1, prefix))  # noqa: E731
    assert len(stored("Device.NAT.PortMapping.1.")) > 3
    kept = len(stored("Device.WiFi."))
    t = api.task(DEV1, "delete_object", {"object": "Device.NAT.PortMapping.1."})
    assert t["status"] == "done"
    assert stored("Device.NAT.PortMapping.1.") == []
    assert len(stored("Device.WiFi.")) == kept > 0
    t = api.task(DEV1, "set_attributes", {"attributes": [{"name": "Device.WiFi.SSID.1.SSID", "notification": 2}]})
    assert t["status"] == "done", t
    t = api.task(DEV1, "get_attributes", {"names": ["Device.WiFi.SSID.1.SSID"]})
    assert t["result"]["attributes"][0]["notification"] == 2

    t = api.task(DEV1, "reboot")
    assert t["status"] == "done"
    sim.wait_for(r"reboot cpe=SIM000001")
    t = api.task(DEV1, "get_params", {"names": ["Device.WiFi.SSID.1.SSID"]})
    assert t["result"]["parameters"][0]["value"] == "from-acs"  # survived the reboot
    assert not [l for l in sim.lines if "session_failed" in l], sim.output()


def test_download_through_the_acs(system, outpost):
    acs, sim, api = system
    files = FileServer()
    try:
        t = api.task(DEV1, "download", {"url": files.url + "/fw.bin", "file_size": len(FIRMWARE),
                                        "file_type": "1 Firmware Upgrade Image"}, wait=20)
        assert t["status"] == "done", t
        sim.wait_for(r"download_done cpe=SIM000001 .* fault=0")
    finally:
        files.close()


def test_slow_cpes_complete_their_sessions(outpost, tmp_path):
    """--slow-ms 300, a bare number, is 300 ms as the option's name says (it was read as
    300 s: the CPE sat on its connection until the ACS gave up on it, why=closed). Every
    request of a session waits, the sessions take seconds, and every one completes."""
    slow_ms = 300
    acs = outpost("acs", "--cwmp-listen", "127.0.0.1:0", "--api-listen", "127.0.0.1:0",
                  "--data-dir", str(tmp_path / "acs"), "--api-token", TOKEN,
                  "--cpe-auth", "digest", "--cpe-username", "cpe", "--cpe-password", "cpe-pw",
                  "--cr-username", "cr", "--cr-password", "cr-pw", "--cr-deny", "169.254.0.0/16")
    host, port = acs.addr("listen")
    sim = outpost("cpe-sim", "--acs", "http://%s:%d/" % (host, port), "--count", "3",
                  "--cr-listen", "127.0.0.1:0", "--stats-interval", "0", "--slow-ms", str(slow_ms),
                  "--get-rpc-methods", "--username", "cpe", "--password", "cpe-pw",
                  "--cr-username", "cr", "--cr-password", "cr-pw")
    api = Api(acs)
    api.until("/api/devices", lambda v: len(v) == 3)
    api.until("/api/stats", lambda v: v["live_sessions"] == 0 and v["pending_tasks"] == 0)
    # a connection request: one more session, each of its requests delayed too
    t = api.task(DEV1, "get_params", {"names": ["Device.DeviceInfo.SerialNumber"]}, wait=20)
    assert t["status"] == "done", t
    api.until("/api/stats", lambda v: v["live_sessions"] == 0 and v["sent_tasks"] == 0)
    sim.stop()
    summary = sim.wait_for(r"summary cpesim=\"([^\"]*)\"").group(1)
    counters = dict(kv.split("=", 1) for kv in summary.split())
    assert int(counters["completed"]) >= 4 and int(counters["failed"]) == 0, sim.output()
    assert int(counters["cr"]) >= 1, summary
    assert not [l for l in sim.lines if "session_failed" in l], sim.output()
    # a session is at least an Inform, an empty POST and two answers, each after the delay
    assert float(counters["p50_ms"]) >= 4 * slow_ms, summary
