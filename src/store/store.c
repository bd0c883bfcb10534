/*
 * store: backend selection, the device id and the calls every backend
 * shares, dispatched through store_backend_t.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/str.h"
#include "store/store_impl.h"

int store_open(const char *url, const store_opts_t *opts, store_t **out)
{
    store_opts_t o = opts ? *opts : (store_opts_t){ 0 };
    if (o.param_history <= 0)
        o.param_history = 5;
    if (o.sessions_per_device <= 0)
        o.sessions_per_device = 20;
    if (o.session_log_max == 0)
        o.session_log_max = 64 * 1024;
    const char *path = url;
    /* libpq takes the URL whole (and its PG* variables, service files) */
    if (strncmp(url, "postgres://", 11) == 0 || strncmp(url, "postgresql://", 13) == 0)
        return store_pg_backend.open(url, &o, out);
    if (strncmp(url, "sqlite:", 7) == 0)
        path = url + 7;
    else if (strstr(url, "://")) {
        /* the scheme only: the rest of a URL may hold a password */
        log_error("store_open", LF_SN("scheme", url, (size_t)(strstr(url, "://") - url)),
                  LF_S("reason", "unsupported backend"));
        return -EPROTONOSUPPORT;
    }
    return store_sqlite_backend.open(path, &o, out);
}

void store_close(store_t *s)
{
    if (s)
        s->be->close(s);
}

int store_begin(store_t *s) { return s->be->exec_tx(s, 0); }
int store_commit(store_t *s) { return s->be->exec_tx(s, 1); }
int store_rollback(store_t *s) { return s->be->exec_tx(s, 2); }
int store_schema_version(store_t *s) { return s->be->schema_version(s); }
uint64_t store_round_trips(const store_t *s)
{
    return s->be->round_trips ? s->be->round_trips(s) : 0;
}

static int id_part(char *out, size_t outlen, size_t *pos, const char *part)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)(part ? part : ""); *p; p++) {
        bool keep = (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
                    (*p >= '0' && *p <= '9') || *p == '_' || *p == '.';
        size_t need = keep ? 1 : 3;
        if (*pos + need >= outlen)
            return -ENAMETOOLONG;
        if (keep) {
            out[(*pos)++] = (char)*p;
        } else {
            out[(*pos)++] = '%';
            out[(*pos)++] = hex[*p >> 4];
            out[(*pos)++] = hex[*p & 15];
        }
    }
    out[*pos] = '\0';
    return 0;
}

int store_device_id(const char *oui, const char *product_class, const char *serial, char *out,
                    size_t outlen)
{
    size_t pos = 0;
    if (outlen == 0)
        return -ENAMETOOLONG;
    out[0] = '\0';
    int rc = id_part(out, outlen, &pos, oui);
    if (!rc && pos + 1 < outlen)
        out[pos++] = '-';
    else if (!rc)
        rc = -ENAMETOOLONG;
    if (!rc)
        rc = id_part(out, outlen, &pos, product_class);
    if (!rc && pos + 1 < outlen)
        out[pos++] = '-';
    else if (!rc)
        rc = -ENAMETOOLONG;
    if (!rc)
        rc = id_part(out, outlen, &pos, serial);
    return rc;
}

bool store_device_online(const store_device_t *d, int64_t now, int64_t default_interval)
{
    int64_t iv = d->periodic_interval > 0 ? d->periodic_interval : default_interval;
    return d->last_inform >= now - (2 * iv + 60);
}

const char *store_task_status_name(store_task_status_t st)
{
    static const char *const n[] = { "pending", "sent", "done", "failed", "expired", "cancelled" };
    return (unsigned)st <= STORE_TASK_CANCELLED ? n[st] : "unknown";
}

void store_task_clear(store_task_t *t)
{
    free(t->params);
    free(t->result);
    t->params = t->result = NULL;
}

int store_device_inform(store_t *s, const store_device_t *d, bool bootstrap)
{
    return s->be->device_inform(s, d, bootstrap);
}
int store_device_get(store_t *s, const char *id, store_device_t *out)
{
    return s->be->device_get(s, id, out);
}
int store_device_delete(store_t *s, const char *id) { return s->be->device_delete(s, id); }
int store_device_set_tags(store_t *s, const char *id, const char *tags)
{
    return s->be->device_set_tags(s, id, tags);
}
int store_device_set_cr_auth(store_t *s, const char *id, const char *user, const char *pass)
{
    return s->be->device_set_cr_auth(s, id, user, pass);
}
int store_task_open_counts(store_t *s, store_task_count_fn fn, void *ud)
{
    return s->be->task_open_counts(s, fn, ud);
}

