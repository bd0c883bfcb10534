#include "net/conn_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/hmap.h"
#include "core/log.h"
#include "core/str.h"

/* Listeners accept connections, connectors open them; both hand over a
 * net_conn_t whose behaviour lives in conn.c. */

/*
 * A listener's caps, and what they rely on in libuv (src/unix/stream.c:
 * uv__server_io, uv_accept, uv__emfile_trick; the same from 1.44 on):
 *
 * - uv__server_io accept()s one socket, parks it in server->accepted_fd and
 *   calls on_connection. If that does not uv_accept() it, libuv stops
 *   polling the listening socket (uv__io_stop) and returns: no callback
 *   comes until a later uv_accept() takes the parked socket, which starts
 *   the polling again (only when it succeeds; after a failure uv_listen()
 *   does). That is the pause at max_connections: one socket waits parked
 *   (so a listener holds at most max_connections + 1 descriptors), the
 *   rest wait in the kernel's backlog, and nothing is refused. uv_close()
 *   of the listener closes a parked socket.
 *
 * - accept() failing with EMFILE or ENFILE: libuv closes a spare
 *   descriptor it keeps per loop, accepts and closes every pending
 *   connection (their clients see the close at once instead of hanging)
 *   and reopens the spare; on_connection hears nothing. Only when the spare
 *   is gone (another thread took the slot in between) does on_connection
 *   get UV_EMFILE, and libuv then calls accept() again at once, in a loop:
 *   it would spin for good, since nothing closes while the loop is stuck
 *   there (Linux fails accept() with EMFILE on a full table even when
 *   nothing is pending). Each listener keeps a spare of its own for that
 *   case: accept_drain gives it up, closes what waits in the backlog, and
 *   takes it back only on a later loop turn, so libuv's next accept() finds
 *   a free slot, says EAGAIN, and the loop ends.
 */

enum { REPORT_MS = 10000, RETRY_MS = 1000 };
/* A refusal is answered, then the connection lingers (reading and dropping
 * what the client sent) until the client closes, for REFUSE_LINGER_MS at
 * most: closing with its request unread would reset the connection, and a
 * reset makes the client drop the answer. Only REFUSE_LINGER_MAX of them
 * per address: past that, a bare close. */
enum { REFUSE_LINGER_MS = 1000, REFUSE_LINGER_MAX = 4 };

/* What a listener reports, at most once per REPORT_MS each. */
typedef enum report_kind { REP_PAUSE, REP_REFUSE, REP_ERROR, REP_KINDS } report_kind_t;

typedef struct report {
    uint64_t next_ms; /* no line before this (loop time) */
    uint64_t unsaid;  /* events since the last line */
    int err;          /* REP_ERROR: the last error */
    char addr[NET_ADDR_STR]; /* REP_REFUSE: the last address refused */
} report_t;

/* One client address's live connections. */
struct conn_addr_ent {
    uint8_t key[16]; /* net_ip_client_key */
    size_t count;    /* connections */
    size_t refusing; /* refusals lingering */
};

struct net_listener {
    uv_tcp_t tcp;
    uv_timer_t timer; /* reports that waited; retrying a parked socket after ENOMEM */
    uv_loop_t *loop;
    tls_ctx_t *tls;
    net_accept_fn on_accept;
    void *ud;
    int64_t handshake_timeout_ms;
    int backlog;
    int refs;     /* the owner's until net_listener_close, plus one per live connection */
    int handles;  /* libuv handles still to close */
    int spare_fd; /* given up to drain the backlog on EMFILE; -1 when none */
    uint64_t spare_at; /* loop time to take the spare back (0: held) */
    bool closing;
    bool paused;  /* a socket is parked in libuv, polling stopped */
    size_t live, max_conns, max_per_addr;
    hmap_t per_addr; /* conn_addr_ent_t by key */
    net_cidr_t *exempt;
    size_t nexempt;
    char *refusal;
    size_t refusal_len;
    net_listener_stats_t st; /* the counters (accepted, pauses, refused, errors) */
    report_t rep[REP_KINDS];
    uint16_t port;
    char addr[NET_ADDR_STR];
};

/* ---- reports ------------------------------------------------------------ */

