"""Provisioning in the CWMP session: outpost cpe-sim (TR-181 and TR-098)
against outpost acs, with presets, Lua provisions, virtual parameters and
ext() calls configured through the REST API (and a config file's presets).

* the AutoSSID preset of docs/provisioning.md runs on 0 BOOTSTRAP, once, and
  not again on 1 BOOT; the CPE holds the values, the preset record says done;
* a Lua provision that reads a value and sets another from it converges in
  one session;
* instance declarations add and delete objects to reach a count;
* a virtual parameter is read and written on both models (preset, task);
* a runaway script and a memory hog end as faults on their device while
  other CPEs' sessions keep their latency (each holds the event loop once,
  then runs on the thread pool);
* presets and records survive a restart; a faulting preset is retried with
  backoff, then stays faulted until cleared through the API;
* ext() runs an operator-configured command.
"""
import json
import os
import stat
import threading
import time
import urllib.parse

import pytest
import requests

import prom
from conftest import ROOT, free_port, run_outpost

TOKEN = "prov-token"

MODELS = {
    "tr181": {"root": "Device.", "ssid": "Device.WiFi.SSID.1.SSID",
              "interval": "Device.ManagementServer.PeriodicInformInterval",
              "ptable": "Device.NAT.PortMapping.",
              "psk": "Device.WiFi.AccessPoint.1.Security.KeyPassphrase"},
    "tr098": {"root": "InternetGatewayDevice.",
              "ssid": "InternetGatewayDevice.LANDevice.1.WLANConfiguration.1.SSID",
              "interval": "InternetGatewayDevice.ManagementServer.PeriodicInformInterval",
              "ptable": "InternetGatewayDevice.WANDevice.1.WANConnectionDevice.1.WANIPConnection.1.PortMapping.",
              "psk": "InternetGatewayDevice.LANDevice.1.WLANConfiguration.1.PreSharedKey.1.KeyPassphrase"},
}


def dev_id(serial):
    # "OP-1000" is escaped in the id ('-' -> %2D), and the id once more in URLs
    return urllib.parse.quote(f"ACDE48-OP%2D1000-{serial}", safe="")


class Api:
    def __init__(self, d):
        self.base = d.url("api")
        self.s = requests.Session()
        self.s.headers["Authorization"] = "Bearer " + TOKEN

    def get(self, path, **kw):
        r = self.s.get(self.base + path, timeout=30, **kw)
        assert r.status_code == 200, r.text
        return r.json()

    def put(self, path, body=None, data=None, status=(200, 201)):
        r = self.s.put(self.base + path, json=body, data=data, timeout=30)
        assert r.status_code in status, r.text
        return r.json() if r.content else None

    def delete(self, path, status=(200, 204)):
        r = self.s.delete(self.base + path, timeout=30)
        assert r.status_code in status, r.text
        return r.json() if r.content else None

    def preset(self, name, body):
        return self.put("/api/presets/" + name, body)

    def provision(self, name, src):
        return self.put("/api/provisions/" + name, data=src.encode())

    def vp(self, name, src):
        return self.put("/api/virtual-parameters/" + name, data=src.encode())

    def task(self, serial, typ, params=None, wait=30):
        body = {"type": typ} if params is None else {"type": typ, "parameters": params}
        r = self.s.post(f"{self.base}/api/devices/{dev_id(serial)}/tasks?wait={wait}", json=body,
                        timeout=wait + 30)
        assert r.status_code == 201, r.text
        return r.json()

    def values(self, serial, names):
        t = self.task(serial, "get_params", {"names": names})
        assert t["status"] == "done", t
        return {p["name"]: p["value"] for p in t["result"]["parameters"]}

    def params(self, serial, prefix):
        return {p["name"]: p for p in self.get(f"/api/devices/{dev_id(serial)}/parameters",
                                               params={"prefix": prefix})}

    def records(self, serial):
        return {r["preset"]: r for r in self.get(f"/api/devices/{dev_id(serial)}/presets")}

    def until(self, fn, timeout=30, what=""):
        deadline = time.monotonic() + timeout
        while True:
            v = fn()
            if v:
                return v
            assert time.monotonic() < deadline, f"timed out waiting for {what}"
            time.sleep(0.1)  # polling the REST API: there is no event to wait on

    def record(self, serial, preset, pred=lambda r: True, timeout=30):
        def look():
            r = self.s.get(f"{self.base}/api/devices/{dev_id(serial)}/presets", timeout=30)
            if r.status_code == 404:  # the device's first Inform is not stored yet
                return None
            assert r.status_code == 200, r.text
            rec = {x["preset"]: x for x in r.json()}.get(preset)
            return rec if rec and pred(rec) else None
        return self.until(look, timeout, f"record {preset} of {serial}")


