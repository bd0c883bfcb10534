/* Unit tests: core/runtime — freed heap goes back to the system on the trim
 * tick (glibc alone keeps what a burst used while anything sits above it). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "core/runtime.h"

static long rss_kb(void)
{
    long pages = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f)
        return -1;
    if (fscanf(f, "%ld %ld", &pages, &resident) != 2)
        resident = -1;
    fclose(f);
    return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

static void on_done(uv_timer_t *t)
{
    runtime_stop(t->data);
    uv_close((uv_handle_t *)t, NULL);
}

static void test_freed_heap_returns_on_the_trim_tick(void **state)
{
#if defined(__SANITIZE_ADDRESS__)
    skip(); /* ASan's allocator has its own release to the OS */
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
    skip();
#endif
#endif
    /* 64 MiB in blocks under the mmap threshold, then one block above them
     * that stays: free() alone can give none of it back */
    enum { N = 1024, SIZE = 64 * 1024 };
    char **blocks = calloc(N, sizeof *blocks);
    assert_non_null(blocks);
    for (int i = 0; i < N; i++) {
        blocks[i] = malloc(SIZE);
        assert_non_null(blocks[i]);
        memset(blocks[i], 1, SIZE);
    }
    char *pin = malloc(SIZE);
    assert_non_null(pin);
    for (int i = 0; i < N; i++)
        free(blocks[i]);
    long held = rss_kb();

    uv_loop_t loop;
    uv_loop_init(&loop);
    runtime_t rt;
    assert_int_equal(runtime_init(&rt, &loop, NULL, NULL, NULL, 1000), 0);
    uv_timer_set_repeat(&rt.trim_timer, 10); /* a tick now, not in 10 s */
    assert_int_equal(uv_timer_again(&rt.trim_timer), 0);
    uv_timer_t done; /* the daemon's life: 100 ms, ten ticks */
    uv_timer_init(&loop, &done);
    done.data = &rt;
    uv_timer_start(&done, on_done, 100, 0);
    assert_int_equal(runtime_run(&rt), 0);
    long after = rss_kb();
    assert_true(held - after > 32 * 1024);
    free(pin);
    free(blocks);
    assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_freed_heap_returns_on_the_trim_tick),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
