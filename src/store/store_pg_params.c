/*
 * store_pg_params: the PostgreSQL backend's parameter rows (the SQLite
 * backend's store_sqlite.c and _history.c parameter calls): a list written
 * in one statement per chunk, read by prefix, an object's subtree deleted,
 * notification attributes.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/log.h"
#include "store/store_pg.h"

/* Rows of a parameter list written per statement: one round trip each. */
enum { PUT_CHUNK = 500 };
/* An array literal of a chunk: names, values are capped by the codec. */
enum { PUT_ARRAY_MAX = 64 << 20 };

/* ---- parameters ------------------------------------------------------------------- */

void pg_param_row(const PGresult *r, int row, store_param_t *p)
{
    *p = (store_param_t){
        .name = pg_col(r, row, 0),
        .value = pg_col(r, row, 1),
        .type = pg_col(r, row, 2),
        .writable = (int)pg_col_i64(r, row, 3),
        .updated = pg_col_i64(r, row, 4),
        .set_by = pg_col(r, row, 5),
        .set_at = pg_col_i64(r, row, 6),
        .notification = (int)pg_col_i64(r, row, 7),
        .access_list = pg_col(r, row, 8),
    };
    if (p->set_by && !*p->set_by)
        p->set_by = NULL; /* a name only */
    if (!p->set_at)
        p->set_at = p->updated;
}

/* One statement for rows [i, j): the arrays of names, values, types,
 * writabilities and setters. `queued`: the device is known to be there, so
 * the statement goes with the job's next round trip, not waited for. */
static int put_chunk(pg_t *p, const char *dev, const char *now, const store_param_t *prm,
                     size_t n, bool queued)
{
    const char *col[PUT_CHUNK];
    char wr[PUT_CHUNK][12];
    buf_t a[5];
    int rc = 0;
    for (int c = 0; c < 5; c++)
        buf_init(&a[c], PUT_ARRAY_MAX);
    for (int c = 0; c < 5 && !rc; c++) {
        for (size_t k = 0; k < n; k++) {
            const store_param_t *x = &prm[k];
            bool acs = x->set_by && strcmp(x->set_by, STORE_SET_BY_ACS) == 0;
            switch (c) {
            case 0: col[k] = x->name; break;
            case 1: col[k] = x->value; break;
            case 2: col[k] = x->value ? (x->type ? x->type : "") : NULL; break;
            case 3:
                snprintf(wr[k], sizeof wr[k], "%d", x->writable);
                col[k] = wr[k];
                break;
            default:
                col[k] = !x->value ? "" : acs ? STORE_SET_BY_ACS : STORE_SET_BY_CPE;
            }
        }
        rc = pg_array_append(&a[c], col, n);
    }
    if (!rc) {
        const char *v[] = { dev, now, a[0].data, a[1].data, a[2].data, a[3].data, a[4].data };
        /* every row is inserted or updated: none means no such device */
        if (queued) {
            rc = pg_send(p, PQ_PARAM_PUT_MANY, 7, v, "params_put");
        } else {
            rc = pg_cmd(p, PQ_PARAM_PUT_MANY, 7, v, "params_put");
            rc = rc < 0 ? -EIO : rc == 0 ? -ENOENT : 0;
        }
    } else {
        log_error("store_pg", LF_S("op", "params_put"), LF_ERR(rc));
        rc = -EIO;
    }
    for (int c = 0; c < 5; c++)
        buf_free(&a[c]);
    return rc;
}

