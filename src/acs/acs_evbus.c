/*
 * acs_evbus: the pure pieces of acs_events.h: type names and filters, the
 * SSE wire format, the lines events travel in between nodes, the
 * per-minute ring. Unit-tested (tests/unit/acs/), the lines fuzzed
 * (tests/fuzz/acs/fuzz_ev_share.c).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acs/acs_events.h"

static const char *const type_names[ACS_EV_TYPES] = {
    [ACS_EV_TASK] = "task", [ACS_EV_INFORM] = "inform", [ACS_EV_DEVICE] = "device",
    [ACS_EV_FAULT] = "fault", [ACS_EV_BULK] = "bulk",
};

static const char *const stat_names[ACS_EVSTATS] = {
    [ACS_EVSTAT_INFORMS] = "informs",       [ACS_EVSTAT_SESSIONS] = "sessions",
    [ACS_EVSTAT_FAULTS] = "faults",         [ACS_EVSTAT_TASKS_DONE] = "tasks_done",
    [ACS_EVSTAT_TASKS_FAILED] = "tasks_failed",
};

const char *acs_ev_type_name(acs_ev_type_t t)
{
    return (unsigned)t < ACS_EV_TYPES ? type_names[t] : NULL;
}

const char *acs_evstat_name(acs_evstat_t s)
{
    return (unsigned)s < ACS_EVSTATS ? stat_names[s] : NULL;
}

int acs_ev_types_parse(const char *s, uint32_t *mask, char *err, size_t errlen)
{
    *mask = 0;
    if (!s || !*s) {
        *mask = ACS_EV_ALL;
        return 0;
    }
    const char *p = s;
    for (;;) { /* every item, an empty one ("a,,b", "a,") included */
        const char *e = strchr(p, ',');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        int found = -1;
        for (int i = 0; i < ACS_EV_TYPES; i++)
            if (strlen(type_names[i]) == n && !memcmp(type_names[i], p, n))
                found = i;
        if (found < 0) {
            snprintf(err, errlen, "types: unknown event type '%.*s' (task, inform, device, fault, bulk)",
                     (int)(n > 40 ? 40 : n), p);
            *mask = 0;
            return -EINVAL;
        }
        *mask |= 1u << found;
        if (!e)
            break;
        p = e + 1;
    }
    if (!*mask) {
        snprintf(err, errlen, "types: no event type named");
        return -EINVAL;
    }
    return 0;
}

int acs_ev_format(buf_t *out, uint64_t id, acs_ev_type_t t, const json_t *data)
{
    const char *name = acs_ev_type_name(t);
    if (!name)
        return -EINVAL;
    /* compact JSON escapes every control character: one line, never "\n\n" */
    char *s = json_dumps(data, JSON_COMPACT);
    if (!s)
        return -ENOMEM;
    int rc = buf_printf(out, "id: %llu\nevent: %s\ndata: ", (unsigned long long)id, name);
    if (!rc)
        rc = buf_append_str(out, s);
    if (!rc)
        rc = buf_append_str(out, "\n\n");
    free(s);
    return rc;
}

/* ---- shared with the other nodes ---- */

enum { SHARE_DEVICE_MAX = 256 }; /* STORE_ID_MAX: a device id with its NUL */

static bool share_device_ok(const char *d, size_t n)
{
    if (n == 0 || n >= SHARE_DEVICE_MAX || (n == 1 && d[0] == '-'))
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)d[i] <= ' ' || d[i] == 0x7f)
            return false;
    return true;
}

int acs_ev_share_put(buf_t *out, acs_ev_type_t t, const char *device, const json_t *data)
{
    const char *name = acs_ev_type_name(t);
    if (!name || !data || (device && !share_device_ok(device, strlen(device))))
        return -EINVAL;
    char *s = json_dumps(data, JSON_COMPACT); /* one line: control characters are escaped */
    if (!s)
        return -ENOMEM;
    size_t need = strlen(name) + 1 + (device ? strlen(device) : 1) + 1 + strlen(s) + 1;
    int rc = need <= buf_room(out) ? buf_printf(out, "%s %s %s\n", name, device ? device : "-", s)
                                   : -ENOBUFS;
    free(s);
    return rc;
}

int acs_ev_share_parse(const char *payload, size_t len, acs_ev_share_fn fn, void *ud)
{
    int given = 0;
    const char *p = payload, *end = payload + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *eol = nl ? nl : end;
        const char *sp1 = memchr(p, ' ', (size_t)(eol - p));
        const char *sp2 = sp1 ? memchr(sp1 + 1, ' ', (size_t)(eol - sp1 - 1)) : NULL;
        int t = -1;
        for (int i = 0; sp1 && i < ACS_EV_TYPES; i++)
            if (strlen(type_names[i]) == (size_t)(sp1 - p) && !memcmp(type_names[i], p, (size_t)(sp1 - p)))
                t = i;
        size_t dn = sp2 ? (size_t)(sp2 - sp1 - 1) : 0;
        bool none = dn == 1 && sp1[1] == '-';
        json_t *data = NULL;
        if (t >= 0 && sp2 && (none || share_device_ok(sp1 + 1, dn)))
            data = json_loadb(sp2 + 1, (size_t)(eol - sp2 - 1), JSON_REJECT_DUPLICATES, NULL);
        if (data && json_is_object(data)) {
            char device[SHARE_DEVICE_MAX];
            memcpy(device, sp1 + 1, dn);
            device[dn] = '\0';
            int rc = fn((acs_ev_type_t)t, none ? NULL : device, data, ud);
            json_decref(data);
            if (rc)
                return rc;
            given++;
        } else {
            json_decref(data);
        }
        p = nl ? nl + 1 : end;
    }
    return given;
}

static size_t slot_of(int64_t minute)
{
    return (size_t)(minute % ACS_EVRING_MINUTES);
}

void acs_evring_note(acs_evring_t *r, int64_t now_s, acs_evstat_t s, uint32_t n)
{
    if ((unsigned)s >= ACS_EVSTATS || now_s < 60)
        return;
    int64_t m = now_s / 60;
    size_t i = slot_of(m);
    if (r->minute[i] != m) { /* a slot from a day ago (or never used): start it again */
        r->minute[i] = m;
        memset(r->v[i], 0, sizeof r->v[i]);
    }
    if (s == ACS_EVSTAT_SESSIONS) {
        if (n > r->v[i][s])
            r->v[i][s] = n;
    } else {
        r->v[i][s] = r->v[i][s] > UINT32_MAX - n ? UINT32_MAX : r->v[i][s] + n;
    }
}

json_t *acs_evring_json(const acs_evring_t *r, int64_t now_s, int minutes)
{
    if (minutes < 1)
        minutes = 1;
    if (minutes > ACS_EVRING_MINUTES)
        minutes = ACS_EVRING_MINUTES;
    int64_t last = now_s / 60, first = last - minutes + 1;
    json_t *arr = json_array();
    for (int64_t m = first; arr && m <= last; m++) {
        size_t i = slot_of(m < 0 ? 0 : m);
        bool have = m > 0 && r->minute[i] == m;
        json_t *b = json_pack("{s:I}", "t", (json_int_t)(m * 60));
        for (int s = 0; b && s < ACS_EVSTATS; s++)
            json_object_set_new(b, stat_names[s], json_integer(have ? r->v[i][s] : 0));
        json_array_append_new(arr, b);
    }
    return json_pack("{s:i, s:I, s:I, s:o}", "minute_seconds", 60, "from", (json_int_t)(first * 60),
                     "to", (json_int_t)(last * 60 + 59), "buckets", arr ? arr : json_array());
}
