#include "net/http_server.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/log.h"
#include "core/str.h"

/*
 * One http_sconn_t per client connection. Parsing runs until a request's
 * headers are in (on_head), then until its body is in (handler). The parser
 * is paused while the handler works; bytes that arrive meanwhile (pipelined
 * requests) wait in `inbuf` with the connection's reads paused, so a client
 * can never make us hold more than one read chunk.
 */

enum { MAX_PARAMS = 8, INBUF_MAX = 256 * 1024, SMALL_DISCARD = 64 * 1024 };
/* After an error answered before the request was read, keep reading (and
 * dropping) for a while so the client sees the answer instead of a reset. */
enum { LINGER_MS = 2000, LINGER_MAX = 4 * 1024 * 1024 };
enum { NO_LENGTH = -2 }; /* write_head: a response that has no body at all */

typedef enum phase { PH_IDLE, PH_HEAD, PH_BODY, PH_HANDLING } phase_t;
typedef enum event { EV_NONE, EV_HEADERS, EV_BODY_PAUSED, EV_COMPLETE } event_t;

typedef struct http_sconn http_sconn_t;

struct http_server {
    uv_loop_t *loop;
    http_server_opts_t o;
    net_listener_t *listeners[4];
    size_t nlisteners;
    http_sconn_t *conns; /* doubly linked */
    size_t nconns;
    uint64_t nrequests;
    bool closing;
    void (*done)(void *ud);
    void *done_ud;
};

struct http_sconn {
    http_server_t *srv;
    net_conn_t *conn;
    http_parser_t *parser;
    http_req_t *req;      /* the request being read or handled */
    buf_t inbuf;          /* unparsed bytes while the parser waits */
    const char *cur;      /* unparsed rest of the chunk being fed (for take_conn) */
    size_t cur_len;
    http_sconn_t *prev, *next;
    phase_t phase;
    event_t event;
    int feeding;          /* depth of sc_feed on the stack */
    size_t lingered;      /* bytes discarded while lingering */
    bool close_after, body_paused, taken, gone, lingering;
};

typedef struct param {
    char name[32];
    char *value;
} param_t;

struct http_req {
    http_server_t *srv;
    http_sconn_t *sc;          /* NULL once the connection is gone */
    http_parser_t *own_parser; /* kept alive for msg when the connection died first */
    const http_msg_t *msg;
    buf_t body;
    char *path;                /* target up to '?' */
    const char *query;
    param_t params[MAX_PARAMS];
    size_t nparams;
    void *data;
    void (*on_abort)(http_req_t *r, void *ud);
    void *abort_ud;
    http_body_fn on_body;
    http_body_end_fn on_body_end;
    void *body_ud;
    void (*on_drain)(http_req_t *r, void *ud);
    void *drain_ud;
    int64_t resp_left;         /* Content-Length bytes still to write, -1 = chunked/close */
    bool head, complete, ended, started, chunked, aborted, streaming, discard, body_ended;
};

static void sc_feed(http_sconn_t *sc, const char *data, size_t len);
static void sc_next(http_sconn_t *sc);
static void req_release(http_req_t *r);
static void sc_error(http_sconn_t *sc, int status, const char *reason);
static void sc_linger(http_sconn_t *sc);

/* ---- small helpers --------------------------------------------------------- */

static const char *http_date(void)
{
    static _Thread_local char cached[40];
    static _Thread_local time_t cached_at = -1;
    time_t now = time(NULL);
    if (now != cached_at) {
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(cached, sizeof cached, "%a, %d %b %Y %H:%M:%S GMT", &tm);
        cached_at = now;
    }
    return cached;
}

static void set_timer_for_phase(http_sconn_t *sc);

static void on_sc_timer(net_conn_t *c)
{
    http_sconn_t *sc = net_conn_data(c);
    switch (sc->phase) {
    case PH_IDLE:
        log_debug("http_idle_close", LF_S("peer", net_conn_peer(c)));
        net_conn_close(c);
        break;
    case PH_HEAD:
        log_info("http_timeout", LF_S("peer", net_conn_peer(c)), LF_S("phase", "headers"));
        sc_error(sc, 408, "request headers not received in time");
        break;
    case PH_BODY:
        log_info("http_timeout", LF_S("peer", net_conn_peer(c)), LF_S("phase", "body"));
        if (sc->req && sc->req->streaming && !sc->req->body_ended) {
            sc->req->body_ended = true;
            sc->req->on_body_end(sc->req, -ETIMEDOUT, sc->req->body_ud);
        }
        sc_error(sc, 408, "request body not received in time");
        break;
    case PH_HANDLING:
        break;
    }
}

