/*
 * acs_session: the live-session tables (core/hmap by cookie and by device),
 * each CWMP connection's state, the inactivity timer (--session-timeout),
 * and the session's end.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acs/acs_session.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/str.h"

static void on_timeout(uv_timer_t *t)
{
    acs_session_t *s = t->data;
    uint64_t now = uv_now(s->a->loop);
    if (now < s->idle_deadline) { /* touched since it was armed: not idle yet */
        uv_timer_start(t, on_timeout, s->idle_deadline - now, 0);
        return;
    }
    s->a->n.timeouts++;
    log_info("cwmp_session_timeout", LF_S("device", s->device_id[0] ? s->device_id : "-"),
             LF_S("peer", s->peer));
    if (s->req) {
        http_respond_error(s->req, 503, "session timed out");
        s->req = NULL;
    }
    acs_session_end(s, "timeout");
}

/* The connection closed. A CPE that ignores cookies can never find its
 * session from another connection, so that session ends now instead of at
 * the timeout; any other session waits for its cookie on a new connection
 * (which must authenticate again). */
static void on_conn_gone(void *data)
{
    acs_conn_t *c = data;
    acs_session_t *s = c->s;
    free(c);
    if (!s)
        return;
    s->cn = NULL;
    if (s->cookieless) {
        log_info("cwmp_session_closed", LF_S("device", s->device_id[0] ? s->device_id : "-"),
                 LF_S("peer", s->peer), LF_S("reason", "the CPE closed the connection mid-session"));
        acs_session_end(s, "closed");
    }
}

acs_conn_t *acs_conn_get(http_req_t *req)
{
    acs_conn_t *c = http_req_conn_data(req);
    if (c)
        return c;
    if (!(c = calloc(1, sizeof *c)))
        return NULL;
    http_req_set_conn_data(req, c, on_conn_gone); /* released at once if the connection is gone */
    return http_req_conn_data(req);
}

/* c carries s from now on; whatever either carried before lets go. */
static void attach(acs_session_t *s, acs_conn_t *c)
{
    if (s->cn == c)
        return;
    if (s->cn)
        s->cn->s = NULL;
    if (c->s)
        c->s->cn = NULL;
    s->cn = c;
    c->s = s;
}

void acs_session_adopt(acs_session_t *s, http_req_t *req)
{
    acs_conn_t *c = acs_conn_get(req);
    if (c && !s->ended)
        attach(s, c);
}

acs_session_t *acs_session_new(acs_t *a, http_req_t *req, const char *user)
{
    acs_conn_t *c = acs_conn_get(req);
    acs_session_t *s = c ? calloc(1, sizeof *s) : NULL;
    if (!s)
        return NULL;
    s->timer = malloc(sizeof *s->timer);
    if (!s->timer || str_random_hex(s->cookie, 16) != 0) {
        free(s->timer);
        free(s);
        return NULL;
    }
    s->a = a;
    str_copy(s->user, sizeof s->user, user ? user : "");
    str_copy(s->peer, sizeof s->peer, http_req_peer(req));
    s->started_ms = clock_mono_ms();
    s->started_s = clock_real_s();
    buf_init(&s->log, strcmp(a->o.session_log, "none") != 0 ? ACS_SESSION_LOG_HELD : 0);
    /* 128 random bits: taken already means the generator is broken */
    if (hmap_put(&a->sessions_by_cookie, s->cookie, 32, s) != 0) {
        buf_free(&s->log);
        free(s->timer);
        free(s);
        return NULL;
    }
    uv_timer_init(a->loop, s->timer);
    s->timer->data = s;
    s->expect = CWMP_NONE;
    attach(s, c);
    a->nsessions++;
    acs_events_session(a); /* the minute ring's sessions */
    a->n.sessions++;
    acs_session_touch(s);
    return s;
}

/* Every request touches its session (some twice): the deadline moves, the
 * timer is armed once and re-armed only when it fires before the deadline
 * (on_timeout), not taken out of and put back in the loop's timer heap per
 * request. */
void acs_session_touch(acs_session_t *s)
{
    if (s->ended)
        return;
    uint64_t ms = (uint64_t)s->a->o.session_timeout_ms;
    s->idle_deadline = uv_now(s->a->loop) + ms;
    /* armed for later than that (a reload shortened --session-timeout): now */
    if (!uv_is_active((uv_handle_t *)s->timer) || uv_timer_get_due_in(s->timer) > ms)
        uv_timer_start(s->timer, on_timeout, ms, 0);
}

static const char *cookie_value(const char *hdr)
{
    /* Cookie: a=b; acs_session=HEX; c=d */
    const char *p = hdr;
    while (p && *p) {
        while (*p == ' ' || *p == ';')
            p++;
        if (strncmp(p, "acs_session=", 12) == 0)
            return p + 12;
        p = strchr(p, ';');
    }
    return NULL;
}

