/*
 * origins_sync: the shared origin store's calls on the thread pool
 * (origins_sync.h).
 */
#include "cwmp_proxy/origins_sync.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/log.h"

/* Rows read back per refresh at most: a bootstrap storm through the other
 * proxies is taken in slices (the next read starts at the last one's time). */
enum { SYNC_READ_MAX = 50000 };
/* Rows are read by their `written` time (the server's clock, when the
 * write happened). A transaction commits a little after it wrote: each
 * read looks back this far before the server's clock at the previous one. */
enum { SYNC_LOOKBACK_S = 10 };
/* A batch that failed (the server away) is kept for the next job, up to
 * this many rows in all; beyond, it is dropped (logged): each device's
 * next changed origin, or its hourly refresh, writes it again. */
enum { SYNC_RETRY_MAX = 200000 };

typedef struct job {
    uv_work_t req;
    origins_sync_t *s;
    origin_rec_t *batch; /* to write (owned) */
    size_t nbatch;
    int64_t expire_before; /* 0: none */
    bool read;
    int64_t since, now; /* the read's lower bound; the server's clock at it */
    origin_rec_t *rows; /* read back (owned) */
    size_t nrows, caprows;
    int put_rc, read_rc;
} job_t;

struct origins_sync {
    uv_timer_t timer;
    origins_t *o;
    int64_t refresh_ms;
    int64_t last_read_ms; /* monotonic, when the last read was asked */
    int64_t since;        /* the next read's lower bound (seen, Unix seconds) */
    int64_t expire_before;
    bool busy, flush_asked, closing;
    bool failing; /* the last write failed: its retries are not logged again */
};

static int collect(void *ud, const origin_rec_t *r)
{
    job_t *j = ud;
    if (j->nrows == j->caprows) {
        size_t cap = j->caprows ? j->caprows * 2 : 64;
        origin_rec_t *n = realloc(j->rows, cap * sizeof *n);
        if (!n)
            return -ENOMEM;
        j->rows = n;
        j->caprows = cap;
    }
    origin_rec_t *x = &j->rows[j->nrows];
    x->origin = strdup(r->origin);
    x->device = strdup(r->device ? r->device : "");
    x->seen_s = r->seen_s;
    x->written_s = r->written_s;
    if (!x->origin || !x->device) {
        free((char *)x->origin);
        free((char *)x->device);
        return -ENOMEM;
    }
    j->nrows++;
    return 0;
}

/* On the thread pool: the only user of the store while the job is out. */
static void job_run(uv_work_t *req)
{
    job_t *j = req->data;
    origin_store_t *st = j->s->o->store;
    if (j->nbatch)
        j->put_rc = origin_store_put(st, j->batch, j->nbatch);
    if (j->expire_before) {
        size_t gone = 0;
        if (origin_store_expire(st, j->expire_before, &gone) == 0 && gone)
            log_info("origin_store_expired", LF_U("count", gone));
    }
    if (j->read)
        j->read_rc = origin_store_load_written(st, j->since, SYNC_READ_MAX, collect, j, &j->now);
}

static void start_job(origins_sync_t *s);

static void job_done(uv_work_t *req, int status)
{
    job_t *j = req->data;
    origins_sync_t *s = j->s;
    if (j->put_rc) {
        s->o->write_errors++;
        int rc = origins_requeue(s->o, j->batch, j->nbatch, SYNC_RETRY_MAX);
        /* the kept batch is retried every refresh while the server is
         * away: said once per outage, and whenever rows are dropped */
        if (!s->failing || rc != 0)
            log_error("origin_store_write_failed", LF_U("rows", j->nbatch), LF_ERR(j->put_rc),
                      LF_S("batch", rc == 0 ? "kept for the next try" : "dropped"));
        s->failing = true;
        j->batch = NULL;
        j->nbatch = 0;
    } else if (j->nbatch) {
        s->failing = false;
    }
    size_t merged = 0;
    if (status == 0 && j->read && j->read_rc == 0) {
        for (size_t i = 0; i < j->nrows; i++)
            merged += origins_merge(s->o, &j->rows[i]) > 0;
        /* a full slice: go on from its last write; else from this read's clock */
        s->since = j->nrows == SYNC_READ_MAX ? j->rows[j->nrows - 1].written_s
                                             : j->now - SYNC_LOOKBACK_S;
        if (merged)
            log_debug("origins_merged", LF_U("rows", j->nrows), LF_U("applied", merged));
    } else if (j->read) {
        s->last_read_ms = 0; /* failed (logged by the store): again, from the same time */
    }
    origins_free_batch(j->batch, j->nbatch);
    origins_free_batch(j->rows, j->nrows);
    free(j);
    s->busy = false;
    if (s->closing) {
        if (s->timer.data == NULL) /* the timer is closed already */
            free(s);
        return;
    }
    if (s->flush_asked || s->expire_before)
        start_job(s);
}

static void start_job(origins_sync_t *s)
{
    if (s->busy || s->closing)
        return;
    job_t *j = calloc(1, sizeof *j);
    if (!j)
        return;
    j->s = s;
    j->req.data = j;
    origins_take_pending(s->o, &j->batch, &j->nbatch);
    s->flush_asked = false;
    j->expire_before = s->expire_before;
    s->expire_before = 0;
    int64_t now = clock_mono_ms();
    if (now - s->last_read_ms >= s->refresh_ms) {
        j->read = true;
        j->since = s->since;
        s->last_read_ms = now;
    }
    if (!j->nbatch && !j->expire_before && !j->read) {
        free(j);
        return;
    }
    if (uv_queue_work(s->timer.loop, &j->req, job_run, job_done) != 0) {
        /* cannot happen with a valid loop; the batch is lost, as a failed write */
        origins_free_batch(j->batch, j->nbatch);
        free(j);
        return;
    }
    s->busy = true;
}

static void on_timer(uv_timer_t *t)
{
    start_job(t->data);
}

int origins_sync_start(uv_loop_t *loop, origins_t *o, int64_t refresh_ms, origins_sync_t **out)
{
    origins_sync_t *s = calloc(1, sizeof *s);
    if (!s)
        return -ENOMEM;
    s->o = o;
    s->refresh_ms = refresh_ms > 0 ? refresh_ms : 1000;
    /* the first read: this host's clock stands in for the server's */
    s->since = clock_real_s() - SYNC_LOOKBACK_S;
    s->last_read_ms = clock_mono_ms();
    o->deferred = true;
    uv_timer_init(loop, &s->timer);
    s->timer.data = s;
    uv_timer_start(&s->timer, on_timer, (uint64_t)s->refresh_ms, (uint64_t)s->refresh_ms);
    uv_unref((uv_handle_t *)&s->timer);
    *out = s;
    return 0;
}

void origins_sync_flush(origins_sync_t *s)
{
    if (!origins_pending(s->o))
        return;
    s->flush_asked = true;
    start_job(s);
}

void origins_sync_expire(origins_sync_t *s, int64_t before_s)
{
    s->expire_before = before_s;
    start_job(s);
}

static void timer_closed(uv_handle_t *h)
{
    origins_sync_t *s = h->data;
    h->data = NULL;
    if (!s->busy)
        free(s);
}

void origins_sync_close(origins_sync_t *s)
{
    if (!s)
        return;
    s->closing = true;
    uv_close((uv_handle_t *)&s->timer, timer_closed);
}
