/*
 * store_sqlite_hooks: the SQLite backend's webhook rows: the delivery queue
 * (webhook_deliveries) and the devices a device.offline event was queued
 * for (webhook_offline). Transitions are guarded UPDATEs (WHERE status =
 * ...), like the task queue's.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/str.h"
#include "store/store_sqlite.h"

#define HOOK_COLS \
    "id, hook, event, body, status, attempts, next_attempt, deadline, created, updated," \
    " last_status, last_error"

static void hook_row(sqlite3_stmt *st, store_hook_delivery_t *d)
{
    memset(d, 0, sizeof *d);
    d->id = sqlite3_column_int64(st, 0);
    sq_col_copy(st, 1, d->hook, sizeof d->hook);
    sq_col_copy(st, 2, d->event, sizeof d->event);
    d->body = (const char *)sqlite3_column_text(st, 3);
    d->status = (store_hook_status_t)sqlite3_column_int(st, 4);
    d->attempts = sqlite3_column_int(st, 5);
    d->next_attempt = sqlite3_column_int64(st, 6);
    d->deadline = sqlite3_column_int64(st, 7);
    d->created = sqlite3_column_int64(st, 8);
    d->updated = sqlite3_column_int64(st, 9);
    d->last_status = sqlite3_column_int(st, 10);
    sq_col_copy(st, 11, d->last_error, sizeof d->last_error);
}

static int finalize_rc(sq_t *q, sqlite3_stmt *st, const char *what)
{
    int rc = sq_step_done(q, st, what);
    sqlite3_finalize(st);
    return rc;
}

/* Rows of a SELECT HOOK_COLS to fn; non-zero from fn stops. */
static int hook_rows(sq_t *q, sqlite3_stmt *st, store_hook_delivery_fn fn, void *ud, const char *what)
{
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        store_hook_delivery_t d;
        hook_row(st, &d);
        if (fn(&d, ud) != 0) {
            rc = SQLITE_DONE;
            break;
        }
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : sq_err(q, what);
}

int sq_hook_enqueue(store_t *s, store_hook_delivery_t *d, int64_t max_pending)
{
    sq_t *q = SQ(s);
    /* an index count over the pending rows only */
    int64_t n = sq_scalar(q, "SELECT COUNT(*) FROM webhook_deliveries WHERE status = 0", 0, 0);
    if (n < 0)
        return -EIO;
    if (max_pending > 0 && n >= max_pending)
        return -ENOSPC;
    sqlite3_stmt *st = sq_prepare(q, "INSERT INTO webhook_deliveries (hook, event, body, status,"
                                     " next_attempt, deadline, created, updated)"
                                     " VALUES (?1, ?2, ?3, 0, ?4, ?5, ?6, ?6)");
    if (!st)
        return -EIO;
    sq_bind_text(st, 1, d->hook);
    sq_bind_text(st, 2, d->event);
    sq_bind_text(st, 3, d->body);
    sqlite3_bind_int64(st, 4, d->next_attempt);
    sqlite3_bind_int64(st, 5, d->deadline);
    sqlite3_bind_int64(st, 6, d->created);
    int rc = finalize_rc(q, st, "hook_enqueue");
    if (rc < 0)
        return rc;
    d->id = sqlite3_last_insert_rowid(q->db);
    d->status = STORE_HOOK_PENDING;
    return 0;
}

