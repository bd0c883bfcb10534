/*
 * store_worker: one thread, one mutex-protected FIFO in, one FIFO out
 * (uv_async_t wakes the loop). See store_worker.h.
 */
#include <errno.h>
#include <stdlib.h>

#include "core/clock.h"
#include "core/log.h"
#include "store/store_impl.h"
#include "store/store_worker.h"

enum { BATCH_MAX = 1024 };

typedef struct job {
    struct job *next;
    store_job_fn fn;
    store_done_fn done;
    void *ud;
    int rc;
    int64_t t0_us;   /* submitted */
} job_t;

typedef struct jq {
    job_t *head, *tail;
} jq_t;

struct store_worker {
    uv_loop_t *loop;
    store_t *store;
    uv_thread_t thread;
    uv_mutex_t mu;
    uv_cond_t cv;
    uv_async_t *async; /* heap: closes after the worker is gone */
    jq_t in, out;
    size_t pending, max_queue;
    uint64_t batches, jobs;
    metrics_hist_t latency; /* submit to completion, on the loop thread */
    int last_error;  /* of the last batch: 0, or why it could not commit */
    bool stopping;   /* the thread finishes the queue and exits */
    bool closed;     /* no more submissions */
};

static void jq_push(jq_t *q, job_t *j)
{
    j->next = NULL;
    if (q->tail)
        q->tail->next = j;
    else
        q->head = j;
    q->tail = j;
}

/* Returns 0, or the error of a batch that could not begin or commit. */
static int run_batch(store_worker_t *w, job_t *batch)
{
    store_t *s = w->store;
    int brc = s->be->exec_tx(s, 0);
    for (job_t *j = batch; j; j = j->next) {
        if (brc < 0) {
            j->rc = brc;
            continue;
        }
        if (s->be->exec_tx(s, 3) < 0) {
            j->rc = -EIO;
            continue;
        }
        j->rc = j->fn(s, j->ud);
        /* The release may fail the job after all: a write the backend sent
         * without waiting failed (store_pg_flight.c). Back to its savepoint. */
        int rrc = j->rc < 0 ? -1 : s->be->exec_tx(s, 4);
        if (rrc < 0) {
            j->rc = j->rc < 0 ? j->rc : rrc;
            s->be->exec_tx(s, 5);
        }
    }
    int crc;
    if (brc == 0 && (crc = s->be->exec_tx(s, 1)) < 0) {
        s->be->exec_tx(s, 2);
        crc = crc == -ENOTCONN ? crc : -EIO;
        for (job_t *j = batch; j; j = j->next)
            j->rc = crc;
        brc = crc;
    }
    return brc < 0 ? brc : 0;
}

static void worker_main(void *arg)
{
    store_worker_t *w = arg;
    uv_mutex_lock(&w->mu);
    for (;;) {
        while (!w->in.head && !w->stopping)
            uv_cond_wait(&w->cv, &w->mu);
        if (!w->in.head && w->stopping)
            break;
        /* Take up to BATCH_MAX jobs. */
        job_t *batch = w->in.head, *last = batch;
        size_t n = 1;
        while (last->next && n < BATCH_MAX) {
            last = last->next;
            n++;
        }
        w->in.head = last->next;
        if (!w->in.head)
            w->in.tail = NULL;
        last->next = NULL;
        uv_mutex_unlock(&w->mu);

        int brc = run_batch(w, batch);

        uv_mutex_lock(&w->mu);
        w->last_error = brc;
        w->batches++;
        w->jobs += n;
        if (w->out.tail)
            w->out.tail->next = batch;
        else
            w->out.head = batch;
        w->out.tail = last;
        uv_mutex_unlock(&w->mu);
        uv_async_send(w->async);
        uv_mutex_lock(&w->mu);
    }
    uv_mutex_unlock(&w->mu);
}

static void deliver(store_worker_t *w)
{
    uv_mutex_lock(&w->mu);
    job_t *j = w->out.head;
    w->out.head = w->out.tail = NULL;
    uv_mutex_unlock(&w->mu);
    size_t n = 0;
    for (job_t *k = j; k; k = k->next)
        n++;
    uv_mutex_lock(&w->mu);
    w->pending -= n;
    uv_mutex_unlock(&w->mu);
    int64_t now = clock_mono_us();
    while (j) {
        job_t *next = j->next;
        metrics_hist_observe(&w->latency, (double)(now - j->t0_us) / 1e6);
        if (j->done)
            j->done(j->rc, j->ud);
        free(j);
        j = next;
    }
}

