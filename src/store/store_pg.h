/*
 * store_pg: internals shared by the PostgreSQL backend's files
 * (store_pg.c: connection, helpers, devices; store_pg_flight.c:
 * transactions and the pipeline;
 * store_pg_params.c: parameters;
 * store_pg_schema.c: the versioned migrations; store_pg_tasks.c: tasks and
 * sessions; store_pg_history.c, _prov.c, _hooks.c, _keys.c, _files.c,
 * _search.c, _bulk.c: one file per store_sqlite_*.c). Not for use outside
 * src/store.
 *
 * libpq runs on the store worker's thread (store_worker.h): the event loop
 * never calls the store, so it never waits on the server. Inside the
 * worker's batches, what needs no answer before the code goes on (begin,
 * savepoints, pg_send's writes) is pipelined with the next statement whose
 * result is wanted (store_pg_flight.c); everything else waits for its
 * answer. Statements the ACS runs per session are prepared once per
 * connection and cached by index (PQ_*); the rest are one-off
 * PQexecParams calls. Every value goes as a text parameter ($1...), never
 * spliced into SQL.
 *
 * Ownership: a PGresult returned by a helper belongs to the caller
 * (PQclear it); row pointers read from it live until then.
 */
#ifndef OUTPOST_STORE_PG_H
#define OUTPOST_STORE_PG_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store_impl.h"

/* The cached prepared statements (store_pg.c's queries[]). */
enum {
    PQ_DEV_INFORM,
    PQ_DEV_GET,
    PQ_DEV_RID,
    PQ_PARAMS_FORGET,
    PQ_PARAM_PUT_MANY, /* a chunk of rows as arrays (unnest), values and names alike */
    PQ_PARAMS_LIST,
    PQ_PARAMS_LIST_PREFIX,
    PQ_TASK_ADD,
    PQ_TASK_GET,
    PQ_TASK_OUTCOME,
    PQ_TASK_SENT,
    PQ_TASK_FINISH,
    PQ_TASK_PENDING,
    PQ_TASK_HAS_PENDING,
    PQ_SESSION_ADD, /* and the device's trim */
    PQ_TX_BEGIN, /* transaction control (store_pg_flight.c's pg_tx) */
    PQ_TX_COMMIT,
    PQ_TX_ROLLBACK,
    PQ_TX_SAVEPOINT, /* a job's */
    PQ_TX_RELEASE,
    PQ_TX_ROLLBACK_TO,
    PQ_COUNT
};

/* Statements sent on the pipeline whose answers are not read yet, at most
 * (store_pg_flight.c: the flight is synced before it would overflow). */
enum { PG_FLIGHT_MAX = 64 };

/* One statement of the flight, in the order sent. */
typedef struct pg_sent {
    const char *what; /* for the log */
    int16_t prep;     /* >= 0: the PQsendPrepare of that cached statement */
    bool job;         /* a job's own queued write (pg_send) */
} pg_sent_t;

typedef struct pg {
    struct store base;
    PGconn *conn;
    store_opts_t o;
    bool prepared[PQ_COUNT]; /* on this connection; cleared when it is reset */
    bool in_tx;              /* between exec_tx begin and commit/rollback */
    bool down;               /* the connection is lost (logged once) */
    int64_t retry_at;        /* monotonic ms: no reconnection attempt before */
    /* the pipeline (store_pg_flight.c) */
    pg_sent_t sent[PG_FLIGHT_MAX];
    int owed;                /* statements in sent[], answers not read yet */
    int job_owed;            /* of those, the running job's queued writes */
    bool in_job;             /* between a job's savepoint and its end */
    int job_rc;              /* 0, or -EIO: a queued write of the job failed */
    char job_dev[STORE_ID_MAX]; /* the device whose row the job wrote ("": none) */
    uint64_t trips;          /* round trips (an answer waited for); atomic */
} pg_t;

#define PG(s) ((pg_t *)(s))

/* The same column lists as store_sqlite.h's, so row readers match. */
#define PG_TASK_COLS \
    "id, device_id, type, params, status, result, fault_code, fault_string, attempts, created," \
    " updated, sent_at, done_at, expires_at, cr_status, cr_reason, cr_at"
#define PG_RUN_COLS \
    "device_id, preset, status, fault_code, fault_message, tries, next_retry, last_event, updated," \
    " fault_provision, fault_line"
