/*
 * acs_prov_store: what provisioning in a session reads from and leaves in
 * the store (acs_prov.h): the device's state loaded (again) for the engine,
 * and one job writing what the session has not written yet:
 *
 *   - the parameters read or set (like a get_params task's results), and
 *     the values of the virtual parameters computed in the session, stored
 *     under VirtualParameters.<Name> like any parameter;
 *   - each preset's record (preset_record_outcome(): done, or the fault
 *     with its code, message, provision and line, tries, next retry);
 *   - the tags and tasks (download, reboot) the presets asked for: tasks go
 *     out in the same session (acs_work_queued makes the turn ask the tasks
 *     source again);
 *   - the delegated task's outcome, or its return to the queue.
 *
 * While the session lives the job holds the work (acs_work_submit) and the
 * engine steps again when it is done; at the end, a detached job carries
 * its own copy of everything.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acs/acs_prov.h"
#include "acs/acs_tasks.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/str.h"

/* ---- rows ---------------------------------------------------------------------------------- */

int acs_prov_row(acs_prov_rows_t *r, const char *name, const char *value, const char *type,
                 int writable)
{
    if (r->n >= ACS_PROV_MAX_PARAMS)
        return -ENOBUFS;
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 64;
        store_param_t *v = realloc(r->v, cap * sizeof *v);
        if (!v)
            return -ENOMEM;
        r->v = v;
        r->cap = cap;
    }
    store_param_t *p = &r->v[r->n];
    *p = (store_param_t){ .writable = writable };
    p->name = strdup(name);
    p->value = value ? strdup(value) : NULL;
    p->type = strdup(type ? type : "");
    if (!p->name || (value && !p->value) || !p->type) {
        free((char *)p->name);
        free((char *)p->value);
        free((char *)p->type);
        return -ENOMEM;
    }
    r->n++;
    return 0;
}

void acs_prov_rows_free(acs_prov_rows_t *r)
{
    for (size_t i = 0; i < r->n; i++) {
        free((char *)r->v[i].name);
        free((char *)r->v[i].value);
        free((char *)r->v[i].type);
    }
    free(r->v);
    *r = (acs_prov_rows_t){ 0 };
}

/* ---- store jobs ------------------------------------------------------------------------------- */

typedef struct flush_job {
    acs_t *a;
    acs_work_t *w;            /* NULL: detached (the session is over) */
    acs_prov_sess_t *S;
    char device[STORE_ID_MAX];
    int64_t now, ttl_s;
    acs_prov_rows_t rows;
    store_preset_run_t *recs;
    size_t nrecs;
    char **tags;              /* "+tag" / "-tag" */
    size_t ntags;
    char **tasks;             /* "type\0params" */
    size_t ntasks;
    int64_t task_id;
    int task_how;             /* 0 none, 1 done, 2 failed, 3 back to the queue */
    char *task_result;
    int task_code;
    char task_msg[256];
    prov_state_t *st;         /* the session's state, done with: freed on the store
                               * thread, which allocated its nodes (no cross-thread frees) */
    /* out */
    int added;
} flush_job_t;

static void flush_free(flush_job_t *j)
{
    prov_state_free(j->st);
    acs_prov_rows_free(&j->rows);
    free(j->recs);
    for (size_t i = 0; i < j->ntags; i++)
        free(j->tags[i]);
    free(j->tags);
    for (size_t i = 0; i < j->ntasks; i++)
        free(j->tasks[i]);
    free(j->tasks);
    free(j->task_result);
    free(j);
}

/* The device's tags with +tag/-tag applied (the API's form: comma-joined). */
static void apply_tags(char *tags, size_t size, char *const *ops, size_t n)
{
    char out[STORE_TAGS] = "";
    size_t off = 0;
    /* the current tags not removed, then the added ones not there */
    for (const char *s = tags; *s;) {
        size_t l = strcspn(s, ",");
        bool drop = false;
        for (size_t i = 0; i < n && !drop; i++)
            drop = ops[i][0] == '-' && strlen(ops[i] + 1) == l && strncmp(ops[i] + 1, s, l) == 0;
        if (l && !drop && off + l + 2 < sizeof out)
            off += (size_t)snprintf(out + off, sizeof out - off, "%s%.*s", off ? "," : "", (int)l, s);
        s += l + (s[l] == ',');
    }
    for (size_t i = 0; i < n; i++) {
        if (ops[i][0] != '+')
            continue;
        const char *t = ops[i] + 1;
        size_t l = strlen(t);
        bool have = false;
        for (const char *s = out; *s && !have;) {
            size_t k = strcspn(s, ",");
            have = k == l && strncmp(s, t, l) == 0;
            s += k + (s[k] == ',');
        }
        if (!have && off + l + 2 < sizeof out)
            off += (size_t)snprintf(out + off, sizeof out - off, "%s%s", off ? "," : "", t);
    }
    str_copy(tags, size, out);
}

