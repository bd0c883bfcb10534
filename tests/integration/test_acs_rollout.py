"""outpost acs: a firmware rollout end to end, with cpe-sim.

One stored firmware file goes to 200 simulated CPEs as one bulk `download`
naming it, with at most 20 tasks in flight. The CPEs fetch the file from the
ACS's /files/ through a small HTTP-aware TCP relay in this test (the ACS's
--cwmp-url points there), which counts the downloads in progress at every
moment and breaks one response off in the middle of its second 1 MiB range:

* the cap holds where it matters, at the file server: never more than 20
  downloads at once (and more than one: it is a rollout, not a queue);
* the CPE whose transfer broke resumes it with `Range` from the first byte
  it had not counted, and finishes with the whole file;
* every task ends `done` after its CPE's reboot and TransferComplete; every
  CPE counted the file's exact size;
* the bulk's end reaches a webhook receiver as a signed `bulk.finished`;
* a bulk download naming a file the store does not have is a 422 naming
  `task`, and makes no task.
"""
import socket
import threading
import time

import requests

from test_acs_bulk import Api, counts_add_up
from test_acs_webhooks import Receiver, hook, verify

TOKEN = "bulk-test-token"  # test_acs_bulk's Api sends it
CHUNK = 1 << 20            # cpe-sim's Range requests


class FileRelay:
    """Relays HTTP/1.1 between CPEs and the ACS's CWMP listener; follows
    requests and responses (Content-Length bodies) to know how many GETs of
    /files/ are being answered at once; cuts the first response to a GET
    whose range starts at `cut_from` after `cut_after` body bytes."""

    def __init__(self, upstream, cut_from, cut_after):
        self.upstream = upstream
        self.cut_from, self.cut_after = cut_from, cut_after
        self.lock = threading.Lock()
        self.active = self.max_active = 0
        self.ranges = []   # the Range header of every GET of /files/, in order
        self.cut = False
        self.srv = socket.create_server(("127.0.0.1", 0))
        self.port = self.srv.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                c, _ = self.srv.accept()
            except OSError:
                return
            u = socket.create_connection(self.upstream)
            pending = []   # per connection: the Range of each request sent up, in order
            threading.Thread(target=self._up, args=(c, u, pending), daemon=True).start()
            threading.Thread(target=self._down, args=(u, c, pending), daemon=True).start()

    def _up(self, c, u, pending):
        buf = b""
        try:
            while True:
                data = c.recv(65536)
                if not data:
                    break
                buf += data
                while b"\r\n\r\n" in buf:   # CPEs send GETs: no request body
                    head, buf = buf.split(b"\r\n\r\n", 1)
                    lines = head.decode("latin-1").split("\r\n")
                    rng = next((l.split(":", 1)[1].strip() for l in lines[1:]
                                if l.lower().startswith("range:")), "")
                    is_file = lines[0].startswith("GET /files/")
                    with self.lock:
                        pending.append(rng if is_file else None)
                        if is_file:
                            self.ranges.append(rng)
                            self.active += 1
                            self.max_active = max(self.max_active, self.active)
                u.sendall(data)
        except OSError:
            pass
        finally:
            for s in (c, u):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def _down(self, u, c, pending):
        buf = b""
        try:
            while True:
                while b"\r\n\r\n" not in buf:
                    data = u.recv(65536)
                    if not data:
                        return
                    buf += data
                head, buf = buf.split(b"\r\n\r\n", 1)
                length = next(int(l.split(b":", 1)[1]) for l in head.split(b"\r\n")[1:]
                              if l.lower().startswith(b"content-length:"))
                with self.lock:
                    rng = pending.pop(0) if pending else None
                    cut = (rng is not None and not self.cut
                           and rng.startswith("bytes=%d-" % self.cut_from))
                    self.cut = self.cut or cut
                c.sendall(head + b"\r\n\r\n")
                left = length
                while left > 0:
                    if not buf:
                        buf = u.recv(65536)
                        if not buf:
                            return
                    piece, buf = buf[:left], buf[left:]
                    if cut and length - left + len(piece) > self.cut_after:
                        c.sendall(piece[:self.cut_after - (length - left)])
                        return   # the connection breaks mid-body
                    c.sendall(piece)
                    left -= len(piece)
                if rng is not None:
                    with self.lock:
                        self.active -= 1
        except OSError:
            pass
        finally:
            if rng is not None and left:
                with self.lock:
                    self.active -= 1
            for s in (c, u):   # shutdown first: the other thread may be in recv()
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()

    def close(self):
        self.srv.close()


