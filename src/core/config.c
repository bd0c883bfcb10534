/*
 * config: the option tables, the command line and the public entry points
 * (cfg_load, cfg_free). Typed values are parsed in config_value.c, the YAML
 * file in config_yaml.c, --help and --man are written by config_help.c.
 */
#include "core/config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/config_int.h"
#include "core/log.h"
#include "core/version.h"

static int check_level(const char *v, char *err, size_t n)
{
    if (log_level_parse(v) >= 0)
        return 0;
    snprintf(err, n, "must be one of error, warn, info, debug");
    return -EINVAL;
}

const cfg_opt_t cfg__global_opts[] = {
    CFG_OPT("config", CFG_STR, cfg__global_t, config, NULL, "FILE",
            "YAML file with any of these options as keys; flags override it"),
    CFG_OPT("log-level", CFG_STR, cfg__global_t, log_level, "info", "LEVEL",
            "error, warn, info or debug", .check = check_level),
    CFG_OPT("log-json", CFG_BOOL, cfg__global_t, log_json, "false", NULL,
            "log JSON lines instead of key=value text"),
    CFG_END,
};

/* ---- tables ----------------------------------------------------------- */

static bool name_eq(const char *key, size_t keylen, const char *name)
{
    if (keylen != strlen(name))
        return false;
    for (size_t i = 0; i < keylen; i++) {
        char k = key[i] == '_' ? '-' : key[i];
        if (k != name[i])
            return false;
    }
    return true;
}

bool cfg__find_opt(const cfg_cmd_t *cmd, void *opts, cfg__global_t *g, const char *key,
                   size_t keylen, cfg__lookup_t *out)
{
    size_t idx = 0;
    for (const cfg_opt_t *o = cfg__global_opts; o->name; o++, idx++)
        if (name_eq(key, keylen, o->name)) {
            *out = (cfg__lookup_t){ o, g, idx };
            return true;
        }
    for (const cfg_opt_t *o = cmd->opts; o->name; o++, idx++)
        if (name_eq(key, keylen, o->name)) {
            *out = (cfg__lookup_t){ o, opts, idx };
            return true;
        }
    return false;
}

static void clear_field(const cfg_opt_t *o, void *base)
{
    void *field = (char *)base + o->offset;
    if (o->type == CFG_STR || o->type == CFG_JSON) {
        free(*(char **)field);
        *(char **)field = NULL;
    } else if (o->type == CFG_LIST) {
        cfg__free_list(field);
    }
}

static void free_table(const cfg_opt_t *opts, void *base)
{
    for (const cfg_opt_t *o = opts; o->name; o++)
        clear_field(o, base);
}

void cfg_free(const cfg_cmd_t *cmd, void *opts)
{
    free_table(cmd->opts, opts);
}

static int apply_defaults(const cfg_cmd_t *cmd, const cfg_opt_t *table, void *base)
{
    char err[CFG__ERR_LEN];
    for (const cfg_opt_t *o = table; o->name; o++) {
        if (!o->def)
            continue;
        /* systemd's StateDirectory= (several are separated by ':'; ours is the first) */
        const char *state = o->flags & CFG_STATE_DIR ? getenv("STATE_DIRECTORY") : NULL;
        if (state && *state) {
            char dir[4096];
            size_t n = strcspn(state, ":");
            if (n < sizeof dir) {
                memcpy(dir, state, n);
                dir[n] = '\0';
                if (cfg__set_value(o, base, dir, err, sizeof err))
                    return -EINVAL;
                continue;
            }
        }
        if (o->type == CFG_LIST) {
            /* a list default is a comma-separated string */
            char *copy = strdup(o->def), *save = NULL;
            if (!copy)
                return -ENOMEM;
            for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save))
                if (cfg__set_value(o, base, t, err, sizeof err)) {
                    free(copy);
                    return -EINVAL;
                }
            free(copy);
        } else if (cfg__set_value(o, base, o->def, err, sizeof err)) {
            fprintf(stderr, "outpost %s: bad built-in default for --%s: %s\n", cmd->name, o->name, err);
            return -EINVAL;
        }
    }
    return 0;
}

/* ---- command line ------------------------------------------------------ */

static int flag_err(const cfg_cmd_t *cmd, const char *flag, const char *msg)
{
    fprintf(stderr, "outpost %s: --%s: %s\n", cmd->name, flag, msg);
    return -EINVAL;
}

static bool is_help(const char *a) { return strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0; }

/* What a first look at argv found: print something and exit, or run. */
typedef enum special { SP_RUN, SP_HELP, SP_VERSION, SP_MAN } special_t;

static special_t special_flag(const char *a)
{
    if (is_help(a))
        return SP_HELP;
    if (strcmp(a, "--version") == 0)
        return SP_VERSION;
    if (strcmp(a, "--man") == 0)
        return SP_MAN;
    return SP_RUN;
}

