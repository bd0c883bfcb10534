/* Unit tests: codec/crurl, the ConnectionRequestURL rewriter. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "codec/crurl.h"

#define PUB "http://proxy.example.net:7548"

#define INFORM_HEAD                                                                              \
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"                                               \
    "<soap-env:Envelope xmlns:soap-env=\"http://schemas.xmlsoap.org/soap/envelope/\" "           \
    "xmlns:soap-enc=\"http://schemas.xmlsoap.org/soap/encoding/\" "                              \
    "xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\" "                                            \
    "xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xmlns:cwmp=\"urn:dslforum-org:cwmp-1-0\">\n" \
    "<soap-env:Header><cwmp:ID soap-env:mustUnderstand=\"1\">42</cwmp:ID></soap-env:Header>\n"  \
    "<soap-env:Body><cwmp:Inform>\n"                                                             \
    "<DeviceId><Manufacturer>Huawei</Manufacturer><OUI>00259E</OUI>"                             \
    "<ProductClass>EG8145V5</ProductClass><SerialNumber>48575443A1B2C3D4</SerialNumber></DeviceId>\n" \
    "<Event soap-enc:arrayType=\"cwmp:EventStruct[1]\"><EventStruct><EventCode>2 PERIODIC</EventCode>" \
    "<CommandKey></CommandKey></EventStruct></Event>\n"                                         \
    "<MaxEnvelopes>1</MaxEnvelopes><CurrentTime>2026-11-21T10:00:00Z</CurrentTime><RetryCount>0</RetryCount>\n"

#define INFORM_TAIL "</cwmp:Inform></soap-env:Body></soap-env:Envelope>\n"

#define XSI "xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\""

#define PVS(name, value)                                                                    \
    "<ParameterValueStruct><Name>" name "</Name><Value xsi:type=\"xsd:string\">" value         \
    "</Value></ParameterValueStruct>\n"

typedef struct seen {
    int n;
    char origins[8][512];
} seen_t;

static void on_origin(void *ud, const char *origin, size_t len)
{
    seen_t *s = ud;
    assert_int_equal(strlen(origin), len);
    if (s->n < 8)
        snprintf(s->origins[s->n], sizeof s->origins[0], "%s", origin);
    s->n++;
}

/* Rewrite `in` in one go; returns the output (caller frees). */
static char *rewrite(const char *in, size_t len, seen_t *seen, crurl_info_t *info, const char **err)
{
    crurl_opts_t o = { .public_url = PUB, .on_origin = on_origin, .ud = seen };
    crurl_t *rw = crurl_new(&o);
    assert_non_null(rw);
    buf_t out = BUF_INIT(1 << 24);
    assert_int_equal(crurl_feed(rw, in, len, true, &out), 0);
    if (info)
        *info = *crurl_info(rw);
    if (err)
        *err = crurl_error(rw) ? strdup(crurl_error(rw)) : NULL;
    crurl_free(rw);
    size_t n;
    char *s = buf_steal(&out, &n);
    return s ? s : strdup("");
}

/* The expected output: `in` with every `from` replaced by `to`. */
static char *replace_all(const char *in, const char *from, const char *to)
{
    buf_t b = BUF_INIT(1 << 24);
    const char *p = in, *q;
    while ((q = strstr(p, from))) {
        buf_append(&b, p, (size_t)(q - p));
        buf_append_str(&b, to);
        p = q + strlen(from);
    }
    buf_append_str(&b, p);
    size_t n;
    return buf_steal(&b, &n);
}

static void check_rewrite(const char *in, const char *from, const char *to, int expect_n)
{
    seen_t seen = { 0 };
    crurl_info_t info;
    const char *err;
    char *out = rewrite(in, strlen(in), &seen, &info, &err);
    char *want = replace_all(in, from, to);
    assert_null(err);
    assert_string_equal(out, want);
    assert_int_equal(info.rewritten, expect_n);
    assert_int_equal(seen.n, expect_n);
    free(out);
    free(want);
}

static void test_tr181_inform(void **state)
{
    const char *in = INFORM_HEAD
        "<ParameterList soap-enc:arrayType=\"cwmp:ParameterValueStruct[3]\">\n"
        PVS("Device.DeviceInfo.SoftwareVersion", "V5R019C10S125")
        PVS("Device.ManagementServer.ConnectionRequestURL", "http://192.168.100.50:7547/")
        PVS("Device.ManagementServer.ConnectionRequestUsername", "http://192.168.100.50:7547/")
        "</ParameterList>\n" INFORM_TAIL;
    seen_t seen = { 0 };
    crurl_info_t info;
    char *out = rewrite(in, strlen(in), &seen, &info, NULL);
    const char *want_val = PUB "/client?origin=http%3A%2F%2F192.168.100.50%3A7547%2F";
    /* Exactly one occurrence changed; the Username lookalike kept. */
    char *want = replace_all(in,
        "ConnectionRequestURL</Name><Value xsi:type=\"xsd:string\">http://192.168.100.50:7547/<",
        "ConnectionRequestURL</Name><Value xsi:type=\"xsd:string\">" PUB
        "/client?origin=http%3A%2F%2F192.168.100.50%3A7547%2F<");
    assert_string_equal(out, want);
    assert_non_null(strstr(out, want_val));
    assert_int_equal(info.rpc, CRURL_RPC_INFORM);
    assert_int_equal(info.rewritten, 1);
    assert_string_equal(seen.origins[0], "http://192.168.100.50:7547/");
    assert_string_equal(info.oui, "00259E");
    assert_string_equal(info.product_class, "EG8145V5");
    assert_string_equal(info.serial, "48575443A1B2C3D4");
    assert_string_equal(info.manufacturer, "Huawei");
    char id[128];
    assert_int_equal(crurl_device_id(&info, id, sizeof id), 0);
    assert_string_equal(id, "00259E-EG8145V5-48575443A1B2C3D4");
    free(out);
    free(want);
}

