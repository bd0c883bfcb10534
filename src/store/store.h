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
 * the config file owns), -EIO (database error, logged once here), -ENOSPC (a
 * table's cap).
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
    bool tool;                /* a command-line tool beside a running daemon (`outpost acs
                               * keys`): the daemon's settings (param_history) are left alone */
    const char *app_name;     /* PostgreSQL's application_name (pg_stat_activity); NULL "outpost" */
} store_opts_t;

/* url: "sqlite:PATH" or a plain path (SQLite), or "postgres://..." /
 * "postgresql://..." (PostgreSQL: a libpq URL; its PG* environment variables
 * and service files apply). Creates the file or the tables and runs the
 * versioned migrations. */
int store_open(const char *url, const store_opts_t *opts, store_t **out);
void store_close(store_t *s);
/* Group several calls into one transaction (store_worker does this).
 * -ENOTCONN from begin or commit: the database could not be reached (a
 * PostgreSQL server away): nothing was stored, the next begin reconnects. */
int store_begin(store_t *s);
int store_commit(store_t *s);
int store_rollback(store_t *s);
/* Schema version after migrations (tests). */
int store_schema_version(store_t *s);
/* Round trips to a database server so far (the times an answer was waited
 * for): 0 for SQLite. Any thread may read it (/metrics). */
uint64_t store_round_trips(const store_t *s);

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
    /* reaching it behind NAT (store_device_set_facts; store_device_inform
     * leaves them alone): UDPConnectionRequestAddress "host:port" and when it
     * was learnt, NATDetected, ConnReqJabberID */
    char cr_udp[STORE_SHORT];
    int64_t cr_udp_at;
    bool cr_nat;
    char cr_jid[STORE_URL];
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

typedef int (*store_device_fn)(const store_device_t *d, void *ud); /* non-zero stops */
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
/* Devices counted by one column's value, most first (then by value): by
 * STORE_BY_MODEL (product_class) or STORE_BY_VERSION (software_version);
 * fn gets at most `limit` values; *others (may be NULL) counts the devices
 * of the values left out. 0 or -EIO. (The Overview's breakdown.) */
typedef enum store_by { STORE_BY_MODEL = 0, STORE_BY_VERSION = 1 } store_by_t;
typedef int (*store_count_fn)(const char *value, int64_t count, void *ud); /* non-zero stops */
int store_device_counts(store_t *s, store_by_t by, int64_t limit, store_count_fn fn, void *ud,
                        int64_t *others);
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
    int64_t updated;     /* when last written or read back */
    /* Who set the value: STORE_SET_BY_ACS for what the CPE accepted from the
     * ACS (a set_params, a provision); NULL or "cpe": the CPE reported it.
     * A value reported again unchanged keeps its setter and set_at. */
    const char *set_by;
    /* read side only (store_params_list, store_param_history): */
    int64_t set_at;      /* when the value became what it is (history: that old value) */
    int notification;    /* -1: unknown; 0 off, 1 passive, 2 active (and 3-6) */
    const char *access_list; /* NULL: unknown; comma-separated ("Subscriber") */
} store_param_t;

#define STORE_SET_BY_ACS "acs"
#define STORE_SET_BY_CPE "cpe"

/* Upsert; a changed value moves the old one (its setter, when it was set)
 * into the bounded history (store_opts_t.param_history values per
 * parameter). */
int store_params_put(store_t *s, const char *device, const store_param_t *p, size_t n, int64_t now);
typedef int (*store_param_fn)(const store_param_t *p, void *ud);
int store_params_list(store_t *s, const char *device, const char *prefix, store_param_fn fn,
                      void *ud);
/* Old values of one parameter, newest first (value, set_by, and when it
 * was set in set_at and updated). */
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
/* The same, queued by the device's own live session on this node (its
 * provisioning, its bootstrap discovery): that session takes it itself, so
 * the other nodes are not told (no STORE_CHANNEL_QUEUED: a NOTIFY and a
 * note to every node for nothing, on a session's hot path). */
