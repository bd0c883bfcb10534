/*
 * acs_api_history: what happened to a device and across the fleet, on the
 * REST API (acs_internal.h, acs_history_api_register):
 *
 *   GET    /api/devices/{id}/parameters/history?name=&limit=   viewer
 *          a parameter's value now and its old ones (bounded per parameter:
 *          --param-history), newest first, each with who set it and when
 *   GET    /api/devices/{id}/sessions?limit=&log=              viewer
 *          the device's recent sessions (bounded per device): events, the
 *          ACS's RPCs in order (and the CPE's fault codes), outcome,
 *          duration, the capped SOAP log when --session-log kept it
 *   PUT    /api/devices/{id}/session-log {"all": BOOL}          operator
 *          every session of the device keeps its log (true), or as
 *          --session-log says (false); kept in the store and, for the
 *          sessions, in a->log_devices (at most ACS_LOG_DEVICES_MAX)
 *   GET    /api/faults?code=&device=&kind=&limit=&offset=      viewer
 *          open faults: failed tasks nobody cleared, faulted presets
 *   POST   /api/faults/tasks/{id}/retry                        operator
 *   DELETE /api/faults/tasks/{id}                              operator
 *   POST   /api/faults/presets/{id}/{name}/retry               operator
 *   DELETE /api/faults/presets/{id}/{name}                     operator
 *
 * A retried task is queued again as a new task (the failed one is cleared)
 * and the device woken; a retried preset runs at the device's next session
 * (woken too). Clearing forgets the fault: a task's stays in its history as
 * cleared, a preset's record goes (the preset runs when its events next
 * match). Like every handler, the store is read in jobs on the store
 * worker, where the JSON is built.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acs/acs_internal.h"
#include "acs/acs_prov.h"
#include "acs/acs_work.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/str.h"

enum { HJ_HISTORY, HJ_SESSIONS, HJ_FAULTS, HJ_TASK_RETRY, HJ_TASK_CLEAR, HJ_PRESET_RETRY,
       HJ_PRESET_CLEAR, HJ_SESSION_LOG };

enum { PARAM_NAME_MAX = 256, SESSIONS_MAX = 100, FAULTS_MAX = 1000 };

typedef struct hist_job {
    acs_t *a;
    http_req_t *req;
    int kind;
    char device[STORE_ID_MAX];
    char name[PARAM_NAME_MAX + 2];  /* a parameter, or a preset */
    int64_t num;                    /* a task id */
    int64_t limit, offset;
    bool log;
    int code, fkind;
    bool log_all;                   /* HJ_SESSION_LOG */
    /* out */
    json_t *out;
    int64_t total;
    bool found;
    store_device_t dev;             /* retries: whom to wake */
    store_task_t task;              /* a retried task's new one */
} hist_job_t;

void acs_param_history_fields(json_t *o, const store_param_t *p)
{
    json_t *al = json_null();
    if (p->access_list) {
        al = json_array();
        for (const char *s = p->access_list; *s;) {
            size_t n = strcspn(s, ",");
            json_array_append_new(al, json_stringn(s, n));
            s += n + (s[n] == ',');
        }
    }
    json_object_set_new(o, "set_by", p->set_by ? acs_json_text(p->set_by) : json_null());
    json_object_set_new(o, "set_at", p->value ? acs_json_time(p->set_at) : json_null());
    json_object_set_new(o, "notification", p->notification < 0 ? json_null()
                                                               : json_integer(p->notification));
    json_object_set_new(o, "access_list", al);
}

/* ---- the store side ------------------------------------------------------------------ */

static int take_current(const store_param_t *p, void *ud)
{
    hist_job_t *j = ud;
    if (strcmp(p->name, j->name) != 0)
        return 0; /* a longer name under the same prefix */
    if (p->value) {
        json_t *o = json_pack("{s:o, s:o, s:o, s:b}", "value", acs_json_text(p->value), "set_by",
                              p->set_by ? acs_json_text(p->set_by) : json_null(), "set_at",
                              acs_json_time(p->set_at), "current", 1);
        json_array_append_new(j->out, o);
    }
    j->found = true;
    return 1;
}

static int take_old(const store_param_t *p, void *ud)
{
    hist_job_t *j = ud;
    j->found = true;
    if ((int64_t)json_array_size(j->out) >= j->limit)
        return 1;
    json_array_append_new(j->out, json_pack("{s:o, s:o, s:o, s:b}", "value",
                                            p->value ? acs_json_text(p->value) : json_null(),
                                            "set_by", p->set_by ? acs_json_text(p->set_by) : json_null(),
                                            "set_at", acs_json_time(p->set_at), "current", 0));
    return 0;
}

