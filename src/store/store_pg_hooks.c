/*
 * store_pg_hooks: the PostgreSQL backend's side of store_sqlite_hooks.c: webhook deliveries.
 * Not yet on PostgreSQL: every call returns -ENOSYS.
 */
#include <errno.h>

#include "store/store_pg.h"

int pg_hook_enqueue(store_t *s, store_hook_delivery_t *d, int64_t max_pending)
{
    return -ENOSYS;
}

int pg_hook_claim(store_t *s, int64_t now, int64_t lease_until, int64_t limit, store_hook_delivery_fn fn, void *ud, int64_t *next_due)
{
    return -ENOSYS;
}

int pg_hook_result(store_t *s, const store_hook_delivery_t *d, int64_t now)
{
    return -ENOSYS;
}

int pg_hook_list(store_t *s, int status, int64_t limit, store_hook_delivery_fn fn, void *ud)
{
    return -ENOSYS;
}

int pg_hook_retry(store_t *s, int64_t id, int64_t now, int64_t deadline, store_hook_delivery_t *out)
{
    return -ENOSYS;
}

int pg_hook_counts(store_t *s, store_hook_count_fn fn, void *ud)
{
    return -ENOSYS;
}

int pg_hook_release_leases(store_t *s)
{
    return -ENOSYS;
}

int pg_hook_offline_sweep(store_t *s, int64_t now, int64_t default_interval, int64_t limit, store_device_fn fn, void *ud)
{
    return -ENOSYS;
}

int pg_hook_prune(store_t *s, int64_t before)
{
    return -ENOSYS;
}
