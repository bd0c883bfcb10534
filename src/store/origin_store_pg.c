/*
 * origin_store_pg: PostgreSQL backend of the cwmp-proxy's origin map
 * (origin_store.h), for several proxies sharing one map: a wake-up relayed
 * by any proxy reaches a CPE that informed through another.
 *
 * The same rows and semantics as the SQLite file (origin_store.c): table
 * cwmp_proxy_origins, created under an advisory lock so proxies starting
 * together do not race; its version in cwmp_proxy_origins_meta. It may live
 * in the ACS's database (its own table names) or in a database of its own.
 *
 * libpq is synchronous: the proxy calls this from a worker thread only
 * (cwmp_proxy/origins_sync.c), never from its event loop, except at start
 * (the first load) and at exit (the last batch). A lost connection is reset
 * at the next call; the batch that failed is dropped (logged), as with the
 * SQLite file: each device's next Inform writes its origin again.
 */
#include "store/origin_store_pg.h"

#include <errno.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"

/* pg_advisory_xact_lock key: distinct from the ACS store's schema lock */
#define ORIGIN_PG_LOCK "31372865377891189"
enum { ORIGIN_PG_VERSION = 1 };

#define T "TEXT COLLATE \"C\""
static const char *const schema_v1 =
    "CREATE TABLE cwmp_proxy_origins ("
    "  origin " T " PRIMARY KEY, device " T " NOT NULL DEFAULT '', seen BIGINT NOT NULL,"
    "  written BIGINT NOT NULL DEFAULT 0);"
    "CREATE INDEX cwmp_proxy_origins_device ON cwmp_proxy_origins(device) WHERE device <> '';"
    "CREATE INDEX cwmp_proxy_origins_seen ON cwmp_proxy_origins(seen);"
    "CREATE INDEX cwmp_proxy_origins_written ON cwmp_proxy_origins(written);";

enum { Q_DROP_OTHERS, Q_UPSERT, Q_COUNT };
static const char *const queries[Q_COUNT] = {
    [Q_DROP_OTHERS] = "DELETE FROM cwmp_proxy_origins WHERE device = $1 AND device <> ''"
                      " AND origin <> $2",
    /* written: the server's clock, so readers on other proxies need not
     * trust this proxy's clock, and a batch retried late still shows */
    [Q_UPSERT] = "INSERT INTO cwmp_proxy_origins AS o (origin, device, seen, written)"
                 " VALUES ($2, $1, $3, extract(epoch FROM clock_timestamp())::bigint)"
                 " ON CONFLICT (origin) DO UPDATE SET"
                 " device = CASE WHEN excluded.device <> '' THEN excluded.device ELSE o.device END,"
                 " seen = greatest(o.seen, excluded.seen), written = excluded.written",
};

struct origin_pg {
    PGconn *conn;
    bool prepared; /* queries[] on this connection */
    bool down;     /* the connection is lost (logged once until it is back) */
};

static void pg_error(origin_pg_t *p, const char *op, const PGresult *r)
{
    const char *msg = r ? PQresultErrorMessage(r) : "";
    if (!msg || !*msg)
        msg = PQerrorMessage(p->conn);
    size_t len = strlen(msg);
    while (len && msg[len - 1] == '\n')
        len--;
    log_error("origin_store_error", LF_S("backend", "pg"), LF_S("op", op), LF_SN("reason", msg, len));
    if (PQstatus(p->conn) != CONNECTION_OK)
        p->down = true; /* said once; ready() says when it is back */
}

/* A result of the expected status, or NULL (logged, cleared). */
static PGresult *checked(origin_pg_t *p, PGresult *r, ExecStatusType want, const char *op)
{
    if (r && PQresultStatus(r) == want)
        return r;
    pg_error(p, op, r);
    PQclear(r);
    return NULL;
}

/* A statement whose rows, if any, do not matter. 0 or -EIO (logged). */
static int cmd(origin_pg_t *p, const char *sql, const char *op)
{
    PGresult *r = PQexec(p->conn, sql);
    ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        pg_error(p, op, r);
        PQclear(r);
        return -EIO;
    }
    PQclear(r);
    return 0;
}

static void notice(void *arg, const char *msg)
{
    (void)arg; /* "relation already exists, skipping" is not for the log */
    (void)msg;
}

