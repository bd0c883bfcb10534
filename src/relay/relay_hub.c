#include "relay/relay_hub.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "codec/relay_msg.h"
#include "core/clock.h"
#include "core/hmap.h"
#include "core/log.h"
#include "core/str.h"

struct relay_path {
    relay_peer_t *peer[2];
    char meeting[]; /* also the key in relay_hub.paths */
};

typedef struct peer_list {
    relay_peer_t *head;
    size_t n;
} peer_list_t;

struct relay_hub {
    relay_hub_ops_t ops;
    void *ud;
    relay_hub_opts_t o;
    hmap_t paths; /* meeting id -> relay_path_t; keyed SipHash, so a peer
                   * cannot pick colliding meeting ids */
    peer_list_t live;    /* PENDING, WAITING, PAIRED */
    peer_list_t closing; /* CLOSED, waiting for relay_hub_gone */
    relay_hub_stats_t st;
    bool shutting_down;
};

static const size_t HELLO_MAX = 4096; /* a HELLO is a few hundred bytes */

const char *relay_peer_state_name(relay_peer_state_t s)
{
    static const char *const names[] = { "pending", "waiting", "paired", "closed" };
    return (unsigned)s < 4 ? names[s] : "?";
}

/* ---- peer lists --------------------------------------------------------------- */

static void list_add(peer_list_t *l, relay_peer_t *p)
{
    p->prev = NULL;
    p->next = l->head;
    if (l->head)
        l->head->prev = p;
    l->head = p;
    l->n++;
}

static void list_del(peer_list_t *l, relay_peer_t *p)
{
    if (p->prev)
        p->prev->next = p->next;
    else
        l->head = p->next;
    if (p->next)
        p->next->prev = p->prev;
    p->prev = p->next = NULL;
    l->n--;
}

/* ---- path table --------------------------------------------------------------------- */

static relay_path_t *path_find(const relay_hub_t *h, const char *meeting)
{
    return hmap_gets(&h->paths, meeting);
}

static relay_path_t *path_get(relay_hub_t *h, const char *meeting)
{
    relay_path_t *p = path_find(h, meeting);
    if (p)
        return p;
    size_t n = strlen(meeting);
    p = calloc(1, sizeof *p + n + 1);
    if (!p)
        return NULL;
    memcpy(p->meeting, meeting, n + 1);
    if (hmap_put(&h->paths, p->meeting, n, p) != 0) {
        free(p);
        return NULL;
    }
    return p;
}

static void path_free(relay_hub_t *h, relay_path_t *path)
{
    hmap_del(&h->paths, path->meeting, strlen(path->meeting));
    free(path);
}

static size_t path_count(const relay_path_t *path)
{
    return (path->peer[0] != NULL) + (path->peer[1] != NULL);
}

/* ---- hub ---------------------------------------------------------------------------- */

relay_hub_t *relay_hub_new(const relay_hub_ops_t *ops, void *ud, const relay_hub_opts_t *opts)
{
    relay_hub_t *h = calloc(1, sizeof *h);
    if (!h)
        return NULL;
    h->ops = *ops;
    h->ud = ud;
    h->o = *opts;
    if (!h->o.now_ms)
        h->o.now_ms = clock_mono_ms;
    hmap_init(&h->paths);
    return h;
}

void relay_hub_free(relay_hub_t *h)
{
    if (!h)
        return;
    /* Normally empty by now; be tidy if the loop ended early. */
    relay_path_t *p;
    for (size_t i = 0; (p = hmap_next(&h->paths, &i, NULL));)
        free(p);
    hmap_free(&h->paths);
    free(h);
}

const relay_hub_stats_t *relay_hub_stats(relay_hub_t *h)
{
    h->st.peers = h->live.n + h->closing.n;
    return &h->st;
}

static void recount(relay_hub_t *h, relay_path_t *path, int sign)
{
    size_t n = path_count(path);
    if (n == 1)
        h->st.waiting_paths += (size_t)sign;
    else if (n == 2)
        h->st.paired_paths += (size_t)sign;
}

static void close_peer(relay_hub_t *h, relay_peer_t *p, uint16_t code, const char *reason);

/* Take p out of every relation at once, before anything else can run:
 * from here on no other peer can be paired with it or forwarded to it. */
