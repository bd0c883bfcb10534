#!/bin/sh
# bench/agent-footprint.sh BIN — the agent-only build (make agent, -Dapps=agent)
# where it must fit: routers and boards (docs/openwrt.md).
#   size        stripped size of `outpost` in the agent-only build, native and per
#               cross-built architecture (build/cross-ARCH, make cross), with the
#               shared libraries it needs (goal: <= 400 KB without them)
#   memory      the native agent's RSS, PSS and private memory idle (linked to a
#               gateway) and with 1,000 idle streams, over ws and over wss (TLS 1.3,
#               the gateway's certificate verified, its name resolved: the shape of
#               a deployment); the per-mapping table (/proc/PID/smaps) of the idle
#               wss agent; the same table for the arm64 and mipsel agents under
#               qemu-user (their own libraries' pages). Goal: <= 4 MB idle.
#   throughput  one stream pulled through the native agent, then through the
#               arm64 agent under qemu-user: MB/s and the agent's CPU per GB,
#               and the ratio (what emulation costs; the code has no
#               architecture-bound path)
# BIN (the full build) runs the gateways and the far agents; everything is on
# 127.0.0.1 ("localhost" for the wss gateway). Env: STREAMS (default 1000),
# PULL_MB (default 256), OUTPOST_AGENT (the agent-only binary to measure,
# default build/agent/src/outpost), CROSS_DIR (where build/cross-ARCH are,
# default this checkout).
set -eu

BIN=${1:-build/release/src/outpost}
BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
PY=/usr/bin/python3
N=${STREAMS:-1000}
MB=${PULL_MB:-256}
AGENT=${OUTPOST_AGENT:-$ROOT/build/agent/src/outpost}
[ -x "$AGENT" ] || make -C "$ROOT" -s agent >/dev/null
W=$(mktemp -d /tmp/outpost-bench-agent.XXXXXX)
PIDS=""
cleanup() {
  trap - EXIT INT TERM HUP PIPE
  for p in $PIDS; do kill "$p" 2>/dev/null || true; done
  for p in $PIDS; do wait "$p" 2>/dev/null || true; done
  rm -rf "$W"
}
trap cleanup EXIT
trap 'cleanup; exit 1' INT TERM HUP PIPE
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

