/*
 * http_server_int: the HTTP server's internals shared by its two files,
 * http_server.c (connections, parsing, the server) and http_response.c
 * (requests as handlers see them, and responses). Not for other modules.
 */
#ifndef OUTPOST_NET_HTTP_SERVER_INT_H
#define OUTPOST_NET_HTTP_SERVER_INT_H

#include "net/http_server.h"

enum { MAX_PARAMS = 8, INBUF_MAX = 256 * 1024, SMALL_DISCARD = 64 * 1024 };
/* After an error answered before the request was read, keep reading (and
 * dropping) for a while so the client sees the answer instead of a reset. */
enum { LINGER_MS = 2000, LINGER_MAX = 4 * 1024 * 1024 };
enum { NO_LENGTH = -2 }; /* write_head: a response that has no body at all */

typedef enum phase { PH_IDLE, PH_HEAD, PH_BODY, PH_HANDLING } phase_t;
typedef enum event { EV_NONE, EV_HEADERS, EV_BODY_PAUSED, EV_COMPLETE } event_t;

typedef struct http_sconn http_sconn_t;

struct http_server {
    uv_loop_t *loop;
    http_server_opts_t o;
    net_listener_t *listeners[4];
    size_t nlisteners;
    http_sconn_t *conns; /* doubly linked */
    size_t nconns;
    uint64_t nrequests;
    bool closing;
    void (*done)(void *ud);
    void *done_ud;
};

struct http_sconn {
    http_server_t *srv;
    net_conn_t *conn;
    http_parser_t *parser;
    http_req_t *req;      /* the request being read or handled */
    buf_t inbuf;          /* unparsed bytes while the parser waits */
    const char *cur;      /* unparsed rest of the chunk being fed (for take_conn) */
    size_t cur_len;
    http_sconn_t *prev, *next;
    phase_t phase;
    event_t event;
    int feeding;          /* depth of sc_feed on the stack */
    size_t lingered;      /* bytes discarded while lingering */
    bool close_after, body_paused, taken, gone, lingering;
    bool resumed;         /* body resumed: feed once even with no bytes */
    void *conn_data;      /* http_req_set_conn_data */
    void (*conn_release)(void *data);
};

typedef struct param {
    char name[32];
    char *value;
} param_t;

struct http_req {
    http_server_t *srv;
    http_sconn_t *sc;          /* NULL once the connection is gone */
    http_parser_t *own_parser; /* kept alive for msg when the connection died first */
    const http_msg_t *msg;
    buf_t body;
    char *path;                /* target up to '?' */
    const char *query;
    param_t params[MAX_PARAMS];
    size_t nparams;
    void *data;
    void (*on_abort)(http_req_t *r, void *ud);
    void *abort_ud;
    http_body_fn on_body;
    http_body_end_fn on_body_end;
    void *body_ud;
    void (*on_drain)(http_req_t *r, void *ud);
    void *drain_ud;
    char reason[64];           /* reason phrase of the response; "" = the standard one */
    int64_t resp_left;         /* Content-Length bytes still to write, -1 = chunked/close */
    int access;                /* what the router granted; -1 = not decided yet */
    const char *too_large;     /* the 413's reason (static); NULL: the generic one */
    bool head, complete, ended, started, chunked, aborted, streaming, discard, body_ended;
    bool end_on_eof;           /* the client's EOF ends it (http_req_end_on_eof) */
};

/* http_response.c -> http_server.c: a response ended and its request was
 * fully read (next request or close); or the connection must linger. */
void http_sconn_next(http_sconn_t *sc);
void http_sconn_linger(http_sconn_t *sc);
/* http_server.c -> http_response.c */
void http_req_release(http_req_t *r);
const char *http_date(void);

#endif
