/*
 * http_router: canonical paths, a route table, and the access check every
 * request passes before its handler (see http_router.h).
 */
#include "net/http_router.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/log.h"
#include "core/str.h"
#include "net/authguard.h"
#include "net/http_auth.h"

enum { MAX_SEGS = 16 };

typedef struct route {
    char method[12];
    char *pattern;           /* owned copy, segments split in place */
    char *text;              /* the pattern as registered, for http_router_each */
    const char *segs[MAX_SEGS];
    size_t nsegs;
    bool tail;               /* last segment is {*name} */
    http_access_t access;
    http_handler_fn fn;
    http_handler_fn head;    /* runs from on_head (http_router_add_head); NULL: none */
    void *ud;
} route_t;

struct http_router {
    route_t *routes;
    size_t n;
    char name[32];
    char *token;             /* grants admin; NULL: none */
    http_router_key_fn key_lookup; /* other tokens' roles; NULL: none */
    void *key_ud;
    net_cidr_t *trusted;
    size_t ntrusted;
    authguard_t guard;
};

/* ---- canonical paths ------------------------------------------------------------------ */

static bool unreserved(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '.' || c == '_' || c == '~';
}

int http_path_canonical(const char *p, char *out, size_t outlen, const char **why)
{
    static const char hex[] = "0123456789ABCDEF";
    const char *dummy;
    if (!why)
        why = &dummy;
    *why = NULL;
    if (outlen < 2)
        return -ENAMETOOLONG;
    if (p[0] != '/') {
        *why = "the path must start with /";
        return -EINVAL;
    }
    size_t o = 0;
    out[o++] = '/';
    if (!p[1]) {
        out[o] = '\0';
        return 0;
    }
    const char *s = p + 1;
    for (;;) {
        size_t seg = o; /* where this segment starts in out */
        while (*s && *s != '/') {
            unsigned char c = (unsigned char)*s;
            char enc[3];
            size_t n = 1;
            if (c == '%') {
                int hi = str_hexval(s[1]), lo = hi < 0 ? -1 : str_hexval(s[2]);
                if (hi < 0 || lo < 0) {
                    *why = "malformed percent-escape in the path";
                    return -EINVAL;
                }
                unsigned char v = (unsigned char)(hi * 16 + lo);
                if (v == 0) {
                    *why = "escaped NUL in the path";
                    return -EINVAL;
                }
                if (unreserved(v)) {
                    enc[0] = (char)v;
                } else {
                    enc[0] = '%';
                    enc[1] = hex[v >> 4];
                    enc[2] = hex[v & 15];
                    n = 3;
                }
                s += 3;
            } else if (c <= 0x20 || c >= 0x7f) {
                *why = "control, space or non-ASCII byte in the path (escape it)";
                return -EINVAL;
            } else {
                enc[0] = (char)c;
                s++;
            }
            if (o + n + 1 > outlen)
                return -ENAMETOOLONG;
            memcpy(out + o, enc, n);
            o += n;
        }
        size_t len = o - seg;
        if (len == 0) {
            *why = "empty path segment (a doubled or trailing /)";
            return -EINVAL;
        }
        if ((len == 1 && out[seg] == '.') || (len == 2 && out[seg] == '.' && out[seg + 1] == '.')) {
            *why = "dot segment in the path";
            return -EINVAL;
        }
        if (!*s)
            break;
        if (o + 2 > outlen)
            return -ENAMETOOLONG;
        out[o++] = '/';
        s++;
    }
    out[o] = '\0';
    return 0;
}

/* ---- roles ------------------------------------------------------------------------------ */

/* By level: the names in logs, 403 answers and http_access_parse. */
static const char *const access_names[] = { "public", "viewer", "operator", "admin" };

const char *http_access_name(int access)
{
    return access >= HTTP_ACCESS_PUBLIC && access <= HTTP_ACCESS_ADMIN ? access_names[access] : "?";
}

