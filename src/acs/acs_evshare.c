/*
 * acs_evshare: live events told to the other nodes' event streams, only
 * while they have some open (acs_evshare.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "acs/acs_evshare.h"
#include "acs/acs_internal.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/runtime.h"
#include "store/store_worker.h"

enum { NOTIFY_MAX = 7999 }; /* pg_notify's payload: under 8000 bytes */

struct acs_evshare {
    acs_t *a;
    uv_timer_t *watch, *flush;  /* heap: freed by their close */
    buf_t out;                  /* the notification being filled: "NODE " and lines */
    size_t head;                /* bytes of "NODE " */
    size_t lines;               /* lines in out */
    bool local, written;        /* this node's streams open; its interest as last written */
    bool others;                /* another node's streams want events (as last read) */
    bool ticking, stopping;
    int inflight;               /* notification jobs out */
    struct {
        uint64_t told, notes, dropped;
    } n;
};

/* ---- interest: ours written, the others' read ------------------------------------- */

typedef struct watch_job {
    acs_evshare_t *S;
    bool write, want;
    int64_t now;
    int others;
} watch_job_t;

static int watch_run(store_t *st, void *ud)
{
    watch_job_t *j = ud;
    int rc = j->write ? store_watch_set(st, "events", j->want ? j->now + ACS_EVSHARE_WATCH_TTL_S : 0, j->now)
                      : 0;
    if (rc < 0)
        return rc;
    j->others = store_watched(st, "events", j->now);
    return j->others < 0 ? j->others : 0;
}

static void watch_tick(uv_timer_t *t);

static void watch_done(int rc, void *ud)
{
    watch_job_t *j = ud;
    acs_evshare_t *S = j->S;
    S->ticking = false;
    if (rc == 0) {
        S->written = j->want;
        S->others = j->others == 1;
    }
    free(j);
    /* the streams opened or closed while the job was out: at once */
    if (!S->stopping && rc == 0 && S->written != S->local)
        watch_tick(S->watch);
}

static void watch_tick(uv_timer_t *t)
{
    acs_evshare_t *S = t->data;
    acs_t *a = S->a;
    if (S->stopping || S->ticking || a->stopping || !a->db)
        return;
    watch_job_t *j = calloc(1, sizeof *j);
    if (!j)
        return;
    j->S = S;
    j->want = S->local;
    j->write = S->local || S->written; /* an interest we no longer have ends now */
    j->now = clock_real_s();
    if (store_worker_submit(a->db, watch_run, watch_done, j) != 0) {
        free(j);
        return;
    }
    S->ticking = true;
}

void acs_evshare_local(acs_evshare_t *S, bool want)
{
    if (!S || S->local == want)
        return;
    S->local = want;
    watch_tick(S->watch);
}

bool acs_evshare_wanted(const acs_evshare_t *S)
{
    return S && !S->stopping && S->others;
}

/* ---- what happened here, told ------------------------------------------------------ */

typedef struct note_job {
    acs_evshare_t *S;
    char *payload;
    size_t lines;
} note_job_t;

static int note_run(store_t *st, void *ud)
{
    note_job_t *j = ud;
    return store_notify(st, STORE_CHANNEL_EVENT, j->payload);
}

static void note_done(int rc, void *ud)
{
    note_job_t *j = ud;
    acs_evshare_t *S = j->S;
    S->inflight--;
    if (rc == 0) {
        S->n.notes++;
        S->n.told += j->lines;
    } else {
        S->n.dropped += j->lines;
    }
    free(j->payload);
    free(j);
}

/* The notification filled so far goes out (or is dropped, counted, when
 * ACS_EVSHARE_INFLIGHT are out already); out is empty afterwards. */
