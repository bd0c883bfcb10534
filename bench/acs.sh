#!/bin/sh
# bench/acs.sh [BIN] — outpost acs under a scripted CPE load (bench/acs_load.c,
# compiled here; cpe-sim will take over once it carries a benchmark mode).
#   ceiling  wrk against nginx answering 204, one request per new connection
#   (a)      complete Inform sessions/s, each on a new TCP connection
#            (Inform, InformResponse, empty POST, 204), SQLite persistence;
#            100,000 distinct devices, so the store ends up with 100,000
#   (b)      sessions that also carry one GetParameterValues of 500 parameters
#   (c)      RSS of the ACS with 100,000 known devices
#   (e)      a bootstrap storm of 10,000 cpe-sim CPEs each running a Lua
#            provision of 3 declarations (reads 1, sets 2), against the same
#            storm with no preset, in this run: sessions/s, p99, the ratio;
#            (e') reading a value the Inform lacks; (e'') with rediscovery
#   (f)      the file store: a 64 MiB PUT, 32 parallel downloads of it, RSS
#   (g), (h) the fleet rows, in bench/acs_fleet.sh (run at the end):
#            a bulk set_params to 10,000 cpe-sim CPEs through connection
#            requests, with peak RSS; search over 1,000,000 stored devices
#            and the device list's first page (goal < 100 ms).
#            ACS_BENCH_ONLY=bulk|search|fleet runs only those.
# ACS_BENCH_ONLY=ab: only the ceiling, (a), (a') and (b) (about a minute).
# PROFILE=1: where the ACS's time goes, per session, in (a) and (b): system
#            calls (strace -c -f over one run of each) and a perf profile
#            (perf record -g over another run, grouped by bench/perf_groups.py;
#            both threads: the loop and the store worker); CPU per session of
#            that run. ACS_BENCH_PROFILE_N sessions per run (default 20000 for
#            (a), a tenth of it for (b)); the raw reports stay in $T with
#            KEEP_WORK=1.
# Goals on 2 cores: (a) >= 5000/s, (b) >= 500/s, (c) <= 200 MB, (e) >= 0.7x.
set -eu
BIN=${1:-build/release/src/outpost}
BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")
HERE=$(cd "$(dirname "$0")" && pwd)
case "${ACS_BENCH_ONLY:-}" in
  bulk|search) exec "$HERE/acs_fleet.sh" "$BIN" "$ACS_BENCH_ONLY" ;;
  fleet) exec "$HERE/acs_fleet.sh" "$BIN" all ;;
esac
AB=
[ "${ACS_BENCH_ONLY:-}" = ab ] && AB=1
DEVICES=${ACS_BENCH_DEVICES:-100000}
GPV_SESSIONS=${ACS_BENCH_GPV:-3000}
CONNS=${ACS_BENCH_CONNS:-64}
T=$(mktemp -d /tmp/acs-bench.XXXXXX)
ACS_PID= NGINX_PID= ACS2_PID=
cleanup() {
  [ -n "$ACS_PID" ] && kill "$ACS_PID" 2>/dev/null && wait "$ACS_PID" 2>/dev/null
  [ -n "$ACS2_PID" ] && kill "$ACS2_PID" 2>/dev/null
  [ -n "$NGINX_PID" ] && kill "$NGINX_PID" 2>/dev/null
  [ -n "${KEEP_WORK:-}" ] && echo "kept $T" || rm -rf "$T"
}
trap cleanup EXIT INT TERM

port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
cc -O2 -o "$T/acs_load" "$HERE/acs_load.c" -luv

