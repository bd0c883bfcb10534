/*
 * acs_session: one CWMP session (Inform ... empty 204), tied to the TCP
 * connection it started on and to a cookie, so a CPE that reconnects
 * mid-session continues it. Owned by the acs_t's tables; freed when it has
 * ended and no store job still refers to it (refs).
 */
#ifndef OUTPOST_ACS_SESSION_H
#define OUTPOST_ACS_SESSION_H

#include "acs/acs_internal.h"
#include "core/buf.h"

struct acs_session {
    acs_t *a;
    acs_session_t *next_cookie, *next_device, *next_conn;
    acs_session_t *prev_all, *next_all;
    char cookie[33];
    char device_id[STORE_ID_MAX];
    net_conn_t *conn;          /* the connection it started on (compared with peer);
                                * NULL once that connection closed */
    struct acs_conn_link *link; /* that connection's pointer back here, while both live */
    bool cookieless;           /* a request came without our cookie (found by connection) */
    char peer[64];
    cwmp_ns_t ns;
    uv_timer_t *timer;         /* heap: freed in its close callback */
    int64_t started_ms, started_s;
    char events[256];
    int rpcs;
    bool hold_requests;        /* the CPE asked us not to send requests */
    bool authed;
    int pending_hint;          /* >0: there may be queued tasks */
    bool has_cur;              /* a task's RPC is out, waiting for the answer */
    store_task_t cur;          /* ... that task (params owned) */
    cwmp_type_t expect;
    http_req_t *req;           /* a request waiting for a store job */
    bool cookie_sent;
    bool faulted;              /* a fault went either way: keep the log (--session-log errors) */
    bool ended;
    int refs;                  /* store jobs in flight that point here */
    buf_t log;                 /* message log, capped */
    char req_id[64];           /* cwmp:ID of the CPE's last request, echoed */
};

acs_session_t *acs_session_new(acs_t *a, http_req_t *req);
/* Find the session of a request: cookie first, then the connection. */
acs_session_t *acs_session_find(acs_t *a, http_req_t *req);
acs_session_t *acs_session_by_device(acs_t *a, const char *device_id);
void acs_session_set_device(acs_session_t *s, const char *device_id);
void acs_session_touch(acs_session_t *s);
/* End: leave the tables, write the session row, put an unanswered
 * re-runnable task back in the queue. Safe to call twice. */
void acs_session_end(acs_session_t *s, const char *outcome);
void acs_session_unref(acs_session_t *s);
void acs_session_log(acs_session_t *s, const char *dir, const char *data, size_t len);

/* ---- shared by acs_cwmp.c and acs_inform.c ---- */
void acs_respond_xml(acs_session_t *s, http_req_t *req, const cwmp_msg_t *m);
void acs_respond_fault(acs_session_t *s, http_req_t *req, cwmp_ns_t ns, const char *id, int code,
                       const char *why);
int acs_copy_params(const cwmp_msg_t *m, bool values, store_param_t **params, char **strings,
                    size_t *n);
void acs_on_inform(acs_t *a, acs_session_t *s, http_req_t *req, const cwmp_msg_t *m);
void acs_on_transfer_complete(acs_session_t *s, http_req_t *req, const cwmp_msg_t *m);

#endif
