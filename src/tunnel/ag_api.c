/*
 * ag_api: the agent's loopback REST API on --listen (bearer token on every
 * route):
 *   GET    /api/status          link state, streams, forwards
 *   GET    /api/forwards        forwards with their bound address and counters
 *   POST   /api/forwards        {"local":"127.0.0.1:2022"|2022, "gateway":"gw1",
 *                                "ip":"192.168.10.12", "remote":22} -> 201 (persisted)
 *   DELETE /api/forwards/{id}   close a forward (its streams carry on)
 *   GET    /api/socks           SOCKS5 listeners
 *   POST   /api/socks           {"listen":"127.0.0.1:1080"|1080, "gateway":"gw1",
 *                                ["user":"u", "password":"p"]} -> 201 (persisted)
 *   DELETE /api/socks/{id}      close a SOCKS listener (its streams carry on)
 * and its admin listener on --admin-listen (net/http_admin, the same token):
 * /metrics, /status, /health (503 while not logged in to the gateway).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/buf.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/runtime.h"
#include "core/str.h"
#include "net/http_admin.h"
#include "tunnel/ag.h"
#include "tunnel/api.h"

static json_t *forward_json(const ag_forward_t *f)
{
    return json_pack("{s:I,s:s,s:s,s:s,s:i,s:b,s:I,s:I}", "id", (json_int_t)f->id, "local",
                     f->bound, "gateway", f->gateway, "ip", f->ip, "remote", f->remote,
                     "persistent", f->persist, "active", (json_int_t)f->active, "streams_total",
                     (json_int_t)f->streams_total);
}

static json_t *socks_json(const ag_forward_t *f)
{
    return json_pack("{s:I,s:s,s:s,s:s,s:s,s:b,s:I,s:I,s:I}", "id", (json_int_t)f->id, "listen",
                     f->bound, "gateway", f->gateway, "auth", f->user[0] ? "password" : "none",
                     "user", f->user, "persistent", f->persist, "active", (json_int_t)f->active,
                     "streams_total", (json_int_t)f->streams_total, "refused",
                     (json_int_t)f->refused);
}

static json_t *status_json(ag_t *ag)
{
    static const char *names[] = { "down", "connecting", "login", "up" };
    size_t nf = 0, ns = 0;
    for (ag_forward_t *f = ag->forwards; f; f = f->next)
        f->socks ? ns++ : nf++;
    char since[CLOCK_ISO_LEN] = "";
    if (ag_link_up(ag))
        clock_iso8601(ag->up_since_s, since);
    json_t *gws = json_array();
    for (size_t i = 0; i < ag->ngws; i++)
        json_array_append_new(gws, json_string(ag->gws[i].shown));
    return json_pack("{s:s,s:s,s:s,s:s,s:b,s:s,s:i,s:I,s:I,s:I,s:I,s:I,s:I,s:o}", "name",
                     ag->opts.name, "gateway", ag_link_url(ag), "address", ag->cur_addr, "link",
                     names[ag->link], "connected", ag_link_up(ag), "since", since, "version",
                     ag->version, "streams", (json_int_t)ag->nstreams, "waiting",
                     (json_int_t)ag->nwaiting, "forwards", (json_int_t)nf, "socks", (json_int_t)ns,
                     "reconnects", (json_int_t)ag->c_reconnects, "failovers",
                     (json_int_t)ag->c_failovers, "gateways", gws);
}

static void h_status(http_req_t *req, void *ud) { tunnel_api_json(req, 200, status_json(ud)); }

static void h_list(http_req_t *req, void *ud)
{
    ag_t *ag = ud;
    json_t *arr = json_array();
    for (ag_forward_t *f = ag->forwards; f; f = f->next)
        if (!f->socks)
            json_array_append_new(arr, forward_json(f));
    tunnel_api_json(req, 200, arr);
}

static void h_socks_list(http_req_t *req, void *ud)
{
    ag_t *ag = ud;
    json_t *arr = json_array();
    for (ag_forward_t *f = ag->forwards; f; f = f->next)
        if (f->socks)
            json_array_append_new(arr, socks_json(f));
    tunnel_api_json(req, 200, arr);
}

/* The request's body as a JSON object, or NULL after a 400 naming its shape. */
static json_t *body_object(http_req_t *req, const char *shape)
{
    size_t len;
    const char *body = http_req_body(req, &len);
    json_t *j = json_loadb(body, len, 0, NULL);
    if (!json_is_object(j)) {
        json_decref(j);
        char msg[160];
        snprintf(msg, sizeof msg, "body must be a JSON object %s", shape);
        tunnel_api_error(req, 400, msg);
        return NULL;
    }
    return j;
}

