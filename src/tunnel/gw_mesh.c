/*
 * gw_mesh: links to other gateways (docs/tunnel.md, "Gateway mesh").
 *
 * Trust. A link is a WebSocket over mutual TLS with gateway certificates
 * (--mesh-cert, from `outpost certs`) chained to --mesh-ca, a CA of its own:
 * an agent's certificate must never pass for a gateway's, so the mesh CA may
 * not be the agents' --tls-ca. A gateway's mesh name is its certificate's
 * CN. The dialler sends MeshHello{Name, Version, Digest, MaxMessage,
 * MaxWindow}; the listener checks it and answers with its own, or with
 * Ack{Ok:false, Code, Message} and a close. Each side refuses a peer whose
 * certificate CN is not the name it gives (identity), which speaks no mesh
 * (version < 2), or whose Digest -- of its agents and rules, see
 * tunnel/mesh.h -- is not ours: ACL rules and agent credentials must be the
 * same on every gateway, since each enforces them for streams that cross.
 * Refusals are logged (mesh_peer_refused), counted by reason in /metrics
 * and listed in /status.
 *
 * Who dials. Each gateway dials the URLs of its --peer list and accepts
 * links on --mesh-listen. When both of a pair dial each other, two links
 * come up; both sides keep the one dialled by the gateway whose name sorts
 * first (tunnel_mesh_keeper) and close the other. A configured peer whose
 * name is known (from an earlier MeshHello) and that already has a link up
 * is not dialled. A dial that fails is retried with backoff and jitter
 * (0.5 s doubling to 15 s); a URL that turns out to be this gateway itself
 * (one config file listing every gateway) is left alone.
 *
 * A link's streams use the routing code as agent sessions do; presence
 * (gw_presence.c) tells each side who is logged in where. Links Ping each
 * other every --mesh-keepalive and a link silent for three periods is
 * dropped; a peer that dies takes its routes with it at once.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/pem.h>
#include <openssl/x509.h>

#include "core/clock.h"
#include "core/log.h"
#include "core/str.h"
#include "tunnel/gw.h"

enum {
    GW_MESH_TICK_MS = 250,
    GW_MESH_BACKOFF_MIN_MS = 500,
    GW_MESH_BACKOFF_MAX_MS = 15000,
    GW_MESH_MAX_LINKS = 256, /* connections on --mesh-listen */
};

static const char *const refuse_codes[GW_MESH_REFUSE_COUNT] = {
    [GW_MESH_REFUSE_DIGEST] = "digest",
    [GW_MESH_REFUSE_IDENTITY] = "identity",
    [GW_MESH_REFUSE_VERSION] = "version",
    [GW_MESH_REFUSE_PROTOCOL] = "protocol",
};

const char *gw_mesh_refuse_name(gw_mesh_refuse_t r)
{
    return r < GW_MESH_REFUSE_COUNT ? refuse_codes[r] : "protocol";
}

int gw_mesh_digest(const gw_agent_cfg_t *agents, size_t n, const tunnel_acl_t *acl, char out[65])
{
    const char **names = calloc(n ? n : 1, sizeof *names);
    const char **hashes = calloc(n ? n : 1, sizeof *hashes);
    int rc = names && hashes ? 0 : -ENOMEM;
    for (size_t i = 0; !rc && i < n; i++) {
        names[i] = agents[i].name;
        hashes[i] = agents[i].hash;
    }
    if (!rc)
        rc = tunnel_mesh_digest(names, hashes, n, acl, out);
    free(names);
    free(hashes);
    return rc;
}

gw_session_t *gw_mesh_link(gw_t *gw, const char *name)
{
    gw_session_t *s = hmap_get(&gw->links, name, strlen(name));
    return s && !s->closing ? s : NULL;
}

static void peer_set(gw_peer_t *p, gw_peer_state_t state, const char *reason)
{
    if (p->state != state)
        p->since_s = clock_real_s();
    p->state = state;
    if (reason)
        str_copy(p->reason, sizeof p->reason, reason);
}

/* The next dial of p, after a failure. */
static void peer_backoff(gw_peer_t *p)
{
    uint32_t r = 0;
    (void)str_random(&r, sizeof r);
    int64_t d = clock_backoff_ms(GW_MESH_BACKOFF_MIN_MS, GW_MESH_BACKOFF_MAX_MS, p->attempt, r);
    p->attempt++;
    p->next_ms = clock_mono_ms() + d;
}