static void flush_now(acs_evshare_t *S)
{
    if (S->flush)
        uv_timer_stop(S->flush);
    if (!S->lines)
        return;
    note_job_t *j = NULL;
    if (S->inflight < ACS_EVSHARE_INFLIGHT && !S->a->stopping && S->a->db && (j = calloc(1, sizeof *j))) {
        j->S = S;
        j->lines = S->lines;
        j->payload = buf_steal(&S->out, NULL);
        if (j->payload && store_worker_submit(S->a->db, note_run, note_done, j) == 0) {
            S->inflight++;
            S->lines = 0;
            return;
        }
        free(j->payload);
        free(j);
    }
    if (S->n.dropped == 0)
        log_warn("events_share_dropped", LF_U("events", S->lines),
                 LF_S("reason", "notifications to the other nodes are not keeping up"));
    S->n.dropped += S->lines;
    S->lines = 0;
    buf_reset(&S->out);
}

static void flush_tick(uv_timer_t *t)
{
    flush_now(t->data);
}

void acs_evshare_put(acs_evshare_t *S, acs_ev_type_t t, const char *device, const json_t *data)
{
    if (!acs_evshare_wanted(S) || !data)
        return;
    for (int tries = 0; tries < 2; tries++) {
        if (!S->lines) {
            buf_reset(&S->out);
            if (buf_printf(&S->out, "%s ", S->a->node_id) != 0)
                break;
            S->head = S->out.len;
            uv_timer_start(S->flush, flush_tick, ACS_EVSHARE_FLUSH_MS, 0);
        }
        int rc = acs_ev_share_put(&S->out, t, device, data);
        if (rc == 0) {
            S->lines++;
            if (t == ACS_EV_TASK) /* ahead of the task's finish (acs_evshare.h) */
                flush_now(S);
            return;
        }
        if (rc != -ENOBUFS || !S->lines)
            break; /* it cannot be written, or not even alone */
        flush_now(S);
    }
    S->n.dropped++;
}

int acs_evshare_metrics(const acs_evshare_t *S, buf_t *o)
{
    if (!S)
        return 0;
    int rc = metrics_one(o, "outpost_acs_events_shared_watched", "gauge",
                         "1 while another node's event streams want this node's events.",
                         S->others ? 1 : 0);
    if (!rc)
        rc = metrics_one(o, "outpost_acs_events_shared_total", "counter",
                         "Events told to the other nodes' event streams.", (double)S->n.told);
    if (!rc)
        rc = metrics_one(o, "outpost_acs_events_shared_notifications_total", "counter",
                         "Notifications that carried them.", (double)S->n.notes);
    if (!rc)
        rc = metrics_one(o, "outpost_acs_events_shared_dropped_total", "counter",
                         "Events not told: notifications not keeping up, or the store failed.",
                         (double)S->n.dropped);
    return rc;
}

/* ---- lifetime ---------------------------------------------------------------------- */

static uv_timer_t *new_timer(acs_evshare_t *S)
{
    uv_timer_t *t = malloc(sizeof *t);
    if (t) {
        uv_timer_init(S->a->loop, t);
        t->data = S;
    }
    return t;
}

acs_evshare_t *acs_evshare_new(acs_t *a)
{
    if (!a->store || !store_shared(a->store))
        return NULL;
    acs_evshare_t *S = calloc(1, sizeof *S);
    if (!S)
        return NULL;
    S->a = a;
    buf_init(&S->out, NOTIFY_MAX);
    if (!(S->watch = new_timer(S)) || !(S->flush = new_timer(S))) {
        log_warn("events_share_off", LF_S("reason", "out of memory"));
        acs_evshare_stop(S);
        return S; /* stopped: the events stay local; freed at acs_evshare_free */
    }
    uv_timer_start(S->watch, watch_tick, 0, ACS_EVSHARE_WATCH_MS);
    return S;
}

void acs_evshare_stop(acs_evshare_t *S)
{
    if (!S || S->stopping)
        return;
    S->stopping = true; /* lines not sent yet go with the node */
    S->lines = 0;
    uv_timer_t **timers[] = { &S->watch, &S->flush };
    for (size_t i = 0; i < sizeof timers / sizeof timers[0]; i++)
        if (*timers[i]) {
            runtime_close_free((uv_handle_t *)*timers[i]);
            *timers[i] = NULL;
        }
}

void acs_evshare_free(acs_evshare_t *S)
{
    if (!S)
        return;
    buf_free(&S->out);
    free(S);
}
