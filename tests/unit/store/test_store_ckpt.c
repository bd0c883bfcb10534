/* store_sqlite_ckpt: a daemon's store copies its WAL back into the database
 * on a thread of its own (SQLite's automatic checkpoint in the committing
 * connection is replaced), and the data stays whole. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "store/store.h"

static char dbpath[64];

static off_t file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? st.st_size : -1;
}

static int count_param(const store_param_t *p, void *ud)
{
    (void)p;
    (*(int *)ud)++;
    return 0;
}

/* Write ~2 MB of rows through the WAL (~3,000 frames: less than makes the
 * writer checkpoint itself) and wait: the
 * database file itself must fill up while the store stays open, which only
 * a checkpoint does; every row must read back. */
static void run(bool tool)
{
    char dir[] = "/tmp/store-ckpt-XXXXXX";
    assert_non_null(mkdtemp(dir));
    snprintf(dbpath, sizeof dbpath, "%s/acs.db", dir);
    store_opts_t o = { .tool = tool };
    store_t *s;
    assert_int_equal(store_open(dbpath, &o, &s), 0);
    store_device_t d = { .first_seen = 1000, .last_inform = 1000 };
    snprintf(d.id, sizeof d.id, "OUI-C-S1");
    snprintf(d.oui, sizeof d.oui, "OUI");
    snprintf(d.serial, sizeof d.serial, "S1");
    assert_int_equal(store_device_inform(s, &d, true), 0);
    off_t before = file_size(dbpath);
    enum { ROUNDS = 15, PER = 500 };
    static char names[PER][48], value[200];
    memset(value, 'v', sizeof value - 1);
    store_param_t p[PER];
    for (int r = 0; r < ROUNDS; r++) {
        for (int i = 0; i < PER; i++) {
            snprintf(names[i], sizeof names[i], "Device.X_Test.R%d.P%d", r, i);
            p[i] = (store_param_t){ .name = names[i], .value = value, .type = "xsd:string",
                                    .writable = -1, .notification = -1 };
        }
        assert_int_equal(store_params_put(s, d.id, p, PER, 2000 + r), 0);
    }
    /* copied back in the background (a tool's store: by SQLite, in the commit) */
    for (int i = 0; i < 100 && file_size(dbpath) < before + 1024 * 1024; i++)
        usleep(50 * 1000);
    assert_true(file_size(dbpath) >= before + 1024 * 1024);
    int n = 0;
    assert_int_equal(store_params_list(s, d.id, "Device.X_Test.", count_param, &n), 0);
    assert_int_equal(n, ROUNDS * PER);
    store_close(s);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf \"%s\"", dir);
    (void)!system(cmd);
}

static void test_daemon_store_checkpoints(void **state)
{
    (void)state;
    run(false);
}

static void test_tool_store_checkpoints(void **state)
{
    (void)state;
    run(true);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_daemon_store_checkpoints),
        cmocka_unit_test(test_tool_store_checkpoints),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
