/*
 * ag_link: the agent's one WebSocket to a gateway.
 *
 * DOWN -> CONNECTING (ws_connect) -> HANDSHAKE (Handshake sent) -> UP (Ack ok).
 * Any failure goes back to DOWN and schedules a reconnect after an
 * exponential backoff with jitter: base = min(max, min * 2^attempt), delay
 * uniform in [base/2, base], so a gateway restart does not see every agent
 * at the same instant. The attempt count resets after a successful login.
 *
 * Failover. --gateway may be given several times (gateways of one mesh):
 * the agent uses one at a time and, when a connection fails or a link is
 * lost, tries the next in the list (wrapping), with the same backoff. A URL
 * whose host is a DNS name is resolved at each round and its addresses are
 * tried in turn before the next URL (the name still goes in Host, SNI and
 * the certificate check). --gateway-prefer random starts at a random URL
 * (a fleet spreads over the gateways); order (the default) at the first.
 *
 * Keepalive: a Ping every `keepalive`; no Pong within `keepalive-timeout`
 * drops the link (a half-dead TCP connection would otherwise hold every
 * stream hostage until the kernel gives up, minutes later).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/log.h"
#include "core/str.h"
#include "tunnel/ag.h"

static void schedule_reconnect(ag_t *ag);
static void connect_now(uv_timer_t *t);

/* A name being resolved for the link: forgotten (ag = NULL) when the agent
 * stops before the answer. */
struct ag_lookup {
    uv_getaddrinfo_t req;
    ag_t *ag;
};

bool ag_link_up(const ag_t *ag)
{
    return ag->link == AG_UP && ag->ws;
}

const char *ag_link_url(const ag_t *ag)
{
    return ag->ngws ? ag->gws[ag->cur].shown : "";
}

void ag_sent(ag_t *ag, int rc)
{
    if (rc == -ENOBUFS && ag->ws) {
        /* Cannot happen while credit is respected; if it does, the link is
         * unusable: drop it (streams are reset in on_close). */
        log_warn("gateway_queue_overflow", LF_S("gateway", ag_link_url(ag)));
        ws_abort(ag->ws);
    }
}

int ag_send(ag_t *ag, const tunnel_msg_t *m)
{
    if (!ag->ws || (ag->link != AG_UP && m->type != TUNNEL_HANDSHAKE))
        return -EPIPE;
    int rc = tunnel_wire_send(&ag->wire, ag->ws, m);
    ag_sent(ag, rc);
    return rc;
}

static void arm(ag_t *ag, int64_t ms, uv_timer_cb cb)
{
    uv_timer_stop(&ag->timer);
    uv_timer_start(&ag->timer, cb, (uint64_t)(ms > 0 ? ms : 0), 0);
}

/* ---- the list of gateways ---------------------------------------------------- */

int ag_link_init(ag_t *ag)
{
    const ag_opts_t *o = &ag->opts;
    if (!o->gateways.n) {
        log_error("config_error", LF_S("option", "gateway"),
                  LF_S("reason", "a ws:// or wss:// URL is required (repeatable: failover)"));
        return -EINVAL;
    }
    const char *prefer = o->gateway_prefer ? o->gateway_prefer : "order";
    if (strcmp(prefer, "order") != 0 && strcmp(prefer, "random") != 0) {
        log_error("config_error", LF_S("option", "gateway-prefer"),
                  LF_S("reason", "want order or random"));
        return -EINVAL;
    }
    if (!(ag->gws = calloc(o->gateways.n, sizeof *ag->gws)))
        return -ENOMEM;
    for (size_t i = 0; i < o->gateways.n; i++) {
        ag_gateway_t *g = &ag->gws[i];
        uint8_t ip[16];
        net_url_redacted(o->gateways.v[i], g->shown, sizeof g->shown);
        if (str_copy(g->url, sizeof g->url, o->gateways.v[i]) != 0 ||
            net_url_parse(g->url, &g->u) != 0 ||
            (strcmp(g->u.scheme, "ws") != 0 && strcmp(g->u.scheme, "wss") != 0)) {
            net_url_clear(&g->u); /* not counted in ngws: ag_link_free would miss it */
            log_error("config_error", LF_S("option", "gateway"), LF_S("gateway", g->shown),
                      LF_S("reason", "a ws:// or wss:// URL is required"));
            return -EINVAL;
        }
        if (!g->u.tls && !o->common.insecure) {
            net_url_clear(&g->u);
            log_error("config_error", LF_S("option", "gateway"), LF_S("gateway", g->shown),
                      LF_S("reason", "plain ws:// sends the key in clear: use wss:// or --insecure"));
            return -EINVAL;
        }
        g->is_name = net_ip_parse(g->u.host, ip) != 0;
        ag->ngws++;
    }
    if (strcmp(prefer, "random") == 0) {
        uint32_t r = 0;
        (void)str_random(&r, sizeof r);
        ag->cur = r % ag->ngws;
    }
    return 0;
}

