/*
 * ws_int: net/ws internals shared by ws.c (the endpoint: frames in and out,
 * keepalive, closing, the server handshake) and ws_client.c (the client
 * handshake). Not for other modules.
 */
#ifndef OUTPOST_NET_WS_INT_H
#define OUTPOST_NET_WS_INT_H

#include "net/addr.h"
#include "net/http_parse.h"
#include "net/ws.h"
#include "net/ws_frame.h"

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

typedef enum ws_state { WS_CONNECTING, WS_OPEN, WS_CLOSING, WS_DEAD } ws_state_t;

struct ws {
    net_conn_t *conn;
    ws_opts_t o;
    const ws_cbs_t *cbs;
    void *ud;
    ws_state_t state;
    bool client, paused;
    bool close_sent, close_rcvd;
    ws_reader_t rd;
    buf_t rx;             /* bytes read but not yet framed (pause, partial frame) */
    bool rx_partial;      /* rx ends in an incomplete frame: wait for bytes */
    bool input_seen;      /* frames arrived since the last keepalive tick */
    /* keepalive and closing */
    int64_t ping_sent_ms;
    bool awaiting_pong;
    int64_t close_started_ms;
    uint64_t mask_state;  /* client masks: xorshift64*, seeded per connection */
    /* client handshake */
    http_parser_t *hs_parser;
    net_url_t *hs_url;    /* owned until the upgrade request is sent */
    char *hs_headers;     /* extra request header lines, owned */
    char hs_accept[32];
    bool hs_done;
    int hs_refused;       /* the status of a refused upgrade, else 0 */
    char hs_text[88];     /* the start of its body: the server's reason */
    size_t hs_text_len;
    int64_t deadline_ms;
    /* what on_close reports */
    uint16_t close_code;
    char close_reason[124];
};

ws_t *ws_new(net_conn_t *c, const ws_opts_t *opts, const ws_cbs_t *cbs, void *ud, bool client);
void ws_free(ws_t *ws);
/* The 101 was sent or received: start framing, keepalive and queue limits. */
void ws_start(ws_t *ws);
/* Handle bytes read from the peer once the WebSocket is open. */
void ws_feed(ws_t *ws, const char *data, size_t len);
void ws_fail(ws_t *ws, uint16_t code, const char *reason);
void ws_set_close(ws_t *ws, uint16_t code, const char *reason);
void ws_arm_timer(ws_t *ws);
void ws_accept_key(const char *key, char out[32]);

/* ws.c's connection callbacks, which the client completes with on_open and
 * its handshake reader. */
void ws_on_conn_eof(net_conn_t *c);
void ws_on_conn_drain(net_conn_t *c);
void ws_on_conn_close(net_conn_t *c, int err);

#endif
