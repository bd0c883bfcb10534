/*
 * udpcr: see udpcr.h. The parser accepts exactly one request line with an
 * absolute http URI whose query carries the five fields once each (others
 * are ignored), then header lines up to an empty line; a Host header is
 * required (HTTP/1.1). Every field has a cap; the whole datagram too.
 */
#include "codec/udpcr.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/str.h"

/* un in the URI: RFC 3986 unreserved characters stay, the rest is %XX. */
static int put_user(char *out, size_t cap, size_t *len, const char *un)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *s = (const unsigned char *)un; *s; s++) {
        bool keep = (*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
                    *s == '-' || *s == '.' || *s == '_' || *s == '~';
        if (*len + 3 >= cap)
            return -ENAMETOOLONG;
        if (keep) {
            out[(*len)++] = (char)*s;
        } else {
            out[(*len)++] = '%';
            out[(*len)++] = hex[*s >> 4];
            out[(*len)++] = hex[*s & 15];
        }
    }
    out[*len] = '\0';
    return 0;
}

void udpcr_sign(int64_t ts, uint32_t id, const char *un, const char *cn, const char *password,
                char out[UDPCR_SIG_LEN + 1])
{
    char text[32 + UDPCR_USER_MAX + UDPCR_CN_MAX + 1];
    int n = snprintf(text, sizeof text, "%lld%u%s%s", (long long)ts, id, un, cn);
    unsigned char mac[20];
    unsigned int mlen = sizeof mac;
    /* fail closed: no signature (never a fixed one a forger could send) */
    out[0] = '\0';
    if (n > 0 && (size_t)n < sizeof text &&
        HMAC(EVP_sha1(), password, (int)strlen(password), (const unsigned char *)text, (size_t)n, mac, &mlen))
        str_hex(mac, sizeof mac, out);
}

int udpcr_build(char *out, size_t cap, const char *hostport, int64_t ts, uint32_t id, const char *un,
                const char *cn, const char *password)
{
    char rnd[17];
    if (!cn) {
        if (str_random_hex(rnd, 8) != 0)
            return -EIO;
        cn = rnd;
    }
    if (ts < 0 || strlen(un) > UDPCR_USER_MAX || strlen(cn) > UDPCR_CN_MAX || strlen(hostport) > UDPCR_HOST_MAX ||
        !*hostport || strpbrk(hostport, " \r\n/?#") || strpbrk(cn, " \r\n&%#"))
        return -EINVAL;
    if (cap > UDPCR_MAX + 1)
        cap = UDPCR_MAX + 1;
    char sig[UDPCR_SIG_LEN + 1];
    udpcr_sign(ts, id, un, cn, password, sig);
    if (!sig[0])
        return -EINVAL;
    size_t len = 0;
    int n = snprintf(out, cap, "GET http://%s?ts=%lld&id=%u&un=", hostport, (long long)ts, id);
    if (n < 0 || (size_t)n >= cap)
        return -ENAMETOOLONG;
    len = (size_t)n;
    if (put_user(out, cap, &len, un) != 0)
        return -ENAMETOOLONG;
    n = snprintf(out + len, cap - len, "&cn=%s&sig=%s HTTP/1.1\r\nHost: %s\r\n\r\n", cn, sig, hostport);
    if (n < 0 || (size_t)n >= cap - len)
        return -ENAMETOOLONG;
    return (int)(len + (size_t)n);
}

/* ---- parsing ------------------------------------------------------------------- */

/* A query value %-decoded into out (cap incl. NUL); no NUL or controls. */
static const char *decode(const char *v, size_t n, char *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        int c = (unsigned char)v[i];
        if (c == '%') {
            int h = i + 2 < n ? str_hexval(v[i + 1]) : -1, l = i + 2 < n ? str_hexval(v[i + 2]) : -1;
            if (h < 0 || l < 0)
                return "a bad %-escape in the query";
            c = h * 16 + l;
            i += 2;
        }
        if (c < 0x20 || c == 0x7f)
            return "a control character in a query value";
        if (o + 1 >= cap)
            return "a query value too long";
        out[o++] = (char)c;
    }
    out[o] = '\0';
    return NULL;
}

enum { F_TS = 1, F_ID = 2, F_UN = 4, F_CN = 8, F_SIG = 16, F_ALL = 31 };