#define PG_PARAM_COLS "name, value, type, writable, updated, set_by, set_at, notification, access_list"
#define PG_DEV_COLS \
    "id, manufacturer, oui, product_class, serial, software_version, hardware_version, ip," \
    " cr_url, cr_user, cr_pass, tags, first_seen, last_inform, periodic_interval, last_events," \
    " cr_udp, cr_udp_at, cr_nat, cr_jid"

/* An integer as a text parameter: pg_i64(&n, v) points into n. */
typedef struct pg_num {
    char b[24];
} pg_num_t;
const char *pg_i64(pg_num_t *n, int64_t v);

/* ---- helpers (store_pg.c). Errors are logged once ("store_pg", op, reason:
 * the server's message) and returned as -EIO / NULL. ---- */

/* Run cached statement i with n text parameters (NULL: SQL NULL). The
 * result (rows or command) or NULL on error. */
PGresult *pg_run(pg_t *p, int i, int n, const char *const *v, const char *what);
/* The same for a one-off statement. */
PGresult *pg_query(pg_t *p, const char *sql, int n, const char *const *v, const char *what);
/* pg_query with binary values where formats[i] is 1 (lens[i] bytes) and,
 * result_format 1, binary columns (bytea as its bytes). */
PGresult *pg_query_bin(pg_t *p, const char *sql, int n, const char *const *v, const int *lens,
                       const int *formats, int result_format, const char *what);
/* A statement without rows: rows it changed, or -EIO. */
int pg_cmd(pg_t *p, int i, int n, const char *const *v, const char *what);
int pg_cmd_sql(pg_t *p, const char *sql, int n, const char *const *v, const char *what);
/* First column of the first row as an integer; -1 when no row or NULL, -EIO-logged as -1 too
 * (ok, when given, tells the two apart: false on error). */
int64_t pg_scalar(pg_t *p, const char *sql, int n, const char *const *v, bool *ok);
/* r (pg_run's or pg_query's, may be NULL) has a first row: 0, -ENOENT
 * (none), -EIO (NULL: already logged). The caller reads row 0 when 0, then
 * PQclear(r) on every path (NULL is fine). */
int pg_one(const PGresult *r);
/* Log a failed call once; -EIO. r may be NULL (the connection's message). */
int pg_err(pg_t *p, const PGresult *r, const char *what);
/* A failed result (r may be NULL): logged, once per outage when the
 * connection is lost. */
void pg_failed(pg_t *p, const PGresult *r, const char *what);
/* The connection, usable for a call: reset when lost outside a transaction. */
bool pg_ready(pg_t *p);
/* The server went away (reads what is already on the socket, no wait). */
bool pg_gone(pg_t *p);
/* The text of cached statement i. */
const char *pg_sql(int i);

/* ---- store_pg_flight.c: the pipeline and the transactions ---- */
/* A write whose only outcome is done or failed (its rows changed are not
 * wanted). Inside a job it is queued, not waited for: 0 at once, and it
 * travels with the job's next statement whose result is wanted, or with the
 * job's end; its failure fails the job (-EIO from pg_tx's release: the
 * worker rolls the job back). Outside a job it runs now: 0 or -EIO. */
int pg_send(pg_t *p, int i, int n, const char *const *v, const char *what);
/* Cached statement i (or sql when i < 0) sent after what is in flight, the
 * flight synced and read: the statement's result or NULL (logged).
 * pg_run/pg_query go here when something is in flight. */
PGresult *pg_flight_run(pg_t *p, int i, const char *sql, int n, const char *const *v,
                        const char *what);
/* Read what is in flight (one round trip); 0, or -EIO when a statement
 * of it failed (logged). */
int pg_flight_flush(pg_t *p);
/* The connection was lost: what was in flight is gone with it. */
void pg_flight_drop(pg_t *p);
/* exec_tx (store_impl.h): 0 begin, 1 commit, 2 rollback, 3 a job's
 * savepoint, 4 its release, 5 roll back to it. */
int pg_tx(store_t *s, int what);

/* Columns of row `row`: NULL for SQL NULL; integers 0 when NULL. */
const char *pg_col(const PGresult *r, int row, int col);
int64_t pg_col_i64(const PGresult *r, int row, int col);
void pg_col_copy(const PGresult *r, int row, int col, char *out, size_t len);
char *pg_col_dup(const PGresult *r, int row, int col);

/* A PG_DEV_COLS row into d. */
void pg_dev_row(const PGresult *r, int row, store_device_t *d);
/* A PG_PARAM_COLS row (pointers into r). */
void pg_param_row(const PGresult *r, int row, store_param_t *p);
/* The device's row id, -ENOENT or -EIO. */
int pg_device_rid(pg_t *p, const char *dev, int64_t *rid);
/* The running job wrote dev's row (device_inform): it holds the row's
 * lock, so a statement keyed by it finds it (nothing to wait for). */
