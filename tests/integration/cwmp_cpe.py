"""A scripted TR-069 CPE for the ACS integration tests.

Envelopes are written here by hand (not with Outpost's codec) so the tests
check the ACS against an independent encoder. Every body the ACS sends is
kept in `received` (and written to `capture_dir` when given) so a test can
validate them with ../shared/cwmp/validate-soap.
"""
import base64
import hashlib
import http.client
import os
import re
import subprocess
import xml.etree.ElementTree as ET
from xml.sax.saxutils import escape

import pytest

from conftest import SHARED

SOAP = "http://schemas.xmlsoap.org/soap/envelope/"

# Every envelope any CPE of this process received, for acs_envelopes_valid.
CAPTURED = []


@pytest.fixture(autouse=True)
def acs_envelopes_valid(tmp_path):
    """Autouse in the modules that import it: after the test, every envelope
    the ACS sent to a scripted CPE (faults to hostile input included) must
    validate against the BBF schemas. Skipped when ../shared is absent."""
    CAPTURED.clear()
    yield
    validator = SHARED / "cwmp" / "validate-soap"
    if not CAPTURED or not validator.exists():
        return
    out = tmp_path / "acs-envelopes"
    out.mkdir(exist_ok=True)
    files = []
    for i, body in enumerate(CAPTURED):
        f = out / f"{i:04d}.xml"
        f.write_bytes(body)
        files.append(str(f))
    p = subprocess.run([str(validator)] + files, capture_output=True, text=True)
    assert p.returncode == 0, p.stdout + p.stderr


def ns_uri(v):
    return f"urn:dslforum-org:cwmp-1-{v}"


def envelope(body, ns="2", msg_id=None):
    hdr = ""
    if msg_id is not None:
        hdr = (f'<soap:Header><cwmp:ID soap:mustUnderstand="1">{escape(str(msg_id))}</cwmp:ID>'
               f'</soap:Header>')
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<soap:Envelope xmlns:soap="{SOAP}" xmlns:soapenc="http://schemas.xmlsoap.org/soap/encoding/" '
            f'xmlns:xsd="http://www.w3.org/2001/XMLSchema" '
            f'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:cwmp="{ns_uri(ns)}">'
            f'{hdr}<soap:Body>{body}</soap:Body></soap:Envelope>').encode()


def pvs(params):
    items = "".join(
        f'<ParameterValueStruct><Name>{escape(n)}</Name><Value xsi:type="{t}">{escape(str(v))}</Value>'
        f'</ParameterValueStruct>' for n, v, t in params)
    return (f'<ParameterList soapenc:arrayType="cwmp:ParameterValueStruct[{len(params)}]">'
            f'{items}</ParameterList>')


def inform(serial, events=(("2 PERIODIC", ""),), params=None, oui="00D09E", pclass="IGD",
           cr_url=None, interval=300):
    params = list(params or [])
    params += [("InternetGatewayDevice.DeviceInfo.SoftwareVersion", "1.0.0", "xsd:string"),
               ("InternetGatewayDevice.DeviceInfo.HardwareVersion", "HW1", "xsd:string"),
               ("InternetGatewayDevice.ManagementServer.PeriodicInformInterval", interval,
                "xsd:unsignedInt")]
    if cr_url:
        params.append(("InternetGatewayDevice.ManagementServer.ConnectionRequestURL", cr_url,
                       "xsd:string"))
    ev = "".join(f"<EventStruct><EventCode>{escape(c)}</EventCode><CommandKey>{escape(k)}"
                 f"</CommandKey></EventStruct>" for c, k in events)
    return (f"<cwmp:Inform><DeviceId><Manufacturer>Acme</Manufacturer><OUI>{oui}</OUI>"
            f"<ProductClass>{pclass}</ProductClass><SerialNumber>{escape(serial)}</SerialNumber>"
            f"</DeviceId><Event soapenc:arrayType=\"cwmp:EventStruct[{len(events)}]\">{ev}</Event>"
            f"<MaxEnvelopes>1</MaxEnvelopes><CurrentTime>2026-01-01T00:00:00Z</CurrentTime>"
            f"<RetryCount>0</RetryCount>{pvs(params)}</cwmp:Inform>")


def fault(code, text, spv=()):
    extra = "".join(f"<SetParameterValuesFault><ParameterName>{n}</ParameterName>"
                    f"<FaultCode>{c}</FaultCode><FaultString>{s}</FaultString>"
                    f"</SetParameterValuesFault>" for n, c, s in spv)
    return (f"<soap:Fault><faultcode>Client</faultcode><faultstring>CWMP fault</faultstring>"
            f"<detail><cwmp:Fault><FaultCode>{code}</FaultCode><FaultString>{text}</FaultString>"
            f"{extra}</cwmp:Fault></detail></soap:Fault>")


