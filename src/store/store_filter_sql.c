/*
 * store_filter_sql: the search filter as SQL for both backends
 * (store_filter_sql.h). Every value is a parameter; column names come from
 * the tables here, never from input.
 */
#include "store/store_filter_sql.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static const char *const sort_col[STORE_SORT_COUNT] = {
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

store_filter_sql_t *store_filter_sql_new(const store_filter_dialect_t *d, void *ctx,
                                         const store_search_t *q, int base)
{
    store_filter_sql_t *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->sql = BUF_INIT(256 * 1024);
    c->d = d;
    c->ctx = ctx;
    c->q = q;
    c->base = base;
    return c;
}

void store_filter_sql_free(store_filter_sql_t *c)
{
    if (!c)
        return;
    buf_free(&c->sql);
    free(c);
}

void store_filter_sql_put(store_filter_sql_t *c, const char *s)
{
    if (!c->err && buf_append_str(&c->sql, s) != 0)
        c->err = -E2BIG;
}

static void param(store_filter_sql_t *c, store_filter_bind_t b)
{
    if (c->err)
        return;
    if (c->nb >= STORE_FILTER_SQL_BINDS) {
        c->err = -E2BIG;
        return;
    }
    c->b[c->nb++] = b;
    if (buf_printf(&c->sql, "%c%d", c->d->mark, c->base + c->nb) != 0 ||
        buf_append_str(&c->sql, c->d->cast[b.t]) != 0)
        c->err = -E2BIG;
}

void store_filter_sql_text(store_filter_sql_t *c, const char *s)
{
    param(c, (store_filter_bind_t){ .t = SFB_TEXT, .s = s });
}

void store_filter_sql_int(store_filter_sql_t *c, int64_t v)
{
    param(c, (store_filter_bind_t){ .t = SFB_INT, .i = v });
}

static void param_real(store_filter_sql_t *c, double v)
{
    param(c, (store_filter_bind_t){ .t = SFB_REAL, .d = v });
}

#define put store_filter_sql_put
#define text store_filter_sql_text

/* A scratch string of the compiler's; NULL when all are taken. */
static char *scratch(store_filter_sql_t *c)
{
    if (c->nhi >= STORE_FILTER_NODES) {
        c->err = -E2BIG;
        return NULL;
    }
    return c->hi[c->nhi++];
}

/* An upper bound for a prefix range: prefix + 0xFF (no UTF-8 byte is 0xFF). */
static const char *prefix_hi(store_filter_sql_t *c, const char *prefix)
{
    char *h = scratch(c);
    if (!h)
        return "";
    snprintf(h, sizeof c->hi[0], "%s\xff", prefix);
    return h;
}

/* A LIKE pattern "prefix%" with the wildcards of the prefix escaped. */
static const char *like_pat(store_filter_sql_t *c, const char *in)
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

/* col starts with value: a range on col's index, or a LIKE pattern the
 * planner makes one (PostgreSQL: the columns sort as "C") */
static void prefix(store_filter_sql_t *c, const char *col, const char *value)
{
    put(c, col);
    if (c->d->prefix_like) {
        put(c, " LIKE ");
        text(c, like_pat(c, value));
        put(c, " ESCAPE '\\'");
        return;
    }
    put(c, " >= ");
    text(c, value);
    put(c, " AND ");
    put(c, col);
    put(c, " < ");
    text(c, prefix_hi(c, value));
}

static void text_cmp(store_filter_sql_t *c, const char *col, const store_filter_node_t *n)
{
    put(c, "(");
    if (n->op == SF_PREFIX) {
        prefix(c, col, n->value);
    } else if (n->op == SF_PREFIX_CI) {
        /* ASCII only: SQLite's LIKE; ILIKE on PostgreSQL's "C" columns */
        put(c, col);
        put(c, " ");
        put(c, c->d->ilike);
        put(c, " ");
        text(c, like_pat(c, n->value));
        put(c, " ESCAPE '\\'");
    } else {
        put(c, col);
        put(c, " = ");
        text(c, n->value);
    }
    put(c, ")");
}

/* online: as store_device_online() says. */
static void online_sql(store_filter_sql_t *c)
{
    put(c, "(last_inform >= ");
    store_filter_sql_int(c, c->q->now);
    put(c, " - (2 * (CASE WHEN periodic_interval > 0 THEN periodic_interval ELSE ");
    store_filter_sql_int(c, c->q->default_interval);
    put(c, " END) + 60))");
}

