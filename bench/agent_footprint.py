#!/usr/bin/python3
"""Helpers for bench/agent-footprint.sh (no third-party modules).

  source-server PORT        answers 'N\\n' with N bytes (threaded)
  rss NAME PID              VmRSS and its private (anonymous) part
  idle PORT N NAME PID      N idle streams through PORT (each answers an echo): RSS before/after
  pull PORT N NAME PID      N bytes from the source through PORT: MB/s and PID's CPU per GB
"""
import os
import resource
import socket
import sys
import threading
import time


def source_server(port):
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", port))
    ls.listen(64)
    block = os.urandom(1 << 16)
    print("listening", flush=True)

    def one(c):
        with c:
            line = b""
            while not line.endswith(b"\n"):
                d = c.recv(64)
                if not d:
                    return
                line += d
            n = int(line)
            view = memoryview(block)
            while n > 0:
                k = min(n, len(block))
                c.sendall(view[:k])
                n -= k
            c.shutdown(socket.SHUT_WR)
            c.recv(1)

    while True:
        c, _ = ls.accept()
        threading.Thread(target=one, args=(c,), daemon=True).start()


def status(pid):
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmRSS", "RssAnon", "RssFile"):
                out[k] = int(v.split()[0])
    return out


def fmt(s):
    return (f"RSS {s['VmRSS'] / 1024:.2f} MB (private {s['RssAnon'] / 1024:.2f} MB, "
            f"shared-library and binary pages {s['RssFile'] / 1024:.2f} MB)")


def cpu_s(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def idle(port, n, name, pid):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, n + 1024), hard))
    before = status(pid)
    socks = []
    for i in range(n):
        s = socket.create_connection(("127.0.0.1", port), timeout=30)
        s.sendall(b"!")
        if s.recv(1) != b"!":
            sys.exit(f"stream {i} did not echo")
        socks.append(s)
    time.sleep(1)
    after = status(pid)
    print(f"{name} idle:              {fmt(before)}")
    print(f"{name} with {n} streams: {fmt(after)}; "
          f"+{(after['RssAnon'] - before['RssAnon']) / n:.2f} KB private per stream")
    for s in socks:
        s.close()


def pull(port, n, name, pid):
    best = None
    for _ in range(2):
        c0 = cpu_s(pid)
        t0 = time.monotonic()
        with socket.create_connection(("127.0.0.1", port), timeout=60) as s:
            s.sendall(f"{n}\n".encode())
            got = 0
            while True:
                d = s.recv(1 << 20)
                if not d:
                    break
                got += len(d)
        secs = time.monotonic() - t0
        cpu = cpu_s(pid) - c0
        if got != n:
            sys.exit(f"{name}: got {got} of {n} bytes")
        r = (n / secs / 1e6, cpu * 1000 / (n / 1e9))
        if best is None or r[0] > best[0]:
            best = r
    print(f"{name}: {best[0]:.1f} MB/s, {best[1]:.0f} ms CPU per GB (best of 2 x {n >> 20} MB)")
    print(f"RESULT {best[0]:.3f} {best[1]:.1f}")


def main():
    a = sys.argv[1:]
    if a and a[0] == "source-server":
        source_server(int(a[1]))
    elif a and a[0] == "rss":
        print(f"{a[1]}: {fmt(status(int(a[2])))}")
    elif a and a[0] == "idle":
        idle(int(a[1]), int(a[2]), a[3], int(a[4]))
    elif a and a[0] == "pull":
        pull(int(a[1]), int(a[2]), a[3], int(a[4]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