static int flush_run(store_t *st, void *ud)
{
    flush_job_t *j = ud;
    int rc = 0;
    prov_state_free(j->st);
    j->st = NULL;
    if (j->rows.n && (rc = store_params_put(st, j->device, j->rows.v, j->rows.n, j->now)) < 0)
        return rc;
    store_device_facts_t facts;
    if (acs_params_facts(j->rows.v, j->rows.n, j->now, &facts))
        (void)store_device_set_facts(st, j->device, &facts);
    for (size_t i = 0; i < j->nrecs; i++)
        if ((rc = store_preset_run_put(st, &j->recs[i])) < 0)
            return rc;
    if (j->ntags) {
        store_device_t d;
        if (store_device_get(st, j->device, &d) == 0) {
            apply_tags(d.tags, sizeof d.tags, j->tags, j->ntags);
            if ((rc = store_device_set_tags(st, j->device, d.tags)) < 0)
                return rc;
        }
    }
    for (size_t i = 0; i < j->ntasks; i++) {
        store_task_t t = { .created = j->now, .expires_at = j->ttl_s ? j->now + j->ttl_s : 0 };
        str_copy(t.device_id, sizeof t.device_id, j->device);
        str_copy(t.type, sizeof t.type, j->tasks[i]);
        t.params = j->tasks[i] + strlen(j->tasks[i]) + 1;
        /* the live session here takes them (flush_done); after it ended,
         * the device's next session may be on another node: tell it */
        if ((rc = j->w ? store_task_add_quiet(st, &t) : store_task_add(st, &t)) < 0)
            return rc;
        j->added++;
    }
    if (j->task_how == 1 || j->task_how == 2)
        (void)store_task_finish(st, j->task_id, j->task_how == 1 ? STORE_TASK_DONE : STORE_TASK_FAILED,
                                j->task_result, j->task_code, j->task_msg, j->now);
    else if (j->task_how == 3)
        (void)store_task_requeue(st, j->task_id, j->now);
    return 0;
}

/* After the commit: who must hear of it. */
static void flush_tell(flush_job_t *j, int rc)
{
    if (rc < 0)
        return;
    for (size_t i = 0; i < j->nrecs; i++)
        if (j->recs[i].status == STORE_PRESET_FAULT && j->recs[i].next_retry > 0)
            acs_prov_owed_add(j->a, j->device);
    if (j->task_how)
        acs_task_finished(j->a, j->task_id);
}

static void flush_detached_done(int rc, void *ud)
{
    flush_job_t *j = ud;
    flush_tell(j, rc);
    flush_free(j);
}

static void flush_done(int rc, void *ud)
{
    flush_job_t *j = ud;
    acs_work_t *w = j->w;
    acs_prov_sess_t *S = j->S;
    flush_tell(j, rc);
    if (j->task_how && rc >= 0) {
        S->task_state = 3; /* written */
        acs_work_delegate_done(w);
    }
    if (j->added && !acs_work_ended(w)) {
        /* the tasks the presets asked for go out in this session */
        S->self_queued = true;
        acs_work_queued(j->a, j->device);
        S->self_queued = false;
    }
    flush_free(j);
    if (rc < 0) {
        acs_work_put(w, rc, NULL);
        return;
    }
    acs_prov_drive(w, S);
}

/* What the session has not written yet, in a job of its own data. NULL
 * when there is nothing (or no memory: logged). */
