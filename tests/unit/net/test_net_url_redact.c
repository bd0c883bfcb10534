/* Unit tests: net/addr — net_url_redacted, the URL as logs and error texts
 * show it (a userinfo password and secret-named query values hidden,
 * everything else as given). */
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
    check("http://h/p?&&=&x", "http://h/p?&&=&x");
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

static void test_query_secrets(void **s)
{
    (void)s;
    /* a credential's value goes, by its name, in any case; the rest stays */
    check("https://hooks.example.net/in?access_token=abc123&team=ops",
          "https://hooks.example.net/in?access_token=***&team=ops");
    check("https://h/x?team=ops&API_KEY=k1&Password=p&n=1",
          "https://h/x?team=ops&API_KEY=***&Password=***&n=1");
    check("https://bucket.s3.example/fw.bin?X-Amz-Credential=AK%2F1&X-Amz-Date=20261205"
          "&X-Amz-Signature=f00d",
          "https://bucket.s3.example/fw.bin?X-Amz-Credential=***&X-Amz-Date=20261205"
          "&X-Amz-Signature=***");
    check("https://acct.blob.example/c/fw?sv=2024&sig=AbC%3D&se=1", "https://acct.blob.example/c/fw?sv=2024&sig=***&se=1");
    /* an empty value is hidden too; a name without '=' has no value to hide */
    check("http://h/?token=&token", "http://h/?token=***&token");
    /* a '=' in the value: the whole value goes, up to the next '&' */
    check("http://h/?secret=a=b&c=d", "http://h/?secret=***&c=d");
    /* the fragment is not the query: left as it is, and ends the query */
    check("http://h/?token=t#token=u&key=v", "http://h/?token=***#token=u&key=v");
    check("http://h/p#?token=u", "http://h/p#?token=u");
    /* a '?' later in the query is data, the first one starts it */
    check("http://h/?a=?&key=v?w", "http://h/?a=?&key=***");
    /* with a userinfo password, both */
    check("https://u:pw@h:8443/hook?sig=s&x=1", "https://u:***@h:8443/hook?sig=***&x=1");
    /* a '?' in the authority part (no path) starts the query */
    check("http://h?session=s", "http://h?session=***");
    /* names are matched as the server decodes them: escaped letters too */
    check("http://h/?%74oken=t&%41PI%5fKEY=k&n%61me=x", "http://h/?%74oken=***&%41PI%5fKEY=***&n%61me=x");
    /* a '%' that starts no escape is a byte of its own */
    check("http://h/?%token=t&x%2=y", "http://h/?%token=***&x%2=y");
}

static void test_query_name_secret(void **s)
{
    (void)s;
    const char *yes[] = { "token", "access_token", "apikey", "api_key", "Signature", "sig",
                          "PASSWD", "pwd", "client_secret", "Authorization", "sessionid",
                          "X-Amz-Credential" };
    const char *no[] = { "team", "sv", "se", "id", "x", "", "tok", "expires" };
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++)
        assert_true(net_url_query_name_secret(yes[i], strlen(yes[i])));
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++)
        assert_false(net_url_query_name_secret(no[i], strlen(no[i])));
    /* only the n bytes given are looked at */
    assert_false(net_url_query_name_secret("tokenXYZ", 4));
    assert_true(net_url_query_name_secret("tokenXYZ", 5));
    /* escapes and '+' decoded, as the server reads the name */
    assert_true(net_url_query_name_secret("%54OKEN", 7));
    assert_true(net_url_query_name_secret("api%6bey", 8));
    assert_true(net_url_query_name_secret("pa%73%73", 8));
    assert_false(net_url_query_name_secret("pa%73%7", 7)); /* a cut escape is not an 's' */
    assert_false(net_url_query_name_secret("pa%73%73", 7));
    assert_false(net_url_query_name_secret("to+ken", 6));
    assert_false(net_url_query_name_secret("%zzkey", 3));
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
    /* a query's secret value is never among what a cut copies */
    const char *q = "http://h/?token=abcdef&x=1";
    const char *qfull = "http://h/?token=***&x=1";
    for (size_t cap = 1; cap <= strlen(qfull) + 1; cap++) {
        char out[64];
        int rc = net_url_redacted(q, out, cap);
        assert_int_equal(rc, cap > strlen(qfull) ? 0 : -ENOSPC);
        assert_memory_equal(out, qfull, strlen(out));
        assert_null(strstr(out, "abc"));
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
    const char *urls[] = { "http://u:secret@h:81/p?q", "wss://a@[::1]/x", "https://h",
                           "https://h/hook?token=t&x=1" };
    for (size_t i = 0; i < sizeof urls / sizeof urls[0]; i++) {
        net_url_t a, b;
        char out[256];
        assert_int_equal(net_url_parse(urls[i], &a), 0);
        assert_int_equal(net_url_redacted(urls[i], out, sizeof out), 0);
        assert_int_equal(net_url_parse(out, &b), 0);
        assert_string_equal(a.host, b.host);
        assert_int_equal(a.port, b.port);
        assert_string_equal(a.user, b.user);
        /* the path up to its query is kept; the query may lose values */
        size_t pl = strcspn(a.path, "?");
        assert_int_equal(strcspn(b.path, "?"), pl);
        assert_memory_equal(a.path, b.path, pl);
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
        cmocka_unit_test(test_query_secrets),
        cmocka_unit_test(test_query_name_secret),
        cmocka_unit_test(test_truncation),
        cmocka_unit_test(test_unparseable),
        cmocka_unit_test(test_redacted_still_parses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
