/*
 * gw_auth: agent logins at the gateway, in the order they are decided.
 *
 * 1. Lock-out. Failed logins are counted per client address (the
 *    WebSocket's TCP peer; IPv6 by /64) in a net/authguard: after
 *    --auth-max-failures in a row the address is locked out for
 *    --auth-lockout, doubling with each lock-out in a row. A locked-out
 *    address's Handshake is refused before anything else is looked at --
 *    its key is not hashed, a right one is refused too -- with
 *    Ack{Ok:false} and close 4429, both saying when to come back. Wrong
 *    keys, unknown names, certificate names that do not match, malformed
 *    first messages and handshake timeouts are failures.
 * 2. The verified-key cache: SHA-256(key) equal to the last key that
 *    verified for that name logs in at once (reconnects never wait).
 * 3. The key check: PBKDF2 in libuv's thread pool, at most a few at once
 *    (auth_slots). Logins waiting for one are queued per address and the
 *    addresses take turns (gw_authq), so a flood of wrong keys from one
 *    address delays others by a turn, not until the flood stops. An address
 *    with GW_AUTH_PER_ADDR logins waiting, or a full queue, gets 1013 for
 *    its next one (held until the next sweep, see refuse_busy); a login
 *    still waiting at its handshake deadline gets 1013.
 *    Unknown names are checked against a configured agent's hash and then
 *    refused, so timing does not reveal which names exist.
 *
 * Logging: no line per attempt. The guard's reports give one line per
 * address per --auth-log-interval with the count (agent_auth_failed, and
 * agent_auth_locked_out for refusals during a lock-out), one when a
 * lock-out starts, and the sweep flushes counts no later event did; 1013
 * refusals are summed the same way (agent_auth_busy).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "core/clock.h"
#include "core/log.h"
#include "core/str.h"
#include "tunnel/gw.h"
#include "tunnel/keyhash.h"

enum {
    GW_AUTH_PER_ADDR = 4,   /* logins one address may have waiting */
    GW_AUTH_MAX_WAITING = 256,
    GW_AUTH_MAX_SLOTS = 8,
    GW_CLOSE_LOCKED_OUT = 4429, /* private-use close code: HTTP's 429, for a WebSocket */
    GW_CLOSE_TRY_LATER = 1013,
    GW_AUTH_GUARD_MAX = 65536,  /* addresses the guard remembers */
};

#define GW_BUSY_REASON "server busy, try again later"

struct gw_auth_work {
    uv_work_t req;
    gw_authq_ent_t ent;
    gw_t *gw;
    gw_session_t *s; /* NULL once the session is gone */
    char host[64];   /* its address: the check counts even if the session left */
    char name[TUNNEL_NAME_MAX + 1];
    char hash[TUNNEL_KEYHASH_STRLEN];
    char *key;
    size_t keylen;
    unsigned char digest[32];
    bool found;
    int result;
};

/* The stand-in hash for unknown names when no agent is configured: a
 * well-formed one at the default count. */
static const char dummy_hash[] =
    "pbkdf2-sha256$100000$00000000000000000000000000000000$"
    "0000000000000000000000000000000000000000000000000000000000000000";

static gw_auth_work_t *work_of(gw_authq_ent_t *e)
{
    return (gw_auth_work_t *)((char *)e - offsetof(gw_auth_work_t, ent));
}

static void work_free(gw_auth_work_t *w)
{
    if (w->key) {
        OPENSSL_cleanse(w->key, w->keylen);
        free(w->key);
    }
    OPENSSL_cleanse(w, sizeof *w);
    free(w);
}

/* How many key checks run at once. libuv's pool (UV_THREADPOOL_SIZE
 * threads, 4 unless set, read when first used) also runs the resolver and
 * file system requests: one thread is always left to them. More checks than
 * cores would only make each slower. */
static unsigned auth_slots(void)
{
    long pool = 4;
    const char *v = getenv("UV_THREADPOOL_SIZE");
    if (v && *v)
        pool = strtol(v, NULL, 10);
    if (pool < 1)
        pool = 1;
    long n = pool > 1 ? pool - 1 : 1;
    long cpus = (long)uv_available_parallelism();
    if (n > cpus)
        n = cpus;
    if (n > GW_AUTH_MAX_SLOTS)
        n = GW_AUTH_MAX_SLOTS;
    return n < 1 ? 1 : (unsigned)n;
}

