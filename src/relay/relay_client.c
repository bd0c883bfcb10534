/*
 * relay_client: `outpost relay-client`, the manager's end of a relay path.
 *
 * It keeps a link to the relay (relay_link.c) and serves local HTTP: each
 * request becomes a REST:REQUEST with a fresh messageId; the REST:RESPONSE
 * whose inResponseTo matches becomes the HTTP response. Requests in flight
 * are kept in a table by id and in a net/deadq by deadline (one timer
 * serves them): no answer in time is a 504, a lost link fails them all
 * with 502. EVENT:* messages are printed on stdout, one JSON line each, or
 * POSTed to --event-webhook.
 * A pipe or terminal on stdout is written without blocking, through a queue
 * capped at STDOUT_MAX_QUEUE: a reader that stops (a stuck `| consumer`)
 * costs dropped events, counted and logged, never the requests.
 */
#include "relay/relay.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "codec/relay_rest.h"
#include "core/clock.h"
#include "core/config.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/runtime.h"
#include "core/str.h"
#include "net/addr.h"
#include "net/deadq.h"
#include "net/http_client.h"
#include "net/http_server.h"
#include "relay/relay_end.h"

typedef struct client_opts {
    cfg_common_t common;
    relay_end_opts_t end;
    int64_t request_timeout_ms;
    int64_t max_in_flight;
    char *event_webhook;
} client_opts_t;

static const cfg_opt_t client_table[] = {
    CFG_COMMON_LISTEN(client_opts_t, "127.0.0.1:5001", "local HTTP listener whose requests go through the relay"),
    CFG_COMMON_ADMIN(client_opts_t, "127.0.0.1:5011"),
    CFG_COMMON_DATA_DIR(client_opts_t, "relay-client"),
    CFG_COMMON_API_TOKEN(client_opts_t),
    CFG_COMMON_TLS(client_opts_t, "presented to the relay (client certificate)"),
    CFG_COMMON_INSECURE(client_opts_t, "allow ws:// or skip verifying the relay's certificate (testing only)"),
    RELAY_END_OPTS(client_opts_t, "outpost-relay-client"),
    CFG_OPT("request-timeout", CFG_DURATION, client_opts_t, request_timeout_ms, "30s", "DUR",
            "answer 504 when the partner has not responded by then", .min = 10, .max = 3600000),
    CFG_OPT("max-in-flight", CFG_INT, client_opts_t, max_in_flight, "1024", "N",
            "requests waiting for their response at once (more get 503)", .min = 1, .max = 1000000),
    CFG_OPT("event-webhook", CFG_STR, client_opts_t, event_webhook, NULL, "URL",
            "POST each EVENT:* message (as JSON) here instead of printing it"),
    CFG_END,
};

static const cfg_cmd_t client_cmd = {
    "relay-client",
    "The manager's end of a relay path: local HTTP requests go to the partner as REST:REQUEST.",
    NULL, client_table,
};

typedef struct pend {
    net_deadq_item_t dq;      /* first: the request from its deadline */
    int64_t id;
    http_req_t *req;
    struct pend *hnext;       /* id table chain */
} pend_t;

typedef struct client {
    uv_loop_t *loop;
    client_opts_t o;
    tls_ctx_t *tls;
    relay_link_t *link;
    http_server_t *http;
    http_client_t *hc; /* webhook */
    net_deadq_t pending;      /* requests in flight by deadline */
    pend_t **table;
    size_t nbucket, npend;
    bool stopping;
    uint64_t events, events_dropped;
    size_t hooks_in_flight;
    union { /* stdout when it is a pipe or a terminal (out_async) */
        uv_stream_t stream;
        uv_pipe_t pipe;
        uv_tty_t tty;
    } out;
    bool out_async, out_failed;
    uv_shutdown_t out_shutdown;
    relay_end_admin_t adm;
    http_admin_t *admin;
} client_t;

/* Webhook POSTs in flight at once. Events arrive at the partner's pace and
 * the HTTP client opens a connection per concurrent request: without a cap
 * a slow webhook would cost a socket and a copy per event, without bound. */
enum { WEBHOOK_MAX_IN_FLIGHT = 64 };
/* Event bytes waiting for the stdout reader: a few thousand events. */
enum { STDOUT_MAX_QUEUE = 1024 * 1024 };

