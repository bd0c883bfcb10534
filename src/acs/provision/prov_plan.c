/* prov_plan: declarations + state -> the next RPC. See prov_declare.h for
 * the order of the steps and why. Everything is collected first (names,
 * values, sets, instance changes), then the first non-empty step wins; a
 * round costs one pass over the declarations. */
#include "acs/provision/prov_declare.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acs/provision/prov_state_int.h"
#include "core/hmap.h"

enum { DEFAULT_RPC_MAX = 1000 };

typedef struct need {
    char *path; /* object paths end in '.' */
    bool nl;
} need_t;

typedef struct set_ent {
    char *name, *value; /* value NULL: the last declaration is already met */
    prov_type_t type;
    int decl;
} set_ent_t;

typedef struct plan {
    prov_state_t *st;
    const prov_plan_opts_t *o;
    int64_t now;
    bool check;          /* prov_decls_satisfied: find out only */
    bool any;            /* check: something is needed */
    need_t *needs;
    size_t nneeds, capneeds;
    hmap_t gpv;          /* name -> (void *)1 */
    char **gpv_names;
    size_t ngpv, capgpv;
    hmap_t sets;         /* name -> set_ent_t * */
    set_ent_t **setv;
    size_t nsets, capsets;
    hmap_t vp_asked;
    prov_decls_t more;   /* what virtual parameter scripts declared */
    int err;
    bool faulted;
    prov_fault_t fault;
    /* instance changes: the first one in declaration order */
    bool have_del, have_add;
    char del_path[PROV_PATH_MAX + 16], add_path[PROV_PATH_MAX + 16];
    int del_decl, add_decl;
    const prov_decl_t *add_from;
    /* the declaration being planned */
    const prov_decl_t *d;
    int di;
} plan_t;

