/*
 * acs_tasks: the task types table and task -> RPC (acs_tasks.h). Pure.
 * Validation is in acs_task_check.c, answers -> results in acs_results.c.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acs/acs_tasks.h"
#include "core/str.h"

/* ---- the RPCs' own fields ------------------------------------------------------ */

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
    json_decref(s->tree);
    free(s->text);
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

/* GetParameterValues, GetParameterAttributes */
static int build_names(json_t *p, cwmp_msg_t *m, acs_rpc_scratch_t *s, const char *key)
{
    (void)key;
    return names_of(json_object_get(p, "names"), m, s);
}

static int build_names_text(const char *json, cwmp_msg_t *m, acs_rpc_scratch_t *s)
{
    size_t n;
    int rc = acs_task_names_parse(json, &s->names, &n, &s->text);
    if (rc == 0) {
        m->names = s->names;
        m->n_names = n;
    }
    return rc;
}

static int build_set_values(json_t *p, cwmp_msg_t *m, acs_rpc_scratch_t *s, const char *key)
{
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
    m->parameter_key = jstr(p, "parameter_key", key);
    return 0;
}

static int build_get_names(json_t *p, cwmp_msg_t *m, acs_rpc_scratch_t *s, const char *key)
{
    (void)s, (void)key;
    m->parameter_path = jstr(p, "path", "");
    m->next_level = json_is_true(json_object_get(p, "next_level"));
    return 0;
}

/* AddObject, DeleteObject */
static int build_object(json_t *p, cwmp_msg_t *m, acs_rpc_scratch_t *s, const char *key)
{
    (void)s;
    m->object_name = jstr(p, "object", "");
    m->parameter_key = jstr(p, "parameter_key", key);
    return 0;
}

