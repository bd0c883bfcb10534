/*
 * certs_main: the `outpost certs` command line. Two subcommands share one
 * options struct: `root` (a self-signed CA) and `leaf` (a certificate signed
 * by that CA). Each writes NAME.cert.pem, NAME.key.pem (0600) and
 * NAME.pkeycert.pem (certificate then key, 0600: the one-file form the
 * original deployed).
 */
#include "certs/certs.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/pem.h>

#include "certs/certs_write.h"
#include "certs/certs_x509.h"
#include "core/config.h"
#include "core/str.h"
#include "core/version.h"

typedef struct certs_opts {
    char *out;
    char *cert_basename; /* the original scripts' name for --out */
    char *org;
    char *cn;
    int64_t days;
    char *key_type;
    bool force;
    char *ca_cert, *ca_key;
    char *ca_certfile, *ca_keyfile; /* the original scripts' names */
    cfg_list_t dns, ips;
} certs_opts_t;

static int check_key_type(const char *v, char *err, size_t n)
{
    certs_key_type_t t;
    if (certs_key_type_parse(v, &t) == 0)
        return 0;
    snprintf(err, n, "expected ec-p256, ec-p384, rsa-2048, rsa-3072 or rsa-4096");
    return -EINVAL;
}

#define COMMON_OPTS(DAYS)                                                                          \
    CFG_OPT("out", CFG_STR, certs_opts_t, out, NULL, "BASENAME",                                   \
            "write BASENAME.cert.pem, BASENAME.key.pem, BASENAME.pkeycert.pem (required)"),        \
    CFG_OPT("cert-basename", CFG_STR, certs_opts_t, cert_basename, NULL, "BASENAME",               \
            "same as --out", .flags = CFG_HIDDEN),                                                 \
    CFG_OPT("subject-org-name", CFG_STR, certs_opts_t, org, NULL, "NAME",                          \
            "organisation (O=) of the subject"),                                                   \
    CFG_OPT("expiration-in-days", CFG_INT, certs_opts_t, days, DAYS, "DAYS",                       \
            "validity period", .min = 1, .max = 36500),                                            \
    CFG_OPT("key-type", CFG_STR, certs_opts_t, key_type, "ec-p256", "TYPE",                        \
            "ec-p256, ec-p384, rsa-2048, rsa-3072 or rsa-4096", .check = check_key_type),         \
    CFG_OPT("force", CFG_BOOL, certs_opts_t, force, "false", NULL,                                 \
            "replace existing files (otherwise an existing file is an error)")

static const cfg_opt_t root_opts[] = {
    COMMON_OPTS("3650"),
    CFG_OPT("cn", CFG_STR, certs_opts_t, cn, NULL, "NAME",
            "common name (CN=) of the CA (default: the organisation, else \"Outpost Root CA\")"),
    CFG_END,
};

static const cfg_opt_t leaf_opts[] = {
    COMMON_OPTS("825"),
    CFG_OPT("cn", CFG_STR, certs_opts_t, cn, NULL, "NAME",
            "common name (CN=) (default: the last part of --out, e.g. ws-proxy)"),
    CFG_OPT("ca-cert", CFG_STR, certs_opts_t, ca_cert, NULL, "FILE", "issuing CA certificate (required)"),
    CFG_OPT("ca-key", CFG_STR, certs_opts_t, ca_key, NULL, "FILE", "issuing CA private key (required)"),
    CFG_OPT("ca-certfile", CFG_STR, certs_opts_t, ca_certfile, NULL, "FILE", "same as --ca-cert",
            .flags = CFG_HIDDEN),
    CFG_OPT("ca-keyfile", CFG_STR, certs_opts_t, ca_keyfile, NULL, "FILE", "same as --ca-key",
            .flags = CFG_HIDDEN),
    CFG_OPT("dns", CFG_LIST, certs_opts_t, dns, NULL, "NAME",
            "subjectAltName DNS entry (default: the CN, when it is a host name)"),
    CFG_OPT("ip", CFG_LIST, certs_opts_t, ips, NULL, "ADDR", "subjectAltName IP entry"),
    CFG_END,
};

static const cfg_cmd_t root_cmd = {
    .name = "certs root",
    .summary = "Make a self-signed root CA: the trust anchor of every relay and tunnel peer.",
    .opts = root_opts,
};

