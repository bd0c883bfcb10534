/* Unit tests: cwmp-proxy balancing, health, sessions, cookies, routing,
 * the wake-up relay's lock-out. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "cwmp_proxy/balancer.h"
#include "cwmp_proxy/cookie.h"
#include "cwmp_proxy/hdr.h"
#include "cwmp_proxy/route.h"
#include "cwmp_proxy/sessions.h"

static backend_spec_t spec(const char *url, const char *host, uint16_t port, unsigned w)
{
    return (backend_spec_t){ .url = url, .host = host, .port = port, .weight = w };
}

static void two_backends(balancer_t *b, unsigned w1, unsigned w2)
{
    balancer_opts_t o = { .rise = 2, .fall = 3, .passive_fall = 1 };
    balancer_init(b, &o);
    backend_spec_t s[] = { spec("http://a:1/", "a", 1, w1), spec("http://b:2/", "b", 2, w2) };
    assert_int_equal(balancer_apply(b, s, 2, NULL, NULL), 0);
}

static void test_round_robin(void **state)
{
    balancer_t b;
    two_backends(&b, 1, 1);
    char seq[9] = { 0 };
    for (int i = 0; i < 8; i++)
        seq[i] = balancer_pick(&b)->host[0];
    assert_string_equal(seq, "abababab");
    balancer_free(&b);

    two_backends(&b, 3, 1);
    for (int i = 0; i < 8; i++)
        seq[i] = balancer_pick(&b)->host[0];
    /* smooth: never three a's in a row within a cycle of four */
    assert_string_equal(seq, "aabaaaba");
    int na = 0;
    for (int i = 0; i < 400; i++)
        na += balancer_pick(&b)->host[0] == 'a';
    assert_int_equal(na, 300);
    assert_string_equal(balancer_find(&b, 1)->name, "a:1");
    balancer_free(&b);
}

static void test_health_rise_fall(void **state)
{
    balancer_t b;
    two_backends(&b, 1, 1);
    backend_t *a = balancer_find(&b, 1);
    assert_true(a->up);
    assert_false(balancer_check_result(&b, a, false, "timeout", 1));
    assert_false(balancer_check_result(&b, a, false, "timeout", 2));
    assert_false(balancer_check_result(&b, a, true, NULL, 3)); /* resets the run */
    assert_false(balancer_check_result(&b, a, false, "timeout", 4));
    assert_false(balancer_check_result(&b, a, false, "timeout", 5));
    assert_true(balancer_check_result(&b, a, false, "timeout", 6));
    assert_false(a->up);
    assert_string_equal(a->reason, "timeout");
    assert_int_equal(balancer_count_up(&b), 1);
    for (int i = 0; i < 4; i++)
        assert_string_equal(balancer_pick(&b)->host, "b");
    assert_false(balancer_check_result(&b, a, true, NULL, 7));
    assert_true(balancer_check_result(&b, a, true, NULL, 8));
    assert_true(a->up);
    /* passive: one connect failure takes it down at once */
    assert_true(balancer_connect_result(&b, a, false, "connection refused", 9));
    assert_false(a->up);
    assert_int_equal(a->connect_failures, 1);
    backend_t *bb = balancer_find(&b, 2);
    assert_true(balancer_connect_result(&b, bb, false, "refused", 10));
    assert_null(balancer_pick(&b));
    balancer_free(&b);
}

static void test_passive_threshold(void **state)
{
    balancer_t b;
    balancer_opts_t o = { .passive_fall = 3 };
    balancer_init(&b, &o);
    backend_spec_t s = spec("http://a:1/", "a", 1, 1);
    balancer_apply(&b, &s, 1, NULL, NULL);
    backend_t *a = balancer_find(&b, 1);
    assert_false(balancer_connect_result(&b, a, false, "x", 1));
    assert_false(balancer_connect_result(&b, a, false, "x", 1));
    assert_false(balancer_connect_result(&b, a, true, NULL, 1));
    assert_false(balancer_connect_result(&b, a, false, "x", 1));
    assert_false(balancer_connect_result(&b, a, false, "x", 1));
    assert_true(balancer_connect_result(&b, a, false, "x", 1));
    balancer_free(&b);
}

typedef struct changes {
    char log[256];
} changes_t;

static void on_change(balancer_t *b, backend_t *be, const char *what, void *ud)
{
    changes_t *c = ud;
    size_t n = strlen(c->log);
    snprintf(c->log + n, sizeof c->log - n, "%s:%s ", be->host, what);
}

