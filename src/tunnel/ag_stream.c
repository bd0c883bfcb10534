/*
 * ag_stream: one local TCP connection carried as a tunnel stream.
 *
 * Sending: bytes read from the local socket go out as Data while the stream
 * has credit and the link is not congested; what does not fit waits in
 * `pending` and the local socket is paused, so memory per stream stays at
 * one read. A stream paused because the link was congested waits on a list
 * that the link's on_drain walks; one paused for credit resumes on Window.
 *
 * Receiving: Data goes straight into the local socket's queue; credit goes
 * back (tunnel_rwin) only as bytes leave that queue, so a local reader that
 * stops reading stops its sender after one window and the link carries on
 * for every other stream.
 *
 * Closing: local FIN -> Terminator{fin} after pending bytes; Terminator{fin}
 * -> shutdown(SHUT_WR) once our queue is flushed; both -> close. Errors and
 * resets abort the local socket (RST) and send Terminator{reset}.
 *
 * While the link is down (failing over to another gateway, say) a local
 * connection waits for it, paused, up to --link-wait and at most
 * --link-wait-max at once; it then goes as if it had just arrived, or is
 * reset with a log line. Streams that were open when the link went are
 * reset: they cannot move to another gateway.
 *
 * Streams from a SOCKS listener (ag_socks.c) are the same but for their
 * start, whose target the client named, and their Ack, which becomes a
 * SOCKS reply on the local socket before any data.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/log.h"
#include "core/str.h"
#include "codec/socks5.h"
#include "tunnel/ag.h"

enum { AG_PENDING_MAX = 1024 * 1024 };

static void stream_flush(ag_stream_t *st);

static ag_stream_t *find(ag_t *ag, tunnel_str_t guid)
{
    return hmap_get(&ag->streams, guid.p, guid.n);
}

static void cstr(char *dst, size_t size, tunnel_str_t s)
{
    size_t n = s.n < size - 1 ? s.n : size - 1;
    if (n)
        memcpy(dst, s.p, n);
    dst[n] = '\0';
}

static void unmap(ag_stream_t *st)
{
    if (st->in_map) {
        hmap_del(&st->ag->streams, st->guid, st->glen);
        st->in_map = false;
    }
}

static void wait_remove(ag_stream_t *st)
{
    if (!st->waiting_link)
        return;
    for (ag_stream_t **pp = &st->ag->wait_head; *pp; pp = &(*pp)->wnext)
        if (*pp == st) {
            *pp = st->wnext;
            break;
        }
    st->waiting_link = false;
}

ag_stream_t *ag_stream_new(ag_t *ag, const char *guid, size_t glen)
{
    ag_stream_t *st = calloc(1, sizeof *st);
    if (!st)
        return NULL;
    st->ag = ag;
    memcpy(st->guid, guid, glen);
    st->glen = glen;
    buf_init(&st->pending, AG_PENDING_MAX);
    tunnel_rwin_init(&st->rx, ag->window, ag->max_window, clock_mono_ms());
    st->rx.budget = &ag->window_budget;
    tunnel_dir_init(&st->tx, 0);
    if (hmap_put(&ag->streams, st->guid, st->glen, st) != 0) {
        free(st);
        return NULL;
    }
    st->in_map = true;
    ag->nstreams++;
    return st;
}

static void waiting_remove(ag_stream_t *st)
{
    if (st->state != AGS_WAITING)
        return;
    for (ag_stream_t **pp = &st->ag->waiting, *prev = NULL; *pp; prev = *pp, pp = &(*pp)->lnext)
        if (*pp == st) {
            *pp = st->lnext;
            if (st->ag->waiting_tail == st)
                st->ag->waiting_tail = prev;
            st->ag->nwaiting--;
            break;
        }
    st->lnext = NULL;
}

void ag_stream_free(ag_stream_t *st)
{
    unmap(st);
    wait_remove(st);
    waiting_remove(st);
    ag_target_forget(st);
    if (st->fwd)
        ag_forward_stream_gone(st->fwd);
    st->ag->nstreams--;
    if (st->accepted)
        st->ag->naccepted--;
    tunnel_rwin_release(&st->rx);
    buf_free(&st->pending);
    free(st->host);
    free(st->nets);
    free(st);
}

static void limit_queue(ag_stream_t *st)
{
    /* on_drain must fire well before the window is used up, so credit
     * returns while data still flows (see tunnel_rwin). The queue holds at
     * most one window, however far it has grown. */
    size_t hw = st->ag->window / 4;
    if (hw < 16384)
        hw = 16384;
    net_conn_set_limits(st->conn, &(net_limits_t){ .high_water = hw, .low_water = hw / 2,
                                                   .max_queue = st->rx.max_window + 65536 });
}