static void test_tr098_inform(void **state)
{
    const char *in = INFORM_HEAD "<ParameterList>"
        PVS("InternetGatewayDevice.ManagementServer.ConnectionRequestURL", "http://10.1.2.3:30005/cr")
        "</ParameterList>" INFORM_TAIL;
    check_rewrite(in, ">http://10.1.2.3:30005/cr<", ">" PUB "/client?origin=http%3A%2F%2F10.1.2.3%3A30005%2Fcr<", 1);
}

static void test_gpv_response_all_occurrences(void **state)
{
    const char *in =
        "<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\" " XSI " xmlns:c=\"urn:dslforum-org:cwmp-1-2\">"
        "<s:Body><c:GetParameterValuesResponse><ParameterList>"
        PVS("Device.ManagementServer.ConnectionRequestURL", "http://a:1/")
        PVS("Device.ManagementServer.URL", "http://acs:7547/")
        PVS("InternetGatewayDevice.ManagementServer.ConnectionRequestURL", "http://b:2/")
        PVS("Device.ManagementServer.ConnectionRequestURL", "http://a:1/")
        "</ParameterList></c:GetParameterValuesResponse></s:Body></s:Envelope>";
    seen_t seen = { 0 };
    crurl_info_t info;
    char *out = rewrite(in, strlen(in), &seen, &info, NULL);
    char *w1 = replace_all(in, ">http://a:1/<", ">" PUB "/client?origin=http%3A%2F%2Fa%3A1%2F<");
    char *w2 = replace_all(w1, ">http://b:2/<", ">" PUB "/client?origin=http%3A%2F%2Fb%3A2%2F<");
    assert_string_equal(out, w2);
    assert_int_equal(info.rpc, CRURL_RPC_GPV_RESPONSE);
    assert_int_equal(info.rewritten, 3);
    assert_int_equal(seen.n, 3);
    assert_string_equal(seen.origins[1], "http://b:2/");
    assert_int_equal(crurl_device_id(&info, (char[8]){ 0 }, 8), -ENOENT);
    free(out);
    free(w1);
    free(w2);
}

static void test_prefixes_and_default_namespace(void **state)
{
    /* Qualified inner elements, a default namespace, odd prefixes. */
    const char *in =
        "<Envelope xmlns=\"http://schemas.xmlsoap.org/soap/envelope/\"><Body>"
        "<x:Inform xmlns:x=\"urn:dslforum-org:cwmp-1-1\"><x:ParameterList>"
        "<x:ParameterValueStruct><x:Name>Device.ManagementServer.ConnectionRequestURL</x:Name>"
        "<x:Value>http://h:7547/</x:Value></x:ParameterValueStruct>"
        "</x:ParameterList></x:Inform></Body></Envelope>";
    check_rewrite(in, ">http://h:7547/<", ">" PUB "/client?origin=http%3A%2F%2Fh%3A7547%2F<", 1);
}

static void test_entities_whitespace_cdata(void **state)
{
    const char *in = INFORM_HEAD "<ParameterList>"
        "<ParameterValueStruct>\n  <Name>\n   Device.ManagementServer.Connection&#82;equest&#x55;RL </Name>\n"
        "  <Value xsi:type=\"xsd:string\">\n   http://10.0.0.1:7547/cr?a=1&amp;b=&lt;2&gt;  \n  </Value>\n"
        "</ParameterValueStruct>"
        "<ParameterValueStruct><Name><![CDATA[Device.ManagementServer.ConnectionRequestURL]]></Name>"
        "<Value><![CDATA[http://10.0.0.2:7547/]]></Value></ParameterValueStruct>"
        "<ParameterValueStruct><Name>Device.Management<!-- split -->Server.ConnectionRequestURL</Name>"
        "<Value>http://10.0.0.3<?pi x?>:7547/</Value></ParameterValueStruct>"
        "</ParameterList>" INFORM_TAIL;
    seen_t seen = { 0 };
    crurl_info_t info;
    char *out = rewrite(in, strlen(in), &seen, &info, NULL);
    assert_int_equal(info.rewritten, 3);
    assert_string_equal(seen.origins[0], "http://10.0.0.1:7547/cr?a=1&b=<2>");
    assert_string_equal(seen.origins[1], "http://10.0.0.2:7547/");
    assert_string_equal(seen.origins[2], "http://10.0.0.3:7547/");
    /* The whole content (whitespace, CDATA, PI) is replaced; the tags stay. */
    assert_non_null(strstr(out, "<Value xsi:type=\"xsd:string\">" PUB
        "/client?origin=http%3A%2F%2F10.0.0.1%3A7547%2Fcr%3Fa%3D1%26b%3D%3C2%3E</Value>\n</ParameterValueStruct>"));
    assert_non_null(strstr(out, "<Value>" PUB "/client?origin=http%3A%2F%2F10.0.0.2%3A7547%2F</Value>"));
    assert_non_null(strstr(out, "<Value>" PUB "/client?origin=http%3A%2F%2F10.0.0.3%3A7547%2F</Value>"));
    assert_non_null(strstr(out, "<Name>\n   Device.ManagementServer.Connection&#82;equest&#x55;RL </Name>"));
    free(out);
}

