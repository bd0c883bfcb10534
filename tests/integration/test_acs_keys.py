"""outpost acs: API keys (docs/api-keys.md).

* `outpost acs keys add|list|revoke` on the store of a running ACS: a key
  added works within a couple of seconds, a revoked one is refused;
* a key's token is shown once and the store holds only the SHA-256 of its
  secret (the database files are searched for the token and the secret);
* /api/keys: validation naming the field, the --api-token as the first
  admin key (listed, not revocable), roles enforced on the key routes,
  answers valid against docs/api/openapi.yaml;
* wrong and revoked keys are counted per address: 429 after ten, and the
  failures are logged as a couple of lines, not one per request;
* keys survive a restart; the CLI reads the daemon's config file;
* an event stream (GET /api/events) ends when the key that opened it is
  revoked (API, command line, or a reload without it), at once and before
  any later event; other keys' streams and the --api-token's go on.
"""
import hashlib
import json
import re
import signal
import time
import urllib.parse

import pytest
import requests
import yaml

from conftest import PG_MODE, acs_db, run_outpost
from cwmp_cpe import CPE
from sse import SSE
from test_acs_openapi import Checker, doc, operations  # noqa: F401 (doc: a fixture)
from test_acs_session import TOKEN, start_acs
from test_api_access import request

TOKEN_RE = re.compile(r"\bopk_([0-9a-f]{12})_([0-9a-f]{64})\b")


def cli(tmp_path, *args, rc=0):
    p = run_outpost("acs", "keys", *args, "--data-dir", str(tmp_path / "data"), timeout=60)
    assert p.returncode == rc, f"keys {args}: rc {p.returncode}\n{p.stdout}\n{p.stderr}"
    return p


def api(acs, method, path, token=TOKEN, body=None):
    return requests.request(method, acs.url("api") + path, json=body, timeout=30,
                            headers={"Authorization": f"Bearer {token}"} if token else {})


def stats(acs, token):
    return request(acs.addr("api"), "GET", "/api/stats", token=token)[0]


def test_cli_beside_a_running_daemon(outpost, tmp_path):
    acs = start_acs(outpost, tmp_path, "--cpe-auth", "none")
    start = len(acs.lines)
    p = cli(tmp_path, "add", "--name", "ci deploy", "--role", "operator")
    m = TOKEN_RE.search(p.stdout)
    assert m, p.stdout
    token, kid = m.group(0), m.group(1)
    assert p.stdout.count(token) == 1
    acs.wait_for(r"api_keys_loaded keys=1 ", timeout=5, start=start)
    assert stats(acs, token) == 200
    # the role holds: an operator may queue, not configure
    assert api(acs, "POST", "/api/devices/nope/reboot", token=token).status_code == 404
    r = api(acs, "PUT", "/api/provisions/p1", token=token)
    assert r.status_code == 403 and r.json()["error"] == "forbidden"

    # the list: every key, no token, the configuration's first
    out = cli(tmp_path, "list").stdout
    assert token not in out and m.group(2) not in out
    lines = out.splitlines()
    assert lines[0].split() == ["ID", "ROLE", "CREATED", "LAST", "USED", "NAME"]
    assert lines[1].startswith("api-token ") and " admin " in lines[1]
    assert lines[2].startswith(kid + " ") and lines[2].rstrip().endswith("ci deploy")
    keys = json.loads(cli(tmp_path, "list", "--json").stdout)
    assert [k["id"] for k in keys] == ["api-token", kid]
    assert keys[1]["role"] == "operator" and keys[1]["source"] == "store"
    assert "token" not in keys[1] and "hash" not in keys[1]
    # its use is known (to the minute), through the API too
    used = [k for k in api(acs, "GET", "/api/keys").json() if k["id"] == kid][0]
    assert used["last_used"] is not None

    # revoked: refused by the running daemon within a second or so
    start = len(acs.lines)
    t0 = time.monotonic()
    assert f"key {kid} revoked" in cli(tmp_path, "revoke", kid).stdout
    acs.wait_for(r"api_keys_loaded keys=0 ", timeout=5, start=start)
    assert time.monotonic() - t0 < 3.5
    assert stats(acs, token) == 401
    assert [k["id"] for k in json.loads(cli(tmp_path, "list", "--json").stdout)] == ["api-token"]
    assert "no such key" in cli(tmp_path, "revoke", kid, rc=1).stderr
    assert "configuration" in cli(tmp_path, "revoke", "api-token", rc=2).stderr
    # usage errors
    assert "--role" in cli(tmp_path, "add", "--name", "x", "--role", "root", rc=2).stderr
    assert "--name" in cli(tmp_path, "add", "--name", "", "--role", "viewer", rc=2).stderr
    assert "required" in cli(tmp_path, "add", "--role", "viewer", rc=2).stderr
    cli(tmp_path, "revoke", rc=2)
    cli(tmp_path, "nope", rc=2)
    # the configuration's token was never disturbed
    assert api(acs, "GET", "/api/stats").status_code == 200