def test_firmware_rollout_to_200_cpes(outpost, tmp_path):
    n, cap = 200, 20
    size = CHUNK + 51_424   # two ranges
    rcv = Receiver()
    probe = socket.create_server(("127.0.0.1", 0))   # a free port for the CWMP listener
    host, port = probe.getsockname()
    probe.close()
    relay = FileRelay((host, port), cut_from=CHUNK, cut_after=20_000)
    acs = outpost("acs", "--cwmp-listen", "%s:%d" % (host, port), "--api-listen", "127.0.0.1:0",
                  "--data-dir", str(tmp_path / "acs"), "--api-token", TOKEN, "--cpe-auth", "none",
                  "--cr-deny", "169.254.0.0/16", "--cr-username", "cr", "--cr-password", "cr-pw",
                  "--bulk-cr-rate", "200", *hook(rcv.url, "events=bulk.finished"),
                  "--cwmp-url", "http://127.0.0.1:%d" % relay.port)
    sim = outpost("cpe-sim", "--acs", "http://%s:%d/" % (host, port), "--count", str(n),
                  "--cr-listen", "127.0.0.1:0", "--stats-interval", "0", "--reboot-time", "200ms",
                  "--cr-username", "cr", "--cr-password", "cr-pw")
    api = Api(acs)
    try:
        api.until("/api/devices?limit=1000", lambda v: len(v) == n, timeout=120)
        api.until("/api/stats", lambda v: v["pending_tasks"] == 0 and v["sent_tasks"] == 0
                  and v["live_sessions"] == 0, timeout=60)
        fw = bytes((i * 13) & 0xFF for i in range(size))
        r = api.s.put(api.base + "/api/files/fw-4.0.bin", data=fw, timeout=60,
                      params={"file_type": "1 Firmware Upgrade Image", "version": "4.0"})
        assert r.status_code == 201, r.text

        # a file the store does not have: refused whole, no task made
        r = api.post("/api/tasks", {"filter": "serial^=SIM",
                                    "task": {"type": "download", "parameters": {"file": "nope.bin"}}})
        assert r.status_code == 422, r.text
        assert r.json()["error"] == "invalid_task" and r.json()["field"] == "task"
        assert "nope.bin" in r.json()["message"]
        assert api.get("/api/stats")["pending_tasks"] == 0

        r = api.post("/api/tasks", {"filter": "serial^=SIM",
                                    "task": {"type": "download", "parameters": {"file": "fw-4.0.bin"}},
                                    "max_in_flight": cap})
        assert r.status_code == 201, r.text
        b = r.json()
        assert b["total"] == n
        seen = []
        b = api.until("/api/bulk/%d" % b["id"], lambda v: v["state"] != "running",
                      timeout=180, seen=seen)
        assert b["state"] == "done", b
        assert b["counts"]["done"] == n and b["failed_tasks"] == [], b
        for v in seen:
            assert counts_add_up(v), v
            assert v["counts"]["in_flight"] <= cap, v
        # at the file server: never more than the cap at once, and in parallel
        assert 1 < relay.max_active <= cap, relay.max_active
        # every CPE counted the whole file; one of them resumed its broken range
        done = [l for l in sim.lines if "download_done" in l and "fault=0" in l]
        assert len(done) == n and all("bytes=%d" % size in l for l in done), done[:3]
        resumed = [l for l in sim.lines if "download_resumed" in l]
        assert relay.cut and len(resumed) == 1 and "from=%d" % CHUNK in resumed[0], resumed
        # the second range was asked for once per CPE, and once more by the one resuming
        second = [x for x in relay.ranges if x.startswith("bytes=%d-" % CHUNK)]
        assert len(second) == n + 1, len(second)
        # the end of the bulk, signed, at the receiver
        got = rcv.wait(lambda g: any(Receiver.event(x) == "bulk.finished" for x in g), timeout=30)
        ev = verify([x for x in got if Receiver.event(x) == "bulk.finished"][0])
        assert ev["data"]["bulk"] == b["id"] and ev["data"]["state"] == "done", ev
    finally:
        relay.close()
        rcv.close()
