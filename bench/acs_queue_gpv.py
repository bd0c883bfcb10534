#!/usr/bin/python3
"""bench/acs_queue_gpv.py API_PORT PREFIX FIRST N: queue one 500-name
GetParameterValues for each of the devices acs_load names PREFIX-FIRST ..
PREFIX-(FIRST+N-1) (row (b) of bench/acs.sh and bench/acs-instructions.sh:
the devices have informed once, the tasks wait for their next session)."""
import http.client
import json
import sys

port, prefix, first, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
names = [f"InternetGatewayDevice.X_Bench.Param.{i + 1}.Value" for i in range(500)]
body = json.dumps({"type": "get_params", "parameters": {"names": names}})
c = http.client.HTTPConnection("127.0.0.1", port)
for i in range(first, first + n):
    # acs_load's ids are 00D09E-IGD-PREFIX-i: the '-' of a serial is %2D in
    # the id, and that '%' is itself escaped in the path
    c.request("POST", f"/api/devices/00D09E-IGD-{prefix}%252D{i}/tasks", body=body,
              headers={"Authorization": "Bearer bench", "Content-Type": "application/json"})
    r = c.getresponse()
    r.read()
    assert r.status == 201, r.status
