/*
 * preset: a preset's JSON validated into a preset_t (every error names the
 * field), its templates, and whether it runs now (see preset.h). Pure.
 *
 * What a provision puts on the wire is checked by the task validator
 * (acs_task_validate), the same rules the REST API's tasks follow: a
 * download URL must be http, https or ftp with a host; a set value must fit
 * its xsd type. A value that is a template is checked once expanded, by
 * whoever expands it.
 */
#include "acs/provision/preset.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acs/acs_internal.h"
#include "acs/acs_tasks.h"
#include "codec/cwmp.h"
#include "core/config.h"
#include "core/str.h"

static int fail(preset_err_t *e, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(preset_err_t *e, const char *field, const char *fmt, ...)
{
    str_copy(e->field, sizeof e->field, field);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->reason, sizeof e->reason, fmt, ap);
    va_end(ap);
    return -EINVAL;
}

int preset_name_check(const char *name, char *err, size_t errlen)
{
    size_t n = strlen(name);
    bool ok = n >= 1 && n <= PRESET_NAME_MAX;
    for (size_t i = 0; ok && i < n; i++) {
        char c = name[i];
        ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
             c == '-';
    }
    if (ok)
        return 0;
    snprintf(err, errlen, "a name is 1-%d characters of A-Z a-z 0-9 _ -", PRESET_NAME_MAX);
    return -EINVAL;
}

/* ---- events ----------------------------------------------------------------------- */

/* TR-069 Amendment 6, Table 7: the numbered codes (codec/cwmp) and the "M" methods. */
static const char *const m_events[] = {
    "M Reboot", "M ScheduleInform", "M Download", "M ScheduleDownload", "M Upload", "M ChangeDUState",
};

/* Vendor text: printable ASCII, no more than the 64 characters an
 * EventCode holds. */
static bool vendor_text(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
            return false;
    return true;
}

bool preset_event_known(const char *code)
{
    if (strlen(code) > 64)
        return false;
    for (size_t i = 0; i < CWMP_EVENT_CODES; i++)
        if (strcmp(code, cwmp_event_codes[i]) == 0)
            return true;
    for (size_t i = 0; i < sizeof m_events / sizeof m_events[0]; i++)
        if (strcmp(code, m_events[i]) == 0)
            return true;
    /* "M X_VENDOR_Method" and "X OUI event": vendor extensions */
    if (strncmp(code, "M X_", 4) == 0)
        return vendor_text(code + 4) && !strchr(code + 4, ' ');
    if (strncmp(code, "X ", 2) == 0) {
        const char *sp = strchr(code + 2, ' ');
        return sp && sp - (code + 2) == 6 && vendor_text(sp + 1);
    }
    return false;
}

/* ---- small field checkers -------------------------------------------------------- */

static bool json_text(const json_t *v, size_t max)
{
    return json_is_string(v) && json_string_length(v) <= max && json_string_length(v) > 0 &&
           strlen(json_string_value(v)) == json_string_length(v) &&
           cwmp_text_ok(json_string_value(v));
}

/* A parameter or object path: printable, no spaces, not starting with '.',
 * no empty segment. Instance wildcards (*) and key selectors ([K:v]) are
 * the engine's to interpret. */
static bool path_ok(const char *p, bool object_ok)
{
    size_t n = strlen(p);
    if (n == 0 || n > 256 || p[0] == '.' || strstr(p, ".."))
        return false;
    for (const char *c = p; *c; c++)
        if ((unsigned char)*c <= ' ' || *c == 0x7f || *c == '{' || *c == '}')
            return false;
    return object_ok || p[n - 1] != '.';
}

static bool tag_ok(const char *t)
{
    size_t n = strlen(t);
    return n >= 1 && n <= 64 && !strchr(t, ',') && cwmp_text_ok(t);
}

