/*
 * http_auth: Basic and Digest (RFC 7617, RFC 7616), server and client side.
 *
 * Layout: hashing, nonces and the nonce-count table, the server check, the
 * client. The header parser shared by both sides is http_auth_param.c.
 *
 * Nonce = hex( ts_ms[8] | serial[8] | HMAC-SHA256(secret, ts|serial)[0..16] ).
 * The MAC makes nonces self-validating (no table entry is needed to issue
 * one, so unauthenticated clients cannot fill memory), ts gives expiry and
 * serial names the nonce in the nonce-count table. The table remembers the
 * highest nc seen per serial; it is a FIFO ring with a hash index, and when
 * the ring is full the oldest entry goes. `forgotten` is the highest serial
 * ever evicted: a nonce at or below it that is not in the table may have
 * been used before, so it is answered stale (the client retries with a fresh
 * nonce) instead of being accepted with an nc we can no longer check.
 */
#include "net/http_auth.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "core/clock.h"
#include "core/str.h"
#include "net/http_auth_param.h"

enum {
    REALM_MAX = 256,
    USER_MAX = 256,
    PASS_MAX = 512,
    HEX_MAX = 65,             /* SHA-256 in hex, with NUL */
    NONCE_RAW = 32,
    NONCE_HEX = 2 * NONCE_RAW,
    SECRET_LEN = 32,
};

typedef http_auth_params_t ap_t;

static const char *ap_val(const ap_t *ap, const char *name)
{
    return http_auth_param_get(ap, name);
}

/* ---- hashing ----------------------------------------------------------- */

static size_t alg_hexlen(http_digest_alg_t alg) { return alg == HTTP_DIGEST_SHA256 ? 64 : 32; }

/* H(p[0] ":" p[1] ":" ...) in lowercase hex. */
static int hash_hex(http_digest_alg_t alg, char out[HEX_MAX], const char *const *p, size_t n)
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
    if (!ok || mdlen * 2 >= HEX_MAX)
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
    if (outlen < alg_hexlen(alg) + 1)
        return -ENOBUFS;
    char ha1[HEX_MAX], ha2[HEX_MAX], resp[HEX_MAX];
    int rc = hash_hex(alg, ha1, (const char *[]){ user, realm, pass }, 3);
    if (!rc)
        rc = hash_hex(alg, ha2, (const char *[]){ method, uri }, 2);
    if (!rc && qop)
        rc = hash_hex(alg, resp, (const char *[]){ ha1, nonce, nc, cnonce, qop, ha2 }, 6);
    else if (!rc)
        rc = hash_hex(alg, resp, (const char *[]){ ha1, nonce, ha2 }, 3);
    if (!rc)
        memcpy(out, resp, alg_hexlen(alg) + 1);
    OPENSSL_cleanse(ha1, sizeof ha1);
    return rc;
}

/* ---- server state: nonces and the nonce-count table --------------------- */

typedef struct nc_entry {
    uint64_t serial;
    uint32_t nc;
} nc_entry_t;

struct http_auth {
    char realm[REALM_MAX];
    char realm_q[2 * REALM_MAX]; /* realm escaped for a quoted-string */
    bool basic, digest, md5_only;
    int64_t ttl_ms;
    unsigned char secret[SECRET_LEN];
    int64_t (*now_ms)(void *ud);
    void *now_ud;

    pthread_mutex_t lock; /* guards everything below */
    uint64_t next_serial;
    uint64_t forgotten;   /* highest serial ever evicted from the table */
    nc_entry_t *ring;     /* FIFO by first use; ring[head] is the oldest */
    size_t ring_cap, ring_len, ring_head;
    uint32_t *index;      /* open addressing: ring slot + 1, 0 = empty */
    size_t index_mask;
};

static int64_t auth_now(const http_auth_t *a)
{
    return a->now_ms ? a->now_ms(a->now_ud) : clock_mono_ms();
}

static size_t serial_hash(const http_auth_t *a, uint64_t x)
{
    x ^= x >> 33; /* murmur3 finaliser: serials are sequential */
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return (size_t)x & a->index_mask;
}

static size_t nc_find(const http_auth_t *a, uint64_t serial)
{
    for (size_t i = serial_hash(a, serial); a->index[i]; i = (i + 1) & a->index_mask)
        if (a->ring[a->index[i] - 1].serial == serial)
            return i;
    return SIZE_MAX;
}

