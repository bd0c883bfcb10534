/*
 * acs_api_search: the API's device search and pages (GET /api/devices)
 * and single tags (PUT/DELETE /api/devices/{id}/tags/{tag}); the filter
 * language is store/store_filter.h's. Registered by acs_api_start().
 */
#ifndef OUTPOST_ACS_API_SEARCH_H
#define OUTPOST_ACS_API_SEARCH_H

#include <stdbool.h>

#include "acs/acs_internal.h"

int acs_search_api_register(acs_t *a, http_router_t *r);
/* --search-param: stored as the indexed set before the worker owns the
 * store (0, or 1 after logging why). */
int acs_search_params_sync(acs_t *a);
int acs_search_param_check(const char *v, char *err, size_t errlen);
/* A tag: 1-64 characters of [A-Za-z0-9_.:-]. */
bool acs_tag_valid(const char *tag);

#endif
