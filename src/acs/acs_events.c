/*
 * acs_events: the one place each live event is told, its fan-out to
 * webhooks and to the SSE clients of GET /api/events, the minute counters
 * of GET /api/stats/history, and the device.offline sweep (acs_events.h).
 */
#include "acs/acs_events.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acs/acs_evshare.h"
#include "acs/acs_internal.h"
#include "acs/acs_keys.h"
#include "acs/acs_webhook.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/runtime.h"
#include "core/str.h"

enum {
    OFFLINE_BATCH = 1000,   /* devices reported offline per sweep pass */
    OFFLINE_SSE_MAX = 1000, /* of those, told to SSE clients one by one */
    EVENT_MAX = 64 * 1024,  /* one formatted event (task results are never in them) */
    SSE_SNDBUF = 32 * 1024, /* an event stream's kernel send buffer (SO_SNDBUF) */
};

/* GET /api/events' role: the router's check when a stream opens, ours when the keys change */
#define EVENTS_ACCESS HTTP_ACCESS_VIEWER

typedef struct sse_client sse_client_t;
struct sse_client {
    acs_events_t *E;
    http_req_t *req;
    uint32_t mask;
    char device[STORE_ID_MAX]; /* "": every device */
    acs_key_who_t who;         /* who opened it: the stream lives only as long as that key */
    sse_client_t *prev, *next;
};

struct acs_events {
    acs_t *a;
    sse_client_t *clients;
    size_t nclients;
    uint32_t wanted[ACS_EV_TYPES]; /* clients per type */
    uint64_t next_id;
    uv_timer_t *heartbeat, *offline;
    bool stopping, sweeping;
    acs_evring_t ring;
    acs_evshare_t *share;       /* the other nodes' streams (shared store); NULL: none */
    struct {
        uint64_t connected, refused, slow, published, sent, heard;
    } n;
};

static acs_events_t *E_of(const acs_t *a)
{
    return a->events;
}

/* ---- clients ------------------------------------------------------------------------------ */

static void client_unlink(sse_client_t *c)
{
    acs_events_t *E = c->E;
    if (c->prev)
        c->prev->next = c->next;
    else
        E->clients = c->next;
    if (c->next)
        c->next->prev = c->prev;
    E->nclients--;
    for (int t = 0; t < ACS_EV_TYPES; t++)
        if (c->mask & (1u << t))
            E->wanted[t]--;
    acs_evshare_local(E->share, E->nclients > 0);
}

static void client_abort(http_req_t *req, void *ud)
{
    sse_client_t *c = ud;
    client_unlink(c);
    http_resp_end(req); /* releases the request */
    free(c);
}

/* End a client's stream and close its connection (reason: logged; for the
 * client a last comment line, which a client that does not read never sees). */
static void client_close(sse_client_t *c, const char *reason, bool log)
{
    if (log)
        log_info("events_client_closed", LF_S("peer", http_req_peer(c->req)), LF_S("reason", reason));
    client_unlink(c);
    http_req_on_abort(c->req, NULL, NULL);
    char line[160];
    int n = snprintf(line, sizeof line, ": closed: %s\n\n", reason);
    (void)http_resp_write(c->req, line, (size_t)n);
    http_resp_close_after(c->req);
    http_resp_end(c->req);
    free(c);
}

/* Queue bytes for a client; one that has more than --events-client-buffer
 * unsent is closed (it does not read, or reads slower than events come). */
static void client_send(sse_client_t *c, const char *data, size_t len)
{
    acs_events_t *E = c->E;
    net_conn_t *conn = http_req_conn(c->req);
    size_t queued = conn ? net_conn_queued(conn) : 0;
    if (queued + len > (size_t)E->a->o.events_client_buffer) {
        E->n.slow++;
        client_close(c, "too slow: the events not read passed --events-client-buffer", true);
        return;
    }
    if (http_resp_write(c->req, data, len) != 0) {
        E->n.slow++;
        client_close(c, "write failed", true);
        return;
    }
    E->n.sent++;
}