class Reply:
    """The ACS's answer to one POST."""

    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body
        self.root = ET.fromstring(body) if body else None

    @property
    def rpc(self):
        """Local name of the body element ('' for an empty answer)."""
        if self.root is None:
            return ""
        body = self.root.find(f"{{{SOAP}}}Body")
        kids = list(body)
        return kids[0].tag.split("}")[-1] if kids else ""

    @property
    def ns(self):
        body = self.root.find(f"{{{SOAP}}}Body")
        return list(body)[0].tag.split("}")[0].lstrip("{")

    @property
    def rpc_elem(self):
        return list(self.root.find(f"{{{SOAP}}}Body"))[0]

    @property
    def id(self):
        for e in self.root.iter():
            if e.tag.endswith("}ID"):
                return e.text
        return None

    def find(self, name):
        for e in self.rpc_elem.iter():
            if e.tag.split("}")[-1] == name:
                return e.text
        return None

    def findall(self, name):
        return [e.text for e in self.rpc_elem.iter() if e.tag.split("}")[-1] == name]


class CPE:
    """One CWMP client. A session is a series of post() calls on one
    keep-alive connection; new_connection() continues it on another."""

    def __init__(self, addr, ns="2", auth=None, capture_dir=None, use_cookies=True, tls=None,
                 basic=False, source=None):
        self.use_cookies = use_cookies
        self.source = source  # local address to connect from ("127.0.0.2"), None: any
        self.tls = tls      # an ssl.SSLContext for https
        self.basic = basic  # answer with Basic instead of Digest
        self.addr = addr
        self.ns = ns
        self.auth = auth  # (user, password) for Digest
        self.cookie = None
        self.conn = None
        self.received = []
        self.capture_dir = capture_dir
        self.nc = 0
        self.extra_headers = {}  # sent with every request (X-Forwarded-For, ...)

    def new_connection(self):
        if self.conn:
            self.conn.close()
        src = (self.source, 0) if self.source else None
        if self.tls:
            self.conn = http.client.HTTPSConnection(*self.addr, timeout=15, context=self.tls,
                                                    source_address=src)
        else:
            self.conn = http.client.HTTPConnection(*self.addr, timeout=15, source_address=src)

    def close(self):
        if self.conn:
            self.conn.close()
            self.conn = None

    def _digest(self, challenge, uri):
        fields = dict(re.findall(r'(\w+)="?([^",]*)"?', challenge))
        user, pw = self.auth
        self.nc += 1
        nc = f"{self.nc:08x}"
        cnonce = os.urandom(8).hex()
        alg = fields.get("algorithm", "MD5")
        h = hashlib.sha256 if alg.upper().startswith("SHA-256") else hashlib.md5
        ha1 = h(f"{user}:{fields['realm']}:{pw}".encode()).hexdigest()
        ha2 = h(f"POST:{uri}".encode()).hexdigest()
        resp = h(f"{ha1}:{fields['nonce']}:{nc}:{cnonce}:auth:{ha2}".encode()).hexdigest()
        return (f'Digest username="{user}", realm="{fields["realm"]}", nonce="{fields["nonce"]}", '
                f'uri="{uri}", algorithm={alg}, qop=auth, nc={nc}, cnonce="{cnonce}", '
                f'response="{resp}"' + (f', opaque="{fields["opaque"]}"' if "opaque" in fields else ""))

    def post(self, body=b"", path="/", authorization=None):
        if self.conn is None:
            self.new_connection()
        headers = {"Content-Type": "text/xml; charset=utf-8"} if body else {}
        headers.update(self.extra_headers)
        if self.cookie:
            headers["Cookie"] = self.cookie
        if authorization:
            headers["Authorization"] = authorization
        self.conn.request("POST", path, body=body, headers=headers)
        r = self.conn.getresponse()
        data = r.read()
        hdrs = {k.lower(): v for k, v in r.getheaders()}
        if r.status == 401 and self.auth and not authorization:
            if self.basic:
                tok = base64.b64encode(f"{self.auth[0]}:{self.auth[1]}".encode()).decode()
                return self.post(body, path, f"Basic {tok}")
            chal = [v for k, v in r.getheaders() if k.lower() == "www-authenticate"
                    and v.startswith("Digest")]
            return self.post(body, path, self._digest(chal[-1], path))
        sc = hdrs.get("set-cookie")
        if sc and self.use_cookies:
            self.cookie = sc.split(";")[0]
        reply = Reply(r.status, hdrs, data if r.status in (200,) else b"")
        if r.status == 200:
            self.received.append(data)
            CAPTURED.append(data)
            if self.capture_dir:
                n = len(os.listdir(self.capture_dir))
                with open(os.path.join(self.capture_dir, f"{n:04d}.xml"), "wb") as f:
                    f.write(data)
        return reply

    def inform(self, serial, events=(("2 PERIODIC", ""),), **kw):
        self.cookie = None
        return self.post(envelope(inform(serial, events, **kw), self.ns, msg_id="inform-1"))

    def answer(self, reply, body):
        return self.post(envelope(body, self.ns, msg_id=reply.id))
