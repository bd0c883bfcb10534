#include "codec/relay_rest.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/str.h"

enum { PATH_MAX_BYTES = 8192, MAX_HEADER_VALUE = 8192 };

/* ---- small checks -------------------------------------------------------------- */

static bool is_tchar(unsigned char c)
{
    return isalnum(c) || (c && strchr("!#$%&'*+-.^_`|~", c));
}

static bool is_token(const char *s, size_t n)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!is_tchar((unsigned char)s[i]))
            return false;
    return true;
}

/* A header value we can write on a line: no CR, LF, NUL or other controls
 * except HTAB (header injection stops here). */
static bool is_field_value(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            return false;
    }
    return true;
}

static bool name_is(const char *s, size_t n, const char *name) { return str_ieq_n(s, n, name); }

/* Hop-by-hop headers never cross the relay (RFC 9110 7.6.1). */
static bool hop_by_hop(const char *n, size_t len)
{
    static const char *const hop[] = { "Connection", "Keep-Alive", "Proxy-Connection", "TE",
                                       "Trailer", "Transfer-Encoding", "Upgrade" };
    for (size_t i = 0; i < sizeof hop / sizeof hop[0]; i++)
        if (name_is(n, len, hop[i]))
            return true;
    return false;
}

static const char *find_header(const relay_http_in_t *in, const char *name, size_t *len)
{
    for (size_t i = 0; i < in->nheaders; i++)
        if (name_is(in->headers[i].name, in->headers[i].name_len, name)) {
            *len = in->headers[i].value_len;
            return in->headers[i].value;
        }
    return NULL;
}

/* ---- body ------------------------------------------------------------------------ */

static bool identity_encoding(const char *cenc)
{
    if (!cenc)
        return true;
    while (*cenc == ' ' || *cenc == '\t')
        cenc++;
    return *cenc == '\0' || strncasecmp(cenc, "identity", 8) == 0;
}

static int set_base64(json_t *msg, const void *body, size_t len)
{
    buf_t b64 = BUF_INIT((len + 2) / 3 * 4 + 8);
    int rc = str_base64_encode(&b64, body, len);
    if (!rc) {
        json_object_set_new(msg, "dataFormat", json_string("application/octet-stream"));
        rc = json_object_set_new(msg, "messageBody", json_stringn(b64.data ? b64.data : "", b64.len))
                 ? -ENOMEM
                 : 0;
    }
    buf_free(&b64);
    return rc;
}

