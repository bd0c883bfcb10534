/*
 * dm_model: the shared, immutable-after-seal parameter tree (see dm.h).
 *
 * Nodes live in one array and refer to each other by index (the array is
 * reallocated while the model grows); names and values live in a chunked
 * arena, so a sealed model is a handful of allocations shared by the fleet.
 */
#include "cpesim/dm_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/str.h"

/* ---- arena ------------------------------------------------------------------ */

struct dm_arena_chunk {
    dm_arena_chunk_t *next;
    size_t used, size;
    char data[];
};

enum { DM_ARENA_CHUNK = 64 * 1024 };

char *dm_arena_strdup(dm_model_t *m, const char *s, size_t n)
{
    dm_arena_chunk_t *c = m->arena;
    if (!c || c->size - c->used < n + 1) {
        size_t size = n + 1 > DM_ARENA_CHUNK ? n + 1 : DM_ARENA_CHUNK;
        c = malloc(sizeof *c + size);
        if (!c)
            return NULL;
        c->next = m->arena;
        c->used = 0;
        c->size = size;
        m->arena = c;
        m->bytes += sizeof *c + size;
    }
    char *p = c->data + c->used;
    memcpy(p, s, n);
    p[n] = '\0';
    c->used += n + 1;
    return p;
}

/* ---- types and values ---------------------------------------------------- */

static const char *const type_names[DM_TYPE_COUNT] = {
    [DM_OBJECT] = NULL,
    [DM_STRING] = "xsd:string",
    [DM_INT] = "xsd:int",
    [DM_UINT] = "xsd:unsignedInt",
    [DM_LONG] = "xsd:long",
    [DM_ULONG] = "xsd:unsignedLong",
    [DM_BOOL] = "xsd:boolean",
    [DM_DATETIME] = "xsd:dateTime",
    [DM_BASE64] = "xsd:base64Binary", /* the XML Schema name; "xsd:base64" is accepted too */
    [DM_HEXBINARY] = "xsd:hexBinary",
};

const char *dm_type_name(dm_type_t t)
{
    return (unsigned)t < DM_TYPE_COUNT ? type_names[t] : NULL;
}

int dm_type_parse(const char *s, size_t n)
{
    if (n >= 4 && strncasecmp(s, "xsd:", 4) == 0) {
        s += 4;
        n -= 4;
    }
    for (int t = DM_STRING; t < DM_TYPE_COUNT; t++)
        if (str_ieq_n(s, n, type_names[t] + 4))
            return t;
    if (str_ieq_n(s, n, "base64")) /* TR-069's name for it */
        return DM_BASE64;
    return -EINVAL;
}

const char *dm_type_default(dm_type_t t)
{
    switch (t) {
    case DM_INT: case DM_UINT: case DM_LONG: case DM_ULONG: return "0";
    case DM_BOOL: return "false";
    case DM_DATETIME: return "0001-01-01T00:00:00Z";
    default: return "";
    }
}

/* Valid UTF-8 that XML 1.0 can carry; counts code points into *chars. */
static bool text_ok(const char *s, size_t *chars)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n = 0;
    while (*p) {
        unsigned c = *p;
        int more;
        unsigned cp;
        if (c < 0x80) {
            if (c < 0x20 && c != '\t' && c != '\n' && c != '\r')
                return false;
            p++;
            n++;
            continue;
        } else if ((c & 0xe0) == 0xc0) {
            more = 1, cp = c & 0x1f;
        } else if ((c & 0xf0) == 0xe0) {
            more = 2, cp = c & 0x0f;
        } else if ((c & 0xf8) == 0xf0) {
            more = 3, cp = c & 0x07;
        } else {
            return false;
        }
        p++;
        for (int i = 0; i < more; i++, p++) {
            if ((*p & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (*p & 0x3f);
        }
        static const unsigned minv[4] = { 0, 0x80, 0x800, 0x10000 };
        if (cp < minv[more] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) ||
            cp == 0xfffe || cp == 0xffff)
            return false;
        n++;
    }
    *chars = n;
    return true;
}

