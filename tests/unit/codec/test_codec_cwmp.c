/* Unit tests of the CWMP codec: every message both ways in every namespace,
 * vendor dialects, faults, hostile XML, caps, streaming. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "codec/cwmp.h"
#include "cwmp_samples.h"

static const char *nz(const char *s) { return s ? s : ""; }

static void assert_str(const char *a, const char *b) { assert_string_equal(nz(a), nz(b)); }

/* Compare what the encoder was given with what the decoder produced. */
static void compare(const cwmp_msg_t *a, const cwmp_msg_t *b)
{
    assert_int_equal(a->type, b->type);
    assert_int_equal(a->ns, b->ns);
    assert_str(a->id, b->id);
    assert_int_equal(a->has_hold_requests, b->has_hold_requests);
    assert_int_equal(a->hold_requests, b->hold_requests);
    assert_int_equal(a->n_params, b->n_params);
    for (size_t i = 0; i < a->n_params; i++) {
        const cwmp_param_t *p = &a->params[i], *q = &b->params[i];
        assert_str(p->name, q->name);
        assert_str(p->value, q->value);
        if (a->type == CWMP_GET_PARAMETER_VALUES_RESPONSE || a->type == CWMP_INFORM ||
            a->type == CWMP_SET_PARAMETER_VALUES)
            assert_str(p->type ? p->type : "xsd:string", q->type);
        assert_int_equal(p->writable, q->writable);
        assert_int_equal(p->notification, q->notification);
        assert_int_equal(p->notification_change, q->notification_change);
        assert_int_equal(p->access_list_change, q->access_list_change);
        assert_str(p->access_list, q->access_list);
    }
    assert_int_equal(a->n_names, b->n_names);
    for (size_t i = 0; i < a->n_names; i++)
        assert_str(a->names[i], b->names[i]);
    assert_int_equal(a->n_events, b->n_events);
    for (size_t i = 0; i < a->n_events; i++) {
        assert_str(a->events[i].code, b->events[i].code);
        assert_str(a->events[i].command_key, b->events[i].command_key);
    }
    if (a->type == CWMP_INFORM) {
        assert_str(a->device.manufacturer, b->device.manufacturer);
        assert_str(a->device.oui, b->device.oui);
        assert_str(a->device.product_class, b->device.product_class);
        assert_str(a->device.serial_number, b->device.serial_number);
        assert_str(a->current_time, b->current_time);
    }
    assert_int_equal(a->max_envelopes, b->max_envelopes);
    assert_int_equal(a->retry_count, b->retry_count);
    assert_str(a->parameter_key, b->parameter_key);
    assert_str(a->parameter_path, b->parameter_path);
    assert_int_equal(a->next_level, b->next_level);
    assert_str(a->object_name, b->object_name);
    assert_int_equal(a->instance_number, b->instance_number);
    assert_int_equal(a->status, b->status);
    assert_str(a->command_key, b->command_key);
    assert_str(a->file_type, b->file_type);
    assert_str(a->url, b->url);
    assert_str(a->username, b->username);
    assert_str(a->password, b->password);
    assert_int_equal(a->file_size, b->file_size);
    assert_str(a->target_file_name, b->target_file_name);
    assert_int_equal(a->delay_seconds, b->delay_seconds);
    assert_str(a->success_url, b->success_url);
    assert_str(a->failure_url, b->failure_url);
    if (a->start_time)
        assert_str(a->start_time, b->start_time);
    assert_str(a->announce_url, b->announce_url);
    assert_str(a->transfer_url, b->transfer_url);
    assert_int_equal(a->is_download, b->is_download);
    assert_int_equal(a->fault_code, b->fault_code);
    assert_str(a->fault_string, b->fault_string);
    if (a->type == CWMP_FAULT) {
        assert_int_equal(a->fault.code, b->fault.code);
        assert_str(a->fault.string, b->fault.string);
        assert_str("Client", b->fault.soap_code);
        assert_int_equal(a->fault.n_spv, b->fault.n_spv);
        for (size_t i = 0; i < a->fault.n_spv; i++) {
            assert_str(a->fault.spv[i].name, b->fault.spv[i].name);
            assert_int_equal(a->fault.spv[i].code, b->fault.spv[i].code);
            assert_str(a->fault.spv[i].string ? a->fault.spv[i].string
                                              : cwmp_fault_text(a->fault.spv[i].code),
                       b->fault.spv[i].string);
        }
    }
}

