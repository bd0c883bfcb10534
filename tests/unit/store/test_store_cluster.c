/* Unit tests of what several nodes on one store need (store.h "several
 * nodes"): a sent task's owner and lease, its renewal, recovery of expired
 * leases only (at start: also the node's own; on SQLite: every sent one),
 * the sweeps' leader lock, and NOTIFY delivered to a listener
 * (store_pg_listen) only when the sender's transaction commits, and a
 * device deleted on one node while another writes its parameters leaving
 * no row behind. Two store handles on one database stand for two nodes. */
#include <errno.h>
#include <setjmp.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <uv.h>

#include "store/store.h"
#include "store/store_pg_listen.h"
#include "store_test_db.h"

static char dbpath[TEST_DB_MAX];

typedef struct nodes {
    store_t *a, *b;
} nodes_t;

static int setup(void **state)
{
    assert_int_equal(test_db_new(dbpath, sizeof dbpath, "/tmp/store-cluster-XXXXXX"), 0);
    nodes_t *n = calloc(1, sizeof *n);
    assert_int_equal(store_open(dbpath, NULL, &n->a), 0);
    assert_int_equal(store_open(dbpath, NULL, &n->b), 0);
    store_set_node(n->a, "node-a", 30);
    store_set_node(n->b, "node-b", 30);
    *state = n;
    return 0;
}

static int teardown(void **state)
{
    nodes_t *n = *state;
    store_close(n->a);
    store_close(n->b);
    free(n);
    test_db_drop(dbpath);
    return 0;
}

static int64_t add(store_t *s, const char *dev, const char *type)
{
    store_task_t t = { .created = 1000 };
    snprintf(t.device_id, sizeof t.device_id, "%s", dev);
    snprintf(t.type, sizeof t.type, "%s", type);
    assert_int_equal(store_task_add(s, &t), 0);
    return t.id;
}

static store_task_status_t status_of(store_t *s, int64_t id)
{
    store_task_t t;
    assert_int_equal(store_task_get(s, id, &t), 0);
    store_task_status_t st = t.status;
    store_task_clear(&t);
    return st;
}

static int note_device(const char *dev, void *ud)
{
    strcat(ud, dev);
    strcat(ud, ",");
    return 0;
}

static const char *const requeue[] = { "get_params", NULL };

static void test_lease_renew_recover(void **state)
{
    nodes_t *n = *state;
    assert_string_equal(store_node(n->a), "node-a");
    assert_int_equal(store_lease(n->a), 30);
    int64_t g = add(n->a, "dev1", "get_params"), r = add(n->a, "dev2", "reboot");
    assert_int_equal(store_task_mark_sent(n->a, g, 1000), 0); /* leased to 1030 */
    assert_int_equal(store_task_mark_sent(n->a, r, 1000), 0);
    assert_int_equal(store_task_mark_sent(n->b, g, 1000), -ESTALE); /* sent once */

    /* another node's sweep leaves a live lease alone */
    assert_int_equal(store_task_recover(n->b, requeue, 1029, false, NULL, NULL), 0);
    /* only the owner renews, only its sent tasks: one statement for all */
    int64_t ids[] = { g, r, 999999 };
    assert_int_equal(store_task_lease_renew(n->b, ids, 3, 1020), 0);
    assert_int_equal(store_task_lease_renew(n->a, ids, 3, 1020), 2); /* to 1050 */
    assert_int_equal(store_task_lease_renew(n->a, ids, 0, 1020), 0);
    assert_int_equal(store_task_recover(n->b, requeue, 1049, false, NULL, NULL), 0);
    assert_int_equal(status_of(n->b, g), STORE_TASK_SENT);

    /* the lease ran out: the re-runnable task goes back, once; the other stays sent */
    char devs[64] = "";
    assert_int_equal(store_task_recover(n->b, requeue, 1051, false, note_device, devs), 1);
    assert_string_equal(devs, "dev1,");
    assert_int_equal(store_task_recover(n->a, requeue, 1052, false, NULL, NULL), 0);
    assert_int_equal(status_of(n->a, g), STORE_TASK_PENDING);
    assert_int_equal(status_of(n->a, r), STORE_TASK_SENT);
    /* the old owner's renewal no longer touches it; the new owner takes it */
    assert_int_equal(store_task_lease_renew(n->a, ids, 1, 1053), 0);
    assert_int_equal(store_task_mark_sent(n->b, g, 1054), 0);
    assert_int_equal(store_task_lease_renew(n->a, ids, 1, 1055), 0);
    assert_int_equal(store_task_lease_renew(n->b, ids, 1, 1055), 1);
    assert_int_equal(store_task_finish(n->b, g, STORE_TASK_DONE, "{}", 0, NULL, 1056), 0);
    assert_int_equal(store_task_recover(n->a, requeue, 9999, false, NULL, NULL), 0);
    assert_int_equal(status_of(n->a, g), STORE_TASK_DONE);

    /* a requeue (the session ended) drops the lease with the mark */
    int64_t h = add(n->a, "dev3", "get_params");
    assert_int_equal(store_task_mark_sent(n->a, h, 2000), 0);
    assert_int_equal(store_task_requeue(n->a, h, 2001), 0);
    assert_int_equal(store_task_lease_renew(n->a, &h, 1, 2002), 0);
}