int store_task_finished_counts(store_t *s, int64_t from, int64_t to, store_task_count_fn fn, void *ud)
{
    return s->be->task_finished_counts(s, from, to, fn, ud);
}

int store_stats(store_t *s, int64_t now, int64_t default_interval, store_stats_t *out)
{
    return s->be->stats(s, now, default_interval, out);
}
int store_device_counts(store_t *s, store_by_t by, int64_t limit, store_count_fn fn, void *ud,
                        int64_t *others)
{
    return s->be->device_counts ? s->be->device_counts(s, by, limit, fn, ud, others) : -ENOTSUP;
}
int store_params_put(store_t *s, const char *device, const store_param_t *p, size_t n, int64_t now)
{
    return s->be->params_put(s, device, p, n, now);
}
int store_params_list(store_t *s, const char *device, const char *prefix, store_param_fn fn,
                      void *ud)
{
    return s->be->params_list(s, device, prefix, fn, ud);
}
int store_param_history(store_t *s, const char *device, const char *name, store_param_fn fn,
                        void *ud)
{
    return s->be->param_history(s, device, name, fn, ud);
}
static int tell(store_t *s, int rc, const char *channel, const char *what);

int store_task_add(store_t *s, store_task_t *t)
{
    int rc = s->be->task_add(s, t);
    return rc == 0 ? tell(s, rc, STORE_CHANNEL_QUEUED, t->device_id) : rc;
}
int store_task_add_quiet(store_t *s, store_task_t *t) { return s->be->task_add(s, t); }
int store_task_get(store_t *s, int64_t id, store_task_t *out) { return s->be->task_get(s, id, out); }
int store_task_outcome(store_t *s, int64_t id, store_task_t *out)
{
    return s->be->task_outcome(s, id, out);
}
int store_task_list(store_t *s, const char *device, int64_t limit, store_task_fn fn, void *ud)
{
    return s->be->task_list(s, device, limit, false, fn, ud);
}
int store_task_pending(store_t *s, const char *device, int64_t limit, store_task_fn fn, void *ud)
{
    return s->be->task_list(s, device, limit, true, fn, ud);
}
int store_task_query(store_t *s, const store_task_query_t *q, store_task_fn fn, void *ud)
{
    return s->be->task_query(s, q, fn, ud);
}
int store_task_has_pending(store_t *s, const char *device, bool *out)
{
    return s->be->task_has_pending(s, device, out);
}
int store_task_mark_sent(store_t *s, int64_t id, int64_t now)
{
    return s->be->task_mark_sent(s, id, now);
}
/* ---- what the other nodes hear (store.h "several nodes"): sent from the
 * write's own transaction, so only what commits is heard ---- */

static int tell(store_t *s, int rc, const char *channel, const char *what)
{
    if (rc < 0 || !s->shared)
        return rc;
    char payload[STORE_NODE_MAX + STORE_ID_MAX + 8];
    snprintf(payload, sizeof payload, "%s %s", s->node, what);
    int n = store_notify(s, channel, payload);
    return n < 0 ? n : rc;
}

static int tell_task(store_t *s, int rc, int64_t id)
{
    char what[24];
    snprintf(what, sizeof what, "%lld", (long long)id);
    return rc == 0 ? tell(s, rc, STORE_CHANNEL_TASK, what) : rc;
}