static void test_roundtrip_every_message(void **state)
{
    cwmp_decoder_t *d = cwmp_decoder_new(NULL);
    buf_t out = BUF_INIT(1 << 20);
    int count = 0;
    for (int ns = CWMP_NS_1_0; ns <= CWMP_NS_1_2; ns++) {
        for (int t = CWMP_FAULT; t < CWMP_TYPE_COUNT; t++) {
            cwmp_msg_t m;
            cwmp_sample((cwmp_type_t)t, (cwmp_ns_t)ns, &m);
            buf_reset(&out);
            int rc = cwmp_encode(&out, &m);
            if (ns == CWMP_NS_1_0 && (t == CWMP_AUTONOMOUS_TRANSFER_COMPLETE ||
                                      t == CWMP_AUTONOMOUS_TRANSFER_COMPLETE_RESPONSE)) {
                assert_int_equal(rc, -ENOTSUP);
                continue;
            }
            if (rc != 0)
                fail_msg("encode %s ns=%d: %d", cwmp_type_name((cwmp_type_t)t), ns, rc);
            const cwmp_msg_t *got;
            rc = cwmp_decode(d, out.data, out.len, &got);
            if (rc != 0)
                fail_msg("decode %s: %s\n%s", cwmp_type_name((cwmp_type_t)t),
                         cwmp_decoder_reason(d), out.data);
            compare(&m, got);
            count++;
        }
    }
    assert_int_equal(count, 3 * (CWMP_TYPE_COUNT - CWMP_FAULT) - 2);
    buf_free(&out);
    cwmp_decoder_free(d);
}

static void test_response_types(void **state)
{
    assert_int_equal(cwmp_response_type(CWMP_INFORM), CWMP_INFORM_RESPONSE);
    assert_int_equal(cwmp_response_type(CWMP_GET_PARAMETER_VALUES),
                     CWMP_GET_PARAMETER_VALUES_RESPONSE);
    assert_int_equal(cwmp_response_type(CWMP_SCHEDULE_INFORM), CWMP_SCHEDULE_INFORM_RESPONSE);
    assert_int_equal(cwmp_response_type(CWMP_REBOOT_RESPONSE), CWMP_NONE);
    assert_int_equal(cwmp_response_type(CWMP_FAULT), CWMP_NONE);
    assert_int_equal(cwmp_type_from_name("GetRPCMethods"), CWMP_GET_RPC_METHODS);
    assert_int_equal(cwmp_type_from_name("Bogus"), CWMP_UNKNOWN);
    assert_string_equal(cwmp_ns_uri(CWMP_NS_1_3), "urn:dslforum-org:cwmp-1-2");
}

/* A vendor's Inform: other prefixes, qualified children, xs: types, blanks. */
static const char vendor_inform[] =
    "<?xml version='1.0' encoding='UTF-8'?>\r\n"
    "<SOAP-ENV:Envelope xmlns:SOAP-ENV=\"http://schemas.xmlsoap.org/soap/envelope/\" "
    "xmlns:SOAP-ENC=\"http://schemas.xmlsoap.org/soap/encoding/\" "
    "xmlns:xs=\"http://www.w3.org/2001/XMLSchema\" "
    "xmlns:i=\"http://www.w3.org/2001/XMLSchema-instance\" xmlns:cwmp=\"urn:dslforum-org:cwmp-1-1\">\n"
    " <SOAP-ENV:Header><cwmp:ID SOAP-ENV:mustUnderstand=\"1\">1234</cwmp:ID>"
    "<cwmp:NoMoreRequests>0</cwmp:NoMoreRequests></SOAP-ENV:Header>\n"
    " <SOAP-ENV:Body>\n  <cwmp:Inform>\n"
    "   <cwmp:DeviceId><Manufacturer>Huawei</Manufacturer><OUI>00E0FC</OUI>"
    "<ProductClass>EG8145V5</ProductClass><SerialNumber>48575443&#x41;BCD</SerialNumber></cwmp:DeviceId>\n"
    "   <Event SOAP-ENC:arrayType=\"cwmp:EventStruct[2]\">\n"
    "    <EventStruct><EventCode>2 PERIODIC</EventCode><CommandKey/></EventStruct>\n"
    "    <EventStruct><EventCode>4 VALUE CHANGE</EventCode><CommandKey></CommandKey></EventStruct>\n"
    "   </Event>\n   <MaxEnvelopes> 1 </MaxEnvelopes><CurrentTime>2026-01-01T00:00:00</CurrentTime>"
    "<RetryCount>0</RetryCount>\n"
    "   <ParameterList SOAP-ENC:arrayType=\"cwmp:ParameterValueStruct[2]\">\n"
    "    <ParameterValueStruct><Name>Device.DeviceInfo.HardwareVersion</Name>"
    "<Value i:type=\"xs:string\">HW &lt;1&gt;</Value></ParameterValueStruct>\n"
    "    <ParameterValueStruct><Name>Device.ManagementServer.ConnectionRequestURL</Name>"
    "<Value i:type=\"xs:string\"><![CDATA[http://10.0.0.1:7547/cr]]></Value></ParameterValueStruct>\n"
    "   </ParameterList>\n  </cwmp:Inform>\n </SOAP-ENV:Body>\n</SOAP-ENV:Envelope>\n";

