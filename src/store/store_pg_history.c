/*
 * store_pg_history: the PostgreSQL backend's history side
 * (store_sqlite_history.c has the model): a parameter's old values (the
 * value, who set it, when: in its row since migration 18), the
 * fleet's open faults (failed tasks nobody cleared, faulted preset
 * records) with their clearing and retry, and the devices whose sessions
 * are all logged.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "store/store_pg.h"

/* ---- a parameter's history ------------------------------------------------------- */

/* A parameter's old values, newest first (migration 18): those in its row
 * (params.history), then those a deleted parameter of the same name left
 * in param_history (newer ids first). The row's are always the newer: they
 * were set after the row was made again. SQLite keeps both in one table
 * and trims them together at a change, so once the row holds any, the two
 * together show at most keep (or what the row holds, when more: keep was
 * larger then); with none in the row, all of param_history's. Columns:
 * value, updated, set_by. */
#define HISTORY_SQL                                                                             \
    "WITH d AS (SELECT rid FROM devices WHERE id = $1),"                                        \
    " cur AS (SELECT p.history FROM params p, d WHERE p.device = d.rid AND p.name = $2)"        \
    " SELECT value, updated, set_by FROM ("                                                     \
    "  SELECT h.value, h.updated, h.set_by, 0 AS src, h.i AS ord FROM cur,"                     \
    "   unnest(cur.history) WITH ORDINALITY h(value, updated, set_by, i)"                       \
    "  UNION ALL SELECT h.value, h.updated, h.set_by, 1, -h.id FROM param_history h, d"         \
    "   WHERE h.device = d.rid AND h.name = $2) x"                                              \
    " ORDER BY src, ord LIMIT (SELECT CASE WHEN cardinality(history) > 0 THEN"                  \
    "  GREATEST(cardinality(history), (SELECT v FROM settings WHERE k = 'param_history')) END"  \
    "  FROM cur)"

int pg_param_history(store_t *s, const char *dev, const char *name, store_param_fn fn, void *ud)
{
    const char *v[] = { dev, name };
    PGresult *r = pg_query(PG(s), HISTORY_SQL, 2, v, "param_history");
    if (!r)
        return -EIO;
    for (int i = 0, n = PQntuples(r); i < n; i++) {
        store_param_t p = { .name = name,
                            .value = pg_col(r, i, 0),
                            .writable = -1,
                            .updated = pg_col_i64(r, i, 1),
                            .set_at = pg_col_i64(r, i, 1),
                            .set_by = pg_col(r, i, 2),
                            .notification = -1 };
        if (p.set_by && !*p.set_by)
            p.set_by = NULL;
        if (fn(&p, ud) != 0)
            break;
    }
    PQclear(r);
    return 0;
}

/* ---- faults ------------------------------------------------------------------------- */

/* Both kinds in one ordered list: the open task faults (tasks_open_faults)
 * and the faulted preset records (preset_runs_faults), each narrowed by the
 * same filter ($1 device or NULL, $2 code or 0, $3 kind or 0). Columns:
 * kind, device, task id, type or preset, code, message, at, tries,
 * next_retry. */
#define FAULTS_SQL                                                                              \
    "SELECT * FROM ("                                                                           \
    " SELECT 1 AS kind, device_id AS dev, id AS tid, type AS what, fault_code AS code,"         \
    "  fault_string AS msg, done_at AS at, attempts AS tries, 0::bigint AS next FROM tasks"     \
    "  WHERE status = 3 AND fault_cleared = 0 AND $3::int IN (0, 1)"                            \
    "   AND ($1::text IS NULL OR device_id = $1) AND ($2::int = 0 OR fault_code = $2)"          \
    " UNION ALL"                                                                                \
    " SELECT 2, device_id, 0, preset, fault_code, fault_message, updated, tries, next_retry"    \
    "  FROM preset_runs WHERE status = 2 AND $3::int IN (0, 2)"                                 \
    "   AND ($1::text IS NULL OR device_id = $1) AND ($2::int = 0 OR fault_code = $2)) f"

