/*
 * acs_tasks: the task vocabulary of the REST API and its CWMP translation.
 * Pure functions (no I/O): API JSON is validated strictly here (unknown
 * fields are errors, so a typo never silently does nothing), turned into a
 * cwmp_msg_t for the RPC, and CPE responses become the task's result JSON.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "acs/acs_internal.h"
#include "core/str.h"

typedef struct task_type {
    const char *name;
    cwmp_type_t rpc;
    const char *const *fields; /* allowed keys of "parameters" */
    const char *const *required;
} task_type_t;

static const char *const f_none[] = { NULL };
static const char *const f_names[] = { "names", NULL };
static const char *const f_set[] = { "values", "parameter_key", NULL };
static const char *const f_set_req[] = { "values", NULL };
static const char *const f_gpn[] = { "path", "next_level", NULL };
static const char *const f_obj[] = { "object", "parameter_key", NULL };
static const char *const f_obj_req[] = { "object", NULL };
static const char *const f_sattr[] = { "attributes", NULL };
static const char *const f_dl[] = { "url", "file_type", "file_size", "target_file_name", "username",
                                    "password", "delay_seconds", "success_url", "failure_url", NULL };
static const char *const f_ul[] = { "url", "file_type", "username", "password", "delay_seconds",
                                    NULL };
static const char *const f_url[] = { "url", NULL };
static const char *const f_si[] = { "delay_seconds", NULL };

static const task_type_t types[] = {
    { "get_params", CWMP_GET_PARAMETER_VALUES, f_names, f_names },
    { "set_params", CWMP_SET_PARAMETER_VALUES, f_set, f_set_req },
    { "reboot", CWMP_REBOOT, f_none, f_none },
    { "factory_reset", CWMP_FACTORY_RESET, f_none, f_none },
    { "get_names", CWMP_GET_PARAMETER_NAMES, f_gpn, f_none },
    { "add_object", CWMP_ADD_OBJECT, f_obj, f_obj_req },
    { "delete_object", CWMP_DELETE_OBJECT, f_obj, f_obj_req },
    { "get_attributes", CWMP_GET_PARAMETER_ATTRIBUTES, f_names, f_names },
    { "set_attributes", CWMP_SET_PARAMETER_ATTRIBUTES, f_sattr, f_sattr },
    { "download", CWMP_DOWNLOAD, f_dl, f_url },
    { "upload", CWMP_UPLOAD, f_ul, f_url },
    { "schedule_inform", CWMP_SCHEDULE_INFORM, f_si, f_none },
    { "get_rpc_methods", CWMP_GET_RPC_METHODS, f_none, f_none },
};

/* Reading twice is harmless for these; a crash between sending and the
 * answer puts them back in the queue. The others (reboot, downloads,
 * objects...) are never sent twice: they wait for their CommandKey to come
 * back in an Inform/TransferComplete, or expire. */
const char *const acs_requeue_types[] = { "get_params", "get_names", "get_attributes",
                                          "set_params", "set_attributes", "get_rpc_methods",
                                          "schedule_inform", NULL };

static const task_type_t *find_type(const char *name)
{
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (strcmp(types[i].name, name) == 0)
            return &types[i];
    return NULL;
}

cwmp_type_t acs_task_response_type(const char *type)
{
    const task_type_t *t = find_type(type);
    return t ? cwmp_response_type(t->rpc) : CWMP_NONE;
}

static bool in_list(const char *const *l, const char *k)
{
    for (; *l; l++)
        if (strcmp(*l, k) == 0)
            return true;
    return false;
}

#define ERR(...) (snprintf(err, errlen, __VA_ARGS__), -EINVAL)

/* Text the envelope can carry (the encoder's own rule). */
static bool xml_text_ok(const char *s)
{
    return cwmp_text_ok(s);
}

static int check_names(json_t *v, char *err, size_t errlen)
{
    if (!json_is_array(v) || json_array_size(v) == 0 || json_array_size(v) > 10000)
        return ERR("names: a non-empty array of parameter names (at most 10000)");
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e) {
        if (!json_is_string(e) || json_string_length(e) > 256 ||
            strlen(json_string_value(e)) != json_string_length(e) || !xml_text_ok(json_string_value(e)))
            return ERR("names[%zu]: a string of at most 256 characters", i);
    }
    return 0;
}