static void test_reload(void **state)
{
    balancer_t b;
    two_backends(&b, 1, 1);
    changes_t ch = { "" };
    b.on_change = on_change;
    b.ud = &ch;
    backend_t *a = balancer_find(&b, 1), *bb = balancer_find(&b, 2);
    balancer_ref(a); /* a connection pinned to a */
    a->sessions_total = 5;
    balancer_check_result(&b, bb, false, "x", 1);
    balancer_check_result(&b, bb, false, "x", 1);
    balancer_check_result(&b, bb, false, "x", 1);
    assert_false(bb->up);
    /* New list: b stays (with its state), a goes, c comes (weight 2). */
    backend_spec_t s[] = { spec("http://b:2/", "b", 2, 1), spec("http://c:3/", "c", 3, 2),
                           spec("http://c:3/", "c", 3, 2) };
    size_t added, retired;
    assert_int_equal(balancer_apply(&b, s, 3, &added, &retired), 0);
    assert_int_equal(added, 1);
    assert_int_equal(retired, 1);
    assert_string_equal(ch.log, "b:down a:retired c:added ");
    assert_ptr_equal(balancer_find(&b, 2), bb);
    assert_false(bb->up);
    assert_true(a->retired);
    assert_ptr_equal(balancer_find(&b, 1), a); /* still held */
    assert_int_equal(a->sessions_total, 5);
    for (int i = 0; i < 4; i++)
        assert_string_equal(balancer_pick(&b)->host, "c"); /* a retired, b down */
    backend_t *live[4];
    assert_int_equal(balancer_live(&b, live, 4), 2);
    balancer_unref(&b, a);
    assert_null(balancer_find(&b, 1));
    assert_string_equal(ch.log, "b:down a:retired c:added a:freed ");
    /* Re-adding a's URL makes a fresh backend with a new id. */
    backend_spec_t s2[] = { spec("http://a:1/", "a", 1, 1) };
    assert_int_equal(balancer_apply(&b, s2, 1, &added, &retired), 0);
    assert_int_equal(added, 1);
    assert_int_equal(retired, 2);
    assert_int_equal(balancer_pick(&b)->id, 4);
    balancer_free(&b);
}

static void test_cookie(void **state)
{
    char v[64];
    assert_int_equal(cookie_get("a=1; OPLB=abc;b=2", "OPLB", v, sizeof v), 0);
    assert_string_equal(v, "abc");
    assert_int_equal(cookie_get("XOPLB=zz; OPLB=\"q\"", "OPLB", v, sizeof v), 0);
    assert_string_equal(v, "q");
    assert_int_equal(cookie_get("a=1", "OPLB", v, sizeof v), -ENOENT);
    assert_int_equal(cookie_get(NULL, "OPLB", v, sizeof v), -ENOENT);
    assert_int_equal(cookie_get("OPLB=0123456789", "OPLB", v, 5), -ENAMETOOLONG);

    buf_t b = BUF_INIT(256);
    assert_int_equal(cookie_strip("a=1; OPLB=abc;  b=2 ", "OPLB", &b), 0);
    assert_string_equal(b.data, "a=1; b=2");
    buf_reset(&b);
    assert_int_equal(cookie_strip("OPLB=abc", "OPLB", &b), 0);
    assert_int_equal(b.len, 0);
    buf_free(&b);

    size_t pos = 0;
    assert_int_equal(cookie_next_pair("a=1; junk; session=xyz", &pos, v, sizeof v), 1);
    assert_string_equal(v, "a=1");
    assert_int_equal(cookie_next_pair("a=1; junk; session=xyz", &pos, v, sizeof v), 1);
    assert_string_equal(v, "session=xyz");
    assert_int_equal(cookie_next_pair("a=1; junk; session=xyz", &pos, v, sizeof v), 0);

    bool del;
    assert_int_equal(cookie_set_pair("session=xyz; Path=/; HttpOnly", v, sizeof v, &del), 0);
    assert_string_equal(v, "session=xyz");
    assert_false(del);
    assert_int_equal(cookie_set_pair("session=; Max-Age=0", v, sizeof v, &del), 0);
    assert_true(del);
    assert_int_equal(cookie_set_pair("=x", v, sizeof v, &del), -EINVAL);
    assert_int_equal(cookie_set_pair("novalue", v, sizeof v, &del), -EINVAL);
}

