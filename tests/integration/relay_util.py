"""Helpers for the relay integration tests: a PKI made by `outpost certs`, TLS
contexts for independent python-websockets peers, HELLO messages, the relay's
admin endpoints and a raw WebSocket client (for peers that misbehave in ways
python-websockets will not: never answering pings, never reading)."""
import base64
import json
import os
import socket
import ssl
import struct
import urllib.request
from pathlib import Path

from conftest import run_outpost

PREFIX = "/micronets/v1/ws-proxy/"
TOKEN = "relay-test-token"


class PKI:
    """root CA, the relay's certificate, peers gw-0001 / gw-0002 / manager, and a rogue CA."""

    def __init__(self, d: Path):
        self.d = d
        d.mkdir(parents=True, exist_ok=True)
        self._root("root", "Outpost Test Root")
        self._root("rogue", "Rogue Root")
        self.leaf("relay", "root", "--dns", "localhost", "--ip", "127.0.0.1")
        self.leaf("gw-0001", "root", "--subject-org-name", "Gateways")
        self.leaf("gw-0002", "root", "--subject-org-name", "Gateways")
        self.leaf("manager", "root", "--subject-org-name", "Managers")
        self.leaf("intruder", "rogue", "--subject-org-name", "Managers")

    def _root(self, name, org):
        r = run_outpost("certs", "root", "--out", str(self.d / name), "--subject-org-name", org)
        assert r.returncode == 0, r.stderr

    def leaf(self, name, ca, *extra):
        r = run_outpost("certs", "leaf", "--out", str(self.d / name), "--ca-cert", self.cert(ca),
                        "--ca-key", str(self.d / f"{ca}.key.pem"), *extra)
        assert r.returncode == 0, r.stderr

    def cert(self, name):
        return str(self.d / f"{name}.cert.pem")

    def pkeycert(self, name):
        return str(self.d / f"{name}.pkeycert.pem")

    def fingerprint(self, name):
        out = os.popen(f"openssl x509 -in {self.cert(name)} -noout -fingerprint -sha256").read()
        return out.strip().split("=", 1)[1].replace(":", "").lower()

    def client_ctx(self, name=None, ca="root"):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.load_verify_locations(self.cert(ca))
        if name:
            ctx.load_cert_chain(self.pkeycert(name))
        return ctx

    def relay_args(self):
        return ["--tls-cert", self.pkeycert("relay"), "--tls-ca", self.cert("root")]


def start_relay(outpost, pki, *extra, tls=True):
    args = ["relay", "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0", "--api-token", TOKEN]
    if tls:
        args += pki.relay_args()
    return outpost(*args, *extra)


def ws_url(relay, meeting, scheme="wss"):
    host, port = relay.addr()
    return f"{scheme}://{host}:{port}{PREFIX}{meeting}"


def hello(peer_class, peer_id, mid=0):
    return json.dumps({"message": {"messageId": mid, "messageType": "CONN:HELLO", "requiresResponse": False,
                                   "peerClass": peer_class, "peerId": peer_id}})


def admin_get(relay, path, token=TOKEN):
    host, port = relay.addr("admin")
    req = urllib.request.Request(f"http://{host}:{port}{path}")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(req, timeout=10) as r:
        body = r.read()
        return json.loads(body) if path == "/status" else body.decode()


def metric(relay, name, labels=""):
    """One sample of /metrics, e.g. metric(r, "outpost_relay_paths", '{state="paired"}')."""
    for line in admin_get(relay, "/metrics").splitlines():
        if line.startswith("#"):
            continue
        key, value = line.rsplit(" ", 1)
        if key == name + labels:
            return float(value)
    raise KeyError(name + labels)


def peer_status(relay, meeting):
    for p in admin_get(relay, "/status")["paths"]:
        if p["path"] == meeting:
            return p
    return None


class RawWS:
    """A minimal blocking WebSocket client over TLS that only does what it is told:
    it never answers pings and reads only when asked."""

    def __init__(self, relay, meeting, ctx, timeout=10):
        host, port = relay.addr()
        raw = socket.create_connection((host, port), timeout=timeout)
        self.s = ctx.wrap_socket(raw, server_hostname=host)
        key = base64.b64encode(os.urandom(16)).decode()
        self.s.sendall((f"GET {PREFIX}{meeting} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
                        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                        "Sec-WebSocket-Version: 13\r\n\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.s.recv(1)
            if not chunk:
                raise ConnectionError("closed during the upgrade")
            head += chunk
        self.status = int(head.split(b" ", 2)[1])

    def send_text(self, text):
        payload = text.encode()
        mask = os.urandom(4)
        n = len(payload)
        if n < 126:
            hdr = struct.pack("!BB", 0x81, 0x80 | n)
        elif n < 65536:
            hdr = struct.pack("!BBH", 0x81, 0x80 | 126, n)
        else:
            hdr = struct.pack("!BBQ", 0x81, 0x80 | 127, n)
        self.s.sendall(hdr + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))

    def read_until_closed(self, timeout=10):
        """Read frames until the connection ends; returns the list of (opcode, payload)."""
        self.s.settimeout(timeout)
        frames, buf = [], b""
        try:
            while True:
                chunk = self.s.recv(65536)
                if not chunk:
                    break
                buf += chunk
                while len(buf) >= 2:
                    op, ln = buf[0] & 0x0F, buf[1] & 0x7F
                    off = 2
                    if ln == 126:
                        ln, off = struct.unpack("!H", buf[2:4])[0], 4
                    elif ln == 127:
                        ln, off = struct.unpack("!Q", buf[2:10])[0], 10
                    if len(buf) < off + ln:
                        break
                    frames.append((op, buf[off:off + ln]))
                    buf = buf[off + ln:]
        except (ConnectionError, ssl.SSLError, OSError):
            pass
        return frames

    def close(self):
        try:
            self.s.close()
        except OSError:
            pass
