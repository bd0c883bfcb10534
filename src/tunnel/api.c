/* api: JSON responses for the tunnel's HTTP APIs. */
#include <stdlib.h>
#include <string.h>

#include "tunnel/api.h"

void tunnel_api_json(http_req_t *req, int status, json_t *j)
{
    char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (!s) {
        http_respond_error(req, 500, "out of memory");
        return;
    }
    size_t n = strlen(s);
    s = realloc(s, n + 2) ?: s;
    s[n] = '\n';
    http_respond(req, status, "application/json", s, n + 1);
    free(s);
}

void tunnel_api_error(http_req_t *req, int status, const char *reason)
{
    tunnel_api_json(req, status, json_pack("{s:s}", "error", reason));
}
