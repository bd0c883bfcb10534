/* Unit tests: tunnel/flow (per-stream credit). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "tunnel/flow.h"

static void test_dir_credit(void **state)
{
    tunnel_dir_t d;
    const char *why = NULL;
    tunnel_dir_init(&d, 100);
    assert_int_equal(tunnel_dir_data(&d, 60, &why), 0);
    assert_int_equal(tunnel_dir_data(&d, 40, &why), 0);
    assert_int_equal(d.credit, 0);
    assert_int_equal(tunnel_dir_data(&d, 1, &why), -EPROTO);
    assert_string_equal(why, "flow control window exceeded");
    assert_int_equal(tunnel_dir_grant(&d, 50, 100, &why), 0);
    assert_int_equal(tunnel_dir_grant(&d, 51, 100, &why), -EPROTO);
    assert_string_equal(why, "window grant above the maximum window");
    assert_int_equal(tunnel_dir_grant(&d, 50, 100, &why), 0);
    assert_int_equal(d.credit, 100);
    /* no limit: huge grants do not overflow silently */
    assert_int_equal(tunnel_dir_grant(&d, 1u << 31, 0, &why), 0);
    assert_int_equal(tunnel_dir_finish(&d, &why), 0);
    assert_int_equal(tunnel_dir_data(&d, 1, &why), -EPROTO);
    assert_string_equal(why, "data after fin");
    assert_int_equal(tunnel_dir_finish(&d, &why), -EPROTO);
    assert_int_equal(d.bytes, 100);
}

/* A clock that moves a second per reading: no window's worth ever goes
 * through "fast", so only starvation can grow a window. */
static int64_t slow_ms;
static int64_t slow_clock(void) { return slow_ms += 1000; }

static void test_rwin_batches_and_bounds(void **state)
{
    tunnel_rwin_t r;
    tunnel_rwin_init(&r, 1000, 0, 0);
    assert_int_equal(tunnel_rwin_received(&r, 400), 0);
    /* delivered 400: the grant (400) is below half a window, so wait */
    assert_int_equal(tunnel_rwin_delivered(&r, 400, slow_clock()), 0);
    assert_int_equal(tunnel_rwin_received(&r, 600), 0);
    assert_int_equal(tunnel_rwin_received(&r, 1), -EPROTO); /* beyond the window */
    /* nothing delivered beyond 400 yet: buffered + in flight stays <= window */
    assert_int_equal(tunnel_rwin_delivered(&r, 400, slow_clock()), 0);
    assert_int_equal(tunnel_rwin_delivered(&r, 1000, slow_clock()), 1000);
    assert_int_equal(r.granted - r.delivered, 1000);
    /* delivered can never run ahead of received */
    assert_int_equal(tunnel_rwin_delivered(&r, 5000, slow_clock()), 0);
    assert_int_equal(r.delivered, 1000);
}

/* A sender and a receiver through the rules: a reader that never reads stops
 * the sender after exactly one window; a reader that reads everything never
 * stalls it. */
static void test_rwin_sender_simulation(void **state)
{
    const uint64_t W = 256 * 1024;
    tunnel_dir_t snd;
    tunnel_rwin_t rcv;
    tunnel_dir_init(&snd, W);
    tunnel_rwin_init(&rcv, W, W, 0);
    const char *why;
    uint64_t sent = 0, delivered = 0;
    /* stalled reader */
    while (snd.credit) {
        size_t n = snd.credit < 16384 ? (size_t)snd.credit : 16384;
        assert_int_equal(tunnel_dir_data(&snd, n, &why), 0);
        assert_int_equal(tunnel_rwin_received(&rcv, n), 0);
        sent += n;
        assert_int_equal(tunnel_rwin_delivered(&rcv, delivered, slow_clock()), 0);
    }
    assert_int_equal(sent, W);
    /* reader wakes up and drains in small pieces: the sender always gets going again */
    for (int round = 0; round < 100; round++) {
        delivered = rcv.received;
        uint64_t g = tunnel_rwin_delivered(&rcv, delivered, slow_clock());
        if (g)
            assert_int_equal(tunnel_dir_grant(&snd, g, W, &why), 0);
        assert_true(snd.credit >= W / 2);
        size_t n = (size_t)snd.credit;
        assert_int_equal(tunnel_dir_data(&snd, n, &why), 0);
        assert_int_equal(tunnel_rwin_received(&rcv, n), 0);
        assert_true(rcv.received - rcv.delivered <= W);
    }
}

/* A fast reader behind a starving sender: the window doubles per round up
 * to its maximum, and what is outstanding never exceeds the window. */
