/*
 * strmap: a hash table from short byte strings (GUIDs, agent names) to
 * pointers, used for a session's streams and the gateway's agents.
 *
 * Keys are borrowed: the caller keeps the key bytes alive (usually inside the
 * value) until the entry is removed. Hashing is SipHash-2-4 with a random key
 * per table, so peers choosing GUIDs cannot force collisions. Open addressing
 * with linear probing and backward-shift deletion (no tombstones); the table
 * grows at 3/4 load and owns only its slot array.
 */
#ifndef OUTPOST_TUNNEL_STRMAP_H
#define OUTPOST_TUNNEL_STRMAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct tunnel_map_slot {
    const char *key; /* NULL = empty */
    size_t klen;
    uint64_t hash;
    void *value;
} tunnel_map_slot_t;

typedef struct tunnel_map {
    tunnel_map_slot_t *slots;
    size_t cap; /* power of two, or 0 */
    size_t len;
    uint64_t k0, k1; /* SipHash key */
} tunnel_map_t;

void tunnel_map_init(tunnel_map_t *m);
void tunnel_map_free(tunnel_map_t *m);
void *tunnel_map_get(const tunnel_map_t *m, const char *key, size_t klen);
/* 0, -EEXIST (key present, nothing changed), -ENOMEM. */
int tunnel_map_put(tunnel_map_t *m, const char *key, size_t klen, void *value);
/* The removed value, or NULL when absent. */
void *tunnel_map_del(tunnel_map_t *m, const char *key, size_t klen);
static inline size_t tunnel_map_len(const tunnel_map_t *m) { return m->len; }

/* Iteration: for (size_t i = 0; (v = tunnel_map_next(m, &i));) ...
 * Do not insert while iterating; removing the current entry is not safe
 * either (collect first). */
void *tunnel_map_next(const tunnel_map_t *m, size_t *pos);

uint64_t tunnel_siphash(uint64_t k0, uint64_t k1, const void *data, size_t len);

#endif
