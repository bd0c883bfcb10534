/* Unit tests: net/http_auth (RFC 7616 Digest, RFC 7617 Basic), both ends. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "net/http_auth.h"

/* ---- fixtures ------------------------------------------------------------ */

static const char *const users[][2] = {
    { "Mufasa", "Circle of Life" },
    { "admin", "pa:ss:word" },
    { "J\xc3\xa4s\xc3\xb8n Doe", "Secret, or not?" },
    { "quote\"user", "x" },
};

static int lookup(const char *user, char *out, size_t outlen, void *ud)
{
    int *calls = ud;
    if (calls)
        (*calls)++;
    for (size_t i = 0; i < sizeof users / sizeof users[0]; i++)
        if (!strcmp(user, users[i][0])) {
            snprintf(out, outlen, "%s", users[i][1]);
            return 0;
        }
    return -ENOENT;
}

static int64_t fake_ms = 1000000;
static int64_t fake_now(void *ud) { return fake_ms; }

static http_auth_t *mk(bool basic, bool digest, bool md5_only, size_t max_nonces)
{
    http_auth_opts_t o = { .realm = "http-auth@example.org", .basic = basic, .digest = digest,
                           .digest_md5_only = md5_only, .nonce_ttl_ms = 60000,
                           .max_nonces = max_nonces };
    http_auth_t *a = http_auth_new(&o);
    assert_non_null(a);
    http_auth_set_clock(a, fake_now, NULL);
    return a;
}

/* The WWW-Authenticate values in a header block, in order (max 4). */
static size_t challenges(const buf_t *h, char vals[4][512])
{
    size_t n = 0;
    const char *p = h->data, *pre = "WWW-Authenticate: ";
    while (p && *p && n < 4) {
        const char *eol = strstr(p, "\r\n");
        assert_non_null(eol);
        assert_true(!strncmp(p, pre, strlen(pre)));
        p += strlen(pre);
        snprintf(vals[n++], 512, "%.*s", (int)(eol - p), p);
        p = eol + 2;
    }
    return n;
}

/* A fresh challenge from a, answered by the client side for user/pass. */
static void answer(http_auth_t *a, const char *uri, const char *user, const char *pass,
                   uint32_t nc, buf_t *out)
{
    buf_t h = BUF_INIT(4096);
    char v[4][512];
    assert_int_equal(http_auth_challenge(a, false, &h), 0);
    size_t n = challenges(&h, v);
    const char *vp[4] = { v[0], v[1], v[2], v[3] };
    int i = http_auth_pick_challenge(vp, n, false);
    assert_true(i >= 0);
    buf_reset(out);
    assert_int_equal(http_auth_client_digest(v[i], "GET", uri, user, pass, nc, NULL, out), 0);
    buf_free(&h);
}

/* The nonce="..." of an Authorization value, into out. */
static void nonce_of(const char *auth, char *out, size_t n)
{
    const char *p = strstr(auth, "nonce=\"");
    assert_non_null(p);
    p += 7;
    snprintf(out, n, "%.*s", (int)(strchr(p, '"') - p), p);
}

static http_auth_result_t check(http_auth_t *a, const char *uri, const char *hdr,
                                const char **why)
{
    char user[64];
    return http_auth_check(a, "GET", uri, hdr, lookup, NULL, user, sizeof user, why);
}

/* ---- RFC 7616 section 3.9.1 ---------------------------------------------- */

#define RFC_NONCE "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v"
#define RFC_CNONCE "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ"
#define RFC_OPAQUE "FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"
#define RFC_MD5 "8ca523f5e9506fed4657c9700eebdbec"
#define RFC_SHA256 "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"

static void test_rfc7616_compute(void **state)
{
    char out[65];
    assert_int_equal(http_digest_compute(HTTP_DIGEST_MD5, "Mufasa", "http-auth@example.org",
                                         "Circle of Life", "GET", "/dir/index.html", RFC_NONCE,
                                         "00000001", RFC_CNONCE, "auth", out, sizeof out), 0);
    assert_string_equal(out, RFC_MD5);
    assert_int_equal(http_digest_compute(HTTP_DIGEST_SHA256, "Mufasa", "http-auth@example.org",
                                         "Circle of Life", "GET", "/dir/index.html", RFC_NONCE,
                                         "00000001", RFC_CNONCE, "auth", out, sizeof out), 0);
    assert_string_equal(out, RFC_SHA256);
    /* RFC 2617 section 3.5 (MD5, qop=auth). */
    assert_int_equal(http_digest_compute(HTTP_DIGEST_MD5, "Mufasa", "testrealm@host.com",
                                         "Circle Of Life", "GET", "/dir/index.html",
                                         "dcd98b7102dd2f0e8b11d0f600bfb0c093", "00000001",
                                         "0a4f113b", "auth", out, sizeof out), 0);
    assert_string_equal(out, "6629fae49393a05397450978507c4ef1");
    /* Output too small for SHA-256. */
    assert_int_equal(http_digest_compute(HTTP_DIGEST_SHA256, "u", "r", "p", "GET", "/", "n",
                                         "00000001", "c", "auth", out, 33), -ENOBUFS);
}

