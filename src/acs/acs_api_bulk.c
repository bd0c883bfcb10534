/*
 * acs_api_bulk: bulk tasks in the REST API (acs_bulk.h says how they run).
 *
 *   POST /api/tasks     {"filter": F | "ids": [...], "task": {"type", "parameters"},
 *                        "max_in_flight": N, "max_failure_ratio": R, "min_finished": M}
 *                       -> 201 the bulk; 422 when it matches no device
 *   GET /api/bulk/{id}  the bulk: counts by status, the failed tasks listed;
 *                       ?status=S&limit=N: its tasks in that status, device by device
 *   DELETE /api/bulk/{id}  cancels every task not sent yet
 *
 * Every bad input is a 4xx JSON error whose "field" names the member.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acs/acs_bulk.h"
#include "acs/acs_files.h"
#include "acs/acs_webhook.h"
#include "acs/acs_tasks.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/str.h"

enum { BULK_MAX_IDS = 100000, BULK_FAILED_LISTED = 100 };

typedef struct bulk_job {
    acs_t *a;
    http_req_t *req;
    int kind;                 /* B_CREATE, B_GET, B_CANCEL */
    int64_t id;
    store_bulk_t b;
    store_filter_t *filter;   /* B_CREATE with a filter */
    char *ids_json;           /* B_CREATE with ids */
    int64_t given_ids;
    json_t *failed;           /* the failed tasks listed */
    int list_status;          /* B_GET ?status=: -1 none */
    int64_t list_limit;
    json_t *tasks;
    int64_t cancelled;
    char why[256];            /* B_CREATE: a download's stored file missing */
} bulk_job_t;

enum { B_CREATE, B_GET, B_CANCEL };

static void field_error(http_req_t *req, int status, const char *code, const char *field,
                        const char *msg)
{
    acs_api_json(req, status, json_pack("{s:s, s:s, s:s}", "error", code, "message", msg, "field",
                                        field));
}

json_t *acs_bulk_json(const store_bulk_t *b)
{
    char created[CLOCK_ISO_LEN], updated[CLOCK_ISO_LEN];
    acs_iso(b->created, created);
    acs_iso(b->updated, updated);
    json_t *params = b->params ? json_loads(b->params, 0, NULL) : NULL;
    acs_task_params_hide(params);
    return json_pack(
        "{s:I, s:s, s:o, s:s, s:o, s:o, s:I, s:{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}, s:I, s:f,"
        " s:I, s:s, s:s}",
        "id", (json_int_t)b->id, "state", store_bulk_state_name(b->state), "reason",
        b->reason[0] ? acs_json_text(b->reason) : json_null(), "type", b->type, "parameters",
        params ? params : json_object(), "filter",
        b->filter && b->filter[0] ? acs_json_text(b->filter) : json_null(), "total",
        (json_int_t)b->total, "counts", "pending", (json_int_t)(b->held + b->pending), "held",
        (json_int_t)b->held, "in_flight", (json_int_t)(b->pending + b->sent), "sent",
        (json_int_t)b->sent, "done", (json_int_t)b->done, "failed", (json_int_t)b->failed,
        "expired", (json_int_t)b->expired, "cancelled", (json_int_t)b->cancelled, "max_in_flight",
        (json_int_t)b->max_in_flight, "max_failure_ratio", b->max_failure_ratio, "min_finished",
        (json_int_t)b->min_finished, "created", created, "updated", updated);
}

static int collect_failed(const store_task_t *t, void *ud)
{
    bulk_job_t *j = ud;
    json_array_append_new(
        j->failed, json_pack("{s:I, s:s, s:s, s:i, s:o}", "task", (json_int_t)t->id, "device",
                             t->device_id, "status", store_task_status_name(t->status),
                             "fault_code", t->fault_code, "fault_string",
                             acs_json_text(t->fault_string)));
    return json_array_size(j->failed) >= BULK_FAILED_LISTED;
}

static int collect_task(const store_task_t *t, void *ud)
{
    bulk_job_t *j = ud;
    char at[CLOCK_ISO_LEN];
    acs_iso(t->updated, at);
    json_array_append_new(j->tasks, json_pack("{s:I, s:s, s:s, s:i, s:s}", "task", (json_int_t)t->id,
                                              "device", t->device_id, "status",
                                              store_task_status_name(t->status), "attempts",
                                              t->attempts, "updated", at));
    return 0;
}

