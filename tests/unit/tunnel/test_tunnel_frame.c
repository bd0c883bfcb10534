/* Unit tests: codec/tunnel_frame (tunnel wire messages) and its msgpack pre-check. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "codec/tunnel_frame.h"

static tunnel_decoder_t dec;
static uint8_t *raw_input;

static int setup(void **state)
{
    return tunnel_decoder_init(&dec, NULL);
}

static int teardown(void **state)
{
    tunnel_decoder_free(&dec);
    free(raw_input);
    return 0;
}

static int decode(const buf_t *b, tunnel_msg_t *m, const char **why)
{
    return tunnel_decode(&dec, (const uint8_t *)b->data, b->len, m, why);
}

/* A message written by hand: type byte + raw msgpack bytes. The decoded
 * strings point into the input, so it stays until the next call. */

static int decode_raw(uint8_t type, const char *mp, size_t n, tunnel_msg_t *m, const char **why)
{
    free(raw_input);
    raw_input = malloc(n + 1);
    raw_input[0] = type;
    memcpy(raw_input + 1, mp, n);
    return tunnel_decode(&dec, raw_input, n + 1, m, why);
}

static void assert_str(tunnel_str_t s, const char *want)
{
    assert_int_equal(s.n, strlen(want));
    assert_memory_equal(s.p, want, s.n);
}

