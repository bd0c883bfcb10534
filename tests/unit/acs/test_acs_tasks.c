/* Unit tests of the ACS's task vocabulary: strict validation of API task
 * JSON, and every task type turned into an RPC the encoder accepts. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "acs/acs_internal.h"
#include "acs/acs_tasks.h"

static int validate(const char *json, char *err, size_t errlen)
{
    json_t *body = json_loads(json, 0, NULL);
    assert_non_null(body);
    const char *type;
    json_t *params = NULL;
    int rc = acs_task_validate(body, &type, &params, err, errlen);
    json_decref(body);
    json_decref(params);
    return rc;
}

static void test_validate(void **state)
{
    char err[256];
    static const char *const good[] = {
        "{\"type\":\"get_params\",\"parameters\":{\"names\":[\"Device.\"]}}",
        "{\"type\":\"set_params\",\"parameters\":{\"values\":{\"A.B\":1,\"A.C\":true,\"A.D\":\"x\","
        "\"A.E\":{\"value\":\"5\",\"type\":\"xsd:unsignedInt\"}},\"parameter_key\":\"k\"}}",
        "{\"type\":\"reboot\"}",
        "{\"type\":\"factory_reset\",\"parameters\":null}",
        "{\"type\":\"get_names\",\"parameters\":{\"path\":\"Device.\",\"next_level\":true}}",
        "{\"type\":\"get_names\"}",
        "{\"type\":\"add_object\",\"parameters\":{\"object\":\"Device.IP.Interface.\"}}",
        "{\"type\":\"delete_object\",\"parameters\":{\"object\":\"Device.IP.Interface.2.\"}}",
        "{\"type\":\"get_attributes\",\"parameters\":{\"names\":[\"Device.\"]}}",
        "{\"type\":\"set_attributes\",\"parameters\":{\"attributes\":[{\"name\":\"A.B\",\"notification\":2,"
        "\"access_list\":[\"Subscriber\"]}]}}",
        "{\"type\":\"download\",\"parameters\":{\"url\":\"http://f/x\",\"file_size\":10}}",
        "{\"type\":\"upload\",\"parameters\":{\"url\":\"http://f/u\",\"file_type\":\"2 Vendor Log File\"}}",
        "{\"type\":\"schedule_inform\",\"parameters\":{\"delay_seconds\":5}}",
        "{\"type\":\"get_rpc_methods\"}",
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        if (validate(good[i], err, sizeof err) != 0)
            fail_msg("%s: %s", good[i], err);
    static const char *const bad[] = {
        "[]", "{}", "{\"type\":1}", "{\"type\":\"nope\"}", "{\"type\":\"reboot\",\"x\":1}",
        "{\"type\":\"reboot\",\"parameters\":{\"delay\":1}}",
        "{\"type\":\"get_params\"}", "{\"type\":\"get_params\",\"parameters\":{\"names\":[]}}",
        "{\"type\":\"get_params\",\"parameters\":{\"names\":[1]}}",
        "{\"type\":\"set_params\",\"parameters\":{\"values\":{}}}",
        "{\"type\":\"set_params\",\"parameters\":{\"values\":{\"A\":null}}}",
        "{\"type\":\"set_params\",\"parameters\":{\"values\":{\"A\":{\"value\":1,\"kind\":2}}}}",
        "{\"type\":\"set_params\",\"parameters\":{\"values\":{\"A\":{\"value\":1,\"type\":\"x\\\"y\"}}}}",
        "{\"type\":\"add_object\",\"parameters\":{\"object\":\"Device.IP\"}}",
        "{\"type\":\"set_attributes\",\"parameters\":{\"attributes\":[{\"name\":\"A\",\"notification\":7}]}}",
        "{\"type\":\"set_attributes\",\"parameters\":{\"attributes\":[{\"name\":\"A\"}]}}",
        "{\"type\":\"download\",\"parameters\":{\"url\":\"\"}}",
        "{\"type\":\"download\",\"parameters\":{\"url\":\"http://f\",\"file_type\":\"firmware\"}}",
        "{\"type\":\"schedule_inform\",\"parameters\":{\"delay_seconds\":0}}",
        "{\"type\":\"get_names\",\"parameters\":{\"next_level\":\"yes\"}}",
        /* what the envelope could not carry, or its schema would refuse */
        "{\"type\":\"get_params\",\"parameters\":{\"names\":[\"a\\u0001b\"]}}",
        "{\"type\":\"get_params\",\"parameters\":{\"names\":[\"a\\uffffb\"]}}",
        "{\"type\":\"set_params\",\"parameters\":{\"values\":{\"A\":\"x\\u001by\"}}}",
        "{\"type\":\"set_params\",\"parameters\":{\"values\":{\"A\":{\"value\":\"abc\",\"type\":\"xsd:unsignedInt\"}}}}",
        "{\"type\":\"set_params\",\"parameters\":{\"values\":{\"A\":{\"value\":-5,\"type\":\"xsd:unsignedInt\"}}}}",
        "{\"type\":\"set_params\",\"parameters\":{\"values\":{\"A\":{\"value\":5,\"type\":\"xsd:boolean\"}}}}",
        "{\"type\":\"download\",\"parameters\":{\"url\":\"http://f/\\u0002x\"}}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        if (validate(bad[i], err, sizeof err) != -EINVAL)
            fail_msg("accepted: %s", bad[i]);
        assert_true(err[0] != '\0');
    }
}