bool pg_job_wrote_device(const pg_t *p, const char *dev);
/* An array literal ({"a","b",NULL}) of n strings (NULL: NULL element)
 * appended to b; 0 or -ENOMEM. */
struct buf;
int pg_array_append(struct buf *b, const char *const *v, size_t n);

/* ---- store_pg_params.c ---- */
int pg_params_put(store_t *s, const char *dev, const store_param_t *p, size_t n, int64_t now);
int pg_params_list(store_t *s, const char *dev, const char *prefix, store_param_fn fn, void *ud);
int pg_params_delete_object(store_t *s, const char *dev, const char *prefix);
int pg_params_set_attributes(store_t *s, const char *dev, const store_param_attr_t *a, size_t n,
                             int64_t now);

/* store_pg_schema.c: the migrations, under an advisory lock. */
int pg_migrate(pg_t *p);
int pg_schema_version(store_t *s);

/* ---- store_pg_tasks.c ---- */
void pg_task_row(const PGresult *r, int row, store_task_t *t);
/* Each row of r (PG_TASK_COLS) to fn until it returns non-zero. */
int pg_task_rows(const PGresult *r, store_task_fn fn, void *ud);
int pg_task_add(store_t *s, store_task_t *t);
int pg_task_get(store_t *s, int64_t id, store_task_t *out);
int pg_task_outcome(store_t *s, int64_t id, store_task_t *out);
int pg_task_list(store_t *s, const char *dev, int64_t limit, bool pending_only, store_task_fn fn,
                 void *ud);
int pg_task_query(store_t *s, const store_task_query_t *q, store_task_fn fn, void *ud);
int pg_task_has_pending(store_t *s, const char *dev, bool *out);
int pg_task_mark_sent(store_t *s, int64_t id, int64_t now);
int pg_task_finish(store_t *s, int64_t id, store_task_status_t status, const char *result,
                   int fault_code, const char *fault_string, int64_t now);
int pg_task_cancel(store_t *s, int64_t id, int64_t now);
int pg_task_set_cr(store_t *s, int64_t id, const store_cr_note_t *note);
int pg_task_requeue(store_t *s, int64_t id, int64_t now);
/* store_pg_cluster.c */
int pg_task_recover(store_t *s, const char *const *types, int64_t now, bool startup,
                    int (*fn)(const char *, void *), void *ud);
int pg_task_lease_renew(store_t *s, const char *ids, int64_t until);
int pg_try_leader(store_t *s, const char *what);
int pg_notify(store_t *s, const char *channel, const char *payload);
int pg_watch_set(store_t *s, const char *what, int64_t until, int64_t now);
int pg_watched(store_t *s, const char *what, int64_t now);
int pg_task_expire(store_t *s, int64_t now);
int pg_task_trim(store_t *s, int64_t before, int max);
int pg_task_devices_pending(store_t *s, int64_t limit, int (*fn)(const char *, void *), void *ud);
int pg_task_open_counts(store_t *s, store_task_count_fn fn, void *ud);
int pg_task_finished_counts(store_t *s, int64_t from, int64_t to, store_task_count_fn fn, void *ud);
int pg_session_add(store_t *s, store_session_t *ss, const char *log, size_t loglen);
int pg_session_list(store_t *s, const char *dev, int64_t limit, store_session_fn fn, void *ud);

/* ---- store_pg_history.c ---- */
int pg_param_history(store_t *s, const char *dev, const char *name, store_param_fn fn, void *ud);
int pg_fault_list(store_t *s, const store_fault_filter_t *f, int64_t *total, store_fault_fn fn,
                  void *ud);
int pg_task_fault_clear(store_t *s, int64_t task_id, int64_t now);
int pg_preset_run_forget_fault(store_t *s, const char *device, const char *preset);
int pg_device_set_session_log(store_t *s, const char *dev, bool all);
int pg_device_session_log_list(store_t *s, int (*fn)(const char *, void *), void *ud);

/* ---- store_pg_prov.c ---- */
int pg_preset_write(store_t *s, const char *name, const char *body, bool exists, int64_t now);
int pg_preset_get(store_t *s, const char *name, store_preset_fn fn, void *ud);
int pg_preset_list(store_t *s, store_preset_fn fn, void *ud);
int pg_preset_delete(store_t *s, const char *name);
int pg_preset_sync_config(store_t *s, const store_preset_t *p, size_t n, int64_t now,
                          store_preset_fn replaced, void *ud);
