/*
 * store_pg_bulk: bulk tasks for the PostgreSQL backend (store_sqlite_bulk.c
 * has the model). A bulk's tasks are ordinary task rows with tasks.bulk
 * set; held = 1 keeps them from sessions until the ACS releases them.
 * Creating a bulk is one INSERT ... SELECT over the devices the search
 * filter matches (store_pg_search.c compiles it), inside the store
 * worker's transaction, so the bulk and all its tasks appear at once.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/str.h"
#include "store/store_pg.h"

#define BULK_COLS \
    "id, type, params, filter, total, state, reason, max_in_flight, max_failure_ratio," \
    " min_finished, created, updated"

static void bulk_row(const PGresult *r, int i, store_bulk_t *b)
{
    memset(b, 0, sizeof *b);
    b->id = pg_col_i64(r, i, 0);
    pg_col_copy(r, i, 1, b->type, sizeof b->type);
    b->params = pg_col_dup(r, i, 2);
    b->filter = pg_col_dup(r, i, 3);
    b->total = pg_col_i64(r, i, 4);
    b->state = (store_bulk_state_t)pg_col_i64(r, i, 5);
    pg_col_copy(r, i, 6, b->reason, sizeof b->reason);
    b->max_in_flight = pg_col_i64(r, i, 7);
    const char *ratio = pg_col(r, i, 8);
    b->max_failure_ratio = ratio ? strtod(ratio, NULL) : 0;
    b->min_finished = pg_col_i64(r, i, 9);
    b->created = pg_col_i64(r, i, 10);
    b->updated = pg_col_i64(r, i, 11);
}

/* The counts of a bulk's tasks, by status and held (tasks_bulk covers it). */
static int bulk_counts(pg_t *p, store_bulk_t *b)
{
    pg_num_t id;
    const char *v[] = { pg_i64(&id, b->id) };
    PGresult *r = pg_query(p, "SELECT status, held, COUNT(*) FROM tasks WHERE bulk = $1"
                              " GROUP BY status, held", 1, v, "bulk_counts");
    if (!r)
        return -EIO;
    b->held = b->pending = b->sent = b->done = b->failed = b->expired = b->cancelled = 0;
    for (int i = 0, n = PQntuples(r); i < n; i++) {
        int64_t status = pg_col_i64(r, i, 0), held = pg_col_i64(r, i, 1), cnt = pg_col_i64(r, i, 2);
        int64_t *slot[] = { held ? &b->held : &b->pending, &b->sent, &b->done, &b->failed,
                            &b->expired, &b->cancelled };
        if (status >= 0 && status <= STORE_TASK_CANCELLED)
            *slot[status] += cnt;
    }
    PQclear(r);
    return 0;
}

/* Rows a command changed, from its result (cleared); -EIO for none. */
static int64_t changed(PGresult *r)
{
    if (!r)
        return -EIO;
    int64_t n = strtoll(PQcmdTuples(r), NULL, 10);
    PQclear(r);
    return n;
}

