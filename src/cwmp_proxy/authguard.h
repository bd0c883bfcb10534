/*
 * authguard: lock-out of addresses that keep failing the wake-up relay's
 * Basic credentials. The relay listens where the CPEs connect, so anyone
 * on the CPE network can try passwords on /client; after `max_failures`
 * wrong ones in a row (no more than `lockout_ms` apart) an address is
 * refused for `lockout_ms` without its credentials being looked at, which
 * turns an online guessing attack into a few guesses a minute.
 *
 * Keyed by the peer's address: an IPv4 address, or the /64 of an IPv6 one
 * (one host usually owns a whole /64, so counting single IPv6 addresses
 * would give it 2^64 fresh tries). Per address and not global, so an
 * attacker cannot lock the ACS out. Missing credentials do not count: the
 * ACS's first request is the one that gets the challenge. A success
 * forgets the address.
 *
 * The table holds at most `max` addresses (the least recently seen goes
 * first), so a flood from many addresses costs bounded memory. Pure logic
 * with the clock passed in; the authguard_t belongs to the wake-up relay.
 */
#ifndef OUTPOST_CWMP_PROXY_AUTHGUARD_H
#define OUTPOST_CWMP_PROXY_AUTHGUARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/hmap.h"

typedef struct authguard_ent authguard_ent_t;

typedef struct authguard {
    hmap_t by_addr;              /* key: 4 or 8 address bytes, borrowed from the entry */
    authguard_ent_t *head, *tail; /* LRU: head = least recently seen */
    size_t max;                  /* addresses tracked at most */
    uint32_t max_failures;       /* 0: the guard is off */
    int64_t lockout_ms;
    uint64_t lockouts;           /* addresses locked out so far */
} authguard_t;

/* max_failures 0 turns the guard off (every call says "not locked"). */
void authguard_init(authguard_t *g, size_t max, uint32_t max_failures, int64_t lockout_ms);
void authguard_free(authguard_t *g);

/* How long `addr` (an IP literal) is still locked out, in ms; 0 when it may
 * try. An address that is not an IP literal is never locked out. */
int64_t authguard_locked(authguard_t *g, const char *addr, int64_t now_ms);
/* A wrong password from addr. Returns the lock-out in ms when this failure
 * starts one, 0 otherwise; -ENOMEM when it could not be counted. */
int64_t authguard_fail(authguard_t *g, const char *addr, int64_t now_ms);
/* Right credentials from addr: its failures are forgotten. */
void authguard_ok(authguard_t *g, const char *addr);
static inline size_t authguard_count(const authguard_t *g) { return hmap_len(&g->by_addr); }

#endif
