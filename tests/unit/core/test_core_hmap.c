/* Unit tests: core/hmap — borrowed and copied keys, replacement, deletion
 * with backward shifts, iteration, and SipHash against its reference vector. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "core/hmap.h"

static void test_map_basic(void **state)
{
    hmap_t m;
    hmap_init(&m);
    assert_null(hmap_get(&m, "x", 1));
    assert_null(hmap_del(&m, "x", 1));
    enum { N = 5000 };
    char (*keys)[16] = calloc(N, 16);
    for (int i = 0; i < N; i++) {
        snprintf(keys[i], 16, "k%d", i);
        assert_int_equal(hmap_put(&m, keys[i], strlen(keys[i]), keys[i]), 0);
    }
    assert_int_equal(hmap_put(&m, "k7", 2, NULL), -EEXIST);
    assert_int_equal(hmap_len(&m), N);
    for (int i = 0; i < N; i++)
        assert_ptr_equal(hmap_get(&m, keys[i], strlen(keys[i])), keys[i]);
    /* delete every other one, then all must still be findable or absent */
    for (int i = 0; i < N; i += 2)
        assert_ptr_equal(hmap_del(&m, keys[i], strlen(keys[i])), keys[i]);
    for (int i = 0; i < N; i++) {
        void *v = hmap_get(&m, keys[i], strlen(keys[i]));
        if (i % 2)
            assert_ptr_equal(v, keys[i]);
        else
            assert_null(v);
    }
    size_t pos = 0, seen = 0;
    while (hmap_next(&m, &pos, NULL))
        seen++;
    assert_int_equal(seen, N / 2);
    for (int i = 1; i < N; i += 2)
        assert_non_null(hmap_del(&m, keys[i], strlen(keys[i])));
    assert_int_equal(hmap_len(&m), 0);
    hmap_free(&m);
    free(keys);
}

static void test_siphash_vector(void **state)
{
    /* Reference vector from the SipHash paper: key 00..0f, message 00..0e. */
    uint8_t msg[15];
    for (int i = 0; i < 15; i++)
        msg[i] = (uint8_t)i;
    uint64_t k0 = 0x0706050403020100ULL, k1 = 0x0f0e0d0c0b0a0908ULL;
    assert_true(hmap_siphash(k0, k1, msg, 15) == 0xa129ca6149be45e5ULL);
}

static void test_copied_keys_and_replace(void **state)
{
    hmap_t m;
    hmap_init(&m);
    char key[32];
    for (intptr_t i = 0; i < 3000; i++) {
        snprintf(key, sizeof key, "k%ld", (long)i); /* the buffer is reused: keys must be copied */
        assert_int_equal(hmap_put_copy(&m, key, strlen(key), (void *)(i + 1)), 0);
    }
    assert_int_equal(hmap_len(&m), 3000);
    assert_ptr_equal(hmap_gets(&m, "k7"), (void *)8);
    assert_int_equal(hmap_put_copy(&m, "k7", 2, (void *)1), -EEXIST);
    void *old;
    assert_int_equal(hmap_set_copy(&m, "k7", 2, (void *)99, &old), 0);
    assert_ptr_equal(old, (void *)8);
    assert_ptr_equal(hmap_gets(&m, "k7"), (void *)99);
    assert_int_equal(hmap_set_copy(&m, "new", 3, (void *)5, &old), 0);
    assert_null(old);
    assert_ptr_equal(hmap_del(&m, "k8", 2), (void *)9);
    assert_null(hmap_gets(&m, "k8"));
    assert_null(hmap_gets(&m, ""));
    const char *k;
    size_t n = 0, pos = 0;
    while (hmap_next(&m, &pos, &k)) {
        assert_ptr_equal(hmap_gets(&m, k), hmap_get(&m, k, strlen(k)));
        n++;
    }
    assert_int_equal(n, 3000);
    hmap_free(&m); /* the copies are freed here (the leak checker would tell) */
}

/* Random operations against a plain array: probe runs and backward shifts
 * keep every key findable. */
static void test_random_against_model(void **state)
{
    enum { KEYS = 512, OPS = 20000 };
    void *model[KEYS] = { 0 };
    char names[KEYS][8];
    hmap_t m;
    hmap_init(&m);
    uint32_t x = 12345;
    for (int op = 0; op < OPS; op++) {
        x = x * 1103515245u + 12345u;
        int k = (int)((x >> 8) % KEYS);
        snprintf(names[k], sizeof names[k], "%d", k);
        if ((x >> 20) & 1) {
            int rc = hmap_put(&m, names[k], strlen(names[k]), names[k]);
            assert_int_equal(rc, model[k] ? -EEXIST : 0);
            model[k] = names[k];
        } else {
            assert_ptr_equal(hmap_del(&m, names[k], strlen(names[k])), model[k]);
            model[k] = NULL;
        }
    }
    size_t live = 0;
    for (int k = 0; k < KEYS; k++) {
        if (model[k])
            live++;
        char nm[8];
        snprintf(nm, sizeof nm, "%d", k);
        assert_ptr_equal(hmap_get(&m, nm, strlen(nm)), model[k]);
    }
    assert_int_equal(hmap_len(&m), live);
    hmap_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_map_basic),
        cmocka_unit_test(test_copied_keys_and_replace),
        cmocka_unit_test(test_random_against_model),
        cmocka_unit_test(test_siphash_vector),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
