/*
 * tunnel_frame: the tunnel's wire messages (docs/tunnel-protocol.md), one per
 * WebSocket binary message: 1 byte of type + one msgpack map. Pure: no I/O,
 * no logging, no global state.
 *
 * Decoding is defensive by construction: the size cap is checked first, then
 * tunnel_mp_check() walks the msgpack bytes without allocating and rejects any
 * array/map whose count exceeds the bytes present, excessive depth or object
 * counts; only then does msgpack-c unpack into the decoder's reusable zone.
 * Strings and Data in a decoded tunnel_msg_t point into the caller's input
 * (msgpack-c does not copy them): they are valid while the input is.
 *
 * Encoding appends to a capped buf_t; tunnel_encode_data_head() builds only a
 * Data message's header so that the payload is copied once, by the caller.
 */
#ifndef OUTPOST_CODEC_TUNNEL_FRAME_H
#define OUTPOST_CODEC_TUNNEL_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#include "core/buf.h"

enum {
    TUNNEL_PROTO_VERSION = 2,
    TUNNEL_MAX_MESSAGE_DEFAULT = 1024 * 1024,
    TUNNEL_NAME_MAX = 64,
    TUNNEL_GUID_MAX = 64,
    TUNNEL_KEY_MAX = 1024,
    TUNNEL_IP_MAX = 255,
    TUNNEL_TEXT_MAX = 1024, /* Message, Reason, Code */
    TUNNEL_NETS_MAX = 2048, /* Nets: comma-separated CIDRs (v2) */
    TUNNEL_DIGEST_LEN = 64, /* Digest: SHA-256 as lowercase hex (v2) */
    TUNNEL_HOST_MAX = 253,  /* a DNS name as an Initiator's Ip (v2) */
    TUNNEL_WINDOW_MAX = 1u << 31,
    /* Largest Data header: type, map16, "GUID" + str8 GUID, "Data" + bin32 head. */
    TUNNEL_DATA_HEAD_MAX = 1 + 3 + 5 + 2 + TUNNEL_GUID_MAX + 5 + 5,
};

typedef enum tunnel_type {
    TUNNEL_HANDSHAKE = 0x01,
    TUNNEL_INITIATOR = 0x02,
    TUNNEL_DATA = 0x03,
    TUNNEL_TERMINATOR = 0x04,
    TUNNEL_WINDOW = 0x05,    /* v1 */
    TUNNEL_PING = 0x06,      /* v1 */
    TUNNEL_PONG = 0x07,      /* v1 */
    TUNNEL_GOAWAY = 0x08,    /* v1 */
    TUNNEL_MESH_HELLO = 0x09, /* v2, gateway <-> gateway only */
    TUNNEL_PRESENCE = 0x0A,   /* v2, gateway <-> gateway only */
    TUNNEL_ACK = 0xFF,
} tunnel_type_t;

/* Terminator modes. CLOSE is what a Terminator without Mode (the seed) means. */
typedef enum tunnel_term_mode {
    TUNNEL_TERM_CLOSE = 0,
    TUNNEL_TERM_FIN = 1,
    TUNNEL_TERM_RESET = 2,
} tunnel_term_mode_t;

/* Which keys a message carries (tunnel_msg_t.has). */
enum {
    TUNNEL_F_NAME = 1u << 0,
    TUNNEL_F_KEY = 1u << 1,
    TUNNEL_F_VERSION = 1u << 2,
    TUNNEL_F_GUID = 1u << 3,
    TUNNEL_F_IP = 1u << 4,
    TUNNEL_F_PORT = 1u << 5,
    TUNNEL_F_GATENAME = 1u << 6,
    TUNNEL_F_WINDOW = 1u << 7,
    TUNNEL_F_FROM = 1u << 8,
    TUNNEL_F_DATA = 1u << 9,
    TUNNEL_F_MODE = 1u << 10,
    TUNNEL_F_REASON = 1u << 11,
    TUNNEL_F_CREDIT = 1u << 12,
    TUNNEL_F_SEQ = 1u << 13,
    TUNNEL_F_CODE = 1u << 14,
    TUNNEL_F_OK = 1u << 15,
    TUNNEL_F_MESSAGE = 1u << 16,
    TUNNEL_F_MAXMSG = 1u << 17,
    TUNNEL_F_MAXWIN = 1u << 18,
    TUNNEL_F_DIGEST = 1u << 19,  /* v2 */
    TUNNEL_F_GATEWAY = 1u << 20, /* v2 */
    TUNNEL_F_EPOCH = 1u << 21,   /* v2 */
    TUNNEL_F_ONLINE = 1u << 22,  /* v2 */
    TUNNEL_F_NETS = 1u << 23,    /* v2 */
};

