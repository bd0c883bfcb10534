#!/bin/sh
# bench/scale.sh [BIN] — the ACS on its two stores and as two nodes:
#   (s1) complete Inform sessions/s (bench/acs_load.c, each on a new TCP
#        connection, every device new to the store), 1 node on SQLite
#   (s2) the same, 1 node on PostgreSQL
#   (s3) the same, 2 nodes on the same PostgreSQL database, the load split
#        by two acs_load runs (one per node, half the devices each)
#        for each: the CPU seconds the ACS node(s), PostgreSQL (server and
#        backends) and the load generator used, from /proc, and the ratios
#        and where the time goes: the store's round trips to the server per
#        session (/metrics), the store worker thread's CPU against its wall
#        time (the rest is waiting, mostly on the server), the CPU of the
#        node's PostgreSQL backends per session, the batches
#   (s3') (s3) again with new devices, a dashboard's event stream open on
#        node 2 (curl on /api/events): node 1 tells node 2 its events
#        (docs/scaling.md "Live events across nodes"); the ratio to (s3)
#        and what was told, in how many notifications
#   (s4) 1,000,000 devices in PostgreSQL (seeded with generate_series in
#        psql, the ACS's own schema; ANALYZE afterwards, as autovacuum would
#        shortly): the device list's first page and a filtered search,
#        median / worst of 20 through the API (goal < 100 ms)
#   (s5) a 5,000-parameter GetParameterValuesResponse: time from the CPE's
#        POST to the ACS's answer (the store job commits in between), on
#        SQLite and on PostgreSQL (goal < 50 ms)
#   (s6) a 64 MiB file shared through PostgreSQL (docs/files.md "Several
#        nodes"): PUT through node A (bytes into the database), then GETs
#        of /files/NAME: node A's (its own copy: the ceiling), node B's
#        first (cold: fetched from the database into its cache) and second
#        (its copy); MB/s, median of SCALE_FILE_ROUNDS (3) files, and the
#        ratios to the ceiling; the PUT against one SQLite node's.
#        SCALE_ONLY=files runs this row alone.
# PostgreSQL: a throwaway server (tests/pg_server.py) with durable commits
# (fsync, synchronous_commit on) and shared_buffers 1GB. SCALE_DEVICES
# (20000) sessions per row, SCALE_FLEET (1000000) devices for (s4).
# SCALE_ONLY=gpv runs only (s5) (about 10 s); SCALE_ONLY=fleet
# only (s4). SCALE_SEARCH_PARAM=NAME[,NAME...] runs (s5) a second time on
# each store with those --search-param names (the index triggers on), its
# figure printed beside the one without; a name among the answer's
# (InternetGatewayDevice.X_Big.P.1.Value) also has its index entry changed
# by every answer.
# SCALE_ONLY=sessions: (s1)-(s3) only (a minute), SCALE_ROUNDS=N: them N
# times (alternating with another build: run each in turn).
set -eu
BIN=${1:-build/release/src/outpost}
BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")
DEVICES=${SCALE_DEVICES:-20000}
ONLY=${SCALE_ONLY:-}
case "$ONLY" in ''|sessions|gpv|fleet|files) ;; *) echo "SCALE_ONLY: sessions, gpv, fleet or files" >&2; exit 2 ;; esac
FLEET=${SCALE_FLEET:-1000000}
SEARCH=${SCALE_SEARCH_PARAM:-}
SEARCH_ARGS=
for n in $(echo "$SEARCH" | tr ',' ' '); do SEARCH_ARGS="$SEARCH_ARGS --search-param $n"; done
CONNS=${SCALE_CONNS:-64}
T=$(mktemp -d /tmp/acs-scale.XXXXXX)
chmod 755 "$T"
PIDS=
cleanup() {
  for p in $PIDS; do kill "$p" 2>/dev/null || true; done
  for p in $PIDS; do wait "$p" 2>/dev/null || true; done
  /usr/bin/python3 "$ROOT/tests/pg_server.py" stop "$T/pg" >/dev/null 2>&1 || true
  rm -rf "$T"
}
trap cleanup EXIT INT TERM
port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", (b > 0 ? a / b : 0)}'; }
HZ=$(getconf CLK_TCK)
cpu_of() { awk -v hz="$HZ" '{printf "%.2f", ($14 + $15) / hz}' "/proc/$1/stat"; }
# PostgreSQL's CPU seconds: the postmaster with its reaped children
# (cutime, cstime) and every live backend
pg_cpu() {
  pm=$(head -1 "$T/pg/data/postmaster.pid")
  { awk '{print $14 + $15 + $16 + $17}' "/proc/$pm/stat"
    for c in $(ps -o pid= --ppid "$pm"); do awk '{print $14 + $15}' "/proc/$c/stat" 2>/dev/null || true; done
  } | awk -v hz="$HZ" '{s += $1} END {printf "%.2f", s / hz}'
}
H='Authorization: Bearer bench'

