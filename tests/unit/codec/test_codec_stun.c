/* Unit tests: codec/stun (RFC 5389 with TR-111's attributes) and
 * codec/udpcr (the UDP connection request of TR-069 Annex G). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "codec/stun.h"
#include "codec/udpcr.h"

/* RFC 5769 2.1: a request with SOFTWARE, PRIORITY, ICE-CONTROLLED,
 * USERNAME, MESSAGE-INTEGRITY and FINGERPRINT. */
static const uint8_t rfc5769_req[] = {
    0x00, 0x01, 0x00, 0x58, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86,
    0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x10, 0x53, 0x54, 0x55, 0x4e, 0x20, 0x74, 0x65, 0x73,
    0x74, 0x20, 0x63, 0x6c, 0x69, 0x65, 0x6e, 0x74, 0x00, 0x24, 0x00, 0x04, 0x6e, 0x00, 0x01, 0xff,
    0x80, 0x29, 0x00, 0x08, 0x93, 0x2f, 0xf9, 0xb1, 0x51, 0x26, 0x3b, 0x36, 0x00, 0x06, 0x00, 0x09,
    0x65, 0x76, 0x74, 0x6a, 0x3a, 0x68, 0x36, 0x76, 0x59, 0x20, 0x20, 0x20, 0x00, 0x08, 0x00, 0x14,
    0x9a, 0xea, 0xa7, 0x0c, 0xbf, 0xd8, 0xcb, 0x56, 0x78, 0x1e, 0xf2, 0xb5, 0xb2, 0xd3, 0xf2, 0x49,
    0xc1, 0xb5, 0x71, 0xa2, 0x80, 0x28, 0x00, 0x04, 0xe5, 0x7a, 0x3b, 0xcf,
};
#define RFC5769_PASS "VOkJxbRl1RmTxUk/WvJxBt"

static void test_rfc5769_request(void **state)
{
    stun_msg_t m;
    const char *why = NULL;
    assert_int_equal(stun_parse(rfc5769_req, sizeof rfc5769_req, &m, &why), 0);
    assert_int_equal(m.type, STUN_BINDING_REQUEST);
    assert_int_equal(m.username_len, 9);
    assert_memory_equal(m.username, "evtj:h6vY", 9);
    assert_true(m.has_integrity && m.has_fingerprint && m.fingerprint_ok);
    assert_true(stun_integrity_ok(rfc5769_req, sizeof rfc5769_req, &m, RFC5769_PASS, strlen(RFC5769_PASS)));
    assert_false(stun_integrity_ok(rfc5769_req, sizeof rfc5769_req, &m, "wrong", 5));
    /* PRIORITY (0x0024) is comprehension-required and not ours: a 420 */
    assert_int_equal(m.n_unknown, 1);
    assert_int_equal(m.unknown[0], 0x0024);
    /* a changed byte: the FINGERPRINT no longer matches */
    uint8_t bad[sizeof rfc5769_req];
    memcpy(bad, rfc5769_req, sizeof bad);
    bad[30] ^= 1;
    assert_int_equal(stun_parse(bad, sizeof bad, &m, &why), -EPROTO);
    assert_string_equal(why, "wrong FINGERPRINT");
}

static size_t tr111_request(uint8_t *buf, size_t cap, const char *user, const char *pass, bool change)
{
    static const uint8_t tid[STUN_TID] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 };
    stun_enc_t e;
    stun_enc_start(&e, buf, cap, STUN_BINDING_REQUEST, tid);
    stun_enc_attr(&e, STUN_A_CONNECTION_REQUEST_BINDING, STUN_CRB_VALUE, STUN_CRB_LEN);
    if (change)
        stun_enc_attr(&e, STUN_A_BINDING_CHANGE, NULL, 0);
    stun_enc_attr(&e, STUN_A_USERNAME, user, strlen(user));
    if (pass)
        stun_enc_integrity(&e, pass, strlen(pass));
    stun_enc_fingerprint(&e);
    return stun_enc_end(&e);
}

