#!/bin/sh
# bench/tunnel.sh BIN — the tunnel against its peers, in one run on loopback:
#   throughput  iperf3 direct / through the tunnel over ws and wss (agent ->
#               gateway -> agent) / through OpenSSH local forwarding (ssh -L)
#   latency     small request/response ping-pong, p50/p99, and what each path adds
#   idle        10,000 concurrent idle streams: total RSS of gateway + 2 agents
#   mesh        the same through two gateways of a mesh (agent -> gw1 -> gw2 ->
#               agent, the mesh link over mutual TLS) against one gateway: the
#               throughput ratio (goal >= 0.8), the latency a gateway hop adds,
#               and 10,000 idle streams across the two gateways (RSS per process)
# (MESH=0 skips the mesh rows.)
# Everything runs on 127.0.0.1 with temporary keys, certificates and an sshd
# of its own (its own config, host key and authorized key in a temp dir).
# Env: SECONDS_PER_RUN (default 5), IDLE_STREAMS (default 10000), WINDOW (agent
# --window, default: the agent's default).
set -eu

BIN=${1:-build/release/src/outpost}
BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")
T=${SECONDS_PER_RUN:-5}
IDLE=${IDLE_STREAMS:-10000}
PY=/usr/bin/python3
HERE=$(cd "$(dirname "$0")" && pwd)
W=$(mktemp -d /tmp/outpost-bench-tunnel.XXXXXX)
PIDS=""

cleanup() {
  trap - EXIT INT TERM HUP PIPE
  for p in $PIDS; do kill "$p" 2>/dev/null || true; done
  for p in $PIDS; do wait "$p" 2>/dev/null || true; done
  if [ -n "${KEEP:-}" ]; then echo "kept $W" >&2; else rm -rf "$W"; fi
}
# PIPE too: `bench/tunnel.sh | head` must not leave sshd and iperf3 behind
trap cleanup EXIT
trap 'cleanup; exit 1' INT TERM HUP PIPE

for t in iperf3 ssh ssh-keygen openssl; do
  command -v "$t" >/dev/null || { echo "tunnel.sh: $t missing (scripts/install-deps)"; exit 1; }
done
SSHD=$(command -v sshd || echo /usr/sbin/sshd)
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

free_port() { $PY -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }

# start NAME CMD...: run in the background, log to $W/NAME.log
start() { n=$1; shift; "$@" >"$W/$n.log" 2>&1 & PIDS="$PIDS $!"; eval "PID_$n=$!"; }

wait_log() { # wait_log NAME REGEX -> prints the matching line
  i=0
  while ! grep -Eq "$2" "$W/$1.log" 2>/dev/null; do
    i=$((i + 1)); [ $i -lt 300 ] || { echo "tunnel.sh: $1 never logged /$2/"; tail -20 "$W/$1.log"; exit 1; }
    sleep 0.05
  done
  grep -E "$2" "$W/$1.log" | head -1
}

# ---- keys, certificates -------------------------------------------------------
KA=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n'); KB=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
HA=$(echo "$KA" | "$BIN" gateway hash-key --iterations 1000)
HB=$(echo "$KB" | "$BIN" gateway hash-key --iterations 1000)
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=bench-ca \
  -keyout "$W/ca.key" -out "$W/ca.pem" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=127.0.0.1 \
  -keyout "$W/gw.key" -out "$W/gw.csr" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\n' > "$W/ext"
openssl x509 -req -in "$W/gw.csr" -CA "$W/ca.pem" -CAkey "$W/ca.key" -CAcreateserial -days 2 \
  -extfile "$W/ext" -out "$W/gw.pem" 2>/dev/null

# ---- the target services behind agent b --------------------------------------
P_IPERF=$(free_port)
start iperf iperf3 -s -p "$P_IPERF" --forceflush
wait_log iperf "Server listening" >/dev/null
P_ECHO=$(free_port)
start echo $PY "$HERE/tunnel_helper.py" echo-server "$P_ECHO"
wait_log echo "listening" >/dev/null

# ---- two tunnels: plain ws and wss ----------------------------------------------
WIN=""; [ -n "${WINDOW:-}" ] && WIN="--window $WINDOW"
tunnel() { # tunnel TAG TLS(0|1)
  tag=$1; tls=$2
  gwopts="--insecure"; url=ws
  [ "$tls" = 1 ] && { gwopts="--tls-cert $W/gw.pem --tls-key $W/gw.key"; url=wss; }
  # shellcheck disable=SC2086
  start "gw$tag" "$BIN" gateway --listen 127.0.0.1:0 --admin-listen '' --data-dir "$W/gw$tag" $gwopts \
    --agent "name=a key-hash=$HA" --agent "name=b key-hash=$HB" \
    --rule "from=a to=b net=127.0.0.1 ports=*" --max-streams 20000
  gp=$(wait_log "gw$tag" "ready gateway" | sed -E 's/.* listen=127\.0\.0\.1:([0-9]+) .*/\1/')
  agopts="--insecure"; [ "$tls" = 1 ] && agopts="--tls-ca $W/ca.pem"
  pf=$(free_port); pe=$(free_port)
  # shellcheck disable=SC2086
  start "b$tag" "$BIN" agent --gateway "$url://127.0.0.1:$gp/tunnel" --name b --key "$KB" $agopts $WIN \
    --listen '' --admin-listen '' --data-dir "$W/b$tag" --allow "net=127.0.0.1 ports=*" --max-streams 20000
  # shellcheck disable=SC2086
  start "a$tag" "$BIN" agent --gateway "$url://127.0.0.1:$gp/tunnel" --name a --key "$KA" $agopts $WIN \
    --listen '' --admin-listen '' --data-dir "$W/a$tag" --max-streams 20000 \
    --forward "local=$pf gateway=b ip=127.0.0.1 remote=$P_IPERF" \
    --forward "local=$pe gateway=b ip=127.0.0.1 remote=$P_ECHO"
  wait_log "a$tag" gateway_connected >/dev/null
  wait_log "b$tag" gateway_connected >/dev/null
  eval "PF_$tag=$pf; PE_$tag=$pe"
}
tunnel ws 0
tunnel wss 1