def db_bytes(tmp_path):
    return acs_db(tmp_path / "data").dump()


def test_shown_once_stored_hashed(outpost, tmp_path):
    acs = start_acs(outpost, tmp_path, "--cpe-auth", "none")
    r = api(acs, "POST", "/api/keys", body={"name": "dash", "role": "viewer"})
    assert r.status_code == 201
    made = r.json()
    token = made["token"]
    m = TOKEN_RE.fullmatch(token)
    assert m and m.group(1) == made["id"] and made["role"] == "viewer"
    assert api(acs, "GET", "/api/stats", token=token).status_code == 200
    # never again: not in the list, not in the log
    listed = api(acs, "GET", "/api/keys").text
    assert token not in listed and m.group(2) not in listed and made["id"] in listed
    assert not [l for l in acs.lines if m.group(2) in l]
    p = cli(tmp_path, "add", "--name", "cli", "--role", "admin", "--json")
    cli_key = json.loads(p.stdout)
    cm = TOKEN_RE.fullmatch(cli_key["token"])
    acs.stop()
    # the database (and its WAL) holds the hashes of the secrets, not them
    raw = db_bytes(tmp_path)
    for mm in (m, cm):
        secret = mm.group(2)
        assert secret.encode() not in raw and mm.group(0).encode() not in raw
        assert bytes.fromhex(secret) not in raw
        assert hashlib.sha256(bytes.fromhex(secret)).hexdigest().encode() in raw
    # and they survive a restart
    acs = start_acs(outpost, tmp_path, "--cpe-auth", "none")
    assert api(acs, "GET", "/api/stats", token=token).status_code == 200
    assert api(acs, "GET", "/api/keys", token=cli_key["token"]).status_code == 200
    # one changed digit of the secret is another token
    bad = token[:-1] + ("0" if token[-1] != "0" else "1")
    assert api(acs, "GET", "/api/stats", token=bad).status_code == 401