def start_acs(outpost, tmp_path, *extra, data="acs", port=0):
    return outpost("acs", "--cwmp-listen", f"127.0.0.1:{port}", "--api-listen", "127.0.0.1:0",
                   "--data-dir", str(tmp_path / data), "--api-token", TOKEN, "--cpe-auth", "none",
                   "--cr-deny", "169.254.0.0/16", "--cr-username", "cr", "--cr-password", "crpw", *extra)


def start_sim(outpost, acs, model, *extra, count=1, prefix="SIM"):
    host, port = acs.addr("listen")
    return outpost("cpe-sim", "--acs", f"http://{host}:{port}/", "--count", str(count),
                   "--model", model, "--serial-prefix", prefix, "--cr-listen", "127.0.0.1:0",
                   "--stats-interval", "0", "--reboot-time", "100ms", "--inform-interval", "600",
                   "--cr-username", "cr", "--cr-password", "crpw", *extra)


def serial(prefix, i=1):
    return f"{prefix}{i:06d}"


# ---- the AutoSSID preset: on 0 BOOTSTRAP only, once ---------------------------------------------

def auto_ssid(m):
    """The preset of docs/provisioning.md, "AutoSSID on bootstrap", verbatim
    (its TR-181 paths swapped for the model's)."""
    doc = (ROOT / "docs" / "provisioning.md").read_text()
    block = doc[doc.index("### AutoSSID on bootstrap"):]
    block = block[block.index("```json\n") + 8:]
    body = json.loads(block[:block.index("```")])
    assert body == {"events": ["0 BOOTSTRAP"], "provisions": [
        {"type": "set", "path": MODELS["tr181"]["interval"], "value": 300},
        {"type": "set", "path": MODELS["tr181"]["ssid"], "value": "AutoSSID_{serial_number}"}]}
    body["provisions"][0]["path"] = m["interval"]
    body["provisions"][1]["path"] = m["ssid"]
    return body


@pytest.mark.parametrize("model", ["tr181", "tr098"])
def test_auto_ssid_once_on_bootstrap(outpost, tmp_path, model):
    m = MODELS[model]
    acs = start_acs(outpost, tmp_path)
    api = Api(acs)
    api.preset("AutoSSID", auto_ssid(m))
    state = tmp_path / "sim-state"
    sim = start_sim(outpost, acs, model, "--state-dir", str(state))
    sn = serial("SIM")
    rec = api.record(sn, "AutoSSID", lambda r: r["status"] == "done")
    assert rec["fault"] is None and rec["tries"] == 0
    # the CPE holds them (read back from cpe-sim's data model)
    vals = api.values(sn, [m["ssid"], m["interval"]])
    assert vals == {m["ssid"]: f"AutoSSID_{sn}", m["interval"]: "300"}
    # and the ACS stored what it set, like a task's results
    stored = api.params(sn, m["root"])
    assert stored[m["ssid"]]["value"] == f"AutoSSID_{sn}"
    first_run = rec["last_run"]
    # an operator changes the SSID; a reboot (1 BOOT) must not apply the preset again
    t = api.task(sn, "set_params", {"values": {m["ssid"]: "operator"}})
    assert t["status"] == "done", t
    sim.stop()
    sim = start_sim(outpost, acs, model, "--state-dir", str(state))
    api.until(lambda: "1 BOOT" in api.get(f"/api/devices/{dev_id(sn)}")["last_events"], 20, "1 BOOT")
    assert api.values(sn, [m["ssid"]])[m["ssid"]] == "operator"
    rec = api.records(sn)["AutoSSID"]
    assert rec["status"] == "done" and rec["last_run"] == first_run
    assert not [ln for ln in acs.lines if "prov_preset_fault" in ln], acs.output()


