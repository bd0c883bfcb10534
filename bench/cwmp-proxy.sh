#!/bin/sh
# bench/cwmp-proxy.sh [BIN]: the same cpe-sim CWMP load sent
#   (a) straight to the ACS (one node: there is no balancer on this path),
#   (b) through outpost cwmp-proxy over two ACS nodes (rewriting every
#       ConnectionRequestURL, sticky round-robin),
#   (c) through haproxy 2.6 over the same two nodes (http mode, roundrobin,
#       cookie insert stickiness; no rewriting: it cannot).
# Each path gets fresh ACS nodes and runs twice (and the whole set ROUNDS
# times, alternating, best of each kept, since the machine is shared):
#   throughput: a fleet that asks for far more sessions than the path can
#               take (COUNT CPEs informing every INTERVAL): sessions/s;
#   latency:    a moderate load (LCOUNT CPEs every second) that no path
#               saturates: session p50/p99; "added p99" is p99 minus (a)'s;
#   bootstrap:  (b) and (c) only: BOOT new CPEs at once on fresh nodes that
#               read each device's whole data model (a ~90 KB
#               GetParameterValuesResponse the proxy must parse).
# Goal: sessions/s through (b) >= (c), added p99 of (b) <= (c). Also printed:
# the balancer's own CPU time per HTTP request, which other load on the
# machine does not distort.
# One event loop each: haproxy runs with nbthread 1, like the proxy and the ACS.
# AUTH=digest: the CPEs authenticate (HTTP Digest, fleet-wide credentials), so
# each session's answered Inform carries Authorization, which the proxy
# forwards from a buffer it wipes (default: none).
# PROFILE=1: instead of the rounds, where each balancer's time goes under the
# throughput load (and the bootstrap storm): system calls per request
# (strace -c over one run) and a perf profile (another run), grouped; the
# raw reports stay in $WORK (KEEP_WORK=1 keeps it).
set -eu
. "$(dirname "$0")/lib.sh"
DURATION=${DURATION:-10}
COUNT=${COUNT:-3000}
INTERVAL=${INTERVAL:-200ms}
LCOUNT=${LCOUNT:-400}
MAXSESS=${MAXSESS:-400}
ROUNDS=${ROUNDS:-2}
BOOT=${BOOT:-1500}
REDISCOVER=false
AUTH=${AUTH:-none}
case $AUTH in
  none) SIM_AUTH="" ;;
  digest) SIM_AUTH="--username cpe --password bench-secret" ;;
  *) echo "AUTH: none or digest" >&2; exit 2 ;;
esac

command -v haproxy >/dev/null || { echo "haproxy missing (scripts/install-deps)"; exit 1; }

json() { # FILE EXPR over cpe-sim's final --json line
  /usr/bin/python3 -c 'import json,sys
d = None
for l in open(sys.argv[1]):
    if l.startswith("{\"final\""): d = json.loads(l)["stats"]
print(eval(sys.argv[2], {"d": d}) if d else "n/a")' "$1" "$2"
}

acs_node() { # NAME PORT-VAR: a node on a free port (retried: ports are raced for)
  for _try in 1 2 3 4 5; do
    _p=$(free_port)
    "$BIN" acs --cwmp-listen "127.0.0.1:$_p" --api-listen 127.0.0.1:0 --data-dir "$WORK/$1" \
      --cpe-auth "$AUTH" --cpe-password bench-secret --api-token bench --log-level warn --rediscover="$REDISCOVER" --admin-listen "" \
      >"$WORK/$1.log" 2>&1 &
    LAST_PID=$!
    PIDS="$PIDS $LAST_PID"
    # at warn level there is no ready line: wait for the port (or the exit)
    for _ in $(seq 1 100); do
      kill -0 "$LAST_PID" 2>/dev/null || break
      if curl -s -o /dev/null "http://127.0.0.1:$_p/"; then eval "$2=$_p"; return 0; fi
      sleep 0.1
    done
    kill "$LAST_PID" 2>/dev/null; wait "$LAST_PID" 2>/dev/null || true
  done
  echo "acs node $1 did not start:" >&2; cat "$WORK/$1.log" >&2; exit 1
}
start_nodes() { # fresh ACS nodes on P1 and P2 (data dirs per run)
  acs_node "acs1-$1" P1; N1=$LAST_PID
  acs_node "acs2-$1" P2; N2=$LAST_PID
}
# the proxy on port 0: its ready line says where (public URL unused here)
start_proxy() { # NAME
  start_outpost "$1" cwmp-proxy --listen 127.0.0.1:0 --admin-listen 127.0.0.1:0 \
    --public-url http://proxy.bench:7548 --data-dir "$WORK/$1" --api-token bench \
    --backend "http://127.0.0.1:$P1/" --backend "http://127.0.0.1:$P2/"
  PX=$LAST_PID
  PP=$(echo "$READY_LINE" | sed 's/.* listen=127.0.0.1:\([0-9]*\).*/\1/')
}
stop_pids() { for p in "$@"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null || true; done; }

