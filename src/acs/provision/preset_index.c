/*
 * preset_index: conditions, and a set of presets indexed for one Inform.
 *
 * Buckets are keyed by (event, key field, value): a preset with events E1,
 * E2 and the condition product_class = IGD sits in (E1, product_class,
 * IGD) and (E2, product_class, IGD); "*" is an event of its own. A preset
 * without an equality condition on a key field sits in the scan bucket of
 * each of its events. Matching a device looks up, for each event of the
 * session and "*", its scan bucket and one bucket per key field (one per
 * tag): a fixed number of lookups, then the presets found are sorted and
 * their conditions evaluated. 5,000 presets for 5,000 product classes cost
 * an Inform what 5 do.
 *
 * A partial match (preset_device_t.partial: the Inform alone, tags and
 * stored parameters not read yet) also looks, for each key field whose
 * value is unknown, in the field's "any value" bucket, so it returns every
 * preset that may match; the caller checks those again with everything.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acs/provision/preset.h"
#include "core/hmap.h"

/* ---- conditions ---------------------------------------------------------------- */

static const char *dev_field(const preset_device_t *d, preset_field_t f)
{
    switch (f) {
    case PF_DEVICE_ID: return d->id;
    case PF_SERIAL: return d->serial;
    case PF_PRODUCT_CLASS: return d->product_class;
    case PF_MODEL: return d->model;
    case PF_OUI: return d->oui;
    case PF_SOFTWARE_VERSION: return d->software_version;
    case PF_HARDWARE_VERSION: return d->hardware_version;
    case PF_MANUFACTURER: return d->manufacturer;
    default: return NULL;
    }
}

bool preset_glob(const char *pat, const char *s)
{
    const char *star = NULL, *resume = NULL;
    while (*s) {
        if (*pat == '*') {
            star = pat++;
            resume = s;
        } else if (*pat == '?' || *pat == *s) {
            pat++;
            s++;
        } else if (star) {
            pat = star + 1;
            s = ++resume;
        } else {
            return false;
        }
    }
    while (*pat == '*')
        pat++;
    return *pat == '\0';
}

/* A decimal number (what a comparison takes as one): [-]digits[.digits][e[-]digits]. */
static bool number(const char *s, double *out)
{
    const char *p = s;
    if (*p == '-' || *p == '+')
        p++;
    if (!(*p >= '0' && *p <= '9') && !(*p == '.' && p[1] >= '0' && p[1] <= '9'))
        return false;
    for (; *p; p++)
        if (!strchr("0123456789.eE+-", *p))
            return false;
    char *end;
    double v = strtod(s, &end);
    if (*end || v != v || v > 1e308 || v < -1e308)
        return false;
    *out = v;
    return true;
}

static bool compare(const char *v, preset_op_t op, const char *want)
{
    double a, b;
    int c;
    switch (op) {
    case PO_EQ: return strcmp(v, want) == 0;
    case PO_NE: return strcmp(v, want) != 0;
    case PO_PREFIX: return strncmp(v, want, strlen(want)) == 0;
    case PO_GLOB: return preset_glob(want, v);
    default: break;
    }
    if (number(v, &a) && number(want, &b))
        c = a < b ? -1 : a > b ? 1 : 0;
    else
        c = strcmp(v, want);
    switch (op) {
    case PO_LT: return c < 0;
    case PO_LE: return c <= 0;
    case PO_GT: return c > 0;
    default: return c >= 0;
    }
}

/* Calls fn for each tag of a comma-separated list until it returns true. */
static bool any_tag(const char *tags, const preset_cond_t *c)
{
    char tag[STORE_TAGS];
    for (const char *s = tags ? tags : ""; *s;) {
        size_t n = strcspn(s, ",");
        if (n && n < sizeof tag) {
            memcpy(tag, s, n);
            tag[n] = '\0';
            if (compare(tag, c->op == PO_NE ? PO_EQ : c->op, c->value))
                return true;
        }
        s += n + (s[n] == ',');
    }
    return false;
}

static bool cond_holds(const preset_cond_t *c, const preset_device_t *d)
{
    if (c->field == PF_TAG) /* != : the device lacks the tag */
        return d->partial && !d->tags ? true : any_tag(d->tags, c) != (c->op == PO_NE);
    const char *v = c->field == PF_PARAM ? (d->param ? d->param(d->ud, c->param) : NULL)
                                         : dev_field(d, c->field);
    if (!v)
        return d->partial; /* unknown: it may hold */
    return compare(v, c->op, c->value);
}

