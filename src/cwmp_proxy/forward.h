/*
 * forward: the CPE side of the cwmp-proxy, shared by forward.c (requests:
 * body pipeline, routing, the request to the ACS node) and upstream.c (the
 * connection to the ACS node and the response relayed back).
 *
 * Objects and who owns them:
 *  - fwdconn_t: one per CPE connection, the http_server's per-connection
 *    data (released with the connection). Holds the pinned backend (a
 *    reference), the session token, the device id and the keep-alive
 *    upstream connection.
 *  - upconn_t: one TCP/TLS connection to an ACS node, owned by its
 *    fwdconn_t while a CWMP session uses it; freed in its on_close. An ACS
 *    may tie session state to its connection (an Outpost ACS lets a
 *    connection that carries a session continue it without a cookie or
 *    credentials), so a connection changes hands only between sessions:
 *    after the node's 204 to a CWMP message (an empty POST, or a POST to
 *    the path of the session's Inform) ended one, and only for nodes
 *    whose reuse is on (backend_t.reuse, auto: the node says it is an
 *    Outpost ACS). Then it waits in its node's idle list (backend_t.idle,
 *    owned by the list, capped by --backend-idle-max, closed after
 *    --backend-idle-timeout) for the next session on that node.
 *  - fwd_t: one request being forwarded, owned by its fwdconn_t (cur) until
 *    its response ends or it fails; it owns the body buffers, decoders,
 *    the rewriter, and the origin the body reported until the node's
 *    answer says whether it is recorded.
 */
#ifndef OUTPOST_CWMP_PROXY_FORWARD_H
#define OUTPOST_CWMP_PROXY_FORWARD_H

#include <stdbool.h>
#include <stdint.h>

#include "codec/crurl.h"
#include "codec/zbody.h"
#include "cwmp_proxy/proxy.h"
#include "cwmp_proxy/route.h"
#include "net/conn.h"
#include "net/http_parse.h"
#include "net/http_server.h"

/* The longest ConnectionRequestURL rewritten (the rewriters' max_value),
 * so also the longest origin a request holds until the node answers. */
enum { FWD_ORIGIN_MAX = 2048 };

typedef struct fwd fwd_t;
typedef struct upconn upconn_t;

typedef struct fwdconn {
    proxy_t *px;
    backend_t *be;      /* pinned node (reference), NULL before the first request */
    char token[SESSION_TOKEN_LEN + 1];
    char device[SESSION_DEVICE_MAX];
    char cwmp_path[256]; /* path of the last Inform on this connection ("" none) */
    upconn_t *up;       /* keep-alive connection to `be`, or NULL */
    fwd_t *cur;         /* the request being forwarded */
} fwdconn_t;

struct upconn {
    proxy_t *px;
    fwdconn_t *fc;      /* owner; NULL once orphaned (closing) */
    backend_t *be;      /* reference */
    net_conn_t *nc;
    http_parser_t *parser;
    fwd_t *cur;         /* the exchange in flight */
    bool open;          /* connected (and TLS done) */
    bool broken;        /* protocol error or cut exchange: reset, never reuse */
    bool last;          /* the node announced Connection: close */
    bool reused;        /* taken from the idle list for the current exchange */
    bool rx_any;        /* bytes of the current exchange's response came */
    bool idle;          /* in its node's idle list (fc NULL) */
    upconn_t *idle_prev, *idle_next;
};

typedef enum fwd_state {
    F_BUFFERING = 0,    /* collecting the body (up to the rewrite window) */
    F_STREAMING,        /* body over the window: chunked to the node as it comes */
    F_WAITING,          /* request sent, waiting for the response head */
    F_RESPONDING,       /* relaying the response body */
} fwd_state_t;

struct fwd {
    proxy_t *px;
    fwdconn_t *fc;
    http_req_t *req;
    upconn_t *up;
    fwd_state_t state;
    route_out_t route;
    zbody_coding_t coding;  /* of the CPE's request body */
    bool reencode;          /* send a changed body in `coding` again */
    bool body_changed;      /* the node gets other bytes than the CPE sent */
    bool body_done;         /* the CPE's body is complete */
    bool body_paused;       /* we paused the CPE's body (node congested) */
    bool is_inform;
    bool empty_post;
    bool set_cookie;        /* hand our cookie to the CPE in the response */
    bool had_length;        /* the CPE's request had a body framing */
    bool fresh_conn;        /* an idle connection failed under it: open a new one */
    bool ends_session;      /* the node's 204 to a CWMP message: its session is over */
    unsigned attempts;      /* nodes tried for this request */
    uint64_t body_in;       /* body bytes received from the CPE so far */
    buf_t raw;              /* body as the CPE sent it (buffering) */
    buf_t out;              /* body for the node (buffered: whole; streaming: next chunk) */
    zbody_t *dec, *enc;
    crurl_t *rw;            /* streaming mode only: a rewriter of its own */
    /* The ConnectionRequestURL the body reported (the last one: an Inform
     * carries one) and the device it goes under. Recorded only when the
     * node accepts the request (fwd_answered): until the ACS has checked
     * the CPE, its DeviceId is only what it claims. */
    char *origin;           /* owned, at most FWD_ORIGIN_MAX bytes; NULL: none */
    char origin_device[SESSION_DEVICE_MAX];
    int status;             /* of the node's response */
    int64_t t0_us, t_sent_us;
};

/* forward.c */
void fwd_finish(fwd_t *f);                    /* response relayed: tidy up */
/* The node's response head came (f->status set): a 2xx records the origin
 * the request reported; any other status forgets it. */
void fwd_answered(fwd_t *f);
void fwd_fail(fwd_t *f, int status, const char *reason); /* before the response began */
void fwd_cut(fwd_t *f, const char *reason);   /* after it began: reset the CPE connection */
/* Point the request's callbacks away from f (f->req becomes NULL); returns
 * the request, which the caller then answers or ends. */
http_req_t *fwd_detach(fwd_t *f);
void fwd_resume_body(fwd_t *f);               /* the node drained: more body */
int fwd_send(fwd_t *f, backend_t *be);        /* start the exchange on `be` */
bool fwd_can_redispatch(const fwd_t *f);
/* A POST of the CWMP session: empty, or to the path its Inform went to (not,
 * say, a file upload, whose 204 ends nothing). */
bool fwd_is_cwmp_post(const fwd_t *f);
void fwd_redispatch(fwd_t *f, const char *why);

/* upstream.c */
upconn_t *up_open(fwdconn_t *fc, backend_t *be, int *err);
/* An idle connection to `be` for fc (LIFO), or NULL (none, or reuse off). */
upconn_t *up_take_idle(fwdconn_t *fc, backend_t *be);
/* Whether connections to `be` change hands between sessions. */
bool up_reuse_allowed(const proxy_t *px, const backend_t *be);
/* Close every idle connection to `be` (reuse turned off, node retired, stop). */
void up_idle_drain(backend_t *be);
/* Detach from the owner: close (abort when mid-exchange). */
void up_release(upconn_t *u);
/* Queue request bytes. 0 or negative errno. */
int up_write(upconn_t *u, const void *data, size_t len);
int up_writev(upconn_t *u, const uv_buf_t *b, size_t n); /* without copying what the kernel takes */
bool up_congested(const upconn_t *u);
void up_start_exchange(upconn_t *u, fwd_t *f); /* arm timers, expect a response */

#endif