/* A download/upload task whose `field` is url (the rest valid). */
static int validate_url(const char *type, const char *field, const char *url, char *err,
                        size_t errlen)
{
    json_t *body = json_pack("{s:s, s:{s:s}}", "type", type, "parameters", "url", "http://h/");
    assert_non_null(body);
    json_object_set_new(json_object_get(body, "parameters"), field, json_string(url));
    const char *t;
    json_t *params = NULL;
    int rc = acs_task_validate(body, &t, &params, err, errlen);
    json_decref(body);
    json_decref(params);
    return rc;
}

/* Download/Upload URLs: http, https or ftp in any case, with a host; the
 * reason names the field. */
static void test_file_urls(void **state)
{
    (void)state;
    static const char *const good[] = {
        "http://f/x", "HTTPS://files.example:8443/fw.bin", "ftp://user:pw@10.0.0.1/fw",
        "Ftp://h", "http://[2001:db8::1]:8080/fw", "https://h?x=1", "http://u@h:21",
    };
    static const char *const bad[] = {
        "file:///etc/passwd", "FILE://h/etc/passwd", "gopher://h/x", "tftp://h/fw",
        "http:///nohost", "https://user@/x", "http://:80/x", "http://[]/x", "http:/h/x",
        "h/fw.bin", "//h/fw", "http://h/a b", "javascript://h/%0a", "httpx://h/",
    };
    static const char *const fields[][2] = {
        { "download", "url" }, { "upload", "url" }, { "download", "success_url" },
        { "download", "failure_url" },
    };
    char err[256];
    for (size_t f = 0; f < sizeof fields / sizeof fields[0]; f++) {
        for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
            if (validate_url(fields[f][0], fields[f][1], good[i], err, sizeof err) != 0)
                fail_msg("%s %s=%s: %s", fields[f][0], fields[f][1], good[i], err);
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
            err[0] = '\0';
            if (validate_url(fields[f][0], fields[f][1], bad[i], err, sizeof err) != -EINVAL)
                fail_msg("accepted: %s %s=%s", fields[f][0], fields[f][1], bad[i]);
            if (strncmp(err, fields[f][1], strlen(fields[f][1])) != 0)
                fail_msg("%s: reason '%s' does not name %s", bad[i], err, fields[f][1]);
        }
    }
    /* an empty success_url/failure_url is no URL at all: allowed */
    assert_int_equal(validate_url("download", "success_url", "", err, sizeof err), 0);
}

