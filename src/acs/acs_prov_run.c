/*
 * acs_prov_run: the engine (provision/prov_engine.h) driven inside one CWMP
 * session (acs_prov.h), for the presets acs_work_prov.c selected and for
 * the virtual-parameter tasks the tasks source hands over.
 *
 * Each turn: the provisions of the presets still running are built (a
 * preset's provisions in order, presets by weight; templates expanded
 * against what the session knows, a {param:X} not known yet becoming a
 * read of X first), the engine steps, and its RPC goes to the session. An
 * ext() call runs off the loop (acs_prov_ext.c) and the engine steps again
 * once its result is cached.
 *
 * Isolation: a preset's failure must not stop the others. A script or
 * planning fault names its provision, so its preset faults alone and the
 * rest go on (the next step runs without it). A CPE fault to an RPC that
 * carried declarations of several presets (one GetParameterValues or
 * SetParameterValues for all) cannot be pinned on one; the presets then run
 * one at a time ("solo") for the rest of the session, each with its own
 * rounds, so the next fault names its preset. Giving up after the rounds
 * does the same before blaming anyone.
 *
 * Bounds: ACS_PROV_MAX_RPCS RPCs, ACS_PROV_MAX_EXT external calls and the
 * engine's rounds per session; the state's caps (prov_state.h) for what a
 * device answers; every Lua run has its own instruction, memory and CPU
 * limits (prov_lua.h).
 *
 * What it reads and leaves in the store: acs_prov_store.c.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "acs/acs_prov.h"
#include "acs/acs_tasks.h"
#include "acs/acs_webhook.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/str.h"

/* An engine step that used more CPU than this on the loop marks its scripts
 * heavy (they run on the thread pool from then on) and is logged. Steps
 * take tens of microseconds; CPU time, not wall time, so a loaded machine's
 * preemption does not mark anything. */
#define SLOW_STEP_NS (2 * 1000000LL)
/* The pool's threads run heavy scripts at this nice value: on two cores,
 * four of them at the loop's priority would leave it a third of one. */
#define POOL_NICE 10

/* ---- outcomes ------------------------------------------------------------------------------- */

static const char *const outcome_names[] = { "done", "fault", "gave_up" };

void acs_prov_outcome(acs_prov_sess_t *S, acs_pr_t *x, acs_pr_status_t st, const prov_fault_t *f,
                      const char *prov)
{
    if (x->status != PR_RUNNING)
        return;
    x->status = st;
    acs_t *a = S->a;
    if (st == PR_DONE) {
        a->m.prov_runs[0]++;
        log_info("prov_preset_done", LF_S("device", S->device), LF_S("preset", x->p->name));
        return;
    }
    x->fault = *f;
    if (!x->fault.code)
        x->fault.code = PROV_FAULT_SCRIPT;
    str_copy(x->fault_prov, sizeof x->fault_prov, prov ? prov : "");
    a->m.prov_runs[st == PR_FAULT ? 1 : 2]++;
    log_warn("prov_preset_fault", LF_S("device", S->device), LF_S("preset", x->p->name),
             LF_S("outcome", outcome_names[st == PR_FAULT ? 1 : 2]), LF_S("provision", x->fault_prov),
             LF_I("line", x->fault.line), LF_I("code", x->fault.code),
             LF_S("message", x->fault.message));
    /* webhooks and live events (acs_events.h) */
    (void)acs_events_emit(a, "fault", S->device,
                               json_pack("{s:s, s:o, s:o, s:s, s:i, s:o, s:o, s:i}", "source",
                                         "provisioning", "device_id", acs_json_text(S->device),
                                         "preset", acs_json_text(x->p->name), "outcome",
                                         outcome_names[st == PR_FAULT ? 1 : 2], "code",
                                         x->fault.code, "message", acs_json_text(x->fault.message),
                                         "provision", acs_json_text(x->fault_prov), "line",
                                         x->fault.line));
}

static size_t running(const acs_prov_sess_t *S)
{
    size_t n = 0;
    for (size_t i = 0; i < S->npr; i++)
        n += S->pr[i].status == PR_RUNNING;
    return n;
}

