/*
 * acs_admin: the loopback admin listener (--admin-listen): /metrics in the
 * Prometheus text format and /status as JSON, both behind the API token.
 * Both read counters the ACS keeps anyway.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "acs/acs_internal.h"
#include "core/log.h"
#include "core/str.h"

static void counters(acs_t *a, buf_t *b)
{
    uint64_t batches = 0, jobs = 0;
    if (a->db)
        store_worker_counters(a->db, &batches, &jobs);
    const struct {
        const char *name, *type, *help;
        uint64_t v;
    } m[] = {
        { "outpost_acs_sessions_total", "counter", "CWMP sessions started", a->n.sessions },
        { "outpost_acs_informs_total", "counter", "Informs received", a->n.informs },
        { "outpost_acs_rpcs_total", "counter", "RPCs sent to CPEs", a->n.rpcs },
        { "outpost_acs_cpe_faults_total", "counter", "CPE faults received", a->n.cpe_faults },
        { "outpost_acs_acs_faults_total", "counter", "ACS faults sent", a->n.faults },
        { "outpost_acs_session_timeouts_total", "counter", "sessions ended by the idle timeout",
          a->n.timeouts },
        { "outpost_acs_auth_failures_total", "counter", "CPE authentication failures",
          a->n.auth_failures },
        { "outpost_acs_bad_messages_total", "counter", "undecodable or out-of-place CWMP messages",
          a->n.bad_requests },
        { "outpost_acs_connection_requests_total", "counter", "connection requests sent",
          a->n.cr_sent },
        { "outpost_acs_connection_requests_ok_total", "counter", "connection requests answered 200/204",
          a->n.cr_ok },
        { "outpost_acs_connection_requests_failed_total", "counter", "connection requests failed",
          a->n.cr_failed },
        { "outpost_acs_live_sessions", "gauge", "CWMP sessions in progress", a->nsessions },
        { "outpost_acs_store_queue", "gauge", "store jobs waiting or running",
          a->db ? store_worker_pending(a->db) : 0 },
        { "outpost_acs_store_batches_total", "counter", "store transactions committed", batches },
        { "outpost_acs_store_jobs_total", "counter", "store jobs run", jobs },
        { "outpost_acs_cwmp_connections", "gauge", "open CWMP connections",
          a->cwmp ? http_server_connections(a->cwmp) : 0 },
    };
    for (size_t i = 0; i < sizeof m / sizeof m[0]; i++)
        (void)buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n%s %llu\n", m[i].name, m[i].help,
                         m[i].name, m[i].type, m[i].name, (unsigned long long)m[i].v);
}

static void h_metrics(http_req_t *r, void *ud)
{
    buf_t b = BUF_INIT(1 << 20);
    counters(ud, &b);
    http_respond(r, 200, "text/plain; version=0.0.4", b.data ? b.data : "", b.len);
    buf_free(&b);
}

static void h_status(http_req_t *r, void *ud)
{
    acs_t *a = ud;
    json_t *o = json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "cwmp",
                          a->cwmp ? http_server_addr(a->cwmp) : "", "live_sessions",
                          (json_int_t)a->nsessions, "sessions", (json_int_t)a->n.sessions, "informs",
                          (json_int_t)a->n.informs, "rpcs", (json_int_t)a->n.rpcs, "cpe_faults",
                          (json_int_t)a->n.cpe_faults, "store_queue",
                          (json_int_t)(a->db ? store_worker_pending(a->db) : 0),
                          "connection_requests", (json_int_t)a->n.cr_sent);
    acs_api_json(r, 200, o);
}

int acs_admin_start(acs_t *a, const char *listen)
{
    http_router_opts_t ro = { .name = "acs-admin", .token = a->api_token };
    http_router_t *r = a->admin_router = http_router_new(&ro);
    if (!r)
        return -ENOMEM;
    if (http_router_add(r, "GET", "/metrics", HTTP_ACCESS_TOKEN, h_metrics, a) ||
        http_router_add(r, "GET", "/status", HTTP_ACCESS_TOKEN, h_status, a))
        return -ENOMEM;
    http_server_opts_t so = { .on_head = http_router_on_head, .handler = http_router_dispatch,
                              .ud = r, .max_body_bytes = 4096 };
    a->admin = http_server_new(a->loop, &so);
    if (!a->admin)
        return -ENOMEM;
    return http_server_listen(a->admin, &(net_listen_opts_t){
        .addr = listen, .max_connections = CFG_ADMIN_MAX_CONNECTIONS });
}

void acs_admin_stop(acs_t *a)
{
    if (a->admin) {
        http_server_close(a->admin, NULL, NULL);
        a->admin = NULL;
    }
}
