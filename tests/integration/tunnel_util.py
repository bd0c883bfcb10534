"""Helpers for the tunnel integration tests: a tiny msgpack codec, a raw
WebSocket client (to speak the tunnel protocol by hand, malformed frames
included), TCP test servers (echo, hashing sink, source), a topology
builder (one gateway and two agents on loopback) and logins by hand, a
flood of them included; for the mesh: gateway certificates, gateways that
peer with each other, agents with several gateways, and a SOCKS5 client."""
import hashlib
import json
import os
import socket
import struct
import subprocess
import sys
import threading
import time

import requests

from conftest import outpost_bin, run_outpost

# ---- msgpack (just what the tunnel uses) -----------------------------------


def mp_pack(o):
    if o is None:
        return b"\xc0"
    if o is True:
        return b"\xc3"
    if o is False:
        return b"\xc2"
    if isinstance(o, int):
        if 0 <= o < 128:
            return bytes([o])
        if 0 <= o < 2**8:
            return b"\xcc" + bytes([o])
        if 0 <= o < 2**16:
            return b"\xcd" + struct.pack(">H", o)
        if 0 <= o < 2**32:
            return b"\xce" + struct.pack(">I", o)
        if 0 <= o < 2**64:
            return b"\xcf" + struct.pack(">Q", o)
        return b"\xd3" + struct.pack(">q", o)
    if isinstance(o, str):
        b = o.encode()
        if len(b) < 32:
            return bytes([0xA0 | len(b)]) + b
        if len(b) < 256:
            return b"\xd9" + bytes([len(b)]) + b
        return b"\xda" + struct.pack(">H", len(b)) + b
    if isinstance(o, (bytes, bytearray)):
        n = len(o)
        if n < 256:
            return b"\xc4" + bytes([n]) + bytes(o)
        if n < 65536:
            return b"\xc5" + struct.pack(">H", n) + bytes(o)
        return b"\xc6" + struct.pack(">I", n) + bytes(o)
    if isinstance(o, dict):
        n = len(o)
        head = bytes([0x80 | n]) if n < 16 else b"\xde" + struct.pack(">H", n)
        return head + b"".join(mp_pack(k) + mp_pack(v) for k, v in o.items())
    if isinstance(o, (list, tuple)):
        n = len(o)
        head = bytes([0x90 | n]) if n < 16 else b"\xdc" + struct.pack(">H", n)
        return head + b"".join(mp_pack(v) for v in o)
    raise TypeError(type(o))


def mp_unpack(b, i=0):
    """-> (object, next index)"""
    t = b[i]
    i += 1
    if t < 0x80:
        return t, i
    if t >= 0xE0:
        return t - 256, i
    if 0x80 <= t <= 0x8F or t in (0xDE, 0xDF):
        if t <= 0x8F:
            n = t & 15
        elif t == 0xDE:
            n = struct.unpack_from(">H", b, i)[0]
            i += 2
        else:
            n = struct.unpack_from(">I", b, i)[0]
            i += 4
        d = {}
        for _ in range(n):
            k, i = mp_unpack(b, i)
            v, i = mp_unpack(b, i)
            d[k] = v
        return d, i
    if 0x90 <= t <= 0x9F:
        out = []
        for _ in range(t & 15):
            v, i = mp_unpack(b, i)
            out.append(v)
        return out, i
    if 0xA0 <= t <= 0xBF:
        n = t & 31
        return b[i:i + n].decode(), i + n
    if t == 0xC0:
        return None, i
    if t in (0xC2, 0xC3):
        return t == 0xC3, i
    if t in (0xC4, 0xC5, 0xC6, 0xD9, 0xDA, 0xDB):
        w = {0xC4: 1, 0xC5: 2, 0xC6: 4, 0xD9: 1, 0xDA: 2, 0xDB: 4}[t]
        n = int.from_bytes(b[i:i + w], "big")
        i += w
        v = bytes(b[i:i + n])
        return (v.decode() if t >= 0xD9 else v), i + n
    if t in (0xCC, 0xCD, 0xCE, 0xCF):
        w = {0xCC: 1, 0xCD: 2, 0xCE: 4, 0xCF: 8}[t]
        return int.from_bytes(b[i:i + w], "big"), i + w
    raise ValueError(f"unsupported msgpack byte {t:#x}")


