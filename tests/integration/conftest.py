"""Shared pytest fixtures for Outpost integration tests.

Run with Debian's interpreter: /usr/bin/python3 -m pytest tests/integration
The binary under test is $OUTPOST_BIN (make test points it at the ASan+UBSan
build) or build/release/src/outpost.

`outpost` (fixture) starts daemons: outpost("relay", "--listen", "127.0.0.1:0")
returns a Daemon once its `ready <name> key=value ...` line appeared, with the
fields parsed (d.fields["listen"]). On teardown every daemon gets SIGTERM and
must exit 0 within the drain timeout with no sanitizer report in its output.
"""
import hashlib
import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared"
SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                   "SUMMARY: UndefinedBehaviorSanitizer", "AddressSanitizer:DEADLYSIGNAL")
READY_RE = re.compile(r"\bready (\S+)((?: \S+=\S+)*)")


# The subcommands with an --admin-listen (see the README's port table).
ADMIN_DAEMONS = {"acs", "cwmp-proxy", "relay", "relay-client", "relay-connector", "gateway", "agent",
                 "cpe-sim"}


def outpost_bin():
    b = os.environ.get("OUTPOST_BIN") or str(ROOT / "build" / "release" / "src" / "outpost")
    if not os.path.exists(b):
        pytest.fail(f"outpost binary not found at {b}: run `make build` first")
    return b


def _port_pool():
    """Ports below the kernel's ephemeral range: a port handed out from there
    cannot be taken by some client's outgoing connection between free_port()
    and the daemon's bind (port 0 picks from the ephemeral range, which is
    exactly where connect() takes its local ports). The start is derived from
    the pid so that two test runs on one machine walk different ports."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low = int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    first, last = 10000, max(10001, min(low, 65536))
    span = last - first
    start = (os.getpid() * 7919) % span
    i = 0
    while True:
        yield first + (start + i) % span
        i += 1


_PORTS = _port_pool()


def _bindable(port):
    for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
        with socket.socket(socket.AF_INET, kind) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                return False
    return True


def free_port():
    """A TCP and UDP port on 127.0.0.1 that nothing holds now and that no
    earlier call in this run returned."""
    for _ in range(1000):
        port = next(_PORTS)
        if _bindable(port):
            return port
    raise RuntimeError("no free port below the ephemeral range")


class Daemon:
    """One outpost process; stderr is collected in .lines by a reader thread.
    exe: the command that stands for the binary (default: OUTPOST_BIN), e.g.
    a cross-built agent under qemu-user."""

    def __init__(self, args, env=None, cwd=None, preexec_fn=None, exe=None):
        self.args = list(exe or [outpost_bin()]) + list(args)
        self.name = args[0]
        self.lines = []
        self.fields = {}
        self._cv = threading.Condition()
        e = dict(os.environ)
        e.update(env or {})
        self.proc = subprocess.Popen(self.args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, env=e, cwd=cwd, text=True,
                                     errors="replace", preexec_fn=preexec_fn)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        for line in self.proc.stdout:
            with self._cv:
                self.lines.append(line.rstrip("\n"))
                self._cv.notify_all()
        with self._cv:
            self._cv.notify_all()

    def output(self):
        with self._cv:
            return "\n".join(self.lines)

    def wait_for(self, pattern, timeout=10.0, start=0):
        """Wait for a log line matching regex `pattern`; returns the match."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self._cv:
            i = start
            while True:
                while i < len(self.lines):
                    m = rx.search(self.lines[i])
                    if m:
                        return m
                    i += 1
                left = deadline - time.monotonic()
                if left <= 0 or (self.proc.poll() is not None and i >= len(self.lines)):
                    raise AssertionError(f"{self.name}: no line matching {pattern!r} "
                                         f"(exit={self.proc.poll()}); output:\n" + "\n".join(self.lines[-60:]))
                self._cv.wait(min(left, 0.2))

    def wait_ready(self, timeout=15.0):
        m = self.wait_for(r"\bready " + re.escape(self.name) + r"\b", timeout)
        line = m.string
        for k, v in re.findall(r"(\S+)=(\S+)", line[m.end():]):
            self.fields[k] = v
        return self

    def addr(self, key="listen"):
        host, port = self.fields[key].rsplit(":", 1)
        return host.strip("[]"), int(port)

    def url(self, key="listen", scheme="http"):
        host, port = self.addr(key)
        return f"{scheme}://{host}:{port}"

    def signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self, timeout=20.0, expect_rc=0):
        """SIGTERM, then assert a clean exit: expected code, no sanitizer report."""
        self._stopped = True
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"{self.name} did not exit within {timeout}s of SIGTERM:\n"
                                 + self.output()[-4000:])
        self._reader.join(5)
        out = self.output()
        for mark in SANITIZER_MARKS:
            assert mark not in out, f"{self.name}: sanitizer report:\n{out[-8000:]}"
        assert rc == expect_rc, f"{self.name} exited {rc}, expected {expect_rc}:\n{out[-4000:]}"
        return rc

    def kill(self):
        """SIGKILL (crash simulation); teardown then skips the clean-exit check."""
        self._stopped = True
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def outpost(tmp_path):
    """Factory: outpost(subcommand, *args, ready=True, env=None) -> Daemon.
    preexec_fn runs in the child before the exec (e.g. resource.setrlimit);
    exe replaces the binary (see Daemon)."""
    started = []
    dbs_before = set(_pg["dbs"])

    def start(*args, ready=True, env=None, timeout=15.0, cwd=None, preexec_fn=None, exe=None):
        # Every daemon has an admin listener on a fixed loopback port by
        # default; tests run several at once, so each gets a free one unless
        # the test chose (or a config file does).
        if args and args[0] in ADMIN_DAEMONS and not any(
                a == "--admin-listen" or a.startswith("--admin-listen=") or a == "--config"
                for a in args):
            args = tuple(args) + ("--admin-listen", "127.0.0.1:0")
        args = with_test_db(args, cwd or tmp_path)
        d = Daemon(args, env=env, cwd=cwd or tmp_path, preexec_fn=preexec_fn, exe=exe)
        started.append(d)
        if ready:
            d.wait_ready(timeout)
        return d

    yield start
    errors = []
    for d in reversed(started):
        if getattr(d, "_stopped", False):
            continue
        try:
            d.stop()
        except AssertionError as e:
            errors.append(str(e))
    _pg_drop(set(_pg["dbs"]) - dbs_before)
    if errors:
        pytest.fail("\n\n".join(errors))


