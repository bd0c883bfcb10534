/*
 * http_file: a file from disk as an HTTP answer, with ETag, one Range and
 * HEAD (see http_file.h).
 */
#include "net/http_file.h"

#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/log.h"
#include "net/http_static.h"

enum { PIECE = 64 * 1024 };

/* ---- Range ------------------------------------------------------------------------- */

static const char *ows(const char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    return s;
}

/* Digits into *out (at most 18: no overflow); the end, or NULL for none. */
static const char *num(const char *s, int64_t *out)
{
    int64_t v = 0;
    size_t n = 0;
    while (*s >= '0' && *s <= '9') {
        if (++n > 18)
            return NULL;
        v = v * 10 + (*s++ - '0');
    }
    if (!n)
        return NULL;
    *out = v;
    return s;
}

int http_range_parse(const char *v, int64_t size, int64_t *first, int64_t *last)
{
    if (!v)
        return 0;
    v = ows(v);
    if (strncasecmp(v, "bytes", 5) != 0)
        return 0;
    v = ows(v + 5);
    if (*v++ != '=')
        return 0;
    v = ows(v);
    int64_t a = -1, b = -1;
    if (*v == '-') { /* a suffix: the last N bytes */
        if (!(v = num(v + 1, &b)))
            return 0;
    } else {
        if (!(v = num(v, &a)) || *v++ != '-')
            return 0;
        if (*v >= '0' && *v <= '9' && !(v = num(v, &b)))
            return 0;
        if (b >= 0 && b < a)
            return 0; /* invalid: the header is ignored */
    }
    v = ows(v);
    if (*v) /* several ranges (or trailing junk): the whole file */
        return 0;
    if (a < 0) { /* suffix */
        if (b == 0 || size == 0)
            return -ERANGE;
        *first = b >= size ? 0 : size - b;
        *last = size - 1;
        return 1;
    }
    if (a >= size)
        return -ERANGE;
    *first = a;
    *last = b < 0 || b >= size ? size - 1 : b;
    return 1;
}

/* ---- serving ----------------------------------------------------------------------- */

typedef struct file_send {
    uv_loop_t *loop;
    http_req_t *req;
    uv_file fd;
    int64_t off, left;
    uv_fs_t fs;
    bool reading, aborted;
    http_file_done_fn done;
    void *done_ud;
    struct file_send *prev, *next; /* sends in progress (http_file_cancel_all) */
    char buf[PIECE];
} file_send_t;

static file_send_t *sending;

static void close_fd(uv_file fd, http_file_done_fn done, void *ud)
{
    uv_fs_t c;
    uv_fs_close(NULL, &c, fd, NULL); /* a close of a regular file does not block */
    uv_fs_req_cleanup(&c);
    if (done)
        done(ud);
}

static void send_free(file_send_t *f)
{
    if (f->prev)
        f->prev->next = f->next;
    else if (sending == f)
        sending = f->next;
    if (f->next)
        f->next->prev = f->prev;
    http_file_done_fn done = f->done;
    void *ud = f->done_ud;
    uv_file fd = f->fd;
    free(f);
    close_fd(fd, done, ud);
}

static void send_end(file_send_t *f, bool short_body)
{
    if (short_body)
        http_resp_close_after(f->req);
    http_resp_end(f->req);
    send_free(f);
}

static void read_next(file_send_t *f);

static void on_drained(http_req_t *r, void *ud)
{
    (void)r;
    file_send_t *f = ud;
    http_resp_on_drain(f->req, NULL, NULL);
    read_next(f);
}

static void on_read(uv_fs_t *fs)
{
    file_send_t *f = fs->data;
    ssize_t n = fs->result;
    uv_fs_req_cleanup(fs);
    f->reading = false;
    if (f->aborted) {
        send_end(f, true);
        return;
    }
    if (n <= 0) { /* the file shrank or cannot be read: the client sees a short body */
        log_warn("http_file_read", LF_S("path", http_req_path(f->req)),
                 LF_S("reason", n < 0 ? uv_strerror((int)n) : "file shorter than announced"));
        send_end(f, true);
        return;
    }
    if (n > f->left)
        n = (ssize_t)f->left;
    f->off += n;
    f->left -= n;
    if (http_resp_write(f->req, f->buf, (size_t)n) != 0) {
        send_end(f, true);
        return;
    }
    if (!f->left) {
        send_end(f, false);
        return;
    }
    if (http_resp_congested(f->req))
        http_resp_on_drain(f->req, on_drained, f);
    else
        read_next(f);
}

