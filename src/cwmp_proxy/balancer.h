/*
 * balancer: the cwmp-proxy's ACS backends, their health, and which one a new
 * CWMP session goes to. Pure state, no I/O: the health checker and the
 * forwarder report what they saw, the balancer decides.
 *
 * Choice: smooth weighted round-robin (nginx's algorithm) over the backends
 * that are up and not retired, so weights 1:1 alternate strictly and 3:1
 * interleave (a a b a), never bursts.
 *
 * Health: each backend is up or down. Active checks report ok/fail: `fall`
 * consecutive failures take an up backend down, `rise` consecutive
 * successes bring a down one back. The forwarder reports connect failures
 * as passive observations: `passive_fall` of them in a row take a backend
 * down at once (default 1), without waiting for the next check.
 *
 * Reload: balancer_apply() takes the new backend list. Backends whose URL
 * is unchanged keep their state, counters and live sessions; new ones start
 * up; dropped ones are retired: no new sessions, but connections already
 * pinned to them carry on, and the backend is freed when the last one lets
 * go (balancer_unref).
 *
 * Ownership: the balancer owns its backend_t objects; users take a reference
 * (balancer_ref) for as long as they hold a pointer.
 */
#ifndef OUTPOST_CWMP_PROXY_BALANCER_H
#define OUTPOST_CWMP_PROXY_BALANCER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/metrics.h"

/* Whether connections to a node are kept open between CWMP sessions and
 * handed to other CPEs' sessions (upstream.c). AUTO: once the node says it
 * is an Outpost ACS (`Server: outpost`), which ties a session to its
 * cookie and frees a connection from it with the session's final 204. */
typedef enum backend_reuse {
    BACKEND_REUSE_AUTO = 0,
    BACKEND_REUSE_ON,
    BACKEND_REUSE_OFF,
} backend_reuse_t;

typedef struct backend_spec {
    const char *url;   /* as configured; identifies the backend across reloads */
    const char *name;  /* label for logs and metrics; NULL = host:port */
    const char *host;
    uint16_t port;
    bool tls;
    unsigned weight;   /* >= 1 */
    backend_reuse_t reuse;
} backend_spec_t;

typedef struct backend {
    uint32_t id;        /* stable for the process lifetime */
    char *url, *name, *host;
    uint16_t port;
    bool tls;
    unsigned weight;
    backend_reuse_t reuse;
    bool says_outpost;  /* its last response named it an Outpost ACS */
    int64_t cw;         /* smooth WRR current weight */
    bool up;
    bool retired;       /* dropped by a reload */
    unsigned ok_run, fail_run, passive_run;
    unsigned refs;      /* holders besides the balancer's list */
    char reason[96];    /* why it last changed state */
    int64_t changed_ms;
    /* counters for /metrics and /status */
    uint64_t sessions_total;   /* new sessions sent here */
    uint64_t requests_total;
    uint64_t connect_failures;
    uint64_t checks_failed;
    unsigned active_conns;     /* client connections pinned here now */
    metrics_hist_t latency;    /* request sent -> response head */
    uint64_t conns_opened;     /* connections made to it */
    uint64_t conns_reused;     /* requests sent on an idle connection taken from the pool */
    void *check;               /* the health checker's per-backend state */
    void *idle;                /* the forwarder's idle connections to it (upstream.c) */
    unsigned nidle;
} backend_t;

typedef struct balancer_opts {
    unsigned rise;          /* default 2 */
    unsigned fall;          /* default 3 */
    unsigned passive_fall;  /* default 1; 0 disables passive marking */
} balancer_opts_t;

typedef struct balancer {
    balancer_opts_t o;
    backend_t **v;   /* live and retired-but-referenced backends */
    size_t n, cap;
    uint32_t next_id;
    /* Called on every up/down change and when a backend is retired or
     * freed (so the health checker can stop). May be NULL. */
    void (*on_change)(struct balancer *b, backend_t *be, const char *what, void *ud);
    void *ud;
} balancer_t;

void balancer_init(balancer_t *b, const balancer_opts_t *o);
/* Free every backend, referenced or not (shutdown). */
void balancer_free(balancer_t *b);

/* Replace the configured list (start-up and reload). 0 or -ENOMEM (then
 * nothing changed). `added`/`retired` (may be NULL) count the changes. */
int balancer_apply(balancer_t *b, const backend_spec_t *specs, size_t n, size_t *added,
                   size_t *retired);

/* The backend for a new session, or NULL when none is up. */
backend_t *balancer_pick(balancer_t *b);
backend_t *balancer_find(const balancer_t *b, uint32_t id);
size_t balancer_count_up(const balancer_t *b);
size_t balancer_count_live(const balancer_t *b);
/* Live (not retired) backends; index < n. */
size_t balancer_live(const balancer_t *b, backend_t **out, size_t max);

/* Active check result. Returns true when the backend changed state. */
bool balancer_check_result(balancer_t *b, backend_t *be, bool ok, const char *reason, int64_t now_ms);
/* Passive observation from forwarding: a connect to it failed / worked. */
bool balancer_connect_result(balancer_t *b, backend_t *be, bool ok, const char *reason,
                             int64_t now_ms);

void balancer_ref(backend_t *be);
/* Drop a reference; a retired backend is freed with its last one. */
void balancer_unref(balancer_t *b, backend_t *be);

#endif
