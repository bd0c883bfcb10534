/*
 * acs_cwmp: the CWMP endpoint. Each POST is decoded, matched to its session
 * and answered; anything that touches the store goes through the worker and
 * the HTTP answer leaves only after the job committed, so what the CPE was
 * told is always on disk (the Inform before its InformResponse, a task's
 * `sent` mark before its RPC, its result before the next RPC, the session's
 * row before its 204).
 *
 * Whenever the CPE gives the ACS its turn (the empty POST, an answer or a
 * fault to our RPC), the session hands that answer to its work and sends
 * the RPC the work gives back, or ends (acs_work.h): the session knows the
 * protocol, the work knows what to ask.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "acs/acs_files.h"
#include "acs/acs_session.h"
#include "core/log.h"
#include "core/str.h"

/* ---- the turn: the work's next RPC, or the end ------------------------------------- */

static int on_turn(void *ud, int rc, const cwmp_msg_t *rpc)
{
    acs_session_t *s = ud;
    acs_t *a = s->a;
    http_req_t *req = s->req;
    s->req = NULL;
    int ret = 0;
    if (rc == -ECANCELED || s->ended || !req) {
        ret = -ECANCELED; /* the session ended meanwhile */
    } else if (rpc) {
        acs_session_touch(s);
        cwmp_msg_t m = *rpc;
        m.ns = s->ns;
        buf_t out = BUF_INIT(64 * 1024 * 1024);
        if ((ret = cwmp_encode(&out, &m)) == 0) {
            s->expect = cwmp_response_type(m.type);
            s->rpcs++;
            acs_session_note_rpc(s, cwmp_type_name(m.type), 0);
            a->n.rpcs++;
            acs_respond_encoded(s, req, &out);
        } else {
            acs_respond_end(s, req, "error"); /* the work gives the RPC up */
        }
        buf_free(&out);
    } else if (rc == 0 || rc == -EPROTO) {
        acs_respond_end(s, req, rc == 0 ? "ok" : "error");
    } else {
        acs_cwmp_store_error(req, rc);
        acs_session_end(s, rc == -EAGAIN ? "store busy" : rc == -ENOMEM ? "error" : "store error");
    }
    acs_session_unref(s);
    return ret;
}

void acs_cwmp_store_error(http_req_t *req, int rc)
{
    /* A CPE retries a 503 (TR-069 3.2.1.1: Retry-After honoured); what
     * it sent was not acknowledged, so nothing it told is lost. */
    const char *why = rc == -EAGAIN    ? "store busy\n"
                      : rc == -ENOMEM  ? "out of memory\n"
                      : rc == -ENOTCONN ? "store database unreachable\n"
                                        : "store unavailable\n";
    http_respond_hdrs(req, 503, rc == -ENOTCONN ? "Retry-After: 10\r\n" : "Retry-After: 5\r\n",
                      "text/plain", why, strlen(why));
}

/* The CPE's turn is over: answer (to our RPC, or NULL) goes to the work,
 * which says what comes next (on_turn, maybe at once). */
static void take_turn(acs_session_t *s, http_req_t *req, const cwmp_msg_t *answer)
{
    if (!s->work) { /* not reached: a session's Inform gives it its work */
        acs_respond_end(s, req, "error");
        return;
    }
    s->expect = CWMP_NONE;
    s->req = req;
    s->refs++;
    acs_work_next(s->work, answer, s->hold_requests, on_turn, s);
}

/* ---- the endpoint ---------------------------------------------------------------------- */

static const char *const acs_methods[] = { "Inform", "GetRPCMethods", "TransferComplete",
                                           "AutonomousTransferComplete", "RequestDownload" };

/* Before any body byte is read: a request that does not continue a session
 * on its own connection must authenticate first (so an unauthenticated peer
 * never makes us buffer a body), and a session's first message may not be
 * larger than an Inform reasonably is. */
enum { ACS_FIRST_MESSAGE_MAX = 1024 * 1024 };