static void set_fault(plan_t *pl, const prov_decl_t *d, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_fault(plan_t *pl, const prov_decl_t *d, const char *fmt, ...)
{
    if (pl->faulted)
        return;
    pl->faulted = true;
    pl->fault.code = PROV_FAULT_SCRIPT;
    pl->fault.provision = d ? d->provision : -1;
    pl->fault.line = 0;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(pl->fault.message, sizeof pl->fault.message, fmt, ap);
    va_end(ap);
}

static void add_need(plan_t *pl, const char *path, bool nl)
{
    pl->any = true;
    if (pl->check || pl->err)
        return;
    for (size_t i = 0; i < pl->nneeds; i++)
        if (pl->needs[i].nl == nl && strcmp(pl->needs[i].path, path) == 0)
            return;
    if (pl->nneeds == pl->capneeds) {
        size_t cap = pl->capneeds ? pl->capneeds * 2 : 8;
        need_t *v = realloc(pl->needs, cap * sizeof *v);
        if (!v) {
            pl->err = -ENOMEM;
            return;
        }
        pl->needs = v;
        pl->capneeds = cap;
    }
    char *c = strdup(path);
    if (!c) {
        pl->err = -ENOMEM;
        return;
    }
    pl->needs[pl->nneeds++] = (need_t){ c, nl };
}

static void add_gpv(plan_t *pl, const char *name)
{
    pl->any = true;
    if (pl->check || pl->err || hmap_gets(&pl->gpv, name))
        return;
    if (pl->ngpv == pl->capgpv) {
        size_t cap = pl->capgpv ? pl->capgpv * 2 : 16;
        char **v = realloc(pl->gpv_names, cap * sizeof *v);
        if (!v) {
            pl->err = -ENOMEM;
            return;
        }
        pl->gpv_names = v;
        pl->capgpv = cap;
    }
    char *c = strdup(name);
    if (!c || hmap_put(&pl->gpv, c, strlen(c), (void *)1) != 0) {
        free(c);
        pl->err = -ENOMEM;
        return;
    }
    pl->gpv_names[pl->ngpv++] = c;
}

/* The last declaration of a name wins; value NULL records "already met". */
static void put_set(plan_t *pl, const char *name, const char *value, prov_type_t type, int di)
{
    if (value)
        pl->any = true;
    if (pl->check || pl->err)
        return;
    set_ent_t *e = hmap_gets(&pl->sets, name);
    if (!e) {
        if (pl->nsets == pl->capsets) {
            size_t cap = pl->capsets ? pl->capsets * 2 : 16;
            set_ent_t **v = realloc(pl->setv, cap * sizeof *v);
            if (!v) {
                pl->err = -ENOMEM;
                return;
            }
            pl->setv = v;
            pl->capsets = cap;
        }
        e = calloc(1, sizeof *e);
        if (!e || !(e->name = strdup(name)) || hmap_put(&pl->sets, e->name, strlen(e->name), e)) {
            if (e)
                free(e->name);
            free(e);
            pl->err = -ENOMEM;
            return;
        }
        pl->setv[pl->nsets++] = e;
    }
    free(e->value);
    e->value = NULL;
    if (value && !(e->value = strdup(value)))
        pl->err = -ENOMEM;
    e->type = type;
    e->decl = di;
}

static void parent_of(const char *path, char *out, size_t size)
{
    const char *dot = strrchr(path, '.');
    size_t n = dot ? (size_t)(dot - path) + 1 : 0;
    if (n >= size)
        n = 0;
    memcpy(out, path, n);
    out[n] = '\0';
}

static void plan_set(plan_t *pl, const char *path, const prov_node_t *n)
{
    const prov_decl_t *d = pl->d;
    prov_type_t t = d->type;
    if (t == PROV_T_UNKNOWN && n)
        t = (prov_type_t)n->type;
    if (t == PROV_T_UNKNOWN)
        t = prov_state_type_hint(pl->st, path);
    if (t == PROV_T_UNKNOWN)
        t = d->fallback;
    if (t == PROV_T_UNKNOWN)
        t = PROV_T_STRING;
    if (n && n->exists && n->t_value > 0 && !n->pending && prov_value_equal(t, n->value, d->value)) {
        put_set(pl, path, NULL, t, pl->di);
        return;
    }
    if (n && n->writable == 0 && n->t_writable > 0) {
        set_fault(pl, d, "%s is not writable", path);
        return;
    }
    if (!cwmp_value_ok(prov_type_name(t), d->value)) {
        set_fault(pl, d, "value is not a valid %s for %s", prov_type_name(t), path);
        return;
    }
    put_set(pl, path, d->value, t, pl->di);
}

static int on_match(plan_t *pl, const prov_res_t *r)
{
    const prov_decl_t *d = pl->d;
    const prov_node_t *n = r->node;
    char buf[PROV_PATH_MAX + 2];
    bool object = n ? n->object : d->path.object;
    if (object) {
        snprintf(buf, sizeof buf, "%s.", r->path);
        if (n) {
            prov_subtree_need_t need;
            /* the subtree's names only when the declaration named the object
             * itself ("X."); "X.*" asks for the instances, not their insides */
            prov_state_subtree_need(n, d->path.object ? d->t_path : 0, d->t_value, &need);
            if (need.names)
                add_need(pl, buf, false);
            else if (need.values)
                add_gpv(pl, buf);
        } else if (d->t_value) {
            add_gpv(pl, buf);
        }
    } else {
        if (d->t_value && (!n || n->t_value < d->t_value))
            add_gpv(pl, r->path);
        if (d->value && !d->count)
            plan_set(pl, r->path, n);
    }
    if (d->t_writable && (!n || n->t_writable < d->t_writable)) {
        parent_of(r->path, buf, sizeof buf);
        add_need(pl, buf, true);
    }
    return 0;
}

static int on_res(void *ud, const prov_res_t *r)
{
    plan_t *pl = ud;
    switch (r->kind) {
    case PROV_RES_NEED_NAMES:
        add_need(pl, r->path, r->next_level);
        break;
    case PROV_RES_NEED_VALUE:
        add_gpv(pl, r->path);
        break;
    case PROV_RES_MATCH:
        on_match(pl, r);
        break;
    }
    return pl->err;
}

/* ---- instance counts ------------------------------------------------------- */

typedef struct nodes {
    const prov_node_t **v;
    size_t n, cap;
    int err;
} nodes_t;

static int collect(void *ud, const prov_res_t *r)
{
    nodes_t *c = ud;
    if (r->kind != PROV_RES_MATCH || !r->node)
        return 0;
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 16;
        const prov_node_t **v = realloc(c->v, cap * sizeof *v);
        if (!v)
            return c->err = -ENOMEM;
        c->v = v;
        c->cap = cap;
    }
    c->v[c->n++] = r->node;
    return 0;
}

