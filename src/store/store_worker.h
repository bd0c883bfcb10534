/*
 * store_worker: runs store jobs on a dedicated thread so that the event
 * loop never waits on the disk, and commits them in batches: whatever is
 * queued when the thread wakes up runs inside one transaction (each job in
 * its own savepoint, so a failing job undoes only itself), one commit and
 * one fsync for the lot. A job's completion callback runs on the loop after
 * that commit, so "done" always means "durable".
 *
 * The worker owns its queue and job records; the store_t is borrowed and
 * must outlive the worker. Submissions beyond max_queue fail with -EAGAIN
 * (callers answer 503 / retry later) instead of growing without bound.
 */
#ifndef OUTPOST_STORE_WORKER_H
#define OUTPOST_STORE_WORKER_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#include "core/metrics.h"
#include "store/store.h"

typedef struct store_worker store_worker_t;

/* Runs on the worker thread, inside the batch transaction. Return 0 or a
 * negative errno; a negative result rolls back this job's writes. */
typedef int (*store_job_fn)(store_t *s, void *ud);
/* Runs on the loop thread after the batch committed (rc = the job's
 * result, or -EIO if the commit failed; -ENOTCONN when the database could
 * not be reached to begin or commit it: nothing of the job was stored,
 * try again later). */
typedef void (*store_done_fn)(int rc, void *ud);

int store_worker_new(uv_loop_t *loop, store_t *s, size_t max_queue, store_worker_t **out);
int store_worker_submit(store_worker_t *w, store_job_fn fn, store_done_fn done, void *ud);
/* Jobs waiting or running (for /metrics and backpressure). */
size_t store_worker_pending(const store_worker_t *w);
/* Batches committed and jobs run so far. */
void store_worker_counters(const store_worker_t *w, uint64_t *batches, uint64_t *jobs);
/* Seconds from submission to the completion callback (queue, run, commit);
 * read on the loop thread. */
const metrics_hist_t *store_worker_latency(const store_worker_t *w);
/* 0 when the last batch committed; otherwise why it could not (a disk
 * full, a read-only file): what /health reports. */
int store_worker_last_error(const store_worker_t *w);
size_t store_worker_max_queue(const store_worker_t *w);
/* Finish every queued job (their callbacks run, and whatever they submit
 * runs too, on the calling thread), stop the thread and free the worker
 * (its async handle closes in the background). */
void store_worker_free(store_worker_t *w);

#endif
