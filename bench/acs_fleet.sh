#!/bin/sh
# bench/acs_fleet.sh [BIN] [bulk|search|all] — the fleet rows of
# bench/acs.sh (which runs this at its end; ACS_BENCH_ONLY=bulk|search
# bench/acs.sh, or this script alone, runs one row without the rest):
#   (g) bulk   time for $FLEET_CPES (10,000) cpe-sim CPEs to take one bulk
#                set_params (POST /api/tasks, filter "online"), each woken by a
#                connection request, from the POST to the bulk's `done`; the
#                ACS's peak RSS (VmHWM) over the row. --bulk-cr-rate
#                $FLEET_CR_RATE/s, --cr-max-in-flight 512.
#   (h) search $FLEET_DEVICES (1,000,000) devices written straight into the
#                store (bench/acs_fleet_seed.py: 3 parameters each; the one
#                searched by value is a --search-param), then
#                GET /api/devices with filter model + parameter value (50
#                match), the device list's first page (with X-Total-Count over
#                all), and the next page through the Link cursor: median and
#                worst of 20 each. Goal < 100 ms.
set -eu
BIN=${1:-build/release/src/outpost}
BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")
ROWS=${2:-all}
HERE=$(cd "$(dirname "$0")" && pwd)
CPES=${FLEET_CPES:-10000}
DEVICES=${FLEET_DEVICES:-1000000}
CR_RATE=${FLEET_CR_RATE:-1000}
T=$(mktemp -d /tmp/acs-fleet.XXXXXX)
ACS_PID= SIM_PID=
cleanup() {
  [ -n "$SIM_PID" ] && kill "$SIM_PID" 2>/dev/null && wait "$SIM_PID" 2>/dev/null
  [ -n "$ACS_PID" ] && kill "$ACS_PID" 2>/dev/null && wait "$ACS_PID" 2>/dev/null
  rm -rf "$T"
}
trap cleanup EXIT INT TERM
port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
H='Authorization: Bearer bench'

start_acs() { # DATA_DIR EXTRA...
  dir=$1; shift
  CPORT=$(port); APORT=$(port)
  "$BIN" acs --cwmp-listen "127.0.0.1:$CPORT" --api-listen "127.0.0.1:$APORT" --data-dir "$dir" \
    --cpe-auth none --api-token bench --log-level warn --admin-listen "" "$@" 2> "$T/acs.log" &
  ACS_PID=$!
  for i in $(seq 100); do
    curl -sf -o /dev/null -H "$H" "http://127.0.0.1:$APORT/api/stats" && return 0
    sleep 0.1
  done
  echo "the acs did not start"; tail "$T/acs.log"; exit 1
}
stop_acs() {
  kill "$ACS_PID"; wait "$ACS_PID" || { echo "acs exited badly"; tail "$T/acs.log"; exit 1; }
  ACS_PID=
  if grep -q ' error ' "$T/acs.log"; then echo "errors in the ACS log:"; grep ' error ' "$T/acs.log" | head; exit 1; fi
}

# ---- (g) a bulk set_params over 10,000 CPEs through connection requests --------------
if [ "$ROWS" = all ] || [ "$ROWS" = bulk ]; then
  start_acs "$T/bulk" --rediscover=false --bulk-cr-rate "$CR_RATE" --cr-max-in-flight 512 \
    --cr-deny 169.254.0.0/16 --cr-username cr --cr-password cr-pw
  "$BIN" cpe-sim --acs "http://127.0.0.1:$CPORT/" --cr-listen 127.0.0.1:0 --count "$CPES" --rate 0 \
    --max-sessions 1000 --inform-interval 3600 --stats-interval 0 --serial-prefix BULK \
    --cr-username cr --cr-password cr-pw --log-level warn --admin-listen "" > /dev/null 2> "$T/sim.log" &
  SIM_PID=$!
  /usr/bin/python3 - "$APORT" "$CPES" "$ACS_PID" <<'EOF'