static void plan_count(plan_t *pl)
{
    const prov_decl_t *d = pl->d;
    prov_path_t prefix = d->path;
    prefix.nseg--;
    prefix.object = true;
    prefix.pattern = false;
    for (size_t i = 0; i < prefix.nseg; i++)
        if (prefix.seg[i].kind != PROV_SEG_NAME)
            prefix.pattern = true;
    int64_t t = d->t_path > 1 ? d->t_path : 1;
    nodes_t parents = { 0 }, matches = { 0 };
    int rc = prov_state_resolve(pl->st, &prefix, t, collect, &parents);
    int rc2 = rc == 0 ? prov_state_resolve(pl->st, &d->path, t, collect, &matches) : 0;
    if (rc < 0 || rc2 < 0)
        pl->err = rc < 0 ? rc : rc2;
    /* needs were planned by the main resolve of this declaration; with
     * parents or matches unknown, counting waits for them */
    if (rc == 0 && rc2 == 0 && !pl->err) {
        for (size_t i = 0; i < parents.n; i++) {
            const prov_node_t *p = parents.v[i];
            size_t cnt = 0;
            const prov_node_t *last = NULL;
            for (size_t j = 0; j < matches.n; j++)
                if (matches.v[j]->parent == p) {
                    cnt++;
                    last = matches.v[j]; /* matches come in instance order */
                }
            if (cnt < d->count_min) {
                pl->any = true;
                if (!pl->have_add && !pl->check) {
                    pl->have_add = true;
                    snprintf(pl->add_path, sizeof pl->add_path, "%s.", p->path);
                    pl->add_decl = pl->di;
                    pl->add_from = d;
                }
            } else if (cnt > d->count_max && last) {
                pl->any = true;
                if (!pl->have_del && !pl->check) {
                    pl->have_del = true;
                    snprintf(pl->del_path, sizeof pl->del_path, "%s.", last->path);
                    pl->del_decl = pl->di;
                }
            }
        }
    }
    free(parents.v);
    free(matches.v);
}

/* ---- virtual parameters ---------------------------------------------------- */

