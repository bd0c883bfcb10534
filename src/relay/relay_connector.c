/*
 * relay_connector: `outpost relay-connector`, the gateway's end of a relay
 * path.
 *
 * It keeps a link to the relay and runs each REST:REQUEST from the partner
 * against a local base URL (--target) with the shared HTTP client, answering
 * with a REST:RESPONSE whose inResponseTo is the request's messageId.
 * Requests run concurrently up to --max-concurrent (beyond that: 503 at
 * once, so a flood cannot queue without bound). Local services publish
 * events with `POST /events/NAME` on --events-listen, which become
 * EVENT:NAME messages; `outpost relay-connector --event NAME --data JSON`
 * is the command-line form of that POST.
 */
#include "relay/relay.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/relay_rest.h"
#include "core/config.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/runtime.h"
#include "core/str.h"
#include "net/addr.h"
#include "net/http_client.h"
#include "net/http_router.h"
#include "net/http_server.h"
#include "relay/relay_end.h"

typedef struct conn_opts {
    cfg_common_t common;
    relay_end_opts_t end;
    char *target;
    int64_t request_timeout_ms;
    int64_t max_concurrent;
    char *events_listen;
    /* one-shot event mode */
    char *event, *data, *data_format, *events_url;
} conn_opts_t;

static int check_target(const char *v, char *err, size_t n)
{
    if (str_starts_with(v, "http://") || str_starts_with(v, "https://"))
        return 0;
    snprintf(err, n, "expected http://HOST:PORT[/base]");
    return -EINVAL;
}

static const cfg_opt_t conn_table[] = {
    CFG_COMMON_ADMIN(conn_opts_t, "127.0.0.1:5012"),
    CFG_COMMON_DATA_DIR(conn_opts_t, "relay-connector"),
    CFG_COMMON_API_TOKEN(conn_opts_t),
    CFG_COMMON_TLS(conn_opts_t, "presented to the relay (client certificate)"),
    CFG_COMMON_INSECURE(conn_opts_t, "allow ws:// or skip verifying the relay's certificate (testing only)"),
    RELAY_END_OPTS(conn_opts_t, "outpost-relay-connector"),
    CFG_OPT("target", CFG_STR, conn_opts_t, target, "http://127.0.0.1:5000", "URL",
            "base URL the partner's REST:REQUESTs are run against", .check = check_target),
    CFG_OPT("request-timeout", CFG_DURATION, conn_opts_t, request_timeout_ms, "30s", "DUR",
            "a target that takes longer gets a 504 back to the partner", .min = 10, .max = 3600000),
    CFG_OPT("max-concurrent", CFG_INT, conn_opts_t, max_concurrent, "64", "N",
            "requests run against the target at once (more get 503)", .min = 1, .max = 100000),
    CFG_OPT("events-listen", CFG_STR, conn_opts_t, events_listen, "127.0.0.1:5002", "HOST:PORT",
            "local listener for POST /events/NAME -> EVENT:NAME (empty: off)", .check = cfg_check_hostport),
    CFG_OPT("event", CFG_STR, conn_opts_t, event, NULL, "NAME",
            "one-shot: send EVENT:NAME through the running connector at --events-url, then exit"),
    CFG_OPT("data", CFG_STR, conn_opts_t, data, NULL, "TEXT", "one-shot: the event's body (JSON or text)"),
    CFG_OPT("data-format", CFG_STR, conn_opts_t, data_format, NULL, "TYPE",
            "one-shot: the body's media type (default: JSON if it parses, else text)"),
    CFG_OPT("events-url", CFG_STR, conn_opts_t, events_url, "http://127.0.0.1:5002", "URL",
            "one-shot: where the running connector's --events-listen is"),
    CFG_END,
};

static const cfg_cmd_t conn_cmd = {
    "relay-connector",
    "The gateway's end of a relay path: runs the partner's REST:REQUESTs against a local service.",
    NULL, conn_table,
};

typedef struct job job_t;

typedef struct connector {
    uv_loop_t *loop;
    conn_opts_t o;
    tls_ctx_t *tls;
    relay_link_t *link;
    http_client_t *hc;
    http_server_t *events;
    http_router_t *router;
    job_t *jobs;
    size_t njobs;
    char base[4096];
    char base_shown[NET_URL_SHOWN]; /* base, its password hidden: for logs */
    uint64_t requests, events_sent;
    relay_end_admin_t adm;
    http_admin_t *admin;
} connector_t;

