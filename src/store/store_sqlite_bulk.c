/*
 * store_sqlite_bulk: bulk tasks for the SQLite backend. A bulk's tasks are
 * ordinary task rows with tasks.bulk set; held = 1 keeps them from
 * sessions (the pending queries skip held rows) until the ACS releases
 * them. Creating a bulk is one INSERT ... SELECT over the devices the
 * search filter matches (store_sqlite_search.c compiles it), inside the
 * store worker's transaction, so the bulk and all its tasks appear at once.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/str.h"
#include "store/store_sqlite.h"

#define BULK_COLS \
    "id, type, params, filter, total, state, reason, max_in_flight, max_failure_ratio," \
    " min_finished, created, updated"

static void bulk_row(sqlite3_stmt *st, store_bulk_t *b)
{
    memset(b, 0, sizeof *b);
    b->id = sqlite3_column_int64(st, 0);
    sq_col_copy(st, 1, b->type, sizeof b->type);
    b->params = sq_col_dup(st, 2);
    b->filter = sq_col_dup(st, 3);
    b->total = sqlite3_column_int64(st, 4);
    b->state = (store_bulk_state_t)sqlite3_column_int(st, 5);
    sq_col_copy(st, 6, b->reason, sizeof b->reason);
    b->max_in_flight = sqlite3_column_int64(st, 7);
    b->max_failure_ratio = sqlite3_column_double(st, 8);
    b->min_finished = sqlite3_column_int64(st, 9);
    b->created = sqlite3_column_int64(st, 10);
    b->updated = sqlite3_column_int64(st, 11);
}

/* The counts of a bulk's tasks, by status and held (tasks_bulk covers it). */
static int bulk_counts(sq_t *q, store_bulk_t *b)
{
    sqlite3_stmt *st = sq_prepare(q, "SELECT status, held, COUNT(*) FROM tasks WHERE bulk = ?1"
                                     " GROUP BY status, held");
    if (!st)
        return -EIO;
    sqlite3_bind_int64(st, 1, b->id);
    b->held = b->pending = b->sent = b->done = b->failed = b->expired = b->cancelled = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int status = sqlite3_column_int(st, 0), held = sqlite3_column_int(st, 1);
        int64_t n = sqlite3_column_int64(st, 2);
        int64_t *slot[] = { held ? &b->held : &b->pending, &b->sent, &b->done, &b->failed,
                            &b->expired, &b->cancelled };
        if (status >= 0 && status <= STORE_TASK_CANCELLED)
            *slot[status] += n;
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : sq_err(q, "bulk_counts");
}

int sq_bulk_create(store_t *s, store_bulk_t *b, const store_search_t *srch, const char *ids_json,
                   int64_t now)
{
    sq_t *q = SQ(s);
    sqlite3_stmt *st = sq_prepare(q, "INSERT INTO bulks (type, params, filter, total, state,"
                                     " max_in_flight, max_failure_ratio, min_finished, created,"
                                     " updated) VALUES (?1, ?2, ?3, 0, 0, ?4, ?5, ?6, ?7, ?7)");
    if (!st)
        return -EIO;
    sq_bind_text(st, 1, b->type);
    sq_bind_text(st, 2, b->params ? b->params : "{}");
    sq_bind_text(st, 3, b->filter);
    sqlite3_bind_int64(st, 4, b->max_in_flight);
    sqlite3_bind_double(st, 5, b->max_failure_ratio);
    sqlite3_bind_int64(st, 6, b->min_finished);
    sqlite3_bind_int64(st, 7, now);
    int rc = sq_step_done(q, st, "bulk_create");
    sqlite3_finalize(st);
    if (rc < 0)
        return rc;
    b->id = sqlite3_last_insert_rowid(q->db);
    b->created = b->updated = now;
    /* one task per device, in device row order; ?1..?5 are ours */
    static const char head[] =
        "INSERT INTO tasks (device_id, type, params, status, created, updated, expires_at, bulk,"
        " held) SELECT id, ?1, ?2, 0, ?3, ?3, ?4, ?5, 1 FROM devices WHERE ";
    if (ids_json) {
        st = sq_prepare(q, "INSERT INTO tasks (device_id, type, params, status, created, updated,"
                           " expires_at, bulk, held) SELECT id, ?1, ?2, 0, ?3, ?3, ?4, ?5, 1"
                           " FROM devices WHERE id IN (SELECT value FROM json_each(?6))"
                           " ORDER BY rid");
        if (st)
            sq_bind_text(st, 6, ids_json);
    } else if ((rc = sq_filter_prepare(q, srch, head, 5, " ORDER BY rid", &st)) < 0) {
        return rc;
    }
    if (!st)
        return -EIO;
    sq_bind_text(st, 1, b->type);
    sq_bind_text(st, 2, b->params ? b->params : "{}");
    sqlite3_bind_int64(st, 3, now);
    sqlite3_bind_int64(st, 4, b->expires_at);
    sqlite3_bind_int64(st, 5, b->id);
    rc = sq_step_done(q, st, "bulk_tasks");
    sqlite3_finalize(st);
    if (rc < 0)
        return rc;
    if (rc == 0)
        return -ENODATA; /* the worker rolls the job back: no empty bulk */
    b->total = rc;
    st = sq_prepare(q, "UPDATE bulks SET total = ?2 WHERE id = ?1");
    if (!st)
        return -EIO;
    sqlite3_bind_int64(st, 1, b->id);
    sqlite3_bind_int64(st, 2, b->total);
    rc = sq_step_done(q, st, "bulk_create");
    sqlite3_finalize(st);
    return rc < 0 ? rc : 0;
}

