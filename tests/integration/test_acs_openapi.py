"""outpost acs: docs/api/openapi.yaml against the ACS that serves it.

* the routes the ACS's router registers on its API listener (logged at
  --log-level debug as `http_route api=acs ...`) and the document's
  operations are the same set, with the same access (public, or the role
  the operation's security names; none named: admin);
* GET /api/openapi.json is the YAML file's content, with a strong ETag
  (If-None-Match -> 304), a gzip copy for clients that take it, HEAD;
* the document is OpenAPI 3.1 in structure: operations with responses,
  unique operationIds, declared path parameters, resolving $refs, schemas
  that are JSON Schema 2020-12, examples valid against their schemas;
* real answers of every operation (2xx and errors) are documented for that
  operation and valid against the documented schema, and task bodies the
  schema accepts are accepted by the ACS while those it rejects are 422;
* scripts/embed-file, which embeds the document, writes what it read and
  refuses YAML whose JSON would say something else.
"""
import gzip
import hashlib
import http.client
import http.server
import json
import re
import socket
import subprocess
import threading
import urllib.parse

import jsonschema
import jsonschema.exceptions
import pytest
import yaml

from conftest import ROOT, free_port
from cwmp_cpe import CPE, fault, acs_envelopes_valid  # noqa: F401 (autouse: validates what the ACS sent)
from test_acs_session import TOKEN, cwmp_addr, start_acs

DOC_PATH = ROOT / "docs" / "api" / "openapi.yaml"
# Operations with these tags are exercised against the document by
# test_acs_presets.py (test_api_against_document), not here; those of
# ELSEWHERE_TAGS by other files (keys: test_acs_keys.py,
# test_keys_api_against_document).
PROV_TAGS = {"presets", "provisions", "virtual-parameters"}
HISTORY_TAGS = {"history"}  # test_acs_faults.py
# ...and webhooks by test_acs_webhooks.py (test_api_against_document).
ELSEWHERE_TAGS = PROV_TAGS | HISTORY_TAGS | {"keys", "webhooks"}
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
ROUTE_RE = re.compile(r"http_route api=(\S+) method=(\S+) path=(\S+) access=(\S+)")


@pytest.fixture(scope="module")
def doc():
    with open(DOC_PATH, encoding="utf-8") as f:
        return yaml.safe_load(f)


def pointer(doc, ref):
    """The object a local $ref ("#/a/b~1c") names; KeyError if none."""
    assert ref.startswith("#/"), f"not a local reference: {ref}"
    node = doc
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        node = node[int(part)] if isinstance(node, list) else node[part]
    return node


def deref(doc, obj):
    while isinstance(obj, dict) and "$ref" in obj:
        obj = pointer(doc, obj["$ref"])
    return obj