bool acs_events_wanted(const acs_t *a, acs_ev_type_t t)
{
    const acs_events_t *E = E_of(a);
    return E && !E->stopping && (unsigned)t < ACS_EV_TYPES &&
           (E->wanted[t] > 0 || acs_evshare_wanted(E->share));
}

/* One event to every client that wants it (device: the event's device, or
 * NULL for one about no device). data is borrowed. */
static void publish(acs_events_t *E, acs_ev_type_t t, const char *device, const json_t *data)
{
    if (!E || E->stopping || !E->wanted[t] || !data)
        return;
    buf_t b = BUF_INIT(EVENT_MAX);
    uint64_t id = ++E->next_id;
    if (acs_ev_format(&b, id, t, data) != 0) {
        log_warn("events_event_dropped", LF_S("type", acs_ev_type_name(t)), LF_S("reason", "too big"));
        buf_free(&b);
        return;
    }
    E->n.published++;
    sse_client_t *c = E->clients;
    while (c) {
        sse_client_t *next = c->next; /* c may be closed */
        if ((c->mask & (1u << t)) && (!c->device[0] || (device && !strcmp(c->device, device))))
            client_send(c, b.data, b.len);
        c = next;
    }
    buf_free(&b);
}

/* An event that happened here: to this node's clients and, when they want
 * it, the other nodes' (acs_evshare.h). */
static void tell(acs_events_t *E, acs_ev_type_t t, const char *device, const json_t *data)
{
    publish(E, t, device, data);
    if (E)
        acs_evshare_put(E->share, t, device, data);
}

static int heard_one(acs_ev_type_t t, const char *device, const json_t *data, void *ud)
{
    acs_events_t *E = ud;
    E->n.heard++;
    publish(E, t, device, data);
    return 0;
}

void acs_events_heard(acs_t *a, const char *lines)
{
    acs_events_t *E = E_of(a);
    if (E && E->nclients && !E->stopping) /* else nobody here to show them to */
        (void)acs_ev_share_parse(lines, strlen(lines), heard_one, E);
}

/* ---- the emitters ------------------------------------------------------------------------- */

static json_t *task_event(const store_task_t *t)
{
    const char *st = store_task_status_name(t->status);
    json_t *fault = t->fault_code ? json_pack("{s:i, s:o}", "code", t->fault_code, "message",
                                              acs_json_text(t->fault_string))
                                  : json_null();
    return json_pack("{s:I, s:o, s:s, s:s, s:o}", "id", (json_int_t)t->id, "device",
                     acs_json_text(t->device_id), "type", t->type, "status", st, "fault",
                     fault ? fault : json_null());
}

void acs_events_task(acs_t *a, const store_task_t *t)
{
    acs_events_t *E = E_of(a);
    if (!acs_events_wanted(a, ACS_EV_TASK))
        return;
    json_t *j = task_event(t);
    tell(E, ACS_EV_TASK, t->device_id, j);
    json_decref(j);
}

typedef struct finished_job {
    acs_t *a;
    int64_t task_id;
    store_task_t t;
    bool got;
} finished_job_t;

static int finished_run(store_t *st, void *ud)
{
    finished_job_t *j = ud;
    /* the event names the task and its outcome: its parameter lists (a
     * 500-name read and its answer) stay on disk */
    int rc = store_task_outcome(st, j->task_id, &j->t);
    j->got = rc == 0;
    return rc == -ENOENT ? 0 : rc;
}