def run_outpost(*args, timeout=60, **kw):
    """Run a one-shot subcommand (certs...) and return CompletedProcess."""
    args = with_test_db(args, kw.get("cwd"))
    return subprocess.run([outpost_bin()] + list(args), capture_output=True, text=True,
                          timeout=timeout, **kw)


@pytest.fixture
def shared_dir():
    """../shared (CWMP schemas, data models); tests needing it skip without it."""
    if not (SHARED / "cwmp" / "validate-soap").exists():
        pytest.skip("../shared/cwmp not present")
    return SHARED


@pytest.fixture(scope="session")
def pki(tmp_path_factory):
    """A throwaway PKI made with the openssl CLI: ca.pem, server/server2
    (SAN 127.0.0.1, localhost), client (O=Outpost Test, CN=client) signed by
    it, and rogue.pem/key signed by an unrelated CA. Returns name -> path."""
    d = tmp_path_factory.mktemp("pki")

    def sh(*args):
        subprocess.run(args, cwd=d, check=True, capture_output=True)

    def ca(name, cn):
        sh("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
           "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.pem", "-days", "2",
           "-subj", f"/O=Outpost Test/CN={cn}")

    def leaf(name, cn, ca_name):
        sh("openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
           "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/O=Outpost Test/CN={cn}")
        (d / f"{name}.ext").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
        sh("openssl", "x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca_name}.pem", "-CAkey",
           f"{ca_name}.key", "-CAcreateserial", "-out", f"{name}.pem", "-days", "2",
           "-extfile", f"{name}.ext")

    ca("ca", "Outpost Test Root")
    ca("rogue-ca", "Rogue Root")
    leaf("server", "server", "ca")
    leaf("server2", "server2", "ca")
    leaf("client", "client", "ca")
    leaf("rogue", "client", "rogue-ca")
    return {p.name: str(p) for p in d.iterdir()}


# --- OUTPOST_TEST_DB=postgres: every ACS on a PostgreSQL database -----------
# One throwaway server per pytest session (tests/pg_server.py, started at the
# first ACS); each ACS data directory gets a database of its own, so a test
# that restarts an ACS on the same --data-dir finds its data again, and the
# `outpost acs keys` CLI pointed at that directory opens the same database.
# An ACS the test gives --db itself (or a config file with a db key) is left
# alone.
PG_MODE = os.environ.get("OUTPOST_TEST_DB", "sqlite") == "postgres"
_pg = {"server": None, "dbs": {}}


def pg_server_module():
    """tests/pg_server.py, for a test that runs a PostgreSQL server of its own."""
    if str(ROOT / "tests") not in sys.path:
        sys.path.insert(0, str(ROOT / "tests"))
    import pg_server  # pylint: disable=import-outside-toplevel
    return pg_server


