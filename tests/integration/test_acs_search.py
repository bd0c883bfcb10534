"""outpost acs: device search (GET /api/devices?filter=), pages and tags.

* every filter's answer equals a brute-force filter in Python over the same
  devices (written straight into the store while the ACS is stopped), for
  a --search-param (indexed) and for other parameters;
* pages: the bare list stays the body, X-Total-Count and RFC 8288 Link
  next/prev walk the whole result both ways, in every sort order; no
  silent stop at 100; the cursor is stable while devices inform;
* a filter with a syntax error is a 400 naming the position;
* PUT/DELETE /api/devices/{id}/tags/{tag}, with bad tags refused (4xx
  naming the field).
"""
import random
import re
import time
import urllib.parse

import pytest

from conftest import acs_db
from cwmp_cpe import CPE
from test_acs_session import Api, cwmp_addr, start_acs

# "now" of the fleet under test: set when the fixture seeds it (not at
# import: the whole suite may run for many minutes before this file)
NOW = int(time.time())
MODELS = ["HG8245", "HG8247", "F660", "AX3000", "Archer_C6"]
VERSIONS = ["1.0.0", "1.0.1", "1.2.0", "2.0.0-beta", "2.1.3"]
TAGS = ["lab", "north", "south", "canary", "vip"]
SSID = "InternetGatewayDevice.LANDevice.1.WLANConfiguration.1.SSID"
UPTIME = "InternetGatewayDevice.DeviceInfo.UpTime"
NOTE = "InternetGatewayDevice.X_Note"
N = 700


def make_devices(seed=15):
    rnd = random.Random(seed)
    devs = []
    for i in range(N):
        oui = rnd.choice(["00D09E", "A0B1C2", "001122"])
        model = rnd.choice(MODELS)
        serial = f"SN{rnd.randrange(10**6):06d}{i:04d}"
        interval = rnd.choice([0, 60, 300, 3600])
        eff = interval or 3600          # the ACS's --default-inform-interval
        online = rnd.random() < 0.5
        # clear of the edges the filters draw (online's window, "-1h") by
        # 100 s, so the seconds the test takes move no device across one
        window = 2 * eff + 60
        # (2 s at least before now: a device informing during the test is newer)
        last = NOW - (rnd.randrange(2, window - 100) if online
                      else rnd.randrange(window + 100, 30 * 86400))
        if abs(last - (NOW - 3600)) < 100:
            last += 250
        params = {}
        if rnd.random() < 0.8:
            params[SSID] = rnd.choice(["home", "home-5G", "office", "Home", "guest%_x"])
        if rnd.random() < 0.9:
            params[UPTIME] = str(rnd.randrange(0, 100000))
        if rnd.random() < 0.3:
            params[NOTE] = rnd.choice(["12", "12.5", "abc", "-3", "1e3", ""])
        devs.append({
            "id": f"{oui}-{model}-{serial}", "oui": oui, "product_class": model, "serial": serial,
            "manufacturer": rnd.choice(["Acme", "Huawei"]),
            "software_version": rnd.choice(VERSIONS), "hardware_version": "HW1",
            "tags": ",".join(sorted(rnd.sample(TAGS, rnd.randrange(0, 3)))),
            "first_seen": last - rnd.randrange(0, 10**6), "last_inform": last,
            "periodic_interval": interval, "params": params,
        })
    return devs


def online(d):
    return d["last_inform"] >= NOW - (2 * (d["periodic_interval"] or 3600) + 60)