cc -O2 -o "$T/acs_load" "$HERE/acs_load.c" -luv
OUTPOST_PG_OPTS="-c fsync=on -c synchronous_commit=on -c full_page_writes=on -c shared_buffers=1GB -c max_connections=100" \
  /usr/bin/python3 "$ROOT/tests/pg_server.py" start "$T/pg" > "$T/pg.url"
PGURL=$(cat "$T/pg.url")
PSQL=$(/usr/bin/python3 -c "import sys; sys.path.insert(0, '$ROOT/tests'); import pg_server; print(pg_server.psql())")
db_url() { echo "$PGURL" | sed "s|:///postgres?|:///$1?|"; }
newdb() { "$PSQL" -X -q -d "$PGURL" -c "CREATE DATABASE $1"; db_url "$1"; }

start_acs() { # NAME EXTRA...: sets CPORT_<NAME>, APORT_<NAME>, PID_<NAME>
  name=$1; shift
  c=$(port); a=$(port); m=$(port)
  "$BIN" acs --cwmp-listen "127.0.0.1:$c" --api-listen "127.0.0.1:$a" --data-dir "$T/$name" \
    --cpe-auth none --api-token bench --log-level warn --rediscover=false \
    --admin-listen "127.0.0.1:$m" "$@" 2> "$T/$name.log" &
  pid=$!
  PIDS="$PIDS $pid"
  for i in $(seq 300); do
    curl -sf -o /dev/null -H "$H" "http://127.0.0.1:$a/api/stats" && break
    kill -0 "$pid" 2>/dev/null || { echo "acs $name exited:"; tail "$T/$name.log"; exit 1; }
    sleep 0.1
  done
  eval "CPORT_$name=$c APORT_$name=$a MPORT_$name=$m PID_$name=$pid"
}
stop_acs() { # NAME
  eval "pid=\$PID_$1"
  kill "$pid"; wait "$pid" || { echo "acs $1 exited badly"; tail "$T/$1.log"; exit 1; }
  if grep -q ' error ' "$T/$1.log"; then echo "errors in $1's log:"; grep ' error ' "$T/$1.log" | head; exit 1; fi
}

