/*
 * acs_api_lists: the fleet-wide lists the dashboard pages through,
 * GET /api/tasks (every device's tasks) and GET /api/bulk (every bulk with
 * its counts). Both answer a bare JSON list, newest first, with an RFC 8288
 * Link rel="next" carrying an opaque cursor while there are more.
 */
#ifndef OUTPOST_ACS_API_LISTS_H
#define OUTPOST_ACS_API_LISTS_H

#include "acs/acs_internal.h"

int acs_lists_api_register(acs_t *a, http_router_t *r);

#endif
