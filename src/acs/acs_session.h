/*
 * acs_session: one CWMP session (Inform ... empty 204), tied to the TCP
 * connection that carries it and to a cookie, so a CPE that reconnects
 * mid-session continues it. Owned by the acs_t's tables (by cookie, by
 * device: core/hmap, keys borrowed from the session); freed when it has
 * ended and no callback still refers to it (refs). What the session does
 * with its device (tasks, provisioning) goes through its acs_work_t
 * (acs_work.h), made at its Inform and ended with it.
 *
 * Identity: a session belongs to the user that authenticated its Inform
 * (`user`, "" without CPE authentication) and to the DeviceId of that
 * Inform. The connection that carries it is the proof: its requests need no
 * credentials. A request on any other connection, cookie or not, must
 * authenticate again as the same user, and then that connection carries the
 * session (acs_session_adopt).
 */
#ifndef OUTPOST_ACS_SESSION_H
#define OUTPOST_ACS_SESSION_H

#include "acs/acs_internal.h"
#include "acs/acs_work.h"
#include "core/buf.h"

/* A session's SOAP log (--session-log): held in memory up to
 * ACS_SESSION_LOG_HELD, the oldest messages dropped whole; stored, its
 * secrets hidden (acs_soap_log_hide), as its last ACS_SESSION_LOG_KEPT
 * bytes from a message's start (the store's own cap, 64 KiB, then cuts
 * nothing). */
enum { ACS_SESSION_LOG_HELD = 256 * 1024, ACS_SESSION_LOG_KEPT = 64 * 1024 };

/* A CWMP connection's own state (its http conn data), freed with the
 * connection: the session it carries, and who the request being handled
 * authenticated as (set in on_head, read by the handler: one request at a
 * time per connection). */
typedef struct acs_conn {
    acs_session_t *s;          /* the session this connection is the proof of, or NULL */
    bool by_conn;              /* the current request named no live session: s is its own */
    bool authed;               /* the current request authenticated... */
    char user[ACS_USER_MAX];   /* ...as this user */
} acs_conn_t;

struct acs_session {
    acs_t *a;
    char cookie[33];
    char device_id[STORE_ID_MAX];
    char user[ACS_USER_MAX];   /* who authenticated its Inform ("" without CPE authentication) */
    acs_conn_t *cn;            /* the connection carrying it; NULL once that closed */
    bool cookieless;           /* a request came without our cookie (found by connection) */
    bool cookie_back;          /* a request came with it: its CPE keeps cookies (conn_request_is_its) */
    char client_ip[64];        /* the Inform's CPE address (as a --trusted-proxy forwards it) */
    bool by_device;            /* in a->sessions_by_device */
    char peer[64];
    cwmp_ns_t ns;
    uv_timer_t *timer;         /* heap: freed in its close callback */
    uint64_t idle_deadline;    /* loop time the session times out at (acs_session_touch) */
    int64_t started_ms, started_s;
    char events[256];
    int rpcs;
    char rpc_list[512];        /* the RPCs sent, in order (store_session_t.rpc_list) */
    size_t rpc_len;
    bool hold_requests;        /* the CPE asked us not to send requests */
    acs_work_t *work;          /* its work, from its Inform until it ends */
    cwmp_type_t expect;        /* the answer our RPC asks for; CWMP_NONE: no RPC out */
    http_req_t *req;           /* a request waiting for a store job */
    bool cookie_sent;
    bool faulted;              /* a fault went either way: keep the log (--session-log errors) */
    bool ended;
    int refs;                  /* callbacks in flight that point here */
    buf_t log;                 /* message log, capped */
    char req_id[64];           /* cwmp:ID of the CPE's last request, echoed */
};

/* The request's connection state, made on first use; NULL without memory
 * or once the connection is gone. */
acs_conn_t *acs_conn_get(http_req_t *req);
/* A session for the request's connection, belonging to `user`. */
acs_session_t *acs_session_new(acs_t *a, http_req_t *req, const char *user);
/* Find the session of a request: cookie first, then the connection (behind
 * a --trusted-proxy only for the CPE that sent the session's Inform and has
 * not sent a cookie). *own: the request came on the connection that carries
 * it. */
acs_session_t *acs_session_find(acs_t *a, http_req_t *req, bool *own);
/* The request's connection carries the session from now on (its user
 * authenticated there again). */
