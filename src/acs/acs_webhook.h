/*
 * acs_webhook: webhooks. Configured receivers (--webhook) get signed JSON
 * events (docs/webhooks.md): device.registered, device.boot,
 * device.offline, task.done, task.failed, fault, bulk.finished.
 *
 * An event is queued durably in the store (one delivery row per matching
 * hook, store_hook_*), in the same store job as what caused it when that
 * is a store job already (the Inform: acs_webhook_inform), otherwise in a
 * job of its own (acs_webhook_emit). A dispatcher on the loop claims due
 * rows and POSTs them with libcurl (net/curl_uv), at most
 * --webhook-concurrency at once, retrying with exponential backoff until
 * --webhook-retry-for has passed since the event (then: failed). The events
 * come from acs_events.h (the one place each is told), the device.offline
 * sweep included. Nothing
 * here ever waits on a receiver or on the disk on the loop, so a slow or
 * dead receiver costs CWMP sessions nothing.
 *
 * Ownership: acs_t holds one acs_hooks_t (with no hooks too: a SIGHUP may
 * add some), made by acs_webhook_init at start and freed by
 * acs_webhook_free at exit. The hooks are read again on SIGHUP
 * (acs_webhook_reload): each configuration is a set that never changes
 * once made, swapped whole on the loop; store-thread code holds a
 * reference to the one it reads (acs_webhook_int.h); the counters there
 * are atomics.
 */
#ifndef OUTPOST_ACS_WEBHOOK_H
#define OUTPOST_ACS_WEBHOOK_H

#include "acs/acs_internal.h"

typedef struct acs_hooks acs_hooks_t;

/* The events, one bit each in a hook's filter. */
typedef enum acs_hook_event {
    ACS_HOOK_DEVICE_REGISTERED = 0,
    ACS_HOOK_DEVICE_BOOT,
    ACS_HOOK_DEVICE_OFFLINE,
    ACS_HOOK_TASK_DONE,
    ACS_HOOK_TASK_FAILED,
    ACS_HOOK_FAULT,
    ACS_HOOK_BULK_FINISHED,
    ACS_HOOK_EVENTS
} acs_hook_event_t;

/* "device.registered"... ; -1 for an unknown name. */
int acs_webhook_event_parse(const char *name);
const char *acs_webhook_event_name(acs_hook_event_t ev);

/* ---- the signature (acs_webhook_sign.c, pure) ---- */
/* hex(HMAC-SHA256(secret, "<timestamp>.<body>")) into out (65 bytes with
 * the NUL). 0 or -EINVAL. */
enum { ACS_WEBHOOK_SIG_HEX = 65 };
int acs_webhook_sign(const char *secret, size_t secret_len, int64_t timestamp, const char *body,
                     size_t body_len, char out[ACS_WEBHOOK_SIG_HEX]);

/* ---- options (acs_main.c's table) ---- */
/* The check of one --webhook item: 'url=URL secret=S [name=N] [events=a,b]
 * [timeout=10s] [ca=FILE] [tls_verify=false] [secret_file=PATH]'. */
int acs_webhook_check(const char *item, char *err, size_t errlen);

/* ---- lifetime (acs_main.c) ---- */
/* Parse the hooks, release the leases a crash left (on the store, before
 * the worker owns it). 0, or -EINVAL after logging the reason. */
int acs_webhook_init(acs_t *a);
/* The dispatcher starts (after the store worker). */
int acs_webhook_start(acs_t *a);
/* SIGHUP: the --webhook items as the configuration says now (on the loop).
 * Added, changed and removed hooks are logged; an item that is wrong
 * (logged) leaves the hooks as they were. The --webhook-* options stay. */
void acs_webhook_reload(acs_t *a, const cfg_list_t *items);
/* Stop dispatching (before the store worker and curl go). */
void acs_webhook_stop(acs_t *a);
/* At exit, after the loop ran its last: transfers dropped by net_curl_free
 * are freed here. */
void acs_webhook_free(acs_t *a);

/* ---- events ---- */
/* Whether any hook wants this event (cheap, any thread; false without hooks). */
bool acs_webhook_wants(const acs_hooks_t *h, acs_hook_event_t ev);
/* On the loop: queue `event` ("bulk.finished"...) with `data` (stolen) for
 * every hook that wants it, in a store job of its own. 0 (queued or no
 * hook wants it), -EINVAL (unknown event), -EAGAIN (the store's queue is
 * full: counted as refused), -ENOMEM. */
int acs_webhook_emit(acs_t *a, const char *event, json_t *data);
/* A task finished (acs_task_finished): task.done / task.failed, and fault
 * when the CPE answered with one. */
void acs_webhook_task_finished(acs_t *a, int64_t task_id);
/* Deliveries were queued by a job that ran elsewhere: dispatch soon. */
void acs_webhook_kick(acs_t *a);

/* On the store thread, inside the Inform's job: fresh = the device was not
 * known before (call acs_webhook_inform_fresh before storing the device).
 * Queues device.registered and device.boot (1 BOOT, 0 BOOTSTRAP in
 * d->last_events). Returns how many deliveries were queued, or -EIO. */
bool acs_webhook_inform_fresh(acs_hooks_t *h, store_t *st, const char *device_id);
int acs_webhook_inform(acs_hooks_t *h, store_t *st, const store_device_t *d, bool fresh);

/* On the store thread, in acs_events.c's offline sweep: queue
 * device.offline for d (reported offline now). Deliveries queued, or
 * -errno. Then acs_webhook_prune drops delivered and failed rows older than
 * a week (H may be NULL: nothing). */
int acs_webhook_offline(acs_hooks_t *h, store_t *st, const store_device_t *d, int64_t now);
void acs_webhook_prune(acs_hooks_t *h, store_t *st, int64_t now);

/* ---- for the API (acs_api_hooks.c) and /metrics (acs_admin.c) ---- */
/* The hooks as the API shows them (no secrets), with their counters. */
json_t *acs_webhook_hooks_json(const acs_t *a);
/* The dispatcher should look again now (a delivery was retried). */
void acs_webhook_retried(acs_t *a);
/* How long a retried delivery may be retried again (Unix s deadline). */
int64_t acs_webhook_deadline(const acs_t *a, int64_t now);
int acs_webhook_metrics(const acs_t *a, buf_t *o);
/* GET /api/webhooks, GET /api/webhooks/deliveries, POST .../{id}/retry (acs_api_hooks.c) */
int acs_webhook_api_register(acs_t *a, http_router_t *r);

#endif
