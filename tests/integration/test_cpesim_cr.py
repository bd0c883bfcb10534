"""Connection requests: one listener, per-CPE URL and Digest credentials."""
import requests
from requests.auth import HTTPBasicAuth, HTTPDigestAuth

from test_cpesim_acs import Rpc, ScriptedAcs, start_sim


def test_connection_request_starts_a_session(outpost):
    acs = ScriptedAcs()
    try:
        sim = start_sim(outpost, acs, "--count", "3", "--inform-interval", "1h")
        for s in ("SIM000001", "SIM000002", "SIM000003"):
            acs.wait_inform("0 BOOTSTRAP", s)
        url = acs.cr_urls["SIM000002"]
        assert url == "%s/cr/SIM000002" % sim.url()
        assert requests.get(url, timeout=5).status_code == 401
        assert requests.get(url, auth=HTTPDigestAuth("SIM000002", "wrong"), timeout=5).status_code == 401
        assert requests.get(url, auth=HTTPBasicAuth("SIM000002", "cpesim"), timeout=5).status_code == 401
        assert requests.get(url, auth=HTTPDigestAuth("SIM000001", "cpesim"), timeout=5).status_code == 401
        assert requests.get(sim.url() + "/cr/SIM000099", timeout=5).status_code == 404
        assert requests.get(sim.url() + "/cr/NOPE", timeout=5).status_code == 404
        assert acs.informs_with("6 CONNECTION REQUEST") == []
        r = requests.get(url, auth=HTTPDigestAuth("SIM000002", "cpesim"), timeout=5)
        assert r.status_code == 200
        inf = acs.wait_inform("6 CONNECTION REQUEST", "SIM000002", timeout=1.5)
        assert inf.event_codes() == ["6 CONNECTION REQUEST"]
        assert acs.informs_with("6 CONNECTION REQUEST", "SIM000001") == []
        sim.wait_for(r"connection_request_refused cpe=SIM000002")
    finally:
        acs.close()


def test_credentials_follow_the_data_model(outpost):
    acs = ScriptedAcs()
    try:
        start_sim(outpost, acs, "--cr-username", "cr-{serial}", "--cr-password", "first")
        acs.wait_inform("0 BOOTSTRAP", "SIM000001")
        assert acs.connection_request("SIM000001", user="cr-SIM000001", password="first", wait=True) == 200
        acs.wait_inform("6 CONNECTION REQUEST", "SIM000001")
        acs.rpc("SIM000001", Rpc.spv([("Device.ManagementServer.ConnectionRequestPassword", "second",
                                       "xsd:string")]))
        # the queued RPC is delivered through a connection request with the old password
        acs.in_session["SIM000001"] = False
        assert acs.connection_request("SIM000001", user="cr-SIM000001", password="first", wait=True) == 200
        acs.wait_msg("SetParameterValuesResponse", "SIM000001")
        acs.wait(lambda: not acs.in_session.get("SIM000001"), what="session end")
        assert acs.connection_request("SIM000001", user="cr-SIM000001", password="first", wait=True) == 401
        assert acs.connection_request("SIM000001", user="cr-SIM000001", password="second", wait=True) == 200
    finally:
        acs.close()


def test_rebooting_cpe_refuses_connection_requests(outpost):
    acs = ScriptedAcs()
    try:
        sim = start_sim(outpost, acs, "--reboot-time", "3s")  # later flags win
        acs.wait_inform("0 BOOTSTRAP", "SIM000001")
        acs.call("SIM000001", Rpc.reboot("r"), "RebootResponse")
        sim.wait_for(r"reboot cpe=SIM000001 ms=3000")  # the session is over, the CPE is down
        woken = len(acs.informs_with("6 CONNECTION REQUEST"))  # the Reboot itself may have come so
        # offline until the reboot is over: 503, and the request is not kept for later
        assert acs.connection_request("SIM000001", wait=True) == 503
        boot = acs.wait_inform("M Reboot", "SIM000001", timeout=10)
        assert "6 CONNECTION REQUEST" not in boot.event_codes()
        assert len(acs.informs_with("6 CONNECTION REQUEST")) == woken
        acs.wait(lambda: not acs.in_session.get("SIM000001"), what="session end")
        assert acs.connection_request("SIM000001", wait=True) == 200
        assert "1 BOOT" not in acs.wait_inform("6 CONNECTION REQUEST", "SIM000001").event_codes()
    finally:
        acs.close()
