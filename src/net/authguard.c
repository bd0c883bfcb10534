/*
 * authguard: failure counts per address over one LRU list (see authguard.h).
 */
#include "net/authguard.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/addr.h"

struct authguard_ent {
    uint8_t key[16];            /* net_ip_client_key */
    uint32_t failures;            /* in a row, since the last lock-out or success */
    uint32_t strikes;             /* lock-outs in a row */
    int64_t last_fail_ms;
    int64_t until_ms;             /* locked out before this instant */
    int64_t last_log_ms;          /* 0: never logged */
    uint64_t unlogged;            /* events since the last log line */
    authguard_ent_t *prev, *next;
};

enum { AUTHGUARD_DAY_MS = 86400000 };

void authguard_init(authguard_t *g, size_t max, uint32_t max_failures, int64_t lockout_ms)
{
    memset(g, 0, sizeof *g);
    g->max = max ? max : 65536;
    g->max_failures = max_failures;
    g->lockout_ms = lockout_ms > 0 ? lockout_ms : 60000;
    g->lockout_max_ms = g->lockout_ms < AUTHGUARD_DAY_MS / 64 ? g->lockout_ms * 64 : AUTHGUARD_DAY_MS;
    if (g->lockout_max_ms < g->lockout_ms)
        g->lockout_max_ms = g->lockout_ms;
    g->log_interval_ms = 60000;
    hmap_init(&g->by_addr);
}

void authguard_set_say(authguard_t *g, authguard_say_fn say, void *ud)
{
    g->say = say;
    g->say_ud = ud;
}

void authguard_free(authguard_t *g)
{
    if (g->say) /* what no later failure flushed */
        authguard_sweep(g, INT64_MAX / 2, g->say, g->say_ud);
    authguard_ent_t *e = g->head;
    while (e) {
        authguard_ent_t *next = e->next;
        free(e);
        e = next;
    }
    hmap_free(&g->by_addr);
    memset(g, 0, sizeof *g);
}

static void unlink_lru(authguard_t *g, authguard_ent_t *e)
{
    if (e->prev)
        e->prev->next = e->next;
    else
        g->head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        g->tail = e->prev;
    e->prev = e->next = NULL;
}

static void push_tail(authguard_t *g, authguard_ent_t *e)
{
    e->prev = g->tail;
    e->next = NULL;
    if (g->tail)
        g->tail->next = e;
    else
        g->head = e;
    g->tail = e;
}

static void drop(authguard_t *g, authguard_ent_t *e)
{
    hmap_del(&g->by_addr, (const char *)e->key, sizeof e->key);
    unlink_lru(g, e);
    free(e);
}

/* The entry of addr's client key; *ok false when addr is no IP literal. */
static authguard_ent_t *find(authguard_t *g, const char *addr, uint8_t key[16], bool *ok)
{
    *ok = net_ip_parse(addr, key) == 0;
    if (!*ok)
        return NULL;
    net_ip_client_key(key);
    return hmap_get(&g->by_addr, (const char *)key, 16);
}

/* One more event for the log of e: say whether a line is due now (always
 * when a lock-out starts: those are rare by construction). */
static void note(authguard_t *g, authguard_ent_t *e, int64_t now_ms, bool locking,
                 authguard_report_t *rep)
{
    e->unlogged++;
    if (!rep)
        return;
    memset(rep, 0, sizeof *rep);
    rep->locked_ms = e->until_ms > now_ms ? e->until_ms - now_ms : 0;
    rep->strike = rep->locked_ms ? e->strikes : 0;
    if (!locking && e->last_log_ms && now_ms - e->last_log_ms < g->log_interval_ms)
        return;
    rep->log = true;
    rep->count = e->unlogged;
    e->unlogged = 0;
    e->last_log_ms = now_ms ? now_ms : 1;
    net_ip_client_key_text(e->key, rep->addr, sizeof rep->addr);
}

int64_t authguard_locked(authguard_t *g, const char *addr, int64_t now_ms)
{
    uint8_t key[16];
    bool ok;
    authguard_ent_t *e;
    if (!g->max_failures || !(e = find(g, addr, key, &ok)))
        return 0;
    return e->until_ms > now_ms ? e->until_ms - now_ms : 0;
}

/* With a say function: the lines other addresses have due, every 10 s. */
static void sweep_due(authguard_t *g, int64_t now_ms)
{
    if (g->say && now_ms - g->swept_ms >= 10000) {
        g->swept_ms = now_ms;
        authguard_sweep(g, now_ms, g->say, g->say_ud);
    }
}

