/*
 * acs_webhook: the configured hooks, events into the store's delivery
 * queue, and the dispatcher that POSTs them (see acs_webhook.h).
 *
 * Dispatcher: one timer. A tick claims up to (concurrency - in flight) due
 * rows in a store job (each leased for its timeout plus a margin, so no
 * row is sent twice at once), starts one curl transfer per row, and records
 * each outcome in a store job of its own. It sleeps until the earliest
 * next_attempt the claim reported, and is kicked when something is queued.
 *
 * Backoff: the n-th failed attempt waits --webhook-backoff * 2^(n-1),
 * capped at BACKOFF_CAP_S; once the next attempt would come after the
 * event's deadline (its creation + --webhook-retry-for), the delivery is
 * failed (visible in GET /api/webhooks/deliveries; POST .../retry gives it
 * a new window).
 *
 * A full queue (--webhook-max-pending pending rows) refuses NEW events:
 * those queued earlier were accepted already and keep their order, and a
 * receiver coming back gets the oldest first; refusals are counted
 * (outpost_acs_webhook_refused_total) and logged once per spell.
 */
#include "acs/acs_webhook.h"

#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/str.h"
#include "core/version.h"
#include "net/addr.h"

enum {
    SECRET_MIN = 16,
    SECRET_MAX = 512,
    HOOK_TIMEOUT_DEFAULT_MS = 10000,
    HOOK_TIMEOUT_MAX_MS = 300000,
    BACKOFF_CAP_S = 3600,
    LEASE_MARGIN_S = 30,
    OFFLINE_BATCH = 1000,
    KEEP_FINISHED_S = 7 * 86400, /* delivered and failed rows are kept a week */
    HOOK_BODY_MAX = 256 * 1024,  /* an event's JSON body */
    TASK_RESULT_MAX = 64 * 1024, /* a task's result in its event; larger: left out */
};

static const char *const event_names[ACS_HOOK_EVENTS] = {
    [ACS_HOOK_DEVICE_REGISTERED] = "device.registered",
    [ACS_HOOK_DEVICE_BOOT] = "device.boot",
    [ACS_HOOK_DEVICE_OFFLINE] = "device.offline",
    [ACS_HOOK_TASK_DONE] = "task.done",
    [ACS_HOOK_TASK_FAILED] = "task.failed",
    [ACS_HOOK_FAULT] = "fault",
    [ACS_HOOK_BULK_FINISHED] = "bulk.finished",
};

int acs_webhook_event_parse(const char *name)
{
    for (int i = 0; i < ACS_HOOK_EVENTS; i++)
        if (strcmp(name, event_names[i]) == 0)
            return i;
    return -1;
}

const char *acs_webhook_event_name(acs_hook_event_t ev)
{
    return (unsigned)ev < ACS_HOOK_EVENTS ? event_names[ev] : "unknown";
}

typedef struct hook {
    char name[STORE_NAME];
    char *url;
    char *secret;
    size_t secret_len;
    char *ca;
    bool tls_verify;
    unsigned events;          /* bit per acs_hook_event_t */
    int64_t timeout_ms;
    /* counters: queued on the store thread, the rest on the loop */
    _Atomic uint64_t queued, refused;
    uint64_t delivered, failed, attempts_ok, attempts_err;
} hook_t;

typedef struct hook_call hook_call_t;

struct acs_hooks {
    acs_t *a;
    hook_t *v;
    size_t n;
    unsigned wanted;          /* union of the hooks' events */
    int64_t max_pending, retry_for_s, backoff_s, concurrency, offline_ms, default_interval_s;
    int64_t lease_s;
    _Atomic uint64_t refused;
    _Atomic bool refusing;    /* in a refusal spell (logged at its start) */
    /* the loop's */
    uv_timer_t *timer, *offline_timer;
    bool claiming, again, stopping;
    size_t inflight;
    hook_call_t *calls;
};

struct hook_call {
    acs_hooks_t *h;
    hook_call_t *prev, *next;
    hook_t *hook;
    store_hook_delivery_t d;
    char *body;
    struct curl_slist *hdrs;
    char errbuf[CURL_ERROR_SIZE];
};

/* ---- the option ------------------------------------------------------------------------ */

static bool name_ok(const char *s)
{
    size_t n = strlen(s);
    if (!n || n >= STORE_NAME)
        return false;
    for (const char *p = s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '-' || *p == '_' || *p == '.'))
            return false;
    return true;
}

static int read_secret_file(const char *path, char *out, size_t len, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "secret_file '%s': %s", path, strerror(errno));
        return -EINVAL;
    }
    size_t n = fread(out, 1, len - 1, f);
    bool more = fgetc(f) != EOF;
    fclose(f);
    out[n] = '\0';
    while (n && (out[n - 1] == '\n' || out[n - 1] == '\r'))
        out[--n] = '\0';
    if (more) {
        snprintf(err, errlen, "secret_file '%s': longer than %d bytes", path, SECRET_MAX);
        return -EINVAL;
    }
    return 0;
}

