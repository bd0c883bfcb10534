/* Unit tests of the store's history side: who set a value and when (also in
 * the bounded history), names with writable flags in multi-row statements,
 * notification attributes, the inform interval, open faults. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "store/store.h"
#include "store_test_db.h"

static char dbpath[TEST_DB_MAX];

static int setup(void **state)
{
    assert_int_equal(test_db_new(dbpath, sizeof dbpath, "/tmp/store-hist-XXXXXX"), 0);
    store_t *s;
    store_opts_t o = { .param_history = 3 };
    assert_int_equal(store_open(dbpath, &o, &s), 0);
    *state = s;
    store_device_t d = { .first_seen = 10, .last_inform = 10 };
    snprintf(d.id, sizeof d.id, "D1");
    assert_int_equal(store_device_inform(s, &d, false), 0);
    snprintf(d.id, sizeof d.id, "D2");
    assert_int_equal(store_device_inform(s, &d, false), 0);
    return 0;
}

static int teardown(void **state)
{
    store_close(*state);
    test_db_drop(dbpath);
    return 0;
}

typedef struct rows {
    size_t n;
    char name[80][96], value[80][32], set_by[80][8], al[80][32];
    int writable[80], notification[80];
    int64_t set_at[80], updated[80];
} rows_t;

static int collect(const store_param_t *p, void *ud)
{
    rows_t *r = ud;
    if (r->n >= 80)
        return 1;
    snprintf(r->name[r->n], sizeof r->name[0], "%s", p->name);
    snprintf(r->value[r->n], sizeof r->value[0], "%s", p->value ? p->value : "(null)");
    snprintf(r->set_by[r->n], sizeof r->set_by[0], "%s", p->set_by ? p->set_by : "-");
    snprintf(r->al[r->n], sizeof r->al[0], "%s", p->access_list ? p->access_list : "-");
    r->writable[r->n] = p->writable;
    r->notification[r->n] = p->notification;
    r->set_at[r->n] = p->set_at;
    r->updated[r->n] = p->updated;
    r->n++;
    return 0;
}

static store_param_t val(const char *name, const char *value, const char *by)
{
    return (store_param_t){ .name = name, .value = value, .type = "xsd:string", .writable = -1,
                            .set_by = by };
}

static void test_set_by_and_history(void **state)
{
    store_t *s = *state;
    store_param_t p = val("A.X", "1", NULL);
    assert_int_equal(store_params_put(s, "D1", &p, 1, 100), 0);
    p = val("A.X", "2", STORE_SET_BY_ACS);
    assert_int_equal(store_params_put(s, "D1", &p, 1, 200), 0);
    /* reported again unchanged: still the ACS's, set at 200 (read at 300) */
    p = val("A.X", "2", NULL);
    assert_int_equal(store_params_put(s, "D1", &p, 1, 300), 0);
    rows_t r = { 0 };
    assert_int_equal(store_params_list(s, "D1", "A.X", collect, &r), 0);
    assert_int_equal(r.n, 1);
    assert_string_equal(r.set_by[0], "acs");
    assert_int_equal(r.set_at[0], 200);
    assert_int_equal(r.updated[0], 300);
    /* the CPE changes it: the ACS's value goes into the history with its time */
    p = val("A.X", "3", NULL);
    assert_int_equal(store_params_put(s, "D1", &p, 1, 400), 0);
    memset(&r, 0, sizeof r);
    assert_int_equal(store_param_history(s, "D1", "A.X", collect, &r), 0);
    assert_int_equal(r.n, 2);
    assert_string_equal(r.value[0], "2");
    assert_string_equal(r.set_by[0], "acs");
    assert_int_equal(r.set_at[0], 200);
    assert_string_equal(r.value[1], "1");
    assert_string_equal(r.set_by[1], "cpe");
    assert_int_equal(r.set_at[1], 100);
    /* bounded: 3 old values per parameter */
    for (int i = 0; i < 5; i++) {
        char v[8];
        snprintf(v, sizeof v, "v%d", i);
        p = val("A.X", v, NULL);
        assert_int_equal(store_params_put(s, "D1", &p, 1, 500 + i), 0);
    }
    memset(&r, 0, sizeof r);
    assert_int_equal(store_param_history(s, "D1", "A.X", collect, &r), 0);
    assert_int_equal(r.n, 3);
    assert_string_equal(r.value[0], "v3");
}