def num(v):
    return float(v) if v is not None and re.fullmatch(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?", v) \
        else None


def pnum(d, name, op):
    v = num(d["params"].get(name))
    return v is not None and op(v)


# (filter, brute-force predicate); the ACS's default interval is 1 h
def cases():
    return [
        ("model=HG8245", lambda d: d["product_class"] == "HG8245"),
        ("product_class=F660 AND oui=A0B1C2", lambda d: d["product_class"] == "F660" and d["oui"] == "A0B1C2"),
        ("serial^=SN1", lambda d: d["serial"].startswith("SN1")),
        ("id^=001122-AX", lambda d: d["id"].startswith("001122-AX")),
        ("tag=canary", lambda d: "canary" in d["tags"].split(",")),
        ("tag!=canary", lambda d: "canary" not in d["tags"].split(",")),
        ("version=2.0.0-beta", lambda d: d["software_version"] == "2.0.0-beta"),
        ("software_version^=1.", lambda d: d["software_version"].startswith("1.")),
        ("online", online),
        ("offline", lambda d: not online(d)),
        ("online=false AND model!=F660", lambda d: not online(d) and d["product_class"] != "F660"),
        (f"last_inform<{NOW - 86400}", lambda d: d["last_inform"] < NOW - 86400),
        (f"last_inform>=-1h", lambda d: d["last_inform"] >= NOW - 3600),
        (f"param.{SSID}=home", lambda d: d["params"].get(SSID) == "home"),
        (f"param.{SSID}^=home", lambda d: (d["params"].get(SSID) or "\x00").startswith("home")),
        (f'param.{SSID}="guest%_x"', lambda d: d["params"].get(SSID) == "guest%_x"),
        (f"param.{SSID}!=home", lambda d: d["params"].get(SSID) != "home"),
        (f"param.{UPTIME}>50000", lambda d: pnum(d, UPTIME, lambda v: v > 50000)),
        (f"param.{UPTIME}<=100", lambda d: pnum(d, UPTIME, lambda v: v <= 100)),
        (f"param.{NOTE}>=10", lambda d: pnum(d, NOTE, lambda v: v >= 10)),
        (f"param.{NOTE}<0", lambda d: pnum(d, NOTE, lambda v: v < 0)),
        (f"(model=HG8245 OR model=F660) AND tag=lab AND param.{UPTIME}>20000",
         lambda d: d["product_class"] in ("HG8245", "F660") and "lab" in d["tags"].split(",")
         and pnum(d, UPTIME, lambda v: v > 20000)),
        ("NOT (oui=00D09E OR tag=vip) and manufacturer=Acme",
         lambda d: not (d["oui"] == "00D09E" or "vip" in d["tags"].split(",")) and d["manufacturer"] == "Acme"),
        ("model=HG8245 or model=F660 and online",
         lambda d: d["product_class"] == "HG8245" or (d["product_class"] == "F660" and online(d))),
        ("model=nothing", lambda d: False),
        ("", lambda d: True),
    ]


def seed_store(data_dir, devs):
    db = acs_db(data_dir)
    rid = "(SELECT %s FROM devices WHERE id = ?)" % ("rid" if db.pg else "rowid")
    stmts = []
    for d in devs:
        stmts.append((
            "INSERT INTO devices (id, manufacturer, oui, product_class, serial, software_version,"
            " hardware_version, tags, first_seen, last_inform, periodic_interval)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            (d["id"], d["manufacturer"], d["oui"], d["product_class"], d["serial"],
             d["software_version"], d["hardware_version"], d["tags"], d["first_seen"],
             d["last_inform"], d["periodic_interval"])))
        for k, v in d["params"].items():
            stmts.append(("INSERT INTO params (device, name, value, updated) VALUES (%s,?,?,?)" % rid,
                          (d["id"], k, v, NOW)))
    db.script(stmts)


@pytest.fixture
def fleet(outpost, tmp_path):
    global NOW
    NOW = int(time.time())
    d = start_acs(outpost, tmp_path, "--cpe-auth", "none")
    d.stop()
    devs = make_devices()
    seed_store(tmp_path / "data", devs)
    # SSID through the index of a --search-param (its stored values indexed
    # at this start), the other parameters device by device
    d = start_acs(outpost, tmp_path, "--cpe-auth", "none", "--search-param", SSID)
    d.wait_for(r"search_param_indexed name=\S+SSID values=\d+")
    return d, Api(d), devs


