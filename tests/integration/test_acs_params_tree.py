"""GET /api/devices/{id}/parameters?next_level=true and ?search=: the
parameter tree a level at a time (what the dashboard's device page opens)
and the search in it, against a cpe-sim device's whole stored data model:
each level equals what a brute-force walk over the full list gives."""
import time
from urllib.parse import quote

import requests

TOKEN = "tree-token"


def start(outpost, tmp_path):
    acs = outpost("acs", "--cwmp-listen", "127.0.0.1:0", "--api-listen", "127.0.0.1:0",
                  "--data-dir", str(tmp_path / "acs"), "--api-token", TOKEN, "--cpe-auth", "none",
                  "--cr-deny", "169.254.0.0/16")
    host, port = acs.addr("listen")
    outpost("cpe-sim", "--acs", f"http://{host}:{port}/", "--count", "1", "--serial-prefix", "TREE",
            "--cr-listen", "127.0.0.1:0", "--inform-interval", "600", "--data-dir", str(tmp_path / "sim"),
            "--stats-interval", "0")
    s = requests.Session()
    s.headers["Authorization"] = f"Bearer {TOKEN}"
    base = acs.url("api")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # the bootstrap read the whole tree
        devs = s.get(base + "/api/devices", timeout=10).json()
        if devs and len(s.get(f"{base}/api/devices/{quote(devs[0]['id'], safe='')}/parameters",
                              timeout=10).json()) > 600:
            return s, f"{base}/api/devices/{quote(devs[0]['id'], safe='')}/parameters"
        time.sleep(0.2)
    raise AssertionError("the device's tree was not stored")


def level_of(full, prefix):
    """What next_level should answer for prefix, from the full list."""
    out = {}
    for p in full:
        n = p["name"]
        if not n.startswith(prefix) or n == prefix:
            continue
        rest = n[len(prefix):]
        i = rest.find(".")
        if i < 0 or i == len(rest) - 1:
            out.setdefault(n, 0)
        else:
            child = prefix + rest[:i + 1]
            out[child] = out.get(child, 0) + 1
    return out


def test_tree_levels_and_search(outpost, tmp_path):
    s, url = start(outpost, tmp_path)
    full = s.get(url, timeout=10).json()
    by_name = {p["name"]: p for p in full}
    objects = [""] + [p["name"] for p in full if p["name"].endswith(".")]
    for prefix in objects:
        got = s.get(url, params={"prefix": prefix, "next_level": "true"}, timeout=10).json()
        want = level_of(full, prefix)
        assert [g["name"] for g in got] == sorted(want), prefix
        for g in got:
            if g["name"].endswith("."):
                assert g["children"] == want[g["name"]], g
                if g["name"] in by_name:  # the object's own row, as the full list has it
                    assert g["writable"] == by_name[g["name"]]["writable"]
            else:
                assert "children" not in g and g == by_name[g["name"]]
    # the root alone, with every name under it counted
    root = s.get(url, params={"next_level": "1"}, timeout=10).json()
    assert len(root) == 1 and root[0]["name"] == "Device." and root[0]["children"] == len(full) - 1

    # search: names or values, ASCII case-insensitive, under a prefix, limited
    got = s.get(url, params={"search": "ssid"}, timeout=10).json()
    want = [p for p in full if "ssid" in p["name"].lower() or "ssid" in (p["value"] or "").lower()]
    assert got == want and len(want) > 5
    got = s.get(url, params={"search": "SSID", "prefix": "Device.WiFi.", "limit": 3}, timeout=10).json()
    assert got == [p for p in want if p["name"].startswith("Device.WiFi.")][:3]
    sn = by_name["Device.DeviceInfo.SerialNumber"]["value"]
    assert any(p["name"] == "Device.DeviceInfo.SerialNumber"
               for p in s.get(url, params={"search": sn.lower()}, timeout=10).json())
    assert s.get(url, params={"search": "no-such-text-anywhere"}, timeout=10).json() == []

    # bad combinations are 400 with a reason
    for q in ({"next_level": "maybe"}, {"next_level": "true", "prefix": "Device"},
              {"next_level": "true", "search": "x"}, {"limit": "0"}, {"search": "x" * 200}):
        r = s.get(url, params=q, timeout=10)
        assert r.status_code == 400 and r.json()["error"] == "bad_request", (q, r.text)
