/*
 * acs_stun: the ACS's STUN server (--stun-listen; TR-111 Part 2, RFC 5389).
 *
 * Any Binding Request is answered with the source address it came from
 * (XOR-MAPPED-ADDRESS, and MAPPED-ADDRESS for older clients). A request with
 * CONNECTION-REQUEST-BINDING also tells us where a CPE's UDP connection
 * requests reach it: its USERNAME is the device id the ACS knows it by
 * ("OUI-ProductClass-Serial" as store_device_id writes it; what cpe-sim's
 * --stun-username {id} sends). With --stun-password, such a request must
 * carry MESSAGE-INTEGRITY made with it (401 otherwise; an address that keeps
 * sending wrong ones is locked out like a CPE that keeps failing its login:
 * --cpe-auth-max-failures, net/authguard). A binding that is
 * new or changed (another source, or BINDING-CHANGE) is written to the
 * device at once (store_device_set_facts: UDP address, when, NAT), without
 * waiting for an Inform.
 *
 * Made-up USERNAMEs (anyone may send them without --stun-password, from
 * any source, spoofed ones included) must not push real bindings out. So a
 * USERNAME the table does not hold yet is on probation: its write to the
 * store is also the check that the device exists (-ENOENT: no such
 * device; nothing waits on the loop). Only once the store confirmed it
 * does the binding join the table of known devices, the one UDP connection
 * requests use and --stun-max-bindings caps (LRU among known devices only:
 * a made-up name never evicts anything). Probation is small and fixed:
 * PROBATION_MAX entries in all, PROBATION_PER_ADDR from one source address
 * (hashed into a fixed table; a carrier NAT's thousands of CPEs pass, as an
 * entry lasts one store round trip); past it a new name is answered but
 * not learnt (counted, one line per 10 s), and comes again at its next
 * keep-alive. So a flood costs at most PROBATION_MAX store jobs at a time,
 * and the known devices' bindings stay.
 *
 * Bounded: known bindings live in an hmap by device id with an LRU list, at
 * most --stun-max-bindings (the least recently heard goes first); a per-source
 * token bucket (--stun-rate, a fixed table hashed by address, so a flood
 * from many addresses costs no memory) drops floods; malformed datagrams are
 * dropped, counted in /metrics and logged at most once per 10 s. The socket
 * is also the one UDP connection requests leave from (acs_cr_udp.c), so
 * that the CPE's NAT mapping, opened towards this address, lets them in.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acs/acs_internal.h"
#include "codec/stun.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/str.h"

/* PROBATION_*: bindings waiting for the store's word that their device
 * exists, at most, and from one source address (see above). */
enum { BUCKETS = 8192, LOG_WINDOW_MS = 10000, PROBATION_MAX = 1024, PROBATION_PER_ADDR = 64 };

typedef struct binding {
    struct binding *prev, *next; /* known ones' LRU: head = least recently heard */
    int64_t seen_ms;
    stun_addr_t addr;
    uint32_t slot;               /* on probation: its source address's counter */
    bool probation;
    char id[];                   /* the hmap's key, borrowed */
} binding_t;

typedef struct bucket {
    uint8_t ip[16];
    double tokens;
    int64_t at_ms;
} bucket_t;

struct acs_stun {
    acs_t *a;
    uv_udp_t h;
    bool open;
    char addr[NET_ADDR_STR];
    hmap_t bindings;             /* known devices (the store confirmed them) */
    binding_t *head, *tail;
    hmap_t probation;            /* USERNAMEs waiting for the store's word */
    uint16_t *probation_by_addr; /* BUCKETS counters, by source address */
    size_t bytes;                /* held by bindings (table slots included) */
    bucket_t *buckets;
    uint64_t k0, k1;
    authguard_t guard;           /* addresses that keep failing --stun-password */
    uint8_t rbuf[2048];
    /* counters for /metrics */
    uint64_t requests, answered, learnt, changed, unknown_device, auth_failed, malformed, limited, evicted,
        errors_420, locked, probation_full;
    int64_t logged_ms, logged_unknown_ms, logged_full_ms;
    uint64_t log_suppressed, unknown_suppressed, full_suppressed;
};

/* Wrong MESSAGE-INTEGRITY: one line per address per minute, and when a
 * lock-out starts (the guard says when). */
