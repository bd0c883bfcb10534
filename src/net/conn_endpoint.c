#include "net/conn_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/str.h"

/* Listeners accept connections, connectors open them; both hand over a
 * net_conn_t whose behaviour lives in conn.c. */

struct net_listener {
    uv_tcp_t tcp;
    uv_loop_t *loop;
    tls_ctx_t *tls;
    net_accept_fn on_accept;
    void *ud;
    int64_t handshake_timeout_ms;
    uint16_t port;
    char addr[NET_ADDR_STR];
};

/* ---- listeners ------------------------------------------------------------- */

static void on_connection(uv_stream_t *server, int status)
{
    net_listener_t *l = server->data;
    if (status < 0) {
        log_warn("accept_failed", LF_S("listen", l->addr), LF_ERR(status));
        return;
    }
    net_conn_t *c = conn_new(l->loop);
    if (!c) {
        log_error("accept_failed", LF_S("listen", l->addr), LF_S("reason", "out of memory"));
        return;
    }
    if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0) {
        conn_finish_close(c);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    conn_set_peer(c);
    if (l->tls) {
        if (conn_tls_attach(c, l->tls)) {
            conn_finish_close(c);
            return;
        }
        SSL_set_accept_state(c->ssl);
        c->state = ST_HANDSHAKE;
        uv_timer_start(&c->timer, conn_on_timer, (uint64_t)l->handshake_timeout_ms, 0);
    } else {
        c->state = ST_OPEN;
    }
    l->on_accept(l, c, l->ud);
    if (c->state >= ST_FLUSHING)
        return;
    conn_start_reading(c);
    if (!l->tls && c->cbs->on_open)
        c->cbs->on_open(c);
}

int net_listen(uv_loop_t *loop, const net_listen_opts_t *o, net_accept_fn on_accept, void *ud,
               net_listener_t **out)
{
    struct sockaddr_storage ss;
    int rc = net_addr_resolve(o->addr, &ss);
    if (rc) {
        log_error("listen_failed", LF_S("listen", o->addr), LF_S("reason", "bad address"));
        return rc;
    }
    net_listener_t *l = calloc(1, sizeof *l);
    if (!l)
        return -ENOMEM;
    l->loop = loop;
    l->tls = o->tls;
    l->on_accept = on_accept;
    l->ud = ud;
    l->handshake_timeout_ms = o->handshake_timeout_ms > 0 ? o->handshake_timeout_ms : 10000;
    uv_tcp_init(loop, &l->tcp);
    l->tcp.data = l;
    rc = uv_tcp_bind(&l->tcp, (struct sockaddr *)&ss, 0);
    if (!rc)
        rc = uv_listen((uv_stream_t *)&l->tcp, o->backlog > 0 ? o->backlog : 1024, on_connection);
    if (rc) {
        log_error("listen_failed", LF_S("listen", o->addr), LF_ERR(rc));
        uv_close((uv_handle_t *)&l->tcp, (uv_close_cb)free);
        return rc;
    }
    int len = sizeof ss;
    uv_tcp_getsockname(&l->tcp, (struct sockaddr *)&ss, &len);
    net_addr_format((struct sockaddr *)&ss, l->addr, sizeof l->addr);
    l->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                             : ((struct sockaddr_in *)&ss)->sin_port);
    *out = l;
    return 0;
}

const char *net_listener_addr(const net_listener_t *l) { return l->addr; }
uint16_t net_listener_port(const net_listener_t *l) { return l->port; }

void net_listener_close(net_listener_t *l)
{
    if (l)
        uv_close((uv_handle_t *)&l->tcp, (uv_close_cb)free);
}

/* ---- connectors ------------------------------------------------------------- */

