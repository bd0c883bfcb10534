#include "net/http_parse.h"

#include <errno.h>
#include <llhttp.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/str.h"

typedef enum part { PART_NONE, PART_TARGET, PART_REASON, PART_FIELD, PART_VALUE } part_t;

struct http_parser {
    llhttp_t llh; /* first: llhttp callbacks get &p->llh */
    http_parser_cbs_t cbs;
    void *ud;
    http_parser_opts_t opts;
    http_msg_t msg;
    part_t part;          /* what the bytes being appended belong to */
    uint32_t part_off;    /* where that piece started in msg.store */
    size_t trailer_bytes; /* chunked trailers are counted, not kept */
    uint32_t target_off, reason_off; /* start line pieces in msg.store */
    bool has_target, has_reason;
    bool in_message, headers_done, no_body, upgraded;
    /* obs-fold detection (see on_header_value): the bytes being fed, and
     * whether those fed before them end in a line break and blanks */
    const char *feed_start;
    bool tail_lf;
    int err;              /* our own error (caps), over llhttp's */
    const char *reason;
};

static http_parser_t *P(llhttp_t *l) { return (http_parser_t *)l; }

/* ---- message accessors ---------------------------------------------------- */

static const char *at(const http_msg_t *m, uint32_t off) { return m->store.data + off; }

const char *http_msg_header(const http_msg_t *m, const char *name)
{
    for (size_t i = 0; i < m->nheaders; i++)
        if (strcasecmp(at(m, m->hdr[i].name_off), name) == 0)
            return at(m, m->hdr[i].value_off);
    return NULL;
}

void http_msg_header_at(const http_msg_t *m, size_t i, const char **name, const char **value)
{
    *name = at(m, m->hdr[i].name_off);
    *value = at(m, m->hdr[i].value_off);
}

bool http_msg_header_has_token(const http_msg_t *m, const char *name, const char *token)
{
    size_t tl = strlen(token);
    for (size_t i = 0; i < m->nheaders; i++) {
        if (strcasecmp(at(m, m->hdr[i].name_off), name) != 0)
            continue;
        const char *v = at(m, m->hdr[i].value_off);
        while (*v) {
            while (*v == ' ' || *v == '\t' || *v == ',')
                v++;
            size_t n = strcspn(v, ",");
            size_t k = n;
            while (k && (v[k - 1] == ' ' || v[k - 1] == '\t'))
                k--;
            if (k == tl && strncasecmp(v, token, tl) == 0)
                return true;
            v += n;
        }
    }
    return false;
}

/* ---- collecting the head ------------------------------------------------ */

static int fail(http_parser_t *p, int err, const char *reason)
{
    if (!p->err) {
        p->err = err;
        p->reason = reason;
    }
    return -1;
}

static int append(http_parser_t *p, part_t part, const char *data, size_t len)
{
    http_msg_t *m = &p->msg;
    if (p->part != part) {
        p->part = part;
        p->part_off = (uint32_t)m->store.len;
    }
    if (part == PART_TARGET && m->store.len - p->part_off + len > p->opts.max_target)
        return fail(p, HTTP_PARSE_ERR_URI_TOO_LONG, "request target too long");
    if (buf_append(&m->store, data, len))
        return fail(p, HTTP_PARSE_ERR_HEADERS_TOO_BIG, "header block too large");
    return 0;
}

/* End the current piece with a NUL; returns its offset. */
static int close_part(http_parser_t *p, uint32_t *off, uint32_t *len)
{
    http_msg_t *m = &p->msg;
    if (p->part == PART_NONE) { /* empty piece (e.g. empty header value) */
        p->part_off = (uint32_t)m->store.len;
    }
    *off = p->part_off;
    *len = (uint32_t)(m->store.len - p->part_off);
    p->part = PART_NONE;
    if (buf_append_byte(&m->store, '\0'))
        return fail(p, HTTP_PARSE_ERR_HEADERS_TOO_BIG, "header block too large");
    return 0;
}

