/*
 * dm_write: the operations that change a CPE's overlay: SetParameterValues,
 * SetParameterAttributes, AddObject, DeleteObject, the CPE's own value
 * changes. Every RPC validates everything first and then applies, so a
 * fault leaves the CPE as it was (TR-069 A.3.2.1: all or nothing).
 */
#include "cpesim/dm_ref.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/str.h"

enum { DM_PARAMETER_KEY_MAX = 32 };

int dm_grow(void **p, uint32_t *cap, uint32_t need, size_t elem, dm_inst_t *in)
{
    if (need <= *cap)
        return 0;
    uint32_t ncap = *cap ? *cap * 2 : 4;
    while (ncap < need)
        ncap *= 2;
    void *np = realloc(*p, elem * ncap);
    if (!np)
        return -ENOMEM;
    in->bytes += elem * (ncap - *cap);
    *p = np;
    *cap = ncap;
    return 0;
}

dm_ovr_t *dm_ovr_get(dm_inst_t *in, uint32_t node)
{
    uint32_t lo = 0, hi = in->n_ovr;
    while (lo < hi) {
        uint32_t mid = (lo + hi) / 2;
        if (in->ovr[mid].node < node)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < in->n_ovr && in->ovr[lo].node == node)
        return &in->ovr[lo];
    if (dm_grow((void **)&in->ovr, &in->cap_ovr, in->n_ovr + 1, sizeof *in->ovr, in))
        return NULL;
    memmove(&in->ovr[lo + 1], &in->ovr[lo], (in->n_ovr - lo) * sizeof *in->ovr);
    in->n_ovr++;
    memset(&in->ovr[lo], 0, sizeof in->ovr[lo]);
    in->ovr[lo].node = node;
    return &in->ovr[lo];
}

static void ovr_remove_at(dm_inst_t *in, uint32_t i)
{
    if (in->ovr[i].value)
        in->bytes -= strlen(in->ovr[i].value) + 1;
    free(in->ovr[i].value);
    memmove(&in->ovr[i], &in->ovr[i + 1], (in->n_ovr - i - 1) * sizeof *in->ovr);
    in->n_ovr--;
}

static void on_remove_at(dm_inst_t *in, uint32_t i)
{
    dm_onode_t *o = &in->on[i];
    in->bytes -= strlen(o->name) + 1 + (o->value ? strlen(o->value) + 1 : 0);
    free(o->name);
    free(o->value);
    memmove(&in->on[i], &in->on[i + 1], (in->n_on - i - 1) * sizeof *in->on);
    in->n_on--;
}

char *dm_dup_counted(dm_inst_t *in, const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = malloc(n);
    if (p) {
        memcpy(p, s, n);
        in->bytes += n;
    }
    return p;
}

/* Store a value; `changed` marks it for the next Inform. */
int dm_store_value(const dm_view_t *v, dm_ref_t r, const char *value, bool changed)
{
    dm_inst_t *in = dm_inst_get(v);
    if (!in)
        return -ENOMEM;
    char *copy = dm_dup_counted(in, value);
    if (!copy)
        return -ENOMEM;
    char **slot;
    uint8_t *flags;
    if (r.ov) {
        slot = &in->on[r.idx].value;
        flags = &in->on[r.idx].flags;
    } else {
        dm_ovr_t *o = dm_ovr_get(in, r.idx);
        if (!o) {
            in->bytes -= strlen(copy) + 1;
            free(copy);
            return -ENOMEM;
        }
        slot = &o->value;
        flags = &o->flags;
        *flags |= DM_OV_VALUE;
    }
    if (*slot) {
        in->bytes -= strlen(*slot) + 1;
        free(*slot);
    }
    *slot = copy;
    if (changed)
        *flags |= DM_OV_CHANGED;
    return 0;
}

static int store_attrs(const dm_view_t *v, dm_ref_t r, const dm_attr_set_t *a)
{
    uint8_t notify;
    bool sub;
    dm_ref_attrs(v, r, &notify, &sub);
    if (a->notification_change)
        notify = (uint8_t)a->notification;
    if (a->access_list_change)
        sub = a->subscriber;
    dm_inst_t *in = dm_inst_get(v);
    if (!in)
        return -ENOMEM;
    if (r.ov) {
        in->on[r.idx].notify = notify;
        in->on[r.idx].subscriber = sub;
        return 0;
    }
    dm_ovr_t *o = dm_ovr_get(in, r.idx);
    if (!o)
        return -ENOMEM;
    o->flags |= DM_OV_ATTR;
    o->notify = notify;
    o->subscriber = sub;
    return 0;
}