HANDSHAKE, INITIATOR, DATA, TERMINATOR, WINDOW, PING, PONG, GOAWAY, ACK = (
    1, 2, 3, 4, 5, 6, 7, 8, 0xFF)
MESH_HELLO, PRESENCE = 9, 10


def msg(t, **kw):
    return bytes([t]) + mp_pack(kw)


def parse(m):
    obj, _ = mp_unpack(m, 1)
    return m[0], obj


# ---- a raw WebSocket client ------------------------------------------------


class RawWS:
    """Blocking RFC 6455 client: sends masked frames, reads whole messages."""

    def __init__(self, host, port, path="/tunnel", timeout=10, source=None, ssl_ctx=None):
        # source: a local address to connect from (any 127.x.y.z works on
        # loopback), to stand for another client host; ssl_ctx: wss
        self.s = socket.create_connection((host, port), timeout=timeout,
                                          source_address=(source, 0) if source else None)
        if ssl_ctx:
            self.s = ssl_ctx.wrap_socket(self.s, server_hostname=host)
        key = "dGhlIHNhbXBsZSBub25jZQ=="
        self.s.sendall((f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
                        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                        "Sec-WebSocket-Version: 13\r\n\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            c = self.s.recv(1)
            if not c:
                raise ConnectionError("closed during the upgrade")
            head += c
        self.status = int(head.split(b" ", 2)[1])
        self.buf = b""
        self.close_code = None
        self.close_reason = ""

    def frame(self, payload, opcode=2, fin=True):
        hdr = bytes([(0x80 if fin else 0) | opcode])
        n = len(payload)
        if n < 126:
            hdr += bytes([0x80 | n])
        elif n < 65536:
            hdr += bytes([0x80 | 126]) + struct.pack(">H", n)
        else:
            hdr += bytes([0x80 | 127]) + struct.pack(">Q", n)
        mask = os.urandom(4)
        body = bytes(b ^ mask[i % 4] for i, b in enumerate(payload)) if n < 4096 else \
            _mask_fast(payload, mask)
        return hdr + mask + body

    def send_frame(self, payload, opcode=2, fin=True):
        self.s.sendall(self.frame(payload, opcode, fin))

    def send(self, m):
        self.send_frame(m)

    def send_many(self, msgs):
        """Several messages in one write: the peer reads them together."""
        self.s.sendall(b"".join(self.frame(m) for m in msgs))

    def _need(self, n):
        while len(self.buf) < n:
            c = self.s.recv(65536)
            if not c:
                raise ConnectionError("connection closed")
            self.buf += c

    def recv(self, timeout=10):
        """Next data message (bytes); None once a close frame arrived."""
        self.s.settimeout(timeout)
        while True:
            self._need(2)
            op = self.buf[0] & 15
            n = self.buf[1] & 127
            off = 2
            if n == 126:
                self._need(4)
                n = struct.unpack_from(">H", self.buf, 2)[0]
                off = 4
            elif n == 127:
                self._need(10)
                n = struct.unpack_from(">Q", self.buf, 2)[0]
                off = 10
            self._need(off + n)
            payload = self.buf[off:off + n]
            self.buf = self.buf[off + n:]
            if op == 8:
                if len(payload) >= 2:
                    self.close_code = struct.unpack(">H", payload[:2])[0]
                    self.close_reason = payload[2:].decode(errors="replace")
                return None
            if op == 9:
                self.send_frame(payload, opcode=10)
                continue
            if op in (1, 2):
                return payload

    def recv_msg(self, timeout=10):
        m = self.recv(timeout)
        return None if m is None else parse(m)

    def close(self):
        try:
            self.s.close()
        except OSError:
            pass


def _mask_fast(payload, mask):
    n = len(payload)
    m = (mask * (n // 4 + 1))[:n]
    return (int.from_bytes(payload, "big") ^ int.from_bytes(m, "big")).to_bytes(n, "big")


# ---- TCP servers -------------------------------------------------------------


class Server:
    """A TCP server on 127.0.0.1:0 running `handler(conn)` per connection."""

    def __init__(self, handler):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(512)
        self.port = self.sock.getsockname()[1]
        self.handler = handler
        self.results = []
        self.conns = []
        self._stop = False
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()

    def _run(self):
        while not self._stop:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(c)
            threading.Thread(target=self._one, args=(c,), daemon=True).start()

    def _one(self, c):
        try:
            r = self.handler(c)
            if r is not None:
                self.results.append(r)
        except OSError as e:
            self.results.append(e)
        finally:
            try:
                c.close()
            except OSError:
                pass

    def close(self):
        self._stop = True
        self.sock.close()
        for c in self.conns:
            try:
                c.close()
            except OSError:
                pass


def echo_handler(c):
    while True:
        d = c.recv(65536)
        if not d:
            break
        c.sendall(d)
    c.shutdown(socket.SHUT_WR)


def sink_handler(c):
    """Read to EOF, answer the sha256 and byte count (half-close style)."""
    h = hashlib.sha256()
    n = 0
    while True:
        d = c.recv(1 << 20)
        if not d:
            break
        h.update(d)
        n += len(d)
    c.sendall(f"{h.hexdigest()} {n}\n".encode())
    c.shutdown(socket.SHUT_WR)
    return n


def source_handler(c):
    """Read 'N SEED\\n', send N deterministic bytes, then close."""
    line = b""
    while not line.endswith(b"\n"):
        d = c.recv(1)
        if not d:
            return None
        line += d
    n, seed = line.split()
    n = int(n)
    block = hashlib.sha256(seed).digest() * 2048  # 64 KiB
    sent = 0
    while sent < n:
        chunk = block[:min(len(block), n - sent)]
        c.sendall(chunk)
        sent += len(chunk)
    c.shutdown(socket.SHUT_WR)
    return sent


def source_digest(n, seed):
    block = hashlib.sha256(seed).digest() * 2048
    h = hashlib.sha256()
    sent = 0
    while sent < n:
        chunk = block[:min(len(block), n - sent)]
        h.update(chunk)
        sent += len(chunk)
    return h.hexdigest()


def read_all(s, limit=None):
    out = bytearray()
    while True:
        d = s.recv(1 << 20)
        if not d:
            return bytes(out)
        out += d
        if limit and len(out) >= limit:
            return bytes(out)


# ---- topology ----------------------------------------------------------------

_hash_cache = {}


def key_hash(key, iterations=1000):
    """PBKDF2 hash via `outpost gateway hash-key` (low iteration count by
    default: tests; the real default, 100000, where the cost matters)."""
    if (key, iterations) not in _hash_cache:
        r = subprocess.run([outpost_bin(), "gateway", "hash-key", "--iterations", str(iterations)],
                           input=key + "\n", capture_output=True, text=True, timeout=30)
        assert r.returncode == 0, r.stderr
        _hash_cache[(key, iterations)] = r.stdout.strip()
    return _hash_cache[(key, iterations)]


def start_gateway(outpost, tmp_path, agents, rules, extra=(), port=0, env=None):
    """agents: name -> key, or name -> (key, PBKDF2 iterations)."""
    args = ["gateway", "--listen", f"127.0.0.1:{port}", "--admin-listen", "127.0.0.1:0",
            "--insecure", "--data-dir", str(tmp_path / "gw"), "--api-token", "admintoken",
            "--open-timeout", "5s"]
    for name, key in agents.items():
        h = key_hash(*key) if isinstance(key, tuple) else key_hash(key)
        args += ["--agent", f"name={name} key-hash={h}"]
    for r in rules:
        args += ["--rule", r]
    return outpost(*args, *extra, env=env)


def start_agent(outpost, tmp_path, gw, name, key, forwards=(), allow=(), extra=(), ready=True,
                env=None):
    host, port = gw.addr()
    args = ["agent", "--gateway", f"ws://{host}:{port}/tunnel", "--insecure", "--name", name,
            "--key", key, "--listen", "127.0.0.1:0", "--data-dir", str(tmp_path / name),
            "--api-token", "agenttoken", "--reconnect-min", "100ms", "--reconnect-max", "1s"]
    for f in forwards:
        args += ["--forward", f]
    for a in allow:
        args += ["--allow", a]
    return outpost(*args, *extra, ready=ready, env=env)


def wait_connected(agent, start=0, timeout=15):
    return agent.wait_for(r"gateway_connected", timeout=timeout, start=start)


def forward_port(agent, local_port=None):
    """The bound port of the agent's first forward (from its log)."""
    m = agent.wait_for(r"forward_open forward=\d+ local=127\.0\.0\.1:(\d+)")
    return int(m.group(1))


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def connect_retry(port, timeout=10):
    """Connect to a forward and confirm the tunnel answers (echo round trip)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            s.sendall(b"ping")
            if s.recv(4) == b"ping":
                return s
            s.close()
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"forward on port {port} never carried a stream")
        time.sleep(0.05)


def transfer_to_sink(port, data, timeout=60):
    """Send data through a forward to a hashing sink: -> (sha256, n) it saw."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as c:
        view = memoryview(data)
        for i in range(0, len(data), 1 << 20):
            c.sendall(view[i:i + (1 << 20)])
        c.shutdown(socket.SHUT_WR)
        h, n = read_all(c).decode().split()
        return h, int(n)


# ---- the mesh ------------------------------------------------------------------

GW_AUTH = {"Authorization": "Bearer admintoken"}
AG_AUTH = {"Authorization": "Bearer agenttoken"}


class MeshPKI:
    """A gateway CA (`outpost certs root`) and one certificate per gateway
    (`outpost certs leaf --cn NAME --ip 127.0.0.1`), plus a rogue CA."""

    def __init__(self, d):
        self.d = d
        d.mkdir(parents=True, exist_ok=True)
        for name, org in (("mesh-root", "Mesh Root"), ("rogue", "Rogue Root")):
            r = run_outpost("certs", "root", "--out", str(d / name), "--subject-org-name", org)
            assert r.returncode == 0, r.stderr

    def leaf(self, name, ca="mesh-root", cn=None):
        out = self.d / name
        if not (self.d / f"{name}.pkeycert.pem").exists():
            r = run_outpost("certs", "leaf", "--out", str(out), "--cn", cn or name, "--ip",
                            "127.0.0.1", "--ca-cert", str(self.d / f"{ca}.cert.pem"),
                            "--ca-key", str(self.d / f"{ca}.key.pem"))
            assert r.returncode == 0, r.stderr
        return str(self.d / f"{name}.pkeycert.pem")

    @property
    def ca(self):
        return str(self.d / "mesh-root.cert.pem")

    def client_ctx(self, name):
        import ssl
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.load_verify_locations(self.ca)
        ctx.load_cert_chain(self.leaf(name))
        return ctx


def mesh_gateway(outpost, tmp_path, pki, name, agents, rules, mesh_port, peers=(), extra=(),
                 port=0, ready=True, cert=None, env=None):
    """A gateway of a mesh: agents over plain ws (as start_gateway), peers
    over wss with the gateway certificate `name` (or `cert`)."""
    args = ["gateway", "--listen", f"127.0.0.1:{port}", "--admin-listen", "127.0.0.1:0",
            "--insecure", "--data-dir", str(tmp_path / name), "--api-token", "admintoken",
            "--open-timeout", "5s", "--mesh-cert", pki.leaf(cert or name), "--mesh-ca", pki.ca,
            "--mesh-listen", f"127.0.0.1:{mesh_port}", "--mesh-keepalive", "1s"]
    for agent, key in agents.items():
        args += ["--agent", f"name={agent} key-hash={key_hash(key)}"]
    for r in rules:
        args += ["--rule", r]
    for p in peers:
        args += ["--peer", f"wss://127.0.0.1:{p}/mesh"]
    return outpost(*args, *extra, ready=ready, env=env)


def mesh_agent(outpost, tmp_path, gws, name, key, forwards=(), allow=(), extra=(), ready=True,
               env=None):
    """An agent with one or several gateways (failover in that order): daemons
    (their ws:// URL) or URLs."""
    args = ["agent", "--insecure", "--name", name, "--key", key, "--listen", "127.0.0.1:0",
            "--data-dir", str(tmp_path / name), "--api-token", "agenttoken",
            "--reconnect-min", "100ms", "--reconnect-max", "1s"]
    for g in gws:
        if isinstance(g, str):  # a URL as it is (a name to resolve, say)
            args += ["--gateway", g]
            continue
        host, port = g.addr()
        args += ["--gateway", f"ws://{host}:{port}/tunnel"]
    for f in forwards:
        args += ["--forward", f]
    for a in allow:
        args += ["--allow", a]
    return outpost(*args, *extra, ready=ready, env=env)


def small_quarantine():
    """Environment for daemons whose RSS a test measures: under ASan the
    allocator's quarantine of freed blocks is kept small, or it alone would
    show as growth (without ASan the variable is ignored)."""
    return {"ASAN_OPTIONS": os.environ.get("ASAN_OPTIONS", "") +
            ":quarantine_size_mb=4:thread_local_quarantine_size_kb=256"}


def api(d, path, auth=GW_AUTH, key="admin"):
    r = requests.get(d.url(key) + path, headers=auth, timeout=5)
    assert r.status_code == 200, r.text
    return r.json()


def routes(gw):
    """agent -> gateway, as this gateway's routing table has it."""
    return {r["agent"]: r["gateway"] for r in api(gw, "/api/routes")}


def wait_until(pred, timeout=15, what="condition", step=0.05):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = pred()
            if last:
                return last
        except (OSError, AssertionError, requests.RequestException) as e:
            last = e
        time.sleep(step)
    raise AssertionError(f"timed out waiting for {what} (last: {last!r})")


def add_forward(agent, remote, gateway, ip="127.0.0.1", local=0):
    r = requests.post(agent.url() + "/api/forwards", headers=AG_AUTH, timeout=5,
                      json={"local": local, "gateway": gateway, "ip": ip, "remote": remote})
    assert r.status_code == 201, r.text
    return int(r.json()["local"].rsplit(":", 1)[1])


def pss_kb(pid):
    """Proportional set size: RSS without counting shared pages twice."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return rss_kb(pid)


# ---- a SOCKS5 client ------------------------------------------------------------


def socks_connect(port, host, dport, user=None, password=None, timeout=10):
    """A SOCKS5 CONNECT through 127.0.0.1:port -> (socket or None, reply code).
    host: an IPv4 literal is sent as one, anything else as a domain name."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.sendall(b"\x05\x01" + (b"\x02" if user else b"\x00"))
    ver, method = _recv_exact(s, 2)
    assert ver == 5, ver
    if method == 0xFF:
        s.close()
        return None, "no acceptable method"
    if method == 2:
        u, p = user.encode(), password.encode()
        s.sendall(b"\x01" + bytes([len(u)]) + u + bytes([len(p)]) + p)
        _, status = _recv_exact(s, 2)
        if status != 0:
            s.close()
            return None, "authentication failed"
    try:
        addr = b"\x01" + socket.inet_aton(host)
    except OSError:
        addr = b"\x03" + bytes([len(host)]) + host.encode()
    s.sendall(b"\x05\x01\x00" + addr + struct.pack(">H", dport))
    head = _recv_exact(s, 4)
    assert head[0] == 5, head
    rep, atyp = head[1], head[3]
    _recv_exact(s, {1: 4, 4: 16}.get(atyp, 0) + 2)
    if rep != 0:
        s.close()
        return None, rep
    return s, 0


def _recv_exact(s, n):
    out = b""
    while len(out) < n:
        d = s.recv(n - len(out))
        if not d:
            raise ConnectionError(f"closed after {len(out)} of {n} bytes")
        out += d
    return out


# ---- logins by hand ------------------------------------------------------------


def try_login(gw, name, key, source=None, version=1, timeout=10):
    """One login attempt: -> (ack dict or None, close code or None, close reason).
    A successful login is left open (ack["ws"] holds it); others are closed."""
    ws = RawWS(*gw.addr(), timeout=timeout, source=source)
    assert ws.status == 101
    ws.send(msg(HANDSHAKE, Name=name, Key=key, Version=version))
    ack = None
    try:
        m = ws.recv(timeout)
        if m is not None:
            t, ack = parse(m)
            assert t == ACK, (t, ack)
            if ack["Ok"]:
                ack["ws"] = ws
                return ack, None, ""
            while ws.recv(timeout) is not None:
                pass
    except ConnectionError:
        pass
    ws.close()
    return ack, ws.close_code, ws.close_reason


class LoginFlood:
    """`n` threads logging in over and over with a wrong key from `source`,
    each starting again as soon as the gateway answered: outcomes counted by
    close code ("ack" for Ack{Ok:false}).

    The threads run in a child process (they do not compete for the GIL
    with the test's log readers). A thread refused for a lock-out (4429)
    pauses 20 ms before trying again: those refusals cost the gateway next to
    nothing, but a Python process spinning on them would take the CPU the
    agent under test needs, and on a real network the attacker's CPU is not
    the gateway's."""

    def __init__(self, gw, n=8, source="127.0.0.2", name="a", key="wrong-key"):
        host, port = gw.addr()
        self.counts = {}
        self.lock = threading.Lock()
        self.proc = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "flood", host, str(port), str(n),
             source, name, key], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.proc.stdout:
            c = {(int(k) if k.isdigit() else k): v for k, v in json.loads(line).items()}
            with self.lock:
                self.counts = c

    def total(self, what):
        with self.lock:
            return self.counts.get(what, 0)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.stdin.close()  # the child's signal to stop
        self.proc.wait(30)
        self.reader.join(10)


def _flood_main(host, port, n, source, name, key):
    class GW:
        def addr(self):
            return host, int(port)
    counts, lock, stop_ev = {}, threading.Lock(), threading.Event()

    def note(what):
        with lock:
            counts[str(what)] = counts.get(str(what), 0) + 1

    def run():
        while not stop_ev.is_set():
            try:
                ack, code, _ = try_login(GW(), name, key, source=source)
                if ack is not None:
                    note("ack")
                note(code)
                if code == 4429:
                    time.sleep(0.02)
            except (OSError, AssertionError):
                note("error")
                time.sleep(0.01)

    threads = [threading.Thread(target=run, daemon=True) for _ in range(int(n))]
    for t in threads:
        t.start()

    def report():
        with lock:
            sys.stdout.write(json.dumps(counts) + "\n")
        sys.stdout.flush()

    def watch_stdin():
        sys.stdin.read()
        stop_ev.set()
    threading.Thread(target=watch_stdin, daemon=True).start()
    while not stop_ev.wait(0.1):
        report()
    for t in threads:
        t.join(15)
    report()


if __name__ == "__main__" and len(sys.argv) == 8 and sys.argv[1] == "flood":
    _flood_main(*sys.argv[2:])