/* Whether a request without our cookie, on the connection that carries s,
 * is s's. Straight from a CPE it is: the connection is the proof (a CPE that
 * authenticated on it is not challenged again, cookie or not). From a
 * --trusted-proxy it may not be: a balancer that shares its connections to
 * the ACS between clients sends other CPEs' requests on it, which must not
 * get s's RPCs or answer them. So, from a trusted proxy, not when s's CPE
 * sent the cookie back before (a CPE keeps cookies or it does not; one that
 * does sends it with every request), nor when it is forwarded for another
 * address than s's Inform. What is left is a CPE that ignores cookies,
 * behind a sharing balancer, sharing its address too (docs/acs.md). */
static bool conn_request_is_its(const acs_t *a, const acs_session_t *s, const http_req_t *req)
{
    if (!a->ntrusted || !net_cidr_match(a->trusted, a->ntrusted, http_req_peer_host(req)))
        return true;
    if (s->cookie_back)
        return false;
    char ip[sizeof s->client_ip];
    http_req_client_ip(req, a->trusted, a->ntrusted, ip, sizeof ip);
    return strcmp(ip, s->client_ip) == 0;
}

acs_session_t *acs_session_find(acs_t *a, http_req_t *req, bool *own)
{
    acs_conn_t *conn = http_req_conn_data(req);
    if (conn)
        conn->by_conn = false;
    const char *c = cookie_value(http_req_header(req, "Cookie"));
    if (c) {
        char key[33];
        size_t n = strcspn(c, "; ");
        if (n == 32) {
            memcpy(key, c, 32);
            key[32] = '\0';
            /* SipHash-keyed: a peer cannot time its way to a cookie either */
            acs_session_t *s = hmap_get(&a->sessions_by_cookie, key, 32);
            if (s && !s->ended) {
                s->cookie_back = true;
                *own = conn && s->cn == conn;
                return s;
            }
        }
    }
    /* No (known) cookie: the same TCP connection continues its session
     * (the handler marks it cookieless once it knows the request is its). */
    if (conn && conn->s && conn_request_is_its(a, conn->s, req)) {
        conn->by_conn = true;
        *own = true;
        return conn->s;
    }
    *own = false;
    return NULL;
}

acs_session_t *acs_session_by_device(acs_t *a, const char *id)
{
    acs_session_t *s = hmap_gets(&a->sessions_by_device, id);
    return s && !s->ended ? s : NULL;
}

int acs_session_set_device(acs_session_t *s, const char *id)
{
    hmap_t *m = &s->a->sessions_by_device;
    str_copy(s->device_id, sizeof s->device_id, id);
    /* The device's older session ended first (superseded); should one still
     * be in the table, this one answers for the device from now on. */
    acs_session_t *old = hmap_gets(m, s->device_id);
    if (old) {
        hmap_del(m, s->device_id, strlen(s->device_id));
        old->by_device = false;
    }
    if (hmap_put(m, s->device_id, strlen(s->device_id), s) != 0)
        return -ENOMEM;
    s->by_device = true;
    return 0;
}

void acs_session_log(acs_session_t *s, const char *dir, const char *data, size_t len)
{
    if (!s->log.max)
        return;
    /* Over the cap the oldest part goes: the end of a session explains it. */
    size_t need = len + 64;
    if (need > s->log.max)
        return;
    if (buf_room(&s->log) < need) {
        buf_consume(&s->log, need - buf_room(&s->log) + s->log.max / 4);
        /* from a message's start: a cut one could begin inside a secret */
        if (s->log.len < 4 || memcmp(s->log.data, "--- ", 4) != 0) {
            const char *next = memmem(s->log.data, s->log.len, "\n--- ", 5);
            buf_consume(&s->log, next ? (size_t)(next + 1 - s->log.data) : s->log.len);
        }
    }
    (void)buf_printf(&s->log, "--- %s %zu bytes\n", dir, len);
    (void)buf_append(&s->log, data, len);
    (void)buf_append_byte(&s->log, '\n');
}

void acs_session_note_rpc(acs_session_t *s, const char *name, int fault)
{
    char item[64];
    size_t cap = sizeof s->rpc_list;
    if (s->rpc_len >= cap - 5) /* full: "...", said once */
        return;
    int n = name ? snprintf(item, sizeof item, "%s%s", s->rpc_len ? "," : "", name)
                 : snprintf(item, sizeof item, ":%d", fault);
    if (n < 0 || (size_t)n >= sizeof item)
        return;
    /* room is kept for ",..." after whatever fits */
    if (s->rpc_len + (size_t)n >= cap - 5) {
        memcpy(s->rpc_list + s->rpc_len, s->rpc_len ? ",..." : "...", s->rpc_len ? 5 : 4);
        s->rpc_len = cap - 5;
        return;
    }
    memcpy(s->rpc_list + s->rpc_len, item, (size_t)n + 1);
    s->rpc_len += (size_t)n;
}

void acs_session_note_cpe(acs_session_t *s, const char *name)
{
    char item[64];
    snprintf(item, sizeof item, "cpe:%s", name);
    acs_session_note_rpc(s, item, 0);
}