/* Seconds from an integer or a duration text ("5m"), within [min, max]. */
static int duration_s(const json_t *v, int64_t min, int64_t max, int64_t *out)
{
    int64_t s;
    if (json_is_integer(v)) {
        s = json_integer_value(v);
    } else if (json_is_string(v)) {
        int64_t ms;
        if (cfg_parse_duration_ms(json_string_value(v), &ms) != 0)
            return -EINVAL;
        s = ms / 1000;
    } else {
        return -EINVAL;
    }
    if (s < min || s > max)
        return -EINVAL;
    *out = s;
    return 0;
}

/* A scalar as text: strings as they are, numbers as JSON writes them. */
static char *scalar_text(const json_t *v)
{
    char num[64];
    if (json_is_string(v))
        return strdup(json_string_value(v));
    if (json_is_boolean(v))
        return strdup(json_is_true(v) ? "true" : "false");
    if (json_is_integer(v))
        snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    else if (json_is_real(v))
        snprintf(num, sizeof num, "%.17g", json_real_value(v));
    else
        return NULL;
    return strdup(num);
}

static bool has_unknown(const json_t *obj, const char *const *allowed, const char **bad)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)obj, k, v) {
        const char *const *a = allowed;
        while (*a && strcmp(*a, k) != 0)
            a++;
        if (!*a) {
            *bad = k;
            return true;
        }
    }
    return false;
}

static bool is_template(const char *s)
{
    return strpbrk(s, "{}") != NULL;
}

/* ---- match conditions ---------------------------------------------------------------- */

static const char *const field_names[PF_COUNT] = {
    [PF_DEVICE_ID] = "device_id", [PF_SERIAL] = "serial_number",
    [PF_PRODUCT_CLASS] = "product_class", [PF_MODEL] = "model", [PF_OUI] = "oui",
    [PF_SOFTWARE_VERSION] = "software_version", [PF_HARDWARE_VERSION] = "hardware_version",
    [PF_MANUFACTURER] = "manufacturer", [PF_TAG] = "tag", [PF_PARAM] = "param:NAME",
};

static const char *const op_names[] = { [PO_EQ] = "=", [PO_NE] = "!=", [PO_LT] = "<", [PO_LE] = "<=",
                                        [PO_GT] = ">", [PO_GE] = ">=", [PO_PREFIX] = "^=",
                                        [PO_GLOB] = "glob" };

static int parse_cond(const json_t *c, size_t i, preset_cond_t *out, preset_err_t *err)
{
    static const char *const keys[] = { "field", "op", "value", NULL };
    char at[64];
    const char *bad;
    snprintf(at, sizeof at, "match[%zu]", i);
    if (!json_is_object(c))
        return fail(err, at, "a condition {\"field\": ..., \"op\": ..., \"value\": ...}");
    if (has_unknown(c, keys, &bad)) {
        snprintf(at, sizeof at, "match[%zu].%.32s", i, bad);
        return fail(err, at, "unknown field (a condition has field, op and value)");
    }
    json_t *f = json_object_get(c, "field"), *o = json_object_get(c, "op"),
           *v = json_object_get(c, "value");
    snprintf(at, sizeof at, "match[%zu].field", i);
    if (!json_text(f, 300))
        return fail(err, at, "required: device_id, serial_number, product_class, model, oui,"
                             " software_version, hardware_version, manufacturer, tag or param:NAME");
    const char *fs = json_string_value(f);
    if (strncmp(fs, "param:", 6) == 0) {
        out->field = PF_PARAM;
        if (!path_ok(fs + 6, false))
            return fail(err, at, "param:NAME names a parameter (1-256 characters, no spaces)");
        if (!(out->param = strdup(fs + 6)))
            return -ENOMEM;
    } else {
        int k = 0;
        while (k < PF_PARAM && strcmp(field_names[k], fs) != 0)
            k++;
        if (k == PF_PARAM)
            return fail(err, at, "unknown field '%.64s' (device_id, serial_number, product_class,"
                                 " model, oui, software_version, hardware_version, manufacturer,"
                                 " tag, param:NAME)", fs);
        out->field = (preset_field_t)k;
    }
    snprintf(at, sizeof at, "match[%zu].op", i);
    const char *os = json_string_value(o);
    size_t k = 0;
    while (os && k < sizeof op_names / sizeof op_names[0] && strcmp(op_names[k], os) != 0)
        k++;
    if (!os || k == sizeof op_names / sizeof op_names[0])
        return fail(err, at, "%s%.16s%s: one of =, !=, <, <=, >, >=, ^= (prefix), glob",
                    os ? "unknown operator '" : "required", os ? os : "", os ? "'" : "");
    out->op = (preset_op_t)k;
    if (out->field == PF_TAG && out->op >= PO_LT && out->op <= PO_GE)
        return fail(err, at, "a tag is matched with =, !=, ^= or glob");
    snprintf(at, sizeof at, "match[%zu].value", i);
    if (!(json_is_string(v) || json_is_number(v)))
        return fail(err, at, "required: a string or a number");
    if (json_is_string(v) && (json_string_length(v) > PRESET_TEXT_MAX ||
                              strlen(json_string_value(v)) != json_string_length(v)))
        return fail(err, at, "at most %d characters, no NUL", PRESET_TEXT_MAX);
    if (!(out->value = scalar_text(v)))
        return -ENOMEM;
    return 0;
}

