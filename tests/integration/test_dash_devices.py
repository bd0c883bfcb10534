"""The dashboard's device list and device page in headless chromium, against
a real ACS and cpe-sim (tests/integration/browser.py): sign in, see the
simulated devices, filter by tag and by a parameter value, open one, change
its SSID in place and watch the task finish live, see the CPE's fault for a
read-only parameter, reboot it, and run a bulk action on a filtered
selection. Screenshots go to build/screenshots/devices-*.png."""
import time
from urllib.parse import quote

from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select


def dev_path(dev_id):
    """The device page's hash for an API id (the id itself holds %XX)."""
    return "#/devices/" + quote(dev_id, safe="")


def wrong_cr_credentials(s, dev_id):
    """The device's own connection request credentials, wrong: the ACS cannot
    wake it, so its tasks stay pending (the fixture's fleet credentials
    otherwise wake every CPE at once)."""
    s.api.put(f"{s.url}/api/devices/{quote(dev_id, safe='')}/connection-request-credentials",
              json={"username": "nobody", "password": "wrong"}, timeout=10).raise_for_status()


def rows(b):
    return [tr.get_attribute("data-id") for tr in b.all("#dev-table tbody tr[data-id]")]


def wait_rows(b, pred, what):
    return b.wait(lambda: pred(rows(b)) and rows(b), 20, what)


def open_obj(b, name):
    sel = f'li.obj[data-name="{name}"] > .objline > .tgl'
    t = b.wait_css(sel)
    if t.get_attribute("aria-expanded") != "true":
        t.click()
    b.wait(lambda: b.all(f'li.obj[data-name="{name}"] > ul > li[data-name]'), 15, f"{name} opened")


def leaf(b, name):
    return b.wait_css(f'li.leaf[data-name="{name}"]')


def set_in_place(b, name, value):
    row = leaf(b, name)
    row.find_element("css selector", ".pedit").click()
    inp = b.wait(lambda: row.find_element("css selector", "form.pform input"), 5, "the edit box")
    inp.clear()
    inp.send_keys(value, Keys.ENTER)
    return row


def test_device_list_filters_and_columns(dash):
    b, s = dash, dash.system
    devices = s.get("/api/devices")
    assert len(devices) == 6
    tagged = sorted(d["id"] for d in devices)[1]
    s.api.put(f"{s.url}/api/devices/{quote(tagged, safe='')}/tags/canary", timeout=10).raise_for_status()

    b.go("#/devices")
    got = wait_rows(b, lambda r: len(r) == 6, "the six simulated devices")
    assert sorted(got) == sorted(d["id"] for d in devices)
    assert "6 devices match" in b.css("#dev-status").text
    # ids shown decoded, linked encoded
    link = b.css(f'#dev-table tr[data-id="{tagged}"] a')
    assert "%" not in link.text and link.get_attribute("href").endswith(dev_path(tagged))
    b.screenshot("devices-list")

    # the tag filter
    b.css("#dev-tag").send_keys("canary", Keys.ENTER)
    assert wait_rows(b, lambda r: len(r) == 1, "the tagged device") == [tagged]
    assert "tag=canary" in b.d.execute_script("return location.hash")
    b.css("#dev-tag").clear()

    # a parameter value, typed with the field suggestions
    box = b.css("#dev-search")
    box.send_keys("para")
    b.wait(lambda: any(li.text.startswith("param.") for li in b.all("#dev-suggest li")), 10, "param. suggested")
    box.send_keys(Keys.ARROW_DOWN, Keys.ENTER)  # picks param. and lists the roots
    b.wait(lambda: any("InternetGatewayDevice." in li.text for li in b.all("#dev-suggest li")) or
           any("Device." in li.text for li in b.all("#dev-suggest li")), 10, "root names suggested")
    box.send_keys(Keys.ESCAPE)
    box.clear()
    box.send_keys("param.InternetGatewayDevice.DeviceInfo.SerialNumber^=S098", Keys.ENTER)
    got = wait_rows(b, lambda r: len(r) == 3, "the three TR-098 devices")
    assert all("S098" in i for i in got)

    # a link with a filter (the Overview's breakdowns link so)
    b.go("#/devices?filter=" + quote("serial^=S181"))
    got = wait_rows(b, lambda r: len(r) == 3, "the three TR-181 devices from a filter link")
    assert all("S181" in i for i in got) and b.css("#dev-search").get_attribute("value") == "serial^=S181"
    box = b.css("#dev-search")

    # a syntax error is shown with the API's reason
    box.clear()
    box.send_keys("model=", Keys.ENTER)
    b.wait_text("#dev-search-error", "position")

    # a parameter column, kept across a reload
    box.clear()
    box.send_keys(Keys.ENTER)
    wait_rows(b, lambda r: len(r) == 6, "all devices again")
    b.css("#dev-cols-btn").click()
    b.css("#dev-col-param").send_keys("Device.DeviceInfo.SerialNumber", Keys.ENTER)
    b.wait(lambda: any(td.text.startswith("S181") for td in b.all("#dev-table td.param")), 15, "parameter column values")
    b.d.refresh()
    b.wait(lambda: any(td.text.startswith("S181") for td in b.all("#dev-table td.param")), 15, "the column after a reload")

    # sorting by a column: descending by id
    b.css("#dev-table th button.sort").click()  # Device: ascending -> descending
    want = sorted((d["id"] for d in devices), reverse=True)
    b.wait(lambda: rows(b) == want, 15, "rows sorted by id, descending")
    assert b.css("#dev-table th[aria-sort=descending]")
    assert not [e for e in b.js_errors() if "/api/devices?" not in e and "/api/events" not in e]

    # phone width: the table scrolls in its own box, the page does not
    b.d.set_window_size(390, 844)
    b.wait(lambda: b.d.execute_script("return document.documentElement.scrollWidth <= window.innerWidth + 1"), 5,
           "no sideways scrolling at phone width")
    b.screenshot("devices-list-phone")


