"""--model-file: a real device's dump, with each simulated copy its own identity."""
from test_cpesim_acs import Rpc, ScriptedAcs, start_sim


def test_real_device_dump(outpost, shared_dir):
    dump = shared_dir / "cwmp" / "devices" / "device-eg8145v5-no-voip.csv"
    acs = ScriptedAcs()
    try:
        sim = start_sim(outpost, acs, "--model-file", str(dump), "--count", "2", "--serial-prefix", "HWTC")
        assert sim.fields["root"] == "InternetGatewayDevice."
        a = acs.wait_inform("0 BOOTSTRAP", "HWTC000001")
        b = acs.wait_inform("0 BOOTSTRAP", "HWTC000002")
        assert (a.field("OUI"), a.field("ProductClass")) == ("00259E", "EG8145V5")
        assert a.field("Manufacturer").startswith("Huawei")
        pa, pb = a.params(), b.params()
        crurl = [n for n in pa if n.endswith("ConnectionRequestURL")][0]
        assert pa[crurl][0].endswith("/cr/HWTC000001") and pb[crurl][0].endswith("/cr/HWTC000002")
        r = acs.call("HWTC000001", Rpc.gpv("InternetGatewayDevice.DeviceInfo."), "GetParameterValuesResponse")
        p = r.params()
        assert p["InternetGatewayDevice.DeviceInfo.SerialNumber"][0] == "HWTC000001"
        assert p["InternetGatewayDevice.DeviceInfo.ModelName"][0]
        names = acs.call("HWTC000001", Rpc.gpn("InternetGatewayDevice.", True),
                         "GetParameterNamesResponse").names()
        assert "InternetGatewayDevice.LANDevice." in names
    finally:
        acs.close()
