/*
 * store_sqlite_tasks: the SQLite backend's task queue and session rows.
 * Transitions are single guarded UPDATEs (WHERE status IN ...), so a task
 * can never move twice, whoever asks.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/str.h"
#include "store/store_sqlite.h"

/* ---- tasks ---------------------------------------------------------------------- */

void sq_task_row(sqlite3_stmt *st, store_task_t *t)
{
    memset(t, 0, sizeof *t);
    t->id = sqlite3_column_int64(st, 0);
    sq_col_copy(st, 1, t->device_id, sizeof t->device_id);
    sq_col_copy(st, 2, t->type, sizeof t->type);
    t->params = sq_col_dup(st, 3);
    t->status = (store_task_status_t)sqlite3_column_int(st, 4);
    t->result = sq_col_dup(st, 5);
    t->fault_code = sqlite3_column_int(st, 6);
    sq_col_copy(st, 7, t->fault_string, sizeof t->fault_string);
    t->attempts = sqlite3_column_int(st, 8);
    t->created = sqlite3_column_int64(st, 9);
    t->updated = sqlite3_column_int64(st, 10);
    t->sent_at = sqlite3_column_int64(st, 11);
    t->done_at = sqlite3_column_int64(st, 12);
    t->expires_at = sqlite3_column_int64(st, 13);
    sq_col_copy(st, 14, t->cr.status, sizeof t->cr.status);
    sq_col_copy(st, 15, t->cr.reason, sizeof t->cr.reason);
    t->cr.at = sqlite3_column_int64(st, 16);
}

static int task_add_tx(sq_t *q, int which)
{
    sqlite3_stmt *st = sq_stmt(q, which);
    return st ? sq_step_done(q, st, "task_add") : -EIO;
}

int sq_task_add(store_t *s, store_task_t *t)
{
    sq_t *q = SQ(s);
    const char *params = t->params ? t->params : "{}";
    /* long parameters in task_params (TASK_COLS), the row and them at once */
    bool aside = strlen(params) > TASK_PARAMS_INLINE_MAX;
    if (aside && task_add_tx(q, Q_TASK_ADD_SAVEPOINT) < 0)
        return -EIO;
    sqlite3_stmt *st = sq_stmt(q, Q_TASK_ADD);
    int rc = st ? 0 : -EIO;
    if (!rc) {
        sq_bind_text(st, 1, t->device_id);
        sq_bind_text(st, 2, t->type);
        sq_bind_text(st, 3, aside ? "" : params);
        sqlite3_bind_int64(st, 4, t->created);
        sqlite3_bind_int64(st, 5, t->expires_at);
        rc = sq_step_done(q, st, "task_add") < 0 ? -EIO : 0;
    }
    int64_t id = sqlite3_last_insert_rowid(q->db);
    if (!rc && aside) {
        st = sq_stmt(q, Q_TASK_PARAMS_ADD);
        rc = st ? 0 : -EIO;
        if (!rc) {
            sqlite3_bind_int64(st, 1, id);
            sq_bind_text(st, 2, params);
            rc = sq_step_done(q, st, "task_add") < 0 ? -EIO : 0;
        }
    }
    if (aside) {
        if (rc)
            (void)task_add_tx(q, Q_TASK_ADD_ROLLBACK_TO);
        if (task_add_tx(q, Q_TASK_ADD_RELEASE) < 0)
            rc = -EIO;
    }
    if (rc)
        return rc;
    t->id = id;
    t->status = STORE_TASK_PENDING;
    t->updated = t->created;
    return 0;
}

int sq_task_rows(sq_t *q, sqlite3_stmt *st, store_task_fn fn, void *ud, const char *what)
{
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        store_task_t t;
        sq_task_row(st, &t);
        int stop = fn(&t, ud);
        store_task_clear(&t);
        if (stop)
            return 0;
    }
    return rc == SQLITE_DONE ? 0 : sq_err(q, what);
}

