/*
 * gw_route: streams between two agents' sessions.
 *
 * Each stream has two legs, one per session, each with its own GUID (the
 * acceptor's is "gw-<id>", chosen here, so agents never collide). The gateway
 * checks credit on both legs and forwards Window messages as they come: it
 * never buffers more than the windows the receivers granted, and never pauses
 * a WebSocket because of one stream, so a stalled reader costs its window and
 * nothing else.
 *
 * A leg's session may be a mesh link to another gateway (gw_mesh.c): a
 * stream for an agent logged in elsewhere goes to that gateway's link, and
 * one that comes in on a link goes to one of our agents, never further (one
 * hop). The initiator is then the link's `From`, the rules are checked again
 * and grants are bounded by the peer's max-window instead of ours. A target
 * given as a DNS name (v2) is allowed by the rules' networks, which travel
 * with it (Nets) for the acceptor to check the name's address against.
 *
 * Version-0 agents (the seed protocol, no Window messages) are carried too:
 * towards them the gateway grants credit itself as their WebSocket drains;
 * from them, Data beyond the receiver's credit is held (one message) and that
 * agent's WebSocket paused until credit comes back.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/log.h"
#include "core/str.h"
#include "tunnel/gw.h"

enum { GW_MIN_WINDOW = 1024 };

static gw_leg_t *other(gw_leg_t *l)
{
    return l == &l->st->leg[0] ? &l->st->leg[1] : &l->st->leg[0];
}

static gw_leg_t *find_leg(gw_session_t *s, tunnel_str_t guid)
{
    return hmap_get(&s->streams, guid.p, guid.n);
}

static void cstr(char *dst, size_t size, tunnel_str_t s)
{
    size_t n = s.n < size - 1 ? s.n : size - 1;
    if (n)
        memcpy(dst, s.p, n);
    dst[n] = '\0';
}

/* Take leg l out of its session's map and counts (leg 0 is the initiator's). */
static void leg_unmap(gw_leg_t *l)
{
    hmap_del(&l->s->streams, l->guid, l->glen);
    if (l == &l->st->leg[0])
        l->s->initiated--;
    else
        l->s->accepted--;
}

static void stream_free(gw_stream_t *st)
{
    gw_t *gw = st->gw;
    for (int i = 0; i < 2; i++) {
        gw_leg_t *l = &st->leg[i];
        if (l->s)
            leg_unmap(l);
        if (l->held) {
            free(l->held);
            l->held = NULL;
            if (l->s && l->s->ws && !l->s->closing)
                ws_resume(l->s->ws);
        }
    }
    if (st->prev)
        st->prev->next = st->next;
    else
        gw->streams = st->next;
    if (st->next)
        st->next->prev = st->prev;
    gw->nstreams--;
    if (st->via_mesh)
        gw->mesh_streams--;
    free(st);
}

static void send_term(gw_leg_t *l, tunnel_term_mode_t mode, const char *reason)
{
    if (!l->s || l->s->closing || l->s->doomed)
        return;
    int rc = tunnel_wire_term(&l->s->gw->wire, l->s->ws, l->s->version, l->guid, l->glen, mode,
                              reason);
    gw_sent(l->s, rc);
}

void gw_send_ack(gw_session_t *s, const char *guid, size_t glen, bool ok, const char *msg,
                 const char *code, int64_t window)
{
    if (s->closing || s->doomed || !s->ws)
        return;
    /* Code is a version-2 key: older agents are spared it */
    gw_sent(s, tunnel_wire_ack(&s->gw->wire, s->ws, guid, glen, ok, msg,
                               s->version >= 2 && !ok ? code : NULL, window));
}

/* Why a stream that never opened failed, for the initiator's Ack Code. */
static void reset_code(gw_stream_t *st, const char *code, const char *reason)
{
    log_debug("stream_reset", LF_U("stream", st->id), LF_S("reason", reason));
    if (!st->open) {
        /* Never acknowledged: the initiator hears a failed Ack, not a reset. */
        gw_leg_t *init = &st->leg[0];
        if (init->s)
            gw_send_ack(init->s, init->guid, init->glen, false, reason, code, -1);
        send_term(&st->leg[1], TUNNEL_TERM_RESET, reason);
    } else {
        send_term(&st->leg[0], TUNNEL_TERM_RESET, reason);
        send_term(&st->leg[1], TUNNEL_TERM_RESET, reason);
    }
    stream_free(st);
}

