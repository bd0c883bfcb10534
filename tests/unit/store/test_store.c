/* Unit tests of the store: SQLite backend semantics and the worker. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "core/buf.h"
#include "core/log.h"
#include "store/store.h"
#include "store/store_impl.h" /* the backends' preset writes, below the rules */
#include "store/store_worker.h"
#include "store_test_db.h"

static void test_device_id(void **state)
{
    char id[STORE_ID_MAX];
    assert_int_equal(store_device_id("00D09E", "IGD", "SN-1/2 x", id, sizeof id), 0);
    assert_string_equal(id, "00D09E-IGD-SN%2D1%2F2%20x");
    assert_int_equal(store_device_id("A", "b.c_d", "\xc3\xa9", id, sizeof id), 0);
    assert_string_equal(id, "A-b.c_d-%C3%A9");
    char small[8];
    assert_int_equal(store_device_id("00D09E", "IGD", "SN", small, sizeof small), -ENAMETOOLONG);
}

static store_device_t dev(const char *serial, int64_t last, int64_t interval, const char *tags)
{
    store_device_t d = { 0 };
    snprintf(d.oui, sizeof d.oui, "00D09E");
    snprintf(d.product_class, sizeof d.product_class, "IGD");
    snprintf(d.serial, sizeof d.serial, "%s", serial);
    store_device_id(d.oui, d.product_class, d.serial, d.id, sizeof d.id);
    snprintf(d.manufacturer, sizeof d.manufacturer, "Acme");
    snprintf(d.tags, sizeof d.tags, "%s", tags);
    d.last_inform = last;
    d.periodic_interval = interval;
    return d;
}

static int count_dev(const store_device_t *d, void *ud)
{
    (*(int *)ud)++;
    return 0;
}

static int count_row(const store_device_t *d, int64_t rid, void *ud)
{
    (*(int *)ud)++;
    return 0;
}

static void test_devices(void **state)
{
    store_t *s = *state;
    assert_int_equal(store_schema_version(s), SCHEMA_NOW);
    store_device_t a = dev("A1", 1000, 300, "lab,north"), b = dev("B2", 100, 300, "south");
    snprintf(a.cr_user, sizeof a.cr_user, "cpe");
    assert_int_equal(store_device_inform(s, &a, true), 0);
    assert_int_equal(store_device_inform(s, &b, true), 0);
    /* A later Inform without credentials or tags keeps them. */
    store_device_t a2 = dev("A1", 1100, 0, "");
    snprintf(a2.software_version, sizeof a2.software_version, "2.0");
    assert_int_equal(store_device_inform(s, &a2, false), 0);
    store_device_t got;
    assert_int_equal(store_device_get(s, a.id, &got), 0);
    assert_string_equal(got.cr_user, "cpe");
    assert_string_equal(got.tags, "lab,north");
    assert_string_equal(got.software_version, "2.0");
    assert_int_equal(got.periodic_interval, 300);
    assert_int_equal(got.first_seen, 1000);
    assert_int_equal(got.last_inform, 1100);
    assert_int_equal(store_device_get(s, "nope", &got), -ENOENT);

    /* the API's tag=, online= and q= (store_filter_and_*; the language
     * itself: test_store_filter.c) */
    static const store_filter_field_t qf[] = { SF_F_ID, SF_F_SERIAL, SF_F_MODEL };
    static const struct { int kind; const char *v; int want; } lists[] = {
        { 0, NULL, 2 },        /* every device */
        { 1, "true", 1 },      /* online */
        { 2, "north", 1 },     /* tag */
        { 2, "nor", 0 },       /* whole tags only */
        { 3, "B", 1 },         /* prefix of id, serial or class */
        { 3, "b", 1 },         /* ASCII case-insensitive */
        { 3, "%", 0 },         /* wildcards are literal */
    };
    for (size_t i = 0; i < sizeof lists / sizeof lists[0]; i++) {
        store_filter_t f;
        store_filter_init(&f);
        if (lists[i].kind == 1)
            assert_int_equal(store_filter_and_cmp(&f, SF_F_ONLINE, SF_EQ, lists[i].v), 0);
        else if (lists[i].kind == 2)
            assert_int_equal(store_filter_and_cmp(&f, SF_F_TAG, SF_EQ, lists[i].v), 0);
        else if (lists[i].kind == 3)
            assert_int_equal(store_filter_and_any(&f, qf, 3, SF_PREFIX_CI, lists[i].v), 0);
        store_search_t q = { .filter = &f, .now = 1200, .default_interval = 300 };
        int n = 0;
        int64_t total = -1;
        assert_int_equal(store_device_search(s, &q, count_row, &n, &total), 0);
        assert_int_equal(n, lists[i].want);
        assert_int_equal(total, lists[i].want);
    }

    store_stats_t st;
    assert_int_equal(store_stats(s, 1200, 300, &st), 0);
    assert_int_equal(st.total_devices, 2);
    assert_int_equal(st.online_devices, 1);
    assert_true(store_device_online(&got, 1200, 300));
    assert_false(store_device_online(&got, 1100 + 661, 300));

    /* The same device unchanged but for its address and URL (the update
     * that leaves the indexes alone): what it does not say is kept... */
    store_device_t a3 = dev("A1", 1200, 0, "");
    snprintf(a3.ip, sizeof a3.ip, "192.0.2.7");
    snprintf(a3.cr_url, sizeof a3.cr_url, "http://192.0.2.7:7547/");
    assert_int_equal(store_device_inform(s, &a3, false), 0);
    assert_int_equal(store_device_get(s, a.id, &got), 0);
    assert_string_equal(got.ip, "192.0.2.7");
    assert_string_equal(got.cr_url, "http://192.0.2.7:7547/");
    assert_string_equal(got.cr_user, "cpe");
    assert_string_equal(got.tags, "lab,north");
    assert_string_equal(got.software_version, "2.0");
    assert_int_equal(got.periodic_interval, 300);
    assert_int_equal(got.first_seen, 1000);
    assert_int_equal(got.last_inform, 1200);
    /* ...and a new version goes into the version index (the upsert) */
    store_device_t a4 = dev("A1", 1300, 0, "");
    snprintf(a4.software_version, sizeof a4.software_version, "3.0");
    assert_int_equal(store_device_inform(s, &a4, false), 0);
    assert_int_equal(store_device_get(s, a.id, &got), 0);
    assert_string_equal(got.software_version, "3.0");
    assert_string_equal(got.ip, "");
    assert_string_equal(got.cr_url, "http://192.0.2.7:7547/");
    assert_int_equal(got.last_inform, 1300);

    assert_int_equal(store_device_delete(s, b.id), 0);
    assert_int_equal(store_device_delete(s, b.id), -ENOENT);
}

typedef struct plist {
    int n;
    char names[8][128];
    char values[8][64];
} plist_t;

static int collect_param(const store_param_t *p, void *ud)
{
    plist_t *l = ud;
    if (l->n < 8) {
        snprintf(l->names[l->n], 128, "%s", p->name);
        snprintf(l->values[l->n], 64, "%s", p->value ? p->value : "(null)");
    }
    l->n++;
    return 0;
}