def links(r):
    out = {}
    for part in r.headers.get("Link", "").split(","):
        m = re.match(r'\s*<([^>]*)>;\s*rel="(\w+)"', part)
        if m:
            out[m.group(2)] = m.group(1)
    return out


def walk(api, query, limit=None):
    """Every page forward through Link next; returns (ids, totals, pages)."""
    q = dict(query)
    if limit:
        q["limit"] = limit
    r = api.get("/api/devices?" + urllib.parse.urlencode(q))
    assert r.status_code == 200, r.text
    ids, pages, totals = [], [], set()
    while True:
        body = r.json()
        assert isinstance(body, list)                      # the bare list stays the body
        totals.add(int(r.headers["X-Total-Count"]))
        pages.append(r)
        ids += [x["id"] for x in body]
        nxt = links(r).get("next")
        if not nxt:
            break
        assert nxt.startswith("/api/devices?")
        r = api.get(nxt)
        assert r.status_code == 200, r.text
    return ids, totals, pages


def test_search_equals_brute_force(fleet):
    d, api, devs = fleet
    for flt, pred in cases():
        want = sorted(x["id"] for x in devs if pred(x))
        ids, totals, _ = walk(api, {"filter": flt} if flt else {}, limit=1000)
        assert ids == want, flt
        assert totals == {len(want)}, flt


def test_pages_walk_both_ways_in_every_order(fleet):
    d, api, devs = fleet
    flt = "tag=lab OR online"
    match = [x for x in devs if "lab" in x["tags"].split(",") or online(x)]
    keys = {"id": "id", "serial": "serial", "model": "product_class", "oui": "oui",
            "software_version": "software_version", "last_inform": "last_inform",
            "first_seen": "first_seen"}
    rid = {x["id"]: i for i, x in enumerate(devs)}   # rows were inserted in this order
    for name, col in keys.items():
        for desc in (False, True):
            want = [x["id"] for x in sorted(match, key=lambda x: (x[col], rid[x["id"]]),
                                            reverse=desc)]
            ids, totals, pages = walk(api, {"filter": flt, "sort": ("-" if desc else "") + name},
                                      limit=37)
            assert ids == want, (name, desc)
            assert totals == {len(want)}
            assert len(pages) == (len(want) + 36) // 37
            assert "prev" not in links(pages[0])
            # and back from the last page through prev
            r, back = pages[-1], []
            while "prev" in links(r):
                r = api.get(links(r)["prev"])
                assert r.status_code == 200
                back = [x["id"] for x in r.json()] + back
                assert len(r.json()) == 37
            assert back + [x["id"] for x in pages[-1].json()] == want


def test_no_silent_stop_at_100(fleet):
    d, api, devs = fleet
    r = api.get("/api/devices")
    assert r.status_code == 200
    assert len(r.json()) == 100
    assert r.headers["X-Total-Count"] == str(N)
    assert "next" in links(r) and "prev" not in links(r)
    ids, totals, pages = walk(api, {})
    assert len(ids) == N == len(set(ids)) and len(pages) == 7
    assert api.get("/api/devices?limit=1001").status_code == 400   # capped
    # the old offset still works and links onward with a cursor
    r = api.get("/api/devices?offset=650")
    assert [x["id"] for x in r.json()] == sorted(x["id"] for x in devs)[650:]
    assert "prev" in links(r) and "next" not in links(r)