static void test_tr111_round_trip(void **state)
{
    uint8_t buf[STUN_MAX];
    size_t n = tr111_request(buf, sizeof buf, "00D09E-Sim-SIM000001", "stunpw", true);
    assert_true(n > STUN_HDR && n % 4 == 0);
    stun_msg_t m;
    const char *why = NULL;
    assert_int_equal(stun_parse(buf, n, &m, &why), 0);
    assert_true(m.crb && m.binding_change && m.has_integrity && m.fingerprint_ok);
    assert_int_equal(m.n_unknown, 0);
    assert_int_equal(m.username_len, strlen("00D09E-Sim-SIM000001"));
    assert_true(stun_integrity_ok(buf, n, &m, "stunpw", 6));
    assert_false(stun_integrity_ok(buf, n, &m, "stunpx", 6));
    /* without a password: no MESSAGE-INTEGRITY, and none is "ok" */
    n = tr111_request(buf, sizeof buf, "u", NULL, false);
    assert_int_equal(stun_parse(buf, n, &m, &why), 0);
    assert_false(m.binding_change || m.has_integrity);
    assert_false(stun_integrity_ok(buf, n, &m, "x", 1));
    /* too small a buffer: 0, never a partial message */
    assert_int_equal(tr111_request(buf, 40, "u", "p", false), 0);
}

static bool same_addr(const stun_addr_t *x, const stun_addr_t *y)
{
    return x->family == y->family && x->port == y->port && memcmp(x->ip, y->ip, 16) == 0;
}

static void test_response_addresses(void **state)
{
    uint8_t buf[STUN_MAX], tid[STUN_TID] = { 0xaa, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 0xbb };
    stun_addr_t v4 = { .family = 4, .port = 32853, .ip = { 192, 0, 2, 1 } };
    stun_addr_t v6 = { .family = 6, .port = 7547, .ip = { 0x20, 0x01, 0x0d, 0xb8, [15] = 9 } };
    for (int i = 0; i < 2; i++) {
        const stun_addr_t *a = i ? &v6 : &v4;
        stun_enc_t e;
        stun_enc_start(&e, buf, sizeof buf, STUN_BINDING_RESPONSE, tid);
        stun_enc_addr(&e, true, a);
        stun_enc_addr(&e, false, a);
        stun_enc_fingerprint(&e);
        size_t n = stun_enc_end(&e);
        assert_true(n > 0);
        stun_msg_t m;
        const char *why;
        assert_int_equal(stun_parse(buf, n, &m, &why), 0);
        assert_int_equal(m.type, STUN_BINDING_RESPONSE);
        assert_memory_equal(m.tid, tid, STUN_TID);
        assert_true(m.has_xor_mapped && m.has_mapped);
        assert_true(same_addr(&m.xor_mapped, a) && same_addr(&m.mapped, a));
        /* XOR really happened: the port is not in clear */
        assert_false(buf[STUN_HDR + 6] == (a->port >> 8) && buf[STUN_HDR + 7] == (a->port & 0xff));
    }
    /* an error response with its code and unknown attributes */
    stun_enc_t e;
    uint16_t unk[2] = { 0x0024, 0x0003 };
    stun_enc_start(&e, buf, sizeof buf, STUN_BINDING_ERROR, tid);
    stun_enc_error(&e, 420, "Unknown Attribute");
    stun_enc_unknown(&e, unk, 2);
    size_t n = stun_enc_end(&e);
    stun_msg_t m;
    const char *why;
    assert_int_equal(stun_parse(buf, n, &m, &why), 0);
    assert_int_equal(m.error_code, 420);
}

static void expect_bad(const uint8_t *p, size_t n, const char *reason)
{
    stun_msg_t m;
    const char *why = NULL;
    assert_int_equal(stun_parse(p, n, &m, &why), -EPROTO);
    assert_non_null(why);
    if (reason)
        assert_string_equal(why, reason);
}

