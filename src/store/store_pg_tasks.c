/*
 * store_pg_tasks: the PostgreSQL backend's task queue and session rows
 * (the SQLite backend's store_sqlite_tasks.c, call for call). Transitions
 * are single guarded UPDATEs (WHERE status IN ...), so a task can never
 * move twice, whoever asks.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/str.h"
#include "store/store_pg.h"

/* ---- tasks ---------------------------------------------------------------------- */

void pg_task_row(const PGresult *r, int row, store_task_t *t)
{
    memset(t, 0, sizeof *t);
    t->id = pg_col_i64(r, row, 0);
    pg_col_copy(r, row, 1, t->device_id, sizeof t->device_id);
    pg_col_copy(r, row, 2, t->type, sizeof t->type);
    t->params = pg_col_dup(r, row, 3);
    t->status = (store_task_status_t)pg_col_i64(r, row, 4);
    t->result = pg_col_dup(r, row, 5);
    t->fault_code = (int)pg_col_i64(r, row, 6);
    pg_col_copy(r, row, 7, t->fault_string, sizeof t->fault_string);
    t->attempts = (int)pg_col_i64(r, row, 8);
    t->created = pg_col_i64(r, row, 9);
    t->updated = pg_col_i64(r, row, 10);
    t->sent_at = pg_col_i64(r, row, 11);
    t->done_at = pg_col_i64(r, row, 12);
    t->expires_at = pg_col_i64(r, row, 13);
    pg_col_copy(r, row, 14, t->cr.status, sizeof t->cr.status);
    pg_col_copy(r, row, 15, t->cr.reason, sizeof t->cr.reason);
    t->cr.at = pg_col_i64(r, row, 16);
}

int pg_task_rows(const PGresult *r, store_task_fn fn, void *ud)
{
    for (int i = 0; i < PQntuples(r); i++) {
        store_task_t t;
        pg_task_row(r, i, &t);
        int stop = fn(&t, ud);
        store_task_clear(&t);
        if (stop)
            break;
    }
    return 0;
}

/* Run a SELECT PG_TASK_COLS (cached when i >= 0) and hand its rows to fn. */
static int task_select(pg_t *p, int i, const char *sql, int n, const char *const *v,
                       store_task_fn fn, void *ud, const char *what)
{
    PGresult *r = i >= 0 ? pg_run(p, i, n, v, what) : pg_query(p, sql, n, v, what);
    if (!r)
        return -EIO;
    int rc = pg_task_rows(r, fn, ud);
    PQclear(r);
    return rc;
}

int pg_task_add(store_t *s, store_task_t *t)
{
    pg_num_t a, b;
    const char *v[] = { t->device_id, t->type, t->params ? t->params : "{}",
                        pg_i64(&a, t->created), pg_i64(&b, t->expires_at) };
    PGresult *r = pg_run(PG(s), PQ_TASK_ADD, 5, v, "task_add");
    if (!r)
        return -EIO;
    t->id = pg_col_i64(r, 0, 0);
    PQclear(r);
    t->status = STORE_TASK_PENDING;
    t->updated = t->created;
    return 0;
}

int pg_task_get(store_t *s, int64_t id, store_task_t *out)
{
    pg_num_t a;
    const char *v[] = { pg_i64(&a, id) };
    PGresult *r = pg_run(PG(s), PQ_TASK_GET, 1, v, "task_get");
    int rc = pg_one(r);
    if (!rc)
        pg_task_row(r, 0, out);
    PQclear(r);
    return rc;
}

int pg_task_outcome(store_t *s, int64_t id, store_task_t *out)
{
    pg_num_t a;
    const char *v[] = { pg_i64(&a, id) };
    PGresult *r = pg_run(PG(s), PQ_TASK_OUTCOME, 1, v, "task_outcome");
    int rc = pg_one(r);
    if (!rc) {
        memset(out, 0, sizeof *out);
        out->id = pg_col_i64(r, 0, 0);
        pg_col_copy(r, 0, 1, out->device_id, sizeof out->device_id);
        pg_col_copy(r, 0, 2, out->type, sizeof out->type);
        out->status = (store_task_status_t)pg_col_i64(r, 0, 3);
        out->fault_code = (int)pg_col_i64(r, 0, 4);
        pg_col_copy(r, 0, 5, out->fault_string, sizeof out->fault_string);
    }
    PQclear(r);
    return rc;
}

