"""The dashboard's operations views in headless chromium (browser.py's
harness), against a real ACS and cpe-sim:

* Files: a file uploaded through the page (progress to 100%), then a
  download of it started onto a cpe-sim device; its task page follows the
  task to `done`;
* Bulk: a bulk's progress on the list and on its page, to `done`;
* Faults: a failed task's fault retried (it fails again: a new fault), then
  cleared through the confirmation;
* Provisions: a Lua syntax error on save shows the API's line, marked in the
  editor's gutter; the fixed source saves;
* Tasks: a pending task opened and cancelled;
* Presets: a JSON error marked at its line, a 422 naming the field;
* Keys: a key added (its token shown once, copied), revoked;
* live: a task made elsewhere appears on top of Tasks and turns done there
  from the event stream alone;
* Roles: a viewer key sees no action on any of these views; an operator sees
  the operator's (cancel, retry, clear, upload, delete a file, start a
  download, cancel a bulk) and none of the admin's (configuration editors,
  keys).

Screenshots of each view go to build/screenshots/ops-*.png (and at phone
width, ops-phone-*.png).
"""
import time
import urllib.parse

import pytest

from cwmp_cpe import CPE

RO_PARAM = "Device.DeviceInfo.SerialNumber"  # read-only in cpe-sim's TR-181 model
# buttons that act (what a viewer must never see)
OPERATOR_ACTIONS = {"Cancel", "Retry", "Clear", "Upload", "Delete", "Download to devices",
                    "Start download", "Cancel upload"}
ADMIN_ACTIONS = {"Save", "Create", "Delete", "Revoke", "Add key"}


def enc(dev_id):
    return urllib.parse.quote(dev_id, safe="")


def page_errors(b):
    """The console's errors, but the event stream's (absent while the ACS
    has no /api/events) and 404s a test provoked on purpose."""
    return [e for e in b.js_errors() if "/api/events" not in e]


def first_device(s, prefix):
    devs = s.get("/api/devices", params={"q": "", "limit": 100})
    return next(d["id"] for d in devs if prefix in d["id"])


def failed_task(s, dev_id):
    """A set_params of a read-only parameter: the CPE refuses it."""
    r = s.api.post(f"{s.url}/api/devices/{enc(dev_id)}/tasks", params={"wait": 30}, timeout=60,
                   json={"type": "set_params", "parameters": {"values": {RO_PARAM: "x"}}})
    assert r.status_code == 201, r.text
    t = r.json()
    assert t["status"] == "failed", t
    return t["id"]


def quiet_device(s, serial="QUIET1"):
    """A device that informed once and has no connection request URL: its
    tasks stay pending."""
    cpe = CPE(s.acs.addr("listen"))
    cpe.inform(serial, events=[("1 BOOT", "")])
    assert cpe.post().status == 204
    return f"00D09E-IGD-{serial}"


def click(b, el):
    """Click as a user would: the element scrolled to the middle, notices
    (bottom right, over the content) dismissed first."""
    for x in b.all("#toasts button"):
        try:
            x.click()
        except Exception:  # noqa: BLE001 - it went by itself
            pass
    b.d.execute_script("arguments[0].scrollIntoView({block: 'center'})", el)
    el.click()


def buttons(b):
    return {x.text.strip() for x in b.all("#view button") if x.is_displayed()}


