"""outpost acs: the file store. PUT /api/files/NAME streamed to disk (sha256,
metadata, --max-file-size while streaming, strict names), GET/DELETE, and
the CWMP listener's /files/NAME for CPEs: ETag, Range (206/416), resume,
If-None-Match, HEAD, per-file Digest credentials.

On one node (SQLite) a file's bytes are DATA_DIR/files/NAME; on PostgreSQL
(OUTPOST_TEST_DB=postgres) they are in the database and the node's copy is
DATA_DIR/files/.cache/SHA256 (test_acs_files_cluster.py): stored(),
kept() and on_disk() say which."""
import hashlib
import os
import socket
import time

import pytest
import requests
from requests.auth import HTTPDigestAuth

from conftest import PG_MODE

TOKEN = "files-test-token"


def start(outpost, tmp_path, *extra):
    return outpost("acs", "--cwmp-listen", "127.0.0.1:0", "--api-listen", "127.0.0.1:0",
                   "--data-dir", str(tmp_path / "data"), "--api-token", TOKEN,
                   "--cpe-auth", "none", *extra)


class Api:
    def __init__(self, d):
        self.base = d.url("api")
        self.s = requests.Session()
        self.s.headers["Authorization"] = "Bearer " + TOKEN

    def put(self, name, data, params=None, headers=None):
        return self.s.put(self.base + "/api/files/" + name, data=data, params=params,
                          headers=headers, timeout=60)

    def get(self, path, **kw):
        return self.s.get(self.base + path, timeout=30, **kw)

    def delete(self, path):
        return self.s.delete(self.base + path, timeout=30)


def files_dir(tmp_path):
    return tmp_path / "data" / "files"


def stored(tmp_path):
    """The names in the store's directory, temporaries included (not the key);
    on PostgreSQL those in its cache too."""
    d = files_dir(tmp_path)
    names = [n for n in os.listdir(d) if n not in (".upload-key", ".cache")]
    if (d / ".cache").exists():
        names += os.listdir(d / ".cache")
    return sorted(names)


def kept(*files):
    """What stored() is when these (name, bytes) are the store's files."""
    return sorted(hashlib.sha256(data).hexdigest() if PG_MODE else name for name, data in files)


def on_disk(tmp_path, name, data):
    """Where this node keeps the bytes of file `name` (whose bytes are data)."""
    if PG_MODE:
        return files_dir(tmp_path) / ".cache" / hashlib.sha256(data).hexdigest()
    return files_dir(tmp_path) / name


def blob(n, seed=1):
    out = bytearray()
    h = hashlib.sha256(b"%d" % seed).digest()
    while len(out) < n:
        h = hashlib.sha256(h).digest()
        out += h
    return bytes(out[:n])


@pytest.fixture
def acs(outpost, tmp_path):
    d = start(outpost, tmp_path, "--max-file-size", "4MiB")
    return d, Api(d)


def test_put_get_list_delete(acs, tmp_path):
    d, api = acs
    data = blob(2_500_000)
    r = api.put("fw-1.2.bin", data, params={"file_type": "1 Firmware Upgrade Image", "oui": "00D09E",
                                            "product_class": "IGD", "version": "1.2"})
    assert r.status_code == 201, r.text
    f = r.json()
    assert f["name"] == "fw-1.2.bin" and f["size"] == len(data)
    assert f["sha256"] == hashlib.sha256(data).hexdigest()
    assert (f["file_type"], f["oui"], f["product_class"], f["version"]) == \
        ("1 Firmware Upgrade Image", "00D09E", "IGD", "1.2")
    assert f["url"] == "%s/files/fw-1.2.bin" % d.url("listen")
    assert f["username"] is None and "password" not in f
    assert on_disk(tmp_path, "fw-1.2.bin", data).read_bytes() == data
    assert stored(tmp_path) == kept(("fw-1.2.bin", data))  # no temporary left

    # metadata in headers, chunked body (no Content-Length): replaced, 200
    data2 = blob(300_000, seed=2)
    r = api.put("fw-1.2.bin", iter([data2[:100_000], data2[100_000:]]),
                headers={"X-File-Type": "X 00D09E Bundle", "X-Version": "1.3"})
    assert r.status_code == 200, r.text
    assert r.json()["sha256"] == hashlib.sha256(data2).hexdigest()
    assert r.json()["file_type"] == "X 00D09E Bundle" and r.json()["oui"] is None

    assert api.put("cfg.xml", b"<cfg/>", params={"file_type": "3 Vendor Configuration File"}).status_code == 201
    r = api.get("/api/files")
    assert r.status_code == 200 and [x["name"] for x in r.json()] == ["cfg.xml", "fw-1.2.bin"]
    r = api.get("/api/files/cfg.xml")
    assert r.status_code == 200 and r.json()["size"] == 6
    r = api.get("/api/files/fw-1.2.bin/content")
    assert r.status_code == 200 and r.content == data2
    assert r.headers["ETag"] == '"%s"' % hashlib.sha256(data2).hexdigest()

    assert api.delete("/api/files/cfg.xml").status_code == 204
    r = api.get("/api/files/cfg.xml")
    assert r.status_code == 404 and r.json()["error"] == "not_found"
    assert api.delete("/api/files/cfg.xml").status_code == 404
    assert requests.get(d.url("listen") + "/files/cfg.xml", timeout=10).status_code == 404
    assert stored(tmp_path) == kept(("fw-1.2.bin", data2))


