"""Helpers for the cwmp-proxy integration tests: scripted ACS nodes, CPE
connection-request endpoints with Digest, and CWMP bodies.

Everything listens on 127.0.0.1 with port 0 and runs in threads of the test
process, so tests can assert on exactly what the proxy sent.
"""
import hashlib
import http.client
import http.server
import os
import socket
import socketserver
import threading
import time

SOAP_NS = "http://schemas.xmlsoap.org/soap/envelope/"


def inform(serial="SN1", crurl="http://10.1.1.1:7547/", oui="00259E", pc="EG8145V5",
           tr098=False, extra=""):
    root = "InternetGatewayDevice" if tr098 else "Device"
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<soap-env:Envelope xmlns:soap-env="{SOAP_NS}" '
        'xmlns:soap-enc="http://schemas.xmlsoap.org/soap/encoding/" '
        'xmlns:xsd="http://www.w3.org/2001/XMLSchema" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        'xmlns:cwmp="urn:dslforum-org:cwmp-1-0">\n'
        '<soap-env:Header><cwmp:ID soap-env:mustUnderstand="1">1</cwmp:ID></soap-env:Header>\n'
        '<soap-env:Body><cwmp:Inform>'
        f'<DeviceId><Manufacturer>Acme</Manufacturer><OUI>{oui}</OUI><ProductClass>{pc}</ProductClass>'
        f'<SerialNumber>{serial}</SerialNumber></DeviceId>'
        '<Event soap-enc:arrayType="cwmp:EventStruct[1]"><EventStruct><EventCode>2 PERIODIC</EventCode>'
        '<CommandKey></CommandKey></EventStruct></Event>'
        '<MaxEnvelopes>1</MaxEnvelopes><CurrentTime>2026-11-21T10:00:00Z</CurrentTime>'
        '<RetryCount>0</RetryCount>'
        '<ParameterList soap-enc:arrayType="cwmp:ParameterValueStruct[2]">'
        f'<ParameterValueStruct><Name>{root}.DeviceInfo.SoftwareVersion</Name>'
        '<Value xsi:type="xsd:string">1.0</Value></ParameterValueStruct>'
        f'<ParameterValueStruct><Name>{root}.ManagementServer.ConnectionRequestURL</Name>'
        f'<Value xsi:type="xsd:string">{crurl}</Value></ParameterValueStruct>{extra}'
        '</ParameterList></cwmp:Inform></soap-env:Body></soap-env:Envelope>\n')


def gpv_response(values):
    items = "".join(
        f'<ParameterValueStruct><Name>{n}</Name><Value xsi:type="xsd:string">{v}</Value>'
        '</ParameterValueStruct>' for n, v in values)
    return (
        f'<soap-env:Envelope xmlns:soap-env="{SOAP_NS}" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        'xmlns:cwmp="urn:dslforum-org:cwmp-1-0"><soap-env:Body>'
        f'<cwmp:GetParameterValuesResponse><ParameterList>{items}</ParameterList>'
        '</cwmp:GetParameterValuesResponse></soap-env:Body></soap-env:Envelope>')


def proxied(public_url, origin):
    from urllib.parse import quote
    return f"{public_url}/client?origin={quote(origin, safe='-._~')}"


class Backend:
    """A scripted ACS node. Records every request; answers each POST with
    `reply(req)` -> (status, headers, body) or a default 200 that names it."""

    def __init__(self, name, reply=None, port=0, server=None):
        self.name = name
        self.server_name = server  # the Server header it sends (None: Python's own)
        self.close_after_204 = False
        self.requests = []
        self.reply = reply
        self.lock = threading.Lock()
        self.conns = set()
        self.nconn = 0
        outer = self

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def version_string(self):
                return outer.server_name or super().version_string()

            def setup(self):
                super().setup()
                with outer.lock:
                    outer.conns.add(self.connection)
                    outer.nconn += 1
                    self.conn_no = outer.nconn

            def finish(self):
                with outer.lock:
                    outer.conns.discard(self.connection)
                super().finish()

            def _body(self):
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    data = b""
                    while True:
                        size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                        if size == 0:
                            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                                pass
                            return data, True
                        data += self.rfile.read(size)
                        self.rfile.readline()
                n = int(self.headers.get("Content-Length") or 0)
                return (self.rfile.read(n) if n else b""), False

            def handle_one(self):
                body, chunked = self._body()
                req = {"method": self.command, "path": self.path, "headers": self.headers,
                       "body": body, "chunked": chunked, "conn": self.conn_no,
                       "backend": outer.name}
                with outer.lock:
                    outer.requests.append(req)
                if outer.reply:
                    status, headers, out = outer.reply(req)
                else:
                    status, headers, out = 200, {"Content-Type": "text/plain"}, outer.name.encode()
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                if status not in (204, 304) and "Transfer-Encoding" not in headers:
                    self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                if status not in (204, 304):
                    self.wfile.write(out)
                if outer.close_after_204 and status == 204:
                    self.close_connection = True  # unannounced: like an idle timeout

            do_POST = do_GET = do_PUT = handle_one

            def log_message(self, *a):
                pass

        class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
            daemon_threads = True
            allow_reuse_address = True

        self.server = S(("127.0.0.1", port), H)  # port: a node restarted where it was
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        """Close the listener and every open connection (a dead node)."""
        self.server.shutdown()
        self.server.server_close()
        with self.lock:
            for c in list(self.conns):
                try:
                    c.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


