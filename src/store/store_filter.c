/*
 * store_filter: the device search language's parser (store_filter.h has
 * the grammar). Recursive descent over the input with a depth limit; every
 * error names the byte offset where it was found.
 */
#include "store/store_filter.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/str.h"

/* Field names and the operators each takes (a table, not a switch). */
enum { OPS_TEXT = 1 << SF_EQ | 1 << SF_NE | 1 << SF_PREFIX,
       OPS_ORDER = 1 << SF_LT | 1 << SF_LE | 1 << SF_GT | 1 << SF_GE };

static const struct {
    const char *name;
    store_filter_field_t field;
    unsigned ops;
} fields[] = {
    { "id", SF_F_ID, OPS_TEXT },
    { "serial", SF_F_SERIAL, OPS_TEXT },
    { "oui", SF_F_OUI, OPS_TEXT },
    { "model", SF_F_MODEL, OPS_TEXT },
    { "product_class", SF_F_MODEL, OPS_TEXT },
    { "manufacturer", SF_F_MANUFACTURER, OPS_TEXT },
    { "software_version", SF_F_SW_VERSION, OPS_TEXT },
    { "version", SF_F_SW_VERSION, OPS_TEXT },
    { "hardware_version", SF_F_HW_VERSION, OPS_TEXT },
    { "ip", SF_F_IP, OPS_TEXT },
    { "tag", SF_F_TAG, 1 << SF_EQ | 1 << SF_NE },
    { "online", SF_F_ONLINE, 1 << SF_EQ | 1 << SF_NE },
    { "last_inform", SF_F_LAST_INFORM, OPS_ORDER },
    { "inform", SF_F_LAST_INFORM, OPS_ORDER },
    { "first_seen", SF_F_FIRST_SEEN, OPS_ORDER },
};

/* Longest first, so "<=" is not read as "<". */
static const struct {
    const char *text;
    store_filter_op_t op;
} ops[] = {
    { "!=", SF_NE }, { "^=", SF_PREFIX }, { "<=", SF_LE }, { ">=", SF_GE },
    { "=", SF_EQ },  { "<", SF_LT },      { ">", SF_GT },
};

typedef struct parser {
    store_filter_t *f;
    const char *s;
    size_t len, pos;
    int depth;
    store_filter_error_t *err;
} parser_t;

static int fail(parser_t *p, size_t pos, const char *msg)
{
    if (p->err) {
        p->err->pos = pos;
        str_copy(p->err->msg, sizeof p->err->msg, msg);
    }
    return -EINVAL;
}

static void skip_ws(parser_t *p)
{
    while (p->pos < p->len && (p->s[p->pos] == ' ' || p->s[p->pos] == '\t' ||
                               p->s[p->pos] == '\n' || p->s[p->pos] == '\r'))
        p->pos++;
}

static bool is_word_char(char c)
{
    return c && c != ' ' && c != '\t' && c != '\n' && c != '\r' && c != '(' && c != ')' &&
           c != '"';
}

/* A field name ends at an operator character too. */
static bool is_name_char(char c)
{
    return is_word_char(c) && !strchr("=!<>^", c);
}

/* Copy n bytes into the filter's text area; NULL when full. */
static char *keep(store_filter_t *f, const char *s, size_t n)
{
    if (f->used + n + 1 > sizeof f->text)
        return NULL;
    char *d = f->text + f->used;
    memcpy(d, s, n);
    d[n] = '\0';
    f->used += n + 1;
    return d;
}

static int new_node(store_filter_t *f, store_filter_kind_t kind, int a, int b)
{
    if (f->count >= STORE_FILTER_NODES)
        return -E2BIG;
    store_filter_node_t *n = &f->n[f->count];
    memset(n, 0, sizeof *n);
    n->kind = kind;
    n->a = a;
    n->b = b;
    return f->count++;
}

