#include "net/ws_int.h"

#include <errno.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/log.h"
#include "core/str.h"

/*
 * The endpoint. Frames are read by net/ws_frame (whole frames only; what is
 * not yet a whole frame waits in rx) and written here straight into the
 * connection's queue, so the send queue is the connection's queue and its
 * high/low water marks drive backpressure.
 */

enum {
    RX_SLACK = 128 * 1024, /* rx beyond one message: a partial frame plus a read */
    BUSY_KEEP = 256 * 1024, /* buffer memory a busy endpoint keeps between frames */
};

static const ws_cbs_t no_cbs = { 0 };

static void ws_process(ws_t *ws);

void *ws_data(const ws_t *ws) { return ws->ud; }
void ws_set_data(ws_t *ws, void *ud) { ws->ud = ud; }
net_conn_t *ws_conn(const ws_t *ws) { return ws->conn; }
const char *ws_peer(const ws_t *ws) { return net_conn_peer(ws->conn); }
const tls_peer_t *ws_tls_peer(const ws_t *ws) { return net_conn_tls_peer(ws->conn); }
size_t ws_queued(const ws_t *ws) { return net_conn_queued(ws->conn); }
/* The send queue is the connection's: one congestion state, one drain. */
bool ws_congested(const ws_t *ws) { return net_conn_congested(ws->conn); }

void ws_mask_bytes(uint8_t *dst, const uint8_t *src, size_t n, const uint8_t key[4])
{
    ws_mask(dst, src, n, key, 0);
}

void ws_set_close(ws_t *ws, uint16_t code, const char *reason)
{
    if (ws->close_code)
        return;
    ws->close_code = code;
    str_copy(ws->close_reason, sizeof ws->close_reason, reason ? reason : "");
}

void ws_fail(ws_t *ws, uint16_t code, const char *reason)
{
    ws_set_close(ws, code, reason);
    if (ws->state != WS_DEAD) {
        ws->state = WS_DEAD;
        net_conn_close(ws->conn);
    }
}

/* ---- output ------------------------------------------------------------------- */

static void mask_key(ws_t *ws, uint8_t key[4])
{
    /* xorshift64*, seeded from the CSPRNG per connection: masks must be
     * unpredictable to scripts on the path, not secret. */
    uint64_t x = ws->mask_state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    ws->mask_state = x;
    uint64_t v = x * 0x2545F4914F6CDD1DULL;
    memcpy(key, &v, 4);
}

/* One unfragmented frame from up to WS_SENDV_MAX pieces. A server's goes to
 * the connection as is (header + pieces, no copy); a client's payload is
 * masked through a 16 KiB staging chunk, under a cork so it leaves in one
 * write. */
static int write_frame(ws_t *ws, int op, const uv_buf_t *bufs, size_t n, size_t len)
{
    uint8_t hdr[WS_FRAME_HEADER_MAX];
    if (!ws->client) {
        uv_buf_t v[WS_SENDV_MAX + 1];
        v[0] = uv_buf_init((char *)hdr, (unsigned)ws_frame_header(hdr, op, len, NULL));
        for (size_t i = 0; i < n; i++)
            v[i + 1] = bufs[i];
        return net_conn_writev(ws->conn, v, n + 1);
    }
    uint8_t key[4];
    mask_key(ws, key);
    size_t h = ws_frame_header(hdr, op, len, key);
    /* The header leads the first chunk: under TLS every full chunk is then
     * one record, encrypted straight from here. */
    uint8_t chunk[16384];
    memcpy(chunk, hdr, h);
    size_t fill = h, off = 0; /* off: payload offset, the key's phase */
    net_conn_cork(ws->conn);
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        const uint8_t *src = (const uint8_t *)bufs[i].base;
        size_t left = bufs[i].len;
        while (rc == 0 && left) {
            size_t k = sizeof chunk - fill < left ? sizeof chunk - fill : left;
            ws_mask(chunk + fill, src, k, key, off);
            fill += k;
            off += k;
            src += k;
            left -= k;
            if (fill == sizeof chunk) {
                rc = net_conn_write(ws->conn, chunk, fill);
                fill = 0;
            }
        }
    }
    if (rc == 0 && fill)
        rc = net_conn_write(ws->conn, chunk, fill);
    net_conn_uncork(ws->conn);
    return rc;
}

