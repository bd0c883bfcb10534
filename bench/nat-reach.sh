#!/bin/bash
# bench/nat-reach.sh [BIN]: reaching CPEs behind NAT.
#  (a) wake-up latency, p50/p99, of 1,000 cpe-sim CPEs behind a real NAT
#      (network namespaces, nftables masquerade: tests/integration/netns_nat.py)
#      woken by UDP connection requests (TR-069 Annex G; the ACS's STUN
#      server learnt their bindings), against 1,000 CPEs of the same
#      simulator without NAT woken by HTTP connection requests; each figure
#      is the API's POST .../connection-request, which answers when the
#      outcome is known: UDP when the CPE's "6 CONNECTION REQUEST" Inform
#      has arrived, HTTP when the CPE answered 200 (so UDP's figure includes
#      the start of the session and HTTP's does not). Needs root; skipped
#      with a message otherwise.
#  (b) the STUN server's Binding Requests per second (bench/stun_load.c,
#      TR-111 requests naming real devices) and the ACS's RSS with 100,000
#      bindings (the store seeded by bench/acs_fleet_seed.py), on loopback.
# At the end: bench/nat-reach-xmpp.sh BIN when it exists (the XMPP half).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
. "$HERE/lib.sh"
CPES=${CPES:-1000}
BINDINGS=${BINDINGS:-100000}
CONC=${CONC:-20}
TOKEN=bench-token
ulimit -n 65536 2>/dev/null || true
echo "nat-reach: $(machine); load $(cut -d' ' -f1-3 /proc/loadavg)"

rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
metric() { { curl -s "$1/metrics" || true; } | awk -v n="$2" 'index($0, n " ") == 1 {print $NF}'; }
wait_metric() { # URL NAME MIN TIMEOUT_S
  for _ in $(seq 1 $(($4 * 10))); do
    v=$(metric "$1" "$2"); v=${v%.*}
    [ -n "$v" ] && [ "$v" -ge "$3" ] && return 0
    sleep 0.1
  done
  echo "$2 did not reach $3 (last: ${v:-none})" >&2; return 1
}

# ---- (a) wake-up latency behind NAT ---------------------------------------
UDP_P50=""; HTTP_P50=""
if [ "$(id -u)" != 0 ] || ! command -v nft >/dev/null || ! command -v conntrack >/dev/null; then
  echo "(a) skipped: the namespace NAT needs root, nft and conntrack"
else
  TAG=$(head -c3 /dev/urandom | od -An -tx1 | tr -d ' \n')
  /usr/bin/python3 "$ROOT/tests/integration/netns_nat.py" up "$TAG"
  trap '/usr/bin/python3 "$ROOT/tests/integration/netns_nat.py" down "$TAG" || true; cleanup' EXIT INT TERM
  WAN="ip netns exec op-wan-$TAG"; LAN="ip netns exec op-lan-$TAG"
  API=http://198.18.3.2:17548; ADMIN=http://198.18.3.2:17549
  $WAN "$BIN" acs --cwmp-listen 198.18.0.2:7547 --api-listen 198.18.3.2:17548 --admin-listen 198.18.3.2:17549 \
    --metrics-public --stun-listen 198.18.0.2:3478 --data-dir "$WORK/acs-nat" --api-token $TOKEN --cpe-auth none \
    --cr-username cr --cr-password cr-pw --cr-max-in-flight 5000 --session-log none >"$WORK/acs-nat.log" 2>&1 &
  PIDS="$PIDS $!"; ACS_PID=$!
  wait_metric $ADMIN outpost_acs_stun_bindings 0 15
  $LAN "$BIN" cpe-sim --acs http://198.18.0.2:7547/ --count "$CPES" --serial-prefix NAT --rate 200/s \
    --cr-listen 198.18.1.2:30000 --udp-listen 198.18.1.2 --stun-server 198.18.0.2:3478 --stun-keepalive 30s \
    --inform-interval 1h --cr-username cr --cr-password cr-pw --stats-interval 0 --admin-listen 127.0.0.1:0 \
    --data-dir "$WORK/sim-nat" >"$WORK/sim-nat.log" 2>&1 &
  PIDS="$PIDS $!"
  $WAN "$BIN" cpe-sim --acs http://198.18.0.2:7547/ --count "$CPES" --serial-prefix DIR --rate 200/s \
    --cr-listen 198.18.0.2:30000 --inform-interval 1h --cr-username cr --cr-password cr-pw --stats-interval 0 \
    --admin-listen 127.0.0.1:0 --data-dir "$WORK/sim-dir" >"$WORK/sim-dir.log" 2>&1 &
  PIDS="$PIDS $!"
  wait_metric $ADMIN outpost_acs_stun_bindings "$CPES" 60
  # every CPE has informed (BOOTSTRAP) and those behind NAT reported their address
  wait_metric $ADMIN 'outpost_acs_informs_total{event="4 VALUE CHANGE"}' "$CPES" 60
  sleep 3
  NAT_LINE=$(/usr/bin/python3 "$HERE/nat_wake.py" $API $TOKEN NAT "$CPES" "$CONC")
  DIR_LINE=$(/usr/bin/python3 "$HERE/nat_wake.py" $API $TOKEN DIR "$CPES" "$CONC")
  UDP_P50=$(echo "$NAT_LINE" | sed -n 's/.*p50_ms=\([0-9.]*\).*/\1/p')
  UDP_P99=$(echo "$NAT_LINE" | sed -n 's/.*p99_ms=\([0-9.]*\).*/\1/p')
  HTTP_P50=$(echo "$DIR_LINE" | sed -n 's/.*p50_ms=\([0-9.]*\).*/\1/p')
  HTTP_P99=$(echo "$DIR_LINE" | sed -n 's/.*p99_ms=\([0-9.]*\).*/\1/p')
  echo "(a) $CPES CPEs, $CONC wake-ups at a time"
  echo "    UDP behind NAT : $NAT_LINE"
  echo "    HTTP, no NAT   : $DIR_LINE"
  echo "    ratio UDP/HTTP : p50 $(ratio "$UDP_P50" "$HTTP_P50")  p99 $(ratio "$UDP_P99" "$HTTP_P99")"
  echo "    UDP datagrams sent: $(metric $ADMIN outpost_acs_udp_connection_request_datagrams_total)" \
       " (ok: $(metric $ADMIN 'outpost_acs_udp_connection_requests_total{outcome="ok"}'))"
  for p in $PIDS; do kill "$p" 2>/dev/null || true; done
  for p in $PIDS; do wait "$p" 2>/dev/null || true; done
  PIDS=""
