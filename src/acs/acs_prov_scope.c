/*
 * acs_prov_scope: which of a device's stored parameters a session's
 * provisioning loads into the engine's state (acs_prov.h).
 *
 * Loading them all costs a few milliseconds of the store thread for a
 * device whose whole data model is stored (a BOOTSTRAP rediscovers ~700
 * parameters on cpe-sim's TR-181 model), where the provisions typically
 * touch a few dozen. The state is a cache of what the device holds: a
 * parameter not loaded is unknown, and a declaration that needs it reads it
 * from the device. So loading less is never wrong, only possibly slower (a
 * read the store could have answered); loading the subtrees provisions name
 * is what matters.
 *
 * The scope: for built-in provisions, the parent object of each path they
 * name and of each {param:NAME} of their templates; for a Lua provision,
 * the parent object of each rooted path among its string literals
 * ("Device.WiFi.SSID.1.SSID" -> "Device.WiFi.SSID.1."; up to a '*' or a
 * key selector: "Device.WiFi.SSID.*" -> "Device.WiFi.SSID.") and among its
 * preset's args, scanned once when the snapshot is loaded. A literal that
 * looks like a path but is not rooted ("DeviceInfo.ModelName", joined to a
 * root at run time) makes the scope everything, as does a scope of more
 * than SCOPE_MAX prefixes. Relative literals (".SSID") extend paths the
 * script got from a declaration: within the scope already. Virtual
 * parameters: a provision or task naming one brings the stored
 * VirtualParameters.* values and every virtual parameter script's scope.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "acs/acs_prov.h"

enum { SCOPE_MAX = 32 };

static const char *const roots[] = { "Device.", "InternetGatewayDevice.", PROV_VP_PREFIX };

/* ---- prefixes --------------------------------------------------------------------------- */

static int add(acs_prov_scope_t *s, const char *p, size_t n)
{
    if (s->all)
        return 0;
    for (size_t i = 0; i < s->n; i++)
        if (strlen(s->v[i]) == n && memcmp(s->v[i], p, n) == 0)
            return 0;
    if (s->n >= SCOPE_MAX) {
        s->all = true; /* as many queries as a full read costs: read it all */
        return 0;
    }
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 8;
        char **v = realloc(s->v, cap * sizeof *v);
        if (!v)
            return -ENOMEM;
        s->v = v;
        s->cap = cap;
    }
    char *c = malloc(n + 1);
    if (!c)
        return -ENOMEM;
    memcpy(c, p, n);
    c[n] = '\0';
    s->v[s->n++] = c;
    return 0;
}

static bool rooted(const char *p, size_t n)
{
    for (size_t i = 0; i < sizeof roots / sizeof *roots; i++) {
        size_t l = strlen(roots[i]);
        if (n >= l && memcmp(p, roots[i], l) == 0)
            return true;
    }
    return false;
}

/* A path's scope: its text up to a pattern, then up to its last '.'. A
 * path that is not rooted is ignored (not a parameter's). */
int acs_prov_scope_path(acs_prov_scope_t *s, const char *p, size_t n)
{
    if (!rooted(p, n))
        return 0;
    size_t cut = strcspn(p, "*[");
    if (cut < n)
        n = cut;
    while (n > 0 && p[n - 1] != '.')
        n--;
    if (n && strncmp(p, PROV_VP_PREFIX, n) == 0)
        s->vps = true;
    return n ? add(s, p, n) : 0;
}

void acs_prov_scope_free(acs_prov_scope_t *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i]);
    free(s->v);
    *s = (acs_prov_scope_t){ 0 };
}

/* ---- Lua sources: their string literals ---------------------------------------------------- */

static bool name_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
}

/* A literal that reads like a path that is not rooted: word.word... */
static bool fragment(const char *p, size_t n)
{
    if (n < 3 || !((p[0] >= 'A' && p[0] <= 'Z') || (p[0] >= 'a' && p[0] <= 'z') || p[0] == '_'))
        return false;
    bool dot = false;
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '.')
            dot = true;
        else if (!name_char(p[i]) && p[i] != '*')
            return false;
    }
    return dot;
}

static void literal(acs_prov_script_t *sc, const char *p, size_t n)
{
    if (rooted(p, n)) {
        if (acs_prov_scope_path(&sc->scope, p, n) != 0)
            sc->scope.all = true; /* no memory: read it all */
    } else if (fragment(p, n)) {
        sc->scope.all = true;
    }
}

/* Lua's long brackets at s: "[[" or "[=*[": the level, or -1. */
static int long_open(const char *s, const char *end)
{
    if (s >= end || *s != '[')
        return -1;
    int level = 0;
    const char *q = s + 1;
    while (q < end && *q == '=') {
        level++;
        q++;
    }
    return q < end && *q == '[' ? level : -1;
}