static void say_guard(const authguard_report_t *rep, void *ud)
{
    (void)ud;
    log_warn("stun_auth_failed", LF_S("addr", rep->addr), LF_U("failures", rep->count),
             LF_I("locked_ms", rep->locked_ms), LF_U("strike", rep->strike));
}

/* ---- rate limit ------------------------------------------------------------------ */

/* A source address (IPv6 by /64) as a key and its slot in the fixed
 * tables (the token buckets, the probation counters): two sources hashing
 * to one slot share it, which only makes the limits stricter for them. */
static uint32_t addr_slot(const struct acs_stun *s, const stun_addr_t *sa, uint8_t key[16])
{
    memset(key, 0, 16);
    if (sa->family == 4) {
        key[10] = key[11] = 0xff;
        memcpy(key + 12, sa->ip, 4);
    } else {
        memcpy(key, sa->ip, 16);
    }
    net_ip_client_key(key);
    return (uint32_t)(hmap_siphash(s->k0, s->k1, key, 16) % BUCKETS);
}

/* A token bucket per source address. */
static bool allowed(struct acs_stun *s, const struct sockaddr *from, int64_t now)
{
    int64_t rate = s->a->o.stun_rate;
    if (rate <= 0)
        return true;
    stun_addr_t sa;
    if (stun_addr_from_sockaddr(from, &sa) != 0)
        return false;
    uint8_t key[16];
    bucket_t *b = &s->buckets[addr_slot(s, &sa, key)];
    double burst = 2.0 * (double)rate;
    if (memcmp(b->ip, key, 16) != 0 || !b->at_ms) {
        memcpy(b->ip, key, 16);
        b->tokens = burst;
        b->at_ms = now;
    }
    b->tokens += (double)(now - b->at_ms) * (double)rate / 1000.0;
    if (b->tokens > burst)
        b->tokens = burst;
    b->at_ms = now;
    if (b->tokens < 1.0)
        return false;
    b->tokens -= 1.0;
    return true;
}

static void log_drop(struct acs_stun *s, const char *event, const char *reason, const struct sockaddr *from)
{
    int64_t now = clock_mono_ms();
    if (s->logged_ms && now - s->logged_ms < LOG_WINDOW_MS) {
        s->log_suppressed++;
        return;
    }
    char peer[NET_ADDR_STR];
    net_addr_format(from, peer, sizeof peer);
    log_warn(event, LF_S("peer", peer), LF_S("reason", reason), LF_U("suppressed", s->log_suppressed));
    s->logged_ms = now;
    s->log_suppressed = 0;
}

/* ---- bindings -------------------------------------------------------------------- */

static void lru_unlink(struct acs_stun *s, binding_t *b)
{
    if (b->prev)
        b->prev->next = b->next;
    else
        s->head = b->next;
    if (b->next)
        b->next->prev = b->prev;
    else
        s->tail = b->prev;
    b->prev = b->next = NULL;
}

static void lru_push(struct acs_stun *s, binding_t *b)
{
    b->prev = s->tail;
    b->next = NULL;
    if (s->tail)
        s->tail->next = b;
    else
        s->head = b;
    s->tail = b;
}

static size_t binding_bytes(const binding_t *b)
{
    return sizeof *b + strlen(b->id) + 1 + 2 * sizeof(hmap_slot_t); /* slots at <= 3/4 load */
}

static void binding_drop(struct acs_stun *s, binding_t *b)
{
    if (b->probation) {
        hmap_del(&s->probation, b->id, strlen(b->id));
        s->probation_by_addr[b->slot]--;
    } else {
        hmap_del(&s->bindings, b->id, strlen(b->id));
        lru_unlink(s, b);
    }
    s->bytes -= binding_bytes(b);
    free(b);
}

static binding_t *binding_new(struct acs_stun *s, hmap_t *in, const char *id, size_t idlen,
                              const stun_addr_t *addr, int64_t now)
{
    binding_t *b = calloc(1, sizeof *b + idlen + 1);
    if (!b)
        return NULL;
    memcpy(b->id, id, idlen);
    if (hmap_put(in, b->id, idlen, b) != 0) {
        free(b);
        return NULL;
    }
    b->addr = *addr;
    b->seen_ms = now;
    s->bytes += binding_bytes(b);
    return b;
}

/* The store confirmed the device: its binding joins the known ones (the
 * least recently heard known one goes when they are --stun-max-bindings). */