static void test_value_before_name(void **state)
{
    const char *in = INFORM_HEAD "<ParameterList>"
        "<ParameterValueStruct><Value>http://v:1/</Value><Name>Device.ManagementServer.ConnectionRequestURL</Name>"
        "</ParameterValueStruct>"
        "<ParameterValueStruct><Value>http://w:1/</Value><Name>Device.Other</Name></ParameterValueStruct>"
        "</ParameterList>" INFORM_TAIL;
    check_rewrite(in, ">http://v:1/<", ">" PUB "/client?origin=http%3A%2F%2Fv%3A1%2F<", 1);
}

static void test_untouched(void **state)
{
    const char *cases[] = {
        /* lookalike names */
        INFORM_HEAD "<ParameterList>" PVS("Device.ManagementServer.ConnectionRequestURLx", "http://a/")
        PVS("X.Device.ManagementServer.ConnectionRequestURL", "http://a/")
        PVS("device.managementserver.connectionrequesturl", "http://a/") "</ParameterList>" INFORM_TAIL,
        /* the right name in an RPC that is not rewritten */
        "<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\" " XSI "><s:Body><c:SetParameterValues "
        "xmlns:c=\"urn:dslforum-org:cwmp-1-0\"><ParameterList>"
        PVS("Device.ManagementServer.ConnectionRequestURL", "http://a/")
        "</ParameterList></c:SetParameterValues></s:Body></s:Envelope>",
        /* outside a SOAP Body */
        "<Inform " XSI "><ParameterList>" PVS("Device.ManagementServer.ConnectionRequestURL", "http://a/")
        "</ParameterList></Inform>",
        /* empty values */
        INFORM_HEAD "<ParameterList>" PVS("Device.ManagementServer.ConnectionRequestURL", "")
        PVS("Device.ManagementServer.ConnectionRequestURL", "  \n ")
        "<ParameterValueStruct><Name>Device.ManagementServer.ConnectionRequestURL</Name><Value/></ParameterValueStruct>"
        "</ParameterList>" INFORM_TAIL,
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        seen_t seen = { 0 };
        crurl_info_t info;
        const char *err;
        char *out = rewrite(cases[i], strlen(cases[i]), &seen, &info, &err);
        assert_null(err);
        assert_string_equal(out, cases[i]);
        assert_int_equal(info.rewritten, 0);
        assert_int_equal(info.skipped, 0);
        free(out);
    }
}

static void test_skips(void **state)
{
    char longurl[3000];
    memset(longurl, 'a', sizeof longurl);
    memcpy(longurl, "http://", 7);
    longurl[sizeof longurl - 1] = '\0';
    char *in_long = replace_all(INFORM_HEAD "<ParameterList>"
        PVS("Device.ManagementServer.ConnectionRequestURL", "LONG") "</ParameterList>" INFORM_TAIL,
        "LONG", longurl);
    const char *cases[] = {
        INFORM_HEAD "<ParameterList>"
        PVS("Device.ManagementServer.ConnectionRequestURL", PUB "/client?origin=http%3A%2F%2Fa")
        "</ParameterList>" INFORM_TAIL,
        INFORM_HEAD "<ParameterList>"
        PVS("Device.ManagementServer.ConnectionRequestURL", "http://a/<b>x</b>")
        "</ParameterList>" INFORM_TAIL,
        in_long,
    };
    const char *reasons[] = { "already rewritten", "value too long or not plain text",
                              "value too long or not plain text" };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        seen_t seen = { 0 };
        crurl_info_t info;
        char *out = rewrite(cases[i], strlen(cases[i]), &seen, &info, NULL);
        assert_string_equal(out, cases[i]);
        assert_int_equal(info.rewritten, 0);
        assert_int_equal(info.skipped, 1);
        assert_string_equal(info.skip_reason, reasons[i]);
        free(out);
    }
    free(in_long);
}

static void test_malformed_passes_through(void **state)
{
    const char *cases[] = {
        INFORM_HEAD "<ParameterList></Foo>" PVS("Device.ManagementServer.ConnectionRequestURL", "http://a/")
        "</ParameterList>" INFORM_TAIL,
        "<!DOCTYPE x [<!ENTITY e \"Device.ManagementServer.ConnectionRequestURL\">]><x>&e;</x>",
        "not xml at all",
        INFORM_HEAD "<ParameterList>" "<ParameterValueStruct><Name>Device.ManagementServer.ConnectionRequestURL</Name>"
        "<Value>http://a/",
        "<a:b>unbound prefix</a:b>",
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        seen_t seen = { 0 };
        const char *err;
        char *out = rewrite(cases[i], strlen(cases[i]), &seen, NULL, &err);
        assert_string_equal(out, cases[i]);
        assert_non_null(err);
        free((void *)err);
        free(out);
    }
    /* A bad tail after a good rewrite keeps the rewrite. */
    const char *in = INFORM_HEAD "<ParameterList>" PVS("Device.ManagementServer.ConnectionRequestURL", "http://a/")
        "</ParameterList><</cwmp:Inform>";
    seen_t seen = { 0 };
    const char *err;
    char *out = rewrite(in, strlen(in), &seen, NULL, &err);
    char *want = replace_all(in, ">http://a/<", ">" PUB "/client?origin=http%3A%2F%2Fa%2F<");
    assert_string_equal(out, want);
    assert_non_null(err);
    free((void *)err);
    free(out);
    free(want);
}