static void test_vendor_inform(void **state)
{
    cwmp_decoder_t *d = cwmp_decoder_new(NULL);
    const cwmp_msg_t *m;
    assert_int_equal(cwmp_decode(d, vendor_inform, sizeof vendor_inform - 1, &m), 0);
    assert_int_equal(m->type, CWMP_INFORM);
    assert_int_equal(m->ns, CWMP_NS_1_1);
    assert_string_equal(m->id, "1234");
    assert_false(m->has_hold_requests);
    assert_string_equal(m->device.serial_number, "48575443ABCD");
    assert_string_equal(m->device.oui, "00E0FC");
    assert_int_equal(m->n_events, 2);
    assert_string_equal(m->events[1].code, "4 VALUE CHANGE");
    assert_string_equal(m->events[0].command_key, "");
    assert_int_equal(m->max_envelopes, 1);
    assert_int_equal(m->n_params, 2);
    assert_string_equal(m->params[0].value, "HW <1>");
    assert_string_equal(m->params[0].type, "xsd:string");
    assert_string_equal(m->params[1].value, "http://10.0.0.1:7547/cr");

    /* Fed one byte at a time: the same message. */
    cwmp_decoder_reset(d);
    for (size_t i = 0; i < sizeof vendor_inform - 1; i++)
        assert_int_equal(cwmp_decoder_feed(d, vendor_inform + i, 1, false), 0);
    assert_int_equal(cwmp_decoder_feed(d, "", 0, true), 0);
    m = cwmp_decoder_msg(d);
    assert_int_equal(m->n_params, 2);
    assert_string_equal(m->params[1].name, "Device.ManagementServer.ConnectionRequestURL");
    cwmp_decoder_free(d);
}

static const char cpe_fault[] =
    "<soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\" "
    "xmlns:cwmp=\"urn:dslforum-org:cwmp-1-0\"><soapenv:Header><cwmp:ID soapenv:mustUnderstand=\"1\">"
    "7</cwmp:ID></soapenv:Header><soapenv:Body><soapenv:Fault><faultcode>soapenv:Client</faultcode>"
    "<faultstring>CWMP fault</faultstring><detail><cwmp:Fault><FaultCode>9003</FaultCode>"
    "<FaultString>Invalid arguments</FaultString><SetParameterValuesFault>"
    "<ParameterName>A.B</ParameterName><FaultCode>9007</FaultCode><FaultString>bad</FaultString>"
    "</SetParameterValuesFault><SetParameterValuesFault><ParameterName>A.C</ParameterName>"
    "<FaultCode>9008</FaultCode></SetParameterValuesFault></cwmp:Fault></detail></soapenv:Fault>"
    "</soapenv:Body></soapenv:Envelope>";

static void test_cpe_fault(void **state)
{
    cwmp_decoder_t *d = cwmp_decoder_new(NULL);
    const cwmp_msg_t *m;
    assert_int_equal(cwmp_decode(d, cpe_fault, sizeof cpe_fault - 1, &m), 0);
    assert_int_equal(m->type, CWMP_FAULT);
    assert_int_equal(m->ns, CWMP_NS_1_0);
    assert_string_equal(m->id, "7");
    assert_int_equal(m->fault.code, 9003);
    assert_string_equal(m->fault.soap_code, "Client");
    assert_int_equal(m->fault.n_spv, 2);
    assert_string_equal(m->fault.spv[0].name, "A.B");
    assert_int_equal(m->fault.spv[0].code, 9007);
    assert_string_equal(m->fault.spv[0].string, "bad");
    assert_int_equal(m->fault.spv[1].code, 9008);
    assert_string_equal(m->fault.spv[1].string, "");
    cwmp_decoder_free(d);
}