static int build_set_attributes(json_t *p, cwmp_msg_t *m, acs_rpc_scratch_t *s, const char *key)
{
    (void)key;
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

/* Reboot: the CommandKey comes back with "M Reboot". */
static int build_reboot(json_t *p, cwmp_msg_t *m, acs_rpc_scratch_t *s, const char *key)
{
    (void)p, (void)s;
    m->command_key = key;
    return 0;
}

/* Download, Upload: the CommandKey comes back with TransferComplete. */
static int build_transfer(json_t *p, cwmp_msg_t *m, acs_rpc_scratch_t *s, const char *key)
{
    (void)s;
    m->command_key = key;
    m->file_type = jstr(p, "file_type", m->type == CWMP_DOWNLOAD ? "1 Firmware Upgrade Image"
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
}

/* ScheduleInform: the CommandKey comes back with "M ScheduleInform". */
static int build_schedule_inform(json_t *p, cwmp_msg_t *m, acs_rpc_scratch_t *s, const char *key)
{
    (void)s;
    m->command_key = key;
    m->delay_seconds = juint(p, "delay_seconds", 1);
    return 0;
}

/* ---- the table ------------------------------------------------------------------ */

static const char *const f_none[] = { NULL };
static const char *const f_names[] = { "names", NULL };
static const char *const f_gpv[] = { "names", "keep_result", NULL };
static const char *const f_set[] = { "values", "parameter_key", NULL };
static const char *const f_set_req[] = { "values", NULL };
static const char *const f_gpn[] = { "path", "next_level", "keep_result", NULL };
static const char *const f_obj[] = { "object", "parameter_key", NULL };
static const char *const f_obj_req[] = { "object", NULL };
static const char *const f_sattr[] = { "attributes", NULL };
static const char *const f_dl[] = { "url", "file", "file_type", "file_size", "target_file_name", "username",
                                    "password", "delay_seconds", "success_url", "failure_url", NULL };
static const char *const f_ul[] = { "url", "file", "file_type", "username", "password", "delay_seconds",
                                    NULL };
static const char *const f_si[] = { "delay_seconds", NULL };

#define RPC(t) .rpc = CWMP_##t, .response = CWMP_##t##_RESPONSE

const acs_task_type_t acs_task_types[] = {
    { "get_params", RPC(GET_PARAMETER_VALUES), f_gpv, f_names, acs_check_names, build_names,
      build_names_text, acs_result_values, acs_result_values_text, .requeue = true },
    { "set_params", RPC(SET_PARAMETER_VALUES), f_set, f_set_req, acs_check_set_values,
      build_set_values, NULL, acs_result_status, NULL, .requeue = true },
    { "reboot", RPC(REBOOT), f_none, f_none, NULL, build_reboot, NULL, NULL, NULL, .requeue = false },
    { "factory_reset", RPC(FACTORY_RESET), f_none, f_none, NULL, NULL, NULL, NULL, NULL,
      .requeue = false },
    { "get_names", RPC(GET_PARAMETER_NAMES), f_gpn, f_none, acs_check_get_names, build_get_names,
      NULL, acs_result_names, acs_result_names_text, .requeue = true },
    { "add_object", RPC(ADD_OBJECT), f_obj, f_obj_req, acs_check_object, build_object, NULL,
      acs_result_add_object, NULL, .requeue = false },
    { "delete_object", RPC(DELETE_OBJECT), f_obj, f_obj_req, acs_check_object, build_object, NULL,
      acs_result_status, NULL, .requeue = false },
    { "get_attributes", RPC(GET_PARAMETER_ATTRIBUTES), f_names, f_names, acs_check_names,
      build_names, build_names_text, acs_result_attributes, NULL, .requeue = true },
    { "set_attributes", RPC(SET_PARAMETER_ATTRIBUTES), f_sattr, f_sattr, acs_check_set_attributes,
      build_set_attributes, NULL, NULL, NULL, .requeue = true },
    { "download", RPC(DOWNLOAD), f_dl, f_none, acs_check_transfer, build_transfer, NULL,
      acs_result_transfer, NULL, .requeue = false },
    { "upload", RPC(UPLOAD), f_ul, f_none, acs_check_transfer, build_transfer, NULL,
      acs_result_transfer, NULL, .requeue = false },
    { "schedule_inform", RPC(SCHEDULE_INFORM), f_si, f_none, acs_check_schedule_inform,
      build_schedule_inform, NULL, NULL, NULL, .requeue = true },
    { "get_rpc_methods", RPC(GET_RPC_METHODS), f_none, f_none, NULL, NULL, NULL,
      acs_result_methods, NULL, .requeue = true },
};
const size_t acs_task_ntypes = sizeof acs_task_types / sizeof acs_task_types[0];

const acs_task_type_t *acs_task_type(const char *name)
{
    for (size_t i = 0; i < acs_task_ntypes; i++)
        if (strcmp(acs_task_types[i].name, name) == 0)
            return &acs_task_types[i];
    return NULL;
}

cwmp_type_t acs_task_response_type(const char *type)
{
    const acs_task_type_t *t = acs_task_type(type);
    return t ? t->response : CWMP_NONE;
}

bool acs_task_requeue_safe(const char *type)
{
    const acs_task_type_t *t = acs_task_type(type);
    return t && t->requeue;
}

size_t acs_task_requeue_list(const char **out, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < acs_task_ntypes && n + 1 < max; i++)
        if (acs_task_types[i].requeue)
            out[n++] = acs_task_types[i].name;
    if (max)
        out[n] = NULL;
    return n;
}

/* ---- task -> RPC ---------------------------------------------------------------- */

static const acs_task_type_t *rpc_begin(const char *type, int64_t task_id, cwmp_msg_t *m,
                                        acs_rpc_scratch_t *s, char *keybuf, size_t keylen)
{
    const acs_task_type_t *t = acs_task_type(type);
    memset(s, 0, sizeof *s);
    if (!t)
        return NULL;
    m->type = t->rpc;
    /* CommandKeys name the task, so an Inform's "M Reboot"/TransferComplete
     * after a restart still finds it. */
    snprintf(keybuf, keylen, "task-%" PRId64, task_id);
    return t;
}

int acs_task_to_rpc(const char *type, json_t *p, int64_t task_id, cwmp_msg_t *m,
                    acs_rpc_scratch_t *s, char *keybuf, size_t keylen)
{
    const acs_task_type_t *t = rpc_begin(type, task_id, m, s, keybuf, keylen);
    if (!t)
        return -EINVAL;
    return t->build ? t->build(p, m, s, keybuf) : 0;
}

int acs_task_rpc_text(const char *type, const char *json, int64_t task_id, cwmp_msg_t *m,
                      acs_rpc_scratch_t *s, char *keybuf, size_t keylen)
{
    const acs_task_type_t *t = rpc_begin(type, task_id, m, s, keybuf, keylen);
    if (!t)
        return -EINVAL;
    if (json && t->build_text && t->build_text(json, m, s) == 0)
        return 0;
    s->tree = json_loads(json ? json : "{}", 0, NULL);
    if (!s->tree)
        return -EINVAL;
    return t->build ? t->build(s->tree, m, s, keybuf) : 0;
}

/* ---- the names list, without a JSON tree ------------------------------------------ */

static int hex4(const char *p)
{
    int v = 0;
    for (int i = 0; i < 4; i++) {
        int d = str_hexval(p[i]);
        if (d < 0)
            return -1;
        v = v << 4 | d;
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
            /* a run of plain ASCII (the whole of a usual name) in one copy */
            size_t r = 0;
            while ((unsigned char)p[r] >= 0x20 && (unsigned char)p[r] < 0x80 && p[r] != '"' &&
                   p[r] != '\\')
                r++;
            if (r) {
                memcpy(o, p, r);
                o += r;
                p += r;
                if (*p == '"')
                    break;
            }
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

bool acs_task_keeps_result(const char *json)
{
    /* the common case costs a substring search, not a parse */
    if (!json || !strstr(json, "\"keep_result\""))
        return true;
    json_t *p = json_loads(json, 0, NULL);
    bool keep = !json_is_false(json_object_get(p, "keep_result"));
    json_decref(p);
    return keep;
}

int64_t acs_task_id_from_key(const char *k)
{
    if (!k || strncmp(k, "task-", 5) != 0)
        return 0;
    char *end;
    long long v = strtoll(k + 5, &end, 10);
    return *end == '\0' && v > 0 ? (int64_t)v : 0;
}

/* A name of a virtual parameter: the prefix and at least "VirtualParameters." itself. */
static bool vp_name(const char *name)
{
    return strncmp(name, ACS_VP_PREFIX, sizeof ACS_VP_PREFIX - 1) == 0;
}

bool acs_task_virtual(const char *type, const char *json)
{
    bool get = strcmp(type, "get_params") == 0, set = strcmp(type, "set_params") == 0;
    /* the common case costs a substring search, not a parse */
    if ((!get && !set) || !json || !strstr(json, "\"" ACS_VP_PREFIX))
        return false;
    json_t *p = json_loads(json, 0, NULL);
    bool any = false;
    if (get) {
        size_t i;
        json_t *v;
        json_array_foreach(json_object_get(p, "names"), i, v)
            any |= json_is_string(v) && vp_name(json_string_value(v));
    } else {
        const char *k;
        json_t *v;
        json_object_foreach(json_object_get(p, "values"), k, v)
            any |= vp_name(k);
    }
    json_decref(p);
    return any;
}