/* Linear-probing delete with backward shift (no tombstones to pile up). */
static void nc_unindex(http_auth_t *a, size_t i)
{
    a->index[i] = 0;
    for (size_t j = (i + 1) & a->index_mask; a->index[j]; j = (j + 1) & a->index_mask) {
        size_t k = serial_hash(a, a->ring[a->index[j] - 1].serial);
        /* The entry at j may move to the hole at i unless its home k lies
         * cyclically in (i, j]. */
        bool stays = i <= j ? (i < k && k <= j) : (i < k || k <= j);
        if (!stays) {
            a->index[i] = a->index[j];
            a->index[j] = 0;
            i = j;
        }
    }
}

static void nc_insert(http_auth_t *a, uint64_t serial, uint32_t nc)
{
    size_t slot;
    if (a->ring_len == a->ring_cap) {
        slot = a->ring_head;
        uint64_t old = a->ring[slot].serial;
        nc_unindex(a, nc_find(a, old));
        if (old > a->forgotten)
            a->forgotten = old;
        a->ring_head = (a->ring_head + 1) % a->ring_cap;
    } else {
        slot = (a->ring_head + a->ring_len++) % a->ring_cap;
    }
    a->ring[slot] = (nc_entry_t){ serial, nc };
    size_t i = serial_hash(a, serial);
    while (a->index[i])
        i = (i + 1) & a->index_mask;
    a->index[i] = (uint32_t)slot + 1;
}

/* Record nc for a nonce: 0, -EALREADY (not above the last one seen) or
 * -ESTALE (the nonce was forgotten: it may have been used already). */
static int nc_check(http_auth_t *a, uint64_t serial, uint32_t nc)
{
    int rc = 0;
    pthread_mutex_lock(&a->lock);
    size_t i = nc_find(a, serial);
    if (i != SIZE_MAX) {
        nc_entry_t *e = &a->ring[a->index[i] - 1];
        if (nc <= e->nc)
            rc = -EALREADY;
        else
            e->nc = nc;
    } else if (serial <= a->forgotten) {
        rc = -ESTALE;
    } else {
        nc_insert(a, serial, nc);
    }
    pthread_mutex_unlock(&a->lock);
    return rc;
}

static void be64_put(unsigned char *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (unsigned char)v;
}

static uint64_t be64_get(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

static int nonce_mac(const http_auth_t *a, const unsigned char *raw, unsigned char *mac16)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (!HMAC(EVP_sha256(), a->secret, SECRET_LEN, raw, 16, md, &mdlen) || mdlen < 16)
        return -EIO;
    memcpy(mac16, md, 16);
    return 0;
}

static int nonce_make(http_auth_t *a, char out[NONCE_HEX + 1])
{
    unsigned char raw[NONCE_RAW];
    pthread_mutex_lock(&a->lock);
    uint64_t serial = ++a->next_serial;
    pthread_mutex_unlock(&a->lock);
    be64_put(raw, (uint64_t)auth_now(a));
    be64_put(raw + 8, serial);
    int rc = nonce_mac(a, raw, raw + 16);
    if (!rc)
        str_hex(raw, sizeof raw, out);
    return rc;
}

static int hexnib(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1; /* we only ever issue lowercase */
}