/* Ack Code (v2): why a stream did not open, for programs (SOCKS replies)
 * rather than people; Message still says it in words. */
#define TUNNEL_CODE_ACL "acl"             /* no gateway rule allows it */
#define TUNNEL_CODE_WHITELIST "whitelist" /* the acceptor's --allow does not */
#define TUNNEL_CODE_OFFLINE "offline"     /* the acceptor agent is not logged in anywhere */
#define TUNNEL_CODE_REFUSED "refused"     /* the target refused the connection */
#define TUNNEL_CODE_UNREACHABLE "unreachable" /* host unreachable, connect timeout */
#define TUNNEL_CODE_NET_UNREACHABLE "net-unreachable"
#define TUNNEL_CODE_RESOLVE "resolve"     /* the acceptor could not resolve the name */
#define TUNNEL_CODE_TIMEOUT "timeout"     /* nobody answered the Initiator in time */
#define TUNNEL_CODE_LIMIT "limit"         /* too many streams */
#define TUNNEL_CODE_INVALID "invalid"     /* a malformed or unsupported request */

/* A borrowed byte string (not NUL-terminated). */
typedef struct tunnel_str {
    const char *p;
    size_t n;
} tunnel_str_t;

typedef struct tunnel_msg {
    uint8_t type;       /* tunnel_type_t */
    uint32_t has;       /* TUNNEL_F_* of the keys present */
    tunnel_str_t name, key, guid, ip, gatename, from, data, reason, code, message;
    tunnel_str_t digest, gateway, nets; /* v2 */
    uint64_t version, window, credit, seq, max_message, max_window;
    uint64_t epoch;                     /* v2 */
    uint16_t port;
    tunnel_term_mode_t mode;
    bool ok;
    bool online;                        /* v2 */
} tunnel_msg_t;

typedef struct tunnel_limits {
    size_t max_message; /* whole message incl. type byte; 0 = default 1 MiB */
    unsigned max_depth; /* msgpack nesting; 0 = default 8 */
    size_t max_objects; /* msgpack objects per message; 0 = default 1024 */
} tunnel_limits_t;

/* The decoder owns a msgpack zone reused across messages (no allocation per
 * message once warm). */
typedef struct tunnel_decoder {
    msgpack_zone zone;
    tunnel_limits_t lim;
} tunnel_decoder_t;

int tunnel_decoder_init(tunnel_decoder_t *d, const tunnel_limits_t *lim);
void tunnel_decoder_free(tunnel_decoder_t *d);

/* Decode one message. 0, or -EMSGSIZE (over max_message), -EBADMSG (anything
 * malformed), -ENOMSG (unknown type: the caller decides, by version), -ENOMEM.
 * `why` (may be NULL) gets a static reason naming the key for the log/close
 * frame. The result's strings point into `buf`. */
int tunnel_decode(tunnel_decoder_t *d, const uint8_t *buf, size_t len, tunnel_msg_t *out,
                  const char **why);

/* Structural pre-check of one msgpack object at buf[0..len): 0 and the
 * object's size in *used, or -EBADMSG (why set). No allocation. */
int tunnel_mp_check(const uint8_t *buf, size_t len, unsigned max_depth, size_t max_objects,
                    size_t *used, const char **why);

/* Append the encoding of `m` (keys per m->has; Ok for Ack always) to out.
 * 0, -ENOBUFS (cap), -EINVAL (a string over its protocol limit). */
int tunnel_encode(buf_t *out, const tunnel_msg_t *m);

/* Header of Data{GUID, Data} whose payload (datalen bytes) follows it
 * immediately; returns the header length (<= TUNNEL_DATA_HEAD_MAX). */
size_t tunnel_encode_data_head(uint8_t *out, const char *guid, size_t guidlen, size_t datalen);

/* Convenience builders (all strings borrowed). */
static inline tunnel_str_t tunnel_s(const char *s)
{
    tunnel_str_t t = { s, 0 };
    if (s)
        while (s[t.n])
            t.n++;
    return t;
}

const char *tunnel_type_name(int type);
const char *tunnel_term_mode_name(tunnel_term_mode_t m);
/* Agent names: 1..64 of [A-Za-z0-9._-]. */
bool tunnel_name_valid(const char *p, size_t n);
/* GUIDs: 1..64 printable ASCII without spaces. */
bool tunnel_guid_valid(const char *p, size_t n);
/* DNS names as targets (v2): 1..253 bytes of labels of [A-Za-z0-9_-], 1..63
 * each, separated by single dots (one trailing dot allowed), no label
 * starting or ending with '-'. Says nothing about IP literals. */
bool tunnel_host_valid(const char *p, size_t n);
bool tunnel_str_eq(tunnel_str_t a, const char *b);

#endif
