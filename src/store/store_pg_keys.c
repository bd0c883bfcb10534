/*
 * store_pg_keys: the PostgreSQL backend's API keys (store_sqlite_keys.c has
 * the model): the public id, the SHA-256 of the secret, a name, a role,
 * when made and last used. Adding or deleting one bumps
 * settings.keys_version in the caller's transaction, which a running ACS
 * polls to see what `outpost acs keys` changed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_pg.h"

static int bump_version(pg_t *p)
{
    return pg_cmd_sql(p, "UPDATE settings SET v = v + 1 WHERE k = 'keys_version'", 0, NULL,
                      "key_version") < 0 ? -EIO : 0;
}

int pg_key_add(store_t *s, const store_key_t *k)
{
    pg_t *p = PG(s);
    bool ok = true;
    int64_t n = pg_scalar(p, "SELECT count(*) FROM api_keys", 0, NULL, &ok);
    if (!ok || n < 0)
        return -EIO;
    if (n >= STORE_KEYS_MAX)
        return -ENOSPC;
    pg_num_t c;
    const char *v[] = { k->id, k->hash, k->name, k->role, pg_i64(&c, k->created) };
    /* any unique key taken (id or hash): no row */
    int rc = pg_cmd_sql(p, "INSERT INTO api_keys (id, hash, name, role, created, last_used)"
                           " VALUES ($1, $2, $3, $4, $5, 0) ON CONFLICT DO NOTHING", 5, v, "key_add");
    if (rc < 0)
        return rc;
    if (rc == 0)
        return -EEXIST;
    return bump_version(p);
}

int pg_key_delete(store_t *s, const char *id)
{
    pg_t *p = PG(s);
    const char *v[] = { id };
    int rc = pg_cmd_sql(p, "DELETE FROM api_keys WHERE id = $1", 1, v, "key_delete");
    if (rc < 0)
        return rc;
    if (rc == 0)
        return -ENOENT;
    return bump_version(p);
}

int pg_key_list(store_t *s, store_key_fn fn, void *ud)
{
    PGresult *r = pg_query(PG(s), "SELECT id, hash, name, role, created, last_used FROM api_keys"
                                  " ORDER BY created, id", 0, NULL, "key_list");
    if (!r)
        return -EIO;
    for (int i = 0, n = PQntuples(r); i < n; i++) {
        store_key_t k;
        memset(&k, 0, sizeof k);
        pg_col_copy(r, i, 0, k.id, sizeof k.id);
        pg_col_copy(r, i, 1, k.hash, sizeof k.hash);
        pg_col_copy(r, i, 2, k.name, sizeof k.name);
        pg_col_copy(r, i, 3, k.role, sizeof k.role);
        k.created = pg_col_i64(r, i, 4);
        k.last_used = pg_col_i64(r, i, 5);
        if (fn(&k, ud) != 0)
            break;
    }
    PQclear(r);
    return 0;
}

int pg_key_touch(store_t *s, const char *id, int64_t when)
{
    pg_num_t w;
    const char *v[] = { id, pg_i64(&w, when) };
    int rc = pg_cmd_sql(PG(s), "UPDATE api_keys SET last_used = $2 WHERE id = $1 AND last_used < $2",
                        2, v, "key_touch");
    return rc < 0 ? rc : 0;
}

int pg_key_version(store_t *s, int64_t *out)
{
    bool ok = true;
    int64_t v = pg_scalar(PG(s), "SELECT v FROM settings WHERE k = 'keys_version'", 0, NULL, &ok);
    if (!ok || v < 0)
        return -EIO;
    *out = v;
    return 0;
}
