/*
 * http_auth: the authenticator object, the Digest hash (RFC 7616), the
 * challenge a server sends, and the check of an Authorization header by
 * scheme; bearer tokens. Nonces are http_auth_nonce.c, the schemes'
 * checks http_auth_digest.c and http_auth_basic.c, the client side
 * http_auth_client.c (see http_auth_int.h).
 */
#include "net/http_auth.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "core/str.h"
#include "net/http_auth_int.h"

/* ---- hashing ----------------------------------------------------------- */

size_t http_auth__alg_hexlen(http_digest_alg_t alg)
{
    return alg == HTTP_DIGEST_SHA256 ? 64 : 32;
}

int http_auth__hash_hex(http_digest_alg_t alg, char out[HTTP_AUTH__HEX_MAX], const char *const *p,
                        size_t n)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx)
        return -ENOMEM;
    int ok = EVP_DigestInit_ex(ctx, alg == HTTP_DIGEST_SHA256 ? EVP_sha256() : EVP_md5(), NULL);
    for (size_t i = 0; ok && i < n; i++) {
        if (i)
            ok = EVP_DigestUpdate(ctx, ":", 1);
        if (ok)
            ok = EVP_DigestUpdate(ctx, p[i], strlen(p[i]));
    }
    if (ok)
        ok = EVP_DigestFinal_ex(ctx, md, &mdlen);
    EVP_MD_CTX_free(ctx);
    if (!ok || mdlen * 2 >= HTTP_AUTH__HEX_MAX)
        return -ENOTSUP; /* MD5 is unavailable in a FIPS-only OpenSSL */
    str_hex(md, mdlen, out);
    OPENSSL_cleanse(md, sizeof md);
    return 0;
}

int http_digest_compute(http_digest_alg_t alg, const char *user, const char *realm,
                        const char *pass, const char *method, const char *uri, const char *nonce,
                        const char *nc, const char *cnonce, const char *qop, char *out,
                        size_t outlen)
{
    if (!user || !realm || !pass || !method || !uri || !nonce || !out)
        return -EINVAL;
    if (alg != HTTP_DIGEST_MD5 && alg != HTTP_DIGEST_SHA256)
        return -EINVAL;
    if (qop && (!nc || !cnonce))
        return -EINVAL;
    if (outlen < http_auth__alg_hexlen(alg) + 1)
        return -ENOBUFS;
    char ha1[HTTP_AUTH__HEX_MAX], ha2[HTTP_AUTH__HEX_MAX], resp[HTTP_AUTH__HEX_MAX];
    int rc = http_auth__hash_hex(alg, ha1, (const char *[]){ user, realm, pass }, 3);
    if (!rc)
        rc = http_auth__hash_hex(alg, ha2, (const char *[]){ method, uri }, 2);
    if (!rc && qop)
        rc = http_auth__hash_hex(alg, resp, (const char *[]){ ha1, nonce, nc, cnonce, qop, ha2 }, 6);
    else if (!rc)
        rc = http_auth__hash_hex(alg, resp, (const char *[]){ ha1, nonce, ha2 }, 3);
    if (!rc)
        memcpy(out, resp, http_auth__alg_hexlen(alg) + 1);
    OPENSSL_cleanse(ha1, sizeof ha1);
    return rc;
}

/* ---- the object ----------------------------------------------------------- */

static int quote_into(char *dst, size_t size, const char *s)
{
    size_t j = 0;
    for (; *s; s++) {
        if (http_auth_param_is_ctl((unsigned char)*s))
            return -EINVAL;
        if (j + 3 > size)
            return -ENAMETOOLONG;
        if (*s == '"' || *s == '\\')
            dst[j++] = '\\';
        dst[j++] = *s;
    }
    dst[j] = '\0';
    return 0;
}

http_auth_t *http_auth_new(const http_auth_opts_t *opts)
{
    if (!opts || !opts->realm || !*opts->realm || (!opts->basic && !opts->digest) ||
        opts->nonce_ttl_ms < 0 || opts->max_nonces > (1u << 24)) {
        errno = EINVAL;
        return NULL;
    }
    http_auth_t *a = calloc(1, sizeof *a);
    if (!a) {
        errno = ENOMEM;
        return NULL;
    }
    if (str_copy(a->realm, sizeof a->realm, opts->realm) ||
        quote_into(a->realm_q, sizeof a->realm_q, opts->realm)) {
        free(a);
        errno = EINVAL;
        return NULL;
    }
    a->basic = opts->basic;
    a->digest = opts->digest;
    a->md5_only = opts->digest_md5_only;
    a->ttl_ms = opts->nonce_ttl_ms ? opts->nonce_ttl_ms : 300 * 1000;
    a->ring_cap = opts->max_nonces ? opts->max_nonces : 65536;
    size_t isize = 16;
    while (isize < 2 * a->ring_cap)
        isize <<= 1;
    a->index_mask = isize - 1;
    a->ring = calloc(a->ring_cap, sizeof *a->ring);
    a->index = calloc(isize, sizeof *a->index);
    if (!a->ring || !a->index || RAND_bytes(a->secret, HTTP_AUTH__SECRET_LEN) != 1 ||
        pthread_mutex_init(&a->lock, NULL) != 0) {
        free(a->ring);
        free(a->index);
        free(a);
        errno = ENOMEM;
        return NULL;
    }
    return a;
}