/* The preset running alone in solo mode: the first one running. */
static int solo_pr(const acs_prov_sess_t *S)
{
    for (size_t i = 0; i < S->npr; i++)
        if (S->pr[i].status == PR_RUNNING)
            return (int)i;
    return -1;
}

/* Every preset of the run that is still running ends this way. */
static void fault_running(acs_prov_sess_t *S, acs_pr_status_t st, const prov_fault_t *f)
{
    int only = S->run.solo ? solo_pr(S) : -1;
    for (size_t i = 0; i < S->npr; i++)
        if (S->pr[i].status == PR_RUNNING && (only < 0 || (int)i == only))
            acs_prov_outcome(S, &S->pr[i], st, f, "");
}

void acs_prov_task_final(acs_prov_sess_t *S, bool ok, int code, const char *msg)
{
    if (S->task_state != 0)
        return;
    S->task_state = ok ? 1 : 2;
    S->task_code = code;
    str_copy(S->task_msg, sizeof S->task_msg, msg ? msg : "");
    log_info(ok ? "cwmp_task_done" : "cwmp_task_fault", LF_S("device", S->device),
             LF_I("task", S->dtask->id), LF_S("by", "provisioning"), LF_I("code", code),
             LF_S("message", S->task_msg));
}

/* ---- engine callbacks ------------------------------------------------------------------------- */

static bool vp_lookup(void *ud, const char *name, const char **script, size_t *len)
{
    acs_prov_sess_t *S = ud;
    const acs_prov_script_t *sc = hmap_gets(&S->snap->vps, name);
    if (!sc)
        return false;
    *script = sc->src;
    *len = sc->len;
    return true;
}

static bool ext_lookup(void *ud, const char *key, size_t keylen, bool *ok, const char **value)
{
    acs_prov_sess_t *S = ud;
    acs_ext_res_t *r = hmap_get(&S->ext, key, keylen);
    if (!r)
        return false;
    *ok = r->ok;
    *value = r->value;
    return true;
}

/* The session's maps, made when first needed (hmap_init seeds a random
 * key: a system call most sessions do not need). */
static void maps_on(acs_prov_sess_t *S)
{
    if (!S->maps) {
        hmap_init(&S->vp_names);
        hmap_init(&S->ext);
        S->maps = true;
    }
}

static int ext_put(acs_prov_sess_t *S, const char *key, bool ok, const char *value)
{
    maps_on(S);
    acs_ext_res_t *r = calloc(1, sizeof *r);
    if (!r || !(r->value = strdup(value ? value : ""))) {
        free(r);
        return -ENOMEM;
    }
    r->ok = ok;
    void *old = NULL;
    if (hmap_set_copy(&S->ext, key, strlen(key), r, &old) != 0) {
        free(r->value);
        free(r);
        return -ENOMEM;
    }
    if (old) {
        free(((acs_ext_res_t *)old)->value);
        free(old);
    }
    return 0;
}

static void run_start(acs_prov_sess_t *S, acs_prov_run_t *R)
{
    if (R->on)
        return;
    S->pdev = (prov_device_t){ .id = S->device, .oui = S->oui, .product_class = S->product_class,
                               .serial = S->serial, .tags = S->tags };
    prov_session_opts_t o = { .now = S->t0, .device = &S->pdev, .vp_lookup = vp_lookup, .vp_ud = S,
                              .ext_lookup = ext_lookup, .ext_ud = S };
    prov_session_init(&R->ses, S->st, &o);
    R->on = true;
}

/* ---- ext -------------------------------------------------------------------------------------- */

typedef struct ext_wait {
    acs_prov_sess_t *S;
    acs_work_t *w;
    char *key;
} ext_wait_t;

static void ext_done(void *ud, bool ok, const char *value)
{
    ext_wait_t *e = ud;
    acs_prov_sess_t *S = e->S;
    S->ext_busy = false;
    int rc = ext_put(S, e->key, ok, value);
    acs_work_t *w = e->w;
    free(e->key);
    free(e);
    if (rc < 0 || acs_work_ended(w)) {
        acs_work_put(w, rc < 0 ? rc : 0, NULL);
        return;
    }
    acs_prov_drive(w, S);
}

