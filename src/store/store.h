/*
 * store: the ACS's persistent state (devices, parameters, tasks, sessions)
 * behind one interface. SQL lives only in the backends (store_sqlite.c
 * today; a PostgreSQL backend is another store_backend_t, see store_impl.h),
 * so nothing above this floor knows which database is behind it.
 *
 * Threading. A store_t is one database connection: every call blocks on
 * disk and must not run on an event loop. Use it from one thread at a time,
 * normally through store_worker.h, which runs jobs on a dedicated thread and
 * groups them into one transaction per batch (one fsync for many writes).
 *
 * Ownership. Rows handed to callbacks live until the callback returns.
 * store_task_t's heap strings (params, result) belong to the struct; free
 * them with store_task_clear(). Everything else is fixed-size.
 *
 * Times are Unix seconds (int64). Errors are negative errno codes: -ENOENT
 * (no such row), -EBUSY (task no longer cancellable), -ESTALE (task not in
 * the state the transition needs), -EEXIST (a name taken), -EPERM (a preset
 * the config file owns), -EIO (database error, logged once here).
 */
#ifndef OUTPOST_STORE_STORE_H
#define OUTPOST_STORE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store_filter.h"

typedef struct store store_t;

enum {
    STORE_ID_MAX = 256,   /* device id "OUI-ProductClass-Serial", escaped */
    STORE_SHORT = 68,     /* manufacturer, OUI, class, serial, versions (64 chars + NUL) */
    STORE_URL = 260,
    STORE_TAGS = 512,
    STORE_TYPE = 24,
};

typedef struct store_opts {
    bool sync_full;           /* fsync every commit (synchronous=FULL); default NORMAL */
    int param_history;        /* old values kept per parameter; default 5 */
    int sessions_per_device;  /* session rows kept per device; default 20 */
    size_t session_log_max;   /* bytes of message log kept per session; default 64 KiB */
} store_opts_t;

/* url: "sqlite:PATH" or a plain path (SQLite). Creates the file and runs the
 * versioned migrations. */
int store_open(const char *url, const store_opts_t *opts, store_t **out);
void store_close(store_t *s);
/* Group several calls into one transaction (store_worker does this). */
int store_begin(store_t *s);
int store_commit(store_t *s);
int store_rollback(store_t *s);
/* Schema version after migrations (tests). */
int store_schema_version(store_t *s);

/* ---- device id -------------------------------------------------------------- */

/* "OUI-ProductClass-SerialNumber", each part with bytes outside
 * [A-Za-z0-9_.] percent-escaped (%2D for '-'), so the id is unambiguous and
 * URL-safe. -ENAMETOOLONG if it does not fit. */
int store_device_id(const char *oui, const char *product_class, const char *serial, char *out,
                    size_t outlen);

/* ---- devices ---------------------------------------------------------------- */

typedef struct store_device {
    char id[STORE_ID_MAX];
    char manufacturer[STORE_SHORT], oui[STORE_SHORT], product_class[STORE_SHORT],
        serial[STORE_SHORT];
    char software_version[STORE_SHORT], hardware_version[STORE_SHORT];
    char ip[64];
    char cr_url[STORE_URL];
    char cr_user[STORE_URL], cr_pass[STORE_URL]; /* connection request credentials */
    char tags[STORE_TAGS];                       /* comma-separated */
    int64_t first_seen, last_inform;
    int64_t periodic_interval;                   /* seconds; 0 unknown */
    char last_events[256];                       /* events of the last Inform, comma-separated */
} store_device_t;

/* Record an Inform: insert or update the device (cr_user/cr_pass/tags are
 * kept when the given ones are empty). bootstrap: forget its parameters. */
int store_device_inform(store_t *s, const store_device_t *d, bool bootstrap);
int store_device_get(store_t *s, const char *id, store_device_t *out);
/* Everything about the device goes: parameters, tasks, sessions. */
int store_device_delete(store_t *s, const char *id);
int store_device_set_tags(store_t *s, const char *id, const char *tags);
int store_device_set_cr_auth(store_t *s, const char *id, const char *user, const char *pass);