void http_auth_free(http_auth_t *a)
{
    if (!a)
        return;
    pthread_mutex_destroy(&a->lock);
    OPENSSL_cleanse(a->secret, sizeof a->secret);
    free(a->ring);
    free(a->index);
    free(a);
}

void http_auth_set_clock(http_auth_t *a, int64_t (*now_ms)(void *ud), void *ud)
{
    a->now_ms = now_ms;
    a->now_ud = ud;
}

/* ---- the server's challenge and check ----------------------------------------- */

int http_auth_challenge(http_auth_t *a, bool stale, buf_t *headers)
{
    char nonce[HTTP_AUTH__NONCE_HEX + 1];
    size_t mark = headers->len;
    int rc = 0;
    if (a->digest) {
        if ((rc = http_auth__nonce_make(a, nonce)))
            return rc;
        static const char fmt[] = "WWW-Authenticate: Digest realm=\"%s\", qop=\"auth\", "
                                  "algorithm=%s, nonce=\"%s\"%s\r\n";
        const char *st = stale ? ", stale=true" : "";
        /* Preferred first (RFC 7616 section 3.7). */
        if (!a->md5_only)
            rc = buf_printf(headers, fmt, a->realm_q, "SHA-256", nonce, st);
        if (!rc)
            rc = buf_printf(headers, fmt, a->realm_q, "MD5", nonce, st);
    }
    if (!rc && a->basic)
        rc = buf_printf(headers, "WWW-Authenticate: Basic realm=\"%s\", charset=\"UTF-8\"\r\n",
                        a->realm_q);
    if (rc) {
        headers->len = mark;
        if (headers->data)
            headers->data[mark] = '\0';
    }
    return rc;
}

bool http_auth__has_ctl(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] == '\0' || http_auth_param_is_ctl((unsigned char)s[i]))
            return true;
    return false;
}

http_auth_result_t http_auth_check(http_auth_t *a, const char *method, const char *uri,
                                   const char *authorization, http_auth_lookup_fn lookup,
                                   void *ud, char *user, size_t userlen, const char **why)
{
    const char *dummy;
    if (!why)
        why = &dummy;
    *why = NULL;
    if (user && userlen)
        user[0] = '\0';
    if (!a || !method || !uri || !lookup)
        return *why = "bad call", HTTP_AUTH_FAILED;
    if (!authorization || !authorization[strspn(authorization, " \t")])
        return *why = "no credentials", HTTP_AUTH_MISSING;
    if (strlen(authorization) > HTTP_AUTH_HEADER_MAX)
        return *why = "credentials too long", HTTP_AUTH_FAILED;
    ap_t *ap = malloc(sizeof *ap);
    if (!ap)
        return *why = "out of memory", HTTP_AUTH_FAILED;
    http_auth_result_t res;
    size_t pos = 0;
    int rc = http_auth_param_parse(authorization, &pos, ap);
    if (rc == 0 && authorization[pos])
        rc = -EINVAL; /* one set of credentials only */
    if (rc) {
        *why = rc == -E2BIG ? "credentials over a limit" : "malformed credentials";
        res = HTTP_AUTH_FAILED;
    } else if (!strcasecmp(ap->scheme, "Digest") && a->digest && !ap->token68) {
        res = http_auth__check_digest(a, ap, method, uri, lookup, ud, user, userlen, why);
    } else if (!strcasecmp(ap->scheme, "Basic") && a->basic) {
        res = http_auth__check_basic(ap, lookup, ud, user, userlen, why);
    } else if (!strcasecmp(ap->scheme, "Digest")) {
        *why = a->digest ? "malformed digest credentials" : "scheme not offered";
        res = a->digest ? HTTP_AUTH_FAILED : HTTP_AUTH_MISSING;
    } else {
        *why = "scheme not offered";
        res = HTTP_AUTH_MISSING;
    }
    OPENSSL_cleanse(ap, sizeof *ap);
    free(ap);
    return res;
}

/* ---- bearer tokens ---------------------------------------------------------------------- */

const char *http_auth_bearer_value(const char *authorization)
{
    if (!authorization || strncasecmp(authorization, "Bearer", 6) != 0 ||
        (authorization[6] != ' ' && authorization[6] != '\t'))
        return NULL;
    const char *t = authorization + 7;
    while (*t == ' ' || *t == '\t')
        t++;
    return t;
}

http_auth_result_t http_auth_bearer(const char *authorization, const char *token)
{
    const char *t = http_auth_bearer_value(authorization);
    if (!t)
        return HTTP_AUTH_MISSING;
    size_t tl = strlen(token);
    return tl && str_ct_equal(t, strlen(t), token, tl) ? HTTP_AUTH_OK : HTTP_AUTH_FAILED;
}