static void detach(relay_hub_t *h, relay_peer_t *p)
{
    if (p->state == RELAY_PEER_CLOSED)
        return;
    if (p->state == RELAY_PEER_PENDING)
        h->st.pending--;
    p->state = RELAY_PEER_CLOSED;
    list_del(&h->live, p);
    list_add(&h->closing, p);
    relay_path_t *path = p->path;
    relay_peer_t *q = p->partner;
    if (path) {
        recount(h, path, -1);
        for (int i = 0; i < 2; i++)
            if (path->peer[i] == p)
                path->peer[i] = NULL;
        recount(h, path, +1);
        p->path = NULL;
        if (path_count(path) == 0)
            path_free(h, path); /* before the partner's fate, which may free it too */
    }
    p->partner = NULL;
    if (q) {
        q->partner = NULL;
        h->st.partner_left++;
        if (h->o.keep_waiting && !h->shutting_down) {
            q->state = RELAY_PEER_WAITING;
            q->since_ms = h->o.now_ms();
            if (q->paused) {
                q->paused = false;
                h->ops.resume(q, h->ud);
            }
            log_info("relay_partner_left", LF_S("path", q->meeting),
                     LF_S("peer_id", q->peer_id), LF_S("action", "waiting"));
        } else {
            close_peer(h, q, 1001, h->shutting_down ? "relay shutting down" : "partner left");
        }
    }
}

static void close_peer(relay_hub_t *h, relay_peer_t *p, uint16_t code, const char *reason)
{
    if (p->state == RELAY_PEER_CLOSED)
        return;
    detach(h, p);
    h->ops.close(p, code, reason, h->ud); /* may call relay_hub_gone(p) */
}

void relay_hub_close(relay_hub_t *h, relay_peer_t *p, uint16_t code, const char *reason)
{
    close_peer(h, p, code, reason);
}

void relay_hub_shutdown(relay_hub_t *h)
{
    h->shutting_down = true;
    while (h->live.head)
        close_peer(h, h->live.head, 1001, "relay shutting down");
}

int relay_hub_check_busy(const relay_hub_t *h, const char *meeting)
{
    const relay_path_t *path = path_find(h, meeting);
    return path && path_count(path) == 2 ? -EBUSY : 0;
}

void relay_hub_note_busy(relay_hub_t *h) { h->st.busy_rejects++; }

void relay_hub_attach(relay_hub_t *h, relay_peer_t *p)
{
    p->state = RELAY_PEER_PENDING;
    p->path = NULL;
    p->partner = NULL;
    p->paused = false;
    p->had_partner = false;
    p->hello = BUF_INIT(HELLO_MAX);
    p->since_ms = h->o.now_ms();
    list_add(&h->live, p);
    h->st.pending++;
    h->st.connections_total++;
}

void relay_hub_gone(relay_hub_t *h, relay_peer_t *p)
{
    detach(h, p); /* no-op when we closed it */
    list_del(&h->closing, p);
    buf_free(&p->hello);
}

/* Send one message to p; a transport that cannot take it is closed. */
static bool deliver(relay_hub_t *h, relay_peer_t *p, bool binary, const void *data, size_t len)
{
    if (h->ops.send(p, binary, data, len, h->ud) != 0) {
        h->st.overflow_closes++;
        log_warn("relay_send_overflow", LF_S("path", p->meeting), LF_S("peer_id", p->peer_id),
                 LF_U("queued", h->ops.queued(p, h->ud)));
        close_peer(h, p, 1011, "send queue overflow");
        return false;
    }
    p->msgs_out++;
    p->bytes_out += len;
    return true;
}

static void pair(relay_hub_t *h, relay_peer_t *a, relay_peer_t *b)
{
    a->partner = b;
    b->partner = a;
    a->state = b->state = RELAY_PEER_PAIRED;
    a->had_partner = b->had_partner = true;
    a->since_ms = b->since_ms = h->o.now_ms();
    h->st.pairings++;
    log_info("relay_paired", LF_S("path", a->meeting), LF_S("a_class", a->peer_class),
             LF_S("a_id", a->peer_id), LF_S("b_class", b->peer_class), LF_S("b_id", b->peer_id));
    /* Each side gets the other's HELLO before anything else, the newcomer
     * (b) first. If a send fails, closing that side unpairs both (the other
     * waits or is closed). */
    if (deliver(h, b, false, a->hello.data, a->hello.len) && b->partner == a)
        deliver(h, a, false, b->hello.data, b->hello.len);
}

