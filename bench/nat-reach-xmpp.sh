#!/bin/sh
# bench/nat-reach-xmpp.sh [BIN]: waking CPEs over XMPP (TR-069 Annex K)
# against waking the same CPEs with HTTP connection requests. One Prosody
# on loopback (STARTTLS with a throwaway CA, SASL PLAIN, accounts written
# into its data directory), one ACS logged in as acs@localhost, COUNT
# cpe-sim CPEs each logged in as <serial>@localhost/cwmp (one XMPP
# connection per CPE, all on cpe-sim's one loop).
# Latency: task created through the API -> the ACS sees the CPE's session
# Inform with "6 CONNECTION REQUEST" (bench/nat_reach_wake.py), tasks paced
# at RATE per second over every CPE; p50/p99 per method and the ratio.
# Round 1: XMPP. Round 2: the same ACS data restarted without --xmpp-jid, so
# the same devices are woken by HTTP (Digest) on cpe-sim's listener.
# Also run at the end of bench/nat-reach.sh.
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
COUNT=${COUNT:-1000}
RATE=${RATE:-100}
TOKEN=bench-token
# Prosody's Lua collector, e.g. PROSODY_GC='gc = { mode = "generational" }'
# (default: Prosody's own, incremental)
PROSODY_GC=${PROSODY_GC:-}

command -v prosody >/dev/null || { echo "prosody missing (scripts/install-deps)"; exit 1; }
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

# a CA and a certificate for "localhost"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$WORK/ca.key" \
  -out "$WORK/ca.pem" -days 2 -subj "/CN=bench CA" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$WORK/srv.key" \
  -out "$WORK/srv.csr" -subj "/CN=localhost" 2>/dev/null
echo "subjectAltName=DNS:localhost,IP:127.0.0.1" >"$WORK/srv.ext"
openssl x509 -req -in "$WORK/srv.csr" -CA "$WORK/ca.pem" -CAkey "$WORK/ca.key" -CAcreateserial \
  -out "$WORK/srv.pem" -days 2 -extfile "$WORK/srv.ext" 2>/dev/null

XP=$(free_port)
mkdir -p "$WORK/xmpp/data/localhost/accounts" "$WORK/xmpp/certs"
ROOT_OPT=""
[ "$(id -u)" -eq 0 ] && ROOT_OPT="run_as_root = true"
cat >"$WORK/xmpp/prosody.cfg.lua" <<CONF
$ROOT_OPT
pidfile = "$WORK/xmpp/prosody.pid"
data_path = "$WORK/xmpp/data"
certificates = "$WORK/xmpp/certs"
interfaces = { "127.0.0.1" }
c2s_ports = { $XP }
s2s_ports = { }
c2s_direct_tls_ports = { }
s2s_direct_tls_ports = { }
legacy_ssl_ports = { }
http_ports = { }
https_ports = { }
modules_enabled = { "saslauth", "tls", "disco", "ping", "posix" }
modules_disabled = { "s2s" }
c2s_require_encryption = true
authentication = "internal_plain"
network_backend = "epoll"
network_settings = { tcp_nodelay = true }
$PROSODY_GC
log = { warn = "$WORK/xmpp/prosody.log" }
VirtualHost "localhost"
  ssl = { key = "$WORK/srv.key"; certificate = "$WORK/srv.pem"; }
CONF
prosodyctl --config "$WORK/xmpp/prosody.cfg.lua" register acs localhost acs-pw >/dev/null 2>&1
/usr/bin/python3 - "$WORK/xmpp/data/localhost/accounts" "$COUNT" <<'PY'
import sys
d, n = sys.argv[1], int(sys.argv[2])
for i in range(1, n + 1):
    with open("%s/sim%06d.dat" % (d, i), "w") as f:
        f.write('return {\n\t["password"] = "x-SIM%06d";\n};\n' % i)
PY
prosody -F --config "$WORK/xmpp/prosody.cfg.lua" >"$WORK/prosody.out" 2>&1 &
PIDS="$PIDS $!"
PROSODY_PID=$!
for _ in $(seq 1 100); do
  /usr/bin/python3 -c "import socket; socket.create_connection(('127.0.0.1', $XP), 1)" 2>/dev/null && break
  sleep 0.1
done

CWMP=$(free_port)
API=$(free_port)
acs_args="--cwmp-listen 127.0.0.1:$CWMP --api-listen 127.0.0.1:$API --admin-listen 127.0.0.1:0
  --data-dir $WORK/acs --api-token $TOKEN --cpe-auth none --cr-username cr --cr-password cr-pw
  --cr-deny 169.254.0.0/16 --cr-max-in-flight 4096"
# shellcheck disable=SC2086
start_outpost acs acs $acs_args --xmpp-jid acs@localhost/acs --xmpp-password acs-pw \
  --xmpp-server "127.0.0.1:$XP" --xmpp-ca-file "$WORK/ca.pem"
ACS_PID=$LAST_PID
ACS_READY=$READY_LINE
start_outpost sim cpe-sim --acs "http://127.0.0.1:$CWMP/" --count "$COUNT" --rate 500 \
  --cr-listen 127.0.0.1:0 --admin-listen "" --inform-interval 1h --stats-interval 0 \
  --cr-username cr --cr-password cr-pw --xmpp-server "127.0.0.1:$XP" --xmpp-domain localhost \
  --xmpp-password 'x-{serial}' --xmpp-ca-file "$WORK/ca.pem"
SIM_PID=$LAST_PID

