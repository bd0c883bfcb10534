/*
 * upstream: one CPE connection's link to its ACS node, and the response
 * relayed back. The response body streams through: when the CPE reads
 * slower than the node writes, the node's connection is paused until the
 * CPE's queue drains.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/clock.h"
#include "core/log.h"
#include "cwmp_proxy/cookie.h"
#include "cwmp_proxy/hdr.h"
#include "cwmp_proxy/forward.h"

/* ---- failures ---------------------------------------------------------------- */

static void exchange_failed(upconn_t *u, int status, const char *why)
{
    fwd_t *f = u->cur;
    u->cur = NULL;
    u->broken = true;
    if (!f)
        return;
    f->up = NULL;
    if (f->state == F_RESPONDING)
        fwd_cut(f, why);
    else
        fwd_fail(f, status, why);
}

/* ---- idle connections between sessions ------------------------------------------- */

bool up_reuse_allowed(const proxy_t *px, const backend_t *be)
{
    if (px->stopping || be->retired || px->o.backend_idle_max <= 0)
        return false;
    return be->reuse == BACKEND_REUSE_ON || (be->reuse == BACKEND_REUSE_AUTO && be->says_outpost);
}

/* An Outpost ACS names itself `Server: outpost` (its http_server's default);
 * the proxy itself says outpost-cwmp-proxy and does not count. */
static bool says_outpost_acs(const char *server)
{
    return server && strncmp(server, "outpost", 7) == 0 && (server[7] == '\0' || server[7] == '/');
}

static void idle_unlink(upconn_t *u)
{
    if (!u->idle)
        return;
    backend_t *be = u->be;
    if (u->idle_prev)
        u->idle_prev->idle_next = u->idle_next;
    else
        be->idle = u->idle_next;
    if (u->idle_next)
        u->idle_next->idle_prev = u->idle_prev;
    u->idle_prev = u->idle_next = NULL;
    u->idle = false;
    be->nidle--;
}

static void idle_expired(net_conn_t *c)
{
    upconn_t *u = net_conn_data(c);
    idle_unlink(u);
    net_conn_close(c);
}

/* The node's 204 ended the session u carried: keep u for the next session
 * on that node, or close it. */
static void up_park(upconn_t *u)
{
    proxy_t *px = u->px;
    backend_t *be = u->be;
    if (u->fc && u->fc->up == u)
        u->fc->up = NULL;
    u->fc = NULL;
    u->reused = false;
    if (!up_reuse_allowed(px, be) || u->broken || u->last || net_conn_closing(u->nc) ||
        be->nidle >= (uint64_t)px->o.backend_idle_max) {
        up_release(u);
        return;
    }
    u->idle = true;
    u->idle_prev = NULL;
    u->idle_next = be->idle;
    if (u->idle_next)
        u->idle_next->idle_prev = u;
    be->idle = u;
    be->nidle++;
    net_conn_timer(u->nc, px->o.backend_idle_ms, idle_expired);
}

upconn_t *up_take_idle(fwdconn_t *fc, backend_t *be)
{
    if (!be->idle)
        return NULL;
    if (!up_reuse_allowed(fc->px, be)) { /* turned off by a reload, or the node changed */
        up_idle_drain(be);
        return NULL;
    }
    upconn_t *u;
    while ((u = be->idle)) {
        idle_unlink(u); /* most recently used first: the likeliest to be alive */
        if (u->broken || net_conn_closing(u->nc))
            continue;   /* its on_close frees it */
        net_conn_timer(u->nc, -1, NULL);
        u->fc = fc;
        u->reused = true;
        be->conns_reused++;
        return u;
    }
    return NULL;
}

void up_idle_drain(backend_t *be)
{
    upconn_t *u;
    while ((u = be->idle)) {
        idle_unlink(u);
        net_conn_close(u->nc);
    }
}

/* ---- response relay -------------------------------------------------------------- */

static void on_resp_drain(http_req_t *r, void *ud)
{
    fwd_t *f = ud;
    if (f->up && f->up->nc)
        net_conn_resume(f->up->nc);
}

