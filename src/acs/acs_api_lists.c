/*
 * acs_api_lists: fleet-wide lists (acs_api_lists.h).
 *
 *   GET /api/tasks?status=S&device=ID&bulk=N&limit=N&cursor=C
 *       tasks of every device, newest first, as GET /api/tasks/{id} shows each
 *   GET /api/bulk?state=S&limit=N&cursor=C
 *       bulks, newest first, as GET /api/bulk/{id} shows each (without its
 *       failed tasks listed)
 *
 * Pages are keyset pages over the row id: a cursor is the id the next page
 * starts below, so rows made while a client pages (new ones have higher
 * ids) never push others onto the next page or repeat one. No total is
 * counted: over millions of tasks that would be a full scan per page.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acs/acs_api_lists.h"
#include "acs/acs_bulk.h"
#include "core/str.h"

enum { LIST_MAX = 1000, LIST_DEFAULT = 100 };

typedef struct list_job {
    acs_t *a;
    http_req_t *req;
    bool bulks;               /* GET /api/bulk, else GET /api/tasks */
    store_task_query_t q;     /* q.limit: one more than the page, to know if there are more */
    char device[STORE_ID_MAX];
    int state;                /* bulks: -1 any */
    json_t *out;
    int64_t got, last_id;     /* rows in the page, the page's last id */
    bool more;                /* a row past the page was there */
} list_job_t;

static int take_row(list_job_t *j, int64_t id, json_t *o)
{
    if (j->got == j->q.limit - 1) { /* the one past the page: there are more */
        json_decref(o);
        j->more = true;
        return 1;
    }
    if (!o)
        return -ENOMEM;
    json_array_append_new(j->out, o);
    j->got++;
    j->last_id = id;
    return 0;
}

static int task_row(const store_task_t *t, void *ud)
{
    return take_row(ud, t->id, acs_task_json(t));
}

static int bulk_row(const store_bulk_t *b, void *ud)
{
    return take_row(ud, b->id, acs_bulk_json(b));
}

static int list_run(store_t *st, void *ud)
{
    list_job_t *j = ud;
    if (!(j->out = json_array()))
        return -ENOMEM;
    int rc = j->bulks ? store_bulk_list(st, j->state, j->q.before, j->q.limit, bulk_row, j)
                      : store_task_query(st, &j->q, task_row, j);
    return rc < 0 ? rc : 0;
}

/* Link: <path?the same query&cursor=LAST>; rel="next" while there are more. */
static void add_next_link(list_job_t *j, buf_t *h)
{
    static const char *const names[] = { "status", "device", "bulk", "state", "limit" };
    char num[24];
    buf_printf(h, "Link: <%s?", http_req_path(j->req));
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        const char *v = NULL;
        if (!strcmp(names[i], "status") && j->q.status >= 0)
            v = store_task_status_name((store_task_status_t)j->q.status);
        else if (!strcmp(names[i], "device") && j->q.device)
            v = j->device;
        else if (!strcmp(names[i], "bulk") && j->q.bulk > 0)
            snprintf(num, sizeof num, "%" PRId64, j->q.bulk), v = num;
        else if (!strcmp(names[i], "state") && j->state >= 0)
            v = store_bulk_state_name((store_bulk_state_t)j->state);
        else if (!strcmp(names[i], "limit"))
            snprintf(num, sizeof num, "%" PRId64, j->q.limit - 1), v = num;
        if (!v)
            continue;
        buf_printf(h, "%s=", names[i]);
        str_pct_encode(h, v, strlen(v), "-._~");
        buf_append_byte(h, '&');
    }
    buf_printf(h, "cursor=%" PRId64 ">; rel=\"next\"\r\n", j->last_id);
}