/* One --webhook item into h (heap strings set only on success). */
static int parse(const char *item, hook_t *h, char *err, size_t errlen)
{
    memset(h, 0, sizeof *h);
    h->timeout_ms = HOOK_TIMEOUT_DEFAULT_MS;
    h->tls_verify = true;
    char key[32], val[2048], url[2048] = "", secret[SECRET_MAX + 1] = "", ca[1024] = "";
    bool have_secret = false, have_file = false;
    size_t pos = 0;
    int rc;
    while ((rc = cfg_kv_next(item, &pos, key, sizeof key, val, sizeof val)) == 1) {
        if (strcmp(key, "url") == 0) {
            str_copy(url, sizeof url, val);
        } else if (strcmp(key, "name") == 0) {
            if (!name_ok(val)) {
                snprintf(err, errlen, "name '%s': 1-64 characters of A-Z a-z 0-9 - _ .", val);
                return -EINVAL;
            }
            str_copy(h->name, sizeof h->name, val);
        } else if (strcmp(key, "secret") == 0) {
            if (str_copy(secret, sizeof secret, val) != 0) {
                snprintf(err, errlen, "secret: longer than %d bytes", SECRET_MAX);
                return -EINVAL;
            }
            have_secret = true;
        } else if (strcmp(key, "secret_file") == 0) {
            if (read_secret_file(val, secret, sizeof secret, err, errlen) != 0)
                return -EINVAL;
            have_file = true;
        } else if (strcmp(key, "events") == 0) {
            char *save = NULL;
            for (char *t = strtok_r(val, ", ", &save); t; t = strtok_r(NULL, ", ", &save)) {
                int ev = acs_webhook_event_parse(t);
                if (ev < 0 && strcmp(t, "*") != 0) {
                    snprintf(err, errlen, "events: unknown event '%s' (device.registered,"
                             " device.boot, device.offline, task.done, task.failed, fault,"
                             " bulk.finished, or *)", t);
                    return -EINVAL;
                }
                h->events |= ev < 0 ? (1u << ACS_HOOK_EVENTS) - 1 : 1u << ev;
            }
            if (!h->events) {
                snprintf(err, errlen, "events: an empty list (leave it out for every event)");
                return -EINVAL;
            }
        } else if (strcmp(key, "timeout") == 0) {
            if (cfg_parse_duration_ms(val, &h->timeout_ms) != 0 || h->timeout_ms < 100 ||
                h->timeout_ms > HOOK_TIMEOUT_MAX_MS) {
                snprintf(err, errlen, "timeout '%s': a duration from 100ms to 5m", val);
                return -EINVAL;
            }
        } else if (strcmp(key, "ca") == 0) {
            str_copy(ca, sizeof ca, val);
        } else if (strcmp(key, "tls_verify") == 0) {
            if (cfg_parse_bool(val, &h->tls_verify) != 0) {
                snprintf(err, errlen, "tls_verify '%s': true or false", val);
                return -EINVAL;
            }
        } else {
            snprintf(err, errlen, "unknown key '%s' (url, secret, secret_file, name, events, timeout,"
                     " ca, tls_verify)", key);
            return -EINVAL;
        }
    }
    if (rc < 0) {
        snprintf(err, errlen, "expected 'url=http(s)://... secret=SECRET [name=N] [events=a,b]"
                              " [timeout=10s]'");
        return -EINVAL;
    }
    net_url_t u;
    if (!url[0]) {
        snprintf(err, errlen, "url: missing (url=http(s)://...)");
        return -EINVAL;
    }
    if (net_url_parse(url, &u) != 0 || !u.host[0] ||
        (strcmp(u.scheme, "http") != 0 && strcmp(u.scheme, "https") != 0)) {
        snprintf(err, errlen, "url '%s': not an http or https URL", url);
        return -EINVAL;
    }
    if (have_secret && have_file) {
        snprintf(err, errlen, "secret: give secret or secret_file, not both");
        return -EINVAL;
    }
    if (!secret[0]) {
        snprintf(err, errlen, "secret: missing (secret=... or secret_file=PATH; the receiver checks"
                              " the signature with it)");
        return -EINVAL;
    }
    if (strlen(secret) < SECRET_MIN) {
        snprintf(err, errlen, "secret: at least %d characters", SECRET_MIN);
        return -EINVAL;
    }
    if (!h->events)
        h->events = (1u << ACS_HOOK_EVENTS) - 1;
    h->secret_len = strlen(secret);
    if (!(h->url = strdup(url)) || !(h->secret = strdup(secret)) || (ca[0] && !(h->ca = strdup(ca)))) {
        free(h->url);
        free(h->secret);
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    return 0;
}

static void hook_clear(hook_t *h)
{
    free(h->url);
    if (h->secret)
        memset(h->secret, 0, h->secret_len);
    free(h->secret);
    free(h->ca);
}

int acs_webhook_check(const char *item, char *err, size_t errlen)
{
    hook_t h;
    int rc = parse(item, &h, err, errlen);
    if (rc == 0)
        hook_clear(&h);
    return rc;
}

/* ---- lifetime ----------------------------------------------------------------------------- */

int acs_webhook_init(acs_t *a)
{
    if (!a->o.webhooks.n)
        return 0;
    acs_hooks_t *H = calloc(1, sizeof *H);
    if (!H || !(H->v = calloc(a->o.webhooks.n, sizeof *H->v))) {
        free(H);
        return -ENOMEM;
    }
    a->hooks = H;
    H->a = a;
    H->max_pending = a->o.webhook_max_pending;
    H->retry_for_s = a->o.webhook_retry_for_ms / 1000;
    H->backoff_s = a->o.webhook_backoff_ms / 1000 > 0 ? a->o.webhook_backoff_ms / 1000 : 1;
    H->concurrency = a->o.webhook_concurrency;
    H->offline_ms = a->o.webhook_offline_check_ms;
    H->default_interval_s = a->default_interval_s;
    int64_t tmax = 0;
    for (size_t i = 0; i < a->o.webhooks.n; i++) {
        char err[512];
        hook_t *h = &H->v[H->n];
        if (parse(a->o.webhooks.v[i], h, err, sizeof err) != 0) {
            log_error("acs_config", LF_S("option", "webhook"), LF_U("item", i + 1), LF_S("reason", err));
            return -EINVAL;
        }
        H->n++;
        if (!h->name[0])
            snprintf(h->name, sizeof h->name, "hook%zu", i + 1);
        for (size_t k = 0; k + 1 < H->n; k++)
            if (strcmp(H->v[k].name, h->name) == 0) {
                log_error("acs_config", LF_S("option", "webhook"), LF_S("name", h->name),
                          LF_S("reason", "two hooks of the same name (name=...)"));
                return -EINVAL;
            }
        H->wanted |= h->events;
        if (h->timeout_ms > tmax)
            tmax = h->timeout_ms;
        log_info("webhook_configured", LF_S("name", h->name), LF_S("url", h->url),
                 LF_I("timeout_ms", h->timeout_ms), LF_B("tls_verify", h->tls_verify));
    }
    H->lease_s = tmax / 1000 + LEASE_MARGIN_S;
    if (store_hook_release_leases(a->store) < 0)
        return -EIO;
    return 0;
}

static void free_handle(uv_handle_t *h)
{
    free(h);
}

void acs_webhook_stop(acs_t *a)
{
    acs_hooks_t *H = a->hooks;
    if (!H || H->stopping)
        return;
    H->stopping = true;
    if (H->timer) {
        uv_close((uv_handle_t *)H->timer, free_handle);
        H->timer = NULL;
    }
    if (H->offline_timer) {
        uv_close((uv_handle_t *)H->offline_timer, free_handle);
        H->offline_timer = NULL;
    }
}

static void call_free(hook_call_t *c)
{
    curl_slist_free_all(c->hdrs);
    free(c->body);
    free(c);
}

void acs_webhook_free(acs_t *a)
{
    acs_hooks_t *H = a->hooks;
    if (!H)
        return;
    /* transfers net_curl_free dropped: their callbacks never ran */
    while (H->calls) {
        hook_call_t *c = H->calls;
        H->calls = c->next;
        call_free(c);
    }
    for (size_t i = 0; i < H->n; i++)
        hook_clear(&H->v[i]);
    free(H->v);
    free(H);
    a->hooks = NULL;
}

bool acs_webhook_wants(const acs_hooks_t *h, acs_hook_event_t ev)
{
    return h && (h->wanted & (1u << ev));
}

static hook_t *hook_by_name(acs_hooks_t *H, const char *name)
{
    for (size_t i = 0; i < H->n; i++)
        if (strcmp(H->v[i].name, name) == 0)
            return &H->v[i];
    return NULL;
}

int64_t acs_webhook_deadline(const acs_t *a, int64_t now)
{
    return now + (a->hooks ? a->hooks->retry_for_s : 0);
}

/* ---- queueing (store thread, or a job's run) ---------------------------------------------- */

/* Queue ev with data (borrowed) for each hook that wants it; returns how
 * many were queued, or -EIO. */
static int queue_event(acs_hooks_t *H, store_t *st, acs_hook_event_t ev, json_t *data, int64_t now)
{
    if (!acs_webhook_wants(H, ev))
        return 0;
    char iso[CLOCK_ISO_LEN];
    clock_iso8601(now, iso);
    json_t *env = json_pack("{s:s, s:s, s:O}", "event", event_names[ev], "created", iso, "data",
                            data ? data : json_null());
    char *body = env ? json_dumps(env, JSON_COMPACT) : NULL;
    json_decref(env);
    if (!body)
        return 0; /* out of memory: the event is lost, the session goes on */
    if (strlen(body) > HOOK_BODY_MAX) {
        log_warn("webhook_event_dropped", LF_S("event", event_names[ev]),
                 LF_S("reason", "body too large"), LF_U("max", HOOK_BODY_MAX));
        free(body);
        return 0;
    }
    int n = 0, rc = 0;
    for (size_t i = 0; i < H->n && rc >= 0; i++) {
        hook_t *h = &H->v[i];
        if (!(h->events & (1u << ev)))
            continue;
        store_hook_delivery_t d = { .body = body, .next_attempt = now, .created = now,
                                    .deadline = now + H->retry_for_s };
        str_copy(d.hook, sizeof d.hook, h->name);
        str_copy(d.event, sizeof d.event, event_names[ev]);
        rc = store_hook_enqueue(st, &d, H->max_pending);
        if (rc == -ENOSPC) {
            atomic_fetch_add(&h->refused, 1);
            atomic_fetch_add(&H->refused, 1);
            if (!atomic_exchange(&H->refusing, true))
                log_warn("webhook_queue_full", LF_S("hook", h->name), LF_S("event", event_names[ev]),
                         LF_I("max_pending", H->max_pending),
                         LF_S("reason", "new events are refused (counted in"
                                        " outpost_acs_webhook_refused_total) until deliveries drain"));
            rc = 0;
        } else if (rc == 0) {
            atomic_store(&H->refusing, false);
            atomic_fetch_add(&h->queued, 1);
            n++;
        }
    }
    free(body);
    return rc < 0 ? rc : n;
}

static json_t *device_data(const acs_hooks_t *H, const store_device_t *d, int64_t now)
{
    json_t *dev = acs_device_json(d, now, H->default_interval_s);
    return json_pack("{s:o}", "device", dev ? dev : json_null());
}

bool acs_webhook_inform_fresh(acs_hooks_t *H, store_t *st, const char *device_id)
{
    if (!acs_webhook_wants(H, ACS_HOOK_DEVICE_REGISTERED))
        return false;
    store_device_t *old = malloc(sizeof *old);
    bool fresh = old && store_device_get(st, device_id, old) == -ENOENT;
    free(old);
    return fresh;
}

int acs_webhook_inform(acs_hooks_t *H, store_t *st, const store_device_t *d, bool fresh)
{
    int64_t now = d->last_inform;
    int n = 0, rc = 0;
    if (fresh) {
        json_t *data = device_data(H, d, now);
        rc = queue_event(H, st, ACS_HOOK_DEVICE_REGISTERED, data, now);
        json_decref(data);
        n += rc > 0 ? rc : 0;
    }
    /* device.boot: a "1 BOOT" or "0 BOOTSTRAP" among the Inform's events */
    bool boot = false, bootstrap = false;
    json_t *events = json_array();
    const char *s = d->last_events;
    while (*s) {
        const char *e = strchr(s, ',');
        size_t len = e ? (size_t)(e - s) : strlen(s);
        char code[64];
        str_copyn(code, sizeof code, s, len);
        boot |= strcmp(code, "1 BOOT") == 0;
        bootstrap |= strcmp(code, "0 BOOTSTRAP") == 0;
        json_array_append_new(events, acs_json_text(code));
        s = e ? e + 1 : s + len;
    }
    if (rc >= 0 && (boot || bootstrap) && acs_webhook_wants(H, ACS_HOOK_DEVICE_BOOT)) {
        json_t *data = device_data(H, d, now);
        json_object_set(data, "events", events);
        json_object_set_new(data, "bootstrap", json_boolean(bootstrap));
        rc = queue_event(H, st, ACS_HOOK_DEVICE_BOOT, data, now);
        json_decref(data);
        n += rc > 0 ? rc : 0;
    }
    json_decref(events);
    return rc < 0 ? rc : n;
}

/* ---- events from the loop: a job of their own -------------------------------------------- */

typedef struct emit_job {
    acs_t *a;
    acs_hook_event_t ev;
    json_t *data;
    int64_t task_id;          /* task_finished: read the task first */
    int queued;
} emit_job_t;

static int emit_run(store_t *st, void *ud)
{
    emit_job_t *j = ud;
    acs_hooks_t *H = j->a->hooks;
    int64_t now = clock_real_s();
    if (j->task_id) {
        store_task_t t;
        int rc = store_task_get(st, j->task_id, &t);
        if (rc < 0)
            return rc == -ENOENT ? 0 : rc;
        /* a whole data model read is megabytes: the event says so, the API has it */
        bool omitted = t.result && strlen(t.result) > TASK_RESULT_MAX;
        if (omitted) {
            free(t.result);
            t.result = NULL;
        }
        json_t *task = acs_task_json(&t);
        if (task && omitted)
            json_object_set_new(task, "result_omitted", json_true());
        json_t *data = json_pack("{s:o}", "task", task ? task : json_null());
        if (t.status == STORE_TASK_DONE || t.status == STORE_TASK_FAILED)
            rc = queue_event(H, st, t.status == STORE_TASK_DONE ? ACS_HOOK_TASK_DONE : ACS_HOOK_TASK_FAILED,
                             data, now);
        j->queued += rc > 0 ? rc : 0;
        if (rc >= 0 && t.fault_code) {
            json_t *f = json_pack("{s:s, s:s, s:i, s:o, s:O}", "source", "task", "device_id",
                                  t.device_id, "code", t.fault_code, "message",
                                  acs_json_text(t.fault_string), "task", task ? task : json_null());
            rc = queue_event(H, st, ACS_HOOK_FAULT, f, now);
            json_decref(f);
            j->queued += rc > 0 ? rc : 0;
        }
        json_decref(data);
        store_task_clear(&t);
        return rc < 0 ? rc : 0;
    }
    int rc = queue_event(H, st, j->ev, j->data, now);
    j->queued = rc > 0 ? rc : 0;
    return rc < 0 ? rc : 0;
}

static void emit_done(int rc, void *ud)
{
    emit_job_t *j = ud;
    if (rc == 0 && j->queued)
        acs_webhook_kick(j->a);
    json_decref(j->data);
    free(j);
}

static int emit_submit(acs_t *a, emit_job_t *j)
{
    j->a = a;
    /* also while stopping: store_worker_free runs what its callbacks submit
     * (a task finished by the last jobs still gets its event queued) */
    int rc = a->db ? store_worker_submit(a->db, emit_run, emit_done, j) : -ECANCELED;
    if (rc != 0) {
        if (rc == -EAGAIN) {
            atomic_fetch_add(&a->hooks->refused, 1);
            log_warn("webhook_event_refused", LF_S("reason", "store queue full"));
        }
        json_decref(j->data);
        free(j);
    }
    return rc;
}

int acs_webhook_emit(acs_t *a, const char *event, json_t *data)
{
    int ev = acs_webhook_event_parse(event);
    if (ev < 0) {
        json_decref(data);
        return -EINVAL;
    }
    if (!acs_webhook_wants(a->hooks, (acs_hook_event_t)ev)) {
        json_decref(data);
        return 0;
    }
    emit_job_t *j = calloc(1, sizeof *j);
    if (!j) {
        json_decref(data);
        return -ENOMEM;
    }
    j->ev = (acs_hook_event_t)ev;
    j->data = data;
    return emit_submit(a, j);
}

void acs_webhook_task_finished(acs_t *a, int64_t task_id)
{
    acs_hooks_t *H = a->hooks;
    if (!acs_webhook_wants(H, ACS_HOOK_TASK_DONE) && !acs_webhook_wants(H, ACS_HOOK_TASK_FAILED) &&
        !acs_webhook_wants(H, ACS_HOOK_FAULT))
        return;
    emit_job_t *j = calloc(1, sizeof *j);
    if (!j)
        return;
    j->task_id = task_id;
    (void)emit_submit(a, j);
}

/* ---- the dispatcher ---------------------------------------------------------------------- */

static void tick(uv_timer_t *t);

/* Run the tick in ms (sooner if it was due sooner). */
static void schedule(acs_hooks_t *H, uint64_t ms)
{
    if (H->stopping || !H->timer)
        return;
    if (uv_is_active((uv_handle_t *)H->timer) && uv_timer_get_due_in(H->timer) <= ms)
        return;
    uv_timer_start(H->timer, tick, ms, 0);
}

void acs_webhook_kick(acs_t *a)
{
    acs_hooks_t *H = a->hooks;
    if (!H)
        return;
    if (H->claiming)
        H->again = true;
    else
        schedule(H, 0);
}

void acs_webhook_retried(acs_t *a)
{
    acs_webhook_kick(a);
}

typedef struct claim_job {
    acs_hooks_t *H;
    int64_t now, next_due;
    size_t n, cap;
    hook_call_t **calls;
} claim_job_t;

static int claim_one(const store_hook_delivery_t *d, void *ud)
{
    claim_job_t *j = ud;
    if (j->n >= j->cap)
        return 0;
    hook_call_t *c = calloc(1, sizeof *c);
    if (!c || !(c->body = strdup(d->body ? d->body : ""))) {
        free(c);
        return 0; /* leased: it comes back once the lease runs out */
    }
    c->d = *d;
    c->d.body = NULL;
    j->calls[j->n++] = c;
    return 0;
}

static int claim_run(store_t *st, void *ud)
{
    claim_job_t *j = ud;
    return store_hook_claim(st, j->now, j->now + j->H->lease_s, (int64_t)j->cap, claim_one, j,
                            &j->next_due);
}

static void send_call(acs_hooks_t *H, hook_call_t *c);
static void record(acs_hooks_t *H, hook_call_t *c);

static void claim_done(int rc, void *ud)
{
    claim_job_t *j = ud;
    acs_hooks_t *H = j->H;
    H->claiming = false;
    for (size_t i = 0; i < j->n; i++) {
        hook_call_t *c = j->calls[i];
        if (rc != 0 || H->stopping || !H->a->curl) {
            call_free(c); /* leased: released at the next start */
            continue;
        }
        c->h = H;
        c->hook = hook_by_name(H, c->d.hook);
        if (!c->hook) {
            /* queued for a hook the configuration no longer has */
            c->d.status = STORE_HOOK_FAILED;
            str_copy(c->d.last_error, sizeof c->d.last_error, "no hook of that name is configured");
            record(H, c);
            continue;
        }
        send_call(H, c);
    }
    bool full = j->n == j->cap;
    int64_t next_due = j->next_due;
    free(j->calls);
    free(j);
    if (H->stopping)
        return;
    bool again = H->again;
    H->again = false;
    if (rc != 0)
        schedule(H, 1000);
    else if (again || (full && (int64_t)H->inflight < H->concurrency))
        schedule(H, 0);
    else if (next_due > 0) {
        /* a completion kicks too; otherwise sleep until the next row is due */
        int64_t now = clock_real_s();
        schedule(H, next_due > now ? (uint64_t)(next_due - now) * 1000 : 1000);
    }
}

static void tick(uv_timer_t *t)
{
    acs_hooks_t *H = t->data;
    if (H->stopping || H->claiming || !H->a->db || H->a->stopping)
        return;
    if ((int64_t)H->inflight >= H->concurrency)
        return; /* a completion kicks */
    claim_job_t *j = calloc(1, sizeof *j);
    size_t cap = (size_t)(H->concurrency - (int64_t)H->inflight);
    if (!j || !(j->calls = calloc(cap, sizeof *j->calls))) {
        free(j);
        schedule(H, 1000);
        return;
    }
    j->H = H;
    j->cap = cap;
    j->now = clock_real_s();
    H->claiming = true;
    if (store_worker_submit(H->a->db, claim_run, claim_done, j) != 0) {
        H->claiming = false;
        free(j->calls);
        free(j);
        schedule(H, 1000);
    }
}

/* ---- one attempt --------------------------------------------------------------------------- */

static size_t discard(char *p, size_t size, size_t n, void *ud)
{
    (void)p;
    (void)ud;
    return size * n; /* the receiver's body says nothing we keep */
}

static void call_unlink(acs_hooks_t *H, hook_call_t *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        H->calls = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->prev = c->next = NULL;
}

typedef struct result_job {
    acs_hooks_t *H;
    store_hook_delivery_t d;
} result_job_t;

static int result_run(store_t *st, void *ud)
{
    result_job_t *j = ud;
    int rc = store_hook_result(st, &j->d, clock_real_s());
    return rc == -ESTALE ? 0 : rc; /* retried or pruned meanwhile: nothing to record */
}

static void result_done(int rc, void *ud)
{
    result_job_t *j = ud;
    (void)rc;
    if (!j->H->stopping)
        acs_webhook_kick(j->H->a);
    free(j);
}

/* Record c's outcome (c->d filled) and free c. */
static void record(acs_hooks_t *H, hook_call_t *c)
{
    result_job_t *j = malloc(sizeof *j);
    if (j) {
        j->H = H;
        j->d = c->d;
        /* a full store queue: the row stays leased and is tried again after the lease */
        if (!H->a->db || store_worker_submit(H->a->db, result_run, result_done, j) != 0)
            free(j);
    }
    call_free(c);
}

static void attempt_done(CURL *easy, CURLcode crc, long status, void *ud)
{
    hook_call_t *c = ud;
    acs_hooks_t *H = c->h;
    (void)easy;
    call_unlink(H, c);
    H->inflight--;
    int64_t now = clock_real_s();
    hook_t *h = c->hook;
    store_hook_delivery_t *d = &c->d;
    d->attempts++;
    d->last_status = crc == CURLE_OK ? (int)status : 0;
    if (crc == CURLE_OK && status >= 200 && status < 300) {
        d->status = STORE_HOOK_DELIVERED;
        d->last_error[0] = '\0';
        h->delivered++;
        h->attempts_ok++;
        /* debug: one line per event at info would double the log of a busy fleet */
        log_debug("webhook_delivered", LF_S("hook", h->name), LF_I("id", d->id),
                 LF_S("event", d->event), LF_I("status", status), LF_I("attempts", d->attempts));
    } else {
        h->attempts_err++;
        if (crc != CURLE_OK)
            snprintf(d->last_error, sizeof d->last_error, "%s",
                     c->errbuf[0] ? c->errbuf : curl_easy_strerror(crc));
        else
            snprintf(d->last_error, sizeof d->last_error, "the receiver answered %ld", status);
        int shift = d->attempts - 1 < 20 ? d->attempts - 1 : 20;
        int64_t delay = H->backoff_s << shift;
        if (delay > BACKOFF_CAP_S)
            delay = BACKOFF_CAP_S;
        if (now + delay > d->deadline) {
            d->status = STORE_HOOK_FAILED;
            h->failed++;
            log_warn("webhook_failed", LF_S("hook", h->name), LF_I("id", d->id),
                     LF_S("event", d->event), LF_I("attempts", d->attempts),
                     LF_S("reason", d->last_error));
        } else {
            d->status = STORE_HOOK_PENDING;
            d->next_attempt = now + delay;
            log_debug("webhook_retry", LF_S("hook", h->name), LF_I("id", d->id),
                     LF_S("event", d->event), LF_I("attempts", d->attempts), LF_I("in_s", delay),
                     LF_S("reason", d->last_error));
        }
    }
    record(H, c);
    /* normally the recorded result kicks; should its job not run (the
     * store's queue full), look again in a second anyway */
    schedule(H, 1000);
}

static void send_call(acs_hooks_t *H, hook_call_t *c)
{
    hook_t *h = c->hook;
    int64_t ts = clock_real_s();
    char sig[ACS_WEBHOOK_SIG_HEX];
    size_t blen = strlen(c->body);
    CURL *e = curl_easy_init();
    bool ok = e && acs_webhook_sign(h->secret, h->secret_len, ts, c->body, blen, sig) == 0;
    struct curl_slist *l = NULL;
    char lines[6][256];
    snprintf(lines[0], sizeof lines[0], "Content-Type: application/json");
    snprintf(lines[1], sizeof lines[1], "Expect:"); /* no 100-continue round trip */
    /* the four of docs/webhooks.md */
    snprintf(lines[2], sizeof lines[2], "X-Outpost-Event: %s", c->d.event);
    snprintf(lines[3], sizeof lines[3], "X-Outpost-Delivery: %" PRId64, c->d.id);
    snprintf(lines[4], sizeof lines[4], "X-Outpost-Timestamp: %" PRId64, ts);
    snprintf(lines[5], sizeof lines[5], "X-Outpost-Signature: sha256=%s", sig);
    for (size_t i = 0; ok && i < 6; i++) {
        struct curl_slist *n = curl_slist_append(l, lines[i]);
        if (!n)
            ok = false;
        else
            l = n;
    }
    c->hdrs = l;
    if (!ok) {
        if (e)
            curl_easy_cleanup(e);
        /* out of memory: the row is leased and comes back later */
        call_free(c);
        return;
    }
    curl_easy_setopt(e, CURLOPT_URL, h->url);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_POST, 1L);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, c->body);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)blen);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, c->hdrs);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "outpost-acs/" OUTPOST_VERSION);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)h->timeout_ms);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)(h->timeout_ms < 10000 ? h->timeout_ms : 10000));
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, c->errbuf);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, h->tls_verify ? 1L : 0L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, h->tls_verify ? 2L : 0L);
    if (h->ca)
        curl_easy_setopt(e, CURLOPT_CAINFO, h->ca);
    c->next = H->calls;
    if (H->calls)
        H->calls->prev = c;
    H->calls = c;
    H->inflight++;
    if (net_curl_add(H->a->curl, e, attempt_done, c) != 0) {
        call_unlink(H, c);
        H->inflight--;
        call_free(c);
    }
}

