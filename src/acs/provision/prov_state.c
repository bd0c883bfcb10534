/* prov_state: storage and updates. See prov_state.h for the model. */
#include "acs/provision/prov_state_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/str.h"

enum { DEFAULT_MAX_NODES = 100000, DEFAULT_MAX_BYTES = 32u << 20 };

/* ---- types ----------------------------------------------------------------- */

static const char *const type_names[PROV_T_COUNT] = {
    [PROV_T_STRING] = "xsd:string",     [PROV_T_INT] = "xsd:int",
    [PROV_T_UINT] = "xsd:unsignedInt",  [PROV_T_LONG] = "xsd:long",
    [PROV_T_ULONG] = "xsd:unsignedLong", [PROV_T_BOOL] = "xsd:boolean",
    [PROV_T_DATETIME] = "xsd:dateTime", [PROV_T_BASE64] = "xsd:base64",
    [PROV_T_HEX] = "xsd:hexBinary",
};

const char *prov_type_name(prov_type_t t)
{
    return (unsigned)t < PROV_T_COUNT ? type_names[t] : NULL;
}

prov_type_t prov_type_from_name(const char *name)
{
    if (!name || !*name)
        return PROV_T_UNKNOWN;
    const char *bare = strncmp(name, "xsd:", 4) == 0 ? name + 4 : name;
    for (int t = PROV_T_STRING; t < PROV_T_COUNT; t++)
        if (strcmp(bare, type_names[t] + 4) == 0)
            return (prov_type_t)t;
    return PROV_T_STRING;
}

static int bool_of(const char *s)
{
    if (strcmp(s, "1") == 0 || strcmp(s, "true") == 0)
        return 1;
    if (strcmp(s, "0") == 0 || strcmp(s, "false") == 0)
        return 0;
    return -1;
}

static bool int_of(const char *s, long double *out)
{
    /* Integers of every TR-106 width fit a long double exactly enough to
     * compare: 64-bit mantissa on x86-64; elsewhere equal text still wins. */
    char *end;
    errno = 0;
    if (*s == '-') {
        long long v = strtoll(s, &end, 10);
        if (errno || *end || end == s)
            return false;
        *out = (long double)v;
    } else {
        if (*s == '+' || !(*s >= '0' && *s <= '9'))
            return false;
        unsigned long long v = strtoull(s, &end, 10);
        if (errno || *end)
            return false;
        *out = (long double)v;
    }
    return true;
}

bool prov_value_equal(prov_type_t t, const char *a, const char *b)
{
    if (!a || !b)
        return a == b;
    if (strcmp(a, b) == 0)
        return true;
    bool try_bool = t == PROV_T_BOOL || t == PROV_T_UNKNOWN;
    bool try_int = t == PROV_T_INT || t == PROV_T_UINT || t == PROV_T_LONG ||
                   t == PROV_T_ULONG || t == PROV_T_UNKNOWN;
    if (try_bool) {
        int x = bool_of(a), y = bool_of(b);
        if (x >= 0 && y >= 0)
            return x == y;
    }
    if (try_int) {
        long double x, y;
        if (int_of(a, &x) && int_of(b, &y))
            return x == y;
    }
    return false;
}

/* ---- storage --------------------------------------------------------------- */

int prov_state_new(const prov_state_opts_t *opts, prov_state_t **out)
{
    prov_state_t *st = calloc(1, sizeof *st);
    if (!st)
        return -ENOMEM;
    hmap_init(&st->map);
    st->opts.max_nodes = opts && opts->max_nodes ? opts->max_nodes : DEFAULT_MAX_NODES;
    st->opts.max_bytes = opts && opts->max_bytes ? opts->max_bytes : DEFAULT_MAX_BYTES;
    st->root.path = (char *)"";
    st->root.object = st->root.exists = true;
    st->root.writable = -1;
    st->root.t_path = 1;
    *out = st;
    return 0;
}