/* 70 names with writable flags (two multi-row runs and a tail) keep the
 * values stored before; a run with a name twice falls back to rows. */
static void test_names_many(void **state)
{
    store_t *s = *state;
    char names[70][32];
    store_param_t p[70];
    for (int i = 0; i < 70; i++) {
        snprintf(names[i], sizeof names[i], "B.P%02d", i == 7 ? 6 : i);
        p[i] = val(names[i], "x", NULL);
    }
    assert_int_equal(store_params_put(s, "D1", p, 70, 100), 0);
    for (int i = 0; i < 70; i++)
        p[i] = (store_param_t){ .name = names[i], .writable = i % 2 };
    assert_int_equal(store_params_put(s, "D1", p, 70, 200), 0);
    rows_t r = { 0 };
    assert_int_equal(store_params_list(s, "D1", "B.", collect, &r), 0);
    assert_int_equal(r.n, 69);
    for (size_t i = 0; i < r.n; i++) {
        int k = atoi(r.name[i] + 3);
        assert_string_equal(r.value[i], "x");
        assert_int_equal(r.writable[i], k == 6 ? 1 : k % 2); /* the later of the twice-named wins */
    }
    /* names alone make rows without values */
    for (int i = 0; i < 40; i++) {
        snprintf(names[i], sizeof names[i], "C.N%02d", i);
        p[i] = (store_param_t){ .name = names[i], .writable = 1 };
    }
    assert_int_equal(store_params_put(s, "D2", p, 40, 300), 0);
    memset(&r, 0, sizeof r);
    assert_int_equal(store_params_list(s, "D2", "C.", collect, &r), 0);
    assert_int_equal(r.n, 40);
    assert_string_equal(r.value[39], "(null)");
    assert_int_equal(r.writable[39], 1);
}

