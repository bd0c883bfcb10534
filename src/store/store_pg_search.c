/*
 * store_pg_search: device search for the PostgreSQL backend
 * (store_sqlite_search.c has the model). The filter becomes one WHERE
 * clause in store_filter_sql.c, shared with SQLite; this file gives
 * PostgreSQL's dialect: $N parameters with casts, a prefix as an escaped
 * LIKE pattern (SQLite's range up to prefix + 0xFF is no valid UTF-8 here;
 * the columns sort as "C", so the planner still makes the pattern an index
 * range), strpos() for tags, and values that are not UTF-8 matching
 * nothing. outpost_num() and the param_index triggers' functions are
 * plpgsql, part of the schema (store_pg_schema.c, migration 16); the
 * triggers are made here while some --search-param is set, and follow each
 * statement's rows through transition tables: one trigger call per
 * parameter write, not one per row.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/log.h"
#include "core/str.h"
#include "store/store_filter_sql.h"
#include "store/store_pg.h"

/* PostgreSQL's dialect of the filter (store_filter_sql.h). */
static int pg_indexed(void *ctx, const char *name)
{
    const char *v[] = { name };
    bool ok = true;
    int64_t n = pg_scalar(ctx, "SELECT COUNT(*) FROM search_params WHERE name = $1", 1, v, &ok);
    return !ok ? -EIO : n > 0;
}

static const store_filter_dialect_t pg_dialect = {
    .mark = '$',
    .cast = { "", "::bigint", "::float8" },
    .all = "TRUE",
    .find = "strpos",
    .ilike = "ILIKE", /* the columns are "C": it folds ASCII only, as SQLite's LIKE */
    .prefix_like = true,
    .utf8 = true,
    .indexed = pg_indexed,
};

/* The parameters' text: the caller's `base` values, then the compiler's
 * first n binds (numbers written into num). */
typedef struct pg_params {
    const char *v[STORE_FILTER_SQL_BINDS + 8];
    char num[STORE_FILTER_SQL_BINDS][32];
    int n;
} pg_params_t;

static int params_of(pg_params_t *pp, const store_filter_sql_t *c, const char *const *hv, int n)
{
    if (c->base + n > (int)(sizeof pp->v / sizeof pp->v[0]))
        return -E2BIG;
    pp->n = 0;
    for (int i = 0; i < c->base; i++)
        pp->v[pp->n++] = hv[i];
    for (int i = 0; i < n; i++) {
        const store_filter_bind_t *b = &c->b[i];
        if (b->t == SFB_TEXT) {
            pp->v[pp->n++] = b->s;
            continue;
        }
        if (b->t == SFB_INT)
            snprintf(pp->num[i], sizeof pp->num[i], "%lld", (long long)b->i);
        else
            snprintf(pp->num[i], sizeof pp->num[i], "%.17g", b->d);
        pp->v[pp->n++] = pp->num[i];
    }
    return 0;
}

PGresult *pg_filter_query(pg_t *p, const store_search_t *q, const char *head, int base,
                          const char *const *hv, const char *tail, const char *what, int *err)
{
    *err = 0;
    store_filter_sql_t *c = store_filter_sql_new(&pg_dialect, p, q, base);
    pg_params_t *pp = malloc(sizeof *pp);
    PGresult *r = NULL;
    if (!c || !pp) {
        *err = -ENOMEM;
        goto out;
    }
    store_filter_sql_put(c, head);
    store_filter_sql_where(c);
    store_filter_sql_put(c, tail);
    if (!(*err = c->err) && !(*err = params_of(pp, c, hv, c->nb)) &&
        !(r = pg_query(p, c->sql.data, pp->n, pp->v, what)))
        *err = -EIO;
out:
    free(pp);
    store_filter_sql_free(c);
    return r;
}

int pg_device_search(store_t *s, const store_search_t *q, store_device_row_fn fn, void *ud,
                     int64_t *total)
{
    pg_t *p = PG(s);
    if ((unsigned)q->sort >= STORE_SORT_COUNT)
        return -EINVAL;
    store_filter_sql_t *c = store_filter_sql_new(&pg_dialect, p, q, 0);
    pg_params_t *pp = malloc(sizeof *pp);
    store_device_t *d = malloc(sizeof *d);
    int rc = c && pp && d ? 0 : -ENOMEM;
    if (rc)
        goto out;
    store_filter_sql_put(c, "SELECT " PG_DEV_COLS ", rid FROM devices WHERE ");
    store_filter_sql_where(c);
    if ((rc = c->err) < 0)
        goto out;
    if (total) {
        /* the same WHERE with the same parameters */
        buf_t cnt = BUF_INIT(c->sql.max);
        bool ok = true;
        rc = store_filter_sql_count(c, &cnt);
        if (!rc && !(rc = params_of(pp, c, NULL, c->nb_where))) {
            *total = pg_scalar(p, cnt.data, pp->n, pp->v, &ok);
            rc = ok ? 0 : -EIO;
        }
        buf_free(&cnt);
        if (rc)
            goto out;
    }
    if ((rc = store_filter_sql_page(c, "rid")) < 0 || (rc = params_of(pp, c, NULL, c->nb)) < 0)
        goto out;
    PGresult *r = pg_query(p, c->sql.data, pp->n, pp->v, "device_search");
    if (!r) {
        rc = -EIO;
        goto out;
    }
    for (int i = 0, n = PQntuples(r); i < n; i++) {
        pg_dev_row(r, i, d);
        if (fn(d, pg_col_i64(r, i, 20), ud) != 0)
            break;
    }
    PQclear(r);
out:
    free(d);
    free(pp);
    store_filter_sql_free(c);
    return rc;
}