void gw_stream_reset(gw_stream_t *st, const char *reason)
{
    reset_code(st, TUNNEL_CODE_INVALID, reason);
}

static void stream_error(gw_stream_t *st, gw_session_t *by, const char *why)
{
    st->gw->c_stream_errors++;
    log_warn("stream_error", LF_U("stream", st->id), LF_S(by->mesh ? "gateway" : "agent", by->name),
             LF_S("reason", why));
    gw_stream_reset(st, why);
}

static void refuse(gw_session_t *s, const tunnel_msg_t *m, gw_refuse_t why, const char *code,
                   const char *msg)
{
    s->gw->c_refused[why]++;
    gw_send_ack(s, m->guid.p, m->guid.n, false, msg, code, -1);
}

/* Who may open a stream, and to what: the gateway's rules. An IP literal is
 * checked as it is; a DNS name (v2) is allowed when some rule lets `from`
 * reach `to` on that port, and the networks those rules name go with the
 * Initiator, for the acceptor to check the name's addresses against: the
 * name is resolved there, behind the acceptor, never here. */
static bool acl_allows(gw_session_t *s, const tunnel_msg_t *m, const char *from,
                       const char *target, const char *ip, char *nets, size_t netslen,
                       bool *is_name)
{
    gw_t *gw = s->gw;
    uint8_t a[16];
    char msg[512];
    *is_name = net_ip_parse(ip, a) != 0;
    int n = 0;
    if (!*is_name) {
        n = tunnel_acl_match(&gw->acl, from, target, ip, m->port) != NULL;
    } else if (!tunnel_host_valid(ip, strlen(ip))) {
        refuse(s, m, GW_REFUSE_INVALID, TUNNEL_CODE_INVALID,
               "Ip is neither an IP address nor a DNS name");
        return false;
    } else if ((n = tunnel_acl_nets(&gw->acl, from, target, m->port, nets, netslen)) < 0) {
        refuse(s, m, GW_REFUSE_INVALID, TUNNEL_CODE_INVALID,
               "the rules for this target name too many networks for a name target");
        return false;
    }
    if (n > 0)
        return true;
    log_info("stream_denied", LF_S("from", from), LF_S("to", target), LF_S("ip", ip),
             LF_I("port", m->port), LF_S("reason", "no ACL rule allows it"));
    snprintf(msg, sizeof msg, "denied by ACL: %s may not reach %s:%u on %s", from, ip, m->port,
             target);
    refuse(s, m, GW_REFUSE_ACL, TUNNEL_CODE_ACL, msg);
    return false;
}

/* The GUIDs a gateway gives its legs: "gw-N" towards agents; on a mesh link
 * the dialling side's start with "c-" and the accepting side's with "s-",
 * so the two gateways never pick the same one. */
static size_t leg_guid(gw_session_t *t, uint64_t id, char *out, size_t len)
{
    const char *pre = !t->mesh ? "gw-" : t->outbound ? "c-" : "s-";
    return (size_t)snprintf(out, len, "%s%llu", pre, (unsigned long long)id);
}

