/*
 * socks5: the messages of a SOCKS5 server (RFC 1928: method selection and
 * CONNECT requests; RFC 1929: username/password authentication). Pure: no
 * I/O, no logging, no allocation, no global state. The agent's SOCKS
 * listener (src/tunnel/ag_socks.c) owns the connection and its buffer and
 * feeds what it has read so far.
 *
 * Every parser takes the bytes received so far and returns the number of
 * bytes the message used (> 0), 0 when more bytes are needed, or -EPROTO
 * with *why set (a static reason for the log) and, for requests, *reply set
 * to the reply code the client should get before the connection is closed
 * (SOCKS5_NO_REPLY when the bytes are not SOCKS5 at all). Strings in the
 * results are copied into the result structs (NUL-terminated), so they stay
 * valid after the input buffer is reused.
 */
#ifndef OUTPOST_CODEC_SOCKS5_H
#define OUTPOST_CODEC_SOCKS5_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
    SOCKS5_VERSION = 5,
    SOCKS5_AUTH_VERSION = 1, /* RFC 1929's sub-negotiation version */
    SOCKS5_METHOD_NONE = 0x00,
    SOCKS5_METHOD_USERPASS = 0x02,
    SOCKS5_METHOD_UNACCEPTABLE = 0xFF,
    SOCKS5_CMD_CONNECT = 1,
    SOCKS5_CMD_BIND = 2,
    SOCKS5_CMD_UDP = 3,
    SOCKS5_ATYP_IPV4 = 1,
    SOCKS5_ATYP_DOMAIN = 3,
    SOCKS5_ATYP_IPV6 = 4,
    SOCKS5_HOST_MAX = 255,      /* a domain's length byte */
    SOCKS5_CRED_MAX = 255,      /* RFC 1929 user or password */
    SOCKS5_REQUEST_MAX = 4 + 1 + 255 + 2,
    SOCKS5_REPLY_LEN = 10,      /* replies carry BND 0.0.0.0:0 */
    SOCKS5_NO_REPLY = 0x100,    /* *reply: not SOCKS5, close without a word */
};

/* Reply codes (RFC 1928 section 6). */
typedef enum socks5_reply {
    SOCKS5_REP_OK = 0,
    SOCKS5_REP_FAILURE = 1,
    SOCKS5_REP_NOT_ALLOWED = 2,
    SOCKS5_REP_NET_UNREACHABLE = 3,
    SOCKS5_REP_HOST_UNREACHABLE = 4,
    SOCKS5_REP_REFUSED = 5,
    SOCKS5_REP_TTL_EXPIRED = 6,
    SOCKS5_REP_CMD_UNSUPPORTED = 7,
    SOCKS5_REP_ATYP_UNSUPPORTED = 8,
} socks5_reply_t;

typedef struct socks5_greeting {
    bool none;     /* the client offers "no authentication" */
    bool userpass; /* ... and/or username/password */
} socks5_greeting_t;

typedef struct socks5_userpass {
    char user[SOCKS5_CRED_MAX + 1];
    size_t user_len;
    char pass[SOCKS5_CRED_MAX + 1];
    size_t pass_len;
} socks5_userpass_t;

typedef struct socks5_request {
    uint8_t cmd;                      /* SOCKS5_CMD_* (others are refused by the parser) */
    uint8_t atyp;                     /* SOCKS5_ATYP_* */
    char host[SOCKS5_HOST_MAX + 1];   /* IP literal as text, or the domain as sent */
    uint16_t port;
} socks5_request_t;

/* VER NMETHODS METHODS... */
int socks5_parse_greeting(const uint8_t *p, size_t n, socks5_greeting_t *out, const char **why);
/* VER(1) ULEN UNAME PLEN PASSWD */
int socks5_parse_userpass(const uint8_t *p, size_t n, socks5_userpass_t *out, const char **why);
/* VER CMD RSV ATYP DST.ADDR DST.PORT. A domain must be 1..255 bytes without
 * NUL or control bytes (whether it is a usable DNS name is the caller's
 * question); port 0 is refused. */
int socks5_parse_request(const uint8_t *p, size_t n, socks5_request_t *out, int *reply,
                         const char **why);

/* The server's answers; each returns the bytes written. */
size_t socks5_method_reply(uint8_t out[2], uint8_t method);
size_t socks5_userpass_reply(uint8_t out[2], bool ok);
size_t socks5_reply(uint8_t out[SOCKS5_REPLY_LEN], socks5_reply_t code);

/* A client's CONNECT request for host (an IPv4/IPv6 literal is sent as
 * such, anything else as a domain) and port: for tests and the fuzz
 * harness's round trip. Returns its length, or 0 when it does not fit. */
size_t socks5_encode_request(uint8_t *out, size_t cap, uint8_t cmd, const char *host,
                             uint16_t port);

const char *socks5_reply_name(int code);

#endif
