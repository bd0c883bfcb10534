"""The file store of several `outpost acs` nodes on one PostgreSQL store
(docs/files.md "Several nodes"): the database holds each file's bytes,
each node's DATA_DIR/files/.cache/ copies of them (named by SHA-256).

- a file PUT through node A is served by node B byte for byte (GET, one
  Range, HEAD with the ETag, If-None-Match): B fetched it once (metrics);
- many GETs at once of a file B has no copy of: one fetch, the others wait;
- a new version PUT through B is what A serves next; DELETE through A: B
  answers 404, and B's copy goes with its sweep (its start's, here);
- a download task queued through A for a cpe-sim CPE whose sessions run on
  B completes (B serves the file from its copy); the CPE's upload through B
  is read through A's API, and B's upload URL is A's too (one shared key);
- bytes missing from the database: 503 with Retry-After, logged once; the
  node that still has the file from before (DATA_DIR/files/NAME, as an older
  version kept it) shares it at its start's sweep, and B serves it;
- a node stopped while it fetches exits cleanly, its requests answered;
- --file-cache-size: B's cache stays under the cap, the least recently used
  copy goes first (one log line each, the metrics count them), an evicted
  file is fetched again byte for byte, a copy being downloaded is not
  removed under its download, and one larger than the cap is served whole,
  then dropped;
- outpost_acs_file_cache_bytes is what the cache takes on disk at any
  moment: a copy replaced, then deleted, under a slow download still counts
  until that download ends; otherwise it is off the count as soon as the
  replacement or delete answers; and off the count as soon as its last
  download ends, even while the transfers are busy (a store held up);
- a FIFO in the cache named like a file's copy: the download gets the real
  bytes at once (logged once, the FIFO replaced by the fetched copy), the
  node carries on.

Skipped without the PostgreSQL binaries."""
import hashlib
import os
import re
import socket
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import quote

import pytest
import requests

import prom
from acs_api import AcsApi

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import pg_server  # noqa: E402 pylint: disable=wrong-import-position

TOKEN = "files-cluster-token"
DEV = quote("ACDE48-OP%2D1000-SIM000001", safe="")


class Api(AcsApi):
    def __init__(self, d):
        super().__init__(d, TOKEN)
        self.d = d

    def put(self, name, data, status=(201, 200)):
        r = self.s.put(self.base + "/api/files/" + name, data=data, timeout=120)
        assert r.status_code in status, r.text
        return r.json()

    def metrics(self):
        r = requests.get(self.d.url("admin") + "/metrics", timeout=10,
                         headers={"Authorization": "Bearer " + TOKEN})
        assert r.status_code == 200, r.text
        return prom.parse(r.text)


def fetches(api, outcome="ok"):
    return api.metrics()[("outpost_acs_file_fetches_total", (("outcome", outcome),))]


def metric(api, name):
    return api.metrics()[(name, ())]


def blob(n, seed):
    out = bytearray()
    h = hashlib.sha256(b"%d" % seed).digest()
    while len(out) < n:
        h = hashlib.sha256(h).digest()
        out += h * 64
    return bytes(out[:n])


def node(outpost, tmp_path, db, name, max_size="16MiB", *extra):
    return outpost("acs", *extra, "--cwmp-listen", "127.0.0.1:0", "--api-listen", "127.0.0.1:0",
                   "--data-dir", str(tmp_path / name), "--api-token", TOKEN, "--db", db,
                   "--node-id", name, "--cpe-password", "cpe-pw", "--max-file-size", max_size,
                   "--cr-username", "cr", "--cr-password", "cr-pw", "--rediscover=false",
                   "--cr-deny", "169.254.0.0/16")  # cpe-sim's connection requests are on loopback


def cache(tmp_path, name):
    d = tmp_path / name / "files" / ".cache"
    return sorted(os.listdir(d)) if d.exists() else []


def cache_bytes(tmp_path, name):
    d = tmp_path / name / "files" / ".cache"
    return sum((d / n).stat().st_size for n in os.listdir(d) if len(n) == 64)


def sha(data):
    return hashlib.sha256(data).hexdigest()