/* Tell the peer the stream is gone (unless it already knows). */
static void send_reset(ag_stream_t *st, const char *reason)
{
    if (st->remote_gone || !st->in_map)
        return;
    st->remote_gone = true;
    if (ag_link_up(st->ag))
        ag_sent(st->ag, tunnel_wire_term(&st->ag->wire, st->ag->ws, st->ag->version, st->guid,
                                         st->glen, TUNNEL_TERM_RESET, reason));
}

/* A stream error: reset both ends. */
static void stream_abort(ag_stream_t *st, const char *reason)
{
    log_info("stream_reset", LF_S("guid", st->guid), LF_S("target", st->target),
             LF_S("reason", reason));
    send_reset(st, reason);
    unmap(st);
    if (st->conn)
        net_conn_abort(st->conn);
    else
        ag_stream_free(st);
}

static void maybe_finish(ag_stream_t *st)
{
    if (st->fin_sent && st->fin_recv && st->conn && !st->closing) {
        st->closing = true;
        unmap(st);
        net_conn_close(st->conn); /* flushes what the peer sent last */
    }
}

static void send_fin(ag_stream_t *st)
{
    if (st->fin_sent || st->remote_gone)
        return;
    st->fin_sent = true;
    ag_sent(st->ag, tunnel_wire_term(&st->ag->wire, st->ag->ws, st->ag->version, st->guid,
                                     st->glen, TUNNEL_TERM_FIN, NULL));
    maybe_finish(st);
}

/* Grant credit for bytes that left the local socket's queue. */
static void rx_update(ag_stream_t *st)
{
    if (!st->conn || st->remote_gone || st->fin_recv || !ag_link_up(st->ag))
        return;
    /* the queue is FIFO: bytes we wrote ourselves (a SOCKS reply) leave first */
    uint64_t written = st->rx.received + st->local_extra, queued = net_conn_queued(st->conn);
    uint64_t delivered = written > queued + st->local_extra ? written - queued - st->local_extra : 0;
    uint64_t g = tunnel_rwin_delivered(&st->rx, delivered, clock_mono_ms());
    if (g)
        ag_sent(st->ag, tunnel_wire_window(&st->ag->wire, st->ag->ws, st->guid, st->glen, g));
}

/* Send from p as far as credit and the link allow; returns bytes sent. */
static size_t push(ag_stream_t *st, const char *p, size_t len)
{
    ag_t *ag = st->ag;
    size_t done = 0, max = tunnel_wire_max_data(ag->peer_max_message);
    const char *why;
    while (done < len && st->tx.credit && ag_link_up(ag) && !ws_congested(ag->ws)) {
        size_t n = len - done;
        if (n > st->tx.credit)
            n = (size_t)st->tx.credit;
        if (n > max)
            n = max;
        if (tunnel_dir_data(&st->tx, n, &why) != 0)
            break;
        int rc = tunnel_wire_data(&ag->wire, ag->ws, st->guid, st->glen, p + done, n,
                                  ag->peer_max_message);
        ag_sent(ag, rc);
        if (rc != 0)
            break;
        done += n;
        ag->c_bytes_out += n;
    }
    return done;
}

