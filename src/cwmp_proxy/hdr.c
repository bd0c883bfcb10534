/*
 * hdr: header classification for the forwarder.
 */
#include "cwmp_proxy/hdr.h"

#include <string.h>
#include <strings.h>

static const struct {
    const char *name;
    unsigned char len;
    hdr_kind_t kind;
} table[] = {
    { "TE", 2, HDR_HOP },
    { "Host", 4, HDR_HOST },
    { "Date", 4, HDR_SERVER_DATE },
    { "Cookie", 6, HDR_COOKIE },
    { "Server", 6, HDR_SERVER_DATE },
    { "Expect", 6, HDR_HOP },
    { "Trailer", 7, HDR_HOP },
    { "Upgrade", 7, HDR_HOP },
    { "Forwarded", 9, HDR_FORWARDING },
    { "X-Real-IP", 9, HDR_FORWARDING },
    { "Connection", 10, HDR_HOP },
    { "Keep-Alive", 10, HDR_HOP },
    { "Set-Cookie", 10, HDR_SET_COOKIE },
    { "Content-Length", 14, HDR_HOP },
    { "X-Forwarded-For", 15, HDR_FORWARDING },
    { "Proxy-Connection", 16, HDR_HOP },
    { "Content-Encoding", 16, HDR_CONTENT_ENCODING },
    { "X-Forwarded-Host", 16, HDR_FORWARDING },
    { "Transfer-Encoding", 17, HDR_HOP },
    { "X-Forwarded-Proto", 17, HDR_FORWARDING },
    { "Proxy-Authenticate", 18, HDR_HOP },
    { "Proxy-Authorization", 19, HDR_HOP },
};

hdr_kind_t hdr_classify(const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (table[i].len == n && strcasecmp(table[i].name, name) == 0)
            return table[i].kind;
    return HDR_OTHER;
}

/* Walk the comma-separated tokens of a Connection value. */
static bool each_token(const char *v, bool (*fn)(const char *t, size_t n, const void *ud), const void *ud)
{
    while (v && *v) {
        while (*v == ' ' || *v == '\t' || *v == ',')
            v++;
        size_t n = strcspn(v, ",");
        size_t k = n;
        while (k && (v[k - 1] == ' ' || v[k - 1] == '\t'))
            k--;
        if (k && fn(v, k, ud))
            return true;
        v += n;
    }
    return false;
}

static bool is_name(const char *t, size_t n, const void *ud)
{
    const char *name = ud;
    return strlen(name) == n && strncasecmp(t, name, n) == 0;
}

static bool is_unusual(const char *t, size_t n, const void *ud)
{
    return !((n == 5 && strncasecmp(t, "close", 5) == 0) ||
             (n == 10 && strncasecmp(t, "keep-alive", 10) == 0));
}

bool hdr_conn_lists(const char *conn, const char *name)
{
    return conn && each_token(conn, is_name, name);
}

bool hdr_conn_plain(const char *conn)
{
    return !conn || !each_token(conn, is_unusual, NULL);
}

int hdr_line(buf_t *b, const char *name, const char *value)
{
    size_t nl = strlen(name), vl = strlen(value);
    int rc = buf_reserve(b, nl + vl + 4);
    if (rc)
        return rc;
    char *p = b->data + b->len;
    memcpy(p, name, nl);
    p[nl] = ':';
    p[nl + 1] = ' ';
    memcpy(p + nl + 2, value, vl);
    p[nl + 2 + vl] = '\r';
    p[nl + 3 + vl] = '\n';
    b->len += nl + vl + 4;
    b->data[b->len] = '\0';
    return 0;
}
