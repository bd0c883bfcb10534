/*
 * gw_session: one agent's WebSocket at the gateway.
 *
 * A session starts unauthenticated with a deadline for its Handshake. The key
 * is checked against the stored PBKDF2 hash in the libuv thread pool (a few
 * tens of milliseconds of CPU that must not stall every other agent); a
 * successful check caches SHA-256(key) so reconnects cost one hash. Failed
 * attempts always pay the full PBKDF2, and at most GW_AUTH_INFLIGHT run at
 * once: beyond that new handshakes are told to come back later (1013).
 *
 * A login for a name that is online replaces the old session at once: the
 * old one gets GoAway{replaced}, its streams are reset on the far side and
 * its name is released before the new session is registered, so nothing
 * waits on a dead peer's close handshake.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "core/clock.h"
#include "core/log.h"
#include "core/str.h"
#include "tunnel/gw.h"
#include "tunnel/keyhash.h"

enum { GW_AUTH_INFLIGHT = 4, GW_SESSION_MAX_QUEUE = 128 * 1024 * 1024,
       GW_IDLE_MIN_BYTES = 256 /* per sweep (1 s): more than pongs, less than a slow link */ };

struct gw_auth_work {
    uv_work_t req;
    gw_session_t *s; /* NULL once the session is gone */
    char name[TUNNEL_NAME_MAX + 1];
    char hash[TUNNEL_KEYHASH_STRLEN];
    char *key;
    size_t keylen;
    unsigned char digest[32];
    bool found;
    int result;
};

/* Unknown names are checked against a configured agent's hash (its
 * iteration count is what a real check costs), the result then discarded, so
 * the answer's timing does not reveal which names exist. With no agents
 * configured, a well-formed hash at the default count stands in. */
static const char dummy_hash[] =
    "pbkdf2-sha256$100000$00000000000000000000000000000000$"
    "0000000000000000000000000000000000000000000000000000000000000000";

static void session_unregister(gw_session_t *s)
{
    if (s->registered && hmap_get(&s->gw->by_name, s->name, strlen(s->name)) == s)
        hmap_del(&s->gw->by_name, s->name, strlen(s->name));
    s->registered = false;
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
    char why[160];
    snprintf(why, sizeof why, "agent %s went offline", s->name[0] ? s->name : "?");
    gw_route_session_gone(s, why);
    if (s->ws)
        ws_close(s->ws, code, reason);
}

void gw_session_goaway(gw_session_t *s, const char *code, const char *reason, uint16_t wscode)
{
    if (s->closing)
        return;
    if (s->authed && s->version >= 1) {
        tunnel_msg_t m = { .type = TUNNEL_GOAWAY, .has = TUNNEL_F_CODE | TUNNEL_F_REASON };
        m.code = tunnel_s(code);
        m.reason = tunnel_s(reason);
        gw_send(s, &m);
    }
    gw_session_close(s, wscode, reason);
}

/* ---- authentication ------------------------------------------------------ */

static void auth_done(gw_session_t *s, bool ok)
{
    gw_t *gw = s->gw;
    if (!ok) {
        gw->c_auth_fail++;
        log_warn("agent_auth_failed", LF_S("agent", s->name), LF_S("peer", s->peer));
        tunnel_msg_t m = { .type = TUNNEL_ACK, .ok = false, .has = TUNNEL_F_MESSAGE };
        m.message = tunnel_s("authentication failed");
        gw_send(s, &m);
        gw_session_close(s, WS_CLOSE_POLICY, "authentication failed");
        return;
    }
    gw_session_t *old = hmap_get(&gw->by_name, s->name, strlen(s->name));
    if (old && old != s) {
        gw->c_replaced++;
        log_info("agent_replaced", LF_S("agent", s->name), LF_S("old_peer", old->peer),
                 LF_S("new_peer", s->peer));
        gw_session_goaway(old, "replaced", "a new login took the name", WS_CLOSE_POLICY);
    }
    if (hmap_put(&gw->by_name, s->name, strlen(s->name), s) != 0) {
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
             LF_I("version", s->version));
}

