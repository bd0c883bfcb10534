/* Unit tests: core/buf — the cap is a hard limit and errors leave the buffer intact. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "core/buf.h"

static void test_append_within_cap(void **state)
{
    buf_t b = BUF_INIT(8);
    assert_int_equal(buf_append(&b, "abcd", 4), 0);
    assert_int_equal(buf_append_str(&b, "efgh"), 0);
    assert_int_equal(b.len, 8);
    assert_string_equal(b.data, "abcdefgh");
    buf_free(&b);
}

static void test_append_past_cap_fails_without_change(void **state)
{
    buf_t b = BUF_INIT(8);
    assert_int_equal(buf_append(&b, "abcdef", 6), 0);
    assert_int_equal(buf_append(&b, "xyz", 3), -ENOBUFS);
    assert_int_equal(b.len, 6);
    assert_string_equal(b.data, "abcdef");
    assert_int_equal(buf_printf(&b, "%d", 12345), -ENOBUFS);
    assert_int_equal(b.len, 6);
    assert_int_equal(buf_printf(&b, "%d", 12), 0);
    assert_string_equal(b.data, "abcdef12");
    buf_free(&b);
}

/* The inline path (room already allocated) keeps the cap and the NUL: a
 * buffer with memory to spare past its cap (a cap lowered after it grew,
 * as a reused buffer may be) still stops at the cap, byte by byte. */
static void test_append_in_room_keeps_the_cap(void **state)
{
    buf_t b = BUF_INIT(1000);
    assert_int_equal(buf_reserve(&b, 500), 0);
    b.max = 5;
    for (int i = 0; i < 5; i++)
        assert_int_equal(buf_append_byte(&b, (char)('a' + i)), 0);
    assert_int_equal(buf_append_byte(&b, 'x'), -ENOBUFS);
    assert_int_equal(buf_append(&b, "", 0), 0);
    assert_int_equal(buf_append(&b, NULL, 0), 0); /* nothing, from nowhere */
    assert_int_equal(b.len, 5);
    assert_string_equal(b.data, "abcde");
    /* the slow path grows a buffer whose room ran out, NUL included */
    buf_t g = BUF_INIT(200);
    for (int i = 0; i < 200; i++)
        assert_int_equal(buf_append_byte(&g, 'z'), 0);
    assert_int_equal(g.len, 200);
    assert_int_equal(g.data[200], '\0');
    assert_int_equal(buf_append_byte(&g, 'z'), -ENOBUFS);
    buf_free(&g);
    buf_free(&b);
}

static void test_printf_long(void **state)
{
    buf_t b = BUF_INIT(10000);
    char big[1000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    assert_int_equal(buf_printf(&b, "[%s]", big), 0);
    assert_int_equal(b.len, 1001);
    assert_int_equal(b.data[0], '[');
    assert_int_equal(b.data[1000], ']');
    buf_free(&b);
}

static void test_consume_and_steal(void **state)
{
    buf_t b = BUF_INIT(64);
    buf_append_str(&b, "hello world");
    buf_consume(&b, 6);
    assert_string_equal(b.data, "world");
    buf_consume(&b, 100);
    assert_int_equal(b.len, 0);
    buf_append_str(&b, "abc");
    size_t n;
    char *p = buf_steal(&b, &n);
    assert_int_equal(n, 3);
    assert_string_equal(p, "abc");
    assert_null(b.data);
    free(p);
    buf_free(&b);
}

static void test_reserve_overflow(void **state)
{
    buf_t b = BUF_INIT(SIZE_MAX - 1);
    assert_int_equal(buf_append(&b, "a", 1), 0);
    assert_int_equal(buf_reserve(&b, SIZE_MAX), -ENOBUFS);
    buf_free(&b);
}

/* A buffer that held a secret is wiped whole: the bytes a reset left past
 * the NUL too, and nothing of a longer earlier value survives. */
static void test_wipe(void **state)
{
    buf_t b = BUF_INIT(256);
    assert_int_equal(buf_append_str(&b, "user:a-long-password"), 0);
    size_t cap = b.cap;
    buf_reset(&b);
    assert_int_equal(buf_append_str(&b, "x"), 0);
    assert_non_null(memmem(b.data, cap, "password", 8)); /* a reset keeps the old bytes */
    char *mem = b.data;
    buf_wipe(&b);
    assert_int_equal(b.len, 0);
    assert_ptr_equal(b.data, mem); /* the memory is kept for reuse */
    assert_int_equal(b.cap, cap);
    for (size_t i = 0; i < cap; i++)
        assert_int_equal(mem[i], 0);
    assert_int_equal(buf_append_str(&b, "again"), 0);
    assert_string_equal(b.data, "again");
    buf_free_secret(&b);
    assert_null(b.data);
    assert_int_equal(b.len + b.cap, 0);
    assert_int_equal(b.max, 256);
    buf_free_secret(&b); /* an empty buffer: nothing to do */
    buf_wipe(&b);
}

/* A secret buffer's growth keeps its bytes and the cap (that the old block
 * is wiped is not observable from here: it is freed). */
static void test_reserve_secret(void **state)
{
    buf_t b = BUF_INIT(100);
    assert_int_equal(buf_reserve_secret(&b, 10), 0); /* from nothing */
    assert_int_equal(buf_append_str(&b, "user:password"), 0);
    size_t cap = b.cap;
    char *mem = b.data;
    assert_int_equal(buf_reserve_secret(&b, 5), 0); /* room already: the block stays */
    assert_ptr_equal(b.data, mem);
    assert_int_equal(buf_reserve_secret(&b, 80), 0);
    assert_true(b.cap > cap);
    assert_int_equal(b.cap, 101); /* the cap's own size, as buf_reserve does */
    assert_string_equal(b.data, "user:password");
    assert_int_equal(b.len, 13);
    assert_int_equal(buf_reserve_secret(&b, 88), -ENOBUFS);
    assert_string_equal(b.data, "user:password");
    buf_free_secret(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_append_within_cap),
        cmocka_unit_test(test_append_past_cap_fails_without_change),
        cmocka_unit_test(test_append_in_room_keeps_the_cap),
        cmocka_unit_test(test_printf_long),
        cmocka_unit_test(test_consume_and_steal),
        cmocka_unit_test(test_reserve_overflow),
        cmocka_unit_test(test_wipe),
        cmocka_unit_test(test_reserve_secret),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
