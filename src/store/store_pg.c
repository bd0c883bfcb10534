/*
 * store_pg: the PostgreSQL backend (libpq, on the store worker's thread).
 * This file: the connection and its recovery, the helpers every
 * store_pg_*.c uses, devices, and the backend's table (transactions and
 * the pipeline: store_pg_flight.c; parameters: store_pg_params.c). The
 * semantics are the SQLite backend's, call for call (tests/unit/store/
 * pins them).
 *
 * A lost connection fails the call in progress with -EIO (logged once);
 * outside a transaction the next call resets the connection (PQreset), so
 * the ACS resumes by itself when the server comes back. Inside one, every
 * call fails until the caller's commit/rollback ends it, so a batch is
 * never half-applied on a fresh connection.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/str.h"
#include "store/store_pg.h"

static const char *const queries[PQ_COUNT] = {
    [PQ_DEV_INFORM] =
        "INSERT INTO devices AS d (id, manufacturer, oui, product_class, serial, software_version,"
        " hardware_version, ip, cr_url, cr_user, cr_pass, tags, first_seen, last_inform,"
        " periodic_interval, last_events) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$13,$14,$15)"
        " ON CONFLICT (id) DO UPDATE SET manufacturer=excluded.manufacturer, oui=excluded.oui,"
        " product_class=excluded.product_class, serial=excluded.serial,"
        " software_version=CASE WHEN excluded.software_version<>'' THEN excluded.software_version ELSE d.software_version END,"
        " hardware_version=CASE WHEN excluded.hardware_version<>'' THEN excluded.hardware_version ELSE d.hardware_version END,"
        " ip=excluded.ip,"
        " cr_url=CASE WHEN excluded.cr_url<>'' THEN excluded.cr_url ELSE d.cr_url END,"
        " cr_user=CASE WHEN excluded.cr_user<>'' THEN excluded.cr_user ELSE d.cr_user END,"
        " cr_pass=CASE WHEN excluded.cr_pass<>'' THEN excluded.cr_pass ELSE d.cr_pass END,"
        " tags=CASE WHEN excluded.tags<>'' THEN excluded.tags ELSE d.tags END,"
        " last_inform=excluded.last_inform,"
        " periodic_interval=CASE WHEN excluded.periodic_interval>0 THEN excluded.periodic_interval ELSE d.periodic_interval END,"
        " last_events=excluded.last_events",
    [PQ_DEV_GET] = "SELECT " PG_DEV_COLS " FROM devices WHERE id = $1",
    /* FOR KEY SHARE: the parameters about to be written for it keep the
     * row until the transaction ends (pg_device_delete) */
    [PQ_DEV_RID] = "SELECT rid FROM devices WHERE id = $1 FOR KEY SHARE",
    [PQ_PARAMS_FORGET] = "DELETE FROM params WHERE device = (SELECT rid FROM devices WHERE id = $1)",
    /* One chunk of a parameter list as parallel arrays, for the device $1
     * (no rows: no such device): a value the CPE
     * reported (set_by 'cpe') or the ACS set ('acs'), or a name only
     * (value NULL, set_by ''), which changes nothing but its writability.
     * set_by/set_at: who made the value what it is, and when; a value
     * reported again unchanged keeps them.
     * history (migration 18): a value replaced by a different one goes in
     * front of the row's old values, with when (set_at, or updated for a
     * row from before set_at) and by whom it was set; the row keeps the
     * newest settings.param_history (read once per statement: an InitPlan).
     * The device row is locked FOR KEY SHARE (once per statement: a
     * materialized CTE) until the transaction ends: a delete waits for it
     * (pg_device_delete).
     * A NULL old value (a name only) adds nothing, nor does an unchanged
     * one, and those rows keep what they had, however many. */
    [PQ_PARAM_PUT_MANY] =
        "WITH d AS MATERIALIZED (SELECT rid FROM devices WHERE id = $1 FOR KEY SHARE)"
        " INSERT INTO params AS p (device, name, value, type, writable, updated, set_by, set_at)"
        " SELECT d.rid, u.n, u.v, COALESCE(u.t, ''), u.w, $2::bigint, u.b,"
        "  CASE WHEN u.v IS NULL THEN 0 ELSE $2::bigint END"
        " FROM d, unnest($3::text[], $4::text[], $5::text[], $6::int[], $7::text[]) AS u(n, v, t, w, b)"
        " ON CONFLICT (device, name) DO UPDATE SET"
        " value=COALESCE(excluded.value, p.value),"
        " type=CASE WHEN excluded.value IS NOT NULL AND excluded.type<>'' THEN excluded.type ELSE p.type END,"
        " writable=CASE WHEN excluded.writable>=0 THEN excluded.writable ELSE p.writable END,"
        " updated=CASE WHEN excluded.value IS NULL THEN p.updated ELSE excluded.updated END,"
        " set_by=CASE WHEN excluded.value IS NULL OR p.value IS NOT DISTINCT FROM excluded.value"
        "  THEN p.set_by ELSE excluded.set_by END,"
        " set_at=CASE WHEN excluded.value IS NULL OR p.value IS NOT DISTINCT FROM excluded.value"
        "  THEN p.set_at ELSE excluded.set_at END,"
        " history=CASE WHEN p.value IS NULL OR excluded.value IS NULL OR p.value = excluded.value"
        "  THEN p.history ELSE (ROW(p.value, CASE WHEN p.set_at > 0 THEN p.set_at ELSE p.updated END,"
        "  p.set_by)::param_old || p.history)"
        "  [1:COALESCE((SELECT v FROM settings WHERE k = 'param_history'), 0)] END",
    [PQ_PARAMS_LIST] = "SELECT " PG_PARAM_COLS " FROM params"
                       " WHERE device = (SELECT rid FROM devices WHERE id = $1) ORDER BY name",
    /* a prefix range on the primary key (byte order: the "C" collation) */
    [PQ_PARAMS_LIST_PREFIX] = "SELECT " PG_PARAM_COLS " FROM params"
                              " WHERE device = (SELECT rid FROM devices WHERE id = $1)"
                              " AND name >= $2 AND name < $3 ORDER BY name",
    [PQ_TASK_ADD] = "INSERT INTO tasks (device_id, type, params, status, created, updated, expires_at)"
                    " VALUES ($1, $2, $3, 0, $4, $4, $5) RETURNING id",
    [PQ_TASK_GET] = "SELECT " PG_TASK_COLS " FROM tasks WHERE id = $1",
    [PQ_TASK_OUTCOME] = "SELECT id, device_id, type, status, fault_code, fault_string FROM tasks WHERE id = $1",
    [PQ_TASK_SENT] = "UPDATE tasks SET status = 1, attempts = attempts + 1, sent_at = $2, updated = $2,"
                     " node = $3, lease_until = $4 WHERE id = $1 AND status = 0",
    [PQ_TASK_FINISH] = "UPDATE tasks SET status = $2, result = $3, fault_code = $4, fault_string = $5,"
                       " done_at = $6, updated = $6 WHERE id = $1 AND status IN (0, 1)",
    [PQ_TASK_PENDING] = "SELECT " PG_TASK_COLS " FROM tasks"
                        " WHERE device_id = $1 AND status = 0 AND held = 0 ORDER BY id LIMIT $2",
    [PQ_TASK_HAS_PENDING] = "SELECT EXISTS (SELECT 1 FROM tasks WHERE device_id = $1 AND status = 0"
                            " AND held = 0)",
    /* The row and the device's trim in one statement: the DELETE sees the
     * rows from before the INSERT, so it keeps the newest $9 - 1 of them. */
    [PQ_SESSION_ADD] = "WITH trimmed AS (DELETE FROM sessions WHERE device_id = $1 AND id <= (SELECT id"
                       " FROM sessions WHERE device_id = $1 ORDER BY id DESC LIMIT 1 OFFSET $9::int - 1))"
                       " INSERT INTO sessions (device_id, started, duration_ms, events, rpcs, outcome,"
                       " log, rpc_list) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
    [PQ_TX_BEGIN] = "BEGIN",
    [PQ_TX_COMMIT] = "COMMIT",
    [PQ_TX_ROLLBACK] = "ROLLBACK",
    [PQ_TX_SAVEPOINT] = "SAVEPOINT job",
    [PQ_TX_RELEASE] = "RELEASE SAVEPOINT job",
    [PQ_TX_ROLLBACK_TO] = "ROLLBACK TO SAVEPOINT job",
};

