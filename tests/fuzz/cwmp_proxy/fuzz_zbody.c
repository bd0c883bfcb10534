/*
 * Fuzz harness: codec/zbody. The input is decoded as gzip, deflate and raw
 * deflate with a small cap (corrupt data and bombs must end in an error, not
 * a crash); then the input itself goes through encode -> decode and must
 * come back unchanged.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "codec/zbody.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    zbody_coding_t codings[] = { ZBODY_GZIP, ZBODY_DEFLATE };
    for (size_t i = 0; i < 2; i++) {
        zbody_t *d = zbody_decoder_new(codings[i], 1 << 20);
        buf_t out = BUF_INIT(2 << 20);
        size_t half = size / 2;
        if (zbody_feed(d, data, half, false, &out) == 0)
            (void)zbody_feed(d, data + half, size - half, true, &out);
        if (out.len > (1 << 20) + (16 << 10))
            abort();
        zbody_free(d);
        buf_free(&out);

        zbody_t *e = zbody_encoder_new(codings[i], 1);
        buf_t enc = BUF_INIT(size * 2 + 1024), dec = BUF_INIT(size + 1);
        if (zbody_feed(e, data, size, true, &enc))
            abort();
        zbody_t *d2 = zbody_decoder_new(codings[i], size + 1);
        if (zbody_feed(d2, enc.data, enc.len, true, &dec))
            abort();
        if (dec.len != size || (size && memcmp(dec.data, data, size) != 0))
            abort();
        zbody_free(e);
        zbody_free(d2);
        buf_free(&enc);
        buf_free(&dec);
    }
    return 0;
}
