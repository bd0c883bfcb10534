/* Unit tests of what a CPE's answer leaves in the store beyond a task's
 * result (acs_tasks.h): the values of an accepted set_params as the RPC
 * carried them, marked as the ACS's; the attributes of a set_attributes
 * and of a GetParameterAttributesResponse; the inform interval among
 * parameter rows; keep_result and the stricter set_attributes checks. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "acs/acs_internal.h"
#include "acs/acs_tasks.h"

static void test_set_rows(void **state)
{
    (void)state;
    store_param_t *p;
    char *strings;
    size_t n;
    const char *json = "{\"values\":{\"A.S\":\"x\",\"A.N\":7,\"A.B\":true,\"A.T\":{\"value\":\"5\","
                       "\"type\":\"xsd:int\"},\"A.L\":-5000000000}}";
    assert_int_equal(acs_set_rows("set_params", json, &p, &strings, &n), 0);
    assert_int_equal(n, 5);
    static const char *const want[][3] = { { "A.S", "x", "xsd:string" },
                                           { "A.N", "7", "xsd:unsignedInt" },
                                           { "A.B", "true", "xsd:boolean" },
                                           { "A.T", "5", "xsd:int" },
                                           { "A.L", "-5000000000", "xsd:long" } };
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(p[i].name, want[i][0]);
        assert_string_equal(p[i].value, want[i][1]);
        assert_string_equal(p[i].type, want[i][2]);
        assert_string_equal(p[i].set_by, STORE_SET_BY_ACS);
        assert_int_equal(p[i].writable, -1);
    }
    free(p);
    free(strings);
    /* other types leave nothing; a stored task that does not build is an error */
    assert_int_equal(acs_set_rows("get_params", "{\"names\":[\"A.\"]}", &p, &strings, &n), 0);
    assert_int_equal(n, 0);
    assert_null(p);
    assert_int_equal(acs_set_rows("set_params", "not json", &p, &strings, &n), -EINVAL);
}

