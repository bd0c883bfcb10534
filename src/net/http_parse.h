/*
 * http_parse: an HTTP/1.1 message parser (llhttp underneath) with caps.
 *
 * One parser per connection, for requests or responses. It collects the
 * start line and headers into a bounded store (max_header_bytes, 16 KiB by
 * default, answered by servers with 431) and hands body bytes to on_body as
 * they arrive, chunked encoding already removed. Both Content-Length and
 * Transfer-Encoding in one message is an error (request smuggling), as are
 * duplicate differing Content-Lengths and, in a request, obsolete line
 * folding (obs-fold, RFC 9112 5.2: servers answer 400). In a response a fold
 * becomes one SP, as a user agent must make it, unless the parser is a
 * proxy's that refuses it (refuse_fold).
 *
 * The http_msg_t and its strings belong to the parser and stay valid until
 * the next message begins (http_parser_next()) or the parser is freed.
 */
#ifndef OUTPOST_NET_HTTP_PARSE_H
#define OUTPOST_NET_HTTP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

enum { HTTP_MAX_HEADERS = 100 };

typedef struct http_hdr_ref {
    uint32_t name_off, name_len;
    uint32_t value_off, value_len;
} http_hdr_ref_t;

typedef struct http_msg {
    bool is_request;
    char method[16];        /* requests: "GET" */
    int status;             /* responses */
    int http_major, http_minor;
    const char *target;     /* requests: raw request-target, NUL-terminated */
    const char *reason;     /* responses: reason phrase */
    int64_t content_length; /* -1 when absent */
    bool chunked;
    bool keep_alive;        /* after this message (HTTP/1.0 rules included) */
    bool upgrade;           /* Connection: upgrade + Upgrade: header */
    bool expect_continue;   /* Expect: 100-continue */
    size_t nheaders;
    http_hdr_ref_t hdr[HTTP_MAX_HEADERS];
    buf_t store;            /* capped: start line + header bytes, NUL-separated */
} http_msg_t;

/* Header lookup (ASCII case-insensitive); NULL when absent. The returned
 * value is NUL-terminated. */
const char *http_msg_header(const http_msg_t *m, const char *name);
/* i-th header, 0 <= i < nheaders. */
void http_msg_header_at(const http_msg_t *m, size_t i, const char **name, const char **value);
/* Does a comma-separated header (Connection, TE...) contain `token`? */
bool http_msg_header_has_token(const http_msg_t *m, const char *name, const char *token);

typedef enum http_parse_err {
    HTTP_PARSE_OK = 0,
    HTTP_PARSE_PAUSED = 1,          /* a callback asked to stop; resume with http_parser_resume() */
    HTTP_PARSE_ERR_SYNTAX = -1,     /* 400 */
    HTTP_PARSE_ERR_HEADERS_TOO_BIG = -2, /* 431 */
    HTTP_PARSE_ERR_SMUGGLING = -3,  /* 400: Content-Length with Transfer-Encoding */
    HTTP_PARSE_ERR_URI_TOO_LONG = -4, /* 414 */
    HTTP_PARSE_ERR_CALLBACK = -5,   /* a callback refused the message */
    HTTP_PARSE_ERR_UNSUPPORTED = -6, /* 501: unknown transfer coding */
} http_parse_err_t;

typedef struct http_parser http_parser_t;

typedef struct http_parser_cbs {
    /* Headers complete. Return 0 to go on, 1 to pause the parser (the body
     * waits), -1 to fail with HTTP_PARSE_ERR_CALLBACK. */
    int (*on_headers)(http_parser_t *p, http_msg_t *m);
    /* Body bytes (de-chunked). Return 0, 1 (pause after this chunk) or -1. */
    int (*on_body)(http_parser_t *p, const char *data, size_t len);
    /* Message complete. Return 0 or 1 (pause: the next message waits). */
    int (*on_complete)(http_parser_t *p, http_msg_t *m);
} http_parser_cbs_t;

typedef struct http_parser_opts {
    bool response;          /* parse responses instead of requests */
    size_t max_header_bytes; /* default 16 KiB */
    size_t max_target;      /* default 8 KiB */
    /* Responses: refuse obs-fold (a proxy's choice) instead of replacing it
     * with one SP (what a user agent must do). Requests always refuse it. */
    bool refuse_fold;
} http_parser_opts_t;

http_parser_t *http_parser_new(const http_parser_opts_t *opts, const http_parser_cbs_t *cbs, void *ud);
void http_parser_free(http_parser_t *p);
void *http_parser_data(const http_parser_t *p);
/* The message being parsed or just completed. */
const http_msg_t *http_parser_msg(const http_parser_t *p);
/* Responses to HEAD (and 1xx/204/304) have no body: tell the parser. */
void http_parser_expect_no_body(http_parser_t *p);

/* Feed bytes. *consumed says how many were used: all of them unless the
 * parser paused or failed. Returns an http_parse_err_t. After
 * HTTP_PARSE_PAUSED, call http_parser_resume() and feed the rest again. */
int http_parser_feed(http_parser_t *p, const char *data, size_t len, size_t *consumed);
void http_parser_resume(http_parser_t *p);
/* The connection ended: completes a response delimited by EOF; error if a
 * message was cut short. */
int http_parser_finish(http_parser_t *p);
/* A short human reason for the last error ("invalid header token"...). */
const char *http_parser_reason(const http_parser_t *p);
/* True between the first byte of a message and its completion. */
bool http_parser_in_message(const http_parser_t *p);
/* After an upgrade request/101 response: stop parsing; the rest is not HTTP. */
bool http_parser_upgraded(const http_parser_t *p);

/* Standard reason phrase ("Not Found"); "Unknown" otherwise. */
const char *http_status_reason(int status);

#endif
