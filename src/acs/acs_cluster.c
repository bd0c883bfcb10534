/*
 * acs_cluster: what makes several `outpost acs` nodes on one PostgreSQL
 * store behave as one ACS (docs/scaling.md, "Running several nodes").
 *
 *   - The node id (--node-id, default HOST-PID): a sent task's owner in the
 *     store, shown in /status.
 *   - Leases: every --task-lease/3 one store job renews the leases of the
 *     tasks this node's live sessions have out (one UPDATE for all of them)
 *     and puts back re-runnable `sent` tasks whose lease ran out (their
 *     node died or lost its session without putting them back), waking
 *     their devices. On SQLite the same rule runs with one node.
 *   - News from the other nodes (PostgreSQL only): a LISTEN connection
 *     (store_pg_listen.h) hears the store's own notifications
 *     (STORE_CHANNEL_TASK: a task finished -> its ?wait= callers here are
 *     answered, and the live events show it; STORE_CHANNEL_PROV: a preset
 *     or script changed -> the provisioning snapshot is reloaded;
 *     STORE_CHANNEL_QUEUED: a task was queued for a device in session here
 *     -> that session looks for it before it ends; STORE_CHANNEL_EVENT:
 *     live events that happened there -> this node's event streams,
 *     acs_evshare.h). When the
 *     listener comes back after a loss it may have missed some: it reloads
 *     the snapshot and re-reads the tasks its waiters wait on.
 *
 * The API keys need nothing here: every node polls the store's key version
 * each second (acs_keys.c). The sweeps that must run once across the
 * cluster take store_try_leader() in their own jobs (acs_waiters.c,
 * acs_webhook*.c, acs_events.c, acs_bulk.c).
 *
 * Ownership: acs_t holds one acs_cluster_t from acs_cluster_init (before
 * the worker owns the store) to acs_cluster_free (after the loop ran dry).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "acs/acs_bulk.h"
#include "acs/acs_events.h"
#include "acs/acs_internal.h"
#include "acs/acs_prov.h"
#include "acs/acs_tasks.h"
#include "acs/acs_work.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/str.h"
#include "store/store_pg_listen.h"

enum { INFLIGHT_FIRST = 1024, WAKE_MAX = 256 };

struct acs_cluster {
    acs_t *a;
    uv_timer_t *timer;        /* the lease tick (heap: freed by its close) */
    bool busy;                /* a tick's job is out */
    store_listen_t *listen;   /* PostgreSQL only */
    int ups;                  /* times the listener came up */
    uint64_t heard;           /* notifications from other nodes */
};

/* ---- the node id ------------------------------------------------------------------- */

static bool node_id_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n >= STORE_NODE_MAX)
        return false;
    for (; *s; s++)
        if (*s <= ' ' || *s > '~')
            return false;
    return true;
}

int acs_cluster_init(acs_t *a)
{
    if (a->o.node_id) {
        if (!node_id_ok(a->o.node_id)) {
            log_error("acs_config", LF_S("reason", "--node-id: 1 to 63 printable characters, no spaces"));
            return -EINVAL;
        }
        str_copy(a->node_id, sizeof a->node_id, a->o.node_id);
    } else {
        char host[STORE_NODE_MAX - 12] = "";
        if (gethostname(host, sizeof host - 1) != 0 || !host[0])
            str_copy(host, sizeof host, "acs");
        for (char *p = host; *p; p++)
            if (*p <= ' ' || *p > '~')
                *p = '_';
        snprintf(a->node_id, sizeof a->node_id, "%s-%ld", host, (long)getpid());
    }
    store_set_node(a->store, a->node_id, a->o.task_lease_ms / 1000);
    acs_cluster_t *c = calloc(1, sizeof *c);
    if (!c)
        return -ENOMEM;
    c->a = a;
    a->cluster = c;
    log_info("acs_node", LF_S("node", a->node_id), LF_I("task_lease_s", store_lease(a->store)),
             LF_B("shared_store", store_shared(a->store)));
    return 0;
}

/* ---- the lease tick ---------------------------------------------------------------- */

typedef struct tick_job {
    acs_t *a;
    int64_t *ids;               /* every task this node's sessions have out */
    size_t n;
    const char *types[64];
    char (*devs)[STORE_ID_MAX]; /* devices whose task went back */
    size_t ndevs;
    store_device_t *wake;       /* their rows, for a wake-up */
    size_t nwake;
    int renewed, recovered;
} tick_job_t;

static int note_dev(const char *dev, void *ud)
{
    tick_job_t *j = ud;
    if (!j->devs && !(j->devs = calloc(WAKE_MAX, STORE_ID_MAX)))
        return 0; /* no wake-up: the device's next inform takes it */
    if (j->ndevs < WAKE_MAX && dev)
        str_copy(j->devs[j->ndevs++], STORE_ID_MAX, dev);
    return 0;
}

static int tick_run(store_t *s, void *ud)
{
    tick_job_t *j = ud;
    int64_t now = clock_real_s();
    j->renewed = store_task_lease_renew(s, j->ids, j->n, now);
    if (j->renewed < 0)
        return j->renewed;
    j->recovered = store_task_recover(s, j->types, now, false, note_dev, j);
    if (j->recovered < 0)
        return j->recovered;
    if (j->ndevs && !(j->wake = calloc(j->ndevs, sizeof *j->wake)))
        return 0;
    for (size_t i = 0; i < j->ndevs; i++)
        if (store_device_get(s, j->devs[i], &j->wake[j->nwake]) == 0)
            j->nwake++;
    return 0;
}

