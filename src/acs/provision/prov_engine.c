/* prov_engine: built-in provisions, one run, and the session loop. See
 * prov_engine.h. */
#include "acs/provision/prov_engine.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { DEFAULT_ROUNDS = 32, DEFAULT_SESSION_LOG = 16 * 1024 };

/* ---- effects ------------------------------------------------------------------- */

void prov_effects_reset(prov_effects_t *fx)
{
    for (size_t i = 0; i < fx->n; i++)
        for (int k = 0; k < 3; k++)
            free(fx->v[i].arg[k]);
    fx->n = 0;
}

void prov_effects_free(prov_effects_t *fx)
{
    prov_effects_reset(fx);
    free(fx->v);
    fx->v = NULL;
    fx->cap = 0;
}

static int effect_add(prov_effects_t *fx, prov_effect_kind_t kind, int provision,
                      const char *a0, const char *a1, const char *a2)
{
    if (fx->n == fx->cap) {
        size_t cap = fx->cap ? fx->cap * 2 : 4;
        prov_effect_t *v = realloc(fx->v, cap * sizeof *v);
        if (!v)
            return -ENOMEM;
        fx->v = v;
        fx->cap = cap;
    }
    prov_effect_t *e = &fx->v[fx->n];
    memset(e, 0, sizeof *e);
    e->kind = kind;
    e->provision = provision;
    const char *a[3] = { a0, a1, a2 };
    for (int k = 0; k < 3; k++)
        if (a[k] && !(e->arg[k] = strdup(a[k]))) {
            for (int j = 0; j < k; j++)
                free(e->arg[j]);
            return -ENOMEM;
        }
    fx->n++;
    return 0;
}

/* ---- built-ins ------------------------------------------------------------------ */

typedef struct builtin {
    const char *name;
    size_t min_args, max_args;
    int (*run)(const prov_provision_t *p, const prov_lua_env_t *env, prov_decls_t *decls,
               prov_effects_t *fx, prov_lua_out_t *out);
} builtin_t;

static void bi_fault(prov_lua_out_t *out, const prov_lua_env_t *env, const char *name,
                     const char *why)
{
    out->status = PROV_RUN_FAULT;
    out->fault.code = PROV_FAULT_SCRIPT;
    out->fault.provision = env->provision;
    out->fault.line = 0;
    prov_msgf(out->fault.message, sizeof out->fault.message, "%s: %s", name, why);
}

static int bi_decl(const prov_provision_t *p, const prov_lua_env_t *env, prov_decls_t *decls,
                   prov_lua_out_t *out, const prov_decl_spec_t *s)
{
    const char *why = NULL;
    int rc = prov_decls_add(decls, s, &why);
    if (rc == -ENOMEM)
        return rc;
    if (rc != 0)
        bi_fault(out, env, p->name, why ? why : "refused");
    return 0;
}

/* An optional type argument: "" or absent is PROV_T_UNKNOWN; false for a
 * name that is not a TR-106 type. */
static bool bi_type(const prov_provision_t *p, size_t i, prov_type_t *t)
{
    *t = PROV_T_UNKNOWN;
    if (p->nargs <= i || !p->args[i] || !*p->args[i])
        return true;
    *t = prov_type_from_name(p->args[i]);
    return !(*t == PROV_T_STRING && strcmp(p->args[i], "xsd:string") != 0 &&
             strcmp(p->args[i], "string") != 0);
}

static int bi_set(const prov_provision_t *p, const prov_lua_env_t *env, prov_decls_t *decls,
                  prov_effects_t *fx, prov_lua_out_t *out)
{
    prov_type_t t, fallback;
    if (!bi_type(p, 2, &t) || !bi_type(p, 3, &fallback)) {
        bi_fault(out, env, p->name, "unknown type");
        return 0;
    }
    prov_decl_spec_t s = { .path = p->args[0], .value = p->args[1], .type = t,
                           .fallback = fallback, .provision = env->provision };
    return bi_decl(p, env, decls, out, &s);
}

static int bi_refresh(const prov_provision_t *p, const prov_lua_env_t *env, prov_decls_t *decls,
                      prov_effects_t *fx, prov_lua_out_t *out)
{
    size_t n = strlen(p->args[0]);
    bool object = n && p->args[0][n - 1] == '.';
    prov_decl_spec_t s = { .path = p->args[0], .t_value = env->now,
                           .t_path = object ? env->now : 0, .provision = env->provision };
    return bi_decl(p, env, decls, out, &s);
}

