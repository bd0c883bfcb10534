/* Unit tests: codec/socks5 (RFC 1928 CONNECT, RFC 1929 username/password). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "codec/socks5.h"

#define B(s) ((const uint8_t *)(s)), (sizeof(s) - 1)

static void test_greeting(void **state)
{
    socks5_greeting_t g;
    const char *why = NULL;
    assert_int_equal(socks5_parse_greeting(B("\x05\x01\x00"), &g, &why), 3);
    assert_true(g.none);
    assert_false(g.userpass);
    assert_int_equal(socks5_parse_greeting(B("\x05\x03\x01\x02\x00"), &g, &why), 5);
    assert_true(g.none && g.userpass);
    /* incomplete: wait for more, whatever is missing */
    assert_int_equal(socks5_parse_greeting(B(""), &g, &why), 0);
    assert_int_equal(socks5_parse_greeting(B("\x05"), &g, &why), 0);
    assert_int_equal(socks5_parse_greeting(B("\x05\x02\x00"), &g, &why), 0);
    /* not SOCKS5, or no method at all */
    assert_int_equal(socks5_parse_greeting(B("\x04\x01\x00"), &g, &why), -EPROTO);
    assert_string_equal(why, "not a SOCKS5 greeting");
    assert_int_equal(socks5_parse_greeting(B("\x05\x00"), &g, &why), -EPROTO);
    /* a pipelined request after the greeting is not consumed */
    assert_int_equal(socks5_parse_greeting(B("\x05\x01\x00\x05\x01\x00"), &g, &why), 3);
}

static void test_userpass(void **state)
{
    socks5_userpass_t up;
    const char *why = NULL;
    assert_int_equal(socks5_parse_userpass(B("\x01\x05" "alice\x06s3cret"), &up, &why), 14);
    assert_string_equal(up.user, "alice");
    assert_int_equal(up.user_len, 5);
    assert_string_equal(up.pass, "s3cret");
    assert_int_equal(socks5_parse_userpass(B("\x01\x05" "alice\x06s3cre"), &up, &why), 0);
    assert_int_equal(socks5_parse_userpass(B("\x01\x05" "ali"), &up, &why), 0);
    /* an empty password is allowed by RFC 1929, an empty name is not */
    assert_int_equal(socks5_parse_userpass(B("\x01\x01u\x00"), &up, &why), 4);
    assert_string_equal(up.pass, "");
    assert_int_equal(socks5_parse_userpass(B("\x01\x00\x01p"), &up, &why), -EPROTO);
    assert_int_equal(socks5_parse_userpass(B("\x05\x01u\x01p"), &up, &why), -EPROTO);
    /* a NUL inside stays inside: lengths are what count */
    assert_int_equal(socks5_parse_userpass(B("\x01\x03u\x00v\x01p"), &up, &why), 7);
    assert_int_equal(up.user_len, 3);
}

static void test_request(void **state)
{
    socks5_request_t rq;
    const char *why = NULL;
    int reply = -1;
    assert_int_equal(socks5_parse_request(B("\x05\x01\x00\x01\x7f\x00\x00\x01\x1f\x90"), &rq,
                                          &reply, &why), 10);
    assert_int_equal(rq.atyp, SOCKS5_ATYP_IPV4);
    assert_string_equal(rq.host, "127.0.0.1");
    assert_int_equal(rq.port, 8080);
    assert_int_equal(socks5_parse_request(B("\x05\x01\x00\x03\x09localhost\x00\x50"), &rq, &reply,
                                          &why), 16);
    assert_int_equal(rq.atyp, SOCKS5_ATYP_DOMAIN);
    assert_string_equal(rq.host, "localhost");
    assert_int_equal(rq.port, 80);
    assert_int_equal(socks5_parse_request(
                         B("\x05\x01\x00\x04\x20\x01\x0d\xb8\x00\x00\x00\x00\x00\x00\x00\x00"
                           "\x00\x00\x00\x01\x01\xbb"),
                         &rq, &reply, &why),
                     22);
    assert_string_equal(rq.host, "2001:db8::1");
    assert_int_equal(rq.port, 443);
    /* every prefix of a request just waits */
    static const char full[] = "\x05\x01\x00\x03\x09localhost\x00\x50";
    for (size_t n = 0; n < sizeof full - 1; n++)
        assert_int_equal(socks5_parse_request((const uint8_t *)full, n, &rq, &reply, &why), 0);
}

