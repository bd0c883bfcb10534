#include "net/ws.h"

#include <errno.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <wslay/wslay.h>

#include "core/clock.h"
#include "core/log.h"
#include "core/str.h"
#include "net/http_parse.h"

/*
 * wslay does the framing (masking, fragmentation, control frames, UTF-8
 * checks, close replies). We feed it what the connection reads and give it
 * what it writes; its own queue plus the connection's queue form the send
 * queue whose size drives backpressure.
 */

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

typedef enum ws_state { WS_CONNECTING, WS_OPEN, WS_CLOSING, WS_DEAD } ws_state_t;

struct ws {
    net_conn_t *conn;
    wslay_event_context_ptr ctx;
    ws_opts_t o;
    const ws_cbs_t *cbs;
    void *ud;
    ws_state_t state;
    bool client, paused, congested, reported;
    /* bytes read but not yet given to wslay (pause, or before the 101) */
    buf_t rx;
    const char *feed;
    size_t feed_len;
    /* keepalive */
    int64_t ping_sent_ms;
    bool awaiting_pong;
    int64_t close_started_ms;
    /* client handshake */
    http_parser_t *hs_parser;
    net_url_t *hs_url;    /* owned until the upgrade request is sent */
    char *hs_headers;     /* extra request header lines, owned */
    char hs_accept[32];
    bool hs_done;
    int64_t deadline_ms;
    uint64_t mask_state;
    /* input fast path (see ws_consume) */
    uint64_t slow_left;   /* bytes of the current frame still owed to wslay */
    bool in_fragment;     /* wslay is inside a fragmented message */
    buf_t unmasked;       /* payload of the frame being delivered */
    bool rx_partial;      /* rx ends in an incomplete frame: wait for bytes */
    /* close report */
    uint16_t close_code;
    char close_reason[124];
};

static const ws_cbs_t no_cbs = { 0 };

static void ws_pump_send(ws_t *ws);
static void ws_process(ws_t *ws);
static void arm_timer(ws_t *ws);

void *ws_data(const ws_t *ws) { return ws->ud; }
void ws_set_data(ws_t *ws, void *ud) { ws->ud = ud; }
net_conn_t *ws_conn(const ws_t *ws) { return ws->conn; }
const char *ws_peer(const ws_t *ws) { return net_conn_peer(ws->conn); }
const tls_peer_t *ws_tls_peer(const ws_t *ws) { return net_conn_tls_peer(ws->conn); }

size_t ws_queued(const ws_t *ws)
{
    return (ws->ctx ? wslay_event_get_queued_msg_length(ws->ctx) : 0) + net_conn_queued(ws->conn);
}

bool ws_congested(const ws_t *ws) { return ws->congested; }

static void set_close(ws_t *ws, uint16_t code, const char *reason)
{
    if (ws->close_code)
        return;
    ws->close_code = code;
    str_copy(ws->close_reason, sizeof ws->close_reason, reason ? reason : "");
}

/* ---- wslay callbacks ------------------------------------------------------- */

static ssize_t recv_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags, void *ud)
{
    ws_t *ws = ud;
    if (ws->paused || ws->feed_len == 0) {
        wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
        return -1;
    }
    size_t n = len < ws->feed_len ? len : ws->feed_len;
    memcpy(buf, ws->feed, n);
    ws->feed += n;
    ws->feed_len -= n;
    return (ssize_t)n;
}

static ssize_t send_cb(wslay_event_context_ptr ctx, const uint8_t *data, size_t len, int flags,
                       void *ud)
{
    ws_t *ws = ud;
    /* Leave the rest in wslay's queue while the socket is behind. */
    if (net_conn_congested(ws->conn)) {
        wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
        return -1;
    }
    if (net_conn_write(ws->conn, data, len) != 0) {
        wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
        return -1;
    }
    return (ssize_t)len;
}

