/* Unit tests: tunnel/acl (gateway rules, agent whitelist) and tunnel/keyhash. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "tunnel/acl.h"
#include "tunnel/keyhash.h"

static void test_gateway_rules(void **state)
{
    tunnel_acl_t acl = { 0 };
    char err[256];
    assert_int_equal(tunnel_acl_add(&acl, TUNNEL_ACL_GATEWAY,
                                    "from=gw2 to=gw1 net=192.168.10.0/24,10.1.2.3 ports=22,8000-8100",
                                    err, sizeof err), 0);
    assert_int_equal(tunnel_acl_add(&acl, TUNNEL_ACL_GATEWAY, "from=* to=lab net=* ports=*", err,
                                    sizeof err), 0);
    assert_non_null(tunnel_acl_match(&acl, "gw2", "gw1", "192.168.10.12", 22));
    assert_non_null(tunnel_acl_match(&acl, "gw2", "gw1", "10.1.2.3", 8050));
    assert_null(tunnel_acl_match(&acl, "gw2", "gw1", "10.1.2.4", 8050));
    assert_null(tunnel_acl_match(&acl, "gw2", "gw1", "192.168.10.12", 23));
    assert_null(tunnel_acl_match(&acl, "gw3", "gw1", "192.168.10.12", 22));
    assert_null(tunnel_acl_match(&acl, "gw1", "gw2", "192.168.10.12", 22)); /* directional */
    assert_non_null(tunnel_acl_match(&acl, "anyone", "lab", "fe80::1", 1));
    assert_null(tunnel_acl_match(&acl, "gw2", "gw1", "not-an-ip", 22));
    /* v4-mapped v6 is the same address */
    assert_non_null(tunnel_acl_match(&acl, "gw2", "gw1", "::ffff:192.168.10.1", 22));
    tunnel_acl_free(&acl);
    /* default deny: an empty acl allows nothing */
    assert_null(tunnel_acl_match(&acl, "a", "b", "127.0.0.1", 80));
}

static void test_rule_errors(void **state)
{
    tunnel_acl_t acl = { 0 };
    char err[256];
    static const char *bad[] = {
        "to=gw1 net=* ports=*",            /* no from */
        "from=a to=b ports=22",            /* no net */
        "from=a to=b net=10.0.0.0/33 ports=22",
        "from=a to=b net=10.0.0.0/8 ports=0",
        "from=a to=b net=10.0.0.0/8 ports=90-80",
        "from=a to=b net=10.0.0.0/8 ports=22 color=red",
        "from=a/b to=b net=* ports=*",
        "from=a to=b net=10.0.0.0/8 ports=22 junk",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        assert_int_equal(tunnel_acl_add(&acl, TUNNEL_ACL_GATEWAY, bad[i], err, sizeof err), -EINVAL);
        assert_true(err[0] != '\0');
    }
    assert_int_equal(acl.n, 0);
}

static void test_whitelist(void **state)
{
    tunnel_acl_t wl = { 0 };
    char err[256];
    assert_int_equal(tunnel_acl_add(&wl, TUNNEL_ACL_WHITELIST, "net=127.0.0.0/8 ports=1024-65535",
                                    err, sizeof err), 0);
    assert_int_equal(tunnel_acl_add(&wl, TUNNEL_ACL_WHITELIST, "from=ops net=10.0.0.0/8 ports=22",
                                    err, sizeof err), 0);
    assert_int_equal(tunnel_acl_add(&wl, TUNNEL_ACL_WHITELIST, "to=x net=* ports=*", err, sizeof err),
                     -EINVAL);
    assert_non_null(tunnel_acl_match(&wl, "anyone", NULL, "127.0.0.1", 8080));
    assert_null(tunnel_acl_match(&wl, "anyone", NULL, "127.0.0.1", 22));
    assert_non_null(tunnel_acl_match(&wl, "ops", NULL, "10.9.9.9", 22));
    assert_null(tunnel_acl_match(&wl, "dev", NULL, "10.9.9.9", 22));
    tunnel_acl_free(&wl);
}

static void test_keyhash(void **state)
{
    char h[TUNNEL_KEYHASH_STRLEN], h2[TUNNEL_KEYHASH_STRLEN];
    assert_int_equal(tunnel_keyhash_make("s3cret", 6, 1000, h, sizeof h), 0);
    assert_true(tunnel_keyhash_valid(h));
    assert_int_equal(strncmp(h, "pbkdf2-sha256$1000$", 19), 0);
    assert_null(strstr(h, "s3cret"));
    assert_int_equal(tunnel_keyhash_verify(h, "s3cret", 6), 0);
    assert_int_equal(tunnel_keyhash_verify(h, "s3creT", 6), -EACCES);
    assert_int_equal(tunnel_keyhash_verify(h, "s3cret!", 7), -EACCES);
    /* salted: the same key hashes differently */
    assert_int_equal(tunnel_keyhash_make("s3cret", 6, 1000, h2, sizeof h2), 0);
    assert_string_not_equal(h, h2);
    assert_int_equal(tunnel_keyhash_verify(h2, "s3cret", 6), 0);
    assert_int_equal(tunnel_keyhash_verify("s3cret", "s3cret", 6), -EINVAL);
    assert_false(tunnel_keyhash_valid("pbkdf2-sha256$10$00$00"));
    assert_false(tunnel_keyhash_valid("pbkdf2-sha256$1000$zz$00"));
    assert_false(tunnel_keyhash_valid(NULL));
    assert_int_equal(tunnel_keyhash_make("", 0, 1000, h, sizeof h), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gateway_rules),
        cmocka_unit_test(test_rule_errors),
        cmocka_unit_test(test_whitelist),
        cmocka_unit_test(test_keyhash),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