# sim NAME URL COUNT INTERVAL [RATE]: one cpe-sim run, final JSON in $WORK/NAME.json.
# Throughput runs boot every CPE at once; latency runs boot them over a
# second, so that p99 measures the path, not the start-up burst.
sim() {
  "$BIN" cpe-sim --acs "$2" --count "$3" --rate "${5:-0}" --inform-interval "$4" --jitter 0.5 \
    --cr-listen 127.0.0.1:0 --duration "${DURATION}s" --stats-interval 0 --json \
    --max-sessions "$MAXSESS" --serial-prefix "B$1" --admin-listen "" $SIM_AUTH >"$WORK/$1.json" 2>"$WORK/$1.log"
}

run_path() { # NAME URL
  sim "$1-tput" "$2" "$COUNT" "$INTERVAL"
  sim "$1-lat" "$2" "$LCOUNT" 1s "$LCOUNT/s"
}

cpu_s() { awk -v hz="$(getconf CLK_TCK)" '{printf "%.3f", ($14 + $15) / hz}' "/proc/$1/stat"; }

# path_direct / path_proxy / path_haproxy ROUND: fresh nodes, one throughput
# and one latency run, the balancer's CPU seconds in $WORK/NAME-ROUND.cpu
path_direct() {
  start_nodes "a$1"
  run_path "direct-$1" "http://127.0.0.1:$P1/"
  stop_pids "$N1" "$N2"
}
# balanced NAME PID PORT: the throughput and latency runs through a balancer,
# its CPU seconds during the first in $WORK/NAME.cpu
# cpu_during PID FILE CMD...: run CMD; PID's CPU seconds before and after go to FILE
cpu_during() {
  _pid=$1 _file=$2
  shift 2
  _c0=$(cpu_s "$_pid")
  "$@"
  echo "$_c0 $(cpu_s "$_pid")" >"$_file"
}
balanced() {
  cpu_during "$2" "$WORK/$1.cpu" sim "$1-tput" "http://127.0.0.1:$3/" "$COUNT" "$INTERVAL"
  sim "$1-lat" "http://127.0.0.1:$3/" "$LCOUNT" 1s "$LCOUNT/s"
}
path_proxy() {
  start_nodes "b$1"
  start_proxy "proxy-$1"
  balanced "proxy-$1" "$PX" "$PP"
  PX_RSS=$(rss_kb "$PX")
  stop_pids "$PX" "$N1" "$N2"
}
boot_proxy() { # bootstrap storm: every CPE new, the nodes read its whole model
  REDISCOVER=true
  start_nodes "bb$1"
  REDISCOVER=false
  start_proxy "proxyb-$1"
  cpu_during "$PX" "$WORK/proxy-$1.bootcpu" sim "proxy-$1-boot" "http://127.0.0.1:$PP/" "$BOOT" 1h
  stop_pids "$PX" "$N1" "$N2"
}
start_haproxy() { # NAME: haproxy over P1/P2 on a free port (retried), sets HX and HP
  for _try in 1 2 3 4 5; do
    HP=$(free_port)
    cat >"$WORK/$1.cfg" <<CFG
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
    haproxy -f "$WORK/$1.cfg" -db >"$WORK/$1.log" 2>&1 &
    HX=$!
    PIDS="$PIDS $HX"
    for _ in $(seq 1 50); do
      kill -0 "$HX" 2>/dev/null || break
      curl -s -o /dev/null "http://127.0.0.1:$HP/" && return 0
      sleep 0.1
    done
    kill "$HX" 2>/dev/null; wait "$HX" 2>/dev/null || true
  done
  echo "haproxy did not start:" >&2; cat "$WORK/$1.log" >&2; exit 1
}
path_haproxy() {
  start_nodes "c$1"
  start_haproxy "haproxy-$1"
  balanced "haproxy-$1" "$HX" "$HP"
  stop_pids "$HX" "$N1" "$N2"
  # the bootstrap storm, on fresh nodes
  REDISCOVER=true
  start_nodes "cb$1"
  REDISCOVER=false
  start_haproxy "haproxyb-$1"
  cpu_during "$HX" "$WORK/haproxy-$1.bootcpu" sim "haproxy-$1-boot" "http://127.0.0.1:$HP/" "$BOOT" 1h
  stop_pids "$HX" "$N1" "$N2"
}