struct job {
    connector_t *cn;
    int64_t id;
    http_call_t *call;
    job_t *prev, *next;
};

/* ---- answering -------------------------------------------------------------------- */

static void send_response(connector_t *cn, int64_t in_response_to, const relay_http_in_t *in)
{
    buf_t out = BUF_INIT(cn->o.end.max_message);
    char err[RELAY_ERR_LEN] = "";
    int rc = relay_rest_response_build(&out, relay_link_next_id(cn->link), in_response_to, in, err, sizeof err);
    if (rc) {
        /* the target's answer does not fit a message: say so instead */
        log_warn("relay_connector_response_unsendable", LF_I("in_response_to", in_response_to),
                 LF_S("reason", rc == -ENOBUFS ? "larger than --max-message" : err));
        const char *why = rc == -ENOBUFS ? "response too large for the relay\n" : "response cannot be encoded\n";
        relay_nv_t ct = { "Content-Type", 12, "text/plain; charset=utf-8", 25 };
        relay_http_in_t e = { .status = 502, .reason = "Bad Gateway", .headers = &ct, .nheaders = 1,
                              .body = why, .body_len = strlen(why) };
        buf_reset(&out);
        rc = relay_rest_response_build(&out, relay_link_next_id(cn->link), in_response_to, &e, NULL, 0);
    }
    if (!rc && (rc = relay_link_send(cn->link, out.data, out.len)) != 0)
        log_warn("relay_connector_send_failed", LF_I("in_response_to", in_response_to), LF_ERR(rc));
    buf_free(&out);
}

static void send_error(connector_t *cn, int64_t id, int status, const char *reason, const char *text)
{
    char body[256];
    int n = snprintf(body, sizeof body, "%s\n", text);
    relay_nv_t ct = { "Content-Type", 12, "text/plain; charset=utf-8", 25 };
    relay_http_in_t in = { .status = status, .reason = reason, .headers = &ct, .nheaders = 1, .body = body,
                           .body_len = (size_t)n };
    send_response(cn, id, &in);
}

static void job_del(connector_t *cn, job_t *j)
{
    if (j->prev)
        j->prev->next = j->next;
    else
        cn->jobs = j->next;
    if (j->next)
        j->next->prev = j->prev;
    cn->njobs--;
    free(j);
}

static void on_target_done(int err, const http_response_t *resp, void *ud)
{
    job_t *j = ud;
    connector_t *cn = j->cn;
    if (err) {
        log_warn("relay_connector_target_failed", LF_I("id", j->id), LF_S("target", cn->base_shown),
                 LF_ERR(err));
        if (err == -ETIMEDOUT)
            send_error(cn, j->id, 504, "Gateway Timeout", "the local service did not answer in time");
        else if (err == -ENOBUFS) /* the HTTP client's cap is --max-message */
            send_error(cn, j->id, 502, "Bad Gateway", "the local service's answer is larger than --max-message");
        else
            send_error(cn, j->id, 502, "Bad Gateway", "the local service cannot be reached");
    } else {
        relay_nv_t hdrs[HTTP_MAX_HEADERS];
        size_t n = 0;
        for (size_t i = 0; i < resp->msg->nheaders && n < HTTP_MAX_HEADERS; i++) {
            const char *name, *value;
            http_msg_header_at(resp->msg, i, &name, &value);
            hdrs[n++] = (relay_nv_t){ name, strlen(name), value, strlen(value) };
        }
        relay_http_in_t in = { .status = resp->status, .reason = resp->msg->reason, .headers = hdrs,
                               .nheaders = n, .body = resp->body, .body_len = resp->body_len };
        log_debug("relay_connector_answer", LF_I("id", j->id), LF_I("status", resp->status),
                  LF_U("bytes", resp->body_len));
        send_response(cn, j->id, &in);
    }
    j->call = NULL;
    job_del(cn, j);
}

/* Header lines for the target: what the partner sent, minus User-Agent
 * (the HTTP client sends its own; two would be a malformed request). */
