/*
 * store_pg_hooks: the PostgreSQL backend's webhook rows
 * (store_sqlite_hooks.c has the model): the delivery queue
 * (webhook_deliveries) and the devices a device.offline event was queued
 * for (webhook_offline). Transitions are guarded UPDATEs (WHERE status =
 * ...), like the task queue's.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/str.h"
#include "store/store_pg.h"

#define HOOK_COLS \
    "id, hook, event, body, status, attempts, next_attempt, deadline, created, updated," \
    " last_status, last_error"

static void hook_row(const PGresult *r, int i, store_hook_delivery_t *d)
{
    memset(d, 0, sizeof *d);
    d->id = pg_col_i64(r, i, 0);
    pg_col_copy(r, i, 1, d->hook, sizeof d->hook);
    pg_col_copy(r, i, 2, d->event, sizeof d->event);
    d->body = pg_col(r, i, 3);
    d->status = (store_hook_status_t)pg_col_i64(r, i, 4);
    d->attempts = (int)pg_col_i64(r, i, 5);
    d->next_attempt = pg_col_i64(r, i, 6);
    d->deadline = pg_col_i64(r, i, 7);
    d->created = pg_col_i64(r, i, 8);
    d->updated = pg_col_i64(r, i, 9);
    d->last_status = (int)pg_col_i64(r, i, 10);
    pg_col_copy(r, i, 11, d->last_error, sizeof d->last_error);
}

/* The rows of a HOOK_COLS result to fn (non-zero stops); clears r. */
static int hook_rows(PGresult *r, store_hook_delivery_fn fn, void *ud)
{
    if (!r)
        return -EIO;
    for (int i = 0, n = PQntuples(r); i < n; i++) {
        store_hook_delivery_t d;
        hook_row(r, i, &d);
        if (fn(&d, ud) != 0)
            break;
    }
    PQclear(r);
    return 0;
}

int pg_hook_enqueue(store_t *s, store_hook_delivery_t *d, int64_t max_pending)
{
    pg_t *p = PG(s);
    bool ok = true;
    /* an index count over the pending rows only */
    int64_t n = pg_scalar(p, "SELECT COUNT(*) FROM webhook_deliveries WHERE status = 0", 0, NULL, &ok);
    if (!ok || n < 0)
        return -EIO;
    if (max_pending > 0 && n >= max_pending)
        return -ENOSPC;
    pg_num_t next, dl, cr;
    const char *v[] = { d->hook, d->event, d->body ? d->body : "", pg_i64(&next, d->next_attempt),
                        pg_i64(&dl, d->deadline), pg_i64(&cr, d->created) };
    int64_t id = pg_scalar(p, "INSERT INTO webhook_deliveries (hook, event, body, status,"
                              " next_attempt, deadline, created, updated)"
                              " VALUES ($1, $2, $3, 0, $4, $5, $6, $6) RETURNING id", 6, v, &ok);
    if (!ok || id < 0)
        return -EIO;
    d->id = id;
    d->status = STORE_HOOK_PENDING;
    return 0;
}