/* ---- device.offline: the sweep; old rows pruned ------------------------------------------- */

typedef struct offline_job {
    acs_hooks_t *H;
    int64_t now;
    int queued;
    int rc;
    store_t *st;
} offline_job_t;

static int offline_one(const store_device_t *d, void *ud)
{
    offline_job_t *j = ud;
    acs_hooks_t *H = j->H;
    int64_t iv = d->periodic_interval > 0 ? d->periodic_interval : H->default_interval_s;
    json_t *data = device_data(H, d, j->now);
    json_object_set_new(data, "inform_interval", json_integer(iv));
    json_object_set_new(data, "offline_after", json_integer(2 * iv + 60));
    int rc = queue_event(H, j->st, ACS_HOOK_DEVICE_OFFLINE, data, j->now);
    json_decref(data);
    if (rc < 0) {
        j->rc = rc;
        return 1;
    }
    j->queued += rc;
    return 0;
}

static int offline_run(store_t *st, void *ud)
{
    offline_job_t *j = ud;
    j->st = st;
    int n = 0;
    if (acs_webhook_wants(j->H, ACS_HOOK_DEVICE_OFFLINE))
        n = store_hook_offline_sweep(st, j->now, j->H->default_interval_s, OFFLINE_BATCH, offline_one, j);
    if (n < 0 || j->rc < 0)
        return n < 0 ? n : j->rc;
    int pruned = store_hook_prune(st, j->now - KEEP_FINISHED_S);
    if (pruned > 0)
        log_info("webhook_pruned", LF_I("count", pruned));
    if (n > 0)
        log_info("webhook_devices_offline", LF_I("count", n));
    return 0;
}

