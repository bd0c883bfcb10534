/*
 * acs_evshare: the live events one node tells the event streams of the
 * other nodes on a shared store (PostgreSQL; docs/scaling.md).
 *
 * An Inform, a device going offline, a preset's fault, a task queued or
 * sent, a bulk finished: each happens on one node (its session, its API,
 * its sweep), while a dashboard may be connected to another. Only while
 * another node has event streams open (its interest: store_watch_set
 * "events", renewed every ACS_EVSHARE_WATCH_MS) does a node tell its
 * events: lines (acs_ev_share_put) gathered for up to ACS_EVSHARE_FLUSH_MS
 * into one NOTIFY of up to 7999 bytes on STORE_CHANNEL_EVENT, sent by a
 * store job of its own once the event's own job has committed. So a fleet
 * with no dashboard open pays one small read per node every
 * ACS_EVSHARE_WATCH_MS, and one with a dashboard open one NOTIFY per node
 * per ACS_EVSHARE_FLUSH_MS at most (PostgreSQL serializes the commits of
 * notifying transactions: one per Inform would cap the fleet's Inform
 * rate). The other nodes publish what they hear (acs_events_heard) and
 * never tell it again. Finished tasks are not told here: every node reads
 * those from the store on STORE_CHANNEL_TASK. A task's earlier events
 * (queued, sent) go at once, with what was gathered so far, not after
 * ACS_EVSHARE_FLUSH_MS: their notification is then committed before the
 * task's finish, which comes a CPE's answer later through the same store
 * worker, and the other nodes hear them in that order. Bounded: at most
 * ACS_EVSHARE_INFLIGHT notifications out at once; events past that are
 * dropped and counted.
 *
 * Ownership: acs_events owns one on a shared store (acs_evshare_new at its
 * start, acs_evshare_stop at its stop, acs_evshare_free at its free, after
 * the loop ran dry). Everything runs on the loop but its store jobs.
 */
#ifndef OUTPOST_ACS_EVSHARE_H
#define OUTPOST_ACS_EVSHARE_H

#include <stdbool.h>

#include "acs/acs_events.h"

enum {
    ACS_EVSHARE_WATCH_MS = 2000, /* interest written and read this often */
    ACS_EVSHARE_WATCH_TTL_S = 10, /* an interest not renewed ends after this */
    ACS_EVSHARE_FLUSH_MS = 100,  /* a notification's lines are gathered this long */
    ACS_EVSHARE_INFLIGHT = 16,   /* notifications out at once */
};

typedef struct acs_evshare acs_evshare_t;

/* NULL when the store is not shared (or out of memory: events stay local). */
acs_evshare_t *acs_evshare_new(acs_t *a);
void acs_evshare_stop(acs_evshare_t *S);
void acs_evshare_free(acs_evshare_t *S);
/* Whether another node's streams want events (as last read). */
bool acs_evshare_wanted(const acs_evshare_t *S);
/* This node's streams: open (want) or not. Written at once when it changes. */
void acs_evshare_local(acs_evshare_t *S, bool want);
/* An event that happened here, to the other nodes if they want it. */
void acs_evshare_put(acs_evshare_t *S, acs_ev_type_t t, const char *device, const json_t *data);
int acs_evshare_metrics(const acs_evshare_t *S, buf_t *o);

#endif
