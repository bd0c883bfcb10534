/* Unit tests of the task types table (acs_tasks.h): every row round-trips.
 * A request the row accepts becomes an RPC that encodes and decodes as the
 * row's RPC, the same from the stored JSON text as from the tree; the
 * row's response, encoded as a CPE would and decoded again, becomes a
 * result, the fast text and the tree alike. A new row without a sample
 * here fails the test. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "acs/acs_internal.h"
#include "acs/acs_tasks.h"

/* A valid request per type, and a response to it as a CPE sends it. */
static const cwmp_param_t gpv_params[] = {
    { .name = "Device.DeviceInfo.SoftwareVersion", .value = "1.2 \"<&>\"", .type = "xsd:string" },
    { .name = "Device.ManagementServer.PeriodicInformInterval", .value = "300",
      .type = "xsd:unsignedInt" },
};
static const cwmp_param_t gpn_params[] = {
    { .name = "Device.IP.", .writable = false },
    { .name = "Device.IP.Interface.1.Enable", .writable = true },
};
static const cwmp_param_t gpa_params[] = {
    { .name = "Device.A", .notification = 2, .access_list = "Subscriber,Other" },
    { .name = "Device.B", .notification = 0, .access_list = "" },
};
static const char *const methods[] = { "GetRPCMethods", "Inform" };

static const struct sample {
    const char *type, *request;
    cwmp_msg_t response;
    const char *result; /* the result, as JSON */
} samples[] = {
    { "get_params", "{\"names\":[\"Device.DeviceInfo.\",\"Device.ManagementServer.\"]}",
      { .type = CWMP_GET_PARAMETER_VALUES_RESPONSE, .params = gpv_params, .n_params = 2 },
      "{\"parameters\":[{\"name\":\"Device.DeviceInfo.SoftwareVersion\",\"value\":\"1.2 \\\"<&>\\\"\","
      "\"type\":\"xsd:string\"},{\"name\":\"Device.ManagementServer.PeriodicInformInterval\","
      "\"value\":\"300\",\"type\":\"xsd:unsignedInt\"}]}" },
    { "set_params", "{\"values\":{\"A.B\":1,\"A.C\":{\"value\":\"x\",\"type\":\"xsd:string\"}},"
                    "\"parameter_key\":\"k1\"}",
      { .type = CWMP_SET_PARAMETER_VALUES_RESPONSE, .status = 1 }, "{\"status\":1}" },
    { "reboot", NULL, { .type = CWMP_REBOOT_RESPONSE }, "{}" },
    { "factory_reset", NULL, { .type = CWMP_FACTORY_RESET_RESPONSE }, "{}" },
    { "get_names", "{\"path\":\"Device.IP.\",\"next_level\":false}",
      { .type = CWMP_GET_PARAMETER_NAMES_RESPONSE, .params = gpn_params, .n_params = 2 },
      "{\"parameters\":[{\"name\":\"Device.IP.\",\"writable\":false},"
      "{\"name\":\"Device.IP.Interface.1.Enable\",\"writable\":true}]}" },
    { "add_object", "{\"object\":\"Device.IP.Interface.\"}",
      { .type = CWMP_ADD_OBJECT_RESPONSE, .instance_number = 3 },
      "{\"instance_number\":3,\"status\":0}" },
    { "delete_object", "{\"object\":\"Device.IP.Interface.3.\",\"parameter_key\":\"\"}",
      { .type = CWMP_DELETE_OBJECT_RESPONSE }, "{\"status\":0}" },
    { "get_attributes", "{\"names\":[\"Device.A\",\"Device.B\"]}",
      { .type = CWMP_GET_PARAMETER_ATTRIBUTES_RESPONSE, .params = gpa_params, .n_params = 2 },
      "{\"attributes\":[{\"name\":\"Device.A\",\"notification\":2,\"access_list\":[\"Subscriber\","
      "\"Other\"]},{\"name\":\"Device.B\",\"notification\":0,\"access_list\":[]}]}" },
    { "set_attributes", "{\"attributes\":[{\"name\":\"Device.A\",\"notification\":1}]}",
      { .type = CWMP_SET_PARAMETER_ATTRIBUTES_RESPONSE }, "{}" },
    { "download", "{\"url\":\"https://files.example/fw.bin\",\"file_size\":1000}",
      { .type = CWMP_DOWNLOAD_RESPONSE, .status = 0, .start_time = "2026-01-01T00:00:00Z",
        .complete_time = "2026-01-01T00:00:05Z" },
      "{\"status\":0,\"start_time\":\"2026-01-01T00:00:00Z\","
      "\"complete_time\":\"2026-01-01T00:00:05Z\"}" },
    { "upload", "{\"url\":\"ftp://files.example/cfg\"}",
      { .type = CWMP_UPLOAD_RESPONSE, .status = 1, .start_time = "0001-01-01T00:00:00Z",
        .complete_time = "0001-01-01T00:00:00Z" },
      "{\"status\":1,\"start_time\":\"0001-01-01T00:00:00Z\","
      "\"complete_time\":\"0001-01-01T00:00:00Z\"}" },
    { "schedule_inform", "{\"delay_seconds\":30}", { .type = CWMP_SCHEDULE_INFORM_RESPONSE }, "{}" },
    { "get_rpc_methods", NULL,
      { .type = CWMP_GET_RPC_METHODS_RESPONSE, .names = methods, .n_names = 2 },
      "{\"methods\":[\"GetRPCMethods\",\"Inform\"]}" },
};