def device_lines(acs, sn, *marks):
    """The ACS's log lines about a device that carry one of the marks."""
    return [ln for ln in acs.lines if f"device=ACDE48-OP%2D1000-{sn}" in ln and any(k in ln for k in marks)]


# ---- a Lua provision that needs a read first, in one session --------------------------------------

READ_THEN_SET = """
local root = args[1]
local model = declare(root .. "DeviceInfo.ModelName", {value = 1})
declare(root .. "DeviceInfo.ProvisioningCode", nil, {value = "net-" .. model.value[1]})
log("model", model.value[1])
"""


@pytest.mark.parametrize("model", ["tr181", "tr098"])
def test_read_then_set_in_one_session(outpost, tmp_path, model):
    m = MODELS[model]
    # no rediscovery: what the provision needs, it reads itself
    acs = start_acs(outpost, tmp_path, "--rediscover=false")
    api = Api(acs)
    api.provision("code-from-model", READ_THEN_SET)
    api.preset("code", {"events": ["0 BOOTSTRAP"],
                        "provisions": [{"type": "script", "name": "code-from-model", "args": [m["root"]]}]})
    start_sim(outpost, acs, model)
    sn = serial("SIM")
    rec = api.record(sn, "code", lambda r: r["status"] == "done")
    # one session: one Inform, then the read and the write
    lines = device_lines(acs, sn, "cwmp_inform", "by=provisioning", "prov_preset_done")
    kinds = [("inform" if "cwmp_inform" in ln else "GPV" if "GetParameterValues" in ln
              else "SPV" if "SetParameterValues" in ln else "done") for ln in lines]
    assert kinds == ["inform", "GPV", "SPV", "done"], lines
    # the script's log (each run that got that far: it runs from the top every round)
    assert device_lines(acs, sn, 'line="[code-from-model] model OP-1000"')
    code = m["root"] + "DeviceInfo.ProvisioningCode"
    assert api.values(sn, [code])[code] == "net-OP-1000"
    assert rec["last_run"] is not None and rec["fault"] is None
    # what was read and set is stored like a task's results
    stored = api.params(sn, m["root"] + "DeviceInfo.")
    assert stored[m["root"] + "DeviceInfo.ModelName"]["value"] == "OP-1000"


# ---- instances: add and delete objects to reach a count --------------------------------------------

COUNT = """
local n = tonumber(args[2])
local maps = declare(args[1] .. "*", {path = 1}, {path = n})
for i, pm in ipairs(maps) do
  declare(pm.path .. ".ExternalPort", nil, {value = {8000 + i, "xsd:unsignedInt"}})
end
"""


def table_instances(api, sn, table):
    t = api.task(sn, "get_names", {"path": table, "next_level": True})
    assert t["status"] == "done", t
    return sorted(int(p["name"][len(table):].rstrip(".")) for p in t["result"]["parameters"])


@pytest.mark.parametrize("model", ["tr181", "tr098"])
def test_instances_reach_a_count(outpost, tmp_path, model):
    m = MODELS[model]
    acs = start_acs(outpost, tmp_path)
    api = Api(acs)
    api.provision("portmaps", COUNT)
    # "*": every session runs it (each Inform is an occurrence of its own)
    api.preset("maps", {"events": ["*"], "provisions": [
        {"type": "script", "name": "portmaps", "args": [m["ptable"], 3]}]})
    start_sim(outpost, acs, model)
    sn = serial("SIM")
    api.record(sn, "maps", lambda r: r["status"] == "done")
    assert table_instances(api, sn, m["ptable"]) == [1, 2, 3]
    ports = api.values(sn, [m["ptable"]])
    assert sorted(v for k, v in ports.items() if k.endswith(".ExternalPort")) == ["8001", "8002", "8003"]
    adds = device_lines(acs, sn, "rpc=AddObject")
    assert len(adds) == 3, adds
    # fewer wanted: the highest instances go
    before = api.records(sn)["maps"]["last_run"]
    api.preset("maps", {"events": ["*"], "provisions": [
        {"type": "script", "name": "portmaps", "args": [m["ptable"], 1]}]})
    api.until(lambda: table_instances(api, sn, m["ptable"]) == [1], 30, "one instance left")
    assert len(device_lines(acs, sn, "rpc=DeleteObject")) == 2
    assert api.records(sn)["maps"]["status"] == "done"
    assert api.records(sn)["maps"]["last_run"] >= before