# ---- PROFILE=1 -------------------------------------------------------------------
if [ -n "${PROFILE:-}" ]; then
  PN=${ACS_BENCH_PROFILE_N:-20000}
  PG=$((PN / 10))
  CPORT=$(port); APORT=$(port); MPORT=$(port)
  "$BIN" acs --cwmp-listen "127.0.0.1:$CPORT" --api-listen "127.0.0.1:$APORT" --data-dir "$T/acs" \
    --cpe-auth none --api-token bench --log-level warn --rediscover=false \
    --admin-listen "127.0.0.1:$MPORT" 2> "$T/acs.log" &
  ACS_PID=$!
  for i in $(seq 50); do
    curl -sf -o /dev/null -H 'Authorization: Bearer bench' "http://127.0.0.1:$APORT/api/stats" && break
    sleep 0.1
  done
  cpu() { awk -v hz="$(getconf CLK_TCK)" '{printf "%.2f", ($14 + $15) / hz}' "/proc/$ACS_PID/stat"; }
  metric() { curl -s -H 'Authorization: Bearer bench' "http://127.0.0.1:$MPORT/metrics" | awk -v m="$1" '$1 == m { print $2 }'; }
  batches() { metric outpost_acs_store_batches_total; }
  jobs() { metric outpost_acs_store_jobs_total; }
  queue_gpv() { # FIRST N: one 500-name GetParameterValues for devices PG-FIRST .. +N
    /usr/bin/python3 "$HERE/acs_queue_gpv.py" "$APORT" PG "$1" "$2"
  }
  # prof NAME KIND ARGS...: acs_load ARGS under strace -c, then ARGS2 (set by
  # the caller as NEXT) under perf
  prof() {
    _n=$1 _k=$2; shift 2
    strace -c -f -p "$ACS_PID" -o "$T/$_n.strace" 2>/dev/null &
    _st=$!
    sleep 0.5
    _o1=$("$T/acs_load" --port "$CPORT" --conns "$CONNS" "$@" $ST_ARGS)
    kill -INT "$_st"; wait "$_st" 2>/dev/null || true
    [ -n "$BEFORE_PERF" ] && eval "$BEFORE_PERF"
    _c0=$(cpu); _b0=$(batches); _j0=$(jobs)
    perf record -q -F 4999 -g -p "$ACS_PID" -o "$T/$_n.perf" 2>/dev/null &
    _pf=$!
    sleep 0.5
    _o2=$("$T/acs_load" --port "$CPORT" --conns "$CONNS" "$@" $PF_ARGS)
    kill -INT "$_pf"; wait "$_pf" 2>/dev/null || true
    _c1=$(cpu)
    _s1=$(echo "$_o1" | sed 's/.*sessions=\([0-9]*\).*/\1/')
    _s2=$(echo "$_o2" | sed 's/.*sessions=\([0-9]*\).*/\1/')
    echo "== $_n: $_k"
    echo "   strace run: $_o1"
    echo "   perf run:   $_o2; ACS CPU (both threads, under perf)" \
         "$(awk -v a="$_c0" -v b="$_c1" -v n="$_s2" 'BEGIN { printf "%.1f", (b - a) * 1e6 / n }') us/session"
    echo "system calls per session (strace -c -f, both threads):"
    awk -v n="$_s1" '$1 ~ /^[0-9.]+$/ && NF >= 5 { printf "  %-16s %6.2f\n", $NF, $4 / n }' "$T/$_n.strace" | sort -k2 -nr | head -14
    echo "perf: share of the ACS's samples (self, both threads), by group:"
    perf report -i "$T/$_n.perf" --no-children --sort dso,sym --stdio -g none 2>/dev/null \
      | awk '/^ *[0-9.]+%/ { p = $1; sub("%", "", p); s = $0; sub(/^ *[0-9.]+% */, "", s); print p "\t" s }' \
      > "$T/$_n.syms"
    /usr/bin/python3 "$HERE/perf_groups.py" "$T/$_n.syms" acs
    echo "perf: samples by thread (the loop is the daemon's pid):"
    perf script -i "$T/$_n.perf" -F tid 2>/dev/null | sort | uniq -c | sort -nr |
      awk -v pid="$ACS_PID" '{ n[NR] = $1; t[NR] = $2; s += $1 } END { for (i = 1; i <= NR; i++)
        printf "  %5.1f%%  %s\n", 100 * n[i] / s, (t[i] == pid ? "event loop thread" : "thread " t[i] " (the store worker, or another)") }'
    if [ -n "$MPORT" ]; then
      echo "store batches in the perf run: $(awk -v a="$_b0" -v b="$(batches)" -v j0="$_j0" -v j1="$(jobs)" 'BEGIN { printf "%d batches, %d jobs, %.1f jobs per batch", b - a, j1 - j0, (b > a ? (j1 - j0) / (b - a) : 0) }')"
    fi
  }
  # (a): every session a new device, as in the bench (prefix PA, then PB)
  BEFORE_PERF= ST_ARGS="--sessions $PN --devices $PN --prefix PA" PF_ARGS="--sessions $PN --devices $PN --prefix PB"
  prof inform "(a) Inform sessions, new devices, new connection each" --mode inform
  # (b): the devices of (b) informed once (known, as in the bench), tasks queued
  "$T/acs_load" --port "$CPORT" --conns "$CONNS" --sessions $((PG * 2)) --devices $((PG * 2)) --prefix PG --mode inform >/dev/null
  queue_gpv 0 "$PG"
  BEFORE_PERF="queue_gpv $PG $PG"
  # acs_load takes devices round robin from --first: the perf run's are PG..2PG-1
  ST_ARGS="--sessions $PG --devices $PG" PF_ARGS="--sessions $PG --devices $((PG * 2)) --first $PG"
  prof gpv "(b) sessions with a 500-parameter GetParameterValues" --mode gpv --params 500 --prefix PG
  kill "$ACS_PID"; wait "$ACS_PID" || { echo "acs exited badly"; tail "$T/acs.log"; exit 1; }
  ACS_PID=
  echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%Y-%m-%dT%H:%MZ)"
  exit 0
