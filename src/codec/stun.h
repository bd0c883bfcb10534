/*
 * stun: STUN messages (RFC 5389) as TR-111 Part 2 uses them: Binding
 * Requests, their success and error responses, the address attributes
 * (XOR-MAPPED-ADDRESS, MAPPED-ADDRESS), USERNAME, MESSAGE-INTEGRITY
 * (HMAC-SHA1, short-term credentials), FINGERPRINT, ERROR-CODE,
 * UNKNOWN-ATTRIBUTES and TR-111's CONNECTION-REQUEST-BINDING (0xC001) and
 * BINDING-CHANGE (0xC002). Messages without RFC 5389's magic cookie
 * (RFC 3489 clients) are refused.
 *
 * Pure: no I/O, no logging, no allocation. The parser reads a datagram in
 * place (attribute values point into it; keep the datagram while the
 * result is used); every length is checked against the datagram, and a
 * datagram longer than STUN_MAX is refused. The encoder writes into the
 * caller's buffer and reports overflow once at the end. The ACS's STUN
 * server (src/acs/acs_stun.c) and cpe-sim's client (src/cpesim/stun.c) use
 * it.
 */
#ifndef OUTPOST_CODEC_STUN_H
#define OUTPOST_CODEC_STUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
    STUN_HDR = 20,
    STUN_MAX = 1280,           /* no datagram larger is parsed (RFC 5389 7.1: fits the path MTU) */
    STUN_MAGIC = 0x2112A442,
    STUN_TID = 12,
    STUN_BINDING_REQUEST = 0x0001,
    STUN_BINDING_RESPONSE = 0x0101,
    STUN_BINDING_ERROR = 0x0111,
    STUN_BINDING_INDICATION = 0x0011,
    /* attributes */
    STUN_A_MAPPED_ADDRESS = 0x0001,
    STUN_A_USERNAME = 0x0006,
    STUN_A_MESSAGE_INTEGRITY = 0x0008,
    STUN_A_ERROR_CODE = 0x0009,
    STUN_A_UNKNOWN_ATTRIBUTES = 0x000A,
    STUN_A_REALM = 0x0014,
    STUN_A_NONCE = 0x0015,
    STUN_A_XOR_MAPPED_ADDRESS = 0x0020,
    STUN_A_SOFTWARE = 0x8022,
    STUN_A_ALTERNATE_SERVER = 0x8023,
    STUN_A_FINGERPRINT = 0x8028,
    STUN_A_CONNECTION_REQUEST_BINDING = 0xC001, /* TR-111 2.2.1.1 */
    STUN_A_BINDING_CHANGE = 0xC002,             /* TR-111 2.2.1.2 */
    STUN_USERNAME_MAX = 513,   /* RFC 5389 15.3 */
    STUN_UNKNOWN_MAX = 8,      /* unknown comprehension-required attributes reported */
};

/* The value of CONNECTION-REQUEST-BINDING (TR-111: 20 bytes, trailing space). */
#define STUN_CRB_VALUE "dslforum.org/TR-111 "
#define STUN_CRB_LEN 20

typedef struct stun_addr {
    uint8_t family;            /* 4 or 6 */
    uint16_t port;
    uint8_t ip[16];            /* 4 bytes used for IPv4 */
} stun_addr_t;

typedef struct stun_msg {
    uint16_t type;
    uint16_t len;              /* the attributes' length (header excluded) */
    uint8_t tid[STUN_TID];
    bool has_xor_mapped, has_mapped;
    stun_addr_t xor_mapped, mapped; /* xor_mapped already un-XORed */
    const char *username;      /* into the datagram, not NUL-terminated; NULL when absent */
    size_t username_len;
    bool has_integrity;
    size_t integrity_off;      /* offset of the MESSAGE-INTEGRITY attribute's header */
    bool has_fingerprint;
    bool fingerprint_ok;
    int error_code;            /* ERROR-CODE: 300..699; 0 when absent */
    bool crb;                  /* CONNECTION-REQUEST-BINDING with TR-111's value */
    bool binding_change;       /* BINDING-CHANGE */
    uint16_t unknown[STUN_UNKNOWN_MAX]; /* comprehension-required attributes not understood */
    size_t n_unknown;
} stun_msg_t;

/* 0, or -EPROTO with *why (static text). Attributes after MESSAGE-INTEGRITY
 * other than FINGERPRINT are ignored (RFC 5389 15.4); FINGERPRINT must be
 * last; a wrong FINGERPRINT is -EPROTO. */
int stun_parse(const uint8_t *p, size_t n, stun_msg_t *m, const char **why);

/* MESSAGE-INTEGRITY checked with a short-term key (the password's bytes). */
bool stun_integrity_ok(const uint8_t *p, size_t n, const stun_msg_t *m, const char *key, size_t keylen);

/* Between socket addresses and STUN's form: -EAFNOSUPPORT for others. */
struct sockaddr;
struct sockaddr_storage;
int stun_addr_from_sockaddr(const struct sockaddr *sa, stun_addr_t *a);
void stun_addr_to_sockaddr(const stun_addr_t *a, struct sockaddr_storage *ss);

/* ---- encoding ------------------------------------------------------------------ */

typedef struct stun_enc {
    uint8_t *p;
    size_t cap, len;
    bool overflow;
} stun_enc_t;

void stun_enc_start(stun_enc_t *e, uint8_t *buf, size_t cap, uint16_t type, const uint8_t tid[STUN_TID]);
void stun_enc_attr(stun_enc_t *e, uint16_t type, const void *v, size_t n);
/* MAPPED-ADDRESS (xor false) or XOR-MAPPED-ADDRESS (xor true). */
void stun_enc_addr(stun_enc_t *e, bool xor, const stun_addr_t *a);
/* ERROR-CODE: code 300..699 with a reason phrase. */
void stun_enc_error(stun_enc_t *e, int code, const char *reason);
void stun_enc_unknown(stun_enc_t *e, const uint16_t *types, size_t n);
void stun_enc_integrity(stun_enc_t *e, const char *key, size_t keylen);
void stun_enc_fingerprint(stun_enc_t *e);
/* The message's length, or 0 when it did not fit. */
size_t stun_enc_end(stun_enc_t *e);

#endif