int store_task_finish(store_t *s, int64_t id, store_task_status_t st, const char *result_json,
                      int fault_code, const char *fault_string, int64_t now)
{
    return tell_task(s, s->be->task_finish(s, id, st, result_json, fault_code, fault_string, now), id);
}
int store_task_cancel(store_t *s, int64_t id, int64_t now)
{
    return tell_task(s, s->be->task_cancel(s, id, now), id);
}
int store_task_requeue(store_t *s, int64_t id, int64_t now)
{
    return s->be->task_requeue(s, id, now);
}
int store_task_set_cr(store_t *s, int64_t id, const store_cr_note_t *note)
{
    return s->be->task_set_cr(s, id, note);
}
int store_task_recover(store_t *s, const char *const *types, int64_t now, bool startup,
                       int (*fn)(const char *device, void *ud), void *ud)
{
    return s->be->task_recover(s, types, now, startup, fn, ud);
}
void store_set_node(store_t *s, const char *node, int64_t lease_s)
{
    str_copy(s->node, sizeof s->node, node ? node : "");
    s->lease_s = lease_s > 0 ? lease_s : STORE_LEASE_DEFAULT;
}
const char *store_node(const store_t *s) { return s->node; }
int64_t store_lease(const store_t *s) { return s->lease_s > 0 ? s->lease_s : STORE_LEASE_DEFAULT; }
int store_task_lease_renew(store_t *s, const int64_t *ids, size_t n, int64_t now)
{
    if (!n)
        return 0;
    /* the ids as one text parameter, "1,2,3": one statement for all of them
     * (SQLite reads it as a JSON array, PostgreSQL as a bigint[]) */
    size_t cap = n * 21 + 1, len = 0;
    char *list = malloc(cap);
    if (!list)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++)
        len += (size_t)snprintf(list + len, cap - len, "%s%lld", i ? "," : "", (long long)ids[i]);
    int rc = s->be->task_lease_renew(s, list, now + store_lease(s));
    free(list);
    return rc;
}
int store_try_leader(store_t *s, const char *what) { return s->be->try_leader(s, what); }
int store_notify(store_t *s, const char *channel, const char *payload)
{
    return s->be->notify(s, channel, payload);
}
bool store_shared(const store_t *s) { return s->shared; }
int store_watch_set(store_t *s, const char *what, int64_t until, int64_t now)
{
    return s->shared ? s->be->watch_set(s, what, until, now) : 0;
}
int store_watched(store_t *s, const char *what, int64_t now)
{
    return s->shared ? s->be->watched(s, what, now) : 0;
}
int store_task_expire(store_t *s, int64_t now)
{
    int n = s->be->task_expire(s, now);
    return n > 0 ? tell(s, n, STORE_CHANNEL_TASK, "*") : n;
}
int store_task_trim(store_t *s, int64_t before, int max) { return s->be->task_trim(s, before, max); }
int store_task_devices_pending(store_t *s, int64_t limit,
                               int (*fn)(const char *device, void *ud), void *ud)
{
    return s->be->task_devices_pending(s, limit, fn, ud);
}
int store_session_add(store_t *s, store_session_t *ss, const char *log, size_t loglen)
{
    return s->be->session_add(s, ss, log, loglen);
}
int store_session_list(store_t *s, const char *device, int64_t limit, store_session_fn fn, void *ud)
{
    return s->be->session_list(s, device, limit, fn, ud);
}

/* ---- provisioning ---------------------------------------------------------------- */

const char *store_preset_status_name(store_preset_status_t st)
{
    static const char *const n[] = { "none", "done", "fault", "pending" };
    return (unsigned)st <= STORE_PRESET_PENDING ? n[st] : "unknown";
}

/* The rules on which presets the API may change are the same on every
 * backend: they live here, the backends only read and write rows. */
static int preset_source_row(const store_preset_t *p, void *ud)
{
    str_copy(ud, 16, p->source ? p->source : "");
    return 1;
}
/* The preset's source ("api"/"config") into out[16]: 0, -ENOENT, -EIO. */
static int preset_source(store_t *s, const char *name, char out[16])
{
    out[0] = '\0';
    return s->be->preset_get(s, name, preset_source_row, out);
}

/* The writes are conditional (an "api" row; a free name): when another
 * node's write or a config sync came between the check and the write,
 * nothing is written and the check runs again on what is there now. */
enum { PRESET_TRIES = 3 };