@pytest.mark.parametrize("name,params,field", [
    (".hidden", {}, "name"),
    ("-x", {}, "name"),
    ("a%2Fb", {}, "name"),                       # decoded: "a/b"
    ("a%20b", {}, "name"),
    ("x" * 129, {}, "name"),
    ("ok.bin", {"file_type": "firmware"}, "file_type"),
    ("ok.bin", {"file_type": "0 Zero"}, "file_type"),
    ("ok.bin", {"version": "v" * 65}, "version"),
    ("ok.bin", {"oui": "a\tb"}, "oui"),
    ("ok.bin", {"username": "u"}, "password"),
    ("ok.bin", {"password": "p"}, "username"),
    ("ok.bin", {"username": "u:v", "password": "p"}, "username"),
])
def test_bad_input_names_the_field(acs, tmp_path, name, params, field):
    d, api = acs
    r = api.put(name, b"data", params=params)
    assert r.status_code == 400, r.text
    body = r.json()
    assert body["field"] == field and body["message"].startswith(field), body
    assert stored(tmp_path) == []


def raw(addr, method, path, body=b"", headers=""):
    """The status of a request sent byte for byte (no client-side path clean-up)."""
    s = socket.create_connection(addr, timeout=10)
    s.sendall(b"%s %s HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\nConnection: close\r\n%s\r\n%s"
              % (method.encode(), path.encode(), len(body), headers.encode(), body))
    out = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        out += chunk
    s.close()
    return int(out.split(b" ", 2)[1])


def test_path_tricks_refused(acs, tmp_path):
    d, api = acs
    auth = "Authorization: Bearer %s\r\n" % TOKEN
    for path in ("/api/files/..", "/api/files/%2E%2E", "/api/files/a/../b", "/api/files//x",
                 "/api/files/a%2F..%2F..%2Fx", "/api/files/%2Fetc%2Fpasswd", "/api/files/a%00b"):
        st = raw(d.addr("api"), "PUT", path, b"x", auth)
        assert st in (400, 404, 405), (path, st)
    # the CWMP side: no escape out of the directory either
    for path in ("/files/..%2Facs.db", "/files/%2E%2E/acs.db", "/files/../acs.db", "/files/.upload-key",
                 "/files/", "/files/a/../../acs.db"):
        st = raw(d.addr("listen"), "GET", path)
        assert st in (400, 404), (path, st)
    assert stored(tmp_path) == []


def test_max_file_size_while_streaming(acs, tmp_path):
    d, api = acs
    big = blob(5 * 1024 * 1024)
    # announced too large: refused before a byte is read
    r = api.put("big.bin", big)
    assert r.status_code == 413 and r.json()["field"] == "body", r.text
    # chunked: refused once the bytes pass the cap, nothing left on disk
    def chunks():
        for i in range(0, len(big), 256 * 1024):
            yield big[i:i + 256 * 1024]
    try:
        r = api.put("big.bin", chunks())
        assert r.status_code == 413 and r.json()["error"] == "file_too_large"
    except requests.exceptions.ConnectionError:
        pass  # the ACS answered and closed while the client was still sending
    api.s.close()  # that connection is closed by the ACS (413 + close): do not reuse it
    d.wait_for(r"file_too_large name=big.bin")
    assert api.get("/api/files/big.bin").status_code == 404
    assert stored(tmp_path) == []
    # exactly the cap is fine
    r = api.put("cap.bin", big[:4 * 1024 * 1024])
    assert r.status_code == 201 and r.json()["size"] == 4 * 1024 * 1024