static void test_params(void **state)
{
    store_t *s = *state;
    store_device_t a = dev("P1", 1000, 300, "");
    assert_int_equal(store_device_inform(s, &a, true), 0);
    store_param_t p[] = {
        { "Device.DeviceInfo.SoftwareVersion", "1.0", "xsd:string", 0, 0, NULL, 0, -1, NULL },
        { "Device.DeviceInfo.UpTime", "5", "xsd:unsignedInt", 0, 0, NULL, 0, -1, NULL },
        { "Device.ManagementServer.URL", "http://acs", "xsd:string", 1, 0, NULL, 0, -1, NULL },
        { "Device.DeviceInfo_X", "x", NULL, -1, 0, NULL, 0, -1, NULL }, /* not under the prefix */
    };
    assert_int_equal(store_params_put(s, a.id, p, 4, 1000), 0);
    for (int i = 0; i < 8; i++) {
        char v[16];
        snprintf(v, sizeof v, "%d", 6 + i);
        store_param_t up = { "Device.DeviceInfo.UpTime", v, NULL, -1, 0, NULL, 0, -1, NULL };
        assert_int_equal(store_params_put(s, a.id, &up, 1, 1001 + i), 0);
    }
    /* GetParameterNames result: keeps the value, learns writability. */
    store_param_t name_only = { "Device.ManagementServer.URL", NULL, NULL, 0, 0, NULL, 0, -1, NULL };
    assert_int_equal(store_params_put(s, a.id, &name_only, 1, 1100), 0);

    plist_t l = { 0 };
    assert_int_equal(store_params_list(s, a.id, "Device.DeviceInfo.", collect_param, &l), 0);
    assert_int_equal(l.n, 2);
    assert_string_equal(l.names[1], "Device.DeviceInfo.UpTime");
    assert_string_equal(l.values[1], "13");
    l.n = 0;
    assert_int_equal(store_params_list(s, a.id, "Device.ManagementServer.", collect_param, &l), 0);
    assert_string_equal(l.values[0], "http://acs");
    /* Bounded history (default 5), newest first. */
    l.n = 0;
    assert_int_equal(store_param_history(s, a.id, "Device.DeviceInfo.UpTime", collect_param, &l), 0);
    assert_int_equal(l.n, 5);
    assert_string_equal(l.values[0], "12");
    assert_string_equal(l.values[4], "8");
    /* Long lists go in multi-row statements: 70 values (two full runs and a
     * tail), one name twice, and a changed value reaching the history. */
    char names[70][64], vals[70][16];
    store_param_t many[70];
    for (int i = 0; i < 70; i++) {
        snprintf(names[i], sizeof names[i], "Device.Hosts.Host.%d.Name", i == 5 ? 4 : i);
        snprintf(vals[i], sizeof vals[i], "v%d", i);
        many[i] = (store_param_t){ names[i], vals[i], "xsd:string", -1, 0, NULL, 0, -1, NULL };
    }
    assert_int_equal(store_params_put(s, a.id, many, 70, 2000), 0);
    vals[0][0] = 'w';
    assert_int_equal(store_params_put(s, a.id, many, 70, 2001), 0);
    l.n = 0;
    assert_int_equal(store_params_list(s, a.id, "Device.Hosts.Host.", collect_param, &l), 0);
    assert_int_equal(l.n, 69);
    assert_string_equal(l.names[0], "Device.Hosts.Host.0.Name");
    assert_string_equal(l.values[0], "w0");
    l.n = 0;
    assert_int_equal(store_params_list(s, a.id, "Device.Hosts.Host.4.", collect_param, &l), 0);
    assert_int_equal(l.n, 1);
    assert_string_equal(l.values[0], "v5"); /* the later of the two */
    l.n = 0;
    assert_int_equal(store_param_history(s, a.id, "Device.Hosts.Host.0.Name", collect_param, &l), 0);
    assert_int_equal(l.n, 1);
    assert_string_equal(l.values[0], "v0");
    /* BOOTSTRAP forgets parameters. */
    assert_int_equal(store_device_inform(s, &a, true), 0);
    l.n = 0;
    assert_int_equal(store_params_list(s, a.id, NULL, collect_param, &l), 0);
    assert_int_equal(l.n, 0);
}

typedef struct counts {
    char type[8][32];
    int status[8];
    int64_t count[8];
    size_t n;
} counts_t;

static int collect_counts(const char *type, int status, int64_t count, void *ud)
{
    counts_t *c = ud;
    assert_true(c->n < 8);
    snprintf(c->type[c->n], sizeof c->type[0], "%s", type);
    c->status[c->n] = status;
    c->count[c->n++] = count;
    return 0;
}

static int count_task(const store_task_t *t, void *ud)
{
    (*(int *)ud)++;
    return 0;
}

static void test_tasks(void **state)
{
    store_t *s = *state;
    store_task_t t[4];
    for (int i = 0; i < 4; i++) {
        t[i] = (store_task_t){ .created = 1000 + i };
        snprintf(t[i].device_id, sizeof t[i].device_id, "dev1");
        snprintf(t[i].type, sizeof t[i].type, i == 1 ? "reboot" : "get_params");
        t[i].params = i == 0 ? "{\"names\":[\"A.\"]}" : NULL;
        assert_int_equal(store_task_add(s, &t[i]), 0);
        assert_true(t[i].id > 0);
    }
    t[3].expires_at = 0;
    int n = 0;
    assert_int_equal(store_task_pending(s, "dev1", 0, count_task, &n), 0);
    assert_int_equal(n, 4);

    bool any = false;
    assert_int_equal(store_task_has_pending(s, "dev1", &any), 0);
    assert_true(any);
    assert_int_equal(store_task_has_pending(s, "nobody", &any), 0);
    assert_false(any);
    assert_int_equal(store_task_mark_sent(s, t[0].id, 1010), 0);
    assert_int_equal(store_task_mark_sent(s, t[0].id, 1010), -ESTALE);
    assert_int_equal(store_task_cancel(s, t[0].id, 1011), -EBUSY);
    assert_int_equal(store_task_finish(s, t[0].id, STORE_TASK_DONE, "{\"ok\":1}", 0, NULL, 1012), 0);
    /* The done mark is idempotent: a second one changes nothing. */
    assert_int_equal(store_task_finish(s, t[0].id, STORE_TASK_FAILED, NULL, 9002, "x", 1013),
                     -ESTALE);
    store_task_t got;
    assert_int_equal(store_task_get(s, t[0].id, &got), 0);
    assert_int_equal(got.status, STORE_TASK_DONE);
    assert_string_equal(got.result, "{\"ok\":1}");
    assert_string_equal(got.params, "{\"names\":[\"A.\"]}");
    assert_int_equal(got.attempts, 1);
    assert_int_equal(got.done_at, 1012);
    store_task_clear(&got);
    assert_string_equal(got.cr.status, "");
    /* the outcome alone: no parameter lists read */
    assert_int_equal(store_task_outcome(s, t[0].id, &got), 0);
    assert_int_equal(got.id, t[0].id);
    assert_string_equal(got.device_id, t[0].device_id);
    assert_string_equal(got.type, t[0].type);
    assert_int_equal(got.status, STORE_TASK_DONE);
    assert_null(got.params);
    assert_null(got.result);
    assert_int_equal(store_task_outcome(s, 999999, &got), -ENOENT);
    store_cr_note_t note = { .status = "refused", .reason = "address 127.0.0.1 is in --cr-deny",
                             .at = 1014 };
    assert_int_equal(store_task_set_cr(s, t[0].id, &note), 0);
    assert_int_equal(store_task_set_cr(s, 999999, &note), -ENOENT);
    assert_int_equal(store_task_get(s, t[0].id, &got), 0);
    assert_string_equal(got.cr.status, "refused");
    assert_string_equal(got.cr.reason, "address 127.0.0.1 is in --cr-deny");
    assert_int_equal(got.cr.at, 1014);
    store_task_clear(&got);

    assert_int_equal(store_task_cancel(s, t[2].id, 1020), 0);
    assert_int_equal(store_task_cancel(s, t[2].id, 1020), -ESTALE);
    assert_int_equal(store_task_cancel(s, 999999, 1020), -ENOENT);

    /* Crash after sending: re-runnable types go back to pending, the rest stay. */
    assert_int_equal(store_task_mark_sent(s, t[1].id, 1030), 0);
    assert_int_equal(store_task_mark_sent(s, t[3].id, 1030), 0);
    const char *const requeue[] = { "get_params", NULL };
    assert_int_equal(store_task_recover(s, requeue, 1040, true, NULL, NULL), 1);
    assert_int_equal(store_task_get(s, t[3].id, &got), 0);
    assert_int_equal(got.status, STORE_TASK_PENDING);
    store_task_clear(&got);
    assert_int_equal(store_task_get(s, t[1].id, &got), 0);
    assert_int_equal(got.status, STORE_TASK_SENT);
    store_task_clear(&got);

    store_stats_t st;
    assert_int_equal(store_stats(s, 0, 300, &st), 0);
    assert_int_equal(st.pending_tasks, 1);
    assert_int_equal(st.sent_tasks, 1);

    /* Expiry. */
    store_task_t e = { .created = 2000, .expires_at = 2100 };
    snprintf(e.device_id, sizeof e.device_id, "dev2");
    snprintf(e.type, sizeof e.type, "reboot");
    assert_int_equal(store_task_add(s, &e), 0);
    assert_int_equal(store_task_expire(s, 2099), 0);
    assert_int_equal(store_task_expire(s, 2100), 1);
    assert_int_equal(store_task_expire(s, 2200), 0); /* swept once */
    assert_int_equal(store_task_get(s, e.id, &got), 0);
    assert_int_equal(got.status, STORE_TASK_EXPIRED);
    store_task_clear(&got);
    /* counted by type and status in the window it finished in, not in others */
    counts_t c = { 0 };
    assert_int_equal(store_task_finished_counts(s, 2100, 2101, collect_counts, &c), 0);
    assert_int_equal(c.n, 1);
    assert_string_equal(c.type[0], "reboot");
    assert_int_equal(c.status[0], STORE_TASK_EXPIRED);
    assert_int_equal(c.count[0], 1);
    memset(&c, 0, sizeof c);
    assert_int_equal(store_task_finished_counts(s, 2101, 3000, collect_counts, &c), 0);
    assert_int_equal(c.n, 0);
    memset(&c, 0, sizeof c);
    assert_int_equal(store_task_open_counts(s, collect_counts, &c), 0);
    assert_true(c.n >= 1);
    for (size_t i = 0; i < c.n; i++)
        assert_true(c.status[i] == STORE_TASK_PENDING || c.status[i] == STORE_TASK_SENT);
    n = 0;
    assert_int_equal(store_task_list(s, "dev1", 0, count_task, &n), 0);
    assert_int_equal(n, 4);
}

