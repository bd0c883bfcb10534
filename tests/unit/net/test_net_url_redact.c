/* Unit tests: net/addr — net_url_redacted, the URL as logs and error texts
 * show it (a userinfo password hidden, everything else as given). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "net/addr.h"

/* Redact into a roomy buffer and compare. */
static void check(const char *in, const char *want)
{
    char out[256];
    memset(out, 'x', sizeof out);
    assert_int_equal(net_url_redacted(in, out, sizeof out), 0);
    assert_string_equal(out, want);
}

static void test_no_userinfo(void **s)
{
    (void)s;
    check("http://acs.example.net:7547/cwmp", "http://acs.example.net:7547/cwmp");
    check("wss://gw.example.net/agent?x=1#f", "wss://gw.example.net/agent?x=1#f");
    check("https://h", "https://h");
    check("", "");
    char out[8];
    assert_int_equal(net_url_redacted(NULL, out, sizeof out), 0);
    assert_string_equal(out, "");
}

static void test_user_only(void **s)
{
    (void)s;
    /* no password: nothing to hide, the user name stays */
    check("http://ops@acs.example.net/cwmp", "http://ops@acs.example.net/cwmp");
}

static void test_user_and_password(void **s)
{
    (void)s;
    check("http://user:secret@acs.example.net:7547/cwmp", "http://user:***@acs.example.net:7547/cwmp");
    check("wss://agent:s3cr%40t@gw.example.net/agent", "wss://agent:***@gw.example.net/agent");
    check("https://u:p@h", "https://u:***@h");
    check("HTTP://u:p@h?q", "HTTP://u:***@h?q");
    check("http://u:p@h#frag", "http://u:***@h#frag");
    /* a raw '@' or ':' in the password: the last '@' ends the userinfo, as
     * the parser reads it, so no piece of the password shows */
    check("http://u:p@ss:w@h/x", "http://u:***@h/x");
    /* a password only */
    check("http://:secret@h/", "http://:***@h/");
}

static void test_at_in_path_or_query(void **s)
{
    (void)s;
    check("http://h/files/a@b:c", "http://h/files/a@b:c");
    check("http://h:80?mail=a:b@c", "http://h:80?mail=a:b@c");
    check("http://h#a:b@c", "http://h#a:b@c");
    /* userinfo and an '@' further on: only the userinfo's password goes */
    check("http://u:secret@h/p@q?r=s:t@u", "http://u:***@h/p@q?r=s:t@u");
}

static void test_ipv6_host(void **s)
{
    (void)s;
    /* the host's colons are not a password's */
    check("http://[2001:db8::1]:7547/cwmp", "http://[2001:db8::1]:7547/cwmp");
    check("ws://user:secret@[::1]:8080/agent", "ws://user:***@[::1]:8080/agent");
    check("ws://user@[::1]:8080/agent", "ws://user@[::1]:8080/agent");
}

static void test_empty_password(void **s)
{
    (void)s;
    /* hidden too: whether a password is empty is not for logs to say */
    check("http://user:@h/", "http://user:***@h/");
}

static void test_truncation(void **s)
{
    (void)s;
    const char *url = "http://user:secret@host.example/path";
    /* every cap: NUL-terminated, never past cap, never a byte of the
     * password, and a prefix of the whole redacted text */
    const char *full = "http://user:***@host.example/path";
    for (size_t cap = 0; cap <= strlen(full) + 2; cap++) {
        char out[64];
        memset(out, 'x', sizeof out);
        int rc = net_url_redacted(url, out, cap);
        if (cap == 0) {
            assert_int_equal(rc, -ENOSPC);
            assert_int_equal(out[0], 'x'); /* nothing written */
            continue;
        }
        assert_int_equal(rc, cap > strlen(full) ? 0 : -ENOSPC);
        size_t n = strlen(out);
        assert_true(n < cap);
        assert_int_equal(out[cap], 'x'); /* nothing written past cap */
        assert_memory_equal(out, full, n);
        assert_null(strstr(out, "sec"));
    }
    /* a URL without a password, cut */
    char small[5];
    assert_int_equal(net_url_redacted("http://h/", small, sizeof small), -ENOSPC);
    assert_string_equal(small, "http");
}

static void test_unparseable(void **s)
{
    (void)s;
    /* not a URL net_url_parse takes, a password still hidden */
    check("ftp://u:secret@h/f", "ftp://u:***@h/f");
    check("http://u:secret@", "http://u:***@");
    check("http://u:secret@[::1", "http://u:***@[::1");
    check("://u:secret@h", "://u:***@h");
    /* no scheme: the userinfo is read from the start */
    check("u:secret@h:443/x", "u:***@h:443/x");
    check("h:443", "h:443");
    check("not a url", "not a url");
    check("a:b/c@d", "a:b/c@d"); /* the '@' is after the first '/' */
}

/* The redacted form of a URL net_url_parse takes still parses, to the same
 * host, port, user and path, with "***" for the password. */
static void test_redacted_still_parses(void **s)
{
    (void)s;
    const char *urls[] = { "http://u:secret@h:81/p?q", "wss://a@[::1]/x", "https://h" };
    for (size_t i = 0; i < sizeof urls / sizeof urls[0]; i++) {
        net_url_t a, b;
        char out[256];
        assert_int_equal(net_url_parse(urls[i], &a), 0);
        assert_int_equal(net_url_redacted(urls[i], out, sizeof out), 0);
        assert_int_equal(net_url_parse(out, &b), 0);
        assert_string_equal(a.host, b.host);
        assert_int_equal(a.port, b.port);
        assert_string_equal(a.user, b.user);
        assert_string_equal(a.path, b.path);
        assert_string_equal(b.pass, a.pass[0] ? "***" : "");
        net_url_clear(&a);
        net_url_clear(&b);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_userinfo),
        cmocka_unit_test(test_user_only),
        cmocka_unit_test(test_user_and_password),
        cmocka_unit_test(test_at_in_path_or_query),
        cmocka_unit_test(test_ipv6_host),
        cmocka_unit_test(test_empty_password),
        cmocka_unit_test(test_truncation),
        cmocka_unit_test(test_unparseable),
        cmocka_unit_test(test_redacted_still_parses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