static void test_recover_at_start(void **state)
{
    nodes_t *n = *state;
    int64_t mine = add(n->a, "dev1", "get_params"), theirs = add(n->a, "dev2", "get_params");
    assert_int_equal(store_task_mark_sent(n->a, mine, 1000), 0);
    assert_int_equal(store_task_mark_sent(n->b, theirs, 1000), 0);
    /* node-a starts again (same node id) while node-b's lease is live */
    int got = store_task_recover(n->a, requeue, 1001, true, NULL, NULL);
    assert_int_equal(status_of(n->a, mine), STORE_TASK_PENDING);
    if (store_shared(n->a)) {
        assert_int_equal(got, 1);
        assert_int_equal(status_of(n->a, theirs), STORE_TASK_SENT);
    } else {
        /* SQLite: one node by construction, every sent task is a dead run's */
        assert_int_equal(got, 2);
        assert_int_equal(status_of(n->a, theirs), STORE_TASK_PENDING);
    }
}

static void test_leader(void **state)
{
    nodes_t *n = *state;
    if (!store_shared(n->a)) {
        assert_int_equal(store_try_leader(n->a, "expire"), 1);
        assert_int_equal(store_notify(n->a, "outpost_test", "x"), 0);
        return;
    }
    assert_int_equal(store_begin(n->a), 0);
    assert_int_equal(store_try_leader(n->a, "expire"), 1);
    assert_int_equal(store_try_leader(n->a, "expire"), 1); /* re-entrant in its holder */
    assert_int_equal(store_begin(n->b), 0);
    assert_int_equal(store_try_leader(n->b, "expire"), 0);
    assert_int_equal(store_try_leader(n->b, "trim"), 1);   /* another sweep: free */
    assert_int_equal(store_commit(n->b), 0);
    assert_int_equal(store_commit(n->a), 0);               /* released with the transaction */
    assert_int_equal(store_begin(n->b), 0);
    assert_int_equal(store_try_leader(n->b, "expire"), 1);
    assert_int_equal(store_rollback(n->b), 0);
}

/* ---- NOTIFY through a listener on a libuv loop (PostgreSQL only) ---- */

typedef struct heard {
    int ups;
    char got[16][64];
    int n;
} heard_t;

static void on_note(const char *channel, const char *payload, void *ud)
{
    heard_t *h = ud;
    if (h->n < 16)
        snprintf(h->got[h->n++], sizeof h->got[0], "%s:%s", channel, payload);
}

static void on_up(void *ud)
{
    ((heard_t *)ud)->ups++;
}