int sq_hook_claim(store_t *s, int64_t now, int64_t lease_until, int64_t limit,
                  store_hook_delivery_fn fn, void *ud, int64_t *next_due)
{
    sq_t *q = SQ(s);
    *next_due = 0;
    /* lease first, then read what was leased: one statement each */
    sqlite3_stmt *st = sq_prepare(q, "UPDATE webhook_deliveries SET lease_until = ?2 WHERE id IN"
                                     " (SELECT id FROM webhook_deliveries WHERE status = 0"
                                     "  AND next_attempt <= ?1 AND lease_until <= ?1"
                                     "  ORDER BY next_attempt, id LIMIT ?3) RETURNING " HOOK_COLS);
    if (!st)
        return -EIO;
    sqlite3_bind_int64(st, 1, now);
    sqlite3_bind_int64(st, 2, lease_until);
    sqlite3_bind_int64(st, 3, limit > 0 ? limit : 1);
    /* RETURNING rows must all be stepped before the change is complete */
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        store_hook_delivery_t d;
        hook_row(st, &d);
        (void)fn(&d, ud);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return sq_err(q, "hook_claim");
    /* the earliest moment something else is due: a row's backoff, or a lease running out */
    int64_t v = sq_scalar(q, "SELECT MIN(MAX(next_attempt, lease_until)) FROM webhook_deliveries"
                             " WHERE status = 0", 0, 0);
    *next_due = v > 0 ? v : 0;
    return 0;
}

int sq_hook_result(store_t *s, const store_hook_delivery_t *d, int64_t now)
{
    sq_t *q = SQ(s);
    sqlite3_stmt *st = sq_prepare(q, "UPDATE webhook_deliveries SET status = ?2, attempts = ?3,"
                                     " next_attempt = ?4, last_status = ?5, last_error = ?6,"
                                     " lease_until = 0, updated = ?7 WHERE id = ?1 AND status = 0");
    if (!st)
        return -EIO;
    sqlite3_bind_int64(st, 1, d->id);
    sqlite3_bind_int(st, 2, (int)d->status);
    sqlite3_bind_int(st, 3, d->attempts);
    sqlite3_bind_int64(st, 4, d->next_attempt);
    sqlite3_bind_int(st, 5, d->last_status);
    sq_bind_text(st, 6, d->last_error);
    sqlite3_bind_int64(st, 7, now);
    int rc = finalize_rc(q, st, "hook_result");
    return rc < 0 ? rc : rc == 0 ? -ESTALE : 0;
}

int sq_hook_list(store_t *s, int status, int64_t limit, store_hook_delivery_fn fn, void *ud)
{
    sq_t *q = SQ(s);
    sqlite3_stmt *st = sq_prepare(q, status < 0 ? "SELECT " HOOK_COLS " FROM webhook_deliveries"
                                                  " ORDER BY id DESC LIMIT ?1"
                                                : "SELECT " HOOK_COLS " FROM webhook_deliveries"
                                                  " WHERE status = ?2 ORDER BY id DESC LIMIT ?1");
    if (!st)
        return -EIO;
    sqlite3_bind_int64(st, 1, limit > 0 ? limit : 100);
    if (status >= 0)
        sqlite3_bind_int(st, 2, status);
    return hook_rows(q, st, fn, ud, "hook_list");
}

static int copy_one(const store_hook_delivery_t *d, void *ud)
{
    store_hook_delivery_t *out = ud;
    *out = *d;
    out->body = NULL; /* the row's text goes with the statement */
    return 1;
}

int sq_hook_retry(store_t *s, int64_t id, int64_t now, int64_t deadline, store_hook_delivery_t *out)
{
    sq_t *q = SQ(s);
    sqlite3_stmt *st = sq_prepare(q, "UPDATE webhook_deliveries SET status = 0, next_attempt = ?2,"
                                     " deadline = ?3, lease_until = 0, updated = ?2"
                                     " WHERE id = ?1 AND status = 2");
    if (!st)
        return -EIO;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int64(st, 2, now);
    sqlite3_bind_int64(st, 3, deadline);
    int rc = finalize_rc(q, st, "hook_retry");
    if (rc < 0)
        return rc;
    store_hook_delivery_t d = { .id = 0 };
    st = sq_prepare(q, "SELECT " HOOK_COLS " FROM webhook_deliveries WHERE id = ?1");
    if (!st)
        return -EIO;
    sqlite3_bind_int64(st, 1, id);
    int lrc = hook_rows(q, st, copy_one, &d, "hook_get");
    if (lrc < 0)
        return lrc;
    if (!d.id)
        return -ENOENT;
    if (out)
        *out = d;
    return rc == 0 ? -ESTALE : 0;
}