int relay_body_set(json_t *msg, const char *ctype, const char *cenc, const void *body, size_t len,
                   bool *fallback, char *err, size_t errlen)
{
    *fallback = false;
    if (len == 0)
        return 0;
    if (ctype && strlen(ctype) >= RELAY_CTYPE_MAX) {
        relay_seterr(err, errlen, "Content-Type too long");
        return -EINVAL;
    }
    if (!ctype || relay_mime_is_binary(ctype))
        return set_base64(msg, body, len);
    json_t *value = NULL;
    if (identity_encoding(cenc)) {
        if (relay_mime_is_json(ctype))
            value = json_loadb(body, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
        else
            value = json_stringn(body, len); /* NULL unless valid UTF-8 */
    }
    if (!value) {
        *fallback = true; /* the real type/encoding stay in the headers */
        return set_base64(msg, body, len);
    }
    char base[RELAY_CTYPE_MAX];
    relay_mime_base(ctype, base, sizeof base);
    /* JSON peers compare dataFormat to "application/json": send the bare
     * type; text keeps its parameters (the charset matters). */
    json_t *fmt = json_string(relay_mime_is_json(ctype) ? base : ctype);
    if (!fmt) {
        json_decref(value);
        relay_seterr(err, errlen, "Content-Type is not UTF-8");
        return -EINVAL;
    }
    json_object_set_new(msg, "dataFormat", fmt);
    return json_object_set_new(msg, "messageBody", value) ? -ENOMEM : 0;
}

int relay_body_get(const json_t *msg, relay_http_t *h, char *err, size_t errlen)
{
    const json_t *fmt = json_object_get(msg, "dataFormat");
    const json_t *body = json_object_get(msg, "messageBody");
    const char *f = NULL;
    h->ctype[0] = '\0';
    h->has_body = false;
    if (fmt && !json_is_null(fmt)) {
        if (!json_is_string(fmt) || json_string_length(fmt) >= RELAY_CTYPE_MAX ||
            !is_field_value(json_string_value(fmt), json_string_length(fmt))) {
            relay_seterr(err, errlen, "dataFormat must be a media type string");
            return -EINVAL;
        }
        f = json_string_value(fmt);
        str_copy(h->ctype, sizeof h->ctype, f);
    }
    /* null is "no body", except under a JSON dataFormat where it is the
     * JSON document `null` (an HTTP body of four bytes) */
    if (!body || (json_is_null(body) && !(f && relay_mime_is_json(f))))
        return 0;
    h->has_body = true;
    int rc;
    if (f && relay_mime_is_binary(f)) {
        if (!json_is_string(body)) {
            relay_seterr(err, errlen, "messageBody must be base64 text for %.40s", f);
            return -EINVAL;
        }
        rc = str_base64_decode(&h->body, json_string_value(body), json_string_length(body));
        if (rc == -EINVAL) {
            relay_seterr(err, errlen, "messageBody is not valid base64");
            return rc;
        }
    } else if (json_is_string(body) && !(f && relay_mime_is_json(f))) {
        rc = buf_append(&h->body, json_string_value(body), json_string_length(body));
    } else {
        /* A JSON value (or a string under a JSON dataFormat: a JSON string). */
        rc = relay_json_append(&h->body, body);
        if (!f)
            str_copy(h->ctype, sizeof h->ctype, "application/json");
    }
    if (rc == -ENOBUFS)
        relay_seterr(err, errlen, "messageBody too large");
    else if (rc)
        relay_seterr(err, errlen, "messageBody cannot be decoded");
    return rc;
}

/* ---- building ----------------------------------------------------------------------- */

/* {name, value}; with `val`, the value under "val" too: the reference
 * implementation's own test client reads a REST:RESPONSE header's value from
 * "val" while the message spec says "value" (readers ignore unknown keys). */
static json_t *nv_obj(const char *n, size_t nl, const char *v, size_t vl, bool val)
{
    json_t *name = json_stringn(n, nl), *value = json_stringn(v, vl);
    json_t *o = json_object();
    if (!name || !value || !o) {
        json_decref(name);
        json_decref(value);
        json_decref(o);
        return NULL;
    }
    json_object_set_new(o, "name", name);
    json_object_set_new(o, "value", value);
    if (val)
        json_object_set(o, "val", value);
    return o;
}

/* headers -> [{name,value}], leaving out what travels elsewhere. */
static int add_headers(json_t *msg, const relay_http_in_t *in, bool keep_entity, bool val,
                       char *err, size_t errlen)
{
    json_t *arr = json_array();
    if (!arr)
        return -ENOMEM;
    for (size_t i = 0; i < in->nheaders; i++) {
        const relay_nv_t *h = &in->headers[i];
        if (hop_by_hop(h->name, h->name_len) || name_is(h->name, h->name_len, "Content-Length"))
            continue;
        if (!keep_entity && (name_is(h->name, h->name_len, "Content-Type") ||
                             name_is(h->name, h->name_len, "Content-Encoding")))
            continue;
        if (json_array_size(arr) >= RELAY_MAX_FIELDS) {
            json_decref(arr);
            relay_seterr(err, errlen, "more than %d headers", RELAY_MAX_FIELDS);
            return -E2BIG;
        }
        json_t *o = nv_obj(h->name, h->name_len, h->value, h->value_len, val);
        if (!o) {
            json_decref(arr);
            relay_seterr(err, errlen, "header %.40s is not UTF-8", h->name);
            return -EILSEQ;
        }
        json_array_append_new(arr, o);
    }
    return json_object_set_new(msg, "headers", arr) ? -ENOMEM : 0;
}

/* Body and headers, in that order of decision: the body may need the
 * entity headers kept (fallback). */
static int add_body_and_headers(json_t *msg, const relay_http_in_t *in, bool val, char *err,
                                size_t errlen)
{
    size_t ctl = 0, cel = 0;
    const char *ct = find_header(in, "Content-Type", &ctl);
    const char *ce = find_header(in, "Content-Encoding", &cel);
    char ctype[RELAY_CTYPE_MAX], cenc[64];
    if (ct && str_copyn(ctype, sizeof ctype, ct, ctl)) {
        relay_seterr(err, errlen, "Content-Type too long");
        return -EINVAL;
    }
    if (ce && str_copyn(cenc, sizeof cenc, ce, cel))
        str_copy(cenc, sizeof cenc, "unknown"); /* surely not identity */
    json_t *body = json_object();
    if (!body)
        return -ENOMEM;
    bool fallback = false;
    int rc = relay_body_set(body, ct ? ctype : NULL, ce ? cenc : NULL, in->body, in->body_len,
                            &fallback, err, errlen);
    if (!rc)
        rc = add_headers(msg, in, fallback, val, err, errlen);
    if (!rc)
        rc = json_object_update(msg, body) ? -ENOMEM : 0; /* dataFormat, messageBody after headers */
    json_decref(body);
    return rc;
}

static int add_query(json_t *msg, const char *q, char *err, size_t errlen)
{
    json_t *arr = json_array();
    if (!arr)
        return -ENOMEM;
    int rc = 0;
    buf_t name = BUF_INIT(PATH_MAX_BYTES), value = BUF_INIT(PATH_MAX_BYTES);
    while (*q && !rc) {
        const char *amp = strchr(q, '&');
        size_t n = amp ? (size_t)(amp - q) : strlen(q);
        const char *eq = memchr(q, '=', n);
        size_t nl = eq ? (size_t)(eq - q) : n;
        const char *v = eq ? eq + 1 : q + n;
        size_t vl = eq ? n - nl - 1 : 0;
        if (n) {
            buf_reset(&name);
            buf_reset(&value);
            /* Undecodable escapes travel as written. */
            if (str_pct_decode(&name, q, nl, true)) {
                buf_reset(&name);
                buf_append(&name, q, nl);
            }
            if (str_pct_decode(&value, v, vl, true)) {
                buf_reset(&value);
                buf_append(&value, v, vl);
            }
            json_t *o = nv_obj(name.data ? name.data : "", name.len, value.data ? value.data : "",
                               value.len, false);
            if (!o) {
                relay_seterr(err, errlen, "query string is not UTF-8");
                rc = -EILSEQ;
            } else if (json_array_size(arr) >= RELAY_MAX_FIELDS) {
                json_decref(o);
                relay_seterr(err, errlen, "more than %d query parameters", RELAY_MAX_FIELDS);
                rc = -E2BIG;
            } else {
                json_array_append_new(arr, o);
            }
        }
        q += n + (amp ? 1 : 0);
    }
    buf_free(&name);
    buf_free(&value);
    if (!rc && json_array_size(arr))
        return json_object_set_new(msg, "queryStrings", arr) ? -ENOMEM : 0;
    json_decref(arr);
    return rc;
}

static int finish(buf_t *out, json_t *msg, int rc)
{
    if (!rc) {
        json_t *root = json_object();
        rc = root && !json_object_set_new(root, "message", msg) ? relay_json_append(out, root) : -ENOMEM;
        if (!root)
            json_decref(msg);
        json_decref(root);
        return rc;
    }
    json_decref(msg);
    return rc;
}

int relay_rest_request_build(buf_t *out, int64_t id, const relay_http_in_t *in, char *err,
                             size_t errlen)
{
    if (!in->method || !is_token(in->method, strlen(in->method)) ||
        strlen(in->method) >= RELAY_METHOD_MAX) {
        relay_seterr(err, errlen, "bad method");
        return -EINVAL;
    }
    const char *t = in->target ? in->target : "";
    if (t[0] != '/') {
        relay_seterr(err, errlen, "the request target must be a path");
        return -EINVAL;
    }
    const char *qm = strchr(t, '?');
    size_t plen = qm ? (size_t)(qm - t) : strlen(t);
    json_t *msg = json_object();
    json_t *path = json_stringn(t, plen);
    if (!msg || !path) {
        json_decref(msg);
        json_decref(path);
        relay_seterr(err, errlen, "path is not UTF-8");
        return -EILSEQ;
    }
    json_object_set_new(msg, "messageId", json_integer(id));
    json_object_set_new(msg, "messageType", json_string("REST:REQUEST"));
    json_object_set_new(msg, "requiresResponse", json_true());
    json_object_set_new(msg, "method", json_string(in->method));
    json_object_set_new(msg, "path", path);
    int rc = qm ? add_query(msg, qm + 1, err, errlen) : 0;
    if (!rc)
        rc = add_body_and_headers(msg, in, false, err, errlen);
    return finish(out, msg, rc);
}

int relay_rest_response_build(buf_t *out, int64_t id, int64_t in_response_to,
                              const relay_http_in_t *in, char *err, size_t errlen)
{
    json_t *msg = json_object();
    if (!msg)
        return -ENOMEM;
    json_t *reason = in->reason ? json_string(in->reason) : json_null();
    json_object_set_new(msg, "messageId", json_integer(id));
    json_object_set_new(msg, "messageType", json_string("REST:RESPONSE"));
    json_object_set_new(msg, "requiresResponse", json_false());
    json_object_set_new(msg, "inResponseTo", json_integer(in_response_to));
    json_object_set_new(msg, "statusCode", json_integer(in->status));
    json_object_set_new(msg, "reasonPhrase", reason ? reason : json_null());
    return finish(out, msg, add_body_and_headers(msg, in, true, err, errlen));
}

/* ---- decoding ------------------------------------------------------------------------- */

void relay_http_init(relay_http_t *h, size_t max_body)
{
    memset(h, 0, sizeof *h);
    h->target = BUF_INIT(PATH_MAX_BYTES * 3);
    h->headers = BUF_INIT(RELAY_MAX_FIELDS * (MAX_HEADER_VALUE + 256));
    h->body = BUF_INIT(max_body);
}

void relay_http_free(relay_http_t *h)
{
    buf_free(&h->target);
    buf_free(&h->headers);
    buf_free(&h->body);
}

/* A {name, value} entry of a list; value may be absent/null (-> ""), and
 * is read from "val" when "value" is absent (see nv_obj). */
static int nv_get(const json_t *o, const char **n, size_t *nl, const char **v, size_t *vl)
{
    const json_t *jn = json_object_get(o, "name"), *jv = json_object_get(o, "value");
    if (!jv)
        jv = json_object_get(o, "val");
    if (!json_is_object(o) || !json_is_string(jn) || (jv && !json_is_null(jv) && !json_is_string(jv)))
        return -EINVAL;
    *n = json_string_value(jn);
    *nl = json_string_length(jn);
    *v = json_is_string(jv) ? json_string_value(jv) : "";
    *vl = json_is_string(jv) ? json_string_length(jv) : 0;
    return 0;
}

static int get_headers(const json_t *msg, relay_http_t *h, char *err, size_t errlen)
{
    const json_t *arr = json_object_get(msg, "headers");
    if (!arr || json_is_null(arr))
        return 0;
    if (!json_is_array(arr) || json_array_size(arr) > RELAY_MAX_FIELDS) {
        relay_seterr(err, errlen, "headers must be a list of at most %d {name, value}", RELAY_MAX_FIELDS);
        return -EINVAL;
    }
    size_t i;
    const json_t *o;
    json_array_foreach(arr, i, o) {
        const char *n, *v;
        size_t nl, vl;
        if (nv_get(o, &n, &nl, &v, &vl) || !is_token(n, nl) || vl > MAX_HEADER_VALUE ||
            !is_field_value(v, vl)) {
            relay_seterr(err, errlen, "bad header #%zu", i);
            return -EINVAL;
        }
        if (hop_by_hop(n, nl) || name_is(n, nl, "Content-Length") || name_is(n, nl, "Host"))
            continue;
        if (name_is(n, nl, "Content-Type")) {
            if (str_copyn(h->ctype, sizeof h->ctype, v, vl)) {
                relay_seterr(err, errlen, "Content-Type too long");
                return -EINVAL;
            }
            continue;
        }
        int rc = buf_printf(&h->headers, "%.*s: %.*s\r\n", (int)nl, n, (int)vl, v);
        if (rc) {
            relay_seterr(err, errlen, "headers too large");
            return rc;
        }
    }
    return 0;
}

/* The body first: a Content-Type in the headers list overrides dataFormat. */
static int get_body_and_headers(const json_t *msg, relay_http_t *h, char *err, size_t errlen)
{
    int rc = relay_body_get(msg, h, err, errlen);
    return rc ? rc : get_headers(msg, h, err, errlen);
}

/* The path as it may appear on a request line: bytes outside RFC 3986's
 * pchar set (and stray '%') are percent-encoded; '?' and '#' too, since the
 * query travels separately. */
static int put_path(buf_t *out, const char *p, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        bool ok = isalnum(c) || (c && strchr("-._~!$&'()*+,;=:@/", c));
        if (c == '%' && i + 2 < n && isxdigit((unsigned char)p[i + 1]) &&
            isxdigit((unsigned char)p[i + 2]))
            ok = true;
        int rc = ok ? buf_append_byte(out, (char)c)
                    : buf_printf(out, "%%%c%c", hex[c >> 4], hex[c & 15]);
        if (rc)
            return rc;
    }
    return 0;
}

