/*
 * store_impl: what a storage backend provides. store.c dispatches every
 * public store_* call through the backend's table; a backend embeds
 * `struct store` first in its own handle. store_open() picks the table by
 * the URL's scheme: SQLite (a path, "sqlite:PATH") or PostgreSQL
 * ("postgres://", "postgresql://": store_pg.c).
 */
#ifndef OUTPOST_STORE_IMPL_H
#define OUTPOST_STORE_IMPL_H

#include "store/store.h"

typedef struct store_backend {
    const char *name;
    int (*open)(const char *path, const store_opts_t *o, store_t **out);
    void (*close)(store_t *s);
    /* 0 begin, 1 commit, 2 rollback, 3 savepoint, 4 release it, 5 roll back to it.
     * A release may fail the job after all (a write the backend did not wait
     * for failed): the caller then rolls back to the savepoint (5). */
    int (*exec_tx)(store_t *s, int what);
    int (*schema_version)(store_t *s);
    /* optional: store_round_trips */
    uint64_t (*round_trips)(const store_t *s);
    int (*device_inform)(store_t *s, const store_device_t *d, bool bootstrap);
    int (*device_get)(store_t *s, const char *id, store_device_t *out);
    int (*device_delete)(store_t *s, const char *id);
    int (*device_set_tags)(store_t *s, const char *id, const char *tags);
    int (*device_set_cr_auth)(store_t *s, const char *id, const char *user, const char *pass);
    int (*stats)(store_t *s, int64_t now, int64_t default_interval, store_stats_t *out);
    int (*device_counts)(store_t *s, store_by_t by, int64_t limit, store_count_fn fn, void *ud,
                         int64_t *others);
    int (*task_open_counts)(store_t *s, store_task_count_fn fn, void *ud);
    int (*task_finished_counts)(store_t *s, int64_t from, int64_t to, store_task_count_fn fn, void *ud);
    int (*params_put)(store_t *s, const char *dev, const store_param_t *p, size_t n, int64_t now);
    int (*params_list)(store_t *s, const char *dev, const char *prefix, store_param_fn fn, void *ud);
    int (*param_history)(store_t *s, const char *dev, const char *name, store_param_fn fn, void *ud);
    int (*task_add)(store_t *s, store_task_t *t);
    int (*task_get)(store_t *s, int64_t id, store_task_t *out);
    int (*task_outcome)(store_t *s, int64_t id, store_task_t *out);
    int (*task_list)(store_t *s, const char *dev, int64_t limit, bool pending_only, store_task_fn fn,
                     void *ud);
    int (*task_query)(store_t *s, const store_task_query_t *q, store_task_fn fn, void *ud);
    int (*task_has_pending)(store_t *s, const char *dev, bool *out);
    int (*task_mark_sent)(store_t *s, int64_t id, int64_t now);
    int (*task_finish)(store_t *s, int64_t id, store_task_status_t st, const char *result,
                       int fault_code, const char *fault_string, int64_t now);
    int (*task_cancel)(store_t *s, int64_t id, int64_t now);
    int (*task_requeue)(store_t *s, int64_t id, int64_t now);
    int (*task_set_cr)(store_t *s, int64_t id, const store_cr_note_t *note);
    int (*task_recover)(store_t *s, const char *const *types, int64_t now, bool startup,
                        int (*fn)(const char *, void *), void *ud);
    /* ids: the task ids as decimal text, comma-separated (store.c makes it
     * once for both backends); until: the new lease end */
    int (*task_lease_renew)(store_t *s, const char *ids, int64_t until);
    int (*try_leader)(store_t *s, const char *what);
    int (*notify)(store_t *s, const char *channel, const char *payload);
    int (*watch_set)(store_t *s, const char *what, int64_t until, int64_t now);
    int (*watched)(store_t *s, const char *what, int64_t now);
    int (*task_expire)(store_t *s, int64_t now);
    int (*task_trim)(store_t *s, int64_t before, int max);
    int (*task_devices_pending)(store_t *s, int64_t limit, int (*fn)(const char *, void *),
                                void *ud);
    int (*session_add)(store_t *s, store_session_t *ss, const char *log, size_t loglen);
    int (*session_list)(store_t *s, const char *dev, int64_t limit, store_session_fn fn, void *ud);
    /* store.c has checked the rules (source, create_only): when `exists`
     * the "api" row is updated, else an "api" row is inserted unless the
     * name is taken. Rows written (0: another writer came between the
     * check and the write) or -EIO. */
    int (*preset_write)(store_t *s, const char *name, const char *body, bool exists, int64_t now);
    int (*preset_get)(store_t *s, const char *name, store_preset_fn fn, void *ud);
    int (*preset_list)(store_t *s, store_preset_fn fn, void *ud);
    /* The "api" row and its runs go: rows deleted (0: none such) or -EIO. */
    int (*preset_delete)(store_t *s, const char *name);
    int (*preset_sync_config)(store_t *s, const store_preset_t *p, size_t n, int64_t now,
                              store_preset_fn replaced, void *ud);
    int (*script_put)(store_t *s, store_script_kind_t k, const char *name, const char *source,
                      size_t len, int64_t now);
    int (*script_get)(store_t *s, store_script_kind_t k, const char *name, store_script_fn fn, void *ud);
    int (*script_list)(store_t *s, store_script_kind_t k, store_script_fn fn, void *ud);
    int (*script_delete)(store_t *s, store_script_kind_t k, const char *name);
    int (*preset_run_put)(store_t *s, const store_preset_run_t *r);
    int (*preset_run_list)(store_t *s, const char *device, store_preset_run_fn fn, void *ud);
    int (*preset_run_clear_fault)(store_t *s, const char *device, const char *preset, int64_t now);
    int (*preset_run_owed)(store_t *s, store_preset_run_fn fn, void *ud);
    /* API keys */
    int (*key_add)(store_t *s, const store_key_t *k);
    int (*key_delete)(store_t *s, const char *id);
    int (*key_list)(store_t *s, store_key_fn fn, void *ud);
    int (*key_touch)(store_t *s, const char *id, int64_t when);
    int (*key_version)(store_t *s, int64_t *out);
    /* webhooks */
    int (*hook_enqueue)(store_t *s, store_hook_delivery_t *d, int64_t max_pending);
    int (*hook_claim)(store_t *s, int64_t now, int64_t lease_until, int64_t limit,
                      store_hook_delivery_fn fn, void *ud, int64_t *next_due);
    int (*hook_result)(store_t *s, const store_hook_delivery_t *d, int64_t now);
    int (*hook_list)(store_t *s, int status, int64_t limit, store_hook_delivery_fn fn, void *ud);
    int (*hook_retry)(store_t *s, int64_t id, int64_t now, int64_t deadline, store_hook_delivery_t *out);
    int (*hook_counts)(store_t *s, store_hook_count_fn fn, void *ud);
    int (*hook_release_leases)(store_t *s);
    int (*hook_offline_sweep)(store_t *s, int64_t now, int64_t default_interval, int64_t limit,
                              store_device_fn fn, void *ud);
    int (*hook_prune)(store_t *s, int64_t before);
    /* history: notification attributes, the inform interval, faults */
    int (*params_set_attributes)(store_t *s, const char *dev, const store_param_attr_t *a, size_t n,
                                 int64_t now);
    int (*device_set_facts)(store_t *s, const char *dev, const store_device_facts_t *f);
    int (*params_delete_object)(store_t *s, const char *dev, const char *prefix);
    int (*fault_list)(store_t *s, const store_fault_filter_t *f, int64_t *total, store_fault_fn fn,
                      void *ud);
    int (*task_fault_clear)(store_t *s, int64_t task_id, int64_t now);
    int (*preset_run_forget_fault)(store_t *s, const char *device, const char *preset);
    int (*device_set_session_log)(store_t *s, const char *dev, bool all);
    int (*device_session_log_list)(store_t *s, int (*fn)(const char *, void *), void *ud);
    /* files (store_sqlite_files.c) */
    int (*file_put)(store_t *s, const store_file_t *f);
    int (*file_get)(store_t *s, const char *name, store_file_t *out);
    int (*file_list)(store_t *s, store_file_fn fn, void *ud);
    int (*file_delete)(store_t *s, const char *name);
    /* file contents (a shared store; NULL: -ENOTSUP) */
    int (*file_content_put)(store_t *s, const char *name, const char *sha256, int64_t size,
                            store_piece_in_fn fn, void *ud);
    int (*file_content_get)(store_t *s, const char *name, const char *sha256,
                            store_piece_out_fn fn, void *ud);
    int (*file_content_has)(store_t *s, const char *name, const char *sha256, int64_t size);
    int (*file_upload_key)(store_t *s, const unsigned char mine[32], unsigned char out[32]);
    /* device search (store_sqlite_search.c) */
    int (*device_search)(store_t *s, const store_search_t *q, store_device_row_fn fn, void *ud,
                         int64_t *total);
    int (*search_params_set)(store_t *s, const char *const *names, size_t n);
    /* bulk tasks (store_sqlite_bulk.c) */
    int (*bulk_create)(store_t *s, store_bulk_t *b, const store_search_t *q, const char *ids_json,
                       int64_t now);
    int (*bulk_get)(store_t *s, int64_t id, store_bulk_t *out);
    int (*bulk_tasks)(store_t *s, int64_t id, store_task_status_t st, int64_t limit,
                      store_task_fn fn, void *ud);
    int (*bulk_running)(store_t *s, store_bulk_fn fn, void *ud);
    int (*bulk_list)(store_t *s, int state, int64_t before, int64_t limit, store_bulk_fn fn, void *ud);
    int (*bulk_release)(store_t *s, int64_t id, int64_t n,
                        int (*fn)(int64_t task, const char *device, void *ud), void *ud);
    int (*bulk_rehold)(store_t *s, int64_t task);
    int (*bulk_end)(store_t *s, int64_t id, store_bulk_state_t st, const char *reason, int64_t now);
} store_backend_t;

struct store {
    const store_backend_t *be;
    bool shared;                 /* several nodes may use it (PostgreSQL) */
    char node[STORE_NODE_MAX];   /* store_set_node: a sent task's owner */
    int64_t lease_s;             /* a sent task's lease (seconds) */
};

extern const store_backend_t store_sqlite_backend;
extern const store_backend_t store_pg_backend; /* store_pg.c */

#endif
