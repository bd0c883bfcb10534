/* Unit tests: core/str encoders and strict number parsing. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "core/clock.h"
#include "core/str.h"

static void test_base64_roundtrip(void **state)
{
    const char *cases[][2] = { { "", "" }, { "f", "Zg==" }, { "fo", "Zm8=" }, { "foo", "Zm9v" },
                               { "foob", "Zm9vYg==" }, { "fooba", "Zm9vYmE=" }, { "foobar", "Zm9vYmFy" } };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        buf_t e = BUF_INIT(64), d = BUF_INIT(64);
        assert_int_equal(str_base64_encode(&e, cases[i][0], strlen(cases[i][0])), 0);
        assert_string_equal(e.data ? e.data : "", cases[i][1]);
        assert_int_equal(str_base64_decode(&d, cases[i][1], strlen(cases[i][1])), 0);
        assert_int_equal(d.len, strlen(cases[i][0]));
        assert_memory_equal(d.data ? d.data : "", cases[i][0], d.len);
        buf_free(&e);
        buf_free(&d);
    }
}

static void test_base64_rejects_garbage(void **state)
{
    buf_t d = BUF_INIT(64);
    assert_int_equal(str_base64_decode(&d, "Zm9v!", 5), -EINVAL);
    buf_reset(&d);
    assert_int_equal(str_base64_decode(&d, "Zg==Zg", 6), -EINVAL);
    buf_reset(&d);
    assert_int_equal(str_base64_decode(&d, "Z", 1), -EINVAL);
    buf_free(&d);
}

static void test_pct(void **state)
{
    buf_t o = BUF_INIT(128);
    assert_int_equal(str_pct_encode(&o, "a b/c?d=é", strlen("a b/c?d=é"), "-._~"), 0);
    assert_string_equal(o.data, "a%20b%2Fc%3Fd%3D%C3%A9");
    buf_t d = BUF_INIT(128);
    assert_int_equal(str_pct_decode(&d, o.data, o.len, false), 0);
    assert_string_equal(d.data, "a b/c?d=é");
    buf_reset(&d);
    assert_int_equal(str_pct_decode(&d, "a+b%2", 5, true), -EINVAL);
    buf_reset(&d);
    assert_int_equal(str_pct_decode(&d, "a+b%zz", 6, true), -EINVAL);
    buf_reset(&d);
    assert_int_equal(str_pct_decode(&d, "a+b", 3, true), 0);
    assert_string_equal(d.data, "a b");
    buf_free(&o);
    buf_free(&d);
}

static void test_numbers(void **state)
{
    int64_t v;
    assert_int_equal(str_to_i64("42", 0, 100, &v), 0);
    assert_int_equal(v, 42);
    assert_int_equal(str_to_i64("-9223372036854775808", INT64_MIN, INT64_MAX, &v), 0);
    assert_true(v == INT64_MIN);
    assert_int_equal(str_to_i64("9223372036854775808", INT64_MIN, INT64_MAX, &v), -ERANGE);
    assert_int_equal(str_to_i64("101", 0, 100, &v), -ERANGE);
    assert_int_equal(str_to_i64("1x", 0, 100, &v), -EINVAL);
    assert_int_equal(str_to_i64("", 0, 100, &v), -EINVAL);
    assert_int_equal(str_to_i64("-", 0, 100, &v), -EINVAL);
}

static void test_hex_decode(void **state)
{
    static const char digits[] = "0123456789abcdefABCDEF";
    static const int vals[] = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 10, 11, 12, 13, 14, 15 };
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++)
        assert_int_equal(str_hexval(digits[i]), vals[i]);
    const char *bad = "gG/:@`xz \0";
    for (const char *p = bad; *p; p++)
        assert_int_equal(str_hexval(*p), -1);
    assert_int_equal(str_hexval('\0'), -1);
    assert_int_equal(str_hexval((char)0xc1), -1);

    /* what str_hex writes decodes back, and either case is read */
    unsigned char in[] = { 0x00, 0x7f, 0x80, 0xab, 0xff }, out[8];
    char hex[2 * sizeof in + 1];
    str_hex(in, sizeof in, hex);
    assert_int_equal(str_unhex(hex, strlen(hex), out, sizeof out), (int)sizeof in);
    assert_memory_equal(out, in, sizeof in);
    assert_int_equal(str_unhex("007F80ABFF", 10, out, 5), 5);
    assert_memory_equal(out, in, sizeof in);
    assert_int_equal(str_unhex("", 0, out, 0), 0);
    /* n counts the digits: a longer string is read only that far */
    assert_int_equal(str_unhex("abcdzz", 4, out, sizeof out), 2);

    assert_int_equal(str_unhex("abc", 3, out, sizeof out), -EINVAL); /* odd */
    assert_int_equal(str_unhex("ag", 2, out, sizeof out), -EINVAL);
    assert_int_equal(str_unhex("a\0", 2, out, sizeof out), -EINVAL);
    assert_int_equal(str_unhex(" a", 2, out, sizeof out), -EINVAL);
    assert_int_equal(str_unhex("0011", 4, out, 1), -ENOBUFS);

    assert_true(str_hex_lower("0123456789abcdef", 16));
    assert_true(str_hex_lower("", 0));
    assert_false(str_hex_lower("abcD", 4));
    assert_false(str_hex_lower("abg", 3));
    assert_true(str_hex_lower("abG", 2)); /* only n bytes are looked at */
}