static void set_timer_for_phase(http_sconn_t *sc)
{
    const http_server_opts_t *o = &sc->srv->o;
    int64_t ms = -1;
    if (sc->lingering)
        return; /* the linger deadline stands */
    if (sc->phase == PH_IDLE)
        ms = o->idle_timeout_ms;
    else if (sc->phase == PH_HEAD)
        ms = o->header_timeout_ms;
    else if (sc->phase == PH_BODY && !sc->body_paused)
        ms = o->body_timeout_ms;
    net_conn_timer(sc->conn, ms, on_sc_timer);
}

/* ---- responses -------------------------------------------------------------- */

static bool keep_alive(const http_req_t *r)
{
    const http_sconn_t *sc = r->sc;
    return sc && !sc->close_after && !sc->srv->closing && r->msg->keep_alive;
}

/* Write the status line and headers, and the body when given, in one
 * writev: one syscall per small response. */
static int write_head(http_req_t *r, int status, const char *extra, const char *ctype,
                      int64_t clen, const void *body, size_t body_len)
{
    http_sconn_t *sc = r->sc;
    char head[1024];
    bool ka = keep_alive(r);
    bool http10 = r->msg->http_major == 1 && r->msg->http_minor == 0;
    int n = snprintf(head, sizeof head, "HTTP/1.1 %d %s\r\nServer: %s\r\nDate: %s\r\n", status,
                     http_status_reason(status), sc->srv->o.server_name, http_date());
    if (ctype)
        n += snprintf(head + n, sizeof head - (size_t)n, "Content-Type: %s\r\n", ctype);
    if (clen == NO_LENGTH) {
        /* 1xx, 204, 304: no body and no length */
    } else if (clen >= 0) {
        n += snprintf(head + n, sizeof head - (size_t)n, "Content-Length: %lld\r\n", (long long)clen);
    } else if (!http10) {
        n += snprintf(head + n, sizeof head - (size_t)n, "Transfer-Encoding: chunked\r\n");
        r->chunked = true;
    } else {
        ka = false; /* HTTP/1.0 without a length: the close ends the body */
    }
    {
        if (!ka)
            n += snprintf(head + n, sizeof head - (size_t)n, "Connection: close\r\n");
        else if (http10)
            n += snprintf(head + n, sizeof head - (size_t)n, "Connection: keep-alive\r\n");
    }
    if (!ka)
        sc->close_after = true;
    if ((size_t)n >= sizeof head)
        return -ENOBUFS;
    uv_buf_t b[4] = { uv_buf_init(head, (unsigned)n),
                      uv_buf_init((char *)(extra ? extra : ""), extra ? (unsigned)strlen(extra) : 0),
                      uv_buf_init("\r\n", 2), uv_buf_init((char *)body, (unsigned)body_len) };
    r->started = true;
    r->resp_left = clen == NO_LENGTH ? 0 : clen;
    return net_conn_writev(sc->conn, b, body_len ? 4 : 3);
}

static void req_finish(http_req_t *r)
{
    if (r->ended)
        return;
    r->ended = true;
    http_sconn_t *sc = r->sc;
    if (!sc) {
        req_release(r);
        return;
    }
    sc->srv->nrequests++;
    if (r->msg->upgrade)
        sc->close_after = true; /* not upgraded: the client expects no more HTTP here */
    if (!r->complete) {
        /* Answered before the body was read: drop a small rest, else close. */
        int64_t cl = r->msg->content_length;
        if (r->msg->chunked || cl > SMALL_DISCARD || r->streaming)
            sc->close_after = true;
        r->discard = true;
        if (sc->close_after) {
            sc_linger(sc);
            return;
        }
        return; /* sc_next runs once the body has been read */
    }
    sc->req = NULL;
    req_release(r);
    sc_next(sc);
}