/* ---- provisions ------------------------------------------------------------------------- */

typedef struct prov_kind {
    const char *name;
    preset_prov_type_t type;
    const char *const *fields; /* besides "type" */
} prov_kind_t;

static const char *const f_set[] = { "type", "path", "value", "value_type", NULL };
static const char *const f_tag[] = { "type", "tag", NULL };
static const char *const f_refresh[] = { "type", "path", NULL };
static const char *const f_download[] = { "type", "url", "file", "file_type", NULL };
static const char *const f_reboot[] = { "type", NULL };
static const char *const f_script[] = { "type", "name", "args", NULL };

static const prov_kind_t prov_kinds[] = {
    { "set", PP_SET, f_set },           { "add_tag", PP_ADD_TAG, f_tag },
    { "remove_tag", PP_REMOVE_TAG, f_tag }, { "refresh", PP_REFRESH, f_refresh },
    { "download", PP_DOWNLOAD, f_download }, { "reboot", PP_REBOOT, f_reboot },
    { "script", PP_SCRIPT, f_script },
};

/* What the API's tasks accept for their values (acs_tasks.c). */
static const char *const xsd_types[] = { "xsd:string", "xsd:int", "xsd:unsignedInt", "xsd:long",
                                         "xsd:unsignedLong", "xsd:boolean", "xsd:dateTime",
                                         "xsd:base64Binary", "xsd:hexBinary" };

/* Run the task validator on {"type": type, "parameters": params} (stolen). */
static int task_check(const char *type, json_t *params, char *err, size_t errlen)
{
    json_t *body = json_pack("{s:s, s:o}", "type", type, "parameters", params);
    const char *t;
    json_t *norm = NULL;
    if (!body)
        return -ENOMEM;
    int rc = acs_task_validate(body, &t, &norm, err, errlen);
    json_decref(norm);
    json_decref(body);
    return rc;
}

static int field_at(char *at, size_t len, size_t i, const char *f)
{
    return snprintf(at, len, "provisions[%zu].%s", i, f);
}

