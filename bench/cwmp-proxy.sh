#!/bin/sh
# bench/cwmp-proxy.sh [BIN]: the same cpe-sim CWMP load sent
#   (a) straight to the ACS (one node: there is no balancer on this path),
#   (b) through outpost cwmp-proxy over two ACS nodes (rewriting every
#       ConnectionRequestURL, sticky round-robin),
#   (c) through haproxy 2.6 over the same two nodes (http mode, roundrobin,
#       cookie insert stickiness; no rewriting: it cannot).
# Each path gets fresh ACS nodes and runs twice:
#   throughput: a fleet that asks for far more sessions than the path can
#               take (COUNT CPEs informing every INTERVAL): sessions/s;
#   latency:    a moderate load (LCOUNT CPEs every second) that no path
#               saturates: session p50/p99; "added p99" is p99 minus (a)'s.
# Goal: sessions/s through (b) >= (c), added p99 of (b) <= (c).
# One event loop each: haproxy runs with nbthread 1, like the proxy and the ACS.
set -eu
. "$(dirname "$0")/lib.sh"
DURATION=${DURATION:-10}
COUNT=${COUNT:-3000}
INTERVAL=${INTERVAL:-200ms}
LCOUNT=${LCOUNT:-400}
MAXSESS=${MAXSESS:-400}

command -v haproxy >/dev/null || { echo "haproxy missing (scripts/install-deps)"; exit 1; }

json() { # FILE EXPR over cpe-sim's final --json line
  /usr/bin/python3 -c 'import json,sys
d = None
for l in open(sys.argv[1]):
    if l.startswith("{\"final\""): d = json.loads(l)["stats"]
print(eval(sys.argv[2], {"d": d}) if d else "n/a")' "$1" "$2"
}

wait_port() { # PORT [LOG]: until something accepts there
  for _ in $(seq 1 100); do
    curl -s -o /dev/null "http://127.0.0.1:$1/" && return 0
    sleep 0.1
  done
  echo "nothing listens on $1" >&2
  [ -n "${2:-}" ] && cat "$2" >&2
  exit 1
}
acs_node() { # NAME PORT (at warn level there is no ready line: wait for the port)
  "$BIN" acs --cwmp-listen "127.0.0.1:$2" --api-listen 127.0.0.1:0 --data-dir "$WORK/$1" \
    --cpe-auth none --api-token bench --log-level warn >"$WORK/$1.log" 2>&1 &
  PIDS="$PIDS $!"
  LAST_PID=$!
  wait_port "$2" "$WORK/$1.log"
}
start_nodes() { # fresh ACS nodes on P1 and P2 (data dirs per run)
  P1=$(free_port); P2=$(free_port)
  acs_node "acs1-$1" "$P1"; N1=$LAST_PID
  acs_node "acs2-$1" "$P2"; N2=$LAST_PID
}
stop_pids() { for p in "$@"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null || true; done; }

# sim NAME URL COUNT INTERVAL: one cpe-sim run, final JSON in $WORK/NAME.json
sim() {
  "$BIN" cpe-sim --acs "$2" --count "$3" --rate 0 --inform-interval "$4" --jitter 0.5 \
    --cr-listen 127.0.0.1:0 --duration "${DURATION}s" --stats-interval 0 --json \
    --max-sessions "$MAXSESS" --serial-prefix "B$1" >"$WORK/$1.json" 2>"$WORK/$1.log"
}

run_path() { # NAME URL
  sim "$1-tput" "$2" "$COUNT" "$INTERVAL"
  sim "$1-lat" "$2" "$LCOUNT" 1s
}

# (a) straight to one ACS node
start_nodes a
run_path direct "http://127.0.0.1:$P1/"
stop_pids "$N1" "$N2"

