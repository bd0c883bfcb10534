/* Unit tests: tunnel/mesh (routing table, split-brain winner, login epochs,
 * link tie-break, configuration digest) and the ACL's canonical forms and
 * name-target networks (tunnel/acl) that the mesh relies on. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "tunnel/acl.h"
#include "tunnel/mesh.h"

static void test_winner(void **state)
{
    /* the newest login wins, whatever gateway it is on */
    assert_true(tunnel_mesh_cmp(200, "gw9", 100, "gw1") > 0);
    assert_true(tunnel_mesh_cmp(100, "gw1", 200, "gw9") < 0);
    /* equal epochs: the gateway whose name sorts first */
    assert_true(tunnel_mesh_cmp(100, "gw1", 100, "gw2") > 0);
    assert_true(tunnel_mesh_cmp(100, "gw2", 100, "gw1") < 0);
    assert_true(tunnel_mesh_cmp(100, "B", 100, "a") > 0); /* bytewise: 'B' < 'a' */
    assert_int_equal(tunnel_mesh_cmp(100, "gw1", 100, "gw1"), 0);
    /* antisymmetric over a grid: every gateway picks the same winner */
    const char *gws[] = { "gw1", "gw2", "gw10", "a" };
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++)
            for (uint64_t e = 0; e < 3; e++)
                assert_int_equal(tunnel_mesh_cmp(e, gws[i], 1, gws[j]),
                                 -tunnel_mesh_cmp(1, gws[j], e, gws[i]));
}

static void test_offer_and_withdraw(void **state)
{
    tunnel_mesh_t t;
    tunnel_route_t old;
    tunnel_mesh_init(&t);
    assert_int_equal(tunnel_mesh_offer(&t, "x", "gw1", 100, &old), TUNNEL_OFFER_NEW);
    assert_int_equal(tunnel_mesh_offer(&t, "x", "gw1", 100, &old), TUNNEL_OFFER_SAME);
    assert_int_equal(tunnel_mesh_offer(&t, "x", "gw3", 90, &old), TUNNEL_OFFER_LOST);
    assert_string_equal(tunnel_mesh_get(&t, "x")->gateway, "gw1");
    assert_int_equal(tunnel_mesh_offer(&t, "x", "gw3", 150, &old), TUNNEL_OFFER_WON);
    assert_string_equal(old.gateway, "gw1");
    assert_int_equal(old.epoch, 100);
    /* a late logout of the login that lost changes nothing */
    assert_false(tunnel_mesh_withdraw(&t, "x", "gw1", 100));
    assert_string_equal(tunnel_mesh_get(&t, "x")->gateway, "gw3");
    /* a logout of another epoch on the right gateway neither */
    assert_false(tunnel_mesh_withdraw(&t, "x", "gw3", 149));
    assert_true(tunnel_mesh_withdraw(&t, "x", "gw3", 150));
    assert_null(tunnel_mesh_get(&t, "x"));
    tunnel_mesh_free(&t);
}

/* Two gateways hear the same announcements in opposite orders: same table. */
static void test_order_does_not_matter(void **state)
{
    struct { const char *name, *gw; uint64_t epoch; } ann[] = {
        { "x", "gw1", 100 }, { "x", "gw3", 100 }, { "y", "gw2", 7 }, { "x", "gw2", 99 },
        { "y", "gw3", 8 },   { "z", "gw1", 5 },   { "y", "gw1", 8 },
    };
    size_t n = sizeof ann / sizeof ann[0];
    tunnel_mesh_t a, b;
    tunnel_mesh_init(&a);
    tunnel_mesh_init(&b);
    for (size_t i = 0; i < n; i++) {
        assert_true(tunnel_mesh_offer(&a, ann[i].name, ann[i].gw, ann[i].epoch, NULL) >= 0);
        assert_true(tunnel_mesh_offer(&b, ann[n - 1 - i].name, ann[n - 1 - i].gw,
                                      ann[n - 1 - i].epoch, NULL) >= 0);
    }
    assert_int_equal(tunnel_mesh_len(&a), 3);
    assert_int_equal(tunnel_mesh_len(&b), 3);
    const char *names[] = { "x", "y", "z" }, *want[] = { "gw1", "gw1", "gw1" };
    for (int i = 0; i < 3; i++) {
        assert_string_equal(tunnel_mesh_get(&a, names[i])->gateway, want[i]);
        assert_string_equal(tunnel_mesh_get(&b, names[i])->gateway, want[i]);
        assert_int_equal(tunnel_mesh_get(&a, names[i])->epoch, tunnel_mesh_get(&b, names[i])->epoch);
    }
    tunnel_mesh_free(&a);
    tunnel_mesh_free(&b);
}