/* "Name", "Name:CODE" or "cpe:Name", comma-separated, maybe ending with "..." */
static json_t *rpc_list_json(const char *s)
{
    json_t *a = json_array();
    while (*s) {
        size_t n = strcspn(s, ",");
        const char *from = "acs";
        if (n == 3 && strncmp(s, "...", 3) == 0) {
            json_array_append_new(a, json_pack("{s:s, s:n, s:n}", "name", "...", "from", "fault"));
        } else {
            const char *item = s;
            size_t len = n;
            if (len > 4 && strncmp(item, "cpe:", 4) == 0) {
                from = "cpe";
                item += 4;
                len -= 4;
            }
            const char *colon = memchr(item, ':', len);
            size_t nl = colon ? (size_t)(colon - item) : len;
            json_t *fault = colon ? json_integer(strtol(colon + 1, NULL, 10)) : json_null();
            json_array_append_new(a, json_pack("{s:s%, s:s, s:o}", "name", item, nl, "from", from,
                                               "fault", fault));
        }
        s += n + (s[n] == ',');
    }
    return a;
}

static json_t *split_events(const char *s)
{
    json_t *a = json_array();
    while (*s) {
        size_t n = strcspn(s, ",");
        json_array_append_new(a, json_stringn(s, n));
        s += n + (s[n] == ',');
    }
    return a;
}

static int take_session(const store_session_t *ss, void *ud)
{
    hist_job_t *j = ud;
    json_t *o = json_pack("{s:I, s:o, s:I, s:o, s:I, s:o, s:o}", "id", (json_int_t)ss->id,
                          "started", acs_json_time(ss->started), "duration_ms",
                          (json_int_t)ss->duration_ms, "events", split_events(ss->events),
                          "rpc_count", (json_int_t)ss->rpcs, "rpcs", rpc_list_json(ss->rpc_list),
                          "outcome", acs_json_text(ss->outcome));
    if (o && j->log)
        json_object_set_new(o, "log", ss->log ? acs_json_text(ss->log) : json_null());
    json_array_append_new(j->out, o);
    return 0;
}

static int take_fault(const store_fault_t *f, void *ud)
{
    hist_job_t *j = ud;
    char retry[3 * STORE_ID_MAX + STORE_NAME + 64];
    json_t *o = json_pack("{s:s, s:o, s:i, s:o, s:o}", "kind",
                          f->kind == STORE_FAULT_TASK ? "task" : "preset", "device_id",
                          acs_json_text(f->device_id), "code", f->code, "message",
                          acs_json_text(f->message), "at", acs_json_time(f->at));
    if (!o)
        return 0;
    if (f->kind == STORE_FAULT_TASK) {
        json_object_set_new(o, "task", json_pack("{s:I, s:s, s:i}", "id", (json_int_t)f->task_id,
                                                 "type", f->task_type, "attempts", f->tries));
        snprintf(retry, sizeof retry, "/api/faults/tasks/%" PRId64, f->task_id);
    } else {
        json_object_set_new(o, "preset", json_pack("{s:o, s:i, s:o}", "name", acs_json_text(f->preset),
                                                   "tries", f->tries, "next_retry",
                                                   acs_json_time(f->next_retry)));
        /* the device id percent-encoded: an id keeps the escapes of its
         * parts (a '-' in a product class is %2D), which a path decodes;
         * a preset name is [A-Za-z0-9_.-] */
        buf_t id = BUF_INIT(3 * STORE_ID_MAX);
        str_pct_encode(&id, f->device_id, strlen(f->device_id), "-._~");
        snprintf(retry, sizeof retry, "/api/faults/presets/%s/%s", id.data ? id.data : "", f->preset);
        buf_free(&id);
    }
    json_object_set_new(o, "path", json_string(retry));
    json_array_append_new(j->out, o);
    return 0;
}