static int rp_headers(http_parser_t *p, http_msg_t *m)
{
    upconn_t *u = http_parser_data(p);
    fwd_t *f = u->cur;
    if (!f || !f->req)
        return -1; /* a response nobody asked for */
    if (m->status < 200)
        return 0; /* interim (100 Continue): not relayed */
    proxy_t *px = f->px;
    backend_t *be = u->be;
    int64_t now = clock_mono_us();
    metrics_hist_observe(&be->latency, (double)(now - (f->t_sent_us ? f->t_sent_us : f->t0_us)) / 1e6);
    f->status = m->status;
    f->state = F_RESPONDING;
    f->ends_session = m->status == 204 && fwd_is_cwmp_post(f);
    be->says_outpost = says_outpost_acs(http_msg_header(m, "Server"));
    session_t *x = f->fc ? sessions_find(&px->sess, f->fc->token, clock_mono_ms()) : NULL;
    if (x)
        x->challenged = m->status == 401;
    buf_t *xb = &px->scratch_head;
    buf_reset(xb); /* at most its cap (fwd_send keeps it at that size) */
    int rc = buf_append_str(xb, ""); /* read as a C string even when empty */
    /* Ours first: a CPE that keeps only the last cookie keeps the ACS's,
     * which maps to the same session. */
    if (!rc && f->set_cookie)
        rc = buf_printf(xb, "Set-Cookie: %s=%s; Path=/; HttpOnly%s\r\n", px->o.cookie_name,
                        f->fc->token, http_req_is_tls(f->req) ? "; Secure" : "");
    const char *conn = http_msg_header(m, "Connection");
    bool conn_plain = hdr_conn_plain(conn);
    for (size_t i = 0; i < m->nheaders && !rc; i++) {
        const char *name, *value;
        http_msg_header_at(m, i, &name, &value);
        hdr_kind_t k = hdr_classify(name);
        if (k == HDR_HOP || k == HDR_SERVER_DATE || (!conn_plain && hdr_conn_lists(conn, name)))
            continue; /* the CPE gets the proxy's own Server and Date */
        if (x && k == HDR_SET_COOKIE) {
            char pair[SESSION_COOKIE_MAX];
            bool deleted;
            if (cookie_set_pair(value, pair, sizeof pair, &deleted) == 0 && !deleted)
                sessions_set_acs_cookie(&px->sess, x, pair);
        }
        rc = hdr_line(xb, name, value);
    }
    if (rc) {
        f->state = F_WAITING;
        exchange_failed(u, 502, "response header block from the ACS node too large");
        return -1;
    }
    fwd_answered(f); /* before the 204 below detaches the request (its peer is logged) */
    if (!m->keep_alive) {
        /* The node ends the connection: so does the CPE's (an ACS may end
         * a CWMP session that way). */
        u->last = true;
        http_resp_close_after(f->req);
    }
    const char *ex = xb->data ? xb->data : "";
    bool head = strcmp(http_req_method(f->req), "HEAD") == 0;
    if (m->status == 204 || m->status == 304) {
        /* answered (and released) at once: nothing more goes to the CPE */
        http_respond_hdrs(fwd_detach(f), m->status, ex, NULL, NULL, 0);
    } else {
        int64_t clen = m->content_length >= 0 ? m->content_length : -1;
        http_resp_on_drain(f->req, on_resp_drain, f);
        http_resp_begin(f->req, m->status, ex, NULL, head && clen < 0 ? 0 : clen);
    }
    return 0;
}

static int rp_body(http_parser_t *p, const char *data, size_t len)
{
    upconn_t *u = http_parser_data(p);
    fwd_t *f = u->cur;
    if (!f || !f->req)
        return -1;
    f->px->st.bytes_down += len;
    if (http_resp_write(f->req, data, len) != 0) {
        /* the CPE is gone or its queue is full: the server reports it */
        u->broken = true;
        return -1;
    }
    return 0;
}

