/*
 * ws_frame: RFC 6455 frames as bytes — reading (with message assembly and
 * every check the RFC asks of an endpoint) and writing frame headers. No I/O,
 * so it is unit-tested and fuzzed on bytes alone; net/ws drives it.
 *
 * The reader looks at whole frames only: given the bytes received so far it
 * either needs more, or consumes one frame and says what it was. Payloads
 * point into the input (unmasked there when `in_place` says the input may be
 * written) or into the reader's scratch buffer; either is valid until the
 * next call. The reader
 * owns its two buffers (fragments being assembled, scratch).
 */
#ifndef OUTPOST_NET_WS_FRAME_H
#define OUTPOST_NET_WS_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

enum {
    WS_OP_CONT = 0x0,
    WS_OP_TEXT = 0x1,
    WS_OP_BINARY = 0x2,
    WS_OP_CLOSE = 0x8,
    WS_OP_PING = 0x9,
    WS_OP_PONG = 0xA,
    WS_FRAME_HEADER_MAX = 14,
};

typedef struct ws_reader {
    bool expect_masked; /* a server reads masked client frames, a client unmasked ones */
    size_t max_message;
    int msg_op;         /* WS_OP_TEXT/BINARY while fragments are assembled, else 0 */
    buf_t msg;          /* the fragments so far (capped at max_message) */
    bool msg_done;      /* msg holds a message already handed out */
    bool in_place;      /* the input is writable: unmask there, no scratch copy */
    buf_t scratch;      /* the unmasked payload of the last frame */
} ws_reader_t;

typedef enum ws_read_result {
    WS_READ_MORE = 0,   /* no whole frame yet; nothing consumed */
    WS_READ_MESSAGE,    /* a complete text/binary message: op, data, len */
    WS_READ_FRAGMENT,   /* part of a message was stored; nothing to deliver */
    WS_READ_PING,       /* data/len: the payload to echo in a pong */
    WS_READ_PONG,
    WS_READ_CLOSE,      /* code (1005 when the frame had none), reason/reason_len */
    WS_READ_ERROR,      /* the peer broke the protocol: close with code, reason */
} ws_read_result_t;

typedef struct ws_read_event {
    int op;                   /* WS_OP_TEXT or WS_OP_BINARY for messages */
    const uint8_t *data;
    size_t len;
    uint16_t code;            /* close code received, or the one to send on error */
    const char *reason;       /* close: the peer's (not NUL-terminated); error: ours */
    size_t reason_len;
} ws_read_event_t;

void ws_reader_init(ws_reader_t *r, bool expect_masked, size_t max_message);
void ws_reader_free(ws_reader_t *r);
/* Look at buf[0..len): fills *used (bytes of the frame consumed) and *ev. */
ws_read_result_t ws_reader_next(ws_reader_t *r, const uint8_t *buf, size_t len, size_t *used,
                                ws_read_event_t *ev);
/* Give back buffer memory beyond `keep` bytes (call between frames: a busy
 * reader keeps its buffers, an idle one need not). */
void ws_reader_trim(ws_reader_t *r, size_t keep);

/* Write a frame header (FIN set) into out; mask_key NULL for unmasked
 * frames. Returns the header length. */
size_t ws_frame_header(uint8_t out[WS_FRAME_HEADER_MAX], int op, uint64_t len,
                       const uint8_t mask_key[4]);
/* RFC 6455 masking, 8 bytes at a time (dst may equal src). `phase` is the
 * payload offset of src[0], so a payload can be masked in pieces. */
void ws_mask(uint8_t *dst, const uint8_t *src, size_t n, const uint8_t key[4], size_t phase);
/* Well-formed UTF-8 (no overlongs, surrogates or code points past U+10FFFF). */
bool ws_utf8_valid(const uint8_t *s, size_t n);
/* May this code travel in a close frame (RFC 6455 7.4)? */
bool ws_close_code_valid(uint16_t code);

#endif
