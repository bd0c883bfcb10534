/*
 * gw_admin: the gateway's loopback admin API (bearer token on every route).
 *   GET    /status              summary
 *   GET    /metrics             Prometheus text
 *   GET    /api/agents          agents online: name, address, since, streams, bytes
 *   DELETE /api/agents/{name}   kick an agent (GoAway kicked, its streams reset)
 *   GET    /api/streams         streams: id, from, to, target, state, bytes
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/buf.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/runtime.h"
#include "tunnel/api.h"
#include "tunnel/gw.h"

static void h_status(http_req_t *req, void *ud)
{
    gw_t *gw = ud;
    tunnel_api_json(req, 200,
                    json_pack("{s:I,s:I,s:I,s:I,s:I}", "agents_online", (json_int_t)gw->by_name.len,
                              "connections", (json_int_t)gw->nsessions, "streams",
                              (json_int_t)gw->nstreams, "streams_total",
                              (json_int_t)gw->c_streams_total, "uptime_s",
                              (json_int_t)((clock_mono_ms() - gw->started_ms) / 1000)));
}

static void h_agents(http_req_t *req, void *ud)
{
    gw_t *gw = ud;
    json_t *arr = json_array();
    for (gw_session_t *s = gw->sessions; s; s = s->next) {
        if (!s->authed || s->closing)
            continue;
        char since[CLOCK_ISO_LEN];
        clock_iso8601(s->since_real_s, since);
        json_array_append_new(arr, json_pack("{s:s,s:s,s:s,s:i,s:I,s:I,s:I}", "name", s->name,
                                             "address", s->peer, "since", since, "version",
                                             s->version, "streams",
                                             (json_int_t)hmap_len(&s->streams), "bytes_in",
                                             (json_int_t)s->bytes_in, "bytes_out",
                                             (json_int_t)s->bytes_out));
    }
    tunnel_api_json(req, 200, arr);
}

static void h_kick(http_req_t *req, void *ud)
{
    gw_t *gw = ud;
    const char *name = http_req_param(req, "name");
    gw_session_t *s = name ? hmap_get(&gw->by_name, name, strlen(name)) : NULL;
    if (!s) {
        tunnel_api_error(req, 404, "no such agent online");
        return;
    }
    log_info("agent_kicked", LF_S("agent", s->name), LF_S("by", http_req_peer(req)));
    gw_session_goaway(s, "kicked", "disconnected by the administrator", WS_CLOSE_POLICY);
    tunnel_api_json(req, 200, json_pack("{s:s,s:b}", "name", name, "kicked", 1));
}

static void h_streams(http_req_t *req, void *ud)
{
    gw_t *gw = ud;
    json_t *arr = json_array();
    int64_t now = clock_mono_ms();
    size_t n = 0;
    for (gw_stream_t *st = gw->streams; st && n < 10000; st = st->next, n++) {
        json_array_append_new(
            arr, json_pack("{s:I,s:s,s:s,s:s,s:i,s:s,s:I,s:I,s:I}", "id", (json_int_t)st->id, "from",
                           st->leg[0].s ? st->leg[0].s->name : "", "to",
                           st->leg[1].s ? st->leg[1].s->name : "", "ip", st->ip, "port", st->port,
                           "state", st->open ? "open" : "opening", "bytes_out",
                           (json_int_t)st->leg[0].tx.bytes, "bytes_in",
                           (json_int_t)st->leg[1].tx.bytes, "age_ms",
                           (json_int_t)(now - st->created_ms)));
    }
    tunnel_api_json(req, 200, arr);
}

static void h_metrics(http_req_t *req, void *ud)
{
    gw_t *gw = ud;
    buf_t b = BUF_INIT(64 * 1024);
#define M(name, type, help, val)                                                             \
    buf_printf(&b, "# HELP outpost_gateway_" name " " help "\n# TYPE outpost_gateway_" name  \
                   " " type "\noutpost_gateway_" name " %llu\n", (unsigned long long)(val))
    M("agents_online", "gauge", "Authenticated agents.", gw->by_name.len);
    M("connections", "gauge", "WebSocket connections, logged in or not.", gw->nsessions);
    M("streams", "gauge", "Streams open or opening.", gw->nstreams);
    M("streams_total", "counter", "Streams opened.", gw->c_streams_total);
    M("stream_open_failures_total", "counter", "Streams refused, timed out or to offline agents.",
      gw->c_open_failed);
    M("acl_denied_total", "counter", "Initiators denied by the ACL.", gw->c_acl_denied);
    M("auth_ok_total", "counter", "Successful logins.", gw->c_auth_ok);
    M("auth_failures_total", "counter",
      "Failed logins: wrong key or name, certificate name, malformed or missing handshake.",
      gw->c_auth_fail);
    M("auth_lockouts_total", "counter", "Addresses locked out after too many failed logins.",
      gw->guard.lockouts);
    M("auth_locked_out_total", "counter",
      "Login attempts refused (4429) because their address was locked out.", gw->guard.refused);
    M("auth_busy_total", "counter",
      "Logins refused (1013): their address had too many waiting, the queue was full, or they "
      "waited past the handshake deadline.", gw->c_auth_busy);
    M("auth_hashes_total", "counter", "Key checks (PBKDF2) run.", gw->c_auth_hashes);
    M("auth_queue_waiting", "gauge", "Logins waiting for a key check.",
      gw_authq_waiting(&gw->authq));
    M("auth_checks_running", "gauge", "Key checks running in the thread pool.",
      gw_authq_running(&gw->authq));
    M("auth_tracked_addresses", "gauge", "Addresses with failed logins remembered.",
      authguard_count(&gw->guard));
    M("logins_replaced_total", "counter", "Sessions replaced by a new login for the same name.",
      gw->c_replaced);
    M("protocol_errors_total", "counter", "Sessions closed for protocol errors.", gw->c_proto_errors);
    M("stream_errors_total", "counter", "Streams reset for protocol errors.", gw->c_stream_errors);
    M("late_messages_total", "counter", "Messages for unknown (just closed) streams.",
      gw->c_late_msgs);
    M("bytes_total", "counter", "Payload bytes relayed.", gw->c_bytes);
#undef M
    http_respond(req, 200, "text/plain; version=0.0.4", b.data ? b.data : "", b.len);
    buf_free(&b);
}

int gw_admin_start(gw_t *gw)
{
    const char *addr = gw->opts.common.admin_listen;
    if (!addr || !*addr)
        return 0;
    int rc = runtime_api_token(gw->opts.common.data_dir, gw->opts.common.api_token, "gateway",
                               gw->token, sizeof gw->token);
    if (rc != 0)
        return rc;
    http_router_opts_t ro = { .name = "gateway-admin", .token = gw->token };
    if (!(gw->router = http_router_new(&ro)))
        return -ENOMEM;
    if (http_router_add(gw->router, "GET", "/status", HTTP_ACCESS_TOKEN, h_status, gw) ||
        http_router_add(gw->router, "GET", "/metrics", HTTP_ACCESS_TOKEN, h_metrics, gw) ||
        http_router_add(gw->router, "GET", "/api/agents", HTTP_ACCESS_TOKEN, h_agents, gw) ||
        http_router_add(gw->router, "DELETE", "/api/agents/{name}", HTTP_ACCESS_TOKEN, h_kick, gw) ||
        http_router_add(gw->router, "GET", "/api/streams", HTTP_ACCESS_TOKEN, h_streams, gw))
        return -EINVAL;
    http_server_opts_t ho = { .on_head = http_router_on_head, .handler = http_router_dispatch,
                              .ud = gw->router,
                              .max_body_bytes = 4096, .server_name = "outpost-gateway" };
    gw->admin = http_server_new(gw->loop, &ho);
    if (!gw->admin)
        return -ENOMEM;
    net_listen_opts_t lo = { .addr = addr, .max_connections = CFG_ADMIN_MAX_CONNECTIONS };
    if ((rc = http_server_listen(gw->admin, &lo)) != 0) {
        log_error("listen_failed", LF_S("addr", addr), LF_ERR(rc));
        return rc;
    }
    return 0;
}
