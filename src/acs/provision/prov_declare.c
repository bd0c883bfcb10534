/* prov_declare: declarations and the planner. See prov_declare.h. */
#include "acs/provision/prov_declare.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acs/provision/prov_state_int.h"
#include "core/hmap.h"

enum { DEFAULT_MAX_DECLS = 4096, DEFAULT_MAX_BYTES = 1u << 20, DEFAULT_RPC_MAX = 1000 };

/* ---- declarations ---------------------------------------------------------- */

void prov_decls_init(prov_decls_t *d)
{
    memset(d, 0, sizeof *d);
    d->max = DEFAULT_MAX_DECLS;
    d->max_bytes = DEFAULT_MAX_BYTES;
}

static void decl_free(prov_decl_t *x)
{
    free(x->text);
    free(x->value);
    free(x);
}

void prov_decls_reset(prov_decls_t *d)
{
    for (size_t i = 0; i < d->n; i++)
        decl_free(d->v[i]);
    d->n = 0;
    d->bytes = 0;
}

void prov_decls_free(prov_decls_t *d)
{
    prov_decls_reset(d);
    free(d->v);
    d->v = NULL;
    d->cap = 0;
}

static int fail(const char **why, const char *msg)
{
    if (why)
        *why = msg;
    return -EINVAL;
}

int prov_decls_add(prov_decls_t *d, const prov_decl_spec_t *s, const char **why)
{
    if (why)
        *why = NULL;
    if (!s->path)
        return fail(why, "no path");
    if (d->n >= d->max) {
        if (why)
            *why = "too many declarations";
        return -ENOBUFS;
    }
    prov_decl_t *x = calloc(1, sizeof *x);
    if (!x)
        return -ENOMEM;
    int rc = prov_path_parse(s->path, &x->path);
    if (rc != 0) {
        free(x);
        return fail(why, rc == -ENAMETOOLONG ? "path too long" : "invalid path");
    }
    const prov_path_t *p = &x->path;
    const char *bad = NULL;
    if (s->t_path < 0 || s->t_value < 0 || s->t_writable < 0)
        bad = "negative timestamp";
    else if (s->count && (p->seg[p->nseg - 1].kind == PROV_SEG_NAME || p->object))
        bad = "an instance count needs a path ending in '*' or [keys]";
    else if (s->count && s->count_min > s->count_max)
        bad = "instance count: min > max";
    else if (s->count && p->nseg < 2)
        bad = "instance count on a top-level path";
    else if (s->value && p->object)
        bad = "a value for an object";
    else if (s->value && s->count)
        bad = "a value and an instance count in one declaration";
    x->vp = p->nseg >= 1 && p->seg[0].kind == PROV_SEG_NAME &&
            strcmp(p->seg[0].name, "VirtualParameters") == 0;
    if (!bad && x->vp && (p->nseg != 2 || p->pattern || p->object))
        bad = "a virtual parameter path is VirtualParameters.<Name>";
    if (bad) {
        free(x);
        return fail(why, bad);
    }
    size_t tl = strlen(s->path) + 1, vl = s->value ? strlen(s->value) + 1 : 0;
    if (d->bytes + tl + vl > d->max_bytes) {
        free(x);
        if (why)
            *why = "declarations too large";
        return -ENOBUFS;
    }
    if (d->n == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 16;
        prov_decl_t **v = realloc(d->v, cap * sizeof *v);
        if (!v) {
            free(x);
            return -ENOMEM;
        }
        d->v = v;
        d->cap = cap;
    }
    x->text = strdup(s->path);
    x->value = s->value ? strdup(s->value) : NULL;
    if (!x->text || (s->value && !x->value)) {
        decl_free(x);
        return -ENOMEM;
    }
    x->t_path = s->t_path;
    x->t_value = s->t_value;
    x->t_writable = s->t_writable;
    x->type = s->type;
    x->fallback = s->fallback;
    x->count = s->count;
    x->count_min = s->count_min;
    x->count_max = s->count_max;
    x->provision = s->provision;
    d->bytes += tl + vl;
    d->v[d->n++] = x;
    return 0;
}

int prov_decls_append(prov_decls_t *d, const prov_decls_t *src)
{
    for (size_t i = 0; i < src->n; i++) {
        const prov_decl_t *x = src->v[i];
        prov_decl_spec_t s = {
            .path = x->text, .t_path = x->t_path, .t_value = x->t_value,
            .t_writable = x->t_writable, .value = x->value, .type = x->type,
            .fallback = x->fallback, .count = x->count, .count_min = x->count_min,
            .count_max = x->count_max, .provision = x->provision,
        };
        int rc = prov_decls_add(d, &s, NULL);
        if (rc != 0)
            return rc;
    }
    return 0;
}

void prov_msgf(char *out, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out, size, fmt, ap);
    va_end(ap);
}