static const char *field(udpcr_t *m, const char *k, size_t kn, const char *v, size_t vn, unsigned *seen)
{
    static const struct {
        const char *name;
        unsigned bit;
    } names[] = { { "ts", F_TS }, { "id", F_ID }, { "un", F_UN }, { "cn", F_CN }, { "sig", F_SIG } };
    unsigned bit = 0;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strlen(names[i].name) == kn && memcmp(names[i].name, k, kn) == 0)
            bit = names[i].bit;
    if (!bit)
        return NULL; /* other fields are ignored */
    if (*seen & bit)
        return "a query field given twice";
    *seen |= bit;
    char tmp[UDPCR_USER_MAX + 1];
    const char *bad = decode(v, vn, tmp, sizeof tmp);
    if (bad)
        return bad;
    uint64_t u;
    switch (bit) {
    case F_TS:
        if (!*tmp || str_to_u64n(tmp, strlen(tmp), INT64_MAX / 2, &u) != 0)
            return "ts is not a number of seconds";
        m->ts = (int64_t)u;
        return NULL;
    case F_ID:
        if (!*tmp || str_to_u64n(tmp, strlen(tmp), UINT32_MAX, &u) != 0)
            return "id is not an unsigned 32-bit number";
        m->id = (uint32_t)u;
        return NULL;
    case F_UN:
        return str_copy(m->un, sizeof m->un, tmp) == 0 ? NULL : "un too long";
    case F_CN:
        if (!*tmp)
            return "cn is empty";
        return str_copy(m->cn, sizeof m->cn, tmp) == 0 ? NULL : "cn too long";
    default:
        if (strlen(tmp) != UDPCR_SIG_LEN)
            return "sig is not 40 hex digits";
        for (size_t i = 0; i < UDPCR_SIG_LEN; i++) {
            if (str_hexval(tmp[i]) < 0)
                return "sig is not 40 hex digits";
            m->sig[i] = (char)(tmp[i] >= 'A' && tmp[i] <= 'F' ? tmp[i] - 'A' + 'a' : tmp[i]);
        }
        m->sig[UDPCR_SIG_LEN] = '\0';
        return NULL;
    }
}

static const char *parse_uri(udpcr_t *m, const char *u, size_t n)
{
    static const char scheme[] = "http://";
    if (n < sizeof scheme || strncasecmp(u, scheme, sizeof scheme - 1) != 0)
        return "the Request-URI is not an absolute http URI";
    const char *a = u + sizeof scheme - 1, *end = u + n;
    const char *q = memchr(a, '?', (size_t)(end - a));
    if (!q)
        return "the Request-URI has no query";
    const char *slash = memchr(a, '/', (size_t)(q - a));
    const char *aend = slash ? slash : q;
    if (aend == a || (size_t)(aend - a) > UDPCR_HOST_MAX)
        return "the Request-URI's host is empty or too long";
    if (slash && !(q - slash == 1))
        return "the Request-URI has a path";
    memcpy(m->host, a, (size_t)(aend - a));
    m->host[aend - a] = '\0';
    unsigned seen = 0;
    for (const char *p = q + 1; p < end;) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *fe = amp ? amp : end;
        const char *eq = memchr(p, '=', (size_t)(fe - p));
        if (!eq)
            return "a query field without '='";
        const char *bad = field(m, p, (size_t)(eq - p), eq + 1, (size_t)(fe - eq - 1), &seen);
        if (bad)
            return bad;
        p = amp ? amp + 1 : end;
    }
    return seen == F_ALL ? NULL : "a query field of ts, id, un, cn, sig is missing";
}

int udpcr_parse(const char *p, size_t n, udpcr_t *m, const char **why)
{
    memset(m, 0, sizeof *m);
    const char *w = NULL;
    const char *eol = n <= UDPCR_MAX ? memchr(p, '\n', n) : NULL;
    if (n > UDPCR_MAX)
        w = "larger than a UDP connection request";
    else if (n < 4 || memcmp(p, "GET ", 4) != 0)
        w = "not a GET request";
    else if (!eol || eol == p || eol[-1] != '\r')
        w = "the request line does not end in CRLF";
    if (!w) {
        const char *line_end = eol - 1;
        const char *sp = NULL;
        for (const char *s = line_end; s > p + 4; s--)
            if (s[-1] == ' ') {
                sp = s - 1;
                break;
            }
        if (!sp || (size_t)(line_end - sp - 1) != 8 || memcmp(sp + 1, "HTTP/1.1", 8) != 0)
            w = "not HTTP/1.1";
        for (const char *c = p + 4; !w && c < sp; c++)
            if ((unsigned char)*c <= 0x20 || (unsigned char)*c >= 0x7f)
                w = "a space, control or non-ASCII byte in the Request-URI"; /* RFC 3986 */
        if (!w)
            w = parse_uri(m, p + 4, (size_t)(sp - p - 4));
    }
    /* headers: Host required; the message ends with an empty line */
    bool host = false, ended = false;
    for (const char *l = w ? NULL : eol + 1; l && l < p + n;) {
        const char *e = memchr(l, '\n', (size_t)(p + n - l));
        if (!e || e == l || e[-1] != '\r') {
            w = "a header line does not end in CRLF";
            break;
        }
        if (e - 1 == l) {
            ended = true;
            break;
        }
        if ((size_t)(e - l) > 5 && strncasecmp(l, "Host:", 5) == 0)
            host = true;
        for (const char *c = l; c < e - 1; c++)
            if ((unsigned char)*c < 0x20 && *c != '\t') {
                w = "a control character in a header";
                break;
            }
        if (w)
            break;
        l = e + 1;
    }
    if (!w && !ended)
        w = "the headers do not end with an empty line";
    if (!w && !host)
        w = "no Host header";
    if (w) {
        *why = w;
        return -EPROTO;
    }
    return 0;
}

bool udpcr_verify(const udpcr_t *m, const char *password)
{
    char want[UDPCR_SIG_LEN + 1];
    udpcr_sign(m->ts, m->id, m->un, m->cn, password, want);
    return strlen(want) == UDPCR_SIG_LEN && strlen(m->sig) == UDPCR_SIG_LEN &&
           CRYPTO_memcmp(want, m->sig, UDPCR_SIG_LEN) == 0;
}
