/*
 * acs_admin: the ACS's series for /metrics, its /status and /health, served
 * by net/http_admin on --admin-listen. Counters are kept where things happen
 * (a->n, a->m); the fleet's gauges (devices, open tasks) come from a store
 * snapshot taken every --fleet-refresh (15 s), so a scrape costs the same
 * with 100 devices or 100,000 and never waits on the disk.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acs/acs_files.h"
#include "acs/acs_internal.h"
#include "acs/acs_webhook.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/str.h"
#include "net/http_admin.h"

/* ---- what /metrics counts as it happens -------------------------------------------- */

/* TR-069 Table 7's numbered event codes one by one; a CPE's "M <method>"
 * and "X <vendor> ..." codes are counted as "M" and "X", anything else as
 * "other": a bounded label set whatever CPEs say. */
_Static_assert(ACS_EVENTS == CWMP_EVENT_CODES + 3, "ACS_EVENTS: the numbered codes, M, X, other");

static const char *event_name(size_t i)
{
    static const char *const extra[] = { "M", "X", "other" };
    return i < CWMP_EVENT_CODES ? cwmp_event_codes[i] : extra[i - CWMP_EVENT_CODES];
}

void acs_metrics_event(acs_t *a, const char *code)
{
    size_t i = 0;
    if ((code[0] == 'M' || code[0] == 'X') && code[1] == ' ')
        i = code[0] == 'M' ? ACS_EVENTS - 3 : ACS_EVENTS - 2;
    else
        while (i < ACS_EVENTS - 3 && strcmp(cwmp_event_codes[i], code) != 0)
            i++;
    a->m.informs_by_event[i]++;
}

/* CPE fault codes: 9000-9032 one by one (TR-069 A.5.1), 9800-9899 as
 * vendor, anything else as other: a bounded label set whatever CPEs say. */
void acs_metrics_fault(acs_t *a, int code)
{
    size_t i = code >= 9000 && code <= 9032 ? (size_t)(code - 9000)
               : code >= 9800 && code <= 9899 ? ACS_FAULT_VENDOR : ACS_FAULT_OTHER;
    a->m.cpe_faults_by_code[i]++;
}

/* ---- the fleet snapshot ---------------------------------------------------------------- */

typedef struct fleet_job {
    acs_t *a;
    int64_t from, now; /* finished tasks are counted in [from, now) */
    acs_fleet_t f;
} fleet_job_t;

static int count_into(acs_fleet_t *f, bool finished, const char *type, int status, int64_t count)
{
    size_t *n = finished ? &f->nfinished : &f->nopen;
    __typeof__(f->open[0]) *v = finished ? f->finished : f->open;
    if (*n >= sizeof f->open / sizeof f->open[0])
        return 1;
    str_copy(v[*n].type, sizeof v[*n].type, type);
    v[*n].status = status;
    v[*n].count = count;
    (*n)++;
    return 0;
}

static int count_open(const char *type, int status, int64_t count, void *ud)
{
    return count_into(ud, false, type, status, count);
}

static int count_finished(const char *type, int status, int64_t count, void *ud)
{
    return count_into(ud, true, type, status, count);
}

static int fleet_run(store_t *s, void *ud)
{
    fleet_job_t *j = ud;
    int rc = store_stats(s, j->now, j->a->default_interval_s, &j->f.stats);
    if (!rc)
        rc = store_task_open_counts(s, count_open, &j->f);
    if (!rc)
        rc = store_task_finished_counts(s, j->from, j->now, count_finished, &j->f);
    return rc;
}

static size_t finished_row(const acs_metrics_t *m, const char *type)
{
    size_t k = 0;
    while (k < m->nfinished && strcmp(m->finished[k].type, type) != 0)
        k++;
    return k;
}

/* Add a window's finished tasks to the counters (a type beyond the table's
 * 32 is counted as "other": types come from the API's fixed list anyway). */
