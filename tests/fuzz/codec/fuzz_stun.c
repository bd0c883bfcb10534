/*
 * Fuzz harness: codec/stun. The input is a datagram as the ACS's STUN
 * server or cpe-sim's client receives it. Whatever parses must be
 * consistent (USERNAME inside the datagram, MESSAGE-INTEGRITY where said),
 * and what a server would answer (the mapped address, the unknown
 * attributes, an integrity and a fingerprint) must encode and parse back.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "codec/stun.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    stun_msg_t m;
    const char *why = NULL;
    if (stun_parse(data, size, &m, &why) != 0) {
        if (!why)
            abort();
        return 0;
    }
    if (m.username && (m.username < (const char *)data || m.username + m.username_len > (const char *)data + size))
        abort();
    if (m.has_integrity && m.integrity_off + 24 > size)
        abort();
    (void)stun_integrity_ok(data, size, &m, "key", 3);
    uint8_t out[STUN_MAX];
    stun_enc_t e;
    stun_enc_start(&e, out, sizeof out, m.n_unknown ? STUN_BINDING_ERROR : STUN_BINDING_RESPONSE, m.tid);
    if (m.n_unknown) {
        stun_enc_error(&e, 420, "Unknown Attribute");
        stun_enc_unknown(&e, m.unknown, m.n_unknown);
    } else {
        stun_addr_t a = m.has_xor_mapped ? m.xor_mapped : m.has_mapped ? m.mapped
                                                                      : (stun_addr_t){ .family = 4, .port = 1 };
        stun_enc_addr(&e, true, &a);
        stun_enc_addr(&e, false, &a);
    }
    if (m.username)
        stun_enc_attr(&e, STUN_A_USERNAME, m.username, m.username_len);
    stun_enc_integrity(&e, "key", 3);
    stun_enc_fingerprint(&e);
    size_t n = stun_enc_end(&e);
    stun_msg_t back;
    if (n == 0 || stun_parse(out, n, &back, &why) != 0 || !stun_integrity_ok(out, n, &back, "key", 3) ||
        memcmp(back.tid, m.tid, STUN_TID) != 0)
        abort();
    return 0;
}
