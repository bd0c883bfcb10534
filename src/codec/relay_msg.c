#include "codec/relay_msg.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "codec/relay_rest.h"
#include "core/str.h"

void relay_seterr(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || !errlen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static const struct {
    const char *type;
    relay_kind_t kind;
} kinds[] = {
    { "CONN:HELLO", RELAY_KIND_HELLO },
    { "REST:REQUEST", RELAY_KIND_REST_REQUEST },
    { "REST:RESPONSE", RELAY_KIND_REST_RESPONSE },
};

/* An optional integer member: 0 absent, 1 present, -EINVAL wrong type. */
static int opt_int(const json_t *msg, const char *key, int64_t *out)
{
    const json_t *v = json_object_get(msg, key);
    if (!v)
        return 0;
    if (!json_is_integer(v))
        return -EINVAL;
    *out = (int64_t)json_integer_value(v);
    return 1;
}

int relay_env_decode(relay_env_t *e, const void *data, size_t len, char *err, size_t errlen)
{
    memset(e, 0, sizeof *e);
    json_error_t jerr;
    /* JSON_ALLOW_NUL: text bodies may hold \u0000; every field used as a C
     * string is checked for embedded NULs where it is read. */
    json_t *root = json_loadb(data, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
    if (!root) {
        relay_seterr(err, errlen, "not JSON: %.80s", jerr.text);
        return -EINVAL;
    }
    json_t *msg = json_object_get(root, "message");
    if (!json_is_object(msg)) {
        json_decref(root);
        relay_seterr(err, errlen, "expected {\"message\": {...}}");
        return -EINVAL;
    }
    const json_t *type = json_object_get(msg, "messageType");
    if (!json_is_string(type) || json_string_length(type) == 0 ||
        strlen(json_string_value(type)) != json_string_length(type)) {
        json_decref(root);
        relay_seterr(err, errlen, "messageType must be a non-empty string");
        return -EINVAL;
    }
    int rc1 = opt_int(msg, "messageId", &e->id);
    int rc2 = opt_int(msg, "inResponseTo", &e->in_response_to);
    const json_t *rr = json_object_get(msg, "requiresResponse");
    if (rc1 < 0 || rc2 < 0 || (rr && !json_is_boolean(rr))) {
        json_decref(root);
        relay_seterr(err, errlen, "%s", rc1 < 0 ? "messageId must be an integer"
                                       : rc2 < 0 ? "inResponseTo must be an integer"
                                                 : "requiresResponse must be a boolean");
        return -EINVAL;
    }
    e->root = root;
    e->msg = msg;
    e->type = json_string_value(type);
    e->has_id = rc1 == 1;
    e->has_in_response_to = rc2 == 1;
    e->requires_response = rr && json_is_true(rr);
    e->kind = RELAY_KIND_OTHER;
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (strcmp(e->type, kinds[i].type) == 0)
            e->kind = kinds[i].kind;
    if (e->kind == RELAY_KIND_OTHER && strncmp(e->type, "EVENT:", 6) == 0)
        e->kind = RELAY_KIND_EVENT;
    return 0;
}

void relay_env_free(relay_env_t *e)
{
    json_decref(e->root);
    memset(e, 0, sizeof *e);
}

/* A peer identity string: 1..RELAY_PEER_FIELD_MAX bytes, no control bytes
 * (it lands in logs, /status and the partner's view). */
static const char *peer_field(const json_t *msg, const char *key, char *err, size_t errlen)
{
    const json_t *v = json_object_get(msg, key);
    if (!json_is_string(v)) {
        relay_seterr(err, errlen, "HELLO needs a string %s", key);
        return NULL;
    }
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    if (n == 0 || n > RELAY_PEER_FIELD_MAX) {
        relay_seterr(err, errlen, "HELLO %s must be 1-%d bytes", key, RELAY_PEER_FIELD_MAX);
        return NULL;
    }
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) {
            relay_seterr(err, errlen, "HELLO %s has control characters", key);
            return NULL;
        }
    return s;
}

int relay_hello_check(const relay_env_t *e, relay_hello_t *h, char *err, size_t errlen)
{
    if (e->kind != RELAY_KIND_HELLO) {
        relay_seterr(err, errlen, "expected CONN:HELLO first, got %.60s", e->type);
        return -EPROTO;
    }
    if (!e->has_id) {
        relay_seterr(err, errlen, "HELLO needs an integer messageId");
        return -EINVAL;
    }
    if (!json_is_boolean(json_object_get(e->msg, "requiresResponse"))) {
        relay_seterr(err, errlen, "HELLO needs a boolean requiresResponse");
        return -EINVAL;
    }
    h->peer_class = peer_field(e->msg, "peerClass", err, errlen);
    if (!h->peer_class)
        return -EINVAL;
    h->peer_id = peer_field(e->msg, "peerId", err, errlen);
    return h->peer_id ? 0 : -EINVAL;
}

int relay_json_append(buf_t *out, const json_t *doc)
{
    size_t need = json_dumpb(doc, NULL, 0, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(17));
    if (need == 0)
        return -EINVAL;
    int rc = buf_reserve(out, need);
    if (rc)
        return rc;
    size_t n = json_dumpb(doc, out->data + out->len, need,
                          JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(17));
    if (n != need)
        return -EINVAL;
    out->len += n;
    out->data[out->len] = '\0';
    return 0;
}

/* {"message": msg} appended to out; steals msg. */
static int wrap_append(buf_t *out, json_t *msg)
{
    json_t *root = json_object();
    if (!root || !msg || json_object_set_new(root, "message", msg)) {
        json_decref(root);
        return -ENOMEM;
    }
    int rc = relay_json_append(out, root);
    json_decref(root);
    return rc;
}

int relay_hello_build(buf_t *out, int64_t id, const char *peer_class, const char *peer_id)
{
    json_t *m = json_object();
    json_t *pc = json_string(peer_class), *pi = json_string(peer_id);
    if (!m || !pc || !pi) {
        json_decref(m);
        json_decref(pc);
        json_decref(pi);
        return m ? -EINVAL : -ENOMEM; /* json_string: NULL for non-UTF-8 */
    }
    json_object_set_new(m, "messageId", json_integer(id));
    json_object_set_new(m, "messageType", json_string("CONN:HELLO"));
    json_object_set_new(m, "requiresResponse", json_false());
    json_object_set_new(m, "peerClass", pc);
    json_object_set_new(m, "peerId", pi);
    return wrap_append(out, m);
}

const char *relay_event_name(const relay_env_t *e)
{
    return e->kind == RELAY_KIND_EVENT ? e->type + 6 : NULL;
}

int relay_event_build(buf_t *out, int64_t id, const char *name, const char *ctype, const void *body,
                      size_t len, char *err, size_t errlen)
{
    size_t nlen = strlen(name);
    if (nlen == 0 || nlen > RELAY_EVENT_NAME_MAX) {
        relay_seterr(err, errlen, "event name must be 1-%d bytes", RELAY_EVENT_NAME_MAX);
        return -EINVAL;
    }
    buf_t type = BUF_INIT(RELAY_EVENT_NAME_MAX + 8);
    if (buf_printf(&type, "EVENT:%s", name)) {
        buf_free(&type);
        return -ENOMEM;
    }
    json_t *m = json_object();
    json_t *t = json_string(type.data);
    buf_free(&type);
    if (!m || !t) {
        json_decref(m);
        json_decref(t);
        relay_seterr(err, errlen, "event name is not UTF-8");
        return -EINVAL;
    }
    json_object_set_new(m, "messageId", json_integer(id));
    json_object_set_new(m, "messageType", t);
    json_object_set_new(m, "requiresResponse", json_false());
    if (!ctype && len) {
        /* Guess for convenience (command line events): JSON, text, bytes. */
        json_t *probe = json_loadb(body, len, JSON_DECODE_ANY, NULL);
        ctype = probe ? "application/json" : "text/plain; charset=utf-8";
        json_decref(probe);
    }
    bool fallback = false;
    int rc = relay_body_set(m, ctype, NULL, body, len, &fallback, err, errlen);
    if (rc) {
        json_decref(m);
        return rc;
    }
    return wrap_append(out, m);
}

/* ---- media types ------------------------------------------------------------ */

void relay_mime_base(const char *ctype, char *out, size_t outlen)
{
    size_t n = 0;
    if (!outlen)
        return;
    const char *p = ctype ? ctype : "";
    while (*p == ' ' || *p == '\t')
        p++;
    for (; *p && *p != ';' && *p != ' ' && *p != '\t' && n + 1 < outlen; p++)
        out[n++] = (char)tolower((unsigned char)*p);
    out[n] = '\0';
}

bool relay_mime_is_json(const char *ctype)
{
    char base[RELAY_CTYPE_MAX];
    relay_mime_base(ctype, base, sizeof base);
    return strcmp(base, "application/json") == 0 ||
           (str_starts_with(base, "application/") && str_ends_with(base, "+json"));
}

bool relay_mime_is_binary(const char *ctype)
{
    char base[RELAY_CTYPE_MAX];
    relay_mime_base(ctype, base, sizeof base);
    return strcmp(base, "application/octet-stream") == 0;
}