# where the time goes (summed over the nodes NAME...): "round_trips batches
# jobs worker_cpu_s backend_cpu_s". The store worker is the node's thread
# with the most voluntary context switches (the loop thread sleeps in
# epoll once per many requests, the worker once per round trip).
metric() { curl -s -H "$H" "http://127.0.0.1:$1/metrics" | awk -v m="$2" '$1 == m {v = $2} END {printf "%.0f", v + 0}'; }
worker() { # PID: "CPU-ticks voluntary-switches" of its busiest-waiting thread
  for t in /proc/$1/task/*; do
    [ "${t##*/}" = "$1" ] && continue
    echo "$(awk '/^voluntary_ctxt_switches/ {print $2}' "$t/status") $(awk '{print $14 + $15}' "$t/stat")"
  done | sort -n | tail -1 | awk '{print $2, $1}'
}
backends() { # PGURL: pids of the ACS's connections to that database
  "$PSQL" -X -A -t -d "$1" -c "SELECT pid FROM pg_stat_activity WHERE application_name = 'outpost' AND datname = current_database()"
}
ticks() { for p in "$@"; do awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || true; done | awk '{s += $1} END {print s + 0}'; }
where() { # snapshot NAME...
  rt=0; b=0; j=0; wc=0; ws=0
  for name in "$@"; do
    eval "mp=\$MPORT_$name; pid=\$PID_$name"
    rt=$((rt + $(metric "$mp" outpost_acs_store_round_trips_total)))
    b=$((b + $(metric "$mp" outpost_acs_store_batches_total)))
    j=$((j + $(metric "$mp" outpost_acs_store_jobs_total)))
    set -- $(worker "$pid")
    wc=$((wc + $1)); ws=$((ws + $2))
  done
  echo "$rt $b $j $wc $(ticks $BACKENDS) $ws"
}
# load NAME...: one acs_load per node (devices split), at once; prints
# "RATE acs_cpu pg_cpu load_cpu" and a line of detail
load() {
  n=$#; per=$((DEVICES / n)); i=0; a0=0; pids=
  for name in "$@"; do eval "a0=\$(awk -v x=$a0 -v y=\$(cpu_of \$PID_$name) 'BEGIN {print x + y}')"; done
  w0=$(where "$@")
  p0=$(pg_cpu 2>/dev/null || echo 0)
  s0=$(date +%s.%N)
  for name in "$@"; do
    eval "cport=\$CPORT_$name"
    /usr/bin/time -f '%U %S' -o "$T/load$i.cpu" "$T/acs_load" --port "$cport" --conns $((CONNS / n)) \
      --sessions "$per" --devices "$per" --mode inform --prefix "N$name${TAG:-}" > "$T/load$i.out" &
    pids="$pids $!"; i=$((i + 1))
  done
  for p in $pids; do wait "$p"; done
  s1=$(date +%s.%N)
  a1=0
  for name in "$@"; do eval "a1=\$(awk -v x=$a1 -v y=\$(cpu_of \$PID_$name) 'BEGIN {print x + y}')"; done
  p1=$(pg_cpu 2>/dev/null || echo 0)
  w1=$(where "$@")
  sessions=$(cat "$T"/load*.out | sed 's/.*sessions=\([0-9]*\).*/\1/' | awk '{s += $1} END {print s}')
  errors=$(cat "$T"/load*.out | sed 's/.*errors=\([0-9]*\).*/\1/' | awk '{s += $1} END {print s}')
  lcpu=$(cat "$T"/load*.cpu | awk '{s += $1 + $2} END {printf "%.2f", s}')
  rm -f "$T"/load*.out "$T"/load*.cpu
  awk -v n="$sessions" -v e="$errors" -v s0="$s0" -v s1="$s1" -v a0="$a0" -v a1="$a1" -v p0="$p0" -v p1="$p1" -v l="$lcpu" \
    'BEGIN {w = s1 - s0; printf "%d %.2f %.2f %.2f %.1f %d %d\n", n / w, a1 - a0, p1 - p0, l, w, n, e}'
  # where: per session, and the worker's share of the wall (per node)
  echo "$w0 $w1" | awk -v n="$sessions" -v hz="$HZ" -v s0="$s0" -v s1="$s1" -v nodes=$# '{
    w = s1 - s0; rt = $7 - $1; b = $8 - $2; j = $9 - $3; wc = ($10 - $4) / hz; bc = ($11 - $5) / hz; ws = $12 - $6
    printf "  where: %.2f round trips/session (the store worker waited %.2f times/session); its CPU %.0f us/session, %.0f%% of its wall (%.0f%% waiting); PostgreSQL backends CPU %.0f us/session; %d batches of %.1f jobs\n",
      rt / n, ws / n, wc / n * 1e6, wc / nodes / w * 100, 100 - wc / nodes / w * 100, bc / n * 1e6, b, (b ? j / b : 0) }' > "$T/where"
}
show() { # LABEL "RATE ACS PG LOAD WALL N ERR"
  set -- "$1" $2
  echo "$1: $2 sessions/s ($7 sessions, $8 errors, $6 s); CPU s: acs $3, postgres $4, acs_load $5 (of $(awk -v w="$6" -v c="$(nproc)" 'BEGIN {printf "%.1f", w * c}') available)"
  cat "$T/where"
}