static void finished_done(int rc, void *ud)
{
    finished_job_t *j = ud;
    acs_events_t *E = E_of(j->a);
    if (rc == 0 && j->got && E) {
        int64_t now = clock_real_s();
        if (j->t.status == STORE_TASK_DONE)
            acs_evring_note(&E->ring, now, ACS_EVSTAT_TASKS_DONE, 1);
        else if (j->t.status == STORE_TASK_FAILED)
            acs_evring_note(&E->ring, now, ACS_EVSTAT_TASKS_FAILED, 1);
        if (j->t.fault_code)
            acs_evring_note(&E->ring, now, ACS_EVSTAT_FAULTS, 1);
        json_t *ev = task_event(&j->t);
        publish(E, ACS_EV_TASK, j->t.device_id, ev);
        if (j->t.fault_code && ev) {
            json_t *f = json_pack("{s:s, s:o, s:i, s:o, s:O}", "source", "task", "device_id",
                                  acs_json_text(j->t.device_id), "code", j->t.fault_code, "message",
                                  acs_json_text(j->t.fault_string), "task", ev);
            publish(E, ACS_EV_FAULT, j->t.device_id, f);
            json_decref(f);
        }
        json_decref(ev);
    }
    if (j->got)
        store_task_clear(&j->t);
    free(j);
}

void acs_events_task_finished(acs_t *a, int64_t task_id)
{
    acs_webhook_task_finished(a, task_id); /* task.done / task.failed / fault, durably */
    acs_events_task_elsewhere(a, task_id);
}

void acs_events_task_elsewhere(acs_t *a, int64_t task_id)
{
    acs_events_t *E = E_of(a);
    if (!E || !a->db)
        return;
    /* the minute ring counts every finish, so the store is read even
     * without SSE clients (one row by key, on the store thread) */
    finished_job_t *j = calloc(1, sizeof *j);
    if (!j)
        return;
    j->a = a;
    j->task_id = task_id;
    if (store_worker_submit(a->db, finished_run, finished_done, j) != 0)
        free(j);
}

void acs_events_inform(acs_t *a, const char *device_id, const char *events, bool came_online)
{
    acs_events_t *E = E_of(a);
    if (!E)
        return;
    int64_t now = clock_real_s();
    acs_evring_note(&E->ring, now, ACS_EVSTAT_INFORMS, 1);
    acs_evring_note(&E->ring, now, ACS_EVSTAT_SESSIONS, (uint32_t)a->nsessions);
    if (acs_events_wanted(a, ACS_EV_INFORM)) {
        json_t *codes = json_array();
        for (const char *p = events; p && *p;) {
            const char *e = strchr(p, ',');
            size_t n = e ? (size_t)(e - p) : strlen(p);
            json_array_append_new(codes, json_stringn(p, n));
            p = e ? e + 1 : p + n;
        }
        json_t *j = json_pack("{s:o, s:o}", "device", acs_json_text(device_id), "events",
                              codes ? codes : json_array());
        tell(E, ACS_EV_INFORM, device_id, j);
        json_decref(j);
    }
    if (came_online && acs_events_wanted(a, ACS_EV_DEVICE)) {
        json_t *j = json_pack("{s:o, s:s}", "device", acs_json_text(device_id), "state", "online");
        tell(E, ACS_EV_DEVICE, device_id, j);
        json_decref(j);
    }
}

void acs_events_session(acs_t *a)
{
    acs_events_t *E = E_of(a);
    if (E)
        acs_evring_note(&E->ring, clock_real_s(), ACS_EVSTAT_SESSIONS, (uint32_t)a->nsessions);
}

int acs_events_emit(acs_t *a, const char *webhook_event, const char *device_id, json_t *data)
{
    acs_events_t *E = E_of(a);
    acs_ev_type_t t = ACS_EV_TYPES;
    if (!strcmp(webhook_event, "fault")) {
        t = ACS_EV_FAULT;
        if (E)
            acs_evring_note(&E->ring, clock_real_s(), ACS_EVSTAT_FAULTS, 1);
    } else if (!strcmp(webhook_event, "bulk.finished")) {
        t = ACS_EV_BULK;
    }
    if (t != ACS_EV_TYPES && data)
        tell(E, t, device_id, data);
    return acs_webhook_emit(a, webhook_event, data); /* steals data */
}