static void test_rfc7616_client(void **state)
{
    /* Both of the RFC's challenges in one header value: SHA-256 is chosen. */
    const char *chal =
        "Digest realm=\"http-auth@example.org\", qop=\"auth, auth-int\", algorithm=MD5, "
        "nonce=\"" RFC_NONCE "\", opaque=\"" RFC_OPAQUE "\", "
        "Digest realm=\"http-auth@example.org\", qop=\"auth, auth-int\", algorithm=SHA-256, "
        "nonce=\"" RFC_NONCE "\", opaque=\"" RFC_OPAQUE "\"";
    buf_t out = BUF_INIT(4096);
    assert_int_equal(http_auth_client_digest(chal, "GET", "/dir/index.html", "Mufasa",
                                             "Circle of Life", 1, RFC_CNONCE, &out), 0);
    assert_string_equal(out.data,
        "Digest username=\"Mufasa\", realm=\"http-auth@example.org\", uri=\"/dir/index.html\", "
        "algorithm=SHA-256, nonce=\"" RFC_NONCE "\", nc=00000001, cnonce=\"" RFC_CNONCE "\", "
        "qop=auth, response=\"" RFC_SHA256 "\", opaque=\"" RFC_OPAQUE "\"");
    /* The MD5 challenge alone. */
    buf_reset(&out);
    const char *md5 = "Digest realm=\"http-auth@example.org\", qop=\"auth, auth-int\", "
                      "algorithm=MD5, nonce=\"" RFC_NONCE "\", opaque=\"" RFC_OPAQUE "\"";
    assert_int_equal(http_auth_client_digest(md5, "GET", "/dir/index.html", "Mufasa",
                                             "Circle of Life", 1, RFC_CNONCE, &out), 0);
    assert_non_null(strstr(out.data, "response=\"" RFC_MD5 "\""));
    assert_non_null(strstr(out.data, "algorithm=MD5,"));
    buf_free(&out);
}