static void cwmp_on_head(http_req_t *req, void *ud)
{
    acs_t *a = ud;
    const char *path = http_req_path(req);
    if (acs_files_on_head(a, req))
        return; /* the file store's /files/ and /uploads/ (acs_files_cwmp.c) */
    if ((strcmp(path, "/") != 0 && strcmp(path, "/cwmp") != 0) ||
        strcmp(http_req_method(req), "POST") != 0)
        return; /* the handler answers 404/405 */
    acs_conn_t *c = acs_conn_get(req);
    if (!c) {
        http_respond_error(req, 503, "out of memory");
        return;
    }
    c->authed = false;
    c->user[0] = '\0';
    acs_session_t *s;
    bool admitted = acs_admit(a, req, c, &s);
    if (!s && c->s) { /* a trusted proxy's: normal behind a sharing balancer */
        a->n.shared_connection_others++;
        log_debug("cwmp_not_the_connections_session", LF_S("carried", c->s->device_id),
                  LF_S("peer", http_req_peer(req)));
    }
    if (!admitted)
        return; /* 401/429 sent; the body is discarded unread */
    /* Content-Length or chunked alike: the server answers 413 (and logs
     * http_body_too_large) once the decoded body passes the cap. */
    if (!s)
        http_req_set_body_max(req, ACS_FIRST_MESSAGE_MAX,
                              "a session's first message is at most 1 MiB");
}

static bool blank(const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!strchr(" \t\r\n", b[i]))
            return false;
    return true;
}

static void decode_failed(acs_t *a, acs_session_t *s, http_req_t *req, int rc)
{
    a->n.bad_requests++;
    /* A cwmp namespace we do not know: a CWMP version we do not speak. 8006
     * (ACS version incompatible with CPE) says so, in the newest namespace we
     * speak; a session already in 1-0, whose schema ends at 8005, gets 8003. */
    cwmp_ns_t ns = s ? s->ns : rc == CWMP_DEC_NAMESPACE ? CWMP_NS_1_2 : cwmp_decoder_ns(a->dec);
    log_warn("cwmp_bad_message", LF_S("peer", http_req_peer(req)),
             LF_S("reason", cwmp_decoder_reason(a->dec)));
    acs_respond_fault(s, req, ns, NULL, cwmp_decode_fault_code(rc, ns), cwmp_decoder_reason(a->dec));
    if (s)
        acs_session_end(s, "bad message");
}

/* An Inform outside a session (or after the one it restarted): checked
 * before anything is stored or ended, so that a device's row, its
 * ConnectionRequestURL and its live session answer to its own identity only. */
static void start_session(acs_t *a, http_req_t *req, const cwmp_msg_t *m, const char *user)
{
    if (m->type != CWMP_INFORM) {
        a->n.bad_requests++;
        acs_respond_fault(NULL, req, m->ns, m->id, CWMP_FAULT_REQUEST_DENIED,
                          "a session starts with an Inform");
        return;
    }
    char id[STORE_ID_MAX];
    if (acs_inform_device_id(m, id, sizeof id) != 0) {
        a->n.bad_requests++;
        acs_respond_fault(NULL, req, m->ns, m->id, CWMP_FAULT_INVALID_ARGUMENTS, "bad DeviceId");
        return;
    }
    if (a->cpe_auth && !acs_identity_allows(a, user, &m->device, id)) {
        acs_identity_refused(a, req, user, id, "inform");
        return;
    }
    if ((int64_t)a->nsessions >= a->o.max_sessions) {
        http_respond_hdrs(req, 503, "Retry-After: 5\r\n", "text/plain", "too many sessions\n", 18);
        return;
    }
    acs_session_t *s = acs_session_new(a, req, user);
    if (!s) {
        http_respond_error(req, 503, "out of memory");
        return;
    }
    s->ns = m->ns;
    s->hold_requests = m->has_hold_requests && m->hold_requests;
    str_copy(s->req_id, sizeof s->req_id, m->id ? m->id : "");
    acs_on_inform(a, s, req, m);
}

/* An Inform inside a session: the CPE started over. The session keeps the
 * DeviceId it started with; another one ends it, refused. */
static void restart_session(acs_t *a, acs_session_t *s, http_req_t *req, const cwmp_msg_t *m)
{
    char user[ACS_USER_MAX], id[STORE_ID_MAX];
    str_copy(user, sizeof user, s->user); /* the session may be freed when it ends */
    if (acs_inform_device_id(m, id, sizeof id) == 0 && strcmp(id, s->device_id) != 0) {
        if (a->cpe_auth && !acs_identity_allows(a, user, &m->device, id)) {
            acs_session_end(s, "identity mismatch");
            acs_identity_refused(a, req, user, id, "inform");
            return;
        }
        a->n.bad_requests++;
        log_warn("cwmp_session_device_changed", LF_S("device", s->device_id), LF_S("informed", id),
                 LF_S("peer", http_req_peer(req)));
        acs_respond_fault(s, req, s->ns, m->id, CWMP_FAULT_REQUEST_DENIED,
                          "a session's DeviceId cannot change: start a new session");
        acs_session_end(s, "device changed");
        return;
    }
    acs_session_end(s, "restarted");
    start_session(a, req, m, user);
}