static void known(struct acs_stun *s, const char *id, const stun_addr_t *addr)
{
    size_t idlen = strlen(id);
    binding_t *b = hmap_get(&s->bindings, id, idlen);
    if (b) {
        b->addr = *addr;
        return;
    }
    while (hmap_len(&s->bindings) >= (size_t)s->a->o.stun_max_bindings && s->head) {
        binding_drop(s, s->head);
        s->evicted++;
    }
    if ((b = binding_new(s, &s->bindings, id, idlen, addr, clock_mono_ms())) != NULL) {
        lru_push(s, b);
        s->learnt++;
    }
}

/* One line per LOG_WINDOW_MS for each kind of refusal (a flood is one). */
static bool log_window(int64_t *logged_ms, uint64_t *suppressed)
{
    int64_t now = clock_mono_ms();
    if (*logged_ms && now - *logged_ms < LOG_WINDOW_MS) {
        (*suppressed)++;
        return false;
    }
    *logged_ms = now;
    return true;
}

/* Kept small: a burst of new bindings queues one per device (the facts
 * themselves, ~600 bytes, are made on the store's thread). */
typedef struct facts_job {
    acs_t *a;
    int64_t at;
    stun_addr_t addr;
    bool change, fresh;      /* fresh: the binding is on probation */
    char id[];
} facts_job_t;

static int facts_run(store_t *st, void *ud)
{
    facts_job_t *j = ud;
    store_device_facts_t f = STORE_DEVICE_FACTS_NONE;
    f.has_udp = true;
    acs_stun_addr_text(&j->addr, f.cr_udp, sizeof f.cr_udp);
    f.cr_udp_at = j->at;
    f.nat = 1;
    return store_device_set_facts(st, j->id, &f);
}

/* Written: logged once per binding, here rather than as the datagram came,
 * so that made-up USERNAMEs (anyone may send them without --stun-password)
 * cost only the rate-limited line below. A binding on probation leaves it:
 * into the known ones when the store had the device, otherwise gone (a
 * USERNAME that names no device, logged at most once per 10 s; a store
 * error: the next keep-alive tries again). A known device the store no
 * longer has (deleted) loses its binding. The server may be gone (shutdown
 * drains the store's queue after it). */
static void facts_done(int rc, void *ud)
{
    facts_job_t *j = ud;
    struct acs_stun *s = j->a->stun;
    binding_t *b = s ? hmap_gets(j->fresh ? &s->probation : &s->bindings, j->id) : NULL;
    if (b && j->fresh)
        binding_drop(s, b);
    if (rc == 0) {
        if (s && j->fresh)
            known(s, j->id, &j->addr);
        char text[NET_ADDR_STR];
        acs_stun_addr_text(&j->addr, text, sizeof text);
        log_info("stun_binding", LF_S("device", j->id), LF_S("address", text), LF_B("change", j->change),
                 LF_B("new", j->fresh));
    } else if (rc == -ENOENT && s) {
        if (b && !j->fresh)
            binding_drop(s, b);
        s->unknown_device++;
        if (log_window(&s->logged_unknown_ms, &s->unknown_suppressed)) {
            log_info("stun_binding_unknown_device", LF_S("device", j->id),
                     LF_S("reason", "USERNAME names no device the ACS knows (its device id)"),
                     LF_U("suppressed", s->unknown_suppressed));
            s->unknown_suppressed = 0;
        }
    }
    free(j);
}

void acs_stun_addr_text(const stun_addr_t *a, char *out, size_t len)
{
    struct sockaddr_storage ss;
    stun_addr_to_sockaddr(a, &ss);
    net_addr_format((struct sockaddr *)&ss, out, len);
}

/* Write b's address to its device (the store's answer: facts_done). */
static int write_facts(struct acs_stun *s, const binding_t *b, bool change)
{
    acs_t *a = s->a;
    size_t idlen = strlen(b->id);
    facts_job_t *j = a->db ? calloc(1, sizeof *j + idlen + 1) : NULL;
    if (!j)
        return -ENOMEM;
    memcpy(j->id, b->id, idlen + 1);
    j->addr = b->addr;
    j->at = clock_real_s();
    j->a = a;
    j->change = change;
    j->fresh = b->probation;
    int rc = store_worker_submit(a->db, facts_run, facts_done, j);
    if (rc != 0)
        free(j);
    return rc;
}

/* The device's binding is this address (the request's source): a known
 * device's is remembered and written when it changed; an id not known yet
 * goes on probation while the store says whether it is a device. */
