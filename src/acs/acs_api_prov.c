/*
 * acs_api_prov: presets, provisions, virtual parameters and preset records
 * on the REST API, and the config file's presets (see acs_api_prov.h).
 *
 * Bodies are validated on the loop (preset_parse, the Lua parser: bounded
 * work, capped input); a valid one goes to the store worker, which builds
 * the JSON answer. Validation failures are 422 with the field's path and
 * the reason ({"error", "message", "field"}, and "line" for Lua), so a
 * program can point at what to fix.
 */
#include "acs/acs_api_err.h"
#include "acs/acs_api_prov.h"

#include "acs/acs_prov.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acs/provision/preset.h"
#include "acs/provision/prov_lua.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/str.h"

enum {
    SCRIPT_MAX = 256 * 1024,       /* bytes of Lua source */
    CONFIG_PRESETS_MAX = 10000,
};

/* ---- jobs ------------------------------------------------------------------------------ */

enum { PJ_PRESETS, PJ_PRESET_GET, PJ_PRESET_PUT, PJ_PRESET_DELETE, PJ_SCRIPTS, PJ_SCRIPT_GET,
       PJ_SCRIPT_PUT, PJ_SCRIPT_DELETE, PJ_RUNS, PJ_CLEAR };

typedef struct prov_job {
    acs_t *a;
    http_req_t *req;
    int kind;
    char name[STORE_NAME];
    char device[STORE_ID_MAX];
    store_script_kind_t sk;
    char *text;             /* a preset body (compact JSON) or a Lua source */
    size_t len;
    bool create_only;
    /* out */
    json_t *out;
    int created;
} prov_job_t;

/* A stored preset as the API shows it: name, the body's fields, origin, times. */
static json_t *preset_json(const store_preset_t *p)
{
    json_t *body = json_loads(p->body, 0, NULL);
    json_t *o = json_pack("{s:o}", "name", acs_json_text(p->name));
    const char *k;
    json_t *v;
    if (!o) {
        json_decref(body);
        return NULL;
    }
    json_object_foreach(body, k, v)
        json_object_set(o, k, v);
    json_decref(body);
    json_object_set_new(o, "source", acs_json_text(p->source));
    json_object_set_new(o, "created", acs_json_time(p->created));
    json_object_set_new(o, "updated", acs_json_time(p->updated));
    return o;
}

static int collect_preset(const store_preset_t *p, void *ud)
{
    prov_job_t *j = ud;
    json_t *o = preset_json(p);
    if (j->kind == PJ_PRESETS)
        json_array_append_new(j->out, o);
    else {
        json_decref(j->out);
        j->out = o;
    }
    return 0;
}

static int collect_script(const store_script_t *sc, void *ud)
{
    prov_job_t *j = ud;
    json_t *o = json_pack("{s:o, s:I, s:o}", "name", acs_json_text(sc->name), "size",
                          (json_int_t)sc->size, "updated", acs_json_time(sc->updated));
    if (o && sc->source)
        json_object_set_new(o, "source", acs_json_text(sc->source));
    if (j->kind == PJ_SCRIPTS)
        json_array_append_new(j->out, o);
    else {
        json_decref(j->out);
        j->out = o;
    }
    return 0;
}

static json_t *run_json(const store_preset_run_t *r)
{
    json_t *fault = r->status == STORE_PRESET_FAULT
                        ? json_pack("{s:i, s:o, s:o, s:o}", "code", r->fault_code, "message",
                                    acs_json_text(r->fault_message), "provision",
                                    r->fault_provision[0] ? acs_json_text(r->fault_provision)
                                                          : json_null(),
                                    "line", r->fault_line > 0 ? json_integer(r->fault_line)
                                                              : json_null())
                        : json_null();
    return json_pack("{s:o, s:s, s:o, s:i, s:o, s:o, s:o}", "preset", acs_json_text(r->preset),
                     "status", store_preset_status_name(r->status), "fault", fault, "tries",
                     r->tries, "next_retry", acs_json_time(r->next_retry), "last_run",
                     acs_json_time(r->last_event), "updated", acs_json_time(r->updated));
}