static void node_free_mem(prov_state_t *st, prov_node_t *n)
{
    st->bytes -= sizeof *n + n->plen + 1 + n->capkids * sizeof(prov_node_t *);
    if (n->value)
        st->bytes -= strlen(n->value) + 1;
    if (n->pending)
        st->bytes -= strlen(n->pending) + 1;
    free(n->kids);
    free(n->value);
    free(n->pending);
    free(n->path);
    free(n);
    st->nodes--;
}

static void pending_unlink(prov_state_t *st, prov_node_t *n)
{
    if (!n->pending)
        return;
    if (n->pend_prev)
        n->pend_prev->pend_next = n->pend_next;
    else
        st->pending = n->pend_next;
    if (n->pend_next)
        n->pend_next->pend_prev = n->pend_prev;
    n->pend_next = n->pend_prev = NULL;
    st->bytes -= strlen(n->pending) + 1;
    free(n->pending);
    n->pending = NULL;
}

static void kids_clear(prov_state_t *st, prov_node_t *n);

static void node_destroy(prov_state_t *st, prov_node_t *n)
{
    kids_clear(st, n);
    pending_unlink(st, n);
    hmap_del(&st->map, n->path, n->plen);
    node_free_mem(st, n);
}

static void kids_clear(prov_state_t *st, prov_node_t *n)
{
    for (uint32_t i = 0; i < n->nkids; i++)
        node_destroy(st, n->kids[i]);
    n->nkids = 0;
    n->kids_sorted = true;
}

/* Unlink n from its parent and free it with its subtree. */
static void node_remove(prov_state_t *st, prov_node_t *n)
{
    prov_node_t *p = n->parent;
    for (uint32_t i = 0; i < p->nkids; i++)
        if (p->kids[i] == n) {
            p->kids[i] = p->kids[--p->nkids];
            p->kids_sorted = false;
            break;
        }
    node_destroy(st, n);
}

prov_node_t *prov_node_find(const prov_state_t *st, const char *path, size_t len)
{
    if (len == 0)
        return (prov_node_t *)&st->root;
    return hmap_get(&st->map, path, len);
}

static bool is_instance(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return false;
    return true;
}

static int kid_cmp(const void *a, const void *b)
{
    const prov_node_t *x = *(prov_node_t *const *)a, *y = *(prov_node_t *const *)b;
    const char *s = x->path + x->name_off, *t = y->path + y->name_off;
    const char *s0 = s, *t0 = t;
    bool si = is_instance(s), ti = is_instance(t);
    if (si != ti)
        return si ? -1 : 1;
    if (si) {
        size_t ls = strlen(s), lt = strlen(t);
        while (ls > 1 && *s == '0') /* leading zeros: compare the numbers */
            s++, ls--;
        while (lt > 1 && *t == '0')
            t++, lt--;
        if (ls != lt)
            return ls < lt ? -1 : 1;
        int c = strcmp(s, t);
        return c ? c : strcmp(s0, t0); /* "01" and "1": still a total order */
    }
    return strcmp(s, t);
}

prov_node_t **prov_node_kids(const prov_node_t *cn)
{
    prov_node_t *n = (prov_node_t *)cn;
    if (!n->kids_sorted) {
        if (n->nkids > 1)
            qsort(n->kids, n->nkids, sizeof *n->kids, kid_cmp);
        n->kids_sorted = true;
    }
    return n->kids;
}

static int charge(prov_state_t *st, size_t add)
{
    if (add > st->opts.max_bytes || st->bytes > st->opts.max_bytes - add)
        return -ENOBUFS;
    st->bytes += add;
    return 0;
}

