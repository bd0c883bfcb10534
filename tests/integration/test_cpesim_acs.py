"""A scripted CWMP ACS for the cpe-sim tests, and the basic session tests.

ScriptedAcs is a small threaded HTTP/1.1 server that speaks just enough
CWMP: it answers Informs and TransferCompletes, hands out RPCs queued per
serial number after the CPE's empty POST, and records every envelope the
CPEs send (parsed, and raw for the schema validator). It can also misbehave
on purpose (HTTP 500, malformed XML, no answer at all) and ask for Digest
authentication. The other test_cpesim_* modules import it from here.
"""
import collections
import hashlib
import http.server
import os
import re
import socketserver
import threading
import time
import uuid
import xml.etree.ElementTree as ET

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
XSI = "http://www.w3.org/2001/XMLSchema-instance"

ENVELOPE = ('<?xml version="1.0" encoding="UTF-8"?>\n'
            '<soap-env:Envelope xmlns:soap-env="http://schemas.xmlsoap.org/soap/envelope/"'
            ' xmlns:soap-enc="http://schemas.xmlsoap.org/soap/encoding/"'
            ' xmlns:xsd="http://www.w3.org/2001/XMLSchema"'
            ' xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:cwmp="{ns}">'
            '<soap-env:Header><cwmp:ID soap-env:mustUnderstand="1">{id}</cwmp:ID></soap-env:Header>'
            '<soap-env:Body>{body}</soap-env:Body></soap-env:Envelope>')


def local(tag):
    return tag.rsplit("}", 1)[-1]


def text(el, name):
    for c in el.iter():
        if local(c.tag) == name:
            return c.text or ""
    return None


class Message:
    """One envelope a CPE sent: its RPC element, parsed."""

    def __init__(self, raw, serial):
        self.raw = raw
        self.serial = serial
        root = ET.fromstring(raw)
        body = next(c for c in root if local(c.tag) == "Body")
        self.el = list(body)[0]
        self.name = local(self.el.tag)
        self.ns = self.el.tag[1:].split("}")[0] if self.el.tag.startswith("{") else ""
        hdr = [c for c in root if local(c.tag) == "Header"]
        self.id = text(hdr[0], "ID") if hdr else None

    def events(self):
        return [(text(e, "EventCode"), text(e, "CommandKey") or "") for e in self.el.iter()
                if local(e.tag) == "EventStruct"]

    def event_codes(self):
        return [c for c, _ in self.events()]

    def params(self):
        """name -> (value, xsi:type) of a ParameterList of values."""
        out = {}
        for p in self.el.iter():
            if local(p.tag) == "ParameterValueStruct":
                v = [c for c in p if local(c.tag) == "Value"][0]
                out[text(p, "Name")] = (v.text or "", v.get("{%s}type" % XSI))
        return out

    def names(self):
        """GetParameterNamesResponse: name -> writable."""
        return {text(p, "Name"): text(p, "Writable") in ("1", "true") for p in self.el.iter()
                if local(p.tag) == "ParameterInfoStruct"}

    def attrs(self):
        out = {}
        for p in self.el.iter():
            if local(p.tag) == "ParameterAttributeStruct":
                acl = [s.text for s in p.iter() if local(s.tag) == "string"]
                out[text(p, "Name")] = (int(text(p, "Notification")), acl)
        return out

    def fault(self):
        """(code, [(name, code)]) of a CWMP fault, or None."""
        if self.name != "Fault":
            return None
        code = int(text(self.el, "FaultCode"))
        spv = [(text(f, "ParameterName"), int(text(f, "FaultCode"))) for f in self.el.iter()
               if local(f.tag) == "SetParameterValuesFault"]
        return code, spv

    def field(self, name):
        return text(self.el, name)


def values_list(params):
    from xml.sax.saxutils import escape
    items = "".join('<ParameterValueStruct><Name>{}</Name><Value xsi:type="{}">{}</Value>'
                    "</ParameterValueStruct>".format(n, t, escape(v)) for n, v, t in params)
    return '<ParameterList soap-enc:arrayType="cwmp:ParameterValueStruct[{}]">{}</ParameterList>'.format(
        len(params), items)


