/*
 * mesh: the gateway mesh's decisions as pure logic (no I/O), so that every
 * gateway makes them alike and unit tests can pin them down:
 *
 *   - the routing table: which gateway each agent name is logged in to, and
 *     with which login epoch; a gateway's own agents are in it too;
 *   - the winner when one name is logged in on two gateways (split brain):
 *     the newest login epoch; equal epochs: the gateway whose name sorts
 *     first (bytewise) wins;
 *   - login epochs: wall-clock milliseconds, but always above every epoch
 *     already seen for that name (a hybrid logical clock), so a login that
 *     happens after a gateway learnt of another one always wins against it
 *     whatever the clocks say;
 *   - which of two links between the same pair of gateways stays: the one
 *     dialled by the gateway whose name sorts first;
 *   - the configuration digest two gateways compare before they link: SHA-256
 *     over the agent table and the ACL rules in a canonical, order-free form.
 *
 * The table owns its entries (tunnel_mesh_free() releases them).
 */
#ifndef OUTPOST_TUNNEL_MESH_H
#define OUTPOST_TUNNEL_MESH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/hmap.h"
#include "tunnel/acl.h"

enum { TUNNEL_MESH_NAME_MAX = 64 };

typedef struct tunnel_route {
    char name[TUNNEL_MESH_NAME_MAX + 1];    /* the agent */
    char gateway[TUNNEL_MESH_NAME_MAX + 1]; /* where it is logged in */
    uint64_t epoch;                         /* its login epoch */
} tunnel_route_t;

typedef struct tunnel_mesh {
    hmap_t by_name; /* agent name -> tunnel_route_t* (key inside the entry) */
} tunnel_mesh_t;

typedef enum tunnel_offer {
    TUNNEL_OFFER_NEW,  /* no route for the name before: this one is it */
    TUNNEL_OFFER_WON,  /* it replaced another route (*displaced says which) */
    TUNNEL_OFFER_LOST, /* the route already known wins: nothing changed */
    TUNNEL_OFFER_SAME, /* that very route was known already */
} tunnel_offer_t;

/* >0 when login (ea, ga) wins against (eb, gb), <0 when it loses, 0 when
 * they are the same login. */
int tunnel_mesh_cmp(uint64_t ea, const char *ga, uint64_t eb, const char *gb);

void tunnel_mesh_init(tunnel_mesh_t *t);
void tunnel_mesh_free(tunnel_mesh_t *t);
/* A login announced (or made here): a tunnel_offer_t, or -ENOMEM. On WON
 * *displaced (may be NULL) gets a copy of the route it replaced. */
int tunnel_mesh_offer(tunnel_mesh_t *t, const char *name, const char *gateway, uint64_t epoch,
                      tunnel_route_t *displaced);
/* A logout: the route goes only if it is that very login (a late logout of
 * a login that already lost changes nothing). */
bool tunnel_mesh_withdraw(tunnel_mesh_t *t, const char *name, const char *gateway,
                          uint64_t epoch);
/* A gateway is gone (its link was lost): every route through it goes. */
size_t tunnel_mesh_drop_gateway(tunnel_mesh_t *t, const char *gateway);
const tunnel_route_t *tunnel_mesh_get(const tunnel_mesh_t *t, const char *name);
static inline size_t tunnel_mesh_len(const tunnel_mesh_t *t) { return hmap_len(&t->by_name); }
/* Iteration in no particular order: for (size_t i = 0; (r = tunnel_mesh_next(t, &i));) */
const tunnel_route_t *tunnel_mesh_next(const tunnel_mesh_t *t, size_t *pos);
/* The epoch for a new login of `name` at wall-clock now_ms. */
uint64_t tunnel_mesh_next_epoch(const tunnel_mesh_t *t, const char *name, uint64_t now_ms);

/* Two links between gateways a and b: keep the one dialled by this name. */
const char *tunnel_mesh_keeper(const char *a, const char *b);

/* The digest of a gateway's configuration as 64 hex digits + NUL: agents
 * ("name", "key hash" pairs, in any order) and rules (any order; each in its
 * canonical form, so `ports=22,80` and `ports=80,22` or a rule given twice
 * make no difference). 0 or -ENOMEM. */
int tunnel_mesh_digest(const char *const *names, const char *const *hashes, size_t nagents,
                       const tunnel_acl_t *acl, char out[65]);

#endif
