/*
 * keyhash: agent keys are stored only as salted PBKDF2-HMAC-SHA256 hashes,
 *   pbkdf2-sha256$ITERATIONS$SALT_HEX$HASH_HEX
 * made by `outpost gateway hash-key` and checked here in constant time. The
 * iteration count travels in the string, so it can be raised without
 * invalidating existing entries. Verification is slow on purpose; callers run
 * it off the event loop (uv_queue_work). No key is ever logged.
 */
#ifndef OUTPOST_TUNNEL_KEYHASH_H
#define OUTPOST_TUNNEL_KEYHASH_H

#include <stdbool.h>
#include <stddef.h>

enum {
    TUNNEL_KEYHASH_ITER_DEFAULT = 100000,
    TUNNEL_KEYHASH_ITER_MIN = 1000,
    TUNNEL_KEYHASH_ITER_MAX = 10000000,
    TUNNEL_KEYHASH_SALT = 16,
    TUNNEL_KEYHASH_DK = 32,
    TUNNEL_KEYHASH_STRLEN = 160, /* buffer size that fits any hash string */
};

/* Hash `key` with a fresh random salt into out (TUNNEL_KEYHASH_STRLEN). */
int tunnel_keyhash_make(const char *key, size_t keylen, unsigned iterations, char *out,
                        size_t outlen);
/* 0 when key matches, -EACCES when it does not, -EINVAL for a malformed hash. */
int tunnel_keyhash_verify(const char *stored, const char *key, size_t keylen);
/* Syntax check for configuration loading. */
bool tunnel_keyhash_valid(const char *stored);

#endif