fi

# ---- ceiling: nginx 204, Connection: close ------------------------------------
NPORT=$(port)
mkdir -p "$T/nginx/logs"
cat > "$T/nginx/nginx.conf" <<EOF
worker_processes 1;
daemon off;
pid $T/nginx/nginx.pid;
error_log $T/nginx/logs/error.log;
events { worker_connections 4096; }
http {
  access_log off;
  server { listen 127.0.0.1:$NPORT; location / { return 204; } }
}
EOF
nginx -p "$T/nginx" -c "$T/nginx/nginx.conf" &
NGINX_PID=$!
sleep 0.5
CEIL=$(wrk -t2 -c"$CONNS" -d5s -H "Connection: close" "http://127.0.0.1:$NPORT/" |
       awk '/Requests\/sec/ {printf "%d", $2}')
kill "$NGINX_PID"; wait "$NGINX_PID" 2>/dev/null || true; NGINX_PID=
echo "ceiling: nginx 204, one request per new connection: $CEIL req/s"

# ---- the ACS -------------------------------------------------------------------
CPORT=$(port); APORT=$(port); MPORT=$(port)
# --rediscover=false: cpe-sim's CPEs bootstrap on first contact, and (a)
# measures Inform sessions, not the data model reads a BOOTSTRAP triggers.
"$BIN" acs --cwmp-listen "127.0.0.1:$CPORT" --api-listen "127.0.0.1:$APORT" --data-dir "$T/acs" \
  --cpe-auth none --api-token bench --log-level warn --rediscover=false \
  --admin-listen "127.0.0.1:$MPORT" --fleet-refresh 1s 2> "$T/acs.log" &
ACS_PID=$!
for i in $(seq 50); do
  curl -sf -o /dev/null -H 'Authorization: Bearer bench' "http://127.0.0.1:$APORT/api/stats" && break
  sleep 0.1