/* ---- device.offline: the sweep (webhooks and SSE) ----------------------------------------- */

typedef struct offline_job {
    acs_t *a;
    acs_hooks_t *H;
    int64_t now, default_interval;
    int queued, rc;
    store_t *st;
    bool sweep;                 /* someone wants device.offline (a hook, an SSE client) */
    char (*ids)[STORE_ID_MAX];
    size_t nids;
} offline_job_t;

static int offline_one(const store_device_t *d, void *ud)
{
    offline_job_t *j = ud;
    int rc = j->H ? acs_webhook_offline(j->H, j->st, d, j->now) : 0;
    if (rc < 0) {
        j->rc = rc;
        return 1;
    }
    j->queued += rc;
    if (j->ids && j->nids < OFFLINE_SSE_MAX)
        str_copy(j->ids[j->nids++], STORE_ID_MAX, d->id);
    return 0;
}

static int offline_run(store_t *st, void *ud)
{
    offline_job_t *j = ud;
    j->st = st;
    /* once across the cluster: two nodes would both queue device.offline */
    int lead = store_try_leader(st, "offline_sweep");
    if (lead <= 0)
        return lead;
    int n = j->sweep ? store_hook_offline_sweep(st, j->now, j->default_interval, OFFLINE_BATCH,
                                                offline_one, j)
                     : 0;
    if (n < 0 || j->rc < 0)
        return n < 0 ? n : j->rc;
    acs_webhook_prune(j->H, st, j->now);
    if (n > 0)
        log_info("devices_offline", LF_I("count", n));
    return 0;
}

static void offline_tick(uv_timer_t *t);

static void offline_done(int rc, void *ud)
{
    offline_job_t *j = ud;
    acs_events_t *E = E_of(j->a);
    if (rc == 0 && j->queued)
        acs_webhook_kick(j->a);
    for (size_t i = 0; rc == 0 && E && i < j->nids; i++) {
        json_t *ev = json_pack("{s:o, s:s}", "device", acs_json_text(j->ids[i]), "state", "offline");
        tell(E, ACS_EV_DEVICE, j->ids[i], ev);
        json_decref(ev);
    }
    free(j->ids);
    free(j);
    if (E) {
        E->sweeping = false;
        if (!E->stopping && E->offline)
            uv_timer_start(E->offline, offline_tick, (uint64_t)E->a->o.webhook_offline_check_ms, 0);
    }
}

static void offline_tick(uv_timer_t *t)
{
    acs_events_t *E = t->data;
    acs_t *a = E->a;
    if (E->stopping || !a->db || a->stopping)
        return;
    bool hooks = acs_webhook_wants(a->hooks, ACS_HOOK_DEVICE_OFFLINE);
    bool sse = acs_events_wanted(a, ACS_EV_DEVICE);
    offline_job_t *j = NULL;
    if (hooks || sse || a->hooks) { /* a->hooks: old delivery rows are pruned here too */
        j = calloc(1, sizeof *j);
        if (j) {
            j->a = a;
            j->H = a->hooks;
            j->now = clock_real_s();
            j->default_interval = a->default_interval_s;
            j->sweep = hooks || sse;
            if (sse && !(j->ids = calloc(OFFLINE_SSE_MAX, STORE_ID_MAX))) {
                free(j);
                j = NULL;
            }
        }
    }
    if (j && store_worker_submit(a->db, offline_run, offline_done, j) == 0) {
        E->sweeping = true;
        return;
    }
    if (j) {
        free(j->ids);
        free(j);
    }
    uv_timer_start(E->offline, offline_tick, (uint64_t)a->o.webhook_offline_check_ms, 0);
}

/* ---- heartbeats ------------------------------------------------------------------------- */

