/*
 * conn: a TCP connection on libuv, optionally TLS (through its own BIO), with a
 * bounded write queue and explicit backpressure. Every protocol above (HTTP,
 * WebSocket, tunnel streams) sits on a net_conn_t.
 *
 * Lifecycle. The net module allocates and frees connections. A connection
 * is created by a listener (on_accept) or by net_connect(); the owner sets
 * callbacks and user data, gets on_open once the connection can carry
 * application bytes (after the TLS handshake), on_read for every chunk of
 * plaintext, and exactly one on_close. After net_conn_close()/abort() no
 * further callbacks arrive except on_close; the net_conn_t is freed right
 * after on_close returns. A connect that fails calls on_close (without
 * on_open) with the error.
 *
 * Listeners. The caller owns a listener until net_listener_close(); its
 * memory lives on until the last connection it accepted is freed, because
 * each accepted connection holds a reference and counts itself out of the
 * listener's caps when it goes (whoever owns the connection by then, e.g.
 * after an HTTP upgrade took it). A listener may cap its live connections
 * (max_connections: at the cap accepting pauses, the kernel's backlog holds
 * newcomers, and it resumes as connections close) and the connections per
 * client address (max_per_addr: one over it is closed at once).
 *
 * Backpressure. net_conn_write() copies the bytes into the connection's
 * queue. When the queue passes `high_water`, net_conn_congested() turns true:
 * the producer should stop reading its source (net_conn_pause() on it), and
 * on_drain fires once the queue falls below `low_water`. The queue can never
 * exceed `max_queue`: such a write fails with -ENOBUFS and writes nothing.
 *
 * on_read data is only valid during the callback; copy what you keep. The
 * owner may modify it in place (WebSocket unmasking does): it is the
 * connection's read chunk, not read again after the callback.
 * All functions must be called on the loop's thread.
 */
#ifndef OUTPOST_NET_CONN_H
#define OUTPOST_NET_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "net/addr.h"
#include "net/tls.h"

typedef struct net_conn net_conn_t;
typedef struct net_listener net_listener_t;

typedef struct net_conn_cbs {
    void (*on_open)(net_conn_t *c);                               /* ready for application data */
    void (*on_read)(net_conn_t *c, const char *data, size_t len); /* plaintext */
    /* The peer finished sending (FIN or TLS close_notify). NULL: close. */
    void (*on_eof)(net_conn_t *c);
    void (*on_drain)(net_conn_t *c); /* queue fell below low_water after congestion */
    void (*on_close)(net_conn_t *c, int err); /* err 0 = orderly; freed after return */
} net_conn_cbs_t;

typedef struct net_limits {
    size_t high_water; /* default 256 KiB */
    size_t low_water;  /* default 64 KiB */
    size_t max_queue;  /* default 64 MiB */
} net_limits_t;

/* ---- listeners -------------------------------------------------------- */

/* on_accept must call net_conn_set_cbs() (or close the connection). */
typedef void (*net_accept_fn)(net_listener_t *l, net_conn_t *c, void *ud);

typedef struct net_listen_opts {
    const char *addr;         /* "HOST:PORT"; port 0 picks a free one */
    tls_ctx_t *tls;           /* server context, or NULL for plain TCP */
    int64_t handshake_timeout_ms; /* TLS handshake deadline; default 10 s */
    int backlog;              /* default 1024 */
    /* Live connections accepted by this listener (0: no cap). At the cap
     * accepting pauses: newcomers wait in the kernel's backlog (then its
     * SYN queue) until a connection closes; nothing is refused. */
    size_t max_connections;
    /* Live connections per client address, IPv4 or the /64 of IPv6 (0: no
     * cap). One more is closed at once, after `refusal` (plain TCP only). */
    size_t max_per_addr;
    const net_cidr_t *exempt; /* not counted per address (trusted proxies); copied */
    size_t nexempt;
    const char *refusal;      /* e.g. an HTTP 503; NULL: close without a word; copied */
} net_listen_opts_t;

int net_listen(uv_loop_t *loop, const net_listen_opts_t *opts, net_accept_fn on_accept, void *ud,
               net_listener_t **out);
/* The bound address, e.g. "127.0.0.1:41234" (after port 0). */
const char *net_listener_addr(const net_listener_t *l);
uint16_t net_listener_port(const net_listener_t *l);
/* Stop accepting and give the listener up (it is freed once its last
 * connection is). Live connections stay. The caller must not use it after. */
void net_listener_close(net_listener_t *l);

/* For /metrics and status pages. */
typedef struct net_listener_stats {
    size_t live;               /* accepted connections not yet freed */
    size_t max_connections;    /* the caps (0: none) */
    size_t max_per_addr;
    size_t addrs;              /* client addresses counted now (exempt ones are not) */
    bool paused;               /* accepting is paused at max_connections now */
    uint64_t accepted;         /* connections accepted so far (refused ones too) */
    uint64_t pauses;           /* times accepting paused at the cap */
    uint64_t refused_per_addr; /* closed at once for being over max_per_addr */
    uint64_t accept_errors;    /* failed accepts (EMFILE, ENFILE, ENOMEM...) */
} net_listener_stats_t;
/* Adds this listener's numbers into *st (so several listeners can be summed;
 * zero it first). */
