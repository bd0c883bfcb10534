/*
 * session: one CPE's CWMP session as an HTTP client on net/conn and
 * net/http_parse (TR-069 3.7.2):
 *
 *   Inform -> InformResponse, then the CPE's own requests (TransferComplete,
 *   GetRPCMethods) unless the ACS holds them, then an empty POST; then every
 *   ACS request is answered in the next POST, until the ACS answers with an
 *   empty body (204 or 200 without content).
 *
 * Per request: cookies are echoed, a 401 is answered once with Digest (or
 * Basic) and the challenge is reused with a growing nonce count, 3xx on the
 * Inform is followed (5 hops). The connection is kept while both sides
 * allow it; with --cookie-only each request uses a new one. Every response
 * is awaited at most --session-timeout. Anything else (HTTP status, bad XML,
 * the wrong message, a closed or silent ACS) ends the session with a logged
 * reason; the fleet retries with back-off.
 *
 * The session owns its connection and parser. A response is handled after
 * the parser returned (on_complete pauses it), never inside its callbacks,
 * so the session may end and free itself there.
 */
#include "cpesim/fleet.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/log.h"
#include "core/str.h"
#include "net/conn.h"
#include "net/http_parse.h"

enum { MAX_CHALLENGES = 4, MAX_REDIRECTS = 5, COOKIE_MAX = 4096 };

typedef enum stage {
    STAGE_INFORM,
    STAGE_TC,       /* TransferComplete sent */
    STAGE_GRM,      /* GetRPCMethods sent */
    STAGE_EMPTY,    /* empty POST sent */
    STAGE_RPC,      /* an RPC response sent */
} stage_t;

struct session {
    fleet_t *f;
    cpe_t *c;
    net_conn_t *conn;
    http_parser_t *parser;
    net_url_t url;
    char hostport[NET_HOST_MAX + 8];
    buf_t req;          /* the envelope being sent (kept for a 401 re-send) */
    buf_t resp;         /* response body */
    buf_t cookies;      /* "a=1; b=2" */
    buf_t authz;        /* Authorization value for the next request */
    char *challenge;    /* the Digest challenge being reused */
    uint32_t nc;
    char *www[MAX_CHALLENGES];
    size_t n_www;
    stage_t stage;
    int status;
    bool keep_alive, got_response, auth_retried, opened, waiting, delay_done;
    bool sent_tc, sent_grm, hold, bootstrap;
    uint16_t sent_events;
    unsigned act;
    unsigned redirects;
    uint32_t requests;
    int64_t t0_us;
};

static void finish(session_t *s, bool ok, stats_fail_t why, const char *reason);
static void send_request(session_t *s);

/* ---- connection plumbing ------------------------------------------------------- */

static void drop_conn(session_t *s, bool reset)
{
    if (s->conn) {
        net_conn_set_cbs(s->conn, NULL, NULL);
        if (reset)
            net_conn_abort(s->conn);
        else
            net_conn_close(s->conn);
        s->conn = NULL;
    }
    http_parser_free(s->parser);
    s->parser = NULL;
}

static void clear_www(session_t *s)
{
    for (size_t i = 0; i < s->n_www; i++)
        free(s->www[i]);
    s->n_www = 0;
}

/* Remember "name=value" of a Set-Cookie, replacing an older one. */
static void keep_cookie(session_t *s, const char *v)
{
    size_t n = strcspn(v, ";");
    while (n && (v[n - 1] == ' ' || v[n - 1] == '\t'))
        n--;
    const char *eq = memchr(v, '=', n);
    if (!eq || eq == v)
        return;
    size_t nl = (size_t)(eq - v);
    buf_t next = BUF_INIT(COOKIE_MAX);
    /* copy the others */
    const char *p = s->cookies.data ? s->cookies.data : "";
    while (*p) {
        size_t len = strcspn(p, ";");
        if (!(len > nl && p[nl] == '=' && memcmp(p, v, nl) == 0)) {
            if (next.len)
                buf_append_str(&next, "; ");
            buf_append(&next, p, len);
        }
        p += len;
        while (*p == ';' || *p == ' ')
            p++;
    }
    if (next.len)
        buf_append_str(&next, "; ");
    if (buf_append(&next, v, n) == 0) {
        buf_free(&s->cookies);
        s->cookies = next;
    } else {
        buf_free(&next);
    }
}

