/*
 * store_pg_prov: the PostgreSQL backend's side of store_sqlite_prov.c: presets, scripts, preset runs.
 * Not yet on PostgreSQL: every call returns -ENOSYS.
 */
#include <errno.h>

#include "store/store_pg.h"

int pg_preset_put(store_t *s, const char *name, const char *body, bool create_only, int64_t now)
{
    return -ENOSYS;
}

int pg_preset_get(store_t *s, const char *name, store_preset_fn fn, void *ud)
{
    return -ENOSYS;
}

int pg_preset_list(store_t *s, store_preset_fn fn, void *ud)
{
    return -ENOSYS;
}

int pg_preset_delete(store_t *s, const char *name)
{
    return -ENOSYS;
}

int pg_preset_sync_config(store_t *s, const store_preset_t *p, size_t n, int64_t now, store_preset_fn replaced, void *ud)
{
    return -ENOSYS;
}

int pg_script_put(store_t *s, store_script_kind_t k, const char *name, const char *source, size_t len, int64_t now)
{
    return -ENOSYS;
}

int pg_script_get(store_t *s, store_script_kind_t k, const char *name, store_script_fn fn, void *ud)
{
    return -ENOSYS;
}

int pg_script_list(store_t *s, store_script_kind_t k, store_script_fn fn, void *ud)
{
    return -ENOSYS;
}

int pg_script_delete(store_t *s, store_script_kind_t k, const char *name)
{
    return -ENOSYS;
}

int pg_preset_run_put(store_t *s, const store_preset_run_t *r)
{
    return -ENOSYS;
}

int pg_preset_run_list(store_t *s, const char *device, store_preset_run_fn fn, void *ud)
{
    return -ENOSYS;
}

int pg_preset_run_clear_fault(store_t *s, const char *device, const char *preset, int64_t now)
{
    return -ENOSYS;
}

int pg_preset_run_owed(store_t *s, store_preset_run_fn fn, void *ud)
{
    return -ENOSYS;
}