# ---- virtual parameters: read and written on both models ------------------------------------------

# One name for the first SSID whatever the data model: the path that exists wins.
VP_SSID = """
local a = declare("Device.WiFi.SSID.1.SSID", {path = 1, value = 1})
local b = declare("InternetGatewayDevice.LANDevice.1.WLANConfiguration.1.SSID", {path = 1, value = 1})
local r = a.size > 0 and a or b
if args.mode == "set" then
  declare(r.path, nil, {value = args[2].value[1]})
  return {writable = true, value = {args[2].value[1], "xsd:string"}}
end
return {writable = true, value = {r.value[1], "xsd:string"}}
"""

SET_VP = 'declare("VirtualParameters.SSID1", nil, {value = args[1]})\n'


@pytest.mark.parametrize("model", ["tr181", "tr098"])
def test_virtual_parameter(outpost, tmp_path, model):
    m = MODELS[model]
    acs = start_acs(outpost, tmp_path)
    api = Api(acs)
    api.vp("SSID1", VP_SSID)
    start_sim(outpost, acs, model)
    sn = serial("SIM")
    api.until(lambda: api.get("/api/stats")["total_devices"] == 1, 20, "the CPE")
    # read through a task: the script's value, the real parameter's
    t = api.task(sn, "get_params", {"names": ["VirtualParameters.SSID1"]})
    assert t["status"] == "done", t
    assert {"name": "VirtualParameters.SSID1", "value": "Outpost-2G", "type": "xsd:string"} in \
        t["result"]["parameters"], t
    # ... and it appears in the device's parameters like a real one
    assert api.params(sn, "VirtualParameters.")["VirtualParameters.SSID1"]["value"] == "Outpost-2G"
    # written through a task: set mode writes the real path of this model
    t = api.task(sn, "set_params", {"values": {"VirtualParameters.SSID1": "vp-task"}})
    assert t["status"] == "done" and t["result"] == {"status": 0}, t
    assert api.values(sn, [m["ssid"]])[m["ssid"]] == "vp-task"
    assert api.params(sn, "VirtualParameters.")["VirtualParameters.SSID1"]["value"] == "vp-task"
    # a task mixing real and virtual names sets both
    code = m["root"] + "DeviceInfo.ProvisioningCode"
    t = api.task(sn, "set_params", {"values": {"VirtualParameters.SSID1": "vp-mixed", code: "mixed"}})
    assert t["status"] == "done", t
    assert api.values(sn, [m["ssid"], code]) == {m["ssid"]: "vp-mixed", code: "mixed"}
    # written by a provision, and matched on by a preset through its stored value
    api.provision("set-ssid", SET_VP)
    api.preset("vp-write", {"events": ["*"], "weight": 1,
                            "provisions": [{"type": "script", "name": "set-ssid", "args": ["vp-preset"]}]})
    api.preset("vp-match", {"events": ["*"], "weight": 2,
                            "match": [{"field": "param:VirtualParameters.SSID1", "op": "=",
                                       "value": "vp-preset"}],
                            "provisions": [{"type": "add_tag", "tag": "ssid-{param:VirtualParameters.SSID1}"}]})
    api.task(sn, "get_params", {"names": [code]})     # a session: vp-write runs
    api.record(sn, "vp-write", lambda r: r["status"] == "done")
    assert api.values(sn, [m["ssid"]])[m["ssid"]] == "vp-preset"
    # the next session matches on the stored virtual value
    api.record(sn, "vp-match", lambda r: r["status"] == "done")
    assert "ssid-vp-preset" in api.get(f"/api/devices/{dev_id(sn)}")["tags"]
    # a virtual parameter with no script: the task fails, the session goes on
    t = api.task(sn, "get_params", {"names": ["VirtualParameters.Nope"]})
    assert t["status"] == "failed" and t["fault"]["code"] == 9005, t
    assert api.values(sn, [code])[code] == "mixed"


# ---- runaway scripts: faults on their devices, not on the others' latency ---------------------------