static void add_finished(acs_metrics_t *m, const acs_fleet_t *f)
{
    for (size_t i = 0; i < f->nfinished; i++) {
        int st = f->finished[i].status;
        if (st < STORE_TASK_DONE || st > STORE_TASK_CANCELLED)
            continue;
        size_t max = sizeof m->finished / sizeof m->finished[0];
        size_t k = finished_row(m, f->finished[i].type);
        if (k == m->nfinished && k >= max - 1)
            k = finished_row(m, "other"); /* the last row is kept for the rest */
        if (k == m->nfinished)
            str_copy(m->finished[m->nfinished++].type, sizeof m->finished[0].type,
                     k == max - 1 ? "other" : f->finished[i].type);
        m->finished[k].n[st] += (uint64_t)f->finished[i].count;
    }
}

static void fleet_done(int rc, void *ud)
{
    fleet_job_t *j = ud;
    if (rc == 0) {
        j->f.valid = true;
        j->f.at_s = j->now;
        j->a->fleet = j->f;
        add_finished(&j->a->m, &j->f);
        j->a->m.finished_from = j->now;
    }
    free(j);
}

static void on_fleet_timer(uv_timer_t *t)
{
    acs_t *a = t->data;
    fleet_job_t *j = a->db && !a->stopping ? calloc(1, sizeof *j) : NULL;
    if (!j)
        return;
    j->a = a;
    j->now = clock_real_s();
    j->from = a->m.finished_from;
    if (store_worker_submit(a->db, fleet_run, fleet_done, j) != 0)
        free(j);
}

/* ---- /metrics --------------------------------------------------------------------------- */

static int write_labelled(buf_t *o, const char *name, const char *label, const char *value, double v)
{
    buf_t l = BUF_INIT(512);
    int rc = buf_printf(&l, "%s=\"", label);
    if (!rc)
        rc = metrics_label_escape(&l, value);
    if (!rc)
        rc = buf_append_byte(&l, '"');
    if (!rc)
        rc = metrics_value(o, name, l.data, v);
    buf_free(&l);
    return rc;
}