static void say(net_listener_t *l, report_kind_t k)
{
    report_t *r = &l->rep[k];
    switch (k) {
    case REP_PAUSE:
        log_warn("conn_cap_reached", LF_S("listen", l->addr), LF_U("max_connections", l->max_conns),
                 LF_U("pauses", r->unsaid), LF_S("action", "accepting paused until a connection closes"));
        break;
    case REP_REFUSE:
        log_warn("conn_refused", LF_S("listen", l->addr),
                 LF_S("reason", "too many connections from one address"), LF_S("last_addr", r->addr),
                 LF_U("max_per_addr", l->max_per_addr), LF_U("count", r->unsaid));
        break;
    default:
        log_warn("accept_failed", LF_S("listen", l->addr), LF_ERR(r->err), LF_U("count", r->unsaid));
        break;
    }
    r->unsaid = 0;
    r->next_ms = uv_now(l->loop) + REPORT_MS;
}

static void on_listener_timer(uv_timer_t *t);

/* The timer runs while a report waits, a parked socket waits for memory,
 * or the spare descriptor is to be taken back. */
static void arm_timer(net_listener_t *l)
{
    if (l->closing)
        return;
    uint64_t now = uv_now(l->loop), due = UINT64_MAX;
    for (int k = 0; k < REP_KINDS; k++)
        if (l->rep[k].unsaid && l->rep[k].next_ms < due)
            due = l->rep[k].next_ms;
    if (l->paused && !(l->max_conns && l->live >= l->max_conns) && now + RETRY_MS < due)
        due = now + RETRY_MS;
    if (l->spare_at && l->spare_at < due)
        due = l->spare_at;
    if (due == UINT64_MAX)
        return;
    uint64_t in = due > now ? due - now : 0;
    if (uv_is_active((uv_handle_t *)&l->timer) && uv_timer_get_due_in(&l->timer) <= in)
        return;
    uv_timer_start(&l->timer, on_listener_timer, in, 0);
}

/* An event: said now, or counted into the next line. */
static void note(net_listener_t *l, report_kind_t k)
{
    l->rep[k].unsaid++;
    if (uv_now(l->loop) >= l->rep[k].next_ms)
        say(l, k);
    else
        arm_timer(l);
}

/* ---- counting --------------------------------------------------------------- */

static bool at_cap(const net_listener_t *l) { return l->max_conns && l->live >= l->max_conns; }

static void addr16(const struct sockaddr_storage *ss, uint8_t a[16])
{
    if (ss->ss_family == AF_INET6) {
        memcpy(a, &((const struct sockaddr_in6 *)ss)->sin6_addr, 16);
        return;
    }
    static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
    memcpy(a, mapped, 12);
    memcpy(a + 12, &((const struct sockaddr_in *)ss)->sin_addr, 4);
}

/* Count c for its address; false when that would pass max_per_addr (then
 * c->addr_ent is the address's entry, not counted yet). */
static bool count_addr(net_listener_t *l, net_conn_t *c, const struct sockaddr_storage *ss)
{
    uint8_t key[16];
    addr16(ss, key);
    for (size_t i = 0; i < l->nexempt; i++)
        if (net_cidr_contains(&l->exempt[i], key))
            return true;
    net_ip_client_key(key);
    conn_addr_ent_t *e = hmap_get(&l->per_addr, (const char *)key, sizeof key);
    if (e && e->count >= l->max_per_addr) {
        c->addr_ent = e;
        return false;
    }
    if (!e) {
        e = calloc(1, sizeof *e);
        if (!e)
            return true; /* uncounted; max_connections still holds */
        memcpy(e->key, key, sizeof key);
        if (hmap_put(&l->per_addr, (const char *)e->key, sizeof e->key, e) != 0) {
            free(e);
            return true;
        }
    }
    e->count++;
    c->addr_ent = e;
    return true;
}

static void refused_drop(net_conn_t *c, const char *data, size_t len) {}
static void refused_done(net_conn_t *c) { net_conn_close(c); }
static const net_conn_cbs_t refused_cbs = { .on_read = refused_drop, .on_eof = refused_done };

