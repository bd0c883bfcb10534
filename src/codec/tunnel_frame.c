/*
 * tunnel_frame: decode and encode tunnel messages (see tunnel_frame.h and
 * docs/tunnel-protocol.md). One key table drives both directions: which
 * message types a key belongs to, what msgpack type it must have, and the
 * reasons reported when it is wrong.
 */
#include <errno.h>
#include <string.h>

#include "codec/tunnel_frame.h"

enum {
    DEF_DEPTH = 8,
    DEF_OBJECTS = 1024,
};

typedef enum key_kind {
    K_NAME,   /* agent name */
    K_GUID,
    K_KEY,    /* secret: 1..TUNNEL_KEY_MAX bytes */
    K_IP,
    K_TEXT,   /* free text <= TUNNEL_TEXT_MAX */
    K_PORT,   /* uint 1..65535, or decimal str (seed peers) */
    K_UINT,   /* any uint */
    K_VERSION,
    K_WINDOW, /* uint <= TUNNEL_WINDOW_MAX */
    K_CREDIT, /* uint 1..TUNNEL_WINDOW_MAX */
    K_BYTES,  /* bin or str */
    K_MODE,
    K_BOOL,
    K_DIGEST, /* 64 lowercase hex digits */
    K_NETS,   /* comma-separated CIDRs or "*", <= TUNNEL_NETS_MAX */
} key_kind_t;

/* Message types as bits for the `in` masks. */
#define T_HS (1u << 0)
#define T_INIT (1u << 1)
#define T_DATA (1u << 2)
#define T_TERM (1u << 3)
#define T_WIN (1u << 4)
#define T_PING (1u << 5)
#define T_GOAWAY (1u << 6)
#define T_ACK (1u << 7)
#define T_HELLO (1u << 8)
#define T_PRES (1u << 9)

typedef struct key_def {
    const char *name;
    uint8_t len;
    uint32_t flag;
    key_kind_t kind;
    unsigned in;      /* message types that define this key */
    const char *bad;  /* reason when its value is wrong */
    const char *dup;  /* reason when it appears twice */
} key_def_t;

#define KEY(N, F, K, IN) \
    { N, sizeof(N) - 1, F, K, IN, "bad value for key " N, "duplicate key " N }

static const key_def_t keys[] = {
    KEY("GUID", TUNNEL_F_GUID, K_GUID, T_INIT | T_DATA | T_TERM | T_WIN | T_ACK),
    KEY("Data", TUNNEL_F_DATA, K_BYTES, T_DATA),
    KEY("Credit", TUNNEL_F_CREDIT, K_CREDIT, T_WIN),
    KEY("Name", TUNNEL_F_NAME, K_NAME, T_HS | T_HELLO | T_PRES),
    KEY("Key", TUNNEL_F_KEY, K_KEY, T_HS),
    KEY("Version", TUNNEL_F_VERSION, K_VERSION, T_HS | T_ACK | T_HELLO),
    KEY("Ip", TUNNEL_F_IP, K_IP, T_INIT),
    KEY("Port", TUNNEL_F_PORT, K_PORT, T_INIT),
    KEY("Gatename", TUNNEL_F_GATENAME, K_NAME, T_INIT),
    KEY("Window", TUNNEL_F_WINDOW, K_WINDOW, T_INIT | T_ACK),
    KEY("From", TUNNEL_F_FROM, K_NAME, T_INIT),
    KEY("Mode", TUNNEL_F_MODE, K_MODE, T_TERM),
    KEY("Reason", TUNNEL_F_REASON, K_TEXT, T_TERM | T_GOAWAY),
    KEY("Seq", TUNNEL_F_SEQ, K_UINT, T_PING),
    KEY("Code", TUNNEL_F_CODE, K_TEXT, T_GOAWAY | T_ACK),
    KEY("Ok", TUNNEL_F_OK, K_BOOL, T_ACK),
    KEY("Message", TUNNEL_F_MESSAGE, K_TEXT, T_ACK),
    KEY("MaxMessage", TUNNEL_F_MAXMSG, K_UINT, T_HS | T_ACK | T_HELLO),
    KEY("MaxWindow", TUNNEL_F_MAXWIN, K_UINT, T_ACK | T_HELLO),
    /* version 2: the gateway mesh, and names as targets */
    KEY("Digest", TUNNEL_F_DIGEST, K_DIGEST, T_HELLO),
    KEY("Gateway", TUNNEL_F_GATEWAY, K_NAME, T_PRES),
    KEY("Epoch", TUNNEL_F_EPOCH, K_UINT, T_PRES),
    KEY("Online", TUNNEL_F_ONLINE, K_BOOL, T_PRES),
    KEY("Nets", TUNNEL_F_NETS, K_NETS, T_INIT),
};