static int write_control(ws_t *ws, int op, const void *payload, size_t len)
{
    uv_buf_t b = uv_buf_init((char *)payload, (unsigned)len);
    int rc = write_frame(ws, op, &b, 1, len);
    if (rc)
        ws_fail(ws, WS_CLOSE_ABNORMAL, "write failed");
    return rc;
}

/* Our close frame (once). code 0: a close frame without a status. */
static void send_close(ws_t *ws, uint16_t code, const char *reason, size_t rlen)
{
    if (ws->close_sent)
        return;
    ws->close_sent = true;
    uint8_t payload[125];
    size_t n = 0;
    if (code && code != 1005 && code != WS_CLOSE_ABNORMAL) {
        if (rlen > sizeof payload - 2)
            rlen = sizeof payload - 2;
        while (rlen && (reason[rlen] & 0xC0) == 0x80)
            rlen--; /* cut on a UTF-8 character boundary */
        payload[0] = (uint8_t)(code >> 8);
        payload[1] = (uint8_t)code;
        memcpy(payload + 2, reason, rlen);
        n = 2 + rlen;
    }
    write_control(ws, WS_OP_CLOSE, payload, n);
}

int ws_sendv(ws_t *ws, int type, const uv_buf_t *bufs, size_t n)
{
    if (ws->state != WS_OPEN)
        return -EPIPE;
    if (n > WS_SENDV_MAX)
        return -EINVAL;
    size_t len = 0;
    for (size_t i = 0; i < n; i++)
        len += bufs[i].len;
    if (len > UINT32_MAX || ws_queued(ws) + len > ws->o.max_queue)
        return -ENOBUFS;
    int rc = write_frame(ws, type == WS_TEXT ? WS_OP_TEXT : WS_OP_BINARY, bufs, n, len);
    if (rc) {
        /* part of a frame may be queued: the stream is unusable */
        ws_fail(ws, WS_CLOSE_ABNORMAL, "write failed");
        return rc == -ENOBUFS ? -ENOBUFS : -EPIPE;
    }
    return 0;
}

int ws_send(ws_t *ws, int type, const void *data, size_t len)
{
    if (len > UINT32_MAX)
        return -EINVAL;
    uv_buf_t b = uv_buf_init((char *)data, (unsigned)len);
    return ws_sendv(ws, type, &b, 1);
}

/* ---- input ---------------------------------------------------------------------- */

static void on_peer_close(ws_t *ws, const ws_read_event_t *ev)
{
    char reason[124];
    str_copyn(reason, sizeof reason, ev->reason ? ev->reason : "", ev->reason_len);
    ws->close_rcvd = true;
    ws->close_code = 0; /* the peer's code and reason win over ours */
    ws_set_close(ws, ev->code, reason);
    /* echo its code, as RFC 6455 5.5.1 suggests, and close once it is out */
    send_close(ws, ev->code, ev->reason ? ev->reason : "", ev->reason_len);
    if (ws->state != WS_DEAD) {
        ws->state = WS_DEAD;
        net_conn_close(ws->conn);
    }
}

static void on_protocol_error(ws_t *ws, const ws_read_event_t *ev)
{
    log_info("ws_protocol_error", LF_S("peer", net_conn_peer(ws->conn)), LF_I("code", ev->code),
             LF_S("reason", ev->reason));
    ws_set_close(ws, ev->code, ev->reason);
    send_close(ws, ev->code, ev->reason, ev->reason_len);
    if (ws->state != WS_DEAD) {
        ws->state = WS_DEAD;
        net_conn_close(ws->conn); /* after the close frame: no answer is awaited */
    }
}

/* Frame the bytes p[0..n); returns how many were used. Stops at a partial
 * frame, a pause, or the end of the connection. */