/* Start the call the engine asked for; false when it failed at once (its
 * failure is cached: step again). */
static bool ext_start(acs_work_t *w, acs_prov_sess_t *S, acs_prov_run_t *R)
{
    prov_session_t *ses = &R->ses;
    const char *fail = NULL;
    char why[160];
    if (S->next >= ACS_PROV_MAX_EXT) {
        snprintf(why, sizeof why, "ext %s: more than %d external calls in one session",
                 ses->ext_name, ACS_PROV_MAX_EXT);
        fail = why;
    } else {
        ext_wait_t *e = calloc(1, sizeof *e);
        if (e && !(e->key = strdup(ses->ext_key))) {
            free(e);
            e = NULL;
        }
        if (!e) {
            fail = "ext: out of memory";
        } else {
            e->S = S;
            e->w = w;
            S->next++;
            int rc = acs_ext_call(S->a, ses->ext_name, ses->ext_args, ses->n_ext_args, ext_done, e);
            if (rc == 0) {
                S->ext_busy = true;
                return true;
            }
            free(e->key);
            free(e);
            snprintf(why, sizeof why, "ext %s: %s", ses->ext_name,
                     rc == -ENOENT   ? "no such external call (--ext)"
                     : rc == -EAGAIN ? "too many external calls in flight"
                                     : "cannot start");
            fail = why;
        }
    }
    if (ext_put(S, ses->ext_key, false, fail) != 0)
        fault_running(S, PR_FAULT, &(prov_fault_t){ .code = PROV_FAULT_SCRIPT, .message = "out of memory" });
    return false;
}

/* ---- driving ---------------------------------------------------------------------------------- */

static void log_lines(acs_prov_sess_t *S, const buf_t *log)
{
    const char *p = log->data, *end = log->data + log->len;
    while (p && p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t l = nl ? (size_t)(nl - p) : (size_t)(end - p);
        char line[512];
        snprintf(line, sizeof line, "%.*s", (int)l, p);
        log_info("prov_log", LF_S("device", S->device), LF_S("line", line));
        p = nl ? nl + 1 : end;
    }
}

static void note_vps(acs_prov_sess_t *S, const prov_decls_t *d)
{
    for (size_t i = 0; i < d->n; i++)
        if (d->v[i]->vp && d->v[i]->path.nseg >= 2) {
            maps_on(S);
            const char *name = d->v[i]->path.seg[1].name;
            if (!hmap_gets(&S->vp_names, name))
                (void)hmap_put_copy(&S->vp_names, name, strlen(name), (void *)1);
        }
}

/* The run to step now: a delegated task first (it is the operator's, in
 * queue order), then the presets. NULL: nothing left to step. */
static acs_prov_run_t *pick(acs_work_t *w, acs_prov_sess_t *S)
{
    const store_task_t *d = acs_work_delegated(w);
    if (d && (!S->dtask || S->dtask->id != d->id)) {
        /* a new one (the previous one was written) */
        if (S->dtask) {
            store_task_clear(S->dtask);
            free(S->dtask);
        }
        S->dtask = calloc(1, sizeof *S->dtask);
        if (S->dtask) {
            *S->dtask = *d;
            S->dtask->params = d->params ? strdup(d->params) : NULL;
            S->dtask->result = NULL;
        }
        S->task_state = 0;
        acs_prov_rows_free(&S->task_rows);
        acs_prov_run_free(&S->task);
    }
    if (S->dtask && S->task_state == 0)
        return &S->task;
    if (running(S) > 0)
        return &S->run;
    return NULL;
}

