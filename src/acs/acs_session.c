/*
 * acs_session: the live-session tables (two fixed hash tables with chains,
 * one list), each CWMP connection's state, the 30 s inactivity timer, and
 * the session's end.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "acs/acs_session.h"
#include "core/clock.h"
#include "core/hmap.h"
#include "core/log.h"
#include "core/str.h"

/* Keyed SipHash: device ids come from CPEs, which must not be able to pick
 * ids that share a chain. */
uint32_t acs_hash(const acs_t *a, const char *s)
{
    return (uint32_t)hmap_siphash(a->hash_key[0], a->hash_key[1], s, strlen(s)) &
           (ACS_HASH_BUCKETS - 1);
}

/* which: 0 cookie chain, 1 device chain */
static acs_session_t **next_of(acs_session_t *s, int which)
{
    return which == 0 ? &s->next_cookie : &s->next_device;
}

static void unlink_chain(acs_session_t **head, acs_session_t *s, int which)
{
    for (acs_session_t **p = head; *p; p = next_of(*p, which)) {
        if (*p == s) {
            *p = *next_of(s, which);
            return;
        }
    }
}

static void on_timeout(uv_timer_t *t)
{
    acs_session_t *s = t->data;
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
    buf_init(&s->log, strcmp(a->o.session_log, "none") != 0 ? 256 * 1024 : 0);
    uv_timer_init(a->loop, s->timer);
    s->timer->data = s;
    uint32_t h = acs_hash(a, s->cookie);
    s->next_cookie = a->by_cookie[h];
    a->by_cookie[h] = s;
    attach(s, c);
    s->next_all = a->all;
    if (a->all)
        a->all->prev_all = s;
    a->all = s;
    a->nsessions++;
    a->n.sessions++;
    acs_session_touch(s);
    return s;
}

void acs_session_touch(acs_session_t *s)
{
    if (!s->ended)
        uv_timer_start(s->timer, on_timeout, (uint64_t)s->a->o.session_timeout_ms, 0);
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

acs_session_t *acs_session_find(acs_t *a, http_req_t *req, bool *own)
{
    acs_conn_t *conn = http_req_conn_data(req);
    const char *c = cookie_value(http_req_header(req, "Cookie"));
    if (c) {
        char key[33];
        size_t n = strcspn(c, "; ");
        if (n == 32) {
            memcpy(key, c, 32);
            key[32] = '\0';
            for (acs_session_t *s = a->by_cookie[acs_hash(a, key)]; s; s = s->next_cookie)
                if (!s->ended && str_ct_equal(s->cookie, 32, key, 32)) {
                    *own = conn && s->cn == conn;
                    return s;
                }
        }
    }
    /* No (known) cookie: the same TCP connection continues its session. */
    if (conn && conn->s) {
        conn->s->cookieless = true;
        *own = true;
        return conn->s;
    }
    *own = false;
    return NULL;
}

acs_session_t *acs_session_by_device(acs_t *a, const char *id)
{
    for (acs_session_t *s = a->by_device[acs_hash(a, id)]; s; s = s->next_device)
        if (!s->ended && strcmp(s->device_id, id) == 0)
            return s;
    return NULL;
}

void acs_session_set_device(acs_session_t *s, const char *id)
{
    str_copy(s->device_id, sizeof s->device_id, id);
    uint32_t h = acs_hash(s->a, s->device_id);
    s->next_device = s->a->by_device[h];
    s->a->by_device[h] = s;
}

void acs_session_log(acs_session_t *s, const char *dir, const char *data, size_t len)
{
    if (!s->log.max)
        return;
    /* Over the cap the oldest part goes: the end of a session explains it. */
    size_t need = len + 64;
    if (need > s->log.max)
        return;
    if (buf_room(&s->log) < need)
        buf_consume(&s->log, need - buf_room(&s->log) + s->log.max / 4);
    (void)buf_printf(&s->log, "--- %s %zu bytes\n", dir, len);
    (void)buf_append(&s->log, data, len);
    (void)buf_append_byte(&s->log, '\n');
}

/* ---- the session row, written in the background ---- */

typedef struct end_job {
    store_session_t row;
    char *log;
    size_t loglen;
    int64_t requeue_id;
} end_job_t;

static int end_run(store_t *st, void *ud)
{
    end_job_t *j = ud;
    if (j->requeue_id)
        (void)store_task_requeue(st, j->requeue_id, clock_real_s());
    if (!j->row.device_id[0])
        return 0;
    return store_session_add(st, &j->row, j->log, j->loglen);
}

static void end_done(int rc, void *ud)
{
    end_job_t *j = ud;
    free(j->log);
    free(j);
}

static void free_session(acs_session_t *s)
{
    store_task_clear(&s->cur);
    buf_free(&s->log);
    uv_close((uv_handle_t *)s->timer, (uv_close_cb)free);
    free(s);
}

void acs_session_end(acs_session_t *s, const char *outcome)
{
    if (s->ended)
        return;
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
    unlink_chain(&a->by_cookie[acs_hash(a, s->cookie)], s, 0);
    if (s->device_id[0])
        unlink_chain(&a->by_device[acs_hash(a, s->device_id)], s, 1);
    if (s->cn) {
        s->cn->s = NULL;
        s->cn = NULL;
    }
    if (s->prev_all)
        s->prev_all->next_all = s->next_all;
    else
        a->all = s->next_all;
    if (s->next_all)
        s->next_all->prev_all = s->prev_all;
    a->nsessions--;

    end_job_t *j = calloc(1, sizeof *j);
    if (j) {
        str_copy(j->row.device_id, sizeof j->row.device_id, s->device_id);
        j->row.started = s->started_s;
        j->row.duration_ms = clock_mono_ms() - s->started_ms;
        str_copy(j->row.events, sizeof j->row.events, s->events);
        j->row.rpcs = s->rpcs;
        str_copy(j->row.outcome, sizeof j->row.outcome, outcome);
        if (s->has_cur) {
            bool again = false;
            for (const char *const *t = acs_requeue_types; *t; t++)
                again |= strcmp(*t, s->cur.type) == 0;
            if (again)
                j->requeue_id = s->cur.id;
            log_info("cwmp_task_unanswered", LF_I("task", s->cur.id), LF_S("type", s->cur.type),
                     LF_B("requeued", again));
        }
        bool keep = strcmp(a->o.session_log, "all") == 0 || s->faulted ||
                    strcmp(outcome, "ok") != 0;
        if (s->log.len && keep)
            j->log = buf_steal(&s->log, &j->loglen);
        if (store_worker_submit(a->db, end_run, end_done, j) != 0)
            end_done(0, j);
    }
    log_debug("cwmp_session_end", LF_S("device", s->device_id), LF_S("outcome", outcome),
              LF_I("rpcs", s->rpcs));
    if (s->refs == 0)
        free_session(s);
}

void acs_session_unref(acs_session_t *s)
{
    if (--s->refs == 0 && s->ended)
        free_session(s);
}