static int set_str(prov_state_t *st, char **slot, const char *s)
{
    size_t old = *slot ? strlen(*slot) + 1 : 0;
    if (!s) {
        free(*slot);
        *slot = NULL;
        st->bytes -= old;
        return 0;
    }
    if (*slot && strcmp(*slot, s) == 0)
        return 0;
    size_t len = strlen(s) + 1;
    if (len > old && charge(st, len - old) != 0)
        return -ENOBUFS;
    char *c = malloc(len);
    if (!c) {
        if (len > old)
            st->bytes -= len - old;
        return -ENOMEM;
    }
    memcpy(c, s, len);
    free(*slot);
    *slot = c;
    if (len < old)
        st->bytes -= old - len;
    return 0;
}

/* Find or create path[0..len) (no trailing '.', a valid name) and its
 * ancestors; ancestors become existing objects. */
static int node_make(prov_state_t *st, const char *path, size_t len, prov_node_t **out)
{
    prov_node_t *n = prov_node_find(st, path, len);
    if (n) {
        *out = n;
        return 0;
    }
    size_t dot = len;
    while (dot > 0 && path[dot - 1] != '.')
        dot--;
    prov_node_t *parent;
    int rc = node_make(st, path, dot ? dot - 1 : 0, &parent);
    if (rc != 0)
        return rc;
    if (st->nodes >= st->opts.max_nodes)
        return -ENOBUFS;
    size_t cost = sizeof *n + len + 1;
    if (parent->nkids == parent->capkids)
        cost += (parent->capkids ? parent->capkids : 4) * sizeof(prov_node_t *);
    if (charge(st, cost) != 0)
        return -ENOBUFS;
    n = calloc(1, sizeof *n);
    char *p = malloc(len + 1);
    if (!n || !p) {
        free(n);
        free(p);
        st->bytes -= cost;
        return -ENOMEM;
    }
    if (parent->nkids == parent->capkids) {
        uint32_t cap = parent->capkids ? parent->capkids * 2 : 4;
        prov_node_t **k = realloc(parent->kids, cap * sizeof *k);
        if (!k) {
            free(n);
            free(p);
            st->bytes -= cost;
            return -ENOMEM;
        }
        parent->kids = k;
        parent->capkids = cap;
    }
    memcpy(p, path, len);
    p[len] = '\0';
    n->path = p;
    n->plen = (uint32_t)len;
    n->name_off = (uint32_t)dot;
    n->parent = parent;
    n->writable = -1;
    n->exists = true;
    n->kids_sorted = true;
    if (hmap_put(&st->map, n->path, len, n) != 0) {
        free(p);
        free(n);
        st->bytes -= cost;
        return -ENOMEM;
    }
    parent->kids[parent->nkids++] = n;
    parent->kids_sorted = parent->nkids <= 1;
    st->nodes++;
    for (prov_node_t *a = parent; a && !a->exists; a = a->parent)
        a->exists = true;
    parent->object = true;
    *out = n;
    return 0;
}

/* A concrete name, with its trailing '.' (object) split off. */
static int name_split(const char *name, size_t *len, bool *object)
{
    size_t n = strnlen(name, PROV_PATH_MAX + 1);
    if (!prov_name_ok(name, n))
        return -EINVAL;
    *object = name[n - 1] == '.';
    *len = *object ? n - 1 : n;
    return 0;
}

static int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }

/* n was seen at time t: so were its ancestors (a parameter cannot exist in
 * an object that does not). */
static void seen(prov_node_t *n, int64_t t)
{
    for (prov_node_t *a = n; a; a = a->parent) {
        if (a->exists && a->t_path >= t)
            break;
        a->exists = true;
        a->t_path = max64(a->t_path, t);
    }
}

int prov_state_load(prov_state_t *st, const store_param_t *p, size_t n, int64_t session_start)
{
    for (size_t i = 0; i < n; i++) {
        size_t len;
        bool object;
        if (!p[i].name || name_split(p[i].name, &len, &object) != 0)
            continue;
        int64_t t = p[i].updated > 0 ? p[i].updated : 1;
        if (t > session_start - 1)
            t = session_start - 1;
        if (t < 1)
            t = 1;
        prov_node_t *nd;
        int rc = node_make(st, p[i].name, len, &nd);
        if (rc != 0)
            return rc;
        seen(nd, t);
        nd->object = nd->object || object;
        if (!nd->object && p[i].value) {
            if ((rc = set_str(st, &nd->value, p[i].value)) != 0)
                return rc;
            nd->type = (uint8_t)prov_type_from_name(p[i].type);
            nd->t_value = t;
        }
        if (p[i].writable >= 0) {
            nd->writable = p[i].writable ? 1 : 0;
            nd->t_writable = t;
        }
    }
    return 0;
}