/* A peer refused: said once per event in the log, kept for /status. */
static void note_refusal(gw_t *gw, gw_mesh_refuse_t kind, const char *name, const char *addr,
                         const char *reason, bool by_peer)
{
    gw->c_mesh_refused[kind]++;
    log_warn("mesh_peer_refused", LF_S("gateway", name && *name ? name : "?"),
             LF_S("peer", addr), LF_S("why", gw_mesh_refuse_name(kind)),
             LF_B("by_peer", by_peer), LF_S("reason", reason));
    size_t cap = sizeof gw->refusals / sizeof gw->refusals[0];
    if (gw->nrefusals == cap) {
        memmove(&gw->refusals[0], &gw->refusals[1], (cap - 1) * sizeof gw->refusals[0]);
        gw->nrefusals--;
    }
    struct gw_mesh_refusal *r = &gw->refusals[gw->nrefusals++];
    str_copy(r->name, sizeof r->name, name ? name : "");
    str_copy(r->addr, sizeof r->addr, addr);
    snprintf(r->reason, sizeof r->reason, "%s%s", by_peer ? "refused by the peer: " : "", reason);
    r->at_s = clock_real_s();
}

static void send_hello(gw_session_t *s)
{
    gw_t *gw = s->gw;
    tunnel_msg_t m = { .type = TUNNEL_MESH_HELLO, .version = TUNNEL_PROTO_VERSION,
                       .max_message = gw->opts.max_message, .max_window = gw->opts.max_window,
                       .has = TUNNEL_F_MAXMSG | TUNNEL_F_MAXWIN };
    m.name = tunnel_s(gw->mesh_name);
    m.digest = tunnel_s(gw->digest);
    gw_send(s, &m);
}

void gw_mesh_open(gw_session_t *s)
{
    s->deadline_ms = clock_mono_ms() + s->gw->opts.handshake_timeout_ms;
    send_hello(s);
}

/* Refuse the peer on s: the listener says why in an Ack, both close. */
static void refuse(gw_session_t *s, gw_mesh_refuse_t kind, const char *name, const char *reason)
{
    gw_t *gw = s->gw;
    note_refusal(gw, kind, name, s->peer, reason, false);
    if (s->dial) {
        str_copy(s->dial->name, sizeof s->dial->name, name);
        peer_set(s->dial, GW_PEER_REFUSED, reason);
    }
    if (!s->outbound) {
        tunnel_msg_t m = { .type = TUNNEL_ACK, .ok = false,
                           .has = TUNNEL_F_MESSAGE | TUNNEL_F_CODE };
        m.message = tunnel_s(reason);
        m.code = tunnel_s(gw_mesh_refuse_name(kind));
        gw_send(s, &m);
    }
    gw_session_close(s, WS_CLOSE_POLICY, reason);
}

/* Two links with the same peer: which one stays (see the top comment). */
static bool keep_new_link(gw_t *gw, const gw_session_t *fresh, const gw_session_t *old)
{
    const char *keeper = tunnel_mesh_keeper(gw->mesh_name, fresh->name);
    bool fresh_k = strcmp(fresh->outbound ? gw->mesh_name : fresh->name, keeper) == 0;
    bool old_k = strcmp(old->outbound ? gw->mesh_name : old->name, keeper) == 0;
    /* Both dialled by the same side: the newer one, since the peer only
     * dials again when it lost the old one (which may not know it yet). */
    return fresh_k != old_k ? fresh_k : true;
}

