"""URL passwords stay out of logs and error texts: a URL given with
user:password@ (a webhook, a gateway, a relay, an ACS, a backend) is shown with
the password as *** (the user name kept) wherever a daemon logs it or echoes it
in an error, while the failure itself is still logged with that URL; so is a
query parameter named like a credential (?access_token=***)."""
import re

import pytest
import requests

from conftest import run_outpost, free_port
from cwmp_cpe import CPE
from test_acs_session import Api, cwmp_addr, start_acs

PASSWORD = "hunter2-secret"


def assert_hidden(text):
    assert PASSWORD not in text, text[-4000:]
    assert "***" in text, text[-4000:]


@pytest.mark.acs
@pytest.mark.parametrize("given,shown", [
    ("http://hooker:{pw}@127.0.0.1:{port}/hook", "http://hooker:***@127.0.0.1:{port}/hook"),
    ("http://127.0.0.1:{port}/hook?team=ops&access_token={pw}",
     "http://127.0.0.1:{port}/hook?team=ops&access_token=***"),
], ids=["userinfo", "query-token"])
def test_acs_webhook_failure_shows_the_url_without_its_password(outpost, tmp_path, given, shown):
    port = free_port()
    url = given.format(pw=PASSWORD, port=port)
    shown = shown.format(port=port)
    acs = start_acs(outpost, tmp_path, "--cpe-auth", "none",
                    "--webhook", f"url={url} secret=0123456789abcdef name=crm events=device.registered",
                    "--webhook-backoff", "1s", "--webhook-retry-for", "1s")
    acs.wait_for(r"webhook_configured .*url=\"?" + re.escape(shown))  # quoted when it has a &
    CPE(cwmp_addr(acs)).inform("W1")
    acs.wait_for(r"webhook_failed hook=crm url=\"?" + re.escape(shown), timeout=20)
    hooks = Api(acs).get("/api/webhooks").json()
    assert hooks[0]["url"] == shown
    acs.stop()
    assert_hidden(acs.output())


def test_agent_gateway_failure_shows_the_url_without_its_password(outpost, tmp_path):
    port = free_port()
    agent = outpost("agent", "--gateway", f"ws://agent:{PASSWORD}@127.0.0.1:{port}/tunnel",
                    "--insecure", "--name", "a1", "--key", "k" * 16, "--listen", "127.0.0.1:0",
                    "--data-dir", str(tmp_path / "a1"), "--api-token", "agenttoken",
                    "--reconnect-min", "100ms", "--reconnect-max", "200ms")
    shown = f"ws://agent:***@127.0.0.1:{port}/tunnel"
    assert agent.fields["gateway"] == shown
    agent.wait_for(r"gateway_connect_failed gateway=" + re.escape(shown) + r" .*ECONNREFUSED")
    st = requests.get(agent.url() + "/api/status", headers={"Authorization": "Bearer agenttoken"},
                      timeout=10).json()
    assert st["gateway"] == shown and st["gateways"] == [shown]
    agent.stop()
    assert_hidden(agent.output())


def test_relay_client_failure_shows_the_url_without_its_password(outpost, tmp_path):
    port = free_port()
    client = outpost("relay-client", "--listen", "127.0.0.1:0", "--insecure",
                     "--relay-url", f"ws://mgr:{PASSWORD}@127.0.0.1:{port}/gw-0001",
                     "--data-dir", str(tmp_path / "rc"), "--peer-class", "micronets-manager",
                     "--peer-id", "m1", "--reconnect-min", "50ms", "--reconnect-max", "200ms")
    shown = f"ws://mgr:***@127.0.0.1:{port}/gw-0001"
    assert client.fields["relay"] == shown
    client.wait_for(r"relay_link_retry link=\S+ url=" + re.escape(shown) + r" .*ECONNREFUSED")
    client.stop()
    assert_hidden(client.output())


def test_cpesim_acs_url_shown_without_its_password(outpost, tmp_path):
    port = free_port()
    sim = outpost("cpe-sim", "--acs", f"http://cpe:{PASSWORD}@127.0.0.1:{port}/cwmp",
                  "--cr-listen", "127.0.0.1:0", "--stats-interval", "0", "--retry-min", "200ms",
                  "--data-dir", str(tmp_path / "sim"))
    assert sim.fields["acs"] == f"http://cpe:***@127.0.0.1:{port}/cwmp"
    sim.wait_for(r"session_failed .*ECONNREFUSED")
    sim.stop()
    assert_hidden(sim.output())


# a URL refused at start-up is echoed in the error without its password
@pytest.mark.parametrize("args,shown", [
    pytest.param(("acs", "--cpe-auth", "none", "--webhook",
                  f"url=ftp://u:{PASSWORD}@h/ secret=0123456789abcdef"), "ftp://u:***@h/",
                 marks=pytest.mark.acs),
    (("cwmp-proxy", "--public-url", "http://127.0.0.1:1/", "--backend", f"url=http://u:{PASSWORD}@127.0.0.1:1/"),
     "http://u:***@127.0.0.1:1/"),
    (("cwmp-proxy", "--public-url", "http://127.0.0.1:1/", "--backend", f"url=gopher://u:{PASSWORD}@h/"),
     "gopher://u:***@h/"),
    (("relay-client", "--listen", "127.0.0.1:0", "--relay-url", f"ftp://u:{PASSWORD}@127.0.0.1:1/m"),
     "ftp://u:***@127.0.0.1:1/m"),
    (("agent", "--name", "a1", "--key", "k" * 16, "--gateway", f"http://u:{PASSWORD}@127.0.0.1:1/t"),
     "http://u:***@127.0.0.1:1/t"),
])
def test_refused_url_echoed_without_its_password(tmp_path, args, shown):
    args = args + ("--data-dir", str(tmp_path / "data"), "--admin-listen", "127.0.0.1:0")
    r = run_outpost(*args, timeout=30)
    out = r.stdout + r.stderr
    assert r.returncode != 0, out
    assert shown in out, out
    assert PASSWORD not in out, out