done
rss() { awk '/VmRSS/ {printf "%.1f", $2/1024}' "/proc/$ACS_PID/status"; }
# CPU seconds the ACS used so far (user + system, all threads)
cpu() { awk -v hz="$(getconf CLK_TCK)" '{printf "%.2f", ($14 + $15) / hz}' "/proc/$ACS_PID/stat"; }
# per_session CPU0 CPU1 SESSIONS: ms of ACS CPU per session (independent of other load)
per_session() { awk -v a="$1" -v b="$2" -v n="$3" 'BEGIN {printf "%.3f", (b - a) * 1000 / n}'; }
sessions_of() { echo "$1" | sed 's/.*sessions=\([0-9]*\).*/\1/'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", (b > 0 ? a / b : 0)}'; }

# (a) one Inform session per new connection, every device new to the store
C0=$(cpu)
OUT=$("$T/acs_load" --port "$CPORT" --conns "$CONNS" --sessions "$DEVICES" --devices "$DEVICES" --mode inform)
C1=$(cpu)
A=$(echo "$OUT" | sed 's/.*rate=//')
echo "(a) Inform sessions: $OUT; ACS CPU $(per_session "$C0" "$C1" "$(sessions_of "$OUT")") ms/session"
echo "(a) $A sessions/s (goal 5000), ratio to ceiling $(ratio "$A" "$CEIL")"
# periodic again, now that every device is known
C0=$(cpu)
OUT=$("$T/acs_load" --port "$CPORT" --conns "$CONNS" --duration 8 --devices "$DEVICES" --mode inform)
C1=$(cpu)
A2=$(echo "$OUT" | sed 's/.*rate=//')
echo "(a') periodic sessions of known devices: $OUT; ACS CPU $(per_session "$C0" "$C1" "$(sessions_of "$OUT")") ms/session; ratio to ceiling $(ratio "$A2" "$CEIL")"
# (a) again, driven by outpost cpe-sim: 4000 CPEs informing every 250 ms
if [ -z "$AB" ] && "$BIN" --help 2>/dev/null | grep -q '^  cpe-sim '; then
  C0=$(cpu)
  "$BIN" cpe-sim --acs "http://127.0.0.1:$CPORT/" --cr-listen 127.0.0.1:0 --count 4000 --rate 0 \
    --inform-interval 250ms --jitter 0.5 --duration 10s --stats-interval 0 --json --max-sessions 1000 \
    --serial-prefix BSIM --log-level warn --admin-listen "" > "$T/sim.json" 2> "$T/sim.log" || true
  C1=$(cpu)
  SIM=$(/usr/bin/python3 -c 'import json,sys
d = [json.loads(l)["stats"] for l in open(sys.argv[1]) if l.startswith("{\"final\"")][0]
s = d["sessions"]
print(s["completed"], round(s["per_second"]), s["failed"])' "$T/sim.json" 2>/dev/null || echo "0 0 ?")
  set -- $SIM
  echo "(a) driven by cpe-sim (4000 CPEs, new connection per session): $2 sessions/s, $1 done, $3 failed; ACS CPU $(per_session "$C0" "$C1" "${1:-1}") ms/session; ratio to ceiling $(ratio "$2" "$CEIL")"
fi
if [ -z "$AB" ]; then
TOTAL=$(curl -s -H 'Authorization: Bearer bench' "http://127.0.0.1:$APORT/api/stats" |
        /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["total_devices"])')
R=$(rss)
echo "(c) RSS with $TOTAL known devices: $R MB (goal 200), ratio to goal $(ratio "$R" 200)"

# (d) a Prometheus scrape of /metrics with those devices known: 50 scrapes
# one after another (a new connection each, as Prometheus's are not kept
# alive across a long interval), median and worst; goal < 50 ms. The device
# and task gauges come from a store snapshot refreshed in the background
# (--fleet-refresh 1s here); the snapshot's own query cost is the "store
# read" figure, timed on /api/stats, which runs the same COUNTs.
sleep 1.5  # a snapshot of the whole fleet
SCRAPES=$(for i in $(seq 50); do
  curl -s -o /dev/null -w '%{time_total}\n' -H 'Authorization: Bearer bench' "http://127.0.0.1:$MPORT/metrics"
done | sort -n)
MED=$(echo "$SCRAPES" | awk '{v[NR]=$1} END {printf "%.2f", v[int((NR+1)/2)]*1000}')
MAX=$(echo "$SCRAPES" | awk 'END {printf "%.2f", $1*1000}')
DEVS=$(curl -s -H 'Authorization: Bearer bench' "http://127.0.0.1:$MPORT/metrics" | awk '$1 == "outpost_acs_devices" {print $2}')
STATS=$(curl -s -o /dev/null -w '%{time_total}' -H 'Authorization: Bearer bench' "http://127.0.0.1:$APORT/api/stats" |
        awk '{printf "%.2f", $1*1000}')
echo "(d) /metrics scrape with $DEVS devices: median $MED ms, worst $MAX ms of 50 (goal 50 ms), ratio to goal $(ratio "$MED" 50); the snapshot's store read $STATS ms"

fi

# (b) queue one 500-name GetParameterValues per device, then run those sessions
/usr/bin/python3 "$HERE/acs_queue_gpv.py" "$APORT" B 0 "$GPV_SESSIONS"
C0=$(cpu)
OUT=$("$T/acs_load" --port "$CPORT" --conns "$CONNS" --sessions "$GPV_SESSIONS" --devices "$GPV_SESSIONS" --mode gpv --params 500)
C1=$(cpu)
B=$(echo "$OUT" | sed 's/.*rate=//')
echo "(b) sessions with a 500-parameter GetParameterValues: $OUT; ACS CPU $(per_session "$C0" "$C1" "$(sessions_of "$OUT")") ms/session"
echo "(b) $B sessions/s (goal 500), ratio to ceiling $(ratio "$B" "$CEIL")"
PENDING=$(curl -s -H 'Authorization: Bearer bench' "http://127.0.0.1:$APORT/api/stats")
echo "    after (b): $PENDING; RSS $(rss) MB"

if [ -n "$AB" ]; then
  kill "$ACS_PID"; wait "$ACS_PID" || { echo "acs exited badly"; tail "$T/acs.log"; exit 1; }
  ACS_PID=
  echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%Y-%m-%dT%H:%MZ)"
  exit 0
fi

# (e) provisioning in the bootstrap session: 10,000 new cpe-sim CPEs (TR-181)
# at once (1,000 sessions in flight), first without a preset, then with a
# preset on 0 BOOTSTRAP running a Lua provision that reads one value and sets
# two from it. sessions/s: the 10,000 bootstraps over the time they took; p99
# of those sessions (cpe-sim's histogram). Variant (e'): the value read is
# one the Inform does not carry (DeviceInfo.ModelName): a GetParameterValues
# round trip more per session.
STORM=${ACS_BENCH_STORM:-10000}
storm() { # PREFIX [PORT]: "rate p99 completed failed" once every CPE bootstrapped
  /usr/bin/python3 - "$BIN" "${2:-$CPORT}" "$STORM" "$1" <<'EOF'
import json, subprocess, sys, time
bin_, port, n, prefix = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
p = subprocess.Popen([bin_, "cpe-sim", "--acs", f"http://127.0.0.1:{port}/", "--cr-listen", "127.0.0.1:0",
                      "--count", str(n), "--rate", "0", "--max-sessions", "1000", "--inform-interval", "3600",
                      "--stats-interval", "100ms", "--json", "--serial-prefix", prefix, "--log-level", "warn",
                      "--admin-listen", ""], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
out = "0 0 0 ?"
deadline = time.monotonic() + 300
for line in p.stdout:
    try:
        st = json.loads(line)["stats"]
    except (ValueError, KeyError):
        continue
    s = st["sessions"]
    if s["completed"] + s["failed"] >= n or time.monotonic() > deadline:
        out = "%.0f %.1f %d %d" % (s["completed"] / st["elapsed_s"], st["latency_ms"]["p99"],
                                   s["completed"], s["failed"])
        break
p.terminate()
p.wait()
print(out)
EOF
}
api() { curl -sf -o /dev/null -X PUT -H 'Authorization: Bearer bench' "http://127.0.0.1:$APORT$1" "$2" "$3"; }
if "$BIN" --help 2>/dev/null | grep -q '^  cpe-sim '; then
  C0=$(cpu); set -- $(storm EA); C1=$(cpu)
  E0=$1 P0=$2
  echo "(e) bootstrap storm, no preset: $1 sessions/s, p99 $2 ms ($3 done, $4 failed); ACS CPU $(per_session "$C0" "$C1" "${3:-1}") ms/session"
  api /api/provisions/bench3 --data-binary 'local sw = declare("Device.DeviceInfo.SoftwareVersion", {value = 1})
declare("Device.WiFi.SSID.1.SSID", nil, {value = "net-" .. device.serial})
declare("Device.DeviceInfo.ProvisioningCode", nil, {value = "sw-" .. sw.value[1]})'
  api /api/presets/bench3 --data '{"events": ["0 BOOTSTRAP"], "provisions": [{"type": "script", "name": "bench3"}]}'
  C0=$(cpu); set -- $(storm EB); C1=$(cpu)
  echo "(e) bootstrap storm, 3-declaration Lua provision: $1 sessions/s, p99 $2 ms ($3 done, $4 failed); ACS CPU $(per_session "$C0" "$C1" "${3:-1}") ms/session"
  echo "(e) ratio with/without provisioning: $(ratio "$1" "$E0") (goal 0.7); p99 $2 / $P0 ms"
  api /api/provisions/bench3 --data-binary 'local m = declare("Device.DeviceInfo.ModelName", {value = 1})
declare("Device.WiFi.SSID.1.SSID", nil, {value = "net-" .. device.serial})
declare("Device.DeviceInfo.ProvisioningCode", nil, {value = "model-" .. m.value[1]})'
  C0=$(cpu); set -- $(storm EC); C1=$(cpu)
  echo "(e') the same, reading a value the Inform lacks (one round trip more): $1 sessions/s, p99 $2 ms ($3 done, $4 failed); ACS CPU $(per_session "$C0" "$C1" "${3:-1}") ms/session; ratio $(ratio "$1" "$E0")"
  echo "    $(curl -s -H 'Authorization: Bearer bench' "http://127.0.0.1:$MPORT/metrics" |
        awk '/^outpost_acs_provisioning_(runs_total|rpcs_total|rounds_total|engine_seconds_total)/ {printf "%s%s=%s", sep, $1, $2; sep=" "}')"
  # (e'') the same pair against an ACS with its default --rediscover: each
  # bootstrap also reads the whole data model (~700 parameters), and the
  # session's provisioning loads the stored subtrees its provision names
  C2=$(port); A2=$(port)
  "$BIN" acs --cwmp-listen "127.0.0.1:$C2" --api-listen "127.0.0.1:$A2" --data-dir "$T/acs2" \
    --cpe-auth none --api-token bench --log-level warn --admin-listen "" 2> "$T/acs2.log" &
  ACS2_PID=$!
  for i in $(seq 50); do
    curl -sf -o /dev/null -H 'Authorization: Bearer bench' "http://127.0.0.1:$A2/api/stats" && break
    sleep 0.1
  done
  set -- $(storm RA "$C2"); R0=$1 Q0=$2
  curl -sf -o /dev/null -X PUT -H 'Authorization: Bearer bench' "http://127.0.0.1:$A2/api/provisions/bench3" \
    --data-binary 'local sw = declare("Device.DeviceInfo.SoftwareVersion", {value = 1})
declare("Device.WiFi.SSID.1.SSID", nil, {value = "net-" .. device.serial})
declare("Device.DeviceInfo.ProvisioningCode", nil, {value = "sw-" .. sw.value[1]})'
  curl -sf -o /dev/null -X PUT -H 'Authorization: Bearer bench' "http://127.0.0.1:$A2/api/presets/bench3" \
    --data '{"events": ["0 BOOTSTRAP"], "provisions": [{"type": "script", "name": "bench3"}]}'
  set -- $(storm RB "$C2")
  echo "(e'') with the default rediscovery: $R0 sessions/s (p99 $Q0 ms) without a preset, $1 (p99 $2 ms) with it: ratio $(ratio "$1" "$R0")"
  kill "$ACS2_PID"; wait "$ACS2_PID" || { echo "the second acs exited badly"; tail "$T/acs2.log"; exit 1; }
  ACS2_PID=
fi

# (f) the file store: a 64 MiB file PUT through the API (streamed to disk,
# hashed on the way), then 32 clients downloading it at once from /files/ on
# the CWMP listener; the ACS's RSS before, after the PUT and at its peak
# during the downloads (a file is never held in memory: one 64 KiB piece and
# the connection's send queue per download)
files_bench() {
  head -c $((64 * 1024 * 1024)) /dev/urandom > "$T/fw.bin"
  F0=$(rss)
  S=$(date +%s.%N)
  curl -sf -o /dev/null -T "$T/fw.bin" -H 'Authorization: Bearer bench' "http://127.0.0.1:$APORT/api/files/bench-fw.bin"
  E=$(date +%s.%N); F1=$(rss)
  PUT_MBS=$(awk -v s="$S" -v e="$E" 'BEGIN {printf "%.0f", 64 / (e - s)}')
  ( while :; do rss; echo; sleep 0.1; done ) > "$T/rss.log" &
  SAMPLER=$!
  S=$(date +%s.%N)
  seq 32 | xargs -P 32 -I{} curl -sf -o /dev/null "http://127.0.0.1:$CPORT/files/bench-fw.bin"
  E=$(date +%s.%N)
  kill "$SAMPLER"; wait "$SAMPLER" 2>/dev/null || true
  PEAK=$(sort -n "$T/rss.log" | tail -1)
  GET_MBS=$(awk -v s="$S" -v e="$E" 'BEGIN {printf "%.0f", 32 * 64 / (e - s)}')
  echo "(f) file store: PUT 64 MiB at $PUT_MBS MB/s (RSS $F0 -> $F1 MB); 32 parallel downloads of it: $GET_MBS MB/s in all, ACS RSS peak $PEAK MB"
}
files_bench

kill "$ACS_PID"; wait "$ACS_PID" || { echo "acs exited badly"; tail "$T/acs.log"; exit 1; }
ACS_PID=
if grep -q ' error ' "$T/acs.log"; then echo "errors in the ACS log:"; grep ' error ' "$T/acs.log" | head; exit 1; fi
echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%Y-%m-%dT%H:%MZ)"
"$HERE/acs_fleet.sh" "$BIN" all