static int parse_set(const json_t *j, size_t i, preset_prov_t *pv, preset_err_t *err)
{
    char at[64], why[256];
    json_t *path = json_object_get(j, "path"), *v = json_object_get(j, "value"),
           *t = json_object_get(j, "value_type");
    field_at(at, sizeof at, i, "path");
    if (!json_text(path, 256) || !path_ok(json_string_value(path), false))
        return fail(err, at, "required: a parameter path (1-256 characters, no spaces, not ending in '.')");
    field_at(at, sizeof at, i, "value_type");
    if (t) {
        size_t k = 0;
        while (json_is_string(t) && k < sizeof xsd_types / sizeof xsd_types[0] &&
               strcmp(xsd_types[k], json_string_value(t)) != 0)
            k++;
        if (!json_is_string(t) || k == sizeof xsd_types / sizeof xsd_types[0])
            return fail(err, at, "one of xsd:string, xsd:int, xsd:unsignedInt, xsd:long,"
                                 " xsd:unsignedLong, xsd:boolean, xsd:dateTime, xsd:base64Binary,"
                                 " xsd:hexBinary");
    }
    field_at(at, sizeof at, i, "value");
    if (!v || !(json_is_string(v) || json_is_number(v) || json_is_boolean(v)))
        return fail(err, at, "required: a string (a template), a number or a boolean");
    if (json_is_string(v) && (json_string_length(v) > PRESET_TEXT_MAX ||
                              strlen(json_string_value(v)) != json_string_length(v)))
        return fail(err, at, "at most %d characters, no NUL", PRESET_TEXT_MAX);
    if (!(pv->path = strdup(json_string_value(path))) || !(pv->value = scalar_text(v)) ||
        (t && !(pv->value_type = strdup(json_string_value(t)))))
        return -ENOMEM;
    if (json_is_string(v) && is_template(pv->value)) {
        if (preset_template_check(pv->value, why, sizeof why) != 0)
            return fail(err, at, "%s", why);
        return 0;
    }
    /* a literal: what goes on the wire is known now */
    json_t *val = t ? json_pack("{s:O, s:s}", "value", v, "type", pv->value_type) : json_incref(v);
    json_t *params = json_pack("{s:{s:o}}", "values", pv->path, val);
    int rc = task_check("set_params", json_incref(params), why, sizeof why);
    if (rc == -EINVAL) {
        json_decref(params);
        const char *colon = strstr(why, ": ");
        return fail(err, at, "%s", colon ? colon + 2 : why);
    }
    if (rc == 0 && !t && !json_is_string(v)) {
        /* a number or boolean without value_type: the type a set_params
         * task would send it with, for when the device's is not known */
        cwmp_msg_t m = { .type = CWMP_NONE };
        acs_rpc_scratch_t sc = { 0 };
        char key[32];
        rc = acs_task_to_rpc("set_params", params, 0, &m, &sc, key, sizeof key);
        if (rc == 0 && m.n_params == 1 && !(pv->literal_type = strdup(m.params[0].type)))
            rc = -ENOMEM;
        acs_rpc_scratch_free(&sc);
    }
    json_decref(params);
    return rc;
}

static int parse_tag(const json_t *j, size_t i, preset_prov_t *pv, preset_err_t *err)
{
    char at[64], why[256];
    json_t *tag = json_object_get(j, "tag");
    field_at(at, sizeof at, i, "tag");
    if (!json_text(tag, PRESET_TEXT_MAX))
        return fail(err, at, "required: a tag (a template)");
    const char *s = json_string_value(tag);
    if (is_template(s) ? preset_template_check(s, why, sizeof why) != 0
                       : (snprintf(why, sizeof why, "a tag is 1-64 characters without commas"), !tag_ok(s)))
        return fail(err, at, "%s", why);
    return (pv->value = strdup(s)) ? 0 : -ENOMEM;
}

/* A stored file's name: what the ACS will serve it as. */
static bool file_name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 128 || s[0] == '.')
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '_' || *s == '-' || *s == '.'))
            return false;
    return true;
}