static size_t consume(ws_t *ws, const uint8_t *p, size_t n)
{
    size_t used = 0;
    while (used < n && !ws->paused && (ws->state == WS_OPEN || ws->state == WS_CLOSING)) {
        size_t took;
        ws_read_event_t ev;
        ws_read_result_t r = ws_reader_next(&ws->rd, p + used, n - used, &took, &ev);
        if (r == WS_READ_MORE)
            break;
        used += took;
        switch (r) {
        case WS_READ_MESSAGE:
            /* after our close frame, data is dropped while we wait for theirs */
            if (ws->state == WS_OPEN && ws->cbs->on_message)
                ws->cbs->on_message(ws, ev.op == WS_OP_TEXT ? WS_TEXT : WS_BINARY, ev.data, ev.len);
            break;
        case WS_READ_PING:
            if (!ws->close_sent)
                write_control(ws, WS_OP_PONG, ev.data, ev.len);
            break;
        case WS_READ_PONG:
            ws->awaiting_pong = false;
            ws_arm_timer(ws); /* the next ping is due a period after the last */
            break;
        case WS_READ_CLOSE:
            on_peer_close(ws, &ev);
            return used;
        case WS_READ_ERROR:
            on_protocol_error(ws, &ev);
            return used;
        case WS_READ_FRAGMENT:
        case WS_READ_MORE:
            break;
        }
    }
    return used;
}

/* After a pass over the input. Buffers stay (up to BUSY_KEEP) for the next
 * frames: reallocating them per read cost the tunnel a third of its wss
 * throughput. The keepalive tick frees them once the peer has gone quiet. */
static void after_input(ws_t *ws)
{
    ws->rx_partial = ws->rx.len && !ws->paused;
    ws->input_seen = true;
    if (!ws->rx.len) {
        buf_reset_keep(&ws->rx, BUSY_KEEP);
        ws_reader_trim(&ws->rd, BUSY_KEEP);
    }
}

/* Nothing arrived since the last tick: an idle endpoint holds no buffers. */
static void trim_if_idle(ws_t *ws)
{
    if (!ws->input_seen && !ws->rx.len) {
        buf_free(&ws->rx);
        ws_reader_trim(&ws->rd, 0);
    }
    ws->input_seen = false;
}

static void ws_process(ws_t *ws)
{
    if (ws->paused || !ws->rx.len || (ws->state != WS_OPEN && ws->state != WS_CLOSING))
        return;
    size_t used = consume(ws, (const uint8_t *)ws->rx.data, ws->rx.len);
    if (ws->state == WS_DEAD)
        return;
    buf_consume(&ws->rx, used);
    after_input(ws);
}

void ws_feed(ws_t *ws, const char *data, size_t len)
{
    if (ws->state == WS_DEAD)
        return;
    if (ws->paused || ws->rx.len) { /* keep order behind what already waits */
        if (buf_append(&ws->rx, data, len)) {
            ws_fail(ws, WS_CLOSE_ABNORMAL, "receive buffer overflow");
            return;
        }
        ws_process(ws);
        return;
    }
    size_t used = consume(ws, (const uint8_t *)data, len);
    if (ws->state == WS_DEAD)
        return;
    if (used < len && buf_append(&ws->rx, data + used, len - used)) {
        ws_fail(ws, WS_CLOSE_ABNORMAL, "receive buffer overflow");
        return;
    }
    after_input(ws);
}

/* ---- connection callbacks ------------------------------------------------------- */

static void on_conn_read(net_conn_t *c, const char *data, size_t len)
{
    ws_feed(net_conn_data(c), data, len);
}

void ws_on_conn_eof(net_conn_t *c)
{
    ws_t *ws = net_conn_data(c);
    ws_set_close(ws, WS_CLOSE_ABNORMAL, "connection closed without a close frame");
    ws->state = WS_DEAD;
    net_conn_close(c);
}

void ws_on_conn_drain(net_conn_t *c)
{
    ws_t *ws = net_conn_data(c);
    if (ws->state == WS_OPEN && ws->cbs->on_drain)
        ws->cbs->on_drain(ws);
}

void ws_on_conn_close(net_conn_t *c, int err)
{
    ws_t *ws = net_conn_data(c);
    ws_set_close(ws, WS_CLOSE_ABNORMAL, err ? log_strerror(err) : "connection closed");
    ws->state = WS_DEAD;
    if (ws->cbs->on_close)
        ws->cbs->on_close(ws, ws->close_code, ws->close_reason);
    ws_free(ws);
}

