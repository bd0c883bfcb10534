/* socks5: SOCKS5 server messages (see socks5.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "codec/socks5.h"

int socks5_parse_greeting(const uint8_t *p, size_t n, socks5_greeting_t *out, const char **why)
{
    memset(out, 0, sizeof *out);
    if (n < 1)
        return 0;
    if (p[0] != SOCKS5_VERSION) {
        *why = "not a SOCKS5 greeting";
        return -EPROTO;
    }
    if (n < 2)
        return 0;
    size_t nm = p[1];
    if (nm == 0) {
        *why = "greeting offers no method";
        return -EPROTO;
    }
    if (n < 2 + nm)
        return 0;
    for (size_t i = 0; i < nm; i++) {
        if (p[2 + i] == SOCKS5_METHOD_NONE)
            out->none = true;
        else if (p[2 + i] == SOCKS5_METHOD_USERPASS)
            out->userpass = true;
    }
    return (int)(2 + nm);
}

int socks5_parse_userpass(const uint8_t *p, size_t n, socks5_userpass_t *out, const char **why)
{
    memset(out, 0, sizeof *out);
    if (n < 1)
        return 0;
    if (p[0] != SOCKS5_AUTH_VERSION) {
        *why = "bad username/password version";
        return -EPROTO;
    }
    if (n < 2)
        return 0;
    size_t ul = p[1];
    if (ul == 0) {
        *why = "empty username";
        return -EPROTO;
    }
    if (n < 2 + ul + 1)
        return 0;
    size_t pl = p[2 + ul];
    if (n < 3 + ul + pl)
        return 0;
    memcpy(out->user, p + 2, ul);
    out->user[ul] = '\0';
    out->user_len = ul;
    memcpy(out->pass, p + 3 + ul, pl);
    out->pass[pl] = '\0';
    out->pass_len = pl;
    return (int)(3 + ul + pl);
}

static bool domain_ok(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] <= 0x20 || p[i] >= 0x7f)
            return false;
    return true;
}

int socks5_parse_request(const uint8_t *p, size_t n, socks5_request_t *out, int *reply,
                         const char **why)
{
    memset(out, 0, sizeof *out);
    *reply = SOCKS5_REP_FAILURE;
    if (n < 1)
        return 0;
    if (p[0] != SOCKS5_VERSION) {
        *why = "not a SOCKS5 request";
        *reply = SOCKS5_NO_REPLY;
        return -EPROTO;
    }
    if (n < 4)
        return 0;
    out->cmd = p[1];
    out->atyp = p[3];
    if (p[2] != 0) {
        *why = "reserved byte not zero";
        return -EPROTO;
    }
    size_t alen, off = 4;
    switch (out->atyp) {
    case SOCKS5_ATYP_IPV4: alen = 4; break;
    case SOCKS5_ATYP_IPV6: alen = 16; break;
    case SOCKS5_ATYP_DOMAIN:
        if (n < 5)
            return 0;
        alen = p[4];
        off = 5;
        if (alen == 0) {
            *why = "empty domain name";
            *reply = SOCKS5_REP_HOST_UNREACHABLE;
            return -EPROTO;
        }
        break;
    default:
        *why = "address type not supported";
        *reply = SOCKS5_REP_ATYP_UNSUPPORTED;
        return -EPROTO;
    }
    if (n < off + alen + 2)
        return 0;
    const uint8_t *a = p + off;
    if (out->atyp == SOCKS5_ATYP_IPV4) {
        inet_ntop(AF_INET, a, out->host, sizeof out->host);
    } else if (out->atyp == SOCKS5_ATYP_IPV6) {
        inet_ntop(AF_INET6, a, out->host, sizeof out->host);
    } else {
        if (!domain_ok(a, alen)) {
            *why = "domain name with control or non-ASCII bytes";
            *reply = SOCKS5_REP_HOST_UNREACHABLE;
            return -EPROTO;
        }
        memcpy(out->host, a, alen);
        out->host[alen] = '\0';
    }
    out->port = (uint16_t)((a[alen] << 8) | a[alen + 1]);
    if (out->cmd != SOCKS5_CMD_CONNECT) {
        *why = out->cmd == SOCKS5_CMD_BIND  ? "BIND is not supported"
               : out->cmd == SOCKS5_CMD_UDP ? "UDP ASSOCIATE is not supported"
                                            : "unknown command";
        *reply = SOCKS5_REP_CMD_UNSUPPORTED;
        return -EPROTO;
    }
    if (out->port == 0) {
        *why = "port 0";
        *reply = SOCKS5_REP_NOT_ALLOWED;
        return -EPROTO;
    }
    return (int)(off + alen + 2);
}

size_t socks5_method_reply(uint8_t out[2], uint8_t method)
{
    out[0] = SOCKS5_VERSION;
    out[1] = method;
    return 2;
}

size_t socks5_userpass_reply(uint8_t out[2], bool ok)
{
    out[0] = SOCKS5_AUTH_VERSION;
    out[1] = ok ? 0 : 1;
    return 2;
}

size_t socks5_reply(uint8_t out[SOCKS5_REPLY_LEN], socks5_reply_t code)
{
    /* BND.ADDR/PORT: the address the far agent connected from is in
     * another network and means nothing to the client; 0.0.0.0:0 it is. */
    static const uint8_t tail[6] = { 0, 0, 0, 0, 0, 0 };
    out[0] = SOCKS5_VERSION;
    out[1] = (uint8_t)code;
    out[2] = 0;
    out[3] = SOCKS5_ATYP_IPV4;
    memcpy(out + 4, tail, sizeof tail);
    return SOCKS5_REPLY_LEN;
}

size_t socks5_encode_request(uint8_t *out, size_t cap, uint8_t cmd, const char *host,
                             uint16_t port)
{
    uint8_t a[16];
    size_t n = 0, hl = strlen(host);
    if (cap < SOCKS5_REQUEST_MAX)
        return 0;
    out[n++] = SOCKS5_VERSION;
    out[n++] = cmd;
    out[n++] = 0;
    if (inet_pton(AF_INET, host, a) == 1) {
        out[n++] = SOCKS5_ATYP_IPV4;
        memcpy(out + n, a, 4);
        n += 4;
    } else if (inet_pton(AF_INET6, host, a) == 1) {
        out[n++] = SOCKS5_ATYP_IPV6;
        memcpy(out + n, a, 16);
        n += 16;
    } else {
        if (hl == 0 || hl > SOCKS5_HOST_MAX)
            return 0;
        out[n++] = SOCKS5_ATYP_DOMAIN;
        out[n++] = (uint8_t)hl;
        memcpy(out + n, host, hl);
        n += hl;
    }
    out[n++] = (uint8_t)(port >> 8);
    out[n++] = (uint8_t)port;
    return n;
}

const char *socks5_reply_name(int code)
{
    static const char *const names[] = {
        "succeeded", "general failure", "not allowed by ruleset", "network unreachable",
        "host unreachable", "connection refused", "TTL expired", "command not supported",
        "address type not supported",
    };
    return code >= 0 && code < (int)(sizeof names / sizeof names[0]) ? names[code] : "unknown";
}