static int parse_download(const json_t *j, size_t i, preset_prov_t *pv, preset_err_t *err)
{
    char at[64], why[256];
    json_t *url = json_object_get(j, "url"), *file = json_object_get(j, "file"),
           *ft = json_object_get(j, "file_type");
    if (!url == !file) {
        field_at(at, sizeof at, i, url ? "file" : "url");
        return fail(err, at, "a download names a stored file (file) or a URL (url), not both");
    }
    if (file) {
        field_at(at, sizeof at, i, "file");
        if (!json_is_string(file) || !file_name_ok(json_string_value(file)))
            return fail(err, at, "a stored file's name: 1-128 characters of A-Z a-z 0-9 _ - .");
        if (!(pv->file = strdup(json_string_value(file))))
            return -ENOMEM;
    } else {
        field_at(at, sizeof at, i, "url");
        if (!json_text(url, PRESET_TEXT_MAX))
            return fail(err, at, "required: an http, https or ftp URL (a template)");
        if (!(pv->value = strdup(json_string_value(url))))
            return -ENOMEM;
        if (is_template(pv->value) && preset_template_check(pv->value, why, sizeof why) != 0)
            return fail(err, at, "%s", why);
    }
    field_at(at, sizeof at, i, "file_type");
    if (ft && !json_is_string(ft))
        return fail(err, at, "a file type such as \"1 Firmware Upgrade Image\"");
    if (!(pv->file_type = strdup(ft ? json_string_value(ft) : "1 Firmware Upgrade Image")))
        return -ENOMEM;
    /* The task it becomes, with every placeholder standing for "x": the
     * scheme and host must be there whatever the device. */
    char sample[PRESET_EXPAND_MAX];
    const char *u = "http://files.invalid/x";
    if (pv->value) {
        if (preset_template_sample(pv->value, sample, sizeof sample) != 0) {
            field_at(at, sizeof at, i, "url");
            return fail(err, at, "too long");
        }
        u = sample;
    }
    int rc = task_check("download", json_pack("{s:s, s:s}", "url", u, "file_type", pv->file_type),
                        why, sizeof why);
    if (rc == -EINVAL) {
        bool on_type = strncmp(why, "file_type", 9) == 0;
        field_at(at, sizeof at, i, on_type ? "file_type" : "url");
        const char *colon = strstr(why, ": ");
        return fail(err, at, "%s", colon ? colon + 2 : why);
    }
    return rc;
}

static int parse_prov(const json_t *j, size_t i, preset_prov_t *pv, preset_err_t *err)
{
    char at[64];
    const char *bad;
    snprintf(at, sizeof at, "provisions[%zu]", i);
    if (!json_is_object(j))
        return fail(err, at, "a provision {\"type\": ..., ...}");
    field_at(at, sizeof at, i, "type");
    const char *t = json_string_value(json_object_get(j, "type"));
    size_t k = 0;
    while (t && k < sizeof prov_kinds / sizeof prov_kinds[0] && strcmp(prov_kinds[k].name, t) != 0)
        k++;
    if (!t || k == sizeof prov_kinds / sizeof prov_kinds[0])
        return fail(err, at, "%s%.32s%s: set, add_tag, remove_tag, refresh, download, reboot or"
                             " script (a stored Lua provision)",
                    t ? "unknown built-in provision '" : "required", t ? t : "", t ? "'" : "");
    const prov_kind_t *pk = &prov_kinds[k];
    pv->type = pk->type;
    if (has_unknown(j, pk->fields, &bad)) {
        char f[48];
        snprintf(f, sizeof f, "%.32s", bad);
        field_at(at, sizeof at, i, f);
        return fail(err, at, "unknown field for a '%s' provision", pk->name);
    }
    switch (pk->type) {
    case PP_SET:
        return parse_set(j, i, pv, err);
    case PP_ADD_TAG:
    case PP_REMOVE_TAG:
        return parse_tag(j, i, pv, err);
    case PP_REFRESH: {
        json_t *p = json_object_get(j, "path");
        field_at(at, sizeof at, i, "path");
        if (!json_text(p, 256) || !path_ok(json_string_value(p), true))
            return fail(err, at, "required: a parameter or object path (1-256 characters, no spaces)");
        return (pv->path = strdup(json_string_value(p))) ? 0 : -ENOMEM;
    }
    case PP_DOWNLOAD:
        return parse_download(j, i, pv, err);
    case PP_REBOOT:
        return 0;
    case PP_SCRIPT: {
        char why[128];
        json_t *n = json_object_get(j, "name"), *a = json_object_get(j, "args");
        field_at(at, sizeof at, i, "name");
        if (!json_is_string(n) || preset_name_check(json_string_value(n), why, sizeof why) != 0)
            return fail(err, at, "required: a stored provision's name (%s)", why);
        field_at(at, sizeof at, i, "args");
        if (a && !json_is_array(a))
            return fail(err, at, "a list of JSON values (the script's args)");
        char *text = a ? json_dumps(a, JSON_COMPACT) : NULL;
        size_t len = text ? strlen(text) : 0;
        free(text);
        if (len > PRESET_ARGS_MAX)
            return fail(err, at, "at most %d bytes of JSON", PRESET_ARGS_MAX);
        pv->args = a ? json_deep_copy(a) : json_array();
        return (pv->name = strdup(json_string_value(n))) && pv->args ? 0 : -ENOMEM;
    }
    }
    return -EINVAL;
}