/* First pass: --help, --version, --man and --config, which decide what
 * happens before flags. */
static int scan_special(int argc, char **argv, const char **config, special_t *sp)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            break;
        if (special_flag(argv[i]) != SP_RUN && *sp == SP_RUN)
            *sp = special_flag(argv[i]);
        else if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
            *config = argv[++i];
        else if (strncmp(argv[i], "--config=", 9) == 0)
            *config = argv[i] + 9;
    }
    return 0;
}

static int apply_flags(const cfg_cmd_t *cmd, void *opts, cfg__global_t *g, int argc, char **argv,
                       cfg_result_t *res)
{
    bool cleared[CFG__MAX_OPTS] = { false };
    bool only_positional = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (only_positional || a[0] != '-' || a[1] == '\0') {
            if (!cmd->positional) {
                fprintf(stderr, "outpost %s: unexpected argument '%s' (see --help)\n", cmd->name, a);
                return -EINVAL;
            }
            if (res->npositional >= CFG_MAX_POSITIONAL) {
                fprintf(stderr, "outpost %s: too many arguments\n", cmd->name);
                return -EINVAL;
            }
            res->positional[res->npositional++] = argv[i];
            continue;
        }
        if (strcmp(a, "--") == 0) {
            only_positional = true;
            continue;
        }
        if (special_flag(a) != SP_RUN)
            continue;
        if (a[1] != '-') {
            fprintf(stderr, "outpost %s: unknown option '%s' (options are long: --name)\n", cmd->name, a);
            return -EINVAL;
        }
        const char *name = a + 2;
        const char *eq = strchr(name, '=');
        size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
        cfg__lookup_t lk;
        if (!cfg__find_opt(cmd, opts, g, name, nlen, &lk)) {
            fprintf(stderr, "outpost %s: unknown option '--%.*s' (see --help)\n", cmd->name, (int)nlen, name);
            return -EINVAL;
        }
        const char *val;
        if (eq)
            val = eq + 1;
        else if (lk.opt->type == CFG_BOOL)
            val = "true";
        else if (i + 1 < argc)
            val = argv[++i];
        else
            return flag_err(cmd, lk.opt->name, "needs a value");
        if (lk.opt == &cfg__global_opts[0])
            continue; /* --config was handled first */
        if (lk.opt->type == CFG_LIST && lk.index < CFG__MAX_OPTS && !cleared[lk.index]) {
            /* flags replace a list from the file rather than extend it */
            cfg__free_list((cfg_list_t *)((char *)lk.base + lk.opt->offset));
            cleared[lk.index] = true;
        }
        if (lk.opt->type == CFG_LIST && *val == '\0')
            continue; /* --list '' empties the list */
        char err[CFG__ERR_LEN] = "";
        int rc = cfg__set_value(lk.opt, lk.base, val, err, sizeof err);
        if (rc == -ENOMEM)
            return flag_err(cmd, lk.opt->name, "out of memory");
        if (rc)
            return flag_err(cmd, lk.opt->name, err);
    }
    return 0;
}

int cfg_load(const cfg_cmd_t *cmd, void *opts, int argc, char **argv, cfg_result_t *res)
{
    cfg__global_t g = { 0 };
    memset(res, 0, sizeof *res);
    size_t n = 0;
    for (const cfg_opt_t *o = cmd->opts; o->name; o++)
        n++;
    if (n + 3 > CFG__MAX_OPTS) {
        fprintf(stderr, "outpost %s: option table too large\n", cmd->name);
        return -EINVAL;
    }

    const char *config = NULL;
    special_t sp = SP_RUN;
    scan_special(argc, argv, &config, &sp);
    switch (sp) {
    case SP_HELP: cfg_help(cmd, stdout); return 1;
    case SP_MAN: cfg_man(cmd, stdout); return 1;
    case SP_VERSION: printf("outpost %s %s (commit %s)\n", cmd->name, OUTPOST_VERSION, OUTPOST_COMMIT); return 1;
    case SP_RUN: break;
    }
    int rc = apply_defaults(cmd, cfg__global_opts, &g);
    if (!rc)
        rc = apply_defaults(cmd, cmd->opts, opts);
    if (!rc && config)
        rc = cfg__load_yaml(cmd, opts, &g, config);
    if (!rc)
        rc = apply_flags(cmd, opts, &g, argc, argv, res);
    if (!rc) {
        log_set_level((log_level_t)log_level_parse(g.log_level));
        log_set_json(g.log_json);
        res->config_path = config;
    }
    free_table(cfg__global_opts, &g);
    if (rc)
        cfg_free(cmd, opts);
    return rc ? -EINVAL : 0;
}
