# Shared helpers for bench/*.sh (sourced). Each benchmark starts its peers on
# loopback ports of its own, cleans up on exit, and prints one table.

BIN=${1:-build/release/src/outpost}
[ -x "$BIN" ] || { echo "outpost binary not found: $BIN (run make build)" >&2; exit 1; }
BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")
WORK=$(mktemp -d /tmp/outpost-bench-XXXXXX)
PIDS=""
cleanup() {
  # `|| true`: under set -e a pid that already exited would end the trap
  # early and leave the daemons after it running
  for p in $PIDS; do kill "$p" 2>/dev/null || true; done
  for p in $PIDS; do wait "$p" 2>/dev/null || true; done
  [ -n "${KEEP_WORK:-}" ] && echo "kept $WORK" || rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

free_port() {
  /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# start_outpost NAME ARGS...: start a daemon, wait for its ready line, and
# set READY_LINE. The daemon's log is $WORK/NAME.log.
start_outpost() {
  name=$1; shift
  "$BIN" "$@" >"$WORK/$name.log" 2>&1 &
  PIDS="$PIDS $!"
  LAST_PID=$!
  for _ in $(seq 1 100); do
    READY_LINE=$(grep -m1 " ready " "$WORK/$name.log" || true)
    [ -n "$READY_LINE" ] && return 0
    sleep 0.1
  done
  echo "$name did not become ready:" >&2; cat "$WORK/$name.log" >&2; exit 1
}

# ratio A B: A/B with two decimals
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }

machine() { echo "$(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -r)"; }

# rss_kb PID
rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }

# start_nginx 'server { ... }': nginx with one worker (Outpost runs one event
# loop per daemon) serving that server block, its files under $WORK/nginx;
# returns once the first `listen` port answers.
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
start_nginx() {
  mkdir -p "$WORK/nginx"
  cat >"$WORK/nginx/nginx.conf" <<CONF
worker_processes 1;
error_log $WORK/nginx/error.log;
pid $WORK/nginx/nginx.pid;
events { worker_connections 16384; }
http {
  access_log off;
  keepalive_requests 1000000;
  client_body_temp_path $WORK/nginx; proxy_temp_path $WORK/nginx;
  fastcgi_temp_path $WORK/nginx; uwsgi_temp_path $WORK/nginx; scgi_temp_path $WORK/nginx;
$1
}
CONF
  "$NGINX" -c "$WORK/nginx/nginx.conf" -g "daemon off;" 2>"$WORK/nginx.log" &
  PIDS="$PIDS $!"
  nport=$(echo "$1" | sed -n 's/.*listen 127\.0\.0\.1:\([0-9]*\).*/\1/p' | head -1)
  for _ in $(seq 1 50); do
    curl -s -o /dev/null "http://127.0.0.1:$nport/" && return 0
    sleep 0.1
  done
  echo "nginx did not start:" >&2; cat "$WORK/nginx.log" >&2; exit 1
}
