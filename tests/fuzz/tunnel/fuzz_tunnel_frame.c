/*
 * Fuzz harness: codec/tunnel_frame. Any input must decode or fail cleanly;
 * whatever decodes must re-encode and decode to the same fields (the encoder
 * and decoder agree), within a small message cap so the fuzzer also exercises
 * the size check.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "codec/tunnel_frame.h"

static int same_str(tunnel_str_t a, tunnel_str_t b)
{
    return a.n == b.n && (a.n == 0 || memcmp(a.p, b.p, a.n) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static tunnel_decoder_t dec;
    static int init;
    if (!init) {
        tunnel_limits_t lim = { .max_message = 64 * 1024 };
        if (tunnel_decoder_init(&dec, &lim) != 0)
            abort();
        init = 1;
    }
    tunnel_msg_t m;
    const char *why = NULL;
    if (tunnel_decode(&dec, data, size, &m, &why) != 0) {
        if (!why)
            abort(); /* every failure has a reason */
        return 0;
    }
    buf_t b = BUF_INIT(128 * 1024);
    if (tunnel_encode(&b, &m) != 0)
        abort(); /* what we accept we can also write */
    tunnel_decoder_t dec2;
    if (tunnel_decoder_init(&dec2, NULL) != 0)
        abort();
    tunnel_msg_t r;
    if (tunnel_decode(&dec2, (const uint8_t *)b.data, b.len, &r, &why) != 0)
        abort();
    if (r.type != m.type || r.has != m.has || r.port != m.port || r.ok != m.ok ||
        r.mode != m.mode || r.version != m.version || r.window != m.window ||
        r.credit != m.credit || r.seq != m.seq || r.max_message != m.max_message ||
        !same_str(r.guid, m.guid) || !same_str(r.name, m.name) || !same_str(r.key, m.key) ||
        !same_str(r.ip, m.ip) || !same_str(r.gatename, m.gatename) ||
        !same_str(r.from, m.from) || !same_str(r.data, m.data) ||
        !same_str(r.reason, m.reason) || !same_str(r.code, m.code) ||
        !same_str(r.message, m.message) || r.max_window != m.max_window ||
        r.epoch != m.epoch || r.online != m.online || !same_str(r.digest, m.digest) ||
        !same_str(r.gateway, m.gateway) || !same_str(r.nets, m.nets))
        abort();
    tunnel_decoder_free(&dec2);
    buf_free(&b);
    return 0;
}
