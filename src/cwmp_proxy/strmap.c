/*
 * strmap: separate chaining, power-of-two bucket array, grows at load 1.
 */
#include "cwmp_proxy/strmap.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/str.h"
#include "cwmp_proxy/siphash.h"

typedef struct entry {
    struct entry *next;
    uint64_t hash;
    void *val;
    char key[];
} entry_t;

struct strmap {
    entry_t **b;
    size_t nb;    /* power of two */
    size_t n;
    uint64_t k0, k1;
};

static uint64_t siphash(const strmap_t *m, const unsigned char *in, size_t len)
{
    return siphash24(m->k0, m->k1, in, len);
}

strmap_t *strmap_new(void)
{
    strmap_t *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->nb = 16;
    m->b = calloc(m->nb, sizeof *m->b);
    uint64_t k[2] = { 0x0123456789abcdefULL, 0xfedcba9876543210ULL };
    (void)str_random(k, sizeof k); /* on failure the fixed key still works */
    m->k0 = k[0];
    m->k1 = k[1];
    if (!m->b) {
        free(m);
        return NULL;
    }
    return m;
}

void strmap_free(strmap_t *m, void (*free_val)(void *val))
{
    if (!m)
        return;
    for (size_t i = 0; i < m->nb; i++) {
        entry_t *e = m->b[i];
        while (e) {
            entry_t *next = e->next;
            if (free_val)
                free_val(e->val);
            free(e);
            e = next;
        }
    }
    free(m->b);
    free(m);
}

static entry_t **slot(const strmap_t *m, const char *key, uint64_t h)
{
    entry_t **pp = &m->b[h & (m->nb - 1)];
    while (*pp && ((*pp)->hash != h || strcmp((*pp)->key, key) != 0))
        pp = &(*pp)->next;
    return pp;
}

void *strmap_get(const strmap_t *m, const char *key)
{
    uint64_t h = siphash(m, (const unsigned char *)key, strlen(key));
    entry_t *e = *slot(m, key, h);
    return e ? e->val : NULL;
}

static void grow(strmap_t *m)
{
    size_t nb = m->nb * 2;
    entry_t **b = calloc(nb, sizeof *b);
    if (!b)
        return; /* keep the longer chains; still correct */
    for (size_t i = 0; i < m->nb; i++) {
        entry_t *e = m->b[i];
        while (e) {
            entry_t *next = e->next;
            entry_t **head = &b[e->hash & (nb - 1)];
            e->next = *head;
            *head = e;
            e = next;
        }
    }
    free(m->b);
    m->b = b;
    m->nb = nb;
}

int strmap_put(strmap_t *m, const char *key, void *val, void **old)
{
    size_t len = strlen(key);
    uint64_t h = siphash(m, (const unsigned char *)key, len);
    entry_t **pp = slot(m, key, h);
    if (*pp) {
        if (old)
            *old = (*pp)->val;
        (*pp)->val = val;
        return 0;
    }
    if (old)
        *old = NULL;
    entry_t *e = malloc(sizeof *e + len + 1);
    if (!e)
        return -ENOMEM;
    memcpy(e->key, key, len + 1);
    e->hash = h;
    e->val = val;
    e->next = NULL;
    *pp = e;
    if (++m->n > m->nb)
        grow(m);
    return 0;
}

void *strmap_del(strmap_t *m, const char *key)
{
    uint64_t h = siphash(m, (const unsigned char *)key, strlen(key));
    entry_t **pp = slot(m, key, h);
    entry_t *e = *pp;
    if (!e)
        return NULL;
    *pp = e->next;
    void *v = e->val;
    free(e);
    m->n--;
    return v;
}

size_t strmap_size(const strmap_t *m) { return m->n; }

int strmap_each(const strmap_t *m, int (*fn)(const char *key, void *val, void *ud), void *ud)
{
    for (size_t i = 0; i < m->nb; i++)
        for (entry_t *e = m->b[i]; e; e = e->next) {
            int rc = fn(e->key, e->val, ud);
            if (rc)
                return rc;
        }
    return 0;
}
