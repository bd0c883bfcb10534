/* net/xmpp's parsing side: the stream parser and its caps, JIDs, escaping,
 * and TR-069 Annex K's connectionRequest payload (built, then read back). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "net/xmpp.h"

typedef struct seen {
    int opens, stanzas, closes;
    char last_name[256];
    char cr_user[256], cr_pass[256];
    int cr_rc;
    char cond[64];
} seen_t;

static void on_open(void *ud, const xmpp_el_t *s)
{
    seen_t *v = ud;
    v->opens++;
    assert_true(xmpp_el_is(s, "http://etherx.jabber.org/streams", "stream"));
}

static void on_stanza(void *ud, const xmpp_el_t *s)
{
    seen_t *v = ud;
    v->stanzas++;
    snprintf(v->last_name, sizeof v->last_name, "%s", s->name);
    const char *u, *p;
    v->cr_rc = xmpp_cr_parse(s, &u, &p);
    if (v->cr_rc == 0) {
        snprintf(v->cr_user, sizeof v->cr_user, "%s", u);
        snprintf(v->cr_pass, sizeof v->cr_pass, "%s", p);
    }
    snprintf(v->cond, sizeof v->cond, "%s", xmpp_iq_error_condition(s));
}

static void on_close(void *ud) { ((seen_t *)ud)->closes++; }

static const xmpp_parser_cbs_t cbs = { on_open, on_stanza, on_close };

#define HDR "<?xml version='1.0'?><stream:stream xmlns='jabber:client' " \
            "xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>"

static int feed_all(xmpp_parser_t *p, const char *s, size_t step, const char **why)
{
    size_t n = strlen(s);
    for (size_t i = 0; i < n; i += step) {
        int rc = xmpp_parser_feed(p, s + i, n - i < step ? n - i : step, why);
        if (rc)
            return rc;
    }
    return 0;
}

static void test_stream_split_anywhere(void **state)
{
    const char *s = HDR "<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/></stream:features>"
                        " \n <iq type='get' id='a1' from='acs@example.com/x'>"
                        "<connectionRequest xmlns='" XMPP_CR_NS "'><username>u&amp;1</username>"
                        "<password>p&lt;w</password></connectionRequest></iq></stream:stream>";
    for (size_t step = 1; step < 40; step += 7) {
        seen_t v = { 0 };
        xmpp_parser_t *p = xmpp_parser_new(4096, &cbs, &v);
        const char *why;
        assert_int_equal(feed_all(p, s, step, &why), 0);
        assert_int_equal(v.opens, 1);
        assert_int_equal(v.stanzas, 2);
        assert_int_equal(v.closes, 1);
        assert_string_equal(v.last_name, "jabber:client iq");
        assert_int_equal(v.cr_rc, 0);
        assert_string_equal(v.cr_user, "u&1");
        assert_string_equal(v.cr_pass, "p<w");
        xmpp_parser_free(p);
    }
}

static void test_caps_and_forbidden_xml(void **state)
{
    static const struct {
        const char *body;
        const char *why;
    } bad[] = {
        { "<message><a><a><a><a><a><a><a><a><a><a><a><a><a><a><a><a><a></a></a></a></a></a></a></a></a>"
          "</a></a></a></a></a></a></a></a></a></message>", "nested too deep" },
        { "<iq><<</iq>", "not well-formed" },
        { "<?pi x?>", "processing instruction" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        seen_t v = { 0 };
        xmpp_parser_t *p = xmpp_parser_new(4096, &cbs, &v);
        const char *why = NULL;
        char in[2048];
        snprintf(in, sizeof in, HDR "%s", bad[i].body);
        assert_int_equal(feed_all(p, in, 5, &why), -EPROTO);
        assert_non_null(why);
        assert_non_null(strstr(why, bad[i].why));
        assert_int_equal(v.stanzas, 0);
        /* and it stays failed until reset */
        assert_int_equal(xmpp_parser_feed(p, "<a/>", 4, &why), -EPROTO);
        assert_int_equal(xmpp_parser_reset(p), 0);
        assert_int_equal(feed_all(p, HDR "<presence/>", 3, &why), 0);
        assert_int_equal(v.stanzas, 1);
        xmpp_parser_free(p);
    }
    /* a DTD before the stream (entity expansion's way in) */
    seen_t v = { 0 };
    xmpp_parser_t *p = xmpp_parser_new(4096, &cbs, &v);
    const char *why = NULL;
    assert_int_equal(feed_all(p, "<?xml version='1.0'?><!DOCTYPE s [<!ENTITY a 'aaaa'>]><s/>", 64, &why), -EPROTO);
    assert_non_null(strstr(why, "DTD"));
    xmpp_parser_free(p);
}

