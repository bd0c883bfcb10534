/*
 * store_sqlite_search: device search for the SQLite backend. A parsed
 * filter (store_filter.h) becomes one WHERE clause whose every value is a
 * bound parameter; column names come from a table here, never from input.
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
#include "store/store_sqlite.h"

enum { MAX_BINDS = STORE_FILTER_NODES * 4 + 8 };

typedef struct bind {
    enum { B_TEXT, B_INT, B_REAL } t;
    const char *s;
    int64_t i;
    double d;
} bind_t;

typedef struct sqlq {
    buf_t sql;
    bind_t b[MAX_BINDS];
    int nb;
    char hi[STORE_FILTER_NODES][STORE_FILTER_MAX + 2]; /* prefix upper bounds, LIKE patterns */
    int nhi;
    const store_search_t *q;
    sq_t *sq;
    int base, nq;      /* parameters before ours; '?' written so far */
    int err;
} sqlq_t;

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
    [SF_LT] = " < ?", [SF_LE] = " <= ?", [SF_GT] = " > ?", [SF_GE] = " >= ?",
};

/* Append SQL text; each '?' becomes ?N, numbered after the caller's own
 * (base): binds are made in the order their '?' are written. */
static void put(sqlq_t *c, const char *s)
{
    for (; *s && !c->err; s++) {
        int rc = *s == '?' ? buf_printf(&c->sql, "?%d", c->base + ++c->nq)
                           : buf_append_byte(&c->sql, *s);
        if (rc != 0)
            c->err = -E2BIG;
    }
}

static void bind_text(sqlq_t *c, const char *s)
{
    if (c->nb >= MAX_BINDS) {
        c->err = -E2BIG;
        return;
    }
    c->b[c->nb++] = (bind_t){ .t = B_TEXT, .s = s };
}

static void bind_int(sqlq_t *c, int64_t v)
{
    if (c->nb >= MAX_BINDS) {
        c->err = -E2BIG;
        return;
    }
    c->b[c->nb++] = (bind_t){ .t = B_INT, .i = v };
}

/* An upper bound for a prefix range: prefix + 0xFF (no UTF-8 byte is 0xFF). */
static const char *prefix_hi(sqlq_t *c, const char *prefix)
{
    if (c->nhi >= STORE_FILTER_NODES) {
        c->err = -E2BIG;
        return "";
    }
    char *h = c->hi[c->nhi++];
    snprintf(h, STORE_FILTER_MAX + 2, "%s\xff", prefix);
    return h;
}

/* A LIKE pattern "prefix%" with the wildcards of the prefix escaped. */
static const char *like_pat(sqlq_t *c, const char *in)
{
    if (c->nhi >= STORE_FILTER_NODES) {
        c->err = -E2BIG;
        return "";
    }
    char *h = c->hi[c->nhi++];
    size_t j = 0;
    for (; *in && j + 3 < STORE_FILTER_MAX + 2; in++) {
        if (*in == '%' || *in == '_' || *in == '\\')
            h[j++] = '\\';
        h[j++] = *in;
    }
    h[j++] = '%';
    h[j] = '\0';
    return h;
}

static void text_cmp(sqlq_t *c, const char *col, const store_filter_node_t *n)
{
    put(c, "(");
    put(c, col);
    if (n->op == SF_PREFIX) {
        put(c, " >= ? AND ");
        put(c, col);
        put(c, " < ?)");
        bind_text(c, n->value);
        bind_text(c, prefix_hi(c, n->value));
    } else if (n->op == SF_PREFIX_CI) {
        put(c, " LIKE ? ESCAPE '\\')");
        bind_text(c, like_pat(c, n->value));
    } else {
        put(c, " = ?)");
        bind_text(c, n->value);
    }
}

/* online: as store_device_online() says. */
static void online_sql(sqlq_t *c)
{
    put(c, "(last_inform >= ? - (2 * (CASE WHEN periodic_interval > 0 THEN periodic_interval"
           " ELSE ? END) + 60))");
    bind_int(c, c->q->now);
    bind_int(c, c->q->default_interval);
}

/* Is the parameter a --search-param (in param_index)? */
static bool param_indexed(sqlq_t *c, const char *name)
{
    sqlite3_stmt *st = c->sq ? sq_prepare(c->sq, "SELECT 1 FROM search_params WHERE name = ?1") : NULL;
    if (!st) {
        c->err = -EIO;
        return false;
    }
    sq_bind_text(st, 1, name);
    bool yes = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_finalize(st);
    return yes;
}

