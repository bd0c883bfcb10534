#!/bin/sh
# bench/cpe-sim.sh [BIN]: how hard cpe-sim can drive an ACS, and how little a
# fleet costs. In one run:
#  1. complete Inform sessions per second (each on a new TCP connection)
#     that cpe-sim drives against nginx answering every POST with an empty
#     204, with the CPU time cpe-sim used; goal >= 10,000/s under one core;
#  2. the ceiling for that on this machine: wrk POSTing an Inform-sized body
#     to the same nginx, one new connection per request;
#  3. peak RSS of 100,000 simulated CPEs with the built-in TR-181 model, all
#     booted and informed; goal <= 1 GiB.
set -eu
. "$(dirname "$0")/lib.sh"
DURATION=${DURATION:-10}
COUNT=${COUNT:-4000}
INTERVAL=${INTERVAL:-250ms}
CONC=${CONC:-32}   # sessions in flight: against a 204 responder more only adds queueing
FLEET=${FLEET:-100000}
FLEET_SECONDS=${FLEET_SECONDS:-30}
GOAL_RATE=10000
GOAL_RSS_MIB=1024

command -v wrk >/dev/null || { echo "wrk missing (scripts/install-deps)"; exit 1; }
NP=$(free_port)
start_nginx "  server {
    listen 127.0.0.1:$NP backlog=4096;
    location / { return 204; }
  }"

json() { # FILE EXPR: a field of cpe-sim's final --json line
  /usr/bin/python3 -c 'import json,sys
for l in open(sys.argv[1]):
    if l.startswith("{\"final\""): d = json.loads(l)["stats"]
print(eval(sys.argv[2], {"d": d}))' "$1" "$2"
}

# 1. sessions per second, and the CPU they cost
/usr/bin/time -f "%U %S %e %M" -o "$WORK/time1" "$BIN" cpe-sim --acs "http://127.0.0.1:$NP/" \
  --cr-listen 127.0.0.1:0 --count "$COUNT" --rate 0 --inform-interval "$INTERVAL" --jitter 0.5 \
  --duration "${DURATION}s" --stats-interval 0 --json --max-sessions "$CONC" --admin-listen "" \
  >"$WORK/sim1.json" 2>"$WORK/sim1.log"
RATE=$(json "$WORK/sim1.json" 'round(d["sessions"]["per_second"])')
FAILED=$(json "$WORK/sim1.json" 'd["sessions"]["failed"]')
P50=$(json "$WORK/sim1.json" 'd["latency_ms"]["p50"]')
P99=$(json "$WORK/sim1.json" 'd["latency_ms"]["p99"]')
CPU=$(awk '{ if ($3 > 0) printf "%.2f", ($1 + $2) / $3 }' "$WORK/time1")

# 2. the ceiling: wrk with an Inform-sized POST, a new connection each time
BODY=$(head -c 2300 /dev/zero | tr '\0' 'x')
cat >"$WORK/post.lua" <<LUA
wrk.method = "POST"
wrk.body = "$BODY"
wrk.headers["Content-Type"] = "text/xml"
wrk.headers["Connection"] = "close"
LUA
CEIL=$(wrk -t1 -c"$CONC" -d5s -s "$WORK/post.lua" "http://127.0.0.1:$NP/" 2>&1 | awk '/Requests\/sec/ {printf "%.0f", $2}')

# 3. a 100,000-CPE fleet: boot them all (every CPE bootstraps once), then measure
/usr/bin/time -f "%U %S %e %M" -o "$WORK/time3" "$BIN" cpe-sim --acs "http://127.0.0.1:$NP/" \
  --cr-listen 127.0.0.1:0 --count "$FLEET" --rate 20000 --inform-interval 1h \
  --duration "${FLEET_SECONDS}s" --stats-interval 0 --json --max-sessions 1000 --admin-listen "" \
  >"$WORK/sim3.json" 2>"$WORK/sim3.log"
BOOTED=$(json "$WORK/sim3.json" 'd["sessions"]["completed"]')
RSS_MIB=$(awk '{ printf "%.0f", $4 / 1024 }' "$WORK/time3")

echo "cpe-sim vs nginx $($NGINX -v 2>&1 | sed 's/.*\///') (return 204, worker_processes 1); $(date -u +%Y-%m-%d), $(machine)"
printf "%-44s %12s %12s %7s\n" "metric" "measured" "goal" "ratio"
printf "%-44s %12s %12s %7s\n" "Inform sessions/s ($COUNT CPEs, $CONC at once)" "$RATE" ">= $GOAL_RATE" "$(ratio "$RATE" "$GOAL_RATE")"
printf "%-44s %12s %12s %7s\n" "cpe-sim CPU while doing it (cores)" "$CPU" "< 1" "$(ratio "$CPU" 1)"
printf "%-44s %12s %12s %7s\n" "ceiling: wrk POST, new conn each (req/s)" "$CEIL" "-" "$(ratio "$RATE" "$CEIL")"
printf "%-44s %12s %12s %7s\n" "peak RSS, $FLEET CPEs, TR-181 (MiB)" "$RSS_MIB" "<= $GOAL_RSS_MIB" "$(ratio "$RSS_MIB" "$GOAL_RSS_MIB")"
echo "sessions failed: $FAILED; latency p50 ${P50} ms, p99 ${P99} ms; fleet: $BOOTED of $FLEET CPEs booted (BOOTSTRAP session done) in ${FLEET_SECONDS} s"
echo "load average during the run: $(cut -d' ' -f1-3 /proc/loadavg)"
