/*
 * store_pg_search: device search for the PostgreSQL backend
 * (store_sqlite_search.c has the model). A parsed filter (store_filter.h)
 * becomes one WHERE clause whose every value is a parameter ($N); column
 * names come from a table here, never from input. Pages are keyset pages
 * over (sort key, rid).
 *
 * What differs from SQLite's dialect: a prefix is a LIKE pattern (SQLite's
 * range up to prefix + 0xFF is no valid UTF-8 for PostgreSQL; the columns
 * sort as "C", so the planner still makes the pattern an index range); a
 * tag is found with strpos(); outpost_num() and the param_index triggers
 * are plpgsql functions (pg_search_init makes them); the index is kept by
 * statement-level triggers over the statement's rows (transition tables),
 * one call per parameter write, not one per row. The language's semantics
 * are the same, and store_filter.c's parser is shared.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/log.h"
#include "core/str.h"
#include "store/store_pg.h"

enum { MAX_BINDS = STORE_FILTER_NODES * 4 + 8, NUM_LEN = 32 };

typedef struct pgq {
    buf_t sql;
    const char *v[MAX_BINDS];   /* the parameters' text, in $N order */
    int nb;
    char num[MAX_BINDS][NUM_LEN];
    char hi[STORE_FILTER_NODES][STORE_FILTER_MAX * 2 + 4]; /* LIKE patterns, ",tag," */
    int nhi;
    const store_search_t *q;
    pg_t *p;
    int err;
} pgq_t;

/* The columns of the fields (SF_F_* order); NULL for those compiled apart. */
static const char *const field_col[SF_F_COUNT] = {
    [SF_F_ID] = "id",
    [SF_F_SERIAL] = "serial",
    [SF_F_OUI] = "oui",
    [SF_F_MODEL] = "product_class",
    [SF_F_MANUFACTURER] = "manufacturer",
    [SF_F_SW_VERSION] = "software_version",
    [SF_F_HW_VERSION] = "hardware_version",
    [SF_F_IP] = "ip",
    [SF_F_LAST_INFORM] = "last_inform",
    [SF_F_FIRST_SEEN] = "first_seen",
};

static const char *const sort_col[] = {
    [STORE_SORT_ID] = "id",
    [STORE_SORT_SERIAL] = "serial",
    [STORE_SORT_MODEL] = "product_class",
    [STORE_SORT_OUI] = "oui",
    [STORE_SORT_VERSION] = "software_version",
    [STORE_SORT_LAST_INFORM] = "last_inform",
    [STORE_SORT_FIRST_SEEN] = "first_seen",
};

static const char *const cmp_sql[] = {
    [SF_LT] = " < ", [SF_LE] = " <= ", [SF_GT] = " > ", [SF_GE] = " >= ",
};

static void put(pgq_t *c, const char *s)
{
    if (!c->err && buf_append_str(&c->sql, s) != 0)
        c->err = -E2BIG;
}

/* A parameter: "$N" (with cast, e.g. "::bigint") written, its text kept. */
static void param(pgq_t *c, const char *text, const char *cast)
{
    if (c->nb >= MAX_BINDS) {
        c->err = -E2BIG;
        return;
    }
    c->v[c->nb++] = text;
    if (!c->err && buf_printf(&c->sql, "$%d%s", c->nb, cast) != 0)
        c->err = -E2BIG;
}

static void param_int(pgq_t *c, int64_t v)
{
    if (c->nb >= MAX_BINDS) {
        c->err = -E2BIG;
        return;
    }
    snprintf(c->num[c->nb], NUM_LEN, "%lld", (long long)v);
    param(c, c->num[c->nb], "::bigint");
}

static void param_real(pgq_t *c, double v)
{
    if (c->nb >= MAX_BINDS) {
        c->err = -E2BIG;
        return;
    }
    snprintf(c->num[c->nb], NUM_LEN, "%.17g", v);
    param(c, c->num[c->nb], "::float8");
}

/* A scratch string of the query's (LIKE patterns, tags); NULL when full. */
static char *scratch(pgq_t *c)
{
    if (c->nhi >= STORE_FILTER_NODES) {
        c->err = -E2BIG;
        return NULL;
    }
    return c->hi[c->nhi++];
}

/* A LIKE pattern "prefix%" with the wildcards of the prefix escaped
 * (backslash: LIKE's default escape). */
