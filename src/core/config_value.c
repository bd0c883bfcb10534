/*
 * config_value: option values from text: booleans, durations and sizes (a
 * number and a unit from one table each), integers and numbers within an
 * option's bounds, HOST:PORT, and the "k=v k=v" items of structured lists.
 */
#include "core/config.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/config_int.h"
#include "core/str.h"

int cfg_parse_bool(const char *s, bool *b)
{
    static const char *const yes[] = { "true", "yes", "on", "1" };
    static const char *const no[] = { "false", "no", "off", "0" };
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(s, yes[i]) == 0) {
            *b = true;
            return 0;
        }
        if (strcasecmp(s, no[i]) == 0) {
            *b = false;
            return 0;
        }
    }
    return -EINVAL;
}

/* ---- a number and a unit ---------------------------------------------------- */

/* A unit, and what one of it is worth. The row "" is a bare number. */
typedef struct unit {
    const char *name;
    double mul;
} unit_t;

#define UNITS(T) (T), sizeof(T) / sizeof(T)[0]

/* Milliseconds; a bare duration is seconds. */
static const unit_t duration_units[] = {
    { "", 1000 }, { "ms", 1 }, { "s", 1000 }, { "m", 60000 }, { "min", 60000 },
    { "h", 3600000 }, { "d", 86400000 },
};
/* A bare number on a CFG_BARE_MS option. */
static const unit_t bare_ms_units[] = { { "", 1 } };
static const unit_t size_units[] = {
    { "", 1 }, { "B", 1 }, { "K", 1024.0 }, { "KiB", 1024.0 }, { "KB", 1000.0 },
    { "M", 1048576.0 }, { "MiB", 1048576.0 }, { "MB", 1e6 },
    { "G", 1073741824.0 }, { "GiB", 1073741824.0 }, { "GB", 1e9 },
};
/* Larger values are out of range (half of what the type holds). */
#define DURATION_MS_MAX ((double)INT64_MAX / 2)
#define SIZE_BYTES_MAX ((double)(UINT64_MAX / 2))

/* s as a non-negative decimal number (fraction allowed), blanks, then one of
 * the n units: the product in *out. -EINVAL for another unit, -ERANGE above max. */
static int scan_units(const char *s, const unit_t *units, size_t n, double max, double *out)
{
    char *end;
    if (!isdigit((unsigned char)*s))
        return -EINVAL;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || !isfinite(v) || end == s)
        return -EINVAL;
    while (*end == ' ')
        end++;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(end, units[i].name) == 0) {
            double r = v * units[i].mul;
            if (r > max)
                return -ERANGE;
            *out = r;
            return 0;
        }
    }
    return -EINVAL;
}

int cfg_parse_duration_ms(const char *s, int64_t *ms)
{
    double r;
    int rc = scan_units(s, UNITS(duration_units), DURATION_MS_MAX, &r);
    if (!rc)
        *ms = (int64_t)r;
    return rc;
}

int cfg_parse_size(const char *s, uint64_t *bytes)
{
    double r;
    int rc = scan_units(s, UNITS(size_units), SIZE_BYTES_MAX, &r);
    if (!rc)
        *bytes = (uint64_t)r;
    return rc;
}

/* ---- option values ---------------------------------------------------------- */

int cfg_check_hostport(const char *v, char *err, size_t n)
{
    if (*v == '\0')
        return 0; /* empty disables an optional listener */
    const char *colon = strrchr(v, ':');
    if (!colon || colon == v) {
        snprintf(err, n, "expected HOST:PORT (e.g. 127.0.0.1:8080 or [::1]:8080)");
        return -EINVAL;
    }
    if (v[0] == '[' && colon[-1] != ']') {
        snprintf(err, n, "IPv6 addresses are written [ADDR]:PORT");
        return -EINVAL;
    }
    uint64_t port;
    if (str_to_u64n(colon + 1, strlen(colon + 1), 65535, &port)) {
        snprintf(err, n, "port must be a number 0-65535");
        return -EINVAL;
    }
    return 0;
}

static bool bounded(const cfg_opt_t *o) { return o->min != 0 || o->max != 0; }