/* Is s valid UTF-8 (no overlong form, surrogate or code point past U+10FFFF)? */
static bool utf8_ok(const char *s)
{
    static const uint32_t min[] = { 0, 0x80, 0x800, 0x10000 };
    const unsigned char *u = (const unsigned char *)s;
    while (*u) {
        int n = *u < 0x80 ? 0 : (*u & 0xE0) == 0xC0 ? 1 : (*u & 0xF0) == 0xE0 ? 2
              : (*u & 0xF8) == 0xF0 ? 3 : -1;
        if (n < 0)
            return false;
        uint32_t cp = n == 0 ? *u : *u & (0x3Fu >> n);
        for (int i = 1; i <= n; i++) {
            if ((u[i] & 0xC0) != 0x80)
                return false;
            cp = cp << 6 | (u[i] & 0x3Fu);
        }
        if (cp < min[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        u += n + 1;
    }
    return true;
}

/* One comparison whose operator is not "!=". */
static void compile_cmp(store_filter_sql_t *c, const store_filter_node_t *n)
{
    if (c->d->utf8 && ((n->value && !utf8_ok(n->value)) || (n->name && !utf8_ok(n->name)))) {
        put(c, "(1 = 0)"); /* no stored text is such a value (the database refuses it) */
        return;
    }
    switch (n->field) {
    case SF_F_TAG: {
        /* tags are stored comma-joined: look for ",tag," in ",tags," */
        char *h = scratch(c);
        if (!h)
            return;
        snprintf(h, sizeof c->hi[0], ",%s,", n->value);
        put(c, "(");
        put(c, c->d->find);
        put(c, "(',' || tags || ',', ");
        text(c, h);
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
        store_filter_sql_int(c, n->rel ? c->q->now - n->time : n->time);
        put(c, ")");
        return;
    case SF_F_PARAM: {
        /* a --search-param: its index yields the devices; another: each
         * candidate device's row, by the parameters' primary key */
        int idx = c->d->indexed(c->ctx, n->name);
        if (idx < 0 && !c->err)
            c->err = idx;
        put(c, idx > 0 ? "rid IN (SELECT device FROM param_index WHERE name = "
                       : "EXISTS (SELECT 1 FROM params WHERE device = devices.rid AND name = ");
        text(c, n->name);
        if (n->op == SF_PREFIX) {
            put(c, " AND ");
            prefix(c, "value", n->value);
        } else if (n->op == SF_EQ) {
            put(c, " AND value = ");
            text(c, n->value);
        } else {
            put(c, " AND outpost_num(value)");
            put(c, cmp_sql[n->op]);
            param_real(c, n->num);
        }
        put(c, ")");
        return;
    }
    default:
        if (n->field < SF_F_COUNT && field_col[n->field])
            text_cmp(c, field_col[n->field], n);
        else
            c->err = -EINVAL;
        return;
    }
}

static void compile(store_filter_sql_t *c, const store_filter_t *f, int i, int depth)
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

void store_filter_sql_where(store_filter_sql_t *c)
{
    c->where_at = c->sql.len;
    const store_filter_t *f = c->q->filter;
    if (f && f->root >= 0)
        compile(c, f, f->root, 0);
    else
        put(c, c->d->all);
    c->where_end = c->sql.len;
    c->nb_where = c->nb;
}

int store_filter_sql_page(store_filter_sql_t *c, const char *rid_col)
{
    const store_search_t *q = c->q;
    if ((unsigned)q->sort >= STORE_SORT_COUNT || !sort_col[q->sort])
        return -EINVAL;
    const char *col = sort_col[q->sort];
    bool numeric = q->sort == STORE_SORT_LAST_INFORM || q->sort == STORE_SORT_FIRST_SEEN;
    /* forward ascending, or backward descending: after the key; else before it */
    bool after = q->desc == q->backward;
    if (q->has_key) {
        if (!numeric && c->d->utf8 && q->key_text && !utf8_ok(q->key_text))
            return -EINVAL; /* no stored key is such text; the database would refuse it */
        put(c, " AND (");
        put(c, col);
        put(c, ", ");
        put(c, rid_col);
        put(c, after ? ") > (" : ") < (");
        if (numeric)
            store_filter_sql_int(c, q->key_num);
        else
            text(c, q->key_text ? q->key_text : "");
        put(c, ", ");
        store_filter_sql_int(c, q->key_rid);
        put(c, ")");
    }
    put(c, " ORDER BY ");
    put(c, col);
    put(c, after ? " ASC, " : " DESC, ");
    put(c, rid_col);
    put(c, after ? " ASC" : " DESC");
    put(c, " LIMIT ");
    store_filter_sql_int(c, q->limit > 0 ? q->limit : 100);
    put(c, " OFFSET ");
    store_filter_sql_int(c, q->offset > 0 ? q->offset : 0);
    return c->err;
}

int store_filter_sql_count(const store_filter_sql_t *c, buf_t *out)
{
    if (buf_append_str(out, "SELECT COUNT(*) FROM devices WHERE ") != 0 ||
        buf_append(out, c->sql.data + c->where_at, c->where_end - c->where_at) != 0)
        return -E2BIG;
    return 0;
}
