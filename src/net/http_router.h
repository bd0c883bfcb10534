/*
 * http_router: method + path dispatch for REST and admin handlers, and the
 * one place where an HTTP API decides who may call what.
 *
 * Patterns are literal segments and captures: "/api/devices/{id}/tasks".
 * A final "{*rest}" captures the remaining path. Captures are
 * percent-decoded and read with http_req_param().
 *
 * Paths. A request path is put in canonical form once, before any route is
 * looked at (http_path_canonical): escapes of unreserved characters are
 * decoded ("%61pi" is "api", RFC 3986 6.2.2.2), other escapes kept with
 * upper-case hex, and a path that is not canonical otherwise is refused
 * with 400: empty segments ("//", a trailing "/"), "." and ".." segments
 * (escaped or not), malformed escapes, %00, control bytes. Routes are
 * matched on that form only, case-sensitively, so one spelling reaches one
 * route and the access decision below is made on the route it reaches.
 *
 * Access. Each route is registered with the access it needs: public, or a
 * role: viewer < operator < admin. The router's own bearer token (opts.token,
 * a daemon's --api-token) grants admin; a daemon with API keys also gives a
 * key lookup (opts.key_lookup) that names the role of any other bearer
 * token, or says it is unknown. A request reaches its handler only after
 * that check; with http_router_on_head as the server's on_head the check
 * runs before any body byte is read. Without credentials: 401 (JSON reason,
 * WWW-Authenticate: Bearer) for every path, registered or not, so an
 * unauthenticated client learns nothing about which routes exist; with a
 * valid one, 404 for an unknown path, 405 (Allow) for another method, and
 * 403 `forbidden` (naming the role needed and the one held) for a route
 * above the credential's role. Wrong tokens (neither the router's nor a
 * known key) are counted per client address (net/authguard): after
 * `max_failures` in a row the address gets 429 with Retry-After for a
 * lock-out that doubles each time, and failures are logged as one
 * `api_auth_failed` line per address per minute with a count. A 403 is not
 * a failure: the key is good, only not for that route.
 *
 * The router is built at start-up and read-only afterwards (but for its
 * failure table); it owns its route table and a copy of the token; the keys
 * behind key_lookup are the caller's (looked up on every request that
 * carries a token other than the router's: keep it an in-memory lookup).
 * One loop thread.
 */
#ifndef OUTPOST_NET_HTTP_ROUTER_H
#define OUTPOST_NET_HTTP_ROUTER_H

#include "net/addr.h"
#include "net/http_server.h"

typedef struct http_router http_router_t;

/* Ordered: a credential grants its level and every level below it. */
typedef enum http_access {
    HTTP_ACCESS_PUBLIC = 0,   /* anyone: a sign-in page, a liveness probe */
    HTTP_ACCESS_VIEWER = 1,   /* read only */
    HTTP_ACCESS_OPERATOR = 2, /* acts on devices: tasks, tags, wake-ups */
    HTTP_ACCESS_ADMIN = 3,    /* everything, configuration and keys included */
    /* the router's own bearer token: what a daemon with one token (no keys)
     * registers its routes with; the token grants admin */
    HTTP_ACCESS_TOKEN = HTTP_ACCESS_ADMIN,
} http_access_t;

/* "public", "viewer", "operator", "admin" ("?" for another value). */
const char *http_access_name(int access);
/* The role of a name ("viewer", "operator", "admin"): 0 with *out set, or
 * -EINVAL ("public" is not a role a credential can have). */
int http_access_parse(const char *name, http_access_t *out);

/* The role of a bearer token that is not the router's own (token: the
 * header's bytes, len of them, not NUL-terminated): HTTP_ACCESS_VIEWER...
 * HTTP_ACCESS_ADMIN, or -1 for an unknown token. Called on the loop for
 * every request carrying such a token, before the route's handler: it must
 * be cheap (an in-memory table) and must not keep the pointer. */
typedef int (*http_router_key_fn)(const char *token, size_t len, void *ud);

typedef struct http_router_opts {
    const char *name;          /* the API in logs and realms: "acs", "gateway-admin" */
    const char *token;         /* grants admin (copied); NULL: no token of its own */
    http_router_key_fn key_lookup; /* other tokens' roles (NULL: none); with neither
                                    * token nor lookup only public routes */
    void *key_ud;
    uint32_t max_failures;     /* wrong tokens in a row per address; 0: 10 */
    int64_t lockout_ms;        /* the first lock-out; 0: 60 s */
    const net_cidr_t *trusted; /* proxies whose X-Forwarded-For names the client (borrowed) */
    size_t ntrusted;
} http_router_opts_t;

