"""Fleet knobs: start-up pace (--rate), --max-sessions, --jitter, --duration,
--stats-interval and --cr-url, observed from the ACS side and in the output."""
import json
import time

from test_cpesim_acs import ScriptedAcs, start_sim


class TimedAcs(ScriptedAcs):
    """Records when each envelope arrives and how many sessions overlap at the ACS;
    `delay` slows every answer down so that sessions last long enough to overlap."""

    def __init__(self, delay=0.0):
        super().__init__()
        self.delay = delay
        self.arrivals = []          # (monotonic time, Message), in order
        self.most_in_session = 0
        acs = self

        class Sessions(dict):       # written under acs.cond by ScriptedAcs
            def __setitem__(self, k, v):
                super().__setitem__(k, v)
                acs.most_in_session = max(acs.most_in_session, sum(1 for x in self.values() if x))

        class Log(list):
            def append(self, m):
                acs.arrivals.append((time.monotonic(), m))
                super().append(m)

        self.in_session = Sessions()
        self.messages = Log()

    def _send(self, h, *a, **kw):
        if self.delay:
            time.sleep(self.delay)
        super()._send(h, *a, **kw)

    def first(self, code):
        """serial -> arrival time of its first Inform carrying `code`."""
        out = {}
        with self.cond:
            for t, m in self.arrivals:
                if m.name == "Inform" and code in m.event_codes():
                    out.setdefault(m.serial, t)
        return out


def test_rate_duration_stats_interval(outpost):
    acs = TimedAcs()
    try:
        sim = start_sim(outpost, acs, "--count", "10", "--rate", "10/s", "--duration", "2s",
                        "--stats-interval", "300ms", "--json", "--inform-interval", "1h",
                        "--cr-url", "http://cpe-gw.example:8080/base")
        assert sim.proc.wait(20) == 0  # --duration: the fleet stops by itself
        sim.stop()  # exit code 0, no sanitizer report
        boots = acs.first("0 BOOTSTRAP")
        assert len(boots) == 10
        # 10 CPEs at 10/s: the last boots 0.9 s after the first (never all at once)
        assert max(boots.values()) - min(boots.values()) >= 0.7
        url = acs.cr_urls["SIM000007"]
        assert url == "http://cpe-gw.example:8080/base/cr/SIM000007"
        lines = [json.loads(l) for l in sim.lines if l.startswith("{")]
        periodic = [l for l in lines if "final" not in l]
        assert len(periodic) >= 3, sim.output()  # every 300 ms for 2 s
        final = lines[-1]
        assert final["final"] is True
        assert final["stats"]["sessions"]["completed"] == 10
        assert 1.9 <= final["stats"]["elapsed_s"]
    finally:
        acs.close()


def test_max_sessions_queues_the_rest(outpost):
    acs = TimedAcs(delay=0.05)
    try:
        start_sim(outpost, acs, "--count", "8", "--rate", "0", "--max-sessions", "2",
                        "--inform-interval", "1h")
        acs.wait(lambda: len(acs.first("0 BOOTSTRAP")) == 8 and not any(acs.in_session.values()),
                 timeout=20, what="8 bootstraps")
        # all 8 were due at once: two sessions at a time, the others waited their turn
        assert acs.most_in_session == 2
    finally:
        acs.close()


def test_jitter_spreads_periodic_informs(outpost):
    acs = TimedAcs()
    try:
        start_sim(outpost, acs, "--count", "30", "--rate", "0", "--inform-interval", "2s", "--jitter", "0.5",
                  "--seed", "3")
        t0 = time.monotonic()  # the fleet booted all 30 just before its ready line
        acs.wait(lambda: len(acs.first("2 PERIODIC")) == 30, timeout=20, what="30 periodic Informs")
        # measured from the boot, not from each bootstrap session, which a busy ACS may delay
        gaps = [t - t0 for t in acs.first("2 PERIODIC").values()]
        # 2 s +-50%: between 1 and 3 s after boot, spread out, not in lockstep
        assert min(gaps) >= 0.8, gaps
        assert max(gaps) - min(gaps) >= 0.8, gaps
    finally:
        acs.close()


def test_bad_rate_is_a_usage_error():
    from conftest import run_outpost
    for bad in ("fast", "-5/s", "nan", "10/m"):
        r = run_outpost("cpe-sim", "--rate", bad, "--cr-listen", "127.0.0.1:0", timeout=20)
        assert r.returncode == 2 and "--rate: expected N or N/s" in r.stderr, (bad, r.stderr)
