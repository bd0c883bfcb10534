/*
 * gw_session: one agent's WebSocket at the gateway.
 *
 * A session starts unauthenticated with a deadline for its Handshake, which
 * gw_auth.c decides (lock-outs, the verified-key cache, the queue of key
 * checks). Before login, every fault -- a malformed or wrong first message,
 * no Handshake in time -- is a failed login for the peer's address, logged
 * through its reports rather than once per connection.
 *
 * A login for a name that is online replaces the old session at once: the
 * old one gets GoAway{replaced}, its streams are reset on the far side and
 * its name is released before the new session is registered, so nothing
 * waits on a dead peer's close handshake. With a mesh, "online" means on any
 * gateway: the login gets an epoch newer than any it knows of for the name
 * and is announced (gw_presence.c), and the gateway holding the older one
 * closes it the same way.
 *
 * Mesh links are sessions too (gw_mesh.c decides their first messages):
 * they carry streams with the same messages, so only the dispatch differs.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/log.h"
#include "core/str.h"
#include "tunnel/gw.h"

enum { GW_IDLE_MIN_BYTES = 256 /* per sweep (1 s): more than pongs, less than a slow link */ };

static void session_unregister(gw_session_t *s)
{
    if (s->registered && hmap_get(&s->gw->by_name, s->name, strlen(s->name)) == s) {
        hmap_del(&s->gw->by_name, s->name, strlen(s->name));
        gw_presence_logout(s);
    }
    s->registered = false;
}

/* What the far side of this session's streams hears when it goes. */
static void gone_reason(const gw_session_t *s, char *why, size_t len)
{
    if (s->mesh)
        snprintf(why, len, "gateway %s went offline (mesh link lost)", s->name[0] ? s->name : "?");
    else
        snprintf(why, len, "agent %s went offline", s->name[0] ? s->name : "?");
}

int gw_send(gw_session_t *s, const tunnel_msg_t *m)
{
    if (s->closing || s->doomed || !s->ws)
        return -EPIPE;
    int rc = tunnel_wire_send(&s->gw->wire, s->ws, m);
    gw_sent(s, rc);
    return rc;
}

void gw_sent(gw_session_t *s, int rc)
{
    if (rc == 0) {
        s->bytes_out += s->gw->wire.last_len;
    } else if (rc == -ENOBUFS && !s->doomed) {
        /* Closing here would free streams our callers still hold: the
         * sweep closes it instead, and nothing more is sent meanwhile. */
        log_warn("agent_queue_overflow", LF_S("agent", s->name), LF_S("peer", s->peer));
        s->doomed = true;
    }
}

void gw_session_close(gw_session_t *s, uint16_t code, const char *reason)
{
    if (s->closing)
        return;
    s->closing = true;
    session_unregister(s);
    if (s->mesh)
        gw_mesh_link_gone(s, reason);
    char why[160];
    gone_reason(s, why, sizeof why);
    gw_route_session_gone(s, why);
    if (s->ws)
        ws_close(s->ws, code, reason);
}

void gw_session_goaway(gw_session_t *s, const char *code, const char *reason, uint16_t wscode)
{
    if (s->closing)
        return;
    if (s->authed && s->version >= 1 && s->ws) {
        tunnel_msg_t m = { .type = TUNNEL_GOAWAY, .has = TUNNEL_F_CODE | TUNNEL_F_REASON };
        m.code = tunnel_s(code);
        m.reason = tunnel_s(reason);
        gw_send(s, &m);
    }
    gw_session_close(s, wscode, reason);
}

/* ---- login --------------------------------------------------------------- */