int http_access_parse(const char *name, http_access_t *out)
{
    for (int i = HTTP_ACCESS_VIEWER; name && i <= HTTP_ACCESS_ADMIN; i++)
        if (strcmp(name, access_names[i]) == 0) {
            *out = (http_access_t)i;
            return 0;
        }
    return -EINVAL;
}

/* ---- the table -------------------------------------------------------------------------- */

/* The guard's lines: one per address per minute, and when a lock-out starts. */
static void log_report(const authguard_report_t *rep, void *ud)
{
    const http_router_t *r = ud;
    log_warn("api_auth_failed", LF_S("api", r->name), LF_S("addr", rep->addr),
             LF_U("failures", rep->count), LF_I("locked_ms", rep->locked_ms),
             LF_U("strike", rep->strike));
}

http_router_t *http_router_new(const http_router_opts_t *o)
{
    http_router_t *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    http_router_opts_t def = { 0 };
    if (!o)
        o = &def;
    str_copy(r->name, sizeof r->name, o->name ? o->name : "http");
    if (o->token && !(r->token = strdup(o->token))) {
        free(r);
        return NULL;
    }
    r->key_lookup = o->key_lookup;
    r->key_ud = o->key_ud;
    if (o->ntrusted) {
        r->trusted = malloc(o->ntrusted * sizeof *r->trusted);
        if (!r->trusted) {
            free(r->token);
            free(r);
            return NULL;
        }
        memcpy(r->trusted, o->trusted, o->ntrusted * sizeof *r->trusted);
        r->ntrusted = o->ntrusted;
    }
    authguard_init(&r->guard, 0, o->max_failures ? o->max_failures : 10, o->lockout_ms);
    authguard_set_say(&r->guard, log_report, r);
    return r;
}

void http_router_free(http_router_t *r)
{
    if (!r)
        return;
    authguard_free(&r->guard); /* says what no later failure flushed */
    for (size_t i = 0; i < r->n; i++) {
        free(r->routes[i].pattern);
        free(r->routes[i].text);
    }
    free(r->routes);
    if (r->token) {
        memset(r->token, 0, strlen(r->token));
        free(r->token);
    }
    free(r->trusted);
    free(r);
}

int http_router_add(http_router_t *r, const char *method, const char *pattern, http_access_t access,
                    http_handler_fn fn, void *ud)
{
    return http_router_add_head(r, method, pattern, access, NULL, fn, ud);
}

int http_router_add_head(http_router_t *r, const char *method, const char *pattern,
                         http_access_t access, http_handler_fn head, http_handler_fn fn, void *ud)
{
    if (pattern[0] != '/' || !fn || (int)access < HTTP_ACCESS_PUBLIC || access > HTTP_ACCESS_ADMIN ||
        (access != HTTP_ACCESS_PUBLIC && !r->token && !r->key_lookup))
        return -EINVAL;
    route_t rt = { .fn = fn, .head = head, .ud = ud, .access = access };
    if (str_copy(rt.method, sizeof rt.method, method))
        return -EINVAL;
    rt.pattern = strdup(pattern + 1);
    rt.text = strdup(pattern);
    if (!rt.pattern || !rt.text) {
        free(rt.pattern);
        free(rt.text);
        return -ENOMEM;
    }
    char *save = NULL;
    for (char *s = strtok_r(rt.pattern, "/", &save); s; s = strtok_r(NULL, "/", &save)) {
        if (rt.nsegs >= MAX_SEGS || rt.tail || (s[0] == '{' && s[strlen(s) - 1] != '}')) {
            free(rt.pattern); /* too deep, something after {*rest}, or an open { */
            free(rt.text);
            return -EINVAL;
        }
        if (strncmp(s, "{*", 2) == 0)
            rt.tail = true;
        rt.segs[rt.nsegs++] = s;
    }
    route_t *nr = realloc(r->routes, (r->n + 1) * sizeof *nr);
    if (!nr) {
        free(rt.pattern);
        free(rt.text);
        return -ENOMEM;
    }
    r->routes = nr;
    r->routes[r->n++] = rt;
    log_debug("http_route", LF_S("api", r->name), LF_S("method", rt.method), LF_S("path", pattern),
              LF_S("access", http_access_name(access)));
    return 0;
}