static void test_roundtrip_all_types(void **state)
{
    buf_t b = BUF_INIT(4096);
    tunnel_msg_t m, d;

    memset(&m, 0, sizeof m);
    m.type = TUNNEL_HANDSHAKE;
    m.name = tunnel_s("gw-1.lan_2");
    m.key = tunnel_s("s3cret key");
    m.version = 1;
    m.has = TUNNEL_F_VERSION;
    assert_int_equal(tunnel_encode(&b, &m), 0);
    assert_int_equal(decode(&b, &d, NULL), 0);
    assert_int_equal(d.type, TUNNEL_HANDSHAKE);
    assert_str(d.name, "gw-1.lan_2");
    assert_str(d.key, "s3cret key");
    assert_int_equal(d.version, 1);
    assert_true(d.has & TUNNEL_F_VERSION);

    buf_reset(&b);
    memset(&m, 0, sizeof m);
    m.type = TUNNEL_INITIATOR;
    m.guid = tunnel_s("6f1c2d3e-0000-4000-8000-0123456789ab");
    m.ip = tunnel_s("192.168.10.12");
    m.port = 22;
    m.gatename = tunnel_s("gw1");
    m.from = tunnel_s("gw2");
    m.window = 262144;
    m.has = TUNNEL_F_WINDOW | TUNNEL_F_FROM;
    assert_int_equal(tunnel_encode(&b, &m), 0);
    assert_int_equal(decode(&b, &d, NULL), 0);
    assert_str(d.guid, "6f1c2d3e-0000-4000-8000-0123456789ab");
    assert_str(d.ip, "192.168.10.12");
    assert_int_equal(d.port, 22);
    assert_str(d.gatename, "gw1");
    assert_str(d.from, "gw2");
    assert_int_equal(d.window, 262144);

    buf_reset(&b);
    memset(&m, 0, sizeof m);
    m.type = TUNNEL_TERMINATOR;
    m.guid = tunnel_s("g1");
    m.mode = TUNNEL_TERM_RESET;
    m.reason = tunnel_s("connection reset by peer");
    m.has = TUNNEL_F_MODE | TUNNEL_F_REASON;
    assert_int_equal(tunnel_encode(&b, &m), 0);
    assert_int_equal(decode(&b, &d, NULL), 0);
    assert_int_equal(d.mode, TUNNEL_TERM_RESET);
    assert_str(d.reason, "connection reset by peer");

    buf_reset(&b);
    memset(&m, 0, sizeof m);
    m.type = TUNNEL_WINDOW;
    m.guid = tunnel_s("g1");
    m.credit = 131072;
    assert_int_equal(tunnel_encode(&b, &m), 0);
    assert_int_equal(decode(&b, &d, NULL), 0);
    assert_int_equal(d.credit, 131072);

    buf_reset(&b);
    memset(&m, 0, sizeof m);
    m.type = TUNNEL_PONG;
    m.seq = UINT64_MAX;
    assert_int_equal(tunnel_encode(&b, &m), 0);
    assert_int_equal(decode(&b, &d, NULL), 0);
    assert_int_equal(d.type, TUNNEL_PONG);
    assert_true(d.seq == UINT64_MAX);

    buf_reset(&b);
    memset(&m, 0, sizeof m);
    m.type = TUNNEL_GOAWAY;
    m.code = tunnel_s("replaced");
    m.reason = tunnel_s("a new login took the name");
    m.has = TUNNEL_F_CODE | TUNNEL_F_REASON;
    assert_int_equal(tunnel_encode(&b, &m), 0);
    assert_int_equal(decode(&b, &d, NULL), 0);
    assert_str(d.code, "replaced");

    buf_reset(&b);
    memset(&m, 0, sizeof m);
    m.type = TUNNEL_ACK;
    m.ok = false;
    m.message = tunnel_s("denied by ACL");
    m.guid = tunnel_s("abc");
    m.has = TUNNEL_F_MESSAGE | TUNNEL_F_GUID;
    assert_int_equal(tunnel_encode(&b, &m), 0);
    assert_int_equal(decode(&b, &d, NULL), 0);
    assert_false(d.ok);
    assert_true(d.has & TUNNEL_F_OK);
    assert_str(d.message, "denied by ACL");
    assert_str(d.guid, "abc");
    assert_int_equal(b.data[0], (char)0xFF);

    /* the login Ack: the gateway's caps, MaxWindow included (agents clamp
     * their window growth to it) */
    buf_reset(&b);
    memset(&m, 0, sizeof m);
    m.type = TUNNEL_ACK;
    m.ok = true;
    m.version = 1;
    m.max_message = 1 << 20;
    m.max_window = 16u << 20;
    m.has = TUNNEL_F_VERSION | TUNNEL_F_MAXMSG | TUNNEL_F_MAXWIN;
    assert_int_equal(tunnel_encode(&b, &m), 0);
    assert_int_equal(decode(&b, &d, NULL), 0);
    assert_true(d.ok);
    assert_int_equal(d.has & (TUNNEL_F_VERSION | TUNNEL_F_MAXMSG | TUNNEL_F_MAXWIN),
                     TUNNEL_F_VERSION | TUNNEL_F_MAXMSG | TUNNEL_F_MAXWIN);
    assert_int_equal(d.max_message, 1 << 20);
    assert_int_equal(d.max_window, 16u << 20);
    /* MaxWindow belongs to the Ack only: other types do not carry it */
    buf_reset(&b);
    memset(&m, 0, sizeof m);
    m.type = TUNNEL_HANDSHAKE;
    m.name = tunnel_s("a");
    m.key = tunnel_s("k");
    m.max_window = 5;
    m.has = TUNNEL_F_MAXWIN;
    assert_int_equal(tunnel_encode(&b, &m), 0);
    assert_int_equal(decode(&b, &d, NULL), 0);
    assert_false(d.has & TUNNEL_F_MAXWIN);
    buf_free(&b);
}