RUNAWAY = "local n = 0\nwhile true do n = n + 1 end\n"
HOG = "local t = {}\nfor i = 1, 1e9 do t[i] = string.rep('x', 65536) .. i end\n"


def final_stats(sim):
    line = [ln for ln in sim.lines if ln.startswith('{"final"')]
    assert line, sim.output()[-2000:]
    return json.loads(line[-1])["stats"]


def measured(outpost, acs, seconds, prefix):
    """cpe-sim CPEs informing every 250 ms for `seconds`: their session p99 (ms)."""
    sim = start_sim(outpost, acs, "tr181", "--inform-interval", "250ms", "--jitter", "0.5", "--json",
                    "--duration", f"{seconds}s", "--rate", "0", count=20, prefix=prefix)
    sim.proc.wait(seconds + 30)
    sim.stop()
    st = final_stats(sim)
    assert st["sessions"]["completed"] > 100 and st["sessions"]["failed"] == 0, st
    return st["latency_ms"]["p99"]


def test_runaway_and_hog_are_faults_not_stalls(outpost, tmp_path):
    acs = start_acs(outpost, tmp_path, "--rediscover=false")
    api = Api(acs)
    # the same load in both measurements: 20 measured CPEs and 20 more that
    # run a runaway script and a memory hog in the second one only
    bad = [start_sim(outpost, acs, "tr181", "--inform-interval", "250ms", "--rate", "0", count=5,
                     prefix=p) for p in ("RUN", "HOG")]
    base = measured(outpost, acs, 5, "OKA")
    api.provision("runaway", RUNAWAY)
    api.provision("hog", HOG)
    # retried every second or so: they keep running while the others are measured
    for name, glob in (("runaway", "RUN*"), ("hog", "HOG*")):
        api.preset(name, {"events": ["*"], "max_tries": 100, "retry_backoff": "1s",
                          "match": [{"field": "serial_number", "op": "glob", "value": glob}],
                          "provisions": [{"type": "script", "name": name}]})
    api.record(serial("RUN"), "runaway", lambda r: r["status"] == "fault")
    api.record(serial("HOG"), "hog", lambda r: r["status"] == "fault")
    loaded = measured(outpost, acs, 5, "OKB")
    for s in bad:
        s.stop()
    rec = api.records(serial("RUN"))["runaway"]
    assert rec["fault"]["code"] == 9002 and "instruction budget" in rec["fault"]["message"], rec
    assert rec["fault"]["provision"] == "runaway" and rec["fault"]["line"] == 2, rec
    rec = api.records(serial("HOG"))["hog"]
    assert "memory cap" in rec["fault"]["message"] and rec["fault"]["provision"] == "hog", rec
    runs = len([ln for ln in acs.lines if "prov_preset_fault" in ln])
    assert runs >= 20, runs  # they kept running while OKB was measured
    # Their wall-clock latency is printed, not asserted (a loaded CI machine
    # moves it; it is a benchmark's to judge). What keeps it is asserted:
    # every session of the others completed (measured()), and each bad script
    # held the loop once, for about 2 ms of CPU (preempted there, its step ran
    # again on the thread pool, as all its later runs): CPU time, not wall.
    print(f"session p99 of other CPEs: {base:.2f} ms without, {loaded:.2f} ms with {runs} runaway runs")
    slow = [ln for ln in acs.lines if "prov_step_slow" in ln]
    assert any("RUN" in ln for ln in slow) and any("HOG" in ln for ln in slow), slow
    assert len(slow) <= 4, slow
    held = [int(ln.split(" ms=")[1].split()[0]) for ln in slow]
    assert max(held) <= 15 and all("runs again on the thread pool" in ln for ln in slow), slow
    # the others were never touched
    assert not api.records(serial("OKB"))