void gw_route_initiator(gw_session_t *s, const tunnel_msg_t *m)
{
    gw_t *gw = s->gw;
    char target[TUNNEL_NAME_MAX + 1], ip[TUNNEL_IP_MAX + 1], from[TUNNEL_NAME_MAX + 1];
    char msg[512], nets[TUNNEL_NETS_MAX + 1] = "";
    cstr(target, sizeof target, m->gatename);
    cstr(ip, sizeof ip, m->ip);
    /* on a mesh link the initiator is named by the peer gateway, which
     * authenticated it; from an agent it is the agent */
    cstr(from, sizeof from, s->mesh ? m->from : (tunnel_str_t){ s->name, strlen(s->name) });
    gw_leg_t *dup = find_leg(s, m->guid);
    if (dup) {
        stream_error(dup->st, s, "GUID reused by a new Initiator");
        return;
    }
    const char *deny = NULL;
    gw_refuse_t why = GW_REFUSE_INVALID;
    uint64_t window = gw->opts.legacy_window;
    const char *peer_pre = s->outbound ? "s-" : "c-";
    if (!s->mesh && m->guid.n >= 3 && memcmp(m->guid.p, "gw-", 3) == 0)
        deny = "GUIDs starting with gw- are reserved for the gateway";
    else if (s->mesh && (m->guid.n < 3 || memcmp(m->guid.p, peer_pre, 2) != 0))
        deny = "a mesh Initiator's GUID must carry its gateway's prefix";
    else if (s->mesh && (!(m->has & TUNNEL_F_FROM) || !gw_agent_find(gw, from)))
        deny = "a mesh Initiator must name a configured agent as its initiator (From)";
    else if ((int64_t)s->initiated >= gw->opts.max_streams && !s->mesh)
        deny = "too many streams on this agent", why = GW_REFUSE_LIMIT;
    else if (s->version >= 1 && !(m->has & TUNNEL_F_WINDOW))
        deny = "Window is required in protocol version 1";
    else if (s->version >= 1 && (m->window < GW_MIN_WINDOW || m->window > s->max_window))
        deny = "Window out of range";
    if (s->version >= 1 && (m->has & TUNNEL_F_WINDOW))
        window = m->window;
    if (deny) {
        refuse(s, m, why, why == GW_REFUSE_LIMIT ? TUNNEL_CODE_LIMIT : TUNNEL_CODE_INVALID, deny);
        return;
    }
    bool is_name;
    if (!acl_allows(s, m, from, target, ip, nets, sizeof nets, &is_name))
        return;
    /* One hop: a stream from a peer goes to an agent of ours or nowhere. */
    gw_session_t *t = s->mesh ? hmap_get(&gw->by_name, target, strlen(target))
                              : gw_presence_target(gw, target);
    if (!t || t->closing) {
        snprintf(msg, sizeof msg, "agent %s is offline", target);
        refuse(s, m, GW_REFUSE_OFFLINE, TUNNEL_CODE_OFFLINE, msg);
        return;
    }
    /* apart from what it opens: others filling it cannot stop its own */
    if ((int64_t)t->accepted >= gw->opts.max_streams && !t->mesh) {
        snprintf(msg, sizeof msg, "agent %s takes no more streams", target);
        refuse(s, m, GW_REFUSE_LIMIT, TUNNEL_CODE_LIMIT, msg);
        return;
    }
    if (is_name && t->version < 2) {
        snprintf(msg, sizeof msg, "agent %s cannot resolve names (protocol version %d)", target,
                 t->version);
        refuse(s, m, GW_REFUSE_INVALID, TUNNEL_CODE_INVALID, msg);
        return;
    }
    gw_stream_t *st = calloc(1, sizeof *st);
    if (!st) {
        gw_send_ack(s, m->guid.p, m->guid.n, false, "out of memory", TUNNEL_CODE_LIMIT, -1);
        return;
    }
    st->gw = gw;
    st->id = ++gw->next_stream_id;
    st->created_ms = clock_mono_ms();
    st->deadline_ms = st->created_ms + gw->opts.open_timeout_ms;
    str_copy(st->ip, sizeof st->ip, ip);
    str_copy(st->from, sizeof st->from, from);
    str_copy(st->to, sizeof st->to, target);
    st->port = m->port;
    st->via_mesh = s->mesh || t->mesh;
    gw_leg_t *a = &st->leg[0], *b = &st->leg[1];
    a->st = b->st = st;
    a->s = s;
    memcpy(a->guid, m->guid.p, m->guid.n);
    a->glen = m->guid.n;
    b->s = t;
    b->glen = leg_guid(t, st->id, b->guid, sizeof b->guid);
    tunnel_dir_init(&a->tx, 0);      /* until the acceptor's Ack */
    tunnel_dir_init(&b->tx, window); /* the initiator's grant */
    if (hmap_put(&s->streams, a->guid, a->glen, a) != 0) {
        free(st);
        gw_send_ack(s, m->guid.p, m->guid.n, false, "out of memory", TUNNEL_CODE_LIMIT, -1);
        return;
    }
    if (hmap_put(&t->streams, b->guid, b->glen, b) != 0) {
        hmap_del(&s->streams, a->guid, a->glen);
        free(st);
        gw_send_ack(s, m->guid.p, m->guid.n, false, "out of memory", TUNNEL_CODE_LIMIT, -1);
        return;
    }
    s->initiated++;
    t->accepted++;
    st->next = gw->streams;
    if (gw->streams)
        gw->streams->prev = st;
    gw->streams = st;
    gw->nstreams++;
    gw->c_streams_total++;
    if (st->via_mesh) {
        gw->mesh_streams++;
        gw->c_mesh_streams_total++;
    }
    tunnel_msg_t fwd = { .type = TUNNEL_INITIATOR, .has = TUNNEL_F_FROM };
    fwd.guid = (tunnel_str_t){ b->guid, b->glen };
    fwd.ip = m->ip;
    fwd.port = m->port;
    fwd.gatename = m->gatename;
    fwd.from = tunnel_s(from);
    if (t->version >= 1) {
        fwd.window = window;
        fwd.has |= TUNNEL_F_WINDOW;
    }
    if (is_name) {
        fwd.nets = tunnel_s(nets);
        fwd.has |= TUNNEL_F_NETS;
    }
    log_debug("stream_open", LF_U("stream", st->id), LF_S("from", from), LF_S("to", target),
              LF_S("ip", ip), LF_I("port", m->port), LF_S("via", t->mesh ? t->name : "-"));
    gw_send(t, &fwd);
}

