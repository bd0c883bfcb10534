/*
 * cr: the one HTTP listener that receives connection requests for every
 * simulated CPE (TR-069 3.2.2). Each CPE has its own URL,
 * <base>/cr/<serial>, and its own Digest credentials (its data model's
 * ConnectionRequestUsername/Password, which the ACS may change). An
 * authenticated GET is answered 200 at once and the CPE starts a session
 * with "6 CONNECTION REQUEST" (right away, or after the session it is in).
 * A CPE that is rebooting answers 503; unknown serials 404.
 */
#include "cpesim/fleet.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/log.h"
#include "core/str.h"

typedef struct cr_ctx {
    fleet_t *f;
    cpe_t *c;
} cr_ctx_t;

static int lookup(const char *user, char *out, size_t outlen, void *ud)
{
    cr_ctx_t *x = ud;
    fleet_env_t env;
    dm_view_t v = fleet_view(x->f, x->c, &env);
    buf_t u = BUF_INIT(1024), p = BUF_INIT(1024);
    int rc = -ENOENT;
    if (dm_wk_get(&v, DM_WK_CR_USER, &u) == 0 && u.data && strcmp(u.data, user) == 0 &&
        dm_wk_get(&v, DM_WK_CR_PASS, &p) == 0)
        rc = str_copy(out, outlen, p.data ? p.data : "") == 0 ? 0 : -ENOENT;
    buf_free(&u);
    buf_free_secret(&p); /* http_auth wipes `out`, its own copy */
    return rc;
}

static void challenge(fleet_t *f, http_req_t *r, bool stale)
{
    buf_t h = BUF_INIT(4096);
    http_auth_challenge(f->cr_auth, stale, &h);
    http_respond_hdrs(r, 401, h.data, "text/plain", "authentication required\n", 24);
    buf_free(&h);
}

static void handle(http_req_t *r, void *ud)
{
    fleet_t *f = ud;
    const char *path = http_req_path(r);
    if (!str_starts_with(path, "/cr/") || strchr(path + 4, '/')) {
        f->st.cr_rejected++;
        http_respond_error(r, 404, "no such CPE");
        return;
    }
    const char *serial = path + 4;
    cpe_t *c = fleet_find_serial(f, serial, strlen(serial));
    if (!c) {
        f->st.cr_rejected++;
        http_respond_error(r, 404, "no such CPE");
        return;
    }
    const char *method = http_req_method(r);
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
        f->st.cr_rejected++;
        http_respond_hdrs(r, 405, "Allow: GET\r\n", "text/plain", "use GET\n", 8);
        return;
    }
    cr_ctx_t ctx = { f, c };
    const char *why = NULL;
    http_auth_result_t ar = http_auth_check(f->cr_auth, method, http_req_target(r),
                                            http_req_header(r, "Authorization"), lookup, &ctx, NULL,
                                            0, &why);
    if (ar != HTTP_AUTH_OK) {
        if (ar == HTTP_AUTH_FAILED) {
            f->st.cr_rejected++;
            log_info("connection_request_refused", LF_S("cpe", serial), LF_S("peer", http_req_peer(r)),
                     LF_S("reason", why ? why : "bad credentials"));
        }
        challenge(f, r, ar == HTTP_AUTH_STALE);
        return;
    }
    if ((c->flags & CPE_OFFLINE) || f->stopping) {
        f->st.cr_rejected++;
        http_respond_hdrs(r, 503, "Retry-After: 5\r\n", "text/plain", "rebooting\n", 10);
        return;
    }
    f->st.cr_answered++;
    log_debug("connection_request", LF_S("cpe", serial), LF_S("peer", http_req_peer(r)),
              LF_B("in_session", c->sess != NULL));
    http_respond(r, 200, NULL, "", 0);
    fleet_trigger(f, c, EV_CONNREQ);
}

int cr_start(fleet_t *f, const char *listen, char *err, size_t errlen)
{
    http_auth_opts_t ao = { .realm = "outpost-cpesim", .digest = true };
    f->cr_auth = http_auth_new(&ao);
    http_server_opts_t so = {
        .max_body_bytes = 4096,
        .header_timeout_ms = 10000,
        .idle_timeout_ms = 30000,
        .server_name = "outpost-cpesim",
        .handler = handle,
        .ud = f,
    };
    f->cr = f->cr_auth ? http_server_new(f->loop, &so) : NULL;
    if (!f->cr) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    net_listen_opts_t lo = { .addr = listen };
    int rc = http_server_listen(f->cr, &lo);
    if (rc) {
        snprintf(err, errlen, "cannot listen on %s: %s", listen, log_strerror(rc));
        return rc;
    }
    const char *bound = http_server_addr(f->cr);
    if (f->o->cr_url && *f->o->cr_url) {
        size_t n = strlen(f->o->cr_url);
        snprintf(f->cr_base, sizeof f->cr_base, "%.*s/cr/", (int)(n && f->o->cr_url[n - 1] == '/' ? n - 1 : n),
                 f->o->cr_url);
    } else {
        char host[NET_HOST_MAX];
        uint16_t port = 0;
        net_split_hostport(bound, host, sizeof host, &port);
        bool any = strcmp(host, "0.0.0.0") == 0 || strcmp(host, "::") == 0;
        if (any)
            log_warn("cr_url_guessed", LF_S("listen", bound),
                     LF_S("reason", "listening on all addresses: ConnectionRequestURL says 127.0.0.1; set --cr-url"));
        snprintf(f->cr_base, sizeof f->cr_base, strchr(host, ':') && !any ? "http://[%s]:%u/cr/" : "http://%s:%u/cr/",
                 any ? "127.0.0.1" : host, port);
    }
    return 0;
}

void cr_stop(fleet_t *f)
{
    if (f->cr)
        http_server_close(f->cr, NULL, NULL);
    f->cr = NULL;
}
