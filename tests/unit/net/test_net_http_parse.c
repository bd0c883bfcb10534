/* Unit tests: net/http_parse — edge cases, smuggling, caps, pause/resume. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "net/http_parse.h"

typedef struct rec {
    int heads, completes;
    char body[4096];
    size_t body_len;
    char methods[8][16];
    char targets[8][256];
    int statuses[8];
    bool pause_on_complete;
} rec_t;

static int on_headers(http_parser_t *p, http_msg_t *m)
{
    rec_t *r = http_parser_data(p);
    if (r->heads < 8) {
        snprintf(r->methods[r->heads], 16, "%s", m->method);
        snprintf(r->targets[r->heads], 256, "%s", m->target);
        r->statuses[r->heads] = m->status;
    }
    r->heads++;
    return 0;
}

static int on_body(http_parser_t *p, const char *d, size_t n)
{
    rec_t *r = http_parser_data(p);
    if (r->body_len + n <= sizeof r->body) {
        memcpy(r->body + r->body_len, d, n);
        r->body_len += n;
    }
    return 0;
}

static int on_complete(http_parser_t *p, http_msg_t *m)
{
    rec_t *r = http_parser_data(p);
    r->completes++;
    return r->pause_on_complete ? 1 : 0;
}

static const http_parser_cbs_t cbs = { on_headers, on_body, on_complete };

static int parse_all(const char *text, rec_t *r, bool response, http_parser_t **keep)
{
    http_parser_opts_t o = { .response = response };
    http_parser_t *p = http_parser_new(&o, &cbs, r);
    size_t used;
    int rc = http_parser_feed(p, text, strlen(text), &used);
    if (keep)
        *keep = p;
    else
        http_parser_free(p);
    return rc;
}

static void test_simple_get(void **s)
{
    rec_t r = { 0 };
    http_parser_t *p;
    assert_int_equal(parse_all("GET /a/b?x=1 HTTP/1.1\r\nHost: h\r\nX-Thing:  v  \r\n\r\n", &r, false, &p), 0);
    assert_int_equal(r.completes, 1);
    assert_string_equal(r.methods[0], "GET");
    assert_string_equal(r.targets[0], "/a/b?x=1");
    const http_msg_t *m = http_parser_msg(p);
    assert_string_equal(http_msg_header(m, "x-thing"), "v");
    assert_string_equal(http_msg_header(m, "HOST"), "h");
    assert_null(http_msg_header(m, "nope"));
    assert_true(m->keep_alive);
    http_parser_free(p);
}

static void test_chunked_body_and_trailers(void **s)
{
    rec_t r = { 0 };
    assert_int_equal(parse_all("POST /u HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
                               "5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nTrailer: x\r\n\r\n",
                               &r, false, NULL), 0);
    assert_int_equal(r.completes, 1);
    assert_int_equal(r.body_len, 11);
    assert_memory_equal(r.body, "hello world", 11);
}

static void test_smuggling_rejected(void **s)
{
    rec_t r = { 0 };
    int rc = parse_all("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
                       "0\r\n\r\n", &r, false, NULL);
    assert_int_equal(rc, HTTP_PARSE_ERR_SMUGGLING);
    memset(&r, 0, sizeof r);
    rc = parse_all("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!", &r, false, NULL);
    assert_int_equal(rc, HTTP_PARSE_ERR_SMUGGLING);
    memset(&r, 0, sizeof r);
    rc = parse_all("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n", &r, false, NULL);
    assert_true(rc < 0);
    memset(&r, 0, sizeof r);
    /* bare LF and spaces before colon */
    rc = parse_all("GET / HTTP/1.1\r\nHost : h\r\n\r\n", &r, false, NULL);
    assert_true(rc < 0);
    assert_int_equal(r.completes, 0);
}

static void test_header_cap(void **s)
{
    char big[20000];
    int n = snprintf(big, sizeof big, "GET / HTTP/1.1\r\nHost: h\r\nX-Big: ");
    memset(big + n, 'a', 17000);
    strcpy(big + n + 17000, "\r\n\r\n");
    rec_t r = { 0 };
    assert_int_equal(parse_all(big, &r, false, NULL), HTTP_PARSE_ERR_HEADERS_TOO_BIG);
    /* too many fields */
    char many[8000];
    n = snprintf(many, sizeof many, "GET / HTTP/1.1\r\n");
    for (int i = 0; i < 120; i++)
        n += snprintf(many + n, sizeof many - (size_t)n, "X%d: y\r\n", i);
    snprintf(many + n, sizeof many - (size_t)n, "\r\n");
    memset(&r, 0, sizeof r);
    assert_int_equal(parse_all(many, &r, false, NULL), HTTP_PARSE_ERR_HEADERS_TOO_BIG);
}