static int on_headers(http_parser_t *p, http_msg_t *m)
{
    session_t *s = http_parser_data(p);
    s->status = m->status;
    clear_www(s);
    for (size_t i = 0; i < m->nheaders; i++) {
        const char *name, *value;
        http_msg_header_at(m, i, &name, &value);
        if (strcasecmp(name, "Set-Cookie") == 0)
            keep_cookie(s, value);
        else if (strcasecmp(name, "WWW-Authenticate") == 0 && s->n_www < MAX_CHALLENGES &&
                 (s->www[s->n_www] = strdup(value)) != NULL)
            s->n_www++;
    }
    return 0;
}

static int on_body(http_parser_t *p, const char *data, size_t len)
{
    session_t *s = http_parser_data(p);
    return buf_append(&s->resp, data, len) == 0 ? 0 : -1;
}

static int on_complete(http_parser_t *p, http_msg_t *m)
{
    session_t *s = http_parser_data(p);
    s->keep_alive = m->keep_alive;
    s->got_response = true;
    return 1; /* pause: the response is handled once the parser returned */
}

static const http_parser_cbs_t parser_cbs = { on_headers, on_body, on_complete };

static void handle_response(session_t *s);

static void conn_read(net_conn_t *c, const char *data, size_t len)
{
    session_t *s = net_conn_data(c);
    while (len) {
        size_t used = 0;
        int rc = http_parser_feed(s->parser, data, len, &used);
        if (rc == HTTP_PARSE_PAUSED) {
            if (!s->waiting || !s->got_response) {
                finish(s, false, STATS_FAIL_PROTOCOL, "unexpected response");
                return;
            }
            handle_response(s); /* may end the session or change connections */
            return;
        }
        if (rc != HTTP_PARSE_OK) {
            char why[128];
            snprintf(why, sizeof why, "bad HTTP response: %s",
                     rc == HTTP_PARSE_ERR_CALLBACK ? "body over --max-response" : http_parser_reason(s->parser));
            finish(s, false, STATS_FAIL_PROTOCOL, why);
            return;
        }
        data += used;
        len -= used;
    }
}

/* The request is still held back by --slow-ms: a close now is the ACS giving
 * up on an idle connection (its wait for a request is shorter than the
 * delay), not an ACS failing to answer. Said apart so the cause shows. */
static bool unsent(const session_t *s) { return s->waiting && !s->delay_done; }
#define UNSENT_REASON "the ACS closed the connection before the CPE sent its request (--slow-ms)"

static void conn_eof(net_conn_t *c)
{
    session_t *s = net_conn_data(c);
    if (s->waiting && !s->got_response)
        (void)http_parser_finish(s->parser); /* a body delimited by the close completes here */
    if (s->waiting && s->got_response) {
        s->keep_alive = false;
        handle_response(s);
        return;
    }
    if (s->waiting) {
        finish(s, false, STATS_FAIL_CLOSED,
               unsent(s) ? UNSENT_REASON : "the ACS closed the connection before answering");
        return;
    }
    drop_conn(s, false); /* idle: the next request opens a new one */
}