static int hist_run(store_t *st, void *ud)
{
    hist_job_t *j = ud;
    int64_t now = clock_real_s();
    int rc;
    switch (j->kind) {
    case HJ_HISTORY:
        if ((rc = store_device_get(st, j->device, &j->dev)) < 0)
            return rc;
        j->out = json_array();
        if ((rc = store_params_list(st, j->device, j->name, take_current, j)) < 0 ||
            (rc = store_param_history(st, j->device, j->name, take_old, j)) < 0)
            return rc;
        return j->found ? 0 : -ENOKEY;
    case HJ_SESSIONS:
        if ((rc = store_device_get(st, j->device, &j->dev)) < 0)
            return rc;
        j->out = json_array();
        return store_session_list(st, j->device, j->limit, take_session, j);
    case HJ_FAULTS: {
        store_fault_filter_t f = { .device = j->device[0] ? j->device : NULL, .code = j->code,
                                   .kind = j->fkind, .limit = j->limit, .offset = j->offset };
        j->out = json_array();
        return store_fault_list(st, &f, &j->total, take_fault, j);
    }
    case HJ_TASK_CLEAR:
        return store_task_fault_clear(st, j->num, now);
    case HJ_TASK_RETRY: {
        int64_t ttl = j->a->o.task_ttl_ms / 1000;
        if ((rc = store_task_fault_retry(st, j->num, now, ttl > 0 ? now + ttl : 0, &j->task)) < 0)
            return rc;
        j->out = acs_task_json(&j->task);
        (void)store_device_get(st, j->task.device_id, &j->dev); /* whom to wake */
        return 0;
    }
    case HJ_PRESET_CLEAR:
        rc = store_preset_run_forget_fault(st, j->device, j->name);
        return rc == -ENOENT ? -ENOKEY : rc;
    case HJ_SESSION_LOG:
        if ((rc = store_device_set_session_log(st, j->device, j->log_all)) < 0)
            return rc;
        j->out = json_pack("{s:o, s:s}", "device_id", acs_json_text(j->device), "session_log",
                           j->log_all ? "all" : "default");
        return 0;
    case HJ_PRESET_RETRY:
        if ((rc = store_device_get(st, j->device, &j->dev)) < 0)
            return rc;
        if ((rc = store_preset_run_clear_fault(st, j->device, j->name, now)) < 0)
            return rc == -ENOENT ? -ENOKEY : rc;
        j->out = json_pack("{s:o, s:o, s:s}", "device_id", acs_json_text(j->device), "preset",
                           acs_json_text(j->name), "status", "pending");
        return 0;
    }
    return -EINVAL;
}

/* ---- the loop side -------------------------------------------------------------------- */

static void job_free(hist_job_t *j)
{
    json_decref(j->out);
    store_task_clear(&j->task);
    free(j);
}

/* The device has work again: its live session takes it, or it is woken. */
static void wake(acs_t *a, const store_device_t *d)
{
    if (d->id[0] && !acs_work_queued(a, d->id))
        (void)acs_cr_send(a, d, NULL, NULL); /* best effort: the outcome is logged */
}

static const char *not_found_text(const hist_job_t *j)
{
    switch (j->kind) {
    case HJ_TASK_RETRY:
    case HJ_TASK_CLEAR: return "no such task";
    case HJ_FAULTS: return "no such fault";
    default: return "no such device";
    }
}

static void hist_done(int rc, void *ud)
{
    hist_job_t *j = ud;
    http_req_t *req = j->req;
    switch (rc) {
    case 0:
        break;
    case -ENOENT:
        acs_api_error(req, 404, "not_found", not_found_text(j));
        goto out;
    case -ENOKEY:
        acs_api_error(req, 404, "not_found", j->kind == HJ_HISTORY
                                                 ? "the device has no such parameter"
                                                 : "the device has no record of that preset");
        goto out;
    case -ESTALE:
        acs_api_error(req, 409, "conflict", j->kind == HJ_TASK_RETRY || j->kind == HJ_TASK_CLEAR
                                                ? "the task has no open fault (not failed, or cleared)"
                                                : "the preset is not faulted on this device");
        goto out;
    default:
        acs_api_store_error(req, rc);
        goto out;
    }
    switch (j->kind) {
    case HJ_TASK_CLEAR:
    case HJ_PRESET_CLEAR:
        log_info("api_fault_cleared", LF_S("kind", j->kind == HJ_TASK_CLEAR ? "task" : "preset"),
                 LF_I("task", j->num), LF_S("device", j->device), LF_S("preset", j->name));
        http_respond(req, 204, NULL, NULL, 0);
        break;
    case HJ_TASK_RETRY:
        log_info("api_fault_retried", LF_S("kind", "task"), LF_I("task", j->num),
                 LF_I("new_task", j->task.id), LF_S("device", j->task.device_id));
        wake(j->a, &j->dev);
        acs_api_json(req, 201, j->out);
        j->out = NULL;
        break;
    case HJ_PRESET_RETRY:
        log_info("api_fault_retried", LF_S("kind", "preset"), LF_S("device", j->device),
                 LF_S("preset", j->name));
        acs_prov_owed_add(j->a, j->device); /* pending: its next session runs it */
        wake(j->a, &j->dev);
        acs_api_json(req, 200, j->out);
        j->out = NULL;
        break;
    case HJ_SESSION_LOG:
        if (j->log_all)
            (void)hmap_put_copy(&j->a->log_devices, j->device, strlen(j->device), (void *)1);
        else
            (void)hmap_del(&j->a->log_devices, j->device, strlen(j->device));
        log_info("api_session_log", LF_S("device", j->device), LF_B("all", j->log_all));
        acs_api_json(req, 200, j->out);
        j->out = NULL;
        break;
    case HJ_FAULTS: {
        char *s = json_dumps(j->out, JSON_COMPACT);
        char hdr[48];
        snprintf(hdr, sizeof hdr, "X-Total-Count: %" PRId64 "\r\n", j->total);
        if (s)
            http_respond_hdrs(req, 200, hdr, "application/json", s, strlen(s));
        else
            acs_api_error(req, 500, "internal", "cannot encode JSON");
        free(s);
        break;
    }
    default:
        acs_api_json(req, 200, j->out);
        j->out = NULL;
    }
out:
    job_free(j);
}