/* One comparison whose operator is not "!=". */
static void compile_cmp(sqlq_t *c, const store_filter_node_t *n)
{
    switch (n->field) {
    case SF_F_TAG: {
        /* tags are stored comma-joined: look for ",tag," in ",tags," */
        if (c->nhi >= STORE_FILTER_NODES) {
            c->err = -E2BIG;
            return;
        }
        char *h = c->hi[c->nhi++];
        snprintf(h, STORE_FILTER_MAX + 2, ",%s,", n->value);
        put(c, "(instr(',' || tags || ',', ?) > 0)");
        bind_text(c, h);
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
        put(c, ")");
        bind_int(c, n->rel ? c->q->now - n->time : n->time);
        return;
    case SF_F_PARAM:
        /* a --search-param: its index yields the devices; another: each
         * candidate device's row, by the parameters' primary key */
        put(c, param_indexed(c, n->name)
                   ? "rid IN (SELECT device FROM param_index WHERE name = ?"
                   : "EXISTS (SELECT 1 FROM params WHERE device = devices.rid AND name = ?");
        bind_text(c, n->name);
        if (n->op == SF_PREFIX) {
            put(c, " AND value >= ? AND value < ?)");
            bind_text(c, n->value);
            bind_text(c, prefix_hi(c, n->value));
        } else if (n->op == SF_EQ) {
            put(c, " AND value = ?)");
            bind_text(c, n->value);
        } else {
            put(c, " AND outpost_num(value)");
            put(c, cmp_sql[n->op]);
            put(c, ")");
            if (c->nb >= MAX_BINDS)
                c->err = -E2BIG;
            else
                c->b[c->nb++] = (bind_t){ .t = B_REAL, .d = n->num };
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

static void compile(sqlq_t *c, const store_filter_t *f, int i, int depth)
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

static int bind_all(sqlite3_stmt *st, const sqlq_t *c)
{
    for (int i = 0; i < c->nb; i++) {
        const bind_t *b = &c->b[i];
        int at = c->base + i + 1;
        /* copied: sq_filter_prepare's statement outlives the buffers */
        int rc = b->t == B_TEXT ? sqlite3_bind_text(st, at, b->s, -1, SQLITE_TRANSIENT)
               : b->t == B_INT  ? sqlite3_bind_int64(st, at, b->i)
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
    sqlq_t *c = calloc(1, sizeof *c);
    if (!c)
        return -ENOMEM;
    c->sql = BUF_INIT(256 * 1024);
    c->q = q;
    c->sq = sq;
    c->base = base;
    int rc = buf_append_str(&c->sql, head) == 0 ? 0 : -E2BIG;
    if (!rc) {
        if (q->filter && q->filter->root >= 0)
            compile(c, q->filter, q->filter->root, 0);
        else
            put(c, "1");
        if (!c->err && buf_append_str(&c->sql, tail) != 0)
            c->err = -E2BIG;
        rc = c->err;
    }
    if (!rc && !(*out = sq_prepare(sq, c->sql.data)))
        rc = -EIO;
    if (!rc && bind_all(*out, c) != 0)
        rc = -EIO;
    if (rc && *out) {
        sqlite3_finalize(*out);
        *out = NULL;
    }
    buf_free(&c->sql);
    free(c);
    return rc;
}

static bool sort_numeric(store_sort_t s)
{
    return s == STORE_SORT_LAST_INFORM || s == STORE_SORT_FIRST_SEEN;
}

int sq_device_search(store_t *s, const store_search_t *q, store_device_row_fn fn, void *ud,
                     int64_t *total)
{
    sq_t *sq = SQ(s);
    if ((unsigned)q->sort >= sizeof sort_col / sizeof sort_col[0])
        return -EINVAL;
    sqlq_t *c = calloc(1, sizeof *c);
    if (!c)
        return -ENOMEM;
    c->sql = BUF_INIT(256 * 1024);
    c->q = q;
    c->sq = sq;
    int rc = 0;
    sqlite3_stmt *st = NULL;
    const char *col = sort_col[q->sort];
    put(c, "SELECT " DEV_COLS ", rid FROM devices WHERE ");
    size_t where_at = c->sql.len;
    if (q->filter && q->filter->root >= 0)
        compile(c, q->filter, q->filter->root, 0);
    else
        put(c, "1");
    if (c->err) {
        rc = c->err;
        goto out;
    }
    if (total) {
        /* the same WHERE with the same binds */
        buf_t cnt = BUF_INIT(c->sql.max);
        if (buf_append_str(&cnt, "SELECT COUNT(*) FROM devices WHERE ") != 0 ||
            buf_append(&cnt, c->sql.data + where_at, c->sql.len - where_at) != 0) {
            buf_free(&cnt);
            rc = -E2BIG;
            goto out;
        }
        st = sq_prepare(sq, cnt.data);
        buf_free(&cnt);
        if (!st || bind_all(st, c) != 0) {
            rc = -EIO;
            goto out;
        }
        int r = sqlite3_step(st);
        *total = r == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
        sqlite3_finalize(st);
        st = NULL;
        if (r != SQLITE_ROW) {
            rc = sq_err(sq, "device_count");
            goto out;
        }
    }
    /* forward ascending, or backward descending: after the key; else before it */
    bool after = q->desc == q->backward;
    if (q->has_key) {
        put(c, " AND (");
        put(c, col);
        put(c, after ? ", rid) > (?, ?)" : ", rid) < (?, ?)");
        if (sort_numeric(q->sort))
            bind_int(c, q->key_num);
        else
            bind_text(c, q->key_text ? q->key_text : "");
        bind_int(c, q->key_rid);
    }
    put(c, " ORDER BY ");
    put(c, col);
    put(c, after ? " ASC, rid ASC" : " DESC, rid DESC");
    put(c, " LIMIT ? OFFSET ?");
    bind_int(c, q->limit > 0 ? q->limit : 100);
    bind_int(c, q->offset > 0 ? q->offset : 0);
    if (c->err) {
        rc = c->err;
        goto out;
    }
    st = sq_prepare(sq, c->sql.data);
    if (!st || bind_all(st, c) != 0) {
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
        if (fn(d, sqlite3_column_int64(st, 16), ud) != 0) {
            r = SQLITE_DONE;
            break;
        }
    }
    free(d);
    if (r != SQLITE_DONE)
        rc = sq_err(sq, "device_search");
out:
    sqlite3_finalize(st);
    buf_free(&c->sql);
    free(c);
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
