/*
 * acs_waiters: API callers waiting on a task (?wait=SECONDS), and the sweep
 * that expires tasks past their TTL, which answers them when the task they
 * wait on expires. Whoever finishes a task (the session's work, a cancel,
 * the sweep) calls acs_task_finished; a waiter is answered through the
 * function its creator gave (the API answers with the task as it is then),
 * so nothing here knows the API's jobs.
 *
 * On a store several nodes share, a task may finish on another node: its
 * notification (acs_cluster.c) answers the waiters here, a new waiter reads
 * its task once more right after it starts waiting (that news may have come
 * just before), and the expiry sweep runs on one node at a time (its
 * notification answers the others' waiters).
 *
 * The waiters are a plain list: a handful of operators' requests at a time.
 */
#include <errno.h>
#include <stdlib.h>

#include "acs/acs_internal.h"
#include "acs/acs_webhook.h"
#include "core/clock.h"
#include "core/log.h"

struct acs_waiter {
    acs_waiter_t *next;
    acs_t *a;
    http_req_t *req;
    int64_t task_id;
    int64_t expires_at; /* the task's, Unix seconds (0: never) */
    uv_timer_t *timer;
    acs_waiter_fn answer;
};

static void sweep_schedule(acs_t *a);
static void recheck_one(acs_t *a, int64_t task_id);

/* Out of the list, its timer gone, its request no longer watched (the
 * request now belongs to whoever answers it: a client that goes later must
 * not reach this waiter again). */
static void waiter_unlink(acs_waiter_t *w)
{
    for (acs_waiter_t **p = &w->a->waiters; *p; p = &(*p)->next)
        if (*p == w) {
            *p = w->next;
            break;
        }
    http_req_on_abort(w->req, NULL, NULL);
    uv_timer_stop(w->timer);
    uv_close((uv_handle_t *)w->timer, (uv_close_cb)free);
}

static void waiter_answer(acs_waiter_t *w, int rc)
{
    waiter_unlink(w);
    w->answer(w->a, w->req, w->task_id, rc);
    free(w);
}

static void waiter_timeout(uv_timer_t *t)
{
    waiter_answer(t->data, 0);
}

static void waiter_abort(http_req_t *req, void *ud)
{
    acs_waiter_t *w = ud;
    waiter_unlink(w);
    http_respond(req, 499, NULL, NULL, 0); /* releases the request */
    free(w);
}

int acs_waiter_add(acs_t *a, http_req_t *req, int64_t task_id, int64_t expires_at, int64_t wait_s,
                   acs_waiter_fn answer)
{
    acs_waiter_t *w = calloc(1, sizeof *w);
    uv_timer_t *t = w ? malloc(sizeof *t) : NULL;
    if (!t) {
        free(w);
        return -ENOMEM;
    }
    w->a = a;
    w->req = req;
    w->task_id = task_id;
    w->expires_at = expires_at;
    w->timer = t;
    w->answer = answer;
    uv_timer_init(a->loop, t);
    t->data = w;
    uv_timer_start(t, waiter_timeout, (uint64_t)wait_s * 1000, 0);
    w->next = a->waiters;
    a->waiters = w;
    http_req_on_abort(req, waiter_abort, w);
    sweep_schedule(a); /* if it expires while we wait, it answers then */
    /* Another node may have finished it between our read and now, its news
     * heard before we waited: read it once more. */
    if (a->store && store_shared(a->store))
        recheck_one(a, task_id);
    return 0;
}

/* Every waiter on this task is answered (the task as it is now). */
static void answer_task(acs_t *a, int64_t task_id)
{
    acs_waiter_t *w = a->waiters;
    while (w) {
        acs_waiter_t *next = w->next;
        if (w->task_id == task_id)
            waiter_answer(w, 0);
        w = next;
    }
}

void acs_task_finished(acs_t *a, int64_t task_id)
{
    acs_events_task_finished(a, task_id); /* webhooks and live events (acs_events.h) */
    answer_task(a, task_id);
}

void acs_task_finished_elsewhere(acs_t *a, int64_t task_id)
{
    acs_events_task_elsewhere(a, task_id); /* live events only: its node queued the webhook */
    answer_task(a, task_id);
}

/* Every waiter whose task had expired by `now` is answered. */
static void answer_expired(acs_t *a, int64_t now)
{
    acs_waiter_t *w = a->waiters;
    while (w) {
        acs_waiter_t *next = w->next;
        if (w->expires_at > 0 && w->expires_at <= now)
            waiter_answer(w, 0);
        w = next;
    }
}

void acs_waiters_expired(acs_t *a)
{
    answer_expired(a, clock_real_s());
}

/* The tasks waited on, read again: the finished ones' waiters are answered. */
typedef struct recheck_job {
    acs_t *a;
    size_t n;
    int64_t ids[64];
    bool done[64];
} recheck_job_t;

static int recheck_run(store_t *s, void *ud)
{
    recheck_job_t *j = ud;
    for (size_t i = 0; i < j->n; i++) {
        store_task_t t;
        if (store_task_get(s, j->ids[i], &t) == 0) {
            j->done[i] = t.status != STORE_TASK_PENDING && t.status != STORE_TASK_SENT;
            store_task_clear(&t);
        }
    }
    return 0;
}

