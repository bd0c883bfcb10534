"""outpost acs: presets, provisions and virtual parameters on the REST API,
and the config file's presets.

* every provisioning operation answers as docs/api/openapi.yaml says (the
  same Checker as test_acs_openapi.py, which leaves these operations to
  this file), and preset bodies the document accepts are accepted while
  those it rejects are 422;
* 422s name the field (`match[0].op`) and the reason; a Lua source with a
  syntax error is 422 with its line;
* a device's preset records are listed and a fault cleared (a session
  writes one; the others are written into the database directly, to have
  each kind; test_acs_provisioning.py runs presets in sessions);
* presets, scripts and records survive a restart;
* the config file's `presets:` are stored at start, win over an API preset
  of the same name, cannot be changed through the API, follow the file on
  SIGHUP, and a bad one stops the start with the file, line, key and field.
"""
import json
import urllib.parse

import pytest

from conftest import acs_db
from cwmp_cpe import CPE
from test_acs_openapi import (PROV_TAGS, Checker, _close_conns, call, doc, is_valid,  # noqa: F401
                              operations)
from test_acs_session import TOKEN, cwmp_addr, start_acs

GOOD = {
    "name": "wifi",
    "weight": 10,
    "events": ["0 BOOTSTRAP", "1 BOOT"],
    "schedule": {"cron": "30 3 * * MON-FRI", "spread": "2h", "window": 3600},
    "match": [{"field": "product_class", "op": "=", "value": "IGD"},
              {"field": "param:Device.DeviceInfo.SoftwareVersion", "op": "<", "value": 2.5},
              {"field": "tag", "op": "glob", "value": "lab*"}],
    "provisions": [
        {"type": "set", "path": "Device.WiFi.SSID.1.SSID", "value": "cpe-{serial_number}"},
        {"type": "set", "path": "Device.ManagementServer.PeriodicInformInterval", "value": 300,
         "value_type": "xsd:unsignedInt"},
        {"type": "add_tag", "tag": "seen-{oui}"},
        {"type": "remove_tag", "tag": "new"},
        {"type": "refresh", "path": "Device.WiFi."},
        {"type": "download", "url": "https://files.example/{product_class}.bin"},
        {"type": "download", "file": "fw-2.1.bin", "file_type": "3 Vendor Configuration File"},
        {"type": "reboot"},
        {"type": "script", "name": "wifi-report", "args": [1, "x", {"k": None}]},
    ],
    "max_tries": 3,
    "retry_backoff": "1m",
}

# More bodies both the document and the ACS accept.
GOOD_MORE = [
    {"name": "any", "events": ["*"], "provisions": [{"type": "reboot"}]},
    {"name": "vendor", "events": ["M X_ACME_Thing", "X 00D09E Fancy event", "M Reboot"],
     "match": [], "provisions": [{"type": "add_tag", "tag": "{{braces}}"}]},
    {"name": "daily", "events": ["2 PERIODIC"], "schedule": {"cron": "@daily"},
     "provisions": [{"type": "set", "path": "X.Y", "value": True}]},
]

# (body, field, reason): refused by the document and by the ACS, which
# names the field.
BAD_BOTH = [
    ({"name": "b", "events": ["9 BOGUS"], "provisions": [{"type": "reboot"}]},
     "events[0]", "unknown event '9 BOGUS'"),
    ({"name": "b", "events": ["1 BOOT"], "provisions": [{"type": "reboot"}],
      "match": [{"field": "oui", "op": "==", "value": "x"}]},
     "match[0].op", "unknown operator '=='"),
    ({"name": "b", "events": ["1 BOOT"], "provisions": [{"type": "reboot"}],
      "match": [{"field": "colour", "op": "=", "value": "x"}]},
     "match[0].field", "unknown field 'colour'"),
    ({"name": "b", "events": ["1 BOOT"], "provisions": [{"type": "reboot"}, {"type": "sett"}]},
     "provisions[1].type", "unknown built-in provision 'sett'"),
    ({"name": "b", "events": ["1 BOOT"], "provisions": [{"type": "reboot", "delay": 5}]},
     "provisions[0].delay", "unknown field"),
    ({"name": "b", "events": ["1 BOOT"], "provisions": [{"type": "reboot"}], "colour": "red"},
     "colour", "unknown field"),
    ({"name": "b", "provisions": [{"type": "reboot"}]}, "events", "required"),
    ({"name": "b", "events": ["1 BOOT"], "provisions": []}, "provisions", "required"),
    ({"name": "b", "events": ["1 BOOT"], "provisions": [{"type": "reboot"}],
      "schedule": {"every": "day"}}, "schedule.every", "unknown field"),
    ({"name": "b", "events": ["1 BOOT"], "provisions": [{"type": "reboot"}], "max_tries": 0},
     "max_tries", "1 to 100"),
    ({"name": "b c", "events": ["1 BOOT"], "provisions": [{"type": "reboot"}]}, "name", "A-Z"),
    ({"name": "b", "events": ["1 BOOT"],
      "provisions": [{"type": "download", "url": "http://h/", "file": "f"}]},
     "provisions[0].file", "not both"),
]