static void test_acs_faults_encode(void **state)
{
    buf_t out = BUF_INIT(1 << 16);
    cwmp_decoder_t *d = cwmp_decoder_new(NULL);
    for (int code = 8000; code <= 8006; code++) {
        cwmp_msg_t m = { .type = CWMP_FAULT, .ns = CWMP_NS_1_2, .id = "x",
                         .fault = { .code = code } };
        buf_reset(&out);
        assert_int_equal(cwmp_encode(&out, &m), 0);
        const cwmp_msg_t *g;
        assert_int_equal(cwmp_decode(d, out.data, out.len, &g), 0);
        assert_int_equal(g->fault.code, code);
        assert_string_equal(g->fault.string, cwmp_fault_text(code));
        assert_string_equal(g->fault.soap_code,
                            code == 8002 || code == 8005 ? "Server" : "Client");
    }
    buf_free(&out);
    cwmp_decoder_free(d);
}

static int expect_decode_error(const char *xml, size_t len, const cwmp_decode_opts_t *o)
{
    cwmp_decoder_t *d = cwmp_decoder_new(o);
    int rc = cwmp_decode(d, xml, len, NULL);
    if (rc != 0)
        assert_true(cwmp_decoder_reason(d)[0] != '\0');
    cwmp_decoder_free(d);
    return rc;
}
#define DEC_ERR(xml) expect_decode_error((xml), strlen(xml), NULL)

#define ENV_OPEN                                                                       \
    "<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\" "              \
    "xmlns:cwmp=\"urn:dslforum-org:cwmp-1-0\"><s:Body>"
#define ENV_CLOSE "</s:Body></s:Envelope>"

static void test_hostile(void **state)
{
    /* DOCTYPE in any form, hence no entity can be declared or expanded. */
    assert_int_equal(DEC_ERR("<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\">"
                             "<!ENTITY lol2 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">]>"
                             "<lolz>&lol2;</lolz>"),
                     CWMP_DEC_DOCTYPE);
    assert_int_equal(DEC_ERR("<!DOCTYPE foo [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]>" ENV_OPEN
                             "<cwmp:Reboot><CommandKey>&xxe;</CommandKey></cwmp:Reboot>" ENV_CLOSE),
                     CWMP_DEC_DOCTYPE);
    assert_int_equal(DEC_ERR("<!DOCTYPE s:Envelope SYSTEM \"http://evil/x.dtd\">" ENV_OPEN ENV_CLOSE),
                     CWMP_DEC_DOCTYPE);
    /* An undeclared entity is just malformed. */
    assert_int_equal(DEC_ERR(ENV_OPEN "<cwmp:Reboot><CommandKey>&xxe;</CommandKey></cwmp:Reboot>"
                                      ENV_CLOSE),
                     CWMP_DEC_SYNTAX);
    /* Not well-formed, truncated, garbage, invalid UTF-8. */
    assert_int_equal(DEC_ERR(ENV_OPEN "<cwmp:Reboot>" ENV_CLOSE), CWMP_DEC_SYNTAX);
    assert_int_equal(DEC_ERR(ENV_OPEN "<cwmp:Reboot>"), CWMP_DEC_SYNTAX);
    assert_int_equal(DEC_ERR("HTTP/1.1 200 OK\r\n\r\n"), CWMP_DEC_SYNTAX);
    assert_int_equal(DEC_ERR(ENV_OPEN "<cwmp:Reboot><CommandKey>\xff\xfe</CommandKey></cwmp:Reboot>"
                                      ENV_CLOSE),
                     CWMP_DEC_SYNTAX);
    /* Not SOAP 1.1. */
    assert_int_equal(DEC_ERR("<Envelope><Body/></Envelope>"), CWMP_DEC_NOT_SOAP);
    assert_int_equal(DEC_ERR("<s:Envelope xmlns:s=\"http://www.w3.org/2003/05/soap-envelope\">"
                             "<s:Body/></s:Envelope>"),
                     CWMP_DEC_NOT_SOAP);
    assert_int_equal(DEC_ERR("<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\"/>"),
                     CWMP_DEC_NOT_SOAP);
    /* Unknown cwmp namespace; two messages in one body; bad numbers. */
    assert_int_equal(DEC_ERR("<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\" "
                             "xmlns:c=\"urn:dslforum-org:cwmp-2-0\"><s:Body><c:Reboot/></s:Body>"
                             "</s:Envelope>"),
                     CWMP_DEC_NAMESPACE);
    assert_int_equal(DEC_ERR(ENV_OPEN "<cwmp:Reboot/><cwmp:FactoryReset/>" ENV_CLOSE),
                     CWMP_DEC_INVALID);
    assert_int_equal(DEC_ERR(ENV_OPEN "<cwmp:InformResponse><MaxEnvelopes>-1</MaxEnvelopes>"
                                      "</cwmp:InformResponse>" ENV_CLOSE),
                     CWMP_DEC_INVALID);
    assert_int_equal(DEC_ERR(ENV_OPEN "<cwmp:InformResponse><MaxEnvelopes>99999999999</MaxEnvelopes>"
                                      "</cwmp:InformResponse>" ENV_CLOSE),
                     CWMP_DEC_INVALID);
    assert_int_equal(DEC_ERR(ENV_OPEN "<cwmp:GetParameterNames><NextLevel>maybe</NextLevel>"
                                      "</cwmp:GetParameterNames>" ENV_CLOSE),
                     CWMP_DEC_INVALID);
    assert_int_equal(cwmp_decode_fault_code(CWMP_DEC_SYNTAX, CWMP_NS_1_2), 8003);
    assert_int_equal(cwmp_decode_fault_code(CWMP_DEC_LIMIT, CWMP_NS_1_2), 8004);
}