static int store_parameter_key(const dm_view_t *v, const char *pk)
{
    uint32_t i = v->m->wk[DM_WK_PARAMETER_KEY];
    if (!pk || i == DM_NONE)
        return 0;
    return dm_store_value(v, (dm_ref_t){ i, false }, pk, false);
}

static bool room_for(const dm_view_t *v, size_t need)
{
    size_t have = *v->inst ? (*v->inst)->bytes : sizeof(dm_inst_t);
    return have + need <= dm_inst_cap;
}

/* ---- SetParameterValues ----------------------------------------------------- */

static int cmp_by_name(const void *a, const void *b, void *ud)
{
    const dm_set_t *items = ud;
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    int c = strcmp(items[x].name, items[y].name);
    return c ? c : (x < y ? -1 : x > y);
}

/* Mark every repeat of a name (not its first occurrence) with 9003; sorting
 * keeps this O(n log n) for the 100,000 items a message may carry. */
static int mark_duplicates(const dm_set_t *items, size_t n, int *faults)
{
    size_t *ix = malloc(sizeof *ix * (n ? n : 1));
    if (!ix)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++)
        ix[i] = i;
    qsort_r(ix, n, sizeof *ix, cmp_by_name, (void *)items);
    for (size_t i = 1; i < n; i++)
        if (strcmp(items[ix[i]].name, items[ix[i - 1]].name) == 0)
            faults[ix[i]] = DM_FAULT_INVALID_ARGS; /* the same parameter twice */
    free(ix);
    return 0;
}

int dm_set_values(const dm_view_t *v, const dm_set_t *items, size_t n, const char *pk,
                  int *faults, uint32_t *changed_mask)
{
    bool bad = false;
    size_t need = 0;
    if (changed_mask)
        *changed_mask = 0;
    if (pk && strlen(pk) > DM_PARAMETER_KEY_MAX)
        return DM_FAULT_INVALID_ARGS;
    for (size_t i = 0; i < n; i++)
        faults[i] = 0;
    if (mark_duplicates(items, n, faults) != 0)
        return DM_FAULT_INTERNAL;
    for (size_t i = 0; i < n; i++) {
        const dm_set_t *it = &items[i];
        size_t len = strlen(it->name);
        dm_ref_t r;
        int f = faults[i];
        if (!f && (len == 0 || it->name[len - 1] == '.' || dm_path_check(it->name, len, false) < 0 ||
                   dm_lookup(v, it->name, len, &r) != 0))
            f = DM_FAULT_BAD_NAME;
        const dm_node_t *node = f ? NULL : dm_ref_node(v, r);
        if (!f && node->type == DM_OBJECT)
            f = DM_FAULT_BAD_NAME;
        if (!f && !(node->flags & DM_W))
            f = DM_FAULT_READ_ONLY;
        if (!f && it->type && *it->type) {
            int t = dm_type_parse(it->type, strlen(it->type));
            if (t != node->type)
                f = DM_FAULT_BAD_TYPE;
        }
        if (!f)
            f = dm_value_check((dm_type_t)node->type, node->constraint, it->value);
        faults[i] = f;
        bad |= f != 0;
        need += strlen(it->value) + 1 + sizeof(dm_ovr_t);
    }
    if (bad)
        return DM_FAULT_INVALID_ARGS;
    if (!room_for(v, need + DM_PARAMETER_KEY_MAX))
        return DM_FAULT_RESOURCES;
    for (size_t i = 0; i < n; i++) {
        dm_ref_t r;
        if (dm_lookup(v, items[i].name, strlen(items[i].name), &r) != 0)
            return DM_FAULT_INTERNAL;
        int rc = dm_store_value(v, r, items[i].value, false);
        if (rc)
            return DM_FAULT_INTERNAL;
        for (int w = 0; changed_mask && !r.ov && w < DM_WK_COUNT; w++)
            if (v->m->wk[w] == r.idx)
                *changed_mask |= 1u << w;
    }
    return store_parameter_key(v, pk) ? DM_FAULT_INTERNAL : 0;
}