# ---- (s6) a 64 MiB file shared through PostgreSQL --------------------------------
files_row() {
  rounds=${SCALE_FILE_ROUNDS:-3}
  U=$(newdb scale7)
  start_acs h0 --max-file-size 128MiB
  start_acs h1 --db "$U" --max-file-size 128MiB
  start_acs h2 --db "$U" --max-file-size 128MiB
  eval "a0=\$APORT_h0 a1=\$APORT_h1 c1=\$CPORT_h1 c2=\$CPORT_h2"
  size=$((64 * 1048576))
  # MB/s of one transfer: curl's size and time of it
  get() { curl -sf -o /dev/null -w '%{size_download} %{time_total}\n' "$@" | awk '{printf "%.1f\n", $1 / $2 / 1e6}'; }
  put() { curl -sf -o /dev/null -w '%{time_total}\n' -H "$H" -T "$T/fw.bin" "$1" | awk -v n="$size" '{printf "%.1f\n", n / $1 / 1e6}'; }
  : > "$T/s6"
  for i in $(seq "$rounds"); do
    head -c "$size" /dev/urandom > "$T/fw.bin"
    sq=$(put "http://127.0.0.1:$a0/api/files/fw-$i.bin")
    pg=$(put "http://127.0.0.1:$a1/api/files/fw-$i.bin")
    ceil=$(get "http://127.0.0.1:$c1/files/fw-$i.bin")
    cold=$(get "http://127.0.0.1:$c2/files/fw-$i.bin")
    warm=$(get "http://127.0.0.1:$c2/files/fw-$i.bin")
    echo "$sq $pg $ceil $cold $warm" >> "$T/s6"
  done
  med() { awk -v c="$1" '{print $c}' "$T/s6" | sort -n | awk '{v[NR]=$1} END {print v[int((NR + 1) / 2)]}'; }
  SQ=$(med 1); PG=$(med 2); CEIL=$(med 3); COLD=$(med 4); WARM=$(med 5)
  MB=$("$PSQL" -X -A -t -d "$U" -c "SELECT pg_total_relation_size('file_chunks') / 1048576")
  echo "(s6) 64 MiB file, median of $rounds: PUT through node A (PostgreSQL) $PG MB/s (one SQLite node: $SQ MB/s, ratio $(ratio "$PG" "$SQ"))"
  echo "(s6) GET node A (its own copy, the ceiling) $CEIL MB/s; node B first GET (fetched from PostgreSQL) $COLD MB/s (ratio $(ratio "$COLD" "$CEIL")), second GET (its copy) $WARM MB/s (ratio $(ratio "$WARM" "$CEIL")); file_chunks $MB MiB for $rounds files"
  echo "(s6) rounds (SQLite PUT, PostgreSQL PUT, A GET, B cold, B warm): $(tr '\n' ';' < "$T/s6")"
  stop_acs h0; stop_acs h1; stop_acs h2
}
if [ "$ONLY" = files ]; then
  files_row
  echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%Y-%m-%dT%H:%MZ)"
  exit 0
fi

if [ -z "$ONLY" ] || [ "$ONLY" = sessions ]; then
ROUND=0
while [ "$ROUND" -lt "${SCALE_ROUNDS:-1}" ]; do
ROUND=$((ROUND + 1))
echo "load average at the start: $(cut -d' ' -f1-3 /proc/loadavg) ($(date -u +%H:%M:%SZ))"
# ---- (s1) 1 node, SQLite -------------------------------------------------------
start_acs n1
BACKENDS=
R1=$(load n1); show "(s1) 1 node, SQLite" "$R1"
stop_acs n1
rm -rf "$T/n1"
# ---- (s2) 1 node, PostgreSQL ---------------------------------------------------
U=$(newdb "scale1_$ROUND")
start_acs p1 --db "$U"
BACKENDS=$(backends "$U")
R2=$(load p1); show "(s2) 1 node, PostgreSQL" "$R2"
stop_acs p1
# ---- (s3) 2 nodes, one PostgreSQL database -------------------------------------
U=$(newdb "scale2_$ROUND")
start_acs q1 --db "$U"
start_acs q2 --db "$U"
BACKENDS=$(backends "$U")
R3=$(load q1 q2); show "(s3) 2 nodes, one PostgreSQL" "$R3"
curl -sN -H "$H" "http://127.0.0.1:$APORT_q2/api/events" > "$T/events.out" &
EV=$!
sleep 3 # node 1 reads node 2's interest every 2 s
R3W=$(TAG=w load q1 q2); show "(s3') the same, an event stream open on node 2" "$R3W"
sleep 0.5
kill "$EV"; wait "$EV" 2>/dev/null || true
echo "(s3') node 1 told $(metric "$MPORT_q1" outpost_acs_events_shared_total) events in $(metric "$MPORT_q1" outpost_acs_events_shared_notifications_total) notifications ($(metric "$MPORT_q1" outpost_acs_events_shared_dropped_total) dropped); node 2 heard $(metric "$MPORT_q2" outpost_acs_events_heard_total); the stream got $(grep -c '^event: ' "$T/events.out") events; ratio to (s3) $(ratio "${R3W%% *}" "${R3%% *}")"
stop_acs q1; stop_acs q2
set -- $R1; A=$1; set -- $R2; B=$1; set -- $R3; C=$1
echo "ratios: PostgreSQL/SQLite $(ratio "$B" "$A"); 2 nodes/1 node on PostgreSQL $(ratio "$C" "$B")"
done
[ "$ONLY" = sessions ] && { echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%Y-%m-%dT%H:%MZ)"; exit 0; }
fi