/* An Inform for another device than the one whose session the connection
 * carries, and without that session's cookie, is not that CPE starting over
 * (a session's DeviceId cannot change) but another CPE, whose requests an
 * intermediary sends on the same connection: a balancer that shares its
 * connections to the ACS between clients (haproxy's http-reuse, nginx's
 * upstream keepalive). It authenticates on its own and starts its own
 * session, which the connection carries from then on; the other session
 * goes on by its cookie, on a connection that authenticates again. */
static bool another_device(const acs_session_t *carried, const cwmp_msg_t *m)
{
    char id[STORE_ID_MAX];
    return m->type == CWMP_INFORM && acs_inform_device_id(m, id, sizeof id) == 0 &&
           strcmp(id, carried->device_id) != 0;
}

void acs_cwmp_handle(http_req_t *req, void *ud)
{
    acs_t *a = ud;
    const char *path = http_req_path(req);
    if (acs_files_handle(a, req))
        return;
    if (strcmp(path, "/") != 0 && strcmp(path, "/cwmp") != 0) {
        http_respond_error(req, 404, "not a CWMP endpoint (use / or /cwmp)");
        return;
    }
    if (strcmp(http_req_method(req), "POST") != 0) {
        http_respond_hdrs(req, 405, "Allow: POST\r\n", "text/plain", "POST only\n", 10);
        return;
    }
    size_t len;
    const char *body = http_req_body(req, &len);
    acs_conn_t *c = http_req_conn_data(req); /* made by on_head */
    acs_session_t *s;
    if (!c) {
        http_respond_error(req, 503, "out of memory");
        return;
    }
    if (!acs_admit(a, req, c, &s))
        return;
    if (s && s->req) {
        http_respond_error(req, 409, "the session's previous request is still being handled");
        return;
    }
    if (blank(body, len)) {
        if (!s) { /* nothing to continue */
            http_respond(req, 204, NULL, NULL, 0);
            return;
        }
        s->cookieless |= c->by_conn;
        acs_session_touch(s);
        acs_session_log(s, "cpe", "", 0);
        take_turn(s, req, NULL); /* an RPC of ours still out is unanswered */
        return;
    }
    const cwmp_msg_t *m;
    int rc = cwmp_decode(a->dec, body, len, &m);
    if (rc != 0) {
        decode_failed(a, s, req, rc);
        return;
    }
    if (c->s && (!s || c->by_conn) && another_device(c->s, m)) {
        /* found by the connection only: not authenticated yet (acs_admit) */
        if (s && a->cpe_auth && !acs_cpe_authenticate(a, req, c))
            return;
        log_debug("cwmp_connection_shared", LF_S("carried", c->s->device_id), LF_S("peer", http_req_peer(req)));
        a->n.shared_connection_informs++;
        s = NULL;
    }
    if (!s) {
        start_session(a, req, m, c->user);
        return;
    }
    s->cookieless |= c->by_conn;
    acs_session_touch(s);
    acs_session_log(s, "cpe", body, len);
    str_copy(s->req_id, sizeof s->req_id, m->id ? m->id : "");
    if (m->has_hold_requests)
        s->hold_requests = m->hold_requests;
    if (m->type != CWMP_INFORM && m->type != CWMP_FAULT && m->type != CWMP_UNKNOWN &&
        cwmp_response_type(m->type) != CWMP_NONE && m->type != s->expect)
        acs_session_note_cpe(s, cwmp_type_name(m->type)); /* the CPE's own request */
    switch (m->type) {
    case CWMP_INFORM:
        restart_session(a, s, req, m);
        return;
    case CWMP_TRANSFER_COMPLETE:
    case CWMP_AUTONOMOUS_TRANSFER_COMPLETE:
        acs_on_transfer_complete(s, req, m);
        return;
    case CWMP_GET_RPC_METHODS: {
        cwmp_msg_t r = { .type = CWMP_GET_RPC_METHODS_RESPONSE, .ns = s->ns, .id = m->id,
                         .names = acs_methods, .n_names = 5 };
        acs_respond_xml(s, req, &r);
        return;
    }
    case CWMP_REQUEST_DOWNLOAD: {
        log_info("cwmp_request_download", LF_S("device", s->device_id),
                 LF_S("file_type", m->file_type ? m->file_type : ""));
        cwmp_msg_t r = { .type = CWMP_REQUEST_DOWNLOAD_RESPONSE, .ns = s->ns, .id = m->id };
        acs_respond_xml(s, req, &r);
        return;
    }
    case CWMP_FAULT:
        if (s->expect != CWMP_NONE) { /* the answer to our RPC */
            a->n.cpe_faults++;
            acs_metrics_fault(a, m->fault.code);
            acs_session_note_rpc(s, NULL, m->fault.code);
            s->faulted = true;
            take_turn(s, req, m);
            return;
        }
        log_warn("cwmp_unexpected_fault", LF_S("device", s->device_id), LF_I("code", m->fault.code));
        take_turn(s, req, NULL);
        return;
    case CWMP_UNKNOWN:
        a->n.faults++;
        acs_respond_fault(s, req, s->ns, m->id, CWMP_FAULT_METHOD_NOT_SUPPORTED, "method not supported");
        return;
    default:
        if (s->expect != CWMP_NONE && m->type == s->expect) {
            take_turn(s, req, m);
            return;
        }
        if (cwmp_response_type(m->type) != CWMP_NONE) { /* a request the ACS does not serve */
            a->n.faults++;
            acs_respond_fault(s, req, s->ns, m->id, CWMP_FAULT_METHOD_NOT_SUPPORTED, "method not supported");
            return;
        }
        /* A response to nothing we asked, or the wrong one. */
        log_warn("cwmp_unexpected_response", LF_S("device", s->device_id),
                 LF_S("got", cwmp_type_name(m->type)), LF_S("expected", cwmp_type_name(s->expect)));
        a->n.faults++;
        acs_respond_fault(s, req, s->ns, m->id, CWMP_FAULT_INVALID_ARGUMENTS, "unexpected message");
        acs_session_end(s, "protocol error");
        return;
    }
}