int sq_task_get(store_t *s, int64_t id, store_task_t *out)
{
    sq_t *q = SQ(s);
    sqlite3_stmt *st = sq_stmt(q, Q_TASK_GET);
    if (!st)
        return -EIO;
    sqlite3_bind_int64(st, 1, id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        sq_task_row(st, out);
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? -ENOENT : sq_err(q, "task_get");
}

int sq_task_outcome(store_t *s, int64_t id, store_task_t *out)
{
    sq_t *q = SQ(s);
    sqlite3_stmt *st = sq_stmt(q, Q_TASK_OUTCOME);
    if (!st)
        return -EIO;
    sqlite3_bind_int64(st, 1, id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        memset(out, 0, sizeof *out);
        out->id = sqlite3_column_int64(st, 0);
        sq_col_copy(st, 1, out->device_id, sizeof out->device_id);
        sq_col_copy(st, 2, out->type, sizeof out->type);
        out->status = (store_task_status_t)sqlite3_column_int(st, 3);
        out->fault_code = sqlite3_column_int(st, 4);
        sq_col_copy(st, 5, out->fault_string, sizeof out->fault_string);
    }
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? -ENOENT : sq_err(q, "task_outcome");
}

int sq_task_list(store_t *s, const char *dev, int64_t limit, bool pending_only,
                        store_task_fn fn, void *ud)
{
    sq_t *q = SQ(s);
    /* The pending query runs for every Inform: keep it prepared. */
    sqlite3_stmt *st = pending_only ? sq_stmt(q, Q_TASK_PENDING)
                                    : sq_prepare(q, "SELECT " TASK_COLS " FROM tasks WHERE device_id = ?1"
                                                 " ORDER BY id DESC LIMIT ?2");
    if (!st)
        return -EIO;
    sq_bind_text(st, 1, dev);
    sqlite3_bind_int64(st, 2, limit > 0 ? limit : 100);
    int rc = sq_task_rows(q, st, fn, ud, "task_list");
    if (pending_only)
        sqlite3_reset(st);
    else
        sqlite3_finalize(st);
    return rc;
}

/* Tasks across the fleet. The WHERE is put together from the fixed
 * fragments below, one per condition given (every value bound), so each
 * shape gets its own plan: the primary key backwards alone, tasks_status
 * for a status, tasks_device for a device, tasks_bulk for a bulk. */
int sq_task_query(store_t *s, const store_task_query_t *tq, store_task_fn fn, void *ud)
{
    sq_t *q = SQ(s);
    char sql[512];
    size_t n = (size_t)snprintf(sql, sizeof sql, "SELECT " TASK_COLS " FROM tasks WHERE id < ?1");
    if (tq->device)
        n += (size_t)snprintf(sql + n, sizeof sql - n, " AND device_id = ?2");
    if (tq->status >= 0)
        n += (size_t)snprintf(sql + n, sizeof sql - n, " AND status = ?3");
    if (tq->bulk > 0) /* the literal bulk > 0 lets SQLite use the partial index */
        n += (size_t)snprintf(sql + n, sizeof sql - n, " AND bulk = ?4 AND bulk > 0");
    snprintf(sql + n, sizeof sql - n, " ORDER BY id DESC LIMIT ?5");
    sqlite3_stmt *st = sq_prepare(q, sql);
    if (!st)
        return -EIO;
    sqlite3_bind_int64(st, 1, tq->before > 0 ? tq->before : INT64_MAX);
    if (tq->device)
        sq_bind_text(st, 2, tq->device);
    if (tq->status >= 0)
        sqlite3_bind_int(st, 3, tq->status);
    if (tq->bulk > 0)
        sqlite3_bind_int64(st, 4, tq->bulk);
    sqlite3_bind_int64(st, 5, tq->limit > 0 ? tq->limit : 100);
    int rc = sq_task_rows(q, st, fn, ud, "task_query");
    sqlite3_finalize(st);
    return rc;
}

/* Why a transition did not happen: the task's current state. */
static int task_state_err(sq_t *q, int64_t id)
{
    int64_t st = sq_scalar(q, "SELECT status FROM tasks WHERE id = ?1", id, 0);
    if (st < 0)
        return -ENOENT;
    return st == STORE_TASK_SENT ? -EBUSY : -ESTALE;
}

int sq_task_has_pending(store_t *s, const char *dev, bool *out)
{
    sq_t *q = SQ(s);
    sqlite3_stmt *st = sq_stmt(q, Q_TASK_HAS_PENDING);
    if (!st)
        return -EIO;
    sq_bind_text(st, 1, dev);
    int rc = sqlite3_step(st);
    *out = rc == SQLITE_ROW && sqlite3_column_int(st, 0) != 0;
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? 0 : sq_err(q, "task_has_pending");
}

int sq_task_mark_sent(store_t *s, int64_t id, int64_t now)
{
    sq_t *q = SQ(s);
    sqlite3_stmt *st = sq_stmt(q, Q_TASK_SENT);
    if (!st)
        return -EIO;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int64(st, 2, now);
    sq_bind_text(st, 3, store_node(s));
    sqlite3_bind_int64(st, 4, now + store_lease(s));
    int rc = sq_step_done(q, st, "task_sent");
    if (rc < 0)
        return rc;
    return rc == 1 ? 0 : task_state_err(q, id) == -ENOENT ? -ENOENT : -ESTALE;
}

int sq_task_finish(store_t *s, int64_t id, store_task_status_t status, const char *result,
                          int fault_code, const char *fault_string, int64_t now)
{
    sq_t *q = SQ(s);
    sqlite3_stmt *st = sq_stmt(q, Q_TASK_FINISH);
    if (!st)
        return -EIO;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int(st, 2, (int)status);
    if (result)
        sqlite3_bind_text(st, 3, result, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, 3);
    sqlite3_bind_int(st, 4, fault_code);
    sq_bind_text(st, 5, fault_string);
    sqlite3_bind_int64(st, 6, now);
    int rc = sq_step_done(q, st, "task_finish");
    if (rc < 0)
        return rc;
    return rc == 1 ? 0 : task_state_err(q, id) == -ENOENT ? -ENOENT : -ESTALE;
}

int sq_task_cancel(store_t *s, int64_t id, int64_t now)
{
    sq_t *q = SQ(s);
    sqlite3_stmt *st = sq_prepare(q, "UPDATE tasks SET status = 5, done_at = ?2, updated = ?2"
                                  " WHERE id = ?1 AND status = 0");
    if (!st)
        return -EIO;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int64(st, 2, now);
    int rc = sq_step_done(q, st, "task_cancel");
    sqlite3_finalize(st);
    if (rc < 0)
        return rc;
    return rc == 1 ? 0 : task_state_err(q, id);
}

int sq_task_set_cr(store_t *s, int64_t id, const store_cr_note_t *note)
{
    sq_t *q = SQ(s);
    sqlite3_stmt *st = sq_prepare(q, "UPDATE tasks SET cr_status = ?2, cr_reason = ?3, cr_at = ?4"
                                     " WHERE id = ?1");
    if (!st)
        return -EIO;
    sqlite3_bind_int64(st, 1, id);
    sq_bind_text(st, 2, note->status);
    sq_bind_text(st, 3, note->reason);
    sqlite3_bind_int64(st, 4, note->at);
    int rc = sq_step_done(q, st, "task_cr");
    sqlite3_finalize(st);
    return rc < 0 ? rc : rc == 1 ? 0 : -ENOENT;
}

int sq_task_requeue(store_t *s, int64_t id, int64_t now)
{
    sq_t *q = SQ(s);
    sqlite3_stmt *st = sq_prepare(q, "UPDATE tasks SET status = 0, updated = ?2, lease_until = 0 WHERE id = ?1 AND status = 1");
    if (!st)
        return -EIO;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int64(st, 2, now);
    int rc = sq_step_done(q, st, "task_requeue");
    sqlite3_finalize(st);
    return rc < 0 ? rc : rc == 1 ? 0 : -ESTALE;
}

/* One node uses a SQLite file, so at start every `sent` task is a dead
 * run's; afterwards only an expired lease says so (a session that ended
 * without putting its task back: a store error at that moment). */
int sq_task_recover(store_t *s, const char *const *types, int64_t now, bool startup,
                    int (*fn)(const char *, void *), void *ud)
{
    sq_t *q = SQ(s);
    int total = 0;
    for (; types && *types; types++) {
        sqlite3_stmt *st = sq_prepare(q, "UPDATE tasks SET status = 0, updated = ?2, lease_until = 0"
                                      " WHERE status = 1 AND type = ?1 AND (?3 OR lease_until < ?2)"
                                      " RETURNING device_id");
        if (!st)
            return -EIO;
        sq_bind_text(st, 1, *types);
        sqlite3_bind_int64(st, 2, now);
        sqlite3_bind_int(st, 3, startup ? 1 : 0);
        int rc;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            total++;
            if (fn)
                (void)fn((const char *)sqlite3_column_text(st, 0), ud);
        }
        if (rc != SQLITE_DONE)
            rc = sq_err(q, "task_recover");
        sqlite3_finalize(st);
        if (rc < 0)
            return rc;
    }
    return total;
}