const char *pg_sql(int i)
{
    return queries[i];
}

/* ---- helpers ----------------------------------------------------------------------- */

const char *pg_i64(pg_num_t *n, int64_t v)
{
    snprintf(n->b, sizeof n->b, "%" PRId64, v);
    return n->b;
}

int pg_err(pg_t *p, const PGresult *r, const char *what)
{
    /* the server's primary message (and its detail), else libpq's: one line */
    const char *msg = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    const char *detail = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_DETAIL) : NULL;
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    if (!msg || !*msg)
        msg = r && *PQresultErrorMessage(r) ? PQresultErrorMessage(r) : PQerrorMessage(p->conn);
    size_t len = strcspn(msg, "\n");
    log_error("store_pg", LF_S("op", what), LF_SN("reason", msg, len),
              LF_S("detail", detail ? detail : ""), LF_S("sqlstate", state ? state : ""));
    return -EIO;
}

/* The connection, usable for a call: reset when lost outside a transaction. */
bool pg_ready(pg_t *p)
{
    if (PQstatus(p->conn) == CONNECTION_OK) {
        p->down = false;
        return true;
    }
    pg_flight_drop(p); /* what was in flight went with the connection */
    /* at most one attempt a second: while the server is away (a blackholed
     * address waits out connect_timeout) calls fail at once, not each after
     * an attempt of its own */
    int64_t now = clock_mono_ms();
    if (!p->in_tx && now >= p->retry_at) {
        PQreset(p->conn);
        memset(p->prepared, 0, sizeof p->prepared);
        if (PQstatus(p->conn) == CONNECTION_OK) {
            log_info("store_pg_reconnected");
            p->down = false;
            return true;
        }
        p->retry_at = clock_mono_ms() + 1000;
    }
    if (!p->down)
        pg_err(p, NULL, "connect"); /* the server is away: libpq says why */
    p->down = true;
    return false;
}

