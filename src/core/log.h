/*
 * log: one line per event on stderr, as `key=value` text or JSON lines.
 *
 *   log_info("conn_open", LF_S("peer", addr), LF_I("fd", fd));
 *   -> 2026-11-21T10:00:00.123Z info conn_open peer=10.0.0.1:5000 fd=7
 *
 * Values are escaped (quotes, control bytes) and long strings are cut, so a
 * hostile peer cannot forge log lines or flood them. The level check happens
 * before the arguments are built. Nothing here allocates; field strings are
 * borrowed for the duration of the call.
 */
#ifndef OUTPOST_CORE_LOG_H
#define OUTPOST_CORE_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum log_level {
    LOG_ERROR = 0,
    LOG_WARN = 1,
    LOG_INFO = 2,
    LOG_DEBUG = 3,
} log_level_t;

typedef enum log_ftype {
    LOG_F_END = 0,
    LOG_F_STR,
    LOG_F_STRN,
    LOG_F_INT,
    LOG_F_UINT,
    LOG_F_DBL,
    LOG_F_BOOL,
} log_ftype_t;

typedef struct log_field {
    const char *key;
    log_ftype_t type;
    size_t n; /* length for LOG_F_STRN */
    union {
        const char *s;
        long long i;
        unsigned long long u;
        double d;
        bool b;
    } v;
} log_field_t;

#define LF_S(k, val) ((log_field_t){ .key = (k), .type = LOG_F_STR, .v.s = (val) })
#define LF_SN(k, val, len) \
    ((log_field_t){ .key = (k), .type = LOG_F_STRN, .n = (len), .v.s = (val) })
#define LF_I(k, val) ((log_field_t){ .key = (k), .type = LOG_F_INT, .v.i = (long long)(val) })
#define LF_U(k, val) \
    ((log_field_t){ .key = (k), .type = LOG_F_UINT, .v.u = (unsigned long long)(val) })
#define LF_F(k, val) ((log_field_t){ .key = (k), .type = LOG_F_DBL, .v.d = (double)(val) })
#define LF_B(k, val) ((log_field_t){ .key = (k), .type = LOG_F_BOOL, .v.b = (val) })
/* An errno-style negative code, printed as its name's text. */
#define LF_ERR(code) LF_S("err", log_strerror(code))

#define LOG_AT(lvl, ev, ...)                                                              \
    do {                                                                                  \
        if (log_enabled(lvl))                                                             \
            log_emit((lvl), (ev),                                                         \
                     (const log_field_t[]){ __VA_ARGS__ __VA_OPT__(, ){ .type = LOG_F_END } }); \
    } while (0)

#define log_error(ev, ...) LOG_AT(LOG_ERROR, ev, __VA_ARGS__)
#define log_warn(ev, ...) LOG_AT(LOG_WARN, ev, __VA_ARGS__)
#define log_info(ev, ...) LOG_AT(LOG_INFO, ev, __VA_ARGS__)
#define log_debug(ev, ...) LOG_AT(LOG_DEBUG, ev, __VA_ARGS__)

/* A rate limit for an event anyone on the network can cause (a failed TLS
 * handshake, a refused upgrade): one line per interval, saying how many
 * were not said since. Owned by the module that logs the event; one thread. */
typedef struct log_rate {
    int64_t last_ms;       /* when a line was last said; 0: never */
    uint64_t unsaid;       /* events since that line */
} log_rate_t;
/* True when a line may be said now (then *unsaid holds how many events
 * went unsaid before this one and the count restarts); false: count it. */
bool log_rate_ok(log_rate_t *r, int64_t now_ms, int64_t interval_ms, uint64_t *unsaid);

extern log_level_t log_current_level;
static inline bool log_enabled(log_level_t lvl) { return lvl <= log_current_level; }

void log_set_level(log_level_t lvl);
void log_set_json(bool json);
/* "error", "warn", "info", "debug" -> level; -1 when unknown. */
int log_level_parse(const char *name);
const char *log_level_name(log_level_t lvl);
/* Redirect output (tests); NULL restores stderr. Not thread-safe vs. emit. */
void log_set_sink(void (*sink)(const char *line, size_t len, void *ud), void *ud);

void log_emit(log_level_t lvl, const char *event, const log_field_t *fields);
/* strerror for negative errno-style codes (thread-safe, static strings). */
const char *log_strerror(int code);

#endif
