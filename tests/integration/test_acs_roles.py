"""outpost acs: every route of the API has a role, and the router holds
every credential to it.

ROLES below is the decision for each route. The ACS is started with
--log-level debug, so its router says every route it registers with its
access (`http_route api=acs method=... path=... access=...`): a route the
ACS serves without a row here fails the test (a new route needs a role
decision, here and in docs/api-keys.md), and so does a row for a route the
ACS does not serve or whose registered access differs. Then every route is
called with no token, a viewer key, an operator key, an admin key and the
configuration's token: a credential below the route's role gets 403
`forbidden` before its handler runs (and before any body is read), one at
or above it reaches the handler, no credential is 401. docs/api-keys.md's
table is held to ROLES too.
"""
import json
import re

import requests

from conftest import ROOT
from test_acs_session import TOKEN, start_acs
from test_api_access import concrete, request

ROUTE_RE = re.compile(r"http_route api=acs method=(\S+) path=(\S+) access=(\S+)")

V, O, A, P = "viewer", "operator", "admin", "public"
ROLES = {
    # devices
    ("GET", "/api/devices"): V,
    ("GET", "/api/devices/{id}"): V,
    ("DELETE", "/api/devices/{id}"): A,
    ("GET", "/api/devices/{id}/parameters"): V,
    ("POST", "/api/devices/{id}/reboot"): O,
    ("POST", "/api/devices/{id}/factory-reset"): O,
    ("POST", "/api/devices/{id}/connection-request"): O,
    ("PUT", "/api/devices/{id}/tags"): O,
    ("PUT", "/api/devices/{id}/connection-request-credentials"): A,
    # tasks
    ("GET", "/api/devices/{id}/tasks"): V,
    ("POST", "/api/devices/{id}/tasks"): O,
    ("GET", "/api/tasks/{id}"): V,
    ("DELETE", "/api/tasks/{id}"): O,
    # provisioning: configuration is admin's, a device's preset fault the operator's
    ("GET", "/api/presets"): V,
    ("POST", "/api/presets"): A,
    ("GET", "/api/presets/{name}"): V,
    ("PUT", "/api/presets/{name}"): A,
    ("DELETE", "/api/presets/{name}"): A,
    ("GET", "/api/provisions"): V,
    ("GET", "/api/provisions/{name}"): V,
    ("PUT", "/api/provisions/{name}"): A,
    ("DELETE", "/api/provisions/{name}"): A,
    ("GET", "/api/virtual-parameters"): V,
    ("GET", "/api/virtual-parameters/{name}"): V,
    ("PUT", "/api/virtual-parameters/{name}"): A,
    ("DELETE", "/api/virtual-parameters/{name}"): A,
    ("GET", "/api/devices/{id}/presets"): V,
    ("DELETE", "/api/devices/{id}/presets/{name}/fault"): O,
    # keys
    ("GET", "/api/keys"): A,
    ("POST", "/api/keys"): A,
    ("DELETE", "/api/keys/{id}"): A,
    # the rest
    ("GET", "/api/webhooks"): V,
    ("GET", "/api/webhooks/deliveries"): V,
    ("POST", "/api/webhooks/deliveries/{id}/retry"): A,
    ("GET", "/api/devices/{id}/parameters/history"): V,
    ("GET", "/api/devices/{id}/sessions"): V,
    ("PUT", "/api/devices/{id}/session-log"): O,
    ("GET", "/api/faults"): V,
    ("POST", "/api/faults/tasks/{id}/retry"): O,
    ("DELETE", "/api/faults/tasks/{id}"): O,
    ("POST", "/api/faults/presets/{id}/{name}/retry"): O,
    ("DELETE", "/api/faults/presets/{id}/{name}"): O,
    ("GET", "/api/files"): V,
    ("PUT", "/api/files/{name}"): O,
    ("GET", "/api/files/{name}"): V,
    ("DELETE", "/api/files/{name}"): O,
    ("GET", "/api/files/{name}/content"): V,
    ("PUT", "/api/devices/{id}/tags/{tag}"): O,
    ("DELETE", "/api/devices/{id}/tags/{tag}"): O,
    ("POST", "/api/tasks"): O,
    ("GET", "/api/bulk/{id}"): V,
    ("DELETE", "/api/bulk/{id}"): O,
    ("GET", "/api/stats"): V,
    ("GET", "/api/openapi.json"): V,
    ("GET", "/"): P,
    ("GET", "/index.html"): P,
    ("GET", "/app.js"): P,
    ("GET", "/app.css"): P,
    ("GET", "/lib.js"): P,
    ("GET", "/favicon.svg"): P,
    ("GET", "/views/{name}"): P,
    ("GET", "/api/whoami"): V,
    ("GET", "/api/events"): V,
    ("GET", "/api/stats/history"): V,
    ("GET", "/api/stats/breakdown"): V,
}
RANK = {P: 0, V: 1, O: 2, A: 3}


