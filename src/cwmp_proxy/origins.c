/*
 * origins: in-memory allowlist with write-behind to the origin store
 * (origins.h).
 */
#include "cwmp_proxy/origins.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"

struct origin_ent {
    char *origin;
    char *device;   /* "" unknown */
    int64_t seen_s;
};

/* A device seen again with the same origin is not rewritten to disk more
 * often than this: `seen` only matters for expiry, measured in days. */
enum { SEEN_REFRESH_S = 3600 };

static void ent_free(void *p)
{
    origin_ent_t *e = p;
    if (!e)
        return;
    free(e->origin);
    free(e->device);
    free(e);
}

static int put_mem(origins_t *o, const char *device, const char *origin, int64_t seen_s,
                   origin_ent_t **out);

static int load_row(void *ud, const origin_rec_t *r)
{
    origins_t *o = ud;
    int rc = put_mem(o, r->device, r->origin, r->seen_s, NULL);
    return rc < 0 && rc != -ENOSPC ? rc : 0;
}

int origins_open(origins_t *o, const char *path, size_t max)
{
    memset(o, 0, sizeof *o);
    o->max = max ? max : 2000000;
    hmap_init(&o->by_origin);
    hmap_init(&o->by_device);
    if (!path)
        return 0;
    int rc = origin_store_open(path, &o->store);
    if (rc == 0)
        rc = origin_store_load(o->store, load_row, o);
    if (rc) {
        origins_close(o);
        return rc;
    }
    return 0;
}

void origins_close(origins_t *o)
{
    if (o->store)
        origins_flush(o);
    for (size_t i = 0; i < o->npend; i++) {
        free((char *)o->pend[i].origin);
        free((char *)o->pend[i].device);
    }
    free(o->pend);
    hmap_free(&o->by_device);
    origin_ent_t *e;
    for (size_t i = 0; (e = hmap_next(&o->by_origin, &i, NULL));)
        ent_free(e);
    hmap_free(&o->by_origin);
    origin_store_close(o->store);
    memset(o, 0, sizeof *o);
}

/* Update the maps. 1 changed, 0 same (seen refreshed in memory only). */
static int put_mem(origins_t *o, const char *device, const char *origin, int64_t seen_s,
                   origin_ent_t **out)
{
    origin_ent_t *e = hmap_gets(&o->by_origin, origin);
    int changed = 0;
    if (!e) {
        /* Full: only a device replacing its own origin may still come in. */
        if (hmap_len(&o->by_origin) >= o->max && !(device[0] && hmap_gets(&o->by_device, device)))
            return -ENOSPC;
        e = calloc(1, sizeof *e);
        if (!e || !(e->origin = strdup(origin)) || !(e->device = strdup(""))) {
            ent_free(e);
            return -ENOMEM;
        }
        if (hmap_set_copy(&o->by_origin, origin, strlen(origin), e, NULL)) {
            ent_free(e);
            return -ENOMEM;
        }
        changed = 1;
    }
    if (device[0] && strcmp(e->device, device) != 0) {
        char *d = strdup(device);
        if (!d)
            return -ENOMEM;
        /* The origin changes hands: its old device no longer points here. */
        if (e->device[0] && hmap_gets(&o->by_device, e->device) == e)
            hmap_del(&o->by_device, e->device, strlen(e->device));
        /* The device moves: its old origin is dropped. */
        origin_ent_t *old = hmap_gets(&o->by_device, device);
        if (old && old != e) {
            hmap_del(&o->by_origin, old->origin, strlen(old->origin));
            ent_free(old);
        }
        if (hmap_set_copy(&o->by_device, device, strlen(device), e, NULL)) {
            free(d);
            return -ENOMEM;
        }
        free(e->device);
        e->device = d;
        changed = 1;
    }
    if (!changed && seen_s - e->seen_s < SEEN_REFRESH_S) {
        if (seen_s > e->seen_s)
            e->seen_s = seen_s;
        return 0;
    }
    if (seen_s > e->seen_s)
        e->seen_s = seen_s;
    if (out)
        *out = e;
    return 1;
}

int origins_record(origins_t *o, const char *device, const char *origin, int64_t now_s)
{
    origin_ent_t *e = NULL;
    int rc = put_mem(o, device ? device : "", origin, now_s, &e);
    if (rc == -ENOSPC) {
        if (o->refused++ % 1000 == 0)
            log_warn("origin_table_full", LF_U("max", o->max), LF_U("refused", o->refused));
        return rc;
    }
    if (rc <= 0 || !o->store)
        return rc;
    if (o->npend == o->cappend) {
        size_t cap = o->cappend ? o->cappend * 2 : 64;
        origin_rec_t *p = realloc(o->pend, cap * sizeof *p);
        if (!p)
            return -ENOMEM;
        o->pend = p;
        o->cappend = cap;
    }
    origin_rec_t *r = &o->pend[o->npend];
    r->origin = strdup(e->origin);
    r->device = strdup(e->device);
    r->seen_s = e->seen_s;
    r->written_s = 0;
    if (!r->origin || !r->device) {
        free((char *)r->origin);
        free((char *)r->device);
        return -ENOMEM;
    }
    o->npend++;
    return 1;
}

