"""The ACS REST API as the integration tests drive it: a session with the
bearer token, GETs that must answer 200, task creation, and polling until a
condition holds. Test files subclass AcsApi for their own task shapes."""
import time

import requests


class AcsApi:
    UNTIL_TIMEOUT = 20  # seconds until() waits by default

    def __init__(self, d, token):
        self.base = d.url("api")
        self.s = requests.Session()
        self.s.headers["Authorization"] = "Bearer " + token

    def get(self, path):
        r = self.s.get(self.base + path, timeout=30)
        assert r.status_code == 200, r.text
        return r.json()

    def post_task(self, dev, body, wait, status=201):
        r = self.s.post("%s/api/devices/%s/tasks?wait=%d" % (self.base, dev, wait), json=body, timeout=60)
        assert r.status_code == status, r.text
        return r.json()

    def until(self, path, pred, timeout=None):
        deadline = time.monotonic() + (self.UNTIL_TIMEOUT if timeout is None else timeout)
        while True:
            v = self.get(path)
            if pred(v):
                return v
            assert time.monotonic() < deadline, "timed out on %s: %s" % (path, v)
            time.sleep(0.1)  # polling the REST API: there is no event to wait on