static void plan_vp(plan_t *pl)
{
    const prov_decl_t *d = pl->d;
    const char *name = d->path.seg[1].name;
    char full[PROV_PATH_MAX + 2];
    snprintf(full, sizeof full, PROV_VP_PREFIX "%s", name);
    const prov_node_t *n = prov_node_find(pl->st, full, strlen(full));
    if (n && !n->exists && n->t_path > 0)
        return; /* known not to exist */
    bool want_set = d->value && !(n && n->t_value > 0 &&
                                  prov_value_equal(d->type ? d->type : (prov_type_t)n->type,
                                                   n->value, d->value));
    bool want_get = (d->t_value && (!n || n->t_value < d->t_value)) ||
                    (d->t_writable && (!n || n->t_writable < d->t_writable)) ||
                    (d->t_path && (!n || n->t_path < d->t_path));
    if (!want_set && !want_get)
        return;
    pl->any = true;
    if (pl->check || pl->err || pl->faulted || hmap_gets(&pl->vp_asked, name))
        return;
    if (hmap_put_copy(&pl->vp_asked, name, strlen(name), (void *)1) != 0) {
        pl->err = -ENOMEM;
        return;
    }
    if (!pl->o->vp) {
        set_fault(pl, d, "virtual parameter %s: no resolver", name);
        return;
    }
    prov_vp_req_t req = {
        .name = name, .set = want_set, .value = want_set ? d->value : NULL, .type = d->type,
        .t_path = d->t_path, .t_value = d->t_value, .t_writable = d->t_writable,
        .decl = pl->di, .provision = d->provision,
    };
    prov_vp_res_t res = { .writable = -1 };
    res.fault.provision = -1;
    int rc = pl->o->vp(pl->o->vp_ud, pl->st, &req, &pl->more, &res);
    if (rc < 0) {
        free(res.value);
        pl->err = rc;
        return;
    }
    switch (res.status) {
    case PROV_VP_DONE: {
        const char *v = res.value ? res.value : want_set ? d->value : "";
        prov_type_t t = res.type ? res.type : d->type ? d->type : PROV_T_STRING;
        rc = prov_state_put(pl->st, full, v, t, res.writable, pl->now);
        if (rc < 0)
            pl->err = rc;
        break;
    }
    case PROV_VP_ABSENT:
        if ((rc = prov_state_absent(pl->st, full, pl->now)) < 0)
            pl->err = rc;
        break;
    case PROV_VP_PENDING:
        break;
    case PROV_VP_FAULT:
        if (!pl->faulted) {
            pl->faulted = true;
            pl->fault = res.fault;
            if (pl->fault.provision < 0)
                pl->fault.provision = d->provision;
            if (!pl->fault.code)
                pl->fault.code = PROV_FAULT_SCRIPT;
        }
        break;
    }
    free(res.value);
}

static void plan_decl(plan_t *pl, const prov_decl_t *d, int di, bool from_vp)
{
    pl->d = d;
    pl->di = di;
    if (d->vp) {
        if (from_vp)
            set_fault(pl, d, "%s: a virtual parameter script cannot declare another", d->text);
        else
            plan_vp(pl);
        return;
    }
    int rc = prov_state_resolve(pl->st, &d->path, d->t_path, on_res, pl);
    if (rc < 0 && !pl->err)
        pl->err = rc;
    if (d->count && !pl->err)
        plan_count(pl);
}

/* ---- choosing the RPC ------------------------------------------------------ */

static int need_cmp(const void *a, const void *b)
{
    const need_t *x = a, *y = b;
    int c = strcmp(x->path, y->path);
    return c ? c : (int)x->nl - (int)y->nl;
}

static int str_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int set_cmp(const void *a, const void *b)
{
    return strcmp((*(set_ent_t *const *)a)->name, (*(set_ent_t *const *)b)->name);
}

static size_t segs(const char *p)
{
    size_t n = *p ? 1 : 0;
    for (; *p; p++)
        if (*p == '.' && p[1])
            n++;
    return n;
}

/* One GetParameterNames out of the needs. Needs inside a NextLevel=false
 * need are covered by it. Two or more needs under the same table object
 * (new instances after AddObject, several parameters of one object) become
 * one listing of that object: NextLevel=true when they are all parameters
 * (their existence and writable flag come with the parent's children),
 * else NextLevel=false of it - one round trip instead of one per need. A
 * top-level object ("Device.") is never listed whole that way: its subtree
 * is the entire data model. */
