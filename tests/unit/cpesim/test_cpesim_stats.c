/* Unit tests: cpe-sim counters and the latency histogram. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "cpesim/stats.h"

static void test_quantiles(void **state)
{
    stats_hist_t h;
    memset(&h, 0, sizeof h);
    assert_int_equal(stats_hist_quantile(&h, 0.5), 0);
    for (uint64_t v = 1; v <= 1000; v++)
        stats_hist_add(&h, v * 100); /* 100 us .. 100 ms */
    uint64_t p50 = stats_hist_quantile(&h, 0.50), p99 = stats_hist_quantile(&h, 0.99);
    /* log-linear buckets: within 1/16 of the true value, never below it */
    assert_true(p50 >= 50000 && p50 <= 50000 + 50000 / 16 + 1);
    assert_true(p99 >= 99000 && p99 <= 99000 + 99000 / 16 + 1);
    assert_int_equal(stats_hist_quantile(&h, 1.0), 100000);
    assert_int_equal(h.n, 1000);
    stats_hist_add(&h, UINT64_MAX / 2); /* lands in the last bucket, reported as the max */
    assert_int_equal(stats_hist_quantile(&h, 1.0), UINT64_MAX / 2);
    for (uint64_t v = 0; v < 16; v++) {
        stats_hist_t s;
        memset(&s, 0, sizeof s);
        stats_hist_add(&s, v);
        assert_int_equal(stats_hist_quantile(&s, 0.5), v);
    }
}

static void test_output(void **state)
{
    stats_t s;
    memset(&s, 0, sizeof s);
    s.sessions_started = 12;
    s.sessions_completed = 10;
    s.sessions_failed = 2;
    s.fail[STATS_FAIL_TIMEOUT] = 2;
    s.rpcs[3] = 5;
    stats_hist_add(&s.latency, 1500);
    const char *names[STATS_RPC_KINDS] = { [3] = "GetParameterValues" };
    buf_t b = BUF_INIT(8192);
    assert_int_equal(stats_json(&s, 2.0, 3.0, names, STATS_RPC_KINDS, 100, 1, &b), 0);
    assert_non_null(strstr(b.data, "\"completed\":10"));
    assert_non_null(strstr(b.data, "\"per_second\":5.0,\"recent_per_second\":3.0"));
    assert_non_null(strstr(b.data, "\"timeout\":2"));
    assert_non_null(strstr(b.data, "\"rpcs\":{\"GetParameterValues\":5}"));
    assert_non_null(strstr(b.data, "\"p50\":1.5"));
    buf_reset(&b);
    assert_int_equal(stats_text(&s, 2.0, 3.0, names, STATS_RPC_KINDS, 100, 1, &b), 0);
    assert_non_null(strstr(b.data, "fail_timeout=2"));
    assert_non_null(strstr(b.data, "rpcs=5 "));
    assert_non_null(strstr(b.data, " rpc_GetParameterValues=5"));
    assert_null(strstr(b.data, "rpc_(null)"));
    assert_string_equal(stats_fail_name(STATS_FAIL_DROPPED), "dropped");
    buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quantiles),
        cmocka_unit_test(test_output),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
