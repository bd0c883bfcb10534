/*
 * origins_sync: keeps the proxy's origin allowlist (origins.h) in step with
 * a shared origin store (PostgreSQL: origin_store_shared()) without ever
 * waiting on the server from the event loop.
 *
 * One job at a time runs on libuv's thread pool, owning the store handle
 * while it is out: it writes the batch taken from the allowlist, runs an
 * expiry asked for, and, every refresh interval, reads the rows written
 * since the previous read (by this proxy or any other) and hands them back
 * to the loop, which merges them (origins_merge). So a CPE that informed
 * through another proxy is known here within about one interval plus that
 * proxy's write-behind (100 ms).
 *
 * Ownership: the origins_sync_t belongs to the daemon; it borrows the
 * origins_t, which must outlive the loop's last run. origins_sync_close()
 * stops it; a job still out finishes on that run and frees itself.
 */
#ifndef OUTPOST_CWMP_PROXY_ORIGINS_SYNC_H
#define OUTPOST_CWMP_PROXY_ORIGINS_SYNC_H

#include <stdint.h>
#include <uv.h>

#include "cwmp_proxy/origins.h"

typedef struct origins_sync origins_sync_t;

/* Sets o->deferred. refresh_ms: how often other proxies' rows are read.
 * 0 or -ENOMEM. */
int origins_sync_start(uv_loop_t *loop, origins_t *o, int64_t refresh_ms, origins_sync_t **out);
/* Write the pending batch now, or when the job out comes back. */
void origins_sync_flush(origins_sync_t *s);
/* Forget rows older than before_s in the store (with the next job). */
void origins_sync_expire(origins_sync_t *s, int64_t before_s);
/* Stop: the timer closes with the loop; a job out frees itself. */
void origins_sync_close(origins_sync_t *s);

#endif