/* A v0 acceptor's Ack has no GUID: it answers its oldest pending stream. */
static gw_leg_t *oldest_pending(gw_session_t *s)
{
    gw_leg_t *best = NULL;
    for (gw_stream_t *st = s->gw->streams; st; st = st->next)
        if (!st->open && st->leg[1].s == s && (!best || st->id < best->st->id))
            best = &st->leg[1];
    return best;
}

void gw_route_ack(gw_session_t *s, const tunnel_msg_t *m)
{
    gw_t *gw = s->gw;
    gw_leg_t *l = (m->has & TUNNEL_F_GUID) ? find_leg(s, m->guid)
                  : s->version == 0       ? oldest_pending(s)
                                          : NULL;
    if (!l) {
        gw->c_late_msgs++;
        return;
    }
    gw_stream_t *st = l->st;
    if (l != &st->leg[1] || st->open) {
        stream_error(st, s, "unexpected Ack");
        return;
    }
    gw_leg_t *a = &st->leg[0];
    char msg[TUNNEL_TEXT_MAX + 1], code[32];
    cstr(msg, sizeof msg, m->message);
    cstr(code, sizeof code, m->code);
    if (!m->ok) {
        gw->c_refused[GW_REFUSE_AGENT]++;
        log_info("stream_refused", LF_U("stream", st->id), LF_S("from", st->from),
                 LF_S("to", st->to), LF_S("ip", st->ip), LF_I("port", st->port),
                 LF_S("reason", msg));
        if (a->s)
            gw_send_ack(a->s, a->guid, a->glen, false, msg[0] ? msg : "refused",
                        code[0] ? code : NULL, -1);
        stream_free(st);
        return;
    }
    uint64_t window = gw->opts.legacy_window;
    if (s->version >= 1) {
        if (!(m->has & TUNNEL_F_WINDOW) || m->window < GW_MIN_WINDOW ||
            m->window > s->max_window) {
            stream_error(st, s, "Ack without a valid Window");
            return;
        }
        window = m->window;
    }
    st->open = true;
    tunnel_dir_init(&a->tx, window);
    if (a->s)
        gw_send_ack(a->s, a->guid, a->glen, true, msg, NULL,
                    a->s->version >= 1 ? (int64_t)window : -1);
    log_debug("stream_accepted", LF_U("stream", st->id));
}

static void legacy_release(gw_leg_t *l);

/* Credit for a sender whose receiver is a v0 agent (which sends no Window):
 * granted by the gateway once the bytes sit in a WebSocket queue that is not
 * congested. A v0 sender's credit stays internal (release: forward held bytes). */
static void legacy_grant(gw_leg_t *snd, uint64_t n, bool release)
{
    gw_leg_t *rcv = other(snd);
    snd->owed += n;
    if (!snd->owed || !snd->s || snd->s->closing || !rcv->s || !rcv->s->ws ||
        ws_congested(rcv->s->ws))
        return;
    uint64_t give = snd->owed;
    snd->owed = 0;
    const char *why;
    if (tunnel_dir_grant(&snd->tx, give, 0, &why) != 0)
        return;
    if (snd->s->version >= 1)
        gw_sent(snd->s, tunnel_wire_window(&snd->s->gw->wire, snd->s->ws, snd->guid, snd->glen,
                                           give));
    else if (release)
        legacy_release(snd);
}

/* l's data did not fit rcv's queue: rcv is slow (or many streams' windows
 * add up past the queue); this stream goes, rcv and its other streams stay. */
