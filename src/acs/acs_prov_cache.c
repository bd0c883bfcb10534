/*
 * acs_prov_cache: the presets and Lua sources in memory (acs_prov.h).
 *
 * One immutable snapshot: the presets parsed and indexed (preset_set_t),
 * the provisions' and virtual parameters' sources by name. A session takes
 * a reference at its Inform and keeps it to its end, so a reload never
 * changes what a running session sees, and the store thread may read the
 * snapshot its session holds. A reload builds a whole new snapshot on the
 * store thread (the store is read nowhere else) and swaps it in on the
 * loop; the old one goes with its last reference.
 *
 * Reloads come after the API's writes (acs_api_prov.c calls
 * acs_prov_reload from its job's completion and answers once the new
 * snapshot is in place: what the API said is stored, the next Inform uses)
 * and after the config file's presets were synced (start, SIGHUP). Requests
 * that arrive while a load runs wait for the next one, which starts when
 * that one ends: a load that may have read the store before the change
 * never answers for it.
 *
 * The owed set: devices with a record that a session owes a run whatever
 * its events (preset_should_run: a fault with a retry to come, a cleared
 * fault). A device outside it reads no records unless a preset is
 * triggered, so sessions with nothing to do cost no store work. Loaded at
 * start, grown when a fault is recorded or cleared, shrunk when a session
 * finds nothing owed. Capped: past ACS_OWED_MAX devices every session with
 * a preset in the snapshot reads its records (correct, slower), said once.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "acs/acs_prov.h"
#include "core/log.h"
#include "core/str.h"

enum { ACS_OWED_MAX = 1000000 };

typedef struct reload_waiter {
    void (*done)(void *ud);
    void *ud;
} reload_waiter_t;

typedef struct waiters {
    reload_waiter_t *v;
    size_t n, cap;
} waiters_t;

struct acs_prov {
    acs_prov_snap_t *snap;
    bool loading;             /* a load job is out */
    bool again;               /* another was asked for meanwhile */
    waiters_t cur, next;      /* served by the running load, by the next one */
    hmap_t owed;              /* device id -> (void *)1 */
    bool owed_all;
};

/* ---- snapshots ------------------------------------------------------------------------ */

static void scripts_free(hmap_t *m)
{
    acs_prov_script_t *sc;
    for (size_t pos = 0; (sc = hmap_next(m, &pos, NULL));) {
        acs_prov_scope_free(&sc->scope);
        free(sc->src);
        free(sc);
    }
    hmap_free(m);
}

static void snap_free(acs_prov_snap_t *s)
{
    if (!s)
        return;
    preset_set_free(s->presets);
    scripts_free(&s->provisions);
    scripts_free(&s->vps);
    free(s);
}

acs_prov_snap_t *acs_prov_snap_get(acs_t *a)
{
    acs_prov_snap_t *s = a->prov ? a->prov->snap : NULL;
    if (s)
        s->refs++;
    return s;
}

void acs_prov_snap_put(acs_prov_snap_t *s)
{
    if (s && --s->refs == 0)
        snap_free(s);
}

/* ---- loading (store thread, or the main thread before the worker runs) ---------------- */

typedef struct loader {
    preset_t **v;
    size_t n, cap;
    size_t bad;
    char **names;
    size_t nnames, capnames;
    int err;
} loader_t;

static int take_preset(const store_preset_t *sp, void *ud)
{
    loader_t *l = ud;
    json_t *body = json_loads(sp->body, 0, NULL);
    preset_t *p = NULL;
    preset_err_t e;
    int rc = body ? preset_parse(body, sp->name, &p, &e) : -EINVAL;
    json_decref(body);
    if (rc == -ENOMEM) {
        l->err = rc;
        return 1;
    }
    if (rc) {
        /* written before a stricter check: it cannot run, say so once per load */
        log_warn("preset_unusable", LF_S("preset", sp->name),
                 LF_S("field", body ? e.field : ""), LF_S("reason", body ? e.reason : "not JSON"));
        l->bad++;
        return 0;
    }
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        preset_t **v = realloc(l->v, cap * sizeof *v);
        if (!v) {
            preset_free(p);
            l->err = -ENOMEM;
            return 1;
        }
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = p;
    return 0;
}

static int take_name(const store_script_t *sc, void *ud)
{
    loader_t *l = ud;
    if (l->nnames == l->capnames) {
        size_t cap = l->capnames ? l->capnames * 2 : 16;
        char **v = realloc(l->names, cap * sizeof *v);
        if (!v) {
            l->err = -ENOMEM;
            return 1;
        }
        l->names = v;
        l->capnames = cap;
    }
    if (!(l->names[l->nnames] = strdup(sc->name))) {
        l->err = -ENOMEM;
        return 1;
    }
    l->nnames++;
    return 0;
}