void pg_failed(pg_t *p, const PGresult *r, const char *what)
{
    if (PQstatus(p->conn) != CONNECTION_OK) {
        /* logged once per outage, with the reason */
        if (!p->down)
            pg_err(p, r, what);
        p->down = true;
    } else {
        pg_err(p, r, what);
    }
}

static PGresult *pg_checked(pg_t *p, PGresult *r, const char *what)
{
    __atomic_fetch_add(&p->trips, 1, __ATOMIC_RELAXED);
    ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
        return r;
    pg_failed(p, r, what);
    PQclear(r);
    return NULL;
}

PGresult *pg_run(pg_t *p, int i, int n, const char *const *v, const char *what)
{
    if (!pg_ready(p))
        return NULL;
    if (p->owed) /* with what the pipeline holds, in one round trip */
        return pg_flight_run(p, i, NULL, n, v, what);
    char name[16];
    snprintf(name, sizeof name, "q%d", i);
    if (!p->prepared[i]) {
        PGresult *r = pg_checked(p, PQprepare(p->conn, name, queries[i], 0, NULL), "prepare");
        if (!r)
            return NULL;
        PQclear(r);
        p->prepared[i] = true;
    }
    return pg_checked(p, PQexecPrepared(p->conn, name, n, v, NULL, NULL, 0), what);
}

PGresult *pg_query(pg_t *p, const char *sql, int n, const char *const *v, const char *what)
{
    if (!pg_ready(p))
        return NULL;
    if (p->owed && n) /* with what the pipeline holds, in one round trip */
        return pg_flight_run(p, -1, sql, n, v, what);
    /* without parameters: several statements may go at once (migrations),
     * which the pipeline cannot carry: what it holds is read first */
    if (p->owed && pg_flight_flush(p) < 0 && PQstatus(p->conn) != CONNECTION_OK)
        return NULL;
    PGresult *r = n ? PQexecParams(p->conn, sql, n, NULL, v, NULL, NULL, 0) : PQexec(p->conn, sql);
    return pg_checked(p, r, what);
}