int http_router_add_routes(http_router_t *r, const http_route_t *routes, size_t n, void *ud)
{
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++)
        rc = http_router_add_head(r, routes[i].method, routes[i].path, routes[i].access, routes[i].head,
                                  routes[i].fn, ud);
    return rc ? -EINVAL : 0;
}

void http_router_each(const http_router_t *r,
                      void (*fn)(const char *method, const char *pattern, http_access_t access,
                                 void *ud),
                      void *ud)
{
    for (size_t i = 0; i < r->n; i++)
        fn(r->routes[i].method, r->routes[i].text, r->routes[i].access, ud);
}

uint64_t http_router_auth_failures(const http_router_t *r) { return r->guard.failures; }
uint64_t http_router_auth_lockouts(const http_router_t *r) { return r->guard.lockouts; }

/* ---- matching --------------------------------------------------------------------------- */

/* A request's path, canonical and split into segments (pointers into canon). */
typedef struct split {
    char canon[NET_URL_PATH_MAX];
    const char *segs[MAX_SEGS + 1];
    size_t n;
    bool too_deep;
    const char *why;         /* set when the path was refused */
} split_t;

/* sp->canon (canonical already) split into segments in copy. */
static int split_path_canon(split_t *sp, char *copy)
{
    memcpy(copy, sp->canon, strlen(sp->canon) + 1);
    sp->n = 0;
    sp->too_deep = false;
    char *save = NULL;
    for (char *s = strtok_r(copy + 1, "/", &save); s; s = strtok_r(NULL, "/", &save)) {
        if (sp->n == MAX_SEGS) {
            sp->too_deep = true;
            break;
        }
        sp->segs[sp->n++] = s;
    }
    return 0;
}

static int split_path(const http_req_t *req, split_t *sp, char *copy)
{
    int rc = http_path_canonical(http_req_path(req), sp->canon, sizeof sp->canon, &sp->why);
    return rc ? rc : split_path_canon(sp, copy);
}

static bool path_matches(const route_t *rt, const split_t *sp)
{
    if (sp->too_deep && !rt->tail)
        return false;
    if (rt->tail ? sp->n < rt->nsegs - 1 : sp->n != rt->nsegs)
        return false;
    for (size_t i = 0; i < rt->nsegs; i++) {
        const char *p = rt->segs[i];
        if (p[0] == '{')
            continue;
        if (strcmp(p, sp->segs[i]) != 0)
            return false;
    }
    return true;
}

static bool method_ok(const route_t *rt, const char *method)
{
    return strcmp(rt->method, "*") == 0 || strcmp(rt->method, method) == 0 ||
           (strcmp(method, "HEAD") == 0 && strcmp(rt->method, "GET") == 0);
}

static int capture(const route_t *rt, http_req_t *req, const split_t *sp, const char *copy)
{
    for (size_t i = 0; i < rt->nsegs; i++) {
        const char *p = rt->segs[i];
        if (p[0] != '{')
            continue;
        bool tail = p[1] == '*';
        char name[32];
        size_t nl = strlen(p) - 2 - (tail ? 1 : 0);
        if (str_copyn(name, sizeof name, p + 1 + (tail ? 1 : 0), nl))
            return -EINVAL;
        /* the tail: the rest of the canonical path from this segment on */
        const char *v = tail ? (i < sp->n ? sp->canon + (sp->segs[i] - copy) : "") : sp->segs[i];
        if (http_req_set_param(req, name, v, strlen(v)))
            return -EINVAL;
    }
    return 0;
}

/* ---- answers ---------------------------------------------------------------------------- */

