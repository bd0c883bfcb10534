/*
 * dm_inst: a CPE's overlay on the shared model, and the read operations
 * (GetParameterNames/Values/Attributes, the Inform's parameter list).
 * The write operations are in dm_write.c.
 *
 * A node is named by a dm_ref_t: a shared node index, or an index into the
 * overlay's own nodes (added objects). Refs are only valid within one
 * operation: writes may move overlay entries.
 */
#include "cpesim/dm_ref.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/str.h"

size_t dm_inst_cap = 256 * 1024;

void dm_set_inst_cap(size_t bytes) { dm_inst_cap = bytes; }

dm_inst_t *dm_inst_get(const dm_view_t *v)
{
    if (!*v->inst) {
        *v->inst = calloc(1, sizeof(dm_inst_t));
        if (*v->inst)
            (*v->inst)->bytes = sizeof(dm_inst_t);
    }
    return *v->inst;
}

void dm_inst_free(dm_inst_t *in)
{
    if (!in)
        return;
    for (uint32_t i = 0; i < in->n_ovr; i++)
        free(in->ovr[i].value);
    for (uint32_t i = 0; i < in->n_on; i++) {
        free(in->on[i].name);
        free(in->on[i].value);
    }
    for (uint32_t i = 0; i < in->n_ctr; i++)
        free(in->ctr[i].table);
    free(in->ovr);
    free(in->on);
    free(in->del);
    free(in->ctr);
    free(in);
}

size_t dm_inst_bytes(const dm_inst_t *in) { return in ? in->bytes : 0; }

/* ---- lookups ---------------------------------------------------------------- */