/* Finished tasks go after the retention, oldest first and capped, but not
 * an open fault nor a bulk's task; open tasks never. */
static void test_task_trim(void **state)
{
    store_t *s = *state;
    enum { DONE_OLD, FAILED_OPEN, FAILED_CLEARED, CANCELLED, BULK_DONE, DONE_NEW, PENDING, N };
    store_task_t t[N];
    for (int i = 0; i < N; i++) {
        t[i] = (store_task_t){ .created = 50 };
        snprintf(t[i].device_id, sizeof t[i].device_id, "trim");
        snprintf(t[i].type, sizeof t[i].type, "reboot");
        assert_int_equal(store_task_add(s, &t[i]), 0);
    }
    assert_int_equal(store_task_finish(s, t[DONE_OLD].id, STORE_TASK_DONE, NULL, 0, NULL, 100), 0);
    assert_int_equal(store_task_finish(s, t[FAILED_OPEN].id, STORE_TASK_FAILED, NULL, 9002, "x", 110), 0);
    assert_int_equal(store_task_finish(s, t[FAILED_CLEARED].id, STORE_TASK_FAILED, NULL, 9002, "x", 120), 0);
    assert_int_equal(store_task_fault_clear(s, t[FAILED_CLEARED].id, 121), 0);
    assert_int_equal(store_task_cancel(s, t[CANCELLED].id, 130), 0);
    assert_int_equal(store_task_finish(s, t[BULK_DONE].id, STORE_TASK_DONE, NULL, 0, NULL, 100), 0);
    assert_int_equal(store_task_finish(s, t[DONE_NEW].id, STORE_TASK_DONE, NULL, 0, NULL, 500), 0);
    char sql[96];
    snprintf(sql, sizeof sql, "UPDATE tasks SET bulk = 9 WHERE id = %lld", (long long)t[BULK_DONE].id);
    if (test_db_pg()) {
        assert_int_equal(test_db_sql(test_db_where(), sql), 0);
    } else {
        sqlite3 *db;
        assert_int_equal(sqlite3_open(test_db_where(), &db), SQLITE_OK);
        assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
        sqlite3_close(db);
    }

    assert_int_equal(store_task_trim(s, 100, 10), 0);  /* finished strictly before */
    assert_int_equal(store_task_trim(s, 400, 2), 2);   /* the cap, oldest first */
    store_task_t got;
    assert_int_equal(store_task_get(s, t[DONE_OLD].id, &got), -ENOENT);
    assert_int_equal(store_task_get(s, t[FAILED_CLEARED].id, &got), -ENOENT);
    assert_int_equal(store_task_get(s, t[CANCELLED].id, &got), 0);
    store_task_clear(&got);
    assert_int_equal(store_task_trim(s, 400, 10), 1);
    assert_int_equal(store_task_trim(s, 400, 10), 0);
    static const int kept[] = { FAILED_OPEN, BULK_DONE, DONE_NEW, PENDING };
    for (size_t i = 0; i < sizeof kept / sizeof kept[0]; i++) {
        assert_int_equal(store_task_get(s, t[kept[i]].id, &got), 0);
        store_task_clear(&got);
    }
    assert_int_equal(store_task_trim(s, 1000, 10), 1); /* DONE_NEW, once old enough */
}

static int count_sess(const store_session_t *ss, void *ud)
{
    int *n = ud;
    if (*n == 0)
        assert_true(ss->log == NULL || strlen(ss->log) <= 64 * 1024);
    (*n)++;
    return 0;
}

static void test_sessions(void **state)
{
    store_t *s = *state;
    char *big = malloc(200000);
    memset(big, 'x', 199999);
    big[199999] = '\0';
    for (int i = 0; i < 30; i++) {
        store_session_t ss = { .started = 1000 + i, .duration_ms = 12, .rpcs = 1 };
        snprintf(ss.device_id, sizeof ss.device_id, "dev1");
        snprintf(ss.events, sizeof ss.events, "2 PERIODIC");
        snprintf(ss.outcome, sizeof ss.outcome, "ok");
        assert_int_equal(store_session_add(s, &ss, big, 199999), 0);
    }
    free(big);
    int n = 0;
    assert_int_equal(store_session_list(s, "dev1", 100, count_sess, &n), 0);
    assert_int_equal(n, 20);
}

/* Persistence across reopen (as after a crash: no clean close needed for WAL). */
static void test_reopen(void **state)
{
    store_t *s = *state;
    store_task_t t = { .created = 5 };
    snprintf(t.device_id, sizeof t.device_id, "devR");
    snprintf(t.type, sizeof t.type, "reboot");
    assert_int_equal(store_task_add(s, &t), 0);
    store_t *s2;
    assert_int_equal(store_open(test_db_where(), NULL, &s2), 0);
    store_task_t got;
    assert_int_equal(store_task_get(s2, t.id, &got), 0);
    assert_string_equal(got.type, "reboot");
    store_task_clear(&got);
    store_close(s2);
}

