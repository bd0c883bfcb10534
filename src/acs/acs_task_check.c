/*
 * acs_task_check: the strict validation of API task requests (acs_tasks.h):
 * the generic part (fields, required keys) and each row's `check`. Unknown
 * fields are errors, so a typo never silently does nothing; whatever passes
 * makes an envelope the CPE's schema accepts.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "acs/acs_tasks.h"
#include "core/hmap.h"
#include "core/str.h"

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
    /* A name twice would leave its attributes to the CPE's order of work. */
    hmap_t seen;
    hmap_init(&seen);
    int rc = 0;
    json_array_foreach(v, i, e) {
        const char *n = json_string_value(json_object_get(e, "name"));
        if (!n)
            continue; /* said below */
        if (hmap_gets(&seen, n)) {
            rc = ERR("attributes[%zu].name: '%.60s' is named twice", i, n);
            break;
        }
        if (hmap_put(&seen, n, strlen(n), (void *)1) != 0) {
            rc = ERR("attributes: out of memory");
            break;
        }
    }
    hmap_free(&seen);
    if (rc)
        return rc;
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
        if (!json_is_string(n) || json_string_length(n) == 0 || json_string_length(n) > 256 ||
            !xml_text_ok(json_string_value(n)) || strlen(json_string_value(n)) != json_string_length(n))
            return ERR("attributes[%zu].name: a parameter name or partial path (1-256 characters)", i);
        json_t *no = json_object_get(e, "notification");
        if (no && (!json_is_integer(no) || json_integer_value(no) < 0 || json_integer_value(no) > 6))
            return ERR("attributes[%zu].notification: an integer 0..6 (0 off, 1 passive, 2 active;"
                       " 3-6 the lightweight kinds of CWMP 1.4)", i);
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
bool acs_file_type_ok(const char *s)
{
    size_t n = strlen(s);
    if (n > 64)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] >= 0x7f)
            return false;
    if (s[0] == 'X' && s[1] == ' ')
        return strchr(s + 2, ' ') != NULL;
    const char *p = s;
    while (*p >= '0' && *p <= '9')
        p++;
    return p != s && p - s <= 2 && s[0] != '0' && p[0] == ' ' && p[1] && p[1] != ' ';
}

bool acs_file_name_ok(const char *s)
{
    static const char ok[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-";
    size_t n = strlen(s);
    return n >= 1 && n <= 128 && strspn(s, ok) == n && s[0] != '.' && s[0] != '-' && s[0] != '_';
}

/* ---- the rows' checks ------------------------------------------------------------- */

/* get_params, get_names: keep_result, a boolean */
static int check_keep(json_t *p, char *err, size_t errlen)
{
    json_t *k = p ? json_object_get(p, "keep_result") : NULL;
    return k && !json_is_boolean(k) ? ERR("keep_result: true or false") : 0;
}

int acs_check_names(json_t *p, char *err, size_t errlen)
{
    int rc = check_names(json_object_get(p, "names"), err, errlen);
    return rc ? rc : check_keep(p, err, errlen);
}

int acs_check_set_values(json_t *p, char *err, size_t errlen)
{
    int rc = check_values(json_object_get(p, "values"), err, errlen);
    return rc ? rc : check_str(p, "parameter_key", 32, false, err, errlen);
}

int acs_check_get_names(json_t *p, char *err, size_t errlen)
{
    int rc = p ? check_str(p, "path", 256, false, err, errlen) : 0;
    json_t *nl = p ? json_object_get(p, "next_level") : NULL;
    if (!rc && nl && !json_is_boolean(nl))
        rc = ERR("next_level: true or false");
    return rc ? rc : check_keep(p, err, errlen);
}

int acs_check_object(json_t *p, char *err, size_t errlen)
{
    int rc = check_str(p, "object", 256, true, err, errlen);
    if (!rc)
        rc = check_str(p, "parameter_key", 32, false, err, errlen);
    const char *o = json_string_value(json_object_get(p, "object"));
    if (!rc && (!*o || o[strlen(o) - 1] != '.'))
        rc = ERR("object: an object path ending with '.'");
    return rc;
}

int acs_check_set_attributes(json_t *p, char *err, size_t errlen)
{
    return check_attributes(json_object_get(p, "attributes"), err, errlen);
}

/* Download and Upload. */
int acs_check_transfer(json_t *p, char *err, size_t errlen)
{
    static const char *const s256[] = { "url", "target_file_name", "username", "password",
                                        "success_url", "failure_url", NULL };
    int rc = 0;
    for (const char *const *s = s256; *s && !rc; s++)
        rc = check_str(p, *s, 256, false, err, errlen);
    if (!rc)
        rc = check_str(p, "file_type", 64, false, err, errlen);
    if (!rc && json_object_get(p, "file_type") &&
        !acs_file_type_ok(json_string_value(json_object_get(p, "file_type"))))
        rc = ERR("file_type: like \"1 Firmware Upgrade Image\"");
    /* where the file is: a URL, or a file of the ACS's file store (the ACS
     * fills in the URL when the task is sent: acs_files_resolve) */
    json_t *file = json_object_get(p, "file");
    if (!rc && file && json_object_get(p, "url"))
        rc = ERR("url, file: one or the other");
    if (!rc && file && (!json_is_string(file) || !acs_file_name_ok(json_string_value(file))))
        rc = ERR("file: the name of a stored file (1-128 of A-Z a-z 0-9 . _ -)");
    if (!rc && !file && json_string_length(json_object_get(p, "url")) == 0)
        rc = ERR("url: required (or file: a stored file)");
    if (!rc && !file)
        rc = check_file_url(p, "url", true, err, errlen);
    if (!rc)
        rc = check_file_url(p, "success_url", false, err, errlen);
    if (!rc)
        rc = check_file_url(p, "failure_url", false, err, errlen);
    if (!rc)
        rc = check_uint(p, "file_size", false, err, errlen);
    if (!rc)
        rc = check_uint(p, "delay_seconds", false, err, errlen);
    return rc;
}

int acs_check_schedule_inform(json_t *p, char *err, size_t errlen)
{
    return p ? check_uint(p, "delay_seconds", true, err, errlen) : 0;
}

/* ---- the request ------------------------------------------------------------------ */

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
    const acs_task_type_t *t = acs_task_type(json_string_value(jt));
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
    int rc = t->check ? t->check(p, err, errlen) : 0;
    if (rc)
        return rc;
    *type_out = t->name;
    *params_out = p ? json_incref(p) : json_object();
    return 0;
}
