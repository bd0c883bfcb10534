/* Unit tests of the live events' pure pieces (src/acs/acs_evbus.c): the
 * types= filter, the SSE wire format, the lines events travel in between
 * nodes, the per-minute ring. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "acs/acs_events.h"

static void test_types_parse(void **state)
{
    (void)state;
    uint32_t m;
    char err[128];
    assert_int_equal(acs_ev_types_parse(NULL, &m, err, sizeof err), 0);
    assert_int_equal(m, ACS_EV_ALL);
    assert_int_equal(acs_ev_types_parse("", &m, err, sizeof err), 0);
    assert_int_equal(m, ACS_EV_ALL);
    assert_int_equal(acs_ev_types_parse("task", &m, err, sizeof err), 0);
    assert_int_equal(m, 1u << ACS_EV_TASK);
    assert_int_equal(acs_ev_types_parse("fault,task,bulk", &m, err, sizeof err), 0);
    assert_int_equal(m, (1u << ACS_EV_TASK) | (1u << ACS_EV_FAULT) | (1u << ACS_EV_BULK));
    assert_int_equal(acs_ev_types_parse("task,task", &m, err, sizeof err), 0);
    assert_int_equal(m, 1u << ACS_EV_TASK);
    /* unknown names, empty items, prefixes and case are refused, with the name */
    assert_int_equal(acs_ev_types_parse("task,nope", &m, err, sizeof err), -EINVAL);
    assert_non_null(strstr(err, "'nope'"));
    assert_int_equal(m, 0);
    assert_int_equal(acs_ev_types_parse("task,", &m, err, sizeof err), -EINVAL);
    assert_int_equal(acs_ev_types_parse(",task", &m, err, sizeof err), -EINVAL);
    assert_int_equal(acs_ev_types_parse("tas", &m, err, sizeof err), -EINVAL);
    assert_int_equal(acs_ev_types_parse("tasks", &m, err, sizeof err), -EINVAL);
    assert_int_equal(acs_ev_types_parse("Task", &m, err, sizeof err), -EINVAL);
    /* a long unknown name is cut in the message, never overflows it */
    char longname[600];
    memset(longname, 'x', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    assert_int_equal(acs_ev_types_parse(longname, &m, err, sizeof err), -EINVAL);
    assert_true(strlen(err) < sizeof err);
    for (int t = 0; t < ACS_EV_TYPES; t++) {
        assert_int_equal(acs_ev_types_parse(acs_ev_type_name((acs_ev_type_t)t), &m, err, sizeof err), 0);
        assert_int_equal(m, 1u << t);
    }
    assert_null(acs_ev_type_name(ACS_EV_TYPES));
}

static void test_format(void **state)
{
    (void)state;
    buf_t b = BUF_INIT(4096);
    /* a value with a newline and a NUL-free control character stays on one data line */
    json_t *d = json_pack("{s:s, s:i}", "device", "A\n\nB\r", "id", 7);
    assert_int_equal(acs_ev_format(&b, 42, ACS_EV_TASK, d), 0);
    char *s = strndup(b.data, b.len);
    assert_string_equal(s, "id: 42\nevent: task\ndata: {\"device\":\"A\\n\\nB\\r\",\"id\":7}\n\n");
    free(s);
    assert_int_equal(acs_ev_format(&b, 1, ACS_EV_TYPES, d), -EINVAL);
    /* the buffer's cap holds */
    buf_t small = BUF_INIT(16);
    assert_int_not_equal(acs_ev_format(&small, 1, ACS_EV_TASK, d), 0);
    assert_true(small.len <= 16);
    buf_free(&small);
    buf_free(&b);
    json_decref(d);
}

static int64_t bucket(json_t *h, size_t i, const char *k)
{
    return json_integer_value(json_object_get(json_array_get(json_object_get(h, "buckets"), i), k));
}

typedef struct got {
    int n;
    acs_ev_type_t t[8];
    char device[8][64];
    char json[8][128];
} got_t;

static int got_one(acs_ev_type_t t, const char *device, const json_t *data, void *ud)
{
    got_t *g = ud;
    if (g->n >= 8)
        return 1;
    g->t[g->n] = t;
    snprintf(g->device[g->n], sizeof g->device[0], "%s", device ? device : "(none)");
    char *s = json_dumps(data, JSON_COMPACT | JSON_SORT_KEYS);
    snprintf(g->json[g->n], sizeof g->json[0], "%s", s);
    free(s);
    g->n++;
    return 0;
}

