/*
 * http_auth_basic: Basic (RFC 7617) on both ends: the server's check of
 * "Basic base64(user:pass)", and the client's header.
 */
#include <errno.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "core/str.h"
#include "net/http_auth_int.h"

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

http_auth_result_t http_auth__check_basic(const ap_t *ap, http_auth_lookup_fn lookup, void *ud,
                                          char *user, size_t userlen, const char **why)
{
    buf_t dec = BUF_INIT(HTTP_AUTH__USER_MAX + HTTP_AUTH__PASS_MAX + 2);
    char pass[HTTP_AUTH__PASS_MAX];
    http_auth_result_t res = HTTP_AUTH_FAILED;
    if (!ap->token68 || str_base64_decode(&dec, ap->token68, strlen(ap->token68)) != 0) {
        *why = "malformed basic credentials";
        goto out;
    }
    char *colon = memchr(dec.data, ':', dec.len);
    if (!colon || colon == dec.data || http_auth__has_ctl(dec.data, (size_t)(colon - dec.data)) ||
        memchr(colon, '\0', dec.len - (size_t)(colon - dec.data))) {
        *why = "malformed basic credentials";
        goto out;
    }
    *colon = '\0';
    const char *pw = colon + 1;
    size_t pwlen = dec.len - (size_t)(pw - dec.data);
    if ((size_t)(colon - dec.data) >= HTTP_AUTH__USER_MAX || pwlen >= HTTP_AUTH__PASS_MAX) {
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