typedef struct script_into {
    hmap_t *m;
    int err;
} script_into_t;

static int take_script(const store_script_t *sc, void *ud)
{
    script_into_t *t = ud;
    acs_prov_script_t *s = calloc(1, sizeof *s);
    size_t len = sc->source ? strlen(sc->source) : 0;
    if (!s || !(s->src = malloc(len + 1))) {
        free(s);
        t->err = -ENOMEM;
        return 1;
    }
    memcpy(s->src, sc->source ? sc->source : "", len + 1);
    s->len = len;
    acs_prov_script_scan(s);
    if (hmap_put_copy(t->m, sc->name, strlen(sc->name), s) != 0) {
        free(s->src);
        free(s);
        t->err = -ENOMEM;
        return 1;
    }
    return 0;
}

static int load_scripts(store_t *st, store_script_kind_t k, hmap_t *m, loader_t *l)
{
    l->nnames = 0;
    int rc = store_script_list(st, k, take_name, l);
    if (rc == 0 && l->err)
        rc = l->err;
    for (size_t i = 0; i < l->nnames && rc == 0; i++) {
        script_into_t t = { .m = m };
        rc = store_script_get(st, k, l->names[i], take_script, &t);
        if (rc == -ENOENT) /* deleted meanwhile: not in a transaction of its own */
            rc = 0;
        if (rc == 0 && t.err)
            rc = t.err;
    }
    for (size_t i = 0; i < l->nnames; i++)
        free(l->names[i]);
    l->nnames = 0;
    return rc;
}

/* Build a snapshot from the store. 0 or a negative errno (*out NULL). */
static int snap_load(store_t *st, acs_prov_snap_t **out, size_t *bad)
{
    *out = NULL;
    loader_t l = { 0 };
    acs_prov_snap_t *s = calloc(1, sizeof *s);
    if (!s)
        return -ENOMEM;
    s->refs = 1;
    hmap_init(&s->provisions);
    hmap_init(&s->vps);
    int rc = store_preset_list(st, take_preset, &l);
    if (rc == 0 && l.err)
        rc = l.err;
    if (rc == 0) {
        char dup[PRESET_NAME_MAX + 1];
        rc = preset_set_new(l.v, l.n, &s->presets, dup, sizeof dup); /* takes the presets */
        l.n = 0;
    }
    for (size_t i = 0; i < l.n; i++)
        preset_free(l.v[i]);
    free(l.v);
    if (rc == 0)
        rc = load_scripts(st, STORE_SCRIPT_PROVISION, &s->provisions, &l);
    if (rc == 0)
        rc = load_scripts(st, STORE_SCRIPT_VIRTUAL_PARAM, &s->vps, &l);
    free(l.names);
    if (rc) {
        snap_free(s);
        return rc;
    }
    *bad = l.bad;
    *out = s;
    return 0;
}

static void install(acs_t *a, acs_prov_snap_t *s, size_t bad)
{
    acs_prov_snap_put(a->prov->snap);
    a->prov->snap = s;
    log_info("provisioning_loaded", LF_U("presets", preset_set_size(s->presets)),
             LF_U("provisions", hmap_len(&s->provisions)),
             LF_U("virtual_parameters", hmap_len(&s->vps)), LF_U("unusable_presets", bad));
}

/* ---- reloads ---------------------------------------------------------------------------- */

typedef struct load_job {
    acs_t *a;
    acs_prov_snap_t *snap;
    size_t bad;
} load_job_t;

static int load_run(store_t *st, void *ud)
{
    load_job_t *j = ud;
    return snap_load(st, &j->snap, &j->bad);
}

static void start_load(acs_t *a);

static void serve(waiters_t *w)
{
    for (size_t i = 0; i < w->n; i++)
        if (w->v[i].done)
            w->v[i].done(w->v[i].ud);
    w->n = 0;
}

static void load_done(int rc, void *ud)
{
    load_job_t *j = ud;
    acs_t *a = j->a;
    struct acs_prov *P = a->prov;
    if (rc == 0 && j->snap)
        install(a, j->snap, j->bad);
    else {
        snap_free(j->snap);
        log_error("provisioning_load_failed", LF_ERR(rc),
                  LF_S("reason", "the presets and scripts in use stay as they were"));
    }
    free(j);
    P->loading = false;
    serve(&P->cur);
    if (P->again) {
        P->again = false;
        waiters_t t = P->cur;
        P->cur = P->next;
        P->next = t;
        start_load(a);
    }
}

