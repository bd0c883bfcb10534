/*
 * zbody: gzip and deflate HTTP bodies (RFC 9110 content codings), decoded
 * and encoded as a stream with zlib, with a hard cap on decoded size so a
 * decompression bomb costs us max_out bytes, not our memory.
 *
 * "deflate" is meant to be the zlib format (RFC 1950) but some clients send
 * raw deflate (RFC 1951); the decoder tells them apart from the first two
 * bytes, as browsers and curl do. Concatenated gzip members are decoded in
 * turn. The encoder writes what the coding's name says (gzip or zlib).
 *
 * The caller owns `out`; a zbody_t owns its zlib stream.
 */
#ifndef OUTPOST_CODEC_ZBODY_H
#define OUTPOST_CODEC_ZBODY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

typedef enum zbody_coding {
    ZBODY_IDENTITY = 0,
    ZBODY_GZIP,
    ZBODY_DEFLATE,
} zbody_coding_t;

/* A Content-Encoding value: absent/""/"identity" -> IDENTITY, "gzip" or
 * "x-gzip" -> GZIP, "deflate" -> DEFLATE (case-insensitive, spaces around).
 * -ENOTSUP for anything else, including stacked codings ("gzip, br"). */
int zbody_coding_parse(const char *value, zbody_coding_t *out);
const char *zbody_coding_name(zbody_coding_t c); /* "gzip", "deflate", "identity" */

typedef struct zbody zbody_t;

/* Decoder for c (not IDENTITY); max_out caps the decoded total. NULL: ENOMEM. */
zbody_t *zbody_decoder_new(zbody_coding_t c, uint64_t max_out);
/* Encoder for c (not IDENTITY); level 1..9 (0 = zlib's default). */
zbody_t *zbody_encoder_new(zbody_coding_t c, int level);
void zbody_free(zbody_t *z);

/* Feed bytes; the output produced so far is appended to out. `last` ends the
 * stream (an encoder then writes its trailer; a decoder checks the stream
 * ended). 0, or -EBADMSG (corrupt or truncated input, data after the end),
 * -EMSGSIZE (decoded size over max_out), -ENOBUFS (out's cap), -ENOMEM. */
int zbody_feed(zbody_t *z, const void *in, size_t len, bool last, buf_t *out);
/* Decoded (decoder) or encoded (encoder) bytes produced so far. */
uint64_t zbody_total_out(const zbody_t *z);

#endif