/* A database whose tables differ from this build's (same user_version, a
 * development schema) is refused at open, not at the first request. */
static void test_schema_mismatch_refused_at_open(void **state)
{
    if (test_db_pg()) {
        char url[TEST_DB_MAX];
        store_t *s;
        assert_int_equal(test_db_new(url, sizeof url, "/tmp/store-other-XXXXXX"), 0);
        assert_int_equal(store_open(url, NULL, &s), 0);
        store_close(s);
        assert_int_equal(test_db_sql(url, "ALTER TABLE tasks RENAME COLUMN cr_reason TO why"), 0);
        assert_int_equal(store_open(url, NULL, &s), -EIO);
        test_db_drop(url);
        return;
    }
    char path[TEST_DB_MAX + 8];
    snprintf(path, sizeof path, "%s.other", test_db_where());
    store_t *s;
    assert_int_equal(store_open(path, NULL, &s), 0);
    store_close(s);
    sqlite3 *db;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "ALTER TABLE tasks RENAME COLUMN cr_reason TO why",
                                  NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    assert_int_equal(store_open(path, NULL, &s), -EIO);
}

/* What migration 9 (history) added, taken out again: the older versions
 * below are made from a new database. */
#define UNDO_V9 \
    "DROP TRIGGER params_keep_history; DROP INDEX tasks_open_faults;" \
    "ALTER TABLE params DROP COLUMN set_by; ALTER TABLE params DROP COLUMN set_at;" \
    "ALTER TABLE params DROP COLUMN notification; ALTER TABLE params DROP COLUMN access_list;" \
    "ALTER TABLE param_history DROP COLUMN set_by; ALTER TABLE sessions DROP COLUMN rpc_list;" \
    "ALTER TABLE tasks DROP COLUMN fault_cleared; DROP INDEX devices_session_log;" \
    "ALTER TABLE devices DROP COLUMN session_log;" \
    "CREATE TRIGGER params_keep_history AFTER UPDATE OF value ON params BEGIN SELECT 1; END;"

/* A version-2 database: the connection request's outcome was one text; it
 * becomes status and reason (time: the task's last update). */
static void test_migrate_v2_wakeup_text(void **state)
{
    if (test_db_pg())
        skip(); /* SQLite files made by hand */
    char path[TEST_DB_MAX + 8];
    snprintf(path, sizeof path, "%s.v2", test_db_where());
    store_t *s;
    assert_int_equal(store_open(path, NULL, &s), 0);
    store_close(s);
    sqlite3 *db;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, UNDO_V9
        /* 14: task leases; 13: task params aside; 12: NAT reach; 11: search indexes and bulks */
        "DROP INDEX tasks_leased; ALTER TABLE tasks DROP COLUMN node;"
        "ALTER TABLE tasks DROP COLUMN lease_until;"
        "DROP TRIGGER task_params_gone; DROP TABLE task_params;"
        "ALTER TABLE devices DROP COLUMN cr_udp; ALTER TABLE devices DROP COLUMN cr_udp_at;"
        "ALTER TABLE devices DROP COLUMN cr_nat; ALTER TABLE devices DROP COLUMN cr_jid;"
        "DROP TABLE param_index; DROP TABLE search_params;"
        "DROP INDEX devices_last_inform; DROP INDEX devices_version;"
        "DROP TABLE bulks; DROP INDEX tasks_bulk; ALTER TABLE tasks DROP COLUMN bulk;"
        "ALTER TABLE tasks DROP COLUMN held;"
        "ALTER TABLE tasks DROP COLUMN cr_status; ALTER TABLE tasks DROP COLUMN cr_reason;"
        "ALTER TABLE tasks DROP COLUMN cr_at;"
        "ALTER TABLE tasks ADD COLUMN wakeup TEXT NOT NULL DEFAULT '';"
        "DROP INDEX tasks_done;"
        "DROP TABLE presets; DROP TABLE provisions; DROP TABLE virtual_parameters;"
        "DROP TABLE preset_runs;"
        "DROP TABLE api_keys; DELETE FROM settings WHERE k = 'keys_version';" /* 7: keys */
        "DROP TABLE webhook_deliveries; DROP TABLE webhook_offline;" /* 8: webhooks */
        "DROP TABLE files;" /* 10: files */
        "INSERT INTO tasks (id, device_id, type, created, updated, wakeup) VALUES"
        " (1, 'd', 'reboot', 5, 7, 'ok http_status=200 at=2026-01-01T00:00:00Z'),"
        " (2, 'd', 'reboot', 5, 8, 'failed http_status=0 at=2026-01-01T00:00:00Z: refused'),"
        " (3, 'd', 'reboot', 5, 9, '');"
        "PRAGMA user_version = 2;", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    assert_int_equal(store_open(path, NULL, &s), 0);
    assert_int_equal(store_schema_version(s), SCHEMA_NOW);
    store_task_t t;
    static const struct { const char *status, *reason; int64_t at; } want[] = {
        { "ok", "ok http_status=200 at=2026-01-01T00:00:00Z", 7 },
        { "failed", "failed http_status=0 at=2026-01-01T00:00:00Z: refused", 8 },
        { "", "", 0 },
    };
    for (int i = 0; i < 3; i++) {
        assert_int_equal(store_task_get(s, i + 1, &t), 0);
        assert_string_equal(t.cr.status, want[i].status);
        assert_string_equal(t.cr.reason, want[i].reason);
        assert_int_equal(t.cr.at, want[i].at);
        store_task_clear(&t);
    }
    store_close(s);
}

/* ---- provisioning: presets, scripts, preset runs ---- */

typedef struct seen {
    int n;
    char names[512];
    char body[256], source[16];
    int64_t created, updated;
} seen_t;

static int see_preset(const store_preset_t *p, void *ud)
{
    seen_t *w = ud;
    w->n++;
    strcat(w->names, p->name);
    strcat(w->names, " ");
    snprintf(w->body, sizeof w->body, "%s", p->body);
    snprintf(w->source, sizeof w->source, "%s", p->source);
    w->created = p->created;
    w->updated = p->updated;
    return 0;
}

static int see_run(const store_preset_run_t *r, void *ud)
{
    seen_t *w = ud;
    w->n++;
    strcat(w->names, r->preset);
    strcat(w->names, ":");
    strcat(w->names, store_preset_status_name(r->status));
    strcat(w->names, " ");
    return 0;
}

static store_preset_run_t run(const char *dev_id, const char *preset, store_preset_status_t st)
{
    store_preset_run_t r = { .status = st, .fault_code = st == STORE_PRESET_FAULT ? 9002 : 0,
                             .tries = 2, .next_retry = 500, .last_event = 100, .updated = 100 };
    snprintf(r.device_id, sizeof r.device_id, "%s", dev_id);
    snprintf(r.preset, sizeof r.preset, "%s", preset);
    snprintf(r.fault_message, sizeof r.fault_message, "%s", st == STORE_PRESET_FAULT ? "boom" : "");
    return r;
}

