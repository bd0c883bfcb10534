"""outpost acs: ?wait= callers that go away. A waiter whose task finished is
answered from a store job; if its client hangs up before that job is back,
the request is released quietly (it used to reach the freed waiter: a
use-after-free, then a crash)."""
import json
import random
import socket
import struct
import threading
import time

from cwmp_cpe import CPE, acs_envelopes_valid  # noqa: F401 (autouse: validates what the ACS sent)
from test_acs_session import TOKEN, Api, cwmp_addr, start_acs
from test_acs_tasks import DEV


def request(addr, method, path, body=None):
    """A request on a fresh connection, answer not read: the socket."""
    s = socket.create_connection(addr)
    data = json.dumps(body).encode() if body is not None else b""
    s.sendall(f"{method} {path} HTTP/1.1\r\nHost: acs\r\nAuthorization: Bearer {TOKEN}\r\n"
              f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n".encode() + data)
    return s


def reset(s):
    """Hang up with a reset: the server hears of it at once."""
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()


def test_waiter_hangs_up_while_answered(outpost, tmp_path):
    d = start_acs(outpost, tmp_path, "--cpe-auth", "none")
    api = Api(d)
    cpe = CPE(cwmp_addr(d))
    cpe.inform("T1")
    assert cpe.post().status == 204                       # the device is known, its session over
    cpe.close()
    addr = d.addr("api")
    # Other API traffic keeps the store's queue busy, so a waiter's answer
    # spends a while in it: the window the hang-up must fall in.
    stop = threading.Event()

    def busy():
        b = Api(d)
        while not stop.is_set():
            b.get(f"/api/devices/{DEV}/tasks?limit=1000")

    threads = [threading.Thread(target=busy) for _ in range(3)]
    for t in threads:
        t.start()
    try:
        rnd = random.Random(7)
        for i in range(60):
            w = request(addr, "POST", f"/api/devices/{DEV}/tasks?wait=30", {"type": "reboot"})
            deadline = time.monotonic() + 10
            while True:                                   # the task exists: its waiter does too
                tasks = api.get(f"/api/devices/{DEV}/tasks?limit=1").json()
                if tasks and tasks[0]["status"] == "pending":
                    break
                assert time.monotonic() < deadline
                time.sleep(0.005)
            c = request(addr, "DELETE", f"/api/tasks/{tasks[0]['id']}")
            time.sleep(rnd.random() * 0.004)              # about when the cancel answers the waiter
            reset(w)
            c.recv(4096)
            c.close()
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert d.proc.poll() is None, d.output()[-3000:]
    assert api.get("/api/stats").json()["pending_tasks"] == 0
    # A waiter that stays gets its answer: the task, cancelled.
    w = request(addr, "POST", f"/api/devices/{DEV}/tasks?wait=30", {"type": "reboot"})
    deadline = time.monotonic() + 10
    while not (tasks := api.get(f"/api/devices/{DEV}/tasks?limit=1").json()) or \
            tasks[0]["status"] != "pending":
        assert time.monotonic() < deadline
        time.sleep(0.005)
    assert api.delete(f"/api/tasks/{tasks[0]['id']}").status_code == 200
    w.settimeout(10)
    answer = b""
    while b'"status":"cancelled"' not in answer:
        chunk = w.recv(65536)
        assert chunk, answer
        answer += chunk
    assert answer.startswith(b"HTTP/1.1 201")
    w.close()
