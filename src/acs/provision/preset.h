/*
 * preset: when provisioning runs for a device, and what it applies. Pure:
 * no I/O, no clock (every time is an argument), so all of it is unit-tested.
 *
 *   preset.c        JSON -> preset_t with precise errors (field path + reason),
 *                   the run/retry decision
 *   preset_tmpl.c   templates: check, expand, what they read
 *   preset_sched.c  the cron-like schedule and each device's window in it
 *   preset_index.c  a set of presets indexed for matching one Inform
 *
 * A preset (docs/acs.md, "Presets", is the operator's description):
 *
 *   {"weight": 10,                         lower first; ties by name
 *    "events": ["0 BOOTSTRAP", "1 BOOT"],  any of these in the Inform; ["*"]: any session
 *    "schedule": {"cron": "0 3 * * *", "spread": "2h", "window": "4h"},   optional
 *    "match": [{"field": "product_class", "op": "=", "value": "IGD"}, ...],   all must hold
 *    "provisions": [{"type": "set", "path": "X.Y", "value": "{serial_number}"}, ...],
 *    "max_tries": 5, "retry_backoff": "5m"}                                  optional
 *
 * The name is not part of the body: the API takes it from the path (or
 * "name" in a POST body) and the store keys presets by it.
 *
 * Ownership. preset_parse() allocates a preset_t that owns all its strings
 * (and the JSON args of script provisions); preset_free() releases it. A
 * preset_set_t takes ownership of the presets it is built from.
 */
#ifndef OUTPOST_ACS_PROVISION_PRESET_H
#define OUTPOST_ACS_PROVISION_PRESET_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

enum {
    PRESET_NAME_MAX = 64,        /* names of presets, provisions, virtual parameters */
    PRESET_MAX_EVENTS = 16,
    PRESET_MAX_CONDS = 32,
    PRESET_MAX_PROVISIONS = 64,
    PRESET_TEXT_MAX = 1024,      /* a template, a match value, a path */
    PRESET_EXPAND_MAX = 4096,    /* a template's expansion */
    PRESET_ARGS_MAX = 16384,     /* a script provision's args, as compact JSON */
    PRESET_MAX_TRIES_DEFAULT = 5,
    PRESET_BACKOFF_DEFAULT_S = 300,
    PRESET_BACKOFF_CAP_S = 86400, /* a retry is never further away than a day */
};

/* A validation failure: where (a path into the body: "match[2].op",
 * "provisions[0].value", "schedule.cron") and why. */
typedef struct preset_err {
    char field[160];
    char reason[256];
} preset_err_t;

/* ---- names ------------------------------------------------------------------ */

/* 1-64 of [A-Za-z0-9_-] (a URL path segment and a parameter name segment:
 * virtual parameters are VirtualParameters.<Name>). 0 or -EINVAL + reason. */
int preset_name_check(const char *name, char *err, size_t errlen);

/* ---- the parsed form ------------------------------------------------------------ */

typedef enum preset_field {
    PF_DEVICE_ID,        /* the key fields, most selective first (the index's order) */
    PF_SERIAL,
    PF_PRODUCT_CLASS,
    PF_MODEL,
    PF_OUI,
    PF_SOFTWARE_VERSION,
    PF_HARDWARE_VERSION,
    PF_MANUFACTURER,
    PF_TAG,              /* one of the device's tags */
    PF_PARAM,            /* a parameter's value as the ACS knows it */
    PF_COUNT
} preset_field_t;

typedef enum preset_op { PO_EQ, PO_NE, PO_LT, PO_LE, PO_GT, PO_GE, PO_PREFIX, PO_GLOB } preset_op_t;

typedef struct preset_cond {
    preset_field_t field;
    preset_op_t op;
    char *param;         /* PF_PARAM: the parameter's name */
    char *value;
} preset_cond_t;

typedef enum preset_prov_type {
    PP_SET,              /* path, value (template), value_type (NULL: the data model's) */
    PP_ADD_TAG,          /* value (template) */
    PP_REMOVE_TAG,       /* value (template) */
    PP_REFRESH,          /* path (a parameter or an object path ending in '.') */
    PP_DOWNLOAD,         /* value: url (template) or NULL; file: a stored file's name; file_type */
    PP_REBOOT,
    PP_SCRIPT,           /* name: a stored Lua provision; args: a JSON array */
} preset_prov_type_t;

typedef struct preset_prov {
    preset_prov_type_t type;
    char *path;
    char *value;
    char *value_type;
    char *literal_type;  /* PP_SET, a number or boolean without value_type: the type a
                          * set_params task sends it with (used when the device's is unknown) */
    char *file;
    char *file_type;
    char *name;
    json_t *args;
} preset_prov_t;