def test_no_token_no_file(acs, tmp_path):
    d, api = acs
    r = requests.put(api.base + "/api/files/x.bin", data=b"abc", timeout=10)
    assert r.status_code == 401
    r = requests.get(api.base + "/api/files", timeout=10)
    assert r.status_code == 401
    assert stored(tmp_path) == []


@pytest.mark.skipif(PG_MODE, reason="a shared store's copies: test_acs_files_cluster.py")
def test_fifo_named_like_a_file(acs, tmp_path):
    d, api = acs
    data = blob(70_000, seed=9)
    assert api.put("fw.bin", data).status_code == 201
    path = on_disk(tmp_path, "fw.bin", data)
    path.unlink()
    os.mkfifo(path)
    # opened as a file it would wait for a writer, and the store's worker with it
    r = requests.get(d.url("listen") + "/files/fw.bin", timeout=10)
    assert r.status_code == 500 and "cannot be read" in r.text
    assert len([x for x in d.lines if "files_open" in x and "not a regular file" in x]) == 1
    # the worker is free: the API and another file answer
    assert api.get("/api/files/fw.bin").status_code == 200
    assert api.put("other.bin", data).status_code == 201
    assert requests.get(d.url("listen") + "/files/other.bin", timeout=10).content == data


def test_cpe_download_validators_and_ranges(acs):
    d, api = acs
    data = blob(3_000_000, seed=3)
    etag = '"%s"' % hashlib.sha256(data).hexdigest()
    assert api.put("img.bin", data).status_code == 201
    url = d.url("listen") + "/files/img.bin"

    r = requests.get(url, timeout=30)
    assert r.status_code == 200 and r.content == data
    assert r.headers["ETag"] == etag and r.headers["Accept-Ranges"] == "bytes"
    assert r.headers["Content-Length"] == str(len(data))

    r = requests.head(url, timeout=10)
    assert r.status_code == 200 and r.headers["Content-Length"] == str(len(data)) and not r.content

    r = requests.get(url, headers={"Range": "bytes=100-199"}, timeout=10)
    assert r.status_code == 206 and r.content == data[100:200]
    assert r.headers["Content-Range"] == "bytes 100-199/%d" % len(data)
    r = requests.get(url, headers={"Range": "bytes=-1000"}, timeout=10)
    assert r.status_code == 206 and r.content == data[-1000:]
    r = requests.get(url, headers={"Range": "bytes=2999000-"}, timeout=10)
    assert r.status_code == 206 and r.content == data[2999000:]
    r = requests.get(url, headers={"Range": "bytes=0-9999999"}, timeout=10)
    assert r.status_code == 206 and r.content == data
    r = requests.get(url, headers={"Range": "bytes=%d-" % len(data)}, timeout=10)
    assert r.status_code == 416 and r.headers["Content-Range"] == "bytes */%d" % len(data)
    # several ranges, another unit, garbage: the whole file
    for rng in ("bytes=0-1,5-6", "items=0-1", "bytes=5-1", "bytes=x-"):
        r = requests.get(url, headers={"Range": rng}, timeout=30)
        assert r.status_code == 200 and len(r.content) == len(data), rng

    r = requests.get(url, headers={"If-None-Match": etag}, timeout=10)
    assert r.status_code == 304 and not r.content and r.headers["ETag"] == etag
    r = requests.get(url, headers={"If-None-Match": '"other"'}, timeout=30)
    assert r.status_code == 200
    r = requests.get(url, headers={"Range": "bytes=0-9", "If-Range": '"stale"'}, timeout=30)
    assert r.status_code == 200 and len(r.content) == len(data)
    r = requests.get(url, headers={"Range": "bytes=0-9", "If-Range": etag}, timeout=10)
    assert r.status_code == 206 and r.content == data[:10]

    assert requests.post(url, data=b"x", timeout=10).status_code == 405
    assert requests.get(d.url("listen") + "/files/none.bin", timeout=10).status_code == 404