static int on_message_begin(llhttp_t *l)
{
    http_parser_t *p = P(l);
    http_msg_t *m = &p->msg;
    buf_reset(&m->store);
    m->nheaders = 0;
    m->method[0] = '\0';
    m->status = 0;
    m->target = m->reason = "";
    m->content_length = -1;
    m->chunked = m->keep_alive = m->upgrade = m->expect_continue = false;
    p->part = PART_NONE;
    p->trailer_bytes = 0;
    p->has_target = p->has_reason = false;
    p->in_message = true;
    p->headers_done = false;
    return 0;
}

static int on_url(llhttp_t *l, const char *d, size_t n) { return append(P(l), PART_TARGET, d, n); }
static int on_status(llhttp_t *l, const char *d, size_t n) { return append(P(l), PART_REASON, d, n); }

static int on_url_complete(llhttp_t *l)
{
    http_parser_t *p = P(l);
    uint32_t len;
    p->has_target = true;
    return close_part(p, &p->target_off, &len);
}

static int on_status_complete(llhttp_t *l)
{
    http_parser_t *p = P(l);
    uint32_t len;
    p->has_reason = true;
    return close_part(p, &p->reason_off, &len);
}

static int header_bytes(http_parser_t *p, size_t n)
{
    if (!p->headers_done)
        return 0;
    /* trailers: bounded by the same cap, then dropped */
    p->trailer_bytes += n;
    if (p->trailer_bytes > p->opts.max_header_bytes)
        return fail(p, HTTP_PARSE_ERR_HEADERS_TOO_BIG, "trailers too large");
    return 1;
}

static int on_header_field(llhttp_t *l, const char *d, size_t n)
{
    http_parser_t *p = P(l);
    int t = header_bytes(p, n);
    if (t)
        return t < 0 ? -1 : 0;
    return append(p, PART_FIELD, d, n);
}

/*
 * obs-fold (RFC 9112 5.2): a header line continued on the next one, which
 * starts with SP or HTAB. llhttp (8.x) accepts it: it ends the value's span
 * at the CR and opens a new one on the continuation line (at its blank, or
 * at its first other byte when the value was empty so far), without a
 * value-complete in between, and it goes on reading Transfer-Encoding and
 * Content-Length through the fold. So a span that follows a line break and
 * nothing but blanks is a fold. A value cut by the end of a feed resumes at
 * the start of the next, after whatever the earlier feed ended with, so that
 * is remembered (tail_lf).
 */
static bool after_line_break(const http_parser_t *p, const char *d)
{
    const char *q = d;
    while (q > p->feed_start && (q[-1] == ' ' || q[-1] == '\t'))
        q--;
    return q > p->feed_start ? q[-1] == '\n' : p->tail_lf;
}

static void note_tail(http_parser_t *p, const char *data, size_t used)
{
    const char *q = data + used;
    while (q > data && (q[-1] == ' ' || q[-1] == '\t'))
        q--;
    if (q > data)
        p->tail_lf = q[-1] == '\n';
}

static int on_header_value(llhttp_t *l, const char *d, size_t n)
{
    http_parser_t *p = P(l);
    /* (llhttp ends an empty value with an empty span at the next line) */
    bool fold = n && after_line_break(p, d);
    /* A server must refuse or replace it; we refuse, and so does a proxy
     * that asks to: a value read differently by two parsers is how requests
     * and responses get smuggled. */
    if (fold && (!p->opts.response || p->opts.refuse_fold))
        return fail(p, HTTP_PARSE_ERR_SYNTAX, "obsolete line folding (obs-fold) in a header");
    int t = header_bytes(p, n);
    if (t)
        return t < 0 ? -1 : 0;
    if (fold) { /* a user agent: the fold and its blanks become one SP */
        while (n && (*d == ' ' || *d == '\t'))
            d++, n--;
        if (p->part == PART_VALUE && n && append(p, PART_VALUE, " ", 1))
            return -1;
    }
    return append(p, PART_VALUE, d, n);
}

