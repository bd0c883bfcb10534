#!/usr/bin/python3
"""Helpers for bench/tunnel.sh (no third-party modules).

  echo-server PORT              select-based echo server (holds many idle connections)
  wait-port PORT                wait until something listens on 127.0.0.1:PORT
  latency NAME=PORT ...         ping-pong percentiles per path, and what each adds to direct
  hops NAME=PORT1:PORT2 ...     ping-pong through one gateway (PORT1) and two (PORT2): what a hop adds
  wait-echo PORT                wait until an echo round trip through PORT works
  iperf-cpu T LABEL:PORT:NAME=PID,NAME=PID ...
                                iperf3 through each path in turn (twice, alternating): Gbit/s
                                and each process's CPU per GB moved, the busiest one named
  idle PORT N PID|NAME=PID...   open N idle streams through PORT, print the RSS of the processes
"""
import json
import os
import resource
import selectors
import socket
import subprocess
import sys
import time


def echo_server(port):
    sel = selectors.DefaultSelector()
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", port))
    ls.listen(4096)
    ls.setblocking(False)
    sel.register(ls, selectors.EVENT_READ)
    print("listening", flush=True)
    while True:
        for key, _ in sel.select():
            s = key.fileobj
            if s is ls:
                try:
                    c, _ = ls.accept()
                except OSError:
                    continue
                c.setblocking(False)
                c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                sel.register(c, selectors.EVENT_READ)
                continue
            try:
                d = s.recv(65536)
            except OSError:
                d = b""
            if not d:
                sel.unregister(s)
                s.close()
                continue
            try:
                s.sendall(d)
            except OSError:
                sel.unregister(s)
                s.close()


def wait_port(port, timeout=15):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    sys.exit(f"port {port} never opened")


def pingpong(port, n=3000, size=64):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    msg = b"x" * size
    for _ in range(100):  # warm up
        s.sendall(msg)
        got = 0
        while got < size:
            got += len(s.recv(size - got))
    lat = []
    for _ in range(n):
        t0 = time.perf_counter_ns()
        s.sendall(msg)
        got = 0
        while got < size:
            got += len(s.recv(size - got))
        lat.append((time.perf_counter_ns() - t0) / 1000)
    s.close()
    lat.sort()
    return lat[len(lat) // 2], lat[int(len(lat) * 0.99)]


def latency(specs):
    res = {}
    for spec in specs:
        name, port = spec.split("=")
        res[name] = pingpong(int(port))
    d50, d99 = res.get("direct", (0, 0))
    print(f"{'path':<10} {'p50':>8} {'p99':>8} {'added p50':>10} {'added p99':>10}")
    for name, (p50, p99) in res.items():
        print(f"{name:<10} {p50:8.0f} {p99:8.0f} {p50 - d50:10.0f} {p99 - d99:10.0f}")


def hops(specs):
    print(f"{'agents':<8} {'1 gw p50':>9} {'2 gw p50':>9} {'hop p50':>8} {'1 gw p99':>9} "
          f"{'2 gw p99':>9} {'hop p99':>8}")
    for spec in specs:
        name, ports = spec.split("=")
        one, two = (int(p) for p in ports.split(":"))
        # alternate, so that load from elsewhere hits both alike
        a1, a2 = pingpong(one), pingpong(two)
        b1, b2 = pingpong(one), pingpong(two)
        p1 = (min(a1[0], b1[0]), min(a1[1], b1[1]))
        p2 = (min(a2[0], b2[0]), min(a2[1], b2[1]))
        print(f"{name:<8} {p1[0]:9.0f} {p2[0]:9.0f} {p2[0] - p1[0]:8.0f} {p1[1]:9.0f} "
              f"{p2[1]:9.0f} {p2[1] - p1[1]:8.0f}")


def wait_echo(port, timeout=15):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=2)
            s.sendall(b"?")
            if s.recv(1) == b"?":
                s.close()
                return
            s.close()
        except OSError:
            pass
        time.sleep(0.1)
    sys.exit(f"no echo through port {port}")