static void run_until(uv_loop_t *loop, const int *v, int want)
{
    for (int i = 0; i < 500 && *v < want; i++) {
        uv_run(loop, UV_RUN_NOWAIT);
        usleep(10000);
    }
}

static void test_listen_notify(void **state)
{
    nodes_t *n = *state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    heard_t h = { 0 };
    store_listen_t *l = NULL;
    const char *const channels[] = { "outpost_test", STORE_CHANNEL_TASK, STORE_CHANNEL_QUEUED,
                                     STORE_CHANNEL_PROV, NULL };
    if (!store_shared(n->a)) {
        assert_int_equal(store_listen_new(&loop, dbpath, channels, on_note, on_up, &h, &l),
                         -EPROTONOSUPPORT);
        uv_loop_close(&loop);
        return;
    }
    const char *const bad[] = { "no; DROP", NULL };
    assert_int_equal(store_listen_new(&loop, dbpath, bad, on_note, on_up, &h, &l), -EINVAL);
    assert_int_equal(store_listen_new(&loop, dbpath, channels, on_note, on_up, &h, &l), 0);
    run_until(&loop, &h.ups, 1);
    assert_int_equal(h.ups, 1);
    assert_true(store_listen_up(l));

    /* rolled back: never delivered; committed: delivered, in order */
    assert_int_equal(store_begin(n->a), 0);
    assert_int_equal(store_notify(n->a, "outpost_test", "lost"), 0);
    assert_int_equal(store_rollback(n->a), 0);
    assert_int_equal(store_begin(n->a), 0);
    assert_int_equal(store_notify(n->a, "outpost_test", "task 7"), 0);
    assert_int_equal(store_notify(n->a, "other_channel", "not ours"), 0);
    assert_int_equal(store_notify(n->a, "outpost_test", "task 8"), 0);
    assert_int_equal(store_commit(n->a), 0);
    run_until(&loop, &h.n, 2);
    assert_int_equal(h.n, 2);
    assert_string_equal(h.got[0], "outpost_test:task 7");
    assert_string_equal(h.got[1], "outpost_test:task 8");

    /* the server drops the connection: it comes back by itself, says so */
    char sql[160];
    snprintf(sql, sizeof sql, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                              " WHERE application_name = %s", "$$outpost-listen$$");
    assert_int_equal(test_db_sql(test_db_url(), sql), 0);
    run_until(&loop, &h.ups, 2);
    assert_int_equal(h.ups, 2);
    assert_int_equal(store_begin(n->a), 0);
    assert_int_equal(store_notify(n->a, "outpost_test", "again"), 0);
    assert_int_equal(store_commit(n->a), 0);
    run_until(&loop, &h.n, 3);
    assert_string_equal(h.got[2], "outpost_test:again");

    /* the store's own: a task queued, finished, expired; a preset changed.
     * Each says which node wrote it; a rolled-back write says nothing. */
    assert_int_equal(store_begin(n->a), 0);
    int64_t t = add(n->a, "devq", "get_params");
    assert_int_equal(store_rollback(n->a), 0);
    assert_int_equal(store_begin(n->a), 0);
    t = add(n->a, "devq", "get_params");
    /* queued by the device's own session here: nobody else is told */
    store_task_t qt = { .created = 1000 };
    snprintf(qt.device_id, sizeof qt.device_id, "devquiet");
    snprintf(qt.type, sizeof qt.type, "reboot");
    assert_int_equal(store_task_add_quiet(n->a, &qt), 0);
    assert_true(qt.id > 0);
    assert_int_equal(store_task_finish(n->a, t, STORE_TASK_DONE, "{}", 0, NULL, 1100), 0);
    assert_int_equal(store_task_finish(n->a, t, STORE_TASK_DONE, "{}", 0, NULL, 1100), -ESTALE);
    store_task_t e = { .created = 1000, .expires_at = 1050 };
    snprintf(e.device_id, sizeof e.device_id, "deve");
    snprintf(e.type, sizeof e.type, "reboot");
    assert_int_equal(store_task_add(n->a, &e), 0);
    assert_int_equal(store_task_expire(n->a, 1060), 1);
    assert_int_equal(store_task_expire(n->a, 1070), 0);
    assert_int_equal(store_preset_put(n->a, "p1", "{}", false, 1080), 1);
    assert_int_equal(store_commit(n->a), 0);
    run_until(&loop, &h.n, 8);
    assert_int_equal(h.n, 8);
    char want[64];
    assert_string_equal(h.got[3], "outpost_queued:node-a devq");
    snprintf(want, sizeof want, "outpost_task:node-a %lld", (long long)t);
    assert_string_equal(h.got[4], want);
    assert_string_equal(h.got[5], "outpost_queued:node-a deve");
    assert_string_equal(h.got[6], "outpost_task:node-a *");
    assert_string_equal(h.got[7], "outpost_prov:node-a preset");

    store_listen_free(l);
    uv_run(&loop, UV_RUN_DEFAULT); /* its handles close */
    assert_int_equal(uv_loop_close(&loop), 0);
}

