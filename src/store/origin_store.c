/*
 * origin_store: SQLite backend of the cwmp-proxy's origin map, and the
 * dispatch to the PostgreSQL one (origin_store_pg.c) for a postgres:// URL.
 */
#include "store/origin_store.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "store/origin_store_pg.h"

/* Schema versions, applied in order (PRAGMA user_version says how far). */
static const char *const migrations[] = {
    "CREATE TABLE origins ("
    "  origin TEXT PRIMARY KEY,"
    "  device TEXT NOT NULL DEFAULT '',"
    "  seen   INTEGER NOT NULL"
    ") WITHOUT ROWID;"
    "CREATE INDEX origins_device ON origins(device) WHERE device <> '';"
    "CREATE INDEX origins_seen ON origins(seen);",
};

enum { ST_DROP_OTHERS, ST_UPSERT, ST_LOAD, ST_EXPIRE, ST_DELETE, ST_COUNT };

static const char *const stmt_sql[ST_COUNT] = {
    /* "device <> ''" lets SQLite use the partial index origins_device. */
    [ST_DROP_OTHERS] = "DELETE FROM origins WHERE device = ?1 AND device <> '' AND origin <> ?2",
    [ST_UPSERT] = "INSERT INTO origins(origin, device, seen) VALUES(?2, ?1, ?3) "
                  "ON CONFLICT(origin) DO UPDATE SET "
                  "device = CASE WHEN excluded.device <> '' THEN excluded.device ELSE device END, "
                  "seen = max(seen, excluded.seen)",
    [ST_LOAD] = "SELECT origin, device, seen FROM origins",
    [ST_EXPIRE] = "DELETE FROM origins WHERE seen < ?1",
    [ST_DELETE] = "DELETE FROM origins WHERE origin = ?1",
};

struct origin_store {
    origin_pg_t *pg; /* shared: PostgreSQL; the rest is unused */
    sqlite3 *db;
    sqlite3_stmt *st[ST_COUNT];
    char *path;
};

static int db_error(origin_store_t *s, const char *what)
{
    log_error("origin_store_error", LF_S("path", s->path), LF_S("op", what),
              LF_S("reason", sqlite3_errmsg(s->db)));
    return -EIO;
}

static int exec(origin_store_t *s, const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) == SQLITE_OK)
        return 0;
    log_error("origin_store_error", LF_S("path", s->path), LF_S("op", "exec"),
              LF_S("reason", msg ? msg : "?"));
    sqlite3_free(msg);
    return -EIO;
}

static int migrate(origin_store_t *s)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK)
        return db_error(s, "user_version");
    int version = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
    sqlite3_finalize(st);
    int n = (int)(sizeof migrations / sizeof migrations[0]);
    if (version > n) {
        log_error("origin_store_error", LF_S("path", s->path),
                  LF_S("reason", "written by a newer version"), LF_I("version", version));
        return -EPROTO;
    }
    for (int v = version; v < n; v++) {
        char pragma[64];
        snprintf(pragma, sizeof pragma, "PRAGMA user_version = %d;", v + 1);
        if (exec(s, "BEGIN IMMEDIATE") || exec(s, migrations[v]) || exec(s, pragma) ||
            exec(s, "COMMIT")) {
            exec(s, "ROLLBACK");
            return -EIO;
        }
    }
    return 0;
}

bool origin_store_is_url(const char *where)
{
    return strncmp(where, "postgres://", 11) == 0 || strncmp(where, "postgresql://", 13) == 0;
}

bool origin_store_shared(const origin_store_t *s) { return s->pg != NULL; }

int origin_store_open(const char *path, origin_store_t **out)
{
    origin_store_t *s = calloc(1, sizeof *s);
    if (!s || !(s->path = strdup(path))) {
        free(s);
        return -ENOMEM;
    }
    if (origin_store_is_url(path)) {
        int rc = origin_pg_open(path, &s->pg);
        if (rc) {
            origin_store_close(s);
            return rc;
        }
        *out = s;
        return 0;
    }
    int rc = sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                             SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        log_error("origin_store_error", LF_S("path", path), LF_S("op", "open"),
                  LF_S("reason", s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc)));
        origin_store_close(s);
        return -EIO;
    }
    sqlite3_busy_timeout(s->db, 2000);
    /* WAL + NORMAL: a commit is durable against a process crash and costs
     * no fsync; the last commits may be lost on power loss only, which the
     * next Inform of each device repairs. */
    if (exec(s, "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;")) {
        origin_store_close(s);
        return -EIO;
    }
    if ((rc = migrate(s)) != 0) {
        origin_store_close(s);
        return rc;
    }
    for (int i = 0; i < ST_COUNT; i++) {
        if (sqlite3_prepare_v3(s->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &s->st[i],
                               NULL) != SQLITE_OK) {
            db_error(s, "prepare");
            origin_store_close(s);
            return -EIO;
        }
    }
    *out = s;
    return 0;
}