static void test_hostile(void **state)
{
    uint8_t buf[STUN_MAX + 8];
    size_t n = tr111_request(buf, STUN_MAX, "dev", "pw", false);
    expect_bad(buf, 0, "shorter than a STUN header");
    expect_bad(buf, 19, "shorter than a STUN header");
    expect_bad(buf, n - 4, "the header's length is not the datagram's");
    uint8_t c[STUN_MAX + 8];
    memcpy(c, buf, n);
    c[4] ^= 0xff;
    expect_bad(c, n, "no RFC 5389 magic cookie");
    memcpy(c, buf, n);
    c[0] |= 0x80;
    expect_bad(c, n, "not STUN (the first two bits are not zero)");
    /* an attribute claiming more than the message holds */
    memcpy(c, buf, n);
    c[STUN_HDR + 2] = 0x7f;
    expect_bad(c, n, "attribute longer than the message");
    /* the header's length says 4 more bytes: a cut attribute header */
    static const uint8_t cut[] = { 0, 1, 0, 4, 0x21, 0x12, 0xa4, 0x42, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,
                                   0x00, 0x06, 0x00 };
    expect_bad(cut, sizeof cut, NULL);
    /* an attribute after FINGERPRINT */
    memcpy(c, buf, n);
    memcpy(c + n, "\x80\x22\x00\x00", 4);
    c[3] = (uint8_t)(n + 4 - STUN_HDR);
    expect_bad(c, n + 4, NULL);
    /* larger than STUN_MAX */
    memset(c, 0, sizeof c);
    expect_bad(c, STUN_MAX + 4, "larger than any STUN message accepted");
    /* a CONNECTION-REQUEST-BINDING with another value */
    static const uint8_t tid[STUN_TID] = { 0 };
    stun_enc_t e;
    stun_enc_start(&e, c, STUN_MAX, STUN_BINDING_REQUEST, tid);
    stun_enc_attr(&e, STUN_A_CONNECTION_REQUEST_BINDING, "dslforum.org/TR-999 ", 20);
    expect_bad(c, stun_enc_end(&e), "CONNECTION-REQUEST-BINDING with a value other than TR-111's");
    /* an address of an unknown family */
    stun_enc_start(&e, c, STUN_MAX, STUN_BINDING_RESPONSE, tid);
    stun_enc_attr(&e, STUN_A_XOR_MAPPED_ADDRESS, "\x00\x03\x00\x01\x01\x02\x03\x04", 8);
    expect_bad(c, stun_enc_end(&e), "address family neither IPv4 nor IPv6");
    /* MESSAGE-INTEGRITY of the wrong size */
    stun_enc_start(&e, c, STUN_MAX, STUN_BINDING_REQUEST, tid);
    stun_enc_attr(&e, STUN_A_MESSAGE_INTEGRITY, "short", 5);
    expect_bad(c, stun_enc_end(&e), "MESSAGE-INTEGRITY of the wrong length");
    /* attributes after MESSAGE-INTEGRITY are ignored, even unknown ones */
    stun_enc_start(&e, c, STUN_MAX, STUN_BINDING_REQUEST, tid);
    stun_enc_integrity(&e, "k", 1);
    stun_enc_attr(&e, 0x0003, "\0\0\0\0", 4);
    stun_msg_t m;
    const char *why;
    assert_int_equal(stun_parse(c, stun_enc_end(&e), &m, &why), 0);
    assert_int_equal(m.n_unknown, 0);
}

/* ---- udpcr ----------------------------------------------------------------------- */