/* ---- requests in flight -------------------------------------------------------- */

static pend_t **slot(client_t *c, int64_t id) { return &c->table[(uint64_t)id & (c->nbucket - 1)]; }

static pend_t *pend_take(client_t *c, int64_t id)
{
    for (pend_t **pp = slot(c, id); *pp; pp = &(*pp)->hnext) {
        pend_t *p = *pp;
        if (p->id != id)
            continue;
        *pp = p->hnext;
        net_deadq_del(&c->pending, &p->dq);
        c->npend--;
        return p;
    }
    return NULL;
}

static void on_abort(http_req_t *r, void *ud)
{
    client_t *c = http_req_data(r);
    pend_t *p = pend_take(c, (int64_t)(intptr_t)ud);
    if (p) {
        log_info("relay_client_abandoned", LF_I("id", p->id), LF_S("reason", "HTTP client went away"));
        http_respond_error(r, 499, "client gone"); /* releases the request */
        free(p);
    }
}

static int pend_add(client_t *c, http_req_t *r, int64_t id)
{
    pend_t *p = calloc(1, sizeof *p);
    if (!p)
        return -ENOMEM;
    p->id = id;
    p->req = r;
    pend_t **s = slot(c, id);
    p->hnext = *s;
    *s = p;
    net_deadq_add(&c->pending, &p->dq, clock_mono_ms() + c->o.request_timeout_ms);
    c->npend++;
    http_req_set_data(r, c);
    http_req_on_abort(r, on_abort, (void *)(intptr_t)id);
    return 0;
}

static void fail_all(client_t *c, int status, const char *reason)
{
    while (net_deadq_first(&c->pending)) {
        pend_t *p = pend_take(c, ((pend_t *)net_deadq_first(&c->pending))->id);
        http_respond_error(p->req, status, reason);
        free(p);
    }
}

static void on_expired(net_deadq_t *q, net_deadq_item_t *it, void *ud)
{
    client_t *c = ud;
    pend_t *p = pend_take(c, ((pend_t *)it)->id);
    log_warn("relay_client_timeout", LF_I("id", p->id), LF_S("target", http_req_target(p->req)),
             LF_I("timeout_ms", c->o.request_timeout_ms));
    http_respond_error(p->req, 504, "no response through the relay in time");
    free(p);
}

/* ---- HTTP in -> REST:REQUEST out ---------------------------------------------------- */

static void on_request(http_req_t *r, void *ud)
{
    client_t *c = ud;
    if (!relay_link_up(c->link)) {
        http_respond_hdrs(r, 503, "Retry-After: 2\r\n", "text/plain; charset=utf-8",
                          "relay partner not connected\n", 28);
        return;
    }
    if (c->npend >= (size_t)c->o.max_in_flight || relay_link_congested(c->link)) {
        http_respond_hdrs(r, 503, "Retry-After: 1\r\n", "text/plain; charset=utf-8",
                          "too many requests in flight\n", 28);
        return;
    }
    const http_msg_t *m = http_req_msg(r);
    relay_nv_t hdrs[HTTP_MAX_HEADERS];
    size_t n = 0;
    for (size_t i = 0; i < m->nheaders && n < HTTP_MAX_HEADERS; i++) {
        const char *name, *value;
        http_msg_header_at(m, i, &name, &value);
        hdrs[n++] = (relay_nv_t){ name, strlen(name), value, strlen(value) };
    }
    size_t blen;
    const char *body = http_req_body(r, &blen);
    relay_http_in_t in = { .method = http_req_method(r), .target = http_req_target(r), .headers = hdrs,
                           .nheaders = n, .body = body, .body_len = blen };
    int64_t id = relay_link_next_id(c->link);
    buf_t msg = BUF_INIT(c->o.end.max_message);
    char err[RELAY_ERR_LEN] = "";
    int rc = relay_rest_request_build(&msg, id, &in, err, sizeof err);
    if (rc == -ENOBUFS)
        http_respond_error(r, 413, "request too large for the relay's message size");
    else if (rc)
        http_respond_error(r, 400, err[0] ? err : "cannot encode the request");
    else if ((rc = relay_link_send(c->link, msg.data, msg.len)) != 0)
        http_respond_error(r, 503, "relay link cannot take the request now");
    else if (pend_add(c, r, id) != 0)
        http_respond_error(r, 500, "out of memory");
    else
        log_debug("relay_client_request", LF_I("id", id), LF_S("method", in.method), LF_S("target", in.target),
                  LF_U("bytes", msg.len));
    buf_free(&msg);
}

