#include "net/http_client.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/str.h"
#include "net/addr.h"
#include "net/conn.h"

/*
 * Each hc_conn carries at most one call at a time. Idle connections wait
 * in the pool keyed by scheme://host:port; a call takes one or opens a new
 * one. A reused connection that dies before any response byte arrives
 * (the server closed it while idle) is retried once on a fresh connection
 * for idempotent methods.
 */

typedef struct hc_conn hc_conn_t;

struct http_call {
    http_client_t *cl;
    hc_conn_t *hc;
    http_client_cb cb;
    void *ud;
    net_url_t url;
    char key[NET_HOST_MAX + 32];
    buf_t req;        /* serialized request */
    buf_t body;       /* response body */
    int64_t timeout_ms;
    bool head, no_reuse, idempotent, retried, got_bytes;
    bool secret;      /* req carries an Authorization header: wiped when freed */
};

struct hc_conn {
    http_client_t *cl;
    net_conn_t *conn;
    http_parser_t *parser;
    http_call_t *call;
    char key[NET_HOST_MAX + 32];
    bool open, idle, reused, done;
    hc_conn_t *prev, *next; /* the client's connection list */
};

struct http_client {
    uv_loop_t *loop;
    http_client_opts_t o;
    hc_conn_t *conns;
    size_t nconns;
    bool freeing;
};

static int call_start(http_call_t *call, bool allow_idle);

/* ---- pool ------------------------------------------------------------------ */

static size_t idle_count(http_client_t *cl, const char *key)
{
    size_t n = 0;
    for (hc_conn_t *h = cl->conns; h; h = h->next)
        if (h->idle && strcmp(h->key, key) == 0)
            n++;
    return n;
}

static void call_free(http_call_t *call)
{
    net_url_clear(&call->url);
    if (call->secret)
        buf_free_secret(&call->req);
    else
        buf_free(&call->req);
    buf_free(&call->body);
    free(call);
}

/* End a call: callback (unless cancelled), then free. */
static void call_finish(http_call_t *call, int err, const http_response_t *resp)
{
    if (call->hc) {
        call->hc->call = NULL;
        call->hc = NULL;
    }
    if (call->cb)
        call->cb(err, resp, call->ud);
    call_free(call);
}

static void hc_on_idle_timer(net_conn_t *c)
{
    net_conn_close(c);
}

static void hc_on_call_timer(net_conn_t *c)
{
    hc_conn_t *h = net_conn_data(c);
    if (h->call) {
        log_info("http_client_timeout", LF_S("peer", net_conn_peer(c)),
                 LF_S("path", h->call->url.path));
        http_call_t *call = h->call;
        h->done = true;
        net_conn_close(c);
        call_finish(call, -ETIMEDOUT, NULL);
    }
}

/* ---- parser callbacks ---------------------------------------------------------- */

static int hc_headers(http_parser_t *p, http_msg_t *m)
{
    hc_conn_t *h = http_parser_data(p);
    if (h->call && m->content_length > (int64_t)h->cl->o.max_response_bytes)
        return -1;
    return 0;
}

static int hc_body(http_parser_t *p, const char *data, size_t len)
{
    hc_conn_t *h = http_parser_data(p);
    if (!h->call)
        return -1;
    return buf_append(&h->call->body, data, len) ? -1 : 0;
}

static int hc_complete(http_parser_t *p, http_msg_t *m)
{
    hc_conn_t *h = http_parser_data(p);
    if (m->status >= 100 && m->status < 200)
        return 0; /* interim response: the real one follows */
    h->done = true;
    return 1; /* pause: the response is handed over outside the parser */
}

static const http_parser_cbs_t hc_parser_cbs = {
    .on_headers = hc_headers,
    .on_body = hc_body,
    .on_complete = hc_complete,
};