int store_preset_put(store_t *s, const char *name, const char *body, bool create_only, int64_t now)
{
    bool exists = false;
    int rc = 0;
    for (int i = 0; i < PRESET_TRIES && rc == 0; i++) {
        char src[16];
        rc = preset_source(s, name, src);
        if (rc < 0 && rc != -ENOENT)
            return rc;
        exists = rc == 0;
        if (exists && strcmp(src, "api") != 0)
            return -EPERM;
        if (exists && create_only)
            return -EEXIST;
        rc = s->be->preset_write(s, name, body, exists, now);
    }
    if (rc == 0)
        rc = -EAGAIN; /* the row kept changing under us */
    return tell(s, rc < 0 ? rc : exists ? 0 : 1, STORE_CHANNEL_PROV, "preset");
}
int store_preset_get(store_t *s, const char *name, store_preset_fn fn, void *ud)
{
    return s->be->preset_get(s, name, fn, ud);
}
int store_preset_list(store_t *s, store_preset_fn fn, void *ud) { return s->be->preset_list(s, fn, ud); }
int store_preset_delete(store_t *s, const char *name)
{
    int rc = 0;
    for (int i = 0; i < PRESET_TRIES && rc == 0; i++) {
        char src[16];
        if ((rc = preset_source(s, name, src)) < 0)
            return rc;
        if (strcmp(src, "api") != 0)
            return -EPERM;
        rc = s->be->preset_delete(s, name);
    }
    return tell(s, rc < 0 ? rc : rc == 0 ? -EAGAIN : 0, STORE_CHANNEL_PROV, "preset");
}
int store_preset_sync_config(store_t *s, const store_preset_t *p, size_t n, int64_t now,
                             store_preset_fn replaced, void *ud)
{
    return tell(s, s->be->preset_sync_config(s, p, n, now, replaced, ud), STORE_CHANNEL_PROV, "preset");
}
int store_script_put(store_t *s, store_script_kind_t k, const char *name, const char *source,
                     size_t len, int64_t now)
{
    return tell(s, s->be->script_put(s, k, name, source, len, now), STORE_CHANNEL_PROV, "script");
}
int store_script_get(store_t *s, store_script_kind_t k, const char *name, store_script_fn fn, void *ud)
{
    return s->be->script_get(s, k, name, fn, ud);
}
int store_script_list(store_t *s, store_script_kind_t k, store_script_fn fn, void *ud)
{
    return s->be->script_list(s, k, fn, ud);
}
int store_script_delete(store_t *s, store_script_kind_t k, const char *name)
{
    return tell(s, s->be->script_delete(s, k, name), STORE_CHANNEL_PROV, "script");
}
int store_preset_run_put(store_t *s, const store_preset_run_t *r) { return s->be->preset_run_put(s, r); }
int store_preset_run_list(store_t *s, const char *device, store_preset_run_fn fn, void *ud)
{
    return s->be->preset_run_list(s, device, fn, ud);
}
int store_preset_run_clear_fault(store_t *s, const char *device, const char *preset, int64_t now)
{
    return s->be->preset_run_clear_fault(s, device, preset, now);
}

int store_preset_run_owed(store_t *s, store_preset_run_fn fn, void *ud)
{
    return s->be->preset_run_owed(s, fn, ud);
}

/* ---- API keys --------------------------------------------------------------------- */

int store_key_add(store_t *s, const store_key_t *k) { return s->be->key_add(s, k); }
int store_key_delete(store_t *s, const char *id) { return s->be->key_delete(s, id); }
int store_key_list(store_t *s, store_key_fn fn, void *ud) { return s->be->key_list(s, fn, ud); }
int store_key_touch(store_t *s, const char *id, int64_t when) { return s->be->key_touch(s, id, when); }
int store_key_version(store_t *s, int64_t *out) { return s->be->key_version(s, out); }
/* ---- webhooks -------------------------------------------------------------------- */

const char *store_hook_status_name(store_hook_status_t st)
{
    static const char *const n[] = { "pending", "delivered", "failed" };
    return (unsigned)st <= STORE_HOOK_FAILED ? n[st] : "unknown";
}

int store_hook_status_parse(const char *name)
{
    for (int i = 0; i <= STORE_HOOK_FAILED; i++)
        if (strcmp(name, store_hook_status_name((store_hook_status_t)i)) == 0)
            return i;
    return -1;
}

