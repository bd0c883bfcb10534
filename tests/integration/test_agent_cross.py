"""Cross-built agents (make cross ARCH=...) under qemu-user, against the
x86-64 gateway and an x86-64 agent on loopback: 16 MB each way byte for
byte through the foreign agent, its REST API, and its reconnect after the
gateway restarts. s390x is big-endian: its agent talking to the
little-endian gateway checks the wire format's byte order end to end.

Each architecture is skipped, with the reason, when its build or qemu is
missing (scripts/install-deps --cross, then make cross ARCH=...; `make test`
builds every architecture whose toolchain is installed)."""
import hashlib
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest
import requests

from tunnel_util import (AG_AUTH, Server, add_forward, echo_handler, read_all, sink_handler,
                         source_digest, source_handler, start_agent, start_gateway,
                         wait_connected)

ROOT = Path(__file__).resolve().parents[2]
QEMU = {"arm64": "qemu-aarch64", "armhf": "qemu-arm", "mipsel": "qemu-mipsel",
        "s390x": "qemu-s390x"}
MACHINE = {"arm64": "AArch64", "armhf": "ARM", "mipsel": "MIPS", "s390x": "S/390"}
SIZE = 16 << 20
# where scripts/install-deps --cross unpacks the targets' libraries
SYSROOT = Path(os.environ.get("OUTPOST_SYSROOT", "/usr/local/lib/outpost-sysroot"))


def cross_agent(arch):
    """The command running the ARCH agent under qemu, or skip saying why."""
    exe = ROOT / "build" / f"cross-{arch}" / "src" / "outpost"
    sysroot = SYSROOT / arch
    qemu = shutil.which(QEMU[arch])
    if not exe.exists() or not sysroot.is_dir():
        pytest.skip(f"no {arch} agent at {exe}: scripts/install-deps --cross && "
                    f"make cross ARCH={arch}")
    if not qemu:
        pytest.skip(f"{QEMU[arch]} not installed (Debian qemu-user: scripts/install-deps --cross)")
    return [qemu, "-L", str(sysroot), str(exe)]


@pytest.fixture(params=sorted(QEMU))
def arch(request):
    return request.param


def test_cross_agent_is_foreign(arch):
    """The binary under test really is the target's (not a host build)."""
    cmd = cross_agent(arch)
    out = subprocess.run(["readelf", "-h", cmd[-1]], capture_output=True, text=True,
                         check=True).stdout
    assert MACHINE[arch] in out, out
    big = "big endian" in out
    assert big == (arch == "s390x"), out
    r = subprocess.run(cmd + ["--version"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stdout.startswith("outpost "), r.stderr
    # the agent-only build: no other daemon in it
    r = subprocess.run(cmd + ["gateway", "--help"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "unknown subcommand 'gateway'" in r.stderr


def upload(port, data):
    with socket.create_connection(("127.0.0.1", port), timeout=120) as c:
        view = memoryview(data)
        for i in range(0, len(data), 1 << 20):
            c.sendall(view[i:i + (1 << 20)])
        c.shutdown(socket.SHUT_WR)
        h, n = read_all(c).decode().split()
        return h, int(n)


def download(port, n, seed):
    with socket.create_connection(("127.0.0.1", port), timeout=120) as c:
        c.sendall(f"{n} {seed}\n".encode())
        h = hashlib.sha256()
        got = 0
        while True:
            d = c.recv(1 << 20)
            if not d:
                break
            h.update(d)
            got += len(d)
        return h.hexdigest(), got


def echo_ok(port, payload=b"through the foreign agent", timeout=30):
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=10) as c:
                c.sendall(payload)
                c.shutdown(socket.SHUT_WR)
                if read_all(c) == payload:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"no echo through port {port}")
        time.sleep(0.1)


def test_cross_agent_data_api_reconnect(outpost, tmp_path, arch):
    cmd = cross_agent(arch)
    echo, sink, source = Server(echo_handler), Server(sink_handler), Server(source_handler)
    try:
        gw = start_gateway(outpost, tmp_path, {"x": "key-x", "n": "key-n"},
                           ["from=x to=n net=127.0.0.1/32 ports=*"])
        # n: the native agent, serving the loopback servers
        n = start_agent(outpost, tmp_path, gw, "n", "key-n",
                        allow=["net=127.0.0.0/8 ports=1024-65535 from=x"])

        # x: the foreign agent, whose forwards carry every byte of the test
        def foreign(*args, **kw):
            return outpost(*args, exe=cmd, timeout=60, **kw)

        x = start_agent(foreign, tmp_path, gw, "x", "key-x",
                        forwards=[f"local=0 gateway=n ip=127.0.0.1 remote={sink.port}"])
        wait_connected(x, timeout=60)
        wait_connected(n)

        # REST API of the foreign agent: status, list, create, delete
        st = requests.get(x.url() + "/api/status", headers=AG_AUTH, timeout=30).json()
        assert st["name"] == "x" and st["forwards"] == 1, st
        assert requests.get(x.url() + "/api/status", timeout=30).status_code == 401
        p_source = add_forward(x, source.port, "n")
        p_echo = add_forward(x, echo.port, "n")
        lst = requests.get(x.url() + "/api/forwards", headers=AG_AUTH, timeout=30).json()
        by_remote = {f["remote"]: f for f in lst}
        assert set(by_remote) == {sink.port, source.port, echo.port}, lst
        p_sink = int(by_remote[sink.port]["local"].rsplit(":", 1)[1])
        r = requests.post(x.url() + "/api/forwards", headers=AG_AUTH, timeout=30,
                          data=b"{not json")
        assert r.status_code == 400 and "JSON object" in r.json()["error"], r.text

        # 16 MB each way, byte for byte
        data = os.urandom(SIZE)
        assert upload(p_sink, data) == (hashlib.sha256(data).hexdigest(), SIZE)
        assert download(p_source, SIZE, arch) == (source_digest(SIZE, arch.encode()), SIZE)
        echo_ok(p_echo)

        # the gateway restarts on the same port: the foreign agent comes back
        gw_port = gw.addr()[1]
        nx, nn = len(x.lines), len(n.lines)
        gw.stop()
        x.wait_for(r"gateway_disconnected", start=nx, timeout=30)
        gw2 = start_gateway(outpost, tmp_path / "again", {"x": "key-x", "n": "key-n"},
                            ["from=x to=n net=127.0.0.1/32 ports=*"], port=gw_port)
        wait_connected(x, start=nx, timeout=60)
        wait_connected(n, start=nn)
        echo_ok(p_echo)
        assert upload(p_sink, data[:1 << 20]) == (hashlib.sha256(data[:1 << 20]).hexdigest(),
                                                  1 << 20)

        fid = by_remote[echo.port]["id"]
        r = requests.delete(f"{x.url()}/api/forwards/{fid}", headers=AG_AUTH, timeout=30)
        assert r.status_code == 200 and r.json()["deleted"], r.text
        lst = requests.get(x.url() + "/api/forwards", headers=AG_AUTH, timeout=30).json()
        assert echo.port not in {f["remote"] for f in lst}
        x.stop(timeout=60)
        n.stop()
        gw2.stop()
    finally:
        for s in (echo, sink, source):
            s.close()
