/* Unit tests: codec/zbody, gzip/deflate bodies. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <cmocka.h>

#include "codec/zbody.h"

static const char text[] =
    "<soap-env:Envelope><soap-env:Body><cwmp:Inform><ParameterList>"
    "<ParameterValueStruct><Name>Device.ManagementServer.ConnectionRequestURL</Name>"
    "<Value>http://10.0.0.1:7547/</Value></ParameterValueStruct></ParameterList>"
    "</cwmp:Inform></soap-env:Body></soap-env:Envelope>";

static void test_coding_parse(void **state)
{
    zbody_coding_t c;
    assert_int_equal(zbody_coding_parse(NULL, &c), 0);
    assert_int_equal(c, ZBODY_IDENTITY);
    assert_int_equal(zbody_coding_parse(" identity ", &c), 0);
    assert_int_equal(c, ZBODY_IDENTITY);
    assert_int_equal(zbody_coding_parse("GZIP", &c), 0);
    assert_int_equal(c, ZBODY_GZIP);
    assert_int_equal(zbody_coding_parse("x-gzip", &c), 0);
    assert_int_equal(c, ZBODY_GZIP);
    assert_int_equal(zbody_coding_parse("deflate\t", &c), 0);
    assert_int_equal(c, ZBODY_DEFLATE);
    assert_int_equal(zbody_coding_parse("br", &c), -ENOTSUP);
    assert_int_equal(zbody_coding_parse("gzip, deflate", &c), -ENOTSUP);
    assert_string_equal(zbody_coding_name(ZBODY_GZIP), "gzip");
    assert_string_equal(zbody_coding_name(ZBODY_DEFLATE), "deflate");
    assert_string_equal(zbody_coding_name(ZBODY_IDENTITY), "identity");
}

/* Encode with zbody, decode with zbody, one byte at a time as well. */
static void roundtrip(zbody_coding_t c)
{
    zbody_t *e = zbody_encoder_new(c, 6);
    buf_t enc = BUF_INIT(1 << 16);
    assert_int_equal(zbody_feed(e, text, 10, false, &enc), 0);
    assert_int_equal(zbody_feed(e, text + 10, sizeof text - 11, true, &enc), 0);
    zbody_free(e);
    if (c == ZBODY_GZIP)
        assert_true(enc.len > 2 && (unsigned char)enc.data[0] == 0x1f && (unsigned char)enc.data[1] == 0x8b);
    for (size_t step = 1; step <= enc.len; step += enc.len - 1) {
        zbody_t *d = zbody_decoder_new(c, 1 << 20);
        buf_t dec = BUF_INIT(1 << 16);
        for (size_t off = 0; off < enc.len; off += step) {
            size_t n = enc.len - off < step ? enc.len - off : step;
            assert_int_equal(zbody_feed(d, enc.data + off, n, false, &dec), 0);
        }
        assert_int_equal(zbody_feed(d, NULL, 0, true, &dec), 0);
        assert_int_equal(dec.len, sizeof text - 1);
        assert_memory_equal(dec.data, text, dec.len);
        assert_int_equal(zbody_total_out(d), dec.len);
        zbody_free(d);
        buf_free(&dec);
    }
    buf_free(&enc);
}

static void test_roundtrip(void **state)
{
    roundtrip(ZBODY_GZIP);
    roundtrip(ZBODY_DEFLATE);
}

/* Raw deflate labelled "deflate" (old IIS-style senders) still decodes. */
static void test_raw_deflate(void **state)
{
    unsigned char raw[1024];
    z_stream zs = { 0 };
    assert_int_equal(deflateInit2(&zs, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY), Z_OK);
    zs.next_in = (Bytef *)text;
    zs.avail_in = sizeof text - 1;
    zs.next_out = raw;
    zs.avail_out = sizeof raw;
    assert_int_equal(deflate(&zs, Z_FINISH), Z_STREAM_END);
    size_t n = sizeof raw - zs.avail_out;
    deflateEnd(&zs);
    zbody_t *d = zbody_decoder_new(ZBODY_DEFLATE, 1 << 20);
    buf_t dec = BUF_INIT(1 << 16);
    assert_int_equal(zbody_feed(d, raw, 1, false, &dec), 0);
    assert_int_equal(zbody_feed(d, raw + 1, n - 1, true, &dec), 0);
    assert_string_equal(dec.data, text);
    zbody_free(d);
    buf_free(&dec);
}

