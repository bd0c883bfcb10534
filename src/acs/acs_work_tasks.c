/*
 * acs_work_tasks: the operator's queued tasks as the first work source
 * (acs_work.h). Everything a task is told and answered goes through the
 * store first: the task's `sent` mark is committed before its RPC leaves,
 * its result (and the parameters it read) before the next RPC; the Inform
 * confirms tasks ("M Reboot", "M ScheduleInform") and a TransferComplete
 * finishes a Download/Upload in the same commit as the session's own
 * writes. Whoever waits on a task (?wait=) hears when it finishes.
 *
 * The hint keeps sessions without tasks (the common case) free of store
 * jobs: the Inform's transaction says whether the device has tasks queued,
 * acs_work_queued says when the API queued one since.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acs/acs_files.h"
#include "acs/acs_tasks.h"
#include "acs/acs_work.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/str.h"

enum { DONE_MAX = 16 }; /* tasks one Inform may confirm */
enum { FAILED_MAX = 64 }; /* a step's tries at a next task */

/* A turn's store job: finish the answered task (its result, the parameters
 * it read), then take the next pending one. */
typedef struct step_job {
    acs_t *a;
    acs_work_t *w;           /* NULL once detached from the session */
    struct tasks_state *t;
    /* in */
    char device[STORE_ID_MAX];
    int64_t finish_id;
    store_task_status_t finish_status;
    char *result;            /* JSON */
    int fault_code;
    char fault_string[256];
    store_param_t *params;   /* GPV/GPN results, accepted SPV values, to store */
    size_t nparams;
    char *strings;           /* backing for params */
    char *names_strings;     /* backing for names merged into params (held ones) */
    store_param_attr_t *attrs; /* attributes set (SPA) or read (GPA), to store */
    size_t nattrs;
    char *attr_strings;
    char *deleted;           /* an object instance the CPE deleted: its rows go */
    bool take_next;
    /* out */
    int64_t failed_ids[FAILED_MAX]; /* tasks failed before they could be sent */
    size_t nfailed;
    bool found;
    store_task_t next;
} step_job_t;

/* What an event (the Inform, a TransferComplete) does to tasks: made on
 * the loop, read and completed on the store thread, taken back on the loop
 * in event_done; it lives as long as its job. */
typedef struct task_event {
    cwmp_type_t type;
    const char *device;      /* the work's device id: fixed while its job holds the work */
    int64_t now;
    /* Inform */
    int64_t done_ids[DONE_MAX]; /* confirmed by "M Reboot"/"M ScheduleInform" */
    size_t ndone;
    char discover[64];       /* BOOTSTRAP: the data model root to read again ("Device.") */
    int64_t ttl_s;
    bool pending;            /* out: the device has tasks queued */
    /* TransferComplete */
    int64_t task_id;
    bool ok;
    int fault_code;
    char fault_string[256];
    char *result;
} task_event_t;

typedef struct tasks_state {
    int hint;                /* >0: there may be tasks queued */
    bool has_cur;            /* a task's RPC is out: */
    int64_t cur_id;
    char cur_type[STORE_TYPE];
    char *cur_params;        /* a set's parameters (stored once the CPE accepts them), a
                              * deleted object's (its rows go) */
    bool cur_keep;           /* keep the answer as the task's result (acs_task_keeps_result) */
    /* The rediscovery's names and writable flags (a get_names with
     * keep_result false), held until the get_params after it in this
     * session: merged into its value rows, each parameter is written once,
     * not twice. Written on their own at the end if none came. */
    store_param_t *held;
    char *held_strings;
    size_t nheld;
    step_job_t *pending;     /* an answer taken, committed by the turn's step */
    int64_t finishing;       /* the task that step finishes, while its job runs: still
                              * `sent` in the store, so its lease is still renewed */
    task_event_t *ev;        /* the event in progress; the loop leaves it alone meanwhile */
} tasks_state_t;

static void event_free(task_event_t *e)
{
    if (e)
        free(e->result);
    free(e);
}

/* ---- the Inform and TransferComplete -------------------------------------------- */

