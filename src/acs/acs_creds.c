/*
 * acs_creds: per-device CPE credentials, from a file of "USER PASSWORD"
 * lines (# comments, blank lines ignored), kept sorted for binary search.
 * Loaded at start and again on SIGHUP; a bad file keeps the old table.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acs/acs_internal.h"
#include "core/log.h"
#include "core/str.h"

typedef struct cred {
    char *user, *pass;
} cred_t;

struct acs_creds {
    cred_t *v;
    size_t n;
};

static int cmp(const void *a, const void *b)
{
    return strcmp(((const cred_t *)a)->user, ((const cred_t *)b)->user);
}

void acs_creds_free(acs_creds_t *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n; i++) {
        free(c->v[i].user);
        free(c->v[i].pass);
    }
    free(c->v);
    free(c);
}

int acs_creds_load(const char *path, acs_creds_t **out)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        int e = -errno;
        log_error("acs_credentials", LF_S("file", path), LF_ERR(e));
        return e;
    }
    acs_creds_t *c = calloc(1, sizeof *c);
    size_t cap = 0, lineno = 0;
    char line[1024];
    int rc = c ? 0 : -ENOMEM;
    while (!rc && fgets(line, sizeof line, f)) {
        lineno++;
        char *s = str_trim(line);
        if (!*s || *s == '#')
            continue;
        char *sp = strpbrk(s, " \t");
        if (!sp) {
            log_error("acs_credentials", LF_S("file", path), LF_U("line", lineno),
                      LF_S("reason", "expected USER PASSWORD"));
            rc = -EINVAL;
            break;
        }
        *sp = '\0';
        char *pass = str_trim(sp + 1);
        if (c->n == cap) {
            cap = cap ? cap * 2 : 64;
            cred_t *nv = realloc(c->v, cap * sizeof *nv);
            if (!nv) {
                rc = -ENOMEM;
                break;
            }
            c->v = nv;
        }
        c->v[c->n].user = strdup(s);
        c->v[c->n].pass = strdup(pass);
        if (!c->v[c->n].user || !c->v[c->n].pass) {
            free(c->v[c->n].user);
            free(c->v[c->n].pass);
            rc = -ENOMEM;
            break;
        }
        c->n++;
    }
    fclose(f);
    if (rc) {
        acs_creds_free(c);
        return rc;
    }
    qsort(c->v, c->n, sizeof *c->v, cmp);
    log_info("acs_credentials", LF_S("file", path), LF_U("users", c->n));
    *out = c;
    return 0;
}

const char *acs_creds_find(const acs_creds_t *c, const char *user)
{
    if (!c)
        return NULL;
    cred_t key = { (char *)user, NULL };
    const cred_t *r = bsearch(&key, c->v, c->n, sizeof *c->v, cmp);
    return r ? r->pass : NULL;
}