def walk(node, at=""):
    """(location, dict) for every mapping in the document."""
    if isinstance(node, dict):
        yield at, node
        for k, v in node.items():
            yield from walk(v, f"{at}/{k}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from walk(v, f"{at}/{i}")


def operations(doc):
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if method in METHODS:
                yield path, method, item, op


def validator(doc, schema):
    # "#/components/..." inside the schema resolves against the whole document
    return jsonschema.Draft202012Validator(schema, resolver=jsonschema.RefResolver("", doc))


def is_valid(doc, schema, value):
    return validator(doc, schema).is_valid(value)


# ---- the document on its own ---------------------------------------------------------------

def test_document_structure(doc):
    assert re.fullmatch(r"3\.1\.\d+", doc["openapi"]), doc["openapi"]
    assert doc["info"]["title"] and doc["info"]["version"]
    schemes = doc["components"]["securitySchemes"]
    assert doc["security"] == [{"bearer": ["admin"]}] and schemes["bearer"] == {
        **schemes["bearer"], "type": "http", "scheme": "bearer"}
    ids = []
    for path, method, item, op in operations(doc):
        where = f"{method.upper()} {path}"
        assert path.startswith("/"), where
        assert op.get("responses"), f"{where}: no responses"
        for code, resp in op["responses"].items():
            assert re.fullmatch(r"[1-5](\d\d|XX)|default", code), f"{where}: response {code!r}"
            assert deref(doc, resp).get("description"), f"{where} {code}: no description"
        assert op.get("operationId"), f"{where}: no operationId"
        ids.append(op["operationId"])
        # path parameters: exactly the template's, required
        params = [deref(doc, p) for p in item.get("parameters", []) + op.get("parameters", [])]
        for lst in (item.get("parameters", []), op.get("parameters", [])):
            keys = [(deref(doc, p)["name"], deref(doc, p)["in"]) for p in lst]
            assert len(keys) == len(set(keys)), f"{where}: a parameter twice"
        in_path = {p["name"] for p in params if p["in"] == "path"}
        assert in_path == set(re.findall(r"\{([^}/]+)\}", path)), f"{where}: path parameters"
        assert all(p.get("required") is True for p in params if p["in"] == "path"), where
        for p in params:
            assert p["in"] in ("path", "query", "header", "cookie") and "schema" in p, where
        for req in op.get("security", doc["security"]):
            assert set(req) <= set(schemes), f"{where}: unknown security scheme"
    dup = {i for i in ids if ids.count(i) > 1}
    assert not dup, f"operationIds used twice: {dup}"

    # every $ref resolves (and is local: the document stands alone)
    refs = 0
    for at, node in walk(doc):
        if isinstance(node.get("$ref"), str):
            try:
                pointer(doc, node["$ref"])
            except (KeyError, IndexError, ValueError) as e:
                pytest.fail(f"{at}: $ref {node['$ref']} does not resolve ({e!r})")
            refs += 1
    assert refs > 50

    # every schema is a JSON Schema 2020-12 (OpenAPI 3.1's dialect)
    schemas = [(f"/components/schemas/{k}", v) for k, v in doc["components"]["schemas"].items()]
    schemas += [(at, node["schema"]) for at, node in walk(doc["paths"]) if "schema" in node]
    schemas += [(at, node["schema"]) for at, node in walk(doc["components"]["parameters"])
                if "schema" in node]
    for at, s in schemas:
        try:
            jsonschema.Draft202012Validator.check_schema(s)
        except jsonschema.SchemaError as e:
            pytest.fail(f"{at}: not a JSON Schema 2020-12: {e.message}")

    # a discriminator maps each value to one of its oneOf, and that schema's
    # property is exactly that value
    for at, node in walk(doc):
        disc = node.get("discriminator")
        if not isinstance(disc, dict) or "propertyName" not in disc:
            continue
        targets = {o["$ref"] for o in node["oneOf"]}
        assert set(disc["mapping"].values()) == targets, at
        for value, ref in disc["mapping"].items():
            prop = pointer(doc, ref)["properties"][disc["propertyName"]]
            assert prop == {"const": value}, f"{at}: {value} -> {ref}"

    # examples are valid against their schemas
    checked = 0
    for at, node in walk(doc):
        if "schema" in node and ("example" in node or "examples" in node):
            values = [node["example"]] if "example" in node else \
                [deref(doc, e)["value"] for e in node["examples"].values()]
            for v in values:
                errs = list(validator(doc, node["schema"]).iter_errors(v))
                assert not errs, f"{at}: example {v!r}: {errs[0].message}"
                checked += 1
    assert checked >= 4


def test_embed_file(tmp_path):
    """The generator the build runs: the C file it writes, and YAML it
    refuses rather than embed something else than the file says."""
    tool = ROOT / "scripts" / "embed-file"
    src = tmp_path / "doc.yaml"
    src.write_text("a: {b: [1, 'x', null, true]}\nc: '200'\n" + "pad: " + "z" * 400 + "\n")
    out = tmp_path / "doc.c"
    p = subprocess.run([str(tool), "--name", "my_doc", "--yaml-to-json", "--gzip", str(src), str(out)],
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    c = out.read_text()
    data = bytes(int(x, 16) for x in re.search(r"my_doc_data\[\] = \{(.*?)\};", c, re.S)[1]
                 .replace(",", " ").split())
    gz = bytes(int(x, 16) for x in re.search(r"my_doc_gz\[\] = \{(.*?)\};", c, re.S)[1]
               .replace(",", " ").split())
    assert json.loads(data) == {"a": {"b": [1, "x", None, True]}, "c": "200", "pad": "z" * 400}
    assert b" " not in data                                    # compact
    assert gzip.decompress(gz) == data
    digest = hashlib.sha256(data).hexdigest()
    assert f'.len = {len(data)},' in c and f'.gz_len = {len(gz)},' in c
    assert f'.etag = "\\"{digest}\\"",' in c and f'.etag_gz = "\\"{digest}-gzip\\"",' in c
    assert '.ctype = "application/json",' in c and "const http_static_t my_doc = {" in c
    # the same input gives the same bytes (no timestamp in the gzip copy)
    out2 = tmp_path / "again.c"
    subprocess.run([str(tool), "--name", "my_doc", "--yaml-to-json", "--gzip", str(src), str(out2)],
                   check=True)
    assert out2.read_text() == c

    for text, why in (("a: 1\na: 2\n", "duplicate key 'a'"),
                      ("r:\n  200: {}\n", "key 200 is not a string"),
                      ("d: 2026-01-01\n", "a date has no JSON type"),
                      ("a: [\n", "doc.yaml")):
        src.write_text(text)
        p = subprocess.run([str(tool), "--name", "x", "--yaml-to-json", str(src), str(tmp_path / "x.c")],
                           capture_output=True, text=True)
        assert p.returncode == 1 and why in p.stderr, (text, p.stderr)
        assert not (tmp_path / "x.c").exists()


# ---- against the ACS -----------------------------------------------------------------------

_CONNS = {}


def call(acs, method, path, body=None, token=TOKEN, headers=None):
    """One request (http.client: nothing decoded or cleaned up behind the
    test's back) on a kept-alive connection to the daemon: (status, headers
    with lower-case names, raw body)."""
    addr = acs.addr("api")
    c = _CONNS.get(addr)
    if c is None:
        c = _CONNS[addr] = http.client.HTTPConnection(*addr, timeout=30)
    h = dict(headers or {})
    if token:
        h["Authorization"] = f"Bearer {token}"
    data = None
    if body is not None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        h["Content-Type"] = "application/json"
    c.request(method, path, body=data, headers=h)
    r = c.getresponse()
    raw = r.read()
    hdrs = {k.lower(): v for k, v in r.getheaders()}
    if r.will_close:
        c.close()  # the next request opens another
    return r.status, hdrs, raw


@pytest.fixture(autouse=True)
def _close_conns():
    yield
    for c in _CONNS.values():
        c.close()
    _CONNS.clear()


def head_only(acs, method, path, content_length):
    """A request whose body is announced but never sent (a server that
    refuses it must answer from the head): (status, headers, body)."""
    s = socket.create_connection(acs.addr("api"), timeout=30)
    s.sendall(f"{method} {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n"
              f"Content-Type: application/json\r\nContent-Length: {content_length}\r\n\r\n".encode())
    out = b""
    while chunk := s.recv(65536):
        out += chunk
    s.close()
    head, _, body = out.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    hdrs = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:])}
    return int(lines[0].split()[1]), hdrs, body