static int write_metrics(buf_t *o, void *ud)
{
    acs_t *a = ud;
    uint64_t batches = 0, jobs = 0;
    acs_xmpp_stats_t xs;
    acs_cr_xmpp_stats(a, &xs);
    if (a->db)
        store_worker_counters(a->db, &batches, &jobs);
    const struct {
        const char *name, *type, *help;
        double v;
    } plain[] = {
        { "outpost_acs_sessions_total", "counter", "CWMP sessions started.", (double)a->n.sessions },
        { "outpost_acs_live_sessions", "gauge", "CWMP sessions in progress.", (double)a->nsessions },
        { "outpost_acs_rpcs_total", "counter", "RPCs sent to CPEs.", (double)a->n.rpcs },
        { "outpost_acs_acs_faults_total", "counter", "Faults the ACS sent.", (double)a->n.faults },
        { "outpost_acs_session_timeouts_total", "counter", "Sessions ended by the idle timeout.",
          (double)a->n.timeouts },
        { "outpost_acs_auth_failures_total", "counter", "CPE authentication failures.",
          (double)a->n.auth_failures },
        { "outpost_acs_auth_lockouts_total", "counter", "CPE addresses locked out after failures.",
          (double)a->cpe_guard.lockouts },
        { "outpost_acs_api_auth_failures_total", "counter", "Wrong API tokens.",
          a->router ? (double)http_router_auth_failures(a->router) : 0 },
        { "outpost_acs_bad_messages_total", "counter", "Undecodable or out-of-place CWMP messages.",
          (double)a->n.bad_requests },
        { "outpost_acs_shared_connection_informs_total", "counter",
          "Informs of a new session on a connection that carried another device's session "
          "(a balancer sharing its connections between CPEs).",
          (double)a->n.shared_connection_informs },
        { "outpost_acs_shared_connection_others_total", "counter",
          "Requests without a cookie on a --trusted-proxy connection carrying a session that "
          "were not taken as that session's (its CPE sends cookies, or another address).",
          (double)a->n.shared_connection_others },
        { "outpost_acs_connection_requests_in_flight", "gauge",
          "Connection requests waiting for the CPE's answer.", (double)a->ncrs },
        { "outpost_acs_cwmp_connections", "gauge", "Open CWMP connections.",
          a->cwmp ? (double)http_server_connections(a->cwmp) : 0 },
        { "outpost_acs_store_queue", "gauge", "Store jobs waiting or running.",
          a->db ? (double)store_worker_pending(a->db) : 0 },
        { "outpost_acs_store_batches_total", "counter", "Store transactions committed.", (double)batches },
        { "outpost_acs_store_jobs_total", "counter", "Store jobs run.", (double)jobs },
        { "outpost_acs_store_round_trips_total", "counter",
          "Answers the store waited for from its database server (0 on SQLite).",
          a->store ? (double)store_round_trips(a->store) : 0 },
        { "outpost_acs_xmpp_connected", "gauge",
          "1 while the XMPP login (--xmpp-jid) is up and bound.", xs.connected ? 1 : 0 },
        { "outpost_acs_xmpp_connects_total", "counter", "XMPP logins completed.", (double)xs.connects },
        { "outpost_acs_xmpp_iqs_sent_total", "counter", "Connection request IQs sent.", (double)xs.sent },
        { "outpost_acs_xmpp_iqs_ok_total", "counter", "Connection request IQs the CPE answered with a result.",
          (double)xs.ok },
        { "outpost_acs_xmpp_iqs_failed_total", "counter",
          "Connection requests over XMPP that failed (error IQ, timeout, login down).", (double)xs.failed },
    };
    int rc = 0;
    for (size_t i = 0; i < sizeof plain / sizeof plain[0] && !rc; i++)
        rc = metrics_one(o, plain[i].name, plain[i].type, plain[i].help, plain[i].v);

    if (!rc)
        rc = metrics_head(o, "outpost_acs_informs_total", "counter", "Informs received, by event code.");
    for (size_t i = 0; i < ACS_EVENTS && !rc; i++)
        rc = write_labelled(o, "outpost_acs_informs_total", "event", event_name(i),
                            (double)a->m.informs_by_event[i]);

    if (!rc)
        rc = metrics_head(o, "outpost_acs_cpe_faults_total", "counter",
                          "Faults CPEs answered RPCs with, by code (9800-9899 as vendor).");
    for (size_t i = 0; i < ACS_FAULT_CODES && !rc; i++) {
        if (!a->m.cpe_faults_by_code[i])
            continue; /* 35 zero series say nothing */
        char code[16];
        snprintf(code, sizeof code, "%zu", 9000 + i);
        rc = write_labelled(o, "outpost_acs_cpe_faults_total", "code",
                            i == ACS_FAULT_VENDOR ? "vendor" : i == ACS_FAULT_OTHER ? "other" : code,
                            (double)a->m.cpe_faults_by_code[i]);
    }

    static const char *const cr_outcomes[] = { "ok", "refused", "failed" };
    uint64_t cr[] = { a->n.cr_ok, a->m.cr_refused, a->n.cr_failed };
    if (!rc)
        rc = metrics_head(o, "outpost_acs_connection_requests_total", "counter",
                          "Connection requests by outcome (refused: not sent, e.g. --cr-deny).");
    for (size_t i = 0; i < 3 && !rc; i++)
        rc = write_labelled(o, "outpost_acs_connection_requests_total", "outcome", cr_outcomes[i],
                            (double)cr[i]);

    static const char *const finished[] = { [STORE_TASK_DONE] = "done", [STORE_TASK_FAILED] = "failed",
                                            [STORE_TASK_EXPIRED] = "expired",
                                            [STORE_TASK_CANCELLED] = "cancelled" };
    if (!rc)
        rc = metrics_head(o, "outpost_acs_tasks_finished_total", "counter",
                          "Tasks finished since the ACS started, by type and status (as of the last "
                          "fleet snapshot).");
    for (size_t i = 0; i < a->m.nfinished && !rc; i++)
        for (int s = STORE_TASK_DONE; s <= STORE_TASK_CANCELLED && !rc; s++) {
            buf_t l = BUF_INIT(256);
            rc = buf_append_str(&l, "type=\"");
            if (!rc)
                rc = metrics_label_escape(&l, a->m.finished[i].type);
            if (!rc)
                rc = buf_printf(&l, "\",status=\"%s\"", finished[s]);
            if (!rc)
                rc = metrics_value(o, "outpost_acs_tasks_finished_total", l.data,
                                   (double)a->m.finished[i].n[s]);
            buf_free(&l);
        }

    /* provisioning (acs_prov_run.c): counted as it happens, no store read */
    static const char *const prov_outcomes[] = { "done", "fault", "gave_up" };
    if (!rc)
        rc = metrics_head(o, "outpost_acs_provisioning_runs_total", "counter",
                          "Preset runs in sessions, by outcome (gave_up: rounds or RPCs exhausted).");
    for (size_t i = 0; i < 3 && !rc; i++)
        rc = write_labelled(o, "outpost_acs_provisioning_runs_total", "outcome", prov_outcomes[i],
                            (double)a->m.prov_runs[i]);
    if (!rc)
        rc = metrics_one(o, "outpost_acs_provisioning_rounds_total", "counter",
                         "Provisioning rounds (planning passes over every running provision).",
                         (double)a->m.prov_rounds);
    if (!rc)
        rc = metrics_one(o, "outpost_acs_provisioning_rpcs_total", "counter",
                         "RPCs provisioning sent to CPEs.", (double)a->m.prov_rpcs);
    if (!rc)
        rc = metrics_one(o, "outpost_acs_provisioning_preempted_total", "counter",
                         "Engine steps preempted on the event loop (a script past 2 ms of CPU), "
                         "run again on the thread pool.",
                         (double)a->m.prov_preempted);
    if (!rc)
        rc = metrics_one(o, "outpost_acs_provisioning_engine_seconds_total", "counter",
                         "Event-loop time spent in the provisioning engine (Lua runs and planning).",
                         a->m.prov_engine_seconds);
    if (!rc)
        rc = metrics_head(o, "outpost_acs_provisioning_step_seconds", "histogram",
                          "One provisioning engine step (every provision run once, then planned).");
    if (!rc)
        rc = metrics_hist_write(o, "outpost_acs_provisioning_step_seconds", "", &a->m.prov_step_seconds);

    if (!rc)
        rc = metrics_head(o, "outpost_acs_session_seconds", "histogram",
                          "CWMP session duration, Inform to the end.");
    if (!rc)
        rc = metrics_hist_write(o, "outpost_acs_session_seconds", "", &a->m.session_seconds);
    if (!rc && a->db)
        rc = metrics_head(o, "outpost_acs_store_job_seconds", "histogram",
                          "Store jobs from submission to durable completion.");
    if (!rc && a->db)
        rc = metrics_hist_write(o, "outpost_acs_store_job_seconds", "", store_worker_latency(a->db));

    static const char *const udp_outcomes[] = { "sent", "ok", "timeout", "failed" };
    uint64_t udp[] = { a->n.cr_udp_sent, a->n.cr_udp_ok, a->n.cr_udp_timeout, a->n.cr_udp_failed };
    if (!rc)
        rc = metrics_head(o, "outpost_acs_udp_connection_requests_total", "counter",
                          "UDP connection requests (TR-069 Annex G) by outcome (sent: from our socket,"
                          " or a --cr-proxy said it sends them; failed: that proxy refused).");
    for (size_t i = 0; i < 4 && !rc; i++)
        rc = write_labelled(o, "outpost_acs_udp_connection_requests_total", "outcome", udp_outcomes[i],
                            (double)udp[i]);
    if (!rc)
        rc = metrics_one(o, "outpost_acs_udp_connection_request_datagrams_total", "counter",
                         "UDP connection request datagrams sent from the STUN socket (copies"
                         " included; a --cr-proxy's relays are its own).",
                         (double)a->n.cr_udp_datagrams);
    if (!rc)
        rc = acs_stun_metrics(a, o); /* outpost_acs_stun_* (acs_stun.c) */
    if (!rc)
        rc = acs_webhook_metrics(a, o); /* outpost_acs_webhook_* (acs_webhook.c) */
    if (!rc)
        rc = acs_events_metrics(a, o); /* outpost_acs_events_* (acs_events.c) */
    if (!rc)
        rc = acs_files_metrics(a, o); /* outpost_acs_file_* (acs_files_shared.c; a shared store) */

    /* the fleet, as of the last snapshot */
    const acs_fleet_t *f = &a->fleet;
    if (!rc && f->valid) {
        rc = metrics_one(o, "outpost_acs_devices", "gauge", "Devices known.",
                         (double)f->stats.total_devices);
        if (!rc)
            rc = metrics_one(o, "outpost_acs_devices_online", "gauge",
                             "Devices whose last Inform is within twice their interval.",
                             (double)f->stats.online_devices);
        if (!rc)
            rc = metrics_head(o, "outpost_acs_tasks", "gauge", "Open tasks, by type and status.");
        for (size_t i = 0; i < f->nopen && !rc; i++) {
            buf_t l = BUF_INIT(256);
            rc = buf_append_str(&l, "type=\"");
            if (!rc)
                rc = metrics_label_escape(&l, f->open[i].type);
            if (!rc)
                rc = buf_printf(&l, "\",status=\"%s\"", f->open[i].status ? "sent" : "pending");
            if (!rc)
                rc = metrics_value(o, "outpost_acs_tasks", l.data, (double)f->open[i].count);
            buf_free(&l);
        }
        if (!rc)
            rc = metrics_one(o, "outpost_acs_fleet_snapshot_timestamp_seconds", "gauge",
                             "When the device and task gauges were read from the store.",
                             (double)f->at_s);
    }
    return rc;
}