static void established(gw_session_t *s, const char *name, const tunnel_msg_t *m)
{
    gw_t *gw = s->gw;
    str_copy(s->name, sizeof s->name, name);
    s->authed = true;
    s->version = TUNNEL_PROTO_VERSION;
    if ((m->has & TUNNEL_F_MAXMSG) && m->max_message >= 16384 && m->max_message < s->max_message)
        s->max_message = m->max_message;
    if ((m->has & TUNNEL_F_MAXWIN) && m->max_window >= 16384)
        s->max_window = m->max_window < TUNNEL_WINDOW_MAX ? m->max_window : TUNNEL_WINDOW_MAX;
    if (s->dial) /* this URL is that gateway: not dialled while a link with it is up */
        str_copy(s->dial->name, sizeof s->dial->name, name);
    gw_session_t *old = hmap_get(&gw->links, name, strlen(name));
    if (old && old != s) {
        char why[160];
        if (!keep_new_link(gw, s, old)) {
            snprintf(why, sizeof why, "duplicate mesh link: keeping the one %s dialled",
                     old->outbound ? gw->mesh_name : name);
            log_info("mesh_link_duplicate", LF_S("gateway", name), LF_S("closed", s->peer),
                     LF_S("reason", why));
            s->superseded = true;
            if (s->dial)
                peer_set(s->dial, GW_PEER_INBOUND, "its own link is the one in use");
            gw_session_close(s, WS_CLOSE_NORMAL, why); /* it carries nothing yet */
            return;
        }
        snprintf(why, sizeof why, "duplicate mesh link: keeping the one %s dialled",
                 s->outbound ? gw->mesh_name : name);
        log_info("mesh_link_duplicate", LF_S("gateway", name), LF_S("closed", old->peer),
                 LF_S("reason", why), LF_U("draining", hmap_len(&old->streams)));
        hmap_del(&gw->links, name, strlen(name));
        /* Dialled by the same side twice: the peer lost the old link (it
         * restarted, say) and what it announced on it is gone; its
         * snapshot on the new link, which follows, says what is true.
         * Otherwise both links are alive and the routes stand. */
        if (old->outbound == s->outbound)
            gw_presence_link_lost(old);
        /* streams on the old link carry on until they end (the sweep closes
         * it then); new ones take the new link */
        old->superseded = true;
        if (old->dial)
            peer_set(old->dial, GW_PEER_INBOUND, "its own link is the one in use");
        if (!hmap_len(&old->streams))
            gw_session_close(old, WS_CLOSE_NORMAL, why);
    }
    if (hmap_put(&gw->links, s->name, strlen(s->name), s) != 0) {
        gw_session_close(s, WS_CLOSE_INTERNAL, "out of memory");
        return;
    }
    if (s->dial) {
        s->dial->attempt = 0;
        peer_set(s->dial, GW_PEER_UP, "");
    }
    for (gw_peer_t *p = gw->peers; p; p = p->next)
        if (p != s->dial && !p->link && strcmp(p->name, name) == 0)
            peer_set(p, GW_PEER_INBOUND, "");
    gw->c_mesh_links_total++;
    log_info("mesh_link_up", LF_S("gateway", name), LF_S("peer", s->peer),
             LF_S("direction", s->outbound ? "outbound" : "inbound"),
             LF_U("max_window", s->max_window));
    gw_presence_snapshot(s);
}

static void on_hello(gw_session_t *s, const tunnel_msg_t *m)
{
    gw_t *gw = s->gw;
    char name[TUNNEL_NAME_MAX + 1], why[320], theirs[TUNNEL_DIGEST_LEN + 1];
    str_copyn(name, sizeof name, m->name.p, m->name.n);
    str_copyn(theirs, sizeof theirs, m->digest.p, m->digest.n);
    const tls_peer_t *tp = s->ws ? ws_tls_peer(s->ws) : NULL;
    if (m->version < 2) {
        snprintf(why, sizeof why, "protocol version %llu has no mesh (2 needed)",
                 (unsigned long long)m->version);
        refuse(s, GW_MESH_REFUSE_VERSION, name, why);
        return;
    }
    if (!tp || !tp->verified || strcmp(tp->cn, name) != 0) {
        snprintf(why, sizeof why, "certificate CN '%s' is not the gateway name '%s'",
                 tp ? tp->cn : "", name);
        refuse(s, GW_MESH_REFUSE_IDENTITY, name, why);
        return;
    }
    if (strcmp(name, gw->mesh_name) == 0) {
        /* one configuration listing every gateway, ourselves included */
        if (s->dial) {
            /* never dialled again: this gateway's own URL in a shared list,
             * or a second gateway with this one's certificate name */
            peer_set(s->dial, GW_PEER_SELF, "answered with this gateway's own name");
            log_info("mesh_peer_self", LF_S("url", s->dial->shown),
                     LF_S("reason", "it answers with this gateway's own name: its own URL, or "
                                    "another gateway with the same certificate CN"));
        } else {
            tunnel_msg_t a = { .type = TUNNEL_ACK, .ok = false, .has = TUNNEL_F_MESSAGE };
            a.message = tunnel_s("this is that gateway itself");
            gw_send(s, &a);
        }
        gw_session_close(s, WS_CLOSE_NORMAL, "that is this gateway itself");
        return;
    }
    if (strcmp(theirs, gw->digest) != 0) {
        snprintf(why, sizeof why,
                 "rules or agents differ from ours (configuration digest %.12s, ours %.12s)",
                 theirs, gw->digest);
        refuse(s, GW_MESH_REFUSE_DIGEST, name, why);
        return;
    }
    if (!s->outbound)
        send_hello(s);
    established(s, name, m);
}

