/*
 * acs_work: the work layer's dispatcher (see acs_work.h): one acs_work_t per
 * session with its sources' states, the sources asked in order each turn,
 * and the live works by device for the operator side.
 *
 * Lifetime: a work is held by its session (from acs_work_begin to
 * acs_work_end), by each turn until its callback ran, by each event and
 * source job until its completion ran. It is freed, after every source's
 * `end`, when the last hold goes: never inside a callback it is running.
 */
#include <errno.h>
#include <stdalign.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "acs/acs_work.h"
#include "core/hmap.h"
#include "core/str.h"

/* The order sources are asked in: operator tasks before provisioning. */
static const acs_work_source_t *const sources[] = { &acs_work_tasks, &acs_work_prov };
#define NSRC (sizeof sources / sizeof sources[0])

struct acs_work {
    acs_t *a;
    char device_id[STORE_ID_MAX];
    int holds;
    bool ended, over, hold, registered;
    int out;                   /* the source whose RPC is out, -1 for none */
    /* the turn in progress (acs_work_next until its callback ran) */
    bool turn, waiting, in_ask;
    size_t asking;             /* the source asked now */
    acs_work_rpc_fn cb;
    void *cb_ud;
    /* work queued during this turn (acs_work_queued, acs_work_delegate_done):
     * the sources are asked again, from the first, before the turn ends empty */
    bool again;
    int restarts;
    store_task_t *delegated;   /* a task provisioning carries out (acs_work_delegate) */
    /* the event in progress (acs_work_event until its done ran) */
    bool ev_busy;
    store_job_fn ev_run;
    store_done_fn ev_done;
    void *ev_ud;
    void *state[NSRC];
};

/* Where each source's state starts in the work's allocation. */
static size_t state_offset(size_t i)
{
    const size_t align = alignof(max_align_t);
    size_t off = (sizeof(acs_work_t) + align - 1) / align * align;
    for (size_t k = 0; k < i; k++)
        off += (sources[k]->state_size + align - 1) / align * align;
    return off;
}

static void delegated_free(store_task_t *t);

acs_t *acs_work_acs(const acs_work_t *w) { return w->a; }
const char *acs_work_device(const acs_work_t *w) { return w->device_id; }
bool acs_work_ended(const acs_work_t *w) { return w->ended; }

/* ---- the live works, by device ---------------------------------------------------- */

size_t acs_work_inflight(const acs_t *a, int64_t *ids, size_t max)
{
    size_t n = 0;
    acs_work_t *w;
    for (size_t pos = 0; n < max && (w = hmap_next(&a->works, &pos, NULL));) {
        if (w->delegated && w->delegated->id > 0)
            ids[n++] = w->delegated->id;
        for (size_t i = 0; i < NSRC && n < max; i++) {
            int64_t id = sources[i]->inflight ? sources[i]->inflight(w->state[i]) : 0;
            if (id > 0)
                ids[n++] = id;
        }
    }
    return n;
}

void acs_work_init(acs_t *a)
{
    hmap_init(&a->works);
}

void acs_work_free(acs_t *a)
{
    hmap_free(&a->works);
}

static void unregister(acs_work_t *w)
{
    if (!w->registered)
        return;
    w->registered = false;
    if (hmap_gets(&w->a->works, w->device_id) == w)
        hmap_del(&w->a->works, w->device_id, strlen(w->device_id));
}

bool acs_work_live(const acs_t *a, const char *device_id)
{
    return hmap_gets(&a->works, device_id) != NULL;
}

bool acs_work_queued(acs_t *a, const char *device_id)
{
    acs_work_t *w = hmap_gets(&a->works, device_id);
    if (!w)
        return false;
    if (w->turn)
        w->again = true;
    for (size_t i = 0; i < NSRC; i++)
        if (sources[i]->queued)
            sources[i]->queued(w, w->state[i]);
    return true;
}

/* ---- a task provisioning carries out --------------------------------------------- */

static void delegated_free(store_task_t *t)
{
    if (t) {
        free(t->params);
        free(t->result);
        free(t);
    }
}

