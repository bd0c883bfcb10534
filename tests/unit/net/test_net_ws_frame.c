/* Unit tests: net/ws_frame — the RFC 6455 frame reader's checks, message
 * assembly, UTF-8 and close-code rules, and the header writer. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "net/ws_frame.h"

static const uint8_t KEY[4] = { 0x37, 0xfa, 0x21, 0x3d };

/* A client frame (masked) as bytes. */
static size_t frame(uint8_t *out, int b0, const void *payload, size_t n, bool mask)
{
    uint8_t hdr[WS_FRAME_HEADER_MAX];
    size_t h = ws_frame_header(hdr, b0 & 0x0f, n, mask ? KEY : NULL);
    hdr[0] = (uint8_t)b0; /* FIN/RSV/opcode as given */
    memcpy(out, hdr, h);
    if (mask)
        ws_mask(out + h, payload, n, KEY, 0);
    else
        memcpy(out + h, payload, n);
    return h + n;
}

static ws_read_result_t read1(ws_reader_t *r, const uint8_t *b, size_t n, ws_read_event_t *ev)
{
    size_t used;
    ws_read_result_t res = ws_reader_next(r, b, n, &used, ev);
    if (res != WS_READ_MORE && res != WS_READ_ERROR)
        assert_int_equal(used, n);
    return res;
}

static void test_message_and_partial_input(void **s)
{
    ws_reader_t r;
    ws_reader_init(&r, true, 1000);
    uint8_t b[64];
    size_t n = frame(b, 0x81, "hello", 5, true);
    ws_read_event_t ev;
    size_t used;
    for (size_t k = 0; k < n; k++) /* any prefix is "need more", nothing used */
        assert_int_equal(ws_reader_next(&r, b, k, &used, &ev), WS_READ_MORE), assert_int_equal(used, 0);
    assert_int_equal(read1(&r, b, n, &ev), WS_READ_MESSAGE);
    assert_int_equal(ev.op, WS_OP_TEXT);
    assert_int_equal(ev.len, 5);
    assert_memory_equal(ev.data, "hello", 5);
    ws_reader_free(&r);
}

static void test_fragments_with_control_in_between(void **s)
{
    ws_reader_t r;
    ws_reader_init(&r, true, 1000);
    uint8_t b[64];
    ws_read_event_t ev;
    size_t n = frame(b, 0x02, "ab", 2, true); /* binary, not final */
    assert_int_equal(read1(&r, b, n, &ev), WS_READ_FRAGMENT);
    n = frame(b, 0x89, "p", 1, true); /* a ping between fragments is fine */
    assert_int_equal(read1(&r, b, n, &ev), WS_READ_PING);
    assert_memory_equal(ev.data, "p", 1);
    n = frame(b, 0x00, "cd", 2, true);
    assert_int_equal(read1(&r, b, n, &ev), WS_READ_FRAGMENT);
    n = frame(b, 0x80, "e", 1, true);
    assert_int_equal(read1(&r, b, n, &ev), WS_READ_MESSAGE);
    assert_int_equal(ev.op, WS_OP_BINARY);
    assert_int_equal(ev.len, 5);
    assert_memory_equal(ev.data, "abcde", 5);
    /* a new message starts clean */
    n = frame(b, 0x82, "z", 1, true);
    assert_int_equal(read1(&r, b, n, &ev), WS_READ_MESSAGE);
    assert_int_equal(ev.len, 1);
    ws_reader_free(&r);
}

static void expect_error(const uint8_t *b, size_t n, bool server, size_t max, uint16_t code)
{
    ws_reader_t r;
    ws_reader_init(&r, server, max);
    ws_read_event_t ev;
    size_t used;
    ws_read_result_t res = ws_reader_next(&r, b, n, &used, &ev);
    if (res != WS_READ_ERROR || ev.code != code)
        fail_msg("expected error %u, got result %d code %u", code, res, ev.code);
    assert_non_null(ev.reason);
    ws_reader_free(&r);
}

