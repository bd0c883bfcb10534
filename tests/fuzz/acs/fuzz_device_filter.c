/* Fuzz the device search language (store/store_filter.h): whatever the
 * parser accepts is a well-formed tree that compiles to SQL SQLite runs
 * (an in-memory store, empty: the query's shape is what is checked); a
 * refusal names a position inside the input. Never a crash or a leak. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store/store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int walk(const store_filter_t *f, int i, int depth)
{
    if (i < 0 || i >= f->count || depth > STORE_FILTER_NODES)
        abort();
    const store_filter_node_t *n = &f->n[i];
    if (n->kind == SF_AND || n->kind == SF_OR)
        return walk(f, n->a, depth + 1) + walk(f, n->b, depth + 1) + 1;
    if (n->kind == SF_NOT)
        return walk(f, n->a, depth + 1) + 1;
    if (!n->value || (n->field == SF_F_PARAM && (!n->name || !n->name[0])))
        abort();
    return 1;
}

static int row(const store_device_t *d, int64_t rid, void *ud)
{
    (void)d, (void)rid, (void)ud;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static store_t *st;
    if (!st && store_open("sqlite::memory:", NULL, &st) != 0)
        abort();
    static store_filter_t f;
    store_filter_error_t e;
    int rc = store_filter_parse(&f, (const char *)data, size, &e);
    if (rc == -EINVAL) {
        if (e.pos > size || !e.msg[0])
            abort();
        return 0;
    }
    if (rc != 0) {
        if (rc != -E2BIG)
            abort();
        return 0;
    }
    if (f.root >= 0 && walk(&f, f.root, 0) > f.count)
        abort();
    for (store_sort_t s = 0; s < STORE_SORT_COUNT; s += 3) {
        store_search_t q = { .filter = &f, .now = 1700000000, .default_interval = 300,
                             .sort = s, .desc = s & 1, .has_key = s & 2, .key_text = "k",
                             .limit = 5 };
        int64_t total = -1;
        if (store_device_search(st, &q, row, NULL, &total) != 0 || total != 0)
            abort(); /* accepted by the parser, refused by the database */
    }
    return 0;
}