static int check_range(const char *c, int64_t v, bool is_unsigned, uint64_t uv)
{
    /* c: "min:max", either side may be empty */
    const char *colon = strchr(c, ':');
    if (!colon)
        return 0;
    char lo[32], hi[32];
    if (str_copyn(lo, sizeof lo, c, (size_t)(colon - c)) || str_copy(hi, sizeof hi, colon + 1))
        return 0;
    int64_t b;
    if (lo[0] && str_to_i64(lo, INT64_MIN, INT64_MAX, &b) == 0) {
        if (is_unsigned ? (b > 0 && uv < (uint64_t)b) : v < b)
            return DM_FAULT_BAD_VALUE;
    }
    if (hi[0] && str_to_i64(hi, INT64_MIN, INT64_MAX, &b) == 0) {
        if (is_unsigned ? (b < 0 || uv > (uint64_t)b) : v > b)
            return DM_FAULT_BAD_VALUE;
    }
    return 0;
}

static bool enum_has(const char *list, const char *v)
{
    size_t vl = strlen(v);
    for (const char *p = list;;) {
        const char *bar = strchr(p, '|');
        size_t n = bar ? (size_t)(bar - p) : strlen(p);
        if (n == vl && memcmp(p, v, n) == 0)
            return true;
        if (!bar)
            return false;
        p = bar + 1;
    }
}

int dm_value_check(dm_type_t t, const char *c, const char *v)
{
    int64_t iv = 0;
    uint64_t uv = 0;
    size_t len = strlen(v);
    if (len > DM_VALUE_MAX)
        return DM_FAULT_BAD_VALUE;
    switch (t) {
    case DM_STRING: {
        size_t chars;
        if (!text_ok(v, &chars))
            return DM_FAULT_BAD_VALUE;
        if (c && str_starts_with(c, "len:")) {
            int64_t max;
            if (str_to_i64(c + 4, 0, INT64_MAX, &max) == 0 && chars > (uint64_t)max)
                return DM_FAULT_BAD_VALUE;
        } else if (c && str_starts_with(c, "enum:")) {
            if (!enum_has(c + 5, v))
                return DM_FAULT_BAD_VALUE;
        }
        return 0;
    }
    case DM_INT:
        if (str_to_i64(v, INT32_MIN, INT32_MAX, &iv))
            return DM_FAULT_BAD_VALUE;
        return c ? check_range(c, iv, false, 0) : 0;
    case DM_LONG:
        if (str_to_i64(v, INT64_MIN, INT64_MAX, &iv))
            return DM_FAULT_BAD_VALUE;
        return c ? check_range(c, iv, false, 0) : 0;
    case DM_UINT:
    case DM_ULONG: {
        const char *d = *v == '+' ? v + 1 : v;
        if (str_to_u64n(d, strlen(d), t == DM_UINT ? UINT32_MAX : UINT64_MAX, &uv))
            return DM_FAULT_BAD_VALUE;
        return c ? check_range(c, 0, true, uv) : 0;
    }
    case DM_BOOL:
        return strcmp(v, "true") == 0 || strcmp(v, "false") == 0 || strcmp(v, "1") == 0 ||
                       strcmp(v, "0") == 0
                   ? 0
                   : DM_FAULT_BAD_VALUE;
    case DM_DATETIME: {
        int64_t e;
        return clock_parse_iso8601(v, &e) == 0 ? 0 : DM_FAULT_BAD_VALUE;
    }
    case DM_BASE64: {
        if (len % 4)
            return DM_FAULT_BAD_VALUE;
        for (size_t i = 0; i < len; i++) {
            char ch = v[i];
            bool ok = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
                      (ch >= '0' && ch <= '9') || ch == '+' || ch == '/';
            if (ch == '=' && i >= len - 2 && (i == len - 1 || v[len - 1] == '='))
                ok = true;
            if (!ok)
                return DM_FAULT_BAD_VALUE;
        }
        return 0;
    }
    case DM_HEXBINARY:
        if (len % 2)
            return DM_FAULT_BAD_VALUE;
        for (size_t i = 0; i < len; i++) {
            char ch = v[i];
            if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F')))
                return DM_FAULT_BAD_VALUE;
        }
        return 0;
    default:
        return DM_FAULT_BAD_VALUE;
    }
}