# Refused by the ACS, with the field: what a schema cannot say.
BAD_ACS = [
    ({"name": "b", "events": ["1 BOOT"],
      "provisions": [{"type": "set", "path": "X.Y", "value": "{serial}"}]},
     "provisions[0].value", "unknown template field '{serial}'"),
    ({"name": "b", "events": ["1 BOOT"],
      "provisions": [{"type": "add_tag", "tag": "x{param:A"}]},
     "provisions[0].tag", "without its '}'"),
    ({"name": "b", "events": ["1 BOOT"], "provisions": [{"type": "reboot"}],
      "schedule": {"cron": "61 * * * *"}}, "schedule.cron", "field 1 (minute): 61 out of range 0-59"),
    ({"name": "b", "events": ["1 BOOT"], "provisions": [{"type": "reboot"}],
      "schedule": {"cron": "0 0 31 FEB *"}}, "schedule.cron", "never fires"),
    ({"name": "b", "events": ["1 BOOT"], "provisions": [{"type": "reboot"}],
      "schedule": {"cron": "0 0 * *"}}, "schedule.cron", "five fields"),
    ({"name": "b", "events": ["1 BOOT", "*"], "provisions": [{"type": "reboot"}]},
     "events[1]", "stands alone"),
    ({"name": "b", "events": ["1 BOOT"], "provisions": [{"type": "reboot"}],
      "match": [{"field": "tag", "op": "<", "value": "x"}]}, "match[0].op", "a tag is matched with"),
    ({"name": "b", "events": ["1 BOOT"],
      "provisions": [{"type": "download", "url": "file:///etc/passwd"}]},
     "provisions[0].url", "an http, https or ftp URL"),
    ({"name": "b", "events": ["1 BOOT"],
      "provisions": [{"type": "set", "path": "X.Y", "value": "abc", "value_type": "xsd:int"}]},
     "provisions[0].value", "not a valid xsd:int"),
]

LUA_OK = "local n = 0\nfor i = 1, 3 do\n  n = n + i\nend\nlog(n)\n"
# (source, line, part of the message)
LUA_BAD = [
    ("local x = = 1\n", 1, "unexpected symbol near '='"),
    ("local x = 1\nif x then\n  log('a'\nend\n", 4, "')' expected (to close '(' at line 3)"),
    ("x = [[\nnever closed\n", 3, "unfinished long string"),
    ("\x1bLua\x54\x00", 0, ""),      # a precompiled chunk: refused before Lua sees it
]


def dev_path(device_id):
    return "/api/devices/" + urllib.parse.quote(device_id, safe="")


def expect_invalid(c, path, template, body, field, reason, method="POST"):
    _, e = c.req(method, path, template, body=body, want=422)
    assert e["error"] == "invalid_preset" and e["field"] == field, (body, e)
    assert reason in e["message"] and e["message"].startswith(field), (body, e)


def records(data_dir, rows):
    """Write preset records straight into the database (the ACS is stopped)."""
    db = acs_db(data_dir)
    upsert = (" ON CONFLICT (device_id, preset) DO UPDATE SET status = excluded.status,"
              " fault_code = excluded.fault_code, fault_message = excluded.fault_message,"
              " tries = excluded.tries, next_retry = excluded.next_retry,"
              " last_event = excluded.last_event, updated = excluded.updated")
    db.executemany("INSERT INTO preset_runs (device_id, preset, status, fault_code,"
                   " fault_message, tries, next_retry, last_event, updated)"
                   " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)" + upsert, rows)