static void test_attr_rows(void **state)
{
    (void)state;
    store_param_attr_t *a;
    char *strings;
    size_t n;
    const char *json = "{\"attributes\":[{\"name\":\"A.\",\"notification\":2},"
                       "{\"name\":\"A.X\",\"access_list\":[\"Subscriber\",\"Other\"]},"
                       "{\"name\":\"A.Y\",\"notification\":0,\"access_list\":[]}]}";
    assert_int_equal(acs_set_attr_rows(json, &a, &strings, &n), 0);
    assert_int_equal(n, 3);
    assert_string_equal(a[0].name, "A.");
    assert_int_equal(a[0].notification, 2);
    assert_null(a[0].access_list);            /* not changed */
    assert_int_equal(a[1].notification, -1);  /* not changed */
    assert_string_equal(a[1].access_list, "Subscriber,Other");
    assert_int_equal(a[2].notification, 0);
    assert_string_equal(a[2].access_list, "");
    free(a);
    free(strings);
    /* what a CPE reports is all known */
    cwmp_param_t got[] = { { .name = "B.X", .notification = 1, .access_list = "Subscriber" },
                           { .name = "B.Y", .notification = 0 } };
    cwmp_msg_t m = { .type = CWMP_GET_PARAMETER_ATTRIBUTES_RESPONSE, .params = got, .n_params = 2 };
    assert_int_equal(acs_attr_rows(&m, &a, &strings, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(a[0].notification, 1);
    assert_string_equal(a[0].access_list, "Subscriber");
    assert_int_equal(a[1].notification, 0);
    assert_string_equal(a[1].access_list, "");
    free(a);
    free(strings);
}

/* The interval acs_params_facts learns from p, or -1. */
static int64_t interval_of(const store_param_t *p, size_t n)
{
    store_device_facts_t f;
    return acs_params_facts(p, n, 1, &f) && f.interval > 0 ? f.interval : -1;
}

static void test_interval(void **state)
{
    (void)state;
    store_param_t p[] = {
        { .name = "Device.DeviceInfo.UpTime", .value = "5" },
        { .name = "Device.ManagementServer.PeriodicInformInterval", .value = "60" },
    };
    assert_int_equal(interval_of(p, 2), 60);
    p[1].name = "InternetGatewayDevice.ManagementServer.PeriodicInformInterval";
    assert_int_equal(interval_of(p, 2), 60);
    /* a vendor object's, a name only, nonsense, zero: not the device's */
    static const char *const names[] = { "Device.X_V.ManagementServer.PeriodicInformInterval",
                                         "ManagementServer.PeriodicInformInterval",
                                         "Device.ManagementServer.PeriodicInformIntervalX" };
    for (size_t i = 0; i < 3; i++) {
        p[1].name = names[i];
        assert_int_equal(interval_of(p, 2), -1);
    }
    p[1].name = "Device.ManagementServer.PeriodicInformInterval";
    static const char *const values[] = { "0", "-5", "abc", "99999999999" };
    for (size_t i = 0; i < 4; i++) {
        p[1].value = values[i];
        assert_int_equal(interval_of(p, 2), -1);
    }
    p[1].value = NULL;
    assert_int_equal(interval_of(p, 2), -1);
}

/* How to reach the CPE behind NAT, from what it reports (TR-069 Annex G, K). */
static void test_reach_facts(void **state)
{
    (void)state;
    store_param_t p[] = {
        { .name = "InternetGatewayDevice.ManagementServer.NATDetected", .value = "true" },
        { .name = "InternetGatewayDevice.ManagementServer.UDPConnectionRequestAddress",
          .value = "198.18.0.9:40000" },
        { .name = "InternetGatewayDevice.ManagementServer.ConnReqJabberID", .value = "a@b/c" },
        { .name = "InternetGatewayDevice.ManagementServer.STUNEnable", .value = "1" },
    };
    store_device_facts_t f;
    assert_true(acs_params_facts(p, 4, 77, &f));
    assert_int_equal(f.interval, 0);
    assert_int_equal(f.nat, 1);
    assert_true(f.has_udp);
    assert_string_equal(f.cr_udp, "198.18.0.9:40000");
    assert_int_equal(f.cr_udp_at, 77);
    assert_true(f.has_jid);
    assert_string_equal(f.cr_jid, "a@b/c");
    /* "0" is learnt as no NAT; an empty address as cleared; nonsense not at all */
    p[0].value = "0";
    p[1].value = "";
    p[2].name = "InternetGatewayDevice.X_V.ManagementServer.ConnReqJabberID";
    assert_true(acs_params_facts(p, 4, 77, &f));
    assert_int_equal(f.nat, 0);
    assert_true(f.has_udp);
    assert_string_equal(f.cr_udp, "");
    assert_false(f.has_jid);
    p[0].value = "maybe";
    char big[200];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    p[1].value = big; /* longer than a stored address: not learnt, not cut */
    assert_false(acs_params_facts(p, 4, 77, &f));
    assert_int_equal(f.nat, -1);
    assert_false(f.has_udp);
}

static void test_merge_names(void **state)
{
    (void)state;
    store_param_t *v = calloc(2, sizeof *v);
    assert_non_null(v);
    v[0] = (store_param_t){ .name = "A.X", .value = "1", .writable = -1 };
    v[1] = (store_param_t){ .name = "A.Y", .value = "2", .writable = -1 };
    size_t n = 2;
    store_param_t names[] = { { .name = "A.", .writable = 0 }, { .name = "A.Y", .writable = 1 },
                              { .name = "A.X", .writable = 0 }, { .name = "A.Z", .writable = 1 } };
    assert_int_equal(acs_merge_names(&v, &n, names, 4), 0);
    assert_int_equal(n, 4);
    assert_int_equal(v[0].writable, 0);
    assert_int_equal(v[1].writable, 1);
    assert_string_equal(v[1].value, "2");
    /* names no value row had come after, as names only */
    assert_string_equal(v[2].name, "A.");
    assert_null(v[2].value);
    assert_string_equal(v[3].name, "A.Z");
    assert_int_equal(v[3].writable, 1);
    free(v);
}

static int validate(const char *body, char *err, size_t len)
{
    json_t *j = json_loads(body, 0, NULL);
    const char *type;
    json_t *params = NULL;
    int rc = acs_task_validate(j, &type, &params, err, len);
    json_decref(j);
    json_decref(params);
    return rc;
}

static void test_validation(void **state)
{
    (void)state;
    char err[256];
    assert_int_equal(validate("{\"type\":\"get_params\",\"parameters\":{\"names\":[\"A.\"],"
                              "\"keep_result\":false}}", err, sizeof err), 0);
    assert_int_equal(validate("{\"type\":\"get_names\",\"parameters\":{\"keep_result\":true}}", err,
                              sizeof err), 0);
    assert_int_equal(validate("{\"type\":\"get_params\",\"parameters\":{\"names\":[\"A.\"],"
                              "\"keep_result\":1}}", err, sizeof err), -EINVAL);
    assert_non_null(strstr(err, "keep_result"));
    assert_int_equal(validate("{\"type\":\"get_attributes\",\"parameters\":{\"names\":[\"A.\"],"
                              "\"keep_result\":false}}", err, sizeof err), -EINVAL);
    assert_int_equal(validate("{\"type\":\"set_attributes\",\"parameters\":{\"attributes\":["
                              "{\"name\":\"A.X\",\"notification\":1},{\"name\":\"A.X\",\"notification\":2}]}}",
                              err, sizeof err), -EINVAL);
    assert_non_null(strstr(err, "twice"));
    assert_int_equal(validate("{\"type\":\"set_attributes\",\"parameters\":{\"attributes\":["
                              "{\"name\":\"\",\"notification\":1}]}}", err, sizeof err), -EINVAL);
    assert_non_null(strstr(err, "name"));

    assert_true(acs_task_keeps_result(NULL));
    assert_true(acs_task_keeps_result("{\"names\":[\"A.\"]}"));
    assert_true(acs_task_keeps_result("{\"names\":[\"A.\"],\"keep_result\":true}"));
    assert_false(acs_task_keeps_result("{\"names\":[\"A.\"],\"keep_result\":false}"));
    /* the words inside a name are not the field */
    assert_true(acs_task_keeps_result("{\"names\":[\"\\\"keep_result\\\":false\"]}"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_set_rows),
        cmocka_unit_test(test_attr_rows),
        cmocka_unit_test(test_interval),
        cmocka_unit_test(test_reach_facts),
        cmocka_unit_test(test_merge_names),
        cmocka_unit_test(test_validation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
