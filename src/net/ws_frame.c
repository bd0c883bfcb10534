#include "net/ws_frame.h"

#include <string.h>

enum { CONTROL_MAX = 125 };

void ws_reader_init(ws_reader_t *r, bool expect_masked, size_t max_message)
{
    memset(r, 0, sizeof *r);
    r->expect_masked = expect_masked;
    r->max_message = max_message;
    buf_init(&r->msg, max_message);
    buf_init(&r->scratch, max_message > CONTROL_MAX ? max_message : CONTROL_MAX);
}

void ws_reader_free(ws_reader_t *r)
{
    buf_free(&r->msg);
    buf_free(&r->scratch);
}

void ws_reader_trim(ws_reader_t *r, size_t keep)
{
    buf_reset_keep(&r->scratch, keep);
    if (!r->msg_op) {
        buf_reset_keep(&r->msg, keep);
        r->msg_done = false;
    }
}

/* Every payload byte a client sends or a server receives goes through here,
 * so it works 32 bytes at a time (GCC/Clang vector types; memcpy keeps loads
 * and stores legal at any alignment and for dst == src), and gets an AVX2
 * build picked at load time where the CPU has it: 2.5x the plain-x86-64
 * build, which is itself 2x a loop over 8-byte words. */
typedef uint8_t ws_mask_vec_t __attribute__((vector_size(32)));

#if defined(__x86_64__) && defined(__GLIBC__) /* clones need ifunc support */
__attribute__((target_clones("avx2", "default")))
#endif
static void mask_run(uint8_t *dst, const uint8_t *src, size_t n, const uint8_t key[4],
                     size_t phase)
{
    uint8_t k[32];
    for (int i = 0; i < 32; i++)
        k[i] = key[(phase + (size_t)i) & 3];
    ws_mask_vec_t kv;
    memcpy(&kv, k, sizeof kv);
    size_t i = 0;
    for (; i + sizeof kv <= n; i += sizeof kv) {
        ws_mask_vec_t v;
        memcpy(&v, src + i, sizeof v);
        v ^= kv;
        memcpy(dst + i, &v, sizeof v);
    }
    for (; i < n; i++)
        dst[i] = src[i] ^ k[i & 31];
}

/* (clang 14 emits no callable symbol for a target_clones function that other
 * files call, hence the wrapper) */
void ws_mask(uint8_t *dst, const uint8_t *src, size_t n, const uint8_t key[4], size_t phase)
{
    mask_run(dst, src, n, key, phase);
}

size_t ws_frame_header(uint8_t out[WS_FRAME_HEADER_MAX], int op, uint64_t len,
                       const uint8_t mask_key[4])
{
    size_t h = 0;
    uint8_t maskbit = mask_key ? 0x80 : 0;
    out[h++] = (uint8_t)(0x80 | (op & 0x0f));
    if (len < 126) {
        out[h++] = (uint8_t)(maskbit | len);
    } else if (len < 65536) {
        out[h++] = (uint8_t)(maskbit | 126);
        out[h++] = (uint8_t)(len >> 8);
        out[h++] = (uint8_t)len;
    } else {
        out[h++] = (uint8_t)(maskbit | 127);
        for (int i = 7; i >= 0; i--)
            out[h++] = (uint8_t)(len >> (8 * i));
    }
    if (mask_key) {
        memcpy(out + h, mask_key, 4);
        h += 4;
    }
    return h;
}

bool ws_utf8_valid(const uint8_t *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        /* ASCII runs, 8 bytes at a time */
        while (i + 8 <= n) {
            uint64_t v;
            memcpy(&v, s + i, 8);
            if (v & 0x8080808080808080ULL)
                break;
            i += 8;
        }
        if (i >= n)
            break;
        uint8_t c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t need;
        uint32_t cp, min;
        if (c >= 0xC2 && c <= 0xDF) {
            need = 1, cp = c & 0x1F, min = 0x80;
        } else if (c >= 0xE0 && c <= 0xEF) {
            need = 2, cp = c & 0x0F, min = 0x800;
        } else if (c >= 0xF0 && c <= 0xF4) {
            need = 3, cp = c & 0x07, min = 0x10000;
        } else {
            return false; /* continuation byte first, C0/C1, or F5..FF */
        }
        if (n - i <= need)
            return false;
        for (size_t k = 1; k <= need; k++) {
            uint8_t cc = s[i + k];
            if ((cc & 0xC0) != 0x80)
                return false;
            cp = cp << 6 | (cc & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        i += need + 1;
    }
    return true;
}

bool ws_close_code_valid(uint16_t code)
{
    /* 1004-1006 and 1015 are reserved or never sent; 1016-2999 are unassigned */
    if (code >= 3000 && code <= 4999)
        return true;
    return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014);
}

static ws_read_result_t proto_error(ws_read_event_t *ev, uint16_t code, const char *why)
{
    ev->code = code;
    ev->reason = why;
    ev->reason_len = strlen(why);
    return WS_READ_ERROR;
}

