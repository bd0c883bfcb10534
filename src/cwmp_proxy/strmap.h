/*
 * strmap: a string-keyed hash map for the cwmp-proxy's tables (sessions,
 * ACS cookies, origins). Keys are copied and owned by the map; values are
 * the caller's pointers. SipHash-2-4 with a per-map random key, because
 * several keys come from the network (origins reported by CPEs, cookies).
 */
#ifndef OUTPOST_CWMP_PROXY_STRMAP_H
#define OUTPOST_CWMP_PROXY_STRMAP_H

#include <stddef.h>

typedef struct strmap strmap_t;

strmap_t *strmap_new(void);
/* Free the map and its keys; free_val (may be NULL) is called on each value. */
void strmap_free(strmap_t *m, void (*free_val)(void *val));
void *strmap_get(const strmap_t *m, const char *key);
/* Insert or replace. *old (if given) receives the replaced value or NULL.
 * 0 or -ENOMEM. */
int strmap_put(strmap_t *m, const char *key, void *val, void **old);
/* Remove; returns the value or NULL. */
void *strmap_del(strmap_t *m, const char *key);
size_t strmap_size(const strmap_t *m);
/* Visit every entry (no changes to the map during the walk). A non-zero
 * return stops the walk and is returned. */
int strmap_each(const strmap_t *m, int (*fn)(const char *key, void *val, void *ud), void *ud);

#endif
