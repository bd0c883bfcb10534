"""outpost acs: a CWMP session is stored before its 204. The empty 204 that
ends a session tells the CPE its session is over; the ACS sends it only once
the session's row (GET /api/devices/{id}/sessions) has committed, so a crash
right after the 204 loses nothing the CPE was told. When the row cannot be
stored (the database locked past the busy timeout, the PostgreSQL server
away) the CPE gets 503 with Retry-After, not 204."""
import signal
import socket
import sqlite3
import subprocess
import threading
import time

import pytest

from conftest import PG_MODE, acs_db, pg_server_module
from cwmp_cpe import CPE, acs_envelopes_valid  # noqa: F401 (autouse: validates what the ACS sent)
from test_acs_session import Api, cwmp_addr, start_acs
from test_acs_pg import db, pg_dir  # noqa: F401 (fixtures: a throwaway PostgreSQL server)

import pg_server  # tests/, on the path through test_acs_pg


def dev(sn):
    return f"00D09E-IGD-{sn}"


def test_session_row_survives_a_crash_right_after_its_204(outpost, tmp_path):
    """Twenty sessions, each killed (SIGKILL) the moment its 204 is read; after
    each restart the session's row is there."""
    d = start_acs(outpost, tmp_path, "--cpe-auth", "none")
    lost = []
    for i in range(20):
        cpe = CPE(cwmp_addr(d))
        assert cpe.inform(f"K{i}").rpc == "InformResponse"
        assert cpe.post().status == 204
        d.kill()
        cpe.close()
        d = start_acs(outpost, tmp_path, "--cpe-auth", "none")
        rows = Api(d).get(f"/api/devices/{dev(f'K{i}')}/sessions").json()
        if [s["outcome"] for s in rows] != ["ok"]:
            lost.append((i, rows))
    assert not lost, f"{len(lost)} of 20 sessions answered 204 but not stored: {lost}"