int acs_cwmp_start(acs_t *a, const char *listen)
{
    hmap_init(&a->sessions_by_cookie);
    hmap_init(&a->sessions_by_device);
    cwmp_decode_opts_t dopts = { .max_body = a->o.cwmp_max_body };
    a->dec = cwmp_decoder_new(&dopts);
    if (!a->dec)
        return -ENOMEM;
    int rc = acs_cpe_auth_start(a);
    if (rc)
        return rc;
    http_server_opts_t so = {
        .max_body_bytes = a->o.cwmp_max_body,
        .on_head = cwmp_on_head,
        .handler = acs_cwmp_handle,
        .ud = a,
        .idle_timeout_ms = a->o.session_timeout_ms,
    };
    a->cwmp = http_server_new(a->loop, &so);
    if (!a->cwmp)
        return -ENOMEM;
    net_listen_opts_t lo = { .addr = listen, .tls = a->tls,
                             .max_connections = (size_t)a->o.common.max_connections,
                             .max_per_addr = (size_t)a->o.common.max_per_addr,
                             .exempt = a->trusted, .nexempt = a->ntrusted };
    return http_server_listen(a->cwmp, &lo);
}

static void end_at_shutdown(acs_session_t *s)
{
    if (s->req) {
        http_respond_error(s->req, 503, "shutting down");
        s->req = NULL;
    }
    acs_session_end(s, "shutdown");
}

void acs_cwmp_stop(acs_t *a)
{
    /* Ending a session takes it out of the table: collect them first. */
    hmap_t *m = &a->sessions_by_cookie;
    size_t n = hmap_len(m), k = 0;
    acs_session_t **all = n ? malloc(n * sizeof *all) : NULL, *s;
    if (all) {
        for (size_t i = 0; k < n && (s = hmap_next(m, &i, NULL));)
            all[k++] = s;
        for (size_t i = 0; i < k; i++)
            end_at_shutdown(all[i]);
        free(all);
    }
    for (size_t i = 0; hmap_len(m) && (s = hmap_next(m, &i, NULL)); i = 0)
        end_at_shutdown(s); /* without memory for the list: one at a time */
    if (a->cwmp) {
        http_server_close(a->cwmp, NULL, NULL);
        a->cwmp = NULL;
    }
}

void acs_cwmp_free(acs_t *a)
{
    cwmp_decoder_free(a->dec);
    a->dec = NULL;
    acs_cpe_auth_free(a);
    hmap_free(&a->sessions_by_cookie);
    hmap_free(&a->sessions_by_device);
}