void gw_auth_init(gw_t *gw)
{
    const gw_opts_t *o = &gw->opts;
    /* With lock-outs off the guard still counts, for its log reports: a
     * threshold no address reaches (2^32 failures, each within a lock-out
     * period of the previous one). */
    bool off = o->auth_max_failures <= 0 || o->auth_lockout_ms <= 0;
    authguard_init(&gw->guard, GW_AUTH_GUARD_MAX, off ? UINT32_MAX : (uint32_t)o->auth_max_failures,
                   o->auth_lockout_ms);
    gw->guard.log_interval_ms = o->auth_log_interval_ms;
    gw_authq_init(&gw->authq, auth_slots(), GW_AUTH_PER_ADDR, GW_AUTH_MAX_WAITING);
    gw->auth_init = true;
}

/* ---- logging ------------------------------------------------------------- */

static void log_report(const authguard_report_t *rep, const char *agent, const char *reason)
{
    if (reason)
        log_warn("agent_auth_failed", LF_S("addr", rep->addr), LF_U("failures", rep->count),
                 LF_I("locked_ms", rep->locked_ms), LF_U("strike", rep->strike),
                 LF_S("agent", agent && *agent ? agent : "-"), LF_S("reason", reason));
    else
        log_warn("agent_auth_failed", LF_S("addr", rep->addr), LF_U("failures", rep->count),
                 LF_I("locked_ms", rep->locked_ms), LF_U("strike", rep->strike));
}

static void log_locked(const authguard_report_t *rep)
{
    log_warn("agent_auth_locked_out", LF_S("addr", rep->addr), LF_U("attempts", rep->count),
             LF_I("locked_ms", rep->locked_ms), LF_U("strike", rep->strike));
}

/* The guard's count mixes failures and attempts refused while locked out;
 * while the address is still locked out those are what it counted. */
static void sweep_report(const authguard_report_t *rep, void *ud)
{
    (void)ud;
    if (rep->locked_ms > 0)
        log_locked(rep);
    else
        log_report(rep, NULL, NULL);
}

static void busy_flush(gw_t *gw, int64_t now)
{
    log_warn("agent_auth_busy", LF_U("refused", gw->busy_unlogged),
             LF_U("waiting", gw_authq_waiting(&gw->authq)),
             LF_U("running", gw_authq_running(&gw->authq)));
    gw->busy_unlogged = 0;
    gw->busy_logged_ms = now ? now : 1;
}

void gw_auth_free(gw_t *gw)
{
    if (!gw->auth_init)
        return;
    /* say what no later event flushed */
    authguard_sweep(&gw->guard, INT64_MAX / 2, sweep_report, gw);
    if (gw->busy_unlogged)
        busy_flush(gw, clock_mono_ms());
    authguard_free(&gw->guard);
    gw_authq_free(&gw->authq);
    gw->auth_init = false;
}

/* ---- refusals ------------------------------------------------------------ */

/* Ack{Ok:false, message} (agents log it), then close. */
static void refuse(gw_session_t *s, uint16_t code, const char *message)
{
    tunnel_msg_t m = { .type = TUNNEL_ACK, .ok = false, .has = TUNNEL_F_MESSAGE };
    m.message = tunnel_s(message);
    gw_send(s, &m);
    gw_session_close(s, code, message);
}

static void refuse_locked(gw_session_t *s, int64_t locked_ms)
{
    char why[120];
    snprintf(why, sizeof why, "locked out: too many failed logins from this address; retry in %lld s",
             (long long)((locked_ms + 999) / 1000));
    s->failed = true; /* refused, not failed again */
    refuse(s, GW_CLOSE_LOCKED_OUT, why);
}

/* 1013. A login that found no place in the queue is answered by the next
 * sweep (within a second), not at once: a client that retries as soon as it
 * is refused -- every flood does -- would otherwise keep the loop busy with
 * connections to refuse, the CPU the key checks need. One that waited in
 * the queue already is answered at once. */
static void refuse_busy(gw_session_t *s, bool hold)
{
    gw_t *gw = s->gw;
    gw->c_auth_busy++;
    gw->busy_unlogged++;
    int64_t now = clock_mono_ms();
    if (!gw->busy_logged_ms || now - gw->busy_logged_ms >= gw->guard.log_interval_ms)
        busy_flush(gw, now);
    if (hold)
        s->busy = true;
    else
        gw_session_close(s, GW_CLOSE_TRY_LATER, GW_BUSY_REASON);
}

/* An attempt from a locked-out address: counted as refused (the guard's
 * report may say to log it). Returns how long the lock-out still lasts. */
