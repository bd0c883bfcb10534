/*
 * acs_api_hooks: webhooks on the REST API: the configured hooks (never
 * their secrets) with their counters, the delivery queue's rows, and a
 * failed delivery's retry. Rows are read and written by the store worker;
 * the answers are built there (acs_webhook.h says what a delivery is).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acs/acs_webhook.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/str.h"

enum { LIST_DEFAULT = 100, LIST_MAX = 1000 };
enum { HJ_HOOKS, HJ_LIST, HJ_RETRY };

typedef struct hooks_job {
    acs_t *a;
    http_req_t *req;
    int kind;
    int status;               /* HJ_LIST: -1 any */
    int64_t limit, id, now, deadline;
    json_t *out;
} hooks_job_t;

static json_t *delivery_json(const store_hook_delivery_t *d)
{
    json_t *o = json_pack("{s:I, s:o, s:o, s:s, s:i, s:o, s:o, s:o, s:o}", "id", (json_int_t)d->id,
                          "hook", acs_json_text(d->hook), "event", acs_json_text(d->event), "status",
                          store_hook_status_name(d->status), "attempts", d->attempts,
                          "next_attempt", d->status == STORE_HOOK_PENDING ? acs_json_time(d->next_attempt) : json_null(),
                          "deadline", acs_json_time(d->deadline), "created", acs_json_time(d->created), "updated",
                          acs_json_time(d->updated));
    if (!o)
        return NULL;
    json_object_set_new(o, "last_status", d->last_status ? json_integer(d->last_status) : json_null());
    json_object_set_new(o, "last_error", d->last_error[0] ? acs_json_text(d->last_error) : json_null());
    if (d->body) {
        json_t *b = json_loads(d->body, 0, NULL);
        json_object_set_new(o, "body", b ? b : json_null());
    }
    return o;
}

static int collect(const store_hook_delivery_t *d, void *ud)
{
    json_t *o = delivery_json(d);
    if (o)
        json_array_append_new(ud, o);
    return 0;
}

/* Per hook: {pending, delivered, failed} rows in the store. */
static int count_one(const char *hook, store_hook_status_t st, int64_t n, void *ud)
{
    json_t *hooks = ud;
    size_t i;
    json_t *h;
    json_array_foreach(hooks, i, h) {
        if (strcmp(json_string_value(json_object_get(h, "name")), hook) == 0) {
            json_t *q = json_object_get(h, "deliveries");
            json_object_set_new(q, store_hook_status_name(st), json_integer(n));
        }
    }
    return 0;
}

static int hooks_run(store_t *st, void *ud)
{
    hooks_job_t *j = ud;
    switch (j->kind) {
    case HJ_HOOKS:
        return store_hook_counts(st, count_one, j->out);
    case HJ_LIST:
        return store_hook_list(st, j->status, j->limit, collect, j->out);
    case HJ_RETRY: {
        store_hook_delivery_t d;
        int rc = store_hook_retry(st, j->id, j->now, j->deadline, &d);
        if (rc == 0)
            j->out = delivery_json(&d);
        return rc;
    }
    }
    return -EINVAL;
}

static void hooks_done(int rc, void *ud)
{
    hooks_job_t *j = ud;
    http_req_t *req = j->req;
    switch (rc) {
    case 0:
        if (j->kind == HJ_RETRY) {
            log_info("api_webhook_retry", LF_I("id", j->id));
            acs_webhook_retried(j->a);
        }
        acs_api_json(req, 200, j->out);
        j->out = NULL;
        break;
    case -ENOENT:
        acs_api_error(req, 404, "not_found", "no such delivery");
        break;
    case -ESTALE:
        acs_api_error(req, 409, "conflict", "only a failed delivery can be retried");
        break;
    default:
        acs_api_store_error(req, rc);
    }
    json_decref(j->out);
    free(j);
}

static void submit(acs_t *a, http_req_t *req, hooks_job_t *j)
{
    j->a = a;
    j->req = req;
    /* not submitted (queue full -EAGAIN, shutting down): answered, freed, as a job's end */
    int rc = a->db ? store_worker_submit(a->db, hooks_run, hooks_done, j) : -ECANCELED;
    if (rc != 0)
        hooks_done(rc, j);
}

