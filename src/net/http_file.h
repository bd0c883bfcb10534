/*
 * http_file: answering a GET or HEAD with a file from disk, the way a
 * download client that resumes expects it.
 *
 * Validators: the caller names the file's strong ETag (e.g. its SHA-256);
 * If-None-Match naming it is a 304, If-Range not naming it makes a Range
 * ignored. Ranges: one byte range (RFC 9110 14) is a 206 with
 * Content-Range; a range starting past the end is a 416 with "bytes
 * * /SIZE"; several ranges, a unit other than bytes or a malformed value
 * are ignored (the whole file, 200), as RFC 9110 14.2 allows. HEAD is a GET
 * without the body. Every answer carries Accept-Ranges: bytes.
 *
 * The bytes are read on libuv's thread pool in 64 KiB pieces, the next one
 * only once the connection's queue drained: a download costs one piece of
 * memory and never blocks the loop. http_file_serve owns the descriptor
 * from the call on (it is closed when the answer ends or the client goes).
 */
#ifndef OUTPOST_NET_HTTP_FILE_H
#define OUTPOST_NET_HTTP_FILE_H

#include <stdint.h>
#include <uv.h>

#include "net/http_server.h"

/* A Range header value (may be NULL) against a representation of `size`
 * bytes: 1 with [*first, *last] (inclusive) for one satisfiable range; 0
 * when there is no usable Range (absent, another unit, malformed, several
 * ranges): answer the whole file; -ERANGE when the one range cannot be
 * satisfied (416). Pure: fuzzed. */
int http_range_parse(const char *value, int64_t size, int64_t *first, int64_t *last);

/* Called once the descriptor is closed, on the loop (a lock held through
 * it is released: e.g. a cache may now remove the file). */
typedef void (*http_file_done_fn)(void *ud);

/* What to answer with. fd: the file, read from offset 0, `size` bytes;
 * etag: the quoted strong ETag ("\"...\""); ctype: NULL for
 * application/octet-stream; extra_headers: NULL or complete lines; done
 * (NULL: none) runs with ud once fd is closed, whichever way the answer
 * ended (the last bytes sent, the client gone, an error, a 304 or HEAD
 * answered within the call, http_file_cancel_all). */
typedef struct http_file_opts {
    uv_file fd;
    int64_t size;
    const char *etag;
    const char *ctype;
    const char *extra_headers;
    http_file_done_fn done;
    void *ud;
} http_file_opts_t;

/* Answer req (GET or HEAD) with the file o describes (o is read during the
 * call only; o->fd is the call's from then on). */
void http_file_serve(uv_loop_t *loop, http_req_t *req, const http_file_opts_t *o);
/* Shutdown: end every answer still being sent on this loop (cut short, the
 * connection closes: a client resumes with Range), so a server's drain does
 * not wait for slow downloads. The sends are kept in one list: call both
 * functions from one thread (the daemons that serve files have one loop). */
void http_file_cancel_all(uv_loop_t *loop);

#endif