static void offline_tick(uv_timer_t *t);

static void offline_done(int rc, void *ud)
{
    offline_job_t *j = ud;
    acs_hooks_t *H = j->H;
    if (rc == 0 && j->queued)
        acs_webhook_kick(H->a);
    free(j);
    if (!H->stopping && H->offline_timer)
        uv_timer_start(H->offline_timer, offline_tick, (uint64_t)H->offline_ms, 0);
}

static void offline_tick(uv_timer_t *t)
{
    acs_hooks_t *H = t->data;
    if (H->stopping || !H->a->db || H->a->stopping)
        return;
    offline_job_t *j = calloc(1, sizeof *j);
    if (j) {
        j->H = H;
        j->now = clock_real_s();
    }
    if (!j || store_worker_submit(H->a->db, offline_run, offline_done, j) != 0) {
        free(j);
        uv_timer_start(H->offline_timer, offline_tick, (uint64_t)H->offline_ms, 0);
    }
}

int acs_webhook_start(acs_t *a)
{
    acs_hooks_t *H = a->hooks;
    if (!H)
        return 0;
    if (!(H->timer = malloc(sizeof *H->timer)) || !(H->offline_timer = malloc(sizeof *H->offline_timer))) {
        free(H->timer);
        H->timer = NULL;
        return -ENOMEM;
    }
    uv_timer_init(a->loop, H->timer);
    H->timer->data = H;
    uv_timer_init(a->loop, H->offline_timer);
    H->offline_timer->data = H;
    schedule(H, 0); /* what a previous run left pending goes first */
    /* the offline sweep (when a hook wants device.offline) and the pruning of old rows */
    uv_timer_start(H->offline_timer, offline_tick, (uint64_t)H->offline_ms, 0);
    return 0;
}

