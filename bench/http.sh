#!/bin/sh
# bench/http.sh [BIN]: requests/s of Outpost's HTTP/1.1 server (outpost testd,
# GET /hello, a 12-byte body) against nginx serving the same body on the same
# machine, same wrk settings, in one run: keep-alive, a new connection per
# request, and both again over TLS (ECDSA P-256, TLS 1.3). Outpost runs one
# event loop, so nginx gets worker_processes 1. Goal: Outpost >= 0.8 x nginx.
set -eu
. "$(dirname "$0")/lib.sh"
DURATION=${DURATION:-3}
ROUNDS=${ROUNDS:-3}
CONNS=${CONNS:-50}

command -v wrk >/dev/null || { echo "wrk missing (scripts/install-deps)"; exit 1; }
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
  -keyout "$WORK/key.pem" -out "$WORK/cert.pem" -subj "/CN=127.0.0.1" \
  -addext "subjectAltName=IP:127.0.0.1" 2>/dev/null

NP=$(free_port); NTP=$(free_port)
start_nginx "  server {
    listen 127.0.0.1:$NP;
    listen 127.0.0.1:$NTP ssl;
    ssl_certificate $WORK/cert.pem; ssl_certificate_key $WORK/key.pem;
    ssl_protocols TLSv1.2 TLSv1.3;
    location = /hello { default_type text/plain; return 200 \"hello world\\n\"; }
  }"

OP=$(free_port); OTP=$(free_port)
start_outpost testd testd --listen 127.0.0.1:$OP
start_outpost testd-tls testd --listen 127.0.0.1:$OTP --tls-cert "$WORK/cert.pem" --tls-key "$WORK/key.pem"

rps() { # URL [extra wrk args]: requests/s
  url=$1; shift
  wrk -t1 -c"$CONNS" -d"${DURATION}s" "$@" "$url" >"$WORK/wrk.out" 2>&1
  cat "$WORK/wrk.out" >> "$WORK/wrk.all"
  awk '/Requests\/sec/ {print $2}' "$WORK/wrk.out"
}

echo "HTTP server: outpost testd vs nginx $($NGINX -v 2>&1 | sed 's/.*\///') (worker_processes 1)"
echo "wrk -t1 -c$CONNS -d${DURATION}s, best of $ROUNDS alternating runs, GET /hello (12-byte body)"
echo "$(date -u "+%Y-%m-%d %H:%M UTC"), $(machine), load average $(cut -d" " -f1-3 /proc/loadavg)"
printf "%-28s %12s %12s %7s\n" "case" "outpost r/s" "nginx r/s" "ratio"
# Each row alternates the two servers ROUNDS times and keeps each one's best
# run, so a burst of load from elsewhere on the machine hits both alike.
best() { awk -v a="$1" -v b="$2" 'BEGIN { print (a > b ? a : b) }'; }
row() {
  o=0; n=0
  for _ in $(seq 1 "$ROUNDS"); do
    o=$(best "$o" "$(rps "$2" $4)")
    n=$(best "$n" "$(rps "$3" $4)")
  done
  printf "%-28s %12.0f %12.0f %7s\n" "$1" "$o" "$n" "$(ratio "$o" "$n")"
}
row "keep-alive" "http://127.0.0.1:$OP/hello" "http://127.0.0.1:$NP/hello" ""
row "new connection per request" "http://127.0.0.1:$OP/hello" "http://127.0.0.1:$NP/hello" "-H Connection:close"
row "TLS keep-alive" "https://127.0.0.1:$OTP/hello" "https://127.0.0.1:$NTP/hello" ""
row "TLS new connection" "https://127.0.0.1:$OTP/hello" "https://127.0.0.1:$NTP/hello" "-H Connection:close"
