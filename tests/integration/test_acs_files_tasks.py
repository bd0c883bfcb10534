"""outpost acs + cpe-sim: download and upload tasks that name a file of the
ACS's file store. The ACS fills in URL, size, type and credentials; the
CPE's TransferComplete (after the firmware's reboot, in a later session)
finishes the task with its times or its fault; uploads land in the store."""
import hashlib
from urllib.parse import quote

import pytest
import requests

from acs_api import AcsApi

TOKEN = "files-tasks-token"
DEV1 = quote("ACDE48-OP%2D1000-SIM000001", safe="")
DEV2 = quote("ACDE48-OP%2D1000-SIM000002", safe="")


class Api(AcsApi):
    def __init__(self, d):
        super().__init__(d, TOKEN)

    def task(self, dev, typ, params, wait=20, status=201):
        return self.post_task(dev, {"type": typ, "parameters": params}, wait, status)


@pytest.fixture
def system(outpost, tmp_path):
    acs = outpost("acs", "--cwmp-listen", "127.0.0.1:0", "--api-listen", "127.0.0.1:0",
                  "--data-dir", str(tmp_path / "acs"), "--api-token", TOKEN,
                  "--cpe-auth", "digest", "--cpe-username", "cpe", "--cpe-password", "cpe-pw",
                  "--cr-username", "cr", "--cr-password", "cr-pw", "--max-file-size", "2MiB",
                  "--cr-deny", "169.254.0.0/16")  # cpe-sim's connection requests are on loopback
    host, port = acs.addr("listen")
    sim = outpost("cpe-sim", "--acs", "http://%s:%d/" % (host, port), "--count", "2",
                  "--cr-listen", "127.0.0.1:0", "--stats-interval", "0", "--reboot-time", "200ms",
                  "--username", "cpe", "--password", "cpe-pw", "--cr-username", "cr", "--cr-password", "cr-pw")
    api = Api(acs)
    api.until("/api/devices", lambda v: len(v) == 2)
    return acs, sim, api


def put_file(api, name, data, **params):
    r = api.s.put(api.base + "/api/files/" + name, data=data, params=params, timeout=60)
    assert r.status_code == 201, r.text
    return r.json()


def test_download_of_a_stored_file(system):
    acs, sim, api = system
    fw = bytes(range(256)) * 6000  # 1.5 MB: two Range requests of cpe-sim's 1 MiB
    put_file(api, "fw-1.2.bin", fw, file_type="1 Firmware Upgrade Image", version="1.2")
    t = api.task(DEV1, "download", {"file": "fw-1.2.bin"})
    assert t["parameters"] == {"file": "fw-1.2.bin"}       # the URL is filled in when sent
    assert t["status"] in ("sent", "done"), t
    # the firmware reboots the CPE; TransferComplete comes in the session after
    t = api.until("/api/tasks/%d" % t["id"], lambda v: v["status"] != "sent")
    assert t["status"] == "done" and t["fault"] is None, t
    r = t["result"]
    assert r["fault_code"] == 0 and r["start_time"] and r["complete_time"], t
    assert r["start_time"] <= r["complete_time"]
    m = sim.wait_for(r"download_done cpe=SIM000001 url=(\S+) bytes=(\d+) fault=0")
    assert m.group(1) == "%s/files/fw-1.2.bin" % acs.url("listen") and int(m.group(2)) == len(fw)
    sim.wait_for(r"reboot cpe=SIM000001")
    # the ranges the CPE asked for were served as such
    acs.wait_for(r"cwmp_transfer_complete device=ACDE48-OP%%2D1000-SIM000001 command_key=task-%d fault=0"
                 % t["id"])


def test_download_with_file_credentials(system):
    acs, sim, api = system
    # over 1 MiB: several range requests, each needing its own Digest answer
    put_file(api, "locked.bin", b"L" * 1_200_000, file_type="3 Vendor Configuration File",
             username="dl", password="dl-pw")
    assert requests.get(acs.url("listen") + "/files/locked.bin", timeout=10).status_code == 401
    t = api.task(DEV2, "download", {"file": "locked.bin"})
    t = api.until("/api/tasks/%d" % t["id"], lambda v: v["status"] not in ("pending", "sent"))
    assert t["status"] == "done", t
    sim.wait_for(r"download_done cpe=SIM000002 .* bytes=1200000 fault=0")


def test_failed_download_fault_on_the_task(system):
    acs, sim, api = system
    put_file(api, "small.bin", b"x" * 1000, file_type="3 Vendor Configuration File")
    # the operator announces a size the file does not have: the CPE refuses it
    t = api.task(DEV1, "download", {"file": "small.bin", "file_size": 4000})
    t = api.until("/api/tasks/%d" % t["id"], lambda v: v["status"] not in ("pending", "sent"))
    assert t["status"] == "failed", t
    assert t["fault"]["code"] == 9010 and "size" in t["fault"]["message"], t
    assert t["result"]["fault_code"] == 9010 and t["result"]["complete_time"]


def test_download_of_a_missing_file_is_refused(system):
    acs, sim, api = system
    t = api.task(DEV1, "download", {"file": "never-stored.bin"}, status=422)
    assert t["error"] == "invalid_task" and t["message"] == "file: no stored file 'never-stored.bin'"
    assert not [x for x in api.get("/api/devices/%s/tasks" % DEV1) if x["type"] == "download"]