static void hc_deliver(hc_conn_t *h)
{
    http_call_t *call = h->call;
    http_client_t *cl = h->cl;
    http_response_t resp = { 0 };
    resp.msg = http_parser_msg(h->parser);
    resp.status = resp.msg->status;
    resp.body = call->body.data ? call->body.data : "";
    resp.body_len = call->body.len;
    bool reuse = resp.msg->keep_alive && !call->no_reuse && !cl->freeing;
    net_conn_timer(h->conn, -1, NULL);
    call_finish(call, 0, &resp);
    if (!reuse || net_conn_closing(h->conn) ||
        idle_count(cl, h->key) >= cl->o.max_idle_per_host) {
        net_conn_close(h->conn);
        return;
    }
    http_parser_resume(h->parser);
    h->done = false;
    h->idle = true;
    net_conn_timer(h->conn, cl->o.idle_timeout_ms, hc_on_idle_timer);
}

/* ---- connection callbacks ------------------------------------------------------- */

static void hc_on_read(net_conn_t *c, const char *data, size_t len)
{
    hc_conn_t *h = net_conn_data(c);
    if (!h->call) {
        /* bytes on an idle connection: the server is confused; drop it */
        net_conn_close(c);
        return;
    }
    h->call->got_bytes = true;
    size_t used = 0;
    int rc = http_parser_feed(h->parser, data, len, &used);
    if (rc < 0) {
        log_info("http_client_bad_response", LF_S("peer", net_conn_peer(c)),
                 LF_S("reason", http_parser_reason(h->parser)));
        http_call_t *call = h->call;
        h->done = true;
        net_conn_close(c);
        call_finish(call, rc == HTTP_PARSE_ERR_CALLBACK ? -ENOBUFS : -EPROTO, NULL);
        return;
    }
    if (h->done) {
        if (used < len)
            h->call->no_reuse = true; /* unexpected extra bytes */
        hc_deliver(h);
    }
}

static void hc_on_eof(net_conn_t *c)
{
    hc_conn_t *h = net_conn_data(c);
    if (h->call && h->call->got_bytes && http_parser_finish(h->parser) == HTTP_PARSE_OK && h->done) {
        h->call->no_reuse = true;
        hc_deliver(h);
        return;
    }
    net_conn_close(c);
}

/* The request, its credentials wiped from the connection's queue too. */
static int call_send(net_conn_t *c, const http_call_t *call)
{
    if (call->secret)
        net_conn_secret(c);
    return net_conn_write(c, call->req.data, call->req.len);
}

static void hc_on_open(net_conn_t *c)
{
    hc_conn_t *h = net_conn_data(c);
    h->open = true;
    if (h->call && call_send(c, h->call) != 0)
        net_conn_close(c);
}

static void client_maybe_free(http_client_t *cl);

static void hc_on_close(net_conn_t *c, int err)
{
    hc_conn_t *h = net_conn_data(c);
    http_client_t *cl = h->cl;
    http_call_t *call = h->call;
    if (h->prev)
        h->prev->next = h->next;
    else
        cl->conns = h->next;
    if (h->next)
        h->next->prev = h->prev;
    cl->nconns--;
    bool reused = h->reused;
    http_parser_free(h->parser);
    free(h);
    if (call) {
        call->hc = NULL;
        if (!cl->freeing && reused && !call->got_bytes && call->idempotent && !call->retried) {
            call->retried = true;
            int rc = call_start(call, false);
            if (rc)
                call_finish(call, rc, NULL);
        } else {
            call_finish(call, err ? err : (call->got_bytes ? -EPROTO : -ECONNRESET), NULL);
        }
    }
    client_maybe_free(cl);
}

static const net_conn_cbs_t hc_cbs = {
    .on_open = hc_on_open,
    .on_read = hc_on_read,
    .on_eof = hc_on_eof,
    .on_close = hc_on_close,
};

/* ---- calls ------------------------------------------------------------------------ */

/* Put the call on an idle pooled connection or a new one. A failure here is
 * returned, not reported through the callback: http_client_request must not
 * call back (and free the call) before its caller holds the handle. */
