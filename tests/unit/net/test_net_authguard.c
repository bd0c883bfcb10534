/* Unit tests: net/authguard — per-address failure counts, growing lock-outs,
 * rate-limited log reports. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "net/authguard.h"

static void test_basics(void **state)
{
    (void)state;
    authguard_t g;
    authguard_init(&g, 4, 3, 60000);
    int64_t t = 1000000;
    /* two wrong passwords: still allowed; the third locks the address out */
    assert_int_equal(authguard_fail(&g, "10.0.0.1", t, NULL), 0);
    assert_int_equal(authguard_fail(&g, "10.0.0.1", t + 10, NULL), 0);
    assert_int_equal(authguard_locked(&g, "10.0.0.1", t + 20), 0);
    assert_int_equal(authguard_fail(&g, "10.0.0.1", t + 20, NULL), 60000);
    assert_int_equal(authguard_locked(&g, "10.0.0.1", t + 1020), 59000);
    assert_int_equal(g.lockouts, 1);
    /* only that address: the ACS elsewhere is not locked out */
    assert_int_equal(authguard_locked(&g, "10.0.0.2", t + 1020), 0);
    /* the same host written as IPv4-mapped IPv6 is the same key */
    assert_true(authguard_locked(&g, "::ffff:10.0.0.1", t + 1020) > 0);
    /* it ends */
    assert_int_equal(authguard_locked(&g, "10.0.0.1", t + 60020), 0);
    /* a success forgets the count */
    authguard_fail(&g, "10.0.0.3", t, NULL);
    authguard_fail(&g, "10.0.0.3", t, NULL);
    authguard_ok(&g, "10.0.0.3");
    assert_int_equal(authguard_fail(&g, "10.0.0.3", t, NULL), 0);
    assert_int_equal(authguard_fail(&g, "10.0.0.3", t, NULL), 0);
    /* failures far apart are not "in a row" */
    authguard_ok(&g, "10.0.0.3");
    for (int i = 0; i < 10; i++)
        assert_int_equal(authguard_fail(&g, "10.0.0.3", t + i * 61000LL, NULL), 0);
    /* IPv6: the whole /64 counts as one host */
    authguard_fail(&g, "2001:db8:1:2::1", t, NULL);
    authguard_fail(&g, "2001:db8:1:2::2", t, NULL);
    assert_int_equal(authguard_fail(&g, "2001:db8:1:2:ffff::3", t, NULL), 60000);
    assert_true(authguard_locked(&g, "2001:db8:1:2::99", t + 1) > 0);
    assert_int_equal(authguard_locked(&g, "2001:db8:1:3::1", t + 1), 0);
    /* not an address: never counted, never locked */
    assert_int_equal(authguard_fail(&g, "not-an-ip", t, NULL), 0);
    assert_int_equal(authguard_locked(&g, "not-an-ip", t), 0);
    /* capped: a flood of addresses evicts the least recently seen */
    for (int i = 0; i < 100; i++) {
        char a[32];
        snprintf(a, sizeof a, "192.0.2.%d", i);
        authguard_fail(&g, a, t, NULL);
    }
    assert_int_equal(authguard_count(&g), 4);
    authguard_free(&g);
    /* max_failures 0: off */
    authguard_init(&g, 4, 0, 60000);
    for (int i = 0; i < 20; i++)
        assert_int_equal(authguard_fail(&g, "10.0.0.1", t, NULL), 0);
    assert_int_equal(authguard_locked(&g, "10.0.0.1", t), 0);
    assert_int_equal(authguard_count(&g), 0);
    authguard_free(&g);
}

static void test_lockouts_grow(void **state)
{
    (void)state;
    authguard_t g;
    authguard_init(&g, 16, 2, 1000);
    assert_int_equal(g.lockout_max_ms, 64000);
    int64_t t = 5000000;
    int64_t want = 1000;
    /* each lock-out in a row doubles, up to 64 times the first */
    for (int strike = 1; strike <= 9; strike++) {
        authguard_report_t rep;
        assert_int_equal(authguard_fail(&g, "10.1.1.1", t, &rep), 0);
        assert_int_equal(authguard_fail(&g, "10.1.1.1", t + 1, &rep), want);
        assert_true(rep.log); /* a lock-out start is always said */
        assert_int_equal(rep.strike, strike);
        assert_int_equal(rep.locked_ms, want);
        t += want + 10; /* just after it ends */
        want = want * 2 > 64000 ? 64000 : want * 2;
    }
    /* quiet for longer than the longest lock-out: back to the first */
    t += 64001;
    authguard_fail(&g, "10.1.1.1", t, NULL);
    assert_int_equal(authguard_fail(&g, "10.1.1.1", t + 1, NULL), 1000);
    /* a success forgets the strikes too */
    authguard_ok(&g, "10.1.1.1");
    authguard_fail(&g, "10.1.1.1", t + 5000, NULL);
    assert_int_equal(authguard_fail(&g, "10.1.1.1", t + 5001, NULL), 1000);
    authguard_free(&g);
}