/* Every valid task becomes an RPC that encodes (in every namespace). */
static void test_to_rpc(void **state)
{
    static const char *const tasks[] = {
        "{\"type\":\"get_params\",\"parameters\":{\"names\":[\"Device.\",\"Device.DeviceInfo.\"]}}",
        "{\"type\":\"set_params\",\"parameters\":{\"values\":{\"A.B\":1,\"A.C\":true,\"A.D\":\"x<&>\","
        "\"A.N\":-3,\"A.F\":1.5,\"A.E\":{\"value\":\"5\",\"type\":\"xsd:unsignedInt\"}}}}",
        "{\"type\":\"reboot\"}",
        "{\"type\":\"factory_reset\"}",
        "{\"type\":\"get_names\",\"parameters\":{\"path\":\"Device.\",\"next_level\":true}}",
        "{\"type\":\"add_object\",\"parameters\":{\"object\":\"Device.IP.Interface.\"}}",
        "{\"type\":\"delete_object\",\"parameters\":{\"object\":\"Device.IP.Interface.2.\"}}",
        "{\"type\":\"get_attributes\",\"parameters\":{\"names\":[\"Device.\"]}}",
        "{\"type\":\"set_attributes\",\"parameters\":{\"attributes\":[{\"name\":\"A.B\",\"notification\":2,"
        "\"access_list\":[\"Subscriber\",\"Other\"]},{\"name\":\"A.C\",\"access_list\":[]}]}}",
        "{\"type\":\"download\",\"parameters\":{\"url\":\"http://f/x\",\"file_size\":10}}",
        "{\"type\":\"upload\",\"parameters\":{\"url\":\"http://f/u\"}}",
        "{\"type\":\"schedule_inform\",\"parameters\":{\"delay_seconds\":5}}",
        "{\"type\":\"schedule_inform\"}",
        "{\"type\":\"get_rpc_methods\"}",
    };
    buf_t out = BUF_INIT(1 << 20);
    for (size_t i = 0; i < sizeof tasks / sizeof tasks[0]; i++) {
        json_t *body = json_loads(tasks[i], 0, NULL);
        const char *type;
        json_t *params;
        char err[256];
        assert_int_equal(acs_task_validate(body, &type, &params, err, sizeof err), 0);
        for (int ns = CWMP_NS_1_0; ns <= CWMP_NS_1_2; ns++) {
            cwmp_msg_t m = { .ns = (cwmp_ns_t)ns, .id = "42" };
            acs_rpc_scratch_t sc;
            char key[40];
            assert_int_equal(acs_task_to_rpc(type, params, 42, &m, &sc, key, sizeof key), 0);
            assert_string_equal(key, "task-42");
            assert_int_equal(acs_task_response_type(type), cwmp_response_type(m.type));
            buf_reset(&out);
            int rc = cwmp_encode(&out, &m);
            if (rc != 0)
                fail_msg("%s ns=%d: %d", tasks[i], ns, rc);
            acs_rpc_scratch_free(&sc);
        }
        json_decref(params);
        json_decref(body);
    }
    buf_free(&out);
    assert_int_equal(acs_task_id_from_key("task-17"), 17);
    assert_int_equal(acs_task_id_from_key("task-17x"), 0);
    assert_int_equal(acs_task_id_from_key("other"), 0);
    assert_int_equal(acs_task_id_from_key(NULL), 0);
}

/* Results of long lists are written directly as JSON: check it parses. */
static void test_result_text(void **state)
{
    cwmp_param_t p[2] = { { .name = "A.\"q\"", .value = "line\nnext\\\x01", .type = "xsd:string" },
                          { .name = "A.B", .value = "", .type = NULL } };
    cwmp_msg_t m = { .type = CWMP_GET_PARAMETER_VALUES_RESPONSE, .params = p, .n_params = 2 };
    char *t = acs_result_text(&m);
    json_t *j = json_loads(t, 0, NULL);
    assert_non_null(j);
    json_t *a = json_object_get(j, "parameters");
    assert_string_equal(json_string_value(json_object_get(json_array_get(a, 0), "name")), "A.\"q\"");
    assert_string_equal(json_string_value(json_object_get(json_array_get(a, 0), "value")),
                        "line\nnext\\\x01");
    json_decref(j);
    free(t);
}