static int check_str(json_t *p, const char *k, size_t max, bool need, char *err, size_t errlen)
{
    json_t *v = json_object_get(p, k);
    if (!v)
        return need ? ERR("%s is required", k) : 0;
    if (!json_is_string(v) || json_string_length(v) > max ||
        strlen(json_string_value(v)) != json_string_length(v) || !xml_text_ok(json_string_value(v)))
        return ERR("%s: a string of at most %zu characters", k, max);
    return 0;
}

/* A URL the CPE is told to fetch a file from or send one to: http, https
 * or ftp (the schemes TR-069 names for Download/Upload, in any case) with a
 * host. Anything else (file:///etc/passwd, a vendor's own scheme) would
 * have the CPE read its own files or talk to who knows what. Checked after
 * check_str: a string, if present. */
static int check_file_url(json_t *p, const char *k, bool need, char *err, size_t errlen)
{
    static const char *const schemes[] = { "http", "https", "ftp" };
    const char *u = json_string_value(json_object_get(p, k));
    if (!u || (!need && !*u))
        return 0;
    const char *sep = strstr(u, "://");
    size_t slen = sep ? (size_t)(sep - u) : 0;
    bool known = false;
    for (size_t i = 0; sep && i < sizeof schemes / sizeof schemes[0]; i++)
        known |= strlen(schemes[i]) == slen && strncasecmp(u, schemes[i], slen) == 0;
    if (!known)
        return ERR("%s: an http, https or ftp URL", k);
    for (const char *c = u; *c; c++)
        if ((unsigned char)*c <= ' ' || *c == 0x7f)
            return ERR("%s: a URL without spaces or control characters", k);
    const char *auth = sep + 3;
    size_t alen = strcspn(auth, "/?#");
    const char *at = memrchr(auth, '@', alen); /* user:password@ before the host */
    const char *host = at ? at + 1 : auth;
    size_t hlen = alen - (size_t)(host - auth);
    const char *end = host[0] == '[' ? memchr(host, ']', hlen) : NULL;
    size_t h = host[0] == '[' ? (end ? (size_t)(end - host) - 1 : 0) : strcspn(host, ":/?#");
    if (h == 0 || h > hlen)
        return ERR("%s: the URL names no host", k);
    return 0;
}

static int check_uint(json_t *p, const char *k, bool positive, char *err, size_t errlen)
{
    json_t *v = json_object_get(p, k);
    if (!v)
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < (positive ? 1 : 0) ||
        json_integer_value(v) > UINT32_MAX)
        return ERR("%s: an integer %s", k, positive ? ">= 1" : ">= 0");
    return 0;
}

/* The TR-069 data types (TR-106) as xsi:type names. Anything else would not
 * resolve to a type in the CPE's schema ("xsd:bogus", "string" without its
 * prefix), so the envelope would be invalid: refused when the task is made. */
static const char *const xsd_types[] = { "xsd:string", "xsd:int", "xsd:unsignedInt", "xsd:long",
                                         "xsd:unsignedLong", "xsd:boolean", "xsd:dateTime",
                                         "xsd:base64Binary", "xsd:hexBinary", NULL };

static bool digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

/* What cwmp_value_ok leaves to the schema: integer ranges, base64 and the
 * calendar fields of a dateTime (the encoder's own checks are lexical only,
 * as cpe-sim echoes whatever real CPEs report). */
