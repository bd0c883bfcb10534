/*
 * store_sqlite: internals shared by the SQLite backend's files
 * (store_sqlite.c: connection, migrations, devices, parameters;
 * store_sqlite_tasks.c: tasks and sessions; store_sqlite_prov.c: presets,
 * scripts, preset runs; store_sqlite_keys.c: API keys). Not for use outside
 * src/store.
 */
#ifndef OUTPOST_STORE_SQLITE_H
#define OUTPOST_STORE_SQLITE_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store_impl.h"

enum {
    Q_DEV_INFORM,
    Q_DEV_GET,
    Q_PARAMS_FORGET,
    Q_DEV_RID,
    Q_PARAM_PUT,
    Q_PARAM_PUT_NAME,
    Q_TASK_ADD,
    Q_TASK_GET,
    Q_TASK_SENT,
    Q_TASK_FINISH,
    Q_SESSION_ADD,
    Q_SESSION_TRIM,
    Q_TASK_PENDING,
    Q_PARAM_PUT_MANY,
    Q_TASK_HAS_PENDING,
    Q_RUN_PUT,
    Q_RUN_LIST,
    Q_PARAMS_LIST,
    Q_PARAMS_LIST_PREFIX,
    Q_PARAM_PUT_NAMES_MANY, /* history: GetParameterNames rows, PUT_MANY at once */
    Q_TX_BEGIN, /* transaction control, in exec_tx order */
    Q_TX_COMMIT,
    Q_TX_ROLLBACK,
    Q_TX_SAVEPOINT,
    Q_TX_RELEASE,
    Q_TX_ROLLBACK_TO,
    Q_TASK_OUTCOME,
    Q_DEV_TOUCH,
    Q_TASK_PARAMS_ADD,
    Q_TASK_ADD_SAVEPOINT, /* sq_task_add's own savepoint, in this order */
    Q_TASK_ADD_RELEASE,
    Q_TASK_ADD_ROLLBACK_TO,
    Q_COUNT
};


/* Parameters written PUT_MANY rows per statement: one step instead of
 * PUT_MANY (long lists are the ACS's heaviest writes). */
enum { PUT_MANY = 32 };

typedef struct sq_ckpt sq_ckpt_t;

typedef struct sq {
    struct store base;
    sqlite3 *db;
    store_opts_t o;
    sqlite3_stmt *st[Q_COUNT];
    sq_ckpt_t *ckpt;   /* the WAL checkpointer thread (store_sqlite_ckpt.c), or NULL */
} sq_t;

/* store_sqlite_ckpt.c: WAL checkpoints on a thread and connection of their
 * own instead of inside the writer's commits (a daemon's store; not tools'). */
int sq_ckpt_start(sq_t *q, const char *path);
void sq_ckpt_stop(sq_t *q);

#define SQ(s) ((sq_t *)(s))
/* (FROM tasks) a task's params: task_params' for long ones (migration 12) */
#define TASK_COLS \
    "id, device_id, type," \
    " COALESCE((SELECT tp.params FROM task_params tp WHERE tp.id = tasks.id), params)," \
    " status, result, fault_code, fault_string, attempts, created," \
    " updated, sent_at, done_at, expires_at, cr_status, cr_reason, cr_at"
/* Task parameters longer than this go to task_params, not the tasks row. */
enum { TASK_PARAMS_INLINE_MAX = 512 };
#define RUN_COLS \
    "device_id, preset, status, fault_code, fault_message, tries, next_retry, last_event, updated," \
    " fault_provision, fault_line"
/* a parameter row as store_params_list reads it (sq_param_row) */
#define PARAM_COLS "name, value, type, writable, updated, set_by, set_at, notification, access_list"
/* the upsert's setter: kept while the value stays the same */
#define PARAM_SET_BY \
    " set_by=CASE WHEN value IS excluded.value THEN set_by ELSE excluded.set_by END," \
    " set_at=CASE WHEN value IS excluded.value THEN set_at ELSE excluded.set_at END"
#define DEV_COLS \
    "id, manufacturer, oui, product_class, serial, software_version, hardware_version, ip," \
    " cr_url, cr_user, cr_pass, tags, first_seen, last_inform, periodic_interval, last_events," \
    " cr_udp, cr_udp_at, cr_nat, cr_jid"