def test_interrupted_download_resumes_with_range(acs):
    d, api = acs
    data = blob(3_500_000, seed=4)
    assert api.put("fw.bin", data).status_code == 201
    host, port = d.addr("listen")
    # a client that drops the connection part-way
    s = socket.create_connection((host, port), timeout=10)
    s.sendall(b"GET /files/fw.bin HTTP/1.1\r\nHost: x\r\n\r\n")
    got = b""
    while b"\r\n\r\n" not in got:
        got += s.recv(65536)
    head, body = got.split(b"\r\n\r\n", 1)
    assert head.startswith(b"HTTP/1.1 200") and b"Content-Length: %d" % len(data) in head
    while len(body) < 1_000_000:
        body += s.recv(65536)
    s.close()
    part = body[:1_000_000]
    # ...and resumes where it stopped
    r = requests.get(d.url("listen") + "/files/fw.bin", headers={"Range": "bytes=%d-" % len(part)},
                     timeout=30)
    assert r.status_code == 206
    assert r.headers["Content-Range"] == "bytes %d-%d/%d" % (len(part), len(data) - 1, len(data))
    assert part + r.content == data
    # the ACS is still fine after the dropped connection
    assert requests.get(d.url("listen") + "/files/fw.bin", timeout=30).content == data


def test_per_file_digest_credentials(acs):
    d, api = acs
    data = blob(10_000, seed=5)
    r = api.put("secret.bin", data, params={"username": "dl", "password": "dl-pw"})
    assert r.status_code == 201 and r.json()["username"] == "dl"
    url = d.url("listen") + "/files/secret.bin"
    r = requests.get(url, timeout=10)
    assert r.status_code == 401 and "Digest" in r.headers["WWW-Authenticate"]
    assert 'realm="outpost files"' in r.headers["WWW-Authenticate"]
    r = requests.get(url, auth=HTTPDigestAuth("dl", "wrong"), timeout=10)
    assert r.status_code == 401
    d.wait_for(r"file_auth_failed name=secret.bin")
    r = requests.get(url, auth=HTTPDigestAuth("other", "dl-pw"), timeout=10)
    assert r.status_code == 401
    r = requests.get(url, auth=HTTPDigestAuth("dl", "dl-pw"), timeout=10)
    assert r.status_code == 200 and r.content == data
    r = requests.get(url, auth=HTTPDigestAuth("dl", "dl-pw"), headers={"Range": "bytes=0-99"}, timeout=10)
    assert r.status_code == 206 and r.content == data[:100]
    # the API's bearer token reads it without the file's credentials
    assert api.get("/api/files/secret.bin/content").content == data


def test_files_survive_restart_and_stale_temporaries_go(outpost, tmp_path):
    d = start(outpost, tmp_path)
    api = Api(d)
    assert api.put("keep.bin", b"keep me").status_code == 201
    d.stop()
    (files_dir(tmp_path) / ".tmp-abc123").write_bytes(b"half a file")
    d = start(outpost, tmp_path)
    api = Api(d)
    assert stored(tmp_path) == kept(("keep.bin", b"keep me"))
    assert requests.get(d.url("listen") + "/files/keep.bin", timeout=10).content == b"keep me"


def transfer_complete(cpe, key, code=0, text=""):
    return cpe.post(('<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" '
                     'xmlns:cwmp="urn:dslforum-org:cwmp-1-2"><soap:Header><cwmp:ID soap:mustUnderstand="1">'
                     'tc1</cwmp:ID></soap:Header><soap:Body><cwmp:TransferComplete><CommandKey>%s</CommandKey>'
                     '<FaultStruct><FaultCode>%d</FaultCode><FaultString>%s</FaultString></FaultStruct>'
                     '<StartTime>2026-01-01T00:00:00Z</StartTime><CompleteTime>2026-01-01T00:01:00Z'
                     '</CompleteTime></cwmp:TransferComplete></soap:Body></soap:Envelope>'
                     % (key, code, text)).encode())


