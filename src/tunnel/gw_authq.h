/*
 * gw_authq: the order in which the gateway checks agent keys.
 *
 * A key check is a PBKDF2 run in libuv's thread pool (tens of milliseconds
 * of CPU), so only `slots` run at once. Logins that need one wait here,
 * queued per client address (an IPv4 address or an IPv6 /64, as
 * net/authguard counts them), and the addresses take turns: each turn starts
 * one check from the address that waited longest for its turn. A flood of
 * wrong keys from one address therefore delays another address's login by
 * at most one turn per address waiting, instead of filling every slot.
 *
 * Bounds: at most `per_addr` logins wait per address (beyond that the new
 * one is refused: the flood's own problem) and `max_waiting` in all. When
 * the whole queue is full, a login from an address with fewer waiting
 * pushes out the newest login of the address with the most, so many
 * addresses cannot take every place either.
 *
 * Pure logic over caller-owned entries (embed a gw_authq_ent_t in whatever
 * carries the login and recover it with container arithmetic); the queue
 * owns only its per-address records. Used from the gateway's loop only.
 */
#ifndef OUTPOST_TUNNEL_GW_AUTHQ_H
#define OUTPOST_TUNNEL_GW_AUTHQ_H

#include <stdbool.h>
#include <stddef.h>

#include "core/hmap.h"

typedef struct gw_authq_src gw_authq_src_t;

/* One login waiting for its check; zeroed by the caller before a push. */
typedef struct gw_authq_ent {
    gw_authq_src_t *src; /* its address while waiting, NULL otherwise */
    struct gw_authq_ent *prev, *next;
} gw_authq_ent_t;

typedef struct gw_authq {
    hmap_t by_addr;              /* address key -> gw_authq_src_t (addresses with logins waiting) */
    gw_authq_src_t *head, *tail; /* addresses in turn order: head is served next */
    size_t waiting, max_waiting;
    unsigned per_addr;
    unsigned running, slots;
} gw_authq_t;

void gw_authq_init(gw_authq_t *q, unsigned slots, unsigned per_addr, size_t max_waiting);
/* Frees the address records (entries still waiting are not touched). */
void gw_authq_free(gw_authq_t *q);

/* Queue e, a login from addr (an IP literal; anything else shares one
 * queue). 0: queued; -EBUSY: addr already has per_addr waiting; -ENOSPC: the
 * queue is full and addr has its fair share; -ENOMEM. *evicted (when not
 * NULL) is the login pushed out to make room: the caller refuses it. */
int gw_authq_push(gw_authq_t *q, gw_authq_ent_t *e, const char *addr, gw_authq_ent_t **evicted);
/* The next login to check when a slot is free (the slot is then taken), or
 * NULL: no slot free or nothing waiting. */
gw_authq_ent_t *gw_authq_next(gw_authq_t *q);
/* A check finished: its slot is free again. */
void gw_authq_done(gw_authq_t *q);
/* Take e out of the queue (its connection went away); no-op if not waiting. */
void gw_authq_remove(gw_authq_t *q, gw_authq_ent_t *e);
/* The oldest login waiting from addr, taken out of the queue, or NULL (to
 * refuse them all when addr gets locked out). */
gw_authq_ent_t *gw_authq_take(gw_authq_t *q, const char *addr);

static inline bool gw_authq_queued(const gw_authq_ent_t *e) { return e->src != NULL; }
static inline size_t gw_authq_waiting(const gw_authq_t *q) { return q->waiting; }
static inline unsigned gw_authq_running(const gw_authq_t *q) { return q->running; }

#endif