static int bi_effect(const prov_provision_t *p, const prov_lua_env_t *env, prov_effects_t *fx,
                     prov_effect_kind_t kind)
{
    const char *a[3] = { NULL, NULL, NULL };
    for (size_t i = 0; i < p->nargs && i < 3; i++)
        a[i] = p->args[i];
    return effect_add(fx, kind, env->provision, a[0], a[1], a[2]);
}

static int bi_add_tag(const prov_provision_t *p, const prov_lua_env_t *env, prov_decls_t *decls,
                      prov_effects_t *fx, prov_lua_out_t *out)
{
    return bi_effect(p, env, fx, PROV_EFFECT_ADD_TAG);
}

static int bi_remove_tag(const prov_provision_t *p, const prov_lua_env_t *env,
                         prov_decls_t *decls, prov_effects_t *fx, prov_lua_out_t *out)
{
    return bi_effect(p, env, fx, PROV_EFFECT_REMOVE_TAG);
}

static int bi_download(const prov_provision_t *p, const prov_lua_env_t *env, prov_decls_t *decls,
                       prov_effects_t *fx, prov_lua_out_t *out)
{
    return bi_effect(p, env, fx, PROV_EFFECT_DOWNLOAD);
}

static int bi_reboot(const prov_provision_t *p, const prov_lua_env_t *env, prov_decls_t *decls,
                     prov_effects_t *fx, prov_lua_out_t *out)
{
    return bi_effect(p, env, fx, PROV_EFFECT_REBOOT);
}

static const builtin_t builtins[] = {
    { "set", 2, 4, bi_set },
    { "refresh", 1, 1, bi_refresh },
    { "add_tag", 1, 1, bi_add_tag },
    { "remove_tag", 1, 1, bi_remove_tag },
    { "download", 2, 3, bi_download },
    { "reboot", 0, 0, bi_reboot },
};

static const builtin_t *builtin_find(const char *name)
{
    for (size_t i = 0; name && i < sizeof builtins / sizeof *builtins; i++)
        if (strcmp(builtins[i].name, name) == 0)
            return &builtins[i];
    return NULL;
}

bool prov_builtin_exists(const char *name) { return builtin_find(name) != NULL; }

int prov_run_one(const prov_provision_t *p, const prov_lua_env_t *env, prov_decls_t *decls,
                 prov_effects_t *fx, prov_lua_out_t *out)
{
    if (p->script)
        return prov_lua_run(p->script, p->script_len, env, decls, out);
    prov_lua_out_free(out);
    out->status = PROV_RUN_DONE;
    const builtin_t *b = builtin_find(p->name);
    if (!b) {
        bi_fault(out, env, p->name ? p->name : "?", "no such built-in provision");
        return 0;
    }
    if (p->nargs < b->min_args || p->nargs > b->max_args) {
        bi_fault(out, env, b->name, "wrong number of arguments");
        return 0;
    }
    for (size_t i = 0; i < p->nargs; i++)
        if (!p->args[i]) {
            bi_fault(out, env, b->name, "missing argument");
            return 0;
        }
    return b->run(p, env, decls, fx, out);
}

/* ---- the session ----------------------------------------------------------------- */

static const char *const step_names[] = {
    [PROV_STEP_SEND] = "send", [PROV_STEP_EXT] = "ext", [PROV_STEP_CONVERGED] = "converged",
    [PROV_STEP_FAULT] = "fault", [PROV_STEP_GAVE_UP] = "gave_up", [PROV_STEP_PREEMPTED] = "preempted",
};

const char *prov_step_name(prov_step_t s)
{
    return (unsigned)s <= PROV_STEP_PREEMPTED ? step_names[s] : "?";
}

void prov_session_init(prov_session_t *s, prov_state_t *st, const prov_session_opts_t *o)
{
    memset(s, 0, sizeof *s);
    s->st = st;
    if (o)
        s->o = *o;
    if (s->o.max_rounds <= 0)
        s->o.max_rounds = DEFAULT_ROUNDS;
    prov_decls_init(&s->decls);
    s->log = BUF_INIT(s->o.log_max ? s->o.log_max : DEFAULT_SESSION_LOG);
    prov_rpc_init(&s->rpc);
    s->fault.provision = -1;
    s->ext_provision = -1;
}

static void ext_clear(prov_session_t *s)
{
    free(s->ext_key);
    free(s->ext_name);
    for (size_t i = 0; i < s->n_ext_args; i++)
        free(s->ext_args[i]);
    free(s->ext_args);
    s->ext_key = s->ext_name = NULL;
    s->ext_args = NULL;
    s->n_ext_args = 0;
    s->ext_provision = -1;
}

