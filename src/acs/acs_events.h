/*
 * acs_events: the ACS's live events, one place where each happens.
 *
 * What happens (a task changes status, a device informs, comes online or
 * goes offline, a fault, a bulk finishes) is told here once, by the code
 * that made it happen, and from here goes to both consumers:
 *   - webhooks (acs_webhook.h: durable, signed, retried), for the events
 *     they have (task.done/failed, fault, device.offline, bulk.finished;
 *     device.registered/boot are queued in the Inform's own store job);
 *   - Server-Sent Events, GET /api/events (viewer): the dashboard's live
 *     updates. Each client says which types (and which device) it wants;
 *     an event is formatted once and written to every client that wants
 *     it. A client's unsent bytes are capped (--events-client-buffer): a
 *     client that does not read is closed with a reason and counted, never
 *     buffered without end. Clients are capped (--events-max-clients: 503
 *     beyond); each gets a comment line every --events-heartbeat so
 *     proxies and dead peers are noticed. A stream remembers the key that
 *     opened it and ends when that key is revoked (acs_events_keys_changed).
 *     Ids count up from the ACS's start; a reconnecting client's
 *     Last-Event-ID is accepted, nothing is replayed (docs/dashboard.md). On a shared store the streams show
 *     every node's events: what happens here is told to the other nodes
 *     while they have streams open (acs_evshare.h), theirs are published
 *     here (acs_events_heard).
 *   - per-minute counters kept in memory for the last 24 hours (informs,
 *     sessions, faults, tasks finished): GET /api/stats/history, the
 *     Overview's charts.
 * The device.offline sweep lives here too (one timer, one store pass that
 * both webhooks and SSE are fed from).
 *
 * Ownership: acs_t holds one acs_events_t (acs_events_init at start,
 * acs_events_stop before the API server closes, acs_events_free at exit).
 * Everything here runs on the loop except the sweep's store pass.
 *
 * The pure pieces (acs_evbus.c, unit-tested): type names and filters, the
 * wire format, the minute ring.
 */
#ifndef OUTPOST_ACS_EVENTS_H
#define OUTPOST_ACS_EVENTS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

typedef struct acs acs_t;
typedef struct http_router http_router_t;
typedef struct store_task store_task_t;

/* ---- pure (acs_evbus.c) ---- */

/* The SSE event types, one bit each in a client's filter. */
typedef enum acs_ev_type {
    ACS_EV_TASK = 0, /* a task's status: pending, sent, done, failed, cancelled, expired */
    ACS_EV_INFORM,   /* a device informed (its events) */
    ACS_EV_DEVICE,   /* a device came online or went offline */
    ACS_EV_FAULT,    /* a CPE fault (a task's, or a preset's) */
    ACS_EV_BULK,     /* a bulk finished */
    ACS_EV_TYPES
} acs_ev_type_t;
enum { ACS_EV_ALL = (1u << ACS_EV_TYPES) - 1 };

/* "task"... ; NULL for another value. */
const char *acs_ev_type_name(acs_ev_type_t t);
/* A types= value ("task,fault"; empty or NULL: all) into a mask: 0, or
 * -EINVAL with err saying which name is unknown. */
int acs_ev_types_parse(const char *s, uint32_t *mask, char *err, size_t errlen);
/* One event on the wire: "id: N\nevent: TYPE\ndata: JSON\n\n" (JSON is
 * compact, so one data line). 0 or -ENOBUFS/-ENOMEM. */
int acs_ev_format(buf_t *out, uint64_t id, acs_ev_type_t t, const json_t *data);

/* Events told to the other nodes of a shared store (acs_evshare.c), many
 * in one notification: a line each, "TYPE DEVICE JSON\n", DEVICE "-" for
 * an event about no device (a device id is never "-": its three parts are
 * joined by '-'). acs_ev_share_put appends one line whole or nothing
 * (-ENOBUFS past out's cap, -EINVAL for a type or device that cannot be
 * written so). acs_ev_share_parse gives each well-formed line to fn (device
 * NULL for none; data borrowed) and skips the others; it returns how many
 * it gave, or fn's nonzero return. */
