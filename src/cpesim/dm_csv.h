/*
 * dm_csv: loading a real device's parameter dump (CSV, as exported by
 * GenieACS: "Parameter,Object,…,Writable,…,Value,Value type,…") into an
 * unsealed dm_model_t, for `cpe-sim --model-file`. See dm_csv.c for the
 * accepted dialect and the caps.
 */
#ifndef OUTPOST_CPESIM_DM_CSV_H
#define OUTPOST_CPESIM_DM_CSV_H

#include <stddef.h>

#include "cpesim/dm.h"

typedef struct dm_csv_stats {
    size_t rows;     /* data rows read */
    size_t params;   /* parameters added */
    size_t objects;  /* objects added */
    size_t skipped;  /* rows outside the root or with unusable names */
    size_t fixed;    /* values or types replaced by the type's default */
} dm_csv_stats_t;

/* 0, or a negative error with a one-line reason in err. */
int dm_csv_load(dm_model_t *m, const char *data, size_t len, dm_csv_stats_t *st, char *err,
                size_t errlen);
int dm_csv_load_file(dm_model_t *m, const char *path, dm_csv_stats_t *st, char *err, size_t errlen);

/* The built-in models: "tr181" (Device:2) and "tr098" (InternetGatewayDevice:1).
 * -ENOENT for another name. */
int dm_builtin_load(dm_model_t *m, const char *name);

#endif
