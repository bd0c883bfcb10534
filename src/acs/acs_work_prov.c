/*
 * acs_work_prov: provisioning as the second work source (acs_work.h),
 * asked each turn once the operator's tasks produced no RPC.
 *
 * Hook by hook (acs_work_source_t says when each runs):
 *
 *   event      the Inform, on the loop: the session's time and events, the
 *              device's fields (DeviceId, and the software/hardware versions
 *              and model from the ParameterList), and a first, partial match
 *              of the snapshot's presets (acs_prov_cache.c) from the Inform
 *              alone: tags and stored parameters unknown yet count as "may
 *              hold" (preset.h). Presets outside their schedule's window are
 *              dropped. No candidate and no record owed a run (the owed set):
 *              nothing more happens, the session costs provisioning nothing.
 *   event_run  on the store thread, in the Inform's own transaction, only
 *              when there are candidates or owed records: the device's
 *              records, its tags and the parameters conditions name, then
 *              the exact match and preset_should_run() for each; when any
 *              preset will run, the device's stored parameters are loaded
 *              into a prov_state (unless tasks are queued: they run first
 *              and change what is stored, so the state is loaded after them).
 *   event_done on the loop: the owed set forgets a device found owing nothing.
 *   queued     the operator queued work: the state may fall behind what the
 *              device is told, so it is loaded again before the next step.
 *   answer     -> acs_prov_answer (acs_prov_run.c)
 *   next       -> acs_prov_drive: steps the engine, puts its RPC or nothing
 *   end        -> acs_prov_end: what did not finish is recorded
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acs/acs_prov.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/str.h"

/* ---- the Inform (loop) ------------------------------------------------------------------- */

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

/* The value of the Inform parameter ending in `suffix` (".DeviceInfo.ModelName"). */
static const char *inform_param_suffix(const cwmp_msg_t *m, const char *suffix)
{
    size_t sl = strlen(suffix);
    for (size_t i = 0; i < m->n_params; i++) {
        size_t nl = strlen(m->params[i].name);
        if (nl >= sl && strcmp(m->params[i].name + nl - sl, suffix) == 0)
            return m->params[i].value;
    }
    return NULL;
}

/* preset_device_t.param for the partial match: the Inform's parameters. */
static const char *inform_param(void *ud, const char *name)
{
    const cwmp_msg_t *m = ud;
    for (size_t i = 0; i < m->n_params; i++)
        if (strcmp(m->params[i].name, name) == 0)
            return m->params[i].value;
    return NULL;
}

static int prov_event(acs_work_t *w, void *state, const cwmp_msg_t *m)
{
    acs_prov_sess_t *S = state;
    if (m->type != CWMP_INFORM)
        return 0; /* a download's TransferComplete finishes its task: the tasks source's */
    acs_t *a = acs_work_acs(w);
    const char *dev = acs_work_device(w);
    S->a = a;
    str_copy(S->device, sizeof S->device, dev);
    if (!S->snap)
        S->snap = acs_prov_snap_get(a);
    S->t0 = clock_real_s();
    S->events = calloc(m->n_events ? m->n_events : 1, sizeof *S->events);
    if (!S->events)
        return -ENOMEM;
    for (size_t i = 0; i < m->n_events; i++)
        if ((S->events[S->nevents] = strdup(m->events[i].code)))
            S->nevents++;
    const cwmp_device_id_t *d = &m->device;
    S->oui = dup_or_null(d->oui);
    S->product_class = dup_or_null(d->product_class ? d->product_class : "");
    S->serial = dup_or_null(d->serial_number);
    S->manufacturer = dup_or_null(d->manufacturer);
    S->model = dup_or_null(inform_param_suffix(m, ".DeviceInfo.ModelName"));
    S->software_version = dup_or_null(inform_param_suffix(m, ".DeviceInfo.SoftwareVersion"));
    S->hardware_version = dup_or_null(inform_param_suffix(m, ".DeviceInfo.HardwareVersion"));
    if (m->n_params) {
        /* the data model's root: the first segment of the names the Inform carries */
        size_t len = strcspn(m->params[0].name, ".");
        if (m->params[0].name[len] == '.' && len + 2 < sizeof S->root) {
            memcpy(S->root, m->params[0].name, len + 1);
            S->root[len + 1] = '\0';
        }
    }
    S->owed = acs_prov_owed(a, dev);
    if (!S->snap || preset_set_size(S->snap->presets) == 0) {
        S->want = S->owed;
        return 0;
    }
    preset_device_t pd = {
        .id = dev, .oui = S->oui, .product_class = S->product_class, .serial = S->serial,
        .manufacturer = S->manufacturer, .model = S->model, .software_version = S->software_version,
        .hardware_version = S->hardware_version, .param = inform_param, .ud = (void *)m,
        .partial = true,
    };
    const preset_t **cand = NULL;
    size_t n = 0;
    int rc = preset_set_match(S->snap->presets, &pd, (const char *const *)S->events, S->nevents,
                              &cand, &n, NULL);
    if (rc)
        return rc;
    /* a scheduled preset outside the device's window cannot run (its retries
     * come through the owed set) */
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        int64_t start, end;
        if (!cand[i]->sched.on || preset_window(&cand[i]->sched, dev, S->t0, &start, &end))
            cand[k++] = cand[i];
    }
    S->cand = cand;
    S->ncand = k;
    S->want = k > 0 || S->owed;
    return 0;
}

