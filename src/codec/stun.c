/*
 * stun: see stun.h. Attribute handling is a table (type -> handler); the
 * checks that matter for hostile input are here: the header's length must
 * be the datagram's, every attribute must fit, values have the sizes their
 * RFC gives, and FINGERPRINT ends the message.
 */
#include "codec/stun.h"

#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <string.h>
#include <zlib.h>

enum { FINGERPRINT_XOR = 0x5354554e, INTEGRITY_LEN = 20 };

static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t rd32(const uint8_t *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }
static void wr16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static void wr32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}

/* ---- parsing ------------------------------------------------------------------- */

/* An address attribute: 0 or a reason. xor: XOR-MAPPED-ADDRESS with the
 * magic cookie and, for IPv6, the transaction id. */
static const char *parse_addr(const uint8_t *v, size_t n, const uint8_t *hdr, bool xor, stun_addr_t *a)
{
    if (n < 4)
        return "address attribute too short";
    uint8_t fam = v[1];
    size_t alen = fam == 1 ? 4 : fam == 2 ? 16 : 0;
    if (!alen)
        return "address family neither IPv4 nor IPv6";
    if (n != 4 + alen)
        return "address attribute of the wrong length";
    memset(a, 0, sizeof *a);
    a->family = fam == 1 ? 4 : 6;
    a->port = rd16(v + 2);
    memcpy(a->ip, v + 4, alen);
    if (xor) {
        a->port ^= (uint16_t)(STUN_MAGIC >> 16);
        for (size_t i = 0; i < alen; i++)
            a->ip[i] ^= hdr[4 + i]; /* cookie, then the transaction id */
    }
    return NULL;
}

typedef const char *(*attr_fn)(stun_msg_t *m, const uint8_t *hdr, const uint8_t *v, size_t n);

static const char *a_mapped(stun_msg_t *m, const uint8_t *hdr, const uint8_t *v, size_t n)
{
    m->has_mapped = true;
    return parse_addr(v, n, hdr, false, &m->mapped);
}

static const char *a_xor_mapped(stun_msg_t *m, const uint8_t *hdr, const uint8_t *v, size_t n)
{
    m->has_xor_mapped = true;
    return parse_addr(v, n, hdr, true, &m->xor_mapped);
}

static const char *a_username(stun_msg_t *m, const uint8_t *hdr, const uint8_t *v, size_t n)
{
    (void)hdr;
    if (n == 0 || n >= STUN_USERNAME_MAX)
        return "USERNAME empty or too long";
    if (memchr(v, 0, n))
        return "USERNAME with a NUL byte";
    m->username = (const char *)v;
    m->username_len = n;
    return NULL;
}

static const char *a_error(stun_msg_t *m, const uint8_t *hdr, const uint8_t *v, size_t n)
{
    (void)hdr;
    if (n < 4 || n > 4 + 763)
        return "ERROR-CODE of the wrong length";
    int code = (v[2] & 7) * 100 + v[3];
    if (code < 300 || code > 699 || v[3] > 99)
        return "ERROR-CODE out of range";
    m->error_code = code;
    return NULL;
}

static const char *a_crb(stun_msg_t *m, const uint8_t *hdr, const uint8_t *v, size_t n)
{
    (void)hdr;
    /* TR-111 2.2.1.1: the value is fixed. Some CPEs drop the trailing
     * space; the attribute's presence is what matters. */
    if (!((n == STUN_CRB_LEN && memcmp(v, STUN_CRB_VALUE, n) == 0) ||
          (n == STUN_CRB_LEN - 1 && memcmp(v, STUN_CRB_VALUE, n) == 0)))
        return "CONNECTION-REQUEST-BINDING with a value other than TR-111's";
    m->crb = true;
    return NULL;
}

static const char *a_binding_change(stun_msg_t *m, const uint8_t *hdr, const uint8_t *v, size_t n)
{
    (void)hdr, (void)v;
    if (n != 0)
        return "BINDING-CHANGE with a value";
    m->binding_change = true;
    return NULL;
}

/* Understood without looking inside (their values are not used). */
static const char *a_ignore(stun_msg_t *m, const uint8_t *hdr, const uint8_t *v, size_t n)
{
    (void)m, (void)hdr, (void)v, (void)n;
    return NULL;
}

static const struct {
    uint16_t type;
    attr_fn fn;
} attrs[] = {
    { STUN_A_MAPPED_ADDRESS, a_mapped },
    { STUN_A_XOR_MAPPED_ADDRESS, a_xor_mapped },
    { STUN_A_USERNAME, a_username },
    { STUN_A_ERROR_CODE, a_error },
    { STUN_A_UNKNOWN_ATTRIBUTES, a_ignore },
    { STUN_A_REALM, a_ignore },
    { STUN_A_NONCE, a_ignore },
    { STUN_A_SOFTWARE, a_ignore },
    { STUN_A_ALTERNATE_SERVER, a_ignore },
    { STUN_A_CONNECTION_REQUEST_BINDING, a_crb },
    { STUN_A_BINDING_CHANGE, a_binding_change },
};