static void test_drop_gateway(void **state)
{
    tunnel_mesh_t t;
    tunnel_mesh_init(&t);
    char name[16];
    for (int i = 0; i < 300; i++) {
        snprintf(name, sizeof name, "agent%d", i);
        assert_int_equal(tunnel_mesh_offer(&t, name, i % 3 == 0 ? "dead" : "alive", 1, NULL),
                         TUNNEL_OFFER_NEW);
    }
    assert_int_equal(tunnel_mesh_drop_gateway(&t, "dead"), 100);
    assert_int_equal(tunnel_mesh_len(&t), 200);
    size_t pos = 0, n = 0;
    const tunnel_route_t *r;
    while ((r = tunnel_mesh_next(&t, &pos))) {
        assert_string_equal(r->gateway, "alive");
        n++;
    }
    assert_int_equal(n, 200);
    assert_int_equal(tunnel_mesh_drop_gateway(&t, "dead"), 0);
    tunnel_mesh_free(&t);
}

static void test_epochs(void **state)
{
    tunnel_mesh_t t;
    tunnel_mesh_init(&t);
    assert_int_equal(tunnel_mesh_next_epoch(&t, "x", 1000), 1000);
    /* a gateway whose clock is behind still logs in newer than what it knows */
    assert_int_equal(tunnel_mesh_offer(&t, "x", "gw9", 5000, NULL), TUNNEL_OFFER_NEW);
    uint64_t e = tunnel_mesh_next_epoch(&t, "x", 1000);
    assert_int_equal(e, 5001);
    assert_int_equal(tunnel_mesh_offer(&t, "x", "gw1", e, NULL), TUNNEL_OFFER_WON);
    /* a clock ahead of everything known: the clock */
    assert_int_equal(tunnel_mesh_next_epoch(&t, "x", 9000), 9000);
    tunnel_mesh_free(&t);
}

static void test_keeper(void **state)
{
    assert_string_equal(tunnel_mesh_keeper("gw1", "gw2"), "gw1");
    assert_string_equal(tunnel_mesh_keeper("gw2", "gw1"), "gw1");
    assert_string_equal(tunnel_mesh_keeper("b", "a"), "a");
}

static void add(tunnel_acl_t *acl, const char *text)
{
    char err[256];
    assert_int_equal(tunnel_acl_add(acl, TUNNEL_ACL_GATEWAY, text, err, sizeof err), 0);
}

static void test_canon(void **state)
{
    tunnel_acl_t acl = { 0 };
    char a[512], b[512];
    add(&acl, "from=x to=y net=10.0.0.0/8,192.168.1.7 ports=80,22,23-25,26");
    add(&acl, "ports=26,22-25,80 net=192.168.1.7/32,10.1.2.3/8 to=y from=x");
    assert_int_equal(tunnel_acl_canon(&acl.rules[0], a, sizeof a), 0);
    assert_int_equal(tunnel_acl_canon(&acl.rules[1], b, sizeof b), 0);
    assert_string_equal(a, "from=x to=y net=10.0.0.0/8,192.168.1.7/32 ports=22-26,80");
    assert_string_equal(a, b);
    tunnel_acl_free(&acl);
    add(&acl, "from=* to=* net=::/0,2001:db8::/32 ports=*");
    assert_int_equal(tunnel_acl_canon(&acl.rules[0], a, sizeof a), 0);
    assert_string_equal(a, "from=* to=* net=*,2001:db8::/32 ports=1-65535");
    assert_int_equal(tunnel_acl_canon(&acl.rules[0], a, 10), -ENOBUFS);
    tunnel_acl_free(&acl);
}

