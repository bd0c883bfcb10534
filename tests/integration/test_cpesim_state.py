"""--state-dir: a CPE keeps its parameters and its bootstrap across runs."""
from test_cpesim_acs import Rpc, ScriptedAcs, start_sim

S1 = "SIM000001"


def test_state_survives_a_restart(outpost, tmp_path):
    state = str(tmp_path / "state")
    acs = ScriptedAcs()
    try:
        sim = start_sim(outpost, acs, "--count", "2", "--state-dir", state)
        acs.wait_inform("0 BOOTSTRAP", S1)
        acs.wait_inform("0 BOOTSTRAP", "SIM000002")
        acs.call(S1, Rpc.spv([("Device.WiFi.SSID.1.SSID", "persisted", "xsd:string")], key="k9"),
                 "SetParameterValuesResponse")
        r = acs.call(S1, Rpc.add("Device.NAT.PortMapping."), "AddObjectResponse")
        assert r.field("InstanceNumber") == "1"
        acs.wait(lambda: not acs.in_session.get(S1), what="session end")
        sim.stop()

        sim = start_sim(outpost, acs, "--count", "2", "--state-dir", state)
        again = acs.wait_inform("1 BOOT", S1, count=2)
        assert "0 BOOTSTRAP" not in again.event_codes()
        assert again.params()["Device.ManagementServer.ParameterKey"][0] == "add"
        p = acs.call(S1, Rpc.gpv("Device.WiFi.SSID.1.SSID", "Device.NAT.PortMappingNumberOfEntries"),
                     "GetParameterValuesResponse").params()
        assert p["Device.WiFi.SSID.1.SSID"][0] == "persisted"
        assert p["Device.NAT.PortMappingNumberOfEntries"][0] == "1"
        assert acs.call(S1, Rpc.add("Device.NAT.PortMapping."), "AddObjectResponse").field("InstanceNumber") == "2"
        sim.wait_for(r"state_loaded .* cpes=2")
    finally:
        acs.close()


def test_damaged_or_foreign_state(outpost, tmp_path):
    import os
    state = tmp_path / "state"
    acs = ScriptedAcs()
    try:
        sim = start_sim(outpost, acs, "--state-dir", str(state))
        acs.wait_inform("0 BOOTSTRAP", S1)
        acs.call(S1, Rpc.spv([("Device.WiFi.SSID.1.SSID", "kept", "xsd:string")]), "SetParameterValuesResponse")
        acs.wait(lambda: not acs.in_session.get(S1), what="session end")
        sim.stop()
        path = state / "cpesim.state"
        with open(path, "ab") as f:  # damage: an unknown CPE, junk, a record cut short
            f.write(b"C SIM999999 1\nv Device.WiFi.SSID.2.SSID x\n\x00\xff junk\nC SIM000001 1\nv Device.Nope\nT x\n")
            f.write(b"v Device.WiFi.SSID.1.SSID " + b"A" * 300000 + b"\n")  # over the record cap: skipped
        assert os.path.getsize(path) > 0

        sim = start_sim(outpost, acs, "--state-dir", str(state))
        sim.wait_for(r"state_loaded .* skipped_lines=[1-9]")
        again = acs.wait_inform("1 BOOT", S1, count=2)
        assert "0 BOOTSTRAP" not in again.event_codes()
        r = acs.call(S1, Rpc.gpv("Device.WiFi.SSID.1.SSID"), "GetParameterValuesResponse")
        assert r.params()["Device.WiFi.SSID.1.SSID"][0] == "kept"
        sim.stop()

        # another fleet (serial prefix) must not inherit it
        sim = start_sim(outpost, acs, "--state-dir", str(state), "--serial-prefix", "OTHER")
        sim.wait_for(r"state_ignored .*written for another model or serial prefix")
        acs.wait_inform("0 BOOTSTRAP", "OTHER000001")
    finally:
        acs.close()