def test_upload_then_download_onto_a_device(dash, tmp_path):
    b, s = dash, dash.system
    fw = tmp_path / "fw-test.bin"
    fw.write_bytes(b"\x7fFIRMWARE" * 40000)  # 360 KB: a few progress events
    dev = first_device(s, "S181")
    b.go("#/files")
    b.wait_css("#file-input").send_keys(str(fw))
    assert b.css("#file-name").get_attribute("value") == "fw-test.bin"
    click(b, b.css("#file-upload"))
    b.wait_text("#file-status", "stored")
    assert b.css("#file-progress").get_attribute("value") == "100"
    meta = s.get("/api/files/fw-test.bin")
    assert meta["size"] == fw.stat().st_size
    click(b, b.wait_css('button[aria-label="Download fw-test.bin onto devices"]'))
    inp = b.wait_css("#dl-fw-test_bin-device")
    # suggestions while typing: the ids as the API has them (sent as they are)
    inp.send_keys("S181")
    opts = b.wait(lambda: [o.get_attribute("value") for o in b.all("#dl-fw-test_bin-device-list option")],
                  what="device suggestions")
    assert dev in opts and all("S181" in o for o in opts) and len(opts) == 3
    inp.clear()
    inp.send_keys(dev)
    b.screenshot("ops-files-download")
    click(b, b.css('form[aria-label="Download fw-test.bin onto devices"] button[type=submit]'))
    link = b.wait_css('form[aria-label="Download fw-test.bin onto devices"] p a')
    task_id = int(link.text.split("#")[1])
    t = s.get(f"/api/tasks/{task_id}")
    assert t["type"] == "download" and t["parameters"] == {"file": "fw-test.bin"} and t["device_id"] == dev
    click(b, link)
    b.wait_text("#view h1", f"Task #{task_id}")
    # the page follows the task (events, or its backstop) to done: the CPE
    # downloads, reboots and sends TransferComplete
    b.wait_text("#view h1", "done", timeout=90)
    assert s.get(f"/api/tasks/{task_id}")["status"] == "done"
    b.screenshot("ops-task-done")
    # the same file onto every device a filter matches: a bulk
    b.go("#/files")
    click(b, b.wait_css('button[aria-label="Download fw-test.bin onto devices"]'))
    click(b, b.wait_css("#dl-fw-test_bin-many"))
    assert not b.css("#dl-fw-test_bin-filter").get_attribute("disabled")
    b.css("#dl-fw-test_bin-filter").send_keys("serial^=S098")
    click(b, b.css('form[aria-label="Download fw-test.bin onto devices"] button[type=submit]'))
    link = b.wait_css('form[aria-label="Download fw-test.bin onto devices"] p a')
    bulk = s.get(f"/api/bulk/{int(link.text.split('#')[1])}")
    assert bulk["type"] == "download" and bulk["total"] == 3 and bulk["filter"] == "serial^=S098"
    assert bulk["parameters"] == {"file": "fw-test.bin"} and bulk["max_in_flight"] == 50
    assert page_errors(b) == []


def test_bulk_progress(dash):
    b, s = dash, dash.system
    r = s.api.post(f"{s.url}/api/tasks", timeout=30, json={
        "filter": "serial^=S098", "max_in_flight": 1,
        "task": {"type": "get_params", "parameters": {"names": ["InternetGatewayDevice.DeviceInfo.UpTime"]}}})
    assert r.status_code == 201, r.text
    bid = r.json()["id"]
    b.go("#/bulk")
    row = b.wait_css(f'#view a[href="#/bulk/{bid}"]')
    assert b.css(".ops-progress")
    b.screenshot("ops-bulk")
    click(b, row)
    b.wait_text("#view h1", f"Bulk #{bid}")
    assert b.css('.ops-progress[role="progressbar"]').get_attribute("aria-valuemax") == "3"
    b.wait_text("#view h1", "done", timeout=60)
    b.wait(lambda: b.css('.ops-progress').get_attribute("aria-valuenow") == "3", what="3 finished")
    assert "done 3" in b.css(".ops-legend").text
    assert s.get(f"/api/bulk/{bid}")["counts"]["done"] == 3
    # its tasks by status, and on the Tasks page
    from selenium.webdriver.support.ui import Select
    Select(b.css("#bulk-list-status")).select_by_value("done")
    b.wait(lambda: len(b.all("#view section table tbody tr")) == 3, what="3 done tasks listed")
    b.screenshot("ops-bulk-detail")
    b.go(f"#/tasks?bulk={bid}")
    b.wait(lambda: len(b.all("#view tbody tr")) == 3, what="the bulk's 3 tasks")
    assert page_errors(b) == []


