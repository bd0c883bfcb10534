"""What keeps the agent small on a router (docs/openwrt.md; the figures come
from bench/agent-footprint.sh): threads that never read a socket carry no
read buffers, and the agent-only build links no library it does not call."""
import os
import subprocess
from pathlib import Path

import pytest

from tunnel_util import key_hash, wait_connected

ROOT = Path(__file__).resolve().parents[2]


def stack_mapping_rss_kb(pid, tid):
    """RSS of the mapping holding thread tid's stack pointer (glibc puts a
    thread's static TLS block at the top of the same mapping)."""
    try:
        with open(f"/proc/{pid}/task/{tid}/syscall") as f:
            fields = f.read().split()
    except PermissionError:
        pytest.skip("/proc/PID/task/TID/syscall needs ptrace rights over the agent")
    assert len(fields) >= 3 and fields[0] != "running", fields  # idle: blocked in a futex
    sp = int(fields[-2], 16)
    rss, inside = None, False
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            head = line.split()
            if head and "-" in head[0] and not head[0].endswith(":"):
                lo, hi = (int(x, 16) for x in head[0].split("-"))
                inside = lo <= sp < hi
            elif inside and head[0] == "Rss:":
                rss = int(head[1])
                break
    assert rss is not None, f"no mapping holds thread {tid}'s stack pointer {sp:#x}"
    return rss


def test_resolver_threads_carry_no_read_buffers(outpost, tmp_path, pki):
    """An agent whose gateway is a name resolves it on libuv's thread pool:
    four threads that live as long as the process. The C library zeroes a
    thread's whole static TLS block when the thread starts, so the network
    floor's read buffers, when they were _Thread_local arrays, made each of
    those threads 126 KiB of dirty memory though none ever reads a socket
    (0.5 MB of a router agent's 2 MB). What such a thread's stack mapping
    holds now is its stack as far as getaddrinfo went and the C library's
    own TLS: well under 64 KiB (it was over 128)."""
    gw = outpost("gateway", "--listen", "127.0.0.1:0", "--data-dir", str(tmp_path / "gw"),
                 "--tls-cert", pki["server.pem"], "--tls-key", pki["server.key"],
                 "--agent", f"name=a key-hash={key_hash('k1')}")
    port = gw.addr()[1]
    ag = outpost("agent", "--gateway", f"wss://localhost:{port}/tunnel", "--tls-ca", pki["ca.pem"],
                 "--name", "a", "--key", "k1", "--listen", "127.0.0.1:0",
                 "--data-dir", str(tmp_path / "a"), "--api-token", "agenttoken")
    wait_connected(ag)
    pid = ag.proc.pid
    others = [int(t) for t in os.listdir(f"/proc/{pid}/task") if int(t) != pid]
    assert others, "the gateway's name was resolved without libuv's pool: nothing tested"
    sizes = {tid: stack_mapping_rss_kb(pid, tid) for tid in others}
    assert all(kb < 64 for kb in sizes.values()), f"stack mapping RSS per thread (KB): {sizes}"


AGENT_LIBS = {"libuv.so.1", "libyaml-0.so.2", "libssl.so.3", "libcrypto.so.3",
              "libmsgpackc.so.2", "libjansson.so.4", "libc.so.6"}


@pytest.mark.parametrize("build", ["agent", "cross-arm64", "cross-armhf", "cross-mipsel",
                                   "cross-s390x"])
def test_agent_only_build_links_only_its_libraries(build):
    """The agent-only build (make agent, make cross ARCH=...) needs exactly the
    libraries of docs/openwrt.md's table and the C library: no libm (glibc's
    costs the agent ~300 KB of RSS for what was one floor() call), nothing
    of the other daemons (libcurl, expat, SQLite, Lua, zlib)."""
    exe = ROOT / "build" / build / "src" / "outpost"
    if not exe.exists():
        how = "make agent" if build == "agent" else f"make cross ARCH={build[6:]}"
        pytest.skip(f"{build} not built ({how})")
    out = subprocess.run(["readelf", "-d", str(exe)], capture_output=True, text=True,
                         check=True).stdout
    needed = {line.split("[")[1].rstrip("]") for line in out.splitlines() if "(NEEDED)" in line}
    loader = {n for n in needed if n.startswith("ld")}
    assert needed - loader == AGENT_LIBS, sorted(needed)
