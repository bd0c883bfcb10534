/*
 * http_auth_int: what the files of net/http_auth share, not for use outside
 * src/net. http_auth.c holds the object, the Digest hash, the challenge and
 * the check's dispatch by scheme; http_auth_nonce.c issues and opens nonces
 * and keeps the nonce-count table; http_auth_digest.c checks Digest
 * credentials; http_auth_basic.c is Basic on both ends; http_auth_client.c
 * answers Digest challenges. The header parser is http_auth_param.c.
 */
#ifndef OUTPOST_NET_HTTP_AUTH_INT_H
#define OUTPOST_NET_HTTP_AUTH_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/http_auth.h"
#include "net/http_auth_param.h"

enum {
    HTTP_AUTH__REALM_MAX = 256,
    HTTP_AUTH__USER_MAX = 256,
    HTTP_AUTH__PASS_MAX = 512,
    HTTP_AUTH__HEX_MAX = 65,       /* SHA-256 in hex, with NUL */
    HTTP_AUTH__NONCE_RAW = 32,
    HTTP_AUTH__NONCE_HEX = 2 * HTTP_AUTH__NONCE_RAW,
    HTTP_AUTH__SECRET_LEN = 32,
};

typedef http_auth_params_t ap_t;

static inline const char *ap_val(const ap_t *ap, const char *name)
{
    return http_auth_param_get(ap, name);
}

typedef struct http_auth__nc_entry {
    uint64_t serial;
    uint32_t nc;
} http_auth__nc_entry_t;

struct http_auth {
    char realm[HTTP_AUTH__REALM_MAX];
    char realm_q[2 * HTTP_AUTH__REALM_MAX]; /* realm escaped for a quoted-string */
    bool basic, digest, md5_only;
    int64_t ttl_ms;
    unsigned char secret[HTTP_AUTH__SECRET_LEN];
    int64_t (*now_ms)(void *ud);
    void *now_ud;

    pthread_mutex_t lock; /* guards everything below */
    uint64_t next_serial;
    uint64_t forgotten;   /* highest serial ever evicted from the table */
    http_auth__nc_entry_t *ring; /* FIFO by first use; ring[head] is the oldest */
    size_t ring_cap, ring_len, ring_head;
    uint32_t *index;      /* open addressing: ring slot + 1, 0 = empty */
    size_t index_mask;
};

/* ---- http_auth.c ---- */
size_t http_auth__alg_hexlen(http_digest_alg_t alg);
/* H(p[0] ":" p[1] ":" ...) in lowercase hex. */
int http_auth__hash_hex(http_digest_alg_t alg, char out[HTTP_AUTH__HEX_MAX], const char *const *p,
                        size_t n);
/* Does s[0..n) hold a NUL or a control byte? */
bool http_auth__has_ctl(const char *s, size_t n);

/* ---- http_auth_nonce.c ---- */
int64_t http_auth__now(const http_auth_t *a);
int http_auth__nonce_make(http_auth_t *a, char out[HTTP_AUTH__NONCE_HEX + 1]);
/* The stamp and serial of a nonce this process issued; -EINVAL otherwise. */
int http_auth__nonce_open(const http_auth_t *a, const char *nonce, size_t len, int64_t *ts,
                          uint64_t *serial);
/* Record nc for a nonce: 0, -EALREADY (not above the last one seen) or
 * -ESTALE (the nonce was forgotten: it may have been used already). */
int http_auth__nc_check(http_auth_t *a, uint64_t serial, uint32_t nc);

/* ---- the server's check of each scheme ---- */
http_auth_result_t http_auth__check_digest(http_auth_t *a, const ap_t *ap, const char *method,
                                           const char *uri, http_auth_lookup_fn lookup, void *ud,
                                           char *user, size_t userlen, const char **why);
http_auth_result_t http_auth__check_basic(const ap_t *ap, http_auth_lookup_fn lookup, void *ud,
                                          char *user, size_t userlen, const char **why);

#endif