static void test_presets(void **state)
{
    store_t *s = *state;
    seen_t w = { 0 };
    assert_int_equal(store_preset_put(s, "b", "{\"v\":1}", true, 10), 1);
    assert_int_equal(store_preset_put(s, "a", "{}", true, 10), 1);
    assert_int_equal(store_preset_put(s, "b", "{\"v\":2}", true, 11), -EEXIST);
    assert_int_equal(store_preset_put(s, "b", "{\"v\":2}", false, 12), 0);
    assert_int_equal(store_preset_get(s, "b", see_preset, &w), 0);
    assert_string_equal(w.body, "{\"v\":2}");
    assert_string_equal(w.source, "api");
    assert_int_equal(w.created, 10);
    assert_int_equal(w.updated, 12);
    assert_int_equal(store_preset_get(s, "nope", see_preset, &w), -ENOENT);
    memset(&w, 0, sizeof w);
    assert_int_equal(store_preset_list(s, see_preset, &w), 0);
    assert_string_equal(w.names, "a b ");

    /* the config file's presets: the file wins over an API one of a name */
    store_preset_t cfg[] = { { .name = "c1", .body = "{\"c\":1}" }, { .name = "b", .body = "{\"c\":2}" } };
    memset(&w, 0, sizeof w);
    assert_int_equal(store_preset_sync_config(s, cfg, 2, 20, see_preset, &w), 0);
    assert_int_equal(w.n, 1);
    assert_string_equal(w.names, "b ");                  /* reported before it is replaced */
    assert_string_equal(w.source, "api");
    memset(&w, 0, sizeof w);
    assert_int_equal(store_preset_get(s, "b", see_preset, &w), 0);
    assert_string_equal(w.source, "config");
    assert_string_equal(w.body, "{\"c\":2}");
    assert_int_equal(w.updated, 20);
    /* the API cannot write or delete them */
    assert_int_equal(store_preset_put(s, "c1", "{}", false, 21), -EPERM);
    assert_int_equal(store_preset_put(s, "c1", "{}", true, 21), -EPERM);
    assert_int_equal(store_preset_delete(s, "c1"), -EPERM);
    /* a config sync (another node's) between the API's check and its write:
     * the backends' writes are conditional and change nothing, so store.c
     * checks again instead of overwriting the file's preset */
    assert_int_equal(s->be->preset_write(s, "c1", "{}", true, 22), 0);
    assert_int_equal(s->be->preset_write(s, "c1", "{}", false, 22), 0);
    assert_int_equal(s->be->preset_delete(s, "c1"), 0);
    memset(&w, 0, sizeof w);
    assert_int_equal(store_preset_get(s, "c1", see_preset, &w), 0);
    assert_string_equal(w.source, "config");
    assert_string_equal(w.body, "{\"c\":1}");
    /* the same file again changes nothing, updated included */
    assert_int_equal(store_preset_sync_config(s, cfg, 2, 30, NULL, NULL), 0);
    memset(&w, 0, sizeof w);
    assert_int_equal(store_preset_get(s, "c1", see_preset, &w), 0);
    assert_int_equal(w.updated, 20);
    assert_int_equal(w.created, 20);
    /* a preset's runs go with it */
    store_preset_run_t r = run("dev1", "c1", STORE_PRESET_DONE);
    assert_int_equal(store_preset_run_put(s, &r), 0);
    r = run("dev1", "a", STORE_PRESET_FAULT);
    assert_int_equal(store_preset_run_put(s, &r), 0);
    /* dropped from the file: deleted, with their runs; API presets stay */
    assert_int_equal(store_preset_sync_config(s, cfg + 1, 1, 40, NULL, NULL), 0);
    memset(&w, 0, sizeof w);
    assert_int_equal(store_preset_list(s, see_preset, &w), 0);
    assert_string_equal(w.names, "a b ");
    memset(&w, 0, sizeof w);
    assert_int_equal(store_preset_run_list(s, "dev1", see_run, &w), 0);
    assert_string_equal(w.names, "a:fault ");
    assert_int_equal(store_preset_sync_config(s, NULL, 0, 50, NULL, NULL), 0);
    assert_int_equal(store_preset_get(s, "b", see_preset, &w), -ENOENT);
    assert_int_equal(store_preset_delete(s, "a"), 0);
    assert_int_equal(store_preset_delete(s, "a"), -ENOENT);
    memset(&w, 0, sizeof w);
    assert_int_equal(store_preset_run_list(s, "dev1", see_run, &w), 0);
    assert_int_equal(w.n, 0);
}

typedef struct sseen {
    int n;
    char names[256];
    char source[64];
    int64_t size, updated;
} sseen_t;

static int see_script(const store_script_t *sc, void *ud)
{
    sseen_t *w = ud;
    w->n++;
    strcat(w->names, sc->name);
    strcat(w->names, " ");
    snprintf(w->source, sizeof w->source, "%s", sc->source ? sc->source : "(none)");
    w->size = sc->size;
    w->updated = sc->updated;
    return 0;
}

static void test_scripts(void **state)
{
    store_t *s = *state;
    const char *src = "log('h\xc3\xa9')"; /* bytes, not characters, are counted */
    assert_int_equal(store_script_put(s, STORE_SCRIPT_PROVISION, "wifi", src, strlen(src), 5), 1);
    assert_int_equal(store_script_put(s, STORE_SCRIPT_PROVISION, "wifi", src, strlen(src), 6), 0);
    assert_int_equal(store_script_put(s, STORE_SCRIPT_PROVISION, "a", "x", 1, 6), 1);
    /* two name spaces */
    assert_int_equal(store_script_put(s, STORE_SCRIPT_VIRTUAL_PARAM, "wifi", "return 1", 8, 7), 1);
    sseen_t w = { 0 };
    assert_int_equal(store_script_get(s, STORE_SCRIPT_PROVISION, "wifi", see_script, &w), 0);
    assert_string_equal(w.source, src);
    assert_int_equal(w.size, (int64_t)strlen(src));
    assert_int_equal(w.updated, 6);
    memset(&w, 0, sizeof w);
    assert_int_equal(store_script_list(s, STORE_SCRIPT_PROVISION, see_script, &w), 0);
    assert_string_equal(w.names, "a wifi ");
    assert_string_equal(w.source, "(none)");               /* lists carry no source */
    memset(&w, 0, sizeof w);
    assert_int_equal(store_script_get(s, STORE_SCRIPT_VIRTUAL_PARAM, "wifi", see_script, &w), 0);
    assert_string_equal(w.source, "return 1");
    assert_int_equal(store_script_delete(s, STORE_SCRIPT_VIRTUAL_PARAM, "wifi"), 0);
    assert_int_equal(store_script_delete(s, STORE_SCRIPT_VIRTUAL_PARAM, "wifi"), -ENOENT);
    assert_int_equal(store_script_get(s, STORE_SCRIPT_VIRTUAL_PARAM, "wifi", see_script, &w), -ENOENT);
    assert_int_equal(store_script_get(s, STORE_SCRIPT_PROVISION, "wifi", see_script, &w), 0);
    /* a length shorter than the string: only those bytes */
    assert_int_equal(store_script_put(s, STORE_SCRIPT_PROVISION, "cut", "abcdef", 3, 8), 1);
    assert_int_equal(store_script_get(s, STORE_SCRIPT_PROVISION, "cut", see_script, &w), 0);
    assert_string_equal(w.source, "abc");
}