/* The delegated task converged: its result. */
static void task_converged(acs_prov_sess_t *S)
{
    json_t *r;
    if (strcmp(S->dtask->type, "get_params") == 0) {
        json_t *a = json_array();
        for (size_t i = 0; i < S->task_rows.n; i++)
            json_array_append_new(a, json_pack("{s:s, s:s, s:s}", "name", S->task_rows.v[i].name,
                                               "value", S->task_rows.v[i].value ? S->task_rows.v[i].value : "",
                                               "type", S->task_rows.v[i].type));
        /* the virtual parameters' values, as computed */
        for (size_t i = 0; i < S->task.npv; i++) {
            const char *n = S->task.pv[i].args[0];
            prov_node_info_t ni;
            if (strncmp(n, PROV_VP_PREFIX, sizeof PROV_VP_PREFIX - 1) == 0 &&
                prov_state_get(S->st, n, &ni) == 0 && ni.exists && ni.value)
                json_array_append_new(a, json_pack("{s:s, s:s, s:s}", "name", n, "value", ni.value,
                                                   "type", prov_type_name(ni.type) ? prov_type_name(ni.type) : ""));
        }
        r = json_pack("{s:o}", "parameters", a);
    } else {
        r = json_pack("{s:i}", "status", 0);
    }
    S->task_result = r ? json_dumps(r, JSON_COMPACT) : NULL;
    json_decref(r);
    acs_prov_task_final(S, true, 0, NULL);
}

/* The presets run converged: the running ones (in solo mode, the one) are done. */
static void presets_converged(acs_prov_sess_t *S, acs_prov_run_t *R)
{
    int only = R->solo ? solo_pr(S) : -1;
    for (size_t i = 0; i < R->ses.effects.n; i++) {
        const prov_effect_t *e = &R->ses.effects.v[i];
        int pri = e->provision >= 0 && (size_t)e->provision < R->npv ? R->pv_pr[e->provision] : -1;
        if (pri < 0 || S->pr[pri].status != PR_RUNNING)
            continue;
        prov_effects_t *fx = &S->fx;
        if (fx->n == fx->cap) {
            size_t cap = fx->cap ? fx->cap * 2 : 4;
            prov_effect_t *v = realloc(fx->v, cap * sizeof *v);
            if (!v)
                continue;
            fx->v = v;
            fx->cap = cap;
        }
        prov_effect_t *c = &fx->v[fx->n];
        *c = *e;
        for (int k = 0; k < 3; k++)
            c->arg[k] = e->arg[k] ? strdup(e->arg[k]) : NULL;
        fx->n++;
    }
    for (size_t i = 0; i < S->npr; i++)
        if (S->pr[i].status == PR_RUNNING && (only < 0 || (int)i == only))
            acs_prov_outcome(S, &S->pr[i], PR_DONE, NULL, NULL);
    S->a->m.prov_rounds += (uint64_t)R->ses.rounds;
    R->ses.rounds = 0; /* the next solo preset gets its own */
}

/* A fault the engine reports (a script, planning, the CPE): on its preset
 * when known, else isolate by running presets one at a time. */
static void run_fault(acs_prov_sess_t *S, acs_prov_run_t *R, acs_pr_status_t how, bool exact)
{
    prov_fault_t *f = &R->ses.fault;
    if (R == &S->task) {
        acs_prov_task_final(S, false, f->code ? f->code : PROV_FAULT_SCRIPT, f->message);
        return;
    }
    int pv = f->provision;
    int pri = exact && pv >= 0 && (size_t)pv < R->npv ? R->pv_pr[pv] : -1;
    if (pri < 0 && R->solo)
        pri = solo_pr(S);
    if (pri < 0 && running(S) == 1)
        pri = solo_pr(S);
    if (pri >= 0) {
        acs_prov_outcome(S, &S->pr[pri], how, f, pv >= 0 && (size_t)pv < R->npv ? R->pv[pv].name : "");
    } else {
        /* which preset's declaration it was cannot be told: one at a time */
        log_info("prov_isolating", LF_S("device", S->device), LF_S("reason", f->message));
        R->solo = true;
    }
    S->a->m.prov_rounds += (uint64_t)R->ses.rounds;
    R->ses.rounds = 0;
}

static bool need_load(const acs_prov_sess_t *S)
{
    return !S->st || S->stale || S->load_later;
}