/* ---- messages from the partner -------------------------------------------------------- */

static void on_response(client_t *c, const relay_env_t *env)
{
    if (!env->has_in_response_to) {
        log_warn("relay_client_bad_response", LF_S("reason", "REST:RESPONSE without inResponseTo"));
        return;
    }
    pend_t *p = pend_take(c, env->in_response_to);
    if (!p) {
        log_debug("relay_client_late_response", LF_I("in_response_to", env->in_response_to));
        return;
    }
    relay_http_t h;
    relay_http_init(&h, c->o.end.max_message);
    char err[RELAY_ERR_LEN] = "";
    if (relay_rest_response_decode(env, &h, err, sizeof err) != 0) {
        log_warn("relay_client_bad_response", LF_I("id", p->id), LF_S("reason", err));
        char body[RELAY_ERR_LEN + 32];
        snprintf(body, sizeof body, "bad REST:RESPONSE: %s", err);
        http_respond_error(p->req, 502, body);
    } else {
        /* the service's own phrase (the codec kept it only if it is safe on
         * a status line); without one the standard phrase is used */
        if (h.reason[0])
            http_resp_set_reason(p->req, h.reason);
        http_respond_hdrs(p->req, h.status, h.headers.data, h.ctype[0] ? h.ctype : NULL,
                          h.body.data ? h.body.data : "", h.body.len);
    }
    relay_http_free(&h);
    free(p);
}

static void webhook_done(int err, const http_response_t *resp, void *ud)
{
    client_t *c = ud;
    c->hooks_in_flight--;
    if (err || resp->status >= 300)
        log_warn("relay_client_webhook_failed", LF_ERR(err ? err : -EPROTO), LF_I("status", resp ? resp->status : 0));
}

/* A burst of drops is one warning line, not one per event. */
static void event_dropped(client_t *c, const relay_env_t *env, const char *reason, const char *what,
                          size_t backlog)
{
    if (c->events_dropped++ % 1000 == 0)
        log_warn("relay_client_event_dropped", LF_S("name", relay_event_name(env)), LF_S("reason", reason),
                 LF_U(what, backlog), LF_U("dropped", c->events_dropped));
}

typedef struct out_write {
    uv_write_t req;
    client_t *c;
    char line[]; /* the event and its newline */
} out_write_t;

/* stdout failed (its reader exited: EPIPE): said once, then events are
 * dropped and counted like any others. */
static void out_failed(client_t *c, int err)
{
    if (c->out_failed)
        return;
    c->out_failed = true;
    log_warn("relay_client_stdout_failed", LF_ERR(err), LF_S("reason", "events are dropped from now on"));
}

static void out_written(uv_write_t *req, int status)
{
    out_write_t *w = req->data;
    if (status < 0 && status != UV_ECANCELED)
        out_failed(w->c, status);
    free(w);
}

/* One event per line; the relay keeps messages compact, but be sure. */
static void event_line(char *dst, const char *raw, size_t len)
{
    for (size_t i = 0; i < len; i++)
        dst[i] = raw[i] == '\n' || raw[i] == '\r' ? ' ' : raw[i];
    dst[len] = '\n';
}

static void print_event(client_t *c, const relay_env_t *env, const char *raw, size_t len)
{
    size_t queued = c->out_async ? uv_stream_get_write_queue_size(&c->out.stream) : 0;
    if (c->out_failed) {
        event_dropped(c, env, "stdout failed", "queued_bytes", queued);
        return;
    }
    if (queued + len + 1 > STDOUT_MAX_QUEUE) {
        event_dropped(c, env, "stdout reader too slow", "queued_bytes", queued);
        return;
    }
    out_write_t *w = malloc(sizeof *w + len + 1);
    if (!w) {
        event_dropped(c, env, "out of memory", "queued_bytes", queued);
        return;
    }
    event_line(w->line, raw, len);
    if (!c->out_async) { /* a file (or nothing we can poll): it does not stall */
        fwrite(w->line, 1, len + 1, stdout);
        fflush(stdout);
        free(w);
        return;
    }
    w->req.data = w;
    w->c = c;
    uv_buf_t b = uv_buf_init(w->line, (unsigned)(len + 1));
    int rc = uv_write(&w->req, &c->out.stream, &b, 1, out_written);
    if (rc) {
        out_failed(c, rc);
        free(w);
    }
}