def test_routes_match_document(outpost, tmp_path, doc):
    acs = start_acs(outpost, tmp_path, "--cpe-auth", "none", "--log-level", "debug",
                    "--admin-listen", "127.0.0.1:0")
    served, admin = {}, set()
    for line in acs.lines:
        m = ROUTE_RE.search(line)
        if m and m[1] == "acs":
            assert (m[2], m[3]) not in served, f"route registered twice: {m[0]}"
            served[(m[2], m[3])] = m[4]
        elif m and m[1] == "acs-admin":
            admin.add((m[2], m[3]))
    assert ("GET", "/api/openapi.json") in served and ("GET", "/api/devices") in served

    documented = {}
    for path, method, _, op in operations(doc):
        security = op.get("security", doc["security"])
        documented[(method.upper(), path)] = \
            "public" if security == [] or {} in security else (security[0]["bearer"] or ["admin"])[0]
    undocumented = sorted(set(served) - set(documented))
    assert not undocumented, f"served but not in {DOC_PATH.name}: {undocumented}"
    not_served = sorted(set(documented) - set(served))
    assert not not_served, f"in {DOC_PATH.name} but not served: {not_served}"
    wrong = {k: (served[k], documented[k]) for k in served if served[k] != documented[k]}
    assert not wrong, f"access (served, documented): {wrong}"
    # the admin listener is another API: none of its routes is in this one
    assert admin and not admin & set(documented)

    # what the ACS serves is the YAML file, as JSON
    status, hdrs, raw = call(acs, "GET", "/api/openapi.json")
    assert status == 200 and hdrs["content-type"] == "application/json"
    assert json.loads(raw) == doc
    # the token, like every /api/ path
    status, _, raw = call(acs, "GET", "/api/openapi.json", token=None)
    assert status == 401 and json.loads(raw)["error"] == "unauthorized"


def test_etag_and_gzip(outpost, tmp_path):
    acs = start_acs(outpost, tmp_path, "--cpe-auth", "none")
    status, h, body = call(acs, "GET", "/api/openapi.json", headers={"Accept-Encoding": "identity"})
    assert status == 200 and "content-encoding" not in h
    etag = h["etag"]
    assert etag == '"' + hashlib.sha256(body).hexdigest() + '"'      # strong: the content's hash
    assert h["vary"] == "Accept-Encoding" and h["cache-control"] == "no-cache"
    assert int(h["content-length"]) == len(body)

    # revalidation: 304 without a body, with the validators a 200 would have
    for inm in (etag, "W/" + etag, '"other", ' + etag, "*"):
        status, h304, raw = call(acs, "GET", "/api/openapi.json", headers={"If-None-Match": inm})
        assert status == 304 and raw == b"", inm
        assert h304["etag"] == etag and h304["vary"] == "Accept-Encoding"
        assert "content-length" not in h304 and "content-type" not in h304
    status, _, raw = call(acs, "GET", "/api/openapi.json", headers={"If-None-Match": '"stale"'})
    assert status == 200 and raw == body

    # gzip to those who take it: the same document, another representation
    for ae in ("gzip", "br, gzip;q=0.5", "*", "x-gzip"):
        status, hz, z = call(acs, "GET", "/api/openapi.json", headers={"Accept-Encoding": ae})
        assert status == 200 and hz["content-encoding"] == "gzip", ae
        assert gzip.decompress(z) == body and len(z) < len(body) // 2
        assert hz["etag"] != etag and hz["etag"].startswith('"') and hz["vary"] == "Accept-Encoding"
    status, h304, raw = call(acs, "GET", "/api/openapi.json",
                             headers={"Accept-Encoding": "gzip", "If-None-Match": hz["etag"]})
    assert status == 304 and raw == b"" and h304["etag"] == hz["etag"]
    # the identity tag does not validate the gzip copy, nor the other way round
    status, _, raw = call(acs, "GET", "/api/openapi.json",
                          headers={"Accept-Encoding": "gzip", "If-None-Match": etag})
    assert status == 200 and gzip.decompress(raw) == body
    status, _, raw = call(acs, "GET", "/api/openapi.json", headers={"If-None-Match": hz["etag"]})
    assert status == 200 and raw == body
    for ae in ("gzip;q=0", "deflate, br", "gzip;q=0, *"):
        status, h2, raw = call(acs, "GET", "/api/openapi.json", headers={"Accept-Encoding": ae})
        assert status == 200 and "content-encoding" not in h2 and raw == body, ae

    # HEAD: the headers of a GET, no body
    status, hh, raw = call(acs, "HEAD", "/api/openapi.json")
    assert status == 200 and raw == b"" and hh["etag"] == etag
    assert int(hh["content-length"]) == len(body)