static void test_copy_truncates(void **state)
{
    char small[4];
    assert_int_equal(str_copy(small, sizeof small, "abcdef"), -ENAMETOOLONG);
    assert_string_equal(small, "abc");
    assert_int_equal(str_copy(small, sizeof small, "ab"), 0);
    assert_true(str_ct_equal("abc", 3, "abc", 3));
    assert_false(str_ct_equal("abc", 3, "abd", 3));
    assert_false(str_ct_equal("abc", 3, "abcd", 4));
}

static void test_iso8601(void **state)
{
    char out[CLOCK_ISO_LEN];
    clock_iso8601(0, out);
    assert_string_equal(out, "1970-01-01T00:00:00Z");
    int64_t t;
    assert_int_equal(clock_parse_iso8601("2026-11-21T10:00:00Z", &t), 0);
    clock_iso8601(t, out);
    assert_string_equal(out, "2026-11-21T10:00:00Z");
    int64_t t2;
    assert_int_equal(clock_parse_iso8601("2026-11-21T12:00:00.123+02:00", &t2), 0);
    assert_true(t == t2);
    assert_int_equal(clock_parse_iso8601("2026-11-21 garbage", &t2), -EINVAL);
    assert_int_equal(clock_parse_iso8601("2026-11-21T10:00:00Zjunk", &t2), -EINVAL);
}

static void test_json_escape(void **state)
{
    buf_t b = BUF_INIT(256);
    assert_int_equal(str_json_escape(&b, "a\"b\\c\n\x01" "d\xc3\xa9"), 0);
    assert_string_equal(b.data, "a\\\"b\\\\c\\u000a\\u0001d\xc3\xa9");
    buf_free(&b);
    buf_t small = BUF_INIT(4);
    assert_int_equal(str_json_escape(&small, "\"\"\""), -ENOBUFS);
    buf_free(&small);
}

/* Keys for hash tables: distinct, every bit used, different in another
 * thread (each thread seeds its own sequence from the kernel). */
/* Pooled random bytes: never the same bytes twice, across pool refills,
 * and in a forked child (which must not repeat its parent's pool). */
static void test_random_pool(void **state)
{
    (void)state;
    enum { N = 200 };
    unsigned char v[N][16];
    for (int i = 0; i < N; i++) /* 3,200 bytes: several refills of the pool */
        assert_int_equal(str_random(v[i], sizeof v[i]), 0);
    for (int i = 0; i < N; i++)
        for (int k = i + 1; k < N; k++)
            assert_memory_not_equal(v[i], v[k], sizeof v[i]);
    unsigned char big[1000], zero[1000] = { 0 };
    assert_int_equal(str_random(big, sizeof big), 0); /* straight from the kernel */
    assert_memory_not_equal(big, zero, sizeof big);

    unsigned char mine[16], childs[16];
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    assert_int_equal(str_random(mine, 1), 0); /* the pool is filled now */
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        unsigned char b[16];
        _exit(str_random(b, sizeof b) == 0 && write(fds[1], b, sizeof b) == (ssize_t)sizeof b ? 0 : 1);
    }
    assert_int_equal(str_random(mine, sizeof mine), 0);
    assert_int_equal(read(fds[0], childs, sizeof childs), (ssize_t)sizeof childs);
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_int_equal(st, 0);
    assert_memory_not_equal(mine, childs, sizeof mine);
    close(fds[0]);
    close(fds[1]);
}

static void *seed_in_thread(void *out)
{
    *(uint64_t *)out = str_seed64();
    return NULL;
}

static void test_seed64(void **state)
{
    (void)state;
    enum { N = 4096 };
    static uint64_t v[N];
    uint64_t or_bits = 0, and_bits = ~0ULL;
    for (size_t i = 0; i < N; i++) {
        v[i] = str_seed64();
        or_bits |= v[i];
        and_bits &= v[i];
        for (size_t k = 0; k < i; k++)
            assert_true(v[k] != v[i]);
    }
    assert_true(or_bits == ~0ULL && and_bits == 0);
    uint64_t other = 0;
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, seed_in_thread, &other), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    for (size_t i = 0; i < N; i++)
        assert_true(other != v[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_base64_roundtrip), cmocka_unit_test(test_base64_rejects_garbage),
        cmocka_unit_test(test_pct),              cmocka_unit_test(test_hex_decode),
        cmocka_unit_test(test_numbers),
        cmocka_unit_test(test_copy_truncates),   cmocka_unit_test(test_iso8601),
        cmocka_unit_test(test_json_escape),      cmocka_unit_test(test_seed64), cmocka_unit_test(test_random_pool),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