def string_list(tag, names):
    return '<{0} soap-enc:arrayType="xsd:string[{1}]">{2}</{0}>'.format(
        tag, len(names), "".join("<string>{}</string>".format(n) for n in names))


class Rpc:
    """Bodies of the ACS requests the tests queue."""

    @staticmethod
    def gpn(path, next_level):
        return ("<cwmp:GetParameterNames><ParameterPath>{}</ParameterPath><NextLevel>{}</NextLevel>"
                "</cwmp:GetParameterNames>").format(path, 1 if next_level else 0)

    @staticmethod
    def gpv(*names):
        return "<cwmp:GetParameterValues>{}</cwmp:GetParameterValues>".format(
            string_list("ParameterNames", names))

    @staticmethod
    def spv(params, key="key"):
        return "<cwmp:SetParameterValues>{}<ParameterKey>{}</ParameterKey></cwmp:SetParameterValues>".format(
            values_list(params), key)

    @staticmethod
    def gpa(*names):
        return "<cwmp:GetParameterAttributes>{}</cwmp:GetParameterAttributes>".format(
            string_list("ParameterNames", names))

    @staticmethod
    def spa(name, notification, access=None):
        acl = access or []
        return ('<cwmp:SetParameterAttributes><ParameterList soap-enc:arrayType="cwmp:SetParameterAttributesStruct[1]">'
                "<SetParameterAttributesStruct><Name>{}</Name><NotificationChange>1</NotificationChange>"
                "<Notification>{}</Notification><AccessListChange>{}</AccessListChange>{}"
                "</SetParameterAttributesStruct></ParameterList></cwmp:SetParameterAttributes>").format(
                    name, notification, 1 if access is not None else 0, string_list("AccessList", acl))

    @staticmethod
    def add(obj, key="add"):
        return "<cwmp:AddObject><ObjectName>{}</ObjectName><ParameterKey>{}</ParameterKey></cwmp:AddObject>".format(
            obj, key)

    @staticmethod
    def delete(obj, key="del"):
        return ("<cwmp:DeleteObject><ObjectName>{}</ObjectName><ParameterKey>{}</ParameterKey>"
                "</cwmp:DeleteObject>").format(obj, key)

    @staticmethod
    def reboot(key="rb"):
        return "<cwmp:Reboot><CommandKey>{}</CommandKey></cwmp:Reboot>".format(key)

    @staticmethod
    def factory_reset():
        return "<cwmp:FactoryReset></cwmp:FactoryReset>"

    @staticmethod
    def schedule_inform(delay, key="si"):
        return ("<cwmp:ScheduleInform><DelaySeconds>{}</DelaySeconds><CommandKey>{}</CommandKey>"
                "</cwmp:ScheduleInform>").format(delay, key)

    @staticmethod
    def get_rpc_methods():
        return "<cwmp:GetRPCMethods></cwmp:GetRPCMethods>"

    @staticmethod
    def download(url, size=0, key="dl", ftype="1 Firmware Upgrade Image", user="", password=""):
        return ("<cwmp:Download><CommandKey>{}</CommandKey><FileType>{}</FileType><URL>{}</URL>"
                "<Username>{}</Username><Password>{}</Password><FileSize>{}</FileSize>"
                "<TargetFileName></TargetFileName><DelaySeconds>0</DelaySeconds><SuccessURL></SuccessURL>"
                "<FailureURL></FailureURL></cwmp:Download>").format(key, ftype, url, user, password, size)

    @staticmethod
    def upload(url, key="ul", ftype="1 Vendor Configuration File"):
        return ("<cwmp:Upload><CommandKey>{}</CommandKey><FileType>{}</FileType><URL>{}</URL>"
                "<Username></Username><Password></Password><DelaySeconds>0</DelaySeconds>"
                "</cwmp:Upload>").format(key, ftype, url)