static int collect_run(const store_preset_run_t *r, void *ud)
{
    prov_job_t *j = ud;
    if (j->kind == PJ_RUNS)
        json_array_append_new(j->out, run_json(r));
    else if (strcmp(r->preset, j->name) == 0)
        j->out = run_json(r);
    return 0;
}

static int prov_run(store_t *st, void *ud)
{
    prov_job_t *j = ud;
    int64_t now = clock_real_s();
    store_device_t dev;
    int rc;
    switch (j->kind) {
    case PJ_PRESETS:
        j->out = json_array();
        return store_preset_list(st, collect_preset, j);
    case PJ_PRESET_PUT:
        if ((rc = store_preset_put(st, j->name, j->text, j->create_only, now)) < 0)
            return acs_api_raced(rc); /* lost to other writers: not a full queue */
        j->created = rc;
        /* answered with the preset as stored */
        /* fall through */
    case PJ_PRESET_GET:
        return store_preset_get(st, j->name, collect_preset, j);
    case PJ_PRESET_DELETE:
        return acs_api_raced(store_preset_delete(st, j->name)); /* as above */
    case PJ_SCRIPTS:
        j->out = json_array();
        return store_script_list(st, j->sk, collect_script, j);
    case PJ_SCRIPT_PUT:
        if ((rc = store_script_put(st, j->sk, j->name, j->text, j->len, now)) < 0)
            return rc;
        j->created = rc;
        rc = store_script_get(st, j->sk, j->name, collect_script, j);
        if (rc == 0)
            json_object_del(j->out, "source"); /* the caller has it */
        return rc;
    case PJ_SCRIPT_GET:
        return store_script_get(st, j->sk, j->name, collect_script, j);
    case PJ_SCRIPT_DELETE:
        return store_script_delete(st, j->sk, j->name);
    case PJ_RUNS:
        if ((rc = store_device_get(st, j->device, &dev)) < 0)
            return rc;
        j->out = json_array();
        return store_preset_run_list(st, j->device, collect_run, j);
    case PJ_CLEAR:
        if ((rc = store_device_get(st, j->device, &dev)) < 0)
            return rc;
        if ((rc = store_preset_run_clear_fault(st, j->device, j->name, now)) < 0)
            return rc == -ENOENT ? -ENOKEY : rc; /* a device without that record */
        return store_preset_run_list(st, j->device, collect_run, j);
    }
    return -EINVAL;
}

static void job_free(prov_job_t *j)
{
    json_decref(j->out);
    free(j->text);
    free(j);
}

static const char *what(const prov_job_t *j)
{
    if (j->kind <= PJ_PRESET_DELETE)
        return "preset";
    if (j->kind <= PJ_SCRIPT_DELETE)
        return j->sk == STORE_SCRIPT_PROVISION ? "provision" : "virtual parameter";
    return "device";
}

static void answer(prov_job_t *j, int rc);

/* The snapshot sessions use is in place: the answer may go. */
static void reloaded(void *ud)
{
    answer(ud, 0);
}

static void prov_done(int rc, void *ud)
{
    prov_job_t *j = ud;
    if (rc == 0 && (j->kind == PJ_PRESET_PUT || j->kind == PJ_PRESET_DELETE ||
                    j->kind == PJ_SCRIPT_PUT || j->kind == PJ_SCRIPT_DELETE)) {
        /* answered once the sessions' copy has the change: a CPE that
         * informs after the answer sees it (acs_prov_cache.c) */
        acs_prov_reload(j->a, reloaded, j);
        return;
    }
    if (rc == 0 && j->kind == PJ_CLEAR)
        acs_prov_owed_add(j->a, j->device); /* pending: its next session runs it */
    answer(j, rc);
}