/* The listener refused our MeshHello: Ack{Ok:false, Code, Message}. */
static void on_refused(gw_session_t *s, const tunnel_msg_t *m)
{
    gw_t *gw = s->gw;
    char msg[TUNNEL_TEXT_MAX + 1], code[32];
    str_copyn(msg, sizeof msg, m->message.p ? m->message.p : "", m->message.n);
    str_copyn(code, sizeof code, m->code.p ? m->code.p : "", m->code.n);
    gw_mesh_refuse_t kind = GW_MESH_REFUSE_PROTOCOL;
    for (int i = 0; i < GW_MESH_REFUSE_COUNT; i++)
        if (strcmp(code, refuse_codes[i]) == 0)
            kind = (gw_mesh_refuse_t)i;
    if (!code[0]) { /* "that gateway itself": no code, no refusal */
        if (s->dial)
            peer_set(s->dial, GW_PEER_SELF, msg);
        gw_session_close(s, WS_CLOSE_NORMAL, msg);
        return;
    }
    const tls_peer_t *tp = s->ws ? ws_tls_peer(s->ws) : NULL;
    note_refusal(gw, kind, tp ? tp->cn : "", s->peer, msg, true);
    if (s->dial)
        peer_set(s->dial, GW_PEER_REFUSED, msg);
    gw_session_close(s, WS_CLOSE_NORMAL, "refused by the peer");
}

void gw_mesh_message(gw_session_t *s, const tunnel_msg_t *m)
{
    if (!s->authed) {
        if (m->type == TUNNEL_ACK && s->outbound && !m->ok)
            on_refused(s, m);
        else if (m->type == TUNNEL_MESH_HELLO)
            on_hello(s, m);
        else
            gw_session_protocol_error(s, "MeshHello required");
        return;
    }
    switch (m->type) {
    case TUNNEL_PRESENCE: gw_presence_recv(s, m); break;
    case TUNNEL_INITIATOR: gw_route_initiator(s, m); break;
    case TUNNEL_ACK: gw_route_ack(s, m); break;
    case TUNNEL_DATA: gw_route_data(s, m); break;
    case TUNNEL_WINDOW: gw_route_window(s, m); break;
    case TUNNEL_TERMINATOR: gw_route_terminator(s, m); break;
    case TUNNEL_PING: {
        tunnel_msg_t p = { .type = TUNNEL_PONG, .seq = m->seq };
        gw_send(s, &p);
        break;
    }
    case TUNNEL_PONG: break;
    case TUNNEL_GOAWAY: {
        char code[64], reason[200];
        str_copyn(code, sizeof code, m->code.p ? m->code.p : "", m->code.n);
        str_copyn(reason, sizeof reason, m->reason.p ? m->reason.p : "", m->reason.n);
        log_info("mesh_goaway", LF_S("gateway", s->name), LF_S("code", code),
                 LF_S("reason", reason));
        gw_session_close(s, WS_CLOSE_NORMAL, reason);
        break;
    }
    default: gw_session_protocol_error(s, "message type not sent on mesh links"); break;
    }
}

void gw_mesh_link_gone(gw_session_t *s, const char *reason)
{
    gw_t *gw = s->gw;
    gw_peer_t *p = s->dial;
    if (p && p->link == s) {
        p->link = NULL;
        if (p->state == GW_PEER_CONNECTING && p->attempt == 0)
            /* once per outage: the retries are in /status */
            log_warn("mesh_dial_failed", LF_S("url", p->shown), LF_S("reason", reason ? reason : ""),
                     LF_S("next", "retrying with backoff"));
        if (p->state == GW_PEER_UP || p->state == GW_PEER_CONNECTING)
            peer_set(p, GW_PEER_DOWN, reason);
        peer_backoff(p); /* never dialled again at once, whatever happened */
    }
    if (!s->authed || hmap_get(&gw->links, s->name, strlen(s->name)) != s)
        return;
    hmap_del(&gw->links, s->name, strlen(s->name));
    log_warn("mesh_link_down", LF_S("gateway", s->name), LF_S("peer", s->peer),
             LF_S("reason", reason ? reason : ""));
    gw_presence_link_lost(s);
    /* its own link is gone: dial it again ourselves (soon, not at once:
     * a gateway that just died refuses connections for a while) */
    for (gw_peer_t *q = gw->peers; q; q = q->next)
        if (q->state == GW_PEER_INBOUND && strcmp(q->name, s->name) == 0) {
            peer_set(q, GW_PEER_DOWN, reason);
            q->attempt = 0;
            peer_backoff(q);
        }
}

