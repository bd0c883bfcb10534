#include "relay/relay_rules.h"

#include <ctype.h>
#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/config.h"
#include "core/str.h"

enum { RULE_FIELD_MAX = 512 };

static int set_str(char **dst, const char *v, const char *key, char *err, size_t errlen)
{
    if (*dst) {
        snprintf(err, errlen, "%s given twice", key);
        return -EINVAL;
    }
    if (!*v) {
        snprintf(err, errlen, "%s is empty", key);
        return -EINVAL;
    }
    return (*dst = strdup(v)) ? 0 : -ENOMEM;
}

static int set_fingerprint(char *out, const char *v, char *err, size_t errlen)
{
    size_t n = 0;
    for (const char *p = v; *p; p++) {
        if (*p == ':')
            continue;
        if (!isxdigit((unsigned char)*p) || n >= 64) {
            n = 99;
            break;
        }
        out[n++] = (char)tolower((unsigned char)*p);
    }
    if (n != 64) {
        snprintf(err, errlen, "fingerprint must be a SHA-256 in hex (64 digits)");
        out[0] = '\0';
        return -EINVAL;
    }
    out[64] = '\0';
    return 0;
}

static void rule_free(relay_rule_t *r)
{
    free(r->path);
    free(r->cn);
    free(r->org);
}

int relay_rules_add(relay_rules_t *rs, const char *text, char *err, size_t errlen)
{
    relay_rule_t r = { 0 };
    size_t pos = 0;
    if (errlen)
        err[0] = '\0';
    char key[32], val[RULE_FIELD_MAX];
    int rc, n = 0;
    while ((rc = cfg_kv_next(text, &pos, key, sizeof key, val, sizeof val)) == 1) {
        n++;
        if (strcmp(key, "path") == 0)
            rc = set_str(&r.path, val, key, err, errlen);
        else if (strcmp(key, "cn") == 0)
            rc = set_str(&r.cn, val, key, err, errlen);
        else if (strcmp(key, "org") == 0)
            rc = set_str(&r.org, val, key, err, errlen);
        else if (strcmp(key, "fingerprint") == 0)
            rc = r.fingerprint[0] ? (snprintf(err, errlen, "fingerprint given twice"), -EINVAL)
                                  : set_fingerprint(r.fingerprint, val, err, errlen);
        else {
            snprintf(err, errlen, "unknown key '%s' (path, cn, org, fingerprint)", key);
            rc = -EINVAL;
        }
        if (rc)
            break;
    }
    if (rc == 0 && n == 0) {
        snprintf(err, errlen, "empty rule: expected key=value pairs, e.g. 'path=gw-{cn} org=Gateways'");
        rc = -EINVAL;
    } else if (rc == -EINVAL && !*err) {
        snprintf(err, errlen, "malformed key=value pair (a value with spaces is quoted: org=\"ACME Corp\")");
    }
    if (rc) {
        rule_free(&r);
        return rc;
    }
    relay_rule_t *nv = realloc(rs->v, (rs->n + 1) * sizeof *nv);
    if (!nv) {
        rule_free(&r);
        return -ENOMEM;
    }
    rs->v = nv;
    rs->v[rs->n++] = r;
    return 0;
}

void relay_rules_free(relay_rules_t *rs)
{
    for (size_t i = 0; i < rs->n; i++)
        rule_free(&rs->v[i]);
    free(rs->v);
    rs->v = NULL;
    rs->n = 0;
}

/* Append s with glob metacharacters escaped. */
static int append_escaped(buf_t *b, const char *s)
{
    for (; *s; s++) {
        if (strchr("*?[]\\", *s) && buf_append_byte(b, '\\'))
            return -ENOBUFS;
        if (buf_append_byte(b, *s))
            return -ENOBUFS;
    }
    return 0;
}

/* The path glob with {cn}/{org} replaced; false when it cannot be built
 * (the placeholder's value is empty: such a rule never matches). */
static bool expand(const char *glob, const relay_ident_t *who, buf_t *out)
{
    for (const char *p = glob; *p;) {
        const char *val = NULL;
        size_t skip = 0;
        if (strncmp(p, "{cn}", 4) == 0)
            val = who->cn, skip = 4;
        else if (strncmp(p, "{org}", 5) == 0)
            val = who->org, skip = 5;
        if (skip) {
            if (!val || !*val || append_escaped(out, val))
                return false;
            p += skip;
        } else {
            if (buf_append_byte(out, *p++))
                return false;
        }
    }
    if (!out->data)
        return buf_append(out, "", 0) == 0;
    return true;
}

static bool glob_ok(const char *glob, const char *s) { return !glob || fnmatch(glob, s ? s : "", 0) == 0; }

int relay_rules_match(const relay_rules_t *rs, const char *meeting, const relay_ident_t *who)
{
    if (rs->n == 0)
        return -2;
    for (size_t i = 0; i < rs->n; i++) {
        const relay_rule_t *r = &rs->v[i];
        if (!glob_ok(r->cn, who->cn) || !glob_ok(r->org, who->org))
            continue;
        if (r->fingerprint[0] && (!who->fingerprint || strcmp(r->fingerprint, who->fingerprint) != 0))
            continue;
        if (r->path) {
            buf_t g = BUF_INIT(4 * RULE_FIELD_MAX);
            bool ok = expand(r->path, who, &g) && fnmatch(g.data, meeting, 0) == 0;
            buf_free(&g);
            if (!ok)
                continue;
        }
        return (int)i;
    }
    return -1;
}
