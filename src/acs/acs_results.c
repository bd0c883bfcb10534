/*
 * acs_results: what a CPE's message leaves behind (acs_tasks.h): a task's
 * result JSON, built by its row's `result` / `result_text` (the answer), or
 * here for a Fault and a TransferComplete; and the parameter rows the store
 * keeps of a parameter list. Pure.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "acs/acs_tasks.h"
#include "core/buf.h"
#include "core/hmap.h"
#include "core/str.h"

/* ---- the rows' results ------------------------------------------------------------ */

json_t *acs_result_values(const cwmp_msg_t *m)
{
    json_t *r = json_object(), *a = json_array();
    for (size_t i = 0; i < m->n_params; i++)
        json_array_append_new(a, json_pack("{s:s, s:s, s:s}", "name", m->params[i].name, "value",
                                           m->params[i].value, "type",
                                           m->params[i].type ? m->params[i].type : ""));
    json_object_set_new(r, "parameters", a);
    return r;
}

json_t *acs_result_names(const cwmp_msg_t *m)
{
    json_t *r = json_object(), *a = json_array();
    for (size_t i = 0; i < m->n_params; i++)
        json_array_append_new(a, json_pack("{s:s, s:b}", "name", m->params[i].name, "writable",
                                           m->params[i].writable));
    json_object_set_new(r, "parameters", a);
    return r;
}

json_t *acs_result_attributes(const cwmp_msg_t *m)
{
    json_t *r = json_object(), *a = json_array();
    for (size_t i = 0; i < m->n_params; i++) {
        json_t *al = json_array();
        const char *s = m->params[i].access_list;
        while (s && *s) {
            const char *e = strchr(s, ',');
            size_t n = e ? (size_t)(e - s) : strlen(s);
            json_array_append_new(al, json_stringn(s, n));
            s = e ? e + 1 : s + n;
        }
        json_array_append_new(a, json_pack("{s:s, s:i, s:o}", "name", m->params[i].name,
                                           "notification", m->params[i].notification,
                                           "access_list", al));
    }
    json_object_set_new(r, "attributes", a);
    return r;
}

json_t *acs_result_methods(const cwmp_msg_t *m)
{
    json_t *r = json_object(), *a = json_array();
    for (size_t i = 0; i < m->n_names; i++)
        json_array_append_new(a, json_string(m->names[i]));
    json_object_set_new(r, "methods", a);
    return r;
}

/* SetParameterValuesResponse, DeleteObjectResponse */
json_t *acs_result_status(const cwmp_msg_t *m)
{
    return json_pack("{s:i}", "status", m->status);
}

json_t *acs_result_add_object(const cwmp_msg_t *m)
{
    return json_pack("{s:I, s:i}", "instance_number", (json_int_t)m->instance_number, "status",
                     m->status);
}

/* The times of a transfer (DownloadResponse, UploadResponse, TransferComplete). */
static void transfer_times(json_t *r, const cwmp_msg_t *m)
{
    if (m->start_time)
        json_object_set_new(r, "start_time", json_string(m->start_time));
    if (m->complete_time)
        json_object_set_new(r, "complete_time", json_string(m->complete_time));
}

/* DownloadResponse, UploadResponse */
json_t *acs_result_transfer(const cwmp_msg_t *m)
{
    json_t *r = json_pack("{s:i}", "status", m->status);
    if (r)
        transfer_times(r, m);
    return r;
}

/* ---- any message ------------------------------------------------------------------ */

static const acs_task_type_t *row_of_response(cwmp_type_t t)
{
    for (size_t i = 0; i < acs_task_ntypes; i++)
        if (acs_task_types[i].response == t)
            return &acs_task_types[i];
    return NULL;
}

json_t *acs_result_json(const cwmp_msg_t *m)
{
    if (m->type == CWMP_TRANSFER_COMPLETE) {
        json_t *r = json_pack("{s:i}", "fault_code", m->fault_code);
        if (r)
            transfer_times(r, m);
        return r;
    }
    if (m->type == CWMP_FAULT) {
        json_t *r = json_object(), *a = json_array();
        for (size_t i = 0; i < m->fault.n_spv; i++)
            json_array_append_new(a, json_pack("{s:s, s:i, s:s}", "name", m->fault.spv[i].name,
                                               "code", m->fault.spv[i].code, "message",
                                               m->fault.spv[i].string ? m->fault.spv[i].string : ""));
        if (json_array_size(a))
            json_object_set_new(r, "set_parameter_values_faults", a);
        else
            json_decref(a);
        return r;
    }
    const acs_task_type_t *t = row_of_response(m->type);
    return t && t->result ? t->result(m) : json_object();
}

/* JSON string escaping for the fast paths below (the decoder only hands out
 * valid UTF-8, so only quotes, backslashes and control bytes need care). */
static void jesc(buf_t *b, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    (void)buf_append_byte(b, '"');
    const char *run = s;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        (void)buf_append(b, run, (size_t)(s - run));
        run = s + 1;
        char e[7] = { '\\', (char)c, 0 };
        if (c < 0x20) {
            e[1] = 'u';
            e[2] = '0';
            e[3] = '0';
            e[4] = hex[c >> 4];
            e[5] = hex[c & 15];
            e[6] = 0;
        }
        (void)buf_append_str(b, e);
    }
    (void)buf_append(b, run, (size_t)(s - run));
    (void)buf_append_byte(b, '"');
}