/* ---- dialling ------------------------------------------------------------------ */

static void dial(gw_peer_t *p)
{
    gw_t *gw = p->gw;
    gw_session_t *s = gw_session_new(gw, true, p->shown);
    if (!s) {
        peer_backoff(p);
        return;
    }
    s->outbound = true;
    s->dial = p;
    ws_opts_t wo;
    gw_session_ws_opts(gw, &wo);
    ws_connect_opts_t co = { .url = p->url, .tls = gw->mesh_cli_tls,
                             .timeout_ms = gw->opts.handshake_timeout_ms };
    ws_t *ws = NULL;
    int rc = ws_connect(gw->loop, &co, &wo, &gw_session_cbs, s, &ws);
    if (rc != 0 || !ws) {
        hmap_free(&s->streams);
        free(s);
        peer_set(p, GW_PEER_DOWN, log_strerror(rc));
        log_warn("mesh_dial_failed", LF_S("url", p->shown), LF_ERR(rc));
        peer_backoff(p);
        return;
    }
    gw_session_attach(s, ws);
    p->link = s;
    if (p->state != GW_PEER_REFUSED)
        peer_set(p, GW_PEER_CONNECTING, NULL);
    log_debug("mesh_dial", LF_S("url", p->shown), LF_I("attempt", p->attempt));
}

static void on_tick(uv_timer_t *t)
{
    gw_t *gw = t->data;
    int64_t now = clock_mono_ms();
    if (gw->stopping)
        return;
    for (gw_peer_t *p = gw->peers; p; p = p->next) {
        if (p->state == GW_PEER_SELF || p->link)
            continue;
        if (p->name[0] && gw_mesh_link(gw, p->name)) {
            peer_set(p, GW_PEER_INBOUND, "");
            continue;
        }
        if (now >= p->next_ms)
            dial(p);
    }
}

void gw_mesh_sweep(gw_t *gw, int64_t now)
{
    gw_session_t *s;
    for (gw_session_t *d = gw->sessions, *next; d; d = next) {
        next = d->next;
        if (d->mesh && d->superseded && !d->closing && !hmap_len(&d->streams))
            gw_session_close(d, WS_CLOSE_NORMAL, "duplicate mesh link, drained");
    }
    for (s = gw->sessions; s; s = s->next) {
        if (!s->mesh || !s->authed || s->closing || now - s->ping_ms < gw->opts.mesh_keepalive_ms)
            continue;
        s->ping_ms = now;
        tunnel_msg_t m = { .type = TUNNEL_PING, .seq = ++s->ping_seq };
        gw_send(s, &m);
    }
}

static gw_peer_t *peer_new(gw_t *gw, const char *url)
{
    gw_peer_t *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->gw = gw;
    str_copy(p->url, sizeof p->url, url);
    net_url_redacted(url, p->shown, sizeof p->shown);
    p->since_s = clock_real_s();
    gw_peer_t **pp = &gw->peers;
    while (*pp)
        pp = &(*pp)->next;
    *pp = p;
    return p;
}

static void peer_drop(gw_peer_t *p, const char *why)
{
    gw_t *gw = p->gw;
    for (gw_peer_t **pp = &gw->peers; *pp; pp = &(*pp)->next)
        if (*pp == p) {
            *pp = p->next;
            break;
        }
    gw_session_t *s = p->link;
    p->link = NULL;
    if (s) {
        s->dial = NULL;
        gw_session_goaway(s, "removed", why, WS_CLOSE_NORMAL);
    }
    free(p);
}

/* A peer URL must be wss:// (the mesh is mutual TLS or nothing). */
static int peer_url_ok(const char *url)
{
    net_url_t u;
    int rc = net_url_parse(url, &u) == 0 && strcmp(u.scheme, "wss") == 0 ? 0 : -EINVAL;
    net_url_clear(&u);
    return rc;
}