/* The cron fields as bit sets (UTC): minute 0-59, hour 0-23, day of month
 * 1-31, month 1-12, day of week 0-6 (Sunday 0; 7 is read as 0). */
typedef struct preset_cron {
    uint64_t minute;
    uint32_t hour, dom;
    uint16_t month;
    uint8_t dow;
    bool dom_star, dow_star; /* the field started with '*': see preset_cron_day() */
} preset_cron_t;

typedef struct preset_schedule {
    bool on;
    preset_cron_t cron;
    int64_t spread_s;    /* each device's slot: a stable hash of its id mod spread */
    int64_t window_s;    /* 0: until the next firing */
} preset_schedule_t;

typedef struct preset {
    char name[PRESET_NAME_MAX + 1];
    int64_t weight;
    bool any_event;
    char *events[PRESET_MAX_EVENTS];
    size_t nevents;
    preset_schedule_t sched;
    preset_cond_t *conds;
    size_t nconds;
    preset_prov_t *provs;
    size_t nprovs;
    int max_tries;
    int64_t backoff_s;
} preset_t;

/* Validate and parse a preset body (a JSON object; "name" is allowed when it
 * equals `name`; "source", "created" and "updated", which the API answers
 * with, are ignored so a GET can be PUT back). 0, or -EINVAL with *err
 * filled, or -ENOMEM. */
int preset_parse(const json_t *body, const char *name, preset_t **out, preset_err_t *err);
void preset_free(preset_t *p);

/* Is this a TR-069 event code a preset may name? The standard codes
 * ("0 BOOTSTRAP" ... "14 HEARTBEAT"), "M <method>" and vendor codes
 * ("M X_...", "X <OUI> <event>"). */
bool preset_event_known(const char *code);

/* ---- the device a preset is matched against ---------------------------------------- */

typedef struct preset_device {
    const char *id, *oui, *product_class, *serial, *manufacturer, *model, *software_version,
        *hardware_version;   /* NULL: unknown (a condition on it is false) */
    const char *tags;        /* comma-separated, as the store keeps them */
    /* A parameter's value as the ACS knows it, NULL when unknown (then any
     * condition on it is false, and a template using it cannot expand). */
    const char *(*param)(void *ud, const char *name);
    void *ud;
    /* A first, partial look (the Inform alone, before the store is read):
     * NULL fields, NULL tags and parameters `param` does not know are
     * unknown, not absent, and a condition on something unknown counts as
     * holding. preset_set_match then returns every preset that may match
     * once the rest is known: the candidates to check again with all of it. */
    bool partial;
} preset_device_t;

/* Do all its conditions hold (with d->partial: may they)? (Events and
 * schedule are not looked at.)
 * Comparisons: numeric when both sides are decimal numbers, otherwise
 * bytewise; ^= is a prefix, glob takes * and ?. */
bool preset_matches(const preset_t *p, const preset_device_t *d);
bool preset_glob(const char *pattern, const char *s);

/* ---- templates ------------------------------------------------------------------------ */

/* {serial_number} {oui} {product_class} {device_id} {param:NAME}; "{{" and
 * "}}" are literal braces. 0, or -EINVAL with the reason (naming an
 * unknown field) in err. */
int preset_template_check(const char *tmpl, char *err, size_t errlen);
/* Expand into out (at most outlen - 1 bytes, and PRESET_EXPAND_MAX):
 * 0; -ENOENT when a {param:NAME} is unknown (NAME copied to missing);
 * -E2BIG when the result does not fit; -EINVAL for a bad template. */
int preset_template_expand(const char *tmpl, const preset_device_t *d, char *out, size_t outlen,
                           char *missing, size_t missinglen);
/* The template with every placeholder as "x": what it can become, to check
 * its fixed parts (a URL's scheme and host). 0, -E2BIG, -EINVAL. */
int preset_template_sample(const char *tmpl, char *out, size_t outlen);
/* Calls fn for each {param:NAME} of the template (so the caller can read
 * them first); stops at fn's non-zero return and returns it. */
int preset_template_params(const char *tmpl, int (*fn)(const char *name, void *ud), void *ud);

/* ---- schedule (preset_sched.c) ---------------------------------------------------------- */

/* "MIN HOUR DOM MON DOW": *, N, A-B, lists (a,b), steps (*\/N, A-B/N);
 * months JAN-DEC and days SUN-SAT by name too. -EINVAL + reason. A
 * schedule that can never fire (31 FEB) is refused. */