/* ---- SetParameterAttributes --------------------------------------------------- */

typedef struct names {
    buf_t b;
    size_t count;
} names_t;

static int collect(void *ud, const dm_item_t *it)
{
    names_t *nm = ud;
    nm->count++;
    return buf_append(&nm->b, it->name, strlen(it->name) + 1);
}

static int apply_attr(const dm_view_t *v, const char *name, const dm_attr_set_t *a, bool partial)
{
    dm_ref_t r;
    if (dm_lookup(v, name, strlen(name), &r) != 0)
        return DM_FAULT_INTERNAL;
    const dm_node_t *node = dm_ref_node(v, r);
    if (a->notification_change && a->notification == 2 && (node->flags & DM_NO_ACTIVE)) {
        if (!partial)
            return DM_FAULT_NOTIFY_REJECTED;
        dm_attr_set_t b = *a; /* a partial path skips the parameters that refuse it */
        b.notification_change = false;
        return b.access_list_change ? store_attrs(v, r, &b) : 0;
    }
    return store_attrs(v, r, a) ? DM_FAULT_INTERNAL : 0;
}

int dm_set_attrs(const dm_view_t *v, const dm_attr_set_t *items, size_t n, size_t *bad)
{
    size_t need = 0;
    for (size_t i = 0; i < n; i++) {
        const dm_attr_set_t *a = &items[i];
        size_t len = strlen(a->name);
        dm_ref_t r;
        int f = 0;
        if (len && (dm_path_check(a->name, len, false) < 0 || dm_lookup(v, a->name, len, &r) != 0))
            f = DM_FAULT_BAD_NAME;
        else if (!len && dm_lookup(v, "", 0, &r) != 0)
            f = DM_FAULT_BAD_NAME;
        bool is_obj = !f && dm_ref_node(v, r)->type == DM_OBJECT;
        if (!f && len && is_obj != (a->name[len - 1] == '.'))
            f = DM_FAULT_BAD_NAME;
        if (!f && a->notification_change && (a->notification < 0 || a->notification > 2))
            f = DM_FAULT_INVALID_ARGS;
        if (!f && !is_obj && a->notification_change && a->notification == 2 &&
            (dm_ref_node(v, r)->flags & DM_NO_ACTIVE))
            f = DM_FAULT_NOTIFY_REJECTED;
        if (f) {
            if (bad)
                *bad = i;
            return f;
        }
        if (!is_obj) {
            need += sizeof(dm_ovr_t);
        } else {
            names_t nm = { .b = BUF_INIT(64 * 1024 * 1024) };
            int rc = dm_get_attrs(v, a->name, collect, &nm);
            buf_free(&nm.b);
            if (rc)
                return DM_FAULT_INTERNAL;
            need += nm.count * sizeof(dm_ovr_t);
        }
    }
    if (!room_for(v, need * 2)) /* the sorted array may double while it grows */
        return DM_FAULT_RESOURCES;
    for (size_t i = 0; i < n; i++) {
        const dm_attr_set_t *a = &items[i];
        size_t len = strlen(a->name);
        bool partial = !len || a->name[len - 1] == '.';
        if (!a->notification_change && !a->access_list_change)
            continue;
        if (!partial) {
            int f = apply_attr(v, a->name, a, false);
            if (f)
                return f;
            continue;
        }
        names_t nm = { .b = BUF_INIT(64 * 1024 * 1024) };
        int rc = dm_get_attrs(v, a->name, collect, &nm);
        for (size_t off = 0; !rc && off < nm.b.len; off += strlen(nm.b.data + off) + 1)
            rc = apply_attr(v, nm.b.data + off, a, true);
        buf_free(&nm.b);
        if (rc)
            return DM_FAULT_INTERNAL;
    }
    return 0;
}

/* ---- AddObject / DeleteObject -------------------------------------------------- */

