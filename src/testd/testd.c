#include "testd/testd.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "core/config.h"
#include "core/log.h"
#include "core/runtime.h"
#include "core/str.h"
#include "net/http_router.h"
#include "net/http_server.h"
#include "net/tls.h"
#include "net/ws.h"

typedef struct testd_opts {
    cfg_common_t common;
    uint64_t max_body;
    uint64_t ws_max_message;
    int64_t ws_ping_ms;
    int64_t idle_ms;
    int64_t header_timeout_ms;
} testd_opts_t;

static const cfg_opt_t testd_table[] = {
    CFG_COMMON_LISTEN(testd_opts_t, "127.0.0.1:0", "HTTP/WebSocket listener"),
    CFG_COMMON_TLS(testd_opts_t, "to serve TLS"),
    CFG_OPT("max-body", CFG_SIZE, testd_opts_t, max_body, "1MiB", "SIZE", "cap on buffered request bodies"),
    CFG_OPT("ws-max-message", CFG_SIZE, testd_opts_t, ws_max_message, "1MiB", "SIZE", "WebSocket message cap"),
    CFG_OPT("ws-ping", CFG_DURATION, testd_opts_t, ws_ping_ms, "0", "DUR", "WebSocket ping interval (0: off)"),
    CFG_OPT("idle-timeout", CFG_DURATION, testd_opts_t, idle_ms, "60s", "DUR", "keep-alive idle timeout"),
    CFG_OPT("header-timeout", CFG_DURATION, testd_opts_t, header_timeout_ms, "10s", "DUR", "request header timeout"),
    CFG_END,
};

static const cfg_cmd_t testd_cmd = {
    "testd", "test endpoints of the network floor (HTTP, streaming, WebSocket echo)", NULL, testd_table,
};

typedef struct wsnode {
    ws_t *ws;
    struct wsnode *prev, *next;
} wsnode_t;

typedef struct testd {
    uv_loop_t *loop;
    testd_opts_t o;
    tls_ctx_t *tls;
    http_server_t *srv;
    http_router_t *router;
    wsnode_t *sockets;
    ws_opts_t wso;
    bool stopping;
} testd_t;

static const char HELLO[] = "hello world\n";

static void h_hello(http_req_t *r, void *ud)
{
    http_respond(r, 200, "text/plain", HELLO, sizeof HELLO - 1);
}

static void h_echo(http_req_t *r, void *ud)
{
    size_t n;
    const char *body = http_req_body(r, &n);
    const char *ct = http_req_header(r, "Content-Type");
    http_respond(r, 200, ct ? ct : "application/octet-stream", body, n);
}

/* GET /stream?bytes=N: a chunked body written as the client takes it. */
typedef struct streamer {
    uint64_t left;
} streamer_t;

static void stream_more(http_req_t *r, void *ud)
{
    streamer_t *s = ud;
    static char block[16384];
    memset(block, 'x', sizeof block);
    while (s->left && !http_resp_congested(r)) {
        size_t n = s->left < sizeof block ? (size_t)s->left : sizeof block;
        if (http_resp_write(r, block, n) != 0)
            break;
        s->left -= n;
    }
    if (!s->left || http_req_aborted(r)) {
        http_resp_end(r);
        free(s);
    }
}

static void stream_abort(http_req_t *r, void *ud)
{
    http_resp_end(r); /* releases the request */
    free(ud);
}

static void h_stream(http_req_t *r, void *ud)
{
    buf_t v = BUF_INIT(32);
    uint64_t bytes = 0;
    if (http_req_query_param(r, "bytes", &v) == 0)
        str_to_u64n(v.data ? v.data : "", v.len, UINT64_MAX / 2, &bytes);
    buf_free(&v);
    streamer_t *s = calloc(1, sizeof *s);
    if (!s) {
        http_respond_error(r, 500, "out of memory");
        return;
    }
    s->left = bytes;
    http_resp_on_drain(r, stream_more, s);
    http_req_on_abort(r, stream_abort, s);
    http_resp_begin(r, 200, NULL, "application/octet-stream", -1);
    stream_more(r, s);
}

/* POST /sink: the body is streamed, counted and hashed, never buffered. */
typedef struct sink {
    EVP_MD_CTX *md;
    uint64_t bytes;
} sink_t;

static int sink_body(http_req_t *r, const char *data, size_t len, void *ud)
{
    sink_t *s = ud;
    EVP_DigestUpdate(s->md, data, len);
    s->bytes += len;
    return 0;
}