/* Pause the local reader until credit or the link comes back. */
static void hold(ag_stream_t *st)
{
    if (st->conn && !st->eof_local)
        net_conn_pause(st->conn);
    if (ag_link_up(st->ag) && ws_congested(st->ag->ws) && !st->waiting_link) {
        st->waiting_link = true;
        st->wnext = st->ag->wait_head;
        st->ag->wait_head = st;
    }
}

static void stream_flush(ag_stream_t *st)
{
    if (st->state != AGS_OPEN || st->remote_gone || st->fin_sent)
        return;
    if (st->pending.len) {
        size_t n = push(st, st->pending.data, st->pending.len);
        buf_consume(&st->pending, n);
        if (st->pending.len) {
            hold(st);
            return;
        }
    }
    if (st->eof_local)
        send_fin(st);
    else if (st->conn)
        net_conn_resume(st->conn);
}

/* ---- local socket callbacks ------------------------------------------------ */

static void on_local_read(net_conn_t *c, const char *data, size_t len)
{
    ag_stream_t *st = net_conn_data(c);
    if (st->remote_gone || st->fin_sent || st->closing)
        return;
    size_t n = 0;
    if (st->state == AGS_OPEN && !st->pending.len)
        n = push(st, data, len);
    if (n < len) {
        if (buf_append(&st->pending, data + n, len - n) != 0) {
            stream_abort(st, "local buffer overflow");
            return;
        }
        hold(st);
    }
}

static void on_local_eof(net_conn_t *c)
{
    ag_stream_t *st = net_conn_data(c);
    st->eof_local = true;
    if (st->state == AGS_OPEN && !st->pending.len)
        send_fin(st);
}

static void on_local_drain(net_conn_t *c)
{
    rx_update(net_conn_data(c));
}

const char *ag_connect_reason(int err)
{
    switch (err) {
    case -ETIMEDOUT: return "connect timeout";
    case -ECONNREFUSED: return "connection refused";
    case -EHOSTUNREACH: return "host unreachable";
    case -ENETUNREACH: return "network unreachable";
    default: return err ? log_strerror(err) : "connection closed";
    }
}

/* The Ack Code (v2) for a target that did not answer. */
const char *ag_connect_code(int err)
{
    switch (err) {
    case -ECONNREFUSED: return TUNNEL_CODE_REFUSED;
    case -ENETUNREACH: return TUNNEL_CODE_NET_UNREACHABLE;
    default: return TUNNEL_CODE_UNREACHABLE;
    }
}

static const char *ack_code(const ag_t *ag, const char *code)
{
    return ag->version >= 2 ? code : NULL;
}

static void on_local_close(net_conn_t *c, int err)
{
    ag_stream_t *st = net_conn_data(c);
    ag_t *ag = st->ag;
    st->conn = NULL;
    if (st->state == AGS_CONNECTING && st->in_map && !st->remote_gone) {
        ag->c_connect_failed++;
        const char *why = ag_connect_reason(err);
        log_info("stream_connect_failed", LF_S("target", st->target), LF_S("reason", why));
        if (ag_link_up(ag))
            ag_sent(ag, tunnel_wire_ack(&ag->wire, ag->ws, st->guid, st->glen, false, why,
                                        ack_code(ag, ag_connect_code(err)), -1));
        st->remote_gone = true;
    } else if (!(st->fin_sent && st->fin_recv)) {
        send_reset(st, err ? log_strerror(err) : "connection closed");
    }
    log_debug("stream_closed", LF_S("guid", st->guid), LF_S("target", st->target),
              LF_U("bytes_out", st->tx.bytes), LF_U("bytes_in", st->rx.received));
    ag_stream_free(st);
}