static void test_request_errors(void **state)
{
    socks5_request_t rq;
    const char *why = NULL;
    int reply = -1;
    assert_int_equal(socks5_parse_request(B("\x05\x02\x00\x01\x7f\x00\x00\x01\x00\x50"), &rq,
                                          &reply, &why), -EPROTO);
    assert_int_equal(reply, SOCKS5_REP_CMD_UNSUPPORTED);
    assert_string_equal(why, "BIND is not supported");
    assert_int_equal(socks5_parse_request(B("\x05\x03\x00\x01\x7f\x00\x00\x01\x00\x50"), &rq,
                                          &reply, &why), -EPROTO);
    assert_int_equal(reply, SOCKS5_REP_CMD_UNSUPPORTED);
    assert_int_equal(socks5_parse_request(B("\x05\x01\x00\x02\x7f\x00"), &rq, &reply, &why),
                     -EPROTO);
    assert_int_equal(reply, SOCKS5_REP_ATYP_UNSUPPORTED);
    assert_int_equal(socks5_parse_request(B("\x05\x01\x00\x03\x00\x00\x50"), &rq, &reply, &why),
                     -EPROTO);
    assert_int_equal(reply, SOCKS5_REP_HOST_UNREACHABLE);
    assert_int_equal(socks5_parse_request(B("\x05\x01\x00\x03\x03" "a\nb\x00\x50"), &rq, &reply,
                                          &why), -EPROTO);
    assert_int_equal(socks5_parse_request(B("\x05\x01\x00\x01\x7f\x00\x00\x01\x00\x00"), &rq,
                                          &reply, &why), -EPROTO);
    assert_int_equal(reply, SOCKS5_REP_NOT_ALLOWED);
    assert_int_equal(socks5_parse_request(B("\x05\x01\x01\x01\x7f\x00\x00\x01\x00\x50"), &rq,
                                          &reply, &why), -EPROTO);
    assert_int_equal(socks5_parse_request(B("\x04\x01"), &rq, &reply, &why), -EPROTO);
    assert_int_equal(reply, SOCKS5_NO_REPLY);
}

static void test_replies_and_encoder(void **state)
{
    uint8_t out[SOCKS5_REQUEST_MAX];
    assert_int_equal(socks5_method_reply(out, SOCKS5_METHOD_USERPASS), 2);
    assert_memory_equal(out, "\x05\x02", 2);
    assert_int_equal(socks5_userpass_reply(out, false), 2);
    assert_memory_equal(out, "\x01\x01", 2);
    assert_int_equal(socks5_reply(out, SOCKS5_REP_REFUSED), SOCKS5_REPLY_LEN);
    assert_memory_equal(out, "\x05\x05\x00\x01\x00\x00\x00\x00\x00\x00", 10);
    assert_string_equal(socks5_reply_name(2), "not allowed by ruleset");
    assert_string_equal(socks5_reply_name(99), "unknown");
    /* encoder and parser agree */
    static const char *hosts[] = { "10.1.2.3", "::1", "intranet.example" };
    for (size_t i = 0; i < 3; i++) {
        size_t n = socks5_encode_request(out, sizeof out, SOCKS5_CMD_CONNECT, hosts[i], 22);
        assert_true(n > 0);
        socks5_request_t rq;
        const char *why;
        int reply;
        assert_int_equal(socks5_parse_request(out, n, &rq, &reply, &why), (int)n);
        assert_string_equal(rq.host, hosts[i]);
        assert_int_equal(rq.port, 22);
    }
    char big[300];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    assert_int_equal(socks5_encode_request(out, sizeof out, 1, big, 1), 0);
    assert_int_equal(socks5_encode_request(out, 10, 1, "a", 1), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_greeting),        cmocka_unit_test(test_userpass),
        cmocka_unit_test(test_request),         cmocka_unit_test(test_request_errors),
        cmocka_unit_test(test_replies_and_encoder),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