int store_task_add_quiet(store_t *s, store_task_t *t);
int store_task_get(store_t *s, int64_t id, store_task_t *out);
/* Only id, device_id, type, status, fault_code and fault_string (params and
 * result NULL, the rest 0): what a finished task's event needs, without
 * reading its parameter lists. -ENOENT when there is no such task. */
int store_task_outcome(store_t *s, int64_t id, store_task_t *out);
typedef int (*store_task_fn)(const store_task_t *t, void *ud);
/* A device's tasks, newest first (limit <= 0: 100). */
int store_task_list(store_t *s, const char *device, int64_t limit, store_task_fn fn, void *ud);
/* Pending tasks of a device in queue order. */
int store_task_pending(store_t *s, const char *device, int64_t limit, store_task_fn fn, void *ud);
/* Does the device have pending tasks? (cheap: reads no task rows) */
int store_task_has_pending(store_t *s, const char *device, bool *out);
/* pending -> sent (attempts+1), leased to this handle's node until
 * now + its lease (store_set_node). -ESTALE when it is no longer pending. */
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
/* Tasks left `sent` whose type is in requeue_types (NULL terminated; safe
 * to run again) and whose lease ran out (lease_until < now) go back to
 * pending: their node died or lost its session without putting them back.
 * startup: this node just started, so none of its own tasks is in flight:
 * those go back too whatever their lease says, and on SQLite (one node by
 * construction) every `sent` one does, as before leases. fn (may be NULL)
 * gets each requeued task's device (for a wake-up). Returns how many. */
int store_task_recover(store_t *s, const char *const *requeue_types, int64_t now, bool startup,
                       int (*fn)(const char *device, void *ud), void *ud);

/* ---- several nodes on one store ---------------------------------------------------- */

enum { STORE_NODE_MAX = 64, STORE_LEASE_DEFAULT = 60 };
/* This handle's node id (a sent task's owner) and the lease a sent task
 * gets (seconds; <= 0: STORE_LEASE_DEFAULT). Set once, before the store is
 * shared with the worker. An empty node id stays the default "" owner. */
void store_set_node(store_t *s, const char *node, int64_t lease_s);
const char *store_node(const store_t *s);
int64_t store_lease(const store_t *s);
/* The node still has these tasks out in live sessions: their leases move
 * to now + the lease, in one statement (only rows still `sent` and owned by
 * this node). Returns how many rows it renewed. */
int store_task_lease_renew(store_t *s, const int64_t *ids, size_t n, int64_t now);
/* Whether this node should run the cluster-wide sweep `what` now: a
 * transaction-scoped advisory lock on PostgreSQL (pg_try_advisory_xact_lock,
 * released at the job's commit), so one node at a time does it; always 1 on
 * SQLite. 1 yes, 0 another node holds it, < 0 the store failed. Call it
 * from inside a store job (the worker's transaction). */
int store_try_leader(store_t *s, const char *what);
/* Tell the other nodes (PostgreSQL NOTIFY, sent only if the job's
 * transaction commits: pg_notify(channel, payload)). A no-op on SQLite.
 * payload up to 7999 bytes. */
int store_notify(store_t *s, const char *channel, const char *payload);
/* The channels the store itself notifies on a shared store, each payload
 * "NODE WHAT" (NODE: the writer's node id, so a node can skip its own):
 *   STORE_CHANNEL_TASK  a task finished (store_task_finish, _cancel): WHAT
 *                       is its id; "*" after store_task_expire expired some
 *                       (a listener re-checks whoever waits on an expiry)
 *   STORE_CHANNEL_PROV  a preset or script changed (put, delete, the
 *                       config's sync): the provisioning snapshot is stale
 *   STORE_CHANNEL_QUEUED  a task was queued (store_task_add; a bulk's held ones and
 *                       store_task_add_quiet's not):
 *                       WHAT is its device (a live session elsewhere looks) */