static const cfg_cmd_t leaf_cmd = {
    .name = "certs leaf",
    .summary = "Make a certificate signed by the root CA, usable as TLS server and client\n"
               "(serverAuth + clientAuth): the relay's own, or a peer's.",
    .opts = leaf_opts,
};

static void usage(FILE *out)
{
    fprintf(out, "usage: outpost certs root|leaf [OPTIONS]   (outpost certs root --help)\n\n"
                 "Makes the certificates for mutual TLS between relay/tunnel peers.\n\n"
                 "  root   a self-signed root CA (keep its key offline)\n"
                 "  leaf   a certificate signed by the root CA\n\n"
                 "example:\n"
                 "  outpost certs root --out lib/ws-root --subject-org-name \"Example Root\"\n"
                 "  outpost certs leaf --out lib/ws-proxy --subject-org-name \"Example Relay\" \\\n"
                 "      --ca-cert lib/ws-root.cert.pem --ca-key lib/ws-root.key.pem --dns relay.example.net\n");
}

/* PEM text of a certificate and/or key, appended to out. */
static int pem_append(buf_t *out, X509 *cert, EVP_PKEY *key)
{
    BIO *b = BIO_new(BIO_s_mem());
    if (!b)
        return -ENOMEM;
    int ok = 1;
    if (cert)
        ok = PEM_write_bio_X509(b, cert);
    if (ok && key)
        ok = PEM_write_bio_PrivateKey(b, key, NULL, NULL, 0, NULL, NULL);
    char *p;
    long n = BIO_get_mem_data(b, &p);
    int rc = ok && n >= 0 ? buf_append(out, p, (size_t)n) : -EIO;
    BIO_free(b);
    return rc;
}

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

static int issue_and_write(const char *cmd, const certs_opts_t *o, bool root)
{
    char err[CERTS_ERR_LEN] = "";
    certs_key_type_t kt;
    certs_key_type_parse(o->key_type, &kt);
    X509 *ca_cert = NULL, *cert = NULL;
    EVP_PKEY *ca_key = NULL, *key = NULL;
    buf_t pem[3] = { BUF_INIT(1 << 20), BUF_INIT(1 << 20), BUF_INIT(1 << 20) };
    int rc = -EINVAL;

    if (!root && certs_ca_load(o->ca_cert, o->ca_key, &ca_cert, &ca_key, err, sizeof err))
        goto out;
    if (!(key = certs_key_generate(kt, err, sizeof err)))
        goto out;

    certs_issue_opts_t io = { .subject = { o->org, o->cn }, .days = o->days, .ca = root };
    const char *cn_default = base_name(o->out);
    if (!io.subject.cn || !*io.subject.cn)
        io.subject.cn = root ? (o->org && *o->org ? o->org : "Outpost Root CA") : cn_default;
    io.dns = (const char *const *)o->dns.v;
    io.ndns = o->dns.n;
    io.ips = (const char *const *)o->ips.v;
    io.nips = o->ips.n;
    const char *cn_san[1] = { io.subject.cn };
    if (!root && io.ndns == 0 && io.nips == 0 && certs_is_dns_name(io.subject.cn)) {
        io.dns = cn_san; /* modern TLS clients ignore the CN: name it in the SAN too */
        io.ndns = 1;
    }
    if (io.ndns + io.nips > CERTS_MAX_SANS) {
        snprintf(err, sizeof err, "at most %d subjectAltName entries", CERTS_MAX_SANS);
        goto out;
    }
    if (!(cert = certs_issue(&io, key, ca_cert, root ? key : ca_key, err, sizeof err)))
        goto out;
    if (ca_cert && ASN1_TIME_compare(X509_get0_notAfter(ca_cert), X509_get0_notAfter(cert)) < 0)
        fprintf(stderr, "outpost %s: warning: the certificate outlives its CA; it stops verifying "
                        "when the CA expires\n", cmd);

    if (pem_append(&pem[0], cert, NULL) || pem_append(&pem[1], NULL, key) ||
        pem_append(&pem[2], cert, key)) {
        snprintf(err, sizeof err, "cannot encode PEM");
        goto out;
    }
    char paths[3][4096];
    static const char *const suffix[3] = { ".cert.pem", ".key.pem", ".pkeycert.pem" };
    for (int i = 0; i < 3; i++)
        if (snprintf(paths[i], sizeof paths[i], "%s%s", o->out, suffix[i]) >= (int)sizeof paths[i]) {
            snprintf(err, sizeof err, "--out is too long");
            goto out;
        }
    certs_file_t files[3] = {
        { paths[0], pem[0].data, pem[0].len, 0644 },
        { paths[1], pem[1].data, pem[1].len, 0600 },
        { paths[2], pem[2].data, pem[2].len, 0600 },
    };
    if ((rc = certs_write_files(files, 3, o->force, err, sizeof err)))
        goto out;

    char subject[256], fp[EVP_MAX_MD_SIZE * 2 + 1], expires[32];
    certs_describe(cert, subject, sizeof subject, fp, expires, sizeof expires);
    printf("wrote %s subject=\"%s\" key=%s expires=%s sha256=%s\n", paths[0], subject,
           certs_key_type_name(kt), expires, fp);
    printf("wrote %s (mode 0600)\nwrote %s (mode 0600)\n", paths[1], paths[2]);
    if (root)
        printf("keep %s offline: whoever holds it can mint peers the relay trusts\n", paths[1]);
    rc = 0;
out:
    if (rc || err[0])
        fprintf(stderr, "outpost %s: %s\n", cmd, err[0] ? err : "failed");
    for (int i = 0; i < 3; i++)
        buf_free(&pem[i]);
    X509_free(cert);
    X509_free(ca_cert);
    EVP_PKEY_free(key);
    EVP_PKEY_free(ca_key);
    return rc ? 1 : 0;
}

