/*
 * acs_bulk: the pump that releases bulk tasks (acs_bulk.h). Every tick,
 * when no earlier tick's store job is still out, one store job looks at
 * every running bulk: ends it (done, or stopped by its failure ratio) or
 * releases as many held tasks as the connection request budget and its
 * in-flight cap allow. Back on the loop, each released task's device is
 * woken: its live session is told, or a connection request goes out (its
 * outcome recorded on the task, as for the API's tasks). A request the
 * connection request limit refuses (-EBUSY) puts its task back on hold.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acs/acs_bulk.h"
#include "acs/acs_webhook.h"
#include "acs/acs_work.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/str.h"

enum { BULK_TICK_MS = 100, BULK_MAX_RELEASE = 5000 };

typedef struct acs_bulk {
    uv_timer_t *timer;
    bool busy;            /* a tick's job is out */
    bool again;           /* kicked while busy: tick again when it is back */
    bool idle;            /* the last tick found no running bulk: wait for a kick */
    bool away;            /* the store's database is away (said once) */
    double tokens;        /* connection requests allowed now */
    int64_t last_ms;
} acs_bulk_t;

typedef struct released {
    int64_t task, bulk;
    store_device_t dev;
} released_t;

typedef struct tick_job {
    acs_t *a;
    int64_t budget;       /* releases allowed in this tick (INT64_MAX: no rate limit) */
    int64_t now;
    released_t *rel;      /* budget-bounded */
    size_t nrel, caprel;
    int64_t cur_bulk;
    size_t running;       /* bulks still running after this tick */
    /* for the log, after the job */
    struct ended { int64_t id; store_bulk_state_t st; char reason[160]; } ended[16];
    size_t nended;
} tick_job_t;

static int on_release(int64_t task, const char *device, void *ud)
{
    tick_job_t *j = ud;
    if (j->nrel == j->caprel)
        return 0;
    released_t *r = &j->rel[j->nrel++];
    r->task = task;
    r->bulk = j->cur_bulk;
    str_copy(r->dev.id, sizeof r->dev.id, device);
    return 0;
}

static bool ended_full(const tick_job_t *j)
{
    return j->nended == sizeof j->ended / sizeof j->ended[0];
}

static void note_end(tick_job_t *j, int64_t id, store_bulk_state_t st, const char *reason)
{
    j->ended[j->nended].id = id;
    j->ended[j->nended].st = st;
    str_copy(j->ended[j->nended].reason, sizeof j->ended[0].reason, reason);
    j->nended++;
}

/* The running bulks are read first, then acted on (no writes while the
 * read steps). */
typedef struct tick_ctx {
    store_t *st;
    tick_job_t *j;
    struct act { int64_t id; int64_t release; store_bulk_state_t end; char reason[160]; } *acts;
    size_t nacts, capacts;
} tick_ctx_t;

/* One running bulk: end it (stopped by its failure ratio, or done), or
 * how many of its held tasks its in-flight cap lets go. */
static int plan_bulk(const store_bulk_t *b, void *ud)
{
    tick_ctx_t *c = ud;
    if (c->nacts == c->capacts) {
        size_t cap = c->capacts ? c->capacts * 2 : 16;
        struct act *n = realloc(c->acts, cap * sizeof *n);
        if (!n)
            return -ENOMEM;
        c->acts = n;
        c->capacts = cap;
    }
    struct act *x = &c->acts[c->nacts];
    memset(x, 0, sizeof *x);
    x->id = b->id;
    x->end = STORE_BULK_RUNNING;
    int64_t bad = b->failed + b->expired, finished = b->done + bad;
    int64_t in_flight = b->pending + b->sent;
    int64_t min = b->min_finished > 0 ? b->min_finished : 1;
    if (b->max_failure_ratio > 0 && finished >= min &&
        (double)bad / (double)finished > b->max_failure_ratio) {
        x->end = STORE_BULK_STOPPED;
        snprintf(x->reason, sizeof x->reason,
                 "%" PRId64 " of %" PRId64 " finished tasks failed, more than max_failure_ratio %g",
                 bad, finished, b->max_failure_ratio);
    } else if (b->held == 0 && in_flight == 0) {
        x->end = STORE_BULK_DONE;
    } else {
        int64_t room = b->max_in_flight > 0 ? b->max_in_flight - in_flight : b->held;
        int64_t n = b->held < room ? b->held : room;
        x->release = n > 0 ? n : 0;
    }
    c->nacts++;
    return 0;
}

