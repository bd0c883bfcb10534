/*
 * forward: a CPE request on its way to an ACS node.
 *
 * The body is collected up to the rewrite window (1 MiB by default): then
 * it is decoded (gzip/deflate), checked cheaply for anything to rewrite,
 * rewritten if needed, routed (which needs to know whether it is an
 * Inform) and sent with an exact Content-Length. A body over the window is
 * streamed instead: decoded, rewritten and sent in chunks as it arrives,
 * with backpressure both ways. Unchanged bodies go out byte for byte,
 * compressed or not.
 */
#include "cwmp_proxy/forward.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/clock.h"
#include "core/log.h"
#include "core/str.h"
#include "cwmp_proxy/cookie.h"
#include "cwmp_proxy/hdr.h"
#include "cwmp_proxy/wakeup.h"
#include "net/addr.h"

/* ---- life cycle ---------------------------------------------------------- */

static void fc_release(void *data)
{
    fwdconn_t *fc = data;
    proxy_t *px = fc->px;
    if (fc->cur) { /* not expected: on_abort runs first */
        fc->cur->fc = NULL;
        fc->cur = NULL;
    }
    if (fc->up)
        up_release(fc->up);
    if (fc->be) {
        fc->be->active_conns--;
        balancer_unref(&px->bal, fc->be);
    }
    px->fwd_conns--;
    free(fc);
}

static void fwd_free(fwd_t *f)
{
    if (f->fc && f->fc->cur == f)
        f->fc->cur = NULL;
    if (f->up && f->up->cur == f)
        f->up->cur = NULL;
    buf_free(&f->raw);
    buf_free(&f->out);
    zbody_free(f->dec);
    zbody_free(f->enc);
    crurl_free(f->rw);
    free(f->origin); /* never accepted by a node: not recorded */
    f->px->in_flight--;
    free(f);
}

/* After we are done with a request, whatever the server still reports
 * about it must not reach the freed fwd_t. */
static int noop_body(http_req_t *r, const char *d, size_t n, void *ud) { return 0; }
static void noop_body_end(http_req_t *r, int err, void *ud) {}
static void release_on_abort(http_req_t *r, void *ud) { http_resp_end(r); }

http_req_t *fwd_detach(fwd_t *f)
{
    http_req_t *r = f->req;
    f->req = NULL;
    if (r) {
        http_req_stream_body(r, noop_body, noop_body_end, NULL);
        http_req_on_abort(r, release_on_abort, NULL);
        http_resp_on_drain(r, NULL, NULL);
    }
    return r;
}

/* The upstream connection is mid-exchange and cannot be reused. */
static void drop_upstream(fwd_t *f)
{
    upconn_t *u = f->up;
    f->up = NULL;
    if (!u)
        return;
    if (u->cur == f)
        u->cur = NULL;
    u->broken = true;
    if (f->fc && f->fc->up == u)
        f->fc->up = NULL;
    up_release(u);
}

void fwd_fail(fwd_t *f, int status, const char *reason)
{
    proxy_t *px = f->px;
    if (status == 502 || status == 504)
        px->st.upstream_errors++;
    else if (status == 503)
        px->st.no_backend++;
    px->st.responses[status / 100]++;
    log_info("cwmp_proxy_refused", LF_S("peer", f->req ? http_req_peer(f->req) : "?"),
             LF_S("device", f->fc ? f->fc->device : ""),
             LF_S("backend", f->route.be ? f->route.be->name : ""), LF_I("status", status),
             LF_S("reason", reason));
    drop_upstream(f);
    http_req_t *r = fwd_detach(f);
    if (r) {
        char extra[HTTP_RETRY_AFTER_MAX] = "";
        if (status == 503)
            http_retry_after(extra, px->o.retry_after_ms);
        if (!f->body_done)
            http_resp_close_after(r);
        char body[256];
        int n = snprintf(body, sizeof body, "%s\n", reason);
        http_respond_hdrs(r, status, extra[0] ? extra : NULL, "text/plain; charset=utf-8", body,
                          (size_t)n < sizeof body ? (size_t)n : sizeof body - 1);
    }
    fwd_free(f);
}

