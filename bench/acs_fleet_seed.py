#!/usr/bin/python3
"""bench/acs_fleet_seed.py DB N: N devices written straight into an ACS
store (made by `outpost acs` once, then stopped), for the search rows of
bench/acs.sh; no ANALYZE (the ACS never runs one). Device i: model M<i%20>,
software version V<i%7>, tags "lab" on every 100th; 3 parameters each, one of them
InternetGatewayDevice.X_Site = S<i%20000> (so model=M5 AND
param.InternetGatewayDevice.X_Site=S5 matches N/20000 devices: 50 of
1,000,000)."""
import sqlite3
import sys
import time

db = sqlite3.connect(sys.argv[1])
n = int(sys.argv[2])
now = int(time.time())
db.executescript("PRAGMA synchronous=OFF; PRAGMA journal_mode=WAL;")
db.execute("BEGIN")
db.execute(f"""
WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s WHERE i + 1 < {n})
INSERT INTO devices (rid, id, manufacturer, oui, product_class, serial, software_version,
                     hardware_version, tags, first_seen, last_inform, periodic_interval)
SELECT i + 1, printf('00D09E-M%d-SN%08d', i % 20, i), 'Acme', '00D09E', 'M' || (i % 20),
       printf('SN%08d', i), 'V' || (i % 7), 'HW1', CASE WHEN i % 100 = 0 THEN 'lab' ELSE '' END,
       {now} - 86400, {now} - (i % 3600), 300 FROM s""")
for name, expr in [("InternetGatewayDevice.X_Site", "'S' || (i % 20000)"),
                   ("InternetGatewayDevice.DeviceInfo.UpTime", "(i * 7919) % 100000"),
                   ("InternetGatewayDevice.DeviceInfo.SoftwareVersion", "'V' || (i % 7)")]:
    db.execute(f"""
WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s WHERE i + 1 < {n})
INSERT INTO params (device, name, value, type, updated)
SELECT i + 1, '{name}', {expr}, 'xsd:string', {now} FROM s""")
db.commit()
db.close()