PGresult *pg_query_bin(pg_t *p, const char *sql, int n, const char *const *v, const int *lens,
                       const int *formats, int result_format, const char *what)
{
    if (!pg_ready(p))
        return NULL;
    return pg_checked(p, PQexecParams(p->conn, sql, n, NULL, v, lens, formats, result_format), what);
}

static int cmd_rows(PGresult *r)
{
    if (!r)
        return -EIO;
    const char *t = PQcmdTuples(r);
    int rows = t && *t ? atoi(t) : 0;
    PQclear(r);
    return rows;
}

int pg_cmd(pg_t *p, int i, int n, const char *const *v, const char *what)
{
    return cmd_rows(pg_run(p, i, n, v, what));
}

int pg_cmd_sql(pg_t *p, const char *sql, int n, const char *const *v, const char *what)
{
    return cmd_rows(pg_query(p, sql, n, v, what));
}

int pg_one(const PGresult *r)
{
    return !r ? -EIO : PQntuples(r) > 0 ? 0 : -ENOENT;
}

int64_t pg_scalar(pg_t *p, const char *sql, int n, const char *const *v, bool *ok)
{
    PGresult *r = pg_query(p, sql, n, v, "query");
    if (ok)
        *ok = r != NULL;
    int64_t x = r && PQntuples(r) > 0 && !PQgetisnull(r, 0, 0) ? pg_col_i64(r, 0, 0) : -1;
    PQclear(r);
    return x;
}

const char *pg_col(const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? NULL : PQgetvalue(r, row, col);
}

int64_t pg_col_i64(const PGresult *r, int row, int col)
{
    const char *t = PQgetvalue(r, row, col);
    /* booleans (EXISTS) come as "t"/"f" */
    if (t[0] == 't' && !t[1])
        return 1;
    return strtoll(t, NULL, 10);
}

void pg_col_copy(const PGresult *r, int row, int col, char *out, size_t len)
{
    str_copy(out, len, PQgetvalue(r, row, col)); /* "" for NULL */
}

char *pg_col_dup(const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? NULL : strdup(PQgetvalue(r, row, col));
}

int pg_array_append(buf_t *b, const char *const *v, size_t n)
{
    int rc = buf_append_byte(b, '{');
    for (size_t i = 0; i < n && !rc; i++) {
        if (i)
            rc = buf_append_byte(b, ',');
        if (!v[i]) {
            rc = rc ? rc : buf_append_str(b, "NULL");
            continue;
        }
        rc = rc ? rc : buf_append_byte(b, '"');
        for (const char *c = v[i]; *c && !rc; c++) {
            if (*c == '"' || *c == '\\')
                rc = buf_append_byte(b, '\\');
            rc = rc ? rc : buf_append_byte(b, *c);
        }
        rc = rc ? rc : buf_append_byte(b, '"');
    }
    return rc ? rc : buf_append_byte(b, '}');
}

/* ---- open / close / transactions ---------------------------------------------------- */

static void pg_notice(void *arg, const char *msg)
{
    /* NOTICEs ("relation already exists, skipping") are not for the log */
    (void)arg;
    (void)msg;
}

static void pg_close(store_t *s)
{
    pg_t *p = PG(s);
    PQfinish(p->conn);
    free(p);
}

