#include "core/buf.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void buf_init(buf_t *b, size_t max)
{
    *b = BUF_INIT(max);
}

void buf_free(buf_t *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

void buf_wipe(buf_t *b)
{
    if (b->data)
        explicit_bzero(b->data, b->cap); /* not optimised away, unlike memset before free */
    b->len = 0;
}

void buf_free_secret(buf_t *b)
{
    buf_wipe(b);
    buf_free(b);
}

void buf_reset(buf_t *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

void buf_reset_keep(buf_t *b, size_t keep)
{
    if (b->cap > keep)
        buf_free(b);
    else
        buf_reset(b);
}

/* The capacity that holds `extra` more bytes: 0 when the buffer already
 * does, -ENOBUFS past max. */
static int grown_cap(const buf_t *b, size_t extra, size_t *ncap)
{
    *ncap = 0;
    if (extra > b->max - b->len)
        return -ENOBUFS;
    size_t need = b->len + extra + 1; /* +1 keeps room for the NUL */
    if (need <= b->cap)
        return 0;
    size_t n = b->cap ? b->cap : 64;
    while (n < need)
        n = n > SIZE_MAX / 2 ? need : n * 2;
    if (n > b->max + 1 && need <= b->max + 1)
        n = b->max + 1;
    *ncap = n;
    return 0;
}

int buf_reserve(buf_t *b, size_t extra)
{
    size_t ncap;
    int rc = grown_cap(b, extra, &ncap);
    if (rc || !ncap)
        return rc;
    char *p = realloc(b->data, ncap);
    if (!p)
        return -ENOMEM;
    b->data = p;
    b->cap = ncap;
    return 0;
}

int buf_reserve_secret(buf_t *b, size_t extra)
{
    size_t ncap;
    int rc = grown_cap(b, extra, &ncap);
    if (rc || !ncap)
        return rc;
    char *p = malloc(ncap);
    if (!p)
        return -ENOMEM;
    if (b->data) {
        memcpy(p, b->data, b->len + 1);
        explicit_bzero(b->data, b->cap);
        free(b->data);
    }
    b->data = p;
    b->cap = ncap;
    return 0;
}

int buf__append_grow(buf_t *b, const void *p, size_t n)
{
    int rc = buf_reserve(b, n);
    if (rc)
        return rc;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int buf_vprintf(buf_t *b, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    char small[256];
    int n = vsnprintf(small, sizeof small, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        return -EINVAL;
    if ((size_t)n < sizeof small)
        return buf_append(b, small, (size_t)n);
    int rc = buf_reserve(b, (size_t)n);
    if (rc)
        return rc;
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return 0;
}

int buf_printf(buf_t *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = buf_vprintf(b, fmt, ap);
    va_end(ap);
    return rc;
}

void buf_consume(buf_t *b, size_t n)
{
    if (n >= b->len) {
        buf_reset(b);
        return;
    }
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
    b->data[b->len] = '\0';
}

char *buf_steal(buf_t *b, size_t *len)
{
    char *p = b->data;
    if (len)
        *len = b->len;
    b->data = NULL;
    b->len = b->cap = 0;
    return p;
}