def test_device_page_edit_fault_reboot(dash):
    b, s = dash, dash.system
    dev = next(d for d in s.get("/api/devices") if "S181" in d["id"])
    enc = quote(dev["id"], safe="")
    b.go(dev_path(dev["id"]))
    b.wait_text("#dv-status", "Online")
    assert b.css("#view h1").text.startswith(dev["id"].replace("%2D", "-") + " ")

    # the tree opens a level at a time
    for name in ("Device.", "Device.WiFi.", "Device.WiFi.SSID.", "Device.WiFi.SSID.1."):
        open_obj(b, name)
    ssid = leaf(b, "Device.WiFi.SSID.1.SSID")
    assert ssid.find_elements("css selector", ".wmark[title=writable]")

    # the SSID changed in place: pending -> ... -> done, live
    row = set_in_place(b, "Device.WiFi.SSID.1.SSID", "dash-ssid")
    b.wait(lambda: row.find_elements("css selector", ".ptask"), 10, "the task's state shown")
    seen = set()

    def finished():
        el = row.find_elements("css selector", ".ptask")
        if el:
            seen.add(el[0].get_attribute("data-status"))
        return "done" in seen
    b.wait(finished, 30, "the set_params task done")
    # followed through the event stream, not by polling the task: one read
    # of the whole task once it finished (its result), at most a safety poll
    assert b.visible("#live.on")
    tid = row.find_element("css selector", ".ptask").get_attribute("data-task")
    reads = b.d.execute_script("return performance.getEntriesByType('resource')"
                               ".filter(e => e.name.endsWith('/api/tasks/' + arguments[0])).length", tid)
    assert reads <= 2, reads
    assert row.find_element("css selector", ".pval").text == "dash-ssid"
    params = s.get(f"/api/devices/{enc}/parameters", params={"prefix": "Device.WiFi.SSID.1.SSID", "limit": 1})
    assert params[0]["value"] == "dash-ssid" and params[0]["set_by"] == "acs"
    b.screenshot("devices-device-edited")

    # a read-only parameter: the CPE's fault, per parameter
    open_obj(b, "Device.DeviceInfo.")
    row = set_in_place(b, "Device.DeviceInfo.SerialNumber", "NOPE")
    fault = b.wait(lambda: row.find_elements("css selector", ".pfault") and row.find_element("css selector", ".pfault"),
                   30, "the CPE's fault")
    assert "9008" in fault.text, fault.text
    assert row.find_element("css selector", ".pval").text == dev["serial_number"]
    b.screenshot("devices-device-fault")

    # search in the tree
    b.css("#dv-param-search").send_keys("ssid.1.ssid")
    b.wait(lambda: b.visible("#dv-search-results") and
           any(li.get_attribute("data-name") == "Device.WiFi.SSID.1.SSID" for li in b.all("#dv-search-results li.leaf")),
           10, "the search result")
    b.css("#dv-param-search").clear()
    b.css("#dv-param-search").send_keys(Keys.BACKSPACE)

    # a task opened from the history
    b.wait(lambda: b.all("#dv-task-table tr[data-task]"), 10, "task history")
    b.css("#dv-task-table tr[data-task] button").click()
    b.wait_text("#dv-task-table tr.detail", "9008")

    # reboot: confirmed, then done once the CPE is back (M Reboot)
    b.css("#dv-reboot").click()
    b.d.switch_to.alert.accept()
    b.wait_text("#dv-action-out", "Reboot: task", 10)
    b.wait_text("#dv-action-out", "done", 40)
    assert s.get(f"/api/devices/{enc}/tasks", params={"limit": 1})[0]["type"] == "reboot"

    # connection request: its outcome shown
    b.css("#dv-cr").click()
    b.wait_text("#dv-action-out", lambda t: "Connection request" in t and "sending" not in t, 15)

    # the factory reset needs the serial typed
    b.css("#dv-reset").click()
    b.wait_css("#dv-reset-dialog")
    assert not b.css("#dv-reset-go").is_enabled()
    b.css("#dv-reset-confirm").send_keys("wrong")
    assert not b.css("#dv-reset-go").is_enabled()
    b.css("#dv-reset-confirm").send_keys(Keys.ESCAPE)
    b.wait(lambda: not b.all("#dv-reset-dialog"), 5, "the dialog closed")
    b.screenshot("devices-device")
    assert not [e for e in b.js_errors() if "/api/" not in e]