int pg_bulk_create(store_t *s, store_bulk_t *b, const store_search_t *srch, const char *ids_json,
                   int64_t now)
{
    pg_t *p = PG(s);
    pg_num_t mif, minf, t, exp, id;
    char ratio[32];
    snprintf(ratio, sizeof ratio, "%.17g", b->max_failure_ratio);
    const char *params = b->params ? b->params : "{}";
    const char *v[] = { b->type, params, b->filter ? b->filter : "", pg_i64(&mif, b->max_in_flight),
                        ratio, pg_i64(&minf, b->min_finished), pg_i64(&t, now) };
    bool ok = true;
    int64_t bid = pg_scalar(p, "INSERT INTO bulks (type, params, filter, total, state,"
                               " max_in_flight, max_failure_ratio, min_finished, created,"
                               " updated) VALUES ($1, $2, $3, 0, 0, $4, $5, $6, $7, $7) RETURNING id",
                            7, v, &ok);
    if (!ok || bid < 0)
        return -EIO;
    b->id = bid;
    b->created = b->updated = now;
    /* one task per device, in device row order; $1..$5 are ours */
    const char *tv[] = { b->type, params, pg_i64(&t, now), pg_i64(&exp, b->expires_at),
                         pg_i64(&id, b->id), ids_json };
    static const char head[] =
        "INSERT INTO tasks (device_id, type, params, status, created, updated, expires_at, bulk,"
        " held) SELECT id, $1, $2, 0, $3::bigint, $3::bigint, $4::bigint, $5::bigint, 1"
        " FROM devices WHERE ";
    int64_t n;
    if (ids_json) {
        n = changed(pg_query(p, "INSERT INTO tasks (device_id, type, params, status, created, updated,"
                                " expires_at, bulk, held) SELECT id, $1, $2, 0, $3::bigint, $3::bigint,"
                                " $4::bigint, $5::bigint, 1 FROM devices WHERE id IN"
                                " (SELECT json_array_elements_text($6::json)) ORDER BY rid",
                             6, tv, "bulk_tasks"));
    } else {
        int err = 0;
        PGresult *r = pg_filter_query(p, srch, head, 5, tv, " ORDER BY rid", "bulk_tasks", &err);
        if (!r)
            return err ? err : -EIO;
        n = changed(r);
    }
    if (n < 0)
        return (int)n;
    if (n == 0)
        return -ENODATA; /* the worker rolls the job back: no empty bulk */
    b->total = n;
    pg_num_t tot;
    const char *uv[] = { pg_i64(&id, b->id), pg_i64(&tot, b->total) };
    return pg_cmd_sql(p, "UPDATE bulks SET total = $2 WHERE id = $1", 2, uv, "bulk_create") < 0 ? -EIO
                                                                                             : 0;
}

int pg_bulk_get(store_t *s, int64_t id, store_bulk_t *out)
{
    pg_t *p = PG(s);
    pg_num_t n;
    const char *v[] = { pg_i64(&n, id) };
    PGresult *r = pg_query(p, "SELECT " BULK_COLS " FROM bulks WHERE id = $1", 1, v, "bulk_get");
    int rc = pg_one(r);
    if (rc < 0) {
        PQclear(r);
        return rc;
    }
    bulk_row(r, 0, out);
    PQclear(r);
    rc = bulk_counts(p, out);
    if (rc < 0)
        store_bulk_clear(out);
    return rc;
}

int pg_bulk_tasks(store_t *s, int64_t id, store_task_status_t status, int64_t limit,
                  store_task_fn fn, void *ud)
{
    pg_num_t a, b, c;
    const char *v[] = { pg_i64(&a, id), pg_i64(&b, (int64_t)status), pg_i64(&c, limit > 0 ? limit : 100) };
    PGresult *r = pg_query(PG(s), "SELECT " PG_TASK_COLS " FROM tasks WHERE bulk = $1"
                                  " AND status = $2 ORDER BY id LIMIT $3", 3, v, "bulk_tasks");
    if (!r)
        return -EIO;
    int rc = pg_task_rows(r, fn, ud);
    PQclear(r);
    return rc;
}

/* Each row of a BULK_COLS result, with its counts, to fn until it returns
 * non-zero; clears r. */
static int bulk_rows(pg_t *p, PGresult *r, store_bulk_fn fn, void *ud)
{
    if (!r)
        return -EIO;
    int rc = 0;
    store_bulk_t b;
    for (int i = 0, n = PQntuples(r); i < n && !rc; i++) {
        bulk_row(r, i, &b);
        rc = bulk_counts(p, &b);
        int stop = rc < 0 ? 1 : fn(&b, ud);
        store_bulk_clear(&b);
        if (stop)
            break;
    }
    PQclear(r);
    return rc < 0 ? rc : 0;
}

