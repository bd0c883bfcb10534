/*
 * ag_target: streams the gateway opens towards us (we are the acceptor):
 * the whitelist (--allow) decides, then we connect to the target.
 *
 * A target given as a DNS name (protocol 2, from another agent's SOCKS
 * client) is resolved here, behind us, in our network's DNS: never by the
 * initiating agent nor the gateways. The whitelist stays about addresses:
 * of the name's addresses, the first that our whitelist allows and that
 * lies inside the networks the gateway's rules allow (the Initiator's Nets)
 * is the one we connect to, and a name none of whose addresses passes is
 * refused like its address would be. A name is checked once, when it is
 * resolved; what it resolves to later does not matter to this stream.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/str.h"
#include "tunnel/ag.h"

/* A name being resolved for a stream; forgotten (st = NULL) if the stream
 * goes first. */
struct ag_resolve {
    uv_getaddrinfo_t req;
    ag_stream_t *st;
    char from[TUNNEL_NAME_MAX + 1];
    char host[TUNNEL_IP_MAX + 1];
};

void ag_target_forget(ag_stream_t *st)
{
    if (st->resolve) {
        st->resolve->st = NULL; /* the answer frees it */
        st->resolve = NULL;
    }
}

static void cstr(char *dst, size_t size, tunnel_str_t s)
{
    size_t n = s.n < size - 1 ? s.n : size - 1;
    if (n)
        memcpy(dst, s.p, n);
    dst[n] = '\0';
}

static void refuse(ag_t *ag, const char *guid, size_t glen, const char *msg, const char *code)
{
    if (ag_link_up(ag))
        ag_sent(ag, tunnel_wire_ack(&ag->wire, ag->ws, guid, glen, false, msg,
                                    ag->version >= 2 ? code : NULL, -1));
}

/* Refuse a stream of ours (in the map) and free it. */
static void refuse_stream(ag_stream_t *st, const char *msg, const char *code)
{
    refuse(st->ag, st->guid, st->glen, msg, code);
    st->remote_gone = true;
    ag_stream_free(st);
}

static void connect_target(ag_stream_t *st, const char *ip, uint16_t port)
{
    ag_t *ag = st->ag;
    net_connect_opts_t co = { .host = ip, .port = port, .timeout_ms = ag->opts.connect_timeout_ms };
    int rc = net_connect(ag->loop, &co, &ag_target_cbs, st, &st->conn);
    /* net_connect reports failures through on_close when it returned a
     * connection; without one, answer here. */
    if (rc != 0 && !st->conn)
        refuse_stream(st, ag_connect_reason(rc), ag_connect_code(rc));
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    struct ag_resolve *r = req->data;
    ag_stream_t *st = r->st;
    if (!st) {
        uv_freeaddrinfo(res);
        free(r);
        return;
    }
    st->resolve = NULL;
    ag_t *ag = st->ag;
    char msg[TUNNEL_IP_MAX + 160], chosen[NET_ADDR_STR] = "", first[NET_ADDR_STR] = "";
    bool listed = false; /* an address the whitelist allows, but not the gateway's rules */
    for (struct addrinfo *a = status == 0 ? res : NULL; a && !chosen[0]; a = a->ai_next) {
        char ip[NET_ADDR_STR];
        net_addr_host(a->ai_addr, ip, sizeof ip);
        if (!first[0])
            str_copy(first, sizeof first, ip);
        if (!tunnel_acl_match(&ag->allow, r->from[0] ? r->from : NULL, NULL, ip, st->port))
            continue;
        if (tunnel_acl_nets_match(st->nets, strlen(st->nets), ip))
            str_copy(chosen, sizeof chosen, ip);
        else
            listed = true;
    }
    uv_freeaddrinfo(res);
    if (status != 0 || !first[0]) {
        snprintf(msg, sizeof msg, "cannot resolve %s: %s", r->host,
                 status != 0 ? uv_strerror(status) : "no address");
        log_info("stream_resolve_failed", LF_S("host", r->host), LF_S("reason", msg));
        ag->c_connect_failed++;
        free(r);
        refuse_stream(st, msg, TUNNEL_CODE_RESOLVE);
        return;
    }
    if (!chosen[0]) {
        ag->c_denied++;
        snprintf(msg, sizeof msg, "%s: %s (%s):%u", listed ? "denied by ACL" : "not in whitelist",
                 r->host, first, st->port);
        log_info("stream_denied", LF_S("from", r->from), LF_S("host", r->host), LF_S("ip", first),
                 LF_I("port", st->port),
                 LF_S("reason", listed ? "outside the gateway's rules" : "not in whitelist"));
        free(r);
        refuse_stream(st, msg, listed ? TUNNEL_CODE_ACL : TUNNEL_CODE_WHITELIST);
        return;
    }
    snprintf(st->target, sizeof st->target, "%s(%s):%u", r->host, chosen, st->port);
    log_debug("stream_resolved", LF_S("host", r->host), LF_S("ip", chosen));
    free(r);
    connect_target(st, chosen, st->port);
}

