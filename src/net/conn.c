#include "net/conn_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/str.h"

/* One chunk per thread for what the socket gives (ciphertext under TLS)
 * and one for what TLS decrypts: reads are handled synchronously, so no
 * connection keeps a read buffer while idle. 63 KiB, not 64: what a relay
 * reads it usually forwards with a few bytes of framing (and TLS records),
 * and a 64 KiB read grown by them no longer fits one 64 KiB segment (the
 * loopback MSS, GSO's limit) but went out as two, one of them a few hundred
 * bytes that cost as much again to send, receive and acknowledge: 25% of the
 * tunnel's throughput over ws. */
static _Thread_local char *chunks; /* READ_CHUNK read, then READ_CHUNK plaintext */
static pthread_key_t chunks_key;
static pthread_once_t chunks_once = PTHREAD_ONCE_INIT;

static void chunks_key_init(void) { (void)pthread_key_create(&chunks_key, free); }

/* This thread's two chunks (NULL: out of memory). Allocated at the thread's
 * first read, not declared as _Thread_local arrays: the C library zeroes a
 * thread's whole static TLS block when the thread starts, which made these
 * 126 KiB dirty memory in every thread of every daemon (libuv's pool, the
 * store's workers) whether it ever read a socket or not. Heap pages are
 * touched only as reads fill them. Freed when the thread ends. */
static char *thread_chunks(void)
{
    if (!chunks) {
        pthread_once(&chunks_once, chunks_key_init);
        if ((chunks = malloc(2 * (size_t)READ_CHUNK)))
            (void)pthread_setspecific(chunks_key, chunks);
    }
    return chunks;
}

const net_conn_cbs_t conn_no_cbs = { 0 };

static void deliver_eof(net_conn_t *c);

/* ---- helpers ------------------------------------------------------------ */

size_t net_conn_queued(const net_conn_t *c)
{
    return c->out.len + c->inflight.len - c->inflight_sent + c->plain_pending.len;
}

bool net_conn_congested(const net_conn_t *c) { return c->congested; }
bool net_conn_paused(const net_conn_t *c) { return c->paused; }
bool net_conn_closing(const net_conn_t *c) { return c->state >= ST_FLUSHING; }
void *net_conn_data(const net_conn_t *c) { return c->ud; }
void net_conn_set_data(net_conn_t *c, void *ud) { c->ud = ud; }
uv_loop_t *net_conn_loop(const net_conn_t *c) { return c->loop; }
const char *net_conn_peer(const net_conn_t *c) { return c->peer; }
const char *net_conn_peer_host(const net_conn_t *c) { return c->peer_host; }
bool net_conn_is_tls(const net_conn_t *c) { return c->ssl != NULL; }
const tls_peer_t *net_conn_tls_peer(const net_conn_t *c) { return c->peer_id; }
uint64_t net_conn_bytes_in(const net_conn_t *c) { return c->bytes_in; }
uint64_t net_conn_bytes_out(const net_conn_t *c) { return c->bytes_out; }

void net_conn_set_cbs(net_conn_t *c, const net_conn_cbs_t *cbs, void *ud)
{
    c->cbs = cbs ? cbs : &conn_no_cbs;
    c->ud = ud;
}

void net_conn_set_limits(net_conn_t *c, const net_limits_t *lim)
{
    c->lim.high_water = lim->high_water ? lim->high_water : DEFAULT_HIGH;
    c->lim.low_water = lim->low_water ? lim->low_water : DEFAULT_LOW;
    c->lim.max_queue = lim->max_queue ? lim->max_queue : DEFAULT_MAX;
    if (c->lim.low_water > c->lim.high_water)
        c->lim.low_water = c->lim.high_water / 2;
}

net_conn_t *conn_new(uv_loop_t *loop)
{
    net_conn_t *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->loop = loop;
    c->cbs = &conn_no_cbs;
    net_conn_set_limits(c, &(net_limits_t){ 0 });
    /* The TLS record layer adds a little to what the caller queued. */
    buf_init(&c->out, SIZE_MAX / 4);
    buf_init(&c->inflight, SIZE_MAX / 4);
    buf_init(&c->plain_pending, SIZE_MAX / 4);
    buf_init(&c->rx_saved, 2 * READ_CHUNK);
    uv_tcp_init(loop, &c->tcp);
    uv_timer_init(loop, &c->timer);
    uv_timer_init(loop, &c->app_timer);
    c->tcp.data = c->timer.data = c->app_timer.data = c;
    c->wreq.data = c->sreq.data = c->creq.data = c;
    return c;
}