static void answer(prov_job_t *j, int rc)
{
    http_req_t *req = j->req;
    char msg[160];
    switch (rc) {
    case 0:
        if (j->kind == PJ_PRESET_DELETE || j->kind == PJ_SCRIPT_DELETE) {
            log_info("api_prov_deleted", LF_S("kind", what(j)), LF_S("name", j->name));
            http_respond(req, 204, NULL, NULL, 0);
        } else {
            if (j->kind == PJ_PRESET_PUT || j->kind == PJ_SCRIPT_PUT)
                log_info("api_prov_stored", LF_S("kind", what(j)), LF_S("name", j->name),
                         LF_B("created", j->created == 1));
            acs_api_json(req, j->created == 1 ? 201 : 200, j->out);
            j->out = NULL;
        }
        break;
    case -ENOENT:
        snprintf(msg, sizeof msg, "no such %s", what(j));
        acs_api_error(req, 404, "not_found", msg);
        break;
    case -ENOKEY:
        acs_api_error(req, 404, "not_found", "the device has no record of that preset");
        break;
    case -EEXIST:
        acs_api_error(req, 409, "conflict",
                      "a preset of that name exists (PUT /api/presets/{name} replaces it)");
        break;
    case -EPERM:
        acs_api_error(req, 409, "conflict",
                      "the preset is defined in the config file (presets:); change it there");
        break;
    case -ESTALE:
        acs_api_error(req, 409, "conflict", "the preset is not faulted on this device");
        break;
    default:
        acs_api_store_error(req, rc); /* the queue full, a lost race (ACS_ERACED)... */
    }
    job_free(j);
}

static void submit(http_req_t *req, acs_t *a, prov_job_t *j)
{
    j->a = a;
    j->req = req;
    int rc = store_worker_submit(a->db, prov_run, prov_done, j);
    if (rc != 0)
        answer(j, rc);
}

/* A job for a route: its {name} (a valid name or 404) and {id}. NULL after answering. */
static prov_job_t *new_job(http_req_t *req, int kind, const char *thing)
{
    const char *name = http_req_param(req, "name"), *id = http_req_param(req, "id");
    char why[128], msg[64];
    if (name && preset_name_check(name, why, sizeof why) != 0) {
        snprintf(msg, sizeof msg, "no such %s", thing);
        acs_api_error(req, 404, "not_found", msg);
        return NULL;
    }
    prov_job_t *j = calloc(1, sizeof *j);
    if (!j) {
        acs_api_error(req, 500, "internal", "out of memory");
        return NULL;
    }
    j->kind = kind;
    if (name)
        str_copy(j->name, sizeof j->name, name);
    if (id && str_copy(j->device, sizeof j->device, id) != 0) {
        free(j);
        acs_api_error(req, 404, "not_found", "no such device");
        return NULL;
    }
    return j;
}

static void invalid(http_req_t *req, const char *code, const char *field, const char *reason, int line)
{
    char msg[448];
    if (line > 0)
        snprintf(msg, sizeof msg, "%s: line %d: %s", field, line, reason);
    else
        snprintf(msg, sizeof msg, "%s%s%s", field, *field ? ": " : "", reason);
    json_t *o = json_pack("{s:s, s:o, s:o}", "error", code, "message", acs_json_text(msg), "field",
                          acs_json_text(field));
    if (o && line > 0)
        json_object_set_new(o, "line", json_integer(line));
    acs_api_json(req, 422, o);
}

/* ---- presets ------------------------------------------------------------------------------ */

/* The body as stored: what the client sent minus what the store keeps
 * apart (name) and what answers add (source, created, updated). */
static char *stored_body(json_t *body)
{
    json_t *c = json_copy(body);
    if (!c)
        return NULL;
    json_object_del(c, "name");
    json_object_del(c, "source");
    json_object_del(c, "created");
    json_object_del(c, "updated");
    char *s = json_dumps(c, JSON_COMPACT);
    json_decref(c);
    return s;
}

