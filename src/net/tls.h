/*
 * tls: OpenSSL contexts for servers and clients (TLS 1.2+), loaded from PEM
 * files and reloadable in place (SIGHUP). Connections use them through
 * net/conn.h; the record layer runs over conn's own BIO there.
 *
 * A tls_ctx_t is owned by whoever created it (usually a daemon) and must
 * outlive the listeners/connectors that use it. Reloading swaps the inner
 * SSL_CTX: live connections keep the old one (OpenSSL refcounts it).
 */
#ifndef OUTPOST_NET_TLS_H
#define OUTPOST_NET_TLS_H

#include <stdbool.h>
#include <stddef.h>

typedef enum tls_verify {
    TLS_VERIFY_NONE = 0,     /* server: no client cert asked; client: trust anything (tests/--insecure) */
    TLS_VERIFY_OPTIONAL,     /* server: ask for a client cert, verify it if sent */
    TLS_VERIFY_REQUIRED,     /* server: client cert required; client: verify server chain + name */
} tls_verify_t;

typedef struct tls_opts {
    bool server;
    const char *cert_file; /* PEM chain; may also hold the key */
    const char *key_file;  /* NULL: the key is in cert_file */
    const char *ca_file;   /* trust anchors; NULL on a client = system store */
    tls_verify_t verify;
} tls_opts_t;

typedef struct tls_ctx tls_ctx_t;

/* Build a context; logs the reason (file, OpenSSL error) and returns NULL on failure. */
tls_ctx_t *tls_ctx_new(const tls_opts_t *opts);
/* Re-read the files; on failure the old context stays and -EINVAL is returned (logged). */
int tls_ctx_reload(tls_ctx_t *ctx);
void tls_ctx_free(tls_ctx_t *ctx);
bool tls_ctx_is_server(const tls_ctx_t *ctx);
tls_verify_t tls_ctx_verify(const tls_ctx_t *ctx);

/* Who is on the other end, once the handshake is done. */
typedef struct tls_peer {
    bool has_cert;          /* the peer presented a certificate */
    bool verified;          /* ... and it chained to our CA */
    char subject[256];      /* one-line RFC 2253 form */
    char cn[128];           /* commonName */
    char org[128];          /* organizationName */
    char fingerprint[65];   /* SHA-256 of the DER certificate, lowercase hex */
    char sni[256];          /* server name the client asked for (servers only) */
    char version[16];       /* "TLSv1.3" */
} tls_peer_t;

/* For the conn module: a new SSL object from the current context, and the
 * peer description once its handshake is done. */
struct ssl_st;
struct ssl_st *tls_ctx_new_ssl(tls_ctx_t *ctx);
void tls_peer_fill(struct ssl_st *ssl, tls_peer_t *out);

#endif