/* Fold the original scripts' option names into ours. */
static int merge_alias(const char *cmd, char **ours, char **alias, const char *name)
{
    if (!*alias)
        return 0;
    if (*ours && strcmp(*ours, *alias) != 0) {
        fprintf(stderr, "outpost %s: --%s and its alias disagree\n", cmd, name);
        return -EINVAL;
    }
    free(*ours);
    *ours = *alias;
    *alias = NULL;
    return 0;
}

int certs_main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "--man") == 0) { /* outpost-certs(1): the two kinds, each with its page */
        printf(".TH OUTPOST\\-CERTS 1 \"\" \"outpost %s\" \"Outpost\"\n.SH NAME\n"
               "outpost\\-certs \\- make the root CA and leaf certificates for relay and tunnel peers\n"
               ".SH SYNOPSIS\n.B outpost certs\n\\fBroot\\fR|\\fBleaf\\fR [\\fIOPTIONS\\fR]\n"
               ".SH DESCRIPTION\n.TP\n.B root\na self\\-signed root CA (keep its key offline)\n"
               ".TP\n.B leaf\na certificate signed by the root CA, usable as TLS server and client\n"
               ".SH SEE ALSO\n.BR outpost\\-certs\\-root (1),\n.BR outpost\\-certs\\-leaf (1)\n",
               OUTPOST_VERSION);
        return 0;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("outpost certs %s (commit %s)\n", OUTPOST_VERSION, OUTPOST_COMMIT);
        return 0;
    }
    bool root = strcmp(argv[1], "root") == 0;
    if (!root && strcmp(argv[1], "leaf") != 0) {
        fprintf(stderr, "outpost certs: unknown subcommand '%s' (root or leaf)\n\n", argv[1]);
        usage(stderr);
        return 2;
    }
    const cfg_cmd_t *cmd = root ? &root_cmd : &leaf_cmd;
    certs_opts_t o = { 0 };
    cfg_result_t res;
    int rc = cfg_load(cmd, &o, argc - 1, argv + 1, &res);
    if (rc)
        return rc > 0 ? 0 : 2;
    rc = merge_alias(cmd->name, &o.out, &o.cert_basename, "out");
    if (!rc)
        rc = merge_alias(cmd->name, &o.ca_cert, &o.ca_certfile, "ca-cert");
    if (!rc)
        rc = merge_alias(cmd->name, &o.ca_key, &o.ca_keyfile, "ca-key");
    if (!rc && (!o.out || !*o.out)) {
        fprintf(stderr, "outpost %s: --out BASENAME is required\n", cmd->name);
        rc = -EINVAL;
    }
    if (!rc && !root && (!o.ca_cert || !o.ca_key)) {
        fprintf(stderr, "outpost %s: --ca-cert and --ca-key are required\n", cmd->name);
        rc = -EINVAL;
    }
    int status = rc ? 2 : issue_and_write(cmd->name, &o, root);
    cfg_free(cmd, &o);
    return status;
}
