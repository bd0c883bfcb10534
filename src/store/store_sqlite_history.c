/*
 * store_sqlite_history: the SQLite backend's history side: a parameter's
 * old values (kept by the params_keep_history trigger, migration 7: the
 * value, who set it, when), notification attributes, the inform interval
 * learnt from a parameter, and the fleet's open faults (failed tasks
 * nobody cleared, faulted preset records) with their clearing and retry.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "store/store_sqlite.h"

bool sq_set_by_acs(const store_param_t *p)
{
    return p->set_by && strcmp(p->set_by, STORE_SET_BY_ACS) == 0;
}

const char *sq_put_names_sql(void)
{
    static char sql[4096];
    if (sql[0])
        return sql;
    size_t n = (size_t)snprintf(sql, sizeof sql, "INSERT INTO params (device, name, value, writable,"
                                                 " updated) VALUES ");
    for (int i = 0; i < PUT_MANY; i++)
        n += (size_t)snprintf(sql + n, sizeof sql - n, "%s(?1,?%d,NULL,?%d,?2)", i ? "," : "",
                              2 * i + 3, 2 * i + 4);
    snprintf(sql + n, sizeof sql - n, " ON CONFLICT(device, name) DO UPDATE SET"
                                      " writable=excluded.writable");
    return sql;
}

void sq_param_row(sqlite3_stmt *st, store_param_t *p)
{
    *p = (store_param_t){
        .name = (const char *)sqlite3_column_text(st, 0),
        .value = (const char *)sqlite3_column_text(st, 1),
        .type = (const char *)sqlite3_column_text(st, 2),
        .writable = sqlite3_column_int(st, 3),
        .updated = sqlite3_column_int64(st, 4),
        .set_by = (const char *)sqlite3_column_text(st, 5),
        .set_at = sqlite3_column_int64(st, 6),
        .notification = sqlite3_column_int(st, 7),
        .access_list = (const char *)sqlite3_column_text(st, 8),
    };
    if (p->set_by && !*p->set_by)
        p->set_by = NULL; /* a row from before migration 7, or a name only */
    if (!p->set_at)
        p->set_at = p->updated;
}

/* Run a one-off statement over rows, finalize it: 0 or -EIO. */
static int each_row(sq_t *q, sqlite3_stmt *st, int (*row)(sqlite3_stmt *, void *), void *ud,
                    const char *what)
{
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        if (row(st, ud) != 0) {
            rc = SQLITE_DONE;
            break;
        }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : sq_err(q, what);
}

/* ---- a parameter's history ------------------------------------------------------- */

struct hist_ud {
    store_param_fn fn;
    void *ud;
};

static int hist_row(sqlite3_stmt *st, void *u)
{
    struct hist_ud *h = u;
    store_param_t p = { .name = (const char *)sqlite3_column_text(st, 0),
                        .value = (const char *)sqlite3_column_text(st, 1),
                        .writable = -1,
                        .updated = sqlite3_column_int64(st, 2),
                        .set_at = sqlite3_column_int64(st, 2),
                        .set_by = (const char *)sqlite3_column_text(st, 3),
                        .notification = -1 };
    if (p.set_by && !*p.set_by)
        p.set_by = NULL;
    return h->fn(&p, h->ud);
}

int sq_param_history(store_t *s, const char *dev, const char *name, store_param_fn fn, void *ud)
{
    sq_t *q = SQ(s);
    sqlite3_stmt *st = sq_prepare(q, "SELECT name, value, updated, set_by FROM param_history WHERE device ="
                                     " (SELECT rid FROM devices WHERE id = ?1) AND name = ?2 ORDER BY id DESC");
    if (!st)
        return -EIO;
    sq_bind_text(st, 1, dev);
    sq_bind_text(st, 2, name);
    struct hist_ud h = { fn, ud };
    return each_row(q, st, hist_row, &h, "param_history");
}

/* ---- attributes, the inform interval ------------------------------------------- */

/* Names under "A.B.3." sort from "A.B.3." up to, not including, "A.B.3/"
 * ('/' follows '.'), so the range is one walk of the primary key. */
