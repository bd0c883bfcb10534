#include "net/ws_int.h"

#include <errno.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/log.h"
#include "core/str.h"

/* The client's side of the handshake: connect, send the upgrade request,
 * check the 101 and its Sec-WebSocket-Accept; then the endpoint in ws.c. */

static int hs_on_headers(http_parser_t *p, http_msg_t *m)
{
    ws_t *ws = http_parser_data(p);
    if (m->status != 101) {
        ws->hs_refused = m->status; /* said once the read's body bytes are in */
        return 0;
    }
    const char *acc = http_msg_header(m, "Sec-WebSocket-Accept");
    if (!acc || strcmp(acc, ws->hs_accept) != 0 || !http_msg_header_has_token(m, "Upgrade", "websocket")) {
        log_info("ws_handshake_failed", LF_S("peer", net_conn_peer(ws->conn)),
                 LF_S("reason", "bad Sec-WebSocket-Accept"));
        ws_set_close(ws, WS_CLOSE_ABNORMAL, "bad Sec-WebSocket-Accept");
        return -1;
    }
    ws->hs_done = true;
    return 0;
}

/* A refused upgrade's body is the server's reason (ours answer one line of
 * text): its start is kept for the close reason. */
static int hs_on_body(http_parser_t *p, const char *data, size_t len)
{
    ws_t *ws = http_parser_data(p);
    size_t room = sizeof ws->hs_text - 1 - ws->hs_text_len;
    size_t n = len < room ? len : room;
    memcpy(ws->hs_text + ws->hs_text_len, data, n);
    ws->hs_text_len += n;
    return 0;
}

static const http_parser_cbs_t hs_cbs = { .on_headers = hs_on_headers, .on_body = hs_on_body };

/* "upgrade refused: HTTP 429 too many connections ...": the status and the
 * first line of what came of its body in the same read (not waited for: a
 * server that sends a status and stalls does not hold the client), printable
 * characters only. */
static void hs_refusal(ws_t *ws)
{
    char text[sizeof ws->hs_text];
    size_t n = 0;
    for (size_t i = 0; i < ws->hs_text_len && ws->hs_text[i] != '\n' && ws->hs_text[i] != '\r'; i++)
        text[n++] = ws->hs_text[i] >= 0x20 && ws->hs_text[i] < 0x7f ? ws->hs_text[i] : '?';
    text[n] = '\0';
    log_info("ws_handshake_failed", LF_S("peer", net_conn_peer(ws->conn)), LF_I("status", ws->hs_refused),
             LF_S("reason", text));
    char reason[sizeof ws->close_reason];
    snprintf(reason, sizeof reason, "upgrade refused: HTTP %d%s%s", ws->hs_refused, n ? " " : "", text);
    ws_fail(ws, WS_CLOSE_ABNORMAL, reason);
}

static void handshake_bytes(ws_t *ws, const char *data, size_t len)
{
    size_t used = 0;
    int rc = http_parser_feed(ws->hs_parser, data, len, &used);
    if (ws->hs_refused) {
        hs_refusal(ws);
        return;
    }
    if (rc < 0 || (!ws->hs_done && http_parser_upgraded(ws->hs_parser))) {
        ws_fail(ws, WS_CLOSE_ABNORMAL, "bad handshake response");
        return;
    }
    if (!ws->hs_done)
        return; /* more of the response to come */
    http_parser_free(ws->hs_parser);
    ws->hs_parser = NULL;
    ws_start(ws);
    if (ws->cbs->on_open)
        ws->cbs->on_open(ws);
    if (ws->state == WS_OPEN && used < len)
        ws_feed(ws, data + used, len - used); /* frames right behind the 101 */
}

static void on_client_read(net_conn_t *c, const char *data, size_t len)
{
    ws_t *ws = net_conn_data(c);
    if (ws->state == WS_CONNECTING)
        handshake_bytes(ws, data, len);
    else
        ws_feed(ws, data, len);
}

static void on_client_open(net_conn_t *c)
{
    ws_t *ws = net_conn_data(c);
    net_url_t *u = ws->hs_url;
    unsigned char raw[16];
    RAND_bytes(raw, sizeof raw);
    buf_t key = BUF_INIT(32);
    str_base64_encode(&key, raw, sizeof raw);
    ws_accept_key(key.data, ws->hs_accept);
    char hostport[NET_HOST_MAX + 8];
    net_url_hostport(u, hostport, sizeof hostport);
    buf_t req = BUF_INIT(16384);
    int rc = buf_printf(&req,
                        "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                        "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n%s\r\n",
                        u->path, hostport, key.data, ws->hs_headers ? ws->hs_headers : "");
    net_url_clear(ws->hs_url);
    free(ws->hs_url);
    ws->hs_url = NULL;
    buf_free(&key);
    if (rc || net_conn_write(c, req.data, req.len))
        ws_fail(ws, WS_CLOSE_ABNORMAL, "cannot send the upgrade request");
    else
        ws_arm_timer(ws); /* the 101 must come before the deadline */
    buf_free(&req);
}

static const net_conn_cbs_t client_conn_cbs = {
    .on_open = on_client_open,
    .on_read = on_client_read,
    .on_eof = ws_on_conn_eof,
    .on_drain = ws_on_conn_drain,
    .on_close = ws_on_conn_close,
};

int ws_connect(uv_loop_t *loop, const ws_connect_opts_t *co, const ws_opts_t *opts,
               const ws_cbs_t *cbs, void *ud, ws_t **out)
{
    net_url_t *u = malloc(sizeof *u);
    if (!u)
        return -ENOMEM;
    if (net_url_parse(co->url, u) || (strcmp(u->scheme, "ws") && strcmp(u->scheme, "wss")) ||
        (u->tls && !co->tls)) {
        net_url_clear(u);
        free(u);
        return -EINVAL;
    }
    ws_t *ws = ws_new(NULL, opts, cbs, ud, true);
    if (!ws) {
        net_url_clear(u);
        free(u);
        return -ENOMEM;
    }
    ws->hs_url = u; /* ws_free frees it from here on */
    ws->hs_parser = http_parser_new(&(http_parser_opts_t){ .response = true }, &hs_cbs, ws);
    ws->hs_headers = co->headers ? strdup(co->headers) : NULL;
    if (!ws->hs_parser || (co->headers && !ws->hs_headers)) {
        ws_free(ws);
        return -ENOMEM;
    }
    int64_t timeout = co->timeout_ms > 0 ? co->timeout_ms : 10000;
    ws->deadline_ms = clock_mono_ms() + timeout;
    net_connect_opts_t no = { .host = co->connect_host && *co->connect_host ? co->connect_host
                                                                            : u->host,
                              .sni = u->host, .port = u->port, .tls = u->tls ? co->tls : NULL,
                              .timeout_ms = timeout };
    /* once net_connect succeeds, failures come through on_close, which frees ws */
    int rc = net_connect(loop, &no, &client_conn_cbs, ws, &ws->conn);
    if (rc) {
        ws_free(ws);
        return rc;
    }
    *out = ws;
    return 0;
}