static void test_attributes_and_interval(void **state)
{
    store_t *s = *state;
    store_param_t p[] = { val("W.R.1.Channel", "6", NULL), val("W.R.1.Name", "r", NULL),
                          val("W.S.1.SSID", "n", NULL) };
    assert_int_equal(store_params_put(s, "D1", p, 3, 100), 0);
    store_param_attr_t a[] = {
        { "W.R.", 2, NULL },             /* a partial path: everything under it */
        { "W.S.1.SSID", -1, "Subscriber" },
        { "W.New", 1, "" },              /* unknown: made, without a value */
    };
    assert_int_equal(store_params_set_attributes(s, "D1", a, 3, 200), 0);
    rows_t r = { 0 };
    assert_int_equal(store_params_list(s, "D1", "W.", collect, &r), 0);
    assert_int_equal(r.n, 4);
    assert_string_equal(r.name[0], "W.New");
    assert_int_equal(r.notification[0], 1);
    assert_string_equal(r.al[0], "");
    assert_string_equal(r.value[0], "(null)");
    assert_int_equal(r.notification[1], 2);
    assert_int_equal(r.notification[2], 2);
    assert_string_equal(r.al[1], "-");
    assert_int_equal(r.notification[3], -1);
    assert_string_equal(r.al[3], "Subscriber");
    /* a value written later keeps its attributes */
    store_param_t c = val("W.R.1.Channel", "11", NULL);
    assert_int_equal(store_params_put(s, "D1", &c, 1, 300), 0);
    memset(&r, 0, sizeof r);
    assert_int_equal(store_params_list(s, "D1", "W.R.1.Channel", collect, &r), 0);
    assert_int_equal(r.notification[0], 2);
    assert_int_equal(store_params_set_attributes(s, "NOPE", a, 1, 1), -ENOENT);

    store_device_facts_t f = STORE_DEVICE_FACTS_NONE;
    f.interval = 60;
    assert_int_equal(store_device_set_facts(s, "D1", &f), 0);
    store_device_t d;
    assert_int_equal(store_device_get(s, "D1", &d), 0);
    assert_int_equal(d.periodic_interval, 60);
    assert_string_equal(d.cr_udp, ""); /* never reported */
    assert_false(d.cr_nat);
    /* an Inform without one keeps it */
    d.periodic_interval = 0;
    assert_int_equal(store_device_inform(s, &d, false), 0);
    assert_int_equal(store_device_get(s, "D1", &d), 0);
    assert_int_equal(d.periodic_interval, 60);
    assert_int_equal(store_device_set_facts(s, "NOPE", &f), -ENOENT);

    /* the reach facts: each kept until learnt again, whatever else is set */
    f = STORE_DEVICE_FACTS_NONE;
    f.nat = 1;
    f.has_udp = true;
    strcpy(f.cr_udp, "198.18.0.7:7547");
    f.cr_udp_at = 400;
    f.has_jid = true;
    strcpy(f.cr_jid, "cpe1@xmpp.example/cwmp");
    assert_int_equal(store_device_set_facts(s, "D1", &f), 0);
    f = STORE_DEVICE_FACTS_NONE;
    f.interval = 90;
    assert_int_equal(store_device_set_facts(s, "D1", &f), 0);
    d.periodic_interval = 0;
    assert_int_equal(store_device_inform(s, &d, false), 0); /* leaves them alone */
    assert_int_equal(store_device_get(s, "D1", &d), 0);
    assert_int_equal(d.periodic_interval, 90);
    assert_true(d.cr_nat);
    assert_string_equal(d.cr_udp, "198.18.0.7:7547");
    assert_int_equal(d.cr_udp_at, 400);
    assert_string_equal(d.cr_jid, "cpe1@xmpp.example/cwmp");
    /* an empty value learnt clears; NAT learnt off */
    f = STORE_DEVICE_FACTS_NONE;
    f.nat = 0;
    f.has_udp = true;
    f.cr_udp_at = 500;
    assert_int_equal(store_device_set_facts(s, "D1", &f), 0);
    assert_int_equal(store_device_get(s, "D1", &d), 0);
    assert_false(d.cr_nat);
    assert_string_equal(d.cr_udp, "");
    assert_string_equal(d.cr_jid, "cpe1@xmpp.example/cwmp");
}

typedef struct faults {
    size_t n;
    store_fault_t f[8];
} faults_t;

static int take_fault(const store_fault_t *f, void *ud)
{
    faults_t *l = ud;
    if (l->n < 8)
        l->f[l->n++] = *f;
    return 0;
}

static int64_t failed_task(store_t *s, const char *dev, int code, int64_t at)
{
    store_task_t t = { .created = at, .params = "{\"names\":[\"A.\"]}" };
    snprintf(t.device_id, sizeof t.device_id, "%s", dev);
    snprintf(t.type, sizeof t.type, "get_params");
    assert_int_equal(store_task_add(s, &t), 0);
    assert_int_equal(store_task_mark_sent(s, t.id, at), 0);
    assert_int_equal(store_task_finish(s, t.id, STORE_TASK_FAILED, NULL, code, "bad", at), 0);
    return t.id;
}