static const struct sample *sample_of(const char *type)
{
    for (size_t i = 0; i < sizeof samples / sizeof samples[0]; i++)
        if (strcmp(samples[i].type, type) == 0)
            return &samples[i];
    return NULL;
}

static json_t *request(const struct sample *s)
{
    char body[1024];
    snprintf(body, sizeof body, "{\"type\":\"%s\"%s%s}", s->type, s->request ? ",\"parameters\":" : "",
             s->request ? s->request : "");
    json_t *b = json_loads(body, 0, NULL);
    assert_non_null(b);
    return b;
}

/* The rows are consistent: names unique, the expected response is the
 * codec's for the RPC, required keys are allowed keys. */
static void test_rows(void **state)
{
    (void)state;
    assert_true(acs_task_ntypes > 0);
    for (size_t i = 0; i < acs_task_ntypes; i++) {
        const acs_task_type_t *t = &acs_task_types[i];
        assert_ptr_equal(acs_task_type(t->name), t);
        assert_int_equal(t->response, cwmp_response_type(t->rpc));
        assert_int_equal(acs_task_response_type(t->name), t->response);
        for (const char *const *r = t->required; *r; r++) {
            bool allowed = false;
            for (const char *const *f = t->fields; *f; f++)
                allowed |= strcmp(*f, *r) == 0;
            if (!allowed)
                fail_msg("%s: required '%s' is not an allowed field", t->name, *r);
        }
        if (!sample_of(t->name))
            fail_msg("%s: no sample in this test", t->name);
    }
    assert_null(acs_task_type("bogus"));
    assert_int_equal(acs_task_response_type("bogus"), CWMP_NONE);
}

/* The requeue flags are the documented ones (docs/acs.md, "Tasks"), and
 * the list the start-up recovery gives the store says the same. */
static void test_requeue(void **state)
{
    (void)state;
    static const char *const safe[] = { "get_params", "set_params", "get_names", "get_attributes",
                                        "set_attributes", "schedule_inform", "get_rpc_methods" };
    const char *list[32];
    size_t n = acs_task_requeue_list(list, 32);
    assert_int_equal(n, sizeof safe / sizeof safe[0]);
    assert_null(list[n]);
    for (size_t i = 0; i < acs_task_ntypes; i++) {
        const char *name = acs_task_types[i].name;
        bool want = false, listed = false;
        for (size_t k = 0; k < sizeof safe / sizeof safe[0]; k++)
            want |= strcmp(safe[k], name) == 0;
        for (size_t k = 0; k < n; k++)
            listed |= strcmp(list[k], name) == 0;
        assert_int_equal(acs_task_requeue_safe(name), want);
        assert_int_equal(listed, want);
    }
    assert_false(acs_task_requeue_safe("bogus"));
    /* a short buffer is cut, still terminated */
    assert_int_equal(acs_task_requeue_list(list, 3), 2);
    assert_null(list[2]);
}

