#include "net/http_server_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/str.h"

/*
 * The request as handlers see it, and the response they write. A request
 * ends with exactly one respond/resp_end; then the connection moves on
 * (http_sconn_next) or lingers if the request was not read to its end.
 */

const char *http_date(void)
{
    static _Thread_local char cached[40];
    static _Thread_local time_t cached_at = -1;
    time_t now = time(NULL);
    if (now != cached_at) {
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(cached, sizeof cached, "%a, %d %b %Y %H:%M:%S GMT", &tm);
        cached_at = now;
    }
    return cached;
}

/* ---- responses -------------------------------------------------------------- */

static bool keep_alive(const http_req_t *r)
{
    const http_sconn_t *sc = r->sc;
    return sc && !sc->close_after && !sc->srv->closing && r->msg->keep_alive;
}

/* Write the status line and headers, and the body when given, in one
 * writev: one syscall per small response. */
static int write_head(http_req_t *r, int status, const char *extra, const char *ctype,
                      int64_t clen, const void *body, size_t body_len)
{
    http_sconn_t *sc = r->sc;
    char head[1024];
    bool ka = keep_alive(r);
    bool http10 = r->msg->http_major == 1 && r->msg->http_minor == 0;
    int n = snprintf(head, sizeof head, "HTTP/1.1 %d %s\r\nServer: %s\r\nDate: %s\r\n", status,
                     r->reason[0] ? r->reason : http_status_reason(status), sc->srv->o.server_name,
                     http_date());
    if (ctype)
        n += snprintf(head + n, sizeof head - (size_t)n, "Content-Type: %s\r\n", ctype);
    if (clen == NO_LENGTH) {
        /* 1xx, 204, 304: no body and no length */
    } else if (clen >= 0) {
        n += snprintf(head + n, sizeof head - (size_t)n, "Content-Length: %lld\r\n", (long long)clen);
    } else if (!http10) {
        n += snprintf(head + n, sizeof head - (size_t)n, "Transfer-Encoding: chunked\r\n");
        r->chunked = true;
    } else {
        ka = false; /* HTTP/1.0 without a length: the close ends the body */
    }
    {
        if (!ka)
            n += snprintf(head + n, sizeof head - (size_t)n, "Connection: close\r\n");
        else if (http10)
            n += snprintf(head + n, sizeof head - (size_t)n, "Connection: keep-alive\r\n");
    }
    if (!ka)
        sc->close_after = true;
    if ((size_t)n >= sizeof head)
        return -ENOBUFS;
    uv_buf_t b[4] = { uv_buf_init(head, (unsigned)n),
                      uv_buf_init((char *)(extra ? extra : ""), extra ? (unsigned)strlen(extra) : 0),
                      uv_buf_init("\r\n", 2), uv_buf_init((char *)body, (unsigned)body_len) };
    r->started = true;
    r->resp_left = clen == NO_LENGTH ? 0 : clen;
    return net_conn_writev(sc->conn, b, body_len ? 4 : 3);
}

static void req_finish(http_req_t *r)
{
    if (r->ended)
        return;
    r->ended = true;
    http_sconn_t *sc = r->sc;
    if (!sc) {
        http_req_release(r);
        return;
    }
    sc->srv->nrequests++;
    if (r->msg->upgrade)
        sc->close_after = true; /* not upgraded: the client expects no more HTTP here */
    if (!r->complete) {
        /* Answered before the body was read: drop a small rest, else close. */
        int64_t cl = r->msg->content_length;
        if (r->msg->chunked || cl > SMALL_DISCARD || r->streaming)
            sc->close_after = true;
        r->discard = true;
        if (sc->close_after) {
            http_sconn_linger(sc);
            return;
        }
        return; /* http_sconn_next runs once the body has been read */
    }
    sc->req = NULL;
    http_req_release(r);
    http_sconn_next(sc);
}