static bool value_in_range(const char *type, const char *v)
{
    int64_t i;
    uint64_t u;
    if (!strcmp(type, "xsd:int"))
        return str_to_i64(v, INT32_MIN, INT32_MAX, &i) == 0;
    if (!strcmp(type, "xsd:long"))
        return str_to_i64(v, INT64_MIN, INT64_MAX, &i) == 0;
    if (!strcmp(type, "xsd:unsignedInt") || !strcmp(type, "xsd:unsignedLong"))
        return str_to_u64n(v, strlen(v), !strcmp(type, "xsd:unsignedInt") ? UINT32_MAX : UINT64_MAX,
                           &u) == 0;
    if (!strcmp(type, "xsd:base64Binary")) {
        /* groups of four, padding only at the end; whitespace between is allowed */
        size_t n = 0, pad = 0;
        for (const char *c = v; *c; c++) {
            if (strchr(" \t\r\n", *c))
                continue;
            n++;
            if (*c == '=')
                pad++;
            else if (pad || !strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/", *c))
                return false;
        }
        return n % 4 == 0 && pad <= 2;
    }
    if (!strcmp(type, "xsd:dateTime")) {
        /* YYYY-MM-DDThh:mm:ss[.fff][Z|(+|-)hh:mm] */
        if (!digits(v, 4) || !digits(v + 5, 2) || !digits(v + 8, 2) || !digits(v + 11, 2) ||
            !digits(v + 14, 2) || !digits(v + 17, 2))
            return false;
        int mo = atoi(v + 5), d = atoi(v + 8), h = atoi(v + 11), mi = atoi(v + 14),
            sec = atoi(v + 17);
        if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 59)
            return false;
        const char *t = v + 19;
        if (*t == '.') {
            size_t n = strspn(t + 1, "0123456789");
            if (!n)
                return false;
            t += 1 + n;
        }
        if (*t == 'Z')
            return t[1] == '\0';
        if (*t == '+' || *t == '-')
            return digits(t + 1, 2) && t[3] == ':' && digits(t + 4, 2) && t[6] == '\0' &&
                   atoi(t + 1) <= 14 && atoi(t + 4) <= 59;
        return *t == '\0';
    }
    return true;
}

/* set_params values: name -> scalar, or name -> {"value": scalar, "type": "xsd:..."} */
static int check_values(json_t *v, char *err, size_t errlen)
{
    if (!json_is_object(v) || json_object_size(v) == 0 || json_object_size(v) > 10000)
        return ERR("values: a non-empty object of name -> value");
    const char *k;
    json_t *e;
    json_object_foreach(v, k, e) {
        if (strlen(k) > 256 || !*k || !xml_text_ok(k))
            return ERR("values: parameter names are 1-256 characters");
        json_t *val = e;
        if (json_is_object(e)) {
            const char *kk;
            json_t *x;
            json_object_foreach(e, kk, x) {
                if (strcmp(kk, "value") != 0 && strcmp(kk, "type") != 0)
                    return ERR("values.%s: unknown field '%s'", k, kk);
            }
            val = json_object_get(e, "value");
            json_t *t = json_object_get(e, "type");
            if (t && (!json_is_string(t) || !in_list(xsd_types, json_string_value(t))))
                return ERR("values.%s.type: one of xsd:string, xsd:int, xsd:unsignedInt, xsd:long,"
                           " xsd:unsignedLong, xsd:boolean, xsd:dateTime, xsd:base64Binary,"
                           " xsd:hexBinary", k);
        }
        if (!val || !(json_is_string(val) || json_is_number(val) || json_is_boolean(val)))
            return ERR("values.%s: a string, number or boolean", k);
        if (json_is_string(val) && strlen(json_string_value(val)) != json_string_length(val))
            return ERR("values.%s: no NUL characters", k);
        /* What will go on the wire must fit its type: "5" as xsd:boolean would
         * make an envelope the CPE's schema rejects. */
        char num[64];
        const char *text = json_string_value(val), *type = NULL;
        if (json_is_object(e))
            type = json_string_value(json_object_get(e, "type"));
        if (json_is_boolean(val))
            text = json_is_true(val) ? "true" : "false";
        else if (json_is_integer(val))
            snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(val)), text = num;
        else if (json_is_real(val))
            snprintf(num, sizeof num, "%.17g", json_real_value(val)), text = num;
        if (type && (!cwmp_value_ok(type, text) || !value_in_range(type, text)))
            return ERR("values.%s: '%.40s' is not a valid %s", k, text, type);
        if (!type && !cwmp_value_ok(NULL, text))
            return ERR("values.%s: characters XML cannot carry", k);
    }
    return 0;
}