int conn_set_peer(net_conn_t *c, struct sockaddr_storage *out)
{
    struct sockaddr_storage ss;
    int len = sizeof ss;
    int rc = uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len);
    if (rc == 0) {
        net_addr_format((struct sockaddr *)&ss, c->peer, sizeof c->peer);
        net_addr_host((struct sockaddr *)&ss, c->peer_host, sizeof c->peer_host);
        if (out)
            *out = ss;
    } else if (!c->peer[0]) {
        str_copy(c->peer, sizeof c->peer, "?");
        str_copy(c->peer_host, sizeof c->peer_host, "?");
    }
    return rc;
}

/* Last line of defence for the OpenSSL error queue: one log line, cleared. */
static void ssl_reason(char *out, size_t len)
{
    unsigned long e = ERR_get_error();
    if (e)
        ERR_error_string_n(e, out, len);
    else
        str_copy(out, len, "connection closed during handshake");
    ERR_clear_error();
}

static void update_congestion(net_conn_t *c)
{
    if (!c->congested && net_conn_queued(c) > c->lim.high_water)
        c->congested = true;
}

void net_conn_secret(net_conn_t *c) { c->secret = true; }

/* Bytes of one of the queue's buffers were sent or sealed: forget them,
 * wiped first while a secret is queued (the memory is kept for reuse). */
static void queue_release(net_conn_t *c, buf_t *b)
{
    if (c->secret)
        buf_wipe(b);
    buf_reset_keep(b, KEEP_BUF);
}

static void queue_free(net_conn_t *c, buf_t *b)
{
    if (c->secret)
        buf_free_secret(b);
    else
        buf_free(b);
}

/* An empty queue holds no secret: every copy was wiped as it was released. */
static void queue_settle(net_conn_t *c)
{
    if (c->secret && c->out.len == 0 && !c->writing && c->plain_pending.len == 0)
        c->secret = false;
}

/* ---- closing ------------------------------------------------------------- */

static void on_handle_closed(uv_handle_t *h)
{
    net_conn_t *c = h->data;
    if (--c->pending_closes > 0)
        return;
    if (c->cbs->on_close)
        c->cbs->on_close(c, c->close_err);
    if (c->ssl)
        SSL_free(c->ssl); /* frees the BIOs too */
    free(c->peer_id);
    queue_free(c, &c->out);
    queue_free(c, &c->inflight);
    queue_free(c, &c->plain_pending);
    buf_free(&c->rx_saved);
    net_listener_t *l = c->listener;
    conn_addr_ent_t *e = c->addr_ent;
    bool refused = c->addr_refused;
    free(c);
    if (l) /* last: it may accept the next connection at once */
        conn_listener_left(l, e, refused);
}

void conn_finish_close(net_conn_t *c)
{
    if (c->state == ST_CLOSED)
        return;
    c->state = ST_CLOSED;
    if (c->resolver) {
        c->resolver->conn = NULL; /* the lookup frees itself */
        uv_cancel((uv_req_t *)&c->resolver->req);
        c->resolver = NULL;
    }
    c->pending_closes = 3;
    uv_close((uv_handle_t *)&c->timer, on_handle_closed);
    uv_close((uv_handle_t *)&c->app_timer, on_handle_closed);
    uv_close((uv_handle_t *)&c->tcp, on_handle_closed);
}

void conn_fail(net_conn_t *c, int err)
{
    if (c->state == ST_CLOSED)
        return;
    if (!c->close_err)
        c->close_err = err;
    conn_finish_close(c);
}

/* Queue a TLS close_notify if the session is up (best effort). */
static void tls_close_notify(net_conn_t *c)
{
    if (c->ssl && c->state == ST_OPEN && !c->shut_sent && SSL_is_init_finished(c->ssl)) {
        SSL_shutdown(c->ssl); /* the alert lands in c->out through the BIO */
        ERR_clear_error();
    }
}


static void uncork_all(net_conn_t *c);
static int cork_flush(net_conn_t *c);

