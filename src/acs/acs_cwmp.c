/*
 * acs_cwmp: the CWMP endpoint. Each POST is decoded, matched to its session
 * and answered; anything that touches the store goes through the worker and
 * the HTTP answer leaves only after the job committed, so what the CPE was
 * told is always on disk (the Inform before its InformResponse, a task's
 * `sent` mark before its RPC, its result before the next RPC).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acs/acs_session.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/str.h"

static cwmp_decoder_t *g_dec; /* one per process: decoding is synchronous on the loop */

/* ---- answering ---------------------------------------------------------------------- */

void acs_respond_xml(acs_session_t *s, http_req_t *req, const cwmp_msg_t *m)
{
    buf_t out = BUF_INIT(64 * 1024 * 1024);
    int rc = cwmp_encode(&out, m);
    if (rc != 0) {
        log_error("cwmp_encode_failed", LF_S("type", cwmp_type_name(m->type)), LF_ERR(rc),
                  LF_S("device", s ? s->device_id : "-"));
        http_respond_error(req, 500, "cannot encode the message");
        buf_free(&out);
        return;
    }
    char hdr[128] = "";
    if (s && !s->cookie_sent) {
        snprintf(hdr, sizeof hdr, "Set-Cookie: acs_session=%s; Path=/; HttpOnly\r\n", s->cookie);
        s->cookie_sent = true;
    }
    if (s)
        acs_session_log(s, "acs", out.data, out.len);
    http_respond_hdrs(req, 200, hdr[0] ? hdr : NULL, "text/xml; charset=\"utf-8\"", out.data, out.len);
    buf_free(&out);
}

void acs_respond_fault(acs_session_t *s, http_req_t *req, cwmp_ns_t ns, const char *id, int code,
                          const char *why)
{
    cwmp_msg_t m = { .type = CWMP_FAULT, .ns = ns, .id = id, .fault = { .code = code, .string = why } };
    if (s)
        s->faulted = true;
    if (ns == CWMP_NS_1_0 && code == CWMP_FAULT_ACS_VERSION)
        m.fault.code = CWMP_FAULT_INVALID_ARGUMENTS; /* 8006 is not in the 1-0 schema */
    acs_respond_xml(s, req, &m);
}

/* The empty 204 that ends a session. */
static void finish_session(acs_session_t *s, http_req_t *req, const char *outcome)
{
    http_respond(req, 204, NULL, NULL, 0);
    acs_session_end(s, outcome);
}

/* ---- step: finish the answered task, take the next one ---------------------------- */

typedef struct first_task {
    store_task_t t;
    bool got;
} first_task_t;

static int take_first(const store_task_t *t, void *u)
{
    first_task_t *f = u;
    f->t = *t;
    f->t.params = t->params ? strdup(t->params) : NULL;
    f->t.result = NULL;
    f->got = true;
    return 1;
}

typedef struct step_job {
    acs_session_t *s;
    /* in */
    char device[STORE_ID_MAX];
    int64_t finish_id;
    store_task_status_t finish_status;
    char *result;            /* JSON */
    int fault_code;
    char fault_string[256];
    store_param_t *params;   /* GPV/GPN results to store */
    size_t nparams;
    char *strings;           /* backing for params */
    bool take_next;
    /* out */
    bool found;
    store_task_t next;
} step_job_t;

static int step_run(store_t *st, void *ud)
{
    step_job_t *j = ud;
    int64_t now = clock_real_s();
    if (j->nparams)
        (void)store_params_put(st, j->device, j->params, j->nparams, now);
    if (j->finish_id)
        (void)store_task_finish(st, j->finish_id, j->finish_status, j->result, j->fault_code,
                                j->fault_string, now);
    /* A task cancelled meanwhile loses the race cleanly (-ESTALE): try the next. */
    for (int tries = 0; j->take_next && !j->found && tries < 64; tries++) {
        first_task_t first = { .got = false };
        int rc = store_task_pending(st, j->device, 1, take_first, &first);
        if (rc < 0 || !first.got)
            return rc;
        if (first.t.expires_at > 0 && first.t.expires_at <= now) {
            /* Past its TTL, not yet swept by the minutely housekeeping: never sent late. */
            (void)store_task_finish(st, first.t.id, STORE_TASK_EXPIRED, NULL, 0,
                                    "expired before it could be sent", now);
            store_task_clear(&first.t);
            continue;
        }
        if (store_task_mark_sent(st, first.t.id, now) == 0) {
            j->next = first.t;
            j->next.status = STORE_TASK_SENT;
            j->next.attempts++;
            j->found = true;
        } else {
            store_task_clear(&first.t);
        }
    }
    return 0;
}