static int pg_open(const char *url, const store_opts_t *o, store_t **out)
{
    pg_t *p = calloc(1, sizeof *p);
    if (!p)
        return -ENOMEM;
    p->base.be = &store_pg_backend;
    p->base.shared = true;
    p->o = *o;
    /* A URL or a conninfo: libpq also reads PG* variables and service files.
     * The defaults before it bound how long the worker thread can wait on an
     * unreachable or silently dead server (the URL's own values win). */
    /* Likewise a lock another client holds (a DBA's LOCK TABLE, a long
     * transaction): the worker gives up after 5 s, as SQLite's busy timeout
     * does, and a statement after 60 s, so CPEs get 503 + Retry-After
     * instead of every session hanging behind it. The migrations and the
     * search index's build lift both (they may rightly take longer).
     * PGOPTIONS, when set, is the operator's and stays. */
    static const char *const keys[] = { "connect_timeout", "keepalives_idle", "keepalives_interval",
                                        "keepalives_count", "application_name", "options", "dbname",
                                        NULL };
    const char *opts = getenv("PGOPTIONS") ? NULL : "-c lock_timeout=5s -c statement_timeout=60s";
    const char *vals[] = { "10", "30", "10", "3", o->app_name ? o->app_name : "outpost", opts, url, NULL };
    p->conn = PQconnectdbParams(keys, vals, 1);
    if (!p->conn || PQstatus(p->conn) != CONNECTION_OK) {
        const char *msg = p->conn ? PQerrorMessage(p->conn) : "out of memory";
        size_t len = strlen(msg);
        while (len && msg[len - 1] == '\n')
            len--;
        log_error("store_open", LF_S("backend", "pg"), LF_SN("reason", msg, len));
        pg_close(&p->base);
        return -EIO;
    }
    PQsetNoticeProcessor(p->conn, pg_notice, NULL);
    int rc = pg_migrate(p);
    if (!rc)
        rc = pg_search_init(p);
    /* Every cached statement is prepared now, so a database whose tables
     * do not match this build stops the daemon at start with the reason. */
    for (int i = 0; !rc && i < PQ_COUNT; i++) {
        char name[16];
        snprintf(name, sizeof name, "q%d", i);
        PGresult *r = pg_checked(p, PQprepare(p->conn, name, queries[i], 0, NULL), "prepare");
        if (!r) {
            log_error("store_schema_mismatch", LF_S("backend", "pg"),
                      LF_S("reason", "the database's tables do not match this version of outpost"));
            rc = -EIO;
        }
        PQclear(r);
        p->prepared[i] = true;
    }
    if (!rc) {
        /* a tool beside the daemon keeps the daemon's value */
        pg_num_t n;
        const char *v[] = { pg_i64(&n, o->param_history) };
        rc = pg_cmd_sql(p, o->tool ? "INSERT INTO settings (k, v) VALUES ('param_history', $1)"
                                     " ON CONFLICT (k) DO NOTHING"
                                   : "INSERT INTO settings (k, v) VALUES ('param_history', $1)"
                                     " ON CONFLICT (k) DO UPDATE SET v = excluded.v",
                        1, v, "open") < 0 ? -EIO : 0;
    }
    if (rc) {
        pg_close(&p->base);
        return rc;
    }
    *out = &p->base;
    return 0;
}

/* ---- devices ---------------------------------------------------------------------- */

void pg_dev_row(const PGresult *r, int row, store_device_t *d)
{
    memset(d, 0, sizeof *d);
    pg_col_copy(r, row, 0, d->id, sizeof d->id);
    pg_col_copy(r, row, 1, d->manufacturer, sizeof d->manufacturer);
    pg_col_copy(r, row, 2, d->oui, sizeof d->oui);
    pg_col_copy(r, row, 3, d->product_class, sizeof d->product_class);
    pg_col_copy(r, row, 4, d->serial, sizeof d->serial);
    pg_col_copy(r, row, 5, d->software_version, sizeof d->software_version);
    pg_col_copy(r, row, 6, d->hardware_version, sizeof d->hardware_version);
    pg_col_copy(r, row, 7, d->ip, sizeof d->ip);
    pg_col_copy(r, row, 8, d->cr_url, sizeof d->cr_url);
    pg_col_copy(r, row, 9, d->cr_user, sizeof d->cr_user);
    pg_col_copy(r, row, 10, d->cr_pass, sizeof d->cr_pass);
    pg_col_copy(r, row, 11, d->tags, sizeof d->tags);
    d->first_seen = pg_col_i64(r, row, 12);
    d->last_inform = pg_col_i64(r, row, 13);
    d->periodic_interval = pg_col_i64(r, row, 14);
    pg_col_copy(r, row, 15, d->last_events, sizeof d->last_events);
    pg_col_copy(r, row, 16, d->cr_udp, sizeof d->cr_udp);
    d->cr_udp_at = pg_col_i64(r, row, 17);
    d->cr_nat = pg_col_i64(r, row, 18) == 1;
    pg_col_copy(r, row, 19, d->cr_jid, sizeof d->cr_jid);
}