ws_read_result_t ws_reader_next(ws_reader_t *r, const uint8_t *buf, size_t len, size_t *used,
                                ws_read_event_t *ev)
{
    memset(ev, 0, sizeof *ev);
    *used = 0;
    if (r->msg_done) { /* the last assembled message was handed out */
        buf_reset(&r->msg);
        r->msg_done = false;
    }
    if (len < 2)
        return WS_READ_MORE;
    bool fin = buf[0] & 0x80;
    int op = buf[0] & 0x0f;
    bool masked = buf[1] & 0x80;
    uint64_t plen = buf[1] & 0x7f;
    size_t hl = 2;
    if (plen == 126) {
        if (len < 4)
            return WS_READ_MORE;
        plen = (uint64_t)buf[2] << 8 | buf[3];
        hl = 4;
    } else if (plen == 127) {
        if (len < 10)
            return WS_READ_MORE;
        plen = 0;
        for (int i = 2; i < 10; i++)
            plen = plen << 8 | buf[i];
        if (plen >> 63)
            return proto_error(ev, 1002, "frame length with the top bit set");
        hl = 10;
    }
    /* Everything the header alone can tell is checked before waiting for
     * the payload, so a peer cannot make us buffer a frame we refuse. */
    if (buf[0] & 0x70)
        return proto_error(ev, 1002, "reserved bits set (no extension was negotiated)");
    if (masked != r->expect_masked)
        return proto_error(ev, 1002, r->expect_masked ? "client frame not masked" : "server frame masked");
    bool control = op & 0x8;
    if (control) {
        if (op != WS_OP_CLOSE && op != WS_OP_PING && op != WS_OP_PONG)
            return proto_error(ev, 1002, "unknown control opcode");
        if (!fin)
            return proto_error(ev, 1002, "fragmented control frame");
        if (plen > CONTROL_MAX)
            return proto_error(ev, 1002, "control frame over 125 bytes");
    } else {
        if (op != WS_OP_CONT && op != WS_OP_TEXT && op != WS_OP_BINARY)
            return proto_error(ev, 1002, "unknown data opcode");
        if (op == WS_OP_CONT && !r->msg_op)
            return proto_error(ev, 1002, "continuation without a message");
        if (op != WS_OP_CONT && r->msg_op)
            return proto_error(ev, 1002, "new message inside a fragmented one");
        if (plen > r->max_message || (op == WS_OP_CONT && plen > r->max_message - r->msg.len))
            return proto_error(ev, 1009, "message too big");
    }
    if (masked)
        hl += 4;
    if (len < hl || len - hl < plen)
        return WS_READ_MORE;

    const uint8_t *payload = buf + hl;
    if (masked && plen && r->in_place) {
        uint8_t *w = (uint8_t *)buf + hl; /* the caller said the input is ours to change */
        ws_mask(w, w, (size_t)plen, buf + hl - 4, 0);
    } else if (masked && plen) {
        buf_reset(&r->scratch);
        if (buf_reserve(&r->scratch, (size_t)plen) != 0)
            return proto_error(ev, 1011, "out of memory");
        ws_mask((uint8_t *)r->scratch.data, payload, (size_t)plen, buf + hl - 4, 0);
        payload = (const uint8_t *)r->scratch.data;
    }
    *used = hl + (size_t)plen;

    if (control) {
        ev->data = payload;
        ev->len = (size_t)plen;
        if (op == WS_OP_PING)
            return WS_READ_PING;
        if (op == WS_OP_PONG)
            return WS_READ_PONG;
        if (plen == 0) {
            ev->code = 1005; /* no status code in the frame */
            return WS_READ_CLOSE;
        }
        if (plen == 1)
            return proto_error(ev, 1002, "close frame with a 1-byte payload");
        ev->code = (uint16_t)(payload[0] << 8 | payload[1]);
        if (!ws_close_code_valid(ev->code))
            return proto_error(ev, 1002, "invalid close code");
        if (!ws_utf8_valid(payload + 2, (size_t)plen - 2))
            return proto_error(ev, 1007, "close reason is not UTF-8");
        ev->reason = (const char *)payload + 2;
        ev->reason_len = (size_t)plen - 2;
        return WS_READ_CLOSE;
    }

    if (fin && op != WS_OP_CONT) { /* the common case: a whole message */
        if (op == WS_OP_TEXT && !ws_utf8_valid(payload, (size_t)plen))
            return proto_error(ev, 1007, "text message is not UTF-8");
        ev->op = op;
        ev->data = payload;
        ev->len = (size_t)plen;
        return WS_READ_MESSAGE;
    }
    if (op != WS_OP_CONT)
        r->msg_op = op;
    if (buf_append(&r->msg, payload, (size_t)plen) != 0)
        return proto_error(ev, 1009, "message too big");
    if (!fin)
        return WS_READ_FRAGMENT;
    ev->op = r->msg_op;
    r->msg_op = 0;
    ev->data = (const uint8_t *)(r->msg.data ? r->msg.data : "");
    ev->len = r->msg.len;
    if (ev->op == WS_OP_TEXT && !ws_utf8_valid(ev->data, ev->len))
        return proto_error(ev, 1007, "text message is not UTF-8");
    r->msg_done = true; /* reset on the next call: ev->data points into it */
    return WS_READ_MESSAGE;
}