static int check_attributes(json_t *v, char *err, size_t errlen)
{
    if (!json_is_array(v) || json_array_size(v) == 0 || json_array_size(v) > 10000)
        return ERR("attributes: a non-empty array of {name, notification, access_list}");
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e) {
        if (!json_is_object(e))
            return ERR("attributes[%zu]: an object", i);
        const char *k;
        json_t *x;
        json_object_foreach(e, k, x) {
            if (strcmp(k, "name") && strcmp(k, "notification") && strcmp(k, "access_list"))
                return ERR("attributes[%zu]: unknown field '%s'", i, k);
        }
        json_t *n = json_object_get(e, "name");
        if (!json_is_string(n) || json_string_length(n) > 256 || !xml_text_ok(json_string_value(n)) ||
            strlen(json_string_value(n)) != json_string_length(n))
            return ERR("attributes[%zu].name: a parameter name", i);
        json_t *no = json_object_get(e, "notification");
        if (no && (!json_is_integer(no) || json_integer_value(no) < 0 || json_integer_value(no) > 6))
            return ERR("attributes[%zu].notification: 0..6", i);
        json_t *al = json_object_get(e, "access_list");
        if (al) {
            if (!json_is_array(al) || json_array_size(al) > 8)
                return ERR("attributes[%zu].access_list: an array of strings", i);
            size_t j;
            json_t *s;
            json_array_foreach(al, j, s) {
                if (!json_is_string(s) || json_string_length(s) > 64 ||
                    strchr(json_string_value(s), ',') || !xml_text_ok(json_string_value(s)) ||
                    strlen(json_string_value(s)) != json_string_length(s))
                    return ERR("attributes[%zu].access_list[%zu]: a string", i, j);
            }
        }
        if (!no && !al)
            return ERR("attributes[%zu]: notification and/or access_list", i);
    }
    return 0;
}

static bool file_type_ok(const char *s)
{
    if (s[0] == 'X' && s[1] == ' ')
        return strchr(s + 2, ' ') != NULL;
    const char *p = s;
    while (*p >= '0' && *p <= '9')
        p++;
    return p != s && s[0] != '0' && p[0] == ' ' && p[1] && p[1] != ' ';
}

int acs_task_validate(json_t *body, const char **type_out, json_t **params_out, char *err,
                      size_t errlen)
{
    if (!json_is_object(body))
        return ERR("the body must be a JSON object {\"type\": ..., \"parameters\": {...}}");
    const char *k;
    json_t *v;
    json_object_foreach(body, k, v) {
        if (strcmp(k, "type") != 0 && strcmp(k, "parameters") != 0)
            return ERR("unknown field '%s'", k);
    }
    json_t *jt = json_object_get(body, "type");
    if (!json_is_string(jt))
        return ERR("type is required");
    const task_type_t *t = find_type(json_string_value(jt));
    if (!t)
        return ERR("unknown task type '%.40s'", json_string_value(jt));
    json_t *p = json_object_get(body, "parameters");
    if (p && json_is_null(p))
        p = NULL;
    if (p && !json_is_object(p))
        return ERR("parameters must be an object");
    if (p) {
        json_object_foreach(p, k, v) {
            if (!in_list(t->fields, k))
                return ERR("%s: unknown parameter '%s'", t->name, k);
        }
    }
    for (const char *const *r = t->required; *r; r++)
        if (!p || !json_object_get(p, *r))
            return ERR("%s: parameters.%s is required", t->name, *r);
    int rc = 0;
    switch (t->rpc) {
    case CWMP_GET_PARAMETER_VALUES:
    case CWMP_GET_PARAMETER_ATTRIBUTES:
        rc = check_names(json_object_get(p, "names"), err, errlen);
        break;
    case CWMP_SET_PARAMETER_VALUES:
        rc = check_values(json_object_get(p, "values"), err, errlen);
        if (!rc)
            rc = check_str(p, "parameter_key", 32, false, err, errlen);
        break;
    case CWMP_GET_PARAMETER_NAMES: {
        rc = p ? check_str(p, "path", 256, false, err, errlen) : 0;
        json_t *nl = p ? json_object_get(p, "next_level") : NULL;
        if (!rc && nl && !json_is_boolean(nl))
            rc = ERR("next_level: true or false");
        break;
    }
    case CWMP_ADD_OBJECT:
    case CWMP_DELETE_OBJECT: {
        rc = check_str(p, "object", 256, true, err, errlen);
        if (!rc)
            rc = check_str(p, "parameter_key", 32, false, err, errlen);
        const char *o = json_string_value(json_object_get(p, "object"));
        if (!rc && (!*o || o[strlen(o) - 1] != '.'))
            rc = ERR("object: an object path ending with '.'");
        break;
    }
    case CWMP_SET_PARAMETER_ATTRIBUTES:
        rc = check_attributes(json_object_get(p, "attributes"), err, errlen);
        break;
    case CWMP_DOWNLOAD:
    case CWMP_UPLOAD: {
        static const char *const s256[] = { "url", "target_file_name", "username", "password",
                                            "success_url", "failure_url", NULL };
        for (const char *const *s = s256; *s && !rc; s++)
            rc = check_str(p, *s, 256, false, err, errlen);
        if (!rc)
            rc = check_str(p, "file_type", 64, false, err, errlen);
        if (!rc && json_object_get(p, "file_type") &&
            !file_type_ok(json_string_value(json_object_get(p, "file_type"))))
            rc = ERR("file_type: like \"1 Firmware Upgrade Image\"");
        if (!rc && json_string_length(json_object_get(p, "url")) == 0)
            rc = ERR("url must not be empty");
        if (!rc)
            rc = check_file_url(p, "url", true, err, errlen);
        if (!rc)
            rc = check_file_url(p, "success_url", false, err, errlen);
        if (!rc)
            rc = check_file_url(p, "failure_url", false, err, errlen);
        if (!rc)
            rc = check_uint(p, "file_size", false, err, errlen);
        if (!rc)
            rc = check_uint(p, "delay_seconds", false, err, errlen);
        break;
    }
    case CWMP_SCHEDULE_INFORM:
        rc = p ? check_uint(p, "delay_seconds", true, err, errlen) : 0;
        break;
    default:
        break;
    }
    if (rc)
        return rc;
    *type_out = t->name;
    *params_out = p ? json_incref(p) : json_object();
    return 0;
}

