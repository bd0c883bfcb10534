/*
 * store_pg_keys: the PostgreSQL backend's side of store_sqlite_keys.c: API keys.
 * Not yet on PostgreSQL: every call returns -ENOSYS.
 */
#include <errno.h>

#include "store/store_pg.h"

int pg_key_add(store_t *s, const store_key_t *k)
{
    return -ENOSYS;
}

int pg_key_delete(store_t *s, const char *id)
{
    return -ENOSYS;
}

int pg_key_list(store_t *s, store_key_fn fn, void *ud)
{
    return -ENOSYS;
}

int pg_key_touch(store_t *s, const char *id, int64_t when)
{
    return -ENOSYS;
}

int pg_key_version(store_t *s, int64_t *out)
{
    return -ENOSYS;
}
