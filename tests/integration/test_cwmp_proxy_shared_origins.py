"""cwmp-proxy: the origin map in a shared PostgreSQL store (--origin-store
postgres://...). Two proxies on one database: a CPE informs through one, a
wake-up relayed by the other reaches it; a device that moves to a new
address through one proxy stops being reachable at the old one through the
other; a proxy that restarts finds every origin in the store; the store
going away and coming back."""
import tempfile
import time

import pytest

from conftest import acs_pg_url, pg_server_module
from cwmp_proxy_util import Backend, CpeEndpoint, proxied
from test_cwmp_proxy_wakeup import (PUB, GatedNode, inform_status, register, start_proxy, wake,
                                    woken_as)


def wait_status(px, url, want, timeout=10.0):
    """Wake until the answer is `want` (the other proxy's row arrives with
    the next refresh); returns the last response."""
    deadline = time.monotonic() + timeout
    while True:
        r = wake(px, url)
        if r.status_code == want or time.monotonic() > deadline:
            return r
        time.sleep(0.1)


@pytest.fixture
def shared(tmp_path):
    return acs_pg_url(tmp_path / "origins")  # a database of its own on the session's server


def test_wakeup_through_another_proxy(outpost, tmp_path, shared):
    a = Backend("A")
    cpe = CpeEndpoint()
    cpe2 = CpeEndpoint()
    common = ("--cpe-username", "cpe", "--cpe-password", "secret", "--origin-store", shared,
              "--origin-refresh", "200ms")
    p1 = start_proxy(outpost, tmp_path, a, *common, data="px1")
    p2 = start_proxy(outpost, tmp_path, a, *common, data="px2")
    url = register(p1, "S1", cpe.url)
    # p2 never saw this CPE: it learns the origin from the store
    r = wait_status(p2, url, 200)
    assert r.status_code == 200, r.text
    assert cpe.woken == 1
    p2.wait_for(r"wakeup device=00259E-EG8145V5-S1 .*outcome=ok status=200")
    # an origin no proxy rewrote is still refused by both
    bogus = url.replace("origin=", "origin=x")
    assert wake(p2, bogus).status_code == 403 and wake(p1, bogus).status_code == 403

    # the device moves to a new address, informing through p2: p1 learns it,
    # and its old address is no longer reachable through p1
    url2 = register(p2, "S1", cpe2.url)
    assert wait_status(p1, url2, 200).status_code == 200 and cpe2.woken == 1
    assert wait_status(p1, url, 403).status_code == 403
    assert cpe.woken == 1

    # nothing is in either proxy's own file: a third proxy, fresh, knows both
    p1.stop()
    p3 = start_proxy(outpost, tmp_path, a, *common, data="px3")
    assert p3.fields.get("origins") == "1", p3.lines[-3:]
    assert wake(p3, url2).status_code == 200 and cpe2.woken == 2
    assert wake(p3, url).status_code == 403
    a.stop()
    cpe.stop()
    cpe2.stop()


def test_refused_inform_reaches_no_other_proxy(outpost, tmp_path, shared):
    """An Inform the node refused is recorded nowhere: not in the proxy's
    memory, so not in the shared store, so not by another proxy either."""
    a = GatedNode()
    victim, rogue, marker = CpeEndpoint(), CpeEndpoint(), CpeEndpoint()
    common = ("--cpe-username", "cpe", "--cpe-password", "secret", "--origin-store", shared,
              "--origin-refresh", "200ms")
    p1 = start_proxy(outpost, tmp_path, a, *common, data="px1")
    p2 = start_proxy(outpost, tmp_path, a, *common, data="px2")
    url_a = register(p1, "V1", victim.url)
    a.status = 401
    assert inform_status(p1, "V1", rogue.url) == 401
    assert inform_status(p1, "R2", victim.url) == 401
    a.status = 200
    # written after the refused ones: once p2 has it, it has read past them
    url_m = register(p1, "M3", marker.url)
    assert wait_status(p2, url_m, 200).status_code == 200
    woken_as(p2, url_a, "V1")
    assert wake(p2, proxied(PUB, rogue.url)).status_code == 403
    assert wake(p1, proxied(PUB, rogue.url)).status_code == 403
    assert rogue.hits == []
    a.stop()
    for c in (victim, rogue, marker):
        c.stop()


def test_unreachable_store_stops_the_start(outpost, tmp_path, shared):
    """A shared store that cannot be opened is a start-up error with the
    reason, not a proxy that silently keeps origins to itself."""
    a = Backend("A")
    bad = shared.replace("postgresql:///", "postgresql:///no_such_db_", 1)
    px = outpost("cwmp-proxy", "--listen", "127.0.0.1:0", "--data-dir", str(tmp_path / "px"),
                 "--api-token", "tok", "--backend", a.url, "--public-url", "http://proxy.test:7548",
                 "--origin-store", bad, ready=False)
    assert px.proc.wait(30) != 0
    px.stop(expect_rc=px.proc.returncode)  # no sanitizer report either
    assert "origin_store_error" in px.output() and "no_such_db_" in px.output()
    a.stop()


def test_store_outage(outpost, tmp_path):
    """The shared store stops and comes back: the proxies keep relaying what
    they know, log the failed writes once per outage (not each retry), and resume writing and
    reading by themselves."""
    pg_server = pg_server_module()
    d = tempfile.mkdtemp(prefix="outpost-pg-")  # the server's user must reach it: not under tmp_path
    try:
        url = pg_server.start(d)
    except pg_server.PgMissing as e:
        pytest.skip(str(e))
    try:
        a = Backend("A")
        cpes = [CpeEndpoint() for _ in range(3)]
        common = ("--cpe-username", "cpe", "--cpe-password", "secret", "--origin-store", url,
                  "--origin-refresh", "200ms")
        p1 = start_proxy(outpost, tmp_path, a, *common, data="px1")
        p2 = start_proxy(outpost, tmp_path, a, *common, data="px2")
        u0 = register(p1, "O0", cpes[0].url)
        assert wait_status(p2, u0, 200).status_code == 200

        pg_server.stop(d, keep=True)
        u1 = register(p1, "O1", cpes[1].url)
        p1.wait_for(r"origin_store_write_failed rows=1 .*kept for the next try", timeout=30)
        # the kept batch is retried every refresh (200 ms): the outage is said once
        time.sleep(1.5)
        assert sum("origin_store_write_failed" in l for l in p1.lines) == 1, \
            [l for l in p1.lines if "origin_store" in l]
        assert wake(p1, u1).status_code == 200        # p1's memory still has it
        assert wake(p2, u0).status_code == 200        # so has p2's

        pg_server.start(d)
        u2 = register(p1, "O2", cpes[2].url)
        assert wait_status(p2, u2, 200, timeout=30).status_code == 200
        p1.wait_for(r"origin_store_reconnected", timeout=5)
        # the batch that failed was kept and written with the next one
        assert wake(p2, u1).status_code == 200
        a.stop()
        for c in cpes:
            c.stop()
    finally:
        pg_server.stop(d)