static int bulk_run(store_t *st, void *ud)
{
    bulk_job_t *j = ud;
    int64_t now = clock_real_s();
    int rc = 0;
    if (j->kind == B_CREATE) {
        /* a download naming a stored file: it must exist now, as for one task */
        json_t *params = json_loads(j->b.params, 0, NULL);
        rc = params ? acs_files_task_check(st, j->b.type, params, j->why, sizeof j->why) : -ENOMEM;
        json_decref(params);
        if (rc < 0)
            return rc;
        store_search_t q = { .filter = j->filter, .now = now,
                             .default_interval = j->a->default_interval_s };
        if ((rc = store_bulk_create(st, &j->b, &q, j->ids_json, now)) < 0)
            return rc;
        j->id = j->b.id;
        store_bulk_clear(&j->b);
    } else if (j->kind == B_CANCEL) {
        if ((rc = store_bulk_end(st, j->id, STORE_BULK_CANCELLED, "cancelled by the API", now)) < 0)
            return rc;
        j->cancelled = rc;
    }
    if ((rc = store_bulk_get(st, j->id, &j->b)) < 0)
        return rc;
    j->failed = json_array();
    if ((rc = store_bulk_tasks(st, j->id, STORE_TASK_FAILED, BULK_FAILED_LISTED, collect_failed,
                               j)) == 0 &&
        json_array_size(j->failed) < BULK_FAILED_LISTED)
        rc = store_bulk_tasks(st, j->id, STORE_TASK_EXPIRED, BULK_FAILED_LISTED, collect_failed, j);
    if (rc == 0 && j->list_status >= 0 && (j->tasks = json_array()))
        rc = store_bulk_tasks(st, j->id, (store_task_status_t)j->list_status, j->list_limit,
                              collect_task, j);
    return rc;
}

static void job_free(bulk_job_t *j)
{
    store_bulk_clear(&j->b);
    free(j->filter);
    free(j->ids_json);
    json_decref(j->failed);
    json_decref(j->tasks);
    free(j);
}

static void bulk_done(int rc, void *ud)
{
    bulk_job_t *j = ud;
    http_req_t *req = j->req;
    switch (rc) {
    case 0: {
        json_t *o = acs_bulk_json(&j->b);
        if (!o) {
            acs_api_error(req, 500, "internal", "cannot encode the bulk");
            break;
        }
        json_object_set_new(o, "failed_tasks", j->failed);
        j->failed = NULL;
        if (j->tasks) {
            json_object_set_new(o, "tasks", j->tasks);
            j->tasks = NULL;
        }
        if (j->kind == B_CREATE) {
            if (j->ids_json)
                json_object_set_new(o, "unknown_ids", json_integer(j->given_ids - j->b.total));
            log_info("bulk_created", LF_I("bulk", j->b.id), LF_I("tasks", j->b.total),
                     LF_S("type", j->b.type));
            acs_bulk_kick(j->a);
        } else if (j->kind == B_CANCEL) {
            json_object_set_new(o, "cancelled_now", json_integer(j->cancelled));
            log_info("bulk_cancelled", LF_I("bulk", j->id), LF_I("tasks", j->cancelled));
            acs_events_emit(j->a, "bulk.finished", NULL,
                             json_pack("{s:I,s:s,s:s}", "bulk", (json_int_t)j->id, "state",
                                       "cancelled", "reason", "cancelled by the API"));
        }
        acs_api_json(req, j->kind == B_CREATE ? 201 : 200, o);
        break;
    }
    case -ENODATA:
        field_error(req, 422, "no_devices", j->ids_json ? "ids" : "filter",
                    j->ids_json ? "ids: none of them is a known device"
                                : "filter: it matches no device");
        break;
    case -ENXIO:
        field_error(req, 422, "invalid_task", "task", j->why);
        break;
    case -ENOENT:
        field_error(req, 404, "not_found", "id", "no such bulk");
        break;
    case -ESTALE:
        field_error(req, 409, "conflict", "id", "the bulk has already ended");
        break;
    case -E2BIG:
        field_error(req, 400, "bad_filter", "filter", "filter: too large to run");
        break;
    default:
        acs_api_store_error(req, rc);
    }
    job_free(j);
}

static void submit(acs_t *a, http_req_t *req, bulk_job_t *j)
{
    j->a = a;
    j->req = req;
    int rc = store_worker_submit(a->db, bulk_run, bulk_done, j);
    if (rc != 0) {
        acs_api_store_error(req, rc);
        job_free(j);
    }
}

/* ---- POST /api/tasks ------------------------------------------------------------------ */