# ---- real answers against the documented ones ------------------------------------------------

class Checker:
    """Sends requests and checks each answer against the operation's
    documented response for its status: the status must be documented,
    the Content-Type one of its media types, a JSON body valid against it."""

    def __init__(self, acs, doc):
        self.acs, self.doc = acs, doc
        self.seen = set()

    def check(self, method, template, status, hdrs, raw, what=""):
        op = self.doc["paths"][template][method.lower()]
        where = f"{method} {template} {what}".strip()
        resp = op["responses"].get(str(status))
        assert resp is not None, f"{where}: {status} is not documented: {raw[:300]!r}"
        self.seen.add((op["operationId"], status))
        return self.against(deref(self.doc, resp), status, hdrs, raw, where)

    def against(self, resp, status, hdrs, raw, where):
        content = resp.get("content")
        if not content:
            assert raw == b"", f"{where}: {status} documented without a body: {raw[:200]!r}"
            return None
        ctype = hdrs.get("content-type", "").split(";")[0].strip()
        assert ctype in content, f"{where}: {status} as {ctype!r}, documented {list(content)}"
        for name, h in resp.get("headers", {}).items():
            # required: false (e.g. Link: only when there are more pages)
            if name.lower() in ("content-encoding",) or h.get("required") is False:
                continue
            assert name.lower() in hdrs, f"{where}: {status} without its {name} header"
        if ctype != "application/json":
            return raw
        body = json.loads(raw)
        err = jsonschema.exceptions.best_match(
            validator(self.doc, content[ctype]["schema"]).iter_errors(body))
        assert err is None, (f"{where}: {status} answer does not match the document: "
                             f"{err.message} at {list(err.absolute_path)}\n{body}")
        return body

    def req(self, method, path, template, body=None, token=TOKEN, headers=None, want=None):
        status, hdrs, raw = call(self.acs, method, path, body=body, token=token, headers=headers)
        if want is not None:
            assert status == want, f"{method} {path}: {status} {raw[:300]!r}, expected {want}"
        return status, self.check(method, template, status, hdrs, raw, path)

    def component(self, name, path, method="GET", body=None, headers=None, want=None):
        """An answer that belongs to no operation (router answers)."""
        status, hdrs, raw = call(self.acs, method, path, body=body, headers=headers)
        assert status == want, f"{method} {path}: {status} {raw[:200]!r}"
        return self.against(self.doc["components"]["responses"][name], status, hdrs, raw, path)


# Task bodies the document accepts: the ACS must accept them too (201).
GOOD_TASKS = [
    {"type": "get_params", "parameters": {"names": ["InternetGatewayDevice.DeviceInfo."]}},
    {"type": "set_params", "parameters": {"values": {"X.A": "s", "X.B": 5, "X.C": True, "X.D": -1.5,
                                                     "X.E": {"value": "7", "type": "xsd:unsignedInt"},
                                                     "X.F": {"value": "2026-01-31T23:59:59Z",
                                                             "type": "xsd:dateTime"}},
                                          "parameter_key": "k1"}},
    {"type": "get_names"},
    {"type": "get_names", "parameters": None},
    {"type": "get_names", "parameters": {"path": "InternetGatewayDevice.", "next_level": True}},
    {"type": "get_attributes", "parameters": {"names": ["X.A", "X."]}},
    {"type": "set_attributes", "parameters": {"attributes": [
        {"name": "X.A", "notification": 2}, {"name": "X.B", "access_list": ["Subscriber"]},
        {"name": "X.C", "notification": 0, "access_list": []}]}},
    {"type": "add_object", "parameters": {"object": "X.Obj.", "parameter_key": "k"}},
    {"type": "delete_object", "parameters": {"object": "X.Obj.3."}},
    {"type": "reboot"},
    {"type": "reboot", "parameters": {}},
    {"type": "factory_reset", "parameters": None},
    {"type": "download", "parameters": {
        "url": "HTTPS://files.invalid/fw.bin", "file_type": "1 Firmware Upgrade Image",
        "file_size": 4294967295, "target_file_name": "fw.bin", "username": "u", "password": "p",
        "delay_seconds": 0, "success_url": "", "failure_url": "ftp://files.invalid/failed"}},
    {"type": "download", "parameters": {"url": "ftp://files.invalid/x", "file_type": "X ACME Thing"}},
    {"type": "upload", "parameters": {"url": "http://files.invalid/up", "file_type": "3 Vendor Log File",
                                      "delay_seconds": 5}},
    {"type": "schedule_inform"},
    {"type": "schedule_inform", "parameters": {"delay_seconds": 1}},
    {"type": "get_rpc_methods"},
]