void origin_store_close(origin_store_t *s)
{
    if (!s)
        return;
    origin_pg_close(s->pg);
    for (int i = 0; i < ST_COUNT; i++)
        sqlite3_finalize(s->st[i]);
    sqlite3_close(s->db);
    free(s->path);
    free(s);
}

static int step_done(origin_store_t *s, sqlite3_stmt *st, const char *what)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : db_error(s, what);
}

int origin_store_put(origin_store_t *s, const origin_rec_t *recs, size_t n)
{
    if (s->pg)
        return origin_pg_put(s->pg, recs, n);
    if (n == 0)
        return 0;
    if (exec(s, "BEGIN IMMEDIATE"))
        return -EIO;
    for (size_t i = 0; i < n; i++) {
        const char *dev = recs[i].device ? recs[i].device : "";
        if (dev[0]) {
            sqlite3_stmt *d = s->st[ST_DROP_OTHERS];
            sqlite3_bind_text(d, 1, dev, -1, SQLITE_STATIC);
            sqlite3_bind_text(d, 2, recs[i].origin, -1, SQLITE_STATIC);
            if (step_done(s, d, "put"))
                goto fail;
        }
        sqlite3_stmt *u = s->st[ST_UPSERT];
        sqlite3_bind_text(u, 1, dev, -1, SQLITE_STATIC);
        sqlite3_bind_text(u, 2, recs[i].origin, -1, SQLITE_STATIC);
        sqlite3_bind_int64(u, 3, recs[i].seen_s);
        if (step_done(s, u, "put"))
            goto fail;
    }
    if (exec(s, "COMMIT"))
        goto fail;
    return 0;
fail:
    exec(s, "ROLLBACK");
    return -EIO;
}

int origin_store_load_written(origin_store_t *s, int64_t since_s, size_t limit,
                              origin_store_row_fn fn, void *ud, int64_t *now_s)
{
    return s->pg ? origin_pg_load(s->pg, since_s, limit, fn, ud, now_s) : -ENOTSUP;
}

int origin_store_load(origin_store_t *s, origin_store_row_fn fn, void *ud)
{
    if (s->pg)
        return origin_pg_load(s->pg, INT64_MIN, 0, fn, ud, NULL);
    sqlite3_stmt *st = s->st[ST_LOAD];
    int rc, ret = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        origin_rec_t r = {
            .origin = (const char *)sqlite3_column_text(st, 0),
            .device = (const char *)sqlite3_column_text(st, 1),
            .seen_s = sqlite3_column_int64(st, 2),
        };
        if (!r.origin)
            continue;
        if (!r.device)
            r.device = "";
        if ((ret = fn(ud, &r)) != 0)
            break;
    }
    if (ret == 0 && rc != SQLITE_DONE)
        ret = db_error(s, "load");
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return ret;
}

int origin_store_expire(origin_store_t *s, int64_t before_s, size_t *removed)
{
    if (s->pg)
        return origin_pg_expire(s->pg, before_s, removed);
    sqlite3_stmt *st = s->st[ST_EXPIRE];
    sqlite3_bind_int64(st, 1, before_s);
    int rc = step_done(s, st, "expire");
    if (removed)
        *removed = rc ? 0 : (size_t)sqlite3_changes(s->db);
    return rc;
}

int origin_store_delete(origin_store_t *s, const char *origin)
{
    if (s->pg)
        return origin_pg_delete(s->pg, origin);
    sqlite3_stmt *st = s->st[ST_DELETE];
    sqlite3_bind_text(st, 1, origin, -1, SQLITE_STATIC);
    return step_done(s, st, "delete");
}