int dm_path_check(const char *path, size_t len, bool allow_template)
{
    if (len == 0 || len > DM_NAME_MAX)
        return -EINVAL;
    int segs = 0;
    size_t seglen = 0;
    for (size_t i = 0; i < len; i++) {
        char ch = path[i];
        if (ch == '.') {
            if (seglen == 0)
                return -EINVAL;
            segs++;
            seglen = 0;
            continue;
        }
        if (ch == '{' && allow_template && i + 2 < len && path[i + 1] == 'i' && path[i + 2] == '}' &&
            seglen == 0 && (i + 3 == len || path[i + 3] == '.')) {
            i += 2;
            seglen = 3;
            continue;
        }
        if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
              ch == '_' || ch == '-'))
            return -EINVAL;
        seglen++;
    }
    if (seglen)
        segs++;
    return segs > DM_SEG_MAX ? -EINVAL : segs;
}

/* ---- hash ------------------------------------------------------------------- */

static uint32_t hash_str(const char *s, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 16777619u;
    return h;
}

uint32_t dm_model_find(const dm_model_t *m, const char *name, size_t len)
{
    if (!m->hash_cap)
        return DM_NONE;
    uint32_t mask = m->hash_cap - 1;
    for (uint32_t i = hash_str(name, len) & mask;; i = (i + 1) & mask) {
        uint32_t idx = m->hash[i];
        if (idx == DM_NONE)
            return DM_NONE;
        const char *nm = m->nodes[idx].name;
        if (strncmp(nm, name, len) == 0 && nm[len] == '\0')
            return idx;
    }
}

static int hash_insert(dm_model_t *m, uint32_t idx)
{
    if ((m->n + 1) * 2 > m->hash_cap) {
        uint32_t ncap = m->hash_cap ? m->hash_cap * 2 : 1024;
        uint32_t *nh = malloc(sizeof *nh * ncap);
        if (!nh)
            return -ENOMEM;
        memset(nh, 0xff, sizeof *nh * ncap);
        free(m->hash);
        m->hash = nh;
        m->hash_cap = ncap;
        for (uint32_t j = 0; j < m->n; j++) {
            if (j == idx)
                continue;
            const char *nm = m->nodes[j].name;
            uint32_t i = hash_str(nm, strlen(nm)) & (ncap - 1);
            while (nh[i] != DM_NONE)
                i = (i + 1) & (ncap - 1);
            nh[i] = j;
        }
    }
    const char *nm = m->nodes[idx].name;
    uint32_t mask = m->hash_cap - 1;
    uint32_t i = hash_str(nm, strlen(nm)) & mask;
    while (m->hash[i] != DM_NONE)
        i = (i + 1) & mask;
    m->hash[i] = idx;
    return 0;
}

/* ---- building ----------------------------------------------------------------- */

dm_model_t *dm_model_new(void)
{
    dm_model_t *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->root = DM_NONE;
    for (int i = 0; i < DM_WK_COUNT; i++)
        m->wk[i] = DM_NONE;
    return m;
}

void dm_model_free(dm_model_t *m)
{
    if (!m)
        return;
    for (dm_arena_chunk_t *c = m->arena, *next; c; c = next) {
        next = c->next;
        free(c);
    }
    free(m->nodes);
    free(m->hash);
    free(m->forced);
    free(m->volatiles);
    free(m);
}