void ag_stream_on_initiator(ag_t *ag, const tunnel_msg_t *m)
{
    char ip[TUNNEL_IP_MAX + 1], from[TUNNEL_NAME_MAX + 1], why[TUNNEL_IP_MAX + 64];
    uint8_t addr[16];
    cstr(ip, sizeof ip, m->ip);
    cstr(from, sizeof from, m->from);
    bool is_name = net_ip_parse(ip, addr) != 0;
    if (hmap_get(&ag->streams, m->guid.p, m->guid.n)) {
        refuse(ag, m->guid.p, m->guid.n, "GUID already in use", TUNNEL_CODE_INVALID);
        return;
    }
    if (is_name && (ag->version < 2 || !tunnel_host_valid(ip, strlen(ip)))) {
        refuse(ag, m->guid.p, m->guid.n, "target is not an IP address", TUNNEL_CODE_INVALID);
        return;
    }
    if (is_name && !(m->has & TUNNEL_F_NETS)) {
        /* the gateway always says which networks its rules allow */
        refuse(ag, m->guid.p, m->guid.n, "a name target without the gateway's networks",
               TUNNEL_CODE_ACL);
        return;
    }
    if (!is_name && !tunnel_acl_match(&ag->allow, from[0] ? from : NULL, NULL, ip, m->port)) {
        ag->c_denied++;
        snprintf(why, sizeof why, "not in whitelist: %s:%u", ip, m->port);
        log_info("stream_denied", LF_S("from", from), LF_S("ip", ip), LF_I("port", m->port),
                 LF_S("reason", "not in whitelist"));
        refuse(ag, m->guid.p, m->guid.n, why, TUNNEL_CODE_WHITELIST);
        return;
    }
    if ((int64_t)ag->naccepted >= ag->opts.max_streams) {
        refuse(ag, m->guid.p, m->guid.n, "too many streams", TUNNEL_CODE_LIMIT);
        return;
    }
    ag_stream_t *st = ag_stream_new(ag, m->guid.p, m->guid.n);
    if (!st) {
        refuse(ag, m->guid.p, m->guid.n, "out of memory", TUNNEL_CODE_LIMIT);
        return;
    }
    st->state = AGS_CONNECTING;
    st->accepted = true;
    ag->naccepted++;
    st->port = m->port;
    tunnel_dir_init(&st->tx, (m->has & TUNNEL_F_WINDOW) ? m->window : ag->opts.window);
    snprintf(st->target, sizeof st->target, "%s:%u", ip, m->port);
    if (!is_name) {
        connect_target(st, ip, m->port);
        return;
    }
    struct ag_resolve *r = calloc(1, sizeof *r);
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
    if (r && (st->nets = malloc(m->nets.n + 1)))
        cstr(st->nets, m->nets.n + 1, m->nets);
    if (!r || !st->nets) {
        free(r);
        refuse_stream(st, "out of memory", TUNNEL_CODE_LIMIT);
        return;
    }
    r->st = st;
    r->req.data = r;
    str_copy(r->from, sizeof r->from, from);
    str_copy(r->host, sizeof r->host, ip);
    int rc = uv_getaddrinfo(ag->loop, &r->req, on_resolved, ip, NULL, &hints);
    if (rc != 0) {
        free(r);
        snprintf(why, sizeof why, "cannot resolve %s: %s", ip, uv_strerror(rc));
        refuse_stream(st, why, TUNNEL_CODE_RESOLVE);
        return;
    }
    st->resolve = r;
}