/* Helpers (store_sqlite.c). Errors are logged once, as -EIO. */
int sq_err(sq_t *q, const char *what);
/* A cached statement, reset and unbound. */
sqlite3_stmt *sq_stmt(sq_t *q, int i);
/* A one-off statement (finalize it). */
sqlite3_stmt *sq_prepare(sq_t *q, const char *sql);
void sq_bind_text(sqlite3_stmt *st, int i, const char *s);
/* Run a statement that returns no rows: changes() or -EIO. */
int sq_step_done(sq_t *q, sqlite3_stmt *st, const char *what);
int sq_exec(sq_t *q, const char *sql);
void sq_col_copy(sqlite3_stmt *st, int i, char *out, size_t len);
char *sq_col_dup(sqlite3_stmt *st, int i);
/* A row of DEV_COLS into d. */
void sq_dev_row(sqlite3_stmt *st, store_device_t *d);
/* First column of the first row, -1 when none. */
int64_t sq_scalar(sq_t *q, const char *sql, int64_t a, int64_t b);

/* store_sqlite_search.c */
int sq_search_init(sqlite3 *db);
int sq_search_params_set(store_t *s, const char *const *names, size_t n);
/* head + WHERE (the search's filter) + tail, prepared with the filter's
 * values bound after the caller's ?1..?base (head and tail use those). */
int sq_filter_prepare(sq_t *sq, const store_search_t *q, const char *head, int base,
                      const char *tail, sqlite3_stmt **out);
int sq_device_search(store_t *s, const store_search_t *q, store_device_row_fn fn, void *ud,
                     int64_t *total);

/* store_sqlite_bulk.c */
int sq_bulk_create(store_t *s, store_bulk_t *b, const store_search_t *q, const char *ids_json,
                   int64_t now);
int sq_bulk_get(store_t *s, int64_t id, store_bulk_t *out);
int sq_bulk_tasks(store_t *s, int64_t id, store_task_status_t st, int64_t limit, store_task_fn fn,
                  void *ud);
int sq_bulk_running(store_t *s, store_bulk_fn fn, void *ud);
int sq_bulk_list(store_t *s, int state, int64_t before, int64_t limit, store_bulk_fn fn, void *ud);
int sq_bulk_release(store_t *s, int64_t id, int64_t n,
                    int (*fn)(int64_t task, const char *device, void *ud), void *ud);
int sq_bulk_rehold(store_t *s, int64_t task);
int sq_bulk_end(store_t *s, int64_t id, store_bulk_state_t st, const char *reason, int64_t now);

/* store_sqlite_tasks.c */
/* The task row of a SELECT TASK_COLS. */
void sq_task_row(sqlite3_stmt *st, store_task_t *t);
/* Each row of a stepped SELECT TASK_COLS to fn until it returns non-zero
 * (st is left to the caller to reset or finalize); 0 or the store's error. */
int sq_task_rows(sq_t *q, sqlite3_stmt *st, store_task_fn fn, void *ud, const char *what);
int sq_task_add(store_t *s, store_task_t *t);
int sq_task_get(store_t *s, int64_t id, store_task_t *out);
int sq_task_outcome(store_t *s, int64_t id, store_task_t *out);
int sq_task_list(store_t *s, const char *dev, int64_t limit, bool pending_only, store_task_fn fn, void *ud);
int sq_task_query(store_t *s, const store_task_query_t *q, store_task_fn fn, void *ud);
int sq_task_has_pending(store_t *s, const char *dev, bool *out);
int sq_task_mark_sent(store_t *s, int64_t id, int64_t now);
int sq_task_finish(store_t *s, int64_t id, store_task_status_t status, const char *result, int fault_code, const char *fault_string, int64_t now);
int sq_task_cancel(store_t *s, int64_t id, int64_t now);
int sq_task_set_cr(store_t *s, int64_t id, const store_cr_note_t *note);
int sq_task_requeue(store_t *s, int64_t id, int64_t now);
int sq_task_recover(store_t *s, const char *const *types, int64_t now, bool startup,
                    int (*fn)(const char *, void *), void *ud);
int sq_task_lease_renew(store_t *s, const char *ids, int64_t until);
int sq_try_leader(store_t *s, const char *what);
int sq_notify(store_t *s, const char *channel, const char *payload);
int sq_task_expire(store_t *s, int64_t now);
int sq_task_trim(store_t *s, int64_t before, int max);
int sq_task_devices_pending(store_t *s, int64_t limit, int (*fn)(const char *, void *), void *ud);
int sq_session_add(store_t *s, store_session_t *ss, const char *log, size_t loglen);
int sq_session_list(store_t *s, const char *dev, int64_t limit, store_session_fn fn, void *ud);

