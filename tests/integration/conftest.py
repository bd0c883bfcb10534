"""Shared pytest fixtures for Outpost integration tests.

Run with Debian's interpreter: /usr/bin/python3 -m pytest tests/integration
The binary under test is $OUTPOST_BIN (make test points it at the ASan+UBSan
build) or build/release/src/outpost.

`outpost` (fixture) starts daemons: outpost("relay", "--listen", "127.0.0.1:0")
returns a Daemon once its `ready <name> key=value ...` line appeared, with the
fields parsed (d.fields["listen"]). On teardown every daemon gets SIGTERM and
must exit 0 within the drain timeout with no sanitizer report in its output.
"""
import os
import re
import signal
import socket
import subprocess
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


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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

    def start(*args, ready=True, env=None, timeout=15.0, cwd=None, preexec_fn=None, exe=None):
        # Every daemon has an admin listener on a fixed loopback port by
        # default; tests run several at once, so each gets a free one unless
        # the test chose (or a config file does).
        if args and args[0] in ADMIN_DAEMONS and not any(
                a == "--admin-listen" or a.startswith("--admin-listen=") or a == "--config"
                for a in args):
            args = tuple(args) + ("--admin-listen", "127.0.0.1:0")
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
    if errors:
        pytest.fail("\n\n".join(errors))


def run_outpost(*args, timeout=60, **kw):
    """Run a one-shot subcommand (certs...) and return CompletedProcess."""
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


# the dashboard's browser fixtures (browser, dash_system, dash): tests/integration/browser.py
from browser import browser, dash, dash_system  # noqa: E402,F401 pylint: disable=wrong-import-position,unused-import
