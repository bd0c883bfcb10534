/*
 * http_static: serving an embedded file (see http_static.h).
 */
#include "net/http_static.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/log.h"

static const char *ows(const char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    return s;
}

bool http_etag_match(const char *inm, const char *etag)
{
    if (!inm || !etag)
        return false;
    size_t elen = strlen(etag);
    const char *s = ows(inm);
    if (*s == '*')
        return *ows(s + 1) == '\0';
    while (*s) {
        if (*s == ',') {
            s = ows(s + 1);
            continue;
        }
        if (s[0] == 'W' && s[1] == '/') /* weak comparison: W/"x" names "x" too */
            s += 2;
        if (*s != '"')
            return false;
        const char *end = strchr(s + 1, '"');
        if (!end)
            return false;
        size_t n = (size_t)(end - s) + 1;
        bool same = n == elen && memcmp(s, etag, n) == 0;
        s = ows(end + 1);
        if (*s && *s != ',')
            return false;
        if (same)
            return true;
    }
    return false;
}

/* Is a qvalue ("1", "0.5", "0.000"; RFC 9110 12.4.2) above zero? A
 * malformed one is not. */
static bool q_positive(const char *v, size_t n)
{
    if (n == 0 || n > 5 || (v[0] != '0' && v[0] != '1') || (n > 1 && v[1] != '.'))
        return false;
    bool nonzero = v[0] == '1';
    for (size_t i = 2; i < n; i++) {
        if (v[i] < '0' || v[i] > '9' || (v[0] == '1' && v[i] != '0'))
            return false;
        nonzero |= v[i] != '0';
    }
    return nonzero;
}

bool http_accepts_gzip(const char *ae)
{
    if (!ae)
        return false;
    int gzip = -1, star = -1; /* -1: not named; 0: named with q=0; 1: accepted */
    const char *s = ae;
    while (*s) {
        s = ows(s);
        const char *tok = s;
        size_t n = strcspn(s, ",; \t");
        bool ok = true;
        s = ows(s + n);
        while (*s == ';') { /* parameters: only the weight matters */
            s = ows(s + 1);
            size_t pn = strcspn(s, ",; \t");
            if (pn >= 2 && (s[0] == 'q' || s[0] == 'Q') && s[1] == '=')
                ok = q_positive(s + 2, pn - 2);
            s = ows(s + pn);
        }
        if ((n == 4 && strncasecmp(tok, "gzip", 4) == 0) ||
            (n == 6 && strncasecmp(tok, "x-gzip", 6) == 0))
            gzip = gzip == 1 || ok;
        else if (n == 1 && tok[0] == '*')
            star = star == 1 || ok;
        s += strcspn(s, ","); /* anything else in this element is ignored */
        if (*s == ',')
            s++;
    }
    return gzip >= 0 ? gzip == 1 : star == 1;
}

http_static_pick_t http_static_choose(const http_static_t *f, const char *if_none_match,
                                      const char *accept_encoding)
{
    http_static_pick_t p = { .status = 200 };
    p.gzip = f->gz && f->gz_len && http_accepts_gzip(accept_encoding);
    p.etag = p.gzip ? f->etag_gz : f->etag;
    if (http_etag_match(if_none_match, p.etag)) {
        p.status = 304;
        return p;
    }
    p.body = p.gzip ? f->gz : f->data;
    p.len = p.gzip ? f->gz_len : f->len;
    return p;
}

void http_static_serve(http_req_t *req, const http_static_t *f, const char *extra_headers)
{
    http_static_pick_t p = http_static_choose(f, http_req_header(req, "If-None-Match"),
                                              http_req_header(req, "Accept-Encoding"));
    /* A 304 carries the validators and caching headers a 200 would (RFC 9110 15.4.5). */
    char hdrs[1024];
    int n = snprintf(hdrs, sizeof hdrs, "ETag: %s\r\n%s%s%s", p.etag,
                     f->gz ? "Vary: Accept-Encoding\r\n" : "",
                     p.gzip && p.status == 200 ? "Content-Encoding: gzip\r\n" : "",
                     extra_headers ? extra_headers : "");
    if (n < 0 || (size_t)n >= sizeof hdrs) {
        log_error("http_static_headers", LF_S("file", f->name), LF_S("reason", "too long"));
        http_respond_error(req, 500, "response headers too long");
        return;
    }
    http_respond_hdrs(req, p.status, hdrs, p.status == 200 ? f->ctype : NULL, p.body, p.len);
}
