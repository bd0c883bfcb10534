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
 * challenge (Digest MD5/SHA-256 with qop=auth, or Basic).
 */
#ifndef OUTPOST_NET_HTTP_AUTH_H
#define OUTPOST_NET_HTTP_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

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
    int64_t nonce_ttl_ms;    /* default 300 s */
    size_t max_nonces;       /* nonce-count table; default 65536 */
} http_auth_opts_t;

/* The password for `user` into out; 0, or -ENOENT for an unknown user. */
typedef int (*http_auth_lookup_fn)(const char *user, char *out, size_t outlen, void *ud);

typedef enum http_auth_result {
    HTTP_AUTH_OK = 0,
    HTTP_AUTH_MISSING = 1,   /* no (usable) Authorization header: challenge */
    HTTP_AUTH_FAILED = 2,    /* wrong user/password, bad or replayed nonce */
    HTTP_AUTH_STALE = 3,     /* right credentials, expired nonce: challenge with stale=true */
} http_auth_result_t;

http_auth_t *http_auth_new(const http_auth_opts_t *opts);
void http_auth_free(http_auth_t *a);
/* Check an Authorization header value (may be NULL) for method + request
 * target. On success the user name is copied to user (if given). `why`
 * (may be NULL) receives a short reason on failure, for the log. */
http_auth_result_t http_auth_check(http_auth_t *a, const char *method, const char *uri,
                                   const char *authorization, http_auth_lookup_fn lookup,
                                   void *ud, char *user, size_t userlen, const char **why);
/* Append "WWW-Authenticate: ...\r\n" lines (Digest SHA-256, Digest MD5,
 * Basic as configured) to headers. */
int http_auth_challenge(http_auth_t *a, bool stale, buf_t *headers);

/* ---- client side -------------------------------------------------------- */

/* Answer a WWW-Authenticate header value (one challenge; the strongest of
 * several Digest lines should be chosen by the caller via
 * http_auth_pick_challenge). Appends the Authorization header *value* to
 * out. nc: 1 for the first use of this nonce. cnonce: NULL = random. */
int http_auth_client_digest(const char *challenge, const char *method, const char *uri,
                            const char *user, const char *pass, uint32_t nc, const char *cnonce,
                            buf_t *out);
int http_auth_client_basic(const char *user, const char *pass, buf_t *out);
/* Among several WWW-Authenticate values, the index of the one to answer:
 * Digest SHA-256 > Digest MD5 > Basic (when allow_basic). -ENOENT if none. */
int http_auth_pick_challenge(const char *const *values, size_t n, bool allow_basic);

/* The RFC 7616 response computation, exposed for tests:
 * H(H(user:realm:pass):nonce:nc:cnonce:qop:H(method:uri)) in lowercase hex. */
int http_digest_compute(http_digest_alg_t alg, const char *user, const char *realm,
                        const char *pass, const char *method, const char *uri, const char *nonce,
                        const char *nc, const char *cnonce, const char *qop, char *out,
                        size_t outlen);

#endif