static void test_rwin_grows_for_fast_reader(void **state)
{
    const uint64_t W = 64 * 1024, MAX = 256 * 1024;
    tunnel_dir_t snd;
    tunnel_rwin_t rcv;
    tunnel_dir_init(&snd, W);
    tunnel_rwin_init(&rcv, W, MAX, 0);
    const char *why;
    uint64_t want[] = { 2 * W, 4 * W, MAX, MAX, MAX };
    for (int round = 0; round < 5; round++) {
        size_t n = (size_t)snd.credit;
        assert_int_equal(tunnel_dir_data(&snd, n, &why), 0);
        assert_int_equal(tunnel_rwin_received(&rcv, n), 0);
        uint64_t g = tunnel_rwin_delivered(&rcv, rcv.received, slow_clock()); /* reader took it all */
        assert_int_equal(rcv.window, want[round]);
        assert_int_equal(g, rcv.window);
        assert_int_equal(tunnel_dir_grant(&snd, g, MAX, &why), 0);
        assert_true(rcv.granted - rcv.delivered <= rcv.window);
    }
}

/* A reader that lags (more than a quarter window queued when the sender ran
 * dry) keeps the window where it is: growing it would only queue more. */
static void test_rwin_stays_for_slow_reader(void **state)
{
    const uint64_t W = 64 * 1024;
    tunnel_dir_t snd;
    tunnel_rwin_t rcv;
    tunnel_dir_init(&snd, W);
    tunnel_rwin_init(&rcv, W, 16 * W, 0);
    const char *why;
    uint64_t delivered = 0;
    for (int round = 0; round < 20; round++) {
        size_t n = (size_t)snd.credit;
        assert_int_equal(tunnel_dir_data(&snd, n, &why), 0);
        assert_int_equal(tunnel_rwin_received(&rcv, n), 0);
        delivered = rcv.received - W / 2; /* half a window stays queued */
        uint64_t g = tunnel_rwin_delivered(&rcv, delivered, slow_clock());
        assert_int_equal(g, W / 2);
        assert_int_equal(tunnel_dir_grant(&snd, g, W, &why), 0);
        assert_int_equal(rcv.window, W);
    }
    /* a sender that never runs dry, at a slow pace, does not grow it either */
    tunnel_rwin_init(&rcv, W, 16 * W, 0);
    for (int i = 0; i < 100; i++) {
        assert_int_equal(tunnel_rwin_received(&rcv, W / 4), 0);
        tunnel_rwin_delivered(&rcv, rcv.received, slow_clock());
        assert_int_equal(rcv.window, W);
    }
}

/* A fast stream grows its window without its sender ever running dry (the
 * reader takes each quarter window as it comes, a millisecond apart); the
 * same stream at a window per 100 ms keeps it. */
static void test_rwin_grows_for_fast_stream(void **state)
{
    const uint64_t W = 64 * 1024, MAX = 1024 * 1024;
    for (int fast = 1; fast >= 0; fast--) {
        tunnel_rwin_t rcv;
        int64_t now = 0;
        tunnel_rwin_init(&rcv, W, MAX, now);
        for (int i = 0; i < 200; i++) {
            uint64_t n = rcv.window / 4;
            assert_int_equal(tunnel_rwin_received(&rcv, n), 0);
            assert_true(rcv.received < rcv.granted); /* never dry */
            now += fast ? 1 : 25;
            tunnel_rwin_delivered(&rcv, rcv.received, now);
            assert_true(rcv.granted - rcv.delivered <= rcv.window);
        }
        assert_int_equal(rcv.window, fast ? MAX : W);
    }
}

/* Windows sharing a budget grow only as far as it allows; a stream that
 * goes gives its growth back for the next. */
static void test_rwin_growth_within_shared_budget(void **state)
{
    const uint64_t W = 64 * 1024, MAX = 1024 * 1024;
    uint64_t budget = 3 * W; /* room for 64K->128K->256K once */
    tunnel_rwin_t a, b;
    tunnel_rwin_init(&a, W, MAX, 0);
    tunnel_rwin_init(&b, W, MAX, 0);
    a.budget = b.budget = &budget;
    for (int i = 0; i < 10; i++) { /* fast readers, senders always dry: a first */
        tunnel_rwin_t *r = i < 5 ? &a : &b;
        assert_int_equal(tunnel_rwin_received(r, r->granted - r->received), 0);
        tunnel_rwin_delivered(r, r->received, slow_clock());
        assert_true(r->granted - r->delivered <= r->window);
    }
    assert_int_equal(a.window, 4 * W); /* took 3W: all of it */
    assert_int_equal(b.window, W);     /* nothing left to grow by */
    assert_int_equal(budget, 0);
    assert_int_equal(a.grown + b.grown + budget, 3 * W);
    tunnel_rwin_release(&a);
    assert_int_equal(budget, 3 * W);
    tunnel_rwin_release(&a); /* twice gives nothing more */
    assert_int_equal(budget, 3 * W);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(tunnel_rwin_received(&b, b.granted - b.received), 0);
        tunnel_rwin_delivered(&b, b.received, slow_clock());
    }
    assert_int_equal(b.window, 4 * W);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dir_credit),
        cmocka_unit_test(test_rwin_batches_and_bounds),
        cmocka_unit_test(test_rwin_sender_simulation),
        cmocka_unit_test(test_rwin_grows_for_fast_reader),
        cmocka_unit_test(test_rwin_stays_for_slow_reader),
        cmocka_unit_test(test_rwin_grows_for_fast_stream),
        cmocka_unit_test(test_rwin_growth_within_shared_budget),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