static void test_sessions(void **state)
{
    sessions_t s;
    assert_int_equal(sessions_init(&s, 3, 1000), 0);
    session_t *x = sessions_create(&s, 1, 0);
    assert_int_equal(strlen(x->token), SESSION_TOKEN_LEN);
    char tok[SESSION_TOKEN_LEN + 1];
    strcpy(tok, x->token);
    assert_ptr_equal(sessions_find(&s, tok, 500), x);
    assert_int_equal(sessions_set_acs_cookie(&s, x, "sid=1"), 0);
    assert_ptr_equal(sessions_find_cookie(&s, "sid=1", 900), x);
    /* the ACS renews its cookie: the old one no longer maps */
    assert_int_equal(sessions_set_acs_cookie(&s, x, "sid=2"), 0);
    assert_null(sessions_find_cookie(&s, "sid=1", 900));
    /* another session takes over the same ACS cookie */
    session_t *y = sessions_create(&s, 2, 900);
    assert_int_equal(sessions_set_acs_cookie(&s, y, "sid=2"), 0);
    assert_null(x->acs_cookie);
    assert_ptr_equal(sessions_find_cookie(&s, "sid=2", 900), y);
    /* idle expiry: x last used at 900 */
    assert_null(sessions_find(&s, tok, 1900));
    assert_int_equal(s.n, 1);
    /* cap: the least recently used goes */
    session_t *a = sessions_create(&s, 1, 1000);
    char ta[SESSION_TOKEN_LEN + 1];
    strcpy(ta, a->token);
    sessions_create(&s, 1, 1001);
    sessions_find(&s, ta, 1002); /* touch a */
    sessions_create(&s, 1, 1003); /* evicts y (900) */
    assert_int_equal(s.n, 3);
    assert_int_equal(s.evicted, 1);
    assert_null(sessions_find_cookie(&s, "sid=2", 1003));
    assert_non_null(sessions_find(&s, ta, 1004));
    assert_int_equal(sessions_expire(&s, 5000), 3);
    assert_int_equal(s.n, 0);
    sessions_free(&s);
}

static void test_route(void **state)
{
    balancer_t b;
    two_backends(&b, 1, 1);
    sessions_t s;
    sessions_init(&s, 100, 60000);
    route_out_t r;
    /* New session: round-robin, a token to hand out. */
    route_in_t in = { .is_inform = true, .cookie_name = "OPLB", .now_ms = 1 };
    route_request(&b, &s, &in, &r);
    assert_int_equal(r.status, 0);
    assert_true(r.new_session);
    assert_int_equal(r.why, ROUTE_NEW);
    assert_string_equal(r.be->host, "a");
    char tok_a[SESSION_TOKEN_LEN + 1];
    strcpy(tok_a, r.token);
    route_request(&b, &s, &in, &r);
    assert_string_equal(r.be->host, "b");
    /* Same connection: same backend, same token. */
    route_in_t conn = { .bound = balancer_find(&b, 1), .bound_token = tok_a, .cookie_name = "OPLB", .now_ms = 2 };
    route_request(&b, &s, &conn, &r);
    assert_string_equal(r.be->host, "a");
    assert_string_equal(r.token, tok_a);
    assert_int_equal(r.why, ROUTE_CONNECTION);
    /* Reconnect mid-session with the proxy cookie: back to a. */
    char hdr[128];
    snprintf(hdr, sizeof hdr, "foo=bar; OPLB=%s", tok_a);
    route_in_t re = { .cookie_header = hdr, .cookie_name = "OPLB", .now_ms = 3 };
    for (int i = 0; i < 3; i++) {
        route_request(&b, &s, &re, &r);
        assert_int_equal(r.why, ROUTE_COOKIE);
        assert_string_equal(r.be->host, "a");
        assert_false(r.new_session);
    }
    /* ... or with the ACS's cookie only. */
    sessions_set_acs_cookie(&s, sessions_find(&s, tok_a, 3), "JSESSIONID=42");
    route_in_t re2 = { .cookie_header = "JSESSIONID=42", .cookie_name = "OPLB", .now_ms = 4 };
    route_request(&b, &s, &re2, &r);
    assert_int_equal(r.why, ROUTE_ACS_COOKIE);
    assert_string_equal(r.be->host, "a");
    /* A new Inform with an old cookie starts a new session (rotation goes on). */
    route_in_t inf = { .is_inform = true, .cookie_header = hdr, .cookie_name = "OPLB", .now_ms = 5 };
    route_request(&b, &s, &inf, &r);
    assert_int_equal(r.why, ROUTE_NEW);
    assert_string_equal(r.be->host, "a");
    /* ... unless the node answered 401: the Inform comes again, with
     * credentials, and only that node can check its nonce. */
    sessions_find(&s, tok_a, 5)->challenged = true;
    route_request(&b, &s, &inf, &r);
    assert_int_equal(r.why, ROUTE_COOKIE);
    assert_string_equal(r.be->host, "a");
    sessions_find(&s, tok_a, 5)->challenged = false;
    /* The ACS's cookie alone never pins an Inform. */
    route_in_t inf2 = { .is_inform = true, .cookie_header = "JSESSIONID=42", .cookie_name = "OPLB", .now_ms = 5 };
    route_request(&b, &s, &inf2, &r);
    assert_int_equal(r.why, ROUTE_NEW);
    assert_string_equal(r.be->host, "b");
    /* Unknown cookie: a new session. */
    route_in_t unk = { .cookie_header = "OPLB=ffff", .cookie_name = "OPLB", .now_ms = 6 };
    route_request(&b, &s, &unk, &r);
    assert_int_equal(r.why, ROUTE_NEW);
    assert_string_equal(r.be->host, "a");
    /* The session's node goes down: the reconnect fails, never moves. */
    backend_t *a = balancer_find(&b, 1);
    balancer_connect_result(&b, a, false, "refused", 7);
    route_request(&b, &s, &re, &r);
    assert_int_equal(r.status, 502);
    assert_null(r.be);
    assert_non_null(strstr(r.reason, "down"));
    /* New sessions avoid it; when none is up: 503. */
    route_request(&b, &s, &in, &r);
    assert_string_equal(r.be->host, "b");
    balancer_connect_result(&b, balancer_find(&b, 2), false, "refused", 8);
    route_request(&b, &s, &in, &r);
    assert_int_equal(r.status, 503);
    /* The bound connection keeps its (down) node: the forwarder then fails it. */
    route_request(&b, &s, &conn, &r);
    assert_ptr_equal(r.be, a);
    /* Removed by a reload and freed: 502. */
    backend_spec_t sp = spec("http://c:3/", "c", 3, 1);
    balancer_apply(&b, &sp, 1, NULL, NULL);
    route_request(&b, &s, &re, &r);
    assert_int_equal(r.status, 502);
    assert_non_null(strstr(r.reason, "removed"));
    sessions_free(&s);
    balancer_free(&b);
}

