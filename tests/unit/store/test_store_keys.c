/* Unit tests of the store's API keys (store_sqlite_keys.c): add, list,
 * delete, last use, the version a running ACS polls, the cap, and a tool
 * opening the database beside the daemon leaving its settings alone. */
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

static store_key_t key(int i, const char *role)
{
    store_key_t k;
    memset(&k, 0, sizeof k);
    snprintf(k.id, sizeof k.id, "%012x", i);
    snprintf(k.hash, sizeof k.hash, "%064x", i * 7 + 1);
    snprintf(k.name, sizeof k.name, "key %d", i);
    snprintf(k.role, sizeof k.role, "%s", role);
    k.created = 1000 + i;
    return k;
}

typedef struct seen {
    store_key_t k[8];
    int n;
} seen_t;

static int collect(const store_key_t *k, void *ud)
{
    seen_t *s = ud;
    if (s->n < 8)
        s->k[s->n] = *k;
    s->n++;
    return 0;
}

static void test_keys(void **state)
{
    store_t *s = *state;
    int64_t v0, v;
    assert_int_equal(store_key_version(s, &v0), 0);
    store_key_t a = key(1, "admin"), b = key(2, "viewer");
    assert_int_equal(store_key_add(s, &a), 0);
    assert_int_equal(store_key_add(s, &b), 0);
    assert_int_equal(store_key_version(s, &v), 0);
    assert_int_equal(v, v0 + 2);
    /* an id or a hash taken */
    store_key_t c = key(3, "operator");
    snprintf(c.id, sizeof c.id, "%s", a.id);
    assert_int_equal(store_key_add(s, &c), -EEXIST);
    c = key(3, "operator");
    snprintf(c.hash, sizeof c.hash, "%s", b.hash);
    assert_int_equal(store_key_add(s, &c), -EEXIST);
    assert_int_equal(store_key_version(s, &v), 0);
    assert_int_equal(v, v0 + 2);

    seen_t seen = { 0 };
    assert_int_equal(store_key_list(s, collect, &seen), 0);
    assert_int_equal(seen.n, 2);
    assert_string_equal(seen.k[0].id, a.id);
    assert_string_equal(seen.k[0].hash, a.hash);
    assert_string_equal(seen.k[0].name, "key 1");
    assert_string_equal(seen.k[1].role, "viewer");
    assert_int_equal(seen.k[1].created, 1002);
    assert_int_equal(seen.k[1].last_used, 0);

    /* last use only moves forward; an unknown id is no error */
    assert_int_equal(store_key_touch(s, b.id, 5000), 0);
    assert_int_equal(store_key_touch(s, b.id, 4000), 0);
    assert_int_equal(store_key_touch(s, "nope", 4000), 0);
    seen.n = 0;
    assert_int_equal(store_key_list(s, collect, &seen), 0);
    assert_int_equal(seen.k[1].last_used, 5000);
    assert_int_equal(store_key_version(s, &v), 0);
    assert_int_equal(v, v0 + 2); /* a use is not a change */

    assert_int_equal(store_key_delete(s, a.id), 0);
    assert_int_equal(store_key_delete(s, a.id), -ENOENT);
    assert_int_equal(store_key_version(s, &v), 0);
    assert_int_equal(v, v0 + 3);
    seen.n = 0;
    assert_int_equal(store_key_list(s, collect, &seen), 0);
    assert_int_equal(seen.n, 1);
}

static void test_keys_cap(void **state)
{
    store_t *s = *state;
    assert_int_equal(store_begin(s), 0);
    for (int i = 0; i < STORE_KEYS_MAX; i++) {
        store_key_t k = key(100 + i, "viewer");
        assert_int_equal(store_key_add(s, &k), 0);
    }
    store_key_t k = key(99, "viewer");
    assert_int_equal(store_key_add(s, &k), -ENOSPC);
    assert_int_equal(store_commit(s), 0);
}

static int count_param(const store_param_t *p, void *ud)
{
    (void)p;
    (*(int *)ud)++;
    return 0;
}

/* The command line opens the database the daemon uses: the daemon's
 * param_history stays, and both see the same keys and version. */
static void test_tool_beside_daemon(void **state)
{
    store_t *d = *state, *t;
    store_close(d);
    store_opts_t od = { .param_history = 9 };
    assert_int_equal(store_open(test_db_where(), &od, &d), 0);
    store_opts_t ot = { .tool = true };
    assert_int_equal(store_open(test_db_where(), &ot, &t), 0);
    store_key_t k = key(1, "operator");
    assert_int_equal(store_key_add(t, &k), 0);
    int64_t vd, vt;
    assert_int_equal(store_key_version(d, &vd), 0);
    assert_int_equal(store_key_version(t, &vt), 0);
    assert_int_equal(vd, vt);
    store_close(t);
    /* the history cap is still the daemon's 9: ten changes keep nine old values */
    store_device_t dev;
    memset(&dev, 0, sizeof dev);
    snprintf(dev.id, sizeof dev.id, "D1");
    dev.first_seen = dev.last_inform = 1;
    assert_int_equal(store_device_inform(d, &dev, false), 0);
    for (int i = 0; i < 11; i++) {
        char val[8];
        snprintf(val, sizeof val, "%d", i);
        store_param_t p = { .name = "X.A", .value = val, .type = "xsd:int", .writable = 1 };
        assert_int_equal(store_params_put(d, "D1", &p, 1, 10 + i), 0);
    }
    int n = 0;
    assert_int_equal(store_param_history(d, "D1", "X.A", count_param, &n), 0);
    assert_int_equal(n, 9);
    *state = d;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_keys, test_db_setup, test_db_teardown),
        cmocka_unit_test_setup_teardown(test_keys_cap, test_db_setup, test_db_teardown),
        cmocka_unit_test_setup_teardown(test_tool_beside_daemon, test_db_setup, test_db_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