static void preset_write(http_req_t *req, acs_t *a, bool create)
{
    size_t len;
    const char *text = http_req_body(req, &len);
    json_error_t e;
    json_t *body = json_loadb(text, len, JSON_REJECT_DUPLICATES, &e);
    if (!body) {
        char msg[256];
        snprintf(msg, sizeof msg, "malformed JSON: %s (line %d)", e.text, e.line);
        acs_api_error(req, 400, "bad_json", msg);
        return;
    }
    const char *name = http_req_param(req, "name");
    preset_t *p = NULL;
    preset_err_t err;
    int rc = preset_parse(body, name, &p, &err);
    if (rc == -EINVAL) {
        invalid(req, "invalid_preset", err.field, err.reason, 0);
    } else if (rc) {
        acs_api_error(req, 500, "internal", "out of memory");
    } else {
        prov_job_t *j = calloc(1, sizeof *j);
        if (!j || !(j->text = stored_body(body))) {
            free(j);
            acs_api_error(req, 500, "internal", "out of memory");
        } else {
            j->kind = PJ_PRESET_PUT;
            j->create_only = create;
            str_copy(j->name, sizeof j->name, p->name);
            submit(req, a, j);
        }
    }
    preset_free(p);
    json_decref(body);
}

static void h_presets(http_req_t *req, void *ud)
{
    prov_job_t *j = new_job(req, PJ_PRESETS, "preset");
    if (j)
        submit(req, ud, j);
}

static void h_preset_post(http_req_t *req, void *ud) { preset_write(req, ud, true); }
static void h_preset_put(http_req_t *req, void *ud) { preset_write(req, ud, false); }

static void h_preset_get(http_req_t *req, void *ud)
{
    prov_job_t *j = new_job(req, PJ_PRESET_GET, "preset");
    if (j)
        submit(req, ud, j);
}

static void h_preset_delete(http_req_t *req, void *ud)
{
    prov_job_t *j = new_job(req, PJ_PRESET_DELETE, "preset");
    if (j)
        submit(req, ud, j);
}

/* ---- provisions and virtual parameters ------------------------------------------------------ */

static void script_list(http_req_t *req, acs_t *a, store_script_kind_t k)
{
    prov_job_t *j = new_job(req, PJ_SCRIPTS, "");
    if (j) {
        j->sk = k;
        submit(req, a, j);
    }
}

static void script_one(http_req_t *req, acs_t *a, store_script_kind_t k, int kind)
{
    prov_job_t *j = new_job(req, kind, k == STORE_SCRIPT_PROVISION ? "provision" : "virtual parameter");
    if (j) {
        j->sk = k;
        submit(req, a, j);
    }
}

/* PUT: the body is the Lua source, checked before it is stored. */
static void script_put(http_req_t *req, acs_t *a, store_script_kind_t k)
{
    size_t len;
    const char *src = http_req_body(req, &len);
    char why[160];
    const char *name = http_req_param(req, "name");
    if (!name || preset_name_check(name, why, sizeof why) != 0) {
        invalid(req, "invalid_script", "name", why, 0);
        return;
    }
    if (len == 0) {
        invalid(req, "invalid_script", "source", "empty: the body is the Lua source", 0);
        return;
    }
    if (len > SCRIPT_MAX) {
        snprintf(why, sizeof why, "at most %d bytes", SCRIPT_MAX);
        invalid(req, "invalid_script", "source", why, 0);
        return;
    }
    /* text the store and the API's JSON can carry */
    if (memchr(src, '\0', len) || !cwmp_text_ok(src)) {
        invalid(req, "invalid_script", "source", "UTF-8 text without control characters but tab and"
                                                 " line breaks", 0);
        return;
    }
    int line;
    char msg[256];
    int rc = prov_lua_check(src, len, &line, msg, sizeof msg);
    if (rc == -EINVAL) {
        invalid(req, "invalid_script", "source", msg, line);
        return;
    }
    if (rc) {
        invalid(req, "invalid_script", "source", "too large to parse", 0);
        return;
    }
    prov_job_t *j = new_job(req, PJ_SCRIPT_PUT, "");
    if (!j)
        return;
    j->sk = k;
    if (!(j->text = malloc(len + 1))) {
        job_free(j);
        acs_api_error(req, 500, "internal", "out of memory");
        return;
    }
    memcpy(j->text, src, len);
    j->text[len] = '\0';
    j->len = len;
    submit(req, a, j);
}

