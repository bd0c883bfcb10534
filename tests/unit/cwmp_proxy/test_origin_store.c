/* Unit tests: store/origin_store, the cwmp-proxy's persisted origin map,
 * on both backends: a SQLite file, or (OUTPOST_TEST_STORE_URL set: the
 * store-pg suite) a fresh PostgreSQL database per test. */
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
#include <sqlite3.h>

#include "store/origin_store.h"
#include "../store/store_test_db.h"

typedef struct rows {
    int n;
    char origin[16][128];
    char device[16][64];
    int64_t seen[16];
} rows_t;

static int collect(void *ud, const origin_rec_t *r)
{
    rows_t *rows = ud;
    if (rows->n < 16) {
        snprintf(rows->origin[rows->n], 128, "%s", r->origin);
        snprintf(rows->device[rows->n], 64, "%s", r->device);
        rows->seen[rows->n] = r->seen_s;
    }
    rows->n++;
    return 0;
}

static const char *find(const rows_t *rows, const char *origin)
{
    for (int i = 0; i < rows->n && i < 16; i++)
        if (strcmp(rows->origin[i], origin) == 0)
            return rows->device[i];
    return NULL;
}

static char path[TEST_DB_MAX]; /* a file, or a postgres:// URL */

static int setup(void **state)
{
    assert_int_equal(test_db_new(path, sizeof path, "/tmp/test-origins-XXXXXX"), 0);
    return 0;
}

static int teardown(void **state)
{
    test_db_drop(path);
    return 0;
}

static void test_put_load_reopen(void **state)
{
    origin_store_t *s;
    assert_int_equal(origin_store_open(path, &s), 0);
    origin_rec_t recs[] = {
        { "http://10.0.0.1:7547/", "OUI-PC-SN1", 100, 0 },
        { "http://10.0.0.2:7547/", "OUI-PC-SN2", 100, 0 },
        { "http://10.0.0.9:7547/", "", 100, 0 },
    };
    assert_int_equal(origin_store_put(s, recs, 3), 0);
    origin_store_close(s);

    assert_int_equal(origin_store_open(path, &s), 0);
    rows_t rows = { 0 };
    assert_int_equal(origin_store_load(s, collect, &rows), 0);
    assert_int_equal(rows.n, 3);
    assert_string_equal(find(&rows, "http://10.0.0.1:7547/"), "OUI-PC-SN1");
    assert_string_equal(find(&rows, "http://10.0.0.9:7547/"), "");
    origin_store_close(s);
}

static void test_device_moves(void **state)
{
    origin_store_t *s;
    assert_int_equal(origin_store_open(path, &s), 0);
    origin_rec_t a = { "http://10.0.0.1:7547/", "DEV1", 100, 0 };
    assert_int_equal(origin_store_put(s, &a, 1), 0);
    /* The device got a new address: the old one is no longer allowed. */
    origin_rec_t b = { "http://10.0.0.5:7547/", "DEV1", 200, 0 };
    assert_int_equal(origin_store_put(s, &b, 1), 0);
    /* Seen again without a device id (GPV response): keeps its device. */
    origin_rec_t c = { "http://10.0.0.5:7547/", "", 300, 0 };
    assert_int_equal(origin_store_put(s, &c, 1), 0);
    /* Another device now reports that address: it moves. */
    origin_rec_t d = { "http://10.0.0.5:7547/", "DEV2", 400, 0 };
    assert_int_equal(origin_store_put(s, &d, 1), 0);
    rows_t rows = { 0 };
    assert_int_equal(origin_store_load(s, collect, &rows), 0);
    assert_int_equal(rows.n, 1);
    assert_string_equal(rows.origin[0], "http://10.0.0.5:7547/");
    assert_string_equal(rows.device[0], "DEV2");
    assert_int_equal(rows.seen[0], 400);
    origin_store_close(s);
}

static void test_expire_delete(void **state)
{
    origin_store_t *s;
    assert_int_equal(origin_store_open(path, &s), 0);
    origin_rec_t recs[] = { { "http://a/", "A", 10, 0 }, { "http://b/", "B", 20, 0 }, { "http://c/", "", 30, 0 } };
    assert_int_equal(origin_store_put(s, recs, 3), 0);
    size_t removed = 99;
    assert_int_equal(origin_store_expire(s, 25, &removed), 0);
    assert_int_equal(removed, 2);
    assert_int_equal(origin_store_delete(s, "http://c/"), 0);
    assert_int_equal(origin_store_delete(s, "http://none/"), 0);
    rows_t rows = { 0 };
    assert_int_equal(origin_store_load(s, collect, &rows), 0);
    assert_int_equal(rows.n, 0);
    origin_store_close(s);
}