static int genmask_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, void *ud)
{
    ws_t *ws = ud;
    /* xorshift64*, seeded from the CSPRNG per connection: masks only need
     * to be unpredictable to scripts in the same origin, not secret. */
    for (size_t i = 0; i < len; i += 8) {
        uint64_t x = ws->mask_state;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        ws->mask_state = x;
        uint64_t v = x * 0x2545F4914F6CDD1DULL;
        memcpy(buf + i, &v, len - i < 8 ? len - i : 8);
    }
    return 0;
}

static void on_msg_cb(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *arg,
                      void *ud)
{
    ws_t *ws = ud;
    if (arg->opcode == WSLAY_PONG) {
        ws->awaiting_pong = false;
        return;
    }
    if (arg->opcode == WSLAY_CONNECTION_CLOSE) {
        char reason[124] = "";
        if (arg->msg_length > 2)
            str_copyn(reason, sizeof reason, (const char *)arg->msg + 2, arg->msg_length - 2);
        /* the peer's code and reason win over ours */
        ws->close_code = 0;
        set_close(ws, arg->status_code ? arg->status_code : WS_CLOSE_NORMAL, reason);
        if (ws->state == WS_OPEN)
            ws->state = WS_CLOSING;
        return;
    }
    if (arg->opcode != WSLAY_TEXT_FRAME && arg->opcode != WSLAY_BINARY_FRAME)
        return;
    if (ws->state == WS_OPEN && ws->cbs->on_message)
        ws->cbs->on_message(ws, arg->opcode == WSLAY_TEXT_FRAME ? WS_TEXT : WS_BINARY, arg->msg,
                            arg->msg_length);
}

static const struct wslay_event_callbacks wslay_cbs = {
    .recv_callback = recv_cb,
    .send_callback = send_cb,
    .genmask_callback = genmask_cb,
    .on_msg_recv_callback = on_msg_cb,
};

/* ---- connection glue --------------------------------------------------------- */

static void ws_fail(ws_t *ws, uint16_t code, const char *reason)
{
    set_close(ws, code, reason);
    if (ws->state != WS_DEAD) {
        ws->state = WS_DEAD;
        if (ws->conn) /* NULL only in ws_frames_feed (fuzzing) */
            net_conn_close(ws->conn);
    }
}

static void maybe_finish(ws_t *ws)
{
    if (!ws->ctx || ws->state == WS_DEAD)
        return;
    bool rcvd = wslay_event_get_close_received(ws->ctx);
    bool sent = wslay_event_get_close_sent(ws->ctx);
    /* Both closes exchanged (or a fatal error stopped both directions). */
    if ((rcvd && sent) || (!wslay_event_want_read(ws->ctx) && !wslay_event_want_write(ws->ctx))) {
        if (!rcvd && sent && !wslay_event_get_read_enabled(ws->ctx)) {
            /* we closed after a protocol error: report our code */
            uint16_t code = wslay_event_get_status_code_sent(ws->ctx);
            set_close(ws, code, code == WS_CLOSE_TOO_BIG ? "message too big" : "protocol error");
        }
        ws->state = WS_DEAD;
        net_conn_close(ws->conn); /* flushes the close frame first */
    }
}

static void ws_pump_send(ws_t *ws)
{
    if (!ws->ctx || ws->state == WS_DEAD)
        return;
    if (wslay_event_want_write(ws->ctx)) {
        /* wslay hands masked payloads over in 4 KiB pieces: coalesce them
         * into one write (and one TLS record run) per pump. */
        net_conn_cork(ws->conn);
        int rc = wslay_event_send(ws->ctx);
        net_conn_uncork(ws->conn);
        if (rc != 0) {
            ws_fail(ws, WS_CLOSE_ABNORMAL, "write failed");
            return;
        }
    }
    if (!ws->congested && ws_queued(ws) > ws->o.high_water)
        ws->congested = true;
    maybe_finish(ws);
}

/*
 * Input. wslay unmasks byte by byte and copies everything through a 4 KiB
 * buffer, which made it the top cost of a busy server. So complete,
 * unfragmented binary frames, masked as the role requires and within
 * max_message, are taken here (unmasked 8 bytes at a time) and delivered
 * directly; every other frame (control, text, fragments, anything odd that
 * must be answered with a close code) is handed to wslay whole, one frame at
 * a time, so wslay never holds part of a frame when the next one is looked at.
 */

