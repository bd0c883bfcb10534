/*
 * http_server: an HTTP/1.1 server on net/conn and net/http_parse.
 *
 * Keep-alive, pipelining (one request handled at a time per connection, in
 * order), chunked request and response bodies, Expect: 100-continue, limits
 * answered with a short plain-text reason: 400 malformed or smuggling, 408
 * header/body timeout, 413 body over the cap, 414 target too long, 431 header
 * block too large, 501 unknown transfer coding.
 *
 * Requests. By default the body is buffered (up to max_body_bytes) and the
 * handler runs once the whole request is in. A server may set on_head to see
 * the request after its headers: it can answer at once (e.g. 401, 413), or
 * call http_req_stream_body() to receive the body in chunks with
 * backpressure (proxies, uploads).
 *
 * Ownership. The server owns every http_req_t. A handler must end each
 * request exactly once, with http_respond*() or http_resp_begin()+..+
 * http_resp_end(), possibly later (asynchronously). If the client goes away
 * first, the on_abort callback (if set) fires; the request stays valid and
 * responding to it is a harmless no-op that releases it.
 */
#ifndef OUTPOST_NET_HTTP_SERVER_H
#define OUTPOST_NET_HTTP_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "core/buf.h"
#include "net/conn.h"
#include "net/http_parse.h"

typedef struct http_server http_server_t;
typedef struct http_req http_req_t;

typedef void (*http_handler_fn)(http_req_t *req, void *ud);

typedef struct http_server_opts {
    size_t max_header_bytes;   /* default 16 KiB -> 431 */
    size_t max_body_bytes;     /* buffered bodies; default 1 MiB -> 413 */
    int64_t header_timeout_ms; /* first byte to end of headers; default 10 s -> 408 */
    int64_t body_timeout_ms;   /* max silence while a body arrives; default 30 s -> 408 */
    int64_t idle_timeout_ms;   /* keep-alive wait for the next request; default 60 s */
    const char *server_name;   /* Server: header; default "outpost" */
    /* Optional: called after the headers, before the body. */
    void (*on_head)(http_req_t *req, void *ud);
    http_handler_fn handler;   /* called with the whole request */
    void *ud;
} http_server_opts_t;

http_server_t *http_server_new(uv_loop_t *loop, const http_server_opts_t *opts);
/* Start a listener (the server may have several). Its caps
 * (max_connections, max_per_addr, see net/conn.h) hold as given; a plain
 * TCP connection over max_per_addr is answered 503 with a reason before it
 * is closed, unless lopts->refusal says otherwise. */
int http_server_listen(http_server_t *s, const net_listen_opts_t *lopts);
/* Address of the first listener ("127.0.0.1:8080"), after port 0 was resolved. */
const char *http_server_addr(const http_server_t *s);
/* Stop accepting, close idle connections, let requests in flight finish
 * (their connections close after the response), then free the server and
 * call done (may be NULL). Safe to call once. */
void http_server_close(http_server_t *s, void (*done)(void *ud), void *ud);
/* Adopt an already-accepted connection (e.g. after protocol sniffing). */
void http_server_adopt(http_server_t *s, net_conn_t *c);
/* Connections currently open / requests served (for /metrics). */
size_t http_server_connections(const http_server_t *s);
uint64_t http_server_requests(const http_server_t *s);
/* The listeners' numbers summed (caps, pauses, refusals; see net/conn.h);
 * zeroes once the server is closing. */
void http_server_listen_stats(const http_server_t *s, net_listener_stats_t *st);

/* ---- the request ------------------------------------------------------ */

const char *http_req_method(const http_req_t *r);  /* "GET" */
const char *http_req_target(const http_req_t *r);  /* raw "/a/b?x=1" */
const char *http_req_path(const http_req_t *r);    /* "/a/b" (still percent-encoded) */
const char *http_req_query(const http_req_t *r);   /* "x=1" or "" */
/* Decoded value of a query parameter (first occurrence): 0, -ENOENT, -EINVAL. */
int http_req_query_param(const http_req_t *r, const char *name, buf_t *out);
const char *http_req_header(const http_req_t *r, const char *name);
const http_msg_t *http_req_msg(const http_req_t *r);
const char *http_req_body(const http_req_t *r, size_t *len); /* buffered body ("" when none) */
const char *http_req_peer(const http_req_t *r);      /* "1.2.3.4:5678" */
const char *http_req_peer_host(const http_req_t *r); /* "1.2.3.4" */
const tls_peer_t *http_req_tls_peer(const http_req_t *r);
bool http_req_is_tls(const http_req_t *r);
/* The client's address: the TCP peer, unless the peer is one of the trusted
 * proxies, then the nearest address in X-Forwarded-For (or Forwarded: for=)
 * that is not a trusted proxy itself. Never trusts the headers of an
 * untrusted peer. Writes an IP literal into out and returns out. */
