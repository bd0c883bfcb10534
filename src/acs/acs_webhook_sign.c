/*
 * acs_webhook_sign: the webhook signature (pure: OpenSSL only; unit-tested
 * against an independently computed vector in tests/unit/acs).
 *
 * signature = hex(HMAC-SHA256(secret, "<timestamp>.<body>")), timestamp in
 * decimal Unix seconds: binding the timestamp lets a receiver refuse a
 * replayed request (docs/webhooks.md).
 */
#include <errno.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <stdio.h>
#include <string.h>

#include "acs/acs_webhook.h"

int acs_webhook_sign(const char *secret, size_t secret_len, int64_t timestamp, const char *body,
                     size_t body_len, char out[ACS_WEBHOOK_SIG_HEX])
{
    static const char hex[] = "0123456789abcdef";
    char ts[24];
    int n = snprintf(ts, sizeof ts, "%" PRId64 ".", timestamp);
    if (!secret || !secret_len || (!body && body_len) || n <= 0 || secret_len > INT32_MAX)
        return -EINVAL;
    unsigned char md[EVP_MAX_MD_SIZE];
    /* streamed (no copy of the body); EVP_MAC, as HMAC_CTX is deprecated in OpenSSL 3 */
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    EVP_MAC_CTX *ctx = mac ? EVP_MAC_CTX_new(mac) : NULL;
    OSSL_PARAM params[] = { OSSL_PARAM_construct_utf8_string("digest", (char *)"SHA256", 0),
                            OSSL_PARAM_construct_end() };
    size_t outl = 0;
    int ok = ctx && EVP_MAC_init(ctx, (const unsigned char *)secret, secret_len, params) == 1 &&
             EVP_MAC_update(ctx, (const unsigned char *)ts, (size_t)n) == 1 &&
             (body_len == 0 || EVP_MAC_update(ctx, (const unsigned char *)body, body_len) == 1) &&
             EVP_MAC_final(ctx, md, &outl, sizeof md) == 1 && outl == 32;
    EVP_MAC_CTX_free(ctx);
    EVP_MAC_free(mac);
    if (!ok)
        return -EINVAL;
    for (size_t i = 0; i < outl; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[2 * outl] = '\0';
    return 0;
}