static void conn_close(net_conn_t *c, int err)
{
    session_t *s = net_conn_data(c);
    if (!s || s->conn != c)
        return;
    s->conn = NULL; /* freed by the net module after we return */
    http_parser_free(s->parser);
    s->parser = NULL;
    if (!s->waiting)
        return;
    char why[128];
    if (!s->opened) {
        snprintf(why, sizeof why, "connect to %.64s: %s", s->hostport, log_strerror(err));
        finish(s, false, err == -ETIMEDOUT ? STATS_FAIL_TIMEOUT : STATS_FAIL_CONNECT, why);
    } else if (unsent(s)) {
        finish(s, false, STATS_FAIL_CLOSED, UNSENT_REASON);
    } else {
        snprintf(why, sizeof why, "connection lost: %s", err ? log_strerror(err) : "closed");
        finish(s, false, STATS_FAIL_CLOSED, why);
    }
}

static void write_request(session_t *s);

static void conn_open(net_conn_t *c)
{
    session_t *s = net_conn_data(c);
    s->opened = true;
    if (s->delay_done)
        write_request(s);
}

static const net_conn_cbs_t conn_cbs = {
    .on_open = conn_open,
    .on_read = conn_read,
    .on_eof = conn_eof,
    .on_close = conn_close,
};

static void on_timeout(net_conn_t *c)
{
    session_t *s = net_conn_data(c);
    char why[96];
    snprintf(why, sizeof why, "no answer within %lld ms", (long long)s->f->o->session_timeout_ms);
    finish(s, false, STATS_FAIL_TIMEOUT, why);
}

/* ---- requests ------------------------------------------------------------------ */

static int acs_user(session_t *s, buf_t *user, buf_t *pass)
{
    fleet_env_t env;
    dm_view_t v = fleet_view(s->f, s->c, &env);
    buf_t raw = BUF_INIT(512);
    int rc = dm_wk_get(&v, DM_WK_ACS_USER, &raw);
    if (rc == 0 && raw.data) {
        /* "{serial}" stands for the CPE's own serial number */
        const char *p = strstr(raw.data, "{serial}");
        if (p) {
            char serial[96];
            fleet_serial(s->f, s->c, serial, sizeof serial);
            buf_append(user, raw.data, (size_t)(p - raw.data));
            buf_append_str(user, serial);
            buf_append_str(user, p + 8);
        } else {
            buf_append_str(user, raw.data);
        }
    }
    buf_free(&raw);
    if (dm_wk_get(&v, DM_WK_ACS_PASS, pass) != 0 || !pass->data)
        buf_append(pass, "", 0);
    return user->len ? 0 : -ENOENT;
}

/* Authorization for the next request from the challenge we hold. The
 * password's copy is wiped; so is the last value (Basic is the password in
 * base64), which is freed rather than reused: a longer new value would grow
 * it by realloc and leave the old one behind. */
static int make_authz(session_t *s)
{
    buf_free_secret(&s->authz);
    if (!s->challenge)
        return 0;
    buf_t user = BUF_INIT(512), pass = BUF_INIT(512);
    int rc = acs_user(s, &user, &pass);
    if (rc == 0) {
        if (strncasecmp(s->challenge, "Basic", 5) == 0)
            rc = http_auth_client_basic(user.data, pass.data, &s->authz);
        else
            rc = http_auth_client_digest(s->challenge, "POST", s->url.path, user.data, pass.data,
                                         ++s->nc, NULL, &s->authz);
    }
    buf_free(&user);
    buf_free_secret(&pass);
    return rc;
}

