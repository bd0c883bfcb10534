/* Unit tests: net/http_router — the canonical form of request paths, and
 * the access decision (roles, keys, 401/403/404/405/429) through
 * http_router_check. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "net/http_router.h"
#include "net/http_server.h"

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

/* ---- roles ------------------------------------------------------------------------- */

static void h_none(http_req_t *req, void *ud)
{
    (void)req;
    (void)ud;
}

static int lookups;

/* The keys: "kv" viewer, "ko" operator, "ka" admin; anything else unknown. */
static int key_lookup(const char *tok, size_t len, void *ud)
{
    assert_ptr_equal(ud, &lookups);
    lookups++;
    if (len != 2 || tok[0] != 'k')
        return -1;
    return tok[1] == 'v' ? HTTP_ACCESS_VIEWER : tok[1] == 'o' ? HTTP_ACCESS_OPERATOR
                         : tok[1] == 'a' ? HTTP_ACCESS_ADMIN : -1;
}

static http_router_t *role_router(bool keys)
{
    http_router_opts_t o = { .name = "t", .token = "TOKEN", .max_failures = 3 };
    if (keys) {
        o.key_lookup = key_lookup;
        o.key_ud = &lookups;
    }
    http_router_t *r = http_router_new(&o);
    assert_non_null(r);
    assert_int_equal(http_router_add(r, "GET", "/", HTTP_ACCESS_PUBLIC, h_none, NULL), 0);
    assert_int_equal(http_router_add(r, "GET", "/things", HTTP_ACCESS_VIEWER, h_none, NULL), 0);
    assert_int_equal(http_router_add(r, "POST", "/things/{id}/poke", HTTP_ACCESS_OPERATOR, h_none, NULL), 0);
    assert_int_equal(http_router_add(r, "DELETE", "/things/{id}", HTTP_ACCESS_ADMIN, h_none, NULL), 0);
    assert_int_equal(http_router_add(r, "GET", "/legacy", HTTP_ACCESS_TOKEN, h_none, NULL), 0);
    return r;
}

static const char *const creds[] = { NULL, "Bearer nope", "Bearer kv", "Bearer ko", "Bearer ka",
                                     "Bearer TOKEN" };
enum { C_NONE, C_WRONG, C_VIEWER, C_OPERATOR, C_ADMIN, C_TOKEN, C_N };

/* Each row: a request and what each credential above gets. */
static const struct {
    const char *method, *path;
    int want[C_N];
} role_cases[] = {
    { "GET", "/", { 0, 0, 0, 0, 0, 0 } },                       /* public: nothing asked */
    { "GET", "/things", { 401, 401, 0, 0, 0, 0 } },
    { "HEAD", "/things", { 401, 401, 0, 0, 0, 0 } },
    { "POST", "/things/x/poke", { 401, 401, 403, 0, 0, 0 } },
    { "DELETE", "/things/x", { 401, 401, 403, 403, 0, 0 } },
    { "GET", "/legacy", { 401, 401, 403, 403, 0, 0 } },          /* TOKEN is admin */
    { "GET", "/nothing", { 401, 401, 404, 404, 404, 404 } },     /* unknown: only told to a key */
    { "PUT", "/things", { 401, 401, 405, 405, 405, 405 } },
    { "GET", "/things/x", { 401, 401, 405, 405, 405, 405 } },    /* DELETE only */
    { "GET", "//things", { 400, 400, 400, 400, 400, 400 } },     /* before any credential */
};

static void test_roles(void **state)
{
    (void)state;
    http_router_t *r = role_router(true);
    for (size_t i = 0; i < sizeof role_cases / sizeof role_cases[0]; i++)
        for (int c = 0; c < C_N; c++) {
            http_router_verdict_t v;
            /* a fresh address per wrong guess: no lock-out here */
            char addr[32];
            snprintf(addr, sizeof addr, "10.0.%zu.%d", i, c);
            int st = http_router_check(r, role_cases[i].method, role_cases[i].path, creds[c], addr, &v);
            if (st != role_cases[i].want[c])
                fail_msg("%s %s with %s: %d, want %d", role_cases[i].method, role_cases[i].path,
                         creds[c] ? creds[c] : "nothing", st, role_cases[i].want[c]);
            assert_int_equal(v.status, st);
            if (st == 403) {
                assert_true(v.granted > HTTP_ACCESS_PUBLIC && v.granted < v.needed);
            }
            if (st == 401)
                assert_int_equal(v.wrong_token, c == C_WRONG);
        }
    http_router_free(r);
}

/* The router's own token never reaches the lookup; keys do, once per check. */
static void test_lookup_use(void **state)
{
    (void)state;
    http_router_t *r = role_router(true);
    http_router_verdict_t v;
    lookups = 0;
    assert_int_equal(http_router_check(r, "GET", "/things", "Bearer TOKEN", "10.1.0.1", &v), 0);
    assert_int_equal(v.granted, HTTP_ACCESS_ADMIN);
    assert_int_equal(lookups, 0);
    assert_int_equal(http_router_check(r, "GET", "/things", "bearer   ko", "10.1.0.1", &v), 0);
    assert_int_equal(v.granted, HTTP_ACCESS_OPERATOR);
    assert_int_equal(lookups, 1);
    /* public routes look at no credential; another scheme is no credential */
    assert_int_equal(http_router_check(r, "GET", "/", "Bearer ka", "10.1.0.1", &v), 0);
    assert_int_equal(http_router_check(r, "GET", "/things", "Basic a2E=", "10.1.0.1", &v), 401);
    assert_false(v.wrong_token);
    assert_int_equal(lookups, 1);
    http_router_free(r);
}

