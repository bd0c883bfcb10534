"""A misbehaving ACS ends the session with a logged reason and a retry; the fleet lives on."""
import pytest

from test_cpesim_acs import ScriptedAcs, start_sim


@pytest.mark.parametrize("mode,reason", [
    ("http500", r"why=http_status reason=\"HTTP 500 from the ACS\""),
    ("malformed", r"why=protocol reason=\"malformed SOAP from the ACS"),
    ("hang", r"why=timeout reason=\"no answer within 300 ms\""),
    ("huge", r"why=protocol reason=\"bad HTTP response: body over --max-response\""),
])
def test_bad_acs_is_retried(outpost, mode, reason):
    acs = ScriptedAcs(mode=mode)
    try:
        sim = start_sim(outpost, acs, "--count", "2", "--session-timeout", "300ms", "--max-response", "4KiB")
        sim.wait_for(r"session_failed cpe=SIM00000[12] " + reason)
        # the retry carries RetryCount and still the BOOTSTRAP
        retry = acs.wait_msg("Inform", "SIM000001", count=2, timeout=5)
        assert retry.field("RetryCount") == "1"
        assert "0 BOOTSTRAP" in retry.event_codes()
        acs.mode = "normal"
        acs.wait(lambda: any(m.field("RetryCount") != "0" and m.serial == "SIM000001"
                             for m in acs.by("Inform")) and not acs.in_session.get("SIM000001", True)
                 and len(acs.by("Inform", "SIM000001")) >= 3, timeout=10, what="recovery")
    finally:
        acs.close()


def test_acs_closing_the_connection(outpost):
    acs = ScriptedAcs()
    try:
        sim = start_sim(outpost, acs, "--drop-rate", "1")
        sim.wait_for(r"session_failed cpe=SIM000001 why=dropped")
        acs.wait_msg("Inform", "SIM000001", count=2, timeout=5)
    finally:
        acs.close()


def test_cookie_only_sessions(outpost):
    acs = ScriptedAcs()
    try:
        from test_cpesim_acs import Rpc
        start_sim(outpost, acs, "--cookie-only")
        acs.wait_inform("0 BOOTSTRAP", "SIM000001")
        r = acs.call("SIM000001", Rpc.gpv("Device.DeviceInfo.SerialNumber"), "GetParameterValuesResponse")
        assert r.params()["Device.DeviceInfo.SerialNumber"][0] == "SIM000001"
        acs.wait(lambda: not acs.in_session.get("SIM000001"), what="session end")
        ports = [p for p, _ in acs.peers]
        assert len(set(ports)) == len(ports)  # a new connection for every request
        assert all(c for _, c in acs.peers[1:])  # and the cookie on all but the Inform
    finally:
        acs.close()


def test_acs_digest_authentication(outpost):
    acs = ScriptedAcs(digest=("cpe-SIM000001", "s3cret"))
    try:
        start_sim(outpost, acs, "--username", "cpe-{serial}", "--password", "s3cret", "--inform-interval", "1s",
                  "--jitter", "0")
        acs.wait_inform("2 PERIODIC", "SIM000001", timeout=5)
        assert acs.auth_failures == 0
    finally:
        acs.close()
    acs = ScriptedAcs(digest=("cpe-SIM000001", "s3cret"))
    try:
        sim = start_sim(outpost, acs, "--username", "cpe-{serial}", "--password", "wrong")
        sim.wait_for(r"session_failed cpe=SIM000001 why=auth reason=\"the ACS refused our credentials\"")
        assert acs.by("Inform") == []
    finally:
        acs.close()


def test_fault_rate_and_slow_cpe(outpost):
    import time
    from test_cpesim_acs import Rpc
    acs = ScriptedAcs()
    try:
        sim = start_sim(outpost, acs, "--fault-rate", "1", "--slow-ms", "250ms")
        acs.wait_inform("0 BOOTSTRAP", "SIM000001")
        t0 = time.monotonic()
        r = acs.call("SIM000001", Rpc.gpv("Device.DeviceInfo.SerialNumber"), "GetParameterValuesResponse")
        # the CPE took its time: the Inform after the wake-up and the answer are both delayed
        assert time.monotonic() - t0 >= 0.5
        assert r.fault() == (9002, [])
        assert "simulated failure" in r.field("FaultString")
        sim.stop()
        assert "faults=1 " in sim.output()
        assert " rpc_GetParameterValues=1" in sim.output()  # the summary names the RPCs by type
    finally:
        acs.close()


def test_acs_closing_while_the_cpe_delays(outpost):
    """An ACS that closes the connection before the slow CPE wrote its request did not
    "close before answering": it gave up waiting for the request. The log says so."""
    import socket
    import threading
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    stop = threading.Event()

    def closer():  # accepts, says nothing, closes after 200 ms (an ACS's request deadline)
        srv.settimeout(0.2)
        while not stop.is_set():
            try:
                c, _ = srv.accept()
            except OSError:
                continue
            stop.wait(0.2)
            c.close()
    t = threading.Thread(target=closer, daemon=True)
    t.start()
    try:
        sim = outpost("cpe-sim", "--acs", "http://127.0.0.1:%d/" % srv.getsockname()[1],
                      "--cr-listen", "127.0.0.1:0", "--stats-interval", "0", "--slow-ms", "2000")
        sim.wait_for(r"session_failed cpe=SIM000001 why=closed reason=\"the ACS closed the connection "
                     r"before the CPE sent its request \(--slow-ms\)\"")
    finally:
        stop.set()
        t.join(2)
        srv.close()


def test_acs_down(outpost):
    from conftest import free_port
    port = free_port()
    sim = outpost("cpe-sim", "--acs", "http://127.0.0.1:%d/" % port, "--cr-listen", "127.0.0.1:0",
                  "--stats-interval", "0", "--retry-min", "100ms", "--count", "2")
    sim.wait_for(r"session_failed cpe=SIM000001 why=connect reason=\"connect to 127.0.0.1:%d: ECONNREFUSED" % port)
    sim.wait_for(r"session_failed cpe=SIM000001 why=connect .* retry=2")


def test_failure_lines_renew_without_stats_lines(outpost):
    """--stats-interval 0: 20 failure lines, the rest counted; the budget renews every 10 s."""
    from conftest import free_port
    sim = outpost("cpe-sim", "--acs", "http://127.0.0.1:%d/" % free_port(), "--cr-listen", "127.0.0.1:0",
                  "--stats-interval", "0", "--retry-min", "300ms", "--count", "25", "--rate", "0")
    m = sim.wait_for(r"session_failures_not_logged count=\d+", timeout=30)
    first = sim.lines.index(m.string)
    assert len([l for l in sim.lines[:first] if "session_failed" in l]) == 20
    sim.wait_for(r"session_failed cpe=SIM", start=first + 1)  # logged again after the renewal