void ag_link_free(ag_t *ag)
{
    for (size_t i = 0; i < ag->ngws; i++)
        net_url_clear(&ag->gws[i].u);
    free(ag->gws);
    ag->gws = NULL;
    ag->ngws = 0;
}

/* After a failure or a lost link: the next address of the same name, or
 * the next gateway of the list (whose name is then resolved again). */
static void advance(ag_t *ag)
{
    ag_gateway_t *g = &ag->gws[ag->cur];
    if (g->is_name && g->next < g->naddrs)
        return;
    g->naddrs = g->next = 0;
    ag->cur = (ag->cur + 1) % ag->ngws;
}

/* ---- keepalive ------------------------------------------------------------------ */

static void on_keepalive(uv_timer_t *t)
{
    ag_t *ag = t->data;
    if (!ag->ws)
        return;
    int64_t now = clock_mono_ms();
    if (ag->link == AG_HANDSHAKE) {
        log_warn("gateway_login_timeout", LF_S("gateway", ag_link_url(ag)));
        ws_abort(ag->ws);
        return;
    }
    if (ag->link != AG_UP)
        return;
    net_conn_t *c = ws_conn(ag->ws);
    uint64_t in = c ? net_conn_bytes_in(c) : 0, out = c ? net_conn_bytes_out(c) : 0;
    if (ag->ping_sent_ms && (in != ag->ping_in || out != ag->ping_out)) {
        /* The Pong is late but the link moves: on a slow uplink (or
         * downlink) the Ping or its Pong waits behind up to a few MiB of
         * queued Data. Only a link that moves nothing at all is dead. */
        ag->ping_in = in;
        ag->ping_out = out;
        arm(ag, ag->opts.keepalive_timeout_ms, on_keepalive);
        return;
    }
    if (ag->ping_sent_ms) {
        log_warn("gateway_keepalive_timeout", LF_S("gateway", ag_link_url(ag)),
                 LF_I("waited_ms", now - ag->ping_sent_ms));
        ws_abort(ag->ws);
        return;
    }
    tunnel_msg_t m = { .type = TUNNEL_PING, .seq = ++ag->ping_seq };
    if (ag->version >= 1) {
        ag_send(ag, &m);
        ag->ping_sent_ms = now;
        if (ag->ws && (c = ws_conn(ag->ws))) { /* the Ping itself is not progress */
            ag->ping_in = net_conn_bytes_in(c);
            ag->ping_out = net_conn_bytes_out(c);
        }
        arm(ag, ag->opts.keepalive_timeout_ms, on_keepalive);
    }
}

/* ---- the session ----------------------------------------------------------------- */

static void on_open(ws_t *ws)
{
    ag_t *ag = ws_data(ws);
    ag->link = AG_HANDSHAKE;
    tunnel_msg_t m = { .type = TUNNEL_HANDSHAKE, .version = TUNNEL_PROTO_VERSION,
                       .max_message = ag->opts.max_message,
                       .has = TUNNEL_F_VERSION | TUNNEL_F_MAXMSG };
    m.name = tunnel_s(ag->opts.name);
    m.key = (tunnel_str_t){ ag->key, ag->keylen };
    ag_send(ag, &m);
    arm(ag, ag->opts.connect_timeout_ms, on_keepalive);
}