static void list_done(int rc, void *ud)
{
    list_job_t *j = ud;
    http_req_t *req = j->req;
    if (rc < 0) {
        acs_api_store_error(req, rc);
    } else {
        buf_t h = BUF_INIT(4 * STORE_ID_MAX); /* the device id percent-encoded is the most */
        if (j->more)
            add_next_link(j, &h);
        char *s = json_dumps(j->out, JSON_COMPACT);
        if (!s || (j->more && !h.data))
            acs_api_error(req, 500, "internal", "out of memory");
        else
            http_respond_hdrs(req, 200, h.data ? h.data : "", "application/json", s, strlen(s));
        free(s);
        buf_free(&h);
    }
    json_decref(j->out);
    free(j);
}

/* ?NAME= one of names[0..n) (its index), absent (-1): false when an
 * answer was sent. */
static bool query_enum(http_req_t *req, const char *name, const char *(*name_of)(int), int n,
                       const char *expected, int *out)
{
    char v[32];
    *out = -1;
    if (!acs_api_query_str(req, name, v, sizeof v))
        return false;
    if (!v[0])
        return true;
    for (int i = 0; i < n; i++)
        if (!strcmp(v, name_of(i)))
            return (*out = i), true;
    acs_api_error(req, 400, "bad_request", expected);
    return false;
}

static const char *task_status_of(int i) { return store_task_status_name((store_task_status_t)i); }
static const char *bulk_state_of(int i) { return store_bulk_state_name((store_bulk_state_t)i); }

/* limit and cursor, as both lists take them: false when an answer was sent. */
static list_job_t *new_list(http_req_t *req, acs_t *a, bool bulks)
{
    list_job_t *j = calloc(1, sizeof *j);
    if (!j) {
        acs_api_error(req, 500, "internal", "out of memory");
        return NULL;
    }
    j->a = a;
    j->req = req;
    j->bulks = bulks;
    j->state = -1;
    j->q.status = -1;
    int64_t limit = LIST_DEFAULT, cursor = 0;
    if (!acs_api_query_int(req, "limit", 1, LIST_MAX, &limit) ||
        !acs_api_query_int(req, "cursor", 1, INT64_MAX, &cursor)) {
        free(j);
        return NULL;
    }
    j->q.limit = limit + 1;
    j->q.before = cursor;
    return j;
}

static void submit(list_job_t *j)
{
    int rc = store_worker_submit(j->a->db, list_run, list_done, j);
    if (rc != 0) {
        acs_api_store_error(j->req, rc);
        free(j);
    }
}

static void h_tasks(http_req_t *req, void *ud)
{
    list_job_t *j = new_list(req, ud, false);
    if (!j)
        return;
    int64_t bulk = 0;
    if (!query_enum(req, "status", task_status_of, STORE_TASK_CANCELLED + 1,
                    "status: pending, sent, done, failed, expired or cancelled", &j->q.status) ||
        !acs_api_query_str(req, "device", j->device, sizeof j->device) ||
        !acs_api_query_int(req, "bulk", 1, INT64_MAX, &bulk)) {
        free(j);
        return;
    }
    j->q.device = j->device[0] ? j->device : NULL;
    j->q.bulk = bulk;
    submit(j);
}

static void h_bulks(http_req_t *req, void *ud)
{
    list_job_t *j = new_list(req, ud, true);
    if (!j)
        return;
    if (!query_enum(req, "state", bulk_state_of, STORE_BULK_STOPPED + 1,
                    "state: running, done, cancelled or stopped", &j->state)) {
        free(j);
        return;
    }
    submit(j);
}

/* Reads: viewer (docs/api-keys.md). */
static const http_route_t list_routes[] = {
    HTTP_ROUTE("GET", "/api/tasks", HTTP_ACCESS_VIEWER, h_tasks),
    HTTP_ROUTE("GET", "/api/bulk", HTTP_ACCESS_VIEWER, h_bulks),
};

int acs_lists_api_register(acs_t *a, http_router_t *r)
{
    return HTTP_ROUTER_ADD_TABLE(r, list_routes, a);
}