void prov_session_free(prov_session_t *s)
{
    prov_decls_free(&s->decls);
    prov_effects_free(&s->effects);
    buf_free(&s->log);
    prov_rpc_clear(&s->rpc);
    ext_clear(s);
}

/* Take the pending ext call out of a run's result. */
static void ext_take(prov_session_t *s, prov_lua_out_t *out, int provision)
{
    if (s->ext_key)
        return; /* one at a time: the first asked */
    s->ext_key = out->ext_key;
    s->ext_name = out->ext_name;
    s->ext_args = out->ext_args;
    s->n_ext_args = out->n_ext_args;
    s->ext_provision = provision;
    out->ext_key = out->ext_name = NULL;
    out->ext_args = NULL;
    out->n_ext_args = 0;
}

static void log_take(prov_session_t *s, const char *name, const buf_t *log)
{
    const char *p = log->data, *end = log->data + log->len;
    while (p && p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t l = nl ? (size_t)(nl - p) : (size_t)(end - p);
        (void)buf_printf(&s->log, "[%s] %.*s\n", name, (int)l, p);
        p = nl ? nl + 1 : end;
    }
}

static void base_env(prov_session_t *s, prov_lua_env_t *env, int provision)
{
    memset(env, 0, sizeof *env);
    env->st = s->st;
    env->now = s->o.now;
    env->device = s->o.device;
    env->ext_lookup = s->o.ext_lookup;
    env->ext_ud = s->o.ext_ud;
    env->limits = s->o.limits;
    env->provision = provision;
    env->preempt_ns = s->o.preempt_ns;
}

/* The planner's virtual parameter resolver: the VP's script in VP mode. */
static int session_vp(void *ud, prov_state_t *st, const prov_vp_req_t *req, prov_decls_t *more,
                      prov_vp_res_t *res)
{
    prov_session_t *s = ud;
    const char *script;
    size_t len;
    if (s->preempted) { /* the step is undone: nothing more runs in this pass */
        res->status = PROV_VP_PENDING;
        return 0;
    }
    if (!s->o.vp_lookup || !s->o.vp_lookup(s->o.vp_ud, req->name, &script, &len)) {
        res->status = PROV_VP_ABSENT;
        return 0;
    }
    prov_lua_env_t env;
    base_env(s, &env, req->provision);
    env.vp = req;
    prov_decls_t vd;
    prov_decls_init(&vd);
    prov_lua_out_t out;
    prov_lua_out_init(&out);
    int rc = prov_lua_run(script, len, &env, &vd, &out);
    if (rc == 0) {
        log_take(s, req->name, &out.log);
        switch (out.status) {
        case PROV_RUN_PREEMPTED: /* nothing stored: prov_session_step undoes the step */
            s->preempted = true;
            res->status = PROV_VP_PENDING;
            break;
        case PROV_RUN_FAULT:
            res->status = PROV_VP_FAULT;
            res->fault = out.fault;
            prov_msgf(res->fault.message, sizeof res->fault.message, "virtual parameter %s: %s",
                      req->name, out.fault.message);
            break;
        case PROV_RUN_EXT:
            ext_take(s, &out, req->provision);
            res->status = PROV_VP_PENDING;
            break;
        case PROV_RUN_COMMIT:
            res->status = PROV_VP_PENDING;
            rc = prov_decls_append(more, &vd);
            break;
        case PROV_RUN_DONE:
            if (!prov_decls_satisfied(st, &vd, 0)) {
                res->status = PROV_VP_PENDING;
                rc = prov_decls_append(more, &vd);
            } else if (!out.vp_done) {
                res->status = PROV_VP_FAULT;
                res->fault.code = PROV_FAULT_SCRIPT;
                res->fault.provision = req->provision;
                prov_msgf(res->fault.message, sizeof res->fault.message,
                          "virtual parameter %s: no value returned", req->name);
            } else {
                res->status = PROV_VP_DONE;
                res->value = out.vp_value;
                out.vp_value = NULL;
                res->type = out.vp_type;
                res->writable = out.vp_writable;
            }
            break;
        }
        if (rc == -ENOBUFS || rc == -EINVAL) { /* the VP declared too much */
            res->status = PROV_VP_FAULT;
            res->fault.code = PROV_FAULT_SCRIPT;
            res->fault.provision = req->provision;
            prov_msgf(res->fault.message, sizeof res->fault.message,
                      "virtual parameter %s: too many declarations", req->name);
            rc = 0;
        }
    }
    prov_lua_out_free(&out);
    prov_decls_free(&vd);
    return rc;
}