free_port() { $PY -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
start() { n=$1; shift; "$@" >"$W/$n.log" 2>&1 & PIDS="$PIDS $!"; eval "PID_$n=$!"; }
wait_log() {
  i=0
  while ! grep -Eq "$2" "$W/$1.log" 2>/dev/null; do
    i=$((i + 1)); [ $i -lt 1200 ] || { echo "agent-footprint.sh: $1 never logged /$2/"; tail -20 "$W/$1.log"; exit 1; }
    sleep 0.05
  done
  grep -E "$2" "$W/$1.log" | head -1
}

echo "== size: stripped \`outpost\` of the agent-only build (-Os, LTO)"
size_row() { # size_row ARCH FILE STRIP
  "$3" -o "$W/stripped" "$2"
  libs=$(readelf -d "$2" | sed -n 's/.*Shared library: \[\(.*\)\]/\1/p' | tr '\n' ' ')
  printf '%-8s %7d bytes  (%d KB)   needs: %s\n' "$1" "$(stat -c %s "$W/stripped")" \
    "$(( $(stat -c %s "$W/stripped") / 1024 ))" "$libs"
}
size_row "$(uname -m)" "$AGENT" strip
for a in arm64 armhf mipsel s390x; do
  f=${CROSS_DIR:-$ROOT}/build/cross-$a/src/outpost
  t=$(sed -n "s/^triplet = '\(.*\)'/\1/p" "$ROOT/cross/$a.ini")
  if [ -x "$f" ] && command -v "$t-strip" >/dev/null; then size_row "$a" "$f" "$t-strip"
  else echo "$a       (not built: scripts/install-deps --cross && make cross ARCH=$a)"; fi
done
echo "full build, for comparison:"
size_row "all apps" "$BIN" strip

# ---- gateway, far agent b (full build) with the services, agent a under test --
KA=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n'); KB=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
HA=$(echo "$KA" | "$BIN" gateway hash-key --iterations 1000)
HB=$(echo "$KB" | "$BIN" gateway hash-key --iterations 1000)
P_ECHO=$(free_port); P_SRC=$(free_port)
start echo $PY "$HERE/tunnel_helper.py" echo-server "$P_ECHO"
start src $PY "$HERE/agent_footprint.py" source-server "$P_SRC"
wait_log echo listening >/dev/null; wait_log src listening >/dev/null
start gw "$BIN" gateway --listen 127.0.0.1:0 --admin-listen '' --insecure --data-dir "$W/gw" \
  --agent "name=a key-hash=$HA" --agent "name=b key-hash=$HB" --rule "from=a to=b net=127.0.0.1 ports=*"
GP=$(wait_log gw "ready gateway" | sed -E 's/.* listen=127\.0\.0\.1:([0-9]+) .*/\1/')
start b "$BIN" agent --gateway "ws://127.0.0.1:$GP/tunnel" --insecure --name b --key "$KB" \
  --listen '' --admin-listen '' --data-dir "$W/b" --allow "net=127.0.0.1 ports=*"
wait_log b gateway_connected >/dev/null

# the same over wss: a throwaway PKI (outpost certs), the gateway's certificate
# for localhost, and its far agent
mkdir "$W/pki"
"$BIN" certs root --out "$W/pki/root" --subject-org-name "Bench Root" >/dev/null 2>&1
"$BIN" certs leaf --out "$W/pki/gw" --cn localhost --ip 127.0.0.1 \
  --ca-cert "$W/pki/root.cert.pem" --ca-key "$W/pki/root.key.pem" >/dev/null 2>&1
start gwt "$BIN" gateway --listen 127.0.0.1:0 --admin-listen '' --data-dir "$W/gwt" \
  --tls-cert "$W/pki/gw.cert.pem" --tls-key "$W/pki/gw.key.pem" \
  --agent "name=a key-hash=$HA" --agent "name=b key-hash=$HB" --rule "from=a to=b net=127.0.0.1 ports=*"
GTP=$(wait_log gwt "ready gateway" | sed -E 's/.* listen=127\.0\.0\.1:([0-9]+) .*/\1/')
start bt "$BIN" agent --gateway "wss://localhost:$GTP/tunnel" --tls-ca "$W/pki/root.cert.pem" \
  --name b --key "$KB" --listen '' --admin-listen '' --data-dir "$W/bt" --allow "net=127.0.0.1 ports=*"
wait_log bt gateway_connected >/dev/null

# agent_a TAG ws|wss CMD...: agent a with an echo and a source forward, over ws,
# or over wss to the gateway by name (so the resolver's threads start, as in use)
agent_a() {
  tag=$1; scheme=$2; shift 2
  pe=$(free_port); ps=$(free_port)
  if [ "$scheme" = wss ]; then
    set -- "$@" agent --gateway "wss://localhost:$GTP/tunnel" --tls-ca "$W/pki/root.cert.pem"
  else
    set -- "$@" agent --gateway "ws://127.0.0.1:$GP/tunnel" --insecure
  fi
  start "a$tag" "$@" --name a --key "$KA" \
    --listen '' --admin-listen '' --data-dir "$W/a$tag" \
    --forward "local=$pe gateway=b ip=127.0.0.1 remote=$P_ECHO" \
    --forward "local=$ps gateway=b ip=127.0.0.1 remote=$P_SRC"
  wait_log "a$tag" gateway_connected >/dev/null
  PE=$pe; PS=$ps
}

echo
echo "== memory: the native agent-only agent ($(uname -m)). RSS counts every page it maps,"
echo "   the shared libraries' too; PSS shares those out among the processes mapping them;"
echo "   private (USS) is what is the agent's alone (anonymous: its heap, stacks, relocations)"
agent_a wss wss "$AGENT"
sleep 2
echo "over wss, idle ($(grep Threads "/proc/$PID_awss/status" | tr -d '\t')), per mapping:"
$PY "$HERE/agent_footprint.py" smaps "$PID_awss"
$PY "$HERE/agent_footprint.py" idle "$PE" "$N" "agent over wss" "$PID_awss"
kill "$PID_awss"; wait "$PID_awss" 2>/dev/null || true
agent_a native ws "$AGENT"
sleep 2
$PY "$HERE/agent_footprint.py" idle "$PE" "$N" "agent over ws " "$PID_anative"
echo
echo "== throughput: one stream, $MB MB, source -> agent b -> gateway -> agent a -> client"
$PY "$HERE/agent_footprint.py" pull "$PS" $((MB << 20)) "native agent ($(uname -m))" "$PID_anative" \
  | tee "$W/native.out" | grep -v '^RESULT'
kill "$PID_anative"; wait "$PID_anative" 2>/dev/null || true
X=${CROSS_DIR:-$ROOT}/build/cross-arm64/src/outpost
if [ -x "$X" ] && command -v qemu-aarch64 >/dev/null; then
  agent_a arm64 ws qemu-aarch64 -L "${OUTPOST_SYSROOT:-/usr/local/lib/outpost-sysroot}/arm64" "$X"
  $PY "$HERE/agent_footprint.py" pull "$PS" $((MB << 20)) "arm64 agent under qemu-aarch64" "$PID_aarm64" \
    | tee "$W/arm64.out" | grep -v '^RESULT'
  set -- $(grep '^RESULT' "$W/native.out") $(grep '^RESULT' "$W/arm64.out")
  $PY -c "import sys; n, nc, q, qc = map(float, sys.argv[1:]); print(f'arm64 under qemu / native: {q / n:.2f} of the throughput, {qc / nc:.1f}x the CPU per GB')" "$2" "$3" "$5" "$6"
  kill "$PID_aarm64"; wait "$PID_aarm64" 2>/dev/null || true
else
  echo "arm64 agent: not built (scripts/install-deps --cross && make cross ARCH=arm64)"
fi

echo
echo "== memory under qemu-user: the cross-built agent over wss, idle; only the guest's"
echo "   mappings (the target's own libraries: nothing else here maps them, so PSS = RSS"
echo "   unless another guest of the same architecture runs)"
for a in arm64 mipsel; do
  X=${CROSS_DIR:-$ROOT}/build/cross-$a/src/outpost
  q=$(sed -n "s/^qemu = '\(.*\)'/\1/p" "$ROOT/cross/$a.ini")
  if [ -x "$X" ] && command -v "$q" >/dev/null; then
    agent_a "q$a" wss "$q" -L "${OUTPOST_SYSROOT:-/usr/local/lib/outpost-sysroot}/$a" "$X"
    sleep 2
    eval "p=\$PID_aq$a"
    echo "$a agent under $q, idle:"
    $PY "$HERE/agent_footprint.py" smaps "$p" guest
    kill "$p"; wait "$p" 2>/dev/null || true
  else
    echo "$a agent: not built (scripts/install-deps --cross && make cross ARCH=$a)"
  fi
done
