/* prov_state lookups: exact gets, pattern resolution against what is known
 * (and what must be read first), subtree checks, type hints. */
#include "acs/provision/prov_state_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void prov_state_info(const prov_node_t *n, prov_node_info_t *o)
{
    o->path = n->path;
    o->value = n->value;
    o->type = (prov_type_t)n->type;
    o->writable = n->writable;
    o->object = n->object;
    o->exists = n->exists;
    o->pending = n->pending;
    o->pending_type = (prov_type_t)n->pending_type;
    o->t_value = n->t_value;
    o->t_path = n->t_path;
    o->t_writable = n->t_writable;
    o->t_children = n->t_children;
}

int prov_state_get(const prov_state_t *st, const char *path, prov_node_info_t *out)
{
    size_t len = strnlen(path, PROV_PATH_MAX + 1);
    if (len > PROV_PATH_MAX)
        return -ENOENT;
    if (len && path[len - 1] == '.')
        len--;
    if (len == 0)
        return -ENOENT;
    const prov_node_t *n = prov_node_find(st, path, len);
    if (!n)
        return -ENOENT;
    prov_state_info(n, out);
    return 0;
}

static bool is_number(const char *s, size_t n)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

prov_type_t prov_state_type_hint(const prov_state_t *st, const char *path)
{
    size_t len = strnlen(path, PROV_PATH_MAX + 1);
    if (len > PROV_PATH_MAX)
        return PROV_T_UNKNOWN;
    const prov_node_t *n = prov_node_find(st, path, len);
    if (n && n->type != PROV_T_UNKNOWN)
        return (prov_type_t)n->type;
    /* The same parameter under a sibling instance: tables share a schema.
     * Tried at the deepest instance segment; at most 64 siblings looked at. */
    size_t end = len;
    while (end > 0) {
        size_t start = end;
        while (start > 0 && path[start - 1] != '.')
            start--;
        if (start > 0 && end < len && is_number(path + start, end - start)) {
            const prov_node_t *table = prov_node_find(st, path, start - 1);
            if (!table)
                return PROV_T_UNKNOWN;
            prov_node_t **kids = prov_node_kids(table);
            for (uint32_t i = 0; i < table->nkids && i < 64; i++) {
                char alt[PROV_PATH_MAX * 2 + 2];
                int w = snprintf(alt, sizeof alt, "%s%s", kids[i]->path, path + end);
                if (w < 0 || (size_t)w >= sizeof alt)
                    continue;
                const prov_node_t *a = prov_node_find(st, alt, (size_t)w);
                if (a && a->type != PROV_T_UNKNOWN)
                    return (prov_type_t)a->type;
            }
            return PROV_T_UNKNOWN;
        }
        end = start ? start - 1 : 0;
    }
    return PROV_T_UNKNOWN;
}

/* ---- resolve --------------------------------------------------------------- */

typedef struct rctx {
    const prov_state_t *st;
    const prov_path_t *p;
    int64_t t;
    prov_res_fn fn;
    void *ud;
    int need;
    char buf[PROV_PATH_MAX * 2 + 4];
} rctx_t;

static int emit(rctx_t *c, prov_res_kind_t kind, const char *path, bool nl, const prov_node_t *n)
{
    if (kind != PROV_RES_MATCH)
        c->need = 1;
    prov_res_t r = { .kind = kind, .path = path, .next_level = nl, .node = n };
    return c->fn(c->ud, &r);
}

/* "parent.name" into c->buf; -ENAMETOOLONG past the buffer. */
static int join(rctx_t *c, const char *parent, const char *name)
{
    int w = snprintf(c->buf, sizeof c->buf, "%s%s%s", parent, *parent ? "." : "", name);
    return w < 0 || (size_t)w >= PROV_PATH_MAX ? -ENAMETOOLONG : w;
}

/* Does a selector after segment `i` need more than one level below? */
static bool deeper_after(const prov_path_t *p, size_t i)
{
    return i + 1 < p->nseg || p->seg[i].kind == PROV_SEG_KEYS;
}

/* The names of node n are not known well enough to go on at segment i.
 * Ask for the smallest covering subtree:
 *  - at a literal name: the concrete path itself, as far as its literal
 *    names go (a parameter: NextLevel=false answers with just it; an object
 *    followed by a selector: its children, or its whole subtree when the
 *    selector goes deeper). A missing path answers 9005, which the caller
 *    records with prov_state_absent(). Asking the known ancestor instead
 *    could list the whole data model in one answer.
 *  - at a selector: n's children (NextLevel=true) when the selector is the
 *    last level, else n's whole subtree (NextLevel=false): one round trip
 *    instead of one per level, and n is the table itself, not the model. */
