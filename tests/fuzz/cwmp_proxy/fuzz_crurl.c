/*
 * Fuzz harness: codec/crurl. Checks, on any input:
 *  - no crash, no leak, bounded output;
 *  - feeding in pieces (cut where the first byte says) gives the same bytes
 *    as one feed;
 *  - nothing rewritten means output == input, byte for byte;
 *  - rewriting the output again changes nothing (idempotent).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "codec/crurl.h"

#define PUB "http://proxy.test:7548"

static crurl_t *rw;

static void run(const uint8_t *data, size_t size, size_t step, buf_t *out, crurl_info_t *info)
{
    crurl_reset(rw);
    size_t off = 0;
    if (step == 0)
        step = size ? size : 1;
    while (off < size) {
        size_t n = size - off < step ? size - off : step;
        if (crurl_feed(rw, (const char *)data + off, n, false, out))
            abort();
        off += n;
    }
    if (crurl_feed(rw, NULL, 0, true, out))
        abort();
    *info = *crurl_info(rw);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!rw) {
        crurl_opts_t o = { .public_url = PUB, .max_hold = 4096 };
        rw = crurl_new(&o);
        if (!rw)
            abort();
    }
    size_t step = size ? (data[0] % 64) + 1 : 1;
    /* Output grows by at most ~3x the value plus the prefix per rewrite. */
    buf_t whole = BUF_INIT(size * 4 + 4096), parts = BUF_INIT(size * 4 + 4096);
    crurl_info_t a, b;
    run(data, size, 0, &whole, &a);
    run(data, size, step, &parts, &b);
    /* Splitting never changes the result: the hold cap aside, which depends
     * on chunk sizes by design (a struct over max_hold is let go). */
    if (a.skipped == b.skipped && a.rewritten == b.rewritten &&
        (whole.len != parts.len || (whole.len && memcmp(whole.data, parts.data, whole.len) != 0)))
        abort();
    if (a.rewritten == 0 && (whole.len != size || (size && memcmp(whole.data, data, size) != 0)))
        abort();
    if (a.rewritten && !crurl_may_rewrite((const char *)data, size))
        abort(); /* the fast path would have skipped a needed rewrite */
    if (a.rewritten) {
        buf_t again = BUF_INIT(whole.len * 4 + 4096);
        crurl_info_t c;
        run((const uint8_t *)whole.data, whole.len, 0, &again, &c);
        if (c.rewritten != 0 || again.len != whole.len || memcmp(again.data, whole.data, whole.len) != 0)
            abort();
        buf_free(&again);
    }
    char id[256];
    (void)crurl_device_id(&a, id, sizeof id);
    buf_free(&whole);
    buf_free(&parts);
    return 0;
}
