#include "relay/relay_admin.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "core/log.h"
#include "core/str.h"
#include "net/http_router.h"
#include "net/http_server.h"

enum { BODY_MAX = 64 << 20 };

struct relay_admin {
    relay_admin_opts_t o;
    char *token;
    http_server_t *srv;
    http_router_t *router;
};

static void write_body(http_req_t *r, relay_admin_writer_fn fn, void *ud, const char *ctype)
{
    buf_t b = BUF_INIT(BODY_MAX);
    int rc = fn(&b, ud);
    if (rc) {
        log_error("admin_render_failed", LF_S("path", http_req_path(r)), LF_ERR(rc));
        http_respond_error(r, 500, "cannot render");
    } else {
        http_respond(r, 200, ctype, b.data ? b.data : "", b.len);
    }
    buf_free(&b);
}

static void h_status(http_req_t *r, void *ud)
{
    relay_admin_t *a = ud;
    write_body(r, a->o.status, a->o.ud, "application/json");
}

static void h_metrics(http_req_t *r, void *ud)
{
    relay_admin_t *a = ud;
    write_body(r, a->o.metrics, a->o.ud, "text/plain; version=0.0.4");
}

static void free_admin(void *ud)
{
    relay_admin_t *a = ud;
    http_router_free(a->router);
    free(a->token);
    free(a);
}

relay_admin_t *relay_admin_start(uv_loop_t *loop, const relay_admin_opts_t *o)
{
    relay_admin_t *a = calloc(1, sizeof *a);
    if (!a)
        return NULL;
    a->o = *o;
    a->token = strdup(o->token ? o->token : "");
    http_router_opts_t ro = { .name = "relay-admin", .token = a->token };
    a->router = a->token ? http_router_new(&ro) : NULL;
    if (!a->router || http_router_add(a->router, "GET", "/status", HTTP_ACCESS_TOKEN, h_status, a) ||
        http_router_add(a->router, "GET", "/metrics", HTTP_ACCESS_TOKEN, h_metrics, a)) {
        free_admin(a);
        return NULL;
    }
    http_server_opts_t so = { .on_head = http_router_on_head, .handler = http_router_dispatch,
                              .ud = a->router, .max_body_bytes = 4096 };
    a->srv = http_server_new(loop, &so);
    int rc = a->srv ? http_server_listen(a->srv, &(net_listen_opts_t){
        .addr = o->listen, .max_connections = CFG_ADMIN_MAX_CONNECTIONS }) : -ENOMEM;
    if (rc) {
        log_error("admin_listen_failed", LF_S("listen", o->listen), LF_ERR(rc));
        if (a->srv)
            http_server_close(a->srv, free_admin, a);
        else
            free_admin(a);
        return NULL;
    }
    a->o.listen = NULL; /* borrowed; not needed after start */
    return a;
}

const char *relay_admin_addr(const relay_admin_t *a) { return http_server_addr(a->srv); }

void relay_admin_close(relay_admin_t *a)
{
    if (a)
        http_server_close(a->srv, free_admin, a);
}
