/* Unit tests of the fleet-wide lists (store_task_query, store_bulk_list):
 * newest first, each filter alone and together, keyset pages that return
 * every row once. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/str.h"
#include "store/store.h"
#include "store_test_db.h"

static char dbpath[TEST_DB_MAX];
static char ids[4][STORE_ID_MAX];

static int setup(void **state)
{
    assert_int_equal(test_db_new(dbpath, sizeof dbpath, "/tmp/store-lists-XXXXXX"), 0);
    store_t *s;
    assert_int_equal(store_open(dbpath, NULL, &s), 0);
    for (int i = 0; i < 4; i++) {
        store_device_t d = { .first_seen = 1, .last_inform = 100 };
        snprintf(d.serial, sizeof d.serial, "S%d", i);
        snprintf(d.product_class, sizeof d.product_class, "M-%d", i); /* a '-' the id escapes */
        snprintf(d.oui, sizeof d.oui, "OUI");
        assert_int_equal(store_device_id(d.oui, d.product_class, d.serial, d.id, sizeof d.id), 0);
        str_copy(ids[i], sizeof ids[i], d.id);
        assert_int_equal(store_device_inform(s, &d, false), 0);
    }
    *state = s;
    return 0;
}

static int teardown(void **state)
{
    store_close(*state);
    test_db_drop(dbpath);
    return 0;
}

typedef struct got {
    int64_t id[64];
    int n, stop_after;
} got_t;

static int take(const store_task_t *t, void *ud)
{
    got_t *g = ud;
    g->id[g->n++] = t->id;
    return g->stop_after && g->n == g->stop_after;
}

static int take_bulk(const store_bulk_t *b, void *ud)
{
    got_t *g = ud;
    g->id[g->n++] = b->id;
    return 0;
}

static got_t query(store_t *s, const char *dev, int status, int64_t bulk, int64_t before, int64_t limit)
{
    got_t g = { 0 };
    store_task_query_t q = { .device = dev, .status = status, .bulk = bulk, .before = before,
                             .limit = limit };
    assert_int_equal(store_task_query(s, &q, take, &g), 0);
    return g;
}

static void test_tasks(void **state)
{
    store_t *s = *state;
    int64_t made[12];
    for (int i = 0; i < 12; i++) { /* device i % 4; ids 1..12 */
        store_task_t t = { .type = "reboot", .params = NULL, .created = 1000 + i };
        str_copy(t.device_id, sizeof t.device_id, ids[i % 4]);
        assert_int_equal(store_task_add(s, &t), 0);
        made[i] = t.id;
    }
    /* 0, 4: failed; 1: done; 2: cancelled */
    assert_int_equal(store_task_finish(s, made[0], STORE_TASK_FAILED, NULL, 9002, "x", 2000), 0);
    assert_int_equal(store_task_finish(s, made[4], STORE_TASK_FAILED, NULL, 9002, "x", 2000), 0);
    assert_int_equal(store_task_finish(s, made[1], STORE_TASK_DONE, "{}", 0, "", 2000), 0);
    assert_int_equal(store_task_cancel(s, made[2], 2000), 0);

    got_t g = query(s, NULL, -1, 0, 0, 0);
    assert_int_equal(g.n, 12);
    for (int i = 0; i < 12; i++)
        assert_int_equal(g.id[i], made[11 - i]); /* newest first */
    g = query(s, ids[0], -1, 0, 0, 0);
    assert_int_equal(g.n, 3);
    assert_int_equal(g.id[0], made[8]);
    assert_int_equal(g.id[2], made[0]);
    g = query(s, NULL, STORE_TASK_FAILED, 0, 0, 0);
    assert_int_equal(g.n, 2);
    assert_int_equal(g.id[0], made[4]);
    assert_int_equal(g.id[1], made[0]);
    g = query(s, ids[0], STORE_TASK_PENDING, 0, 0, 0);
    assert_int_equal(g.n, 1);
    assert_int_equal(g.id[0], made[8]);
    g = query(s, ids[2], STORE_TASK_CANCELLED, 0, 0, 0);
    assert_int_equal(g.n, 1);
    g = query(s, "nobody", -1, 0, 0, 0);
    assert_int_equal(g.n, 0);

    /* pages of 5 from a cursor: every task once, in order */
    int64_t before = 0, all[12];
    int n = 0;
    for (;;) {
        g = query(s, NULL, -1, 0, before, 5);
        for (int i = 0; i < g.n; i++)
            all[n++] = g.id[i];
        if (g.n < 5)
            break;
        before = g.id[g.n - 1];
    }
    assert_int_equal(n, 12);
    for (int i = 0; i < 12; i++)
        assert_int_equal(all[i], made[11 - i]);
    /* the callback stops the walk */
    got_t stop = { .stop_after = 2 };
    store_task_query_t q = { .status = -1 };
    assert_int_equal(store_task_query(s, &q, take, &stop), 0);
    assert_int_equal(stop.n, 2);
}

static void test_bulks(void **state)
{
    store_t *s = *state;
    store_search_t q = { .now = 100 };
    int64_t b[3];
    for (int i = 0; i < 3; i++) {
        store_bulk_t x = { .type = "reboot", .params = "{}", .filter = "" };
        char list[4096];
        snprintf(list, sizeof list, "[\"%s\", \"%s\"]", ids[i], ids[i + 1]);
        assert_int_equal(store_begin(s), 0);
        assert_int_equal(store_bulk_create(s, &x, &q, list, 1000 + i), 0);
        assert_int_equal(store_commit(s), 0);
        b[i] = x.id;
    }
    assert_int_equal(store_bulk_end(s, b[1], STORE_BULK_CANCELLED, "api", 2000), 2);
    got_t g = { 0 };
    assert_int_equal(store_bulk_list(s, -1, 0, 0, take_bulk, &g), 0);
    assert_int_equal(g.n, 3);
    assert_int_equal(g.id[0], b[2]);
    assert_int_equal(g.id[2], b[0]);
    memset(&g, 0, sizeof g);
    assert_int_equal(store_bulk_list(s, STORE_BULK_RUNNING, 0, 0, take_bulk, &g), 0);
    assert_int_equal(g.n, 2);
    assert_int_equal(g.id[0], b[2]);
    assert_int_equal(g.id[1], b[0]);
    memset(&g, 0, sizeof g);
    assert_int_equal(store_bulk_list(s, -1, b[2], 1, take_bulk, &g), 0); /* a page of 1 below b[2] */
    assert_int_equal(g.n, 1);
    assert_int_equal(g.id[0], b[1]);
    /* a bulk's tasks in the fleet's list */
    got_t t = query(s, NULL, -1, b[0], 0, 0);
    assert_int_equal(t.n, 2);
    t = query(s, NULL, STORE_TASK_CANCELLED, b[1], 0, 0);
    assert_int_equal(t.n, 2);
    t = query(s, ids[0], -1, b[2], 0, 0);
    assert_int_equal(t.n, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_tasks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bulks, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