void fwd_cut(fwd_t *f, const char *reason)
{
    proxy_t *px = f->px;
    px->st.upstream_errors++;
    log_warn("cwmp_proxy_response_cut", LF_S("device", f->fc ? f->fc->device : ""),
             LF_S("backend", f->route.be ? f->route.be->name : ""), LF_S("reason", reason));
    drop_upstream(f);
    http_req_t *r = fwd_detach(f);
    net_conn_t *c = r ? http_req_conn(r) : NULL;
    if (c)
        net_conn_abort(c); /* the server reports the abort; release_on_abort ends it */
    else if (r)
        http_resp_end(r);
    fwd_free(f);
}

void fwd_finish(fwd_t *f)
{
    proxy_t *px = f->px;
    px->st.responses[f->status / 100 < 6 ? f->status / 100 : 5]++;
    metrics_hist_observe(&px->st.request_latency, (double)(clock_mono_us() - f->t0_us) / 1e6);
    /* An Inform the node accepted: a CWMP session begins (a 401 asked for
     * the same Inform again, with credentials). */
    if (f->is_inform && f->status == 200 && f->route.be) {
        px->st.sessions++;
        f->route.be->sessions_total++;
    }
    /* Empty POST answered 204: the CWMP session is over. */
    if (f->empty_post && f->status == 204 && f->fc) {
        session_t *x = sessions_find(&px->sess, f->fc->token, clock_mono_ms());
        if (x)
            sessions_end(&px->sess, x);
    }
    f->req = NULL; /* ended by the relay */
    fwd_free(f);
}

/* ---- the CPE's request ------------------------------------------------------- */

static void on_abort(http_req_t *r, void *ud)
{
    fwd_t *f = ud;
    log_debug("cwmp_proxy_client_gone", LF_S("device", f->fc ? f->fc->device : ""));
    drop_upstream(f);
    fwd_detach(f);
    http_resp_end(r); /* releases it */
    fwd_free(f);
}

/* The rewriter replaced a ConnectionRequestURL: keep it on the request,
 * under the device the message names, until the node has answered. It is
 * not recorded yet: an Inform's DeviceId is whatever the CPE wrote, and
 * recording it before the ACS checked the CPE would let anyone move a
 * device's origin, take another's, or fill the table with Informs the ACS
 * refuses. */
static void keep_origin(fwd_t *f, const char *origin, size_t len)
{
    if (len > FWD_ORIGIN_MAX) /* the rewriter's own cap: not expected */
        return;
    char *copy = malloc(len + 1);
    if (!copy) {
        log_warn("origin_not_kept", LF_S("reason", "out of memory"));
        return;
    }
    memcpy(copy, origin, len);
    copy[len] = '\0';
    free(f->origin); /* the last one wins: a device has one origin */
    f->origin = copy;
    const crurl_info_t *info = crurl_info(f->rw);
    if (info->rpc != CRURL_RPC_INFORM ||
        crurl_device_id(info, f->origin_device, sizeof f->origin_device) != 0)
        str_copy(f->origin_device, sizeof f->origin_device, f->fc ? f->fc->device : "");
}

/* A streaming request's own rewriter: ud is the request. */
static void on_origin(void *ud, const char *origin, size_t len) { keep_origin(ud, origin, len); }

/* The shared rewriter: ud is the proxy, which knows whose body it is. */
void fwd_origin_cb(void *ud, const char *origin, size_t len)
{
    proxy_t *px = ud;
    if (px->rw_owner)
        keep_origin(px->rw_owner, origin, len);
}