static void on_connected(uv_connect_t *req, int status)
{
    net_conn_t *c = req->data;
    if (c->state == ST_CLOSED)
        return;
    if (status < 0) {
        log_debug("connect_failed", LF_S("peer", c->peer), LF_ERR(status));
        conn_fail(c, status);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    conn_set_peer(c);
    if (c->ssl) {
        c->state = ST_HANDSHAKE;
        conn_start_reading(c);
        conn_tls_pump(c); /* ClientHello */
        return;
    }
    uv_timer_stop(&c->timer);
    c->state = ST_OPEN;
    conn_start_reading(c);
    conn_start_write(c); /* bytes queued before the connection was up */
    if (c->cbs->on_open)
        c->cbs->on_open(c);
}

static void connect_addr(net_conn_t *c, struct sockaddr *sa)
{
    net_addr_format(sa, c->peer, sizeof c->peer);
    net_addr_host(sa, c->peer_host, sizeof c->peer_host);
    int rc = uv_tcp_connect(&c->creq, &c->tcp, sa, on_connected);
    if (rc)
        conn_fail(c, rc);
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    resolver_t *r = req->data;
    net_conn_t *c = r->conn;
    free(r);
    if (!c) {
        uv_freeaddrinfo(res);
        return;
    }
    c->resolver = NULL;
    if (status < 0 || !res) {
        log_debug("resolve_failed", LF_S("peer", c->peer), LF_ERR(status));
        uv_freeaddrinfo(res);
        conn_fail(c, -EHOSTUNREACH);
        return;
    }
    struct sockaddr_storage ss;
    memcpy(&ss, res->ai_addr, res->ai_addrlen);
    uv_freeaddrinfo(res);
    if (ss.ss_family == AF_INET6)
        ((struct sockaddr_in6 *)&ss)->sin6_port = htons(c->port);
    else
        ((struct sockaddr_in *)&ss)->sin_port = htons(c->port);
    connect_addr(c, (struct sockaddr *)&ss);
}

static bool is_ip_literal(const char *host)
{
    unsigned char tmp[16];
    return inet_pton(AF_INET, host, tmp) == 1 || inet_pton(AF_INET6, host, tmp) == 1;
}

int net_connect(uv_loop_t *loop, const net_connect_opts_t *o, const net_conn_cbs_t *cbs, void *ud,
                net_conn_t **out)
{
    net_conn_t *c = conn_new(loop);
    if (!c)
        return -ENOMEM;
    c->client = true;
    c->port = o->port;
    net_conn_set_cbs(c, cbs, ud);
    snprintf(c->peer, sizeof c->peer, strchr(o->host, ':') ? "[%s]:%u" : "%s:%u", o->host, o->port);
    str_copy(c->peer_host, sizeof c->peer_host, o->host);
    if (o->tls) {
        int rc = conn_tls_attach(c, o->tls);
        if (rc) {
            c->cbs = &conn_no_cbs;
            conn_finish_close(c);
            return rc;
        }
        SSL_set_connect_state(c->ssl);
        const char *name = o->sni && *o->sni ? o->sni : o->host;
        if (!is_ip_literal(name))
            SSL_set_tlsext_host_name(c->ssl, name);
        if (tls_ctx_verify(o->tls) != TLS_VERIFY_NONE) {
            if (is_ip_literal(name))
                X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl), name);
            else
                SSL_set1_host(c->ssl, name);
        }
    }
    *out = c;
    uv_timer_start(&c->timer, conn_on_timer, (uint64_t)(o->timeout_ms > 0 ? o->timeout_ms : 10000), 0);

    struct sockaddr_storage ss;
    char hp[NET_HOST_MAX + 16];
    snprintf(hp, sizeof hp, strchr(o->host, ':') ? "[%s]:%u" : "%s:%u", o->host, o->port);
    if (is_ip_literal(o->host) && net_addr_resolve(hp, &ss) == 0) {
        connect_addr(c, (struct sockaddr *)&ss);
        return 0;
    }
    resolver_t *r = calloc(1, sizeof *r);
    if (!r) {
        conn_fail(c, -ENOMEM);
        return 0;
    }
    r->conn = c;
    r->req.data = r;
    c->resolver = r;
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
    int rc = uv_getaddrinfo(loop, &r->req, on_resolved, o->host, NULL, &hints);
    if (rc) {
        c->resolver = NULL;
        free(r);
        conn_fail(c, -EHOSTUNREACH);
    }
    return 0;
}
