/*
 * gw_admin: the gateway's loopback admin API (net/http_admin: the bearer
 * token on every route).
 *   GET    /status              summary
 *   GET    /metrics             Prometheus text
 *   GET    /health              200 while it listens for agents
 *   GET    /api/agents          agents online: name, address, since, streams, bytes
 *   DELETE /api/agents/{name}   kick an agent (GoAway kicked, its streams reset)
 *   GET    /api/streams         streams: id, from, to, target, state, bytes, via
 *   GET    /api/routes          where each agent is logged in (this gateway or a peer)
 *   GET    /api/peers           mesh: configured peers, links, refused peers
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/runtime.h"
#include "net/http_admin.h"
#include "tunnel/api.h"
#include "tunnel/gw.h"

static const char *peer_state_name(gw_peer_state_t st)
{
    static const char *const names[] = {
        [GW_PEER_DOWN] = "down", [GW_PEER_CONNECTING] = "connecting", [GW_PEER_UP] = "up",
        [GW_PEER_INBOUND] = "up (its link)", [GW_PEER_REFUSED] = "refused",
        [GW_PEER_SELF] = "self",
    };
    return names[st];
}

/* The mesh as /status and /api/peers show it. */
static json_t *mesh_json(gw_t *gw)
{
    json_t *links = json_array(), *peers = json_array(), *refused = json_array();
    size_t pos = 0;
    gw_session_t *s;
    while ((s = hmap_next(&gw->links, &pos, NULL)))
        json_array_append_new(
            links, json_pack("{s:s,s:s,s:s,s:I,s:I,s:I}", "gateway", s->name, "address", s->peer,
                             "direction", s->outbound ? "outbound" : "inbound", "streams",
                             (json_int_t)hmap_len(&s->streams), "bytes_in",
                             (json_int_t)s->bytes_in, "bytes_out", (json_int_t)s->bytes_out));
    for (gw_peer_t *p = gw->peers; p; p = p->next) {
        char since[CLOCK_ISO_LEN];
        clock_iso8601(p->since_s, since);
        json_array_append_new(peers, json_pack("{s:s,s:s,s:s,s:s,s:s}", "url", p->shown, "gateway",
                                               p->name, "state", peer_state_name(p->state),
                                               "since", since, "reason", p->reason));
    }
    for (size_t i = 0; i < gw->nrefusals; i++) {
        const struct gw_mesh_refusal *r = &gw->refusals[i];
        char at[CLOCK_ISO_LEN];
        clock_iso8601(r->at_s, at);
        json_array_append_new(refused, json_pack("{s:s,s:s,s:s,s:s}", "gateway", r->name,
                                                 "address", r->addr, "reason", r->reason, "at",
                                                 at));
    }
    size_t remote = 0;
    const tunnel_route_t *r;
    for (pos = 0; (r = tunnel_mesh_next(&gw->routes, &pos));)
        remote += strcmp(r->gateway, gw->mesh_name) != 0;
    return json_pack("{s:b,s:s,s:s,s:s,s:I,s:I,s:I,s:o,s:o,s:o}", "enabled", gw->mesh_on, "name",
                     gw->mesh_name, "listen", gw_mesh_listen_addr(gw), "digest", gw->digest,
                     "links_up", (json_int_t)hmap_len(&gw->links), "remote_routes",
                     (json_int_t)remote, "streams", (json_int_t)gw->mesh_streams, "links", links,
                     "peers", peers, "refused", refused);
}

static int write_status(buf_t *out, void *ud)
{
    gw_t *gw = ud;
    json_t *j = json_pack("{s:I,s:I,s:I,s:I,s:I,s:o}", "agents_online",
                          (json_int_t)gw->by_name.len, "connections", (json_int_t)gw->nsessions,
                          "streams", (json_int_t)gw->nstreams, "streams_total",
                          (json_int_t)gw->c_streams_total, "uptime_s",
                          (json_int_t)((clock_mono_ms() - gw->started_ms) / 1000), "mesh",
                          mesh_json(gw));
    char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    int rc = text ? buf_append_str(out, text) : -ENOMEM;
    free(text);
    return rc;
}

static void h_peers(http_req_t *req, void *ud)
{
    tunnel_api_json(req, 200, mesh_json(ud));
}