static void protocol_error(ag_t *ag, const char *why)
{
    ag->c_proto_errors++;
    log_warn("gateway_protocol_error", LF_S("gateway", ag_link_url(ag)), LF_S("reason", why));
    ws_close(ag->ws, WS_CLOSE_PROTOCOL, why);
}

static void on_login_ack(ag_t *ag, const tunnel_msg_t *m)
{
    char msg[TUNNEL_TEXT_MAX + 1];
    size_t n = m->message.n < TUNNEL_TEXT_MAX ? m->message.n : TUNNEL_TEXT_MAX;
    memcpy(msg, m->message.p ? m->message.p : "", n);
    msg[n] = '\0';
    if (!m->ok) {
        log_error("gateway_login_failed", LF_S("gateway", ag_link_url(ag)),
                  LF_S("agent", ag->opts.name), LF_S("reason", msg));
        ws_close(ag->ws, WS_CLOSE_NORMAL, "login refused");
        return;
    }
    ag->link = AG_UP;
    /* the lower of the two versions */
    ag->version = !(m->has & TUNNEL_F_VERSION)         ? 0
                  : m->version >= TUNNEL_PROTO_VERSION ? TUNNEL_PROTO_VERSION
                                                       : (int)m->version;
    ag->peer_max_message = (m->has & TUNNEL_F_MAXMSG) && m->max_message >= 16384 &&
                                   m->max_message < ag->opts.max_message
                               ? m->max_message
                               : ag->opts.max_message;
    /* Our windows must fit the gateway's --max-window: it refuses a larger
     * initial Window and resets a stream whose grants outgrow it, which a
     * window that grew on a fast stream would otherwise do mid-transfer. */
    ag->window = ag->opts.window;
    ag->max_window = ag->opts.max_window;
    if ((m->has & TUNNEL_F_MAXWIN) && m->max_window >= 16384) {
        if (ag->max_window > m->max_window)
            ag->max_window = m->max_window;
        if (ag->window > m->max_window)
            ag->window = m->max_window;
    } else {
        ag->max_window = ag->window; /* a gateway that names no limit: windows stay put */
    }
    if (ag->was_up && ag->last_up != ag->cur) {
        ag->c_failovers++;
        log_info("gateway_failover", LF_S("from", ag->gws[ag->last_up].shown),
                 LF_S("to", ag_link_url(ag)));
    }
    ag->was_up = true;
    ag->last_up = ag->cur;
    ag->attempt = 0;
    ag->replaced = false;
    ag->ping_sent_ms = 0;
    ag->up_since_s = clock_real_s();
    log_info("gateway_connected", LF_S("gateway", ag_link_url(ag)),
             LF_S("address", ag->cur_addr[0] ? ag->cur_addr : "-"), LF_S("agent", ag->opts.name),
             LF_I("version", ag->version), LF_U("window", ag->window),
             LF_U("max_window", ag->max_window));
    arm(ag, ag->opts.keepalive_ms, on_keepalive);
    ag_stream_link_up(ag);
}

