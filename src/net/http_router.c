#include "net/http_router.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/str.h"

enum { MAX_SEGS = 16 };

typedef struct route {
    char method[12];
    char *pattern;           /* owned copy, segments split in place */
    const char *segs[MAX_SEGS];
    size_t nsegs;
    bool tail;               /* last segment is {*name} */
    http_handler_fn fn;
    void *ud;
} route_t;

struct http_router {
    route_t *routes;
    size_t n;
};

http_router_t *http_router_new(void) { return calloc(1, sizeof(http_router_t)); }

void http_router_free(http_router_t *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n; i++)
        free(r->routes[i].pattern);
    free(r->routes);
    free(r);
}

int http_router_add(http_router_t *r, const char *method, const char *pattern, http_handler_fn fn,
                    void *ud)
{
    if (pattern[0] != '/' || !fn)
        return -EINVAL;
    route_t rt = { .fn = fn, .ud = ud };
    if (str_copy(rt.method, sizeof rt.method, method))
        return -EINVAL;
    rt.pattern = strdup(pattern + 1);
    if (!rt.pattern)
        return -ENOMEM;
    char *save = NULL;
    for (char *s = strtok_r(rt.pattern, "/", &save); s; s = strtok_r(NULL, "/", &save)) {
        if (rt.nsegs >= MAX_SEGS || rt.tail) {
            free(rt.pattern);
            return -EINVAL; /* too deep, or something after {*rest} */
        }
        if (s[0] == '{' && s[strlen(s) - 1] != '}') {
            free(rt.pattern);
            return -EINVAL;
        }
        if (strncmp(s, "{*", 2) == 0)
            rt.tail = true;
        rt.segs[rt.nsegs++] = s;
    }
    route_t *nr = realloc(r->routes, (r->n + 1) * sizeof *nr);
    if (!nr) {
        free(rt.pattern);
        return -ENOMEM;
    }
    r->routes = nr;
    r->routes[r->n++] = rt;
    return 0;
}

/* Split the request path into segments (pointers into a copy). */
static size_t split_path(char *copy, const char **segs, size_t max, bool *too_deep)
{
    size_t n = 0;
    char *save = NULL;
    *too_deep = false;
    for (char *s = strtok_r(copy, "/", &save); s; s = strtok_r(NULL, "/", &save)) {
        if (n == max) {
            *too_deep = true;
            break;
        }
        segs[n++] = s;
    }
    return n;
}

static bool path_matches(const route_t *rt, const char **segs, size_t n, const char *path)
{
    if (rt->tail ? n < rt->nsegs - 1 : n != rt->nsegs)
        return false;
    for (size_t i = 0; i < rt->nsegs; i++) {
        const char *p = rt->segs[i];
        if (p[0] == '{')
            continue;
        if (strcmp(p, segs[i]) != 0)
            return false;
    }
    return true;
}

static int capture(const route_t *rt, http_req_t *req, const char **segs, size_t n,
                   const char *path, const char *copy)
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
        if (tail) {
            /* the rest of the original path from this segment on */
            const char *start = i < n ? path + (segs[i] - copy) : "";
            if (http_req_set_param(req, name, start, strlen(start)))
                return -EINVAL;
        } else if (http_req_set_param(req, name, segs[i], strlen(segs[i]))) {
            return -EINVAL;
        }
    }
    return 0;
}

int http_router_match(http_router_t *r, http_req_t *req, http_handler_fn *fn, void **ud)
{
    const char *path = http_req_path(req);
    char copy[NET_URL_PATH_MAX];
    if (str_copy(copy, sizeof copy, path[0] == '/' ? path + 1 : path))
        return -ENOENT;
    const char *segs[MAX_SEGS + 1];
    bool too_deep;
    size_t n = split_path(copy, segs, MAX_SEGS, &too_deep);
    const char *method = http_req_method(req);
    bool path_found = false;
    for (size_t i = 0; i < r->n; i++) {
        const route_t *rt = &r->routes[i];
        if (too_deep && !rt->tail)
            continue;
        if (!path_matches(rt, segs, n, path + (path[0] == '/')))
            continue;
        path_found = true;
        bool method_ok = strcmp(rt->method, "*") == 0 || strcmp(rt->method, method) == 0 ||
                         (strcmp(method, "HEAD") == 0 && strcmp(rt->method, "GET") == 0);
        if (!method_ok)
            continue;
        if (capture(rt, req, segs, n, path + (path[0] == '/'), copy))
            return -EINVAL;
        *fn = rt->fn;
        *ud = rt->ud;
        return 0;
    }
    return path_found ? -EPERM : -ENOENT;
}

void http_router_dispatch(http_req_t *req, void *router)
{
    http_router_t *r = router;
    http_handler_fn fn;
    void *ud;
    int rc = http_router_match(r, req, &fn, &ud);
    if (rc == 0) {
        fn(req, ud);
        return;
    }
    if (rc == -EPERM) {
        /* list the methods this path does take */
        char allow[128] = "Allow: ";
        size_t used = strlen(allow);
        const char *path = http_req_path(req);
        char copy[NET_URL_PATH_MAX];
        str_copy(copy, sizeof copy, path[0] == '/' ? path + 1 : path);
        const char *segs[MAX_SEGS + 1];
        bool too_deep;
        size_t n = split_path(copy, segs, MAX_SEGS, &too_deep);
        for (size_t i = 0; i < r->n; i++)
            if (path_matches(&r->routes[i], segs, n, path) && used + 16 < sizeof allow)
                used += (size_t)snprintf(allow + used, sizeof allow - used, "%s%s",
                                         used > 7 ? ", " : "", r->routes[i].method);
        snprintf(allow + used, sizeof allow - used, "\r\n");
        http_respond_hdrs(req, 405, allow, "text/plain; charset=utf-8", "method not allowed\n", 19);
        return;
    }
    if (rc == -EINVAL) {
        http_respond_error(req, 400, "bad path encoding");
        return;
    }
    http_respond_error(req, 404, "not found");
}