def test_download_rpc_from_the_stored_file_and_transfer_complete_matching(acs):
    """The Download RPC carries the stored file's URL, size, type and
    credentials; a TransferComplete naming the task from another device
    leaves it alone; the device's own, in a later session, finishes it."""
    from cwmp_cpe import CPE
    d, api = acs
    data = blob(12345, seed=6)
    assert api.put("fw-9.bin", data, params={"file_type": "1 Firmware Upgrade Image", "username": "u1",
                                             "password": "p1"}).status_code == 201
    a, b = CPE(d.addr("listen")), CPE(d.addr("listen"))
    assert a.inform("A1").rpc == "InformResponse" and a.post().status == 204
    assert b.inform("B1").rpc == "InformResponse" and b.post().status == 204
    r = api.s.post(api.base + "/api/devices/00D09E-IGD-A1/tasks",
                   json={"type": "download", "parameters": {"file": "fw-9.bin", "delay_seconds": 3}}, timeout=30)
    assert r.status_code == 201, r.text
    tid = r.json()["id"]
    a.inform("A1", events=[("6 CONNECTION REQUEST", "")])
    r = a.post()
    assert r.rpc == "Download" and r.find("CommandKey") == "task-%d" % tid
    assert r.find("URL") == d.url("listen") + "/files/fw-9.bin"
    assert r.find("FileSize") == "12345" and r.find("FileType") == "1 Firmware Upgrade Image"
    assert r.find("Username") == "u1" and r.find("Password") == "p1" and r.find("DelaySeconds") == "3"
    r = a.answer(r, "<cwmp:DownloadResponse><Status>1</Status><StartTime>0001-01-01T00:00:00Z</StartTime>"
                    "<CompleteTime>0001-01-01T00:00:00Z</CompleteTime></cwmp:DownloadResponse>")
    assert r.status == 204
    assert api.get("/api/tasks/%d" % tid).json()["status"] == "sent"
    # the stored task keeps what the operator asked (no credentials in the API's view)
    assert api.get("/api/tasks/%d" % tid).json()["parameters"] == {"file": "fw-9.bin", "delay_seconds": 3}

    # B claims A's transfer: answered (or B would send it forever), but not A's task
    b.inform("B1", events=[("7 TRANSFER COMPLETE", "")])
    assert transfer_complete(b, "task-%d" % tid).rpc == "TransferCompleteResponse"
    assert b.post().status == 204
    d.wait_for(r"cwmp_transfer_complete_unmatched device=00D09E-IGD-B1 task=%d" % tid)
    assert api.get("/api/tasks/%d" % tid).json()["status"] == "sent"

    # A, after its reboot: failed with the CPE's fault, times kept
    a.inform("A1", events=[("1 BOOT", ""), ("7 TRANSFER COMPLETE", ""), ("M Download", "task-%d" % tid)])
    assert transfer_complete(a, "task-%d" % tid, 9018, "file corrupted").rpc == "TransferCompleteResponse"
    assert a.post().status == 204
    t = api.get("/api/tasks/%d" % tid).json()
    assert t["status"] == "failed" and t["fault"] == {"code": 9018, "message": "file corrupted"}, t
    assert t["result"]["start_time"] == "2026-01-01T00:00:00Z"
    assert t["result"]["complete_time"] == "2026-01-01T00:01:00Z"


