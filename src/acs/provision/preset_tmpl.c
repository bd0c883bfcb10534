/*
 * preset_tmpl: templates in provisions' values (see preset.h): one walker
 * over literal runs and {placeholders}, used to check, expand, sample and
 * list what a template reads.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "acs/provision/preset.h"
#include "core/str.h"

static const char *const tmpl_fields[] = { "serial_number", "oui", "product_class", "device_id" };

typedef int (*tmpl_fn)(const char *field, size_t n, bool param, void *ud);

/* Walk a template: literal runs and {{ }} go to lit(), placeholders to
 * ph() (param: the NAME of {param:NAME}). 0, the first non-zero callback
 * result, or -EINVAL with the reason. */
static int tmpl_walk(const char *t, int (*lit)(const char *s, size_t n, void *ud), tmpl_fn ph,
                     void *ud, char *err, size_t errlen)
{
    for (const char *p = t; *p;) {
        int rc = 0;
        if ((p[0] == '{' && p[1] == '{') || (p[0] == '}' && p[1] == '}')) {
            rc = lit ? lit(p, 1, ud) : 0;
            p += 2;
        } else if (*p == '}') {
            snprintf(err, errlen, "a lone '}' (write }} for a literal one)");
            return -EINVAL;
        } else if (*p == '{') {
            const char *end = strchr(p + 1, '}');
            const char *open = strchr(p + 1, '{');
            if (!end || (open && open < end)) {
                snprintf(err, errlen, "'{' without its '}' (write {{ for a literal one)");
                return -EINVAL;
            }
            const char *f = p + 1;
            size_t n = (size_t)(end - f);
            if (n > 6 && strncmp(f, "param:", 6) == 0) {
                if (n - 6 > 256) {
                    snprintf(err, errlen, "{param:NAME}: NAME is at most 256 characters");
                    return -EINVAL;
                }
                for (size_t i = 6; i < n; i++)
                    if ((unsigned char)f[i] <= ' ') {
                        snprintf(err, errlen, "{param:NAME}: NAME without spaces");
                        return -EINVAL;
                    }
                rc = ph ? ph(f + 6, n - 6, true, ud) : 0;
            } else {
                size_t i = 0;
                while (i < sizeof tmpl_fields / sizeof tmpl_fields[0] &&
                       !(strlen(tmpl_fields[i]) == n && strncmp(tmpl_fields[i], f, n) == 0))
                    i++;
                if (i == sizeof tmpl_fields / sizeof tmpl_fields[0]) {
                    snprintf(err, errlen,
                             "unknown template field '{%.*s}' (known: {serial_number}, {oui},"
                             " {product_class}, {device_id}, {param:NAME})", (int)(n > 64 ? 64 : n), f);
                    return -EINVAL;
                }
                rc = ph ? ph(f, n, false, ud) : 0;
            }
            p = end + 1;
        } else {
            size_t n = strcspn(p, "{}");
            rc = lit ? lit(p, n, ud) : 0;
            p += n;
        }
        if (rc)
            return rc;
    }
    return 0;
}

int preset_template_check(const char *tmpl, char *err, size_t errlen)
{
    return tmpl_walk(tmpl, NULL, NULL, NULL, err, errlen);
}

typedef struct expand {
    const preset_device_t *d;
    char *out;
    size_t len, cap;
    char *missing;
    size_t missinglen;
} expand_t;

static int put_lit(const char *s, size_t n, void *ud)
{
    expand_t *x = ud;
    if (x->len + n >= x->cap)
        return -E2BIG;
    memcpy(x->out + x->len, s, n);
    x->len += n;
    x->out[x->len] = '\0';
    return 0;
}

static int put_field(const char *f, size_t n, bool param, void *ud)
{
    expand_t *x = ud;
    const char *v = NULL;
    if (param) {
        char name[260];
        str_copyn(name, sizeof name, f, n);
        v = x->d->param ? x->d->param(x->d->ud, name) : NULL;
        if (!v) {
            str_copy(x->missing, x->missinglen, name);
            return -ENOENT;
        }
    } else if (n == 13 && strncmp(f, "serial_number", n) == 0) {
        v = x->d->serial;
    } else if (n == 3 && strncmp(f, "oui", n) == 0) {
        v = x->d->oui;
    } else if (n == 13 && strncmp(f, "product_class", n) == 0) {
        v = x->d->product_class;
    } else {
        v = x->d->id;
    }
    return put_lit(v ? v : "", strlen(v ? v : ""), ud);
}

int preset_template_expand(const char *tmpl, const preset_device_t *d, char *out, size_t outlen,
                           char *missing, size_t missinglen)
{
    char scratch[8], err[128];
    expand_t x = { .d = d, .out = out, .cap = outlen < PRESET_EXPAND_MAX ? outlen : PRESET_EXPAND_MAX,
                   .missing = missing ? missing : scratch,
                   .missinglen = missing ? missinglen : sizeof scratch };
    if (x.cap == 0)
        return -E2BIG;
    out[0] = '\0';
    return tmpl_walk(tmpl, put_lit, put_field, &x, err, sizeof err);
}

/* Every placeholder as "x" (to check what a template can become). */
static int put_sample(const char *f, size_t n, bool param, void *ud)
{
    return put_lit("x", 1, ud);
}

int preset_template_sample(const char *tmpl, char *out, size_t outlen)
{
    char err[128];
    expand_t x = { .out = out, .cap = outlen };
    if (outlen == 0)
        return -E2BIG;
    out[0] = '\0';
    return tmpl_walk(tmpl, put_lit, put_sample, &x, err, sizeof err);
}

typedef struct params_cb {
    int (*fn)(const char *name, void *ud);
    void *ud;
} params_cb_t;

static int each_param(const char *f, size_t n, bool param, void *ud)
{
    params_cb_t *c = ud;
    if (!param)
        return 0;
    char name[260];
    str_copyn(name, sizeof name, f, n);
    return c->fn(name, c->ud);
}

int preset_template_params(const char *tmpl, int (*fn)(const char *name, void *ud), void *ud)
{
    char err[128];
    params_cb_t c = { fn, ud };
    return tmpl_walk(tmpl, NULL, each_param, &c, err, sizeof err);
}