# Task bodies the document rejects: the ACS must refuse them too (422).
BAD_TASKS = [
    {"parameters": {}},
    {"type": "nope"},
    {"type": 5},
    {"type": "get_params"},
    {"type": "get_params", "parameters": {"names": []}},
    {"type": "get_params", "parameters": {"names": ["x" * 257]}},
    {"type": "get_params", "parameters": {"names": ["x"], "extra": 1}},
    {"type": "get_params", "parameters": {"names": ["x"]}, "extra": 1},
    {"type": "get_params", "parameters": []},
    {"type": "set_params", "parameters": {"values": {}}},
    {"type": "set_params", "parameters": {"values": {"X.A": [1]}}},
    {"type": "set_params", "parameters": {"values": {"X.A": {"value": "1", "type": "xsd:bogus"}}}},
    {"type": "set_params", "parameters": {"values": {"X.A": {"type": "xsd:string"}}}},
    {"type": "set_params", "parameters": {"values": {"X.A": {"value": "1", "kind": "x"}}}},
    {"type": "set_params", "parameters": {"values": {"X.A": "1"}, "parameter_key": "k" * 33}},
    {"type": "get_names", "parameters": {"next_level": "yes"}},
    {"type": "get_names", "parameters": {"path": "p" * 257}},
    {"type": "set_attributes", "parameters": {"attributes": [{"name": "X.A"}]}},
    {"type": "set_attributes", "parameters": {"attributes": [{"name": "X.A", "notification": 7}]}},
    {"type": "set_attributes", "parameters": {"attributes": [{"name": "X.A", "access_list": ["a,b"]}]}},
    {"type": "set_attributes", "parameters": {"attributes": [{"name": "X.A", "notification": 1, "x": 1}]}},
    {"type": "add_object", "parameters": {"object": "X.Obj"}},
    {"type": "add_object", "parameters": {}},
    {"type": "delete_object", "parameters": {"object": ""}},
    {"type": "reboot", "parameters": {"delay": 1}},
    {"type": "factory_reset", "parameters": "now"},
    {"type": "download", "parameters": {"url": "file:///etc/passwd"}},
    {"type": "download", "parameters": {"url": ""}},
    {"type": "download", "parameters": {"file_size": 1}},
    {"type": "download", "parameters": {"url": "http://x/", "file_size": -1}},
    {"type": "download", "parameters": {"url": "http://x/", "delay_seconds": 4294967296}},
    {"type": "download", "parameters": {"url": "http://x/", "file_type": "Firmware"}},
    {"type": "download", "parameters": {"url": "http://x/", "success_url": "gopher://x/"}},
    {"type": "download", "parameters": {"url": "http://x/", "checksum": "x"}},
    {"type": "upload", "parameters": {"url": "http://x/", "file_size": 1}},
    {"type": "schedule_inform", "parameters": {"delay_seconds": 0}},
    {"type": "get_rpc_methods", "parameters": {"x": 1}},
    [],
]

GPV = ('<cwmp:GetParameterValuesResponse><ParameterList soapenc:arrayType='
       '"cwmp:ParameterValueStruct[1]"><ParameterValueStruct><Name>InternetGatewayDevice.DeviceInfo.'
       'UpTime</Name><Value xsi:type="xsd:unsignedInt">42</Value></ParameterValueStruct>'
       '</ParameterList></cwmp:GetParameterValuesResponse>')
GRM = ('<cwmp:GetRPCMethodsResponse><MethodList soapenc:arrayType="xsd:string[1]"><string>Reboot'
       '</string></MethodList></cwmp:GetRPCMethodsResponse>')
GPN = ('<cwmp:GetParameterNamesResponse><ParameterList soapenc:arrayType="cwmp:ParameterInfoStruct[1]">'
       '<ParameterInfoStruct><Name>InternetGatewayDevice.DeviceInfo.UpTime</Name><Writable>0</Writable>'
       '</ParameterInfoStruct></ParameterList></cwmp:GetParameterNamesResponse>')


class WakeMe(http.server.BaseHTTPRequestHandler):
    """A CPE's connection request server that answers 200 without asking."""

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *a):
        pass


@pytest.fixture
def cr_server():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), WakeMe)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}/cr"
    srv.shutdown()
    srv.server_close()