def served_routes(acs):
    out = {}
    for line in acs.lines:
        m = ROUTE_RE.search(line)
        if m:
            method, path, access = m.groups()
            assert (method, path) not in out, f"registered twice: {method} {path}"
            out[(method, path)] = access
    return out


def make_key(acs, role):
    r = requests.post(acs.url("api") + "/api/keys", json={"name": f"{role} key", "role": role},
                      headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30)
    assert r.status_code == 201, r.text
    return r.json()["token"]


def test_every_route_has_its_role(outpost, tmp_path):
    acs = start_acs(outpost, tmp_path, "--cpe-auth", "none", "--log-level", "debug")
    served = served_routes(acs)
    assert ("GET", "/api/devices") in served
    undecided = sorted(set(served) - set(ROLES))
    assert not undecided, (f"routes without a role decision: {undecided}; add each to ROLES "
                           "here and to the table in docs/api-keys.md")
    gone = sorted(set(ROLES) - set(served))
    assert not gone, f"in ROLES but not served: {gone}"
    wrong = {k: (served[k], ROLES[k]) for k in served if served[k] != ROLES[k]}
    assert not wrong, f"registered with another access (served, decided): {wrong}"

    creds = {"none": (None, 0), "viewer": (make_key(acs, V), 1), "operator": (make_key(acs, O), 2),
             "admin": (make_key(acs, A), 3), "token": (TOKEN, 3)}
    addr = acs.addr("api")
    checked = 0
    # admin keys last: their calls may change what they reach (a PUT creates)
    for (method, pattern), role in sorted(ROLES.items(), key=lambda kv: RANK[kv[1]]):
        path = concrete(pattern)
        need = RANK[role]
        for who, (tok, rank) in creds.items():
            status, body = request(addr, method, path, token=tok)
            where = f"{method} {path} ({role}) as {who}: {status} {body[:200]!r}"
            if need == 0:
                assert status not in (401, 403, 429), where
            elif tok is None:
                assert status == 401 and json.loads(body)["error"] == "unauthorized", where
            elif rank < need:
                assert status == 403, where
                e = json.loads(body)
                assert e["error"] == "forbidden" and f"needs the {role} role" in e["message"], where
            else:
                # the handler answered: its own 404 for the made-up id or a
                # 400/422 for the empty body, never the router's refusals
                assert status not in (401, 405, 429), where
                assert not (status == 403 and b'"forbidden"' in body), where
                assert not (status == 404 and b"no such endpoint" in body), where
            checked += 1
    assert checked == len(ROLES) * len(creds)
    # a 403 is not a wrong token: nothing was counted against this address
    assert not [l for l in acs.lines if "api_auth_failed" in l]


def test_forbidden_before_the_body_is_read(outpost, tmp_path):
    """A viewer's POST with a body announced is refused at the head: 403,
    and the connection is closed rather than the body read."""
    import socket
    acs = start_acs(outpost, tmp_path, "--cpe-auth", "none")
    viewer = make_key(acs, V)
    s = socket.create_connection(acs.addr("api"), timeout=10)
    s.sendall((f"POST /api/devices/x1/tasks HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {viewer}\r\n"
               "Content-Type: application/json\r\nContent-Length: 900000\r\n\r\n").encode())
    out = b""
    while chunk := s.recv(65536):
        out += chunk
    s.close()
    assert out.startswith(b"HTTP/1.1 403 ") and b'"forbidden"' in out, out[:300]


def test_docs_table_matches(tmp_path):
    """docs/api-keys.md's route table says what ROLES says."""
    text = (ROOT / "docs" / "api-keys.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| `(GET|POST|PUT|DELETE)` \| `([^`]+)` \| (\w+) \|", text, re.M)
    documented = {(m, p): r for m, p, r in rows}
    api = {k: v for k, v in ROLES.items() if v != P}
    assert documented == api, (sorted(set(documented.items()) ^ set(api.items())))
