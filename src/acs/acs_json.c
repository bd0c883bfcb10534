/*
 * acs_json: devices, tasks and session logs as the API shows them (pure,
 * unit-tested; the log's redaction fuzzed: tests/fuzz/acs/fuzz_soap_log.c).
 * Secrets never come back out: a task's through acs_task_params_hide, a
 * session log's through acs_soap_log_hide.
 * Their text comes from CPEs and is stored in fixed-size fields, so every
 * string goes through acs_json_text: a value that is not valid UTF-8 (a
 * row cut by an older version, a hostile byte that slipped through) still
 * gives an object, never a NULL that would turn a listing into a 500.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "acs/acs_internal.h"
#include "core/clock.h"
#include "core/str.h"
#include "net/addr.h"

int acs_utf8_copy(char *dst, size_t size, const char *src)
{
    int rc = str_copy(dst, size, src);
    if (rc == 0)
        return 0;
    /* Cut: drop a trailing sequence that lost its last bytes. */
    size_t n = strlen(dst), i = n;
    while (i > 0 && ((unsigned char)dst[i - 1] & 0xC0) == 0x80)
        i--;
    if (i > 0 && ((unsigned char)dst[i - 1] & 0xC0) == 0xC0) {
        unsigned char lead = (unsigned char)dst[i - 1];
        size_t want = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : 2;
        if (n - (i - 1) < want)
            dst[i - 1] = '\0';
    }
    return rc;
}

json_t *acs_json_text(const char *s)
{
    json_t *j = json_string(s ? s : "");
    if (j)
        return j;
    /* Not UTF-8: show it with every non-ASCII byte as '?' rather than not at all. */
    char *c = strdup(s);
    if (!c)
        return json_null();
    for (char *p = c; *p; p++)
        if ((unsigned char)*p >= 0x80)
            *p = '?';
    j = json_string(c);
    free(c);
    return j ? j : json_null();
}

void acs_iso(int64_t t, char *out)
{
    if (t <= 0) {
        out[0] = '\0';
        return;
    }
    clock_iso8601(t, out);
}

json_t *acs_json_time(int64_t t)
{
    char b[CLOCK_ISO_LEN];
    if (t <= 0)
        return json_null();
    acs_iso(t, b);
    return json_string(b);
}

bool acs_param_secret(const char *name, size_t n)
{
    static const char *const words[] = { "password", "passphrase", "presharedkey", "wepkey",
                                         "secret" };
    const char *leaf = name;
    for (size_t i = 0; i < n; i++)
        if (name[i] == '.')
            leaf = name + i + 1;
    size_t ln = n - (size_t)(leaf - name);
    for (size_t w = 0; w < sizeof words / sizeof words[0]; w++) {
        size_t wn = strlen(words[w]);
        for (size_t i = 0; i + wn <= ln; i++)
            if (strncasecmp(leaf + i, words[w], wn) == 0)
                return true;
    }
    return false;
}

/* ---- the session log ---------------------------------------------------------- */

/* p at a '<': the element's local name (after any "prefix:"), or NULL
 * for an end tag, a comment or a declaration. */
static const char *tag_name(const char *p, const char *e)
{
    const char *q = ++p;
    while (q < e && (isalnum((unsigned char)*q) || *q == '_' || *q == '-' || *q == '.'))
        q++;
    return q < e && *q == ':' && q > p ? q + 1 : (p < e && isalpha((unsigned char)*p) ? p : NULL);
}

static bool is_tag(const char *t, const char *e, const char *name)
{
    size_t n = strlen(name);
    return t && (size_t)(e - t) > n && memcmp(t, name, n) == 0 &&
           (t[n] == '>' || t[n] == ' ' || t[n] == '\t' || t[n] == '\r' || t[n] == '\n');
}

int acs_soap_log_hide(const char *d, size_t n, buf_t *out)
{
    const char *p = d, *e = d + n, *copied = d, *name = NULL;
    size_t name_len = 0;
    int rc = 0;
    while (rc == 0 && p < e && (p = memchr(p, '<', (size_t)(e - p)))) {
        const char *t = tag_name(p, e);
        const char *gt = t ? memchr(t, '>', (size_t)(e - t)) : NULL;
        if (!gt) {
            p++;
            continue;
        }
        const char *text = gt + 1, *end = memchr(text, '<', (size_t)(e - text));
        if (!end)
            end = e;
        const char *from = NULL; /* what becomes "***", up to end */
        if (is_tag(t, e, "Name")) {
            name = text;
            name_len = (size_t)(end - text);
        } else if (is_tag(t, e, "Password") ||
                   (is_tag(t, e, "Value") && name && acs_param_secret(name, name_len))) {
            from = text;
        } else if (is_tag(t, e, "URL")) { /* an upload URL's MAC is the right to send it */
            const char *u = memmem(text, (size_t)(end - text), "/uploads/", 9);
            const char *dash = u ? memchr(u, '-', (size_t)(end - u)) : NULL;
            from = dash ? dash + 1 : NULL;
        }
        if (from && end > from) {
            rc = buf_append(out, copied, (size_t)(from - copied));
            if (rc == 0)
                rc = buf_append(out, "***", 3);
            copied = end;
        }
        p = end;
    }
    return rc ? rc : buf_append(out, copied, (size_t)(e - copied));
}

