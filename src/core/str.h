/*
 * str: small string and encoding helpers shared by every floor.
 *
 * All functions write into caller-provided, sized storage (or a capped buf_t)
 * and report truncation instead of overrunning. Nothing here allocates except
 * through buf_t.
 */
#ifndef OUTPOST_CORE_STR_H
#define OUTPOST_CORE_STR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

/* Copy src into dst[size]; -ENAMETOOLONG (dst still NUL-terminated) if cut. */
int str_copy(char *dst, size_t size, const char *src);
int str_copyn(char *dst, size_t size, const char *src, size_t n);
bool str_starts_with(const char *s, const char *prefix);
bool str_ends_with(const char *s, const char *suffix);
/* ASCII case-insensitive equality of s[0..n) and the C string t. */
bool str_ieq_n(const char *s, size_t n, const char *t);
/* Strict decimal parse of the whole string into [min,max]; -EINVAL/-ERANGE. */
int str_to_i64(const char *s, int64_t min, int64_t max, int64_t *out);
int str_to_u64n(const char *s, size_t n, uint64_t max, uint64_t *out);
/* Constant-time equality for secrets (length is not secret). */
bool str_ct_equal(const void *a, size_t alen, const void *b, size_t blen);
/* Trim ASCII whitespace in place at both ends; returns the new start. */
char *str_trim(char *s);

/* Hex: out must hold 2*n+1 bytes (lowercase digits). */
void str_hex(const void *in, size_t n, char *out);
/* The value 0-15 of a hex digit of either case, -1 for any other byte. */
int str_hexval(char c);
/* Decode the n hex digits at s (either case) into out[outcap]: the number
 * of bytes written (n / 2); -EINVAL for an odd n or a non-hex byte,
 * -ENOBUFS when n / 2 exceeds outcap. */
int str_unhex(const char *s, size_t n, unsigned char *out, size_t outcap);
/* Are the n bytes at s all lowercase hex digits, the one spelling str_hex
 * writes? For tokens that must have a single form. */
bool str_hex_lower(const char *s, size_t n);
/* Base64 (RFC 4648, padded). decode: -EINVAL on bad input. */
int str_base64_encode(buf_t *out, const void *in, size_t n);
int str_base64_decode(buf_t *out, const char *in, size_t n);
/* Percent-encoding. `keep` lists the extra bytes left as they are (besides
 * ALPHA / DIGIT); plus_is_space decodes '+' as ' ' (form encoding). */
int str_pct_encode(buf_t *out, const char *in, size_t n, const char *keep);
int str_pct_decode(buf_t *out, const char *in, size_t n, bool plus_is_space);
/* Append s as the inside of a JSON string ("\\", "\"", control bytes as
 * \u00XX); other bytes are copied as they are. */
int str_json_escape(buf_t *out, const char *s);

/* Fill with random bytes from the kernel (getrandom); -errno on failure.
 * Requests up to 64 bytes come from a per-thread pool of kernel bytes
 * (each byte given out once; a forked child's pool starts empty). */
int str_random(void *p, size_t n);
/* A random token of `nbytes` random bytes as lowercase hex (out: 2*nbytes+1). */
int str_random_hex(char *out, size_t nbytes);
/* A 64-bit key for hash tables and parser salts: a per-thread sequence
 * seeded once from the kernel, so making a key costs no system call.
 * Unpredictable to peers; not for secrets (use str_random). */
uint64_t str_seed64(void);

#endif
