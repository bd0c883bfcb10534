#include "core/config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "core/log.h"
#include "core/str.h"
#include "core/version.h"

enum { ERR_LEN = 256, MAX_OPTS = 128 };

/* Options every subcommand has; they live in this file, not in the tables. */
typedef struct cfg_global {
    char *log_level;
    bool log_json;
    char *config;
} cfg_global_t;

static int check_level(const char *v, char *err, size_t n)
{
    if (log_level_parse(v) >= 0)
        return 0;
    snprintf(err, n, "must be one of error, warn, info, debug");
    return -EINVAL;
}

static const cfg_opt_t global_opts[] = {
    CFG_OPT("config", CFG_STR, cfg_global_t, config, NULL, "FILE",
            "YAML file with any of these options as keys; flags override it"),
    CFG_OPT("log-level", CFG_STR, cfg_global_t, log_level, "info", "LEVEL",
            "error, warn, info or debug", .check = check_level),
    CFG_OPT("log-json", CFG_BOOL, cfg_global_t, log_json, "false", NULL,
            "log JSON lines instead of key=value text"),
    CFG_END,
};

/* ---- value parsers -------------------------------------------------------- */

int cfg_parse_bool(const char *s, bool *b)
{
    static const char *const yes[] = { "true", "yes", "on", "1" };
    static const char *const no[] = { "false", "no", "off", "0" };
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(s, yes[i]) == 0) {
            *b = true;
            return 0;
        }
        if (strcasecmp(s, no[i]) == 0) {
            *b = false;
            return 0;
        }
    }
    return -EINVAL;
}

/* A non-negative decimal number (fraction allowed) followed by a unit. */
static int split_number(const char *s, double *num, const char **unit)
{
    char *end;
    if (!isdigit((unsigned char)*s))
        return -EINVAL;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || !isfinite(v) || end == s)
        return -EINVAL;
    while (*end == ' ')
        end++;
    *num = v;
    *unit = end;
    return 0;
}

int cfg_parse_duration_ms(const char *s, int64_t *ms)
{
    static const struct { const char *u; double mul; } units[] = {
        { "", 1000 }, { "ms", 1 }, { "s", 1000 }, { "m", 60000 }, { "min", 60000 },
        { "h", 3600000 }, { "d", 86400000 },
    };
    double v;
    const char *unit;
    if (split_number(s, &v, &unit))
        return -EINVAL;
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (strcmp(unit, units[i].u) == 0) {
            double r = v * units[i].mul;
            if (r > (double)INT64_MAX / 2)
                return -ERANGE;
            *ms = (int64_t)r;
            return 0;
        }
    }
    return -EINVAL;
}

int cfg_parse_size(const char *s, uint64_t *bytes)
{
    static const struct { const char *u; double mul; } units[] = {
        { "", 1 }, { "B", 1 }, { "K", 1024.0 }, { "KiB", 1024.0 }, { "KB", 1000.0 },
        { "M", 1048576.0 }, { "MiB", 1048576.0 }, { "MB", 1e6 },
        { "G", 1073741824.0 }, { "GiB", 1073741824.0 }, { "GB", 1e9 },
    };
    double v;
    const char *unit;
    if (split_number(s, &v, &unit))
        return -EINVAL;
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (strcmp(unit, units[i].u) == 0) {
            double r = v * units[i].mul;
            if (r > (double)(UINT64_MAX / 2))
                return -ERANGE;
            *bytes = (uint64_t)r;
            return 0;
        }
    }
    return -EINVAL;
}

int cfg_check_hostport(const char *v, char *err, size_t n)
{
    if (*v == '\0')
        return 0; /* empty disables an optional listener */
    const char *colon = strrchr(v, ':');
    if (!colon || colon == v) {
        snprintf(err, n, "expected HOST:PORT (e.g. 127.0.0.1:8080 or [::1]:8080)");
        return -EINVAL;
    }
    if (v[0] == '[' && colon[-1] != ']') {
        snprintf(err, n, "IPv6 addresses are written [ADDR]:PORT");
        return -EINVAL;
    }
    uint64_t port;
    if (str_to_u64n(colon + 1, strlen(colon + 1), 65535, &port)) {
        snprintf(err, n, "port must be a number 0-65535");
        return -EINVAL;
    }
    return 0;
}