static void on_target_open(net_conn_t *c)
{
    ag_stream_t *st = net_conn_data(c);
    ag_t *ag = st->ag;
    if (st->remote_gone) {
        net_conn_abort(c);
        return;
    }
    st->state = AGS_OPEN;
    limit_queue(st);
    ag->c_streams_in++;
    log_debug("stream_connected", LF_S("guid", st->guid), LF_S("target", st->target));
    if (ag_link_up(ag))
        ag_sent(ag, tunnel_wire_ack(&ag->wire, ag->ws, st->guid, st->glen, true, "connected", NULL,
                                    ag->version >= 1 ? (int64_t)ag->window : -1));
}

static const net_conn_cbs_t local_cbs = {
    .on_read = on_local_read,
    .on_eof = on_local_eof,
    .on_drain = on_local_drain,
    .on_close = on_local_close,
};

const net_conn_cbs_t ag_target_cbs = {
    .on_open = on_target_open,
    .on_read = on_local_read,
    .on_eof = on_local_eof,
    .on_drain = on_local_drain,
    .on_close = on_local_close,
};

/* ---- streams we start (a local client on a forward or SOCKS listener) ---------- */

static void on_refused_close(net_conn_t *c, int err)
{
    (void)c;
    (void)err;
}

/* A connection refused before it had a stream: it only closes. */
static const net_conn_cbs_t refused_cbs = { .on_close = on_refused_close };

/* The Initiator for a stream whose local client is here: it joins the map. */
static void initiate(ag_stream_t *st)
{
    ag_t *ag = st->ag;
    uint8_t a[16];
    const char *ip = st->host ? st->host : st->fwd->ip;
    if (net_ip_parse(ip, a) != 0 && ag->version < 2) {
        /* a name is resolved behind the far agent, which older gateways
         * cannot ask for; never here */
        log_info("stream_refused", LF_S("guid", st->guid), LF_S("target", st->target),
                 LF_S("reason", "the gateway speaks protocol 1: names as targets need 2"));
        ag_stream_refused(st, TUNNEL_CODE_INVALID, "names as targets need protocol 2");
        return;
    }
    if (hmap_put(&ag->streams, st->guid, st->glen, st) != 0) {
        stream_abort(st, "out of memory");
        return;
    }
    st->in_map = true;
    st->state = AGS_OPENING;
    tunnel_msg_t m = { .type = TUNNEL_INITIATOR, .port = st->port };
    m.guid = (tunnel_str_t){ st->guid, st->glen };
    m.ip = tunnel_s(ip);
    m.gatename = tunnel_s(st->fwd->gateway);
    if (ag->version >= 1) {
        m.window = ag->window;
        m.has |= TUNNEL_F_WINDOW;
    }
    log_debug("stream_initiate", LF_S("guid", st->guid), LF_U("forward", st->fwd->id),
              LF_S("target", st->target));
    ag_send(ag, &m);
}

static void on_wait_expired(net_conn_t *c)
{
    ag_stream_t *st = net_conn_data(c);
    ag_t *ag = st->ag;
    if (st->state != AGS_WAITING)
        return;
    ag->c_wait_expired++;
    ag->c_refused_local++;
    log_info("forward_wait_expired", LF_U("forward", st->fwd->id), LF_S("peer", net_conn_peer(c)),
             LF_S("target", st->target), LF_I("waited_ms", clock_mono_ms() - st->accepted_ms),
             LF_S("reason", "no gateway link within --link-wait"));
    waiting_remove(st);
    st->state = AGS_OPENING; /* out of the list */
    if (st->socks)
        ag_stream_refused(st, TUNNEL_CODE_OFFLINE, "no gateway link");
    else
        net_conn_abort(c);
}

/* A local client for st->fwd: it goes now, waits for the link, or is
 * refused (a reset: the client sees it at once rather than a hang). */
