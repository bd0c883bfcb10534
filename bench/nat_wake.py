#!/usr/bin/python3
"""bench/nat_wake.py API TOKEN PREFIX COUNT CONCURRENCY: wake COUNT devices
(ACDE48-OP%2D1000-<PREFIX><serial>) through the ACS's API
(POST /api/devices/ID/connection-request, which answers with the outcome:
for UDP when the device's "6 CONNECTION REQUEST" Inform arrived, for HTTP
when the CPE answered 200), CONCURRENCY at a time; prints
ok=N failed=N p50_ms= p99_ms= max_ms= via the wall clock of each call."""
import concurrent.futures
import sys
import time
import urllib.parse

import requests

api, token, prefix, count, conc = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
width = max(6, len(str(count)))
s = requests.Session()
s.headers["Authorization"] = f"Bearer {token}"
adapter = requests.adapters.HTTPAdapter(pool_connections=conc, pool_maxsize=conc)
s.mount("http://", adapter)


def wake(i):
    dev = urllib.parse.quote(f"ACDE48-OP%2D1000-{prefix}{i:0{width}d}", safe="")
    t0 = time.monotonic()
    r = s.post(f"{api}/api/devices/{dev}/connection-request", timeout=60)
    return r.status_code == 200, (time.monotonic() - t0) * 1000


with concurrent.futures.ThreadPoolExecutor(conc) as ex:
    res = list(ex.map(wake, range(1, count + 1)))
lat = sorted(ms for ok, ms in res if ok)
ok = len(lat)


def q(p):
    return lat[min(len(lat) - 1, int(p * len(lat)))] if lat else 0


print(f"ok={ok} failed={count - ok} p50_ms={q(0.5):.1f} p99_ms={q(0.99):.1f} max_ms={lat[-1] if lat else 0:.1f}")