bool preset_matches(const preset_t *p, const preset_device_t *d)
{
    for (size_t i = 0; i < p->nconds; i++)
        if (!cond_holds(&p->conds[i], d))
            return false;
    return true;
}

/* ---- the set ------------------------------------------------------------------------ */

typedef struct bucket {
    uint32_t *idx;
    size_t n, cap;
} bucket_t;

struct preset_set {
    preset_t **v;    /* weight, then name */
    size_t n;
    hmap_t byname;   /* name -> preset_t * */
    hmap_t buckets;  /* key -> bucket_t * */
};

enum { KEY_MAX = 64 + 2 + PRESET_TEXT_MAX + STORE_ID_MAX };

/* event NUL field-letter value: the scan bucket has no field letter */
static size_t bucket_key(char *out, const char *event, int field, const char *value)
{
    size_t e = strnlen(event, 64), n = 0;
    memcpy(out, event, e);
    n = e;
    out[n++] = '\0';
    if (field < 0)
        return n;
    out[n++] = (char)('a' + field);
    size_t v = strlen(value);
    if (v > KEY_MAX - n - 1)
        v = KEY_MAX - n - 1;
    memcpy(out + n, value, v);
    return n + v;
}

static int bucket_add(preset_set_t *s, const char *key, size_t klen, uint32_t i)
{
    bucket_t *b = hmap_get(&s->buckets, key, klen);
    if (!b) {
        if (!(b = calloc(1, sizeof *b)))
            return -ENOMEM;
        if (hmap_put_copy(&s->buckets, key, klen, b) != 0) {
            free(b);
            return -ENOMEM;
        }
    }
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 4;
        uint32_t *v = realloc(b->idx, cap * sizeof *v);
        if (!v)
            return -ENOMEM;
        b->idx = v;
        b->cap = cap;
    }
    b->idx[b->n++] = i;
    return 0;
}

static int by_weight(const void *a, const void *b)
{
    const preset_t *x = *(preset_t *const *)a, *y = *(preset_t *const *)b;
    if (x->weight != y->weight)
        return x->weight < y->weight ? -1 : 1;
    return strcmp(x->name, y->name);
}

/* The condition a preset is filed under: an equality on the most selective
 * key field (the enum's order), or none. */
static const preset_cond_t *key_cond(const preset_t *p)
{
    const preset_cond_t *best = NULL;
    for (size_t i = 0; i < p->nconds; i++) {
        const preset_cond_t *c = &p->conds[i];
        if (c->op == PO_EQ && c->field < PF_PARAM && (!best || c->field < best->field))
            best = c;
    }
    return best;
}

/* A preset filed under a key field is also in that field's "any value"
 * bucket of its event (field letter past PF_COUNT): what a partial match
 * looks in when the device's value of the field is unknown. */
#define ANY_FIELD(f) ((int)PF_COUNT + (int)(f))

static int index_one(preset_set_t *s, uint32_t i)
{
    const preset_t *p = s->v[i];
    const preset_cond_t *c = key_cond(p);
    char key[KEY_MAX];
    size_t ne = p->any_event ? 1 : p->nevents;
    for (size_t e = 0; e < ne; e++) {
        const char *ev = p->any_event ? "*" : p->events[e];
        size_t k = bucket_key(key, ev, c ? (int)c->field : -1, c ? c->value : NULL);
        int rc = bucket_add(s, key, k, i);
        if (!rc && c) {
            k = bucket_key(key, ev, ANY_FIELD(c->field), "");
            rc = bucket_add(s, key, k, i);
        }
        if (rc)
            return rc;
    }
    return 0;
}

void preset_set_free(preset_set_t *s)
{
    if (!s)
        return;
    bucket_t *b;
    for (size_t pos = 0; (b = hmap_next(&s->buckets, &pos, NULL));) {
        free(b->idx);
        free(b);
    }
    hmap_free(&s->buckets);
    hmap_free(&s->byname);
    for (size_t i = 0; i < s->n; i++)
        preset_free(s->v[i]);
    free(s->v);
    free(s);
}

