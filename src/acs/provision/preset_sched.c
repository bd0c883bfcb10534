/*
 * preset_sched: a preset's schedule. Cron fields (UTC) as bit sets, the
 * firing before/after a time found day by day (a day is rejected in a few
 * operations, so even a yearly schedule costs microseconds), and each
 * device's window: firing + the device's slot, a stable hash of its id
 * within the spread, so a fleet does not all come due in the same minute.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "acs/provision/preset.h"

typedef struct cron_field {
    const char *what;
    int lo, hi;
    const char *const *names; /* names[i] stands for lo + i (NULL: numbers only) */
} cron_field_t;

static const char *const month_names[] = { "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG",
                                           "SEP", "OCT", "NOV", "DEC", NULL };
static const char *const day_names[] = { "SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT", NULL };

static const cron_field_t fields[5] = {
    { "minute", 0, 59, NULL }, { "hour", 0, 23, NULL }, { "day of month", 1, 31, NULL },
    { "month", 1, 12, month_names }, { "day of week", 0, 7, day_names },
};

static const struct {
    const char *alias, *cron;
} aliases[] = {
    { "@hourly", "0 * * * *" }, { "@daily", "0 0 * * *" },   { "@midnight", "0 0 * * *" },
    { "@weekly", "0 0 * * 0" }, { "@monthly", "0 0 1 * *" }, { "@yearly", "0 0 1 1 *" },
    { "@annually", "0 0 1 1 *" },
};

/* A number or a name of field f at *p: 0 and the value, or -EINVAL. */
static int cron_value(const cron_field_t *f, const char **p, int *out)
{
    const char *s = *p;
    if (isdigit((unsigned char)*s)) {
        long v = 0;
        while (isdigit((unsigned char)*s) && v < 1000)
            v = v * 10 + (*s++ - '0');
        *out = (int)v;
        *p = s;
        return 0;
    }
    for (int i = 0; f->names && f->names[i]; i++)
        if (strncasecmp(s, f->names[i], 3) == 0 && !isalpha((unsigned char)s[3])) {
            *out = f->lo + i;
            *p = s + 3;
            return 0;
        }
    return -EINVAL;
}

/* One field's items ("1,5-10,*\/15") into bits. */
static int cron_field(const cron_field_t *f, int idx, const char *text, uint64_t *bits, bool *star,
                      char *err, size_t errlen)
{
    *bits = 0;
    *star = text[0] == '*';
    const char *p = text;
    for (;;) {
        int a, b, step = 1;
        bool item_star = *p == '*';
        if (item_star) {
            a = f->lo;
            b = f->hi;
            p++;
        } else {
            if (cron_value(f, &p, &a) != 0)
                goto bad;
            b = a;
            if (*p == '-') {
                p++;
                if (cron_value(f, &p, &b) != 0)
                    goto bad;
            }
        }
        if (*p == '/') {
            p++;
            if (!isdigit((unsigned char)*p))
                goto bad;
            step = 0;
            while (isdigit((unsigned char)*p) && step < 1000)
                step = step * 10 + (*p++ - '0');
            if (step < 1 || step > f->hi) {
                snprintf(err, errlen, "field %d (%s): step %d out of range 1-%d", idx + 1, f->what,
                         step, f->hi);
                return -EINVAL;
            }
            if (a == b && !item_star)
                b = f->hi; /* "5/15": from 5 on */
        }
        if (a < f->lo || a > f->hi || b < f->lo || b > f->hi) {
            snprintf(err, errlen, "field %d (%s): %d out of range %d-%d", idx + 1, f->what,
                     a < f->lo || a > f->hi ? a : b, f->lo, f->hi);
            return -EINVAL;
        }
        if (a > b) {
            snprintf(err, errlen, "field %d (%s): range %d-%d runs backwards", idx + 1, f->what, a, b);
            return -EINVAL;
        }
        for (int v = a; v <= b; v += step)
            *bits |= 1ull << v;
        if (*p == '\0')
            break;
        if (*p != ',')
            goto bad;
        p++;
    }
    return 0;
bad:
    snprintf(err, errlen, "field %d (%s): '%.32s' is not *, N, A-B, a list or a step (*/N)", idx + 1,
             f->what, text);
    return -EINVAL;
}