/* The body's members other than the task: 0, or an answer was sent. */
static int read_options(http_req_t *req, json_t *body, bulk_job_t *j)
{
    const char *k;
    json_t *v;
    json_object_foreach(body, k, v) {
        static const char *const known[] = { "filter", "ids", "task", "max_in_flight",
                                             "max_failure_ratio", "min_finished" };
        size_t i = 0;
        while (i < sizeof known / sizeof known[0] && strcmp(k, known[i]))
            i++;
        if (i == sizeof known / sizeof known[0]) {
            char msg[128];
            snprintf(msg, sizeof msg, "unknown member '%.60s'", k);
            field_error(req, 422, "invalid_bulk", k, msg);
            return -EINVAL;
        }
    }
    json_t *mif = json_object_get(body, "max_in_flight"), *mfr = json_object_get(body, "max_failure_ratio"),
           *mf = json_object_get(body, "min_finished");
    if (mif && (!json_is_integer(mif) || json_integer_value(mif) < 0 ||
                json_integer_value(mif) > 1000000)) {
        field_error(req, 422, "invalid_bulk", "max_in_flight",
                    "max_in_flight: an integer in [0, 1000000] (0: no cap)");
        return -EINVAL;
    }
    if (mfr && (!json_is_number(mfr) || json_number_value(mfr) < 0 || json_number_value(mfr) > 1)) {
        field_error(req, 422, "invalid_bulk", "max_failure_ratio",
                    "max_failure_ratio: a number in [0, 1] (0: never stop)");
        return -EINVAL;
    }
    if (mf && (!json_is_integer(mf) || json_integer_value(mf) < 0 || json_integer_value(mf) > 1000000)) {
        field_error(req, 422, "invalid_bulk", "min_finished",
                    "min_finished: an integer in [0, 1000000]");
        return -EINVAL;
    }
    j->b.max_in_flight = mif ? json_integer_value(mif) : 0;
    j->b.max_failure_ratio = mfr ? json_number_value(mfr) : 0;
    j->b.min_finished = mf ? json_integer_value(mf) : 10;
    return 0;
}

/* filter or ids, exactly one: 0, or an answer was sent. */
static int read_target(http_req_t *req, json_t *body, bulk_job_t *j)
{
    json_t *f = json_object_get(body, "filter"), *ids = json_object_get(body, "ids");
    if (!f == !ids) {
        field_error(req, 422, "invalid_bulk", "filter", "give either filter or ids");
        return -EINVAL;
    }
    if (f) {
        const char *text = json_string_value(f);
        store_filter_error_t e;
        if (!text || !(j->filter = malloc(sizeof *j->filter))) {
            field_error(req, text ? 500 : 422, text ? "internal" : "invalid_bulk", "filter",
                        "filter: a string in the search language");
            return -EINVAL;
        }
        int rc = store_filter_parse(j->filter, text, json_string_length(f), &e);
        if (rc < 0) {
            char msg[160];
            snprintf(msg, sizeof msg, "filter: %s at position %zu", e.msg[0] ? e.msg : "too complex",
                     e.pos);
            acs_api_json(req, 400, json_pack("{s:s, s:s, s:s, s:I}", "error", "bad_filter",
                                             "message", msg, "field", "filter", "position",
                                             (json_int_t)e.pos));
            return -EINVAL;
        }
        j->b.filter = strdup(text);
        return j->b.filter ? 0 : (acs_api_error(req, 500, "internal", "out of memory"), -ENOMEM);
    }
    size_t n = json_array_size(ids), i;
    json_t *v;
    if (!json_is_array(ids) || n == 0 || n > BULK_MAX_IDS) {
        field_error(req, 422, "invalid_bulk", "ids", "ids: a list of 1 to 100000 device ids");
        return -EINVAL;
    }
    json_array_foreach(ids, i, v) {
        if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) >= STORE_ID_MAX ||
            strlen(json_string_value(v)) != json_string_length(v)) {
            char msg[96];
            snprintf(msg, sizeof msg, "ids[%zu]: a device id (a string of 1-255 bytes)", i);
            field_error(req, 422, "invalid_bulk", "ids", msg);
            return -EINVAL;
        }
    }
    j->given_ids = (int64_t)n;
    j->ids_json = json_dumps(ids, JSON_COMPACT);
    j->b.filter = strdup("");
    return j->ids_json && j->b.filter ? 0 : (acs_api_error(req, 500, "internal", "out of memory"), -ENOMEM);
}

