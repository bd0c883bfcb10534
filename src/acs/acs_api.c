/*
 * acs_api: the REST API (JSON, bearer token). Every handler that needs the
 * store submits a job to the worker; the JSON answer is built on the worker
 * thread (jansson objects are not shared) and sent from the loop. Errors
 * are {"error": CODE, "message": TEXT}.
 *
 * The API queues work and waits on it: a new task goes to the store, then
 * to the device's live session through acs_work_queued (acs_work.h) or to
 * the device itself by a connection request (acs_cr.c); ?wait= callers
 * wait in acs_waiters.c. It never calls the CWMP session.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acs/acs_api_err.h"
#include "acs/acs_api_lists.h"
#include "acs/acs_api_prov.h"
#include "acs/acs_files.h"
#include "acs/acs_api_search.h"
#include "acs/acs_bulk.h"
#include "acs/acs_internal.h"
#include "acs/acs_keys.h"
#include "acs/acs_tasks.h"
#include "acs/acs_webhook.h"
#include "acs/acs_work.h"
#include "core/clock.h"
#include "core/config.h"
#include "core/log.h"
#include "core/str.h"
#include "net/http_static.h"

enum { API_MAX_BODY = 1024 * 1024, API_MAX_WAIT_S = 120 };

void acs_api_json(http_req_t *req, int status, json_t *body)
{
    char *s = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    if (!s) {
        http_respond_error(req, 500, "cannot encode JSON");
        return;
    }
    size_t n = strlen(s);
    http_respond(req, status, "application/json", s, n);
    free(s);
}

void acs_api_error(http_req_t *req, int status, const char *code, const char *msg)
{
    acs_api_json(req, status, json_pack("{s:s, s:s}", "error", code, "message", msg));
}

static void api_errno(http_req_t *req, int rc, const char *what)
{
    switch (rc) {
    case -ENOENT: acs_api_error(req, 404, "not_found", what); break;
    case -EBUSY: acs_api_error(req, 409, "conflict", "the task was already sent to the device"); break;
    case -ESTALE: acs_api_error(req, 409, "conflict", "the task has already finished"); break;
    default: acs_api_store_error(req, rc); break;
    }
}

/* The one place a failure that is not the handler's own becomes an answer:
 * acs_api_err.c's table (the queue full, a lost race, the database away,
 * shutting down...). */
void acs_api_store_error(http_req_t *req, int rc)
{
    const acs_api_err_t *e = acs_api_err_for(rc);
    json_t *body = json_pack("{s:s, s:s}", "error", e->code, "message", e->message);
    char *s = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    if (!s) {
        http_respond_error(req, 500, "cannot encode JSON");
        return;
    }
    http_respond_hdrs(req, e->status, e->headers, "application/json", s, strlen(s));
    free(s);
}

/* ---- generic job ------------------------------------------------------------------------ */

typedef struct api_job {
    acs_t *a;
    http_req_t *req;
    int kind;
    char id[STORE_ID_MAX];
    int64_t num;
    char prefix[512];
    int64_t limit, wait_s;
    const char *type;       /* task type (static) */
    char tags[STORE_TAGS];  /* J_TAGS: comma-joined */
    char user[STORE_URL], pass[STORE_URL]; /* J_CR_AUTH */
    json_t *params;
    /* J_PARAMS: one level of the tree (next_level) or a search in it */
    bool next_level;
    char search[129];
    size_t listed;          /* entries in out */
    json_t *child;          /* next_level: the child object whose descendants are counted */
    /* out */
    json_t *out;
    int http_status;        /* 0: 200 */
    store_device_t dev;
    store_task_t task;
} api_job_t;

enum { J_DEVICE, J_DEVICE_DELETE, J_PARAMS, J_TASK_ADD, J_TASKS, J_TASK, J_TASK_CANCEL,
       J_STATS, J_CR, J_TAGS, J_CR_AUTH };