static int pg_device_inform(store_t *s, const store_device_t *d, bool bootstrap)
{
    pg_t *p = PG(s);
    pg_num_t a, b;
    const char *v[] = { d->id, d->manufacturer, d->oui, d->product_class, d->serial,
                        d->software_version, d->hardware_version, d->ip, d->cr_url, d->cr_user,
                        d->cr_pass, d->tags, pg_i64(&a, d->last_inform),
                        pg_i64(&b, d->periodic_interval), d->last_events };
    /* nothing to read back: inside a job, both go with its next statement */
    if (pg_send(p, PQ_DEV_INFORM, 15, v, "device_inform") < 0)
        return -EIO;
    if (p->in_job)
        str_copy(p->job_dev, sizeof p->job_dev, d->id);
    if (bootstrap && pg_send(p, PQ_PARAMS_FORGET, 1, v, "params_forget") < 0)
        return -EIO;
    return 0;
}

bool pg_job_wrote_device(const pg_t *p, const char *dev)
{
    return p->in_job && p->job_rc == 0 && p->job_dev[0] && strcmp(p->job_dev, dev) == 0;
}

static int pg_device_get(store_t *s, const char *id, store_device_t *out)
{
    const char *v[] = { id };
    PGresult *r = pg_run(PG(s), PQ_DEV_GET, 1, v, "device_get");
    int rc = pg_one(r);
    if (!rc)
        pg_dev_row(r, 0, out);
    PQclear(r);
    return rc;
}

int pg_device_rid(pg_t *p, const char *dev, int64_t *rid)
{
    const char *v[] = { dev };
    PGresult *r = pg_run(p, PQ_DEV_RID, 1, v, "device_rid");
    int rc = pg_one(r);
    if (!rc)
        *rid = pg_col_i64(r, 0, 0);
    PQclear(r);
    return rc;
}

static int pg_device_delete(store_t *s, const char *id)
{
    pg_t *p = PG(s);
    const char *v[] = { id };
    p->job_dev[0] = '\0';
    /* The device row first: deleting it waits for any transaction that
     * writes its parameters (those lock the row, PQ_PARAM_PUT_MANY) to end,
     * and one that starts later finds no device. So the parameters'
     * statements below, each with a fresh snapshot, see every row written
     * for it: none is left behind keyed by a row id nobody has. And the
     * parameters' old values go with them, not into param_history
     * (migration 19). */
    PGresult *r = pg_query(p, "DELETE FROM devices WHERE id = $1 RETURNING rid", 1, v, "device_delete");
    int rc = pg_one(r);
    pg_num_t b;
    const char *rv[] = { rc ? NULL : pg_i64(&b, pg_col_i64(r, 0, 0)) };
    PQclear(r);
    if (rc < 0)
        return rc;
    if (pg_cmd_sql(p, "DELETE FROM params WHERE device = $1", 1, rv, "delete") < 0 ||
        pg_cmd_sql(p, "DELETE FROM param_history WHERE device = $1", 1, rv, "delete") < 0 ||
        pg_cmd_sql(p, "DELETE FROM tasks WHERE device_id = $1", 1, v, "delete") < 0 ||
        pg_cmd_sql(p, "DELETE FROM sessions WHERE device_id = $1", 1, v, "delete") < 0 ||
        pg_cmd_sql(p, "DELETE FROM preset_runs WHERE device_id = $1", 1, v, "delete") < 0)
        return -EIO;
    return 0;
}

static int pg_device_set_tags(store_t *s, const char *id, const char *tags)
{
    const char *v[] = { id, tags ? tags : "" };
    int rc = pg_cmd_sql(PG(s), "UPDATE devices SET tags = $2 WHERE id = $1", 2, v, "tags");
    return rc < 0 ? rc : rc == 0 ? -ENOENT : 0;
}

