#include "core/clock.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

int64_t clock_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t clock_thread_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t clock_mono_us(void) { return clock_mono_ns() / 1000; }

int64_t clock_mono_ms(void) { return clock_mono_us() / 1000; }

int64_t clock_real_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t clock_real_s(void) { return (int64_t)time(NULL); }

void clock_iso8601(int64_t epoch_s, char *out)
{
    time_t t = (time_t)epoch_s;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, CLOCK_ISO_LEN, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int clock_parse_iso8601(const char *s, int64_t *epoch_s)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    const char *p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    if (!p)
        return -EINVAL;
    if (*p == '.') { /* fractional seconds */
        p++;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    long off = 0;
    if (*p == 'Z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int hh, mm;
        if (sscanf(p + 1, "%2d:%2d", &hh, &mm) != 2 || hh > 23 || mm > 59)
            return -EINVAL;
        off = (hh * 3600L + mm * 60L) * (*p == '-' ? -1 : 1);
        p += 6;
    }
    if (*p)
        return -EINVAL;
    time_t t = timegm(&tm);
    if (t == (time_t)-1 && !(tm.tm_year == 69 && tm.tm_mday == 31))
        return -EINVAL;
    *epoch_s = (int64_t)t - off;
    return 0;
}

int64_t clock_backoff_ms(int64_t min_ms, int64_t max_ms, int attempt, uint32_t rnd)
{
    if (min_ms < 1)
        min_ms = 1;
    if (max_ms < min_ms)
        max_ms = min_ms;
    int64_t base = min_ms;
    for (int i = 0; i < attempt && base < max_ms; i++)
        base *= 2; /* stops at the cap: no overflow however many attempts */
    if (base > max_ms)
        base = max_ms;
    /* lowest ceil(base/2), so an odd base's window is whole: 11 -> [6, 11] */
    return base - base / 2 + (int64_t)(rnd % (uint32_t)(base / 2 + 1));
}