static json_t *param_json(const store_param_t *p)
{
    char iso[CLOCK_ISO_LEN];
    acs_iso(p->updated, iso);
    json_t *o = json_pack("{s:s, s:o, s:s, s:o, s:s}", "name", p->name, "value",
                          p->value ? json_string(p->value) : json_null(), "type",
                          p->type ? p->type : "", "writable",
                          p->writable < 0 ? json_null() : json_boolean(p->writable), "last_updated", iso);
    acs_param_history_fields(o, p); /* set_by, set_at, notification, access_list */
    return o;
}

/* ASCII case-insensitive substring (the tree's search box) */
static int ascii_lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

static bool icase_contains(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (; *hay; hay++) {
        size_t i = 0;
        while (i < n && hay[i] && ascii_lower((unsigned char)hay[i]) == ascii_lower((unsigned char)needle[i]))
            i++;
        if (i == n)
            return true;
    }
    return false;
}

/* ?next_level=true: the rows come in name order, so an object's descendants
 * follow it in one run. A direct child is listed as it is; a deeper row is
 * counted into the child object above it ("children"), which is made up
 * (value null, nothing known) when the store has no row of its own for it. */
static int collect_level(api_job_t *j, const store_param_t *p)
{
    size_t plen = strlen(j->prefix);
    const char *rest = p->name + plen;
    const char *dot = strchr(rest, '.');
    if (!*rest)
        return 0; /* the prefix's own object row */
    if (!dot || !dot[1]) { /* a direct child: a leaf, or an object "X." */
        json_t *o = param_json(p);
        if (dot) {
            json_object_set_new(o, "children", json_integer(0));
            j->child = o;
        }
        j->listed++;
        return json_array_append_new(j->out, o) == 0 ? 0 : -ENOMEM;
    }
    size_t clen = plen + (size_t)(dot - rest) + 1;
    const char *cur = j->child ? json_string_value(json_object_get(j->child, "name")) : NULL;
    if (!cur || strlen(cur) != clen || strncmp(cur, p->name, clen) != 0) {
        json_t *o = json_pack("{s:s#, s:n, s:s, s:n, s:s, s:n, s:n, s:n, s:n, s:i}", "name", p->name,
                              (int)clen, "value", "type", "", "writable", "last_updated", "",
                              "set_by", "set_at", "notification", "access_list", "children", 0);
        if (!o || json_array_append_new(j->out, o) != 0)
            return -ENOMEM;
        j->child = o;
        j->listed++;
    }
    json_t *c = json_object_get(j->child, "children");
    json_integer_set(c, json_integer_value(c) + 1);
    return 0;
}

static int collect_param(const store_param_t *p, void *ud)
{
    api_job_t *j = ud;
    if (j->limit > 0 && j->listed >= (size_t)j->limit)
        return 1; /* enough: stops the read */
    if (j->next_level)
        return collect_level(j, p);
    if (j->search[0] && !icase_contains(p->name, j->search) &&
        !(p->value && icase_contains(p->value, j->search)))
        return 0;
    j->listed++;
    return json_array_append_new(j->out, param_json(p)) == 0 ? 0 : -ENOMEM;
}

static int collect_task(const store_task_t *t, void *ud)
{
    api_job_t *j = ud;
    json_array_append_new(j->out, acs_task_json(t));
    return 0;
}