static void session_fault(prov_session_t *s, const prov_fault_t *f, const prov_provision_t *p,
                          size_t n)
{
    s->fault = *f;
    if (s->fault.provision >= 0 && (size_t)s->fault.provision < n) {
        const char *name = p[s->fault.provision].name ? p[s->fault.provision].name : "?";
        char msg[sizeof s->fault.message];
        snprintf(msg, sizeof msg, "%s", f->message);
        prov_msgf(s->fault.message, sizeof s->fault.message, "%s: %s", name, msg);
    }
}

/* A step preempted: as if it had not begun, so that it runs again from the
 * top. What planning learnt before (answers, other virtual parameters'
 * values) is state about the device and stays, as after any round. */
static void undo_step(prov_session_t *s, int rounds)
{
    s->rounds = rounds;
    prov_decls_reset(&s->decls);
    prov_effects_reset(&s->effects);
    prov_rpc_clear(&s->rpc);
    ext_clear(s);
    buf_reset(&s->log);
}

int prov_session_step(prov_session_t *s, const prov_provision_t *p, size_t n, prov_step_t *step)
{
    prov_rpc_clear(&s->rpc);
    ext_clear(s);
    buf_reset(&s->log);
    s->preempted = false; /* set by the last one, preempted or failed (-ENOMEM) */
    prov_lua_out_t out;
    prov_lua_out_init(&out);
    int rc = 0, rounds = s->rounds;
    for (;;) {
        if (s->rounds >= s->o.max_rounds) {
            s->fault = (prov_fault_t){ .code = PROV_FAULT_SCRIPT, .provision = -1 };
            prov_msgf(s->fault.message, sizeof s->fault.message,
                      "provisioning gave up after %d rounds", s->rounds);
            *step = PROV_STEP_GAVE_UP;
            break;
        }
        s->rounds++;
        prov_decls_reset(&s->decls);
        prov_effects_reset(&s->effects);
        bool committed = false, stop = false;
        for (size_t i = 0; i < n && !stop; i++) {
            prov_lua_env_t env;
            base_env(s, &env, (int)i);
            env.args = p[i].args;
            env.nargs = p[i].nargs;
            if ((rc = prov_run_one(&p[i], &env, &s->decls, &s->effects, &out)) != 0)
                goto done;
            if (out.status == PROV_RUN_PREEMPTED) {
                undo_step(s, rounds);
                *step = PROV_STEP_PREEMPTED;
                stop = true;
                break;
            }
            log_take(s, p[i].name ? p[i].name : "?", &out.log);
            switch (out.status) {
            case PROV_RUN_DONE:
                break;
            case PROV_RUN_COMMIT:
                committed = true;
                break;
            case PROV_RUN_EXT:
                ext_take(s, &out, (int)i);
                *step = PROV_STEP_EXT;
                stop = true;
                break;
            case PROV_RUN_FAULT:
                session_fault(s, &out.fault, p, n);
                *step = PROV_STEP_FAULT;
                stop = true;
                break;
            case PROV_RUN_PREEMPTED: /* above */
                break;
            }
        }
        if (stop)
            break;
        prov_plan_opts_t po = { .vp = session_vp, .vp_ud = s };
        if ((rc = prov_plan_ex(s->st, &s->decls, s->o.now, &po, &s->rpc)) != 0)
            goto done;
        if (s->preempted) { /* a virtual parameter's script */
            undo_step(s, rounds);
            *step = PROV_STEP_PREEMPTED;
            break;
        }
        if (s->ext_key) { /* a virtual parameter script asked for one */
            prov_rpc_clear(&s->rpc);
            *step = PROV_STEP_EXT;
            break;
        }
        if (s->rpc.kind == PROV_RPC_FAULT) {
            session_fault(s, &s->rpc.fault, p, n);
            *step = PROV_STEP_FAULT;
            break;
        }
        if (s->rpc.kind != PROV_RPC_NONE) {
            *step = PROV_STEP_SEND;
            break;
        }
        if (!committed) {
            *step = PROV_STEP_CONVERGED;
            break;
        }
        /* nothing to send, yet a script stopped for data: what it waited
         * for was answered in planning (a virtual parameter): run again */
    }
done:
    prov_lua_out_free(&out);
    return rc;
}

int prov_session_apply(prov_session_t *s, const cwmp_msg_t *resp, int64_t now)
{
    prov_fault_t f;
    int rc = prov_rpc_apply(s->st, &s->rpc, resp, now, &f);
    if (rc == 1) {
        if (s->rpc.decl >= 0 && (size_t)s->rpc.decl < s->decls.n)
            f.provision = s->decls.v[s->rpc.decl]->provision;
        s->fault = f;
    }
    return rc;
}
