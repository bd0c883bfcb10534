/*
 * http_client: outbound HTTP/1.1 requests with a keep-alive pool.
 *
 * One http_client_t per daemon (or per upstream); it owns its pooled
 * connections. A request is a method, an absolute URL, extra header lines
 * and an optional body; the answer arrives in one callback with the status,
 * headers and the whole body (capped by max_response_bytes), or with a
 * negative error and no response (connect failure, TLS failure, timeout,
 * malformed or over-long response). Idle connections are reused per
 * scheme://host:port and closed after idle_timeout_ms.
 *
 * A request in flight can be cancelled; its callback is then not called.
 * The response passed to the callback is only valid during the call.
 */
#ifndef OUTPOST_NET_HTTP_CLIENT_H
#define OUTPOST_NET_HTTP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "net/http_parse.h"
#include "net/tls.h"

typedef struct http_client http_client_t;
typedef struct http_call http_call_t;

typedef struct http_client_opts {
    tls_ctx_t *tls;              /* client context for https (NULL: https refused) */
    int64_t connect_timeout_ms;  /* default 5 s */
    int64_t request_timeout_ms;  /* whole exchange; default 30 s */
    size_t max_response_bytes;   /* default 16 MiB */
    size_t max_idle_per_host;    /* default 8 */
    int64_t idle_timeout_ms;     /* default 30 s */
    const char *user_agent;      /* default "outpost/VERSION" */
} http_client_opts_t;

typedef struct http_response {
    int status;
    const http_msg_t *msg;       /* headers: http_msg_header(resp->msg, "Name") */
    const char *body;
    size_t body_len;
} http_response_t;

/* err: 0 with resp, or negative (-ETIMEDOUT, -ECONNREFUSED, -EPROTO, -ENOBUFS...) and resp NULL. */
typedef void (*http_client_cb)(int err, const http_response_t *resp, void *ud);

typedef struct http_request_spec {
    const char *method;          /* "GET" */
    const char *url;             /* absolute http(s) URL */
    const char *headers;         /* NULL or "Name: value\r\n" lines (no Host/Content-Length);
                                  * a User-Agent here replaces the client's */
    const void *body;
    size_t body_len;
    int64_t timeout_ms;          /* 0 = the client's request_timeout_ms */
    bool no_reuse;               /* use a fresh connection and close it after */
} http_request_spec_t;

http_client_t *http_client_new(uv_loop_t *loop, const http_client_opts_t *opts);
/* Cancel everything (no callbacks) and free the pool asynchronously. */
void http_client_free(http_client_t *c);
/* NULL if the request cannot start (bad URL, https without TLS, no memory,
 * no connection attempt possible): then the callback is not called and *err
 * says why. Otherwise the callback runs exactly once, never before this
 * returns. */
http_call_t *http_client_request(http_client_t *c, const http_request_spec_t *spec,
                                 http_client_cb cb, void *ud, int *err);
void http_call_cancel(http_call_t *call);

#endif