static void test_udpcr_known_signature(void **state)
{
    char sig[UDPCR_SIG_LEN + 1];
    /* HMAC-SHA1("secret", "1700000000" "42" "SIM000001" "abcdef0123456789") */
    udpcr_sign(1700000000, 42, "SIM000001", "abcdef0123456789", "secret", sig);
    assert_string_equal(sig, "48cfde6d9f1f2a908b279d4c07ac4af1c4cedeb4");
    /* values over the caps: no signature, never a fixed one (fail closed) */
    char big[UDPCR_USER_MAX + UDPCR_CN_MAX + 64];
    memset(big, 'u', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    udpcr_sign(1700000000, 42, big, "abcdef0123456789", "secret", sig);
    assert_string_equal(sig, "");
    char msg[UDPCR_MAX + 1];
    int n = udpcr_build(msg, sizeof msg, "198.18.0.2:40000", 1700000000, 42, "SIM000001", "abcdef0123456789",
                        "secret");
    assert_true(n > 0);
    assert_string_equal(msg, "GET http://198.18.0.2:40000?ts=1700000000&id=42&un=SIM000001&cn=abcdef0123456789"
                             "&sig=48cfde6d9f1f2a908b279d4c07ac4af1c4cedeb4 HTTP/1.1\r\n"
                             "Host: 198.18.0.2:40000\r\n\r\n");
    udpcr_t m;
    const char *why = NULL;
    assert_int_equal(udpcr_parse(msg, (size_t)n, &m, &why), 0);
    assert_int_equal(m.ts, 1700000000);
    assert_int_equal(m.id, 42);
    assert_string_equal(m.un, "SIM000001");
    assert_string_equal(m.cn, "abcdef0123456789");
    assert_string_equal(m.host, "198.18.0.2:40000");
    assert_true(udpcr_verify(&m, "secret"));
    assert_false(udpcr_verify(&m, "secreT"));
    m.id++;
    assert_false(udpcr_verify(&m, "secret"));
}

static void test_udpcr_round_trip(void **state)
{
    char msg[UDPCR_MAX + 1];
    /* a user with characters the URI must escape; a random cnonce */
    int n = udpcr_build(msg, sizeof msg, "[2001:db8::1]:7547", 5, 4294967295u, "a b&c=d%é", NULL, "pw");
    assert_true(n > 0);
    assert_null(strstr(msg, "a b"));
    udpcr_t m;
    const char *why = NULL;
    assert_int_equal(udpcr_parse(msg, (size_t)n, &m, &why), 0);
    assert_string_equal(m.un, "a b&c=d%é");
    assert_int_equal(m.id, 4294967295u);
    assert_int_equal(strlen(m.cn), 16);
    assert_true(udpcr_verify(&m, "pw"));
    /* a different cnonce each time */
    char msg2[UDPCR_MAX + 1];
    udpcr_build(msg2, sizeof msg2, "[2001:db8::1]:7547", 5, 1, "u", NULL, "pw");
    udpcr_t m2;
    udpcr_parse(msg2, strlen(msg2), &m2, &why);
    assert_string_not_equal(m.cn, m2.cn);
    /* what does not fit is refused, never cut */
    assert_int_equal(udpcr_build(msg, 60, "1.2.3.4:5", 1, 1, "u", "c", "p"), -ENAMETOOLONG);
    assert_int_equal(udpcr_build(msg, sizeof msg, "1.2.3.4:5/x", 1, 1, "u", "c", "p"), -EINVAL);
}

static void expect_cr_bad(const char *msg, const char *reason)
{
    udpcr_t m;
    const char *why = NULL;
    assert_int_equal(udpcr_parse(msg, strlen(msg), &m, &why), -EPROTO);
    assert_non_null(why);
    if (reason)
        assert_string_equal(why, reason);
}

#define SIG "&sig=48cfde6d9f1f2a908b279d4c07ac4af1c4cedeb4"
#define TAIL " HTTP/1.1\r\nHost: h:1\r\n\r\n"

static void test_udpcr_hostile(void **state)
{
    expect_cr_bad("POST http://h:1?ts=1&id=1&un=u&cn=c" SIG TAIL, "not a GET request");
    expect_cr_bad("GET http://h:1?ts=1&id=1&un=u&cn=c" SIG " HTTP/1.0\r\nHost: h\r\n\r\n", "not HTTP/1.1");
    expect_cr_bad("GET http://h:1?ts=1&id=1&un=u&cn=c" SIG " HTTP/1.1\r\n\r\n", "no Host header");
    expect_cr_bad("GET http://h:1?ts=1&id=1&un=u&cn=c" SIG " HTTP/1.1\r\nHost: h\r\n", NULL);
    expect_cr_bad("GET http://h:1?ts=1&id=1&un=u" SIG TAIL, "a query field of ts, id, un, cn, sig is missing");
    expect_cr_bad("GET http://h:1?ts=1&ts=2&id=1&un=u&cn=c" SIG TAIL, "a query field given twice");
    expect_cr_bad("GET http://h:1?ts=x&id=1&un=u&cn=c" SIG TAIL, "ts is not a number of seconds");
    expect_cr_bad("GET http://h:1?ts=1&id=4294967296&un=u&cn=c" SIG TAIL, "id is not an unsigned 32-bit number");
    expect_cr_bad("GET http://h:1?ts=1&id=1&un=u&cn=c&sig=xyz" TAIL, "sig is not 40 hex digits");
    expect_cr_bad("GET http://h:1?ts=1&id=1&un=%zz&cn=c" SIG TAIL, "a bad %-escape in the query");
    expect_cr_bad("GET http://h:1?ts=1&id=1&un=%00&cn=c" SIG TAIL, "a control character in a query value");
    expect_cr_bad("GET /?ts=1&id=1&un=u&cn=c" SIG TAIL, "the Request-URI is not an absolute http URI");
    expect_cr_bad("GET http://h:1/x?ts=1&id=1&un=u&cn=c" SIG TAIL, "the Request-URI has a path");
    expect_cr_bad("GET http://h:1" TAIL, "the Request-URI has no query");
    /* found by the fuzzer: a NUL in the host left an empty host behind */
    static const char nul[] = "GET http://\0\0.2:1?ts=1&id=1&un=u&cn=c" SIG TAIL;
    udpcr_t m0;
    const char *w0 = NULL;
    assert_int_equal(udpcr_parse(nul, sizeof nul - 1, &m0, &w0), -EPROTO);
    assert_string_equal(w0, "a space, control or non-ASCII byte in the Request-URI");
    expect_cr_bad("GET http://h\x97:1?ts=1&id=1&un=u&cn=c" SIG TAIL,
                  "a space, control or non-ASCII byte in the Request-URI");
    expect_cr_bad("GET http://h:1?ts=1&id=1&un=u&cn=c" SIG " HTTP/1.1\nHost: h\r\n\r\n",
                  "the request line does not end in CRLF");
    /* a path of "/" and unknown fields are fine; the Host header's case too */
    udpcr_t m;
    const char *why;
    const char *ok = "GET http://h:1/?x=y&ts=1&id=1&un=u&cn=c" SIG " HTTP/1.1\r\nhost: h:1\r\n\r\n";
    assert_int_equal(udpcr_parse(ok, strlen(ok), &m, &why), 0);
    /* too large a datagram */
    char big[UDPCR_MAX + 2];
    memset(big, 'a', sizeof big);
    memcpy(big, "GET ", 4);
    assert_int_equal(udpcr_parse(big, sizeof big, &m, &why), -EPROTO);
    assert_string_equal(why, "larger than a UDP connection request");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc5769_request),
        cmocka_unit_test(test_tr111_round_trip),
        cmocka_unit_test(test_response_addresses),
        cmocka_unit_test(test_hostile),
        cmocka_unit_test(test_udpcr_known_signature),
        cmocka_unit_test(test_udpcr_round_trip),
        cmocka_unit_test(test_udpcr_hostile),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