static void sink_end(http_req_t *r, int err, void *ud)
{
    sink_t *s = ud;
    if (err == 0) {
        unsigned char md[32];
        unsigned int mdlen = 0;
        EVP_DigestFinal_ex(s->md, md, &mdlen);
        char hex[65];
        str_hex(md, 32, hex);
        char body[160];
        int n = snprintf(body, sizeof body, "{\"bytes\":%llu,\"sha256\":\"%s\"}",
                         (unsigned long long)s->bytes, hex);
        http_respond(r, 200, "application/json", body, (size_t)n);
    } else {
        http_resp_end(r);
    }
    EVP_MD_CTX_free(s->md);
    free(s);
}

static void on_head(http_req_t *r, void *ud)
{
    if (strcmp(http_req_path(r), "/sink") != 0 || strcmp(http_req_method(r), "POST") != 0)
        return;
    sink_t *s = calloc(1, sizeof *s);
    if (!s || !(s->md = EVP_MD_CTX_new()) || EVP_DigestInit_ex(s->md, EVP_sha256(), NULL) != 1) {
        if (s)
            EVP_MD_CTX_free(s->md);
        free(s);
        http_respond_error(r, 500, "out of memory");
        return;
    }
    http_req_stream_body(r, sink_body, sink_end, s);
}

static void h_sink_fallback(http_req_t *r, void *ud)
{
    http_respond_error(r, 500, "sink not streamed");
}

static void h_whoami(http_req_t *r, void *ud)
{
    const tls_peer_t *p = http_req_tls_peer(r);
    char body[1024];
    int n;
    if (!p)
        n = snprintf(body, sizeof body, "{\"tls\":false,\"peer\":\"%s\"}", http_req_peer(r));
    else
        n = snprintf(body, sizeof body,
                     "{\"tls\":true,\"version\":\"%s\",\"has_cert\":%s,\"verified\":%s,"
                     "\"cn\":\"%s\",\"org\":\"%s\",\"fingerprint\":\"%s\"}",
                     p->version, p->has_cert ? "true" : "false", p->verified ? "true" : "false",
                     p->cn, p->org, p->fingerprint);
    http_respond(r, 200, "application/json", body, (size_t)n);
}

/* /delay?ms=N answers later (tests of pipelining and client aborts). */
typedef struct delayed {
    uv_timer_t t;
    http_req_t *r;
} delayed_t;

static void delay_closed(uv_handle_t *h) { free(h->data); }

static void delay_fire(uv_timer_t *t)
{
    delayed_t *d = t->data;
    http_respond(d->r, 200, "text/plain", "late\n", 5);
    uv_close((uv_handle_t *)&d->t, delay_closed);
}

static void h_delay(http_req_t *r, void *ud)
{
    testd_t *td = ud;
    buf_t v = BUF_INIT(32);
    uint64_t ms = 0;
    if (http_req_query_param(r, "ms", &v) == 0)
        str_to_u64n(v.data ? v.data : "", v.len, 60000, &ms);
    buf_free(&v);
    delayed_t *d = calloc(1, sizeof *d);
    if (!d) {
        http_respond_error(r, 500, "out of memory");
        return;
    }
    d->r = r;
    log_info("delay_started", LF_U("ms", ms)); /* tests wait for this line */
    uv_timer_init(td->loop, &d->t);
    d->t.data = d;
    uv_timer_start(&d->t, delay_fire, ms, 0);
}

/* ---- WebSocket echo -------------------------------------------------------- */

static void ws_msg(ws_t *ws, int type, const uint8_t *data, size_t len)
{
    if (len == 5 && memcmp(data, "close", 5) == 0) {
        ws_close(ws, WS_CLOSE_NORMAL, "bye");
        return;
    }
    if (ws_send(ws, type, data, len) != 0)
        ws_close(ws, WS_CLOSE_POLICY, "send queue full");
    else if (ws_congested(ws))
        ws_pause(ws); /* a client that does not read stops being read */
}

static void ws_drained(ws_t *ws) { ws_resume(ws); }

static void ws_closed(ws_t *ws, uint16_t code, const char *reason)
{
    wsnode_t *n = ws_data(ws);
    testd_t *td = *(testd_t **)(n + 1);
    if (n->prev)
        n->prev->next = n->next;
    else
        td->sockets = n->next;
    if (n->next)
        n->next->prev = n->prev;
    log_debug("ws_closed", LF_I("code", code), LF_S("reason", reason));
    free(n);
}

static const ws_cbs_t ws_echo_cbs = { .on_message = ws_msg, .on_drain = ws_drained, .on_close = ws_closed };