/* ---- the preset --------------------------------------------------------------------------- */

static int parse_events(const json_t *ev, preset_t *p, preset_err_t *err)
{
    char at[32];
    if (!json_is_array(ev) || json_array_size(ev) == 0 || json_array_size(ev) > PRESET_MAX_EVENTS)
        return fail(err, "events", "required: a list of 1-%d TR-069 event codes, or [\"*\"] for"
                                   " every session", PRESET_MAX_EVENTS);
    size_t i;
    json_t *e;
    json_array_foreach(ev, i, e) {
        snprintf(at, sizeof at, "events[%zu]", i);
        const char *s = json_string_value(e);
        if (!s)
            return fail(err, at, "an event code such as \"1 BOOT\"");
        if (strcmp(s, "*") == 0) {
            if (json_array_size(ev) != 1)
                return fail(err, at, "\"*\" (any session) stands alone");
            p->any_event = true;
            continue;
        }
        if (!preset_event_known(s) || strlen(s) != json_string_length(e))
            return fail(err, at, "unknown event '%.64s' (TR-069 codes such as \"0 BOOTSTRAP\","
                                 " \"1 BOOT\", \"2 PERIODIC\", \"M Reboot\", vendor \"M X_...\","
                                 " \"X OUI ...\", or \"*\")", s);
        for (size_t k = 0; k < p->nevents; k++)
            if (strcmp(p->events[k], s) == 0)
                return fail(err, at, "'%s' given twice", s);
        if (!(p->events[p->nevents] = strdup(s)))
            return -ENOMEM;
        p->nevents++;
    }
    return 0;
}

static int parse_schedule(const json_t *j, preset_t *p, preset_err_t *err)
{
    static const char *const keys[] = { "cron", "spread", "window", NULL };
    const char *bad;
    char why[192], at[48];
    if (!json_is_object(j))
        return fail(err, "schedule", "{\"cron\": \"MIN HOUR DOM MON DOW\", \"spread\": ..., \"window\": ...}");
    if (has_unknown(j, keys, &bad)) {
        snprintf(at, sizeof at, "schedule.%.32s", bad);
        return fail(err, at, "unknown field (cron, spread, window)");
    }
    const char *cron = json_string_value(json_object_get(j, "cron"));
    if (!cron)
        return fail(err, "schedule.cron", "required: \"MIN HOUR DOM MON DOW\" (UTC)");
    if (preset_cron_parse(cron, &p->sched.cron, why, sizeof why) != 0)
        return fail(err, "schedule.cron", "%s", why);
    json_t *sp = json_object_get(j, "spread"), *w = json_object_get(j, "window");
    if (sp && duration_s(sp, 0, 31 * 86400, &p->sched.spread_s) != 0)
        return fail(err, "schedule.spread", "a duration from 0 to 31 days (\"2h\", or seconds)");
    if (w && duration_s(w, 60, 366 * 86400, &p->sched.window_s) != 0)
        return fail(err, "schedule.window", "a duration from 1 minute to 366 days (\"4h\", or seconds)");
    p->sched.on = true;
    return 0;
}

