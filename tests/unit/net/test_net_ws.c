/* Unit tests: net/ws over loopback — echo, caps (1009), close codes both
 * ways, send-queue backpressure, ping timeout, refused upgrades. */
#include <errno.h>
#include <signal.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "net/http_client.h"
#include "net/http_server.h"
#include "net/ws.h"

typedef struct peer {
    ws_t *ws;
    bool opened, closed, drained;
    uint16_t code;
    char reason[128];
    size_t msgs, bytes;
    int last_type;
    char last[64];
} peer_t;

typedef struct world {
    uv_loop_t loop;
    http_server_t *srv;
    peer_t s, c;
    ws_opts_t sopts;
    bool server_paused;
    const char *refuse;   /* the handler answers 429 with this body ("": 403, no body) */
    bool srv_closed;
    int http_status;
    bool http_done;
} world_t;

static world_t W;

static void s_msg(ws_t *ws, int type, const uint8_t *d, size_t n)
{
    peer_t *p = ws_data(ws);
    p->msgs++;
    p->bytes += n;
    p->last_type = type;
    snprintf(p->last, sizeof p->last, "%.*s", (int)(n < 60 ? n : 60), (const char *)d);
    if (n == 9 && memcmp(d, "close4000", 9) == 0) {
        ws_close(ws, 4000, "bye");
        return;
    }
    if (p == &W.s)
        ws_send(ws, type, d, n);
}

static void s_drain(ws_t *ws)
{
    peer_t *p = ws_data(ws);
    p->drained = true;
}

static void s_open(ws_t *ws)
{
    peer_t *p = ws_data(ws);
    p->opened = true;
}

static void s_close(ws_t *ws, uint16_t code, const char *reason)
{
    peer_t *p = ws_data(ws);
    p->closed = true;
    p->code = code;
    snprintf(p->reason, sizeof p->reason, "%s", reason);
    p->ws = NULL;
}

static const ws_cbs_t cbs = { s_open, s_msg, s_drain, s_close };

static void handler(http_req_t *r, void *ud)
{
    if (W.refuse) {
        if (*W.refuse)
            http_respond(r, 429, "text/plain", W.refuse, strlen(W.refuse));
        else
            http_respond(r, 403, "text/plain", "", 0);
        return;
    }
    W.s.ws = ws_accept(r, &W.sopts, &cbs, &W.s, NULL);
    if (W.s.ws) {
        W.s.opened = true;
        if (W.server_paused)
            ws_pause(W.s.ws);
    }
}

static void srv_closed(void *ud) { W.srv_closed = true; }

static void world_init(const ws_opts_t *so)
{
    memset(&W, 0, sizeof W);
    uv_loop_init(&W.loop);
    if (so)
        W.sopts = *so;
    http_server_opts_t o = { .handler = handler };
    W.srv = http_server_new(&W.loop, &o);
    net_listen_opts_t lo = { .addr = "127.0.0.1:0" };
    assert_int_equal(http_server_listen(W.srv, &lo), 0);
}

static void connect_client(const ws_opts_t *co)
{
    char url[128];
    snprintf(url, sizeof url, "ws://%s/ws", http_server_addr(W.srv));
    ws_connect_opts_t c = { .url = url };
    assert_int_equal(ws_connect(&W.loop, &c, co, &cbs, &W.c, &W.c.ws), 0);
}

static void run_until(bool *flag)
{
    for (int i = 0; i < 200000 && !*flag; i++)
        uv_run(&W.loop, UV_RUN_ONCE);
    assert_true(*flag);
}

static void world_done(void)
{
    if (W.c.ws)
        ws_abort(W.c.ws);
    if (W.s.ws)
        ws_abort(W.s.ws);
    http_server_close(W.srv, srv_closed, NULL);
    uv_run(&W.loop, UV_RUN_DEFAULT);
    assert_true(W.srv_closed);
    assert_int_equal(uv_loop_close(&W.loop), 0);
}

static void test_echo_and_client_close(void **s)
{
    world_init(NULL);
    connect_client(NULL);
    run_until(&W.c.opened);
    assert_int_equal(ws_send(W.c.ws, WS_TEXT, "hello", 5), 0);
    assert_int_equal(ws_send(W.c.ws, WS_BINARY, "\x00\x01\x02", 3), 0);
    while (W.c.msgs < 2)
        uv_run(&W.loop, UV_RUN_ONCE);
    assert_int_equal(W.c.last_type, WS_BINARY);
    assert_int_equal(W.c.bytes, 8);
    ws_close(W.c.ws, WS_CLOSE_NORMAL, "done");
    run_until(&W.s.closed);
    assert_int_equal(W.s.code, 1000);
    assert_string_equal(W.s.reason, "done");
    run_until(&W.c.closed);
    assert_int_equal(W.c.code, 1000);
    world_done();
}