dm_ctr_t *dm_ctr_get(dm_inst_t *in, const char *table, bool create)
{
    for (uint32_t i = 0; i < in->n_ctr; i++)
        if (strcmp(in->ctr[i].table, table) == 0)
            return &in->ctr[i];
    if (!create || dm_grow((void **)&in->ctr, &in->cap_ctr, in->n_ctr + 1, sizeof *in->ctr, in))
        return NULL;
    dm_ctr_t *c = &in->ctr[in->n_ctr];
    c->table = dm_dup_counted(in, table);
    if (!c->table)
        return NULL;
    c->last = 0;
    in->n_ctr++;
    return c;
}

int dm_on_add(dm_inst_t *in, const char *name, uint32_t proto)
{
    if (dm_grow((void **)&in->on, &in->cap_on, in->n_on + 1, sizeof *in->on, in))
        return -ENOMEM;
    dm_onode_t *o = &in->on[in->n_on];
    memset(o, 0, sizeof *o);
    o->name = dm_dup_counted(in, name);
    if (!o->name)
        return -ENOMEM;
    o->proto = proto;
    in->n_on++;
    return 0;
}

/* Instantiate the template below the new instance `inst` ("<table>N."):
 * parameters and plain objects are copied, sub-tables start empty. `base`
 * is the length of the template instance's name. dry: only count bytes. */
static int instantiate(const dm_model_t *m, dm_inst_t *in, uint32_t obj, size_t base,
                       const char *inst, size_t *bytes, bool dry, int depth)
{
    if (depth > DM_SEG_MAX)
        return -ELOOP;
    char name[DM_NAME_MAX * 2];
    for (uint32_t c = m->nodes[obj].first_child; c != DM_NONE; c = m->nodes[c].next_sibling) {
        int len = snprintf(name, sizeof name, "%s%s", inst, m->nodes[c].name + base);
        if (len <= 0 || (size_t)len > DM_NAME_MAX)
            return -ENAMETOOLONG;
        *bytes += sizeof(dm_onode_t) + (size_t)len + 1;
        if (!dry && dm_on_add(in, name, c))
            return -ENOMEM;
        if (m->nodes[c].type == DM_OBJECT && !(m->nodes[c].flags & DM_TABLE)) {
            int rc = instantiate(m, in, c, base, inst, bytes, dry, depth + 1);
            if (rc)
                return rc;
        }
    }
    return 0;
}

int dm_add_object(const dm_view_t *v, const char *path, const char *pk, uint32_t *instance)
{
    const dm_model_t *m = v->m;
    size_t len = strlen(path);
    dm_ref_t r;
    if (pk && strlen(pk) > DM_PARAMETER_KEY_MAX)
        return DM_FAULT_INVALID_ARGS;
    if (len == 0 || path[len - 1] != '.' || dm_path_check(path, len, false) < 0 ||
        dm_lookup(v, path, len, &r) != 0)
        return DM_FAULT_BAD_NAME;
    const dm_node_t *t = dm_ref_node(v, r);
    if (t->type != DM_OBJECT || !(t->flags & DM_TABLE))
        return DM_FAULT_BAD_NAME;
    if (!(t->flags & DM_W) || t->link == DM_NONE)
        return DM_FAULT_REQUEST_DENIED;
    uint32_t tmpl = t->link;
    uint32_t inst_max = r.ov ? 0 : t->inst_max;
    dm_inst_t *in = dm_inst_get(v);
    if (!in)
        return DM_FAULT_INTERNAL;
    dm_ctr_t *ctr = dm_ctr_get(in, path, false);
    uint32_t last = ctr && ctr->last > inst_max ? ctr->last : inst_max;
    if (last >= 999999999u)
        return DM_FAULT_RESOURCES;
    char name[DM_NAME_MAX * 2];
    int nlen = snprintf(name, sizeof name, "%s%u.", path, last + 1);
    if (nlen <= 0 || (size_t)nlen > DM_NAME_MAX)
        return DM_FAULT_RESOURCES;
    size_t base = strlen(m->nodes[tmpl].name);
    size_t bytes = sizeof(dm_onode_t) + (size_t)nlen + 1 + sizeof(dm_ctr_t) + len + 1;
    int rc = instantiate(m, in, tmpl, base, name, &bytes, true, 0);
    if (rc)
        return rc == -ENAMETOOLONG ? DM_FAULT_RESOURCES : DM_FAULT_INTERNAL;
    /* the node array may double while it grows */
    if (!room_for(v, bytes + (in->n_on + 1) * sizeof(dm_onode_t)))
        return DM_FAULT_RESOURCES;
    if (!ctr && !(ctr = dm_ctr_get(in, path, true)))
        return DM_FAULT_INTERNAL;
    ctr->last = last + 1;
    if (dm_on_add(in, name, tmpl) || instantiate(m, in, tmpl, base, name, &bytes, false, 0))
        return DM_FAULT_INTERNAL;
    *instance = last + 1;
    return store_parameter_key(v, pk) ? DM_FAULT_INTERNAL : 0;
}

