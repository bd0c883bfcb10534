/*
 * dm_builtin: the small row-table builder both built-in models (TR-181 in
 * dm_tr181.c, TR-098 in dm_tr098.c) are written with. Private to them.
 *
 * A model is a list of objects, each a prefix plus a table of rows whose
 * names are relative to it; instance loops and per-instance values are
 * plain C around dmb_rows()/dmb_set().
 */
#ifndef OUTPOST_CPESIM_DM_BUILTIN_H
#define OUTPOST_CPESIM_DM_BUILTIN_H

#include "cpesim/dm.h"

typedef struct dmb_row {
    const char *name;       /* relative to the prefix; "Sub." for an object */
    uint8_t type;
    uint8_t flags;          /* DM_W, DM_NO_ACTIVE, DM_SECRET, DM_VOLATILE, DM_TABLE */
    const char *value;      /* NULL: the type's default */
    const char *constraint; /* NULL or "min:max" / "len:N" / "enum:a|b" */
    uint8_t dyn, dyn_arg;
} dmb_row_t;

typedef struct dmb {
    dm_model_t *m;
    int rc;                 /* first error; later calls do nothing */
    const char *where;      /* the path that failed, for the test that catches it */
} dmb_t;

/* Rows below the object named by the printf-style prefix (ends in '.'). */
void dmb_rows(dmb_t *b, const dmb_row_t *rows, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* An object (a table when flags has DM_TABLE; writable with DM_W). */
void dmb_obj(dmb_t *b, unsigned flags, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Change one parameter's default value. */
void dmb_set(dmb_t *b, const char *value, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void dmb_dyn(dmb_t *b, dm_dyn_t kind, unsigned arg, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#define S DM_STRING
#define I DM_INT
#define U DM_UINT
#define L DM_LONG
#define UL DM_ULONG
#define B DM_BOOL
#define T DM_DATETIME
#define B64 DM_BASE64
#define HEX DM_HEXBINARY
#define W DM_W
#define NA DM_NO_ACTIVE
#define SEC DM_SECRET
#define VOL DM_VOLATILE

int dm_tr181_build(dm_model_t *m);
int dm_tr098_build(dm_model_t *m);

#endif
