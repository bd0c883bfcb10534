/*
 * gw_presence: who is logged in where, across the mesh.
 *
 * Every gateway keeps one routing table (tunnel/mesh.h): agent name ->
 * the gateway it is logged in to and its login epoch, its own agents
 * included. A login here gets an epoch newer than any known for the name
 * and is announced to every linked gateway (Presence{Online:true}); a
 * logout likewise (Online:false, with the epoch, so a late logout of an
 * older login never removes a newer one). A new link starts with a snapshot
 * of our agents. Gateways only announce their own agents and streams go one
 * hop, so the mesh must be full (every gateway linked to every other).
 *
 * Split brain: when an announcement beats the route we had and that route
 * was one of our own sessions, the session is closed with
 * GoAway{replaced} and a reason naming the winner's gateway. Every gateway
 * compares the same (epoch, gateway) pairs with tunnel_mesh_cmp, so all of
 * them keep the same winner whatever order the announcements arrive in.
 *
 * When a link is lost, every route through that gateway goes at once
 * (tunnel_mesh_drop_gateway); its streams were reset with the link.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/clock.h"
#include "core/log.h"
#include "core/str.h"
#include "tunnel/gw.h"

static void announce(gw_session_t *link, const char *name, uint64_t epoch, bool online)
{
    tunnel_msg_t m = { .type = TUNNEL_PRESENCE, .epoch = epoch, .online = online };
    m.name = tunnel_s(name);
    m.gateway = tunnel_s(link->gw->mesh_name);
    gw_send(link, &m);
}

static void announce_all(gw_t *gw, const char *name, uint64_t epoch, bool online)
{
    size_t pos = 0;
    gw_session_t *link;
    while ((link = hmap_next(&gw->links, &pos, NULL)))
        if (!link->closing)
            announce(link, name, epoch, online);
}

void gw_presence_login(gw_session_t *s)
{
    gw_t *gw = s->gw;
    const char *self = gw->mesh_on ? gw->mesh_name : "";
    s->epoch = tunnel_mesh_next_epoch(&gw->routes, s->name, (uint64_t)clock_real_ms());
    tunnel_route_t old;
    int rc = tunnel_mesh_offer(&gw->routes, s->name, self, s->epoch, &old);
    if (rc == TUNNEL_OFFER_WON && strcmp(old.gateway, self) != 0)
        /* the gateway that has it closes its session when it hears of ours */
        log_info("agent_login_elsewhere_replaced", LF_S("agent", s->name),
                 LF_S("gateway", old.gateway), LF_U("old_epoch", old.epoch),
                 LF_U("epoch", s->epoch));
    if (gw->mesh_on)
        announce_all(gw, s->name, s->epoch, true);
}

void gw_presence_logout(gw_session_t *s)
{
    gw_t *gw = s->gw;
    const char *self = gw->mesh_on ? gw->mesh_name : "";
    if (tunnel_mesh_withdraw(&gw->routes, s->name, self, s->epoch) && gw->mesh_on)
        announce_all(gw, s->name, s->epoch, false);
}

void gw_presence_snapshot(gw_session_t *link)
{
    gw_t *gw = link->gw;
    size_t pos = 0;
    gw_session_t *s;
    while ((s = hmap_next(&gw->by_name, &pos, NULL)))
        if (!s->closing)
            announce(link, s->name, s->epoch, true);
}

void gw_presence_recv(gw_session_t *link, const tunnel_msg_t *m)
{
    gw_t *gw = link->gw;
    char name[TUNNEL_NAME_MAX + 1], gateway[TUNNEL_NAME_MAX + 1];
    str_copyn(name, sizeof name, m->name.p, m->name.n);
    str_copyn(gateway, sizeof gateway, m->gateway.p, m->gateway.n);
    if (strcmp(gateway, link->name) != 0) {
        /* one hop: a gateway speaks for its own agents only */
        gw_session_protocol_error(link, "Presence for another gateway's agent");
        return;
    }
    /* Linked gateways have our agent table (the digest says so): a name
     * outside it is a broken peer, and the table stays as small as ours. */
    if (!gw_agent_find(gw, name)) {
        gw_session_protocol_error(link, "Presence for an agent that is not configured");
        return;
    }
    if (!m->online) {
        if (tunnel_mesh_withdraw(&gw->routes, name, gateway, m->epoch))
            log_debug("route_removed", LF_S("agent", name), LF_S("gateway", gateway));
        return;
    }
    tunnel_route_t old;
    int rc = tunnel_mesh_offer(&gw->routes, name, gateway, m->epoch, &old);
    if (rc < 0) {
        log_warn("route_table_full", LF_S("agent", name), LF_S("gateway", gateway),
                 LF_ERR(rc));
        return;
    }
    if (rc == TUNNEL_OFFER_LOST) {
        const tunnel_route_t *win = tunnel_mesh_get(&gw->routes, name);
        log_info("agent_duplicate_login", LF_S("agent", name), LF_S("loser", gateway),
                 LF_U("loser_epoch", m->epoch), LF_S("winner", win ? win->gateway : "?"),
                 LF_U("winner_epoch", win ? win->epoch : 0));
        return;
    }
    if (rc != TUNNEL_OFFER_WON) {
        log_debug("route_added", LF_S("agent", name), LF_S("gateway", gateway),
                  LF_U("epoch", m->epoch));
        return;
    }
    log_info("agent_duplicate_login", LF_S("agent", name), LF_S("loser", old.gateway),
             LF_U("loser_epoch", old.epoch), LF_S("winner", gateway), LF_U("winner_epoch", m->epoch));
    if (strcmp(old.gateway, gw->mesh_name) != 0)
        return;
    /* the name was logged in here, and a newer login elsewhere wins */
    gw_session_t *s = hmap_get(&gw->by_name, name, strlen(name));
    if (!s || s->epoch != old.epoch)
        return;
    char why[200];
    snprintf(why, sizeof why, "a newer login of %s on gateway %s took the name", name, gateway);
    gw->c_mesh_replaced++;
    gw->c_replaced++;
    log_info("agent_replaced", LF_S("agent", name), LF_S("old_peer", s->peer),
             LF_S("by_gateway", gateway), LF_U("old_epoch", old.epoch), LF_U("epoch", m->epoch));
    gw_session_goaway(s, "replaced", why, WS_CLOSE_POLICY);
}

void gw_presence_link_lost(gw_session_t *link)
{
    gw_t *gw = link->gw;
    size_t n = tunnel_mesh_drop_gateway(&gw->routes, link->name);
    log_info("mesh_routes_dropped", LF_S("gateway", link->name), LF_U("routes", n));
}

gw_session_t *gw_presence_target(gw_t *gw, const char *name)
{
    gw_session_t *t = hmap_get(&gw->by_name, name, strlen(name));
    if (t || !gw->mesh_on)
        return t;
    const tunnel_route_t *r = tunnel_mesh_get(&gw->routes, name);
    if (!r || strcmp(r->gateway, gw->mesh_name) == 0)
        return NULL;
    return gw_mesh_link(gw, r->gateway);
}
