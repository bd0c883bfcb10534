/*
 * route: which ACS node a CPE request goes to. Pure decision over the
 * balancer and the session table; the forwarder acts on the answer.
 *
 * In order:
 *  1. a connection that already carried a request stays on its backend
 *     (a CWMP session spans several requests, usually on one connection);
 *  2. a request that is not an Inform and carries the proxy's cookie, or
 *     the ACS's session cookie, of a live session goes to that session's
 *     backend: a CPE reconnecting mid-session. So does an Inform with the
 *     proxy's cookie when the node answered that session's last request
 *     with 401: it is the same Inform again, with credentials, and only the
 *     node that issued the Digest nonce can check them. If that backend is
 *     down or gone, the request fails (502) rather than being sent to a
 *     node that never saw the session;
 *  3. anything else starts a session on the next backend in the weighted
 *     rotation, or gets 503 when none is up.
 */
#ifndef OUTPOST_CWMP_PROXY_ROUTE_H
#define OUTPOST_CWMP_PROXY_ROUTE_H

#include <stdbool.h>
#include <stdint.h>

#include "cwmp_proxy/balancer.h"
#include "cwmp_proxy/sessions.h"

typedef enum route_why {
    ROUTE_CONNECTION = 0, /* rule 1 */
    ROUTE_COOKIE,         /* rule 2, our cookie */
    ROUTE_ACS_COOKIE,     /* rule 2, the ACS's cookie */
    ROUTE_NEW,            /* rule 3 */
} route_why_t;

typedef struct route_in {
    backend_t *bound;          /* the connection's backend, or NULL */
    const char *bound_token;   /* its session token ("" if none) */
    bool is_inform;
    const char *cookie_header; /* the request's Cookie header, or NULL */
    const char *cookie_name;   /* the proxy's cookie */
    int64_t now_ms;
} route_in_t;

typedef struct route_out {
    backend_t *be;             /* NULL when status != 0 */
    route_why_t why;
    char token[SESSION_TOKEN_LEN + 1]; /* the session's token */
    bool new_session;
    int status;                /* 0, or the HTTP status to answer with */
    const char *reason;        /* for status != 0 and the log */
} route_out_t;

void route_request(balancer_t *b, sessions_t *s, const route_in_t *in, route_out_t *out);

const char *route_why_name(route_why_t why);

#endif