static flush_job_t *flush_take(acs_prov_sess_t *S, bool end)
{
    flush_job_t *j = calloc(1, sizeof *j);
    if (!j)
        return NULL;
    j->a = S->a;
    str_copy(j->device, sizeof j->device, S->device);
    j->now = clock_real_s();
    j->ttl_s = S->a->o.task_ttl_ms / 1000;
    preset_session_t ps = { .events = (const char *const *)S->events, .nevents = S->nevents,
                            .event_time = S->t0, .now = j->now };
    /* values of virtual parameters computed in this session */
    const char *name;
    for (size_t pos = 0; hmap_next(&S->vp_names, &pos, &name);) {
        char full[PROV_PATH_MAX];
        snprintf(full, sizeof full, PROV_VP_PREFIX "%s", name);
        prov_node_info_t ni;
        if (S->st && prov_state_get(S->st, full, &ni) == 0 && ni.exists && ni.value &&
            ni.t_value >= S->t0)
            (void)acs_prov_row(&S->rows, full, ni.value, prov_type_name(ni.type), ni.writable);
    }
    hmap_free(&S->vp_names); /* stored: forgotten (its key stays) */
    j->rows = S->rows;
    S->rows = (acs_prov_rows_t){ 0 };
    size_t nfin = 0;
    for (size_t i = 0; i < S->npr; i++)
        nfin += S->pr[i].status != PR_RUNNING && !S->pr[i].written;
    j->recs = calloc(nfin ? nfin : 1, sizeof *j->recs);
    if (!j->recs) {
        flush_free(j);
        return NULL;
    }
    for (size_t i = 0; i < S->npr; i++) {
        acs_pr_t *x = &S->pr[i];
        if (x->status == PR_RUNNING || x->written)
            continue;
        x->written = true;
        store_preset_run_t *r = &j->recs[j->nrecs++];
        *r = x->rec;
        preset_record_outcome(x->p, r, &ps, x->status == PR_DONE, x->fault.code, x->fault.message);
        if (x->status != PR_DONE) {
            str_copy(r->fault_provision, sizeof r->fault_provision, x->fault_prov);
            r->fault_line = x->fault.line;
        } else {
            r->fault_provision[0] = '\0';
            r->fault_line = 0;
        }
        x->rec = *r;
    }
    /* effects of the presets done: tags, and tasks the tasks source sends */
    for (size_t i = 0; i < S->fx.n; i++) {
        const prov_effect_t *e = &S->fx.v[i];
        char *op = NULL;
        if (e->kind == PROV_EFFECT_ADD_TAG || e->kind == PROV_EFFECT_REMOVE_TAG) {
            if (asprintf(&op, "%c%s", e->kind == PROV_EFFECT_ADD_TAG ? '+' : '-', e->arg[0]) < 0)
                op = NULL;
            char **v = op ? realloc(j->tags, (j->ntags + 1) * sizeof *v) : NULL;
            if (v) {
                j->tags = v;
                j->tags[j->ntags++] = op;
            } else {
                free(op);
            }
            continue;
        }
        json_t *p = e->kind == PROV_EFFECT_REBOOT
                        ? json_object()
                        : json_pack("{s:s, s:s}", "file_type", e->arg[0], "url", e->arg[1]);
        if (p && e->kind == PROV_EFFECT_DOWNLOAD && e->arg[2])
            json_object_set_new(p, "target_file_name", json_string(e->arg[2]));
        char *params = p ? json_dumps(p, JSON_COMPACT) : NULL;
        json_decref(p);
        /* "type\0params" */
        const char *type = e->kind == PROV_EFFECT_REBOOT ? "reboot" : "download";
        size_t tl = strlen(type), pl = params ? strlen(params) : 0;
        op = params ? malloc(tl + pl + 2) : NULL;
        if (op) {
            memcpy(op, type, tl + 1);
            memcpy(op + tl + 1, params, pl + 1);
        }
        free(params);
        char **v = op ? realloc(j->tasks, (j->ntasks + 1) * sizeof *v) : NULL;
        if (v) {
            j->tasks = v;
            j->tasks[j->ntasks++] = op;
        } else {
            free(op);
        }
    }
    prov_effects_reset(&S->fx);
    /* the delegated task: done or failed, or back to the queue when the
     * session ends before it did */
    if (S->dtask && S->task_state != 3) {
        j->task_id = S->dtask->id;
        if (S->task_state == 1 || S->task_state == 2) {
            j->task_how = S->task_state;
            j->task_code = S->task_code;
            str_copy(j->task_msg, sizeof j->task_msg, S->task_msg);
            j->task_result = S->task_result;
            S->task_result = NULL;
        } else if (end) {
            j->task_how = 3;
        }
    }
    if (!j->rows.n && !j->nrecs && !j->ntags && !j->ntasks && !j->task_how) {
        flush_free(j);
        return NULL;
    }
    return j;
}

typedef struct load_job {
    acs_prov_sess_t *S;
    char device[STORE_ID_MAX];
    int64_t t0, now;
    acs_prov_rows_t rows;     /* written first: the state then has them */
    acs_prov_scope_t scope;   /* what to load */
    prov_state_t *st;
} load_job_t;

static int load_run(store_t *st, void *ud)
{
    load_job_t *j = ud;
    if (j->rows.n) {
        int rc = store_params_put(st, j->device, j->rows.v, j->rows.n, j->now);
        if (rc < 0)
            return rc;
        store_device_facts_t facts;
        if (acs_params_facts(j->rows.v, j->rows.n, j->now, &facts))
            (void)store_device_set_facts(st, j->device, &facts);
    }
    int rc = acs_prov_load_state(st, j->device, j->t0, &j->scope, &j->st);
    return rc == -EIO ? rc : rc < 0 ? 1 : 0; /* 1: a cap, the presets fault */
}

