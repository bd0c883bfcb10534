/*
 * Fuzz harness: http_range_parse, the Range header of file downloads.
 *
 * The input's first 8 bytes are the representation's size (little-endian,
 * masked to 40 bits: sizes up to 1 TiB), the rest the header value (cut at
 * the first NUL, as a header cannot hold one). Invariants: the result is 0,
 * 1 or -ERANGE; for 1 the range lies inside the representation
 * (0 <= first <= last < size); -ERANGE only for a size the range cannot
 * reach; the parse is the same twice (pure).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net/http_file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 8)
        return 0;
    uint64_t sz = 0;
    for (int i = 7; i >= 0; i--)
        sz = sz << 8 | data[i];
    int64_t len = (int64_t)(sz & ((1ull << 40) - 1));
    char v[4096];
    size_t n = size - 8 < sizeof v - 1 ? size - 8 : sizeof v - 1;
    memcpy(v, data + 8, n);
    v[n] = '\0';
    int64_t first = -1, last = -1, f2 = -1, l2 = -1;
    int rc = http_range_parse(v, len, &first, &last);
    if (rc != 0 && rc != 1 && rc != -ERANGE)
        abort();
    if (rc == 1 && !(first >= 0 && first <= last && last < len))
        abort();
    if (rc != http_range_parse(v, len, &f2, &l2) || (rc == 1 && (f2 != first || l2 != last)))
        abort();
    /* the same header against a larger file is never unsatisfiable for a
     * start it now reaches */
    if (rc == 1 && http_range_parse(v, len + 1, &f2, &l2) != 1)
        abort();
    return 0;
}
