/*
 * hdr: which headers the cwmp-proxy passes, drops or rewrites, decided by
 * a length-first table lookup (the forwarder runs it on every header of
 * every message), and header lines appended without printf.
 */
#ifndef OUTPOST_CWMP_PROXY_HDR_H
#define OUTPOST_CWMP_PROXY_HDR_H

#include <stdbool.h>

#include "core/buf.h"

typedef enum hdr_kind {
    HDR_OTHER = 0,
    HDR_HOP,              /* hop-by-hop: never forwarded (either way) */
    HDR_FORWARDING,       /* X-Forwarded-*, Forwarded, X-Real-IP */
    HDR_HOST,
    HDR_COOKIE,
    HDR_SET_COOKIE,
    HDR_CONTENT_ENCODING,
    HDR_SERVER_DATE,      /* Server, Date: the proxy's own go to the CPE */
} hdr_kind_t;

hdr_kind_t hdr_classify(const char *name);
/* Does the Connection header value list `name` (besides close/keep-alive)?
 * conn may be NULL. */
bool hdr_conn_lists(const char *conn, const char *name);
/* True when conn names nothing but close / keep-alive (the usual case). */
bool hdr_conn_plain(const char *conn);
/* "name: value\r\n". 0 or -ENOBUFS. */
int hdr_line(buf_t *b, const char *name, const char *value);

#endif