def cpu_s(pid):
    """utime + stime of a process, in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def iperf_cpu(secs, specs):
    """Each spec LABEL:PORT:NAME=PID,...: iperf3 through PORT while the CPU of
    the named processes is counted. Two rounds, alternating the paths, best
    of each kept (load from elsewhere only slows a sample down)."""
    paths = []
    for spec in specs:
        label, port, procs = spec.split(":", 2)
        paths.append((label, int(port), [(p.split("=")[0], int(p.split("=")[1]))
                                         for p in procs.split(",")]))
    best = {}
    for _ in range(2):
        for label, port, procs in paths:
            before = [cpu_s(pid) for _, pid in procs]
            out = subprocess.run(["iperf3", "-c", "127.0.0.1", "-p", str(port), "-t", str(secs),
                                  "-J"], capture_output=True, text=True, check=True).stdout
            after = [cpu_s(pid) for _, pid in procs]
            end = json.loads(out)["end"]["sum_received"]
            gbps, gb = end["bits_per_second"] / 1e9, end["bytes"] / 1e9
            ms_per_gb = [(a - b) * 1000 / gb for a, b in zip(after, before)]
            if label not in best or gbps > best[label][0]:
                best[label] = (gbps, ms_per_gb)
    for label, _, procs in paths:
        gbps, ms = best[label]
        top = max(range(len(procs)), key=lambda i: ms[i])
        detail = ", ".join(f"{procs[i][0]} {ms[i]:.0f}" for i in range(len(procs)))
        print(f"{label:<16} {gbps:6.2f} Gbit/s   CPU ms per GB: {detail}; busiest: "
              f"{procs[top][0]} ({ms[top]:.0f} ms/GB, {8000 / ms[top]:.1f} Gbit/s with a core "
              f"of its own)")
    return best


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def idle(port, n, procs):
    """procs: bare PIDs (gateway, agent a, agent b: the one-gateway run) or
    NAME=PID pairs."""
    if all("=" in p for p in procs):
        named = [(p.split("=")[0], int(p.split("=")[1])) for p in procs]
    else:
        named = list(zip(("gateway", "agent a", "agent b"), (int(p) for p in procs)))
    pids = [pid for _, pid in named]
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, n + 1024), hard))
    before = sum(rss_kb(p) for p in pids)
    each_before = [rss_kb(p) for p in pids]
    socks = []
    t0 = time.monotonic()
    for i in range(n):
        s = socket.create_connection(("127.0.0.1", port), timeout=30)
        s.sendall(b"!")
        if s.recv(1) != b"!":
            sys.exit(f"stream {i} did not echo")
        socks.append(s)
    secs = time.monotonic() - t0
    after = sum(rss_kb(p) for p in pids)
    per = [rss_kb(p) for p in pids]
    print(f"opened {n} streams in {secs:.1f}s ({n / secs:.0f}/s), each answered an echo")
    parts = ", ".join(f"{name} {p / 1024:.1f} (+{(p - b) / 1024:.1f})"
                      for (name, _), p, b in zip(named, per, each_before))
    print(f"RSS of the {len(pids)} processes: {before / 1024:.1f} MB idle -> {after / 1024:.1f} MB "
          f"with {n} streams ({parts}); {(after - before) / n:.2f} KB per stream; "
          f"goal <= 300 MB: {'ok' if after <= 300 * 1024 else 'MISSED'}")
    for s in socks:
        s.close()


def main():
    cmd = sys.argv[1]
    if cmd == "echo-server":
        echo_server(int(sys.argv[2]))
    elif cmd == "wait-port":
        wait_port(int(sys.argv[2]))
    elif cmd == "latency":
        latency(sys.argv[2:])
    elif cmd == "hops":
        hops(sys.argv[2:])
    elif cmd == "wait-echo":
        wait_echo(int(sys.argv[2]))
    elif cmd == "iperf-cpu":
        iperf_cpu(int(sys.argv[2]), sys.argv[3:])
    elif cmd == "idle":
        idle(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4:])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