static void on_mesh_request(http_req_t *req, void *ud)
{
    gw_t *gw = ud;
    if (strcmp(http_req_path(req), "/mesh") != 0) {
        http_respond_error(req, 404, "not found (gateways connect to /mesh)");
        return;
    }
    gw_session_accept(gw, req, true);
}

/* The CN of the first certificate in a PEM file. */
static int cert_cn(const char *file, char *out, size_t len)
{
    FILE *fp = fopen(file, "re");
    if (!fp)
        return -errno;
    X509 *x = PEM_read_X509(fp, NULL, NULL, NULL);
    fclose(fp);
    if (!x)
        return -EINVAL;
    int n = X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, out, (int)len);
    X509_free(x);
    return n > 0 ? 0 : -ENOENT;
}

static bool same_file(const char *a, const char *b)
{
    struct stat sa, sb;
    if (strcmp(a, b) == 0)
        return true;
    if (stat(a, &sa) != 0 || stat(b, &sb) != 0)
        return false;
    if (sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino)
        return true;
    if (sa.st_size != sb.st_size || sa.st_size > 1024 * 1024)
        return false;
    /* a copy of the agents' CA under another name is the same CA */
    FILE *fa = fopen(a, "re"), *fb = fopen(b, "re");
    bool same = fa && fb;
    while (same) {
        int ca = fgetc(fa), cb = fgetc(fb);
        if (ca != cb)
            same = false;
        if (ca == EOF || cb == EOF)
            break;
    }
    if (fa)
        fclose(fa);
    if (fb)
        fclose(fb);
    return same;
}

static int config_error(const char *option, const char *reason)
{
    log_error("config_error", LF_S("option", option), LF_S("reason", reason));
    return -EINVAL;
}

int gw_mesh_start(gw_t *gw)
{
    const gw_opts_t *o = &gw->opts;
    bool listen = o->mesh_listen && *o->mesh_listen;
    if (!o->mesh_cert && !o->peers.n && !listen)
        return 0; /* a gateway of its own */
    if (!o->mesh_cert)
        return config_error("mesh-cert", "the mesh (--peer, --mesh-listen) needs a gateway "
                                         "certificate from `outpost certs leaf`");
    if (!o->mesh_ca)
        return config_error("mesh-ca", "the mesh needs the CA that signs gateway certificates");
    if (o->common.tls_ca && same_file(o->common.tls_ca, o->mesh_ca))
        return config_error("mesh-ca", "must not be the agents' --tls-ca: an agent's "
                                       "certificate would pass for a gateway's");
    int rc = cert_cn(o->mesh_cert, gw->mesh_name, sizeof gw->mesh_name);
    if (rc != 0 || !tunnel_name_valid(gw->mesh_name, strlen(gw->mesh_name)))
        return config_error("mesh-cert", "its CN names this gateway in the mesh: it must be "
                                         "1-64 of A-Z a-z 0-9 . _ -");
    for (size_t i = 0; i < o->peers.n; i++)
        if (peer_url_ok(o->peers.v[i]) != 0) {
            char shown[NET_URL_SHOWN];
            net_url_redacted(o->peers.v[i], shown, sizeof shown);
            log_error("config_error", LF_S("option", "peer"), LF_S("peer", shown),
                      LF_S("reason", "want wss://HOST:PORT/mesh (mutual TLS)"));
            return -EINVAL;
        }
    tls_opts_t so = { .server = true, .cert_file = o->mesh_cert, .key_file = o->mesh_key,
                      .ca_file = o->mesh_ca, .verify = TLS_VERIFY_REQUIRED };
    tls_opts_t co = so;
    co.server = false;
    if (!(gw->mesh_srv_tls = tls_ctx_new(&so)) || !(gw->mesh_cli_tls = tls_ctx_new(&co)))
        return -EINVAL;
    gw->mesh_on = true;
    if (listen) {
        http_server_opts_t ho = { .handler = on_mesh_request, .ud = gw, .max_body_bytes = 4096,
                                  .server_name = "outpost-gateway" };
        if (!(gw->mesh_http = http_server_new(gw->loop, &ho)))
            return -ENOMEM;
        net_listen_opts_t lo = { .addr = o->mesh_listen, .tls = gw->mesh_srv_tls,
                                 .max_connections = GW_MESH_MAX_LINKS };
        if ((rc = http_server_listen(gw->mesh_http, &lo)) != 0) {
            log_error("listen_failed", LF_S("addr", o->mesh_listen), LF_ERR(rc));
            return rc;
        }
    }
    for (size_t i = 0; i < o->peers.n; i++)
        if (!peer_new(gw, o->peers.v[i]))
            return -ENOMEM;
    uv_timer_init(gw->loop, &gw->mesh_timer);
    gw->mesh_timer.data = gw;
    uv_timer_start(&gw->mesh_timer, on_tick, 0, GW_MESH_TICK_MS);
    gw->mesh_timer_started = true;
    log_info("mesh_started", LF_S("name", gw->mesh_name),
             LF_S("listen", gw->mesh_http ? http_server_addr(gw->mesh_http) : "off"),
             LF_U("peers", o->peers.n), LF_S("digest", gw->digest));
    return 0;
}