void gw_session_login(gw_session_t *s)
{
    gw_t *gw = s->gw;
    /* the routes first: the session this one replaces then leaves without
     * announcing a logout of the name */
    gw_presence_login(s);
    gw_session_t *old = hmap_get(&gw->by_name, s->name, strlen(s->name));
    if (old && old != s) {
        gw->c_replaced++;
        log_info("agent_replaced", LF_S("agent", s->name), LF_S("old_peer", old->peer),
                 LF_S("new_peer", s->peer));
        gw_session_goaway(old, "replaced", "a new login took the name", WS_CLOSE_POLICY);
    }
    if (hmap_put(&gw->by_name, s->name, strlen(s->name), s) != 0) {
        gw_presence_logout(s); /* its route, offered above */
        gw_session_close(s, WS_CLOSE_INTERNAL, "out of memory");
        return;
    }
    s->registered = true;
    s->authed = true;
    s->since_real_s = clock_real_s();
    gw->c_auth_ok++;
    tunnel_msg_t m = { .type = TUNNEL_ACK, .ok = true, .has = TUNNEL_F_MESSAGE };
    m.message = tunnel_s("welcome");
    if (s->version >= 1) {
        m.version = (uint64_t)s->version;
        m.max_message = gw->opts.max_message;
        m.max_window = gw->opts.max_window; /* agents keep their windows within it */
        m.has |= TUNNEL_F_VERSION | TUNNEL_F_MAXMSG | TUNNEL_F_MAXWIN;
    }
    gw_send(s, &m);
    log_info("agent_online", LF_S("agent", s->name), LF_S("peer", s->peer),
             LF_I("version", s->version), LF_U("epoch", s->epoch));
}

/* ---- messages ------------------------------------------------------------ */

void gw_session_protocol_error(gw_session_t *s, const char *why)
{
    s->gw->c_proto_errors++;
    if (s->mesh) {
        if (!s->authed)
            s->gw->c_mesh_refused[GW_MESH_REFUSE_PROTOCOL]++;
        log_warn("mesh_protocol_error", LF_S("gateway", s->name), LF_S("peer", s->peer),
                 LF_S("reason", why));
    } else if (s->authed)
        log_warn("agent_protocol_error", LF_S("agent", s->name), LF_S("peer", s->peer),
                 LF_S("reason", why));
    else
        gw_auth_failed(s, why); /* anyone can send these: logged per address */
    if (strcmp(why, "text message") == 0)
        gw_session_close(s, WS_CLOSE_UNSUPPORTED, "text messages are not part of the protocol");
    else
        gw_session_close(s, s->authed ? WS_CLOSE_PROTOCOL : WS_CLOSE_POLICY, why);
}

static void on_message(ws_t *ws, int type, const uint8_t *data, size_t len)
{
    gw_session_t *s = ws_data(ws);
    gw_t *gw = s->gw;
    if (s->closing)
        return;
    s->bytes_in += len;
    s->msgs_in++;
    s->last_rx_ms = clock_mono_ms();
    if (type != WS_BINARY) {
        gw_session_protocol_error(s, "text message");
        return;
    }
    tunnel_msg_t m;
    const char *why = "malformed message";
    int rc = tunnel_decode(&gw->wire.dec, data, len, &m, &why);
    if (rc == 0 && s->version < 1 && s->authed && m.type != TUNNEL_ACK &&
        m.type > TUNNEL_TERMINATOR) {
        rc = -ENOMSG; /* a v1 message type in a v0 session */
        why = "message type not in protocol version 0";
    }
    if (rc != 0) {
        gw_session_protocol_error(s, why);
        return;
    }
    if (s->mesh) {
        gw_mesh_message(s, &m);
        return;
    }
    if (!s->authed) {
        if (m.type != TUNNEL_HANDSHAKE)
            gw_session_protocol_error(s, "handshake required");
        else if (s->auth || s->name[0])
            gw_session_protocol_error(s, "handshake sent twice");
        else
            gw_auth_start(s, &m);
        return;
    }
    switch (m.type) {
    case TUNNEL_INITIATOR: gw_route_initiator(s, &m); break;
    case TUNNEL_ACK: gw_route_ack(s, &m); break;
    case TUNNEL_DATA: gw_route_data(s, &m); break;
    case TUNNEL_WINDOW: gw_route_window(s, &m); break;
    case TUNNEL_TERMINATOR: gw_route_terminator(s, &m); break;
    case TUNNEL_PING: {
        tunnel_msg_t p = { .type = TUNNEL_PONG, .seq = m.seq };
        gw_send(s, &p);
        break;
    }
    case TUNNEL_PONG: break;
    case TUNNEL_HANDSHAKE: gw_session_protocol_error(s, "second handshake"); break;
    default: gw_session_protocol_error(s, "message type not sent by agents"); break;
    }
}