/* What a seed (v0) peer sends: no Version, Port as text, Data as str. */
static void test_seed_messages(void **state)
{
    tunnel_msg_t d;
    /* {Name:"a", Key:"k"} */
    static const char hs[] = "\x82\xa4Name\xa1" "a\xa3Key\xa1k";
    assert_int_equal(decode_raw(0x01, hs, sizeof hs - 1, &d, NULL), 0);
    assert_false(d.has & TUNNEL_F_VERSION);
    /* {GUID:"x", Ip:"10.0.0.1", Port:"8080", Gatename:"b"} */
    static const char in[] = "\x84\xa4GUID\xa1x\xa2Ip\xa8" "10.0.0.1\xa4Port\xa4" "8080\xa8Gatename\xa1" "b";
    assert_int_equal(decode_raw(0x02, in, sizeof in - 1, &d, NULL), 0);
    assert_int_equal(d.port, 8080);
    assert_false(d.has & TUNNEL_F_WINDOW);
    /* {GUID:"x", Data:"hi"} with Data as str */
    static const char da[] = "\x82\xa4GUID\xa1x\xa4" "Data\xa2hi";
    assert_int_equal(decode_raw(0x03, da, sizeof da - 1, &d, NULL), 0);
    assert_str(d.data, "hi");
    /* {GUID:"x"}: a Terminator without Mode means close */
    static const char te[] = "\x81\xa4GUID\xa1x";
    assert_int_equal(decode_raw(0x04, te, sizeof te - 1, &d, NULL), 0);
    assert_int_equal(d.mode, TUNNEL_TERM_CLOSE);
    /* {Ok:true, Message:""} */
    static const char ack[] = "\x82\xa2Ok\xc3\xa7Message\xa0";
    assert_int_equal(decode_raw(0xff, ack, sizeof ack - 1, &d, NULL), 0);
    assert_true(d.ok);
}

static void test_unknown_keys_ignored(void **state)
{
    tunnel_msg_t d;
    /* {Future:{a:[1,2,{}]}, GUID:"x", Port:5, Data:"z"}: Port is not a Data key -> ignored */
    static const char mp[] = "\x84\xa6" "Future\x81\xa1" "a\x93\x01\x02\x80"
                             "\xa4GUID\xa1x\xa4Port\x05\xa4" "Data\xa1z";
    assert_int_equal(decode_raw(0x03, mp, sizeof mp - 1, &d, NULL), 0);
    assert_str(d.guid, "x");
    assert_false(d.has & TUNNEL_F_PORT);
    /* lower-case "guid" is a different key: GUID is then missing */
    static const char lc[] = "\x82\xa4guid\xa1x\xa4" "Data\xa1z";
    const char *why = NULL;
    assert_int_equal(decode_raw(0x03, lc, sizeof lc - 1, &d, &why), -EBADMSG);
    assert_string_equal(why, "missing key GUID");
}

static void test_bad_values(void **state)
{
    tunnel_msg_t d;
    const char *why = NULL;
    /* GUID as an integer */
    static const char a[] = "\x82\xa4GUID\x05\xa4" "Data\xa1z";
    assert_int_equal(decode_raw(0x03, a, sizeof a - 1, &d, &why), -EBADMSG);
    assert_string_equal(why, "bad value for key GUID");
    /* duplicate GUID */
    static const char b[] = "\x83\xa4GUID\xa1x\xa4GUID\xa1y\xa4" "Data\xa1z";
    assert_int_equal(decode_raw(0x03, b, sizeof b - 1, &d, &why), -EBADMSG);
    assert_string_equal(why, "duplicate key GUID");
    /* Port 0 and 70000 */
    static const char c[] = "\x84\xa4GUID\xa1x\xa2Ip\xa1z\xa4Port\x00\xa8Gatename\xa1" "b";
    assert_int_equal(decode_raw(0x02, c, sizeof c - 1, &d, &why), -EBADMSG);
    assert_string_equal(why, "bad value for key Port");
    static const char c2[] = "\x84\xa4GUID\xa1x\xa2Ip\xa1z\xa4Port\xce\x00\x01\x11\x70\xa8Gatename\xa1" "b";
    assert_int_equal(decode_raw(0x02, c2, sizeof c2 - 1, &d, &why), -EBADMSG);
    /* Credit 0 */
    static const char e[] = "\x82\xa4GUID\xa1x\xa6" "Credit\x00";
    assert_int_equal(decode_raw(0x05, e, sizeof e - 1, &d, &why), -EBADMSG);
    assert_string_equal(why, "bad value for key Credit");
    /* bad agent name */
    static const char f[] = "\x82\xa4Name\xa3" "a b\xa3Key\xa1k";
    assert_int_equal(decode_raw(0x01, f, sizeof f - 1, &d, &why), -EBADMSG);
    assert_string_equal(why, "bad value for key Name");
    /* GUID with a control byte */
    static const char g[] = "\x82\xa4GUID\xa2x\n\xa4" "Data\xa1z";
    assert_int_equal(decode_raw(0x03, g, sizeof g - 1, &d, &why), -EBADMSG);
    /* unknown Mode */
    static const char h[] = "\x82\xa4GUID\xa1x\xa4Mode\xa4kill";
    assert_int_equal(decode_raw(0x04, h, sizeof h - 1, &d, &why), -EBADMSG);
    assert_string_equal(why, "bad value for key Mode");
    /* non-string key */
    static const char k[] = "\x82\x01\x02\xa4GUID\xa1x";
    assert_int_equal(decode_raw(0x04, k, sizeof k - 1, &d, &why), -EBADMSG);
    assert_string_equal(why, "map key is not a string");
}