int pg_task_list(store_t *s, const char *dev, int64_t limit, bool pending_only, store_task_fn fn,
                 void *ud)
{
    pg_num_t a;
    const char *v[] = { dev, pg_i64(&a, limit > 0 ? limit : 100) };
    /* The pending query runs for every Inform: keep it prepared. */
    return task_select(PG(s), pending_only ? PQ_TASK_PENDING : -1,
                       "SELECT " PG_TASK_COLS " FROM tasks WHERE device_id = $1"
                       " ORDER BY id DESC LIMIT $2",
                       2, v, fn, ud, "task_list");
}

/* Tasks across the fleet. The WHERE is put together from fixed fragments,
 * one per condition given (every value a parameter), so each shape gets
 * its own plan. */
int pg_task_query(store_t *s, const store_task_query_t *tq, store_task_fn fn, void *ud)
{
    char sql[512];
    const char *v[5];
    pg_num_t a, b, c, d;
    int n = 0;
    v[n++] = pg_i64(&a, tq->before > 0 ? tq->before : INT64_MAX);
    size_t len = (size_t)snprintf(sql, sizeof sql, "SELECT " PG_TASK_COLS " FROM tasks WHERE id < $1");
    if (tq->device) {
        v[n++] = tq->device;
        len += (size_t)snprintf(sql + len, sizeof sql - len, " AND device_id = $%d", n);
    }
    if (tq->status >= 0) {
        v[n++] = pg_i64(&b, tq->status);
        len += (size_t)snprintf(sql + len, sizeof sql - len, " AND status = $%d", n);
    }
    if (tq->bulk > 0) { /* the literal bulk > 0 matches the partial index */
        v[n++] = pg_i64(&c, tq->bulk);
        len += (size_t)snprintf(sql + len, sizeof sql - len, " AND bulk = $%d AND bulk > 0", n);
    }
    v[n++] = pg_i64(&d, tq->limit > 0 ? tq->limit : 100);
    snprintf(sql + len, sizeof sql - len, " ORDER BY id DESC LIMIT $%d", n);
    return task_select(PG(s), -1, sql, n, v, fn, ud, "task_query");
}

/* Why a transition did not happen: the task's current state. */
static int task_state_err(pg_t *p, int64_t id)
{
    pg_num_t a;
    const char *v[] = { pg_i64(&a, id) };
    bool ok;
    int64_t st = pg_scalar(p, "SELECT status FROM tasks WHERE id = $1", 1, v, &ok);
    if (!ok)
        return -EIO;
    if (st < 0)
        return -ENOENT;
    return st == STORE_TASK_SENT ? -EBUSY : -ESTALE;
}

int pg_task_has_pending(store_t *s, const char *dev, bool *out)
{
    const char *v[] = { dev };
    PGresult *r = pg_run(PG(s), PQ_TASK_HAS_PENDING, 1, v, "task_has_pending");
    *out = false;
    if (!r)
        return -EIO;
    *out = PQntuples(r) > 0 && pg_col_i64(r, 0, 0) != 0;
    PQclear(r);
    return 0;
}

int pg_task_mark_sent(store_t *s, int64_t id, int64_t now)
{
    pg_t *p = PG(s);
    pg_num_t a, b, c;
    const char *v[] = { pg_i64(&a, id), pg_i64(&b, now), store_node(s), pg_i64(&c, now + store_lease(s)) };
    int rc = pg_cmd(p, PQ_TASK_SENT, 4, v, "task_sent");
    if (rc < 0)
        return rc;
    if (rc == 1)
        return 0;
    rc = task_state_err(p, id);
    return rc == -ENOENT || rc == -EIO ? rc : -ESTALE;
}

int pg_task_finish(store_t *s, int64_t id, store_task_status_t status, const char *result,
                   int fault_code, const char *fault_string, int64_t now)
{
    pg_t *p = PG(s);
    pg_num_t a, b, c, d;
    const char *v[] = { pg_i64(&a, id), pg_i64(&b, (int64_t)status), result,
                        pg_i64(&c, fault_code), fault_string ? fault_string : "", pg_i64(&d, now) };
    int rc = pg_cmd(p, PQ_TASK_FINISH, 6, v, "task_finish");
    if (rc < 0)
        return rc;
    if (rc == 1)
        return 0;
    rc = task_state_err(p, id);
    return rc == -ENOENT || rc == -EIO ? rc : -ESTALE;
}