static void on_open(ws_t *ws)
{
    gw_session_t *s = ws_data(ws);
    if (s->mesh)
        gw_mesh_open(s);
}

static void on_drain(ws_t *ws)
{
    gw_session_t *s = ws_data(ws);
    if (!s->closing && !s->doomed)
        gw_route_drained(s);
}

static void on_close(ws_t *ws, uint16_t code, const char *reason)
{
    gw_session_t *s = ws_data(ws);
    gw_t *gw = s->gw;
    /* Frames the WebSocket layer refused before any Handshake are a
     * malformed handshake too (a peer that just hangs up is not). */
    if (!s->closing && !s->authed && !s->name[0] && !s->mesh &&
        (code == WS_CLOSE_PROTOCOL || code == WS_CLOSE_BAD_DATA || code == WS_CLOSE_TOO_BIG))
        gw_auth_failed(s, reason && *reason ? reason : "malformed WebSocket frames");
    if (!s->closing) {
        s->closing = true;
        session_unregister(s);
        if (s->mesh)
            gw_mesh_link_gone(s, reason && *reason ? reason : "connection lost");
        char why[160];
        gone_reason(s, why, sizeof why);
        gw_route_session_gone(s, why);
    }
    s->ws = NULL;
    if (s->dial && s->dial->link == s)
        s->dial->link = NULL;
    /* A failed login was already said through the guard's reports: a line
     * per refused connection would be the flood the reports prevent. */
    if (s->mesh)
        log_debug("mesh_ws_closed", LF_S("gateway", s->name), LF_S("peer", s->peer),
                  LF_I("code", code));
    else if (s->authed)
        log_info("agent_offline", LF_S("agent", s->name), LF_S("peer", s->peer), LF_I("code", code),
                 LF_S("reason", reason ? reason : ""), LF_U("bytes_in", s->bytes_in),
                 LF_U("bytes_out", s->bytes_out));
    else
        log_debug("ws_closed", LF_S("agent", s->name), LF_S("peer", s->peer), LF_I("code", code));
    gw_auth_session_gone(s);
    if (s->prev)
        s->prev->next = s->next;
    else
        gw->sessions = s->next;
    if (s->next)
        s->next->prev = s->prev;
    gw->nsessions--;
    hmap_free(&s->streams);
    free(s);
}

const ws_cbs_t gw_session_cbs = {
    .on_open = on_open,
    .on_message = on_message,
    .on_drain = on_drain,
    .on_close = on_close,
};

void gw_session_ws_opts(const gw_t *gw, ws_opts_t *wo)
{
    *wo = (ws_opts_t){
        .max_message = gw->opts.max_message,
        .high_water = 1024 * 1024,
        .low_water = 256 * 1024,
        .max_queue = GW_SESSION_MAX_QUEUE,
        .ping_interval_ms = gw->opts.ping_interval_ms,
        .pong_timeout_ms = 10000,
    };
}

gw_session_t *gw_session_new(gw_t *gw, bool mesh, const char *peer)
{
    gw_session_t *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->gw = gw;
    s->mesh = mesh;
    hmap_init(&s->streams);
    str_copy(s->peer, sizeof s->peer, peer);
    s->since_ms = s->last_rx_ms = clock_mono_ms();
    s->deadline_ms = s->since_ms + gw->opts.handshake_timeout_ms;
    s->max_window = gw->opts.max_window;
    s->max_message = gw->opts.max_message;
    return s;
}