/* The fast names reader agrees with jansson on what jansson writes. */
static void test_names_parse(void **state)
{
    json_t *names = json_pack("[s, s, s, s, s, s]", "Device.DeviceInfo.", "a\"b\\c/d",
                              "tab\tnl\nctl\x01\x1f", "caf\xc3\xa9 \xe2\x98\x95 \xf0\x9f\x98\x80",
                              "", "x,y]}");
    json_t *o = json_pack("{s:o}", "names", names);
    char *text = json_dumps(o, JSON_COMPACT);
    const char **v;
    size_t n;
    char *store;
    assert_int_equal(acs_task_names_parse(text, &v, &n, &store), 0);
    assert_int_equal(n, 6);
    for (size_t i = 0; i < n; i++)
        assert_string_equal(v[i], json_string_value(json_array_get(names, i)));
    free(v);
    free(store);
    free(text);
    /* jansson's \u escapes, surrogate pairs included */
    assert_int_equal(acs_task_names_parse("{\"names\":[\"\\u00e9\\ud83d\\ude00\"]}", &v, &n, &store), 0);
    assert_string_equal(v[0], "\xc3\xa9\xf0\x9f\x98\x80");
    free(v);
    free(store);
    static const char *const bad[] = {
        "{\"names\":[]}", "{\"names\":[\"a\"", "{\"names\":[\"a\"],\"x\":1}", "{\"x\":[\"a\"]}",
        "{\"names\":[\"\\ud800\"]}", "{\"names\":[\"\\q\"]}", "{\"names\":[\"a\" ]}",
        "{\"names\":[1]}", "",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (acs_task_names_parse(bad[i], &v, &n, &store) != -EINVAL)
            fail_msg("accepted: %s", bad[i]);
    json_decref(o);
}

/* online = last Inform within 2 x interval + 60 s; the default interval
 * (seconds) stands in when the device reported none. */
static void test_device_online(void **state)
{
    store_device_t d = { .id = "X", .last_inform = 1000000 - 100, .periodic_interval = 0 };
    json_t *o = acs_device_json(&d, 1000000, 1);
    assert_false(json_is_true(json_object_get(o, "online")));
    json_decref(o);
    o = acs_device_json(&d, 1000000, 3600);
    assert_true(json_is_true(json_object_get(o, "online")));
    json_decref(o);
    d.periodic_interval = 10; /* the device's own interval wins */
    o = acs_device_json(&d, 1000000, 3600);
    assert_false(json_is_true(json_object_get(o, "online")));
    assert_string_equal(json_string_value(json_object_get(o, "connection_request_username")), "");
    json_decref(o);
}

/* set_params values the API accepts must make an envelope the CPE's schema
 * accepts: only TR-069's xsd types, integers within their type's range
 * (untyped numbers get a 64-bit type when they need it), real dates, base64. */
static void test_set_params_types(void **state)
{
    (void)state;
    char err[256];
    static const char *const good[] = {
        "{\"A\":{\"value\":\"2026-01-31T23:59:59Z\",\"type\":\"xsd:dateTime\"}}",
        "{\"A\":{\"value\":\"2026-01-31T23:59:59.25+02:00\",\"type\":\"xsd:dateTime\"}}",
        "{\"A\":{\"value\":\"0001-01-01T00:00:00\",\"type\":\"xsd:dateTime\"}}",
        "{\"A\":{\"value\":\"AAE=\",\"type\":\"xsd:base64Binary\"}}",
        "{\"A\":{\"value\":\"AAEC\\nAAE=\",\"type\":\"xsd:base64Binary\"}}", /* wrapped */
        "{\"A\":{\"value\":\"\",\"type\":\"xsd:base64Binary\"}}",
        "{\"A\":{\"value\":-2147483648,\"type\":\"xsd:int\"}}",
        "{\"A\":{\"value\":4294967295,\"type\":\"xsd:unsignedInt\"}}",
        "{\"A\":{\"value\":\"18446744073709551615\",\"type\":\"xsd:unsignedLong\"}}",
        "{\"A\":{\"value\":-5000000000,\"type\":\"xsd:long\"}}",
        "{\"A\":{\"value\":\"0a0B\",\"type\":\"xsd:hexBinary\"}}",
        "{\"A\":5000000000,\"B\":-5000000000}",
    };
    static const char *const bad[] = {
        "{\"A\":{\"value\":\"x\",\"type\":\"xsd:bogus\"}}",
        "{\"A\":{\"value\":\"x\",\"type\":\"string\"}}",
        "{\"A\":{\"value\":\"x\",\"type\":\"cwmp:foo\"}}",
        "{\"A\":{\"value\":2147483648,\"type\":\"xsd:int\"}}",
        "{\"A\":{\"value\":4294967296,\"type\":\"xsd:unsignedInt\"}}",
        "{\"A\":{\"value\":\"18446744073709551616\",\"type\":\"xsd:unsignedLong\"}}",
        "{\"A\":{\"value\":\"2026-13-01T00:00:00Z\",\"type\":\"xsd:dateTime\"}}",
        "{\"A\":{\"value\":\"2026-01-01T24:00:00Z\",\"type\":\"xsd:dateTime\"}}",
        "{\"A\":{\"value\":\"2026-01-01T00:00:00Zjunk\",\"type\":\"xsd:dateTime\"}}",
        "{\"A\":{\"value\":\"2026-01-01T00:00:00+2:00\",\"type\":\"xsd:dateTime\"}}",
        "{\"A\":{\"value\":\"!!!!\",\"type\":\"xsd:base64Binary\"}}",
        "{\"A\":{\"value\":\"AAE\",\"type\":\"xsd:base64Binary\"}}",
        "{\"A\":{\"value\":\"A=AE\",\"type\":\"xsd:base64Binary\"}}",
    };
    char body[512];
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        snprintf(body, sizeof body, "{\"type\":\"set_params\",\"parameters\":{\"values\":%s}}", good[i]);
        if (validate(body, err, sizeof err) != 0)
            fail_msg("%s: %s", good[i], err);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(body, sizeof body, "{\"type\":\"set_params\",\"parameters\":{\"values\":%s}}", bad[i]);
        if (validate(body, err, sizeof err) != -EINVAL)
            fail_msg("accepted: %s", bad[i]);
    }
    json_t *b = json_loads("{\"type\":\"set_params\",\"parameters\":{\"values\":{\"A\":5000000000,"
                           "\"B\":-5000000000,\"C\":4294967295,\"D\":-2147483648}}}", 0, NULL);
    const char *type;
    json_t *params;
    assert_int_equal(acs_task_validate(b, &type, &params, err, sizeof err), 0);
    cwmp_msg_t m = { .ns = CWMP_NS_1_2, .id = "1" };
    acs_rpc_scratch_t sc;
    char key[40];
    assert_int_equal(acs_task_to_rpc(type, params, 1, &m, &sc, key, sizeof key), 0);
    assert_int_equal(m.n_params, 4);
    assert_string_equal(m.params[0].type, "xsd:unsignedLong");
    assert_string_equal(m.params[1].type, "xsd:long");
    assert_string_equal(m.params[2].type, "xsd:unsignedInt");
    assert_string_equal(m.params[3].type, "xsd:int");
    acs_rpc_scratch_free(&sc);
    json_decref(params);
    json_decref(b);
}