void net_conn_close(net_conn_t *c)
{
    if (c->state >= ST_FLUSHING)
        return;
    uncork_all(c); /* what was queued under a cork goes out first */
    if (c->reading) {
        uv_read_stop((uv_stream_t *)&c->tcp);
        c->reading = false;
    }
    bool was_open = c->state == ST_OPEN;
    tls_close_notify(c);
    if (was_open && (c->out.len || c->writing)) {
        c->state = ST_FLUSHING;
        uv_timer_start(&c->timer, conn_on_timer, LINGER_MS, 0);
        conn_start_write(c);
        return;
    }
    conn_finish_close(c);
}

void net_conn_abort(net_conn_t *c)
{
    if (c->state == ST_CLOSED)
        return;
    /* A reset tells the peer at once that the stream broke (tunnel resets). */
    uv_os_fd_t fd;
    if (c->state >= ST_HANDSHAKE && !c->shut_sent && uv_fileno((uv_handle_t *)&c->tcp, &fd) == 0) {
        c->state = ST_CLOSED;
        if (c->resolver) {
            c->resolver->conn = NULL;
            c->resolver = NULL;
        }
        c->pending_closes = 3;
        uv_close((uv_handle_t *)&c->timer, on_handle_closed);
        uv_close((uv_handle_t *)&c->app_timer, on_handle_closed);
        if (uv_tcp_close_reset(&c->tcp, on_handle_closed) != 0)
            uv_close((uv_handle_t *)&c->tcp, on_handle_closed);
        return;
    }
    conn_finish_close(c);
}

/* ---- writing ------------------------------------------------------------- */

static void do_shutdown(net_conn_t *c);

/* The queue just emptied (or shrank): finish what waited for it. `sync` is
 * true inside a caller's write, where on_drain must not run on its stack. */
static void queue_progress(net_conn_t *c, bool sync)
{
    if (c->out.len == 0 && !c->writing) {
        if (c->out.cap > KEEP_BUF)
            queue_free(c, &c->out);
        queue_settle(c);
        if (c->state == ST_FLUSHING) {
            conn_finish_close(c);
            return;
        }
        if (c->shut_wanted && !c->shut_sent)
            do_shutdown(c);
    }
    if (c->congested && net_conn_queued(c) <= c->lim.low_water) {
        c->congested = false;
        if (c->state == ST_OPEN && c->cbs->on_drain) {
            if (sync) {
                c->drain_pending = true;
                uv_timer_start(&c->timer, conn_on_timer, 0, 0);
            } else {
                c->cbs->on_drain(c);
            }
        }
    }
}

static void on_write_done(uv_write_t *req, int status)
{
    net_conn_t *c = req->data;
    c->writing = false;
    if (c->state == ST_CLOSED)
        return;
    if (status < 0) {
        log_debug("conn_write_failed", LF_S("peer", c->peer), LF_ERR(status));
        conn_fail(c, status);
        return;
    }
    c->bytes_out += c->inflight.len - c->inflight_sent;
    c->inflight_sent = 0;
    queue_release(c, &c->inflight);
    if (c->out.len)
        conn_start_write(c);
    if (c->state != ST_CLOSED && !c->writing)
        queue_progress(c, false);
}

void conn_start_write(net_conn_t *c)
{
    if (c->writing || c->out.len == 0)
        return;
    if (c->state != ST_HANDSHAKE && c->state != ST_OPEN && c->state != ST_FLUSHING)
        return;
    buf_t tmp = c->inflight; /* empty while no write is in flight */
    c->inflight = c->out;
    c->out = tmp;
    /* The kernel first: a write it takes whole needs no request and no
     * poll registration (one syscall per TLS response, as for plain TCP).
     * What it does not take goes to uv_write from where it stopped, without
     * moving the rest of the buffer. */
    uv_buf_t b = uv_buf_init(c->inflight.data, (unsigned)c->inflight.len);
    int w = uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
    if (w < 0 && w != UV_EAGAIN && w != UV_ENOSYS) {
        log_debug("conn_write_failed", LF_S("peer", c->peer), LF_ERR(w));
        conn_fail(c, w);
        return;
    }
    size_t sent = w > 0 ? (size_t)w : 0;
    c->bytes_out += sent;
    if (sent == c->inflight.len) {
        queue_release(c, &c->inflight);
        queue_progress(c, true);
        return;
    }
    c->inflight_sent = sent;
    b = uv_buf_init(c->inflight.data + sent, (unsigned)(c->inflight.len - sent));
    int rc = uv_write(&c->wreq, (uv_stream_t *)&c->tcp, &b, 1, on_write_done);
    if (rc) {
        conn_fail(c, rc);
        return;
    }
    c->writing = true;
}

