/* Unit tests: net/http_client against an in-process net/http_server —
 * keep-alive reuse, retry of a stale pooled connection, caps, timeouts,
 * chunked and HEAD responses, cancellation. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "net/http_client.h"
#include "net/http_router.h"
#include "net/http_server.h"

typedef struct world {
    uv_loop_t loop;
    http_server_t *srv;
    http_router_t *router;
    http_client_t *cl;
    char base[64];
    int done, status, err;
    char body[256];
    size_t body_len;
    char conn_seen[8][64]; /* client address per request, to see reuse */
    int nseen;
    bool srv_closed;
    http_req_t *held; /* a request answered later (or never) */
} world_t;

static world_t W;

static void note_peer(http_req_t *r)
{
    if (W.nseen < 8)
        snprintf(W.conn_seen[W.nseen++], 64, "%s", http_req_peer(r));
}

static void h_hello(http_req_t *r, void *ud)
{
    note_peer(r);
    http_respond(r, 200, "text/plain", "hi", 2);
}

static char seen_client[64];

static void h_client(http_req_t *r, void *ud)
{
    net_cidr_t trusted[2];
    net_cidr_parse("127.0.0.0/8", &trusted[0]);
    net_cidr_parse("10.0.0.0/8", &trusted[1]);
    http_req_client_ip(r, trusted, 2, seen_client, sizeof seen_client);
    http_respond(r, 200, NULL, NULL, 0);
}

static char seen_ua[64];

static void h_ua(http_req_t *r, void *ud)
{
    const char *ua = http_req_header(r, "User-Agent");
    snprintf(seen_ua, sizeof seen_ua, "%s", ua ? ua : "");
    http_resp_set_reason(r, "Relayed\r\nX-Injected: 1");
    http_respond(r, 299, NULL, NULL, 0);
}

static void h_chunked(http_req_t *r, void *ud)
{
    http_resp_begin(r, 200, "X-Test: 1\r\n", "text/plain", -1);
    http_resp_write(r, "abc", 3);
    http_resp_write(r, "defg", 4);
    http_resp_end(r);
}

static void h_big(http_req_t *r, void *ud)
{
    static char big[100000];
    http_respond(r, 200, "application/octet-stream", big, sizeof big);
}

static void h_hold(http_req_t *r, void *ud) { W.held = r; }

static void h_echo(http_req_t *r, void *ud)
{
    size_t n;
    const char *b = http_req_body(r, &n);
    http_respond(r, 201, "text/plain", b, n);
}

static char last_reason[64];
static bool last_injected;

static void on_resp(int err, const http_response_t *resp, void *ud)
{
    if (resp) {
        snprintf(last_reason, sizeof last_reason, "%s", resp->msg->reason);
        last_injected = http_msg_header(resp->msg, "X-Injected") != NULL;
    }
    W.done++;
    W.err = err;
    W.status = resp ? resp->status : 0;
    W.body_len = 0;
    if (resp) {
        W.body_len = resp->body_len < sizeof W.body ? resp->body_len : sizeof W.body;
        memcpy(W.body, resp->body, W.body_len);
    }
}

static void srv_closed(void *ud) { W.srv_closed = true; }

static void world_init(int64_t idle_ms, const http_client_opts_t *co)
{
    memset(&W, 0, sizeof W);
    uv_loop_init(&W.loop);
    W.router = http_router_new(NULL);
    http_router_add(W.router, "GET", "/hello", HTTP_ACCESS_PUBLIC, h_hello, NULL);
    http_router_add(W.router, "GET", "/chunked", HTTP_ACCESS_PUBLIC, h_chunked, NULL);
    http_router_add(W.router, "GET", "/big", HTTP_ACCESS_PUBLIC, h_big, NULL);
    http_router_add(W.router, "GET", "/hold", HTTP_ACCESS_PUBLIC, h_hold, NULL);
    http_router_add(W.router, "POST", "/echo", HTTP_ACCESS_PUBLIC, h_echo, NULL);
    http_router_add(W.router, "GET", "/ua", HTTP_ACCESS_PUBLIC, h_ua, NULL);
    http_router_add(W.router, "GET", "/client", HTTP_ACCESS_PUBLIC, h_client, NULL);
    http_server_opts_t so = { .handler = http_router_dispatch, .ud = W.router, .idle_timeout_ms = idle_ms };
    W.srv = http_server_new(&W.loop, &so);
    net_listen_opts_t lo = { .addr = "127.0.0.1:0" };
    assert_int_equal(http_server_listen(W.srv, &lo), 0);
    snprintf(W.base, sizeof W.base, "http://%s", http_server_addr(W.srv));
    W.cl = http_client_new(&W.loop, co);
}

