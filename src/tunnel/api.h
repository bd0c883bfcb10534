/*
 * api: small helpers shared by the gateway's admin API and the agent's REST
 * API: JSON responses (jansson). Who may call them is net/http_router's
 * decision, made before a handler runs.
 */
#ifndef OUTPOST_TUNNEL_API_H
#define OUTPOST_TUNNEL_API_H

#include <jansson.h>

#include "net/http_server.h"

/* Respond with `j` serialised (j is released). */
void tunnel_api_json(http_req_t *req, int status, json_t *j);
/* {"error": reason} with the status. */
void tunnel_api_error(http_req_t *req, int status, const char *reason);

#endif
