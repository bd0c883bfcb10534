/*
 * store_sqlite_prov: the SQLite backend's provisioning rows: presets (JSON
 * bodies the store does not look into), the Lua sources of provisions and
 * virtual parameters, and each device's preset records.
 *
 * Presets carry their origin: "api" rows are the REST API's, "config" rows
 * mirror the config file and are written only by the config sync; the
 * API's writes and deletes are refused for them (-EPERM) by store.c, in
 * the same job as the write.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/str.h"
#include "store/store_sqlite.h"

/* ---- presets ------------------------------------------------------------------- */

static int step_finalize(sq_t *q, sqlite3_stmt *st, const char *what)
{
    int rc = sq_step_done(q, st, what);
    sqlite3_finalize(st);
    return rc;
}

int sq_preset_write(store_t *s, const char *name, const char *body, bool exists, int64_t now)
{
    sq_t *q = SQ(s);
    sqlite3_stmt *st = sq_prepare(q, exists ? "UPDATE presets SET body = ?2, updated = ?3"
                                              " WHERE name = ?1 AND source = 'api'"
                                            : "INSERT INTO presets (name, body, source, created, updated)"
                                              " VALUES (?1, ?2, 'api', ?3, ?3) ON CONFLICT (name) DO NOTHING");
    if (!st)
        return -EIO;
    sq_bind_text(st, 1, name);
    sq_bind_text(st, 2, body);
    sqlite3_bind_int64(st, 3, now);
    return step_finalize(q, st, "preset_put");
}

static int preset_rows(sq_t *q, sqlite3_stmt *st, store_preset_fn fn, void *ud, bool one)
{
    int rc, n = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        store_preset_t p = {
            .name = (const char *)sqlite3_column_text(st, 0),
            .body = (const char *)sqlite3_column_text(st, 1),
            .source = (const char *)sqlite3_column_text(st, 2),
            .created = sqlite3_column_int64(st, 3),
            .updated = sqlite3_column_int64(st, 4),
        };
        n++;
        if (fn(&p, ud) != 0) {
            rc = SQLITE_DONE;
            break;
        }
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return sq_err(q, "preset_list");
    return one && n == 0 ? -ENOENT : 0;
}

int sq_preset_get(store_t *s, const char *name, store_preset_fn fn, void *ud)
{
    sq_t *q = SQ(s);
    sqlite3_stmt *st = sq_prepare(q, "SELECT name, body, source, created, updated FROM presets"
                                     " WHERE name = ?1");
    if (!st)
        return -EIO;
    sq_bind_text(st, 1, name);
    return preset_rows(q, st, fn, ud, true);
}

int sq_preset_list(store_t *s, store_preset_fn fn, void *ud)
{
    sq_t *q = SQ(s);
    sqlite3_stmt *st = sq_prepare(q, "SELECT name, body, source, created, updated FROM presets"
                                     " ORDER BY name");
    return st ? preset_rows(q, st, fn, ud, false) : -EIO;
}

static int delete_named(sq_t *q, const char *sql, const char *name, const char *what)
{
    sqlite3_stmt *st = sq_prepare(q, sql);
    if (!st)
        return -EIO;
    sq_bind_text(st, 1, name);
    return step_finalize(q, st, what);
}

int sq_preset_delete(store_t *s, const char *name)
{
    sq_t *q = SQ(s);
    int rc = delete_named(q, "DELETE FROM presets WHERE name = ?1 AND source = 'api'", name,
                          "preset_delete");
    if (rc > 0 && delete_named(q, "DELETE FROM preset_runs WHERE preset = ?1", name, "preset_delete") < 0)
        return -EIO;
    return rc;
}

/* One config preset: an API one of that name is reported, then replaced;
 * `updated` moves only when something changed. */
static int sync_one(sq_t *q, const store_preset_t *p, int64_t now, store_preset_fn replaced, void *ud)
{
    if (replaced) {
        sqlite3_stmt *st = sq_prepare(q, "SELECT name, body, source, created, updated FROM presets"
                                         " WHERE name = ?1 AND source = 'api'");
        if (!st)
            return -EIO;
        sq_bind_text(st, 1, p->name);
        int rc = preset_rows(q, st, replaced, ud, false);
        if (rc)
            return rc;
    }
    sqlite3_stmt *st = sq_prepare(q, "INSERT INTO presets (name, body, source, created, updated)"
                                     " VALUES (?1, ?2, 'config', ?3, ?3) ON CONFLICT(name) DO UPDATE SET"
                                     " updated = CASE WHEN body <> excluded.body OR source <> 'config'"
                                     " THEN excluded.updated ELSE updated END,"
                                     " body = excluded.body, source = 'config'");
    if (!st)
        return -EIO;
    sq_bind_text(st, 1, p->name);
    sq_bind_text(st, 2, p->body);
    sqlite3_bind_int64(st, 3, now);
    return step_finalize(q, st, "preset_sync") < 0 ? -EIO : 0;
}