static void record_origin(fwd_t *f)
{
    proxy_t *px = f->px;
    const char *dev = f->origin_device;
    int rc = origins_record(&px->origins, dev, f->origin, clock_real_s());
    if (rc == 1) {
        char shown[NET_URL_SHOWN]; /* a CPE's URL may carry a password or token */
        net_url_redacted(f->origin, shown, sizeof shown);
        log_info("origin_recorded", LF_S("device", dev), LF_S("origin", shown),
                 LF_S("peer", f->req ? http_req_peer(f->req) : "?"));
    } else if (rc == -ENOSPC) {
        log_debug("origin_refused", LF_S("device", dev), LF_S("reason", "origin table full"));
    }
}

void fwd_answered(fwd_t *f)
{
    if (!f->origin)
        return;
    if (f->status >= 200 && f->status < 300) /* the node took the request */
        record_origin(f);
    else
        log_debug("origin_not_recorded", LF_S("device", f->origin_device),
                  LF_I("status", f->status));
    free(f->origin);
    f->origin = NULL;
}

static int make_rewriter(fwd_t *f)
{
    crurl_opts_t o = { .public_url = f->px->public_url, .max_value = FWD_ORIGIN_MAX,
                       .on_origin = on_origin, .ud = f };
    f->rw = crurl_new(&o);
    return f->rw ? 0 : -ENOMEM;
}

/* Decode -> rewrite -> (re-encode) `len` bytes into f->out. */
static int pipe_feed(fwd_t *f, const char *data, size_t len, bool last)
{
    proxy_t *px = f->px;
    buf_t dec = BUF_INIT(px->o.max_body), rew = BUF_INIT(px->o.max_body * 2 + 65536);
    int rc = 0;
    if (f->dec) {
        rc = zbody_feed(f->dec, data, len, last, &dec);
        data = dec.data ? dec.data : "";
        len = dec.len;
        if (rc == -ENOBUFS || (rc == -EMSGSIZE))
            rc = -EMSGSIZE;
    }
    buf_t *target = f->enc ? &rew : &f->out;
    if (!rc)
        rc = crurl_feed(f->rw, data, len, last, target);
    if (!rc && f->enc)
        rc = zbody_feed(f->enc, rew.data ? rew.data : "", rew.len, last, &f->out);
    buf_free(&dec);
    buf_free(&rew);
    return rc;
}

static void note_rewrite(fwd_t *f)
{
    proxy_t *px = f->px;
    const crurl_info_t *info = crurl_info(f->rw);
    px->st.rewrites += info->rewritten;
    px->st.rewrite_skipped += info->skipped;
    if (info->skipped)
        log_warn("crurl_not_rewritten", LF_S("peer", http_req_peer(f->req)),
                 LF_U("count", info->skipped), LF_S("reason", info->skip_reason));
    if (crurl_error(f->rw)) {
        px->st.rewrite_passthrough++;
        log_warn("crurl_passthrough", LF_S("peer", http_req_peer(f->req)),
                 LF_S("reason", crurl_error(f->rw)));
    }
    f->is_inform = info->rpc == CRURL_RPC_INFORM;
    char dev[SESSION_DEVICE_MAX];
    if (f->is_inform && f->fc && crurl_device_id(info, dev, sizeof dev) == 0)
        str_copy(f->fc->device, sizeof f->fc->device, dev);
    if (f->is_inform && f->fc) /* the session's CWMP endpoint (too long: none) */
        str_copy(f->fc->cwmp_path, strlen(http_req_path(f->req)) < sizeof f->fc->cwmp_path
                 ? sizeof f->fc->cwmp_path : 1, http_req_path(f->req));
}

bool fwd_is_cwmp_post(const fwd_t *f)
{
    if (!f->req || strcmp(http_req_method(f->req), "POST") != 0)
        return false;
    return f->empty_post ||
           (f->fc && f->fc->cwmp_path[0] && strcmp(http_req_path(f->req), f->fc->cwmp_path) == 0);
}