static const char *like_pat(pgq_t *c, const char *in)
{
    char *h = scratch(c);
    if (!h)
        return "";
    size_t j = 0;
    for (; *in && j + 3 < sizeof c->hi[0]; in++) {
        if (*in == '%' || *in == '_' || *in == '\\')
            h[j++] = '\\';
        h[j++] = *in;
    }
    h[j++] = '%';
    h[j] = '\0';
    return h;
}

static void text_cmp(pgq_t *c, const char *col, const store_filter_node_t *n)
{
    put(c, "(");
    put(c, col);
    if (n->op == SF_PREFIX) {
        put(c, " LIKE ");
        param(c, like_pat(c, n->value), "");
    } else if (n->op == SF_PREFIX_CI) {
        /* the columns are "C": ILIKE folds ASCII only, as SQLite's LIKE */
        put(c, " ILIKE ");
        param(c, like_pat(c, n->value), "");
    } else {
        put(c, " = ");
        param(c, n->value, "");
    }
    put(c, ")");
}

/* online: as store_device_online() says. */
static void online_sql(pgq_t *c)
{
    put(c, "(last_inform >= ");
    param_int(c, c->q->now);
    put(c, " - (2 * (CASE WHEN periodic_interval > 0 THEN periodic_interval ELSE ");
    param_int(c, c->q->default_interval);
    put(c, " END) + 60))");
}

/* Is the parameter a --search-param (in param_index)? */
static bool param_indexed(pgq_t *c, const char *name)
{
    const char *v[] = { name };
    bool ok = true;
    int64_t n = pg_scalar(c->p, "SELECT COUNT(*) FROM search_params WHERE name = $1", 1, v, &ok);
    if (!ok) {
        c->err = -EIO;
        return false;
    }
    return n > 0;
}

/* One comparison whose operator is not "!=". */
static void compile_cmp(pgq_t *c, const store_filter_node_t *n)
{
    switch (n->field) {
    case SF_F_TAG: {
        /* tags are stored comma-joined: look for ",tag," in ",tags," */
        char *h = scratch(c);
        if (!h)
            return;
        snprintf(h, sizeof c->hi[0], ",%s,", n->value);
        put(c, "(strpos(',' || tags || ',', ");
        param(c, h, "");
        put(c, ") > 0)");
        return;
    }
    case SF_F_ONLINE:
        if (!n->yes)
            put(c, "(NOT ");
        online_sql(c);
        if (!n->yes)
            put(c, ")");
        return;
    case SF_F_LAST_INFORM:
    case SF_F_FIRST_SEEN:
        put(c, "(");
        put(c, field_col[n->field]);
        put(c, cmp_sql[n->op]);
        param_int(c, n->rel ? c->q->now - n->time : n->time);
        put(c, ")");
        return;
    case SF_F_PARAM:
        /* a --search-param: its index yields the devices; another: each
         * candidate device's row, by the parameters' primary key */
        put(c, param_indexed(c, n->name)
                   ? "rid IN (SELECT device FROM param_index WHERE name = "
                   : "EXISTS (SELECT 1 FROM params WHERE device = devices.rid AND name = ");
        param(c, n->name, "");
        if (n->op == SF_PREFIX) {
            put(c, " AND value LIKE ");
            param(c, like_pat(c, n->value), "");
            put(c, ")");
        } else if (n->op == SF_EQ) {
            put(c, " AND value = ");
            param(c, n->value, "");
            put(c, ")");
        } else {
            put(c, " AND outpost_num(value)");
            put(c, cmp_sql[n->op]);
            param_real(c, n->num);
            put(c, ")");
        }
        return;
    default:
        if (n->field < SF_F_COUNT && field_col[n->field])
            text_cmp(c, field_col[n->field], n);
        else
            c->err = -EINVAL;
        return;
    }
}

static void compile(pgq_t *c, const store_filter_t *f, int i, int depth)
{
    if (i < 0 || i >= f->count || depth > STORE_FILTER_NODES) {
        c->err = -EINVAL;
        return;
    }
    const store_filter_node_t *n = &f->n[i];
    switch (n->kind) {
    case SF_AND:
    case SF_OR:
        put(c, "(");
        compile(c, f, n->a, depth + 1);
        put(c, n->kind == SF_AND ? " AND " : " OR ");
        compile(c, f, n->b, depth + 1);
        put(c, ")");
        return;
    case SF_NOT:
        put(c, "(NOT ");
        compile(c, f, n->a, depth + 1);
        put(c, ")");
        return;
    case SF_CMP:
        break;
    }
    if (n->op != SF_NE) {
        compile_cmp(c, n);
        return;
    }
    /* "!=" is NOT "=" for every field */
    store_filter_node_t eq = *n;
    eq.op = SF_EQ;
    put(c, "(NOT ");
    compile_cmp(c, &eq);
    put(c, ")");
}