static void test_stanza_size_cap(void **state)
{
    seen_t v = { 0 };
    xmpp_parser_t *p = xmpp_parser_new(1024, &cbs, &v);
    const char *why = NULL;
    assert_int_equal(feed_all(p, HDR, 100, &why), 0);
    /* many stanzas under the cap: fine, whatever the total */
    for (int i = 0; i < 200; i++)
        assert_int_equal(feed_all(p, "<message><body>0123456789012345678901234567890123456789</body></message>",
                                  13, &why), 0);
    assert_int_equal(v.stanzas, 200);
    /* text growing past the cap inside one stanza */
    char big[4000];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    assert_int_equal(feed_all(p, "<message><body>", 100, &why), 0);
    assert_int_equal(feed_all(p, big, 500, &why), -EPROTO);
    assert_non_null(strstr(why, "too large"));
    xmpp_parser_free(p);
    /* one start tag that never ends: refused before expat buffers it all */
    v = (seen_t){ 0 };
    p = xmpp_parser_new(1024, &cbs, &v);
    assert_int_equal(feed_all(p, HDR "<message to='", 100, &why), 0);
    int rc = 0;
    for (int i = 0; i < 100 && rc == 0; i++)
        rc = xmpp_parser_feed(p, big, 1000, &why);
    assert_int_equal(rc, -EPROTO);
    assert_non_null(strstr(why, "too large"));
    xmpp_parser_free(p);
}

/* Whitespace keepalives between stanzas (RFC 6120 4.6.1) are not a stanza:
 * however many over a long idle, they never add up to the cap. */
static void test_keepalives_do_not_add_up(void **state)
{
    seen_t v = { 0 };
    xmpp_parser_t *p = xmpp_parser_new(1024, &cbs, &v);
    const char *why = NULL;
    assert_int_equal(feed_all(p, HDR, 100, &why), 0);
    for (int i = 0; i < 40000; i++)
        assert_int_equal(xmpp_parser_feed(p, " ", 1, &why), 0);
    assert_int_equal(feed_all(p, "<message><body>still here</body></message>", 7, &why), 0);
    assert_int_equal(v.stanzas, 1);
    /* a burst of them in one read too */
    char ws[30000];
    memset(ws, '\n', sizeof ws - 1);
    ws[sizeof ws - 1] = '\0';
    assert_int_equal(xmpp_parser_feed(p, ws, sizeof ws - 1, &why), 0);
    assert_int_equal(feed_all(p, "<message/>", 3, &why), 0);
    assert_int_equal(v.stanzas, 2);
    xmpp_parser_free(p);
}

static void test_error_condition(void **state)
{
    seen_t v = { 0 };
    xmpp_parser_t *p = xmpp_parser_new(4096, &cbs, &v);
    const char *why;
    assert_int_equal(feed_all(p, HDR "<iq type='error' id='x'><connectionRequest xmlns='" XMPP_CR_NS "'/>"
                                     "<error type='cancel'><text xmlns='" XMPP_NS_STANZAS "'>no</text>"
                                     "<not-authorized xmlns='" XMPP_NS_STANZAS "'/></error></iq>",
                              11, &why), 0);
    assert_string_equal(v.cond, "not-authorized");
    assert_int_equal(v.cr_rc, -EINVAL); /* an error, not a request */
    assert_int_equal(feed_all(p, "<iq type='result' id='y'/>", 11, &why), 0);
    assert_string_equal(v.cond, "");
    assert_int_equal(v.cr_rc, -ENOENT);
    xmpp_parser_free(p);
}