/* Pick the node; pins the connection. false when the request was answered. */
static bool route(fwd_t *f, bool force_new)
{
    proxy_t *px = f->px;
    fwdconn_t *fc = f->fc;
    int64_t now = clock_mono_ms();
    route_in_t in = {
        .bound = force_new ? NULL : fc->be,
        .bound_token = fc->token,
        .is_inform = f->is_inform || force_new,
        .cookie_header = http_req_header(f->req, "Cookie"),
        .cookie_name = px->o.cookie_name,
        .now_ms = now,
    };
    route_request(&px->bal, &px->sess, &in, &f->route);
    if (f->route.status) {
        fwd_fail(f, f->route.status, f->route.reason);
        return false;
    }
    backend_t *be = f->route.be;
    if (fc->be != be) {
        if (fc->be) {
            fc->be->active_conns--;
            balancer_unref(&px->bal, fc->be);
        }
        fc->be = be;
        balancer_ref(be);
        be->active_conns++;
    }
    str_copy(fc->token, sizeof fc->token, f->route.token);
    session_t *x = sessions_find(&px->sess, fc->token, now);
    if (x && x->device[0] && !fc->device[0])
        str_copy(fc->device, sizeof fc->device, x->device);
    if (x && f->is_inform && fc->device[0])
        sessions_set_device(x, fc->device);
    /* Once per session: a CPE with a one-cookie jar then keeps the ACS's
     * cookie from the same answer, which maps to the session as well. */
    f->set_cookie = px->o.proxy_cookie && fc->token[0] && f->route.new_session;
    log_debug("cwmp_proxy_route", LF_S("peer", http_req_peer(f->req)), LF_S("device", fc->device),
              LF_S("backend", be->name), LF_S("why", route_why_name(f->route.why)),
              LF_B("inform", f->is_inform));
    return true;
}

/* The buffered body is complete: rewrite if needed, route, send. */
static void buffered_done(fwd_t *f)
{
    proxy_t *px = f->px;
    f->empty_post = f->raw.len == 0 && strcmp(http_req_method(f->req), "POST") == 0;
    const char *text = f->raw.data ? f->raw.data : "";
    size_t tlen = f->raw.len;
    buf_t dec = BUF_INIT(px->o.max_body);
    if (f->coding != ZBODY_IDENTITY && f->raw.len) {
        zbody_t *z = zbody_decoder_new(f->coding, px->o.max_body);
        int rc = z ? zbody_feed(z, text, tlen, true, &dec) : -ENOMEM;
        zbody_free(z);
        if (rc) {
            buf_free(&dec);
            fwd_fail(f, rc == -EMSGSIZE || rc == -ENOBUFS ? 413 : 400,
                     rc == -EMSGSIZE || rc == -ENOBUFS ? "decoded request body too large"
                                                       : "corrupt compressed request body");
            return;
        }
        text = dec.data ? dec.data : "";
        tlen = dec.len;
    }
    if (crurl_may_rewrite(text, tlen)) {
        /* Whole bodies share one rewriter: its expat parser and buffers are
         * reset, not rebuilt, for every Inform. */
        buf_t rew = BUF_INIT(tlen * 4 + (1 << 20));
        buf_reserve(&rew, tlen + 1024);
        crurl_reset(px->rw);
        px->rw_owner = f;
        f->rw = px->rw;
        int rc = crurl_feed(f->rw, text, tlen, true, &rew);
        if (!rc)
            note_rewrite(f);
        bool changed = !rc && crurl_info(f->rw)->rewritten;
        f->rw = NULL;
        px->rw_owner = NULL;
        if (rc) {
            buf_free(&rew);
            buf_free(&dec);
            fwd_fail(f, rc == -ENOBUFS ? 413 : 500, rc == -ENOBUFS ? "rewritten request body too large"
                                                                 : "cannot rewrite the request body");
            return;
        }
        if (changed) {
            f->body_changed = true;
            if (f->reencode) {
                zbody_t *z = zbody_encoder_new(f->coding, 0);
                buf_t enc = BUF_INIT(rew.len + 65536);
                rc = z ? zbody_feed(z, rew.data, rew.len, true, &enc) : -ENOMEM;
                zbody_free(z);
                buf_free(&rew);
                rew = enc;
            }
            buf_free(&f->out);
            f->out = rew;
            rew = (buf_t)BUF_INIT(0);
        }
        buf_free(&rew);
        if (rc) {
            buf_free(&dec);
            fwd_fail(f, 500, "cannot re-encode the request body");
            return;
        }
    }
    buf_free(&dec);
    if (!f->body_changed) { /* the CPE's bytes, untouched */
        buf_free(&f->out);
        f->out = f->raw;
        f->raw = (buf_t)BUF_INIT(0);
    }
    buf_free(&f->raw);
    if (!route(f, false))
        return;
    fwd_send(f, f->route.be);
}