def test_fault_retried_then_cleared(dash):
    b, s = dash, dash.system
    dev = first_device(s, "S181")
    t1 = failed_task(s, dev)
    b.go("#/faults")
    click(b, b.wait_css(f'button[aria-label="Retry task {t1}"]'))
    # the retry queued the task again (cleared the first fault); the CPE
    # refuses it again: a new fault, for the new task
    b.wait(lambda: not b.all(f'button[aria-label="Retry task {t1}"]'), what="the first fault gone")
    faults = s.wait(lambda: [f for f in s.get("/api/faults") if f["task"]["id"] != t1], 60, "the retried task's fault")
    t2 = faults[0]["task"]["id"]
    assert t2 > t1 and s.get(f"/api/tasks/{t2}")["parameters"]["values"] == {RO_PARAM: "x"}
    b.go("#/tasks")  # leave and come back: the list is read again
    b.go("#/faults")
    clear = b.wait_css(f'button[aria-label="Clear task {t2}"]')
    b.screenshot("ops-faults")
    click(b, clear)
    dlg = b.wait_css("dialog[open]")
    assert "Clear the fault" in dlg.text
    b.css("dialog[open] button[type=submit]").click()
    b.wait_text("#view p[aria-live]", "No open faults")
    assert s.get("/api/faults") == []
    assert page_errors(b) == []


def test_provision_syntax_error_shows_its_line(dash):
    b, s = dash, dash.system
    b.go("#/provisions")
    b.wait_css("#cfg-new-name").send_keys("broken")
    b.css("#cfg-new-name").submit()
    ta = b.wait_css("#cfg-source")
    ta.clear()
    ta.send_keys('local ssid = "x"\ndeclare("Device.WiFi.SSID.1.SSID", nil, {value = ssid})\nif then\n')
    save = next(x for x in b.all("#view button") if x.text == "Save")
    click(b, save)
    err = b.wait_css("#cfg-error")
    assert err.text.startswith("Line 3:"), err.text
    assert b.css(".ops-editor .gutter .bad").text == "3"
    b.screenshot("ops-provision-syntax-error")
    r = s.api.get(f"{s.url}/api/provisions/broken", timeout=10)
    assert r.status_code == 404  # nothing was stored
    ta.clear()
    ta.send_keys('declare("Device.WiFi.SSID.1.SSID", nil, {value = "x"})\n')
    click(b, save)
    b.wait(lambda: s.api.get(f"{s.url}/api/provisions/broken", timeout=10).status_code == 200, what="saved")
    assert s.get("/api/provisions/broken")["source"] == 'declare("Device.WiFi.SSID.1.SSID", nil, {value = "x"})\n'
    b.wait_css('#view nav a[href="#/provisions?name=broken"]')
    assert [e for e in page_errors(b) if "/api/provisions/broken" not in e] == []


def test_pending_task_opened_and_cancelled(dash):
    b, s = dash, dash.system
    dev = quiet_device(s)
    r = s.api.post(f"{s.url}/api/devices/{enc(dev)}/tasks", timeout=30, json={"type": "reboot"})
    tid = r.json()["id"]
    b.go(f"#/tasks?device={enc(dev)}")
    click(b, b.wait_css(f'#view a[href="#/tasks/{tid}"]'))
    b.wait_text("#view h1", "pending")
    b.screenshot("ops-task-pending")
    click(b, b.css(f'button[aria-label="Cancel task {tid}"]'))
    b.wait_css("dialog[open]")
    b.css("dialog[open] button[type=submit]").click()
    b.wait_text("#view h1", "cancelled")
    assert s.get(f"/api/tasks/{tid}")["status"] == "cancelled"


def seed_everything(s):
    """One of each thing the views act on, for the role tests."""
    dev = quiet_device(s)
    tid = s.api.post(f"{s.url}/api/devices/{enc(dev)}/tasks", timeout=30, json={"type": "reboot"}).json()["id"]
    bulk = s.api.post(f"{s.url}/api/tasks", timeout=30, json={"ids": [dev], "task": {"type": "reboot"}})
    assert bulk.status_code == 201, bulk.text
    failed_task(s, first_device(s, "S181"))
    assert s.api.put(f"{s.url}/api/files/seed.bin", data=b"seed", timeout=10).status_code == 201
    assert s.api.put(f"{s.url}/api/presets/AutoSSID", timeout=10, json={
        "events": ["0 BOOTSTRAP"],
        "provisions": [{"type": "set", "path": "Device.WiFi.SSID.1.SSID", "value": "AutoSSID_{serial_number}"}]}).ok
    for kind in ("provisions", "virtual-parameters"):
        assert s.api.put(f"{s.url}/api/{kind}/p1", data=b"return {value = {\"x\", \"xsd:string\"}}\n",
                         headers={"Content-Type": "text/plain"}, timeout=10).ok
    return {"task": tid, "bulk": bulk.json()["id"]}