def test_files_shared_between_nodes(outpost, tmp_path, pg_dir):
    db = pg_server.url(pg_dir)
    a, b = node(outpost, tmp_path, db, "node-a"), node(outpost, tmp_path, db, "node-b")
    api_a, api_b = Api(a), Api(b)
    files_b = b.url("listen") + "/files/"
    psql = [pg_server.psql(), "-X", "-q", "-A", "-t", "-d", db, "-c"]
    # each node's transfers have a connection of their own, named for pg_stat_activity
    n = subprocess.run(psql + ["SELECT count(*) FROM pg_stat_activity"
                               " WHERE application_name = 'outpost-files'"],
                       check=True, capture_output=True, text=True).stdout.strip()
    assert n == "2", n

    # ---- a file PUT through A, served by B ----
    data = blob(5 * 1024 * 1024, 1)
    f = api_a.put("fw-1.bin", data)
    assert f["sha256"] == sha(data) and f["url"] == a.url("listen") + "/files/fw-1.bin"
    assert cache(tmp_path, "node-a") == [sha(data)] and cache(tmp_path, "node-b") == []
    assert fetches(api_b) == 0
    r = requests.get(files_b + "fw-1.bin", timeout=60)
    assert r.status_code == 200 and r.content == data
    etag = '"%s"' % sha(data)
    assert r.headers["ETag"] == etag
    b.wait_for(r"file_fetched name=fw-1.bin sha256=%s bytes=%d " % (sha(data), len(data)))
    assert fetches(api_b) == 1 and metric(api_b, "outpost_acs_file_fetch_bytes_total") == len(data)
    assert cache(tmp_path, "node-b") == [sha(data)]
    r = requests.get(files_b + "fw-1.bin", headers={"Range": "bytes=1000000-1999999"}, timeout=30)
    assert r.status_code == 206 and r.content == data[1000000:2000000]
    assert r.headers["Content-Range"] == "bytes 1000000-1999999/%d" % len(data)
    r = requests.head(files_b + "fw-1.bin", timeout=30)
    assert r.status_code == 200 and r.headers["ETag"] == etag
    assert int(r.headers["Content-Length"]) == len(data)
    r = requests.get(files_b + "fw-1.bin", headers={"If-None-Match": etag}, timeout=30)
    assert r.status_code == 304
    r = api_b.s.get(api_b.base + "/api/files/fw-1.bin/content", timeout=30)
    assert r.status_code == 200 and r.content == data
    assert fetches(api_b) == 1  # served from its copy since

    # ---- many GETs at once of a file B has no copy of: one fetch ----
    data2 = blob(12 * 1024 * 1024, 2)
    api_a.put("fw-2.bin", data2)
    waits0 = metric(api_b, "outpost_acs_file_fetch_waits_total")
    go = threading.Barrier(8)
    got = []

    def fetch_one():
        go.wait()
        got.append(requests.get(files_b + "fw-2.bin", timeout=60))
    threads = [threading.Thread(target=fetch_one) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [x.status_code for x in got] == [200] * 8 and all(x.content == data2 for x in got)
    assert fetches(api_b) == 2, b.output()[-3000:]
    assert len([x for x in b.lines if "file_fetched name=fw-2.bin" in x]) == 1
    print("requests that waited for the one fetch:", metric(api_b, "outpost_acs_file_fetch_waits_total") - waits0)

    # ---- a new version through B: A serves it; B's old copy goes at once ----
    data3 = blob(3 * 1024 * 1024 + 7, 3)
    assert api_b.put("fw-1.bin", data3)["sha256"] == sha(data3)
    assert sha(data) not in cache(tmp_path, "node-b") and sha(data3) in cache(tmp_path, "node-b")
    r = requests.get(a.url("listen") + "/files/fw-1.bin", timeout=60)
    assert r.status_code == 200 and r.content == data3 and r.headers["ETag"] == '"%s"' % sha(data3)
    a.wait_for(r"file_fetched name=fw-1.bin sha256=%s " % sha(data3))

    # ---- DELETE through A: B answers 404; B's copy goes with its sweep ----
    assert api_a.s.delete(api_a.base + "/api/files/fw-2.bin", timeout=30).status_code == 204
    assert sha(data2) not in cache(tmp_path, "node-a")  # the deleting node's at once
    assert requests.get(files_b + "fw-2.bin", timeout=30).status_code == 404
    assert api_b.s.get(api_b.base + "/api/files/fw-2.bin/content", timeout=30).status_code == 404
    # B's sweep runs at its start, then every minute: unless a minute's sweep
    # has already removed the copy (a slow run, e.g. under ASan), a restart's does
    swept = r"files_cache_swept removed=1 files=1"
    already = any(re.search(swept, x) for x in b.lines)
    assert already or sha(data2) in cache(tmp_path, "node-b")
    b.stop()
    already = already or any(re.search(swept, x) for x in b.lines)
    b = node(outpost, tmp_path, db, "node-b")
    api_b = Api(b)
    files_b = b.url("listen") + "/files/"
    if not already:
        b.wait_for(swept)
    assert cache(tmp_path, "node-b") == [sha(data3)]

    # ---- a download task queued through A, the CPE's sessions on B ----
    fw = blob(1_500_000, 4)  # two of cpe-sim's 1 MiB ranges
    api_a.put("fw-3.bin", fw)
    sim = outpost("cpe-sim", "--acs", b.url("listen") + "/", "--count", "1",
                  "--cr-listen", "127.0.0.1:0", "--stats-interval", "0", "--reboot-time", "200ms",
                  "--username", "cpe", "--password", "cpe-pw", "--cr-username", "cr",
                  "--cr-password", "cr-pw")
    api_a.until("/api/devices", lambda v: len(v) == 1)
    t = api_a.post_task(DEV, {"type": "download", "parameters": {"file": "fw-3.bin"}}, 20)
    t = api_a.until("/api/tasks/%d" % t["id"], lambda v: v["status"] not in ("pending", "sent"), 40)
    assert t["status"] == "done" and t["fault"] is None, t
    m = sim.wait_for(r"download_done cpe=SIM000001 url=(\S+) bytes=(\d+) fault=0")
    assert m.group(1) == files_b + "fw-3.bin" and int(m.group(2)) == len(fw)
    b.wait_for(r"cwmp_rpc device=\S+ task=%d " % t["id"])
    b.wait_for(r"file_fetched name=fw-3.bin ")

    # ---- the CPE's upload through B, read through A ----
    t = api_a.post_task(DEV, {"type": "upload", "parameters": {
        "file": "backup-1.cfg", "file_type": "1 Vendor Configuration File"}}, 20)
    t = api_a.until("/api/tasks/%d" % t["id"], lambda v: v["status"] not in ("pending", "sent"), 40)
    assert t["status"] == "done", t
    m = sim.wait_for(r"upload_done cpe=SIM000001 url=(\S+) .*fault=0")
    assert m.group(1).startswith(b.url("listen") + "/uploads/%d-" % t["id"])
    meta = api_a.get("/api/files/backup-1.cfg")
    assert meta["task_id"] == t["id"] and meta["size"] > 0
    body = api_a.s.get(api_a.base + "/api/files/backup-1.cfg/content", timeout=30).content
    assert sha(body) == meta["sha256"] and len(body) == meta["size"]
    # one upload key for every node: B's URL is one of A's too (the task is
    # over: refused as not expected, not as an unknown URL)
    token = m.group(1).rsplit("/", 1)[1]
    assert requests.put(a.url("listen") + "/uploads/" + token, data=b"x", timeout=10).status_code == 403
    assert requests.put(a.url("listen") + "/uploads/%d-%s" % (t["id"], "0" * 32), data=b"x",
                        timeout=10).status_code == 404
    sim.stop()

    # ---- no bytes in the database: 503, until the node that has them shares them ----
    old = blob(2 * 1024 * 1024 + 5, 5)
    api_a.put("old.bin", old)
    subprocess.run(psql + ["DELETE FROM file_chunks WHERE name = 'old.bin'"], check=True,
                   capture_output=True)
    failed0 = fetches(api_b, "failed")
    r = requests.get(files_b + "old.bin", timeout=30)
    assert r.status_code == 503 and int(r.headers["Retry-After"]) > 0, r.text
    assert fetches(api_b, "failed") == failed0 + 1
    assert len([x for x in b.lines if "file_fetch_failed name=old.bin" in x]) == 1
    r = api_b.s.get(api_b.base + "/api/files/old.bin/content", timeout=30)
    assert r.status_code == 503 and r.json()["error"] == "unavailable" and r.headers["Retry-After"]
    # A as an older version left it: DATA_DIR/files/NAME, no bytes in the database
    a.stop()
    shutil.move(str(tmp_path / "node-a" / "files" / ".cache" / sha(old)),
                str(tmp_path / "node-a" / "files" / "old.bin"))
    a = node(outpost, tmp_path, db, "node-a")
    a.wait_for(r"file_shared name=old.bin size=%d from=\"the data directory\"" % len(old))
    assert not (tmp_path / "node-a" / "files" / "old.bin").exists()
    assert sha(old) in cache(tmp_path, "node-a")
    r = requests.get(files_b + "old.bin", timeout=30)
    assert r.status_code == 200 and r.content == old


def test_stop_while_fetching(outpost, tmp_path, pg_dir):
    db = pg_server.url(pg_dir)
    a = node(outpost, tmp_path, db, "node-a", "128MiB")
    b = node(outpost, tmp_path, db, "node-b", "128MiB")
    data = blob(96 * 1024 * 1024, 6)
    Api(a).put("big.bin", data)
    got = []

    def fetch():
        try:
            got.append(requests.get(b.url("listen") + "/files/big.bin", timeout=60).status_code)
        except requests.exceptions.ConnectionError:
            got.append("closed")
    t = threading.Thread(target=fetch)
    t.start()
    b.wait_for(r"debug|info")
    time.sleep(0.05)
    b.stop()  # exit 0, no sanitizer report: the fetch ends, its request answered
    t.join()
    # 503 (the usual: the fetch cancelled, its waiter told "shutting down"),
    # or, on a fast machine, the download done or cut by the shutdown
    assert got and got[0] in (200, 503, "closed"), got
    assert not [n for n in os.listdir(tmp_path / "node-b" / "files" / ".cache") if n.startswith(".tmp-")]


def test_file_cache_cap(outpost, tmp_path, pg_dir):
    db = pg_server.url(pg_dir)
    cap = 5 * 1024 * 1024
    a = node(outpost, tmp_path, db, "node-a")
    b = node(outpost, tmp_path, db, "node-b", "16MiB", "--file-cache-size", "5MiB")
    api_a, api_b = Api(a), Api(b)
    files_b = b.url("listen") + "/files/"
    b.wait_for(r"files_shared .*cache_limit=%d " % cap)
    assert metric(api_b, "outpost_acs_file_cache_limit_bytes") == cap
    assert metric(api_b, "outpost_acs_file_cache_evictions_total") == 0

    def evicted():
        return [x for x in b.lines if "file_cache_evicted" in x]

    # ---- three files of 2 MiB through A, downloaded through B in turn ----
    files = {"c-%d.bin" % i: blob(2 * 1024 * 1024 + i, 10 + i) for i in range(3)}
    for name, data in files.items():
        api_a.put(name, data)
    for name, data in files.items():
        r = requests.get(files_b + name, timeout=60)
        assert r.status_code == 200 and r.content == data
        assert cache_bytes(tmp_path, "node-b") <= cap
    # the third did not fit beside the two: the least recently used went
    b.wait_for(r"file_cache_evicted sha256=%s bytes=%d " % (sha(files["c-0.bin"]), len(files["c-0.bin"])))
    assert cache(tmp_path, "node-b") == sorted([sha(files["c-1.bin"]), sha(files["c-2.bin"])])
    assert metric(api_b, "outpost_acs_file_cache_evictions_total") == 1
    assert metric(api_b, "outpost_acs_file_cache_bytes") == cache_bytes(tmp_path, "node-b")
    assert len(cache(tmp_path, "node-a")) == 3  # A's cap (the default 4 GiB) is far

    # ---- an evicted file: fetched again, byte for byte; now c-1 is the oldest ----
    # (c-2 used since c-1: a HEAD opens the copy too)
    assert requests.head(files_b + "c-2.bin", timeout=30).status_code == 200
    fetched = fetches(api_b)
    r = requests.get(files_b + "c-0.bin", timeout=60)
    assert r.status_code == 200 and r.content == files["c-0.bin"]
    assert r.headers["ETag"] == '"%s"' % sha(files["c-0.bin"])
    assert fetches(api_b) == fetched + 1
    b.wait_for(r"file_cache_evicted sha256=%s " % sha(files["c-1.bin"]))
    assert cache(tmp_path, "node-b") == sorted([sha(files["c-0.bin"]), sha(files["c-2.bin"])])
    assert cache_bytes(tmp_path, "node-b") <= cap
    assert metric(api_b, "outpost_acs_file_cache_evictions_total") == 2

    # ---- one larger than the cap, downloaded slowly while others come and go ----
    big = blob(12 * 1024 * 1024, 30)
    api_a.put("big.bin", big)
    slow = requests.get(files_b + "big.bin", timeout=60, stream=True)
    assert slow.status_code == 200
    got = slow.raw.read(64 * 1024)
    # its fetch left the cap to it alone: the others went, it stays
    b.wait_for(r"file_cache_evicted sha256=%s " % sha(files["c-2.bin"]))
    assert cache(tmp_path, "node-b") == [sha(big)]
    # another file's fetch passes over it: in use, not removed under the download
    r = requests.get(files_b + "c-1.bin", timeout=60)
    assert r.status_code == 200 and r.content == files["c-1.bin"]
    assert sha(big) in cache(tmp_path, "node-b")
    assert not [x for x in evicted() if sha(big) in x]
    got += slow.raw.read()
    slow.close()
    assert got == big
    # the download over: the pass that follows drops it
    b.wait_for(r"file_cache_evicted sha256=%s bytes=%d " % (sha(big), len(big)))
    assert sha(big) not in cache(tmp_path, "node-b")
    assert cache_bytes(tmp_path, "node-b") <= cap
    n = len(evicted())
    assert metric(api_b, "outpost_acs_file_cache_evictions_total") == n
    assert metric(api_b, "outpost_acs_file_cache_bytes") == cache_bytes(tmp_path, "node-b")
    # and is fetched again when asked for
    r = requests.get(files_b + "big.bin", timeout=60)
    assert r.status_code == 200 and r.content == big


def test_file_cache_bytes_under_a_download(outpost, tmp_path, pg_dir):
    a = node(outpost, tmp_path, pg_server.url(pg_dir), "node-a", "32MiB")
    api = Api(a)
    big, small = blob(24 * 1024 * 1024, 40), blob(1024 * 1024, 41)
    api.put("fw.bin", big)
    assert metric(api, "outpost_acs_file_cache_bytes") == cache_bytes(tmp_path, "node-a") == len(big)

    # a client that reads slowly: the answer stalls with most of the copy unread
    s = socket.create_connection(a.addr("listen"), timeout=30)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.sendall(b"GET /files/fw.bin HTTP/1.1\r\nHost: x\r\n\r\n")
    got = s.recv(1024)
    assert got.startswith(b"HTTP/1.1 200"), got
    assert metric(api, "outpost_acs_file_cache_bytes") == len(big)

    # a new version through this node: the old copy's name goes at once, its
    # bytes stay on disk (and counted) while the download reads them
    api.put("fw.bin", small)
    assert cache(tmp_path, "node-a") == [sha(small)]
    assert metric(api, "outpost_acs_file_cache_removed_total") == 1
    assert metric(api, "outpost_acs_file_cache_bytes") == len(big) + len(small)

    # deleted under the download too: only the old copy's bytes are left
    assert api.s.delete(api.base + "/api/files/fw.bin", timeout=30).status_code == 204
    assert cache(tmp_path, "node-a") == []
    assert metric(api, "outpost_acs_file_cache_bytes") == len(big)

    # still the old bytes; then the client goes (a window this small makes
    # reading it all take minutes): the download ends, its bytes are freed
    head = got.index(b"\r\n\r\n") + 4
    while len(got) < head + 65536:
        piece = s.recv(65536)
        assert piece, "the download was cut short"
        got += piece
    assert got[head:] == big[:len(got) - head]
    s.close()
    deadline = time.monotonic() + 10
    while metric(api, "outpost_acs_file_cache_bytes") != 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert metric(api, "outpost_acs_file_cache_bytes") == 0

    # no download in the way: a replacement's or a delete's copy is off the count at once
    api.put("fw.bin", small)
    assert metric(api, "outpost_acs_file_cache_bytes") == len(small)
    api.put("fw.bin", big)
    assert metric(api, "outpost_acs_file_cache_bytes") == cache_bytes(tmp_path, "node-a") == len(big)
    assert api.s.delete(api.base + "/api/files/fw.bin", timeout=30).status_code == 204
    assert metric(api, "outpost_acs_file_cache_bytes") == cache_bytes(tmp_path, "node-a") == 0


def slow_download(a, name):
    """A client that reads slowly: the answer stalls with most of the copy unread."""
    s = socket.create_connection(a.addr("listen"), timeout=30)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.sendall(b"GET /files/%s HTTP/1.1\r\nHost: x\r\n\r\n" % name.encode())
    got = s.recv(1024)
    assert got.startswith(b"HTTP/1.1 200"), got
    return s


def test_file_cache_bytes_freed_as_the_download_ends(outpost, tmp_path, pg_dir):
    db = pg_server.url(pg_dir)
    a = node(outpost, tmp_path, db, "node-a", "32MiB")
    api = Api(a)
    big, small = blob(24 * 1024 * 1024, 42), blob(1024 * 1024, 43)
    api.put("fw.bin", big)
    s = slow_download(a, "fw.bin")
    assert api.s.delete(api.base + "/api/files/fw.bin", timeout=30).status_code == 204
    assert cache(tmp_path, "node-a") == []
    assert metric(api, "outpost_acs_file_cache_bytes") == len(big)  # still read

    # the transfers held up: a PUT whose bytes wait for a lock this test holds
    psql = [pg_server.psql(), "-X", "-q", "-A", "-t", "-d", db]
    lock = subprocess.Popen(psql, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    lock.stdin.write("BEGIN; LOCK TABLE file_chunks IN ACCESS EXCLUSIVE MODE; SELECT 'locked';\n")
    lock.stdin.flush()
    assert lock.stdout.readline().strip() == "locked"
    put = []
    t = threading.Thread(target=lambda: put.append(api.put("other.bin", small)))
    t.start()
    try:
        deadline = time.monotonic() + 20
        waiting = ""
        while waiting != "1" and time.monotonic() < deadline:
            time.sleep(0.05)
            waiting = subprocess.run(psql + ["-c", "SELECT count(*) FROM pg_stat_activity WHERE"
                                             " application_name = 'outpost-files'"
                                             " AND wait_event_type = 'Lock'"],
                                     check=True, capture_output=True, text=True).stdout.strip()
        assert waiting == "1", "the PUT's transfer never waited for the lock"

        # the download ends: its bytes leave the gauge then, not behind the PUT
        s.close()
        deadline = time.monotonic() + 2
        while metric(api, "outpost_acs_file_cache_bytes") != 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert metric(api, "outpost_acs_file_cache_bytes") == 0
        assert t.is_alive()  # the transfers were still held up
    finally:
        lock.stdin.write("COMMIT;\n")
        lock.stdin.close()
        lock.wait(30)
        t.join(60)
    assert put and put[0]["sha256"] == sha(small)
    assert metric(api, "outpost_acs_file_cache_bytes") == cache_bytes(tmp_path, "node-a") == len(small)


def test_file_cache_fifo_named_like_a_copy(outpost, tmp_path, pg_dir):
    a = node(outpost, tmp_path, pg_server.url(pg_dir), "node-a")
    api = Api(a)
    data = blob(1024 * 1024 + 7, 44)
    api.put("fw.bin", data)
    copy = tmp_path / "node-a" / "files" / ".cache" / sha(data)
    copy.unlink()
    os.mkfifo(copy)
    # opened as a copy it would wait for a writer, the store worker with it
    r = requests.get(a.url("listen") + "/files/fw.bin", timeout=15)
    assert r.status_code == 200 and r.content == data
    assert len([x for x in a.lines if "file_cache_not_a_file" in x and sha(data) in x]) == 1
    assert copy.is_file() and not copy.is_fifo()
    assert fetches(api) == 1
    assert metric(api, "outpost_acs_file_cache_bytes") == cache_bytes(tmp_path, "node-a") == len(data)
    # the node carries on: the API and the copy answer
    assert api.s.get(api.base + "/api/files/fw.bin", timeout=10).status_code == 200
    r = requests.get(a.url("listen") + "/files/fw.bin", timeout=15)
    assert r.status_code == 200 and r.content == data
    assert fetches(api) == 1