static int call_start(http_call_t *call, bool allow_idle)
{
    http_client_t *cl = call->cl;
    buf_reset(&call->body);
    call->got_bytes = false;
    if (allow_idle) {
        for (hc_conn_t *h = cl->conns; h; h = h->next) {
            if (!h->idle || strcmp(h->key, call->key) != 0 || net_conn_closing(h->conn))
                continue;
            h->idle = false;
            h->reused = true;
            h->call = call;
            call->hc = h;
            if (call->head)
                http_parser_expect_no_body(h->parser);
            net_conn_timer(h->conn, call->timeout_ms, hc_on_call_timer);
            if (call_send(h->conn, call) != 0)
                net_conn_close(h->conn); /* the close reports it */
            return 0;
        }
    }
    hc_conn_t *h = calloc(1, sizeof *h);
    http_parser_opts_t po = { .response = true };
    if (h)
        h->parser = http_parser_new(&po, &hc_parser_cbs, h);
    if (!h || !h->parser) {
        free(h);
        return -ENOMEM;
    }
    h->cl = cl;
    str_copy(h->key, sizeof h->key, call->key);
    h->call = call;
    call->hc = h;
    if (call->head)
        http_parser_expect_no_body(h->parser);
    net_connect_opts_t co = { .host = call->url.host, .port = call->url.port,
                              .tls = call->url.tls ? cl->o.tls : NULL,
                              .timeout_ms = cl->o.connect_timeout_ms };
    int rc = net_connect(cl->loop, &co, &hc_cbs, h, &h->conn);
    if (rc) {
        http_parser_free(h->parser);
        free(h);
        call->hc = NULL;
        return rc;
    }
    h->next = cl->conns;
    if (cl->conns)
        cl->conns->prev = h;
    cl->conns = h;
    cl->nconns++;
    net_conn_timer(h->conn, call->timeout_ms, hc_on_call_timer);
    return 0;
}

/* Extra header lines must be whole "Name: value\r\n" lines: no bare CR or
 * LF and no empty line that would end the head early (request splitting). */
static bool header_lines_ok(const char *h)
{
    size_t n = strlen(h);
    if (n && (n < 2 || h[n - 2] != '\r' || h[n - 1] != '\n'))
        return false;
    for (size_t i = 0; i < n; i++) {
        if (h[i] == '\r' && h[i + 1] != '\n')
            return false;
        if (h[i] == '\n' && (i == 0 || h[i - 1] != '\r'))
            return false;
        if (h[i] == '\n' && i + 1 < n && h[i + 1] == '\r')
            return false; /* empty line */
        if (h[i] == '\n' && i + 1 < n && (h[i + 1] == ' ' || h[i + 1] == '\t'))
            return false; /* folding */
    }
    return true;
}

