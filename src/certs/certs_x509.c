#include "certs/certs_x509.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "core/str.h"

/* Format the reason and append OpenSSL's most recent error, if any. */
static void seterr(char *err, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void seterr(char *err, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(err, n, fmt, ap);
    va_end(ap);
    unsigned long e = ERR_peek_last_error();
    if (e && k > 0 && (size_t)k + 3 < n) {
        char ossl[160];
        ERR_error_string_n(e, ossl, sizeof ossl);
        snprintf(err + k, n - (size_t)k, " (%s)", ossl);
    }
    ERR_clear_error();
}

static const struct {
    const char *name;
    certs_key_type_t type;
} key_names[] = {
    { "ec-p256", CERTS_KEY_EC_P256 }, { "ec", CERTS_KEY_EC_P256 },     { "p256", CERTS_KEY_EC_P256 },
    { "prime256v1", CERTS_KEY_EC_P256 }, { "ec-p384", CERTS_KEY_EC_P384 }, { "p384", CERTS_KEY_EC_P384 },
    { "rsa-2048", CERTS_KEY_RSA_2048 }, { "rsa", CERTS_KEY_RSA_2048 }, { "rsa2048", CERTS_KEY_RSA_2048 },
    { "rsa-3072", CERTS_KEY_RSA_3072 }, { "rsa3072", CERTS_KEY_RSA_3072 },
    { "rsa-4096", CERTS_KEY_RSA_4096 }, { "rsa4096", CERTS_KEY_RSA_4096 },
};

int certs_key_type_parse(const char *s, certs_key_type_t *out)
{
    for (size_t i = 0; i < sizeof key_names / sizeof key_names[0]; i++)
        if (strcasecmp(s, key_names[i].name) == 0) {
            *out = key_names[i].type;
            return 0;
        }
    return -EINVAL;
}

const char *certs_key_type_name(certs_key_type_t t)
{
    switch (t) {
    case CERTS_KEY_EC_P256: return "ec-p256";
    case CERTS_KEY_EC_P384: return "ec-p384";
    case CERTS_KEY_RSA_2048: return "rsa-2048";
    case CERTS_KEY_RSA_3072: return "rsa-3072";
    case CERTS_KEY_RSA_4096: return "rsa-4096";
    }
    return "?";
}

EVP_PKEY *certs_key_generate(certs_key_type_t t, char *err, size_t errlen)
{
    EVP_PKEY *k = NULL;
    switch (t) {
    case CERTS_KEY_EC_P256: k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256"); break;
    case CERTS_KEY_EC_P384: k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384"); break;
    case CERTS_KEY_RSA_2048: k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048); break;
    case CERTS_KEY_RSA_3072: k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)3072); break;
    case CERTS_KEY_RSA_4096: k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)4096); break;
    }
    if (!k)
        seterr(err, errlen, "key generation (%s) failed", certs_key_type_name(t));
    return k;
}

bool certs_is_dns_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 253)
        return false;
    if (strncmp(s, "*.", 2) == 0)
        s += 2;
    size_t label = 0;
    char prev = '.';
    for (const char *p = s; *p; p++) {
        char c = *p;
        if (c == '.') {
            if (label == 0 || prev == '-')
                return false;
            label = 0;
        } else if (isalnum((unsigned char)c) || c == '-' || c == '_') {
            if (c == '-' && label == 0)
                return false;
            if (++label > 63)
                return false;
        } else {
            return false;
        }
        prev = c;
    }
    return label > 0 && prev != '-';
}

/* A random positive 159-bit serial (RFC 5280: at most 20 octets, positive;
 * CA/B asks for at least 64 bits of entropy). */
static int set_serial(X509 *x)
{
    unsigned char raw[20];
    if (RAND_bytes(raw, sizeof raw) != 1)
        return -EIO;
    raw[0] &= 0x7f;
    raw[0] |= 0x01; /* never a short or zero serial */
    BIGNUM *bn = BN_bin2bn(raw, sizeof raw, NULL);
    if (!bn)
        return -ENOMEM;
    ASN1_INTEGER *ai = BN_to_ASN1_INTEGER(bn, NULL);
    BN_free(bn);
    if (!ai)
        return -ENOMEM;
    int ok = X509_set_serialNumber(x, ai);
    ASN1_INTEGER_free(ai);
    return ok == 1 ? 0 : -EIO;
}

