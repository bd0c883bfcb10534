/* hmap: SipHash-keyed open-addressing table (see hmap.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/str.h"
#include "core/hmap.h"

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND                                                                       \
    do {                                                                               \
        v0 += v1; v1 = ROTL(v1, 13); v1 ^= v0; v0 = ROTL(v0, 32);                      \
        v2 += v3; v3 = ROTL(v3, 16); v3 ^= v2;                                         \
        v0 += v3; v3 = ROTL(v3, 21); v3 ^= v0;                                         \
        v2 += v1; v1 = ROTL(v1, 17); v1 ^= v2; v2 = ROTL(v2, 32);                      \
    } while (0)

uint64_t hmap_siphash(uint64_t k0, uint64_t k1, const void *data, size_t len)
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

void hmap_init(hmap_t *m)
{
    memset(m, 0, sizeof *m);
    /* a key per map, without a system call per map */
    m->k0 = str_seed64();
    m->k1 = str_seed64();
}

void hmap_free(hmap_t *m)
{
    for (size_t i = 0; i < m->cap; i++)
        if (m->slots[i].owned)
            free((char *)m->slots[i].key);
    free(m->slots);
    m->slots = NULL;
    m->cap = m->len = 0;
}

static size_t find(const hmap_t *m, const char *key, size_t klen, uint64_t h, int *found)
{
    size_t mask = m->cap - 1, i = (size_t)h & mask;
    for (;;) {
        const hmap_slot_t *s = &m->slots[i];
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

void *hmap_get(const hmap_t *m, const char *key, size_t klen)
{
    if (!m->len)
        return NULL;
    int found;
    size_t i = find(m, key, klen, hmap_siphash(m->k0, m->k1, key, klen), &found);
    return found ? m->slots[i].value : NULL;
}

static int grow(hmap_t *m)
{
    size_t ncap = m->cap ? m->cap * 2 : 16;
    hmap_slot_t *old = m->slots;
    size_t ocap = m->cap;
    hmap_slot_t *ns = calloc(ncap, sizeof *ns);
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

/* Insert (or, with `replace`, overwrite); a copied key when `copy`. */
static int insert(hmap_t *m, const char *key, size_t klen, void *value, bool copy, bool replace,
                  void **old)
{
    if (old)
        *old = NULL;
    if ((m->len + 1) * 4 > m->cap * 3 && grow(m) != 0)
        return -ENOMEM;
    uint64_t h = hmap_siphash(m->k0, m->k1, key, klen);
    int found;
    size_t i = find(m, key, klen, h, &found);
    if (found) {
        if (!replace)
            return -EEXIST;
        if (old)
            *old = m->slots[i].value;
        m->slots[i].value = value;
        return 0;
    }
    const char *k = key;
    if (copy) {
        char *dup = malloc(klen + 1);
        if (!dup)
            return -ENOMEM;
        memcpy(dup, key, klen);
        dup[klen] = '\0';
        k = dup;
    }
    m->slots[i] = (hmap_slot_t){ k, klen, h, value, copy };
    m->len++;
    return 0;
}

int hmap_put(hmap_t *m, const char *key, size_t klen, void *value)
{
    return insert(m, key, klen, value, false, false, NULL);
}

int hmap_put_copy(hmap_t *m, const char *key, size_t klen, void *value)
{
    return insert(m, key, klen, value, true, false, NULL);
}

int hmap_set_copy(hmap_t *m, const char *key, size_t klen, void *value, void **old)
{
    return insert(m, key, klen, value, true, true, old);
}

void *hmap_del(hmap_t *m, const char *key, size_t klen)
{
    if (!m->len)
        return NULL;
    int found;
    size_t i = find(m, key, klen, hmap_siphash(m->k0, m->k1, key, klen), &found);
    if (!found)
        return NULL;
    void *v = m->slots[i].value;
    if (m->slots[i].owned)
        free((char *)m->slots[i].key);
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
    m->slots[i] = (hmap_slot_t){ 0 };
    m->len--;
    return v;
}

void *hmap_next(const hmap_t *m, size_t *pos, const char **key)
{
    while (*pos < m->cap) {
        const hmap_slot_t *s = &m->slots[(*pos)++];
        if (s->key) {
            if (key)
                *key = s->key;
            return s->value;
        }
    }
    return NULL;
}
