/*
 * store_sqlite_search: device search for the SQLite backend. A parsed
 * filter (store_filter.h) becomes one WHERE clause whose every value is a
 * bound parameter (store_filter_sql.c, shared with PostgreSQL; SQLite's
 * dialect is here, with outpost_num() and the param_index triggers).
 * Pages are keyset pages over (sort key, rid), so a device that informs
 * between two pages neither repeats nor disappears unless its own sort key
 * moved.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/log.h"
#include "core/str.h"
#include "store/store_filter_sql.h"
#include "store/store_sqlite.h"

/* SQLite's dialect of the filter (store_filter_sql.h). */
static int sq_indexed(void *ctx, const char *name)
{
    sqlite3_stmt *st = sq_prepare(ctx, "SELECT 1 FROM search_params WHERE name = ?1");
    if (!st)
        return -EIO;
    sq_bind_text(st, 1, name);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -EIO;
}

static const store_filter_dialect_t sq_dialect = {
    .mark = '?',
    .cast = { "", "", "" },
    .all = "1",
    .find = "instr",
    .ilike = "LIKE", /* ASCII case-insensitive */
    .prefix_like = false,
    .utf8 = false,
    .indexed = sq_indexed,
};

/* outpost_num(text): the value as a number when it is one in the filter
 * language's sense (store_filter_number), else NULL (which compares false). */
static void fn_num(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    const unsigned char *t = sqlite3_value_text(argv[0]);
    double d;
    if (t && store_filter_number((const char *)t, &d))
        sqlite3_result_double(ctx, d);
    else
        sqlite3_result_null(ctx);
}

int sq_search_init(sqlite3 *db)
{
    return sqlite3_create_function(db, "outpost_num", 1,
                                   SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS, NULL,
                                   fn_num, NULL, NULL) == SQLITE_OK ? 0 : -EIO;
}

/* The compiler's binds after the caller's first `base` parameters;
 * copied (the statement may outlive the compiler). */
static int bind_all(sqlite3_stmt *st, const store_filter_sql_t *c, int n)
{
    for (int i = 0; i < n; i++) {
        const store_filter_bind_t *b = &c->b[i];
        int at = c->base + i + 1;
        int rc = b->t == SFB_TEXT ? sqlite3_bind_text(st, at, b->s, -1, SQLITE_TRANSIENT)
               : b->t == SFB_INT  ? sqlite3_bind_int64(st, at, b->i)
                                  : sqlite3_bind_double(st, at, b->d);
        if (rc != SQLITE_OK)
            return -EIO;
    }
    return 0;
}

/* head + the filter's WHERE + tail, prepared, the filter's values bound
 * after the caller's first `base` parameters (which head and tail number
 * ?1..?base, and the caller binds). */
int sq_filter_prepare(sq_t *sq, const store_search_t *q, const char *head, int base,
                      const char *tail, sqlite3_stmt **out)
{
    *out = NULL;
    store_filter_sql_t *c = store_filter_sql_new(&sq_dialect, sq, q, base);
    if (!c)
        return -ENOMEM;
    store_filter_sql_put(c, head);
    store_filter_sql_where(c);
    store_filter_sql_put(c, tail);
    int rc = c->err;
    if (!rc && !(*out = sq_prepare(sq, c->sql.data)))
        rc = -EIO;
    if (!rc && bind_all(*out, c, c->nb) != 0)
        rc = -EIO;
    if (rc && *out) {
        sqlite3_finalize(*out);
        *out = NULL;
    }
    store_filter_sql_free(c);
    return rc;
}

int sq_device_search(store_t *s, const store_search_t *q, store_device_row_fn fn, void *ud,
                     int64_t *total)
{
    sq_t *sq = SQ(s);
    if ((unsigned)q->sort >= STORE_SORT_COUNT)
        return -EINVAL;
    store_filter_sql_t *c = store_filter_sql_new(&sq_dialect, sq, q, 0);
    if (!c)
        return -ENOMEM;
    int rc = 0;
    sqlite3_stmt *st = NULL;
    store_filter_sql_put(c, "SELECT " DEV_COLS ", rid FROM devices WHERE ");
    store_filter_sql_where(c);
    if (c->err) {
        rc = c->err;
        goto out;
    }
    if (total) {
        /* the same WHERE with the same binds */
        buf_t cnt = BUF_INIT(c->sql.max);
        rc = store_filter_sql_count(c, &cnt);
        if (!rc && (!(st = sq_prepare(sq, cnt.data)) || bind_all(st, c, c->nb_where) != 0))
            rc = -EIO;
        buf_free(&cnt);
        if (rc)
            goto out;
        int r = sqlite3_step(st);
        *total = r == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
        sqlite3_finalize(st);
        st = NULL;
        if (r != SQLITE_ROW) {
            rc = sq_err(sq, "device_count");
            goto out;
        }
    }
    if ((rc = store_filter_sql_page(c, "rid")) < 0)
        goto out;
    st = sq_prepare(sq, c->sql.data);
    if (!st || bind_all(st, c, c->nb) != 0) {
        rc = -EIO;
        goto out;
    }
    store_device_t *d = malloc(sizeof *d);
    if (!d) {
        rc = -ENOMEM;
        goto out;
    }
    int r;
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        sq_dev_row(st, d);
        if (fn(d, sqlite3_column_int64(st, 20), ud) != 0) {
            r = SQLITE_DONE;
            break;
        }
    }
    free(d);
    if (r != SQLITE_DONE)
        rc = sq_err(sq, "device_search");