/* Whatever TLS produced (records, alerts, tickets) is already in c->out
 * (see the BIO below): send it. Record overhead can take the queue past high
 * water after the caller's check, so congestion is looked at here too, or a
 * producer would wait for a drain that is never announced. */
static int tls_flush(net_conn_t *c)
{
    conn_start_write(c);
    update_congestion(c);
    return 0;
}

/* Encrypt into records queued in c->out; the caller flushes. */
static int tls_encrypt(net_conn_t *c, const void *data, size_t len)
{
    while (len) {
        int chunk = len > INT32_MAX ? INT32_MAX : (int)len;
        int n = SSL_write(c->ssl, data, chunk);
        if (n <= 0) {
            char reason[160];
            ssl_reason(reason, sizeof reason);
            log_debug("tls_write_failed", LF_S("peer", c->peer), LF_S("reason", reason));
            conn_fail(c, -EPROTO);
            return -EPIPE;
        }
        data = (const char *)data + n;
        len -= (size_t)n;
    }
    return 0;
}

static int tls_write(net_conn_t *c, const void *data, size_t len)
{
    int rc = tls_encrypt(c, data, len);
    return rc ? rc : tls_flush(c);
}

/* Encrypt a gather list as few records as its length allows. Pieces
 * shorter than a record (a WebSocket header, a msgpack head) gather in
 * plain_pending, topped up from what follows, so they ride in a full record
 * instead of each costing a record, a write and a wake-up of the peer; runs of
 * a record or more are encrypted in place, without that copy. The records
 * wait in c->out: uncorked, the rest of the stage is sealed and all of it
 * leaves in one write; corked, the uncork does that. */
static int tls_writev(net_conn_t *c, const uv_buf_t *bufs, size_t n)
{
    buf_t *stage = &c->plain_pending;
    if (c->secret) { /* the stage never holds more than a record */
        size_t total = 0;
        for (size_t i = 0; i < n; i++)
            total += bufs[i].len;
        size_t room = TLS_COALESCE - stage->len;
        if (buf_reserve_secret(stage, total < room ? total : room) != 0)
            return -ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        const char *p = bufs[i].base;
        size_t left = bufs[i].len;
        if (stage->len) {
            size_t room = TLS_COALESCE - stage->len, take = left < room ? left : room;
            if (buf_append(stage, p, take) != 0)
                return -ENOMEM;
            p += take;
            left -= take;
            if (stage->len < TLS_COALESCE)
                continue; /* this piece is all in the stage */
            int rc = tls_encrypt(c, stage->data, stage->len);
            if (c->secret)
                buf_wipe(stage);
            stage->len = 0;
            if (rc)
                return rc;
        }
        bool last = i + 1 == n && !c->corked;
        if (left >= TLS_COALESCE || (left && last)) {
            int rc = tls_encrypt(c, p, left);
            if (rc)
                return rc;
        } else if (left && buf_append(stage, p, left) != 0) {
            return -ENOMEM;
        }
    }
    return c->corked ? 0 : cork_flush(c);
}

int net_conn_writev(net_conn_t *c, const uv_buf_t *bufs, size_t n)
{
    if (c->state >= ST_FLUSHING || c->shut_wanted)
        return -EPIPE;
    size_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += bufs[i].len;
    if (net_conn_queued(c) + total > c->lim.max_queue)
        return -ENOBUFS;

    if (c->ssl) {
        if (c->state == ST_OPEN) {
            int rc = tls_writev(c, bufs, n);
            if (rc)
                return rc;
        } else {
            if (c->secret && buf_reserve_secret(&c->plain_pending, total) != 0)
                return -ENOMEM;
            for (size_t i = 0; i < n; i++) {
                int rc = buf_append(&c->plain_pending, bufs[i].base, bufs[i].len);
                if (rc)
                    return rc;
            }
        }
    } else {
        size_t i = 0, skip = 0;
        if (c->state == ST_OPEN && !c->writing && c->out.len == 0 && !c->corked) {
            /* Fast path: most writes go straight to the kernel, no copy. */
            int w = uv_try_write((uv_stream_t *)&c->tcp, bufs, (unsigned)n);
            if (w > 0) {
                c->bytes_out += (uint64_t)w;
                size_t left = (size_t)w;
                while (i < n && left >= bufs[i].len)
                    left -= bufs[i++].len;
                skip = left;
            } else if (w < 0 && w != UV_EAGAIN && w != UV_ENOSYS) {
                log_debug("conn_write_failed", LF_S("peer", c->peer), LF_ERR(w));
                conn_fail(c, w);
                return -EPIPE;
            }
        }
        if (c->secret && i < n) {
            size_t left = 0;
            for (size_t k = i; k < n; k++)
                left += bufs[k].len;
            if (buf_reserve_secret(&c->out, left - skip) != 0)
                return -ENOMEM;
        }
        for (; i < n; i++, skip = 0) {
            int rc = buf_append(&c->out, bufs[i].base + skip, bufs[i].len - skip);
            if (rc)
                return rc;
        }
        if (!c->corked)
            conn_start_write(c);
    }
    queue_settle(c);
    update_congestion(c);
    return 0;
}