void http_respond_hdrs(http_req_t *r, int status, const char *extra, const char *ctype,
                       const void *body, size_t len)
{
    if (r->ended || r->started) {
        if (!r->ended)
            http_resp_end(r);
        return;
    }
    if (!r->sc) {
        req_finish(r);
        return;
    }
    bool no_body_status = status < 200 || status == 204 || status == 304;
    /* HEAD: the length a GET would have, but no body */
    bool send_body = !r->head && !no_body_status && len;
    int rc = write_head(r, status, extra, ctype, no_body_status ? NO_LENGTH : (int64_t)len,
                        send_body ? body : NULL, send_body ? len : 0);
    if (rc)
        r->sc->close_after = true;
    req_finish(r);
}

void http_respond(http_req_t *r, int status, const char *ctype, const void *body, size_t len)
{
    http_respond_hdrs(r, status, NULL, ctype, body, len);
}

void http_respond_error(http_req_t *r, int status, const char *reason)
{
    char body[256];
    int n = snprintf(body, sizeof body, "%s\n", reason ? reason : http_status_reason(status));
    if (n < 0 || (size_t)n >= sizeof body)
        n = (int)sizeof body - 1;
    http_respond(r, status, "text/plain; charset=utf-8", body, (size_t)n);
}

int http_resp_begin(http_req_t *r, int status, const char *extra, const char *ctype,
                    int64_t content_length)
{
    if (r->ended || r->started)
        return -EINVAL;
    if (!r->sc)
        return -EPIPE;
    return write_head(r, status, extra, ctype, content_length, NULL, 0);
}

int http_resp_write(http_req_t *r, const void *data, size_t len)
{
    if (!r->started || r->ended)
        return -EINVAL;
    if (!r->sc)
        return -EPIPE;
    if (r->head || len == 0)
        return 0;
    if (r->resp_left >= 0) {
        if ((int64_t)len > r->resp_left)
            return -EINVAL;
        r->resp_left -= (int64_t)len;
        return net_conn_write(r->sc->conn, data, len);
    }
    if (!r->chunked)
        return net_conn_write(r->sc->conn, data, len);
    char size[24];
    int n = snprintf(size, sizeof size, "%zx\r\n", len);
    uv_buf_t b[3] = { uv_buf_init(size, (unsigned)n), uv_buf_init((char *)data, (unsigned)len),
                      uv_buf_init("\r\n", 2) };
    return net_conn_writev(r->sc->conn, b, 3);
}

bool http_resp_congested(const http_req_t *r)
{
    return r->sc && net_conn_congested(r->sc->conn);
}

void http_resp_on_drain(http_req_t *r, void (*cb)(http_req_t *r, void *ud), void *ud)
{
    r->on_drain = cb;
    r->drain_ud = ud;
}

void http_resp_end(http_req_t *r)
{
    if (r->ended)
        return;
    if (!r->started) {
        http_respond(r, 204, NULL, NULL, 0);
        return;
    }
    if (r->sc) {
        if (r->chunked && !r->head)
            net_conn_write(r->sc->conn, "0\r\n\r\n", 5);
        else if (r->resp_left > 0 && !r->head)
            r->sc->close_after = true; /* short body: the client must not reuse this */
    }
    req_finish(r);
}

void http_resp_close_after(http_req_t *r)
{
    if (r->sc)
        r->sc->close_after = true;
}

/* ---- requests --------------------------------------------------------------- */

static void req_release(http_req_t *r)
{
    for (size_t i = 0; i < r->nparams; i++)
        free(r->params[i].value);
    buf_free(&r->body);
    free(r->path);
    http_parser_free(r->own_parser);
    free(r);
}

const char *http_req_method(const http_req_t *r) { return r->msg->method; }
const char *http_req_target(const http_req_t *r) { return r->msg->target; }
const char *http_req_path(const http_req_t *r) { return r->path; }
const char *http_req_query(const http_req_t *r) { return r->query; }
const char *http_req_header(const http_req_t *r, const char *name) { return http_msg_header(r->msg, name); }
const http_msg_t *http_req_msg(const http_req_t *r) { return r->msg; }
void *http_req_data(const http_req_t *r) { return r->data; }
void http_req_set_data(http_req_t *r, void *data) { r->data = data; }
bool http_req_aborted(const http_req_t *r) { return r->aborted; }
net_conn_t *http_req_conn(const http_req_t *r) { return r->sc ? r->sc->conn : NULL; }
const char *http_req_peer(const http_req_t *r) { return r->sc ? net_conn_peer(r->sc->conn) : "?"; }
const char *http_req_peer_host(const http_req_t *r) { return r->sc ? net_conn_peer_host(r->sc->conn) : "?"; }
bool http_req_is_tls(const http_req_t *r) { return r->sc && net_conn_is_tls(r->sc->conn); }
const tls_peer_t *http_req_tls_peer(const http_req_t *r) { return r->sc ? net_conn_tls_peer(r->sc->conn) : NULL; }