static void write_request(session_t *s)
{
    fleet_t *f = s->f;
    if (s->challenge && make_authz(s) != 0) {
        finish(s, false, STATS_FAIL_AUTH, "cannot answer the ACS's authentication challenge");
        return;
    }
    buf_t head = BUF_INIT(16384);
    int rc = buf_printf(&head,
                        "POST %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: outpost-cpesim/%s\r\n"
                        "Content-Length: %zu\r\n",
                        s->url.path, s->hostport, OUTPOST_CPESIM_VERSION, s->req.len);
    if (!rc && s->req.len)
        rc = buf_append_str(&head, "Content-Type: text/xml; charset=\"utf-8\"\r\nSOAPAction: \"\"\r\n");
    if (!rc && s->cookies.len)
        rc = buf_printf(&head, "Cookie: %s\r\n", s->cookies.data);
    if (!rc && f->o->cookie_only)
        rc = buf_append_str(&head, "Connection: close\r\n");
    /* the Authorization value goes out from s->authz itself, not copied
     * into `head` (for Basic it is the password) */
    uv_buf_t bufs[5];
    size_t n = 0;
    bufs[n++] = uv_buf_init(head.data, (unsigned)head.len);
    if (s->authz.len) {
        bufs[n++] = uv_buf_init((char *)"Authorization: ", 15);
        bufs[n++] = uv_buf_init(s->authz.data, (unsigned)s->authz.len);
    }
    bufs[n++] = uv_buf_init((char *)(s->authz.len ? "\r\n\r\n" : "\r\n"), s->authz.len ? 4 : 2);
    if (s->req.len)
        bufs[n++] = uv_buf_init(s->req.data, (unsigned)s->req.len);
    if (!rc && s->authz.len)
        net_conn_secret(s->conn); /* the queue's copy of the value is wiped too */
    if (!rc)
        rc = net_conn_writev(s->conn, bufs, n);
    buf_free(&head);
    if (rc) {
        finish(s, false, STATS_FAIL_CLOSED, "cannot write the request");
        return;
    }
    f->st.http_requests++;
    s->requests++;
    if (f->o->drop_rate > 0 && fleet_random(f) < f->o->drop_rate) {
        drop_conn(s, true);
        finish(s, false, STATS_FAIL_DROPPED, "connection dropped on purpose (--drop-rate)");
        return;
    }
    net_conn_timer(s->conn, f->o->session_timeout_ms, on_timeout);
}

/* --slow-ms: the CPE takes its time before each request. */
static void slow_fire(net_conn_t *c)
{
    session_t *s = net_conn_data(c);
    s->delay_done = true;
    if (s->opened)
        write_request(s);
}

static int open_conn(session_t *s)
{
    fleet_t *f = s->f;
    if (s->url.tls && !f->tls)
        return -ENOTSUP;
    s->parser = http_parser_new(&(http_parser_opts_t){ .response = true }, &parser_cbs, s);
    if (!s->parser)
        return -ENOMEM;
    s->opened = false;
    net_connect_opts_t co = {
        .host = s->url.host,
        .port = s->url.port,
        .tls = s->url.tls ? f->tls : NULL,
        .timeout_ms = f->o->session_timeout_ms,
    };
    f->st.connections++;
    int rc = net_connect(f->loop, &co, &conn_cbs, s, &s->conn);
    if (rc) {
        http_parser_free(s->parser);
        s->parser = NULL;
        s->conn = NULL;
    }
    return rc;
}

/* Send s->req (possibly empty) on the current connection or a new one. */
static void send_request(session_t *s)
{
    s->waiting = true;
    s->got_response = false;
    s->status = 0;
    s->delay_done = s->f->o->slow_ms <= 0;
    buf_reset(&s->resp);
    if (!s->conn || net_conn_closing(s->conn)) {
        drop_conn(s, false);
        int rc = open_conn(s);
        if (rc) {
            char why[96];
            snprintf(why, sizeof why, "cannot connect to %.40s: %s", s->hostport, log_strerror(rc));
            finish(s, false, STATS_FAIL_CONNECT, why);
            return;
        }
        if (s->f->o->slow_ms > 0) /* the delay runs while the connection opens */
            net_conn_timer(s->conn, s->f->o->slow_ms, slow_fire);
        return; /* conn_open or slow_fire writes, whichever comes last */
    }
    http_parser_resume(s->parser);
    if (s->f->o->slow_ms > 0)
        net_conn_timer(s->conn, s->f->o->slow_ms, slow_fire);
    else
        write_request(s);
}

/* ---- responses ------------------------------------------------------------------- */