void net_conn_cork(net_conn_t *c)
{
    c->corked++;
}

/* Send what the corks held back: under TLS, seal the staged tail first. */
static int cork_flush(net_conn_t *c)
{
    if (c->state != ST_OPEN)
        return 0; /* the handshake's end, or the close, flushes what is queued */
    if (c->ssl) {
        int rc = 0;
        if (c->plain_pending.len) {
            rc = tls_encrypt(c, c->plain_pending.data, c->plain_pending.len);
            queue_release(c, &c->plain_pending);
        }
        return rc ? rc : tls_flush(c);
    }
    conn_start_write(c);
    return 0;
}

void net_conn_uncork(net_conn_t *c)
{
    if (!c->corked || --c->corked)
        return; /* corks nest: only the outermost uncork sends */
    cork_flush(c);
}

/* Closing and shutting down send what was corked, however deep. */
static void uncork_all(net_conn_t *c)
{
    if (!c->corked)
        return;
    c->corked = 0;
    cork_flush(c);
}

int net_conn_write(net_conn_t *c, const void *data, size_t len)
{
    uv_buf_t b = uv_buf_init((char *)data, (unsigned)len);
    if (len > UINT32_MAX)
        return -EINVAL;
    return net_conn_writev(c, &b, 1);
}

static void on_shutdown_done(uv_shutdown_t *req, int status)
{
    net_conn_t *c = req->data;
    if (status < 0 && status != UV_ECANCELED && c->state != ST_CLOSED)
        log_debug("conn_shutdown_failed", LF_S("peer", c->peer), LF_ERR(status));
}

static void do_shutdown(net_conn_t *c)
{
    c->shut_sent = true;
    if (uv_shutdown(&c->sreq, (uv_stream_t *)&c->tcp, on_shutdown_done) != 0)
        log_debug("conn_shutdown_failed", LF_S("peer", c->peer));
}

void net_conn_shutdown(net_conn_t *c)
{
    uncork_all(c);
    if (c->state >= ST_FLUSHING || c->shut_wanted)
        return;
    c->shut_wanted = true;
    if (c->ssl && c->state == ST_OPEN) {
        SSL_shutdown(c->ssl); /* close_notify: TLS's own end-of-data */
        ERR_clear_error();
        tls_flush(c);
    }
    if (c->state == ST_OPEN && !c->writing && c->out.len == 0)
        do_shutdown(c);
}

/* ---- reading -------------------------------------------------------------- */

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
    /* One chunk per thread: reads are handled synchronously, so no
     * connection keeps a read buffer while idle. No chunk: libuv reports
     * UV_ENOBUFS and the connection fails. */
    b->base = thread_chunks();
    b->len = b->base ? READ_CHUNK : 0;
}


static void deliver(net_conn_t *c, const char *data, size_t len)
{
    if (c->state == ST_OPEN && c->cbs->on_read)
        c->cbs->on_read(c, data, len);
}

static void deliver_eof(net_conn_t *c)
{
    if (c->eof_delivered || c->state != ST_OPEN)
        return;
    c->eof_delivered = true;
    if (c->cbs->on_eof)
        c->cbs->on_eof(c);
    else
        net_conn_close(c);
}

static bool tls_has_pending(net_conn_t *c)
{
    return c->ssl && (SSL_pending(c->ssl) > 0 || c->rx_saved.len > 0 || c->rx_len > 0);
}

