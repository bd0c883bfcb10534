#!/usr/bin/python3
"""Helpers for bench/agent-footprint.sh (no third-party modules).

  source-server PORT        answers 'N\\n' with N bytes (threaded)
  rss NAME PID              RSS, PSS, private and anonymous memory (smaps_rollup)
  smaps PID [guest]         the same per mapping, summed per file (a table); with guest,
                            PID is qemu-user and only its guest's mappings count
  idle PORT N NAME PID      N idle streams through PORT (each answers an echo): memory before/after
  pull PORT N NAME PID      N bytes from the source through PORT: MB/s and PID's CPU per GB

RSS counts every page mapped in the process, the shared libraries' included
(the kernel maps a library's cached pages up to 64 KiB around each one the
process touches); PSS divides each page by the processes mapping it; private
(USS) is what the process alone maps: what its exit gives back.
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


SMAPS_KEYS = ("Rss", "Pss", "Shared_Clean", "Shared_Dirty", "Private_Clean", "Private_Dirty",
              "Anonymous")


def status(pid):
    """KB of each SMAPS_KEYS field over the whole process, and private (USS)."""
    out = dict.fromkeys(SMAPS_KEYS, 0)
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in out:
                out[k] = int(v.split()[0])
    out["Private"] = out["Private_Clean"] + out["Private_Dirty"]
    return out


def fmt(s):
    return (f"RSS {s['Rss'] / 1024:.2f} MB, PSS {s['Pss'] / 1024:.2f} MB, "
            f"private {s['Private'] / 1024:.2f} MB (anonymous {s['Anonymous'] / 1024:.2f} MB)")


def smaps(pid, guest=False):
    """Per-file sums of /proc/PID/smaps: [(name, {key: KB})], biggest RSS first.
    Anonymous mappings are grouped as [heap], [stack] and [anon] (thread
    stacks and TLS, large malloc blocks). With guest, PID is qemu-user and
    only its guest's mappings count: qemu-user maps the guest's files and
    memory with the host's mmap, below qemu's own executable (in the low
    4 GiB for a 32-bit guest, from 0x5500000000 for a 64-bit one), so the
    guest's libraries show with their real page counts; the guest's heap
    (brk) shows as [anon]."""
    exe = os.path.realpath(f"/proc/{pid}/exe")
    limit = None
    if guest:
        with open(f"/proc/{pid}/maps") as f:
            limit = min(int(l.split("-")[0], 16) for l in f if l.rstrip().endswith(exe))
    rows, cur = {}, None
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            parts = line.split()
            if parts and "-" in parts[0] and not parts[0].endswith(":"):
                path = parts[5] if len(parts) > 5 else "[anon]"
                if limit is not None and int(parts[0].split("-")[0], 16) >= limit:
                    cur = None
                    continue
                name = os.path.basename(path) if path.startswith("/") else path
                if name.startswith("[") and name not in ("[heap]", "[stack]"):
                    name = "[anon]"
                if path == exe or (guest and path.endswith("/outpost")):
                    name = "outpost (binary)"
                cur = rows.setdefault(name, dict.fromkeys(SMAPS_KEYS, 0))
            elif cur is not None and parts and parts[0].rstrip(":") in SMAPS_KEYS:
                cur[parts[0].rstrip(":")] += int(parts[1])
    return sorted(rows.items(), key=lambda r: -r[1]["Rss"])


def smaps_table(pid, guest=False):
    rows = [r for r in smaps(pid, guest) if r[1]["Rss"]]
    cols = ("Rss", "Pss", "Shared_Clean", "Private_Clean", "Private_Dirty")
    print("| mapping (KB) | " + " | ".join(cols) + " |")
    print("|---|" + "---:|" * len(cols))
    total = dict.fromkeys(cols, 0)
    for name, r in rows:
        print(f"| {name} | " + " | ".join(str(r[c]) for c in cols) + " |")
        for c in cols:
            total[c] += r[c]
    print("| **total** | " + " | ".join(f"**{total[c]}**" for c in cols) + " |")


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
          f"+{(after['Private'] - before['Private']) / n:.2f} KB private per stream")
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
    elif a and a[0] == "smaps":
        smaps_table(int(a[1]), len(a) > 2 and a[2] == "guest")
    elif a and a[0] == "idle":
        idle(int(a[1]), int(a[2]), a[3], int(a[4]))
    elif a and a[0] == "pull":
        pull(int(a[1]), int(a[2]), a[3], int(a[4]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