int preset_cron_parse(const char *text, preset_cron_t *c, char *err, size_t errlen);
/* Does the day (days since 1970-01-01) match? Day of month and day of week
 * are ANDed when either field starts with '*', ORed otherwise (Vixie cron). */
bool preset_cron_day(const preset_cron_t *c, int64_t day);
/* The latest firing at or before t, the earliest after t (Unix s; minutes);
 * -1 when there is none within PRESET_CRON_SEARCH_DAYS. */
enum { PRESET_CRON_SEARCH_DAYS = 366 * 29 }; /* day of week and 29 FEB meet every 28 years */
int64_t preset_cron_prev(const preset_cron_t *c, int64_t t);
int64_t preset_cron_next(const preset_cron_t *c, int64_t t);
/* The device's slot: FNV-1a of its id, mod spread_s (0 when no spread).
 * Stable across restarts and hosts. */
int64_t preset_slot(const char *device_id, int64_t spread_s);
/* The device's window holding time t: each firing F opens it at F + slot;
 * it closes window_s later, or at the next firing's opening, whichever is
 * first. true with [start, end) when t is inside one. */
bool preset_window(const preset_schedule_t *s, const char *device_id, int64_t t, int64_t *start,
                   int64_t *end);

/* ---- run or not: once per triggering event, retries ---------------------------------- */

/* What one session offers a preset. event_time is the time of the Inform
 * that opened the session: it names the occurrence of its events. */
typedef struct preset_session {
    const char *const *events;
    size_t nevents;
    int64_t event_time;
    int64_t now;
} preset_session_t;

/* Does the session carry one of the preset's events (or is it "*")? */
bool preset_triggered(const preset_t *p, const preset_session_t *s);

/* Should preset p run for this device in this session, given its last
 * record (NULL: never ran)? The caller has checked preset_matches(). In
 * this order:
 *   fault, tries >= max_tries   no: faulted until an operator clears it
 *   fault, same session         no (never twice for one occurrence)
 *   fault, now < next_retry     no: backing off
 *   fault                       yes: a retry (whatever the session's events:
 *                               the failed occurrence is still owed)
 *   pending                     yes (an operator cleared its fault)
 *   no triggering event         no
 *   scheduled, outside window   no
 *   scheduled, ran in window    no (once per window)
 *   ran for this occurrence     no (same event_time)
 *   otherwise                   yes
 * *why (may be NULL) gets a short static reason. */
bool preset_should_run(const preset_t *p, const char *device_id, const store_preset_run_t *rec,
                       const preset_session_t *s, const char **why);
/* Record a run's outcome into rec (device and preset set by the caller):
 * done (tries 0), or fault with code/message, tries + 1 and the next retry
 * after preset_backoff() (none once tries reach max_tries). */
void preset_record_outcome(const preset_t *p, store_preset_run_t *rec, const preset_session_t *s,
                           bool ok, int fault_code, const char *fault_message);
/* The wait after `tries` failed tries: backoff_s * 2^(tries-1), at most
 * PRESET_BACKOFF_CAP_S. */
int64_t preset_backoff(const preset_t *p, int tries);

/* ---- a set of presets, indexed (preset_index.c) ----------------------------------------- */

/* Presets are indexed by event and by one equality condition on a key field
 * (device id, serial, product class, model, OUI, versions, manufacturer,
 * tag; the most selective one a preset has); those without one are in a
 * scan list per event. Matching one Inform costs a few hash lookups per
 * event plus the presets in the buckets it hits, not one per preset. */
typedef struct preset_set preset_set_t;

/* Takes ownership of presets[0..n) (also on failure) but not of the array.
 * -EEXIST (the name copied to dup, which may be NULL) for a name given
 * twice, -ENOMEM. */
int preset_set_new(preset_t **presets, size_t n, preset_set_t **out, char *dup, size_t duplen);
void preset_set_free(preset_set_t *s);
size_t preset_set_size(const preset_set_t *s);
/* By name, or NULL (for presets a device's records say are owed a retry). */
const preset_t *preset_set_get(const preset_set_t *s, const char *name);
/* In weight, then name order. */
const preset_t *preset_set_at(const preset_set_t *s, size_t i);

/* The presets the session's events trigger whose conditions the device
 * meets, in weight then name order: *out is malloc'd (free it), *n its
 * length. examined (may be NULL) gets the number of presets whose
 * conditions were evaluated: the cost, for tests. 0 or -ENOMEM. */
int preset_set_match(const preset_set_t *s, const preset_device_t *d, const char *const *events,
                     size_t nevents, const preset_t ***out, size_t *n, size_t *examined);

#endif