const char *http_req_body(const http_req_t *r, size_t *len)
{
    if (len)
        *len = r->body.len;
    return r->body.data ? r->body.data : "";
}

void http_req_on_abort(http_req_t *r, void (*cb)(http_req_t *r, void *ud), void *ud)
{
    r->on_abort = cb;
    r->abort_ud = ud;
}

int http_req_query_param(const http_req_t *r, const char *name, buf_t *out)
{
    size_t nl = strlen(name);
    const char *q = r->query;
    while (*q) {
        const char *amp = strchr(q, '&');
        size_t seg = amp ? (size_t)(amp - q) : strlen(q);
        const char *eq = memchr(q, '=', seg);
        size_t kl = eq ? (size_t)(eq - q) : seg;
        if (kl == nl && memcmp(q, name, nl) == 0) {
            const char *v = eq ? eq + 1 : q + seg;
            size_t vl = eq ? seg - kl - 1 : 0;
            return str_pct_decode(out, v, vl, true) ? -EINVAL : 0;
        }
        q += seg + (amp ? 1 : 0);
    }
    return -ENOENT;
}

const char *http_req_param(const http_req_t *r, const char *name)
{
    for (size_t i = 0; i < r->nparams; i++)
        if (strcmp(r->params[i].name, name) == 0)
            return r->params[i].value;
    return NULL;
}

int http_req_set_param(http_req_t *r, const char *name, const char *value, size_t len)
{
    if (r->nparams >= MAX_PARAMS)
        return -ENOBUFS;
    param_t *p = &r->params[r->nparams];
    if (str_copy(p->name, sizeof p->name, name))
        return -ENAMETOOLONG;
    buf_t b = BUF_INIT(NET_URL_PATH_MAX);
    if (str_pct_decode(&b, value, len, false) || memchr(b.data ? b.data : "", '\0', b.len)) {
        buf_free(&b);
        return -EINVAL;
    }
    p->value = b.data ? buf_steal(&b, NULL) : strdup("");
    if (!p->value)
        return -ENOMEM;
    r->nparams++;
    return 0;
}

void http_req_stream_body(http_req_t *r, http_body_fn on_body, http_body_end_fn on_end, void *ud)
{
    r->streaming = true;
    r->on_body = on_body;
    r->on_body_end = on_end;
    r->body_ud = ud;
}

static void on_continue_timer(net_conn_t *c);

void http_req_resume_body(http_req_t *r)
{
    http_sconn_t *sc = r->sc;
    if (!sc || !sc->body_paused)
        return;
    sc->body_paused = false;
    /* Continue on the next loop turn, never inside the caller's stack. */
    net_conn_timer(sc->conn, 0, on_continue_timer);
}

/* ---- parser callbacks ------------------------------------------------------ */

static int cb_headers(http_parser_t *p, http_msg_t *m)
{
    http_sconn_t *sc = http_parser_data(p);
    http_req_t *r = calloc(1, sizeof *r);
    if (!r)
        return -1;
    r->srv = sc->srv;
    r->sc = sc;
    r->msg = m;
    r->head = strcmp(m->method, "HEAD") == 0;
    r->resp_left = -1;
    buf_init(&r->body, sc->srv->o.max_body_bytes);
    const char *qm = strchr(m->target, '?');
    size_t plen = qm ? (size_t)(qm - m->target) : strlen(m->target);
    r->path = strndup(m->target, plen);
    r->query = qm ? qm + 1 : "";
    if (!r->path) {
        free(r);
        return -1;
    }
    sc->req = r;
    sc->event = EV_HEADERS;
    return 1; /* pause: on_head runs outside the parser */
}