#define SCRIPT_HANDLERS(FN, KIND)                                                          \
    static void h_##FN##_list(http_req_t *req, void *ud) { script_list(req, ud, KIND); }   \
    static void h_##FN##_get(http_req_t *req, void *ud) { script_one(req, ud, KIND, PJ_SCRIPT_GET); } \
    static void h_##FN##_put(http_req_t *req, void *ud) { script_put(req, ud, KIND); }     \
    static void h_##FN##_delete(http_req_t *req, void *ud)                                 \
    {                                                                                      \
        script_one(req, ud, KIND, PJ_SCRIPT_DELETE);                                       \
    }
SCRIPT_HANDLERS(prov, STORE_SCRIPT_PROVISION)
SCRIPT_HANDLERS(vp, STORE_SCRIPT_VIRTUAL_PARAM)

/* ---- a device's preset records ------------------------------------------------------------ */

static void h_device_presets(http_req_t *req, void *ud)
{
    prov_job_t *j = new_job(req, PJ_RUNS, "device");
    if (j)
        submit(req, ud, j);
}

static void h_clear_fault(http_req_t *req, void *ud)
{
    prov_job_t *j = new_job(req, PJ_CLEAR, "preset record");
    if (j)
        submit(req, ud, j);
}

/* Roles (docs/api-keys.md): presets, provisions and virtual parameters are
 * configuration, so changing them is admin; reading them is viewer; clearing
 * a preset's fault on one device (it runs again) acts on that device:
 * operator. */
static const http_route_t routes[] = {
    HTTP_ROUTE("GET", "/api/presets", HTTP_ACCESS_VIEWER, h_presets),
    HTTP_ROUTE("POST", "/api/presets", HTTP_ACCESS_ADMIN, h_preset_post),
    HTTP_ROUTE("GET", "/api/presets/{name}", HTTP_ACCESS_VIEWER, h_preset_get),
    HTTP_ROUTE("PUT", "/api/presets/{name}", HTTP_ACCESS_ADMIN, h_preset_put),
    HTTP_ROUTE("DELETE", "/api/presets/{name}", HTTP_ACCESS_ADMIN, h_preset_delete),
    HTTP_ROUTE("GET", "/api/provisions", HTTP_ACCESS_VIEWER, h_prov_list),
    HTTP_ROUTE("GET", "/api/provisions/{name}", HTTP_ACCESS_VIEWER, h_prov_get),
    HTTP_ROUTE("PUT", "/api/provisions/{name}", HTTP_ACCESS_ADMIN, h_prov_put),
    HTTP_ROUTE("DELETE", "/api/provisions/{name}", HTTP_ACCESS_ADMIN, h_prov_delete),
    HTTP_ROUTE("GET", "/api/virtual-parameters", HTTP_ACCESS_VIEWER, h_vp_list),
    HTTP_ROUTE("GET", "/api/virtual-parameters/{name}", HTTP_ACCESS_VIEWER, h_vp_get),
    HTTP_ROUTE("PUT", "/api/virtual-parameters/{name}", HTTP_ACCESS_ADMIN, h_vp_put),
    HTTP_ROUTE("DELETE", "/api/virtual-parameters/{name}", HTTP_ACCESS_ADMIN, h_vp_delete),
    HTTP_ROUTE("GET", "/api/devices/{id}/presets", HTTP_ACCESS_VIEWER, h_device_presets),
    HTTP_ROUTE("DELETE", "/api/devices/{id}/presets/{name}/fault", HTTP_ACCESS_OPERATOR, h_clear_fault),
};

int acs_prov_api_register(acs_t *a, http_router_t *r)
{
    return HTTP_ROUTER_ADD_TABLE(r, routes, a);
}

/* ---- the config file's presets -------------------------------------------------------------- */