# ---- the same through a mesh of two gateways ----------------------------------------
# agent a -> gw1 ==mesh (wss, mutual TLS)==> gw2 -> agent b; agents over ws or wss
MESH=${MESH:-1}
if [ "$MESH" = 1 ]; then
  "$BIN" certs root --out "$W/mesh-root" --subject-org-name "Bench Mesh" >/dev/null 2>&1
  for g in gw1 gw2; do
    "$BIN" certs leaf --out "$W/mesh-$g" --cn "$g" --ip 127.0.0.1 \
      --ca-cert "$W/mesh-root.cert.pem" --ca-key "$W/mesh-root.key.pem" >/dev/null 2>&1
  done
fi
mesh_tunnel() { # mesh_tunnel TAG TLS(0|1)
  tag=$1; tls=$2
  gwopts="--insecure"; url=ws
  [ "$tls" = 1 ] && { gwopts="--tls-cert $W/gw.pem --tls-key $W/gw.key"; url=wss; }
  m1=$(free_port); m2=$(free_port)
  for g in 1 2; do
    eval "mine=\$m$g"; other=$m2; [ "$g" = 2 ] && other=$m1
    # shellcheck disable=SC2086,SC2154
    start "mgw$g$tag" "$BIN" gateway --listen 127.0.0.1:0 --admin-listen '' --data-dir "$W/mgw$g$tag" $gwopts \
      --agent "name=a key-hash=$HA" --agent "name=b key-hash=$HB" \
      --rule "from=a to=b net=127.0.0.1 ports=*" --max-streams 20000 \
      --mesh-cert "$W/mesh-gw$g.pkeycert.pem" --mesh-ca "$W/mesh-root.cert.pem" \
      --mesh-listen "127.0.0.1:$mine" --peer "wss://127.0.0.1:$other/mesh"
  done
  g1=$(wait_log "mgw1$tag" "ready gateway" | sed -E 's/.* listen=127\.0\.0\.1:([0-9]+) .*/\1/')
  g2=$(wait_log "mgw2$tag" "ready gateway" | sed -E 's/.* listen=127\.0\.0\.1:([0-9]+) .*/\1/')
  agopts="--insecure"; [ "$tls" = 1 ] && agopts="--tls-ca $W/ca.pem"
  pf=$(free_port); pe=$(free_port)
  # shellcheck disable=SC2086
  start "mb$tag" "$BIN" agent --gateway "$url://127.0.0.1:$g2/tunnel" --name b --key "$KB" $agopts $WIN \
    --listen '' --admin-listen '' --data-dir "$W/mb$tag" --allow "net=127.0.0.1 ports=*" --max-streams 20000
  # shellcheck disable=SC2086
  start "ma$tag" "$BIN" agent --gateway "$url://127.0.0.1:$g1/tunnel" --name a --key "$KA" $agopts $WIN \
    --listen '' --admin-listen '' --data-dir "$W/ma$tag" --max-streams 20000 \
    --forward "local=$pf gateway=b ip=127.0.0.1 remote=$P_IPERF" \
    --forward "local=$pe gateway=b ip=127.0.0.1 remote=$P_ECHO"
  wait_log "ma$tag" gateway_connected >/dev/null
  wait_log "mb$tag" gateway_connected >/dev/null
  wait_log "mgw1$tag" "mesh_link_up gateway=gw2" >/dev/null
  # b is announced to gw1 over the link: the first stream may not wait for it
  $PY "$HERE/tunnel_helper.py" wait-echo "$pe"
  eval "PF_m$tag=$pf; PE_m$tag=$pe"
}
if [ "$MESH" = 1 ]; then
  mesh_tunnel ws 0
  mesh_tunnel wss 1
fi

