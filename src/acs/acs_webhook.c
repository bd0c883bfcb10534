/*
 * acs_webhook: the configured hooks, events into the store's delivery
 * queue, the device.offline sweep, and the hooks as the API and /metrics
 * show them (see acs_webhook.h). The dispatcher that POSTs the deliveries
 * is acs_webhook_send.c.
 *
 * The hooks are read at start and again on SIGHUP (acs_webhook_reload):
 * a new set replaces the old one whole (hook_set_t), or, if an item is
 * wrong, nothing changes. Deliveries are queued by hook name, so the
 * pending ones of a hook whose URL or secret changed go to the new URL
 * with the new signature (every attempt is signed when it is sent); those
 * of a hook that is gone are failed when their turn comes ("no hook of
 * that name is configured"; counted, logged once per 10 s), and can be
 * retried through the API should it come back.
 *
 * A full queue (--webhook-max-pending pending rows) refuses NEW events:
 * those queued earlier were accepted already and keep their order, and a
 * receiver coming back gets the oldest first; refusals are counted
 * (outpost_acs_webhook_refused_total) and logged once per spell.
 */
#include "acs/acs_webhook_int.h"

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
#include "core/runtime.h"
#include "core/str.h"
#include "net/addr.h"


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
    bool bad = net_url_parse(url, &u) != 0 || !u.host[0] ||
               (strcmp(u.scheme, "http") != 0 && strcmp(u.scheme, "https") != 0);
    net_url_clear(&u); /* its password is not used */
    if (bad) {
        char shown[NET_URL_SHOWN];
        net_url_redacted(url, shown, sizeof shown);
        snprintf(err, errlen, "url '%s': not an http or https URL", shown);
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

/* ---- the hooks: a set per configuration ------------------------------------------------- */

static void stats_put(hook_stats_t *st)
{
    if (st && atomic_fetch_sub(&st->refs, 1) == 1)
        free(st);
}

static void set_free(hook_set_t *s)
{
    for (size_t i = 0; i < s->n; i++) {
        hook_clear(&s->v[i]);
        stats_put(s->v[i].st);
    }
    free(s->v);
    free(s);
}

hook_set_t *acs_webhook_set_get(acs_hooks_t *H)
{
    uv_mutex_lock(&H->mu);
    hook_set_t *s = H->set;
    atomic_fetch_add(&s->refs, 1);
    uv_mutex_unlock(&H->mu);
    return s;
}

void acs_webhook_set_put(hook_set_t *s)
{
    if (s && atomic_fetch_sub(&s->refs, 1) == 1)
        set_free(s); /* on whichever thread let go last */
}

static hook_t *set_find(const hook_set_t *s, const char *name)
{
    for (size_t i = 0; s && i < s->n; i++)
        if (strcmp(s->v[i].name, name) == 0)
            return &s->v[i];
    return NULL;
}

/* The --webhook items as a set; a hook named as one of `old`'s shares its
 * counters. NULL after logging why (event: "acs_config" at start, a usage
 * error; "webhooks_reload_failed" on SIGHUP). */
static hook_set_t *set_build(const cfg_list_t *items, const hook_set_t *old, const char *event)
{
    hook_set_t *s = calloc(1, sizeof *s);
    if (!s || !(s->v = calloc(items->n ? items->n : 1, sizeof *s->v))) {
        free(s);
        log_error(event, LF_S("option", "webhook"), LF_S("reason", "out of memory"));
        return NULL;
    }
    atomic_init(&s->refs, 1);
    int64_t tmax = 0;
    for (size_t i = 0; i < items->n; i++) {
        char err[512];
        hook_t *h = &s->v[s->n];
        if (parse(items->v[i], h, err, sizeof err) != 0) {
            log_error(event, LF_S("option", "webhook"), LF_U("item", i + 1), LF_S("reason", err));
            set_free(s);
            return NULL;
        }
        s->n++;
        if (!h->name[0])
            snprintf(h->name, sizeof h->name, "hook%zu", i + 1);
        for (size_t k = 0; k + 1 < s->n; k++)
            if (strcmp(s->v[k].name, h->name) == 0) {
                log_error(event, LF_S("option", "webhook"), LF_S("name", h->name),
                          LF_S("reason", "two hooks of the same name (name=...)"));
                set_free(s);
                return NULL;
            }
        const hook_t *was = set_find(old, h->name);
        h->st = was ? was->st : calloc(1, sizeof *h->st);
        if (!h->st) {
            log_error(event, LF_S("option", "webhook"), LF_S("reason", "out of memory"));
            set_free(s);
            return NULL;
        }
        atomic_fetch_add(&h->st->refs, 1);
        s->wanted |= h->events;
        if (h->timeout_ms > tmax)
            tmax = h->timeout_ms;
    }
    s->lease_s = tmax / 1000 + LEASE_MARGIN_S;
    return s;
}

static bool str_same(const char *x, const char *y)
{
    return (!x && !y) || (x && y && strcmp(x, y) == 0);
}

static bool hook_same(const hook_t *x, const hook_t *y)
{
    return str_same(x->url, y->url) && x->secret_len == y->secret_len &&
           memcmp(x->secret, y->secret, x->secret_len) == 0 && str_same(x->ca, y->ca) &&
           x->tls_verify == y->tls_verify && x->events == y->events && x->timeout_ms == y->timeout_ms;
}

static void say_configured(const hook_t *h, const char *event)
{
    char shown[NET_URL_SHOWN];
    net_url_redacted(h->url, shown, sizeof shown);
    log_info(event, LF_S("name", h->name), LF_S("url", shown), LF_I("timeout_ms", h->timeout_ms),
             LF_B("tls_verify", h->tls_verify));
}

/* ---- lifetime ----------------------------------------------------------------------------- */

/* There is always an acs_hooks_t, with no hooks too, so that a SIGHUP can
 * add the first (the descriptors of --webhook-concurrency are kept for them,
 * acs_main.c's acs_limits). */
int acs_webhook_init(acs_t *a)
{
    acs_hooks_t *H = calloc(1, sizeof *H);
    if (!H)
        return -ENOMEM;
    if (uv_mutex_init(&H->mu) != 0) {
        free(H);
        return -ENOMEM;
    }
    a->hooks = H;
    H->a = a;
    H->max_pending = a->o.webhook_max_pending;
    H->retry_for_s = a->o.webhook_retry_for_ms / 1000;
    H->backoff_s = a->o.webhook_backoff_ms / 1000 > 0 ? a->o.webhook_backoff_ms / 1000 : 1;
    H->concurrency = a->o.webhook_concurrency;
    H->default_interval_s = a->default_interval_s;
    if (!(H->set = set_build(&a->o.webhooks, NULL, "acs_config")))
        return -EINVAL;
    atomic_store(&H->wanted, H->set->wanted);
    for (size_t i = 0; i < H->set->n; i++)
        say_configured(&H->set->v[i], "webhook_configured");
    /* Leases a dead run left are given back at once, on one node only: on a
     * shared store another node may be sending them right now (they come
     * back by themselves when their lease runs out). */
    if (H->set->n && !store_shared(a->store) && store_hook_release_leases(a->store) < 0)
        return -EIO;
    return 0;
}

void acs_webhook_reload(acs_t *a, const cfg_list_t *items)
{
    acs_hooks_t *H = a->hooks;
    if (!H || H->stopping)
        return;
    hook_set_t *old = H->set, *s = set_build(items, old, "webhooks_reload_failed");
    if (!s) {
        log_warn("webhooks_reload_failed", LF_S("reason", "the hooks stay as they were"));
        return;
    }
    unsigned added = 0, changed = 0, removed = 0;
    for (size_t i = 0; i < s->n; i++) {
        const hook_t *h = &s->v[i], *was = set_find(old, h->name);
        if (!was || !hook_same(h, was)) {
            say_configured(h, was ? "webhook_changed" : "webhook_configured");
            *(was ? &changed : &added) += 1;
        }
    }
    for (size_t i = 0; i < old->n; i++)
        if (!set_find(s, old->v[i].name)) {
            removed++;
            log_warn("webhook_removed", LF_S("name", old->v[i].name),
                     LF_S("reason", "no longer configured: its pending deliveries are failed when their"
                                    " turn comes (POST /api/webhooks/deliveries/{id}/retry sends one"
                                    " again once a hook of that name is back)"));
        }
    uv_mutex_lock(&H->mu);
    H->set = s;
    atomic_store(&H->wanted, s->wanted);
    uv_mutex_unlock(&H->mu);
    acs_webhook_set_put(old); /* deliveries in flight keep theirs to their end */
    log_info("webhooks_reloaded", LF_U("hooks", s->n), LF_U("added", added), LF_U("changed", changed),
             LF_U("removed", removed));
    acs_webhook_kick(a); /* a new URL, a new hook: their pending deliveries may be due */
}

void acs_webhook_stop(acs_t *a)
{
    acs_hooks_t *H = a->hooks;
    if (!H || H->stopping)
        return;
    H->stopping = true;
    if (H->timer) {
        runtime_close_free((uv_handle_t *)H->timer);
        H->timer = NULL;
    }
}

void acs_webhook_free(acs_t *a)
{
    acs_hooks_t *H = a->hooks;
    if (!H)
        return;
    acs_webhook_calls_free(H);
    acs_webhook_set_put(H->set);
    uv_mutex_destroy(&H->mu);
    free(H);
    a->hooks = NULL;
}

bool acs_webhook_wants(const acs_hooks_t *h, acs_hook_event_t ev)
{
    return h && (atomic_load(&((acs_hooks_t *)h)->wanted) & (1u << ev));
}

hook_t *acs_webhook_hook(acs_hooks_t *H, const char *name)
{
    return set_find(H->set, name);
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
    hook_set_t *set = acs_webhook_set_get(H); /* a reload may swap it meanwhile */
    for (size_t i = 0; i < set->n && rc >= 0; i++) {
        hook_t *h = &set->v[i];
        if (!(h->events & (1u << ev)))
            continue;
        store_hook_delivery_t d = { .body = body, .next_attempt = now, .created = now,
                                    .deadline = now + H->retry_for_s };
        str_copy(d.hook, sizeof d.hook, h->name);
        str_copy(d.event, sizeof d.event, event_names[ev]);
        rc = store_hook_enqueue(st, &d, H->max_pending);
        if (rc == -ENOSPC) {
            atomic_fetch_add(&h->st->refused, 1);
            atomic_fetch_add(&H->refused, 1);
            if (!atomic_exchange(&H->refusing, true))
                log_warn("webhook_queue_full", LF_S("hook", h->name), LF_S("event", event_names[ev]),
                         LF_I("max_pending", H->max_pending),
                         LF_S("reason", "new events are refused (counted in"
                                        " outpost_acs_webhook_refused_total) until deliveries drain"));
            rc = 0;
        } else if (rc == 0) {
            atomic_store(&H->refusing, false);
            atomic_fetch_add(&h->st->queued, 1);
            n++;
        }
    }
    acs_webhook_set_put(set);
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

/* ---- device.offline (the sweep is acs_events.c's); old rows pruned ------------------------ */

int acs_webhook_offline(acs_hooks_t *H, store_t *st, const store_device_t *d, int64_t now)
{
    if (!acs_webhook_wants(H, ACS_HOOK_DEVICE_OFFLINE))
        return 0;
    int64_t iv = d->periodic_interval > 0 ? d->periodic_interval : H->default_interval_s;
    json_t *data = device_data(H, d, now);
    json_object_set_new(data, "inform_interval", json_integer(iv));
    json_object_set_new(data, "offline_after", json_integer(2 * iv + 60));
    int rc = queue_event(H, st, ACS_HOOK_DEVICE_OFFLINE, data, now);
    json_decref(data);
    return rc;
}

void acs_webhook_prune(acs_hooks_t *H, store_t *st, int64_t now)
{
    if (!H)
        return;
    int pruned = store_hook_prune(st, now - KEEP_FINISHED_S);
    if (pruned > 0)
        log_info("webhook_pruned", LF_I("count", pruned));
}

int acs_webhook_start(acs_t *a)
{
    acs_hooks_t *H = a->hooks;
    if (!H)
        return 0;
    if (!(H->timer = malloc(sizeof *H->timer)))
        return -ENOMEM;
    uv_timer_init(a->loop, H->timer);
    H->timer->data = H;
    acs_webhook_kick(a); /* what a previous run left pending goes first */
    return 0;
}

/* ---- the API's view, /metrics ------------------------------------------------------------- */

json_t *acs_webhook_hooks_json(const acs_t *a)
{
    json_t *arr = json_array();
    const hook_set_t *set = a->hooks ? a->hooks->set : NULL; /* on the loop: the current one */
    for (size_t i = 0; set && i < set->n; i++) {
        const hook_t *h = &set->v[i];
        hook_stats_t *st = h->st;
        json_t *ev = json_array();
        for (int k = 0; k < ACS_HOOK_EVENTS; k++)
            if (h->events & (1u << k))
                json_array_append_new(ev, json_string(event_names[k]));
        char url[NET_URL_SHOWN];
        net_url_redacted(h->url, url, sizeof url);
        json_array_append_new(
            arr, json_pack("{s:s, s:o, s:o, s:I, s:b, s:{s:I, s:I, s:I, s:I, s:I, s:I}}", "name",
                           h->name, "url", acs_json_text(url), "events", ev, "timeout_ms",
                           (json_int_t)h->timeout_ms, "tls_verify", h->tls_verify, "counters",
                           "queued", (json_int_t)atomic_load(&st->queued), "refused",
                           (json_int_t)atomic_load(&st->refused), "delivered",
                           (json_int_t)st->delivered, "failed", (json_int_t)st->failed,
                           "attempts_ok", (json_int_t)st->attempts_ok, "attempts_failed",
                           (json_int_t)st->attempts_err));
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
    const hook_set_t *set = H->set;
    const hook_t *v = set->v;
    int rc = metrics_one(o, "outpost_acs_webhook_in_flight", "gauge",
                         "Webhook deliveries being sent now.", (double)H->inflight);
    if (!rc)
        rc = metrics_one(o, "outpost_acs_webhook_refused_total", "counter",
                         "Webhook events refused: the delivery queue was full (--webhook-max-pending).",
                         (double)atomic_load(&H->refused));
    if (!rc)
        rc = metrics_one(o, "outpost_acs_webhook_unconfigured_total", "counter",
                         "Webhook deliveries failed because no hook of their name is configured any"
                         " more (removed at a reload or a restart).",
                         (double)H->unconfigured);
    if (!rc)
        rc = metrics_head(o, "outpost_acs_webhook_events_total", "counter",
                          "Webhook deliveries queued, by hook.");
    for (size_t i = 0; i < set->n && !rc; i++)
        rc = labelled(o, "outpost_acs_webhook_events_total", v[i].name, NULL, NULL,
                      (double)atomic_load(&v[i].st->queued));
    if (!rc)
        rc = metrics_head(o, "outpost_acs_webhook_deliveries_total", "counter",
                          "Webhook deliveries finished, by hook and outcome (failed: retries exhausted).");
    for (size_t i = 0; i < set->n && !rc; i++) {
        rc = labelled(o, "outpost_acs_webhook_deliveries_total", v[i].name, "outcome", "delivered",
                      (double)v[i].st->delivered);
        if (!rc)
            rc = labelled(o, "outpost_acs_webhook_deliveries_total", v[i].name, "outcome", "failed",
                          (double)v[i].st->failed);
    }
    if (!rc)
        rc = metrics_head(o, "outpost_acs_webhook_attempts_total", "counter",
                          "Webhook POSTs, by hook and result (error: not a 2xx answer, or none).");
    for (size_t i = 0; i < set->n && !rc; i++) {
        rc = labelled(o, "outpost_acs_webhook_attempts_total", v[i].name, "result", "ok",
                      (double)v[i].st->attempts_ok);
        if (!rc)
            rc = labelled(o, "outpost_acs_webhook_attempts_total", v[i].name, "result", "error",
                          (double)v[i].st->attempts_err);
    }
    return rc;
}