/* The InformResponse arrived: what the Inform carried is delivered. */
static void inform_acked(session_t *s)
{
    cpe_t *c = s->c;
    c->events &= (uint16_t)~(s->sent_events & ~EV_UNTIL_TC);
    if (s->sent_events & EV_BOOTSTRAP)
        c->flags |= CPE_BOOTSTRAPPED;
    if (c->x) {
        if (s->sent_events & EV_M_REBOOT) {
            free(c->x->ck_reboot);
            c->x->ck_reboot = NULL;
        }
        if (s->sent_events & EV_M_SCHEDULE) {
            free(c->x->ck_sched);
            c->x->ck_sched = NULL;
        }
        fleet_x_release(c);
    }
    fleet_env_t env;
    dm_view_t v = fleet_view(s->f, c, &env);
    dm_clear_changes(&v);
    s->f->state_dirty = true;
}

static void tc_acked(session_t *s)
{
    cpe_t *c = s->c;
    c->events &= (uint16_t)~EV_UNTIL_TC;
    if (c->x && c->x->has_tc) {
        free(c->x->tc.command_key);
        free(c->x->tc.fault_string);
        memset(&c->x->tc, 0, sizeof c->x->tc);
        c->x->has_tc = false;
        fleet_x_release(c);
    }
    s->f->state_dirty = true;
}

/* After the Inform (or one of our requests) was answered: our next request. */
static void next_cpe_request(session_t *s)
{
    fleet_t *f = s->f;
    cpe_t *c = s->c;
    buf_reset(&s->req);
    int rc = 0;
    if (!s->hold && !s->sent_tc && c->x && c->x->has_tc) {
        s->sent_tc = true;
        s->stage = STAGE_TC;
        rc = rpc_transfer_complete(f, c, &s->req);
    } else if (!s->hold && !s->sent_grm && f->o->get_rpc_methods && s->bootstrap) {
        s->sent_grm = true;
        s->stage = STAGE_GRM;
        rc = rpc_get_rpc_methods(f, &s->req);
    } else {
        s->stage = STAGE_EMPTY;
    }
    if (rc) {
        finish(s, false, STATS_FAIL_PROTOCOL, "cannot encode our request");
        return;
    }
    send_request(s);
}

static void fail_fault(session_t *s, const cwmp_msg_t *m)
{
    char why[160];
    snprintf(why, sizeof why, "the ACS answered with fault %d (%s)", m->fault.code,
             m->fault.string ? m->fault.string : "");
    finish(s, false, STATS_FAIL_FAULT, why);
}

static bool is_acs_request(cwmp_type_t t)
{
    return t >= CWMP_GET_RPC_METHODS && t < CWMP_TYPE_COUNT && cwmp_response_type(t) != CWMP_NONE;
}

/* A 401: answer the strongest challenge once per request. */
static void handle_401(session_t *s)
{
    buf_t user = BUF_INIT(512), pass = BUF_INIT(512);
    bool have = acs_user(s, &user, &pass) == 0;
    buf_free(&user);
    buf_free_secret(&pass);
    int pick = s->n_www ? http_auth_pick_challenge((const char *const *)s->www, s->n_www, true) : -1;
    if (s->auth_retried || !have || pick < 0) {
        finish(s, false, STATS_FAIL_AUTH,
               !have ? "the ACS wants credentials and none are configured (--username)"
               : pick < 0 ? "no usable WWW-Authenticate challenge"
                          : "the ACS refused our credentials");
        return;
    }
    free(s->challenge);
    s->challenge = strdup(s->www[pick]);
    s->nc = 0;
    s->auth_retried = true;
    if (!s->keep_alive)
        drop_conn(s, false);
    send_request(s);
}