static void test_doctype_reason(void **state)
{
    const char *in = "<!DOCTYPE x><x/>";
    const char *err;
    char *out = rewrite(in, strlen(in), &(seen_t){ 0 }, NULL, &err);
    assert_string_equal(err, "DOCTYPE not allowed");
    free((void *)err);
    free(out);
}

static void test_empty_body(void **state)
{
    crurl_info_t info;
    const char *err;
    char *out = rewrite("", 0, &(seen_t){ 0 }, &info, &err);
    assert_string_equal(out, "");
    assert_null(err);
    assert_int_equal(info.rpc, CRURL_RPC_NONE);
    free(out);
}

static const char *big_doc(void)
{
    return INFORM_HEAD "<ParameterList>\n"
        PVS("Device.DeviceInfo.UpTime", "1234")
        PVS("Device.ManagementServer.ConnectionRequestURL", "http://[fe80::1]:7547/a b&amp;c")
        "<ParameterValueStruct><Value>http://q/</Value>\n<Name>InternetGatewayDevice.ManagementServer.ConnectionRequestURL</Name></ParameterValueStruct>\n"
        PVS("Device.ManagementServer.ConnectionRequestURL", "<![CDATA[http://x:9/]]>")
        "</ParameterList>" INFORM_TAIL;
}

/* Every way of cutting the input into two, three or one-byte pieces gives
 * the same output as one feed. */
static void test_split_invariance(void **state)
{
    const char *in = big_doc();
    size_t n = strlen(in);
    char *whole = rewrite(in, n, &(seen_t){ 0 }, NULL, NULL);
    assert_non_null(strstr(whole, "origin=http%3A%2F%2F%5Bfe80%3A%3A1%5D%3A7547%2Fa%20b%26c<"));
    assert_non_null(strstr(whole, "origin=http%3A%2F%2Fq%2F<"));
    assert_non_null(strstr(whole, "origin=http%3A%2F%2Fx%3A9%2F<"));
    crurl_opts_t o = { .public_url = PUB };
    crurl_t *rw = crurl_new(&o);
    for (size_t cut = 0; cut <= n; cut++) {
        for (size_t cut2 = cut; cut2 <= n; cut2 += (cut2 - cut) + 37) {
            buf_t out = BUF_INIT(1 << 20);
            crurl_reset(rw);
            assert_int_equal(crurl_feed(rw, in, cut, false, &out), 0);
            assert_int_equal(crurl_feed(rw, in + cut, cut2 - cut, false, &out), 0);
            assert_int_equal(crurl_feed(rw, in + cut2, n - cut2, true, &out), 0);
            assert_null(crurl_error(rw));
            assert_int_equal(out.len, strlen(whole));
            assert_memory_equal(out.data, whole, out.len);
            assert_int_equal(crurl_info(rw)->rewritten, 3);
            buf_free(&out);
        }
    }
    buf_t out = BUF_INIT(1 << 20);
    crurl_reset(rw);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(crurl_feed(rw, in + i, 1, false, &out), 0);
    assert_int_equal(crurl_feed(rw, NULL, 0, true, &out), 0);
    assert_string_equal(out.data, whole);
    buf_free(&out);
    crurl_free(rw);
    free(whole);
}

/* Output flows while input arrives: only the struct being decided is held. */
static void test_streams(void **state)
{
    crurl_opts_t o = { .public_url = PUB };
    crurl_t *rw = crurl_new(&o);
    buf_t out = BUF_INIT(1 << 24);
    const char *head = INFORM_HEAD "<ParameterList>\n";
    assert_int_equal(crurl_feed(rw, head, strlen(head), false, &out), 0);
    assert_int_equal(out.len, strlen(head));
    /* A big non-matching struct: streamed once its Name is known. */
    const char *s1 = "<ParameterValueStruct><Name>Device.X</Name><Value>";
    assert_int_equal(crurl_feed(rw, s1, strlen(s1), false, &out), 0);
    assert_int_equal(out.len, strlen(head) + strlen(s1));
    char chunk[4096];
    memset(chunk, 'z', sizeof chunk);
    for (int i = 0; i < 256; i++) /* 1 MiB */
        assert_int_equal(crurl_feed(rw, chunk, sizeof chunk, false, &out), 0);
    assert_int_equal(out.len, strlen(head) + strlen(s1) + 256 * sizeof chunk);
    const char *s2 = "</Value></ParameterValueStruct><ParameterValueStruct><Name>Device.Manage";
    size_t before = out.len;
    assert_int_equal(crurl_feed(rw, s2, strlen(s2), false, &out), 0);
    /* the struct whose name is still open is held back */
    assert_int_equal(out.len, before + strlen("</Value></ParameterValueStruct>"));
    const char *s3 = "mentServer.ConnectionRequestURL</Name><Value>http://held/</Value></ParameterValueStruct>"
                     "</ParameterList>" INFORM_TAIL;
    assert_int_equal(crurl_feed(rw, s3, strlen(s3), true, &out), 0);
    assert_non_null(strstr(out.data, "<Value>" PUB "/client?origin=http%3A%2F%2Fheld%2F</Value>"));
    assert_null(crurl_error(rw));
    buf_free(&out);
    crurl_free(rw);
}