/* ---- the session row ---- */

/* Written in the background; for a session that ends with its 204, the
 * job holds the request instead of the session (which may be freed before
 * the commit) and answers it after the commit: nothing else refers to that
 * request once the session has ended. */
typedef struct end_job {
    store_session_t row;
    char *log;
    size_t loglen;
    http_req_t *req;   /* the request the 204 answers, or NULL */
} end_job_t;

static int end_run(store_t *st, void *ud)
{
    end_job_t *j = ud;
    if (!j->row.device_id[0])
        return 0;
    /* stored and shown without its secrets; hidden here, on the worker, as
     * few sessions' logs are kept and all are recorded */
    buf_t shown = BUF_INIT(2 * j->loglen + 64); /* "***" for a 1-byte secret: +2 */
    if (j->log && acs_soap_log_hide(j->log, j->loglen, &shown) != 0) {
        buf_free(&shown);
        shown = (buf_t)BUF_INIT(64);
        (void)buf_append_str(&shown, "(the log could not be stored without its secrets)\n");
    }
    /* the last ACS_SESSION_LOG_KEPT bytes, from a message's start (the
     * store would cut the tail anywhere) */
    const char *from = shown.data;
    if (shown.len > ACS_SESSION_LOG_KEPT) {
        const char *cut = shown.data + shown.len - ACS_SESSION_LOG_KEPT;
        const char *next = memmem(cut, ACS_SESSION_LOG_KEPT, "\n--- ", 5);
        from = next ? next + 1 : cut;
    }
    int rc = store_session_add(st, &j->row, from, shown.len - (size_t)(from - shown.data));
    buf_free(&shown);
    return rc;
}

static void end_done(int rc, void *ud)
{
    end_job_t *j = ud;
    if (j->req)
        acs_respond_stored_end(j->req, j->row.device_id, rc);
    free(j->log);
    free(j);
}

static void free_session(acs_session_t *s)
{
    buf_free(&s->log);
    uv_close((uv_handle_t *)s->timer, (uv_close_cb)free);
    free(s);
}

static void session_end(acs_session_t *s, const char *outcome, http_req_t *req)
{
    if (s->ended) {
        if (req) /* not reached: the callers hold a live session */
            http_respond_error(req, 503, "session ended");
        return;
    }
    acs_t *a = s->a;
    s->ended = true;
    uv_timer_stop(s->timer);
    metrics_hist_observe(&a->m.session_seconds, (double)(clock_mono_ms() - s->started_ms) / 1000.0);
    /* A request still waiting for a store job (a second Inform ended this
     * session meanwhile...): the job's completion will not answer it now. */
    if (s->req) {
        http_respond_error(s->req, 503, "session ended");
        s->req = NULL;
    }
    hmap_del(&a->sessions_by_cookie, s->cookie, 32);
    if (s->by_device) {
        hmap_del(&a->sessions_by_device, s->device_id, strlen(s->device_id));
        s->by_device = false;
    }
    if (s->cn) {
        s->cn->s = NULL;
        s->cn = NULL;
    }
    a->nsessions--;
    /* An RPC still out is unanswered: the work puts it back if that is safe. */
    if (s->work) {
        acs_work_end(s->work);
        s->work = NULL;
    }

    end_job_t *j = calloc(1, sizeof *j);
    int rc = j ? 0 : -ENOMEM;
    if (j) {
        str_copy(j->row.device_id, sizeof j->row.device_id, s->device_id);
        j->row.started = s->started_s;
        j->row.duration_ms = clock_mono_ms() - s->started_ms;
        str_copy(j->row.events, sizeof j->row.events, s->events);
        j->row.rpcs = s->rpcs;
        str_copy(j->row.rpc_list, sizeof j->row.rpc_list, s->rpc_list);
        str_copy(j->row.outcome, sizeof j->row.outcome, outcome);
        bool keep = strcmp(a->o.session_log, "all") == 0 || s->faulted ||
                    strcmp(outcome, "ok") != 0 || acs_session_logged(a, s->device_id);
        if (s->log.len && keep)
            j->log = buf_steal(&s->log, &j->loglen);
        j->req = req;
        if ((rc = store_worker_submit(a->db, end_run, end_done, j)) != 0) {
            j->req = NULL; /* answered below, the row not stored */
            end_done(rc, j);
        }
    }
    if (req && rc != 0)
        acs_respond_stored_end(req, s->device_id, rc);
    log_debug("cwmp_session_end", LF_S("device", s->device_id), LF_S("outcome", outcome),
              LF_I("rpcs", s->rpcs));
    if (s->refs == 0)
        free_session(s);
}

void acs_session_end(acs_session_t *s, const char *outcome)
{
    session_end(s, outcome, NULL);
}

void acs_session_end_answer(acs_session_t *s, http_req_t *req, const char *outcome)
{
    session_end(s, outcome, req);
}

void acs_session_unref(acs_session_t *s)
{
    if (--s->refs == 0 && s->ended)
        free_session(s);
}