static void test_session_tokens(void **state)
{
    /* tokens: distinct, 32 hex digits */
    sessions_t s;
    sessions_init(&s, 10, 1000);
    char a[SESSION_TOKEN_LEN + 1];
    strcpy(a, sessions_create(&s, 1, 0)->token);
    session_t *b = sessions_create(&s, 1, 0);
    assert_int_equal(strlen(a), 32);
    assert_string_not_equal(a, b->token);
    assert_int_equal(strspn(a, "0123456789abcdef"), 32);
    sessions_free(&s);
}

static void test_hdr(void **state)
{
    assert_int_equal(hdr_classify("transfer-encoding"), HDR_HOP);
    assert_int_equal(hdr_classify("TE"), HDR_HOP);
    assert_int_equal(hdr_classify("Te"), HDR_HOP);
    assert_int_equal(hdr_classify("x-forwarded-for"), HDR_FORWARDING);
    assert_int_equal(hdr_classify("Forwarded"), HDR_FORWARDING);
    assert_int_equal(hdr_classify("host"), HDR_HOST);
    assert_int_equal(hdr_classify("Set-Cookie"), HDR_SET_COOKIE);
    assert_int_equal(hdr_classify("Cookie"), HDR_COOKIE);
    assert_int_equal(hdr_classify("content-encoding"), HDR_CONTENT_ENCODING);
    assert_int_equal(hdr_classify("Server"), HDR_SERVER_DATE);
    assert_int_equal(hdr_classify("Content-Type"), HDR_OTHER);
    assert_int_equal(hdr_classify("SOAPAction"), HDR_OTHER);
    assert_int_equal(hdr_classify(""), HDR_OTHER);
    assert_true(hdr_conn_plain(NULL));
    assert_true(hdr_conn_plain("close"));
    assert_true(hdr_conn_plain(" Keep-Alive , close "));
    assert_false(hdr_conn_plain("close, X-Secret"));
    assert_true(hdr_conn_lists("close, X-Secret ,y", "x-secret"));
    assert_true(hdr_conn_lists("close,y", "Y"));
    assert_false(hdr_conn_lists("close, X-Secret2", "X-Secret"));
    assert_false(hdr_conn_lists(NULL, "X"));
    buf_t b = BUF_INIT(64);
    assert_int_equal(hdr_line(&b, "A", "b c"), 0);
    assert_string_equal(b.data, "A: b c\r\n");
    buf_t tiny = BUF_INIT(5);
    assert_int_equal(hdr_line(&tiny, "Name", "value"), -ENOBUFS);
    buf_free(&b);
    buf_free(&tiny);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_robin),
        cmocka_unit_test(test_health_rise_fall),
        cmocka_unit_test(test_passive_threshold),
        cmocka_unit_test(test_reload),
        cmocka_unit_test(test_cookie),
        cmocka_unit_test(test_sessions),
        cmocka_unit_test(test_route),
        cmocka_unit_test(test_session_tokens),
        cmocka_unit_test(test_hdr),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