static int tasks_event(acs_work_t *w, void *state, const cwmp_msg_t *m)
{
    tasks_state_t *t = state;
    acs_t *a = acs_work_acs(w);
    event_free(t->ev); /* one left by an event that never ran */
    task_event_t *e = t->ev = calloc(1, sizeof *e);
    if (!e)
        return -ENOMEM;
    e->type = m->type;
    e->device = acs_work_device(w);
    e->now = clock_real_s();
    if (m->type == CWMP_INFORM) {
        bool bootstrap = false;
        for (size_t i = 0; i < m->n_events; i++) {
            const char *code = m->events[i].code;
            bootstrap |= strcmp(code, "0 BOOTSTRAP") == 0;
            /* The CommandKey of our Reboot/ScheduleInform comes back: done. */
            if ((strcmp(code, "M Reboot") == 0 || strcmp(code, "M ScheduleInform") == 0) &&
                e->ndone < DONE_MAX) {
                int64_t id = acs_task_id_from_key(m->events[i].command_key);
                if (id)
                    e->done_ids[e->ndone++] = id;
            }
        }
        if (bootstrap && a->o.rediscover && m->n_params) {
            /* The root is the first segment of the names the Inform carries. */
            const char *n = m->params[0].name;
            size_t len = strcspn(n, ".");
            if (n[len] == '.' && len + 2 < sizeof e->discover &&
                strspn(n, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-") >= len) {
                memcpy(e->discover, n, len + 1);
                e->discover[len + 1] = '\0';
                e->ttl_s = a->o.task_ttl_ms / 1000;
            }
        }
    } else if (m->type == CWMP_TRANSFER_COMPLETE) {
        e->task_id = acs_task_id_from_key(m->command_key);
        e->ok = m->fault_code == 0;
        e->fault_code = m->fault_code;
        acs_utf8_copy(e->fault_string, sizeof e->fault_string,
                      m->fault_string ? m->fault_string : "");
        json_t *r = acs_result_json(m);
        e->result = json_dumps(r, JSON_COMPACT);
        json_decref(r);
    }
    return 0;
}

static int tasks_event_run(void *state, store_t *st)
{
    task_event_t *e = ((tasks_state_t *)state)->ev;
    int64_t now = e->now;
    int rc;
    if (e->type == CWMP_TRANSFER_COMPLETE) {
        /* The CommandKey names the task: one of this device's transfers,
         * in this session or one after (a firmware reboots first). */
        store_task_t t = { 0 };
        rc = e->task_id ? store_task_get(st, e->task_id, &t) : -ENOENT;
        if (rc < 0 && rc != -ENOENT)
            return rc;
        bool ours = e->task_id && rc == 0 && strcmp(t.device_id, e->device) == 0 &&
                    (strcmp(t.type, "download") == 0 || strcmp(t.type, "upload") == 0);
        store_task_clear(&t);
        if (e->task_id && !ours) {
            log_warn("cwmp_transfer_complete_unmatched", LF_S("device", e->device),
                     LF_I("task", e->task_id), LF_S("reason", "no transfer task of this device"));
            e->task_id = 0;
        }
        if (e->task_id)
            (void)store_task_finish(st, e->task_id, e->ok ? STORE_TASK_DONE : STORE_TASK_FAILED,
                                    e->result, e->fault_code, e->fault_string, now);
        return 0;
    }
    if (e->type != CWMP_INFORM)
        return 0;
    for (size_t i = 0; i < e->ndone; i++)
        (void)store_task_finish(st, e->done_ids[i], STORE_TASK_DONE, "{}", 0, NULL, now);
    if (e->discover[0]) {
        /* Rediscover what the device has: its names with their writable
         * flags (GetParameterNames of the whole tree), then the values (one
         * GetParameterValues of its root), queued like any task (visible in
         * the API), run in this session. Both answers go into the device's
         * parameters, merged into one write per parameter (tasks_state's
         * held names); the tasks' results only count them (keep_result
         * false: a data model kept twice per device would double what a
         * bootstrap writes). */
        for (int i = 0; i < 2; i++) {
            store_task_t task = { .created = now, .expires_at = e->ttl_s ? now + e->ttl_s : 0 };
            char params[128];
            if (i == 1)
                snprintf(params, sizeof params, "{\"names\":[\"%s\"],\"keep_result\":false}",
                         e->discover);
            else
                snprintf(params, sizeof params,
                         "{\"path\":\"%s\",\"next_level\":false,\"keep_result\":false}", e->discover);
            str_copy(task.device_id, sizeof task.device_id, e->device);
            str_copy(task.type, sizeof task.type, i == 1 ? "get_params" : "get_names");
            task.params = params;
            if ((rc = store_task_add_quiet(st, &task)) < 0) /* this session runs them */
                return rc;
        }
    }
    bool any = false;
    rc = store_task_has_pending(st, e->device, &any);
    e->pending = any;
    return rc;
}

static void tasks_event_done(acs_work_t *w, void *state, int rc)
{
    tasks_state_t *t = state;
    task_event_t *e = t->ev;
    acs_t *a = acs_work_acs(w);
    for (size_t i = 0; i < e->ndone; i++)
        acs_task_finished(a, e->done_ids[i]);
    if (e->task_id)
        acs_task_finished(a, e->task_id);
    if (rc >= 0 && e->pending)
        t->hint++;
    event_free(e);
    t->ev = NULL;
}

static void tasks_queued(acs_work_t *w, void *state)
{
    (void)w;
    ((tasks_state_t *)state)->hint++;
}

/* ---- turns ---------------------------------------------------------------------- */

typedef struct first_task {
    store_task_t t;
    bool got;
} first_task_t;

static int take_first(const store_task_t *t, void *u)
{
    first_task_t *f = u;
    f->t = *t;
    f->t.params = t->params ? strdup(t->params) : NULL;
    f->t.result = NULL;
    f->got = true;
    return 1;
}

static int step_run(store_t *st, void *ud)
{
    step_job_t *j = ud;
    int64_t now = clock_real_s();
    if (j->deleted)
        (void)store_params_delete_object(st, j->device, j->deleted);
    if (j->nparams)
        (void)store_params_put(st, j->device, j->params, j->nparams, now);
    if (j->nattrs)
        (void)store_params_set_attributes(st, j->device, j->attrs, j->nattrs, now);
    store_device_facts_t facts;
    if (j->nparams && acs_params_facts(j->params, j->nparams, now, &facts))
        (void)store_device_set_facts(st, j->device, &facts);
    if (j->finish_id)
        (void)store_task_finish(st, j->finish_id, j->finish_status, j->result, j->fault_code,
                                j->fault_string, now);
    /* A task cancelled meanwhile loses the race cleanly (-ESTALE): try the next. */
    for (int tries = 0; j->take_next && !j->found && tries < 64; tries++) {
        first_task_t first = { .got = false };
        int rc = store_task_pending(st, j->device, 1, take_first, &first);
        if (rc < 0 || !first.got)
            return rc;
        if (first.t.expires_at > 0 && first.t.expires_at <= now) {
            /* Past its TTL, not yet swept by the minutely housekeeping: never sent late. */
            (void)store_task_finish(st, first.t.id, STORE_TASK_EXPIRED, NULL, 0,
                                    "expired before it could be sent", now);
            store_task_clear(&first.t);
            continue;
        }
        /* A download/upload naming a stored file: its URL, size, type and
         * credentials now (the file may have changed since the task was made). */
        char why[256];
        if (acs_files_resolve(j->a, st, &first.t, why, sizeof why) != 0) {
            log_warn("cwmp_task_unresolved", LF_I("task", first.t.id), LF_S("reason", why));
            (void)store_task_finish(st, first.t.id, STORE_TASK_FAILED, NULL,
                                    CWMP_FAULT_INTERNAL_ERROR, why, now);
            j->failed_ids[j->nfailed < FAILED_MAX ? j->nfailed++ : FAILED_MAX - 1] = first.t.id;
            store_task_clear(&first.t);
            continue;
        }
        if (store_task_mark_sent(st, first.t.id, now) == 0) {
            j->next = first.t;
            j->next.status = STORE_TASK_SENT;
            j->next.attempts++;
            j->found = true;
        } else {
            store_task_clear(&first.t);
        }
    }
    return 0;
}

static void step_free(step_job_t *j)
{
    free(j->result);
    free(j->deleted);
    free(j->params);
    free(j->strings);
    free(j->names_strings);
    free(j->attrs);
    free(j->attr_strings);
    store_task_clear(&j->next);
    free(j);
}

/* A finish no turn will commit (the session is over, or the task was given
 * up): a job of its own, which may outlive the work. */
static void detached_done(int rc, void *ud)
{
    step_job_t *j = ud;
    (void)rc;
    if (j->finish_id)
        acs_task_finished(j->a, j->finish_id);
    step_free(j);
}

static void submit_detached(acs_t *a, step_job_t *j)
{
    j->a = a;
    j->w = NULL;
    j->t = NULL;
    j->take_next = false;
    if (!a->db || store_worker_submit(a->db, step_run, detached_done, j) != 0)
        step_free(j);
}

static int requeue_run(store_t *st, void *ud)
{
    return store_task_requeue(st, *(int64_t *)ud, clock_real_s());
}

static void requeue_done(int rc, void *ud)
{
    (void)rc;
    free(ud);
}

static void requeue(acs_t *a, int64_t task_id)
{
    int64_t *id = malloc(sizeof *id);
    if (!id)
        return;
    *id = task_id;
    if (!a->db || store_worker_submit(a->db, requeue_run, requeue_done, id) != 0)
        free(id);
}

/* Hand the task taken by the step to the session as its RPC. */
static void send_task(acs_work_t *w, tasks_state_t *t, store_task_t *task)
{
    acs_t *a = acs_work_acs(w);
    if (acs_task_virtual(task->type, task->params)) {
        /* virtual parameters: provisioning resolves them with their scripts */
        int rc = acs_work_delegate(w, task);
        if (rc == 0) {
            log_info("cwmp_task_delegated", LF_S("device", acs_work_device(w)), LF_I("task", task->id),
                     LF_S("type", task->type), LF_S("to", "provisioning"));
            acs_work_put(w, 0, NULL);
        } else {
            requeue(a, task->id);
            acs_work_put(w, -ENOMEM, NULL);
        }
        return;
    }
    cwmp_msg_t m = { .type = CWMP_NONE };
    acs_rpc_scratch_t sc;
    char key[40], id[40];
    int rc = acs_task_rpc_text(task->type, task->params, task->id, &m, &sc, key, sizeof key);
    snprintf(id, sizeof id, "%" PRId64, task->id);
    m.id = id;
    bool built = rc == 0;
    if (built)
        rc = acs_work_put(w, 0, &m);
    if (rc == 0) {
        log_info("cwmp_rpc", LF_S("device", acs_work_device(w)), LF_I("task", task->id),
                 LF_S("rpc", cwmp_type_name(m.type)));
        t->cur_id = task->id;
        str_copy(t->cur_type, sizeof t->cur_type, task->type);
        t->has_cur = true;
        t->cur_keep = acs_task_keeps_result(task->params);
        free(t->cur_params);
        t->cur_params = NULL;
        if (task->params && (!strcmp(task->type, "set_params") || !strcmp(task->type, "set_attributes") ||
                             !strcmp(task->type, "delete_object")))
            t->cur_params = strdup(task->params); /* NULL without memory: not stored, no harm */
    } else if (rc == -ECANCELED) {
        requeue(a, task->id); /* taken but never sent: back to the queue */
    } else {
        /* Should not happen (the API validated it): fail the task. */
        log_error("cwmp_task_unencodable", LF_I("task", task->id), LF_ERR(rc));
        step_job_t *f = calloc(1, sizeof *f);
        if (f) {
            str_copy(f->device, sizeof f->device, acs_work_device(w));
            f->finish_id = task->id;
            f->finish_status = STORE_TASK_FAILED;
            f->fault_code = CWMP_FAULT_INTERNAL_ERROR;
            str_copy(f->fault_string, sizeof f->fault_string, "task cannot be encoded");
            submit_detached(a, f);
        }
        if (!built)
            acs_work_put(w, -EPROTO, NULL);
    }
    acs_rpc_scratch_free(&sc);
}

static void step_done(int rc, void *ud)
{
    step_job_t *j = ud;
    acs_work_t *w = j->w;
    j->t->finishing = 0;
    if (j->finish_id)
        acs_task_finished(acs_work_acs(w), j->finish_id);
    for (size_t i = 0; i < j->nfailed; i++)
        acs_task_finished(acs_work_acs(w), j->failed_ids[i]);
    if (rc < 0) {
        acs_work_put(w, rc, NULL);
    } else if (j->found) {
        acs_events_task(acs_work_acs(w), &j->next); /* sent */
        send_task(w, j->t, &j->next);
    } else {
        if (j->take_next)
            j->t->hint = 0;
        acs_work_put(w, 0, NULL);
    }
    step_free(j);
}

/* What an answer leaves in the store beyond the task: the parameters read,
 * the values and attributes the CPE accepted (SetParameterValuesResponse
 * status 0 or 1: applied, or applied at the next boot), the attributes
 * read, and what the values tell about the device (acs_params_facts). */
static int answer_rows(tasks_state_t *t, const cwmp_msg_t *m, step_job_t *j)
{
    int rc = 0;
    switch (m->type) {
    case CWMP_GET_PARAMETER_VALUES_RESPONSE:
        rc = acs_copy_params(m, true, &j->params, &j->strings, &j->nparams);
        if (rc == 0 && t->held && (rc = acs_merge_names(&j->params, &j->nparams, t->held, t->nheld)) == 0) {
            j->names_strings = t->held_strings;
            free(t->held);
            t->held = NULL;
            t->held_strings = NULL;
            t->nheld = 0;
        }
        break;
    case CWMP_GET_PARAMETER_NAMES_RESPONSE:
        rc = acs_copy_params(m, false, &j->params, &j->strings, &j->nparams);
        if (rc == 0 && !t->cur_keep && !t->held) {
            t->held = j->params;
            t->held_strings = j->strings;
            t->nheld = j->nparams;
            j->params = NULL;
            j->strings = NULL;
            j->nparams = 0;
        }
        break;
    case CWMP_SET_PARAMETER_VALUES_RESPONSE:
        if (t->cur_params && (m->status == 0 || m->status == 1))
            rc = acs_set_rows(t->cur_type, t->cur_params, &j->params, &j->strings, &j->nparams);
        break;
    case CWMP_SET_PARAMETER_ATTRIBUTES_RESPONSE:
        if (t->cur_params)
            rc = acs_set_attr_rows(t->cur_params, &j->attrs, &j->attr_strings, &j->nattrs);
        break;
    case CWMP_GET_PARAMETER_ATTRIBUTES_RESPONSE:
        rc = acs_attr_rows(m, &j->attrs, &j->attr_strings, &j->nattrs);
        break;
    case CWMP_DELETE_OBJECT_RESPONSE: /* status 0 or 1: gone (now or at the next boot) */
        if (t->cur_params && (m->status == 0 || m->status == 1)) {
            json_t *p = json_loads(t->cur_params, 0, NULL);
            const char *o = json_string_value(json_object_get(p, "object"));
            if (o && !(j->deleted = strdup(o)))
                rc = -ENOMEM;
            json_decref(p);
        }
        break;
    default:
        break;
    }
    if (rc == -EINVAL) /* a stored task that no longer builds: nothing to keep */
        rc = 0;
    return rc;
}

static int tasks_answer(acs_work_t *w, void *state, const cwmp_msg_t *m, const char *why)
{
    tasks_state_t *t = state;
    step_job_t *j = calloc(1, sizeof *j);
    if (!j)
        return -ENOMEM;
    j->finish_id = t->cur_id;
    if (!m) {
        log_warn("cwmp_rpc_unanswered", LF_S("device", acs_work_device(w)), LF_I("task", t->cur_id));
        j->finish_status = STORE_TASK_FAILED;
        j->fault_code = CWMP_FAULT_INTERNAL_ERROR;
        str_copy(j->fault_string, sizeof j->fault_string, why);
    } else if (m->type == CWMP_FAULT) {
        j->finish_status = STORE_TASK_FAILED;
        j->fault_code = m->fault.code;
        acs_utf8_copy(j->fault_string, sizeof j->fault_string,
                      m->fault.string && *m->fault.string ? m->fault.string
                                                          : cwmp_fault_text(m->fault.code));
        json_t *r = acs_result_json(m);
        j->result = json_object_size(r) ? json_dumps(r, JSON_COMPACT) : NULL;
        json_decref(r);
        log_info("cwmp_task_fault", LF_S("device", acs_work_device(w)), LF_I("task", t->cur_id),
                 LF_I("code", m->fault.code), LF_S("message", j->fault_string));
    } else {
        /* Status 1: the outcome comes with TransferComplete. */
        bool later = (m->type == CWMP_DOWNLOAD_RESPONSE || m->type == CWMP_UPLOAD_RESPONSE) &&
                     m->status == 1;
        if (later) {
            j->finish_id = 0;
        } else {
            j->finish_status = STORE_TASK_DONE;
            if (t->cur_keep) {
                j->result = acs_result_text(m);
            } else if (asprintf(&j->result, "{\"parameters_stored\":%zu}", m->n_params) < 0) {
                j->result = NULL;
            }
        }
        if (answer_rows(t, m, j) != 0) {
            step_free(j);
            return -ENOMEM;
        }
        log_info("cwmp_task_done", LF_S("device", acs_work_device(w)), LF_I("task", t->cur_id),
                 LF_S("rpc", cwmp_type_name(m->type)), LF_B("pending_transfer", later));
    }
    t->has_cur = false;
    free(t->cur_params);
    t->cur_params = NULL;
    t->pending = j;
    return 0;
}

static void tasks_next(acs_work_t *w, void *state, bool may_send)
{
    tasks_state_t *t = state;
    step_job_t *j = t->pending;
    /* none while provisioning carries out one of ours (the queue's order) */
    bool take = may_send && t->hint > 0 && !acs_work_delegated(w);
    if (j && !take && !j->finish_id && !j->nparams && !j->nattrs) { /* nothing to write after all */
        step_free(j);
        t->pending = j = NULL;
    }
    if (!j && !take) {
        acs_work_put(w, 0, NULL);
        return;
    }
    if (!j && !(j = calloc(1, sizeof *j))) {
        acs_work_put(w, -ENOMEM, NULL);
        return;
    }
    t->pending = NULL;
    j->a = acs_work_acs(w);
    j->w = w;
    j->t = t;
    str_copy(j->device, sizeof j->device, acs_work_device(w));
    j->take_next = take;
    int rc = acs_work_submit(w, step_run, step_done, j);
    if (rc == 0)
        t->finishing = j->finish_id;
    if (rc != 0) {
        step_free(j);
        acs_work_put(w, rc, NULL);
    }
}

static void tasks_end(acs_work_t *w, void *state, bool rpc_out)
{
    tasks_state_t *t = state;
    acs_t *a = acs_work_acs(w);
    if (t->pending) { /* an answer no turn committed */
        submit_detached(a, t->pending);
        t->pending = NULL;
    }
    step_job_t *h = t->held ? calloc(1, sizeof *h) : NULL;
    if (h) { /* names no get_params came to take */
        str_copy(h->device, sizeof h->device, acs_work_device(w));
        h->params = t->held;
        h->strings = t->held_strings;
        h->nparams = t->nheld;
        submit_detached(a, h);
    } else if (t->held) {
        free(t->held);
        free(t->held_strings);
    }
    if (t->has_cur && rpc_out) {
        bool again = acs_task_requeue_safe(t->cur_type);
        if (again)
            requeue(a, t->cur_id);
        log_info("cwmp_task_unanswered", LF_I("task", t->cur_id), LF_S("type", t->cur_type),
                 LF_B("requeued", again));
    }
    free(t->cur_params);
    event_free(t->ev);
}

static int64_t tasks_inflight(const void *state)
{
    const tasks_state_t *t = state;
    return t->has_cur ? t->cur_id : t->pending && t->pending->finish_id ? t->pending->finish_id
                                                                       : t->finishing;
}

const acs_work_source_t acs_work_tasks = {
    .name = "tasks",
    .state_size = sizeof(tasks_state_t),
    .event = tasks_event,
    .event_run = tasks_event_run,
    .event_done = tasks_event_done,
    .queued = tasks_queued,
    .answer = tasks_answer,
    .next = tasks_next,
    .end = tasks_end,
    .inflight = tasks_inflight,
};
