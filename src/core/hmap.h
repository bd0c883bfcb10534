/*
 * hmap: a hash table from byte-string keys to pointers.
 *
 * Many keys come from the network (tunnel GUIDs, agent names, CPE origins,
 * cookies), so hashing is SipHash-2-4 with a random key per table: a peer
 * cannot choose keys that collide. Open addressing with linear probing and
 * backward-shift deletion (no tombstones); it grows at 3/4 load.
 *
 * Keys are either borrowed (hmap_put: the caller keeps the bytes alive,
 * usually inside the value, until the entry goes) or copied (hmap_put_copy,
 * hmap_set_copy: the table owns the copy). Values are the caller's; the
 * table owns its slot array and its key copies only.
 */
#ifndef OUTPOST_CORE_HMAP_H
#define OUTPOST_CORE_HMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct hmap_slot {
    const char *key; /* NULL = empty */
    size_t klen;
    uint64_t hash;
    void *value;
    bool owned;      /* key is the table's copy */
} hmap_slot_t;

typedef struct hmap {
    hmap_slot_t *slots;
    size_t cap; /* power of two, or 0 */
    size_t len;
    uint64_t k0, k1; /* SipHash key */
} hmap_t;

void hmap_init(hmap_t *m);
/* Free the slots and key copies (values are untouched). */
void hmap_free(hmap_t *m);
void *hmap_get(const hmap_t *m, const char *key, size_t klen);
/* Insert with a borrowed key: 0, -EEXIST (present, nothing changed), -ENOMEM. */
int hmap_put(hmap_t *m, const char *key, size_t klen, void *value);
/* Insert with a copied key: 0, -EEXIST, -ENOMEM. */
int hmap_put_copy(hmap_t *m, const char *key, size_t klen, void *value);
/* Insert or replace, key copied; *old (if given) gets the replaced value or NULL. */
int hmap_set_copy(hmap_t *m, const char *key, size_t klen, void *value, void **old);
/* The removed value, or NULL when absent. */
void *hmap_del(hmap_t *m, const char *key, size_t klen);
static inline size_t hmap_len(const hmap_t *m) { return m->len; }

/* Iteration: for (size_t i = 0; (v = hmap_next(m, &i, &key));) ... (key may
 * be NULL). No insertions meanwhile; to remove, collect the keys first. */
void *hmap_next(const hmap_t *m, size_t *pos, const char **key);

/* C-string key convenience. */
static inline void *hmap_gets(const hmap_t *m, const char *key)
{
    return hmap_get(m, key, strlen(key));
}

uint64_t hmap_siphash(uint64_t k0, uint64_t k1, const void *data, size_t len);

#endif
