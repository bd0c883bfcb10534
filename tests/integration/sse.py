"""A small Server-Sent Events reader over a raw socket (HTTP/1.1, chunked),
for the ACS's GET /api/events: events() yields {"id", "event", "data"} with
data parsed from JSON; comments (heartbeats) are kept in .comments."""
import json
import socket
import time


class SSE:
    def __init__(self, addr, path, token=None, headers=None, timeout=10.0, rcvbuf=None):
        self.s = socket.socket()
        if rcvbuf:
            self.s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.s.settimeout(timeout)
        self.s.connect(addr)
        h = {"Host": "x", "Accept": "text/event-stream"}
        if token:
            h["Authorization"] = f"Bearer {token}"
        h.update(headers or {})
        req = f"GET {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in h.items()) + "\r\n"
        self.s.sendall(req.encode())
        self.raw = b""
        self.body = b""
        self.status = None
        self.headers = {}
        self.comments = []
        self.closed = False
        self._chunked = False

    def head(self):
        while b"\r\n\r\n" not in self.raw:
            self._recv_raw()
        head, self.raw = self.raw.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        self.status = int(lines[0].split()[1])
        for line in lines[1:]:
            k, _, v = line.partition(":")
            self.headers[k.strip().lower()] = v.strip()
        self._chunked = self.headers.get("transfer-encoding", "").lower() == "chunked"
        return self.status

    def _recv_raw(self):
        d = self.s.recv(65536)
        if not d:
            self.closed = True
            raise EOFError("connection closed")
        self.raw += d

    def _more_body(self):
        """Move at least one more body byte from raw into body."""
        if not self._chunked:
            if not self.raw:
                self._recv_raw()
            self.body += self.raw
            self.raw = b""
            return
        while True:
            if b"\r\n" in self.raw:
                size_line, rest = self.raw.split(b"\r\n", 1)
                size = int(size_line.split(b";")[0], 16)
                if size == 0:
                    self.closed = True
                    raise EOFError("stream ended")
                if len(rest) >= size + 2:
                    self.body += rest[:size]
                    self.raw = rest[size + 2:]
                    return
            self._recv_raw()

    def next_event(self, timeout=10.0):
        """The next event (comments are collected, not returned)."""
        deadline = time.monotonic() + timeout
        while True:
            while b"\n\n" in self.body:
                block, self.body = self.body.split(b"\n\n", 1)
                ev = {"event": "message", "data": [], "id": None}
                for line in block.decode().split("\n"):
                    if line.startswith(":"):
                        self.comments.append(line[1:].strip())
                        continue
                    k, _, v = line.partition(":")
                    v = v[1:] if v.startswith(" ") else v
                    if k == "data":
                        ev["data"].append(v)
                    elif k in ("event", "id", "retry"):
                        ev[k] = v
                if ev["data"]:
                    ev["data"] = json.loads("\n".join(ev["data"]))
                    return ev
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no event")
            self.s.settimeout(left)
            self._more_body()

    def events_until(self, pred, timeout=20.0):
        """Events up to and including the first for which pred(ev) is true."""
        out = []
        deadline = time.monotonic() + timeout
        while True:
            ev = self.next_event(max(0.1, deadline - time.monotonic()))
            out.append(ev)
            if pred(ev):
                return out

    def close(self):
        self.s.close()