static void queue_full(gw_stream_t *st, gw_session_t *rcv)
{
    st->gw->c_queue_full++;
    if (!rcv->queue_full_said) {
        rcv->queue_full_said = true;
        log_warn("stream_queue_full", LF_S(rcv->mesh ? "gateway" : "agent", rcv->name),
                 LF_U("stream", st->id), LF_U("queued", ws_queued(rcv->ws)));
    }
    reset_code(st, TUNNEL_CODE_LIMIT, "the receiving side's queue is full");
}

static int forward_data(gw_leg_t *l, const char *p, size_t n)
{
    gw_leg_t *o = other(l);
    if (!o->s || o->s->closing || o->s->doomed)
        return -EPIPE;
    if (ws_queued(o->s->ws) + n + GW_CONTROL_ROOM > GW_SESSION_MAX_QUEUE)
        return -ENOBUFS; /* nothing sent: the caller resets this stream, not the session */
    int rc = tunnel_wire_data(&o->s->gw->wire, o->s->ws, o->guid, o->glen, p, n,
                              o->s->max_message);
    gw_sent(o->s, rc);
    if (rc == 0) {
        l->st->gw->c_bytes[l != &l->st->leg[0]] += n;
        if (o->s->version == 0)
            legacy_grant(l, n, false);
    }
    return rc;
}

/* Forward a v0 sender's held bytes as far as credit allows; resume its
 * WebSocket once nothing is held. */
static void legacy_release(gw_leg_t *l)
{
    const char *why;
    while (l->held && l->tx.credit) {
        size_t n = l->held_len < l->tx.credit ? l->held_len : (size_t)l->tx.credit;
        if (tunnel_dir_data(&l->tx, n, &why) != 0 || forward_data(l, (const char *)l->held, n) != 0)
            return;
        memmove(l->held, l->held + n, l->held_len - n);
        l->held_len -= n;
        if (l->held_len == 0) {
            free(l->held);
            l->held = NULL;
            if (l->s && l->s->ws && !l->s->closing)
                ws_resume(l->s->ws);
        }
    }
}

void gw_route_data(gw_session_t *s, const tunnel_msg_t *m)
{
    gw_leg_t *l = find_leg(s, m->guid);
    if (!l) {
        s->gw->c_late_msgs++;
        return;
    }
    gw_stream_t *st = l->st;
    const char *why;
    if (!st->open) {
        stream_error(st, s, "Data before Ack");
        return;
    }
    if (s->version >= 1) {
        if (tunnel_dir_data(&l->tx, m->data.n, &why) != 0) {
            stream_error(st, s, why);
            return;
        }
        if (forward_data(l, m->data.p, m->data.n) == -ENOBUFS)
            queue_full(st, other(l)->s);
        return;
    }
    /* v0 sender: forward what the receiver's credit allows, hold the rest
     * and pause this agent until credit comes back. A few messages may still
     * arrive after the pause (already inside the WebSocket parser): they
     * join the held bytes, within a cap. */
    size_t keep = l->held ? l->held_len : 0;
    if (keep + m->data.n > 4 * s->gw->opts.max_message) {
        stream_error(st, s, "too much data held for a paused agent");
        return;
    }
    uint8_t *h = realloc(l->held, keep + m->data.n + 1);
    if (!h) {
        stream_error(st, s, "out of memory");
        return;
    }
    memcpy(h + keep, m->data.p, m->data.n);
    l->held = h;
    l->held_len = keep + m->data.n;
    ws_pause(s->ws); /* resumed by legacy_release once all is forwarded */
    legacy_release(l);
    if (l->held && l->held_len == 0) {
        free(l->held);
        l->held = NULL;
        ws_resume(s->ws);
    }
}

void gw_route_window(gw_session_t *s, const tunnel_msg_t *m)
{
    gw_leg_t *l = find_leg(s, m->guid);
    if (!l) {
        s->gw->c_late_msgs++;
        return;
    }
    gw_stream_t *st = l->st;
    gw_leg_t *o = other(l);
    const char *why;
    if (!st->open) {
        stream_error(st, s, "Window before Ack");
        return;
    }
    /* s grants: within its own bound (an agent's: our --max-window; a mesh
     * link's: the peer's, whose agents' windows are within it) */
    if (tunnel_dir_grant(&o->tx, m->credit, s->max_window, &why) != 0) {
        stream_error(st, s, why);
        return;
    }
    if (!o->s || o->s->closing)
        return;
    if (o->s->version >= 1)
        gw_sent(o->s, tunnel_wire_window(&s->gw->wire, o->s->ws, o->guid, o->glen, m->credit));
    else
        legacy_release(o);
}