static void start(ag_stream_t *st)
{
    ag_t *ag = st->ag;
    ag_forward_t *f = st->fwd;
    net_conn_t *c = st->conn;
    if (ag_link_up(ag)) {
        if (c)
            net_conn_timer(c, -1, NULL);
        initiate(st);
        return;
    }
    const char *why = NULL;
    if (ag->stopping)
        why = "shutting down";
    else if (ag->opts.link_wait_ms <= 0)
        why = "gateway link down";
    else if ((int64_t)ag->nwaiting >= ag->opts.link_wait_max)
        why = "gateway link down, and --link-wait-max connections wait already";
    if (why) {
        ag->c_refused_local++;
        log_info("forward_refused", LF_U("forward", f->id), LF_S("peer", net_conn_peer(c)),
                 LF_S("reason", why));
        if (st->socks)
            ag_stream_refused(st, TUNNEL_CODE_OFFLINE, why);
        else
            net_conn_abort(c);
        return;
    }
    st->state = AGS_WAITING;
    if (ag->waiting_tail)
        ag->waiting_tail->lnext = st;
    else
        ag->waiting = st;
    ag->waiting_tail = st;
    ag->nwaiting++;
    ag->c_waited++;
    int64_t left = st->accepted_ms + ag->opts.link_wait_ms - clock_mono_ms();
    net_conn_timer(c, left > 0 ? left : 0, on_wait_expired);
    log_debug("forward_waiting", LF_U("forward", f->id), LF_S("peer", net_conn_peer(c)),
              LF_U("waiting", ag->nwaiting));
}

/* A new stream for a local client; not in the map until its Initiator goes. */
static ag_stream_t *local_stream(ag_forward_t *f, net_conn_t *c, const char *ip, uint16_t port)
{
    ag_t *ag = f->ag;
    if ((int64_t)(ag->nstreams - ag->naccepted) >= ag->opts.max_streams) {
        ag->c_refused_local++;
        log_info("forward_refused", LF_U("forward", f->id), LF_S("peer", net_conn_peer(c)),
                 LF_S("reason", "too many streams"));
        return NULL;
    }
    char guid[37];
    tunnel_guid_new(guid);
    ag_stream_t *st = ag_stream_new(ag, guid, strlen(guid));
    if (!st)
        return NULL;
    unmap(st);
    if (ip != f->ip && !(st->host = strdup(ip))) {
        ag_stream_free(st); /* no forward nor connection yet */
        return NULL;
    }
    st->conn = c;
    st->fwd = f;
    st->state = AGS_OPENING;
    st->accepted_ms = clock_mono_ms();
    st->port = port;
    f->active++;
    f->streams_total++;
    snprintf(st->target, sizeof st->target, "%s:%s:%u", f->gateway, ip, port);
    net_conn_set_cbs(c, &local_cbs, st);
    net_conn_pause(c); /* nothing is read before the Ack */
    limit_queue(st);
    return st;
}

void ag_stream_local_accept(ag_forward_t *f, net_conn_t *c)
{
    ag_stream_t *st = local_stream(f, c, f->ip, f->remote);
    if (!st) {
        net_conn_abort(c);
        return;
    }
    start(st);
}

void ag_stream_socks_start(ag_forward_t *f, net_conn_t *c, const char *host, uint16_t port,
                           const char *early, size_t early_len)
{
    ag_stream_t *st = local_stream(f, c, host, port);
    if (!st) {
        uint8_t r[SOCKS5_REPLY_LEN];
        net_conn_set_cbs(c, &refused_cbs, NULL); /* the SOCKS handshake's state is gone */
        net_conn_write(c, r, socks5_reply(r, SOCKS5_REP_FAILURE));
        net_conn_close(c);
        return;
    }
    st->socks = true;
    if (early_len && buf_append(&st->pending, early, early_len) != 0) {
        stream_abort(st, "local buffer overflow");
        return;
    }
    start(st);
}