/* ---- task -> RPC ---------------------------------------------------------------- */

static const char *own(acs_rpc_scratch_t *s, char *str)
{
    char **n = realloc(s->owned, (s->nowned + 1) * sizeof *n);
    if (!n || !str) {
        free(str);
        return "";
    }
    s->owned = n;
    s->owned[s->nowned++] = str;
    return str;
}

static const char *jstr(json_t *p, const char *k, const char *def)
{
    const char *s = json_string_value(json_object_get(p, k));
    return s ? s : def;
}

static uint32_t juint(json_t *p, const char *k, uint32_t def)
{
    json_t *v = json_object_get(p, k);
    return json_is_integer(v) ? (uint32_t)json_integer_value(v) : def;
}

void acs_rpc_scratch_free(acs_rpc_scratch_t *s)
{
    free(s->params);
    free(s->names);
    for (size_t i = 0; i < s->nowned; i++)
        free(s->owned[i]);
    free(s->owned);
    memset(s, 0, sizeof *s);
}

static int names_of(json_t *arr, cwmp_msg_t *m, acs_rpc_scratch_t *s)
{
    size_t n = json_array_size(arr);
    s->names = calloc(n ? n : 1, sizeof *s->names);
    if (!s->names)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++)
        s->names[i] = json_string_value(json_array_get(arr, i));
    m->names = s->names;
    m->n_names = n;
    return 0;
}