# ---- PROFILE=1 -------------------------------------------------------------------
# prof_run KIND NAME PID PORT CPES INTERVAL: strace -c over one cpe-sim run, then perf
# over another; per-request figures from cpe-sim's request count
prof_run() {
  _k=$1 _n=$2 _pid=$3 _port=$4 _cpes=$5 _iv=$6
  strace -c -f -p "$_pid" -o "$WORK/$_n.strace" 2>/dev/null &
  _st=$!
  sleep 0.5
  sim "$_n-st" "http://127.0.0.1:$_port/" "$_cpes" "$_iv"
  kill -INT "$_st"; wait "$_st" 2>/dev/null || true
  _c0=$(cpu_s "$_pid")
  perf record -q -F 4999 -g -p "$_pid" -o "$WORK/$_n.perf" 2>/dev/null &
  _pf=$!
  sleep 0.5
  sim "$_n-pf" "http://127.0.0.1:$_port/" "$_cpes" "$_iv"
  kill -INT "$_pf"; wait "$_pf" 2>/dev/null || true
  _c1=$(cpu_s "$_pid")
  _rq=$(json "$WORK/$_n-st.json" 'd["http_requests"]')
  _rp=$(json "$WORK/$_n-pf.json" 'd["http_requests"]')
  echo "== $_n: $_k; strace run $_rq requests, perf run $_rp requests," \
       "CPU $(awk -v a="$_c0" -v b="$_c1" -v n="$_rp" 'BEGIN { printf "%.1f", (b - a) * 1e6 / n }') us/request (under perf)"
  echo "system calls per request (strace -c):"
  awk -v n="$_rq" '$1 ~ /^[0-9.]+$/ && NF >= 5 { printf "  %-16s %6.2f\n", $NF, $4 / n }' "$WORK/$_n.strace" | sort -k2 -nr | head -12
  echo "perf: share of the balancer's samples (self), by group:"
  perf report -i "$WORK/$_n.perf" --no-children --sort dso,sym --stdio -g none 2>/dev/null \
    | awk '/^ *[0-9.]+%/ { p = $1; sub("%", "", p); s = $0; sub(/^ *[0-9.]+% */, "", s); print p "\t" s }' \
    >"$WORK/$_n.syms"
  /usr/bin/python3 "$(dirname "$0")/perf_groups.py" "$WORK/$_n.syms"
}
if [ -n "${PROFILE:-}" ]; then
  start_nodes p1
  start_proxy proxy-prof
  prof_run "outpost cwmp-proxy, periodic sessions" proxy "$PX" "$PP" "$COUNT" "$INTERVAL"
  stop_pids "$PX" "$N1" "$N2"
  start_nodes p2
  start_haproxy haproxy-prof
  prof_run "haproxy, periodic sessions" haproxy "$HX" "$HP" "$COUNT" "$INTERVAL"
  stop_pids "$HX" "$N1" "$N2"
  REDISCOVER=true
  start_nodes p3
  start_proxy proxyb-prof
  prof_run "outpost cwmp-proxy, bootstrap storm" proxy-boot "$PX" "$PP" "$BOOT" 1h
  stop_pids "$PX" "$N1" "$N2"
  start_nodes p4
  start_haproxy haproxyb-prof
  prof_run "haproxy, bootstrap storm" haproxy-boot "$HX" "$HP" "$BOOT" 1h
  stop_pids "$HX" "$N1" "$N2"
  exit 0
fi

# The machine is shared: rounds alternate the paths, and each path keeps its
# best round (highest sessions/s, lowest p99).
for r in $(seq 1 "$ROUNDS"); do
  path_direct "$r"
  path_proxy "$r"
  boot_proxy "$r"
  path_haproxy "$r"
done