static int nonce_open(const http_auth_t *a, const char *nonce, size_t len, int64_t *ts,
                      uint64_t *serial)
{
    unsigned char raw[NONCE_RAW], mac[16];
    if (len != NONCE_HEX)
        return -EINVAL;
    for (size_t i = 0; i < NONCE_RAW; i++) {
        int hi = hexnib((unsigned char)nonce[2 * i]), lo = hexnib((unsigned char)nonce[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return -EINVAL;
        raw[i] = (unsigned char)(hi << 4 | lo);
    }
    if (nonce_mac(a, raw, mac) || CRYPTO_memcmp(mac, raw + 16, 16) != 0)
        return -EINVAL;
    *ts = (int64_t)be64_get(raw);
    *serial = be64_get(raw + 8);
    return 0;
}

/* ---- server side ------------------------------------------------------- */

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
    if (!a->ring || !a->index || RAND_bytes(a->secret, SECRET_LEN) != 1 ||
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

int http_auth_challenge(http_auth_t *a, bool stale, buf_t *headers)
{
    char nonce[NONCE_HEX + 1];
    size_t mark = headers->len;
    int rc = 0;
    if (a->digest) {
        if ((rc = nonce_make(a, nonce)))
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

/* Hash both passwords and compare the digests: constant time, and the
 * stored password's length does not show either. */
static bool pass_equal(const char *given, size_t glen, const char *stored)
{
    unsigned char x[32], y[32];
    if (!EVP_Digest(given, glen, x, NULL, EVP_sha256(), NULL) ||
        !EVP_Digest(stored, strlen(stored), y, NULL, EVP_sha256(), NULL))
        return false;
    return CRYPTO_memcmp(x, y, sizeof x) == 0;
}

static bool has_ctl(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] == '\0' || http_auth_param_is_ctl((unsigned char)s[i]))
            return true;
    return false;
}

static http_auth_result_t check_basic(const ap_t *ap, http_auth_lookup_fn lookup, void *ud,
                                      char *user, size_t userlen, const char **why)
{
    buf_t dec = BUF_INIT(USER_MAX + PASS_MAX + 2);
    char pass[PASS_MAX];
    http_auth_result_t res = HTTP_AUTH_FAILED;
    if (!ap->token68 || str_base64_decode(&dec, ap->token68, strlen(ap->token68)) != 0) {
        *why = "malformed basic credentials";
        goto out;
    }
    char *colon = memchr(dec.data, ':', dec.len);
    if (!colon || colon == dec.data || has_ctl(dec.data, (size_t)(colon - dec.data)) ||
        memchr(colon, '\0', dec.len - (size_t)(colon - dec.data))) {
        *why = "malformed basic credentials";
        goto out;
    }
    *colon = '\0';
    const char *pw = colon + 1;
    size_t pwlen = dec.len - (size_t)(pw - dec.data);
    if ((size_t)(colon - dec.data) >= USER_MAX || pwlen >= PASS_MAX) {
        *why = "basic credentials over a limit";
        goto out;
    }
    int rc = lookup(dec.data, pass, sizeof pass, ud);
    if (rc) {
        *why = rc == -ENOENT ? "unknown user" : "user lookup failed";
        pass_equal(pw, pwlen, ""); /* same work either way */
        goto out;
    }
    if (!pass_equal(pw, pwlen, pass)) {
        *why = "wrong password";
        goto out;
    }
    if (user && str_copy(user, userlen, dec.data)) {
        *why = "user name too long";
        goto out;
    }
    res = HTTP_AUTH_OK;
out:
    OPENSSL_cleanse(pass, sizeof pass);
    buf_free_secret(&dec);
    return res;
}

/* The request target and the uri parameter designate the same resource:
 * equal, or uri in absolute form whose path part equals the target. */
static bool uri_matches(const char *param, const char *target)
{
    if (!strcmp(param, target))
        return true;
    const char *p = strstr(param, "://");
    if (!p || target[0] != '/')
        return false;
    p = strchr(p + 3, '/');
    return p && !strcmp(p, target);
}

/* username, or username* (RFC 8187: UTF-8''percent-encoded) into out. */
static const char *digest_user(const ap_t *ap, char *out, size_t outlen)
{
    const char *u = ap_val(ap, "username"), *x = ap_val(ap, "username*");
    if (u && !x)
        return has_ctl(u, strlen(u)) || str_copy(out, outlen, u) ? NULL : out;
    if (!x || u || strncasecmp(x, "UTF-8'", 6) != 0)
        return NULL;
    const char *v = strchr(x + 6, '\'');
    if (!v)
        return NULL;
    v++;
    buf_t b = BUF_INIT(outlen - 1);
    bool ok = str_pct_decode(&b, v, strlen(v), false) == 0 && b.len > 0 &&
              !has_ctl(b.data, b.len) && str_copy(out, outlen, b.data) == 0;
    buf_free(&b);
    return ok ? out : NULL;
}

static int parse_nc(const char *s, uint32_t *nc)
{
    uint32_t v = 0;
    if (strlen(s) != 8)
        return -EINVAL;
    for (int i = 0; i < 8; i++) {
        int d = hexnib((unsigned char)(s[i] >= 'A' && s[i] <= 'F' ? s[i] + 32 : s[i]));
        if (d < 0)
            return -EINVAL;
        v = v << 4 | (uint32_t)d;
    }
    *nc = v;
    return v ? 0 : -EINVAL;
}

static http_auth_result_t check_digest(http_auth_t *a, const ap_t *ap, const char *method,
                                       const char *uri, http_auth_lookup_fn lookup, void *ud,
                                       char *user, size_t userlen, const char **why)
{
    char uname[USER_MAX], pass[PASS_MAX], expect[HEX_MAX];
    const char *realm = ap_val(ap, "realm"), *nonce = ap_val(ap, "nonce");
    const char *puri = ap_val(ap, "uri"), *resp = ap_val(ap, "response");
    const char *qop = ap_val(ap, "qop"), *ncs = ap_val(ap, "nc");
    const char *cnonce = ap_val(ap, "cnonce"), *algs = ap_val(ap, "algorithm");
    const char *uh = ap_val(ap, "userhash");
    http_digest_alg_t alg = HTTP_DIGEST_MD5;
    uint32_t nc = 0;
    int64_t ts = 0;
    uint64_t serial = 0;

    if (!realm || !nonce || !puri || !resp || !digest_user(ap, uname, sizeof uname))
        return *why = "malformed digest credentials", HTTP_AUTH_FAILED;
    if (uh && strcasecmp(uh, "false") != 0)
        return *why = "userhash not supported", HTTP_AUTH_FAILED;
    if (strcmp(realm, a->realm) != 0)
        return *why = "wrong realm", HTTP_AUTH_FAILED;
    if (!uri_matches(puri, uri))
        return *why = "uri does not match the request target", HTTP_AUTH_FAILED;
    /* Without qop there is no nc, hence no replay protection: refused. */
    if (!qop || strcasecmp(qop, "auth") != 0 || !ncs || !cnonce || !*cnonce)
        return *why = "qop=auth with nc and cnonce required", HTTP_AUTH_FAILED;
    if (parse_nc(ncs, &nc))
        return *why = "malformed nonce count", HTTP_AUTH_FAILED;
    if (algs && !strcasecmp(algs, "SHA-256"))
        alg = HTTP_DIGEST_SHA256;
    else if (algs && strcasecmp(algs, "MD5") != 0)
        return *why = "unsupported algorithm", HTTP_AUTH_FAILED;
    if (alg == HTTP_DIGEST_SHA256 && a->md5_only)
        return *why = "algorithm not offered", HTTP_AUTH_FAILED;
    /* A nonce we cannot open may come from before a restart or from another
     * node behind the same proxy: if the password is right, it is stale. */
    bool foreign = nonce_open(a, nonce, strlen(nonce), &ts, &serial) != 0;

    http_auth_result_t res = HTTP_AUTH_FAILED;
    int rc = lookup(uname, pass, sizeof pass, ud);
    if (rc) {
        *why = rc == -ENOENT ? "unknown user" : "user lookup failed";
        pass[0] = '\0'; /* compute anyway: no timing hint that the user exists */
    }
    if (http_digest_compute(alg, uname, a->realm, pass, method, puri, nonce, ncs, cnonce, "auth",
                            expect, sizeof expect) != 0) {
        *why = "digest computation failed";
        goto out;
    }
    char got[HEX_MAX];
    size_t hl = alg_hexlen(alg);
    bool match = strlen(resp) == hl;
    if (match) {
        for (size_t i = 0; i <= hl; i++) /* clients should send lowercase; some do not */
            got[i] = (char)(resp[i] >= 'A' && resp[i] <= 'F' ? resp[i] + 32 : resp[i]);
        match = CRYPTO_memcmp(got, expect, hl) == 0;
    }
    if (!match || rc) {
        if (!rc)
            *why = foreign ? "nonce not issued here" : "wrong password";
        goto out;
    }
    /* The credentials are right from here on: problems with the nonce are
     * answered stale=true, which clients retry without asking the user. */
    if (foreign) {
        *why = "nonce not issued here";
        res = HTTP_AUTH_STALE;
        goto out;
    }
    if (auth_now(a) - ts > a->ttl_ms) {
        *why = "nonce expired";
        res = HTTP_AUTH_STALE;
        goto out;
    }
    rc = nc_check(a, serial, nc);
    if (rc == -EALREADY) {
        *why = "nonce count replayed";
        goto out;
    }
    if (rc == -ESTALE) {
        *why = "nonce evicted";
        res = HTTP_AUTH_STALE;
        goto out;
    }
    if (user && str_copy(user, userlen, uname)) {
        *why = "user name too long";
        goto out;
    }
    res = HTTP_AUTH_OK;
out:
    OPENSSL_cleanse(pass, sizeof pass);
    return res;
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
        res = check_digest(a, ap, method, uri, lookup, ud, user, userlen, why);
    } else if (!strcasecmp(ap->scheme, "Basic") && a->basic) {
        res = check_basic(ap, lookup, ud, user, userlen, why);
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

/* ---- client side ------------------------------------------------------- */

/* 3 Digest SHA-256, 2 Digest MD5, 1 Basic, 0 unusable; -1 a Digest we
 * cannot answer. */
static int rank(const ap_t *ap, bool allow_basic)
{
    if (!strcasecmp(ap->scheme, "Basic"))
        return allow_basic ? 1 : 0;
    if (strcasecmp(ap->scheme, "Digest") != 0)
        return 0;
    const char *alg = ap_val(ap, "algorithm"), *qop = ap_val(ap, "qop");
    if (!ap_val(ap, "realm") || !ap_val(ap, "nonce"))
        return 0;
    if (qop && !http_auth_param_qop_has_auth(qop))
        return -1; /* auth-int only: we would need the body */
    if (!alg || !strcasecmp(alg, "MD5"))
        return 2;
    if (!strcasecmp(alg, "SHA-256"))
        return 3;
    return -1;
}

/* Best challenge in one header value: its rank, and where it starts. */
static int best_in(const char *value, bool allow_basic, ap_t *ap, size_t *at, bool *unsupported)
{
    int best = 0;
    size_t pos = 0;
    if (strlen(value) > HTTP_AUTH_HEADER_MAX)
        return 0;
    for (;;) {
        size_t start = pos;
        if (http_auth_param_parse(value, &pos, ap) != 0)
            break; /* the end, or garbage: keep what came before */
        int r = rank(ap, allow_basic);
        if (r < 0 && unsupported)
            *unsupported = true;
        if (r > best) {
            best = r;
            *at = start;
        }
    }
    return best;
}

int http_auth_pick_challenge(const char *const *values, size_t n, bool allow_basic)
{
    ap_t *ap = malloc(sizeof *ap);
    if (!ap)
        return -ENOMEM;
    int best = 0, idx = -ENOENT;
    size_t at;
    for (size_t i = 0; i < n; i++) {
        int r = values[i] ? best_in(values[i], allow_basic, ap, &at, NULL) : 0;
        if (r > best) {
            best = r;
            idx = (int)i;
        }
    }
    free(ap);
    return idx;
}

static int append_quoted(buf_t *out, const char *s)
{
    int rc = buf_append_byte(out, '"');
    for (; !rc && *s; s++) {
        if (http_auth_param_is_ctl((unsigned char)*s))
            return -EINVAL; /* never let CR/LF into a header */
        if (*s == '"' || *s == '\\')
            rc = buf_append_byte(out, '\\');
        if (!rc)
            rc = buf_append_byte(out, *s);
    }
    return rc ? rc : buf_append_byte(out, '"');
}

static int emit_param(buf_t *out, const char *name, const char *v, bool quoted)
{
    int rc = buf_printf(out, ", %s=", name);
    if (rc)
        return rc;
    if (quoted)
        return append_quoted(out, v);
    for (const char *p = v; *p; p++)
        if (!http_auth_param_is_tchar((unsigned char)*p))
            return -EINVAL;
    return buf_append_str(out, v);
}

static int client_digest(const ap_t *ap, const char *method, const char *uri, const char *user,
                         const char *pass, uint32_t nc, const char *cnonce, buf_t *out)
{
    const char *realm = ap_val(ap, "realm"), *nonce = ap_val(ap, "nonce");
    const char *algs = ap_val(ap, "algorithm"), *opaque = ap_val(ap, "opaque");
    const char *uh = ap_val(ap, "userhash");
    bool qop = ap_val(ap, "qop") != NULL, hashed = uh && !strcasecmp(uh, "true");
    http_digest_alg_t alg = algs && !strcasecmp(algs, "SHA-256") ? HTTP_DIGEST_SHA256
                                                                  : HTTP_DIGEST_MD5;
    char cn[33], ncs[9], resp[HEX_MAX], uhash[HEX_MAX];
    if (!cnonce) {
        int rc = str_random_hex(cn, 16);
        if (rc)
            return rc;
        cnonce = cn;
    }
    snprintf(ncs, sizeof ncs, "%08x", nc);
    int rc = http_digest_compute(alg, user, realm, pass, method, uri, nonce, qop ? ncs : NULL,
                                 qop ? cnonce : NULL, qop ? "auth" : NULL, resp, sizeof resp);
    if (!rc && hashed)
        rc = hash_hex(alg, uhash, (const char *[]){ user, realm }, 2);
    if (rc)
        return rc;
    rc = buf_append_str(out, "Digest username=");
    if (!rc)
        rc = append_quoted(out, hashed ? uhash : user);
    if (!rc)
        rc = emit_param(out, "realm", realm, true);
    if (!rc)
        rc = emit_param(out, "uri", uri, true);
    if (!rc && algs)
        rc = emit_param(out, "algorithm", alg == HTTP_DIGEST_SHA256 ? "SHA-256" : "MD5", false);
    if (!rc)
        rc = emit_param(out, "nonce", nonce, true);
    if (!rc && qop) {
        rc = emit_param(out, "nc", ncs, false);
        if (!rc)
            rc = emit_param(out, "cnonce", cnonce, true);
        if (!rc)
            rc = emit_param(out, "qop", "auth", false);
    }
    if (!rc)
        rc = emit_param(out, "response", resp, true);
    if (!rc && opaque)
        rc = emit_param(out, "opaque", opaque, true);
    if (!rc && hashed)
        rc = emit_param(out, "userhash", "true", false);
    return rc;
}

int http_auth_client_digest(const char *challenge, const char *method, const char *uri,
                            const char *user, const char *pass, uint32_t nc, const char *cnonce,
                            buf_t *out)
{
    if (!challenge || !method || !*method || !uri || !*uri || !user || !pass || !out || !nc)
        return -EINVAL;
    for (const char *m = method; *m; m++)
        if (!http_auth_param_is_tchar((unsigned char)*m))
            return -EINVAL;
    ap_t *ap = malloc(sizeof *ap);
    if (!ap)
        return -ENOMEM;
    bool unsupported = false;
    size_t at = 0, mark = out->len;
    int r = best_in(challenge, false, ap, &at, &unsupported), rc;
    if (r < 2) {
        rc = unsupported ? -ENOTSUP : -EINVAL;
    } else {
        rc = http_auth_param_parse(challenge, &at, ap);
        if (!rc)
            rc = client_digest(ap, method, uri, user, pass, nc, cnonce, out);
    }
    free(ap);
    if (rc && out->len > mark) {
        out->len = mark;
        out->data[mark] = '\0';
    }
    return rc;
}

int http_auth_client_basic(const char *user, const char *pass, buf_t *out)
{
    if (!user || !pass || !out || strchr(user, ':'))
        return -EINVAL;
    /* "user:pass" is built in one allocation sized first (not with
     * buf_printf, whose stack copy of short results would stay behind, nor
     * grown by realloc) and wiped however it ends; a failed encoding is
     * wiped from `out` too */
    size_t ul = strlen(user), pl = strlen(pass);
    buf_t plain = BUF_INIT(HTTP_AUTH_HEADER_MAX / 2);
    size_t mark = out->len;
    int rc = buf_reserve(&plain, ul + 1 + pl);
    if (!rc)
        rc = buf_append(&plain, user, ul);
    if (!rc)
        rc = buf_append_byte(&plain, ':');
    if (!rc)
        rc = buf_append(&plain, pass, pl);
    if (!rc)
        rc = buf_append_str(out, "Basic ");
    if (!rc)
        rc = str_base64_encode(out, plain.data, plain.len);
    if (rc && out->len > mark) {
        OPENSSL_cleanse(out->data + mark, out->len - mark);
        out->len = mark;
        out->data[mark] = '\0';
    }
    buf_free_secret(&plain);
    return rc;
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