/* Decrypt and deliver until TLS needs more bytes, the owner pauses, or the
 * connection ends. */
static void tls_read_loop(net_conn_t *c)
{
    char *plain = thread_chunks();
    if (!plain) {
        conn_fail(c, -ENOMEM);
        return;
    }
    plain += READ_CHUNK;
    while (c->state == ST_OPEN && !c->paused && !c->eof_delivered) {
        int n = SSL_read(c->ssl, plain, READ_CHUNK);
        if (n > 0) {
            deliver(c, plain, (size_t)n);
            continue;
        }
        int e = SSL_get_error(c->ssl, n);
        if (e == SSL_ERROR_WANT_READ)
            break;
        if (e == SSL_ERROR_ZERO_RETURN) { /* close_notify */
            c->peer_eof = true;
            break;
        }
        char reason[160];
        ssl_reason(reason, sizeof reason);
        log_info("tls_read_failed", LF_S("peer", c->peer), LF_S("reason", reason));
        conn_fail(c, -EPROTO);
        return;
    }
    if (c->state == ST_OPEN || c->state == ST_FLUSHING)
        tls_flush(c); /* post-handshake messages, key updates */
    if (c->peer_eof && c->state == ST_OPEN && !c->paused && !tls_has_pending(c))
        deliver_eof(c);
}

static void handshake_done(net_conn_t *c)
{
    uv_timer_stop(&c->timer);
    c->peer_id = malloc(sizeof *c->peer_id);
    if (c->peer_id)
        tls_peer_fill(c->ssl, c->peer_id);
    c->state = ST_OPEN;
    if (c->paused && c->reading) {
        uv_read_stop((uv_stream_t *)&c->tcp);
        c->reading = false;
    }
    log_debug("tls_open", LF_S("peer", c->peer), LF_S("version", c->peer_id ? c->peer_id->version : ""),
              LF_S("subject", c->peer_id ? c->peer_id->subject : ""));
    if (c->plain_pending.len) {
        buf_t p = c->plain_pending;
        bool secret = c->secret; /* the write may empty the queue, which clears it */
        buf_init(&c->plain_pending, p.max);
        tls_write(c, p.data, p.len);
        if (secret)
            buf_wipe(&p);
        buf_free(&p);
        if (c->state != ST_OPEN)
            return;
    }
    if (c->cbs->on_open)
        c->cbs->on_open(c);
}

/* A server's failed handshakes are anyone's to cause (a scanner, a peer
 * without a client certificate): one line per 10 s with the count of those
 * unsaid. A client's are the operator's own configuration: every one. */
static void say_handshake_failed(const net_conn_t *c, const char *reason)
{
    static log_rate_t rate; /* per process: a scanner hits every listener alike */
    uint64_t unsaid = 0;
    if (!c->client && !log_rate_ok(&rate, clock_mono_ms(), 10000, &unsaid))
        return;
    log_info("tls_handshake_failed", LF_S("peer", c->peer), LF_S("side", c->client ? "client" : "server"),
             LF_S("reason", reason), LF_U("unsaid", unsaid));
}

void conn_tls_pump(net_conn_t *c)
{
    if (c->state == ST_HANDSHAKE) {
        int r = SSL_do_handshake(c->ssl);
        if (r != 1) {
            int e = SSL_get_error(c->ssl, r);
            tls_flush(c); /* our flight, or the alert explaining the failure */
            if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
                return;
            char reason[200];
            long vr = SSL_get_verify_result(c->ssl);
            if (vr != X509_V_OK) {
                ERR_clear_error();
                str_copy(reason, sizeof reason, X509_verify_cert_error_string(vr));
            } else {
                ssl_reason(reason, sizeof reason);
            }
            say_handshake_failed(c, reason);
            /* let the alert go out before the socket closes */
            c->state = ST_OPEN;
            c->close_err = -EPROTO;
            c->eof_delivered = true;
            net_conn_close(c);
            return;
        }
        tls_flush(c);
        handshake_done(c);
    }
    tls_read_loop(c);
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    net_conn_t *c = s->data;
    if (n > 0) {
        c->bytes_in += (uint64_t)n;
        if (!c->ssl) {
            deliver(c, b->base, (size_t)n);
            return;
        }
        /* TLS reads the chunk in place through the BIO; what it leaves
         * (the owner paused, or the connection ended) is kept. */
        c->rx_ptr = b->base;
        c->rx_len = (size_t)n;
        conn_tls_pump(c);
        if (c->rx_len && c->state < ST_CLOSED && buf_append(&c->rx_saved, c->rx_ptr, c->rx_len))
            conn_fail(c, -ENOMEM);
        c->rx_len = 0;
        return;
    }
    if (n == 0)
        return;
    if (n == UV_EOF) {
        uv_read_stop(s);
        c->reading = false;
        c->peer_eof = true;
        if (c->state == ST_HANDSHAKE) {
            say_handshake_failed(c, "peer closed during handshake");
            conn_fail(c, -ECONNRESET);
            return;
        }
        if (c->ssl && tls_has_pending(c)) {
            tls_read_loop(c); /* delivers the EOF once drained */
            return;
        }
        if (!c->paused)
            deliver_eof(c);
        return;
    }
    log_debug("conn_read_failed", LF_S("peer", c->peer), LF_ERR((int)n));
    conn_fail(c, (int)n);
}