static void test_framing_errors(void **state)
{
    tunnel_msg_t d;
    const char *why = NULL;
    static const char te[] = "\x81\xa4GUID\xa1x";
    /* unknown type */
    assert_int_equal(decode_raw(0x42, te, sizeof te - 1, &d, &why), -ENOMSG);
    /* not a map */
    assert_int_equal(decode_raw(0x04, "\x91\x01", 2, &d, &why), -EBADMSG);
    assert_string_equal(why, "payload is not a msgpack map");
    /* trailing bytes */
    static const char tr[] = "\x81\xa4GUID\xa1x\x00";
    assert_int_equal(decode_raw(0x04, tr, sizeof tr - 1, &d, &why), -EBADMSG);
    assert_string_equal(why, "trailing bytes after the msgpack map");
    /* just a type byte */
    uint8_t one = 0x04;
    assert_int_equal(tunnel_decode(&dec, &one, 1, &d, &why), -EBADMSG);
    /* every truncation of a valid message fails cleanly */
    buf_t b = BUF_INIT(256);
    tunnel_msg_t m = { .type = TUNNEL_INITIATOR };
    m.guid = tunnel_s("g");
    m.ip = tunnel_s("10.1.2.3");
    m.port = 443;
    m.gatename = tunnel_s("x");
    assert_int_equal(tunnel_encode(&b, &m), 0);
    for (size_t n = 0; n < b.len; n++)
        assert_int_not_equal(tunnel_decode(&dec, (const uint8_t *)b.data, n, &d, &why), 0);
    assert_int_equal(tunnel_decode(&dec, (const uint8_t *)b.data, b.len, &d, &why), 0);
    buf_free(&b);
}

static void test_size_cap_before_unpack(void **state)
{
    tunnel_decoder_t small;
    tunnel_limits_t lim = { .max_message = 64 };
    assert_int_equal(tunnel_decoder_init(&small, &lim), 0);
    uint8_t big[65];
    memset(big, 0, sizeof big);
    big[0] = TUNNEL_DATA;
    tunnel_msg_t d;
    const char *why = NULL;
    assert_int_equal(tunnel_decode(&small, big, sizeof big, &d, &why), -EMSGSIZE);
    assert_string_equal(why, "message too large");
    tunnel_decoder_free(&small);
}