int acs_task_to_rpc(const char *type, json_t *p, int64_t task_id, cwmp_msg_t *m,
                    acs_rpc_scratch_t *s, char *keybuf, size_t keylen)
{
    const task_type_t *t = find_type(type);
    if (!t)
        return -EINVAL;
    memset(s, 0, sizeof *s);
    m->type = t->rpc;
    /* CommandKeys name the task, so an Inform's "M Reboot"/TransferComplete
     * after a restart still finds it. */
    snprintf(keybuf, keylen, "task-%" PRId64, task_id);
    switch (t->rpc) {
    case CWMP_GET_PARAMETER_VALUES:
    case CWMP_GET_PARAMETER_ATTRIBUTES:
        return names_of(json_object_get(p, "names"), m, s);
    case CWMP_SET_PARAMETER_VALUES: {
        json_t *vals = json_object_get(p, "values");
        size_t n = json_object_size(vals), i = 0;
        s->params = calloc(n ? n : 1, sizeof *s->params);
        if (!s->params)
            return -ENOMEM;
        const char *k;
        json_t *e;
        json_object_foreach(vals, k, e) {
            json_t *val = json_is_object(e) ? json_object_get(e, "value") : e;
            const char *xt = json_is_object(e) ? jstr(e, "type", NULL) : NULL;
            cwmp_param_t *cp = &s->params[i++];
            cp->name = k;
            if (json_is_string(val)) {
                cp->value = json_string_value(val);
                cp->type = xt ? xt : "xsd:string";
            } else if (json_is_boolean(val)) {
                cp->value = json_is_true(val) ? "true" : "false";
                cp->type = xt ? xt : "xsd:boolean";
            } else if (json_is_integer(val)) {
                char *b;
                if (asprintf(&b, "%" JSON_INTEGER_FORMAT, json_integer_value(val)) < 0)
                    return -ENOMEM;
                cp->value = own(s, b);
                /* 32-bit types unless the number needs 64 (the schema checks ranges) */
                json_int_t x = json_integer_value(val);
                cp->type = xt                  ? xt
                           : x > (json_int_t)UINT32_MAX ? "xsd:unsignedLong"
                           : x >= 0                     ? "xsd:unsignedInt"
                           : x >= INT32_MIN             ? "xsd:int"
                                                        : "xsd:long";
            } else {
                char *b;
                if (asprintf(&b, "%.17g", json_number_value(val)) < 0)
                    return -ENOMEM;
                cp->value = own(s, b);
                cp->type = xt ? xt : "xsd:string";
            }
        }
        m->params = s->params;
        m->n_params = n;
        m->parameter_key = jstr(p, "parameter_key", keybuf);
        return 0;
    }
    case CWMP_GET_PARAMETER_NAMES:
        m->parameter_path = jstr(p, "path", "");
        m->next_level = json_is_true(json_object_get(p, "next_level"));
        return 0;
    case CWMP_ADD_OBJECT:
    case CWMP_DELETE_OBJECT:
        m->object_name = jstr(p, "object", "");
        m->parameter_key = jstr(p, "parameter_key", keybuf);
        return 0;
    case CWMP_SET_PARAMETER_ATTRIBUTES: {
        json_t *arr = json_object_get(p, "attributes");
        size_t n = json_array_size(arr);
        s->params = calloc(n ? n : 1, sizeof *s->params);
        if (!s->params)
            return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
            json_t *e = json_array_get(arr, i);
            cwmp_param_t *cp = &s->params[i];
            cp->name = jstr(e, "name", "");
            json_t *no = json_object_get(e, "notification");
            cp->notification_change = no != NULL;
            cp->notification = no ? (int)json_integer_value(no) : 0;
            json_t *al = json_object_get(e, "access_list");
            cp->access_list_change = al != NULL;
            char *joined = calloc(1, 8 * 66 + 1);
            if (!joined)
                return -ENOMEM;
            for (size_t j = 0; j < json_array_size(al); j++) {
                if (j)
                    strcat(joined, ",");
                strcat(joined, json_string_value(json_array_get(al, j)));
            }
            cp->access_list = own(s, joined);
        }
        m->params = s->params;
        m->n_params = n;
        return 0;
    }
    case CWMP_REBOOT:
        m->command_key = keybuf;
        return 0;
    case CWMP_DOWNLOAD:
    case CWMP_UPLOAD:
        m->command_key = keybuf;
        m->file_type = jstr(p, "file_type", t->rpc == CWMP_DOWNLOAD ? "1 Firmware Upgrade Image"
                                                                   : "1 Vendor Configuration File");
        m->url = jstr(p, "url", "");
        m->username = jstr(p, "username", "");
        m->password = jstr(p, "password", "");
        m->file_size = juint(p, "file_size", 0);
        m->target_file_name = jstr(p, "target_file_name", "");
        m->delay_seconds = juint(p, "delay_seconds", 0);
        m->success_url = jstr(p, "success_url", "");
        m->failure_url = jstr(p, "failure_url", "");
        return 0;
    case CWMP_SCHEDULE_INFORM:
        m->command_key = keybuf;
        m->delay_seconds = juint(p, "delay_seconds", 1);
        return 0;
    default:
        return 0;
    }
}