/* ---- the API's view, /metrics ------------------------------------------------------------- */

json_t *acs_webhook_hooks_json(const acs_t *a)
{
    json_t *arr = json_array();
    const acs_hooks_t *H = a->hooks;
    for (size_t i = 0; H && i < H->n; i++) {
        const hook_t *h = &H->v[i];
        json_t *ev = json_array();
        for (int k = 0; k < ACS_HOOK_EVENTS; k++)
            if (h->events & (1u << k))
                json_array_append_new(ev, json_string(event_names[k]));
        /* the URL without credentials it may carry */
        char url[2048];
        str_copy(url, sizeof url, h->url);
        char *sch = strstr(url, "://"), *at = sch ? strchr(sch + 3, '@') : NULL;
        char *slash = sch ? strchr(sch + 3, '/') : NULL;
        if (at && (!slash || at < slash))
            memmove(sch + 3, at + 1, strlen(at + 1) + 1);
        json_array_append_new(
            arr, json_pack("{s:s, s:o, s:o, s:I, s:b, s:{s:I, s:I, s:I, s:I, s:I, s:I}}", "name",
                           h->name, "url", acs_json_text(url), "events", ev, "timeout_ms",
                           (json_int_t)h->timeout_ms, "tls_verify", h->tls_verify, "counters",
                           "queued", (json_int_t)atomic_load(&((hook_t *)h)->queued), "refused",
                           (json_int_t)atomic_load(&((hook_t *)h)->refused), "delivered",
                           (json_int_t)h->delivered, "failed", (json_int_t)h->failed,
                           "attempts_ok", (json_int_t)h->attempts_ok, "attempts_failed",
                           (json_int_t)h->attempts_err));
    }
    return arr;
}