static int tick_run(store_t *st, void *ud)
{
    tick_job_t *j = ud;
    tick_ctx_t c = { .st = st, .j = j };
    /* once across the cluster: one node releases the waves, so the in-flight
     * caps and --bulk-cr-rate hold for the fleet (its wake-ups go from it) */
    int lead = store_try_leader(st, "bulk_release");
    if (lead <= 0)
        return lead;
    int rc = store_bulk_running(st, plan_bulk, &c);
    for (size_t i = 0; rc == 0 && i < c.nacts; i++) {
        struct act *x = &c.acts[i];
        if (x->end != STORE_BULK_RUNNING && ended_full(j)) {
            x->end = STORE_BULK_RUNNING; /* ends at the next tick: its event is not lost */
            continue;
        }
        if (x->end != STORE_BULK_RUNNING) {
            rc = store_bulk_end(st, x->id, x->end, x->reason, j->now);
            if (rc >= 0) {
                note_end(j, x->id, x->end, x->reason);
                rc = 0;
            } else if (rc == -ESTALE) {
                rc = 0; /* cancelled meanwhile */
            }
            continue;
        }
        int64_t left = (int64_t)(j->caprel - j->nrel);
        int64_t n = x->release < left ? x->release : left;
        if (n > j->budget)
            n = j->budget;
        if (n <= 0)
            continue;
        size_t before = j->nrel;
        j->cur_bulk = x->id;
        rc = store_bulk_release(st, x->id, n, on_release, j);
        j->budget -= (int64_t)(j->nrel - before);
    }
    for (size_t i = 0; i < c.nacts; i++)
        j->running += c.acts[i].end == STORE_BULK_RUNNING;
    free(c.acts);
    /* the devices the released tasks wake */
    for (size_t i = 0; rc == 0 && i < j->nrel; i++) {
        int grc = store_device_get(st, j->rel[i].dev.id, &j->rel[i].dev);
        if (grc < 0 && grc != -ENOENT)
            rc = grc;
    }
    return rc;
}

/* ---- on the loop -------------------------------------------------------------------------- */

typedef struct cr_note {
    acs_t *a;
    int64_t task;
    store_cr_note_t note;
    bool rehold;
} cr_note_t;

static int note_run(store_t *st, void *ud)
{
    cr_note_t *n = ud;
    return n->rehold ? store_bulk_rehold(st, n->task) : store_task_set_cr(st, n->task, &n->note);
}

static void note_free(int rc, void *ud)
{
    free(ud);
}

static void note_submit(cr_note_t *n)
{
    if (!n->a->db || store_worker_submit(n->a->db, note_run, note_free, n) != 0)
        free(n);
}

static void note_fill(cr_note_t *n, int rc, const char *reason)
{
    str_copy(n->note.status, sizeof n->note.status, acs_cr_outcome(rc));
    acs_utf8_copy(n->note.reason, sizeof n->note.reason, reason);
    n->note.at = clock_real_s();
}

static void cr_done(int rc, long status, const char *reason, void *ud)
{
    cr_note_t *n = ud;
    if (rc == -ECANCELED) {
        free(n);
        return;
    }
    if (rc == ACS_CR_PENDING) {
        /* UDP: "udp sent" now, the outcome when it is known */
        cr_note_t *now = malloc(sizeof *now);
        if (now) {
            *now = *n;
            note_fill(now, rc, reason);
            note_submit(now);
        }
        return;
    }
    char ok[40];
    snprintf(ok, sizeof ok, "CPE answered %ld", status);
    note_fill(n, rc, rc == 0 && status ? ok : reason);
    note_submit(n);
}

/* Wake the device of a released task; false when the connection request
 * limit refused it (the task goes back on hold). */
static bool wake(acs_t *a, const released_t *r)
{
    if (!r->dev.id[0] || acs_work_queued(a, r->dev.id))
        return true; /* gone, or a live session takes it */
    cr_note_t *n = calloc(1, sizeof *n);
    if (!n)
        return true;
    n->a = a;
    n->task = r->task;
    int rc = acs_cr_send(a, &r->dev, cr_done, n);
    if (rc == 0)
        return true;
    if (rc == -ECANCELED) {
        free(n);
        return true;
    }
    if (rc == -EBUSY) {
        n->rehold = true;
        note_submit(n);
        return false;
    }
    note_fill(n, rc, acs_cr_strerror(rc));
    note_submit(n);
    return true;
}

static void tick_start(acs_t *a);

