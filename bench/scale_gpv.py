#!/usr/bin/python3
"""bench/scale_gpv.py CWMP_PORT API_PORT N PARAMS: N sessions of one device,
each answering a queued GetParameterValues of PARAMS names; prints the
median and worst time from the CPE's POST of the GetParameterValuesResponse
to the ACS's answer (the ACS answers once the values are committed: the
store job runs in between), first with new parameters (inserts), then with
every value changed (updates and their history rows)."""
import http.client
import json
import sys
import time

cport, aport, n, nparams = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
HEAD = ('<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" '
        'xmlns:soapenc="http://schemas.xmlsoap.org/soap/encoding/" '
        'xmlns:xsd="http://www.w3.org/2001/XMLSchema" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        'xmlns:cwmp="urn:dslforum-org:cwmp-1-2"><soap:Header><cwmp:ID soap:mustUnderstand="1">%s'
        '</cwmp:ID></soap:Header><soap:Body>')
NAMES = [f"InternetGatewayDevice.X_Big.P.{i + 1}.Value" for i in range(nparams)]
DEV = "00D09E-IGD-BIG1"


def inform():
    return (HEAD % "1" + '<cwmp:Inform><DeviceId><Manufacturer>Bench</Manufacturer><OUI>00D09E</OUI>'
            '<ProductClass>IGD</ProductClass><SerialNumber>BIG1</SerialNumber></DeviceId>'
            '<Event soapenc:arrayType="cwmp:EventStruct[1]"><EventStruct><EventCode>2 PERIODIC'
            '</EventCode><CommandKey></CommandKey></EventStruct></Event><MaxEnvelopes>1</MaxEnvelopes>'
            '<CurrentTime>2026-01-01T00:00:00Z</CurrentTime><RetryCount>0</RetryCount>'
            '<ParameterList soapenc:arrayType="cwmp:ParameterValueStruct[0]"></ParameterList>'
            '</cwmp:Inform></soap:Body></soap:Envelope>').encode()


def gpv_response(msg_id, round_):
    items = "".join(f'<ParameterValueStruct><Name>{nm}</Name><Value xsi:type="xsd:string">'
                    f'v{round_}-{i}</Value></ParameterValueStruct>' for i, nm in enumerate(NAMES))
    return (HEAD % msg_id + '<cwmp:GetParameterValuesResponse><ParameterList soapenc:arrayType='
            f'"cwmp:ParameterValueStruct[{nparams}]">{items}</ParameterList>'
            '</cwmp:GetParameterValuesResponse></soap:Body></soap:Envelope>').encode()


def post(c, body):
    c.request("POST", "/", body=body, headers={"Content-Type": "text/xml"})
    r = c.getresponse()
    return r.status, r.read().decode()


api = http.client.HTTPConnection("127.0.0.1", aport)


def queue():
    api.request("POST", "/api/devices/" + DEV + "/tasks",
                body=json.dumps({"type": "get_params", "parameters": {"names": NAMES}}),
                headers={"Authorization": "Bearer bench", "Content-Type": "application/json"})
    r = api.getresponse()
    r.read()
    assert r.status in (201, 404), r.status
    return r.status == 201


def session(round_):
    c = http.client.HTTPConnection("127.0.0.1", cport, timeout=60)
    st, _ = post(c, inform())
    assert st == 200, st
    st, body = post(c, b"")
    if "GetParameterValues" not in body:
        assert st == 204, st
        c.close()
        return None
    msg_id = body.split("<cwmp:ID", 1)[1].split(">", 1)[1].split("<", 1)[0]
    data = gpv_response(msg_id, round_)
    t0 = time.monotonic()
    st, _ = post(c, data)
    dt = (time.monotonic() - t0) * 1000
    assert st in (200, 204), st
    c.close()
    return dt


if not queue():      # the device is not known yet: one session makes it
    session(0)
    queue()
times_new = [session(0)]
times = []
for k in range(1, n + 1):
    queue()
    times.append(session(k))
times.sort()
print("first (%d new parameters): %.1f ms; every value changed: median %.1f ms, worst %.1f ms of %d"
      % (nparams, times_new[0], times[len(times) // 2], times[-1], n))