static void test_limits(void **state)
{
    /* Depth. */
    char deep[4096] = ENV_OPEN;
    for (int i = 0; i < 60; i++)
        strcat(deep, "<a>");
    assert_int_equal(DEC_ERR(deep), CWMP_DEC_LIMIT);
    /* Element text. */
    cwmp_decode_opts_t o = { .max_text = 100 };
    char big[1024];
    snprintf(big, sizeof big, ENV_OPEN "<cwmp:Reboot><CommandKey>%0200d</CommandKey></cwmp:Reboot>"
                              ENV_CLOSE, 0);
    assert_int_equal(expect_decode_error(big, strlen(big), &o), CWMP_DEC_LIMIT);
    /* Body. */
    o = (cwmp_decode_opts_t){ .max_body = 64 };
    assert_int_equal(expect_decode_error(big, strlen(big), &o), CWMP_DEC_LIMIT);
    /* Items. */
    o = (cwmp_decode_opts_t){ .max_items = 3 };
    const char *gpv = ENV_OPEN "<cwmp:GetParameterValues><ParameterNames>"
                               "<string>a</string><string>b</string><string>c</string><string>d</string>"
                               "</ParameterNames></cwmp:GetParameterValues>" ENV_CLOSE;
    assert_int_equal(expect_decode_error(gpv, strlen(gpv), &o), CWMP_DEC_LIMIT);
    o.max_items = 4;
    assert_int_equal(expect_decode_error(gpv, strlen(gpv), &o), 0);
}

static void test_tolerated(void **state)
{
    cwmp_decoder_t *d = cwmp_decoder_new(NULL);
    const cwmp_msg_t *m;
    const char *x13 = "<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\">"
                      "<s:Body><Reboot xmlns=\"urn:dslforum-org:cwmp-1-3\"><CommandKey>k</CommandKey>"
                      "</Reboot></s:Body></s:Envelope>";
    assert_int_equal(cwmp_decode(d, x13, strlen(x13), &m), 0);
    assert_int_equal(m->type, CWMP_REBOOT);
    assert_int_equal(m->ns, CWMP_NS_1_3);
    assert_string_equal(m->command_key, "k");
    assert_null(m->id);
    /* Unknown method: reported by name for an 8000 fault. */
    const char *unk = ENV_OPEN "<cwmp:X_Vendor_Frobnicate><a>1</a></cwmp:X_Vendor_Frobnicate>" ENV_CLOSE;
    assert_int_equal(cwmp_decode(d, unk, strlen(unk), &m), 0);
    assert_int_equal(m->type, CWMP_UNKNOWN);
    assert_string_equal(m->method, "X_Vendor_Frobnicate");
    /* Empty Body, comments and PIs. */
    const char *empty = "<?xml version=\"1.0\"?><!-- hi --><?pi x?>" ENV_OPEN ENV_CLOSE;
    assert_int_equal(cwmp_decode(d, empty, strlen(empty), &m), 0);
    assert_int_equal(m->type, CWMP_NONE);
    /* HoldRequests header. */
    const char *hr = "<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\" "
                     "xmlns:cwmp=\"urn:dslforum-org:cwmp-1-2\"><s:Header><cwmp:HoldRequests "
                     "s:mustUnderstand=\"1\">true</cwmp:HoldRequests></s:Header><s:Body>"
                     "<cwmp:GetRPCMethods/></s:Body></s:Envelope>";
    assert_int_equal(cwmp_decode(d, hr, strlen(hr), &m), 0);
    assert_true(m->has_hold_requests);
    assert_true(m->hold_requests);
    assert_int_equal(m->type, CWMP_GET_RPC_METHODS);
    assert_int_equal(m->ns, CWMP_NS_1_2);
    cwmp_decoder_free(d);
}