static void handle_redirect(session_t *s)
{
    const char *loc = http_msg_header(http_parser_msg(s->parser), "Location");
    /* RFC 7231 allows a reference relative to the request's URL; servers send
     * "/path" as often as an absolute URL */
    char abs[NET_HOST_MAX + NET_URL_PATH_MAX + 32];
    if (loc && loc[0] == '/' && loc[1] != '/') {
        int n = snprintf(abs, sizeof abs, "%s://%s%s", s->url.scheme, s->hostport, loc);
        loc = n > 0 && (size_t)n < sizeof abs ? abs : NULL;
    }
    net_url_t u;
    if (!loc || s->redirects >= MAX_REDIRECTS || net_url_parse(loc, &u) != 0 ||
        (strcmp(u.scheme, "http") != 0 && strcmp(u.scheme, "https") != 0)) {
        net_url_clear(&u);
        finish(s, false, STATS_FAIL_HTTP, "unusable redirect");
        return;
    }
    s->redirects++;
    s->url = u; /* the old URL's password is overwritten */
    net_url_clear(&u);
    net_url_hostport(&s->url, s->hostport, sizeof s->hostport);
    buf_reset(&s->cookies);
    free(s->challenge);
    s->challenge = NULL;
    drop_conn(s, false);
    send_request(s); /* the same Inform, to the new place */
}

static void handle_response(session_t *s)
{
    fleet_t *f = s->f;
    s->waiting = false;
    net_conn_timer(s->conn, -1, NULL);
    int status = s->status;
    if (status == 401) {
        handle_401(s);
        return;
    }
    s->auth_retried = false;
    if ((status == 301 || status == 302 || status == 303 || status == 307 || status == 308) &&
        s->stage == STAGE_INFORM) {
        handle_redirect(s);
        return;
    }
    if (status != 200 && status != 204) {
        char why[64];
        snprintf(why, sizeof why, "HTTP %d from the ACS", status);
        finish(s, false, STATS_FAIL_HTTP, why);
        return;
    }
    if (f->o->cookie_only || !s->keep_alive)
        drop_conn(s, false);
    size_t n = s->resp.len;
    while (n && (s->resp.data[n - 1] == ' ' || s->resp.data[n - 1] == '\n' || s->resp.data[n - 1] == '\r' ||
                 s->resp.data[n - 1] == '\t'))
        n--;
    if (status == 204 || n == 0) {
        /* An empty answer to the Inform breaks the protocol (no InformResponse);
         * the session ends and its events wait for the next one. */
        if (s->stage == STAGE_INFORM)
            log_debug("inform_unanswered", LF_S("acs", s->hostport), LF_I("status", status));
        finish(s, true, STATS_FAIL_COUNT, NULL);
        return;
    }
    const cwmp_msg_t *m = NULL;
    int rc = cwmp_decode(f->dec, s->resp.data, s->resp.len, &m);
    if (rc != CWMP_DEC_OK) {
        char why[200];
        snprintf(why, sizeof why, "malformed SOAP from the ACS: %s", cwmp_decoder_reason(f->dec));
        finish(s, false, STATS_FAIL_PROTOCOL, why);
        return;
    }
    if (m->has_hold_requests)
        s->hold = m->hold_requests;
    switch (s->stage) {
    case STAGE_INFORM:
        if (m->type == CWMP_INFORM_RESPONSE) {
            inform_acked(s);
            next_cpe_request(s);
        } else if (m->type == CWMP_FAULT) {
            fail_fault(s, m);
        } else {
            finish(s, false, STATS_FAIL_PROTOCOL, "expected an InformResponse");
        }
        return;
    case STAGE_TC:
    case STAGE_GRM:
        if (m->type == CWMP_FAULT) {
            fail_fault(s, m);
        } else if (m->type != (s->stage == STAGE_TC ? CWMP_TRANSFER_COMPLETE_RESPONSE
                                                     : CWMP_GET_RPC_METHODS_RESPONSE)) {
            finish(s, false, STATS_FAIL_PROTOCOL, "the ACS answered our request with something else");
        } else {
            if (s->stage == STAGE_TC)
                tc_acked(s);
            next_cpe_request(s);
        }
        return;
    case STAGE_EMPTY:
    case STAGE_RPC:
        if (!is_acs_request(m->type)) {
            if (m->type == CWMP_FAULT)
                fail_fault(s, m);
            else
                finish(s, false, STATS_FAIL_PROTOCOL,
                       m->type == CWMP_UNKNOWN ? "unknown method from the ACS" : "not a request from the ACS");
            return;
        }
        if ((unsigned)m->type < STATS_RPC_KINDS)
            f->st.rpcs[m->type]++;
        buf_reset(&s->req);
        unsigned act = 0;
        if (rpc_handle(f, s->c, m, &s->req, &act) != 0) {
            finish(s, false, STATS_FAIL_PROTOCOL, "cannot encode our response");
            return;
        }
        s->act |= act;
        s->stage = STAGE_RPC;
        send_request(s);
        return;
    }
}