/* ---- /status and /health ---------------------------------------------------------------- */

static int write_status(buf_t *out, void *ud)
{
    acs_t *a = ud;
    json_t *o = json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "cwmp",
                          a->cwmp ? http_server_addr(a->cwmp) : "", "live_sessions",
                          (json_int_t)a->nsessions, "sessions", (json_int_t)a->n.sessions, "informs",
                          (json_int_t)a->n.informs, "rpcs", (json_int_t)a->n.rpcs, "cpe_faults",
                          (json_int_t)a->n.cpe_faults, "store_queue",
                          (json_int_t)(a->db ? store_worker_pending(a->db) : 0),
                          "connection_requests", (json_int_t)a->n.cr_sent);
    acs_xmpp_stats_t xs;
    acs_cr_xmpp_stats(a, &xs);
    if (xs.configured)
        json_object_set_new(o, "xmpp", json_pack("{s:s, s:s, s:b, s:I}", "jid", xs.jid, "state", xs.state,
                                                  "connected", xs.connected, "connects",
                                                  (json_int_t)xs.connects));
    if (a->fleet.valid)
        json_object_set_new(o, "devices", json_pack("{s:I, s:I}", "total",
                                                     (json_int_t)a->fleet.stats.total_devices, "online",
                                                     (json_int_t)a->fleet.stats.online_devices));
    if (o)
        json_object_set_new(o, "cluster", acs_cluster_json(a));
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    int rc = s ? buf_append_str(out, s) : -ENOMEM;
    free(s);
    return rc;
}

