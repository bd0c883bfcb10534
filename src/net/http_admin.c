/*
 * http_admin: /metrics, /status and /health behind the router's token check
 * (see http_admin.h).
 */
#include "net/http_admin.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/str.h"
#include "net/addr.h"
#include "net/http_server.h"

enum { ADMIN_BODY_MAX = 64 << 20 };

struct http_admin {
    http_admin_opts_t o;
    char daemon[32];
    http_server_t *srv;
    http_router_t *router;
};

static void write_body(http_req_t *r, http_admin_t *a, const char *ctype, bool process,
                       http_admin_writer_fn fn)
{
    buf_t b = BUF_INIT(ADMIN_BODY_MAX);
    int rc = fn ? fn(&b, a->o.ud) : buf_append_str(&b, "{}");
    if (!rc && process)
        rc = metrics_process(&b, a->daemon);
    if (rc) {
        log_error("admin_render_failed", LF_S("daemon", a->daemon), LF_S("path", http_req_path(r)),
                  LF_ERR(rc));
        http_respond_error(r, 500, "cannot render");
    } else {
        http_respond(r, 200, ctype, b.data ? b.data : "", b.len);
    }
    buf_free(&b);
}

static void h_metrics(http_req_t *r, void *ud)
{
    http_admin_t *a = ud;
    write_body(r, a, "text/plain; version=0.0.4; charset=utf-8", true, a->o.metrics);
}

static void h_status(http_req_t *r, void *ud)
{
    http_admin_t *a = ud;
    write_body(r, a, "application/json", false, a->o.status);
}

static void h_health(http_req_t *r, void *ud)
{
    http_admin_t *a = ud;
    char why[256] = "";
    if (!a->o.health || a->o.health(why, sizeof why, a->o.ud) == 0) {
        http_respond(r, 200, "text/plain; charset=utf-8", "ok\n", 3);
        return;
    }
    char body[300];
    size_t n = (size_t)snprintf(body, sizeof body, "%s\n", why[0] ? why : "unhealthy");
    http_respond(r, 503, "text/plain; charset=utf-8", body, n < sizeof body ? n : sizeof body - 1);
}

static void free_admin(void *ud)
{
    http_admin_t *a = ud;
    http_router_free(a->router);
    free(a);
}

/* Loopback is where an admin listener belongs: say so once when it is not. */
static void warn_if_exposed(const char *daemon, const char *listen)
{
    char host[NET_HOST_MAX];
    uint16_t port;
    uint8_t ip[16];
    static const uint8_t v4lo[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
    static const uint8_t v6lo[16] = { [15] = 1 };
    if (net_split_hostport(listen, host, sizeof host, &port) != 0)
        return;
    bool loopback = strcmp(host, "localhost") == 0 ||
                    (net_ip_parse(host, ip) == 0 &&
                     ((memcmp(ip, v4lo, 12) == 0 && ip[12] == 127) || memcmp(ip, v6lo, 16) == 0));
    if (!loopback)
        log_warn("admin_listen_not_loopback", LF_S("daemon", daemon), LF_S("listen", listen),
                 LF_S("hint", "the admin API answers anyone who can reach it and has the token"));
}

int http_admin_start(uv_loop_t *loop, const http_admin_opts_t *o, http_admin_t **out)
{
    *out = NULL;
    if (!o->listen || !*o->listen)
        return 0;
    http_admin_t *a = calloc(1, sizeof *a);
    if (!a)
        return -ENOMEM;
    a->o = *o;
    str_copy(a->daemon, sizeof a->daemon, o->daemon);
    char name[48];
    snprintf(name, sizeof name, "%s-admin", a->daemon);
    a->router = http_router_new(&(http_router_opts_t){ .name = name, .token = o->token });
    int rc = a->router ? 0 : -ENOMEM;
    if (!rc)
        rc = http_router_add(a->router, "GET", "/metrics",
                             o->metrics_public ? HTTP_ACCESS_PUBLIC : HTTP_ACCESS_TOKEN, h_metrics, a);
    if (!rc)
        rc = http_router_add(a->router, "GET", "/status", HTTP_ACCESS_TOKEN, h_status, a);
    if (!rc)
        rc = http_router_add(a->router, "GET", "/health", HTTP_ACCESS_TOKEN, h_health, a);
    if (rc) {
        log_error("admin_start_failed", LF_S("daemon", a->daemon), LF_ERR(rc));
        free_admin(a);
        return rc;
    }
    http_server_opts_t so = { .on_head = http_router_on_head, .handler = http_router_dispatch,
                              .ud = a->router, .max_body_bytes = 64 * 1024 };
    a->srv = http_server_new(loop, &so);
    rc = a->srv ? http_server_listen(a->srv, &(net_listen_opts_t){
                      .addr = o->listen, .max_connections = CFG_ADMIN_MAX_CONNECTIONS })
                : -ENOMEM;
    if (rc) {
        log_error("admin_listen_failed", LF_S("daemon", a->daemon), LF_S("listen", o->listen),
                  LF_ERR(rc));
        if (a->srv)
            http_server_close(a->srv, free_admin, a);
        else
            free_admin(a);
        return rc;
    }
    warn_if_exposed(a->daemon, o->listen);
    a->o.listen = NULL; /* borrowed strings are not kept past start */
    a->o.token = NULL;
    a->o.daemon = a->daemon;
    *out = a;
    return 0;
}

http_router_t *http_admin_router(http_admin_t *a) { return a->router; }
const char *http_admin_addr(const http_admin_t *a) { return http_server_addr(a->srv); }

void http_admin_close(http_admin_t *a)
{
    if (a)
        http_server_close(a->srv, free_admin, a);
}
