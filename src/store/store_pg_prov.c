/*
 * store_pg_prov: the PostgreSQL backend's provisioning rows
 * (store_sqlite_prov.c has the model): presets (JSON bodies the store does
 * not look into), the Lua sources of provisions and virtual parameters,
 * and each device's preset records.
 *
 * Presets carry their origin: "api" rows are the REST API's, "config" rows
 * mirror the config file and are written only by the config sync; the
 * API's writes and deletes are refused for them (-EPERM) by store.c.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/log.h"
#include "core/str.h"
#include "store/store_pg.h"

/* ---- presets ------------------------------------------------------------------- */

#define PRESET_COLS "name, body, source, created, updated"

int pg_preset_write(store_t *s, const char *name, const char *body, bool exists, int64_t now)
{
    pg_num_t t;
    const char *v[] = { name, body, pg_i64(&t, now) };
    return pg_cmd_sql(PG(s), exists ? "UPDATE presets SET body = $2, updated = $3"
                                      " WHERE name = $1 AND source = 'api'"
                                    : "INSERT INTO presets (name, body, source, created, updated)"
                                      " VALUES ($1, $2, 'api', $3, $3) ON CONFLICT (name) DO NOTHING",
                      3, v, "preset_put");
}

/* The rows of a PRESET_COLS result to fn; clears r. -ENOENT when `one` and none. */
static int preset_rows(PGresult *r, store_preset_fn fn, void *ud, bool one)
{
    if (!r)
        return -EIO;
    int n = PQntuples(r);
    for (int i = 0; i < n; i++) {
        store_preset_t ps = {
            .name = pg_col(r, i, 0),
            .body = pg_col(r, i, 1),
            .source = pg_col(r, i, 2),
            .created = pg_col_i64(r, i, 3),
            .updated = pg_col_i64(r, i, 4),
        };
        if (fn(&ps, ud) != 0)
            break;
    }
    PQclear(r);
    return one && n == 0 ? -ENOENT : 0;
}

int pg_preset_get(store_t *s, const char *name, store_preset_fn fn, void *ud)
{
    const char *v[] = { name };
    return preset_rows(pg_query(PG(s), "SELECT " PRESET_COLS " FROM presets WHERE name = $1", 1, v,
                                "preset_get"),
                       fn, ud, true);
}

int pg_preset_list(store_t *s, store_preset_fn fn, void *ud)
{
    return preset_rows(pg_query(PG(s), "SELECT " PRESET_COLS " FROM presets ORDER BY name", 0, NULL,
                                "preset_list"),
                       fn, ud, false);
}

int pg_preset_delete(store_t *s, const char *name)
{
    pg_t *p = PG(s);
    const char *v[] = { name };
    int rc = pg_cmd_sql(p, "DELETE FROM presets WHERE name = $1 AND source = 'api'", 1, v,
                        "preset_delete");
    if (rc > 0 && pg_cmd_sql(p, "DELETE FROM preset_runs WHERE preset = $1", 1, v, "preset_delete") < 0)
        return -EIO;
    return rc;
}

/* One config preset: an API one of that name is reported, then replaced;
 * `updated` moves only when something changed. */
static int sync_one(pg_t *p, const store_preset_t *ps, int64_t now, store_preset_fn replaced, void *ud)
{
    pg_num_t t;
    const char *v[] = { ps->name, ps->body, pg_i64(&t, now) };
    if (replaced) {
        int rc = preset_rows(pg_query(p, "SELECT " PRESET_COLS " FROM presets"
                                         " WHERE name = $1 AND source = 'api'", 1, v, "preset_sync"),
                             replaced, ud, false);
        if (rc)
            return rc;
    }
    return pg_cmd_sql(p, "INSERT INTO presets (name, body, source, created, updated)"
                         " VALUES ($1, $2, 'config', $3, $3) ON CONFLICT(name) DO UPDATE SET"
                         " updated = CASE WHEN presets.body <> excluded.body"
                         " OR presets.source <> 'config' THEN excluded.updated ELSE presets.updated END,"
                         " body = excluded.body, source = 'config'", 3, v, "preset_sync") < 0
               ? -EIO : 0;
}

