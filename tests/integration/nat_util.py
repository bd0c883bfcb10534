"""STUN (RFC 5389, TR-111) and UDP connection request (TR-069 Annex G)
messages built in Python, independently of the C codec, for the NAT tests."""
import hashlib
import hmac
import os
import socket
import struct
import time
import zlib
from urllib.parse import quote

MAGIC = 0x2112A442
CRB = (0xC001, b"dslforum.org/TR-111 ")


def attr(t, v):
    return struct.pack(">HH", t, len(v)) + v + b"\0" * ((-len(v)) % 4)


def stun_msg(mtype, attrs, tid=None, key=None, fingerprint=True):
    """A STUN message; key: add MESSAGE-INTEGRITY with it."""
    tid = tid or os.urandom(12)
    body = b"".join(attr(t, v) for t, v in attrs)
    if key is not None:
        head = struct.pack(">HHI", mtype, len(body) + 24, MAGIC) + tid
        body += attr(0x0008, hmac.new(key.encode(), head + body, hashlib.sha1).digest())
    if fingerprint:
        head = struct.pack(">HHI", mtype, len(body) + 8, MAGIC) + tid
        fp = (zlib.crc32(head + body) ^ 0x5354554E) & 0xFFFFFFFF
        body += attr(0x8028, struct.pack(">I", fp))
    return struct.pack(">HHI", mtype, len(body), MAGIC) + tid + body


def binding_request(username=None, crb=True, change=False, key=None, extra=()):
    attrs = [CRB] if crb else []
    if change:
        attrs.append((0xC002, b""))
    if username:
        attrs.append((0x0006, username.encode()))
    attrs.extend(extra)
    return stun_msg(0x0001, attrs, key=key)


def parse_stun(data):
    """(type, tid, {attr type: value}) with XOR-MAPPED-ADDRESS decoded as
    ("ip", port) under 'xor'."""
    mtype, length, magic = struct.unpack(">HHI", data[:8])
    assert magic == MAGIC and length + 20 == len(data)
    tid = data[8:20]
    attrs = {}
    off = 20
    while off < len(data):
        t, n = struct.unpack(">HH", data[off:off + 4])
        attrs[t] = data[off + 4:off + 4 + n]
        off += 4 + n + ((-n) % 4)
    if 0x0020 in attrs:
        v = attrs[0x0020]
        port = struct.unpack(">H", v[2:4])[0] ^ (MAGIC >> 16)
        ip = bytes(a ^ b for a, b in zip(v[4:8], struct.pack(">I", MAGIC)))
        attrs["xor"] = (socket.inet_ntoa(ip), port)
    if 0x0009 in attrs:
        v = attrs[0x0009]
        attrs["error"] = (v[2] & 7) * 100 + v[3]
    return mtype, tid, attrs


def udp_cr(hostport, user, password, ts=None, msg_id=None, cn=None):
    """The Annex G message: sig = HMAC-SHA1(password, ts id un cn), hex."""
    ts = int(time.time()) if ts is None else ts
    msg_id = int.from_bytes(os.urandom(4), "big") if msg_id is None else msg_id
    cn = cn or os.urandom(8).hex()
    sig = hmac.new(password.encode(), f"{ts}{msg_id}{user}{cn}".encode(), hashlib.sha1).hexdigest()
    return (f"GET http://{hostport}?ts={ts}&id={msg_id}&un={quote(user, safe='')}&cn={cn}&sig={sig} "
            f"HTTP/1.1\r\nHost: {hostport}\r\n\r\n").encode()


def metric(text, name, labels=""):
    """The value of one series in Prometheus text (0 when absent)."""
    want = name + ("{" + labels + "}" if labels else "")
    for line in text.splitlines():
        if line.startswith(want + " "):
            return float(line.split()[-1])
    return 0.0