int sq_params_delete_object(store_t *s, const char *dev, const char *prefix)
{
    size_t n = strlen(prefix);
    char end[1024]; /* CWMP names are at most 256 characters */
    if (n == 0 || prefix[n - 1] != '.' || n >= sizeof end)
        return -EINVAL;
    memcpy(end, prefix, n + 1);
    end[n - 1] = '/';
    sq_t *q = SQ(s);
    sqlite3_stmt *st = sq_prepare(q, "DELETE FROM params WHERE device ="
                                     " (SELECT rid FROM devices WHERE id = ?1)"
                                     " AND name >= ?2 AND name < ?3");
    if (!st)
        return -EIO;
    sq_bind_text(st, 1, dev);
    sq_bind_text(st, 2, prefix);
    sq_bind_text(st, 3, end);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : sq_err(q, "params_delete_object");
}

int sq_params_set_attributes(store_t *s, const char *dev, const store_param_attr_t *a, size_t n,
                             int64_t now)
{
    sq_t *q = SQ(s);
    sqlite3_stmt *r = sq_prepare(q, "SELECT rid FROM devices WHERE id = ?1");
    if (!r)
        return -EIO;
    sq_bind_text(r, 1, dev);
    int rc = sqlite3_step(r);
    int64_t rid = rc == SQLITE_ROW ? sqlite3_column_int64(r, 0) : 0;
    sqlite3_finalize(r);
    if (rc != SQLITE_ROW)
        return rc == SQLITE_DONE ? -ENOENT : sq_err(q, "params_set_attributes");
    /* a full name: made if unknown; a partial path ("X.Y."): every stored
     * parameter under it (a range on the primary key) */
    sqlite3_stmt *one = sq_prepare(
        q, "INSERT INTO params (device, name, value, updated, notification, access_list)"
           " VALUES (?1, ?2, NULL, ?3, CASE WHEN ?4 >= 0 THEN ?4 ELSE -1 END, ?5)"
           " ON CONFLICT(device, name) DO UPDATE SET"
           " notification=CASE WHEN ?4 >= 0 THEN ?4 ELSE notification END,"
           " access_list=COALESCE(?5, access_list)");
    sqlite3_stmt *many = sq_prepare(
        q, "UPDATE params SET notification=CASE WHEN ?4 >= 0 THEN ?4 ELSE notification END,"
           " access_list=COALESCE(?5, access_list)"
           " WHERE device = ?1 AND name >= ?2 AND name < ?3 AND substr(name, -1) <> '.'");
    rc = one && many ? 0 : -EIO;
    char hi[1100];
    for (size_t i = 0; i < n && !rc; i++) {
        size_t len = strlen(a[i].name);
        bool partial = len == 0 || a[i].name[len - 1] == '.';
        sqlite3_stmt *st = partial ? many : one;
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
        sqlite3_bind_int64(st, 1, rid);
        sq_bind_text(st, 2, a[i].name);
        if (partial) {
            snprintf(hi, sizeof hi, "%s\xff", a[i].name);
            sq_bind_text(st, 3, hi);
        } else {
            sqlite3_bind_int64(st, 3, now);
        }
        sqlite3_bind_int(st, 4, a[i].notification);
        if (a[i].access_list)
            sq_bind_text(st, 5, a[i].access_list);
        else
            sqlite3_bind_null(st, 5);
        if (sq_step_done(q, st, "params_set_attributes") < 0)
            rc = -EIO;
    }
    sqlite3_finalize(one);
    sqlite3_finalize(many);
    return rc;
}