def visit(b, seed):
    """Every operations view with something to act on: {hash: buttons shown}."""
    views = ["#/tasks", f"#/tasks/{seed['task']}", "#/faults", "#/bulk", f"#/bulk/{seed['bulk']}",
             "#/files", "#/presets?name=AutoSSID", "#/provisions?name=p1",
             "#/virtual-parameters?name=p1", "#/keys"]
    seen = {}
    for v in views:
        b.go(v)
        b.wait(lambda: b.all("#view h1") and "Loading" not in b.css("#view").text, what=v)
        time.sleep(0.5)  # the view's own fetches
        seen[v] = buttons(b)
        seen[v + " editable"] = [t for t in b.all("#view textarea") if t.get_attribute("readonly") is None]
        seen[v + " inputs"] = b.all("#view input[type=file]")
    return seen


@pytest.mark.parametrize("role", ["viewer", "operator"])
def test_roles_see_only_their_actions(dash_system, browser, role):
    s, b = dash_system, browser
    seed = seed_everything(s)
    b.base = s.url
    b.open("/")
    b.sign_in(s.key(role))
    b.wait_text("#who-role", role)
    seen = visit(b, seed)
    for v in ("#/presets?name=AutoSSID", "#/provisions?name=p1", "#/virtual-parameters?name=p1"):
        assert not seen[v] & ADMIN_ACTIONS, (v, seen[v])
        assert seen[v + " editable"] == [], v
    assert not any("API keys" == a.text for a in b.all("#nav-list a"))
    if role == "viewer":
        for v, shown in seen.items():
            if isinstance(shown, set):
                assert not shown & (OPERATOR_ACTIONS | ADMIN_ACTIONS), (v, shown)
        assert seen["#/files inputs"] == []
        b.go("#/faults")
        b.screenshot("ops-viewer-faults")
    else:
        assert "Cancel" in seen["#/tasks"] and "Cancel" in seen[f"#/tasks/{seed['task']}"]
        assert {"Retry", "Clear"} <= seen["#/faults"]
        assert "Cancel" in seen["#/bulk"] and "Cancel" in seen[f"#/bulk/{seed['bulk']}"]
        assert {"Upload", "Delete", "Download to devices"} <= seen["#/files"]
        assert len(seen["#/files inputs"]) == 1
        b.go("#/presets?name=AutoSSID")
        b.wait_text("#view", "needs an admin key")
        b.screenshot("ops-operator-presets")
    b.go("#/keys")
    b.wait_text("#view", "needs the admin role")
    assert page_errors(b) == []


def test_screenshots_of_every_view(dash):
    """Each view at desktop and phone width (the artifacts), with no page errors."""
    b, s = dash, dash.system
    seed = seed_everything(s)
    for w, tag in ((1280, "ops"), (390, "ops-phone")):
        b.d.set_window_size(w, 900)
        for v in ("#/tasks", "#/faults", "#/bulk", f"#/bulk/{seed['bulk']}", "#/files",
                  "#/presets?name=AutoSSID", "#/provisions?name=p1", "#/virtual-parameters?name=p1", "#/keys"):
            b.go(v)
            b.wait(lambda: b.all("#view h1"), what=v)
            time.sleep(0.6)
            name = v.strip("#/").split("?")[0].replace("/", "-")
            b.screenshot(f"{tag}-{name}")
            # every control has a label, every button a name
            unlabelled = b.d.execute_script(
                "return [...document.querySelectorAll('#view input, #view select, #view textarea')]"
                ".filter(e => !e.labels.length && !e.getAttribute('aria-label')).map(e => e.outerHTML)"
                ".concat([...document.querySelectorAll('#view button')]"
                ".filter(e => !e.textContent.trim() && !e.getAttribute('aria-label')).map(e => e.outerHTML))")
            assert unlabelled == [], (v, unlabelled)
        if w == 390:
            # nothing wider than the window at phone width
            b.go("#/tasks")
            time.sleep(0.5)
            assert b.d.execute_script("return document.documentElement.scrollWidth") <= 392
    assert page_errors(b) == []