static unsigned type_bit(int type)
{
    switch (type) {
    case TUNNEL_HANDSHAKE: return T_HS;
    case TUNNEL_INITIATOR: return T_INIT;
    case TUNNEL_DATA: return T_DATA;
    case TUNNEL_TERMINATOR: return T_TERM;
    case TUNNEL_WINDOW: return T_WIN;
    case TUNNEL_PING: case TUNNEL_PONG: return T_PING;
    case TUNNEL_GOAWAY: return T_GOAWAY;
    case TUNNEL_ACK: return T_ACK;
    case TUNNEL_MESH_HELLO: return T_HELLO;
    case TUNNEL_PRESENCE: return T_PRES;
    default: return 0;
    }
}

static uint32_t required(int type)
{
    switch (type) {
    case TUNNEL_HANDSHAKE: return TUNNEL_F_NAME | TUNNEL_F_KEY;
    case TUNNEL_INITIATOR: return TUNNEL_F_GUID | TUNNEL_F_IP | TUNNEL_F_PORT | TUNNEL_F_GATENAME;
    case TUNNEL_DATA: return TUNNEL_F_GUID | TUNNEL_F_DATA;
    case TUNNEL_TERMINATOR: return TUNNEL_F_GUID;
    case TUNNEL_WINDOW: return TUNNEL_F_GUID | TUNNEL_F_CREDIT;
    case TUNNEL_PING: case TUNNEL_PONG: return TUNNEL_F_SEQ;
    case TUNNEL_ACK: return TUNNEL_F_OK;
    case TUNNEL_MESH_HELLO: return TUNNEL_F_NAME | TUNNEL_F_VERSION | TUNNEL_F_DIGEST;
    case TUNNEL_PRESENCE:
        return TUNNEL_F_NAME | TUNNEL_F_GATEWAY | TUNNEL_F_EPOCH | TUNNEL_F_ONLINE;
    default: return 0;
    }
}

static const char *missing_reason(uint32_t miss)
{
    if (miss & TUNNEL_F_GUID) return "missing key GUID";
    if (miss & TUNNEL_F_DATA) return "missing key Data";
    if (miss & TUNNEL_F_NAME) return "missing key Name";
    if (miss & TUNNEL_F_KEY) return "missing key Key";
    if (miss & TUNNEL_F_IP) return "missing key Ip";
    if (miss & TUNNEL_F_PORT) return "missing key Port";
    if (miss & TUNNEL_F_GATENAME) return "missing key Gatename";
    if (miss & TUNNEL_F_CREDIT) return "missing key Credit";
    if (miss & TUNNEL_F_SEQ) return "missing key Seq";
    if (miss & TUNNEL_F_OK) return "missing key Ok";
    if (miss & TUNNEL_F_VERSION) return "missing key Version";
    if (miss & TUNNEL_F_DIGEST) return "missing key Digest";
    if (miss & TUNNEL_F_GATEWAY) return "missing key Gateway";
    if (miss & TUNNEL_F_EPOCH) return "missing key Epoch";
    if (miss & TUNNEL_F_ONLINE) return "missing key Online";
    return "missing key";
}

bool tunnel_name_valid(const char *p, size_t n)
{
    if (n == 0 || n > TUNNEL_NAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return false;
    }
    return true;
}

static bool printable(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)p[i] <= 0x20 || (unsigned char)p[i] >= 0x7f)
            return false;
    return true;
}

bool tunnel_guid_valid(const char *p, size_t n)
{
    return n > 0 && n <= TUNNEL_GUID_MAX && printable(p, n);
}

bool tunnel_host_valid(const char *p, size_t n)
{
    if (n > 0 && p[n - 1] == '.')
        n--; /* the root's dot */
    if (n == 0 || n > TUNNEL_HOST_MAX)
        return false;
    size_t label = 0;
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        if (c == '.') {
            if (label == 0 || p[i - 1] == '-')
                return false;
            label = 0;
            continue;
        }
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_'))
            return false;
        if (c == '-' && label == 0)
            return false;
        if (++label > 63)
            return false;
    }
    return p[n - 1] != '-';
}