static const char *long_close(const char *s, const char *end, int level)
{
    for (; s < end; s++) {
        if (*s != ']')
            continue;
        const char *q = s + 1;
        int l = 0;
        while (q < end && *q == '=') {
            l++;
            q++;
        }
        if (l == level && q < end && *q == ']')
            return q + 1;
    }
    return end;
}

void acs_prov_script_scan(acs_prov_script_t *sc)
{
    const char *s = sc->src, *end = sc->src + sc->len;
    char buf[PROV_PATH_MAX + 1];
    while (s < end) {
        if (s + 1 < end && s[0] == '-' && s[1] == '-') { /* a comment */
            s += 2;
            int level = long_open(s, end);
            if (level >= 0)
                s = long_close(s + level + 2, end, level);
            else
                while (s < end && *s != '\n')
                    s++;
            continue;
        }
        int level = long_open(s, end);
        if (level >= 0) { /* [[a long string]]: taken as is */
            const char *b = s + level + 2, *e = long_close(b, end, level);
            size_t n = (size_t)(e - b) >= (size_t)level + 2 ? (size_t)(e - b) - (size_t)level - 2 : 0;
            literal(sc, b, n);
            s = e;
            continue;
        }
        if (*s != '"' && *s != '\'') {
            s++;
            continue;
        }
        /* a quoted string: escapes kept as they are, which only makes a
         * path with one look like no path (a full read) */
        char q = *s++;
        size_t n = 0;
        bool over = false;
        while (s < end && *s != q && *s != '\n') {
            if (*s == '\\' && s + 1 < end) {
                if (n < sizeof buf - 1)
                    buf[n++] = *s;
                s++;
            }
            if (n < sizeof buf - 1)
                buf[n++] = *s;
            else
                over = true;
            s++;
        }
        if (s < end)
            s++;
        if (!over)
            literal(sc, buf, n);
    }
}

/* ---- a session's scope ---------------------------------------------------------------------- */

static int from_template(acs_prov_scope_t *s, const char *tmpl);

static int param_cb(const char *name, void *ud)
{
    return acs_prov_scope_path(ud, name, strlen(name));
}

static int from_template(acs_prov_scope_t *s, const char *tmpl)
{
    return tmpl && strchr(tmpl, '{') ? preset_template_params(tmpl, param_cb, s) : 0;
}

static int from_script(acs_prov_scope_t *s, const acs_prov_script_t *sc)
{
    if (sc->scope.all)
        s->all = true;
    s->vps |= sc->scope.vps;
    for (size_t i = 0; i < sc->scope.n && !s->all; i++) {
        int rc = add(s, sc->scope.v[i], strlen(sc->scope.v[i]));
        if (rc)
            return rc;
    }
    return 0;
}

static int from_prov(acs_prov_scope_t *s, const acs_prov_snap_t *snap, const preset_prov_t *pp)
{
    int rc = 0;
    if (pp->path)
        rc = acs_prov_scope_path(s, pp->path, strlen(pp->path));
    if (!rc)
        rc = from_template(s, pp->value);
    if (!rc && pp->type == PP_SCRIPT) {
        const acs_prov_script_t *sc = hmap_gets(&snap->provisions, pp->name);
        if (sc)
            rc = from_script(s, sc);
        size_t i;
        json_t *a;
        json_array_foreach(pp->args, i, a)
            if (!rc && json_is_string(a))
                rc = acs_prov_scope_path(s, json_string_value(a), json_string_length(a));
    }
    return rc;
}

int acs_prov_scope(const acs_prov_sess_t *S, const store_task_t *task, acs_prov_scope_t *s)
{
    *s = (acs_prov_scope_t){ 0 };
    int rc = 0;
    for (size_t i = 0; i < S->npr && !rc && !s->all; i++)
        for (size_t k = 0; k < S->pr[i].p->nprovs && !rc; k++)
            rc = from_prov(s, S->snap, &S->pr[i].p->provs[k]);
    if (!rc && task && task->params) {
        /* the names it reads or sets: found as rooted strings in its JSON */
        json_t *p = json_loads(task->params, 0, NULL);
        json_t *names = json_object_get(p, "names"), *vals = json_object_get(p, "values"), *v;
        size_t i;
        const char *k;
        json_array_foreach(names, i, v)
            if (!rc && json_is_string(v))
                rc = acs_prov_scope_path(s, json_string_value(v), json_string_length(v));
        json_object_foreach(vals, k, v)
            if (!rc)
                rc = acs_prov_scope_path(s, k, strlen(k));
        json_decref(p);
    }
    if (!rc && s->vps) { /* virtual parameters: their stored values, their scripts' scope */
        rc = add(s, PROV_VP_PREFIX, sizeof PROV_VP_PREFIX - 1);
        const acs_prov_script_t *sc;
        for (size_t pos = 0; !rc && (sc = hmap_next(&S->snap->vps, &pos, NULL));)
            rc = from_script(s, sc);
    }
    if (rc) {
        acs_prov_scope_free(s);
        s->all = true; /* no memory for a scope: read it all */
    }
    return 0;
}