void http_retry_after(char hdr[HTTP_RETRY_AFTER_MAX], int64_t ms)
{
    long long s = ms > 0 ? ms / 1000 + (ms % 1000 != 0) : 1; /* no ms + 999: it may overflow */
    snprintf(hdr, HTTP_RETRY_AFTER_MAX, "Retry-After: %lld\r\n", s);
}

void http_respond_hdrs(http_req_t *r, int status, const char *extra, const char *ctype,
                       const void *body, size_t len)
{
    if (r->ended || r->started) {
        if (!r->ended)
            http_resp_end(r);
        return;
    }
    if (!r->sc) {
        req_finish(r);
        return;
    }
    bool no_body_status = status < 200 || status == 204 || status == 304;
    /* HEAD: the length a GET would have, but no body */
    bool send_body = !r->head && !no_body_status && len;
    int rc = write_head(r, status, extra, ctype, no_body_status ? NO_LENGTH : (int64_t)len,
                        send_body ? body : NULL, send_body ? len : 0);
    if (rc)
        r->sc->close_after = true;
    req_finish(r);
}

void http_respond(http_req_t *r, int status, const char *ctype, const void *body, size_t len)
{
    http_respond_hdrs(r, status, NULL, ctype, body, len);
}

void http_resp_set_reason(http_req_t *r, const char *reason)
{
    /* a reason phrase is text on the status line: printable ASCII only */
    size_t n = 0;
    for (const char *p = reason ? reason : ""; *p && n + 1 < sizeof r->reason; p++)
        if (*p >= 0x20 && *p < 0x7f)
            r->reason[n++] = *p;
    r->reason[n] = '\0';
}

void http_respond_error(http_req_t *r, int status, const char *reason)
{
    char body[256];
    int n = snprintf(body, sizeof body, "%s\n", reason ? reason : http_status_reason(status));
    if (n < 0 || (size_t)n >= sizeof body)
        n = (int)sizeof body - 1;
    http_respond(r, status, "text/plain; charset=utf-8", body, (size_t)n);
}

int http_resp_begin(http_req_t *r, int status, const char *extra, const char *ctype,
                    int64_t content_length)
{
    if (r->ended || r->started)
        return -EINVAL;
    if (!r->sc)
        return -EPIPE;
    return write_head(r, status, extra, ctype, content_length, NULL, 0);
}

int http_resp_write(http_req_t *r, const void *data, size_t len)
{
    if (!r->started || r->ended)
        return -EINVAL;
    if (!r->sc)
        return -EPIPE;
    if (r->head || len == 0)
        return 0;
    if (r->resp_left >= 0) {
        if ((int64_t)len > r->resp_left)
            return -EINVAL;
        r->resp_left -= (int64_t)len;
        return net_conn_write(r->sc->conn, data, len);
    }
    if (!r->chunked)
        return net_conn_write(r->sc->conn, data, len);
    char size[24];
    int n = snprintf(size, sizeof size, "%zx\r\n", len);
    uv_buf_t b[3] = { uv_buf_init(size, (unsigned)n), uv_buf_init((char *)data, (unsigned)len),
                      uv_buf_init("\r\n", 2) };
    return net_conn_writev(r->sc->conn, b, 3);
}

bool http_resp_congested(const http_req_t *r)
{
    return r->sc && net_conn_congested(r->sc->conn);
}

void http_resp_on_drain(http_req_t *r, void (*cb)(http_req_t *r, void *ud), void *ud)
{
    r->on_drain = cb;
    r->drain_ud = ud;
}

void http_resp_end(http_req_t *r)
{
    if (r->ended)
        return;
    if (!r->started) {
        http_respond(r, 204, NULL, NULL, 0);
        return;
    }
    if (r->sc) {
        if (r->chunked && !r->head)
            net_conn_write(r->sc->conn, "0\r\n\r\n", 5);
        else if (r->resp_left > 0 && !r->head)
            r->sc->close_after = true; /* short body: the client must not reuse this */
    }
    req_finish(r);
}