# ---- report ---------------------------------------------------------------------
get() { json "$WORK/$1.json" "$2"; }
best() { # PATH KIND EXPR max|min: best value over the rounds
  v=""
  for r in $(seq 1 "$ROUNDS"); do
    x=$(get "$1-$r-$2" "$3")
    if [ -z "$v" ]; then v=$x; else
      v=$(awk -v a="$v" -v b="$x" -v m="$4" 'BEGIN { if ((m == "max") == (b > a)) print b; else print a }')
    fi
  done
  echo "$v"
}
sum_failed() {
  n=0
  for r in $(seq 1 "$ROUNDS"); do
    n=$((n + $(get "$1-$r-tput" 'd["sessions"]["failed"]') + $(get "$1-$r-lat" 'd["sessions"]["failed"]')))
  done
  echo "$n"
}
us_per_req() { # PATH [cpu|bootcpu tput|boot]: balancer CPU per HTTP request
  awk_in=""
  for r in $(seq 1 "$ROUNDS"); do
    awk_in="$awk_in $(cat "$WORK/$1-$r.${2:-cpu}") $(get "$1-$r-${3:-tput}" 'd["http_requests"]')"
  done
  echo "$awk_in" | awk '{ for (i = 1; i <= NF; i += 3) { c += $(i+1) - $i; n += $(i+2) } printf "%.0f", n ? c * 1e6 / n : 0 }'
}
for p in direct proxy haproxy; do
  eval "R_$p=\$(best $p tput 'round(d[\"sessions\"][\"per_second\"])' max)"
  eval "L50_$p=\$(best $p lat 'd[\"latency_ms\"][\"p50\"]' min)"
  eval "L99_$p=\$(best $p lat 'd[\"latency_ms\"][\"p99\"]' min)"
  eval "F_$p=\$(sum_failed $p)"
done
added() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a - b }'; }
A_proxy=$(added "$L99_proxy" "$L99_direct")
A_haproxy=$(added "$L99_haproxy" "$L99_direct")
U_proxy=$(us_per_req proxy)
U_haproxy=$(us_per_req haproxy)
B_proxy=$(best proxy boot 'd["sessions"]["completed"]' max)
B_haproxy=$(best haproxy boot 'd["sessions"]["completed"]' max)
BU_proxy=$(us_per_req proxy bootcpu boot)
BU_haproxy=$(us_per_req haproxy bootcpu boot)

echo "cwmp-proxy vs haproxy $(haproxy -v | awk 'NR==1 {print $3}') (nbthread 1), cpe-sim load; $(date -u +%Y-%m-%d), $(machine), load $(cut -d' ' -f1 /proc/loadavg)"
echo "throughput: $COUNT CPEs every $INTERVAL (jitter 0.5), ${DURATION}s, <= $MAXSESS sessions in flight;"
echo "            periodic sessions (Inform, empty POST), nodes started with --rediscover false"
echo "latency:    $LCOUNT CPEs every 1s (booted over 1s), ${DURATION}s; best of $ROUNDS alternating rounds"
printf "%-34s %11s %8s %9s %10s %11s %7s\n" "path" "sessions/s" "p50 ms" "p99 ms" "added p99" "cpu us/req" "failed"
printf "%-34s %11s %8s %9s %10s %11s %7s\n" "(a) straight to one ACS node" "$R_direct" "$L50_direct" "$L99_direct" "-" "-" "$F_direct"
printf "%-34s %11s %8s %9s %10s %11s %7s\n" "(b) outpost cwmp-proxy, 2 nodes" "$R_proxy" "$L50_proxy" "$L99_proxy" "$A_proxy" "$U_proxy" "$F_proxy"
printf "%-34s %11s %8s %9s %10s %11s %7s\n" "(c) haproxy, 2 nodes" "$R_haproxy" "$L50_haproxy" "$L99_haproxy" "$A_haproxy" "$U_haproxy" "$F_haproxy"
echo "ratio sessions/s (b)/(c): $(ratio "$R_proxy" "$R_haproxy") (goal >= 1); (b)/(a): $(ratio "$R_proxy" "$R_direct")"
echo "added p99 (b) vs (c): $A_proxy ms vs $A_haproxy ms (goal: (b) <= (c)); CPU per request (b)/(c): $(ratio "$U_proxy" "$U_haproxy")"
echo "bootstrap storm: $BOOT new CPEs at once, the nodes read each one's whole data model (~90 KB"
echo "  GetParameterValuesResponse, which the proxy parses for ConnectionRequestURL), ${DURATION}s:"
echo "  bootstrap sessions done: (b) $B_proxy, (c) $B_haproxy, ratio $(ratio "$B_proxy" "$B_haproxy");" \
     "CPU us/request (b) $BU_proxy, (c) $BU_haproxy"
echo "cwmp-proxy RSS after the last round: $((PX_RSS / 1024)) MiB"