/* online = last_inform >= now - (2 * interval + 60). */
bool store_device_online(const store_device_t *d, int64_t now, int64_t default_interval);


/* ---- device search and pages (store_sqlite_search.c) --------------------------------- */

/* Sort orders of a search; every one ends with the device's row id (rid),
 * so pages are stable: a page starts strictly after (key, rid). */
typedef enum store_sort {
    STORE_SORT_ID = 0,
    STORE_SORT_SERIAL,
    STORE_SORT_MODEL,
    STORE_SORT_OUI,
    STORE_SORT_VERSION,
    STORE_SORT_LAST_INFORM,
    STORE_SORT_FIRST_SEEN,
    STORE_SORT_COUNT
} store_sort_t;

typedef struct store_search {
    const store_filter_t *filter;  /* NULL or empty: every device */
    int64_t now, default_interval; /* for online and times ago */
    store_sort_t sort;
    bool desc;
    /* keyset: rows after (key, rid) in the sort order, or before it when
     * backward (then the rows come nearest first: the caller reverses) */
    bool has_key, backward;
    const char *key_text;          /* text sorts */
    int64_t key_num;               /* last_inform, first_seen */
    int64_t key_rid;
    int64_t limit;                 /* <= 0: 100 */
    int64_t offset;
} store_search_t;

/* "id", "-last_inform"...: 0, or -EINVAL for an unknown name. */
int store_sort_parse(const char *name, store_sort_t *sort, bool *desc);
const char *store_sort_name(store_sort_t sort);
bool store_sort_numeric(store_sort_t sort);
/* The device's key in that order (text, or number for numeric sorts). */
const char *store_sort_key(const store_device_t *d, store_sort_t sort, int64_t *num);

/* The parameters whose values searches find through an index (param.NAME
 * =, ^=, and numeric comparisons over that name's values only); filters on
 * other parameters check each candidate device. Makes the stored set
 * exactly names[0..n): a new name's stored values are indexed now (one
 * pass over the parameters), a dropped one's index entries go. */
int store_search_params_set(store_t *s, const char *const *names, size_t n);

typedef int (*store_device_row_fn)(const store_device_t *d, int64_t rid, void *ud); /* non-zero stops */
/* The devices the filter matches, one page; total (may be NULL): how many
 * match in all. -EINVAL for a filter the backend cannot compile, -E2BIG
 * when too large. */
int store_device_search(store_t *s, const store_search_t *q, store_device_row_fn fn, void *ud,
                        int64_t *total);

typedef struct store_stats {
    int64_t total_devices, online_devices, pending_tasks, sent_tasks;
} store_stats_t;
int store_stats(store_t *s, int64_t now, int64_t default_interval, store_stats_t *out);
/* The open tasks (pending or sent) counted by type and status: fn once per
 * pair present. */
typedef int (*store_task_count_fn)(const char *type, int status, int64_t count, void *ud);
int store_task_open_counts(store_t *s, store_task_count_fn fn, void *ud);
/* The same for the tasks that finished (done, failed, expired, cancelled)
 * at a time in [from, to) (Unix s): /metrics adds up consecutive windows. */
int store_task_finished_counts(store_t *s, int64_t from, int64_t to, store_task_count_fn fn, void *ud);

/* ---- parameters ------------------------------------------------------------- */

typedef struct store_param {
    const char *name;
    const char *value;   /* NULL: name only (GetParameterNames), value kept */
    const char *type;    /* NULL: kept / "" */
    int writable;        /* -1: unknown, kept */
    int64_t updated;
} store_param_t;

/* Upsert; a changed value moves the old one into the bounded history. */
int store_params_put(store_t *s, const char *device, const store_param_t *p, size_t n, int64_t now);
typedef int (*store_param_fn)(const store_param_t *p, void *ud);
int store_params_list(store_t *s, const char *device, const char *prefix, store_param_fn fn,
                      void *ud);
