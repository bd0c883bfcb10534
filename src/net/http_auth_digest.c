/*
 * http_auth_digest: a server's check of Digest credentials (RFC 7616, qop=auth
 * only: without a nonce count there is no replay protection). Wrong
 * credentials fail; right ones with a nonce that expired, was evicted or
 * comes from another process are answered stale.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "core/str.h"
#include "net/http_auth_int.h"

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
        return http_auth__has_ctl(u, strlen(u)) || str_copy(out, outlen, u) ? NULL : out;
    if (!x || u || strncasecmp(x, "UTF-8'", 6) != 0)
        return NULL;
    const char *v = strchr(x + 6, '\'');
    if (!v)
        return NULL;
    v++;
    buf_t b = BUF_INIT(outlen - 1);
    bool ok = str_pct_decode(&b, v, strlen(v), false) == 0 && b.len > 0 &&
              !http_auth__has_ctl(b.data, b.len) && str_copy(out, outlen, b.data) == 0;
    buf_free(&b);
    return ok ? out : NULL;
}

static int parse_nc(const char *s, uint32_t *nc)
{
    uint32_t v = 0;
    if (strlen(s) != 8)
        return -EINVAL;
    for (int i = 0; i < 8; i++) {
        int d = str_hexval(s[i]);
        if (d < 0)
            return -EINVAL;
        v = v << 4 | (uint32_t)d;
    }
    *nc = v;
    return v ? 0 : -EINVAL;
}

http_auth_result_t http_auth__check_digest(http_auth_t *a, const ap_t *ap, const char *method,
                                           const char *uri, http_auth_lookup_fn lookup, void *ud,
                                           char *user, size_t userlen, const char **why)
{
    char uname[HTTP_AUTH__USER_MAX], pass[HTTP_AUTH__PASS_MAX], expect[HTTP_AUTH__HEX_MAX];
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
    bool foreign = http_auth__nonce_open(a, nonce, strlen(nonce), &ts, &serial) != 0;

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
    char got[HTTP_AUTH__HEX_MAX];
    size_t hl = http_auth__alg_hexlen(alg);
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
    if (http_auth__now(a) - ts > a->ttl_ms) {
        *why = "nonce expired";
        res = HTTP_AUTH_STALE;
        goto out;
    }
    rc = http_auth__nc_check(a, serial, nc);
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