def test_preset_errors_shown(dash):
    """A preset's JSON error is marked at its line; a 422 names the field."""
    b, s = dash, dash.system
    b.go("#/presets")
    b.wait_css("#cfg-new-name").send_keys("wifi")
    b.css("#cfg-new-name").submit()
    ta = b.wait_css("#cfg-source")
    ta.clear()
    ta.send_keys('{\n"events": ["1 BOOT"]\n"provisions": []\n}\n')  # no comma after line 2
    save = next(x for x in b.all("#view button") if x.text == "Save")
    click(b, save)
    err = b.wait_css("#cfg-error")
    assert "malformed JSON" in err.text and b.css(".ops-editor .gutter .bad").text == "3", err.text
    ta.clear()
    ta.send_keys('{"events": ["1 BOOT"], "provisions": [{"type": "sett"}]}\n')
    click(b, save)
    b.wait_text("#cfg-error", "provisions[0]")
    assert b.all(".ops-editor .gutter .bad") == []
    assert s.api.get(f"{s.url}/api/presets/wifi", timeout=10).status_code == 404
    ta.clear()
    ta.send_keys('{"events": ["1 BOOT"], "provisions": [{"type": "refresh", "path": "Device.WiFi."}]}\n')
    click(b, save)
    b.wait_css('#view nav a[href="#/presets?name=wifi"]')
    assert s.get("/api/presets/wifi")["provisions"] == [{"type": "refresh", "path": "Device.WiFi."}]


def test_keys_added_shown_once_and_revoked(dash):
    b, s = dash, dash.system
    from selenium.webdriver.support.ui import Select
    b.go("#/keys")
    b.wait_css("#key-name").send_keys("ci deploy")
    Select(b.css("#key-role")).select_by_value("operator")
    click(b, next(x for x in b.all("#view button") if x.text == "Add key"))
    token = b.wait_css("#key-token").text
    assert token.startswith("opk_")
    click(b, b.css("#key-copy"))
    b.wait(lambda: b.css("#key-copy").text in ("Copied", "Selected: press Ctrl+C"), what="copied")
    import requests
    who = requests.get(f"{s.url}/api/whoami", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert who.status_code == 200 and who.json()["role"] == "operator"
    key_id = token.split("_")[1]
    b.screenshot("ops-keys-added")
    b.go("#/tasks")
    b.go("#/keys")  # drawn again: the token is not shown any more
    revoke = b.wait_css(f'button[aria-label="Revoke key ci deploy ({key_id})"]')
    assert not b.all("#key-token")
    click(b, revoke)
    b.wait_css("dialog[open]")
    b.css("dialog[open] button[type=submit]").click()
    b.wait(lambda: not b.all(f'button[aria-label="Revoke key ci deploy ({key_id})"]'), what="revoked")
    who = requests.get(f"{s.url}/api/whoami", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert who.status_code == 401
    assert page_errors(b) == []


def test_tasks_follow_events_live(dash):
    """A task made elsewhere appears on top of the Tasks list and moves to
    done there, from the event stream alone (the list does not poll)."""
    b, s = dash, dash.system
    dev = first_device(s, "S181")
    b.go("#/tasks")
    b.wait_css("#view tbody tr")
    b.wait(lambda: b.d.execute_script("return document.getElementById('live').classList.contains('on')"),
           what="the event stream up")
    r = s.api.post(f"{s.url}/api/devices/{enc(dev)}/tasks", timeout=30,
                   json={"type": "get_params", "parameters": {"names": ["Device.DeviceInfo.UpTime"]}})
    tid = r.json()["id"]
    row = f'#view tbody tr[data-task="{tid}"]'
    b.wait(lambda: b.all("#view tbody tr")[0].get_attribute("data-task") == str(tid), what="the new task on top")
    b.wait_text(row, "done")
    assert s.get(f"/api/tasks/{tid}")["status"] == "done"
    assert page_errors(b) == []
