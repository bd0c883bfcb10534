/*
 * Fuzz harness: codec/socks5. The input is fed as a SOCKS5 server would see
 * it: a greeting, then (when the input's first byte is odd) a username/
 * password message, then a request, each parser taking what the previous
 * one left, in pieces whose sizes come from the input too (so every "need
 * more" path is walked). Whatever parses must be consistent (lengths within
 * the input, strings NUL-terminated and as long as said), and a request
 * that parses must survive the encoder's round trip.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "codec/socks5.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Feed p[0..n) to a parser a few bytes more at a time, as reads would
 * deliver it: once it has answered (not 0) with fewer bytes, it must
 * answer the same with all of them. */
typedef int (*parse_fn)(const uint8_t *p, size_t n, void *out, int *reply, const char **why);

static int greeting(const uint8_t *p, size_t n, void *out, int *reply, const char **why)
{
    (void)reply;
    return socks5_parse_greeting(p, n, out, why);
}

static int userpass(const uint8_t *p, size_t n, void *out, int *reply, const char **why)
{
    (void)reply;
    int rc = socks5_parse_userpass(p, n, out, why);
    if (rc > 0) {
        const socks5_userpass_t *u = out;
        if (u->user_len == 0 || u->user[u->user_len] != '\0' || u->pass[u->pass_len] != '\0' ||
            (size_t)rc != 3 + u->user_len + u->pass_len)
            abort();
    }
    return rc;
}

static int request(const uint8_t *p, size_t n, void *out, int *reply, const char **why)
{
    int rc = socks5_parse_request(p, n, out, reply, why);
    if (rc < 0 && !(*reply == SOCKS5_NO_REPLY || (*reply >= 1 && *reply <= 8)))
        abort();
    if (rc > 0) {
        const socks5_request_t *rq = out;
        size_t hl = strlen(rq->host);
        if (rq->cmd != SOCKS5_CMD_CONNECT || rq->port == 0 || hl == 0 || hl > SOCKS5_HOST_MAX)
            abort();
        uint8_t enc[SOCKS5_REQUEST_MAX];
        size_t en = socks5_encode_request(enc, sizeof enc, rq->cmd, rq->host, rq->port);
        socks5_request_t back;
        const char *w;
        int r2;
        if (en == 0 || socks5_parse_request(enc, en, &back, &r2, &w) != (int)en ||
            back.port != rq->port)
            abort();
        /* the same text back, except for a domain that reads as an address
         * ("0::1"), which goes back as that address */
        if (back.atyp == rq->atyp ? strcmp(back.host, rq->host) != 0
                                  : rq->atyp != SOCKS5_ATYP_DOMAIN || back.atyp == SOCKS5_ATYP_DOMAIN)
            abort();
    }
    return rc;
}

static size_t step(const uint8_t *data, size_t size, size_t *at, parse_fn fn, void *out)
{
    size_t avail = size - *at, chunk = 1 + (avail ? data[*at] % 7 : 0), have = 0;
    int reply = 0, rc = 0;
    const char *why = NULL;
    while (have < avail) {
        have = have + chunk < avail ? have + chunk : avail;
        rc = fn(data + *at, have, out, &reply, &why);
        if (rc != 0)
            break;
    }
    if (rc < 0 && !why)
        abort(); /* every refusal has a reason */
    if (rc > 0) {
        if ((size_t)rc > have)
            abort();
        /* the same answer from all the bytes at once */
        int again = fn(data + *at, avail, out, &reply, &why);
        if (again != rc)
            abort();
        *at += (size_t)rc;
    }
    return rc > 0 ? (size_t)rc : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int with_auth = data[0] & 1;
    size_t at = 1;
    socks5_greeting_t g;
    socks5_userpass_t up;
    socks5_request_t rq;
    if (!step(data, size, &at, greeting, &g))
        return 0;
    if (with_auth && !step(data, size, &at, userpass, &up))
        return 0;
    step(data, size, &at, request, &rq);
    uint8_t out[SOCKS5_REPLY_LEN];
    if (socks5_reply(out, (socks5_reply_t)(data[0] % 9)) != SOCKS5_REPLY_LEN || out[0] != 5)
        abort();
    return 0;
}