static int need_names(rctx_t *c, const prov_node_t *n, size_t i)
{
    const prov_path_t *p = c->p;
    char path[PROV_PATH_MAX + 2];
    size_t o = (size_t)snprintf(path, sizeof path, "%s", n->path);
    size_t j = i;
    while (j < p->nseg && p->seg[j].kind == PROV_SEG_NAME) {
        int w = snprintf(path + o, sizeof path - o, "%s%s", o ? "." : "", p->seg[j].name);
        if (w < 0 || o + (size_t)w >= PROV_PATH_MAX)
            return -ENAMETOOLONG;
        o += (size_t)w;
        j++;
    }
    bool nl;
    if (j == p->nseg) { /* all literal to the end */
        nl = false;
        if (p->object && o > 0)
            path[o++] = '.';
    } else {
        nl = !deeper_after(p, j);
        if (o > 0)
            path[o++] = '.';
    }
    path[o] = '\0';
    return emit(c, PROV_RES_NEED_NAMES, path, nl, NULL);
}

static int walk(rctx_t *c, const prov_node_t *n, size_t i);

static bool absent_known(const rctx_t *c, const prov_node_t *parent, const prov_node_t *child)
{
    if (child && !child->exists && child->t_path >= c->t)
        return true;
    return (!child || !child->exists) && parent->t_children > 0 && parent->t_children >= c->t;
}

enum { KEY_EQ, KEY_NE, KEY_NEED_VALUE, KEY_NEED_NAMES };

/* What is known of one key of instance k (c->buf gets the key's path). */
static int key_state(rctx_t *c, const prov_node_t *k, const prov_key_t *key)
{
    int w = join(c, k->path, key->name);
    if (w < 0)
        return KEY_NE;
    const prov_node_t *leaf = prov_node_find(c->st, c->buf, (size_t)w);
    if (leaf && leaf->exists && !leaf->object) {
        const char *v;
        if (leaf->pending)
            v = leaf->pending;
        else if (leaf->t_value > 0 && leaf->t_value >= c->t)
            v = leaf->value;
        else
            return KEY_NEED_VALUE;
        return prov_value_equal((prov_type_t)leaf->type, v ? v : "", key->value) ? KEY_EQ : KEY_NE;
    }
    if (leaf && !leaf->exists && leaf->t_path > 0 && leaf->t_path >= c->t)
        return KEY_NE;
    /* known absent when the key's parent object was listed */
    const char *dot = strrchr(c->buf, '.');
    const prov_node_t *kp = dot ? prov_node_find(c->st, c->buf, (size_t)(dot - c->buf)) : NULL;
    if (kp && kp->exists && kp->t_children > 0 && kp->t_children >= c->t)
        return KEY_NE;
    return KEY_NEED_NAMES;
}

/* Instance k against the key selector: 1 match, 0 no match, 2 undecided
 * (a need was emitted), <0 error. A key already known to differ settles it
 * before anything is asked about the others. */
static int keys_match(rctx_t *c, const prov_node_t *table, const prov_node_t *k,
                      const prov_seg_t *sg, bool *names_needed)
{
    for (unsigned j = 0; j < sg->nkeys; j++)
        if (key_state(c, k, &c->p->key[sg->key0 + j]) == KEY_NE)
            return 0;
    int res = 1;
    for (unsigned j = 0; j < sg->nkeys; j++) {
        int ks = key_state(c, k, &c->p->key[sg->key0 + j]);
        int rc = 0;
        if (ks == KEY_NEED_VALUE) {
            rc = emit(c, PROV_RES_NEED_VALUE, c->buf, false, NULL);
            res = 2;
        } else if (ks == KEY_NEED_NAMES) {
            if (!*names_needed) {
                *names_needed = true;
                char path[PROV_PATH_MAX + 2];
                snprintf(path, sizeof path, "%s.", table->path);
                rc = emit(c, PROV_RES_NEED_NAMES, path, false, NULL);
            }
            res = 2;
        }
        if (rc != 0)
            return rc;
    }
    return res;
}

/* c->buf holds the path down to literal segment i: is it, or a literal
 * path below it, known absent (a 9005 recorded deeper than the tree goes)? */
static bool tombstone_ahead(rctx_t *c, size_t i)
{
    char path[PROV_PATH_MAX + 2];
    size_t o = (size_t)snprintf(path, sizeof path, "%s", c->buf);
    for (size_t j = i;; j++) {
        const prov_node_t *k = prov_node_find(c->st, path, o);
        if (k && !k->exists && k->t_path > 0 && k->t_path >= c->t)
            return true;
        if (j + 1 >= c->p->nseg || c->p->seg[j + 1].kind != PROV_SEG_NAME)
            return false;
        int w = snprintf(path + o, sizeof path - o, ".%s", c->p->seg[j + 1].name);
        if (w < 0 || o + (size_t)w >= PROV_PATH_MAX)
            return false;
        o += (size_t)w;
    }
}