int preset_cron_parse(const char *text, preset_cron_t *c, char *err, size_t errlen)
{
    char buf[256], *save = NULL;
    for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++)
        if (strcmp(text, aliases[i].alias) == 0)
            text = aliases[i].cron;
    if (strlen(text) >= sizeof buf) {
        snprintf(err, errlen, "too long");
        return -EINVAL;
    }
    strcpy(buf, text);
    memset(c, 0, sizeof *c);
    uint64_t bits[5];
    bool star[5];
    int n = 0;
    for (char *t = strtok_r(buf, " \t", &save); t; t = strtok_r(NULL, " \t", &save)) {
        if (n == 5) {
            n++;
            break;
        }
        if (cron_field(&fields[n], n, t, &bits[n], &star[n], err, errlen) != 0)
            return -EINVAL;
        n++;
    }
    if (n != 5) {
        snprintf(err, errlen, "five fields: minute hour day-of-month month day-of-week (UTC),"
                              " or @hourly, @daily, @weekly, @monthly, @yearly");
        return -EINVAL;
    }
    c->minute = bits[0];
    c->hour = (uint32_t)bits[1];
    c->dom = (uint32_t)bits[2];
    c->month = (uint16_t)bits[3];
    c->dow = (uint8_t)((bits[4] | (bits[4] >> 7)) & 0x7f); /* 7 is Sunday too */
    c->dom_star = star[2];
    c->dow_star = star[4];
    /* 31 FEB, 31 APR...: the day is in no month given (a day of week ORed
     * in would fire, so only when the day of month decides alone) */
    if (c->dow_star) {
        static const int mdays[13] = { 0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
        bool some = false;
        for (int m = 1; m <= 12 && !some; m++)
            for (int d = 1; d <= mdays[m] && (c->month >> m & 1) && !some; d++)
                some = (c->dom >> d) & 1;
        if (!some) {
            snprintf(err, errlen, "never fires: no month given has that day");
            return -EINVAL;
        }
    }
    if (preset_cron_next(c, 946684800 /* 2000-01-01 */) < 0) {
        snprintf(err, errlen, "never fires within %d years", PRESET_CRON_SEARCH_DAYS / 366);
        return -EINVAL;
    }
    return 0;
}

/* Days since 1970-01-01 -> civil date (H. Hinnant's algorithm). */
static void civil(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

bool preset_cron_day(const preset_cron_t *c, int64_t day)
{
    int64_t y;
    unsigned m, d;
    civil(day, &y, &m, &d);
    if (!((c->month >> m) & 1))
        return false;
    int dow = (int)(((day % 7) + 7 + 4) % 7); /* 1970-01-01 was a Thursday */
    bool dom_ok = (c->dom >> d) & 1, dow_ok = (c->dow >> dow) & 1;
    return c->dom_star || c->dow_star ? dom_ok && dow_ok : dom_ok || dow_ok;
}

static int64_t floor_div(int64_t a, int64_t b)
{
    return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

int64_t preset_cron_prev(const preset_cron_t *c, int64_t t)
{
    int64_t day = floor_div(t, 86400), sec = t - day * 86400;
    int h0 = (int)(sec / 3600), m0 = (int)(sec % 3600 / 60);
    for (int64_t i = 0; i < PRESET_CRON_SEARCH_DAYS; i++) {
        int64_t d = day - i;
        if (!preset_cron_day(c, d))
            continue;
        for (int h = i == 0 ? h0 : 23; h >= 0; h--) {
            if (!((c->hour >> h) & 1))
                continue;
            for (int m = i == 0 && h == h0 ? m0 : 59; m >= 0; m--)
                if ((c->minute >> m) & 1)
                    return d * 86400 + h * 3600 + m * 60;
        }
    }
    return -1;
}

int64_t preset_cron_next(const preset_cron_t *c, int64_t t)
{
    int64_t start = floor_div(t, 60) * 60 + 60; /* strictly after t */
    int64_t day = floor_div(start, 86400), sec = start - day * 86400;
    int h0 = (int)(sec / 3600), m0 = (int)(sec % 3600 / 60);
    for (int64_t i = 0; i < PRESET_CRON_SEARCH_DAYS; i++) {
        int64_t d = day + i;
        if (!preset_cron_day(c, d))
            continue;
        for (int h = i == 0 ? h0 : 0; h < 24; h++) {
            if (!((c->hour >> h) & 1))
                continue;
            for (int m = i == 0 && h == h0 ? m0 : 0; m < 60; m++)
                if ((c->minute >> m) & 1)
                    return d * 86400 + h * 3600 + m * 60;
        }
    }
    return -1;
}

int64_t preset_slot(const char *device_id, int64_t spread_s)
{
    if (spread_s <= 0)
        return 0;
    uint64_t h = 0xcbf29ce484222325ull;
    for (const unsigned char *p = (const unsigned char *)device_id; *p; p++) {
        h ^= *p;
        h *= 0x100000001b3ull;
    }
    return (int64_t)(h % (uint64_t)spread_s);
}

bool preset_window(const preset_schedule_t *s, const char *device_id, int64_t t, int64_t *start,
                   int64_t *end)
{
    if (!s->on)
        return false;
    int64_t off = preset_slot(device_id, s->spread_s);
    int64_t f = preset_cron_prev(&s->cron, t - off);
    if (f < 0)
        return false;
    int64_t fn = preset_cron_next(&s->cron, f);
    int64_t e = fn < 0 ? INT64_MAX / 2 : fn + off;
    if (s->window_s > 0 && f + off + s->window_s < e)
        e = f + off + s->window_s;
    *start = f + off;
    *end = e;
    return t >= *start && t < e;
}
