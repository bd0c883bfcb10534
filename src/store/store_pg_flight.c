/*
 * store_pg_flight: the PostgreSQL backend's transactions and its pipeline
 * (libpq's pipeline mode). Inside the store worker's batch, what the code
 * does not need an answer to before going on is not waited for: BEGIN, a
 * job's SAVEPOINT, RELEASE and ROLLBACK TO, and the writes sent with
 * pg_send(). They are queued on the connection (the "flight") and travel
 * with the next statement whose result is wanted, in one round trip; their
 * answers are read then, in order. A job of the ACS's Inform (a device
 * row, its parameters, "any task?") is one round trip instead of five.
 *
 * The outcomes are those of one statement at a time:
 * - a queued statement that fails aborts the rest of its flight (the
 *   server skips to the sync): the statement whose result was wanted fails
 *   too (-EIO to its caller), as it would have on the aborted transaction;
 * - a job whose queued write failed fails (pg_tx's release returns -EIO,
 *   the worker rolls the job back to its savepoint) even if its function
 *   never saw the failure; so does a job that leaves its transaction
 *   aborted (a failure it ignored), instead of poisoning the batch's next
 *   jobs;
 * - a job's queued writes are read before the job ends (one round trip,
 *   with its RELEASE), so a failure is never found in the next job's flight.
 * A lost connection drops the flight; the batch then fails as before
 * (-ENOTCONN at its commit) and the next one reconnects.
 *
 * The connection stays in blocking mode: a flight is a few small
 * statements (a 5,000-parameter list is ten) and the server's answers to
 * queued writes are a few bytes each, so neither side can fill the other's
 * socket buffer while it writes.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "core/log.h"
#include "store/store_pg.h"

void pg_flight_drop(pg_t *p)
{
    p->owed = 0;
    p->job_owed = 0;
    if (PQpipelineStatus(p->conn) != PQ_PIPELINE_OFF)
        (void)PQexitPipelineMode(p->conn); /* allowed once the connection is gone */
}

static bool ok_status(ExecStatusType st)
{
    return st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
}

/* Read the flight's answers up to its sync. Each failure is logged (a
 * statement the pipeline skipped after it is not: it did not run); a
 * failed job's write fails the job. With `want`, the last statement's
 * result is returned when it succeeded. *failed: some statement failed. */
static PGresult *flight_read(pg_t *p, bool want, bool *failed)
{
    __atomic_fetch_add(&p->trips, 1, __ATOMIC_RELAXED);
    PGresult *keep = NULL;
    int n = p->owed;
    *failed = false;
    if (!PQpipelineSync(p->conn)) {
        pg_failed(p, NULL, n ? p->sent[n - 1].what : "transaction");
        *failed = true;
        p->job_rc = p->in_job ? -EIO : p->job_rc;
        pg_flight_drop(p);
        return NULL;
    }
    bool lost = false;
    for (int k = 0; k < n && !lost; k++) {
        const pg_sent_t *e = &p->sent[k];
        PGresult *r = PQgetResult(p->conn);
        ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
        if (!ok_status(st)) {
            *failed = true;
            if (st != PGRES_PIPELINE_ABORTED)
                pg_failed(p, r, e->what);
            if (e->prep >= 0)
                p->prepared[e->prep] = false;
            /* a queued write: the job's function was told 0, its end
             * fails it (a statement it waited for told it -EIO itself; a
             * failure it went on from shows as an aborted transaction) */
            if (e->job)
                p->job_rc = -EIO;
        }
        if (want && k == n - 1 && ok_status(st))
            keep = r;
        else
            PQclear(r);
        if (!r || PQstatus(p->conn) != CONNECTION_OK) {
            lost = true;
            break;
        }
        /* the NULL that ends this statement's answer */
        while ((r = PQgetResult(p->conn)) != NULL) {
            PQclear(r);
            if (PQstatus(p->conn) != CONNECTION_OK) {
                lost = true;
                break;
            }
        }
    }
    if (!lost) {
        PGresult *r = PQgetResult(p->conn);
        lost = !r || PQresultStatus(r) != PGRES_PIPELINE_SYNC;
        PQclear(r);
    }
    if (lost) {
        *failed = true;
        if (p->in_job)
            p->job_rc = -EIO;
        PQclear(keep);
        keep = NULL;
        if (PQstatus(p->conn) == CONNECTION_OK) {
            /* out of step with the server (not seen: a guard): the
             * connection is dropped as if lost, so the batch fails whole
             * and the next one starts afresh */
            pg_failed(p, NULL, "pipeline");
            (void)shutdown(PQsocket(p->conn), SHUT_RDWR);
            (void)PQconsumeInput(p->conn);
        }
        pg_flight_drop(p);
        return NULL;
    }
    p->owed = 0;
    p->job_owed = 0;
    (void)PQexitPipelineMode(p->conn);
    return keep;
}

