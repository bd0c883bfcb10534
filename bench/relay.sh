#!/bin/sh
# bench/relay.sh [BIN]: the relay under load, on loopback, mutual TLS everywhere
# (EC P-256 certificates from `outpost certs`, TLS 1.3):
#   throughput  200-byte messages one way through one pair, vs the same two
#               peers talking directly over one mTLS WebSocket (the ceiling)
#   latency     round trips at a fixed 5,000 msg/s (B echoes), p50/p99, relay
#               vs direct
#   idle        IDLE_PAIRS (default 5,000) paired connections held open: the
#               relay's RSS before/after and per connection
#   http        GET through relay-client -> relay -> relay-connector -> testd
#               vs the same GET straight to testd: p50/p99 and what the relay
#               path adds
# The load generator is `outpost relay-bench` (one libuv loop, the same
# WebSocket/TLS code). Its CPU use and the relay's are printed next to the
# figures: a generator well under 100% while the relay is near 100% means the
# relay, not the generator, set the pace.
# Env: MESSAGES (300000), RATE (5000), SECONDS_LAT (5), IDLE_PAIRS (5000), GETS (2000).
set -eu
. "$(dirname "$0")/lib.sh"
MESSAGES=${MESSAGES:-300000}
RATE=${RATE:-5000}
SECONDS_LAT=${SECONDS_LAT:-5}
IDLE_PAIRS=${IDLE_PAIRS:-5000}
GETS=${GETS:-2000}
PY=/usr/bin/python3
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

# ---- certificates ------------------------------------------------------------
P=$WORK/pki
"$BIN" certs root --out "$P/root" --subject-org-name "Bench Root" >/dev/null
"$BIN" certs leaf --out "$P/relay" --ca-cert "$P/root.cert.pem" --ca-key "$P/root.key.pem" \
  --dns localhost --ip 127.0.0.1 >/dev/null
for n in peer gw manager; do
  "$BIN" certs leaf --out "$P/$n" --ca-cert "$P/root.cert.pem" --ca-key "$P/root.key.pem" --cn "$n" >/dev/null
done
PEER="--tls-cert $P/peer.pkeycert.pem --tls-ca $P/root.cert.pem"

# ---- the relay ------------------------------------------------------------------
start_outpost relay relay --listen 127.0.0.1:0 --admin-listen 127.0.0.1:0 --api-token bench \
  --tls-cert "$P/relay.pkeycert.pem" --tls-ca "$P/root.cert.pem" --max-connections 100000
RELAY_PID=$LAST_PID
RPORT=$(echo "$READY_LINE" | sed -n 's/.* listen=127.0.0.1:\([0-9]*\).*/\1/p')
URL="wss://127.0.0.1:$RPORT/micronets/v1/ws-proxy/"

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
TCK=$(getconf CLK_TCK)
field() { echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }

echo "Relay: $(date -u +%Y-%m-%d), $(machine), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo

# ---- throughput ------------------------------------------------------------------
t0=$(cpu_ticks "$RELAY_PID"); w0=$(date +%s.%N)
# shellcheck disable=SC2086
R=$("$BIN" relay-bench throughput --url "$URL" $PEER --messages "$MESSAGES" --size 200)
t1=$(cpu_ticks "$RELAY_PID"); w1=$(date +%s.%N)
RELAY_CPU=$(awk -v a="$t0" -v b="$t1" -v w0="$w0" -v w1="$w1" -v t="$TCK" \
  'BEGIN { printf "%.0f", 100 * (b - a) / t / (w1 - w0) }')
# shellcheck disable=SC2086
D=$("$BIN" relay-bench throughput --direct --server-cert "$P/relay.pkeycert.pem" $PEER \
  --messages "$MESSAGES" --size 200)
echo "throughput: $MESSAGES messages of 200 bytes, one way, one pair (goal >= 50,000 msg/s)"
printf "  %-34s %12s %10s %10s\n" "path" "msgs/s" "gen cpu%" "relay cpu%"
printf "  %-34s %12s %10s %10s\n" "A -> relay -> B" "$(field "$R" msgs_per_s)" "$(field "$R" gen_cpu_pct)" "$RELAY_CPU"
printf "  %-34s %12s %10s %10s\n" "A -> B direct (ceiling)" "$(field "$D" msgs_per_s)" "$(field "$D" gen_cpu_pct)" "-"
echo "  ratio relay/direct: $(ratio "$(field "$R" msgs_per_s)" "$(field "$D" msgs_per_s)")"
echo

# ---- latency at a fixed rate ---------------------------------------------------------
t0=$(cpu_ticks "$RELAY_PID"); w0=$(date +%s.%N)
# shellcheck disable=SC2086
RL=$("$BIN" relay-bench latency --url "$URL" $PEER --rate "$RATE" --seconds "$SECONDS_LAT")
t1=$(cpu_ticks "$RELAY_PID"); w1=$(date +%s.%N)
LAT_CPU=$(awk -v a="$t0" -v b="$t1" -v w0="$w0" -v w1="$w1" -v t="$TCK" \
  'BEGIN { printf "%.0f", 100 * (b - a) / t / (w1 - w0) }')