void http_resp_close_after(http_req_t *r)
{
    if (r->sc)
        r->sc->close_after = true;
}

/* ---- requests --------------------------------------------------------------- */

void http_req_release(http_req_t *r)
{
    for (size_t i = 0; i < r->nparams; i++)
        free(r->params[i].value);
    buf_free(&r->body);
    free(r->path);
    http_parser_free(r->own_parser);
    free(r);
}

const char *http_req_method(const http_req_t *r) { return r->msg->method; }
const char *http_req_target(const http_req_t *r) { return r->msg->target; }
const char *http_req_path(const http_req_t *r) { return r->path; }
const char *http_req_query(const http_req_t *r) { return r->query; }
const char *http_req_header(const http_req_t *r, const char *name) { return http_msg_header(r->msg, name); }
const http_msg_t *http_req_msg(const http_req_t *r) { return r->msg; }
void *http_req_data(const http_req_t *r) { return r->data; }
void http_req_set_data(http_req_t *r, void *data) { r->data = data; }
bool http_req_aborted(const http_req_t *r) { return r->aborted; }
net_conn_t *http_req_conn(const http_req_t *r) { return r->sc ? r->sc->conn : NULL; }
const char *http_req_peer(const http_req_t *r) { return r->sc ? net_conn_peer(r->sc->conn) : "?"; }
const char *http_req_peer_host(const http_req_t *r) { return r->sc ? net_conn_peer_host(r->sc->conn) : "?"; }
bool http_req_is_tls(const http_req_t *r) { return r->sc && net_conn_is_tls(r->sc->conn); }
const tls_peer_t *http_req_tls_peer(const http_req_t *r) { return r->sc ? net_conn_tls_peer(r->sc->conn) : NULL; }

const char *http_req_body(const http_req_t *r, size_t *len)
{
    if (len)
        *len = r->body.len;
    return r->body.data ? r->body.data : "";
}

void http_req_on_abort(http_req_t *r, void (*cb)(http_req_t *r, void *ud), void *ud)
{
    r->on_abort = cb;
    r->abort_ud = ud;
}

void http_req_end_on_eof(http_req_t *r) { r->end_on_eof = true; }

int http_req_query_param(const http_req_t *r, const char *name, buf_t *out)
{
    size_t nl = strlen(name);
    const char *q = r->query;
    while (*q) {
        const char *amp = strchr(q, '&');
        size_t seg = amp ? (size_t)(amp - q) : strlen(q);
        const char *eq = memchr(q, '=', seg);
        size_t kl = eq ? (size_t)(eq - q) : seg;
        if (kl == nl && memcmp(q, name, nl) == 0) {
            const char *v = eq ? eq + 1 : q + seg;
            size_t vl = eq ? seg - kl - 1 : 0;
            return str_pct_decode(out, v, vl, true) ? -EINVAL : 0;
        }
        q += seg + (amp ? 1 : 0);
    }
    return -ENOENT;
}

void http_req_set_body_max(http_req_t *r, size_t max, const char *reason)
{
    if (max < r->body.max)
        r->body.max = max;
    r->too_large = reason;
}

int http_req_access(const http_req_t *r) { return r->access; }
void http_req_set_access(http_req_t *r, int access) { r->access = access; }

const char *http_req_param(const http_req_t *r, const char *name)
{
    for (size_t i = 0; i < r->nparams; i++)
        if (strcmp(r->params[i].name, name) == 0)
            return r->params[i].value;
    return NULL;
}

int http_req_set_param(http_req_t *r, const char *name, const char *value, size_t len)
{
    if (r->nparams >= MAX_PARAMS)
        return -ENOBUFS;
    param_t *p = &r->params[r->nparams];
    if (str_copy(p->name, sizeof p->name, name))
        return -ENAMETOOLONG;
    buf_t b = BUF_INIT(NET_URL_PATH_MAX);
    if (str_pct_decode(&b, value, len, false) || memchr(b.data ? b.data : "", '\0', b.len)) {
        buf_free(&b);
        return -EINVAL;
    }
    p->value = b.data ? buf_steal(&b, NULL) : strdup("");
    if (!p->value)
        return -ENOMEM;
    r->nparams++;
    return 0;
}

