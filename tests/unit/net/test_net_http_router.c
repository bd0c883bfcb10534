/* Unit tests: net/http_router — the canonical form of request paths. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "net/http_router.h"

static const struct {
    const char *in, *out; /* out NULL: refused with -EINVAL */
} cases[] = {
    { "/", "/" },
    { "/api/devices", "/api/devices" },
    { "/api/devices/OP-1000", "/api/devices/OP-1000" },
    /* escapes of unreserved characters are the characters */
    { "/%61pi/devices/OP%2D1000", "/api/devices/OP-1000" },
    { "/api/%7euser", "/api/~user" },
    /* other escapes stay, with upper-case hex: a %2F is data, never a separator */
    { "/api/devices/a%2fb", "/api/devices/a%2Fb" },
    { "/api%2Fdevices", "/api%2Fdevices" },
    { "/api/x%20y", "/api/x%20y" },
    /* case is kept: paths are case-sensitive */
    { "/API/Devices", "/API/Devices" },
    { "/.../x", "/.../x" },
    { "/a.b/..c", "/a.b/..c" },
    /* refused */
    { "//api/devices", NULL },
    { "///api/stats", NULL },
    { "/api//devices", NULL },
    { "/api/devices/", NULL },
    { "/./api/stats", NULL },
    { "/x/../api/stats", NULL },
    { "/api/..", NULL },
    { "/api/%2e%2e/stats", NULL },
    { "/api/%2E/stats", NULL },
    { "/api/.%2e", NULL },
    { "/api/%00", NULL },
    { "/api/%zz", NULL },
    { "/api/%2", NULL },
    { "/api/%", NULL },
    { "/a b", NULL },
    { "/a\tb", NULL },
    { "/caf\xc3\xa9", NULL },
    { "api/devices", NULL },
    { "", NULL },
};

static void test_canonical(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char out[256];
        const char *why = NULL;
        int rc = http_path_canonical(cases[i].in, out, sizeof out, &why);
        if (cases[i].out) {
            if (rc != 0)
                fail_msg("%s: refused (%s)", cases[i].in, why ? why : "?");
            assert_string_equal(out, cases[i].out);
        } else {
            if (rc != -EINVAL)
                fail_msg("%s: accepted as %s", cases[i].in, rc == 0 ? out : "?");
            assert_non_null(why);
        }
    }
}

static void test_lengths(void **state)
{
    (void)state;
    char out[8];
    assert_int_equal(http_path_canonical("/abcdef", out, sizeof out, NULL), 0);
    assert_int_equal(http_path_canonical("/abcdefg", out, sizeof out, NULL), -ENAMETOOLONG);
    assert_int_equal(http_path_canonical("/%61%62%63%64%65%66", out, sizeof out, NULL), 0);
    assert_string_equal(out, "/abcdef");
    assert_int_equal(http_path_canonical("/a/b/c/%2F", out, sizeof out, NULL), -ENAMETOOLONG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_canonical),
        cmocka_unit_test(test_lengths),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