static int labelled(buf_t *o, const char *name, const char *hook, const char *k, const char *v, double x)
{
    buf_t l = BUF_INIT(256);
    int rc = buf_append_str(&l, "hook=\"");
    if (!rc)
        rc = metrics_label_escape(&l, hook);
    if (!rc && k)
        rc = buf_printf(&l, "\",%s=\"%s", k, v);
    if (!rc)
        rc = buf_append_str(&l, "\"");
    if (!rc)
        rc = metrics_value(o, name, l.data, x);
    buf_free(&l);
    return rc;
}

int acs_webhook_metrics(const acs_t *a, buf_t *o)
{
    acs_hooks_t *H = a->hooks;
    if (!H)
        return 0;
    int rc = metrics_one(o, "outpost_acs_webhook_in_flight", "gauge",
                         "Webhook deliveries being sent now.", (double)H->inflight);
    if (!rc)
        rc = metrics_one(o, "outpost_acs_webhook_refused_total", "counter",
                         "Webhook events refused: the delivery queue was full (--webhook-max-pending).",
                         (double)atomic_load(&H->refused));
    if (!rc)
        rc = metrics_head(o, "outpost_acs_webhook_events_total", "counter",
                          "Webhook deliveries queued, by hook.");
    for (size_t i = 0; i < H->n && !rc; i++)
        rc = labelled(o, "outpost_acs_webhook_events_total", H->v[i].name, NULL, NULL,
                      (double)atomic_load(&H->v[i].queued));
    if (!rc)
        rc = metrics_head(o, "outpost_acs_webhook_deliveries_total", "counter",
                          "Webhook deliveries finished, by hook and outcome (failed: retries exhausted).");
    for (size_t i = 0; i < H->n && !rc; i++) {
        rc = labelled(o, "outpost_acs_webhook_deliveries_total", H->v[i].name, "outcome", "delivered",
                      (double)H->v[i].delivered);
        if (!rc)
            rc = labelled(o, "outpost_acs_webhook_deliveries_total", H->v[i].name, "outcome", "failed",
                          (double)H->v[i].failed);
    }
    if (!rc)
        rc = metrics_head(o, "outpost_acs_webhook_attempts_total", "counter",
                          "Webhook POSTs, by hook and result (error: not a 2xx answer, or none).");
    for (size_t i = 0; i < H->n && !rc; i++) {
        rc = labelled(o, "outpost_acs_webhook_attempts_total", H->v[i].name, "result", "ok",
                      (double)H->v[i].attempts_ok);
        if (!rc)
            rc = labelled(o, "outpost_acs_webhook_attempts_total", H->v[i].name, "result", "error",
                          (double)H->v[i].attempts_err);
    }
    return rc;
}