/* store_sqlite_history.c */
bool sq_set_by_acs(const store_param_t *p);
/* PUT_MANY names with their writability, in one statement (?1 device, ?2 now) */
const char *sq_put_names_sql(void);
void sq_param_row(sqlite3_stmt *st, store_param_t *p); /* PARAM_COLS */
int sq_param_history(store_t *s, const char *dev, const char *name, store_param_fn fn, void *ud);
int sq_params_delete_object(store_t *s, const char *dev, const char *prefix);
int sq_params_set_attributes(store_t *s, const char *dev, const store_param_attr_t *a, size_t n,
                             int64_t now);
int sq_device_set_facts(store_t *s, const char *dev, const store_device_facts_t *f);
int sq_fault_list(store_t *s, const store_fault_filter_t *f, int64_t *total, store_fault_fn fn,
                  void *ud);
int sq_task_fault_clear(store_t *s, int64_t task_id, int64_t now);
int sq_preset_run_forget_fault(store_t *s, const char *device, const char *preset);
int sq_device_set_session_log(store_t *s, const char *dev, bool all);
int sq_device_session_log_list(store_t *s, int (*fn)(const char *, void *), void *ud);

/* store_sqlite_prov.c */
int sq_preset_write(store_t *s, const char *name, const char *body, bool exists, int64_t now);
int sq_preset_get(store_t *s, const char *name, store_preset_fn fn, void *ud);
int sq_preset_list(store_t *s, store_preset_fn fn, void *ud);
int sq_preset_delete(store_t *s, const char *name);
int sq_preset_sync_config(store_t *s, const store_preset_t *p, size_t n, int64_t now,
                          store_preset_fn replaced, void *ud);
int sq_script_put(store_t *s, store_script_kind_t k, const char *name, const char *source,
                  size_t len, int64_t now);
int sq_script_get(store_t *s, store_script_kind_t k, const char *name, store_script_fn fn, void *ud);
int sq_script_list(store_t *s, store_script_kind_t k, store_script_fn fn, void *ud);
int sq_script_delete(store_t *s, store_script_kind_t k, const char *name);
int sq_preset_run_put(store_t *s, const store_preset_run_t *r);
int sq_preset_run_list(store_t *s, const char *device, store_preset_run_fn fn, void *ud);
int sq_preset_run_clear_fault(store_t *s, const char *device, const char *preset, int64_t now);
int sq_preset_run_owed(store_t *s, store_preset_run_fn fn, void *ud);

/* store_sqlite_keys.c */
int sq_key_add(store_t *s, const store_key_t *k);
int sq_key_delete(store_t *s, const char *id);
int sq_key_list(store_t *s, store_key_fn fn, void *ud);
int sq_key_touch(store_t *s, const char *id, int64_t when);
int sq_key_version(store_t *s, int64_t *out);
/* store_sqlite_hooks.c: webhooks */
int sq_hook_enqueue(store_t *s, store_hook_delivery_t *d, int64_t max_pending);
int sq_hook_claim(store_t *s, int64_t now, int64_t lease_until, int64_t limit,
                  store_hook_delivery_fn fn, void *ud, int64_t *next_due);
int sq_hook_result(store_t *s, const store_hook_delivery_t *d, int64_t now);
int sq_hook_list(store_t *s, int status, int64_t limit, store_hook_delivery_fn fn, void *ud);
int sq_hook_retry(store_t *s, int64_t id, int64_t now, int64_t deadline, store_hook_delivery_t *out);
int sq_hook_counts(store_t *s, store_hook_count_fn fn, void *ud);
int sq_hook_release_leases(store_t *s);
int sq_hook_offline_sweep(store_t *s, int64_t now, int64_t default_interval, int64_t limit,
                          store_device_fn fn, void *ud);
int sq_hook_prune(store_t *s, int64_t before);
/* store_sqlite_files.c */
int sq_file_put(store_t *s, const store_file_t *f);
int sq_file_get(store_t *s, const char *name, store_file_t *out);
int sq_file_list(store_t *s, store_file_fn fn, void *ud);
int sq_file_delete(store_t *s, const char *name);

#endif