def test_keys_api_against_document(outpost, tmp_path, doc):  # noqa: F811
    acs = start_acs(outpost, tmp_path, "--cpe-auth", "none")
    c = Checker(acs, doc)
    _, lst = c.req("GET", "/api/keys", "/api/keys", want=200)
    assert lst == [{"id": "api-token", "name": "--api-token (or DATA_DIR/api-token)", "role": "admin",
                    "source": "config", "created": None, "last_used": None}]
    made = {}
    for role in ("viewer", "operator", "admin"):
        _, k = c.req("POST", "/api/keys", "/api/keys", body={"name": f"k {role}", "role": role}, want=201)
        assert k["role"] == role and k["last_used"] is None and k["created"]
        made[role] = k
    _, lst = c.req("GET", "/api/keys", "/api/keys", want=200)
    assert lst[0]["id"] == "api-token"   # then oldest first (by id within a second)
    assert [k["id"] for k in lst[1:]] == sorted(made[r]["id"] for r in made)
    # validation names the field
    for body, field in (({"role": "viewer"}, "name"), ({"name": "x"}, "role"),
                        ({"name": "x", "role": "root"}, "role"), ({"name": "", "role": "viewer"}, "name"),
                        ({"name": "x" * 65, "role": "viewer"}, "name"),
                        ({"name": "a\nb", "role": "viewer"}, "name"),
                        ({"name": 5, "role": "viewer"}, "name"),
                        ({"name": "x", "role": "viewer", "expires": 1}, "expires"), ([], None)):
        _, e = c.req("POST", "/api/keys", "/api/keys", body=body, want=422)
        assert e["error"] == "invalid_key" and (field is None or e["message"].startswith(field)), (body, e)
    c.req("POST", "/api/keys", "/api/keys", body=b"{", want=400)
    # roles on the key routes themselves: admin only
    for role in ("viewer", "operator"):
        tok = made[role]["token"]
        _, e = c.req("GET", "/api/keys", "/api/keys", token=tok, want=403)
        assert e["error"] == "forbidden" and "admin" in e["message"] and role in e["message"]
        c.req("POST", "/api/keys", "/api/keys", token=tok, body={"name": "x", "role": "admin"}, want=403)
        c.req("DELETE", f"/api/keys/{made['viewer']['id']}", "/api/keys/{id}", token=tok, want=403)
    _, lst = c.req("GET", "/api/keys", "/api/keys", token=made["admin"]["token"], want=200)
    assert len(lst) == 4
    # revoking: the configuration's token is not revocable; others at once
    _, e = c.req("DELETE", "/api/keys/api-token", "/api/keys/{id}", want=409)
    assert "api-token" in e["message"] or "configuration" in e["message"]
    for bad in ("nope", "0123456789ab", made["viewer"]["id"].upper()):
        c.req("DELETE", f"/api/keys/{bad}", "/api/keys/{id}", want=404)
    c.req("DELETE", f"/api/keys/{made['viewer']['id']}", "/api/keys/{id}", want=204)
    assert api(acs, "GET", "/api/stats", token=made["viewer"]["token"]).status_code == 401
    c.req("DELETE", f"/api/keys/{made['viewer']['id']}", "/api/keys/{id}", want=404)
    # an admin key may revoke itself
    c.req("DELETE", f"/api/keys/{made['admin']['id']}", "/api/keys/{id}", token=made["admin"]["token"],
          want=204)
    assert api(acs, "GET", "/api/stats", token=made["admin"]["token"]).status_code == 401
    # the 403 is the documented component
    status, body = request(acs.addr("api"), "DELETE", "/api/devices/x1", token=made["operator"]["token"])
    assert status == 403 and json.loads(body)["error"] == "forbidden"
    # every key operation was seen answering
    ops = {op["operationId"] for _, _, _, op in operations(doc) if "keys" in op.get("tags", [])}
    assert ops == {o for o, st in c.seen if st < 300} & ops == {"listKeys", "createKey", "revokeKey"}


def test_wrong_and_revoked_keys_are_rate_limited(outpost, tmp_path):
    acs = start_acs(outpost, tmp_path, "--cpe-auth", "none")
    addr = acs.addr("api")
    keep = api(acs, "POST", "/api/keys", body={"name": "keep", "role": "viewer"}).json()["token"]
    gone = api(acs, "POST", "/api/keys", body={"name": "gone", "role": "viewer"}).json()
    assert api(acs, "DELETE", "/api/keys/" + gone["id"]).status_code == 204
    # a revoked key, a well-formed unknown one, garbage: all wrong tokens
    guesses = [gone["token"]] * 3 + ["opk_" + "0" * 12 + "_" + "1" * 64] * 3 + ["opk_x", "x" * 300, "opk_"]
    for g in guesses:
        status, body = request(addr, "GET", "/api/stats", token=g)
        assert status == 401 and json.loads(body)["error"] == "unauthorized", (g, status)
    assert request(addr, "GET", "/api/stats", token="one more")[0] == 401
    # locked out: even a good key is not looked at
    status, body = request(addr, "GET", "/api/stats", token=keep)
    assert status == 429 and json.loads(body)["error"] == "locked_out"
    acs.wait_for(r"api_auth_failed api=acs addr=127\.0\.0\.1 failures=1 locked_ms=0 ")
    acs.wait_for(r"api_auth_failed api=acs addr=127\.0\.0\.1 failures=9 locked_ms=60000 strike=1")
    for _ in range(30):
        assert request(addr, "GET", "/api/stats", token=keep)[0] == 429
    assert len([l for l in acs.lines if "api_auth_failed" in l]) == 2