static void heartbeat_tick(uv_timer_t *t)
{
    acs_events_t *E = t->data;
    static const char hb[] = ": heartbeat\n\n";
    sse_client_t *c = E->clients;
    while (c) {
        sse_client_t *next = c->next;
        client_send(c, hb, sizeof hb - 1);
        c = next;
    }
    /* the sessions count of a quiet minute */
    acs_evring_note(&E->ring, clock_real_s(), ACS_EVSTAT_SESSIONS, (uint32_t)E->a->nsessions);
}

/* ---- the keys behind the streams ---------------------------------------------------------- */

/* The router checked the key once, when the stream opened; a stream lives
 * on through its heartbeats, so a change of the keys is checked here. */
void acs_events_keys_changed(acs_t *a)
{
    acs_events_t *E = E_of(a);
    if (!E || E->stopping)
        return;
    sse_client_t *c = E->clients;
    while (c) {
        sse_client_t *next = c->next;
        int role = acs_key_who_role(a, &c->who);
        if (role < EVENTS_ACCESS) {
            const char *why = role < 0 ? "key revoked" : "key role lowered";
            log_info("events_client_closed", LF_S("peer", http_req_peer(c->req)),
                     LF_S("key", c->who.id), LF_S("reason", why));
            client_close(c, why, false);
        }
        c = next;
    }
}

/* ---- the API ------------------------------------------------------------------------------ */

static void h_events(http_req_t *req, void *ud)
{
    acs_t *a = ud;
    acs_events_t *E = E_of(a);
    if (!E || E->stopping) {
        acs_api_error(req, 503, "unavailable", "shutting down");
        return;
    }
    buf_t v = BUF_INIT(256);
    uint32_t mask = ACS_EV_ALL;
    char err[128];
    int rc = http_req_query_param(req, "types", &v);
    if (rc == -EINVAL || (rc == 0 && acs_ev_types_parse(v.data, &mask, err, sizeof err) != 0)) {
        buf_free(&v);
        acs_api_error(req, 400, "bad_request", rc == -EINVAL ? "types: malformed" : err);
        return;
    }
    buf_reset(&v);
    char device[STORE_ID_MAX] = "";
    rc = http_req_query_param(req, "device", &v);
    if (rc == 0 && (v.len == 0 || v.len >= sizeof device || memchr(v.data, 0, v.len))) {
        buf_free(&v);
        acs_api_error(req, 400, "bad_request", "device: an id of 1 to 255 bytes");
        return;
    }
    if (rc == -EINVAL || rc == -ENOBUFS) {
        buf_free(&v);
        acs_api_error(req, 400, "bad_request", "device: malformed");
        return;
    }
    if (rc == 0)
        memcpy(device, v.data, v.len + 1);
    buf_free(&v);
    acs_key_who_t who;
    if (acs_key_who(a, http_req_header(req, "Authorization"), &who) != 0) {
        /* revoked between the router's check and here */
        acs_api_error(req, 401, "unauthorized", "the key was revoked");
        return;
    }
    if (E->nclients >= (size_t)a->o.events_max_clients) {
        E->n.refused++;
        log_warn("events_client_refused", LF_S("peer", http_req_peer(req)),
                 LF_U("clients", E->nclients));
        static const char busy[] =
            "{\"error\":\"unavailable\",\"message\":\"too many event streams (--events-max-clients)\"}";
        http_respond_hdrs(req, 503, "Retry-After: 10\r\n", "application/json", busy, sizeof busy - 1);
        return;
    }
    sse_client_t *c = calloc(1, sizeof *c);
    if (!c) {
        acs_api_error(req, 503, "unavailable", "out of memory");
        return;
    }
    c->E = E;
    c->req = req;
    c->mask = mask;
    memcpy(c->device, device, sizeof device);
    c->who = who;
    if (http_resp_begin(req, 200, "Cache-Control: no-cache\r\nX-Accel-Buffering: no\r\n",
                        "text/event-stream; charset=utf-8", -1) != 0) {
        free(c);
        return;
    }
    c->next = E->clients;
    if (E->clients)
        E->clients->prev = c;
    E->clients = c;
    E->nclients++;
    for (int t = 0; t < ACS_EV_TYPES; t++)
        if (mask & (1u << t))
            E->wanted[t]++;
    E->n.connected++;
    acs_evshare_local(E->share, true);
    http_req_on_abort(req, client_abort, c);
    http_req_end_on_eof(req); /* a client that closes stops what is sent for it at once */
    /* what the kernel holds for a client that does not read is bounded too,
     * not only what --events-client-buffer lets wait in the write queue */
    net_conn_t *conn = http_req_conn(req);
    if (conn)
        (void)net_conn_set_sndbuf(conn, SSE_SNDBUF);
    /* the reconnection delay, and a first line so the client sees the stream open */
    char hello[96];
    int n = snprintf(hello, sizeof hello, "retry: 3000\n: connected; last id %llu\n\n",
                     (unsigned long long)E->next_id);
    client_send(c, hello, (size_t)n);
}