static void h_routes(http_req_t *req, void *ud)
{
    gw_t *gw = ud;
    json_t *arr = json_array();
    size_t pos = 0;
    const tunnel_route_t *r;
    while ((r = tunnel_mesh_next(&gw->routes, &pos)) && json_array_size(arr) < 100000) {
        bool local = !gw->mesh_on || strcmp(r->gateway, gw->mesh_name) == 0;
        json_array_append_new(arr, json_pack("{s:s,s:s,s:I,s:b}", "agent", r->name, "gateway",
                                             local ? gw->mesh_name : r->gateway, "epoch",
                                             (json_int_t)r->epoch, "local", local));
    }
    tunnel_api_json(req, 200, arr);
}

static void h_agents(http_req_t *req, void *ud)
{
    gw_t *gw = ud;
    json_t *arr = json_array();
    for (gw_session_t *s = gw->sessions; s; s = s->next) {
        if (!s->authed || s->closing || s->mesh)
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
        const char *via = "";
        for (int i = 0; i < 2; i++)
            if (st->leg[i].s && st->leg[i].s->mesh)
                via = st->leg[i].s->name;
        json_array_append_new(
            arr, json_pack("{s:I,s:s,s:s,s:s,s:i,s:s,s:I,s:I,s:I,s:s}", "id", (json_int_t)st->id,
                           "from", st->from, "to", st->to, "ip", st->ip, "port", st->port,
                           "state", st->open ? "open" : "opening", "bytes_out",
                           (json_int_t)st->leg[0].tx.bytes, "bytes_in",
                           (json_int_t)st->leg[1].tx.bytes, "age_ms",
                           (json_int_t)(now - st->created_ms), "via", via));
    }
    tunnel_api_json(req, 200, arr);
}