static void test_bombs(void **state)
{
    tunnel_msg_t d;
    const char *why = NULL;
    /* map32 claiming 4 billion pairs in 5 bytes */
    assert_int_equal(decode_raw(0x03, "\xdf\xff\xff\xff\xff", 5, &d, &why), -EBADMSG);
    assert_string_equal(why, "msgpack count exceeds the bytes present");
    /* a map whose value is array32 of 2^32-1 */
    static const char a[] = "\x81\xa1x\xdd\xff\xff\xff\xff\x00\x00";
    assert_int_equal(decode_raw(0x03, a, sizeof a - 1, &d, &why), -EBADMSG);
    assert_string_equal(why, "msgpack count exceeds the bytes present");
    /* str32 and bin32 lengths past the end */
    static const char s[] = "\x81\xa1x\xdb\x7f\xff\xff\xff" "abc";
    assert_int_equal(decode_raw(0x03, s, sizeof s - 1, &d, &why), -EBADMSG);
    assert_string_equal(why, "msgpack length exceeds the bytes present");
    static const char bb[] = "\x81\xa1x\xc6\xff\xff\xff\xff";
    assert_int_equal(decode_raw(0x03, bb, sizeof bb - 1, &d, &why), -EBADMSG);
    /* ext32 */
    static const char e[] = "\x81\xa1x\xc9\xff\xff\xff\xff\x01";
    assert_int_equal(decode_raw(0x03, e, sizeof e - 1, &d, &why), -EBADMSG);
    /* deep nesting: {x:[[[[...]]]]} */
    char deep[200];
    size_t n = 0;
    deep[n++] = (char)0x81;
    deep[n++] = (char)0xa1;
    deep[n++] = 'x';
    for (int i = 0; i < 100; i++)
        deep[n++] = (char)0x91;
    deep[n++] = 0x00;
    assert_int_equal(decode_raw(0x03, deep, n, &d, &why), -EBADMSG);
    assert_string_equal(why, "msgpack nested too deeply");
    /* many small objects: {x:[0,0,0,...]} with 5000 elements */
    size_t cnt = 5000;
    char *many = malloc(cnt + 8);
    n = 0;
    many[n++] = (char)0x81;
    many[n++] = (char)0xa1;
    many[n++] = 'x';
    many[n++] = (char)0xdc;
    many[n++] = (char)(cnt >> 8);
    many[n++] = (char)(cnt & 0xff);
    memset(many + n, 0, cnt);
    n += cnt;
    assert_int_equal(decode_raw(0x03, many, n, &d, &why), -EBADMSG);
    assert_string_equal(why, "too many msgpack objects");
    free(many);
    /* the never-used byte */
    assert_int_equal(decode_raw(0x03, "\x81\xa1x\xc1", 4, &d, &why), -EBADMSG);
    assert_string_equal(why, "invalid msgpack byte 0xc1");
}

static void test_mp_check_scalars(void **state)
{
    size_t used;
    const char *why;
    static const struct { const char *b; size_t n; } ok[] = {
        { "\xc0", 1 }, { "\xcb\x40\x09\x21\xfb\x54\x44\x2d\x18", 9 }, { "\xd3\x80\0\0\0\0\0\0\0", 9 },
        { "\xd8\x01" "0123456789abcdef", 18 }, { "\xc7\x02\x05xy", 5 }, { "\xff", 1 },
        { "\xde\x00\x01\xa1k\xc3", 6 }, { "\xa0", 1 },
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        assert_int_equal(tunnel_mp_check((const uint8_t *)ok[i].b, ok[i].n, 8, 100, &used, &why), 0);
        assert_int_equal(used, ok[i].n);
    }
    assert_int_equal(tunnel_mp_check((const uint8_t *)"\xcb\x40", 2, 8, 100, &used, &why), -EBADMSG);
    assert_int_equal(tunnel_mp_check((const uint8_t *)"\xde\x00", 2, 8, 100, &used, &why), -EBADMSG);
    assert_int_equal(tunnel_mp_check((const uint8_t *)"", 0, 8, 100, &used, &why), -EBADMSG);
}