const char *http_req_client_ip(const http_req_t *r, const net_cidr_t *trusted, size_t ntrusted,
                               char *out, size_t outlen);
net_conn_t *http_req_conn(const http_req_t *r);
/* Router captures ({id} in a pattern), percent-decoded; NULL when absent. */
const char *http_req_param(const http_req_t *r, const char *name);
int http_req_set_param(http_req_t *r, const char *name, const char *value, size_t len);
/* Per-connection state kept across a connection's requests (a proxy's
 * pinned upstream, say), set from any of its requests. `release` (may be
 * NULL) runs once when the connection closes, after on_abort of a request
 * in flight, or when the connection is taken; setting new data releases the
 * old. NULL when unset or once the connection is gone. */
void http_req_set_conn_data(http_req_t *r, void *data, void (*release)(void *data));
void *http_req_conn_data(const http_req_t *r);
/* What http_router granted this request once it checked its credentials
 * (an http_access_t), -1 before. */
int http_req_access(const http_req_t *r);
void http_req_set_access(http_req_t *r, int access);
/* A handler's per-request pointer. */
void *http_req_data(const http_req_t *r);
void http_req_set_data(http_req_t *r, void *data);
/* Called if the connection dies before the response ends. */
void http_req_on_abort(http_req_t *r, void (*cb)(http_req_t *r, void *ud), void *ud);
/* The client's EOF ends this request as if the connection died (on_abort).
 * For answers that only end when the client leaves (an event stream): by
 * default an EOF is taken as a half-close whose answer is still wanted, and
 * a client that went away is then noticed only at a later write. */
void http_req_end_on_eof(http_req_t *r);
bool http_req_aborted(const http_req_t *r);

/* From on_head: a lower cap for this request's buffered body (a session's
 * first message, say). It holds for a Content-Length (413 at once) and for
 * a chunked body as it arrives (413 once the decoded bytes pass it), with
 * `reason` (static; NULL: the generic one) as the 413's text. */
void http_req_set_body_max(http_req_t *r, size_t max, const char *reason);
/* From on_head: receive the body in pieces instead of buffering it.
 * on_body returns 0, or 1 to pause the body (resume with
 * http_req_resume_body()); on_end gets 0 or a negative error (client gone,
 * timeout). The handler is not called for such a request. */
typedef int (*http_body_fn)(http_req_t *r, const char *data, size_t len, void *ud);
typedef void (*http_body_end_fn)(http_req_t *r, int err, void *ud);
void http_req_stream_body(http_req_t *r, http_body_fn on_body, http_body_end_fn on_end, void *ud);
void http_req_resume_body(http_req_t *r);

/* ---- the response ----------------------------------------------------- */

/* extra_headers: NULL or complete "Name: value\r\n" lines. ctype may be NULL. */
void http_respond(http_req_t *r, int status, const char *ctype, const void *body, size_t len);
void http_respond_hdrs(http_req_t *r, int status, const char *extra_headers, const char *ctype,
                       const void *body, size_t len);
/* Into hdr: the header line "Retry-After: S\r\n" for a wait of ms
 * milliseconds, in whole seconds rounded up (at least 1: a client told 0
 * would retry at once). HTTP_RETRY_AFTER_MAX bytes hold any. */
enum { HTTP_RETRY_AFTER_MAX = 40 };
void http_retry_after(char hdr[HTTP_RETRY_AFTER_MAX], int64_t ms);
/* Use this reason phrase on the status line instead of the standard one
 * (a proxy relaying another server's); call before responding. Anything but
 * printable ASCII is dropped, and it is cut to 63 bytes. */
void http_resp_set_reason(http_req_t *r, const char *reason);
/* A one-line text/plain body "<reason>\n"; logs nothing (the caller logs). */
void http_respond_error(http_req_t *r, int status, const char *reason);

/* Streaming: content_length -1 means chunked (HTTP/1.1) or close-delimited (1.0). */
int http_resp_begin(http_req_t *r, int status, const char *extra_headers, const char *ctype,
                    int64_t content_length);
int http_resp_write(http_req_t *r, const void *data, size_t len);
bool http_resp_congested(const http_req_t *r);
/* Called once when the response queue drains below its low-water mark. */
void http_resp_on_drain(http_req_t *r, void (*cb)(http_req_t *r, void *ud), void *ud);
void http_resp_end(http_req_t *r);
/* Ask for the connection to close after this response. */
void http_resp_close_after(http_req_t *r);

/* WebSocket and other upgrades: take the connection away from the server.
 * Bytes already received after the request head are appended to
 * `leftover`. The request is released; the caller owns the connection and
 * must set its callbacks. NULL if the request cannot be upgraded. */
net_conn_t *http_req_take_conn(http_req_t *r, buf_t *leftover);

#endif