static int migrate(origin_pg_t *p)
{
    if (cmd(p, "BEGIN", "migrate"))
        return -EIO;
    int rc = cmd(p, "SELECT pg_advisory_xact_lock(" ORIGIN_PG_LOCK ")", "migrate") ||
                     cmd(p, "CREATE TABLE IF NOT EXISTS cwmp_proxy_origins_meta"
                            " (k " T " PRIMARY KEY, v BIGINT NOT NULL)", "migrate")
                 ? -EIO
                 : 0;
    int64_t v = 0;
    if (!rc) {
        PGresult *r = checked(p, PQexec(p->conn, "SELECT v FROM cwmp_proxy_origins_meta"
                                                 " WHERE k = 'version'"),
                              PGRES_TUPLES_OK, "migrate");
        if (!r)
            rc = -EIO;
        else if (PQntuples(r) == 1)
            v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
        PQclear(r);
    }
    if (!rc && v > ORIGIN_PG_VERSION) {
        log_error("origin_store_error", LF_S("backend", "pg"),
                  LF_S("reason", "written by a newer version"), LF_I("version", v));
        rc = -EPROTO;
    }
    if (!rc && v < 1 &&
        (cmd(p, schema_v1, "migrate") ||
         cmd(p, "INSERT INTO cwmp_proxy_origins_meta (k, v) VALUES ('version', 1)", "migrate")))
        rc = -EIO;
    if (rc) {
        cmd(p, "ROLLBACK", "migrate");
        return rc;
    }
    return cmd(p, "COMMIT", "migrate");
}

/* The connection usable for a call: reset when it was lost, queries
 * prepared. 0 or -EIO. */
static int ready(origin_pg_t *p)
{
    if (PQstatus(p->conn) != CONNECTION_OK) {
        PQreset(p->conn);
        p->prepared = false;
        if (PQstatus(p->conn) != CONNECTION_OK) {
            if (!p->down)
                pg_error(p, "reconnect", NULL);
            p->down = true;
            return -EIO;
        }
        if (p->down)
            log_info("origin_store_reconnected", LF_S("backend", "pg"));
        p->down = false;
    }
    for (int i = 0; !p->prepared && i < Q_COUNT; i++) {
        char name[16];
        snprintf(name, sizeof name, "o%d", i);
        PGresult *r = checked(p, PQprepare(p->conn, name, queries[i], 0, NULL), PGRES_COMMAND_OK,
                              "prepare");
        PQclear(r);
        if (!r)
            return -EIO;
    }
    p->prepared = true;
    return 0;
}

void origin_pg_close(origin_pg_t *p)
{
    if (!p)
        return;
    PQfinish(p->conn);
    free(p);
}

int origin_pg_open(const char *url, origin_pg_t **out)
{
    origin_pg_t *p = calloc(1, sizeof *p);
    if (!p)
        return -ENOMEM;
    /* As the ACS store (store_pg.c): bounded waits on an unreachable or
     * silently dead server; the URL's own values win. */
    static const char *const keys[] = { "connect_timeout", "keepalives_idle", "keepalives_interval",
                                        "keepalives_count", "application_name", "dbname", NULL };
    const char *vals[] = { "10", "30", "10", "3", "outpost-cwmp-proxy", url, NULL };
    p->conn = PQconnectdbParams(keys, vals, 1);
    if (!p->conn || PQstatus(p->conn) != CONNECTION_OK) {
        if (p->conn)
            pg_error(p, "open", NULL);
        else
            log_error("origin_store_error", LF_S("backend", "pg"), LF_S("op", "open"),
                      LF_S("reason", "out of memory"));
        origin_pg_close(p);
        return -EIO;
    }
    PQsetNoticeProcessor(p->conn, notice, NULL);
    int rc = migrate(p);
    if (!rc)
        rc = ready(p);
    if (rc) {
        origin_pg_close(p);
        return rc;
    }
    *out = p;
    return 0;
}

static int exec_prepared(origin_pg_t *p, int q, int n, const char *const *v)
{
    char name[16];
    snprintf(name, sizeof name, "o%d", q);
    PGresult *r = checked(p, PQexecPrepared(p->conn, name, n, v, NULL, NULL, 0), PGRES_COMMAND_OK,
                          "put");
    PQclear(r);
    return r ? 0 : -EIO;
}