def _h(alg, s):
    return hashlib.new("md5" if alg == "MD5" else "sha256", s.encode()).hexdigest()


def _parse_auth(value):
    scheme, _, rest = value.partition(" ")
    params = {}
    for part in _split(rest):
        k, _, v = part.strip().partition("=")
        params[k.strip().lower()] = v.strip().strip('"')
    return scheme, params


def _split(s):
    out, cur, q = [], "", False
    for ch in s:
        if ch == '"':
            q = not q
        if ch == "," and not q:
            out.append(cur)
            cur = ""
        else:
            cur += ch
    if cur:
        out.append(cur)
    return out


class CpeEndpoint:
    """A CPE's connection-request endpoint with Digest (qop=auth) in the
    given algorithms. `delay` seconds before answering (slow CPE)."""

    def __init__(self, user="cpe", password="secret", algorithms=("SHA-256", "MD5"), delay=0.0,
                 basic_only=False, status=200):
        self.user, self.password = user, password
        self.algorithms = algorithms
        self.delay = delay
        self.basic_only = basic_only
        self.status = status
        self.hits = []       # (authorization header or None)
        self.woken = 0
        outer = self

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                auth = self.headers.get("Authorization")
                outer.hits.append(auth)
                if outer.delay:
                    time.sleep(outer.delay)
                if outer._ok(self.command, self.path, auth):
                    outer.woken += 1
                    self.send_response(outer.status)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(401)
                if outer.basic_only:
                    self.send_header("WWW-Authenticate", 'Basic realm="cpe"')
                else:
                    for alg in outer.algorithms:
                        nonce = os.urandom(8).hex()
                        self.send_header("WWW-Authenticate",
                                         f'Digest realm="cpe", qop="auth", algorithm={alg}, nonce="{nonce}"')
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *a):
                pass

        class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
            daemon_threads = True

        self.server = S(("127.0.0.1", 0), H)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/cr"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def _ok(self, method, path, auth):
        if not auth:
            return False
        scheme, p = _parse_auth(auth)
        if self.basic_only:
            import base64
            return scheme == "Basic" and base64.b64decode(p and auth.split()[1]).decode() == \
                f"{self.user}:{self.password}"
        if scheme != "Digest":
            return False
        alg = p.get("algorithm", "MD5")
        if alg not in self.algorithms or p.get("username") != self.user or p.get("qop") != "auth":
            return False
        ha1 = _h(alg, f"{self.user}:cpe:{self.password}")
        ha2 = _h(alg, f"{method}:{p.get('uri')}")
        want = _h(alg, f"{ha1}:{p['nonce']}:{p['nc']}:{p['cnonce']}:auth:{ha2}")
        return want == p.get("response")

    def algorithm_used(self):
        for a in reversed(self.hits):
            if a and a.startswith("Digest"):
                return _parse_auth(a)[1].get("algorithm", "MD5")
        return None

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


class Conn:
    """One keep-alive client connection to the proxy (a CPE)."""

    def __init__(self, host, port):
        self.c = http.client.HTTPConnection(host, port, timeout=10)

    def post(self, body, headers=None):
        h = {"Content-Type": "text/xml; charset=utf-8"}
        h.update(headers or {})
        data = body.encode() if isinstance(body, str) else body
        self.c.request("POST", "/", body=data, headers=h)
        r = self.c.getresponse()
        return r.status, r.getheaders(), r.read()

    def close(self):
        self.c.close()


def header(headers, name):
    for k, v in headers:
        if k.lower() == name.lower():
            return v
    return None


def headers_all(headers, name):
    return [v for k, v in headers if k.lower() == name.lower()]


def cookie_value(headers, name):
    for v in headers_all(headers, "Set-Cookie"):
        pair = v.split(";")[0]
        k, _, val = pair.partition("=")
        if k.strip() == name:
            return val
    return None
