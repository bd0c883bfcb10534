/*
 * ws: RFC 6455 WebSocket endpoints (server and client) on net/conn; frames
 * are read and written by net/ws_frame.
 *
 * A ws_t is created by ws_accept() (from an HTTP upgrade request) or by
 * ws_connect(). The module owns it; the owner gets on_open (clients: after
 * the 101), on_message for each complete text/binary message (fragments
 * reassembled, at most max_message bytes: larger ones close with 1009),
 * on_drain when the send queue falls below low water, and exactly one
 * on_close with the close code and reason (1006 when the connection died
 * without a close frame). The ws_t is freed right after on_close returns.
 *
 * Sending copies the message. ws_congested() turns true past the send
 * queue's high water: producers should pause their source until on_drain.
 * A send that would pass max_queue fails with -ENOBUFS.
 *
 * Keepalive: with ping_interval_ms set, a ping goes out on that period and
 * a missing pong within pong_timeout_ms closes the connection (1001 "ping
 * timeout"; on_close reports 1006).
 */
#ifndef OUTPOST_NET_WS_H
#define OUTPOST_NET_WS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "net/conn.h"
#include "net/http_server.h"
#include "net/tls.h"

typedef struct ws ws_t;

enum {
    WS_TEXT = 1,
    WS_BINARY = 2,
};

/* Close codes used across the code base. */
enum {
    WS_CLOSE_NORMAL = 1000,
    WS_CLOSE_GOING_AWAY = 1001,
    WS_CLOSE_PROTOCOL = 1002,
    WS_CLOSE_UNSUPPORTED = 1003,
    WS_CLOSE_ABNORMAL = 1006,     /* never sent: no close frame was received */
    WS_CLOSE_BAD_DATA = 1007,
    WS_CLOSE_POLICY = 1008,
    WS_CLOSE_TOO_BIG = 1009,
    WS_CLOSE_INTERNAL = 1011,
};

typedef struct ws_cbs {
    void (*on_open)(ws_t *ws);
    void (*on_message)(ws_t *ws, int type, const uint8_t *data, size_t len);
    void (*on_drain)(ws_t *ws);
    void (*on_close)(ws_t *ws, uint16_t code, const char *reason);
} ws_cbs_t;

typedef struct ws_opts {
    size_t max_message;       /* default 1 MiB -> close 1009 */
    size_t high_water;        /* default 1 MiB of queued outgoing bytes */
    size_t low_water;         /* default 256 KiB */
    size_t max_queue;         /* default 16 MiB: sends beyond fail with -ENOBUFS */
    int64_t ping_interval_ms; /* 0: no pings */
    int64_t pong_timeout_ms;  /* default 10 s */
    int64_t close_timeout_ms; /* wait for the peer's close frame; default 5 s */
} ws_opts_t;

/* Server: validate the upgrade request and answer 101, or answer 400/426
 * and return NULL. The request is consumed either way. `subprotocol`: the
 * Sec-WebSocket-Protocol to confirm, or NULL. */
ws_t *ws_accept(http_req_t *req, const ws_opts_t *opts, const ws_cbs_t *cbs, void *ud,
                const char *subprotocol);

typedef struct ws_connect_opts {
    const char *url;          /* ws:// or wss:// */
    tls_ctx_t *tls;           /* client context for wss */
    const char *headers;      /* extra "Name: value\r\n" lines for the upgrade request */
    int64_t timeout_ms;       /* connect + handshake + 101; default 10 s */
    /* Connect to this address instead of resolving the URL's host (a caller
     * that resolved a name to several addresses tries them in turn); the
     * URL's host still goes in Host, SNI and the certificate check. NULL:
     * the URL's host. */
    const char *connect_host;
} ws_connect_opts_t;

/* Client: on_open after the 101, or on_close(1006, reason) on failure. */
int ws_connect(uv_loop_t *loop, const ws_connect_opts_t *copts, const ws_opts_t *opts,
               const ws_cbs_t *cbs, void *ud, ws_t **out);

int ws_send(ws_t *ws, int type, const void *data, size_t len);
/* One message from up to WS_SENDV_MAX pieces (a header and a payload, say),
 * without first joining them. */
enum { WS_SENDV_MAX = 4 };
int ws_sendv(ws_t *ws, int type, const uv_buf_t *bufs, size_t n);
bool ws_congested(const ws_t *ws);
size_t ws_queued(const ws_t *ws);
/* Start the closing handshake (reason is cut to 123 bytes). */
void ws_close(ws_t *ws, uint16_t code, const char *reason);
/* Drop the connection without a closing handshake. */
void ws_abort(ws_t *ws);

void ws_pause(ws_t *ws);   /* stop reading from the peer (backpressure) */
void ws_resume(ws_t *ws);

/* RFC 6455 masking (dst may equal src); exposed for tests. */
void ws_mask_bytes(uint8_t *dst, const uint8_t *src, size_t n, const uint8_t key[4]);

void *ws_data(const ws_t *ws);
void ws_set_data(ws_t *ws, void *ud);
net_conn_t *ws_conn(const ws_t *ws);
const char *ws_peer(const ws_t *ws);
const tls_peer_t *ws_tls_peer(const ws_t *ws);

/* Fuzzing and tests: run bytes received by a server endpoint through the
 * same frame reader and limits, with no connection; returns the number of
 * complete data messages seen. */
size_t ws_frames_feed(const uint8_t *data, size_t len, size_t max_message);

#endif
