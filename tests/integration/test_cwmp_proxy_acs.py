"""cwmp-proxy in front of two real `outpost acs` nodes: sessions alternate and
never split, reconnects stay, the ACS stores the rewritten URL, an ACS task
wakes a CPE through the proxy, a dead node takes no new sessions."""
import pytest
import requests

import cwmp_cpe
from conftest import free_port
from cwmp_cpe import CPE, envelope
from cwmp_proxy_util import CpeEndpoint, proxied

pytestmark = pytest.mark.acs  # every test here starts an outpost acs (conftest.py)

TOKEN = "test-token"
PROXY_CREDS = ("acs-relay", "relay-secret")
CR_CREDS = ("cpe", "cr-secret")


class Acs:
    def __init__(self, outpost, tmp_path, name, proxy_url, *extra):
        self.d = outpost("acs", "--cwmp-listen", "127.0.0.1:0", "--api-listen", "127.0.0.1:0",
                         "--data-dir", str(tmp_path / name), "--api-token", TOKEN,
                         "--cr-proxy", proxy_url, "--cr-proxy-username", PROXY_CREDS[0],
                         "--cr-proxy-password", PROXY_CREDS[1], *extra)
        self.name = name
        self.cwmp = self.d.url("listen") + "/"
        self.s = requests.Session()
        self.s.headers["Authorization"] = f"Bearer {TOKEN}"

    def api(self, method, path, **kw):
        return self.s.request(method, self.d.url("api") + path, timeout=30, **kw)

    def devices(self):
        return {d["serial_number"]: d for d in self.api("GET", "/api/devices").json()}


def start(outpost, tmp_path, acs_extra=(), proxy_extra=()):
    port = free_port()  # the public URL names the port the ACS will call
    pub = f"http://127.0.0.1:{port}"
    nodes = [Acs(outpost, tmp_path, "acs1", pub, *acs_extra),
             Acs(outpost, tmp_path, "acs2", pub, *acs_extra)]
    px = outpost("cwmp-proxy", "--listen", f"127.0.0.1:{port}", "--admin-listen", "127.0.0.1:0",
                 "--wakeup-deny", "169.254.0.0/16",
                 "--public-url", pub, "--data-dir", str(tmp_path / "px"),
                 "--api-token", "tok", "--backend", nodes[0].cwmp, "--backend", nodes[1].cwmp,
                 "--health-interval", "100ms", "--health-timeout", "200ms", "--health-fall", "1",
                 "--acs-username", PROXY_CREDS[0], "--acs-password", PROXY_CREDS[1],
                 "--cpe-username", CR_CREDS[0], "--cpe-password", CR_CREDS[1], *proxy_extra,
                 ready=False)
    px.wait_ready()
    return nodes, px


def test_sessions_alternate_and_acs_stores_rewritten_url(outpost, tmp_path):
    nodes, px = start(outpost, tmp_path, ("--cpe-auth", "none"))
    addr = px.addr()
    for i in range(6):
        cpe = CPE(addr)
        r = cpe.inform(f"ALT{i}", cr_url=f"http://10.0.0.{i + 1}:7547/cr")
        assert r.status == 200 and r.rpc == "InformResponse"
        assert cpe.post().status == 204
        cpe.close()
    d1, d2 = nodes[0].devices(), nodes[1].devices()
    assert sorted(d1) == ["ALT0", "ALT2", "ALT4"] and sorted(d2) == ["ALT1", "ALT3", "ALT5"]
    # what the ACS stored is the proxy's URL for the CPE's own one
    pub = px.url()
    assert d1["ALT0"]["connection_request_url"] == proxied(pub, "http://10.0.0.1:7547/cr")
    assert d2["ALT3"]["connection_request_url"] == proxied(pub, "http://10.0.0.4:7547/cr")