static void start_load(acs_t *a)
{
    struct acs_prov *P = a->prov;
    load_job_t *j = calloc(1, sizeof *j);
    int rc = j && a->db && !a->stopping ? 0 : j ? -ECANCELED : -ENOMEM;
    if (rc == 0) {
        j->a = a;
        P->loading = true;
        rc = store_worker_submit(a->db, load_run, load_done, j);
        if (rc == 0)
            return;
        P->loading = false;
    }
    free(j);
    if (rc != -ECANCELED)
        log_error("provisioning_load_failed", LF_ERR(rc),
                  LF_S("reason", "the presets and scripts in use stay as they were"));
    serve(&P->cur);
}

static int waiter_add(waiters_t *w, void (*done)(void *), void *ud)
{
    if (w->n == w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 8;
        reload_waiter_t *v = realloc(w->v, cap * sizeof *v);
        if (!v)
            return -ENOMEM;
        w->v = v;
        w->cap = cap;
    }
    w->v[w->n++] = (reload_waiter_t){ done, ud };
    return 0;
}

void acs_prov_reload(acs_t *a, void (*done)(void *ud), void *ud)
{
    struct acs_prov *P = a->prov;
    if (!P) {
        if (done)
            done(ud);
        return;
    }
    if (P->loading) {
        /* that load may have read the store before this change: the next one */
        P->again = true;
        if (waiter_add(&P->next, done, ud) != 0 && done)
            done(ud);
        return;
    }
    if (waiter_add(&P->cur, done, ud) != 0 && done)
        done(ud);
    start_load(a);
}

/* ---- the owed set ------------------------------------------------------------------------- */

void acs_prov_owed_add(acs_t *a, const char *device_id)
{
    struct acs_prov *P = a->prov;
    if (!P || P->owed_all || hmap_gets(&P->owed, device_id))
        return;
    if (hmap_len(&P->owed) >= ACS_OWED_MAX || hmap_put_copy(&P->owed, device_id, strlen(device_id),
                                                            (void *)1) != 0) {
        P->owed_all = true;
        log_warn("provisioning_owed_overflow", LF_U("devices", hmap_len(&P->owed)),
                 LF_S("reason", "too many devices owe a preset run: every session with a preset"
                                " configured now reads its records"));
    }
}

void acs_prov_owed_del(acs_t *a, const char *device_id)
{
    if (a->prov)
        hmap_del(&a->prov->owed, device_id, strlen(device_id));
}

bool acs_prov_owed(const acs_t *a, const char *device_id)
{
    const struct acs_prov *P = a->prov;
    return P && (P->owed_all || hmap_gets(&P->owed, device_id) != NULL);
}

typedef struct owed_load {
    acs_t *a;
} owed_load_t;

static int take_owed(const store_preset_run_t *r, void *ud)
{
    acs_prov_owed_add(((owed_load_t *)ud)->a, r->device_id);
    return 0;
}

/* ---- start and end ------------------------------------------------------------------------ */

int acs_prov_start(acs_t *a)
{
    struct acs_prov *P = calloc(1, sizeof *P);
    if (!P)
        return -1;
    hmap_init(&P->owed);
    a->prov = P;
    size_t bad = 0;
    acs_prov_snap_t *s;
    int rc = snap_load(a->store, &s, &bad);
    if (rc) {
        log_error("provisioning_load_failed", LF_ERR(rc));
        return -1;
    }
    install(a, s, bad);
    owed_load_t ol = { a };
    if ((rc = store_preset_run_owed(a->store, take_owed, &ol)) != 0) {
        log_error("provisioning_load_failed", LF_ERR(rc), LF_S("what", "preset records owed a run"));
        return -1;
    }
    if (hmap_len(&P->owed))
        log_info("provisioning_owed", LF_U("devices", hmap_len(&P->owed)));
    return acs_ext_init(a) == 0 ? 0 : -1;
}

void acs_prov_stop(acs_t *a)
{
    acs_ext_stop(a);
}

void acs_prov_free(acs_t *a)
{
    struct acs_prov *P = a->prov;
    acs_ext_free(a);
    if (!P)
        return;
    /* loads still waited for were answered when the worker drained */
    acs_prov_snap_put(P->snap);
    hmap_free(&P->owed);
    free(P->cur.v);
    free(P->next.v);
    free(P);
    a->prov = NULL;
}