import json, sys, time, urllib.request
port, n, pid = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
H = {"Authorization": "Bearer bench", "Content-Type": "application/json"}
def call(method, path, body=None):
    r = urllib.request.urlopen(urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", method=method, headers=H,
        data=json.dumps(body).encode() if body is not None else None), timeout=60)
    return r.status, json.loads(r.read() or b"null")
deadline = time.monotonic() + 600
while True:  # every CPE registered, its bootstrap session over
    s = call("GET", "/api/stats")[1]
    if s["total_devices"] >= n and s["live_sessions"] == 0:
        break
    assert time.monotonic() < deadline, s
    time.sleep(0.5)
t0 = time.monotonic()
st, b = call("POST", "/api/tasks", {"filter": "online", "task": {"type": "set_params",
             "parameters": {"values": {"Device.WiFi.SSID.1.SSID": "bulk"}}}})
assert st == 201 and b["total"] == n, (st, b)
while True:
    b = call("GET", f"/api/bulk/{b['id']}")[1]
    if b["state"] != "running" or time.monotonic() - t0 > 900:
        break
    time.sleep(0.2)
took = time.monotonic() - t0
hwm = [l.split()[1] for l in open(f"/proc/{pid}/status") if l.startswith("VmHWM")][0]
c = b["counts"]
print(f"(g) bulk set_params to {n} cpe-sim CPEs woken by connection request: {took:.1f} s"
      f" ({n / took:.0f} devices/s; state {b['state']}, done {c['done']}, failed {c['failed']},"
      f" expired {c['expired']}); ACS peak RSS {int(hwm) / 1024:.0f} MB")
EOF
  kill "$SIM_PID"; wait "$SIM_PID" 2>/dev/null || true; SIM_PID=
  stop_acs
fi

# ---- (h) search over 1,000,000 stored devices -------------------------------------------
if [ "$ROWS" = all ] || [ "$ROWS" = search ]; then
  start_acs "$T/search"   # the schema
  stop_acs
  S0=$(date +%s)
  /usr/bin/python3 "$HERE/acs_fleet_seed.py" "$T/search/acs.db" "$DEVICES"
  S1=$(date +%s)
  # the parameter searched by value is a --search-param: its 1,000,000
  # stored values are indexed at this start
  start_acs "$T/search" --search-param InternetGatewayDevice.X_Site
  S2=$(date +%s)
  timed() { # NAME QUERY: "median worst" ms of 20 (after one warm-up)
    curl -s -o /dev/null -H "$H" "http://127.0.0.1:$APORT/api/devices?$2"
    for i in $(seq 20); do
      curl -s -o /dev/null -w '%{time_total}\n' -H "$H" "http://127.0.0.1:$APORT/api/devices?$2"
    done | sort -n | awk '{v[NR]=$1} END {printf "median %.1f ms, worst %.1f ms", v[10]*1000, v[NR]*1000}'
  }
  Q='filter=model%3DM5%20AND%20param.InternetGatewayDevice.X_Site%3DS5'
  N=$(curl -s -D - -o /dev/null -H "$H" "http://127.0.0.1:$APORT/api/devices?$Q" | awk -F': ' 'tolower($1)=="x-total-count" {print $2+0}')
  echo "(h) $DEVICES devices seeded in $((S1 - S0)) s; the --search-param's values indexed at start in $((S2 - S1)) s; store $(du -m "$T/search/acs.db" | cut -f1) MB"
  echo "(h) search model + parameter value ($N match): $(timed f "$Q") (goal 100)"
  echo "(h) device list, first page of 100 with X-Total-Count: $(timed f 'limit=100') (goal 100)"
  NEXT=$(curl -s -D - -o /dev/null -H "$H" "http://127.0.0.1:$APORT/api/devices?limit=100" |
         sed -n 's/^Link: <\/api\/devices?\([^>]*\)>; rel="next".*/\1/p' | tr -d '\r')
  echo "(h) device list, a later page through the Link cursor: $(timed f "$NEXT")"
  echo "(h) sorted by last inform, newest first: $(timed f 'limit=100&sort=-last_inform')"
  stop_acs
fi
echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%Y-%m-%dT%H:%MZ)"
