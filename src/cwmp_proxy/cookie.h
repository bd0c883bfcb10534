/*
 * cookie: the little Cookie / Set-Cookie handling the cwmp-proxy needs for
 * session stickiness (RFC 6265 syntax, lenient the way CPE HTTP stacks are).
 * Pure string functions; outputs go to caller-sized storage or a capped buf_t.
 */
#ifndef OUTPOST_CWMP_PROXY_COOKIE_H
#define OUTPOST_CWMP_PROXY_COOKIE_H

#include <stdbool.h>
#include <stddef.h>

#include "core/buf.h"

/* Value of cookie `name` in a Cookie header ("a=1; b=2"), into out.
 * 0, -ENOENT, or -ENAMETOOLONG (value longer than outlen-1). */
int cookie_get(const char *header, const char *name, char *out, size_t outlen);
/* The Cookie header without cookie `name` (appended to out; "" when none
 * is left). 0 or -ENOBUFS. */
int cookie_strip(const char *header, const char *name, buf_t *out);
/* Walk the "name=value" pairs of a Cookie header: returns 1 and the pair in
 * out (trimmed), 0 at the end. *pos starts at 0. Over-long pairs are skipped. */
int cookie_next_pair(const char *header, size_t *pos, char *out, size_t outlen);
/* The "name=value" part of a Set-Cookie value ("a=1; Path=/"). 0 or -EINVAL
 * / -ENAMETOOLONG. A Set-Cookie that deletes the cookie (Max-Age=0 or an
 * expiry in the past is not parsed; Max-Age<=0 only) sets *deleted. */
int cookie_set_pair(const char *set_cookie, char *out, size_t outlen, bool *deleted);

#endif
