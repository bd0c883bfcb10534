/* acs_dash: placeholder, replaced by the dashboard. */
#include "acs/acs_internal.h"

static void h_index(http_req_t *req, void *ud)
{
    static const char page[] = "<!doctype html><title>Outpost ACS</title><p>Outpost ACS</p>\n";
    http_respond(req, 200, "text/html; charset=utf-8", page, sizeof page - 1);
}

void acs_dash_register(acs_t *a, http_router_t *r)
{
    http_router_add(r, "GET", "/", h_index, a);
}