static int api_run(store_t *st, void *ud)
{
    api_job_t *j = ud;
    int64_t now = clock_real_s();
    int rc = 0;
    switch (j->kind) {
    case J_DEVICE:
    case J_CR:
        rc = store_device_get(st, j->id, &j->dev);
        if (rc == 0)
            j->out = acs_device_json(&j->dev, now, j->a->default_interval_s);
        return rc;
    case J_DEVICE_DELETE:
        return store_device_delete(st, j->id);
    case J_TAGS:
    case J_CR_AUTH:
        rc = j->kind == J_TAGS ? store_device_set_tags(st, j->id, j->tags)
                               : store_device_set_cr_auth(st, j->id, j->user, j->pass);
        if (rc == 0 && (rc = store_device_get(st, j->id, &j->dev)) == 0)
            j->out = acs_device_json(&j->dev, now, j->a->default_interval_s);
        return rc;
    case J_PARAMS:
        if ((rc = store_device_get(st, j->id, &j->dev)) < 0)
            return rc;
        j->out = json_array();
        return store_params_list(st, j->id, j->prefix[0] ? j->prefix : NULL, collect_param, j);
    case J_TASK_ADD: {
        if ((rc = store_device_get(st, j->id, &j->dev)) < 0)
            return rc;
        /* a download naming a stored file: it must exist now (acs_files.h) */
        if ((rc = acs_files_task_check(st, j->type, j->params, j->prefix, sizeof j->prefix)) < 0)
            return rc;
        store_task_t *t = &j->task;
        memset(t, 0, sizeof *t);
        str_copy(t->device_id, sizeof t->device_id, j->id);
        str_copy(t->type, sizeof t->type, j->type);
        t->params = json_dumps(j->params, JSON_COMPACT);
        t->created = now;
        t->expires_at = j->a->o.task_ttl_ms > 0 ? now + j->a->o.task_ttl_ms / 1000 : 0;
        rc = store_task_add(st, t);
        if (rc == 0)
            j->out = acs_task_json(t);
        return rc;
    }
    case J_TASKS:
        if ((rc = store_device_get(st, j->id, &j->dev)) < 0)
            return rc;
        j->out = json_array();
        return store_task_list(st, j->id, j->limit, collect_task, j);
    case J_TASK:
    case J_TASK_CANCEL:
        if (j->kind == J_TASK_CANCEL && (rc = store_task_cancel(st, j->num, now)) < 0)
            return rc;
        rc = store_task_get(st, j->num, &j->task);
        if (rc == 0)
            j->out = acs_task_json(&j->task);
        return rc;
    case J_STATS: {
        store_stats_t s;
        if ((rc = store_stats(st, now, j->a->default_interval_s, &s)) < 0)
            return rc;
        j->out = json_pack("{s:I, s:I, s:I, s:I, s:I}", "total_devices", (json_int_t)s.total_devices,
                           "online_devices", (json_int_t)s.online_devices, "offline_devices",
                           (json_int_t)(s.total_devices - s.online_devices), "pending_tasks",
                           (json_int_t)s.pending_tasks, "sent_tasks", (json_int_t)s.sent_tasks);
        return 0;
    }
    }
    return -EINVAL;
}

static void job_free(api_job_t *j)
{
    json_decref(j->out);
    json_decref(j->params);
    store_task_clear(&j->task);
    free(j);
}

static void api_submit(acs_t *a, http_req_t *req, api_job_t *j);

/* A ?wait= caller's turn (acs_waiters.c): the task as it is now, 201 as
 * when it was created. */
static void waiter_answer(acs_t *a, http_req_t *req, int64_t task_id, int rc)
{
    api_job_t *j = rc == 0 ? calloc(1, sizeof *j) : NULL;
    if (rc == -ECANCELED) {
        acs_api_error(req, 503, "unavailable", "shutting down");
    } else if (!j) {
        acs_api_error(req, 500, "internal", "out of memory");
    } else {
        j->kind = J_TASK;
        j->num = task_id;
        j->http_status = 201;
        api_submit(a, req, j);
    }
}

/* ---- completion ------------------------------------------------------------------------ */

/* A connection request's outcome as the API answers it: refusals are the
 * device's URL (409) or our policy (403), failures the CPE's (502). */