/* Into the list once it has a WebSocket (sweeps and shutdown walk it). */
void gw_session_attach(gw_session_t *s, ws_t *ws)
{
    gw_t *gw = s->gw;
    s->ws = ws;
    s->next = gw->sessions;
    if (gw->sessions)
        gw->sessions->prev = s;
    gw->sessions = s;
    gw->nsessions++;
}

void gw_session_accept(gw_t *gw, http_req_t *req, bool mesh)
{
    if (gw->stopping) {
        http_respond_error(req, 503, "shutting down");
        return;
    }
    gw_session_t *s = gw_session_new(gw, mesh, http_req_peer(req));
    if (!s) {
        http_respond_error(req, 503, "out of memory");
        return;
    }
    str_copy(s->host, sizeof s->host, http_req_peer_host(req));
    ws_opts_t wo;
    gw_session_ws_opts(gw, &wo);
    ws_t *ws = ws_accept(req, &wo, &gw_session_cbs, s, NULL);
    if (!ws) {
        hmap_free(&s->streams);
        free(s);
        return;
    }
    gw_session_attach(s, ws);
    log_debug(mesh ? "mesh_accepted" : "ws_accepted", LF_S("peer", s->peer));
}

void gw_session_sweep(gw_t *gw, int64_t now)
{
    for (gw_session_t *s = gw->sessions, *next; s; s = next) {
        next = s->next;
        if (s->doomed && !s->closing) {
            gw_session_close(s, WS_CLOSE_INTERNAL, "send queue overflow");
            continue;
        }
        if (!s->authed && !s->closing && !s->auth && !s->busy && now > s->deadline_ms) {
            if (s->mesh) {
                gw->c_mesh_refused[GW_MESH_REFUSE_PROTOCOL]++;
                log_warn("mesh_hello_timeout", LF_S("peer", s->peer),
                         LF_B("outbound", s->outbound));
            } else {
                gw_auth_failed(s, "handshake timeout");
            }
            gw_session_close(s, WS_CLOSE_POLICY, "handshake timeout");
            continue;
        }
        /* A version-1 agent Pings every --keepalive: silence means it or its
         * path is gone. WebSocket pings alone do not tell, because a proxy in
         * between may answer them itself. Version-0 agents send no Pings, so
         * only the WebSocket pings watch them. */
        /* Bytes of a message still arriving count: on a slow uplink one
         * large Data message can take longer than the Ping period. A few
         * bytes do not: a proxy answering our WebSocket pings itself sends
         * a pong's worth per ping (about 40 bytes with TLS). */
        net_conn_t *c = s->ws ? ws_conn(s->ws) : NULL;
        if (c) {
            uint64_t in = net_conn_bytes_in(c);
            if (in - s->seen_in >= GW_IDLE_MIN_BYTES)
                s->last_rx_ms = now;
            s->seen_in = in;
        }
        /* Mesh links Ping each other every --mesh-keepalive (gw_mesh_sweep):
         * three periods without a byte and the peer is taken for dead. */
        int64_t idle = s->mesh ? 3 * gw->opts.mesh_keepalive_ms : gw->opts.idle_timeout_ms;
        if (s->authed && !s->closing && s->version >= 1 && idle > 0 &&
            now - s->last_rx_ms > idle) {
            if (s->mesh)
                log_warn("mesh_idle_timeout", LF_S("gateway", s->name), LF_S("peer", s->peer),
                         LF_I("idle_ms", now - s->last_rx_ms));
            else
                log_warn("agent_idle_timeout", LF_S("agent", s->name), LF_S("peer", s->peer),
                         LF_I("idle_ms", now - s->last_rx_ms));
            gw_session_close(s, WS_CLOSE_GOING_AWAY, "idle timeout");
        }
    }
}