const char *gw_mesh_listen_addr(const gw_t *gw)
{
    return gw->mesh_http ? http_server_addr(gw->mesh_http) : "off";
}

void gw_mesh_stop(gw_t *gw)
{
    if (gw->mesh_timer_started) {
        uv_timer_stop(&gw->mesh_timer);
        uv_close((uv_handle_t *)&gw->mesh_timer, NULL);
        gw->mesh_timer_started = false;
    }
    if (gw->mesh_http)
        http_server_close(gw->mesh_http, NULL, NULL);
    gw->mesh_http = NULL;
}

void gw_mesh_free(gw_t *gw)
{
    while (gw->peers) {
        gw_peer_t *p = gw->peers;
        gw->peers = p->next;
        if (p->link)
            p->link->dial = NULL;
        free(p);
    }
    if (gw->mesh_srv_tls)
        tls_ctx_free(gw->mesh_srv_tls);
    if (gw->mesh_cli_tls)
        tls_ctx_free(gw->mesh_cli_tls);
    gw->mesh_srv_tls = gw->mesh_cli_tls = NULL;
    hmap_free(&gw->links);
}

void gw_mesh_reload(gw_t *gw, const gw_opts_t *fresh, bool digest_changed)
{
    if (!gw->mesh_on) {
        if (fresh->peers.n)
            log_warn("reload_mesh_ignored",
                     LF_S("reason", "the mesh is set up at start (--mesh-cert): restart to join one"));
        return;
    }
    tls_ctx_reload(gw->mesh_srv_tls);
    tls_ctx_reload(gw->mesh_cli_tls);
    /* peers that left the list: their links go; new ones are dialled */
    for (gw_peer_t *p = gw->peers, *next; p; p = next) {
        next = p->next;
        bool kept = false;
        for (size_t i = 0; i < fresh->peers.n && !kept; i++)
            kept = strcmp(fresh->peers.v[i], p->url) == 0;
        if (!kept) {
            log_info("mesh_peer_removed", LF_S("url", p->shown), LF_S("gateway", p->name));
            peer_drop(p, "peer removed from the configuration");
        }
    }
    for (size_t i = 0; i < fresh->peers.n; i++) {
        bool known = false;
        for (gw_peer_t *p = gw->peers; p && !known; p = p->next)
            known = strcmp(p->url, fresh->peers.v[i]) == 0;
        if (known)
            continue;
        char shown[NET_URL_SHOWN];
        net_url_redacted(fresh->peers.v[i], shown, sizeof shown);
        if (peer_url_ok(fresh->peers.v[i]) != 0) {
            log_warn("reload_peer_skipped", LF_S("peer", shown),
                     LF_S("reason", "want wss://HOST:PORT/mesh"));
            continue;
        }
        if (peer_new(gw, fresh->peers.v[i]))
            log_info("mesh_peer_added", LF_S("url", shown));
    }
    if (!digest_changed)
        return;
    /* what each side agreed to is no longer true: both check again */
    log_info("mesh_reconfigured", LF_S("digest", gw->digest), LF_U("links", hmap_len(&gw->links)));
    for (gw_session_t *s = gw->sessions, *next; s; s = next) {
        next = s->next;
        if (s->mesh && !s->closing)
            gw_session_goaway(s, "reconfigured", "the gateway's rules or agents changed",
                              WS_CLOSE_NORMAL);
    }
    for (gw_peer_t *p = gw->peers; p; p = p->next) {
        if (p->state == GW_PEER_SELF)
            continue;
        p->attempt = 0;
        p->next_ms = clock_mono_ms() + GW_MESH_BACKOFF_MIN_MS;
    }
}
