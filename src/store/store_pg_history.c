/*
 * store_pg_history: the PostgreSQL backend's side of store_sqlite_history.c: a parameter's old values, faults, session logging.
 * Not yet on PostgreSQL: every call returns -ENOSYS.
 */
#include <errno.h>

#include "store/store_pg.h"

int pg_param_history(store_t *s, const char *dev, const char *name, store_param_fn fn, void *ud)
{
    return -ENOSYS;
}

int pg_fault_list(store_t *s, const store_fault_filter_t *f, int64_t *total, store_fault_fn fn, void *ud)
{
    return -ENOSYS;
}

int pg_task_fault_clear(store_t *s, int64_t task_id, int64_t now)
{
    return -ENOSYS;
}

int pg_task_fault_retry(store_t *s, int64_t task_id, int64_t now, int64_t expires_at, store_task_t *out)
{
    return -ENOSYS;
}

int pg_preset_run_forget_fault(store_t *s, const char *device, const char *preset)
{
    return -ENOSYS;
}

int pg_device_set_session_log(store_t *s, const char *dev, bool all)
{
    return -ENOSYS;
}

int pg_device_session_log_list(store_t *s, int (*fn)(const char *, void *), void *ud)
{
    return -ENOSYS;
}