/* Forget every overlay entry at or below `path` (an object name). */
static void forget_below(const dm_model_t *m, dm_inst_t *in, const char *path, size_t len)
{
    for (uint32_t i = in->n_ovr; i-- > 0;)
        if (strncmp(m->nodes[in->ovr[i].node].name, path, len) == 0)
            ovr_remove_at(in, i);
    for (uint32_t i = in->n_on; i-- > 0;)
        if (strncmp(in->on[i].name, path, len) == 0)
            on_remove_at(in, i);
    for (uint32_t i = in->n_ctr; i-- > 0;)
        if (strncmp(in->ctr[i].table, path, len) == 0 && in->ctr[i].table[len]) {
            in->bytes -= strlen(in->ctr[i].table) + 1;
            free(in->ctr[i].table);
            in->ctr[i] = in->ctr[--in->n_ctr];
        }
}

int dm_delete_object(const dm_view_t *v, const char *path, const char *pk)
{
    const dm_model_t *m = v->m;
    size_t len = strlen(path);
    dm_ref_t r;
    if (pk && strlen(pk) > DM_PARAMETER_KEY_MAX)
        return DM_FAULT_INVALID_ARGS;
    if (len == 0 || path[len - 1] != '.' || dm_path_check(path, len, false) < 0 ||
        dm_lookup(v, path, len, &r) != 0)
        return DM_FAULT_BAD_NAME;
    const dm_node_t *n = dm_ref_node(v, r);
    if (n->type != DM_OBJECT || !(n->flags & DM_N_INSTANCE))
        return DM_FAULT_BAD_NAME;
    if (!(n->flags & DM_W))
        return DM_FAULT_REQUEST_DENIED;
    dm_inst_t *in = dm_inst_get(v);
    if (!in)
        return DM_FAULT_INTERNAL;
    if (!r.ov) {
        if (!room_for(v, (in->n_del + 1) * sizeof(uint32_t)))
            return DM_FAULT_RESOURCES;
        if (dm_grow((void **)&in->del, &in->cap_del, in->n_del + 1, sizeof *in->del, in))
            return DM_FAULT_INTERNAL;
        uint32_t pos = 0;
        while (pos < in->n_del && in->del[pos] < r.idx)
            pos++;
        memmove(&in->del[pos + 1], &in->del[pos], (in->n_del - pos) * sizeof *in->del);
        in->del[pos] = r.idx;
        in->n_del++;
    }
    forget_below(m, in, path, len);
    return store_parameter_key(v, pk) ? DM_FAULT_INTERNAL : 0;
}

/* ---- the CPE's own changes ---------------------------------------------------- */

int dm_set_internal(const dm_view_t *v, const char *path, const char *value)
{
    size_t len = strlen(path);
    dm_ref_t r;
    if (len == 0 || dm_lookup(v, path, len, &r) != 0)
        return -ENOENT;
    const dm_node_t *n = dm_ref_node(v, r);
    if (n->type == DM_OBJECT)
        return -EISDIR;
    if (dm_value_check((dm_type_t)n->type, NULL, value) != 0)
        return -EINVAL;
    if (!room_for(v, strlen(value) + 1 + sizeof(dm_ovr_t) * 2))
        return -ENOBUFS;
    uint8_t notify;
    bool sub;
    dm_ref_attrs(v, r, &notify, &sub);
    int rc = dm_store_value(v, r, value, notify > 0);
    return rc ? rc : notify;
}