static void on_event(client_t *c, const relay_env_t *env, const char *raw, size_t len)
{
    c->events++;
    log_info("relay_client_event", LF_S("name", relay_event_name(env)), LF_U("bytes", len));
    if (!c->o.event_webhook) {
        print_event(c, env, raw, len);
        return;
    }
    if (c->hooks_in_flight >= WEBHOOK_MAX_IN_FLIGHT) {
        event_dropped(c, env, "webhook too slow", "in_flight", c->hooks_in_flight);
        return;
    }
    char name[RELAY_EVENT_NAME_MAX + 1];
    str_copy(name, sizeof name, relay_event_name(env));
    for (char *q = name; *q; q++)
        if ((unsigned char)*q < 0x20 || *q == 0x7f)
            *q = '_'; /* never a header line break */
    char hdr[RELAY_EVENT_NAME_MAX + 64];
    snprintf(hdr, sizeof hdr, "Content-Type: application/json\r\nX-Relay-Event: %s\r\n", name);
    http_request_spec_t spec = { .method = "POST", .url = c->o.event_webhook, .headers = hdr, .body = raw,
                                 .body_len = len };
    int err = 0;
    if (http_client_request(c->hc, &spec, webhook_done, c, &err))
        c->hooks_in_flight++; /* webhook_done runs later, never from inside the call */
    else
        log_warn("relay_client_webhook_failed", LF_ERR(err));
}

static void on_link_message(relay_link_t *l, const relay_env_t *env, const char *raw, size_t len, void *ud)
{
    client_t *c = ud;
    switch (env->kind) {
    case RELAY_KIND_REST_RESPONSE:
        on_response(c, env);
        break;
    case RELAY_KIND_EVENT:
        on_event(c, env, raw, len);
        break;
    default:
        log_info("relay_client_unhandled", LF_S("type", env->type));
        if (env->requires_response && env->has_id) {
            /* do not leave the partner waiting for an answer that never comes */
            buf_t out = BUF_INIT(4096);
            relay_http_in_t in = { .status = 501, .reason = "Not Implemented" };
            if (relay_rest_response_build(&out, relay_link_next_id(l), env->id, &in, NULL, 0) == 0)
                relay_link_send(l, out.data, out.len);
            buf_free(&out);
        }
    }
}

static void on_link_down(relay_link_t *l, const char *reason, void *ud)
{
    client_t *c = ud;
    if (c->npend)
        log_warn("relay_client_failing_in_flight", LF_U("requests", c->npend), LF_S("reason", reason));
    fail_all(c, 502, "relay connection lost");
}

static const relay_link_cbs_t link_cbs = { .on_message = on_link_message, .on_down = on_link_down };

/* ---- lifecycle --------------------------------------------------------------------------- */

/* SIGHUP: re-read the certificate files; the next connection uses them. */
static void on_reload(void *ud)
{
    client_t *c = ud;
    if (c->tls && tls_ctx_reload(c->tls) == 0)
        log_info("relay_tls_reloaded");
}

static void out_close(uv_shutdown_t *req, int status)
{
    client_t *c = req->data;
    uv_close((uv_handle_t *)&c->out.stream, NULL);
}

/* Events already queued for stdout go out first (the drain timeout bounds a
 * reader that never takes them). */
static void out_stop(client_t *c)
{
    if (!c->out_async)
        return;
    c->out_async = false;
    c->out_shutdown.data = c;
    if (uv_stream_get_write_queue_size(&c->out.stream) == 0 ||
        uv_shutdown(&c->out_shutdown, &c->out.stream, out_close) != 0)
        uv_close((uv_handle_t *)&c->out.stream, NULL);
}

/* stdout as a libuv stream when a reader can stall it (a pipe, a terminal). */
static void out_start(client_t *c)
{
    if (c->o.event_webhook)
        return;
    uv_handle_type t = uv_guess_handle(STDOUT_FILENO);
    int rc = -1;
    if (t == UV_NAMED_PIPE && uv_pipe_init(c->loop, &c->out.pipe, 0) == 0) {
        rc = uv_pipe_open(&c->out.pipe, STDOUT_FILENO);
        if (rc)
            uv_close((uv_handle_t *)&c->out.pipe, NULL);
    } else if (t == UV_TTY) {
        rc = uv_tty_init(c->loop, &c->out.tty, STDOUT_FILENO, 0);
    }
    c->out_async = rc == 0;
}