static int target_headers(const relay_http_t *h, buf_t *out)
{
    const char *p = h->headers.data ? h->headers.data : "";
    while (*p) {
        const char *eol = strstr(p, "\r\n");
        size_t n = eol ? (size_t)(eol - p) + 2 : strlen(p);
        if (!(n >= 11 && strncasecmp(p, "User-Agent:", 11) == 0)) {
            int rc = buf_append(out, p, n);
            if (rc)
                return rc;
        }
        p += n;
    }
    if (h->ctype[0])
        return buf_printf(out, "Content-Type: %s\r\n", h->ctype);
    return out->data ? 0 : buf_append(out, "", 0);
}

static void on_rest_request(connector_t *cn, const relay_env_t *env)
{
    if (!env->has_id) {
        log_warn("relay_connector_bad_request", LF_S("reason", "REST:REQUEST without messageId: cannot answer"));
        return;
    }
    cn->requests++;
    if (cn->njobs >= (size_t)cn->o.max_concurrent) {
        send_error(cn, env->id, 503, "Service Unavailable", "too many requests in progress on the connector");
        return;
    }
    relay_http_t h;
    relay_http_init(&h, cn->o.end.max_message);
    char err[RELAY_ERR_LEN] = "";
    buf_t url = BUF_INIT(16384), hdrs = BUF_INIT(1 << 20);
    job_t *j = NULL;
    int rc = relay_rest_request_decode(env, &h, err, sizeof err);
    if (rc) {
        log_warn("relay_connector_bad_request", LF_I("id", env->id), LF_S("reason", err));
        send_error(cn, env->id, 400, "Bad Request", err);
        goto out;
    }
    if (buf_printf(&url, "%s%s", cn->base, h.target.data) || target_headers(&h, &hdrs) ||
        !(j = calloc(1, sizeof *j))) {
        send_error(cn, env->id, 500, "Internal Server Error", "request too large");
        goto out;
    }
    j->cn = cn;
    j->id = env->id;
    http_request_spec_t spec = { .method = h.method, .url = url.data, .headers = hdrs.data,
                                 .body = h.body.data, .body_len = h.body.len,
                                 .timeout_ms = cn->o.request_timeout_ms };
    int cerr = 0;
    j->call = http_client_request(cn->hc, &spec, on_target_done, j, &cerr);
    if (!j->call) {
        log_warn("relay_connector_bad_request", LF_I("id", env->id), LF_S("method", h.method), LF_ERR(cerr));
        send_error(cn, env->id, 400, "Bad Request", "the request cannot be made to the local service");
        free(j);
        goto out;
    }
    j->next = cn->jobs;
    if (cn->jobs)
        cn->jobs->prev = j;
    cn->jobs = j;
    cn->njobs++;
    char shown[NET_URL_SHOWN];
    net_url_redacted(url.data, shown, sizeof shown);
    log_debug("relay_connector_request", LF_I("id", env->id), LF_S("method", h.method), LF_S("url", shown));
out:
    buf_free(&url);
    buf_free(&hdrs);
    relay_http_free(&h);
}

static void cancel_jobs(connector_t *cn)
{
    while (cn->jobs) {
        job_t *j = cn->jobs;
        if (j->call)
            http_call_cancel(j->call);
        job_del(cn, j);
    }
}

static void on_link_message(relay_link_t *l, const relay_env_t *env, const char *raw, size_t len, void *ud)
{
    connector_t *cn = ud;
    if (env->kind == RELAY_KIND_REST_REQUEST) {
        on_rest_request(cn, env);
        return;
    }
    log_info("relay_connector_unhandled", LF_S("type", env->type));
    if (env->requires_response && env->has_id)
        send_error(cn, env->id, 501, "Not Implemented", "the connector only runs REST:REQUEST");
}

static void on_link_down(relay_link_t *l, const char *reason, void *ud)
{
    connector_t *cn = ud;
    if (cn->njobs)
        log_warn("relay_connector_cancelling", LF_U("requests", cn->njobs), LF_S("reason", reason));
    cancel_jobs(cn); /* their answers have nobody to go to */
}

static const relay_link_cbs_t link_cbs = { .on_message = on_link_message, .on_down = on_link_down };

/* ---- local events ---------------------------------------------------------------------- */

