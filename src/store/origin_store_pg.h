/*
 * origin_store_pg: the PostgreSQL backend behind origin_store.h (selected
 * by a postgres:// URL). Not for use outside src/store: the proxy calls
 * origin_store_*(), which dispatch here. Same semantics and return codes as
 * the SQLite file's functions; every call blocks on the server (see
 * origin_store_shared()). The handle owns its libpq connection.
 */
#ifndef OUTPOST_STORE_ORIGIN_STORE_PG_H
#define OUTPOST_STORE_ORIGIN_STORE_PG_H

#include <stddef.h>
#include <stdint.h>

#include "store/origin_store.h"

typedef struct origin_pg origin_pg_t;

int origin_pg_open(const char *url, origin_pg_t **out);
void origin_pg_close(origin_pg_t *p);
int origin_pg_put(origin_pg_t *p, const origin_rec_t *recs, size_t n);
/* rows written at or after since_s (the server's clock); limit 0: all, else
 * the `limit` written first; *now_s (may be NULL): the server's clock */
int origin_pg_load(origin_pg_t *p, int64_t since_s, size_t limit, origin_store_row_fn fn, void *ud,
                   int64_t *now_s);
int origin_pg_expire(origin_pg_t *p, int64_t before_s, size_t *removed);
int origin_pg_delete(origin_pg_t *p, const char *origin);

#endif
