/*
 * Fuzz harness: codec/udpcr. The input is a datagram as cpe-sim's UDP
 * connection request socket receives it. What parses must hold NUL-
 * terminated fields within their caps, and must survive a rebuild: the
 * same fields built again parse to the same values and verify with the
 * password they were signed with.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "codec/udpcr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    udpcr_t m;
    const char *why = NULL;
    if (udpcr_parse((const char *)data, size, &m, &why) != 0) {
        if (!why)
            abort();
        return 0;
    }
    if (strlen(m.un) > UDPCR_USER_MAX || strlen(m.cn) > UDPCR_CN_MAX || strlen(m.sig) != UDPCR_SIG_LEN ||
        !m.cn[0] || !m.host[0])
        abort();
    (void)udpcr_verify(&m, "pw");
    char out[UDPCR_MAX + 1];
    int n = udpcr_build(out, sizeof out, "h:1", m.ts, m.id, m.un, "cnonce", "pw");
    if (n <= 0)
        return 0; /* an escaped user may no longer fit */
    udpcr_t back;
    if (udpcr_parse(out, (size_t)n, &back, &why) != 0 || back.ts != m.ts || back.id != m.id ||
        strcmp(back.un, m.un) != 0 || !udpcr_verify(&back, "pw"))
        abort();
    return 0;
}