static void test_data_head_matches_encoder(void **state)
{
    static const size_t lens[] = { 0, 1, 255, 256, 65535, 65536, 300000 };
    static const char *guids[] = { "a", "0123456789012345678901234567890", /* 31 */
                                   "01234567890123456789012345678901",  /* 32 */
                                   "6f1c2d3e-0000-4000-8000-0123456789ab" };
    char *payload = malloc(300000);
    for (size_t i = 0; i < 300000; i++)
        payload[i] = (char)(i * 7);
    for (size_t g = 0; g < sizeof guids / sizeof guids[0]; g++) {
        for (size_t l = 0; l < sizeof lens / sizeof lens[0]; l++) {
            buf_t b = BUF_INIT(400000);
            tunnel_msg_t m = { .type = TUNNEL_DATA };
            m.guid = tunnel_s(guids[g]);
            m.data.p = payload;
            m.data.n = lens[l];
            assert_int_equal(tunnel_encode(&b, &m), 0);
            uint8_t head[TUNNEL_DATA_HEAD_MAX];
            size_t hn = tunnel_encode_data_head(head, guids[g], strlen(guids[g]), lens[l]);
            assert_int_equal(hn + lens[l], b.len);
            assert_memory_equal(head, b.data, hn);
            tunnel_msg_t d;
            assert_int_equal(decode(&b, &d, NULL), 0);
            assert_int_equal(d.data.n, lens[l]);
            /* zero-copy: the payload points into the input */
            if (lens[l])
                assert_ptr_equal(d.data.p, b.data + hn);
            buf_free(&b);
        }
    }
    free(payload);
}

/* The exact bytes of messages with multi-byte lengths and integers, written
 * out from the msgpack spec (big-endian on the wire): round trips alone would
 * pass on a big-endian host even if both directions swapped. make test runs
 * this on s390x under qemu too. */
static void test_wire_bytes_golden(void **state)
{
    static char payload[300];
    memset(payload, 'z', sizeof payload);
    buf_t b = BUF_INIT(4096);
    tunnel_msg_t m = { .type = TUNNEL_DATA };
    m.guid = tunnel_s("g");
    m.data.p = payload;
    m.data.n = sizeof payload;
    assert_int_equal(tunnel_encode(&b, &m), 0);
    static const uint8_t data[] = { 0x03, 0x82, 0xa4, 'G', 'U', 'I', 'D', 0xa1, 'g',
                                    0xa4, 'D', 'a', 't', 'a', 0xc5, 0x01, 0x2c };
    assert_int_equal(b.len, sizeof data + sizeof payload);
    assert_memory_equal(b.data, data, sizeof data);
    uint8_t head[TUNNEL_DATA_HEAD_MAX];
    assert_int_equal(tunnel_encode_data_head(head, "g", 1, sizeof payload), sizeof data);
    assert_memory_equal(head, data, sizeof data);

    buf_reset(&b);
    memset(&m, 0, sizeof m);
    m.type = TUNNEL_WINDOW;
    m.guid = tunnel_s("g");
    m.credit = 0x01020304u;
    m.has = TUNNEL_F_GUID | TUNNEL_F_CREDIT;
    assert_int_equal(tunnel_encode(&b, &m), 0);
    static const uint8_t win[] = { 0x05, 0x82, 0xa4, 'G', 'U', 'I', 'D', 0xa1, 'g', 0xa6, 'C', 'r',
                                   'e', 'd', 'i', 't', 0xce, 0x01, 0x02, 0x03, 0x04 };
    assert_int_equal(b.len, sizeof win);
    assert_memory_equal(b.data, win, sizeof win);

    buf_reset(&b);
    memset(&m, 0, sizeof m);
    m.type = TUNNEL_INITIATOR;
    m.guid = tunnel_s("g");
    m.ip = tunnel_s("10.0.0.1");
    m.port = 8080;
    m.gatename = tunnel_s("b");
    m.has = TUNNEL_F_GUID | TUNNEL_F_IP | TUNNEL_F_PORT | TUNNEL_F_GATENAME;
    assert_int_equal(tunnel_encode(&b, &m), 0);
    static const uint8_t init[] = { 0x02, 0x84, 0xa4, 'G', 'U', 'I', 'D', 0xa1, 'g', 0xa2, 'I', 'p',
                                    0xa8, '1', '0', '.', '0', '.', '0', '.', '1', 0xa4, 'P', 'o',
                                    'r', 't', 0xcd, 0x1f, 0x90, 0xa8, 'G', 'a', 't', 'e', 'n', 'a',
                                    'm', 'e', 0xa1, 'b' };
    assert_int_equal(b.len, sizeof init);
    assert_memory_equal(b.data, init, sizeof init);

    /* and back: the decoder reads the same bytes as the same values */
    tunnel_msg_t d;
    assert_int_equal(decode(&b, &d, NULL), 0);
    assert_int_equal(d.port, 8080);
    buf_free(&b);
}

