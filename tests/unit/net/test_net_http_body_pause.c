/* Unit test: net/http_server streamed request bodies that the handler
 * pauses and resumes (the cwmp-proxy's backpressure towards a slow ACS):
 * every byte arrives, in order, whether or not the pause fell at the end
 * of a read, and whatever arrives while paused waits. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "net/conn.h"
#include "net/http_server.h"

enum { PART = 4000, PARTS = 50 };

static struct {
    uv_loop_t *loop;
    http_server_t *srv;
    net_conn_t *client;
    uv_timer_t resume_t, send_t;
    http_req_t *req;
    uint64_t got, sum, want_sum;
    int pauses, resumes, sent, empty;
    bool ended, answered;
    bool every, at_once;   /* pause on every piece; the client sends everything in one write */
    buf_t reply;
} W;

static void resume_now(uv_timer_t *t)
{
    W.resumes++;
    http_req_resume_body(W.req);
}

static int on_body(http_req_t *r, const char *d, size_t n, void *ud)
{
    if (!n)
        W.empty++; /* a pause on nothing would never be resumed by a real consumer */
    for (size_t i = 0; i < n; i++)
        W.sum = W.sum * 31 + (unsigned char)d[i];
    W.got += n;
    /* pause on every other chunk; resume from a timer, later */
    if (++W.pauses % 2 == 0 || W.every) {
        uv_timer_start(&W.resume_t, resume_now, 5, 0);
        return 1;
    }
    return 0;
}

static void on_end(http_req_t *r, int err, void *ud)
{
    assert_int_equal(err, 0);
    W.ended = true;
    char body[32];
    int len = snprintf(body, sizeof body, "%llu", (unsigned long long)W.got);
    http_respond(r, 200, "text/plain", body, (size_t)len);
}

static void on_head(http_req_t *r, void *ud)
{
    W.req = r;
    http_req_stream_body(r, on_body, on_end, NULL);
}

static void handler(http_req_t *r, void *ud) { http_respond_error(r, 500, "not streamed"); }

static void send_part(uv_timer_t *t)
{
    char part[PART];
    for (int i = 0; i < PART; i++)
        part[i] = (char)('a' + (W.sent * 7 + i) % 26);
    net_conn_write(W.client, part, sizeof part);
    W.sent++;
    if (W.sent < PARTS)
        uv_timer_start(&W.send_t, send_part, 2, 0); /* separate reads, with gaps */
}

static void c_open(net_conn_t *c)
{
    char head[128];
    int n = snprintf(head, sizeof head, "POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n",
                     PART * PARTS);
    net_conn_write(c, head, (size_t)n);
    if (!W.at_once) {
        send_part(&W.send_t);
        return;
    }
    while (W.sent < PARTS) {
        char part[PART];
        for (int i = 0; i < PART; i++)
            part[i] = (char)('a' + (W.sent * 7 + i) % 26);
        net_conn_write(W.client, part, sizeof part);
        W.sent++;
    }
}

static void c_read(net_conn_t *c, const char *d, size_t n)
{
    buf_append(&W.reply, d, n);
    if (strstr(W.reply.data, "\r\n\r\n") && W.reply.len > 4 &&
        strstr(W.reply.data, "\r\n\r\n")[4] != '\0') {
        W.answered = true;
        net_conn_close(c);
        http_server_close(W.srv, NULL, NULL);
        uv_close((uv_handle_t *)&W.resume_t, NULL);
        uv_close((uv_handle_t *)&W.send_t, NULL);
    }
}

static void run(bool every, bool at_once);

static void test_pause_resume_keeps_every_byte(void **state)
{
    run(false, false);
}

/* A file upload's pattern: a pause on every piece while it is written,
 * with the body arriving faster than it is consumed (pauses at the end
 * of reads, leftovers in the buffer). */
static void test_pause_every_piece_fast_sender(void **state)
{
    run(true, true);
    assert_int_equal(W.empty, 0);
}

static void run(bool every, bool at_once)
{
    memset(&W, 0, sizeof W);
    W.every = every;
    W.at_once = at_once;
    W.loop = uv_default_loop();
    buf_init(&W.reply, 4096);
    for (int p = 0; p < PARTS; p++)
        for (int i = 0; i < PART; i++)
            W.want_sum = W.want_sum * 31 + (unsigned char)('a' + (p * 7 + i) % 26);
    uv_timer_init(W.loop, &W.resume_t);
    uv_timer_init(W.loop, &W.send_t);
    http_server_opts_t so = { .on_head = on_head, .handler = handler };
    W.srv = http_server_new(W.loop, &so);
    net_listen_opts_t lo = { .addr = "127.0.0.1:0" };
    assert_int_equal(http_server_listen(W.srv, &lo), 0);
    uint16_t port = (uint16_t)atoi(strrchr(http_server_addr(W.srv), ':') + 1);
    static const net_conn_cbs_t cbs = { .on_open = c_open, .on_read = c_read };
    net_connect_opts_t co = { .host = "127.0.0.1", .port = port };
    assert_int_equal(net_connect(W.loop, &co, &cbs, NULL, &W.client), 0);
    uv_run(W.loop, UV_RUN_DEFAULT);
    assert_true(W.answered);
    assert_true(W.ended);
    assert_int_equal(W.got, PART * PARTS);
    assert_true(W.sum == W.want_sum);
    assert_true(W.resumes > 2);
    char want[32];
    snprintf(want, sizeof want, "\r\n\r\n%d", PART * PARTS);
    assert_non_null(strstr(W.reply.data, want));
    buf_free(&W.reply);
    uv_loop_close(W.loop);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pause_resume_keeps_every_byte),
        cmocka_unit_test(test_pause_every_piece_fast_sender),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