/* ---- a server that takes the connection but never answers the LISTEN ---- */

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <sys/socket.h>

typedef struct mute_pg {
    int fd;
    atomic_int conns; /* connections accepted */
} mute_pg_t;

/* Answers the startup packet as a trusting server would (AuthenticationOk,
 * ReadyForQuery), then reads and says nothing until the client goes; two
 * connections. */
static void mute_pg_main(void *arg)
{
    mute_pg_t *m = arg;
    static const unsigned char hello[] = { 'R', 0, 0, 0, 8, 0, 0, 0, 0, 'Z', 0, 0, 0, 5, 'I' };
    for (int i = 0; i < 2; i++) {
        int c = accept(m->fd, NULL, NULL);
        if (c < 0)
            return;
        atomic_fetch_add(&m->conns, 1);
        char buf[1024];
        if (read(c, buf, sizeof buf) > 0 && write(c, hello, sizeof hello) == (ssize_t)sizeof hello)
            while (read(c, buf, sizeof buf) > 0)
                ;
        close(c);
    }
}

static void test_listen_unanswered(void **state)
{
    (void)state;
    mute_pg_t m = { .fd = socket(AF_INET, SOCK_STREAM, 0) };
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof sa;
    assert_true(m.fd >= 0);
    assert_int_equal(bind(m.fd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(listen(m.fd, 4), 0);
    assert_int_equal(getsockname(m.fd, (struct sockaddr *)&sa, &len), 0);
    uv_thread_t th;
    assert_int_equal(uv_thread_create(&th, mute_pg_main, &m), 0);
    char url[160];
    snprintf(url, sizeof url, "postgresql://u@127.0.0.1:%d/x?sslmode=disable&gssencmode=disable",
             ntohs(sa.sin_port));
    uv_loop_t loop;
    uv_loop_init(&loop);
    heard_t h = { 0 };
    store_listen_t *l = NULL;
    const char *const channels[] = { "outpost_test", NULL };
    assert_int_equal(store_listen_new(&loop, url, channels, on_note, on_up, &h, &l), 0);
    /* the LISTEN goes unanswered: within the connect timeout (10 s) and a
     * backoff the listener gives up on that connection and makes another */
    for (int i = 0; i < 1400 && atomic_load(&m.conns) < 2; i++) {
        uv_run(&loop, UV_RUN_NOWAIT);
        usleep(10000);
    }
    assert_int_equal(atomic_load(&m.conns), 2);
    assert_false(store_listen_up(l));
    assert_int_equal(h.ups, 0);
    store_listen_free(l);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
    uv_thread_join(&th);
    close(m.fd);
}

/* ---- a device deleted while another node writes its parameters ---------- */

typedef struct racer {
    store_t *s;
    bool delete;      /* else write two parameters */
    int rc;
    atomic_bool done;
} racer_t;

static const store_param_t race_params[] = {
    { .name = "Device.X.New1", .value = "a", .type = "xsd:string", .writable = 1 },
    { .name = "Device.X.New2", .value = "b", .type = "xsd:string", .writable = 1 },
};

static int race_write(store_t *s)
{
    return store_params_put(s, "D", race_params, 2, 2000);
}

static void racer_main(void *arg)
{
    racer_t *r = arg;
    assert_int_equal(store_begin(r->s), 0);
    r->rc = r->delete ? store_device_delete(r->s, "D") : race_write(r->s);
    assert_int_equal(r->rc < 0 ? store_rollback(r->s) : store_commit(r->s), 0);
    atomic_store(&r->done, true);
}

static int count_param(const store_param_t *p, void *ud)
{
    (void)p;
    (*(int *)ud)++;
    return 0;
}

/* The device D with a parameter that has an old value. */
static void race_device(store_t *s)
{
    store_device_t d = { .first_seen = 1000, .last_inform = 1000 };
    snprintf(d.id, sizeof d.id, "D");
    assert_int_equal(store_device_inform(s, &d, false), 0);
    store_param_t p = { .name = "Device.X.Old", .value = "1", .type = "xsd:string" };
    assert_int_equal(store_params_put(s, "D", &p, 1, 1000), 0);
    p.value = "2";
    assert_int_equal(store_params_put(s, "D", &p, 1, 1001), 0);
}

/* Runs `r` on a thread while `holder` holds its open transaction, checks
 * the racer waits for it, then commits the holder and waits for the racer. */
static void race(store_t *holder, racer_t *r)
{
    uv_thread_t th;
    assert_int_equal(uv_thread_create(&th, racer_main, r), 0);
    usleep(300 * 1000);
    assert_false(atomic_load(&r->done)); /* it waits for the holder's transaction */
    assert_int_equal(store_commit(holder), 0);
    uv_thread_join(&th);
}

/* Nothing of D left: no parameter once it is made again (SQLite keys them by
 * its id), no row at all in either table (PostgreSQL keys them by a row id
 * the new D does not have: the server is asked; 1/0 fails the statement). */
static void assert_nothing_left(store_t *s)
{
    if (test_db_pg())
        assert_int_equal(test_db_sql(dbpath, "SELECT 1 / (1 - LEAST(1, (SELECT COUNT(*) FROM params)"
                                             " + (SELECT COUNT(*) FROM param_history)))::int"), 0);
    store_device_t d = { .first_seen = 3000, .last_inform = 3000 };
    snprintf(d.id, sizeof d.id, "D");
    assert_int_equal(store_device_inform(s, &d, false), 0);
    int n = 0;
    assert_int_equal(store_params_list(s, "D", "", count_param, &n), 0);
    assert_int_equal(n, 0);
}

static void test_delete_waits_for_param_write(void **state)
{
    nodes_t *n = *state;
    race_device(n->a);
    assert_int_equal(store_begin(n->a), 0);
    assert_int_equal(race_write(n->a), 0); /* new rows, not committed */
    racer_t r = { .s = n->b, .delete = true };
    race(n->a, &r);
    assert_int_equal(r.rc, 0);
    assert_nothing_left(n->a);
}

static void test_param_write_waits_for_delete(void **state)
{
    nodes_t *n = *state;
    race_device(n->a);
    assert_int_equal(store_begin(n->b), 0);
    assert_int_equal(store_device_delete(n->b, "D"), 0); /* not committed */
    racer_t r = { .s = n->a };
    race(n->b, &r);
    assert_int_equal(r.rc, -ENOENT);
    assert_nothing_left(n->a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_lease_renew_recover, setup, teardown),
        cmocka_unit_test_setup_teardown(test_recover_at_start, setup, teardown),
        cmocka_unit_test_setup_teardown(test_leader, setup, teardown),
        cmocka_unit_test_setup_teardown(test_listen_notify, setup, teardown),
        cmocka_unit_test(test_listen_unanswered),
        cmocka_unit_test_setup_teardown(test_delete_waits_for_param_write, setup, teardown),
        cmocka_unit_test_setup_teardown(test_param_write_waits_for_delete, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