/* ---- stepping: on the loop, or off it for scripts known to be heavy --------------------
 *
 * A step runs every provision of the run once and plans: microseconds for
 * the scripts provisioning is for, so it runs on the loop. A script that
 * made a step use more than SLOW_STEP_NS of CPU (a runaway loop stopped by its
 * instruction budget, a memory hog stopped by its cap, plain heavy work) is
 * marked heavy, and so is the session: from then on every step that runs a
 * heavy script, and every later step of that session, runs on libuv's
 * thread pool (each thread has its own pooled Lua state), so such a script
 * holds the loop once per upload, not once per device, and not longer than
 * SLOW_STEP_NS: a script's run on the loop past it (a provision's, or a
 * virtual parameter's inside planning) is preempted, nothing of the step is
 * kept, and the step runs again on the pool. CPU time decides: a step
 * preempted by the kernel on a busy machine is not heavy. The step touches
 * only the session's own state and the snapshot (read-only; the heavy marks
 * are read and written on the loop only), and the turn waits for it. */

static void mark_heavy(acs_prov_sess_t *S, acs_prov_run_t *R)
{
    S->heavy = true;
    for (size_t i = 0; i < R->npv; i++) {
        acs_prov_script_t *sc = R->pv[i].script ? hmap_gets(&S->snap->provisions, R->pv[i].name) : NULL;
        if (sc)
            sc->heavy = true;
    }
    for (size_t i = 0; i < R->ses.decls.n; i++) { /* virtual parameters' scripts ran too */
        const prov_decl_t *d = R->ses.decls.v[i];
        acs_prov_script_t *sc = d->vp && d->path.nseg >= 2 ? hmap_gets(&S->snap->vps, d->path.seg[1].name)
                                                           : NULL;
        if (sc)
            sc->heavy = true;
    }
}

static bool is_heavy(const acs_prov_sess_t *S, const acs_prov_run_t *R)
{
    if (S->heavy)
        return true;
    for (size_t i = 0; i < R->npv; i++) {
        const acs_prov_script_t *sc =
            R->pv[i].script ? hmap_gets(&S->snap->provisions, R->pv[i].name) : NULL;
        if (sc && sc->heavy)
            return true;
    }
    return false;
}

/* What the step said: true to step again at once, false when the turn is
 * answered (an RPC put, the session gone) or waits (an ext call). t: its
 * wall time; loop_cpu: the loop's CPU for it, -1 when it ran on the pool. */
static bool after_step(acs_work_t *w, acs_prov_sess_t *S, acs_prov_run_t *R, int rc,
                       prov_step_t step, int64_t t, int64_t loop_cpu)
{
    if (loop_cpu >= 0)
        S->a->m.prov_engine_seconds += (double)t / 1e9;
    metrics_hist_observe(&S->a->m.prov_step_seconds, (double)t / 1e9);
    if (loop_cpu > SLOW_STEP_NS || (rc == 0 && step == PROV_STEP_PREEMPTED)) {
        /* the loop waited that long: say who made it, and keep it off the loop */
        log_warn("prov_step_slow", LF_S("device", S->device), LF_I("ms", loop_cpu / 1000000),
                 LF_I("provisions", (int64_t)R->npv),
                 LF_S("then", step == PROV_STEP_PREEMPTED
                                  ? "the step runs again on the thread pool, as its scripts from now on"
                                  : "its scripts run on the thread pool from now on"));
        mark_heavy(S, R);
    }
    if (rc < 0) {
        acs_work_put(w, rc, NULL);
        return false;
    }
    log_lines(S, &R->ses.log);
    note_vps(S, &R->ses.decls);
    switch (step) {
    case PROV_STEP_SEND: {
        if (S->rpcs >= ACS_PROV_MAX_RPCS) {
            /* whatever still runs ends: no more RPCs in this session */
            prov_fault_t f = { .code = PROV_FAULT_SCRIPT, .provision = -1 };
            snprintf(f.message, sizeof f.message, "more than %d provisioning RPCs in one session",
                     ACS_PROV_MAX_RPCS);
            if (R == &S->task)
                acs_prov_task_final(S, false, f.code, f.message);
            else
                for (size_t i = 0; i < S->npr; i++)
                    acs_prov_outcome(S, &S->pr[i], PR_GAVE_UP, &f, "");
            return true;
        }
        cwmp_msg_t m = { .type = CWMP_NONE };
        char id[32];
        prov_rpc_msg(&R->ses.rpc, &m);
        snprintf(id, sizeof id, "prov-%d", S->rpcs + 1);
        m.id = id;
        m.parameter_key = "";
        S->rpc_task = R == &S->task;
        S->rpc_out = true;
        S->rpcs++;
        S->a->m.prov_rpcs++;
        rc = acs_work_put(w, 0, &m);
        if (rc == 0) {
            log_info("cwmp_rpc", LF_S("device", S->device), LF_S("by", "provisioning"),
                     LF_S("rpc", cwmp_type_name(m.type)));
            return false;
        }
        S->rpc_out = false;
        if (rc == -ECANCELED)
            return false; /* the session ended: acs_prov_end records what did not finish */
        R->ses.fault = (prov_fault_t){ .code = PROV_FAULT_SCRIPT, .provision = -1 };
        str_copy(R->ses.fault.message, sizeof R->ses.fault.message, "the RPC could not be encoded");
        run_fault(S, R, PR_FAULT, false);
        return false; /* the session ends itself (acs_work_put's contract) */
    }
    case PROV_STEP_EXT:
        return !ext_start(w, S, R);
    case PROV_STEP_CONVERGED:
        if (R == &S->task)
            task_converged(S);
        else
            presets_converged(S, R);
        return true;
    case PROV_STEP_FAULT:
        run_fault(S, R, PR_FAULT, true);
        return true;
    case PROV_STEP_GAVE_UP:
        run_fault(S, R, PR_GAVE_UP, false);
        return true;
    case PROV_STEP_PREEMPTED: /* heavy now: the drive puts it on the pool */
        S->a->m.prov_preempted++;
        return true;
    }
    return true;
}