/* Text from CPEs lands in fixed-size fields: a cut must not split a UTF-8
 * character, and a field that is not UTF-8 anyway still gives an object
 * (a NULL made GET /api/devices/{id} a 500 and dropped the device from lists). */
static void test_json_text_utf8(void **state)
{
    (void)state;
    char dst[68], src[200] = "";
    const char *chars[] = { "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80" };
    for (size_t c = 0; c < 3; c++) {
        for (size_t off = 0; off < 4; off++) { /* every alignment of the cut */
            memset(src, 'a', off);
            src[off] = '\0';
            while (strlen(src) + 4 < sizeof src)
                strcat(src, chars[c]);
            assert_int_equal(acs_utf8_copy(dst, sizeof dst, src), -ENAMETOOLONG);
            assert_true(strlen(dst) > sizeof dst - 5 && strncmp(dst, src, strlen(dst)) == 0);
            json_t *j = json_string(dst);
            assert_non_null(j); /* valid UTF-8 */
            json_decref(j);
        }
    }
    assert_int_equal(acs_utf8_copy(dst, sizeof dst, "short \xc3\xa9"), 0);
    assert_string_equal(dst, "short \xc3\xa9");

    store_device_t d = { .id = "X", .last_inform = 1000 };
    strcpy(d.software_version, "1.\xc3"); /* a lone lead byte */
    strcpy(d.manufacturer, "Acme \xff");
    strcpy(d.tags, "lab,n\xe2\x82");
    json_t *o = acs_device_json(&d, 1000, 60);
    assert_non_null(o);
    assert_string_equal(json_string_value(json_object_get(o, "software_version")), "1.?");
    assert_string_equal(json_string_value(json_object_get(o, "manufacturer")), "Acme ?");
    assert_string_equal(json_string_value(json_array_get(json_object_get(o, "tags"), 1)), "n??");
    char *text = json_dumps(o, JSON_COMPACT);
    assert_non_null(text);
    free(text);
    json_decref(o);

    store_task_t t = { .id = 7, .device_id = "X", .type = "reboot", .fault_code = 9002 };
    strcpy(t.fault_string, "bad \xe2\x82");
    o = acs_task_json(&t);
    assert_non_null(o);
    assert_string_equal(json_string_value(json_object_get(json_object_get(o, "fault"), "message")),
                        "bad ??");
    json_decref(o);
}

