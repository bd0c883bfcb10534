/* Fuzz the device search language (store/store_filter.h): whatever the
 * parser accepts is a well-formed tree that compiles to SQL SQLite runs,
 * as a search and as a bulk's INSERT ... SELECT (an in-memory store with
 * three devices; the bulk is rolled back); a refusal names a position
 * inside the input. Never a crash or a leak. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
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

static store_t *open_store(void)
{
    store_t *st;
    if (store_open("sqlite::memory:", NULL, &st) != 0)
        abort();
    static const char *const models[] = { "M1", "M%", "X" };
    for (int i = 0; i < 3; i++) {
        store_device_t d = { .first_seen = 1, .last_inform = 1700000000 - i * 5000 };
        snprintf(d.serial, sizeof d.serial, "SN%d", i);
        snprintf(d.product_class, sizeof d.product_class, "%s", models[i]);
        snprintf(d.oui, sizeof d.oui, "00D09E");
        snprintf(d.tags, sizeof d.tags, i ? "lab,x" : "");
        if (store_device_id(d.oui, d.product_class, d.serial, d.id, sizeof d.id) != 0 ||
            store_device_inform(st, &d, false) != 0)
            abort();
        store_param_t p[] = { { .name = "A.B", .value = i ? "12" : "abc", .writable = -1 },
                              { .name = "X", .value = "x", .writable = -1 } };
        if (store_params_put(st, d.id, p, 2, 1) != 0)
            abort();
    }
    return st;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static store_t *st;
    if (!st)
        st = open_store();
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
        if (store_device_search(st, &q, row, NULL, &total) != 0 || total < 0 || total > 3)
            abort(); /* accepted by the parser, refused by the database */
    }
    store_search_t q = { .filter = &f, .now = 1700000000, .default_interval = 300 };
    store_bulk_t b = { .type = "reboot", .params = "{}", .filter = "" };
    if (store_begin(st) != 0)
        abort();
    int brc = store_bulk_create(st, &b, &q, NULL, 1700000000);
    if (store_rollback(st) != 0 || (brc != 0 && brc != -ENODATA) || b.total > 3)
        abort();
    return 0;
}