static uint32_t name_hash(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

int pg_params_put(store_t *s, const char *dev, const store_param_t *prm, size_t n, int64_t now)
{
    pg_t *p = PG(s);
    int64_t rid;
    int rc = n ? 0 : pg_device_rid(p, dev, &rid); /* else the rows' statement finds it */
    if (rc < 0)
        return rc;
    pg_num_t b;
    const char *nows = pg_i64(&b, now);
    /* Inside a job, a device whose row the job wrote is there; otherwise the
     * first chunk's answer says so (no rows: -ENOENT), and the chunks after
     * it are queued behind it: a 5,000-value answer waits for one round
     * trip, not ten, and the next chunk's arrays are built while the server
     * runs the last. A device another node deletes: before the first chunk,
     * -ENOENT; after it, the delete waits for this job to end (the first
     * chunk locked the device row) and takes these rows with it. */
    bool queued = pg_job_wrote_device(p, dev);
    /* Chunks of up to PUT_CHUNK rows, one statement each. A name twice in
     * one statement cannot be upserted twice: a chunk ends before a name it
     * already holds, so rows apply in order, as one at a time would. */
    enum { SLOTS = 2 * PUT_CHUNK };
    int16_t slot[SLOTS];
    size_t i = 0;
    while (i < n) {
        memset(slot, -1, sizeof slot);
        size_t j = i;
        for (; j < n && j - i < PUT_CHUNK; j++) {
            uint32_t h = name_hash(prm[j].name ? prm[j].name : "") % SLOTS;
            bool dup = false;
            while (slot[h] >= 0) {
                if (strcmp(prm[i + (size_t)slot[h]].name, prm[j].name) == 0) {
                    dup = true;
                    break;
                }
                h = (h + 1) % SLOTS;
            }
            if (dup)
                break;
            slot[h] = (int16_t)(j - i);
        }
        if ((rc = put_chunk(p, dev, nows, prm + i, j - i, queued)) < 0)
            return rc;
        queued = p->in_job;
        i = j;
    }
    return 0;
}

int pg_params_list(store_t *s, const char *dev, const char *prefix, store_param_fn fn, void *ud)
{
    pg_t *p = PG(s);
    bool pre = prefix && *prefix;
    char hi[1100];
    /* the largest code point after the prefix: above every name under it */
    if (pre)
        snprintf(hi, sizeof hi, "%s\xf4\x8f\xbf\xbf", prefix);
    const char *v[] = { dev, prefix, hi };
    PGresult *r = pg_run(p, pre ? PQ_PARAMS_LIST_PREFIX : PQ_PARAMS_LIST, pre ? 3 : 1, v, "params_list");
    if (!r)
        return -EIO;
    for (int i = 0; i < PQntuples(r); i++) {
        store_param_t x;
        pg_param_row(r, i, &x);
        if (fn(&x, ud) != 0)
            break;
    }
    PQclear(r);
    return 0;
}

/* Names under "A.B.3." sort from "A.B.3." up to, not including, "A.B.3/"
 * ('/' follows '.' in byte order). */
int pg_params_delete_object(store_t *s, const char *dev, const char *prefix)
{
    size_t n = strlen(prefix);
    char end[1024]; /* CWMP names are at most 256 characters */
    if (n == 0 || prefix[n - 1] != '.' || n >= sizeof end)
        return -EINVAL;
    memcpy(end, prefix, n + 1);
    end[n - 1] = '/';
    const char *v[] = { dev, prefix, end };
    return pg_cmd_sql(PG(s), "DELETE FROM params WHERE device = (SELECT rid FROM devices WHERE id = $1)"
                             " AND name >= $2 AND name < $3", 3, v, "params_delete_object") < 0
               ? -EIO : 0;
}

int pg_params_set_attributes(store_t *s, const char *dev, const store_param_attr_t *a, size_t n,
                                    int64_t now)
{
    pg_t *p = PG(s);
    int64_t rid;
    int rc = pg_device_rid(p, dev, &rid);
    if (rc < 0)
        return rc;
    pg_num_t r, t;
    char hi[1100], no[12];
    /* a full name: made if unknown; a partial path ("X.Y."): every stored
     * parameter under it (a range on the primary key) */
    for (size_t i = 0; i < n && !rc; i++) {
        size_t len = strlen(a[i].name);
        bool partial = len == 0 || a[i].name[len - 1] == '.';
        snprintf(no, sizeof no, "%d", a[i].notification);
        if (partial)
            snprintf(hi, sizeof hi, "%s\xf4\x8f\xbf\xbf", a[i].name);
        const char *v[] = { pg_i64(&r, rid), a[i].name, partial ? hi : pg_i64(&t, now), no,
                            a[i].access_list };
        rc = pg_cmd_sql(p, partial
                               ? "UPDATE params SET notification=CASE WHEN $4::int >= 0 THEN $4::int"
                                 " ELSE notification END, access_list=COALESCE($5::text, access_list)"
                                 " WHERE device = $1 AND name >= $2 AND name < $3 AND right(name, 1) <> '.'"
                               : "INSERT INTO params AS p (device, name, value, updated, notification, access_list)"
                                 " VALUES ($1, $2, NULL, $3::bigint, CASE WHEN $4::int >= 0 THEN $4::int ELSE -1 END,"
                                 " $5::text) ON CONFLICT (device, name) DO UPDATE SET"
                                 " notification=CASE WHEN $4::int >= 0 THEN $4::int ELSE p.notification END,"
                                 " access_list=COALESCE($5::text, p.access_list)",
                        5, v, "params_set_attributes");
        rc = rc < 0 ? -EIO : 0;
    }
    return rc;
}
