"""A Prosody XMPP server for tests: its own config in a temporary directory,
c2s only on 127.0.0.1 at a free port (no s2s, no HTTP), STARTTLS required
with the `pki` fixture's server certificate (SAN localhost), accounts in
plain-text internal storage. The XMPP domain is "localhost".

prosody(n_users=...) -> Prosody; .register(user, password) uses prosodyctl;
.add_accounts({user: password}) writes many account files at once (what
prosodyctl register writes; one process per account would take a minute
for a thousand). Prosody runs as the calling user (as root it needs
run_as_root, which the config sets only then)."""
import os
import shutil
import socket
import subprocess
import time

import pytest

from conftest import free_port

DOMAIN = "localhost"


def lua_str(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


class Prosody:
    def __init__(self, root, cert, key, port=None):
        self.root = root
        self.data = os.path.join(root, "data")
        os.makedirs(self.data, exist_ok=True)
        os.makedirs(os.path.join(root, "certs"), exist_ok=True)
        self.port = port or free_port()
        self.cfg = os.path.join(root, "prosody.cfg.lua")
        self.log = os.path.join(root, "prosody.log")
        self.proc = None
        with open(self.cfg, "w") as f:
            f.write("\n".join([
                "run_as_root = true" if os.geteuid() == 0 else "",
                "pidfile = %s" % lua_str(os.path.join(root, "prosody.pid")),
                "data_path = %s" % lua_str(self.data),
                "certificates = %s" % lua_str(os.path.join(root, "certs")),
                'interfaces = { "127.0.0.1" }',
                "c2s_ports = { %d }" % self.port,
                "s2s_ports = { }", "c2s_direct_tls_ports = { }", "s2s_direct_tls_ports = { }",
                "legacy_ssl_ports = { }", "http_ports = { }", "https_ports = { }",
                'modules_enabled = { "saslauth", "tls", "disco", "ping", "posix" }',
                'modules_disabled = { "s2s" }',
                "c2s_require_encryption = true",
                'authentication = "internal_plain"',
                'network_backend = "epoll"',
                "c2s_stanza_size_limit = 262144",
                'log = { info = %s }' % lua_str(self.log),
                'VirtualHost "%s"' % DOMAIN,
                "  ssl = { key = %s; certificate = %s; }" % (lua_str(key), lua_str(cert)),
                "",
            ]))

    def register(self, user, password):
        r = subprocess.run(["prosodyctl", "--config", self.cfg, "register", user, DOMAIN, password],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stdout + r.stderr

    def add_accounts(self, accounts):
        d = os.path.join(self.data, DOMAIN, "accounts")
        os.makedirs(d, exist_ok=True)
        for user, password in accounts.items():
            with open(os.path.join(d, user.lower() + ".dat"), "w") as f:
                f.write('return {\n\t["password"] = %s;\n};\n' % lua_str(password))

    def start(self, timeout=20):
        def raise_nofile():
            import resource
            soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        self.out = open(os.path.join(self.root, "prosody.out"), "ab")
        self.proc = subprocess.Popen(["prosody", "-F", "--config", self.cfg], stdin=subprocess.DEVNULL,
                                     stdout=self.out, stderr=subprocess.STDOUT, preexec_fn=raise_nofile)
        deadline = time.monotonic() + timeout
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return self
            except OSError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError("prosody did not start (exit %s):\n%s" % (self.proc.poll(), self.logs()))
            time.sleep(0.05)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def restart(self):
        self.stop()
        return self.start()

    def logs(self):
        out = []
        for p in (self.log, os.path.join(self.root, "prosody.out")):
            if os.path.exists(p):
                with open(p, errors="replace") as f:
                    out.append(f.read()[-6000:])
        return "\n".join(out)


def prosody_missing():
    """Why Prosody cannot run here, or None."""
    if not shutil.which("prosody") or not shutil.which("prosodyctl"):
        return "prosody is not installed (scripts/install-deps installs it)"
    return None


@pytest.fixture
def prosody(tmp_path, pki):
    why = prosody_missing()
    if why:
        pytest.skip(why)
    servers = []

    def start(port=None, accounts=None):
        p = Prosody(str(tmp_path / ("prosody%d" % len(servers))), pki["server.pem"], pki["server.key"], port)
        servers.append(p)
        if accounts:
            p.add_accounts(accounts)
        return p

    yield start
    for p in servers:
        p.stop()


NS_STREAM_HDR = ("<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
                 "xmlns:stream='http://etherx.jabber.org/streams' id='s%d' from='localhost' version='1.0'>")


class FakeServer:
    """A scripted XMPP server for what Prosody will not do: STARTTLS, SASL
    PLAIN (any password) and bind done by hand, then `script(conn, n)` runs
    with the TLS socket of the n-th login (0, 1, ...) and may send anything:
    oversized or malformed stanzas, IQs, nothing at all. Each login gets its
    own thread; `.logins` counts them."""

    def __init__(self, cert, key, script):
        import ssl
        import threading
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(cert, key)
        self.script = script
        self.logins = 0
        self.received = []
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        import threading
        while not self.closed:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    @staticmethod
    def recv_until(c, marker, limit=1 << 16):
        data = b""
        while marker not in data:
            chunk = c.recv(4096)
            if not chunk:
                raise EOFError("client closed: %r" % data)
            data += chunk
            assert len(data) < limit
        return data

    def _serve(self, c):
        try:
            c.settimeout(20)
            self.recv_until(c, b"version=")
            c.sendall((NS_STREAM_HDR % 0 + "<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'>"
                       "<required/></starttls></stream:features>").encode())
            self.recv_until(c, b"/>")
            c.sendall(b"<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
            t = self.ctx.wrap_socket(c, server_side=True)
            self.recv_until(t, b"version=")
            t.sendall((NS_STREAM_HDR % 1 + "<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>"
                       "<mechanism>PLAIN</mechanism></mechanisms></stream:features>").encode())
            self.recv_until(t, b"</auth>")
            t.sendall(b"<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>")
            self.recv_until(t, b"version=")
            t.sendall((NS_STREAM_HDR % 2 + "<stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/>"
                       "</stream:features>").encode())
            self.recv_until(t, b"</iq>")
            t.sendall(b"<iq type='result' id='bind'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>"
                      b"<jid>acs@localhost/acs</jid></bind></iq>")
            n = self.logins
            self.logins += 1
            self.script(t, n)
        except (OSError, EOFError):
            pass
        finally:
            c.close()

    def close(self):
        self.closed = True
        self.sock.close()