int pg_hook_claim(store_t *s, int64_t now, int64_t lease_until, int64_t limit,
                  store_hook_delivery_fn fn, void *ud, int64_t *next_due)
{
    pg_t *p = PG(s);
    *next_due = 0;
    pg_num_t a, b, c;
    const char *v[] = { pg_i64(&a, now), pg_i64(&b, lease_until), pg_i64(&c, limit > 0 ? limit : 1) };
    /* lease and read in one statement, in due order (RETURNING has none);
     * SKIP LOCKED: a row another node is leasing right now is not waited for */
    PGresult *r = pg_query(p, "WITH c AS (UPDATE webhook_deliveries SET lease_until = $2 WHERE id IN"
                              " (SELECT id FROM webhook_deliveries WHERE status = 0"
                              "  AND next_attempt <= $1 AND lease_until <= $1"
                              "  ORDER BY next_attempt, id LIMIT $3 FOR UPDATE SKIP LOCKED)"
                              " RETURNING " HOOK_COLS ") SELECT * FROM c ORDER BY next_attempt, id",
                           3, v, "hook_claim");
    if (!r)
        return -EIO;
    for (int i = 0, n = PQntuples(r); i < n; i++) {
        store_hook_delivery_t d;
        hook_row(r, i, &d);
        (void)fn(&d, ud); /* every row is leased: each goes to fn */
    }
    PQclear(r);
    /* the earliest moment something else is due: a row's backoff, or a lease running out */
    bool ok = true;
    int64_t due = pg_scalar(p, "SELECT MIN(GREATEST(next_attempt, lease_until)) FROM webhook_deliveries"
                               " WHERE status = 0", 0, NULL, &ok);
    if (!ok)
        return -EIO;
    *next_due = due > 0 ? due : 0;
    return 0;
}

int pg_hook_result(store_t *s, const store_hook_delivery_t *d, int64_t now)
{
    pg_num_t id, st, at, next, ls, t;
    const char *v[] = { pg_i64(&id, d->id), pg_i64(&st, (int64_t)d->status), pg_i64(&at, d->attempts),
                        pg_i64(&next, d->next_attempt), pg_i64(&ls, d->last_status), d->last_error,
                        pg_i64(&t, now) };
    int rc = pg_cmd_sql(PG(s), "UPDATE webhook_deliveries SET status = $2, attempts = $3,"
                               " next_attempt = $4, last_status = $5, last_error = $6,"
                               " lease_until = 0, updated = $7 WHERE id = $1 AND status = 0",
                        7, v, "hook_result");
    return rc < 0 ? rc : rc == 0 ? -ESTALE : 0;
}

int pg_hook_list(store_t *s, int status, int64_t limit, store_hook_delivery_fn fn, void *ud)
{
    pg_num_t l, st;
    const char *v[] = { pg_i64(&l, limit > 0 ? limit : 100), pg_i64(&st, status) };
    return hook_rows(pg_query(PG(s), status < 0 ? "SELECT " HOOK_COLS " FROM webhook_deliveries"
                                                  " ORDER BY id DESC LIMIT $1"
                                                : "SELECT " HOOK_COLS " FROM webhook_deliveries"
                                                  " WHERE status = $2 ORDER BY id DESC LIMIT $1",
                              status < 0 ? 1 : 2, v, "hook_list"),
                     fn, ud);
}

static int copy_one(const store_hook_delivery_t *d, void *ud)
{
    store_hook_delivery_t *out = ud;
    *out = *d;
    out->body = NULL; /* the row's text goes with the result */
    return 1;
}

int pg_hook_retry(store_t *s, int64_t id, int64_t now, int64_t deadline, store_hook_delivery_t *out)
{
    pg_t *p = PG(s);
    pg_num_t a, b, c;
    const char *v[] = { pg_i64(&a, id), pg_i64(&b, now), pg_i64(&c, deadline) };
    int rc = pg_cmd_sql(p, "UPDATE webhook_deliveries SET status = 0, next_attempt = $2,"
                           " deadline = $3, lease_until = 0, updated = $2"
                           " WHERE id = $1 AND status = 2", 3, v, "hook_retry");
    if (rc < 0)
        return rc;
    store_hook_delivery_t d = { .id = 0 };
    int lrc = hook_rows(pg_query(p, "SELECT " HOOK_COLS " FROM webhook_deliveries WHERE id = $1", 1, v,
                                 "hook_get"),
                        copy_one, &d);
    if (lrc < 0)
        return lrc;
    if (!d.id)
        return -ENOENT;
    if (out)
        *out = d;
    return rc == 0 ? -ESTALE : 0;
}