void conn_start_reading(net_conn_t *c)
{
    /* A pause holds back application data, not the TLS handshake. */
    if (c->reading || (c->paused && c->state != ST_HANDSHAKE) || c->peer_eof ||
        c->state >= ST_FLUSHING)
        return;
    if (uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, on_read) == 0)
        c->reading = true;
}

void net_conn_pause(net_conn_t *c)
{
    if (c->paused)
        return;
    c->paused = true;
    if (c->reading && c->state != ST_HANDSHAKE) {
        uv_read_stop((uv_stream_t *)&c->tcp);
        c->reading = false;
    }
}

void net_conn_resume(net_conn_t *c)
{
    if (!c->paused)
        return;
    c->paused = false;
    if (c->state != ST_OPEN && c->state != ST_HANDSHAKE)
        return;
    conn_start_reading(c);
    if (c->state != ST_OPEN)
        return;
    /* Data TLS already decrypted, or an EOF seen while paused, is handed
     * over on the next loop turn, never from inside the caller's stack. */
    if (tls_has_pending(c) || (c->peer_eof && !c->eof_delivered))
        uv_timer_start(&c->timer, conn_on_timer, 0, 0);
}

/* ---- timers --------------------------------------------------------------- */

void conn_on_timer(uv_timer_t *t)
{
    net_conn_t *c = t->data;
    switch (c->state) {
    case ST_CONNECTING:
    case ST_HANDSHAKE:
        log_info("conn_timeout", LF_S("peer", c->peer[0] ? c->peer : "?"),
                 LF_S("phase", c->state == ST_CONNECTING ? "connect" : "tls handshake"));
        conn_fail(c, -ETIMEDOUT);
        break;
    case ST_OPEN: /* deferred delivery after resume, or a drain seen inside a write */
        if (c->drain_pending) {
            c->drain_pending = false;
            if (!c->congested && c->cbs->on_drain)
                c->cbs->on_drain(c);
            if (c->state != ST_OPEN)
                break;
        }
        if (c->ssl && !c->paused)
            tls_read_loop(c);
        else if (c->peer_eof && !c->paused)
            deliver_eof(c);
        break;
    case ST_FLUSHING: /* the peer would not take our last bytes */
        log_debug("conn_linger_expired", LF_S("peer", c->peer));
        conn_fail(c, -ETIMEDOUT);
        break;
    case ST_CLOSED:
        break;
    }
}

static void on_app_timer(uv_timer_t *t)
{
    net_conn_t *c = t->data;
    if (c->state <= ST_OPEN && c->app_timer_cb)
        c->app_timer_cb(c);
}

void net_conn_timer(net_conn_t *c, int64_t ms, void (*cb)(net_conn_t *c))
{
    if (c->state == ST_CLOSED)
        return;
    if (ms < 0 || !cb) {
        uv_timer_stop(&c->app_timer);
        return;
    }
    c->app_timer_cb = cb;
    uv_timer_start(&c->app_timer, on_app_timer, (uint64_t)ms, 0);
}

void net_conn_keepalive(net_conn_t *c, unsigned idle_s)
{
    uv_tcp_keepalive(&c->tcp, 1, idle_s ? idle_s : 60);
}

int net_conn_set_sndbuf(net_conn_t *c, int bytes)
{
    return uv_send_buffer_size((uv_handle_t *)&c->tcp, &bytes);
}