static void submit(acs_t *a, http_req_t *req, hist_job_t *j)
{
    j->a = a;
    j->req = req;
    int rc = store_worker_submit(a->db, hist_run, hist_done, j);
    if (rc != 0) {
        acs_api_store_error(req, rc);
        job_free(j);
    }
}

/* A job for a route: its {id} as a device (404 when it cannot be one). */
static hist_job_t *new_job(http_req_t *req, int kind)
{
    hist_job_t *j = calloc(1, sizeof *j);
    if (!j) {
        acs_api_error(req, 500, "internal", "out of memory");
        return NULL;
    }
    j->kind = kind;
    const char *id = http_req_param(req, "id");
    if (id && kind != HJ_TASK_RETRY && kind != HJ_TASK_CLEAR &&
        str_copy(j->device, sizeof j->device, id) != 0) {
        acs_api_error(req, 404, "not_found", "no such device");
        free(j);
        return NULL;
    }
    return j;
}

static void h_history(http_req_t *req, void *ud)
{
    hist_job_t *j = new_job(req, HJ_HISTORY);
    if (!j)
        return;
    j->limit = 1000;
    if (!acs_api_query_str(req, "name", j->name, sizeof j->name) ||
        !acs_api_query_int(req, "limit", 1, 1000, &j->limit)) {
        free(j);
        return;
    }
    size_t n = strlen(j->name);
    if (n == 0 || n > PARAM_NAME_MAX || j->name[n - 1] == '.') {
        acs_api_error(req, 400, "bad_request", "name: a parameter's full name (1-256 characters)");
        free(j);
        return;
    }
    submit(ud, req, j);
}

static void h_sessions(http_req_t *req, void *ud)
{
    hist_job_t *j = new_job(req, HJ_SESSIONS);
    char log[8] = "";
    if (!j)
        return;
    j->limit = 20;
    if (!acs_api_query_int(req, "limit", 1, SESSIONS_MAX, &j->limit) ||
        !acs_api_query_str(req, "log", log, sizeof log)) {
        free(j);
        return;
    }
    j->log = true;
    if (log[0] && cfg_parse_bool(log, &j->log) != 0) {
        acs_api_error(req, 400, "bad_request", "log: true or false");
        free(j);
        return;
    }
    submit(ud, req, j);
}

static void h_faults(http_req_t *req, void *ud)
{
    hist_job_t *j = new_job(req, HJ_FAULTS);
    char kind[16] = "";
    int64_t code = 0;
    if (!j)
        return;
    j->limit = 100;
    if (!acs_api_query_str(req, "device", j->device, sizeof j->device) ||
        !acs_api_query_str(req, "kind", kind, sizeof kind) ||
        !acs_api_query_int(req, "code", 1, 99999, &code) ||
        !acs_api_query_int(req, "limit", 1, FAULTS_MAX, &j->limit) ||
        !acs_api_query_int(req, "offset", 0, INT64_MAX / 2, &j->offset)) {
        free(j);
        return;
    }
    j->code = (int)code;
    if (kind[0] && strcmp(kind, "task") != 0 && strcmp(kind, "preset") != 0) {
        acs_api_error(req, 400, "bad_request", "kind: task or preset");
        free(j);
        return;
    }
    j->fkind = !kind[0] ? 0 : kind[0] == 't' ? STORE_FAULT_TASK : STORE_FAULT_PRESET;
    submit(ud, req, j);
}