/* ---- RPC ------------------------------------------------------------------- */

static const char *const rpc_names[] = {
    [PROV_RPC_NONE] = "none", [PROV_RPC_GPN] = "GetParameterNames",
    [PROV_RPC_GPV] = "GetParameterValues", [PROV_RPC_SPV] = "SetParameterValues",
    [PROV_RPC_ADD] = "AddObject", [PROV_RPC_DEL] = "DeleteObject", [PROV_RPC_FAULT] = "fault",
};

const char *prov_rpc_kind_name(prov_rpc_kind_t k)
{
    return (unsigned)k <= PROV_RPC_FAULT ? rpc_names[k] : "?";
}

void prov_rpc_init(prov_rpc_t *r)
{
    memset(r, 0, sizeof *r);
    r->decl = -1;
    r->fault.provision = -1;
}

void prov_rpc_clear(prov_rpc_t *r)
{
    for (size_t i = 0; i < r->n_names; i++)
        free(r->names[i]);
    free(r->names);
    for (size_t i = 0; i < r->n_params; i++) {
        free((char *)r->params[i].name);
        free((char *)r->params[i].value);
    }
    free(r->params);
    prov_rpc_init(r);
}

int prov_rpc_msg(const prov_rpc_t *r, cwmp_msg_t *m)
{
    switch (r->kind) {
    case PROV_RPC_GPN:
        m->type = CWMP_GET_PARAMETER_NAMES;
        m->parameter_path = r->path;
        m->next_level = r->next_level;
        return 0;
    case PROV_RPC_GPV:
        m->type = CWMP_GET_PARAMETER_VALUES;
        m->names = (const char *const *)r->names;
        m->n_names = r->n_names;
        return 0;
    case PROV_RPC_SPV:
        m->type = CWMP_SET_PARAMETER_VALUES;
        m->params = r->params;
        m->n_params = r->n_params;
        return 0;
    case PROV_RPC_ADD:
        m->type = CWMP_ADD_OBJECT;
        m->object_name = r->path;
        return 0;
    case PROV_RPC_DEL:
        m->type = CWMP_DELETE_OBJECT;
        m->object_name = r->path;
        return 0;
    default:
        return -EINVAL;
    }
}

int prov_rpc_apply(prov_state_t *st, const prov_rpc_t *r, const cwmp_msg_t *resp, int64_t now,
                   prov_fault_t *fault)
{
    if (resp->type == CWMP_FAULT) {
        if (r->kind == PROV_RPC_GPN && resp->fault.code == CWMP_FAULT_CPE_INVALID_PARAMETER_NAME)
            return prov_state_absent(st, r->path, now);
        memset(fault, 0, sizeof *fault);
        fault->code = resp->fault.code;
        fault->provision = -1;
        bool many = r->kind == PROV_RPC_GPV || r->kind == PROV_RPC_SPV;
        const cwmp_spv_fault_t *sf = resp->fault.n_spv ? &resp->fault.spv[0] : NULL;
        char first[160] = "";
        /* a SetParameterValues fault says which parameter first: worth the space */
        if (sf)
            prov_msgf(first, sizeof first, " (%s: %d %s)", sf->name ? sf->name : "", sf->code,
                      sf->string ? sf->string : "");
        prov_msgf(fault->message, sizeof fault->message, "%s%s%s: fault %d %s%s",
                  prov_rpc_kind_name(r->kind), many ? "" : " ", many ? "" : r->path,
                  resp->fault.code, resp->fault.string ? resp->fault.string : "", first);
        return 1;
    }
    if (resp->type != cwmp_response_type(r->kind == PROV_RPC_GPN   ? CWMP_GET_PARAMETER_NAMES
                                         : r->kind == PROV_RPC_GPV ? CWMP_GET_PARAMETER_VALUES
                                         : r->kind == PROV_RPC_SPV ? CWMP_SET_PARAMETER_VALUES
                                         : r->kind == PROV_RPC_ADD ? CWMP_ADD_OBJECT
                                         : r->kind == PROV_RPC_DEL ? CWMP_DELETE_OBJECT
                                                                   : CWMP_NONE))
        return -EPROTO;
    switch (r->kind) {
    case PROV_RPC_GPN:
        return prov_state_gpn(st, r->path, r->next_level, resp->params, resp->n_params, now);
    case PROV_RPC_GPV:
        return prov_state_gpv(st, (const char *const *)r->names, r->n_names, resp->params,
                              resp->n_params, now);
    case PROV_RPC_SPV:
        return prov_state_spv(st, r->params, r->n_params, now);
    case PROV_RPC_ADD:
        return prov_state_added(st, r->path, resp->instance_number, r->keys.key, r->n_keys, now);
    case PROV_RPC_DEL:
        return prov_state_absent(st, r->path, now);
    default:
        return -EPROTO;
    }
}
