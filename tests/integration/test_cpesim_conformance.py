"""Every envelope cpe-sim sends validates against the BBF CWMP schemas."""
import subprocess

import pytest

from test_cpesim_acs import Rpc, ScriptedAcs, start_sim
from test_cpesim_transfer import FileServer

S1 = "SIM000001"


@pytest.mark.parametrize("version", ["1.0", "1.1", "1.2"])
def test_every_envelope_validates(outpost, shared_dir, tmp_path, version):
    acs, files = ScriptedAcs(), FileServer()
    try:
        start_sim(outpost, acs, "--cwmp-version", version, "--get-rpc-methods", "--fault-rate", "0",
                  "--inform-interval", "2s", "--value-change-interval", "200ms", "--seed", "5")
        acs.wait_inform("0 BOOTSTRAP", S1)
        acs.wait_msg("GetRPCMethods", S1)
        calls = [
            (Rpc.get_rpc_methods(), "GetRPCMethodsResponse"),
            (Rpc.gpn("Device.WiFi.", False), "GetParameterNamesResponse"),
            (Rpc.gpn("Device.", True), "GetParameterNamesResponse"),
            (Rpc.gpv("Device."), "GetParameterValuesResponse"),
            (Rpc.gpv("Device.Nope"), "GetParameterValuesResponse"),
            (Rpc.spv([("Device.WiFi.SSID.1.SSID", "a&b<c>", "xsd:string")]), "SetParameterValuesResponse"),
            (Rpc.spv([("Device.DeviceInfo.UpTime", "1", "xsd:unsignedInt"), ("Device.X", "1", "xsd:string")]),
             "SetParameterValuesResponse"),
            (Rpc.gpa("Device.WiFi.SSID.1."), "GetParameterAttributesResponse"),
            (Rpc.spa("Device.WiFi.SSID.1.SSID", 1, ["Subscriber"]), "SetParameterAttributesResponse"),
            (Rpc.add("Device.NAT.PortMapping."), "AddObjectResponse"),
            (Rpc.delete("Device.NAT.PortMapping.1."), "DeleteObjectResponse"),
            (Rpc.schedule_inform(1), "ScheduleInformResponse"),
            (Rpc.download(files.url + "/fw.bin", key="c"), "DownloadResponse"),
        ]
        for body, response in calls:
            acs.call(S1, body, response)
        acs.wait_msg("TransferComplete", S1)
        acs.call(S1, Rpc.upload(files.url + "/u", key="u"), "UploadResponse")
        acs.wait_msg("TransferComplete", S1, count=2)
        acs.call(S1, Rpc.download(files.url + "/missing.bin", key="f", ftype="2 Web Content"), "DownloadResponse")
        tc = acs.wait_msg("TransferComplete", S1, count=3)
        # 9016 (file not found) is a 1.1 code: the 1.0 schema only has 9010 (download failure)
        assert tc.field("FaultCode") == ("9010" if version == "1.0" else "9016")
        assert "404" in tc.field("FaultString")
        acs.call(S1, Rpc.spa("Device.WiFi.Radio.1.Channel", 2), "SetParameterAttributesResponse")
        acs.wait_inform("4 VALUE CHANGE", S1)
        acs.call(S1, Rpc.spv([("Device.IP.Diagnostics.IPPing.Host", "192.0.2.1", "xsd:string"),
                              ("Device.IP.Diagnostics.IPPing.DiagnosticsState", "Requested", "xsd:string")]),
                 "SetParameterValuesResponse")
        acs.wait_inform("8 DIAGNOSTICS COMPLETE", S1)
        acs.wait_inform("3 SCHEDULED", S1)
        acs.call(S1, Rpc.reboot(), "RebootResponse")
        acs.wait_inform("M Reboot", S1)
        acs.call(S1, Rpc.factory_reset(), "FactoryResetResponse")
        acs.wait_inform("0 BOOTSTRAP", S1, count=2)
        names = {m.name for m in acs.messages}
        assert names >= {"Inform", "GetRPCMethods", "TransferComplete", "Fault", "GetParameterNamesResponse",
                         "GetParameterValuesResponse", "SetParameterValuesResponse", "AddObjectResponse",
                         "DeleteObjectResponse", "GetParameterAttributesResponse", "RebootResponse",
                         "FactoryResetResponse", "DownloadResponse", "UploadResponse", "ScheduleInformResponse",
                         "GetRPCMethodsResponse", "SetParameterAttributesResponse"}
        acs.wait_inform("2 PERIODIC", S1)
        events = {c for m in acs.by("Inform") for c in m.event_codes()}
        assert events >= {"0 BOOTSTRAP", "1 BOOT", "2 PERIODIC", "3 SCHEDULED", "4 VALUE CHANGE",
                          "6 CONNECTION REQUEST", "7 TRANSFER COMPLETE", "8 DIAGNOSTICS COMPLETE", "M Reboot", "M Download", "M Upload", "M ScheduleInform"}
        files_out = []
        for i, raw in enumerate(acs.raw):
            p = tmp_path / ("env%03d.xml" % i)
            p.write_bytes(raw)
            files_out.append(str(p))
        r = subprocess.run([str(shared_dir / "cwmp" / "validate-soap")] + files_out, capture_output=True,
                           text=True, timeout=120)
        assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-4000:]
    finally:
        acs.close()
        files.close()
