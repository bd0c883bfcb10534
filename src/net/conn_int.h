/*
 * conn_int: net/conn's internals shared by conn.c (what a connection does:
 * reading, writing, TLS, closing) and conn_endpoint.c (how connections come
 * to be: listeners and connectors). Not for other modules.
 */
#ifndef OUTPOST_NET_CONN_INT_H
#define OUTPOST_NET_CONN_INT_H

#include <openssl/ssl.h>

#include "core/buf.h"
#include "net/conn.h"

/*
 * States. Writes reach the kernel in HANDSHAKE (TLS records), OPEN and
 * FLUSHING (graceful close); application bytes are delivered only in OPEN.
 * CLOSED means the libuv handles are closing; the struct is freed when the
 * last close callback has run, right after on_close.
 */
typedef enum conn_state {
    ST_CONNECTING = 0, /* resolving or TCP connect in progress */
    ST_HANDSHAKE,      /* TLS handshake */
    ST_OPEN,
    ST_FLUSHING,       /* graceful close: waiting for the queue to empty */
    ST_CLOSED,
} conn_state_t;

enum {
    READ_CHUNK = 63 * 1024, /* see conn.c */
    TLS_COALESCE = 16 * 1024, /* one full TLS record: shorter pieces are staged to share one */
    LINGER_MS = 5000,
    DEFAULT_HIGH = 256 * 1024,
    DEFAULT_LOW = 64 * 1024,
    DEFAULT_MAX = 64 * 1024 * 1024,
    /* Write buffers above this are freed whenever the queue empties: idle
     * connections (10,000s of relay peers) then hold none of their last
     * burst or of the TLS handshake's records. */
    KEEP_BUF = 1024,
};

typedef struct resolver resolver_t;
typedef struct conn_addr_ent conn_addr_ent_t; /* a client address's count (conn_endpoint.c) */

struct net_conn {
    uv_tcp_t tcp;
    uv_timer_t timer;     /* connect/handshake deadline, deferred TLS reads, linger */
    uv_timer_t app_timer; /* the owner's re-armable deadline */
    uv_write_t wreq;
    uv_shutdown_t sreq;
    uv_connect_t creq;
    uv_loop_t *loop;
    const net_conn_cbs_t *cbs;
    void *ud;
    void (*app_timer_cb)(net_conn_t *c);
    resolver_t *resolver; /* client name lookup in flight */
    net_listener_t *listener; /* accepted: counted there until freed (holds a reference) */
    conn_addr_ent_t *addr_ent; /* ... and in its per-address count, unless exempt */
    bool addr_refused;         /* ... as a refusal being answered, not as a connection */

    SSL *ssl; /* NULL for plain TCP */
    const char *rx_ptr; /* TLS: the unread part of the chunk being handled */
    size_t rx_len;
    buf_t rx_saved;     /* TLS: ciphertext a chunk left unread (paused owner) */
    tls_peer_t *peer_id;

    buf_t out;           /* queued for the kernel (ciphertext under TLS) */
    buf_t inflight;      /* handed to uv_write */
    size_t inflight_sent; /* its first bytes, already taken by the kernel */
    buf_t plain_pending; /* TLS: plaintext written before the handshake finished */
    bool secret;         /* credentials were queued: the three buffers above are
                          * wiped as they are released, until the queue empties */
    net_limits_t lim;

    uint64_t bytes_in, bytes_out;
    int64_t deadline_ms; /* connect/handshake deadline */
    int close_err;
    int pending_closes;
    conn_state_t state;
    bool reading, paused, writing, congested;
    bool peer_eof, eof_delivered, shut_wanted, shut_sent, client;
    unsigned corked; /* cork depth: writes only queue until it is back to 0 */
    bool drain_pending; /* on_drain owed, delivered from the timer */
    uint16_t port; /* client: destination port */
    char peer[NET_ADDR_STR];
    char peer_host[NET_ADDR_STR];
};

struct resolver {
    uv_getaddrinfo_t req;
    net_conn_t *conn; /* NULL once the connection went away */
};

extern const net_conn_cbs_t conn_no_cbs;

net_conn_t *conn_new(uv_loop_t *loop);
int conn_tls_attach(net_conn_t *c, tls_ctx_t *tls);
/* Attach a client SSL: connect state, SNI and name verification for `name`. */
int conn_tls_client(net_conn_t *c, tls_ctx_t *tls, const char *name);
/* Fill peer/peer_host from the socket; *ss (may be NULL) gets the address.
 * 0, or a negative errno when the peer is unknown. */
int conn_set_peer(net_conn_t *c, struct sockaddr_storage *ss);
void conn_start_reading(net_conn_t *c);
void conn_start_write(net_conn_t *c);
void conn_tls_pump(net_conn_t *c);
void conn_fail(net_conn_t *c, int err);
void conn_finish_close(net_conn_t *c);
void conn_on_timer(uv_timer_t *t);
/* conn.c -> conn_endpoint.c: an accepted connection was freed. */
void conn_listener_left(net_listener_t *l, conn_addr_ent_t *e, bool refused);

#endif