/* ---- TLS setup ------------------------------------------------------------- */

/*
 * The record layer's I/O: a BIO whose writes append to the connection's
 * write queue and whose reads take from the chunk just read from the socket
 * (then from rx_saved, what an earlier chunk left). No memory BIO in
 * between: each byte is copied once less each way, and an idle connection
 * holds no BIO buffers.
 */
static int bio_write(BIO *b, const char *data, int len)
{
    net_conn_t *c = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    if (len <= 0)
        return 0;
    if (buf_append(&c->out, data, (size_t)len) != 0)
        return -1;
    return len;
}

static int bio_read(BIO *b, char *out, int len)
{
    net_conn_t *c = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    size_t want = len > 0 ? (size_t)len : 0, got = 0;
    if (c->rx_saved.len) {
        got = want < c->rx_saved.len ? want : c->rx_saved.len;
        memcpy(out, c->rx_saved.data, got);
        buf_consume(&c->rx_saved, got);
        if (c->rx_saved.len == 0)
            buf_free(&c->rx_saved);
    }
    if (got < want && c->rx_len) {
        size_t k = want - got < c->rx_len ? want - got : c->rx_len;
        memcpy(out + got, c->rx_ptr, k);
        c->rx_ptr += k;
        c->rx_len -= k;
        got += k;
    }
    if (got == 0) {
        BIO_set_retry_read(b); /* not EOF: more will come */
        return -1;
    }
    return (int)got;
}

static long bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    net_conn_t *c = BIO_get_data(b);
    switch (cmd) {
    case BIO_CTRL_FLUSH:
        return 1;
    case BIO_CTRL_PENDING:
        return c ? (long)(c->rx_saved.len + c->rx_len) : 0;
    default:
        return 0;
    }
}

static BIO_METHOD *conn_bio_method;
static pthread_once_t conn_bio_once = PTHREAD_ONCE_INIT;

static void conn_bio_init(void)
{
    BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "outpost-conn");
    if (m && BIO_meth_set_write(m, bio_write) && BIO_meth_set_read(m, bio_read) &&
        BIO_meth_set_ctrl(m, bio_ctrl))
        conn_bio_method = m;
}

int conn_tls_attach(net_conn_t *c, tls_ctx_t *tls)
{
    pthread_once(&conn_bio_once, conn_bio_init);
    if (!conn_bio_method)
        return -ENOMEM;
    c->ssl = tls_ctx_new_ssl(tls);
    if (!c->ssl)
        return -ENOMEM;
    BIO *bio = BIO_new(conn_bio_method);
    if (!bio)
        return -ENOMEM;
    BIO_set_data(bio, c);
    BIO_set_init(bio, 1);
    SSL_set_bio(c->ssl, bio, bio); /* one BIO for both directions */
    return 0;
}

static bool name_is_ip(const char *host)
{
    unsigned char tmp[16];
    return inet_pton(AF_INET, host, tmp) == 1 || inet_pton(AF_INET6, host, tmp) == 1;
}

int conn_tls_client(net_conn_t *c, tls_ctx_t *tls, const char *name)
{
    int rc = conn_tls_attach(c, tls);
    if (rc)
        return rc;
    SSL_set_connect_state(c->ssl);
    if (!name_is_ip(name))
        SSL_set_tlsext_host_name(c->ssl, name);
    if (tls_ctx_verify(tls) != TLS_VERIFY_NONE) {
        if (name_is_ip(name))
            X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl), name);
        else
            SSL_set1_host(c->ssl, name);
    }
    return 0;
}

int net_conn_starttls(net_conn_t *c, tls_ctx_t *tls, const char *name, int64_t timeout_ms)
{
    if (c->ssl || !c->client || c->state != ST_OPEN || net_conn_queued(c))
        return -EINVAL;
    int rc = conn_tls_client(c, tls, name);
    if (rc) {
        if (c->ssl) {
            SSL_free(c->ssl);
            c->ssl = NULL;
        }
        return rc;
    }
    c->state = ST_HANDSHAKE;
    uv_timer_start(&c->timer, conn_on_timer, (uint64_t)(timeout_ms > 0 ? timeout_ms : 10000), 0);
    conn_start_reading(c);
    conn_tls_pump(c); /* the ClientHello */
    return 0;
}
