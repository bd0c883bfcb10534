/* Fuzz the session log's redaction (acs_soap_log_hide): whatever a CPE
 * sends is scanned. It must stay inside the input, grow by at most two
 * bytes per byte hidden (a one-byte secret becomes "***"), and hiding what
 * was already hidden must change nothing. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "acs/acs_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    buf_t once = BUF_INIT(3 * size + 64), twice = BUF_INIT(3 * size + 64);
    if (acs_soap_log_hide((const char *)data, size, &once) != 0 || once.len > 3 * size)
        abort();
    if (acs_soap_log_hide(once.data ? once.data : "", once.len, &twice) != 0 ||
        twice.len != once.len || (once.len && memcmp(once.data, twice.data, once.len) != 0))
        abort(); /* not idempotent: something hidden is still there to hide */
    buf_free(&once);
    buf_free(&twice);
    return 0;
}