/* Is the word at pos the keyword kw (case-insensitive, then a non-word byte)? */
static bool at_keyword(parser_t *p, const char *kw)
{
    size_t n = strlen(kw);
    return p->len - p->pos >= n && str_ieq_n(p->s + p->pos, n, kw) &&
           (p->pos + n == p->len || !is_word_char(p->s[p->pos + n]));
}

bool store_filter_number(const char *s, double *out)
{
    const char *p = s;
    if (*p == '-' || *p == '+')
        p++;
    size_t digits = 0;
    while (*p >= '0' && *p <= '9')
        p++, digits++;
    if (*p == '.') {
        p++;
        while (*p >= '0' && *p <= '9')
            p++, digits++;
    }
    if (!digits)
        return false;
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '-' || *p == '+')
            p++;
        if (!(*p >= '0' && *p <= '9'))
            return false;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    if (*p)
        return false;
    double v = strtod(s, NULL);
    if (!isfinite(v))
        return false;
    *out = v;
    return true;
}

/* A value: a bare word or a quoted string with \" and \\ escapes. */
static int parse_value(parser_t *p, const char **out)
{
    skip_ws(p);
    size_t start = p->pos;
    char buf[STORE_FILTER_MAX];
    size_t n = 0;
    if (p->pos < p->len && p->s[p->pos] == '"') {
        p->pos++;
        for (;;) {
            if (p->pos >= p->len)
                return fail(p, start, "unterminated quoted value");
            char c = p->s[p->pos++];
            if (c == '"')
                break;
            if (c == '\\') {
                if (p->pos >= p->len || (p->s[p->pos] != '"' && p->s[p->pos] != '\\'))
                    return fail(p, p->pos - 1, "only \\\" and \\\\ are escapes");
                c = p->s[p->pos++];
            }
            if (c == '\0')
                return fail(p, p->pos - 1, "NUL in a value");
            if (n + 1 >= sizeof buf)
                return -E2BIG;
            buf[n++] = c;
        }
    } else {
        while (p->pos < p->len && is_word_char(p->s[p->pos])) {
            if (n + 1 >= sizeof buf)
                return -E2BIG;
            buf[n++] = p->s[p->pos++];
        }
        if (n == 0)
            return fail(p, start, "expected a value");
    }
    *out = keep(p->f, buf, n);
    return *out ? 0 : -E2BIG;
}

/* Unix seconds, ISO 8601 UTC, or "-N[smhd]" ago. */
static int parse_time(parser_t *p, size_t at, store_filter_node_t *n)
{
    const char *v = n->value;
    size_t len = strlen(v);
    static const struct { char unit; int64_t s; } units[] = {
        { 's', 1 }, { 'm', 60 }, { 'h', 3600 }, { 'd', 86400 }, { 'w', 7 * 86400 },
    };
    if (len >= 3 && v[0] == '-') {
        for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
            char num[24];
            int64_t k;
            if (v[len - 1] != units[i].unit || len - 2 >= sizeof num)
                continue;
            memcpy(num, v + 1, len - 2);
            num[len - 2] = '\0';
            if (str_to_i64(num, 0, INT64_MAX / (7 * 86400), &k) != 0)
                break;
            n->time = k * units[i].s;
            n->rel = true;
            return 0;
        }
    }
    if (str_to_i64(v, 0, INT64_MAX / 4, &n->time) == 0 || clock_parse_iso8601(v, &n->time) == 0)
        return 0;
    return fail(p, at, "expected a time: Unix seconds, ISO 8601 UTC or -N[smhdw] ago");
}

static int parse_or(parser_t *p);