int pg_hook_counts(store_t *s, store_hook_count_fn fn, void *ud)
{
    PGresult *r = pg_query(PG(s), "SELECT hook, status, COUNT(*) FROM webhook_deliveries"
                                  " GROUP BY hook, status", 0, NULL, "hook_counts");
    if (!r)
        return -EIO;
    for (int i = 0, n = PQntuples(r); i < n; i++) {
        const char *hook = pg_col(r, i, 0);
        if (fn(hook ? hook : "", (store_hook_status_t)pg_col_i64(r, i, 1), pg_col_i64(r, i, 2), ud) != 0)
            break;
    }
    PQclear(r);
    return 0;
}

int pg_hook_release_leases(store_t *s)
{
    return pg_cmd_sql(PG(s), "UPDATE webhook_deliveries SET lease_until = 0"
                             " WHERE status = 0 AND lease_until > 0", 0, NULL, "hook_release") < 0
               ? -EIO : 0;
}

/* The ACS's `online` (store_device_online) as SQL: $1 now, $2 the default interval. */
#define ONLINE_SQL \
    "last_inform >= $1::bigint - (2 * (CASE WHEN periodic_interval > 0 THEN periodic_interval" \
    " ELSE $2::bigint END) + 60)"

int pg_hook_offline_sweep(store_t *s, int64_t now, int64_t default_interval, int64_t limit,
                          store_device_fn fn, void *ud)
{
    pg_t *p = PG(s);
    pg_num_t a, b, c;
    const char *v[] = { pg_i64(&a, now), pg_i64(&b, default_interval), pg_i64(&c, limit > 0 ? limit : 1000) };
    /* back online: the next offline spell is a new event */
    if (pg_cmd_sql(p, "DELETE FROM webhook_offline WHERE device_id IN"
                      " (SELECT w.device_id FROM webhook_offline w JOIN devices d"
                      "  ON d.id = w.device_id WHERE d." ONLINE_SQL ")"
                      " OR device_id NOT IN (SELECT id FROM devices)", 2, v, "hook_offline_clear") < 0)
        return -EIO;
    PGresult *r = pg_query(p, "SELECT " PG_DEV_COLS " FROM devices WHERE NOT (" ONLINE_SQL ")"
                              " AND id NOT IN (SELECT device_id FROM webhook_offline)"
                              " ORDER BY last_inform LIMIT $3", 3, v, "hook_offline_sweep");
    if (!r)
        return -EIO;
    /* each device to fn, up to the one it stops at; those are marked, in one statement */
    int n = 0, rows = PQntuples(r);
    store_device_t *d = malloc(sizeof *d);
    const char **ids = calloc((size_t)rows + 1, sizeof *ids);
    if (!d || !ids) {
        free(d);
        free(ids);
        PQclear(r);
        return -ENOMEM;
    }
    for (int i = 0; i < rows; i++) {
        pg_dev_row(r, i, d);
        ids[n++] = pg_col(r, i, 0);
        if (fn(d, ud) != 0)
            break;
    }
    free(d);
    int rc = 0;
    if (n > 0) {
        buf_t arr = BUF_INIT((size_t)64 << 20);
        rc = pg_array_append(&arr, ids, (size_t)n);
        if (!rc) {
            const char *mv[] = { arr.data, v[0] };
            rc = pg_cmd_sql(p, "INSERT INTO webhook_offline (device_id, since)"
                               " SELECT unnest($1::text[]), $2 ON CONFLICT DO NOTHING", 2, mv,
                            "hook_offline_mark") < 0 ? -EIO : 0;
        }
        buf_free(&arr);
    }
    free(ids);
    PQclear(r);
    return rc < 0 ? rc : n;
}

int pg_hook_prune(store_t *s, int64_t before)
{
    pg_num_t b;
    const char *v[] = { pg_i64(&b, before) };
    return pg_cmd_sql(PG(s), "DELETE FROM webhook_deliveries WHERE status <> 0 AND updated < $1", 1, v,
                      "hook_prune");
}
