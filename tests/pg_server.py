#!/usr/bin/env python3
"""A throwaway PostgreSQL server for the tests (the store unit tests' suite
'store-pg' and, later, pytest fixtures).

The cluster lives in one directory: DIR/data (initdb), DIR/log, and the Unix
socket in DIR itself. No TCP (listen_addresses=''), fsync off (the data is
thrown away), trust authentication (only the socket, only this directory).
Root cannot run postgres: as root the server runs as the `postgres` system
user the package creates (else `nobody`), with DIR chowned to it.

  pg_server.py start DIR        start a cluster in DIR; prints its URL
                                ($OUTPOST_PG_OPTS: more "-c name=value"
                                server options, after the defaults)
  pg_server.py stop DIR         stop it and remove DIR (--keep: keep DIR)
  pg_server.py run -- CMD...    start one in a temp dir, run CMD with
                                OUTPOST_TEST_STORE_URL and OUTPOST_TEST_PSQL
                                set, stop it; CMD's exit code

Exit code 77 (meson's "skipped") when the PostgreSQL binaries are missing.
From Python: `with PgServer() as url: ...`, or start()/stop().
"""
import glob
import os
import pwd
import shutil
import subprocess
import sys
import tempfile

SKIP = 77
# the superuser initdb creates; every test connects as it
DB_USER = "postgres"


class PgMissing(Exception):
    pass


def bindir():
    """The PostgreSQL server binaries: $OUTPOST_PG_BIN, else 15, else the
    newest under /usr/lib/postgresql."""
    env = os.environ.get("OUTPOST_PG_BIN")
    cands = [env] if env else []
    cands.append("/usr/lib/postgresql/15/bin")
    cands += sorted(glob.glob("/usr/lib/postgresql/*/bin"),
                    key=lambda p: int(p.split("/")[-2]) if p.split("/")[-2].isdigit() else 0,
                    reverse=True)
    for d in cands:
        if all(os.access(os.path.join(d, b), os.X_OK) for b in ("initdb", "pg_ctl", "postgres")):
            return d
    raise PgMissing("PostgreSQL server binaries not found (initdb, pg_ctl under "
                    "/usr/lib/postgresql/*/bin or $OUTPOST_PG_BIN): apt-get install postgresql")


def psql():
    """The psql client next to the server binaries (for the tests' own SQL)."""
    p = os.path.join(bindir(), "psql")
    return p if os.access(p, os.X_OK) else (shutil.which("psql") or "psql")


def _run_as():
    """The command prefix and uid/gid the server runs under: itself when not
    root; as root the `postgres` user, else `nobody`."""
    if os.geteuid() != 0:
        return [], None
    for name in ("postgres", "nobody"):
        try:
            pw = pwd.getpwnam(name)
        except KeyError:
            continue
        return ["setpriv", "--reuid", str(pw.pw_uid), "--regid", str(pw.pw_gid),
                "--clear-groups", "--"], pw
    raise PgMissing("running as root and neither a `postgres` nor a `nobody` user exists")


def url(d):
    """The URL of the cluster in directory d (database `postgres`)."""
    return "postgresql:///postgres?host=%s&user=%s" % (os.path.abspath(d), DB_USER)


def _chown_tree(d, pw):
    os.chown(d, pw.pw_uid, pw.pw_gid)
    for root, dirs, files in os.walk(d):
        for n in dirs + files:
            os.lchown(os.path.join(root, n), pw.pw_uid, pw.pw_gid)


def start(d):
    """Start a cluster in directory d (created if missing); returns its URL."""
    bd = bindir()
    prefix, pw = _run_as()
    d = os.path.abspath(d)
    os.makedirs(d, exist_ok=True)
    os.chmod(d, 0o755)  # the server user must reach it; the socket lives here
    if pw:
        _chown_tree(d, pw)
    data = os.path.join(d, "data")
    log = os.path.join(d, "log")
    env = dict(os.environ, LC_ALL="C", LANG="C")
    # the sanitizers' options are the test binaries', not the server's
    for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"):
        env.pop(k, None)
    quiet = dict(stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, cwd=d)
    if not os.path.exists(os.path.join(data, "PG_VERSION")):
        # C collation: text sorts by bytes, as SQLite's BINARY does
        r = subprocess.run(prefix + [os.path.join(bd, "initdb"), "-D", data, "-U", DB_USER,
                                     "--auth=trust", "--no-sync", "-E", "UTF8", "--locale=C"],
                           **quiet)
        if r.returncode != 0:
            raise RuntimeError("initdb failed:\n" + r.stdout.decode(errors="replace"))
    opts = ("-c listen_addresses='' -c unix_socket_directories='%s' -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c shared_buffers=32MB "
            "-c max_connections=50" % d)
    # benchmarks override these (durable commits, a bigger cache): a later -c wins
    opts += " " + os.environ.get("OUTPOST_PG_OPTS", "")
    r = subprocess.run(prefix + [os.path.join(bd, "pg_ctl"), "-D", data, "-l", log, "-w",
                                 "-t", "120", "-o", opts, "start"], **quiet)
    if r.returncode != 0:
        tail = ""
        try:
            with open(log, errors="replace") as f:
                tail = f.read()[-4000:]
        except OSError:
            pass
        raise RuntimeError("pg_ctl start failed:\n" + r.stdout.decode(errors="replace") + tail)
    return url(d)


def stop(d, keep=False):
    """Stop the cluster in d (immediate: the data is thrown away) and remove d."""
    d = os.path.abspath(d)
    data = os.path.join(d, "data")
    if os.path.exists(os.path.join(data, "postmaster.pid")):
        prefix, _ = _run_as()
        subprocess.run(prefix + [os.path.join(bindir(), "pg_ctl"), "-D", data, "-m", "immediate",
                                 "-w", "stop"], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, cwd=d)
    if not keep:
        shutil.rmtree(d, ignore_errors=True)


class PgServer:
    """`with PgServer() as url:` a cluster in a fresh temp dir for the block."""

    def __init__(self, d=None):
        self.dir = d or tempfile.mkdtemp(prefix="outpost-pg-")
        self.url = None

    def __enter__(self):
        try:
            self.url = start(self.dir)
        except BaseException:
            stop(self.dir)
            raise
        return self.url

    def __exit__(self, *exc):
        stop(self.dir)
        return False


def main(argv):
    usage = "usage: pg_server.py start DIR | stop [--keep] DIR | run -- CMD [ARG...]"
    if len(argv) < 2:
        print(usage, file=sys.stderr)
        return 2
    try:
        if argv[1] == "start" and len(argv) == 3:
            print(start(argv[2]))
            return 0
        if argv[1] == "stop" and len(argv) in (3, 4):
            keep = "--keep" in argv[2:]
            d = [a for a in argv[2:] if a != "--keep"]
            if len(d) != 1:
                print(usage, file=sys.stderr)
                return 2
            stop(d[0], keep)
            return 0
        if argv[1] == "run":
            cmd = argv[2:]
            if cmd and cmd[0] == "--":
                cmd = cmd[1:]
            if not cmd:
                print(usage, file=sys.stderr)
                return 2
            with PgServer() as u:
                env = dict(os.environ, OUTPOST_TEST_STORE_URL=u, OUTPOST_TEST_PSQL=psql())
                sys.stdout.flush()
                return subprocess.run(cmd, env=env).returncode
    except PgMissing as e:
        print("SKIPPED: %s" % e, file=sys.stderr)
        return SKIP
    except RuntimeError as e:
        print(str(e), file=sys.stderr)
        return 1
    print(usage, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