static void learn(struct acs_stun *s, const char *id, size_t idlen, const stun_addr_t *addr, bool change)
{
    binding_t *b = hmap_get(&s->bindings, id, idlen);
    int64_t now = clock_mono_ms();
    if (b) {
        bool same = b->addr.family == addr->family && b->addr.port == addr->port &&
                    memcmp(b->addr.ip, addr->ip, 16) == 0;
        lru_unlink(s, b);
        lru_push(s, b);
        b->seen_ms = now;
        if (same && !change)
            return;
        s->changed++;
        b->addr = *addr;
        (void)write_facts(s, b, change); /* not written: the next keep-alive tries again */
        return;
    }
    if (idlen >= STORE_ID_MAX) {
        s->unknown_device++; /* longer than any device id */
        return;
    }
    if (hmap_get(&s->probation, id, idlen))
        return; /* the store's word on it is on the way */
    uint8_t key[16];
    uint32_t slot = addr_slot(s, addr, key);
    if (hmap_len(&s->probation) >= PROBATION_MAX || s->probation_by_addr[slot] >= PROBATION_PER_ADDR) {
        s->probation_full++;
        if (log_window(&s->logged_full_ms, &s->full_suppressed)) {
            char peer[NET_ADDR_STR];
            acs_stun_addr_text(addr, peer, sizeof peer);
            log_warn("stun_probation_full", LF_S("peer", peer), LF_U("probation", hmap_len(&s->probation)),
                     LF_U("from_address", s->probation_by_addr[slot]),
                     LF_S("reason", "too many USERNAMEs the store has not confirmed yet (made-up ones?):"
                                    " answered, not learnt; known devices' bindings stay"),
                     LF_U("suppressed", s->full_suppressed));
            s->full_suppressed = 0;
        }
        return;
    }
    if (!(b = binding_new(s, &s->probation, id, idlen, addr, now)))
        return;
    b->probation = true;
    b->slot = slot;
    s->probation_by_addr[slot]++;
    if (write_facts(s, b, change) != 0)
        binding_drop(s, b); /* its next keep-alive tries again */
}

bool acs_stun_binding(acs_t *a, const char *device, stun_addr_t *out)
{
    struct acs_stun *s = a->stun;
    binding_t *b = s ? hmap_gets(&s->bindings, device) : NULL;
    if (b)
        *out = b->addr;
    return b != NULL;
}

/* ---- requests -------------------------------------------------------------------- */

static void reply(struct acs_stun *s, const struct sockaddr *to, const uint8_t *msg, size_t n)
{
    uv_buf_t b = uv_buf_init((char *)msg, (unsigned)n);
    if (n && uv_udp_try_send(&s->h, &b, 1, to) >= 0)
        s->answered++;
}

static void error_reply(struct acs_stun *s, const stun_msg_t *m, const struct sockaddr *to, int code,
                        const char *reason)
{
    uint8_t out[STUN_MAX];
    stun_enc_t e;
    stun_enc_start(&e, out, sizeof out, STUN_BINDING_ERROR, m->tid);
    stun_enc_error(&e, code, reason);
    if (code == 420)
        stun_enc_unknown(&e, m->unknown, m->n_unknown);
    stun_enc_fingerprint(&e);
    reply(s, to, out, stun_enc_end(&e));
}