int store_hook_enqueue(store_t *s, store_hook_delivery_t *d, int64_t max_pending)
{
    return s->be->hook_enqueue(s, d, max_pending);
}
int store_hook_claim(store_t *s, int64_t now, int64_t lease_until, int64_t limit,
                     store_hook_delivery_fn fn, void *ud, int64_t *next_due)
{
    return s->be->hook_claim(s, now, lease_until, limit, fn, ud, next_due);
}
int store_hook_result(store_t *s, const store_hook_delivery_t *d, int64_t now)
{
    return s->be->hook_result(s, d, now);
}
int store_hook_list(store_t *s, int status, int64_t limit, store_hook_delivery_fn fn, void *ud)
{
    return s->be->hook_list(s, status, limit, fn, ud);
}
int store_hook_retry(store_t *s, int64_t id, int64_t now, int64_t deadline, store_hook_delivery_t *out)
{
    return s->be->hook_retry(s, id, now, deadline, out);
}
int store_hook_counts(store_t *s, store_hook_count_fn fn, void *ud)
{
    return s->be->hook_counts(s, fn, ud);
}
int store_hook_release_leases(store_t *s) { return s->be->hook_release_leases(s); }
int store_hook_offline_sweep(store_t *s, int64_t now, int64_t default_interval, int64_t limit,
                             store_device_fn fn, void *ud)
{
    return s->be->hook_offline_sweep(s, now, default_interval, limit, fn, ud);
}
int store_hook_prune(store_t *s, int64_t before) { return s->be->hook_prune(s, before); }
/* ---- history: notification attributes, the inform interval, faults ---------------- */

int store_params_delete_object(store_t *s, const char *device, const char *prefix)
{
    return s->be->params_delete_object(s, device, prefix);
}
int store_params_set_attributes(store_t *s, const char *device, const store_param_attr_t *a,
                                size_t n, int64_t now)
{
    return s->be->params_set_attributes(s, device, a, n, now);
}
int store_device_set_facts(store_t *s, const char *device, const store_device_facts_t *f)
{
    return s->be->device_set_facts(s, device, f);
}
int store_fault_list(store_t *s, const store_fault_filter_t *f, int64_t *total, store_fault_fn fn,
                     void *ud)
{
    return s->be->fault_list(s, f, total, fn, ud);
}
int store_task_fault_clear(store_t *s, int64_t task_id, int64_t now)
{
    return s->be->task_fault_clear(s, task_id, now);
}
/* The same on every backend: clear the fault, queue a copy (one job, so one
 * transaction: both or neither). */
int store_task_fault_retry(store_t *s, int64_t task_id, int64_t now, int64_t expires_at,
                           store_task_t *out)
{
    store_task_t old;
    int rc = s->be->task_get(s, task_id, &old);
    if (rc < 0)
        return rc;
    if ((rc = s->be->task_fault_clear(s, task_id, now)) == 0) {
        memset(out, 0, sizeof *out);
        str_copy(out->device_id, sizeof out->device_id, old.device_id);
        str_copy(out->type, sizeof out->type, old.type);
        out->params = old.params;
        old.params = NULL;
        out->created = now;
        out->expires_at = expires_at;
        rc = s->be->task_add(s, out);
    }
    store_task_clear(&old);
    return rc;
}
int store_preset_run_forget_fault(store_t *s, const char *device, const char *preset)
{
    return s->be->preset_run_forget_fault(s, device, preset);
}
int store_device_set_session_log(store_t *s, const char *device, bool all)
{
    return s->be->device_set_session_log(s, device, all);
}
int store_device_session_log_list(store_t *s, int (*fn)(const char *device, void *ud), void *ud)
{
    return s->be->device_session_log_list(s, fn, ud);
}
/* ---- files ------------------------------------------------------------------------ */

int store_file_put(store_t *s, const store_file_t *f) { return s->be->file_put(s, f); }
int store_file_get(store_t *s, const char *name, store_file_t *out)
{
    return s->be->file_get(s, name, out);
}
int store_file_list(store_t *s, store_file_fn fn, void *ud) { return s->be->file_list(s, fn, ud); }
int store_file_delete(store_t *s, const char *name) { return s->be->file_delete(s, name); }
int store_file_content_put(store_t *s, const char *name, const char *sha256, int64_t size,
                           store_piece_in_fn fn, void *ud)
{
    return s->be->file_content_put ? s->be->file_content_put(s, name, sha256, size, fn, ud)
                                   : -ENOTSUP;
}
int store_file_content_get(store_t *s, const char *name, const char *sha256, store_piece_out_fn fn,
                           void *ud)
{
    return s->be->file_content_get ? s->be->file_content_get(s, name, sha256, fn, ud) : -ENOTSUP;
}
int store_file_content_has(store_t *s, const char *name, const char *sha256, int64_t size)
{
    return s->be->file_content_has ? s->be->file_content_has(s, name, sha256, size) : -ENOTSUP;
}
int store_file_upload_key(store_t *s, const unsigned char mine[32], unsigned char out[32])
{
    return s->be->file_upload_key ? s->be->file_upload_key(s, mine, out) : -ENOTSUP;
}
/* ---- device search -------------------------------------------------------------------- */