static const net_conn_cbs_t server_conn_cbs = {
    .on_read = on_conn_read,
    .on_eof = ws_on_conn_eof,
    .on_drain = ws_on_conn_drain,
    .on_close = ws_on_conn_close,
};

/* ---- timers: handshake deadline, pings, close wait, deferred input ------------- */

static void on_timer(net_conn_t *c)
{
    ws_t *ws = net_conn_data(c);
    int64_t now = clock_mono_ms();
    if (ws->state == WS_CONNECTING) {
        if (now >= ws->deadline_ms) {
            log_info("ws_connect_timeout", LF_S("peer", net_conn_peer(c)));
            ws_fail(ws, WS_CLOSE_ABNORMAL, "handshake timeout");
            return;
        }
    } else if (ws->state == WS_CLOSING) {
        if (now - ws->close_started_ms >= ws->o.close_timeout_ms) {
            log_debug("ws_close_timeout", LF_S("peer", net_conn_peer(c)));
            ws->state = WS_DEAD;
            net_conn_abort(c);
            return;
        }
        if (ws->rx.len && !ws->paused && !ws->rx_partial)
            ws_process(ws);
    } else if (ws->state == WS_OPEN) {
        if (ws->rx.len && !ws->paused && !ws->rx_partial)
            ws_process(ws);
        /* While paused we do not read, so a pong could not be seen: a
         * peer is not dead because we stopped listening (the relay pauses
         * a sender whose partner is slow). The cycle restarts on resume. */
        if (ws->state == WS_OPEN && ws->o.ping_interval_ms > 0 && !ws->paused) {
            if (!ws->awaiting_pong && now - ws->ping_sent_ms >= ws->o.ping_interval_ms)
                trim_if_idle(ws); /* once per ping period */
            if (ws->awaiting_pong && now - ws->ping_sent_ms >= ws->o.pong_timeout_ms) {
                log_info("ws_ping_timeout", LF_S("peer", net_conn_peer(c)),
                         LF_I("timeout_ms", ws->o.pong_timeout_ms));
                ws_set_close(ws, WS_CLOSE_ABNORMAL, "ping timeout");
                ws->state = WS_DEAD;
                net_conn_abort(c);
                return;
            }
            if (!ws->awaiting_pong && now - ws->ping_sent_ms >= ws->o.ping_interval_ms) {
                ws->ping_sent_ms = now;
                ws->awaiting_pong = true;
                write_control(ws, WS_OP_PING, "ka", 2);
            }
        }
    }
    if (ws->state != WS_DEAD)
        ws_arm_timer(ws);
}

void ws_arm_timer(ws_t *ws)
{
    int64_t now = clock_mono_ms(), next = -1;
    bool pinging = ws->state == WS_OPEN && ws->o.ping_interval_ms > 0 && !ws->paused;
    if (ws->state == WS_CONNECTING)
        next = ws->deadline_ms - now;
    else if (ws->state == WS_CLOSING)
        next = ws->close_started_ms + ws->o.close_timeout_ms - now;
    else if (pinging)
        next = ws->awaiting_pong ? ws->ping_sent_ms + ws->o.pong_timeout_ms - now
                                 : ws->ping_sent_ms + ws->o.ping_interval_ms - now;
    if ((ws->state == WS_OPEN || ws->state == WS_CLOSING) && ws->rx.len && !ws->paused &&
        !ws->rx_partial)
        next = 0; /* input that waited: handle it on the next turn */
    if (next < 0 && (ws->state == WS_CONNECTING || ws->state == WS_CLOSING || pinging))
        next = 0;
    net_conn_timer(ws->conn, next, next >= 0 ? on_timer : NULL);
}

/* ---- life cycle ------------------------------------------------------------------ */