static void h_history(http_req_t *req, void *ud)
{
    acs_t *a = ud;
    acs_events_t *E = E_of(a);
    buf_t v = BUF_INIT(32);
    int64_t minutes = 180;
    int rc = http_req_query_param(req, "minutes", &v);
    if (rc == 0 && str_to_i64(v.data, 1, ACS_EVRING_MINUTES, &minutes) != 0)
        rc = -EINVAL;
    buf_free(&v);
    if (rc == -EINVAL || rc == -ENOBUFS) {
        acs_api_error(req, 400, "bad_request", "minutes: an integer from 1 to 1440");
        return;
    }
    acs_api_json(req, 200, acs_evring_json(&E->ring, clock_real_s(), (int)minutes));
}

/* GET /api/stats/breakdown: devices by model and by software version (the
 * Overview's breakdown), the BREAKDOWN_TOP most common of each. */
enum { BREAKDOWN_TOP = 20 };

typedef struct breakdown_job {
    http_req_t *req;
    json_t *out;
} breakdown_job_t;

static int breakdown_one(const char *value, int64_t count, void *ud)
{
    json_array_append_new(ud, json_pack("{s:o, s:I}", "value", acs_json_text(value), "count",
                                        (json_int_t)count));
    return 0;
}

static int breakdown_run(store_t *st, void *ud)
{
    breakdown_job_t *j = ud;
    static const struct {
        const char *key;
        store_by_t by;
    } cols[] = { { "model", STORE_BY_MODEL }, { "software_version", STORE_BY_VERSION } };
    j->out = json_object();
    for (size_t i = 0; i < sizeof cols / sizeof cols[0]; i++) {
        json_t *arr = json_array();
        int64_t others = 0;
        int rc = store_device_counts(st, cols[i].by, BREAKDOWN_TOP, breakdown_one, arr, &others);
        if (rc < 0) {
            json_decref(arr);
            return rc;
        }
        json_object_set_new(j->out, cols[i].key,
                            json_pack("{s:o, s:I}", "top", arr, "others", (json_int_t)others));
    }
    return 0;
}

static void breakdown_done(int rc, void *ud)
{
    breakdown_job_t *j = ud;
    if (rc < 0)
        acs_api_store_error(j->req, rc);
    else
    {
        acs_api_json(j->req, 200, j->out); /* steals it */
        j->out = NULL;
    }
    json_decref(j->out);
    free(j);
}

static void h_breakdown(http_req_t *req, void *ud)
{
    acs_t *a = ud;
    breakdown_job_t *j = calloc(1, sizeof *j);
    if (!j) {
        acs_api_error(req, 503, "unavailable", "out of memory");
        return;
    }
    j->req = req;
    int rc = a->db && !a->stopping ? store_worker_submit(a->db, breakdown_run, breakdown_done, j) : -ECANCELED;
    if (rc != 0) {
        free(j);
        acs_api_store_error(req, rc);
    }
}

