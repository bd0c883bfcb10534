"""The dashboard's files (web/) as the ACS serves them: embedded with ETag
and gzip, public, self-contained; --web-dir serves from disk; GET
/api/whoami names the key's role."""
import gzip
import re

import requests

from conftest import ROOT

TOKEN = "web-test-token"


def start_acs(outpost, tmp_path, *extra):
    return outpost("acs", "--cwmp-listen", "127.0.0.1:0", "--api-listen", "127.0.0.1:0",
                   "--data-dir", str(tmp_path / "data"), "--api-token", TOKEN, "--cpe-auth", "none",
                   *extra)


def web_files():
    """Every file under web/ as the URL path it is served at."""
    web = ROOT / "web"
    return sorted("/" + str(p.relative_to(web)) for p in web.rglob("*")
                  if p.is_file() and not p.name.startswith("."))


def test_every_web_file_is_served_as_built(outpost, tmp_path):
    d = start_acs(outpost, tmp_path)
    base = d.url("api")
    files = web_files()
    assert "/index.html" in files and "/app.js" in files and "/views/index.js" in files
    for path in files:
        want = (ROOT / "web" / path.lstrip("/")).read_bytes()
        r = requests.get(base + path, headers={"Accept-Encoding": "identity"}, timeout=5)
        assert r.status_code == 200, path
        assert r.content == want, f"{path}: the binary serves another copy (rebuild?)"
        assert r.headers["etag"].startswith('"') and "default-src 'self'" in \
            r.headers["content-security-policy"]
        assert r.headers["x-content-type-options"] == "nosniff"
    root = requests.get(base + "/", timeout=5)
    assert root.content == (ROOT / "web" / "index.html").read_bytes()
    assert root.headers["content-type"].startswith("text/html")
    assert requests.get(base + "/app.js", timeout=5).headers["content-type"].startswith("text/javascript")


def test_etag_and_gzip(outpost, tmp_path):
    d = start_acs(outpost, tmp_path)
    base = d.url("api")
    r = requests.get(base + "/app.js", headers={"Accept-Encoding": "identity"}, timeout=5)
    etag = r.headers["etag"]
    again = requests.get(base + "/app.js", headers={"If-None-Match": etag, "Accept-Encoding": "identity"},
                         timeout=5)
    assert again.status_code == 304 and again.content == b""
    raw = requests.get(base + "/app.js", headers={"Accept-Encoding": "gzip"}, timeout=5, stream=True)
    assert raw.headers["content-encoding"] == "gzip" and raw.headers["etag"] != etag
    assert gzip.decompress(raw.raw.read()) == r.content
    # a changed file would have another ETag: the ETag is the bytes' SHA-256
    import hashlib
    assert etag == '"' + hashlib.sha256(r.content).hexdigest() + '"'


def test_self_contained_and_safe(outpost, tmp_path):
    """No CDN, font or script from elsewhere; device text is never put in as
    HTML (the views use textContent through lib.js's h())."""
    d = start_acs(outpost, tmp_path)
    base = d.url("api")
    for path in web_files():
        text = requests.get(base + path, timeout=5).text
        if path.endswith((".js", ".html", ".css")):
            assert not re.search(r"(src|href)=[\"']?(https?:)?//", text), path
            assert "@import" not in text and "url(http" not in text, path
        if path.endswith(".js"):
            assert "innerHTML" not in text and "outerHTML" not in text and \
                "insertAdjacentHTML" not in text, path
            assert "eval(" not in text and "new Function" not in text, path
    # every module views/index.js imports is served
    index = requests.get(base + "/views/index.js", timeout=5).text
    for mod in re.findall(r"from '\./([\w-]+\.js)'", index):
        assert requests.get(base + "/views/" + mod, timeout=5).status_code == 200, mod


def test_view_names_and_unknown_paths(outpost, tmp_path):
    d = start_acs(outpost, tmp_path)
    base = d.url("api")
    for bad in ("/views/nope.js", "/views/..%2Fapp.js", "/views/x.css", "/views/A.js", "/views/.js"):
        r = requests.get(base + bad, timeout=5)
        assert r.status_code in (400, 404), bad
    # no catch-all: an unknown path under /api/ still needs a key
    assert requests.get(base + "/api/nothing", timeout=5).status_code == 401
    assert requests.get(base + "/dashboard.js", timeout=5).status_code == 401  # the old page is gone


def test_whoami(outpost, tmp_path):
    d = start_acs(outpost, tmp_path)
    base = d.url("api")
    assert requests.get(base + "/api/whoami", timeout=5).status_code == 401
    r = requests.get(base + "/api/whoami", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=5)
    assert r.json() == {"role": "admin", "level": 3}
    for role, level in (("viewer", 1), ("operator", 2)):
        k = requests.post(base + "/api/keys", json={"name": role, "role": role},
                          headers={"Authorization": f"Bearer {TOKEN}"}, timeout=5).json()
        r = requests.get(base + "/api/whoami", headers={"Authorization": f"Bearer {k['token']}"}, timeout=5)
        assert r.json() == {"role": role, "level": level}
    r = requests.get(base + "/api/whoami", headers={"Authorization": "Bearer wrong"}, timeout=5)
    assert r.status_code == 401


def test_web_dir_serves_from_disk(outpost, tmp_path):
    web = tmp_path / "web"
    (web / "views").mkdir(parents=True)
    (web / "index.html").write_text("<!doctype html><title>dev copy</title>\n")
    (web / "app.js").write_text("// v1\n")
    (web / "views" / "x.js").write_text("export default {};\n")
    (tmp_path / "secret.js").write_text("// outside\n")
    d = start_acs(outpost, tmp_path, "--web-dir", str(web))
    base = d.url("api")
    r = requests.get(base + "/", timeout=5)
    assert r.status_code == 200 and "dev copy" in r.text
    assert "default-src 'self'" in r.headers["content-security-policy"]
    assert requests.get(base + "/app.js", timeout=5).text == "// v1\n"
    (web / "app.js").write_text("// v2\n")   # read on each request: edit, reload
    r = requests.get(base + "/app.js", timeout=5)
    assert r.text == "// v2\n" and r.headers["content-type"].startswith("text/javascript")
    assert requests.get(base + "/views/x.js", timeout=5).status_code == 200
    assert requests.get(base + "/app.css", timeout=5).status_code == 404    # not in the dir
    for bad in ("/views/..%2F..%2Fsecret.js", "/views/%2E%2E/secret.js", "/../secret.js"):
        r = requests.get(base + bad, timeout=5)
        assert r.status_code in (400, 401, 404) and "outside" not in r.text, bad
