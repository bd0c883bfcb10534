/*
 * admin: the cwmp-proxy's series for /metrics, its /status and /health,
 * served by net/http_admin.
 */
#include "cwmp_proxy/admin.h"
#include "cwmp_proxy/forward.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "core/clock.h"
#include "core/log.h"
#include "core/str.h"
#include "cwmp_proxy/wakeup.h"
#include "net/http_admin.h"

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
    HEAD("outpost_cwmp_proxy_requests_total", "counter", "CPE requests received (wake-ups excluded)");
    VAL("outpost_cwmp_proxy_requests_total", "", s->requests);
    HEAD("outpost_cwmp_proxy_responses_total", "counter", "responses to CPEs by status class");
    for (int c = 1; c <= 5; c++) {
        char l[32];
        snprintf(l, sizeof l, "code=\"%dxx\"", c);
        VAL("outpost_cwmp_proxy_responses_total", l, s->responses[c]);
    }
    HEAD("outpost_cwmp_proxy_no_backend_total", "counter", "requests refused with 503: no ACS node up");
    VAL("outpost_cwmp_proxy_no_backend_total", "", s->no_backend);
    HEAD("outpost_cwmp_proxy_upstream_errors_total", "counter", "502/504 answers and cut responses");
    VAL("outpost_cwmp_proxy_upstream_errors_total", "", s->upstream_errors);
    HEAD("outpost_cwmp_proxy_redispatched_total", "counter", "first requests moved to another node after a connect failure");
    VAL("outpost_cwmp_proxy_redispatched_total", "", s->redispatched);
    HEAD("outpost_cwmp_proxy_sessions_total", "counter", "CWMP sessions started");
    VAL("outpost_cwmp_proxy_sessions_total", "", s->sessions);
    HEAD("outpost_cwmp_proxy_sessions_tracked", "gauge", "sessions in the stickiness table");
    VAL("outpost_cwmp_proxy_sessions_tracked", "", px->sess.n);
    HEAD("outpost_cwmp_proxy_rewrites_total", "counter", "ConnectionRequestURL values rewritten");
    VAL("outpost_cwmp_proxy_rewrites_total", "", s->rewrites);
    HEAD("outpost_cwmp_proxy_rewrite_skipped_total", "counter", "ConnectionRequestURL values left as they were");
    VAL("outpost_cwmp_proxy_rewrite_skipped_total", "", s->rewrite_skipped);
    HEAD("outpost_cwmp_proxy_rewrite_passthrough_total", "counter", "bodies forwarded unparsed (malformed XML)");
    VAL("outpost_cwmp_proxy_rewrite_passthrough_total", "", s->rewrite_passthrough);
    HEAD("outpost_cwmp_proxy_streamed_bodies_total", "counter", "request bodies over the rewrite window");
    VAL("outpost_cwmp_proxy_streamed_bodies_total", "", s->streamed_bodies);
    HEAD("outpost_cwmp_proxy_origins", "gauge", "origins in the wake-up allowlist");
    VAL("outpost_cwmp_proxy_origins", "", origins_count(&px->origins));
    HEAD("outpost_cwmp_proxy_connections", "gauge", "CPE connections open");
    VAL("outpost_cwmp_proxy_connections", "", px->srv ? http_server_connections(px->srv) : 0);
    HEAD("outpost_cwmp_proxy_bytes_total", "counter", "body bytes relayed");
    VAL("outpost_cwmp_proxy_bytes_total", "direction=\"up\"", s->bytes_up);
    VAL("outpost_cwmp_proxy_bytes_total", "direction=\"down\"", s->bytes_down);
    HEAD("outpost_cwmp_proxy_wakeups_total", "counter", "wake-ups by outcome");
    for (int i = 0; i < WAKE_NOUTCOMES; i++) {
        char l[48];
        snprintf(l, sizeof l, "outcome=\"%s\"", wakeup_outcome_name(i));
        VAL("outpost_cwmp_proxy_wakeups_total", l, s->wakeups[i]);
    }
    HEAD("outpost_cwmp_proxy_wakeups_in_flight", "gauge", "wake-ups waiting for a CPE");
    VAL("outpost_cwmp_proxy_wakeups_in_flight", "", wakeup_in_flight(px->wakeup));
    HEAD("outpost_cwmp_proxy_wakeup_lockouts_total", "counter", "addresses locked out for wrong ACS credentials");
    VAL("outpost_cwmp_proxy_wakeup_lockouts_total", "", wakeup_locked_out(px->wakeup));
    HEAD("outpost_cwmp_proxy_request_seconds", "histogram", "CPE request head in to response end");
    if (!rc)
        rc = metrics_hist_write(o, "outpost_cwmp_proxy_request_seconds", "", &s->request_latency);
    HEAD("outpost_cwmp_proxy_wakeup_seconds", "histogram", "wake-up latency");
    if (!rc)
        rc = metrics_hist_write(o, "outpost_cwmp_proxy_wakeup_seconds", "", &s->wakeup_latency);

    buf_t l = BUF_INIT(512);
    static const struct { const char *name, *type, *help; } per[] = {
        { "outpost_cwmp_proxy_backend_up", "gauge", "1 when the ACS node takes new sessions" },
        { "outpost_cwmp_proxy_backend_sessions_total", "counter", "sessions sent to the node" },
        { "outpost_cwmp_proxy_backend_requests_total", "counter", "requests sent to the node" },
        { "outpost_cwmp_proxy_backend_connections", "gauge", "CPE connections pinned to the node" },
        { "outpost_cwmp_proxy_backend_connect_failures_total", "counter", "failed connects to the node" },
        { "outpost_cwmp_proxy_backend_check_failures_total", "counter", "failed health checks" },
        { "outpost_cwmp_proxy_backend_conns_opened_total", "counter", "connections made to the node" },
        { "outpost_cwmp_proxy_backend_conns_reused_total", "counter",
          "sessions' requests sent on an idle connection kept from an earlier session" },
        { "outpost_cwmp_proxy_backend_idle_connections", "gauge", "idle connections kept for the node" },
    };
    for (size_t k = 0; k < sizeof per / sizeof per[0]; k++) {
        HEAD(per[k].name, per[k].type, per[k].help);
        for (size_t i = 0; i < px->bal.n && !rc; i++) {
            const backend_t *be = px->bal.v[i];
            if (be->retired)
                continue;
            rc = backend_labels(&l, be);
            double v[] = { be->up, (double)be->sessions_total, (double)be->requests_total,
                           be->active_conns, (double)be->connect_failures, (double)be->checks_failed,
                           (double)be->conns_opened, (double)be->conns_reused, be->nidle };
            VAL(per[k].name, l.data, v[k]);
        }
    }
    HEAD("outpost_cwmp_proxy_backend_response_seconds", "histogram", "request sent to response head, per node");
    for (size_t i = 0; i < px->bal.n && !rc; i++) {
        const backend_t *be = px->bal.v[i];
        if (be->retired)
            continue;
        rc = backend_labels(&l, be);
        if (!rc)
            rc = metrics_hist_write(o, "outpost_cwmp_proxy_backend_response_seconds", l.data, &be->latency);
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
            "{s:s, s:s, s:b, s:b, s:s, s:i, s:I, s:I, s:i, s:I, s:f, s:s, s:b, s:I, s:I, s:i}",
            "name", be->name, "url", be->url,
            "up", be->up, "retired", be->retired, "reason", be->reason, "weight", (int)be->weight,
            "sessions", (json_int_t)be->sessions_total, "requests", (json_int_t)be->requests_total,
            "connections", (int)be->active_conns, "connect_failures", (json_int_t)be->connect_failures,
            "p99_seconds", metrics_hist_quantile(&be->latency, 0.99),
            "reuse", be->reuse == BACKEND_REUSE_ON ? "on" : be->reuse == BACKEND_REUSE_OFF ? "off" : "auto",
            "reusing", up_reuse_allowed(px, be), "conns_opened", (json_int_t)be->conns_opened,
            "conns_reused", (json_int_t)be->conns_reused, "idle_connections", (int)be->nidle));
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

static int write_metrics(buf_t *out, void *ud) { return admin_metrics(ud, out); }
static int write_status(buf_t *out, void *ud) { return admin_status(ud, out); }

/* Healthy while at least one ACS node is up: without one every CPE gets 503. */
static int health(char *why, size_t len, void *ud)
{
    proxy_t *px = ud;
    for (size_t i = 0; i < px->bal.n; i++)
        if (!px->bal.v[i]->retired && px->bal.v[i]->up)
            return 0;
    snprintf(why, len, "no ACS node is up (%zu configured)", balancer_count_live(&px->bal));
    return -1;
}

int admin_start(proxy_t *px)
{
    http_admin_opts_t ao = { .daemon = "cwmp-proxy", .listen = px->o.common.admin_listen,
                             .token = px->api_token, .metrics_public = px->o.common.metrics_public,
                             .metrics = write_metrics, .status = write_status, .health = health,
                             .ud = px };
    return http_admin_start(px->loop, &ao, &px->admin);
}