static void hide_url(json_t *p, const char *key)
{
    const char *u = json_string_value(json_object_get(p, key));
    char shown[NET_URL_SHOWN];
    if (u && net_url_redacted(u, shown, sizeof shown) >= 0 && strcmp(shown, u) != 0)
        json_object_set_new(p, key, acs_json_text(shown));
}

void acs_task_params_hide(json_t *p)
{
    if (!json_is_object(p))
        return;
    const char *k;
    json_t *v;
    if (json_string_length(json_object_get(p, "password")))
        json_object_set_new(p, "password", json_string("***"));
    hide_url(p, "url");
    hide_url(p, "success_url");
    hide_url(p, "failure_url");
    json_object_foreach(json_object_get(p, "values"), k, v) {
        if (!acs_param_secret(k, strlen(k)))
            continue;
        if (json_is_object(v))
            json_object_set_new(v, "value", json_string("***"));
        else
            json_object_set_new(json_object_get(p, "values"), k, json_string("***"));
    }
}

json_t *acs_task_json(const store_task_t *t)
{
    json_t *params = t->params ? json_loads(t->params, 0, NULL) : NULL;
    acs_task_params_hide(params);
    json_t *result = t->result ? json_loads(t->result, 0, NULL) : NULL;
    json_t *o = json_pack("{s:I, s:o, s:o, s:o, s:s, s:o, s:i}", "id", (json_int_t)t->id,
                          "device_id", acs_json_text(t->device_id), "type", acs_json_text(t->type),
                          "parameters", params ? params : json_object(), "status",
                          store_task_status_name(t->status), "result",
                          result ? result : json_null(), "attempts", t->attempts);
    if (!o)
        return NULL;
    if (t->fault_code || t->fault_string[0])
        json_object_set_new(o, "fault", json_pack("{s:i, s:o}", "code", t->fault_code, "message",
                                                  acs_json_text(t->fault_string)));
    else
        json_object_set_new(o, "fault", json_null());
    json_object_set_new(o, "created", acs_json_time(t->created));
    json_object_set_new(o, "updated", acs_json_time(t->updated));
    json_object_set_new(o, "sent_at", acs_json_time(t->sent_at));
    json_object_set_new(o, "done_at", acs_json_time(t->done_at));
    json_object_set_new(o, "expires_at", acs_json_time(t->expires_at));
    /* What became of the connection request sent to wake the device for
     * it; null while none is known (not sent yet, or the device was in a
     * session). */
    json_object_set_new(o, "connection_request",
                        t->cr.status[0] ? json_pack("{s:o, s:o, s:o}", "status",
                                                    acs_json_text(t->cr.status), "reason",
                                                    acs_json_text(t->cr.reason), "at",
                                                    acs_json_time(t->cr.at))
                                        : json_null());
    return o;
}

json_t *acs_device_json(const store_device_t *d, int64_t now, int64_t default_interval)
{
    json_t *tags = json_array();
    const char *s = d->tags;
    while (*s) {
        const char *e = strchr(s, ',');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        if (n) {
            char tag[STORE_TAGS];
            str_copyn(tag, sizeof tag, s, n);
            json_array_append_new(tags, acs_json_text(tag));
        }
        s = e ? e + 1 : s + n;
    }
    json_t *o = json_pack(
        "{s:o, s:o, s:o, s:o, s:o, s:b, s:o, s:o, s:o, s:o, s:o, s:o, s:I, s:o, s:o, s:o,"
        " s:b, s:o, s:o}",
        "id", acs_json_text(d->id), "manufacturer", acs_json_text(d->manufacturer), "oui",
        acs_json_text(d->oui), "product_class", acs_json_text(d->product_class), "serial_number",
        acs_json_text(d->serial), "online", store_device_online(d, now, default_interval),
        "last_inform", acs_json_time(d->last_inform), "software_version",
        acs_json_text(d->software_version), "hardware_version", acs_json_text(d->hardware_version),
        "ip_address", acs_json_text(d->ip), "connection_request_url", acs_json_text(d->cr_url),
        "first_seen", acs_json_time(d->first_seen), "periodic_inform_interval",
        (json_int_t)d->periodic_interval, "tags", tags, "last_events",
        acs_json_text(d->last_events),
        /* the user name only: the password never leaves the store */
        "connection_request_username", acs_json_text(d->cr_user),
        /* behind NAT (TR-069 Annex G, K) */
        "nat_detected", d->cr_nat, "udp_connection_request_address", acs_json_text(d->cr_udp),
        "xmpp_jid", acs_json_text(d->cr_jid));
    return o;
}