static int64_t locked_out(gw_t *gw, const char *host, int64_t now)
{
    authguard_report_t rep;
    int64_t locked = authguard_check(&gw->guard, host, now, &rep);
    if (rep.log)
        log_locked(&rep);
    return locked;
}

/* When an address gets locked out, its logins still waiting are refused
 * now instead of hashed for nothing. */
static void refuse_waiting(gw_t *gw, const char *host, int64_t now)
{
    gw_authq_ent_t *e;
    while ((e = gw_authq_take(&gw->authq, host)) != NULL) {
        gw_auth_work_t *w = work_of(e);
        gw_session_t *s = w->s;
        work_free(w);
        s->auth = NULL;
        int64_t locked = locked_out(gw, s->host, now);
        refuse_locked(s, locked > 0 ? locked : 1);
    }
}

/* One failed login from host: counted, maybe logged, maybe a lock-out. */
static void count_failure(gw_t *gw, const char *host, const char *agent, const char *reason)
{
    int64_t now = clock_mono_ms();
    if (authguard_locked(&gw->guard, host, now) > 0) {
        locked_out(gw, host, now); /* already locked out: a refused attempt */
        return;
    }
    gw->c_auth_fail++;
    authguard_report_t rep;
    int64_t lock = authguard_fail(&gw->guard, host, now, &rep);
    if (rep.log)
        log_report(&rep, agent, reason);
    if (lock > 0)
        refuse_waiting(gw, host, now);
}

void gw_auth_failed(gw_session_t *s, const char *reason)
{
    if (s->failed)
        return;
    s->failed = true;
    count_failure(s->gw, s->host, s->name, reason);
}

/* ---- key checks ---------------------------------------------------------- */

static void auth_work(uv_work_t *req)
{
    gw_auth_work_t *w = req->data;
    int rc = tunnel_keyhash_verify(w->hash, w->key, w->keylen);
    w->result = w->found ? rc : -EACCES;
}

static void auth_after(uv_work_t *req, int status);

/* Start the waiting checks that have a slot, in the addresses' turns. */
static void pump(gw_t *gw)
{
    gw_authq_ent_t *e;
    while ((e = gw_authq_next(&gw->authq)) != NULL) {
        gw_auth_work_t *w = work_of(e);
        gw_session_t *s = w->s; /* waiting checks always have their session */
        if (clock_mono_ms() > s->deadline_ms) {
            gw_authq_done(&gw->authq);
            s->auth = NULL;
            work_free(w);
            refuse_busy(s, false);
            continue;
        }
        if (uv_queue_work(gw->loop, &w->req, auth_work, auth_after) != 0) {
            gw_authq_done(&gw->authq);
            s->auth = NULL;
            work_free(w);
            gw_session_close(s, WS_CLOSE_INTERNAL, "cannot verify now");
            continue;
        }
        gw->c_auth_hashes++;
    }
}

static void auth_after(uv_work_t *req, int status)
{
    gw_auth_work_t *w = req->data;
    gw_t *gw = w->gw;
    gw_session_t *s = w->s;
    gw_authq_done(&gw->authq);
    /* The configuration may have been reloaded meanwhile: the hash that
     * verified must still be the one configured for this name. */
    gw_agent_cfg_t *cfg = (gw_agent_cfg_t *)gw_agent_find(gw, w->name);
    bool ok = status == 0 && w->found && w->result == 0 && cfg && strcmp(cfg->hash, w->hash) == 0;
    if (ok) {
        memcpy(cfg->cache, w->digest, sizeof cfg->cache);
        cfg->cached = true;
    }
    if (s)
        s->auth = NULL;
    int64_t now = clock_mono_ms();
    /* It counts even when its connection is gone: otherwise a client that
     * hangs up after each Handshake would make us hash for free. */
    if (status == UV_ECANCELED) {
        /* not checked: neither a failure nor a success */
    } else if (authguard_locked(&gw->guard, w->host, now) > 0) {
        /* locked out while it was checked (by its neighbours' failures) */
        int64_t locked = locked_out(gw, w->host, now);
        if (s && !s->closing)
            refuse_locked(s, locked);
    } else if (ok) {
        authguard_ok(&gw->guard, w->host);
        if (s && !s->closing)
            gw_session_login(s);
    } else {
        if (s)
            s->failed = true;
        count_failure(gw, w->host, w->name, w->found ? "wrong key" : "unknown agent");
        if (s && !s->closing)
            refuse(s, WS_CLOSE_POLICY, "authentication failed");
    }
    work_free(w);
    pump(gw);
}

