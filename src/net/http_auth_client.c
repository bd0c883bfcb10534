/*
 * http_auth_client: the client's side of Digest: pick the strongest
 * challenge it can answer among WWW-Authenticate values, and build the
 * Authorization value (MD5 or SHA-256, qop=auth, or RFC 2069 without qop).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/str.h"
#include "net/http_auth_int.h"

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
    char cn[33], ncs[9], resp[HTTP_AUTH__HEX_MAX], uhash[HTTP_AUTH__HEX_MAX];
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
        rc = http_auth__hash_hex(alg, uhash, (const char *[]){ user, realm }, 2);
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