static void cr_answer(http_req_t *req, int rc, long status, const char *reason)
{
    int code = 502;
    const char *err = "connection_request_failed";
    switch (rc) {
    case 0:
        acs_api_json(req, 200, json_pack("{s:b, s:i}", "ok", 1, "http_status", (int)status));
        return;
    case -ENOENT: code = 409; err = "no_connection_request_url"; break;
    case -EINVAL: code = 409; err = "bad_connection_request_url"; break;
    case -EPERM: code = 403; err = "connection_request_refused"; break;
    case -ENOMEM:
    case -ECANCELED: code = 503; err = "unavailable"; break;
    case -EBUSY: code = 503; err = "busy"; break;
    default: break;
    }
    acs_api_json(req, code, json_pack("{s:s, s:o, s:s, s:i}", "error", err, "message",
                                      acs_json_text(reason), "outcome", acs_cr_outcome(rc),
                                      "http_status", (int)status));
}

static void cr_done_api(int rc, long status, const char *reason, void *ud)
{
    if (rc == ACS_CR_PENDING)
        return; /* UDP: answered with the outcome */
    cr_answer(ud, rc, status, reason);
}

/* The connection request sent for a new task: its outcome goes on the task. */
typedef struct cr_note_job {
    acs_t *a;
    int64_t task_id;
    store_cr_note_t note;
} cr_note_job_t;

static int cr_note_run(store_t *st, void *ud)
{
    cr_note_job_t *w = ud;
    return store_task_set_cr(st, w->task_id, &w->note);
}

static void cr_note_free(int rc, void *ud)
{
    free(ud);
}

static void cr_note_fill(store_cr_note_t *n, int rc, const char *reason)
{
    str_copy(n->status, sizeof n->status, acs_cr_outcome(rc));
    acs_utf8_copy(n->reason, sizeof n->reason, reason);
    n->at = clock_real_s();
}

static void cr_note_submit(cr_note_job_t *w)
{
    /* At shutdown the worker is already gone: the note is dropped. */
    if (!w->a->db || store_worker_submit(w->a->db, cr_note_run, cr_note_free, w) != 0)
        free(w);
}

static void cr_done_task(int rc, long status, const char *reason, void *ud)
{
    cr_note_job_t *w = ud;
    if (rc == -ECANCELED) {
        free(w);
        return;
    }
    if (rc == ACS_CR_PENDING) {
        /* UDP: "udp sent" now, the outcome when it is known */
        cr_note_job_t *now = malloc(sizeof *now);
        if (now) {
            *now = *w;
            cr_note_fill(&now->note, rc, reason);
            cr_note_submit(now);
        }
        return;
    }
    char ok[40];
    snprintf(ok, sizeof ok, "CPE answered %ld", status);
    /* status 0: not HTTP (XMPP): the reason says how the CPE answered */
    cr_note_fill(&w->note, rc, rc == 0 && status ? ok : reason);
    cr_note_submit(w);
}

/* Wake the device for the task just created; a refusal known at once is in
 * the task the API answers with, and stored. */
static void wake_for_task(acs_t *a, api_job_t *j)
{
    cr_note_job_t *w = calloc(1, sizeof *w);
    if (!w)
        return;
    w->a = a;
    w->task_id = j->task.id;
    int rc = acs_cr_send(a, &j->dev, cr_done_task, w);
    if (rc == 0)
        return;
    if (rc == -ECANCELED) {
        free(w);
        return;
    }
    cr_note_fill(&w->note, rc, acs_cr_strerror(rc));
    j->task.cr = w->note;
    json_t *o = acs_task_json(&j->task);
    if (o) {
        json_decref(j->out);
        j->out = o;
    }
    cr_note_submit(w);
}

