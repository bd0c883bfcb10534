/* Unit test: net/http_server and a client's EOF while its answer is being
 * written. By default an EOF is a half-close whose answer is still sent; a
 * request marked with http_req_end_on_eof (an event stream) ends at once,
 * through its on_abort, without waiting for a later write to fail. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "net/conn.h"
#include "net/http_server.h"

typedef struct world {
    uv_loop_t *loop;
    http_server_t *srv;
    http_req_t *req;  /* the answer in progress */
    uv_timer_t later; /* ends the answer of a half-closed client */
    uv_timer_t guard; /* a test that would wait forever fails instead */
    bool end_on_eof;
    bool shut;        /* the client half-closed */
    int aborted;
    buf_t got;
} world_t;

static world_t W;

static void server_closed(void *ud) { (void)ud; }

static void on_abort(http_req_t *r, void *ud)
{
    (void)ud;
    W.aborted++;
    W.req = NULL;
    http_resp_end(r); /* releases it */
    uv_close((uv_handle_t *)&W.later, NULL);
    http_server_close(W.srv, server_closed, NULL);
}

/* The half-closed client still gets the rest of its answer. */
static void finish_later(uv_timer_t *t)
{
    (void)t;
    http_req_on_abort(W.req, NULL, NULL);
    http_resp_write(W.req, "rest", 4);
    http_resp_end(W.req);
    W.req = NULL;
    uv_close((uv_handle_t *)&W.later, NULL);
    http_server_close(W.srv, server_closed, NULL);
}

static void handler(http_req_t *r, void *ud)
{
    (void)ud;
    W.req = r;
    http_req_on_abort(r, on_abort, NULL);
    if (W.end_on_eof)
        http_req_end_on_eof(r);
    assert_int_equal(http_resp_begin(r, 200, NULL, "text/plain", -1), 0);
    http_resp_write(r, "first", 5);
}

static void c_read(net_conn_t *c, const char *data, size_t len)
{
    buf_append(&W.got, data, len);
    if (!W.shut && memmem(W.got.data, W.got.len, "first", 5)) {
        W.shut = true;
        net_conn_shutdown(c);
        if (!W.end_on_eof)
            uv_timer_start(&W.later, finish_later, 100, 0);
    }
}

static void c_eof(net_conn_t *c) { net_conn_close(c); }

static void guard_fired(uv_timer_t *t)
{
    (void)t;
    fail_msg("the server neither ended nor answered the half-closed request in 5 s");
}

static void run(bool end_on_eof)
{
    memset(&W, 0, sizeof W);
    W.loop = uv_default_loop();
    W.end_on_eof = end_on_eof;
    buf_init(&W.got, 1 << 16);
    uv_timer_init(W.loop, &W.later);
    uv_timer_init(W.loop, &W.guard);
    uv_timer_start(&W.guard, guard_fired, 5000, 0);
    uv_unref((uv_handle_t *)&W.guard);
    http_server_opts_t so = { .handler = handler };
    W.srv = http_server_new(W.loop, &so);
    net_listen_opts_t lo = { .addr = "127.0.0.1:0" };
    assert_int_equal(http_server_listen(W.srv, &lo), 0);
    uint16_t port = (uint16_t)atoi(strrchr(http_server_addr(W.srv), ':') + 1);
    static const net_conn_cbs_t cbs = { .on_read = c_read, .on_eof = c_eof };
    net_connect_opts_t co = { .host = "127.0.0.1", .port = port };
    net_conn_t *client = NULL;
    assert_int_equal(net_connect(W.loop, &co, &cbs, NULL, &client), 0);
    net_conn_write(client, "GET /events HTTP/1.1\r\nHost: x\r\n\r\n", 33);
    uv_run(W.loop, UV_RUN_DEFAULT);
    uv_close((uv_handle_t *)&W.guard, NULL);
    uv_run(W.loop, UV_RUN_DEFAULT);
}

static void test_eof_ends_a_stream(void **state)
{
    (void)state;
    run(true);
    assert_true(W.shut);
    assert_int_equal(W.aborted, 1);
    assert_null(memmem(W.got.data, W.got.len, "rest", 4));
    buf_free(&W.got);
    uv_loop_close(W.loop);
}

static void test_half_close_is_still_answered(void **state)
{
    (void)state;
    run(false);
    assert_true(W.shut);
    assert_int_equal(W.aborted, 0);
    assert_non_null(memmem(W.got.data, W.got.len, "rest", 4));
    buf_free(&W.got);
    uv_loop_close(W.loop);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_eof_ends_a_stream),
        cmocka_unit_test(test_half_close_is_still_answered),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