int pg_task_cancel(store_t *s, int64_t id, int64_t now)
{
    pg_t *p = PG(s);
    pg_num_t a, b;
    const char *v[] = { pg_i64(&a, id), pg_i64(&b, now) };
    int rc = pg_cmd_sql(p, "UPDATE tasks SET status = 5, done_at = $2, updated = $2"
                           " WHERE id = $1 AND status = 0", 2, v, "task_cancel");
    if (rc < 0)
        return rc;
    return rc == 1 ? 0 : task_state_err(p, id);
}

int pg_task_set_cr(store_t *s, int64_t id, const store_cr_note_t *note)
{
    pg_num_t a, b;
    const char *v[] = { pg_i64(&a, id), note->status, note->reason, pg_i64(&b, note->at) };
    int rc = pg_cmd_sql(PG(s), "UPDATE tasks SET cr_status = $2, cr_reason = $3, cr_at = $4"
                               " WHERE id = $1", 4, v, "task_cr");
    return rc < 0 ? rc : rc == 1 ? 0 : -ENOENT;
}

int pg_task_requeue(store_t *s, int64_t id, int64_t now)
{
    pg_num_t a, b;
    const char *v[] = { pg_i64(&a, id), pg_i64(&b, now) };
    int rc = pg_cmd_sql(PG(s), "UPDATE tasks SET status = 0, updated = $2, lease_until = 0 WHERE id = $1 AND status = 1",
                        2, v, "task_requeue");
    return rc < 0 ? rc : rc == 1 ? 0 : -ESTALE;
}

int pg_task_expire(store_t *s, int64_t now)
{
    pg_num_t a;
    const char *v[] = { pg_i64(&a, now) };
    return pg_cmd_sql(PG(s), "UPDATE tasks SET status = 4, done_at = $1, updated = $1,"
                             " fault_string = 'expired' WHERE status IN (0, 1) AND"
                             " expires_at > 0 AND expires_at <= $1", 1, v, "task_expire");
}

int pg_task_trim(store_t *s, int64_t before, int max)
{
    pg_num_t a, b;
    const char *v[] = { pg_i64(&a, before), pg_i64(&b, max) };
    /* tasks_done walks the finished ones oldest first; the cap keeps one
     * sweep's write transaction short whatever the backlog */
    return pg_cmd_sql(PG(s), "DELETE FROM tasks WHERE id IN (SELECT id FROM tasks"
                             " WHERE status >= 2 AND done_at < $1 AND bulk = 0"
                             " AND NOT (status = 3 AND fault_cleared = 0)"
                             " ORDER BY done_at LIMIT $2)", 2, v, "task_trim");
}

int pg_task_devices_pending(store_t *s, int64_t limit, int (*fn)(const char *, void *), void *ud)
{
    pg_num_t a;
    const char *v[] = { pg_i64(&a, limit > 0 ? limit : 1000) };
    PGresult *r = pg_query(PG(s), "SELECT DISTINCT device_id FROM tasks WHERE status = 0 AND held = 0"
                                  " LIMIT $1", 1, v, "devices_pending");
    if (!r)
        return -EIO;
    for (int i = 0; i < PQntuples(r); i++)
        if (fn(PQgetvalue(r, i, 0), ud) != 0)
            break;
    PQclear(r);
    return 0;
}

/* Counts by type and status, of the open tasks or of those finished in [from, to). */
static int task_counts(pg_t *p, bool finished, int64_t from, int64_t to, store_task_count_fn fn,
                       void *ud)
{
    pg_num_t a, b;
    const char *v[] = { pg_i64(&a, from), pg_i64(&b, to) };
    PGresult *r = finished ? pg_query(p, "SELECT type, status, COUNT(*) FROM tasks"
                                         " WHERE status >= 2 AND done_at >= $1 AND done_at < $2"
                                         " GROUP BY type, status", 2, v, "task_counts")
                           : pg_query(p, "SELECT type, status, COUNT(*) FROM tasks"
                                         " WHERE status IN (0, 1) GROUP BY type, status",
                                      0, NULL, "task_counts");
    if (!r)
        return -EIO;
    for (int i = 0; i < PQntuples(r); i++)
        if (fn(PQgetvalue(r, i, 0), (int)pg_col_i64(r, i, 1), pg_col_i64(r, i, 2), ud))
            break;
    PQclear(r);
    return 0;
}

