/*
 * http_auth: HTTP authentication, both ends.
 *
 * Server side: Basic and Digest (RFC 7616: MD5 and SHA-256, qop=auth).
 * Nonces are self-validating (timestamp + HMAC with a per-process secret),
 * expire after nonce_ttl_ms (the client is then told stale=true and retries
 * without asking the user), and each nonce's nonce-count must increase, so a
 * captured Authorization header cannot be replayed. The nonce-count table is
 * bounded (oldest entries go first).
 *
 * Client side: build the Authorization header answering a WWW-Authenticate
 * challenge (Digest MD5/SHA-256 with qop=auth, RFC 2069 MD5 without qop for
 * old servers, or Basic).
 *
 * Header values are parsed as RFC 7235 lists: a value may carry several
 * challenges, parameters may be tokens or quoted strings with escapes,
 * duplicated parameters are an error, and every length is capped
 * (HTTP_AUTH_HEADER_MAX for a whole value). An http_auth_t may be shared by
 * several loop threads: its nonce-count table is behind a mutex.
 * See docs/http-auth.md for the nonce format and the design decisions.
 */
#ifndef OUTPOST_NET_HTTP_AUTH_H
#define OUTPOST_NET_HTTP_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

/* Longest Authorization / WWW-Authenticate value accepted or produced. */
enum { HTTP_AUTH_HEADER_MAX = 8192 };

typedef enum http_digest_alg {
    HTTP_DIGEST_MD5 = 0,
    HTTP_DIGEST_SHA256 = 1,
} http_digest_alg_t;

typedef struct http_auth http_auth_t;

typedef struct http_auth_opts {
    const char *realm;       /* required */
    bool basic;              /* accept Basic */
    bool digest;             /* accept Digest (both algorithms unless restricted) */
    bool digest_md5_only;    /* offer and accept only MD5 (old CPEs) */
    int64_t nonce_ttl_ms;    /* 0: default 300 s */
    size_t max_nonces;       /* nonce-count table; 0: default 65536 */
} http_auth_opts_t;

/* The password for `user` into out; 0, or -ENOENT for an unknown user. */
typedef int (*http_auth_lookup_fn)(const char *user, char *out, size_t outlen, void *ud);

typedef enum http_auth_result {
    HTTP_AUTH_OK = 0,
    HTTP_AUTH_MISSING = 1,   /* no (usable) Authorization header: challenge */
    HTTP_AUTH_FAILED = 2,    /* wrong user/password, bad or replayed nonce */
    HTTP_AUTH_STALE = 3,     /* right credentials, expired nonce: challenge with stale=true */
} http_auth_result_t;

/* NULL (errno set) if the realm is missing, too long or holds control
 * bytes, or if neither scheme is enabled. */
http_auth_t *http_auth_new(const http_auth_opts_t *opts);
void http_auth_free(http_auth_t *a);
/* Tests only: replace the monotonic clock (ms) that stamps and ages nonces. */
void http_auth_set_clock(http_auth_t *a, int64_t (*now_ms)(void *ud), void *ud);
/* Check an Authorization header value (may be NULL) for method + request
 * target. On success the user name is copied to user (if given). `why`
 * (may be NULL) receives a short reason on failure, for the log. */
http_auth_result_t http_auth_check(http_auth_t *a, const char *method, const char *uri,
                                   const char *authorization, http_auth_lookup_fn lookup,
                                   void *ud, char *user, size_t userlen, const char **why);
/* The one bearer-token check of every API and admin surface: an
 * Authorization value "Bearer TOKEN" (scheme in any case, blanks after it
 * skipped), compared in constant time. MISSING when there is no header or
 * another scheme, FAILED for a wrong token (or an empty configured one). */
http_auth_result_t http_auth_bearer(const char *authorization, const char *token);
/* The token of an Authorization value "Bearer TOKEN" (a pointer into it),
 * or NULL when there is no header or it names another scheme. */
const char *http_auth_bearer_value(const char *authorization);
/* Append "WWW-Authenticate: ...\r\n" lines (Digest SHA-256, Digest MD5,
 * Basic as configured) to headers. */
int http_auth_challenge(http_auth_t *a, bool stale, buf_t *headers);

/* ---- client side -------------------------------------------------------- */

/* Answer a WWW-Authenticate header value (the strongest of several header
 * lines is chosen by the caller via http_auth_pick_challenge; within one
 * value, the strongest Digest challenge is used). Appends the Authorization
 * header *value* to out. nc: 1 for the first use of this nonce (ignored for
 * RFC 2069 challenges, which have no qop). cnonce: NULL = random.
 * -EINVAL: malformed or no Digest challenge; -ENOTSUP: only Digest variants
 * we cannot answer (auth-int only, -sess, unknown algorithms). */
int http_auth_client_digest(const char *challenge, const char *method, const char *uri,
                            const char *user, const char *pass, uint32_t nc, const char *cnonce,
                            buf_t *out);
/* "Basic base64(user:pass)"; -EINVAL if user holds a colon. */
int http_auth_client_basic(const char *user, const char *pass, buf_t *out);
/* Among several WWW-Authenticate values, the index of the one to answer:
 * Digest SHA-256 > Digest MD5 > Basic (when allow_basic); the first wins a
 * tie. -ENOENT if none can be answered. */
int http_auth_pick_challenge(const char *const *values, size_t n, bool allow_basic);

/* The RFC 7616 response computation, exposed for tests:
 * H(H(user:realm:pass):nonce:nc:cnonce:qop:H(method:uri)) in lowercase hex;
 * with qop NULL, the RFC 2069 form H(H(user:realm:pass):nonce:H(method:uri)).
 * out: 33 bytes for MD5, 65 for SHA-256 (-ENOBUFS if smaller). */
int http_digest_compute(http_digest_alg_t alg, const char *user, const char *realm,
                        const char *pass, const char *method, const char *uri, const char *nonce,
                        const char *nc, const char *cnonce, const char *qop, char *out,
                        size_t outlen);

#endif