int acs_work_delegate(acs_work_t *w, const store_task_t *t)
{
    if (w->delegated)
        return -EBUSY;
    store_task_t *c = calloc(1, sizeof *c);
    if (!c)
        return -ENOMEM;
    *c = *t;
    c->params = t->params ? strdup(t->params) : NULL;
    c->result = NULL;
    if (t->params && !c->params) {
        free(c);
        return -ENOMEM;
    }
    w->delegated = c;
    return 0;
}

const store_task_t *acs_work_delegated(const acs_work_t *w)
{
    return w->delegated;
}

void acs_work_delegate_done(acs_work_t *w)
{
    if (!w->delegated)
        return;
    delegated_free(w->delegated);
    w->delegated = NULL;
    if (w->turn)
        w->again = true; /* the queue goes on: the next task may go out this turn */
}

/* ---- lifetime --------------------------------------------------------------------- */

acs_work_t *acs_work_begin(acs_t *a, const char *device_id)
{
    acs_work_t *w = calloc(1, state_offset(NSRC));
    if (!w)
        return NULL;
    w->a = a;
    w->out = -1;
    w->holds = 1; /* the session's, until acs_work_end */
    for (size_t i = 0; i < NSRC; i++)
        w->state[i] = (char *)w + state_offset(i);
    if (str_copy(w->device_id, sizeof w->device_id, device_id) != 0) {
        free(w);
        return NULL;
    }
    /* The session ended the device's older session first; should one still
     * be registered, it no longer answers for the device. */
    acs_work_t *old = hmap_gets(&a->works, w->device_id);
    if (old)
        unregister(old);
    if (hmap_put(&a->works, w->device_id, strlen(w->device_id), w) != 0) {
        free(w);
        return NULL;
    }
    w->registered = true;
    return w;
}

void acs_work_hold(acs_work_t *w)
{
    w->holds++;
}

void acs_work_release(acs_work_t *w)
{
    if (--w->holds > 0)
        return;
    /* Only the session's own release (acs_work_end) can be the last. */
    for (size_t i = 0; i < NSRC; i++)
        if (sources[i]->end)
            sources[i]->end(w, w->state[i], w->out == (int)i);
    delegated_free(w->delegated);
    free(w);
}

void acs_work_end(acs_work_t *w)
{
    if (w->ended)
        return;
    w->ended = true;
    unregister(w);
    acs_work_release(w);
}

void acs_work_over(acs_work_t *w)
{
    w->over = true;
}

/* ---- events: the session's writes and the sources' in one store job -------------- */

static int event_run(store_t *st, void *ud)
{
    acs_work_t *w = ud;
    int rc = w->ev_run ? w->ev_run(st, w->ev_ud) : 0;
    for (size_t i = 0; i < NSRC && rc >= 0; i++)
        if (sources[i]->event_run)
            rc = sources[i]->event_run(w->state[i], st);
    return rc;
}

static void event_done(int rc, void *ud)
{
    acs_work_t *w = ud;
    for (size_t i = 0; i < NSRC; i++)
        if (sources[i]->event_done)
            sources[i]->event_done(w, w->state[i], rc);
    w->ev_busy = false;
    w->ev_done(rc, w->ev_ud);
    acs_work_release(w);
}

int acs_work_event(acs_work_t *w, const cwmp_msg_t *m, store_job_fn run, store_done_fn done,
                   void *ud)
{
    if (w->ev_busy || w->ended)
        return -EBUSY; /* one request at a time per session: not reached */
    for (size_t i = 0; i < NSRC; i++) {
        int rc = sources[i]->event ? sources[i]->event(w, w->state[i], m) : 0;
        if (rc < 0)
            return rc;
    }
    w->ev_run = run;
    w->ev_done = done;
    w->ev_ud = ud;
    w->ev_busy = true;
    acs_work_hold(w);
    int rc = store_worker_submit(w->a->db, event_run, event_done, w);
    if (rc != 0) {
        w->ev_busy = false;
        acs_work_release(w);
    }
    return rc;
}

/* ---- source jobs ------------------------------------------------------------------ */

typedef struct src_job {
    acs_work_t *w;
    store_job_fn run;
    store_done_fn done;
    void *ud;
} src_job_t;