static void api_done(int rc, void *ud)
{
    api_job_t *j = ud;
    acs_t *a = j->a;
    http_req_t *req = j->req;
    if (rc == -ENXIO && j->kind == J_TASK_ADD) {
        acs_api_error(req, 422, "invalid_task", j->prefix); /* acs_files_task_check's reason */
        job_free(j);
        return;
    }
    if (rc < 0) {
        api_errno(req, rc, j->kind == J_TASK || j->kind == J_TASK_CANCEL ? "no such task"
                                                                          : "no such device");
        job_free(j);
        return;
    }
    switch (j->kind) {
    case J_DEVICE_DELETE:
        http_respond(req, 204, NULL, NULL, 0);
        break;
    case J_TASK_ADD:
        log_info("api_task_created", LF_I("task", j->task.id), LF_S("device", j->id),
                 LF_S("type", j->type));
        acs_events_task(a, &j->task); /* pending */
        /* Wake the device: a live session picks it up, otherwise ask the CPE to call. */
        if (!acs_work_queued(a, j->id))
            wake_for_task(a, j);
        if (j->wait_s > 0) {
            if (acs_waiter_add(a, req, j->task.id, j->task.expires_at, j->wait_s, waiter_answer) != 0)
                acs_api_error(req, 500, "internal", "out of memory");
        } else {
            acs_api_json(req, 201, j->out);
            j->out = NULL;
        }
        break;
    case J_CR: {
        int crc = acs_cr_send(a, &j->dev, cr_done_api, req);
        if (crc != 0)
            cr_answer(req, crc, 0, acs_cr_strerror(crc));
        break;
    }
    case J_TASK_CANCEL:
        /* Cancelled is finished: a ?wait= on it answers now, not at its timeout. */
        acs_task_finished(a, j->num);
        acs_api_json(req, 200, j->out);
        j->out = NULL;
        break;
    case J_DEVICE:
        json_object_set_new(j->out, "in_session", json_boolean(acs_work_live(a, j->id)));
        /* fall through */
    default:
        if (j->kind == J_STATS)
            json_object_set_new(j->out, "live_sessions", json_integer((json_int_t)a->nsessions));
        acs_api_json(req, j->http_status ? j->http_status : 200, j->out);
        j->out = NULL;
    }
    job_free(j);
}

static void api_submit(acs_t *a, http_req_t *req, api_job_t *j)
{
    j->a = a;
    j->req = req;
    int rc = store_worker_submit(a->db, api_run, api_done, j);
    if (rc != 0) {
        api_errno(req, rc, "");
        job_free(j);
    }
}

static api_job_t *new_job(http_req_t *req, int kind)
{
    api_job_t *j = calloc(1, sizeof *j);
    if (!j) {
        acs_api_error(req, 500, "internal", "out of memory");
        return NULL;
    }
    j->kind = kind;
    const char *id = http_req_param(req, "id");
    if (id && str_copy(j->id, sizeof j->id, id) != 0) {
        acs_api_error(req, 404, "not_found", "no such device");
        free(j);
        return NULL;
    }
    return j;
}

/* ---- handlers --------------------------------------------------------------------------- */

static bool query_int(http_req_t *req, const char *name, int64_t min, int64_t max, int64_t *out)
{
    buf_t b = BUF_INIT(64);
    int rc = http_req_query_param(req, name, &b);
    bool ok = true;
    if ((rc != 0 && rc != -ENOENT) ||
        (rc == 0 && str_to_i64(b.data ? b.data : "", min, max, out) != 0)) {
        char msg[128];
        snprintf(msg, sizeof msg, "%s: an integer in [%" PRId64 ", %" PRId64 "]", name, min, max);
        acs_api_error(req, 400, "bad_request", msg);
        ok = false;
    }
    buf_free(&b);
    return ok;
}

static bool query_str(http_req_t *req, const char *name, char *out, size_t len)
{
    buf_t b = BUF_INIT(len);
    int rc = http_req_query_param(req, name, &b);
    if (rc == -ENOBUFS || rc == -EINVAL) {
        buf_free(&b);
        acs_api_error(req, 400, "bad_request", "query parameter too long or malformed");
        return false;
    }
    str_copy(out, len, rc == 0 && b.data ? b.data : "");
    buf_free(&b);
    return true;
}

