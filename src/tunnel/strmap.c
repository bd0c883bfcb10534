/* strmap: SipHash-keyed open-addressing table (see strmap.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/str.h"
#include "tunnel/strmap.h"

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND                                                                       \
    do {                                                                               \
        v0 += v1; v1 = ROTL(v1, 13); v1 ^= v0; v0 = ROTL(v0, 32);                      \
        v2 += v3; v3 = ROTL(v3, 16); v3 ^= v2;                                         \
        v0 += v3; v3 = ROTL(v3, 21); v3 ^= v0;                                         \
        v2 += v1; v1 = ROTL(v1, 17); v1 ^= v2; v2 = ROTL(v2, 32);                      \
    } while (0)

uint64_t tunnel_siphash(uint64_t k0, uint64_t k1, const void *data, size_t len)
{
    const uint8_t *p = data;
    uint64_t v0 = 0x736f6d6570736575ULL ^ k0, v1 = 0x646f72616e646f6dULL ^ k1;
    uint64_t v2 = 0x6c7967656e657261ULL ^ k0, v3 = 0x7465646279746573ULL ^ k1;
    size_t left = len;
    for (; left >= 8; p += 8, left -= 8) {
        uint64_t m = 0;
        for (int i = 7; i >= 0; i--)
            m = (m << 8) | p[i];
        v3 ^= m;
        SIPROUND;
        SIPROUND;
        v0 ^= m;
    }
    uint64_t b = (uint64_t)len << 56;
    for (size_t i = 0; i < left; i++)
        b |= (uint64_t)p[i] << (8 * i);
    v3 ^= b;
    SIPROUND;
    SIPROUND;
    v0 ^= b;
    v2 ^= 0xff;
    SIPROUND;
    SIPROUND;
    SIPROUND;
    SIPROUND;
    return v0 ^ v1 ^ v2 ^ v3;
}

void tunnel_map_init(tunnel_map_t *m)
{
    memset(m, 0, sizeof *m);
    uint64_t k[2] = { 0x0123456789abcdefULL, 0xfedcba9876543210ULL };
    (void)str_random(k, sizeof k); /* a fixed key still works, just predictably */
    m->k0 = k[0];
    m->k1 = k[1];
}

void tunnel_map_free(tunnel_map_t *m)
{
    free(m->slots);
    m->slots = NULL;
    m->cap = m->len = 0;
}

static size_t find(const tunnel_map_t *m, const char *key, size_t klen, uint64_t h, int *found)
{
    size_t mask = m->cap - 1, i = (size_t)h & mask;
    for (;;) {
        const tunnel_map_slot_t *s = &m->slots[i];
        if (!s->key) {
            *found = 0;
            return i;
        }
        if (s->hash == h && s->klen == klen && memcmp(s->key, key, klen) == 0) {
            *found = 1;
            return i;
        }
        i = (i + 1) & mask;
    }
}

void *tunnel_map_get(const tunnel_map_t *m, const char *key, size_t klen)
{
    if (!m->len)
        return NULL;
    int found;
    size_t i = find(m, key, klen, tunnel_siphash(m->k0, m->k1, key, klen), &found);
    return found ? m->slots[i].value : NULL;
}

static int grow(tunnel_map_t *m)
{
    size_t ncap = m->cap ? m->cap * 2 : 16;
    tunnel_map_slot_t *old = m->slots;
    size_t ocap = m->cap;
    tunnel_map_slot_t *ns = calloc(ncap, sizeof *ns);
    if (!ns)
        return -ENOMEM;
    m->slots = ns;
    m->cap = ncap;
    for (size_t i = 0; i < ocap; i++) {
        if (!old[i].key)
            continue;
        int found;
        size_t j = find(m, old[i].key, old[i].klen, old[i].hash, &found);
        m->slots[j] = old[i];
    }
    free(old);
    return 0;
}

int tunnel_map_put(tunnel_map_t *m, const char *key, size_t klen, void *value)
{
    if ((m->len + 1) * 4 > m->cap * 3 && grow(m) != 0)
        return -ENOMEM;
    uint64_t h = tunnel_siphash(m->k0, m->k1, key, klen);
    int found;
    size_t i = find(m, key, klen, h, &found);
    if (found)
        return -EEXIST;
    m->slots[i] = (tunnel_map_slot_t){ key, klen, h, value };
    m->len++;
    return 0;
}

void *tunnel_map_del(tunnel_map_t *m, const char *key, size_t klen)
{
    if (!m->len)
        return NULL;
    int found;
    size_t i = find(m, key, klen, tunnel_siphash(m->k0, m->k1, key, klen), &found);
    if (!found)
        return NULL;
    void *v = m->slots[i].value;
    size_t mask = m->cap - 1, j = i;
    /* Backward-shift: move later members of the probe run into the hole. */
    for (;;) {
        j = (j + 1) & mask;
        if (!m->slots[j].key)
            break;
        size_t home = (size_t)m->slots[j].hash & mask;
        /* slot j may move to i if its home is not in the cyclic range (i, j] */
        if ((j > i && (home <= i || home > j)) || (j < i && (home <= i && home > j))) {
            m->slots[i] = m->slots[j];
            i = j;
        }
    }
    m->slots[i] = (tunnel_map_slot_t){ 0 };
    m->len--;
    return v;
}

void *tunnel_map_next(const tunnel_map_t *m, size_t *pos)
{
    while (*pos < m->cap) {
        const tunnel_map_slot_t *s = &m->slots[(*pos)++];
        if (s->key)
            return s->value;
    }
    return NULL;
}