/* ---- the names list, without a JSON tree ------------------------------------------ */

static int hex4(const char *p)
{
    int v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= c - '0';
        else if (c >= 'a' && c <= 'f')
            v |= c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            v |= c - 'A' + 10;
        else
            return -1;
    }
    return v;
}

static char *put_utf8(char *o, unsigned cp)
{
    if (cp < 0x80) {
        *o++ = (char)cp;
    } else if (cp < 0x800) {
        *o++ = (char)(0xC0 | cp >> 6);
        *o++ = (char)(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        *o++ = (char)(0xE0 | cp >> 12);
        *o++ = (char)(0x80 | ((cp >> 6) & 0x3F));
        *o++ = (char)(0x80 | (cp & 0x3F));
    } else {
        *o++ = (char)(0xF0 | cp >> 18);
        *o++ = (char)(0x80 | ((cp >> 12) & 0x3F));
        *o++ = (char)(0x80 | ((cp >> 6) & 0x3F));
        *o++ = (char)(0x80 | (cp & 0x3F));
    }
    return o;
}

/* Length of the valid UTF-8 sequence at s, 0 if invalid (as jansson judges). */
static size_t utf8_len(const unsigned char *s)
{
    unsigned c = s[0], cp, min;
    size_t n;
    if (c < 0x80)
        return 1;
    if ((c & 0xE0) == 0xC0)
        n = 2, min = 0x80, cp = c & 0x1F;
    else if ((c & 0xF0) == 0xE0)
        n = 3, min = 0x800, cp = c & 0x0F;
    else if ((c & 0xF8) == 0xF0)
        n = 4, min = 0x10000, cp = c & 0x07;
    else
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return n;
}

int acs_task_names_parse(const char *json, const char ***names_out, size_t *n_out,
                         char **storage)
{
    static const char head[] = "{\"names\":[";
    if (strncmp(json, head, sizeof head - 1) != 0)
        return -EINVAL;
    const char *p = json + sizeof head - 1;
    size_t count = 0;
    for (const char *q = p; *q; q++)
        count += *q == '"';
    char *out = malloc(strlen(p) + 1);
    const char **names = calloc(count / 2 + 1, sizeof *names);
    if (!out || !names)
        goto bad;
    char *o = out;
    size_t n = 0;
    for (;;) {
        if (*p != '"' || n >= count / 2 + 1)
            goto bad;
        names[n++] = o;
        for (p++; *p != '"'; p++) {
            if ((unsigned char)*p < 0x20 || !*p)
                goto bad;
            if (*p != '\\') {
                size_t l = utf8_len((const unsigned char *)p);
                if (!l)
                    goto bad;
                memcpy(o, p, l);
                o += l;
                p += l - 1;
                continue;
            }
            p++;
            int cp;
            switch (*p) {
            case '"': *o++ = '"'; break;
            case '\\': *o++ = '\\'; break;
            case '/': *o++ = '/'; break;
            case 'b': *o++ = '\b'; break;
            case 'f': *o++ = '\f'; break;
            case 'n': *o++ = '\n'; break;
            case 'r': *o++ = '\r'; break;
            case 't': *o++ = '\t'; break;
            case 'u':
                if ((cp = hex4(p + 1)) <= 0) /* \u0000 would cut the name short */
                    goto bad;
                p += 4;
                if (cp >= 0xD800 && cp <= 0xDBFF) { /* a surrogate pair */
                    int lo = p[1] == '\\' && p[2] == 'u' ? hex4(p + 3) : -1;
                    if (lo < 0xDC00 || lo > 0xDFFF)
                        goto bad;
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                    p += 6;
                } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                    goto bad;
                }
                o = put_utf8(o, (unsigned)cp);
                break;
            default:
                goto bad;
            }
        }
        *o++ = '\0';
        p++;
        if (*p == ',') {
            p++;
            continue;
        }
        if (strcmp(p, "]}") != 0)
            goto bad;
        break;
    }
    *names_out = names;
    *n_out = n;
    *storage = out;
    return 0;
bad:
    free(out);
    free(names);
    return -EINVAL;
}