#define STORE_CHANNEL_TASK "outpost_task"
#define STORE_CHANNEL_PROV "outpost_prov"
#define STORE_CHANNEL_QUEUED "outpost_queued"
/* An application's own channel: the live events one node shares with the
 * others' event streams (acs_evshare.c), "NODE LINES". */
#define STORE_CHANNEL_EVENT "outpost_event"
/* A node's interest in news only some nodes want (e.g. "events": it has
 * event streams open), so the others tell it only while it does: this
 * node wants `what` until `until` (Unix s; 0: no more). store_watched: 1
 * when another node wants it at `now`, else 0. No-ops (0) on an unshared
 * store. Interests a day past their end are forgotten. */
int store_watch_set(store_t *s, const char *what, int64_t until, int64_t now);
int store_watched(store_t *s, const char *what, int64_t now);
/* Whether other nodes may share this store (PostgreSQL). */
bool store_shared(const store_t *s);
/* pending/sent past expires_at -> expired. Returns how many. */
int store_task_expire(store_t *s, int64_t now);
/* Finished tasks (done, failed, expired, cancelled) that finished before
 * `before` are deleted, at most `max` of them (oldest first), so the table
 * does not grow with the fleet's history. Kept whatever their age: a failed
 * task whose fault nobody cleared (it is on the faults list) and a bulk's
 * tasks (its counts are read from them). Returns how many went. */
int store_task_trim(store_t *s, int64_t before, int max);
/* Tasks across the fleet, newest first (by id): the API's GET /api/tasks. */
typedef struct store_task_query {
    const char *device;         /* NULL: every device */
    int status;                 /* a store_task_status_t; -1: any */
    int64_t bulk;               /* a bulk's tasks only; 0: any */
    int64_t before;             /* ids below this (the page's cursor); 0: from the newest */
    int64_t limit;              /* <= 0: 100 */
} store_task_query_t;
int store_task_query(store_t *s, const store_task_query_t *q, store_task_fn fn, void *ud);
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
/* Every bulk (state < 0) or those in one state, with counts, newest first,
 * ids below before (0: from the newest), at most limit (<= 0: 100). */
int store_bulk_list(store_t *s, int state, int64_t before, int64_t limit, store_bulk_fn fn, void *ud);
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
    /* the ACS's RPCs in order, comma-separated, each "Name" or
     * "Name:FAULTCODE" when the CPE answered with a fault; a cut list ends
     * with ",..." */
    char rpc_list[512];
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
 * Returns 1 when created, 0 when replaced; -EAGAIN in the unlikely case
 * that other nodes changed the row under each of a few tries. */
int store_preset_put(store_t *s, const char *name, const char *body, bool create_only, int64_t now);
int store_preset_get(store_t *s, const char *name, store_preset_fn fn, void *ud);
/* Every preset, by name. */
int store_preset_list(store_t *s, store_preset_fn fn, void *ud);
/* The preset and its runs go; -EPERM for a config one (-EAGAIN: as above). */
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

/* ---- API keys (the ACS's bearer tokens with roles; acs/acs_keys.c) ------------------ */

/* Only the SHA-256 of a key's secret is stored; the secret is shown once
 * when the key is made and never again. The daemon keeps the keys in
 * memory and reloads them when the version below changes (the command
 * line, `outpost acs keys`, writes the same database). */
enum { STORE_KEY_ID = 17, STORE_KEY_HASH = 65, STORE_KEYS_MAX = 1000 };
typedef struct store_key {
    char id[STORE_KEY_ID];      /* public id: 12 lowercase hex digits */
    char hash[STORE_KEY_HASH];  /* SHA-256 of the secret, lowercase hex */
    char name[STORE_NAME];      /* the operator's label */
    char role[12];              /* "viewer", "operator", "admin" (not checked here) */
    int64_t created, last_used; /* last_used 0: never (recorded to the minute) */
} store_key_t;
typedef int (*store_key_fn)(const store_key_t *k, void *ud); /* non-zero stops */