/* Old values of one parameter, newest first (value, updated). */
int store_param_history(store_t *s, const char *device, const char *name, store_param_fn fn,
                        void *ud);

/* ---- tasks ------------------------------------------------------------------ */

typedef enum store_task_status {
    STORE_TASK_PENDING = 0,
    STORE_TASK_SENT,
    STORE_TASK_DONE,
    STORE_TASK_FAILED,
    STORE_TASK_EXPIRED,
    STORE_TASK_CANCELLED,
} store_task_status_t;

const char *store_task_status_name(store_task_status_t st);

/* What became of the connection request sent to wake the device for a
 * task: status "ok", "refused" (not sent: no or unusable URL, an address
 * the ACS may not contact) or "failed" (sent; no answer, or an error);
 * "" while none is known. */
typedef struct store_cr_note {
    char status[12];
    char reason[256];
    int64_t at;                 /* when it was known */
} store_cr_note_t;

typedef struct store_task {
    int64_t id;
    char device_id[STORE_ID_MAX];
    char type[STORE_TYPE];      /* "get_params", "reboot"... (the API's names) */
    char *params;               /* JSON text, owned */
    store_task_status_t status;
    char *result;               /* JSON text or NULL, owned */
    int fault_code;
    char fault_string[256];
    int attempts;
    int64_t created, updated, sent_at, done_at, expires_at;
    store_cr_note_t cr;         /* the connection request sent for it */
} store_task_t;

void store_task_clear(store_task_t *t);

/* Insert as pending; sets t->id and t->created. */
int store_task_add(store_t *s, store_task_t *t);
int store_task_get(store_t *s, int64_t id, store_task_t *out);
typedef int (*store_task_fn)(const store_task_t *t, void *ud);
/* A device's tasks, newest first (limit <= 0: 100). */
int store_task_list(store_t *s, const char *device, int64_t limit, store_task_fn fn, void *ud);
/* Pending tasks of a device in queue order. */
int store_task_pending(store_t *s, const char *device, int64_t limit, store_task_fn fn, void *ud);
/* Does the device have pending tasks? (cheap: reads no task rows) */
int store_task_has_pending(store_t *s, const char *device, bool *out);
/* pending -> sent (attempts+1). -ESTALE when it is no longer pending. */
int store_task_mark_sent(store_t *s, int64_t id, int64_t now);
/* pending/sent -> done|failed|expired with result/fault. Idempotent: a task
 * already finished is left alone (-ESTALE). */
int store_task_finish(store_t *s, int64_t id, store_task_status_t st, const char *result_json,
                      int fault_code, const char *fault_string, int64_t now);
/* sent -> pending again (the session died before the answer and the type
 * is safe to repeat). -ESTALE when it is not `sent`. */
int store_task_requeue(store_t *s, int64_t id, int64_t now);
/* Record how waking the device for this task went (any status). */
int store_task_set_cr(store_t *s, int64_t id, const store_cr_note_t *note);
/* pending -> cancelled; -EBUSY once sent, -ESTALE when finished. */
int store_task_cancel(store_t *s, int64_t id, int64_t now);
/* After a restart: tasks left `sent` whose type is in requeue_types (NULL
 * terminated; safe to run again) go back to pending. Returns how many. */
int store_task_recover(store_t *s, const char *const *requeue_types, int64_t now);
/* pending/sent past expires_at -> expired. Returns how many. */
int store_task_expire(store_t *s, int64_t now);
/* Devices with pending tasks (for wake-ups after a restart). */
int store_task_devices_pending(store_t *s, int64_t limit,
                               int (*fn)(const char *device, void *ud), void *ud);

/* ---- bulk tasks (store_sqlite_bulk.c) ------------------------------------------------- */

/* A bulk: one task per device a filter (or an id list) matched, made in
 * one transaction. Its tasks start held (pending, but no session takes
 * them) and the ACS releases them at its pace: a connection request rate
 * and at most max_in_flight released and unfinished at once. */