@pytest.fixture
def pg_dir():
    """A PostgreSQL server of the test's own (tests/pg_server.py) in a
    temporary directory (not under pytest's, which the server's user cannot
    enter); the test is skipped without the server binaries. test_acs_pg.py
    has one per module."""
    pg = pg_server_module()
    d = tempfile.mkdtemp(prefix="outpost-pg-")
    try:
        pg.start(d)
    except pg.PgMissing as e:
        pytest.skip(str(e))
    yield d
    pg.stop(d)


def _pg_server():
    if _pg["server"] is None:
        pg_server = pg_server_module()
        srv = pg_server.PgServer()
        try:
            srv.__enter__()
        except pg_server.PgMissing as e:
            pytest.skip(f"OUTPOST_TEST_DB=postgres: {e}")
        _pg["server"], _pg["mod"] = srv, pg_server
    return _pg["server"]


def _pg_url(name):
    srv = _pg_server()
    return srv.url.replace("postgresql:///postgres?", f"postgresql:///{name}?", 1)


def acs_pg_url(data_dir):
    """The PostgreSQL URL of the ACS whose data directory is data_dir (its
    database created on first use)."""
    key = os.path.realpath(str(data_dir))
    if key not in _pg["dbs"]:
        _pg["seq"] = _pg.get("seq", 0) + 1
        name = "acs_%d" % _pg["seq"]
        psql(_pg_url("postgres"), f"CREATE DATABASE {name}")
        _pg["dbs"][key] = _pg_url(name)
    return _pg["dbs"][key]


def _pg_drop(keys):
    """Drop the databases made for these data directories (the test is over)."""
    if not keys or _pg["server"] is None:
        return
    names = [_pg["dbs"].pop(k).split(":///", 1)[1].split("?", 1)[0] for k in keys]
    psql(_pg_url("postgres"), "".join(f"DROP DATABASE IF EXISTS {n} WITH (FORCE);\n" for n in names))