static void respond(http_req_t *req, int status, const char *hdrs, const char *code, const char *msg)
{
    char body[320];
    int n = snprintf(body, sizeof body, "{\"error\":\"%s\",\"message\":\"%s\"}\n", code, msg);
    /* a request whose body was not read yet: close rather than read it */
    const http_msg_t *m = http_req_msg(req);
    if (m && (m->content_length > 0 || m->chunked))
        http_resp_close_after(req);
    http_respond_hdrs(req, status, hdrs, "application/json", body,
                      n > 0 && (size_t)n < sizeof body ? (size_t)n : 0);
}

/* What the credentials grant: an http_access_t, or -1 after deciding the
 * answer in v (429 while the address is locked out; a wrong token is
 * counted and is a 401). No token grants PUBLIC silently: that is how a
 * client asks for the challenge. `cached`: what an earlier look at the
 * same request granted (on_head, then dispatch), or -1. */
static int grant(http_router_t *r, const char *authorization, const char *addr, int cached,
                 http_router_verdict_t *v)
{
    if (cached >= 0)
        return cached;
    if (!r->token && !r->key_lookup)
        return HTTP_ACCESS_PUBLIC;
    int64_t now = clock_mono_ms();
    int64_t locked = authguard_check(&r->guard, addr, now, NULL);
    if (locked > 0) {
        v->status = 429;
        v->retry_ms = locked;
        return -1;
    }
    const char *tok = http_auth_bearer_value(authorization);
    if (!tok)
        return HTTP_ACCESS_PUBLIC;
    int role = -1;
    if (r->token && http_auth_bearer(authorization, r->token) == HTTP_AUTH_OK)
        role = HTTP_ACCESS_ADMIN;
    else if (r->key_lookup && *tok)
        role = r->key_lookup(tok, strlen(tok), r->key_ud);
    if (role > HTTP_ACCESS_PUBLIC && role <= HTTP_ACCESS_ADMIN) {
        authguard_ok(&r->guard, addr);
        return role;
    }
    authguard_fail(&r->guard, addr, now, NULL);
    v->status = 401;
    v->wrong_token = true;
    return -1;
}

/* The one decision: the route (NULL when none runs) and the verdict. */
static const route_t *judge(http_router_t *r, const char *method, const split_t *sp,
                            const char *authorization, const char *addr, int cached,
                            http_router_verdict_t *v)
{
    const route_t *found = NULL;
    bool path_found = false;
    for (size_t i = 0; i < r->n && !found; i++) {
        if (!path_matches(&r->routes[i], sp))
            continue;
        path_found = true;
        if (method_ok(&r->routes[i], method))
            found = &r->routes[i];
    }
    v->needed = found ? (int)found->access : -1;
    if (!found || found->access != HTTP_ACCESS_PUBLIC) {
        int g = grant(r, authorization, addr, cached, v);
        if (g < 0)
            return NULL;
        v->granted = g;
        /* an unknown path or method is told only to a valid credential */
        int need = found ? (int)found->access
                         : (r->token || r->key_lookup) ? HTTP_ACCESS_VIEWER : HTTP_ACCESS_PUBLIC;
        if (g == HTTP_ACCESS_PUBLIC && need > HTTP_ACCESS_PUBLIC) {
            v->status = 401;
            return NULL;
        }
        if (g < need) {
            v->status = 403;
            return NULL;
        }
    }
    if (!found) {
        v->status = path_found ? 405 : 404;
        return NULL;
    }
    return found;
}

static void init_verdict(http_router_verdict_t *v)
{
    *v = (http_router_verdict_t){ .granted = -1, .needed = -1 };
}

int http_router_check(http_router_t *r, const char *method, const char *path,
                      const char *authorization, const char *addr, http_router_verdict_t *v)
{
    split_t *sp = malloc(sizeof *sp + NET_URL_PATH_MAX);
    init_verdict(v);
    if (!sp)
        return v->status = 500;
    char *copy = (char *)(sp + 1);
    int rc = http_path_canonical(path, sp->canon, sizeof sp->canon, &sp->why);
    if (rc == 0)
        rc = split_path_canon(sp, copy);
    if (rc) {
        v->status = rc == -ENAMETOOLONG ? 414 : 400;
        v->why = sp->why;
    } else {
        (void)judge(r, method, sp, authorization, addr, -1, v);
    }
    free(sp);
    return v->status;
}