typedef enum store_bulk_state {
    STORE_BULK_RUNNING = 0,
    STORE_BULK_DONE,       /* every task finished */
    STORE_BULK_CANCELLED,  /* DELETE: what was not sent was cancelled */
    STORE_BULK_STOPPED,    /* the failure ratio passed its threshold: held tasks cancelled */
} store_bulk_state_t;

const char *store_bulk_state_name(store_bulk_state_t st);

typedef struct store_bulk {
    int64_t id;
    char type[STORE_TYPE];
    char *params;               /* the task's JSON parameters, owned (store_bulk_clear) */
    char *filter;               /* the filter text ("" for an id list), owned */
    int64_t total;              /* tasks made */
    store_bulk_state_t state;
    char reason[160];
    int64_t max_in_flight;      /* 0: no cap */
    double max_failure_ratio;   /* 0: never stops */
    int64_t min_finished;       /* finished tasks before the ratio counts */
    int64_t created, updated, expires_at;
    /* counts of its tasks (read side) */
    int64_t held, pending, sent, done, failed, expired, cancelled;
} store_bulk_t;

void store_bulk_clear(store_bulk_t *b);
/* Make the bulk and its tasks: devices that q's filter matches, or whose
 * id is in ids_json (a JSON array of strings) when that is not NULL. Sets
 * b->id, b->total and b->created. -ENODATA when no device matched
 * (nothing is written). */
int store_bulk_create(store_t *s, store_bulk_t *b, const store_search_t *q, const char *ids_json,
                      int64_t now);
/* The bulk with its counts. */
int store_bulk_get(store_t *s, int64_t id, store_bulk_t *out);
/* Its tasks in one status, by id (limit <= 0: 100). */
int store_bulk_tasks(store_t *s, int64_t id, store_task_status_t st, int64_t limit,
                     store_task_fn fn, void *ud);
/* Bulks still running, with counts, oldest first. */
typedef int (*store_bulk_fn)(const store_bulk_t *b, void *ud);
int store_bulk_running(store_t *s, store_bulk_fn fn, void *ud);
/* Release up to n held tasks (oldest first): fn(task id, device id) each. */
int store_bulk_release(store_t *s, int64_t id, int64_t n,
                       int (*fn)(int64_t task, const char *device, void *ud), void *ud);
/* Hold a released task again (its connection request could not go yet). */
int store_bulk_rehold(store_t *s, int64_t task);
/* Set the state; CANCELLED cancels every task not sent, STOPPED the held
 * ones. Returns how many tasks were cancelled; -ESTALE when the bulk is
 * no longer running. */
int store_bulk_end(store_t *s, int64_t id, store_bulk_state_t st, const char *reason, int64_t now);

/* ---- sessions --------------------------------------------------------------- */

typedef struct store_session {
    int64_t id;
    char device_id[STORE_ID_MAX];
    int64_t started;
    int64_t duration_ms;
    char events[256];
    int rpcs;
    char outcome[64];
    const char *log;   /* capped message log (read side) */
} store_session_t;

/* One row per finished session (written once, at its end); the log is cut
 * to session_log_max bytes (its tail is kept) and the device's sessions
 * beyond sessions_per_device are dropped. Sets ss->id. */
int store_session_add(store_t *s, store_session_t *ss, const char *log, size_t loglen);
typedef int (*store_session_fn)(const store_session_t *ss, void *ud);
int store_session_list(store_t *s, const char *device, int64_t limit, store_session_fn fn,
                       void *ud);

/* ---- provisioning: presets, scripts, preset runs ---------------------------------- */

enum { STORE_NAME = 65 }; /* a preset's, provision's or virtual parameter's name + NUL */

/* A preset: its body is JSON text (acs/provision/preset.h says what it
 * holds; the store does not look inside). source: "api" (written through
 * the REST API) or "config" (the config file's presets: section, which
 * only store_preset_sync_config() writes). */