static void h_bulk_create(http_req_t *req, void *ud)
{
    acs_t *a = ud;
    size_t len;
    const char *text = http_req_body(req, &len);
    json_error_t e;
    json_t *body = json_loadb(text, len, JSON_REJECT_DUPLICATES, &e);
    if (!body || !json_is_object(body)) {
        char msg[256];
        snprintf(msg, sizeof msg, "expected a JSON object: %s", body ? "not an object" : e.text);
        acs_api_error(req, 400, "bad_json", msg);
        json_decref(body);
        return;
    }
    bulk_job_t *j = calloc(1, sizeof *j);
    if (!j) {
        json_decref(body);
        acs_api_error(req, 500, "internal", "out of memory");
        return;
    }
    j->kind = B_CREATE;
    const char *type;
    json_t *params = NULL;
    char err[256];
    if (read_options(req, body, j) < 0 || read_target(req, body, j) < 0)
        goto fail;
    json_t *task = json_object_get(body, "task");
    if (!task || acs_task_validate(task, &type, &params, err, sizeof err) != 0) {
        char msg[300];
        snprintf(msg, sizeof msg, "task: %s", task ? err : "required ({\"type\": ..., \"parameters\": {...}})");
        field_error(req, 422, "invalid_task", "task", msg);
        goto fail;
    }
    str_copy(j->b.type, sizeof j->b.type, type);
    j->b.params = json_dumps(params, JSON_COMPACT);
    json_decref(params);
    j->b.expires_at = a->o.task_ttl_ms > 0 ? clock_real_s() + a->o.task_ttl_ms / 1000 : 0;
    json_decref(body);
    if (!j->b.params) {
        acs_api_error(req, 500, "internal", "out of memory");
        job_free(j);
        return;
    }
    submit(a, req, j);
    return;
fail:
    json_decref(body);
    job_free(j);
}

/* ---- GET/DELETE /api/bulk/{id} -------------------------------------------------------- */

/* ?status=pending|sent|done|failed|expired|cancelled&limit=N (1-1000,
 * default 100): false when an answer was sent. */
static bool read_listing(http_req_t *req, bulk_job_t *j)
{
    buf_t b = BUF_INIT(32);
    int rc = http_req_query_param(req, "status", &b);
    for (int i = STORE_TASK_PENDING; rc == 0 && i <= STORE_TASK_CANCELLED; i++)
        if (b.data && !strcmp(b.data, store_task_status_name((store_task_status_t)i)))
            j->list_status = i;
    if (rc != -ENOENT && j->list_status < 0) {
        buf_free(&b);
        field_error(req, 400, "bad_request", "status",
                    "status: pending, sent, done, failed, expired or cancelled");
        return false;
    }
    buf_reset(&b);
    rc = http_req_query_param(req, "limit", &b);
    bool ok = rc == -ENOENT ||
              (rc == 0 && str_to_i64(b.data ? b.data : "", 1, 1000, &j->list_limit) == 0);
    buf_free(&b);
    if (!ok)
        field_error(req, 400, "bad_request", "limit", "limit: an integer in [1, 1000]");
    return ok;
}

static void h_bulk(http_req_t *req, void *ud, int kind)
{
    int64_t id;
    if (str_to_i64(http_req_param(req, "id"), 1, INT64_MAX, &id) != 0) {
        field_error(req, 404, "not_found", "id", "no such bulk");
        return;
    }
    bulk_job_t *j = calloc(1, sizeof *j);
    if (!j) {
        acs_api_error(req, 500, "internal", "out of memory");
        return;
    }
    j->kind = kind;
    j->id = id;
    j->list_status = -1;
    j->list_limit = 100;
    if (kind == B_GET && !read_listing(req, j)) {
        job_free(j);
        return;
    }
    submit(ud, req, j);
}

static void h_bulk_get(http_req_t *req, void *ud) { h_bulk(req, ud, B_GET); }
static void h_bulk_cancel(http_req_t *req, void *ud) { h_bulk(req, ud, B_CANCEL); }

/* A bulk acts on the fleet: an operator's; its progress is a viewer's. */
static const http_route_t bulk_routes[] = {
    HTTP_ROUTE("POST", "/api/tasks", HTTP_ACCESS_OPERATOR, h_bulk_create),
    HTTP_ROUTE("GET", "/api/bulk/{id}", HTTP_ACCESS_VIEWER, h_bulk_get),
    HTTP_ROUTE("DELETE", "/api/bulk/{id}", HTTP_ACCESS_OPERATOR, h_bulk_cancel),
};

int acs_bulk_api_register(acs_t *a, http_router_t *r)
{
    return HTTP_ROUTER_ADD_TABLE(r, bulk_routes, a);
}