static int parse_cmp(parser_t *p)
{
    store_filter_t *f = p->f;
    size_t start = p->pos;
    while (p->pos < p->len && is_name_char(p->s[p->pos]))
        p->pos++;
    size_t nlen = p->pos - start;
    if (nlen == 0)
        return fail(p, start, "expected a field, NOT or (");
    const char *name = p->s + start;
    int idx = -1;
    store_filter_field_t field = SF_F_PARAM;
    unsigned allowed = OPS_TEXT | OPS_ORDER;
    const char *pname = NULL;
    if (nlen > 6 && memcmp(name, "param.", 6) == 0) {
        if (!(pname = keep(f, name + 6, nlen - 6)))
            return -E2BIG;
    } else {
        size_t i = 0;
        for (; i < sizeof fields / sizeof fields[0]; i++)
            if (strlen(fields[i].name) == nlen && str_ieq_n(name, nlen, fields[i].name))
                break;
        if (i == sizeof fields / sizeof fields[0])
            return fail(p, start, "unknown field (id, serial, oui, model, manufacturer, "
                                  "version, tag, online, last_inform, param.NAME, ...)");
        field = fields[i].field;
        allowed = fields[i].ops;
        /* "online" and "offline" alone */
    }
    skip_ws(p);
    size_t opat = p->pos;
    size_t k = 0;
    for (; k < sizeof ops / sizeof ops[0]; k++) {
        size_t ol = strlen(ops[k].text);
        if (p->len - p->pos >= ol && memcmp(p->s + p->pos, ops[k].text, ol) == 0)
            break;
    }
    if (k == sizeof ops / sizeof ops[0]) {
        if (field == SF_F_ONLINE) { /* "online" alone */
            if ((idx = new_node(f, SF_CMP, -1, -1)) < 0)
                return idx;
            f->n[idx].field = SF_F_ONLINE;
            f->n[idx].yes = true;
            f->n[idx].value = "true";
            return idx;
        }
        return fail(p, opat, "expected an operator (= != ^= < <= > >=)");
    }
    store_filter_op_t op = ops[k].op;
    if (!(allowed & 1u << op))
        return fail(p, opat, "this operator does not apply to this field");
    p->pos += strlen(ops[k].text);
    const char *value;
    skip_ws(p);
    size_t vat = p->pos;
    int rc = parse_value(p, &value);
    if (rc < 0)
        return rc;
    if ((idx = new_node(f, SF_CMP, -1, -1)) < 0)
        return idx;
    store_filter_node_t *n = &f->n[idx];
    n->field = field;
    n->op = op;
    n->name = pname;
    n->value = value;
    if (field == SF_F_ONLINE) {
        if (!strcasecmp(value, "true") || !strcmp(value, "1"))
            n->yes = true;
        else if (strcasecmp(value, "false") && strcmp(value, "0"))
            return fail(p, vat, "online: true or false");
        if (op == SF_NE)
            n->yes = !n->yes;
        n->op = SF_EQ;
    } else if (field == SF_F_LAST_INFORM || field == SF_F_FIRST_SEEN) {
        return (rc = parse_time(p, vat, n)) < 0 ? rc : idx;
    } else if (field == SF_F_PARAM && (allowed & OPS_ORDER & 1u << op) &&
               !store_filter_number(value, &n->num)) {
        return fail(p, vat, "a numeric comparison needs a number");
    }
    return idx;
}

static int parse_unary(parser_t *p)
{
    skip_ws(p);
    if (++p->depth > STORE_FILTER_DEPTH)
        return fail(p, p->pos, "nested too deeply");
    int rc;
    if (at_keyword(p, "NOT")) {
        p->pos += 3;
        int a = parse_unary(p);
        rc = a < 0 ? a : new_node(p->f, SF_NOT, a, -1);
    } else if (p->pos < p->len && p->s[p->pos] == '(') {
        size_t open = p->pos++;
        rc = parse_or(p);
        skip_ws(p);
        if (rc >= 0 && (p->pos >= p->len || p->s[p->pos] != ')'))
            rc = fail(p, p->pos, p->pos >= p->len ? "missing ) for the ( here" : "expected )");
        if (rc == -EINVAL && p->err && p->pos >= p->len && p->err->pos == p->len)
            p->err->pos = open;
        p->pos++;
    } else if (at_keyword(p, "offline")) {
        p->pos += 7;
        rc = new_node(p->f, SF_CMP, -1, -1);
        if (rc >= 0) {
            p->f->n[rc].field = SF_F_ONLINE;
            p->f->n[rc].value = "false";
        }
    } else if (p->pos >= p->len) {
        rc = fail(p, p->pos, "unexpected end of filter");
    } else {
        rc = parse_cmp(p);
    }
    p->depth--;
    return rc;
}