void gw_route_terminator(gw_session_t *s, const tunnel_msg_t *m)
{
    gw_leg_t *l = find_leg(s, m->guid);
    if (!l) {
        s->gw->c_late_msgs++;
        return;
    }
    gw_stream_t *st = l->st;
    gw_leg_t *o = other(l);
    char reason[TUNNEL_TEXT_MAX + 1];
    cstr(reason, sizeof reason, m->reason);
    const char *why;
    if (m->mode == TUNNEL_TERM_RESET || !st->open) {
        if (!st->open && l == &st->leg[1]) {
            stream_error(st, s, "Terminator before Ack");
            return;
        }
        send_term(o, TUNNEL_TERM_RESET, reason[0] ? reason : "reset by peer");
        stream_free(st);
        return;
    }
    if (l->held) {
        /* a v0 sender's close must not overtake its held bytes: flush what
         * credit allows, drop the rest with a reset */
        send_term(o, TUNNEL_TERM_RESET, "closed with data still held");
        stream_free(st);
        return;
    }
    if (m->mode == TUNNEL_TERM_CLOSE) {
        send_term(o, TUNNEL_TERM_CLOSE, reason);
        stream_free(st);
        return;
    }
    if (tunnel_dir_finish(&l->tx, &why) != 0) {
        stream_error(st, s, why);
        return;
    }
    send_term(o, TUNNEL_TERM_FIN, reason);
    if (l->tx.fin && o->tx.fin) {
        log_debug("stream_done", LF_U("stream", st->id), LF_U("bytes_ab", st->leg[0].tx.bytes),
                  LF_U("bytes_ba", st->leg[1].tx.bytes));
        stream_free(st);
    }
}

void gw_route_session_gone(gw_session_t *s, const char *reason)
{
    size_t n = hmap_len(&s->streams), i = 0, pos = 0;
    if (!n)
        return;
    gw_stream_t **all = malloc(n * sizeof *all);
    gw_leg_t *l;
    while ((l = hmap_next(&s->streams, &pos, NULL)) && all)
        if (!(l == &l->st->leg[1] && l->st->leg[0].s == s)) /* a stream to itself: once */
            all[i++] = l->st;
    for (size_t k = 0; all && k < i; k++) {
        gw_stream_t *st = all[k];
        /* this side is gone: detach it so only the far side hears the reset */
        for (int j = 0; j < 2; j++)
            if (st->leg[j].s == s) {
                leg_unmap(&st->leg[j]);
                st->leg[j].s = NULL;
            }
        reset_code(st, TUNNEL_CODE_OFFLINE, reason);
    }
    free(all);
    if (!all) /* out of memory: still never leave dangling legs */
        while ((l = hmap_next(&s->streams, &(size_t){ 0 }, NULL))) {
            leg_unmap(l);
            l->s = NULL;
            reset_code(l->st, TUNNEL_CODE_OFFLINE, reason);
        }
}

void gw_route_sweep(gw_t *gw, int64_t now)
{
    for (gw_stream_t *st = gw->streams, *next; st; st = next) {
        next = st->next;
        if (!st->open && now > st->deadline_ms) {
            gw->c_refused[GW_REFUSE_TIMEOUT]++;
            char msg[160];
            snprintf(msg, sizeof msg, "open timeout: agent %s did not answer", st->to);
            log_info("stream_open_timeout", LF_U("stream", st->id), LF_S("reason", msg));
            reset_code(st, TUNNEL_CODE_TIMEOUT, msg); /* frees st only: sends and resumes are
                                       * deferred (gw_sent, ws_resume), so next
                                       * stays valid */
        }
    }
}

/* A session's queue drained: pay the credit owed to v1 senders that feed it
 * (only used when that session is a v0 agent). */
void gw_route_drained(gw_session_t *s)
{
    if (s->version >= 1)
        return;
    size_t pos = 0;
    gw_leg_t *l;
    while ((l = hmap_next(&s->streams, &pos, NULL))) {
        gw_leg_t *snd = other(l);
        if (snd->owed)
            legacy_grant(snd, 0, true);
    }
}
