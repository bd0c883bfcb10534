/*
 * store_pg_files: the PostgreSQL backend's file rows (store_sqlite_files.c
 * has the model): what the ACS knows about each file of its file store;
 * and, since several nodes serve the same files, their bytes (store.h
 * "file contents in a shared store"): table file_chunks, one row per piece
 * of STORE_FILE_PIECE bytes keyed by (name, sha256, seq), so that each
 * version has its own pieces and a replacement never mixes into a reader
 * of the version before. bytea pieces rather than large objects: they are
 * rows like any other (deleted with their file by a DELETE, in pg_dump and
 * logical replication, no lo_unlink to forget, no privileges of their own).
 * Pieces go in and out as binary values (no hex text on the wire), and a
 * reader takes them one at a time from a cursor: one snapshot, one piece in
 * memory.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
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
    /* xmax = 0: the row was inserted, not updated (one round trip, with the
     * pieces of the name's other versions going: the row names its bytes) */
    PGresult *r = pg_query(
        p, "WITH gone AS (DELETE FROM file_chunks WHERE name = $1 AND sha256 <> $7)"
           " INSERT INTO files (" FILE_COLS ") VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$11)"
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
    int rc = pg_cmd_sql(PG(s), "WITH gone AS (DELETE FROM file_chunks WHERE name = $1)"
                               " DELETE FROM files WHERE name = $1", 1, v, "file_delete");
    return rc < 0 ? rc : rc == 0 ? -ENOENT : 0;
}

/* ---- contents ---------------------------------------------------------------------- */

/* Each content call is all or nothing: in the caller's transaction under a
 * savepoint of its own, else in a transaction of its own (a cursor needs
 * one). *own: which. */
static int part_begin(pg_t *p, bool *own)
{
    *own = !p->in_tx;
    return pg_cmd_sql(p, *own ? "BEGIN" : "SAVEPOINT file_content", 0, NULL, "file_content") < 0
               ? -EIO
               : 0;
}

static int part_end(pg_t *p, bool own, int rc)
{
    const char *sql = own ? (rc < 0 ? "ROLLBACK" : "COMMIT")
                          : (rc < 0 ? "ROLLBACK TO SAVEPOINT file_content; RELEASE SAVEPOINT file_content"
                                    : "RELEASE SAVEPOINT file_content");
    /* without parameters: pg_query sends both statements at once */
    PGresult *r = pg_query(p, sql, 0, NULL, "file_content");
    /* a COMMIT the server turned into a ROLLBACK (an error before) failed */
    if (r && rc >= 0 && own && strcmp(PQcmdStatus(r), "COMMIT") != 0)
        rc = -EIO;
    PQclear(r);
    return r || rc < 0 ? rc : -EIO;
}

int pg_file_content_has(store_t *s, const char *name, const char *sha256, int64_t size)
{
    const char *v[] = { name, sha256 };
    /* length() of an uncompressed out-of-line value reads its pointer, not its bytes */
    PGresult *r = pg_query(PG(s), "SELECT count(*), COALESCE(sum(length(data)), 0),"
                                  " COALESCE(max(seq), -1) FROM file_chunks"
                                  " WHERE name = $1 AND sha256 = $2",
                           2, v, "file_content_has");
    if (!r)
        return -EIO;
    int64_t n = pg_col_i64(r, 0, 0), bytes = pg_col_i64(r, 0, 1), last = pg_col_i64(r, 0, 2);
    PQclear(r);
    return n > 0 && bytes == size && last == n - 1 ? 1 : 0;
}