static void test_mask_matches_rfc(void **s)
{
    uint8_t key[4] = { 0x37, 0xfa, 0x21, 0x3d };
    static uint8_t src[1000], dst[1000];
    for (size_t i = 0; i < sizeof src; i++)
        src[i] = (uint8_t)(i * 31 + 7);
    for (size_t n = 0; n < 40; n++) {
        ws_mask_bytes(dst, src, n, key);
        for (size_t i = 0; i < n; i++)
            assert_int_equal(dst[i], src[i] ^ key[i % 4]);
    }
    ws_mask_bytes(dst, src, sizeof src, key);
    ws_mask_bytes(dst, dst, sizeof src, key); /* in place, and an involution */
    assert_memory_equal(dst, src, sizeof src);
}

/* Frames of every length class (7-bit, 16-bit, 64-bit) both ways, masked
 * client->server and plain server->client. */
static void test_lengths_both_ways(void **s)
{
    static const size_t lens[] = { 0, 1, 125, 126, 127, 65535, 65536, 300001 };
    static uint8_t buf[300001];
    world_init(NULL);
    connect_client(NULL);
    run_until(&W.c.opened);
    size_t want = 0;
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        assert_int_equal(ws_send(W.c.ws, WS_BINARY, buf, lens[i]), 0);
        want += lens[i];
    }
    while (W.c.msgs < sizeof lens / sizeof lens[0])
        uv_run(&W.loop, UV_RUN_ONCE);
    assert_int_equal(W.c.bytes, want);
    ws_close(W.c.ws, WS_CLOSE_NORMAL, "done");
    run_until(&W.c.closed);
    world_done();
}

static void test_server_close_code(void **s)
{
    world_init(NULL);
    connect_client(NULL);
    run_until(&W.c.opened);
    ws_send(W.c.ws, WS_TEXT, "close4000", 9);
    run_until(&W.c.closed);
    assert_int_equal(W.c.code, 4000);
    assert_string_equal(W.c.reason, "bye");
    run_until(&W.s.closed);
    world_done();
}

static void test_message_too_big(void **s)
{
    ws_opts_t so = { .max_message = 1000 };
    world_init(&so);
    connect_client(NULL);
    run_until(&W.c.opened);
    static char big[5000];
    memset(big, 'a', sizeof big);
    assert_int_equal(ws_send(W.c.ws, WS_TEXT, big, sizeof big), 0);
    run_until(&W.c.closed);
    assert_int_equal(W.c.code, WS_CLOSE_TOO_BIG);
    run_until(&W.s.closed);
    assert_int_equal(W.s.msgs, 0);
    world_done();
}

static void test_backpressure(void **s)
{
    world_init(NULL);
    W.server_paused = true;
    ws_opts_t co = { .high_water = 256 * 1024, .low_water = 64 * 1024, .max_queue = 64 << 20 };
    connect_client(&co);
    run_until(&W.c.opened);
    run_until(&W.s.opened);
    static char block[32768];
    size_t sent = 0;
    while (!ws_congested(W.c.ws)) {
        assert_int_equal(ws_send(W.c.ws, WS_BINARY, block, sizeof block), 0);
        sent += sizeof block;
        uv_run(&W.loop, UV_RUN_NOWAIT);
        assert_true(sent < (128u << 20));
    }
    ws_resume(W.s.ws);
    run_until(&W.c.drained);
    /* the server echoes everything back once it reads again */
    while (W.c.bytes < sent)
        uv_run(&W.loop, UV_RUN_ONCE);
    assert_int_equal(W.s.bytes, sent);
    world_done();
}

/* A producer that sends until congested and resumes on on_drain moves any
 * amount: every drain it waits for does come. */
static size_t pump_left;

static void pump(ws_t *ws)
{
    static const char msg[200] = { 'x' };
    while (pump_left && !ws_congested(ws)) {
        assert_int_equal(ws_send(ws, WS_TEXT, msg, sizeof msg), 0);
        pump_left--;
    }
}

static void pump_drain(ws_t *ws)
{
    W.c.drained = true;
    pump(ws);
}

static const ws_cbs_t pump_cbs = { s_open, s_msg, pump_drain, s_close };

static void test_producer_paced_by_drain(void **s)
{
    world_init(NULL);
    char url[128];
    snprintf(url, sizeof url, "ws://%s/ws", http_server_addr(W.srv));
    ws_connect_opts_t c = { .url = url };
    ws_opts_t co = { .high_water = 64 * 1024, .low_water = 16 * 1024 };
    assert_int_equal(ws_connect(&W.loop, &c, &co, &pump_cbs, &W.c, &W.c.ws), 0);
    run_until(&W.c.opened);
    pump_left = 300000;
    pump(W.c.ws);
    for (int i = 0; i < 5000000 && W.s.msgs < 300000; i++)
        uv_run(&W.loop, UV_RUN_ONCE);
    assert_int_equal(W.s.msgs, 300000);
    assert_true(W.c.drained);
    world_done();
}