bool acs_api_query_int(http_req_t *req, const char *name, int64_t min, int64_t max, int64_t *out)
{
    return query_int(req, name, min, max, out);
}

bool acs_api_query_str(http_req_t *req, const char *name, char *out, size_t len)
{
    return query_str(req, name, out, len);
}

static void h_simple(http_req_t *req, void *ud, int kind)
{
    api_job_t *j = new_job(req, kind);
    if (j)
        api_submit(ud, req, j);
}

static void h_device(http_req_t *req, void *ud) { h_simple(req, ud, J_DEVICE); }
static void h_device_delete(http_req_t *req, void *ud) { h_simple(req, ud, J_DEVICE_DELETE); }
static void h_stats(http_req_t *req, void *ud) { h_simple(req, ud, J_STATS); }
static void h_cr(http_req_t *req, void *ud) { h_simple(req, ud, J_CR); }

/* ?prefix=P: the names under P; &next_level=true: only its direct children
 * (objects with a count of what lies under them: the dashboard's tree opens
 * one level at a time); &search=TEXT: names or values containing TEXT;
 * &limit=N: at most N entries. */
static void h_params(http_req_t *req, void *ud)
{
    api_job_t *j = new_job(req, J_PARAMS);
    if (!j)
        return;
    char nl[8];
    if (!query_str(req, "prefix", j->prefix, sizeof j->prefix) || !query_str(req, "next_level", nl, sizeof nl) ||
        !query_str(req, "search", j->search, sizeof j->search) || !query_int(req, "limit", 1, 100000, &j->limit)) {
        free(j);
        return;
    }
    if (nl[0] && cfg_parse_bool(nl, &j->next_level) != 0) {
        acs_api_error(req, 400, "bad_request", "next_level: true or false");
        free(j);
        return;
    }
    size_t plen = strlen(j->prefix);
    if (j->next_level && (j->search[0] || (plen && j->prefix[plen - 1] != '.'))) {
        acs_api_error(req, 400, "bad_request",
                      "next_level: with a prefix that is empty or ends with '.', and without search");
        free(j);
        return;
    }
    api_submit(ud, req, j);
}

static void h_tasks(http_req_t *req, void *ud)
{
    api_job_t *j = new_job(req, J_TASKS);
    if (!j)
        return;
    j->limit = 100;
    if (!query_int(req, "limit", 1, 1000, &j->limit)) {
        free(j);
        return;
    }
    api_submit(ud, req, j);
}

static void h_task(http_req_t *req, void *ud, int kind)
{
    int64_t id;
    if (str_to_i64(http_req_param(req, "id"), 1, INT64_MAX, &id) != 0) {
        acs_api_error(req, 404, "not_found", "no such task");
        return;
    }
    api_job_t *j = calloc(1, sizeof *j);
    if (!j) {
        acs_api_error(req, 500, "internal", "out of memory");
        return;
    }
    j->kind = kind;
    j->num = id;
    api_submit(ud, req, j);
}

/* PUT {"tags": ["lab", "north"]}: replaces the device's tags. */
static void h_tags(http_req_t *req, void *ud)
{
    size_t len;
    const char *body = http_req_body(req, &len);
    json_t *j = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
    json_t *tags = json_object_get(j, "tags");
    api_job_t *job = NULL;
    if (!json_is_object(j) || json_object_size(j) != 1 || !json_is_array(tags)) {
        acs_api_error(req, j ? 422 : 400, j ? "invalid_tags" : "bad_json",
                      "expected {\"tags\": [\"tag\", ...]}");
        goto out;
    }
    if (!(job = new_job(req, J_TAGS)))
        goto out;
    size_t i, off = 0;
    json_t *t;
    json_array_foreach(tags, i, t) {
        const char *v = json_string_value(t);
        size_t n = v ? strlen(v) : 0;
        if (!v || n == 0 || n > 64 || strchr(v, ',') || n != json_string_length(t) ||
            off + n + 2 > sizeof job->tags) {
            acs_api_error(req, 422, "invalid_tags",
                          "tags are 1-64 characters without commas, 500 characters in all");
            free(job);
            job = NULL;
            goto out;
        }
        off += (size_t)snprintf(job->tags + off, sizeof job->tags - off, "%s%s", off ? "," : "", v);
    }
    api_submit(ud, req, job);
out:
    json_decref(j);
}