static void h_event(http_req_t *r, void *ud)
{
    connector_t *cn = ud;
    const char *name = http_req_param(r, "name");
    if (!relay_link_up(cn->link)) {
        http_respond_error(r, 503, "no relay partner connected");
        return;
    }
    size_t len;
    const char *body = http_req_body(r, &len);
    buf_t msg = BUF_INIT(cn->o.end.max_message);
    char err[RELAY_ERR_LEN] = "";
    int rc = relay_event_build(&msg, relay_link_next_id(cn->link), name ? name : "", http_req_header(r, "Content-Type"),
                               body, len, err, sizeof err);
    if (rc == -ENOBUFS)
        http_respond_error(r, 413, "event too large for the relay");
    else if (rc)
        http_respond_error(r, 400, err[0] ? err : "cannot encode the event");
    else if ((rc = relay_link_send(cn->link, msg.data, msg.len)) != 0)
        http_respond_error(r, 503, "relay link cannot take the event now");
    else {
        cn->events_sent++;
        log_info("relay_connector_event", LF_S("name", name), LF_U("bytes", msg.len));
        http_respond(r, 202, "application/json", "{\"sent\":true}\n", 14);
    }
    buf_free(&msg);
}

/* ---- one-shot: POST the event to the running connector ----------------------------------- */

typedef struct oneshot {
    int status;
    int err;
    char body[512];
} oneshot_t;

static void oneshot_done(int err, const http_response_t *resp, void *ud)
{
    oneshot_t *os = ud;
    os->err = err;
    if (resp) {
        os->status = resp->status;
        str_copyn(os->body, sizeof os->body, resp->body ? resp->body : "", resp->body_len);
    }
}

static int send_event_oneshot(const conn_opts_t *o)
{
    uv_loop_t *loop = uv_default_loop();
    http_client_t *hc = http_client_new(loop, NULL);
    buf_t url = BUF_INIT(8192), enc = BUF_INIT(4096), hdr = BUF_INIT(1024);
    const char *base = o->events_url;
    size_t bl = strlen(base);
    while (bl && base[bl - 1] == '/')
        bl--;
    int rc = hc ? 0 : -ENOMEM;
    if (!rc)
        rc = str_pct_encode(&enc, o->event, strlen(o->event), "-._~:");
    if (!rc)
        rc = buf_printf(&url, "%.*s/events/%s", (int)bl, base, enc.data ? enc.data : "");
    if (!rc && o->data_format)
        rc = buf_printf(&hdr, "Content-Type: %s\r\n", o->data_format);
    oneshot_t os = { 0 };
    const char *data = o->data ? o->data : "";
    http_request_spec_t spec = { .method = "POST", .url = url.data, .headers = hdr.data, .body = data,
                                 .body_len = strlen(data), .no_reuse = true };
    int err = 0;
    if (!rc && !http_client_request(hc, &spec, oneshot_done, &os, &err))
        rc = err ? err : -EINVAL;
    if (!rc)
        uv_run(loop, UV_RUN_DEFAULT);
    http_client_free(hc);
    uv_run(loop, UV_RUN_DEFAULT);
    uv_loop_close(loop);
    buf_free(&url);
    buf_free(&enc);
    buf_free(&hdr);
    if (rc || os.err) {
        char shown[NET_URL_SHOWN];
        net_url_redacted(o->events_url, shown, sizeof shown);
        fprintf(stderr, "outpost relay-connector: cannot reach %s: %s\n", shown,
                log_strerror(rc ? rc : os.err));
        return 1;
    }
    if (os.status != 202) {
        fprintf(stderr, "outpost relay-connector: event not sent: HTTP %d %s", os.status, os.body);
        return 1;
    }
    printf("sent EVENT:%s\n", o->event);
    return 0;
}

/* ---- lifecycle --------------------------------------------------------------------------- */

/* SIGHUP: re-read the certificate files; the next connection uses them. */
static void on_reload(void *ud)
{
    connector_t *cn = ud;
    if (cn->tls && tls_ctx_reload(cn->tls) == 0)
        log_info("relay_tls_reloaded");
}

static void on_stop(void *ud)
{
    connector_t *cn = ud;
    cancel_jobs(cn);
    relay_link_stop(cn->link);
    if (cn->events)
        http_server_close(cn->events, NULL, NULL);
    http_client_free(cn->hc);
    http_admin_close(cn->admin);
    cn->admin = NULL;
}