static void h_ws(http_req_t *r, void *ud)
{
    testd_t *td = ud;
    wsnode_t *n = calloc(1, sizeof *n + sizeof(testd_t *));
    if (!n) {
        http_respond_error(r, 500, "out of memory");
        return;
    }
    *(testd_t **)(n + 1) = td;
    n->ws = ws_accept(r, &td->wso, &ws_echo_cbs, n, NULL);
    if (!n->ws) {
        free(n);
        return;
    }
    n->next = td->sockets;
    if (td->sockets)
        td->sockets->prev = n;
    td->sockets = n;
}

/* ---- lifecycle ----------------------------------------------------------------- */

static void on_stop(void *ud)
{
    testd_t *td = ud;
    td->stopping = true;
    http_server_close(td->srv, NULL, NULL);
    for (wsnode_t *n = td->sockets; n; n = n->next)
        ws_close(n->ws, WS_CLOSE_GOING_AWAY, "server shutting down");
}

static void on_reload(void *ud)
{
    testd_t *td = ud;
    if (td->tls)
        tls_ctx_reload(td->tls);
}

int testd_main(int argc, char **argv)
{
    testd_t td = { 0 };
    cfg_result_t res;
    int rc = cfg_load(&testd_cmd, &td.o, argc, argv, &res);
    if (rc)
        return rc > 0 ? 0 : 2;
    uv_loop_t *loop = uv_default_loop();
    td.loop = loop;
    if (td.o.common.tls_cert) {
        tls_opts_t to = { .server = true, .cert_file = td.o.common.tls_cert,
                          .key_file = td.o.common.tls_key, .ca_file = td.o.common.tls_ca,
                          .verify = td.o.common.tls_ca ? TLS_VERIFY_REQUIRED : TLS_VERIFY_NONE };
        td.tls = tls_ctx_new(&to);
        if (!td.tls) {
            cfg_free(&testd_cmd, &td.o);
            return 1;
        }
    }
    td.wso = (ws_opts_t){ .max_message = td.o.ws_max_message, .ping_interval_ms = td.o.ws_ping_ms };
    td.router = http_router_new(NULL);
    http_router_add(td.router, "GET", "/hello", HTTP_ACCESS_PUBLIC, h_hello, &td);
    http_router_add(td.router, "POST", "/echo", HTTP_ACCESS_PUBLIC, h_echo, &td);
    http_router_add(td.router, "PUT", "/echo", HTTP_ACCESS_PUBLIC, h_echo, &td);
    http_router_add(td.router, "GET", "/stream", HTTP_ACCESS_PUBLIC, h_stream, &td);
    http_router_add(td.router, "POST", "/sink", HTTP_ACCESS_PUBLIC, h_sink_fallback, &td);
    http_router_add(td.router, "GET", "/whoami", HTTP_ACCESS_PUBLIC, h_whoami, &td);
    http_router_add(td.router, "GET", "/delay", HTTP_ACCESS_PUBLIC, h_delay, &td);
    http_router_add(td.router, "GET", "/ws", HTTP_ACCESS_PUBLIC, h_ws, &td);
    http_router_add(td.router, "GET", "/items/{id}/{*rest}", HTTP_ACCESS_PUBLIC, h_whoami, &td);
    http_server_opts_t so = {
        .max_body_bytes = td.o.max_body,
        .idle_timeout_ms = td.o.idle_ms,
        .header_timeout_ms = td.o.header_timeout_ms,
        .on_head = on_head,
        .handler = http_router_dispatch,
        .ud = td.router,
    };
    td.srv = http_server_new(loop, &so);
    net_listen_opts_t lo = { .addr = td.o.common.listen, .tls = td.tls };
    rc = td.srv ? http_server_listen(td.srv, &lo) : -ENOMEM;
    runtime_t rt;
    if (rc == 0)
        rc = runtime_init(&rt, loop, on_stop, on_reload, &td, 0);
    if (rc) {
        log_error("testd_start_failed", LF_ERR(rc));
        if (td.srv)
            http_server_close(td.srv, NULL, NULL);
        uv_run(loop, UV_RUN_DEFAULT);
    } else {
        runtime_ready("testd", LF_S("listen", http_server_addr(td.srv)), LF_B("tls", td.tls != NULL));
        runtime_run(&rt);
    }
    http_router_free(td.router);
    tls_ctx_free(td.tls);
    cfg_free(&testd_cmd, &td.o);
    uv_loop_close(loop);
    return rc ? 1 : 0;
}