static void test_encode_refuses_invalid(void **state)
{
    buf_t b = BUF_INIT(64);
    tunnel_msg_t m = { .type = TUNNEL_DATA };
    m.guid = tunnel_s("has space");
    assert_int_equal(tunnel_encode(&b, &m), -EINVAL);
    m.type = 0x42;
    assert_int_equal(tunnel_encode(&b, &m), -EINVAL);
    /* over the buffer cap: nothing left behind */
    tunnel_msg_t big = { .type = TUNNEL_DATA };
    big.guid = tunnel_s("g");
    char data[100] = { 0 };
    big.data.p = data;
    big.data.n = sizeof data;
    assert_int_equal(tunnel_encode(&b, &big), -ENOBUFS);
    assert_int_equal(b.len, 0);
    buf_free(&b);
}

static void test_names(void **state)
{
    assert_true(tunnel_name_valid("a", 1));
    assert_false(tunnel_name_valid("", 0));
    assert_false(tunnel_name_valid("a/b", 3));
    char long_name[80];
    memset(long_name, 'a', sizeof long_name);
    assert_true(tunnel_name_valid(long_name, 64));
    assert_false(tunnel_name_valid(long_name, 65));
    assert_string_equal(tunnel_type_name(TUNNEL_WINDOW), "Window");
    assert_string_equal(tunnel_term_mode_name(TUNNEL_TERM_FIN), "fin");
}