int sq_bulk_get(store_t *s, int64_t id, store_bulk_t *out)
{
    sq_t *q = SQ(s);
    sqlite3_stmt *st = sq_prepare(q, "SELECT " BULK_COLS " FROM bulks WHERE id = ?1");
    if (!st)
        return -EIO;
    sqlite3_bind_int64(st, 1, id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        bulk_row(st, out);
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW)
        return rc == SQLITE_DONE ? -ENOENT : sq_err(q, "bulk_get");
    if ((rc = bulk_counts(q, out)) < 0)
        store_bulk_clear(out);
    return rc;
}

int sq_bulk_tasks(store_t *s, int64_t id, store_task_status_t status, int64_t limit,
                  store_task_fn fn, void *ud)
{
    sq_t *q = SQ(s);
    sqlite3_stmt *st = sq_prepare(q, "SELECT " TASK_COLS " FROM tasks WHERE bulk = ?1"
                                     " AND status = ?2 ORDER BY id LIMIT ?3");
    if (!st)
        return -EIO;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int(st, 2, (int)status);
    sqlite3_bind_int64(st, 3, limit > 0 ? limit : 100);
    int rc = sq_task_rows(q, st, fn, ud, "bulk_tasks");
    sqlite3_finalize(st);
    return rc;
}

/* Each row of a SELECT BULK_COLS, with its counts, to fn until it returns
 * non-zero; finalizes st. */
static int bulk_rows(sq_t *q, sqlite3_stmt *st, store_bulk_fn fn, void *ud, const char *what)
{
    int rc;
    store_bulk_t b;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        bulk_row(st, &b);
        int crc = bulk_counts(q, &b);
        int stop = crc < 0 ? crc : fn(&b, ud);
        store_bulk_clear(&b);
        if (stop) {
            rc = crc < 0 ? SQLITE_ERROR : SQLITE_DONE;
            break;
        }
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : sq_err(q, what);
}

int sq_bulk_running(store_t *s, store_bulk_fn fn, void *ud)
{
    sq_t *q = SQ(s);
    sqlite3_stmt *st = sq_prepare(q, "SELECT " BULK_COLS " FROM bulks WHERE state = 0 ORDER BY id");
    if (!st)
        return -EIO;
    return bulk_rows(q, st, fn, ud, "bulk_running");
}

int sq_bulk_list(store_t *s, int state, int64_t before, int64_t limit, store_bulk_fn fn, void *ud)
{
    sq_t *q = SQ(s);
    sqlite3_stmt *st = sq_prepare(q, "SELECT " BULK_COLS " FROM bulks WHERE id < ?1"
                                     " AND (?2 < 0 OR state = ?2) ORDER BY id DESC LIMIT ?3");
    if (!st)
        return -EIO;
    sqlite3_bind_int64(st, 1, before > 0 ? before : INT64_MAX);
    sqlite3_bind_int(st, 2, state);
    sqlite3_bind_int64(st, 3, limit > 0 ? limit : 100);
    return bulk_rows(q, st, fn, ud, "bulk_list");
}

int sq_bulk_release(store_t *s, int64_t id, int64_t n,
                    int (*fn)(int64_t task, const char *device, void *ud), void *ud)
{
    sq_t *q = SQ(s);
    sqlite3_stmt *st = sq_prepare(q, "UPDATE tasks SET held = 0 WHERE id IN (SELECT id FROM tasks"
                                     " WHERE bulk = ?1 AND status = 0 AND held = 1 ORDER BY id"
                                     " LIMIT ?2) RETURNING id, device_id");
    if (!st)
        return -EIO;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int64(st, 2, n);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        fn(sqlite3_column_int64(st, 0), (const char *)sqlite3_column_text(st, 1), ud);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : sq_err(q, "bulk_release");
}

int sq_bulk_rehold(store_t *s, int64_t task)
{
    sq_t *q = SQ(s);
    sqlite3_stmt *st = sq_prepare(q, "UPDATE tasks SET held = 1 WHERE id = ?1 AND bulk > 0"
                                     " AND status = 0");
    if (!st)
        return -EIO;
    sqlite3_bind_int64(st, 1, task);
    int rc = sq_step_done(q, st, "bulk_rehold");
    sqlite3_finalize(st);
    return rc < 0 ? rc : 0;
}

int sq_bulk_end(store_t *s, int64_t id, store_bulk_state_t state, const char *reason, int64_t now)
{
    sq_t *q = SQ(s);
    sqlite3_stmt *st = sq_prepare(q, "UPDATE bulks SET state = ?2, reason = ?3, updated = ?4"
                                     " WHERE id = ?1 AND state = 0");
    if (!st)
        return -EIO;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int(st, 2, (int)state);
    sq_bind_text(st, 3, reason);
    sqlite3_bind_int64(st, 4, now);
    int rc = sq_step_done(q, st, "bulk_end");
    sqlite3_finalize(st);
    if (rc <= 0)
        return rc < 0 ? rc : (sq_scalar(q, "SELECT COUNT(*) FROM bulks WHERE id = ?1", id, 0) > 0
                                  ? -ESTALE : -ENOENT);
    if (state != STORE_BULK_CANCELLED && state != STORE_BULK_STOPPED)
        return 0;
    /* cancelled: whatever is not sent yet; stopped: what was never released */
    st = sq_prepare(q, state == STORE_BULK_CANCELLED
                           ? "UPDATE tasks SET status = 5, done_at = ?2, updated = ?2"
                             " WHERE bulk = ?1 AND status = 0"
                           : "UPDATE tasks SET status = 5, done_at = ?2, updated = ?2"
                             " WHERE bulk = ?1 AND status = 0 AND held = 1");
    if (!st)
        return -EIO;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int64(st, 2, now);
    rc = sq_step_done(q, st, "bulk_end");
    sqlite3_finalize(st);
    return rc;
}