static int set_subject(X509 *x, const certs_subject_t *s)
{
    X509_NAME *name = X509_get_subject_name(x);
    if (s->org && *s->org &&
        !X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8, (const unsigned char *)s->org, -1, -1, 0))
        return -EINVAL;
    if (s->cn && *s->cn &&
        !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)s->cn, -1, -1, 0))
        return -EINVAL;
    if (X509_NAME_entry_count(name) == 0)
        return -EINVAL;
    return 0;
}

static int add_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value)
{
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, ctx, nid, value);
    if (!ext)
        return -EINVAL;
    int ok = X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
    return ok ? 0 : -EINVAL;
}

/* "DNS:a,DNS:b,IP:1.2.3.4" from the option lists. */
static int build_san(const certs_issue_opts_t *o, buf_t *out, char *err, size_t errlen)
{
    for (size_t i = 0; i < o->ndns; i++) {
        if (!certs_is_dns_name(o->dns[i])) {
            snprintf(err, errlen, "--dns %s: not a valid DNS name", o->dns[i]);
            return -EINVAL;
        }
        if (buf_printf(out, "%sDNS:%s", out->len ? "," : "", o->dns[i]))
            return -ENOMEM;
    }
    for (size_t i = 0; i < o->nips; i++) {
        ASN1_OCTET_STRING *ip = a2i_IPADDRESS(o->ips[i]);
        if (!ip) {
            ERR_clear_error();
            snprintf(err, errlen, "--ip %s: not an IPv4 or IPv6 address", o->ips[i]);
            return -EINVAL;
        }
        ASN1_OCTET_STRING_free(ip);
        if (buf_printf(out, "%sIP:%s", out->len ? "," : "", o->ips[i]))
            return -ENOMEM;
    }
    return 0;
}

static int add_extensions(X509 *x, const certs_issue_opts_t *o, EVP_PKEY *key, X509 *issuer,
                          char *err, size_t errlen)
{
    X509V3_CTX ctx;
    X509V3_set_ctx(&ctx, issuer ? issuer : x, x, NULL, NULL, 0);
    int rc;
    if (o->ca) {
        rc = add_ext(x, &ctx, NID_basic_constraints, "critical,CA:TRUE");
        if (!rc)
            rc = add_ext(x, &ctx, NID_key_usage, "critical,keyCertSign,cRLSign,digitalSignature");
    } else {
        rc = add_ext(x, &ctx, NID_basic_constraints, "critical,CA:FALSE");
        /* RSA key exchange (TLS 1.2 RSA suites) also needs keyEncipherment. */
        if (!rc)
            rc = add_ext(x, &ctx, NID_key_usage,
                         EVP_PKEY_is_a(key, "RSA") ? "critical,digitalSignature,keyEncipherment"
                                                   : "critical,digitalSignature");
        /* One certificate serves both ends: the relay presents it as a
         * server, peers present theirs as clients (as the original did). */
        if (!rc)
            rc = add_ext(x, &ctx, NID_ext_key_usage, "serverAuth,clientAuth");
    }
    if (!rc)
        rc = add_ext(x, &ctx, NID_subject_key_identifier, "hash");
    if (!rc && issuer)
        rc = add_ext(x, &ctx, NID_authority_key_identifier, "keyid:always");
    if (rc) {
        seterr(err, errlen, "cannot add certificate extensions");
        return rc;
    }
    if (o->ca)
        return 0;
    buf_t san = BUF_INIT(16384);
    rc = build_san(o, &san, err, errlen);
    if (!rc && san.len && add_ext(x, &ctx, NID_subject_alt_name, san.data)) {
        seterr(err, errlen, "cannot add subjectAltName %s", san.data);
        rc = -EINVAL;
    }
    buf_free(&san);
    return rc;
}