static const char *const top_keys[] = { "name", "weight", "events", "schedule", "match", "provisions",
                                        "max_tries", "retry_backoff", "source", "created", "updated",
                                        NULL };

static int parse_body(const json_t *b, const char *name, preset_t *p, preset_err_t *err)
{
    const char *bad;
    char why[128];
    if (!json_is_object(b))
        return fail(err, "", "a preset is a JSON object");
    if (has_unknown(b, top_keys, &bad)) {
        char at[48];
        snprintf(at, sizeof at, "%.40s", bad);
        return fail(err, at, "unknown field (name, weight, events, schedule, match, provisions,"
                             " max_tries, retry_backoff)");
    }
    json_t *n = json_object_get(b, "name");
    if (n && (!json_is_string(n) || (name && strcmp(json_string_value(n), name) != 0)))
        return fail(err, "name", "must be the name in the path (%.64s)", name ? name : "");
    if (!name && !(name = json_string_value(n)))
        return fail(err, "name", "required");
    if (preset_name_check(name, why, sizeof why) != 0)
        return fail(err, "name", "%s", why);
    str_copy(p->name, sizeof p->name, name);

    json_t *w = json_object_get(b, "weight");
    if (w && (!json_is_integer(w) || llabs((long long)json_integer_value(w)) > 1000000))
        return fail(err, "weight", "an integer from -1000000 to 1000000 (lower runs first)");
    p->weight = w ? json_integer_value(w) : 0;

    int rc = parse_events(json_object_get(b, "events"), p, err);
    if (rc)
        return rc;
    json_t *sc = json_object_get(b, "schedule");
    if (sc && (rc = parse_schedule(sc, p, err)) != 0)
        return rc;

    json_t *m = json_object_get(b, "match");
    if (m && (!json_is_array(m) || json_array_size(m) > PRESET_MAX_CONDS))
        return fail(err, "match", "a list of at most %d conditions, all of which must hold",
                    PRESET_MAX_CONDS);
    size_t nc = m ? json_array_size(m) : 0;
    if (nc && !(p->conds = calloc(nc, sizeof *p->conds)))
        return -ENOMEM;
    for (size_t i = 0; i < nc; i++) {
        p->nconds = i + 1;
        if ((rc = parse_cond(json_array_get(m, i), i, &p->conds[i], err)) != 0)
            return rc;
    }

    json_t *pr = json_object_get(b, "provisions");
    if (!json_is_array(pr) || json_array_size(pr) == 0 || json_array_size(pr) > PRESET_MAX_PROVISIONS)
        return fail(err, "provisions", "required: a list of 1-%d provisions", PRESET_MAX_PROVISIONS);
    size_t np = json_array_size(pr);
    if (!(p->provs = calloc(np, sizeof *p->provs)))
        return -ENOMEM;
    for (size_t i = 0; i < np; i++) {
        p->nprovs = i + 1;
        if ((rc = parse_prov(json_array_get(pr, i), i, &p->provs[i], err)) != 0)
            return rc;
    }

    json_t *mt = json_object_get(b, "max_tries");
    if (mt && (!json_is_integer(mt) || json_integer_value(mt) < 1 || json_integer_value(mt) > 100))
        return fail(err, "max_tries", "an integer from 1 to 100 (tries before a fault stays)");
    p->max_tries = mt ? (int)json_integer_value(mt) : PRESET_MAX_TRIES_DEFAULT;
    json_t *bo = json_object_get(b, "retry_backoff");
    p->backoff_s = PRESET_BACKOFF_DEFAULT_S;
    if (bo && duration_s(bo, 1, PRESET_BACKOFF_CAP_S, &p->backoff_s) != 0)
        return fail(err, "retry_backoff", "a duration from 1 second to 1 day (\"5m\", or seconds)");
    return 0;
}