static void on_request(struct acs_stun *s, const uint8_t *p, size_t n, const struct sockaddr *from)
{
    acs_t *a = s->a;
    stun_msg_t m;
    const char *why = NULL;
    if (stun_parse(p, n, &m, &why) != 0) {
        s->malformed++;
        log_drop(s, "stun_malformed", why, from);
        return; /* RFC 5389 7.3: silently discarded */
    }
    if (m.type != STUN_BINDING_REQUEST) {
        s->malformed++;
        log_drop(s, "stun_malformed", "not a Binding Request", from);
        return;
    }
    s->requests++;
    if (m.n_unknown) {
        s->errors_420++;
        error_reply(s, &m, from, 420, "Unknown Attribute");
        return;
    }
    stun_addr_t src;
    if (stun_addr_from_sockaddr(from, &src) != 0)
        return;
    const char *key = a->o.stun_password;
    bool signed_ok = false;
    if (m.crb) {
        if (key && *key) {
            /* guessing --stun-password costs lock-outs, as every password
             * the ACS checks does (--cpe-auth-max-failures, net/authguard) */
            char peer[NET_ADDR_STR];
            net_addr_host(from, peer, sizeof peer);
            int64_t now = clock_mono_ms();
            if (authguard_check(&s->guard, peer, now, NULL) > 0) {
                s->locked++;
                return; /* not even an answer */
            }
            signed_ok = stun_integrity_ok(p, n, &m, key, strlen(key));
            if (signed_ok)
                authguard_ok(&s->guard, peer);
            else if (m.has_integrity)
                authguard_fail(&s->guard, peer, now, NULL);
            if (!signed_ok) {
                s->auth_failed++;
                log_drop(s, "stun_unauthorized",
                         m.has_integrity ? "MESSAGE-INTEGRITY is not --stun-password's"
                                         : "no MESSAGE-INTEGRITY (--stun-password is set)",
                         from);
                error_reply(s, &m, from, 401, "Unauthorized");
                return;
            }
        }
        if (m.username)
            learn(s, m.username, m.username_len, &src, m.binding_change);
        else
            s->unknown_device++;
    }
    uint8_t out[STUN_MAX];
    stun_enc_t e;
    stun_enc_start(&e, out, sizeof out, STUN_BINDING_RESPONSE, m.tid);
    stun_enc_addr(&e, true, &src);
    stun_enc_addr(&e, false, &src);
    if (signed_ok)
        stun_enc_integrity(&e, key, strlen(key));
    stun_enc_fingerprint(&e);
    reply(s, from, out, stun_enc_end(&e));
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
    struct acs_stun *s = h->data;
    (void)suggested;
    *b = uv_buf_init((char *)s->rbuf, sizeof s->rbuf);
}

static void on_recv(uv_udp_t *h, ssize_t nread, const uv_buf_t *b, const struct sockaddr *from, unsigned flags)
{
    struct acs_stun *s = h->data;
    if (nread <= 0 || !from || s->a->stopping)
        return;
    if (!allowed(s, from, clock_mono_ms())) {
        s->limited++;
        log_drop(s, "stun_rate_limited", "more requests from this address than --stun-rate", from);
        return;
    }
    if (flags & UV_UDP_PARTIAL) {
        s->malformed++;
        log_drop(s, "stun_malformed", "datagram larger than any STUN message", from);
        return;
    }
    on_request(s, (const uint8_t *)b->base, (size_t)nread, from);
}

/* ---- life cycle ---------------------------------------------------------------- */

int acs_stun_start(acs_t *a)
{
    if (!a->o.stun_listen || !*a->o.stun_listen)
        return 0;
    struct acs_stun *s = calloc(1, sizeof *s);
    if (!s || !(s->buckets = calloc(BUCKETS, sizeof *s->buckets)) ||
        !(s->probation_by_addr = calloc(BUCKETS, sizeof *s->probation_by_addr))) {
        if (s)
            free(s->buckets);
        free(s);
        return -ENOMEM;
    }
    s->a = a;
    hmap_init(&s->bindings);
    hmap_init(&s->probation);
    authguard_init(&s->guard, 65536, (uint32_t)a->o.cpe_auth_max_failures, a->o.cpe_auth_lockout_ms);
    authguard_set_say(&s->guard, say_guard, NULL);
    str_random(&s->k0, sizeof s->k0);
    str_random(&s->k1, sizeof s->k1);
    struct sockaddr_storage ss;
    int rc = net_addr_resolve(a->o.stun_listen, &ss);
    if (rc == 0)
        rc = uv_udp_init(a->loop, &s->h);
    if (rc) {
        log_error("acs_listen", LF_S("addr", a->o.stun_listen), LF_S("what", "stun"), LF_ERR(rc));
        authguard_free(&s->guard);
        hmap_free(&s->bindings);
        hmap_free(&s->probation);
        free(s->buckets);
        free(s->probation_by_addr);
        free(s);
        return rc;
    }
    s->h.data = s;
    s->open = true;
    a->stun = s;
    rc = uv_udp_bind(&s->h, (struct sockaddr *)&ss, 0);
    if (rc == 0)
        rc = uv_udp_recv_start(&s->h, on_alloc, on_recv);
    if (rc) {
        log_error("acs_listen", LF_S("addr", a->o.stun_listen), LF_S("what", "stun"), LF_S("err", uv_strerror(rc)));
        return rc;
    }
    int len = sizeof ss;
    uv_udp_getsockname(&s->h, (struct sockaddr *)&ss, &len);
    net_addr_format((struct sockaddr *)&ss, s->addr, sizeof s->addr);
    log_info("stun_listening", LF_S("addr", s->addr), LF_B("integrity", a->o.stun_password != NULL),
             LF_I("max_bindings", a->o.stun_max_bindings), LF_I("rate", a->o.stun_rate));
    return 0;
}

