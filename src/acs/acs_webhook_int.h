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
    int64_t max_pending, retry_for_s, backoff_s, concurrency, default_interval_s;
    int64_t lease_s;
    _Atomic uint64_t refused;
    _Atomic bool refusing;    /* in a refusal spell (logged at its start) */
    /* the loop's */
    uv_timer_t *timer;
    bool claiming, again, stopping;
    size_t inflight;
    hook_call_t *calls;
};

/* acs_webhook.c */
hook_t *acs_webhook_hook(acs_hooks_t *H, const char *name);
/* acs_webhook_send.c: the transfers net_curl_free dropped (at exit) */
void acs_webhook_calls_free(acs_hooks_t *H);

#endif