static void recheck_done(int rc, void *ud)
{
    recheck_job_t *j = ud;
    for (size_t i = 0; rc == 0 && i < j->n; i++)
        if (j->done[i])
            answer_task(j->a, j->ids[i]);
    free(j);
}

static void recheck_one(acs_t *a, int64_t task_id)
{
    recheck_job_t *j = a->db ? calloc(1, sizeof *j) : NULL;
    if (!j)
        return;
    j->a = a;
    j->ids[j->n++] = task_id;
    if (store_worker_submit(a->db, recheck_run, recheck_done, j) != 0)
        free(j);
}

void acs_waiters_recheck(acs_t *a)
{
    /* in slices of 64: a handful of operators' requests at a time */
    const acs_waiter_t *w = a->waiters;
    while (w && a->db) {
        recheck_job_t *j = calloc(1, sizeof *j);
        if (!j)
            return;
        j->a = a;
        for (; w && j->n < 64; w = w->next)
            j->ids[j->n++] = w->task_id;
        if (store_worker_submit(a->db, recheck_run, recheck_done, j) != 0) {
            free(j);
            return;
        }
    }
}

/* ---- the expiry sweep -------------------------------------------------------------- */

typedef struct expire_job {
    acs_t *a;
    int64_t now;         /* the sweep's clock: tasks that expired by then are swept */
    int64_t trim_before; /* > 0: finished tasks older than this go (--task-retention) */
    bool led;            /* out: this node ran the sweep (another node's notification
                          * answers our waiters otherwise) */
} expire_job_t;

/* Tasks deleted per sweep at most: a year's backlog goes in slices, each a
 * short write transaction between sessions' writes. */
enum { TRIM_PER_SWEEP = 5000 };

static int expire_run(store_t *s, void *ud)
{
    expire_job_t *j = ud;
    /* once across the cluster: the leader expires every node's tasks and
     * its store notification answers the other nodes' waiters */
    int lead = store_try_leader(s, "task_expiry");
    if (lead <= 0)
        return lead;
    j->led = true;
    int n = store_task_expire(s, j->now);
    if (n > 0)
        log_info("tasks_expired", LF_I("count", n));
    if (n >= 0 && j->trim_before > 0) {
        int t = store_task_trim(s, j->trim_before, TRIM_PER_SWEEP);
        if (t > 0) /* a failure is logged by the store; the expiry stands */
            log_info("tasks_trimmed", LF_I("count", t), LF_I("finished_before", j->trim_before));
    }
    return n < 0 ? n : 0;
}

/* Whoever waits on a task that had expired by the sweep's clock is answered
 * now: swept by this sweep, by a session that found it past its TTL, or
 * finished and answered already (no waiter left). */
static void expire_done(int rc, void *ud)
{
    expire_job_t *j = ud;
    acs_t *a = j->a;
    if (rc == 0 && j->led)
        answer_expired(a, j->now);
    sweep_schedule(a);
    free(j);
}

static void on_sweep(uv_timer_t *t)
{
    acs_t *a = t->data;
    uv_timer_start(a->sweep, on_sweep, HOUSEKEEPING_MS, 0);
    expire_job_t *j = a->db ? calloc(1, sizeof *j) : NULL;
    if (!j)
        return;
    j->a = a;
    j->now = clock_real_s();
    if (a->o.task_retention_ms > 0)
        j->trim_before = j->now - a->o.task_retention_ms / 1000;
    if (store_worker_submit(a->db, expire_run, expire_done, j) != 0)
        free(j);
}

/* The next sweep: in HOUSEKEEPING_MS, or a second after the earliest expiry
 * a ?wait= caller waits on, whichever comes first. */
static void sweep_schedule(acs_t *a)
{
    if (a->stopping || !a->sweep)
        return;
    int64_t first = 0, ms = HOUSEKEEPING_MS;
    for (const acs_waiter_t *w = a->waiters; w; w = w->next)
        if (w->expires_at > 0 && (!first || w->expires_at < first))
            first = w->expires_at;
    if (first > 0) {
        int64_t d = (first - clock_real_s()) * 1000 + 1000;
        if (d < ms)
            ms = d < 100 ? 100 : d;
    }
    if (uv_timer_get_due_in(a->sweep) > (uint64_t)ms)
        uv_timer_start(a->sweep, on_sweep, (uint64_t)ms, 0);
}

int acs_waiters_start(acs_t *a)
{
    if (!(a->sweep = malloc(sizeof *a->sweep)))
        return -ENOMEM;
    uv_timer_init(a->loop, a->sweep);
    a->sweep->data = a;
    uv_timer_start(a->sweep, on_sweep, 1000, 0);
    return 0;
}

void acs_waiters_stop(acs_t *a)
{
    while (a->waiters)
        waiter_answer(a->waiters, -ECANCELED);
    if (a->sweep) {
        uv_timer_stop(a->sweep);
        uv_close((uv_handle_t *)a->sweep, (uv_close_cb)free);
        a->sweep = NULL;
    }
}