static void load_done(int rc, void *ud)
{
    load_job_t *j = ud;
    acs_prov_sess_t *S = j->S;
    acs_work_t *w = S->w;
    acs_prov_rows_free(&j->rows);
    acs_prov_scope_free(&j->scope);
    if (rc < 0) {
        /* the job ran but its batch did not commit (the store went away):
         * the state it loaded goes too */
        prov_state_free(j->st);
        free(j);
        acs_work_put(w, rc, NULL);
        return;
    }
    S->stale = S->load_later = false;
    if (j->st) {
        prov_state_free(S->st);
        S->st = j->st;
        if (S->run.on)
            S->run.ses.st = S->st;
        if (S->task.on)
            S->task.ses.st = S->st;
    } else {
        S->load_failed = true;
    }
    free(j);
    acs_prov_drive(w, S);
}

void acs_prov_flush(acs_work_t *w, acs_prov_sess_t *S)
{
    flush_job_t *j = flush_take(S, false);
    if (!j) {
        acs_work_put(w, 0, NULL);
        return;
    }
    j->w = w;
    j->S = S;
    if (!acs_work_delegated(w)) {
        /* nothing left to run: the state goes with the job (a task that
         * comes later in the session loads it again) */
        j->st = S->st;
        S->st = NULL;
    }
    int rc = acs_work_submit(w, flush_run, flush_done, j);
    if (rc != 0) {
        flush_free(j);
        acs_work_put(w, rc, NULL);
    }
}

void acs_prov_load(acs_work_t *w, acs_prov_sess_t *S)
{
    load_job_t *j = calloc(1, sizeof *j);
    if (!j) {
        acs_work_put(w, -ENOMEM, NULL);
        return;
    }
    j->S = S;
    S->w = w;
    str_copy(j->device, sizeof j->device, S->device);
    j->t0 = S->t0;
    j->now = clock_real_s();
    j->rows = S->rows; /* written before the read: the state has them */
    S->rows = (acs_prov_rows_t){ 0 };
    acs_prov_scope(S, acs_work_delegated(w), &j->scope);
    int rc = acs_work_submit(w, load_run, load_done, j);
    if (rc != 0) {
        S->rows = j->rows;
        acs_prov_scope_free(&j->scope);
        free(j);
        acs_work_put(w, rc, NULL);
    }
}

/* ---- the end ---------------------------------------------------------------------------------- */

void acs_prov_end(acs_work_t *w, acs_prov_sess_t *S, bool rpc_out)
{
    (void)w, (void)rpc_out;
    acs_t *a = S->a;
    prov_fault_t f = { .code = PROV_FAULT_SCRIPT, .provision = -1 };
    str_copy(f.message, sizeof f.message, "the session ended before provisioning finished");
    for (size_t i = 0; i < S->npr; i++)
        if (S->pr[i].status == PR_RUNNING)
            acs_prov_outcome(S, &S->pr[i], PR_FAULT, &f, "");
    if (S->run.on)
        a->m.prov_rounds += (uint64_t)S->run.ses.rounds;
    flush_job_t *j = flush_take(S, true);
    if (j && (!a->db || store_worker_submit(a->db, flush_run, flush_detached_done, j) != 0)) {
        log_warn("prov_end_lost", LF_S("device", S->device),
                 LF_S("reason", "the store is gone or its queue is full: this session's preset"
                                " records and values are not written"));
        flush_free(j);
    }
}

void acs_prov_sess_free(acs_prov_sess_t *S)
{
    acs_prov_run_free(&S->run);
    acs_prov_run_free(&S->task);
    prov_state_free(S->st);
    for (size_t i = 0; i < S->nevents; i++)
        free(S->events[i]);
    free(S->events);
    free(S->oui);
    free(S->product_class);
    free(S->serial);
    free(S->manufacturer);
    free(S->model);
    free(S->software_version);
    free(S->hardware_version);
    free(S->cand);
    free(S->pr);
    prov_effects_free(&S->fx);
    acs_prov_rows_free(&S->rows);
    acs_prov_rows_free(&S->task_rows);
    hmap_free(&S->vp_names);
    acs_ext_res_t *r;
    for (size_t pos = 0; (r = hmap_next(&S->ext, &pos, NULL));) {
        free(r->value);
        free(r);
    }
    hmap_free(&S->ext);
    if (S->dtask) {
        store_task_clear(S->dtask);
        free(S->dtask);
    }
    free(S->task_result);
    acs_prov_snap_put(S->snap);
}
