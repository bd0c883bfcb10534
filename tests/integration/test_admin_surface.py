"""One operations surface for every daemon (net/http_admin): /metrics in the
Prometheus text format with the daemon's series, outpost_build_info and
process_*; /status as JSON; /health 200, or 503 with the reason while the
daemon cannot do its job; the same token check on every path and every
daemon (/metrics alone opened by --metrics-public)."""
import json
import time

import pytest
import requests

import prom
from conftest import free_port
from cwmp_proxy_util import Backend
from relay_util import PKI, start_relay, ws_url, TOKEN as RELAY_TOKEN
from tunnel_util import start_agent, start_gateway

TOKEN = "admin-test-token"


def get(d, path, token=TOKEN):
    h = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.get(d.url("admin") + path, headers=h, timeout=10)


def wait_health(d, status, timeout=15):
    deadline = time.monotonic() + timeout
    while (r := get(d, "/health")).status_code != status and time.monotonic() < deadline:
        time.sleep(0.1)
    assert r.status_code == status, f"{d.name} /health: {r.status_code} {r.text!r}"
    return r.text


@pytest.fixture
def daemons(outpost, tmp_path):
    """Every daemon, each with its admin listener on a free port and TOKEN."""
    common = ("--admin-listen", "127.0.0.1:0", "--api-token", TOKEN)
    d = {}
    d["acs"] = outpost("acs", "--cwmp-listen", "127.0.0.1:0", "--api-listen", "127.0.0.1:0",
                       "--data-dir", str(tmp_path / "acs"), "--cpe-auth", "none", *common)
    backend = Backend("A")
    d["cwmp-proxy"] = outpost("cwmp-proxy", "--listen", "127.0.0.1:0", "--public-url", "http://p.test:7548",
                              "--backend", backend.url, "--data-dir", str(tmp_path / "px"), *common)
    pki = PKI(tmp_path / "pki")
    relay = start_relay(outpost, pki, "--data-dir", str(tmp_path / "relay"))
    d["relay"] = relay
    end = ("--tls-ca", pki.cert("root"), "--reconnect-min", "50ms", "--reconnect-max", "200ms")
    d["relay-connector"] = outpost("relay-connector", "--relay-url", ws_url(relay, "gw-0001"),
                                   "--tls-cert", pki.pkeycert("gw-0001"), "--target", "http://127.0.0.1:9",
                                   "--events-listen", "", "--data-dir", str(tmp_path / "rcn"), *end, *common)
    d["relay-client"] = outpost("relay-client", "--listen", "127.0.0.1:0", "--relay-url", ws_url(relay, "gw-0001"),
                                "--tls-cert", pki.pkeycert("manager"), "--data-dir", str(tmp_path / "rcl"),
                                *end, *common)
    d["cpe-sim"] = outpost("cpe-sim", "--acs", "http://" + d["acs"].fields["listen"] + "/", "--count", "2",
                           "--cr-listen", "127.0.0.1:0", "--data-dir", str(tmp_path / "sim"), *common)
    gw = start_gateway(outpost, tmp_path, {"a1": "key-a1"}, [])
    d["gateway"] = gw
    d["agent"] = start_agent(outpost, tmp_path, gw, "a1", "key-a1", extra=common[:2])
    yield d
    backend.stop()


def gateway_token(name):
    """The tunnel and relay helpers start their daemons with tokens of their own."""
    return {"gateway": "admintoken", "agent": "agenttoken", "relay": RELAY_TOKEN}.get(name, TOKEN)


@pytest.mark.acs
def test_every_daemon_serves_the_same_admin_surface(daemons):
    assert len(daemons) == 8
    for name, d in daemons.items():
        tok = gateway_token(name)
        # the same answer without, or with a wrong, token on every path
        for path in ("/metrics", "/status", "/health"):
            for t in (None, "wrong"):
                r = get(d, path, token=t)
                assert r.status_code == 401, (name, path, t, r.status_code)
                assert r.headers["WWW-Authenticate"].startswith("Bearer realm=")
                assert json.loads(r.text)["error"] == "unauthorized", (name, path)
        # /metrics: valid exposition text, the daemon's own series and the common ones
        r = get(d, "/metrics", token=tok)
        assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/plain; version=0.0.4"), name
        m = prom.parse(r.text)
        info = [dict(k[1]) for k in m if k[0] == "outpost_build_info"]
        assert info and info[0]["daemon"] == name and info[0]["version"], name
        for series in ("process_cpu_seconds_total", "process_resident_memory_bytes", "process_open_fds",
                       "process_start_time_seconds"):
            assert (series, ()) in m, (name, series)
        prefix = "outpost_" + name.replace("-", "_").replace("cpe_sim", "cpesim")
        prefix = {"outpost_gateway": "outpost_gateway", "outpost_agent": "outpost_agent"}.get(prefix, prefix)
        assert any(k[0].startswith(prefix) for k in m), (name, prefix)
        # /status is JSON; /health says ok or why not
        assert isinstance(get(d, "/status", token=tok).json(), (dict, list)), name
        h = get(d, "/health", token=tok)
        assert h.status_code in (200, 503) and h.text.endswith("\n"), name