/* -EEXIST when the id or hash is taken, -ENOSPC past STORE_KEYS_MAX keys. */
int store_key_add(store_t *s, const store_key_t *k);
/* -ENOENT for an unknown id. */
int store_key_delete(store_t *s, const char *id);
/* Every key, oldest first. */
int store_key_list(store_t *s, store_key_fn fn, void *ud);
/* last_used = when, if later (an unknown id is no error: revoked meanwhile). */
int store_key_touch(store_t *s, const char *id, int64_t when);
/* Changes with every add and delete, whoever made them. */
int store_key_version(store_t *s, int64_t *out);
/* ---- webhooks: the durable delivery queue (store_sqlite_hooks.c) ------------------- */

/* A delivery is one event for one configured hook: pending until its
 * receiver answers 2xx (delivered) or its retry window (deadline) is over
 * (failed). The ACS's dispatcher claims due rows with a lease, so a row is
 * never sent twice at once; leases are released at start (a crash leaves
 * no row stuck). */
typedef enum store_hook_status {
    STORE_HOOK_PENDING = 0,
    STORE_HOOK_DELIVERED = 1,
    STORE_HOOK_FAILED = 2,
} store_hook_status_t;

enum { STORE_HOOK_EVENT = 32, STORE_HOOK_ERROR = 256 };

typedef struct store_hook_delivery {
    int64_t id;
    char hook[STORE_NAME];
    char event[STORE_HOOK_EVENT];
    const char *body;          /* JSON text: the request body (borrowed) */
    store_hook_status_t status;
    int attempts;
    int64_t next_attempt, deadline, created, updated;
    int last_status;           /* the receiver's HTTP status last time (0: none) */
    char last_error[STORE_HOOK_ERROR];
} store_hook_delivery_t;
typedef int (*store_hook_delivery_fn)(const store_hook_delivery_t *d, void *ud);
typedef int (*store_hook_count_fn)(const char *hook, store_hook_status_t st, int64_t count, void *ud);

const char *store_hook_status_name(store_hook_status_t st);
/* "pending", "delivered", "failed" -> the status; -1 for anything else. */
int store_hook_status_parse(const char *name);
/* Queue d (hook, event, body, next_attempt, deadline, created) as pending;
 * sets d->id. -ENOSPC when max_pending rows are pending already (nothing
 * written: the new one is refused, the queue keeps its order). */
int store_hook_enqueue(store_t *s, store_hook_delivery_t *d, int64_t max_pending);
/* Up to `limit` pending rows due at `now` and not leased, oldest due first:
 * each is leased until lease_until, then handed to fn. *next_due: the
 * earliest next_attempt of the pending rows left (0: none). */
int store_hook_claim(store_t *s, int64_t now, int64_t lease_until, int64_t limit,
                     store_hook_delivery_fn fn, void *ud, int64_t *next_due);
/* An attempt's outcome: d->status, attempts, next_attempt, last_status,
 * last_error (the lease goes). */
int store_hook_result(store_t *s, const store_hook_delivery_t *d, int64_t now);
/* Deliveries newest first, of one status (-1: any); limit <= 0: 100. */
int store_hook_list(store_t *s, int status, int64_t limit, store_hook_delivery_fn fn, void *ud);
/* failed -> pending, due now, with a new deadline; out (may be NULL) gets
 * the row. -ENOENT, -ESTALE (not failed). */
int store_hook_retry(store_t *s, int64_t id, int64_t now, int64_t deadline, store_hook_delivery_t *out);
/* Rows by hook and status: fn once per pair present. */
int store_hook_counts(store_t *s, store_hook_count_fn fn, void *ud);
/* At start: no dispatcher holds a row any more. */
int store_hook_release_leases(store_t *s);
/* Devices that went offline (store_device_online false) and were not
 * reported yet: fn once per device (at most limit), and each is marked
 * reported; devices online again lose their mark (their next offline spell
 * is reported again). Returns how many fn saw. */
int store_hook_offline_sweep(store_t *s, int64_t now, int64_t default_interval, int64_t limit,
                             store_device_fn fn, void *ud);