static void choose_gpn(plan_t *pl, prov_rpc_t *rpc)
{
    qsort(pl->needs, pl->nneeds, sizeof *pl->needs, need_cmp);
    size_t k = 0;
    for (size_t i = 0; i < pl->nneeds; i++) {
        bool covered = false;
        for (size_t j = 0; j < pl->nneeds && !covered; j++) {
            if (j == i || pl->needs[j].nl)
                continue;
            const char *a = pl->needs[j].path, *b = pl->needs[i].path;
            size_t la = strlen(a);
            if ((la == 0 || (a[la - 1] == '.' && strncmp(a, b, la) == 0)) &&
                (strcmp(a, b) != 0 || pl->needs[i].nl))
                covered = true;
        }
        if (!covered)
            pl->needs[k++] = pl->needs[i];
        else
            free(pl->needs[i].path);
    }
    pl->nneeds = k;
    const need_t *first = &pl->needs[0];
    char parent[PROV_PATH_MAX + 2];
    /* the parent object of the first need: a trailing '.' is not a level */
    char tmp[PROV_PATH_MAX + 2];
    snprintf(tmp, sizeof tmp, "%s", first->path);
    size_t tl = strlen(tmp);
    if (tl && tmp[tl - 1] == '.')
        tmp[tl - 1] = '\0';
    parent_of(tmp, parent, sizeof parent);
    size_t same = 0;
    bool all_params = true;
    for (size_t i = 0; i < pl->nneeds; i++) {
        snprintf(tmp, sizeof tmp, "%s", pl->needs[i].path);
        tl = strlen(tmp);
        bool obj = tl && tmp[tl - 1] == '.';
        if (obj)
            tmp[tl - 1] = '\0';
        char pp[PROV_PATH_MAX + 2];
        parent_of(tmp, pp, sizeof pp);
        if (*parent && strcmp(pp, parent) == 0) {
            same++;
            if (obj)
                all_params = false;
        }
    }
    rpc->kind = PROV_RPC_GPN;
    if (same >= 2 && (all_params || segs(parent) >= 2)) {
        snprintf(rpc->path, sizeof rpc->path, "%s", parent);
        rpc->next_level = all_params;
    } else {
        snprintf(rpc->path, sizeof rpc->path, "%s", first->path);
        rpc->next_level = first->nl;
    }
}

static int build(plan_t *pl, prov_rpc_t *rpc)
{
    size_t gmax = pl->o->gpv_max ? pl->o->gpv_max : DEFAULT_RPC_MAX;
    size_t smax = pl->o->spv_max ? pl->o->spv_max : DEFAULT_RPC_MAX;
    if (pl->faulted) {
        rpc->kind = PROV_RPC_FAULT;
        rpc->fault = pl->fault;
        return 0;
    }
    if (pl->nneeds) {
        choose_gpn(pl, rpc);
        return 0;
    }
    if (pl->ngpv) {
        qsort(pl->gpv_names, pl->ngpv, sizeof *pl->gpv_names, str_cmp);
        size_t n = pl->ngpv < gmax ? pl->ngpv : gmax;
        rpc->names = calloc(n, sizeof *rpc->names);
        if (!rpc->names)
            return -ENOMEM;
        for (size_t i = 0; i < n; i++) { /* hand the strings over */
            rpc->names[i] = pl->gpv_names[i];
            pl->gpv_names[i] = NULL;
        }
        rpc->n_names = n;
        rpc->kind = PROV_RPC_GPV;
        return 0;
    }
    if (pl->have_del) {
        rpc->kind = PROV_RPC_DEL;
        snprintf(rpc->path, sizeof rpc->path, "%s", pl->del_path);
        rpc->decl = pl->del_decl;
        return 0;
    }
    if (pl->have_add) {
        rpc->kind = PROV_RPC_ADD;
        snprintf(rpc->path, sizeof rpc->path, "%s", pl->add_path);
        rpc->decl = pl->add_decl;
        const prov_path_t *p = &pl->add_from->path;
        const prov_seg_t *last = &p->seg[p->nseg - 1];
        if (last->kind == PROV_SEG_KEYS) {
            /* a private copy of the path holds the key strings */
            rpc->keys = *p;
            for (unsigned i = 0; i < last->nkeys; i++) {
                const prov_key_t *k = &p->key[last->key0 + i];
                rpc->keys.key[i].name = rpc->keys.text + (k->name - p->text);
                rpc->keys.key[i].value = rpc->keys.text + (k->value - p->text);
            }
            rpc->n_keys = last->nkeys;
        }
        return 0;
    }
    size_t nset = 0;
    for (size_t i = 0; i < pl->nsets; i++)
        if (pl->setv[i]->value)
            nset++;
    if (nset) {
        qsort(pl->setv, pl->nsets, sizeof *pl->setv, set_cmp);
        size_t n = nset < smax ? nset : smax;
        rpc->params = calloc(n, sizeof *rpc->params);
        if (!rpc->params)
            return -ENOMEM;
        size_t k = 0;
        for (size_t i = 0; i < pl->nsets && k < n; i++) {
            set_ent_t *e = pl->setv[i];
            if (!e->value)
                continue;
            rpc->params[k].name = e->name;
            rpc->params[k].value = e->value;
            rpc->params[k].type = prov_type_name(e->type);
            if (rpc->decl < 0)
                rpc->decl = e->decl;
            e->name = e->value = NULL; /* handed over */
            k++;
        }
        rpc->n_params = k;
        rpc->kind = PROV_RPC_SPV;
        return 0;
    }
    rpc->kind = PROV_RPC_NONE;
    return 0;
}