int pg_task_open_counts(store_t *s, store_task_count_fn fn, void *ud)
{
    return task_counts(PG(s), false, 0, 0, fn, ud);
}

int pg_task_finished_counts(store_t *s, int64_t from, int64_t to, store_task_count_fn fn, void *ud)
{
    return task_counts(PG(s), true, from, to, fn, ud);
}

/* ---- sessions ------------------------------------------------------------------- */

/* The log as text the server accepts: a message log holds what the peer
 * sent, and a TEXT column takes neither NUL bytes nor (in a UTF-8
 * database) invalid sequences; each such byte becomes '?'. */
static char *log_text(const char *log, size_t len)
{
    char *t = malloc(len + 1);
    if (!t)
        return NULL;
    const unsigned char *s = (const unsigned char *)log;
    size_t i = 0;
    while (i < len) {
        unsigned char c = s[i];
        size_t n = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 && c >= 0xC2 ? 2 : (c & 0xF0) == 0xE0 ? 3
                              : (c & 0xF8) == 0xF0 && c <= 0xF4 ? 4 : 0;
        bool ok = n > 0 && c != 0 && i + n <= len;
        for (size_t k = 1; ok && k < n; k++)
            ok = (s[i + k] & 0xC0) == 0x80;
        /* overlong 3-byte forms, surrogates, and code points past U+10FFFF */
        if (ok && n == 3)
            ok = !(c == 0xE0 && s[i + 1] < 0xA0) && !(c == 0xED && s[i + 1] >= 0xA0);
        if (ok && n == 4)
            ok = !(c == 0xF0 && s[i + 1] < 0x90) && !(c == 0xF4 && s[i + 1] >= 0x90);
        if (!ok) {
            t[i++] = '?';
            continue;
        }
        memcpy(t + i, s + i, n);
        i += n;
    }
    t[len] = '\0';
    return t;
}

int pg_session_add(store_t *s, store_session_t *ss, const char *log, size_t loglen)
{
    pg_t *p = PG(s);
    char *text = NULL;
    if (log && loglen) {
        /* Keep the tail: the last exchanges explain how a session ended. */
        if (loglen > p->o.session_log_max) {
            log += loglen - p->o.session_log_max;
            loglen = p->o.session_log_max;
        }
        if (!(text = log_text(log, loglen)))
            return -ENOMEM;
    }
    pg_num_t a, b, c, d;
    const char *v[] = { ss->device_id, pg_i64(&a, ss->started), pg_i64(&b, ss->duration_ms),
                        ss->events, pg_i64(&c, ss->rpcs), ss->outcome, text, ss->rpc_list,
                        pg_i64(&d, p->o.sessions_per_device) };
    PGresult *r = pg_run(p, PQ_SESSION_ADD, 9, v, "session_add");
    free(text);
    if (!r)
        return -EIO;
    ss->id = pg_col_i64(r, 0, 0);
    PQclear(r);
    return 0;
}

int pg_session_list(store_t *s, const char *dev, int64_t limit, store_session_fn fn, void *ud)
{
    pg_num_t a;
    const char *v[] = { dev, pg_i64(&a, limit > 0 ? limit : 20) };
    PGresult *r = pg_query(PG(s), "SELECT id, device_id, started, duration_ms, events, rpcs, outcome,"
                                  " log, rpc_list FROM sessions WHERE device_id = $1"
                                  " ORDER BY id DESC LIMIT $2", 2, v, "session_list");
    if (!r)
        return -EIO;
    for (int i = 0; i < PQntuples(r); i++) {
        store_session_t ss = { .id = pg_col_i64(r, i, 0) };
        pg_col_copy(r, i, 1, ss.device_id, sizeof ss.device_id);
        ss.started = pg_col_i64(r, i, 2);
        ss.duration_ms = pg_col_i64(r, i, 3);
        pg_col_copy(r, i, 4, ss.events, sizeof ss.events);
        ss.rpcs = (int)pg_col_i64(r, i, 5);
        pg_col_copy(r, i, 6, ss.outcome, sizeof ss.outcome);
        ss.log = pg_col(r, i, 7);
        pg_col_copy(r, i, 8, ss.rpc_list, sizeof ss.rpc_list);
        if (fn(&ss, ud) != 0)
            break;
    }
    PQclear(r);
    return 0;
}