typedef struct count {
    size_t n;
    char last[128];
} count_t;

static int on_param(const cwmp_msg_t *m, const cwmp_param_t *p, void *ud)
{
    count_t *c = ud;
    assert_int_equal(m->type, CWMP_GET_PARAMETER_VALUES_RESPONSE);
    c->n++;
    snprintf(c->last, sizeof c->last, "%s=%s", p->name, p->value);
    return 0;
}

/* 20,000 parameters streamed through the callback: the decoder's memory
 * stays far below the document's size, so nothing like a DOM is kept. */
static void test_streaming_20000(void **state)
{
    buf_t xml = BUF_INIT(16 << 20);
    assert_int_equal(buf_append_str(&xml, ENV_OPEN "<cwmp:GetParameterValuesResponse>"
                                                   "<ParameterList soap-enc:arrayType=\"x[20000]\" "
                                                   "xmlns:soap-enc=\"http://schemas.xmlsoap.org/soap/encoding/\">"),
                     0);
    for (int i = 0; i < 20000; i++)
        assert_int_equal(buf_printf(&xml, "<ParameterValueStruct><Name>Device.Hosts.Host.%d.HostName"
                                          "</Name><Value>host-%d.example.lan</Value>"
                                          "</ParameterValueStruct>",
                                    i + 1, i),
                         0);
    assert_int_equal(buf_append_str(&xml, "</ParameterList></cwmp:GetParameterValuesResponse>" ENV_CLOSE),
                     0);
    count_t c = { 0 };
    cwmp_decode_opts_t o = { .on_param = on_param, .ud = &c };
    cwmp_decoder_t *d = cwmp_decoder_new(&o);
    size_t peak = 0;
    for (size_t off = 0; off < xml.len; off += 4096) {
        size_t n = xml.len - off < 4096 ? xml.len - off : 4096;
        assert_int_equal(cwmp_decoder_feed(d, xml.data + off, n, false), 0);
        size_t mem = cwmp_decoder_memory(d);
        peak = mem > peak ? mem : peak;
    }
    assert_int_equal(cwmp_decoder_feed(d, "", 0, true), 0);
    assert_int_equal(c.n, 20000);
    assert_string_equal(c.last, "Device.Hosts.Host.20000.HostName=host-19999.example.lan");
    assert_int_equal(cwmp_decoder_msg(d)->n_params, 20000);
    assert_null(cwmp_decoder_msg(d)->params);
    assert_true(peak < 256 * 1024);
    assert_true(xml.len > 1500000);
    cwmp_decoder_free(d);

    /* Arena mode keeps them all: strings packed in 64 KiB blocks plus one
     * 48-byte item each, about twice the XML (a DOM takes several times more). */
    d = cwmp_decoder_new(NULL);
    const cwmp_msg_t *m;
    assert_int_equal(cwmp_decode(d, xml.data, xml.len, &m), 0);
    assert_int_equal(m->n_params, 20000);
    assert_string_equal(m->params[123].value, "host-123.example.lan");
    printf("xml %zu bytes, streaming peak %zu, arena %zu\n", xml.len, peak,
           cwmp_decoder_memory(d));
    assert_true(cwmp_decoder_memory(d) < 2 * xml.len);
    cwmp_decoder_free(d);
    buf_free(&xml);
}

