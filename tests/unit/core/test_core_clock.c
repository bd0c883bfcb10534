/* Unit tests: core/clock's reconnect backoff, the one every reconnecting
 * client uses (XMPP, the relay link, the agent, the gateway mesh):
 * exponential, capped, jittered within [base/2, base]. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/clock.h"

static void test_backoff_doubles_and_caps(void **state)
{
    /* rnd 0 is the bottom of each window, rnd base/2 its top */
    const int64_t want[] = { 500, 1000, 2000, 4000, 8000, 16000, 30000, 30000 };
    for (int a = 0; a < 8; a++) {
        assert_int_equal(clock_backoff_ms(500, 30000, a, 0), want[a] / 2);
        assert_int_equal(clock_backoff_ms(500, 30000, a, (uint32_t)(want[a] / 2)), want[a]);
    }
    /* however long the outage, the wait stays at the cap (no overflow) */
    assert_int_equal(clock_backoff_ms(500, 30000, 1000000, 15000), 30000);
    assert_int_equal(clock_backoff_ms(10, 3600000, 1 << 30, 1800000), 3600000);
    assert_true(clock_backoff_ms(1000, 60000, 1000, 12345) <= 60000);
    /* nonsense bounds are repaired: min at least 1 ms, max at least min */
    assert_int_equal(clock_backoff_ms(800, 500, 0, 400), 800);
    assert_int_equal(clock_backoff_ms(800, 500, 5, 400), 800);
    assert_int_equal(clock_backoff_ms(0, -5, 3, 7), 1);
    assert_int_equal(clock_backoff_ms(-100, 0, 0, 0), 1);
}

static void test_backoff_jitter_window(void **state)
{
    /* every wait is within [base/2, base], and the whole window is used: a
     * fleet that lost its server together does not come back together */
    for (int a = 0; a < 10; a++) {
        int64_t d = a < 6 ? 500 << a : 30000; /* the base */
        int64_t lo = d, hi = 0;
        for (uint32_t r = 0; r < 100000; r += 7) {
            int64_t w = clock_backoff_ms(500, 30000, a, r * 2654435761u);
            assert_true(w >= (d + 1) / 2 && w <= d);
            lo = w < lo ? w : lo;
            hi = w > hi ? w : hi;
        }
        assert_true(lo <= d / 2 + d / 50); /* reaches the bottom... */
        assert_true(hi >= d - d / 50);    /* ...and the top */
    }
    /* odd bases too: never more than the base, never less than half */
    int64_t lo = 11, hi = 0;
    for (uint32_t r = 0; r < 1000; r++) {
        int64_t w = clock_backoff_ms(11, 11, 0, r);
        assert_true(w >= 6 && w <= 11);
        lo = w < lo ? w : lo;
        hi = w > hi ? w : hi;
    }
    assert_int_equal(lo, 6);
    assert_int_equal(hi, 11);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_backoff_doubles_and_caps),
        cmocka_unit_test(test_backoff_jitter_window),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
