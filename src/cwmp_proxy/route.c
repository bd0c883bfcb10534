/*
 * route: stickiness rules, see route.h.
 */
#include "cwmp_proxy/route.h"

#include <string.h>

#include "core/str.h"
#include "cwmp_proxy/cookie.h"

const char *route_why_name(route_why_t why)
{
    switch (why) {
    case ROUTE_CONNECTION: return "connection";
    case ROUTE_COOKIE: return "cookie";
    case ROUTE_ACS_COOKIE: return "acs_cookie";
    default: return "new";
    }
}

/* Rule 2 target: the session's backend if it can still take the request. */
static void to_session(balancer_t *b, session_t *x, route_why_t why, route_out_t *out)
{
    backend_t *be = balancer_find(b, x->backend_id);
    out->why = why;
    str_copy(out->token, sizeof out->token, x->token);
    if (!be) {
        out->status = 502;
        out->reason = "the session's ACS node was removed";
    } else if (!be->up) {
        out->status = 502;
        out->reason = "the session's ACS node is down";
    } else {
        out->be = be;
    }
}

void route_request(balancer_t *b, sessions_t *s, const route_in_t *in, route_out_t *out)
{
    memset(out, 0, sizeof *out);
    if (in->bound) {
        out->be = in->bound;
        out->why = ROUTE_CONNECTION;
        session_t *x = in->bound_token && in->bound_token[0]
                     ? sessions_find(s, in->bound_token, in->now_ms) : NULL;
        if (!x) /* expired while the connection idled: same node, fresh entry */
            x = sessions_create(s, in->bound->id, in->now_ms);
        if (x)
            str_copy(out->token, sizeof out->token, x->token);
        return;
    }
    if (in->cookie_header) {
        char tok[SESSION_TOKEN_LEN + 1];
        session_t *x = NULL;
        if (cookie_get(in->cookie_header, in->cookie_name, tok, sizeof tok) == 0)
            x = sessions_find(s, tok, in->now_ms);
        if (x && (!in->is_inform || x->challenged)) {
            to_session(b, x, ROUTE_COOKIE, out);
            return;
        }
        char pair[SESSION_COOKIE_MAX];
        size_t pos = 0;
        while (!in->is_inform && cookie_next_pair(in->cookie_header, &pos, pair, sizeof pair) == 1) {
            if ((x = sessions_find_cookie(s, pair, in->now_ms))) {
                to_session(b, x, ROUTE_ACS_COOKIE, out);
                return;
            }
        }
    }
    backend_t *be = balancer_pick(b);
    out->why = ROUTE_NEW;
    if (!be) {
        out->status = 503;
        out->reason = "no ACS node is up";
        return;
    }
    session_t *x = sessions_create(s, be->id, in->now_ms);
    if (x)
        str_copy(out->token, sizeof out->token, x->token);
    out->be = be;
    out->new_session = true;
}