def test_runaway_virtual_parameter_is_preempted(outpost, tmp_path):
    """A virtual parameter's script runs inside planning: preempted on the
    loop the same way, its fault names the virtual parameter."""
    acs = start_acs(outpost, tmp_path, "--rediscover=false")
    api = Api(acs)
    api.vp("Spin", "log('spinning') while true do end\n")
    api.provision("ask", 'declare("VirtualParameters.Spin", {value = now()})\n')
    api.preset("ask", {"events": ["0 BOOTSTRAP"], "provisions": [{"type": "script", "name": "ask"}]})
    start_sim(outpost, acs, "tr181")
    rec = api.record(serial("SIM"), "ask", lambda r: r["status"] == "fault")
    assert "virtual parameter Spin" in rec["fault"]["message"], rec
    assert "instruction budget" in rec["fault"]["message"], rec
    slow = [ln for ln in acs.lines if "prov_step_slow" in ln]
    assert len(slow) == 1 and "runs again on the thread pool" in slow[0], slow
    assert int(slow[0].split(" ms=")[1].split()[0]) <= 15, slow
    # the preempted run's log was dropped: the pool's run logged it once
    assert len([ln for ln in acs.lines if "spinning" in ln]) == 1, acs.output()[-3000:]
    m = prom.parse(requests.get(acs.url("admin") + "/metrics", timeout=5,
                                headers={"Authorization": "Bearer " + TOKEN}).text)
    assert prom.value(m, "outpost_acs_provisioning_preempted_total") == 1


# ---- restarts, retries with backoff, faults until cleared --------------------------------------------

FLAKY = "local x = 1\nerror('boom ' .. args[1])\n"
FIXED = "log('fixed')\n"


def test_retry_backoff_restart_and_clear(outpost, tmp_path):
    port = free_port()  # the CPE informs the restarted ACS at the same address
    acs = start_acs(outpost, tmp_path, port=port)
    api = Api(acs)
    api.provision("flaky", FLAKY)
    api.preset("flaky", {"events": ["0 BOOTSTRAP"], "max_tries": 3, "retry_backoff": "1s",
                         "provisions": [{"type": "script", "name": "flaky", "args": ["now"]}]})
    api.preset("fine", {"events": ["0 BOOTSTRAP"], "weight": 5, "provisions": [
        {"type": "set", "path": "Device.DeviceInfo.ProvisioningCode", "value": "fine"}]})
    start_sim(outpost, acs, "tr181")
    sn = serial("SIM")
    rec = api.record(sn, "flaky", lambda r: r["status"] == "fault")
    assert rec["tries"] == 1 and rec["next_retry"] is not None, rec
    assert rec["fault"] == {"code": 9002, "message": "flaky: boom now", "provision": "flaky", "line": 2}, rec
    # the other preset of the same session was not stopped by it
    assert api.records(sn)["fine"]["status"] == "done"
    assert len([ln for ln in acs.lines if "prov_preset_fault" in ln and "preset=flaky" in ln]) == 1
    # a restart keeps presets, scripts and records, and what is owed a retry
    acs.stop()
    acs = start_acs(outpost, tmp_path, port=port)
    api = Api(acs)
    assert {p["name"] for p in api.get("/api/presets")} == {"flaky", "fine"}
    assert api.records(sn)["flaky"]["tries"] == 1
    time.sleep(1.1)  # the first retry's wait
    # a session without its event (a connection request): the retry is owed anyway
    api.task(sn, "get_params", {"names": ["Device.DeviceInfo.UpTime"]})
    rec = api.record(sn, "flaky", lambda r: r["tries"] == 2)
    assert rec["status"] == "fault"
    # before the doubled wait (2 s) another session does not retry it
    api.task(sn, "get_params", {"names": ["Device.DeviceInfo.UpTime"]})
    assert api.records(sn)["flaky"]["tries"] == 2
    time.sleep(2.1)
    api.task(sn, "get_params", {"names": ["Device.DeviceInfo.UpTime"]})
    rec = api.record(sn, "flaky", lambda r: r["tries"] == 3)
    assert rec["next_retry"] is None, rec   # max_tries: faulted until cleared
    time.sleep(1.1)
    api.task(sn, "get_params", {"names": ["Device.DeviceInfo.UpTime"]})
    assert api.records(sn)["flaky"]["tries"] == 3
    # fixed and cleared: it runs at the next session, whatever its events
    api.provision("flaky", FIXED)
    r = api.delete(f"/api/devices/{dev_id(sn)}/presets/flaky/fault")
    assert r["preset"] == "flaky" and r["status"] == "pending", r
    api.task(sn, "get_params", {"names": ["Device.DeviceInfo.UpTime"]})
    rec = api.record(sn, "flaky", lambda r: r["status"] == "done")
    assert rec["fault"] is None and rec["tries"] == 0
    # /metrics counts the runs of this ACS (since its restart: two faults, one done)
    m = prom.parse(requests.get(acs.url("admin") + "/metrics", timeout=5,
                                headers={"Authorization": "Bearer " + TOKEN}).text)
    assert prom.value(m, "outpost_acs_provisioning_runs_total", outcome="fault") == 2
    assert prom.value(m, "outpost_acs_provisioning_runs_total", outcome="done") == 1
    assert prom.value(m, "outpost_acs_provisioning_runs_total", outcome="gave_up") == 0
    assert prom.value(m, "outpost_acs_provisioning_rounds_total") >= 3
    assert prom.value(m, "outpost_acs_provisioning_step_seconds_count") >= 3


