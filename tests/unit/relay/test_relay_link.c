/* Unit tests: relay/relay_link's reconnect pacing (exponential, capped, jittered). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "relay/relay_link.h"

static void test_backoff_doubles_and_caps(void **state)
{
    /* rnd 0 is the top of each window: the undelayed schedule */
    const int64_t want[] = { 500, 1000, 2000, 4000, 8000, 16000, 30000, 30000 };
    for (int a = 0; a < 8; a++)
        assert_int_equal(relay_link_backoff_ms(500, 30000, a, 0), want[a]);
    /* however long the outage, the wait stays at the cap (no overflow) */
    assert_int_equal(relay_link_backoff_ms(500, 30000, 1000000, 0), 30000);
    assert_int_equal(relay_link_backoff_ms(10, 3600000, 1 << 30, 0), 3600000);
    /* min above max: the cap wins */
    assert_int_equal(relay_link_backoff_ms(800, 500, 0, 0), 500);
}

static void test_backoff_jitter_window(void **state)
{
    /* every wait is within [d/2, d], and the whole window is used: a
     * fleet that lost the relay together does not come back together */
    for (int a = 0; a < 10; a++) {
        int64_t d = relay_link_backoff_ms(500, 30000, a, 0);
        int64_t lo = d, hi = 0;
        for (uint32_t r = 0; r < 100000; r += 7) {
            int64_t w = relay_link_backoff_ms(500, 30000, a, r * 2654435761u);
            assert_true(w >= (d + 1) / 2 && w <= d);
            lo = w < lo ? w : lo;
            hi = w > hi ? w : hi;
        }
        assert_true(lo <= d / 2 + d / 50); /* reaches the bottom... */
        assert_true(hi >= d - d / 50);    /* ...and the top */
    }
    /* odd delays too: never more than d, never less than half */
    for (uint32_t r = 0; r < 1000; r++) {
        int64_t w = relay_link_backoff_ms(11, 11, 0, r);
        assert_true(w >= 6 && w <= 11);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_backoff_doubles_and_caps),
        cmocka_unit_test(test_backoff_jitter_window),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