static void test_protocol_errors(void **s)
{
    uint8_t b[300];
    size_t n;
    n = frame(b, 0x81, "x", 1, false); /* a client must mask */
    expect_error(b, n, true, 100, 1002);
    n = frame(b, 0x81, "x", 1, true); /* a server must not */
    expect_error(b, n, false, 100, 1002);
    n = frame(b, 0xC1, "x", 1, true); /* RSV1 without an extension */
    expect_error(b, n, true, 100, 1002);
    n = frame(b, 0x83, "x", 1, true); /* reserved data opcode */
    expect_error(b, n, true, 100, 1002);
    n = frame(b, 0x8B, "x", 1, true); /* reserved control opcode */
    expect_error(b, n, true, 100, 1002);
    n = frame(b, 0x09, "x", 1, true); /* fragmented ping */
    expect_error(b, n, true, 100, 1002);
    uint8_t big[200];
    memset(big, 'a', sizeof big);
    n = frame(b, 0x89, big, 126, true); /* control payload over 125 */
    expect_error(b, n, true, 1000, 1002);
    n = frame(b, 0x80, "x", 1, true); /* continuation of nothing */
    expect_error(b, n, true, 100, 1002);
    n = frame(b, 0x82, big, 200, true); /* over the message cap: refused from the header */
    expect_error(b, 4, true, 100, 1009);
    uint8_t len64[] = { 0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 1 };
    expect_error(len64, sizeof len64, true, 100, 1002);
    n = frame(b, 0x81, "\xff\xfe", 2, true); /* text that is not UTF-8 */
    expect_error(b, n, true, 100, 1007);
    n = frame(b, 0x88, "\x03", 1, true); /* close with a 1-byte payload */
    expect_error(b, n, true, 100, 1002);
    n = frame(b, 0x88, "\x03\xed", 2, true); /* close code 1005 may not be sent */
    expect_error(b, n, true, 100, 1002);
    n = frame(b, 0x88, "\x03\xe8\xff", 3, true); /* close reason not UTF-8 */
    expect_error(b, n, true, 100, 1007);

    /* a message grown past the cap by fragments */
    ws_reader_t r;
    ws_reader_init(&r, true, 10);
    ws_read_event_t ev;
    n = frame(b, 0x02, big, 8, true);
    assert_int_equal(read1(&r, b, n, &ev), WS_READ_FRAGMENT);
    n = frame(b, 0x80, big, 8, true);
    size_t used;
    assert_int_equal(ws_reader_next(&r, b, n, &used, &ev), WS_READ_ERROR);
    assert_int_equal(ev.code, 1009);
    /* and a data frame inside a fragmented message */
    ws_reader_free(&r);
    ws_reader_init(&r, true, 100);
    n = frame(b, 0x01, "a", 1, true);
    assert_int_equal(read1(&r, b, n, &ev), WS_READ_FRAGMENT);
    n = frame(b, 0x81, "b", 1, true);
    assert_int_equal(ws_reader_next(&r, b, n, &used, &ev), WS_READ_ERROR);
    assert_int_equal(ev.code, 1002);
    ws_reader_free(&r);
}

static void test_close_frames(void **s)
{
    ws_reader_t r;
    ws_reader_init(&r, true, 100);
    uint8_t b[64];
    ws_read_event_t ev;
    size_t n = frame(b, 0x88, "", 0, true);
    assert_int_equal(read1(&r, b, n, &ev), WS_READ_CLOSE);
    assert_int_equal(ev.code, 1005);
    n = frame(b, 0x88, "\x0f\xa0" "bye", 5, true);
    assert_int_equal(read1(&r, b, n, &ev), WS_READ_CLOSE);
    assert_int_equal(ev.code, 4000);
    assert_int_equal(ev.reason_len, 3);
    assert_memory_equal(ev.reason, "bye", 3);
    ws_reader_free(&r);
    assert_true(ws_close_code_valid(1000));
    assert_true(ws_close_code_valid(1011));
    assert_true(ws_close_code_valid(3000));
    assert_false(ws_close_code_valid(999));
    assert_false(ws_close_code_valid(1004));
    assert_false(ws_close_code_valid(1006));
    assert_false(ws_close_code_valid(1015));
    assert_false(ws_close_code_valid(2000));
    assert_false(ws_close_code_valid(5000));
}

