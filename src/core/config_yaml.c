/*
 * config_yaml: the --config file, a YAML mapping of option: value read with
 * libyaml's event parser. Errors name the file, line and key. A flat
 * mapping inside a list becomes a "k=v k=v" item; a CFG_JSON option takes
 * any YAML value as JSON text.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "core/config_int.h"
#include "core/str.h"

typedef struct yaml_ctx {
    const cfg_cmd_t *cmd;
    void *opts;
    cfg__global_t *g;
    const char *path;
    yaml_parser_t parser;
    bool seen[CFG__MAX_OPTS];
} yaml_ctx_t;

static int yerr(yaml_ctx_t *y, size_t line, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int yerr(yaml_ctx_t *y, size_t line, const char *key, const char *fmt, ...)
{
    char msg[CFG__ERR_LEN];
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

static int set_from_yaml(yaml_ctx_t *y, const cfg__lookup_t *lk, const char *key, size_t line,
                         const char *val)
{
    char err[CFG__ERR_LEN] = "";
    int rc = cfg__set_value(lk->opt, lk->base, val, err, sizeof err);
    if (rc == -ENOMEM)
        return yerr(y, line, key, "out of memory");
    if (rc)
        return yerr(y, line, key, "%s", err);
    return 0;
}

static int yaml_value(yaml_ctx_t *y, const char *key, size_t line)
{
    cfg__lookup_t lk;
    if (!cfg__find_opt(y->cmd, y->opts, y->g, key, strlen(key), &lk))
        return yerr(y, line, key, "unknown key (see 'outpost %s --help')", y->cmd->name);
    if (lk.opt == &cfg__global_opts[0])
        return yerr(y, line, key, "a config file cannot include another");
    if (lk.index < CFG__MAX_OPTS) {
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
        cfg__free_list((cfg_list_t *)((char *)lk.base + lk.opt->offset));
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

int cfg__load_yaml(const cfg_cmd_t *cmd, void *opts, cfg__global_t *g, const char *path)
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