static hooks_job_t *new_job(http_req_t *req, int kind)
{
    hooks_job_t *j = calloc(1, sizeof *j);
    if (!j)
        acs_api_error(req, 500, "internal", "out of memory");
    else
        j->kind = kind;
    return j;
}

static void bad_field(http_req_t *req, const char *field, const char *msg)
{
    acs_api_json(req, 400, json_pack("{s:s, s:s, s:s}", "error", "bad_request", "message", msg,
                                     "field", field));
}

/* GET /api/webhooks */
static void h_hooks(http_req_t *req, void *ud)
{
    acs_t *a = ud;
    hooks_job_t *j = new_job(req, HJ_HOOKS);
    if (!j)
        return;
    j->out = acs_webhook_hooks_json(a);
    size_t i;
    json_t *h;
    json_array_foreach(j->out, i, h)
        json_object_set_new(h, "deliveries", json_pack("{s:i, s:i, s:i}", "pending", 0, "delivered",
                                                       0, "failed", 0));
    submit(a, req, j);
}

/* A query parameter as a whole number within [min, max]: 0 (set), 1 (absent), -1 (answered 400). */
static int query_int(http_req_t *req, const char *name, int64_t min, int64_t max, int64_t *out)
{
    buf_t v = BUF_INIT(64);
    int rc = http_req_query_param(req, name, &v);
    if (rc == -ENOENT) {
        buf_free(&v);
        return 1;
    }
    char *end = NULL;
    long long n = rc == 0 && v.len ? strtoll(v.data, &end, 10) : 0;
    bool ok = rc == 0 && v.len && end && *end == '\0' && n >= min && n <= max;
    buf_free(&v);
    if (!ok) {
        char msg[128];
        snprintf(msg, sizeof msg, "%s: a whole number from %" PRId64 " to %" PRId64, name, min, max);
        bad_field(req, name, msg);
        return -1;
    }
    *out = n;
    return 0;
}

/* GET /api/webhooks/deliveries?status=&limit= */
static void h_deliveries(http_req_t *req, void *ud)
{
    acs_t *a = ud;
    int status = -1;
    buf_t v = BUF_INIT(64);
    int rc = http_req_query_param(req, "status", &v);
    if (rc != -ENOENT) {
        status = rc == 0 && v.len ? store_hook_status_parse(v.data) : -1;
        buf_free(&v);
        if (status < 0) {
            bad_field(req, "status", "status: pending, delivered or failed");
            return;
        }
    }
    buf_free(&v);
    int64_t limit = LIST_DEFAULT;
    if (query_int(req, "limit", 1, LIST_MAX, &limit) < 0)
        return;
    hooks_job_t *j = new_job(req, HJ_LIST);
    if (!j)
        return;
    j->status = status;
    j->limit = limit;
    j->out = json_array();
    submit(a, req, j);
}

/* POST /api/webhooks/deliveries/{id}/retry: failed -> pending, with a new window */
static void h_retry(http_req_t *req, void *ud)
{
    acs_t *a = ud;
    const char *id = http_req_param(req, "id");
    char *end = NULL;
    long long n = id ? strtoll(id, &end, 10) : 0;
    if (!id || !*id || *end || n <= 0) {
        acs_api_error(req, 404, "not_found", "no such delivery");
        return;
    }
    hooks_job_t *j = new_job(req, HJ_RETRY);
    if (!j)
        return;
    j->id = n;
    j->now = clock_real_s();
    j->deadline = acs_webhook_deadline(a, j->now);
    submit(a, req, j);
}

/* Reading the hooks and their deliveries is a viewer's; sending one again
 * is an admin's (it repeats an event to an outside system). */
static const http_route_t routes[] = {
    HTTP_ROUTE("GET", "/api/webhooks", HTTP_ACCESS_VIEWER, h_hooks),
    HTTP_ROUTE("GET", "/api/webhooks/deliveries", HTTP_ACCESS_VIEWER, h_deliveries),
    HTTP_ROUTE("POST", "/api/webhooks/deliveries/{id}/retry", HTTP_ACCESS_ADMIN, h_retry),
};

int acs_webhook_api_register(acs_t *a, http_router_t *r)
{
    return HTTP_ROUTER_ADD_TABLE(r, routes, a);
}
