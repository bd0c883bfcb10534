/* keyhash: PBKDF2-HMAC-SHA256 key hashes (see keyhash.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "core/str.h"
#include "tunnel/keyhash.h"

static const char PREFIX[] = "pbkdf2-sha256$";

/* Exactly outlen bytes in lowercase hex, the form tunnel_keyhash_make writes. */
static int unhex(const char *s, size_t n, unsigned char *out, size_t outlen)
{
    if (n != 2 * outlen || !str_hex_lower(s, n) || str_unhex(s, n, out, outlen) < 0)
        return -EINVAL;
    return 0;
}

typedef struct parsed {
    unsigned iter;
    unsigned char salt[TUNNEL_KEYHASH_SALT];
    unsigned char dk[TUNNEL_KEYHASH_DK];
} parsed_t;

static int parse(const char *stored, parsed_t *p)
{
    if (!stored || strncmp(stored, PREFIX, sizeof PREFIX - 1) != 0)
        return -EINVAL;
    const char *s = stored + sizeof PREFIX - 1;
    const char *d1 = strchr(s, '$');
    if (!d1)
        return -EINVAL;
    const char *d2 = strchr(d1 + 1, '$');
    if (!d2)
        return -EINVAL;
    char num[16];
    int64_t iter;
    if ((size_t)(d1 - s) >= sizeof num)
        return -EINVAL;
    memcpy(num, s, (size_t)(d1 - s));
    num[d1 - s] = '\0';
    if (str_to_i64(num, TUNNEL_KEYHASH_ITER_MIN, TUNNEL_KEYHASH_ITER_MAX, &iter) != 0)
        return -EINVAL;
    p->iter = (unsigned)iter;
    if (unhex(d1 + 1, (size_t)(d2 - d1 - 1), p->salt, sizeof p->salt) != 0 ||
        unhex(d2 + 1, strlen(d2 + 1), p->dk, sizeof p->dk) != 0)
        return -EINVAL;
    return 0;
}

bool tunnel_keyhash_valid(const char *stored)
{
    parsed_t p;
    return parse(stored, &p) == 0;
}

static int derive(const char *key, size_t keylen, const unsigned char *salt, unsigned iter,
                  unsigned char *dk)
{
    if (PKCS5_PBKDF2_HMAC(key, (int)keylen, salt, TUNNEL_KEYHASH_SALT, (int)iter, EVP_sha256(),
                          TUNNEL_KEYHASH_DK, dk) != 1)
        return -EIO;
    return 0;
}

int tunnel_keyhash_make(const char *key, size_t keylen, unsigned iterations, char *out,
                        size_t outlen)
{
    if (keylen == 0 || keylen > 1024 || iterations < TUNNEL_KEYHASH_ITER_MIN ||
        iterations > TUNNEL_KEYHASH_ITER_MAX)
        return -EINVAL;
    unsigned char salt[TUNNEL_KEYHASH_SALT], dk[TUNNEL_KEYHASH_DK];
    int rc = str_random(salt, sizeof salt);
    if (rc != 0)
        return rc;
    if ((rc = derive(key, keylen, salt, iterations, dk)) != 0)
        return rc;
    char sh[2 * sizeof salt + 1], dh[2 * sizeof dk + 1];
    str_hex(salt, sizeof salt, sh);
    str_hex(dk, sizeof dk, dh);
    OPENSSL_cleanse(dk, sizeof dk);
    int n = snprintf(out, outlen, "%s%u$%s$%s", PREFIX, iterations, sh, dh);
    return n > 0 && (size_t)n < outlen ? 0 : -ENAMETOOLONG;
}

int tunnel_keyhash_verify(const char *stored, const char *key, size_t keylen)
{
    parsed_t p;
    if (parse(stored, &p) != 0)
        return -EINVAL;
    unsigned char dk[TUNNEL_KEYHASH_DK];
    if (keylen == 0 || keylen > 1024 || derive(key, keylen, p.salt, p.iter, dk) != 0)
        return -EACCES;
    bool ok = CRYPTO_memcmp(dk, p.dk, sizeof dk) == 0;
    OPENSSL_cleanse(dk, sizeof dk);
    return ok ? 0 : -EACCES;
}