static void test_faults(void **state)
{
    store_t *s = *state;
    int64_t t1 = failed_task(s, "D1", 9005, 100), t2 = failed_task(s, "D2", 9002, 300);
    store_preset_run_t r = { .status = STORE_PRESET_FAULT, .fault_code = 9005, .tries = 2,
                             .next_retry = 900, .updated = 200 };
    snprintf(r.device_id, sizeof r.device_id, "D2");
    snprintf(r.preset, sizeof r.preset, "wifi");
    snprintf(r.fault_message, sizeof r.fault_message, "no such parameter");
    assert_int_equal(store_preset_run_put(s, &r), 0);
    snprintf(r.preset, sizeof r.preset, "fine");
    r.status = STORE_PRESET_DONE;
    assert_int_equal(store_preset_run_put(s, &r), 0);

    faults_t l = { 0 };
    int64_t total = 0;
    store_fault_filter_t all = { 0 };
    assert_int_equal(store_fault_list(s, &all, &total, take_fault, &l), 0);
    assert_int_equal(total, 3);
    assert_int_equal(l.n, 3); /* newest first */
    assert_int_equal(l.f[0].task_id, t2);
    assert_int_equal(l.f[1].kind, STORE_FAULT_PRESET);
    assert_string_equal(l.f[1].preset, "wifi");
    assert_string_equal(l.f[1].message, "no such parameter");
    assert_int_equal(l.f[1].next_retry, 900);
    assert_int_equal(l.f[2].task_id, t1);
    assert_string_equal(l.f[2].task_type, "get_params");
    /* filters and paging */
    store_fault_filter_t f = { .code = 9005 };
    memset(&l, 0, sizeof l);
    assert_int_equal(store_fault_list(s, &f, &total, take_fault, &l), 0);
    assert_int_equal(total, 2);
    f = (store_fault_filter_t){ .device = "D2", .kind = STORE_FAULT_TASK };
    memset(&l, 0, sizeof l);
    assert_int_equal(store_fault_list(s, &f, &total, take_fault, &l), 0);
    assert_true(total == 1 && l.n == 1 && l.f[0].task_id == t2);
    f = (store_fault_filter_t){ .limit = 1, .offset = 1 };
    memset(&l, 0, sizeof l);
    assert_int_equal(store_fault_list(s, &f, &total, take_fault, &l), 0);
    assert_true(total == 3 && l.n == 1 && l.f[0].kind == STORE_FAULT_PRESET);

    /* clear, retry */
    assert_int_equal(store_task_fault_clear(s, t1, 400), 0);
    assert_int_equal(store_task_fault_clear(s, t1, 400), -ESTALE);
    assert_int_equal(store_task_fault_clear(s, 999, 400), -ENOENT);
    store_task_t nt;
    assert_int_equal(store_task_fault_retry(s, t2, 500, 600, &nt), 0);
    assert_true(nt.id > t2 && nt.status == STORE_TASK_PENDING && nt.expires_at == 600);
    assert_string_equal(nt.device_id, "D2");
    assert_string_equal(nt.params, "{\"names\":[\"A.\"]}");
    store_task_clear(&nt);
    assert_int_equal(store_task_fault_retry(s, t2, 500, 600, &nt), -ESTALE);
    assert_int_equal(store_task_fault_retry(s, nt.id, 500, 600, &nt), -ESTALE); /* pending, not failed */
    assert_int_equal(store_preset_run_forget_fault(s, "D2", "fine"), -ESTALE);
    assert_int_equal(store_preset_run_forget_fault(s, "D2", "none"), -ENOENT);
    assert_int_equal(store_preset_run_forget_fault(s, "D2", "wifi"), 0);
    memset(&l, 0, sizeof l);
    assert_int_equal(store_fault_list(s, &all, &total, take_fault, &l), 0);
    assert_int_equal(total, 0);
}

static int take_id(const char *id, void *ud)
{
    char *out = ud;
    strcat(out, id);
    strcat(out, ",");
    return 0;
}

static void test_session_log_devices(void **state)
{
    store_t *s = *state;
    char ids[64] = "";
    assert_int_equal(store_device_session_log_list(s, take_id, ids), 0);
    assert_string_equal(ids, "");
    assert_int_equal(store_device_set_session_log(s, "D2", true), 0);
    assert_int_equal(store_device_set_session_log(s, "NOPE", true), -ENOENT);
    assert_int_equal(store_device_session_log_list(s, take_id, ids), 0);
    assert_string_equal(ids, "D2,");
    assert_int_equal(store_device_set_session_log(s, "D2", false), 0);
    ids[0] = '\0';
    assert_int_equal(store_device_session_log_list(s, take_id, ids), 0);
    assert_string_equal(ids, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_set_by_and_history, setup, teardown),
        cmocka_unit_test_setup_teardown(test_names_many, setup, teardown),
        cmocka_unit_test_setup_teardown(test_attributes_and_interval, setup, teardown),
        cmocka_unit_test_setup_teardown(test_faults, setup, teardown),
        cmocka_unit_test_setup_teardown(test_session_log_devices, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