/* Unhealthy when the store cannot commit (disk full, read-only file) or its
 * queue is nearly full: CPEs' sessions then fail or wait. */
static int health(char *why, size_t len, void *ud)
{
    acs_t *a = ud;
    if (!a->db) {
        snprintf(why, len, "store not open");
        return -1;
    }
    int e = store_worker_last_error(a->db);
    if (e) {
        snprintf(why, len, "store cannot commit: %s", log_strerror(e));
        return -1;
    }
    size_t q = store_worker_pending(a->db), max = store_worker_max_queue(a->db);
    if (q >= max - max / 10) {
        snprintf(why, len, "store queue nearly full (%zu of %zu jobs)", q, max);
        return -1;
    }
    return 0;
}

int acs_admin_start(acs_t *a, const char *listen)
{
    http_admin_opts_t ao = { .daemon = "acs", .listen = listen, .token = a->api_token,
                             .metrics_public = a->o.common.metrics_public, .metrics = write_metrics,
                             .status = write_status, .health = health, .ud = a };
    int rc = http_admin_start(a->loop, &ao, &a->admin);
    if (rc || !a->admin)
        return rc;
    a->m.finished_from = clock_real_s();
    a->fleet_timer = malloc(sizeof *a->fleet_timer);
    if (!a->fleet_timer)
        return -ENOMEM;
    uv_timer_init(a->loop, a->fleet_timer);
    a->fleet_timer->data = a;
    uv_timer_start(a->fleet_timer, on_fleet_timer, 0, (uint64_t)a->o.fleet_refresh_ms);
    return 0;
}

void acs_admin_stop(acs_t *a)
{
    if (a->fleet_timer) {
        uv_close((uv_handle_t *)a->fleet_timer, (uv_close_cb)free);
        a->fleet_timer = NULL;
    }
    http_admin_close(a->admin);
    a->admin = NULL;
}