/* Give wslay up to n bytes; returns how many it took (0 on failure). */
static size_t wslay_feed(ws_t *ws, const uint8_t *p, size_t n)
{
    ws->feed = (const char *)p;
    ws->feed_len = n;
    int rc = wslay_event_recv(ws->ctx);
    size_t took = n - ws->feed_len;
    ws->feed_len = 0;
    if (rc != 0) {
        ws_fail(ws, WS_CLOSE_ABNORMAL, "read failed");
        return 0;
    }
    return took;
}

/* Consume frames from p[0..n): returns the bytes used; stops early when
 * paused, dead, or at an incomplete frame the fast path wants whole. */
static size_t ws_consume(ws_t *ws, const uint8_t *p, size_t n)
{
    size_t used = 0;
    while (used < n && !ws->paused && ws->state != WS_DEAD) {
        if (ws->slow_left) {
            size_t k = n - used < ws->slow_left ? n - used : (size_t)ws->slow_left;
            size_t took = wslay_feed(ws, p + used, k);
            used += took;
            ws->slow_left -= took;
            if (took < k)
                break;
            continue;
        }
        const uint8_t *f = p + used;
        size_t avail = n - used, hl = 2;
        if (avail < 2)
            break;
        uint64_t plen = f[1] & 0x7f;
        bool masked = f[1] & 0x80, fin = f[0] & 0x80;
        unsigned op = f[0] & 0x0f, rsv = f[0] & 0x70;
        if (plen == 126) {
            if (avail < 4)
                break;
            plen = (uint64_t)f[2] << 8 | f[3];
            hl = 4;
        } else if (plen == 127) {
            if (avail < 10)
                break;
            plen = 0;
            for (int i = 2; i < 10; i++)
                plen = plen << 8 | f[i];
            hl = 10;
        }
        if (masked)
            hl += 4;
        bool fast = fin && !rsv && op == 0x2 && !ws->in_fragment && masked == !ws->client &&
                    plen <= ws->o.max_message && ws->state == WS_OPEN &&
                    wslay_event_get_read_enabled(ws->ctx);
        if (!fast) {
            if (op <= 0x2) /* data or continuation: track fragmented messages */
                ws->in_fragment = !fin;
            ws->slow_left = plen > UINT64_MAX - hl ? UINT64_MAX : hl + plen;
            continue;
        }
        if (avail < hl + plen)
            break; /* wait for the whole frame */
        const uint8_t *payload = f + hl;
        if (masked) {
            if (buf_reserve(&ws->unmasked, (size_t)plen + 1) != 0) {
                ws_fail(ws, WS_CLOSE_INTERNAL, "out of memory");
                break;
            }
            ws_mask_bytes((uint8_t *)ws->unmasked.data, payload, (size_t)plen, f + hl - 4);
            payload = (const uint8_t *)ws->unmasked.data;
        }
        used += hl + (size_t)plen;
        if (ws->cbs->on_message)
            ws->cbs->on_message(ws, WS_BINARY, payload, (size_t)plen);
    }
    return used;
}

/* Handle the bytes waiting in rx (after a pause, or a partial frame). */
static void ws_process(ws_t *ws)
{
    if (!ws->ctx || ws->state == WS_DEAD || ws->paused)
        return;
    if (ws->rx.len) {
        size_t used = ws_consume(ws, (const uint8_t *)ws->rx.data, ws->rx.len);
        if (ws->state == WS_DEAD)
            return;
        buf_consume(&ws->rx, used);
        ws->rx_partial = ws->rx.len && !ws->paused;
    }
    buf_reset_keep(&ws->unmasked, 256 * 1024);
    ws_pump_send(ws);
}

static void on_conn_read(net_conn_t *c, const char *data, size_t len);