static char *encode(const cwmp_msg_t *m)
{
    buf_t out = BUF_INIT(1 << 20);
    int rc = cwmp_encode(&out, m);
    if (rc != 0)
        fail_msg("%s: encode %d", cwmp_type_name(m->type), rc);
    return buf_steal(&out, NULL);
}

/* Request -> RPC -> envelope -> decoded: the row's RPC; the stored JSON
 * text (the session's path) gives the same envelope as the tree. */
static void test_rpc_round_trip(void **state)
{
    (void)state;
    cwmp_decode_opts_t o = { 0 };
    cwmp_decoder_t *d = cwmp_decoder_new(&o);
    assert_non_null(d);
    for (size_t i = 0; i < acs_task_ntypes; i++) {
        const acs_task_type_t *t = &acs_task_types[i];
        json_t *body = request(sample_of(t->name)), *params;
        const char *type;
        char err[256], key[40], key2[40];
        if (acs_task_validate(body, &type, &params, err, sizeof err) != 0)
            fail_msg("%s: %s", t->name, err);
        assert_string_equal(type, t->name);

        cwmp_msg_t m = { .ns = CWMP_NS_1_2, .id = "7" }, m2 = m;
        acs_rpc_scratch_t sc, sc2;
        assert_int_equal(acs_task_to_rpc(type, params, 7, &m, &sc, key, sizeof key), 0);
        assert_int_equal(m.type, t->rpc);
        char *xml = encode(&m);

        char *stored = json_dumps(params, JSON_COMPACT);
        assert_int_equal(acs_task_rpc_text(type, stored, 7, &m2, &sc2, key2, sizeof key2), 0);
        char *xml2 = encode(&m2);
        assert_string_equal(xml, xml2);
        assert_string_equal(key2, "task-7");

        const cwmp_msg_t *back;
        assert_int_equal(cwmp_decode(d, xml, strlen(xml), &back), 0);
        assert_int_equal(back->type, t->rpc);
        assert_string_equal(back->id, "7");
        if (t->rpc == CWMP_REBOOT || t->rpc == CWMP_DOWNLOAD || t->rpc == CWMP_UPLOAD ||
            t->rpc == CWMP_SCHEDULE_INFORM)
            assert_string_equal(back->command_key, "task-7"); /* comes back: finds the task */
        acs_rpc_scratch_free(&sc);
        acs_rpc_scratch_free(&sc2);
        free(xml);
        free(xml2);
        free(stored);
        json_decref(params);
        json_decref(body);
    }
    /* no parameters stored at all (NULL), and an unknown type */
    cwmp_msg_t m = { .ns = CWMP_NS_1_2 };
    acs_rpc_scratch_t sc;
    char key[40];
    assert_int_equal(acs_task_rpc_text("reboot", NULL, 9, &m, &sc, key, sizeof key), 0);
    assert_string_equal(m.command_key, "task-9");
    acs_rpc_scratch_free(&sc);
    assert_int_equal(acs_task_rpc_text("bogus", "{}", 9, &m, &sc, key, sizeof key), -EINVAL);
    acs_rpc_scratch_free(&sc);
    cwmp_decoder_free(d);
}

/* Response (as a CPE encodes it) -> decoded -> the row's result; the fast
 * text agrees with the tree. */