void cfg__free_list(cfg_list_t *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

int cfg__set_value(const cfg_opt_t *o, void *base, const char *val, char *err, size_t errlen)
{
    void *field = (char *)base + o->offset;
    switch (o->type) {
    case CFG_STR:
    case CFG_JSON: {
        if (o->check && o->check(val, err, errlen))
            return -EINVAL;
        char *copy = strdup(val);
        if (!copy)
            return -ENOMEM;
        free(*(char **)field);
        *(char **)field = copy;
        return 0;
    }
    case CFG_LIST: {
        if (o->check && o->check(val, err, errlen))
            return -EINVAL;
        cfg_list_t *l = field;
        if (l->n >= 4096) {
            snprintf(err, errlen, "too many entries");
            return -EINVAL;
        }
        char **nv = realloc(l->v, (l->n + 1) * sizeof *nv);
        if (!nv)
            return -ENOMEM;
        l->v = nv;
        if (!(l->v[l->n] = strdup(val)))
            return -ENOMEM;
        l->n++;
        return 0;
    }
    case CFG_BOOL:
        if (cfg_parse_bool(val, field)) {
            snprintf(err, errlen, "expected true or false");
            return -EINVAL;
        }
        return 0;
    case CFG_INT: {
        int64_t v;
        int64_t lo = bounded(o) ? (int64_t)o->min : INT64_MIN;
        int64_t hi = bounded(o) ? (int64_t)o->max : INT64_MAX;
        int rc = str_to_i64(val, INT64_MIN, INT64_MAX, &v);
        if (rc) {
            snprintf(err, errlen, "expected an integer");
            return -EINVAL;
        }
        if (v < lo || v > hi) {
            snprintf(err, errlen, "must be between %lld and %lld", (long long)lo, (long long)hi);
            return -EINVAL;
        }
        *(int64_t *)field = v;
        return 0;
    }
    case CFG_DURATION: {
        double r;
        /* "400" on --slow-ms is 400 ms, not 400 s; "2s" there is any duration */
        int rc = o->flags & CFG_BARE_MS ? scan_units(val, UNITS(bare_ms_units), DURATION_MS_MAX, &r)
                                        : -EINVAL;
        if (rc == -EINVAL)
            rc = scan_units(val, UNITS(duration_units), DURATION_MS_MAX, &r);
        if (rc) {
            snprintf(err, errlen, "expected a duration such as 500ms, 10s, 5m or 1h");
            return -EINVAL;
        }
        int64_t ms = (int64_t)r;
        if (bounded(o) && (ms < (int64_t)o->min || ms > (int64_t)o->max)) {
            snprintf(err, errlen, "must be between %gs and %gs", o->min / 1000, o->max / 1000);
            return -EINVAL;
        }
        *(int64_t *)field = ms;
        return 0;
    }
    case CFG_SIZE: {
        uint64_t b;
        if (cfg_parse_size(val, &b)) {
            snprintf(err, errlen, "expected a size such as 4096, 64KiB or 1MiB");
            return -EINVAL;
        }
        if (bounded(o) && ((double)b < o->min || (double)b > o->max)) {
            snprintf(err, errlen, "must be between %.0f and %.0f bytes", o->min, o->max);
            return -EINVAL;
        }
        *(uint64_t *)field = b;
        return 0;
    }
    case CFG_DOUBLE: {
        char *end;
        errno = 0;
        double d = strtod(val, &end);
        if (errno || end == val || *end || !isfinite(d)) {
            snprintf(err, errlen, "expected a number");
            return -EINVAL;
        }
        if (bounded(o) && (d < o->min || d > o->max)) {
            snprintf(err, errlen, "must be between %g and %g", o->min, o->max);
            return -EINVAL;
        }
        *(double *)field = d;
        return 0;
    }
    }
    return -EINVAL;
}

/* ---- "k=v k=v" items ----------------------------------------------------- */

int cfg_kv_next(const char *item, size_t *pos, char *key, size_t keylen, char *val, size_t vallen)
{
    const char *p = item + *pos;
    while (*p == ' ' || *p == '\t')
        p++;
    if (!*p) {
        *pos = (size_t)(p - item);
        return 0;
    }
    const char *eq = p;
    while (*eq && *eq != '=' && *eq != ' ')
        eq++;
    if (*eq != '=' || eq == p || str_copyn(key, keylen, p, (size_t)(eq - p)))
        return -EINVAL;
    const char *v = eq + 1, *end = v;
    if (*v != '"') {
        while (*end && *end != ' ' && *end != '\t')
            end++;
        if (str_copyn(val, vallen, v, (size_t)(end - v)))
            return -EINVAL;
        *pos = (size_t)(end - item);
        return 1;
    }
    /* k="a value with spaces": \" and \\ stand for " and \ */
    size_t n = 0;
    for (end = v + 1; *end != '"'; end++) {
        if (!*end)
            return -EINVAL; /* no closing quote */
        if (*end == '\\' && (end[1] == '"' || end[1] == '\\'))
            end++;
        if (n + 1 >= vallen)
            return -EINVAL;
        val[n++] = *end;
    }
    val[n] = '\0';
    end++;
    if (*end && *end != ' ' && *end != '\t')
        return -EINVAL; /* k="a"b */
    *pos = (size_t)(end - item);
    return 1;
}