static void feed_bytes(ws_t *ws, const char *data, size_t len)
{
    if (ws->paused || ws->rx.len) {
        if (buf_append(&ws->rx, data, len)) {
            ws_fail(ws, WS_CLOSE_ABNORMAL, "receive buffer overflow");
            return;
        }
        ws_process(ws);
        return;
    }
    size_t used = ws_consume(ws, (const uint8_t *)data, len);
    if (used < len && ws->state != WS_DEAD && buf_append(&ws->rx, data + used, len - used)) {
        ws_fail(ws, WS_CLOSE_ABNORMAL, "receive buffer overflow");
        return;
    }
    ws->rx_partial = ws->rx.len && !ws->paused;
    if (ws->state != WS_DEAD)
        buf_reset_keep(&ws->unmasked, 256 * 1024);
    ws_pump_send(ws);
}

static void client_handshake_bytes(ws_t *ws, const char *data, size_t len);

static void on_conn_read(net_conn_t *c, const char *data, size_t len)
{
    ws_t *ws = net_conn_data(c);
    if (ws->state == WS_DEAD)
        return;
    if (!ws->ctx) {
        client_handshake_bytes(ws, data, len);
        return;
    }
    feed_bytes(ws, data, len);
}

static void on_conn_eof(net_conn_t *c)
{
    ws_t *ws = net_conn_data(c);
    set_close(ws, WS_CLOSE_ABNORMAL, "connection closed without a close frame");
    ws->state = WS_DEAD;
    net_conn_close(c);
}

static void on_conn_drain(net_conn_t *c)
{
    ws_t *ws = net_conn_data(c);
    ws_pump_send(ws);
    if (ws->congested && ws_queued(ws) <= ws->o.low_water) {
        ws->congested = false;
        if (ws->state == WS_OPEN && ws->cbs->on_drain)
            ws->cbs->on_drain(ws);
    }
}

static void on_conn_close(net_conn_t *c, int err)
{
    ws_t *ws = net_conn_data(c);
    if (!ws->close_code)
        set_close(ws, WS_CLOSE_ABNORMAL, err ? log_strerror(err) : "connection closed");
    ws->state = WS_DEAD;
    if (ws->cbs->on_close)
        ws->cbs->on_close(ws, ws->close_code, ws->close_reason);
    if (ws->ctx)
        wslay_event_context_free(ws->ctx);
    http_parser_free(ws->hs_parser);
    free(ws->hs_url);
    free(ws->hs_headers);
    buf_free(&ws->rx);
    buf_free(&ws->unmasked);
    free(ws);
}

static const net_conn_cbs_t conn_cbs = {
    .on_read = on_conn_read,
    .on_eof = on_conn_eof,
    .on_drain = on_conn_drain,
    .on_close = on_conn_close,
};

/* ---- timers: handshake deadline, pings, close wait, deferred input ----------- */

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
    } else if (ws->state == WS_OPEN) {
        if (ws->rx.len && !ws->paused && !ws->rx_partial)
            ws_process(ws);
        /* While paused we do not read, so a pong could not be seen: a
         * peer is not dead because we stopped listening (the relay pauses
         * a sender whose partner is slow). The cycle restarts on resume. */
        if (ws->state == WS_OPEN && ws->o.ping_interval_ms > 0 && !ws->paused) {
            if (ws->awaiting_pong && now - ws->ping_sent_ms >= ws->o.pong_timeout_ms) {
                log_info("ws_ping_timeout", LF_S("peer", net_conn_peer(c)),
                         LF_I("timeout_ms", ws->o.pong_timeout_ms));
                set_close(ws, WS_CLOSE_ABNORMAL, "ping timeout");
                ws->state = WS_DEAD;
                net_conn_abort(c);
                return;
            }
            if (!ws->awaiting_pong && now - ws->ping_sent_ms >= ws->o.ping_interval_ms) {
                struct wslay_event_msg m = { WSLAY_PING, (const uint8_t *)"ka", 2 };
                wslay_event_queue_msg(ws->ctx, &m);
                ws->ping_sent_ms = now;
                ws->awaiting_pong = true;
                ws_pump_send(ws);
            }
        }
    }
    if (ws->state != WS_DEAD)
        arm_timer(ws);
}