/* PUT {"username": U, "password": P}: the device's own connection request
 * credentials (instead of --cr-username/--cr-password). */
static void h_cr_auth(http_req_t *req, void *ud)
{
    size_t len;
    const char *body = http_req_body(req, &len);
    json_t *j = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
    json_t *u = json_object_get(j, "username"), *p = json_object_get(j, "password");
    if (!json_is_object(j) || json_object_size(j) != 2 || !json_is_string(u) || !json_is_string(p) ||
        json_string_length(u) >= STORE_URL || json_string_length(p) >= STORE_URL ||
        strlen(json_string_value(u)) != json_string_length(u) ||
        strlen(json_string_value(p)) != json_string_length(p)) {
        acs_api_error(req, j ? 422 : 400, j ? "invalid_credentials" : "bad_json",
                      "expected {\"username\": \"...\", \"password\": \"...\"}");
        json_decref(j);
        return;
    }
    api_job_t *job = new_job(req, J_CR_AUTH);
    if (job) {
        str_copy(job->user, sizeof job->user, json_string_value(u));
        str_copy(job->pass, sizeof job->pass, json_string_value(p));
        api_submit(ud, req, job);
    }
    json_decref(j);
}

static void h_task_get(http_req_t *req, void *ud) { h_task(req, ud, J_TASK); }
static void h_task_cancel(http_req_t *req, void *ud) { h_task(req, ud, J_TASK_CANCEL); }

static void create_task(http_req_t *req, acs_t *a, json_t *body)
{
    const char *type;
    json_t *params;
    char err[256];
    int64_t wait_s = 0;
    if (!query_int(req, "wait", 0, API_MAX_WAIT_S, &wait_s)) {
        json_decref(body);
        return;
    }
    if (acs_task_validate(body, &type, &params, err, sizeof err) != 0) {
        json_decref(body);
        acs_api_error(req, 422, "invalid_task", err);
        return;
    }
    json_decref(body);
    api_job_t *j = new_job(req, J_TASK_ADD);
    if (!j) {
        json_decref(params);
        return;
    }
    j->type = type;
    j->params = params;
    j->wait_s = wait_s;
    api_submit(a, req, j);
}

static void h_task_add(http_req_t *req, void *ud)
{
    size_t len;
    const char *body = http_req_body(req, &len);
    json_error_t e;
    json_t *j = json_loadb(body, len, JSON_REJECT_DUPLICATES, &e);
    if (!j) {
        char msg[256];
        snprintf(msg, sizeof msg, "malformed JSON: %s (line %d)", e.text, e.line);
        acs_api_error(req, 400, "bad_json", msg);
        return;
    }
    create_task(req, ud, j);
}

static void h_reboot(http_req_t *req, void *ud)
{
    create_task(req, ud, json_pack("{s:s}", "type", "reboot"));
}

static void h_factory_reset(http_req_t *req, void *ud)
{
    create_task(req, ud, json_pack("{s:s}", "type", "factory_reset"));
}

/* docs/api/openapi.yaml as JSON, embedded by the build (scripts/embed-file). */
extern const http_static_t acs_openapi_json;

static void h_openapi(http_req_t *req, void *ud)
{
    http_static_serve(req, &acs_openapi_json, "Cache-Control: no-cache\r\n");
}

/* ---- server ----------------------------------------------------------------------------- */