static void test_hold_cap(void **state)
{
    /* A Value larger than max_hold before its Name: let go, counted. */
    crurl_opts_t o = { .public_url = PUB, .max_hold = 1024 };
    crurl_t *rw = crurl_new(&o);
    buf_t out = BUF_INIT(1 << 20);
    const char *a = INFORM_HEAD "<ParameterList><ParameterValueStruct><Value>http://";
    assert_int_equal(crurl_feed(rw, a, strlen(a), false, &out), 0);
    char chunk[2048];
    memset(chunk, 'y', sizeof chunk);
    assert_int_equal(crurl_feed(rw, chunk, sizeof chunk, false, &out), 0);
    assert_true(out.len > strlen(a)); /* not held any more */
    const char *b = "</Value><Name>Device.ManagementServer.ConnectionRequestURL</Name></ParameterValueStruct>"
                    "</ParameterList>" INFORM_TAIL;
    assert_int_equal(crurl_feed(rw, b, strlen(b), true, &out), 0);
    assert_int_equal(crurl_info(rw)->rewritten, 0);
    assert_true(crurl_info(rw)->skipped >= 1);
    assert_int_equal(out.len, strlen(a) + sizeof chunk + strlen(b));
    buf_free(&out);
    crurl_free(rw);
}

static void test_out_cap(void **state)
{
    const char *in = big_doc();
    crurl_opts_t o = { .public_url = PUB };
    crurl_t *rw = crurl_new(&o);
    buf_t out = BUF_INIT(strlen(in)); /* the rewrite makes it longer */
    assert_int_equal(crurl_feed(rw, in, strlen(in), true, &out), -ENOBUFS);
    buf_free(&out);
    crurl_free(rw);
}

/* Little-endian UTF-16 of an ASCII string (with a BOM). */
static char *utf16le(const char *s, size_t *len)
{
    size_t n = strlen(s);
    char *w = malloc(2 * n + 2);
    w[0] = (char)0xFF;
    w[1] = (char)0xFE;
    for (size_t i = 0; i < n; i++) {
        w[2 + 2 * i] = s[i];
        w[3 + 2 * i] = 0;
    }
    *len = 2 * n + 2;
    return w;
}

static void test_utf16(void **state)
{
    const char *doc =
        "<?xml version=\"1.0\" encoding=\"UTF-16\"?><s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\" " XSI ">"
        "<s:Body><Inform><ParameterList>" PVS("Device.ManagementServer.ConnectionRequestURL", "http://u:1/")
        "</ParameterList></Inform></s:Body></s:Envelope>";
    size_t inlen, wantlen;
    char *in = utf16le(doc, &inlen);
    char *exp = replace_all(doc, ">http://u:1/<", ">" PUB "/client?origin=http%3A%2F%2Fu%3A1%2F<");
    char *want = utf16le(exp, &wantlen);
    seen_t seen = { 0 };
    crurl_info_t info;
    crurl_opts_t o = { .public_url = PUB, .on_origin = on_origin, .ud = &seen };
    crurl_t *rw = crurl_new(&o);
    buf_t out = BUF_INIT(1 << 20);
    assert_int_equal(crurl_feed(rw, in, inlen, true, &out), 0);
    info = *crurl_info(rw);
    if (crurl_error(rw))
        fail_msg("%s", crurl_error(rw));
    assert_int_equal(info.rewritten, 1);
    assert_int_equal(out.len, wantlen);
    assert_memory_equal(out.data, want, wantlen);
    assert_string_equal(seen.origins[0], "http://u:1/");
    assert_true(crurl_may_rewrite(in, inlen));
    buf_free(&out);
    crurl_free(rw);
    free(in);
    free(exp);
    free(want);
}

static void test_latin1_bytes_kept(void **state)
{
    const char *in = "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>"
        "<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\" " XSI "><s:Body><Inform><ParameterList>"
        PVS("Device.DeviceInfo.Description", "Box \xE9t\xE9")
        PVS("Device.ManagementServer.ConnectionRequestURL", "http://l:1/")
        "</ParameterList></Inform></s:Body></s:Envelope>";
    check_rewrite(in, ">http://l:1/<", ">" PUB "/client?origin=http%3A%2F%2Fl%3A1%2F<", 1);
}