void acs_session_adopt(acs_session_t *s, http_req_t *req);
acs_session_t *acs_session_by_device(acs_t *a, const char *device_id);
/* The session is the device's (found by acs_session_by_device): 0 or -ENOMEM. */
int acs_session_set_device(acs_session_t *s, const char *device_id);
void acs_session_touch(acs_session_t *s);
/* End: leave the tables, end its work (acs_work_end: an unanswered
 * re-runnable task goes back to the queue), write the session row. Safe to
 * call twice. */
void acs_session_end(acs_session_t *s, const char *outcome);
/* The same for a session that ends by answering req, its last request, with
 * the empty 204 (acs_respond_end): the session ends now, but req is answered
 * only once the row committed (a session is stored before its 204), by the
 * row's store job, which holds req and not the session (the session may be
 * freed first; once it ended nothing else answers req). When the row cannot
 * be stored (-EAGAIN queue full, -ENOMEM, or the job failed: -EIO,
 * -ENOTCONN) req gets a 503 with Retry-After instead
 * (acs_respond_stored_end). */
void acs_session_end_answer(acs_session_t *s, http_req_t *req, const char *outcome);
void acs_session_unref(acs_session_t *s);
void acs_session_log(acs_session_t *s, const char *dir, const char *data, size_t len);
/* Note an RPC sent (name), or the CPE's fault answering the last one
 * (name NULL, fault its code), in the session's RPC list (capped: a full
 * list ends with "..."); acs_session_note_cpe: a request of the CPE's own
 * (TransferComplete...), noted "cpe:Name". */
void acs_session_note_rpc(acs_session_t *s, const char *name, int fault);
void acs_session_note_cpe(acs_session_t *s, const char *name);

/* ---- acs_creds.c: who may speak ---- */
/* Whether the request may go on, and with which session (*sp; NULL for
 * none). A request on the connection that carries its session needs no
 * credentials; any other authenticates (once: on_head's verdict stays in c
 * for the handler) and continues a session only as the user that started
 * it. False once answered (401, 429). */
bool acs_admit(acs_t *a, http_req_t *req, acs_conn_t *c, acs_session_t **sp);
/* The request authenticated as a CPE (once: the verdict stays on c for the
 * rest of this request, c->user says who); false once answered (401, 429). */
bool acs_cpe_authenticate(acs_t *a, http_req_t *req, acs_conn_t *c);
/* `user` authenticated but may not speak for `device`: 401, logged once
 * (cwmp_identity_mismatch), counted against the address. */
void acs_identity_refused(acs_t *a, http_req_t *req, const char *user, const char *device,
                          const char *what);

/* ---- acs_reply.c: the session's answers ---- */
/* An encoded message (200 text/xml): the session's cookie on its first
 * answer, the message in its log. s may be NULL (a refused Inform). */
void acs_respond_encoded(acs_session_t *s, http_req_t *req, const buf_t *xml);
/* Encode and answer m; a message the encoder refuses is a 500 (logged). */
void acs_respond_xml(acs_session_t *s, http_req_t *req, const cwmp_msg_t *m);
void acs_respond_fault(acs_session_t *s, http_req_t *req, cwmp_ns_t ns, const char *id, int code,
                       const char *why);
/* The session's end, answered with the empty 204 once its row is stored
 * (acs_session_end_answer). */
void acs_respond_end(acs_session_t *s, http_req_t *req, const char *outcome);
/* The answer to a session's last request once its row's store job is over
 * (rc: the job's result): 204, or 503 + Retry-After (acs_cwmp_store_error,
 * logged as cwmp_session_not_stored) when the row could not be stored. */
void acs_respond_stored_end(http_req_t *req, const char *device, int rc);

/* ---- acs_inform.c: the CPE's requests that need the store ---- */
/* The device id of an Inform's DeviceId (store_device_id); -EINVAL when it
 * has no OUI or serial number or is too long. */
int acs_inform_device_id(const cwmp_msg_t *m, char *id, size_t idlen);
void acs_on_inform(acs_t *a, acs_session_t *s, http_req_t *req, const cwmp_msg_t *m);
void acs_on_transfer_complete(acs_session_t *s, http_req_t *req, const cwmp_msg_t *m);

#endif