int store_device_search(store_t *s, const store_search_t *q, store_device_row_fn fn, void *ud,
                        int64_t *total)
{
    return s->be->device_search(s, q, fn, ud, total);
}

int store_search_params_set(store_t *s, const char *const *names, size_t n)
{
    return s->be->search_params_set(s, names, n);
}

static const char *const sort_names[STORE_SORT_COUNT] = {
    [STORE_SORT_ID] = "id",
    [STORE_SORT_SERIAL] = "serial",
    [STORE_SORT_MODEL] = "model",
    [STORE_SORT_OUI] = "oui",
    [STORE_SORT_VERSION] = "software_version",
    [STORE_SORT_LAST_INFORM] = "last_inform",
    [STORE_SORT_FIRST_SEEN] = "first_seen",
};

int store_sort_parse(const char *name, store_sort_t *sort, bool *desc)
{
    *desc = name[0] == '-';
    if (*desc)
        name++;
    for (int i = 0; i < STORE_SORT_COUNT; i++)
        if (!strcmp(name, sort_names[i])) {
            *sort = (store_sort_t)i;
            return 0;
        }
    return -EINVAL;
}

const char *store_sort_name(store_sort_t sort)
{
    return (unsigned)sort < STORE_SORT_COUNT ? sort_names[sort] : "id";
}

bool store_sort_numeric(store_sort_t sort)
{
    return sort == STORE_SORT_LAST_INFORM || sort == STORE_SORT_FIRST_SEEN;
}

const char *store_sort_key(const store_device_t *d, store_sort_t sort, int64_t *num)
{
    *num = sort == STORE_SORT_LAST_INFORM ? d->last_inform
         : sort == STORE_SORT_FIRST_SEEN  ? d->first_seen : 0;
    switch (sort) {
    case STORE_SORT_SERIAL: return d->serial;
    case STORE_SORT_MODEL: return d->product_class;
    case STORE_SORT_OUI: return d->oui;
    case STORE_SORT_VERSION: return d->software_version;
    case STORE_SORT_ID: return d->id;
    default: return "";
    }
}

/* ---- bulk tasks ------------------------------------------------------------------------- */

const char *store_bulk_state_name(store_bulk_state_t st)
{
    static const char *const names[] = { "running", "done", "cancelled", "stopped" };
    return (unsigned)st < sizeof names / sizeof names[0] ? names[st] : "?";
}

void store_bulk_clear(store_bulk_t *b)
{
    free(b->params);
    free(b->filter);
    b->params = b->filter = NULL;
}

int store_bulk_create(store_t *s, store_bulk_t *b, const store_search_t *q, const char *ids_json,
                      int64_t now)
{
    return s->be->bulk_create(s, b, q, ids_json, now);
}
int store_bulk_get(store_t *s, int64_t id, store_bulk_t *out) { return s->be->bulk_get(s, id, out); }
int store_bulk_tasks(store_t *s, int64_t id, store_task_status_t st, int64_t limit,
                     store_task_fn fn, void *ud)
{
    return s->be->bulk_tasks(s, id, st, limit, fn, ud);
}
int store_bulk_running(store_t *s, store_bulk_fn fn, void *ud) { return s->be->bulk_running(s, fn, ud); }
int store_bulk_list(store_t *s, int state, int64_t before, int64_t limit, store_bulk_fn fn, void *ud)
{
    return s->be->bulk_list(s, state, before, limit, fn, ud);
}
int store_bulk_release(store_t *s, int64_t id, int64_t n,
                       int (*fn)(int64_t task, const char *device, void *ud), void *ud)
{
    return s->be->bulk_release(s, id, n, fn, ud);
}
int store_bulk_rehold(store_t *s, int64_t task) { return s->be->bulk_rehold(s, task); }
int store_bulk_end(store_t *s, int64_t id, store_bulk_state_t st, const char *reason, int64_t now)
{
    return s->be->bulk_end(s, id, st, reason, now);
}