static void reject(relay_hub_t *h, relay_peer_t *p, const char *reason)
{
    h->st.protocol_rejects++;
    log_warn("relay_reject", LF_S("path", p->meeting), LF_S("peer", p->remote), LF_S("reason", reason));
    close_peer(h, p, 1008, reason);
}

static void on_hello(relay_hub_t *h, relay_peer_t *p, bool binary, const void *data, size_t len)
{
    if (binary) {
        reject(h, p, "expected a CONN:HELLO text message");
        return;
    }
    relay_env_t env;
    relay_hello_t hello;
    char err[RELAY_ERR_LEN] = "";
    if (relay_env_decode(&env, data, len, err, sizeof err) || relay_hello_check(&env, &hello, err, sizeof err)) {
        relay_env_free(&env);
        reject(h, p, err);
        return;
    }
    str_copy(p->peer_class, sizeof p->peer_class, hello.peer_class);
    str_copy(p->peer_id, sizeof p->peer_id, hello.peer_id);
    relay_env_free(&env);
    h->st.hellos++;
    relay_path_t *path = path_get(h, p->meeting);
    if (!path || buf_append(&p->hello, data, len)) {
        if (path && path_count(path) == 0)
            path_free(h, path);
        reject(h, p, path ? "HELLO too large" : "out of memory");
        return;
    }
    if (path_count(path) == 2) {
        h->st.busy_rejects++;
        log_warn("relay_path_busy", LF_S("path", p->meeting), LF_S("peer", p->remote),
                 LF_S("peer_id", p->peer_id));
        close_peer(h, p, 1008, "path busy");
        return;
    }
    h->st.pending--;
    recount(h, path, -1);
    relay_peer_t *other = path->peer[0] ? path->peer[0] : path->peer[1];
    path->peer[path->peer[0] ? 1 : 0] = p;
    recount(h, path, +1);
    p->path = path;
    p->state = RELAY_PEER_WAITING;
    if (other)
        pair(h, other, p);
    else
        log_info("relay_waiting", LF_S("path", p->meeting), LF_S("peer_class", p->peer_class),
                 LF_S("peer_id", p->peer_id), LF_S("subject", p->subject));
}

void relay_hub_message(relay_hub_t *h, relay_peer_t *p, bool binary, const void *data, size_t len)
{
    p->msgs_in++;
    p->bytes_in += len;
    switch (p->state) {
    case RELAY_PEER_PENDING:
        on_hello(h, p, binary, data, len);
        return;
    case RELAY_PEER_WAITING:
        if (!p->had_partner) {
            reject(h, p, "message before partner");
        } else {
            /* Meant for the partner that just left: it cannot be delivered
             * and must not reach whoever comes next. */
            p->dropped++;
            h->st.dropped++;
        }
        return;
    case RELAY_PEER_PAIRED: {
        relay_peer_t *q = p->partner;
        if (!deliver(h, q, binary, data, len))
            return;
        h->st.messages++;
        h->st.bytes += len;
        if (!p->paused && q->state == RELAY_PEER_PAIRED && h->ops.congested(q, h->ud)) {
            p->paused = true;
            h->st.pauses++;
            h->ops.pause(p, h->ud);
        }
        return;
    }
    case RELAY_PEER_CLOSED:
        return; /* in flight when we closed it */
    }
}

void relay_hub_drained(relay_hub_t *h, relay_peer_t *p)
{
    relay_peer_t *q = p->partner;
    if (p->state == RELAY_PEER_PAIRED && q && q->paused) {
        q->paused = false;
        h->ops.resume(q, h->ud);
    }
}

void relay_hub_hello_timeout(relay_hub_t *h, relay_peer_t *p)
{
    if (p->state == RELAY_PEER_PENDING)
        reject(h, p, "no CONN:HELLO in time");
}

void relay_hub_each_path(const relay_hub_t *h, relay_hub_path_fn cb, void *ud)
{
    relay_path_t *p;
    for (size_t i = 0; (p = hmap_next(&h->paths, &i, NULL));)
        cb(p->meeting, p->peer[0] ? p->peer[0] : p->peer[1], p->peer[0] ? p->peer[1] : NULL, ud);
}

size_t relay_hub_peer_queued(relay_hub_t *h, relay_peer_t *p)
{
    return p->state == RELAY_PEER_CLOSED ? 0 : h->ops.queued(p, h->ud);
}
