/* Unit tests: core/metrics — histograms, the text format, process metrics. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "core/metrics.h"

static void test_metrics(void **state)
{
    metrics_hist_t h = { 0 };
    for (int i = 0; i < 98; i++)
        metrics_hist_observe(&h, 0.0008);
    metrics_hist_observe(&h, 0.2);
    metrics_hist_observe(&h, 30);
    assert_int_equal(h.count, 100);
    assert_true(metrics_hist_quantile(&h, 0.5) == 0.001);
    assert_true(metrics_hist_quantile(&h, 0.99) == 0.25);
    assert_true(isinf(metrics_hist_quantile(&h, 1.0)));
    buf_t out = BUF_INIT(1 << 16);
    assert_int_equal(metrics_hist_write(&out, "x_seconds", "backend=\"a\"", &h), 0);
    assert_non_null(strstr(out.data, "x_seconds_bucket{backend=\"a\",le=\"0.001\"} 98\n"));
    assert_non_null(strstr(out.data, "x_seconds_bucket{backend=\"a\",le=\"+Inf\"} 100\n"));
    assert_non_null(strstr(out.data, "x_seconds_count{backend=\"a\"} 100\n"));
    buf_reset(&out);
    assert_int_equal(metrics_value(&out, "y_total", "", 12), 0);
    assert_string_equal(out.data, "y_total 12\n");
    buf_reset(&out);
    metrics_label_escape(&out, "a\"b\\c\nd");
    assert_string_equal(out.data, "a\\\"b\\\\c\\nd");
    buf_free(&out);
}

static double sample(const char *text, const char *name)
{
    char key[128];
    snprintf(key, sizeof key, "\n%s ", name);
    const char *p = strstr(text, key);
    assert_non_null(p);
    return strtod(p + strlen(key), NULL);
}

static void test_process(void **state)
{
    buf_t out = BUF_INIT(1 << 16);
    assert_int_equal(metrics_process(&out, "unit \"x\""), 0);
    /* build_info with escaped labels, version and commit */
    assert_non_null(strstr(out.data, "outpost_build_info{daemon=\"unit \\\"x\\\"\",version=\""));
    assert_non_null(strstr(out.data, "# TYPE process_cpu_seconds_total counter\n"));
    /* real values of this process */
    double rss = sample(out.data, "process_resident_memory_bytes");
    assert_true(rss > 100000 && rss < 1e10);
    double fds = sample(out.data, "process_open_fds");
    assert_true(fds >= 3);
    int extra = dup(0);
    buf_t again = BUF_INIT(1 << 16);
    metrics_process(&again, "unit");
    assert_true(sample(again.data, "process_open_fds") == fds + 1);
    close(extra);
    double start = sample(out.data, "process_start_time_seconds");
    assert_true(start > 1.6e9 && start <= (double)time(NULL) + 1);
    /* every line is a comment or "name{...} value" */
    for (char *line = out.data; *line;) {
        char *nl = strchr(line, '\n');
        assert_non_null(nl);
        if (line[0] != '#')
            assert_non_null(memchr(line, ' ', (size_t)(nl - line)));
        line = nl + 1;
    }
    buf_free(&out);
    buf_free(&again);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_metrics),
        cmocka_unit_test(test_process),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