int sq_task_lease_renew(store_t *s, const char *ids, int64_t until)
{
    sq_t *q = SQ(s);
    sqlite3_stmt *st = sq_prepare(q, "UPDATE tasks SET lease_until = ?2 WHERE status = 1 AND node = ?3"
                                     " AND id IN (SELECT value FROM json_each('[' || ?1 || ']'))");
    if (!st)
        return -EIO;
    sq_bind_text(st, 1, ids);
    sqlite3_bind_int64(st, 2, until);
    sq_bind_text(st, 3, store_node(s));
    int rc = sq_step_done(q, st, "task_lease_renew");
    sqlite3_finalize(st);
    return rc;
}

/* One node: it always leads, and there is nobody to tell. */
int sq_try_leader(store_t *s, const char *what)
{
    (void)s;
    (void)what;
    return 1;
}

int sq_notify(store_t *s, const char *channel, const char *payload)
{
    (void)s;
    (void)channel;
    (void)payload;
    return 0;
}

int sq_task_expire(store_t *s, int64_t now)
{
    sq_t *q = SQ(s);
    sqlite3_stmt *st = sq_prepare(q, "UPDATE tasks SET status = 4, done_at = ?1, updated = ?1,"
                                  " fault_string = 'expired' WHERE status IN (0, 1) AND"
                                  " expires_at > 0 AND expires_at <= ?1");
    if (!st)
        return -EIO;
    sqlite3_bind_int64(st, 1, now);
    int rc = sq_step_done(q, st, "task_expire");
    sqlite3_finalize(st);
    return rc;
}