/* Delivered and failed rows last updated before `before` go. Returns how many. */
int store_hook_prune(store_t *s, int64_t before);
/* ---- history: notification attributes, the inform interval, faults ------------------- */

/* What SetParameterAttributes changed (or GetParameterAttributes read). A
 * name ending with '.' is a partial path: every stored parameter below it
 * takes the change (no row is made for the object itself); a full name
 * is made if unknown. */
typedef struct store_param_attr {
    const char *name;
    int notification;        /* -1: unchanged */
    const char *access_list; /* NULL: unchanged; comma-separated */
} store_param_attr_t;
int store_params_set_attributes(store_t *s, const char *device, const store_param_attr_t *a,
                                size_t n, int64_t now);
/* An object instance the CPE deleted (DeleteObject "A.B.3."): the rows of
 * every parameter under it go (name starts with prefix, which ends in '.'). */
int store_params_delete_object(store_t *s, const char *device, const char *prefix);
/* What the ACS learns about a device from its parameters (any list it
 * reports: Inform, GetParameterValues, provisioning) or from the STUN server.
 * Each field set only when learnt: interval > 0, nat >= 0, the strings when
 * their has_ flag is set (an empty one clears). */
typedef struct store_device_facts {
    int64_t interval;      /* PeriodicInformInterval */
    int nat;               /* NATDetected: 0, 1; -1 not learnt */
    bool has_udp, has_jid;
    char cr_udp[STORE_SHORT];
    int64_t cr_udp_at;     /* with has_udp: when it was learnt */
    char cr_jid[STORE_URL];
} store_device_facts_t;
#define STORE_DEVICE_FACTS_NONE ((store_device_facts_t){ .interval = 0, .nat = -1 })
/* -ENOENT: no such device. */
int store_device_set_facts(store_t *s, const char *device, const store_device_facts_t *f);

/* An open fault: a failed task nobody cleared, or a preset faulted on a
 * device (its preset_runs record, status fault). */
typedef enum store_fault_kind { STORE_FAULT_TASK = 1, STORE_FAULT_PRESET = 2 } store_fault_kind_t;
typedef struct store_fault {
    store_fault_kind_t kind;
    char device_id[STORE_ID_MAX];
    int64_t task_id;           /* kind task */
    char task_type[STORE_TYPE];
    char preset[STORE_NAME];   /* kind preset */
    int code;
    char message[256];
    int64_t at;                /* when it faulted (last) */
    int tries;                 /* preset: failed tries in a row; task: attempts */
    int64_t next_retry;        /* preset: when it is retried by itself (0: not) */
} store_fault_t;
typedef struct store_fault_filter {
    const char *device;        /* NULL: any */
    int code;                  /* 0: any */
    int kind;                  /* 0: both */
    int64_t limit, offset;     /* limit <= 0: 100 */
} store_fault_filter_t;
typedef int (*store_fault_fn)(const store_fault_t *f, void *ud); /* non-zero stops */
/* Newest first (then by device, task id, preset: a stable order); *total
 * (may be NULL) gets the number matching without limit/offset. */
int store_fault_list(store_t *s, const store_fault_filter_t *f, int64_t *total, store_fault_fn fn,
                     void *ud);
/* A failed task's fault is cleared (no longer open). -ENOENT: no such
 * task; -ESTALE: not a failed task, or cleared already. */
int store_task_fault_clear(store_t *s, int64_t task_id, int64_t now);
/* Clear it and queue the same task again (pending, expires_at); *out (its
 * params owned, store_task_clear) is the new task. Errors as above. */
int store_task_fault_retry(store_t *s, int64_t task_id, int64_t now, int64_t expires_at,
                           store_task_t *out);
/* A preset's fault on a device is forgotten: the record goes, so the preset
 * runs again when its events next match. -ENOENT: no record; -ESTALE: not
 * a fault. (Retrying it at the next session: store_preset_run_clear_fault.) */