static int on_header_field_complete(llhttp_t *l)
{
    http_parser_t *p = P(l);
    if (p->headers_done)
        return 0;
    if (p->msg.nheaders >= HTTP_MAX_HEADERS)
        return fail(p, HTTP_PARSE_ERR_HEADERS_TOO_BIG, "too many header fields");
    http_hdr_ref_t *h = &p->msg.hdr[p->msg.nheaders];
    if (close_part(p, &h->name_off, &h->name_len))
        return -1;
    if (h->name_len == 0) /* llhttp lets ":value" through */
        return fail(p, HTTP_PARSE_ERR_SYNTAX, "empty header name");
    return 0;
}

static int on_header_value_complete(llhttp_t *l)
{
    http_parser_t *p = P(l);
    if (p->headers_done)
        return 0;
    http_msg_t *m = &p->msg;
    http_hdr_ref_t *h = &m->hdr[m->nheaders];
    if (close_part(p, &h->value_off, &h->value_len))
        return -1;
    /* trim trailing whitespace (llhttp leaves it) */
    char *v = m->store.data + h->value_off;
    if (memchr(v, '\r', h->value_len) || memchr(v, '\n', h->value_len))
        return fail(p, HTTP_PARSE_ERR_SYNTAX, "CR or LF inside a header value");
    while (h->value_len && (v[h->value_len - 1] == ' ' || v[h->value_len - 1] == '\t'))
        v[--h->value_len] = '\0';
    m->nheaders++;
    return 0;
}

static int on_headers_complete(llhttp_t *l)
{
    http_parser_t *p = P(l);
    http_msg_t *m = &p->msg;
    p->headers_done = true;
    m->is_request = !p->opts.response;
    m->http_major = l->http_major;
    m->http_minor = l->http_minor;
    if (m->is_request) {
        str_copy(m->method, sizeof m->method, llhttp_method_name((llhttp_method_t)l->method));
        m->target = p->has_target ? at(m, p->target_off) : "";
        if (!*m->target)
            return fail(p, HTTP_PARSE_ERR_SYNTAX, "empty request target");
    } else {
        m->status = l->status_code;
        m->reason = p->has_reason ? at(m, p->reason_off) : "";
    }
    m->chunked = (l->flags & F_CHUNKED) != 0;
    m->content_length = (l->flags & F_CONTENT_LENGTH) ? (int64_t)l->content_length : -1;
    m->keep_alive = llhttp_should_keep_alive(l) != 0;
    m->upgrade = l->upgrade != 0;
    /* chunked is the only transfer coding we speak */
    const char *te = http_msg_header(m, "Transfer-Encoding");
    if (te && (!m->chunked || strcasecmp(te, "chunked") != 0))
        return fail(p, HTTP_PARSE_ERR_UNSUPPORTED, "unsupported transfer coding");
    const char *expect = http_msg_header(m, "Expect");
    m->expect_continue = expect && strcasecmp(expect, "100-continue") == 0;

    int rc = p->cbs.on_headers ? p->cbs.on_headers(p, m) : 0;
    if (rc < 0)
        return fail(p, HTTP_PARSE_ERR_CALLBACK, "refused");
    if (!m->is_request && (p->no_body || m->status == 204 || m->status == 304 ||
                           (m->status >= 100 && m->status < 200 && m->status != 101))) {
        p->no_body = false;
        return rc == 1 ? HPE_PAUSED : 1; /* no body */
    }
    return rc == 1 ? HPE_PAUSED : 0;
}

static int on_body(llhttp_t *l, const char *d, size_t n)
{
    http_parser_t *p = P(l);
    int rc = p->cbs.on_body ? p->cbs.on_body(p, d, n) : 0;
    if (rc < 0)
        return fail(p, HTTP_PARSE_ERR_CALLBACK, "body refused");
    return rc == 1 ? HPE_PAUSED : 0;
}

static int on_message_complete(llhttp_t *l)
{
    http_parser_t *p = P(l);
    p->in_message = false;
    p->msg.keep_alive = llhttp_should_keep_alive(l) != 0;
    int rc = p->cbs.on_complete ? p->cbs.on_complete(p, &p->msg) : 0;
    if (rc < 0)
        return fail(p, HTTP_PARSE_ERR_CALLBACK, "refused");
    return rc == 1 ? HPE_PAUSED : 0;
}

