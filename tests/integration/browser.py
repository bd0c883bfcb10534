"""The dashboard in a real browser: headless Debian chromium driven through
chromium-driver with python3-selenium (scripts/install-deps installs the
three with the test packages).

Fixtures (conftest.py imports them, so every test file can ask for them):

  browser       a Browser (headless chromium, 1280x900); skips with the
                reason when chromium, chromium-driver or selenium is missing
  dash_system   an ACS (admin token) and a cpe-sim fleet of both models
                informing it: .api (requests session with the token), .url,
                .token, .key(role) makes an API key, .wait(fn) polls,
                .add_cpes(n, model, prefix) starts more CPEs
  dash          dash_system + browser, signed in as admin at the Overview

Browser helpers: b.open(path), b.sign_in(key), b.css(sel), b.wait_css(sel),
b.wait_text(sel, predicate_or_text), b.wait(fn), b.screenshot(name) (saved as
build/screenshots/NAME.png), b.js_errors() (the page's console errors).
"""
import os
import shutil
import time
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "build" / "screenshots"
CHROMIUM = os.environ.get("OUTPOST_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("OUTPOST_CHROMEDRIVER", "/usr/bin/chromedriver")
TOKEN = "dash-admin-token"


def missing():
    """Why the browser tests cannot run here, or None."""
    if not os.access(CHROMIUM, os.X_OK):
        return f"{CHROMIUM} missing (Debian package chromium: scripts/install-deps)"
    if not os.access(CHROMEDRIVER, os.X_OK):
        return f"{CHROMEDRIVER} missing (Debian package chromium-driver: scripts/install-deps)"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "python3-selenium missing (scripts/install-deps)"
    return None


class Browser:
    def __init__(self, tmp):
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service

        opts = webdriver.ChromeOptions()
        opts.binary_location = CHROMIUM
        for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                  "--window-size=1280,900", "--no-first-run", "--disable-extensions",
                  "--disable-background-networking", "--disable-sync", "--metrics-recording-only",
                  f"--user-data-dir={tmp}", "--lang=en-US"):
            opts.add_argument(a)
        opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        self.d = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
        self.d.set_page_load_timeout(30)
        self.base = ""
        self._logs = []

    def close(self):
        try:
            self.d.quit()
        except Exception:  # noqa: BLE001 - the browser may be gone already
            pass

    # ---- navigation ----
    def open(self, path="/"):
        self.d.get(self.base + path)

    def go(self, hash_path):
        """Navigate inside the page (no reload): '#/devices'."""
        self.d.execute_script("location.hash = arguments[0]", hash_path)

    def sign_in(self, key, expect_ok=True):
        self.wait_css("#signin-key")
        el = self.css("#signin-key")
        el.clear()
        el.send_keys(key)
        self.css("#signin-form button[type=submit]").click()
        if expect_ok:
            self.wait_css("#view h1")

    # ---- finding things ----
    def css(self, sel):
        from selenium.webdriver.common.by import By
        return self.d.find_element(By.CSS_SELECTOR, sel)

    def all(self, sel):
        from selenium.webdriver.common.by import By
        return self.d.find_elements(By.CSS_SELECTOR, sel)

    def visible(self, sel):
        els = self.all(sel)
        return bool(els) and els[0].is_displayed()

    def wait(self, fn, timeout=15.0, what="condition"):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            try:
                v = fn()
                if v:
                    return v
            except Exception as e:  # noqa: BLE001 - stale elements while the page redraws
                last = e
            time.sleep(0.1)
        raise AssertionError(f"timed out waiting for {what} (last error: {last!r}); "
                             f"page errors: {self.js_errors()}")

    def wait_css(self, sel, timeout=15.0):
        return self.wait(lambda: self.visible(sel) and self.css(sel), timeout, f"visible {sel}")

    def wait_text(self, sel, want, timeout=15.0):
        ok = want if callable(want) else (lambda t: want in t)
        return self.wait(lambda: ok(self.css(sel).text) and self.css(sel).text, timeout,
                         f"{sel} text matching {want!r}")

    # ---- artifacts ----
    def screenshot(self, name):
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        self.d.save_screenshot(str(path))
        return path

    def js_errors(self):
        """Console errors since the last call (failed requests the test caused,
        like a 401 for a wrong key, show here too: filter them)."""
        try:
            self._logs += self.d.get_log("browser")
        except Exception:  # noqa: BLE001
            pass
        out = [x["message"] for x in self._logs if x.get("level") == "SEVERE"]
        self._logs = []
        return out


@pytest.fixture
def browser(tmp_path):
    why = missing()
    if why:
        pytest.skip(why)
    b = Browser(tmp_path / "chromium-profile")
    yield b
    b.close()
    shutil.rmtree(tmp_path / "chromium-profile", ignore_errors=True)


class DashSystem:
    def __init__(self, outpost, tmp_path):
        self.outpost = outpost
        self.tmp = tmp_path
        self.token = TOKEN
        self.acs = outpost("acs", "--cwmp-listen", "127.0.0.1:0", "--api-listen", "127.0.0.1:0",
                           "--data-dir", str(tmp_path / "acs"), "--api-token", TOKEN,
                           "--cpe-auth", "none", "--cr-deny", "169.254.0.0/16",
                           "--cr-username", "cr", "--cr-password", "crpw")
        self.url = self.acs.url("api")
        host, port = self.acs.addr("listen")
        self.cwmp = f"http://{host}:{port}/"
        self.api = requests.Session()
        self.api.headers["Authorization"] = f"Bearer {TOKEN}"
        self.sims = []

    def get(self, path, **kw):
        r = self.api.get(self.url + path, timeout=30, **kw)
        r.raise_for_status()
        return r.json()

    def key(self, role):
        r = self.api.post(self.url + "/api/keys", json={"name": f"test-{role}", "role": role}, timeout=10)
        r.raise_for_status()
        return r.json()["token"]

    def add_cpes(self, n, model="tr181", prefix=None):
        prefix = prefix or f"{model.upper()}X{len(self.sims)}"
        d = self.tmp / f"sim{len(self.sims)}"
        sim = self.outpost("cpe-sim", "--acs", self.cwmp, "--count", str(n), "--model", model,
                           "--serial-prefix", prefix, "--cr-listen", "127.0.0.1:0",
                           "--cr-username", "cr", "--cr-password", "crpw",
                           "--inform-interval", "600", "--data-dir", str(d), "--stats-interval", "0")
        self.sims.append(sim)
        return sim

    def wait(self, fn, timeout=30.0, what="condition"):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            v = fn()
            if v:
                return v
            time.sleep(0.1)
        raise AssertionError(f"timed out waiting for {what}")

    def wait_devices(self, n, timeout=30.0):
        return self.wait(lambda: self.get("/api/stats")["total_devices"] >= n, timeout, f"{n} devices")


@pytest.fixture
def dash_system(outpost, tmp_path):
    """An ACS and 6 CPEs (3 TR-181, 3 TR-098) that have informed it."""
    s = DashSystem(outpost, tmp_path)
    s.add_cpes(3, "tr181", "S181")
    s.add_cpes(3, "tr098", "S098")
    s.wait_devices(6)
    return s


@pytest.fixture
def dash(dash_system, browser):
    """The dashboard signed in as admin, at the Overview."""
    browser.base = dash_system.url
    browser.open("/")
    browser.sign_in(dash_system.token)
    browser.system = dash_system
    return browser