int relay_rest_request_decode(const relay_env_t *e, relay_http_t *h, char *err, size_t errlen)
{
    const json_t *m = json_object_get(e->msg, "method");
    const json_t *p = json_object_get(e->msg, "path");
    if (!json_is_string(m) || !is_token(json_string_value(m), json_string_length(m)) ||
        json_string_length(m) >= RELAY_METHOD_MAX) {
        relay_seterr(err, errlen, "method must be an HTTP method name");
        return -EINVAL;
    }
    str_copy(h->method, sizeof h->method, json_string_value(m));
    if (!json_is_string(p) || json_string_value(p)[0] != '/' || json_string_length(p) > PATH_MAX_BYTES) {
        relay_seterr(err, errlen, "path must be a string starting with /");
        return -EINVAL;
    }
    int rc = put_path(&h->target, json_string_value(p), json_string_length(p));
    const json_t *qs = json_object_get(e->msg, "queryStrings");
    if (!rc && qs && !json_is_null(qs)) {
        if (!json_is_array(qs) || json_array_size(qs) > RELAY_MAX_FIELDS) {
            relay_seterr(err, errlen, "queryStrings must be a list of at most %d {name, value}",
                         RELAY_MAX_FIELDS);
            return -EINVAL;
        }
        size_t i;
        const json_t *o;
        json_array_foreach(qs, i, o) {
            const char *n, *v;
            size_t nl, vl;
            if (nv_get(o, &n, &nl, &v, &vl)) {
                relay_seterr(err, errlen, "bad queryStrings entry #%zu", i);
                return -EINVAL;
            }
            rc = buf_append_byte(&h->target, i ? '&' : '?');
            if (!rc)
                rc = str_pct_encode(&h->target, n, nl, "-._~");
            if (!rc)
                rc = buf_append_byte(&h->target, '=');
            if (!rc)
                rc = str_pct_encode(&h->target, v, vl, "-._~");
            if (rc)
                break;
        }
    }
    if (rc) {
        relay_seterr(err, errlen, "request target too long");
        return rc;
    }
    return get_body_and_headers(e->msg, h, err, errlen);
}

int relay_rest_response_decode(const relay_env_t *e, relay_http_t *h, char *err, size_t errlen)
{
    const json_t *s = json_object_get(e->msg, "statusCode");
    if (!json_is_integer(s) || json_integer_value(s) < 200 || json_integer_value(s) > 599) {
        relay_seterr(err, errlen, "statusCode must be an integer 200-599");
        return -EINVAL;
    }
    h->status = (int)json_integer_value(s);
    const json_t *r = json_object_get(e->msg, "reasonPhrase");
    h->reason[0] = '\0';
    if (json_is_string(r)) {
        /* Kept only when it is safe on a status line. */
        if (json_string_length(r) < sizeof h->reason &&
            is_field_value(json_string_value(r), json_string_length(r)))
            str_copy(h->reason, sizeof h->reason, json_string_value(r));
    } else if (r && !json_is_null(r)) {
        relay_seterr(err, errlen, "reasonPhrase must be a string or null");
        return -EINVAL;
    }
    return get_body_and_headers(e->msg, h, err, errlen);
}