static void test_may_rewrite(void **state)
{
    const char *no[] = {
        "",
        "<?xml version=\"1.0\"?><s:Envelope><s:Body><cwmp:TransferComplete/></s:Body></s:Envelope>",
        "<s:Envelope><s:Body><cwmp:GetParameterValuesResponse><ParameterList>"
        PVS("Device.X", "a&amp;b") "</ParameterList></cwmp:GetParameterValuesResponse></s:Body></s:Envelope>",
    };
    const char *yes[] = {
        big_doc(),
        "<x>Device.ManagementServer.ConnectionRequestURL</x>",
        "<x>Connection&#82;equestURL</x>",
        "<x>Connection<![CDATA[RequestURL]]></x>",
        "<x>Connection<!-- -->RequestURL</x>",
        "<x>Connection<?p?>RequestURL</x>",
        "<?xml version=\"1.0\"?><x>Connection<?p?>RequestURL</x>",
        "\xEF\xBB\xBF<x/>",
        "<cwmp:Inform/>",
    };
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++)
        assert_false(crurl_may_rewrite(no[i], strlen(no[i])));
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++)
        assert_true(crurl_may_rewrite(yes[i], strlen(yes[i])));
}

static void test_device_id(void **state)
{
    crurl_info_t info = { .devid_ok = true };
    strcpy(info.oui, "00259E");
    strcpy(info.serial, "SN-1 2/x");
    char id[64];
    assert_int_equal(crurl_device_id(&info, id, sizeof id), 0);
    assert_string_equal(id, "00259E-SN%2D1%202%2Fx");
    strcpy(info.product_class, "Home_GW");
    assert_int_equal(crurl_device_id(&info, id, sizeof id), 0);
    assert_string_equal(id, "00259E-Home_GW-SN%2D1%202%2Fx");
    assert_int_equal(crurl_device_id(&info, id, 10), -ENAMETOOLONG);
    info.devid_ok = false;
    assert_int_equal(crurl_device_id(&info, id, sizeof id), -ENOENT);

    /* Over-long DeviceId fields make the device unknown, not truncated. */
    char serial[100];
    memset(serial, 'S', 99);
    serial[99] = '\0';
    char *in = replace_all(INFORM_HEAD "<ParameterList/>" INFORM_TAIL, "48575443A1B2C3D4", serial);
    crurl_info_t got;
    char *out = rewrite(in, strlen(in), &(seen_t){ 0 }, &got, NULL);
    assert_false(got.devid_ok);
    assert_int_equal(crurl_device_id(&got, id, sizeof id), -ENOENT);
    free(in);
    free(out);
}

static void test_param_names(void **state)
{
    assert_true(crurl_is_param_name("Device.ManagementServer.ConnectionRequestURL", 44));
    assert_true(crurl_is_param_name(" InternetGatewayDevice.ManagementServer.ConnectionRequestURL\n", 61));
    assert_false(crurl_is_param_name("Device.ManagementServer.ConnectionRequestURL", 43));
    assert_false(crurl_is_param_name("", 0));
    buf_t b = BUF_INIT(256);
    assert_int_equal(crurl_format(PUB, "http://a:1/?x=y z", 17, &b), 0);
    assert_string_equal(b.data, PUB "/client?origin=http%3A%2F%2Fa%3A1%2F%3Fx%3Dy%20z");
    buf_free(&b);
}

/* Both front ends give the same bytes and the same findings: the fast
 * scanner on whole bodies, expat otherwise (and wherever the scanner
 * declines). */
static void compare_paths(const char *in, size_t len, bool want_fast)
{
    crurl_opts_t of = { .public_url = PUB }, oe = { .public_url = PUB, .no_fast = true };
    crurl_t *f = crurl_new(&of), *e = crurl_new(&oe);
    buf_t bf = BUF_INIT(1 << 24), be = BUF_INIT(1 << 24);
    assert_int_equal(crurl_feed(f, in, len, true, &bf), 0);
    assert_int_equal(crurl_feed(e, in, len, true, &be), 0);
    const crurl_info_t *fi = crurl_info(f), *ei = crurl_info(e);
    assert_false(ei->fast);
    if (want_fast)
        assert_true(fi->fast);
    if (!crurl_error(e)) {
        assert_int_equal(bf.len, be.len);
        assert_memory_equal(bf.data ? bf.data : "", be.data ? be.data : "", be.len);
        assert_int_equal(fi->rewritten, ei->rewritten);
        assert_int_equal(fi->skipped, ei->skipped);
        assert_int_equal(fi->rpc, ei->rpc);
        assert_int_equal(fi->devid_ok, ei->devid_ok);
        assert_string_equal(fi->serial, ei->serial);
        assert_string_equal(fi->oui, ei->oui);
    }
    buf_free(&bf);
    buf_free(&be);
    crurl_free(f);
    crurl_free(e);
}

#define GPVR_HEAD                                                                          \
    "<soap-env:Envelope xmlns:soap-env=\"http://schemas.xmlsoap.org/soap/envelope/\" " XSI      \
    " xmlns:cwmp=\"urn:dslforum-org:cwmp-1-0\"><soap-env:Body><cwmp:GetParameterValuesResponse>" \
    "<ParameterList>\n"
#define GPVR_TAIL "</ParameterList></cwmp:GetParameterValuesResponse></soap-env:Body></soap-env:Envelope>"
#define CR_NAME "Device.ManagementServer.ConnectionRequestURL"