/* A listen port or address given as a number or a string ("" when absent). */
static void listen_field(json_t *j, const char *name, char *out, size_t len)
{
    json_t *v = json_object_get(j, name);
    out[0] = '\0';
    if (json_is_integer(v))
        snprintf(out, len, "%lld", (long long)json_integer_value(v));
    else if (json_is_string(v))
        str_copy(out, len, json_string_value(v));
}

static void h_socks_create(http_req_t *req, void *ud)
{
    ag_t *ag = ud;
    json_t *j = body_object(req, "{listen, gateway[, user, password]}");
    if (!j)
        return;
    char listen[64];
    listen_field(j, "listen", listen, sizeof listen);
    char err[200];
    ag_forward_t *f = NULL;
    int rc = ag_socks_add(ag, listen[0] ? listen : NULL,
                          json_string_value(json_object_get(j, "gateway")),
                          json_string_value(json_object_get(j, "user")),
                          json_string_value(json_object_get(j, "password")), true, err, sizeof err,
                          &f);
    json_decref(j);
    if (rc != 0) {
        tunnel_api_error(req, rc == -EINVAL ? 400 : 409, err);
        return;
    }
    if (ag_forward_save_state(ag) != 0) {
        ag_forward_remove(ag, f->id, true);
        tunnel_api_error(req, 500, "cannot write the state file");
        return;
    }
    tunnel_api_json(req, 201, socks_json(f));
}

static void h_create(http_req_t *req, void *ud)
{
    ag_t *ag = ud;
    json_t *j = body_object(req, "{local, gateway, ip, remote}");
    if (!j)
        return;
    char local[64];
    listen_field(j, "local", local, sizeof local);
    json_t *jr = json_object_get(j, "remote");
    int64_t remote = json_is_integer(jr) ? (int64_t)json_integer_value(jr) : 0;
    if (json_is_string(jr) && str_to_i64(json_string_value(jr), 1, 65535, &remote) != 0)
        remote = 0;
    char err[200];
    ag_forward_t *f = NULL;
    int rc = ag_forward_add(ag, local[0] ? local : NULL,
                            json_string_value(json_object_get(j, "gateway")),
                            json_string_value(json_object_get(j, "ip")), remote, true, err,
                            sizeof err, &f);
    json_decref(j);
    if (rc != 0) {
        tunnel_api_error(req, rc == -EINVAL ? 400 : 409, err);
        return;
    }
    if (ag_forward_save_state(ag) != 0) {
        ag_forward_remove(ag, f->id, false);
        tunnel_api_error(req, 500, "cannot write the state file");
        return;
    }
    tunnel_api_json(req, 201, forward_json(f));
}

static void delete_one(http_req_t *req, ag_t *ag, bool socks)
{
    int64_t id;
    const char *p = http_req_param(req, "id");
    if (!p || str_to_i64(p, 1, INT64_MAX, &id) != 0) {
        tunnel_api_error(req, 400, "id must be a positive integer");
        return;
    }
    int rc = ag_forward_remove(ag, (uint64_t)id, socks);
    if (rc == -ENOENT) {
        tunnel_api_error(req, 404, socks ? "no such SOCKS listener" : "no such forward");
        return;
    }
    if (rc != 0) {
        /* the listener is closed already; say that the file still lists it */
        tunnel_api_error(req, 500, "forward closed, but the state file could not be written: "
                                   "it comes back after a restart");
        return;
    }
    tunnel_api_json(req, 200, json_pack("{s:I,s:b}", "id", (json_int_t)id, "deleted", 1));
}

static void h_delete(http_req_t *req, void *ud) { delete_one(req, ud, false); }
static void h_socks_delete(http_req_t *req, void *ud) { delete_one(req, ud, true); }

/* ---- the admin listener (net/http_admin) ---------------------------------------------- */