static void on_stop(void *ud)
{
    client_t *c = ud;
    c->stopping = true;
    fail_all(c, 503, "shutting down");
    http_server_close(c->http, NULL, NULL);
    relay_link_stop(c->link);
    http_client_free(c->hc);
    net_deadq_close(&c->pending, NULL);
    out_stop(c);
    http_admin_close(c->admin);
    c->admin = NULL;
}

static int client_metrics(buf_t *out, void *ud)
{
    client_t *c = ud;
    int rc = metrics_one(out, "outpost_relay_client_in_flight", "gauge",
                         "Requests waiting for the partner's response.", (double)c->npend);
    if (!rc)
        rc = metrics_one(out, "outpost_relay_client_events_total", "counter",
                         "EVENT messages received from the partner.", (double)c->events);
    if (!rc)
        rc = metrics_one(out, "outpost_relay_client_events_dropped_total", "counter",
                         "Events dropped because their reader went away.", (double)c->events_dropped);
    return rc;
}

static int start(client_t *c, runtime_t *rt)
{
    int rc = relay_end_tls(&c->o.common, &c->o.end, "relay-client", &c->tls);
    if (rc)
        return rc;
    size_t want = (size_t)c->o.max_in_flight * 2, nb = 64;
    while (nb < want && nb < (1u << 20))
        nb *= 2;
    c->table = calloc(nb, sizeof *c->table);
    c->hc = http_client_new(c->loop, &(http_client_opts_t){ .request_timeout_ms = 10000 });
    if (!c->table || !c->hc)
        return -ENOMEM;
    c->nbucket = nb;
    net_deadq_init(c->loop, &c->pending, on_expired, c);
    http_server_opts_t so = { .handler = on_request, .ud = c, .max_body_bytes = c->o.end.max_message };
    c->http = http_server_new(c->loop, &so);
    if (!c->http)
        return -ENOMEM;
    rc = http_server_listen(c->http, &(net_listen_opts_t){ .addr = c->o.common.listen });
    if (rc) {
        log_error("relay_client_listen_failed", LF_S("listen", c->o.common.listen), LF_ERR(rc));
        return rc;
    }
    c->link = relay_end_link(c->loop, &c->o.end, c->tls, "relay-client", &link_cbs, c);
    if (!c->link)
        return -EINVAL;
    out_start(c);
    c->adm = (relay_end_admin_t){ .daemon = "relay-client", .common = &c->o.common, .link = &c->link,
                                  .extra = client_metrics, .ud = c };
    if ((rc = relay_end_admin_start(c->loop, &c->adm, &c->admin)) != 0)
        return rc;
    return runtime_init(rt, c->loop, on_stop, on_reload, c, 0);
}

int relay_client_main(int argc, char **argv)
{
    client_t c = { 0 };
    cfg_result_t res;
    int rc = cfg_load(&client_cmd, &c.o, argc, argv, &res);
    if (rc)
        return rc > 0 ? 0 : 2;
    c.loop = uv_default_loop();
    runtime_t rt;
    rc = start(&c, &rt);
    if (rc == 0) {
        char relay[NET_URL_SHOWN];
        net_url_redacted(c.o.end.relay_url, relay, sizeof relay);
        runtime_ready("relay-client", LF_S("listen", http_server_addr(c.http)),
                      LF_S("admin", c.admin ? http_admin_addr(c.admin) : "off"),
                      LF_S("relay", relay));
        runtime_run(&rt);
    } else {
        if (c.http)
            http_server_close(c.http, NULL, NULL);
        http_admin_close(c.admin);
        relay_link_stop(c.link);
        http_client_free(c.hc);
        if (c.nbucket)
            net_deadq_close(&c.pending, NULL);
        out_stop(&c);
        uv_run(c.loop, UV_RUN_DEFAULT);
    }
    free(c.table);
    tls_ctx_free(c.tls);
    cfg_free(&client_cmd, &c.o);
    uv_loop_close(c.loop);
    return rc ? 1 : 0;
}