static void on_message(ws_t *ws, int type, const uint8_t *data, size_t len)
{
    ag_t *ag = ws_data(ws);
    ag->last_rx_ms = clock_mono_ms();
    if (type != WS_BINARY) {
        protocol_error(ag, "text message");
        return;
    }
    tunnel_msg_t m;
    const char *why = "malformed message";
    if (tunnel_decode(&ag->wire.dec, data, len, &m, &why) != 0) {
        protocol_error(ag, why);
        return;
    }
    if (ag->link == AG_HANDSHAKE) {
        if (m.type == TUNNEL_ACK)
            on_login_ack(ag, &m);
        else
            protocol_error(ag, "expected the login Ack");
        return;
    }
    if (ag->link != AG_UP)
        return;
    switch (m.type) {
    case TUNNEL_INITIATOR: ag_stream_on_initiator(ag, &m); break;
    case TUNNEL_ACK: ag_stream_on_ack(ag, &m); break;
    case TUNNEL_DATA: ag_stream_on_data(ag, &m); break;
    case TUNNEL_WINDOW: ag_stream_on_window(ag, &m); break;
    case TUNNEL_TERMINATOR: ag_stream_on_terminator(ag, &m); break;
    case TUNNEL_PING: {
        tunnel_msg_t p = { .type = TUNNEL_PONG, .seq = m.seq };
        ag_send(ag, &p);
        break;
    }
    case TUNNEL_PONG:
        if (ag->ping_sent_ms && m.seq == ag->ping_seq) {
            ag->ping_sent_ms = 0;
            arm(ag, ag->opts.keepalive_ms, on_keepalive);
        }
        break;
    case TUNNEL_GOAWAY: {
        char code[64], reason[200];
        str_copyn(code, sizeof code, m.code.p ? m.code.p : "", m.code.n);
        str_copyn(reason, sizeof reason, m.reason.p ? m.reason.p : "", m.reason.n);
        log_warn("gateway_goaway", LF_S("code", code), LF_S("reason", reason));
        if (strcmp(code, "replaced") == 0)
            ag->replaced = true;
        break;
    }
    default: protocol_error(ag, "message type not sent by gateways"); break;
    }
}

static void on_drain(ws_t *ws)
{
    ag_t *ag = ws_data(ws);
    if (ag->link == AG_UP)
        ag_stream_link_drained(ag);
}

static void on_close(ws_t *ws, uint16_t code, const char *reason)
{
    ag_t *ag = ws_data(ws);
    bool was_up = ag->link == AG_UP;
    ag->ws = NULL;
    ag->link = AG_DOWN;
    uv_timer_stop(&ag->timer);
    if (was_up)
        log_warn("gateway_disconnected", LF_S("gateway", ag_link_url(ag)), LF_I("code", code),
                 LF_S("reason", reason ? reason : ""));
    else
        log_warn("gateway_connect_failed", LF_S("gateway", ag_link_url(ag)),
                 LF_S("address", ag->cur_addr[0] ? ag->cur_addr : "-"), LF_I("code", code),
                 LF_S("reason", reason ? reason : ""));
    ag_stream_link_lost(ag, "gateway link lost");
    if (!ag->stopping) {
        /* a gateway that answered but refused the name (replaced) is still
         * the right one to come back to; anything else: the next */
        if (!ag->replaced)
            advance(ag);
        schedule_reconnect(ag);
    } else if (ag->timer_init) {
        uv_close((uv_handle_t *)&ag->timer, NULL);
        ag->timer_init = false;
    }
}

static const ws_cbs_t link_cbs = {
    .on_open = on_open,
    .on_message = on_message,
    .on_drain = on_drain,
    .on_close = on_close,
};

/* ---- connecting ------------------------------------------------------------------- */

