/*
 * store_pg_bulk: the PostgreSQL backend's side of store_sqlite_bulk.c: bulk tasks.
 * Not yet on PostgreSQL: every call returns -ENOSYS.
 */
#include <errno.h>

#include "store/store_pg.h"

int pg_bulk_create(store_t *s, store_bulk_t *b, const store_search_t *q, const char *ids_json, int64_t now)
{
    return -ENOSYS;
}

int pg_bulk_get(store_t *s, int64_t id, store_bulk_t *out)
{
    return -ENOSYS;
}

int pg_bulk_tasks(store_t *s, int64_t id, store_task_status_t st, int64_t limit, store_task_fn fn, void *ud)
{
    return -ENOSYS;
}

int pg_bulk_running(store_t *s, store_bulk_fn fn, void *ud)
{
    return -ENOSYS;
}

int pg_bulk_list(store_t *s, int state, int64_t before, int64_t limit, store_bulk_fn fn, void *ud)
{
    return -ENOSYS;
}

int pg_bulk_release(store_t *s, int64_t id, int64_t n, int (*fn)(int64_t task, const char *device, void *ud), void *ud)
{
    return -ENOSYS;
}

int pg_bulk_rehold(store_t *s, int64_t task)
{
    return -ENOSYS;
}

int pg_bulk_end(store_t *s, int64_t id, store_bulk_state_t st, const char *reason, int64_t now)
{
    return -ENOSYS;
}
