/*
 * buf: growable byte buffers with a hard cap.
 *
 * Every buffer that grows with input from the network is a buf_t whose `max`
 * bounds its length; appending past it fails with -ENOBUFS and the caller turns
 * that into a protocol error (413, 1009, a SOAP fault...). The buffer owns
 * `data`; buf_free() releases it. `data` is always NUL-terminated after a
 * successful append, so text can be read as a C string without copying.
 */
#ifndef OUTPOST_CORE_BUF_H
#define OUTPOST_CORE_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <string.h>

typedef struct buf {
    char *data;   /* owned; NULL until the first append */
    size_t len;   /* bytes in use */
    size_t cap;   /* bytes allocated (always > len once allocated, for the NUL) */
    size_t max;   /* hard limit on len */
} buf_t;

#define BUF_INIT(maxlen) ((buf_t){ NULL, 0, 0, (maxlen) })

void buf_init(buf_t *b, size_t max);
void buf_free(buf_t *b);
/* Forget the contents, keep the memory (unless it grew past `keep` bytes). */
void buf_reset(buf_t *b);
void buf_reset_keep(buf_t *b, size_t keep);

/* Buffers that held a secret (a password, an Authorization value, a SASL
 * message): buf_wipe zeroes the whole allocation (not only len: a reset
 * leaves old bytes past the NUL) and empties the buffer, keeping the memory;
 * buf_free_secret wipes, then frees. A realloc while growing leaves the old
 * block unwiped, so such a buffer is sized with buf_reserve before the
 * secret goes in, or grown with buf_reserve_secret when its size is not
 * known up front. */
void buf_wipe(buf_t *b);
void buf_free_secret(buf_t *b);

/* Make room for `extra` more bytes. -ENOBUFS past max, -ENOMEM. */
int buf_reserve(buf_t *b, size_t extra);
/* The same for a buffer that holds a secret: a growth copies the bytes to
 * a new block and wipes the old one instead of leaving it to realloc. */
int buf_reserve_secret(buf_t *b, size_t extra);
/* Appends. The common case, room already allocated below the cap, is
 * inline: an XML encoder or a JSON writer appends a few bytes at a time,
 * hundreds of thousands of times per 500-parameter answer, and a call per
 * append showed in the ACS's profile. Growth, the cap and failures are
 * buf__append_grow's (buf.c). */
int buf__append_grow(buf_t *b, const void *p, size_t n);
static inline int buf_append(buf_t *b, const void *p, size_t n)
{
    /* cap > len once allocated (the NUL's byte); cap 0 takes the slow path */
    if (n < b->cap - b->len && n <= b->max - b->len) {
        if (n) /* p may be NULL with n 0: memcpy's arguments must not be */
            memcpy(b->data + b->len, p, n);
        b->len += n;
        b->data[b->len] = '\0';
        return 0;
    }
    return buf__append_grow(b, p, n);
}
static inline int buf_append_str(buf_t *b, const char *s) { return buf_append(b, s, strlen(s)); }
static inline int buf_append_byte(buf_t *b, char c) { return buf_append(b, &c, 1); }
int buf_printf(buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int buf_vprintf(buf_t *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
/* Drop the first n bytes (n > len drops all). */
void buf_consume(buf_t *b, size_t n);
/* Hand the memory to the caller (who frees it); the buffer becomes empty. */
char *buf_steal(buf_t *b, size_t *len);
/* Space left before the cap. */
static inline size_t buf_room(const buf_t *b) { return b->max - b->len; }

#endif