static void read_next(file_send_t *f)
{
    uv_buf_t b = uv_buf_init(f->buf, (unsigned)(f->left < PIECE ? f->left : PIECE));
    f->fs.data = f;
    f->reading = true;
    int rc = uv_fs_read(f->loop, &f->fs, f->fd, &b, 1, f->off, on_read);
    if (rc < 0) {
        f->reading = false;
        send_end(f, true);
    }
}

static void on_abort(http_req_t *r, void *ud)
{
    (void)r;
    file_send_t *f = ud;
    if (f->reading) {
        f->aborted = true; /* on_read finishes */
        return;
    }
    send_end(f, true); /* waiting for a drain that will not come */
}

void http_file_serve(uv_loop_t *loop, http_req_t *req, const http_file_opts_t *o)
{
    uv_file fd = o->fd;
    int64_t size = o->size;
    const char *etag = o->etag, *ctype = o->ctype, *extra_headers = o->extra_headers;
    http_file_done_fn done = o->done;
    void *ud = o->ud;
    char hdr[1024];
    const char *inm = http_req_header(req, "If-None-Match");
    int n = snprintf(hdr, sizeof hdr, "Accept-Ranges: bytes\r\nETag: %s\r\n%s", etag,
                     extra_headers ? extra_headers : "");
    if (n < 0 || (size_t)n >= sizeof hdr) {
        close_fd(fd, done, ud);
        http_respond_error(req, 500, "headers too long");
        return;
    }
    if (!ctype)
        ctype = "application/octet-stream";
    int status = 200;
    int64_t first = 0, last = size - 1;
    if (inm && http_etag_match(inm, etag)) {
        status = 304;
    } else {
        const char *ifr = http_req_header(req, "If-Range");
        /* If-Range with another validator (or a date: we keep no dates): the whole file */
        int rr = ifr && strcmp(ifr, etag) != 0
                     ? 0
                     : http_range_parse(http_req_header(req, "Range"), size, &first, &last);
        if (rr == -ERANGE) {
            snprintf(hdr + n, sizeof hdr - (size_t)n, "Content-Range: bytes */%" PRId64 "\r\n", size);
            close_fd(fd, done, ud);
            http_respond_hdrs(req, 416, hdr, "text/plain", "range not satisfiable\n", 22);
            return;
        }
        if (rr == 1) {
            status = 206;
            snprintf(hdr + n, sizeof hdr - (size_t)n,
                     "Content-Range: bytes %" PRId64 "-%" PRId64 "/%" PRId64 "\r\n", first, last, size);
        } else {
            first = 0;
            last = size - 1;
        }
    }
    int64_t len = status == 304 ? 0 : last - first + 1;
    bool head = strcmp(http_req_method(req), "HEAD") == 0;
    file_send_t *f = status == 304 || len == 0 || head ? NULL : malloc(sizeof *f);
    if (!f) {
        close_fd(fd, done, ud);
        if (status != 304 && len > 0 && !head)
            http_respond_error(req, 503, "out of memory");
        else /* 304, HEAD, an empty file: the head alone (HEAD: with the GET's length) */
            http_respond_hdrs(req, status, hdr, status == 304 ? NULL : ctype, NULL, (size_t)len);
        return;
    }
    memset(f, 0, offsetof(file_send_t, buf));
    f->loop = loop;
    f->req = req;
    f->fd = fd;
    f->off = first;
    f->left = len;
    f->done = done;
    f->done_ud = ud;
    if (http_resp_begin(req, status, hdr, ctype, len) != 0) {
        send_end(f, true);
        return;
    }
    http_req_on_abort(req, on_abort, f);
    f->next = sending;
    if (f->next)
        f->next->prev = f;
    sending = f;
    read_next(f);
}

void http_file_cancel_all(uv_loop_t *loop)
{
    file_send_t *f = sending, *next;
    for (; f; f = next) {
        next = f->next;
        if (f->loop != loop)
            continue;
        if (f->reading)
            f->aborted = true; /* on_read ends it */
        else
            send_end(f, true);
    }
}