/* The pieces of one version from fn; rc as pg_file_content_put's. */
static int put_pieces(pg_t *p, const char *name, const char *sha256, int64_t size,
                      store_piece_in_fn fn, void *ud)
{
    char *buf = malloc(STORE_FILE_PIECE);
    if (!buf)
        return -ENOMEM;
    int rc = 0;
    int64_t total = 0;
    for (int seq = 0;; seq++) {
        size_t got = 0;
        if ((rc = fn(buf, STORE_FILE_PIECE, &got, ud)) != 0)
            break;
        if (got == 0 && seq > 0)
            break; /* the end fell on a piece's boundary (an empty file keeps one empty piece) */
        if (got > STORE_FILE_PIECE || (total += (int64_t)got) > size) {
            rc = -EIO;
            break;
        }
        pg_num_t n;
        const char *v[] = { name, sha256, pg_i64(&n, seq), buf };
        const int lens[] = { 0, 0, 0, (int)got }, formats[] = { 0, 0, 0, 1 };
        /* a node storing the same version at the same time: its pieces are these */
        PGresult *r = pg_query_bin(p, "INSERT INTO file_chunks (name, sha256, seq, data)"
                                      " VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
                                   4, v, lens, formats, 0, "file_content_put");
        if (!r) {
            rc = -EIO;
            break;
        }
        PQclear(r);
        if (got < STORE_FILE_PIECE)
            break;
    }
    free(buf);
    if (rc == 0 && total != size)
        rc = -EIO;
    if (rc == -EIO && total != size)
        log_error("store_pg", LF_S("op", "file_content_put"), LF_S("name", name),
                  LF_I("size", size), LF_I("read", total),
                  LF_S("reason", "the bytes are not as long as the file's size"));
    return rc;
}

int pg_file_content_put(store_t *s, const char *name, const char *sha256, int64_t size,
                        store_piece_in_fn fn, void *ud)
{
    pg_t *p = PG(s);
    bool own;
    int rc = part_begin(p, &own);
    if (rc)
        return rc;
    rc = pg_file_content_has(s, name, sha256, size);
    if (rc == 0)
        rc = put_pieces(p, name, sha256, size, fn, ud);
    return part_end(p, own, rc);
}

int pg_file_content_get(store_t *s, const char *name, const char *sha256, store_piece_out_fn fn,
                        void *ud)
{
    pg_t *p = PG(s);
    bool own;
    int rc = part_begin(p, &own);
    if (rc)
        return rc;
    const char *v[] = { name, sha256 };
    /* the cursor's snapshot is its DECLARE's: every piece of one version */
    PGresult *r = pg_query(p, "DECLARE outpost_file NO SCROLL CURSOR FOR SELECT data FROM file_chunks"
                              " WHERE name = $1 AND sha256 = $2 ORDER BY seq",
                           2, v, "file_content_get");
    if (!r)
        return part_end(p, own, -EIO);
    PQclear(r);
    for (int seq = 0;; seq++) {
        r = pg_query_bin(p, "FETCH 1 FROM outpost_file", 0, NULL, NULL, NULL, 1, "file_content_get");
        if (!r) {
            rc = -EIO;
            break;
        }
        if (PQntuples(r) == 0) {
            PQclear(r);
            rc = seq ? 0 : -ENOENT;
            break;
        }
        rc = fn(PQgetvalue(r, 0, 0), (size_t)PQgetlength(r, 0, 0), ud);
        PQclear(r);
        if (rc)
            break;
    }
    if (rc != -EIO && pg_cmd_sql(p, "CLOSE outpost_file", 0, NULL, "file_content_get") < 0)
        rc = -EIO;
    return part_end(p, own, rc);
}

int pg_file_upload_key(store_t *s, const unsigned char mine[32], unsigned char out[32])
{
    pg_t *p = PG(s);
    const char *v[] = { (const char *)mine };
    const int lens[] = { 32 }, formats[] = { 1 };
    /* two nodes starting together: the first insert wins, both read it */
    PGresult *r = pg_query_bin(p, "INSERT INTO file_keys (id, key) VALUES (1, $1)"
                                  " ON CONFLICT (id) DO NOTHING",
                               1, v, lens, formats, 0, "file_upload_key");
    if (!r)
        return -EIO;
    PQclear(r);
    r = pg_query_bin(p, "SELECT key FROM file_keys WHERE id = 1", 0, NULL, NULL, NULL, 1,
                     "file_upload_key");
    int rc = pg_one(r);
    if (rc == 0 && PQgetlength(r, 0, 0) != 32) {
        log_error("store_pg", LF_S("op", "file_upload_key"), LF_S("reason", "the stored key is not 32 bytes"));
        rc = -EIO;
    }
    if (rc == 0)
        memcpy(out, PQgetvalue(r, 0, 0), 32);
    PQclear(r);
    return rc == -ENOENT ? -EIO : rc;
}