static void request(const char *method, const char *path, const char *body)
{
    char url[128];
    snprintf(url, sizeof url, "%s%s", W.base, path);
    http_request_spec_t spec = { .method = method, .url = url, .body = body,
                                 .body_len = body ? strlen(body) : 0 };
    int err = 0;
    assert_non_null(http_client_request(W.cl, &spec, on_resp, NULL, &err));
}

static void wait_done(int n)
{
    for (int i = 0; i < 100000 && W.done < n; i++)
        uv_run(&W.loop, UV_RUN_ONCE);
    assert_int_equal(W.done, n);
}

static void world_done(void)
{
    if (W.held)
        http_respond(W.held, 200, NULL, NULL, 0);
    http_client_free(W.cl);
    http_server_close(W.srv, srv_closed, NULL);
    uv_run(&W.loop, UV_RUN_DEFAULT);
    assert_true(W.srv_closed);
    http_router_free(W.router);
    assert_int_equal(uv_loop_close(&W.loop), 0);
}

static void test_keepalive_reuse(void **s)
{
    world_init(0, NULL);
    request("GET", "/hello", NULL);
    wait_done(1);
    assert_int_equal(W.status, 200);
    assert_memory_equal(W.body, "hi", 2);
    request("GET", "/hello", NULL);
    wait_done(2);
    assert_int_equal(W.nseen, 2);
    assert_string_equal(W.conn_seen[0], W.conn_seen[1]); /* same connection */
    request("POST", "/echo", "payload");
    wait_done(3);
    assert_int_equal(W.status, 201);
    assert_int_equal(W.body_len, 7);
    world_done();
}

static void test_stale_pooled_connection_is_retried(void **s)
{
    /* the server drops idle connections after 50 ms; the client keeps its
     * idle ones longer, so the second request meets a closed one */
    http_client_opts_t co = { .idle_timeout_ms = 60000 };
    world_init(50, &co);
    request("GET", "/hello", NULL);
    wait_done(1);
    uint64_t until = uv_now(&W.loop) + 150;
    while (uv_now(&W.loop) < until) {
        uv_run(&W.loop, UV_RUN_NOWAIT);
        uv_update_time(&W.loop);
    }
    request("GET", "/hello", NULL);
    wait_done(2);
    assert_int_equal(W.err, 0);
    assert_int_equal(W.status, 200);
    world_done();
}

static void test_user_agent_and_reason(void **s)
{
    world_init(0, NULL);
    request("GET", "/ua", NULL);
    wait_done(1);
    assert_string_equal(seen_ua, "outpost");
    assert_int_equal(W.status, 299);
    /* the reason phrase is kept, without the line break a peer slipped in */
    assert_string_equal(last_reason, "RelayedX-Injected: 1");
    assert_false(last_injected);
    char url[128];
    snprintf(url, sizeof url, "%s/ua", W.base);
    http_request_spec_t spec = { .method = "GET", .url = url, .headers = "User-Agent: curl/8\r\n" };
    assert_non_null(http_client_request(W.cl, &spec, on_resp, NULL, NULL));
    wait_done(2);
    assert_string_equal(seen_ua, "curl/8");
    world_done();
}

static void client_ip_case(const char *headers, const char *want)
{
    char url[128];
    snprintf(url, sizeof url, "%s/client", W.base);
    http_request_spec_t spec = { .method = "GET", .url = url, .headers = headers };
    int done = W.done;
    assert_non_null(http_client_request(W.cl, &spec, on_resp, NULL, NULL));
    wait_done(done + 1);
    if (strcmp(seen_client, want) != 0)
        fail_msg("headers %s: client %s, want %s", headers ? headers : "(none)", seen_client, want);
}

