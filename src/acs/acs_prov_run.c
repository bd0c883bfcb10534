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

#include "acs/acs_prov.h"
#include "acs/acs_tasks.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/str.h"

/* An engine step longer than this is logged: the loop waited for it. */
#define SLOW_STEP_NS (10 * 1000000LL)

/* ---- a run's provisions ------------------------------------------------------------------------ */

static void run_reset(acs_prov_run_t *R)
{
    for (size_t i = 0; i < R->nstrs; i++)
        free(R->strs[i]);
    free(R->strs);
    free(R->pv);
    free(R->pv_pr);
    R->strs = NULL;
    R->pv = NULL;
    R->pv_pr = NULL;
    R->nstrs = R->npv = 0;
}

void acs_prov_run_free(acs_prov_run_t *R)
{
    run_reset(R);
    if (R->on)
        prov_session_free(&R->ses);
    R->on = false;
}

/* Memory the run's provisions point to, freed at the next step. */
static void *keep(acs_prov_run_t *R, void *p)
{
    if (!p)
        return NULL;
    char **v = realloc(R->strs, (R->nstrs + 1) * sizeof *v);
    if (!v) {
        free(p);
        return NULL;
    }
    R->strs = v;
    R->strs[R->nstrs++] = p;
    return p;
}

static char *keep_str(acs_prov_run_t *R, const char *s)
{
    return keep(R, strdup(s ? s : ""));
}

static int add_pv(acs_prov_run_t *R, int pr, const char *name, const char *script, size_t len,
                  const char *const *args, size_t nargs)
{
    prov_provision_t *v = realloc(R->pv, (R->npv + 1) * sizeof *v);
    if (!v)
        return -ENOMEM;
    R->pv = v;
    int *q = realloc(R->pv_pr, (R->npv + 1) * sizeof *q);
    if (!q)
        return -ENOMEM;
    R->pv_pr = q;
    const char **a = keep(R, calloc(nargs ? nargs : 1, sizeof *a));
    if (!a)
        return -ENOMEM;
    for (size_t i = 0; i < nargs; i++)
        if (!(a[i] = keep_str(R, args[i])))
            return -ENOMEM;
    R->pv[R->npv] = (prov_provision_t){ .name = name, .script = script, .script_len = len,
                                        .args = a, .nargs = nargs };
    R->pv_pr[R->npv++] = pr;
    return 0;
}

/* preset_device_t.param for templates: a value the session knows. */
static const char *state_param(void *ud, const char *name)
{
    prov_node_info_t ni;
    if (!ud || prov_state_get(ud, name, &ni) != 0 || !ni.exists || ni.object || ni.t_value <= 0)
        return NULL;
    return ni.value;
}

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
}

