#!/usr/bin/python3
"""bench/nat_reach_wake.py API TOKEN ACS_LOG SERIALS RATE: wake-up latency,
task created -> session with "6 CONNECTION REQUEST". For each serial
(comma-separated list, or "PREFIX:N" for PREFIX000001..N) a get_params task
is created through the API, paced at RATE per second; the clock starts at
the ACS's api_task_created log line and stops at its cwmp_inform line for
that device carrying 6 CONNECTION REQUEST (both millisecond timestamps of
the same clock: 1 ms resolution). Prints one line: ok=N failed=N min=MS
p50=MS p99=MS max=MS and, for failures, the connection request reasons seen."""
import datetime
import json
import re
import sys
import threading
import time
import urllib.request

api, token, log_path, serials, rate = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], float(sys.argv[5])
if ":" in serials:
    prefix, n = serials.split(":")
    serials = ["%s%06d" % (prefix, i) for i in range(1, int(n) + 1)]
else:
    serials = serials.split(",")
DEV = "ACDE48-OP%252D1000-"  # the ACS escapes the '-' of OP-1000; escaped again in the URL


def post(serial):
    body = json.dumps({"type": "get_params", "parameters": {"names": ["Device.DeviceInfo.UpTime"]}}).encode()
    req = urllib.request.Request("%s/api/devices/%s%s/tasks" % (api, DEV, serial), data=body, method="POST",
                                 headers={"Authorization": "Bearer " + token, "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as r:
        return json.loads(r.read())


LINE = re.compile(r'^(\S+Z) info cwmp_inform device=\S*-(\S+) events="?([^"]*)')
CREATED = re.compile(r'^(\S+Z) info api_task_created task=\d+ device=\S*-(\S+) ')
created = {}  # the ACS's own api_task_created time: the same clock and resolution as the Inform's


def ts(s):
    return datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc).timestamp()


start = {}
tasks = {}
errors = []
log = open(log_path, errors="replace")
log.seek(0, 2)  # only what comes after now
done = {}


partial = [""]


def see(line):
    """One read from the log; a line the ACS is still writing is kept for the next."""
    if not line.endswith("\n"):
        partial[0] += line
        return
    line, partial[0] = partial[0] + line, ""
    m = CREATED.match(line)
    if m:
        created.setdefault(m.group(2), ts(m.group(1)))
        return
    m = LINE.match(line)
    s = m.group(2) if m else None
    if m and "6 CONNECTION REQUEST" in m.group(3) and s in start and s not in done:
        done[s] = ts(m.group(1)) - created.get(s, start[s])


def send(serial):
    try:
        start[serial] = time.time()
        tasks[serial] = post(serial)["id"]
    except Exception as e:  # pylint: disable=broad-except
        errors.append("%s: %s" % (serial, e))


threads = []
t0 = time.monotonic()
for i, s in enumerate(serials):
    wait = t0 + i / rate - time.monotonic()
    if wait > 0:
        time.sleep(wait)
    t = threading.Thread(target=send, args=(s,))
    t.start()
    threads.append(t)
    # read the log as we go so nothing waits on an unread file
    for line in log:
        see(line)
for t in threads:
    t.join()
deadline = time.monotonic() + 60
while len(done) < len(serials) - len(errors) and time.monotonic() < deadline:
    line = log.readline()
    if not line:
        time.sleep(0.05)
        continue
    see(line)

lat = sorted(v * 1000 for v in done.values())


def pct(p):
    return lat[min(len(lat) - 1, int(round(p / 100 * (len(lat) - 1))))] if lat else float("nan")


reasons = {}
for s in serials:
    if s in done or s not in tasks:
        continue
    req = urllib.request.Request("%s/api/tasks/%d" % (api, tasks[s]), headers={"Authorization": "Bearer " + token})
    with urllib.request.urlopen(req, timeout=30) as r:
        cr = json.loads(r.read()).get("connection_request") or {}
    reasons[cr.get("reason", "?")] = reasons.get(cr.get("reason", "?"), 0) + 1
print("ok=%d failed=%d min=%.1f p50=%.1f p99=%.1f max=%.1f%s" % (
    len(lat), len(serials) - len(lat), lat[0] if lat else float("nan"), pct(50), pct(99),
    lat[-1] if lat else float("nan"),
    "" if not (reasons or errors) else " reasons=" + json.dumps(reasons) + (" errors=%s" % errors[:3] if errors else "")))