out:
    sqlite3_finalize(st);
    store_filter_sql_free(c);
    return rc;
}

/* ---- the searchable parameters --------------------------------------------------------- */

static int run1(sq_t *q, const char *sql, const char *name, const char *what)
{
    sqlite3_stmt *st = sq_prepare(q, sql);
    if (!st)
        return -EIO;
    sq_bind_text(st, 1, name);
    int rc = sq_step_done(q, st, what);
    sqlite3_finalize(st);
    return rc;
}

/* The triggers that keep param_index: only while some name is indexed (a
 * trigger's WHEN costs every parameter write ~25%, bench (b)). */
static const char index_triggers[] =
    "CREATE TRIGGER IF NOT EXISTS params_index_insert AFTER INSERT ON params"
    "  WHEN new.value IS NOT NULL AND new.name IN (SELECT name FROM search_params) BEGIN"
    "  INSERT OR IGNORE INTO param_index VALUES (new.name, new.value, new.device); END;"
    "CREATE TRIGGER IF NOT EXISTS params_index_update AFTER UPDATE OF value ON params"
    "  WHEN old.value IS NOT new.value AND new.name IN (SELECT name FROM search_params) BEGIN"
    "  DELETE FROM param_index WHERE name = old.name AND value = old.value AND device = old.device;"
    "  INSERT OR IGNORE INTO param_index SELECT new.name, new.value, new.device"
    "    WHERE new.value IS NOT NULL; END;"
    "CREATE TRIGGER IF NOT EXISTS params_index_delete AFTER DELETE ON params"
    "  WHEN old.value IS NOT NULL AND old.name IN (SELECT name FROM search_params) BEGIN"
    "  DELETE FROM param_index WHERE name = old.name AND value = old.value AND device = old.device;"
    "  END;";

int sq_search_params_set(store_t *s, const char *const *names, size_t n)
{
    sq_t *q = SQ(s);
    if (sq_exec(q, n ? index_triggers
                     : "DROP TRIGGER IF EXISTS params_index_insert;"
                       " DROP TRIGGER IF EXISTS params_index_update;"
                       " DROP TRIGGER IF EXISTS params_index_delete;") < 0)
        return -EIO;
    /* the stored names no longer given: their index entries go */
    sqlite3_stmt *st = sq_prepare(q, "SELECT name FROM search_params");
    if (!st)
        return -EIO;
    char gone[64][STORE_FILTER_MAX / 8];
    size_t ngone = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *have = (const char *)sqlite3_column_text(st, 0);
        bool kept = false;
        for (size_t i = 0; i < n && !kept; i++)
            kept = !strcmp(names[i], have);
        if (!kept && ngone < sizeof gone / sizeof gone[0])
            str_copy(gone[ngone++], sizeof gone[0], have);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return sq_err(q, "search_params");
    for (size_t i = 0; i < ngone; i++)
        if (run1(q, "DELETE FROM param_index WHERE name = ?1", gone[i], "search_params") < 0 ||
            run1(q, "DELETE FROM search_params WHERE name = ?1", gone[i], "search_params") < 0)
            return -EIO;
    /* new names: index the values already stored (one pass over params) */
    for (size_t i = 0; i < n; i++) {
        if ((rc = run1(q, "INSERT OR IGNORE INTO search_params VALUES (?1)", names[i],
                       "search_params")) < 0)
            return rc;
        if (rc == 1 && (rc = run1(q, "INSERT OR IGNORE INTO param_index SELECT name, value, device"
                                     " FROM params WHERE name = ?1 AND value IS NOT NULL",
                                  names[i], "search_params")) < 0)
            return rc;
        if (rc > 0)
            log_info("search_param_indexed", LF_S("name", names[i]), LF_I("values", rc));
    }
    return 0;
}
