/* Fuzz the CWMP decoder: arena mode and callback mode on the same input,
 * with a split point taken from the first byte (streaming), and, when a
 * message decodes, re-encode it and decode the result again: the encoder
 * must either refuse cleanly or produce something the decoder accepts. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "codec/cwmp.h"

static int on_param(const cwmp_msg_t *m, const cwmp_param_t *p, void *ud)
{
    size_t *n = ud;
    *n += strlen(p->name) + strlen(p->value);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static cwmp_decoder_t *arena, *stream, *again;
    static size_t sink;
    if (!arena) {
        cwmp_decode_opts_t o = { .max_body = 1 << 20, .max_text = 4096, .max_items = 5000 };
        arena = cwmp_decoder_new(&o);
        o.on_param = on_param;
        o.ud = &sink;
        stream = cwmp_decoder_new(&o);
        again = cwmp_decoder_new(NULL);
    }
    const char *s = (const char *)data;
    const cwmp_msg_t *m;
    int rc = cwmp_decode(arena, s, size, &m);

    size_t split = size ? data[0] % (size + 1) : 0;
    cwmp_decoder_reset(stream);
    if (cwmp_decoder_feed(stream, s, split, false) == 0)
        (void)cwmp_decoder_feed(stream, s + split, size - split, true);

    if (rc == 0 && m->type != CWMP_UNKNOWN) {
        buf_t out = BUF_INIT(4 << 20);
        if (cwmp_encode(&out, m) == 0) {
            const cwmp_msg_t *m2;
            if (cwmp_decode(again, out.data, out.len, &m2) != 0)
                abort();
            if (m2->type != m->type || m2->n_params != m->n_params || m2->n_names != m->n_names)
                abort();
        }
        buf_free(&out);
    }
    return 0;
}
