/*
 * relay_admin: the loopback admin listener of the relay daemons:
 * GET /status (JSON) and GET /metrics (Prometheus text), both behind the
 * bearer token (net/http_router decides).
 *
 * The daemon supplies two writers that append the bodies to a capped
 * buffer. The admin owns its HTTP server; relay_admin_close() stops it
 * (asynchronously: the loop ends once it is gone).
 */
#ifndef OUTPOST_RELAY_ADMIN_H
#define OUTPOST_RELAY_ADMIN_H

#include <uv.h>

#include "core/buf.h"

typedef struct relay_admin relay_admin_t;
typedef int (*relay_admin_writer_fn)(buf_t *out, void *ud);

typedef struct relay_admin_opts {
    const char *listen;          /* "127.0.0.1:5051" */
    const char *token;           /* required for /status */
    relay_admin_writer_fn status; /* application/json */
    relay_admin_writer_fn metrics; /* text/plain; version=0.0.4 */
    void *ud;
} relay_admin_opts_t;

/* NULL (logged) when the listener cannot start. */
relay_admin_t *relay_admin_start(uv_loop_t *loop, const relay_admin_opts_t *o);
const char *relay_admin_addr(const relay_admin_t *a);
void relay_admin_close(relay_admin_t *a);

#endif
