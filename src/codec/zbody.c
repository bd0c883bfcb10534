/*
 * zbody: zlib streams for HTTP content codings.
 */
#include "codec/zbody.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

enum { CHUNK = 16 * 1024 };

struct zbody {
    z_stream zs;
    zbody_coding_t coding;
    bool encoder;
    bool inited;     /* inflateInit2 done (decoders wait for two bytes of deflate) */
    bool ended;      /* Z_STREAM_END seen (decoder) */
    uint64_t max_out;
    uint64_t total;
    unsigned char first[2]; /* deflate sniffing */
    size_t nfirst;
};

int zbody_coding_parse(const char *value, zbody_coding_t *out)
{
    if (!value) {
        *out = ZBODY_IDENTITY;
        return 0;
    }
    while (*value == ' ' || *value == '\t')
        value++;
    size_t n = strlen(value);
    while (n && (value[n - 1] == ' ' || value[n - 1] == '\t'))
        n--;
    if (n == 0 || (n == 8 && strncasecmp(value, "identity", 8) == 0))
        *out = ZBODY_IDENTITY;
    else if ((n == 4 && strncasecmp(value, "gzip", 4) == 0) ||
             (n == 6 && strncasecmp(value, "x-gzip", 6) == 0))
        *out = ZBODY_GZIP;
    else if (n == 7 && strncasecmp(value, "deflate", 7) == 0)
        *out = ZBODY_DEFLATE;
    else
        return -ENOTSUP;
    return 0;
}

const char *zbody_coding_name(zbody_coding_t c)
{
    switch (c) {
    case ZBODY_GZIP: return "gzip";
    case ZBODY_DEFLATE: return "deflate";
    default: return "identity";
    }
}

zbody_t *zbody_decoder_new(zbody_coding_t c, uint64_t max_out)
{
    if (c == ZBODY_IDENTITY)
        return NULL;
    zbody_t *z = calloc(1, sizeof *z);
    if (!z)
        return NULL;
    z->coding = c;
    z->max_out = max_out;
    if (c == ZBODY_GZIP) {
        if (inflateInit2(&z->zs, 16 + MAX_WBITS) != Z_OK) {
            free(z);
            return NULL;
        }
        z->inited = true;
    }
    return z;
}

zbody_t *zbody_encoder_new(zbody_coding_t c, int level)
{
    if (c == ZBODY_IDENTITY)
        return NULL;
    zbody_t *z = calloc(1, sizeof *z);
    if (!z)
        return NULL;
    z->coding = c;
    z->encoder = true;
    int bits = c == ZBODY_GZIP ? 16 + MAX_WBITS : MAX_WBITS;
    if (deflateInit2(&z->zs, level > 0 && level <= 9 ? level : Z_DEFAULT_COMPRESSION, Z_DEFLATED,
                     bits, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
        free(z);
        return NULL;
    }
    z->inited = true;
    return z;
}

void zbody_free(zbody_t *z)
{
    if (!z)
        return;
    if (z->inited) {
        if (z->encoder)
            deflateEnd(&z->zs);
        else
            inflateEnd(&z->zs);
    }
    free(z);
}

uint64_t zbody_total_out(const zbody_t *z) { return z->total; }

/* Run zlib over the current input, appending output. */
static int pump(zbody_t *z, int flush, buf_t *out)
{
    for (;;) {
        if (z->encoder || !z->ended) {
            int rc = buf_reserve(out, CHUNK);
            size_t room = CHUNK;
            if (rc == -ENOBUFS) {
                room = buf_room(out);
                if (room == 0)
                    return -ENOBUFS;
                rc = buf_reserve(out, room);
            }
            if (rc)
                return rc;
            z->zs.next_out = (Bytef *)out->data + out->len;
            z->zs.avail_out = (uInt)room;
        }
        if (!z->encoder && z->ended) {
            /* Concatenated gzip members; anything else after the end is junk. */
            if (z->zs.avail_in == 0)
                return 0;
            if (z->coding != ZBODY_GZIP || inflateReset(&z->zs) != Z_OK)
                return -EBADMSG;
            z->ended = false;
            continue;
        }
        uInt before = z->zs.avail_out;
        int zr = z->encoder ? deflate(&z->zs, flush) : inflate(&z->zs, Z_NO_FLUSH);
        size_t produced = before - z->zs.avail_out;
        out->len += produced;
        out->data[out->len] = '\0';
        z->total += produced;
        if (!z->encoder && z->max_out && z->total > z->max_out)
            return -EMSGSIZE;
        if (zr == Z_STREAM_END) {
            if (z->encoder)
                return 0;
            z->ended = true;
            continue;
        }
        if (zr == Z_MEM_ERROR)
            return -ENOMEM;
        if (zr == Z_DATA_ERROR || zr == Z_NEED_DICT || zr == Z_STREAM_ERROR)
            return -EBADMSG;
        /* Z_OK or Z_BUF_ERROR: stop once zlib has all it needs. */
        if (z->zs.avail_out != 0 && (z->zs.avail_in == 0 || zr == Z_BUF_ERROR))
            return 0;
    }
}

/* zlib (RFC 1950) header: CM=8, CINFO<=7, and the check bits. */
static bool looks_zlib(const unsigned char *b)
{
    return (b[0] & 0x0f) == 8 && (b[0] >> 4) <= 7 && ((b[0] << 8) | b[1]) % 31 == 0;
}

static int start_deflate(zbody_t *z, buf_t *out)
{
    int bits = looks_zlib(z->first) ? MAX_WBITS : -MAX_WBITS;
    if (inflateInit2(&z->zs, bits) != Z_OK)
        return -ENOMEM;
    z->inited = true;
    z->zs.next_in = z->first;
    z->zs.avail_in = (uInt)z->nfirst;
    return pump(z, Z_NO_FLUSH, out);
}

int zbody_feed(zbody_t *z, const void *in, size_t len, bool last, buf_t *out)
{
    const unsigned char *p = in;
    int rc = 0;
    if (!z->inited) {
        while (len && z->nfirst < 2) {
            z->first[z->nfirst++] = *p++;
            len--;
        }
        if (z->nfirst < 2 && !last)
            return 0;
        if (z->nfirst < 2)
            return z->nfirst ? -EBADMSG : 0;
        if ((rc = start_deflate(z, out)))
            return rc;
    }
    while (len) {
        size_t n = len > (1u << 30) ? (1u << 30) : len;
        z->zs.next_in = (Bytef *)p;
        z->zs.avail_in = (uInt)n;
        if ((rc = pump(z, Z_NO_FLUSH, out)))
            return rc;
        p += n;
        len -= n;
    }
    if (!last)
        return 0;
    if (z->encoder) {
        z->zs.next_in = NULL;
        z->zs.avail_in = 0;
        return pump(z, Z_FINISH, out);
    }
    return z->ended ? 0 : -EBADMSG;
}