static void step_free(step_job_t *j)
{
    free(j->result);
    free(j->params);
    free(j->strings);
    store_task_clear(&j->next);
    free(j);
}

static void step_free_done(int rc, void *ud)
{
    step_free(ud);
}

static void free_done(int rc, void *ud)
{
    free(ud);
}

static void send_task(acs_session_t *s, http_req_t *req)
{
    acs_t *a = s->a;
    cwmp_msg_t m = { .ns = s->ns };
    acs_rpc_scratch_t scratch = { 0 };
    char key[40], id[40];
    json_t *params = NULL;
    char *names_store = NULL;
    const char **names = NULL;
    size_t nnames;
    int rc;
    /* Long name lists are the common case: read them without a JSON tree. */
    bool gpv = strcmp(s->cur.type, "get_params") == 0;
    if ((gpv || strcmp(s->cur.type, "get_attributes") == 0) && s->cur.params &&
        acs_task_names_parse(s->cur.params, &names, &nnames, &names_store) == 0) {
        m.type = gpv ? CWMP_GET_PARAMETER_VALUES : CWMP_GET_PARAMETER_ATTRIBUTES;
        m.names = names;
        m.n_names = nnames;
        rc = 0;
    } else {
        params = json_loads(s->cur.params ? s->cur.params : "{}", 0, NULL);
        rc = params ? acs_task_to_rpc(s->cur.type, params, s->cur.id, &m, &scratch, key, sizeof key)
                    : -EINVAL;
    }
    snprintf(id, sizeof id, "%" PRId64, s->cur.id);
    m.id = id;
    buf_t out = BUF_INIT(64 * 1024 * 1024);
    if (rc == 0)
        rc = cwmp_encode(&out, &m);
    if (rc == 0) {
        s->expect = acs_task_response_type(s->cur.type);
        s->rpcs++;
        a->n.rpcs++;
        acs_session_log(s, "acs", out.data, out.len);
        char hdr[128] = "";
        if (!s->cookie_sent) {
            snprintf(hdr, sizeof hdr, "Set-Cookie: acs_session=%s; Path=/; HttpOnly\r\n", s->cookie);
            s->cookie_sent = true;
        }
        log_info("cwmp_rpc", LF_S("device", s->device_id), LF_I("task", s->cur.id),
                 LF_S("rpc", cwmp_type_name(m.type)));
        http_respond_hdrs(req, 200, hdr[0] ? hdr : NULL, "text/xml; charset=\"utf-8\"", out.data,
                          out.len);
    }
    acs_rpc_scratch_free(&scratch);
    json_decref(params);
    free(names);
    free(names_store);
    buf_free(&out);
    if (rc != 0) {
        /* Should not happen (the API validated it): fail the task, end cleanly. */
        log_error("cwmp_task_unencodable", LF_I("task", s->cur.id), LF_ERR(rc));
        step_job_t *j = calloc(1, sizeof *j);
        if (j) {
            str_copy(j->device, sizeof j->device, s->device_id);
            j->finish_id = s->cur.id;
            j->finish_status = STORE_TASK_FAILED;
            j->fault_code = CWMP_FAULT_INTERNAL_ERROR;
            str_copy(j->fault_string, sizeof j->fault_string, "task cannot be encoded");
            if (store_worker_submit(a->db, step_run, step_free_done, j) != 0)
                step_free(j);
        }
        s->has_cur = false;
        store_task_clear(&s->cur);
        finish_session(s, req, "error");
    }
}

static int requeue_run(store_t *st, void *ud)
{
    return store_task_requeue(st, *(int64_t *)ud, clock_real_s());
}

static void step_done(int rc, void *ud)
{
    step_job_t *j = ud;
    acs_session_t *s = j->s;
    acs_t *a = s->a;
    http_req_t *req = s->req;
    s->req = NULL;
    if (j->finish_id)
        acs_task_finished(a, j->finish_id);
    if (s->ended || !req) {
        if (j->found) { /* taken but never sent: back to the queue */
            int64_t *id = malloc(sizeof *id);
            if (id) {
                *id = j->next.id;
                if (store_worker_submit(a->db, requeue_run, free_done, id) != 0)
                    free(id);
            }
        }
        acs_session_unref(s);
        step_free(j);
        return;
    }
    acs_session_touch(s);
    if (rc < 0) {
        http_respond_error(req, 503, "store unavailable");
        acs_session_end(s, "store error");
    } else if (j->found) {
        s->cur = j->next;
        memset(&j->next, 0, sizeof j->next);
        s->has_cur = true;
        send_task(s, req);
    } else {
        s->pending_hint = 0;
        finish_session(s, req, "ok");
    }
    acs_session_unref(s);
    step_free(j);
}