def test_answers_match_document(outpost, tmp_path, doc, cr_server):
    # this host may be woken (the CR server is on loopback); link-local not
    acs = start_acs(outpost, tmp_path, "--cpe-auth", "none", "--cr-deny", "169.254.0.0/16")
    c = Checker(acs, doc)
    task_schema = {"$ref": "#/components/schemas/TaskRequest"}
    cpe = CPE(cwmp_addr(acs))
    # T1 never opens another session; SN-1 (id 00D09E-IGD-SN%2D1) runs its
    # tasks; the others have a connection request URL each: one that answers,
    # one in --cr-deny, one where nothing listens.
    for serial, url in (("T1", None), ("SN-1", None), ("OK", cr_server),
                        ("DENY", "http://169.254.0.1/cr"),
                        ("DOWN", f"http://127.0.0.1:{free_port()}/cr")):
        assert cpe.inform(serial, events=[("1 BOOT", "")], cr_url=url).rpc == "InformResponse"
        assert cpe.post().status == 204
    t1 = "/api/devices/00D09E-IGD-T1"
    sn1 = "/api/devices/" + urllib.parse.quote("00D09E-IGD-SN%2D1", safe="")

    # devices
    _, devs = c.req("GET", "/api/devices", "/api/devices", want=200)
    assert len(devs) == 5 and "00D09E-IGD-SN%2D1" in {d["id"] for d in devs}
    for q in ("?limit=1&offset=1", "?online=true&q=00D09E", "?tag=none&online=OFF"):
        c.req("GET", "/api/devices" + q, "/api/devices", want=200)
    for q in ("?limit=0", "?limit=1001", "?offset=-1", "?online=maybe", "?q=" + "x" * 200):
        c.req("GET", "/api/devices" + q, "/api/devices", want=400)
    _, d = c.req("GET", sn1, "/api/devices/{id}", want=200)
    assert d["in_session"] is False and d["serial_number"] == "SN-1"
    c.req("GET", "/api/devices/nope", "/api/devices/{id}", want=404)
    c.req("GET", sn1 + "/parameters", "/api/devices/{id}/parameters", want=200)
    c.req("GET", sn1 + "/parameters?prefix=InternetGatewayDevice.DeviceInfo.",
          "/api/devices/{id}/parameters", want=200)
    c.req("GET", "/api/devices/nope/parameters", "/api/devices/{id}/parameters", want=404)
    _, d = c.req("PUT", t1 + "/tags", "/api/devices/{id}/tags", body={"tags": ["lab", "north"]}, want=200)
    assert d["tags"] == ["lab", "north"]
    c.req("PUT", t1 + "/tags", "/api/devices/{id}/tags", body=b"{", want=400)
    c.req("PUT", t1 + "/tags", "/api/devices/{id}/tags", body={"tags": ["a,b"]}, want=422)
    c.req("PUT", "/api/devices/nope/tags", "/api/devices/{id}/tags", body={"tags": []}, want=404)
    # search, pages and single tags (test_acs_search.py tests them in depth)
    for q in ("?filter=model%3DIGD%20AND%20online&sort=-last_inform&limit=2",
              "?filter=tag%3Dlab"):
        c.req("GET", "/api/devices" + q, "/api/devices", want=200)
    for q in ("?filter=model%3D", "?sort=colour", "?cursor=zz"):
        c.req("GET", "/api/devices" + q, "/api/devices", want=400)
    _, d = c.req("PUT", t1 + "/tags/wave-1", "/api/devices/{id}/tags/{tag}", want=200)
    assert "wave-1" in d["tags"]
    _, d = c.req("DELETE", t1 + "/tags/wave-1", "/api/devices/{id}/tags/{tag}", want=200)
    assert "wave-1" not in d["tags"]
    c.req("PUT", t1 + "/tags/a%2Cb", "/api/devices/{id}/tags/{tag}", want=422)
    c.req("DELETE", "/api/devices/nope/tags/x", "/api/devices/{id}/tags/{tag}", want=404)
    # bulk tasks (test_acs_bulk.py tests them with cpe-sim)
    _, b = c.req("POST", "/api/tasks", "/api/tasks", body={"filter": "serial=DENY", "max_in_flight": 1,
                 "task": {"type": "reboot"}}, want=201)
    c.req("GET", "/api/bulk/%d" % b["id"], "/api/bulk/{id}", want=200)
    _, g = c.req("GET", "/api/bulk/%d?status=pending&limit=5" % b["id"], "/api/bulk/{id}", want=200)
    assert [t["device"] for t in g["tasks"]] == ["00D09E-IGD-DENY"]
    c.req("GET", "/api/bulk/%d?status=lost" % b["id"], "/api/bulk/{id}", want=400)
    c.req("DELETE", "/api/bulk/%d" % b["id"], "/api/bulk/{id}", want=200)
    c.req("DELETE", "/api/bulk/%d" % b["id"], "/api/bulk/{id}", want=409)
    c.req("GET", "/api/bulk/999", "/api/bulk/{id}", want=404)
    c.req("POST", "/api/tasks", "/api/tasks", body={"filter": "model=none", "task": {"type": "reboot"}},
          want=422)
    c.req("POST", "/api/tasks", "/api/tasks", body={"filter": "model=", "task": {"type": "reboot"}},
          want=400)
    c.req("POST", "/api/tasks", "/api/tasks", body=b"{", want=400)
    _, d = c.req("PUT", t1 + "/connection-request-credentials",
                 "/api/devices/{id}/connection-request-credentials",
                 body={"username": "cr", "password": "secret"}, want=200)
    assert d["connection_request_username"] == "cr" and "secret" not in json.dumps(d)
    c.req("PUT", t1 + "/connection-request-credentials",
          "/api/devices/{id}/connection-request-credentials", body=b"x", want=400)
    c.req("PUT", t1 + "/connection-request-credentials",
          "/api/devices/{id}/connection-request-credentials", body={"username": "cr"}, want=422)
    c.req("PUT", "/api/devices/nope/connection-request-credentials",
          "/api/devices/{id}/connection-request-credentials",
          body={"username": "a", "password": "b"}, want=404)
    # connection requests: answered, no URL, an address in --cr-deny, nobody there
    cr = "/api/devices/{id}/connection-request"
    _, ok = c.req("POST", "/api/devices/00D09E-IGD-OK/connection-request", cr, want=200)
    assert ok == {"ok": True, "http_status": 200}
    _, e = c.req("POST", t1 + "/connection-request", cr, want=409)
    assert e["error"] == "no_connection_request_url" and e["outcome"] == "refused"
    _, e = c.req("POST", "/api/devices/00D09E-IGD-DENY/connection-request", cr, want=403)
    assert e["error"] == "connection_request_refused"
    _, e = c.req("POST", "/api/devices/00D09E-IGD-DOWN/connection-request", cr, want=502)
    assert e["error"] == "connection_request_failed" and e["outcome"] == "failed"
    c.req("POST", "/api/devices/nope/connection-request", "/api/devices/{id}/connection-request",
          want=404)

    # tasks: what the schema accepts the ACS accepts, and the other way round
    ids = []
    for body in GOOD_TASKS:
        errs = list(validator(doc, task_schema).iter_errors(body))
        assert not errs, f"the document rejects {body}: {errs[0].message}"
        _, t = c.req("POST", t1 + "/tasks", "/api/devices/{id}/tasks", body=body, want=201)
        assert t["type"] == body["type"] and t["status"] == "pending"
        assert t["connection_request"]["status"] == "refused"   # T1 has no URL: known at once
        ids.append(t["id"])
    for body in BAD_TASKS:
        assert not is_valid(doc, task_schema, body), f"the document accepts {body}"
        _, e = c.req("POST", t1 + "/tasks", "/api/devices/{id}/tasks", body=body, want=422)
        assert e["error"] == "invalid_task"
    c.req("POST", t1 + "/tasks", "/api/devices/{id}/tasks", body=b"{nope", want=400)
    c.req("POST", t1 + "/tasks?wait=121", "/api/devices/{id}/tasks", body=GOOD_TASKS[0], want=400)
    c.req("POST", "/api/devices/nope/tasks", "/api/devices/{id}/tasks", body=GOOD_TASKS[0], want=404)
    status, hdrs, raw = head_only(acs, "POST", t1 + "/tasks", 1024 * 1024 + 1)
    assert status == 413
    c.check("POST", "/api/devices/{id}/tasks", status, hdrs, raw)
    _, t = c.req("POST", t1 + "/reboot?wait=0", "/api/devices/{id}/reboot", want=201)
    assert t["type"] == "reboot"
    c.req("POST", t1 + "/reboot?wait=x", "/api/devices/{id}/reboot", want=400)
    c.req("POST", "/api/devices/nope/reboot", "/api/devices/{id}/reboot", want=404)
    _, t = c.req("POST", t1 + "/factory-reset", "/api/devices/{id}/factory-reset", want=201)
    assert t["type"] == "factory_reset"
    c.req("POST", t1 + "/factory-reset?wait=-1", "/api/devices/{id}/factory-reset", want=400)
    c.req("POST", "/api/devices/nope/factory-reset", "/api/devices/{id}/factory-reset", want=404)
    _, ts = c.req("GET", t1 + "/tasks?limit=1000", "/api/devices/{id}/tasks", want=200)
    assert len(ts) == len(GOOD_TASKS) + 2
    c.req("GET", t1 + "/tasks?limit=0", "/api/devices/{id}/tasks", want=400)
    c.req("GET", "/api/devices/nope/tasks", "/api/devices/{id}/tasks", want=404)
    _, t = c.req("GET", f"/api/tasks/{ids[0]}", "/api/tasks/{id}", want=200)
    c.req("GET", "/api/tasks/999999", "/api/tasks/{id}", want=404)
    c.req("GET", "/api/tasks/x", "/api/tasks/{id}", want=404)
    _, t = c.req("DELETE", f"/api/tasks/{ids[0]}", "/api/tasks/{id}", want=200)
    assert t["status"] == "cancelled"
    _, e = c.req("DELETE", f"/api/tasks/{ids[0]}", "/api/tasks/{id}", want=409)
    assert e["error"] == "conflict"
    c.req("DELETE", "/api/tasks/999999", "/api/tasks/{id}", want=404)

    # results: tasks the CPE answers (values, names, methods, a fault with
    # per-parameter faults), and one waited for
    answers = {"GetParameterValues": GPV, "GetParameterNames": GPN, "GetRPCMethods": GRM,
               "SetParameterValues": fault(9003, "Invalid arguments", [("X.A", 9008, "not writable")])}
    mine = []
    for body in (GOOD_TASKS[0], GOOD_TASKS[4], GOOD_TASKS[-1], GOOD_TASKS[1]):
        _, t = c.req("POST", sn1 + "/tasks", "/api/devices/{id}/tasks", body=body, want=201)
        mine.append(t["id"])
    r = cpe.inform("SN-1", events=[("6 CONNECTION REQUEST", "")])
    r = cpe.post()
    while r.status == 200:
        r = cpe.answer(r, answers[r.rpc])
    assert r.status == 204
    for tid in mine:
        _, t = c.req("GET", f"/api/tasks/{tid}", "/api/tasks/{id}", want=200)
        assert t["status"] in ("done", "failed") and t["sent_at"] and t["done_at"], t
    assert t["fault"]["code"] == 9003 and t["result"]["set_parameter_values_faults"]
    _, ps = c.req("GET", sn1 + "/parameters", "/api/devices/{id}/parameters", want=200)
    assert any(p["name"] == "InternetGatewayDevice.DeviceInfo.UpTime" and p["value"] == "42" for p in ps)
    _, t = c.req("POST", sn1 + "/tasks?wait=1", "/api/devices/{id}/tasks", body=GOOD_TASKS[-1], want=201)
    assert t["status"] == "pending"

    _, s = c.req("GET", "/api/stats", "/api/stats", want=200)
    assert s["total_devices"] == 5

    c.req("DELETE", t1, "/api/devices/{id}", want=204)
    c.req("DELETE", t1, "/api/devices/{id}", want=404)

    # the file store
    _, f = c.req("PUT", "/api/files/fw.bin?version=2.0", "/api/files/{name}", body=b"\x00firmware", want=201)
    assert f["size"] == 9 and f["version"] == "2.0"
    c.req("PUT", "/api/files/fw.bin", "/api/files/{name}", body=b"\x00firmware2", want=200)
    _, e = c.req("PUT", "/api/files/.fw", "/api/files/{name}", body=b"x", want=400)
    assert e["field"] == "name"
    _, e = c.req("PUT", "/api/files/fw.bin?file_type=fw", "/api/files/{name}", body=b"x", want=400)
    assert e["field"] == "file_type"
    _, fs = c.req("GET", "/api/files", "/api/files", want=200)
    assert [x["name"] for x in fs] == ["fw.bin"]
    c.req("GET", "/api/files/fw.bin", "/api/files/{name}", want=200)
    c.req("GET", "/api/files/nope.bin", "/api/files/{name}", want=404)
    c.req("GET", "/api/files/fw.bin/content", "/api/files/{name}/content", want=200)
    c.req("GET", "/api/files/fw.bin/content", "/api/files/{name}/content", headers={"Range": "bytes=1-"},
          want=206)
    c.req("GET", "/api/files/fw.bin/content", "/api/files/{name}/content", headers={"Range": "bytes=99-"},
          want=416)
    c.req("DELETE", "/api/files/fw.bin", "/api/files/{name}", want=204)
    c.req("DELETE", "/api/files/fw.bin", "/api/files/{name}", want=404)
    c.req("GET", "/api/files/fw.bin/content", "/api/files/{name}/content", want=404)

    # the public files
    for path in ("/", "/index.html", "/app.js", "/app.css", "/lib.js", "/favicon.svg"):
        c.req("GET", path, path, token=None, want=200)
    c.req("GET", "/views/index.js", "/views/{name}", token=None, want=200)
    c.req("GET", "/views/nope.js", "/views/{name}", token=None, want=404)
    _, h = c.req("GET", "/api/stats/history?minutes=3", "/api/stats/history", want=200)
    assert len(h["buckets"]) == 3
    c.req("GET", "/api/stats/history?minutes=0", "/api/stats/history", want=400)
    _, bd = c.req("GET", "/api/stats/breakdown", "/api/stats/breakdown", want=200)
    assert sum(x["count"] for x in bd["model"]["top"]) + bd["model"]["others"] == \
        c.req("GET", "/api/stats", "/api/stats", want=200)[1]["total_devices"]
    # the stream itself never ends: its refusal is what is checked here
    # (test_acs_live_events.py reads streams)
    c.req("GET", "/api/events?types=nope", "/api/events", want=400)
    from sse import SSE   # the 200: a stream, read by hand
    ev = SSE(acs.addr("api"), "/api/events?types=task", token=TOKEN)
    assert ev.head() == 200 and ev.headers["content-type"].startswith("text/event-stream")
    ev.close()
    c.seen.add(("events", 200))
    _, me = c.req("GET", "/api/whoami", "/api/whoami", want=200)
    assert me == {"role": "admin", "level": 3}
    c.req("GET", "/api/openapi.json", "/api/openapi.json", want=200)

    # the router's answers: no token, unknown path, other method, bad path
    for path, template, method in (("/api/stats", "/api/stats", "GET"),
                                   (sn1 + "/tasks", "/api/devices/{id}/tasks", "POST"),
                                   ("/api/openapi.json", "/api/openapi.json", "GET")):
        _, e = c.req(method, path, template, token=None, want=401)
        assert e["error"] == "unauthorized"
    e = c.component("NotFound", "/api/nothing", want=404)
    assert e["error"] == "not_found"
    e = c.component("MethodNotAllowed", "/api/devices", method="PATCH", want=405)
    assert e["error"] == "method_not_allowed"
    e = c.component("BadPath", "/api//devices", want=400)
    assert e["error"] == "bad_path"

    # every operation was seen answering, most with an error too
    ops = {op["operationId"] for _, _, _, op in operations(doc) if not set(op.get("tags", [])) & ELSEWHERE_TAGS}
    assert ops == {o for o, st in c.seen if st < 300}, "operations never exercised"

    # last (it locks this address out): ten wrong tokens, then 429
    for _ in range(10):
        c.req("GET", "/api/stats", "/api/stats", token="wrong", want=401)
    _, e = c.req("GET", "/api/stats", "/api/stats", want=429)
    assert e["error"] == "locked_out"