static void test_preset_runs(void **state)
{
    store_t *s = *state;
    store_device_t d = dev("R1", 100, 300, "");
    assert_int_equal(store_device_inform(s, &d, true), 0);
    store_preset_run_t r = run(d.id, "p2", STORE_PRESET_FAULT);
    assert_int_equal(store_preset_run_put(s, &r), 0);
    r = run(d.id, "p1", STORE_PRESET_DONE);
    assert_int_equal(store_preset_run_put(s, &r), 0);
    r = run("other", "p1", STORE_PRESET_FAULT);
    assert_int_equal(store_preset_run_put(s, &r), 0);
    seen_t w = { 0 };
    assert_int_equal(store_preset_run_list(s, d.id, see_run, &w), 0);
    assert_string_equal(w.names, "p1:done p2:fault ");
    /* replaced, not added */
    r = run(d.id, "p1", STORE_PRESET_FAULT);
    r.tries = 7;
    assert_int_equal(store_preset_run_put(s, &r), 0);
    /* clearing a fault: pending, tries 0, the fault forgotten */
    assert_int_equal(store_preset_run_clear_fault(s, d.id, "p1", 900), 0);
    assert_int_equal(store_preset_run_clear_fault(s, d.id, "p1", 901), -ESTALE);
    assert_int_equal(store_preset_run_clear_fault(s, d.id, "nope", 901), -ENOENT);
    memset(&w, 0, sizeof w);
    assert_int_equal(store_preset_run_list(s, d.id, see_run, &w), 0);
    assert_string_equal(w.names, "p1:pending p2:fault ");
    /* a device's records go with it */
    assert_int_equal(store_device_delete(s, d.id), 0);
    memset(&w, 0, sizeof w);
    assert_int_equal(store_preset_run_list(s, d.id, see_run, &w), 0);
    assert_int_equal(w.n, 0);
    assert_int_equal(store_preset_run_list(s, "other", see_run, &w), 0);
    assert_int_equal(w.n, 1);
}

typedef struct got_run {
    int n;
    char names[256];
    store_preset_run_t last;
} got_run_t;

static int got_run(const store_preset_run_t *r, void *ud)
{
    got_run_t *g = ud;
    g->n++;
    strcat(g->names, r->device_id);
    strcat(g->names, "/");
    strcat(g->names, r->preset);
    strcat(g->names, " ");
    g->last = *r;
    return 0;
}

/* A fault's provision and line are kept; the records owed a run (a fault
 * with a retry to come, a cleared one) are found without naming a device. */
static void test_preset_runs_owed(void **state)
{
    store_t *s = *state;
    store_preset_run_t r = run("d1", "retry", STORE_PRESET_FAULT);
    snprintf(r.fault_provision, sizeof r.fault_provision, "%s", "wifi");
    r.fault_line = 12;
    assert_int_equal(store_preset_run_put(s, &r), 0);
    r = run("d2", "stuck", STORE_PRESET_FAULT);
    r.next_retry = 0; /* tries exhausted: owed nothing until cleared */
    assert_int_equal(store_preset_run_put(s, &r), 0);
    r = run("d3", "done", STORE_PRESET_DONE);
    assert_int_equal(store_preset_run_put(s, &r), 0);
    got_run_t g = { 0 };
    assert_int_equal(store_preset_run_owed(s, got_run, &g), 0);
    assert_string_equal(g.names, "d1/retry ");
    assert_string_equal(g.last.fault_provision, "wifi");
    assert_int_equal(g.last.fault_line, 12);
    assert_int_equal(g.last.fault_code, 9002);
    /* cleared: pending, owed, the fault's details gone */
    assert_int_equal(store_preset_run_clear_fault(s, "d2", "stuck", 600), 0);
    memset(&g, 0, sizeof g);
    assert_int_equal(store_preset_run_owed(s, got_run, &g), 0);
    assert_int_equal(g.n, 2);
    assert_non_null(strstr(g.names, "d2/stuck "));
    assert_int_equal(store_preset_run_clear_fault(s, "d1", "retry", 600), 0);
    memset(&g, 0, sizeof g);
    assert_int_equal(store_preset_run_list(s, "d1", got_run, &g), 0);
    assert_string_equal(g.last.fault_provision, "");
    assert_int_equal(g.last.fault_line, 0);
}

static int count_rows(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int n = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return n;
}

/* Long task parameters live in task_params (migration 12): read back whole,
 * untouched when the task is sent and finished, gone with the task; a
 * version-11 database's long parameters (in tasks.params) still read. */
