/*
 * http_auth_param: the auth-param list parser behind http_auth (RFC 7235
 * section 2.1 with the RFC 7230 #rule), shared by the server side
 * (Authorization) and the client side (WWW-Authenticate).
 */
#include "net/http_auth_param.h"

#include <errno.h>
#include <string.h>
#include <strings.h>

#include "core/str.h"

bool http_auth_param_is_tchar(unsigned char c)
{
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
        return true;
    return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static bool is_t68char(unsigned char c)
{
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
        return true;
    return c && strchr("-._~+/", c) != NULL;
}

bool http_auth_param_is_ctl(unsigned char c) { return (c < 0x20 && c != '\t') || c == 0x7f; }

static size_t skip_ows(const char *s, size_t i)
{
    while (s[i] == ' ' || s[i] == '\t')
        i++;
    return i;
}

static size_t scan_token(const char *s, size_t i)
{
    while (http_auth_param_is_tchar((unsigned char)s[i]))
        i++;
    return i;
}

static char *ap_keep(http_auth_params_t *ap, const char *src, size_t n)
{
    if (ap->used + n + 1 > sizeof ap->store)
        return NULL;
    char *d = ap->store + ap->used;
    memcpy(d, src, n);
    d[n] = '\0';
    ap->used += n + 1;
    return d;
}

/* A quoted-string at s[i] == '"', unescaped into the store. */
static int ap_quoted(http_auth_params_t *ap, const char *s, size_t *pos, http_auth_param_t *p)
{
    size_t i = *pos + 1;
    char *d = ap->store + ap->used, *start = d;
    char *end = ap->store + sizeof ap->store - 1;
    for (;;) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"')
            break;
        if (c == '\\') {
            c = (unsigned char)s[++i];
            if (!c)
                return -EINVAL;
        }
        if (!c || http_auth_param_is_ctl(c))
            return -EINVAL; /* unterminated, or CR/LF/NUL smuggled inside */
        if (d == end)
            return -E2BIG;
        *d++ = (char)c;
        i++;
    }
    *d = '\0';
    p->value = start;
    p->vlen = (size_t)(d - start);
    ap->used += p->vlen + 1;
    *pos = i + 1;
    return 0;
}

static const http_auth_param_t *ap_get(const http_auth_params_t *ap, const char *name)
{
    for (size_t i = 0; i < ap->nparams; i++)
        if (!strcasecmp(ap->p[i].name, name))
            return &ap->p[i];
    return NULL;
}

const char *http_auth_param_get(const http_auth_params_t *ap, const char *name)
{
    const http_auth_param_t *p = ap_get(ap, name);
    return p ? p->value : NULL;
}

static int ap_param(http_auth_params_t *ap, const char *s, size_t *pos)
{
    size_t i = *pos, e = scan_token(s, i);
    if (e == i)
        return -EINVAL;
    if (e - i >= HTTP_AUTH_PARAM_NAME_MAX)
        return -E2BIG;
    if (ap->nparams == HTTP_AUTH_PARAM_MAX)
        return -E2BIG;
    http_auth_param_t *p = &ap->p[ap->nparams];
    memcpy(p->name, s + i, e - i);
    p->name[e - i] = '\0';
    if (ap_get(ap, p->name))
        return -EINVAL; /* duplicated: which one would the other side use? */
    i = skip_ows(s, e);
    if (s[i] != '=')
        return -EINVAL;
    i = skip_ows(s, i + 1);
    if (s[i] == '"') {
        int rc = ap_quoted(ap, s, &i, p);
        if (rc)
            return rc;
    } else {
        e = scan_token(s, i);
        if (e == i)
            return -EINVAL;
        p->vlen = e - i;
        if (!(p->value = ap_keep(ap, s + i, p->vlen)))
            return -E2BIG;
        i = e;
    }
    ap->nparams++;
    *pos = i;
    return 0;
}

int http_auth_param_parse(const char *s, size_t *pos, http_auth_params_t *ap)
{
    size_t i = *pos, e;
    ap->nparams = 0;
    ap->used = 0;
    ap->token68 = NULL;
    while (s[i = skip_ows(s, i)] == ',')
        i++; /* empty list elements are allowed */
    if (!s[i])
        return -ENOENT;
    e = scan_token(s, i);
    if (e == i)
        return -EINVAL;
    if (e - i >= HTTP_AUTH_PARAM_NAME_MAX)
        return -E2BIG;
    memcpy(ap->scheme, s + i, e - i);
    ap->scheme[e - i] = '\0';
    i = skip_ows(s, e);
    if (!s[i] || s[i] == ',') {
        *pos = i;
        return 0; /* a scheme alone */
    }
    if (i == e)
        return -EINVAL; /* the scheme must be followed by a space */

    /* token68, if nothing but '=' padding and the end of the element follow */
    for (e = i; is_t68char((unsigned char)s[e]); e++)
        ;
    if (e > i) {
        size_t q = e;
        while (s[q] == '=')
            q++;
        size_t r = skip_ows(s, q);
        if (!s[r] || s[r] == ',') {
            if (!(ap->token68 = ap_keep(ap, s + i, q - i)))
                return -E2BIG;
            *pos = r;
            return 0;
        }
    }
    for (;;) {
        int rc = ap_param(ap, s, &i);
        if (rc)
            return rc;
        i = skip_ows(s, i);
        if (!s[i])
            break;
        if (s[i] != ',')
            return -EINVAL;
        while (s[i] == ',' || s[i] == ' ' || s[i] == '\t')
            i++;
        if (!s[i])
            break;
        e = scan_token(s, i);
        if (e == i || s[skip_ows(s, e)] != '=')
            break; /* not name=value: the next challenge starts here */
    }
    *pos = i;
    return 0;
}

bool http_auth_param_qop_has_auth(const char *v)
{
    while (*v) {
        while (*v == ' ' || *v == '\t' || *v == ',')
            v++;
        const char *t = v;
        while (*v && *v != ',' && *v != ' ' && *v != '\t')
            v++;
        if (str_ieq_n(t, (size_t)(v - t), "auth"))
            return true;
    }
    return false;
}