/* Over max_per_addr: say why (plain TCP; a TLS refusal would cost a
 * handshake), half-close, and close when the client does (see
 * REFUSE_LINGER_MS); or close at once. */
static void refuse(net_listener_t *l, net_conn_t *c)
{
    l->st.refused_per_addr++;
    str_copy(l->rep[REP_REFUSE].addr, sizeof l->rep[REP_REFUSE].addr, c->peer_host);
    note(l, REP_REFUSE);
    conn_addr_ent_t *e = c->addr_ent;
    c->addr_ent = NULL;
    c->state = ST_OPEN;
    if (!l->refusal || l->tls || e->refusing >= REFUSE_LINGER_MAX) {
        net_conn_close(c);
        return;
    }
    e->refusing++;
    c->addr_ent = e;
    c->addr_refused = true;
    net_conn_set_cbs(c, &refused_cbs, NULL);
    net_conn_write(c, l->refusal, l->refusal_len);
    net_conn_shutdown(c);
    net_conn_timer(c, REFUSE_LINGER_MS, refused_done);
    conn_start_reading(c);
}

static void listener_unref(net_listener_t *l)
{
    if (--l->refs > 0)
        return;
    conn_addr_ent_t *e;
    for (size_t i = 0; (e = hmap_next(&l->per_addr, &i, NULL));)
        free(e); /* none left: every connection counted itself out */
    hmap_free(&l->per_addr);
    free(l->exempt);
    free(l->refusal);
    free(l);
}

/* ---- accepting ------------------------------------------------------------ */

/* EMFILE/ENFILE reached us: libuv's spare is gone (see the top). Make room
 * with ours and close what waits in the backlog; the slot stays free until
 * the next loop turn. Without a spare there is nothing to do but retry. */
static void accept_drain(net_listener_t *l)
{
    uv_os_fd_t fd;
    if (l->spare_fd < 0 || uv_fileno((uv_handle_t *)&l->tcp, &fd) != 0)
        return;
    close(l->spare_fd);
    l->spare_fd = -1;
    int s;
    while ((s = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK)) >= 0 || errno == EINTR)
        if (s >= 0)
            close(s);
    l->spare_at = uv_now(l->loop);
    arm_timer(l);
}

static void take_spare(net_listener_t *l)
{
    l->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    l->spare_at = l->spare_fd >= 0 ? 0 : uv_now(l->loop) + RETRY_MS;
}

/* Take the parked socket as a new connection. `resuming`: libuv is not
 * polling the listener (it was paused). */
static void take(net_listener_t *l, bool resuming)
{
    uv_stream_t *server = (uv_stream_t *)&l->tcp;
    net_conn_t *c = conn_new(l->loop);
    if (!c) {
        l->st.accept_errors++;
        l->rep[REP_ERROR].err = -ENOMEM;
        note(l, REP_ERROR);
        l->paused = true; /* the socket stays parked; the timer retries */
        arm_timer(l);
        return;
    }
    if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0) {
        conn_finish_close(c);
        if (resuming)
            uv_listen(server, l->backlog, server->connection_cb);
        return;
    }
    c->listener = l;
    l->refs++;
    l->live++;
    l->st.accepted++;
    uv_tcp_nodelay(&c->tcp, 1);
    struct sockaddr_storage ss;
    if (conn_set_peer(c, &ss) == 0 && l->max_per_addr && !count_addr(l, c, &ss)) {
        refuse(l, c);
        return;
    }
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

static void resume(net_listener_t *l)
{
    l->paused = false;
    take(l, true);
}

static void on_connection(uv_stream_t *server, int status)
{
    net_listener_t *l = server->data;
    if (status < 0) {
        l->st.accept_errors++;
        l->rep[REP_ERROR].err = status;
        note(l, REP_ERROR);
        if (status == UV_EMFILE || status == UV_ENFILE)
            accept_drain(l);
        return;
    }
    if (at_cap(l)) {
        /* not taken: libuv keeps it parked and stops polling (see the top) */
        l->paused = true;
        l->st.pauses++;
        note(l, REP_PAUSE);
        return;
    }
    take(l, false);
}

