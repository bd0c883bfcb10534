/* Unit tests: net/addr — host:port splitting and URL parsing. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <cmocka.h>

#include "net/addr.h"

static void test_hostport(void **s)
{
    char host[64];
    uint16_t port;
    assert_int_equal(net_split_hostport("127.0.0.1:8080", host, sizeof host, &port), 0);
    assert_string_equal(host, "127.0.0.1");
    assert_int_equal(port, 8080);
    assert_int_equal(net_split_hostport("[::1]:0", host, sizeof host, &port), 0);
    assert_string_equal(host, "::1");
    assert_int_equal(port, 0);
    assert_int_equal(net_split_hostport("::1:80", host, sizeof host, &port), -EINVAL);
    assert_int_equal(net_split_hostport("host", host, sizeof host, &port), -EINVAL);
    assert_int_equal(net_split_hostport("host:99999", host, sizeof host, &port), -EINVAL);
    assert_int_equal(net_split_hostport("[::1]80", host, sizeof host, &port), -EINVAL);
}

static void test_resolve_and_format(void **s)
{
    struct sockaddr_storage ss;
    char out[64];
    assert_int_equal(net_addr_resolve("0.0.0.0:7547", &ss), 0);
    net_addr_format((struct sockaddr *)&ss, out, sizeof out);
    assert_string_equal(out, "0.0.0.0:7547");
    assert_int_equal(net_addr_resolve("[::1]:80", &ss), 0);
    net_addr_format((struct sockaddr *)&ss, out, sizeof out);
    assert_string_equal(out, "[::1]:80");
    assert_int_equal(net_addr_resolve("localhost:1", &ss), 0);
    /* a peer's address: literals only, never a lookup */
    assert_int_equal(net_addr_numeric("192.0.2.7:5060", &ss), 0);
    net_addr_format((struct sockaddr *)&ss, out, sizeof out);
    assert_string_equal(out, "192.0.2.7:5060");
    assert_int_equal(net_addr_numeric("[2001:db8::1]:9", &ss), 0);
    net_addr_format((struct sockaddr *)&ss, out, sizeof out);
    assert_string_equal(out, "[2001:db8::1]:9");
    assert_int_equal(net_addr_numeric("localhost:1", &ss), -EINVAL);
    assert_int_equal(net_addr_numeric(":1", &ss), -EINVAL);
    assert_int_equal(net_addr_numeric("1.2.3.4", &ss), -EINVAL);
    assert_int_equal(net_addr_numeric("1.2.3.4:70000", &ss), -EINVAL);
}

static void test_urls(void **s)
{
    net_url_t u;
    assert_int_equal(net_url_parse("http://example.net:7548/client?origin=x#frag", &u), 0);
    assert_string_equal(u.scheme, "http");
    assert_string_equal(u.host, "example.net");
    assert_int_equal(u.port, 7548);
    assert_false(u.tls);
    assert_string_equal(u.path, "/client?origin=x");

    assert_int_equal(net_url_parse("WSS://user:p%40ss@[2001:db8::1]/ws", &u), 0);
    assert_string_equal(u.scheme, "wss");
    assert_true(u.tls);
    assert_int_equal(u.port, 443);
    assert_string_equal(u.host, "2001:db8::1");
    assert_string_equal(u.user, "user");
    assert_string_equal(u.pass, "p@ss");
    char hp[64];
    net_url_hostport(&u, hp, sizeof hp);
    assert_string_equal(hp, "[2001:db8::1]");

    assert_int_equal(net_url_parse("http://h?x=1", &u), 0);
    assert_string_equal(u.path, "/?x=1");
    assert_int_equal(net_url_parse("http://h", &u), 0);
    assert_string_equal(u.path, "/");
    net_url_hostport(&u, hp, sizeof hp);
    assert_string_equal(hp, "h");

    assert_int_equal(net_url_parse("ftp://h/", &u), -EINVAL);
    assert_int_equal(net_url_parse("http://:80/", &u), -EINVAL);
    assert_int_equal(net_url_parse("http://h:0/", &u), -EINVAL);
    assert_int_equal(net_url_parse("http://h:70000/", &u), -EINVAL);
    assert_int_equal(net_url_parse("http://h/a b", &u), -EINVAL);
    assert_int_equal(net_url_parse("/relative", &u), -EINVAL);
    assert_int_equal(net_url_parse("http://[::1/", &u), -EINVAL);
    /* the last '@' ends the userinfo: no host confusion */
    assert_int_equal(net_url_parse("http://a@evil@good.example/", &u), 0);
    assert_string_equal(u.host, "good.example");
}

/* A URL's password is wiped by net_url_clear (nothing else is), and by a
 * parse that fails after reading it: no caller is left holding it. */
static void test_url_clear(void **s)
{
    net_url_t u;
    assert_int_equal(net_url_parse("http://user:s3cret@h:8080/p", &u), 0);
    assert_string_equal(u.pass, "s3cret");
    net_url_clear(&u);
    for (size_t i = 0; i < sizeof u.pass; i++)
        assert_int_equal(u.pass[i], 0);
    assert_string_equal(u.user, "user");
    assert_string_equal(u.host, "h");
    assert_int_equal(u.port, 8080);
    assert_string_equal(u.path, "/p");

    memset(u.pass, 'x', sizeof u.pass);
    assert_int_equal(net_url_parse("http://user:s3cret@h:0/p", &u), -EINVAL); /* bad port, past the password */
    for (size_t i = 0; i < sizeof u.pass; i++)
        assert_int_equal(u.pass[i], 0);
}

static void test_cidr(void **s)
{
    net_cidr_t c[3];
    assert_int_equal(net_cidr_parse("10.1.2.3/8", &c[0]), 0);
    assert_int_equal(net_cidr_parse("2001:db8::/32", &c[1]), 0);
    assert_int_equal(net_cidr_parse("192.168.1.7", &c[2]), 0);
    assert_true(net_cidr_match(c, 3, "10.200.0.1"));
    assert_false(net_cidr_match(c, 3, "11.0.0.1"));
    assert_true(net_cidr_match(c, 3, "2001:db8:ffff::1"));
    assert_false(net_cidr_match(c, 3, "2001:db9::1"));
    assert_true(net_cidr_match(c, 3, "192.168.1.7"));
    assert_false(net_cidr_match(c, 3, "192.168.1.8"));
    assert_true(net_cidr_match(c, 3, "::ffff:10.0.0.1")); /* v4-mapped is v4 */
    assert_false(net_cidr_match(c, 3, "not-an-ip"));
    assert_int_equal(net_cidr_parse("10.0.0.0/33", &c[0]), -EINVAL);
    assert_int_equal(net_cidr_parse("/8", &c[0]), -EINVAL);
    assert_int_equal(net_cidr_parse("host/8", &c[0]), -EINVAL);
    assert_int_equal(net_cidr_parse("::/0", &c[0]), 0);
    assert_true(net_cidr_match(c, 1, "8.8.8.8"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hostport),
        cmocka_unit_test(test_resolve_and_format),
        cmocka_unit_test(test_urls),
        cmocka_unit_test(test_url_clear),
        cmocka_unit_test(test_cidr),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