static void test_connreq_build_and_parse(void **state)
{
    buf_t b = BUF_INIT(4096);
    assert_int_equal(xmpp_cr_build(&b, "us'er\"<>&", "pässword &amp;"), 0);
    assert_string_equal(b.data, "<connectionRequest xmlns='" XMPP_CR_NS "'><username>us&apos;er&quot;&lt;&gt;&amp;"
                                "</username><password>pässword &amp;amp;</password></connectionRequest>");
    char in[4096];
    snprintf(in, sizeof in, HDR "<iq type='get' id='1'>%s</iq>", b.data);
    seen_t v = { 0 };
    xmpp_parser_t *p = xmpp_parser_new(4096, &cbs, &v);
    const char *why;
    assert_int_equal(feed_all(p, in, 17, &why), 0);
    assert_int_equal(v.cr_rc, 0);
    assert_string_equal(v.cr_user, "us'er\"<>&");
    assert_string_equal(v.cr_pass, "pässword &amp;");
    /* not a get, or a part missing: malformed; another namespace: not one */
    assert_int_equal(feed_all(p, "<iq type='set' id='2'><connectionRequest xmlns='" XMPP_CR_NS "'><username/>"
                                 "<password/></connectionRequest></iq>", 9, &why), 0);
    assert_int_equal(v.cr_rc, -EINVAL);
    assert_int_equal(feed_all(p, "<iq type='get' id='3'><connectionRequest xmlns='" XMPP_CR_NS "'><username>a"
                                 "</username></connectionRequest></iq>", 9, &why), 0);
    assert_int_equal(v.cr_rc, -EINVAL);
    assert_int_equal(feed_all(p, "<iq type='get' id='4'><connectionRequest xmlns='urn:other'><username>a"
                                 "</username><password>b</password></connectionRequest></iq>", 9, &why), 0);
    assert_int_equal(v.cr_rc, -ENOENT);
    xmpp_parser_free(p);
    buf_reset(&b);
    assert_int_equal(xmpp_cr_build(&b, "bell\a", "x"), -EINVAL); /* XML 1.0 cannot carry it */
    buf_free(&b);
    /* the payload (it holds the password) is sized exactly before it is
     * built: it fits a buffer capped at its own length, and one allocation
     * made at the start holds it, so no realloc left a copy */
    const char *want = "<connectionRequest xmlns='" XMPP_CR_NS "'><username>a&amp;&lt;&apos;</username>"
                       "<password>p&gt;&quot;w</password></connectionRequest>";
    b = BUF_INIT(strlen(want));
    assert_int_equal(xmpp_cr_build(&b, "a&<'", "p>\"w"), 0);
    assert_string_equal(b.data, want);
    buf_free_secret(&b);
    b = BUF_INIT(strlen(want) - 1);
    assert_int_equal(xmpp_cr_build(&b, "a&<'", "p>\"w"), -ENOBUFS);
    assert_int_equal(b.len, 0); /* nothing of it went in */
    buf_free(&b);
}

static void test_jids(void **state)
{
    xmpp_jid_t j;
    assert_int_equal(xmpp_jid_parse("SIM000001@localhost/cwmp", &j), 0);
    assert_string_equal(j.local, "SIM000001");
    assert_string_equal(j.domain, "localhost");
    assert_string_equal(j.resource, "cwmp");
    assert_int_equal(xmpp_jid_parse("acs@example.com", &j), 0);
    assert_string_equal(j.resource, "");
    assert_int_equal(xmpp_jid_parse("example.com", &j), 0);
    assert_string_equal(j.local, "");
    assert_int_equal(xmpp_jid_parse("a@b/res/with/slashes@and", &j), 0);
    assert_string_equal(j.resource, "res/with/slashes@and");
    static const char *const bad[] = { "", "@x", "a@", "a@/r", "a@b/", "a b@c", "a@b c", "a<@b", "a@b@c",
                                       "a\"@b", "a@b\x01", NULL };
    for (const char *const *b = bad; *b; b++)
        assert_int_equal(xmpp_jid_parse(*b, &j), -EINVAL);
    char longer[1100];
    memset(longer, 'x', sizeof longer - 1);
    longer[sizeof longer - 1] = '\0';
    assert_int_equal(xmpp_jid_parse(longer, &j), -EINVAL);
    assert_true(xmpp_jid_bare_eq("CPE1@Localhost/cwmp", "cpe1@localhost"));
    assert_true(xmpp_jid_bare_eq("a@b/x", "a@b/y"));
    assert_false(xmpp_jid_bare_eq("a@b", "a@bc"));
    assert_false(xmpp_jid_bare_eq("a@b", NULL));
    assert_false(xmpp_jid_bare_eq("", ""));
    /* a full JID names one resource, exactly; a bare one any of them */
    assert_true(xmpp_jid_matches("CPE1@localhost/cwmp", "cpe1@LOCALHOST/cwmp"));
    assert_false(xmpp_jid_matches("cpe1@localhost/cwmp", "cpe1@localhost/CWMP"));
    assert_false(xmpp_jid_matches("cpe1@localhost/cwmp", "cpe1@localhost/other"));
    assert_false(xmpp_jid_matches("cpe1@localhost/cwmp", "cpe1@localhost"));
    assert_false(xmpp_jid_matches("cpe1@localhost/cwmp", "cpe2@localhost/cwmp"));
    assert_true(xmpp_jid_matches("cpe1@localhost", "cpe1@localhost/any"));
    assert_true(xmpp_jid_matches("cpe1@localhost", "cpe1@localhost"));
    assert_false(xmpp_jid_matches("cpe1@localhost", NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stream_split_anywhere),
        cmocka_unit_test(test_caps_and_forbidden_xml),
        cmocka_unit_test(test_stanza_size_cap),
        cmocka_unit_test(test_keepalives_do_not_add_up),
        cmocka_unit_test(test_error_condition),
        cmocka_unit_test(test_connreq_build_and_parse),
        cmocka_unit_test(test_jids),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