static void listed_all(prov_node_t *n, int64_t t)
{
    if (!n->object || !n->exists)
        return;
    n->t_children = max64(n->t_children, t);
    for (uint32_t i = 0; i < n->nkids; i++)
        listed_all(n->kids[i], t);
}

void prov_state_assume_listed(prov_state_t *st, const char *object_path, int64_t t)
{
    size_t len = strnlen(object_path, PROV_PATH_MAX + 1);
    if (len && object_path[len - 1] == '.')
        len--;
    prov_node_t *n = prov_node_find(st, object_path, len);
    if (n)
        listed_all(n, t);
}

/* ---- answers --------------------------------------------------------------- */

int prov_state_gpv_item(prov_state_t *st, const char *name, const char *value, const char *type,
                        int64_t now)
{
    size_t len;
    bool object;
    if (!name || name_split(name, &len, &object) != 0 || object)
        return 0; /* not a parameter name: nothing to learn */
    prov_node_t *n;
    int rc = node_make(st, name, len, &n);
    if (rc != 0)
        return rc;
    if (n->object)
        return 0;
    if ((rc = set_str(st, &n->value, value ? value : "")) != 0)
        return rc;
    seen(n, now);
    prov_type_t t = prov_type_from_name(type);
    n->type = (uint8_t)(t == PROV_T_UNKNOWN ? PROV_T_STRING : t);
    n->t_value = max64(n->t_value, now);
    return 0;
}

static void mark_read(prov_node_t *n, int64_t now)
{
    if (!n->exists)
        return;
    if (!n->object) {
        n->t_value = max64(n->t_value, now);
        return;
    }
    for (uint32_t i = 0; i < n->nkids; i++)
        mark_read(n->kids[i], now);
}

void prov_state_gpv_done(prov_state_t *st, const char *const *requested, size_t nreq, int64_t now)
{
    for (size_t i = 0; i < nreq; i++) {
        size_t len;
        bool object;
        if (!requested[i] || name_split(requested[i], &len, &object) != 0)
            continue;
        prov_node_t *n = prov_node_find(st, requested[i], len);
        if (!n) {
            /* asked (a trusted path), no fault, nothing returned: it exists
             * and reads as nothing, rather than being asked for forever */
            if (node_make(st, requested[i], len, &n) != 0)
                continue;
            seen(n, now);
            n->object = n->object || object;
        }
        mark_read(n, now);
    }
}

int prov_state_gpv(prov_state_t *st, const char *const *requested, size_t nreq,
                   const cwmp_param_t *p, size_t n, int64_t now)
{
    for (size_t i = 0; i < n; i++) {
        int rc = prov_state_gpv_item(st, p[i].name, p[i].value, p[i].type, now);
        if (rc != 0)
            return rc;
    }
    prov_state_gpv_done(st, requested, nreq, now);
    return 0;
}

int prov_state_gpn_begin(prov_state_t *st, const char *path, bool next_level, int64_t now)
{
    size_t plen = strnlen(path, PROV_PATH_MAX + 1);
    prov_node_t *root = &st->root;
    bool object = true;
    size_t len = 0;
    if (plen > 0) {
        int rc = name_split(path, &len, &object);
        if (rc != 0)
            return rc;
        if ((rc = node_make(st, path, len, &root)) != 0)
            return rc;
        seen(root, now);
        root->object = root->object || object;
    }
    st->gpn_active = true;
    st->gpn_root = root;
    st->gpn_next_level = next_level;
    st->gpn_now = now;
    st->gen++;
    root->mark = st->gen;
    memcpy(st->gpn_prefix, path, plen);
    st->gpn_prefix_len = plen;
    st->gpn_prefix[plen] = '\0';
    return 0;
}

