/*
 * certs_x509: key generation and certificate issuing with OpenSSL 3's EVP
 * API, for `outpost certs`. No file system access here except loading the
 * issuing CA (certs_ca_load); writing is certs_write's job.
 *
 * Ownership: every EVP_PKEY / X509 returned is the caller's to free
 * (EVP_PKEY_free / X509_free). Errors are negative errno codes with a short
 * human reason written into `err`.
 */
#ifndef OUTPOST_CERTS_X509_H
#define OUTPOST_CERTS_X509_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

typedef enum certs_key_type {
    CERTS_KEY_EC_P256 = 0,
    CERTS_KEY_EC_P384,
    CERTS_KEY_RSA_2048,
    CERTS_KEY_RSA_3072,
    CERTS_KEY_RSA_4096,
} certs_key_type_t;

enum { CERTS_ERR_LEN = 256, CERTS_MAX_SANS = 64 };

/* "ec", "ec-p256", "p256", "ec-p384", "rsa" (2048), "rsa-2048", "rsa2048",
 * "rsa-3072", "rsa-4096"... -> type; -EINVAL when unknown. */
int certs_key_type_parse(const char *s, certs_key_type_t *out);
const char *certs_key_type_name(certs_key_type_t t);

EVP_PKEY *certs_key_generate(certs_key_type_t t, char *err, size_t errlen);

typedef struct certs_subject {
    const char *org;  /* O=, may be NULL */
    const char *cn;   /* CN=, may be NULL */
} certs_subject_t;

typedef struct certs_issue_opts {
    certs_subject_t subject;
    int64_t days;         /* validity from now (the start is backdated 1 h for clock skew) */
    bool ca;              /* a CA certificate (root) instead of a leaf */
    /* Leaf subjectAltName entries: DNS names and IP addresses (textual). */
    const char *const *dns;
    size_t ndns;
    const char *const *ips;
    size_t nips;
} certs_issue_opts_t;

/* Issue a certificate for `key`. Self-signed when issuer_cert is NULL
 * (issuer_key must then be `key`). Returns NULL with err set on failure. */
X509 *certs_issue(const certs_issue_opts_t *o, EVP_PKEY *key, X509 *issuer_cert,
                  EVP_PKEY *issuer_key, char *err, size_t errlen);

/* Load the issuing CA's certificate and key from PEM files and check that
 * they belong together and that the certificate is a CA. */
int certs_ca_load(const char *cert_file, const char *key_file, X509 **cert, EVP_PKEY **key,
                  char *err, size_t errlen);

/* Is s a syntactically valid DNS name (labels of [A-Za-z0-9-], optional
 * leading "*." wildcard)? Used to decide whether the CN doubles as a SAN. */
bool certs_is_dns_name(const char *s);

/* One-line RFC 2253 subject, SHA-256 fingerprint (hex, 65 bytes) and the
 * expiry as ISO 8601, for what `outpost certs` prints. */
void certs_describe(X509 *x, char *subject, size_t slen, char *fp, char *not_after, size_t nalen);

#endif