static bool seg_is_number(const char *s, size_t n)
{
    if (n == 0 || n > 9 || (s[0] == '0'))
        return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

/* Create the node `name[0..len)` (an object when it ends in '.') below
 * `parent`; returns its index or DM_NONE. */
uint32_t dm_node_create(dm_model_t *m, const char *name, size_t len, uint32_t parent)
{
    if (m->n == m->cap) {
        uint32_t ncap = m->cap ? m->cap * 2 : 256;
        dm_node_t *nn = realloc(m->nodes, sizeof *nn * ncap);
        if (!nn)
            return DM_NONE;
        m->nodes = nn;
        m->bytes += sizeof *nn * (ncap - m->cap);
        m->cap = ncap;
    }
    const char *nm = dm_arena_strdup(m, name, len);
    if (!nm)
        return DM_NONE;
    uint32_t idx = m->n;
    dm_node_t *n = &m->nodes[idx];
    memset(n, 0, sizeof *n);
    n->name = nm;
    n->parent = parent;
    n->first_child = n->last_child = n->next_sibling = n->link = DM_NONE;
    bool obj = name[len - 1] == '.';
    size_t end = obj ? len - 1 : len;
    size_t seg = end;
    while (seg > 0 && name[seg - 1] != '.')
        seg--;
    n->seg = (uint16_t)seg;
    n->type = obj ? DM_OBJECT : DM_STRING;
    if (parent != DM_NONE && (m->nodes[parent].flags & DM_N_TEMPLATE))
        n->flags |= DM_N_TEMPLATE;
    const char *sg = name + seg;
    size_t sl = end - seg;
    if (obj && sl == 3 && memcmp(sg, "{i}", 3) == 0) {
        n->flags |= DM_N_TEMPLATE | DM_N_INSTANCE;
        m->nodes[parent].flags |= DM_TABLE;
        m->nodes[parent].link = idx;
    } else if (obj && parent != DM_NONE && seg_is_number(sg, sl)) {
        n->flags |= DM_N_INSTANCE;
        dm_node_t *p = &m->nodes[parent];
        p->flags |= DM_TABLE;
        uint32_t num = (uint32_t)strtoul(sg, NULL, 10);
        if (num > p->inst_max)
            p->inst_max = num;
    }
    m->n++;
    if (hash_insert(m, idx) != 0) {
        m->n--;
        return DM_NONE;
    }
    if (parent != DM_NONE && !(n->flags & DM_N_TEMPLATE && n->flags & DM_N_INSTANCE)) {
        dm_node_t *p = &m->nodes[parent];
        if (p->last_child == DM_NONE)
            p->first_child = idx;
        else
            m->nodes[p->last_child].next_sibling = idx;
        p->last_child = idx;
    }
    return idx;
}

/* Find or create the object `name[0..len)` (ends in '.') and its ancestors. */
static uint32_t ensure_object(dm_model_t *m, const char *name, size_t len)
{
    uint32_t idx = dm_model_find(m, name, len);
    if (idx != DM_NONE)
        return m->nodes[idx].type == DM_OBJECT ? idx : DM_NONE;
    /* a parameter of the same name (without the dot) makes it a conflict */
    if (dm_model_find(m, name, len - 1) != DM_NONE)
        return DM_NONE;
    size_t p = len - 1;
    while (p > 0 && name[p - 1] != '.')
        p--;
    uint32_t parent = DM_NONE;
    if (p == 0) {
        if (m->root != DM_NONE)
            return DM_NONE; /* a second root */
    } else {
        parent = ensure_object(m, name, p);
        if (parent == DM_NONE)
            return DM_NONE;
    }
    idx = dm_node_create(m, name, len, parent);
    if (idx != DM_NONE && parent == DM_NONE)
        m->root = idx;
    return idx;
}

int dm_node_set_value(dm_model_t *m, uint32_t idx, const char *value)
{
    dm_node_t *n = &m->nodes[idx];
    if (n->type == DM_OBJECT)
        return value && *value ? -EINVAL : 0;
    if (!value)
        value = dm_type_default(n->type);
    if (dm_value_check(n->type, NULL, value) != 0)
        return -EINVAL;
    const char *v = dm_arena_strdup(m, value, strlen(value));
    if (!v)
        return -ENOMEM;
    m->nodes[idx].value = v;
    return 0;
}

int dm_model_add(dm_model_t *m, const char *path, dm_type_t type, unsigned flags, const char *value)
{
    if (m->sealed || (unsigned)type >= DM_TYPE_COUNT)
        return -EINVAL;
    size_t len = strlen(path);
    char tmp[DM_NAME_MAX + 2];
    if (type == DM_OBJECT && len > 0 && path[len - 1] != '.') {
        if (len + 1 >= sizeof tmp)
            return -EINVAL;
        memcpy(tmp, path, len);
        tmp[len++] = '.';
        tmp[len] = '\0';
        path = tmp;
    }
    bool obj = len > 0 && path[len - 1] == '.';
    if (obj != (type == DM_OBJECT) || dm_path_check(path, len, true) < 0)
        return -EINVAL;
    uint32_t idx;
    if (obj) {
        idx = ensure_object(m, path, len);
        if (idx == DM_NONE)
            return -EEXIST;
    } else {
        idx = dm_model_find(m, path, len);
        if (idx != DM_NONE) {
            if (m->nodes[idx].type == DM_OBJECT)
                return -EEXIST;
        } else {
            size_t p = len;
            while (p > 0 && path[p - 1] != '.')
                p--;
            if (p == 0)
                return -EINVAL; /* a parameter cannot be the root */
            char objname[DM_NAME_MAX + 2];
            memcpy(objname, path, len);
            objname[len] = '.';
            if (dm_model_find(m, objname, len + 1) != DM_NONE)
                return -EEXIST; /* an object of that name exists */
            uint32_t parent = ensure_object(m, path, p);
            if (parent == DM_NONE)
                return -EEXIST;
            idx = dm_node_create(m, path, len, parent);
            if (idx == DM_NONE)
                return -ENOMEM;
        }
        m->nodes[idx].type = (uint8_t)type;
    }
    dm_node_t *n = &m->nodes[idx];
    /* DM_TABLE is also learnt from instances: adding never clears it */
    n->flags = (uint16_t)((n->flags & ~0xffu) | (flags & 0xffu) | (n->flags & DM_TABLE));
    if (!obj) {
        int rc = dm_node_set_value(m, idx, value);
        if (rc)
            return rc;
    }
    return 0;
}

static uint32_t find_path(const dm_model_t *m, const char *path)
{
    return dm_model_find(m, path, strlen(path));
}

int dm_model_set_dyn(dm_model_t *m, const char *path, dm_dyn_t kind, unsigned arg)
{
    uint32_t i = find_path(m, path);
    if (i == DM_NONE || m->nodes[i].type == DM_OBJECT || m->sealed)
        return -ENOENT;
    m->nodes[i].dyn = (uint8_t)kind;
    m->nodes[i].dyn_arg = (uint8_t)arg;
    return 0;
}

int dm_model_set_default(dm_model_t *m, const char *path, const char *value)
{
    uint32_t i = find_path(m, path);
    if (i == DM_NONE || m->sealed)
        return -ENOENT;
    return dm_node_set_value(m, i, value);
}

int dm_model_set_flags(dm_model_t *m, const char *path, unsigned set, unsigned clear)
{
    uint32_t i = find_path(m, path);
    if (i == DM_NONE || m->sealed)
        return -ENOENT;
    m->nodes[i].flags = (uint16_t)((m->nodes[i].flags & ~(clear & 0xffu)) | (set & 0xffu));
    return 0;
}

int dm_model_set_notify(dm_model_t *m, const char *path, uint8_t notify, bool subscriber)
{
    uint32_t i = find_path(m, path);
    if (i == DM_NONE || m->sealed || notify > 2)
        return -ENOENT;
    m->nodes[i].notify = notify;
    m->nodes[i].subscriber = subscriber;
    return 0;
}

int dm_model_set_constraint(dm_model_t *m, const char *path, const char *c)
{
    uint32_t i = find_path(m, path);
    if (i == DM_NONE || m->sealed)
        return -ENOENT;
    const char *s = dm_arena_strdup(m, c, strlen(c));
    if (!s)
        return -ENOMEM;
    m->nodes[i].constraint = s;
    if (m->nodes[i].value && dm_value_check(m->nodes[i].type, s, m->nodes[i].value) != 0)
        return -EINVAL;
    return 0;
}
