"""The CWMP session client against what a standards-conformant ACS may do:
Basic authentication, a redirect of the Inform, a new ManagementServer.URL, https."""
import http.server
import socketserver
import threading

import pytest

from test_cpesim_acs import Rpc, ScriptedAcs, start_sim

S1 = "SIM000001"


def test_acs_basic_authentication(outpost):
    acs = ScriptedAcs(basic=("cpe-SIM000001", "s3cret"))
    try:
        start_sim(outpost, acs, "--username", "cpe-{serial}", "--password", "s3cret")
        acs.wait_inform("0 BOOTSTRAP", S1)
        r = acs.call(S1, Rpc.gpv("Device.DeviceInfo.SerialNumber"), "GetParameterValuesResponse")
        assert r.params()["Device.DeviceInfo.SerialNumber"][0] == S1
        assert acs.auth_failures == 0
    finally:
        acs.close()
    acs = ScriptedAcs(basic=("cpe-SIM000001", "s3cret"))
    try:
        sim = start_sim(outpost, acs, "--username", "cpe-{serial}", "--password", "wrong")
        sim.wait_for(r"session_failed cpe=SIM000001 why=auth ")
        assert acs.by("Inform") == [] and acs.auth_failures == 1  # one try per request, no loop
    finally:
        acs.close()


class Redirector:
    """Answers every POST with `status` and Location: target."""

    def __init__(self, target, status=307):
        self.hits = 0
        rd = self

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                rd.hits += 1
                self.send_response(status)
                self.send_header("Location", target)
                self.send_header("Content-Length", "0")
                self.end_headers()

        class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
            daemon_threads = True

        self.server = S(("127.0.0.1", 0), H)
        self.url = "http://127.0.0.1:%d/" % self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.mark.parametrize("relative", [False, True])
def test_inform_redirect_is_followed_for_the_session(outpost, relative):
    acs = ScriptedAcs()
    rd = Redirector(acs.url)  # absolute Location; relative: the ACS's own /moved -> /acs
    try:
        outpost("cpe-sim", "--acs", acs.url.replace("/acs", "/moved") if relative else rd.url,
                "--cr-listen", "127.0.0.1:0", "--stats-interval", "0", "--inform-interval", "1s", "--jitter", "0")
        acs.wait_inform("0 BOOTSTRAP", S1)
        # the redirect holds for one session (TR-069 3.4.5): the next starts at the ACS URL again
        acs.wait_inform("2 PERIODIC", S1, timeout=5)
        assert (acs.moved_hits if relative else rd.hits) >= 2
    finally:
        acs.close()
        rd.close()


def test_unusable_redirect_fails_the_session(outpost):
    rd = Redirector("ftp://127.0.0.1/acs")
    try:
        sim = outpost("cpe-sim", "--acs", rd.url, "--cr-listen", "127.0.0.1:0", "--stats-interval", "0")
        sim.wait_for(r"session_failed cpe=SIM000001 why=http_status reason=\"unusable redirect\"")
    finally:
        rd.close()


def test_new_acs_url_bootstraps_there(outpost):
    old, new = ScriptedAcs(), ScriptedAcs()
    try:
        start_sim(outpost, old)
        old.wait_inform("0 BOOTSTRAP", S1)
        old.call(S1, Rpc.spv([("Device.ManagementServer.URL", new.url, "xsd:string")]), "SetParameterValuesResponse")
        inf = new.wait_inform("0 BOOTSTRAP", S1)
        assert inf.params()["Device.ManagementServer.ConnectionRequestURL"][0].endswith("/cr/SIM000001")
        r = new.call(S1, Rpc.gpv("Device.ManagementServer.URL"), "GetParameterValuesResponse")
        assert r.params()["Device.ManagementServer.URL"][0] == new.url
    finally:
        old.close()
        new.close()


def test_https_acs(outpost, pki):
    acs = ScriptedAcs(tls=(pki["server.pem"], pki["server.key"]))
    try:
        start_sim(outpost, acs, "--tls-ca", pki["ca.pem"])
        acs.wait_inform("0 BOOTSTRAP", S1)
        r = acs.call(S1, Rpc.gpv("Device.ManagementServer.URL"), "GetParameterValuesResponse")
        assert r.params()["Device.ManagementServer.URL"][0] == acs.url
    finally:
        acs.close()
    acs = ScriptedAcs(tls=(pki["rogue.pem"], pki["rogue.key"]))  # signed by another CA
    try:
        sim = start_sim(outpost, acs, "--tls-ca", pki["ca.pem"])
        sim.wait_for(r"session_failed cpe=SIM000001 why=connect ")
        sim.wait_for(r"tls_handshake_failed .*side=client reason=\"unable to get local issuer certificate")
        assert acs.by("Inform") == []
        sim.stop()
        start_sim(outpost, acs, "--insecure")  # the operator's choice: no verification
        acs.wait_inform("0 BOOTSTRAP", S1)
    finally:
        acs.close()