static int stop_at_one(void *ud, const origin_rec_t *r)
{
    return 7;
}

/* Two proxies on one store: what one writes, the other reads back (the
 * whole map, device moves included; on a shared store also by write time,
 * the refresh's read). */
static void test_two_handles(void **state)
{
    origin_store_t *a, *b;
    assert_int_equal(origin_store_open(path, &a), 0);
    assert_int_equal(origin_store_open(path, &b), 0);
    assert_int_equal(origin_store_shared(a), test_db_pg());
    origin_rec_t r1[] = { { "http://10.0.0.1/", "D1", 100, 0 }, { "http://10.0.0.2/", "D2", 200, 0 } };
    assert_int_equal(origin_store_put(a, r1, 2), 0);
    /* D1 moves, through b: a sees the new origin, the old one is gone */
    origin_rec_t m = { "http://10.0.0.9/", "D1", 300, 0 };
    assert_int_equal(origin_store_put(b, &m, 1), 0);
    rows_t rows = { 0 };
    assert_int_equal(origin_store_load(a, collect, &rows), 0);
    assert_int_equal(rows.n, 2);
    assert_null(find(&rows, "http://10.0.0.1/"));
    assert_string_equal(find(&rows, "http://10.0.0.9/"), "D1");
    /* an older report does not move seen back */
    origin_rec_t old = { "http://10.0.0.9/", "", 50, 0 };
    assert_int_equal(origin_store_put(a, &old, 1), 0);
    memset(&rows, 0, sizeof rows);
    assert_int_equal(origin_store_load(b, collect, &rows), 0);
    assert_int_equal(rows.seen[0] + rows.seen[1], 200 + 300);
    int64_t now = -1;
    memset(&rows, 0, sizeof rows);
    if (!test_db_pg()) {
        assert_int_equal(origin_store_load_written(a, 0, 0, collect, &rows, &now), -ENOTSUP);
    } else {
        /* by the server's clock: everything was written just now, whatever
         * its seen; nothing after now + 1 (the clock's second may turn) */
        assert_int_equal(origin_store_load_written(b, 0, 0, collect, &rows, &now), 0);
        assert_int_equal(rows.n, 2);
        assert_true(now > 1700000000);
        memset(&rows, 0, sizeof rows);
        assert_int_equal(origin_store_load_written(b, now - 60, 1, collect, &rows, &now), 0);
        assert_int_equal(rows.n, 1);
        memset(&rows, 0, sizeof rows);
        assert_int_equal(origin_store_load_written(b, now + 2, 0, collect, &rows, &now), 0);
        assert_int_equal(rows.n, 0);
        assert_true(now > 1700000000);
    }
    origin_store_close(a);
    origin_store_close(b);
}

static void test_errors(void **state)
{
    origin_store_t *s;
    if (test_db_pg()) {
        char bad[TEST_DB_MAX];
        test_db_url_for(test_db_url(), "no_such_database", bad, sizeof bad);
        assert_int_equal(origin_store_open(bad, &s), -EIO);
    } else {
        assert_int_equal(origin_store_open("/nonexistent-dir/x/origins.db", &s), -EIO);
    }
    assert_int_equal(origin_store_open(path, &s), 0);
    origin_rec_t a = { "http://a/", "A", 10, 0 };
    assert_int_equal(origin_store_put(s, &a, 1), 0);
    assert_int_equal(origin_store_load(s, stop_at_one, NULL), 7);
    /* the statement was reset: loading again works */
    rows_t rows = { 0 };
    assert_int_equal(origin_store_load(s, collect, &rows), 0);
    assert_int_equal(rows.n, 1);
    origin_store_close(s);
    /* A store from a newer schema is refused, not damaged. */
    if (test_db_pg()) {
        assert_int_equal(test_db_sql(path, "UPDATE cwmp_proxy_origins_meta SET v = 99"), 0);
        assert_int_equal(origin_store_open(path, &s), -EPROTO);
        return;
    }
    sqlite3 *db;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "PRAGMA user_version = 99", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    assert_int_equal(origin_store_open(path, &s), -EPROTO);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_put_load_reopen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_device_moves, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expire_delete, setup, teardown),
        cmocka_unit_test_setup_teardown(test_two_handles, setup, teardown),
        cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