static void unauthorized(http_router_t *r, http_req_t *req, bool wrong)
{
    char hdr[160];
    snprintf(hdr, sizeof hdr, "WWW-Authenticate: Bearer realm=\"outpost %s\"%s\r\n", r->name,
             wrong ? ", error=\"invalid_token\"" : "");
    respond(req, 401, hdr, "unauthorized",
            wrong ? "wrong bearer token" : "a bearer token is required (Authorization: Bearer TOKEN)");
}

/* The answer for a verdict that is not "run the handler". */
static void answer(http_router_t *r, http_req_t *req, const split_t *sp,
                   const http_router_verdict_t *v)
{
    char msg[160], hdr[HTTP_RETRY_AFTER_MAX];
    switch (v->status) {
    case 401:
        unauthorized(r, req, v->wrong_token);
        break;
    case 403:
        snprintf(msg, sizeof msg, "this needs the %s role; the credential given has %s",
                 http_access_name(v->needed), http_access_name(v->granted));
        respond(req, 403, NULL, "forbidden", msg);
        break;
    case 429:
        http_retry_after(hdr, v->retry_ms);
        respond(req, 429, hdr, "locked_out", "too many wrong tokens from this address; try later");
        break;
    case 405: {
        char allow[128] = "Allow: ";
        size_t used = strlen(allow);
        for (size_t i = 0; i < r->n; i++)
            if (path_matches(&r->routes[i], sp) && used + 16 < sizeof allow)
                used += (size_t)snprintf(allow + used, sizeof allow - used, "%s%s",
                                         used > 7 ? ", " : "", r->routes[i].method);
        snprintf(allow + used, sizeof allow - used, "\r\n");
        respond(req, 405, allow, "method_not_allowed", "method not allowed on this path");
        break;
    }
    default:
        respond(req, 404, NULL, "not_found", "no such endpoint");
        break;
    }
}

/* Decide the request: 0 with fn/ud set (and, with `bind`, the captures on
 * the request) when it may run its handler, or -1 once it was answered.
 * From on_head (`at_head`), a route's head handler is what is set, with
 * the captures bound; from dispatch such a route's captures are already
 * there. */
static int decide(http_router_t *r, http_req_t *req, bool at_head, http_handler_fn *fn, void **ud)
{
    split_t sp;
    char copy[NET_URL_PATH_MAX];
    int rc = split_path(req, &sp, copy);
    if (rc) {
        respond(req, rc == -ENAMETOOLONG ? 414 : 400, NULL, "bad_path",
                rc == -ENAMETOOLONG ? "path too long" : sp.why);
        return -1;
    }
    char addr[64];
    http_req_client_ip(req, r->trusted, r->ntrusted, addr, sizeof addr);
    http_router_verdict_t v;
    init_verdict(&v);
    const route_t *found = judge(r, http_req_method(req), &sp,
                                 http_req_header(req, "Authorization"), addr, http_req_access(req), &v);
    if (v.granted >= 0)
        http_req_set_access(req, v.granted);
    if (!found) {
        answer(r, req, &sp, &v);
        return -1;
    }
    bool bind = at_head ? found->head != NULL : found->head == NULL;
    if (bind && capture(found, req, &sp, copy)) {
        respond(req, 400, NULL, "bad_path", "bad path encoding");
        return -1;
    }
    if (at_head) {
        *fn = found->head;
        *ud = found->ud;
        return found->head ? 0 : -1;
    }
    *fn = found->fn;
    *ud = found->ud;
    return 0;
}

void http_router_on_head(http_req_t *req, void *router)
{
    http_handler_fn fn;
    void *ud;
    if (decide(router, req, true, &fn, &ud) == 0)
        fn(req, ud);
}

void http_router_dispatch(http_req_t *req, void *router)
{
    http_handler_fn fn;
    void *ud;
    if (decide(router, req, false, &fn, &ud) == 0)
        fn(req, ud);
}