/* Queue cached statement i (or sql when i < 0) on the flight. */
static int flight_send(pg_t *p, int i, const char *sql, int n, const char *const *v,
                       const char *what, bool job)
{
    bool failed;
    if (p->owed + 2 > PG_FLIGHT_MAX)
        (void)flight_read(p, false, &failed);
    if (PQstatus(p->conn) != CONNECTION_OK || (job && p->job_rc < 0))
        return -EIO; /* a job that failed on the way: it will be rolled back */
    if (PQpipelineStatus(p->conn) == PQ_PIPELINE_OFF && !PQenterPipelineMode(p->conn)) {
        pg_failed(p, NULL, what);
        return -EIO;
    }
    char name[16];
    if (i >= 0) {
        snprintf(name, sizeof name, "q%d", i);
        if (!p->prepared[i]) { /* a fresh connection: prepared in the same flight */
            if (!PQsendPrepare(p->conn, name, pg_sql(i), 0, NULL))
                goto fail;
            p->sent[p->owed++] = (pg_sent_t){ .what = "prepare", .prep = (int16_t)i, .job = job };
            p->prepared[i] = true;
        }
    }
    if (!(i >= 0 ? PQsendQueryPrepared(p->conn, name, n, v, NULL, NULL, 0)
                 : PQsendQueryParams(p->conn, sql, n, NULL, v, NULL, NULL, 0)))
        goto fail;
    p->sent[p->owed++] = (pg_sent_t){ .what = what, .prep = -1, .job = job };
    if (job)
        p->job_owed++;
    return 0;
fail:
    pg_failed(p, NULL, what);
    if (PQstatus(p->conn) != CONNECTION_OK)
        pg_flight_drop(p);
    return -EIO;
}

PGresult *pg_flight_run(pg_t *p, int i, const char *sql, int n, const char *const *v,
                        const char *what)
{
    bool failed;
    if (flight_send(p, i, sql, n, v, what, false) < 0) {
        if (p->owed)
            (void)flight_read(p, false, &failed);
        return NULL;
    }
    return flight_read(p, true, &failed);
}

int pg_flight_flush(pg_t *p)
{
    bool failed = false;
    if (p->owed)
        (void)flight_read(p, false, &failed);
    return failed ? -EIO : 0;
}

int pg_send(pg_t *p, int i, int n, const char *const *v, const char *what)
{
    if (!p->in_job) {
        PGresult *r = pg_run(p, i, n, v, what);
        PQclear(r);
        return r ? 0 : -EIO;
    }
    if (p->job_rc < 0 || !pg_ready(p))
        return -EIO; /* the job failed already: it will be rolled back */
    return flight_send(p, i, NULL, n, v, what, true);
}

/* A transaction control statement queued (the next round trip carries it). */
static int tx_send(pg_t *p, int i)
{
    return flight_send(p, i, NULL, 0, NULL, "transaction", false);
}

/* One sent and waited for, with what the flight holds: 0, -ENOTCONN (the
 * server is away: not this batch's fault, callers say "retry later") or -EIO. */
static int tx_run(pg_t *p, int i, bool *rolled_back)
{
    PGresult *r = pg_ready(p) ? pg_flight_run(p, i, NULL, 0, NULL, "transaction") : NULL;
    if (!r)
        return pg_gone(p) ? -ENOTCONN : -EIO;
    /* COMMIT of a transaction an error aborted reports ROLLBACK: it failed */
    *rolled_back = strcmp(PQcmdStatus(r), "ROLLBACK") == 0 && i == PQ_TX_COMMIT;
    PQclear(r);
    return 0;
}

bool pg_gone(pg_t *p)
{
    /* a shutdown's FATAL comes before the EOF that marks the connection
     * bad, in the same read or not: read what is there (no wait), twice */
    for (int i = 0; i < 2 && PQstatus(p->conn) == CONNECTION_OK && !p->owed; i++)
        if (!PQconsumeInput(p->conn))
            break;
    return PQstatus(p->conn) != CONNECTION_OK;
}

static int tx_begin(pg_t *p)
{
    p->in_tx = false;
    p->in_job = false;
    /* A server that went away while the connection idled has already said
     * so on the socket: read it (no wait), so this begin reconnects now
     * rather than failing the batch. */
    (void)pg_gone(p);
    if (!pg_ready(p))
        return -ENOTCONN;
    if (tx_send(p, PQ_TX_BEGIN) < 0)
        return pg_gone(p) ? -ENOTCONN : -EIO;
    p->in_tx = true;
    return 0;
}

