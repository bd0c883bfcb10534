/*
 * store_pg_files: the PostgreSQL backend's file rows (store_sqlite_files.c
 * has the model): what the ACS knows about each file of its file store.
 * The bytes are files in the ACS's data directory (acs_files.c).
 */
#include <errno.h>
#include <string.h>

#include "core/str.h"
#include "store/store_pg.h"

#define FILE_COLS \
    "name, file_type, oui, product_class, version, size, sha256, username, password, task_id," \
    " created, updated"

static void file_row(const PGresult *r, int i, store_file_t *f)
{
    memset(f, 0, sizeof *f);
    pg_col_copy(r, i, 0, f->name, sizeof f->name);
    pg_col_copy(r, i, 1, f->file_type, sizeof f->file_type);
    pg_col_copy(r, i, 2, f->oui, sizeof f->oui);
    pg_col_copy(r, i, 3, f->product_class, sizeof f->product_class);
    pg_col_copy(r, i, 4, f->version, sizeof f->version);
    f->size = pg_col_i64(r, i, 5);
    pg_col_copy(r, i, 6, f->sha256, sizeof f->sha256);
    pg_col_copy(r, i, 7, f->username, sizeof f->username);
    pg_col_copy(r, i, 8, f->password, sizeof f->password);
    f->task_id = pg_col_i64(r, i, 9);
    f->created = pg_col_i64(r, i, 10);
    f->updated = pg_col_i64(r, i, 11);
}

int pg_file_put(store_t *s, const store_file_t *f)
{
    pg_t *p = PG(s);
    pg_num_t size, task, at;
    const char *v[] = { f->name, f->file_type, f->oui, f->product_class, f->version,
                        pg_i64(&size, f->size), f->sha256, f->username, f->password,
                        pg_i64(&task, f->task_id), pg_i64(&at, f->updated) };
    /* xmax = 0: the row was inserted, not updated (one round trip) */
    PGresult *r = pg_query(
        p, "INSERT INTO files (" FILE_COLS ") VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$11)"
           " ON CONFLICT(name) DO UPDATE SET file_type=excluded.file_type, oui=excluded.oui,"
           " product_class=excluded.product_class, version=excluded.version, size=excluded.size,"
           " sha256=excluded.sha256, username=excluded.username, password=excluded.password,"
           " task_id=excluded.task_id, updated=excluded.updated RETURNING (xmax = 0)",
        11, v, "file_put");
    if (!r)
        return -EIO;
    const char *ins = PQntuples(r) == 1 ? pg_col(r, 0, 0) : NULL;
    int rc = ins && ins[0] == 't' ? 1 : 0;
    PQclear(r);
    return rc;
}

int pg_file_get(store_t *s, const char *name, store_file_t *out)
{
    const char *v[] = { name };
    PGresult *r = pg_query(PG(s), "SELECT " FILE_COLS " FROM files WHERE name = $1", 1, v,
                           "file_get");
    int rc = pg_one(r);
    if (!rc)
        file_row(r, 0, out);
    PQclear(r);
    return rc;
}

int pg_file_list(store_t *s, store_file_fn fn, void *ud)
{
    PGresult *r = pg_query(PG(s), "SELECT " FILE_COLS " FROM files ORDER BY name", 0, NULL,
                           "file_list");
    if (!r)
        return -EIO;
    store_file_t f;
    for (int i = 0, n = PQntuples(r); i < n; i++) {
        file_row(r, i, &f);
        if (fn(&f, ud) != 0)
            break;
    }
    PQclear(r);
    return 0;
}

int pg_file_delete(store_t *s, const char *name)
{
    const char *v[] = { name };
    int rc = pg_cmd_sql(PG(s), "DELETE FROM files WHERE name = $1", 1, v, "file_delete");
    return rc < 0 ? rc : rc == 0 ? -ENOENT : 0;
}