static bool bounded(const cfg_opt_t *o) { return o->min != 0 || o->max != 0; }

static void free_list(cfg_list_t *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

/* Parse `val` into the option's field. err receives the reason. */
static int set_value(const cfg_opt_t *o, void *base, const char *val, char *err, size_t errlen)
{
    void *field = (char *)base + o->offset;
    switch (o->type) {
    case CFG_STR:
    case CFG_JSON: {
        if (o->check && o->check(val, err, errlen))
            return -EINVAL;
        char *copy = strdup(val);
        if (!copy)
            return -ENOMEM;
        free(*(char **)field);
        *(char **)field = copy;
        return 0;
    }
    case CFG_LIST: {
        if (o->check && o->check(val, err, errlen))
            return -EINVAL;
        cfg_list_t *l = field;
        if (l->n >= 4096) {
            snprintf(err, errlen, "too many entries");
            return -EINVAL;
        }
        char **nv = realloc(l->v, (l->n + 1) * sizeof *nv);
        if (!nv)
            return -ENOMEM;
        l->v = nv;
        if (!(l->v[l->n] = strdup(val)))
            return -ENOMEM;
        l->n++;
        return 0;
    }
    case CFG_BOOL:
        if (cfg_parse_bool(val, field)) {
            snprintf(err, errlen, "expected true or false");
            return -EINVAL;
        }
        return 0;
    case CFG_INT: {
        int64_t v;
        int64_t lo = bounded(o) ? (int64_t)o->min : INT64_MIN;
        int64_t hi = bounded(o) ? (int64_t)o->max : INT64_MAX;
        int rc = str_to_i64(val, INT64_MIN, INT64_MAX, &v);
        if (rc) {
            snprintf(err, errlen, "expected an integer");
            return -EINVAL;
        }
        if (v < lo || v > hi) {
            snprintf(err, errlen, "must be between %lld and %lld", (long long)lo, (long long)hi);
            return -EINVAL;
        }
        *(int64_t *)field = v;
        return 0;
    }
    case CFG_DURATION: {
        int64_t ms;
        double bare;
        const char *unit;
        if ((o->flags & CFG_BARE_MS) && split_number(val, &bare, &unit) == 0 && !*unit) {
            if (bare > (double)INT64_MAX / 2) {
                snprintf(err, errlen, "expected a duration such as 500ms, 10s, 5m or 1h");
                return -EINVAL;
            }
            ms = (int64_t)bare; /* "400" on --slow-ms is 400 ms, not 400 s */
        } else if (cfg_parse_duration_ms(val, &ms)) {
            snprintf(err, errlen, "expected a duration such as 500ms, 10s, 5m or 1h");
            return -EINVAL;
        }
        if (bounded(o) && (ms < (int64_t)o->min || ms > (int64_t)o->max)) {
            snprintf(err, errlen, "must be between %gs and %gs", o->min / 1000, o->max / 1000);
            return -EINVAL;
        }
        *(int64_t *)field = ms;
        return 0;
    }
    case CFG_SIZE: {
        uint64_t b;
        if (cfg_parse_size(val, &b)) {
            snprintf(err, errlen, "expected a size such as 4096, 64KiB or 1MiB");
            return -EINVAL;
        }
        if (bounded(o) && ((double)b < o->min || (double)b > o->max)) {
            snprintf(err, errlen, "must be between %.0f and %.0f bytes", o->min, o->max);
            return -EINVAL;
        }
        *(uint64_t *)field = b;
        return 0;
    }
    case CFG_DOUBLE: {
        char *end;
        errno = 0;
        double d = strtod(val, &end);
        if (errno || end == val || *end || !isfinite(d)) {
            snprintf(err, errlen, "expected a number");
            return -EINVAL;
        }
        if (bounded(o) && (d < o->min || d > o->max)) {
            snprintf(err, errlen, "must be between %g and %g", o->min, o->max);
            return -EINVAL;
        }
        *(double *)field = d;
        return 0;
    }
    }
    return -EINVAL;
}

/* ---- tables ----------------------------------------------------------- */

typedef struct lookup {
    const cfg_opt_t *opt;
    void *base;
    size_t index; /* position across both tables, for the cli-set bitmap */
} lookup_t;

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

static bool find_opt(const cfg_cmd_t *cmd, void *opts, cfg_global_t *g, const char *key,
                     size_t keylen, lookup_t *out)
{
    size_t idx = 0;
    for (const cfg_opt_t *o = global_opts; o->name; o++, idx++)
        if (name_eq(key, keylen, o->name)) {
            *out = (lookup_t){ o, g, idx };
            return true;
        }
    for (const cfg_opt_t *o = cmd->opts; o->name; o++, idx++)
        if (name_eq(key, keylen, o->name)) {
            *out = (lookup_t){ o, opts, idx };
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
        free_list(field);
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
    char err[ERR_LEN];
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
                if (set_value(o, base, dir, err, sizeof err))
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
                if (set_value(o, base, t, err, sizeof err)) {
                    free(copy);
                    return -EINVAL;
                }
            free(copy);
        } else if (set_value(o, base, o->def, err, sizeof err)) {
            fprintf(stderr, "outpost %s: bad built-in default for --%s: %s\n", cmd->name, o->name, err);
            return -EINVAL;
        }
    }
    return 0;
}