static const http_route_t event_routes[] = {
    HTTP_ROUTE("GET", "/api/events", EVENTS_ACCESS, h_events),
    HTTP_ROUTE("GET", "/api/stats/history", HTTP_ACCESS_VIEWER, h_history),
    HTTP_ROUTE("GET", "/api/stats/breakdown", HTTP_ACCESS_VIEWER, h_breakdown),
};

int acs_events_api_register(acs_t *a, http_router_t *r)
{
    return HTTP_ROUTER_ADD_TABLE(r, event_routes, a);
}

int acs_events_metrics(const acs_t *a, buf_t *o)
{
    const acs_events_t *E = E_of(a);
    if (!E)
        return 0;
    int rc = metrics_one(o, "outpost_acs_events_clients", "gauge", "Event streams (GET /api/events) open.",
                         (double)E->nclients);
    if (!rc)
        rc = metrics_one(o, "outpost_acs_events_connected_total", "counter",
                         "Event streams opened.", (double)E->n.connected);
    if (!rc)
        rc = metrics_one(o, "outpost_acs_events_refused_total", "counter",
                         "Event streams refused: --events-max-clients were open.", (double)E->n.refused);
    if (!rc)
        rc = metrics_one(o, "outpost_acs_events_slow_closed_total", "counter",
                         "Event streams closed because the client did not read (--events-client-buffer).",
                         (double)E->n.slow);
    if (!rc)
        rc = metrics_one(o, "outpost_acs_events_published_total", "counter",
                         "Events published to at least one stream.", (double)E->n.published);
    if (!rc)
        rc = metrics_one(o, "outpost_acs_events_heard_total", "counter",
                         "Events heard from the other nodes of a shared store.", (double)E->n.heard);
    if (!rc)
        rc = acs_evshare_metrics(E->share, o);
    return rc;
}

/* ---- lifetime ------------------------------------------------------------------------------ */

int acs_events_init(acs_t *a)
{
    acs_events_t *E = calloc(1, sizeof *E);
    if (!E)
        return -ENOMEM;
    E->a = a;
    a->events = E;
    return 0;
}

int acs_events_start(acs_t *a)
{
    acs_events_t *E = E_of(a);
    if (!(E->heartbeat = malloc(sizeof *E->heartbeat)) || !(E->offline = malloc(sizeof *E->offline))) {
        free(E->heartbeat);
        E->heartbeat = NULL;
        return -ENOMEM;
    }
    uv_timer_init(a->loop, E->heartbeat);
    E->heartbeat->data = E;
    uv_timer_init(a->loop, E->offline);
    E->offline->data = E;
    uint64_t hb = (uint64_t)a->o.events_heartbeat_ms;
    uv_timer_start(E->heartbeat, heartbeat_tick, hb, hb);
    uv_timer_start(E->offline, offline_tick, (uint64_t)a->o.webhook_offline_check_ms, 0);
    E->share = acs_evshare_new(a);
    return 0;
}

void acs_events_stop(acs_t *a)
{
    acs_events_t *E = E_of(a);
    if (!E || E->stopping)
        return;
    while (E->clients)
        client_close(E->clients, "the ACS is stopping", false);
    E->stopping = true;
    acs_evshare_stop(E->share);
    if (E->heartbeat) {
        runtime_close_free((uv_handle_t *)E->heartbeat);
        E->heartbeat = NULL;
    }
    if (E->offline) {
        runtime_close_free((uv_handle_t *)E->offline);
        E->offline = NULL;
    }
}

void acs_events_free(acs_t *a)
{
    if (a->events)
        acs_evshare_free(a->events->share);
    free(a->events);
    a->events = NULL;
}
