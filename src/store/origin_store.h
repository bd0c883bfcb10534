/*
 * origin_store: the cwmp-proxy's memory of the ConnectionRequestURLs it
 * rewrote, in a small SQLite file (WAL), so a restart keeps the wake-up
 * allowlist: the relay only ever calls an origin that is in here.
 *
 * One row per origin URL: the device id it belongs to ("" when the message
 * that carried it did not say, e.g. a GetParameterValuesResponse on a
 * connection that never sent an Inform) and when it was last reported. A
 * device has at most one origin: recording a new one forgets the old one, so
 * an address the device gave up stops being reachable through the relay.
 *
 * The proxy keeps the working set in memory and writes changes here in
 * batches; reads happen once, at start-up. The store owns its SQLite handle
 * and prepared statements; strings passed in are copied by SQLite.
 *
 * Shared: opened with a postgres:// URL, the rows live in PostgreSQL
 * (origin_store_pg.c), where several proxies write and read them, so any
 * of them can relay a wake-up for a CPE that informed through another. Then
 * every call waits on the network: origin_store_shared() says so, and the
 * proxy makes its calls from a worker thread (one at a time per handle).
 */
#ifndef OUTPOST_STORE_ORIGIN_STORE_H
#define OUTPOST_STORE_ORIGIN_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct origin_store origin_store_t;

typedef struct origin_rec {
    const char *origin; /* the CPE's own ConnectionRequestURL */
    const char *device; /* "OUI-ProductClass-Serial", or "" */
    int64_t seen_s;     /* Unix seconds */
    int64_t written_s;  /* read back from a shared store: when the row was last
                           written, by the server's clock (ignored by put) */
} origin_rec_t;

/* Open (creating the file and schema when needed): a file path, or a
 * postgres:// (postgresql://) URL. 0, or a negative errno with the reason
 * logged. */
int origin_store_open(const char *path, origin_store_t **out);
/* Does this store live in a server other proxies share (PostgreSQL)? */
bool origin_store_shared(const origin_store_t *s);
/* True when `where` names a shared store (a postgres:// URL). */
bool origin_store_is_url(const char *where);
void origin_store_close(origin_store_t *s);

/* Record rows in one transaction. For a row with a device, that device's
 * other origins are removed; an origin already filed under a device keeps
 * it when the new row's device is "". 0 or -EIO (logged, nothing written). */
int origin_store_put(origin_store_t *s, const origin_rec_t *recs, size_t n);

/* Every row, for the in-memory index at start-up. A non-zero return from
 * fn stops the walk and is returned. */
typedef int (*origin_store_row_fn)(void *ud, const origin_rec_t *rec);
int origin_store_load(origin_store_t *s, origin_store_row_fn fn, void *ud);
/* A shared store only (else -ENOTSUP): the rows written since since_s by
 * the server's clock (a retried batch counts when it is written, whatever
 * its `seen`), oldest write first, at most limit of them (0: no limit):
 * what every proxy wrote lately. *now_s: the server's clock at the read. */
int origin_store_load_written(origin_store_t *s, int64_t since_s, size_t limit,
                              origin_store_row_fn fn, void *ud, int64_t *now_s);

/* Forget origins not reported since before_s; *removed (may be NULL) says
 * how many went. 0 or -EIO. */
int origin_store_expire(origin_store_t *s, int64_t before_s, size_t *removed);

/* Forget one origin. 0 (also when absent) or -EIO. */
int origin_store_delete(origin_store_t *s, const char *origin);

#endif