void ag_stream_link_up(ag_t *ag)
{
    ag_stream_t *list = ag->waiting;
    ag->waiting = ag->waiting_tail = NULL;
    ag->nwaiting = 0;
    while (list) {
        ag_stream_t *st = list;
        list = st->lnext;
        st->lnext = NULL;
        st->state = AGS_OPENING;
        if (st->conn)
            net_conn_timer(st->conn, -1, NULL);
        log_debug("forward_wait_over", LF_S("guid", st->guid),
                  LF_I("waited_ms", clock_mono_ms() - st->accepted_ms));
        if (ag_link_up(ag))
            initiate(st);
        else if (st->conn)
            net_conn_abort(st->conn);
    }
}

enum { AG_RETRY_MS = 250 };

static void on_retry(net_conn_t *c)
{
    ag_stream_t *st = net_conn_data(c);
    if (st->state != AGS_RETRY)
        return;
    st->state = AGS_OPENING;
    start(st); /* the link, or waiting for it again */
}

/* The far agent is offline -- failing over from a gateway that died, say:
 * within --link-wait of its arrival a local client is not refused for
 * that, its stream is asked for again every AG_RETRY_MS. */
static bool retry_later(ag_stream_t *st, const char *code, const char *msg)
{
    ag_t *ag = st->ag;
    bool offline = code[0] ? strcmp(code, TUNNEL_CODE_OFFLINE) == 0
                           : str_starts_with(msg, "agent ") && str_ends_with(msg, " is offline");
    int64_t left = st->accepted_ms + ag->opts.link_wait_ms - clock_mono_ms();
    if (!offline || !st->conn || ag->stopping || left <= AG_RETRY_MS)
        return false;
    unmap(st);
    st->state = AGS_RETRY;
    log_debug("stream_retry", LF_S("guid", st->guid), LF_S("target", st->target),
              LF_S("reason", msg), LF_I("left_ms", left));
    net_conn_timer(st->conn, AG_RETRY_MS, on_retry);
    return true;
}

void ag_stream_on_ack(ag_t *ag, const tunnel_msg_t *m)
{
    ag_stream_t *st = (m->has & TUNNEL_F_GUID) ? find(ag, m->guid) : NULL;
    if (!st)
        return; /* late: the client left meanwhile */
    if (st->state != AGS_OPENING) {
        stream_abort(st, "unexpected Ack");
        return;
    }
    if (!m->ok) {
        char msg[TUNNEL_TEXT_MAX + 1], code[32];
        cstr(msg, sizeof msg, m->message);
        cstr(code, sizeof code, m->code);
        if (retry_later(st, code, msg))
            return;
        log_info("stream_refused", LF_S("guid", st->guid), LF_S("target", st->target),
                 LF_S("reason", msg));
        ag_stream_refused(st, code, msg);
        return;
    }
    st->state = AGS_OPEN;
    ag->c_streams_out++;
    tunnel_dir_init(&st->tx, (m->has & TUNNEL_F_WINDOW) ? m->window : ag->opts.window);
    log_debug("stream_open", LF_S("guid", st->guid), LF_S("target", st->target));
    if (st->socks && st->conn) {
        uint8_t r[SOCKS5_REPLY_LEN];
        size_t n = socks5_reply(r, SOCKS5_REP_OK);
        st->local_extra += n;
        if (net_conn_write(st->conn, r, n) != 0) {
            stream_abort(st, "local write failed");
            return;
        }
    }
    stream_flush(st);
}

/* The stream did not open: the local client is told (a SOCKS reply naming
 * why, then a close; a forward's client: a reset). */
void ag_stream_refused(ag_stream_t *st, const char *code, const char *msg)
{
    st->remote_gone = true;
    unmap(st);
    if (!st->conn) {
        ag_stream_free(st);
        return;
    }
    if (st->socks) {
        uint8_t r[SOCKS5_REPLY_LEN];
        int rep = ag_socks_reply_code(code, msg);
        st->ag->c_socks_refused++;
        st->fwd->refused++;
        net_conn_write(st->conn, r, socks5_reply(r, (socks5_reply_t)rep));
        st->closing = true;
        net_conn_close(st->conn); /* the reply goes out first */
        return;
    }
    net_conn_abort(st->conn);
}