/* Send one chunk of a streamed body. */
static int send_chunk(fwd_t *f, const char *data, size_t len)
{
    if (!len || !f->up)
        return 0;
    char size[24];
    int n = snprintf(size, sizeof size, "%zx\r\n", len);
    int rc = up_write(f->up, size, (size_t)n);
    if (!rc)
        rc = up_write(f->up, data, len);
    if (!rc)
        rc = up_write(f->up, "\r\n", 2);
    return rc;
}

/* The body outgrew the window: stream the rest. */
static bool go_streaming(fwd_t *f)
{
    proxy_t *px = f->px;
    px->st.streamed_bodies++;
    f->state = F_STREAMING;
    f->body_changed = true; /* decoded and re-framed as it goes */
    int rc = make_rewriter(f);
    if (!rc && f->coding != ZBODY_IDENTITY) {
        f->dec = zbody_decoder_new(f->coding, px->o.max_body);
        if (f->reencode)
            f->enc = zbody_encoder_new(f->coding, 0);
        if (!f->dec || (f->reencode && !f->enc))
            rc = -ENOMEM;
    }
    buf_init(&f->out, px->o.max_body * 2 + 65536);
    if (!rc)
        rc = pipe_feed(f, f->raw.data, f->raw.len, false);
    buf_free(&f->raw);
    if (rc) {
        fwd_fail(f, rc == -EMSGSIZE ? 413 : 400, rc == -EMSGSIZE ? "decoded request body too large"
                                                                 : "corrupt compressed request body");
        return false;
    }
    f->is_inform = crurl_info(f->rw)->rpc == CRURL_RPC_INFORM;
    log_info("cwmp_proxy_streaming", LF_S("peer", http_req_peer(f->req)),
             LF_U("window", px->o.rewrite_window));
    if (!route(f, false) || fwd_send(f, f->route.be) != 0)
        return false;
    rc = send_chunk(f, f->out.data, f->out.len);
    net_conn_uncork(f->up->nc);
    buf_reset(&f->out);
    if (rc) {
        fwd_fail(f, 502, "cannot write to the ACS node");
        return false;
    }
    return true;
}

static int on_body(http_req_t *r, const char *data, size_t len, void *ud)
{
    fwd_t *f = ud;
    proxy_t *px = f->px;
    /* Counted in every state that forwards: a chunked body announces no
     * length, and once streamed it is in no buffer that would hit a cap. */
    f->body_in += len;
    if (f->body_in > px->o.max_body && (f->state == F_BUFFERING || f->state == F_STREAMING)) {
        fwd_fail(f, 413, "request body too large");
        return 0;
    }
    if (f->state == F_BUFFERING) {
        buf_append(&f->raw, data, len); /* cap checked just above */
        if (f->raw.len <= px->o.rewrite_window)
            return 0;
        if (!go_streaming(f))
            return 0;
    } else if (f->state == F_STREAMING) {
        int rc = pipe_feed(f, data, len, false);
        if (!rc)
            rc = send_chunk(f, f->out.data, f->out.len);
        buf_reset(&f->out);
        if (rc) {
            fwd_fail(f, rc == -EMSGSIZE ? 413 : 400, rc == -EMSGSIZE ? "decoded request body too large"
                                                                     : "corrupt compressed request body");
            return 0;
        }
    } else {
        return 0; /* the node answered early: the rest is dropped */
    }
    if (f->up && up_congested(f->up)) {
        f->body_paused = true;
        log_debug("cwmp_proxy_body_paused", LF_U("queued", net_conn_queued(f->up->nc)));
        return 1;
    }
    return 0;
}