void http_req_stream_body(http_req_t *r, http_body_fn on_body, http_body_end_fn on_end, void *ud)
{
    r->streaming = true;
    r->on_body = on_body;
    r->on_body_end = on_end;
    r->body_ud = ud;
}

/* ---- the client behind trusted proxies ---------------------------------------- */

/* One hop of a forwarding header: "1.2.3.4", "1.2.3.4:80", "[::1]:80",
 * "\"[::1]\"" -> the bare address; false if it is no IP literal. */
static bool hop_ip(const char *s, size_t n, char *out, size_t outlen)
{
    while (n && (*s == ' ' || *s == '\t' || *s == '"'))
        s++, n--;
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '"'))
        n--;
    if (n && *s == '[') {
        const char *rb = memchr(s, ']', n);
        if (!rb)
            return false;
        s++;
        n = (size_t)(rb - s);
    } else {
        const char *colon = memchr(s, ':', n);
        if (colon && memchr(s, '.', n) && !memchr(colon + 1, ':', (size_t)(s + n - colon - 1)))
            n = (size_t)(colon - s); /* IPv4 with a port (one colon; IPv6 has more) */
    }
    uint8_t a[16];
    return n < outlen && str_copyn(out, outlen, s, n) == 0 && net_ip_parse(out, a) == 0;
}

/* Walk the hops of every header named `name` from the nearest (rightmost)
 * on: the first one that is not a trusted proxy is the client. For
 * Forwarded, only the for= parameter of each element counts. */
static bool nearest_untrusted(const http_msg_t *m, const char *name, bool forwarded,
                              const net_cidr_t *trusted, size_t ntrusted, char *out, size_t outlen)
{
    for (size_t i = m->nheaders; i-- > 0;) {
        const char *hn, *hv;
        http_msg_header_at(m, i, &hn, &hv);
        if (strcasecmp(hn, name) != 0)
            continue;
        size_t end = strlen(hv);
        while (end > 0) {
            size_t start = end;
            while (start > 0 && hv[start - 1] != ',')
                start--;
            const char *hop = hv + start;
            size_t n = end - start;
            if (forwarded) { /* find for= among ;-separated parameters */
                const char *f = NULL;
                for (size_t k = 0; k + 4 <= n; k++)
                    if (strncasecmp(hop + k, "for=", 4) == 0 && (k == 0 || hop[k - 1] == ';' ||
                                                                 hop[k - 1] == ' '))
                        f = hop + k + 4;
                if (!f)
                    return false;
                size_t fl = (size_t)(hop + n - f);
                const char *semi = memchr(f, ';', fl);
                n = semi ? (size_t)(semi - f) : fl;
                hop = f;
            }
            if (!hop_ip(hop, n, out, outlen))
                return false; /* garbage: stop trusting this header */
            if (!net_cidr_match(trusted, ntrusted, out))
                return true;
            end = start ? start - 1 : 0;
        }
    }
    return false;
}

const char *http_req_client_ip(const http_req_t *r, const net_cidr_t *trusted, size_t ntrusted,
                               char *out, size_t outlen)
{
    const char *peer = http_req_peer_host(r);
    str_copy(out, outlen, peer);
    if (!ntrusted || !net_cidr_match(trusted, ntrusted, peer))
        return out;
    char hop[64];
    if (nearest_untrusted(r->msg, "X-Forwarded-For", false, trusted, ntrusted, hop, sizeof hop) ||
        nearest_untrusted(r->msg, "Forwarded", true, trusted, ntrusted, hop, sizeof hop))
        str_copy(out, outlen, hop);
    return out;
}