static void pr_fault_msg(acs_prov_sess_t *S, acs_pr_t *x, int code, const char *prov, const char *msg)
{
    prov_fault_t f = { .code = code, .provision = -1 };
    str_copy(f.message, sizeof f.message, msg);
    acs_prov_outcome(S, x, PR_FAULT, &f, prov);
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

static void task_final(acs_prov_sess_t *S, bool ok, int code, const char *msg)
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

/* ---- building the provisions ------------------------------------------------------------------ */

static bool tag_ok(const char *t)
{
    size_t n = strlen(t);
    return n >= 1 && n <= 64 && !strchr(t, ',');
}

/* One preset provision as engine provisions. 0; 1: the preset faults (why);
 * -ENOMEM. */
static int conv(acs_prov_sess_t *S, acs_prov_run_t *R, int pri, const preset_prov_t *pp, char *why,
                size_t wl, const char **pname)
{
    const preset_device_t td = {
        .id = S->device, .oui = S->oui, .product_class = S->product_class, .serial = S->serial,
        .manufacturer = S->manufacturer, .model = S->model, .software_version = S->software_version,
        .hardware_version = S->hardware_version, .tags = S->tags, .param = state_param, .ud = S->st,
    };
    char val[PRESET_EXPAND_MAX + 1], missing[PRESET_TEXT_MAX + 1];
    const char *text = pp->type == PP_SCRIPT ? NULL : pp->value;
    if (text) {
        int rc = preset_template_expand(text, &td, val, sizeof val, missing, sizeof missing);
        if (rc == -ENOENT) {
            /* {param:X} the session does not know yet: read X first */
            const char *args[] = { missing };
            *pname = "refresh";
            return add_pv(R, pri, "refresh", NULL, 0, args, 1);
        }
        if (rc) {
            snprintf(why, wl, "template: %s", rc == -E2BIG ? "expansion too long" : "invalid");
            return 1;
        }
        text = val;
    }
    switch (pp->type) {
    case PP_SET: {
        const char *args[] = { pp->path, text, pp->value_type ? pp->value_type : "",
                               pp->literal_type ? pp->literal_type : "" };
        *pname = "set";
        return add_pv(R, pri, "set", NULL, 0, args, 4);
    }
    case PP_ADD_TAG:
    case PP_REMOVE_TAG: {
        *pname = pp->type == PP_ADD_TAG ? "add_tag" : "remove_tag";
        if (!tag_ok(text)) {
            snprintf(why, wl, "tag '%.64s': 1-64 characters without commas", text);
            return 1;
        }
        const char *args[] = { text };
        return add_pv(R, pri, *pname, NULL, 0, args, 1);
    }
    case PP_REFRESH: {
        const char *args[] = { pp->path };
        *pname = "refresh";
        return add_pv(R, pri, "refresh", NULL, 0, args, 1);
    }
    case PP_DOWNLOAD: {
        *pname = "download";
        if (!text) {
            snprintf(why, wl, "download of stored file '%.64s': the ACS keeps no files", pp->file);
            return 1;
        }
        /* the expanded URL meets the rules a download task's does */
        json_t *body = json_pack("{s:s, s:{s:s, s:s}}", "type", "download", "parameters", "url", text,
                                 "file_type", pp->file_type);
        const char *t;
        json_t *norm = NULL;
        int rc = body ? acs_task_validate(body, &t, &norm, why, wl) : -ENOMEM;
        json_decref(norm);
        json_decref(body);
        if (rc)
            return rc == -EINVAL ? 1 : rc;
        const char *args[] = { pp->file_type, text };
        return add_pv(R, pri, "download", NULL, 0, args, 2);
    }
    case PP_REBOOT:
        *pname = "reboot";
        return add_pv(R, pri, "reboot", NULL, 0, NULL, 0);
    case PP_SCRIPT: {
        *pname = pp->name;
        const acs_prov_script_t *sc = hmap_gets(&S->snap->provisions, pp->name);
        if (!sc) {
            snprintf(why, wl, "no provision named '%s'", pp->name);
            return 1;
        }
        size_t n = json_array_size(pp->args), i;
        const char **args = keep(R, calloc(n ? n : 1, sizeof *args));
        if (!args)
            return -ENOMEM;
        json_t *v;
        json_array_foreach(pp->args, i, v) {
            /* scripts get strings: a string's text, anything else as JSON */
            char *s = json_is_string(v) ? strdup(json_string_value(v))
                                        : json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
            if (!(args[i] = keep(R, s)))
                return -ENOMEM;
        }
        return add_pv(R, pri, pp->name, sc->src, sc->len, args, n);
    }
    }
    return 1;
}

/* This step's provisions of the presets still running (in solo mode, of
 * the first one). 0 or -ENOMEM. */
static int build_presets(acs_prov_sess_t *S, acs_prov_run_t *R)
{
    run_reset(R);
    int only = R->solo ? solo_pr(S) : -1;
    for (size_t i = 0; i < S->npr; i++) {
        acs_pr_t *x = &S->pr[i];
        if (x->status != PR_RUNNING || (only >= 0 && (int)i != only))
            continue;
        size_t mark = R->npv;
        for (size_t k = 0; k < x->p->nprovs && x->status == PR_RUNNING; k++) {
            char why[256] = "", at[64];
            const char *pname = "";
            int rc = conv(S, R, (int)i, &x->p->provs[k], why, sizeof why, &pname);
            if (rc < 0)
                return rc;
            if (rc > 0) {
                snprintf(at, sizeof at, "provisions[%zu]", k);
                char msg[sizeof why + 80];
                snprintf(msg, sizeof msg, "%s (%s): %s", at, pname, why);
                pr_fault_msg(S, x, PROV_FAULT_SCRIPT, pname, msg);
                R->npv = mark; /* none of its provisions run */
            }
        }
    }
    return 0;
}

/* The delegated task's provisions: set_params -> `set` of each value (the
 * types a plain task would send), get_params -> `refresh` of each name
 * ("VirtualParameters." alone: every virtual parameter). */
static int build_task(acs_prov_sess_t *S, acs_prov_run_t *R)
{
    run_reset(R);
    const store_task_t *t = S->dtask;
    acs_rpc_scratch_t sc = { 0 };
    cwmp_msg_t m = { .type = CWMP_NONE };
    char key[40];
    int rc = acs_task_rpc_text(t->type, t->params, t->id, &m, &sc, key, sizeof key);
    if (rc) {
        acs_rpc_scratch_free(&sc);
        task_final(S, false, CWMP_FAULT_INTERNAL_ERROR, "task parameters unreadable");
        return 0;
    }
    /* a virtual parameter without a script is an invalid name, as a CPE says of its own */
    size_t nn = m.type == CWMP_SET_PARAMETER_VALUES ? m.n_params : m.n_names;
    for (size_t i = 0; i < nn; i++) {
        const char *n = m.type == CWMP_SET_PARAMETER_VALUES ? m.params[i].name : m.names[i];
        const char *vp = n + sizeof ACS_VP_PREFIX - 1;
        if (strncmp(n, ACS_VP_PREFIX, sizeof ACS_VP_PREFIX - 1) == 0 && *vp &&
            !hmap_gets(&S->snap->vps, vp)) {
            char msg[160];
            snprintf(msg, sizeof msg, "no virtual parameter named '%.64s'", vp);
            acs_rpc_scratch_free(&sc);
            task_final(S, false, CWMP_FAULT_CPE_INVALID_PARAMETER_NAME, msg);
            return 0;
        }
    }
    if (m.type == CWMP_SET_PARAMETER_VALUES) {
        for (size_t i = 0; i < m.n_params && rc == 0; i++) {
            const char *args[] = { m.params[i].name, m.params[i].value,
                                   m.params[i].type ? m.params[i].type : "" };
            rc = add_pv(R, -1, "set", NULL, 0, args, 3);
        }
    } else {
        for (size_t i = 0; i < m.n_names && rc == 0; i++) {
            if (strcmp(m.names[i], ACS_VP_PREFIX) == 0) {
                const char *name;
                for (size_t pos = 0; rc == 0 && hmap_next(&S->snap->vps, &pos, &name);) {
                    char full[STORE_NAME + 32];
                    snprintf(full, sizeof full, ACS_VP_PREFIX "%s", name);
                    const char *args[] = { full };
                    rc = add_pv(R, -1, "refresh", NULL, 0, args, 1);
                }
                continue;
            }
            const char *args[] = { m.names[i] };
            rc = add_pv(R, -1, "refresh", NULL, 0, args, 1);
        }
    }
    acs_rpc_scratch_free(&sc);
    return rc;
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
    task_final(S, true, 0, NULL);
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
        task_final(S, false, f->code ? f->code : PROV_FAULT_SCRIPT, f->message);
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
                task_final(S, false, f.code, f.message);
            else
                fault_running(S, PR_FAULT, &f);
            continue;
        }
        int rc = R == &S->task ? build_task(S, R) : build_presets(S, R);
        if (rc < 0) {
            acs_work_put(w, rc, NULL);
            return;
        }
        if ((R == &S->task && S->task_state) || (R == &S->run && running(S) == 0))
            continue; /* the conversion faulted it */
        run_start(S, R);
        R->ses.st = S->st;
        prov_step_t step;
        int64_t t = clock_mono_ns();
        rc = prov_session_step(&R->ses, R->pv, R->npv, &step);
        t = clock_mono_ns() - t;
        S->engine_ns += t;
        S->a->m.prov_engine_seconds += (double)t / 1e9;
        metrics_hist_observe(&S->a->m.prov_step_seconds, (double)t / 1e9);
        if (t > SLOW_STEP_NS) /* the loop waited that long: say who made it */
            log_warn("prov_step_slow", LF_S("device", S->device), LF_I("ms", t / 1000000),
                     LF_I("provisions", (int64_t)R->npv));
        if (rc < 0) {
            acs_work_put(w, rc, NULL);
            return;
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
                    task_final(S, false, f.code, f.message);
                else
                    for (size_t i = 0; i < S->npr; i++)
                        acs_prov_outcome(S, &S->pr[i], PR_GAVE_UP, &f, "");
                continue;
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
                return;
            }
            S->rpc_out = false;
            if (rc == -ECANCELED)
                return; /* the session ended: acs_prov_end records what did not finish */
            R->ses.fault = (prov_fault_t){ .code = PROV_FAULT_SCRIPT, .provision = -1 };
            str_copy(R->ses.fault.message, sizeof R->ses.fault.message,
                     "the RPC could not be encoded");
            run_fault(S, R, PR_FAULT, false);
            /* the session ends itself (acs_work_put's contract) */
            return;
        }
        case PROV_STEP_EXT:
            if (ext_start(w, S, R))
                return;
            continue;
        case PROV_STEP_CONVERGED:
            if (R == &S->task)
                task_converged(S);
            else
                presets_converged(S, R);
            continue;
        case PROV_STEP_FAULT:
            run_fault(S, R, PR_FAULT, true);
            continue;
        case PROV_STEP_GAVE_UP:
            run_fault(S, R, PR_GAVE_UP, false);
            continue;
        }
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
        for (size_t i = 0; i < R->ses.rpc.n_params && rc == 0; i++)
            rc = acs_prov_row(&S->rows, R->ses.rpc.params[i].name, R->ses.rpc.params[i].value,
                              R->ses.rpc.params[i].type, -1);
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
            task_final(S, false, R->ses.fault.code, R->ses.fault.message);
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
            task_final(S, false, R->ses.fault.code, R->ses.fault.message);
        else
            fault_running(S, PR_FAULT, &R->ses.fault);
    }
    return 0;
}