static int src_job_run(store_t *st, void *ud)
{
    src_job_t *j = ud;
    return j->run(st, j->ud);
}

static void src_job_done(int rc, void *ud)
{
    src_job_t *j = ud;
    j->done(rc, j->ud);
    acs_work_release(j->w);
    free(j);
}

int acs_work_submit(acs_work_t *w, store_job_fn run, store_done_fn done, void *ud)
{
    src_job_t *j = malloc(sizeof *j);
    if (!j)
        return -ENOMEM;
    *j = (src_job_t){ .w = w, .run = run, .done = done, .ud = ud };
    acs_work_hold(w);
    int rc = store_worker_submit(w->a->db, src_job_run, src_job_done, j);
    if (rc != 0) {
        free(j);
        acs_work_release(w);
    }
    return rc;
}

/* ---- turns: the answer to its source, then the sources in order ----------------- */

static bool may_send(const acs_work_t *w)
{
    return !w->hold && !w->over && !w->ended && !w->a->stopping;
}

/* The turn's outcome to the session; returns what acs_work_put returns. */
static int deliver(acs_work_t *w, size_t src, int rc, const cwmp_msg_t *rpc)
{
    acs_work_rpc_fn cb = w->cb;
    void *ud = w->cb_ud;
    w->turn = false;
    w->cb = NULL;
    int r = 0;
    if (w->ended) {
        cb(ud, -ECANCELED, NULL);
        r = -ECANCELED;
    } else if (rc < 0 || !rpc) {
        cb(ud, rc < 0 ? rc : 0, NULL);
    } else if ((r = cb(ud, 0, rpc)) == 0) {
        w->out = (int)src; /* out, even if the session ended meanwhile: then unanswered */
    }
    acs_work_release(w); /* the turn's */
    return rpc ? r : 0;
}

/* Restarts of the asking in one turn at most: work queued during a turn is
 * looked for, a source that keeps queueing cannot spin the turn. */
enum { MAX_RESTARTS = 8 };

static void ask(acs_work_t *w)
{
    w->in_ask = true;
again:
    while (w->turn && w->asking < NSRC) {
        size_t i = w->asking;
        w->waiting = true;
        if (sources[i]->next)
            sources[i]->next(w, w->state[i], may_send(w));
        else
            acs_work_put(w, 0, NULL);
        if (w->waiting) { /* it puts later, from a job of its own */
            w->in_ask = false;
            return;
        }
    }
    if (w->turn && w->again && w->restarts < MAX_RESTARTS && may_send(w)) {
        /* work came during the turn (the API queued a task, provisioning
         * queued one or finished a task it carried out): ask again */
        w->again = false;
        w->restarts++;
        w->asking = 0;
        goto again;
    }
    w->in_ask = false;
    if (w->turn) /* no source had anything */
        deliver(w, NSRC, 0, NULL);
}

int acs_work_put(acs_work_t *w, int rc, const cwmp_msg_t *rpc)
{
    if (!w->turn || !w->waiting)
        return -EINVAL; /* a put nobody asked for */
    size_t i = w->asking;
    w->waiting = false;
    if (rc < 0 || rpc)
        return deliver(w, i, rc, rpc);
    w->asking++;
    if (!w->in_ask) /* a later put: go on asking */
        ask(w);
    return 0;
}

void acs_work_next(acs_work_t *w, const cwmp_msg_t *answer, bool hold, acs_work_rpc_fn cb,
                   void *ud)
{
    acs_work_hold(w); /* this call's: the callback may end the session */
    acs_work_hold(w); /* the turn's, until cb ran */
    w->turn = true;
    w->cb = cb;
    w->cb_ud = ud;
    w->hold = hold;
    w->asking = 0;
    w->again = false;
    w->restarts = 0;
    if (w->out >= 0) {
        size_t i = (size_t)w->out;
        const char *why = answer ? NULL : "the CPE sent an empty message instead of an answer";
        int rc = sources[i]->answer ? sources[i]->answer(w, w->state[i], answer, why) : 0;
        if (rc < 0) {
            deliver(w, i, rc, NULL);
            acs_work_release(w);
            return;
        }
        w->out = -1;
    }
    ask(w);
    acs_work_release(w);
}