void fwd_resume_body(fwd_t *f)
{
    log_debug("cwmp_proxy_body_resume", LF_B("paused", f->body_paused), LF_B("req", f->req != NULL));
    if (f->body_paused && f->req) {
        f->body_paused = false;
        http_req_resume_body(f->req);
    }
}

static void on_body_end(http_req_t *r, int err, void *ud)
{
    fwd_t *f = ud;
    if (err) {
        /* The CPE went away or stalled; the server answers (408/400) or
         * closes. Nothing more goes to the node on this connection. */
        log_debug("cwmp_proxy_body_aborted", LF_S("peer", http_req_peer(r)), LF_ERR(err));
        drop_upstream(f);
        fwd_detach(f);
        fwd_free(f);
        return;
    }
    f->body_done = true;
    if (f->state == F_BUFFERING) {
        buffered_done(f);
        return;
    }
    if (f->state != F_STREAMING)
        return;
    int rc = pipe_feed(f, NULL, 0, true);
    if (!rc)
        rc = send_chunk(f, f->out.data, f->out.len);
    if (!rc && f->up)
        rc = up_write(f->up, "0\r\n\r\n", 5);
    buf_reset(&f->out);
    note_rewrite(f);
    if (rc) {
        fwd_fail(f, rc == -EMSGSIZE ? 413 : 502, rc == -EMSGSIZE ? "decoded request body too large"
                                                                 : "cannot finish the request body");
        return;
    }
    f->state = F_WAITING;
    f->t_sent_us = clock_mono_us();
}

void fwd_on_head(http_req_t *r, void *ud)
{
    proxy_t *px = ud;
    if (strcmp(http_req_path(r), WAKEUP_PATH) == 0)
        return; /* buffered; fwd_handler runs the relay */
    px->st.requests++;
    const http_msg_t *m = http_req_msg(r);
    zbody_coding_t coding;
    const char *why = NULL;
    int status = 0;
    if (m->upgrade) {
        status = 501;
        why = "protocol upgrades are not proxied";
    } else if (strcmp(m->method, "CONNECT") == 0) {
        status = 405;
        why = "CONNECT is not supported";
    } else if (zbody_coding_parse(http_req_header(r, "Content-Encoding"), &coding) != 0) {
        status = 415;
        why = "unsupported Content-Encoding (gzip, deflate or identity)";
    } else if (m->content_length > (int64_t)px->o.max_body) {
        status = 413;
        why = "request body too large";
    }
    if (status) {
        px->st.responses[status / 100]++;
        log_info("cwmp_proxy_refused", LF_S("peer", http_req_peer(r)), LF_I("status", status),
                 LF_S("reason", why));
        http_respond_error(r, status, why);
        return;
    }
    fwdconn_t *fc = http_req_conn_data(r);
    if (!fc) {
        fc = calloc(1, sizeof *fc);
        if (!fc) {
            http_respond_error(r, 503, "out of memory");
            return;
        }
        fc->px = px;
        px->fwd_conns++;
        http_req_set_conn_data(r, fc, fc_release);
    }
    fwd_t *f = calloc(1, sizeof *f);
    if (!f) {
        http_respond_error(r, 503, "out of memory");
        return;
    }
    f->px = px;
    f->fc = fc;
    f->req = r;
    f->coding = coding;
    f->reencode = px->reencode && coding != ZBODY_IDENTITY;
    f->had_length = m->content_length >= 0 || m->chunked;
    f->t0_us = clock_mono_us();
    buf_init(&f->raw, px->o.max_body);
    buf_init(&f->out, px->o.max_body * 2 + 65536);
    if (m->content_length > 0) /* one allocation instead of a doubling series */
        buf_reserve(&f->raw, (size_t)(m->content_length < (int64_t)px->o.rewrite_window
                                      ? m->content_length : (int64_t)px->o.rewrite_window + 1));
    fc->cur = f;
    px->in_flight++;
    http_req_on_abort(r, on_abort, f);
    http_req_stream_body(r, on_body, on_body_end, f);
}