static void test_result_round_trip(void **state)
{
    (void)state;
    cwmp_decode_opts_t o = { 0 };
    cwmp_decoder_t *d = cwmp_decoder_new(&o);
    assert_non_null(d);
    for (size_t i = 0; i < acs_task_ntypes; i++) {
        const acs_task_type_t *t = &acs_task_types[i];
        const struct sample *s = sample_of(t->name);
        cwmp_msg_t r = s->response;
        r.ns = CWMP_NS_1_2;
        r.id = "7";
        assert_int_equal(r.type, t->response);
        char *xml = encode(&r);
        const cwmp_msg_t *back;
        assert_int_equal(cwmp_decode(d, xml, strlen(xml), &back), 0);
        assert_int_equal(back->type, t->response);

        json_t *tree = acs_result_json(back), *want = json_loads(s->result, 0, NULL);
        char *text = acs_result_text(back);
        json_t *from_text = json_loads(text, 0, NULL);
        assert_non_null(want);
        if (!json_equal(tree, want) || !json_equal(from_text, want)) {
            char *got = json_dumps(tree, JSON_COMPACT);
            fail_msg("%s: result %s / %s, want %s", t->name, got, text, s->result);
        }
        json_decref(tree);
        json_decref(want);
        json_decref(from_text);
        free(text);
        free(xml);
    }
    cwmp_decoder_free(d);
}

/* A Fault and a TransferComplete are nobody's row: their results. */
static void test_result_fault_transfer(void **state)
{
    (void)state;
    cwmp_spv_fault_t spv[1] = { { .name = "A.B", .code = 9007, .string = "bad value" } };
    cwmp_msg_t f = { .type = CWMP_FAULT, .fault = { .code = 9003, .string = "x", .spv = spv, .n_spv = 1 } };
    char *text = acs_result_text(&f);
    assert_string_equal(text, "{\"set_parameter_values_faults\":[{\"name\":\"A.B\",\"code\":9007,"
                              "\"message\":\"bad value\"}]}");
    free(text);
    f.fault.n_spv = 0;
    text = acs_result_text(&f);
    assert_string_equal(text, "{}");
    free(text);
    cwmp_msg_t tc = { .type = CWMP_TRANSFER_COMPLETE, .fault_code = 9010,
                      .start_time = "2026-01-01T00:00:00Z" };
    text = acs_result_text(&tc);
    assert_string_equal(text, "{\"fault_code\":9010,\"start_time\":\"2026-01-01T00:00:00Z\"}");
    free(text);
}

/* The parameter rows kept of a decoded list outlive the message. */
static void test_copy_params(void **state)
{
    (void)state;
    cwmp_param_t p[2] = { { .name = "A.B", .value = "v1", .type = "xsd:string" },
                          { .name = "A.C", .value = "", .type = NULL, .writable = true } };
    cwmp_msg_t m = { .type = CWMP_GET_PARAMETER_VALUES_RESPONSE, .params = p, .n_params = 2 };
    store_param_t *rows;
    char *strings;
    size_t n;
    assert_int_equal(acs_copy_params(&m, true, &rows, &strings, &n), 0);
    assert_int_equal(n, 2);
    p[0].name = p[0].value = "gone";
    assert_string_equal(rows[0].name, "A.B");
    assert_string_equal(rows[0].value, "v1");
    assert_string_equal(rows[0].type, "xsd:string");
    assert_string_equal(rows[1].type, "");
    assert_int_equal(rows[1].writable, -1); /* values say nothing of writability */
    free(rows);
    free(strings);
    assert_int_equal(acs_copy_params(&m, false, &rows, &strings, &n), 0);
    assert_null(rows[1].value);
    assert_int_equal(rows[1].writable, 1);
    free(rows);
    free(strings);
    m.n_params = 0;
    assert_int_equal(acs_copy_params(&m, true, &rows, &strings, &n), 0);
    assert_int_equal(n, 0);
    free(rows);
    free(strings);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rows),
        cmocka_unit_test(test_requeue),
        cmocka_unit_test(test_rpc_round_trip),
        cmocka_unit_test(test_result_round_trip),
        cmocka_unit_test(test_result_fault_transfer),
        cmocka_unit_test(test_copy_params),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
