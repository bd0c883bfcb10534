/* Unit test: net/http_server per-connection data (http_req_set_conn_data),
 * which the cwmp-proxy uses to pin a client connection to its upstream. */
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

typedef struct world {
    uv_loop_t *loop;
    http_server_t *srv;
    net_conn_t *client;
    buf_t got;
    int released;
    int last_count;
    bool replace_seen;
} world_t;

static world_t W;

static void release_counter(void *data)
{
    W.last_count = *(int *)data;
    W.released++;
    free(data);
    if (W.released == 2) /* the replaced one, then the connection's */
        http_server_close(W.srv, NULL, NULL);
}

static void handler(http_req_t *r, void *ud)
{
    int *n = http_req_conn_data(r);
    if (!n) {
        n = calloc(1, sizeof *n);
        http_req_set_conn_data(r, n, release_counter);
    }
    (*n)++;
    if (strcmp(http_req_path(r), "/replace") == 0) {
        /* replacing releases the old value at once */
        int *fresh = calloc(1, sizeof *fresh);
        *fresh = 100;
        http_req_set_conn_data(r, fresh, release_counter);
        assert_int_equal(W.released, 1);
        assert_int_equal(W.last_count, 3);
        n = fresh;
    }
    char body[16];
    int len = snprintf(body, sizeof body, "%d", *n);
    http_respond(r, 200, "text/plain", body, (size_t)len);
}

static void c_read(net_conn_t *c, const char *data, size_t len)
{
    buf_append(&W.got, data, len);
    /* three responses in: hang up */
    int n = 0;
    for (const char *p = W.got.data; (p = strstr(p, "HTTP/1.1 200")); p++)
        n++;
    if (n == 3)
        net_conn_close(c);
}

static void c_open(net_conn_t *c)
{
    const char *reqs = "GET /a HTTP/1.1\r\nHost: x\r\n\r\n"
                       "GET /b HTTP/1.1\r\nHost: x\r\n\r\n"
                       "GET /replace HTTP/1.1\r\nHost: x\r\n\r\n";
    net_conn_write(c, reqs, strlen(reqs));
}

static void c_close(net_conn_t *c, int err) { W.client = NULL; }

static void test_conn_data_lifecycle(void **state)
{
    memset(&W, 0, sizeof W);
    W.loop = uv_default_loop();
    buf_init(&W.got, 1 << 16);
    http_server_opts_t so = { .handler = handler };
    W.srv = http_server_new(W.loop, &so);
    net_listen_opts_t lo = { .addr = "127.0.0.1:0" };
    assert_int_equal(http_server_listen(W.srv, &lo), 0);
    const char *addr = http_server_addr(W.srv);
    uint16_t port = (uint16_t)atoi(strrchr(addr, ':') + 1);
    static const net_conn_cbs_t cbs = { .on_open = c_open, .on_read = c_read, .on_close = c_close };
    net_connect_opts_t co = { .host = "127.0.0.1", .port = port };
    assert_int_equal(net_connect(W.loop, &co, &cbs, NULL, &W.client), 0);
    uv_run(W.loop, UV_RUN_DEFAULT);
    /* The counter lived across the first requests, then was replaced;
     * the connection's close released the replacement exactly once. */
    assert_non_null(strstr(W.got.data, "\r\n\r\n1"));
    assert_non_null(strstr(W.got.data, "\r\n\r\n2"));
    assert_non_null(strstr(W.got.data, "\r\n\r\n100"));
    assert_int_equal(W.released, 2);
    assert_int_equal(W.last_count, 100);
    buf_free(&W.got);
    uv_loop_close(W.loop);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conn_data_lifecycle),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
