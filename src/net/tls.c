#include "net/tls.h"

#include <errno.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/str.h"

struct tls_ctx {
    SSL_CTX *ctx;   /* current context; replaced on reload */
    bool server;
    tls_verify_t verify;
    char *cert_file, *key_file, *ca_file;
};

/* Log OpenSSL's error queue as one line and clear it. */
static void log_ssl_error(const char *event, const char *file)
{
    char reason[256] = "unknown error";
    unsigned long e = ERR_get_error();
    if (e)
        ERR_error_string_n(e, reason, sizeof reason);
    ERR_clear_error();
    log_error(event, LF_S("file", file ? file : ""), LF_S("reason", reason));
}

static SSL_CTX *build_ctx(const tls_ctx_t *t)
{
    SSL_CTX *ctx = SSL_CTX_new(t->server ? TLS_server_method() : TLS_client_method());
    if (!ctx) {
        log_ssl_error("tls_ctx_failed", NULL);
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    /* Idle connections hold no record buffers; matters with 10k+ peers. */
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);

    if (t->cert_file) {
        if (SSL_CTX_use_certificate_chain_file(ctx, t->cert_file) != 1) {
            log_ssl_error("tls_cert_load_failed", t->cert_file);
            goto fail;
        }
        const char *key = t->key_file ? t->key_file : t->cert_file;
        if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
            log_ssl_error("tls_key_load_failed", key);
            goto fail;
        }
        if (SSL_CTX_check_private_key(ctx) != 1) {
            log_ssl_error("tls_key_mismatch", key);
            goto fail;
        }
    } else if (t->server) {
        log_error("tls_cert_missing", LF_S("reason", "a TLS server needs --tls-cert"));
        goto fail;
    }

    if (t->ca_file) {
        if (SSL_CTX_load_verify_locations(ctx, t->ca_file, NULL) != 1) {
            log_ssl_error("tls_ca_load_failed", t->ca_file);
            goto fail;
        }
        if (t->server) {
            STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(t->ca_file);
            if (names)
                SSL_CTX_set_client_CA_list(ctx, names);
        }
    } else if (!t->server && t->verify != TLS_VERIFY_NONE) {
        SSL_CTX_set_default_verify_paths(ctx);
    }

    int mode = SSL_VERIFY_NONE;
    if (t->server) {
        if (t->verify == TLS_VERIFY_OPTIONAL)
            mode = SSL_VERIFY_PEER;
        else if (t->verify == TLS_VERIFY_REQUIRED)
            mode = SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
        /* one session id context per daemon keeps resumption working with client certs */
        SSL_CTX_set_session_id_context(ctx, (const unsigned char *)"outpost", 7);
    } else if (t->verify != TLS_VERIFY_NONE) {
        mode = SSL_VERIFY_PEER;
    }
    SSL_CTX_set_verify(ctx, mode, NULL);
    SSL_CTX_set_verify_depth(ctx, 8);
    return ctx;
fail:
    SSL_CTX_free(ctx);
    return NULL;
}

static char *dup_or_null(const char *s) { return s && *s ? strdup(s) : NULL; }

tls_ctx_t *tls_ctx_new(const tls_opts_t *o)
{
    tls_ctx_t *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->server = o->server;
    t->verify = o->verify;
    t->cert_file = dup_or_null(o->cert_file);
    t->key_file = dup_or_null(o->key_file);
    t->ca_file = dup_or_null(o->ca_file);
    if (t->server && t->verify != TLS_VERIFY_NONE && !t->ca_file) {
        log_error("tls_ca_missing", LF_S("reason", "verifying client certificates needs --tls-ca"));
        tls_ctx_free(t);
        return NULL;
    }
    t->ctx = build_ctx(t);
    if (!t->ctx) {
        tls_ctx_free(t);
        return NULL;
    }
    return t;
}

int tls_ctx_reload(tls_ctx_t *t)
{
    SSL_CTX *fresh = build_ctx(t);
    if (!fresh) {
        log_warn("tls_reload_failed", LF_S("reason", "keeping the previous certificates"));
        return -EINVAL;
    }
    SSL_CTX_free(t->ctx); /* live SSL objects hold their own reference */
    t->ctx = fresh;
    log_info("tls_reloaded", LF_S("cert", t->cert_file ? t->cert_file : ""));
    return 0;
}

void tls_ctx_free(tls_ctx_t *t)
{
    if (!t)
        return;
    SSL_CTX_free(t->ctx);
    free(t->cert_file);
    free(t->key_file);
    free(t->ca_file);
    free(t);
}

bool tls_ctx_is_server(const tls_ctx_t *t) { return t->server; }
tls_verify_t tls_ctx_verify(const tls_ctx_t *t) { return t->verify; }

struct ssl_st *tls_ctx_new_ssl(tls_ctx_t *t)
{
    SSL *ssl = SSL_new(t->ctx);
    if (!ssl)
        log_ssl_error("tls_ssl_new_failed", NULL);
    return ssl;
}

void tls_peer_fill(struct ssl_st *ssl, tls_peer_t *p)
{
    memset(p, 0, sizeof *p);
    str_copy(p->version, sizeof p->version, SSL_get_version(ssl));
    const char *sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    if (sni)
        str_copy(p->sni, sizeof p->sni, sni);
    X509 *cert = SSL_get0_peer_certificate(ssl);
    if (!cert)
        return;
    p->has_cert = true;
    p->verified = SSL_get_verify_result(ssl) == X509_V_OK;
    X509_NAME *name = X509_get_subject_name(cert);
    BIO *mem = BIO_new(BIO_s_mem());
    if (mem) {
        X509_NAME_print_ex(mem, name, 0, XN_FLAG_RFC2253);
        int n = BIO_read(mem, p->subject, (int)sizeof p->subject - 1);
        p->subject[n > 0 ? n : 0] = '\0';
        BIO_free(mem);
    }
    X509_NAME_get_text_by_NID(name, NID_commonName, p->cn, (int)sizeof p->cn);
    X509_NAME_get_text_by_NID(name, NID_organizationName, p->org, (int)sizeof p->org);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (X509_digest(cert, EVP_sha256(), md, &mdlen) == 1 && mdlen == 32)
        str_hex(md, mdlen, p->fingerprint);
}