static void test_ping_timeout(void **s)
{
    ws_opts_t so = { .ping_interval_ms = 30, .pong_timeout_ms = 100 };
    world_init(&so);
    connect_client(NULL);
    run_until(&W.c.opened);
    run_until(&W.s.opened);
    ws_pause(W.c.ws); /* a client that stops reading never answers pings */
    run_until(&W.s.closed);
    assert_string_equal(W.s.reason, "ping timeout");
    world_done();
}

static void tick(uv_timer_t *t) {}

/* Run the loop for ms (a ticking timer keeps it from blocking when nothing
 * else is armed) or until the server side closed. */
static void run_for(uint64_t ms)
{
    uv_timer_t t;
    uv_timer_init(&W.loop, &t);
    uv_timer_start(&t, tick, 5, 5);
    uint64_t until = uv_now(&W.loop) + ms;
    while (uv_now(&W.loop) < until && !W.s.closed) {
        uv_run(&W.loop, UV_RUN_ONCE);
        uv_update_time(&W.loop);
    }
    uv_close((uv_handle_t *)&t, NULL);
    uv_run(&W.loop, UV_RUN_NOWAIT);
}

static void test_paused_side_keeps_its_peer(void **s)
{
    /* the pinging side pauses reading (backpressure): it cannot see pongs,
     * so it must not call its peer dead; after resuming, pings go on */
    ws_opts_t so = { .ping_interval_ms = 20, .pong_timeout_ms = 60 };
    world_init(&so);
    W.server_paused = true;
    connect_client(NULL);
    run_until(&W.c.opened);
    run_until(&W.s.opened);
    run_for(300);
    assert_false(W.s.closed);
    ws_resume(W.s.ws);
    run_for(300);
    assert_false(W.s.closed);
    assert_false(W.c.closed);
    world_done();
}

static void test_pings_answered(void **s)
{
    ws_opts_t so = { .ping_interval_ms = 20, .pong_timeout_ms = 100 };
    world_init(&so);
    connect_client(NULL);
    run_until(&W.c.opened);
    run_until(&W.s.opened);
    /* several ping periods pass; the connection stays up */
    uint64_t out0 = net_conn_bytes_out(ws_conn(W.s.ws));
    run_for(600);
    assert_false(W.s.closed);
    assert_false(W.c.closed);
    /* pings go every ping period once answered, not every pong timeout:
     * 30 periods of 4-byte pings; one per pong timeout would be 6 */
    uint64_t pings = (net_conn_bytes_out(ws_conn(W.s.ws)) - out0) / 4;
    assert_true(pings >= 8);
    world_done();
}

static void on_http(int err, const http_response_t *resp, void *ud)
{
    W.http_status = err ? err : resp->status;
    W.http_done = true;
}

static void test_plain_get_is_refused(void **s)
{
    world_init(NULL);
    http_client_t *cl = http_client_new(&W.loop, NULL);
    char url[128];
    snprintf(url, sizeof url, "http://%s/ws", http_server_addr(W.srv));
    http_request_spec_t spec = { .method = "GET", .url = url };
    assert_non_null(http_client_request(cl, &spec, on_http, NULL, NULL));
    run_until(&W.http_done);
    assert_int_equal(W.http_status, 426);
    http_client_free(cl);
    world_done();
}

/* A refused upgrade closes the client with the status and the first line
 * of the server's reason, printable characters only. */
static void test_refused_upgrade_says_why(void **s)
{
    world_init(NULL);
    W.refuse = "too many\x01 connections\r\nsecond line";
    connect_client(&(ws_opts_t){ 0 });
    run_until(&W.c.closed);
    assert_false(W.c.opened);
    assert_int_equal(W.c.code, 1006);
    assert_string_equal(W.c.reason, "upgrade refused: HTTP 429 too many? connections");
    world_done();

    world_init(NULL);
    W.refuse = "";
    connect_client(&(ws_opts_t){ 0 });
    run_until(&W.c.closed);
    assert_string_equal(W.c.reason, "upgrade refused: HTTP 403");
    world_done();
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_echo_and_client_close),
        cmocka_unit_test(test_mask_matches_rfc),
        cmocka_unit_test(test_lengths_both_ways),
        cmocka_unit_test(test_server_close_code),
        cmocka_unit_test(test_message_too_big),
        cmocka_unit_test(test_backpressure),
        cmocka_unit_test(test_producer_paced_by_drain),
        cmocka_unit_test(test_ping_timeout),
        cmocka_unit_test(test_pings_answered),
        cmocka_unit_test(test_paused_side_keeps_its_peer),
        cmocka_unit_test(test_plain_get_is_refused),
        cmocka_unit_test(test_refused_upgrade_says_why),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