int prov_state_gpn_item(prov_state_t *st, const char *name, int writable)
{
    if (!st->gpn_active || !name)
        return 0;
    size_t len;
    bool object;
    if (name_split(name, &len, &object) != 0)
        return 0;
    /* Only names inside what was asked: a CPE cannot rewrite other parts of
     * the tree through this listing. */
    bool root_obj = st->gpn_prefix_len == 0 || st->gpn_prefix[st->gpn_prefix_len - 1] == '.';
    if (root_obj ? strncmp(name, st->gpn_prefix, st->gpn_prefix_len) != 0
                 : strcmp(name, st->gpn_prefix) != 0)
        return 0;
    prov_node_t *n;
    int rc = node_make(st, name, len, &n);
    if (rc != 0)
        return rc;
    seen(n, st->gpn_now);
    if (object)
        n->object = true;
    if (writable == 0 || writable == 1) {
        n->writable = (int8_t)writable;
        n->t_writable = max64(n->t_writable, st->gpn_now);
    }
    for (prov_node_t *a = n; a && a->mark != st->gen; a = a->parent) {
        a->mark = st->gen;
        a->t_path = max64(a->t_path, st->gpn_now);
    }
    return 0;
}

/* NextLevel=false: everything under n not listed goes; every object in it
 * has its children list as of now. */
static void sweep_subtree(prov_state_t *st, prov_node_t *n)
{
    for (uint32_t i = 0; i < n->nkids;) {
        prov_node_t *k = n->kids[i];
        if (k->mark != st->gen) {
            node_remove(st, k); /* swaps the last kid into i */
            continue;
        }
        sweep_subtree(st, k);
        i++;
    }
    if (n->object)
        n->t_children = max64(n->t_children, st->gpn_now);
}

void prov_state_gpn_end(prov_state_t *st)
{
    if (!st->gpn_active)
        return;
    st->gpn_active = false;
    prov_node_t *r = st->gpn_root;
    if (!r->object)
        return; /* a parameter's own listing proves nothing about others */
    if (st->gpn_next_level) {
        for (uint32_t i = 0; i < r->nkids;) {
            if (r->kids[i]->mark != st->gen) {
                node_remove(st, r->kids[i]);
                continue;
            }
            i++;
        }
        r->t_children = max64(r->t_children, st->gpn_now);
    } else {
        sweep_subtree(st, r);
    }
}

int prov_state_gpn(prov_state_t *st, const char *path, bool next_level, const cwmp_param_t *p,
                   size_t n, int64_t now)
{
    int rc = prov_state_gpn_begin(st, path, next_level, now);
    if (rc != 0)
        return rc;
    for (size_t i = 0; i < n; i++)
        if ((rc = prov_state_gpn_item(st, p[i].name, p[i].writable)) != 0) {
            st->gpn_active = false; /* partial: prove nothing absent */
            return rc;
        }
    prov_state_gpn_end(st);
    return 0;
}

int prov_state_put(prov_state_t *st, const char *name, const char *value, prov_type_t type,
                   int writable, int64_t now)
{
    size_t len;
    bool object;
    int rc = name_split(name, &len, &object);
    if (rc != 0 || object)
        return rc ? rc : -EINVAL;
    prov_node_t *n;
    if ((rc = node_make(st, name, len, &n)) != 0)
        return rc;
    if (n->object)
        return -EINVAL;
    if ((rc = set_str(st, &n->value, value)) != 0)
        return rc;
    seen(n, now);
    n->type = (uint8_t)type;
    n->t_value = max64(n->t_value, now);
    if (writable >= 0) {
        n->writable = writable ? 1 : 0;
        n->t_writable = max64(n->t_writable, now);
    }
    return 0;
}