int64_t acs_task_id_from_key(const char *k)
{
    if (!k || strncmp(k, "task-", 5) != 0)
        return 0;
    char *end;
    long long v = strtoll(k + 5, &end, 10);
    return *end == '\0' && v > 0 ? (int64_t)v : 0;
}

/* ---- results and JSON views --------------------------------------------------------- */

json_t *acs_result_json(const cwmp_msg_t *m)
{
    json_t *r = json_object();
    switch (m->type) {
    case CWMP_GET_PARAMETER_VALUES_RESPONSE: {
        json_t *a = json_array();
        for (size_t i = 0; i < m->n_params; i++)
            json_array_append_new(a, json_pack("{s:s, s:s, s:s}", "name", m->params[i].name,
                                               "value", m->params[i].value, "type",
                                               m->params[i].type ? m->params[i].type : ""));
        json_object_set_new(r, "parameters", a);
        break;
    }
    case CWMP_GET_PARAMETER_NAMES_RESPONSE: {
        json_t *a = json_array();
        for (size_t i = 0; i < m->n_params; i++)
            json_array_append_new(a, json_pack("{s:s, s:b}", "name", m->params[i].name,
                                               "writable", m->params[i].writable));
        json_object_set_new(r, "parameters", a);
        break;
    }
    case CWMP_GET_PARAMETER_ATTRIBUTES_RESPONSE: {
        json_t *a = json_array();
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
        break;
    }
    case CWMP_GET_RPC_METHODS_RESPONSE: {
        json_t *a = json_array();
        for (size_t i = 0; i < m->n_names; i++)
            json_array_append_new(a, json_string(m->names[i]));
        json_object_set_new(r, "methods", a);
        break;
    }
    case CWMP_SET_PARAMETER_VALUES_RESPONSE:
    case CWMP_DELETE_OBJECT_RESPONSE:
        json_object_set_new(r, "status", json_integer(m->status));
        break;
    case CWMP_ADD_OBJECT_RESPONSE:
        json_object_set_new(r, "instance_number", json_integer(m->instance_number));
        json_object_set_new(r, "status", json_integer(m->status));
        break;
    case CWMP_DOWNLOAD_RESPONSE:
    case CWMP_UPLOAD_RESPONSE:
        json_object_set_new(r, "status", json_integer(m->status));
        if (m->start_time)
            json_object_set_new(r, "start_time", json_string(m->start_time));
        if (m->complete_time)
            json_object_set_new(r, "complete_time", json_string(m->complete_time));
        break;
    case CWMP_TRANSFER_COMPLETE:
        json_object_set_new(r, "fault_code", json_integer(m->fault_code));
        if (m->start_time)
            json_object_set_new(r, "start_time", json_string(m->start_time));
        if (m->complete_time)
            json_object_set_new(r, "complete_time", json_string(m->complete_time));
        break;
    case CWMP_FAULT: {
        json_t *a = json_array();
        for (size_t i = 0; i < m->fault.n_spv; i++)
            json_array_append_new(a, json_pack("{s:s, s:i, s:s}", "name", m->fault.spv[i].name,
                                               "code", m->fault.spv[i].code, "message",
                                               m->fault.spv[i].string ? m->fault.spv[i].string : ""));
        if (json_array_size(a))
            json_object_set_new(r, "set_parameter_values_faults", a);
        else
            json_decref(a);
        break;
    }
    default:
        break;
    }
    return r;
}

/* JSON string escaping for the fast path below (the decoder only hands out
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

/* The result as JSON text. Parameter lists can be long (thousands of
 * entries): they are written straight into a buffer, not built as a tree. */
char *acs_result_text(const cwmp_msg_t *m)
{
    if (m->type != CWMP_GET_PARAMETER_VALUES_RESPONSE &&
        m->type != CWMP_GET_PARAMETER_NAMES_RESPONSE) {
        json_t *r = acs_result_json(m);
        char *t = json_dumps(r, JSON_COMPACT);
        json_decref(r);
        return t;
    }
    bool values = m->type == CWMP_GET_PARAMETER_VALUES_RESPONSE;
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
