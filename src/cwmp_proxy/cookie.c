/*
 * cookie: Cookie header parsing for stickiness.
 */
#include "cwmp_proxy/cookie.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/str.h"

static bool ows(char c) { return c == ' ' || c == '\t'; }

/* The next ';'-separated item: [*b, *e) trimmed; returns false at the end. */
static bool next_item(const char *h, size_t *pos, const char **b, const char **e)
{
    const char *p = h + *pos;
    while (*p == ';' || ows(*p))
        p++;
    if (!*p)
        return false;
    const char *q = strchr(p, ';');
    if (!q)
        q = p + strlen(p);
    *pos = (size_t)(q - h);
    const char *end = q;
    while (end > p && ows(end[-1]))
        end--;
    *b = p;
    *e = end;
    return true;
}

int cookie_get(const char *header, const char *name, char *out, size_t outlen)
{
    if (!header)
        return -ENOENT;
    size_t pos = 0, nl = strlen(name);
    const char *b, *e;
    while (next_item(header, &pos, &b, &e)) {
        if ((size_t)(e - b) > nl && memcmp(b, name, nl) == 0 && b[nl] == '=') {
            const char *v = b + nl + 1;
            size_t vl = (size_t)(e - v);
            if (vl >= 2 && v[0] == '"' && v[vl - 1] == '"') {
                v++;
                vl -= 2;
            }
            return str_copyn(out, outlen, v, vl) ? -ENAMETOOLONG : 0;
        }
    }
    return -ENOENT;
}

int cookie_strip(const char *header, const char *name, buf_t *out)
{
    if (!header)
        return 0;
    size_t pos = 0, nl = strlen(name);
    const char *b, *e;
    bool first = true;
    while (next_item(header, &pos, &b, &e)) {
        if ((size_t)(e - b) > nl && memcmp(b, name, nl) == 0 && b[nl] == '=')
            continue;
        int rc = first ? 0 : buf_append(out, "; ", 2);
        if (!rc)
            rc = buf_append(out, b, (size_t)(e - b));
        if (rc)
            return rc;
        first = false;
    }
    return 0;
}

int cookie_next_pair(const char *header, size_t *pos, char *out, size_t outlen)
{
    const char *b, *e;
    while (header && next_item(header, pos, &b, &e)) {
        if (!memchr(b, '=', (size_t)(e - b)))
            continue;
        if (str_copyn(out, outlen, b, (size_t)(e - b)) == 0)
            return 1;
    }
    return 0;
}

int cookie_set_pair(const char *set_cookie, char *out, size_t outlen, bool *deleted)
{
    size_t pos = 0;
    const char *b, *e;
    if (deleted)
        *deleted = false;
    if (!set_cookie || !next_item(set_cookie, &pos, &b, &e) || !memchr(b, '=', (size_t)(e - b)) ||
        *b == '=')
        return -EINVAL;
    if (str_copyn(out, outlen, b, (size_t)(e - b)))
        return -ENAMETOOLONG;
    while (deleted && next_item(set_cookie, &pos, &b, &e)) {
        if ((size_t)(e - b) > 8 && strncasecmp(b, "max-age=", 8) == 0) {
            const char *v = b + 8;
            *deleted = *v == '-' || (strspn(v, "0") == (size_t)(e - v));
        }
    }
    return 0;
}
