/* Unit tests: codec/relay_msg and codec/relay_rest (the micronets message format). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "codec/relay_msg.h"
#include "codec/relay_rest.h"

#define NV(n, v) { (n), sizeof(n) - 1, (v), sizeof(v) - 1 }

static int decode(relay_env_t *e, const char *s, char *err)
{
    return relay_env_decode(e, s, strlen(s), err, RELAY_ERR_LEN);
}

/* ---- envelope ------------------------------------------------------------ */

static void test_env_valid_and_kinds(void **state)
{
    static const struct {
        const char *json;
        relay_kind_t kind;
    } ok[] = {
        { "{\"message\":{\"messageId\":0,\"messageType\":\"CONN:HELLO\",\"requiresResponse\":false}}",
          RELAY_KIND_HELLO },
        { "{\"message\":{\"messageId\":3,\"messageType\":\"REST:REQUEST\",\"requiresResponse\":true}}",
          RELAY_KIND_REST_REQUEST },
        { "{\"message\":{\"messageType\":\"REST:RESPONSE\",\"inResponseTo\":3}}", RELAY_KIND_REST_RESPONSE },
        { "{\"message\":{\"messageType\":\"EVENT:lease\"}}", RELAY_KIND_EVENT },
        { "{\"message\":{\"messageType\":\"X:Y\",\"extra\":[1,2]}, \"other\": 1}", RELAY_KIND_OTHER },
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        relay_env_t e;
        char err[RELAY_ERR_LEN] = "";
        assert_int_equal(decode(&e, ok[i].json, err), 0);
        assert_int_equal(e.kind, ok[i].kind);
        relay_env_free(&e);
    }
    relay_env_t e;
    char err[RELAY_ERR_LEN];
    assert_int_equal(decode(&e, "{\"message\":{\"messageId\":7,\"messageType\":\"REST:RESPONSE\","
                                "\"requiresResponse\":false,\"inResponseTo\":5}}", err), 0);
    assert_true(e.has_id);
    assert_int_equal(e.id, 7);
    assert_true(e.has_in_response_to);
    assert_int_equal(e.in_response_to, 5);
    assert_false(e.requires_response);
    relay_env_free(&e);
    assert_int_equal(decode(&e, "{\"message\":{\"messageType\":\"EVENT:dhcp-lease\"}}", err), 0);
    assert_string_equal(relay_event_name(&e), "dhcp-lease");
    relay_env_free(&e);
}

static void test_env_rejects(void **state)
{
    static const char *const bad[] = {
        "", "not json", "[]", "{}", "{\"message\": 1}", "{\"message\": {}}",
        "{\"message\":{\"messageType\":\"\"}}",
        "{\"message\":{\"messageType\":5}}",
        "{\"message\":{\"messageType\":\"A\",\"messageId\":\"1\"}}",
        "{\"message\":{\"messageType\":\"A\",\"messageId\":1.5}}",
        "{\"message\":{\"messageType\":\"A\",\"requiresResponse\":\"yes\"}}",
        "{\"message\":{\"messageType\":\"A\",\"inResponseTo\":null}}",
        "{\"message\":{\"messageType\":\"A\\u0000B\"}}",
        "{\"message\":{\"messageType\":\"A\"},\"message\":{\"messageType\":\"B\"}}",
        "{\"message\":{\"messageType\":\"A\"}} trailing",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        relay_env_t e;
        char err[RELAY_ERR_LEN] = "";
        assert_int_equal(decode(&e, bad[i], err), -EINVAL);
        assert_true(err[0] != '\0');
        assert_true(strlen(err) < RELAY_ERR_LEN);
        relay_env_free(&e); /* safe after a failure */
    }
}

/* ---- HELLO ------------------------------------------------------------------ */

static void test_hello_seed_example(void **state)
{
    const char *seed = "{\"message\": {\"messageId\": 0, \"messageType\": \"CONN:HELLO\", "
                       "\"requiresResponse\": false, \"peerClass\": \"micronets-ws-test-client\", "
                       "\"peerId\": \"12345678\"}}";
    relay_env_t e;
    relay_hello_t h;
    char err[RELAY_ERR_LEN];
    assert_int_equal(decode(&e, seed, err), 0);
    assert_int_equal(relay_hello_check(&e, &h, err, sizeof err), 0);
    assert_string_equal(h.peer_class, "micronets-ws-test-client");
    assert_string_equal(h.peer_id, "12345678");
    relay_env_free(&e);
}

