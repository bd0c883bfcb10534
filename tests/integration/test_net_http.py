"""The HTTP/1.1 server of the network floor, through `outpost testd`, with
curl, python3-requests and raw sockets, over plain TCP and mutual TLS."""
import hashlib
import os
import re
import socket
import subprocess
import time

import pytest
import requests


def raw(addr, data, timeout=5.0, shut=False):
    """Send bytes on a fresh connection and read until the server closes."""
    s = socket.create_connection(addr, timeout=timeout)
    s.sendall(data)
    if shut:
        s.shutdown(socket.SHUT_WR)
    out = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            out += chunk
    except socket.timeout:
        pass
    s.close()
    return out


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


@pytest.fixture
def testd(outpost):
    return outpost("testd", "--listen", "127.0.0.1:0", "--max-body", "64KiB",
                   "--header-timeout", "500ms", "--idle-timeout", "1s")


def test_keepalive_get_and_echo(testd):
    base = testd.url()
    with requests.Session() as s:
        for _ in range(5):
            r = s.get(base + "/hello")
            assert r.status_code == 200 and r.text == "hello world\n"
            assert r.headers["Server"] == "outpost" and "Date" in r.headers
        r = s.post(base + "/echo", json={"a": [1, 2, 3]})
        assert r.status_code == 200 and r.json() == {"a": [1, 2, 3]}
        assert r.headers["Content-Type"] == "application/json"
        # a chunked request body (generator) is de-chunked for the handler
        r = s.post(base + "/echo", data=(c for c in [b"abc", b"d", b"efgh"]))
        assert r.content == b"abcdefgh"
    # curl too, and a HEAD has the length but no body
    out = subprocess.run(["curl", "-sS", "-I", base + "/hello"], capture_output=True, text=True)
    assert "Content-Length: 12" in out.stdout