# ---- ext(): an operator-configured command --------------------------------------------------------

EXT_USE = """
local v = assert(ext("namer", device.serial, 7))
declare(args[1], nil, {value = v})
"""
EXT_FAIL = 'local v = assert(ext("broken"))\n'


class JsonServer:
    """A loopback HTTP server answering POSTs: what it got, and a JSON answer."""

    def __init__(self, answer):
        import http.server
        got = self.got = []

        class H(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers["Content-Length"])
                got.append(json.loads(self.rfile.read(n)))
                body = json.dumps(answer).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a):
                pass

        self.srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = "http://127.0.0.1:%d/lookup" % self.srv.server_address[1]
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()

    def close(self):
        self.srv.shutdown()
        self.srv.server_close()


EXT_HTTP = """
local v = assert(ext("lookup", device.oui, true))
declare(args[1], nil, {value = "http-" .. v})
"""


def test_ext_option_is_checked():
    for spec, why in (("name=x command=relative/path", "absolute path"),
                      ("name=x url=ftp://h/", "http or https URL"),
                      ("name=x command=/bin/true url=http://h/", "expected"),
                      ("name=x command=/bin/true timeout=10m", "timeout"),
                      ("name=a.b command=/bin/true", "name"),
                      ("command=/bin/true", "expected"),
                      ("name=x command=/bin/true colour=red", "unknown key 'colour'")):
        r = run_outpost("acs", "--ext", spec, "--cpe-auth", "none")
        assert r.returncode == 2 and why in r.stderr, (spec, r.stderr)


def test_ext_command(outpost, tmp_path):
    namer = tmp_path / "namer.sh"
    namer.write_text('#!/bin/sh\nprintf \'"ext-%s-%s"\' "$1" "$2"\n')
    broken = tmp_path / "broken.sh"
    broken.write_text("#!/bin/sh\necho oops\nexit 3\n")
    for f in (namer, broken):
        f.chmod(f.stat().st_mode | stat.S_IXUSR)
    web = JsonServer({"code": 42})
    acs = start_acs(outpost, tmp_path, "--ext", f"name=namer command={namer} timeout=2s",
                    "--ext", f"name=broken command={broken}", "--ext", f"name=lookup url={web.url}")
    api = Api(acs)
    api.provision("use-http", EXT_HTTP)
    api.preset("http", {"events": ["0 BOOTSTRAP"], "provisions": [
        {"type": "script", "name": "use-http", "args": ["Device.DeviceInfo.ProvisioningCode"]}]})
    api.provision("use-ext", EXT_USE)
    api.provision("use-broken", EXT_FAIL)
    api.preset("named", {"events": ["0 BOOTSTRAP"], "provisions": [
        {"type": "script", "name": "use-ext", "args": [MODELS["tr181"]["ssid"]]}]})
    api.preset("broken", {"events": ["0 BOOTSTRAP"], "provisions": [{"type": "script", "name": "use-broken"}]})
    start_sim(outpost, acs, "tr181")
    sn = serial("SIM")
    api.record(sn, "named", lambda r: r["status"] == "done")
    assert api.values(sn, [MODELS["tr181"]["ssid"]])[MODELS["tr181"]["ssid"]] == f"ext-{sn}-7"
    rec = api.record(sn, "broken", lambda r: r["status"] == "fault")
    assert rec["fault"]["message"] == "use-broken: ext broken: exited with status 3", rec
    assert rec["fault"]["line"] == 1
    # over HTTP: POSTed {name, args}; a JSON object comes back as JSON text
    api.record(sn, "http", lambda r: r["status"] == "done")
    web.close()
    assert web.got == [{"name": "lookup", "args": ["ACDE48", "true"]}]
    code = "Device.DeviceInfo.ProvisioningCode"
    assert api.values(sn, [code])[code] == 'http-{"code":42}'


