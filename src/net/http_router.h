/*
 * http_router: method + path pattern dispatch for REST handlers.
 *
 * Patterns are literal segments and captures: "/api/devices/{id}/tasks".
 * A final "{*rest}" captures the remaining path. Captures are
 * percent-decoded and read with http_req_param(). Unknown paths get 404, a
 * known path with another method 405 with an Allow header. The router is
 * built at start-up and read-only afterwards; it owns its route table.
 */
#ifndef OUTPOST_NET_HTTP_ROUTER_H
#define OUTPOST_NET_HTTP_ROUTER_H

#include "net/http_server.h"

typedef struct http_router http_router_t;

http_router_t *http_router_new(void);
void http_router_free(http_router_t *r);
/* method "GET"... or "*" for any. -EINVAL for a malformed pattern. */
int http_router_add(http_router_t *r, const char *method, const char *pattern, http_handler_fn fn,
                    void *ud);
/* Dispatch (usable as http_server_opts.handler with ud = the router).
 * Returns after the handler ran (or 404/405 was sent). */
void http_router_dispatch(http_req_t *req, void *router);
/* Look up without answering: 0 and fills fn and ud (captures set on req),
 * -ENOENT (no path), -EPERM (path exists, method does not). */
int http_router_match(http_router_t *r, http_req_t *req, http_handler_fn *fn, void **ud);

#endif