static void test_hello_build_roundtrip(void **state)
{
    buf_t b = BUF_INIT(4096);
    assert_int_equal(relay_hello_build(&b, 0, "micronets-dhcp-service", "gw \"1\""), 0);
    assert_string_equal(b.data, "{\"message\":{\"messageId\":0,\"messageType\":\"CONN:HELLO\","
                                "\"requiresResponse\":false,\"peerClass\":\"micronets-dhcp-service\","
                                "\"peerId\":\"gw \\\"1\\\"\"}}");
    relay_env_t e;
    relay_hello_t h;
    char err[RELAY_ERR_LEN];
    assert_int_equal(relay_env_decode(&e, b.data, b.len, err, sizeof err), 0);
    assert_int_equal(relay_hello_check(&e, &h, err, sizeof err), 0);
    assert_string_equal(h.peer_id, "gw \"1\"");
    relay_env_free(&e);
    buf_reset(&b);
    assert_int_equal(relay_hello_build(&b, 0, "a", "\xff"), -EINVAL); /* not UTF-8 */
    buf_free(&b);
}

static void test_hello_rejects(void **state)
{
    static const struct {
        const char *json;
        const char *why;
    } bad[] = {
        { "{\"message\":{\"messageId\":0,\"messageType\":\"REST:REQUEST\",\"requiresResponse\":true}}",
          "expected CONN:HELLO" },
        { "{\"message\":{\"messageType\":\"CONN:HELLO\",\"requiresResponse\":false,"
          "\"peerClass\":\"a\",\"peerId\":\"b\"}}", "messageId" },
        { "{\"message\":{\"messageId\":0,\"messageType\":\"CONN:HELLO\","
          "\"peerClass\":\"a\",\"peerId\":\"b\"}}", "requiresResponse" },
        { "{\"message\":{\"messageId\":0,\"messageType\":\"CONN:HELLO\",\"requiresResponse\":false,"
          "\"peerId\":\"b\"}}", "peerClass" },
        { "{\"message\":{\"messageId\":0,\"messageType\":\"CONN:HELLO\",\"requiresResponse\":false,"
          "\"peerClass\":\"a\",\"peerId\":7}}", "peerId" },
        { "{\"message\":{\"messageId\":0,\"messageType\":\"CONN:HELLO\",\"requiresResponse\":false,"
          "\"peerClass\":\"\",\"peerId\":\"b\"}}", "1-256" },
        { "{\"message\":{\"messageId\":0,\"messageType\":\"CONN:HELLO\",\"requiresResponse\":false,"
          "\"peerClass\":\"a\\nb\",\"peerId\":\"b\"}}", "control" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        relay_env_t e;
        relay_hello_t h;
        char err[RELAY_ERR_LEN] = "";
        assert_int_equal(decode(&e, bad[i].json, err), 0);
        assert_true(relay_hello_check(&e, &h, err, sizeof err) < 0);
        if (!strstr(err, bad[i].why))
            fail_msg("case %zu: '%s' lacks '%s'", i, err, bad[i].why);
        relay_env_free(&e);
    }
    /* over-long peer id */
    char big[600];
    char id[300];
    memset(id, 'x', 257);
    id[257] = '\0';
    snprintf(big, sizeof big, "{\"message\":{\"messageId\":0,\"messageType\":\"CONN:HELLO\","
                              "\"requiresResponse\":false,\"peerClass\":\"a\",\"peerId\":\"%s\"}}", id);
    relay_env_t e;
    relay_hello_t h;
    char err[RELAY_ERR_LEN];
    assert_int_equal(decode(&e, big, err), 0);
    assert_int_equal(relay_hello_check(&e, &h, err, sizeof err), -EINVAL);
    relay_env_free(&e);
}

/* ---- REST:REQUEST building --------------------------------------------------------- */

static void test_request_build_get(void **state)
{
    relay_nv_t hdrs[] = { NV("Host", "localhost:5001"), NV("User-Agent", "curl/7.54.0"), NV("Accept", "*/*"),
                          NV("Content-Type", "application/json"), NV("Connection", "keep-alive") };
    relay_http_in_t in = { .method = "GET", .target = "/micronets/v1/dhcp/subnets", .headers = hdrs,
                           .nheaders = 5 };
    buf_t b = BUF_INIT(1 << 16);
    char err[RELAY_ERR_LEN];
    assert_int_equal(relay_rest_request_build(&b, 3, &in, err, sizeof err), 0);
    /* The seed's GET example, exactly: no body -> no dataFormat/messageBody. */
    assert_string_equal(b.data,
        "{\"message\":{\"messageId\":3,\"messageType\":\"REST:REQUEST\",\"requiresResponse\":true,"
        "\"method\":\"GET\",\"path\":\"/micronets/v1/dhcp/subnets\",\"headers\":["
        "{\"name\":\"Host\",\"value\":\"localhost:5001\"},{\"name\":\"User-Agent\",\"value\":\"curl/7.54.0\"},"
        "{\"name\":\"Accept\",\"value\":\"*/*\"}]}}");
    buf_free(&b);
}

static void test_request_build_post_json_and_query(void **state)
{
    const char *body = "{\"subnetId\": \"mocksubnet007\", \"n\": [1, 2.5, true, null]}";
    relay_nv_t hdrs[] = { NV("Content-Type", "application/json; charset=utf-8"),
                          NV("Content-Length", "55"), NV("X-Trace", "abc") };
    relay_http_in_t in = { .method = "POST", .target = "/subnets?a=1&b=x%20y+z&flag&c=%zz", .headers = hdrs,
                           .nheaders = 3, .body = body, .body_len = strlen(body) };
    buf_t b = BUF_INIT(1 << 16);
    char err[RELAY_ERR_LEN];
    assert_int_equal(relay_rest_request_build(&b, 1, &in, err, sizeof err), 0);
    assert_string_equal(b.data,
        "{\"message\":{\"messageId\":1,\"messageType\":\"REST:REQUEST\",\"requiresResponse\":true,"
        "\"method\":\"POST\",\"path\":\"/subnets\",\"queryStrings\":["
        "{\"name\":\"a\",\"value\":\"1\"},{\"name\":\"b\",\"value\":\"x y z\"},"
        "{\"name\":\"flag\",\"value\":\"\"},{\"name\":\"c\",\"value\":\"%zz\"}],"
        "\"headers\":[{\"name\":\"X-Trace\",\"value\":\"abc\"}],\"dataFormat\":\"application/json\","
        "\"messageBody\":{\"subnetId\":\"mocksubnet007\",\"n\":[1,2.5,true,null]}}}");
    buf_free(&b);
}

static void build_one(const char *ctype, const char *cenc, const void *body, size_t len, buf_t *b)
{
    relay_nv_t hdrs[2];
    size_t n = 0;
    if (ctype)
        hdrs[n++] = (relay_nv_t){ "Content-Type", 12, ctype, strlen(ctype) };
    if (cenc)
        hdrs[n++] = (relay_nv_t){ "Content-Encoding", 16, cenc, strlen(cenc) };
    relay_http_in_t in = { .method = "PUT", .target = "/x", .headers = hdrs, .nheaders = n, .body = body,
                           .body_len = len };
    char err[RELAY_ERR_LEN];
    assert_int_equal(relay_rest_request_build(b, 9, &in, err, sizeof err), 0);
}

static void test_request_build_body_rules(void **state)
{
    buf_t b = BUF_INIT(1 << 16);
    build_one("text/plain; charset=utf-8", NULL, "h\xc3\xa9llo\n", 7, &b);
    assert_non_null(strstr(b.data, "\"headers\":[],\"dataFormat\":\"text/plain; charset=utf-8\","
                                   "\"messageBody\":\"h\xc3\xa9llo\\n\""));
    buf_reset(&b);
    build_one("application/octet-stream", NULL, "\x00\x01\xff", 3, &b);
    assert_non_null(strstr(b.data, "\"dataFormat\":\"application/octet-stream\",\"messageBody\":\"AAH/\""));
    buf_reset(&b);
    /* no Content-Type: bytes */
    build_one(NULL, NULL, "abc", 3, &b);
    assert_non_null(strstr(b.data, "\"dataFormat\":\"application/octet-stream\",\"messageBody\":\"YWJj\""));
    buf_reset(&b);
    /* invalid JSON under a JSON type: base64, and the real type kept in headers */
    build_one("application/json", NULL, "{oops", 5, &b);
    assert_non_null(strstr(b.data, "\"headers\":[{\"name\":\"Content-Type\",\"value\":\"application/json\"}],"
                                   "\"dataFormat\":\"application/octet-stream\",\"messageBody\":\"e29vcHM=\""));
    buf_reset(&b);
    /* text that is not UTF-8 */
    build_one("text/plain; charset=latin1", NULL, "caf\xe9", 4, &b);
    assert_non_null(strstr(b.data, "\"dataFormat\":\"application/octet-stream\",\"messageBody\":\"Y2Fm6Q==\""));
    assert_non_null(strstr(b.data, "{\"name\":\"Content-Type\",\"value\":\"text/plain; charset=latin1\"}"));
    buf_reset(&b);
    /* compressed body: kept whole, with its encoding */
    build_one("application/json", "gzip", "\x1f\x8b", 2, &b);
    assert_non_null(strstr(b.data, "{\"name\":\"Content-Encoding\",\"value\":\"gzip\"}"));
    assert_non_null(strstr(b.data, "\"messageBody\":\"H4s=\""));
    buf_reset(&b);
    /* identity encoding is as good as none */
    build_one("application/json", "identity", "[1]", 3, &b);
    assert_non_null(strstr(b.data, "\"headers\":[],\"dataFormat\":\"application/json\",\"messageBody\":[1]"));
    buf_reset(&b);
    /* +json types */
    build_one("application/merge-patch+json", NULL, "{\"a\":null}", 10, &b);
    assert_non_null(strstr(b.data, "\"dataFormat\":\"application/merge-patch+json\",\"messageBody\":{\"a\":null}"));
    buf_free(&b);
}

static void test_request_build_rejects(void **state)
{
    buf_t b = BUF_INIT(1 << 16);
    char err[RELAY_ERR_LEN];
    relay_http_in_t in = { .method = "GET", .target = "http://evil/" };
    assert_int_equal(relay_rest_request_build(&b, 1, &in, err, sizeof err), -EINVAL);
    in = (relay_http_in_t){ .method = "G T", .target = "/" };
    assert_int_equal(relay_rest_request_build(&b, 1, &in, err, sizeof err), -EINVAL);
    relay_nv_t h[] = { NV("X-Latin", "caf\xe9") };
    in = (relay_http_in_t){ .method = "GET", .target = "/", .headers = h, .nheaders = 1 };
    assert_int_equal(relay_rest_request_build(&b, 1, &in, err, sizeof err), -EILSEQ);
    assert_non_null(strstr(err, "X-Latin"));
    /* the output cap holds */
    buf_t small = BUF_INIT(32);
    in = (relay_http_in_t){ .method = "GET", .target = "/a/rather/long/path/indeed" };
    assert_int_equal(relay_rest_request_build(&small, 1, &in, err, sizeof err), -ENOBUFS);
    buf_free(&small);
    buf_free(&b);
}

/* ---- REST:REQUEST decoding ------------------------------------------------------------ */

static void test_request_decode_seed_post(void **state)
{
    const char *seed =
        "{\"message\": {\"messageId\": 1, \"messageType\": \"REST:REQUEST\", \"requiresResponse\": true,"
        " \"method\": \"POST\", \"path\": \"/micronets/v1/dhcp/subnets\","
        " \"headers\": [{\"name\": \"Host\", \"value\": \"localhost:5001\"},"
        " {\"name\": \"User-Agent\", \"value\": \"curl/7.54.0\"}, {\"name\": \"Accept\", \"value\": \"*/*\"}],"
        " \"dataFormat\": \"application/json\","
        " \"messageBody\": {\"subnetId\": \"mocksubnet007\", \"nameservers\": [\"1.2.3.4\"]}}}";
    relay_env_t e;
    relay_http_t h;
    char err[RELAY_ERR_LEN];
    assert_int_equal(decode(&e, seed, err), 0);
    relay_http_init(&h, 1 << 20);
    assert_int_equal(relay_rest_request_decode(&e, &h, err, sizeof err), 0);
    assert_string_equal(h.method, "POST");
    assert_string_equal(h.target.data, "/micronets/v1/dhcp/subnets");
    assert_string_equal(h.headers.data, "User-Agent: curl/7.54.0\r\nAccept: */*\r\n"); /* Host dropped */
    assert_string_equal(h.ctype, "application/json");
    assert_true(h.has_body);
    assert_string_equal(h.body.data, "{\"subnetId\":\"mocksubnet007\",\"nameservers\":[\"1.2.3.4\"]}");
    relay_http_free(&h);
    relay_env_free(&e);
}

static void test_request_decode_target_and_bodies(void **state)
{
    relay_env_t e;
    relay_http_t h;
    char err[RELAY_ERR_LEN];
    assert_int_equal(decode(&e,
        "{\"message\":{\"messageId\":2,\"messageType\":\"REST:REQUEST\",\"method\":\"GET\","
        "\"path\":\"/a b/%41/%zz?#\",\"queryStrings\":[{\"name\":\"q\",\"value\":\"x y&z\"},"
        "{\"name\":\"k\"},{\"name\":\"\\u00e9\",\"value\":null}]}}", err), 0);
    relay_http_init(&h, 1 << 20);
    assert_int_equal(relay_rest_request_decode(&e, &h, err, sizeof err), 0);
    assert_string_equal(h.target.data, "/a%20b/%41/%25zz%3F%23?q=x%20y%26z&k=&%C3%A9=");
    assert_false(h.has_body);
    relay_http_free(&h);
    relay_env_free(&e);

    /* base64 body */
    assert_int_equal(decode(&e, "{\"message\":{\"messageType\":\"REST:REQUEST\",\"method\":\"PUT\",\"path\":\"/\","
                                "\"dataFormat\":\"application/octet-stream\",\"messageBody\":\"AAH/\"}}", err), 0);
    relay_http_init(&h, 1 << 20);
    assert_int_equal(relay_rest_request_decode(&e, &h, err, sizeof err), 0);
    assert_int_equal(h.body.len, 3);
    assert_memory_equal(h.body.data, "\x00\x01\xff", 3);
    assert_string_equal(h.ctype, "application/octet-stream");
    relay_http_free(&h);
    relay_env_free(&e);

    /* a text body with a NUL inside survives */
    assert_int_equal(decode(&e, "{\"message\":{\"messageType\":\"REST:REQUEST\",\"method\":\"PUT\",\"path\":\"/\","
                                "\"dataFormat\":\"text/plain\",\"messageBody\":\"a\\u0000b\"}}", err), 0);
    relay_http_init(&h, 1 << 20);
    assert_int_equal(relay_rest_request_decode(&e, &h, err, sizeof err), 0);
    assert_int_equal(h.body.len, 3);
    assert_memory_equal(h.body.data, "a\0b", 3);
    relay_http_free(&h);
    relay_env_free(&e);

    /* a JSON body that is the document `null` survives; a bare null is no body */
    assert_int_equal(decode(&e, "{\"message\":{\"messageType\":\"REST:REQUEST\",\"method\":\"PUT\",\"path\":\"/\","
                                "\"dataFormat\":\"application/json\",\"messageBody\":null}}", err), 0);
    relay_http_init(&h, 1 << 20);
    assert_int_equal(relay_rest_request_decode(&e, &h, err, sizeof err), 0);
    assert_true(h.has_body);
    assert_string_equal(h.body.data, "null");
    relay_http_free(&h);
    relay_env_free(&e);
    assert_int_equal(decode(&e, "{\"message\":{\"messageType\":\"REST:REQUEST\",\"method\":\"PUT\",\"path\":\"/\","
                                "\"messageBody\":null}}", err), 0);
    relay_http_init(&h, 1 << 20);
    assert_int_equal(relay_rest_request_decode(&e, &h, err, sizeof err), 0);
    assert_false(h.has_body);
    relay_http_free(&h);
    relay_env_free(&e);

    /* no dataFormat, object body -> JSON */
    assert_int_equal(decode(&e, "{\"message\":{\"messageType\":\"REST:REQUEST\",\"method\":\"PUT\",\"path\":\"/\","
                                "\"messageBody\":{\"a\":1}}}", err), 0);
    relay_http_init(&h, 1 << 20);
    assert_int_equal(relay_rest_request_decode(&e, &h, err, sizeof err), 0);
    assert_string_equal(h.ctype, "application/json");
    assert_string_equal(h.body.data, "{\"a\":1}");
    relay_http_free(&h);
    relay_env_free(&e);
}

static void test_request_decode_rejects(void **state)
{
    static const char *const bad[] = {
        "{\"message\":{\"messageType\":\"REST:REQUEST\",\"path\":\"/\"}}",
        "{\"message\":{\"messageType\":\"REST:REQUEST\",\"method\":\"GE T\",\"path\":\"/\"}}",
        "{\"message\":{\"messageType\":\"REST:REQUEST\",\"method\":\"GET\",\"path\":\"@evil/\"}}",
        "{\"message\":{\"messageType\":\"REST:REQUEST\",\"method\":\"GET\"}}",
        "{\"message\":{\"messageType\":\"REST:REQUEST\",\"method\":\"GET\",\"path\":\"/\","
        "\"headers\":[{\"name\":\"X\",\"value\":\"a\\r\\nInjected: 1\"}]}}",
        "{\"message\":{\"messageType\":\"REST:REQUEST\",\"method\":\"GET\",\"path\":\"/\","
        "\"headers\":[{\"name\":\"Bad Name\",\"value\":\"v\"}]}}",
        "{\"message\":{\"messageType\":\"REST:REQUEST\",\"method\":\"GET\",\"path\":\"/\",\"headers\":{}}}",
        "{\"message\":{\"messageType\":\"REST:REQUEST\",\"method\":\"GET\",\"path\":\"/\",\"queryStrings\":[1]}}",
        "{\"message\":{\"messageType\":\"REST:REQUEST\",\"method\":\"GET\",\"path\":\"/\","
        "\"dataFormat\":\"application/octet-stream\",\"messageBody\":\"!!!\"}}",
        "{\"message\":{\"messageType\":\"REST:REQUEST\",\"method\":\"GET\",\"path\":\"/\","
        "\"dataFormat\":\"application/octet-stream\",\"messageBody\":{}}}",
        "{\"message\":{\"messageType\":\"REST:REQUEST\",\"method\":\"GET\",\"path\":\"/\","
        "\"dataFormat\":\"text/plain\\r\\nX: y\",\"messageBody\":\"a\"}}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        relay_env_t e;
        relay_http_t h;
        char err[RELAY_ERR_LEN] = "";
        assert_int_equal(decode(&e, bad[i], err), 0);
        relay_http_init(&h, 1 << 20);
        if (relay_rest_request_decode(&e, &h, err, sizeof err) >= 0)
            fail_msg("case %zu accepted", i);
        assert_true(err[0] != '\0');
        relay_http_free(&h);
        relay_env_free(&e);
    }
    /* the body cap */
    relay_env_t e;
    relay_http_t h;
    char err[RELAY_ERR_LEN];
    assert_int_equal(decode(&e, "{\"message\":{\"messageType\":\"REST:REQUEST\",\"method\":\"PUT\",\"path\":\"/\","
                                "\"dataFormat\":\"text/plain\",\"messageBody\":\"0123456789\"}}", err), 0);
    relay_http_init(&h, 8);
    assert_int_equal(relay_rest_request_decode(&e, &h, err, sizeof err), -ENOBUFS);
    assert_string_equal(err, "messageBody too large");
    relay_http_free(&h);
    relay_env_free(&e);
}

/* ---- REST:RESPONSE ---------------------------------------------------------------- */

static void test_response_roundtrip(void **state)
{
    relay_nv_t hdrs[] = { NV("Content-Type", "application/json"), NV("Set-Cookie", "a=1"),
                          NV("Set-Cookie", "b=2"), NV("Transfer-Encoding", "chunked") };
    const char *body = "{\"subnet\":{\"subnetId\":\"mocksubnet007\"}}";
    relay_http_in_t in = { .status = 201, .reason = "Created", .headers = hdrs, .nheaders = 4, .body = body,
                           .body_len = strlen(body) };
    buf_t b = BUF_INIT(1 << 16);
    char err[RELAY_ERR_LEN];
    assert_int_equal(relay_rest_response_build(&b, 2, 1, &in, err, sizeof err), 0);
    assert_string_equal(b.data,
        "{\"message\":{\"messageId\":2,\"messageType\":\"REST:RESPONSE\",\"requiresResponse\":false,"
        "\"inResponseTo\":1,\"statusCode\":201,\"reasonPhrase\":\"Created\",\"headers\":["
        "{\"name\":\"Set-Cookie\",\"value\":\"a=1\",\"val\":\"a=1\"},"
        "{\"name\":\"Set-Cookie\",\"value\":\"b=2\",\"val\":\"b=2\"}],"
        "\"dataFormat\":\"application/json\",\"messageBody\":{\"subnet\":{\"subnetId\":\"mocksubnet007\"}}}}");
    relay_env_t e;
    relay_http_t h;
    assert_int_equal(relay_env_decode(&e, b.data, b.len, err, sizeof err), 0);
    assert_int_equal(e.kind, RELAY_KIND_REST_RESPONSE);
    assert_int_equal(e.in_response_to, 1);
    relay_http_init(&h, 1 << 20);
    assert_int_equal(relay_rest_response_decode(&e, &h, err, sizeof err), 0);
    assert_int_equal(h.status, 201);
    assert_string_equal(h.reason, "Created");
    assert_string_equal(h.headers.data, "Set-Cookie: a=1\r\nSet-Cookie: b=2\r\n");
    assert_string_equal(h.ctype, "application/json");
    assert_string_equal(h.body.data, body);
    relay_http_free(&h);
    relay_env_free(&e);
    buf_free(&b);
}

static void test_response_fallback_roundtrip(void **state)
{
    /* a gzip body with its encoding arrives byte for byte, with its type */
    relay_nv_t hdrs[] = { NV("Content-Type", "text/html"), NV("Content-Encoding", "gzip") };
    relay_http_in_t in = { .status = 200, .headers = hdrs, .nheaders = 2, .body = "\x1f\x8b\x08\x00", .body_len = 4 };
    buf_t b = BUF_INIT(1 << 16);
    char err[RELAY_ERR_LEN];
    assert_int_equal(relay_rest_response_build(&b, 5, 4, &in, err, sizeof err), 0);
    assert_non_null(strstr(b.data, "\"reasonPhrase\":null"));
    relay_env_t e;
    relay_http_t h;
    assert_int_equal(relay_env_decode(&e, b.data, b.len, err, sizeof err), 0);
    relay_http_init(&h, 1 << 20);
    assert_int_equal(relay_rest_response_decode(&e, &h, err, sizeof err), 0);
    assert_string_equal(h.ctype, "text/html");
    assert_string_equal(h.headers.data, "Content-Encoding: gzip\r\n");
    assert_int_equal(h.body.len, 4);
    assert_memory_equal(h.body.data, "\x1f\x8b\x08\x00", 4);
    relay_http_free(&h);
    relay_env_free(&e);
    buf_free(&b);
}

static void test_response_seed_delete_and_rejects(void **state)
{
    relay_env_t e;
    relay_http_t h;
    char err[RELAY_ERR_LEN];
    assert_int_equal(decode(&e, "{\"message\":{\"messageId\":3,\"inResponseTo\":5,\"messageType\":\"REST:RESPONSE\","
                                "\"requiresResponse\":false,\"statusCode\":200}}", err), 0);
    relay_http_init(&h, 1 << 20);
    assert_int_equal(relay_rest_response_decode(&e, &h, err, sizeof err), 0);
    assert_int_equal(h.status, 200);
    assert_false(h.has_body);
    assert_string_equal(h.reason, "");
    relay_http_free(&h);
    relay_env_free(&e);

    static const char *const bad[] = {
        "{\"message\":{\"messageType\":\"REST:RESPONSE\"}}",
        "{\"message\":{\"messageType\":\"REST:RESPONSE\",\"statusCode\":\"200\"}}",
        "{\"message\":{\"messageType\":\"REST:RESPONSE\",\"statusCode\":101}}",
        "{\"message\":{\"messageType\":\"REST:RESPONSE\",\"statusCode\":600}}",
        "{\"message\":{\"messageType\":\"REST:RESPONSE\",\"statusCode\":200,\"reasonPhrase\":5}}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(decode(&e, bad[i], err), 0);
        relay_http_init(&h, 1 << 20);
        assert_true(relay_rest_response_decode(&e, &h, err, sizeof err) < 0);
        relay_http_free(&h);
        relay_env_free(&e);
    }
    /* an unsafe reason phrase is dropped, not sent */
    assert_int_equal(decode(&e, "{\"message\":{\"messageType\":\"REST:RESPONSE\",\"statusCode\":200,"
                                "\"reasonPhrase\":\"OK\\r\\nX: 1\"}}", err), 0);
    relay_http_init(&h, 1 << 20);
    assert_int_equal(relay_rest_response_decode(&e, &h, err, sizeof err), 0);
    assert_string_equal(h.reason, "");
    relay_http_free(&h);
    relay_env_free(&e);
}

/* ---- EVENT ---------------------------------------------------------------------------- */

static void test_event_build(void **state)
{
    buf_t b = BUF_INIT(1 << 16);
    char err[RELAY_ERR_LEN];
    assert_int_equal(relay_event_build(&b, 4, "lease-change", NULL, "{\"ip\":\"10.0.0.2\"}", 17, err, sizeof err), 0);
    assert_string_equal(b.data, "{\"message\":{\"messageId\":4,\"messageType\":\"EVENT:lease-change\","
                                "\"requiresResponse\":false,\"dataFormat\":\"application/json\","
                                "\"messageBody\":{\"ip\":\"10.0.0.2\"}}}");
    buf_reset(&b);
    assert_int_equal(relay_event_build(&b, 5, "note", NULL, "hello", 5, err, sizeof err), 0);
    assert_non_null(strstr(b.data, "\"dataFormat\":\"text/plain; charset=utf-8\",\"messageBody\":\"hello\""));
    buf_reset(&b);
    assert_int_equal(relay_event_build(&b, 6, "ping", NULL, NULL, 0, err, sizeof err), 0);
    assert_null(strstr(b.data, "messageBody"));
    relay_env_t e;
    relay_http_t h;
    assert_int_equal(relay_env_decode(&e, b.data, b.len, err, sizeof err), 0);
    assert_string_equal(relay_event_name(&e), "ping");
    relay_http_init(&h, 1 << 20);
    assert_int_equal(relay_body_get(e.msg, &h, err, sizeof err), 0);
    assert_false(h.has_body);
    relay_http_free(&h);
    relay_env_free(&e);
    buf_reset(&b);
    assert_int_equal(relay_event_build(&b, 7, "", NULL, NULL, 0, err, sizeof err), -EINVAL);
    buf_free(&b);
}

static void test_mime_helpers(void **state)
{
    char base[64];
    relay_mime_base("  Application/JSON ; charset=UTF-8", base, sizeof base);
    assert_string_equal(base, "application/json");
    assert_true(relay_mime_is_json("application/json"));
    assert_true(relay_mime_is_json("application/problem+json; x=y"));
    assert_false(relay_mime_is_json("text/json+x"));
    assert_false(relay_mime_is_json(NULL));
    assert_true(relay_mime_is_binary("application/octet-stream"));
    assert_false(relay_mime_is_binary("application/octet-streamx"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_env_valid_and_kinds),
        cmocka_unit_test(test_env_rejects),
        cmocka_unit_test(test_hello_seed_example),
        cmocka_unit_test(test_hello_build_roundtrip),
        cmocka_unit_test(test_hello_rejects),
        cmocka_unit_test(test_request_build_get),
        cmocka_unit_test(test_request_build_post_json_and_query),
        cmocka_unit_test(test_request_build_body_rules),
        cmocka_unit_test(test_request_build_rejects),
        cmocka_unit_test(test_request_decode_seed_post),
        cmocka_unit_test(test_request_decode_target_and_bodies),
        cmocka_unit_test(test_request_decode_rejects),
        cmocka_unit_test(test_response_roundtrip),
        cmocka_unit_test(test_response_fallback_roundtrip),
        cmocka_unit_test(test_response_seed_delete_and_rejects),
        cmocka_unit_test(test_event_build),
        cmocka_unit_test(test_mime_helpers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