static void test_encoder_refuses(void **state)
{
    buf_t out = BUF_INIT(1 << 16);
    cwmp_msg_t m;
    assert_int_equal(buf_append_str(&out, "keep"), 0);

    cwmp_sample(CWMP_ADD_OBJECT, CWMP_NS_1_2, &m);
    m.object_name = "Device.IP.Interface"; /* no trailing dot */
    assert_int_equal(cwmp_encode(&out, &m), -EINVAL);
    assert_int_equal(out.len, 4);
    assert_string_equal(out.data, "keep");

    cwmp_sample(CWMP_GET_PARAMETER_VALUES, CWMP_NS_1_2, &m);
    m.n_names = 0;
    assert_int_equal(cwmp_encode(&out, &m), -EINVAL);

    cwmp_sample(CWMP_FAULT, CWMP_NS_1_2, &m);
    m.fault.code = 7000;
    assert_int_equal(cwmp_encode(&out, &m), -EINVAL);

    cwmp_param_t bad = { .name = "A.B", .value = "x\x01y" };
    cwmp_sample(CWMP_SET_PARAMETER_VALUES, CWMP_NS_1_2, &m);
    m.params = &bad;
    m.n_params = 1;
    assert_int_equal(cwmp_encode(&out, &m), -EINVAL);
    bad = (cwmp_param_t){ .name = "A.B", .value = "12x", .type = "xsd:unsignedInt" };
    assert_int_equal(cwmp_encode(&out, &m), -EINVAL);
    bad = (cwmp_param_t){ .name = "A.B", .value = "-1", .type = "xsd:unsignedInt" };
    assert_int_equal(cwmp_encode(&out, &m), -EINVAL);
    bad = (cwmp_param_t){ .name = "A.B", .value = "yes", .type = "xsd:boolean" };
    assert_int_equal(cwmp_encode(&out, &m), -EINVAL);

    cwmp_sample(CWMP_REBOOT, CWMP_NS_1_2, &m);
    m.command_key = "0123456789012345678901234567890123456789"; /* > 32 */
    assert_int_equal(cwmp_encode(&out, &m), -EINVAL);

    cwmp_sample(CWMP_DOWNLOAD, CWMP_NS_1_2, &m);
    m.file_type = "Firmware";
    assert_int_equal(cwmp_encode(&out, &m), -EINVAL);

    cwmp_sample(CWMP_SCHEDULE_INFORM, CWMP_NS_1_2, &m);
    m.delay_seconds = 0;
    assert_int_equal(cwmp_encode(&out, &m), -EINVAL);

    cwmp_sample(CWMP_INFORM, CWMP_NS_1_2, &m);
    m.device.oui = "00d09e";
    assert_int_equal(cwmp_encode(&out, &m), -EINVAL);

    /* Over the buffer's cap. */
    buf_t small = BUF_INIT(100);
    cwmp_sample(CWMP_INFORM, CWMP_NS_1_2, &m);
    assert_int_equal(cwmp_encode(&small, &m), -ENOBUFS);
    assert_int_equal(small.len, 0);
    buf_free(&small);
    assert_string_equal(out.data, "keep");
    buf_free(&out);
}

static void test_escape(void **state)
{
    buf_t out = BUF_INIT(256);
    const char in[] = "a&b<c>d\"e'f\rg\th\n\xc3\xa9";
    assert_int_equal(cwmp_xml_escape(&out, in, sizeof in - 1), 0);
    assert_string_equal(out.data, "a&amp;b&lt;c&gt;d&quot;e&apos;f&#13;g\th\n\xc3\xa9");
    buf_reset(&out);
    assert_int_equal(cwmp_xml_escape(&out, "\xc3", 1), -EINVAL);           /* cut sequence */
    assert_int_equal(cwmp_xml_escape(&out, "\xc0\xaf", 2), -EINVAL);       /* overlong */
    assert_int_equal(cwmp_xml_escape(&out, "\xed\xa0\x80", 3), -EINVAL);   /* surrogate */
    assert_int_equal(cwmp_xml_escape(&out, "\x1b[31m", 5), -EINVAL);
    buf_free(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_every_message),
        cmocka_unit_test(test_response_types),
        cmocka_unit_test(test_vendor_inform),
        cmocka_unit_test(test_cpe_fault),
        cmocka_unit_test(test_acs_faults_encode),
        cmocka_unit_test(test_hostile),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_tolerated),
        cmocka_unit_test(test_streaming_20000),
        cmocka_unit_test(test_encoder_refuses),
        cmocka_unit_test(test_escape),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