@pytest.mark.acs
def test_metrics_public_opens_metrics_only(outpost, tmp_path):
    d = outpost("acs", "--cwmp-listen", "127.0.0.1:0", "--api-listen", "127.0.0.1:0", "--cpe-auth", "none",
                "--data-dir", str(tmp_path / "acs"), "--api-token", TOKEN, "--admin-listen", "127.0.0.1:0",
                "--metrics-public")
    assert get(d, "/metrics", token=None).status_code == 200
    assert get(d, "/status", token=None).status_code == 401
    assert get(d, "/health", token=None).status_code == 401


def test_admin_listener_off_the_loopback_is_said(outpost, tmp_path):
    d = outpost("cwmp-proxy", "--listen", "127.0.0.1:0", "--public-url", "http://p.test:7548",
                "--backend", "http://127.0.0.1:9/", "--data-dir", str(tmp_path / "px"),
                "--admin-listen", "0.0.0.0:0", "--api-token", TOKEN)
    d.wait_for(r"admin_listen_not_loopback daemon=cwmp-proxy listen=0\.0\.0\.0:0")


def test_health_flips_with_the_proxy_backends(outpost, tmp_path):
    port = free_port()
    px = outpost("cwmp-proxy", "--listen", "127.0.0.1:0", "--public-url", "http://p.test:7548",
                 "--backend", f"http://127.0.0.1:{port}/", "--data-dir", str(tmp_path / "px"),
                 "--admin-listen", "127.0.0.1:0", "--api-token", TOKEN, "--health-interval", "100ms",
                 "--health-timeout", "200ms", "--health-rise", "1", "--health-fall", "1")
    assert "no ACS node is up" in wait_health(px, 503)
    node = Backend("A", port=port)
    wait_health(px, 200)
    node.stop()
    wait_health(px, 503)


def test_health_flips_with_the_relay_partner(outpost, tmp_path):
    pki = PKI(tmp_path / "pki")
    relay = start_relay(outpost, pki)
    end = ("--tls-ca", pki.cert("root"), "--reconnect-min", "50ms", "--reconnect-max", "200ms",
           "--admin-listen", "127.0.0.1:0", "--api-token", TOKEN)
    conn = outpost("relay-connector", "--relay-url", ws_url(relay, "gw-0001"), "--tls-cert",
                   pki.pkeycert("gw-0001"), "--target", "http://127.0.0.1:9", "--events-listen", "",
                   "--data-dir", str(tmp_path / "rcn"), *end)
    assert "not paired" in wait_health(conn, 503)
    client = outpost("relay-client", "--listen", "127.0.0.1:0", "--relay-url", ws_url(relay, "gw-0001"),
                     "--tls-cert", pki.pkeycert("manager"), "--data-dir", str(tmp_path / "rcl"), *end)
    wait_health(conn, 200)
    wait_health(client, 200)
    m = prom.parse(get(conn, "/metrics").text)
    assert prom.value(m, "outpost_relay_end_paired") == 1
    client.stop()
    wait_health(conn, 503)


@pytest.mark.acs
def test_health_flips_with_the_cpe_sims_acs(outpost, tmp_path):
    port = free_port()
    sim = outpost("cpe-sim", "--acs", f"http://127.0.0.1:{port}/", "--count", "1", "--cr-listen", "127.0.0.1:0",
                  "--admin-listen", "127.0.0.1:0", "--api-token", TOKEN, "--data-dir", str(tmp_path / "sim"),
                  "--retry-min", "200ms")
    assert "the last session failed" in wait_health(sim, 503)
    m = prom.parse(get(sim, "/metrics").text)
    assert prom.value(m, "outpost_cpesim_sessions_failed_total", reason="connect") >= 1
    acs = outpost("acs", "--cwmp-listen", f"127.0.0.1:{port}", "--api-listen", "127.0.0.1:0",
                  "--cpe-auth", "none", "--data-dir", str(tmp_path / "acs"))
    wait_health(sim, 200, timeout=30)


def test_health_flips_with_the_agents_login(outpost, tmp_path):
    port = free_port()
    gw_stub = type("G", (), {"addr": lambda self: ("127.0.0.1", port)})()
    ag = start_agent(outpost, tmp_path, gw_stub, "a1", "key-a1", extra=("--admin-listen", "127.0.0.1:0"))
    tok = gateway_token("agent")
    deadline = time.monotonic() + 10
    while (r := get(ag, "/health", token=tok)).status_code != 503 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert r.status_code == 503 and "not logged in" in r.text
    gw = start_gateway(outpost, tmp_path, {"a1": "key-a1"}, [], port=port)
    deadline = time.monotonic() + 15
    while (r := get(ag, "/health", token=tok)).status_code != 200 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert r.status_code == 200, r.text
    m = prom.parse(get(ag, "/metrics", token=tok).text)
    assert prom.value(m, "outpost_agent_connected") == 1
    gw.stop()
    deadline = time.monotonic() + 10
    while (r := get(ag, "/health", token=tok)).status_code != 503 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert r.status_code == 503
