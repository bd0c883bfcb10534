/* Unit tests of the store worker's batches as the backends run them: a job
 * whose statement fails in the middle of a batch rolls back alone and keeps
 * its code, the jobs around it commit; on PostgreSQL, where the statements
 * a job does not wait for travel in a pipeline (store_pg_flight.c), the
 * same, plus a lost connection in the middle of a flight, and the round
 * trips a job of the ACS's Inform costs. Run on SQLite (suite unit) and on
 * PostgreSQL (suite store-pg). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sqlite3.h>
#include <uv.h>

#include "store/store.h"
#include "store/store_worker.h"
#include "store_test_db.h"

/* A device row whose manufacturer is "boom" makes its statement fail (a
 * trigger raising an error), on either backend. */
static void install_boom(void)
{
    if (test_db_pg()) {
        assert_int_equal(test_db_sql(test_db_where(), "CREATE FUNCTION boom() RETURNS trigger LANGUAGE plpgsql"
                                             " AS $$BEGIN IF NEW.manufacturer = $b$boom$b$ THEN"
                                             " RAISE EXCEPTION $b$boom$b$; END IF; RETURN NEW; END$$"),
                         0);
        assert_int_equal(test_db_sql(test_db_where(), "CREATE TRIGGER boom BEFORE INSERT OR UPDATE ON devices"
                                             " FOR EACH ROW EXECUTE FUNCTION boom()"),
                         0);
        return;
    }
    sqlite3 *db;
    assert_int_equal(sqlite3_open(test_db_where(), &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "CREATE TRIGGER boom_i BEFORE INSERT ON devices"
                                      " WHEN NEW.manufacturer = 'boom' BEGIN SELECT RAISE(ABORT, 'boom'); END;"
                                      "CREATE TRIGGER boom_u BEFORE UPDATE ON devices"
                                      " WHEN NEW.manufacturer = 'boom' BEGIN SELECT RAISE(ABORT, 'boom'); END;",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
}

static int inform(store_t *s, const char *id, const char *manufacturer)
{
    store_device_t d = { .first_seen = 10, .last_inform = 10 };
    snprintf(d.id, sizeof d.id, "%s", id);
    snprintf(d.manufacturer, sizeof d.manufacturer, "%s", manufacturer);
    return store_device_inform(s, &d, false);
}

static bool has_device(store_t *s, const char *id)
{
    store_device_t d;
    int rc = store_device_get(s, id, &d);
    assert_true(rc == 0 || rc == -ENOENT);
    return rc == 0;
}

/* ---- a batch of jobs, made one by a gate ---------------------------------------- */

/* The worker runs the gate job alone while the test queues the others, so
 * they are taken together, in order, as one batch. */
typedef struct gate {
    uv_mutex_t mu;
    uv_cond_t cv;
    bool running, open;
    int done, rc;
} gate_t;

static int gate_job(store_t *s, void *ud)
{
    (void)s;
    gate_t *g = ud;
    uv_mutex_lock(&g->mu);
    g->running = true;
    uv_cond_signal(&g->cv);
    while (!g->open)
        uv_cond_wait(&g->cv, &g->mu);
    uv_mutex_unlock(&g->mu);
    return 0;
}

enum { JOBS_MAX = 16 };
typedef struct batch {
    int n, done;
    int rc[JOBS_MAX];
} batch_t;

typedef struct slot {
    batch_t *b;
    int i;
} slot_t;

static void slot_done(int rc, void *ud)
{
    slot_t *sl = ud;
    sl->b->rc[sl->i] = rc;
    sl->b->done++;
}

/* (asserted once the worker is gone: a failure here must not leave it running) */
static void gate_done(int rc, void *ud)
{
    ((gate_t *)ud)->rc = rc;
    ((gate_t *)ud)->done++;
}

/* Runs fns[0..n) as one batch behind a gate; their codes in b->rc. The
 * worker must have committed exactly two batches (the gate's, then theirs). */
static void run_batch(store_t *s, store_job_fn *fns, int n, batch_t *b)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    store_worker_t *w;
    assert_int_equal(store_worker_new(&loop, s, 100, &w), 0);
    gate_t g = { .running = false };
    uv_mutex_init(&g.mu);
    uv_cond_init(&g.cv);
    assert_int_equal(store_worker_submit(w, gate_job, gate_done, &g), 0);
    uv_mutex_lock(&g.mu);
    while (!g.running)
        uv_cond_wait(&g.cv, &g.mu);
    uv_mutex_unlock(&g.mu);
    slot_t slots[JOBS_MAX];
    *b = (batch_t){ .n = n };
    for (int i = 0; i < n; i++) {
        slots[i] = (slot_t){ .b = b, .i = i };
        assert_int_equal(store_worker_submit(w, fns[i], slot_done, &slots[i]), 0);
    }
    uv_mutex_lock(&g.mu);
    g.open = true;
    uv_cond_signal(&g.cv);
    uv_mutex_unlock(&g.mu);
    while (g.done < 1 || b->done < n)
        uv_run(&loop, UV_RUN_ONCE);
    uint64_t batches, jobs;
    store_worker_counters(w, &batches, &jobs);
    store_worker_free(w);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
    uv_mutex_destroy(&g.mu);
    uv_cond_destroy(&g.cv);
    assert_int_equal(g.rc, 0);
    assert_int_equal(batches, 2);
    assert_int_equal(jobs, (uint64_t)n + 1);
}

/* ---- the jobs --------------------------------------------------------------------- */

static int j_first(store_t *s, void *ud)
{
    (void)ud;
    int rc = inform(s, "A", "acme");
    return rc < 0 ? rc : store_device_set_tags(s, "A", "kept");
}

/* The failing write is the job's last statement: on PostgreSQL it is not
 * waited for, so the job's function returns 0 and its end finds out. */
static int j_boom_last(store_t *s, void *ud)
{
    (void)ud;
    int rc = inform(s, "B", "acme");
    return rc < 0 ? rc : inform(s, "B2", "boom");
}

static int j_no_device(store_t *s, void *ud)
{
    (void)ud;
    return store_device_set_tags(s, "nobody", "x"); /* no row: -ENOENT */
}

static int j_key_taken(store_t *s, void *ud)
{
    (void)ud;
    store_key_t k = { .id = "k1", .hash = "h2", .name = "again", .role = "admin", .created = 1 };
    return store_key_add(s, &k); /* the id is taken: -EEXIST */
}

/* A read after the failing write: it fails too (the write's failure aborted
 * what followed it), the job returns that. */
static int j_boom_then_read(store_t *s, void *ud)
{
    (void)ud;
    int rc = store_device_set_tags(s, "A", "undone");
    if (rc < 0)
        return rc;
    if ((rc = inform(s, "C2", "boom")) < 0)
        return rc;
    store_device_t d;
    return store_device_get(s, "A", &d);
}

/* A job whose function goes on after a failure and returns 0. */
static int j_boom_ignored(store_t *s, void *ud)
{
    (void)ud;
    (void)inform(s, "D", "acme");
    (void)inform(s, "D2", "boom");
    store_device_t d;
    (void)store_device_get(s, "D", &d);
    return 0;
}

static int j_inform_params(store_t *s, void *ud)
{
    (void)ud;
    int rc = inform(s, "E", "acme");
    if (rc < 0)
        return rc;
    store_param_t p[] = { { .name = "X.A", .value = "1", .type = "xsd:int", .writable = 1 },
                          { .name = "X.B", .value = "2", .type = "xsd:int", .writable = 0 } };
    if ((rc = store_params_put(s, "E", p, 2, 20)) < 0)
        return rc;
    bool pending = true;
    rc = store_task_has_pending(s, "E", &pending);
    return rc < 0 ? rc : pending ? -EINVAL : 0;
}

/* A statement that fails while the job waits for it (bytes PostgreSQL's
 * text refuses; SQLite stores them), the failure ignored. */
static int j_bad_bytes_ignored(store_t *s, void *ud)
{
    (void)ud;
    (void)store_device_set_cr_auth(s, "E", "\xff\xfe", "x");
    return 0;
}

static int count_param(const store_param_t *p, void *ud)
{
    (void)p;
    (*(int *)ud)++;
    return 0;
}

/* A failing statement in the middle of a batch rolls back its own job only,
 * whatever the job's function saw; the codes of the jobs around it (-ENOENT,
 * -EEXIST: no server error) are what they are one at a time. */
static void test_failing_job_mid_batch(void **state)
{
    store_t *s = *state;
    install_boom();
    store_key_t k = { .id = "k1", .hash = "h1", .name = "ops", .role = "admin", .created = 1 };
    assert_int_equal(store_key_add(s, &k), 0);
    store_job_fn fns[] = { j_first,          j_boom_last,    j_no_device,         j_key_taken,
                           j_boom_then_read, j_boom_ignored, j_inform_params,     j_bad_bytes_ignored,
                           j_no_device };
    batch_t b;
    run_batch(s, fns, 9, &b);
    assert_int_equal(b.rc[0], 0);
    assert_int_equal(b.rc[1], -EIO);
    assert_int_equal(b.rc[2], -ENOENT);
    assert_int_equal(b.rc[3], -EEXIST);
    assert_int_equal(b.rc[4], -EIO);
    assert_int_equal(b.rc[6], 0);
    store_device_t d;
    assert_int_equal(store_device_get(s, "A", &d), 0);
    assert_string_equal(d.tags, "kept"); /* job 4's change went with it */
    assert_false(has_device(s, "B"));    /* job 1 rolled back whole */
    assert_false(has_device(s, "B2"));
    assert_false(has_device(s, "C2"));
    assert_false(has_device(s, "D2"));
    if (test_db_pg()) {
        /* a failed statement leaves PostgreSQL's transaction aborted: the
         * job cannot keep the rest, it fails (and the next jobs go on) */
        assert_int_equal(b.rc[5], -EIO);
        assert_false(has_device(s, "D"));
        assert_int_equal(b.rc[7], -EIO);
    } else {
        /* SQLite undoes the failed statement only */
        assert_int_equal(b.rc[5], 0);
        assert_true(has_device(s, "D"));
        assert_int_equal(b.rc[7], 0);
    }
    assert_int_equal(b.rc[8], -ENOENT); /* the batch goes on after either */
    int n = 0;
    assert_int_equal(store_params_list(s, "E", NULL, count_param, &n), 0);
    assert_int_equal(n, 2);
}

/* ---- more queued writes than one flight holds ------------------------------------------ */

enum { MANY = 150 }; /* over PG_FLIGHT_MAX: the flight is read on the way */

static int j_many(store_t *s, void *ud)
{
    const char *bad = ud; /* the id whose row fails, or NULL */
    for (int i = 0; i < MANY; i++) {
        char id[16];
        snprintf(id, sizeof id, "M%d%s", i, bad ? "b" : "");
        int rc = inform(s, id, bad && i == MANY / 3 ? "boom" : "acme");
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int j_many_ok(store_t *s, void *ud)
{
    (void)ud;
    return j_many(s, NULL);
}

static int j_many_bad(store_t *s, void *ud)
{
    (void)ud;
    return j_many(s, "bad");
}

static void test_long_job(void **state)
{
    store_t *s = *state;
    install_boom();
    store_job_fn fns[] = { j_many_ok, j_many_bad, j_first };
    batch_t b;
    run_batch(s, fns, 3, &b);
    assert_int_equal(b.rc[0], 0);
    assert_int_equal(b.rc[1], -EIO);
    assert_int_equal(b.rc[2], 0);
    assert_true(has_device(s, "M0"));
    assert_true(has_device(s, "M149"));
    assert_false(has_device(s, "M0b")); /* before the failing row, undone too */
    assert_false(has_device(s, "M149b"));
    assert_true(has_device(s, "A"));
}

/* ---- PostgreSQL: round trips, a lost connection ------------------------------------- */

/* The server ends the store's session (a restart, a failover, an admin). */
static void kill_sessions(void)
{
    assert_int_equal(test_db_sql(test_db_where(), "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity"
                                         " WHERE datname = current_database() AND pid <> pg_backend_pid()"),
                     0);
}

/* The Inform's job (a device row, its parameters, "any task?") waits for
 * one answer; the batch's begin, savepoints and releases travel with the
 * statements, its commit is one more. */
static void test_round_trips(void **state)
{
    if (!test_db_pg())
        skip(); /* no server, no round trips */
    store_t *s = *state;
    store_job_fn fns[] = { j_inform_params, j_inform_params, j_inform_params, j_inform_params };
    uint64_t t0 = store_round_trips(s);
    batch_t b;
    run_batch(s, fns, 4, &b);
    for (int i = 0; i < 4; i++)
        assert_int_equal(b.rc[i], 0);
    /* the gate's batch: begin + savepoint + release + commit in one trip;
     * then 4 jobs, one trip each, and the commit */
    assert_int_equal(store_round_trips(s) - t0, 1 + 4 + 1);
}

/* A GetParameterValuesResponse's job: the device informed in an earlier
 * job, 1,200 values (three statements of the backend's 500). */
enum { BIG_N = 1200 };
static int j_big_answer(store_t *s, void *ud)
{
    const char *dev = ud;
    static store_param_t p[BIG_N];
    static char names[BIG_N][40], values[BIG_N][16];
    for (int i = 0; i < BIG_N; i++) {
        snprintf(names[i], sizeof names[i], "Device.X.%d.Value", i);
        snprintf(values[i], sizeof values[i], "v%d", i);
        p[i] = (store_param_t){ .name = names[i], .value = values[i], .type = "xsd:string", .writable = -1 };
    }
    return store_params_put(s, dev, p, BIG_N, 30);
}

static int j_big_known(store_t *s, void *ud)
{
    (void)ud;
    return j_big_answer(s, "E");
}

static int j_big_nobody(store_t *s, void *ud)
{
    (void)ud;
    return j_big_answer(s, "nobody");
}

/* A device the job did not write: the first statement's answer says it is
 * there, the other two are queued behind it; an unknown device
 * is still -ENOENT (the first statement wrote nothing) and its job is undone. */
static void test_round_trips_big_answer(void **state)
{
    if (!test_db_pg())
        skip();
    store_t *s = *state;
    store_job_fn first[] = { j_inform_params };
    batch_t b;
    run_batch(s, first, 1, &b);
    assert_int_equal(b.rc[0], 0);
    store_job_fn fns[] = { j_big_known };
    uint64_t t0 = store_round_trips(s);
    run_batch(s, fns, 1, &b);
    assert_int_equal(b.rc[0], 0);
    /* the gate's batch (1), the first statement's answer (1), the other two
     * read with the job's release (1), the commit (1); a trip per statement
     * would be 5 (and 12 for a 5,000-value answer's ten) */
    assert_int_equal(store_round_trips(s) - t0, 1 + 1 + 1 + 1);
    int n = 0;
    assert_int_equal(store_params_list(s, "E", "Device.X.", count_param, &n), 0);
    assert_int_equal(n, BIG_N);
    store_job_fn bad[] = { j_big_nobody, j_big_known };
    run_batch(s, bad, 2, &b);
    assert_int_equal(b.rc[0], -ENOENT);
    assert_int_equal(b.rc[1], 0);
}

static int j_lost_before(store_t *s, void *ud)
{
    (void)ud;
    return inform(s, "L1", "acme");
}

/* The connection dies with writes of the job in flight. */
static int j_lost_mid(store_t *s, void *ud)
{
    (void)ud;
    int rc = inform(s, "L2", "acme");
    if (rc < 0)
        return rc;
    kill_sessions();
    store_device_t d;
    return store_device_get(s, "L2", &d);
}

static int j_lost_after(store_t *s, void *ud)
{
    (void)ud;
    return inform(s, "L3", "acme");
}

static int j_after(store_t *s, void *ud)
{
    (void)ud;
    return inform(s, "L4", "acme");
}

/* A connection lost in the middle of a pipelined batch: every job of the
 * batch is told -ENOTCONN (nothing of it stored: retry later), none of its
 * writes land; the next batch reconnects by itself. A connection that died
 * while idle is found at the next begin, which reconnects at once. */
static void test_lost_mid_flight(void **state)
{
    if (!test_db_pg())
        skip(); /* SQLite has no connection to lose */
    store_t *s = *state;
    store_job_fn fns[] = { j_lost_before, j_lost_mid, j_lost_after };
    batch_t b;
    run_batch(s, fns, 3, &b);
    for (int i = 0; i < 3; i++)
        assert_int_equal(b.rc[i], -ENOTCONN);
    store_job_fn next[] = { j_after };
    run_batch(s, next, 1, &b);
    assert_int_equal(b.rc[0], 0);
    assert_false(has_device(s, "L1"));
    assert_false(has_device(s, "L2"));
    assert_false(has_device(s, "L3"));
    assert_true(has_device(s, "L4"));

    /* died while idle: the begin sees the server's goodbye and reconnects */
    kill_sessions();
    store_job_fn again[] = { j_lost_before, j_lost_after };
    run_batch(s, again, 2, &b);
    assert_int_equal(b.rc[0], 0);
    assert_int_equal(b.rc[1], 0);
    assert_true(has_device(s, "L1"));
    assert_true(has_device(s, "L3"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_failing_job_mid_batch, test_db_setup, test_db_teardown),
        cmocka_unit_test_setup_teardown(test_long_job, test_db_setup, test_db_teardown),
        cmocka_unit_test_setup_teardown(test_round_trips, test_db_setup, test_db_teardown),
        cmocka_unit_test_setup_teardown(test_round_trips_big_answer, test_db_setup, test_db_teardown),
        cmocka_unit_test_setup_teardown(test_lost_mid_flight, test_db_setup, test_db_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