static bool digest_valid(const char *p, size_t n)
{
    if (n != TUNNEL_DIGEST_LEN)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'f')))
            return false;
    return true;
}

bool tunnel_str_eq(tunnel_str_t a, const char *b)
{
    size_t n = strlen(b);
    return a.n == n && memcmp(a.p, b, n) == 0;
}

const char *tunnel_type_name(int type)
{
    switch (type) {
    case TUNNEL_HANDSHAKE: return "Handshake";
    case TUNNEL_INITIATOR: return "Initiator";
    case TUNNEL_DATA: return "Data";
    case TUNNEL_TERMINATOR: return "Terminator";
    case TUNNEL_WINDOW: return "Window";
    case TUNNEL_PING: return "Ping";
    case TUNNEL_PONG: return "Pong";
    case TUNNEL_GOAWAY: return "GoAway";
    case TUNNEL_MESH_HELLO: return "MeshHello";
    case TUNNEL_PRESENCE: return "Presence";
    case TUNNEL_ACK: return "Ack";
    default: return "unknown";
    }
}

const char *tunnel_term_mode_name(tunnel_term_mode_t m)
{
    return m == TUNNEL_TERM_FIN ? "fin" : m == TUNNEL_TERM_RESET ? "reset" : "close";
}

/* ---- decoding ---------------------------------------------------------- */

int tunnel_decoder_init(tunnel_decoder_t *d, const tunnel_limits_t *lim)
{
    memset(d, 0, sizeof *d);
    if (lim)
        d->lim = *lim;
    if (!d->lim.max_message)
        d->lim.max_message = TUNNEL_MAX_MESSAGE_DEFAULT;
    if (!d->lim.max_depth)
        d->lim.max_depth = DEF_DEPTH;
    if (!d->lim.max_objects)
        d->lim.max_objects = DEF_OBJECTS;
    /* Small chunks: a valid message needs a few hundred bytes of objects. */
    return msgpack_zone_init(&d->zone, 2048) ? 0 : -ENOMEM;
}

void tunnel_decoder_free(tunnel_decoder_t *d)
{
    msgpack_zone_destroy(&d->zone);
}

static bool as_uint(const msgpack_object *o, uint64_t *v)
{
    if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
        *v = o->via.u64;
        return true;
    }
    return false;
}

static bool as_str(const msgpack_object *o, tunnel_str_t *s)
{
    if (o->type != MSGPACK_OBJECT_STR)
        return false;
    s->p = o->via.str.ptr;
    s->n = o->via.str.size;
    return true;
}

/* Port: uint, or the decimal text a seed peer may send. */
static bool as_port(const msgpack_object *o, uint16_t *port)
{
    uint64_t v = 0;
    if (!as_uint(o, &v)) {
        tunnel_str_t s;
        if (!as_str(o, &s) || s.n == 0 || s.n > 5)
            return false;
        for (size_t i = 0; i < s.n; i++) {
            if (s.p[i] < '0' || s.p[i] > '9')
                return false;
            v = v * 10 + (uint64_t)(s.p[i] - '0');
        }
    }
    if (v == 0 || v > 65535)
        return false;
    *port = (uint16_t)v;
    return true;
}

static tunnel_str_t *str_slot(tunnel_msg_t *m, uint32_t flag)
{
    switch (flag) {
    case TUNNEL_F_NAME: return &m->name;
    case TUNNEL_F_KEY: return &m->key;
    case TUNNEL_F_GUID: return &m->guid;
    case TUNNEL_F_IP: return &m->ip;
    case TUNNEL_F_GATENAME: return &m->gatename;
    case TUNNEL_F_FROM: return &m->from;
    case TUNNEL_F_REASON: return &m->reason;
    case TUNNEL_F_CODE: return &m->code;
    case TUNNEL_F_MESSAGE: return &m->message;
    case TUNNEL_F_DIGEST: return &m->digest;
    case TUNNEL_F_GATEWAY: return &m->gateway;
    case TUNNEL_F_NETS: return &m->nets;
    default: return NULL;
    }
}