static int walk(rctx_t *c, const prov_node_t *n, size_t i)
{
    const prov_path_t *p = c->p;
    if (i == p->nseg)
        return emit(c, PROV_RES_MATCH, n->path, false, n);
    const prov_seg_t *sg = &p->seg[i];
    if (sg->kind == PROV_SEG_NAME) {
        int w = join(c, n->path, sg->name);
        if (w < 0)
            return w;
        const prov_node_t *k = prov_node_find(c->st, c->buf, (size_t)w);
        if (k && k->exists && k->t_path > 0 && k->t_path >= c->t)
            return walk(c, k, i + 1);
        if (absent_known(c, n, k) || tombstone_ahead(c, i))
            return 0;
        return need_names(c, n, i);
    }
    if (n->t_children == 0 || n->t_children < c->t)
        return need_names(c, n, i);
    prov_node_t **kids = prov_node_kids(n);
    bool names_needed = false;
    for (uint32_t j = 0; j < n->nkids; j++) {
        const prov_node_t *k = kids[j];
        if (!k->exists)
            continue;
        if (sg->kind == PROV_SEG_KEYS) {
            int m = keys_match(c, n, k, sg, &names_needed);
            if (m < 0)
                return m;
            if (m != 1)
                continue;
        }
        int rc = walk(c, k, i + 1);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* A literal path trusted to exist (t_path 0): only a known absence stops it. */
static int resolve_trusted(rctx_t *c)
{
    const prov_path_t *p = c->p;
    const prov_node_t *n = &c->st->root;
    char path[PROV_PATH_MAX + 2];
    size_t o = 0;
    path[0] = '\0';
    for (size_t i = 0; i < p->nseg; i++) {
        int w = snprintf(path + o, sizeof path - o, "%s%s", o ? "." : "", p->seg[i].name);
        if (w < 0 || o + (size_t)w >= PROV_PATH_MAX)
            return -ENAMETOOLONG;
        o += (size_t)w;
        if (!n)
            continue;
        const prov_node_t *k = prov_node_find(c->st, path, o);
        if (k && !k->exists && k->t_path > 0)
            return 0;
        if ((!k || !k->exists) && n->exists && n->t_children > 0)
            return 0;
        n = k;
    }
    return emit(c, PROV_RES_MATCH, path, false, n);
}

int prov_state_resolve(const prov_state_t *st, const prov_path_t *p, int64_t t_path,
                       prov_res_fn fn, void *ud)
{
    /* on the stack: callbacks may leave by longjmp (a Lua error while the
     * sandbox builds a result), so nothing here may need freeing */
    rctx_t ctx, *c = &ctx;
    c->st = st;
    c->p = p;
    c->t = p->pattern && t_path < 1 ? 1 : t_path;
    c->fn = fn;
    c->ud = ud;
    c->need = 0;
    int rc = c->t == 0 ? resolve_trusted(c) : walk(c, &st->root, 0);
    return rc < 0 ? rc : c->need;
}

/* ---- subtrees -------------------------------------------------------------- */

static void subtree_need(const prov_node_t *n, int64_t tp, int64_t tv, prov_subtree_need_t *o)
{
    if (!n->exists)
        return;
    if (n->object) {
        if (tp > 0 && n->t_children < tp)
            o->names = true;
        for (uint32_t i = 0; i < n->nkids; i++)
            subtree_need(n->kids[i], tp, tv, o);
    } else if (tv > 0 && n->t_value < tv) {
        o->values = true;
    }
}

void prov_state_subtree_need(const prov_node_t *n, int64_t t_path, int64_t t_value,
                             prov_subtree_need_t *out)
{
    out->names = out->values = false;
    subtree_need(n, t_path, t_value, out);
}

int prov_state_each_leaf(const prov_node_t *n, prov_res_fn fn, void *ud)
{
    if (!n->exists)
        return 0;
    if (!n->object) {
        prov_res_t r = { .kind = PROV_RES_MATCH, .path = n->path, .node = n };
        return fn(ud, &r);
    }
    prov_node_t **kids = prov_node_kids(n);
    for (uint32_t i = 0; i < n->nkids; i++) {
        int rc = prov_state_each_leaf(kids[i], fn, ud);
        if (rc != 0)
            return rc;
    }
    return 0;
}

static int pend_cmp(const void *a, const void *b)
{
    return strcmp((*(prov_node_t *const *)a)->path, (*(prov_node_t *const *)b)->path);
}

int prov_state_each_pending(const prov_state_t *st, prov_node_fn fn, void *ud)
{
    size_t n = 0;
    for (const prov_node_t *p = st->pending; p; p = p->pend_next)
        n++;
    if (n == 0)
        return 0;
    const prov_node_t **v = malloc(n * sizeof *v);
    if (!v)
        return -ENOMEM;
    n = 0;
    for (const prov_node_t *p = st->pending; p; p = p->pend_next)
        v[n++] = p;
    qsort(v, n, sizeof *v, pend_cmp);
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        prov_node_info_t info;
        prov_state_info(v[i], &info);
        rc = fn(ud, &info);
    }
    free(v);
    return rc;
}
