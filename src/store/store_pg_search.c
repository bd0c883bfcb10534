/*
 * store_pg_search: the PostgreSQL backend's side of store_sqlite_search.c: device search and the search-param index.
 * Not yet on PostgreSQL: every call returns -ENOSYS.
 */
#include <errno.h>

#include "store/store_pg.h"

int pg_search_init(pg_t *p)
{
    return 0;
}

int pg_search_params_set(store_t *s, const char *const *names, size_t n)
{
    return -ENOSYS;
}

int pg_device_search(store_t *s, const store_search_t *q, store_device_row_fn fn, void *ud, int64_t *total)
{
    return -ENOSYS;
}