class ScriptedAcs:
    def __init__(self, mode="normal", digest=None, realm="scripted-acs", basic=None, tls=None):
        self.mode = mode            # normal | http500 | malformed | hang | empty | huge
        self.digest = digest        # (user, password) to require, or None
        self.basic = basic          # (user, password) to require with Basic, or None
        self.realm = realm
        self.messages = []          # every Message, in order
        self.raw = []               # every non-empty body (bytes)
        self.queue = collections.defaultdict(collections.deque)
        self.sessions = {}          # cookie -> serial
        self.in_session = {}        # serial -> bool (between Inform and our 204)
        self.cr_urls = {}           # serial -> ConnectionRequestURL from its Informs
        self.peers = []             # (client port, cookie) of each request
        self.auth_failures = 0
        self.moved_hits = 0         # POSTs to /moved (answered 307 Location: /acs)
        self.cond = threading.Condition()
        self._stop = threading.Event()
        self._nonces = set()
        acs = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_POST(self):
                try:
                    acs._handle(self)
                except (ConnectionResetError, BrokenPipeError):
                    self.close_connection = True  # a CPE that drops its session (--drop-rate)

        class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
            daemon_threads = True
            allow_reuse_address = True
            request_queue_size = 128  # a fleet connects at once; 5 would delay some CPEs by a SYN retry

        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.url = "http://127.0.0.1:%d/acs" % self.port
        if tls:  # (certificate, key): an https ACS
            import ssl
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(*tls)
            self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True)
            self.url = "https://127.0.0.1:%d/acs" % self.port
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self._stop.set()
        self.server.shutdown()
        self.server.server_close()

    # ---- what the tests use -------------------------------------------------

    def rpc(self, serial, body):
        """Queue an RPC; wake the CPE with a connection request when it is not in a session."""
        with self.cond:
            self.queue[serial].append(body)
            wake = not self.in_session.get(serial) and serial in self.cr_urls
        if wake:
            self.connection_request(serial)

    def connection_request(self, serial, password="cpesim", user=None, wait=False):
        """GET the CPE's ConnectionRequestURL with Digest (in the background unless wait)."""
        import requests
        from requests.auth import HTTPDigestAuth

        def go():
            try:
                r = requests.get(self.cr_urls[serial], auth=HTTPDigestAuth(user or serial, password), timeout=5)
                return r.status_code
            except requests.RequestException as e:  # the test that cares asserts on it
                return repr(e)
        if wait:
            return go()
        threading.Thread(target=go, daemon=True).start()
        return None

    def wait(self, pred, timeout=10.0, what="condition"):
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                r = pred()
                if r:
                    return r
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError("ACS: timed out waiting for %s; saw %s" % (
                        what, [(m.serial, m.name, m.event_codes() if m.name == "Inform" else "")
                               for m in self.messages[-20:]]))
                self.cond.wait(min(left, 0.2))

    def by(self, name, serial=None):
        with self.cond:
            return [m for m in self.messages if m.name == name and (serial is None or m.serial == serial)]

    def wait_msg(self, name, serial=None, count=1, pred=None, timeout=10.0):
        def ok():
            ms = [m for m in self.by(name, serial) if pred is None or pred(m)]
            return ms if len(ms) >= count else None
        return self.wait(ok, timeout, "%d x %s" % (count, name))[count - 1]

    def informs_with(self, code, serial=None):
        return [m for m in self.by("Inform", serial) if code in m.event_codes()]

    def wait_inform(self, code, serial=None, count=1, timeout=10.0):
        return self.wait_msg("Inform", serial, count, lambda m: code in m.event_codes(), timeout)

    def call(self, serial, body, response, timeout=10.0):
        """Queue an RPC and return the CPE's answer (a response or a Fault)."""
        before = len(self.by(response, serial)) + len(self.by("Fault", serial))
        self.rpc(serial, body)

        def got():
            ms = [m for m in self.messages if m.serial == serial and m.name in (response, "Fault")]
            return ms[before] if len(ms) > before else None
        return self.wait(got, timeout, response)

    # ---- HTTP ---------------------------------------------------------------

    def _check_digest(self, h):
        auth = h.headers.get("Authorization", "")
        if not auth.startswith("Digest "):
            return False
        f = dict(re.findall(r'(\w+)="?([^",]*)"?', auth[7:]))
        user, password = self.digest
        if f.get("username") != user or f.get("realm") != self.realm or f.get("nonce") not in self._nonces:
            return False
        ha1 = hashlib.md5(("%s:%s:%s" % (user, self.realm, password)).encode()).hexdigest()
        ha2 = hashlib.md5(("POST:%s" % f.get("uri", "")).encode()).hexdigest()
        want = hashlib.md5(":".join([ha1, f["nonce"], f.get("nc", ""), f.get("cnonce", ""), f.get("qop", ""),
                                     ha2]).encode()).hexdigest()
        return want == f.get("response")

    def _send(self, h, status, body=b"", headers=()):
        h.send_response(status)
        for k, v in headers:
            h.send_header(k, v)
        if body:
            h.send_header("Content-Type", 'text/xml; charset="utf-8"')
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        if body:
            h.wfile.write(body)

    def _handle(self, h):
        n = int(h.headers.get("Content-Length") or 0)
        data = h.rfile.read(n) if n else b""
        if h.path == "/moved":  # a relative redirect to where the ACS is
            with self.cond:
                self.moved_hits += 1
            self._send(h, 307, b"", [("Location", "/acs")])
            return
        cookie = None
        for part in (h.headers.get("Cookie") or "").split(";"):
            k, _, v = part.strip().partition("=")
            if k == "acs_session":
                cookie = v
        with self.cond:
            self.peers.append((h.client_address[1], cookie))
        if self.basic:
            import base64
            want = "Basic " + base64.b64encode(("%s:%s" % self.basic).encode()).decode()
            if h.headers.get("Authorization") != want:
                with self.cond:
                    if h.headers.get("Authorization"):
                        self.auth_failures += 1
                self._send(h, 401, b"", [("WWW-Authenticate", 'Basic realm="%s"' % self.realm)])
                return
        if self.digest and not self._check_digest(h):
            with self.cond:
                if h.headers.get("Authorization"):
                    self.auth_failures += 1
                nonce = uuid.uuid4().hex
                self._nonces.add(nonce)
            self._send(h, 401, b"", [("WWW-Authenticate",
                                      'Digest realm="%s", nonce="%s", qop="auth", algorithm=MD5' % (
                                          self.realm, nonce))])
            return
        headers = []
        serial = self.sessions.get(cookie)
        msg = None
        if data.strip():
            try:
                msg = Message(data, serial)
            except Exception:  # noqa: BLE001 - a test ACS reports, it does not crash
                self._send(h, 400, b"")
                return
            if msg.name == "Inform":
                serial = msg.field("SerialNumber")
                msg.serial = serial
                cookie = uuid.uuid4().hex
                headers.append(("Set-Cookie", "acs_session=%s; Path=/" % cookie))
                url = [v for n, (v, _) in msg.params().items() if n.endswith("ConnectionRequestURL")]
                with self.cond:
                    self.sessions[cookie] = serial
                    self.in_session[serial] = True
                    if url:
                        self.cr_urls[serial] = url[0]
        with self.cond:
            if msg is not None:
                self.messages.append(msg)
                self.raw.append(data)
            self.cond.notify_all()
        if self.mode == "http500":
            self._send(h, 500, b"")
            return
        if self.mode == "hang":
            self._stop.wait(30)
            return
        if self.mode == "malformed":
            self._send(h, 200, b"<soap-env:Envelope><oops")
            return
        if self.mode == "empty":
            self._send(h, 204)
            return
        if self.mode == "huge":  # more than the CPE's --max-response
            self._send(h, 200, b"<x/>" + b" " * 65536)
            return
        ns = msg.ns if msg is not None else "urn:dslforum-org:cwmp-1-0"
        reply = None
        if msg is not None and msg.name == "Inform":
            reply = "<cwmp:InformResponse><MaxEnvelopes>1</MaxEnvelopes></cwmp:InformResponse>"
            rid = msg.id or "1"
        elif msg is not None and msg.name == "TransferComplete":
            reply, rid = "<cwmp:TransferCompleteResponse></cwmp:TransferCompleteResponse>", msg.id or "1"
        elif msg is not None and msg.name == "GetRPCMethods":
            reply = ("<cwmp:GetRPCMethodsResponse>%s</cwmp:GetRPCMethodsResponse>"
                     % string_list("MethodList", ["Inform", "TransferComplete", "GetRPCMethods"]))
            rid = msg.id or "1"
        else:
            with self.cond:
                q = self.queue.get(serial)
                body = q.popleft() if q else None
                if body is None:  # decided under the lock: rpc() then wakes the CPE again
                    self.in_session[serial] = False
            if body is not None:
                reply, rid = body, "acs-%s" % uuid.uuid4().hex[:8]
        if reply is None:
            self._send(h, 204, b"", headers)
            return
        env = ENVELOPE.format(ns=ns, id=rid, body=reply).encode()
        self._send(h, 200, env, headers)