static void arm_timer(ws_t *ws)
{
    int64_t now = clock_mono_ms(), next = -1;
    if (ws->state == WS_CONNECTING) {
        next = ws->deadline_ms - now;
    } else if (ws->state == WS_CLOSING) {
        next = ws->close_started_ms + ws->o.close_timeout_ms - now;
    } else if (ws->state == WS_OPEN && ws->o.ping_interval_ms > 0 && !ws->paused) {
        next = ws->awaiting_pong ? ws->ping_sent_ms + ws->o.pong_timeout_ms - now
                                 : ws->ping_sent_ms + ws->o.ping_interval_ms - now;
    }
    if (ws->state == WS_OPEN && ws->rx.len && !ws->paused && !ws->rx_partial)
        next = 0;
    if (next < 0 && (ws->state == WS_CONNECTING || ws->state == WS_CLOSING ||
                     (ws->state == WS_OPEN && ws->o.ping_interval_ms > 0 && !ws->paused)))
        next = 0;
    net_conn_timer(ws->conn, next, next >= 0 ? on_timer : NULL);
}

/* ---- public API ----------------------------------------------------------------- */

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

static ws_t *ws_new(net_conn_t *c, const ws_opts_t *opts, const ws_cbs_t *cbs, void *ud, bool client)
{
    ws_t *ws = calloc(1, sizeof *ws);
    if (!ws)
        return NULL;
    apply_defaults(&ws->o, opts);
    ws->conn = c;
    ws->cbs = cbs ? cbs : &no_cbs;
    ws->ud = ud;
    ws->client = client;
    buf_init(&ws->rx, ws->o.max_message + 65536);
    buf_init(&ws->unmasked, ws->o.max_message + 1);
    if (RAND_bytes((unsigned char *)&ws->mask_state, sizeof ws->mask_state) != 1 || !ws->mask_state)
        ws->mask_state = (uint64_t)clock_mono_us() | 1;
    return ws;
}

static int ws_start(ws_t *ws)
{
    int rc = ws->client ? wslay_event_context_client_init(&ws->ctx, &wslay_cbs, ws)
                        : wslay_event_context_server_init(&ws->ctx, &wslay_cbs, ws);
    if (rc)
        return -ENOMEM;
    wslay_event_config_set_max_recv_msg_length(ws->ctx, ws->o.max_message);
    ws->state = WS_OPEN;
    ws->ping_sent_ms = clock_mono_ms();
    /* queue bounds on the connection follow the WebSocket's */
    net_conn_set_limits(ws->conn, &(net_limits_t){ .high_water = ws->o.high_water,
                                                    .low_water = ws->o.low_water,
                                                    .max_queue = ws->o.max_queue + 65536 });
    arm_timer(ws);
    return 0;
}

static void accept_key(const char *key, char out[32])
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
    accept_key(key, accept);
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
    if (!ws || ws_start(ws) != 0) {
        if (ws) {
            buf_free(&ws->rx);
    buf_free(&ws->unmasked);
            free(ws);
        }
        buf_free(&leftover);
        net_conn_abort(c);
        return NULL;
    }
    net_conn_set_cbs(c, &conn_cbs, ws);
    net_conn_write(c, head, (size_t)n);
    if (leftover.len) {
        /* frames that came with the request: handled on the next turn,
         * after the owner has its state ready */
        buf_append(&ws->rx, leftover.data, leftover.len);
        arm_timer(ws);
    }
    buf_free(&leftover);
    return ws;
}

/* XOR with the 4-byte key, 8 bytes at a time (offset 0 of the payload is
 * key byte 0; every 8-byte step keeps the key phase). */
void ws_mask_bytes(uint8_t *dst, const uint8_t *src, size_t n, const uint8_t key[4])
{
    uint32_t k32;
    memcpy(&k32, key, 4);
    uint64_t k = ((uint64_t)k32 << 32) | k32;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t v;
        memcpy(&v, src + i, 8);
        v ^= k;
        memcpy(dst + i, &v, 8);
    }
    for (; i < n; i++)
        dst[i] = src[i] ^ key[i & 3];
}

/* The common case framed here rather than by wslay, which copies every
 * message into its queue and masks byte by byte: when wslay has nothing
 * pending (so no frame of its own is half written), one unfragmented frame
 * goes straight to the connection, in order after everything before it. */