/* Run a step for this request: finish (optional), then next RPC or 204. */
static void step(acs_session_t *s, http_req_t *req, step_job_t *j)
{
    acs_t *a = s->a;
    j->s = s;
    str_copy(j->device, sizeof j->device, s->device_id);
    j->take_next = !s->hold_requests && s->pending_hint > 0 && !a->stopping;
    if (!j->take_next && !j->finish_id && !j->nparams) {
        step_free(j);
        finish_session(s, req, "ok");
        return;
    }
    s->req = req;
    s->refs++;
    s->has_cur = false;
    store_task_clear(&s->cur);
    if (store_worker_submit(a->db, step_run, step_done, j) != 0) {
        s->refs--;
        s->req = NULL;
        step_free(j);
        http_respond_error(req, 503, "store busy");
        acs_session_end(s, "store busy");
    }
}

/* Copy a decoded parameter list (the decoder is reused for the next
 * message): the rows and one block holding every string. */
int acs_copy_params(const cwmp_msg_t *m, bool values, store_param_t **params, char **strings,
                    size_t *n)
{
    size_t total = 0;
    for (size_t i = 0; i < m->n_params; i++)
        total += strlen(m->params[i].name) + 1 +
                 (values ? strlen(m->params[i].value) +
                               strlen(m->params[i].type ? m->params[i].type : "") + 2
                         : 0);
    store_param_t *v = calloc(m->n_params ? m->n_params : 1, sizeof *v);
    char *p = malloc(total ? total : 1);
    if (!v || !p) {
        free(v);
        free(p);
        return -ENOMEM;
    }
    *params = v;
    *strings = p;
#define PUT(dst, src)                \
    do {                             \
        size_t l_ = strlen(src) + 1; \
        memcpy(p, (src), l_);        \
        (dst) = p;                   \
        p += l_;                     \
    } while (0)
    for (size_t i = 0; i < m->n_params; i++) {
        store_param_t *sp = &v[i];
        PUT(sp->name, m->params[i].name);
        if (values) {
            PUT(sp->value, m->params[i].value);
            PUT(sp->type, m->params[i].type ? m->params[i].type : "");
            sp->writable = -1;
        } else {
            sp->value = NULL;
            sp->writable = m->params[i].writable;
        }
    }
#undef PUT
    *n = m->n_params;
    return 0;
}

static int copy_params(step_job_t *j, const cwmp_msg_t *m, bool values)
{
    return acs_copy_params(m, values, &j->params, &j->strings, &j->nparams);
}