static void test_uri_cap(void **s)
{
    char big[12000];
    int n = snprintf(big, sizeof big, "GET /");
    memset(big + n, 'a', 9000);
    strcpy(big + n + 9000, " HTTP/1.1\r\n\r\n");
    rec_t r = { 0 };
    assert_int_equal(parse_all(big, &r, false, NULL), HTTP_PARSE_ERR_URI_TOO_LONG);
}

static void test_byte_by_byte(void **s)
{
    const char *req = "POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabcGET /y HTTP/1.0\r\n\r\n";
    rec_t r = { 0 };
    http_parser_t *p = http_parser_new(NULL, &cbs, &r);
    for (size_t i = 0; req[i]; i++) {
        size_t used;
        assert_int_equal(http_parser_feed(p, req + i, 1, &used), 0);
        assert_int_equal(used, 1);
    }
    assert_int_equal(r.completes, 2);
    assert_string_equal(r.targets[1], "/y");
    assert_memory_equal(r.body, "abc", 3);
    assert_false(http_parser_msg(p)->keep_alive); /* HTTP/1.0 without keep-alive */
    http_parser_free(p);
}

static void test_pause_between_pipelined(void **s)
{
    const char *req = "GET /1 HTTP/1.1\r\nHost: h\r\n\r\nGET /2 HTTP/1.1\r\nHost: h\r\n\r\n";
    rec_t r = { .pause_on_complete = true };
    http_parser_t *p = http_parser_new(NULL, &cbs, &r);
    size_t used;
    assert_int_equal(http_parser_feed(p, req, strlen(req), &used), HTTP_PARSE_PAUSED);
    assert_int_equal(r.completes, 1);
    assert_int_equal(used, strlen("GET /1 HTTP/1.1\r\nHost: h\r\n\r\n"));
    http_parser_resume(p);
    size_t used2;
    assert_int_equal(http_parser_feed(p, req + used, strlen(req) - used, &used2), HTTP_PARSE_PAUSED);
    assert_int_equal(r.completes, 2);
    assert_string_equal(r.targets[1], "/2");
    http_parser_free(p);
}

static void test_responses(void **s)
{
    rec_t r = { 0 };
    http_parser_t *p;
    assert_int_equal(parse_all("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
                               &r, true, &p), 0);
    assert_int_equal(r.completes, 2);
    assert_int_equal(r.statuses[0], 100);
    assert_int_equal(r.statuses[1], 200);
    assert_string_equal(http_parser_msg(p)->reason, "OK");
    assert_memory_equal(r.body, "ok", 2);
    http_parser_free(p);

    /* a body delimited by the end of the connection */
    memset(&r, 0, sizeof r);
    http_parser_opts_t o = { .response = true };
    p = http_parser_new(&o, &cbs, &r);
    size_t used;
    const char *resp = "HTTP/1.0 200 OK\r\n\r\nuntil close";
    assert_int_equal(http_parser_feed(p, resp, strlen(resp), &used), 0);
    assert_int_equal(r.completes, 0);
    assert_int_equal(http_parser_finish(p), 0);
    assert_int_equal(r.completes, 1);
    assert_int_equal(r.body_len, 11);
    http_parser_free(p);

    /* HEAD: no body even with a length */
    memset(&r, 0, sizeof r);
    p = http_parser_new(&o, &cbs, &r);
    http_parser_expect_no_body(p);
    resp = "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n";
    assert_int_equal(http_parser_feed(p, resp, strlen(resp), &used), 0);
    assert_int_equal(r.completes, 2);
    http_parser_free(p);

    /* cut short */
    memset(&r, 0, sizeof r);
    p = http_parser_new(&o, &cbs, &r);
    resp = "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort";
    assert_int_equal(http_parser_feed(p, resp, strlen(resp), &used), 0);
    assert_true(http_parser_finish(p) < 0);
    http_parser_free(p);
}

static void test_token_lists(void **s)
{
    rec_t r = { 0 };
    http_parser_t *p;
    assert_int_equal(parse_all("GET / HTTP/1.1\r\nConnection: keep-alive, Upgrade\r\nUpgrade: websocket\r\n\r\n",
                               &r, false, &p), 0);
    const http_msg_t *m = http_parser_msg(p);
    assert_true(http_msg_header_has_token(m, "connection", "upgrade"));
    assert_true(http_msg_header_has_token(m, "Connection", "keep-alive"));
    assert_false(http_msg_header_has_token(m, "Connection", "close"));
    assert_true(http_parser_upgraded(p) || m->upgrade);
    http_parser_free(p);
}

/* Feed text in two pieces cut at `cut` (0: in one piece; SIZE_MAX: byte by
 * byte); with a response parser when `resp`, refusing folds when `refuse`.
 * Returns the first rc that is not 0. */