static void h_task_fault(http_req_t *req, void *ud, int kind)
{
    int64_t id;
    if (str_to_i64(http_req_param(req, "id"), 1, INT64_MAX, &id) != 0) {
        acs_api_error(req, 404, "not_found", "no such task");
        return;
    }
    hist_job_t *j = new_job(req, kind);
    if (!j)
        return;
    j->num = id;
    submit(ud, req, j);
}

static void h_preset_fault(http_req_t *req, void *ud, int kind)
{
    hist_job_t *j = new_job(req, kind);
    if (!j)
        return;
    if (str_copy(j->name, sizeof j->name, http_req_param(req, "name")) != 0 ||
        strlen(j->name) >= STORE_NAME) {
        acs_api_error(req, 404, "not_found", "no such preset");
        free(j);
        return;
    }
    submit(ud, req, j);
}

/* PUT {"all": true}: every session of the device keeps its log; false:
 * as --session-log says. */
static void h_session_log(http_req_t *req, void *ud)
{
    acs_t *a = ud;
    size_t len;
    const char *body = http_req_body(req, &len);
    json_t *b = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
    json_t *all = json_object_get(b, "all");
    if (!json_is_object(b) || json_object_size(b) != 1 || !json_is_boolean(all)) {
        acs_api_error(req, b ? 422 : 400, b ? "invalid_session_log" : "bad_json",
                      "all: true or false (expected {\"all\": true})");
        json_decref(b);
        return;
    }
    bool on = json_is_true(all);
    json_decref(b);
    hist_job_t *j = new_job(req, HJ_SESSION_LOG);
    if (!j)
        return;
    if (on && !acs_session_logged(a, j->device) && hmap_len(&a->log_devices) >= ACS_LOG_DEVICES_MAX) {
        acs_api_error(req, 409, "conflict", "too many devices log every session (10000)");
        free(j);
        return;
    }
    j->log_all = on;
    submit(a, req, j);
}

static void h_task_retry(http_req_t *req, void *ud) { h_task_fault(req, ud, HJ_TASK_RETRY); }
static void h_task_clear(http_req_t *req, void *ud) { h_task_fault(req, ud, HJ_TASK_CLEAR); }
static void h_preset_retry(http_req_t *req, void *ud) { h_preset_fault(req, ud, HJ_PRESET_RETRY); }
static void h_preset_clear(http_req_t *req, void *ud) { h_preset_fault(req, ud, HJ_PRESET_CLEAR); }

/* Reading a device's past is a viewer's; retrying or clearing a fault and
 * switching a device's session log act on the fleet: an operator's. */
static const http_route_t routes[] = {
    HTTP_ROUTE("GET", "/api/devices/{id}/parameters/history", HTTP_ACCESS_VIEWER, h_history),
    HTTP_ROUTE("GET", "/api/devices/{id}/sessions", HTTP_ACCESS_VIEWER, h_sessions),
    HTTP_ROUTE("PUT", "/api/devices/{id}/session-log", HTTP_ACCESS_OPERATOR, h_session_log),
    HTTP_ROUTE("GET", "/api/faults", HTTP_ACCESS_VIEWER, h_faults),
    HTTP_ROUTE("POST", "/api/faults/tasks/{id}/retry", HTTP_ACCESS_OPERATOR, h_task_retry),
    HTTP_ROUTE("DELETE", "/api/faults/tasks/{id}", HTTP_ACCESS_OPERATOR, h_task_clear),
    HTTP_ROUTE("POST", "/api/faults/presets/{id}/{name}/retry", HTTP_ACCESS_OPERATOR, h_preset_retry),
    HTTP_ROUTE("DELETE", "/api/faults/presets/{id}/{name}", HTTP_ACCESS_OPERATOR, h_preset_clear),
};

static int add_logged(const char *id, void *ud)
{
    acs_t *a = ud;
    if (hmap_len(&a->log_devices) >= ACS_LOG_DEVICES_MAX)
        return 1;
    return hmap_put_copy(&a->log_devices, id, strlen(id), (void *)1) == -ENOMEM;
}

int acs_session_logs_start(acs_t *a)
{
    hmap_init(&a->log_devices);
    return store_device_session_log_list(a->store, add_logged, a) < 0 ? -EIO : 0;
}

void acs_session_logs_free(acs_t *a)
{
    hmap_free(&a->log_devices);
}

bool acs_session_logged(const acs_t *a, const char *device_id)
{
    return hmap_len(&a->log_devices) && hmap_gets(&a->log_devices, device_id);
}

int acs_history_api_register(acs_t *a, http_router_t *r)
{
    return HTTP_ROUTER_ADD_TABLE(r, routes, a);
}
