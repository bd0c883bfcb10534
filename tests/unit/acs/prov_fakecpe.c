/* A fake CPE for the provisioning tests: see prov_fakecpe.h. */
#include "prov_fakecpe.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void fake_init(fakecpe_t *f) { memset(f, 0, sizeof *f); }

static void answer_reset(fakecpe_t *f)
{
    for (size_t i = 0; i < f->nparams; i++) {
        free((char *)f->params[i].name);
        free((char *)f->params[i].value);
    }
    free(f->params);
    f->params = NULL;
    f->nparams = 0;
    memset(&f->resp, 0, sizeof f->resp);
}

void fake_free(fakecpe_t *f)
{
    answer_reset(f);
    for (size_t i = 0; i < f->n; i++) {
        free(f->e[i].name);
        free(f->e[i].value);
        free(f->e[i].type);
    }
    free(f->e);
}

static fake_ent_t *find(const fakecpe_t *f, const char *name)
{
    for (size_t i = 0; i < f->n; i++)
        if (strcmp(f->e[i].name, name) == 0)
            return &f->e[i];
    return NULL;
}

bool fake_has(const fakecpe_t *f, const char *name) { return find(f, name) != NULL; }

const char *fake_get(const fakecpe_t *f, const char *name)
{
    fake_ent_t *e = find(f, name);
    return e ? e->value : NULL;
}

static void put(fakecpe_t *f, const char *name, const char *value, const char *type, int writable)
{
    fake_ent_t *e = find(f, name);
    if (!e) {
        if (f->n == f->cap) {
            f->cap = f->cap ? f->cap * 2 : 32;
            f->e = realloc(f->e, f->cap * sizeof *f->e);
        }
        e = &f->e[f->n++];
        memset(e, 0, sizeof *e);
        e->name = strdup(name);
    }
    free(e->value);
    free(e->type);
    e->value = value ? strdup(value) : NULL;
    e->type = strdup(type ? type : "xsd:string");
    e->writable = writable;
}

void fake_set(fakecpe_t *f, const char *name, const char *value, const char *type, int writable)
{
    /* ancestors exist as objects */
    char buf[600];
    for (const char *p = name; (p = strchr(p, '.')) && p[1]; p++) {
        snprintf(buf, sizeof buf, "%.*s", (int)(p - name + 1), name);
        if (!find(f, buf))
            put(f, buf, NULL, NULL, 1);
    }
    put(f, name, value, type, writable);
}

static void add_param(fakecpe_t *f, const char *name, const char *value, const char *type,
                      int writable)
{
    f->params = realloc(f->params, (f->nparams + 1) * sizeof *f->params);
    cwmp_param_t *p = &f->params[f->nparams++];
    memset(p, 0, sizeof *p);
    p->name = strdup(name);
    p->value = value ? strdup(value) : NULL;
    p->type = type;
    p->writable = writable;
}

static void fault(fakecpe_t *f, int code)
{
    f->resp.type = CWMP_FAULT;
    f->resp.fault.code = code;
    f->resp.fault.string = cwmp_fault_text(code);
}

static bool is_object(const char *s) { size_t n = strlen(s); return n && s[n - 1] == '.'; }

/* direct child of obj ("A.B." -> "A.B.x" / "A.B.x.") */
static bool direct_child(const char *obj, const char *name)
{
    size_t lo = strlen(obj);
    if (strncmp(name, obj, lo) != 0 || !name[lo])
        return false;
    const char *rest = name + lo;
    const char *dot = strchr(rest, '.');
    return !dot || !dot[1];
}