def test_upload_url_bounded_and_one_time(acs, tmp_path):
    """An upload task's URL takes at most --max-file-size (413 while
    streaming, nothing kept), stores the file under the task's name, and
    stops working once the task is finished."""
    from cwmp_cpe import CPE
    d, api = acs
    a = CPE(d.addr("listen"))
    assert a.inform("U1").rpc == "InformResponse" and a.post().status == 204
    r = api.s.post(api.base + "/api/devices/00D09E-IGD-U1/tasks",
                   json={"type": "upload", "parameters": {"file": "u1-backup.cfg", "file_type": "2 Vendor Log File"}},
                   timeout=30)
    assert r.status_code == 201, r.text
    tid = r.json()["id"]
    a.inform("U1", events=[("6 CONNECTION REQUEST", "")])
    r = a.post()
    assert r.rpc == "Upload" and r.find("FileType") == "2 Vendor Log File"
    url = r.find("URL")
    assert url.startswith(d.url("listen") + "/uploads/%d-" % tid), url
    r = a.answer(r, "<cwmp:UploadResponse><Status>1</Status><StartTime>0001-01-01T00:00:00Z</StartTime>"
                    "<CompleteTime>0001-01-01T00:00:00Z</CompleteTime></cwmp:UploadResponse>")
    assert r.status == 204

    big = blob(5 * 1024 * 1024, seed=7)
    assert requests.put(url, data=big, timeout=30).status_code == 413
    try:
        r = requests.put(url, data=iter([big[i:i + 65536] for i in range(0, len(big), 65536)]), timeout=30)
        assert r.status_code == 413
    except requests.exceptions.ConnectionError:
        pass  # answered and closed while the client was still sending
    assert stored(tmp_path) == []
    assert requests.get(url, timeout=10).status_code == 405

    log = b"line 1\nline 2\n"
    r = requests.post(url, data=log, timeout=10)               # some CPEs POST
    assert r.status_code == 201, r.text
    f = api.get("/api/files/u1-backup.cfg").json()
    assert f["task_id"] == tid and f["file_type"] == "2 Vendor Log File" and f["size"] == len(log)
    assert on_disk(tmp_path, "u1-backup.cfg", log).read_bytes() == log
    assert requests.put(url, data=log + b"again\n", timeout=10).status_code == 204  # a retry replaces

    a.inform("U1", events=[("7 TRANSFER COMPLETE", ""), ("M Upload", "task-%d" % tid)])
    assert transfer_complete(a, "task-%d" % tid).rpc == "TransferCompleteResponse"
    assert a.post().status == 204
    assert api.get("/api/tasks/%d" % tid).json()["status"] == "done"
    assert requests.put(url, data=b"late", timeout=10).status_code == 403
    assert on_disk(tmp_path, "u1-backup.cfg", log + b"again\n").read_bytes() == log + b"again\n"
    assert stored(tmp_path) == kept(("u1-backup.cfg", log + b"again\n"))


def upload_url(a, api, serial, name):
    """An upload task naming `name` for CPE a, sent: its URL."""
    r = api.s.post(api.base + f"/api/devices/00D09E-IGD-{serial}/tasks",
                   json={"type": "upload", "parameters": {"file": name}}, timeout=30)
    assert r.status_code == 201, r.text
    a.inform(serial, events=[("6 CONNECTION REQUEST", "")])
    r = a.post()
    assert r.rpc == "Upload"
    url = r.find("URL")
    r = a.answer(r, "<cwmp:UploadResponse><Status>1</Status><StartTime>0001-01-01T00:00:00Z</StartTime>"
                    "<CompleteTime>0001-01-01T00:00:00Z</CompleteTime></cwmp:UploadResponse>")
    assert r.status == 204
    return url


def test_an_upload_is_the_devices_data(acs):
    """What a device uploads (its configuration) is not served on the CWMP
    listener to whoever names it; the API reads it. An upload never
    replaces a file stored through the API (and its credentials), whether
    the task names one or one is stored while the task waits."""
    from cwmp_cpe import CPE
    d, api = acs
    a = CPE(d.addr("listen"))
    assert a.inform("U2").rpc == "InformResponse" and a.post().status == 204
    url = upload_url(a, api, "U2", "u2-backup.cfg")
    cfg = b"admin-password=hunter2\n"
    assert requests.put(url, data=cfg, timeout=10).status_code == 201
    r = requests.get(d.url("listen") + "/files/u2-backup.cfg", timeout=10)
    assert r.status_code == 404 and b"hunter2" not in r.content
    assert api.get("/api/files/u2-backup.cfg/content").content == cfg
    r = api.s.post(api.base + "/api/devices/00D09E-IGD-U2/tasks",
                   json={"type": "download", "parameters": {"file": "u2-backup.cfg"}}, timeout=30)
    assert r.status_code == 422 and "uploaded by a device" in r.text
    # stored again through the API, it is the operator's file and is served
    assert api.put("u2-backup.cfg", cfg).status_code in (200, 201)
    assert requests.get(d.url("listen") + "/files/u2-backup.cfg", timeout=10).content == cfg

    fw = blob(1000, seed=9)
    assert api.put("fw-2.bin", fw, params={"username": "dl", "password": "dl-pw"}).status_code == 201
    r = api.s.post(api.base + "/api/devices/00D09E-IGD-U2/tasks",
                   json={"type": "upload", "parameters": {"file": "fw-2.bin"}}, timeout=30)
    assert r.status_code == 422 and "may not replace" in r.text
    url = upload_url(a, api, "U2", "later.bin")
    assert api.put("later.bin", fw, params={"username": "dl", "password": "dl-pw"}).status_code == 201
    assert requests.put(url, data=b"evil", timeout=10).status_code == 403
    f = api.get("/api/files/later.bin").json()
    assert f["username"] == "dl" and f["task_id"] is None and f["size"] == len(fw)
    assert requests.get(d.url("listen") + "/files/later.bin", timeout=10).status_code == 401