/* ---- messages on open streams ----------------------------------------------- */

void ag_stream_on_data(ag_t *ag, const tunnel_msg_t *m)
{
    ag_stream_t *st = find(ag, m->guid);
    if (!st || st->remote_gone || st->closing)
        return;
    if (st->state != AGS_OPEN) {
        stream_abort(st, "Data before Ack");
        return;
    }
    if (st->fin_recv) {
        stream_abort(st, "data after fin");
        return;
    }
    if (tunnel_rwin_received(&st->rx, m->data.n) != 0) {
        stream_abort(st, "flow control window exceeded");
        return;
    }
    ag->c_bytes_in += m->data.n;
    if (!st->conn)
        return;
    if (net_conn_write(st->conn, m->data.p, m->data.n) != 0) {
        stream_abort(st, "local write failed");
        return;
    }
    rx_update(st);
}

void ag_stream_on_window(ag_t *ag, const tunnel_msg_t *m)
{
    ag_stream_t *st = find(ag, m->guid);
    if (!st || st->remote_gone)
        return;
    const char *why;
    if (tunnel_dir_grant(&st->tx, m->credit, (uint64_t)1 << 32, &why) != 0) {
        stream_abort(st, why);
        return;
    }
    stream_flush(st);
}

void ag_stream_on_terminator(ag_t *ag, const tunnel_msg_t *m)
{
    ag_stream_t *st = find(ag, m->guid);
    if (!st)
        return;
    if (m->mode == TUNNEL_TERM_RESET || st->state != AGS_OPEN) {
        char reason[TUNNEL_TEXT_MAX + 1];
        cstr(reason, sizeof reason, m->reason);
        log_debug("stream_reset_by_peer", LF_S("guid", st->guid), LF_S("reason", reason));
        st->remote_gone = true;
        unmap(st);
        if (st->conn)
            net_conn_abort(st->conn);
        else
            ag_stream_free(st);
        return;
    }
    if (m->mode == TUNNEL_TERM_CLOSE) {
        /* the peer is done both ways (seed semantics): flush and close */
        st->remote_gone = true;
        unmap(st);
        st->closing = true;
        if (st->conn)
            net_conn_close(st->conn);
        return;
    }
    if (st->fin_recv) {
        stream_abort(st, "second fin");
        return;
    }
    st->fin_recv = true;
    if (st->conn)
        net_conn_shutdown(st->conn);
    maybe_finish(st);
}

/* ---- the link ----------------------------------------------------------------- */

void ag_stream_link_drained(ag_t *ag)
{
    ag_stream_t *list = ag->wait_head;
    ag->wait_head = NULL;
    while (list) {
        ag_stream_t *st = list;
        list = st->wnext;
        st->waiting_link = false;
        st->wnext = NULL;
        stream_flush(st);
    }
}

void ag_stream_link_lost(ag_t *ag, const char *reason)
{
    size_t n = hmap_len(&ag->streams), i = 0, pos = 0;
    ag_stream_t **all = n ? malloc(n * sizeof *all) : NULL;
    ag_stream_t *st;
    while (all && (st = hmap_next(&ag->streams, &pos, NULL)))
        all[i++] = st;
    for (size_t k = 0; k < i; k++) {
        st = all[k];
        st->remote_gone = true;
        unmap(st);
        wait_remove(st);
        if (st->conn)
            net_conn_abort(st->conn);
        else
            ag_stream_free(st);
    }
    free(all);
    /* whatever could not be collected (out of memory) is dropped one by one */
    while ((st = hmap_next(&ag->streams, &(size_t){ 0 }, NULL))) {
        st->remote_gone = true;
        unmap(st);
        if (st->conn)
            net_conn_abort(st->conn);
        else
            ag_stream_free(st);
    }
    ag->wait_head = NULL;
    if (n)
        log_info("streams_reset", LF_U("streams", n), LF_S("reason", reason));
}