static void digest_of(const char *const *names, const char *const *hashes, size_t n,
                      const char *const *rules, size_t nr, char out[65])
{
    tunnel_acl_t acl = { 0 };
    for (size_t i = 0; i < nr; i++)
        add(&acl, rules[i]);
    assert_int_equal(tunnel_mesh_digest(names, hashes, n, &acl, out), 0);
    tunnel_acl_free(&acl);
}

static void test_digest(void **state)
{
    const char *n1[] = { "a", "b" }, *h1[] = { "pbkdf2-sha256$1$00$aa", "pbkdf2-sha256$1$00$bb" };
    const char *n2[] = { "b", "a" }, *h2[] = { "pbkdf2-sha256$1$00$bb", "pbkdf2-sha256$1$00$aa" };
    const char *r1[] = { "from=a to=b net=10.0.0.0/8 ports=22", "from=* to=b net=* ports=80" };
    const char *r2[] = { "from=* to=b net=* ports=80", "from=a to=b net=10.1.0.0/8 ports=22",
                         "from=a to=b net=10.0.0.0/8 ports=22" };
    const char *r3[] = { "from=a to=b net=10.0.0.0/8 ports=23", "from=* to=b net=* ports=80" };
    const char *h3[] = { "pbkdf2-sha256$1$00$aa", "pbkdf2-sha256$1$00$cc" };
    char d1[65], d2[65], d3[65], d4[65];
    digest_of(n1, h1, 2, r1, 2, d1);
    assert_int_equal(strlen(d1), 64);
    /* order of agents and rules, a rule given twice, a net in another spelling: same */
    digest_of(n2, h2, 2, r2, 3, d2);
    assert_string_equal(d1, d2);
    /* another port, another key: different */
    digest_of(n1, h1, 2, r3, 2, d3);
    assert_string_not_equal(d1, d3);
    digest_of(n1, h3, 2, r1, 2, d4);
    assert_string_not_equal(d1, d4);
}

static void test_name_target_nets(void **state)
{
    tunnel_acl_t acl = { 0 };
    char out[256];
    add(&acl, "from=a to=b net=10.0.0.0/8,192.168.1.7 ports=443");
    add(&acl, "from=* to=b net=172.16.0.0/12 ports=400-500");
    add(&acl, "from=a to=c net=* ports=*");
    assert_int_equal(tunnel_acl_nets(&acl, "a", "b", 443, out, sizeof out), 2);
    assert_string_equal(out, "10.0.0.0/8,192.168.1.7/32,172.16.0.0/12");
    assert_int_equal(tunnel_acl_nets(&acl, "z", "b", 443, out, sizeof out), 1);
    assert_string_equal(out, "172.16.0.0/12");
    assert_int_equal(tunnel_acl_nets(&acl, "a", "b", 22, out, sizeof out), 0); /* denied */
    assert_int_equal(tunnel_acl_nets(&acl, "a", "c", 22, out, sizeof out), 1);
    assert_string_equal(out, "*");
    assert_int_equal(tunnel_acl_nets(&acl, "a", "b", 443, out, 12), -ENOBUFS);
    /* the acceptor's check of a resolved address */
    const char *nets = "10.0.0.0/8,192.168.1.7/32";
    assert_true(tunnel_acl_nets_match(nets, strlen(nets), "10.9.8.7"));
    assert_true(tunnel_acl_nets_match(nets, strlen(nets), "192.168.1.7"));
    assert_false(tunnel_acl_nets_match(nets, strlen(nets), "192.168.1.8"));
    assert_false(tunnel_acl_nets_match(nets, strlen(nets), "not-an-ip"));
    assert_true(tunnel_acl_nets_match("*", 1, "2001:db8::1"));
    assert_false(tunnel_acl_nets_match("10.0.0.0/8,bogus", 16, "11.0.0.1"));
    assert_false(tunnel_acl_nets_match("", 0, "10.0.0.1"));
    tunnel_acl_free(&acl);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_winner),       cmocka_unit_test(test_offer_and_withdraw),
        cmocka_unit_test(test_order_does_not_matter), cmocka_unit_test(test_drop_gateway),
        cmocka_unit_test(test_epochs),       cmocka_unit_test(test_keeper),
        cmocka_unit_test(test_canon),        cmocka_unit_test(test_digest),
        cmocka_unit_test(test_name_target_nets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
