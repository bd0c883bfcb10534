/*
 * gw_authq: per-address queues of logins waiting for a key check, served in
 * turns (see gw_authq.h).
 */
#include "tunnel/gw_authq.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "net/addr.h"

struct gw_authq_src {
    uint8_t key[16];             /* addr_key */
    gw_authq_ent_t *head, *tail; /* its logins, oldest first */
    unsigned n;
    gw_authq_src_t *prev, *next; /* turn order */
};

/* The client key of addr (net_ip_client_key); a peer that is not an IP
 * literal (only a local socket could be) shares the all-zero key. */
static void addr_key(const char *addr, uint8_t key[16])
{
    if (net_ip_parse(addr, key) == 0)
        net_ip_client_key(key);
    else
        memset(key, 0, 16);
}

void gw_authq_init(gw_authq_t *q, unsigned slots, unsigned per_addr, size_t max_waiting)
{
    memset(q, 0, sizeof *q);
    q->slots = slots ? slots : 1;
    q->per_addr = per_addr ? per_addr : 1;
    q->max_waiting = max_waiting ? max_waiting : 1;
    hmap_init(&q->by_addr);
}

void gw_authq_free(gw_authq_t *q)
{
    for (gw_authq_src_t *s = q->head, *next; s; s = next) {
        next = s->next;
        free(s);
    }
    hmap_free(&q->by_addr);
    memset(q, 0, sizeof *q);
}

static void turn_unlink(gw_authq_t *q, gw_authq_src_t *s)
{
    if (s->prev)
        s->prev->next = s->next;
    else
        q->head = s->next;
    if (s->next)
        s->next->prev = s->prev;
    else
        q->tail = s->prev;
    s->prev = s->next = NULL;
}

static void turn_append(gw_authq_t *q, gw_authq_src_t *s)
{
    s->prev = q->tail;
    s->next = NULL;
    if (q->tail)
        q->tail->next = s;
    else
        q->head = s;
    q->tail = s;
}

/* Unlink e from its address; an address left with nothing waiting goes. */
static void ent_unlink(gw_authq_t *q, gw_authq_ent_t *e)
{
    gw_authq_src_t *s = e->src;
    if (e->prev)
        e->prev->next = e->next;
    else
        s->head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        s->tail = e->prev;
    e->prev = e->next = NULL;
    e->src = NULL;
    s->n--;
    q->waiting--;
    if (s->n == 0) {
        hmap_del(&q->by_addr, (const char *)s->key, sizeof s->key);
        turn_unlink(q, s);
        free(s);
    }
}

int gw_authq_push(gw_authq_t *q, gw_authq_ent_t *e, const char *addr, gw_authq_ent_t **evicted)
{
    uint8_t key[16];
    addr_key(addr, key);
    gw_authq_src_t *s = hmap_get(&q->by_addr, (const char *)key, sizeof key);
    if (evicted)
        *evicted = NULL;
    if (s && s->n >= q->per_addr)
        return -EBUSY;
    gw_authq_ent_t *out = NULL;
    if (q->waiting >= q->max_waiting) {
        /* Full: make room only by evening out. The address with the most
         * waiting gives up its newest login if it has at least two more
         * than this one would have: never a swap that just trades places. */
        gw_authq_src_t *most = NULL;
        for (gw_authq_src_t *t = q->head; t; t = t->next)
            if (!most || t->n > most->n)
                most = t;
        unsigned mine = s ? s->n : 0;
        if (!most || most->n <= mine + 1)
            return -ENOSPC;
        out = most->tail; /* most->n >= 2: the address stays */
    }
    if (!s) {
        if (!(s = calloc(1, sizeof *s)))
            return -ENOMEM;
        memcpy(s->key, key, sizeof s->key);
        if (hmap_put(&q->by_addr, (const char *)s->key, sizeof s->key, s) != 0) {
            free(s);
            return -ENOMEM;
        }
        turn_append(q, s); /* a new address takes its turn after those waiting */
    }
    if (out) {
        ent_unlink(q, out);
        if (evicted)
            *evicted = out;
    }
    e->src = s;
    e->next = NULL;
    e->prev = s->tail;
    if (s->tail)
        s->tail->next = e;
    else
        s->head = e;
    s->tail = e;
    s->n++;
    q->waiting++;
    return 0;
}

gw_authq_ent_t *gw_authq_next(gw_authq_t *q)
{
    if (q->running >= q->slots || !q->head)
        return NULL;
    gw_authq_src_t *s = q->head;
    gw_authq_ent_t *e = s->head;
    if (s->n > 1) { /* it had its turn: to the back of the line */
        turn_unlink(q, s);
        turn_append(q, s);
    }
    ent_unlink(q, e);
    q->running++;
    return e;
}

void gw_authq_done(gw_authq_t *q)
{
    if (q->running)
        q->running--;
}

void gw_authq_remove(gw_authq_t *q, gw_authq_ent_t *e)
{
    if (e->src)
        ent_unlink(q, e);
}

gw_authq_ent_t *gw_authq_take(gw_authq_t *q, const char *addr)
{
    uint8_t key[16];
    addr_key(addr, key);
    gw_authq_src_t *s = hmap_get(&q->by_addr, (const char *)key, sizeof key);
    if (!s)
        return NULL;
    gw_authq_ent_t *e = s->head;
    ent_unlink(q, e);
    return e;
}