/* The report of one event: into the caller's, said through say, or both. */
static void said(authguard_t *g, const authguard_report_t *r, authguard_report_t *out)
{
    if (out)
        *out = *r;
    if (g->say && r->log)
        g->say(r, g->say_ud);
}

int64_t authguard_check(authguard_t *g, const char *addr, int64_t now_ms, authguard_report_t *rep)
{
    uint8_t key[16];
    bool ok;
    authguard_ent_t *e;
    authguard_report_t r = { 0 };
    if (rep)
        memset(rep, 0, sizeof *rep);
    sweep_due(g, now_ms);
    if (!g->max_failures || !(e = find(g, addr, key, &ok)) || e->until_ms <= now_ms)
        return 0;
    g->refused++;
    note(g, e, now_ms, false, rep || g->say ? &r : NULL);
    said(g, &r, rep);
    return e->until_ms - now_ms;
}

int64_t authguard_fail(authguard_t *g, const char *addr, int64_t now_ms, authguard_report_t *rep)
{
    uint8_t key[16];
    bool ok;
    authguard_report_t r = { 0 };
    if (rep)
        memset(rep, 0, sizeof *rep);
    sweep_due(g, now_ms);
    if (!g->max_failures)
        return 0;
    authguard_ent_t *e = find(g, addr, key, &ok);
    if (!ok)
        return 0;
    if (!e) {
        while (hmap_len(&g->by_addr) >= g->max && g->head)
            drop(g, g->head);
        if (!(e = calloc(1, sizeof *e)))
            return -ENOMEM;
        memcpy(e->key, key, sizeof e->key);
        if (hmap_put(&g->by_addr, (const char *)e->key, sizeof e->key, e)) {
            free(e);
            return -ENOMEM;
        }
    } else {
        unlink_lru(g, e);
    }
    push_tail(g, e);
    g->failures++;
    /* Failures count "in a row": a long quiet gap starts the count again,
     * so a client that mistyped a password weeks apart is never locked out;
     * and lock-outs stop growing once an address stayed quiet for the
     * longest one. */
    if (e->failures && now_ms - e->last_fail_ms > g->lockout_ms)
        e->failures = 0;
    if (e->strikes && now_ms - e->until_ms > g->lockout_max_ms)
        e->strikes = 0;
    e->last_fail_ms = now_ms;
    int64_t lock = 0;
    if (++e->failures >= g->max_failures) {
        lock = g->lockout_ms;
        for (uint32_t i = 0; i < e->strikes && lock < g->lockout_max_ms; i++)
            lock *= 2;
        if (lock > g->lockout_max_ms)
            lock = g->lockout_max_ms;
        e->failures = 0;
        e->strikes++;
        e->until_ms = now_ms + lock;
        g->lockouts++;
    }
    note(g, e, now_ms, lock > 0, rep || g->say ? &r : NULL);
    said(g, &r, rep);
    return lock;
}

void authguard_ok(authguard_t *g, const char *addr)
{
    uint8_t key[16];
    bool ok;
    authguard_ent_t *e = find(g, addr, key, &ok);
    if (!e)
        return;
    if (!e->unlogged) {
        drop(g, e);
        return;
    }
    /* failures not said yet are still said by the sweep, which then drops it */
    e->failures = e->strikes = 0;
    e->until_ms = 0;
}

void authguard_sweep(authguard_t *g, int64_t now_ms,
                     void (*report)(const authguard_report_t *rep, void *ud), void *ud)
{
    for (authguard_ent_t *e = g->head, *next; e; e = next) {
        next = e->next;
        if (!e->unlogged || now_ms - e->last_log_ms < g->log_interval_ms)
            continue;
        authguard_report_t rep = { .log = true, .count = e->unlogged };
        rep.locked_ms = e->until_ms > now_ms ? e->until_ms - now_ms : 0;
        rep.strike = rep.locked_ms ? e->strikes : 0;
        net_ip_client_key_text(e->key, rep.addr, sizeof rep.addr);
        e->unlogged = 0;
        e->last_log_ms = now_ms;
        report(&rep, ud);
        if (!e->failures && !e->strikes && e->until_ms <= now_ms)
            drop(g, e); /* forgiven by a success: only the count was left to say */
    }
}
