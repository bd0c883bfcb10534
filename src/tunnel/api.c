/* api: token checks and JSON responses for the tunnel's HTTP APIs. */
#include <stdlib.h>
#include <string.h>

#include "core/str.h"
#include "tunnel/api.h"

bool tunnel_api_auth(http_req_t *req, const char *token)
{
    const char *h = http_req_header(req, "Authorization");
    static const char pfx[] = "Bearer ";
    if (h && strncmp(h, pfx, sizeof pfx - 1) == 0) {
        const char *t = h + sizeof pfx - 1;
        if (str_ct_equal(t, strlen(t), token, strlen(token)))
            return true;
    }
    http_respond_hdrs(req, 401, "WWW-Authenticate: Bearer\r\n", "application/json",
                      "{\"error\":\"missing or wrong bearer token\"}\n", 41);
    return false;
}

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