void net_listener_stats(const net_listener_t *l, net_listener_stats_t *st);

/* ---- connectors ------------------------------------------------------- */

typedef struct net_connect_opts {
    const char *host;     /* name or address (resolved asynchronously) */
    uint16_t port;
    tls_ctx_t *tls;       /* client context, or NULL for plain TCP */
    const char *sni;      /* server name for SNI and verification; default host */
    int64_t timeout_ms;   /* connect + handshake deadline; default 10 s */
} net_connect_opts_t;

int net_connect(uv_loop_t *loop, const net_connect_opts_t *opts, const net_conn_cbs_t *cbs,
                void *ud, net_conn_t **out);

/* ---- connections ------------------------------------------------------ */

void net_conn_set_cbs(net_conn_t *c, const net_conn_cbs_t *cbs, void *ud);
void *net_conn_data(const net_conn_t *c);
void net_conn_set_data(net_conn_t *c, void *ud);
void net_conn_set_limits(net_conn_t *c, const net_limits_t *lim);
uv_loop_t *net_conn_loop(const net_conn_t *c);

/* Queue bytes (copied). 0, -ENOBUFS (over max_queue, nothing queued), -EPIPE
 * (closing or shut down for writing). */
int net_conn_write(net_conn_t *c, const void *data, size_t len);
int net_conn_writev(net_conn_t *c, const uv_buf_t *bufs, size_t n);
size_t net_conn_queued(const net_conn_t *c);
/* Credentials go out next (an Authorization header, a SASL message, a
 * connection request's password): what the queue copies of the writes
 * from now until it next empties is wiped as it is sent, sealed into TLS
 * records or dropped with the connection, and the queue grows without
 * leaving copies in freed memory. The caller wipes its own buffer; bytes
 * the kernel takes at once are never copied. Connections that never call
 * it pay one test of a flag. */
void net_conn_secret(net_conn_t *c);
bool net_conn_congested(const net_conn_t *c);

/* Coalescing: between cork and uncork, writes are only queued (no syscall
 * per write, and under TLS one record run instead of one per write); uncork
 * hands everything to the kernel at once. For producers that emit many small
 * pieces in one go, e.g. WebSocket frames cut into 4 KiB by the masker.
 * Limits and congestion apply as usual. Corks nest: only the outermost
 * uncork sends, so a caller can batch several corked producers. Close and
 * shutdown send what is corked. */
void net_conn_cork(net_conn_t *c);
void net_conn_uncork(net_conn_t *c);

/* Stop / restart delivering on_read (TCP reads stop; TLS keeps what it decrypted). */
void net_conn_pause(net_conn_t *c);
void net_conn_resume(net_conn_t *c);
bool net_conn_paused(const net_conn_t *c);

/* Half-close: after the queue is flushed, send close_notify (TLS) and FIN. */
void net_conn_shutdown(net_conn_t *c);
/* Graceful close: flush the queue (bounded by a 5 s linger), then close. */
void net_conn_close(net_conn_t *c);
/* Immediate close with a TCP reset; queued bytes are dropped. */
void net_conn_abort(net_conn_t *c);
bool net_conn_closing(const net_conn_t *c);

/* "1.2.3.4:5678" of the remote end; host only. */
const char *net_conn_peer(const net_conn_t *c);
const char *net_conn_peer_host(const net_conn_t *c);
bool net_conn_is_tls(const net_conn_t *c);
/* NULL for plain TCP or before the handshake. */
const tls_peer_t *net_conn_tls_peer(const net_conn_t *c);
/* STARTTLS (XMPP, SMTP...): turn an open plain client connection into TLS
 * in place, verifying `name` as net_connect() does. Call it from on_read
 * right after the peer's go-ahead, with nothing queued (-EINVAL otherwise);
 * bytes after the go-ahead in that chunk are the caller's to drop. on_open
 * fires again when the handshake is done; a failed one closes the
 * connection (on_close, -EPROTO or -ETIMEDOUT after timeout_ms). */
int net_conn_starttls(net_conn_t *c, tls_ctx_t *tls, const char *name, int64_t timeout_ms);
/* Enable TCP keepalive probes (long-lived WebSocket/tunnel links). */
void net_conn_keepalive(net_conn_t *c, unsigned idle_s);
/* The kernel's send buffer for this socket (SO_SNDBUF; the kernel doubles
 * it): a long-lived stream bounds what a peer that does not read can hold
 * in the kernel, not only in the write queue. 0 or a negative errno. */
int net_conn_set_sndbuf(net_conn_t *c, int bytes);

/* One re-armable timer per connection for its owner's deadlines (header
 * read, idle, ping...). ms < 0 (or cb NULL) stops it; 0 fires on the next
 * loop turn. Not called after close. */
void net_conn_timer(net_conn_t *c, int64_t ms, void (*cb)(net_conn_t *c));

/* Bytes moved, for status pages. */
uint64_t net_conn_bytes_in(const net_conn_t *c);
uint64_t net_conn_bytes_out(const net_conn_t *c);

#endif