static int cb_body(http_parser_t *p, const char *data, size_t len)
{
    http_sconn_t *sc = http_parser_data(p);
    http_req_t *r = sc->req;
    if (!r || r->discard)
        return 0;
    if (r->streaming) {
        int rc = r->on_body(r, data, len, r->body_ud);
        if (rc == 1 || sc->gone || net_conn_closing(sc->conn)) {
            sc->event = EV_BODY_PAUSED;
            sc->body_paused = rc == 1;
            return 1;
        }
        return 0;
    }
    if (buf_append(&r->body, data, len)) {
        log_info("http_body_too_large", LF_S("peer", net_conn_peer(sc->conn)),
                 LF_U("cap", sc->srv->o.max_body_bytes));
        sc->close_after = true;
        http_respond_error(r, 413, "request body too large");
        sc->event = EV_BODY_PAUSED;
        return 1;
    }
    return 0;
}

static int cb_complete(http_parser_t *p, http_msg_t *m)
{
    http_sconn_t *sc = http_parser_data(p);
    if (sc->req)
        sc->req->complete = true;
    sc->event = EV_COMPLETE;
    return 1;
}

static const http_parser_cbs_t parser_cbs = {
    .on_headers = cb_headers,
    .on_body = cb_body,
    .on_complete = cb_complete,
};

/* ---- connection flow ---------------------------------------------------------- */

static void on_linger_timer(net_conn_t *c) { net_conn_close(c); }

/* Half-close after the queued answer and drop what the client still sends. */
static void sc_linger(http_sconn_t *sc)
{
    if (sc->lingering || sc->gone || net_conn_closing(sc->conn))
        return;
    sc->lingering = true;
    buf_free(&sc->inbuf);
    net_conn_shutdown(sc->conn);
    if (net_conn_paused(sc->conn))
        net_conn_resume(sc->conn);
    net_conn_timer(sc->conn, LINGER_MS, on_linger_timer);
}

static void sc_error(http_sconn_t *sc, int status, const char *reason)
{
    sc->close_after = true;
    http_req_t *r = sc->req;
    if (r && !r->started && !r->ended) {
        http_respond_error(r, status, reason);
        return;
    }
    if (!r) {
        /* no request object yet: a bare response */
        char buf[384];
        int n = snprintf(buf, sizeof buf,
                         "HTTP/1.1 %d %s\r\nServer: %s\r\nDate: %s\r\nContent-Type: text/plain; "
                         "charset=utf-8\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n%s\n",
                         status, http_status_reason(status), sc->srv->o.server_name, http_date(),
                         strlen(reason) + 1, reason);
        if (n > 0 && (size_t)n < sizeof buf)
            net_conn_write(sc->conn, buf, (size_t)n);
    }
    sc_linger(sc);
}

static void parse_error(http_sconn_t *sc, int rc)
{
    int status = 400;
    if (rc == HTTP_PARSE_ERR_HEADERS_TOO_BIG)
        status = 431;
    else if (rc == HTTP_PARSE_ERR_URI_TOO_LONG)
        status = 414;
    else if (rc == HTTP_PARSE_ERR_UNSUPPORTED)
        status = 501;
    const char *reason = http_parser_reason(sc->parser);
    log_info("http_bad_request", LF_S("peer", net_conn_peer(sc->conn)), LF_I("status", status),
             LF_S("reason", reason));
    http_req_t *r = sc->req;
    if (r && r->streaming && !r->body_ended) {
        r->body_ended = true;
        r->on_body_end(r, -EPROTO, r->body_ud);
    }
    sc_error(sc, status, reason);
}

static void stash(http_sconn_t *sc, const char *data, size_t len)
{
    if (!len)
        return;
    if (buf_append(&sc->inbuf, data, len)) {
        sc->close_after = true;
        net_conn_close(sc->conn);
        return;
    }
    net_conn_pause(sc->conn);
}