def test_sighup_reads_the_keys_again(outpost, tmp_path):
    """The poll reads the keys when their version moved; SIGHUP reads them
    whatever the version (a row deleted by hand, say)."""
    acs = start_acs(outpost, tmp_path, "--cpe-auth", "none")
    start = len(acs.lines)
    k = api(acs, "POST", "/api/keys", body={"name": "by hand", "role": "viewer"}).json()
    assert stats(acs, k["token"]) == 200
    acs.wait_for(r"api_keys_loaded keys=1 ", timeout=5, start=start)  # the poll caught up
    acs_db(tmp_path / "data").execute("DELETE FROM api_keys WHERE id = ?", (k["id"],))
    time.sleep(2.5)          # two polls: the version did not move
    assert stats(acs, k["token"]) == 200
    start = len(acs.lines)
    acs.signal(signal.SIGHUP)
    acs.wait_for(r"api_keys_loaded keys=0 ", timeout=5, start=start)
    assert stats(acs, k["token"]) == 401


def test_cli_reads_the_daemon_config(outpost, tmp_path):
    """The daemon's config file, with all its options, serves the CLI as it is."""
    cfg = tmp_path / "acs.yaml"
    cfg.write_text(yaml.safe_dump({
        "cwmp-listen": "127.0.0.1:0", "api-listen": "127.0.0.1:0", "admin-listen": "127.0.0.1:0",
        "data-dir": str(tmp_path / "cfgdata"), "api-token": "cfg-token", "cpe-auth": "none",
        "param-history": 9, "task-ttl": "1d"}))
    acs = outpost("acs", "--config", str(cfg))
    start = len(acs.lines)
    p = run_outpost("acs", "keys", "add", "--config", str(cfg), "--name", "from cfg", "--role", "viewer")
    assert p.returncode == 0, p.stderr
    token = TOKEN_RE.search(p.stdout).group(0)
    acs.wait_for(r"api_keys_loaded keys=1 ", timeout=5, start=start)
    assert stats(acs, token) == 200
    p = run_outpost("acs", "keys", "list", "--config", str(cfg))
    assert p.returncode == 0 and "from cfg" in p.stdout
    # with flags only, the CLI still leaves the daemon's settings alone
    p = run_outpost("acs", "keys", "list", "--data-dir", str(tmp_path / "cfgdata"))
    assert p.returncode == 0
    assert acs_db(tmp_path / "cfgdata").query("SELECT v FROM settings WHERE k = 'param_history'") \
        == [(9,)]
    assert "param-history" not in run_outpost("acs", "keys", "add", "--help").stdout
    if PG_MODE:
        return  # a data directory without a database file: SQLite's case only
    p = run_outpost("acs", "keys", "list", "--data-dir", str(tmp_path / "nothing"))
    assert p.returncode == 1 and "no ACS database" in p.stderr


# ---- event streams and the keys that opened them -----------------------------------------

DEVICE = urllib.parse.quote("00D09E-IGD-R", safe="")


def events(acs, token):
    s = SSE(acs.addr("api"), "/api/events?types=task", token=token)
    assert s.head() == 200, s.raw
    return s


def queue_task(acs):
    """A reboot for a device without a connection request URL: it stays
    pending, one `task` event on every stream."""
    r = api(acs, "POST", f"/api/devices/{DEVICE}/tasks", body={"type": "reboot"})
    assert r.status_code == 201, r.text
    return r.json()["id"]


def events_to_the_end(s, timeout):
    """What a stream still gets before it ends; fails if it does not end."""
    got = []
    deadline = time.monotonic() + timeout
    while True:
        try:
            got.append(s.next_event(timeout=max(0.05, deadline - time.monotonic())))
        except EOFError:
            return got
        except TimeoutError:
            pytest.fail(f"the stream is still open after {timeout} s; it got {got}")


def sees(s, task_id):
    ev = s.next_event(timeout=5)
    assert ev["event"] == "task" and ev["data"]["id"] == task_id, ev


