/*
 * acs_reply: how a CWMP session answers its CPE (acs_session.h): encoded
 * messages with the session's cookie on its first answer and a copy in its
 * log, faults, and the empty 204 that ends it, sent only once the session's
 * row is stored. The one place that writes Set-Cookie.
 */
#include <errno.h>
#include <stdio.h>

#include "acs/acs_session.h"
#include "core/log.h"

void acs_respond_encoded(acs_session_t *s, http_req_t *req, const buf_t *xml)
{
    char hdr[128] = "";
    if (s && !s->cookie_sent) {
        snprintf(hdr, sizeof hdr, "Set-Cookie: acs_session=%s; Path=/; HttpOnly\r\n", s->cookie);
        s->cookie_sent = true;
    }
    if (s)
        acs_session_log(s, "acs", xml->data, xml->len);
    http_respond_hdrs(req, 200, hdr[0] ? hdr : NULL, "text/xml; charset=\"utf-8\"", xml->data,
                      xml->len);
}

void acs_respond_xml(acs_session_t *s, http_req_t *req, const cwmp_msg_t *m)
{
    buf_t out = BUF_INIT(64 * 1024 * 1024);
    int rc = cwmp_encode(&out, m);
    if (rc != 0) {
        log_error("cwmp_encode_failed", LF_S("type", cwmp_type_name(m->type)), LF_ERR(rc),
                  LF_S("device", s ? s->device_id : "-"));
        http_respond_error(req, 500, "cannot encode the message");
    } else {
        acs_respond_encoded(s, req, &out);
    }
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

void acs_respond_end(acs_session_t *s, http_req_t *req, const char *outcome)
{
    /* "A session is stored before its 204": the row's store job answers
     * (acs_respond_stored_end), after its commit. */
    acs_session_end_answer(s, req, outcome);
}

void acs_respond_stored_end(http_req_t *req, const char *device, int rc)
{
    if (rc >= 0) {
        http_respond(req, 204, NULL, NULL, 0);
        return;
    }
    /* Not 204: the CPE would take its session for recorded. A 503 makes it
     * count the session as failed and come back (Retry-After). */
    log_warn("cwmp_session_not_stored", LF_S("device", device[0] ? device : "-"), LF_ERR(rc),
             LF_S("reason", rc == -EAGAIN   ? "store busy"
                            : rc == -ENOMEM ? "out of memory"
                                            : "the store could not write the session"));
    acs_cwmp_store_error(req, rc);
}
