#include "net/http_server_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/log.h"
#include "core/str.h"

/*
 * One http_sconn_t per client connection. Parsing runs until a request's
 * headers are in (on_head), then until its body is in (handler). The parser
 * is paused while the handler works; bytes that arrive meanwhile (pipelined
 * requests) wait in `inbuf` with the connection's reads paused, so a client
 * can never make us hold more than one read chunk.
 */

static void sc_feed(http_sconn_t *sc, const char *data, size_t len);
static void sc_error(http_sconn_t *sc, int status, const char *reason);

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

static void on_continue_timer(net_conn_t *c);

void http_req_resume_body(http_req_t *r)
{
    http_sconn_t *sc = r->sc;
    if (!sc || !sc->body_paused)
        return;
    sc->body_paused = false;
    sc->resumed = true;
    http_parser_resume(sc->parser); /* llhttp stays paused until told */
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
    r->access = -1;
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
    /* llhttp may report an empty piece when a body paused at the end of a
     * read resumes: nothing for a stream (a pause on it would never end) */
    if (!r || r->discard || !len)
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
                 LF_U("cap", r->body.max));
        sc->close_after = true;
        http_respond_error(r, 413, r->too_large ? r->too_large : "request body too large");
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
void http_sconn_linger(http_sconn_t *sc)
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
    http_sconn_linger(sc);
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
    /* Nothing left over: reading goes on, and on_sc_read stashes whatever
     * arrives while the parser waits (no pause/resume syscalls per request). */
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
    if (!r->streaming && m->content_length > (int64_t)r->body.max) {
        log_info("http_body_too_large", LF_S("peer", net_conn_peer(sc->conn)),
                 LF_I("content_length", m->content_length), LF_U("cap", r->body.max));
        sc->close_after = true;
        http_respond_error(r, 413, r->too_large ? r->too_large : "request body too large");
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
        http_req_release(r);
        http_sconn_next(sc);
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
     * parser is fed once more even when nothing is left. That includes a
     * body paused on its last byte: its completion is still to come. */
    bool kick = sc->resumed;
    sc->resumed = false;
    if (!data)
        data = ""; /* llhttp works on pointers, even for zero bytes */
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
        if (sc->event == EV_NONE) {
            /* paused with no event of ours: a parser left paused would make
             * this loop spin, so treat it as the bug it is */
            log_error("http_parser_stuck", LF_S("peer", net_conn_peer(sc->conn)));
            sc_error(sc, 500, "internal error");
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
    bool alive = (!pending.len && !sc->resumed) || sc_feed_outer(sc, pending.data, pending.len);
    buf_free(&pending);
    if (!alive || sc->gone || net_conn_closing(c))
        return;
    if (sc->inbuf.len == 0 && !sc->body_paused && (sc->phase != PH_HANDLING || !sc->req))
        net_conn_resume(c);
    if (sc->phase == PH_IDLE || sc->phase == PH_HEAD || sc->phase == PH_BODY)
        set_timer_for_phase(sc);
}

/* A response ended and its request was fully read: next request or close. */
void http_sconn_next(http_sconn_t *sc)
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
    /* Keep order behind what already waits, and never feed a parser that
     * waits for the handler or a paused body. */
    if (sc->inbuf.len || sc->body_paused || (sc->phase == PH_HANDLING && sc->req)) {
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
    /* A client may half-close after its request; answer it, then close
     * (unless its answer is one that lasts until the client leaves). */
    sc->close_after = true;
    if (!sc->req || (sc->phase != PH_HANDLING && !sc->req->ended) ||
        (sc->req->end_on_eof && !sc->req->ended)) {
        if (sc->req && sc->req->streaming && !sc->req->body_ended) {
            sc->req->body_ended = true;
            sc->req->on_body_end(sc->req, -ECONNRESET, sc->req->body_ud);
        }
        net_conn_close(c);
    }
}

static void server_maybe_done(http_server_t *s);

/* Take a connection off the server's list. */
static void sc_unlink(http_server_t *s, http_sconn_t *sc)
{
    if (sc->prev)
        sc->prev->next = sc->next;
    else
        s->conns = sc->next;
    if (sc->next)
        sc->next->prev = sc->prev;
    s->nconns--;
}

static void sc_release_data(http_sconn_t *sc)
{
    void (*release)(void *) = sc->conn_release;
    void *data = sc->conn_data;
    sc->conn_release = NULL;
    sc->conn_data = NULL;
    if (release)
        release(data);
}

void http_req_set_conn_data(http_req_t *r, void *data, void (*release)(void *data))
{
    http_sconn_t *sc = r->sc;
    if (!sc) {
        if (release)
            release(data);
        return;
    }
    if (sc->conn_data != data)
        sc_release_data(sc);
    sc->conn_data = data;
    sc->conn_release = release;
}

void *http_req_conn_data(const http_req_t *r) { return r->sc ? r->sc->conn_data : NULL; }

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
            http_req_release(r);
        } else {
            r->aborted = true;
            if (r->on_abort)
                r->on_abort(r, r->abort_ud);
        }
    }
    sc_release_data(sc);
    http_parser_free(sc->parser);
    buf_free(&sc->inbuf);
    sc_unlink(s, sc);
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
    sc_release_data(sc);
    net_conn_timer(c, -1, NULL);
    net_conn_set_cbs(c, NULL, NULL);
    if (net_conn_paused(c))
        net_conn_resume(c);
    /* detach from the server */
    sc_unlink(s, sc);
    s->nrequests++;
    r->sc = NULL;
    r->ended = true;
    sc->req = NULL;
    sc->taken = true;
    http_req_release(r);
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
    net_listen_opts_t lo = *lopts;
    if (lo.max_per_addr && !lo.refusal)
        lo.refusal = "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\n"
                     "Content-Length: 39\r\nRetry-After: 10\r\nConnection: close\r\n\r\n"
                     "too many connections from your address\n";
    int rc = net_listen(s->loop, &lo, on_accept, s, &l);
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

void http_server_listen_stats(const http_server_t *s, net_listener_stats_t *st)
{
    memset(st, 0, sizeof *st);
    for (size_t i = 0; i < s->nlisteners; i++)
        net_listener_stats(s->listeners[i], st);
}

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