static uint64_t *uint_slot(tunnel_msg_t *m, uint32_t flag)
{
    switch (flag) {
    case TUNNEL_F_VERSION: return &m->version;
    case TUNNEL_F_WINDOW: return &m->window;
    case TUNNEL_F_CREDIT: return &m->credit;
    case TUNNEL_F_SEQ: return &m->seq;
    case TUNNEL_F_MAXMSG: return &m->max_message;
    case TUNNEL_F_MAXWIN: return &m->max_window;
    case TUNNEL_F_EPOCH: return &m->epoch;
    default: return NULL;
    }
}

static bool *bool_slot(tunnel_msg_t *m, uint32_t flag)
{
    return flag == TUNNEL_F_ONLINE ? &m->online : &m->ok;
}

/* Store one known key's value; false when its type or range is wrong. */
static bool set_value(tunnel_msg_t *m, const key_def_t *k, const msgpack_object *v)
{
    tunnel_str_t s;
    uint64_t u;
    switch (k->kind) {
    case K_NAME:
        if (!as_str(v, &s) || !tunnel_name_valid(s.p, s.n))
            return false;
        *str_slot(m, k->flag) = s;
        return true;
    case K_GUID:
        if (!as_str(v, &s) || !tunnel_guid_valid(s.p, s.n))
            return false;
        m->guid = s;
        return true;
    case K_KEY:
        if (!as_str(v, &s) || s.n == 0 || s.n > TUNNEL_KEY_MAX)
            return false;
        m->key = s;
        return true;
    case K_IP:
        if (!as_str(v, &s) || s.n == 0 || s.n > TUNNEL_IP_MAX || !printable(s.p, s.n))
            return false;
        m->ip = s;
        return true;
    case K_TEXT:
        if (!as_str(v, &s) || s.n > TUNNEL_TEXT_MAX)
            return false;
        *str_slot(m, k->flag) = s;
        return true;
    case K_PORT:
        return as_port(v, &m->port);
    case K_UINT:
        if (!as_uint(v, &u))
            return false;
        *uint_slot(m, k->flag) = u;
        return true;
    case K_VERSION:
        if (!as_uint(v, &u) || u > 65535)
            return false;
        m->version = u;
        return true;
    case K_WINDOW:
        if (!as_uint(v, &u) || u > TUNNEL_WINDOW_MAX)
            return false;
        m->window = u;
        return true;
    case K_CREDIT:
        if (!as_uint(v, &u) || u == 0 || u > TUNNEL_WINDOW_MAX)
            return false;
        m->credit = u;
        return true;
    case K_BYTES:
        if (v->type == MSGPACK_OBJECT_BIN) {
            m->data.p = v->via.bin.ptr;
            m->data.n = v->via.bin.size;
            return true;
        }
        return as_str(v, &m->data);
    case K_MODE:
        if (!as_str(v, &s))
            return false;
        if (tunnel_str_eq(s, "fin"))
            m->mode = TUNNEL_TERM_FIN;
        else if (tunnel_str_eq(s, "reset"))
            m->mode = TUNNEL_TERM_RESET;
        else if (tunnel_str_eq(s, "close"))
            m->mode = TUNNEL_TERM_CLOSE;
        else
            return false;
        return true;
    case K_BOOL:
        if (v->type != MSGPACK_OBJECT_BOOLEAN)
            return false;
        *bool_slot(m, k->flag) = v->via.boolean;
        return true;
    case K_DIGEST:
        if (!as_str(v, &s) || !digest_valid(s.p, s.n))
            return false;
        m->digest = s;
        return true;
    case K_NETS:
        if (!as_str(v, &s) || s.n == 0 || s.n > TUNNEL_NETS_MAX || !printable(s.p, s.n))
            return false;
        m->nets = s;
        return true;
    }
    return false;
}

static const key_def_t *find_key(const char *p, size_t n, unsigned tbit)
{
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (keys[i].len == n && (keys[i].in & tbit) && memcmp(keys[i].name, p, n) == 0)
            return &keys[i];
    return NULL;
}