static int parse_cut(const char *text, size_t cut, bool resp, bool refuse, rec_t *r, http_parser_t **keep)
{
    http_parser_opts_t o = { .response = resp, .refuse_fold = refuse };
    http_parser_t *p = http_parser_new(&o, &cbs, r);
    size_t len = strlen(text), used;
    int rc = 0;
    if (cut == SIZE_MAX) {
        for (size_t i = 0; i < len && rc == 0; i++)
            rc = http_parser_feed(p, text + i, 1, &used);
    } else if (cut && cut < len) {
        rc = http_parser_feed(p, text, cut, &used);
        if (rc == 0)
            rc = http_parser_feed(p, text + cut, len - cut, &used);
    } else {
        rc = http_parser_feed(p, text, len, &used);
    }
    if (keep)
        *keep = p;
    else
        http_parser_free(p);
    return rc;
}

/* RFC 9112 5.2: a server rejects obs-fold with 400 (or replaces it; we
 * reject), in every header, wherever the bytes happen to be cut. */
static void test_obs_fold_refused_in_requests(void **s)
{
    static const char *folded[] = {
        "GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n b\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: \r\n\tchunked\r\n\r\n0\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: h\r\nContent-Length:\r\n 3\r\n\r\nabc",
        "GET / HTTP/1.1\r\nHost: h\r\n  x\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n \r\n\r\n",
        "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nT: a\r\n b\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof folded / sizeof folded[0]; i++) {
        for (size_t cut = 0; cut <= strlen(folded[i]); cut++) {
            rec_t r = { 0 };
            http_parser_t *p;
            int rc = parse_cut(folded[i], cut < strlen(folded[i]) ? cut : SIZE_MAX, false, false, &r, &p);
            if (rc != HTTP_PARSE_ERR_SYNTAX)
                fail_msg("request %zu cut at %zu: rc %d (%s)", i, cut, rc, http_parser_reason(p));
            assert_non_null(strstr(http_parser_reason(p), "obs-fold"));
            assert_int_equal(r.completes, 0);
            http_parser_free(p);
        }
    }
    /* what looks close but is no fold passes at every cut */
    static const char *fine = "GET / HTTP/1.1\r\nHost: h\r\nX:   a b\t c  \r\nY:\r\nZ: \t \r\n\r\n";
    for (size_t cut = 0; cut <= strlen(fine); cut++) {
        rec_t r = { 0 };
        http_parser_t *p;
        int frc = parse_cut(fine, cut < strlen(fine) ? cut : SIZE_MAX, false, false, &r, &p);
        if (frc != 0)
            fail_msg("fine cut at %zu: rc %d (%s)", cut, frc, http_parser_reason(p));
        assert_int_equal(r.completes, 1);
        assert_string_equal(http_msg_header(http_parser_msg(p), "X"), "a b\t c");
        assert_string_equal(http_msg_header(http_parser_msg(p), "Y"), "");
        assert_string_equal(http_msg_header(http_parser_msg(p), "Z"), "");
        http_parser_free(p);
    }
}

/* A user agent replaces obs-fold in a response with SP before it looks at
 * the value; a proxy may refuse the message instead (refuse_fold). */
static void test_obs_fold_in_responses(void **s)
{
    static const char *resp = "HTTP/1.1 200 OK\r\nX: a\r\n \t b\r\nY:\r\n c\r\n"
                              "Transfer-Encoding:\r\n chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n";
    for (size_t i = 0; i <= strlen(resp); i++) {
        size_t cut = i < strlen(resp) ? i : SIZE_MAX;
        rec_t r = { 0 };
        http_parser_t *p;
        assert_int_equal(parse_cut(resp, cut, true, false, &r, &p), 0);
        assert_int_equal(r.completes, 1);
        const http_msg_t *m = http_parser_msg(p);
        assert_string_equal(http_msg_header(m, "X"), "a b");
        assert_string_equal(http_msg_header(m, "Y"), "c");
        assert_string_equal(http_msg_header(m, "Transfer-Encoding"), "chunked");
        assert_true(m->chunked);
        assert_int_equal(r.body_len, 2);
        http_parser_free(p);

        memset(&r, 0, sizeof r);
        assert_int_equal(parse_cut(resp, cut, true, true, &r, &p), HTTP_PARSE_ERR_SYNTAX);
        assert_int_equal(r.completes, 0);
        http_parser_free(p);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_simple_get),       cmocka_unit_test(test_chunked_body_and_trailers),
        cmocka_unit_test(test_smuggling_rejected), cmocka_unit_test(test_header_cap),
        cmocka_unit_test(test_uri_cap),          cmocka_unit_test(test_byte_by_byte),
        cmocka_unit_test(test_pause_between_pipelined), cmocka_unit_test(test_responses),
        cmocka_unit_test(test_token_lists),
        cmocka_unit_test(test_obs_fold_refused_in_requests),
        cmocka_unit_test(test_obs_fold_in_responses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