/* What a task shows: a transfer's password and URL credentials hidden, a
 * secret parameter's value hidden, the rest (and the stored text) as given. */
static void test_task_secrets_hidden(void **state)
{
    (void)state;
    char dl[] = "{\"url\":\"http://fw:FWPASS@198.51.100.7/fw.bin?X-Amz-Signature=SIG&v=1\","
                "\"username\":\"u\",\"password\":\"TASKPASS\","
                "\"success_url\":\"http://198.51.100.7/ok?token=TOK\",\"file_type\":\"1 Firmware Upgrade Image\"}";
    store_task_t t = { .id = 8, .device_id = "X", .type = "download", .params = dl };
    json_t *o = acs_task_json(&t);
    assert_non_null(o);
    json_t *p = json_object_get(o, "parameters");
    assert_string_equal(json_string_value(json_object_get(p, "password")), "***");
    assert_string_equal(json_string_value(json_object_get(p, "username")), "u");
    assert_string_equal(json_string_value(json_object_get(p, "url")),
                        "http://fw:***@198.51.100.7/fw.bin?X-Amz-Signature=***&v=1");
    assert_string_equal(json_string_value(json_object_get(p, "success_url")),
                        "http://198.51.100.7/ok?token=***");
    assert_string_equal(json_string_value(json_object_get(p, "file_type")), "1 Firmware Upgrade Image");
    char *text = json_dumps(o, JSON_COMPACT);
    assert_non_null(text);
    assert_null(strstr(text, "FWPASS"));
    assert_null(strstr(text, "TASKPASS"));
    assert_null(strstr(text, "SIG"));
    assert_null(strstr(text, "TOK"));
    free(text);
    json_decref(o);
    assert_non_null(strstr(dl, "TASKPASS")); /* the stored row is what goes to the CPE */

    char set[] = "{\"values\":{\"Device.WiFi.AccessPoint.1.Security.KeyPassphrase\":\"wifi-secret\","
                 "\"Device.Users.User.1.Password\":{\"value\":\"pw\",\"type\":\"xsd:string\"},"
                 "\"Device.WiFi.SSID.1.SSID\":\"net\",\"Device.X.Secret.Enable\":true}}";
    t = (store_task_t){ .id = 9, .device_id = "X", .type = "set_params", .params = set };
    o = acs_task_json(&t);
    json_t *v = json_object_get(json_object_get(o, "parameters"), "values");
    assert_string_equal(json_string_value(json_object_get(v, "Device.WiFi.AccessPoint.1.Security.KeyPassphrase")),
                        "***");
    json_t *pw = json_object_get(v, "Device.Users.User.1.Password");
    assert_string_equal(json_string_value(json_object_get(pw, "value")), "***");
    assert_string_equal(json_string_value(json_object_get(pw, "type")), "xsd:string");
    assert_string_equal(json_string_value(json_object_get(v, "Device.WiFi.SSID.1.SSID")), "net");
    assert_true(json_is_true(json_object_get(v, "Device.X.Secret.Enable"))); /* only the last name counts */
    json_decref(o);
}