/* NULL on allocation failure. opts may be NULL (public routes only). */
http_router_t *http_router_new(const http_router_opts_t *opts);
void http_router_free(http_router_t *r);
/* method "GET"... or "*" for any. -EINVAL for a malformed pattern, an
 * access that is not an http_access_t, or a route that is not public on a
 * router with neither a token nor a key lookup. */
int http_router_add(http_router_t *r, const char *method, const char *pattern, http_access_t access,
                    http_handler_fn fn, void *ud);
/* The same with a `head` handler that runs from http_router_on_head, after
 * the access check and with the captures bound, before any body byte is
 * read: it may answer at once or take the body as a stream
 * (http_req_stream_body: uploads). If it does neither, the body is
 * buffered and fn runs as for any route. */
int http_router_add_head(http_router_t *r, const char *method, const char *pattern,
                         http_access_t access, http_handler_fn head, http_handler_fn fn, void *ud);
/* A route table: one row per route, added in order with one ud; the way an
 * API with more than a few routes registers them. head may be NULL. */
typedef struct http_route {
    const char *method, *path;
    http_access_t access;
    http_handler_fn fn;
    http_handler_fn head;
} http_route_t;
/* A row: HTTP_ROUTE("GET", "/api/x", HTTP_ACCESS_VIEWER, h_x); with a head handler:
 * HTTP_ROUTE_HEAD(..., fn, head). */
#define HTTP_ROUTE(m, p, acc, f) { .method = (m), .path = (p), .access = (acc), .fn = (f) }
#define HTTP_ROUTE_HEAD(m, p, acc, f, h) \
    { .method = (m), .path = (p), .access = (acc), .fn = (f), .head = (h) }
/* 0, or -EINVAL when a row is refused (as http_router_add). */
int http_router_add_routes(http_router_t *r, const http_route_t *routes, size_t n, void *ud);
#define HTTP_ROUTER_ADD_TABLE(r, table, ud) \
    http_router_add_routes((r), (table), sizeof(table) / sizeof((table)[0]), (ud))

/* As http_server_opts.on_head (ud = the router): answers 400/401/404/405/
 * 429 before the body is read; otherwise leaves the request to dispatch. */
void http_router_on_head(http_req_t *req, void *router);
/* As http_server_opts.handler (ud = the router): runs the route's handler
 * after its access check (done here unless on_head did it), or answers. */
void http_router_dispatch(http_req_t *req, void *router);
/* Every route, for tests and --log-level debug: calls fn for each in the
 * order they were added. */
void http_router_each(const http_router_t *r,
                      void (*fn)(const char *method, const char *pattern, http_access_t access,
                                 void *ud),
                      void *ud);
/* The router's decision for one request, without a request: what
 * http_router_on_head/dispatch answer (tests, and the one place the
 * decision is made). */
typedef struct http_router_verdict {
    int status;          /* 0: the route's handler runs; else 400 401 403 404 405 414 429 */
    int granted;         /* what the credentials granted (http_access_t), -1 not looked at */
    int needed;          /* the route's access (-1: no route) */
    bool wrong_token;    /* with 401: a token was given and is not known */
    int64_t retry_ms;    /* with 429: how long the address stays locked out */
    const char *why;     /* with 400: what is wrong with the path */
} http_router_verdict_t;
/* authorization: the header's value (may be NULL); addr: the client's IP as
 * text. Wrong tokens count against addr as for a real request. Returns
 * v->status. */
int http_router_check(http_router_t *r, const char *method, const char *path,
                      const char *authorization, const char *addr, http_router_verdict_t *v);
/* Failure counters (for /metrics). */
uint64_t http_router_auth_failures(const http_router_t *r);
uint64_t http_router_auth_lockouts(const http_router_t *r);

/* A request path in canonical form (see above) into out: 0, -EINVAL (not
 * canonical; *why says how, for the 400), -ENAMETOOLONG. Pure: fuzzed. */
int http_path_canonical(const char *path, char *out, size_t outlen, const char **why);

#endif
