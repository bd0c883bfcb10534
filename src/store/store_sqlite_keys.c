/*
 * store_sqlite_keys: the SQLite backend's API keys. A key is its public id,
 * the SHA-256 of its secret (the secret itself is never stored), a name, a
 * role, and when it was made and last used. Adding or deleting one bumps
 * settings.keys_version in the same transaction: a running ACS polls that
 * number to see what `outpost acs keys` changed in the same database.
 * Callers group the statements of one change in a transaction (the store
 * worker does; the command line calls store_begin/commit).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_sqlite.h"

static int bump_version(sq_t *q)
{
    return sq_exec(q, "UPDATE settings SET v = v + 1 WHERE k = 'keys_version'");
}

int sq_key_add(store_t *s, const store_key_t *k)
{
    sq_t *q = SQ(s);
    int64_t n = sq_scalar(q, "SELECT count(*) FROM api_keys", 0, 0);
    if (n < 0)
        return -EIO;
    if (n >= STORE_KEYS_MAX)
        return -ENOSPC;
    sqlite3_stmt *st = sq_prepare(q, "INSERT INTO api_keys (id, hash, name, role, created, last_used)"
                                     " VALUES (?1, ?2, ?3, ?4, ?5, 0) ON CONFLICT DO NOTHING");
    if (!st)
        return -EIO;
    sq_bind_text(st, 1, k->id);
    sq_bind_text(st, 2, k->hash);
    sq_bind_text(st, 3, k->name);
    sq_bind_text(st, 4, k->role);
    sqlite3_bind_int64(st, 5, k->created);
    int rc = sq_step_done(q, st, "key_add");
    sqlite3_finalize(st);
    if (rc < 0)
        return rc;
    if (rc == 0)
        return -EEXIST;
    return bump_version(q);
}

int sq_key_delete(store_t *s, const char *id)
{
    sq_t *q = SQ(s);
    sqlite3_stmt *st = sq_prepare(q, "DELETE FROM api_keys WHERE id = ?1");
    if (!st)
        return -EIO;
    sq_bind_text(st, 1, id);
    int rc = sq_step_done(q, st, "key_delete");
    sqlite3_finalize(st);
    if (rc < 0)
        return rc;
    if (rc == 0)
        return -ENOENT;
    return bump_version(q);
}

int sq_key_list(store_t *s, store_key_fn fn, void *ud)
{
    sq_t *q = SQ(s);
    sqlite3_stmt *st = sq_prepare(q, "SELECT id, hash, name, role, created, last_used FROM api_keys"
                                     " ORDER BY created, id");
    if (!st)
        return -EIO;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        store_key_t k;
        memset(&k, 0, sizeof k);
        sq_col_copy(st, 0, k.id, sizeof k.id);
        sq_col_copy(st, 1, k.hash, sizeof k.hash);
        sq_col_copy(st, 2, k.name, sizeof k.name);
        sq_col_copy(st, 3, k.role, sizeof k.role);
        k.created = sqlite3_column_int64(st, 4);
        k.last_used = sqlite3_column_int64(st, 5);
        if (fn(&k, ud) != 0) {
            rc = SQLITE_DONE;
            break;
        }
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : sq_err(q, "key_list");
}

int sq_key_touch(store_t *s, const char *id, int64_t when)
{
    sq_t *q = SQ(s);
    sqlite3_stmt *st = sq_prepare(q, "UPDATE api_keys SET last_used = ?2 WHERE id = ?1 AND last_used < ?2");
    if (!st)
        return -EIO;
    sq_bind_text(st, 1, id);
    sqlite3_bind_int64(st, 2, when);
    int rc = sq_step_done(q, st, "key_touch");
    sqlite3_finalize(st);
    return rc < 0 ? rc : 0;
}

int sq_key_version(store_t *s, int64_t *out)
{
    int64_t v = sq_scalar(SQ(s), "SELECT v FROM settings WHERE k = 'keys_version'", 0, 0);
    if (v < 0)
        return -EIO;
    *out = v;
    return 0;
}