static int rp_complete(http_parser_t *p, http_msg_t *m)
{
    upconn_t *u = http_parser_data(p);
    fwd_t *f = u->cur;
    if (!f)
        return -1;
    if (m->status < 200)
        return 0;
    net_conn_timer(u->nc, -1, NULL);
    u->cur = NULL;
    f->up = NULL;
    http_req_t *r = fwd_detach(f);
    if (r)
        http_resp_end(r);
    u->reused = false;
    if (!m->keep_alive || u->last || u->broken) {
        if (u->fc && u->fc->up == u)
            u->fc->up = NULL;
        up_release(u);
    } else if (f->ends_session) {
        up_park(u); /* the session is over: the connection carries none now */
    }
    fwd_finish(f);
    return 1; /* nothing else may follow on this connection until asked */
}

static const http_parser_cbs_t rp_cbs = {
    .on_headers = rp_headers,
    .on_body = rp_body,
    .on_complete = rp_complete,
};

/* ---- the connection ---------------------------------------------------------------- */

static void up_timeout(net_conn_t *c)
{
    upconn_t *u = net_conn_data(c);
    log_info("cwmp_proxy_backend_timeout", LF_S("backend", u->be->name));
    exchange_failed(u, 504, "the ACS node did not answer in time");
    net_conn_abort(c);
}

static void up_on_open(net_conn_t *c)
{
    upconn_t *u = net_conn_data(c);
    u->open = true;
    balancer_connect_result(&u->px->bal, u->be, true, NULL, clock_mono_ms());
}

static void up_on_read(net_conn_t *c, const char *data, size_t len)
{
    upconn_t *u = net_conn_data(c);
    if (!u->cur) {
        log_info("cwmp_proxy_backend_unsolicited", LF_S("backend", u->be->name), LF_U("bytes", len));
        u->broken = true;
        net_conn_close(c);
        return;
    }
    u->rx_any = true;
    net_conn_timer(c, u->px->o.backend_timeout_ms, up_timeout);
    /* Response head and body that came in one read leave in one write. The
     * connection outlives this callback even if it closes meanwhile. */
    net_conn_t *down = u->cur->req ? http_req_conn(u->cur->req) : NULL;
    if (down)
        net_conn_cork(down);
    size_t used = 0;
    int rc = http_parser_feed(u->parser, data, len, &used);
    if (down)
        net_conn_uncork(down);
    if (rc == HTTP_PARSE_PAUSED) {
        /* a response ended; more bytes before the next request are junk */
        http_parser_resume(u->parser);
        if (used < len) {
            u->broken = true;
            net_conn_close(c);
        }
        return;
    }
    if (rc < 0) {
        if (u->cur) {
            char why[160];
            snprintf(why, sizeof why, "invalid response from the ACS node: %s",
                     http_parser_reason(u->parser));
            exchange_failed(u, 502, why);
        }
        u->broken = true;
        net_conn_close(c);
        return;
    }
    fwd_t *f = u->cur;
    if (f && f->state == F_RESPONDING && f->req && http_resp_congested(f->req))
        net_conn_pause(c);
}

static void up_on_eof(net_conn_t *c)
{
    upconn_t *u = net_conn_data(c);
    u->broken = true;
    if (u->cur && http_parser_in_message(u->parser))
        http_parser_finish(u->parser); /* completes a close-delimited body */
    net_conn_close(c);
}

static void up_on_drain(net_conn_t *c)
{
    upconn_t *u = net_conn_data(c);
    if (u->cur)
        fwd_resume_body(u->cur);
}

static const char *close_reason(int err, bool open)
{
    if (!open && err == -ETIMEDOUT)
        return "connect to the ACS node timed out";
    if (!open)
        return "cannot connect to the ACS node";
    if (err == -ETIMEDOUT)
        return "the ACS node did not answer in time";
    return "the ACS node closed the connection";
}

