/*
 * health: per-backend probe timers.
 */
#include "cwmp_proxy/health.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/log.h"
#include "net/conn.h"
#include "net/http_client.h"

typedef struct check {
    uv_timer_t timer;       /* first: handle->data is the check */
    health_t *h;
    backend_t *be;          /* NULL once the backend is gone */
    net_conn_t *probe;      /* TCP probe in flight */
    http_call_t *call;      /* HTTP probe in flight */
    bool stopped;
    struct check *prev, *next;
} check_t;

struct health {
    proxy_t *px;
    http_client_t *client;  /* HTTP probes */
    check_t *checks;
    unsigned open;          /* timer handles not closed yet */
    bool stopping;
};

static void schedule(check_t *c, int64_t ms);

static void check_closed(uv_handle_t *hd)
{
    check_t *c = hd->data;
    health_t *h = c->h;
    free(c);
    if (--h->open == 0 && h->stopping)
        free(h);
}

static void check_stop(check_t *c)
{
    if (c->stopped)
        return;
    c->stopped = true;
    if (c->be)
        c->be->check = NULL;
    c->be = NULL;
    if (c->call) {
        http_call_cancel(c->call);
        c->call = NULL;
    }
    if (c->probe) {
        net_conn_set_data(c->probe, NULL);
        net_conn_abort(c->probe);
        c->probe = NULL;
    }
    health_t *h = c->h;
    if (c->prev)
        c->prev->next = c->next;
    else
        h->checks = c->next;
    if (c->next)
        c->next->prev = c->prev;
    uv_close((uv_handle_t *)&c->timer, check_closed);
}

static void report(check_t *c, bool ok, const char *reason)
{
    if (c->stopped || !c->be)
        return;
    proxy_t *px = c->h->px;
    log_debug("health_check", LF_S("backend", c->be->name), LF_B("ok", ok), LF_S("reason", reason));
    balancer_check_result(&px->bal, c->be, ok, reason, clock_mono_ms());
    schedule(c, px->o.health_interval_ms);
}

/* ---- TCP probe -------------------------------------------------------------- */

static void probe_open(net_conn_t *nc)
{
    check_t *c = net_conn_data(nc);
    if (!c)
        return;
    c->probe = NULL;
    net_conn_set_data(nc, NULL);
    net_conn_close(nc);
    report(c, true, "connect ok");
}

static void probe_close(net_conn_t *nc, int err)
{
    check_t *c = net_conn_data(nc);
    if (!c)
        return; /* opened (reported) or stopped */
    c->probe = NULL;
    char why[96];
    snprintf(why, sizeof why, "connect: %s", log_strerror(err ? err : -ECONNRESET));
    report(c, false, why);
}

static const net_conn_cbs_t probe_cbs = { .on_open = probe_open, .on_close = probe_close };

/* ---- HTTP probe --------------------------------------------------------------- */

static void http_done(int err, const http_response_t *resp, void *ud)
{
    check_t *c = ud;
    c->call = NULL;
    char why[96];
    if (err) {
        snprintf(why, sizeof why, "GET: %s", log_strerror(err));
        report(c, false, why);
        return;
    }
    snprintf(why, sizeof why, "GET: HTTP %d", resp->status);
    report(c, resp->status < 500, why);
}

static void fire(uv_timer_t *t)
{
    check_t *c = t->data;
    health_t *h = c->h;
    proxy_t *px = h->px;
    backend_t *be = c->be;
    if (c->stopped || !be)
        return;
    if (px->o.health_path && px->o.health_path[0]) {
        char url[1400];
        snprintf(url, sizeof url, strchr(be->host, ':') ? "%s://[%s]:%u%s" : "%s://%s:%u%s",
                 be->tls ? "https" : "http", be->host, be->port, px->o.health_path);
        http_request_spec_t spec = { .method = "GET", .url = url,
                                     .timeout_ms = px->o.health_timeout_ms, .no_reuse = true };
        int err = 0;
        c->call = http_client_request(h->client, &spec, http_done, c, &err);
        if (!c->call)
            report(c, false, "invalid health URL");
        return;
    }
    net_connect_opts_t co = { .host = be->host, .port = be->port,
                              .tls = be->tls ? px->tls_backend : NULL,
                              .timeout_ms = px->o.health_timeout_ms };
    int rc = net_connect(px->loop, &co, &probe_cbs, c, &c->probe);
    if (rc) {
        c->probe = NULL;
        report(c, false, "cannot start a probe");
    }
}

static void schedule(check_t *c, int64_t ms)
{
    uv_timer_start(&c->timer, fire, (uint64_t)(ms > 0 ? ms : 0), 0);
}

static void add_check(health_t *h, backend_t *be)
{
    if (be->check || h->stopping)
        return;
    check_t *c = calloc(1, sizeof *c);
    if (!c) {
        log_error("health_check_failed", LF_S("backend", be->name), LF_ERR(-ENOMEM));
        return;
    }
    c->h = h;
    c->be = be;
    be->check = c;
    uv_timer_init(h->px->loop, &c->timer);
    c->timer.data = c;
    h->open++;
    c->next = h->checks;
    if (h->checks)
        h->checks->prev = c;
    h->checks = c;
    schedule(c, 0); /* the first probe at once */
}

void health_backend_event(health_t *h, backend_t *be, const char *what)
{
    if (!h)
        return;
    if (strcmp(what, "added") == 0)
        add_check(h, be);
    else if ((strcmp(what, "retired") == 0 || strcmp(what, "freed") == 0) && be->check)
        check_stop(be->check);
}

health_t *health_new(proxy_t *px)
{
    health_t *h = calloc(1, sizeof *h);
    if (!h)
        return NULL;
    h->px = px;
    http_client_opts_t co = { .tls = px->tls_backend, .connect_timeout_ms = px->o.health_timeout_ms,
                              .request_timeout_ms = px->o.health_timeout_ms,
                              .max_response_bytes = 64 * 1024,
                              .user_agent = "outpost-cwmp-proxy-health" };
    h->client = http_client_new(px->loop, &co);
    if (!h->client) {
        free(h);
        return NULL;
    }
    for (size_t i = 0; i < px->bal.n; i++)
        if (!px->bal.v[i]->retired)
            add_check(h, px->bal.v[i]);
    return h;
}

void health_stop(health_t *h)
{
    if (!h)
        return;
    h->stopping = true;
    while (h->checks)
        check_stop(h->checks);
    http_client_free(h->client);
    h->client = NULL;
    if (h->open == 0)
        free(h);
}