void conn_listener_left(net_listener_t *l, conn_addr_ent_t *e, bool refused)
{
    if (e) {
        if (refused)
            e->refusing--;
        else
            e->count--;
        if (!e->count && !e->refusing) {
            hmap_del(&l->per_addr, (const char *)e->key, sizeof e->key);
            free(e);
        }
    }
    l->live--;
    if (l->paused && !l->closing && !at_cap(l))
        resume(l);
    listener_unref(l);
}

static void on_listener_timer(uv_timer_t *t)
{
    net_listener_t *l = t->data;
    uint64_t now = uv_now(l->loop);
    for (int k = 0; k < REP_KINDS; k++)
        if (l->rep[k].unsaid && now >= l->rep[k].next_ms)
            say(l, (report_kind_t)k);
    if (l->spare_at && now >= l->spare_at)
        take_spare(l);
    if (l->paused && !at_cap(l))
        resume(l); /* after ENOMEM */
    arm_timer(l);
}

static void on_listener_handle_closed(uv_handle_t *h)
{
    net_listener_t *l = h->data;
    if (--l->handles == 0)
        listener_unref(l); /* the owner's reference */
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
    l->backlog = o->backlog > 0 ? o->backlog : 1024;
    l->refs = 1;
    l->spare_fd = -1;
    l->max_conns = o->max_connections;
    l->max_per_addr = o->max_per_addr;
    hmap_init(&l->per_addr);
    if (o->nexempt && (l->exempt = malloc(o->nexempt * sizeof *l->exempt)) != NULL) {
        memcpy(l->exempt, o->exempt, o->nexempt * sizeof *l->exempt);
        l->nexempt = o->nexempt;
    }
    if (o->refusal) {
        l->refusal = strdup(o->refusal);
        l->refusal_len = l->refusal ? strlen(l->refusal) : 0;
    }
    if ((o->nexempt && !l->exempt) || (o->refusal && !l->refusal)) {
        listener_unref(l);
        return -ENOMEM;
    }
    uv_tcp_init(loop, &l->tcp);
    l->tcp.data = l;
    rc = uv_tcp_bind(&l->tcp, (struct sockaddr *)&ss, 0);
    if (!rc)
        rc = uv_listen((uv_stream_t *)&l->tcp, l->backlog, on_connection);
    if (rc) {
        log_error("listen_failed", LF_S("listen", o->addr), LF_ERR(rc));
        l->handles = 1;
        l->closing = true;
        uv_close((uv_handle_t *)&l->tcp, on_listener_handle_closed);
        return rc;
    }
    uv_timer_init(loop, &l->timer);
    l->timer.data = l;
    uv_unref((uv_handle_t *)&l->timer); /* reports never keep a loop alive */
    l->handles = 2;
    take_spare(l);
    arm_timer(l);
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

void net_listener_stats(const net_listener_t *l, net_listener_stats_t *st)
{
    st->live += l->live;
    st->max_connections += l->max_conns;
    st->max_per_addr = l->max_per_addr > st->max_per_addr ? l->max_per_addr : st->max_per_addr;
    st->addrs += hmap_len(&l->per_addr);
    st->paused = st->paused || l->paused;
    st->accepted += l->st.accepted;
    st->pauses += l->st.pauses;
    st->refused_per_addr += l->st.refused_per_addr;
    st->accept_errors += l->st.accept_errors;
}

void net_listener_close(net_listener_t *l)
{
    if (!l || l->closing)
        return;
    l->closing = true;
    for (int k = 0; k < REP_KINDS; k++)
        if (l->rep[k].unsaid)
            say(l, (report_kind_t)k); /* what the last window counted */
    if (l->spare_fd >= 0)
        close(l->spare_fd);
    l->spare_fd = -1;
    uv_close((uv_handle_t *)&l->timer, on_listener_handle_closed);
    uv_close((uv_handle_t *)&l->tcp, on_listener_handle_closed); /* closes a parked socket */
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
    /* c->peer is the address connect_addr connected to: what getpeername
     * would say, without the system call. */
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
        int rc = conn_tls_client(c, o->tls, o->sni && *o->sni ? o->sni : o->host);
        if (rc) {
            c->cbs = &conn_no_cbs;
            conn_finish_close(c);
            return rc;
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