http_call_t *http_client_request(http_client_t *cl, const http_request_spec_t *spec,
                                 http_client_cb cb, void *ud, int *err)
{
    int dummy;
    if (!err)
        err = &dummy;
    *err = 0;
    if (cl->freeing) {
        *err = -ESHUTDOWN;
        return NULL;
    }
    http_call_t *call = calloc(1, sizeof *call);
    if (!call) {
        *err = -ENOMEM;
        return NULL;
    }
    call->cl = cl;
    call->cb = cb;
    call->ud = ud;
    buf_init(&call->req, 16 * 1024 * 1024);
    buf_init(&call->body, cl->o.max_response_bytes);
    if (net_url_parse(spec->url, &call->url) != 0 ||
        (strcmp(call->url.scheme, "http") && strcmp(call->url.scheme, "https"))) {
        *err = -EINVAL;
        call_free(call);
        return NULL;
    }
    if (call->url.tls && !cl->o.tls) {
        *err = -EPROTONOSUPPORT;
        call_free(call);
        return NULL;
    }
    const char *method = spec->method ? spec->method : "GET";
    for (const char *m = method; *m; m++)
        if (*m < 'A' || *m > 'Z') {
            *err = -EINVAL;
            call_free(call);
            return NULL;
        }
    if (spec->headers && !header_lines_ok(spec->headers)) {
        *err = -EINVAL;
        call_free(call);
        return NULL;
    }
    call->head = strcmp(method, "HEAD") == 0;
    call->idempotent = strcmp(method, "GET") == 0 || call->head || strcmp(method, "PUT") == 0 ||
                       strcmp(method, "DELETE") == 0 || strcmp(method, "OPTIONS") == 0;
    call->no_reuse = spec->no_reuse;
    call->timeout_ms = spec->timeout_ms > 0 ? spec->timeout_ms : cl->o.request_timeout_ms;
    snprintf(call->key, sizeof call->key, "%s://%s:%u", call->url.scheme, call->url.host,
             call->url.port);
    char hostport[NET_HOST_MAX + 8];
    net_url_hostport(&call->url, hostport, sizeof hostport);
    /* a User-Agent among the caller's headers (a proxied request's) wins */
    bool own_ua = !spec->headers || !strcasestr(spec->headers, "User-Agent:");
    /* credentials among the headers (Basic is the password in base64): the
     * request is sized once, so no realloc leaves a copy, and wiped at the end */
    call->secret = spec->headers && strcasestr(spec->headers, "Authorization:");
    int rc = call->secret ? buf_reserve(&call->req, strlen(method) + strlen(call->url.path) +
                                                        strlen(hostport) + strlen(cl->o.user_agent) +
                                                        strlen(spec->headers) + spec->body_len + 128)
                          : 0;
    rc = rc ? rc : buf_printf(&call->req, "%s %s HTTP/1.1\r\nHost: %s\r\n", method, call->url.path, hostport);
    if (!rc && own_ua)
        rc = buf_printf(&call->req, "User-Agent: %s\r\n", cl->o.user_agent);
    if (!rc && spec->headers)
        rc = buf_append_str(&call->req, spec->headers);
    if (!rc && (spec->body_len || strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0))
        rc = buf_printf(&call->req, "Content-Length: %zu\r\n", spec->body_len);
    if (!rc && spec->no_reuse)
        rc = buf_append_str(&call->req, "Connection: close\r\n");
    if (!rc)
        rc = buf_append(&call->req, "\r\n", 2);
    if (!rc && spec->body_len)
        rc = buf_append(&call->req, spec->body, spec->body_len);
    if (!rc)
        rc = call_start(call, !spec->no_reuse);
    if (rc) {
        *err = rc;
        call_free(call);
        return NULL;
    }
    return call;
}

void http_call_cancel(http_call_t *call)
{
    hc_conn_t *h = call->hc;
    if (h) {
        h->call = NULL; /* its response, if any, is not wanted */
        h->done = true;
        net_conn_close(h->conn);
    }
    call_free(call);
}

http_client_t *http_client_new(uv_loop_t *loop, const http_client_opts_t *opts)
{
    http_client_t *cl = calloc(1, sizeof *cl);
    if (!cl)
        return NULL;
    cl->loop = loop;
    if (opts)
        cl->o = *opts;
    if (!cl->o.connect_timeout_ms)
        cl->o.connect_timeout_ms = 5000;
    if (!cl->o.request_timeout_ms)
        cl->o.request_timeout_ms = 30000;
    if (!cl->o.max_response_bytes)
        cl->o.max_response_bytes = 16 * 1024 * 1024;
    if (!cl->o.max_idle_per_host)
        cl->o.max_idle_per_host = 8;
    if (!cl->o.idle_timeout_ms)
        cl->o.idle_timeout_ms = 30000;
    if (!cl->o.user_agent)
        cl->o.user_agent = "outpost";
    return cl;
}

static void client_maybe_free(http_client_t *cl)
{
    if (cl->freeing && cl->nconns == 0)
        free(cl);
}

void http_client_free(http_client_t *cl)
{
    if (!cl)
        return;
    cl->freeing = true;
    for (hc_conn_t *h = cl->conns; h; h = h->next) {
        if (h->call) {
            h->call->hc = NULL;
            call_free(h->call);
            h->call = NULL;
        }
        net_conn_close(h->conn);
    }
    client_maybe_free(cl);
}