static int write_metrics(buf_t *out, void *ud)
{
    ag_t *ag = ud;
    const struct {
        const char *name, *type, *help;
        double v;
    } m[] = {
        { "outpost_agent_connected", "gauge", "1 when logged in to the gateway.", ag_link_up(ag) },
        { "outpost_agent_streams", "gauge", "Streams open.", (double)ag->nstreams },
        { "outpost_agent_streams_initiated_total", "counter", "Streams opened from local forwards.",
          (double)ag->c_streams_out },
        { "outpost_agent_streams_accepted_total", "counter", "Streams connected to local targets.",
          (double)ag->c_streams_in },
        { "outpost_agent_refused_local_total", "counter", "Local connections refused (link down, limits).",
          (double)ag->c_refused_local },
        { "outpost_agent_whitelist_denied_total", "counter", "Initiators refused by the whitelist.",
          (double)ag->c_denied },
        { "outpost_agent_connect_failures_total", "counter", "Target connections that failed.",
          (double)ag->c_connect_failed },
        { "outpost_agent_reconnects_total", "counter", "Reconnect attempts to the gateway.",
          (double)ag->c_reconnects },
        { "outpost_agent_protocol_errors_total", "counter", "Links dropped for protocol errors.",
          (double)ag->c_proto_errors },
        { "outpost_agent_bytes_sent_total", "counter", "Payload bytes sent into the tunnel.",
          (double)ag->c_bytes_out },
        { "outpost_agent_bytes_received_total", "counter", "Payload bytes received from the tunnel.",
          (double)ag->c_bytes_in },
        { "outpost_agent_failovers_total", "counter",
          "Logins to another gateway than the one of the previous link.", (double)ag->c_failovers },
        { "outpost_agent_waiting", "gauge", "Local connections waiting for the gateway link.",
          (double)ag->nwaiting },
        { "outpost_agent_waited_total", "counter",
          "Local connections that arrived while the link was down and waited for it.",
          (double)ag->c_waited },
        { "outpost_agent_wait_expired_total", "counter",
          "Local connections closed because no link came within --link-wait.",
          (double)ag->c_wait_expired },
        { "outpost_agent_socks_requests_total", "counter", "SOCKS5 CONNECT requests received.",
          (double)ag->c_socks_requests },
        { "outpost_agent_socks_refused_total", "counter",
          "SOCKS5 clients answered with a failure (handshake, authentication, or the target).",
          (double)ag->c_socks_refused },
    };
    int rc = 0;
    for (size_t i = 0; i < sizeof m / sizeof m[0] && !rc; i++)
        rc = metrics_one(out, m[i].name, m[i].type, m[i].help, m[i].v);
    return rc;
}

static int write_status(buf_t *out, void *ud)
{
    json_t *j = status_json(ud);
    char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    int rc = s ? buf_append_str(out, s) : -ENOMEM;
    free(s);
    return rc;
}

/* An agent does its job while it is logged in to its gateway. */
static int health(char *why, size_t len, void *ud)
{
    ag_t *ag = ud;
    if (ag_link_up(ag))
        return 0;
    snprintf(why, len, "not logged in to the gateway %s", ag_link_url(ag));
    return -1;
}

static int admin_start(ag_t *ag)
{
    http_admin_opts_t ao = { .daemon = "agent", .listen = ag->opts.common.admin_listen,
                             .token = ag->token, .metrics_public = ag->opts.common.metrics_public,
                             .metrics = write_metrics, .status = write_status, .health = health,
                             .ud = ag };
    return http_admin_start(ag->loop, &ao, &ag->admin);
}

int ag_api_start(ag_t *ag)
{
    const char *addr = ag->opts.common.listen, *admin = ag->opts.common.admin_listen;
    bool api_on = addr && *addr, admin_on = admin && *admin;
    if (!api_on && !admin_on)
        return 0;
    int rc = runtime_api_token(ag->opts.common.data_dir, ag->opts.common.api_token, "agent",
                               ag->token, sizeof ag->token);
    if (rc != 0 || (admin_on && (rc = admin_start(ag)) != 0) || !api_on)
        return rc;
    http_router_opts_t ro = { .name = "agent", .token = ag->token };
    if (!(ag->router = http_router_new(&ro)))
        return -ENOMEM;
    if (http_router_add(ag->router, "GET", "/api/status", HTTP_ACCESS_TOKEN, h_status, ag) ||
        http_router_add(ag->router, "GET", "/api/forwards", HTTP_ACCESS_TOKEN, h_list, ag) ||
        http_router_add(ag->router, "POST", "/api/forwards", HTTP_ACCESS_TOKEN, h_create, ag) ||
        http_router_add(ag->router, "DELETE", "/api/forwards/{id}", HTTP_ACCESS_TOKEN, h_delete, ag) ||
        http_router_add(ag->router, "GET", "/api/socks", HTTP_ACCESS_TOKEN, h_socks_list, ag) ||
        http_router_add(ag->router, "POST", "/api/socks", HTTP_ACCESS_TOKEN, h_socks_create, ag) ||
        http_router_add(ag->router, "DELETE", "/api/socks/{id}", HTTP_ACCESS_TOKEN, h_socks_delete,
                        ag))
        return -EINVAL;
    http_server_opts_t ho = { .on_head = http_router_on_head, .handler = http_router_dispatch,
                              .ud = ag->router,
                              .max_body_bytes = 16384, .server_name = "outpost-agent" };
    if (!(ag->api = http_server_new(ag->loop, &ho)))
        return -ENOMEM;
    net_listen_opts_t lo = { .addr = addr };
    if ((rc = http_server_listen(ag->api, &lo)) != 0) {
        log_error("listen_failed", LF_S("addr", addr), LF_ERR(rc));
        return rc;
    }
    return 0;
}
