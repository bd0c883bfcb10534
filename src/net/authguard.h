/*
 * authguard: per-address counting of failed logins, with lock-outs that grow
 * and log lines that do not.
 *
 * Every surface that checks a credential uses one: the API and admin tokens
 * (through http_router), the ACS's CPE authentication, the tunnel gateway's
 * agent logins, the cwmp-proxy's wake-up relay. After `max_failures` wrong
 * credentials in a row (no more than `lockout_ms` apart) an address is
 * refused without its credentials being looked at: first for `lockout_ms`,
 * then twice as long for each lock-out in a row, up to `lockout_max_ms`. An
 * online guessing attack becomes a few guesses an hour, and a flood of bad
 * logins costs a table lookup instead of a password hash.
 *
 * Keyed by the client's address: an IPv4 address, or the /64 of an IPv6 one
 * (one host usually owns a whole /64, so counting single IPv6 addresses
 * would give it 2^64 fresh tries). Per address and not global, so an
 * attacker cannot lock everyone out. Missing credentials do not count: that
 * is how HTTP clients ask for the challenge. A success forgets the address.
 *
 * Logging: the owner writes one line for an address when a report says so:
 * at its first failure, when a lock-out starts, and otherwise at most once
 * per `log_interval_ms`, with the number of failures and refused attempts
 * since the previous line.
 * authguard_sweep reports the counts that no later failure flushed.
 *
 * The table holds at most `max` addresses (the least recently seen goes
 * first), so a flood from many addresses costs bounded memory. Pure logic
 * with the clock passed in; an authguard_t belongs to the listener or
 * service that checks the credentials and is used from its loop only.
 */
#ifndef OUTPOST_NET_AUTHGUARD_H
#define OUTPOST_NET_AUTHGUARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/hmap.h"

typedef struct authguard_ent authguard_ent_t;
typedef struct authguard_report authguard_report_t;
typedef void (*authguard_say_fn)(const authguard_report_t *rep, void *ud);

typedef struct authguard {
    hmap_t by_addr;               /* key: net_ip_client_key's 16 bytes, borrowed from the entry */
    authguard_ent_t *head, *tail; /* LRU: head = least recently seen */
    size_t max;                   /* addresses tracked at most */
    uint32_t max_failures;        /* 0: the guard is off */
    int64_t lockout_ms;           /* the first lock-out */
    int64_t lockout_max_ms;       /* lock-outs double up to this */
    int64_t log_interval_ms;      /* one log line per address per interval */
    uint64_t lockouts;            /* lock-outs started so far */
    uint64_t failures;            /* wrong credentials counted so far */
    uint64_t refused;             /* attempts refused during a lock-out */
    authguard_say_fn say;         /* see authguard_set_say; NULL: the owner logs */
    void *say_ud;
    int64_t swept_ms;
} authguard_t;

/* What the owner should say about one event. */
struct authguard_report {
    bool log;            /* write one line now */
    uint64_t count;      /* with log: failures and refused attempts since the last line */
    int64_t locked_ms;   /* how long the address is now locked out (0: not) */
    uint32_t strike;     /* with locked_ms: the how-manieth lock-out in a row (1, 2, ...) */
    char addr[48];       /* the key as text: "10.0.0.1" or "2001:db8:1:2::/64" */
};

/* max 0: 65536 addresses. max_failures 0 turns the guard off (nothing is
 * ever counted or locked). lockout_ms <= 0: 60 s. The maximum lock-out is
 * 64 times the first (at most a day) and the log interval 60 s; both are
 * fields the owner may change after init. */
void authguard_init(authguard_t *g, size_t max, uint32_t max_failures, int64_t lockout_ms);
void authguard_free(authguard_t *g);
/* Let the guard say its own lines through `say`: every report check and
 * fail make when a line is due, what other addresses have due (a sweep at
 * most every 10 s, from those same calls), and at authguard_free whatever is
 * left. The owner then only writes the line. */
void authguard_set_say(authguard_t *g, authguard_say_fn say, void *ud);

/* How long `addr` (an IP literal) is still locked out, in ms; 0 when it may
 * try. An address that is not an IP literal is never locked out. */
int64_t authguard_locked(authguard_t *g, const char *addr, int64_t now_ms);
/* The same, and an attempt refused because of the lock-out is counted for
 * the log (rep may be NULL). */
int64_t authguard_check(authguard_t *g, const char *addr, int64_t now_ms, authguard_report_t *rep);
/* A wrong credential from addr. Returns the lock-out in ms when this
 * failure starts one, 0 otherwise, -ENOMEM when it could not be counted.
 * rep (may be NULL) says whether to log now. */
int64_t authguard_fail(authguard_t *g, const char *addr, int64_t now_ms, authguard_report_t *rep);
/* Right credentials from addr: its failures are forgotten (a count not yet
 * logged is still reported by the next sweep). */
void authguard_ok(authguard_t *g, const char *addr);
/* Report every address whose failures since its last line are older than
 * the log interval (call every few seconds to a minute). */
void authguard_sweep(authguard_t *g, int64_t now_ms,
                     void (*report)(const authguard_report_t *rep, void *ud), void *ud);
static inline size_t authguard_count(const authguard_t *g) { return hmap_len(&g->by_addr); }

#endif