static void test_share_lines(void **state)
{
    (void)state;
    buf_t b = BUF_INIT(200);
    json_t *inform = json_pack("{s:s, s:[s]}", "device", "OUI-PC-SN1", "events", "1 BOOT");
    json_t *bulk = json_pack("{s:i}", "id", 7);
    assert_int_equal(acs_ev_share_put(&b, ACS_EV_INFORM, "OUI-PC-SN1", inform), 0);
    assert_int_equal(acs_ev_share_put(&b, ACS_EV_BULK, NULL, bulk), 0);
    assert_string_equal(b.data, "inform OUI-PC-SN1 {\"device\":\"OUI-PC-SN1\",\"events\":[\"1 BOOT\"]}\n"
                                "bulk - {\"id\":7}\n");
    /* a line that does not fit is not written in part */
    size_t len = b.len;
    char x[150];
    memset(x, 'x', sizeof x - 1);
    x[sizeof x - 1] = '\0';
    json_t *big = json_pack("{s:s}", "x", x);
    assert_int_equal(acs_ev_share_put(&b, ACS_EV_FAULT, "D", big), -ENOBUFS);
    assert_int_equal(b.len, len);
    /* no device written as "-", none with a space or a newline; no type beyond the table */
    assert_int_equal(acs_ev_share_put(&b, ACS_EV_TASK, "-", bulk), -EINVAL);
    assert_int_equal(acs_ev_share_put(&b, ACS_EV_TASK, "a b", bulk), -EINVAL);
    assert_int_equal(acs_ev_share_put(&b, ACS_EV_TASK, "a\nb", bulk), -EINVAL);
    assert_int_equal(acs_ev_share_put(&b, ACS_EV_TYPES, "D", bulk), -EINVAL);
    assert_int_equal(b.len, len);

    got_t g = { 0 };
    assert_int_equal(acs_ev_share_parse(b.data, b.len, got_one, &g), 2);
    assert_int_equal(g.t[0], ACS_EV_INFORM);
    assert_string_equal(g.device[0], "OUI-PC-SN1");
    assert_string_equal(g.json[0], "{\"device\":\"OUI-PC-SN1\",\"events\":[\"1 BOOT\"]}");
    assert_int_equal(g.t[1], ACS_EV_BULK);
    assert_string_equal(g.device[1], "(none)");

    /* lines that are not events are skipped, the others kept; the last
     * line needs no newline */
    static const char mixed[] = "nope D {}\n"
                                "inform D\n"
                                "inform  {}\n"
                                "inform D [1]\n"
                                "inform D {\"a\":1,\"a\":2}\n"
                                "inform D {bad\n"
                                "\n"
                                "device D2 {\"state\":\"online\"}\n"
                                "fault D3 {\"code\":9002}";
    memset(&g, 0, sizeof g);
    assert_int_equal(acs_ev_share_parse(mixed, sizeof mixed - 1, got_one, &g), 2);
    assert_int_equal(g.t[0], ACS_EV_DEVICE);
    assert_string_equal(g.device[0], "D2");
    assert_int_equal(g.t[1], ACS_EV_FAULT);
    assert_string_equal(g.json[1], "{\"code\":9002}");
    /* the callback's nonzero return stops the walk */
    g.n = 8;
    assert_int_equal(acs_ev_share_parse(mixed, sizeof mixed - 1, got_one, &g), 1);
    json_decref(inform);
    json_decref(bulk);
    json_decref(big);
    buf_free(&b);
}

static void test_ring(void **state)
{
    (void)state;
    acs_evring_t *r = calloc(1, sizeof *r);
    assert_non_null(r);
    int64_t t0 = 1700000000 / 60 * 60; /* a minute's start */
    acs_evring_note(r, t0, ACS_EVSTAT_INFORMS, 1);
    acs_evring_note(r, t0 + 59, ACS_EVSTAT_INFORMS, 2);
    acs_evring_note(r, t0 + 60, ACS_EVSTAT_INFORMS, 5);
    acs_evring_note(r, t0 + 60, ACS_EVSTAT_SESSIONS, 3);
    acs_evring_note(r, t0 + 61, ACS_EVSTAT_SESSIONS, 2); /* sessions: the most at once */
    acs_evring_note(r, t0 + 61, ACS_EVSTAT_FAULTS, 1);
    json_t *h = acs_evring_json(r, t0 + 150, 4); /* minutes t0-60 .. t0+120 */
    assert_int_equal(json_integer_value(json_object_get(h, "from")), t0 - 60);
    assert_int_equal(json_integer_value(json_object_get(h, "to")), t0 + 179);
    assert_int_equal(json_array_size(json_object_get(h, "buckets")), 4);
    assert_int_equal(bucket(h, 0, "t"), t0 - 60);
    assert_int_equal(bucket(h, 0, "informs"), 0);
    assert_int_equal(bucket(h, 1, "informs"), 3);
    assert_int_equal(bucket(h, 2, "informs"), 5);
    assert_int_equal(bucket(h, 2, "sessions"), 3);
    assert_int_equal(bucket(h, 2, "faults"), 1);
    assert_int_equal(bucket(h, 3, "informs"), 0);
    json_decref(h);
    /* a day later the same slots hold new minutes: the old counts are gone */
    int64_t day = (int64_t)ACS_EVRING_MINUTES * 60;
    acs_evring_note(r, t0 + day, ACS_EVSTAT_INFORMS, 1);
    h = acs_evring_json(r, t0 + day + 60, 2);
    assert_int_equal(bucket(h, 0, "informs"), 1);
    assert_int_equal(bucket(h, 1, "informs"), 0); /* t0+60's 5 were a day ago */
    json_decref(h);
    /* minutes are clamped to 1..the ring */
    h = acs_evring_json(r, t0, 100000);
    assert_int_equal(json_array_size(json_object_get(h, "buckets")), ACS_EVRING_MINUTES);
    json_decref(h);
    h = acs_evring_json(r, t0, 0);
    assert_int_equal(json_array_size(json_object_get(h, "buckets")), 1);
    json_decref(h);
    /* counts saturate instead of wrapping */
    acs_evring_note(r, t0, ACS_EVSTAT_TASKS_DONE, UINT32_MAX);
    acs_evring_note(r, t0, ACS_EVSTAT_TASKS_DONE, 5);
    h = acs_evring_json(r, t0, 1);
    assert_int_equal(bucket(h, 0, "tasks_done"), UINT32_MAX);
    json_decref(h);
    acs_evring_note(r, t0, ACS_EVSTATS, 1); /* unknown: ignored */
    free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_types_parse),
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_share_lines),
        cmocka_unit_test(test_ring),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
