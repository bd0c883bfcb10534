"""Download (Range requests, size check) and Upload, reported by TransferComplete."""
import http.server
import re
import socketserver
import threading

import pytest

from test_cpesim_acs import Rpc, ScriptedAcs, start_sim

S1 = "SIM000001"
FIRMWARE = bytes(range(256)) * 10000  # 2.5 MB: three 1 MiB ranges


class FileServer:
    def __init__(self):
        self.ranges = []
        self.uploads = []
        self.whole = 0   # GETs of /whole.bin, a server that ignores Range
        self.posts = []  # (path, body) POSTed after a 405 to PUT
        fs = self

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_GET(self):
                if self.path == "/whole.bin":  # no Range support: the whole file, 200
                    fs.whole += 1
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(FIRMWARE)))
                    self.end_headers()
                    self.wfile.write(FIRMWARE)
                    return
                if self.path != "/fw.bin":
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                m = re.match(r"bytes=(\d+)-(\d+)", self.headers.get("Range", ""))
                if m:
                    a, b = int(m.group(1)), min(int(m.group(2)), len(FIRMWARE) - 1)
                    fs.ranges.append((a, b))
                    self.send_response(206)
                    self.send_header("Content-Range", "bytes %d-%d/%d" % (a, b, len(FIRMWARE)))
                    body = FIRMWARE[a:b + 1]
                else:
                    self.send_response(200)
                    body = FIRMWARE
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_PUT(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n)
                if self.path.startswith("/post-only/"):
                    self.send_response(405)
                    self.send_header("Allow", "POST")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                fs.uploads.append((self.path, body))
                self.send_response(201)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                fs.posts.append((self.path, self.rfile.read(n)))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

        class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
            daemon_threads = True

        self.server = S(("127.0.0.1", 0), H)
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def env(outpost):
    acs, files = ScriptedAcs(), FileServer()
    # CWMP 1.2: TransferComplete may carry the specific fault codes (1.0 has only 9010/9011)
    start_sim(outpost, acs, "--cwmp-version", "1.2")
    acs.wait_inform("0 BOOTSTRAP", S1)
    yield acs, files
    acs.close()
    files.close()


def test_firmware_download(env):
    acs, files = env
    r = acs.call(S1, Rpc.download(files.url + "/fw.bin", size=len(FIRMWARE), key="fw-2"), "DownloadResponse")
    assert r.field("Status") == "1"
    tc = acs.wait_msg("TransferComplete", S1)
    assert tc.field("CommandKey") == "fw-2"
    assert tc.field("FaultCode") == "0"
    assert tc.field("StartTime") <= tc.field("CompleteTime")
    assert files.ranges == [(0, 1048575), (1048576, 2097151), (2097152, len(FIRMWARE) - 1)]
    inf = acs.wait_inform("7 TRANSFER COMPLETE", S1)
    assert set(inf.events()) >= {("1 BOOT", ""), ("7 TRANSFER COMPLETE", ""), ("M Download", "fw-2")}


def test_download_failures(env):
    acs, files = env
    acs.call(S1, Rpc.download(files.url + "/fw.bin", size=12345, key="bad-size",
                              ftype="3 Vendor Configuration File"), "DownloadResponse")
    tc = acs.wait_msg("TransferComplete", S1)
    assert (tc.field("CommandKey"), tc.field("FaultCode")) == ("bad-size", "9018")
    acs.call(S1, Rpc.download(files.url + "/missing.bin", key="gone", ftype="2 Web Content"), "DownloadResponse")
    tc = acs.wait_msg("TransferComplete", S1, count=2)
    assert (tc.field("CommandKey"), tc.field("FaultCode")) == ("gone", "9016")
    r = acs.call(S1, Rpc.download("ftp://127.0.0.1/x", key="ftp"), "DownloadResponse")
    assert r.fault() == (9013, [])


def test_upload(env):
    acs, files = env
    acs.call(S1, Rpc.spv([("Device.WiFi.SSID.1.SSID", "uploaded", "xsd:string")]), "SetParameterValuesResponse")
    acs.call(S1, Rpc.upload(files.url + "/cfg/SIM000001", key="up"), "UploadResponse")
    tc = acs.wait_msg("TransferComplete", S1)
    assert (tc.field("CommandKey"), tc.field("FaultCode")) == ("up", "0")
    path, body = files.uploads[0]
    assert path == "/cfg/SIM000001"
    lines = body.decode().splitlines()
    assert lines[0] == "# cpe-sim SIM000001 configuration"
    assert "Device.WiFi.SSID.1.SSID=uploaded" in lines
    # the whole configuration, the settings the ACS never touched too, and no state
    assert "Device.WiFi.SSID.2.SSID=Outpost-5G" in lines
    assert len(lines) > 100
    assert not [l for l in lines if l.startswith("Device.DeviceInfo.UpTime=")]
    inf = acs.wait_inform("M Upload", S1)
    assert ("M Upload", "up") in inf.events()


def test_server_without_range_and_post_only_upload(env):
    acs, files = env
    acs.call(S1, Rpc.download(files.url + "/whole.bin", size=len(FIRMWARE), key="whole",
                              ftype="3 Vendor Configuration File"), "DownloadResponse")
    tc = acs.wait_msg("TransferComplete", S1)
    assert (tc.field("CommandKey"), tc.field("FaultCode")) == ("whole", "0")
    assert files.whole == 1  # the 200 carried the whole file: no second request
    acs.call(S1, Rpc.upload(files.url + "/post-only/log", key="post", ftype="2 Vendor Log File"), "UploadResponse")
    tc = acs.wait_msg("TransferComplete", S1, count=2)
    assert (tc.field("CommandKey"), tc.field("FaultCode")) == ("post", "0")
    assert [p for p, _ in files.posts] == ["/post-only/log"] and files.uploads == []
    assert b"cpe-sim SIM000001: log upload requested" in files.posts[0][1]