static const llhttp_settings_t settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_status = on_status,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_url_complete = on_url_complete,
    .on_status_complete = on_status_complete,
    .on_header_field_complete = on_header_field_complete,
    .on_header_value_complete = on_header_value_complete,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

/* ---- driving ---------------------------------------------------------- */

http_parser_t *http_parser_new(const http_parser_opts_t *opts, const http_parser_cbs_t *cbs, void *ud)
{
    http_parser_t *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    if (opts)
        p->opts = *opts;
    if (!p->opts.max_header_bytes)
        p->opts.max_header_bytes = 16 * 1024;
    if (!p->opts.max_target)
        p->opts.max_target = 8 * 1024;
    if (cbs)
        p->cbs = *cbs;
    p->ud = ud;
    buf_init(&p->msg.store, p->opts.max_header_bytes);
    llhttp_init(&p->llh, p->opts.response ? HTTP_RESPONSE : HTTP_REQUEST, &settings);
    return p;
}

void http_parser_free(http_parser_t *p)
{
    if (!p)
        return;
    buf_free(&p->msg.store);
    free(p);
}

void *http_parser_data(const http_parser_t *p) { return p->ud; }
const http_msg_t *http_parser_msg(const http_parser_t *p) { return &p->msg; }
void http_parser_expect_no_body(http_parser_t *p) { p->no_body = true; }
bool http_parser_in_message(const http_parser_t *p) { return p->in_message; }
bool http_parser_upgraded(const http_parser_t *p) { return p->upgraded; }
const char *http_parser_reason(const http_parser_t *p) { return p->reason ? p->reason : "ok"; }

static int map_error(http_parser_t *p, llhttp_errno_t e)
{
    if (p->err)
        return p->err;
    switch (e) {
    case HPE_UNEXPECTED_CONTENT_LENGTH:
        p->reason = "Content-Length together with Transfer-Encoding, or repeated";
        return p->err = HTTP_PARSE_ERR_SMUGGLING;
    case HPE_INVALID_TRANSFER_ENCODING:
        p->reason = "invalid Transfer-Encoding";
        return p->err = HTTP_PARSE_ERR_SMUGGLING;
    default:
        p->reason = llhttp_get_error_reason(&p->llh);
        if (!p->reason || !*p->reason)
            p->reason = llhttp_errno_name(e);
        return p->err = HTTP_PARSE_ERR_SYNTAX;
    }
}

int http_parser_feed(http_parser_t *p, const char *data, size_t len, size_t *consumed)
{
    *consumed = 0;
    if (p->err)
        return p->err;
    if (p->upgraded)
        return HTTP_PARSE_OK;
    p->feed_start = data;
    llhttp_errno_t e = llhttp_execute(&p->llh, data, len);
    if (e == HPE_OK) {
        note_tail(p, data, len);
        *consumed = len;
        return HTTP_PARSE_OK;
    }
    const char *stop = llhttp_get_error_pos(&p->llh);
    size_t used = stop && stop >= data && stop <= data + len ? (size_t)(stop - data) : len;
    note_tail(p, data, used);
    if (e == HPE_PAUSED) {
        *consumed = used;
        return HTTP_PARSE_PAUSED;
    }
    if (e == HPE_PAUSED_UPGRADE) {
        *consumed = used;
        p->upgraded = true;
        return HTTP_PARSE_OK;
    }
    *consumed = used;
    return map_error(p, e);
}

void http_parser_resume(http_parser_t *p)
{
    if (llhttp_get_errno(&p->llh) == HPE_PAUSED)
        llhttp_resume(&p->llh);
}

int http_parser_finish(http_parser_t *p)
{
    if (p->err)
        return p->err;
    llhttp_errno_t e = llhttp_finish(&p->llh);
    if (e != HPE_OK)
        return map_error(p, e);
    return HTTP_PARSE_OK;
}

const char *http_status_reason(int status)
{
    switch (status) {
    case 100: return "Continue";
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 411: return "Length Required";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 416: return "Range Not Satisfiable";
    case 417: return "Expectation Failed";
    case 422: return "Unprocessable Content";
    case 426: return "Upgrade Required";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "Unknown";
    }
}