int store_preset_run_forget_fault(store_t *s, const char *device, const char *preset);
/* Keep every session's log for this device (all), or as the ACS's
 * --session-log says (false). -ENOENT: no such device. */
int store_device_set_session_log(store_t *s, const char *device, bool all);
/* The devices whose sessions are all logged (fn non-zero stops). */
int store_device_session_log_list(store_t *s, int (*fn)(const char *device, void *ud), void *ud);
/* ---- files: the ACS's file store (firmware images, configuration files,
 * uploads from CPEs). The bytes live on disk in the ACS's data directory
 * (on a shared store: in the database too, below); the store keeps what is
 * known about each (store_sqlite_files.c, store_pg_files.c). ---- */

enum { STORE_FILE_NAME = 129 }; /* a stored file's name (128 characters) + NUL */

typedef struct store_file {
    char name[STORE_FILE_NAME];
    char file_type[STORE_SHORT];  /* TR-069 FileType: "1 Firmware Upgrade Image"... */
    char oui[STORE_SHORT], product_class[STORE_SHORT], version[STORE_SHORT]; /* "" unknown */
    int64_t size;
    char sha256[65];              /* lowercase hex of the bytes */
    char username[STORE_SHORT], password[STORE_SHORT]; /* download credentials; "" none */
    int64_t task_id;              /* the upload task that stored it (0: the API) */
    int64_t created, updated;
} store_file_t;
typedef int (*store_file_fn)(const store_file_t *f, void *ud); /* non-zero stops */

/* Create or replace by name: 1 created, 0 replaced (created is kept). */
int store_file_put(store_t *s, const store_file_t *f);
int store_file_get(store_t *s, const char *name, store_file_t *out);
/* Every file, by name. */
int store_file_list(store_t *s, store_file_fn fn, void *ud);
int store_file_delete(store_t *s, const char *name);

/* ---- file contents in a shared store (store_shared(): PostgreSQL) ----
 * Several nodes serve the same files: the bytes of each file's version are
 * kept in the database beside its row, in pieces of STORE_FILE_PIECE bytes
 * keyed by (name, sha256, seq); the nodes' directories are caches of them.
 * Write a version's bytes and then its row (store_file_put) in one
 * transaction, so that no one sees the row without its bytes; on this
 * store store_file_put drops the bytes of the name's other versions and
 * store_file_delete all of them. A reader streams one version from one
 * snapshot: a replacement committed meanwhile never mixes into it. Each
 * call runs in the caller's transaction, or in one of its own. SQLite keeps
 * files on disk only (acs_files.c): -ENOTSUP there. */
enum { STORE_FILE_PIECE = 1024 * 1024 };
/* Fill buf with up to len bytes, their count in *got (fewer than len: the
 * end): 0 or -errno. */
typedef int (*store_piece_in_fn)(void *buf, size_t len, size_t *got, void *ud);
/* One piece, in order: 0 or -errno (stops the reading). */
typedef int (*store_piece_out_fn)(const void *data, size_t len, void *ud);
/* Store version sha256 of `name`: size bytes from fn. 0 stored, 1 already
 * stored in full (fn not called), -EIO when fn gave another size (nothing
 * stored), fn's error. At most one piece in memory. */
int store_file_content_put(store_t *s, const char *name, const char *sha256, int64_t size,
                           store_piece_in_fn fn, void *ud);
/* That version's bytes to fn, piece by piece: 0, -ENOENT (not stored),
 * fn's error, -EIO. The caller checks the size and the digest. */
int store_file_content_get(store_t *s, const char *name, const char *sha256, store_piece_out_fn fn,
                           void *ud);
/* Is that version stored in full: 1, 0, or -errno. */
int store_file_content_has(store_t *s, const char *name, const char *sha256, int64_t size);
/* The key of the upload URLs (acs_files_cwmp.c), the same on every node:
 * the stored one into out, or, when none is stored yet, `mine` stored and
 * copied. 0 or -errno. */
int store_file_upload_key(store_t *s, const unsigned char mine[32], unsigned char out[32]);

#endif