int sq_device_set_facts(store_t *s, const char *dev, const store_device_facts_t *f)
{
    sq_t *q = SQ(s);
    /* NULL: not learnt, the column keeps its value */
    sqlite3_stmt *st = sq_prepare(q, "UPDATE devices SET"
                                     " periodic_interval = COALESCE(?2, periodic_interval),"
                                     " cr_nat = COALESCE(?3, cr_nat),"
                                     " cr_udp = COALESCE(?4, cr_udp), cr_udp_at = COALESCE(?5, cr_udp_at),"
                                     " cr_jid = COALESCE(?6, cr_jid) WHERE id = ?1");
    if (!st)
        return -EIO;
    sq_bind_text(st, 1, dev);
    if (f->interval > 0)
        sqlite3_bind_int64(st, 2, f->interval);
    if (f->nat >= 0)
        sqlite3_bind_int(st, 3, f->nat > 0);
    if (f->has_udp) {
        sq_bind_text(st, 4, f->cr_udp);
        sqlite3_bind_int64(st, 5, f->cr_udp_at);
    }
    if (f->has_jid)
        sq_bind_text(st, 6, f->cr_jid);
    int rc = sq_step_done(q, st, "device_set_facts");
    sqlite3_finalize(st);
    return rc < 0 ? rc : rc == 0 ? -ENOENT : 0;
}

/* ---- faults ------------------------------------------------------------------------- */

/* Both kinds in one ordered list: the open task faults (tasks_open_faults)
 * and the faulted preset records (preset_runs_faults), each narrowed by the
 * same filter. Columns: kind, device, task id, type or preset, code,
 * message, at, tries, next_retry. */
#define FAULTS_SQL                                                                              \
    "SELECT * FROM ("                                                                           \
    " SELECT 1 AS kind, device_id AS dev, id AS tid, type AS what, fault_code AS code,"         \
    "  fault_string AS msg, done_at AS at, attempts AS tries, 0 AS next FROM tasks"             \
    "  WHERE status = 3 AND fault_cleared = 0 AND ?3 IN (0, 1)"                                 \
    "   AND (?1 IS NULL OR device_id = ?1) AND (?2 = 0 OR fault_code = ?2)"                     \
    " UNION ALL"                                                                                \
    " SELECT 2, device_id, 0, preset, fault_code, fault_message, updated, tries, next_retry"    \
    "  FROM preset_runs WHERE status = 2 AND ?3 IN (0, 2)"                                      \
    "   AND (?1 IS NULL OR device_id = ?1) AND (?2 = 0 OR fault_code = ?2))"

static void fault_bind(sqlite3_stmt *st, const store_fault_filter_t *f)
{
    if (f->device)
        sq_bind_text(st, 1, f->device);
    else
        sqlite3_bind_null(st, 1);
    sqlite3_bind_int(st, 2, f->code);
    sqlite3_bind_int(st, 3, f->kind);
}

struct fault_ud {
    store_fault_fn fn;
    void *ud;
};

static int fault_row(sqlite3_stmt *st, void *u)
{
    struct fault_ud *fu = u;
    store_fault_t f = { .kind = (store_fault_kind_t)sqlite3_column_int(st, 0) };
    sq_col_copy(st, 1, f.device_id, sizeof f.device_id);
    f.task_id = sqlite3_column_int64(st, 2);
    if (f.kind == STORE_FAULT_TASK)
        sq_col_copy(st, 3, f.task_type, sizeof f.task_type);
    else
        sq_col_copy(st, 3, f.preset, sizeof f.preset);
    f.code = sqlite3_column_int(st, 4);
    sq_col_copy(st, 5, f.message, sizeof f.message);
    f.at = sqlite3_column_int64(st, 6);
    f.tries = sqlite3_column_int(st, 7);
    f.next_retry = sqlite3_column_int64(st, 8);
    return fu->fn(&f, fu->ud);
}

int sq_fault_list(store_t *s, const store_fault_filter_t *f, int64_t *total, store_fault_fn fn,
                  void *ud)
{
    sq_t *q = SQ(s);
    sqlite3_stmt *st;
    if (total) {
        if (!(st = sq_prepare(q, "SELECT COUNT(*) FROM (" FAULTS_SQL ")")))
            return -EIO;
        fault_bind(st, f);
        int rc = sqlite3_step(st);
        *total = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
        sqlite3_finalize(st);
        if (rc != SQLITE_ROW)
            return sq_err(q, "fault_count");
    }
    if (!(st = sq_prepare(q, FAULTS_SQL " ORDER BY at DESC, dev, kind, tid, what LIMIT ?4 OFFSET ?5")))
        return -EIO;
    fault_bind(st, f);
    sqlite3_bind_int64(st, 4, f->limit > 0 ? f->limit : 100);
    sqlite3_bind_int64(st, 5, f->offset > 0 ? f->offset : 0);
    struct fault_ud fu = { fn, ud };
    return each_row(q, st, fault_row, &fu, "fault_list");
}