def test_a_revoked_key_loses_its_event_stream(outpost, tmp_path):
    acs = start_acs(outpost, tmp_path, "--cpe-auth", "none")
    CPE(acs.addr("listen")).inform("R")
    gone = api(acs, "POST", "/api/keys", body={"name": "gone", "role": "viewer"}).json()
    keep = api(acs, "POST", "/api/keys", body={"name": "keep", "role": "viewer"}).json()
    s_gone, s_keep, s_token = (events(acs, t) for t in (gone["token"], keep["token"], TOKEN))
    t1 = queue_task(acs)
    for s in (s_gone, s_keep, s_token):
        sees(s, t1)

    start = len(acs.lines)
    t0 = time.monotonic()
    assert api(acs, "DELETE", "/api/keys/" + gone["id"]).status_code == 204
    t2 = queue_task(acs)            # after the revoke: never on the revoked key's stream
    assert events_to_the_end(s_gone, 2.0) == []
    assert time.monotonic() - t0 < 2.0
    assert "closed: key revoked" in s_gone.comments
    s_gone.close()
    acs.wait_for(rf'events_client_closed .*key={gone["id"]} reason="key revoked"', start=start)
    # the other key's stream and the --api-token's go on
    for s in (s_keep, s_token):
        sees(s, t2)
    assert stats(acs, gone["token"]) == 401 and stats(acs, keep["token"]) == 200
    time.sleep(1.5)                 # a poll reads the table again: nothing more is closed
    t3 = queue_task(acs)
    for s in (s_keep, s_token):
        sees(s, t3)
    assert len([l for l in acs.lines if "events_client_closed" in l]) == 1, acs.output()
    s_keep.close()
    s_token.close()


def test_reloaded_keys_end_the_streams_of_keys_gone(outpost, tmp_path):
    """A reload (SIGHUP, or the poll after `keys revoke`) ends the streams of
    the keys it no longer has; a key whose role changed but still may listen
    keeps its stream."""
    acs = start_acs(outpost, tmp_path, "--cpe-auth", "none")
    CPE(acs.addr("listen")).inform("R")
    start = len(acs.lines)
    a = api(acs, "POST", "/api/keys", body={"name": "a", "role": "admin"}).json()
    b = api(acs, "POST", "/api/keys", body={"name": "b", "role": "viewer"}).json()
    acs.wait_for(r"api_keys_loaded keys=2 ", timeout=5, start=start)   # the poll caught up
    s_a, s_b, s_token = (events(acs, t) for t in (a["token"], b["token"], TOKEN))
    db = acs_db(tmp_path / "data")

    # a's role lowered by hand (no version bump): a viewer may still listen
    db.execute("UPDATE api_keys SET role = 'viewer' WHERE id = ?", (a["id"],))
    start = len(acs.lines)
    acs.signal(signal.SIGHUP)
    acs.wait_for(r"api_keys_loaded keys=2 ", timeout=5, start=start)
    assert api(acs, "GET", "/api/keys", token=a["token"]).status_code == 403
    t1 = queue_task(acs)
    for s in (s_a, s_b, s_token):
        sees(s, t1)

    # b deleted by hand, then SIGHUP: its stream ends
    db.execute("DELETE FROM api_keys WHERE id = ?", (b["id"],))
    start = len(acs.lines)
    acs.signal(signal.SIGHUP)
    acs.wait_for(r"api_keys_loaded keys=1 ", timeout=5, start=start)
    t2 = queue_task(acs)
    assert events_to_the_end(s_b, 2.0) == []
    acs.wait_for(rf'events_client_closed .*key={b["id"]} reason="key revoked"', start=start)
    for s in (s_a, s_token):
        sees(s, t2)

    # a revoked on the command line: the poll reads the keys, its stream ends
    start = len(acs.lines)
    cli(tmp_path, "revoke", a["id"])
    acs.wait_for(r"api_keys_loaded keys=0 ", timeout=5, start=start)
    t3 = queue_task(acs)
    assert events_to_the_end(s_a, 2.0) == []
    acs.wait_for(rf'events_client_closed .*key={a["id"]} reason="key revoked"', start=start)
    sees(s_token, t3)
    for s in (s_a, s_b, s_token):
        s.close()