typedef struct store_preset {
    const char *name;
    const char *body;
    const char *source;
    int64_t created, updated;
} store_preset_t;
typedef int (*store_preset_fn)(const store_preset_t *p, void *ud); /* non-zero stops */

/* Write an API preset: create_only refuses an existing name (-EEXIST);
 * otherwise create or replace. -EPERM for a name the config file defines.
 * Returns 1 when created, 0 when replaced. */
int store_preset_put(store_t *s, const char *name, const char *body, bool create_only, int64_t now);
int store_preset_get(store_t *s, const char *name, store_preset_fn fn, void *ud);
/* Every preset, by name. */
int store_preset_list(store_t *s, store_preset_fn fn, void *ud);
/* The preset and its runs go; -EPERM for a config one. */
int store_preset_delete(store_t *s, const char *name);
/* Make the stored config presets exactly p[0..n) (source "config"): new
 * ones are added, changed ones replaced, those no longer given deleted with
 * their runs. A config preset replaces an API one of the same name: the
 * file wins; `replaced` (may be NULL) is called with each such API preset
 * first. */
int store_preset_sync_config(store_t *s, const store_preset_t *p, size_t n, int64_t now,
                             store_preset_fn replaced, void *ud);

/* Lua sources by name: provisions and virtual parameters (two name spaces). */
typedef enum store_script_kind { STORE_SCRIPT_PROVISION = 0, STORE_SCRIPT_VIRTUAL_PARAM } store_script_kind_t;
typedef struct store_script {
    const char *name;
    const char *source; /* NULL in lists */
    int64_t size;       /* bytes of source */
    int64_t updated;
} store_script_t;
typedef int (*store_script_fn)(const store_script_t *sc, void *ud);
/* Create or replace: 1 created, 0 replaced. */
int store_script_put(store_t *s, store_script_kind_t k, const char *name, const char *source,
                     size_t len, int64_t now);
int store_script_get(store_t *s, store_script_kind_t k, const char *name, store_script_fn fn, void *ud);
int store_script_list(store_t *s, store_script_kind_t k, store_script_fn fn, void *ud);
int store_script_delete(store_t *s, store_script_kind_t k, const char *name);

/* What became of a preset on a device (acs/provision/preset.h decides when
 * it runs again from this). */
typedef enum store_preset_status {
    STORE_PRESET_DONE = 1,
    STORE_PRESET_FAULT = 2,
    STORE_PRESET_PENDING = 3, /* to run at the next session (an operator cleared its fault) */
} store_preset_status_t;

const char *store_preset_status_name(store_preset_status_t st);

typedef struct store_preset_run {
    char device_id[STORE_ID_MAX];
    char preset[STORE_NAME];
    store_preset_status_t status;
    int fault_code;
    char fault_message[256];
    int tries;               /* failed tries in a row */
    int64_t next_retry;      /* a fault may be retried from then (0: not at all) */
    int64_t last_event;      /* the Inform time of the session that ran it last */
    int64_t updated;
    char fault_provision[STORE_NAME]; /* the provision that faulted ("" none) */
    int fault_line;          /* its script line (0 unknown) */
} store_preset_run_t;
typedef int (*store_preset_run_fn)(const store_preset_run_t *r, void *ud);

/* Insert or replace the device's record of r->preset. */
int store_preset_run_put(store_t *s, const store_preset_run_t *r);
/* A device's records, by preset name. */
int store_preset_run_list(store_t *s, const char *device, store_preset_run_fn fn, void *ud);
/* fault -> pending with tries 0 (it runs at the device's next session);
 * -ENOENT without a record, -ESTALE when it is not a fault. */
int store_preset_run_clear_fault(store_t *s, const char *device, const char *preset, int64_t now);
/* Every record a later session owes a run, whatever its events: a fault
 * with a retry to come (next_retry > 0), or pending (its fault cleared).
 * The ACS reads them once at start (acs_prov_cache.c). */
int store_preset_run_owed(store_t *s, store_preset_run_fn fn, void *ud);

#endif