# ---- effects: tags, and tasks that go out in the same session ----------------------------------------

def test_tags_and_reboot_in_the_session(outpost, tmp_path):
    acs = start_acs(outpost, tmp_path, "--rediscover=false")
    api = Api(acs)
    api.preset("welcome", {"events": ["0 BOOTSTRAP"], "provisions": [
        {"type": "add_tag", "tag": "seen-{oui}"},
        {"type": "remove_tag", "tag": "new"},
        {"type": "reboot"}]})
    sim = start_sim(outpost, acs, "tr181")
    sn = serial("SIM")
    api.record(sn, "welcome", lambda r: r["status"] == "done")
    sim.wait_for(rf"reboot cpe={sn}", timeout=20)
    # the reboot task went out in the bootstrap session, and its CommandKey came back
    tasks = api.get(f"/api/devices/{dev_id(sn)}/tasks")
    reboot = [t for t in tasks if t["type"] == "reboot"]
    assert len(reboot) == 1, tasks
    assert api.get(f"/api/tasks/{reboot[0]['id']}")["status"] == "done"
    api.until(lambda: "M Reboot" in api.get(f"/api/devices/{dev_id(sn)}")["last_events"], 20, "back")
    informs = device_lines(acs, sn, "cwmp_inform")
    assert "BOOTSTRAP" in informs[0] and "M Reboot" in informs[1], informs
    rpcs = [ln for ln in device_lines(acs, sn, "cwmp_rpc")]
    assert len(rpcs) == 1 and "rpc=Reboot" in rpcs[0], rpcs  # no other RPC: tags are the ACS's
    assert api.get(f"/api/devices/{dev_id(sn)}")["tags"] == ["seen-ACDE48"]
    # back from the reboot (1 BOOT, M Reboot): not run again
    assert api.records(sn)["welcome"]["status"] == "done"
    assert len(device_lines(acs, sn, "prov_preset_done")) == 1


# ---- isolation: a failing preset does not stop the others ----------------------------------------------

NEVER = 'declare("Device.DeviceInfo.UpTime", {value = now() + 100000})\n'


def test_a_failing_preset_does_not_stop_the_others(outpost, tmp_path):
    acs = start_acs(outpost, tmp_path, "--rediscover=false")
    api = Api(acs)
    api.provision("never", NEVER)
    # one SetParameterValues would carry both sets: the CPE refuses it whole
    api.preset("good", {"events": ["0 BOOTSTRAP"], "weight": 1, "provisions": [
        {"type": "set", "path": "Device.DeviceInfo.ProvisioningCode", "value": "good"}]})
    api.preset("readonly", {"events": ["0 BOOTSTRAP"], "weight": 2, "provisions": [
        {"type": "set", "path": "Device.DeviceInfo.Manufacturer", "value": "x"}]})
    # never satisfied: its rounds run out
    api.preset("never", {"events": ["0 BOOTSTRAP"], "weight": 3, "provisions": [
        {"type": "script", "name": "never"}]})
    start_sim(outpost, acs, "tr181")
    sn = serial("SIM")
    api.record(sn, "never", lambda r: r["status"] == "fault")
    recs = api.records(sn)
    assert recs["good"]["status"] == "done", recs
    assert recs["readonly"]["status"] == "fault" and recs["readonly"]["fault"]["code"] == 9003, recs
    assert recs["readonly"]["fault"]["provision"] == "set", recs
    assert "(Device.DeviceInfo.Manufacturer: 9008" in recs["readonly"]["fault"]["message"], recs
    assert "gave up after 32 rounds" in recs["never"]["fault"]["message"], recs
    code = "Device.DeviceInfo.ProvisioningCode"
    assert api.values(sn, [code])[code] == "good"
    assert len(device_lines(acs, sn, "cwmp_inform")) <= 2  # all of it in the bootstrap session
    assert device_lines(acs, sn, "prov_isolating")