/* Whole requests: the wake-up relay (everything else is streamed). */
void fwd_handler(http_req_t *r, void *ud)
{
    proxy_t *px = ud;
    if (strcmp(http_req_path(r), WAKEUP_PATH) == 0) {
        wakeup_handle(px->wakeup, r);
        return;
    }
    http_respond_error(r, 500, "request not streamed");
}

/* ---- sending -------------------------------------------------------------- */

static int build_head(fwd_t *f, backend_t *be, buf_t *h)
{
    proxy_t *px = f->px;
    const http_msg_t *m = http_req_msg(f->req);
    const char *peer = http_req_peer_host(f->req);
    const char *proto = http_req_is_tls(f->req) ? "https" : "http";
    const char *xff_prev = NULL, *fwd_prev = NULL, *host = NULL;
    int rc = buf_printf(h, "%s %s HTTP/1.1\r\n", m->method, m->target);
    const char *conn = http_msg_header(m, "Connection");
    bool conn_plain = hdr_conn_plain(conn);
    for (size_t i = 0; i < m->nheaders && !rc; i++) {
        const char *name, *value;
        http_msg_header_at(m, i, &name, &value);
        hdr_kind_t k = hdr_classify(name);
        if (k == HDR_HOP || (!conn_plain && hdr_conn_lists(conn, name)))
            continue; /* for this hop only (also what Connection names) */
        switch (k) {
        case HDR_FORWARDING:
            if (px->o.trust_forwarded && strcasecmp(name, "X-Forwarded-For") == 0)
                xff_prev = value;
            else if (px->o.trust_forwarded && strcasecmp(name, "Forwarded") == 0)
                fwd_prev = value;
            continue;
        case HDR_HOST:
            host = value;
            break;
        case HDR_CONTENT_ENCODING:
            if (f->body_changed && !f->reencode)
                continue; /* the node gets identity */
            break;
        case HDR_COOKIE: {
            buf_t *c = &px->scratch_cookie;
            buf_reset_keep(c, 16384);
            rc = cookie_strip(value, px->o.cookie_name, c);
            if (!rc && c->len)
                rc = hdr_line(h, "Cookie", c->data);
            continue;
        }
        default:
            break;
        }
        rc = hdr_line(h, name, value);
    }
    if (!rc && !host)
        rc = buf_printf(h, "Host: %s:%u\r\n", be->host, be->port);
    bool v6 = strchr(peer, ':') != NULL;
    if (!rc)
        rc = buf_printf(h, "X-Forwarded-For: %s%s%s\r\nX-Forwarded-Proto: %s\r\n",
                        xff_prev ? xff_prev : "", xff_prev ? ", " : "", peer, proto);
    if (!rc)
        rc = buf_printf(h, "Forwarded: %s%sfor=%s%s%s;proto=%s\r\n", fwd_prev ? fwd_prev : "",
                        fwd_prev ? ", " : "", v6 ? "\"[" : "", peer, v6 ? "]\"" : "", proto);
    if (!rc && f->state == F_STREAMING)
        rc = buf_append_str(h, "Transfer-Encoding: chunked\r\n");
    else if (!rc && (f->had_length || f->out.len))
        rc = buf_printf(h, "Content-Length: %zu\r\n", f->out.len);
    if (!rc)
        rc = buf_append(h, "\r\n", 2);
    return rc;
}