static void apply_defaults(ws_opts_t *o, const ws_opts_t *in)
{
    if (in)
        *o = *in;
    if (!o->max_message)
        o->max_message = 1024 * 1024;
    if (!o->high_water)
        o->high_water = 1024 * 1024;
    if (!o->low_water || o->low_water > o->high_water)
        o->low_water = o->high_water / 4;
    if (!o->max_queue)
        o->max_queue = 16 * 1024 * 1024;
    if (!o->pong_timeout_ms)
        o->pong_timeout_ms = 10000;
    if (!o->close_timeout_ms)
        o->close_timeout_ms = 5000;
}

ws_t *ws_new(net_conn_t *c, const ws_opts_t *opts, const ws_cbs_t *cbs, void *ud, bool client)
{
    ws_t *ws = calloc(1, sizeof *ws);
    if (!ws)
        return NULL;
    apply_defaults(&ws->o, opts);
    ws->conn = c;
    ws->cbs = cbs ? cbs : &no_cbs;
    ws->ud = ud;
    ws->client = client;
    buf_init(&ws->rx, ws->o.max_message + RX_SLACK);
    ws_reader_init(&ws->rd, !client, ws->o.max_message);
    ws->rd.in_place = true; /* its input is the read chunk or rx, both ours */
    if (RAND_bytes((unsigned char *)&ws->mask_state, sizeof ws->mask_state) != 1 || !ws->mask_state)
        ws->mask_state = (uint64_t)clock_mono_us() | 1;
    return ws;
}

void ws_free(ws_t *ws)
{
    ws_reader_free(&ws->rd);
    http_parser_free(ws->hs_parser);
    if (ws->hs_url)
        net_url_clear(ws->hs_url);
    free(ws->hs_url);
    free(ws->hs_headers);
    buf_free(&ws->rx);
    free(ws);
}

void ws_start(ws_t *ws)
{
    ws->state = WS_OPEN;
    ws->ping_sent_ms = clock_mono_ms();
    /* queue bounds on the connection follow the WebSocket's */
    net_conn_set_limits(ws->conn, &(net_limits_t){ .high_water = ws->o.high_water,
                                                    .low_water = ws->o.low_water,
                                                    .max_queue = ws->o.max_queue + 65536 });
    ws_arm_timer(ws);
}

void ws_close(ws_t *ws, uint16_t code, const char *reason)
{
    if (ws->state == WS_DEAD || ws->state == WS_CLOSING)
        return;
    if (ws->state == WS_CONNECTING) {
        ws_fail(ws, code, reason);
        return;
    }
    reason = reason ? reason : "";
    ws_set_close(ws, code, reason);
    send_close(ws, code, reason, strlen(reason));
    if (ws->state == WS_DEAD)
        return;
    ws->state = WS_CLOSING; /* until their close frame, or close_timeout_ms */
    ws->close_started_ms = clock_mono_ms();
    ws_arm_timer(ws);
}

void ws_abort(ws_t *ws)
{
    if (ws->state == WS_DEAD)
        return;
    ws_set_close(ws, WS_CLOSE_ABNORMAL, "aborted");
    ws->state = WS_DEAD;
    net_conn_abort(ws->conn);
}

void ws_pause(ws_t *ws)
{
    if (ws->paused)
        return;
    ws->paused = true;
    net_conn_pause(ws->conn);
}

void ws_resume(ws_t *ws)
{
    if (!ws->paused)
        return;
    ws->paused = false;
    if (ws->state == WS_DEAD)
        return;
    net_conn_resume(ws->conn);
    if (ws->state == WS_OPEN) {
        /* a fresh keepalive cycle: the pong we were waiting for may be
         * among the bytes we did not read */
        ws->awaiting_pong = false;
        ws->ping_sent_ms = clock_mono_ms();
    }
    ws->rx_partial = false; /* look at what waited, on the next turn */
    ws_arm_timer(ws);
}

/* ---- server handshake -------------------------------------------------------------- */

void ws_accept_key(const char *key, char out[32])
{
    unsigned char sha[SHA_DIGEST_LENGTH];
    char in[128];
    snprintf(in, sizeof in, "%s" WS_GUID, key);
    SHA1((const unsigned char *)in, strlen(in), sha);
    buf_t b = BUF_INIT(40);
    str_base64_encode(&b, sha, sizeof sha);
    str_copy(out, 32, b.data);
    buf_free(&b);
}