# ---- (s5) a 5,000-parameter GetParameterValuesResponse ----------------------------
gpv() { # NAME LABEL ACS-ARGS...: scale_gpv.py's figures against a new node
  name=$1; label=$2; shift 2
  start_acs "$name" "$@"
  eval "R=\$(/usr/bin/python3 \"$HERE/scale_gpv.py\" \$CPORT_$name \$APORT_$name 10 5000)"
  echo "(s5) $label: $R"
  stop_acs "$name"
}
if [ "$ONLY" != fleet ]; then
gpv g1 SQLite
# shellcheck disable=SC2086 # SEARCH_ARGS: words
[ -z "$SEARCH" ] || gpv g3 "SQLite, --search-param $SEARCH" $SEARCH_ARGS
gpv g2 PostgreSQL --db "$(newdb scale5)"
# shellcheck disable=SC2086
[ -z "$SEARCH" ] || gpv g4 "PostgreSQL, --search-param $SEARCH" --db "$(newdb scale6)" $SEARCH_ARGS
fi

# ---- (s4) 1,000,000 devices in PostgreSQL ----------------------------------------
if [ "$ONLY" != gpv ]; then
U=$(newdb scale4)
start_acs f1 --db "$U"   # the schema
stop_acs f1
S0=$(date +%s)
NOW=$(date +%s)
"$PSQL" -X -q -v ON_ERROR_STOP=1 -d "$U" <<SQL
INSERT INTO devices (rid, id, manufacturer, oui, product_class, serial, software_version,
                     hardware_version, tags, first_seen, last_inform, periodic_interval)
SELECT i + 1, format('00D09E-M%s-SN%s', i % 20, lpad(i::text, 8, '0')), 'Acme', '00D09E', 'M' || (i % 20),
       'SN' || lpad(i::text, 8, '0'), 'V' || (i % 7), 'HW1', CASE WHEN i % 100 = 0 THEN 'lab' ELSE '' END,
       $NOW - 86400, $NOW - (i % 3600), 300 FROM generate_series(0, $FLEET - 1) AS s(i);
\\o /dev/null
SELECT setval(pg_get_serial_sequence('devices', 'rid'), $FLEET);
\\o
INSERT INTO params (device, name, value, type, updated)
SELECT i + 1, 'InternetGatewayDevice.X_Site', 'S' || (i % 20000), 'xsd:string', $NOW FROM generate_series(0, $FLEET - 1) AS s(i);
INSERT INTO params (device, name, value, type, updated)
SELECT i + 1, 'InternetGatewayDevice.DeviceInfo.UpTime', ((i::bigint * 7919) % 100000)::text, 'xsd:string', $NOW FROM generate_series(0, $FLEET - 1) AS s(i);
INSERT INTO params (device, name, value, type, updated)
SELECT i + 1, 'InternetGatewayDevice.DeviceInfo.SoftwareVersion', 'V' || (i % 7), 'xsd:string', $NOW FROM generate_series(0, $FLEET - 1) AS s(i);
ANALYZE;
SQL
S1=$(date +%s)
start_acs f2 --db "$U" --search-param InternetGatewayDevice.X_Site
S2=$(date +%s)
eval "AP=\$APORT_f2"
timed() { # QUERY: "median worst" ms of 20 (after one warm-up)
  curl -s -o /dev/null -H "$H" "http://127.0.0.1:$AP/api/devices?$1"
  for i in $(seq 20); do
    curl -s -o /dev/null -w '%{time_total}\n' -H "$H" "http://127.0.0.1:$AP/api/devices?$1"
  done | sort -n | awk '{v[NR]=$1} END {printf "median %.1f ms, worst %.1f ms", v[10]*1000, v[NR]*1000}'
}
Q='filter=model%3DM5%20AND%20param.InternetGatewayDevice.X_Site%3DS5'
N=$(curl -s -D - -o /dev/null -H "$H" "http://127.0.0.1:$AP/api/devices?$Q" | awk -F': ' 'tolower($1)=="x-total-count" {print $2+0}')
SIZE=$("$PSQL" -X -A -t -d "$U" -c "SELECT pg_database_size(current_database()) / 1048576")
echo "(s4) $FLEET devices seeded in $((S1 - S0)) s; the --search-param indexed at start in $((S2 - S1)) s; database $SIZE MB"
echo "(s4) device list, first page of 100 with X-Total-Count: $(timed 'limit=100') (goal 100)"
echo "(s4) search model + parameter value ($N match): $(timed "$Q") (goal 100)"
echo "(s4) search by tag: $(timed 'filter=tag%3Dlab&limit=100')"
stop_acs f2
fi
[ -n "$ONLY" ] || files_row
echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%Y-%m-%dT%H:%MZ)"