int sq_preset_sync_config(store_t *s, const store_preset_t *p, size_t n, int64_t now,
                          store_preset_fn replaced, void *ud)
{
    sq_t *q = SQ(s);
    /* A savepoint of its own: all or nothing, inside a worker batch or not. */
    if (sq_exec(q, "SAVEPOINT preset_sync;"
                   "CREATE TEMP TABLE IF NOT EXISTS preset_keep (name TEXT PRIMARY KEY);"
                   "DELETE FROM temp.preset_keep;") != 0)
        return -EIO;
    int rc = 0;
    sqlite3_stmt *keep = sq_prepare(q, "INSERT OR IGNORE INTO temp.preset_keep (name) VALUES (?1)");
    if (!keep)
        rc = -EIO;
    for (size_t i = 0; !rc && i < n; i++) {
        sqlite3_reset(keep);
        sq_bind_text(keep, 1, p[i].name);
        if (sq_step_done(q, keep, "preset_sync") < 0 || sync_one(q, &p[i], now, replaced, ud) != 0)
            rc = -EIO;
    }
    sqlite3_finalize(keep);
    if (!rc && sq_exec(q, "DELETE FROM preset_runs WHERE preset IN (SELECT name FROM presets"
                          " WHERE source = 'config' AND name NOT IN (SELECT name FROM temp.preset_keep));"
                          "DELETE FROM presets WHERE source = 'config'"
                          " AND name NOT IN (SELECT name FROM temp.preset_keep);"
                          "DELETE FROM temp.preset_keep;") != 0)
        rc = -EIO;
    if (rc) {
        sq_exec(q, "ROLLBACK TO preset_sync; RELEASE preset_sync;");
        return rc;
    }
    return sq_exec(q, "RELEASE preset_sync;");
}

/* ---- scripts ----------------------------------------------------------------------- */

/* Table names are constants chosen by kind, never input. */
static const char *script_table(store_script_kind_t k)
{
    return k == STORE_SCRIPT_VIRTUAL_PARAM ? "virtual_parameters" : "provisions";
}

/* head + the kind's table + tail */
static sqlite3_stmt *script_stmt(sq_t *q, store_script_kind_t k, const char *head, const char *tail)
{
    char sql[512];
    snprintf(sql, sizeof sql, "%s%s%s", head, script_table(k), tail);
    return sq_prepare(q, sql);
}

int sq_script_put(store_t *s, store_script_kind_t k, const char *name, const char *source,
                  size_t len, int64_t now)
{
    sq_t *q = SQ(s);
    sqlite3_stmt *st = script_stmt(q, k, "SELECT EXISTS (SELECT 1 FROM ", " WHERE name = ?1)");
    if (!st)
        return -EIO;
    sq_bind_text(st, 1, name);
    int rc = sqlite3_step(st);
    bool exists = rc == SQLITE_ROW && sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW)
        return sq_err(q, "script_put");
    st = script_stmt(q, k, "INSERT INTO ", " (name, script, updated) VALUES (?1, ?2, ?3)"
                           " ON CONFLICT(name) DO UPDATE SET script = excluded.script,"
                           " updated = excluded.updated");
    if (!st)
        return -EIO;
    sq_bind_text(st, 1, name);
    sqlite3_bind_text(st, 2, source, (int)len, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, now);
    rc = step_finalize(q, st, "script_put");
    return rc < 0 ? rc : exists ? 0 : 1;
}

static int script_rows(sq_t *q, sqlite3_stmt *st, bool with_source, store_script_fn fn, void *ud,
                       bool one)
{
    int rc, n = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        store_script_t sc = {
            .name = (const char *)sqlite3_column_text(st, 0),
            .size = sqlite3_column_int64(st, 1),
            .updated = sqlite3_column_int64(st, 2),
            .source = with_source ? (const char *)sqlite3_column_text(st, 3) : NULL,
        };
        n++;
        if (fn(&sc, ud) != 0) {
            rc = SQLITE_DONE;
            break;
        }
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return sq_err(q, "script_list");
    return one && n == 0 ? -ENOENT : 0;
}

int sq_script_get(store_t *s, store_script_kind_t k, const char *name, store_script_fn fn, void *ud)
{
    sq_t *q = SQ(s);
    sqlite3_stmt *st = script_stmt(q, k, "SELECT name, length(CAST(script AS BLOB)), updated, script FROM ",
                                   " WHERE name = ?1");
    if (!st)
        return -EIO;
    sq_bind_text(st, 1, name);
    return script_rows(q, st, true, fn, ud, true);
}

int sq_script_list(store_t *s, store_script_kind_t k, store_script_fn fn, void *ud)
{
    sq_t *q = SQ(s);
    sqlite3_stmt *st = script_stmt(q, k, "SELECT name, length(CAST(script AS BLOB)), updated FROM ",
                                   " ORDER BY name");
    return st ? script_rows(q, st, false, fn, ud, false) : -EIO;
}

