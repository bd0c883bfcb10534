/*
 * http_auth_param: the auth-param list parser behind http_auth, internal to
 * src/net (the floors above use net/http_auth.h).
 *
 * Parses RFC 7235 challenges and credentials: `scheme token68` or
 * `scheme name=value, ...` where values are tokens or quoted strings with
 * backslash escapes; several challenges may share one header value, empty
 * list elements are skipped. Duplicated parameter names, control bytes and
 * anything past a cap are errors. Everything lives in the caller's
 * http_auth_params_t (about 9 KiB: allocate it, don't put it on a small stack).
 */
#ifndef OUTPOST_NET_HTTP_AUTH_PARAM_H
#define OUTPOST_NET_HTTP_AUTH_PARAM_H

#include <stdbool.h>
#include <stddef.h>

#include "net/http_auth.h"

enum {
    HTTP_AUTH_PARAM_MAX = 24,      /* parameters per challenge; Digest uses 11 */
    HTTP_AUTH_PARAM_NAME_MAX = 32, /* longest scheme / parameter name, with NUL */
};

typedef struct http_auth_param {
    char name[HTTP_AUTH_PARAM_NAME_MAX];
    char *value; /* unescaped, NUL-terminated, in store */
    size_t vlen;
} http_auth_param_t;

typedef struct http_auth_params {
    char scheme[HTTP_AUTH_PARAM_NAME_MAX];
    char *token68; /* e.g. Basic credentials; NULL when the scheme has params */
    size_t nparams;
    http_auth_param_t p[HTTP_AUTH_PARAM_MAX];
    size_t used;
    char store[HTTP_AUTH_HEADER_MAX + HTTP_AUTH_PARAM_MAX + 2];
} http_auth_params_t;

/* One challenge (or credentials) of s, from *pos; *pos then points at the
 * next challenge or the end. 0, -ENOENT at the end of the list, -EINVAL
 * malformed, -E2BIG past a cap. s must be at most HTTP_AUTH_HEADER_MAX long. */
int http_auth_param_parse(const char *s, size_t *pos, http_auth_params_t *ap);
/* A parameter's value by (case-insensitive) name; NULL if absent. */
const char *http_auth_param_get(const http_auth_params_t *ap, const char *name);
/* Does a qop list ("auth, auth-int") hold the token "auth"? */
bool http_auth_param_qop_has_auth(const char *v);
bool http_auth_param_is_tchar(unsigned char c);
/* Control bytes other than HTAB (CR, LF, NUL, DEL...). */
bool http_auth_param_is_ctl(unsigned char c);

#endif