# (b) outpost cwmp-proxy over two nodes
start_nodes b
PP=$(free_port)
start_outpost proxy cwmp-proxy --listen "127.0.0.1:$PP" --admin-listen 127.0.0.1:0 \
  --public-url "http://127.0.0.1:$PP" --data-dir "$WORK/proxy" --api-token bench \
  --backend "http://127.0.0.1:$P1/" --backend "http://127.0.0.1:$P2/"
PX=$LAST_PID
run_path proxy "http://127.0.0.1:$PP/"
PX_RSS=$(rss_kb "$PX")
stop_pids "$PX" "$N1" "$N2"

# (c) haproxy over two nodes
start_nodes c
HP=$(free_port)
cat >"$WORK/haproxy.cfg" <<CFG
global
  maxconn 8000
  nbthread 1
defaults
  mode http
  timeout connect 3s
  timeout client 60s
  timeout server 60s
  option http-keep-alive
frontend cwmp
  bind 127.0.0.1:$HP
  default_backend acs
backend acs
  balance roundrobin
  cookie OPLB insert indirect nocache
  server acs1 127.0.0.1:$P1 cookie a1 check inter 2s
  server acs2 127.0.0.1:$P2 cookie a2 check inter 2s
CFG
haproxy -f "$WORK/haproxy.cfg" -db >"$WORK/haproxy.log" 2>&1 &
HX=$!
PIDS="$PIDS $HX"
wait_port "$HP" "$WORK/haproxy.log"
run_path haproxy "http://127.0.0.1:$HP/"
stop_pids "$HX" "$N1" "$N2"

# ---- report ---------------------------------------------------------------------
get() { json "$WORK/$1.json" "$2"; }
for p in direct proxy haproxy; do
  eval "R_$p=\$(get $p-tput 'round(d[\"sessions\"][\"per_second\"])')"
  eval "F_$p=\$(get $p-tput 'd[\"sessions\"][\"failed\"] + 0')"
  eval "L50_$p=\$(get $p-lat 'd[\"latency_ms\"][\"p50\"]')"
  eval "L99_$p=\$(get $p-lat 'd[\"latency_ms\"][\"p99\"]')"
  eval "LF_$p=\$(get $p-lat 'd[\"sessions\"][\"failed\"] + 0')"
done
added() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a - b }'; }
A_proxy=$(added "$L99_proxy" "$L99_direct")
A_haproxy=$(added "$L99_haproxy" "$L99_direct")

echo "cwmp-proxy vs haproxy $(haproxy -v | awk 'NR==1 {print $3}') (nbthread 1), cpe-sim load; $(date -u +%Y-%m-%d), $(machine)"
echo "throughput: $COUNT CPEs every $INTERVAL (jitter 0.5), ${DURATION}s, <= $MAXSESS sessions in flight"
echo "latency:    $LCOUNT CPEs every 1s, ${DURATION}s"
printf "%-34s %12s %9s %9s %12s %8s\n" "path" "sessions/s" "p50 ms" "p99 ms" "added p99" "failed"
printf "%-34s %12s %9s %9s %12s %8s\n" "(a) straight to one ACS node" "$R_direct" "$L50_direct" "$L99_direct" "-" "$F_direct/$LF_direct"
printf "%-34s %12s %9s %9s %12s %8s\n" "(b) outpost cwmp-proxy, 2 nodes" "$R_proxy" "$L50_proxy" "$L99_proxy" "$A_proxy" "$F_proxy/$LF_proxy"
printf "%-34s %12s %9s %9s %12s %8s\n" "(c) haproxy, 2 nodes" "$R_haproxy" "$L50_haproxy" "$L99_haproxy" "$A_haproxy" "$F_haproxy/$LF_haproxy"
echo "ratio sessions/s (b)/(c): $(ratio "$R_proxy" "$R_haproxy") (goal >= 1); (b)/(a): $(ratio "$R_proxy" "$R_direct")"
echo "added p99 (b) vs (c): $A_proxy ms vs $A_haproxy ms (goal: (b) <= (c))"
echo "cwmp-proxy RSS after the runs: $((PX_RSS / 1024)) MiB"
