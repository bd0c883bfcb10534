/* Unit tests of the API's failure answers (src/acs/acs_api_err.c): each
 * cause its own row and a truthful message. The case behind them: a preset
 * write that lost to other writers (store_preset_put/delete's -EAGAIN) used
 * to be answered "store queue full, retry" like a full queue; its job now
 * returns it renamed (acs_api_raced), and the row says what happened. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "acs/acs_api_err.h"

static void test_lost_race_says_so(void **state)
{
    (void)state;
    /* the store's -EAGAIN from a preset write, as the job returns it */
    int rc = acs_api_raced(-EAGAIN);
    assert_int_equal(rc, -ACS_ERACED);
    const acs_api_err_t *e = acs_api_err_for(rc);
    assert_int_equal(e->status, 409);
    assert_string_equal(e->code, "conflict");
    assert_non_null(strstr(e->message, "another writer"));
    assert_non_null(strstr(e->message, "nothing was written"));
    assert_null(strstr(e->message, "queue"));
    /* other results pass through untouched */
    assert_int_equal(acs_api_raced(0), 0);
    assert_int_equal(acs_api_raced(1), 1);
    assert_int_equal(acs_api_raced(-EEXIST), -EEXIST);
    assert_int_equal(acs_api_raced(-EPERM), -EPERM);
}

static void test_full_queue_says_so(void **state)
{
    (void)state;
    const acs_api_err_t *e = acs_api_err_for(-EAGAIN);
    assert_int_equal(e->status, 503);
    assert_string_equal(e->code, "unavailable");
    assert_non_null(strstr(e->message, "queue is full"));
    assert_non_null(e->headers);
    assert_non_null(strstr(e->headers, "Retry-After: "));
}

static void test_each_cause_its_own_text(void **state)
{
    (void)state;
    const int rcs[] = { -EAGAIN, -ACS_ERACED, -ENOTCONN, -ECANCELED, -ENOMEM };
    const size_t n = sizeof rcs / sizeof rcs[0];
    for (size_t i = 0; i < n; i++) {
        const acs_api_err_t *e = acs_api_err_for(rcs[i]);
        assert_int_equal(e->rc, rcs[i]); /* its own row, not the default */
        assert_true(e->status >= 400 && e->status < 600);
        assert_true(strlen(e->message) > 10);
        if (e->headers) /* complete header lines */
            assert_non_null(strstr(e->headers, "\r\n"));
        for (size_t k = 0; k < i; k++)
            assert_string_not_equal(e->message, acs_api_err_for(rcs[k])->message);
    }
    assert_non_null(strstr(acs_api_err_for(-ENOTCONN)->message, "cannot be reached"));
    assert_string_equal(acs_api_err_for(-ENOTCONN)->headers, "Retry-After: 5\r\n");
    assert_non_null(strstr(acs_api_err_for(-ECANCELED)->message, "shutting down"));
    assert_non_null(strstr(acs_api_err_for(-ENOMEM)->message, "out of memory"));
}

static void test_anything_else_is_internal(void **state)
{
    (void)state;
    const int rcs[] = { -EIO, -EINVAL, -ENOSPC, -12345, 0 };
    for (size_t i = 0; i < sizeof rcs / sizeof rcs[0]; i++) {
        const acs_api_err_t *e = acs_api_err_for(rcs[i]);
        assert_int_equal(e->rc, 0);
        assert_int_equal(e->status, 500);
        assert_string_equal(e->code, "internal");
        assert_null(e->headers);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lost_race_says_so),
        cmocka_unit_test(test_full_queue_says_so),
        cmocka_unit_test(test_each_cause_its_own_text),
        cmocka_unit_test(test_anything_else_is_internal),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