static void test_client_rfc2069(void **state)
{
    /* No qop: the RFC 2069 form, without nc/cnonce. Expected value computed
     * independently (Python hashlib) from RFC 2069's example inputs. */
    const char *chal = "Digest realm=\"testrealm@host.com\", "
                       "nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", "
                       "opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"";
    buf_t out = BUF_INIT(4096);
    assert_int_equal(http_auth_client_digest(chal, "GET", "/dir/index.html", "Mufasa",
                                             "CircleOfLife", 1, NULL, &out), 0);
    assert_string_equal(out.data,
        "Digest username=\"Mufasa\", realm=\"testrealm@host.com\", uri=\"/dir/index.html\", "
        "nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", "
        "response=\"1949323746fe6a43ef61f9606e7febea\", "
        "opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"");
    buf_free(&out);
}

static void test_client_errors(void **state)
{
    buf_t out = BUF_INIT(4096);
    const char *intonly = "Digest realm=\"r\", qop=\"auth-int\", nonce=\"n\"";
    assert_int_equal(http_auth_client_digest(intonly, "GET", "/", "u", "p", 1, NULL, &out),
                     -ENOTSUP);
    assert_int_equal(http_auth_client_digest("Digest realm=\"r\", nonce=\"n\", algorithm=MD5-sess",
                                             "GET", "/", "u", "p", 1, NULL, &out), -ENOTSUP);
    assert_int_equal(http_auth_client_digest("Basic realm=\"r\"", "GET", "/", "u", "p", 1, NULL,
                                             &out), -EINVAL);
    assert_int_equal(http_auth_client_digest("Digest realm=\"r", "GET", "/", "u", "p", 1, NULL,
                                             &out), -EINVAL);
    assert_int_equal(http_auth_client_digest("Digest realm=\"r\"", "GET", "/", "u", "p", 1, NULL,
                                             &out), -EINVAL); /* no nonce */
    /* Nothing of ours may smuggle a header line. */
    const char *ok = "Digest realm=\"r\", nonce=\"n\", qop=auth";
    assert_int_equal(http_auth_client_digest(ok, "GET", "/a\r\nX: y", "u", "p", 1, NULL, &out),
                     -EINVAL);
    assert_int_equal(http_auth_client_digest(ok, "GET", "/", "u\n", "p", 1, NULL, &out), -EINVAL);
    assert_int_equal(http_auth_client_digest(ok, "G T", "/", "u", "p", 1, NULL, &out), -EINVAL);
    assert_int_equal(out.len, 0);
    /* Quotes in the user name are escaped. */
    assert_int_equal(http_auth_client_digest(ok, "GET", "/", "a\"b\\c", "p", 7, "cn", &out), 0);
    const char *pre = "Digest username=\"a\\\"b\\\\c\", realm=\"r\"";
    assert_true(!strncmp(out.data, pre, strlen(pre)));
    assert_non_null(strstr(out.data, "nc=00000007, cnonce=\"cn\", qop=auth"));
    buf_free(&out);
}

static void test_pick_challenge(void **state)
{
    const char *v[] = { "Basic realm=\"x\"", "Digest realm=\"x\", nonce=\"y\", algorithm=MD5",
                        "Digest realm=\"x\", nonce=\"y\", algorithm=SHA-256, qop=\"auth\"",
                        "Digest realm=\"x\", nonce=\"y\", algorithm=SHA-512-256" };
    assert_int_equal(http_auth_pick_challenge(v, 4, true), 2);
    assert_int_equal(http_auth_pick_challenge(v, 2, true), 1);
    assert_int_equal(http_auth_pick_challenge(v, 1, true), 0);
    assert_int_equal(http_auth_pick_challenge(v, 1, false), -ENOENT);
    assert_int_equal(http_auth_pick_challenge(v + 3, 1, true), -ENOENT);
    /* RFC 7235 section 4.1's example: two challenges in one value. */
    const char *multi[] = { "Newauth realm=\"apps\", type=1, title=\"Login to \\\"apps\\\"\", "
                            "Basic realm=\"simple\"" };
    assert_int_equal(http_auth_pick_challenge(multi, 1, true), 0);
    assert_int_equal(http_auth_pick_challenge(multi, 1, false), -ENOENT);
    const char *junk[] = { NULL, "", ",,,", "Digest", "\"x\"", "Digest realm=\"x\", realm=\"y\", "
                           "nonce=\"n\"" };
    assert_int_equal(http_auth_pick_challenge(junk, 6, true), -ENOENT);
}

/* ---- server side --------------------------------------------------------- */

static void test_challenge_format(void **state)
{
    http_auth_t *a = mk(true, true, false, 0);
    buf_t h = BUF_INIT(4096);
    char v[4][512];
    assert_int_equal(http_auth_challenge(a, true, &h), 0);
    assert_int_equal(challenges(&h, v), 3);
    const char *pre = "Digest realm=\"http-auth@example.org\", qop=\"auth\", "
                      "algorithm=SHA-256, nonce=\"";
    assert_true(!strncmp(v[0], pre, strlen(pre)));
    assert_non_null(strstr(v[0], "\", stale=true"));
    assert_non_null(strstr(v[1], "algorithm=MD5"));
    assert_string_equal(v[2], "Basic realm=\"http-auth@example.org\", charset=\"UTF-8\"");
    http_auth_free(a);

    a = mk(false, true, true, 0);
    buf_reset(&h);
    assert_int_equal(http_auth_challenge(a, false, &h), 0);
    assert_int_equal(challenges(&h, v), 1);
    assert_non_null(strstr(v[0], "algorithm=MD5"));
    assert_null(strstr(v[0], "stale"));
    http_auth_free(a);

    /* A full buffer leaves it as it was. */
    buf_t small = BUF_INIT(100);
    a = mk(true, true, false, 0);
    assert_int_equal(http_auth_challenge(a, false, &small), -ENOBUFS);
    assert_int_equal(small.len, 0);
    http_auth_free(a);
    buf_free(&small);
    buf_free(&h);

    http_auth_opts_t bad = { .realm = "a\r\nb", .digest = true };
    assert_null(http_auth_new(&bad));
    bad.realm = "ok";
    bad.digest = false;
    assert_null(http_auth_new(&bad));
}

static void test_roundtrip(void **state)
{
    for (int md5only = 0; md5only < 2; md5only++) {
        http_auth_t *a = mk(false, true, md5only, 0);
        buf_t out = BUF_INIT(4096);
        char user[64];
        const char *why = NULL;
        int calls = 0;
        answer(a, "/cwmp?x=1", "Mufasa", "Circle of Life", 1, &out);
        assert_non_null(strstr(out.data, md5only ? "algorithm=MD5" : "algorithm=SHA-256"));
        assert_int_equal(http_auth_check(a, "GET", "/cwmp?x=1", out.data, lookup, &calls, user,
                                         sizeof user, &why), HTTP_AUTH_OK);
        assert_string_equal(user, "Mufasa");
        assert_int_equal(calls, 1);
        /* Same client, next request on the same nonce with nc=2. */
        char nonce[128], hdr[1024];
        nonce_of(out.data, nonce, sizeof nonce);
        char chal[256];
        snprintf(chal, sizeof chal, "Digest realm=\"http-auth@example.org\", qop=\"auth\", "
                 "nonce=\"%s\", algorithm=%s", nonce, md5only ? "MD5" : "SHA-256");
        buf_reset(&out);
        assert_int_equal(http_auth_client_digest(chal, "POST", "/cwmp", "Mufasa",
                                                 "Circle of Life", 2, NULL, &out), 0);
        snprintf(hdr, sizeof hdr, "%s", out.data);
        assert_int_equal(http_auth_check(a, "POST", "/cwmp", hdr, lookup, NULL, NULL, 0, &why),
                         HTTP_AUTH_OK);
        http_auth_free(a);
        buf_free(&out);
    }
}

static void test_wrong_password_and_unknown_user(void **state)
{
    http_auth_t *a = mk(true, true, false, 0);
    buf_t out = BUF_INIT(4096);
    const char *why = NULL;
    answer(a, "/", "Mufasa", "circle of life", 1, &out);
    assert_int_equal(check(a, "/", out.data, &why), HTTP_AUTH_FAILED);
    assert_string_equal(why, "wrong password");
    answer(a, "/", "Scar", "Circle of Life", 1, &out);
    assert_int_equal(check(a, "/", out.data, &why), HTTP_AUTH_FAILED);
    assert_string_equal(why, "unknown user");
    /* Unknown user with the empty password the failure path hashes with. */
    answer(a, "/", "Scar", "", 1, &out);
    assert_int_equal(check(a, "/", out.data, &why), HTTP_AUTH_FAILED);
    http_auth_free(a);
    buf_free(&out);
}

static void test_replayed_nc(void **state)
{
    http_auth_t *a = mk(false, true, false, 0);
    buf_t out = BUF_INIT(4096);
    const char *why = NULL;
    answer(a, "/", "Mufasa", "Circle of Life", 1, &out);
    char first[1024];
    snprintf(first, sizeof first, "%s", out.data);
    assert_int_equal(check(a, "/", first, &why), HTTP_AUTH_OK);
    assert_int_equal(check(a, "/", first, &why), HTTP_AUTH_FAILED);
    assert_string_equal(why, "nonce count replayed");

    char nonce[128], chal[256];
    nonce_of(first, nonce, sizeof nonce);
    snprintf(chal, sizeof chal, "Digest realm=\"http-auth@example.org\", qop=auth, nonce=\"%s\"",
             nonce);
    const uint32_t seq[] = { 3, 2, 3, 9 };
    const http_auth_result_t want[] = { HTTP_AUTH_OK, HTTP_AUTH_FAILED, HTTP_AUTH_FAILED,
                                        HTTP_AUTH_OK };
    for (size_t i = 0; i < 4; i++) {
        buf_reset(&out);
        assert_int_equal(http_auth_client_digest(chal, "GET", "/", "Mufasa", "Circle of Life",
                                                 seq[i], NULL, &out), 0);
        assert_int_equal(check(a, "/", out.data, &why), want[i]);
    }
    http_auth_free(a);
    buf_free(&out);
}

static void test_stale_nonce(void **state)
{
    http_auth_t *a = mk(false, true, false, 0);
    buf_t out = BUF_INIT(4096);
    const char *why = NULL;
    fake_ms = 5000000;
    answer(a, "/", "Mufasa", "Circle of Life", 1, &out);
    fake_ms += 60000; /* exactly the TTL: still good */
    char hdr[1024];
    snprintf(hdr, sizeof hdr, "%s", out.data);
    assert_int_equal(check(a, "/", hdr, &why), HTTP_AUTH_OK);
    answer(a, "/", "Mufasa", "Circle of Life", 1, &out);
    fake_ms += 60001;
    assert_int_equal(check(a, "/", out.data, &why), HTTP_AUTH_STALE);
    assert_string_equal(why, "nonce expired");
    /* Stale only for the right password: otherwise it is a failure. */
    answer(a, "/", "Mufasa", "wrong", 1, &out);
    fake_ms += 60001;
    assert_int_equal(check(a, "/", out.data, &why), HTTP_AUTH_FAILED);
    http_auth_free(a);
    buf_free(&out);
}

static void test_eviction_is_stale(void **state)
{
    http_auth_t *a = mk(false, true, false, 2);
    buf_t out = BUF_INIT(4096);
    const char *why = NULL;
    char h[5][1024], nonce[128], chal[256];
    for (int i = 0; i < 4; i++) {
        answer(a, "/", "Mufasa", "Circle of Life", 1, &out);
        snprintf(h[i], sizeof h[i], "%s", out.data);
    }
    /* Nonces 0 and 1 fill the table, 3 evicts 0 (2 is issued but unused). */
    assert_int_equal(check(a, "/", h[0], &why), HTTP_AUTH_OK);
    assert_int_equal(check(a, "/", h[1], &why), HTTP_AUTH_OK);
    assert_int_equal(check(a, "/", h[3], &why), HTTP_AUTH_OK);
    /* 0 was forgotten: even a replay of its nc=1 cannot pass, it is stale. */
    assert_int_equal(check(a, "/", h[0], &why), HTTP_AUTH_STALE);
    assert_string_equal(why, "nonce evicted");
    nonce_of(h[0], nonce, sizeof nonce);
    snprintf(chal, sizeof chal, "Digest realm=\"http-auth@example.org\", qop=auth, nonce=\"%s\"",
             nonce);
    buf_reset(&out);
    assert_int_equal(http_auth_client_digest(chal, "GET", "/", "Mufasa", "Circle of Life", 5,
                                             NULL, &out), 0);
    assert_int_equal(check(a, "/", out.data, &why), HTTP_AUTH_STALE);
    /* 2 was issued after 0 and never used: accepted, and it evicts 1. */
    assert_int_equal(check(a, "/", h[2], &why), HTTP_AUTH_OK);
    snprintf(h[4], sizeof h[4], "%s", h[1]);
    assert_int_equal(check(a, "/", h[4], &why), HTTP_AUTH_STALE);
    http_auth_free(a);
    buf_free(&out);
}

static void test_uri_must_match(void **state)
{
    http_auth_t *a = mk(false, true, false, 0);
    buf_t out = BUF_INIT(4096);
    const char *why = NULL;
    answer(a, "/a", "Mufasa", "Circle of Life", 1, &out);
    assert_int_equal(check(a, "/b", out.data, &why), HTTP_AUTH_FAILED);
    assert_string_equal(why, "uri does not match the request target");
    answer(a, "/a?q=1", "Mufasa", "Circle of Life", 1, &out);
    assert_int_equal(check(a, "/a", out.data, &why), HTTP_AUTH_FAILED);
    /* Absolute form (sent through a proxy) designates the same resource. */
    answer(a, "http://acs.example:7547/a", "Mufasa", "Circle of Life", 1, &out);
    assert_int_equal(check(a, "/a", out.data, &why), HTTP_AUTH_OK);
    http_auth_free(a);
    buf_free(&out);
}

static void test_basic(void **state)
{
    buf_t out = BUF_INIT(256);
    /* RFC 7617 section 2. */
    assert_int_equal(http_auth_client_basic("Aladdin", "open sesame", &out), 0);
    assert_string_equal(out.data, "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
    assert_int_equal(http_auth_client_basic("a:b", "c", &out), -EINVAL);

    http_auth_t *a = mk(true, false, false, 0);
    const char *why = NULL;
    char user[64];
    buf_reset(&out);
    assert_int_equal(http_auth_client_basic("admin", "pa:ss:word", &out), 0);
    assert_int_equal(http_auth_check(a, "GET", "/", out.data, lookup, NULL, user, sizeof user,
                                     &why), HTTP_AUTH_OK);
    assert_string_equal(user, "admin");
    assert_int_equal(check(a, "/", "basic YWRtaW46cGE6c3M6d29yZA==", &why), HTTP_AUTH_OK);
    buf_reset(&out);
    assert_int_equal(http_auth_client_basic("admin", "pa:ss", &out), 0);
    assert_int_equal(check(a, "/", out.data, &why), HTTP_AUTH_FAILED);
    assert_string_equal(why, "wrong password");
    buf_reset(&out);
    assert_int_equal(http_auth_client_basic("nobody", "pa:ss:word", &out), 0);
    assert_int_equal(check(a, "/", out.data, &why), HTTP_AUTH_FAILED);
    assert_string_equal(why, "unknown user");
    /* Digest is not offered here: a challenge, not a failure. */
    assert_int_equal(check(a, "/", "Digest username=\"admin\"", &why), HTTP_AUTH_MISSING);
    const char *bad[] = { "Basic", "Basic !!!", "Basic YWRtaW4=", /* no colon */
                          "Basic OnBhc3M=", /* empty user */
                          "Basic YWQKbWluOng=", /* LF in the user */
                          "Basic realm=\"x\"", "Basic YWRtaW46cGE6c3M6d29yZA== extra" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(check(a, "/", bad[i], &why), HTTP_AUTH_FAILED);
    http_auth_free(a);
    buf_free(&out);
}

/* Digest credentials with a valid nonce, each spoiled in one way. */
static void test_malformed(void **state)
{
    http_auth_t *a = mk(false, true, true, 0);
    buf_t out = BUF_INIT(4096);
    const char *why = NULL;
    answer(a, "/", "Mufasa", "Circle of Life", 1, &out);
    char n[128], resp[65], cn[] = "0a4f113b";
    nonce_of(out.data, n, sizeof n);
    assert_int_equal(http_digest_compute(HTTP_DIGEST_MD5, "Mufasa", "http-auth@example.org",
                                         "Circle of Life", "GET", "/", n, "00000001", cn, "auth",
                                         resp, sizeof resp), 0);
    char tampered[128];
    snprintf(tampered, sizeof tampered, "%s", n);
    tampered[5] = tampered[5] == 'a' ? 'b' : 'a';
    static char big[HTTP_AUTH_HEADER_MAX + 64];
    memset(big, 'a', sizeof big - 1);
    memcpy(big, "Digest x=", 9);
#define FMT(...) snprintf(buf, sizeof buf, __VA_ARGS__)
    char buf[2048];
    struct { http_auth_result_t want; const char *why; } cases[] = {
        { HTTP_AUTH_MISSING, "no credentials" },
        { HTTP_AUTH_MISSING, "scheme not offered" },
        { HTTP_AUTH_FAILED, "malformed credentials" },
    };
    assert_int_equal(check(a, "/", NULL, &why), cases[0].want);
    assert_string_equal(why, cases[0].why);
    assert_int_equal(check(a, "/", "  ", &why), HTTP_AUTH_MISSING);
    assert_int_equal(check(a, "/", "Bearer abc", &why), cases[1].want);
    assert_string_equal(why, cases[1].why);
    assert_int_equal(check(a, "/", big, &why), HTTP_AUTH_FAILED);
    assert_string_equal(why, "credentials too long");

    const char *tmpl[] = {
        /* duplicated parameter */
        "Digest username=\"Mufasa\", username=\"Mufasa\", realm=\"http-auth@example.org\", "
        "uri=\"/\", nonce=\"%s\", nc=00000001, cnonce=\"%s\", qop=auth, response=\"%s\"",
        /* unterminated quoted string */
        "Digest username=\"Mufasa, realm=\"http-auth@example.org\", uri=\"/\", nonce=\"%s\", "
        "nc=00000001, cnonce=\"%s\", qop=auth, response=\"%s\"",
        /* CR LF inside a quoted string */
        "Digest username=\"Muf\r\nasa\", realm=\"http-auth@example.org\", uri=\"/\", "
        "nonce=\"%s\", nc=00000001, cnonce=\"%s\", qop=auth, response=\"%s\"",
        /* missing '=' */
        "Digest username \"Mufasa\", realm=\"http-auth@example.org\", uri=\"/\", nonce=\"%s\", "
        "nc=00000001, cnonce=\"%s\", qop=auth, response=\"%s\"",
        /* two sets of credentials */
        "Digest username=\"Mufasa\", realm=\"http-auth@example.org\", uri=\"/\", nonce=\"%s\", "
        "nc=00000001, cnonce=\"%s\", qop=auth, response=\"%s\", Basic YTpi",
    };
    for (size_t i = 0; i < sizeof tmpl / sizeof tmpl[0]; i++) {
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral" /* test templates above */
        FMT(tmpl[i], n, cn, resp);
#pragma GCC diagnostic pop
        assert_int_equal(check(a, "/", buf, &why), HTTP_AUTH_FAILED);
        assert_string_equal(why, "malformed credentials");
    }
    /* Well-formed lists that Digest refuses, with the reason logged. */
    struct { const char *nonce, *nc, *qop, *alg, *realm, *extra, *why; } sp[] = {
        { tampered, "00000001", "auth", "MD5", NULL, "", "nonce not issued here" },
        { "abc", "00000001", "auth", "MD5", NULL, "", "nonce not issued here" },
        { n, "0000001", "auth", "MD5", NULL, "", "malformed nonce count" },
        { n, "00000000", "auth", "MD5", NULL, "", "malformed nonce count" },
        { n, "0000000g", "auth", "MD5", NULL, "", "malformed nonce count" },
        { n, "00000001", "auth-int", "MD5", NULL, "", "qop=auth with nc and cnonce required" },
        { n, "00000001", NULL, "MD5", NULL, "", "qop=auth with nc and cnonce required" },
        { n, "00000001", "auth", "MD5-sess", NULL, "", "unsupported algorithm" },
        { n, "00000001", "auth", "SHA-256", NULL, "", "algorithm not offered" },
        { n, "00000001", "auth", "MD5", "other", "", "wrong realm" },
        { n, "00000001", "auth", "MD5", NULL, ", userhash=true", "userhash not supported" },
    };
    for (size_t i = 0; i < sizeof sp / sizeof sp[0]; i++) {
        char q[64] = "";
        if (sp[i].qop)
            snprintf(q, sizeof q, ", qop=%s", sp[i].qop);
        FMT("Digest username=\"Mufasa\", realm=\"%s\", uri=\"/\", nonce=\"%s\", nc=%s, "
            "cnonce=\"%s\"%s, algorithm=%s, response=\"%s\"%s",
            sp[i].realm ? sp[i].realm : "http-auth@example.org", sp[i].nonce, sp[i].nc, cn, q,
            sp[i].alg, resp, sp[i].extra);
        assert_int_equal(check(a, "/", buf, &why), HTTP_AUTH_FAILED);
        assert_string_equal(why, sp[i].why);
    }
    /* A nonce from another process (a restart, another node) with the right
     * password: stale, so the client retries at once with ours. */
    assert_int_equal(http_digest_compute(HTTP_DIGEST_MD5, "Mufasa", "http-auth@example.org",
                                         "Circle of Life", "GET", "/", RFC_NONCE, "00000001", cn,
                                         "auth", resp, sizeof resp), 0);
    FMT("Digest username=\"Mufasa\", realm=\"http-auth@example.org\", uri=\"/\", nonce=\"%s\", "
        "nc=00000001, cnonce=\"%s\", qop=auth, response=\"%s\"", RFC_NONCE, cn, resp);
    assert_int_equal(check(a, "/", buf, &why), HTTP_AUTH_STALE);
    assert_string_equal(why, "nonce not issued here");
    buf[strlen(buf) - 3] ^= 1; /* and with a wrong one, a failure */
    assert_int_equal(check(a, "/", buf, &why), HTTP_AUTH_FAILED);
    assert_string_equal(why, "nonce not issued here");
    assert_int_equal(http_digest_compute(HTTP_DIGEST_MD5, "Mufasa", "http-auth@example.org",
                                         "Circle of Life", "GET", "/", n, "00000001", cn, "auth",
                                         resp, sizeof resp), 0);
    /* Missing parameters. */
    const char *miss[] = { "Digest", "Digest ,, ,", "Digest realm=\"http-auth@example.org\"",
                           "Digest abc=" };
    for (size_t i = 0; i < sizeof miss / sizeof miss[0]; i++)
        assert_int_equal(check(a, "/", miss[i], &why), HTTP_AUTH_FAILED);
    /* Too many parameters; a parameter name over the cap. */
    char *p = buf;
    p += sprintf(p, "Digest a0=1");
    for (int i = 1; i < 30; i++)
        p += sprintf(p, ", a%d=1", i);
    assert_int_equal(check(a, "/", buf, &why), HTTP_AUTH_FAILED);
    assert_string_equal(why, "credentials over a limit");
    FMT("Digest %0200d=1", 7);
    assert_int_equal(check(a, "/", buf, &why), HTTP_AUTH_FAILED);

    /* The clean form of the same credentials passes: scheme and names are
     * case-insensitive, tokens may be quoted, whitespace is free. */
    FMT("dIgEsT   USERNAME = \"Mufasa\" ,realm=\"http-auth@example.org\",, uri=\"/\","
        "nonce=\"%s\" , NC=00000001,cnonce=%s,qop=\"auth\",algorithm=\"md5\",response=\"%s\", "
        "opaque=\"whatever\"", n, cn, resp);
    assert_int_equal(check(a, "/", buf, &why), HTTP_AUTH_OK);
#undef FMT
    http_auth_free(a);
    buf_free(&out);
}

/* RFC 7616 section 3.9.2: username* in RFC 8187 encoding. */
static void test_username_star(void **state)
{
    http_auth_t *a = mk(false, true, false, 0);
    buf_t out = BUF_INIT(4096);
    const char *why = NULL;
    char user[64];
    answer(a, "/", "Mufasa", "Circle of Life", 1, &out);
    char n[128], resp[65], hdr[1024];
    nonce_of(out.data, n, sizeof n);
    assert_int_equal(http_digest_compute(HTTP_DIGEST_SHA256, users[2][0], "http-auth@example.org",
                                         users[2][1], "GET", "/doe.json", n, "00000001", "c1",
                                         "auth", resp, sizeof resp), 0);
    snprintf(hdr, sizeof hdr, "Digest username*=UTF-8''J%%C3%%A4s%%C3%%B8n%%20Doe, "
             "realm=\"http-auth@example.org\", uri=\"/doe.json\", algorithm=SHA-256, "
             "nonce=\"%s\", nc=00000001, cnonce=\"c1\", qop=auth, response=\"%s\"", n, resp);
    assert_int_equal(http_auth_check(a, "GET", "/doe.json", hdr, lookup, NULL, user, sizeof user,
                                     &why), HTTP_AUTH_OK);
    assert_string_equal(user, users[2][0]);
    /* Both forms at once, or a NUL smuggled in, are refused. */
    snprintf(hdr, sizeof hdr, "Digest username*=UTF-8''J%%00x, realm=\"http-auth@example.org\", "
             "uri=\"/\", nonce=\"%s\", nc=00000002, cnonce=\"c1\", qop=auth, response=\"%s\"", n,
             resp);
    assert_int_equal(check(a, "/", hdr, &why), HTTP_AUTH_FAILED);
    http_auth_free(a);
    buf_free(&out);
}

/* A realm and a user name that need quoted-pair escapes, end to end. */
static void test_escapes_roundtrip(void **state)
{
    http_auth_opts_t o = { .realm = "my \"realm\" \\ here", .digest = true };
    http_auth_t *a = http_auth_new(&o);
    assert_non_null(a);
    buf_t h = BUF_INIT(4096), out = BUF_INIT(4096);
    char v[4][512], user[64];
    const char *why = NULL;
    assert_int_equal(http_auth_challenge(a, false, &h), 0);
    assert_non_null(strstr(h.data, "realm=\"my \\\"realm\\\" \\\\ here\""));
    assert_int_equal(challenges(&h, v), 2);
    assert_int_equal(http_auth_client_digest(v[0], "GET", "/", users[3][0], users[3][1], 1, NULL,
                                             &out), 0);
    assert_int_equal(http_auth_check(a, "GET", "/", out.data, lookup, NULL, user, sizeof user,
                                     &why), HTTP_AUTH_OK);
    assert_string_equal(user, users[3][0]);
    http_auth_free(a);
    buf_free(&h);
    buf_free(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc7616_compute),
        cmocka_unit_test(test_rfc7616_client),
        cmocka_unit_test(test_client_rfc2069),
        cmocka_unit_test(test_client_errors),
        cmocka_unit_test(test_pick_challenge),
        cmocka_unit_test(test_challenge_format),
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_wrong_password_and_unknown_user),
        cmocka_unit_test(test_replayed_nc),
        cmocka_unit_test(test_stale_nonce),
        cmocka_unit_test(test_eviction_is_stale),
        cmocka_unit_test(test_uri_must_match),
        cmocka_unit_test(test_basic),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_username_star),
        cmocka_unit_test(test_escapes_roundtrip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