t0=$(date +%s)
until grep -q "xmpp_all_online cpes=$COUNT" "$WORK/sim.log"; do
  if [ $(( $(date +%s) - t0 )) -gt 300 ]; then
    echo "not every CPE logged in to Prosody within 300 s:" >&2
    grep -c . "$WORK/sim.log" >&2; tail -5 "$WORK/sim.log" >&2; tail -5 "$WORK/xmpp/prosody.log" >&2 || true
    exit 1
  fi
  sleep 0.5
done
LOGIN_S=$(( $(date +%s) - t0 ))
# every device known with its JID, and the boot sessions over
/usr/bin/python3 - "http://127.0.0.1:$API" "$TOKEN" "$COUNT" <<'PY'
import json, re, sys, time, urllib.request
api, token, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
deadline = time.time() + 300
while True:
    seen, url = 0, "/api/devices?limit=1000"
    while url:
        req = urllib.request.Request(api + url, headers={"Authorization": "Bearer " + token})
        with urllib.request.urlopen(req, timeout=30) as r:
            seen += sum(1 for d in json.loads(r.read()) if d.get("xmpp_jid"))
            m = re.search(r'<([^>]+)>;\s*rel="next"', r.headers.get("Link") or "")
        url = m.group(1) if m else None
    if seen >= n:
        break
    assert time.time() < deadline, "only %d of %d devices have an xmpp_jid" % (seen, n)
    time.sleep(1)
PY
# quiet_acs: no session in flight and nothing queued for the store for 2 s
# running (the boot sessions' writes must not weigh on the first round only)
quiet_acs() {
  admin=$(echo "$ACS_READY" | sed -n 's/.* admin=\([^ ]*\).*/\1/p')
  /usr/bin/python3 - "http://$admin/status" "$TOKEN" <<'PY'
import json, sys, time, urllib.request
calm, deadline = 0, time.time() + 600
while calm < 4:
    req = urllib.request.Request(sys.argv[1], headers={"Authorization": "Bearer " + sys.argv[2]})
    with urllib.request.urlopen(req, timeout=30) as r:
        st = json.loads(r.read())
    calm = calm + 1 if st["live_sessions"] == 0 and st["store_queue"] == 0 else 0
    assert time.time() < deadline, st
    time.sleep(0.5)
PY
}
quiet_acs
RSS_SIM=$(rss_kb "$SIM_PID")
RSS_PROSODY=$(rss_kb "$PROSODY_PID")

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
P0=$(cpu_ticks "$PROSODY_PID"); S0=$(cpu_ticks "$SIM_PID"); T0=$(date +%s.%N)
XMPP=$(/usr/bin/python3 "$HERE/nat_reach_wake.py" "http://127.0.0.1:$API" "$TOKEN" "$WORK/acs.log" "SIM:$COUNT" "$RATE")
P1=$(cpu_ticks "$PROSODY_PID"); S1=$(cpu_ticks "$SIM_PID"); T1=$(date +%s.%N)
# CPU share of one core during the XMPP round (ticks are 1/100 s)
PROSODY_CPU=$(awk -v a="$P0" -v b="$P1" -v t0="$T0" -v t1="$T1" 'BEGIN { printf "%.0f%%", (b - a) / (t1 - t0) }')
SIM_CPU=$(awk -v a="$S0" -v b="$S1" -v t0="$T0" -v t1="$T1" 'BEGIN { printf "%.0f%%", (b - a) / (t1 - t0) }')

# round 2: the same devices, the ACS without XMPP: HTTP connection requests
kill "$ACS_PID"; wait "$ACS_PID" 2>/dev/null || true
mv "$WORK/acs.log" "$WORK/acs-xmpp.log"
# shellcheck disable=SC2086
start_outpost acs acs $acs_args
ACS_READY=$READY_LINE
quiet_acs
HTTP=$(/usr/bin/python3 "$HERE/nat_reach_wake.py" "http://127.0.0.1:$API" "$TOKEN" "$WORK/acs.log" "SIM:$COUNT" "$RATE")

field() { echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }
echo "XMPP connection requests (TR-069 Annex K) vs HTTP, $COUNT cpe-sim CPEs, tasks at $RATE/s; $(machine); load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "logins: $COUNT CPEs + the ACS online in ${LOGIN_S}s; RSS cpe-sim $((RSS_SIM / 1024)) MiB, prosody $((RSS_PROSODY / 1024)) MiB"
echo "CPU during the XMPP round (of one core): prosody $PROSODY_CPU, cpe-sim $SIM_CPU"
echo "(latency from the ACS's log timestamps: 1 ms resolution)"
printf '%-34s %8s %8s %8s %8s %8s\n' "task created -> 6 CONNECTION REQUEST" "min ms" "p50 ms" "p99 ms" "max ms" "woken"
printf '%-34s %8s %8s %8s %8s %8s\n' "XMPP (ACS -> Prosody -> CPE)" "$(field "$XMPP" min)" "$(field "$XMPP" p50)" "$(field "$XMPP" p99)" "$(field "$XMPP" max)" "$(field "$XMPP" ok)/$COUNT"
printf '%-34s %8s %8s %8s %8s %8s\n' "HTTP (ACS -> CPE, Digest)" "$(field "$HTTP" min)" "$(field "$HTTP" p50)" "$(field "$HTTP" p99)" "$(field "$HTTP" max)" "$(field "$HTTP" ok)/$COUNT"
printf '%-34s %8s %8s %8s\n' "ratio XMPP/HTTP" "" "$(ratio "$(field "$XMPP" p50)" "$(field "$HTTP" p50)")" "$(ratio "$(field "$XMPP" p99)" "$(field "$HTTP" p99)")"
case "$XMPP$HTTP" in *reasons=*|*errors=*) echo "failures: XMPP: $XMPP"; echo "          HTTP: $HTTP" ;; esac