fi

# ---- (b) STUN server throughput, memory with 100,000 bindings ---------------
gcc -O2 -o "$WORK/stun_load" "$HERE/stun_load.c" -lz
P=$(free_port); A=$(free_port); S=$(free_port)
start_outpost acs-init acs --cwmp-listen 127.0.0.1:$P --api-listen 127.0.0.1:$A --admin-listen 127.0.0.1:0 \
  --data-dir "$WORK/acs" --api-token $TOKEN --cpe-auth none
kill "$LAST_PID"; wait "$LAST_PID" 2>/dev/null || true
/usr/bin/python3 "$HERE/acs_fleet_seed.py" "$WORK/acs/acs.db" "$BINDINGS"
ADMINP=$(free_port)
start_outpost acs acs --cwmp-listen 127.0.0.1:$P --api-listen 127.0.0.1:$A --admin-listen 127.0.0.1:$ADMINP \
  --metrics-public --data-dir "$WORK/acs" --api-token $TOKEN --cpe-auth none --stun-listen 127.0.0.1:$S \
  --stun-rate 0 --session-log none
ACS_PID=$LAST_PID; ADMIN=http://127.0.0.1:$ADMINP
RSS0=$(rss_kb $ACS_PID)
LEARN=$("$WORK/stun_load" 127.0.0.1 $S 8 32 10 "$BINDINGS")
wait_metric $ADMIN outpost_acs_stun_bindings "$BINDINGS" 60 || true
sleep 2
RSS1=$(rss_kb $ACS_PID)
KEEP=$("$WORK/stun_load" 127.0.0.1 $S 8 32 10 "$BINDINGS")
RSS2=$(rss_kb $ACS_PID)
NB=$(metric $ADMIN outpost_acs_stun_bindings); BB=$(metric $ADMIN outpost_acs_stun_binding_bytes)
echo "(b) STUN server, 8 sockets x 32 in flight, 10 s each, 1 core for the ACS's loop"
echo "    learning $BINDINGS bindings: $LEARN"
echo "    keep-alives (bindings known): $KEEP"
echo "    bindings in memory: ${NB%.*} (table's own estimate $(awk -v b="$BB" 'BEGIN {printf "%.1f MiB", b/1048576}'))"
echo "    ACS RSS: $((RSS0 / 1024)) MiB before, $((RSS1 / 1024)) MiB with the bindings, $((RSS2 / 1024)) MiB after the" \
     "keep-alives: $(( (RSS1 - RSS0) * 1024 / ${NB%.*} )) bytes a binding"

if [ -x "$HERE/nat-reach-xmpp.sh" ]; then
  "$HERE/nat-reach-xmpp.sh" "$BIN"
fi