X509 *certs_issue(const certs_issue_opts_t *o, EVP_PKEY *key, X509 *issuer_cert,
                  EVP_PKEY *issuer_key, char *err, size_t errlen)
{
    X509 *x = X509_new();
    if (!x) {
        seterr(err, errlen, "out of memory");
        return NULL;
    }
    if (!X509_set_version(x, X509_VERSION_3) || set_serial(x)) {
        seterr(err, errlen, "cannot set version/serial");
        goto fail;
    }
    /* Backdated one hour: a peer whose clock is a little behind ours must
     * not reject a certificate made a minute ago. */
    if (!X509_gmtime_adj(X509_getm_notBefore(x), -3600) ||
        !X509_time_adj_ex(X509_getm_notAfter(x), (int)o->days, 0, NULL)) {
        seterr(err, errlen, "cannot set the validity period");
        goto fail;
    }
    if (set_subject(x, &o->subject)) {
        seterr(err, errlen, "the subject needs an organisation name or a common name");
        goto fail;
    }
    X509_NAME *issuer_name = issuer_cert ? X509_get_subject_name(issuer_cert) : X509_get_subject_name(x);
    if (!X509_set_issuer_name(x, issuer_name) || !X509_set_pubkey(x, key)) {
        seterr(err, errlen, "cannot set issuer or public key");
        goto fail;
    }
    if (add_extensions(x, o, key, issuer_cert, err, errlen))
        goto fail;
    if (!X509_sign(x, issuer_key, EVP_sha256())) {
        seterr(err, errlen, "signing failed");
        goto fail;
    }
    return x;
fail:
    X509_free(x);
    return NULL;
}

int certs_ca_load(const char *cert_file, const char *key_file, X509 **cert, EVP_PKEY **key,
                  char *err, size_t errlen)
{
    *cert = NULL;
    *key = NULL;
    FILE *f = fopen(cert_file, "r");
    if (!f) {
        int e = errno;
        snprintf(err, errlen, "--ca-cert %s: %s", cert_file, strerror(e));
        return -e;
    }
    *cert = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    if (!*cert) {
        seterr(err, errlen, "--ca-cert %s: no PEM certificate", cert_file);
        return -EINVAL;
    }
    f = fopen(key_file, "r");
    if (!f) {
        int e = errno;
        snprintf(err, errlen, "--ca-key %s: %s", key_file, strerror(e));
        goto fail;
    }
    *key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    fclose(f);
    if (!*key) {
        seterr(err, errlen, "--ca-key %s: no (unencrypted) PEM private key", key_file);
        goto fail;
    }
    if (X509_check_private_key(*cert, *key) != 1) {
        seterr(err, errlen, "--ca-key %s does not belong to --ca-cert %s", key_file, cert_file);
        goto fail;
    }
    if (X509_check_ca(*cert) == 0) {
        seterr(err, errlen, "--ca-cert %s is not a CA certificate", cert_file);
        goto fail;
    }
    return 0;
fail:
    X509_free(*cert);
    EVP_PKEY_free(*key);
    *cert = NULL;
    *key = NULL;
    return -EINVAL;
}

void certs_describe(X509 *x, char *subject, size_t slen, char *fp, char *not_after, size_t nalen)
{
    subject[0] = '\0';
    BIO *b = BIO_new(BIO_s_mem());
    if (b && X509_NAME_print_ex(b, X509_get_subject_name(x), 0, XN_FLAG_RFC2253) >= 0) {
        int n = BIO_read(b, subject, (int)slen - 1);
        subject[n > 0 ? n : 0] = '\0';
    }
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (X509_digest(x, EVP_sha256(), md, &mdlen))
        str_hex(md, mdlen, fp);
    else
        fp[0] = '\0';
    not_after[0] = '\0';
    struct tm tm;
    if (ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm))
        strftime(not_after, nalen, "%Y-%m-%dT%H:%M:%SZ", &tm);
    BIO_free(b);
}