int pg_fault_list(store_t *s, const store_fault_filter_t *f, int64_t *total, store_fault_fn fn,
                  void *ud)
{
    pg_t *p = PG(s);
    pg_num_t code, kind, lim, off;
    const char *v[] = { f->device, pg_i64(&code, f->code), pg_i64(&kind, (int64_t)f->kind),
                        pg_i64(&lim, f->limit > 0 ? f->limit : 100),
                        pg_i64(&off, f->offset > 0 ? f->offset : 0) };
    if (total) {
        bool ok = true;
        int64_t n = pg_scalar(p, "SELECT COUNT(*) FROM (" FAULTS_SQL ") c", 3, v, &ok);
        if (!ok)
            return -EIO;
        *total = n < 0 ? 0 : n;
    }
    PGresult *r = pg_query(p, FAULTS_SQL " ORDER BY at DESC, dev, kind, tid, what LIMIT $4 OFFSET $5",
                           5, v, "fault_list");
    if (!r)
        return -EIO;
    for (int i = 0, n = PQntuples(r); i < n; i++) {
        store_fault_t ft = { .kind = (store_fault_kind_t)pg_col_i64(r, i, 0) };
        pg_col_copy(r, i, 1, ft.device_id, sizeof ft.device_id);
        ft.task_id = pg_col_i64(r, i, 2);
        if (ft.kind == STORE_FAULT_TASK)
            pg_col_copy(r, i, 3, ft.task_type, sizeof ft.task_type);
        else
            pg_col_copy(r, i, 3, ft.preset, sizeof ft.preset);
        ft.code = (int)pg_col_i64(r, i, 4);
        pg_col_copy(r, i, 5, ft.message, sizeof ft.message);
        ft.at = pg_col_i64(r, i, 6);
        ft.tries = (int)pg_col_i64(r, i, 7);
        ft.next_retry = pg_col_i64(r, i, 8);
        if (fn(&ft, ud) != 0)
            break;
    }
    PQclear(r);
    return 0;
}

/* -ENOENT / -ESTALE for a task whose fault cannot be cleared. */
static int task_fault_state(pg_t *p, int64_t id)
{
    pg_num_t n;
    const char *v[] = { pg_i64(&n, id) };
    bool ok = true;
    int64_t open = pg_scalar(p, "SELECT (status = 3 AND fault_cleared = 0)::int FROM tasks WHERE id = $1",
                             1, v, &ok);
    return !ok ? -EIO : open < 0 ? -ENOENT : open ? 0 : -ESTALE;
}

int pg_task_fault_clear(store_t *s, int64_t task_id, int64_t now)
{
    pg_t *p = PG(s);
    int rc = task_fault_state(p, task_id);
    if (rc < 0)
        return rc;
    pg_num_t id, t;
    const char *v[] = { pg_i64(&id, task_id), pg_i64(&t, now > 0 ? now : 1) };
    rc = pg_cmd_sql(p, "UPDATE tasks SET fault_cleared = $2, updated = $2"
                       " WHERE id = $1 AND status = 3 AND fault_cleared = 0", 2, v, "task_fault_clear");
    return rc < 0 ? rc : rc == 0 ? -ESTALE : 0;
}

int pg_preset_run_forget_fault(store_t *s, const char *device, const char *preset)
{
    pg_t *p = PG(s);
    const char *v[] = { device, preset };
    int rc = pg_cmd_sql(p, "DELETE FROM preset_runs WHERE device_id = $1 AND preset = $2"
                           " AND status = 2", 2, v, "preset_run_forget");
    if (rc != 0)
        return rc < 0 ? rc : 0;
    bool ok = true;
    int64_t n = pg_scalar(p, "SELECT COUNT(*) FROM preset_runs WHERE device_id = $1 AND preset = $2",
                          2, v, &ok);
    return !ok || n < 0 ? -EIO : n ? -ESTALE : -ENOENT;
}

/* ---- devices whose sessions are all logged ----------------------------------------- */

int pg_device_set_session_log(store_t *s, const char *dev, bool all)
{
    const char *v[] = { dev, all ? "1" : "0" };
    int rc = pg_cmd_sql(PG(s), "UPDATE devices SET session_log = $2 WHERE id = $1", 2, v,
                        "device_set_session_log");
    return rc < 0 ? rc : rc == 0 ? -ENOENT : 0;
}

int pg_device_session_log_list(store_t *s, int (*fn)(const char *, void *), void *ud)
{
    /* devices_session_log: only those rows, however many devices */
    PGresult *r = pg_query(PG(s), "SELECT id FROM devices WHERE session_log = 1", 0, NULL,
                           "device_session_log_list");
    if (!r)
        return -EIO;
    for (int i = 0, n = PQntuples(r); i < n; i++)
        if (fn(pg_col(r, i, 0), ud) != 0)
            break;
    PQclear(r);
    return 0;
}