const cwmp_msg_t *fake_answer(fakecpe_t *f, const prov_rpc_t *rpc)
{
    answer_reset(f);
    f->rpcs[rpc->kind]++;
    switch (rpc->kind) {
    case PROV_RPC_GPN: {
        const char *path = rpc->path;
        if (*path && !find(f, path)) {
            fault(f, 9005);
            break;
        }
        f->resp.type = CWMP_GET_PARAMETER_NAMES_RESPONSE;
        for (size_t i = 0; i < f->n; i++) {
            const char *nm = f->e[i].name;
            bool in;
            if (!*path)
                in = rpc->next_level ? direct_child("", nm) : true;
            else if (!is_object(path))
                in = strcmp(nm, path) == 0;
            else if (rpc->next_level)
                in = direct_child(path, nm);
            else
                in = strncmp(nm, path, strlen(path)) == 0;
            if (in)
                add_param(f, nm, NULL, NULL, f->e[i].writable);
        }
        break;
    }
    case PROV_RPC_GPV:
        for (size_t k = 0; k < rpc->n_names; k++) {
            const char *nm = rpc->names[k];
            if (!find(f, nm)) {
                answer_reset(f);
                fault(f, 9005);
                return &f->resp;
            }
            for (size_t i = 0; i < f->n; i++) {
                const fake_ent_t *e = &f->e[i];
                if (is_object(e->name))
                    continue;
                if (is_object(nm) ? strncmp(e->name, nm, strlen(nm)) == 0 : strcmp(e->name, nm) == 0)
                    add_param(f, e->name, e->value, e->type, e->writable);
            }
        }
        f->resp.type = CWMP_GET_PARAMETER_VALUES_RESPONSE;
        break;
    case PROV_RPC_SPV:
        for (size_t k = 0; k < rpc->n_params; k++) {
            fake_ent_t *e = find(f, rpc->params[k].name);
            if (!e || is_object(e->name)) {
                fault(f, 9005);
                return &f->resp;
            }
            if (!e->writable) {
                fault(f, 9008);
                return &f->resp;
            }
        }
        if (!f->ignore_spv)
            for (size_t k = 0; k < rpc->n_params; k++) {
                fake_ent_t *e = find(f, rpc->params[k].name);
                free(e->value);
                e->value = strdup(rpc->params[k].value);
            }
        f->resp.type = CWMP_SET_PARAMETER_VALUES_RESPONSE;
        break;
    case PROV_RPC_ADD: {
        if (!find(f, rpc->path)) {
            fault(f, 9005);
            break;
        }
        /* the new instance copies the parameters of the first one */
        unsigned max = 0;
        const char *tmpl = NULL;
        size_t lp = strlen(rpc->path);
        for (size_t i = 0; i < f->n; i++)
            if (direct_child(rpc->path, f->e[i].name) && is_object(f->e[i].name)) {
                unsigned v = (unsigned)atoi(f->e[i].name + lp);
                if (v > max)
                    max = v;
                if (!tmpl)
                    tmpl = f->e[i].name;
            }
        char inst[600];
        snprintf(inst, sizeof inst, "%s%u.", rpc->path, max + 1);
        put(f, inst, NULL, NULL, 1);
        if (tmpl) {
            char t[600];
            snprintf(t, sizeof t, "%s", tmpl);
            size_t lt = strlen(t), n0 = f->n;
            for (size_t i = 0; i < n0; i++)
                if (strncmp(f->e[i].name, t, lt) == 0 && f->e[i].name[lt]) {
                    char nm[700];
                    snprintf(nm, sizeof nm, "%s%s", inst, f->e[i].name + lt);
                    fake_set(f, nm, is_object(nm) ? NULL : "", f->e[i].type, f->e[i].writable);
                }
        }
        f->resp.type = CWMP_ADD_OBJECT_RESPONSE;
        f->resp.instance_number = max + 1;
        break;
    }
    case PROV_RPC_DEL: {
        if (!find(f, rpc->path)) {
            fault(f, 9005);
            break;
        }
        size_t lp = strlen(rpc->path), k = 0;
        for (size_t i = 0; i < f->n; i++) {
            if (strncmp(f->e[i].name, rpc->path, lp) == 0) {
                free(f->e[i].name);
                free(f->e[i].value);
                free(f->e[i].type);
                continue;
            }
            f->e[k++] = f->e[i];
        }
        f->n = k;
        f->resp.type = CWMP_DELETE_OBJECT_RESPONSE;
        break;
    }
    default:
        fault(f, 9002);
        break;
    }
    f->resp.params = f->params;
    f->resp.n_params = f->nparams;
    return &f->resp;
}

void fake_tr181(fakecpe_t *f)
{
    fake_set(f, "Device.DeviceInfo.Manufacturer", "Acme", NULL, 0);
    fake_set(f, "Device.DeviceInfo.ModelName", "R1", NULL, 0);
    fake_set(f, "Device.DeviceInfo.SoftwareVersion", "1.0", NULL, 0);
    fake_set(f, "Device.ManagementServer.PeriodicInformInterval", "3600", "xsd:unsignedInt", 1);
    fake_set(f, "Device.ManagementServer.PeriodicInformEnable", "1", "xsd:boolean", 1);
    fake_set(f, "Device.WiFi.SSID.1.SSID", "one", NULL, 1);
    fake_set(f, "Device.WiFi.SSID.1.Enable", "true", "xsd:boolean", 1);
    fake_set(f, "Device.WiFi.SSID.2.SSID", "two", NULL, 1);
    fake_set(f, "Device.WiFi.SSID.2.Enable", "false", "xsd:boolean", 1);
    fake_set(f, "Device.WiFi.AccessPoint.1.Security.KeyPassphrase", "", NULL, 1);
    fake_set(f, "Device.IP.Interface.1.Alias", "lan", NULL, 1);
    fake_set(f, "Device.IP.Interface.1.Enable", "true", "xsd:boolean", 1);
}
