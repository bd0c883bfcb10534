/*
 * admin: /metrics and /status.
 */
#include "cwmp_proxy/admin.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "core/clock.h"
#include "core/log.h"
#include "core/str.h"
#include "cwmp_proxy/wakeup.h"
#include "net/http_router.h"

static int backend_labels(buf_t *l, const backend_t *be)
{
    buf_reset(l);
    int rc = buf_append_str(l, "backend=\"");
    if (!rc)
        rc = metrics_label_escape(l, be->name);
    return rc ? rc : buf_append_byte(l, '"');
}

int admin_metrics(proxy_t *px, buf_t *o)
{
    const proxy_stats_t *s = &px->st;
    int rc = 0;
#define HEAD(n, t, h) if (!rc) rc = metrics_head(o, n, t, h)
#define VAL(n, l, v) if (!rc) rc = metrics_value(o, n, l, (double)(v))
    HEAD("cwmp_proxy_requests_total", "counter", "CPE requests received (wake-ups excluded)");
    VAL("cwmp_proxy_requests_total", "", s->requests);
    HEAD("cwmp_proxy_responses_total", "counter", "responses to CPEs by status class");
    for (int c = 1; c <= 5; c++) {
        char l[32];
        snprintf(l, sizeof l, "code=\"%dxx\"", c);
        VAL("cwmp_proxy_responses_total", l, s->responses[c]);
    }
    HEAD("cwmp_proxy_no_backend_total", "counter", "requests refused with 503: no ACS node up");
    VAL("cwmp_proxy_no_backend_total", "", s->no_backend);
    HEAD("cwmp_proxy_upstream_errors_total", "counter", "502/504 answers and cut responses");
    VAL("cwmp_proxy_upstream_errors_total", "", s->upstream_errors);
    HEAD("cwmp_proxy_redispatched_total", "counter", "first requests moved to another node after a connect failure");
    VAL("cwmp_proxy_redispatched_total", "", s->redispatched);
    HEAD("cwmp_proxy_sessions_total", "counter", "CWMP sessions started");
    VAL("cwmp_proxy_sessions_total", "", s->sessions);
    HEAD("cwmp_proxy_sessions_tracked", "gauge", "sessions in the stickiness table");
    VAL("cwmp_proxy_sessions_tracked", "", px->sess.n);
    HEAD("cwmp_proxy_rewrites_total", "counter", "ConnectionRequestURL values rewritten");
    VAL("cwmp_proxy_rewrites_total", "", s->rewrites);
    HEAD("cwmp_proxy_rewrite_skipped_total", "counter", "ConnectionRequestURL values left as they were");
    VAL("cwmp_proxy_rewrite_skipped_total", "", s->rewrite_skipped);
    HEAD("cwmp_proxy_rewrite_passthrough_total", "counter", "bodies forwarded unparsed (malformed XML)");
    VAL("cwmp_proxy_rewrite_passthrough_total", "", s->rewrite_passthrough);
    HEAD("cwmp_proxy_streamed_bodies_total", "counter", "request bodies over the rewrite window");
    VAL("cwmp_proxy_streamed_bodies_total", "", s->streamed_bodies);
    HEAD("cwmp_proxy_origins", "gauge", "origins in the wake-up allowlist");
    VAL("cwmp_proxy_origins", "", origins_count(&px->origins));
    HEAD("cwmp_proxy_connections", "gauge", "CPE connections open");
    VAL("cwmp_proxy_connections", "", px->srv ? http_server_connections(px->srv) : 0);
    HEAD("cwmp_proxy_bytes_total", "counter", "body bytes relayed");
    VAL("cwmp_proxy_bytes_total", "direction=\"up\"", s->bytes_up);
    VAL("cwmp_proxy_bytes_total", "direction=\"down\"", s->bytes_down);
    HEAD("cwmp_proxy_wakeups_total", "counter", "wake-ups by outcome");
    for (int i = 0; i < WAKE_NOUTCOMES; i++) {
        char l[48];
        snprintf(l, sizeof l, "outcome=\"%s\"", wakeup_outcome_name(i));
        VAL("cwmp_proxy_wakeups_total", l, s->wakeups[i]);
    }
    HEAD("cwmp_proxy_wakeups_in_flight", "gauge", "wake-ups waiting for a CPE");
    VAL("cwmp_proxy_wakeups_in_flight", "", wakeup_in_flight(px->wakeup));
    HEAD("cwmp_proxy_wakeup_lockouts_total", "counter", "addresses locked out for wrong ACS credentials");
    VAL("cwmp_proxy_wakeup_lockouts_total", "", wakeup_locked_out(px->wakeup));
    HEAD("cwmp_proxy_request_seconds", "histogram", "CPE request head in to response end");
    if (!rc)
        rc = metrics_hist_write(o, "cwmp_proxy_request_seconds", "", &s->request_latency);
    HEAD("cwmp_proxy_wakeup_seconds", "histogram", "wake-up latency");
    if (!rc)
        rc = metrics_hist_write(o, "cwmp_proxy_wakeup_seconds", "", &s->wakeup_latency);

    buf_t l = BUF_INIT(512);
    static const struct { const char *name, *type, *help; } per[] = {
        { "cwmp_proxy_backend_up", "gauge", "1 when the ACS node takes new sessions" },
        { "cwmp_proxy_backend_sessions_total", "counter", "sessions sent to the node" },
        { "cwmp_proxy_backend_requests_total", "counter", "requests sent to the node" },
        { "cwmp_proxy_backend_connections", "gauge", "CPE connections pinned to the node" },
        { "cwmp_proxy_backend_connect_failures_total", "counter", "failed connects to the node" },
        { "cwmp_proxy_backend_check_failures_total", "counter", "failed health checks" },
    };
    for (size_t k = 0; k < sizeof per / sizeof per[0]; k++) {
        HEAD(per[k].name, per[k].type, per[k].help);
        for (size_t i = 0; i < px->bal.n && !rc; i++) {
            const backend_t *be = px->bal.v[i];
            if (be->retired)
                continue;
            rc = backend_labels(&l, be);
            double v[] = { be->up, (double)be->sessions_total, (double)be->requests_total,
                           be->active_conns, (double)be->connect_failures, (double)be->checks_failed };
            VAL(per[k].name, l.data, v[k]);
        }
    }
    HEAD("cwmp_proxy_backend_response_seconds", "histogram", "request sent to response head, per node");
    for (size_t i = 0; i < px->bal.n && !rc; i++) {
        const backend_t *be = px->bal.v[i];
        if (be->retired)
            continue;
        rc = backend_labels(&l, be);
        if (!rc)
            rc = metrics_hist_write(o, "cwmp_proxy_backend_response_seconds", l.data, &be->latency);
    }
    buf_free(&l);
#undef HEAD
#undef VAL
    return rc;
}