def test_bulk_action_on_filtered_selection(dash):
    b, s = dash, dash.system
    b.go("#/devices?tag=&search=" + quote("param.InternetGatewayDevice.DeviceInfo.SerialNumber^=S098"))
    got = wait_rows(b, lambda r: len(r) == 3, "the filtered devices")
    b.css("#dev-sel-all").click()
    b.css("#dev-bulk-btn").click()
    assert b.css("#bulk-scope-sel").is_selected()
    Select(b.css("#bulk-type")).select_by_value("set_params")
    b.wait_css("#bulk-name").send_keys("InternetGatewayDevice.LANDevice.1.WLANConfiguration.1.SSID")
    b.css("#bulk-value").send_keys("bulk-ssid")
    b.css("#bulk-start").click()
    link = b.wait_css("#bulk-link")
    first = link.get_attribute("href")
    bulk_id = first.rsplit("/", 1)[1]
    assert "3 tasks" in b.css("#bulk-result").text
    b.screenshot("devices-bulk")
    bulk = s.wait(lambda: (x := s.get(f"/api/bulk/{bulk_id}"))["state"] != "running" and x, 60, "the bulk finished")
    assert bulk["state"] == "done" and bulk["total"] == 3 and bulk["counts"]["done"] == 3, bulk
    for i in got:
        p = s.get(f"/api/devices/{quote(i, safe='')}/parameters",
                  params={"prefix": "InternetGatewayDevice.LANDevice.1.WLANConfiguration.1.SSID", "limit": 1})
        assert p[0]["value"] == "bulk-ssid"

    # the whole filter as the scope: every matching device, none selected
    b.css("#dev-sel-all").click()
    b.wait(lambda: not b.css("#dev-sel-all").is_selected(), 5, "selection cleared")
    assert not b.css("#bulk-scope-sel").is_enabled()
    Select(b.css("#bulk-type")).select_by_value("get_params")
    b.wait_css("#bulk-name").send_keys("InternetGatewayDevice.DeviceInfo.")
    b.css("#bulk-start").click()
    b.wait(lambda: b.all("#bulk-link") and b.css("#bulk-link").get_attribute("href") != first, 10,
           "a second bulk")
    bid = b.css("#bulk-link").get_attribute("href").rsplit("/", 1)[1]
    bulk = s.get(f"/api/bulk/{bid}")
    assert bulk["total"] == 3 and "SerialNumber^=S098" in bulk["filter"]