int pg_preset_sync_config(store_t *s, const store_preset_t *ps, size_t n, int64_t now,
                          store_preset_fn replaced, void *ud)
{
    pg_t *p = PG(s);
    /* all or nothing: a savepoint inside the caller's transaction, else one of its own */
    bool own = PQtransactionStatus(p->conn) == PQTRANS_IDLE;
    if (pg_cmd_sql(p, own ? "BEGIN" : "SAVEPOINT preset_sync", 0, NULL, "preset_sync") < 0)
        return -EIO;
    const char **names = calloc(n + 1, sizeof *names);
    buf_t arr = BUF_INIT((size_t)64 << 20);
    int rc = names ? 0 : -ENOMEM;
    for (size_t i = 0; !rc && i < n; i++) {
        names[i] = ps[i].name;
        if (sync_one(p, &ps[i], now, replaced, ud) != 0)
            rc = -EIO;
    }
    /* the config presets no longer given go, with their records */
    if (!rc)
        rc = pg_array_append(&arr, names, n);
    const char *v[] = { arr.data };
    if (!rc && (pg_cmd_sql(p, "DELETE FROM preset_runs WHERE preset IN (SELECT name FROM presets"
                              " WHERE source = 'config' AND name <> ALL ($1::text[]))", 1, v,
                           "preset_sync") < 0 ||
                pg_cmd_sql(p, "DELETE FROM presets WHERE source = 'config'"
                              " AND name <> ALL ($1::text[])", 1, v, "preset_sync") < 0))
        rc = -EIO;
    buf_free(&arr);
    free(names);
    if (rc) {
        pg_cmd_sql(p, own ? "ROLLBACK" : "ROLLBACK TO preset_sync", 0, NULL, "preset_sync");
        if (!own)
            pg_cmd_sql(p, "RELEASE preset_sync", 0, NULL, "preset_sync");
        return rc;
    }
    return pg_cmd_sql(p, own ? "COMMIT" : "RELEASE preset_sync", 0, NULL, "preset_sync") < 0 ? -EIO : 0;
}

/* ---- scripts ----------------------------------------------------------------------- */

/* Table names are constants chosen by kind, never input. */
static const char *script_table(store_script_kind_t k)
{
    return k == STORE_SCRIPT_VIRTUAL_PARAM ? "virtual_parameters" : "provisions";
}

/* head + the kind's table + tail, run with v */
static PGresult *script_query(pg_t *p, store_script_kind_t k, const char *head, const char *tail,
                              int n, const char *const *v, const char *what)
{
    char sql[512];
    snprintf(sql, sizeof sql, "%s%s%s", head, script_table(k), tail);
    return pg_query(p, sql, n, v, what);
}

int pg_script_put(store_t *s, store_script_kind_t k, const char *name, const char *source,
                  size_t len, int64_t now)
{
    pg_t *p = PG(s);
    /* a text parameter ends at its NUL: a source holding one cannot be kept whole */
    if (memchr(source, '\0', len))
        return -EINVAL;
    char *src = malloc(len + 1);
    if (!src)
        return -ENOMEM;
    memcpy(src, source, len);
    src[len] = '\0';
    pg_num_t t;
    const char *v[] = { name, src, pg_i64(&t, now) };
    /* xmax = 0: the row was inserted, not updated */
    PGresult *r = script_query(p, k, "INSERT INTO ", " (name, script, updated) VALUES ($1, $2, $3)"
                                     " ON CONFLICT(name) DO UPDATE SET script = excluded.script,"
                                     " updated = excluded.updated RETURNING (xmax = 0)",
                               3, v, "script_put");
    free(src);
    if (!r)
        return -EIO;
    const char *ins = PQntuples(r) == 1 ? pg_col(r, 0, 0) : NULL;
    int rc = ins && ins[0] == 't' ? 1 : 0;
    PQclear(r);
    return rc;
}

/* The rows of a (name, size, updated[, script]) result to fn; clears r. */
static int script_rows(PGresult *r, bool with_source, store_script_fn fn, void *ud, bool one)
{
    if (!r)
        return -EIO;
    int n = PQntuples(r);
    for (int i = 0; i < n; i++) {
        store_script_t sc = {
            .name = pg_col(r, i, 0),
            .size = pg_col_i64(r, i, 1),
            .updated = pg_col_i64(r, i, 2),
            .source = with_source ? pg_col(r, i, 3) : NULL,
        };
        if (fn(&sc, ud) != 0)
            break;
    }
    PQclear(r);
    return one && n == 0 ? -ENOENT : 0;
}

int pg_script_get(store_t *s, store_script_kind_t k, const char *name, store_script_fn fn, void *ud)
{
    const char *v[] = { name };
    return script_rows(script_query(PG(s), k, "SELECT name, octet_length(script), updated, script FROM ",
                                    " WHERE name = $1", 1, v, "script_get"),
                       true, fn, ud, true);
}

int pg_script_list(store_t *s, store_script_kind_t k, store_script_fn fn, void *ud)
{
    return script_rows(script_query(PG(s), k, "SELECT name, octet_length(script), updated FROM ",
                                    " ORDER BY name", 0, NULL, "script_list"),
                       false, fn, ud, false);
}