def test_api_against_document(outpost, tmp_path, doc):
    acs = start_acs(outpost, tmp_path, "--cpe-auth", "none")
    c = Checker(acs, doc)
    request = {"$ref": "#/components/schemas/PresetRequest"}

    # presets: create, read, replace, delete
    _, lst = c.req("GET", "/api/presets", "/api/presets", want=200)
    assert lst == []
    assert is_valid(doc, request, GOOD)
    _, p = c.req("POST", "/api/presets", "/api/presets", body=GOOD, want=201)
    assert p["source"] == "api" and p["created"] and p["updated"]
    assert {k: v for k, v in p.items() if k not in ("source", "created", "updated")} == GOOD
    _, e = c.req("POST", "/api/presets", "/api/presets", body=GOOD, want=409)
    assert e["error"] == "conflict"
    for body in GOOD_MORE:
        assert is_valid(doc, request, body), body
        c.req("POST", "/api/presets", "/api/presets", body=body, want=201)
    _, lst = c.req("GET", "/api/presets", "/api/presets", want=200)
    assert [x["name"] for x in lst] == ["any", "daily", "vendor", "wifi"]
    _, p = c.req("GET", "/api/presets/wifi", "/api/presets/{name}", want=200)
    # what GET answers goes back with PUT
    p["weight"] = 20
    _, p2 = c.req("PUT", "/api/presets/wifi", "/api/presets/{name}", body=p, want=200)
    assert p2["weight"] == 20 and p2["created"] == p["created"]
    body = dict(GOOD_MORE[0])
    del body["name"]
    c.req("PUT", "/api/presets/new-one", "/api/presets/{name}", body=body, want=201)
    expect_invalid(c, "/api/presets/new-one", "/api/presets/{name}", GOOD, "name",
                   "must be the name in the path", method="PUT")
    for path, tpl in (("/api/presets/nope", "/api/presets/{name}"),
                      ("/api/presets/a%20b", "/api/presets/{name}")):
        _, e = c.req("GET", path, tpl, want=404)
        assert e["error"] == "not_found"
    c.req("POST", "/api/presets", "/api/presets", body=b"{nope", want=400)
    c.req("PUT", "/api/presets/x", "/api/presets/{name}", body=b"[", want=400)
    for bad, field, reason in BAD_BOTH:
        assert not is_valid(doc, request, bad), f"the document accepts {bad}"
        expect_invalid(c, "/api/presets", "/api/presets", bad, field, reason)
    for bad, field, reason in BAD_ACS:
        expect_invalid(c, "/api/presets", "/api/presets", bad, field, reason)
    bad = dict(BAD_ACS[0][0])
    del bad["name"]
    expect_invalid(c, "/api/presets/b", "/api/presets/{name}", bad, *BAD_ACS[0][1:], method="PUT")
    c.req("DELETE", "/api/presets/new-one", "/api/presets/{name}", want=204)
    c.req("DELETE", "/api/presets/new-one", "/api/presets/{name}", want=404)

    # provisions and virtual parameters: two name spaces of Lua sources
    for base, tpl in (("/api/provisions", "/api/provisions"),
                      ("/api/virtual-parameters", "/api/virtual-parameters")):
        one = tpl + "/{name}"
        _, lst = c.req("GET", base, tpl, want=200)
        assert lst == []
        _, s = c.req("PUT", base + "/count", one, body=LUA_OK.encode(), want=201)
        assert s["name"] == "count" and s["size"] == len(LUA_OK) and "source" not in s
        _, s = c.req("PUT", base + "/count", one, body=LUA_OK.encode(), want=200)
        _, s = c.req("GET", base + "/count", one, want=200)
        assert s["source"] == LUA_OK
        c.req("PUT", base + "/other", one, body=b"return 1", want=201)
        _, lst = c.req("GET", base, tpl, want=200)
        assert [x["name"] for x in lst] == ["count", "other"] and "source" not in lst[0]
        for src, line, msg in LUA_BAD:
            _, e = c.req("PUT", base + "/broken", one, body=src.encode(), want=422)
            assert e["error"] == "invalid_script" and e["field"] == "source", e
            assert e.get("line", 0) == line and msg in e["message"], (src, e)
        for raw, why in ((b"", "empty"), (b"x = '\xff'", "UTF-8"), (b"a" * (256 * 1024 + 1), "at most")):
            _, e = c.req("PUT", base + "/broken", one, body=raw, want=422)
            assert why in e["message"] and e["field"] == "source"
        _, e = c.req("PUT", base + "/a.b", one, body=b"return 1", want=422)
        assert e["field"] == "name"
        c.req("GET", base + "/broken", one, want=404)
        c.req("DELETE", base + "/other", one, want=204)
        c.req("DELETE", base + "/other", one, want=404)
    # the two name spaces are apart
    c.req("DELETE", "/api/virtual-parameters/count", "/api/virtual-parameters/{name}", want=204)
    c.req("GET", "/api/provisions/count", "/api/provisions/{name}", want=200)

    # a device's records: its session runs "any" (every event: a reboot task,
    # sent in the same session), the others do not match
    cpe = CPE(cwmp_addr(acs))
    assert cpe.inform("SN1", events=[("1 BOOT", "")]).rpc == "InformResponse"
    r = cpe.post()
    assert r.rpc == "Reboot", r
    assert cpe.answer(r, "<cwmp:RebootResponse/>").status == 204
    dev = dev_path("00D09E-IGD-SN1")
    _, runs = c.req("GET", dev + "/presets", "/api/devices/{id}/presets", want=200)
    assert [(x["preset"], x["status"]) for x in runs] == [("any", "done")]
    c.req("GET", dev_path("nope") + "/presets", "/api/devices/{id}/presets", want=404)
    fault = "/api/devices/{id}/presets/{name}/fault"
    _, e = c.req("DELETE", dev + "/presets/wifi/fault", fault, want=404)
    assert "no record" in e["message"]
    c.req("DELETE", dev_path("nope") + "/presets/wifi/fault", fault, want=404)

    acs.stop()
    records(tmp_path / "data", [("00D09E-IGD-SN1", "wifi", 2, 9002, "Internal error", 3, 0, 1767225600, 1767225600),
                 ("00D09E-IGD-SN1", "any", 1, 0, "", 0, 0, 1767225600, 1767225600),
                 ("00D09E-IGD-SN1", "daily", 2, 9001, "Request denied", 1, 1767229200, 1767225600,
                  1767225600)])

    # everything survived the restart
    acs = start_acs(outpost, tmp_path, "--cpe-auth", "none")
    c.acs = acs
    _, lst = c.req("GET", "/api/presets", "/api/presets", want=200)
    assert [x["name"] for x in lst] == ["any", "daily", "vendor", "wifi"]
    _, s = c.req("GET", "/api/provisions/count", "/api/provisions/{name}", want=200)
    assert s["source"] == LUA_OK
    _, runs = c.req("GET", dev + "/presets", "/api/devices/{id}/presets", want=200)
    assert [(r["preset"], r["status"]) for r in runs] == [("any", "done"), ("daily", "fault"),
                                                          ("wifi", "fault")]
    assert runs[2]["fault"] == {"code": 9002, "message": "Internal error", "provision": None,
                                "line": None} and runs[2]["tries"] == 3
    assert runs[2]["next_retry"] is None and runs[1]["next_retry"] == "2026-01-01T01:00:00Z"
    assert runs[0]["fault"] is None and runs[0]["last_run"] == "2026-01-01T00:00:00Z"
    # clearing a fault: pending, tries 0; not twice; not a record that is done
    _, r = c.req("DELETE", dev + "/presets/wifi/fault", fault, want=200)
    assert r["status"] == "pending" and r["tries"] == 0 and r["fault"] is None
    _, e = c.req("DELETE", dev + "/presets/wifi/fault", fault, want=409)
    assert e["error"] == "conflict"
    c.req("DELETE", dev + "/presets/any/fault", fault, want=409)
    c.req("DELETE", dev + "/presets/a%20b/fault", fault, want=404)
    # a preset's records go with it
    c.req("DELETE", "/api/presets/daily", "/api/presets/{name}", want=204)
    _, runs = c.req("GET", dev + "/presets", "/api/devices/{id}/presets", want=200)
    assert [r["preset"] for r in runs] == ["any", "wifi"]

    # without the token, like every /api/ path
    _, e = c.req("GET", "/api/presets", "/api/presets", token=None, want=401)
    _, e = c.req("PUT", "/api/provisions/x", "/api/provisions/{name}", body=b"return 1", token=None,
                 want=401)

    ops = {op["operationId"] for _, _, _, op in operations(doc) if set(op.get("tags", [])) & PROV_TAGS}
    assert ops == {o for o, st in c.seen if st < 300}, "operations never exercised"