static int parse_and(parser_t *p)
{
    int a = parse_unary(p);
    while (a >= 0) {
        skip_ws(p);
        if (!at_keyword(p, "AND"))
            break;
        p->pos += 3;
        int b = parse_unary(p);
        a = b < 0 ? b : new_node(p->f, SF_AND, a, b);
    }
    return a;
}

static int parse_or(parser_t *p)
{
    int a = parse_and(p);
    while (a >= 0) {
        skip_ws(p);
        if (!at_keyword(p, "OR"))
            break;
        p->pos += 2;
        int b = parse_and(p);
        a = b < 0 ? b : new_node(p->f, SF_OR, a, b);
    }
    return a;
}

void store_filter_init(store_filter_t *f)
{
    f->count = 0;
    f->root = -1;
    f->used = 0;
}

int store_filter_parse(store_filter_t *f, const char *src, size_t len, store_filter_error_t *err)
{
    store_filter_init(f);
    if (err) {
        err->pos = 0;
        err->msg[0] = '\0';
    }
    parser_t p = { .f = f, .s = src, .len = len, .err = err };
    if (len > STORE_FILTER_MAX)
        return fail(&p, STORE_FILTER_MAX, "filter too long"), -E2BIG;
    if (memchr(src, '\0', len))
        return fail(&p, (size_t)((const char *)memchr(src, '\0', len) - src), "NUL in the filter");
    skip_ws(&p);
    if (p.pos == len)
        return 0; /* empty: every device */
    int root = parse_or(&p);
    if (root == -E2BIG)
        fail(&p, p.pos, "filter too complex");
    if (root < 0)
        return root;
    skip_ws(&p);
    if (p.pos < len)
        return fail(&p, p.pos, p.s[p.pos] == ')' ? "unbalanced )" : "expected AND, OR or the end");
    f->root = root;
    return 0;
}

static int and_root(store_filter_t *f, int idx)
{
    if (idx < 0 || f->root < 0)
        return f->root = idx, idx < 0 ? idx : 0;
    int r = new_node(f, SF_AND, f->root, idx);
    if (r < 0)
        return r;
    f->root = r;
    return 0;
}

static int cmp_node(store_filter_t *f, store_filter_field_t field, store_filter_op_t op,
                    const char *value)
{
    const char *v = keep(f, value, strlen(value));
    int idx = v ? new_node(f, SF_CMP, -1, -1) : -E2BIG;
    if (idx >= 0) {
        f->n[idx].field = field;
        f->n[idx].op = op;
        f->n[idx].value = v;
        f->n[idx].yes = field == SF_F_ONLINE && !strcmp(value, "true");
    }
    return idx;
}

int store_filter_and_cmp(store_filter_t *f, store_filter_field_t field, store_filter_op_t op,
                         const char *value)
{
    return and_root(f, cmp_node(f, field, op, value));
}

int store_filter_and_any(store_filter_t *f, const store_filter_field_t *flds, size_t n,
                         store_filter_op_t op, const char *value)
{
    int acc = -1;
    for (size_t i = 0; i < n; i++) {
        int c = cmp_node(f, flds[i], op, value);
        if (c < 0)
            return c;
        acc = acc < 0 ? c : new_node(f, SF_OR, acc, c);
        if (acc < 0)
            return acc;
    }
    return acc < 0 ? 0 : and_root(f, acc);
}

const char *store_filter_field_name(store_filter_field_t field)
{
    if (field == SF_F_PARAM)
        return "param";
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
        if (fields[i].field == field)
            return fields[i].name;
    return "?";
}

const char *store_filter_op_name(store_filter_op_t op)
{
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
        if (ops[i].op == op)
            return ops[i].text;
    return op == SF_PREFIX_CI ? "^=" : "?";
}