/* ---- the searchable parameters: their triggers ------------------------------------------ */

/* The triggers themselves: only while some name is indexed (as SQLite's:
 * a write to params then costs nothing extra). */
static const char *const index_triggers[] = {
    "CREATE OR REPLACE TRIGGER params_index_insert AFTER INSERT ON params"
    " REFERENCING NEW TABLE AS params_new FOR EACH STATEMENT EXECUTE FUNCTION params_index_insert()",
    "CREATE OR REPLACE TRIGGER params_index_update AFTER UPDATE ON params"
    " REFERENCING OLD TABLE AS params_old NEW TABLE AS params_new"
    " FOR EACH STATEMENT EXECUTE FUNCTION params_index_update()",
    "CREATE OR REPLACE TRIGGER params_index_delete AFTER DELETE ON params"
    " REFERENCING OLD TABLE AS params_old FOR EACH STATEMENT EXECUTE FUNCTION params_index_delete()",
};
static const char *const index_triggers_drop[] = {
    "DROP TRIGGER IF EXISTS params_index_insert ON params",
    "DROP TRIGGER IF EXISTS params_index_update ON params",
    "DROP TRIGGER IF EXISTS params_index_delete ON params",
};

/* The functions are the schema's (store_pg_schema.c, migration 16), made
 * and changed only by the migrations, in their transaction under their
 * lock. Until 16 this made them at open when missing, in a transaction of
 * its own: a definition changed in the code never reached a database that
 * had one. Now it only checks they are there (a database whose schema was
 * altered by hand), so such a database stops the daemon at start with the
 * reason, as a missing table does, not a search or a parameter write
 * later. */
int pg_search_init(pg_t *p)
{
    bool ok = true;
    int64_t missing = pg_scalar(p, "SELECT (to_regprocedure('outpost_num(text)') IS NULL"
                                   " OR to_regprocedure('params_index_insert()') IS NULL"
                                   " OR to_regprocedure('params_index_update()') IS NULL"
                                   " OR to_regprocedure('params_index_delete()') IS NULL)::int",
                                0, NULL, &ok);
    if (!ok)
        return -EIO;
    if (missing) {
        log_error("store_schema_mismatch", LF_S("backend", "pg"),
                  LF_S("reason", "the search functions of schema 16 are missing"));
        return -EIO;
    }
    return 0;
}

static int search_params_apply(pg_t *p, const char *const *names, size_t n);

int pg_search_params_set(store_t *s, const char *const *names, size_t n)
{
    pg_t *p = PG(s);
    /* indexing a new name's stored values reads every row of that name (a
     * million devices: minutes), and the triggers' DDL waits for every
     * session writing params: no timeouts until the end */
    if (pg_cmd_sql(p, "SET statement_timeout = 0; SET lock_timeout = 0", 0, NULL, "search_params") < 0)
        return -EIO;
    int rc = search_params_apply(p, names, n);
    if (pg_cmd_sql(p, "RESET statement_timeout; RESET lock_timeout", 0, NULL, "search_params") < 0 && !rc)
        rc = -EIO;
    return rc;
}

static int search_params_apply(pg_t *p, const char *const *names, size_t n)
{
    int64_t have;
    bool ok = true;
    have = pg_scalar(p, "SELECT COUNT(*) FROM pg_trigger WHERE tgrelid = 'params'::regclass"
                        " AND tgname = 'params_index_insert'", 0, NULL, &ok);
    if (!ok)
        return -EIO;
    /* triggers made or dropped only when that changes (DDL locks params) */
    if ((n > 0) != (have > 0))
        for (size_t i = 0; i < 3; i++)
            if (pg_cmd_sql(p, n ? index_triggers[i] : index_triggers_drop[i], 0, NULL,
                           "search_params") < 0)
                return -EIO;
    /* the stored names no longer given: their index entries go */
    buf_t arr = BUF_INIT((size_t)16 << 20);
    int rc = pg_array_append(&arr, names, n);
    const char *v[] = { arr.data };
    if (!rc && (pg_cmd_sql(p, "DELETE FROM param_index WHERE name IN (SELECT name FROM search_params"
                              " WHERE name <> ALL ($1::text[]))", 1, v, "search_params") < 0 ||
                pg_cmd_sql(p, "DELETE FROM search_params WHERE name <> ALL ($1::text[])", 1, v,
                           "search_params") < 0))
        rc = -EIO;
    buf_free(&arr);
    /* new names: index the values already stored (one pass over params) */
    for (size_t i = 0; !rc && i < n; i++) {
        const char *nv[] = { names[i] };
        int added = pg_cmd_sql(p, "INSERT INTO search_params VALUES ($1) ON CONFLICT DO NOTHING", 1,
                               nv, "search_params");
        if (added < 0) {
            rc = -EIO;
            break;
        }
        if (added == 0)
            continue;
        int vals = pg_cmd_sql(p, "INSERT INTO param_index SELECT name, value, device FROM params"
                                 " WHERE name = $1 AND value IS NOT NULL ON CONFLICT DO NOTHING", 1,
                              nv, "search_params");
        if (vals < 0)
            rc = -EIO;
        else if (vals > 0)
            log_info("search_param_indexed", LF_S("name", names[i]), LF_I("values", vals));
    }
    return rc;
}