int origin_pg_put(origin_pg_t *p, const origin_rec_t *recs, size_t n)
{
    if (n == 0)
        return 0;
    if (ready(p) || cmd(p, "BEGIN", "put"))
        return -EIO;
    for (size_t i = 0; i < n; i++) {
        const char *dev = recs[i].device ? recs[i].device : "";
        char seen[24];
        snprintf(seen, sizeof seen, "%" PRId64, recs[i].seen_s);
        const char *v[] = { dev, recs[i].origin, seen };
        if ((dev[0] && exec_prepared(p, Q_DROP_OTHERS, 2, v)) || exec_prepared(p, Q_UPSERT, 3, v)) {
            if (PQstatus(p->conn) == CONNECTION_OK)
                cmd(p, "ROLLBACK", "put");
            return -EIO;
        }
    }
    return cmd(p, "COMMIT", "put");
}

int origin_pg_load(origin_pg_t *p, int64_t since_s, size_t limit, origin_store_row_fn fn, void *ud,
                   int64_t *now_s)
{
    if (ready(p))
        return -EIO;
    char since[24], lim[24];
    snprintf(since, sizeof since, "%" PRId64, since_s);
    snprintf(lim, sizeof lim, "%zu", limit);
    const char *v[] = { since, lim };
    /* the server's clock comes back with the rows; a row written before
     * it but committed after this statement's snapshot has a `written`
     * within the look-back the caller subtracts for its next read */
    PGresult *r = checked(p,
                          PQexecParams(p->conn,
                                       limit ? "SELECT origin, device, seen, written,"
                                               " extract(epoch FROM clock_timestamp())::bigint"
                                               " FROM cwmp_proxy_origins"
                                               " WHERE written >= $1 ORDER BY written LIMIT $2"
                                             : "SELECT origin, device, seen, written,"
                                               " extract(epoch FROM clock_timestamp())::bigint"
                                               " FROM cwmp_proxy_origins WHERE written >= $1",
                                       limit ? 2 : 1, NULL, v, NULL, NULL, 0),
                          PGRES_TUPLES_OK, "load");
    if (!r)
        return -EIO;
    int ret = 0, rows = PQntuples(r);
    for (int i = 0; i < rows && ret == 0; i++) {
        origin_rec_t rec = { .origin = PQgetvalue(r, i, 0), .device = PQgetvalue(r, i, 1),
                             .seen_s = strtoll(PQgetvalue(r, i, 2), NULL, 10),
                             .written_s = strtoll(PQgetvalue(r, i, 3), NULL, 10) };
        ret = fn(ud, &rec);
    }
    if (now_s) {
        *now_s = 0;
        if (rows)
            *now_s = strtoll(PQgetvalue(r, 0, 4), NULL, 10);
    }
    PQclear(r);
    if (ret == 0 && now_s && !rows) {
        /* no row to carry the clock: ask for it alone */
        PGresult *c = checked(p, PQexec(p->conn, "SELECT extract(epoch FROM clock_timestamp())::bigint"),
                              PGRES_TUPLES_OK, "load");
        if (!c)
            return -EIO;
        *now_s = strtoll(PQgetvalue(c, 0, 0), NULL, 10);
        PQclear(c);
    }
    return ret;
}

static int delete_where(origin_pg_t *p, const char *sql, const char *arg, size_t *removed)
{
    if (ready(p))
        return -EIO;
    const char *v[] = { arg };
    PGresult *r = checked(p, PQexecParams(p->conn, sql, 1, NULL, v, NULL, NULL, 0),
                          PGRES_COMMAND_OK, "delete");
    if (!r)
        return -EIO;
    if (removed)
        *removed = (size_t)strtoull(PQcmdTuples(r), NULL, 10);
    PQclear(r);
    return 0;
}

int origin_pg_expire(origin_pg_t *p, int64_t before_s, size_t *removed)
{
    char b[24];
    snprintf(b, sizeof b, "%" PRId64, before_s);
    return delete_where(p, "DELETE FROM cwmp_proxy_origins WHERE seen < $1", b, removed);
}

int origin_pg_delete(origin_pg_t *p, const char *origin)
{
    return delete_where(p, "DELETE FROM cwmp_proxy_origins WHERE origin = $1", origin,
                                  NULL);
}
