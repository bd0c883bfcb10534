/*
 * dm_builtin: the row-table builder behind the built-in models, and
 * dm_builtin_load() that picks one by name.
 */
#include "cpesim/dm_builtin.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cpesim/dm_csv.h"

static char failed_path[DM_NAME_MAX * 2];

__attribute__((format(printf, 4, 0)))
static bool vpath(dmb_t *b, char *out, size_t len, const char *fmt, va_list ap)
{
    if (b->rc)
        return false;
    int n = vsnprintf(out, len, fmt, ap);
    if (n <= 0 || (size_t)n >= len) {
        b->rc = -ENAMETOOLONG;
        return false;
    }
    return true;
}

static void fail(dmb_t *b, int rc, const char *path)
{
    b->rc = rc;
    snprintf(failed_path, sizeof failed_path, "%s", path);
    b->where = failed_path;
}

void dmb_rows(dmb_t *b, const dmb_row_t *rows, const char *fmt, ...)
{
    char prefix[DM_NAME_MAX + 1], path[DM_NAME_MAX * 2];
    va_list ap;
    va_start(ap, fmt);
    bool ok = vpath(b, prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    if (!ok)
        return;
    int rc = dm_model_add(b->m, prefix, DM_OBJECT, 0, NULL);
    if (rc && rc != -EEXIST) {
        fail(b, rc, prefix);
        return;
    }
    for (const dmb_row_t *r = rows; r->name; r++) {
        snprintf(path, sizeof path, "%s%s", prefix, r->name);
        size_t len = strlen(path);
        dm_type_t type = path[len - 1] == '.' ? DM_OBJECT : (dm_type_t)r->type;
        rc = dm_model_add(b->m, path, type, r->flags, r->value);
        if (!rc && r->constraint)
            rc = dm_model_set_constraint(b->m, path, r->constraint);
        if (!rc && r->dyn)
            rc = dm_model_set_dyn(b->m, path, (dm_dyn_t)r->dyn, r->dyn_arg);
        if (rc) {
            fail(b, rc, path);
            return;
        }
    }
}

void dmb_obj(dmb_t *b, unsigned flags, const char *fmt, ...)
{
    char path[DM_NAME_MAX + 1];
    va_list ap;
    va_start(ap, fmt);
    bool ok = vpath(b, path, sizeof path, fmt, ap);
    va_end(ap);
    if (!ok)
        return;
    int rc = dm_model_add(b->m, path, DM_OBJECT, flags, NULL);
    if (rc)
        fail(b, rc, path);
}

void dmb_set(dmb_t *b, const char *value, const char *fmt, ...)
{
    char path[DM_NAME_MAX + 1];
    va_list ap;
    va_start(ap, fmt);
    bool ok = vpath(b, path, sizeof path, fmt, ap);
    va_end(ap);
    if (!ok)
        return;
    int rc = dm_model_set_default(b->m, path, value);
    if (rc)
        fail(b, rc, path);
}

void dmb_dyn(dmb_t *b, dm_dyn_t kind, unsigned arg, const char *fmt, ...)
{
    char path[DM_NAME_MAX + 1];
    va_list ap;
    va_start(ap, fmt);
    bool ok = vpath(b, path, sizeof path, fmt, ap);
    va_end(ap);
    if (!ok)
        return;
    int rc = dm_model_set_dyn(b->m, path, kind, arg);
    if (rc)
        fail(b, rc, path);
}

int dm_builtin_load(dm_model_t *m, const char *name)
{
    if (strcmp(name, "tr181") == 0 || strcmp(name, "tr-181") == 0 || strcmp(name, "device") == 0)
        return dm_tr181_build(m);
    if (strcmp(name, "tr098") == 0 || strcmp(name, "tr-098") == 0 || strcmp(name, "igd") == 0)
        return dm_tr098_build(m);
    return -ENOENT;
}