int pg_script_put(store_t *s, store_script_kind_t k, const char *name, const char *source,
                  size_t len, int64_t now);
int pg_script_get(store_t *s, store_script_kind_t k, const char *name, store_script_fn fn, void *ud);
int pg_script_list(store_t *s, store_script_kind_t k, store_script_fn fn, void *ud);
int pg_script_delete(store_t *s, store_script_kind_t k, const char *name);
int pg_preset_run_put(store_t *s, const store_preset_run_t *r);
int pg_preset_run_list(store_t *s, const char *device, store_preset_run_fn fn, void *ud);
int pg_preset_run_clear_fault(store_t *s, const char *device, const char *preset, int64_t now);
int pg_preset_run_owed(store_t *s, store_preset_run_fn fn, void *ud);

/* ---- store_pg_keys.c ---- */
int pg_key_add(store_t *s, const store_key_t *k);
int pg_key_delete(store_t *s, const char *id);
int pg_key_list(store_t *s, store_key_fn fn, void *ud);
int pg_key_touch(store_t *s, const char *id, int64_t when);
int pg_key_version(store_t *s, int64_t *out);

/* ---- store_pg_hooks.c ---- */
int pg_hook_enqueue(store_t *s, store_hook_delivery_t *d, int64_t max_pending);
int pg_hook_claim(store_t *s, int64_t now, int64_t lease_until, int64_t limit,
                  store_hook_delivery_fn fn, void *ud, int64_t *next_due);
int pg_hook_result(store_t *s, const store_hook_delivery_t *d, int64_t now);
int pg_hook_list(store_t *s, int status, int64_t limit, store_hook_delivery_fn fn, void *ud);
int pg_hook_retry(store_t *s, int64_t id, int64_t now, int64_t deadline, store_hook_delivery_t *out);
int pg_hook_counts(store_t *s, store_hook_count_fn fn, void *ud);
int pg_hook_release_leases(store_t *s);
int pg_hook_offline_sweep(store_t *s, int64_t now, int64_t default_interval, int64_t limit,
                          store_device_fn fn, void *ud);
int pg_hook_prune(store_t *s, int64_t before);

/* ---- store_pg_files.c ---- */
int pg_file_put(store_t *s, const store_file_t *f);
int pg_file_get(store_t *s, const char *name, store_file_t *out);
int pg_file_list(store_t *s, store_file_fn fn, void *ud);
int pg_file_delete(store_t *s, const char *name);
int pg_file_content_put(store_t *s, const char *name, const char *sha256, int64_t size,
                        store_piece_in_fn fn, void *ud);
int pg_file_content_get(store_t *s, const char *name, const char *sha256, store_piece_out_fn fn,
                        void *ud);
int pg_file_content_has(store_t *s, const char *name, const char *sha256, int64_t size);
int pg_file_upload_key(store_t *s, const unsigned char mine[32], unsigned char out[32]);

/* ---- store_pg_search.c ---- */
/* At open, after the migrations: the functions search and its index's triggers use. */
int pg_search_init(pg_t *p);
int pg_search_params_set(store_t *s, const char *const *names, size_t n);
int pg_device_search(store_t *s, const store_search_t *q, store_device_row_fn fn, void *ud,
                     int64_t *total);
/* head + WHERE (the search's filter) + tail, run: head and tail use $1..$base,
 * whose values are hv; the filter's follow. NULL with *err set on failure. */
PGresult *pg_filter_query(pg_t *p, const store_search_t *q, const char *head, int base,
                          const char *const *hv, const char *tail, const char *what, int *err);

/* ---- store_pg_bulk.c ---- */
int pg_bulk_create(store_t *s, store_bulk_t *b, const store_search_t *q, const char *ids_json,
                   int64_t now);
int pg_bulk_get(store_t *s, int64_t id, store_bulk_t *out);
int pg_bulk_tasks(store_t *s, int64_t id, store_task_status_t st, int64_t limit, store_task_fn fn,
                  void *ud);
int pg_bulk_running(store_t *s, store_bulk_fn fn, void *ud);
int pg_bulk_list(store_t *s, int state, int64_t before, int64_t limit, store_bulk_fn fn, void *ud);
int pg_bulk_release(store_t *s, int64_t id, int64_t n,
                    int (*fn)(int64_t task, const char *device, void *ud), void *ud);
int pg_bulk_rehold(store_t *s, int64_t task);
int pg_bulk_end(store_t *s, int64_t id, store_bulk_state_t st, const char *reason, int64_t now);

#endif