/* Parameter lists can be long (thousands of entries): written straight into
 * a buffer, not built as a tree. values: name/value/type, else name/writable. */
static char *params_text(const cwmp_msg_t *m, bool values)
{
    buf_t b = BUF_INIT(256 * 1024 * 1024);
    (void)buf_append_str(&b, "{\"parameters\":[");
    for (size_t i = 0; i < m->n_params; i++) {
        const cwmp_param_t *p = &m->params[i];
        (void)buf_append_str(&b, i ? ",{\"name\":" : "{\"name\":");
        jesc(&b, p->name);
        if (values) {
            (void)buf_append_str(&b, ",\"value\":");
            jesc(&b, p->value);
            (void)buf_append_str(&b, ",\"type\":");
            jesc(&b, p->type ? p->type : "");
            (void)buf_append_byte(&b, '}');
        } else {
            (void)buf_append_str(&b, p->writable ? ",\"writable\":true}" : ",\"writable\":false}");
        }
    }
    if (buf_append_str(&b, "]}") < 0) {
        buf_free(&b);
        return NULL;
    }
    return buf_steal(&b, NULL);
}

char *acs_result_values_text(const cwmp_msg_t *m)
{
    return params_text(m, true);
}

char *acs_result_names_text(const cwmp_msg_t *m)
{
    return params_text(m, false);
}

char *acs_result_text(const cwmp_msg_t *m)
{
    const acs_task_type_t *t = row_of_response(m->type);
    if (t && t->result_text)
        return t->result_text(m);
    json_t *r = acs_result_json(m);
    char *text = json_dumps(r, JSON_COMPACT);
    json_decref(r);
    return text;
}

/* ---- parameter rows ------------------------------------------------------------- */

/* Copy a decoded parameter list (the decoder is reused for the next
 * message): the rows and one block holding every string. */
int acs_copy_params(const cwmp_msg_t *m, bool values, store_param_t **params, char **strings,
                    size_t *n)
{
    size_t total = 0;
    for (size_t i = 0; i < m->n_params; i++)
        total += strlen(m->params[i].name) + 1 +
                 (values ? strlen(m->params[i].value) +
                               strlen(m->params[i].type ? m->params[i].type : "") + 2
                         : 0);
    store_param_t *v = calloc(m->n_params ? m->n_params : 1, sizeof *v);
    char *p = malloc(total ? total : 1);
    if (!v || !p) {
        free(v);
        free(p);
        return -ENOMEM;
    }
    *params = v;
    *strings = p;
#define PUT(dst, src)                \
    do {                             \
        size_t l_ = strlen(src) + 1; \
        memcpy(p, (src), l_);        \
        (dst) = p;                   \
        p += l_;                     \
    } while (0)
    for (size_t i = 0; i < m->n_params; i++) {
        store_param_t *sp = &v[i];
        PUT(sp->name, m->params[i].name);
        if (values) {
            PUT(sp->value, m->params[i].value);
            PUT(sp->type, m->params[i].type ? m->params[i].type : "");
            sp->writable = -1;
        } else {
            sp->value = NULL;
            sp->writable = m->params[i].writable;
        }
    }
#undef PUT
    *n = m->n_params;
    return 0;
}

/* ---- what an accepted set leaves behind ------------------------------------------ */

int acs_set_rows(const char *type, const char *params_json, store_param_t **params,
                 char **strings, size_t *n)
{
    cwmp_msg_t m = { .type = CWMP_NONE };
    acs_rpc_scratch_t sc;
    char key[40];
    *params = NULL;
    *strings = NULL;
    *n = 0;
    if (strcmp(type, "set_params") != 0)
        return 0;
    /* the values exactly as the RPC carried them (numbers and booleans
     * formatted, the xsd types chosen) */
    int rc = acs_task_rpc_text(type, params_json, 0, &m, &sc, key, sizeof key);
    if (rc == 0)
        rc = acs_copy_params(&m, true, params, strings, n);
    acs_rpc_scratch_free(&sc);
    for (size_t i = 0; rc == 0 && i < *n; i++)
        (*params)[i].set_by = STORE_SET_BY_ACS;
    return rc;
}

/* The attributes of a SetParameterAttributes (what changed) or a
 * GetParameterAttributesResponse (what is): rows and one string block. */