static void step_work(uv_work_t *req)
{
    /* for good: lowering is allowed, raising it again needs a privilege
     * (the ACS's pool runs these steps, and file reads and writes, which
     * wait on the disk more than on the CPU) */
    static _Thread_local bool niced;
    if (!niced) {
        niced = true;
        if (setpriority(PRIO_PROCESS, (id_t)gettid(), POOL_NICE) != 0)
            log_warn("prov_pool_nice", LF_ERR(-errno));
    }
    acs_prov_sess_t *S = req->data;
    int64_t t = clock_mono_ns();
    S->step_rc = prov_session_step(&S->step_run->ses, S->step_run->pv, S->step_run->npv, &S->step);
    S->step_ns = clock_mono_ns() - t;
}

static void step_after(uv_work_t *req, int status)
{
    acs_prov_sess_t *S = req->data;
    acs_work_t *w = S->w;
    S->stepping = false;
    if (status != 0) /* never cancelled: not reached */
        S->step_rc = -ECANCELED;
    if (after_step(w, S, S->step_run, S->step_rc, S->step, S->step_ns, -1))
        acs_prov_drive(w, S);
}

void acs_prov_drive(acs_work_t *w, acs_prov_sess_t *S)
{
    for (;;) {
        acs_prov_run_t *R = pick(w, S);
        if (!R) {
            acs_prov_flush(w, S);
            return;
        }
        if (need_load(S) && !S->load_failed) {
            acs_prov_load(w, S);
            return;
        }
        if (S->load_failed || !S->st) {
            prov_fault_t f = { .code = PROV_FAULT_SCRIPT, .provision = -1 };
            str_copy(f.message, sizeof f.message,
                     "the device's stored parameters exceed the provisioning state's cap");
            if (R == &S->task)
                acs_prov_task_final(S, false, f.code, f.message);
            else
                fault_running(S, PR_FAULT, &f);
            continue;
        }
        int rc = R == &S->task ? acs_prov_build_task(S, R) : acs_prov_build_presets(S, R);
        if (rc < 0) {
            acs_work_put(w, rc, NULL);
            return;
        }
        if ((R == &S->task && S->task_state) || (R == &S->run && running(S) == 0))
            continue; /* the conversion faulted it */
        run_start(S, R);
        R->ses.st = S->st;
        bool heavy = is_heavy(S, R);
        /* off the loop nothing is preempted, nor on it where the pool failed */
        R->ses.o.preempt_ns = heavy ? 0 : SLOW_STEP_NS;
        if (heavy) {
            S->w = w;
            S->step_run = R;
            S->step_req.data = S;
            if (uv_queue_work(S->a->loop, &S->step_req, step_work, step_after) == 0) {
                S->stepping = true;
                return;
            }
            /* no thread pool: on the loop after all */
        }
        prov_step_t step;
        int64_t t = clock_mono_ns(), cpu = clock_thread_cpu_ns();
        rc = prov_session_step(&R->ses, R->pv, R->npv, &step);
        t = clock_mono_ns() - t;
        cpu = clock_thread_cpu_ns() - cpu;
        if (!after_step(w, S, R, rc, step, t, cpu))
            return;
    }
}

