#!/bin/sh
# bench/acs-instructions.sh [BIN] [BASE_BIN]: the ACS's instructions per
# session, counted by valgrind's callgrind (both threads: the event loop and
# the store worker), for
#   (a) Inform sessions of new devices, and
#   (b) sessions that answer a queued 500-name GetParameterValues
# (the same loads as bench/acs.sh's (a) and (b), from bench/acs_load.c, on
# SQLite). Instruction counts do not move with the machine's load, so a
# change on the hot path shows its before/after here even on a busy machine
# where sessions/s do not: give the build before the change as BASE_BIN and
# the last line is after/before per row. ACS_INSN_N sessions per row
# (default 100; under callgrind a session costs about 50x its native time).
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
BASE=${2:-}
[ -z "$BASE" ] || [ -x "$BASE" ] || { echo "base binary not found: $BASE" >&2; exit 1; }
N=${ACS_INSN_N:-100}
command -v valgrind >/dev/null || { echo "valgrind is missing (scripts/install-deps)" >&2; exit 1; }
cc -O2 -o "$WORK/acs_load" "$HERE/acs_load.c" -luv

# insn BIN TAG: prints "(a) Ir-per-session (b) Ir-per-session"
insn() {
  bin=$1; tag=$2; cport=$(free_port); aport=$(free_port)
  valgrind --tool=callgrind --callgrind-out-file="$WORK/$tag.cg" "$bin" acs \
    --cwmp-listen "127.0.0.1:$cport" --api-listen "127.0.0.1:$aport" --data-dir "$WORK/$tag" \
    --cpe-auth none --api-token bench --log-level warn --rediscover=false 2>"$WORK/$tag.log" &
  pid=$!
  PIDS="$PIDS $pid"
  for _ in $(seq 300); do
    curl -sf -o /dev/null -H 'Authorization: Bearer bench' "http://127.0.0.1:$aport/api/stats" && break
    kill -0 "$pid" 2>/dev/null || { echo "acs exited:" >&2; tail "$WORK/$tag.log" >&2; exit 1; }
    sleep 0.2
  done
  load() { "$WORK/acs_load" --port "$cport" --conns 4 --sessions "$N" --devices "$N" "$@" >/dev/null; }
  total() { callgrind_annotate "$1" 2>/dev/null | awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1 }'; }
  # a dump per row: callgrind_control -z zeroes, -d writes the counts since
  callgrind_control -z "$pid" >/dev/null 2>&1
  load --prefix PA --mode inform
  callgrind_control -d "$pid" >/dev/null 2>&1
  # (b): its devices known, one task each queued, then their sessions
  load --prefix PG --mode inform
  /usr/bin/python3 "$HERE/acs_queue_gpv.py" "$aport" PG 0 "$N"
  callgrind_control -z "$pid" >/dev/null 2>&1
  load --prefix PG --mode gpv --params 500
  callgrind_control -d "$pid" >/dev/null 2>&1
  kill "$pid"; wait "$pid" 2>/dev/null || true
  a=$(total "$WORK/$tag.cg.1"); b=$(total "$WORK/$tag.cg.2")
  echo "$((a / N)) $((b / N))"
}

R=$(insn "$BIN" after); set -- $R; A1=$1; B1=$2
echo "$BIN: (a) $A1 instructions/session, (b) $B1 instructions/session ($N sessions each)"
if [ -n "$BASE" ]; then
  R=$(insn "$BASE" before); set -- $R; A0=$1; B0=$2
  echo "$BASE: (a) $A0 instructions/session, (b) $B0 instructions/session"
  echo "after/before: (a) $(ratio "$A1" "$A0"), (b) $(ratio "$B1" "$B0")"
fi
echo "machine: $(machine), load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%Y-%m-%dT%H:%MZ)"