static int connector_metrics(buf_t *out, void *ud)
{
    connector_t *cn = ud;
    int rc = metrics_one(out, "outpost_relay_connector_requests_total", "counter",
                         "REST:REQUESTs run against the target.", (double)cn->requests);
    if (!rc)
        rc = metrics_one(out, "outpost_relay_connector_in_flight", "gauge",
                         "Requests running against the target.", (double)cn->njobs);
    if (!rc)
        rc = metrics_one(out, "outpost_relay_connector_events_total", "counter",
                         "EVENT messages sent to the partner.", (double)cn->events_sent);
    return rc;
}

static int start(connector_t *cn, runtime_t *rt)
{
    str_copy(cn->base, sizeof cn->base, cn->o.target);
    size_t n = strlen(cn->base);
    while (n && cn->base[n - 1] == '/')
        cn->base[--n] = '\0'; /* the request path brings its own '/' */
    net_url_redacted(cn->base, cn->base_shown, sizeof cn->base_shown);
    int rc = relay_end_tls(&cn->o.common, &cn->o.end, "relay-connector", &cn->tls);
    if (rc)
        return rc;
    cn->hc = http_client_new(cn->loop, &(http_client_opts_t){ .request_timeout_ms = cn->o.request_timeout_ms,
                                                               .max_response_bytes = cn->o.end.max_message,
                                                               .max_idle_per_host = 16,
                                                               .user_agent = "outpost-relay-connector" });
    if (!cn->hc)
        return -ENOMEM;
    if (cn->o.events_listen && *cn->o.events_listen) {
        /* A local event source, trusted as a forward's local port is:
         * whoever can reach this loopback listener may send events. */
        cn->router = http_router_new(&(http_router_opts_t){ .name = "relay-connector-events" });
        if (!cn->router ||
            http_router_add(cn->router, "POST", "/events/{name}", HTTP_ACCESS_PUBLIC, h_event, cn))
            return -ENOMEM;
        http_server_opts_t so = { .handler = http_router_dispatch, .ud = cn->router,
                                  .max_body_bytes = cn->o.end.max_message };
        cn->events = http_server_new(cn->loop, &so);
        rc = cn->events ? http_server_listen(cn->events, &(net_listen_opts_t){ .addr = cn->o.events_listen })
                        : -ENOMEM;
        if (rc) {
            log_error("relay_connector_listen_failed", LF_S("listen", cn->o.events_listen), LF_ERR(rc));
            return rc;
        }
    }
    cn->link = relay_end_link(cn->loop, &cn->o.end, cn->tls, "relay-connector", &link_cbs, cn);
    if (!cn->link)
        return -EINVAL;
    cn->adm = (relay_end_admin_t){ .daemon = "relay-connector", .common = &cn->o.common,
                                   .link = &cn->link, .extra = connector_metrics, .ud = cn };
    if ((rc = relay_end_admin_start(cn->loop, &cn->adm, &cn->admin)) != 0)
        return rc;
    return runtime_init(rt, cn->loop, on_stop, on_reload, cn, 0);
}

int relay_connector_main(int argc, char **argv)
{
    connector_t cn = { 0 };
    cfg_result_t res;
    int rc = cfg_load(&conn_cmd, &cn.o, argc, argv, &res);
    if (rc)
        return rc > 0 ? 0 : 2;
    if (cn.o.event) {
        rc = send_event_oneshot(&cn.o);
        cfg_free(&conn_cmd, &cn.o);
        return rc;
    }
    cn.loop = uv_default_loop();
    runtime_t rt;
    rc = start(&cn, &rt);
    if (rc == 0) {
        char relay[NET_URL_SHOWN];
        net_url_redacted(cn.o.end.relay_url, relay, sizeof relay);
        runtime_ready("relay-connector", LF_S("listen", cn.events ? http_server_addr(cn.events) : ""),
                      LF_S("admin", cn.admin ? http_admin_addr(cn.admin) : "off"),
                      LF_S("relay", relay), LF_S("target", cn.base_shown));
        runtime_run(&rt);
    } else {
        if (cn.events)
            http_server_close(cn.events, NULL, NULL);
        http_admin_close(cn.admin);
        relay_link_stop(cn.link);
        http_client_free(cn.hc);
        uv_run(cn.loop, UV_RUN_DEFAULT);
    }
    http_router_free(cn.router);
    tls_ctx_free(cn.tls);
    cfg_free(&conn_cmd, &cn.o);
    uv_loop_close(cn.loop);
    return rc ? 1 : 0;
}