def test_cursor_stable_while_devices_inform(fleet):
    d, api, devs = fleet
    r = api.get("/api/devices?limit=50&sort=last_inform")
    first = [x["id"] for x in r.json()]
    nxt = links(r)["next"]
    # devices inform meanwhile: a new one, and one already on page 1 (it moves to the end)
    moved = first[0].split("-", 2)
    for serial, oui, pclass in [("AAA-new", "000000", "IGD"), (moved[2], moved[0], moved[1])]:
        cpe = CPE(cwmp_addr(d))
        assert cpe.inform(serial, oui=oui, pclass=pclass).status == 200
        assert cpe.post().status in (200, 204)          # the session ends
    deadline = time.monotonic() + 10
    while api.get(f"/api/devices/{first[0]}").json()["last_inform"] == r.json()[0]["last_inform"]:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    ids = first[:]
    while nxt:
        r = api.get(nxt)
        ids += [x["id"] for x in r.json()]
        nxt = links(r).get("next")
    # nobody skipped; only the two that informed appear (again) at the end
    assert set(ids) == {x["id"] for x in devs} | {"000000-IGD-AAA%2Dnew"}
    assert len(ids) == N + 2, (ids[-3:], first[0])
    assert ids[-2:] == [first[0], "000000-IGD-AAA%2Dnew"] or \
        ids[-2:] == ["000000-IGD-AAA%2Dnew", first[0]]


SYNTAX_ERRORS = [
    ("model=", 6), ("model=x AND", 11), ("(model=x", 0), ("model=x)", 7), ("bogus=1", 0),
    ("model<3", 5), ("param.X>abc", 8), ("last_inform<yesterday", 12), ("model=x tag=y", 8),
    ('serial="abc', 7), ("NOT", 3), ("online=maybe", 7), ("(" * 18 + "model=x" + ")" * 18, 16),
]


def test_syntax_error_is_400_with_position(fleet):
    d, api, devs = fleet
    for flt, pos in SYNTAX_ERRORS:
        r = api.get("/api/devices?" + urllib.parse.urlencode({"filter": flt}))
        assert r.status_code == 400, flt
        j = r.json()
        assert j["error"] == "bad_filter" and j["field"] == "filter"
        assert j["position"] == pos, (flt, j)
        assert f"position {pos}" in j["message"]


def test_bad_query_parameters(fleet):
    d, api, devs = fleet
    for q, field in [("sort=colour", "sort"), ("cursor=zzz", "cursor"), ("limit=0", "limit"),
                     ("filter=" + "x" * 3000, "filter"), ("cursor=n0a.1.0.41&offset=3", "offset"),
                     ("cursor=n5a.1.0.41", "cursor"), ("online=perhaps", "online")]:
        r = api.get("/api/devices?" + q)
        assert r.status_code == 400, q
        assert r.json()["field"] == field, (q, r.json())


def test_tags_put_delete(fleet):
    d, api, devs = fleet
    dev = devs[0]["id"]
    r = api.s.put(api.base + f"/api/devices/{dev}/tags/wave-1")
    assert r.status_code == 200 and "wave-1" in r.json()["tags"]
    r = api.s.put(api.base + f"/api/devices/{dev}/tags/wave-1")     # idempotent
    assert r.json()["tags"].count("wave-1") == 1
    assert [x["id"] for x in api.get("/api/devices?filter=tag=wave-1").json()] == [dev]
    r = api.s.delete(api.base + f"/api/devices/{dev}/tags/wave-1")
    assert r.status_code == 200 and "wave-1" not in r.json()["tags"]
    assert api.get("/api/devices?filter=tag=wave-1").json() == []
    for bad in ["a%2Cb", "x" * 65, "sp%20ace", "%C3%A9t%C3%A9"]:
        r = api.s.put(api.base + f"/api/devices/{dev}/tags/{bad}")
        assert r.status_code == 422, bad
        assert r.json()["field"] == "tag"
    r = api.s.put(api.base + "/api/devices/nope/tags/ok")
    assert r.status_code == 404 and r.json()["field"] == "id"
    # the stored tags are bounded: many tags end in a 422, not a cut list
    for i in range(60):
        r = api.s.put(api.base + f"/api/devices/{dev}/tags/t{i:02d}-{'x' * 5}")
        if r.status_code != 200:
            assert r.status_code == 422 and r.json()["field"] == "tag"
            break
    else:
        pytest.fail("no limit on a device's tags")