static int tx_commit(pg_t *p)
{
    bool rolled_back = false;
    int rc = tx_run(p, PQ_TX_COMMIT, &rolled_back);
    p->in_tx = false; /* a failed one: the caller's rollback ends it on the server */
    if (rc == 0 && !rolled_back)
        return 0;
    if (pg_gone(p))
        return -ENOTCONN;
    if (rc == 0) /* an error the flight did not show: the server's word */
        log_error("store_pg", LF_S("op", "transaction"), LF_S("reason", "commit rolled back"));
    return -EIO;
}

static int tx_rollback(pg_t *p)
{
    bool rolled_back;
    p->in_tx = false;
    int rc = tx_run(p, PQ_TX_ROLLBACK, &rolled_back);
    /* skipped by the pipeline after a queued statement failed: again, alone */
    if (rc == -EIO && PQstatus(p->conn) == CONNECTION_OK &&
        PQtransactionStatus(p->conn) != PQTRANS_IDLE)
        rc = tx_run(p, PQ_TX_ROLLBACK, &rolled_back);
    return rc;
}

/* The job's end: 0, its RELEASE queued; or -EIO when it must be rolled
 * back after all. Its queued writes are read now, with the RELEASE (one
 * round trip): should one have failed, the pipeline skipped the RELEASE
 * and the savepoint is there to roll back to. */
static int job_release(pg_t *p)
{
    if (p->job_rc == 0 && p->job_owed) {
        if (tx_send(p, PQ_TX_RELEASE) == 0)
            (void)pg_flight_flush(p); /* a failure sets job_rc */
        else
            p->job_rc = -EIO;
        p->in_job = false;
        return p->job_rc;
    }
    p->in_job = false;
    if (p->job_rc < 0)
        return p->job_rc;
    /* an error the job's function saw and went on from: its transaction is
     * aborted (known after a sync: nothing queued since) and only a
     * rollback to the savepoint ends that; released, it would fail the
     * batch's next jobs and its commit */
    if (!p->owed && PQtransactionStatus(p->conn) == PQTRANS_INERROR) {
        log_warn("store_pg_job_aborted",
                 LF_S("reason", "a statement of the job failed: the job is rolled back"));
        return -EIO;
    }
    return tx_send(p, PQ_TX_RELEASE) < 0 ? -EIO : 0;
}

static int job_rollback(pg_t *p)
{
    /* queued writes first: should one fail, the pipeline would skip the
     * ROLLBACK TO that follows it */
    if (p->job_owed)
        (void)pg_flight_flush(p);
    p->in_job = false;
    if (tx_send(p, PQ_TX_ROLLBACK_TO) < 0 || tx_send(p, PQ_TX_RELEASE) < 0)
        return -EIO;
    return 0;
}

int pg_tx(store_t *s, int what)
{
    pg_t *p = PG(s);
    if (what < 0 || what > 5)
        return -EINVAL;
    bool lost = PQstatus(p->conn) != CONNECTION_OK;
    if ((what == 1 || what == 2) && lost && p->in_tx) {
        /* the transaction died with the connection: a commit fails, a
         * rollback has nothing left to undo; the next begin reconnects */
        p->in_tx = false;
        p->in_job = false;
        pg_flight_drop(p);
        if (what == 1)
            log_error("store_pg", LF_S("op", "transaction"),
                      LF_S("reason", "connection lost: the transaction is rolled back"));
        return what == 1 ? -ENOTCONN : 0;
    }
    switch (what) {
    case 0:
        if (p->in_tx && !lost) {
            /* as SQLite: no transaction inside another */
            log_error("store_pg", LF_S("op", "transaction"),
                      LF_S("reason", "a transaction is already open"));
            return -EIO;
        }
        return tx_begin(p);
    case 1:
        p->in_job = false;
        return tx_commit(p);
    case 2:
        p->in_job = false;
        return tx_rollback(p);
    case 3:
        if (lost || !p->in_tx)
            return -EIO;
        p->in_job = true;
        p->job_rc = 0;
        p->job_owed = 0;
        p->job_dev[0] = '\0';
        if (tx_send(p, PQ_TX_SAVEPOINT) < 0) {
            p->in_job = false;
            return -EIO;
        }
        return 0;
    case 4:
        return job_release(p);
    default:
        return job_rollback(p);
    }
}