static bool valid_key(const char *key)
{
    if (!key || strlen(key) != 24)
        return false;
    buf_t b = BUF_INIT(32);
    bool ok = str_base64_decode(&b, key, 24) == 0 && b.len == 16;
    buf_free(&b);
    return ok;
}

ws_t *ws_accept(http_req_t *req, const ws_opts_t *opts, const ws_cbs_t *cbs, void *ud,
                const char *subprotocol)
{
    const http_msg_t *m = http_req_msg(req);
    const char *key = http_req_header(req, "Sec-WebSocket-Key");
    const char *ver = http_req_header(req, "Sec-WebSocket-Version");
    if (strcmp(m->method, "GET") != 0 || !http_msg_header_has_token(m, "Upgrade", "websocket") ||
        !http_msg_header_has_token(m, "Connection", "upgrade")) {
        http_respond_hdrs(req, 426, "Upgrade: websocket\r\n", "text/plain; charset=utf-8",
                          "websocket upgrade required\n", 27);
        return NULL;
    }
    if (!ver || strcmp(ver, "13") != 0) {
        http_respond_hdrs(req, 426, "Sec-WebSocket-Version: 13\r\n", "text/plain; charset=utf-8",
                          "unsupported websocket version\n", 30);
        return NULL;
    }
    if (!valid_key(key)) {
        http_respond_error(req, 400, "bad Sec-WebSocket-Key");
        return NULL;
    }
    char accept[32];
    ws_accept_key(key, accept);
    char head[512];
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Accept: %s\r\n%s%s%s\r\n",
                     accept, subprotocol ? "Sec-WebSocket-Protocol: " : "",
                     subprotocol ? subprotocol : "", subprotocol ? "\r\n" : "");
    buf_t leftover = BUF_INIT(1 << 20);
    net_conn_t *c = http_req_take_conn(req, &leftover);
    if (!c) {
        buf_free(&leftover);
        http_respond_error(req, 400, "cannot upgrade this request");
        return NULL;
    }
    ws_t *ws = ws_new(c, opts, cbs, ud, false);
    if (!ws) {
        buf_free(&leftover);
        net_conn_abort(c);
        return NULL;
    }
    net_conn_set_cbs(c, &server_conn_cbs, ws);
    ws_start(ws);
    net_conn_write(c, head, (size_t)n);
    if (leftover.len) {
        /* frames that came with the request: handled on the next turn,
         * after the owner has its state ready */
        if (buf_append(&ws->rx, leftover.data, leftover.len) == 0)
            ws_arm_timer(ws);
    }
    buf_free(&leftover);
    return ws;
}

/* ---- the frame reader without a connection (fuzzing) ------------------------------ */

size_t ws_frames_feed(const uint8_t *data, size_t len, size_t max_message)
{
    /* as a server reads: whole frames out of what arrived so far, the input
     * split in two reads at a point the data itself picks */
    ws_reader_t rd;
    ws_reader_init(&rd, true, max_message);
    rd.in_place = true; /* as the endpoint reads: its rx buffer is ours */
    buf_t rx = BUF_INIT(max_message + RX_SLACK);
    size_t msgs = 0, split = len ? data[0] % (len + 1) : 0;
    const uint8_t *parts[2] = { data, data + split };
    size_t lens[2] = { split, len - split };
    bool done = false;
    for (int i = 0; i < 2 && !done; i++) {
        if (buf_append(&rx, parts[i], lens[i]))
            break;
        size_t off = 0;
        while (!done) {
            size_t took;
            ws_read_event_t ev;
            ws_read_result_t r = ws_reader_next(&rd, (const uint8_t *)rx.data + off, rx.len - off,
                                                &took, &ev);
            off += took;
            if (r == WS_READ_MORE)
                break;
            if (r == WS_READ_MESSAGE)
                msgs++;
            done = r == WS_READ_CLOSE || r == WS_READ_ERROR;
        }
        buf_consume(&rx, off);
    }
    buf_free(&rx);
    ws_reader_free(&rd);
    return msgs;
}
