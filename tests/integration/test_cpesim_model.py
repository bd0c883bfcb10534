"""--model-file: a real device's dump, with each simulated copy its own identity;
the built-in models: names, types and writability as the Broadband Forum defines them."""
import re

import pytest

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


# ---- the built-in models against the Broadband Forum's own definitions ------------

BBF_TYPES = {"string", "unsignedInt", "int", "unsignedLong", "long", "boolean", "dateTime", "base64", "hexBinary"}


def bbf_model(path):
    """{'Device.WiFi.SSID.{i}.SSID': (xsd type, writable)}, {object: writable} of a BBF full XML."""
    import xml.etree.ElementTree as ET

    def local(tag):
        return tag.rsplit("}", 1)[-1]
    root = ET.parse(str(path)).getroot()
    dts = {}
    for dt in root:
        if local(dt.tag) == "dataType":
            inner = [local(c.tag) for c in dt if local(c.tag) in BBF_TYPES]
            dts[dt.get("name")] = dt.get("base") or (None, inner[0] if inner else None)

    def resolve(name):
        for _ in range(16):
            d = dts.get(name)
            if not isinstance(d, str):
                return d[1] if d else None
            name = d
        return None
    params, objects = {}, {}
    model = next(m for m in root if local(m.tag) == "model")
    for o in model:
        if local(o.tag) != "object":
            continue
        objects[o.get("name")] = o.get("access") != "readOnly"
        for p in o:
            if local(p.tag) != "parameter":
                continue
            t = None
            for syn in (c for c in p if local(c.tag) == "syntax"):
                kids = {local(c.tag): c for c in syn}
                if "list" in kids:
                    t = "string"  # CWMP carries every list as a comma-separated string
                for k, c in kids.items():
                    if t is None and k in BBF_TYPES:
                        t = k
                    elif t is None and k == "dataType":
                        t = resolve(c.get("ref"))
            params[o.get("name") + p.get("name")] = ("xsd:" + (t or "?"), p.get("access") != "readOnly")
    return params, objects


@pytest.mark.parametrize("model,root,xml", [
    ("tr181", "Device.", "tr-181-2-17-0-cwmp-full.xml"),
    ("tr098", "InternetGatewayDevice.", "tr-098-1-8-0-full.xml")])
def test_builtin_model_matches_the_standard(outpost, shared_dir, model, root, xml):
    std_params, std_objects = bbf_model(shared_dir / "cwmp" / "datamodels" / xml)
    acs = ScriptedAcs()
    try:
        start_sim(outpost, acs, "--model", model)
        acs.wait_inform("0 BOOTSTRAP", "SIM000001")
        names = acs.call("SIM000001", Rpc.gpn(root, False), "GetParameterNamesResponse").names()
        values = acs.call("SIM000001", Rpc.gpv(root), "GetParameterValuesResponse").params()
    finally:
        acs.close()
    assert len(values) >= 300  # a realistic gateway: a few hundred parameters
    wrong = []
    for name, writable in sorted(names.items()):
        generic = re.sub(r"\.\d+(?=\.)", ".{i}", name)
        if name == root or ".X_" in name:
            continue  # vendor extensions are ours to define
        if name.endswith("."):
            std = std_objects.get(generic, std_objects.get(generic + "{i}."))
            if std is None:
                wrong.append("%s: no such object" % name)
            # a table we let the ACS add to must be one the standard lets it add to; the
            # gateway's built-in instances (radios, SSIDs, interfaces) may refuse DeleteObject
            elif writable and not std:
                wrong.append("%s: writable, the standard says read-only" % name)
            continue
        if generic not in std_params:
            wrong.append("%s: no such parameter" % name)
            continue
        std_type, std_writable = std_params[generic]
        # base64: the XML Schema name (xsd:base64Binary); "xsd:base64" is no XML Schema type
        got = "xsd:base64" if values[name][1] == "xsd:base64Binary" else values[name][1]
        if got != std_type:
            wrong.append("%s: %s, the standard says %s" % (name, values[name][1], std_type))
        if writable != std_writable:
            wrong.append("%s: writable=%s, the standard says %s" % (name, writable, std_writable))
    assert not wrong, "\n".join(wrong)