/* After on_head: checks the server makes for every buffered request. */
static void sc_on_headers(http_sconn_t *sc)
{
    http_req_t *r = sc->req;
    const http_msg_t *m = r->msg;
    sc->phase = PH_BODY;
    set_timer_for_phase(sc);
    if (sc->srv->o.on_head)
        sc->srv->o.on_head(r, sc->srv->o.ud);
    if (sc->gone || r->ended || r->started)
        return;
    if (!r->streaming && m->content_length > (int64_t)sc->srv->o.max_body_bytes) {
        log_info("http_body_too_large", LF_S("peer", net_conn_peer(sc->conn)),
                 LF_I("content_length", m->content_length), LF_U("cap", sc->srv->o.max_body_bytes));
        sc->close_after = true;
        http_respond_error(r, 413, "request body too large");
        return;
    }
    if (m->expect_continue && (m->content_length > 0 || m->chunked) && m->http_minor >= 1)
        net_conn_write(sc->conn, "HTTP/1.1 100 Continue\r\n\r\n", 25);
}

/* The request is complete: run the handler (or end the body stream). */
static void sc_on_complete(http_sconn_t *sc)
{
    http_req_t *r = sc->req;
    sc->phase = PH_HANDLING;
    set_timer_for_phase(sc);
    if (!r)
        return;
    if (r->ended) { /* answered early; the body has now been read */
        sc->req = NULL;
        req_release(r);
        sc_next(sc);
        return;
    }
    if (r->streaming) {
        if (!r->body_ended) {
            r->body_ended = true;
            r->on_body_end(r, 0, r->body_ud);
        }
        return;
    }
    sc->srv->o.handler(r, sc->srv->o.ud);
}

static void sc_feed(http_sconn_t *sc, const char *data, size_t len)
{
    sc->feeding++;
    /* After a pause llhttp may have work left that consumes no bytes (a
     * message without body completes right after its headers), so a resumed
     * parser is fed once more even when nothing is left. */
    bool kick = false;
    while ((len || kick) && !sc->gone && !sc->taken && !net_conn_closing(sc->conn)) {
        kick = false;
        if (sc->phase == PH_IDLE && len) {
            sc->phase = PH_HEAD;
            set_timer_for_phase(sc);
        }
        size_t used = 0;
        sc->event = EV_NONE;
        int rc = http_parser_feed(sc->parser, data, len, &used);
        data += used;
        len -= used;
        if (rc < 0) {
            parse_error(sc, rc);
            break;
        }
        if (rc == HTTP_PARSE_OK) {
            if (http_parser_upgraded(sc->parser))
                stash(sc, data, len); /* nothing after an upgrade is HTTP */
            break;
        }
        if (sc->event == EV_HEADERS) {
            sc->cur = data;
            sc->cur_len = len;
            sc_on_headers(sc);
            if (sc->taken || sc->gone)
                break;
            http_parser_resume(sc->parser);
            kick = true;
            continue;
        }
        if (sc->event == EV_BODY_PAUSED) {
            if (!net_conn_closing(sc->conn))
                stash(sc, data, len);
            break;
        }
        if (sc->event == EV_COMPLETE) {
            sc->cur = data;
            sc->cur_len = len;
            sc->body_paused = false;
            sc_on_complete(sc);
            if (sc->taken || sc->gone || net_conn_closing(sc->conn))
                break;
            if (sc->req || sc->phase != PH_IDLE) {
                /* the handler answers later: keep the rest for then */
                stash(sc, data, len);
                break;
            }
            http_parser_resume(sc->parser);
            kick = true;
            continue;
        }
    }
    sc->cur = NULL;
    sc->cur_len = 0;
    sc->feeding--;
    /* a response finished inside the loop: wait for the next request */
    if (!sc->taken && !sc->gone && !sc->lingering && !net_conn_closing(sc->conn) &&
        sc->phase == PH_IDLE && sc->inbuf.len == 0) {
        if (net_conn_paused(sc->conn))
            net_conn_resume(sc->conn);
        set_timer_for_phase(sc);
    }
}

/* sc_feed from a callback; false when the connection was taken (sc freed). */
static bool sc_feed_outer(http_sconn_t *sc, const char *data, size_t len)
{
    sc->feeding++; /* keeps sc alive if the handler takes the connection */
    sc_feed(sc, data, len);
    if (--sc->feeding == 0 && sc->taken) {
        free(sc);
        return false;
    }
    return true;
}