void gw_auth_start(gw_session_t *s, const tunnel_msg_t *m)
{
    gw_t *gw = s->gw;
    memcpy(s->name, m->name.p, m->name.n);
    s->name[m->name.n] = '\0';
    /* the session speaks the lower of the two versions */
    s->version = !(m->has & TUNNEL_F_VERSION)         ? 0
                 : m->version >= TUNNEL_PROTO_VERSION ? TUNNEL_PROTO_VERSION
                                                      : (int)m->version;
    /* Data towards this agent is cut to its cap (the seed's is unknown: ours) */
    s->max_message = gw->opts.max_message;
    if ((m->has & TUNNEL_F_MAXMSG) && m->max_message >= 16384 && m->max_message < s->max_message)
        s->max_message = m->max_message;
    int64_t now = clock_mono_ms();
    int64_t locked = locked_out(gw, s->host, now);
    if (locked > 0) {
        refuse_locked(s, locked);
        return;
    }
    if (gw->opts.common.tls_ca && gw->opts.cert_name_match) {
        const tls_peer_t *p = ws_tls_peer(s->ws);
        if (!p || !p->verified || strcmp(p->cn, s->name) != 0) {
            char why[sizeof p->cn + 64];
            snprintf(why, sizeof why, "certificate CN '%s' is not the agent name",
                     p ? p->cn : "");
            gw_auth_failed(s, why);
            refuse(s, WS_CLOSE_POLICY, "authentication failed");
            return;
        }
    }
    const gw_agent_cfg_t *cfg = gw_agent_find(gw, s->name);
    unsigned char digest[32];
    SHA256((const unsigned char *)m->key.p, m->key.n, digest);
    if (cfg && cfg->cached && CRYPTO_memcmp(digest, cfg->cache, sizeof digest) == 0) {
        authguard_ok(&gw->guard, s->host);
        gw_session_login(s);
        return;
    }
    gw_auth_work_t *w = calloc(1, sizeof *w);
    if (!w || !(w->key = malloc(m->key.n ? m->key.n : 1))) {
        free(w);
        gw_session_close(s, WS_CLOSE_INTERNAL, "out of memory");
        return;
    }
    memcpy(w->key, m->key.p, m->key.n);
    w->keylen = m->key.n;
    memcpy(w->digest, digest, sizeof digest);
    str_copy(w->name, sizeof w->name, s->name);
    str_copy(w->host, sizeof w->host, s->host);
    w->found = cfg != NULL;
    const gw_agent_cfg_t *like = cfg ? cfg : gw->nagents ? &gw->agents[0] : NULL;
    str_copy(w->hash, sizeof w->hash, like ? like->hash : dummy_hash);
    w->gw = gw;
    w->s = s;
    w->req.data = w;
    gw_authq_ent_t *evicted = NULL;
    int rc = gw_authq_push(&gw->authq, &w->ent, s->host, &evicted);
    if (evicted) {
        /* the queue was full: an address with more waiting made room */
        gw_auth_work_t *ew = work_of(evicted);
        gw_session_t *es = ew->s;
        es->auth = NULL;
        work_free(ew);
        refuse_busy(es, false);
    }
    if (rc != 0) {
        work_free(w);
        if (rc == -ENOMEM)
            gw_session_close(s, WS_CLOSE_INTERNAL, "out of memory");
        else
            refuse_busy(s, true);
        return;
    }
    s->auth = w;
    pump(gw);
}

void gw_auth_session_gone(gw_session_t *s)
{
    gw_auth_work_t *w = s->auth;
    if (!w)
        return;
    s->auth = NULL;
    if (gw_authq_queued(&w->ent)) {
        gw_authq_remove(&s->gw->authq, &w->ent);
        work_free(w);
    } else {
        w->s = NULL; /* running: it finishes on its own and frees itself */
    }
}

void gw_auth_sweep(gw_t *gw, int64_t now)
{
    for (gw_session_t *s = gw->sessions; s; s = s->next) {
        gw_auth_work_t *w = s->auth;
        if (s->closing)
            continue;
        if (s->busy) {
            gw_session_close(s, GW_CLOSE_TRY_LATER, GW_BUSY_REASON);
        } else if (w && gw_authq_queued(&w->ent) && now > s->deadline_ms) {
            gw_authq_remove(&gw->authq, &w->ent);
            s->auth = NULL;
            work_free(w);
            refuse_busy(s, false);
        }
    }
    authguard_sweep(&gw->guard, now, sweep_report, gw);
    if (gw->busy_unlogged && now - gw->busy_logged_ms >= gw->guard.log_interval_ms)
        busy_flush(gw, now);
}