static void tick_done(int rc, void *ud)
{
    tick_job_t *j = ud;
    acs_t *a = j->a;
    if (a->cluster)
        a->cluster->busy = false;
    if (rc == 0 && j->recovered > 0)
        log_info("tasks_recovered", LF_I("count", j->recovered), LF_S("reason", "lease ran out"));
    if (rc == 0 && j->n > 0 && (size_t)j->renewed < j->n)
        /* a task of ours went back meanwhile (our lease ran out while the
         * store was away): another node may send it; ours is answered, or
         * finds it no longer sent */
        log_warn("task_lease_lost", LF_U("in_flight", j->n), LF_I("renewed", j->renewed));
    for (size_t i = 0; rc == 0 && i < j->nwake && !a->stopping; i++)
        if (!acs_work_queued(a, j->wake[i].id) && j->wake[i].cr_url[0])
            (void)acs_cr_send(a, &j->wake[i], NULL, NULL);
    free(j->ids);
    free(j->devs);
    free(j->wake);
    free(j);
}

static void on_tick(uv_timer_t *t)
{
    acs_t *a = t->data;
    acs_cluster_t *c = a->cluster;
    if (!c || c->busy || !a->db || a->stopping)
        return;
    tick_job_t *j = calloc(1, sizeof *j);
    if (!j)
        return;
    j->a = a;
    /* all of them: a task left out would lose its lease and be sent again
     * by another node while its session here still runs it */
    for (size_t cap = INFLIGHT_FIRST;; cap *= 2) {
        int64_t *ids = realloc(j->ids, cap * sizeof *ids);
        if (!ids) {
            tick_done(-ENOMEM, j);
            return;
        }
        j->ids = ids;
        if ((j->n = acs_work_inflight(a, j->ids, cap)) < cap)
            break;
    }
    /* a bulk another node made (and ran, until it died) is this node's to
     * run too: its pump, idle without a local kick, looks again */
    if (store_shared(a->store))
        acs_bulk_kick(a);
    acs_task_requeue_list(j->types, sizeof j->types / sizeof j->types[0]);
    if (store_worker_submit(a->db, tick_run, tick_done, j) == 0)
        c->busy = true;
    else
        tick_done(-EAGAIN, j);
}

/* ---- news from the other nodes ----------------------------------------------------- */

static void on_note(const char *channel, const char *payload, void *ud)
{
    acs_t *a = ud;
    const char *sp = strchr(payload, ' ');
    if (!sp || a->stopping)
        return;
    /* our own writes were acted on where they were made */
    if ((size_t)(sp - payload) == strlen(a->node_id) && strncmp(payload, a->node_id, (size_t)(sp - payload)) == 0)
        return;
    a->cluster->heard++;
    const char *what = sp + 1;
    if (strcmp(channel, STORE_CHANNEL_TASK) == 0) {
        if (strcmp(what, "*") == 0) {
            acs_waiters_expired(a);
            return;
        }
        char *end;
        long long id = strtoll(what, &end, 10);
        if (id > 0 && !*end)
            acs_task_finished_elsewhere(a, id);
    } else if (strcmp(channel, STORE_CHANNEL_PROV) == 0) {
        acs_prov_reload(a, NULL, NULL);
    } else if (strcmp(channel, STORE_CHANNEL_QUEUED) == 0) {
        /* queued through another node's API while the device is in session
         * here: this session looks for it before it ends (that node's
         * wake-up reached a CPE that was busy with us) */
        (void)acs_work_queued(a, what);
    } else if (strcmp(channel, STORE_CHANNEL_EVENT) == 0) {
        acs_events_heard(a, what); /* a dashboard here sees what happened there */
    }
}

/* Connected again after a loss: what was said meanwhile is lost to us. */
static void on_up(void *ud)
{
    acs_t *a = ud;
    if (a->cluster->ups++ == 0 || a->stopping)
        return;
    acs_prov_reload(a, NULL, NULL);
    acs_waiters_recheck(a);
}

int acs_cluster_start(acs_t *a)
{
    acs_cluster_t *c = a->cluster;
    if (!c)
        return -EINVAL;
    if (!(c->timer = malloc(sizeof *c->timer)))
        return -ENOMEM;
    uv_timer_init(a->loop, c->timer);
    c->timer->data = a;
    uint64_t every = (uint64_t)(store_lease(a->store) * 1000 / 3);
    uv_timer_start(c->timer, on_tick, every, every);
    if (store_shared(a->store)) {
        static const char *const channels[] = { STORE_CHANNEL_TASK, STORE_CHANNEL_PROV,
                                                STORE_CHANNEL_QUEUED, STORE_CHANNEL_EVENT, NULL };
        int rc = store_listen_new(a->loop, a->o.db, channels, on_note, on_up, a, &c->listen);
        if (rc) {
            log_error("store_listen", LF_ERR(rc));
            return rc;
        }
    }
    return 0;
}

void acs_cluster_stop(acs_t *a)
{
    acs_cluster_t *c = a->cluster;
    if (!c)
        return;
    if (c->timer) {
        uv_timer_stop(c->timer);
        uv_close((uv_handle_t *)c->timer, (uv_close_cb)free);
        c->timer = NULL;
    }
    store_listen_free(c->listen);
    c->listen = NULL;
}

void acs_cluster_free(acs_t *a)
{
    free(a->cluster);
    a->cluster = NULL;
}

json_t *acs_cluster_json(const acs_t *a)
{
    const acs_cluster_t *c = a->cluster;
    return json_pack("{s:s, s:I, s:b, s:b, s:I}", "node", a->node_id, "task_lease_s",
                     (json_int_t)(a->store ? store_lease(a->store) : 0), "shared_store",
                     a->store && store_shared(a->store), "listening",
                     c && store_listen_up(c->listen), "heard", (json_int_t)(c ? c->heard : 0));
}
