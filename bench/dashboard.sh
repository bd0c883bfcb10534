#!/bin/sh
# bench/dashboard.sh [BIN] — the dashboard with 100,000 devices in the store
# (the dashboard's performance goals; a benchmark, not a timed test):
#   (a) GET /api/devices, the device list's first page (limit 100, sorted by
#       id, with X-Total-Count over all): median and worst of 20. Goal < 100 ms.
#   (b) the devices page's first render in headless chromium. Goal < 1 s.
#   (c) a device page with 5,000 parameters opens. Goal < 500 ms.
#   (d) the page stays responsive while 200 task updates a second arrive
#       over SSE (event-loop lag). Goal: worst < 100 ms.
# (b)-(d): bench/dashboard_browser.py. Devices are written straight into the
# store by bench/acs_fleet_seed.py (as bench/acs_fleet.sh does for 1,000,000),
# and one of them gets 5,000 parameters (Device.Bench.Table.1-500, 10 each).
# DASH_DEVICES overrides 100000. Needs chromium, chromium-driver and
# python3-selenium (scripts/install-deps, test packages).
set -eu
BIN=${1:-build/release/src/outpost}
BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")
HERE=$(cd "$(dirname "$0")" && pwd)
DEVICES=${DASH_DEVICES:-100000}
T=$(mktemp -d /tmp/dash-bench.XXXXXX)
ACS_PID=
cleanup() {
  [ -n "$ACS_PID" ] && kill "$ACS_PID" 2>/dev/null && wait "$ACS_PID" 2>/dev/null
  rm -rf "$T"
}
trap cleanup EXIT INT TERM
for f in /usr/bin/chromium /usr/bin/chromedriver; do
  [ -x "$f" ] || { echo "$f missing: scripts/install-deps installs it with the test packages"; exit 1; }
done
port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
H='Authorization: Bearer bench'
start_acs() {
  CPORT=$(port); APORT=$(port)
  "$BIN" acs --cwmp-listen "127.0.0.1:$CPORT" --api-listen "127.0.0.1:$APORT" --data-dir "$T/acs" \
    --cpe-auth none --api-token bench --log-level warn --admin-listen "" 2> "$T/acs.log" &
  ACS_PID=$!
  for i in $(seq 100); do
    curl -sf -o /dev/null -H "$H" "http://127.0.0.1:$APORT/api/stats" && return 0
    sleep 0.1
  done
  echo "the acs did not start"; tail "$T/acs.log"; exit 1
}
stop_acs() { kill "$ACS_PID"; wait "$ACS_PID" || { echo "acs exited badly"; tail "$T/acs.log"; exit 1; }; ACS_PID=; }

start_acs   # the schema
stop_acs
S0=$(date +%s)
/usr/bin/python3 "$HERE/acs_fleet_seed.py" "$T/acs/acs.db" "$DEVICES"
# device rid 1 (00D09E-M0-SN00000000): 5,000 parameters, a third writable
/usr/bin/python3 - "$T/acs/acs.db" <<'PY'
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1])
now = int(time.time())
db.execute("DELETE FROM params WHERE device = 1")  # one data model: Device. only
rows = [(f"Device.Bench.Table.{i}.Param{j}", f"value-{i}-{j}", "xsd:string", 1 if j % 3 == 0 else 0)
        for i in range(1, 501) for j in range(10)]
db.executemany("INSERT OR REPLACE INTO params (device, name, value, type, writable, updated, set_by, set_at)"
               " VALUES (1, ?, ?, ?, ?, ?, 'cpe', ?)", [(n, v, t, w, now, now) for n, v, t, w in rows])
db.commit()
PY
S1=$(date +%s)
start_acs
echo "$DEVICES devices seeded in $((S1 - S0)) s (one with 5,000 parameters more); store $(du -m "$T/acs/acs.db" | cut -f1) MB"
URL="http://127.0.0.1:$APORT"
curl -s -o /dev/null -H "$H" "$URL/api/devices?limit=100"   # warm-up
R=$(for i in $(seq 20); do curl -s -o /dev/null -w '%{time_total}\n' -H "$H" "$URL/api/devices?limit=100&sort=id"; done |
    sort -n | awk '{v[NR]=$1} END {printf "%.1f %.1f", v[10]*1000, v[NR]*1000}')
N=$(curl -s -D - -o /dev/null -H "$H" "$URL/api/devices?limit=100" | awk -F': ' 'tolower($1)=="x-total-count" {print $2+0}')
set -- $R
echo "(a) device list API, first page of 100 of $N with X-Total-Count: median $1 ms, worst $2 ms (goal 100: $(awk "BEGIN {printf \"%.2f\", $1 / 100}")x of it)"
/usr/bin/python3 "$HERE/dashboard_browser.py" "$URL" bench "00D09E-M0-SN00000000"
grep ' error ' "$T/acs.log" | head -5 || true
stop_acs