int tunnel_decode(tunnel_decoder_t *d, const uint8_t *buf, size_t len, tunnel_msg_t *out,
                  const char **why)
{
    const char *dummy;
    if (!why)
        why = &dummy;
    memset(out, 0, sizeof *out);
    if (len > d->lim.max_message) {
        *why = "message too large";
        return -EMSGSIZE;
    }
    if (len < 2) {
        *why = "message too short";
        return -EBADMSG;
    }
    out->type = buf[0];
    unsigned tbit = type_bit(buf[0]);
    if (!tbit) {
        *why = "unknown message type";
        return -ENOMSG;
    }
    const uint8_t *p = buf + 1;
    size_t n = len - 1, used = 0;
    int rc = tunnel_mp_check(p, n, d->lim.max_depth, d->lim.max_objects, &used, why);
    if (rc != 0)
        return rc;
    if (used != n) {
        *why = "trailing bytes after the msgpack map";
        return -EBADMSG;
    }
    /* fixmap 0x80-0x8f, map16 0xde, map32 0xdf */
    if (!((p[0] & 0xf0) == 0x80 || p[0] == 0xde || p[0] == 0xdf)) {
        *why = "payload is not a msgpack map";
        return -EBADMSG;
    }
    msgpack_zone_clear(&d->zone);
    msgpack_object obj;
    size_t off = 0;
    msgpack_unpack_return ur = msgpack_unpack((const char *)p, n, &off, &d->zone, &obj);
    if (ur == MSGPACK_UNPACK_NOMEM_ERROR) {
        *why = "out of memory";
        return -ENOMEM;
    }
    if (ur != MSGPACK_UNPACK_SUCCESS || obj.type != MSGPACK_OBJECT_MAP) {
        *why = "malformed msgpack";
        return -EBADMSG;
    }
    const msgpack_object_map *map = &obj.via.map;
    for (uint32_t i = 0; i < map->size; i++) {
        const msgpack_object *k = &map->ptr[i].key;
        if (k->type != MSGPACK_OBJECT_STR) {
            *why = "map key is not a string";
            return -EBADMSG;
        }
        const key_def_t *kd = find_key(k->via.str.ptr, k->via.str.size, tbit);
        if (!kd)
            continue; /* unknown here: forward compatibility */
        if (out->has & kd->flag) {
            *why = kd->dup;
            return -EBADMSG;
        }
        if (!set_value(out, kd, &map->ptr[i].val)) {
            *why = kd->bad;
            return -EBADMSG;
        }
        out->has |= kd->flag;
    }
    uint32_t miss = required(out->type) & ~out->has;
    if (miss) {
        *why = missing_reason(miss);
        return -EBADMSG;
    }
    return 0;
}

/* ---- encoding ---------------------------------------------------------- */

static int buf_write_cb(void *data, const char *p, size_t n)
{
    return buf_append((buf_t *)data, p, n) == 0 ? 0 : -1;
}

static int pack_key(msgpack_packer *pk, const char *k)
{
    size_t n = strlen(k);
    return msgpack_pack_str_with_body(pk, k, n);
}

static int pack_strv(msgpack_packer *pk, const char *k, tunnel_str_t v)
{
    if (pack_key(pk, k) != 0 || msgpack_pack_str_with_body(pk, v.p ? v.p : "", v.n) != 0)
        return -1;
    return 0;
}

static int pack_uint(msgpack_packer *pk, const char *k, uint64_t v)
{
    if (pack_key(pk, k) != 0 || msgpack_pack_uint64(pk, v) != 0)
        return -1;
    return 0;
}

static unsigned popcount32(uint32_t v)
{
    unsigned c = 0;
    for (; v; v &= v - 1)
        c++;
    return c;
}

/* Refuse to emit what our own decoder would reject. */
static bool encodable(const tunnel_msg_t *m, uint32_t has)
{
    if ((has & TUNNEL_F_GUID) && !tunnel_guid_valid(m->guid.p, m->guid.n))
        return false;
    if ((has & TUNNEL_F_NAME) && !tunnel_name_valid(m->name.p, m->name.n))
        return false;
    if ((has & TUNNEL_F_GATENAME) && !tunnel_name_valid(m->gatename.p, m->gatename.n))
        return false;
    if ((has & TUNNEL_F_FROM) && !tunnel_name_valid(m->from.p, m->from.n))
        return false;
    if ((has & TUNNEL_F_GATEWAY) && !tunnel_name_valid(m->gateway.p, m->gateway.n))
        return false;
    if ((has & TUNNEL_F_DIGEST) && !digest_valid(m->digest.p, m->digest.n))
        return false;
    if ((has & TUNNEL_F_NETS) &&
        (m->nets.n == 0 || m->nets.n > TUNNEL_NETS_MAX || !printable(m->nets.p, m->nets.n)))
        return false;
    if ((has & TUNNEL_F_VERSION) && m->version > 65535)
        return false;
    if ((has & TUNNEL_F_KEY) && (m->key.n == 0 || m->key.n > TUNNEL_KEY_MAX))
        return false;
    if ((has & TUNNEL_F_IP) && (m->ip.n == 0 || m->ip.n > TUNNEL_IP_MAX))
        return false;
    if ((has & TUNNEL_F_PORT) && m->port == 0)
        return false;
    if ((has & TUNNEL_F_WINDOW) && m->window > TUNNEL_WINDOW_MAX)
        return false;
    if ((has & TUNNEL_F_CREDIT) && (m->credit == 0 || m->credit > TUNNEL_WINDOW_MAX))
        return false;
    if (((has & TUNNEL_F_REASON) && m->reason.n > TUNNEL_TEXT_MAX) ||
        ((has & TUNNEL_F_MESSAGE) && m->message.n > TUNNEL_TEXT_MAX) ||
        ((has & TUNNEL_F_CODE) && m->code.n > TUNNEL_TEXT_MAX))
        return false;
    return true;
}