/* ---- life cycle ------------------------------------------------------------------- */

static void session_free(session_t *s)
{
    drop_conn(s, false);
    net_url_clear(&s->url);
    buf_free(&s->req);
    buf_free(&s->resp);
    buf_free(&s->cookies);
    buf_free_secret(&s->authz);
    free(s->challenge);
    clear_www(s);
    free(s);
}

static void finish(session_t *s, bool ok, stats_fail_t why, const char *reason)
{
    fleet_t *f = s->f;
    cpe_t *c = s->c;
    unsigned act = s->act;
    uint64_t us = (uint64_t)(clock_mono_us() - s->t0_us);
    if (ok)
        stats_hist_add(&f->st.latency, us);
    else
        fleet_log_fail(f, c, why, reason, s->status);
    if (log_enabled(LOG_DEBUG)) {
        char serial[96];
        fleet_serial(f, c, serial, sizeof serial);
        log_debug("session_end", LF_S("cpe", serial), LF_B("ok", ok), LF_U("requests", s->requests),
                  LF_F("ms", (double)us / 1000.0));
    }
    c->sess = NULL;
    session_free(s);
    fleet_session_done(f, c, ok);
    if (act)
        rpc_after_session(f, c, act);
}

int session_start(fleet_t *f, cpe_t *c)
{
    session_t *s = calloc(1, sizeof *s);
    if (!s)
        return -ENOMEM;
    s->f = f;
    s->c = c;
    s->t0_us = clock_mono_us();
    s->req = BUF_INIT(64 * 1024 * 1024);
    s->resp = BUF_INIT(f->o->max_response);
    s->cookies = BUF_INIT(COOKIE_MAX);
    s->authz = BUF_INIT(HTTP_AUTH_HEADER_MAX);
    /* the ACS the CPE's own ManagementServer.URL names (the ACS may move it) */
    fleet_env_t env;
    dm_view_t v = fleet_view(f, c, &env);
    buf_t url = BUF_INIT(1024);
    int rc = dm_wk_get(&v, DM_WK_ACS_URL, &url);
    if (rc || !url.data || net_url_parse(url.data, &s->url) != 0 ||
        (strcmp(s->url.scheme, "http") != 0 && strcmp(s->url.scheme, "https") != 0)) {
        char shown[NET_URL_SHOWN];
        net_url_redacted(url.data, shown, sizeof shown);
        log_warn("bad_acs_url", LF_S("url", shown));
        buf_free(&url);
        session_free(s);
        return -EINVAL;
    }
    buf_free(&url);
    net_url_hostport(&s->url, s->hostport, sizeof s->hostport);
    s->sent_events = c->events;
    s->bootstrap = (c->events & EV_BOOTSTRAP) != 0;
    s->stage = STAGE_INFORM;
    if (rpc_inform(f, c, &s->req) != 0) {
        log_warn("inform_encode_failed", LF_U("cpe", fleet_index(f, c)));
        session_free(s);
        return -EINVAL;
    }
    c->sess = s;
    f->st.informs++;
    send_request(s);
    return 0;
}

void session_abort(session_t *s)
{
    s->c->sess = NULL;
    session_free(s);
}