def test_task_validation(system):
    acs, sim, api = system
    for params, word in (({"file": "a/b"}, "file"), ({"file": ".x"}, "file"),
                         ({"file": "a.bin", "url": "http://x/a"}, "url, file"), ({}, "url")):
        r = api.s.post("%s/api/devices/%s/tasks" % (api.base, DEV1),
                       json={"type": "download", "parameters": params}, timeout=30)
        assert r.status_code == 422 and r.json()["message"].startswith(word), (params, r.text)


def test_upload_into_the_store(system):
    acs, sim, api = system
    t = api.task(DEV2, "upload", {"file": "backup-sim2.cfg", "file_type": "1 Vendor Configuration File"})
    t = api.until("/api/tasks/%d" % t["id"], lambda v: v["status"] not in ("pending", "sent"))
    assert t["status"] == "done", t
    assert t["result"]["start_time"] and t["result"]["complete_time"]
    f = api.get("/api/files/backup-sim2.cfg")
    assert f["task_id"] == t["id"] and f["file_type"] == "1 Vendor Configuration File" and f["size"] > 0
    body = api.s.get(api.base + "/api/files/backup-sim2.cfg/content", timeout=30).content
    assert hashlib.sha256(body).hexdigest() == f["sha256"]
    assert b"Device.DeviceInfo.SerialNumber" in body or b"SIM000002" in body, body[:300]
    m = sim.wait_for(r"upload_done cpe=SIM000002 url=(\S+) .*fault=0")
    url = m.group(1)
    assert "/uploads/%d-" % t["id"] in url
    # the URL worked once: the task is finished, a second PUT is refused, the file unchanged
    r = requests.put(url, data=b"replaced", timeout=10)
    assert r.status_code == 403
    assert api.get("/api/files/backup-sim2.cfg")["sha256"] == f["sha256"]
    # a forged token is refused before any byte is taken
    forged = url[:-4] + ("0000" if not url.endswith("0000") else "1111")
    assert requests.put(forged, data=b"x", timeout=10).status_code == 404
    assert requests.put(acs.url("listen") + "/uploads/%d" % t["id"], data=b"x", timeout=10).status_code == 404


def test_preset_download_of_a_stored_file(system):
    """A preset's `file` download becomes a task with the file's URL on the
    CWMP listener, resolved like a task naming the file (size, credentials)."""
    acs, sim, api = system
    put_file(api, "cfg-2.bin", b"C" * 3000, file_type="3 Vendor Configuration File",
             username="pd", password="pd-pw")
    r = api.s.put(api.base + "/api/presets/cfg", timeout=30, json={
        "events": ["6 CONNECTION REQUEST"],
        "match": [{"field": "serial_number", "op": "=", "value": "SIM000002"}],
        "provisions": [{"type": "download", "file": "cfg-2.bin", "file_type": "3 Vendor Configuration File"}]})
    assert r.status_code == 201, r.text
    r = api.s.post(api.base + "/api/devices/%s/connection-request" % DEV2, timeout=30)
    assert r.status_code == 200, r.text
    tasks = api.until("/api/devices/%s/tasks" % DEV2,
                      lambda v: any(t["type"] == "download" and t["status"] not in ("pending", "sent")
                                    for t in v))
    t = [t for t in tasks if t["type"] == "download"][0]
    assert t["status"] == "done", t
    assert t["parameters"]["url"] == acs.url("listen") + "/files/cfg-2.bin"
    sim.wait_for(r"download_done cpe=SIM000002 .* bytes=3000 fault=0")


def test_rollout_to_many_cpes(outpost, tmp_path):
    """One firmware file to 30 simulated CPEs at once: every download is
    served whole (1 MiB ranges, in parallel), every task is done after its
    CPE's reboot, and the file's bytes are what each CPE counted."""
    n = 30
    acs = outpost("acs", "--cwmp-listen", "127.0.0.1:0", "--api-listen", "127.0.0.1:0",
                  "--data-dir", str(tmp_path / "acs"), "--api-token", TOKEN, "--cpe-auth", "none",
                  "--cr-username", "cr", "--cr-password", "cr-pw", "--cr-deny", "169.254.0.0/16")
    host, port = acs.addr("listen")
    sim = outpost("cpe-sim", "--acs", "http://%s:%d/" % (host, port), "--count", str(n),
                  "--cr-listen", "127.0.0.1:0", "--stats-interval", "0", "--reboot-time", "200ms",
                  "--cr-username", "cr", "--cr-password", "cr-pw")
    api = Api(acs)
    devs = api.until("/api/devices", lambda v: len(v) == n, timeout=60)
    fw = bytes((i * 7) & 0xFF for i in range(1_300_000))
    put_file(api, "fw-3.0.bin", fw, file_type="1 Firmware Upgrade Image", version="3.0")
    ids = [api.task(quote(d["id"], safe=""), "download", {"file": "fw-3.0.bin"}, wait=0)["id"] for d in devs]
    for tid in ids:
        t = api.until("/api/tasks/%d" % tid, lambda v: v["status"] not in ("pending", "sent"), timeout=120)
        assert t["status"] == "done", t
    done = [l for l in sim.lines if "download_done" in l and "fault=0" in l]
    assert len(done) == n and all("bytes=%d" % len(fw) in l for l in done), done[:3]