static void test_task_params_aside(void **state)
{
    store_t *s = *state;
    static char big[8192];
    size_t n = (size_t)snprintf(big, sizeof big, "{\"names\":[");
    for (int i = 0; n < sizeof big - 64; i++)
        n += (size_t)snprintf(big + n, sizeof big - n, "%s\"A.B.%d.C\"", i ? "," : "", i);
    snprintf(big + n, sizeof big - n, "]}");
    store_task_t t = { .created = 10 }, small = { .created = 11 }, got;
    snprintf(t.device_id, sizeof t.device_id, "devP");
    snprintf(t.type, sizeof t.type, "get_params");
    t.params = big;
    small = t;
    small.params = "{\"names\":[\"A.\"]}";
    assert_int_equal(store_task_add(s, &t), 0);
    assert_int_equal(store_task_add(s, &small), 0);
    /* PostgreSQL keeps them in the row (TOAST): the same behaviour, the
     * SQLite layout checked below only there */
    bool sqlite = !test_db_pg();
    sqlite3 *db = NULL;
    if (sqlite) {
        assert_int_equal(sqlite3_open(test_db_where(), &db), SQLITE_OK);
        assert_int_equal(count_rows(db, "SELECT count(*) FROM task_params"), 1);
        assert_int_equal(count_rows(db, "SELECT count(*) FROM tasks WHERE params = ''"), 1);
    }
    assert_int_equal(store_task_mark_sent(s, t.id, 12), 0);
    assert_int_equal(store_task_finish(s, t.id, STORE_TASK_DONE, "{\"ok\":1}", 0, NULL, 13), 0);
    assert_int_equal(store_task_get(s, t.id, &got), 0);
    assert_string_equal(got.params, big);
    assert_int_equal(got.status, STORE_TASK_DONE);
    store_task_clear(&got);
    assert_int_equal(store_task_get(s, small.id, &got), 0);
    assert_string_equal(got.params, small.params);
    store_task_clear(&got);
    /* pending lists read it the same way */
    int k = 0;
    assert_int_equal(store_task_pending(s, "devP", 10, count_task, &k), 0);
    assert_int_equal(k, 1);
    if (!sqlite)
        return;
    /* a version-11 row: long parameters in the row itself */
    char sql[9000];
    snprintf(sql, sizeof sql, "INSERT INTO tasks (id, device_id, type, params, created, updated)"
                              " VALUES (9999, 'devP', 'get_params', '%s', 5, 5)", big);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(store_task_get(s, 9999, &got), 0);
    assert_string_equal(got.params, big);
    store_task_clear(&got);
    /* the task goes, its parameters with it */
    assert_int_equal(sqlite3_exec(db, "DELETE FROM tasks WHERE id = 9999", NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(count_rows(db, "SELECT count(*) FROM task_params"), 1);
    assert_int_equal(sqlite3_exec(db, "DELETE FROM tasks WHERE device_id = 'devP'", NULL, NULL, NULL),
                     SQLITE_OK);
    assert_int_equal(count_rows(db, "SELECT count(*) FROM task_params"), 0);
    sqlite3_close(db);
}

/* A version-4 database (before provisioning) gains the tables, its rows kept. */
static void test_migrate_v4(void **state)
{
    if (test_db_pg())
        skip(); /* SQLite files made by hand */
    char path[TEST_DB_MAX + 8];
    snprintf(path, sizeof path, "%s.v4", test_db_where());
    store_t *s;
    assert_int_equal(store_open(path, NULL, &s), 0);
    store_close(s);
    sqlite3 *db;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, UNDO_V9
        /* 14: task leases; 13: task params aside; 12: NAT reach; 11: search indexes and bulks */
        "DROP INDEX tasks_leased; ALTER TABLE tasks DROP COLUMN node;"
        "ALTER TABLE tasks DROP COLUMN lease_until;"
        "DROP TRIGGER task_params_gone; DROP TABLE task_params;"
        "ALTER TABLE devices DROP COLUMN cr_udp; ALTER TABLE devices DROP COLUMN cr_udp_at;"
        "ALTER TABLE devices DROP COLUMN cr_nat; ALTER TABLE devices DROP COLUMN cr_jid;"
        "DROP TABLE param_index; DROP TABLE search_params;"
        "DROP INDEX devices_last_inform; DROP INDEX devices_version;"
        "DROP TABLE bulks; DROP INDEX tasks_bulk; ALTER TABLE tasks DROP COLUMN bulk;"
        "ALTER TABLE tasks DROP COLUMN held;"
        "DROP TABLE presets; DROP TABLE provisions; DROP TABLE virtual_parameters;"
        "DROP TABLE preset_runs;"
        "DROP TABLE api_keys; DELETE FROM settings WHERE k = 'keys_version';" /* 7: keys */
        "DROP TABLE webhook_deliveries; DROP TABLE webhook_offline;" /* 8: webhooks */
        "DROP TABLE files;" /* 10: files */
        "INSERT INTO tasks (id, device_id, type, created, updated) VALUES (1, 'd', 'reboot', 5, 7);"
        "PRAGMA user_version = 4;", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    assert_int_equal(store_open(path, NULL, &s), 0);
    assert_int_equal(store_schema_version(s), SCHEMA_NOW);
    store_task_t t;
    assert_int_equal(store_task_get(s, 1, &t), 0);
    store_task_clear(&t);
    assert_int_equal(store_preset_put(s, "p", "{}", true, 1), 1);
    store_close(s);
}

/* ---- worker ---- */

typedef struct wctx {
    int done, failed;
    int64_t ids[64];
} wctx_t;

static int job_add(store_t *s, void *ud)
{
    store_task_t t = { .created = 1 };
    snprintf(t.device_id, sizeof t.device_id, "devW");
    snprintf(t.type, sizeof t.type, "reboot");
    int rc = store_task_add(s, &t);
    *(int64_t *)ud = t.id;
    return rc;
}

static int job_fail(store_t *s, void *ud)
{
    store_task_t t = { .created = 1 };
    snprintf(t.device_id, sizeof t.device_id, "devFail");
    snprintf(t.type, sizeof t.type, "reboot");
    store_task_add(s, &t);
    return -EINVAL; /* its insert must be rolled back */
}

static wctx_t *g_ctx;
static void job_done(int rc, void *ud)
{
    if (rc == 0)
        g_ctx->done++;
    else
        g_ctx->failed++;
}

static store_worker_t *g_w;
static int g_followups;

static int job_noop(store_t *s, void *ud)
{
    return 0;
}

static void followup_done(int rc, void *ud)
{
    g_followups++;
}

/* A completion that submits more work while the worker shuts down. */
static void chain_done(int rc, void *ud)
{
    assert_int_equal(store_worker_submit(g_w, job_add, followup_done, ud), 0);
}

static void test_worker_drain(void **state)
{
    store_t *s = *state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    assert_int_equal(store_worker_new(&loop, s, 100, &g_w), 0);
    int64_t id = 0;
    g_followups = 0;
    assert_int_equal(store_worker_submit(g_w, job_noop, chain_done, &id), 0);
    store_worker_free(g_w);
    assert_int_equal(g_followups, 1);
    assert_true(id > 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_worker(void **state)
{
    store_t *s = *state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    store_worker_t *w;
    assert_int_equal(store_worker_new(&loop, s, 100, &w), 0);
    wctx_t ctx = { 0 };
    g_ctx = &ctx;
    for (int i = 0; i < 50; i++)
        assert_int_equal(store_worker_submit(w, job_add, job_done, &ctx.ids[i]), 0);
    assert_int_equal(store_worker_submit(w, job_fail, job_done, NULL), 0);
    while (ctx.done + ctx.failed < 51)
        uv_run(&loop, UV_RUN_ONCE);
    assert_int_equal(ctx.done, 50);
    assert_int_equal(ctx.failed, 1);
    uint64_t batches, jobs;
    store_worker_counters(w, &batches, &jobs);
    assert_int_equal(jobs, 51);
    assert_true(batches >= 1 && batches <= 51);
    int n = 0;
    assert_int_equal(store_task_pending(s, "devW", 1000, count_task, &n), 0);
    assert_int_equal(n, 50);
    n = 0;
    assert_int_equal(store_task_pending(s, "devFail", 1000, count_task, &n), 0);
    assert_int_equal(n, 0);
    /* Queue cap. */
    int refused = 0;
    for (int i = 0; i < 200; i++)
        if (store_worker_submit(w, job_add, NULL, &ctx.ids[0]) == -EAGAIN)
            refused++;
    assert_true(refused > 0);
    store_worker_free(w);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
}

/* ---- webhooks: the delivery queue and the offline marks ---- */

typedef struct hooks_seen {
    int n;
    int64_t ids[8];
    char body[8][64];
} hooks_seen_t;

static int hook_seen(const store_hook_delivery_t *d, void *ud)
{
    hooks_seen_t *h = ud;
    if (h->n < 8) {
        h->ids[h->n] = d->id;
        snprintf(h->body[h->n], sizeof h->body[0], "%s", d->body ? d->body : "");
    }
    h->n++;
    return 0;
}

static int hook_count(const char *hook, store_hook_status_t st, int64_t n, void *ud)
{
    int64_t *c = ud;
    if (strcmp(hook, "a") == 0)
        c[st] = n;
    return 0;
}

static store_hook_delivery_t hook_row(const char *hook, const char *body, int64_t now)
{
    store_hook_delivery_t d = { .body = body, .next_attempt = now, .created = now, .deadline = now + 100 };
    snprintf(d.hook, sizeof d.hook, "%s", hook);
    snprintf(d.event, sizeof d.event, "task.done");
    return d;
}

static void test_webhook_queue(void **state)
{
    store_t *s = *state;
    store_hook_delivery_t d1 = hook_row("a", "{\"n\":1}", 1000), d2 = hook_row("a", "{\"n\":2}", 1000),
                          d3 = hook_row("a", "{\"n\":3}", 1000);
    assert_int_equal(store_hook_enqueue(s, &d1, 2), 0);
    assert_int_equal(store_hook_enqueue(s, &d2, 2), 0);
    /* full: the new one is refused, nothing written */
    assert_int_equal(store_hook_enqueue(s, &d3, 2), -ENOSPC);
    assert_true(d1.id > 0 && d2.id > d1.id);

    /* claimed once: leased rows are not handed out again until the lease ends */
    hooks_seen_t h = { 0 };
    int64_t next = -1;
    assert_int_equal(store_hook_claim(s, 1000, 1030, 1, hook_seen, &h, &next), 0);
    assert_int_equal(h.n, 1);
    assert_int_equal(h.ids[0], d1.id);
    assert_string_equal(h.body[0], "{\"n\":1}");
    assert_int_equal(next, 1000);           /* d2 is due now */
    h = (hooks_seen_t){ 0 };
    assert_int_equal(store_hook_claim(s, 1000, 1030, 10, hook_seen, &h, &next), 0);
    assert_int_equal(h.n, 1);
    assert_int_equal(h.ids[0], d2.id);
    assert_int_equal(next, 1030);           /* both leased until 1030 */
    h = (hooks_seen_t){ 0 };
    assert_int_equal(store_hook_claim(s, 1010, 1040, 10, hook_seen, &h, &next), 0);
    assert_int_equal(h.n, 0);

    /* d1 failed an attempt (due again at 1005, lease gone); d2 delivered */
    d1.status = STORE_HOOK_PENDING;
    d1.attempts = 1;
    d1.next_attempt = 1005;
    snprintf(d1.last_error, sizeof d1.last_error, "the receiver answered 500");
    d1.last_status = 500;
    assert_int_equal(store_hook_result(s, &d1, 1001), 0);
    d2.status = STORE_HOOK_DELIVERED;
    d2.attempts = 1;
    assert_int_equal(store_hook_result(s, &d2, 1001), 0);
    assert_int_equal(store_hook_result(s, &d2, 1002), -ESTALE); /* finished already */
    h = (hooks_seen_t){ 0 };
    assert_int_equal(store_hook_claim(s, 1004, 1034, 10, hook_seen, &h, &next), 0);
    assert_int_equal(h.n, 0);
    assert_int_equal(next, 1005);
    /* a restart releases leases: d1 is claimable at once */
    assert_int_equal(store_hook_claim(s, 1005, 1035, 10, hook_seen, &h, &next), 0);
    assert_int_equal(h.n, 1);
    h = (hooks_seen_t){ 0 };
    assert_int_equal(store_hook_claim(s, 1006, 1036, 10, hook_seen, &h, &next), 0);
    assert_int_equal(h.n, 0);
    assert_int_equal(store_hook_release_leases(s), 0);
    assert_int_equal(store_hook_claim(s, 1006, 1036, 10, hook_seen, &h, &next), 0);
    assert_int_equal(h.n, 1);

    /* failed; retry brings it back with a new deadline; only a failed one */
    d1.status = STORE_HOOK_FAILED;
    d1.attempts = 2;
    assert_int_equal(store_hook_result(s, &d1, 1007), 0);
    int64_t c[3] = { -1, -1, -1 };
    assert_int_equal(store_hook_counts(s, hook_count, c), 0);
    assert_int_equal(c[STORE_HOOK_PENDING], -1);
    assert_int_equal(c[STORE_HOOK_DELIVERED], 1);
    assert_int_equal(c[STORE_HOOK_FAILED], 1);
    h = (hooks_seen_t){ 0 };
    assert_int_equal(store_hook_list(s, STORE_HOOK_FAILED, 10, hook_seen, &h), 0);
    assert_int_equal(h.n, 1);
    h = (hooks_seen_t){ 0 };
    assert_int_equal(store_hook_list(s, -1, 10, hook_seen, &h), 0);
    assert_int_equal(h.n, 2);
    assert_int_equal(h.ids[0], d2.id);      /* newest first */
    store_hook_delivery_t got;
    assert_int_equal(store_hook_retry(s, d2.id, 1008, 1108, &got), -ESTALE);
    assert_int_equal(store_hook_retry(s, 424242, 1008, 1108, &got), -ENOENT);
    assert_int_equal(store_hook_retry(s, d1.id, 1008, 1108, &got), 0);
    assert_int_equal(got.status, STORE_HOOK_PENDING);
    assert_int_equal(got.deadline, 1108);
    assert_int_equal(got.attempts, 2);
    assert_string_equal(got.last_error, "the receiver answered 500");

    /* prune: finished rows last updated before the cut */
    assert_int_equal(store_hook_prune(s, 1002), 1); /* d2 (updated 1001) */
    h = (hooks_seen_t){ 0 };
    assert_int_equal(store_hook_list(s, -1, 10, hook_seen, &h), 0);
    assert_int_equal(h.n, 1);
    assert_int_equal(store_hook_status_parse("failed"), STORE_HOOK_FAILED);
    assert_int_equal(store_hook_status_parse("sent"), -1);
}

static void test_webhook_offline(void **state)
{
    store_t *s = *state;
    /* online: last_inform >= now - (2 * interval + 60) */
    store_device_t a = dev("A1", 1000, 100, ""), b = dev("B2", 1000, 0, "");
    assert_int_equal(store_device_inform(s, &a, true), 0);
    assert_int_equal(store_device_inform(s, &b, true), 0);
    int n = 0;
    assert_int_equal(store_hook_offline_sweep(s, 1260, 3600, 100, count_dev, &n), 0);
    assert_int_equal(n, 0);
    /* A1 past its window (2 x 100 + 60); B2 has the default interval */
    assert_int_equal(store_hook_offline_sweep(s, 1261, 3600, 100, count_dev, &n), 1);
    assert_int_equal(n, 1);
    assert_int_equal(store_hook_offline_sweep(s, 1300, 3600, 100, count_dev, &n), 0); /* once */
    /* back online, then offline again: a new spell */
    a.last_inform = 1400;
    assert_int_equal(store_device_inform(s, &a, false), 0);
    assert_int_equal(store_hook_offline_sweep(s, 1400, 3600, 100, count_dev, &n), 0);
    assert_int_equal(store_hook_offline_sweep(s, 1700, 3600, 100, count_dev, &n), 1);
    assert_int_equal(n, 2);
}

static void keep_line(const char *line, size_t len, void *ud)
{
    buf_append((buf_t *)ud, line, len);
}

/* A store URL of an unknown scheme is refused, and the error names the
 * scheme without the credentials the URL carries. */
static void test_open_unknown_scheme(void **state)
{
    (void)state;
    buf_t out = BUF_INIT(4096);
    log_set_sink(keep_line, &out);
    store_t *s = NULL;
    int rc = store_open("mysql://admin:s3cr3t@db.example/outpost", NULL, &s);
    log_set_sink(NULL, NULL);
    assert_int_equal(rc, -EPROTONOSUPPORT);
    assert_null(s);
    buf_append_byte(&out, '\0');
    assert_non_null(strstr(out.data, "store_open"));
    assert_non_null(strstr(out.data, "mysql"));
    assert_null(strstr(out.data, "s3cr3t"));
    buf_free(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_device_id),
        cmocka_unit_test(test_open_unknown_scheme),
        cmocka_unit_test_setup_teardown(test_devices, test_db_setup, test_db_teardown),
        cmocka_unit_test_setup_teardown(test_params, test_db_setup, test_db_teardown),
        cmocka_unit_test_setup_teardown(test_tasks, test_db_setup, test_db_teardown),
        cmocka_unit_test_setup_teardown(test_task_trim, test_db_setup, test_db_teardown),
        cmocka_unit_test_setup_teardown(test_task_params_aside, test_db_setup, test_db_teardown),
        cmocka_unit_test_setup_teardown(test_sessions, test_db_setup, test_db_teardown),
        cmocka_unit_test_setup_teardown(test_reopen, test_db_setup, test_db_teardown),
        cmocka_unit_test_setup_teardown(test_schema_mismatch_refused_at_open, test_db_setup, test_db_teardown),
        cmocka_unit_test_setup_teardown(test_migrate_v2_wakeup_text, test_db_setup, test_db_teardown),
        cmocka_unit_test_setup_teardown(test_presets, test_db_setup, test_db_teardown),
        cmocka_unit_test_setup_teardown(test_scripts, test_db_setup, test_db_teardown),
        cmocka_unit_test_setup_teardown(test_preset_runs, test_db_setup, test_db_teardown),
        cmocka_unit_test_setup_teardown(test_preset_runs_owed, test_db_setup, test_db_teardown),
        cmocka_unit_test_setup_teardown(test_migrate_v4, test_db_setup, test_db_teardown),
        cmocka_unit_test_setup_teardown(test_worker, test_db_setup, test_db_teardown),
        cmocka_unit_test_setup_teardown(test_worker_drain, test_db_setup, test_db_teardown),
        cmocka_unit_test_setup_teardown(test_webhook_queue, test_db_setup, test_db_teardown),
        cmocka_unit_test_setup_teardown(test_webhook_offline, test_db_setup, test_db_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
