/*
 * config_int: what the files of core/config share, not for use outside
 * src/core. config.c holds the option tables, the command line and
 * cfg_load(); config_value.c turns text into typed values; config_yaml.c
 * reads the --config file; config_help.c writes --help and --man.
 */
#ifndef OUTPOST_CORE_CONFIG_INT_H
#define OUTPOST_CORE_CONFIG_INT_H

#include <stdbool.h>
#include <stddef.h>

#include "core/config.h"

enum { CFG__ERR_LEN = 256, CFG__MAX_OPTS = 128 };

/* Options every subcommand has; they live in config.c, not in the tables. */
typedef struct cfg__global {
    char *log_level;
    bool log_json;
    char *config;
} cfg__global_t;

/* --config (always the first row), --log-level, --log-json. */
extern const cfg_opt_t cfg__global_opts[];

typedef struct cfg__lookup {
    const cfg_opt_t *opt;
    void *base;
    size_t index; /* position across both tables, for the seen/cleared bitmaps */
} cfg__lookup_t;

/* The option named key[0..keylen) ('_' read as '-'), global ones first. */
bool cfg__find_opt(const cfg_cmd_t *cmd, void *opts, cfg__global_t *g, const char *key,
                   size_t keylen, cfg__lookup_t *out);
/* Parse `val` into the option's field at base: 0, -ENOMEM, or -EINVAL with
 * the reason in err. A list gains one item. */
int cfg__set_value(const cfg_opt_t *o, void *base, const char *val, char *err, size_t errlen);
void cfg__free_list(cfg_list_t *l);
/* Apply the YAML file at path; -EINVAL after printing file:line: reason. */
int cfg__load_yaml(const cfg_cmd_t *cmd, void *opts, cfg__global_t *g, const char *path);

#endif