def test_viewer_sees_no_actions(dash):
    b, s = dash, dash.system
    viewer = s.key("viewer")
    dev = s.get("/api/devices")[0]
    enc = quote(dev["id"], safe="")
    # as admin first: a task that stays pending (the CPE cannot be woken)
    # is cancelled from the history
    wrong_cr_credentials(s, dev["id"])
    b.go(dev_path(dev["id"]))
    b.wait_text("#dv-status", "Online")
    r = s.api.post(f"{s.url}/api/devices/{enc}/tasks", json={"type": "get_rpc_methods"}, timeout=10)
    tid = r.json()["id"]
    cancel = b.wait(lambda: b.all(f'#dv-task-table tr[data-task="{tid}"] button[aria-label="Cancel task {tid}"]'), 15,
                    "the pending task in the history")
    cancel[0].click()
    b.wait_text(f'#dv-task-table tr[data-task="{tid}"]', "cancelled")
    assert s.get(f"/api/tasks/{tid}")["status"] == "cancelled"
    b.css("#signout").click()
    b.sign_in(viewer)
    b.go("#/devices")
    wait_rows(b, lambda r: len(r) == 6, "the devices")
    assert not b.all("#dev-bulk-btn") and not b.all("#dev-sel-all")
    b.go(dev_path(dev["id"]))
    b.wait_text("#dv-status", "Online")
    open_obj(b, b.css("#dv-tree > li.obj").get_attribute("data-name"))
    assert not b.all("#dv-actions") and not b.all(".pedit") and not b.all("#dv-tag-new")
    time.sleep(0.2)
    b.screenshot("devices-device-viewer")
    b.d.set_window_size(390, 844)
    b.wait(lambda: b.d.execute_script("return document.documentElement.scrollWidth <= window.innerWidth + 1"), 5,
           "no sideways scrolling at phone width")
    b.screenshot("devices-device-phone")


def test_device_firmware_download_and_upload(dash):
    b, s = dash, dash.system
    dev = next(d for d in s.get("/api/devices") if "S181" in d["id"])
    enc = quote(dev["id"], safe="")
    s.api.put(f"{s.url}/api/files/fw-2.0.bin", data=b"\x7fFW" * 1000,
              params={"file_type": "1 Firmware Upgrade Image", "version": "2.0"}, timeout=10).raise_for_status()
    b.go(dev_path(dev["id"]))
    b.wait(lambda: any(o.get_attribute("value") == "fw-2.0.bin" for o in b.all("#dv-fw-file option")), 15,
           "the stored firmware offered")
    Select(b.css("#dv-fw-file")).select_by_value("fw-2.0.bin")
    b.css("#dv-fw-go").click()
    b.wait_text("#dv-action-out", "Download: task", 10)
    b.wait_text("#dv-action-out", "done", 60)
    task = s.get(f"/api/devices/{enc}/tasks", params={"limit": 1})[0]
    assert task["type"] == "download" and task["parameters"] == {"file": "fw-2.0.bin"} and task["status"] == "done"

    # the configuration, uploaded into the file store under the name given
    Select(b.css("#dv-up-type")).select_by_value("1 Vendor Configuration File")
    name = b.css("#dv-up-name")
    name.clear()
    name.send_keys("backup-s181.cfg")
    b.css("#dv-up-go").click()
    b.wait_text("#dv-action-out", "Upload: task", 10)
    b.wait_text("#dv-action-out", "done", 60)
    f = s.get("/api/files/backup-s181.cfg")
    assert f["size"] > 0 and f["task_id"]
    b.screenshot("devices-device-transfers")


def test_device_object_instances(dash):
    b, s = dash, dash.system
    dev = next(d for d in s.get("/api/devices") if "S181" in d["id"])
    b.go(dev_path(dev["id"]))
    open_obj(b, "Device.")
    b.wait_css('li.obj[data-name="Device.NAT."] > .objline > .tgl').click()
    table = b.wait_css('li.obj[data-name="Device.NAT.PortMapping."]')
    table.find_element("css selector", 'button[aria-label="Add an instance to Device.NAT.PortMapping."]').click()
    # done, then the table read again: the new instance is in the tree
    b.wait_text('li.obj[data-name="Device.NAT.PortMapping."] > .objline', "instance 1", 30)
    inst = b.wait_css('li.obj[data-name="Device.NAT.PortMapping.1."]')
    assert inst.find_element("css selector", ".badge").text != "0"
    inst.find_element("css selector", 'button[aria-label="Delete Device.NAT.PortMapping.1."]').click()
    b.d.switch_to.alert.accept()
    b.wait(lambda: not b.all('li.obj[data-name="Device.NAT.PortMapping.1."]'), 30, "the instance gone from the tree")
    enc = quote(dev["id"], safe="")
    types = [t["type"] for t in s.get(f"/api/devices/{enc}/tasks", params={"limit": 4})]
    assert "delete_object" in types and "add_object" in types