def test_routing_errors(testd):
    base = testd.url()
    r = requests.get(base + "/nope")
    assert r.status_code == 404 and r.json()["error"] == "not_found"
    r = requests.delete(base + "/hello")
    assert r.status_code == 405 and r.headers["Allow"] == "GET"
    r = requests.get(base + "/items/a%20b/c/d")
    assert r.status_code == 200
    # a path is routed in its canonical form only: other spellings are refused
    # (sent raw: HTTP client libraries clean dot segments up themselves)
    for bad in (b"//hello", b"/./hello", b"/x/../hello", b"/%2e%2e/hello", b"/hello/", b"/%zz"):
        out = raw(testd.addr(), b"GET " + bad + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert out.startswith(b"HTTP/1.1 400 ") and b'"error":"bad_path"' in out, bad
    # escapes of unreserved characters are the characters themselves (RFC 3986 6.2.2.2)
    assert requests.get(base + "/%68ello").status_code == 200


def test_limits_answered_with_reasons(testd):
    addr = testd.addr()
    # body over the cap: 413 before reading it (Content-Length) ...
    r = requests.post(testd.url() + "/echo", data=b"x" * 100000)
    assert r.status_code == 413 and "too large" in r.text
    # ... and while reading it (chunked)
    r = requests.post(testd.url() + "/echo", data=(b"y" * 20000 for _ in range(5)))
    assert r.status_code == 413
    # both Content-Length and Transfer-Encoding: request smuggling
    out = raw(addr, b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                    b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 400 ") and b"Connection: close" in out
    # header block over 16 KiB
    out = raw(addr, b"GET /hello HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 431 ")
    # request target too long
    out = raw(addr, b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 414 ")
    # garbage
    out = raw(addr, b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03 not http\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 400 ")
    # unknown transfer coding
    out = raw(addr, b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 501 ") or out.startswith(b"HTTP/1.1 400 ")
    # obs-fold, in any header (RFC 9112 5.2): 400, even when the folded
    # Transfer-Encoding would frame the body the same way; sent in pieces too
    for folded in (b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding:\r\n chunked\r\n\r\n"
                   b"3\r\nabc\r\n0\r\n\r\n",
                   b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length:\r\n\t3\r\n\r\nabc",
                   b"GET /hello HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n"):
        out = raw(addr, folded)
        assert out.startswith(b"HTTP/1.1 400 ") and b"obs-fold" in out, folded
        s = socket.create_connection(addr, timeout=5)
        cut = folded.index(b"\r\n ") + 2 if b"\r\n " in folded else folded.index(b"\r\n\t") + 2
        s.sendall(folded[:cut])
        time.sleep(0.05)
        s.sendall(folded[cut:])
        assert s.recv(4096).startswith(b"HTTP/1.1 400 ")
        s.close()


def test_header_timeout_and_idle_close(testd):
    addr = testd.addr()
    t0 = time.monotonic()
    out = raw(addr, b"GET /hello HTTP/1.1\r\nHost: x\r\n")  # never finished
    assert out.startswith(b"HTTP/1.1 408 ") and b"headers not received" in out
    assert time.monotonic() - t0 < 5
    # a keep-alive connection left idle is closed by the server
    s = socket.create_connection(addr, timeout=5)
    s.sendall(b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
    data = b""
    while b"hello world\n" not in data:
        data += s.recv(4096)
    assert s.recv(4096) == b""  # EOF after the idle timeout, not a hang
    s.close()
    testd.wait_for("http_timeout .*phase=headers")


def test_pipelining_keeps_order(testd):
    reqs = (b"GET /delay?ms=150 HTTP/1.1\r\nHost: x\r\n\r\n"
            b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n"
            b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
            b"GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    out = raw(testd.addr(), reqs)
    assert out.count(b"HTTP/1.1 200 OK") == 4
    i_late, i_hello, i_abc = out.find(b"late\n"), out.find(b"hello world\n"), out.find(b"\r\n\r\nabc")
    assert 0 < i_late < i_hello < i_abc


def test_expect_100_continue(testd):
    out = subprocess.run(["curl", "-sS", "-v", "-H", "Expect: 100-continue", "--data-binary",
                          "@-", testd.url() + "/echo"], input=b"z" * 5000, capture_output=True)
    assert out.stdout == b"z" * 5000
    assert b"HTTP/1.1 100 Continue" in out.stderr


def test_streaming_both_ways(testd):
    base = testd.url()
    r = requests.get(base + "/stream?bytes=3000000", stream=True)
    assert r.headers.get("Transfer-Encoding") == "chunked"
    assert sum(len(c) for c in r.iter_content(65536)) == 3000000
    blob = os.urandom(5 * 1024 * 1024)  # far over --max-body: streamed, not buffered
    r = requests.post(base + "/sink", data=blob)
    assert r.json() == {"bytes": len(blob), "sha256": hashlib.sha256(blob).hexdigest()}


def test_slow_reader_does_not_grow_memory(testd):
    pid = testd.proc.pid
    before = rss_kb(pid)
    s = socket.create_connection(testd.addr(), timeout=10)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    s.sendall(b"GET /stream?bytes=500000000 HTTP/1.1\r\nHost: x\r\n\r\n")
    got = 0
    for _ in range(20):  # read a little, slowly
        got += len(s.recv(65536))
        time.sleep(0.02)
    grown = rss_kb(pid) - before
    s.close()
    assert got > 0
    # 500 MB offered; the server holds only its queue's high-water mark
    assert grown < 32 * 1024, f"RSS grew by {grown} KiB"


def test_client_abort_mid_request_is_harmless(testd):
    s = socket.create_connection(testd.addr(), timeout=5)
    s.sendall(b"GET /delay?ms=200 HTTP/1.1\r\nHost: x\r\n\r\n")
    s.close()
    s = socket.create_connection(testd.addr(), timeout=5)
    s.sendall(b"POST /sink HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n" + b"a" * 1000)
    s.close()
    time.sleep(0.4)
    assert requests.get(testd.url() + "/hello").status_code == 200


def test_sigterm_drains_request_in_flight(outpost):
    d = outpost("testd", "--listen", "127.0.0.1:0")
    s = socket.create_connection(d.addr(), timeout=5)
    s.sendall(b"GET /delay?ms=300 HTTP/1.1\r\nHost: x\r\n\r\n")
    d.wait_for("delay_started")
    d.signal(15)
    out = b""
    while True:
        c = s.recv(4096)
        if not c:
            break
        out += c
    assert out.startswith(b"HTTP/1.1 200 ") and out.endswith(b"late\n")
    assert b"Connection: close" in out
    d.stop()


# ---- mutual TLS ---------------------------------------------------------------

def test_mutual_tls(outpost, pki):
    d = outpost("testd", "--listen", "127.0.0.1:0", "--tls-cert", pki["server.pem"],
                "--tls-key", pki["server.key"], "--tls-ca", pki["ca.pem"])
    base = d.url(scheme="https")
    r = requests.get(base + "/whoami", verify=pki["ca.pem"],
                     cert=(pki["client.pem"], pki["client.key"]))
    who = r.json()
    assert who["tls"] and who["verified"] and who["cn"] == "client" and who["org"] == "Outpost Test"
    fp = subprocess.run(["openssl", "x509", "-in", pki["client.pem"], "-noout", "-fingerprint",
                         "-sha256"], capture_output=True, text=True).stdout
    assert who["fingerprint"] == fp.split("=", 1)[1].strip().replace(":", "").lower()
    # a body through TLS, streamed
    blob = os.urandom(2 * 1024 * 1024)
    r = requests.post(base + "/sink", data=blob, verify=pki["ca.pem"],
                      cert=(pki["client.pem"], pki["client.key"]))
    assert r.json()["sha256"] == hashlib.sha256(blob).hexdigest()
    # no client certificate: the handshake fails; anyone can cause that, so
    # the log says it once per 10 s with the count of those unsaid
    with pytest.raises(requests.exceptions.RequestException):
        requests.get(base + "/whoami", verify=pki["ca.pem"])
    d.wait_for("tls_handshake_failed .*side=server .*unsaid=0")
    for _ in range(30):
        with pytest.raises(requests.exceptions.RequestException):
            requests.get(base + "/whoami", verify=pki["ca.pem"])
    assert len([l for l in d.lines if "tls_handshake_failed" in l]) == 1
    # a certificate from another CA: refused too
    with pytest.raises(requests.exceptions.RequestException):
        requests.get(base + "/whoami", verify=pki["ca.pem"],
                     cert=(pki["rogue.pem"], pki["rogue.key"]))
    # curl over mTLS
    out = subprocess.run(["curl", "-sS", "--cacert", pki["ca.pem"], "--cert", pki["client.pem"],
                          "--key", pki["client.key"], base + "/hello"], capture_output=True, text=True)
    assert out.stdout == "hello world\n"


def test_sighup_reloads_certificates(outpost, pki, tmp_path):
    import shutil
    cert, key = tmp_path / "srv.pem", tmp_path / "srv.key"
    shutil.copy(pki["server.pem"], cert)
    shutil.copy(pki["server.key"], key)
    d = outpost("testd", "--listen", "127.0.0.1:0", "--tls-cert", str(cert), "--tls-key", str(key))
    before = subprocess.run(["openssl", "s_client", "-connect", "%s:%d" % d.addr()],
                            input="", capture_output=True, text=True, timeout=10).stdout
    assert "CN = server" in before or "CN=server" in before
    shutil.copy(pki["server2.pem"], cert)
    shutil.copy(pki["server2.key"], key)
    d.signal(1)
    d.wait_for("tls_reloaded")
    after = subprocess.run(["openssl", "s_client", "-connect", "%s:%d" % d.addr()],
                           input="", capture_output=True, text=True, timeout=10).stdout
    assert "CN = server2" in after or "CN=server2" in after


# ---- TLS 1.3 suites -------------------------------------------------------------

SUITES = ["TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256", "TLS_AES_128_GCM_SHA256"]


def negotiated(addr, suites):
    out = subprocess.run(["openssl", "s_client", "-connect", "%s:%d" % addr, "-tls1_3",
                          "-ciphersuites", suites], input="", capture_output=True, text=True,
                         timeout=10).stdout
    m = re.search(r"Cipher is (\S+)", out)
    return m.group(1) if m and m.group(1) != "(NONE)" else None


def test_tls13_suite_order_measured_and_operator_choice_kept(outpost, pki, tmp_path):
    """Every TLS 1.3 suite stays offered; the one measured fastest here is
    preferred over the client's order; an operator's Ciphersuites in the
    OpenSSL configuration is left as it is."""
    tls = ["--tls-cert", pki["server.pem"], "--tls-key", pki["server.key"]]
    d = outpost("testd", "--listen", "127.0.0.1:0", "--log-level", "debug", *tls)
    order = d.wait_for(r"tls_suite_order suites=(\S+)").group(1).split(":")
    assert sorted(order) == sorted(SUITES)
    for s in SUITES:
        assert negotiated(d.addr(), s) == s
    # the server's first choice wins whatever the client prefers
    assert negotiated(d.addr(), ":".join(reversed(order))) == order[0]
    d.stop()

    conf = tmp_path / "openssl.cnf"
    conf.write_text("openssl_conf = c\n[c]\nssl_conf = s\n[s]\nsystem_default = d\n"
                    "[d]\nCiphersuites = TLS_AES_128_GCM_SHA256\n")
    d = outpost("testd", "--listen", "127.0.0.1:0", "--log-level", "debug", *tls,
                env={"OPENSSL_CONF": str(conf)})
    assert negotiated(d.addr(), "TLS_AES_128_GCM_SHA256") == "TLS_AES_128_GCM_SHA256"
    assert negotiated(d.addr(), "TLS_CHACHA20_POLY1305_SHA256") is None
    assert "tls_suite_order" not in d.output()
    d.stop()