static void connect_to(ag_t *ag, const char *addr)
{
    ag_gateway_t *g = &ag->gws[ag->cur];
    ws_opts_t wo = {
        .max_message = ag->opts.max_message,
        .high_water = 1024 * 1024,
        .low_water = 256 * 1024,
        .max_queue = 128 * 1024 * 1024,
        .pong_timeout_ms = ag->opts.keepalive_timeout_ms,
    };
    ws_connect_opts_t co = { .url = g->url, .tls = ag->tls, .connect_host = addr,
                             .timeout_ms = ag->opts.connect_timeout_ms };
    str_copy(ag->cur_addr, sizeof ag->cur_addr, addr ? addr : g->u.host);
    ag->link = AG_CONNECTING;
    if (ag->attempt)
        ag->c_reconnects++;
    int rc = ws_connect(ag->loop, &co, &wo, &link_cbs, ag, &ag->ws);
    if (rc != 0) {
        ag->ws = NULL;
        ag->link = AG_DOWN;
        log_warn("gateway_connect_failed", LF_S("gateway", g->shown), LF_ERR(rc));
        advance(ag);
        schedule_reconnect(ag);
    }
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    struct ag_lookup *lk = req->data;
    ag_t *ag = lk->ag;
    free(lk);
    if (!ag) {
        uv_freeaddrinfo(res);
        return;
    }
    ag->lookup = NULL;
    ag_gateway_t *g = &ag->gws[ag->cur];
    g->naddrs = g->next = 0;
    for (struct addrinfo *a = res; a && g->naddrs < AG_GW_ADDRS; a = a->ai_next) {
        char host[NET_ADDR_STR];
        net_addr_host(a->ai_addr, host, sizeof host);
        bool dup = false;
        for (size_t i = 0; i < g->naddrs && !dup; i++)
            dup = strcmp(g->addrs[i], host) == 0;
        if (!dup)
            str_copy(g->addrs[g->naddrs++], sizeof g->addrs[0], host);
    }
    uv_freeaddrinfo(res);
    if (ag->stopping)
        return;
    if (status < 0 || !g->naddrs) {
        log_warn("gateway_resolve_failed", LF_S("gateway", g->shown), LF_S("host", g->u.host),
                 LF_S("reason", status < 0 ? uv_strerror(status) : "no address"));
        advance(ag);
        schedule_reconnect(ag);
        return;
    }
    log_debug("gateway_resolved", LF_S("host", g->u.host), LF_U("addresses", g->naddrs));
    connect_to(ag, g->addrs[g->next++]);
}

static void connect_now(uv_timer_t *t)
{
    ag_t *ag = t->data;
    if (ag->stopping || ag->ws || ag->lookup)
        return;
    ag_gateway_t *g = &ag->gws[ag->cur];
    if (!g->is_name) {
        connect_to(ag, NULL);
        return;
    }
    if (g->next < g->naddrs) {
        connect_to(ag, g->addrs[g->next++]);
        return;
    }
    /* each round resolves the name again: its addresses may have changed */
    struct ag_lookup *lk = calloc(1, sizeof *lk);
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
    if (!lk || (lk->req.data = lk, lk->ag = ag,
                uv_getaddrinfo(ag->loop, &lk->req, on_resolved, g->u.host, NULL, &hints)) != 0) {
        free(lk);
        log_warn("gateway_resolve_failed", LF_S("gateway", g->shown), LF_S("reason", "cannot start"));
        advance(ag);
        schedule_reconnect(ag);
        return;
    }
    ag->link = AG_CONNECTING;
    ag->lookup = lk;
}

static void schedule_reconnect(ag_t *ag)
{
    uint32_t r = 0;
    (void)str_random(&r, sizeof r);
    /* after GoAway{replaced} another process holds the name: back off fully */
    int64_t delay = clock_backoff_ms(ag->opts.reconnect_min_ms, ag->opts.reconnect_max_ms,
                                      ag->replaced ? 62 : ag->attempt, r);
    ag->attempt++;
    ag->link = AG_DOWN;
    log_info("gateway_reconnect_scheduled", LF_I("delay_ms", delay), LF_I("attempt", ag->attempt),
             LF_S("next", ag_link_url(ag)));
    arm(ag, delay, connect_now);
}

void ag_link_start(ag_t *ag)
{
    uv_timer_init(ag->loop, &ag->timer);
    ag->timer.data = ag;
    ag->timer_init = true;
    connect_now(&ag->timer);
}

void ag_link_stop(ag_t *ag)
{
    ag->stopping = true;
    if (ag->lookup) {
        ag->lookup->ag = NULL; /* the answer frees it */
        ag->lookup = NULL;
    }
    if (ag->ws) {
        ws_close(ag->ws, WS_CLOSE_GOING_AWAY, "agent shutting down");
        return; /* on_close closes the timer */
    }
    if (ag->timer_init) {
        uv_timer_stop(&ag->timer);
        uv_close((uv_handle_t *)&ag->timer, NULL);
        ag->timer_init = false;
    }
}