/* ---- the Inform's store job (store thread) ----------------------------------------------- */

typedef struct recs {
    store_preset_run_t *v;
    size_t n, cap;
    int err;
} recs_t;

static int take_rec(const store_preset_run_t *r, void *ud)
{
    recs_t *R = ud;
    if (R->n == R->cap) {
        size_t cap = R->cap ? R->cap * 2 : 8;
        store_preset_run_t *v = realloc(R->v, cap * sizeof *v);
        if (!v) {
            R->err = -ENOMEM;
            return 1;
        }
        R->v = v;
        R->cap = cap;
    }
    R->v[R->n++] = *r;
    return 0;
}

/* Stored parameter values for exact conditions: each one read once. */
typedef struct pcache {
    store_t *st;
    const char *device;
    char *names[PRESET_MAX_CONDS * 2], *values[PRESET_MAX_CONDS * 2];
    size_t n;
} pcache_t;

typedef struct one_param {
    const char *name;
    char *value;
    bool found;
} one_param_t;

static int take_param(const store_param_t *p, void *ud)
{
    one_param_t *o = ud;
    if (strcmp(p->name, o->name) != 0)
        return 0; /* a longer name with the same prefix */
    o->found = true;
    o->value = p->value ? strdup(p->value) : NULL;
    return 1;
}

static const char *stored_param(void *ud, const char *name)
{
    pcache_t *c = ud;
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->names[i], name) == 0)
            return c->values[i];
    one_param_t o = { .name = name };
    (void)store_params_list(c->st, c->device, name, take_param, &o);
    if (c->n < sizeof c->names / sizeof c->names[0] && (c->names[c->n] = strdup(name))) {
        c->values[c->n++] = o.value;
        return o.value;
    }
    free(o.value);
    return NULL;
}

static void pcache_free(pcache_t *c)
{
    for (size_t i = 0; i < c->n; i++) {
        free(c->names[i]);
        free(c->values[i]);
    }
}

static int by_weight(const void *x, const void *y)
{
    const preset_t *p = ((const acs_pr_t *)x)->p, *q = ((const acs_pr_t *)y)->p;
    if (p->weight != q->weight)
        return p->weight < q->weight ? -1 : 1;
    return strcmp(p->name, q->name);
}

static bool owes(const store_preset_run_t *r)
{
    return r->status == STORE_PRESET_PENDING || (r->status == STORE_PRESET_FAULT && r->next_retry > 0);
}

static int prov_event_run(void *state, store_t *st)
{
    acs_prov_sess_t *S = state;
    if (!S->want)
        return 0;
    const char *dev = S->device;
    recs_t R = { 0 };
    int rc = store_preset_run_list(st, dev, take_rec, &R);
    if (rc == 0 && R.err)
        rc = R.err;
    store_device_t d;
    if (rc == 0 && store_device_get(st, dev, &d) == 0)
        str_copy(S->tags, sizeof S->tags, d.tags);
    /* the model and parameters from the store where the Inform had none */
    pcache_t pc = { .st = st, .device = dev };
    char model_name[64];
    snprintf(model_name, sizeof model_name, "%sDeviceInfo.ModelName", S->root);
    const char *model = S->model ? S->model : S->root[0] ? stored_param(&pc, model_name) : NULL;
    preset_device_t pd = {
        .id = dev, .oui = S->oui, .product_class = S->product_class, .serial = S->serial,
        .manufacturer = S->manufacturer, .model = model, .software_version = S->software_version,
        .hardware_version = S->hardware_version, .tags = S->tags, .param = stored_param, .ud = &pc,
    };
    preset_session_t ps = { .events = (const char *const *)S->events, .nevents = S->nevents,
                            .event_time = S->t0, .now = S->t0 };
    size_t max = S->ncand + R.n;
    acs_pr_t *pr = rc == 0 ? calloc(max ? max : 1, sizeof *pr) : NULL;
    if (rc == 0 && !pr)
        rc = -ENOMEM;
    size_t npr = 0;
    /* every preset considered once: the triggered candidates, then the owed */
    for (size_t i = 0; rc == 0 && i < S->ncand + R.n; i++) {
        const preset_t *p;
        const store_preset_run_t *rec = NULL;
        if (i < S->ncand) {
            p = S->cand[i];
            for (size_t k = 0; k < R.n && !rec; k++)
                if (strcmp(R.v[k].preset, p->name) == 0)
                    rec = &R.v[k];
        } else {
            rec = &R.v[i - S->ncand];
            if (!owes(rec))
                continue;
            S->owed_found = true;
            p = preset_set_get(S->snap->presets, rec->preset);
            bool seen = false;
            for (size_t k = 0; k < S->ncand && !seen; k++)
                seen = S->cand[k] == p;
            if (!p || seen)
                continue;
        }
        const char *why = NULL;
        if (!preset_matches(p, &pd) || !preset_should_run(p, dev, rec, &ps, &why))
            continue;
        acs_pr_t *x = &pr[npr++];
        x->p = p;
        if (rec)
            x->rec = *rec;
        str_copy(x->rec.device_id, sizeof x->rec.device_id, dev);
        str_copy(x->rec.preset, sizeof x->rec.preset, p->name);
    }
    pcache_free(&pc);
    free(R.v);
    if (rc || npr == 0) {
        free(pr);
        return rc;
    }
    qsort(pr, npr, sizeof *pr, by_weight);
    S->pr = pr;
    S->npr = npr;
    /* Tasks queued go first in this session and may change the device: the
     * state is loaded once they ran (acs_prov_drive). */
    bool tasks = false;
    if ((rc = store_task_has_pending(st, dev, &tasks)) < 0)
        return rc;
    if (tasks) {
        S->load_later = true;
        return 0;
    }
    acs_prov_scope_t scope;
    acs_prov_scope(S, NULL, &scope);
    rc = acs_prov_load_state(st, dev, S->t0, &scope, &S->st);
    acs_prov_scope_free(&scope);
    if (rc == -EIO)
        return rc; /* the store failed: the Inform fails with it */
    if (rc)
        S->load_later = true; /* tried again at the first step, where a failure is a fault */
    return 0;
}