int tunnel_encode(buf_t *out, const tunnel_msg_t *m)
{
    unsigned tbit = type_bit(m->type);
    if (!tbit)
        return -EINVAL;
    uint32_t has = m->has | required(m->type);
    /* Only keys this type defines. */
    uint32_t allowed = 0;
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (keys[i].in & tbit)
            allowed |= keys[i].flag;
    has &= allowed;
    if (!encodable(m, has))
        return -EINVAL;
    size_t start = out->len;
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, buf_write_cb);
    uint8_t t = m->type;
    int bad = buf_append(out, &t, 1) != 0 || msgpack_pack_map(&pk, popcount32(has)) != 0;
    for (size_t i = 0; !bad && i < sizeof keys / sizeof keys[0]; i++) {
        const key_def_t *k = &keys[i];
        if (!(has & k->flag))
            continue;
        switch (k->kind) {
        case K_PORT:
            bad = pack_uint(&pk, k->name, m->port);
            break;
        case K_UINT: case K_VERSION: case K_WINDOW: case K_CREDIT:
            bad = pack_uint(&pk, k->name, *uint_slot((tunnel_msg_t *)m, k->flag));
            break;
        case K_BYTES:
            bad = pack_key(&pk, k->name) != 0 ||
                  msgpack_pack_bin_with_body(&pk, m->data.p ? m->data.p : "", m->data.n) != 0;
            break;
        case K_MODE:
            bad = pack_strv(&pk, k->name, tunnel_s(tunnel_term_mode_name(m->mode)));
            break;
        case K_BOOL:
            bad = pack_key(&pk, k->name) != 0 ||
                  (*bool_slot((tunnel_msg_t *)m, k->flag) ? msgpack_pack_true(&pk)
                                                          : msgpack_pack_false(&pk)) != 0;
            break;
        default:
            bad = pack_strv(&pk, k->name, *str_slot((tunnel_msg_t *)m, k->flag));
            break;
        }
    }
    if (bad) {
        out->len = start; /* leave the buffer as it was */
        if (out->data)
            out->data[start] = '\0';
        return -ENOBUFS;
    }
    return 0;
}

size_t tunnel_encode_data_head(uint8_t *out, const char *guid, size_t guidlen, size_t datalen)
{
    size_t n = 0;
    out[n++] = TUNNEL_DATA;
    out[n++] = 0x82; /* fixmap, 2 pairs */
    out[n++] = 0xa4;
    memcpy(out + n, "GUID", 4);
    n += 4;
    if (guidlen <= 31) {
        out[n++] = (uint8_t)(0xa0 | guidlen);
    } else {
        out[n++] = 0xd9;
        out[n++] = (uint8_t)guidlen;
    }
    memcpy(out + n, guid, guidlen);
    n += guidlen;
    out[n++] = 0xa4;
    memcpy(out + n, "Data", 4);
    n += 4;
    if (datalen <= 0xff) {
        out[n++] = 0xc4;
        out[n++] = (uint8_t)datalen;
    } else if (datalen <= 0xffff) {
        out[n++] = 0xc5;
        out[n++] = (uint8_t)(datalen >> 8);
        out[n++] = (uint8_t)datalen;
    } else {
        out[n++] = 0xc6;
        out[n++] = (uint8_t)(datalen >> 24);
        out[n++] = (uint8_t)(datalen >> 16);
        out[n++] = (uint8_t)(datalen >> 8);
        out[n++] = (uint8_t)datalen;
    }
    return n;
}
