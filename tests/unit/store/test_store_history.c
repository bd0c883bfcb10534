/* Unit tests of the store's history side: who set a value and when (also in
 * the bounded history), names with writable flags in multi-row statements,
 * the bounded history of 5,000 values changed at once, the history of
 * deleted parameters, notification
 * attributes, the inform interval, open faults. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
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

/* The history as "v@at,v@at" (newest first) */
static void history_is(store_t *s, const char *dev, const char *name, const char *want)
{
    rows_t r = { 0 };
    assert_int_equal(store_param_history(s, dev, name, collect, &r), 0);
    char got[512] = "";
    for (size_t i = 0; i < r.n; i++)
        snprintf(got + strlen(got), sizeof got - strlen(got), "%s%s@%lld", i ? "," : "",
                 r.value[i], (long long)r.set_at[i]);
    assert_string_equal(got, want);
}

static void put1(store_t *s, const char *name, const char *value, int64_t now)
{
    store_param_t p = val(name, value, NULL);
    assert_int_equal(store_params_put(s, "D1", &p, 1, now), 0);
}

/* A name alone, then a value, then the same value: no history. A deleted
 * parameter's old values outlive it (an object deleted, a BOOTSTRAP's
 * forgotten list), the same name made again adds to them and both are kept
 * to N = 3 together; a deleted device's go with it. Both backends. */