static pgq_t *pgq_new(pg_t *p, const store_search_t *q)
{
    pgq_t *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->sql = BUF_INIT(256 * 1024);
    c->q = q;
    c->p = p;
    return c;
}

static void pgq_free(pgq_t *c)
{
    buf_free(&c->sql);
    free(c);
}

/* The search's WHERE: the filter, or TRUE. */
static void where(pgq_t *c)
{
    const store_search_t *q = c->q;
    if (q->filter && q->filter->root >= 0)
        compile(c, q->filter, q->filter->root, 0);
    else
        put(c, "TRUE");
}

PGresult *pg_filter_query(pg_t *p, const store_search_t *q, const char *head, int base,
                          const char *const *hv, const char *tail, const char *what, int *err)
{
    *err = 0;
    pgq_t *c = pgq_new(p, q);
    if (!c) {
        *err = -ENOMEM;
        return NULL;
    }
    /* the caller's values are $1..$base */
    for (int i = 0; i < base && i < MAX_BINDS; i++)
        c->v[c->nb++] = hv[i];
    if (base > MAX_BINDS)
        c->err = -E2BIG;
    put(c, head);
    where(c);
    put(c, tail);
    PGresult *r = NULL;
    if (c->err)
        *err = c->err;
    else if (!(r = pg_query(p, c->sql.data, c->nb, c->v, what)))
        *err = -EIO;
    pgq_free(c);
    return r;
}

static bool sort_numeric(store_sort_t s)
{
    return s == STORE_SORT_LAST_INFORM || s == STORE_SORT_FIRST_SEEN;
}

int pg_device_search(store_t *s, const store_search_t *q, store_device_row_fn fn, void *ud,
                     int64_t *total)
{
    pg_t *p = PG(s);
    if ((unsigned)q->sort >= sizeof sort_col / sizeof sort_col[0])
        return -EINVAL;
    pgq_t *c = pgq_new(p, q);
    if (!c)
        return -ENOMEM;
    int rc = 0;
    const char *col = sort_col[q->sort];
    put(c, "SELECT " PG_DEV_COLS ", rid FROM devices WHERE ");
    size_t where_at = c->sql.len;
    where(c);
    if (c->err) {
        rc = c->err;
        goto out;
    }
    if (total) {
        /* the same WHERE with the same parameters */
        buf_t cnt = BUF_INIT(c->sql.max);
        if (buf_append_str(&cnt, "SELECT COUNT(*) FROM devices WHERE ") != 0 ||
            buf_append(&cnt, c->sql.data + where_at, c->sql.len - where_at) != 0) {
            buf_free(&cnt);
            rc = -E2BIG;
            goto out;
        }
        bool ok = true;
        *total = pg_scalar(p, cnt.data, c->nb, c->v, &ok);
        buf_free(&cnt);
        if (!ok) {
            rc = -EIO;
            goto out;
        }
    }
    /* forward ascending, or backward descending: after the key; else before it */
    bool after = q->desc == q->backward;
    if (q->has_key) {
        put(c, " AND (");
        put(c, col);
        put(c, after ? ", rid) > (" : ", rid) < (");
        if (sort_numeric(q->sort))
            param_int(c, q->key_num);
        else
            param(c, q->key_text ? q->key_text : "", "::text");
        put(c, ", ");
        param_int(c, q->key_rid);
        put(c, ")");
    }
    put(c, " ORDER BY ");
    put(c, col);
    put(c, after ? " ASC, rid ASC" : " DESC, rid DESC");
    put(c, " LIMIT ");
    param_int(c, q->limit > 0 ? q->limit : 100);
    put(c, " OFFSET ");
    param_int(c, q->offset > 0 ? q->offset : 0);
    if (c->err) {
        rc = c->err;
        goto out;
    }
    PGresult *r = pg_query(p, c->sql.data, c->nb, c->v, "device_search");
    if (!r) {
        rc = -EIO;
        goto out;
    }
    store_device_t *d = malloc(sizeof *d);
    if (!d) {
        PQclear(r);
        rc = -ENOMEM;
        goto out;
    }
    for (int i = 0, n = PQntuples(r); i < n; i++) {
        pg_dev_row(r, i, d);
        if (fn(d, pg_col_i64(r, i, 20), ud) != 0)
            break;
    }
    free(d);
    PQclear(r);
out:
    pgq_free(c);
    return rc;
}

/* ---- functions, the searchable parameters ---------------------------------------------- */

