/*
 * acs_prov_build: a session's provisions for one engine step (acs_prov.h):
 * the running presets' provisions as engine provisions, or a delegated
 * task's. Rebuilt before every step: templates are expanded against what
 * the session knows now, so a {param:NAME} not known yet becomes a read of
 * NAME first (`refresh`), and its `set` once the answer is in. A provision
 * that cannot become one (a template too long, a stored provision that does
 * not exist, a tag or download URL a task would refuse) faults its preset
 * here, before anything is sent.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acs/acs_files.h"
#include "acs/acs_prov.h"
#include "acs/acs_tasks.h"
#include "core/str.h"

/* ---- a run's provisions ------------------------------------------------------------------------ */

void acs_prov_run_reset(acs_prov_run_t *R)
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
    acs_prov_run_reset(R);
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

static void pr_fault_msg(acs_prov_sess_t *S, acs_pr_t *x, int code, const char *prov, const char *msg)
{
    prov_fault_t f = { .code = code, .provision = -1 };
    str_copy(f.message, sizeof f.message, msg);
    acs_prov_outcome(S, x, PR_FAULT, &f, prov);
}

/* The preset running alone in solo mode: the first one running. */
static int first_running(const acs_prov_sess_t *S)
{
    for (size_t i = 0; i < S->npr; i++)
        if (S->pr[i].status == PR_RUNNING)
            return (int)i;
    return -1;
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
        char own[STORE_URL + STORE_FILE_NAME + 16];
        if (!text) {
            /* a stored file: its URL on the CWMP listener, which the task
             * resolves like a file when it is sent (size, credentials) */
            if (acs_files_url(S->a, pp->file, own, sizeof own) != 0) {
                snprintf(why, wl, "download of stored file '%.64s': the ACS does not know its own URL"
                                  " (--cwmp-url) or the URL is too long", pp->file);
                return 1;
            }
            text = own;
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
int acs_prov_build_presets(acs_prov_sess_t *S, acs_prov_run_t *R)
{
    acs_prov_run_reset(R);
    int only = R->solo ? first_running(S) : -1;
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
int acs_prov_build_task(acs_prov_sess_t *S, acs_prov_run_t *R)
{
    acs_prov_run_reset(R);
    const store_task_t *t = S->dtask;
    acs_rpc_scratch_t sc = { 0 };
    cwmp_msg_t m = { .type = CWMP_NONE };
    char key[40];
    int rc = acs_task_rpc_text(t->type, t->params, t->id, &m, &sc, key, sizeof key);
    if (rc) {
        acs_rpc_scratch_free(&sc);
        acs_prov_task_final(S, false, CWMP_FAULT_INTERNAL_ERROR, "task parameters unreadable");
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
            acs_prov_task_final(S, false, CWMP_FAULT_CPE_INVALID_PARAMETER_NAME, msg);
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