int prov_state_spv(prov_state_t *st, const cwmp_param_t *p, size_t n, int64_t now)
{
    for (size_t i = 0; i < n; i++) {
        prov_type_t t = prov_type_from_name(p[i].type);
        int rc = prov_state_put(st, p[i].name, p[i].value ? p[i].value : "",
                                t == PROV_T_UNKNOWN ? PROV_T_STRING : t, -1, now);
        if (rc == -EINVAL)
            continue;
        if (rc != 0)
            return rc;
        size_t len = strlen(p[i].name);
        prov_node_t *nd = prov_node_find(st, p[i].name, len);
        if (nd)
            pending_unlink(st, nd);
    }
    return 0;
}

int prov_state_added(prov_state_t *st, const char *object_path, uint32_t instance,
                     const prov_key_t *keys, size_t nkeys, int64_t now)
{
    size_t len;
    bool object;
    int rc = name_split(object_path, &len, &object);
    if (rc != 0 || !object)
        return rc ? rc : -EINVAL;
    char path[PROV_PATH_MAX + 16];
    int w = snprintf(path, sizeof path, "%.*s.%u", (int)len, object_path, instance);
    if (w < 0 || (size_t)w > PROV_PATH_MAX)
        return -ENAMETOOLONG;
    prov_node_t *inst;
    if ((rc = node_make(st, path, (size_t)w, &inst)) != 0)
        return rc;
    seen(inst, now);
    inst->object = true;
    for (size_t i = 0; i < nkeys; i++) {
        char kp[PROV_PATH_MAX * 2 + 2];
        int kw = snprintf(kp, sizeof kp, "%s.%s", path, keys[i].name);
        if (kw < 0 || (size_t)kw > PROV_PATH_MAX || !prov_name_ok(kp, (size_t)kw))
            return -EINVAL;
        prov_node_t *k;
        if ((rc = node_make(st, kp, (size_t)kw, &k)) != 0)
            return rc;
        if (k->object)
            return -EINVAL;
        bool was = k->pending != NULL;
        if ((rc = set_str(st, &k->pending, keys[i].value)) != 0)
            return rc;
        k->pending_type = (uint8_t)prov_state_type_hint(st, kp);
        if (!was) {
            k->pend_next = st->pending;
            k->pend_prev = NULL;
            if (st->pending)
                st->pending->pend_prev = k;
            st->pending = k;
        }
    }
    return 0;
}

int prov_state_absent(prov_state_t *st, const char *path, int64_t now)
{
    size_t len;
    bool object;
    int rc = name_split(path, &len, &object);
    if (rc != 0)
        return rc;
    prov_node_t *n = prov_node_find(st, path, len);
    if (!n) {
        /* The ancestors this creates are not known to exist (a 9005 for
         * A.B.C says nothing of A.B): placeholders, absent as of never. */
        prov_node_t *known = &st->root;
        for (size_t i = len; i > 0; i--)
            if (path[i - 1] == '.' && (known = prov_node_find(st, path, i - 1)) != NULL)
                break;
        if (!known)
            known = &st->root;
        if ((rc = node_make(st, path, len, &n)) != 0)
            return rc;
        for (prov_node_t *a = n->parent; a && a != known; a = a->parent)
            a->exists = false;
    }
    kids_clear(st, n);
    pending_unlink(st, n);
    set_str(st, &n->value, NULL);
    n->exists = false;
    n->t_value = n->t_writable = n->t_children = 0;
    n->t_path = max64(n->t_path, now);
    return 0;
}

size_t prov_state_nodes(const prov_state_t *st) { return st->nodes; }
size_t prov_state_bytes(const prov_state_t *st) { return st->bytes; }

void prov_state_free(prov_state_t *st)
{
    if (!st)
        return;
    kids_clear(st, &st->root);
    free(st->root.kids);
    hmap_free(&st->map);
    free(st);
}