/* ---- YAML -------------------------------------------------------------- */

typedef struct yaml_ctx {
    const cfg_cmd_t *cmd;
    void *opts;
    cfg_global_t *g;
    const char *path;
    yaml_parser_t parser;
    bool seen[MAX_OPTS];
} yaml_ctx_t;

static int yerr(yaml_ctx_t *y, size_t line, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int yerr(yaml_ctx_t *y, size_t line, const char *key, const char *fmt, ...)
{
    char msg[ERR_LEN];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (key)
        fprintf(stderr, "outpost %s: %s:%zu: key '%s': %s\n", y->cmd->name, y->path, line, key, msg);
    else
        fprintf(stderr, "outpost %s: %s:%zu: %s\n", y->cmd->name, y->path, line, msg);
    return -EINVAL;
}

static int next_event(yaml_ctx_t *y, yaml_event_t *ev)
{
    if (!yaml_parser_parse(&y->parser, ev))
        return yerr(y, y->parser.problem_mark.line + 1, NULL, "YAML syntax error: %s",
                    y->parser.problem ? y->parser.problem : "unknown");
    return 0;
}

/* Append " k=v" to out (at *n), quoting v the way cfg_kv_next reads it back
 * when it holds spaces, quotes, backslashes or '='. */
static int kv_append(char *out, size_t outlen, size_t *n, const char *k, const char *v)
{
    bool quote = strpbrk(v, " \t\"\\=") != NULL;
    size_t o = *n;
    int w = snprintf(out + o, outlen - o, "%s%s=%s", o ? " " : "", k, quote ? "\"" : "");
    if (w < 0 || (size_t)w >= outlen - o)
        return -ENOSPC;
    o += (size_t)w;
    for (const char *c = v; *c; c++) {
        if (o + 4 > outlen) /* an escape, the byte, the closing quote, NUL */
            return -ENOSPC;
        if (quote && (*c == '"' || *c == '\\'))
            out[o++] = '\\';
        out[o++] = *c;
    }
    if (quote)
        out[o++] = '"';
    out[o] = '\0';
    *n = o;
    return 0;
}

/* A flat mapping inside a list becomes "k=v k=v" (see kv_append). */
static int mapping_item(yaml_ctx_t *y, const char *key, char *out, size_t outlen)
{
    size_t n = 0;
    out[0] = '\0';
    for (;;) {
        yaml_event_t k, v;
        if (next_event(y, &k))
            return -EINVAL;
        if (k.type == YAML_MAPPING_END_EVENT) {
            yaml_event_delete(&k);
            return 0;
        }
        size_t line = k.start_mark.line + 1;
        if (k.type != YAML_SCALAR_EVENT) {
            yaml_event_delete(&k);
            return yerr(y, line, key, "list entries may only hold plain key: value pairs");
        }
        if (next_event(y, &v)) {
            yaml_event_delete(&k);
            return -EINVAL;
        }
        int rc = 0;
        if (v.type != YAML_SCALAR_EVENT) {
            rc = yerr(y, line, key, "value of '%s' must be a scalar", (char *)k.data.scalar.value);
        } else if (strpbrk((char *)k.data.scalar.value, " \t\r\n\"=\\")) {
            rc = yerr(y, line, key, "'%s' must not contain spaces, quotes or '='",
                      (char *)k.data.scalar.value);
        } else if (strpbrk((char *)v.data.scalar.value, "\r\n")) {
            rc = yerr(y, line, key, "value of '%s' must be on one line",
                      (char *)k.data.scalar.value);
        } else if (kv_append(out, outlen, &n, (char *)k.data.scalar.value,
                             (char *)v.data.scalar.value) != 0) {
            rc = yerr(y, line, key, "entry too long");
        }
        yaml_event_delete(&k);
        yaml_event_delete(&v);
        if (rc)
            return rc;
    }
}

/* ---- a YAML value as JSON text (CFG_JSON) ---- */

/* A plain scalar YAML would read as a number: one JSON can carry as it is. */
static bool json_number_text(const char *s)
{
    if (*s == '-')
        s++;
    if (*s == '0')
        s++;
    else if (*s >= '1' && *s <= '9')
        while (*s >= '0' && *s <= '9')
            s++;
    else
        return false;
    if (*s == '.') {
        if (!(*++s >= '0' && *s <= '9'))
            return false;
        while (*s >= '0' && *s <= '9')
            s++;
    }
    if (*s == 'e' || *s == 'E') {
        s++;
        if (*s == '+' || *s == '-')
            s++;
        if (!(*s >= '0' && *s <= '9'))
            return false;
        while (*s >= '0' && *s <= '9')
            s++;
    }
    return *s == '\0';
}

static int scalar_json(yaml_ctx_t *y, const yaml_event_t *ev, buf_t *out, const char *key)
{
    static const char *const nulls[] = { "", "~", "null", "Null", "NULL" };
    static const char *const trues[] = { "true", "True", "TRUE" };
    static const char *const falses[] = { "false", "False", "FALSE" };
    const char *v = (const char *)ev->data.scalar.value;
    const char *tag = (const char *)ev->data.scalar.tag;
    if (strlen(v) != ev->data.scalar.length)
        return yerr(y, ev->start_mark.line + 1, key, "a NUL character in a value");
    if (ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE && !(tag && strcmp(tag, YAML_STR_TAG) == 0)) {
        for (size_t i = 0; i < 5; i++)
            if (strcmp(v, nulls[i]) == 0)
                return buf_append_str(out, "null");
        for (size_t i = 0; i < 3; i++) {
            if (strcmp(v, trues[i]) == 0)
                return buf_append_str(out, "true");
            if (strcmp(v, falses[i]) == 0)
                return buf_append_str(out, "false");
        }
        if (json_number_text(v))
            return buf_append_str(out, v);
    }
    int rc = buf_append_byte(out, '"');
    if (!rc)
        rc = str_json_escape(out, v);
    return rc ? rc : buf_append_byte(out, '"');
}

/* The node that starts with `ev` (and the events after it, consumed). */
static int node_json(yaml_ctx_t *y, const yaml_event_t *ev, buf_t *out, int depth, const char *key)
{
    size_t line = ev->start_mark.line + 1;
    if (ev->type == YAML_SCALAR_EVENT)
        return scalar_json(y, ev, out, key);
    if (ev->type == YAML_ALIAS_EVENT)
        return yerr(y, line, key, "aliases (*name) are not supported");
    bool map = ev->type == YAML_MAPPING_START_EVENT;
    if (!map && ev->type != YAML_SEQUENCE_START_EVENT)
        return yerr(y, line, key, "unexpected YAML content");
    if (depth >= CFG_JSON_DEPTH)
        return yerr(y, line, key, "nested deeper than %d levels", CFG_JSON_DEPTH);
    if ((map ? ev->data.mapping_start.anchor : ev->data.sequence_start.anchor) != NULL)
        return yerr(y, line, key, "anchors (&name) are not supported");
    int rc = buf_append_byte(out, map ? '{' : '[');
    for (size_t n = 0; !rc; n++) {
        yaml_event_t k;
        if (next_event(y, &k))
            return -EINVAL;
        if (k.type == (map ? YAML_MAPPING_END_EVENT : YAML_SEQUENCE_END_EVENT)) {
            yaml_event_delete(&k);
            return buf_append_byte(out, map ? '}' : ']');
        }
        if (n)
            rc = buf_append_byte(out, ',');
        if (!rc && map) {
            if (k.type != YAML_SCALAR_EVENT) {
                rc = yerr(y, k.start_mark.line + 1, key, "mapping keys must be plain text");
            } else {
                rc = buf_append_byte(out, '"');
                if (!rc)
                    rc = str_json_escape(out, (const char *)k.data.scalar.value);
                if (!rc)
                    rc = buf_append_str(out, "\":");
            }
            yaml_event_t v;
            if (!rc && next_event(y, &v))
                rc = -EINVAL;
            else if (!rc) {
                rc = node_json(y, &v, out, depth + 1, key);
                yaml_event_delete(&v);
            }
        } else if (!rc) {
            rc = node_json(y, &k, out, depth + 1, key);
        }
        yaml_event_delete(&k);
    }
    return rc;
}

static int set_from_yaml(yaml_ctx_t *y, const lookup_t *lk, const char *key, size_t line,
                         const char *val)
{
    char err[ERR_LEN] = "";
    int rc = set_value(lk->opt, lk->base, val, err, sizeof err);
    if (rc == -ENOMEM)
        return yerr(y, line, key, "out of memory");
    if (rc)
        return yerr(y, line, key, "%s", err);
    return 0;
}

static int yaml_value(yaml_ctx_t *y, const char *key, size_t line)
{
    lookup_t lk;
    if (!find_opt(y->cmd, y->opts, y->g, key, strlen(key), &lk))
        return yerr(y, line, key, "unknown key (see 'outpost %s --help')", y->cmd->name);
    if (lk.opt == &global_opts[0])
        return yerr(y, line, key, "a config file cannot include another");
    if (lk.index < MAX_OPTS) {
        if (y->seen[lk.index])
            return yerr(y, line, key, "given twice");
        y->seen[lk.index] = true;
    }
    yaml_event_t ev;
    if (next_event(y, &ev))
        return -EINVAL;
    int rc = 0;
    line = ev.start_mark.line + 1;
    /* a list in the file replaces the built-in default, as a flag does */
    if (lk.opt->type == CFG_LIST)
        free_list((cfg_list_t *)((char *)lk.base + lk.opt->offset));
    if (lk.opt->type == CFG_JSON) {
        buf_t b = BUF_INIT(CFG_JSON_MAX);
        rc = node_json(y, &ev, &b, 0, key);
        if (rc == -ENOBUFS || rc == -ENOMEM)
            rc = yerr(y, line, key, "over %d bytes as JSON", CFG_JSON_MAX);
        if (!rc)
            rc = set_from_yaml(y, &lk, key, line, b.data ? b.data : "null");
        buf_free(&b);
    } else if (ev.type == YAML_SCALAR_EVENT) {
        const char *val = (const char *)ev.data.scalar.value;
        if (lk.opt->type == CFG_LIST && *val == '\0')
            rc = 0; /* `key:` with nothing = empty list */
        else
            rc = set_from_yaml(y, &lk, key, line, val);
    } else if (ev.type == YAML_SEQUENCE_START_EVENT) {
        if (lk.opt->type != CFG_LIST) {
            rc = yerr(y, line, key, "expected a single value, not a list");
        } else {
            for (;;) {
                yaml_event_t it;
                if (next_event(y, &it)) {
                    rc = -EINVAL;
                    break;
                }
                size_t il = it.start_mark.line + 1;
                if (it.type == YAML_SEQUENCE_END_EVENT) {
                    yaml_event_delete(&it);
                    break;
                }
                if (it.type == YAML_SCALAR_EVENT) {
                    rc = set_from_yaml(y, &lk, key, il, (const char *)it.data.scalar.value);
                } else if (it.type == YAML_MAPPING_START_EVENT) {
                    char item[1024];
                    rc = mapping_item(y, key, item, sizeof item);
                    if (!rc)
                        rc = set_from_yaml(y, &lk, key, il, item);
                } else {
                    rc = yerr(y, il, key, "list entries must be values or flat mappings");
                }
                yaml_event_delete(&it);
                if (rc)
                    break;
            }
        }
    } else {
        rc = yerr(y, line, key, "expected a value%s", lk.opt->type == CFG_LIST ? " or a list" : "");
    }
    yaml_event_delete(&ev);
    return rc;
}

static int load_yaml(const cfg_cmd_t *cmd, void *opts, cfg_global_t *g, const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "outpost %s: cannot open config %s: %s\n", cmd->name, path, strerror(errno));
        return -EINVAL;
    }
    yaml_ctx_t *y = calloc(1, sizeof *y);
    if (!y) {
        fclose(f);
        return -ENOMEM;
    }
    y->cmd = cmd;
    y->opts = opts;
    y->g = g;
    y->path = path;
    yaml_parser_initialize(&y->parser);
    yaml_parser_set_input_file(&y->parser, f);

    int rc = 0;
    bool in_map = false, done = false;
    while (!done && !rc) {
        yaml_event_t ev;
        if (next_event(y, &ev)) {
            rc = -EINVAL;
            break;
        }
        size_t line = ev.start_mark.line + 1;
        switch (ev.type) {
        case YAML_STREAM_START_EVENT:
        case YAML_DOCUMENT_START_EVENT:
        case YAML_DOCUMENT_END_EVENT:
            break;
        case YAML_STREAM_END_EVENT:
            done = true;
            break;
        case YAML_MAPPING_START_EVENT:
            if (in_map)
                rc = yerr(y, line, NULL, "nested mappings are not options");
            in_map = true;
            break;
        case YAML_MAPPING_END_EVENT:
            in_map = false;
            break;
        case YAML_SCALAR_EVENT:
            if (!in_map) {
                /* an empty file parses as one empty scalar */
                if (ev.data.scalar.length)
                    rc = yerr(y, line, NULL, "expected a mapping of option: value");
            } else {
                rc = yaml_value(y, (const char *)ev.data.scalar.value, line);
            }
            break;
        default:
            rc = yerr(y, line, NULL, "expected a mapping of option: value");
        }
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&y->parser);
    free(y);
    fclose(f);
    return rc;
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