static void test_history_deleted(void **state)
{
    store_t *s = *state;
    put1(s, "A.X", NULL, 100);
    put1(s, "A.X", "1", 200);
    put1(s, "A.X", "1", 250);
    history_is(s, "D1", "A.X", "");
    put1(s, "A.X", "2", 300);
    put1(s, "A.X", "3", 400);
    put1(s, "A.Y", "y1", 400);
    put1(s, "A.Y", "y2", 450);
    history_is(s, "D1", "A.X", "2@300,1@200");
    assert_int_equal(store_params_delete_object(s, "D1", "A."), 0);
    history_is(s, "D1", "A.X", "2@300,1@200");
    history_is(s, "D1", "A.Y", "y1@400");
    put1(s, "A.X", "a", 500);
    history_is(s, "D1", "A.X", "2@300,1@200");
    put1(s, "A.X", "b", 600);
    history_is(s, "D1", "A.X", "a@500,2@300,1@200");
    put1(s, "A.X", "c", 700);
    history_is(s, "D1", "A.X", "b@600,a@500,2@300");
    assert_int_equal(store_params_delete_object(s, "D1", "A."), 0);
    history_is(s, "D1", "A.X", "b@600,a@500,2@300");
    put1(s, "A.X", "d", 800);
    put1(s, "A.X", "e", 900);
    history_is(s, "D1", "A.X", "d@800,b@600,a@500");
    /* a BOOTSTRAP forgets the parameters, not their old values */
    store_device_t d = { .first_seen = 10, .last_inform = 1000 };
    snprintf(d.id, sizeof d.id, "D1");
    assert_int_equal(store_device_inform(s, &d, true), 0);
    rows_t r = { 0 };
    assert_int_equal(store_params_list(s, "D1", "A.", collect, &r), 0);
    assert_int_equal(r.n, 0);
    history_is(s, "D1", "A.X", "d@800,b@600,a@500");
    history_is(s, "D1", "A.Y", "y1@400");
    /* a deleted device's history goes with it */
    put1(s, "A.X", "f", 1100);
    put1(s, "A.X", "g", 1200);
    assert_int_equal(store_device_delete(s, "D1"), 0);
    assert_int_equal(store_device_inform(s, &d, false), 0);
    history_is(s, "D1", "A.X", "");
    history_is(s, "D1", "A.Y", "");
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

/* ---- many values changed at once ---- */

enum { MANY = 5000, MANY_KEEP = 2 };
static char many_name[MANY + 1][40], many_value[MANY + 1][24];

/* Round r's value of parameter i: "r<r>-<i>"; round 3 reports every 7th
 * unchanged and every 11th (not 7th) as a name alone; round 4's last entry
 * is a new parameter instead of the last one. The ACS set even ones in
 * round 2. */
static void many_round(store_param_t *p, int r)
{
    for (int i = 0; i < MANY; i++) {
        bool same = r == 3 && i % 7 == 0, bare = r == 3 && !same && i % 11 == 0;
        snprintf(many_value[i], sizeof many_value[i], "r%d-%d", same ? 2 : r, i);
        p[i] = (store_param_t){ .name = many_name[i], .value = bare ? NULL : many_value[i],
                                .type = "xsd:string", .writable = bare ? 1 : -1,
                                .set_by = r == 2 && i % 2 == 0 ? STORE_SET_BY_ACS : NULL };
    }
    if (r == 4)
        p[MANY - 1] = (store_param_t){ .name = many_name[MANY], .value = "n", .writable = -1 };
}

/* What parameter i's history holds after rounds 0-4 (at 100, 200, ... 500),
 * newest first: an old value goes in when a different one replaces it,
 * with when (and by whom) it was set. */
static void many_expect(int i, int k, char *value, size_t n, int64_t *at, const char **by)
{
    int rounds[4], m = 0; /* the rounds whose value was replaced, newest first */
    bool kept3 = i % 7 == 0 || i % 11 == 0; /* round 3 changed nothing */
    if (i != MANY - 1)
        rounds[m++] = kept3 ? 2 : 3; /* replaced in round 4 */
    if (!kept3)
        rounds[m++] = 2;
    rounds[m++] = 1;
    rounds[m++] = 0;
    int r = rounds[k];
    snprintf(value, n, "r%d-%d", r, i);
    *at = 100 * (r + 1);
    *by = r == 2 && i % 2 == 0 ? "acs" : "cpe";
}

/* 5,000 values changed in one call (statements of several hundred rows
 * each), four calls running, with N = 2: every parameter keeps exactly its
 * 2 newest old values, each with when and by whom it was set; a value
 * reported unchanged, a name alone and a new parameter add none; another
 * device's history is its own; a smaller N trims a parameter at its next
 * change. Both backends (PostgreSQL keeps it per statement, SQLite per
 * row). */
static void test_history_many_changed(void **state)
{
    store_close(*state);
    store_t *s;
    store_opts_t o = { .param_history = MANY_KEEP };
    assert_int_equal(store_open(dbpath, &o, &s), 0);
    *state = s;
    for (int i = 0; i <= MANY; i++)
        snprintf(many_name[i], sizeof many_name[i], i < MANY ? "M.P.%d.V" : "M.New", i);
    store_param_t *p = calloc(MANY, sizeof *p);
    assert_non_null(p);
    store_param_t d2[] = { val(many_name[0], "d2-a", NULL), val(many_name[1], "d2-b", NULL) };
    assert_int_equal(store_params_put(s, "D2", d2, 2, 100), 0);
    for (int r = 0; r <= 4; r++) {
        many_round(p, r);
        assert_int_equal(store_params_put(s, "D1", p, MANY, 100 * (r + 1)), 0);
    }
    d2[0].value = "d2-c";
    assert_int_equal(store_params_put(s, "D2", d2, 1, 600), 0);
    for (int i = 0; i < MANY; i++) {
        rows_t r = { 0 };
        assert_int_equal(store_param_history(s, "D1", many_name[i], collect, &r), 0);
        if (r.n != MANY_KEEP)
            fail_msg("%s: %zu old values, not %d", many_name[i], r.n, MANY_KEEP);
        for (int k = 0; k < MANY_KEEP; k++) {
            char want[24];
            int64_t at;
            const char *by;
            many_expect(i, k, want, sizeof want, &at, &by);
            if (strcmp(r.value[k], want) != 0 || r.set_at[k] != at || strcmp(r.set_by[k], by) != 0)
                fail_msg("%s [%d]: %s at %lld by %s, not %s at %lld by %s", many_name[i], k,
                         r.value[k], (long long)r.set_at[k], r.set_by[k], want, (long long)at, by);
        }
    }
    rows_t r = { 0 };
    assert_int_equal(store_param_history(s, "D1", "M.New", collect, &r), 0);
    assert_int_equal(r.n, 0);
    assert_int_equal(store_param_history(s, "D2", many_name[0], collect, &r), 0);
    assert_int_equal(r.n, 1);
    assert_string_equal(r.value[0], "d2-a");
    assert_int_equal(r.set_at[0], 100);
    /* N = 1: a parameter changed now keeps one old value, one not changed
     * keeps its two until it changes */
    store_close(s);
    o.param_history = 1;
    assert_int_equal(store_open(dbpath, &o, &s), 0);
    *state = s;
    for (int i = 0; i < 10; i++)
        p[i] = val(many_name[i], "last", NULL);
    assert_int_equal(store_params_put(s, "D1", p, 10, 700), 0);
    for (int i = 0; i < 11; i++) {
        memset(&r, 0, sizeof r);
        assert_int_equal(store_param_history(s, "D1", many_name[i], collect, &r), 0);
        char want[24];
        int64_t at = 500;
        const char *by;
        if (i < 10)
            snprintf(want, sizeof want, "r4-%d", i);
        else
            many_expect(i, 0, want, sizeof want, &at, &by);
        assert_int_equal(r.n, i < 10 ? 1 : MANY_KEEP);
        assert_string_equal(r.value[0], want);
        assert_int_equal(r.set_at[0], at);
    }
    free(p);
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
        cmocka_unit_test_setup_teardown(test_history_many_changed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_history_deleted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_attributes_and_interval, setup, teardown),
        cmocka_unit_test_setup_teardown(test_faults, setup, teardown),
        cmocka_unit_test_setup_teardown(test_session_log_devices, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
