/*
 * api: small helpers shared by the gateway's admin API and the agent's REST
 * API: bearer-token checks (constant time) and JSON responses (jansson).
 */
#ifndef OUTPOST_TUNNEL_API_H
#define OUTPOST_TUNNEL_API_H

#include <stdbool.h>

#include <jansson.h>

#include "net/http_server.h"

/* true when the request carries "Authorization: Bearer <token>"; otherwise
 * answers 401 itself (with WWW-Authenticate) and returns false. */
bool tunnel_api_auth(http_req_t *req, const char *token);
/* Respond with `j` serialised (j is released). */
void tunnel_api_json(http_req_t *req, int status, json_t *j);
/* {"error": reason} with the status. */
void tunnel_api_error(http_req_t *req, int status, const char *reason);

#endif