static int pg_device_set_cr_auth(store_t *s, const char *id, const char *user, const char *pass)
{
    const char *v[] = { id, user ? user : "", pass ? pass : "" };
    int rc = pg_cmd_sql(PG(s), "UPDATE devices SET cr_user = $2, cr_pass = $3 WHERE id = $1", 3, v,
                        "cr_auth");
    return rc < 0 ? rc : rc == 0 ? -ENOENT : 0;
}

static int pg_device_set_facts(store_t *s, const char *dev, const store_device_facts_t *f)
{
    /* NULL: not learnt, the column keeps its value */
    pg_num_t iv, at;
    const char *v[] = { dev, f->interval > 0 ? pg_i64(&iv, f->interval) : NULL,
                        f->nat >= 0 ? (f->nat > 0 ? "1" : "0") : NULL,
                        f->has_udp ? f->cr_udp : NULL,
                        f->has_udp ? pg_i64(&at, f->cr_udp_at) : NULL,
                        f->has_jid ? f->cr_jid : NULL };
    int rc = pg_cmd_sql(PG(s), "UPDATE devices SET"
                               " periodic_interval = COALESCE($2::bigint, periodic_interval),"
                               " cr_nat = COALESCE($3::int, cr_nat),"
                               " cr_udp = COALESCE($4::text, cr_udp),"
                               " cr_udp_at = COALESCE($5::bigint, cr_udp_at),"
                               " cr_jid = COALESCE($6::text, cr_jid) WHERE id = $1",
                        6, v, "device_set_facts");
    return rc < 0 ? rc : rc == 0 ? -ENOENT : 0;
}

static uint64_t pg_round_trips(const store_t *s)
{
    return __atomic_load_n(&((const pg_t *)s)->trips, __ATOMIC_RELAXED);
}

static int pg_stats(store_t *s, int64_t now, int64_t default_interval, store_stats_t *out)
{
    pg_t *p = PG(s);
    pg_num_t a, b;
    const char *v[] = { pg_i64(&a, now), pg_i64(&b, default_interval) };
    PGresult *r = pg_query(p, "SELECT (SELECT COUNT(*) FROM devices),"
                              " (SELECT COUNT(*) FROM devices WHERE last_inform >= $1::bigint - (2 * (CASE"
                              "  WHEN periodic_interval > 0 THEN periodic_interval ELSE $2::bigint END) + 60)),"
                              " (SELECT COUNT(*) FROM tasks WHERE status = 0),"
                              " (SELECT COUNT(*) FROM tasks WHERE status = 1)",
                           2, v, "stats");
    if (!r)
        return -EIO;
    out->total_devices = pg_col_i64(r, 0, 0);
    out->online_devices = pg_col_i64(r, 0, 1);
    out->pending_tasks = pg_col_i64(r, 0, 2);
    out->sent_tasks = pg_col_i64(r, 0, 3);
    PQclear(r);
    return 0;
}

static int pg_device_counts(store_t *s, store_by_t by, int64_t limit, store_count_fn fn, void *ud,
                            int64_t *others)
{
    PGresult *r = pg_query(PG(s), by == STORE_BY_VERSION
                                      ? "SELECT software_version, COUNT(*) AS n FROM devices"
                                        " GROUP BY software_version ORDER BY n DESC, software_version"
                                      : "SELECT product_class, COUNT(*) AS n FROM devices"
                                        " GROUP BY product_class ORDER BY n DESC, product_class",
                           0, NULL, "device_counts");
    if (!r)
        return -EIO;
    int64_t rest = 0;
    bool stop = false;
    for (int i = 0; i < PQntuples(r); i++) {
        int64_t n = pg_col_i64(r, i, 1);
        if (i < limit && !stop)
            stop = fn(PQgetvalue(r, i, 0), n, ud) != 0;
        else
            rest += n;
    }
    PQclear(r);
    if (others)
        *others = rest;
    return 0;
}