/* Feed what waited in inbuf. */
static void on_continue_timer(net_conn_t *c)
{
    http_sconn_t *sc = net_conn_data(c);
    buf_t pending = sc->inbuf;
    buf_init(&sc->inbuf, INBUF_MAX);
    bool alive = !pending.len || sc_feed_outer(sc, pending.data, pending.len);
    buf_free(&pending);
    if (!alive || sc->gone || net_conn_closing(c))
        return;
    if (sc->inbuf.len == 0 && !sc->body_paused && (sc->phase != PH_HANDLING || !sc->req))
        net_conn_resume(c);
    if (sc->phase == PH_IDLE || sc->phase == PH_HEAD || sc->phase == PH_BODY)
        set_timer_for_phase(sc);
}

/* A response ended and its request was fully read: next request or close. */
static void sc_next(http_sconn_t *sc)
{
    if (sc->close_after || sc->srv->closing) {
        net_conn_close(sc->conn);
        return;
    }
    sc->phase = PH_IDLE;
    http_parser_resume(sc->parser);
    if (sc->feeding)
        return; /* sc_feed's loop carries on with the rest */
    if (sc->inbuf.len) {
        net_conn_timer(sc->conn, 0, on_continue_timer);
        return;
    }
    net_conn_resume(sc->conn);
    set_timer_for_phase(sc);
}

static void on_sc_read(net_conn_t *c, const char *data, size_t len)
{
    http_sconn_t *sc = net_conn_data(c);
    if (sc->lingering) {
        sc->lingered += len;
        if (sc->lingered > LINGER_MAX)
            net_conn_close(c);
        return;
    }
    if (sc->inbuf.len) { /* keep order behind what already waits */
        stash(sc, data, len);
        return;
    }
    sc_feed_outer(sc, data, len);
}

static void on_sc_drain(net_conn_t *c)
{
    http_sconn_t *sc = net_conn_data(c);
    http_req_t *r = sc->req;
    if (r && r->on_drain && r->started && !r->ended)
        r->on_drain(r, r->drain_ud);
}

static void on_sc_eof(net_conn_t *c)
{
    http_sconn_t *sc = net_conn_data(c);
    if (sc->lingering) {
        net_conn_close(c);
        return;
    }
    /* A client may half-close after its request; answer it, then close. */
    sc->close_after = true;
    if (!sc->req || (sc->phase != PH_HANDLING && !sc->req->ended)) {
        if (sc->req && sc->req->streaming && !sc->req->body_ended) {
            sc->req->body_ended = true;
            sc->req->on_body_end(sc->req, -ECONNRESET, sc->req->body_ud);
        }
        net_conn_close(c);
    }
}

static void server_maybe_done(http_server_t *s);

static void on_sc_close(net_conn_t *c, int err)
{
    http_sconn_t *sc = net_conn_data(c);
    http_server_t *s = sc->srv;
    sc->gone = true;
    http_req_t *r = sc->req;
    if (r) {
        r->sc = NULL;
        r->own_parser = sc->parser; /* the handler may still read headers */
        sc->parser = NULL;
        if (r->streaming && !r->body_ended) {
            r->body_ended = true;
            r->on_body_end(r, err ? err : -ECONNRESET, r->body_ud);
        }
        if (r->ended) {
            req_release(r);
        } else {
            r->aborted = true;
            if (r->on_abort)
                r->on_abort(r, r->abort_ud);
        }
    }
    http_parser_free(sc->parser);
    buf_free(&sc->inbuf);
    if (sc->prev)
        sc->prev->next = sc->next;
    else
        s->conns = sc->next;
    if (sc->next)
        sc->next->prev = sc->prev;
    s->nconns--;
    free(sc);
    server_maybe_done(s);
}

static const net_conn_cbs_t sc_cbs = {
    .on_read = on_sc_read,
    .on_eof = on_sc_eof,
    .on_drain = on_sc_drain,
    .on_close = on_sc_close,
};

void http_server_adopt(http_server_t *s, net_conn_t *c)
{
    http_sconn_t *sc = calloc(1, sizeof *sc);
    http_parser_opts_t po = { .max_header_bytes = s->o.max_header_bytes };
    if (sc)
        sc->parser = http_parser_new(&po, &parser_cbs, sc);
    if (!sc || !sc->parser) {
        free(sc);
        net_conn_set_cbs(c, NULL, NULL);
        net_conn_abort(c);
        return;
    }
    sc->srv = s;
    sc->conn = c;
    buf_init(&sc->inbuf, INBUF_MAX);
    sc->next = s->conns;
    if (s->conns)
        s->conns->prev = sc;
    s->conns = sc;
    s->nconns++;
    net_conn_set_cbs(c, &sc_cbs, sc);
    sc->phase = PH_IDLE;
    /* a new connection must start its request promptly */
    net_conn_timer(c, s->o.header_timeout_ms, on_sc_timer);
}