class Locked:
    """The ACS's store held by the test so that its store worker waits: the
    SQLite file write-locked (BEGIN IMMEDIATE: the worker waits out its busy
    timeout, 5 s, then fails its batch), or on PostgreSQL the sessions table
    locked by a psql of the test's (the worker waits out its lock_timeout,
    5 s, then fails the job)."""

    def __init__(self, data_dir):
        self.db = self.psql = None
        if PG_MODE:
            self.psql = subprocess.Popen(
                [pg_server_module().psql(), "-X", "-q", "-d", acs_db(data_dir).url],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            self.psql.stdin.write("BEGIN;\nLOCK TABLE sessions IN ACCESS EXCLUSIVE MODE;\n"
                                  "\\echo locked\n")
            self.psql.stdin.flush()
            assert self.psql.stdout.readline().strip() == "locked"
        else:
            self.db = sqlite3.connect(str(data_dir / "acs.db"), timeout=10, isolation_level=None)
            self.db.execute("BEGIN IMMEDIATE")

    def release(self):
        if self.db:
            self.db.execute("ROLLBACK")
            self.db.close()
            self.db = None
        if self.psql:
            self.psql.communicate("ROLLBACK;\n", timeout=30)
            self.psql = None


def post_in_thread(cpe):
    out = {}

    def run():
        out["reply"] = cpe.post()

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t, out


def test_204_waits_for_the_session_row(outpost, tmp_path):
    # the wait is longer than --session-timeout: an ended session has no timer
    d = start_acs(outpost, tmp_path, "--cpe-auth", "none", "--session-timeout", "1s")
    cpe = CPE(cwmp_addr(d))
    assert cpe.inform("W1").rpc == "InformResponse"
    lock = Locked(tmp_path / "data")
    try:
        t, out = post_in_thread(cpe)
        t.join(2.0)
        assert t.is_alive(), f"answered before the session row was stored: {out}"
    finally:
        lock.release()
    t.join(10)
    assert out["reply"].status == 204
    assert "cwmp_session_timeout" not in d.output()
    d.kill()  # the moment the 204 is in: the row is on disk already
    cpe.close()
    d = start_acs(outpost, tmp_path, "--cpe-auth", "none")
    rows = Api(d).get(f"/api/devices/{dev('W1')}/sessions").json()
    assert [s["outcome"] for s in rows] == ["ok"]


def test_503_when_the_session_row_cannot_be_stored(outpost, tmp_path):
    d = start_acs(outpost, tmp_path, "--cpe-auth", "none")
    api = Api(d)
    cpe = CPE(cwmp_addr(d))
    assert cpe.inform("W2").rpc == "InformResponse"
    lock = Locked(tmp_path / "data")
    try:
        t, out = post_in_thread(cpe)
        t.join(15)  # the worker gives up after its busy or lock timeout (5 s)
        assert not t.is_alive()
    finally:
        lock.release()
    r = out["reply"]
    assert r.status == 503 and r.headers.get("retry-after"), (r.status, r.headers)
    d.wait_for(r"warn cwmp_session_not_stored device=00D09E-IGD-W2 ")
    assert api.get(f"/api/devices/{dev('W2')}/sessions").json() == []
    # the CPE comes back: a session like any other, stored
    cpe.close()
    assert cpe.inform("W2").rpc == "InformResponse"
    assert cpe.post().status == 204
    rows = api.get(f"/api/devices/{dev('W2')}/sessions").json()
    assert [s["outcome"] for s in rows] == ["ok"]


def test_cpe_gone_before_the_row_committed(outpost, tmp_path):
    """The CPE closes its connection while the row's store job runs: the row
    is stored all the same, and the late 204 goes nowhere (no crash: the ASan
    build checks it)."""
    d = start_acs(outpost, tmp_path, "--cpe-auth", "none", "--log-level", "debug")
    api = Api(d)
    cpe = CPE(cwmp_addr(d))
    assert cpe.inform("G1").rpc == "InformResponse"
    lock = Locked(tmp_path / "data")
    try:
        # the empty POST with the session's cookie on a connection of its own
        s = socket.create_connection(cwmp_addr(d), timeout=10)
        s.sendall(b"POST / HTTP/1.1\r\nHost: acs\r\nCookie: %s\r\nContent-Length: 0\r\n\r\n"
                  % cpe.cookie.encode())
        d.wait_for(r"cwmp_session_end device=00D09E-IGD-G1 outcome=ok")  # the row's job is out
        s.close()
        cpe.close()
        time.sleep(0.3)  # the ACS sees the connection go first
    finally:
        lock.release()
    deadline = time.time() + 10
    while not (rows := api.get(f"/api/devices/{dev('G1')}/sessions").json()):
        assert time.time() < deadline
        time.sleep(0.1)
    assert [r["outcome"] for r in rows] == ["ok"]
    # the ACS goes on: the next session as usual
    assert cpe.inform("G1").rpc == "InformResponse"
    assert cpe.post().status == 204


def test_stopped_while_the_row_is_being_stored(outpost, tmp_path):
    """SIGTERM while the row's store job waits: the ACS commits it before it
    exits and the CPE gets its 204 then."""
    d = start_acs(outpost, tmp_path, "--cpe-auth", "none")
    cpe = CPE(cwmp_addr(d))
    assert cpe.inform("S1").rpc == "InformResponse"
    lock = Locked(tmp_path / "data")
    try:
        t, out = post_in_thread(cpe)
        t.join(0.5)
        assert t.is_alive()
        d.signal(signal.SIGTERM)
        d.wait_for(r"acs_stopping")
        time.sleep(0.3)
    finally:
        lock.release()
    t.join(10)
    assert out["reply"].status == 204
    d.stop()
    cpe.close()
    d = start_acs(outpost, tmp_path, "--cpe-auth", "none")
    rows = Api(d).get(f"/api/devices/{dev('S1')}/sessions").json()
    assert [r["outcome"] for r in rows] == ["ok"]


def test_503_when_the_database_is_away(outpost, tmp_path, db, pg_dir):  # noqa: F811
    """PostgreSQL: the server stops between the InformResponse and the empty
    POST; the session's end cannot be stored, so no 204."""
    d = start_acs(outpost, tmp_path, "--cpe-auth", "none", "--db", db)
    api = Api(d)
    cpe = CPE(cwmp_addr(d))
    assert cpe.inform("P1").rpc == "InformResponse"
    subprocess.run([pg_server.psql(), "-X", "-q", "-d", db, "-c", "CHECKPOINT"], check=True,
                   capture_output=True)  # the test server stops as if it crashed (see test_acs_pg)
    pg_server.stop(pg_dir, keep=True)
    try:
        r = cpe.post()
    finally:
        pg_server.start(pg_dir)
    assert r.status == 503 and r.headers.get("retry-after") == "10", (r.status, r.headers)
    d.wait_for(r"warn cwmp_session_not_stored device=00D09E-IGD-P1 ")
    cpe.close()
    deadline = time.time() + 15
    while (rows := api.get(f"/api/devices/{dev('P1')}/sessions")).status_code != 200:
        assert time.time() < deadline, rows.text
        time.sleep(0.2)
    assert rows.json() == []
    assert cpe.inform("P1").rpc == "InformResponse"
    assert cpe.post().status == 204
    rows = api.get(f"/api/devices/{dev('P1')}/sessions").json()
    assert [s["outcome"] for s in rows] == ["ok"]