int sq_hook_counts(store_t *s, store_hook_count_fn fn, void *ud)
{
    sq_t *q = SQ(s);
    sqlite3_stmt *st = sq_prepare(q, "SELECT hook, status, COUNT(*) FROM webhook_deliveries"
                                     " GROUP BY hook, status");
    if (!st)
        return -EIO;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *hook = (const char *)sqlite3_column_text(st, 0);
        if (fn(hook ? hook : "", (store_hook_status_t)sqlite3_column_int(st, 1),
               sqlite3_column_int64(st, 2), ud) != 0) {
            rc = SQLITE_DONE;
            break;
        }
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : sq_err(q, "hook_counts");
}

int sq_hook_release_leases(store_t *s)
{
    sq_t *q = SQ(s);
    return sq_exec(q, "UPDATE webhook_deliveries SET lease_until = 0 WHERE status = 0 AND lease_until > 0");
}

/* The ACS's `online` (store_device_online) as SQL: ?1 now, ?2 the default interval. */
#define ONLINE_SQL \
    "last_inform >= ?1 - (2 * (CASE WHEN periodic_interval > 0 THEN periodic_interval ELSE ?2 END) + 60)"

int sq_hook_offline_sweep(store_t *s, int64_t now, int64_t default_interval, int64_t limit,
                          store_device_fn fn, void *ud)
{
    sq_t *q = SQ(s);
    /* back online: the next offline spell is a new event */
    sqlite3_stmt *st = sq_prepare(q, "DELETE FROM webhook_offline WHERE device_id IN"
                                     " (SELECT w.device_id FROM webhook_offline w JOIN devices d"
                                     "  ON d.id = w.device_id WHERE d." ONLINE_SQL ")"
                                     " OR device_id NOT IN (SELECT id FROM devices)");
    if (!st)
        return -EIO;
    sqlite3_bind_int64(st, 1, now);
    sqlite3_bind_int64(st, 2, default_interval);
    int rc = finalize_rc(q, st, "hook_offline_clear");
    if (rc < 0)
        return rc;
    st = sq_prepare(q, "SELECT " DEV_COLS " FROM devices WHERE NOT (" ONLINE_SQL ")"
                       " AND id NOT IN (SELECT device_id FROM webhook_offline) ORDER BY last_inform LIMIT ?3");
    sqlite3_stmt *mark = sq_prepare(q, "INSERT OR IGNORE INTO webhook_offline (device_id, since)"
                                       " VALUES (?1, ?2)");
    if (!st || !mark) {
        sqlite3_finalize(st);
        sqlite3_finalize(mark);
        return -EIO;
    }
    sqlite3_bind_int64(st, 1, now);
    sqlite3_bind_int64(st, 2, default_interval);
    sqlite3_bind_int64(st, 3, limit > 0 ? limit : 1000);
    int n = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        store_device_t d;
        sq_dev_row(st, &d);
        sqlite3_reset(mark);
        sq_bind_text(mark, 1, d.id);
        sqlite3_bind_int64(mark, 2, now);
        if (sqlite3_step(mark) != SQLITE_DONE) {
            rc = SQLITE_ERROR;
            break;
        }
        n++;
        if (fn(&d, ud) != 0) {
            rc = SQLITE_DONE;
            break;
        }
    }
    int err = rc == SQLITE_DONE ? 0 : sq_err(q, "hook_offline_sweep");
    sqlite3_finalize(st);
    sqlite3_finalize(mark);
    return err < 0 ? err : n;
}

int sq_hook_prune(store_t *s, int64_t before)
{
    sq_t *q = SQ(s);
    sqlite3_stmt *st = sq_prepare(q, "DELETE FROM webhook_deliveries WHERE status <> 0 AND updated < ?1");
    if (!st)
        return -EIO;
    sqlite3_bind_int64(st, 1, before);
    return finalize_rc(q, st, "hook_prune");
}