def test_file_deleted_before_the_task_is_sent(acs):
    """The file is looked up again when the task goes out: gone by then, the
    task fails (8002, naming the file) and nothing is sent."""
    from cwmp_cpe import CPE
    d, api = acs
    a = CPE(d.addr("listen"))
    assert a.inform("D1").rpc == "InformResponse" and a.post().status == 204
    assert api.put("gone.bin", b"soon gone").status_code == 201
    r = api.s.post(api.base + "/api/devices/00D09E-IGD-D1/tasks",
                   json={"type": "download", "parameters": {"file": "gone.bin"}}, timeout=30)
    assert r.status_code == 201, r.text
    tid = r.json()["id"]
    assert api.delete("/api/files/gone.bin").status_code == 204
    a.inform("D1", events=[("6 CONNECTION REQUEST", "")])
    assert a.post().status == 204                      # no Download
    t = api.get("/api/tasks/%d" % tid).json()
    assert t["status"] == "failed" and t["fault"]["code"] == 8002 and "gone.bin" in t["fault"]["message"], t
    assert t["sent_at"] is None


def test_client_gone_mid_upload_leaves_nothing(outpost, tmp_path):
    d = start(outpost, tmp_path)
    s = socket.create_connection(d.addr("api"), timeout=10)
    s.sendall(b"PUT /api/files/half.bin HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
              b"Content-Length: 10000000\r\n\r\n" % TOKEN.encode())
    s.sendall(b"x" * 300_000)
    d.wait_for(r"debug|info")  # the daemon is alive and logging
    s.close()
    d.wait_for(r"file_not_stored name=half.bin .*err=")
    assert stored(tmp_path) == []
    # and a shutdown with an upload in flight is clean (no leak, no temporary)
    s = socket.create_connection(d.addr("api"), timeout=10)
    s.sendall(b"PUT /api/files/half2.bin HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
              b"Transfer-Encoding: chunked\r\n\r\n10000\r\n" % TOKEN.encode() + b"y" * 65536 + b"\r\n")
    time.sleep(0.3)  # let the first piece reach the disk
    d.stop()
    s.close()
    assert stored(tmp_path) == []


def test_shutdown_with_a_slow_download_in_progress(outpost, tmp_path):
    """A client that stops reading does not hold the ACS's shutdown: the
    download is cut (it would resume with Range) and the exit is clean."""
    d = start(outpost, tmp_path)
    api = Api(d)
    assert api.put("big.bin", blob(24 * 1024 * 1024, seed=8)).status_code == 201
    s = socket.create_connection(d.addr("listen"), timeout=10)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.sendall(b"GET /files/big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
    s.recv(1024)  # the answer has begun; the rest waits for a reader that never comes
    time.sleep(0.3)
    t0 = time.monotonic()
    d.stop()                     # exit 0, no sanitizer report
    assert time.monotonic() - t0 < 8
    s.close()


@pytest.mark.parametrize("url", ["ftp://acs.example", "http://", "http://acs.example/cwmp", "acs.example:7547",
                                 "http://user@acs.example", "http://a b"])
def test_cwmp_url_option_checked(tmp_path, url):
    from conftest import run_outpost
    p = run_outpost("acs", "--cwmp-listen", "127.0.0.1:0", "--api-listen", "127.0.0.1:0",
                    "--data-dir", str(tmp_path / "d"), "--cpe-auth", "none", "--cwmp-url", url)
    assert p.returncode == 2 and "cwmp-url" in p.stderr, (p.returncode, p.stderr[-500:])


def test_cwmp_url_names_the_files(outpost, tmp_path):
    d = start(outpost, tmp_path, "--cwmp-url", "https://acs.example.net:7548/")
    api = Api(d)
    r = api.put("fw.bin", b"x")
    assert r.json()["url"] == "https://acs.example.net:7548/files/fw.bin"