static void up_on_close(net_conn_t *c, int err)
{
    upconn_t *u = net_conn_data(c);
    fwdconn_t *fc = u->fc;
    proxy_t *px = u->px;
    if (fc && fc->up == u)
        fc->up = NULL;
    idle_unlink(u);
    fwd_t *f = u->cur;
    /* u->fc is NULL when we gave the connection up ourselves while it was
     * connecting (the CPE left, its request was refused): that says
     * nothing about the node, and counting it would let any CPE take nodes
     * down by hanging up early. */
    if (!u->open && u->fc) {
        char why[96];
        snprintf(why, sizeof why, "connect: %s", log_strerror(err ? err : -ECONNRESET));
        balancer_connect_result(&px->bal, u->be, false, why, clock_mono_ms());
    }
    if (f) {
        u->cur = NULL;
        f->up = NULL;
        const char *why = close_reason(err, u->open);
        if (!u->open && fwd_can_redispatch(f))
            fwd_redispatch(f, why);
        else if (u->reused && !u->rx_any && f->state == F_WAITING && f->body_done && !f->rw &&
                 f->req && !f->fresh_conn) {
            /* The node closed an idle connection as the request went out
             * (its keep-alive timeout): it read none of it. Once more, on a
             * connection of its own. */
            px->st.reuse_retries++;
            f->fresh_conn = true;
            log_info("cwmp_proxy_reuse_retry", LF_S("backend", u->be->name), LF_S("reason", why));
            fwd_send(f, f->route.be);
        }
        else if (f->state == F_RESPONDING)
            fwd_cut(f, why);
        else
            fwd_fail(f, err == -ETIMEDOUT ? 504 : 502, why);
    }
    balancer_unref(&px->bal, u->be);
    http_parser_free(u->parser);
    free(u);
}

static const net_conn_cbs_t up_cbs = {
    .on_open = up_on_open,
    .on_read = up_on_read,
    .on_eof = up_on_eof,
    .on_drain = up_on_drain,
    .on_close = up_on_close,
};

upconn_t *up_open(fwdconn_t *fc, backend_t *be, int *err)
{
    proxy_t *px = fc->px;
    upconn_t *u = calloc(1, sizeof *u);
    /* a proxy refuses obs-fold from the node (502) rather than guess at it (RFC 9112 5.2) */
    http_parser_opts_t po = { .response = true, .max_header_bytes = 64 * 1024, .refuse_fold = true };
    if (!u || !(u->parser = http_parser_new(&po, &rp_cbs, u))) {
        free(u);
        *err = -ENOMEM;
        return NULL;
    }
    u->px = px;
    u->fc = fc;
    u->be = be;
    net_connect_opts_t co = {
        .host = be->host,
        .port = be->port,
        .tls = be->tls ? px->tls_backend : NULL,
        .timeout_ms = px->o.backend_connect_timeout_ms,
    };
    if (be->tls && !px->tls_backend) {
        http_parser_free(u->parser);
        free(u);
        *err = -EPROTONOSUPPORT;
        return NULL;
    }
    int rc = net_connect(px->loop, &co, &up_cbs, u, &u->nc);
    if (rc) {
        http_parser_free(u->parser);
        free(u);
        *err = rc;
        return NULL;
    }
    balancer_ref(be);
    be->conns_opened++;
    return u;
}

void up_release(upconn_t *u)
{
    fwdconn_t *fc = u->fc;
    if (fc && fc->up == u)
        fc->up = NULL;
    if (u->cur) {
        u->cur->up = NULL;
        u->cur = NULL;
        u->broken = true;
    }
    u->fc = NULL;
    if (u->broken)
        net_conn_abort(u->nc);
    else
        net_conn_close(u->nc);
}

int up_writev(upconn_t *u, const uv_buf_t *b, size_t n)
{
    if (u->cur) /* a long upload is progress too */
        net_conn_timer(u->nc, u->px->o.backend_timeout_ms, up_timeout);
    return net_conn_writev(u->nc, b, n);
}

int up_write(upconn_t *u, const void *data, size_t len)
{
    uv_buf_t b = uv_buf_init((char *)data, (unsigned)len);
    return up_writev(u, &b, 1);
}

bool up_congested(const upconn_t *u) { return net_conn_congested(u->nc); }

void up_start_exchange(upconn_t *u, fwd_t *f)
{
    u->cur = f;
    u->rx_any = false;
    if (strcmp(http_req_method(f->req), "HEAD") == 0)
        http_parser_expect_no_body(u->parser);
    net_conn_timer(u->nc, f->px->o.backend_timeout_ms, up_timeout);
}