static int attr_rows(const cwmp_msg_t *m, bool changes, store_param_attr_t **attrs,
                     char **strings, size_t *n)
{
    size_t total = 0;
    for (size_t i = 0; i < m->n_params; i++)
        total += strlen(m->params[i].name) + 2 +
                 (m->params[i].access_list ? strlen(m->params[i].access_list) : 0);
    store_param_attr_t *v = calloc(m->n_params ? m->n_params : 1, sizeof *v);
    char *p = malloc(total ? total : 1);
    if (!v || !p) {
        free(v);
        free(p);
        return -ENOMEM;
    }
    *attrs = v;
    *strings = p;
    for (size_t i = 0; i < m->n_params; i++) {
        const cwmp_param_t *cp = &m->params[i];
        size_t l = strlen(cp->name) + 1;
        memcpy(p, cp->name, l);
        v[i].name = p;
        p += l;
        v[i].notification = !changes || cp->notification_change ? cp->notification : -1;
        v[i].access_list = NULL;
        if (!changes || cp->access_list_change) {
            const char *al = cp->access_list ? cp->access_list : "";
            l = strlen(al) + 1;
            memcpy(p, al, l);
            v[i].access_list = p;
            p += l;
        }
    }
    *n = m->n_params;
    return 0;
}

int acs_set_attr_rows(const char *params_json, store_param_attr_t **attrs, char **strings, size_t *n)
{
    cwmp_msg_t m = { .type = CWMP_NONE };
    acs_rpc_scratch_t sc;
    char key[40];
    int rc = acs_task_rpc_text("set_attributes", params_json, 0, &m, &sc, key, sizeof key);
    if (rc == 0)
        rc = attr_rows(&m, true, attrs, strings, n);
    acs_rpc_scratch_free(&sc);
    return rc;
}

int acs_attr_rows(const cwmp_msg_t *m, store_param_attr_t **attrs, char **strings, size_t *n)
{
    return attr_rows(m, false, attrs, strings, n);
}

/* The parameters store_device_facts_t keeps, under the data model root's
 * own ManagementServer; a value that does not parse is not learnt. */
static bool fact_interval(const char *v, int64_t now, store_device_facts_t *f)
{
    (void)now;
    int64_t secs;
    if (str_to_i64(v, 1, INT32_MAX, &secs) != 0)
        return false;
    f->interval = secs;
    return true;
}

static bool fact_nat(const char *v, int64_t now, store_device_facts_t *f)
{
    (void)now;
    bool on = strcmp(v, "1") == 0 || strcmp(v, "true") == 0;
    if (!on && strcmp(v, "0") != 0 && strcmp(v, "false") != 0)
        return false;
    f->nat = on;
    return true;
}

static bool fact_udp(const char *v, int64_t now, store_device_facts_t *f)
{
    if (str_copy(f->cr_udp, sizeof f->cr_udp, v) != 0)
        return false;
    f->cr_udp_at = now;
    return f->has_udp = true;
}

static bool fact_jid(const char *v, int64_t now, store_device_facts_t *f)
{
    (void)now;
    return f->has_jid = str_copy(f->cr_jid, sizeof f->cr_jid, v) == 0;
}

static const struct {
    const char *suffix;
    bool (*learn)(const char *v, int64_t now, store_device_facts_t *f);
} facts[] = {
    { ".ManagementServer.PeriodicInformInterval", fact_interval },
    { ".ManagementServer.NATDetected", fact_nat },
    { ".ManagementServer.UDPConnectionRequestAddress", fact_udp },
    { ".ManagementServer.ConnReqJabberID", fact_jid },
};

bool acs_params_facts(const store_param_t *p, size_t n, int64_t now, store_device_facts_t *f)
{
    *f = STORE_DEVICE_FACTS_NONE;
    bool any = false;
    for (size_t i = 0; i < n; i++) {
        const char *dot = strchr(p[i].name, '.');
        /* the data model root's own ManagementServer only ("Device.",
         * "InternetGatewayDevice."), not a vendor object's */
        if (!dot || !p[i].value || strncmp(dot, ".ManagementServer.", 18) != 0)
            continue;
        for (size_t k = 0; k < sizeof facts / sizeof facts[0]; k++)
            if (strcmp(dot, facts[k].suffix) == 0) {
                if (facts[k].learn(p[i].value, now, f))
                    any = true;
                break;
            }
    }
    return any;
}

int acs_merge_names(store_param_t **vals, size_t *nvals, const store_param_t *names, size_t nnames)
{
    hmap_t idx;
    hmap_init(&idx);
    size_t extra = 0;
    int rc = 0;
    for (size_t i = 0; i < *nvals && !rc; i++)
        rc = hmap_put(&idx, (*vals)[i].name, strlen((*vals)[i].name), (void *)(uintptr_t)(i + 1));
    bool *taken = rc ? NULL : calloc(nnames ? nnames : 1, sizeof *taken);
    if (!taken)
        rc = -ENOMEM;
    for (size_t i = 0; i < nnames && !rc; i++) {
        uintptr_t at = (uintptr_t)hmap_get(&idx, names[i].name, strlen(names[i].name));
        if (at) {
            (*vals)[at - 1].writable = names[i].writable;
            taken[i] = true;
        } else {
            extra++;
        }
    }
    hmap_free(&idx);
    if (!rc && extra) {
        store_param_t *v = realloc(*vals, (*nvals + extra) * sizeof *v);
        if (!v) {
            rc = -ENOMEM;
        } else {
            *vals = v;
            for (size_t i = 0; i < nnames; i++)
                if (!taken[i])
                    v[(*nvals)++] = names[i]; /* objects, names the read did not cover */
        }
    }
    free(taken);
    return rc;
}
