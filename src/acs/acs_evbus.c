/*
 * acs_evbus: the pure pieces of acs_events.h: type names and filters, the
 * SSE wire format, the per-minute ring. Unit-tested (tests/unit/acs/).
 */
#include <errno.h>
#include <stdio.h>
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