static void auth_work(uv_work_t *req)
{
    gw_auth_work_t *w = req->data;
    int rc = tunnel_keyhash_verify(w->hash, w->key, w->keylen);
    w->result = w->found ? rc : -EACCES;
}

static void auth_after(uv_work_t *req, int status)
{
    gw_auth_work_t *w = req->data;
    gw_session_t *s = w->s;
    OPENSSL_cleanse(w->key, w->keylen);
    free(w->key);
    if (s) {
        s->gw->auth_inflight--;
        s->auth = NULL;
        /* The configuration may have been reloaded meanwhile: the hash that
         * verified must still be the one configured for this name. */
        gw_agent_cfg_t *cfg = (gw_agent_cfg_t *)gw_agent_find(s->gw, w->name);
        bool ok = status == 0 && w->found && w->result == 0 && cfg &&
                  strcmp(cfg->hash, w->hash) == 0;
        if (ok) {
            memcpy(cfg->cache, w->digest, sizeof cfg->cache);
            cfg->cached = true;
        }
        if (!s->closing)
            auth_done(s, ok);
    }
    OPENSSL_cleanse(w, sizeof *w);
    free(w);
}

static void start_auth(gw_session_t *s, const tunnel_msg_t *m)
{
    gw_t *gw = s->gw;
    memcpy(s->name, m->name.p, m->name.n);
    s->name[m->name.n] = '\0';
    s->version = (m->has & TUNNEL_F_VERSION) && m->version >= 1 ? TUNNEL_PROTO_VERSION : 0;
    /* Data towards this agent is cut to its cap (the seed's is unknown: ours) */
    s->max_message = gw->opts.max_message;
    if ((m->has & TUNNEL_F_MAXMSG) && m->max_message >= 16384 && m->max_message < s->max_message)
        s->max_message = m->max_message;
    if (gw->opts.common.tls_ca && gw->opts.cert_name_match) {
        const tls_peer_t *p = ws_tls_peer(s->ws);
        if (!p || !p->verified || strcmp(p->cn, s->name) != 0) {
            log_warn("agent_cert_mismatch", LF_S("agent", s->name), LF_S("peer", s->peer),
                     LF_S("cert_cn", p ? p->cn : ""));
            auth_done(s, false);
            return;
        }
    }
    const gw_agent_cfg_t *cfg = gw_agent_find(gw, s->name);
    unsigned char digest[32];
    SHA256((const unsigned char *)m->key.p, m->key.n, digest);
    if (cfg && cfg->cached && CRYPTO_memcmp(digest, cfg->cache, sizeof digest) == 0) {
        auth_done(s, true);
        return;
    }
    if (gw->auth_inflight >= GW_AUTH_INFLIGHT) {
        log_warn("agent_auth_busy", LF_S("agent", s->name), LF_S("peer", s->peer));
        gw_session_close(s, 1013, "server busy, try again later");
        return;
    }
    gw_auth_work_t *w = calloc(1, sizeof *w);
    if (!w || !(w->key = malloc(m->key.n))) {
        free(w);
        gw_session_close(s, WS_CLOSE_INTERNAL, "out of memory");
        return;
    }
    memcpy(w->key, m->key.p, m->key.n);
    w->keylen = m->key.n;
    memcpy(w->digest, digest, sizeof digest);
    str_copy(w->name, sizeof w->name, s->name);
    w->found = cfg != NULL;
    const gw_agent_cfg_t *like = cfg ? cfg : gw->nagents ? &gw->agents[0] : NULL;
    str_copy(w->hash, sizeof w->hash, like ? like->hash : dummy_hash);
    w->s = s;
    w->req.data = w;
    if (uv_queue_work(gw->loop, &w->req, auth_work, auth_after) != 0) {
        free(w->key);
        free(w);
        gw_session_close(s, WS_CLOSE_INTERNAL, "cannot verify now");
        return;
    }
    s->auth = w;
    gw->auth_inflight++;
}

/* ---- messages ------------------------------------------------------------ */