static size_t rewritten_fast(const char *in, bool *fast, bool *err)
{
    crurl_opts_t o = { .public_url = PUB };
    crurl_t *rw = crurl_new(&o);
    buf_t out = BUF_INIT(1 << 20);
    assert_int_equal(crurl_feed(rw, in, strlen(in), true, &out), 0);
    size_t n = crurl_info(rw)->rewritten;
    *fast = crurl_info(rw)->fast;
    *err = crurl_error(rw) != NULL;
    buf_free(&out);
    crurl_free(rw);
    return n;
}

/* The scanner passes a parameter struct through unread when it cannot hold
 * a ConnectionRequestURL: the output stays expat's wherever a name could
 * still be spelt without its literal bytes, or the struct's end be hidden. */
static void test_structs_passed_through(void **state)
{
    const char *cases[] = {
        /* the matching struct among plain ones, before and after */
        GPVR_HEAD PVS("Device.DeviceInfo.A", "1") PVS(CR_NAME, "http://a/") PVS("Device.B", "2") GPVR_TAIL,
        /* a character reference spells the name */
        GPVR_HEAD PVS("Device.X", "1") PVS("Device.ManagementServer.Connection&#x52;equestURL", "http://b/")
        GPVR_TAIL,
        /* a comment splits it */
        GPVR_HEAD PVS("Device.X", "1") PVS("Device.ManagementServer.Connection<!-- x -->RequestURL",
                                           "http://c/") GPVR_TAIL,
        /* CDATA in a plain struct shows a fake end tag */
        GPVR_HEAD PVS("Device.X", "<![CDATA[</ParameterValueStruct><ParameterValueStruct>]]>")
        PVS(CR_NAME, "http://d/") GPVR_TAIL,
        /* the struct's name nested in a Value */
        GPVR_HEAD "<ParameterValueStruct><Name>Device.Y</Name><Value><ParameterValueStruct><Name>" CR_NAME
        "</Name><Value>http://e/</Value></ParameterValueStruct></Value></ParameterValueStruct>"
        PVS(CR_NAME, "http://f/") GPVR_TAIL,
        /* Value before Name, and the name as a value elsewhere */
        GPVR_HEAD "<ParameterValueStruct><Value>http://g/</Value><Name>" CR_NAME "</Name>"
        "</ParameterValueStruct>" PVS("Device.Z", "ConnectionRequestURL") PVS("Device.W", "a &amp; b")
        GPVR_TAIL,
        /* a processing instruction, and a prefixed struct name */
        GPVR_HEAD PVS("Device.P<?x y?>", "1") "<cwmp:ParameterValueStruct><Name>" CR_NAME "</Name>"
        "<Value>http://h/</Value></cwmp:ParameterValueStruct>" PVS("Device.Q", "2") GPVR_TAIL,
        /* runs of plain siblings around it, one with an attribute, one
         * with a character reference in its value */
        GPVR_HEAD PVS("Device.A", "1") PVS("Device.B", "2") "<ParameterValueStruct x=\"1\"><Name>Device.C"
        "</Name><Value>3</Value></ParameterValueStruct>" PVS("Device.D", "&#52;") PVS(CR_NAME, "http://j/")
        PVS("Device.E", "5") PVS("Device.F", "6") GPVR_TAIL,
        /* an empty element between a matching Name and its Value */
        GPVR_HEAD "<ParameterValueStruct><Name>" CR_NAME "</Name><x/><Value>http://k/</Value>"
        "</ParameterValueStruct>" GPVR_TAIL,
        /* another RPC naming the parameter (read by nobody), a Header with
         * markup, an element in a Value nesting its own name, CDATA */
        "<soap-env:Envelope xmlns:soap-env=\"http://schemas.xmlsoap.org/soap/envelope/\" " XSI
        " xmlns:cwmp=\"urn:dslforum-org:cwmp-1-0\"><soap-env:Header><cwmp:ID a=\"1\">x<y/>"
        "</cwmp:ID></soap-env:Header><soap-env:Body><cwmp:GetParameterNamesResponse><ParameterList>"
        "<ParameterInfoStruct><Name>" CR_NAME "</Name><Writable>0</Writable></ParameterInfoStruct>"
        "<ParameterValueStruct><Name>" CR_NAME "</Name><Value>http://l/</Value></ParameterValueStruct>"
        "</ParameterList></cwmp:GetParameterNamesResponse></soap-env:Body></soap-env:Envelope>",
        GPVR_HEAD "<ParameterValueStruct><Name>" CR_NAME "</Name><Value><v><v>1</v><![CDATA[</v>]]></v>"
        "http://m/</Value></ParameterValueStruct>" PVS(CR_NAME, "http://n/") GPVR_TAIL,
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        compare_paths(cases[i], strlen(cases[i]), false);
    bool fast, err;
    assert_int_equal(rewritten_fast(cases[0], &fast, &err), 1);
    assert_true(fast);
    assert_int_equal(rewritten_fast(cases[1], &fast, &err), 1);
    assert_int_equal(rewritten_fast(cases[3], &fast, &err), 1);
    assert_int_equal(rewritten_fast(cases[4], &fast, &err), 1); /* the nested one is a value */
    assert_int_equal(rewritten_fast(cases[5], &fast, &err), 1);
    assert_int_equal(rewritten_fast(cases[7], &fast, &err), 1);
    assert_true(fast);
    assert_int_equal(rewritten_fast(cases[8], &fast, &err), 1);
    assert_int_equal(rewritten_fast(cases[9], &fast, &err), 0);
    assert_true(fast);
    /* What a passed-through struct holds is not read: markup the scanner
     * would otherwise send to expat (which then stops rewriting) is not
     * looked at, and the value after it is still rewritten. */
    const char *unread = GPVR_HEAD "<ParameterValueStruct><Name>Device.X</Name><Value><a></b></Value>"
        "</ParameterValueStruct>" PVS(CR_NAME, "http://i/") GPVR_TAIL;
    assert_int_equal(rewritten_fast(unread, &fast, &err), 1);
    assert_true(fast);
    assert_false(err);
}

static void test_fast_path_equals_expat(void **state)
{
    const char *fast[] = {
        big_doc(),
        INFORM_HEAD "<ParameterList>" PVS("Device.ManagementServer.ConnectionRequestURL", "http://x/")
        "</ParameterList>" INFORM_TAIL,
        "<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\" " XSI "><s:Body><c:Inform "
        "xmlns:c=\"urn:dslforum-org:cwmp-1-0\"><ParameterList><ParameterValueStruct>\r\n<Name>"
        " Device.ManagementServer.Connection&#x52;equestURL\r\n</Name><!-- c --><Value>\r\n"
        "http://a&#13;b&lt;&gt;&amp;&quot;&apos;/<?pi x?>c<![CDATA[d\r\ne]]>\r</Value>"
        "</ParameterValueStruct></ParameterList></c:Inform></s:Body></s:Envelope>",
        "\xEF\xBB\xBF<?xml version=\"1.0\" encoding='utf-8' ?>\n<!-- x --><a/>\n<?pi?>",
        "<a b = 'x>y' c=\"&lt;\"><b/><c></c ></a>",
    };
    for (size_t i = 0; i < sizeof fast / sizeof fast[0]; i++)
        compare_paths(fast[i], strlen(fast[i]), true);
    const char *declined[] = {
        "<!DOCTYPE x><x/>",
        "<x><y></x></y>",
        "<x>",
        "<x/><y/>",
        "text<x/>",
        "<a:b>unbound</a:b>",
        "<a xmlns:p=\"u\"><p:b/></a><p:c/>",
        "<x><!-- a -- b --></x>",
        "<x a='1'b='2'/>",
        "<1x/>",
        "<?XML version='1.0'?><x/>",
        "<x/><?xml version='1.0'?>",
        "<x><![CDATA[ unterminated </x>",
    };
    for (size_t i = 0; i < sizeof declined / sizeof declined[0]; i++) {
        compare_paths(declined[i], strlen(declined[i]), false);
        crurl_opts_t o = { .public_url = PUB };
        crurl_t *rw = crurl_new(&o);
        buf_t out = BUF_INIT(1 << 20);
        assert_int_equal(crurl_feed(rw, declined[i], strlen(declined[i]), true, &out), 0);
        /* declined by the scanner: expat parsed it (and found it wanting) */
        assert_false(crurl_info(rw)->fast);
        assert_non_null(crurl_error(rw));
        assert_string_equal(out.data, declined[i]); /* passed through */
        buf_free(&out);
        crurl_free(rw);
    }
    /* Malformed text the rewriter does not read is not examined by the
     * scanner: same bytes out (nothing to rewrite there), no error noted. */
    const char *unexamined[] = { "<x>&unknown;</x>", "<x>]]></x>", "<x>&#0;</x>" };
    for (size_t i = 0; i < sizeof unexamined / sizeof unexamined[0]; i++) {
        char *out = rewrite(unexamined[i], strlen(unexamined[i]), &(seen_t){ 0 }, NULL, NULL);
        assert_string_equal(out, unexamined[i]);
        free(out);
    }
    /* ...but in a Name or Value it is, and expat then decides. */
    const char *in_value = INFORM_HEAD "<ParameterList>"
        PVS("Device.ManagementServer.ConnectionRequestURL", "http://a/&bogus;") "</ParameterList>" INFORM_TAIL;
    compare_paths(in_value, strlen(in_value), false);
    /* another encoding: well-formed, but expat's to decode */
    const char *latin1 = "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><x>\xE9</x>";
    compare_paths(latin1, strlen(latin1), false);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tr181_inform),
        cmocka_unit_test(test_tr098_inform),
        cmocka_unit_test(test_gpv_response_all_occurrences),
        cmocka_unit_test(test_prefixes_and_default_namespace),
        cmocka_unit_test(test_entities_whitespace_cdata),
        cmocka_unit_test(test_value_before_name),
        cmocka_unit_test(test_untouched),
        cmocka_unit_test(test_skips),
        cmocka_unit_test(test_malformed_passes_through),
        cmocka_unit_test(test_doctype_reason),
        cmocka_unit_test(test_empty_body),
        cmocka_unit_test(test_split_invariance),
        cmocka_unit_test(test_streams),
        cmocka_unit_test(test_hold_cap),
        cmocka_unit_test(test_out_cap),
        cmocka_unit_test(test_utf16),
        cmocka_unit_test(test_latin1_bytes_kept),
        cmocka_unit_test(test_may_rewrite),
        cmocka_unit_test(test_device_id),
        cmocka_unit_test(test_param_names),
        cmocka_unit_test(test_fast_path_equals_expat),
        cmocka_unit_test(test_structs_passed_through),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
