/*
 * tunnel_mpcheck: a structural walk over msgpack bytes that allocates nothing.
 *
 * msgpack-c allocates an array of objects as soon as it reads a container's
 * count, so a five-byte message claiming 2^32 elements would ask for ~100 GiB
 * before noticing the bytes are missing. This walk runs first: each container's
 * count must fit in the bytes that remain (every element takes at least one
 * byte), every scalar's length must be present, nesting and the number of
 * objects are capped. Only input that passes reaches msgpack_unpack().
 */
#include <errno.h>
#include <stdint.h>

#include "codec/tunnel_frame.h"

enum { MP_DEPTH_HARD = 32 };

static uint64_t be(const uint8_t *p, unsigned n)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++)
        v = (v << 8) | p[i];
    return v;
}

/* Classify the object starting at b[0] with `avail` bytes available.
 * Sets *hdr (bytes of the header itself), and either *payload (bytes after the
 * header for scalars) or *items (child objects for containers).
 * Returns 0, or -EBADMSG for 0xc1 / a truncated header. */
static int mp_head(const uint8_t *b, size_t avail, size_t *hdr, uint64_t *payload,
                   uint64_t *items)
{
    uint8_t t = b[0];
    unsigned lenbytes = 0, extra = 0;
    *payload = 0;
    *items = 0;
    *hdr = 1;
    if (t <= 0x7f || t >= 0xe0 || t == 0xc0 || t == 0xc2 || t == 0xc3)
        return 0; /* fixint, nil, bool */
    if ((t & 0xf0) == 0x80) {
        *items = 2u * (t & 0x0f);
        return 0;
    }
    if ((t & 0xf0) == 0x90) {
        *items = t & 0x0f;
        return 0;
    }
    if ((t & 0xe0) == 0xa0) {
        *payload = t & 0x1f;
        return 0;
    }
    switch (t) {
    case 0xc4: case 0xd9: lenbytes = 1; break;            /* bin8, str8 */
    case 0xc5: case 0xda: lenbytes = 2; break;            /* bin16, str16 */
    case 0xc6: case 0xdb: lenbytes = 4; break;            /* bin32, str32 */
    case 0xc7: lenbytes = 1; extra = 1; break;            /* ext8 (+type) */
    case 0xc8: lenbytes = 2; extra = 1; break;
    case 0xc9: lenbytes = 4; extra = 1; break;
    case 0xca: *payload = 4; return 0;                    /* float32 */
    case 0xcb: *payload = 8; return 0;                    /* float64 */
    case 0xcc: case 0xd0: *payload = 1; return 0;
    case 0xcd: case 0xd1: *payload = 2; return 0;
    case 0xce: case 0xd2: *payload = 4; return 0;
    case 0xcf: case 0xd3: *payload = 8; return 0;
    case 0xd4: *payload = 2; return 0;                    /* fixext1 + type */
    case 0xd5: *payload = 3; return 0;
    case 0xd6: *payload = 5; return 0;
    case 0xd7: *payload = 9; return 0;
    case 0xd8: *payload = 17; return 0;
    case 0xdc: case 0xdd: case 0xde: case 0xdf: {          /* array16/32, map16/32 */
        unsigned n = (t == 0xdc || t == 0xde) ? 2 : 4;
        if (avail < 1 + (size_t)n)
            return -EBADMSG;
        uint64_t c = be(b + 1, n);
        *items = (t >= 0xde) ? 2 * c : c;
        *hdr = 1 + n;
        return 0;
    }
    default: /* 0xc1: never used */
        return -EBADMSG;
    }
    if (avail < 1 + (size_t)lenbytes)
        return -EBADMSG;
    *payload = be(b + 1, lenbytes) + extra;
    *hdr = 1 + lenbytes;
    return 0;
}

int tunnel_mp_check(const uint8_t *buf, size_t len, unsigned max_depth, size_t max_objects,
                    size_t *used, const char **why)
{
    uint64_t remaining[MP_DEPTH_HARD + 1];
    unsigned depth = 0;
    size_t pos = 0, objects = 0;
    const char *dummy;
    if (!why)
        why = &dummy;
    if (max_depth == 0 || max_depth > MP_DEPTH_HARD)
        max_depth = MP_DEPTH_HARD;
    remaining[0] = 1;
    for (;;) {
        while (remaining[depth] == 0) {
            if (depth == 0) {
                *used = pos;
                return 0;
            }
            depth--;
        }
        remaining[depth]--;
        if (pos >= len) {
            *why = "msgpack truncated";
            return -EBADMSG;
        }
        if (++objects > max_objects) {
            *why = "too many msgpack objects";
            return -EBADMSG;
        }
        size_t hdr;
        uint64_t payload, items;
        if (mp_head(buf + pos, len - pos, &hdr, &payload, &items) != 0) {
            *why = buf[pos] == 0xc1 ? "invalid msgpack byte 0xc1" : "msgpack truncated";
            return -EBADMSG;
        }
        pos += hdr;
        size_t left = len - pos;
        if (payload > left) {
            *why = "msgpack length exceeds the bytes present";
            return -EBADMSG;
        }
        pos += (size_t)payload;
        if (items) {
            if (items > left) {
                *why = "msgpack count exceeds the bytes present";
                return -EBADMSG;
            }
            if (depth + 1 > max_depth) {
                *why = "msgpack nested too deeply";
                return -EBADMSG;
            }
            remaining[++depth] = items;
        }
    }
}
