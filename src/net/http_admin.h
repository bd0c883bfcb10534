/*
 * http_admin: the admin listener every daemon serves on --admin-listen
 * (loopback by default), with one behaviour everywhere:
 *
 *   GET /metrics   Prometheus text: the daemon's own series, then
 *                  outpost_build_info and process_* (core/metrics)
 *   GET /status    JSON: what the daemon is doing
 *   GET /health    200 "ok" when the daemon does its job; 503 with the
 *                  reason when it does not (the daemon decides what that
 *                  means: a store that cannot be written, no backend up, an
 *                  agent not logged in...)
 *
 * plus any routes the daemon adds with http_admin_router() before traffic
 * (the gateway's /api/agents, say). Every path needs the daemon's API token
 * (net/http_router: one check, one lock-out, one log line per address per
 * minute); /metrics alone may be opened with metrics_public for a scraper
 * without credentials. A listener that binds a non-loopback address is
 * logged as a warning at start.
 *
 * The daemon's writers append to a capped buffer; a writer's error is a 500.
 * The http_admin_t owns its server and router; http_admin_close() stops
 * them (asynchronously: the loop ends once they are gone).
 */
#ifndef OUTPOST_NET_HTTP_ADMIN_H
#define OUTPOST_NET_HTTP_ADMIN_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#include "core/buf.h"
#include "net/http_router.h"

typedef struct http_admin http_admin_t;

typedef int (*http_admin_writer_fn)(buf_t *out, void *ud);
/* 0 when healthy; otherwise nonzero with a short reason written into why. */
typedef int (*http_admin_health_fn)(char *why, size_t whylen, void *ud);

typedef struct http_admin_opts {
    const char *daemon;          /* "acs": metrics' daemon label, the realm, logs */
    const char *listen;          /* "127.0.0.1:8081"; NULL or "" = no admin listener */
    const char *token;           /* the daemon's API token (copied) */
    bool metrics_public;         /* /metrics without the token */
    http_admin_writer_fn metrics; /* the daemon's series (may be NULL) */
    http_admin_writer_fn status;  /* one JSON value (may be NULL: {}) */
    http_admin_health_fn health;  /* may be NULL: always healthy */
    void *ud;
} http_admin_opts_t;

/* 0 and *out (NULL when no listener is configured), or a negative error
 * after logging it once. */
int http_admin_start(uv_loop_t *loop, const http_admin_opts_t *o, http_admin_t **out);
/* The router, to add the daemon's own admin routes at start-up. */
http_router_t *http_admin_router(http_admin_t *a);
const char *http_admin_addr(const http_admin_t *a);
void http_admin_close(http_admin_t *a);

#endif