def psql(url, sql):
    """Run SQL through psql on url; returns its unaligned, tuples-only stdout."""
    _pg_server()
    r = subprocess.run([_pg["mod"].psql(), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
                        "-d", url], input=sql, capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        raise AssertionError(f"psql failed: {r.stderr}\nSQL: {sql[:2000]}")
    return r.stdout


def _acs_data_dir(args, cwd):
    """The data directory an `outpost acs ...` command line uses, or None when
    it names its store itself (--db, or a config file's db key)."""
    args = list(args)
    if any(a == "--db" or a.startswith("--db=") for a in args):
        return None
    data = None
    for i, a in enumerate(args):
        if a == "--config" and i + 1 < len(args):
            import yaml  # pylint: disable=import-outside-toplevel
            cfg = yaml.safe_load(Path(args[i + 1]).read_text()) or {}
            if "db" in cfg:
                return None
            data = cfg.get("data-dir", cfg.get("data_dir", data))
    for i, a in enumerate(args):
        if a == "--data-dir" and i + 1 < len(args):
            data = args[i + 1]
        elif a.startswith("--data-dir="):
            data = a.split("=", 1)[1]
    if data is None:
        data = "acs-data"
    return os.path.join(str(cwd or os.getcwd()), data)


def _opens_acs_store(args):
    """Whether args run an ACS or its keys CLI (not just --help/--version)."""
    return bool(args) and args[0] == "acs" and not any(a in ("--help", "-h", "--version")
                                                       for a in args)


def with_test_db(args, cwd=None):
    """args with `--db` a PostgreSQL database when OUTPOST_TEST_DB=postgres
    and args start an ACS (or its keys CLI) that names no store itself."""
    args = tuple(args)
    if not _opens_acs_store(args):
        return args
    _acs_run["started"] = True
    if not PG_MODE:
        return args
    d = _acs_data_dir(args[1:], cwd)
    if d is None:
        return args
    extra = ("--db", acs_pg_url(d))
    # One node per data directory, with a fixed --node-id as docs/scaling.md
    # advises: an ACS restarted on it takes its own leased tasks back at once
    # (with the default HOST-PID it would wait for their leases to run out).
    if args[1:2] != ("keys",) and not any(a == "--node-id" or a.startswith("--node-id=")
                                          for a in args):
        key = hashlib.sha1(os.path.realpath(str(d)).encode()).hexdigest()[:12]
        extra += ("--node-id", f"test-{key}")
    return args + extra


def _sql_lit(v):
    if v is None:
        return "NULL"
    if isinstance(v, bool):
        return "1" if v else "0"
    if isinstance(v, (int, float)):
        return repr(v)
    return "'" + str(v).replace("'", "''") + "'"


def _bind(sql, params):
    """SQLite-style ? placeholders filled in as literals (tests' own SQL only)."""
    parts = sql.split("?")
    assert len(parts) == len(params) + 1, (sql, params)
    out = parts[0]
    for p, rest in zip(params, parts[1:]):
        out += _sql_lit(p) + rest
    return out


class AcsDb:
    """The store of the ACS whose data directory is data_dir, for a test's
    own SQL (the schema is the same on both backends): the SQLite file
    DATA_DIR/acs.db, or the test's PostgreSQL database. .pg says which, for
    the few statements whose dialect differs."""

    def __init__(self, data_dir):
        self.dir = Path(data_dir)
        self.pg = PG_MODE
        self.url = acs_pg_url(self.dir) if self.pg else None

    def query(self, sql, params=()):
        """Rows as tuples (ints as ints, text as str, NULL as None)."""
        if not self.pg:
            db = sqlite3.connect(f"file:{self.dir / 'acs.db'}?mode=ro", uri=True, timeout=10)
            try:
                return db.execute(sql, params).fetchall()
            finally:
                db.close()
        out = psql(self.url, "SELECT coalesce(json_agg(t), '[]') FROM (%s) t" % _bind(sql, params))
        return [tuple(r.values()) for r in json.loads(out)]

    def execute(self, sql, params=()):
        self.executemany(sql, [params])

    def executemany(self, sql, rows):
        self.script([(sql, p) for p in rows])

    def script(self, stmts):
        """(sql, params) pairs in one transaction."""
        if not self.pg:
            db = sqlite3.connect(self.dir / "acs.db", timeout=10)
            try:
                with db:
                    for sql, p in stmts:
                        db.execute(sql, p)
            finally:
                db.close()
            return
        psql(self.url, "BEGIN;\n" + "".join(_bind(s, p) + ";\n" for s, p in stmts) + "COMMIT;\n")

    def dump(self):
        """Every byte the store holds (the SQLite file and its WAL; pg_dump)."""
        if not self.pg:
            return b"".join(p.read_bytes() for p in self.dir.iterdir() if p.name.startswith("acs.db"))
        pgd = os.path.join(os.path.dirname(_pg["mod"].psql()), "pg_dump")
        return subprocess.run([pgd, "-d", self.url], capture_output=True, check=True,
                              timeout=120).stdout


def acs_db(data_dir):
    return AcsDb(data_dir)


# --- Which tests make test runs on PostgreSQL too ---------------------------
# The second pass is `pytest -m acs tests/integration` with
# OUTPOST_TEST_DB=postgres (Makefile). A test carries the mark `acs` by its
# file's name (ACS_TEST_FILES) or by pytest.mark.acs (on the test, or
# `pytestmark` on its module). A test that starts an `outpost acs` (or runs
# `outpost acs keys`) without the mark fails at teardown, in either pass, so
# a new ACS test cannot be left out of the PostgreSQL pass unnoticed. Start
# every daemon through the `outpost` fixture or run_outpost(): both map an
# ACS to its database (with_test_db) and note it here; a bare Popen would not.
ACS_TEST_FILES = ("test_acs_", "test_dash_")
_acs_run = {"started": False}


def pytest_configure(config):
    config.addinivalue_line("markers", "acs: the test starts an outpost acs; make test runs it "
                            "once more with every ACS on PostgreSQL (OUTPOST_TEST_DB=postgres)")


@pytest.hookimpl(tryfirst=True)  # before -m deselects by the marks
def pytest_collection_modifyitems(items):
    for item in items:
        if item.path.name.startswith(ACS_TEST_FILES):
            item.add_marker(pytest.mark.acs)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):  # pylint: disable=unused-argument
    _acs_run["started"] = False


@pytest.fixture(autouse=True)
def _acs_tests_are_marked(request):
    yield
    if _acs_run["started"] and request.node.get_closest_marker("acs") is None:
        pytest.fail("this test starts an outpost acs but is not marked `acs`: add "
                    "@pytest.mark.acs (or `pytestmark = pytest.mark.acs` in its module) so that "
                    "make test runs it on PostgreSQL too (conftest.py, ACS_TEST_FILES)",
                    pytrace=False)


@pytest.fixture(scope="session", autouse=True)
def _pg_session():
    """Stops the session's PostgreSQL server (started on first use)."""
    yield
    if _pg["server"] is not None:
        _pg["server"].__exit__(None, None, None)
        _pg["server"] = None


# the dashboard's browser fixtures (browser, dash_system, dash): tests/integration/browser.py
from browser import browser, dash, dash_system  # noqa: E402,F401 pylint: disable=wrong-import-position,unused-import