int pg_bulk_running(store_t *s, store_bulk_fn fn, void *ud)
{
    pg_t *p = PG(s);
    return bulk_rows(p, pg_query(p, "SELECT " BULK_COLS " FROM bulks WHERE state = 0 ORDER BY id", 0,
                                 NULL, "bulk_running"),
                     fn, ud);
}

int pg_bulk_list(store_t *s, int state, int64_t before, int64_t limit, store_bulk_fn fn, void *ud)
{
    pg_t *p = PG(s);
    pg_num_t a, b, c;
    const char *v[] = { pg_i64(&a, before > 0 ? before : INT64_MAX), pg_i64(&b, state),
                        pg_i64(&c, limit > 0 ? limit : 100) };
    return bulk_rows(p, pg_query(p, "SELECT " BULK_COLS " FROM bulks WHERE id < $1"
                                    " AND ($2::int < 0 OR state = $2) ORDER BY id DESC LIMIT $3",
                                 3, v, "bulk_list"),
                     fn, ud);
}

int pg_bulk_release(store_t *s, int64_t id, int64_t n,
                    int (*fn)(int64_t task, const char *device, void *ud), void *ud)
{
    pg_num_t a, b;
    const char *v[] = { pg_i64(&a, id), pg_i64(&b, n) };
    /* released in task order (RETURNING has none of its own) */
    PGresult *r = pg_query(PG(s), "WITH r AS (UPDATE tasks SET held = 0 WHERE id IN (SELECT id FROM tasks"
                                  " WHERE bulk = $1 AND status = 0 AND held = 1 ORDER BY id"
                                  " LIMIT $2) RETURNING id, device_id) SELECT id, device_id FROM r"
                                  " ORDER BY id", 2, v, "bulk_release");
    if (!r)
        return -EIO;
    for (int i = 0, rows = PQntuples(r); i < rows; i++)
        fn(pg_col_i64(r, i, 0), pg_col(r, i, 1), ud);
    PQclear(r);
    return 0;
}

int pg_bulk_rehold(store_t *s, int64_t task)
{
    pg_num_t a;
    const char *v[] = { pg_i64(&a, task) };
    int rc = pg_cmd_sql(PG(s), "UPDATE tasks SET held = 1 WHERE id = $1 AND bulk > 0 AND status = 0",
                        1, v, "bulk_rehold");
    return rc < 0 ? rc : 0;
}

int pg_bulk_end(store_t *s, int64_t id, store_bulk_state_t state, const char *reason, int64_t now)
{
    pg_t *p = PG(s);
    pg_num_t a, b, c;
    const char *v[] = { pg_i64(&a, id), pg_i64(&b, (int64_t)state), reason ? reason : "",
                        pg_i64(&c, now) };
    int rc = pg_cmd_sql(p, "UPDATE bulks SET state = $2, reason = $3, updated = $4"
                           " WHERE id = $1 AND state = 0", 4, v, "bulk_end");
    if (rc < 0)
        return rc;
    if (rc == 0) {
        bool ok = true;
        int64_t n = pg_scalar(p, "SELECT COUNT(*) FROM bulks WHERE id = $1", 1, v, &ok);
        return !ok ? -EIO : n > 0 ? -ESTALE : -ENOENT;
    }
    if (state != STORE_BULK_CANCELLED && state != STORE_BULK_STOPPED)
        return 0;
    /* cancelled: whatever is not sent yet; stopped: what was never released */
    const char *tv[] = { v[0], v[3] };
    return pg_cmd_sql(p, state == STORE_BULK_CANCELLED
                             ? "UPDATE tasks SET status = 5, done_at = $2, updated = $2"
                               " WHERE bulk = $1 AND status = 0"
                             : "UPDATE tasks SET status = 5, done_at = $2, updated = $2"
                               " WHERE bulk = $1 AND status = 0 AND held = 1", 2, tv, "bulk_end");
}
