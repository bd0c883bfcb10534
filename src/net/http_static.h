/*
 * http_static: files embedded in the binary at build time, served with
 * validators and compression worked out in advance.
 *
 * scripts/embed-file writes one C file per input: an http_static_t (const,
 * in the binary's read-only data) with the bytes, their Content-Type, a
 * strong ETag (the SHA-256 of the bytes) and optionally a gzip copy with
 * its own ETag (another representation, so another strong validator). A
 * handler answers with http_static_serve(): 304 when If-None-Match names
 * the chosen representation's ETag (weak comparison, RFC 9110 13.1.2), the
 * gzip copy to a client whose Accept-Encoding takes gzip, the bytes
 * otherwise; HEAD as GET without the body. Nothing is allocated or copied:
 * the generated file owns the bytes for the life of the program.
 */
#ifndef OUTPOST_NET_HTTP_STATIC_H
#define OUTPOST_NET_HTTP_STATIC_H

#include <stdbool.h>
#include <stddef.h>

#include "net/http_server.h"

typedef struct http_static {
    const char *name;           /* the source file's name (for logs) */
    const char *ctype;          /* Content-Type */
    const unsigned char *data;  /* the bytes as stored */
    size_t len;
    const char *etag;           /* "\"<sha256 hex>\"" of data */
    const unsigned char *gz;    /* gzip copy; NULL: none */
    size_t gz_len;
    const char *etag_gz;        /* the gzip copy's ETag */
} http_static_t;

/* A directory of embedded files (scripts/embed-dir): the path it is served
 * at ("/app.js", "/views/x.js") and the file. */
typedef struct http_static_entry {
    const char *path;
    const http_static_t *file;
} http_static_entry_t;

/* What to answer: the representation, status and ETag, from the request's
 * If-None-Match and Accept-Encoding (either may be NULL). Pure. */
typedef struct http_static_pick {
    int status;                 /* 200 or 304 */
    bool gzip;                  /* the gzip copy (Content-Encoding: gzip) */
    const char *etag;
    const unsigned char *body;  /* NULL for 304 */
    size_t len;
} http_static_pick_t;

http_static_pick_t http_static_choose(const http_static_t *f, const char *if_none_match,
                                      const char *accept_encoding);

/* Answer req with f (status 200 or 304, ETag, Vary: Accept-Encoding when
 * there is a gzip copy). extra_headers: NULL or complete "Name: value\r\n"
 * lines sent with both (Cache-Control, Content-Security-Policy...). */
void http_static_serve(http_req_t *req, const http_static_t *f, const char *extra_headers);

/* Does an If-None-Match value name etag ("*", or a list of entity tags,
 * W/ ones included)? A malformed list matches nothing. Pure. */
bool http_etag_match(const char *if_none_match, const char *etag);
/* Does an Accept-Encoding value accept gzip (gzip or x-gzip with q > 0, or
 * "*" with q > 0 when gzip is not named)? Pure. */
bool http_accepts_gzip(const char *accept_encoding);

#endif
