/*
 * acs_webhook_int: what acs_webhook.c (hooks, events, the offline sweep)
 * and acs_webhook_send.c (the dispatcher) share. Not for other files:
 * acs_webhook.h is the interface.
 */
#ifndef OUTPOST_ACS_WEBHOOK_INT_H
#define OUTPOST_ACS_WEBHOOK_INT_H

#include <stdatomic.h>

#include "acs/acs_webhook.h"

enum {
    SECRET_MIN = 16,
    SECRET_MAX = 512,
    HOOK_TIMEOUT_DEFAULT_MS = 10000,
    HOOK_TIMEOUT_MAX_MS = 300000,
    BACKOFF_CAP_S = 3600,
    LEASE_MARGIN_S = 30,
    KEEP_FINISHED_S = 7 * 86400, /* delivered and failed rows are kept a week */
    HOOK_BODY_MAX = 256 * 1024,  /* an event's JSON body */
    TASK_RESULT_MAX = 64 * 1024, /* a task's result in its event; larger: left out */
};

/* A hook's counters, by name: a reload that keeps the name keeps them
 * (shared by the sets holding that hook; freed with the last). */
typedef struct hook_stats {
    atomic_int refs;
    _Atomic uint64_t queued, refused;                      /* the store thread's */
    uint64_t delivered, failed, attempts_ok, attempts_err; /* the loop's */
} hook_stats_t;

typedef struct hook {
    char name[STORE_NAME];
    char *url;
    char *secret;
    size_t secret_len;
    char *ca;
    bool tls_verify;
    unsigned events;          /* bit per acs_hook_event_t */
    int64_t timeout_ms;
    hook_stats_t *st;
} hook_t;

/* The hooks as configured at start or at a reload (SIGHUP): never changed
 * once made, so the store thread may read one while the loop swaps in the
 * next. Whoever uses a set beyond the moment holds a reference
 * (acs_webhook_set_get/put): queue_event on the store thread, a delivery
 * in flight (its URL and secret are those it was sent with). */
typedef struct hook_set {
    atomic_int refs;
    hook_t *v;
    size_t n;
    unsigned wanted;          /* union of the hooks' events */
    int64_t lease_s;          /* a claimed row's lease: the longest timeout + a margin */
} hook_set_t;

typedef struct hook_call hook_call_t;

struct acs_hooks {
    acs_t *a;
    uv_mutex_t mu;            /* a reference taken vs. the set swapped */
    hook_set_t *set;          /* the current one; swapped on the loop only, under mu */
    atomic_uint wanted;       /* set->wanted, for acs_webhook_wants on any thread */
    int64_t max_pending, retry_for_s, backoff_s, concurrency, default_interval_s;
    _Atomic uint64_t refused;
    _Atomic bool refusing;    /* in a refusal spell (logged at its start) */
    /* the loop's */
    uv_timer_t *timer;
    bool claiming, again, stopping;
    size_t inflight;
    hook_call_t *calls;
    uint64_t unconfigured;    /* deliveries failed: no hook of their name is configured */
    int64_t unconfigured_logged_ms;
    uint64_t unconfigured_suppressed;
};

/* acs_webhook.c */
/* The current set's hook of that name, or NULL (on the loop). */
hook_t *acs_webhook_hook(acs_hooks_t *H, const char *name);
/* A reference to the current set (any thread); put it back when done. */
hook_set_t *acs_webhook_set_get(acs_hooks_t *H);
void acs_webhook_set_put(hook_set_t *s);
/* acs_webhook_send.c: the transfers net_curl_free dropped (at exit) */
void acs_webhook_calls_free(acs_hooks_t *H);

#endif