/* Every API route needs a credential with its role (docs/api-keys.md has
 * the table): viewer reads, operator acts on devices (tasks, tags, wake-ups),
 * admin changes what is not a device's state (forgetting a device, its
 * connection request secret). The dashboard's files (acs_web.c) are public.
 * tests/integration/test_acs_roles.py holds every route to its role. */
static const http_route_t api_routes[] = {
    HTTP_ROUTE("GET", "/api/devices/{id}", HTTP_ACCESS_VIEWER, h_device),
    HTTP_ROUTE("DELETE", "/api/devices/{id}", HTTP_ACCESS_ADMIN, h_device_delete),
    HTTP_ROUTE("GET", "/api/devices/{id}/parameters", HTTP_ACCESS_VIEWER, h_params),
    HTTP_ROUTE("POST", "/api/devices/{id}/reboot", HTTP_ACCESS_OPERATOR, h_reboot),
    HTTP_ROUTE("POST", "/api/devices/{id}/factory-reset", HTTP_ACCESS_OPERATOR, h_factory_reset),
    HTTP_ROUTE("POST", "/api/devices/{id}/connection-request", HTTP_ACCESS_OPERATOR, h_cr),
    HTTP_ROUTE("PUT", "/api/devices/{id}/tags", HTTP_ACCESS_OPERATOR, h_tags),
    HTTP_ROUTE("PUT", "/api/devices/{id}/connection-request-credentials", HTTP_ACCESS_ADMIN, h_cr_auth),
    HTTP_ROUTE("GET", "/api/devices/{id}/tasks", HTTP_ACCESS_VIEWER, h_tasks),
    HTTP_ROUTE("POST", "/api/devices/{id}/tasks", HTTP_ACCESS_OPERATOR, h_task_add),
    HTTP_ROUTE("GET", "/api/tasks/{id}", HTTP_ACCESS_VIEWER, h_task_get),
    HTTP_ROUTE("DELETE", "/api/tasks/{id}", HTTP_ACCESS_OPERATOR, h_task_cancel),
    HTTP_ROUTE("GET", "/api/stats", HTTP_ACCESS_VIEWER, h_stats),
    HTTP_ROUTE("GET", "/api/openapi.json", HTTP_ACCESS_VIEWER, h_openapi),
};

static int api_register(acs_t *a, http_router_t *r)
{
    return HTTP_ROUTER_ADD_TABLE(r, api_routes, a);
}

int acs_api_start(acs_t *a, const char *listen)
{
    /* the token is the first admin key; the others are looked up in memory */
    http_router_opts_t ro = { .name = "acs", .token = a->api_token, .key_lookup = acs_key_role,
                              .key_ud = a };
    http_router_t *r = a->router = http_router_new(&ro);
    if (!r)
        return -ENOMEM;
    /* The route groups, one line each. */
    static int (*const groups[])(acs_t *, http_router_t *) = {
        api_register,
        acs_prov_api_register,
        acs_history_api_register,
        acs_files_api_register,
        acs_search_api_register,
        acs_bulk_api_register,
        acs_lists_api_register,
        acs_keys_api_register,
        acs_webhook_api_register,
        acs_web_register,
        acs_events_api_register,
    };
    int rc = 0;
    for (size_t i = 0; !rc && i < sizeof groups / sizeof groups[0]; i++)
        rc = groups[i](a, r);
    if (rc)
        return rc;
    http_server_opts_t so = {
        .max_body_bytes = API_MAX_BODY,
        .on_head = http_router_on_head,
        .handler = http_router_dispatch,
        .ud = r,
    };
    a->api = http_server_new(a->loop, &so);
    if (!a->api)
        return -ENOMEM;
    net_listen_opts_t lo = { .addr = listen, .max_connections = (size_t)a->o.api_max_connections };
    return http_server_listen(a->api, &lo);
}

void acs_api_stop(acs_t *a)
{
    if (a->api) {
        http_server_close(a->api, NULL, NULL);
        a->api = NULL;
    }
}