int fwd_send(fwd_t *f, backend_t *be)
{
    fwdconn_t *fc = f->fc;
    if (fc->up && (fc->up->be != be || fc->up->broken)) {
        up_release(fc->up);
        fc->up = NULL;
    }
    if (!fc->up && !f->fresh_conn)
        fc->up = up_take_idle(fc, be);
    if (!fc->up) {
        int err = 0;
        fc->up = up_open(fc, be, &err);
        if (!fc->up) {
            fwd_fail(f, 502, "cannot connect to the ACS node");
            return -EIO;
        }
    }
    f->up = fc->up;
    f->attempts++;
    be->requests_total++;
    buf_t *head = &f->px->scratch_head;
    buf_reset(head); /* kept at its size: at most its cap, one buffer per proxy */
    /* A head that carries the CPE's credentials is built in the buffer
     * grown to its cap first (no growth can leave a copy behind), leaves
     * through a queue that wipes what it copies, and is wiped here once
     * written (the scratch buffer outlives it). */
    bool secret = http_msg_header(http_req_msg(f->req), "Authorization") != NULL;
    int rc = 0;
    if (secret) {
        rc = buf_reserve_secret(head, head->max); /* once: then it is that size */
        net_conn_secret(f->up->nc);
    }
    if (!rc)
        rc = build_head(f, be, head);
    /* Head and body leave in one writev, straight from their buffers when
     * the connection is open and idle (a kept one): no copy into its queue.
     * A streamed body's chunks follow under the cork go_streaming lifts. */
    bool streaming = f->state == F_STREAMING;
    if (streaming)
        net_conn_cork(f->up->nc);
    if (!rc) {
        uv_buf_t b[2] = { uv_buf_init(head->data, (unsigned)head->len),
                          uv_buf_init(f->out.data, (unsigned)f->out.len) };
        rc = up_writev(f->up, b, !streaming && f->out.len ? 2 : 1);
    }
    f->px->st.bytes_up += head->len + f->out.len;
    if (secret)
        buf_wipe(head); /* sent or copied into the queue by now */
    if (rc) {
        fwd_fail(f, rc == -ENOBUFS ? 431 : 502, rc == -ENOBUFS ? "request header block too large"
                                                               : "cannot write to the ACS node");
        return rc;
    }
    up_start_exchange(f->up, f);
    if (f->state != F_STREAMING) {
        f->state = F_WAITING;
        f->t_sent_us = clock_mono_us();
    }
    return 0;
}

bool fwd_can_redispatch(const fwd_t *f)
{
    /* Only a session's first request, only if it is whole in memory (the
     * node never saw a byte of it). A streamed body (f->rw) went out as it
     * came and is in no buffer: what is left of it is not the request. */
    return f->fc && f->req && f->route.new_session && f->state == F_WAITING && f->body_done &&
           !f->rw && f->attempts < balancer_count_live(&f->px->bal);
}

void fwd_redispatch(fwd_t *f, const char *why)
{
    proxy_t *px = f->px;
    px->st.redispatched++;
    session_t *x = sessions_find(&px->sess, f->fc->token, clock_mono_ms());
    if (x)
        sessions_end(&px->sess, x);
    f->fc->token[0] = '\0';
    f->up = NULL; /* the failed connection is closing on its own */
    f->state = F_WAITING;
    log_info("cwmp_proxy_redispatch", LF_S("peer", http_req_peer(f->req)),
             LF_S("from", f->route.be ? f->route.be->name : ""), LF_S("reason", why));
    if (!route(f, true))
        return;
    fwd_send(f, f->route.be);
}