const char *acs_stun_addr(const acs_t *a)
{
    return a->stun ? a->stun->addr : "off";
}

int acs_stun_send(acs_t *a, const stun_addr_t *to, const void *msg, size_t n)
{
    struct acs_stun *s = a->stun;
    if (!s || !s->open)
        return -ECANCELED;
    struct sockaddr_storage ss;
    stun_addr_to_sockaddr(to, &ss);
    uv_buf_t b = uv_buf_init((char *)msg, (unsigned)n);
    int rc = uv_udp_try_send(&s->h, &b, 1, (struct sockaddr *)&ss);
    return rc >= 0 ? 0 : rc;
}

static void on_closed(uv_handle_t *h)
{
    struct acs_stun *s = h->data;
    while (s->head)
        binding_drop(s, s->head);
    binding_t *b;
    for (size_t i = 0; (b = hmap_next(&s->probation, &i, NULL));)
        free(b); /* the table itself goes whole below */
    hmap_free(&s->bindings);
    hmap_free(&s->probation);
    authguard_free(&s->guard);
    free(s->buckets);
    free(s->probation_by_addr);
    free(s);
}

void acs_stun_stop(acs_t *a)
{
    struct acs_stun *s = a->stun;
    if (!s)
        return;
    a->stun = NULL;
    s->open = false;
    uv_close((uv_handle_t *)&s->h, on_closed);
}

int acs_stun_metrics(acs_t *a, buf_t *o)
{
    struct acs_stun *s = a->stun;
    if (!s)
        return 0;
    const struct {
        const char *name, *type, *help;
        double v;
    } rows[] = {
        { "outpost_acs_stun_requests_total", "counter", "STUN Binding Requests received (well-formed).",
          (double)s->requests },
        { "outpost_acs_stun_answers_total", "counter", "STUN responses sent.", (double)s->answered },
        { "outpost_acs_stun_bindings_learnt_total", "counter",
          "CPE bindings learnt: new in the table, the store having confirmed the device.", (double)s->learnt },
        { "outpost_acs_stun_bindings_changed_total", "counter", "CPE bindings that changed.", (double)s->changed },
        { "outpost_acs_stun_bindings_evicted_total", "counter",
          "Known devices' bindings dropped for --stun-max-bindings (by other known devices' only).",
          (double)s->evicted },
        { "outpost_acs_stun_probation_full_total", "counter",
          "USERNAMEs not learnt: too many waiting for the store to confirm their device (in all, or"
          " from one address).",
          (double)s->probation_full },
        { "outpost_acs_stun_unknown_devices_total", "counter",
          "Binding Requests whose USERNAME named no known device (or none).", (double)s->unknown_device },
        { "outpost_acs_stun_unauthorized_total", "counter", "Binding Requests refused with 401.",
          (double)s->auth_failed },
        { "outpost_acs_stun_locked_out_total", "counter",
          "Binding Requests dropped: their address keeps failing --stun-password.", (double)s->locked },
        { "outpost_acs_stun_unknown_attributes_total", "counter", "Binding Requests answered 420.",
          (double)s->errors_420 },
        { "outpost_acs_stun_malformed_total", "counter", "Datagrams dropped as malformed.", (double)s->malformed },
        { "outpost_acs_stun_rate_limited_total", "counter", "Datagrams dropped by --stun-rate.", (double)s->limited },
        { "outpost_acs_stun_bindings", "gauge", "Known devices' bindings in memory.",
          (double)hmap_len(&s->bindings) },
        { "outpost_acs_stun_probation", "gauge", "USERNAMEs waiting for the store to confirm their device.",
          (double)hmap_len(&s->probation) },
        { "outpost_acs_stun_binding_bytes", "gauge", "Memory the bindings hold (approximate).", (double)s->bytes },
    };
    int rc = 0;
    for (size_t i = 0; i < sizeof rows / sizeof rows[0] && !rc; i++)
        rc = metrics_one(o, rows[i].name, rows[i].type, rows[i].help, rows[i].v);
    return rc;
}