CONFIG = """\
cpe-auth: none
api-token: {token}
presets:
  - name: from-file
    weight: 3
    events: ["0 BOOTSTRAP"]
    match:
      - {{field: oui, op: "=", value: 00D09E}}
    provisions:
      - {{type: set, path: Device.ManagementServer.PeriodicInformInterval, value: 300,
         value_type: "xsd:unsignedInt"}}
  - name: shared
    events: ["*"]
    provisions: [{{type: reboot}}]
"""


def start_with(outpost, tmp_path, text):
    cfg = tmp_path / "acs.yaml"
    cfg.write_text(text.format(token=TOKEN))
    return outpost("acs", "--config", str(cfg), "--cwmp-listen", "127.0.0.1:0", "--api-listen",
                   "127.0.0.1:0", "--admin-listen", "127.0.0.1:0", "--data-dir",
                   str(tmp_path / "data"))


def names(acs):
    status, _, raw = call(acs, "GET", "/api/presets")
    assert status == 200
    return {p["name"]: p for p in json.loads(raw)}


def test_config_presets(outpost, tmp_path):
    # an API preset named like one the file will define
    acs = start_acs(outpost, tmp_path, "--cpe-auth", "none")
    status, _, _ = call(acs, "POST", "/api/presets",
                        {"name": "shared", "events": ["1 BOOT"], "provisions": [{"type": "reboot"}]})
    assert status == 201
    status, _, _ = call(acs, "POST", "/api/presets",
                        {"name": "mine", "events": ["1 BOOT"], "provisions": [{"type": "reboot"}]})
    assert status == 201
    acs.stop()

    acs = start_with(outpost, tmp_path, CONFIG)
    acs.wait_for(r"presets_config presets=2 replaced_api_presets=1")
    assert acs.wait_for(r"warn preset_replaced_by_config preset=shared")
    got = names(acs)
    assert set(got) == {"from-file", "shared", "mine"}
    assert got["from-file"]["source"] == "config" and got["shared"]["source"] == "config"
    assert got["shared"]["events"] == ["*"]                   # the file's wins
    assert got["mine"]["source"] == "api"
    assert got["from-file"]["match"] == [{"field": "oui", "op": "=", "value": "00D09E"}]
    assert got["from-file"]["provisions"][0]["value"] == 300
    # the API cannot change them
    for method, body in (("PUT", {"events": ["*"], "provisions": [{"type": "reboot"}]}), ("DELETE", None)):
        status, _, raw = call(acs, method, "/api/presets/from-file", body)
        assert status == 409 and "config file" in json.loads(raw)["message"]
    status, _, _ = call(acs, "POST", "/api/presets",
                        {"name": "shared", "events": ["1 BOOT"], "provisions": [{"type": "reboot"}]})
    assert status == 409

    # SIGHUP: the file again; a preset gone from it goes, a changed one changes
    (tmp_path / "acs.yaml").write_text(
        CONFIG.format(token=TOKEN).split("  - name: shared")[0].replace("weight: 3", "weight: 4"))
    n = len(acs.lines)
    acs.signal(1)
    acs.wait_for(r"presets_config presets=1 replaced_api_presets=0", start=n)
    got = names(acs)
    assert set(got) == {"from-file", "mine"} and got["from-file"]["weight"] == 4
    # a file with an error on SIGHUP: the presets stay
    (tmp_path / "acs.yaml").write_text(CONFIG.format(token=TOKEN).replace('"0 BOOTSTRAP"', '"0 BOOT"'))
    n = len(acs.lines)
    acs.signal(1)
    acs.wait_for(r"presets_reload_failed", start=n)
    assert set(names(acs)) == {"from-file", "mine"}
    acs.stop()

    # a restart without them: the file's presets are the file's only
    acs = start_acs(outpost, tmp_path, "--cpe-auth", "none")
    acs.wait_for(r"presets_config presets=0")
    assert set(names(acs)) == {"mine"}


@pytest.mark.parametrize("change, where", [
    (('"0 BOOTSTRAP"', '"0 BOOT"'), ":4: key 'presets': [0].events[0]: unknown event '0 BOOT'"),
    (('op: "="', 'op: "=="'), "key 'presets': [0].match[0].op: unknown operator '=='"),
    (("type: reboot", "type: rebooot"), "[1].provisions[0].type: unknown built-in provision 'rebooot'"),
    (("name: shared", "name: from-file"), "[1].name: 'from-file' given twice"),
    (("presets:\n", "presets:\n  - &a {name: x}\n"), "anchors (&name) are not supported"),
])
def test_config_errors(outpost, tmp_path, change, where):
    cfg = tmp_path / "acs.yaml"
    cfg.write_text(CONFIG.format(token=TOKEN).replace(*change))
    d = outpost("acs", "--config", str(cfg), "--data-dir", str(tmp_path / "data"), ready=False)
    assert d.proc.wait(30) == 2
    d.stop(expect_rc=2)
    out = d.output()
    assert str(cfg) in out and where in out, out