static void test_utf8(void **s)
{
    const char *good[] = { "", "plain ascii text that is long enough for the fast path",
                           "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80", "\xed\x9f\xbf",
                           "\xf4\x8f\xbf\xbf", "mixed \xc3\xa9t\xc3\xa9 \xe2\x82\xac" };
    const char *bad[] = { "\x80", "\xc0\xaf", "\xc1\xbf", "\xe0\x80\xaf", "\xed\xa0\x80",
                          "\xf0\x80\x80\xaf", "\xf4\x90\x80\x80", "\xf5\x80\x80\x80", "\xc3",
                          "\xe2\x82", "abc\xff", "\xc3\x28" };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        if (!ws_utf8_valid((const uint8_t *)good[i], strlen(good[i])))
            fail_msg("valid UTF-8 #%zu refused", i);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (ws_utf8_valid((const uint8_t *)bad[i], strlen(bad[i])))
            fail_msg("invalid UTF-8 #%zu accepted", i);
}

static void test_headers_and_mask(void **s)
{
    uint8_t h[WS_FRAME_HEADER_MAX];
    assert_int_equal(ws_frame_header(h, WS_OP_TEXT, 5, NULL), 2);
    assert_int_equal(h[0], 0x81);
    assert_int_equal(h[1], 5);
    assert_int_equal(ws_frame_header(h, WS_OP_BINARY, 300, KEY), 8);
    assert_int_equal(h[1], 0x80 | 126);
    assert_int_equal(h[2] << 8 | h[3], 300);
    assert_memory_equal(h + 4, KEY, 4);
    assert_int_equal(ws_frame_header(h, WS_OP_BINARY, 70000, NULL), 10);
    assert_int_equal(h[1], 127);
    /* masking in pieces with a phase equals masking at once, and undoes itself */
    uint8_t src[37], once[37], pieces[37], back[37];
    for (size_t i = 0; i < sizeof src; i++)
        src[i] = (uint8_t)(i * 7);
    ws_mask(once, src, sizeof src, KEY, 0);
    ws_mask(pieces, src, 5, KEY, 0);
    ws_mask(pieces + 5, src + 5, 19, KEY, 5);
    ws_mask(pieces + 24, src + 24, 13, KEY, 24);
    assert_memory_equal(once, pieces, sizeof src);
    for (size_t i = 0; i < sizeof src; i++)
        assert_int_equal(once[i], src[i] ^ KEY[i % 4]);
    ws_mask(back, once, sizeof src, KEY, 0);
    assert_memory_equal(back, src, sizeof src);

    /* every length around the 32-byte blocks, every phase, in place and not,
     * at odd alignments: the same bytes as the definition */
    uint8_t in[200], out[201], ref[200];
    for (size_t i = 0; i < sizeof in; i++)
        in[i] = (uint8_t)(i * 131 + 17);
    for (size_t phase = 0; phase < 8; phase++)
        for (size_t n = 0; n <= sizeof in - 3; n++) {
            for (size_t i = 0; i < n; i++)
                ref[i] = in[i + 3] ^ KEY[(phase + i) & 3];
            ws_mask(out + 1, in + 3, n, KEY, phase);
            assert_memory_equal(out + 1, ref, n);
            memcpy(out + 1, in + 3, n);
            ws_mask(out + 1, out + 1, n, KEY, phase);
            assert_memory_equal(out + 1, ref, n);
        }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_message_and_partial_input),
        cmocka_unit_test(test_fragments_with_control_in_between),
        cmocka_unit_test(test_protocol_errors),
        cmocka_unit_test(test_close_frames),
        cmocka_unit_test(test_utf8),
        cmocka_unit_test(test_headers_and_mask),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
