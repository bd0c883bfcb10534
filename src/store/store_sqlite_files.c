/*
 * store_sqlite_files: the SQLite backend's file rows: what the ACS knows
 * about each file of its file store (type, target, size, digest, download
 * credentials). The bytes themselves are files in the ACS's data
 * directory, written and removed by the ACS (acs_files.c).
 */
#include <errno.h>
#include <string.h>

#include "core/str.h"
#include "store/store_sqlite.h"

#define FILE_COLS \
    "name, file_type, oui, product_class, version, size, sha256, username, password, task_id," \
    " created, updated"

static void file_row(sqlite3_stmt *st, store_file_t *f)
{
    memset(f, 0, sizeof *f);
    sq_col_copy(st, 0, f->name, sizeof f->name);
    sq_col_copy(st, 1, f->file_type, sizeof f->file_type);
    sq_col_copy(st, 2, f->oui, sizeof f->oui);
    sq_col_copy(st, 3, f->product_class, sizeof f->product_class);
    sq_col_copy(st, 4, f->version, sizeof f->version);
    f->size = sqlite3_column_int64(st, 5);
    sq_col_copy(st, 6, f->sha256, sizeof f->sha256);
    sq_col_copy(st, 7, f->username, sizeof f->username);
    sq_col_copy(st, 8, f->password, sizeof f->password);
    f->task_id = sqlite3_column_int64(st, 9);
    f->created = sqlite3_column_int64(st, 10);
    f->updated = sqlite3_column_int64(st, 11);
}

/* Is there a row of that name: 1, 0, or -EIO. */
static int file_exists(sq_t *q, const char *name)
{
    sqlite3_stmt *st = sq_prepare(q, "SELECT 1 FROM files WHERE name = ?1");
    if (!st)
        return -EIO;
    sq_bind_text(st, 1, name);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : sq_err(q, "file_exists");
}

int sq_file_put(store_t *s, const store_file_t *f)
{
    sq_t *q = SQ(s);
    int had = file_exists(q, f->name);
    if (had < 0)
        return had;
    sqlite3_stmt *st = sq_prepare(
        q, "INSERT INTO files (" FILE_COLS ") VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?11)"
           " ON CONFLICT(name) DO UPDATE SET file_type=excluded.file_type, oui=excluded.oui,"
           " product_class=excluded.product_class, version=excluded.version, size=excluded.size,"
           " sha256=excluded.sha256, username=excluded.username, password=excluded.password,"
           " task_id=excluded.task_id, updated=excluded.updated");
    if (!st)
        return -EIO;
    sq_bind_text(st, 1, f->name);
    sq_bind_text(st, 2, f->file_type);
    sq_bind_text(st, 3, f->oui);
    sq_bind_text(st, 4, f->product_class);
    sq_bind_text(st, 5, f->version);
    sqlite3_bind_int64(st, 6, f->size);
    sq_bind_text(st, 7, f->sha256);
    sq_bind_text(st, 8, f->username);
    sq_bind_text(st, 9, f->password);
    sqlite3_bind_int64(st, 10, f->task_id);
    sqlite3_bind_int64(st, 11, f->updated);
    int rc = sq_step_done(q, st, "file_put");
    sqlite3_finalize(st);
    return rc < 0 ? rc : had == 1 ? 0 : 1;
}

int sq_file_get(store_t *s, const char *name, store_file_t *out)
{
    sq_t *q = SQ(s);
    sqlite3_stmt *st = sq_prepare(q, "SELECT " FILE_COLS " FROM files WHERE name = ?1");
    if (!st)
        return -EIO;
    sq_bind_text(st, 1, name);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        file_row(st, out);
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? -ENOENT : sq_err(q, "file_get");
}

int sq_file_list(store_t *s, store_file_fn fn, void *ud)
{
    sq_t *q = SQ(s);
    sqlite3_stmt *st = sq_prepare(q, "SELECT " FILE_COLS " FROM files ORDER BY name");
    if (!st)
        return -EIO;
    int rc;
    store_file_t f;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        file_row(st, &f);
        if (fn(&f, ud) != 0) {
            rc = SQLITE_DONE;
            break;
        }
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : sq_err(q, "file_list");
}

int sq_file_delete(store_t *s, const char *name)
{
    sq_t *q = SQ(s);
    sqlite3_stmt *st = sq_prepare(q, "DELETE FROM files WHERE name = ?1");
    if (!st)
        return -EIO;
    sq_bind_text(st, 1, name);
    int rc = sq_step_done(q, st, "file_delete");
    sqlite3_finalize(st);
    return rc < 0 ? rc : rc == 0 ? -ENOENT : 0;
}
