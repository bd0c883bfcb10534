/*
 * udpcr: the UDP connection request message (TR-069 Annex G.2.1.3, TR-111
 * Part 2 2.2.1.3): an HTTP/1.1 GET in one datagram,
 *
 *   GET http://HOST:PORT?ts=TS&id=ID&un=USER&cn=CNONCE&sig=SIG HTTP/1.1
 *   Host: HOST:PORT
 *
 * where HOST:PORT is the CPE's UDPConnectionRequestAddress, ts the sender's
 * time (seconds since the epoch), id a message id that stays the same for
 * the copies of one request, un the connection request username, cn a
 * random cnonce, and sig the HMAC-SHA1 of ts, id, un and cn concatenated as
 * text, keyed with the connection request password, in hex.
 *
 * Pure: no I/O, no logging. The ACS builds (src/acs/acs_cr_udp.c), the
 * cwmp-proxy relays, cpe-sim parses and verifies (src/cpesim/stun.c); what
 * to do with ts and id (replays, stale times) is the receiver's policy.
 */
#ifndef OUTPOST_CODEC_UDPCR_H
#define OUTPOST_CODEC_UDPCR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
    UDPCR_MAX = 1400,       /* a datagram larger is not a connection request */
    UDPCR_USER_MAX = 256,   /* un, decoded */
    UDPCR_CN_MAX = 64,      /* cn */
    UDPCR_SIG_LEN = 40,     /* sig: 20 bytes in hex */
    UDPCR_HOST_MAX = 300,   /* the URI's host:port */
};

typedef struct udpcr {
    int64_t ts;
    uint32_t id;
    char un[UDPCR_USER_MAX + 1];
    char cn[UDPCR_CN_MAX + 1];
    char sig[UDPCR_SIG_LEN + 1];     /* lowercased */
    char host[UDPCR_HOST_MAX + 1];   /* the Request-URI's authority */
} udpcr_t;

/* The datagram for hostport ("1.2.3.4:5678" or "[::1]:5678"); cn NULL: a
 * random one. Returns its length, or -ENAMETOOLONG / -EINVAL. */
int udpcr_build(char *out, size_t cap, const char *hostport, int64_t ts, uint32_t id, const char *un,
                const char *cn, const char *password);
/* 0, or -EPROTO with *why (static text). */
int udpcr_parse(const char *p, size_t n, udpcr_t *m, const char **why);
/* The signature is the one the password makes (constant-time compare). */
bool udpcr_verify(const udpcr_t *m, const char *password);
/* sig for these values, 41 bytes with the NUL; "" when they are longer
 * than the caps above (never a signature a forger could guess). */
void udpcr_sign(int64_t ts, uint32_t id, const char *un, const char *cn, const char *password,
                char out[UDPCR_SIG_LEN + 1]);

#endif