bool origins_lookup(const origins_t *o, const char *origin, const char **device)
{
    origin_ent_t *e = hmap_gets(&o->by_origin, origin);
    if (device)
        *device = e ? e->device : NULL;
    return e != NULL;
}

const char *origins_of_device(const origins_t *o, const char *device)
{
    origin_ent_t *e = hmap_gets(&o->by_device, device);
    return e ? e->origin : NULL;
}

size_t origins_count(const origins_t *o) { return hmap_len(&o->by_origin); }
bool origins_pending(const origins_t *o) { return o->npend > 0; }

int origins_flush(origins_t *o)
{
    if (!o->store || o->npend == 0)
        return 0;
    int rc = origin_store_put(o->store, o->pend, o->npend);
    if (rc) {
        o->write_errors++;
        log_error("origin_store_write_failed", LF_U("rows", o->npend), LF_ERR(rc));
    }
    for (size_t i = 0; i < o->npend; i++) {
        free((char *)o->pend[i].origin);
        free((char *)o->pend[i].device);
    }
    o->npend = 0;
    return rc;
}

void origins_take_pending(origins_t *o, origin_rec_t **recs, size_t *n)
{
    *recs = o->npend ? o->pend : NULL;
    *n = o->npend;
    if (o->npend) {
        o->pend = NULL;
        o->npend = o->cappend = 0;
    }
}

void origins_free_batch(origin_rec_t *recs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free((char *)recs[i].origin);
        free((char *)recs[i].device);
    }
    free(recs);
}

int origins_requeue(origins_t *o, origin_rec_t *recs, size_t n, size_t max_pending)
{
    if (n == 0) {
        free(recs);
        return 0;
    }
    if (o->npend + n > max_pending) {
        origins_free_batch(recs, n);
        return -ENOSPC;
    }
    origin_rec_t *all = realloc(recs, (n + o->npend) * sizeof *all);
    if (!all) {
        origins_free_batch(recs, n);
        return -ENOMEM;
    }
    if (o->npend)
        memcpy(all + n, o->pend, o->npend * sizeof *all);
    free(o->pend);
    o->pend = all;
    o->npend = o->cappend = n + o->npend;
    return 0;
}

int origins_merge(origins_t *o, const origin_rec_t *r)
{
    const char *dev = r->device ? r->device : "";
    /* This proxy may know better: it recorded the origin, or the device's
     * move to another origin, after the row was written (not yet flushed,
     * or flushed after the row was read). */
    const origin_ent_t *e = hmap_gets(&o->by_origin, r->origin);
    if (e && e->seen_s > r->seen_s && (!dev[0] || strcmp(e->device, dev) != 0))
        return 0;
    const origin_ent_t *d = dev[0] ? hmap_gets(&o->by_device, dev) : NULL;
    if (d && d != e && d->seen_s > r->seen_s)
        return 0;
    int rc = put_mem(o, dev, r->origin, r->seen_s, NULL);
    return rc < 0 ? rc : rc > 0;
}

typedef struct expire_walk {
    int64_t before;
    char **keys;
    size_t n, cap;
} expire_walk_t;

static int collect_old(const char *key, const origin_ent_t *e, expire_walk_t *w)
{
    if (e->seen_s >= w->before)
        return 0;
    if (w->n == w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 64;
        char **k = realloc(w->keys, cap * sizeof *k);
        if (!k)
            return -ENOMEM;
        w->keys = k;
        w->cap = cap;
    }
    w->keys[w->n] = strdup(key);
    if (!w->keys[w->n])
        return -ENOMEM;
    w->n++;
    return 0;
}

size_t origins_expire(origins_t *o, int64_t before_s)
{
    expire_walk_t w = { .before = before_s };
    const char *key;
    const origin_ent_t *ce;
    for (size_t i = 0; (ce = hmap_next(&o->by_origin, &i, &key));)
        if (collect_old(key, ce, &w) != 0)
            break; /* out of memory: expire what was collected */
    for (size_t i = 0; i < w.n; i++) {
        origin_ent_t *e = hmap_del(&o->by_origin, w.keys[i], strlen(w.keys[i]));
        if (e && e->device[0] && hmap_gets(&o->by_device, e->device) == e)
            hmap_del(&o->by_device, e->device, strlen(e->device));
        ent_free(e);
        free(w.keys[i]);
    }
    free(w.keys);
    if (o->store && !o->deferred) {
        origins_flush(o);
        origin_store_expire(o->store, before_s, NULL);
    }
    return w.n;
}
