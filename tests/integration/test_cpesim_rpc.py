"""cpe-sim answers every ACS RPC from its data model (scripted ACS)."""
import pytest

from test_cpesim_acs import Rpc, ScriptedAcs, start_sim

S1 = "SIM000001"


@pytest.fixture
def acs():
    a = ScriptedAcs()
    yield a
    a.close()


def test_parameter_rpcs(outpost, acs):
    start_sim(outpost, acs, "--inform-interval", "1s", "--jitter", "0")
    acs.wait_inform("0 BOOTSTRAP", S1)

    r = acs.call(S1, Rpc.gpn("Device.", True), "GetParameterNamesResponse")
    names = r.names()
    assert names["Device.DeviceInfo."] is False
    assert "Device.DeviceInfo.Manufacturer" not in names
    r = acs.call(S1, Rpc.gpn("Device.NAT.", False), "GetParameterNamesResponse")
    assert r.names()["Device.NAT.PortMapping."] is True
    r = acs.call(S1, Rpc.gpn("Device.DeviceInfo.UpTime", True), "GetParameterNamesResponse")
    assert r.fault() == (9003, [])
    r = acs.call(S1, Rpc.gpn("Device.Bogus.", False), "GetParameterNamesResponse")
    assert r.fault() == (9005, [])

    r = acs.call(S1, Rpc.gpv("Device.DeviceInfo.SerialNumber", "Device.WiFi.SSID.1."),
                 "GetParameterValuesResponse")
    p = r.params()
    assert p["Device.DeviceInfo.SerialNumber"] == ("SIM000001", "xsd:string")
    assert p["Device.WiFi.SSID.1.SSID"] == ("Outpost-2G", "xsd:string")
    assert p["Device.WiFi.SSID.1.Enable"] == ("true", "xsd:boolean")
    r = acs.call(S1, Rpc.gpv("Device.Nope"), "GetParameterValuesResponse")
    assert r.fault() == (9005, [])

    good = Rpc.spv([("Device.WiFi.SSID.1.SSID", "lab", "xsd:string"),
                    ("Device.ManagementServer.PeriodicInformInterval", "2", "xsd:unsignedInt")], key="pk-1")
    assert acs.call(S1, good, "SetParameterValuesResponse").field("Status") == "0"
    bad = Rpc.spv([("Device.WiFi.SSID.1.SSID", "ignored", "xsd:string"),
                   ("Device.Nope", "1", "xsd:string"),
                   ("Device.WiFi.SSID.2.SSID", "x", "xsd:unsignedInt"),
                   ("Device.ManagementServer.PeriodicInformInterval", "0", "xsd:unsignedInt"),
                   ("Device.DeviceInfo.Manufacturer", "x", "xsd:string")])
    f = acs.call(S1, bad, "SetParameterValuesResponse").fault()
    assert f[0] == 9003
    assert dict(f[1]) == {"Device.Nope": 9005, "Device.WiFi.SSID.2.SSID": 9006,
                          "Device.ManagementServer.PeriodicInformInterval": 9007,
                          "Device.DeviceInfo.Manufacturer": 9008}
    r = acs.call(S1, Rpc.gpv("Device.WiFi.SSID.1.SSID", "Device.ManagementServer.ParameterKey"),
                 "GetParameterValuesResponse")
    assert r.params()["Device.WiFi.SSID.1.SSID"][0] == "lab"  # the faulted SPV changed nothing
    assert r.params()["Device.ManagementServer.ParameterKey"][0] == "pk-1"
    # the new PeriodicInformInterval (2 s) drives the periodic Informs
    acs.wait_inform("2 PERIODIC", S1, timeout=6)

    assert acs.call(S1, Rpc.spa("Device.WiFi.SSID.1.SSID", 2, ["Subscriber"]),
                    "SetParameterAttributesResponse").fault() is None
    attrs = acs.call(S1, Rpc.gpa("Device.WiFi.SSID.1.SSID"), "GetParameterAttributesResponse").attrs()
    assert attrs["Device.WiFi.SSID.1.SSID"] == (2, ["Subscriber"])
    r = acs.call(S1, Rpc.spa("Device.DeviceInfo.UpTime", 2), "SetParameterAttributesResponse")
    assert r.fault() == (9009, [])

    methods = acs.call(S1, Rpc.get_rpc_methods(), "GetRPCMethodsResponse")
    assert "AddObject" in [s.text for s in methods.el.iter() if s.tag.endswith("string")]