static void prov_event_done(acs_work_t *w, void *state, int rc)
{
    acs_prov_sess_t *S = state;
    if (rc < 0) {
        /* the Inform was not stored: nothing of it ran, nothing is owed */
        free(S->pr);
        S->pr = NULL;
        S->npr = 0;
        prov_state_free(S->st);
        S->st = NULL;
        S->load_later = false;
    }
    if (rc >= 0 && S->want && S->owed && !S->owed_found)
        acs_prov_owed_del(acs_work_acs(w), acs_work_device(w));
    free(S->cand);
    S->cand = NULL;
    S->ncand = 0;
    S->want = false;
}

/* ---- the state, from the store ------------------------------------------------------------- */

typedef struct state_load {
    prov_state_t *st;
    int64_t t0;
    int rc;
} state_load_t;

static int load_row(const store_param_t *p, void *ud)
{
    state_load_t *l = ud;
    l->rc = prov_state_load(l->st, p, 1, l->t0);
    return l->rc < 0;
}

static int by_text(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int acs_prov_load_state(store_t *st, const char *device, int64_t t0, const acs_prov_scope_t *scope,
                        prov_state_t **out)
{
    *out = NULL;
    state_load_t l = { .t0 = t0 };
    int rc = prov_state_new(NULL, &l.st);
    if (rc)
        return rc;
    if (!scope || scope->all) {
        rc = store_params_list(st, device, NULL, load_row, &l);
    } else if (scope->n) {
        /* each subtree once: sorted, a prefix's own subtrees are in it */
        char **v = malloc(scope->n * sizeof *v);
        if (!v)
            rc = -ENOMEM;
        else {
            memcpy(v, scope->v, scope->n * sizeof *v);
            qsort(v, scope->n, sizeof *v, by_text);
            const char *last = NULL;
            for (size_t i = 0; i < scope->n && rc == 0 && l.rc == 0; i++) {
                if (last && strncmp(v[i], last, strlen(last)) == 0)
                    continue;
                last = v[i];
                rc = store_params_list(st, device, v[i], load_row, &l);
            }
            free(v);
        }
    }
    if (rc == 0)
        rc = l.rc;
    if (rc) {
        prov_state_free(l.st);
        return rc;
    }
    *out = l.st;
    return 0;
}

/* ---- the other hooks ----------------------------------------------------------------------- */

static void prov_queued(acs_work_t *w, void *state)
{
    (void)w;
    acs_prov_sess_t *S = state;
    if (S->st && !S->self_queued)
        S->stale = true;
}

static int prov_answer(acs_work_t *w, void *state, const cwmp_msg_t *m, const char *why)
{
    return acs_prov_answer(w, state, m, why);
}

static void prov_next(acs_work_t *w, void *state, bool may_send)
{
    acs_prov_sess_t *S = state;
    if (!may_send || !S->a) {
        /* nothing is sent now; what ran so far is recorded at the end */
        acs_work_put(w, 0, NULL);
        return;
    }
    acs_prov_drive(w, S);
}

static void prov_end(acs_work_t *w, void *state, bool rpc_out)
{
    acs_prov_sess_t *S = state;
    if (S->a)
        acs_prov_end(w, S, rpc_out);
    acs_prov_sess_free(S);
}

const acs_work_source_t acs_work_prov = {
    .name = "provisioning",
    .state_size = sizeof(acs_prov_sess_t),
    .event = prov_event,
    .event_run = prov_event_run,
    .event_done = prov_event_done,
    .queued = prov_queued,
    .answer = prov_answer,
    .next = prov_next,
    .end = prov_end,
};