# shellcheck disable=SC2086
DL=$("$BIN" relay-bench latency --direct --server-cert "$P/relay.pkeycert.pem" $PEER --rate "$RATE" \
  --seconds "$SECONDS_LAT")
echo "latency: round trips at $RATE msg/s for ${SECONDS_LAT}s, 200 bytes, B echoes (goal p99 < 2 ms)"
printf "  %-34s %9s %9s %9s %9s\n" "path" "p50 us" "p99 us" "p99.9 us" "samples"
for row in "A -> relay -> B -> relay -> A|$RL" "A -> B -> A direct|$DL"; do
  name=${row%%|*}; v=${row#*|}
  printf "  %-34s %9s %9s %9s %9s\n" "$name" "$(field "$v" p50_us)" "$(field "$v" p99_us)" \
    "$(field "$v" p999_us)" "$(field "$v" samples)"
done
echo "  relay cpu during the run: ${LAT_CPU}% (tails beyond that are scheduling: check the load above)"
echo "  relay adds: p50 $(awk -v a="$(field "$RL" p50_us)" -v b="$(field "$DL" p50_us)" 'BEGIN{print a-b}') us," \
  "p99 $(awk -v a="$(field "$RL" p99_us)" -v b="$(field "$DL" p99_us)" 'BEGIN{print a-b}') us"
echo

# ---- idle paired connections ----------------------------------------------------------
RSS0=$(rss_kb "$RELAY_PID")
mkfifo "$WORK/hold"
# shellcheck disable=SC2086
"$BIN" relay-bench idle --url "$URL" $PEER --pairs "$IDLE_PAIRS" --concurrency 64 <"$WORK/hold" \
  >"$WORK/idle.out" 2>"$WORK/idle.err" &
GEN=$!
PIDS="$PIDS $GEN"
exec 3>"$WORK/hold"
for _ in $(seq 1 1200); do
  grep -q "^paired=" "$WORK/idle.out" && break
  kill -0 "$GEN" 2>/dev/null || break
  sleep 0.1
done
IDLE=$(cat "$WORK/idle.out")
sleep 1 # let the relay settle (allocator, TLS buffers released)
RSS1=$(rss_kb "$RELAY_PID")
PAIRED=$(field "$IDLE" paired)
exec 3>&-
wait "$GEN" 2>/dev/null || true
CONNS=$((2 * ${PAIRED:-0}))
echo "idle: $IDLE_PAIRS pairs requested, ${PAIRED:-0} paired ($CONNS connections), relay RSS (goal <= 100 MB for 10,000)"
echo "  before ${RSS0} KiB, with them $RSS1 KiB: $(awk -v a="$RSS0" -v b="$RSS1" -v n="$CONNS" \
  'BEGIN { if (n) printf "%.1f KiB per connection, %.1f MB total", (b - a) / n, b / 1024; else print "n/a" }')"
echo

# ---- HTTP through the relay path -------------------------------------------------------
start_outpost testd testd --listen 127.0.0.1:0
TPORT=$(echo "$READY_LINE" | sed -n 's/.* listen=127.0.0.1:\([0-9]*\).*/\1/p')
start_outpost connector relay-connector --relay-url "${URL}http-bench" --tls-cert "$P/gw.pkeycert.pem" \
  --tls-ca "$P/root.cert.pem" --target "http://127.0.0.1:$TPORT" --events-listen "" --admin-listen ""
start_outpost client relay-client --listen 127.0.0.1:0 --relay-url "${URL}http-bench" \
  --tls-cert "$P/manager.pkeycert.pem" --tls-ca "$P/root.cert.pem" --admin-listen ""
CPORT=$(echo "$READY_LINE" | sed -n 's/.* listen=127.0.0.1:\([0-9]*\).*/\1/p')
for _ in $(seq 1 100); do grep -q relay_link_up "$WORK/client.log" && break; sleep 0.1; done
$PY - "$TPORT" "$CPORT" "$GETS" <<'EOF'
import http.client, sys, time
tport, cport, n = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
def run(port):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    lat = []
    for i in range(n + 200):
        t = time.perf_counter()
        c.request("GET", "/hello")
        r = c.getresponse()
        body = r.read()
        assert r.status == 200 and body == b"hello world\n", (r.status, body)
        if i >= 200:  # warm-up
            lat.append((time.perf_counter() - t) * 1e6)
    lat.sort()
    return lat[len(lat) // 2], lat[int(len(lat) * 0.99)]
d = run(tport)
r = run(cport)
print(f"http: GET /hello x{n} sequential, keep-alive (python http.client)")
print(f"  {'path':34s} {'p50 us':>9s} {'p99 us':>9s}")
print(f"  {'client -> relay -> connector -> testd':34s} {r[0]:9.0f} {r[1]:9.0f}")
print(f"  {'direct -> testd':34s} {d[0]:9.0f} {d[1]:9.0f}")
print(f"  relay path adds: p50 {r[0] - d[0]:.0f} us, p99 {r[1] - d[1]:.0f} us")
EOF