int preset_parse(const json_t *body, const char *name, preset_t **out, preset_err_t *err)
{
    preset_t *p = calloc(1, sizeof *p);
    if (!p)
        return -ENOMEM;
    memset(err, 0, sizeof *err);
    int rc = parse_body(body, name, p, err);
    if (rc) {
        preset_free(p);
        return rc;
    }
    *out = p;
    return 0;
}

void preset_free(preset_t *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->nevents; i++)
        free(p->events[i]);
    for (size_t i = 0; i < p->nconds; i++) {
        free(p->conds[i].param);
        free(p->conds[i].value);
    }
    free(p->conds);
    for (size_t i = 0; i < p->nprovs; i++) {
        preset_prov_t *v = &p->provs[i];
        free(v->path);
        free(v->value);
        free(v->value_type);
        free(v->literal_type);
        free(v->file);
        free(v->file_type);
        free(v->name);
        json_decref(v->args);
    }
    free(p->provs);
    free(p);
}

/* ---- run or not ------------------------------------------------------------------------------ */

bool preset_triggered(const preset_t *p, const preset_session_t *s)
{
    if (p->any_event)
        return true;
    for (size_t i = 0; i < s->nevents; i++)
        for (size_t k = 0; k < p->nevents; k++)
            if (strcmp(s->events[i], p->events[k]) == 0)
                return true;
    return false;
}

int64_t preset_backoff(const preset_t *p, int tries)
{
    int64_t b = p->backoff_s > 0 ? p->backoff_s : PRESET_BACKOFF_DEFAULT_S;
    for (int i = 1; i < tries && b < PRESET_BACKOFF_CAP_S; i++)
        b *= 2;
    return b < PRESET_BACKOFF_CAP_S ? b : PRESET_BACKOFF_CAP_S;
}

#define WHY(s) (why ? (*why = (s)) : (s), false)
#define RUN(s) (why ? (*why = (s)) : (s), true)

bool preset_should_run(const preset_t *p, const char *device_id, const store_preset_run_t *rec,
                       const preset_session_t *s, const char **why)
{
    if (rec && rec->status == STORE_PRESET_FAULT) {
        if (rec->tries >= p->max_tries)
            return WHY("faulted: tries exhausted until an operator clears the fault");
        if (rec->last_event == s->event_time)
            return WHY("already ran in this session");
        if (s->now < rec->next_retry)
            return WHY("backing off after a fault");
        return RUN("retry after a fault");
    }
    if (rec && rec->status == STORE_PRESET_PENDING)
        return RUN("pending: its fault was cleared");
    if (!preset_triggered(p, s))
        return WHY("no triggering event");
    if (p->sched.on) {
        int64_t start, end;
        if (!preset_window(&p->sched, device_id, s->event_time, &start, &end))
            return WHY("outside its schedule");
        if (rec && rec->last_event >= start)
            return WHY("already ran in this window");
        return RUN("scheduled");
    }
    if (rec && rec->last_event == s->event_time)
        return WHY("already ran for this event");
    return RUN("triggered");
}

void preset_record_outcome(const preset_t *p, store_preset_run_t *rec, const preset_session_t *s,
                           bool ok, int fault_code, const char *fault_message)
{
    rec->last_event = s->event_time;
    rec->updated = s->now;
    if (ok) {
        rec->status = STORE_PRESET_DONE;
        rec->tries = 0;
        rec->next_retry = 0;
        rec->fault_code = 0;
        rec->fault_message[0] = '\0';
        return;
    }
    /* a failure after a success starts counting afresh */
    if (rec->status != STORE_PRESET_FAULT)
        rec->tries = 0;
    rec->status = STORE_PRESET_FAULT;
    rec->tries++;
    rec->fault_code = fault_code;
    acs_utf8_copy(rec->fault_message, sizeof rec->fault_message, fault_message ? fault_message : "");
    rec->next_retry = rec->tries >= p->max_tries ? 0 : s->now + preset_backoff(p, rec->tries);
}