/* Version 2: the mesh's messages, Ack Code, Nets, names as targets. */
static void test_v2_messages(void **state)
{
    buf_t b = BUF_INIT(4096);
    tunnel_msg_t m, d;
    const char *why;
    static const char dg[] = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    memset(&m, 0, sizeof m);
    m.type = TUNNEL_MESH_HELLO;
    m.name = tunnel_s("gw1");
    m.version = 2;
    m.digest = tunnel_s(dg);
    m.max_message = 1 << 20;
    m.max_window = 16 << 20;
    m.has = TUNNEL_F_MAXMSG | TUNNEL_F_MAXWIN;
    assert_int_equal(tunnel_encode(&b, &m), 0);
    assert_int_equal(decode(&b, &d, NULL), 0);
    assert_int_equal(d.type, TUNNEL_MESH_HELLO);
    assert_str(d.name, "gw1");
    assert_str(d.digest, dg);
    assert_int_equal(d.version, 2);
    assert_int_equal(d.max_window, 16 << 20);
    buf_reset(&b);

    memset(&m, 0, sizeof m);
    m.type = TUNNEL_PRESENCE;
    m.name = tunnel_s("site-a");
    m.gateway = tunnel_s("gw3");
    m.epoch = 1796299358251ull;
    m.online = false;
    assert_int_equal(tunnel_encode(&b, &m), 0);
    assert_int_equal(decode(&b, &d, NULL), 0);
    assert_int_equal(d.type, TUNNEL_PRESENCE);
    assert_str(d.gateway, "gw3");
    assert_int_equal(d.epoch, 1796299358251ull);
    assert_false(d.online);
    assert_true(d.has & TUNNEL_F_ONLINE);
    /* Online is its own key: Ok stays untouched */
    assert_false(d.ok);
    buf_reset(&b);

    memset(&m, 0, sizeof m);
    m.type = TUNNEL_INITIATOR;
    m.guid = tunnel_s("c-7");
    m.ip = tunnel_s("intranet.example");
    m.port = 443;
    m.gatename = tunnel_s("b");
    m.nets = tunnel_s("10.0.0.0/8,192.168.1.7/32");
    m.has = TUNNEL_F_NETS;
    assert_int_equal(tunnel_encode(&b, &m), 0);
    assert_int_equal(decode(&b, &d, NULL), 0);
    assert_str(d.nets, "10.0.0.0/8,192.168.1.7/32");
    assert_str(d.ip, "intranet.example");
    buf_reset(&b);

    memset(&m, 0, sizeof m);
    m.type = TUNNEL_ACK;
    m.guid = tunnel_s("a1");
    m.message = tunnel_s("denied by ACL");
    m.code = tunnel_s(TUNNEL_CODE_ACL);
    m.has = TUNNEL_F_GUID | TUNNEL_F_MESSAGE | TUNNEL_F_CODE;
    assert_int_equal(tunnel_encode(&b, &m), 0);
    assert_int_equal(decode(&b, &d, NULL), 0);
    assert_str(d.code, "acl");
    buf_free(&b);

    /* required keys, and values checked */
    static const char nodig[] = "\x82\xa4Name\xa3gw1\xa7Version\x02";
    assert_int_equal(decode_raw(TUNNEL_MESH_HELLO, nodig, sizeof nodig - 1, &d, &why), -EBADMSG);
    assert_string_equal(why, "missing key Digest");
    static const char upper[] = "\x83\xa4Name\xa3gw1\xa7Version\x02\xa6" "Digest\xd9\x40"
                                "0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef";
    assert_int_equal(decode_raw(TUNNEL_MESH_HELLO, upper, sizeof upper - 1, &d, &why), -EBADMSG);
    assert_string_equal(why, "bad value for key Digest");
    static const char pres[] = "\x83\xa4Name\xa1x\xa7Gateway\xa3gw1\xa5" "Epoch\x05";
    assert_int_equal(decode_raw(TUNNEL_PRESENCE, pres, sizeof pres - 1, &d, &why), -EBADMSG);
    assert_string_equal(why, "missing key Online");
    static const char badgw[] = "\x84\xa4Name\xa1x\xa7Gateway\xa3g w\xa5" "Epoch\x05\xa6Online\xc3";
    assert_int_equal(decode_raw(TUNNEL_PRESENCE, badgw, sizeof badgw - 1, &d, &why), -EBADMSG);
    assert_string_equal(why, "bad value for key Gateway");
    /* Nets in another message type is an unknown key there: skipped */
    static const char dn[] = "\x83\xa4GUID\xa1x\xa4" "Data\xa1z\xa4Nets\xa1*";
    assert_int_equal(decode_raw(TUNNEL_DATA, dn, sizeof dn - 1, &d, &why), 0);
    assert_false(d.has & TUNNEL_F_NETS);
}

static void test_host_valid(void **state)
{
    static const char *ok[] = { "localhost", "intranet.example", "a-b.c_d.example.", "1.2.3.4",
                                "x" };
    static const char *bad[] = { "", ".", "-a.example", "a-.example", "a..b", ".a", "a b",
                                 "a/b", "caf\xc3\xa9", "a:80" };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        assert_true(tunnel_host_valid(ok[i], strlen(ok[i])));
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_false(tunnel_host_valid(bad[i], strlen(bad[i])));
    char label[70];
    memset(label, 'a', 64);
    assert_false(tunnel_host_valid(label, 64)); /* a label of 64 */
    assert_true(tunnel_host_valid(label, 63));
    char longname[260];
    for (int i = 0; i < 254; i++)
        longname[i] = i % 2 ? '.' : 'a';
    assert_false(tunnel_host_valid(longname, 255)); /* over 253 */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_all_types),
        cmocka_unit_test(test_seed_messages),
        cmocka_unit_test(test_unknown_keys_ignored),
        cmocka_unit_test(test_bad_values),
        cmocka_unit_test(test_framing_errors),
        cmocka_unit_test(test_size_cap_before_unpack),
        cmocka_unit_test(test_bombs),
        cmocka_unit_test(test_mp_check_scalars),
        cmocka_unit_test(test_data_head_matches_encoder),
        cmocka_unit_test(test_wire_bytes_golden),
        cmocka_unit_test(test_encode_refuses_invalid),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_v2_messages),
        cmocka_unit_test(test_host_valid),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
