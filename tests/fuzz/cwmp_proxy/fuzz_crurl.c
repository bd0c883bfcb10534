/*
 * Fuzz harness: codec/crurl. Checks, on any input:
 *  - no crash, no leak, bounded output;
 *  - the fast scanner and expat agree: whenever expat parses the input
 *    without error, the default path (which tries the scanner first) gives
 *    the same bytes and the same findings;
 *  - feeding in pieces (cut where the first byte says; always expat) gives
 *    the same bytes as one feed;
 *  - nothing rewritten means output == input, byte for byte, on every path;
 *  - rewriting the output again changes nothing (idempotent).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "codec/crurl.h"

#define PUB "http://proxy.test:7548"

static crurl_t *fast, *slow;

static void run(crurl_t *rw, const uint8_t *data, size_t size, size_t step, buf_t *out,
                crurl_info_t *info, bool *err)
{
    crurl_reset(rw);
    size_t off = 0;
    if (step == 0)
        step = size ? size : 1;
    while (off < size) {
        size_t n = size - off < step ? size - off : step;
        bool last = off + n == size && step >= size;
        if (crurl_feed(rw, (const char *)data + off, n, last, out))
            abort();
        off += n;
    }
    if (step < size || size == 0)
        if (crurl_feed(rw, NULL, 0, true, out))
            abort();
    *info = *crurl_info(rw);
    *err = crurl_error(rw) != NULL;
}

static bool same(const buf_t *a, const buf_t *b)
{
    return a->len == b->len && (a->len == 0 || memcmp(a->data, b->data, a->len) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!fast) {
        crurl_opts_t o = { .public_url = PUB, .max_hold = 4096 };
        fast = crurl_new(&o);
        o.no_fast = true;
        slow = crurl_new(&o);
        if (!fast || !slow)
            abort();
    }
    size_t step = size ? (data[0] % 64) + 1 : 1;
    /* Output grows by at most ~3x the value plus the prefix per rewrite. */
    size_t cap = size * 4 + 4096;
    buf_t e = BUF_INIT(cap), f = BUF_INIT(cap), parts = BUF_INIT(cap);
    crurl_info_t ei, fi, pi;
    bool eerr, ferr, perr;
    run(slow, data, size, 0, &e, &ei, &eerr);
    run(fast, data, size, 0, &f, &fi, &ferr);
    run(slow, data, size, step, &parts, &pi, &perr);
    if (!eerr && (!same(&e, &f) || ei.rewritten != fi.rewritten || ei.skipped != fi.skipped ||
                  ei.rpc != fi.rpc || ei.devid_ok != fi.devid_ok || strcmp(ei.serial, fi.serial)))
        abort(); /* the scanner disagrees with expat on a well-formed body */
    /* Splitting never changes the result: the hold cap aside, which depends
     * on chunk sizes by design (a struct over max_hold is let go). */
    if (ei.skipped == pi.skipped && ei.rewritten == pi.rewritten && !same(&e, &parts))
        abort();
    buf_t in = { (char *)data, size, size, size };
    if (ei.rewritten == 0 && !same(&e, &in))
        abort();
    if (fi.rewritten == 0 && !same(&f, &in))
        abort();
    if ((ei.rewritten || fi.rewritten) && !crurl_may_rewrite((const char *)data, size))
        abort(); /* the proxy's pre-check would have skipped a needed rewrite */
    for (int k = 0; k < 2; k++) {
        const buf_t *o = k ? &f : &e;
        if (!(k ? fi.rewritten : ei.rewritten))
            continue;
        buf_t again = BUF_INIT(o->len * 4 + 4096);
        crurl_info_t ai;
        bool aerr;
        run(k ? fast : slow, (const uint8_t *)o->data, o->len, 0, &again, &ai, &aerr);
        if (ai.rewritten != 0 || !same(&again, o))
            abort();
        buf_free(&again);
    }
    char id[256];
    (void)crurl_device_id(&ei, id, sizeof id);
    buf_free(&e);
    buf_free(&f);
    buf_free(&parts);
    return 0;
}