int sq_task_trim(store_t *s, int64_t before, int max)
{
    sq_t *q = SQ(s);
    /* tasks_done walks the finished ones oldest first; the cap keeps one
     * sweep's write transaction short whatever the backlog */
    sqlite3_stmt *st = sq_prepare(q, "DELETE FROM tasks WHERE id IN (SELECT id FROM tasks"
                                  " WHERE status >= 2 AND done_at < ?1 AND bulk = 0"
                                  " AND NOT (status = 3 AND fault_cleared = 0)"
                                  " ORDER BY done_at LIMIT ?2)");
    if (!st)
        return -EIO;
    sqlite3_bind_int64(st, 1, before);
    sqlite3_bind_int(st, 2, max);
    int rc = sq_step_done(q, st, "task_trim");
    sqlite3_finalize(st);
    return rc;
}

int sq_task_devices_pending(store_t *s, int64_t limit, int (*fn)(const char *, void *),
                                   void *ud)
{
    sq_t *q = SQ(s);
    sqlite3_stmt *st = sq_prepare(q, "SELECT DISTINCT device_id FROM tasks WHERE status = 0 AND held = 0 LIMIT ?1");
    if (!st)
        return -EIO;
    sqlite3_bind_int64(st, 1, limit > 0 ? limit : 1000);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        if (fn((const char *)sqlite3_column_text(st, 0), ud) != 0) {
            rc = SQLITE_DONE;
            break;
        }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : sq_err(q, "devices_pending");
}

/* ---- sessions ------------------------------------------------------------------- */

int sq_session_add(store_t *s, store_session_t *ss, const char *log, size_t loglen)
{
    sq_t *q = SQ(s);
    sqlite3_stmt *st = sq_stmt(q, Q_SESSION_ADD);
    if (!st)
        return -EIO;
    sq_bind_text(st, 1, ss->device_id);
    sqlite3_bind_int64(st, 2, ss->started);
    sqlite3_bind_int64(st, 3, ss->duration_ms);
    sq_bind_text(st, 4, ss->events);
    sqlite3_bind_int(st, 5, ss->rpcs);
    sq_bind_text(st, 6, ss->outcome);
    if (log && loglen) {
        /* Keep the tail: the last exchanges explain how a session ended. */
        if (loglen > q->o.session_log_max) {
            log += loglen - q->o.session_log_max;
            loglen = q->o.session_log_max;
        }
        sqlite3_bind_text(st, 7, log, (int)loglen, SQLITE_STATIC);
    } else {
        sqlite3_bind_null(st, 7);
    }
    sq_bind_text(st, 8, ss->rpc_list);
    if (sq_step_done(q, st, "session_add") < 0)
        return -EIO;
    ss->id = sqlite3_last_insert_rowid(q->db);
    st = sq_stmt(q, Q_SESSION_TRIM);
    if (!st)
        return -EIO;
    sq_bind_text(st, 1, ss->device_id);
    sqlite3_bind_int(st, 2, q->o.sessions_per_device);
    return sq_step_done(q, st, "session_trim") < 0 ? -EIO : 0;
}

int sq_session_list(store_t *s, const char *dev, int64_t limit, store_session_fn fn, void *ud)
{
    sq_t *q = SQ(s);
    sqlite3_stmt *st = sq_prepare(q, "SELECT id, device_id, started, duration_ms, events, rpcs, outcome,"
                                  " log, rpc_list FROM sessions WHERE device_id = ?1 ORDER BY id DESC LIMIT ?2");
    if (!st)
        return -EIO;
    sq_bind_text(st, 1, dev);
    sqlite3_bind_int64(st, 2, limit > 0 ? limit : 20);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        store_session_t ss = { .id = sqlite3_column_int64(st, 0) };
        sq_col_copy(st, 1, ss.device_id, sizeof ss.device_id);
        ss.started = sqlite3_column_int64(st, 2);
        ss.duration_ms = sqlite3_column_int64(st, 3);
        sq_col_copy(st, 4, ss.events, sizeof ss.events);
        ss.rpcs = sqlite3_column_int(st, 5);
        sq_col_copy(st, 6, ss.outcome, sizeof ss.outcome);
        ss.log = (const char *)sqlite3_column_text(st, 7);
        sq_col_copy(st, 8, ss.rpc_list, sizeof ss.rpc_list);
        if (fn(&ss, ud) != 0) {
            rc = SQLITE_DONE;
            break;
        }
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : sq_err(q, "session_list");
}
