#include "core/log.h"

#include <errno.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

log_level_t log_current_level = LOG_INFO;
static bool log_json;
static void (*log_sink)(const char *line, size_t len, void *ud);
static void *log_sink_ud;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

enum { LOG_LINE_MAX = 4096, LOG_VALUE_MAX = 512 };

static const char *const level_names[] = { "error", "warn", "info", "debug" };

void log_set_level(log_level_t lvl) { log_current_level = lvl; }
void log_set_json(bool json) { log_json = json; }

void log_set_sink(void (*sink)(const char *, size_t, void *), void *ud)
{
    log_sink = sink;
    log_sink_ud = ud;
}

int log_level_parse(const char *name)
{
    for (size_t i = 0; i < sizeof level_names / sizeof level_names[0]; i++)
        if (strcmp(name, level_names[i]) == 0)
            return (int)i;
    if (strcmp(name, "warning") == 0)
        return LOG_WARN;
    return -1;
}

const char *log_level_name(log_level_t lvl)
{
    return (unsigned)lvl < 4 ? level_names[lvl] : "?";
}

const char *log_strerror(int code)
{
    if (code < 0)
        code = -code;
    return strerrorname_np(code) ? strerrorname_np(code) : "EUNKNOWN";
}

/* A line being built in a fixed array; silently truncated at the end. */
typedef struct line {
    char b[LOG_LINE_MAX];
    size_t n;
} line_t;

static void put(line_t *l, const char *s, size_t n)
{
    if (n > sizeof l->b - 2 - l->n)
        n = sizeof l->b - 2 - l->n;
    memcpy(l->b + l->n, s, n);
    l->n += n;
}

static void puts_(line_t *l, const char *s) { put(l, s, strlen(s)); }

static void putf(line_t *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void putf(line_t *l, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    size_t room = sizeof l->b - 2 - l->n;
    int k = vsnprintf(l->b + l->n, room + 1, fmt, ap);
    va_end(ap);
    if (k > 0)
        l->n += (size_t)k > room ? room : (size_t)k;
}

static bool needs_quotes(const char *s, size_t n)
{
    if (n == 0)
        return true;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= ' ' || c == '"' || c == '=' || c == '\\' || c >= 0x7f)
            return true;
    }
    return false;
}

/* Escape a value: JSON string rules in both formats (text quotes only when needed). */
static void put_escaped(line_t *l, const char *s, size_t n, bool quote)
{
    bool cut = n > LOG_VALUE_MAX;
    if (cut)
        n = LOG_VALUE_MAX;
    if (quote)
        put(l, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        switch (c) {
        case '"': puts_(l, "\\\""); break;
        case '\\': puts_(l, "\\\\"); break;
        case '\n': puts_(l, "\\n"); break;
        case '\r': puts_(l, "\\r"); break;
        case '\t': puts_(l, "\\t"); break;
        default:
            if (c < 0x20 || c == 0x7f)
                putf(l, "\\u%04x", c);
            else
                put(l, (const char *)&s[i], 1); /* UTF-8 bytes pass through */
        }
    }
    if (cut)
        puts_(l, "...");
    if (quote)
        put(l, "\"", 1);
}

static void put_value(line_t *l, const log_field_t *f)
{
    switch (f->type) {
    case LOG_F_STR:
    case LOG_F_STRN: {
        const char *s = f->v.s ? f->v.s : "";
        size_t n = f->type == LOG_F_STRN ? (f->v.s ? f->n : 0) : strlen(s);
        put_escaped(l, s, n, log_json || needs_quotes(s, n));
        break;
    }
    case LOG_F_INT: putf(l, "%lld", f->v.i); break;
    case LOG_F_UINT: putf(l, "%llu", f->v.u); break;
    case LOG_F_DBL: putf(l, "%.3f", f->v.d); break;
    case LOG_F_BOOL: puts_(l, f->v.b ? "true" : "false"); break;
    case LOG_F_END: break;
    }
}

void log_emit(log_level_t lvl, const char *event, const log_field_t *fields)
{
    line_t l;
    l.n = 0;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char when[96];
    snprintf(when, sizeof when, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);

    if (log_json) {
        putf(&l, "{\"ts\":\"%s\",\"level\":\"%s\",\"event\":", when, log_level_name(lvl));
        put_escaped(&l, event, strlen(event), true);
        for (const log_field_t *f = fields; f->type != LOG_F_END; f++) {
            put(&l, ",", 1);
            put_escaped(&l, f->key, strlen(f->key), true);
            put(&l, ":", 1);
            put_value(&l, f);
        }
        put(&l, "}", 1);
    } else {
        putf(&l, "%s %s %s", when, log_level_name(lvl), event);
        for (const log_field_t *f = fields; f->type != LOG_F_END; f++) {
            put(&l, " ", 1);
            puts_(&l, f->key);
            put(&l, "=", 1);
            put_value(&l, f);
        }
    }
    l.b[l.n++] = '\n';

    if (log_sink) {
        log_sink(l.b, l.n, log_sink_ud);
        return;
    }
    /* One write(2) per line keeps lines whole when several threads log. */
    pthread_mutex_lock(&log_lock);
    size_t off = 0;
    while (off < l.n) {
        ssize_t w = write(STDERR_FILENO, l.b + off, l.n - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break;
        off += (size_t)w;
    }
    pthread_mutex_unlock(&log_lock);
}

bool log_rate_ok(log_rate_t *r, int64_t now_ms, int64_t interval_ms, uint64_t *unsaid)
{
    if (r->last_ms && now_ms - r->last_ms < interval_ms) {
        r->unsaid++;
        return false;
    }
    *unsaid = r->unsaid;
    r->unsaid = 0;
    r->last_ms = now_ms ? now_ms : 1;
    return true;
}