dm_ovr_t *dm_ovr_find(const dm_inst_t *in, uint32_t node)
{
    if (!in)
        return NULL;
    uint32_t lo = 0, hi = in->n_ovr;
    while (lo < hi) {
        uint32_t mid = (lo + hi) / 2;
        if (in->ovr[mid].node < node)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < in->n_ovr && in->ovr[lo].node == node ? &in->ovr[lo] : NULL;
}

static bool del_has(const dm_inst_t *in, uint32_t node)
{
    uint32_t lo = 0, hi = in->n_del;
    while (lo < hi) {
        uint32_t mid = (lo + hi) / 2;
        if (in->del[mid] < node)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < in->n_del && in->del[lo] == node;
}

bool dm_is_deleted(const dm_model_t *m, const dm_inst_t *in, uint32_t node)
{
    if (!in || !in->n_del)
        return false;
    for (uint32_t i = node; i != DM_NONE; i = m->nodes[i].parent)
        if ((m->nodes[i].flags & DM_N_INSTANCE) && del_has(in, i))
            return true;
    return false;
}

int32_t dm_on_find(const dm_inst_t *in, const char *name, size_t len)
{
    if (!in)
        return -1;
    for (uint32_t i = 0; i < in->n_on; i++)
        if (strncmp(in->on[i].name, name, len) == 0 && in->on[i].name[len] == '\0')
            return (int32_t)i;
    return -1;
}

int dm_lookup(const dm_view_t *v, const char *path, size_t len, dm_ref_t *r)
{
    const dm_model_t *m = v->m;
    const dm_inst_t *in = *v->inst;
    if (len == 0) {
        r->idx = m->root;
        r->ov = false;
        return m->root == DM_NONE ? -ENOENT : 0;
    }
    uint32_t idx = dm_model_find(m, path, len);
    if (idx != DM_NONE && !(m->nodes[idx].flags & DM_N_TEMPLATE)) {
        if (dm_is_deleted(m, in, idx))
            return -ENOENT;
        r->idx = idx;
        r->ov = false;
        return 0;
    }
    int32_t o = dm_on_find(in, path, len);
    if (o < 0)
        return -ENOENT;
    r->idx = (uint32_t)o;
    r->ov = true;
    return 0;
}

const dm_node_t *dm_ref_node(const dm_view_t *v, dm_ref_t r)
{
    return &v->m->nodes[r.ov ? (*v->inst)->on[r.idx].proto : r.idx];
}

const char *dm_ref_name(const dm_view_t *v, dm_ref_t r)
{
    return r.ov ? (*v->inst)->on[r.idx].name : v->m->nodes[r.idx].name;
}

bool dm_ref_writable(const dm_view_t *v, dm_ref_t r)
{
    return dm_ref_node(v, r)->flags & DM_W;
}

void dm_ref_attrs(const dm_view_t *v, dm_ref_t r, uint8_t *notify, bool *subscriber)
{
    if (r.ov) {
        const dm_onode_t *o = &(*v->inst)->on[r.idx];
        *notify = o->notify;
        *subscriber = o->subscriber;
        return;
    }
    const dm_ovr_t *ov = dm_ovr_find(*v->inst, r.idx);
    const dm_node_t *n = &v->m->nodes[r.idx];
    *notify = ov && (ov->flags & DM_OV_ATTR) ? ov->notify : n->notify;
    *subscriber = ov && (ov->flags & DM_OV_ATTR) ? ov->subscriber : n->subscriber;
}

/* Is `child` a direct child of the object named `parent` (ends in '.')? */
bool dm_is_child(const char *child, const char *parent, size_t plen)
{
    if (strncmp(child, parent, plen) != 0 || !child[plen])
        return false;
    const char *dot = strchr(child + plen, '.');
    return !dot || dot[1] == '\0';
}

/* Visible instances of the table named `table` (ends in '.'). */
static uint32_t count_visible(const dm_view_t *v, const char *table, size_t len)
{
    dm_ref_t t;
    if (dm_lookup(v, table, len, &t) != 0)
        return 0;
    const dm_model_t *m = v->m;
    const dm_inst_t *in = *v->inst;
    uint32_t k = 0;
    if (!t.ov)
        for (uint32_t c = m->nodes[t.idx].first_child; c != DM_NONE; c = m->nodes[c].next_sibling)
            if ((m->nodes[c].flags & DM_N_INSTANCE) && !(in && in->n_del && del_has(in, c)))
                k++;
    for (uint32_t i = 0; in && i < in->n_on; i++) {
        const char *nm = in->on[i].name;
        if (dm_is_child(nm, table, len) && nm[strlen(nm) - 1] == '.')
            k++;
    }
    return k;
}

const char *dm_ref_value(const dm_view_t *v, dm_ref_t r, buf_t *tmp, bool reveal)
{
    const dm_model_t *m = v->m;
    const dm_inst_t *in = *v->inst;
    const dm_node_t *n = dm_ref_node(v, r);
    const char *stored = NULL;
    if (r.ov)
        stored = in->on[r.idx].value;
    else {
        const dm_ovr_t *ov = dm_ovr_find(in, r.idx);
        if (ov && (ov->flags & DM_OV_VALUE))
            stored = ov->value;
    }
    if ((n->flags & DM_SECRET) && !reveal)
        return "";
    if (stored)
        return stored;
    buf_reset(tmp);
    if ((n->flags & DM_N_COUNT) && in && (in->n_on || in->n_del)) {
        /* the table sits next to the counter: "<parent path><table segment>" */
        const char *name = dm_ref_name(v, r);
        const char *dot = strrchr(name, '.');
        const dm_node_t *t = &m->nodes[n->link];
        if (buf_append(tmp, name, (size_t)(dot - name + 1)) == 0 &&
            buf_append_str(tmp, t->name + t->seg) == 0) {
            uint32_t k = count_visible(v, tmp->data, tmp->len);
            buf_reset(tmp);
            if (buf_printf(tmp, "%u", k) == 0)
                return tmp->data;
        }
        return n->value;
    }
    if (n->dyn && v->env && v->env->dyn && (n->dyn != DM_DYN_CR_PASS || reveal)) {
        if (v->env->dyn(v->env->ctx, (dm_dyn_t)n->dyn, n->dyn_arg, tmp) == 0 && tmp->data)
            return tmp->data;
        buf_reset(tmp);
    }
    return n->value ? n->value : "";
}

/* ---- walking ---------------------------------------------------------------- */

typedef struct walk {
    const dm_view_t *v;
    dm_visit_fn fn;
    void *ud;
    bool params_only;
    bool values;
    buf_t tmp;
    int rc;
} walk_t;

static int emit(walk_t *w, dm_ref_t r)
{
    const dm_node_t *n = dm_ref_node(w->v, r);
    if (w->params_only && n->type == DM_OBJECT)
        return 0;
    dm_item_t it = {
        .name = dm_ref_name(w->v, r),
        .type = (dm_type_t)n->type,
        .writable = n->flags & DM_W,
    };
    dm_ref_attrs(w->v, r, &it.notify, &it.access_subscriber);
    if (n->type != DM_OBJECT && w->values)
        it.value = dm_ref_value(w->v, r, &w->tmp, false);
    else if (n->type != DM_OBJECT)
        it.value = "";
    return w->fn(w->ud, &it);
}

/* Children of obj, in tree order: the shared ones first (minus deleted
 * instances), then the ones this CPE added. depth 1: next level only. */
static int walk(walk_t *w, dm_ref_t obj, int depth)
{
    if (depth > DM_SEG_MAX)
        return -ELOOP;
    const dm_model_t *m = w->v->m;
    const dm_inst_t *in = *w->v->inst;
    int rc;
    if (!obj.ov) {
        for (uint32_t c = m->nodes[obj.idx].first_child; c != DM_NONE; c = m->nodes[c].next_sibling) {
            if (in && in->n_del && (m->nodes[c].flags & DM_N_INSTANCE) && del_has(in, c))
                continue;
            dm_ref_t cr = { c, false };
            if ((rc = emit(w, cr)) != 0)
                return rc;
            if (m->nodes[c].type == DM_OBJECT && depth != 1 && (rc = walk(w, cr, depth + 1)) != 0)
                return rc;
        }
    }
    if (!in || !in->n_on)
        return 0;
    const char *pname = dm_ref_name(w->v, obj);
    size_t plen = strlen(pname);
    for (uint32_t i = 0; i < in->n_on; i++) {
        const char *nm = in->on[i].name;
        if (!dm_is_child(nm, pname, plen))
            continue;
        dm_ref_t cr = { i, true };
        if ((rc = emit(w, cr)) != 0)
            return rc;
        if (nm[strlen(nm) - 1] == '.' && depth != 1 && (rc = walk(w, cr, depth + 1)) != 0)
            return rc;
    }
    return 0;
}

static int finish(walk_t *w, int rc)
{
    buf_free(&w->tmp);
    return rc;
}

int dm_get_names(const dm_view_t *v, const char *path, bool next_level, dm_visit_fn fn, void *ud)
{
    walk_t w = { .v = v, .fn = fn, .ud = ud, .tmp = BUF_INIT(DM_VALUE_MAX + 64) };
    size_t len = strlen(path);
    dm_ref_t r;
    if (len && (dm_path_check(path, len, false) < 0 || dm_lookup(v, path, len, &r) != 0))
        return DM_FAULT_BAD_NAME;
    if (!len) {
        if (dm_lookup(v, "", 0, &r) != 0)
            return DM_FAULT_BAD_NAME;
        /* the empty path names the root: next level is the root itself */
        int rc = emit(&w, r);
        if (!rc && !next_level)
            rc = walk(&w, r, 2);
        return finish(&w, rc);
    }
    bool is_obj = dm_ref_node(v, r)->type == DM_OBJECT;
    if (is_obj != (path[len - 1] == '.'))
        return DM_FAULT_BAD_NAME;
    if (!is_obj)
        return next_level ? DM_FAULT_INVALID_ARGS : finish(&w, emit(&w, r));
    int rc = next_level ? 0 : emit(&w, r);
    if (!rc)
        rc = walk(&w, r, next_level ? 1 : 2);
    return finish(&w, rc);
}

static int get_params(const dm_view_t *v, const char *path, bool values, dm_visit_fn fn, void *ud)
{
    walk_t w = { .v = v, .fn = fn, .ud = ud, .params_only = true, .values = values,
                 .tmp = BUF_INIT(DM_VALUE_MAX + 64) };
    size_t len = strlen(path);
    dm_ref_t r;
    if (len && dm_path_check(path, len, false) < 0)
        return DM_FAULT_BAD_NAME;
    if (dm_lookup(v, path, len, &r) != 0)
        return DM_FAULT_BAD_NAME;
    bool is_obj = dm_ref_node(v, r)->type == DM_OBJECT;
    if (len && is_obj != (path[len - 1] == '.'))
        return DM_FAULT_BAD_NAME;
    return finish(&w, is_obj ? walk(&w, r, 2) : emit(&w, r));
}

int dm_get_values(const dm_view_t *v, const char *path, dm_visit_fn fn, void *ud)
{
    return get_params(v, path, true, fn, ud);
}

int dm_get_attrs(const dm_view_t *v, const char *path, dm_visit_fn fn, void *ud)
{
    return get_params(v, path, false, fn, ud);
}

/* ---- Inform support ---------------------------------------------------------- */

int dm_inform_params(const dm_view_t *v, dm_visit_fn fn, void *ud)
{
    const dm_model_t *m = v->m;
    const dm_inst_t *in = *v->inst;
    walk_t w = { .v = v, .fn = fn, .ud = ud, .params_only = true, .values = true,
                 .tmp = BUF_INIT(DM_VALUE_MAX + 64) };
    int rc = 0;
    for (uint32_t i = 0; i < m->nforced && !rc; i++)
        if (!dm_is_deleted(m, in, m->forced[i]))
            rc = emit(&w, (dm_ref_t){ m->forced[i], false });
    for (uint32_t i = 0; in && i < in->n_ovr && !rc; i++) {
        const dm_ovr_t *o = &in->ovr[i];
        if ((o->flags & DM_OV_CHANGED) && !(m->nodes[o->node].flags & DM_FORCED))
            rc = emit(&w, (dm_ref_t){ o->node, false });
    }
    for (uint32_t i = 0; in && i < in->n_on && !rc; i++)
        if (in->on[i].flags & DM_OV_CHANGED)
            rc = emit(&w, (dm_ref_t){ i, true });
    return finish(&w, rc);
}

void dm_clear_changes(const dm_view_t *v)
{
    dm_inst_t *in = *v->inst;
    for (uint32_t i = 0; in && i < in->n_ovr; i++)
        in->ovr[i].flags &= (uint8_t)~DM_OV_CHANGED;
    for (uint32_t i = 0; in && i < in->n_on; i++)
        in->on[i].flags &= (uint8_t)~DM_OV_CHANGED;
}

bool dm_has_active_change(const dm_view_t *v)
{
    const dm_inst_t *in = *v->inst;
    uint8_t notify;
    bool sub;
    for (uint32_t i = 0; in && i < in->n_ovr; i++)
        if (in->ovr[i].flags & DM_OV_CHANGED) {
            dm_ref_attrs(v, (dm_ref_t){ in->ovr[i].node, false }, &notify, &sub);
            if (notify == 2)
                return true;
        }
    for (uint32_t i = 0; in && i < in->n_on; i++)
        if ((in->on[i].flags & DM_OV_CHANGED) && in->on[i].notify == 2)
            return true;
    return false;
}

int dm_wk_get(const dm_view_t *v, dm_wk_t wk, buf_t *out)
{
    const dm_model_t *m = v->m;
    if ((unsigned)wk >= DM_WK_COUNT || m->wk[wk] == DM_NONE || dm_is_deleted(m, *v->inst, m->wk[wk]))
        return -ENOENT;
    buf_t tmp = BUF_INIT(DM_VALUE_MAX + 64);
    const char *val = dm_ref_value(v, (dm_ref_t){ m->wk[wk], false }, &tmp, true);
    int rc = buf_append_str(out, val);
    buf_free_secret(&tmp); /* the value may be a password (the ACS's, the CR's) */
    return rc;
}