/* The session log as stored: secrets out, everything else byte for byte. */
static void test_soap_log_hidden(void **state)
{
    (void)state;
    static const struct { const char *in, *out; } cases[] = {
        { "<cwmp:Download><URL>http://a/fw.bin</URL><Username>u</Username><Password>dl-pw</Password>"
          "<FileSize>0</FileSize></cwmp:Download>",
          "<cwmp:Download><URL>http://a/fw.bin</URL><Username>u</Username><Password>***</Password>"
          "<FileSize>0</FileSize></cwmp:Download>" },
        { "<Password></Password><Password>x</Password>", "<Password></Password><Password>***</Password>" },
        { "<URL>http://acs:7547/uploads/12-0123456789abcdef0123456789abcdef</URL>",
          "<URL>http://acs:7547/uploads/12-***</URL>" },
        { "<ParameterValueStruct><Name>Device.WiFi.AccessPoint.1.Security.KeyPassphrase</Name>"
          "<Value xsi:type=\"xsd:string\">wifi-secret</Value></ParameterValueStruct>"
          "<ParameterValueStruct><Name>Device.WiFi.SSID.1.SSID</Name><Value>net</Value>",
          "<ParameterValueStruct><Name>Device.WiFi.AccessPoint.1.Security.KeyPassphrase</Name>"
          "<Value xsi:type=\"xsd:string\">***</Value></ParameterValueStruct>"
          "<ParameterValueStruct><Name>Device.WiFi.SSID.1.SSID</Name><Value>net</Value>" },
        { "<c:Name>X.Users.User.1.Password</c:Name><c:Value>pw</c:Value>",
          "<c:Name>X.Users.User.1.Password</c:Name><c:Value>***</c:Value>" },
        { "<PasswordHint>h</PasswordHint><!-- c --><Password>cut", /* cut log */
          "<PasswordHint>h</PasswordHint><!-- c --><Password>***" },
        { "no tags < at all <", "no tags < at all <" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        buf_t b = BUF_INIT(4096);
        assert_int_equal(acs_soap_log_hide(cases[i].in, strlen(cases[i].in), &b), 0);
        assert_int_equal(b.len, strlen(cases[i].out));
        assert_memory_equal(b.data, cases[i].out, b.len);
        buf_free(&b);
    }
    assert_true(acs_param_secret("Device.X.PreSharedKey", 21));
    assert_false(acs_param_secret("Device.Password.Enable", 22)); /* the last name only */
    assert_false(acs_param_secret("Device.X.PreSharedKey", 12)); /* n bytes only */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_validate),
        cmocka_unit_test(test_file_urls),
        cmocka_unit_test(test_to_rpc),
        cmocka_unit_test(test_result_text),
        cmocka_unit_test(test_names_parse),
        cmocka_unit_test(test_device_online),
        cmocka_unit_test(test_json_text_utf8),
        cmocka_unit_test(test_set_params_types),
        cmocka_unit_test(test_task_secrets_hidden),
        cmocka_unit_test(test_soap_log_hidden),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