static int write_metrics(buf_t *out, void *ud)
{
    gw_t *gw = ud;
    const struct {
        const char *name, *type, *help;
        double v;
    } m[] = {
        { "outpost_gateway_agents_online", "gauge", "Authenticated agents.", (double)gw->by_name.len },
        { "outpost_gateway_connections", "gauge", "WebSocket connections, logged in or not.",
          (double)gw->nsessions },
        { "outpost_gateway_streams", "gauge", "Streams open or opening.", (double)gw->nstreams },
        { "outpost_gateway_streams_total", "counter", "Streams opened.", (double)gw->c_streams_total },
        { "outpost_gateway_auth_ok_total", "counter", "Successful logins.", (double)gw->c_auth_ok },
        { "outpost_gateway_auth_failures_total", "counter",
          "Failed logins: wrong key or name, certificate name, malformed or missing handshake.",
          (double)gw->c_auth_fail },
        { "outpost_gateway_auth_lockouts_total", "counter",
          "Addresses locked out after too many failed logins.", (double)gw->guard.lockouts },
        { "outpost_gateway_auth_locked_out_total", "counter",
          "Login attempts refused (4429) because their address was locked out.",
          (double)gw->guard.refused },
        { "outpost_gateway_auth_busy_total", "counter",
          "Logins refused (1013): their address had too many waiting, the queue was full, or they "
          "waited past the handshake deadline.", (double)gw->c_auth_busy },
        { "outpost_gateway_auth_hashes_total", "counter", "Key checks (PBKDF2) run.",
          (double)gw->c_auth_hashes },
        { "outpost_gateway_auth_queue_waiting", "gauge", "Logins waiting for a key check.",
          (double)gw_authq_waiting(&gw->authq) },
        { "outpost_gateway_auth_checks_running", "gauge", "Key checks running in the thread pool.",
          (double)gw_authq_running(&gw->authq) },
        { "outpost_gateway_auth_tracked_addresses", "gauge", "Addresses with failed logins remembered.",
          (double)authguard_count(&gw->guard) },
        { "outpost_gateway_logins_replaced_total", "counter",
          "Sessions replaced by a new login for the same name.", (double)gw->c_replaced },
        { "outpost_gateway_protocol_errors_total", "counter", "Sessions closed for protocol errors.",
          (double)gw->c_proto_errors },
        { "outpost_gateway_stream_errors_total", "counter", "Streams reset for protocol errors.",
          (double)gw->c_stream_errors },
        { "outpost_gateway_late_messages_total", "counter", "Messages for unknown (just closed) streams.",
          (double)gw->c_late_msgs },
        { "outpost_gateway_queue_full_resets_total", "counter",
          "Streams reset because their data did not fit the receiving session's send queue.",
          (double)gw->c_queue_full },
        { "outpost_gateway_mesh_links_up", "gauge", "Mesh links to other gateways, established.",
          (double)hmap_len(&gw->links) },
        { "outpost_gateway_mesh_links_total", "counter", "Mesh links established.",
          (double)gw->c_mesh_links_total },
        { "outpost_gateway_mesh_routes", "gauge",
          "Agents in the routing table (logged in here or on a linked gateway).",
          (double)tunnel_mesh_len(&gw->routes) },
        { "outpost_gateway_mesh_streams", "gauge", "Streams relayed through a mesh link now.",
          (double)gw->mesh_streams },
        { "outpost_gateway_mesh_streams_total", "counter",
          "Streams relayed through a mesh link (to or from a peer gateway).",
          (double)gw->c_mesh_streams_total },
        { "outpost_gateway_mesh_replaced_total", "counter",
          "Sessions closed because a newer login of the name won on another gateway.",
          (double)gw->c_mesh_replaced },
    };
    int rc = 0;
    for (size_t i = 0; i < sizeof m / sizeof m[0] && !rc; i++)
        rc = metrics_one(out, m[i].name, m[i].type, m[i].help, m[i].v);
    static const char *const refusals[GW_REFUSE_COUNT] = {
        [GW_REFUSE_INVALID] = "invalid", [GW_REFUSE_LIMIT] = "limit", [GW_REFUSE_ACL] = "acl",
        [GW_REFUSE_OFFLINE] = "offline", [GW_REFUSE_AGENT] = "agent", [GW_REFUSE_TIMEOUT] = "timeout",
    };
    if (!rc)
        rc = metrics_head(out, "outpost_gateway_stream_refusals_total", "counter",
                          "Streams that did not open, by reason (acl: no --rule; agent: the acceptor "
                          "refused; offline; timeout; limit: --max-streams; invalid).");
    for (int i = 0; i < GW_REFUSE_COUNT && !rc; i++) {
        char l[32];
        snprintf(l, sizeof l, "reason=\"%s\"", refusals[i]);
        rc = metrics_value(out, "outpost_gateway_stream_refusals_total", l, (double)gw->c_refused[i]);
    }
    if (!rc)
        rc = metrics_head(out, "outpost_gateway_mesh_refused_total", "counter",
                          "Mesh peers refused, by reason (digest: other rules or agents; identity: "
                          "certificate CN is not its name; version; protocol).");
    for (int i = 0; i < GW_MESH_REFUSE_COUNT && !rc; i++) {
        char l[32];
        snprintf(l, sizeof l, "reason=\"%s\"", gw_mesh_refuse_name((gw_mesh_refuse_t)i));
        rc = metrics_value(out, "outpost_gateway_mesh_refused_total", l,
                           (double)gw->c_mesh_refused[i]);
    }
    if (!rc)
        rc = metrics_head(out, "outpost_gateway_bytes_total", "counter",
                          "Payload bytes relayed, by direction (initiator to acceptor, and back).");
    if (!rc)
        rc = metrics_value(out, "outpost_gateway_bytes_total", "direction=\"to_acceptor\"",
                           (double)gw->c_bytes[0]);
    if (!rc)
        rc = metrics_value(out, "outpost_gateway_bytes_total", "direction=\"to_initiator\"",
                           (double)gw->c_bytes[1]);
    return rc;
}

/* Healthy while it listens for agents: an admin asking is the proof. The
 * useful signal is in /metrics (agents online); a gateway with none is not
 * broken, its agents may just be away. */
static int health(char *why, size_t len, void *ud)
{
    gw_t *gw = ud;
    if (gw->http)
        return 0;
    snprintf(why, len, "not listening for agents");
    return -1;
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
    http_admin_opts_t ao = { .daemon = "gateway", .listen = addr, .token = gw->token,
                             .metrics_public = gw->opts.common.metrics_public,
                             .metrics = write_metrics, .status = write_status, .health = health,
                             .ud = gw };
    if ((rc = http_admin_start(gw->loop, &ao, &gw->admin)) != 0)
        return rc;
    http_router_t *r = http_admin_router(gw->admin);
    if (http_router_add(r, "GET", "/api/agents", HTTP_ACCESS_TOKEN, h_agents, gw) ||
        http_router_add(r, "DELETE", "/api/agents/{name}", HTTP_ACCESS_TOKEN, h_kick, gw) ||
        http_router_add(r, "GET", "/api/streams", HTTP_ACCESS_TOKEN, h_streams, gw) ||
        http_router_add(r, "GET", "/api/routes", HTTP_ACCESS_TOKEN, h_routes, gw) ||
        http_router_add(r, "GET", "/api/peers", HTTP_ACCESS_TOKEN, h_peers, gw))
        return -ENOMEM;
    return 0;
}