static size_t gz(const char *in, size_t len, unsigned char *out, size_t cap)
{
    z_stream zs = { 0 };
    assert_int_equal(deflateInit2(&zs, 9, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY), Z_OK);
    zs.next_in = (Bytef *)in;
    zs.avail_in = (uInt)len;
    zs.next_out = out;
    zs.avail_out = (uInt)cap;
    assert_int_equal(deflate(&zs, Z_FINISH), Z_STREAM_END);
    size_t n = cap - zs.avail_out;
    deflateEnd(&zs);
    return n;
}

static void test_members_truncation_junk(void **state)
{
    unsigned char two[512];
    size_t a = gz("abc", 3, two, sizeof two);
    size_t b = gz("def", 3, two + a, sizeof two - a);
    zbody_t *d = zbody_decoder_new(ZBODY_GZIP, 100);
    buf_t dec = BUF_INIT(100);
    assert_int_equal(zbody_feed(d, two, a + b, true, &dec), 0);
    assert_string_equal(dec.data, "abcdef");
    zbody_free(d);

    buf_reset(&dec);
    d = zbody_decoder_new(ZBODY_GZIP, 100);
    assert_int_equal(zbody_feed(d, two, a - 3, true, &dec), -EBADMSG);
    zbody_free(d);

    /* junk after a zlib stream */
    unsigned char z[256];
    uLongf zl = sizeof z - 4;
    assert_int_equal(compress(z, &zl, (const Bytef *)"hello", 5), Z_OK);
    memcpy(z + zl, "JUNK", 4);
    buf_reset(&dec);
    d = zbody_decoder_new(ZBODY_DEFLATE, 100);
    assert_int_equal(zbody_feed(d, z, zl + 4, true, &dec), -EBADMSG);
    zbody_free(d);

    buf_reset(&dec);
    d = zbody_decoder_new(ZBODY_GZIP, 100);
    assert_int_equal(zbody_feed(d, "not gzip", 8, true, &dec), -EBADMSG);
    zbody_free(d);

    /* one byte of deflate cannot be a stream */
    d = zbody_decoder_new(ZBODY_DEFLATE, 100);
    assert_int_equal(zbody_feed(d, "x", 1, true, &dec), -EBADMSG);
    zbody_free(d);
    buf_free(&dec);
}

static void test_bomb_and_out_cap(void **state)
{
    size_t big = 8 << 20;
    char *zeros = calloc(1, big);
    unsigned char *g = malloc(64 << 10);
    size_t n = gz(zeros, big, g, 64 << 10);
    assert_true(n < 16 << 10);
    zbody_t *d = zbody_decoder_new(ZBODY_GZIP, 1 << 20);
    buf_t dec = BUF_INIT(64 << 20);
    assert_int_equal(zbody_feed(d, g, n, true, &dec), -EMSGSIZE);
    assert_true(dec.len <= (1 << 20) + (16 << 10));
    zbody_free(d);
    buf_free(&dec);

    d = zbody_decoder_new(ZBODY_GZIP, 0);
    buf_t small = BUF_INIT(1000);
    assert_int_equal(zbody_feed(d, g, n, true, &small), -ENOBUFS);
    assert_int_equal(small.len, 1000);
    zbody_free(d);
    buf_free(&small);

    zbody_t *e = zbody_encoder_new(ZBODY_GZIP, 1);
    buf_t tiny = BUF_INIT(10);
    assert_int_equal(zbody_feed(e, text, sizeof text - 1, true, &tiny), -ENOBUFS);
    zbody_free(e);
    buf_free(&tiny);
    free(zeros);
    free(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_coding_parse),
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_raw_deflate),
        cmocka_unit_test(test_members_truncation_junk),
        cmocka_unit_test(test_bomb_and_out_cap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