static attr_fn attr_handler(uint16_t type)
{
    for (size_t i = 0; i < sizeof attrs / sizeof attrs[0]; i++)
        if (attrs[i].type == type)
            return attrs[i].fn;
    return NULL;
}

static uint32_t fingerprint(const uint8_t *p, size_t upto)
{
    return (uint32_t)crc32(0L, p, (uInt)upto) ^ FINGERPRINT_XOR;
}

int stun_parse(const uint8_t *p, size_t n, stun_msg_t *m, const char **why)
{
    memset(m, 0, sizeof *m);
    const char *w = NULL;
    if (n < STUN_HDR)
        w = "shorter than a STUN header";
    else if (n > STUN_MAX)
        w = "larger than any STUN message accepted";
    else if (p[0] & 0xC0)
        w = "not STUN (the first two bits are not zero)";
    else if (rd32(p + 4) != STUN_MAGIC)
        w = "no RFC 5389 magic cookie";
    else if (rd16(p + 2) % 4 || (size_t)rd16(p + 2) + STUN_HDR != n)
        w = "the header's length is not the datagram's";
    if (w) {
        *why = w;
        return -EPROTO;
    }
    m->type = rd16(p);
    m->len = rd16(p + 2);
    memcpy(m->tid, p + 8, STUN_TID);
    size_t off = STUN_HDR;
    while (off < n) {
        if (n - off < 4) {
            *why = "attribute header cut short";
            return -EPROTO;
        }
        uint16_t type = rd16(p + off), alen = rd16(p + off + 2);
        size_t padded = ((size_t)alen + 3) & ~(size_t)3;
        if (padded > n - off - 4) {
            *why = "attribute longer than the message";
            return -EPROTO;
        }
        const uint8_t *v = p + off + 4;
        if (m->has_fingerprint) {
            *why = "attribute after FINGERPRINT";
            return -EPROTO;
        }
        if (type == STUN_A_FINGERPRINT) {
            if (alen != 4) {
                *why = "FINGERPRINT of the wrong length";
                return -EPROTO;
            }
            /* computed over the message up to this attribute, whose
             * header's length already counts it (it is the last) */
            m->has_fingerprint = true;
            m->fingerprint_ok = fingerprint(p, off) == rd32(v);
            if (!m->fingerprint_ok) {
                *why = "wrong FINGERPRINT";
                return -EPROTO;
            }
        } else if (m->has_integrity) {
            /* RFC 5389 15.4: anything else after MESSAGE-INTEGRITY is ignored */
        } else if (type == STUN_A_MESSAGE_INTEGRITY) {
            if (alen != INTEGRITY_LEN) {
                *why = "MESSAGE-INTEGRITY of the wrong length";
                return -EPROTO;
            }
            m->has_integrity = true;
            m->integrity_off = off;
        } else {
            attr_fn fn = attr_handler(type);
            if (fn) {
                const char *bad = fn(m, p, v, alen);
                if (bad) {
                    *why = bad;
                    return -EPROTO;
                }
            } else if (type < 0x8000 && m->n_unknown < STUN_UNKNOWN_MAX) {
                m->unknown[m->n_unknown++] = type; /* comprehension-required: 420 */
            }
        }
        off += 4 + padded;
    }
    return 0;
}

/* HMAC-SHA1 over the message up to the MESSAGE-INTEGRITY attribute, with
 * the header's length as if that attribute ended the message. */
static void integrity(const uint8_t *p, size_t upto, const char *key, size_t keylen, uint8_t out[INTEGRITY_LEN])
{
    uint8_t copy[STUN_MAX];
    unsigned int olen = INTEGRITY_LEN;
    memset(out, 0, INTEGRITY_LEN);
    if (upto > sizeof copy)
        return; /* never: messages are at most STUN_MAX */
    memcpy(copy, p, upto);
    wr16(copy + 2, (uint16_t)(upto - STUN_HDR + 4 + INTEGRITY_LEN));
    HMAC(EVP_sha1(), key, (int)keylen, copy, upto, out, &olen);
}

bool stun_integrity_ok(const uint8_t *p, size_t n, const stun_msg_t *m, const char *key, size_t keylen)
{
    if (!m->has_integrity || m->integrity_off + 4 + INTEGRITY_LEN > n)
        return false;
    uint8_t want[INTEGRITY_LEN];
    integrity(p, m->integrity_off, key, keylen, want);
    return CRYPTO_memcmp(want, p + m->integrity_off + 4, INTEGRITY_LEN) == 0;
}