static void test_client_ip_behind_trusted_proxies(void **s)
{
    world_init(0, NULL);
    /* the test connects from 127.0.0.1, a trusted proxy here */
    client_ip_case(NULL, "127.0.0.1");
    client_ip_case("X-Forwarded-For: 198.51.100.7\r\n", "198.51.100.7");
    /* the nearest untrusted hop wins; what a client claims beyond it does not */
    client_ip_case("X-Forwarded-For: 6.6.6.6, 198.51.100.7, 10.1.1.1\r\n", "198.51.100.7");
    client_ip_case("X-Forwarded-For: 203.0.113.9:5060\r\n", "203.0.113.9");
    client_ip_case("X-Forwarded-For: 2001:db8::5\r\n", "2001:db8::5");
    client_ip_case("Forwarded: for=\"[2001:db8::7]:443\";proto=https\r\n", "2001:db8::7");
    client_ip_case("Forwarded: for=192.0.2.1, for=10.2.2.2\r\n", "192.0.2.1");
    /* garbage stops the walk: the peer stands */
    client_ip_case("X-Forwarded-For: nonsense\r\n", "127.0.0.1");
    world_done();
}

static void test_chunked_response(void **s)
{
    world_init(0, NULL);
    request("GET", "/chunked", NULL);
    wait_done(1);
    assert_int_equal(W.status, 200);
    assert_int_equal(W.body_len, 7);
    assert_memory_equal(W.body, "abcdefg", 7);
    world_done();
}

static void test_head_has_no_body(void **s)
{
    world_init(0, NULL);
    request("HEAD", "/hello", NULL);
    wait_done(1);
    assert_int_equal(W.status, 200);
    assert_int_equal(W.body_len, 0);
    request("GET", "/hello", NULL); /* the connection is still in step */
    wait_done(2);
    assert_memory_equal(W.body, "hi", 2);
    world_done();
}

static void test_response_cap(void **s)
{
    http_client_opts_t co = { .max_response_bytes = 1000 };
    world_init(0, &co);
    request("GET", "/big", NULL);
    wait_done(1);
    assert_int_equal(W.err, -ENOBUFS);
    world_done();
}

static void test_timeout(void **s)
{
    http_client_opts_t co = { .request_timeout_ms = 100 };
    world_init(0, &co);
    request("GET", "/hold", NULL);
    wait_done(1);
    assert_int_equal(W.err, -ETIMEDOUT);
    world_done();
}

static void test_cancel_and_bad_specs(void **s)
{
    world_init(0, NULL);
    char url[128];
    snprintf(url, sizeof url, "%s/hold", W.base);
    http_request_spec_t spec = { .method = "GET", .url = url };
    http_call_t *call = http_client_request(W.cl, &spec, on_resp, NULL, NULL);
    assert_non_null(call);
    while (!W.held)
        uv_run(&W.loop, UV_RUN_ONCE);
    http_call_cancel(call);
    for (int i = 0; i < 20; i++)
        uv_run(&W.loop, UV_RUN_NOWAIT);
    assert_int_equal(W.done, 0);
    int err = 0;
    spec.url = "ftp://x/";
    assert_null(http_client_request(W.cl, &spec, on_resp, NULL, &err));
    assert_int_equal(err, -EINVAL);
    spec.url = "https://127.0.0.1/"; /* no TLS context configured */
    assert_null(http_client_request(W.cl, &spec, on_resp, NULL, &err));
    assert_int_equal(err, -EPROTONOSUPPORT);
    spec.url = url;
    spec.headers = "X: 1\r\n\r\nGET /smuggled HTTP/1.1\r\n";
    assert_null(http_client_request(W.cl, &spec, on_resp, NULL, &err));
    assert_int_equal(err, -EINVAL);
    spec.headers = "X: 1\nY: 2\r\n";
    assert_null(http_client_request(W.cl, &spec, on_resp, NULL, &err));
    spec.headers = "X: 1";
    assert_null(http_client_request(W.cl, &spec, on_resp, NULL, &err));
    world_done();
}

static void test_connection_refused(void **s)
{
    world_init(0, NULL);
    http_request_spec_t spec = { .method = "GET", .url = "http://127.0.0.1:1/" };
    assert_non_null(http_client_request(W.cl, &spec, on_resp, NULL, NULL));
    wait_done(1);
    assert_int_equal(W.err, -ECONNREFUSED);
    world_done();
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keepalive_reuse),
        cmocka_unit_test(test_stale_pooled_connection_is_retried),
        cmocka_unit_test(test_user_agent_and_reason),
        cmocka_unit_test(test_client_ip_behind_trusted_proxies),
        cmocka_unit_test(test_chunked_response),
        cmocka_unit_test(test_head_has_no_body),
        cmocka_unit_test(test_response_cap),
        cmocka_unit_test(test_timeout),
        cmocka_unit_test(test_cancel_and_bad_specs),
        cmocka_unit_test(test_connection_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