const store_backend_t store_pg_backend = {
    .name = "pg",
    .open = pg_open,
    .close = pg_close,
    .exec_tx = pg_tx,
    .schema_version = pg_schema_version,
    .round_trips = pg_round_trips,
    .device_inform = pg_device_inform,
    .device_get = pg_device_get,
    .device_delete = pg_device_delete,
    .device_set_tags = pg_device_set_tags,
    .device_set_cr_auth = pg_device_set_cr_auth,
    .stats = pg_stats,
    .device_counts = pg_device_counts,
    .task_open_counts = pg_task_open_counts,
    .task_finished_counts = pg_task_finished_counts,
    .params_put = pg_params_put,
    .params_list = pg_params_list,
    .param_history = pg_param_history,
    .task_add = pg_task_add,
    .task_get = pg_task_get,
    .task_outcome = pg_task_outcome,
    .task_list = pg_task_list,
    .task_query = pg_task_query,
    .task_has_pending = pg_task_has_pending,
    .task_mark_sent = pg_task_mark_sent,
    .task_finish = pg_task_finish,
    .task_cancel = pg_task_cancel,
    .task_requeue = pg_task_requeue,
    .task_set_cr = pg_task_set_cr,
    .task_recover = pg_task_recover,
    .task_lease_renew = pg_task_lease_renew,
    .try_leader = pg_try_leader,
    .notify = pg_notify,
    .watch_set = pg_watch_set,
    .watched = pg_watched,
    .task_expire = pg_task_expire,
    .task_trim = pg_task_trim,
    .task_devices_pending = pg_task_devices_pending,
    .session_add = pg_session_add,
    .session_list = pg_session_list,
    .preset_write = pg_preset_write,
    .preset_get = pg_preset_get,
    .preset_list = pg_preset_list,
    .preset_delete = pg_preset_delete,
    .preset_sync_config = pg_preset_sync_config,
    .script_put = pg_script_put,
    .script_get = pg_script_get,
    .script_list = pg_script_list,
    .script_delete = pg_script_delete,
    .preset_run_put = pg_preset_run_put,
    .preset_run_list = pg_preset_run_list,
    .preset_run_clear_fault = pg_preset_run_clear_fault,
    .preset_run_owed = pg_preset_run_owed,
    .key_add = pg_key_add,
    .key_delete = pg_key_delete,
    .key_list = pg_key_list,
    .key_touch = pg_key_touch,
    .key_version = pg_key_version,
    .hook_enqueue = pg_hook_enqueue,
    .hook_claim = pg_hook_claim,
    .hook_result = pg_hook_result,
    .hook_list = pg_hook_list,
    .hook_retry = pg_hook_retry,
    .hook_counts = pg_hook_counts,
    .hook_release_leases = pg_hook_release_leases,
    .hook_offline_sweep = pg_hook_offline_sweep,
    .hook_prune = pg_hook_prune,
    .params_set_attributes = pg_params_set_attributes,
    .params_delete_object = pg_params_delete_object,
    .device_set_facts = pg_device_set_facts,
    .fault_list = pg_fault_list,
    .task_fault_clear = pg_task_fault_clear,
    .preset_run_forget_fault = pg_preset_run_forget_fault,
    .device_set_session_log = pg_device_set_session_log,
    .device_session_log_list = pg_device_session_log_list,
    .file_put = pg_file_put,
    .file_get = pg_file_get,
    .file_list = pg_file_list,
    .file_delete = pg_file_delete,
    .file_content_put = pg_file_content_put,
    .file_content_get = pg_file_content_get,
    .file_content_has = pg_file_content_has,
    .file_upload_key = pg_file_upload_key,
    .device_search = pg_device_search,
    .search_params_set = pg_search_params_set,
    .bulk_create = pg_bulk_create,
    .bulk_get = pg_bulk_get,
    .bulk_tasks = pg_bulk_tasks,
    .bulk_running = pg_bulk_running,
    .bulk_list = pg_bulk_list,
    .bulk_release = pg_bulk_release,
    .bulk_rehold = pg_bulk_rehold,
    .bulk_end = pg_bulk_end,
};
