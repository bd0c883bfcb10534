/*
 * origins: the wake-up allowlist. Every ConnectionRequestURL the proxy
 * rewrote in a request its ACS node accepted (2xx: forward.c records it
 * then, not while rewriting) is remembered here (origin -> device id) in
 * memory, and written to the origin store in batches (one transaction per
 * loop iteration, so a bootstrap storm of thousands of Informs costs a
 * handful of commits).
 * A restart loads the file back. The relay asks origins_lookup() before it
 * calls anything: an origin the proxy never rewrote is refused.
 *
 * A device has one origin: when it reports a new one, the old one is
 * forgotten (in memory at once, in the file with the next batch).
 *
 * With a shared store (PostgreSQL, several proxies) the daemon sets
 * `deferred` and does the store's calls off its loop (origins_sync.c): it
 * takes the pending batch (origins_take_pending) to write it on a worker
 * thread, and merges what other proxies wrote (origins_merge).
 *
 * The origins_t is owned by the daemon; the store handle inside it too.
 */
#ifndef OUTPOST_CWMP_PROXY_ORIGINS_H
#define OUTPOST_CWMP_PROXY_ORIGINS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/hmap.h"
#include "store/origin_store.h"

typedef struct origin_ent origin_ent_t;

typedef struct origins {
    hmap_t by_origin;      /* origin -> origin_ent_t (keys copied) */
    hmap_t by_device;      /* device -> origin_ent_t (keys copied) */
    origin_store_t *store; /* NULL: memory only */
    origin_rec_t *pend;    /* batch not yet written (strings owned) */
    size_t npend, cappend;
    size_t max;
    uint64_t refused;      /* new origins refused because the table is full */
    uint64_t write_errors;
    bool deferred;         /* the store's calls are the owner's (a shared store) */
} origins_t;

/* path NULL: keep them in memory only; a file path or a postgres:// URL
 * (origin_store_open). max: the table's cap. 0 or -errno. */
int origins_open(origins_t *o, const char *path, size_t max);
/* Write what is pending, then free everything. */
void origins_close(origins_t *o);

/* The proxy rewrote `origin` in a message from `device` ("" unknown).
 * Returns 1 when something changed (a write is pending), 0 when it was
 * already known, -ENOSPC when the table is full, -ENOMEM. */
int origins_record(origins_t *o, const char *device, const char *origin, int64_t now_s);
/* Is origin allowed? Returns true and the device id ("" unknown) in *device. */
bool origins_lookup(const origins_t *o, const char *origin, const char **device);
/* The origin recorded for a device, or NULL. */
const char *origins_of_device(const origins_t *o, const char *device);
size_t origins_count(const origins_t *o);
bool origins_pending(const origins_t *o);
/* Forget origins not reported since before_s (memory and file; with
 * `deferred` memory only); returns how many went. */
size_t origins_expire(origins_t *o, int64_t before_s);
/* Write the pending batch (one transaction). 0 or -EIO (logged; the
 * in-memory table stays authoritative). */
int origins_flush(origins_t *o);

/* Hand the pending batch over (strings owned by it; free it with
 * origins_free_batch): *n 0 when nothing is pending. */
void origins_take_pending(origins_t *o, origin_rec_t **recs, size_t *n);
void origins_free_batch(origin_rec_t *recs, size_t n);
/* A taken batch whose write failed goes back in front of what is pending
 * (it is older), to be written with the next one; taken over (freed) in
 * every case. Beyond max_pending rows it is dropped instead: -ENOSPC. */
int origins_requeue(origins_t *o, origin_rec_t *recs, size_t n, size_t max_pending);
/* A row another proxy wrote to the shared store: applied as a record
 * would be (a device's older origin goes), but nothing is written back,
 * and a row older than what this proxy knows of the origin or the device
 * is ignored. 1 applied, 0 ignored or known, -ENOSPC, -ENOMEM. */
int origins_merge(origins_t *o, const origin_rec_t *r);

#endif