int acs_presets_check(const char *json, char *err, size_t errlen)
{
    json_error_t e;
    json_t *list = json_loads(json, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &e);
    int rc = 0;
    if (!list) {
        snprintf(err, errlen, "not JSON: %s", e.text);
        return -EINVAL;
    }
    if (json_is_null(list))
        goto out;
    if (!json_is_array(list) || json_array_size(list) > CONFIG_PRESETS_MAX) {
        snprintf(err, errlen, "a list of at most %d presets, each with its name", CONFIG_PRESETS_MAX);
        rc = -EINVAL;
        goto out;
    }
    size_t i;
    json_t *v;
    json_array_foreach(list, i, v) {
        preset_t *p = NULL;
        preset_err_t pe;
        if ((rc = preset_parse(v, NULL, &p, &pe)) != 0) {
            if (rc == -EINVAL)
                snprintf(err, errlen, "[%zu]%s%s: %s", i, pe.field[0] ? "." : "", pe.field, pe.reason);
            else
                snprintf(err, errlen, "out of memory");
            rc = -EINVAL;
            goto out;
        }
        for (size_t k = 0; k < i && !rc; k++)
            if (strcmp(json_string_value(json_object_get(json_array_get(list, k), "name")), p->name) == 0) {
                snprintf(err, errlen, "[%zu].name: '%s' given twice", i, p->name);
                rc = -EINVAL;
            }
        preset_free(p);
        if (rc)
            goto out;
    }
out:
    json_decref(list);
    return rc;
}

typedef struct sync_job {
    acs_t *a;
    store_preset_t *p;
    char **bodies;
    size_t n;
    json_t *list;          /* holds the names */
    int replaced;
} sync_job_t;

static int sync_replaced(const store_preset_t *p, void *ud)
{
    ((sync_job_t *)ud)->replaced++;
    log_warn("preset_replaced_by_config", LF_S("preset", p->name),
             LF_S("reason", "the config file defines a preset of this name: the file's wins"));
    return 0;
}

static int sync_run(store_t *st, void *ud)
{
    sync_job_t *j = ud;
    return store_preset_sync_config(st, j->p, j->n, clock_real_s(), sync_replaced, j);
}

static void sync_free(sync_job_t *j)
{
    for (size_t i = 0; i < j->n; i++)
        free(j->bodies[i]);
    free(j->bodies);
    free(j->p);
    json_decref(j->list);
    free(j);
}

static void sync_log(sync_job_t *j, int rc)
{
    if (rc == 0)
        log_info("presets_config", LF_U("presets", j->n), LF_I("replaced_api_presets", j->replaced));
    else
        log_error("presets_config_failed", LF_ERR(rc));
}

static void sync_done(int rc, void *ud)
{
    sync_job_t *j = ud;
    sync_log(j, rc);
    if (rc == 0)
        acs_prov_reload(j->a, NULL, NULL);
    sync_free(j);
}

static sync_job_t *sync_new(acs_t *a, const char *json)
{
    sync_job_t *j = calloc(1, sizeof *j);
    if (!j)
        return NULL;
    j->a = a;
    j->list = json ? json_loads(json, JSON_DECODE_ANY, NULL) : NULL;
    size_t n = json_is_array(j->list) ? json_array_size(j->list) : 0;
    j->p = calloc(n ? n : 1, sizeof *j->p);
    j->bodies = calloc(n ? n : 1, sizeof *j->bodies);
    if (!j->p || !j->bodies) {
        sync_free(j);
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        json_t *v = json_array_get(j->list, i);
        j->p[i].name = json_string_value(json_object_get(v, "name"));
        if (!j->p[i].name || !(j->bodies[i] = stored_body(v))) {
            j->n = i;
            sync_free(j);
            return NULL;
        }
        j->p[i].body = j->bodies[i];
        j->n = i + 1;
    }
    return j;
}

int acs_presets_sync(acs_t *a, const char *json)
{
    if (!a->db || a->stopping)
        return -ECANCELED; /* a SIGHUP during the shutdown */
    sync_job_t *j = sync_new(a, json);
    if (!j)
        return -ENOMEM;
    int rc = store_worker_submit(a->db, sync_run, sync_done, j);
    if (rc) {
        log_error("presets_config_failed", LF_ERR(rc));
        sync_free(j);
    }
    return rc;
}

int acs_presets_sync_start(acs_t *a, const char *json)
{
    sync_job_t *j = sync_new(a, json);
    if (!j)
        return -ENOMEM;
    int rc = store_begin(a->store);
    if (rc == 0) {
        rc = sync_run(a->store, j);
        int c = rc == 0 ? store_commit(a->store) : store_rollback(a->store);
        if (rc == 0)
            rc = c;
    }
    sync_log(j, rc);
    sync_free(j);
    return rc;
}
