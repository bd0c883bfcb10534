/* Unit tests of the store's file rows (store_sqlite_files.c): create,
 * replace (created kept), get, list by name, delete. */
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
    assert_int_equal(test_db_new(dbpath, sizeof dbpath, "/tmp/store-files-XXXXXX"), 0);
    store_t *s;
    assert_int_equal(store_open(dbpath, NULL, &s), 0);
    *state = s;
    return 0;
}

static int teardown(void **state)
{
    store_close(*state);
    test_db_drop(dbpath);
    return 0;
}

static store_file_t file(const char *name, int64_t size, int64_t at)
{
    store_file_t f = { 0 };
    snprintf(f.name, sizeof f.name, "%s", name);
    snprintf(f.file_type, sizeof f.file_type, "1 Firmware Upgrade Image");
    snprintf(f.sha256, sizeof f.sha256, "%064d", (int)size);
    f.size = size;
    f.created = f.updated = at;
    return f;
}

static int collect(const store_file_t *f, void *ud)
{
    char *names = ud;
    strcat(names, f->name);
    strcat(names, ",");
    return 0;
}

static void test_file_rows(void **state)
{
    store_t *s = *state;
    store_file_t a = file("fw-2.bin", 100, 10), b = file("cfg.xml", 5, 11), got;
    snprintf(a.oui, sizeof a.oui, "00D09E");
    snprintf(a.username, sizeof a.username, "dl");
    snprintf(a.password, sizeof a.password, "pw");
    assert_int_equal(store_file_put(s, &a), 1);
    assert_int_equal(store_file_put(s, &b), 1);
    assert_int_equal(store_file_get(s, "fw-2.bin", &got), 0);
    assert_string_equal(got.oui, "00D09E");
    assert_string_equal(got.password, "pw");
    assert_int_equal(got.size, 100);
    assert_int_equal(got.created, 10);

    /* replaced: new values, the first created time */
    store_file_t a2 = file("fw-2.bin", 200, 20);
    a2.task_id = 7;
    assert_int_equal(store_file_put(s, &a2), 0);
    assert_int_equal(store_file_get(s, "fw-2.bin", &got), 0);
    assert_int_equal(got.size, 200);
    assert_int_equal(got.task_id, 7);
    assert_string_equal(got.username, "");
    assert_int_equal(got.created, 10);
    assert_int_equal(got.updated, 20);

    char names[256] = "";
    assert_int_equal(store_file_list(s, collect, names), 0);
    assert_string_equal(names, "cfg.xml,fw-2.bin,");

    assert_int_equal(store_file_delete(s, "cfg.xml"), 0);
    assert_int_equal(store_file_delete(s, "cfg.xml"), -ENOENT);
    assert_int_equal(store_file_get(s, "cfg.xml", &got), -ENOENT);
    names[0] = '\0';
    assert_int_equal(store_file_list(s, collect, names), 0);
    assert_string_equal(names, "fw-2.bin,");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_file_rows, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
