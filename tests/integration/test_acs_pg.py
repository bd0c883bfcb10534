"""outpost acs on PostgreSQL (--db postgres://...): a CPE's sessions and its
tasks through the API, what is stored surviving a crash of the daemon, an
outage of the server the ACS rides out by itself, and `outpost acs keys`
beside a running daemon. The store's semantics call by call are the unit
tests' (suite store-pg); this is the daemon on a real server. Skipped when
the PostgreSQL binaries are missing."""
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from conftest import run_outpost
from cwmp_cpe import CPE, acs_envelopes_valid  # noqa: F401 (autouse: validates what the ACS sent)
from test_acs_session import Api, cwmp_addr, start_acs
from test_acs_tasks import DEV, gpv_response

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import pg_server  # noqa: E402 pylint: disable=wrong-import-position

NAME = "InternetGatewayDevice.DeviceInfo.UpTime"


@pytest.fixture(scope="module")
def pg_dir():
    """A throwaway server for this file's tests; its directory (not under
    pytest's, which the server's user cannot enter)."""
    d = tempfile.mkdtemp(prefix="outpost-pg-")
    try:
        pg_server.start(d)
    except pg_server.PgMissing as e:
        pytest.skip(str(e))
    yield d
    pg_server.stop(d)


@pytest.fixture
def db(pg_dir, request):
    """A fresh database for one test: its URL."""
    name = "acs_" + request.node.name.lower().replace("[", "_").replace("]", "")
    subprocess.run([pg_server.psql(), "-X", "-q", "-d", pg_server.url(pg_dir), "-c",
                    f"CREATE DATABASE {name}"], check=True, capture_output=True)
    return pg_server.url(pg_dir).replace("/postgres?", f"/{name}?")


def session_gpv(cpe, task, value):
    r = cpe.inform("T1")
    assert r.rpc == "InformResponse"
    r = cpe.post()
    assert r.rpc == "GetParameterValues" and r.id == str(task)
    r = cpe.answer(r, gpv_response([(NAME, value, "xsd:unsignedInt")]))
    assert r.status == 204


def test_sessions_tasks_and_a_crash(outpost, tmp_path, db):
    d = start_acs(outpost, tmp_path, "--cpe-auth", "none", "--db", db)
    d.wait_for(r"store_migrated backend=pg version=12")
    api = Api(d)
    cpe = CPE(cwmp_addr(d))
    assert cpe.inform("T1").rpc == "InformResponse"
    assert cpe.post().status == 204
    base = f"/api/devices/{DEV}/tasks"
    ids = []
    for value in ("5", "6"):
        t = api.post(base, {"type": "get_params", "parameters": {"names": [NAME]}})
        assert t.status_code == 201, t.text
        ids.append(t.json()["id"])
        session_gpv(cpe, ids[-1], value)
    b = api.post(base, {"type": "reboot"}).json()["id"]
    cpe.close()
    d.kill()  # no clean close: what was committed stays

    d = start_acs(outpost, tmp_path, "--cpe-auth", "none", "--db", db)
    api = Api(d)
    st = {t["id"]: t for t in api.get(base).json()}
    assert [st[i]["status"] for i in ids] == ["done", "done"]
    assert st[b]["status"] == "pending"
    p = api.get(f"/api/devices/{DEV}/parameters", params={"prefix": NAME}).json()
    assert [(x["name"], x["value"], x["set_by"]) for x in p] == [(NAME, "6", "cpe")]
    h = api.get(f"/api/devices/{DEV}/parameters/history", params={"name": NAME}).json()
    assert [x["value"] for x in h] == ["6", "5"]
    assert [x["current"] for x in h] == [True, False]
    dev = api.get(f"/api/devices/{DEV}").json()
    assert dev["serial_number"] == "T1"
    sessions = api.get(f"/api/devices/{DEV}/sessions").json()
    assert len(sessions) == 3 and sessions[0]["rpcs"][0]["name"] == "GetParameterValues"
    stats = api.get("/api/stats").json()
    assert stats["total_devices"] == 1 and stats["pending_tasks"] == 1


def test_server_outage(outpost, tmp_path, db, pg_dir):
    d = start_acs(outpost, tmp_path, "--cpe-auth", "none", "--db", db)
    api = Api(d)
    cpe = CPE(cwmp_addr(d))
    assert cpe.inform("T1").rpc == "InformResponse"
    assert cpe.post().status == 204
    cpe.close()
    # the test server commits without waiting for its WAL (synchronous_commit
    # off) and stops as if it crashed: a checkpoint first keeps what was committed
    subprocess.run([pg_server.psql(), "-X", "-q", "-d", db, "-c", "CHECKPOINT"], check=True,
                   capture_output=True)
    pg_server.stop(pg_dir, keep=True)  # the server goes away (data kept)
    try:
        r = api.get(f"/api/devices/{DEV}")
        assert r.status_code == 503 and "store" in r.text and r.headers.get("Retry-After"), r.text
        assert api.get(f"/api/devices/{DEV}").status_code == 503  # still down
        d.wait_for(r"store_pg op=\S+ reason=")
    finally:
        pg_server.start(pg_dir)
    # the next request reconnects: nothing to restart, nothing lost
    deadline = time.time() + 15
    while True:
        r = api.get(f"/api/devices/{DEV}")
        if r.status_code == 200 or time.time() > deadline:
            break
        time.sleep(0.2)
    assert r.status_code == 200 and r.json()["serial_number"] == "T1"
    d.wait_for(r"store_pg_reconnected")
    cpe = CPE(cwmp_addr(d))
    assert cpe.inform("T1").rpc == "InformResponse"
    assert cpe.post().status == 204
    # one line for the outage, not one per failed call
    assert len([x for x in d.lines if "error store_pg " in x]) <= 2, d.lines


def test_keys_cli_beside_the_daemon(outpost, tmp_path, db):
    d = start_acs(outpost, tmp_path, "--cpe-auth", "none", "--db", db)
    add = run_outpost("acs", "keys", "add", "--db", db, "--name", "ops", "--role", "operator")
    assert add.returncode == 0, add.stderr
    token = add.stdout.strip().splitlines()[-1]
    d.wait_for(r"api_keys_loaded keys=1 ")
    api = Api(d)
    api.s.headers["Authorization"] = f"Bearer {token}"
    r = api.get("/api/devices")
    assert r.status_code == 200, r.text
    api.s.headers["Authorization"] = "Bearer opk_nope"
    assert api.get("/api/devices").status_code == 401
    # a database that is not there: a clear refusal, no password or URL echoed
    bad = db.replace("/acs_", "/nope_")
    r = run_outpost("acs", "keys", "list", "--db", bad)
    assert r.returncode != 0
    assert "cannot open the PostgreSQL database" in r.stderr and bad not in r.stderr