/* The CPE answered our RPC (or faulted). */
static void on_answer(acs_session_t *s, http_req_t *req, const cwmp_msg_t *m)
{
    acs_t *a = s->a;
    step_job_t *j = calloc(1, sizeof *j);
    if (!j) {
        http_respond_error(req, 503, "out of memory");
        return;
    }
    if (m->type == CWMP_FAULT) {
        a->n.cpe_faults++;
        acs_metrics_fault(a, m->fault.code);
        s->faulted = true;
        j->finish_id = s->cur.id;
        j->finish_status = STORE_TASK_FAILED;
        j->fault_code = m->fault.code;
        acs_utf8_copy(j->fault_string, sizeof j->fault_string,
                      m->fault.string && *m->fault.string ? m->fault.string
                                                          : cwmp_fault_text(m->fault.code));
        json_t *r = acs_result_json(m);
        j->result = json_object_size(r) ? json_dumps(r, JSON_COMPACT) : NULL;
        json_decref(r);
        log_info("cwmp_task_fault", LF_S("device", s->device_id), LF_I("task", s->cur.id),
                 LF_I("code", m->fault.code), LF_S("message", j->fault_string));
    } else {
        bool later = (m->type == CWMP_DOWNLOAD_RESPONSE || m->type == CWMP_UPLOAD_RESPONSE) &&
                     m->status == 1;
        if (!later) { /* status 1: the outcome comes with TransferComplete */
            j->result = acs_result_text(m);
            j->finish_id = s->cur.id;
            j->finish_status = STORE_TASK_DONE;
        }
        if ((m->type == CWMP_GET_PARAMETER_VALUES_RESPONSE ||
             m->type == CWMP_GET_PARAMETER_NAMES_RESPONSE) &&
            copy_params(j, m, m->type == CWMP_GET_PARAMETER_VALUES_RESPONSE) != 0) {
            step_free(j);
            http_respond_error(req, 503, "out of memory");
            return;
        }
        log_info("cwmp_task_done", LF_S("device", s->device_id), LF_I("task", s->cur.id),
                 LF_S("rpc", cwmp_type_name(m->type)), LF_B("pending_transfer", later));
    }
    step(s, req, j);
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
    if (!acs_admit(a, req, c, &s))
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
    cwmp_ns_t ns = s ? s->ns : rc == CWMP_DEC_NAMESPACE ? CWMP_NS_1_2 : cwmp_decoder_ns(g_dec);
    log_warn("cwmp_bad_message", LF_S("peer", http_req_peer(req)),
             LF_S("reason", cwmp_decoder_reason(g_dec)));
    acs_respond_fault(s, req, ns, NULL, cwmp_decode_fault_code(rc, ns), cwmp_decoder_reason(g_dec));
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

void acs_cwmp_handle(http_req_t *req, void *ud)
{
    acs_t *a = ud;
    const char *path = http_req_path(req);
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
        acs_session_touch(s);
        acs_session_log(s, "cpe", "", 0);
        step_job_t *j = calloc(1, sizeof *j);
        if (!j) {
            http_respond_error(req, 503, "out of memory");
            return;
        }
        if (s->has_cur) { /* our RPC was never answered */
            log_warn("cwmp_rpc_unanswered", LF_S("device", s->device_id), LF_I("task", s->cur.id));
            j->finish_id = s->cur.id;
            j->finish_status = STORE_TASK_FAILED;
            j->fault_code = CWMP_FAULT_INTERNAL_ERROR;
            str_copy(j->fault_string, sizeof j->fault_string, "the CPE sent an empty message instead of an answer");
        }
        step(s, req, j);
        return;
    }
    const cwmp_msg_t *m;
    int rc = cwmp_decode(g_dec, body, len, &m);
    if (rc != 0) {
        decode_failed(a, s, req, rc);
        return;
    }
    if (!s) {
        start_session(a, req, m, c->user);
        return;
    }
    acs_session_touch(s);
    acs_session_log(s, "cpe", body, len);
    str_copy(s->req_id, sizeof s->req_id, m->id ? m->id : "");
    if (m->has_hold_requests)
        s->hold_requests = m->hold_requests;
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
        if (s->has_cur) {
            on_answer(s, req, m);
            return;
        }
        log_warn("cwmp_unexpected_fault", LF_S("device", s->device_id), LF_I("code", m->fault.code));
        {
            step_job_t *j = calloc(1, sizeof *j);
            if (j)
                step(s, req, j);
            else
                http_respond_error(req, 503, "out of memory");
        }
        return;
    case CWMP_UNKNOWN:
        a->n.faults++;
        acs_respond_fault(s, req, s->ns, m->id, CWMP_FAULT_METHOD_NOT_SUPPORTED, "method not supported");
        return;
    default:
        if (s->has_cur && m->type == s->expect) {
            on_answer(s, req, m);
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

void acs_cwmp_kick(acs_t *a, const char *device_id)
{
    acs_session_t *s = acs_session_by_device(a, device_id);
    if (s)
        s->pending_hint++;
}

bool acs_device_in_session(acs_t *a, const char *device_id)
{
    return acs_session_by_device(a, device_id) != NULL;
}

int acs_cwmp_start(acs_t *a, const char *listen)
{
    cwmp_decode_opts_t dopts = { .max_body = a->o.cwmp_max_body };
    g_dec = cwmp_decoder_new(&dopts);
    if (!g_dec)
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
                             .max_per_addr = (size_t)a->o.max_per_addr,
                             .exempt = a->trusted, .nexempt = a->ntrusted };
    return http_server_listen(a->cwmp, &lo);
}

void acs_cwmp_stop(acs_t *a)
{
    while (a->all) {
        acs_session_t *s = a->all;
        if (s->req) {
            http_respond_error(s->req, 503, "shutting down");
            s->req = NULL;
        }
        acs_session_end(s, "shutdown");
    }
    if (a->cwmp) {
        http_server_close(a->cwmp, NULL, NULL);
        a->cwmp = NULL;
    }
}

void acs_cwmp_free(acs_t *a)
{
    cwmp_decoder_free(g_dec);
    g_dec = NULL;
    acs_cpe_auth_free(a);
}
