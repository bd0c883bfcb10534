/*
 * http_auth_nonce: the nonces a Digest server issues, and its nonce-count table.
 *
 * Nonce = hex( ts_ms[8] | serial[8] | HMAC-SHA256(secret, ts|serial)[0..16] ).
 * The MAC makes nonces self-validating (no table entry is needed to issue
 * one, so unauthenticated clients cannot fill memory), ts gives expiry and
 * serial names the nonce in the nonce-count table. The table remembers the
 * highest nc seen per serial; it is a FIFO ring with a hash index, and when
 * the ring is full the oldest entry goes. `forgotten` is the highest serial
 * ever evicted: a nonce at or below it that is not in the table may have
 * been used before, so it is answered stale (the client retries with a fresh
 * nonce) instead of being accepted with an nc we can no longer check.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "core/clock.h"
#include "core/str.h"
#include "net/http_auth_int.h"

int64_t http_auth__now(const http_auth_t *a)
{
    return a->now_ms ? a->now_ms(a->now_ud) : clock_mono_ms();
}

static size_t serial_hash(const http_auth_t *a, uint64_t x)
{
    x ^= x >> 33; /* murmur3 finaliser: serials are sequential */
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return (size_t)x & a->index_mask;
}

static size_t nc_find(const http_auth_t *a, uint64_t serial)
{
    for (size_t i = serial_hash(a, serial); a->index[i]; i = (i + 1) & a->index_mask)
        if (a->ring[a->index[i] - 1].serial == serial)
            return i;
    return SIZE_MAX;
}

/* Linear-probing delete with backward shift (no tombstones to pile up). */
static void nc_unindex(http_auth_t *a, size_t i)
{
    a->index[i] = 0;
    for (size_t j = (i + 1) & a->index_mask; a->index[j]; j = (j + 1) & a->index_mask) {
        size_t k = serial_hash(a, a->ring[a->index[j] - 1].serial);
        /* The entry at j may move to the hole at i unless its home k lies
         * cyclically in (i, j]. */
        bool stays = i <= j ? (i < k && k <= j) : (i < k || k <= j);
        if (!stays) {
            a->index[i] = a->index[j];
            a->index[j] = 0;
            i = j;
        }
    }
}

static void nc_insert(http_auth_t *a, uint64_t serial, uint32_t nc)
{
    size_t slot;
    if (a->ring_len == a->ring_cap) {
        slot = a->ring_head;
        uint64_t old = a->ring[slot].serial;
        nc_unindex(a, nc_find(a, old));
        if (old > a->forgotten)
            a->forgotten = old;
        a->ring_head = (a->ring_head + 1) % a->ring_cap;
    } else {
        slot = (a->ring_head + a->ring_len++) % a->ring_cap;
    }
    a->ring[slot] = (http_auth__nc_entry_t){ serial, nc };
    size_t i = serial_hash(a, serial);
    while (a->index[i])
        i = (i + 1) & a->index_mask;
    a->index[i] = (uint32_t)slot + 1;
}

int http_auth__nc_check(http_auth_t *a, uint64_t serial, uint32_t nc)
{
    int rc = 0;
    pthread_mutex_lock(&a->lock);
    size_t i = nc_find(a, serial);
    if (i != SIZE_MAX) {
        http_auth__nc_entry_t *e = &a->ring[a->index[i] - 1];
        if (nc <= e->nc)
            rc = -EALREADY;
        else
            e->nc = nc;
    } else if (serial <= a->forgotten) {
        rc = -ESTALE;
    } else {
        nc_insert(a, serial, nc);
    }
    pthread_mutex_unlock(&a->lock);
    return rc;
}

static void be64_put(unsigned char *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (unsigned char)v;
}

static uint64_t be64_get(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

static int nonce_mac(const http_auth_t *a, const unsigned char *raw, unsigned char *mac16)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (!HMAC(EVP_sha256(), a->secret, HTTP_AUTH__SECRET_LEN, raw, 16, md, &mdlen) || mdlen < 16)
        return -EIO;
    memcpy(mac16, md, 16);
    return 0;
}

int http_auth__nonce_make(http_auth_t *a, char out[HTTP_AUTH__NONCE_HEX + 1])
{
    unsigned char raw[HTTP_AUTH__NONCE_RAW];
    pthread_mutex_lock(&a->lock);
    uint64_t serial = ++a->next_serial;
    pthread_mutex_unlock(&a->lock);
    be64_put(raw, (uint64_t)http_auth__now(a));
    be64_put(raw + 8, serial);
    int rc = nonce_mac(a, raw, raw + 16);
    if (!rc)
        str_hex(raw, sizeof raw, out);
    return rc;
}

int http_auth__nonce_open(const http_auth_t *a, const char *nonce, size_t len, int64_t *ts,
                          uint64_t *serial)
{
    unsigned char raw[HTTP_AUTH__NONCE_RAW], mac[16];
    /* we only ever issue lowercase */
    if (len != HTTP_AUTH__NONCE_HEX || !str_hex_lower(nonce, len) ||
        str_unhex(nonce, len, raw, sizeof raw) != HTTP_AUTH__NONCE_RAW)
        return -EINVAL;
    if (nonce_mac(a, raw, mac) || CRYPTO_memcmp(mac, raw + 16, 16) != 0)
        return -EINVAL;
    *ts = (int64_t)be64_get(raw);
    *serial = be64_get(raw + 8);
    return 0;
}
