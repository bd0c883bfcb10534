/*
 * store_pg_files: the PostgreSQL backend's side of store_sqlite_files.c: the file store's metadata.
 * Not yet on PostgreSQL: every call returns -ENOSYS.
 */
#include <errno.h>

#include "store/store_pg.h"

int pg_file_put(store_t *s, const store_file_t *f)
{
    return -ENOSYS;
}

int pg_file_get(store_t *s, const char *name, store_file_t *out)
{
    return -ENOSYS;
}

int pg_file_list(store_t *s, store_file_fn fn, void *ud)
{
    return -ENOSYS;
}

int pg_file_delete(store_t *s, const char *name)
{
    return -ENOSYS;
}