static int send_direct(ws_t *ws, int type, const uv_buf_t *bufs, size_t n, size_t len)
{
    uint8_t hdr[14];
    size_t h = 0;
    hdr[h++] = (uint8_t)(0x80 | (type == WS_TEXT ? 0x1 : 0x2));
    uint8_t maskbit = ws->client ? 0x80 : 0;
    if (len < 126) {
        hdr[h++] = (uint8_t)(maskbit | len);
    } else if (len < 65536) {
        hdr[h++] = (uint8_t)(maskbit | 126);
        hdr[h++] = (uint8_t)(len >> 8);
        hdr[h++] = (uint8_t)len;
    } else {
        hdr[h++] = (uint8_t)(maskbit | 127);
        for (int i = 7; i >= 0; i--)
            hdr[h++] = (uint8_t)((uint64_t)len >> (8 * i));
    }
    int rc;
    if (!ws->client) {
        uv_buf_t v[WS_SENDV_MAX + 1];
        v[0] = uv_buf_init((char *)hdr, (unsigned)h);
        for (size_t i = 0; i < n; i++)
            v[i + 1] = bufs[i];
        rc = net_conn_writev(ws->conn, v, n + 1);
    } else {
        uint8_t key[4];
        genmask_cb(ws->ctx, key, 4, ws);
        memcpy(hdr + h, key, 4);
        h += 4;
        uint8_t chunk[16384];
        size_t fill = 0, off = 0; /* off: payload offset, for the key phase */
        net_conn_cork(ws->conn);
        rc = net_conn_write(ws->conn, hdr, h);
        for (size_t i = 0; rc == 0 && i < n; i++) {
            const uint8_t *src = (const uint8_t *)bufs[i].base;
            size_t left = bufs[i].len;
            while (rc == 0 && left) {
                size_t k = sizeof chunk - fill < left ? sizeof chunk - fill : left;
                uint8_t rk[4]; /* the key rotated to this offset's phase */
                for (int j = 0; j < 4; j++)
                    rk[j] = key[(off + (size_t)j) & 3];
                ws_mask_bytes(chunk + fill, src, k, rk);
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
    }
    if (rc != 0) {
        /* part of a frame may be queued: the stream is unusable */
        ws_fail(ws, WS_CLOSE_ABNORMAL, "write failed");
        return rc == -ENOBUFS ? -ENOBUFS : -EPIPE;
    }
    if (!ws->congested && ws_queued(ws) > ws->o.high_water)
        ws->congested = true;
    return 0;
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
    if (ws_queued(ws) + len > ws->o.max_queue)
        return -ENOBUFS;
    if (len <= UINT32_MAX && !wslay_event_want_write(ws->ctx))
        return send_direct(ws, type, bufs, n, len);
    /* wslay has frames pending: queue behind them (one contiguous copy) */
    uint8_t *flat = malloc(len ? len : 1);
    if (!flat)
        return -ENOMEM;
    size_t off = 0;
    for (size_t i = 0; i < n; i++) {
        memcpy(flat + off, bufs[i].base, bufs[i].len);
        off += bufs[i].len;
    }
    struct wslay_event_msg m = { type == WS_TEXT ? WSLAY_TEXT_FRAME : WSLAY_BINARY_FRAME,
                                 flat, len };
    int rc = wslay_event_queue_msg(ws->ctx, &m) != 0 ? -ENOMEM : 0;
    free(flat);
    if (rc == 0)
        ws_pump_send(ws);
    return rc;
}

int ws_send(ws_t *ws, int type, const void *data, size_t len)
{
    uv_buf_t b = uv_buf_init((char *)data, (unsigned)len);
    if (len > UINT32_MAX)
        return -EINVAL;
    return ws_sendv(ws, type, &b, 1);
}

void ws_close(ws_t *ws, uint16_t code, const char *reason)
{
    if (ws->state == WS_DEAD || ws->state == WS_CLOSING)
        return;
    if (!ws->ctx) { /* still connecting */
        ws_fail(ws, code, reason);
        return;
    }
    size_t rl = reason ? strlen(reason) : 0;
    if (rl > 123)
        rl = 123;
    set_close(ws, code, reason);
    wslay_event_queue_close(ws->ctx, code, (const uint8_t *)(reason ? reason : ""), rl);
    ws->state = WS_CLOSING;
    ws->close_started_ms = clock_mono_ms();
    ws_pump_send(ws);
    if (ws->state == WS_CLOSING)
        arm_timer(ws);
}

void ws_abort(ws_t *ws)
{
    if (ws->state == WS_DEAD)
        return;
    set_close(ws, WS_CLOSE_ABNORMAL, "aborted");
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
        arm_timer(ws); /* also processes what waited, on the next turn */
    }
}

/* ---- client ------------------------------------------------------------------- */

static int hs_on_headers(http_parser_t *p, http_msg_t *m)
{
    ws_t *ws = http_parser_data(p);
    if (m->status != 101) {
        log_info("ws_handshake_failed", LF_S("peer", net_conn_peer(ws->conn)), LF_I("status", m->status));
        char reason[64];
        snprintf(reason, sizeof reason, "upgrade refused: HTTP %d", m->status);
        set_close(ws, WS_CLOSE_ABNORMAL, reason);
        return -1;
    }
    const char *acc = http_msg_header(m, "Sec-WebSocket-Accept");
    if (!acc || strcmp(acc, ws->hs_accept) != 0 || !http_msg_header_has_token(m, "Upgrade", "websocket")) {
        log_info("ws_handshake_failed", LF_S("peer", net_conn_peer(ws->conn)),
                 LF_S("reason", "bad Sec-WebSocket-Accept"));
        set_close(ws, WS_CLOSE_ABNORMAL, "bad Sec-WebSocket-Accept");
        return -1;
    }
    ws->hs_done = true;
    return 0;
}

static const http_parser_cbs_t hs_cbs = { .on_headers = hs_on_headers };

static void client_handshake_bytes(ws_t *ws, const char *data, size_t len)
{
    size_t used = 0;
    int rc = http_parser_feed(ws->hs_parser, data, len, &used);
    if (rc < 0 || (!ws->hs_done && http_parser_upgraded(ws->hs_parser))) {
        if (!ws->close_code)
            set_close(ws, WS_CLOSE_ABNORMAL, "bad handshake response");
        ws_fail(ws, WS_CLOSE_ABNORMAL, NULL);
        return;
    }
    if (!ws->hs_done)
        return; /* more of the response to come */
    if (ws_start(ws) != 0) {
        ws_fail(ws, WS_CLOSE_INTERNAL, "out of memory");
        return;
    }
    http_parser_free(ws->hs_parser);
    ws->hs_parser = NULL;
    if (ws->cbs->on_open)
        ws->cbs->on_open(ws);
    if (ws->state != WS_OPEN)
        return;
    if (used < len)
        feed_bytes(ws, data + used, len - used);
}

static void on_client_open(net_conn_t *c)
{
    ws_t *ws = net_conn_data(c);
    net_url_t *u = ws->hs_url;
    unsigned char raw[16];
    RAND_bytes(raw, sizeof raw);
    buf_t key = BUF_INIT(32);
    str_base64_encode(&key, raw, sizeof raw);
    accept_key(key.data, ws->hs_accept);
    char hostport[NET_HOST_MAX + 8];
    net_url_hostport(u, hostport, sizeof hostport);
    buf_t req = BUF_INIT(16384);
    int rc = buf_printf(&req,
                        "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                        "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n%s\r\n",
                        u->path, hostport, key.data, ws->hs_headers ? ws->hs_headers : "");
    free(ws->hs_url);
    ws->hs_url = NULL;
    buf_free(&key);
    if (rc || net_conn_write(c, req.data, req.len))
        ws_fail(ws, WS_CLOSE_ABNORMAL, "cannot send the upgrade request");
    else
        arm_timer(ws); /* the 101 must come before the deadline */
    buf_free(&req);
}

static const net_conn_cbs_t client_conn_cbs = {
    .on_open = on_client_open,
    .on_read = on_conn_read,
    .on_eof = on_conn_eof,
    .on_drain = on_conn_drain,
    .on_close = on_conn_close,
};

int ws_connect(uv_loop_t *loop, const ws_connect_opts_t *co, const ws_opts_t *opts,
               const ws_cbs_t *cbs, void *ud, ws_t **out)
{
    net_url_t *u = malloc(sizeof *u);
    if (!u)
        return -ENOMEM;
    if (net_url_parse(co->url, u) || (strcmp(u->scheme, "ws") && strcmp(u->scheme, "wss"))) {
        free(u);
        return -EINVAL;
    }
    if (u->tls && !co->tls) {
        free(u);
        return -EINVAL;
    }
    ws_t *ws = ws_new(NULL, opts, cbs, ud, true);
    if (!ws) {
        free(u);
        return -ENOMEM;
    }
    ws->hs_url = u;
    ws->hs_parser = http_parser_new(&(http_parser_opts_t){ .response = true }, &hs_cbs, ws);
    ws->hs_headers = co->headers ? strdup(co->headers) : NULL;
    if (!ws->hs_parser || (co->headers && !ws->hs_headers)) {
        http_parser_free(ws->hs_parser);
        free(ws->hs_headers);
        buf_free(&ws->rx);
    buf_free(&ws->unmasked);
        free(ws);
        free(u);
        return -ENOMEM;
    }
    int64_t timeout = co->timeout_ms > 0 ? co->timeout_ms : 10000;
    ws->deadline_ms = clock_mono_ms() + timeout;
    net_connect_opts_t no = { .host = u->host, .port = u->port, .tls = u->tls ? co->tls : NULL,
                              .timeout_ms = timeout };
    /* on failure net_connect still reports through on_close, which frees ws */
    int rc = net_connect(loop, &no, &client_conn_cbs, ws, &ws->conn);
    if (rc) {
        http_parser_free(ws->hs_parser);
        free(ws->hs_headers);
        buf_free(&ws->rx);
    buf_free(&ws->unmasked);
        free(ws);
        free(u);
        return rc;
    }
    *out = ws;
    return 0;
}

/* ---- frame reader without a connection (fuzzing) ---------------------------------- */

static size_t fuzz_msgs;

static ssize_t fuzz_send_cb(wslay_event_context_ptr ctx, const uint8_t *data, size_t len,
                            int flags, void *ud)
{
    return (ssize_t)len; /* replies (pong, close) go nowhere */
}

static void fuzz_on_message(ws_t *ws, int type, const uint8_t *data, size_t len) { fuzz_msgs++; }

size_t ws_frames_feed(const uint8_t *data, size_t len, size_t max_message)
{
    static const ws_cbs_t fcbs = { .on_message = fuzz_on_message };
    struct wslay_event_callbacks cb = wslay_cbs;
    cb.send_callback = fuzz_send_cb;
    ws_t ws = { .cbs = &fcbs, .state = WS_OPEN };
    ws.o.max_message = max_message;
    fuzz_msgs = 0;
    if (wslay_event_context_server_init(&ws.ctx, &cb, &ws) != 0)
        return 0;
    wslay_event_config_set_max_recv_msg_length(ws.ctx, max_message);
    buf_init(&ws.unmasked, max_message + 1);
    /* the real input path: fast path for whole binary frames, wslay for the
     * rest; fed in two pieces so frames also straddle a read boundary */
    size_t cut = len ? data[0] % (len + 1) : 0, off = 0;
    const size_t piece[2] = { cut, len - cut };
    buf_t rx = BUF_INIT(max_message + 65536);
    for (int i = 0; i < 2 && ws.state != WS_DEAD; i++) {
        if (buf_append(&rx, data + off, piece[i]) != 0)
            break;
        off += piece[i];
        size_t used = ws_consume(&ws, (const uint8_t *)rx.data, rx.len);
        buf_consume(&rx, used);
    }
    buf_free(&rx);
    if (ws.state != WS_DEAD)
        wslay_event_send(ws.ctx);
    wslay_event_context_free(ws.ctx);
    buf_free(&ws.unmasked);
    return fuzz_msgs;
}