def test_session_never_splits_and_reconnect_stays(outpost, tmp_path):
    nodes, px = start(outpost, tmp_path, ("--cpe-auth", "none"))
    addr = px.addr()
    # Register the device, then queue two tasks on the node that has it.
    cpe = CPE(addr)
    cpe.inform("SPLIT1")
    cpe.post()
    cpe.close()
    home = next(n for n in nodes if "SPLIT1" in n.devices())
    dev = home.devices()["SPLIT1"]["id"]
    name = "InternetGatewayDevice.DeviceInfo.UpTime"
    for _ in range(2):
        r = home.api("POST", f"/api/devices/{dev}/tasks",
                     json={"type": "get_params", "parameters": {"names": [name]}})
        assert r.status_code in (200, 201), r.text
    # Other CPEs move the rotation between our sessions.
    other = CPE(addr)
    other.inform("OTHER")
    other.post()
    other.close()
    cpe = CPE(addr)
    cpe.inform("SPLIT1")
    r = cpe.post()
    assert r.rpc == "GetParameterValues"
    gpv = ('<cwmp:GetParameterValuesResponse><ParameterList soapenc:arrayType='
           f'"cwmp:ParameterValueStruct[1]"><ParameterValueStruct><Name>{name}</Name>'
           '<Value xsi:type="xsd:unsignedInt">42</Value></ParameterValueStruct></ParameterList>'
           '</cwmp:GetParameterValuesResponse>')
    r = cpe.answer(r, gpv)
    assert r.rpc == "GetParameterValues"   # the second task: same node, same session
    cpe.new_connection()                   # the CPE reconnects mid-session
    r = cpe.answer(r, gpv)
    assert r.status == 204                 # the node knew the session: done
    tasks = home.api("GET", f"/api/devices/{dev}/tasks").json()
    assert [t["status"] for t in tasks] == ["done", "done"]
    cpe.close()


def test_digest_challenge_retry_sticks(outpost, tmp_path):
    # The nodes authenticate CPEs: the Inform comes back with credentials,
    # and only the node that made the nonce can check it.
    nodes, px = start(outpost, tmp_path, ("--cpe-auth", "digest", "--cpe-username", "cpe",
                                          "--cpe-password", "pw"))
    for i in range(4):
        cpe = CPE(px.addr(), auth=("cpe", "pw"))
        r = cpe.inform(f"DG{i}")
        assert r.status == 200 and r.rpc == "InformResponse"
        assert cpe.post().status == 204
        cpe.close()
    # also when the retry comes on a new connection with the proxy's cookie
    cpe = CPE(px.addr())
    st = cpe.post(envelope(cwmp_cpe.inform("DG9")))
    assert st.status == 401
    chal = st.headers["www-authenticate"]
    cpe.auth = ("cpe", "pw")
    cpe.new_connection()
    r = cpe.post(envelope(cwmp_cpe.inform("DG9")), authorization=cpe._digest(chal, "/"))
    assert r.status == 200
    assert sum(len(n.devices()) for n in nodes) == 5


def test_acs_task_wakes_cpe_through_proxy(outpost, tmp_path):
    nodes, px = start(outpost, tmp_path, ("--cpe-auth", "none"))
    endpoint = CpeEndpoint(user=CR_CREDS[0], password=CR_CREDS[1])
    cpe = CPE(px.addr())
    cpe.inform("WAKE1", cr_url=endpoint.url)
    cpe.post()
    cpe.close()
    home = next(n for n in nodes if "WAKE1" in n.devices())
    dev = home.devices()["WAKE1"]
    assert dev["connection_request_url"] == proxied(px.url(), endpoint.url)
    # ACS -> proxy (Digest: plain HTTP here) -> CPE (Digest) and back
    r = home.api("POST", f"/api/devices/{dev['id']}/connection-request")
    assert r.status_code == 200, r.text
    assert endpoint.woken == 1 and endpoint.algorithm_used() == "SHA-256"
    px.wait_for(r"wakeup device=00D09E-IGD-WAKE1 .*outcome=ok")
    # a task queued for the device wakes it the same way
    first = home.d.wait_for(r"cwmp_connection_request device=00D09E-IGD-WAKE1 status=200")
    mark = home.d.lines.index(first.string) + 1
    r = home.api("POST", f"/api/devices/{dev['id']}/tasks", json={"type": "reboot"})
    assert r.status_code in (200, 201), r.text
    home.d.wait_for(r"cwmp_connection_request device=00D09E-IGD-WAKE1 status=200", start=mark)
    assert endpoint.woken == 2
    # a CPE that went away: the ACS hears 502 from the proxy
    endpoint.stop()
    r = home.api("POST", f"/api/devices/{dev['id']}/connection-request")
    assert r.status_code == 502 and r.json()["http_status"] == 502


def test_node_killed(outpost, tmp_path):
    nodes, px = start(outpost, tmp_path, ("--cpe-auth", "none"))
    addr = px.addr()
    live = []
    for i in range(2):
        cpe = CPE(addr)
        cpe.inform(f"K{i}")
        live.append(cpe)
    victim = next(n for n in nodes if "K1" in n.devices())
    survivor = next(n for n in nodes if n is not victim)
    victim.d.kill()
    # the session on the dead node fails cleanly
    r = live[1].post()
    assert r.status in (502, 504)
    # the other carries on
    assert live[0].post().status == 204
    px.wait_for(r"backend_down")
    for i in range(4):
        cpe = CPE(addr)
        assert cpe.inform(f"N{i}").status == 200
        cpe.post()
        cpe.close()
    assert {f"N{i}" for i in range(4)} <= set(survivor.devices())
