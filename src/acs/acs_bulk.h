/*
 * acs_bulk: bulk tasks and rollouts. The API (acs_api_bulk.c) makes a
 * bulk in the store: one held task per matching device. The pump here
 * releases them on a timer: at most --bulk-cr-rate connection requests a
 * second over all bulks, at most a bulk's max_in_flight tasks released
 * and unfinished at once, and it stops a bulk whose failure ratio passes
 * its threshold (held tasks cancelled), or marks it done when every task
 * finished. The pump owns its timer and its one store job in flight.
 */
#ifndef OUTPOST_ACS_BULK_H
#define OUTPOST_ACS_BULK_H

#include "acs/acs_internal.h"

int acs_bulk_start(acs_t *a);
void acs_bulk_stop(acs_t *a);
/* A bulk was made or changed: look at once instead of at the next tick. */
void acs_bulk_kick(acs_t *a);
/* Routes: POST /api/tasks, GET/DELETE /api/bulk/{id} (acs_api_bulk.c). */
int acs_bulk_api_register(acs_t *a, http_router_t *r);
/* The bulk as the API shows it (its failed tasks added by the caller). */
json_t *acs_bulk_json(const store_bulk_t *b);

#endif