static int apply_flags(const cfg_cmd_t *cmd, void *opts, cfg_global_t *g, int argc, char **argv,
                       cfg_result_t *res)
{
    bool cleared[MAX_OPTS] = { false };
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
        lookup_t lk;
        if (!find_opt(cmd, opts, g, name, nlen, &lk)) {
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
        if (lk.opt == &global_opts[0])
            continue; /* --config was handled first */
        if (lk.opt->type == CFG_LIST && lk.index < MAX_OPTS && !cleared[lk.index]) {
            /* flags replace a list from the file rather than extend it */
            free_list((cfg_list_t *)((char *)lk.base + lk.opt->offset));
            cleared[lk.index] = true;
        }
        if (lk.opt->type == CFG_LIST && *val == '\0')
            continue; /* --list '' empties the list */
        char err[ERR_LEN] = "";
        int rc = set_value(lk.opt, lk.base, val, err, sizeof err);
        if (rc == -ENOMEM)
            return flag_err(cmd, lk.opt->name, "out of memory");
        if (rc)
            return flag_err(cmd, lk.opt->name, err);
    }
    return 0;
}

int cfg_load(const cfg_cmd_t *cmd, void *opts, int argc, char **argv, cfg_result_t *res)
{
    cfg_global_t g = { 0 };
    memset(res, 0, sizeof *res);
    size_t n = 0;
    for (const cfg_opt_t *o = cmd->opts; o->name; o++)
        n++;
    if (n + 3 > MAX_OPTS) {
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
    int rc = apply_defaults(cmd, global_opts, &g);
    if (!rc)
        rc = apply_defaults(cmd, cmd->opts, opts);
    if (!rc && config)
        rc = load_yaml(cmd, opts, &g, config);
    if (!rc)
        rc = apply_flags(cmd, opts, &g, argc, argv, res);
    if (!rc) {
        log_set_level((log_level_t)log_level_parse(g.log_level));
        log_set_json(g.log_json);
        res->config_path = config;
    }
    free_table(global_opts, &g);
    if (rc)
        cfg_free(cmd, opts);
    return rc ? -EINVAL : 0;
}

/* ---- help -------------------------------------------------------------- */

static void help_table(const cfg_opt_t *table, FILE *out)
{
    for (const cfg_opt_t *o = table; o->name; o++) {
        if (o->flags & CFG_HIDDEN)
            continue;
        char left[96];
        const char *meta = o->metavar ? o->metavar : (o->type == CFG_BOOL ? NULL : "VALUE");
        snprintf(left, sizeof left, "--%s%s%s", o->name, meta ? " " : "", meta ? meta : "");
        fprintf(out, "  %-28s ", left);
        if (strlen(left) > 28)
            fprintf(out, "\n  %-28s ", "");
        /* help text may contain '\n' for continuation lines */
        for (const char *h = o->help ? o->help : ""; *h; h++) {
            fputc(*h, out);
            if (*h == '\n')
                fprintf(out, "  %-28s ", "");
        }
        if (o->type == CFG_LIST && !(o->help && strstr(o->help, "repeatable")))
            fprintf(out, " (repeatable)");
        if (o->flags & (CFG_SECRET | CFG_STATE_DIR))
            ; /* a secret is never shown; a state dir says its default in its help */
        else if (o->def && *o->def && !(o->type == CFG_BOOL && strcmp(o->def, "false") == 0))
            fprintf(out, " (default: %s)", o->def);
        fputc('\n', out);
    }
}

void cfg_help(const cfg_cmd_t *cmd, FILE *out)
{
    fprintf(out, "usage: outpost %s [OPTIONS]%s%s\n\n%s\n\noptions:\n", cmd->name,
            cmd->positional ? " " : "", cmd->positional ? cmd->positional : "", cmd->summary);
    help_table(cmd->opts, out);
    help_table(global_opts, out);
    fprintf(out, "  %-28s this help\n", "-h, --help");
    fprintf(out, "  %-28s the version and commit of this build\n", "--version");
    fprintf(out, "\nEvery option is also a YAML key of the same name in --config FILE.\n");
}

/* ---- man page ------------------------------------------------------------ */

/* Text for roff: backslashes doubled, '-' as \-, a leading '.' or '\'' escaped. */
static void roff(FILE *out, const char *s, bool line_start)
{
    for (; *s; s++) {
        if (line_start && (*s == '.' || *s == '\''))
            fputs("\\&", out);
        line_start = *s == '\n';
        if (*s == '\\')
            fputs("\\e", out);
        else if (*s == '-')
            fputs("\\-", out);
        else
            fputc(*s, out);
    }
}

static void man_table(const cfg_opt_t *table, FILE *out)
{
    for (const cfg_opt_t *o = table; o->name; o++) {
        if (o->flags & CFG_HIDDEN)
            continue;
        const char *meta = o->metavar ? o->metavar : (o->type == CFG_BOOL ? NULL : "VALUE");
        fputs(".TP\n.B \\-\\-", out);
        roff(out, o->name, false);
        if (meta) {
            fputs(" \\fI", out);
            roff(out, meta, false);
            fputs("\\fR", out);
        }
        fputc('\n', out);
        roff(out, o->help ? o->help : "", true);
        if (o->type == CFG_LIST && !(o->help && strstr(o->help, "repeatable")))
            fputs(" (repeatable)", out);
        if (!(o->flags & CFG_SECRET) && o->def && *o->def &&
            !(o->type == CFG_BOOL && strcmp(o->def, "false") == 0) && !(o->flags & CFG_STATE_DIR)) {
            fputs(" (default: ", out);
            roff(out, o->def, false);
            fputc(')', out);
        }
        fputc('\n', out);
    }
}

void cfg_man(const cfg_cmd_t *cmd, FILE *out)
{
    /* "certs root" is the page outpost-certs-root */
    char page[64], upper[64];
    size_t i = 0;
    for (; cmd->name[i] && i + 1 < sizeof page; i++) {
        page[i] = cmd->name[i] == ' ' ? '-' : cmd->name[i];
        upper[i] = (char)toupper((unsigned char)page[i]);
    }
    page[i] = upper[i] = '\0';
    fputs(".TH OUTPOST\\-", out);
    roff(out, upper, false);
    fprintf(out, " 1 \"\" \"outpost %s\" \"Outpost\"\n.SH NAME\noutpost\\-", OUTPOST_VERSION);
    roff(out, page, false);
    fputs(" \\- ", out);
    roff(out, cmd->summary, false);
    fputs("\n.SH SYNOPSIS\n.B outpost ", out);
    roff(out, cmd->name, false);
    fputs("\n[\\fIOPTIONS\\fR]", out);
    if (cmd->positional) {
        fputc(' ', out);
        roff(out, cmd->positional, false);
    }
    fputs("\n.SH DESCRIPTION\n", out);
    roff(out, cmd->summary, true);
    fputs("\n.PP\nEvery option is also a key of the same name in the YAML file given with "
          "\\fB\\-\\-config\\fR; flags override the file. SIGTERM drains and exits 0, "
          "SIGHUP reloads what can be reloaded.\n.SH OPTIONS\n", out);
    man_table(cmd->opts, out);
    man_table(global_opts, out);
    fputs(".TP\n.B \\-\\-version\nThe version and commit of this build.\n"
          ".SH SEE ALSO\n.BR outpost (1)\n", out);
}

/* ---- "k=v k=v" items ----------------------------------------------------- */

int cfg_kv_next(const char *item, size_t *pos, char *key, size_t keylen, char *val, size_t vallen)
{
    const char *p = item + *pos;
    while (*p == ' ' || *p == '\t')
        p++;
    if (!*p) {
        *pos = (size_t)(p - item);
        return 0;
    }
    const char *eq = p;
    while (*eq && *eq != '=' && *eq != ' ')
        eq++;
    if (*eq != '=' || eq == p || str_copyn(key, keylen, p, (size_t)(eq - p)))
        return -EINVAL;
    const char *v = eq + 1, *end = v;
    if (*v != '"') {
        while (*end && *end != ' ' && *end != '\t')
            end++;
        if (str_copyn(val, vallen, v, (size_t)(end - v)))
            return -EINVAL;
        *pos = (size_t)(end - item);
        return 1;
    }
    /* k="a value with spaces": \" and \\ stand for " and \ */
    size_t n = 0;
    for (end = v + 1; *end != '"'; end++) {
        if (!*end)
            return -EINVAL; /* no closing quote */
        if (*end == '\\' && (end[1] == '"' || end[1] == '\\'))
            end++;
        if (n + 1 >= vallen)
            return -EINVAL;
        val[n++] = *end;
    }
    val[n] = '\0';
    end++;
    if (*end && *end != ' ' && *end != '\t')
        return -EINVAL; /* k="a"b */
    *pos = (size_t)(end - item);
    return 1;
}