int stun_addr_from_sockaddr(const struct sockaddr *sa, stun_addr_t *a)
{
    memset(a, 0, sizeof *a);
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        a->family = 4;
        a->port = ntohs(in->sin_port);
        memcpy(a->ip, &in->sin_addr, 4);
        return 0;
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        a->family = 6;
        a->port = ntohs(in6->sin6_port);
        memcpy(a->ip, &in6->sin6_addr, 16);
        return 0;
    }
    return -EAFNOSUPPORT;
}

void stun_addr_to_sockaddr(const stun_addr_t *a, struct sockaddr_storage *ss)
{
    memset(ss, 0, sizeof *ss);
    if (a->family == 6) {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons(a->port);
        memcpy(&in6->sin6_addr, a->ip, 16);
    } else {
        struct sockaddr_in *in = (struct sockaddr_in *)ss;
        in->sin_family = AF_INET;
        in->sin_port = htons(a->port);
        memcpy(&in->sin_addr, a->ip, 4);
    }
}

/* ---- encoding ------------------------------------------------------------------ */

void stun_enc_start(stun_enc_t *e, uint8_t *buf, size_t cap, uint16_t type, const uint8_t tid[STUN_TID])
{
    e->p = buf;
    e->cap = cap;
    e->len = 0;
    e->overflow = cap < STUN_HDR;
    if (e->overflow)
        return;
    wr16(buf, type);
    wr16(buf + 2, 0);
    wr32(buf + 4, STUN_MAGIC);
    memcpy(buf + 8, tid, STUN_TID);
    e->len = STUN_HDR;
}

static uint8_t *reserve(stun_enc_t *e, uint16_t type, size_t n)
{
    size_t padded = (n + 3) & ~(size_t)3;
    if (e->overflow || n > 0xFFFF || padded + 4 > e->cap - e->len) {
        e->overflow = true;
        return NULL;
    }
    uint8_t *a = e->p + e->len;
    wr16(a, type);
    wr16(a + 2, (uint16_t)n);
    memset(a + 4 + n, 0, padded - n);
    e->len += 4 + padded;
    wr16(e->p + 2, (uint16_t)(e->len - STUN_HDR));
    return a + 4;
}

void stun_enc_attr(stun_enc_t *e, uint16_t type, const void *v, size_t n)
{
    uint8_t *d = reserve(e, type, n);
    if (d && n)
        memcpy(d, v, n);
}

void stun_enc_addr(stun_enc_t *e, bool xor, const stun_addr_t *a)
{
    size_t alen = a->family == 6 ? 16 : 4;
    uint8_t *d = reserve(e, xor ? STUN_A_XOR_MAPPED_ADDRESS : STUN_A_MAPPED_ADDRESS, 4 + alen);
    if (!d)
        return;
    d[0] = 0;
    d[1] = a->family == 6 ? 2 : 1;
    wr16(d + 2, xor ? (uint16_t)(a->port ^ (STUN_MAGIC >> 16)) : a->port);
    for (size_t i = 0; i < alen; i++)
        d[4 + i] = xor ? (uint8_t)(a->ip[i] ^ e->p[4 + i]) : a->ip[i];
}

void stun_enc_error(stun_enc_t *e, int code, const char *reason)
{
    size_t rl = strlen(reason);
    if (rl > 127)
        rl = 127;
    uint8_t *d = reserve(e, STUN_A_ERROR_CODE, 4 + rl);
    if (!d)
        return;
    d[0] = d[1] = 0;
    d[2] = (uint8_t)(code / 100);
    d[3] = (uint8_t)(code % 100);
    memcpy(d + 4, reason, rl);
}

void stun_enc_unknown(stun_enc_t *e, const uint16_t *types, size_t n)
{
    uint8_t *d = reserve(e, STUN_A_UNKNOWN_ATTRIBUTES, 2 * n);
    for (size_t i = 0; d && i < n; i++)
        wr16(d + 2 * i, types[i]);
}

void stun_enc_integrity(stun_enc_t *e, const char *key, size_t keylen)
{
    size_t at = e->len;
    uint8_t *d = reserve(e, STUN_A_MESSAGE_INTEGRITY, INTEGRITY_LEN);
    if (d)
        integrity(e->p, at, key, keylen, d);
}

void stun_enc_fingerprint(stun_enc_t *e)
{
    size_t at = e->len;
    uint8_t *d = reserve(e, STUN_A_FINGERPRINT, 4);
    if (d)
        wr32(d, fingerprint(e->p, at));
}

size_t stun_enc_end(stun_enc_t *e)
{
    return e->overflow ? 0 : e->len;
}