/* Without a key lookup, keys are wrong tokens; the token is still admin. */
static void test_token_only(void **state)
{
    (void)state;
    http_router_t *r = role_router(false);
    http_router_verdict_t v;
    assert_int_equal(http_router_check(r, "GET", "/things", "Bearer kv", "10.2.0.1", &v), 401);
    assert_true(v.wrong_token);
    assert_int_equal(http_router_check(r, "DELETE", "/things/1", "Bearer TOKEN", "10.2.0.2", &v), 0);
    http_router_free(r);
    /* neither token nor lookup: only public routes may be added */
    r = http_router_new(&(http_router_opts_t){ .name = "p" });
    assert_int_equal(http_router_add(r, "GET", "/x", HTTP_ACCESS_VIEWER, h_none, NULL), -EINVAL);
    assert_int_equal(http_router_add(r, "GET", "/x", (http_access_t)7, h_none, NULL), -EINVAL);
    assert_int_equal(http_router_add(r, "GET", "/x", HTTP_ACCESS_PUBLIC, h_none, NULL), 0);
    assert_int_equal(http_router_check(r, "GET", "/y", NULL, "10.2.0.3", &v), 404);
    http_router_free(r);
    /* keys without a token of its own */
    r = http_router_new(&(http_router_opts_t){ .name = "k", .key_lookup = key_lookup, .key_ud = &lookups });
    assert_int_equal(http_router_add(r, "GET", "/x", HTTP_ACCESS_OPERATOR, h_none, NULL), 0);
    assert_int_equal(http_router_check(r, "GET", "/x", "Bearer ko", "10.2.0.4", &v), 0);
    assert_int_equal(http_router_check(r, "GET", "/x", "Bearer kv", "10.2.0.4", &v), 403);
    http_router_free(r);
}

/* Unknown keys count as wrong tokens: the address is locked out after
 * max_failures, then even a good key gets 429; a 403 is not a failure. */
static void test_lockout(void **state)
{
    (void)state;
    http_router_t *r = role_router(true);
    http_router_verdict_t v;
    for (int i = 0; i < 10; i++) /* forbidden, not failed: no lock-out */
        assert_int_equal(http_router_check(r, "DELETE", "/things/1", "Bearer kv", "10.3.0.1", &v), 403);
    assert_int_equal(http_router_check(r, "GET", "/things", "Bearer kv", "10.3.0.1", &v), 0);
    for (int i = 0; i < 3; i++)
        assert_int_equal(http_router_check(r, "GET", "/things", "Bearer kx", "10.3.0.1", &v), 401);
    assert_int_equal(http_router_check(r, "GET", "/things", "Bearer ka", "10.3.0.1", &v), 429);
    assert_true(v.retry_ms > 0);
    /* another address is not concerned */
    assert_int_equal(http_router_check(r, "GET", "/things", "Bearer ka", "10.3.0.2", &v), 0);
    assert_int_equal(http_router_auth_failures(r), 3);
    assert_int_equal(http_router_auth_lockouts(r), 1);
    http_router_free(r);
}

static void test_access_names(void **state)
{
    (void)state;
    http_access_t a;
    assert_string_equal(http_access_name(HTTP_ACCESS_TOKEN), "admin");
    assert_string_equal(http_access_name(HTTP_ACCESS_PUBLIC), "public");
    assert_string_equal(http_access_name(9), "?");
    assert_int_equal(http_access_parse("operator", &a), 0);
    assert_int_equal(a, HTTP_ACCESS_OPERATOR);
    assert_int_equal(http_access_parse("viewer", &a), 0);
    assert_int_equal(a, HTTP_ACCESS_VIEWER);
    assert_int_equal(http_access_parse("public", &a), -EINVAL);
    assert_int_equal(http_access_parse("Admin", &a), -EINVAL);
    assert_int_equal(http_access_parse(NULL, &a), -EINVAL);
}

/* The Retry-After a 429 or 503 carries: whole seconds, rounded up, never 0. */
static void test_retry_after(void **st)
{
    (void)st;
    static const struct { int64_t ms; const char *want; } retries[] = {
        { 1, "Retry-After: 1\r\n" },    { 999, "Retry-After: 1\r\n" },
        { 1000, "Retry-After: 1\r\n" }, { 1001, "Retry-After: 2\r\n" },
        { 0, "Retry-After: 1\r\n" },    { -5, "Retry-After: 1\r\n" },
        { INT64_MAX, "Retry-After: 9223372036854776\r\n" },
    };
    for (size_t i = 0; i < sizeof retries / sizeof retries[0]; i++) {
        char hdr[HTTP_RETRY_AFTER_MAX];
        http_retry_after(hdr, retries[i].ms);
        assert_string_equal(hdr, retries[i].want);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_canonical),
        cmocka_unit_test(test_lengths),
        cmocka_unit_test(test_roles),
        cmocka_unit_test(test_lookup_use),
        cmocka_unit_test(test_token_only),
        cmocka_unit_test(test_lockout),
        cmocka_unit_test(test_retry_after),
        cmocka_unit_test(test_access_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