/* ---- answers ---------------------------------------------------------------------------------- */

/* What the answer tells to keep: values read, values set, names listed. */
static int keep_rows(acs_prov_sess_t *S, acs_prov_run_t *R, const cwmp_msg_t *m)
{
    int rc = 0;
    bool task = R == &S->task;
    switch (m->type) {
    case CWMP_GET_PARAMETER_VALUES_RESPONSE:
        for (size_t i = 0; i < m->n_params && rc == 0; i++) {
            rc = acs_prov_row(&S->rows, m->params[i].name, m->params[i].value, m->params[i].type, -1);
            if (rc == 0 && task)
                rc = acs_prov_row(&S->task_rows, m->params[i].name, m->params[i].value,
                                  m->params[i].type, -1);
        }
        break;
    case CWMP_GET_PARAMETER_NAMES_RESPONSE:
        for (size_t i = 0; i < m->n_params && rc == 0; i++)
            rc = acs_prov_row(&S->rows, m->params[i].name, NULL, NULL, m->params[i].writable);
        break;
    case CWMP_SET_PARAMETER_VALUES_RESPONSE:
        for (size_t i = 0; i < R->ses.rpc.n_params && rc == 0; i++) {
            rc = acs_prov_row(&S->rows, R->ses.rpc.params[i].name, R->ses.rpc.params[i].value,
                              R->ses.rpc.params[i].type, -1);
            if (rc == 0) /* accepted (a refusal is a Fault): the ACS's value now */
                S->rows.v[S->rows.n - 1].set_by = STORE_SET_BY_ACS;
        }
        break;
    default:
        break;
    }
    return rc == -ENOBUFS ? 0 : rc; /* past the cap the rest is not kept, not an error */
}

int acs_prov_answer(acs_work_t *w, acs_prov_sess_t *S, const cwmp_msg_t *m, const char *why)
{
    (void)w;
    if (!S->rpc_out)
        return 0;
    S->rpc_out = false;
    acs_prov_run_t *R = S->rpc_task ? &S->task : &S->run;
    if (!m) {
        R->ses.fault = (prov_fault_t){ .code = CWMP_FAULT_INTERNAL_ERROR, .provision = -1 };
        str_copy(R->ses.fault.message, sizeof R->ses.fault.message, why ? why : "no answer");
        if (R == &S->task)
            acs_prov_task_final(S, false, R->ses.fault.code, R->ses.fault.message);
        else
            fault_running(S, PR_FAULT, &R->ses.fault);
        return 0;
    }
    int rc = keep_rows(S, R, m);
    if (rc < 0)
        return rc;
    prov_rpc_kind_t kind = R->ses.rpc.kind;
    rc = prov_session_apply(&R->ses, m, clock_real_s());
    if (rc == 1) {
        /* one declaration behind the RPC (a listing, an object added or
         * deleted) names its preset; a read or write of many does not */
        bool exact = kind == PROV_RPC_GPN || kind == PROV_RPC_ADD || kind == PROV_RPC_DEL;
        run_fault(S, R, PR_FAULT, exact);
    } else if (rc < 0) {
        if (rc == -ENOMEM)
            return rc;
        R->ses.fault = (prov_fault_t){ .code = PROV_FAULT_SCRIPT, .provision = -1 };
        str_copy(R->ses.fault.message, sizeof R->ses.fault.message,
                 rc == -ENOBUFS ? "the device's answer exceeds the provisioning state's cap"
                                : "the answer does not fit the RPC");
        if (R == &S->task)
            acs_prov_task_final(S, false, R->ses.fault.code, R->ses.fault.message);
        else
            fault_running(S, PR_FAULT, &R->ses.fault);
    }
    return 0;
}