int acs_ev_share_put(buf_t *out, acs_ev_type_t t, const char *device, const json_t *data);
typedef int (*acs_ev_share_fn)(acs_ev_type_t t, const char *device, const json_t *data, void *ud);
int acs_ev_share_parse(const char *payload, size_t len, acs_ev_share_fn fn, void *ud);

/* The minute ring: per-minute counters for the last ACS_EVRING_MINUTES. */
typedef enum acs_evstat {
    ACS_EVSTAT_INFORMS = 0,
    ACS_EVSTAT_SESSIONS,     /* the most sessions live at once in the minute */
    ACS_EVSTAT_FAULTS,
    ACS_EVSTAT_TASKS_DONE,
    ACS_EVSTAT_TASKS_FAILED,
    ACS_EVSTATS
} acs_evstat_t;
enum { ACS_EVRING_MINUTES = 24 * 60 };
typedef struct acs_evring {
    int64_t minute[ACS_EVRING_MINUTES];  /* which minute (Unix s / 60) a slot holds; 0: none */
    uint32_t v[ACS_EVRING_MINUTES][ACS_EVSTATS];
} acs_evring_t;
const char *acs_evstat_name(acs_evstat_t s);
/* Count n at time now_s (Unix s): add, or for SESSIONS keep the max. */
void acs_evring_note(acs_evring_t *r, int64_t now_s, acs_evstat_t s, uint32_t n);
/* The last `minutes` minutes up to now_s (oldest first) as
 * {"minute_seconds":60,"from":T,"to":T,"buckets":[{"t":T,"informs":N,...}]}:
 * minutes with nothing counted are there with zeroes. */
json_t *acs_evring_json(const acs_evring_t *r, int64_t now_s, int minutes);

/* ---- the bus (acs_events.c) ---- */

typedef struct acs_events acs_events_t;

int acs_events_init(acs_t *a);
/* The offline sweep's timer and the heartbeat start (after the store worker). */
int acs_events_start(acs_t *a);
/* Close every SSE client (the API server drains then) and stop the timers. */
void acs_events_stop(acs_t *a);
void acs_events_free(acs_t *a);

/* Is anyone listening for this type (SSE)? Cheap; lets an emitter skip
 * work only SSE would use. */
bool acs_events_wanted(const acs_t *a, acs_ev_type_t t);

/* A task was created or sent: t's status, id, device and type as they are. */
void acs_events_task(acs_t *a, const store_task_t *t);
/* A task finished (done, failed, cancelled, expired): webhooks (task.done,
 * task.failed, fault) and SSE (task, fault), read from the store. */
void acs_events_task_finished(acs_t *a, int64_t task_id);
/* The same finish made by another node (its notification): SSE only (its
 * node queued the webhooks), and the minute ring counts it. */
void acs_events_task_elsewhere(acs_t *a, int64_t task_id);
/* A device's Inform was stored: the inform event, and device online when it
 * was new or offline before (the Inform job knows). events: the Inform's
 * event codes, comma-separated ("0 BOOTSTRAP,1 BOOT"). */
void acs_events_inform(acs_t *a, const char *device_id, const char *events, bool came_online);
/* An event the webhooks also have, given by name ("fault", "bulk.finished"):
 * queued for webhooks and published to SSE. data is stolen. */
int acs_events_emit(acs_t *a, const char *webhook_event, const char *device_id, json_t *data);
/* Events another node told (STORE_CHANNEL_EVENT's lines, acs_evshare.h):
 * published to this node's streams only. */
void acs_events_heard(acs_t *a, const char *lines);
/* A session started (the minute ring's sessions count). */
void acs_events_session(acs_t *a);

/* The API keys changed (a revoke, a reload; acs_keys.c calls it after
 * every change of its table): each stream opened with a key that is gone,
 * or that no longer has the role GET /api/events needs, ends now with one
 * events_client_closed line. One hash lookup per stream, none per event. */
void acs_events_keys_changed(acs_t *a);

/* GET /api/events, GET /api/stats/history */
int acs_events_api_register(acs_t *a, http_router_t *r);
/* outpost_acs_events_* for /metrics */
int acs_events_metrics(const acs_t *a, buf_t *o);

#endif
