/* Unit tests: net/http_static — If-None-Match, Accept-Encoding, and which
 * representation an embedded file is answered with. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "net/http_static.h"

#define TAG "\"0123abcd\""
#define TAG_GZ "\"0123abcd-gzip\""

static const unsigned char data[] = "{\"hello\":\"world\"}";
static const unsigned char gz[] = "GZ";
static const http_static_t file = { .name = "x.json", .ctype = "application/json",
                                    .data = data, .len = sizeof data - 1, .etag = TAG,
                                    .gz = gz, .gz_len = 2, .etag_gz = TAG_GZ };
static const http_static_t plain = { .name = "x.json", .ctype = "application/json",
                                     .data = data, .len = sizeof data - 1, .etag = TAG };

static void test_etag_match(void **state)
{
    (void)state;
    static const struct {
        const char *inm;
        bool match;
    } cases[] = {
        { TAG, true },
        { " " TAG " ", true },
        { "W/" TAG, true },                       /* weak comparison */
        { "\"x\", " TAG, true },
        { "\"x\",W/\"y\" ,  " TAG ",\"z\"", true },
        { "*", true },
        { " * ", true },
        { "", false },
        { "\"0123abc\"", false },                 /* a prefix */
        { "\"0123abcd\"x", false },               /* junk after the tag */
        { "0123abcd", false },                    /* not quoted */
        { "\"0123abcd", false },                  /* not closed */
        { TAG_GZ, false },                        /* the other representation */
        { "*, " TAG, false },                     /* "*" only alone */
        { "w/" TAG, false },                      /* W is case-sensitive */
        { ",,," TAG, true },                      /* empty list elements */
        { "junk, " TAG, false },                  /* malformed: matches nothing */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        if (http_etag_match(cases[i].inm, TAG) != cases[i].match)
            fail_msg("If-None-Match: %s: expected %s", cases[i].inm, cases[i].match ? "a match" : "none");
    assert_false(http_etag_match(NULL, TAG));
}

static void test_accepts_gzip(void **state)
{
    (void)state;
    static const struct {
        const char *ae;
        bool gzip;
    } cases[] = {
        { "gzip", true },
        { "GZip", true },
        { "x-gzip", true },
        { "gzip, deflate, br", true },
        { "deflate, gzip;q=0.5", true },
        { "br;q=1.0, gzip ; q=0.001", true },
        { "gzip;q=1", true },
        { "gzip;Q=0.8", true },
        { "*", true },
        { "*;q=0.1", true },
        { "identity", false },
        { "deflate, br", false },
        { "", false },
        { "gzip;q=0", false },
        { "gzip;q=0.000", false },
        { "gzip;q=0, *", false },                 /* named and refused: * does not override */
        { "*;q=0", false },
        { "*, gzip;q=0", false },
        { "gzipx", false },
        { "gzi", false },
        { "gzip;q=2", false },                    /* malformed weight: not accepted */
        { "gzip;q=", false },
        { "gzip;q=0.5x", false },
        { "gzip;level=9", true },                 /* other parameters ignored */
        { ",,gzip", true },
        { "deflate;q=0.5;x=\"a,b\", gzip", true },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        if (http_accepts_gzip(cases[i].ae) != cases[i].gzip)
            fail_msg("Accept-Encoding: %s: expected gzip %s", cases[i].ae,
                     cases[i].gzip ? "accepted" : "refused");
    assert_false(http_accepts_gzip(NULL));
}

static void test_choose(void **state)
{
    (void)state;
    http_static_pick_t p = http_static_choose(&file, NULL, NULL);
    assert_int_equal(p.status, 200);
    assert_false(p.gzip);
    assert_string_equal(p.etag, TAG);
    assert_ptr_equal(p.body, data);
    assert_int_equal(p.len, sizeof data - 1);

    p = http_static_choose(&file, NULL, "gzip");
    assert_int_equal(p.status, 200);
    assert_true(p.gzip);
    assert_string_equal(p.etag, TAG_GZ);
    assert_ptr_equal(p.body, gz);
    assert_int_equal(p.len, 2);

    /* each representation is revalidated with its own tag */
    p = http_static_choose(&file, TAG, NULL);
    assert_int_equal(p.status, 304);
    assert_null(p.body);
    assert_string_equal(p.etag, TAG);
    p = http_static_choose(&file, TAG_GZ, "gzip");
    assert_int_equal(p.status, 304);
    assert_true(p.gzip);
    p = http_static_choose(&file, TAG, "gzip");
    assert_int_equal(p.status, 200);
    assert_true(p.gzip);
    p = http_static_choose(&file, TAG_GZ, NULL);
    assert_int_equal(p.status, 200);
    assert_false(p.gzip);
    p = http_static_choose(&file, "*", "gzip");
    assert_int_equal(p.status, 304);

    /* no gzip copy: the bytes, whatever the client accepts */
    p = http_static_choose(&plain, NULL, "gzip");
    assert_int_equal(p.status, 200);
    assert_false(p.gzip);
    assert_ptr_equal(p.body, data);
    assert_string_equal(p.etag, TAG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_etag_match),
        cmocka_unit_test(test_accepts_gzip),
        cmocka_unit_test(test_choose),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