static void on_async(uv_async_t *a)
{
    if (a->data)
        deliver(a->data);
}

int store_worker_new(uv_loop_t *loop, store_t *s, size_t max_queue, store_worker_t **out)
{
    store_worker_t *w = calloc(1, sizeof *w);
    if (!w)
        return -ENOMEM;
    w->async = malloc(sizeof *w->async);
    if (!w->async) {
        free(w);
        return -ENOMEM;
    }
    w->loop = loop;
    w->store = s;
    w->max_queue = max_queue ? max_queue : 65536;
    uv_mutex_init(&w->mu);
    uv_cond_init(&w->cv);
    uv_async_init(loop, w->async, on_async);
    w->async->data = w;
    int rc = uv_thread_create(&w->thread, worker_main, w);
    if (rc) {
        uv_close((uv_handle_t *)w->async, (uv_close_cb)free);
        uv_mutex_destroy(&w->mu);
        uv_cond_destroy(&w->cv);
        free(w);
        return rc;
    }
    *out = w;
    return 0;
}

int store_worker_submit(store_worker_t *w, store_job_fn fn, store_done_fn done, void *ud)
{
    job_t *j = malloc(sizeof *j);
    if (!j)
        return -ENOMEM;
    j->fn = fn;
    j->done = done;
    j->ud = ud;
    j->rc = 0;
    j->t0_us = clock_mono_us();
    uv_mutex_lock(&w->mu);
    if (w->pending >= w->max_queue || w->closed) {
        uv_mutex_unlock(&w->mu);
        free(j);
        return -EAGAIN;
    }
    w->pending++;
    jq_push(&w->in, j);
    uv_cond_signal(&w->cv);
    uv_mutex_unlock(&w->mu);
    return 0;
}

size_t store_worker_pending(const store_worker_t *w)
{
    uv_mutex_lock((uv_mutex_t *)&w->mu);
    size_t n = w->pending;
    uv_mutex_unlock((uv_mutex_t *)&w->mu);
    return n;
}

void store_worker_counters(const store_worker_t *w, uint64_t *batches, uint64_t *jobs)
{
    uv_mutex_lock((uv_mutex_t *)&w->mu);
    *batches = w->batches;
    *jobs = w->jobs;
    uv_mutex_unlock((uv_mutex_t *)&w->mu);
}

const metrics_hist_t *store_worker_latency(const store_worker_t *w) { return &w->latency; }

int store_worker_last_error(const store_worker_t *w)
{
    uv_mutex_lock((uv_mutex_t *)&w->mu);
    int e = w->last_error;
    uv_mutex_unlock((uv_mutex_t *)&w->mu);
    return e;
}

size_t store_worker_max_queue(const store_worker_t *w) { return w->max_queue; }

void store_worker_free(store_worker_t *w)
{
    if (!w)
        return;
    uv_mutex_lock(&w->mu);
    w->stopping = true;
    uv_cond_signal(&w->cv);
    uv_mutex_unlock(&w->mu);
    uv_thread_join(&w->thread);
    /* The thread is gone. Completion callbacks may still submit follow-up
     * work (a task taken but never sent goes back to the queue...): run it
     * here, on this thread, until nothing is left. */
    for (;;) {
        deliver(w);
        uv_mutex_lock(&w->mu);
        job_t *batch = w->in.head, *last = w->in.tail;
        w->in.head = w->in.tail = NULL;
        uv_mutex_unlock(&w->mu);
        if (!batch)
            break;
        run_batch(w, batch);
        uv_mutex_lock(&w->mu);
        w->out.head = batch;
        w->out.tail = last;
        uv_mutex_unlock(&w->mu);
    }
    w->closed = true;
    w->async->data = NULL;
    uv_close((uv_handle_t *)w->async, (uv_close_cb)free);
    uv_mutex_destroy(&w->mu);
    uv_cond_destroy(&w->cv);
    free(w);
}