# ---- ssh -L through our own sshd ------------------------------------------------
mkdir -p /run/sshd 2>/dev/null || true   # sshd's privilege-separation dir (as its service makes it)
ssh-keygen -q -t ed25519 -N '' -f "$W/hostkey"
ssh-keygen -q -t ed25519 -N '' -f "$W/userkey"
cp "$W/userkey.pub" "$W/authorized_keys"; chmod 600 "$W/authorized_keys"
P_SSH=$(free_port)
cat > "$W/sshd_config" <<EOF
Port $P_SSH
ListenAddress 127.0.0.1
HostKey $W/hostkey
AuthorizedKeysFile $W/authorized_keys
PidFile $W/sshd.pid
StrictModes no
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
AllowTcpForwarding yes
PermitRootLogin prohibit-password
EOF
start sshd "$SSHD" -D -e -f "$W/sshd_config"
wait_log sshd "Server listening" >/dev/null
PF_ssh=$(free_port); PE_ssh=$(free_port)
start ssh ssh -N -p "$P_SSH" -i "$W/userkey" -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
  -o BatchMode=yes -o ExitOnForwardFailure=yes \
  -L "$PF_ssh:127.0.0.1:$P_IPERF" -L "$PE_ssh:127.0.0.1:$P_ECHO" "$(id -un)@127.0.0.1"
wait_log sshd "Accepted publickey" >/dev/null
sleep 0.3 # the -L listeners open right after authentication

# ---- throughput ---------------------------------------------------------------------
gbps() { # gbps PORT -> receiver Gbit/s
  out=$(iperf3 -c 127.0.0.1 -p "$1" -t "$T" -J) || { echo 0; return; }
  echo "$out" | $PY -c 'import json,sys;print("%.2f"%(json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"]/1e9))'
}
echo "== tunnel throughput (iperf3, ${T}s each, one TCP stream) on $(nproc) cores"
D=$(gbps "$P_IPERF"); TW=$(gbps "$PF_ws"); TS=$(gbps "$PF_wss"); SS=$(gbps "$PF_ssh")
ratio() { $PY -c "import sys;a,b=float(sys.argv[1]),float(sys.argv[2]);print('%.2f'%(a/b) if b else 'n/a')" "$1" "$2"; }
printf '%-22s %8s Gbit/s\n' "direct" "$D"
printf '%-22s %8s Gbit/s   %s x direct\n' "tunnel ws" "$TW" "$(ratio "$TW" "$D")"
printf '%-22s %8s Gbit/s   %s x direct   %s x ssh -L\n' "tunnel wss" "$TS" "$(ratio "$TS" "$D")" "$(ratio "$TS" "$SS")"
printf '%-22s %8s Gbit/s   %s x direct\n' "ssh -L" "$SS" "$(ratio "$SS" "$D")"
echo "goals: wss >= 1.0 x ssh -L; ws >= 0.25 x direct"
if [ "$MESH" = 1 ]; then
  echo "== through two gateways of a mesh (agent -> gw1 -> gw2 -> agent; the mesh link is wss)"
  echo "   against one gateway, alternating, best of two; CPU per GB moved, per process:"
  echo "   on $(nproc) cores every process of a path shares them, where a mesh's gateways"
  echo "   are machines of their own: the busiest process's CPU per GB says what a path"
  echo "   carries when each has a core"
  # shellcheck disable=SC2154
  $PY "$HERE/tunnel_helper.py" iperf-cpu "$T" \
    "ws,1-gateway:$PF_ws:agent-a=$PID_aws,gw=$PID_gwws,agent-b=$PID_bws" \
    "ws,mesh:$PF_mws:agent-a=$PID_maws,gw1=$PID_mgw1ws,gw2=$PID_mgw2ws,agent-b=$PID_mbws" \
    "wss,1-gateway:$PF_wss:agent-a=$PID_awss,gw=$PID_gwwss,agent-b=$PID_bwss" \
    "wss,mesh:$PF_mwss:agent-a=$PID_mawss,gw1=$PID_mgw1wss,gw2=$PID_mgw2wss,agent-b=$PID_mbwss"
  echo "goal: mesh >= 0.8 x one gateway"
fi

# ---- latency ---------------------------------------------------------------------------
echo "== request latency (64-byte ping-pong, 3000 round trips, microseconds)"
$PY "$HERE/tunnel_helper.py" latency "direct=$P_ECHO" "ws=$PE_ws" "wss=$PE_wss" "ssh=$PE_ssh"
if [ "$MESH" = 1 ]; then
  echo "== what a gateway hop adds (one gateway vs two of a mesh, same ping-pong)"
  $PY "$HERE/tunnel_helper.py" hops "ws=$PE_ws:$PE_mws" "wss=$PE_wss:$PE_mwss"
fi

# ---- idle streams -------------------------------------------------------------------------
echo "== $IDLE concurrent idle streams through the ws tunnel"
eval "pids=\"\$PID_gwws \$PID_aws \$PID_bws\""
# shellcheck disable=SC2154
$PY "$HERE/tunnel_helper.py" idle "$PE_ws" "$IDLE" $pids
if [ "$MESH" = 1 ]; then
  echo "== $IDLE concurrent idle streams across two gateways of a mesh (agents on ws)"
  # shellcheck disable=SC2154
  $PY "$HERE/tunnel_helper.py" idle "$PE_mws" "$IDLE" "gw1=$PID_mgw1ws" "gw2=$PID_mgw2ws" \
    "agent-a=$PID_maws" "agent-b=$PID_mbws"
fi