static void protocol_error(gw_session_t *s, const char *why)
{
    s->gw->c_proto_errors++;
    log_warn("agent_protocol_error", LF_S("agent", s->name), LF_S("peer", s->peer),
             LF_S("reason", why));
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
        s->gw->c_proto_errors++;
        log_warn("agent_protocol_error", LF_S("agent", s->name), LF_S("peer", s->peer),
                 LF_S("reason", "text message"));
        gw_session_close(s, WS_CLOSE_UNSUPPORTED, "text messages are not part of the protocol");
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
        protocol_error(s, why);
        return;
    }
    if (!s->authed) {
        if (m.type != TUNNEL_HANDSHAKE)
            protocol_error(s, "handshake required");
        else if (s->auth || s->name[0])
            protocol_error(s, "handshake sent twice");
        else
            start_auth(s, &m);
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
    case TUNNEL_HANDSHAKE: protocol_error(s, "second handshake"); break;
    default: protocol_error(s, "message type not sent by agents"); break;
    }
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
    if (!s->closing) {
        s->closing = true;
        session_unregister(s);
        char why[160];
        snprintf(why, sizeof why, "agent %s went offline", s->name[0] ? s->name : "?");
        gw_route_session_gone(s, why);
    }
    s->ws = NULL;
    if (s->authed || s->name[0])
        log_info("agent_offline", LF_S("agent", s->name), LF_S("peer", s->peer), LF_I("code", code),
                 LF_S("reason", reason ? reason : ""), LF_U("bytes_in", s->bytes_in),
                 LF_U("bytes_out", s->bytes_out));
    else
        log_debug("ws_closed", LF_S("peer", s->peer), LF_I("code", code));
    if (s->auth) {
        s->auth->s = NULL; /* the work finishes on its own and frees itself */
        gw->auth_inflight--;
    }
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

static const ws_cbs_t session_cbs = {
    .on_message = on_message,
    .on_drain = on_drain,
    .on_close = on_close,
};

void gw_session_accept(gw_t *gw, http_req_t *req)
{
    if (gw->stopping) {
        http_respond_error(req, 503, "shutting down");
        return;
    }
    gw_session_t *s = calloc(1, sizeof *s);
    if (!s) {
        http_respond_error(req, 503, "out of memory");
        return;
    }
    s->gw = gw;
    hmap_init(&s->streams);
    str_copy(s->peer, sizeof s->peer, http_req_peer(req));
    s->since_ms = s->last_rx_ms = clock_mono_ms();
    s->deadline_ms = s->since_ms + gw->opts.handshake_timeout_ms;
    ws_opts_t wo = {
        .max_message = gw->opts.max_message,
        .high_water = 1024 * 1024,
        .low_water = 256 * 1024,
        .max_queue = GW_SESSION_MAX_QUEUE,
        .ping_interval_ms = gw->opts.ping_interval_ms,
        .pong_timeout_ms = 10000,
    };
    s->ws = ws_accept(req, &wo, &session_cbs, s, NULL);
    if (!s->ws) {
        hmap_free(&s->streams);
        free(s);
        return;
    }
    s->next = gw->sessions;
    if (gw->sessions)
        gw->sessions->prev = s;
    gw->sessions = s;
    gw->nsessions++;
    log_debug("ws_accepted", LF_S("peer", s->peer));
}

void gw_session_sweep(gw_t *gw, int64_t now)
{
    for (gw_session_t *s = gw->sessions, *next; s; s = next) {
        next = s->next;
        if (s->doomed && !s->closing) {
            gw_session_close(s, WS_CLOSE_INTERNAL, "send queue overflow");
            continue;
        }
        if (!s->authed && !s->closing && !s->auth && now > s->deadline_ms) {
            log_warn("agent_handshake_timeout", LF_S("peer", s->peer));
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
        int64_t idle = gw->opts.idle_timeout_ms;
        if (s->authed && !s->closing && s->version >= 1 && idle > 0 &&
            now - s->last_rx_ms > idle) {
            log_warn("agent_idle_timeout", LF_S("agent", s->name), LF_S("peer", s->peer),
                     LF_I("idle_ms", now - s->last_rx_ms));
            gw_session_close(s, WS_CLOSE_GOING_AWAY, "idle timeout");
        }
    }
}