int preset_set_new(preset_t **presets, size_t n, preset_set_t **out, char *dup, size_t duplen)
{
    preset_set_t *s = calloc(1, sizeof *s);
    preset_t **v = calloc(n ? n : 1, sizeof *v);
    if (!s || !v || n > UINT32_MAX) {
        for (size_t i = 0; i < n; i++)
            preset_free(presets[i]);
        free(s);
        free(v);
        return -ENOMEM;
    }
    if (n) /* presets may be NULL for an empty set */
        memcpy(v, presets, n * sizeof *v);
    s->v = v;
    s->n = n;
    hmap_init(&s->byname);
    hmap_init(&s->buckets);
    qsort(s->v, n, sizeof *s->v, by_weight);
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        rc = hmap_put(&s->byname, s->v[i]->name, strlen(s->v[i]->name), s->v[i]);
        if (rc == -EEXIST && dup)
            snprintf(dup, duplen, "%s", s->v[i]->name);
        if (!rc)
            rc = index_one(s, (uint32_t)i);
    }
    if (rc) {
        preset_set_free(s);
        return rc;
    }
    *out = s;
    return 0;
}

size_t preset_set_size(const preset_set_t *s)
{
    return s->n;
}

const preset_t *preset_set_get(const preset_set_t *s, const char *name)
{
    return hmap_gets(&s->byname, name);
}

const preset_t *preset_set_at(const preset_set_t *s, size_t i)
{
    return i < s->n ? s->v[i] : NULL;
}

typedef struct cand {
    uint32_t *v;
    size_t n, cap;
} cand_t;

static int cand_add(cand_t *c, const bucket_t *b)
{
    if (!b)
        return 0;
    if (c->n + b->n > c->cap) {
        size_t cap = c->cap ? c->cap : 16;
        while (cap < c->n + b->n)
            cap *= 2;
        uint32_t *v = realloc(c->v, cap * sizeof *v);
        if (!v)
            return -ENOMEM;
        c->v = v;
        c->cap = cap;
    }
    memcpy(c->v + c->n, b->idx, b->n * sizeof *b->idx);
    c->n += b->n;
    return 0;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* The buckets one event leads to for this device. */
static int gather(const preset_set_t *s, const preset_device_t *d, const char *ev, cand_t *c)
{
    char key[KEY_MAX], tag[STORE_TAGS];
    size_t k = bucket_key(key, ev, -1, NULL);
    int rc = cand_add(c, hmap_get(&s->buckets, key, k));
    for (int f = PF_DEVICE_ID; !rc && f < PF_TAG; f++) {
        const char *v = dev_field(d, (preset_field_t)f);
        if (v)
            k = bucket_key(key, ev, f, v);
        else if (d->partial) /* unknown: any value may be it */
            k = bucket_key(key, ev, ANY_FIELD(f), "");
        else
            continue;
        rc = cand_add(c, hmap_get(&s->buckets, key, k));
    }
    if (!rc && d->partial && !d->tags) {
        k = bucket_key(key, ev, ANY_FIELD(PF_TAG), "");
        rc = cand_add(c, hmap_get(&s->buckets, key, k));
    }
    for (const char *t = d->tags ? d->tags : ""; !rc && *t;) {
        size_t n = strcspn(t, ",");
        if (n && n < sizeof tag) {
            memcpy(tag, t, n);
            tag[n] = '\0';
            k = bucket_key(key, ev, PF_TAG, tag);
            rc = cand_add(c, hmap_get(&s->buckets, key, k));
        }
        t += n + (t[n] == ',');
    }
    return rc;
}

int preset_set_match(const preset_set_t *s, const preset_device_t *d, const char *const *events,
                     size_t nevents, const preset_t ***out, size_t *n, size_t *examined)
{
    cand_t c = { 0 };
    int rc = gather(s, d, "*", &c);
    for (size_t i = 0; !rc && i < nevents; i++)
        if (strcmp(events[i], "*") != 0)
            rc = gather(s, d, events[i], &c);
    if (rc) {
        free(c.v);
        return rc;
    }
    /* index order is weight-then-name order */
    if (c.n > 1)
        qsort(c.v, c.n, sizeof *c.v, cmp_u32);
    size_t u = 0;
    for (size_t i = 0; i < c.n; i++)
        if (u == 0 || c.v[u - 1] != c.v[i])
            c.v[u++] = c.v[i];
    const preset_t **res = malloc((u ? u : 1) * sizeof *res);
    if (!res) {
        free(c.v);
        return -ENOMEM;
    }
    size_t m = 0;
    for (size_t i = 0; i < u; i++)
        if (preset_matches(s->v[c.v[i]], d))
            res[m++] = s->v[c.v[i]];
    free(c.v);
    if (examined)
        *examined = u;
    *out = res;
    *n = m;
    return 0;
}