/* -ENOENT / -ESTALE for a task whose fault cannot be cleared. */
static int task_fault_state(sq_t *q, int64_t id)
{
    int64_t open = sq_scalar(q, "SELECT status = 3 AND fault_cleared = 0 FROM tasks WHERE id = ?1", id, 0);
    return open < 0 ? -ENOENT : open ? 0 : -ESTALE;
}

int sq_task_fault_clear(store_t *s, int64_t task_id, int64_t now)
{
    sq_t *q = SQ(s);
    int rc = task_fault_state(q, task_id);
    if (rc < 0)
        return rc;
    sqlite3_stmt *st = sq_prepare(q, "UPDATE tasks SET fault_cleared = ?2, updated = ?2"
                                     " WHERE id = ?1 AND status = 3 AND fault_cleared = 0");
    if (!st)
        return -EIO;
    sqlite3_bind_int64(st, 1, task_id);
    sqlite3_bind_int64(st, 2, now > 0 ? now : 1);
    rc = sq_step_done(q, st, "task_fault_clear");
    sqlite3_finalize(st);
    return rc < 0 ? rc : rc == 0 ? -ESTALE : 0;
}

int sq_preset_run_forget_fault(store_t *s, const char *device, const char *preset)
{
    sq_t *q = SQ(s);
    sqlite3_stmt *st = sq_prepare(q, "DELETE FROM preset_runs WHERE device_id = ?1 AND preset = ?2"
                                     " AND status = 2");
    if (!st)
        return -EIO;
    sq_bind_text(st, 1, device);
    sq_bind_text(st, 2, preset);
    int rc = sq_step_done(q, st, "preset_run_forget");
    sqlite3_finalize(st);
    if (rc != 0)
        return rc < 0 ? rc : 0;
    if (!(st = sq_prepare(q, "SELECT COUNT(*) FROM preset_runs WHERE device_id = ?1 AND preset = ?2")))
        return -EIO;
    sq_bind_text(st, 1, device);
    sq_bind_text(st, 2, preset);
    rc = sqlite3_step(st);
    int64_t n = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
    sqlite3_finalize(st);
    return n < 0 ? sq_err(q, "preset_run_forget") : n ? -ESTALE : -ENOENT;
}

/* ---- devices whose sessions are all logged ----------------------------------------- */

int sq_device_set_session_log(store_t *s, const char *dev, bool all)
{
    sq_t *q = SQ(s);
    sqlite3_stmt *st = sq_prepare(q, "UPDATE devices SET session_log = ?2 WHERE id = ?1");
    if (!st)
        return -EIO;
    sq_bind_text(st, 1, dev);
    sqlite3_bind_int(st, 2, all ? 1 : 0);
    int rc = sq_step_done(q, st, "device_set_session_log");
    sqlite3_finalize(st);
    return rc < 0 ? rc : rc == 0 ? -ENOENT : 0;
}

struct id_ud {
    int (*fn)(const char *, void *);
    void *ud;
};

static int id_row(sqlite3_stmt *st, void *u)
{
    struct id_ud *i = u;
    return i->fn((const char *)sqlite3_column_text(st, 0), i->ud);
}

int sq_device_session_log_list(store_t *s, int (*fn)(const char *, void *), void *ud)
{
    sq_t *q = SQ(s);
    /* devices_session_log: only those rows, however many devices */
    sqlite3_stmt *st = sq_prepare(q, "SELECT id FROM devices WHERE session_log = 1");
    if (!st)
        return -EIO;
    struct id_ud i = { fn, ud };
    return each_row(q, st, id_row, &i, "device_session_log_list");
}
