/*
 * origins: the wake-up allowlist. Every ConnectionRequestURL the proxy
 * rewrote is remembered here (origin -> device id) in memory, and written
 * to the origin store in batches (one transaction per loop iteration, so a
 * bootstrap storm of thousands of Informs costs a handful of commits).
 * A restart loads the file back. The relay asks origins_lookup() before it
 * calls anything: an origin the proxy never rewrote is refused.
 *
 * A device has one origin: when it reports a new one, the old one is
 * forgotten (in memory at once, in the file with the next batch).
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
} origins_t;

/* path NULL: keep them in memory only. max: the table's cap. 0 or -errno. */
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
/* Forget origins not reported since before_s (memory and file); returns
 * how many went. */
size_t origins_expire(origins_t *o, int64_t before_s);
/* Write the pending batch (one transaction). 0 or -EIO (logged; the
 * in-memory table stays authoritative). */
int origins_flush(origins_t *o);

#endif
