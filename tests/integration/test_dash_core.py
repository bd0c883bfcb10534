"""The dashboard's shell and Overview in headless chromium against a real
ACS and cpe-sim (tests/integration/browser.py): sign-in, the Overview's
numbers and charts, live updates without a reload, role-dependent nav,
sign-out, and a screenshot of every view (build/screenshots/)."""
import re

VIEWS_JS = """
const done = arguments[arguments.length - 1];
import('/views/index.js').then((m) => done(m.default.map((v) => [v.path, v.title, !!v.nav, v.minRole || 'viewer'])),
                               (e) => done({error: String(e)}));
"""
RANK = {"viewer": 1, "operator": 2, "admin": 3}


def nav_links(b):
    return ["#" + a.get_attribute("href").split("#", 1)[1] for a in b.all("#nav-list a")]


def not_network(errors):
    """Console errors that are not the 401s a wrong key causes on purpose."""
    return [e for e in errors if " 401 " not in e and "401 (Unauthorized)" not in e]


def test_sign_in_refuses_a_wrong_key(dash_system, browser):
    b = browser
    b.base = dash_system.url
    b.open("/")
    assert b.wait_css("#signin-key")
    b.sign_in("not-a-key", expect_ok=False)
    msg = b.wait_text("#signin-error", "not accepted")
    assert "not accepted" in msg
    assert not b.visible("#nav")
    assert b.d.execute_script("return sessionStorage.getItem('outpost-api-key')") is None
    b.screenshot("signin-refused")
    b.sign_in(dash_system.token)
    assert b.wait_text("#view h1", "Overview")
    assert b.css("#who-role").text == "admin"
    assert not not_network(b.js_errors())


def test_overview_numbers_charts_and_live_update(dash):
    b, s = dash, dash.system
    assert b.wait_text("#ov-total .value", "6")
    stats = s.get("/api/stats")
    assert b.css("#ov-online .value").text == str(stats["online_devices"])
    assert b.css("#ov-offline .value").text == str(stats["offline_devices"])
    # three charts, each an SVG with a line
    b.wait_css("#ov-chart-informs svg")
    for c in ("informs", "sessions", "faults"):
        svg = b.css(f"#ov-chart-{c} svg")
        assert svg.get_attribute("role") == "img" and svg.get_attribute("aria-label")
        assert b.all(f"#ov-chart-{c} svg path.line")
    assert "6 in" in b.css("#ov-chart-informs svg").get_attribute("aria-label")  # 6 informs charted
    # the breakdown as the API counts it; a click filters the device list
    bd = s.get("/api/stats/breakdown")
    want = [x["value"] or "(none)" for x in bd["model"]["top"]] + \
        [x["value"] or "(none)" for x in bd["software_version"]["top"]]
    shown = b.wait(lambda: [x.text for x in b.all("#ov-breakdown .bars button")], what="breakdown")
    assert shown == want and sum(x["count"] for x in bd["model"]["top"]) == 6
    b.screenshot("overview")
    # live: a new device informs, the count changes without a reload
    b.d.execute_script("window.__no_reload = 42")
    s.add_cpes(1, "tr181", "LIVE")
    assert b.wait_text("#ov-total .value", "7", timeout=20)
    assert b.d.execute_script("return window.__no_reload") == 42
    assert b.css("#live").get_attribute("class") == "live on"
    first = b.all("#ov-breakdown .bars button")[0]
    label = first.text
    first.click()
    b.wait(lambda: b.d.execute_script("return location.hash").startswith("#/devices?filter="),
           what="navigation to the device list")
    h = b.d.execute_script("return decodeURIComponent(location.hash)")
    assert re.search(r"filter=model=", h) and label.replace("(none)", "") in h
    assert not not_network(b.js_errors())


def test_nav_follows_the_role_and_sign_out(dash_system, browser):
    b, s = browser, dash_system
    b.base = s.url
    views = None
    for role in ("viewer", "operator", "admin"):
        key = s.key(role) if role != "admin" else s.token
        b.open("/")
        b.sign_in(key)
        if views is None:
            views = b.d.execute_async_script(VIEWS_JS)
            assert isinstance(views, list) and views, views
        want = [p for p, _, nav, need in views if nav and RANK[need] <= RANK[role]]
        assert nav_links(b) == want, (role, nav_links(b))
        assert b.css("#who-role").text == role
        if role == "viewer":   # no admin entry (API keys...) for a viewer
            admin_only = [p for p, _, nav, need in views if need == "admin"]
            assert not set(admin_only) & set(nav_links(b))
            b.screenshot("overview-viewer")
        b.css("#signout").click()
        b.wait_css("#signin-key")
        assert b.d.execute_script("return sessionStorage.getItem('outpost-api-key')") is None
        assert not b.visible("#nav") and not b.css("#view").text
        b.open("/")   # a reload stays signed out
        b.wait_css("#signin-key")


def test_every_view_renders_with_a_screenshot(dash):
    """Each view in the nav opens, has a heading, raises no error; its
    screenshot is kept under build/screenshots/."""
    b = dash
    for path in nav_links(b):
        b.go(path)
        b.wait(lambda p=path: b.d.execute_script("return location.hash") == p, what=path)
        h1 = b.wait_css("#view h1")
        assert h1.text, path
        b.wait(lambda: not b.all("#view .error[role=alert]") or True)
        name = re.sub(r"[^a-z0-9]+", "-", path.lower()).strip("-") or "root"
        b.screenshot(f"view-{name}")
        errors = not_network(b.js_errors())
        assert not errors, (path, errors)
    # phone width: the nav folds behind a button
    b.d.set_window_size(390, 844)
    b.open("/")
    b.wait_css("#view h1")
    assert b.visible("#nav-toggle")
    b.screenshot("overview-phone")