def test_objects(outpost, acs):
    start_sim(outpost, acs)
    acs.wait_inform("0 BOOTSTRAP", S1)
    r = acs.call(S1, Rpc.add("Device.NAT.PortMapping."), "AddObjectResponse")
    assert (r.field("InstanceNumber"), r.field("Status")) == ("1", "0")
    r = acs.call(S1, Rpc.add("Device.NAT.PortMapping."), "AddObjectResponse")
    assert r.field("InstanceNumber") == "2"
    assert acs.call(S1, Rpc.spv([("Device.NAT.PortMapping.2.ExternalPort", "8443", "xsd:unsignedInt")]),
                    "SetParameterValuesResponse").fault() is None
    assert acs.call(S1, Rpc.delete("Device.NAT.PortMapping.1."), "DeleteObjectResponse").field("Status") == "0"
    r = acs.call(S1, Rpc.gpv("Device.NAT."), "GetParameterValuesResponse").params()
    assert r["Device.NAT.PortMappingNumberOfEntries"][0] == "1"
    assert r["Device.NAT.PortMapping.2.ExternalPort"][0] == "8443"
    assert "Device.NAT.PortMapping.1.Enable" not in r
    assert acs.call(S1, Rpc.delete("Device.NAT.PortMapping.1."), "DeleteObjectResponse").fault() == (9005, [])
    assert acs.call(S1, Rpc.add("Device.DeviceInfo."), "AddObjectResponse").fault() == (9005, [])
    assert acs.call(S1, Rpc.add("Device.NAT.PortMapping."), "AddObjectResponse").field("InstanceNumber") == "3"


def test_reboot_factory_reset_schedule(outpost, acs):
    start_sim(outpost, acs)
    acs.wait_inform("0 BOOTSTRAP", S1)
    assert acs.call(S1, Rpc.spv([("Device.WiFi.SSID.1.SSID", "changed", "xsd:string")]),
                    "SetParameterValuesResponse").fault() is None
    acs.call(S1, Rpc.reboot("rb-7"), "RebootResponse")
    after = acs.wait_inform("M Reboot", S1)
    assert ("1 BOOT", "") in after.events() and ("M Reboot", "rb-7") in after.events()
    assert "0 BOOTSTRAP" not in after.event_codes()
    r = acs.call(S1, Rpc.gpv("Device.WiFi.SSID.1.SSID"), "GetParameterValuesResponse")
    assert r.params()["Device.WiFi.SSID.1.SSID"][0] == "changed"  # survives its reboot

    acs.call(S1, Rpc.schedule_inform(1, "later"), "ScheduleInformResponse")
    s = acs.wait_inform("3 SCHEDULED", S1)
    assert ("M ScheduleInform", "later") in s.events()
    assert acs.call(S1, Rpc.schedule_inform(0), "ScheduleInformResponse").fault() == (9003, [])

    acs.call(S1, Rpc.factory_reset(), "FactoryResetResponse")
    boot = acs.wait_inform("0 BOOTSTRAP", S1, count=2)
    assert "1 BOOT" in boot.event_codes()
    r = acs.call(S1, Rpc.gpv("Device.WiFi.SSID.1.SSID"), "GetParameterValuesResponse")
    assert r.params()["Device.WiFi.SSID.1.SSID"][0] == "Outpost-2G"


def test_value_change_notification(outpost, acs):
    start_sim(outpost, acs, "--value-change-interval", "300ms", "--seed", "7")
    acs.wait_inform("0 BOOTSTRAP", S1)
    # active notification on everything that allows it (UpTime & co. refuse, and are skipped)
    assert acs.call(S1, Rpc.spa("Device.", 2), "SetParameterAttributesResponse").fault() is None
    vc = acs.wait_inform("4 VALUE CHANGE", S1)
    changed = [n for n in vc.params() if n.endswith(("Channel", "Active"))]
    assert changed, vc.params()


def test_tr098_model(outpost, acs):
    start_sim(outpost, acs, "--model", "tr098", "--cwmp-version", "1.2")
    inf = acs.wait_inform("0 BOOTSTRAP", S1)
    assert inf.ns == "urn:dslforum-org:cwmp-1-2"
    p = inf.params()
    assert p["InternetGatewayDevice.DeviceSummary"][0].startswith("InternetGatewayDevice:1.4")
    assert "InternetGatewayDevice.WANDevice.1.WANConnectionDevice.1.WANIPConnection.1.ExternalIPAddress" in p
    r = acs.call(S1, Rpc.add("InternetGatewayDevice.WANDevice.1.WANConnectionDevice.1.WANIPConnection.1.PortMapping."),
                 "AddObjectResponse")
    assert r.field("InstanceNumber") == "1"


@pytest.mark.parametrize("model,obj", [("tr181", "Device.IP.Diagnostics.IPPing."),
                                       ("tr098", "InternetGatewayDevice.IPPingDiagnostics.")])
def test_ping_diagnostics(outpost, acs, model, obj):
    start_sim(outpost, acs, "--model", model)
    acs.wait_inform("0 BOOTSTRAP", S1)
    assert acs.call(S1, Rpc.spv([(obj + "Host", "192.0.2.1", "xsd:string"),
                                 (obj + "NumberOfRepetitions", "4", "xsd:unsignedInt"),
                                 (obj + "DiagnosticsState", "Requested", "xsd:string")]),
                    "SetParameterValuesResponse").fault() is None
    acs.wait_inform("8 DIAGNOSTICS COMPLETE", S1)
    p = acs.call(S1, Rpc.gpv(obj), "GetParameterValuesResponse").params()
    assert p[obj + "DiagnosticsState"][0] == "Complete"
    assert p[obj + "SuccessCount"][0] == "4" and p[obj + "FailureCount"][0] == "0"
