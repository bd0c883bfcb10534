#!/usr/bin/python3
"""Helpers for bench/tunnel.sh (no third-party modules).

  echo-server PORT              select-based echo server (holds many idle connections)
  wait-port PORT                wait until something listens on 127.0.0.1:PORT
  latency NAME=PORT ...         ping-pong percentiles per path, and what each adds to direct
  idle PORT N PID...            open N idle streams through PORT, print total RSS of PIDs
"""
import resource
import selectors
import socket
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


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def idle(port, n, pids):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, n + 1024), hard))
    before = sum(rss_kb(p) for p in pids)
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
    print(f"RSS gateway+agents: {before / 1024:.1f} MB idle -> {after / 1024:.1f} MB with "
          f"{n} streams (gateway {per[0] / 1024:.1f}, agent a {per[1] / 1024:.1f}, "
          f"agent b {per[2] / 1024:.1f}); {(after - before) / n:.2f} KB per stream; "
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
    elif cmd == "idle":
        idle(int(sys.argv[2]), int(sys.argv[3]), [int(p) for p in sys.argv[4:]])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