net_conn_t *http_req_take_conn(http_req_t *r, buf_t *leftover)
{
    http_sconn_t *sc = r->sc;
    if (!sc || r->ended || r->started || !r->complete)
        return NULL;
    if (leftover) {
        if (sc->cur_len && buf_append(leftover, sc->cur, sc->cur_len))
            return NULL;
        if (sc->inbuf.len && buf_append(leftover, sc->inbuf.data, sc->inbuf.len))
            return NULL;
    }
    net_conn_t *c = sc->conn;
    http_server_t *s = sc->srv;
    net_conn_timer(c, -1, NULL);
    net_conn_set_cbs(c, NULL, NULL);
    if (net_conn_paused(c))
        net_conn_resume(c);
    /* detach from the server */
    if (sc->prev)
        sc->prev->next = sc->next;
    else
        s->conns = sc->next;
    if (sc->next)
        sc->next->prev = sc->prev;
    s->nconns--;
    s->nrequests++;
    r->sc = NULL;
    r->ended = true;
    sc->req = NULL;
    sc->taken = true;
    req_release(r);
    http_parser_free(sc->parser);
    sc->parser = NULL;
    buf_free(&sc->inbuf);
    if (!sc->feeding)
        free(sc);
    server_maybe_done(s);
    return c;
}

/* ---- the server --------------------------------------------------------------- */

static void on_accept(net_listener_t *l, net_conn_t *c, void *ud)
{
    http_server_t *s = ud;
    if (s->closing) {
        net_conn_abort(c);
        return;
    }
    http_server_adopt(s, c);
}

http_server_t *http_server_new(uv_loop_t *loop, const http_server_opts_t *opts)
{
    http_server_t *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->loop = loop;
    s->o = *opts;
    if (!s->o.max_header_bytes)
        s->o.max_header_bytes = 16 * 1024;
    if (!s->o.max_body_bytes)
        s->o.max_body_bytes = 1024 * 1024;
    if (!s->o.header_timeout_ms)
        s->o.header_timeout_ms = 10000;
    if (!s->o.body_timeout_ms)
        s->o.body_timeout_ms = 30000;
    if (!s->o.idle_timeout_ms)
        s->o.idle_timeout_ms = 60000;
    if (!s->o.server_name)
        s->o.server_name = "outpost";
    return s;
}

int http_server_listen(http_server_t *s, const net_listen_opts_t *lopts)
{
    if (s->nlisteners >= sizeof s->listeners / sizeof s->listeners[0])
        return -ENOBUFS;
    net_listener_t *l;
    int rc = net_listen(s->loop, lopts, on_accept, s, &l);
    if (rc)
        return rc;
    s->listeners[s->nlisteners++] = l;
    return 0;
}

const char *http_server_addr(const http_server_t *s)
{
    return s->nlisteners ? net_listener_addr(s->listeners[0]) : "";
}

size_t http_server_connections(const http_server_t *s) { return s->nconns; }
uint64_t http_server_requests(const http_server_t *s) { return s->nrequests; }

static void server_maybe_done(http_server_t *s)
{
    if (!s->closing || s->nconns)
        return;
    void (*done)(void *) = s->done;
    void *ud = s->done_ud;
    free(s);
    if (done)
        done(ud);
}

void http_server_close(http_server_t *s, void (*done)(void *ud), void *ud)
{
    if (s->closing)
        return;
    s->closing = true;
    s->done = done;
    s->done_ud = ud;
    for (size_t i = 0; i < s->nlisteners; i++)
        net_listener_close(s->listeners[i]);
    s->nlisteners = 0;
    /* idle connections go now; busy ones after their response */
    for (http_sconn_t *sc = s->conns; sc; sc = sc->next) {
        sc->close_after = true;
        if (!sc->req)
            net_conn_close(sc->conn);
    }
    server_maybe_done(s); /* nothing open: done at once */
}