int sq_script_delete(store_t *s, store_script_kind_t k, const char *name)
{
    sq_t *q = SQ(s);
    sqlite3_stmt *st = script_stmt(q, k, "DELETE FROM ", " WHERE name = ?1");
    if (!st)
        return -EIO;
    sq_bind_text(st, 1, name);
    int rc = step_finalize(q, st, "script_delete");
    return rc < 0 ? rc : rc == 0 ? -ENOENT : 0;
}

/* ---- preset runs ------------------------------------------------------------------- */

int sq_preset_run_put(store_t *s, const store_preset_run_t *r)
{
    sq_t *q = SQ(s);
    sqlite3_stmt *st = sq_stmt(q, Q_RUN_PUT);
    if (!st)
        return -EIO;
    sq_bind_text(st, 1, r->device_id);
    sq_bind_text(st, 2, r->preset);
    sqlite3_bind_int(st, 3, (int)r->status);
    sqlite3_bind_int(st, 4, r->fault_code);
    sq_bind_text(st, 5, r->fault_message);
    sqlite3_bind_int(st, 6, r->tries);
    sqlite3_bind_int64(st, 7, r->next_retry);
    sqlite3_bind_int64(st, 8, r->last_event);
    sqlite3_bind_int64(st, 9, r->updated);
    sq_bind_text(st, 10, r->fault_provision);
    sqlite3_bind_int(st, 11, r->fault_line);
    return sq_step_done(q, st, "preset_run_put") < 0 ? -EIO : 0;
}

/* The rows of a RUN_COLS statement to fn. */
static int run_rows(sq_t *q, sqlite3_stmt *st, store_preset_run_fn fn, void *ud)
{
    int rc;
    store_preset_run_t r;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        memset(&r, 0, sizeof r);
        sq_col_copy(st, 0, r.device_id, sizeof r.device_id);
        sq_col_copy(st, 1, r.preset, sizeof r.preset);
        r.status = (store_preset_status_t)sqlite3_column_int(st, 2);
        r.fault_code = sqlite3_column_int(st, 3);
        sq_col_copy(st, 4, r.fault_message, sizeof r.fault_message);
        r.tries = sqlite3_column_int(st, 5);
        r.next_retry = sqlite3_column_int64(st, 6);
        r.last_event = sqlite3_column_int64(st, 7);
        r.updated = sqlite3_column_int64(st, 8);
        sq_col_copy(st, 9, r.fault_provision, sizeof r.fault_provision);
        r.fault_line = sqlite3_column_int(st, 10);
        if (fn(&r, ud) != 0) {
            rc = SQLITE_DONE;
            break;
        }
    }
    return rc == SQLITE_DONE ? 0 : sq_err(q, "preset_run_list");
}

int sq_preset_run_list(store_t *s, const char *device, store_preset_run_fn fn, void *ud)
{
    sq_t *q = SQ(s);
    sqlite3_stmt *st = sq_stmt(q, Q_RUN_LIST);
    if (!st)
        return -EIO;
    sq_bind_text(st, 1, device);
    int rc = run_rows(q, st, fn, ud);
    sqlite3_reset(st);
    return rc;
}

int sq_preset_run_owed(store_t *s, store_preset_run_fn fn, void *ud)
{
    sq_t *q = SQ(s);
    /* the partial index preset_runs_owed holds exactly these rows */
    sqlite3_stmt *st = sq_prepare(q, "SELECT " RUN_COLS " FROM preset_runs INDEXED BY preset_runs_owed"
                                     " WHERE status = 3 OR (status = 2 AND next_retry > 0)");
    if (!st)
        return -EIO;
    int rc = run_rows(q, st, fn, ud);
    sqlite3_finalize(st);
    return rc;
}

int sq_preset_run_clear_fault(store_t *s, const char *device, const char *preset, int64_t now)
{
    sq_t *q = SQ(s);
    sqlite3_stmt *st = sq_prepare(q, "UPDATE preset_runs SET status = 3, tries = 0, next_retry = 0,"
                                     " fault_code = 0, fault_message = '', fault_provision = '', fault_line = 0,"
                                     " updated = ?3"
                                     " WHERE device_id = ?1 AND preset = ?2 AND status = 2");
    if (!st)
        return -EIO;
    sq_bind_text(st, 1, device);
    sq_bind_text(st, 2, preset);
    sqlite3_bind_int64(st, 3, now);
    int rc = step_finalize(q, st, "preset_run_clear");
    if (rc != 0)
        return rc < 0 ? rc : 0;
    st = sq_prepare(q, "SELECT EXISTS (SELECT 1 FROM preset_runs WHERE device_id = ?1 AND preset = ?2)");
    if (!st)
        return -EIO;
    sq_bind_text(st, 1, device);
    sq_bind_text(st, 2, preset);
    rc = sqlite3_step(st);
    bool exists = rc == SQLITE_ROW && sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW)
        return sq_err(q, "preset_run_clear");
    return exists ? -ESTALE : -ENOENT;
}