static void tick_done(int rc, void *ud)
{
    tick_job_t *j = ud;
    acs_t *a = j->a;
    acs_bulk_t *bk = a->bulk;
    /* the database away: said once, and the pump waits for a kick (the API's,
     * the cluster's tick) instead of failing every BULK_TICK_MS */
    bool away = rc == -ENOTCONN;
    if (rc < 0 && rc != -ECANCELED && !(away && bk && bk->away))
        log_warn("bulk_tick", LF_ERR(rc));
    if (bk)
        bk->away = away;
    for (size_t i = 0; i < j->nended; i++) {
        const char *state = store_bulk_state_name(j->ended[i].st);
        if (j->ended[i].st == STORE_BULK_STOPPED)
            log_warn("bulk_stopped", LF_I("bulk", j->ended[i].id), LF_S("reason", j->ended[i].reason));
        else
            log_info("bulk_finished", LF_I("bulk", j->ended[i].id), LF_S("state", state));
        acs_events_emit(a, "bulk.finished", NULL,
                         json_pack("{s:I,s:s,s:s}", "bulk", (json_int_t)j->ended[i].id, "state", state,
                                   "reason", j->ended[i].reason));
    }
    size_t sent = 0, j_running = j->running;
    if (rc == 0 && bk && !a->stopping) {
        for (size_t i = 0; i < j->nrel; i++)
            sent += wake(a, &j->rel[i]);
        if (j->nrel)
            log_debug("bulk_released", LF_U("tasks", j->nrel), LF_U("woken", sent));
        if (a->o.bulk_cr_rate > 0)
            bk->tokens -= (double)sent;
    }
    free(j->rel);
    free(j);
    if (!bk)
        return;
    bk->busy = false;
    /* nothing running: no store job every tick until a bulk is made */
    if ((rc == 0 || away) && j_running == 0 && !bk->again)
        bk->idle = true;
    if (bk->again && !a->stopping) {
        bk->again = false;
        tick_start(a);
    }
}

static void tick_start(acs_t *a)
{
    acs_bulk_t *bk = a->bulk;
    if (!bk || bk->busy || a->stopping || !a->db) {
        if (bk && bk->busy)
            bk->again = true;
        return;
    }
    int64_t now = clock_mono_ms();
    double rate = (double)a->o.bulk_cr_rate;
    if (rate > 0) {
        /* a token bucket: at most one second's worth saved up */
        bk->tokens += rate * (double)(now - bk->last_ms) / 1000.0;
        if (bk->tokens > rate)
            bk->tokens = rate;
    }
    bk->last_ms = now;
    int64_t budget = rate > 0 ? (int64_t)floor(bk->tokens) : BULK_MAX_RELEASE;
    if (budget > BULK_MAX_RELEASE)
        budget = BULK_MAX_RELEASE;
    tick_job_t *j = calloc(1, sizeof *j);
    if (!j)
        return;
    j->a = a;
    j->budget = budget;
    j->now = clock_real_s();
    j->caprel = budget > 0 ? (size_t)budget : 0;
    if (j->caprel && !(j->rel = calloc(j->caprel, sizeof *j->rel))) {
        free(j);
        return;
    }
    bk->busy = true;
    if (store_worker_submit(a->db, tick_run, tick_done, j) != 0) {
        bk->busy = false;
        free(j->rel);
        free(j);
    }
}

static void on_tick(uv_timer_t *t)
{
    acs_t *a = t->data;
    if (a->bulk && !a->bulk->idle)
        tick_start(a);
}

void acs_bulk_kick(acs_t *a)
{
    if (a->bulk)
        a->bulk->idle = false;
    tick_start(a);
}

int acs_bulk_start(acs_t *a)
{
    acs_bulk_t *bk = calloc(1, sizeof *bk);
    uv_timer_t *t = calloc(1, sizeof *t);
    if (!bk || !t) {
        free(bk);
        free(t);
        return -ENOMEM;
    }
    bk->timer = t;
    bk->last_ms = clock_mono_ms();
    a->bulk = bk;
    uv_timer_init(a->loop, t);
    t->data = a;
    uv_timer_start(t, on_tick, BULK_TICK_MS, BULK_TICK_MS);
    return 0;
}

static void timer_closed(uv_handle_t *h)
{
    free(h);
}

void acs_bulk_stop(acs_t *a)
{
    acs_bulk_t *bk = a->bulk;
    if (!bk)
        return;
    uv_timer_stop(bk->timer);
    uv_close((uv_handle_t *)bk->timer, timer_closed);
    a->bulk = NULL; /* a tick job still out finds no pump and only frees itself */
    free(bk);
}