int admin_status(proxy_t *px, buf_t *out)
{
    json_t *bes = json_array();
    for (size_t i = 0; i < px->bal.n; i++) {
        const backend_t *be = px->bal.v[i];
        json_array_append_new(bes, json_pack(
            "{s:s, s:s, s:b, s:b, s:s, s:i, s:I, s:I, s:i, s:I, s:f}", "name", be->name, "url", be->url,
            "up", be->up, "retired", be->retired, "reason", be->reason, "weight", (int)be->weight,
            "sessions", (json_int_t)be->sessions_total, "requests", (json_int_t)be->requests_total,
            "connections", (int)be->active_conns, "connect_failures", (json_int_t)be->connect_failures,
            "p99_seconds", metrics_hist_quantile(&be->latency, 0.99)));
    }
    json_t *wk = json_object();
    for (int i = 0; i < WAKE_NOUTCOMES; i++)
        json_object_set_new(wk, wakeup_outcome_name(i), json_integer((json_int_t)px->st.wakeups[i]));
    json_t *root = json_pack(
        "{s:s, s:s, s:I, s:o, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:o}", "daemon", "cwmp-proxy",
        "public_url", px->public_url, "uptime_s", (json_int_t)((clock_mono_ms() - px->started_ms) / 1000),
        "backends", bes, "sessions_tracked", (json_int_t)px->sess.n,
        "origins", (json_int_t)origins_count(&px->origins),
        "connections", (json_int_t)(px->srv ? http_server_connections(px->srv) : 0),
        "requests", (json_int_t)px->st.requests, "rewrites", (json_int_t)px->st.rewrites,
        "in_flight", (json_int_t)px->in_flight,
        "wakeups_in_flight", (json_int_t)wakeup_in_flight(px->wakeup), "wakeups", wk);
    if (!root)
        return -ENOMEM;
    char *s = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    if (!s)
        return -ENOMEM;
    int rc = buf_append_str(out, s);
    free(s);
    return rc;
}

/* Answer with what `write` puts in a capped buffer, or 500 with `fail`. */
static void respond_with(http_req_t *r, proxy_t *px, int (*write)(proxy_t *, buf_t *),
                         const char *ctype, const char *fail)
{
    buf_t b = BUF_INIT(4 << 20);
    if (write(px, &b))
        http_respond_error(r, 500, fail);
    else
        http_respond(r, 200, ctype, b.data, b.len);
    buf_free(&b);
}

static void h_metrics(http_req_t *r, void *ud)
{
    respond_with(r, ud, admin_metrics, "text/plain; version=0.0.4; charset=utf-8",
                 "metrics too large");
}

static void h_status(http_req_t *r, void *ud)
{
    respond_with(r, ud, admin_status, "application/json", "status unavailable");
}

int admin_start(proxy_t *px)
{
    const char *addr = px->o.common.admin_listen;
    if (!addr || !addr[0])
        return 0;
    http_router_opts_t ro = { .name = "cwmp-proxy-admin", .token = px->api_token };
    px->admin_router = http_router_new(&ro);
    if (!px->admin_router ||
        http_router_add(px->admin_router, "GET", "/metrics", HTTP_ACCESS_TOKEN, h_metrics, px) ||
        http_router_add(px->admin_router, "GET", "/status", HTTP_ACCESS_TOKEN, h_status, px))
        return -ENOMEM;
    http_server_opts_t so = { .on_head = http_router_on_head, .handler = http_router_dispatch,
                              .ud = px->admin_router, .max_body_bytes = 4096 };
    px->admin = http_server_new(px->loop, &so);
    if (!px->admin)
        return -ENOMEM;
    net_listen_opts_t lo = { .addr = addr, .max_connections = CFG_ADMIN_MAX_CONNECTIONS };
    return http_server_listen(px->admin, &lo);
}