int pg_script_delete(store_t *s, store_script_kind_t k, const char *name)
{
    pg_t *p = PG(s);
    char sql[128];
    snprintf(sql, sizeof sql, "DELETE FROM %s WHERE name = $1", script_table(k));
    const char *v[] = { name };
    int rc = pg_cmd_sql(p, sql, 1, v, "script_delete");
    return rc < 0 ? rc : rc == 0 ? -ENOENT : 0;
}

/* ---- preset runs ------------------------------------------------------------------- */

int pg_preset_run_put(store_t *s, const store_preset_run_t *r)
{
    pg_num_t st, fc, tries, next, ev, up, line;
    const char *v[] = { r->device_id, r->preset, pg_i64(&st, (int64_t)r->status),
                        pg_i64(&fc, r->fault_code), r->fault_message, pg_i64(&tries, r->tries),
                        pg_i64(&next, r->next_retry), pg_i64(&ev, r->last_event),
                        pg_i64(&up, r->updated), r->fault_provision, pg_i64(&line, r->fault_line) };
    /* SQLite's INSERT OR REPLACE: the whole row */
    return pg_cmd_sql(PG(s), "INSERT INTO preset_runs (" PG_RUN_COLS ") VALUES"
                             " ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
                             " ON CONFLICT (device_id, preset) DO UPDATE SET status = excluded.status,"
                             " fault_code = excluded.fault_code, fault_message = excluded.fault_message,"
                             " tries = excluded.tries, next_retry = excluded.next_retry,"
                             " last_event = excluded.last_event, updated = excluded.updated,"
                             " fault_provision = excluded.fault_provision,"
                             " fault_line = excluded.fault_line", 11, v, "preset_run_put") < 0
               ? -EIO : 0;
}

/* The rows of a PG_RUN_COLS result to fn; clears r. */
static int run_rows(PGresult *r, store_preset_run_fn fn, void *ud)
{
    if (!r)
        return -EIO;
    store_preset_run_t run;
    for (int i = 0, n = PQntuples(r); i < n; i++) {
        memset(&run, 0, sizeof run);
        pg_col_copy(r, i, 0, run.device_id, sizeof run.device_id);
        pg_col_copy(r, i, 1, run.preset, sizeof run.preset);
        run.status = (store_preset_status_t)pg_col_i64(r, i, 2);
        run.fault_code = (int)pg_col_i64(r, i, 3);
        pg_col_copy(r, i, 4, run.fault_message, sizeof run.fault_message);
        run.tries = (int)pg_col_i64(r, i, 5);
        run.next_retry = pg_col_i64(r, i, 6);
        run.last_event = pg_col_i64(r, i, 7);
        run.updated = pg_col_i64(r, i, 8);
        pg_col_copy(r, i, 9, run.fault_provision, sizeof run.fault_provision);
        run.fault_line = (int)pg_col_i64(r, i, 10);
        if (fn(&run, ud) != 0)
            break;
    }
    PQclear(r);
    return 0;
}

int pg_preset_run_list(store_t *s, const char *device, store_preset_run_fn fn, void *ud)
{
    const char *v[] = { device };
    return run_rows(pg_query(PG(s), "SELECT " PG_RUN_COLS " FROM preset_runs WHERE device_id = $1"
                                    " ORDER BY preset", 1, v, "preset_run_list"),
                    fn, ud);
}

int pg_preset_run_owed(store_t *s, store_preset_run_fn fn, void *ud)
{
    /* the partial index preset_runs_owed holds exactly these rows */
    return run_rows(pg_query(PG(s), "SELECT " PG_RUN_COLS " FROM preset_runs"
                                    " WHERE status = 3 OR (status = 2 AND next_retry > 0)", 0, NULL,
                             "preset_run_owed"),
                    fn, ud);
}

int pg_preset_run_clear_fault(store_t *s, const char *device, const char *preset, int64_t now)
{
    pg_t *p = PG(s);
    pg_num_t t;
    const char *v[] = { device, preset, pg_i64(&t, now) };
    int rc = pg_cmd_sql(p, "UPDATE preset_runs SET status = 3, tries = 0, next_retry = 0,"
                           " fault_code = 0, fault_message = '', fault_provision = '', fault_line = 0,"
                           " updated = $3 WHERE device_id = $1 AND preset = $2 AND status = 2",
                        3, v, "preset_run_clear");
    if (rc != 0)
        return rc < 0 ? rc : 0;
    bool ok = true;
    int64_t n = pg_scalar(p, "SELECT COUNT(*) FROM preset_runs WHERE device_id = $1 AND preset = $2",
                          2, v, &ok);
    if (!ok || n < 0)
        return -EIO;
    return n ? -ESTALE : -ENOENT;
}
