/*
 * store_filter_sql: the device search filter (store_filter.h) compiled to
 * a parameterised WHERE clause, with the keyset page after it, for both
 * store backends. What differs between SQLite and PostgreSQL is a small
 * dialect table (placeholders, casts, how a prefix and a tag are matched);
 * the tree walk, the fields' columns and the semantics are here once.
 * Internal to src/store.
 *
 * Ownership: the compiler (store_filter_sql_new) owns the SQL text and the
 * scratch strings its text parameters may point into; other text
 * parameters point into the filter and the search, which the caller keeps
 * until the statement has run.
 */
#ifndef OUTPOST_STORE_FILTER_SQL_H
#define OUTPOST_STORE_FILTER_SQL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "store/store.h"

enum { STORE_FILTER_SQL_BINDS = STORE_FILTER_NODES * 4 + 8 };

typedef enum store_filter_bind_type { SFB_TEXT = 0, SFB_INT, SFB_REAL } store_filter_bind_type_t;

typedef struct store_filter_bind {
    store_filter_bind_type_t t;
    const char *s;
    int64_t i;
    double d;
} store_filter_bind_t;

typedef struct store_filter_dialect {
    char mark;                 /* a placeholder is the mark and its number: '?' (?1), '$' ($1) */
    const char *cast[3];       /* after a text, integer, real placeholder ("", "::bigint") */
    const char *all;           /* the WHERE of no filter: "1", "TRUE" */
    const char *find;          /* a substring's position (text, needle): "instr", "strpos" */
    const char *ilike;         /* ASCII case-insensitive LIKE: "LIKE", "ILIKE" */
    bool prefix_like;          /* a prefix as LIKE 'p%' (else the range [p, p + 0xFF)) */
    bool utf8;                 /* text is UTF-8 only: a value that is not matches nothing */
    /* Is the parameter a --search-param (in param_index)? 1, 0, or -errno. */
    int (*indexed)(void *ctx, const char *name);
} store_filter_dialect_t;

typedef struct store_filter_sql {
    buf_t sql;
    store_filter_bind_t b[STORE_FILTER_SQL_BINDS]; /* in placeholder order */
    int nb;
    int base;                  /* placeholders before ours (the caller's) */
    size_t where_at, where_end; /* the WHERE's text in sql */
    int nb_where;              /* the binds of the WHERE */
    int err;                   /* the first error: -E2BIG, -EINVAL, -EIO... */
    const store_search_t *q;
    const store_filter_dialect_t *d;
    void *ctx;
    int nhi;
    char hi[STORE_FILTER_NODES][STORE_FILTER_MAX * 2 + 4]; /* patterns, bounds, ",tag," */
} store_filter_sql_t;

/* A compiler for search q (its filter may be NULL: every device); its
 * placeholders are numbered after the caller's `base`. NULL: no memory. */
store_filter_sql_t *store_filter_sql_new(const store_filter_dialect_t *d, void *ctx,
                                         const store_search_t *q, int base);
void store_filter_sql_free(store_filter_sql_t *c);
/* SQL text as is. */
void store_filter_sql_put(store_filter_sql_t *c, const char *s);
/* A parameter: its placeholder written, its value bound. */
void store_filter_sql_text(store_filter_sql_t *c, const char *s);
void store_filter_sql_int(store_filter_sql_t *c, int64_t v);
/* The filter's condition (or the dialect's `all`). */
void store_filter_sql_where(store_filter_sql_t *c);
/* After "... WHERE " and the condition: the keyset bound of the search's
 * sort on (key, rid_col), ORDER BY, LIMIT and OFFSET. -EINVAL for an
 * unknown sort. */
int store_filter_sql_page(store_filter_sql_t *c, const char *rid_col);
/* "SELECT COUNT(*) FROM devices WHERE " + the condition, into out (its
 * binds: the first nb_where). */
int store_filter_sql_count(const store_filter_sql_t *c, buf_t *out);

#endif