def start_sim(outpost, acs, *args):
    """Start cpe-sim against the scripted ACS, return the daemon."""
    return outpost("cpe-sim", "--acs", acs.url, "--cr-listen", "127.0.0.1:0", "--stats-interval", "0",
                   "--retry-min", "200ms", "--reboot-time", "200ms", *args)


# ---- tests ----------------------------------------------------------------------

def test_bootstrap_inform_then_periodic(outpost):
    acs = ScriptedAcs()
    try:
        sim = start_sim(outpost, acs, "--count", "2", "--inform-interval", "1s", "--jitter", "0")
        first = acs.wait_inform("0 BOOTSTRAP", "SIM000001")
        assert first.event_codes() == ["0 BOOTSTRAP", "1 BOOT"]
        dev = {k: first.field(k) for k in ("Manufacturer", "OUI", "ProductClass", "SerialNumber")}
        assert dev == {"Manufacturer": "Outpost", "OUI": "ACDE48", "ProductClass": "OP-1000",
                       "SerialNumber": "SIM000001"}
        p = first.params()
        host, port = sim.addr()
        assert p["Device.ManagementServer.ConnectionRequestURL"] == (
            "http://%s:%d/cr/SIM000001" % (host, port), "xsd:string")
        assert p["Device.DeviceInfo.SoftwareVersion"][0] == "1.0.0"
        assert first.field("RetryCount") == "0"
        acs.wait_inform("0 BOOTSTRAP", "SIM000002")
        periodic = acs.wait_inform("2 PERIODIC", "SIM000001", timeout=5)
        assert "0 BOOTSTRAP" not in periodic.event_codes()
        assert acs.by("Inform", "SIM000001").index(periodic) >= 1
    finally:
        acs.close()


def test_stats_json_at_exit(outpost):
    acs = ScriptedAcs()
    try:
        sim = start_sim(outpost, acs, "--count", "3", "--json", "--log-level", "debug")
        for s in ("SIM000001", "SIM000002", "SIM000003"):
            sim.wait_for(r"session_end cpe=%s ok=true" % s)
        sim.stop()
        import json
        lines = [l for l in sim.output().splitlines() if l.startswith('{"final"')]
        assert lines, sim.output()
        st = json.loads(lines[-1])["stats"]
        assert st["cpes"] == 3
        assert st["sessions"]["completed"] >= 3
        assert st["sessions"]["failed"] == 0
        assert st["latency_ms"]["p99"] >= st["latency_ms"]["p50"] > 0
    finally:
        acs.close()