static int pending_set(void *ud, const prov_node_info_t *n)
{
    plan_t *pl = ud;
    prov_type_t t = n->pending_type ? n->pending_type : PROV_T_STRING;
    put_set(pl, n->path, n->pending, t, -1);
    return pl->err;
}

static void plan_free(plan_t *pl)
{
    for (size_t i = 0; i < pl->nneeds; i++)
        free(pl->needs[i].path);
    free(pl->needs);
    for (size_t i = 0; i < pl->ngpv; i++)
        free(pl->gpv_names[i]);
    free(pl->gpv_names);
    hmap_free(&pl->gpv);
    for (size_t i = 0; i < pl->nsets; i++) {
        free(pl->setv[i]->name);
        free(pl->setv[i]->value);
        free(pl->setv[i]);
    }
    free(pl->setv);
    hmap_free(&pl->sets);
    hmap_free(&pl->vp_asked);
    prov_decls_free(&pl->more);
}

static int run_plan(plan_t *pl, const prov_decls_t *decls, size_t from)
{
    hmap_init(&pl->gpv);
    hmap_init(&pl->sets);
    hmap_init(&pl->vp_asked);
    prov_decls_init(&pl->more);
    if (!pl->check)
        pl->err = prov_state_each_pending(pl->st, pending_set, pl);
    else if (pl->st->pending)
        pl->any = true;
    for (size_t i = from; i < decls->n && !pl->err; i++)
        plan_decl(pl, decls->v[i], (int)i, false);
    /* what virtual parameter scripts need, planned with the rest (the list
     * may grow while it is walked: a later VP adds to it) */
    for (size_t i = 0; i < pl->more.n && !pl->err; i++)
        plan_decl(pl, pl->more.v[i], -1, true);
    return pl->err;
}

int prov_plan_ex(prov_state_t *st, const prov_decls_t *decls, int64_t now,
                 const prov_plan_opts_t *opts, prov_rpc_t *rpc)
{
    static const prov_plan_opts_t none;
    plan_t pl = { .st = st, .o = opts ? opts : &none, .now = now };
    prov_rpc_init(rpc);
    int rc = run_plan(&pl, decls, 0);
    if (rc == 0)
        rc = build(&pl, rpc);
    plan_free(&pl);
    if (rc != 0)
        prov_rpc_clear(rpc);
    return rc;
}

int prov_plan(prov_state_t *st, const prov_decls_t *decls, int64_t now, prov_rpc_t *rpc)
{
    return prov_plan_ex(st, decls, now, NULL, rpc);
}

bool prov_decls_satisfied(const prov_state_t *st, const prov_decls_t *decls, size_t from)
{
    static const prov_plan_opts_t none;
    /* check mode only reads the state (no VP calls, nothing stored) */
    plan_t pl = { .st = (prov_state_t *)st, .o = &none, .check = true };
    int rc = run_plan(&pl, decls, from);
    bool ok = rc == 0 && !pl.any && !pl.faulted;
    plan_free(&pl);
    return ok;
}