/* pg_advisory_xact_lock key of the functions below: "outpsrch" in ASCII (0x6f75747073726368) */
#define SEARCH_LOCK "8031453536807183208"

/* outpost_num(text): the value as a number when it is one in the filter
 * language's sense (store_filter_number: digits with an optional fraction
 * and exponent, finite), else NULL (which compares false). */
static const char fn_num[] =
    "CREATE OR REPLACE FUNCTION outpost_num(t text) RETURNS double precision"
    " LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$"
    " BEGIN"
    "  IF t !~ '^[-+]?([0-9]+\\.?[0-9]*|\\.[0-9]+)([eE][-+]?[0-9]+)?$' THEN RETURN NULL; END IF;"
    "  RETURN t::double precision;"
    " EXCEPTION WHEN numeric_value_out_of_range THEN"
    /* strtod: an overflow is infinite (no number), an underflow 0 */
    "  RETURN CASE WHEN t ~ '[eE]-' THEN 0 END;"
    " END $$";

/* param_index follows the values of the names in search_params: the rows
 * a statement inserted, changed or deleted, in one pass each */
static const char fn_index_ins[] =
    "CREATE OR REPLACE FUNCTION params_index_insert() RETURNS trigger LANGUAGE plpgsql AS $$"
    " BEGIN"
    "  INSERT INTO param_index SELECT n.name, n.value, n.device FROM params_new n"
    "   JOIN search_params s ON s.name = n.name WHERE n.value IS NOT NULL ON CONFLICT DO NOTHING;"
    "  RETURN NULL;"
    " END $$";
static const char fn_index_upd[] =
    "CREATE OR REPLACE FUNCTION params_index_update() RETURNS trigger LANGUAGE plpgsql AS $$"
    " BEGIN"
    "  DELETE FROM param_index i USING params_old o"
    "   JOIN params_new n ON n.device = o.device AND n.name = o.name"
    "   JOIN search_params s ON s.name = n.name"
    "   WHERE o.value IS DISTINCT FROM n.value"
    "    AND i.name = o.name AND i.value = o.value AND i.device = o.device;"
    "  INSERT INTO param_index SELECT n.name, n.value, n.device FROM params_old o"
    "   JOIN params_new n ON n.device = o.device AND n.name = o.name"
    "   JOIN search_params s ON s.name = n.name"
    "   WHERE o.value IS DISTINCT FROM n.value AND n.value IS NOT NULL ON CONFLICT DO NOTHING;"
    "  RETURN NULL;"
    " END $$";
static const char fn_index_del[] =
    "CREATE OR REPLACE FUNCTION params_index_delete() RETURNS trigger LANGUAGE plpgsql AS $$"
    " BEGIN"
    "  DELETE FROM param_index i USING params_old o JOIN search_params s ON s.name = o.name"
    "   WHERE o.value IS NOT NULL AND i.name = o.name AND i.value = o.value AND i.device = o.device;"
    "  RETURN NULL;"
    " END $$";

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

int pg_search_init(pg_t *p)
{
    bool ok = true;
    /* made once per database (a later change: a new migration) */
    int64_t missing = pg_scalar(p, "SELECT (to_regprocedure('outpost_num(text)') IS NULL"
                                   " OR to_regprocedure('params_index_delete()') IS NULL)::int",
                                0, NULL, &ok);
    if (!ok)
        return -EIO;
    if (!missing)
        return 0;
    /* under a lock: two nodes starting together would collide replacing them */
    bool own = PQtransactionStatus(p->conn) == PQTRANS_IDLE;
    const char *const steps[] = { "SELECT pg_advisory_xact_lock(" SEARCH_LOCK ")", fn_num,
                                  fn_index_ins, fn_index_upd, fn_index_del };
    if (own && pg_cmd_sql(p, "BEGIN", 0, NULL, "search_init") < 0)
        return -EIO;
    int rc = 0;
    for (size_t i = 0; !rc && i < sizeof steps / sizeof steps[0]; i++)
        if (pg_cmd_sql(p, steps[i], 0, NULL, "search_init") < 0)
            rc = -EIO;
    if (own)
        rc = pg_cmd_sql(p, rc ? "ROLLBACK" : "COMMIT", 0, NULL, "search_init") < 0 || rc ? -EIO : 0;
    return rc;
}

int pg_search_params_set(store_t *s, const char *const *names, size_t n)
{
    pg_t *p = PG(s);
    bool ok = true;
    int64_t have = pg_scalar(p, "SELECT COUNT(*) FROM pg_trigger WHERE tgrelid = 'params'::regclass"
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