static void test_log_reports(void **state)
{
    (void)state;
    authguard_t g;
    authguard_init(&g, 16, 1000, 60000);
    int64_t t = 1000000;
    authguard_report_t rep;
    /* the first failure is said at once, with its address */
    authguard_fail(&g, "192.0.2.7", t, &rep);
    assert_true(rep.log);
    assert_int_equal(rep.count, 1);
    assert_string_equal(rep.addr, "192.0.2.7");
    assert_int_equal(rep.locked_ms, 0);
    /* then quiet for a minute, whatever the rate */
    for (int i = 1; i <= 500; i++) {
        authguard_fail(&g, "192.0.2.7", t + i * 100, &rep);
        assert_false(rep.log);
    }
    /* the next failure after the interval carries the count */
    authguard_fail(&g, "192.0.2.7", t + 60000, &rep);
    assert_true(rep.log);
    assert_int_equal(rep.count, 501);
    /* IPv6 is said as its /64 */
    authguard_fail(&g, "2001:db8:5:6:7::1", t, &rep);
    assert_string_equal(rep.addr, "2001:db8:5:6::/64");
    authguard_free(&g);
}

static int swept;
static uint64_t swept_count;

static void on_sweep(const authguard_report_t *rep, void *ud)
{
    (void)ud;
    swept++;
    swept_count = rep->count;
    assert_string_equal(rep->addr, "198.51.100.1");
}

static void test_refused_and_sweep(void **state)
{
    (void)state;
    authguard_t g;
    authguard_init(&g, 16, 3, 120000);
    int64_t t = 1000000;
    authguard_report_t rep;
    /* not locked: check counts nothing */
    assert_int_equal(authguard_check(&g, "198.51.100.1", t, &rep), 0);
    assert_false(rep.log);
    for (int i = 0; i < 3; i++)
        authguard_fail(&g, "198.51.100.1", t, &rep);
    assert_true(rep.log && rep.locked_ms == 120000);
    /* attempts during the lock-out are refused, counted, not said each time */
    for (int i = 0; i < 40; i++) {
        assert_true(authguard_check(&g, "198.51.100.1", t + 10 + i, &rep) > 0);
        assert_false(rep.log);
    }
    assert_int_equal(g.refused, 40);
    assert_int_equal(g.failures, 3);
    /* nothing is due before the interval; then one report with the count */
    swept = 0;
    authguard_sweep(&g, t + 30000, on_sweep, NULL);
    assert_int_equal(swept, 0);
    authguard_sweep(&g, t + 60000, on_sweep, NULL);
    assert_int_equal(swept, 1);
    assert_int_equal(swept_count, 40);
    authguard_sweep(&g, t + 200000, on_sweep, NULL);
    assert_int_equal(swept, 1); /* nothing new */
    /* a success forgives, but failures not said yet are still said, once */
    authguard_fail(&g, "198.51.100.1", t + 300000, &rep);
    assert_true(rep.log); /* said at once: the last line is old */
    authguard_fail(&g, "198.51.100.1", t + 300001, &rep);
    assert_false(rep.log);
    authguard_ok(&g, "198.51.100.1");
    assert_int_equal(authguard_locked(&g, "198.51.100.1", t + 300002), 0);
    assert_int_equal(authguard_count(&g), 1);
    authguard_sweep(&g, t + 400000, on_sweep, NULL);
    assert_int_equal(swept, 2);
    assert_int_equal(swept_count, 1);
    assert_int_equal(authguard_count(&g), 0);
    authguard_free(&g);
}

static int said_n;
static uint64_t said_total;

static void on_say(const authguard_report_t *rep, void *ud)
{
    (void)ud;
    said_n++;
    said_total += rep->count;
}

static void test_the_guard_says_its_own_lines(void **state)
{
    (void)state;
    authguard_t g;
    authguard_init(&g, 16, 1000, 60000);
    authguard_set_say(&g, on_say, NULL);
    said_n = 0;
    said_total = 0;
    int64_t t = 1000000;
    for (int i = 0; i < 100; i++)
        authguard_fail(&g, "203.0.113.5", t + i, NULL); /* no report asked for: the guard says it */
    assert_int_equal(said_n, 1); /* the first, at once */
    /* later calls sweep what other addresses have due (here: itself) */
    authguard_check(&g, "203.0.113.99", t + 61000, NULL);
    assert_int_equal(said_n, 2);
    assert_int_equal(said_total, 100);
    authguard_fail(&g, "203.0.113.5", t + 62000, NULL);
    authguard_fail(&g, "203.0.113.5", t + 62001, NULL);
    authguard_free(&g); /* and what is left at the end */
    assert_int_equal(said_total, 102);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_basics),
        cmocka_unit_test(test_lockouts_grow),
        cmocka_unit_test(test_log_reports),
        cmocka_unit_test(test_refused_and_sweep),
        cmocka_unit_test(test_the_guard_says_its_own_lines),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
