/* Fuzz the lines live events travel in between nodes (acs_evbus.c:
 * acs_ev_share_parse). Properties: parsing never reads past the input;
 * every event given has a known type, a device that is none or a line's
 * word, and an object; each written again (acs_ev_share_put) parses back
 * to one event of the same type, device and text. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "acs/acs_events.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int again(acs_ev_type_t t, const char *device, const json_t *data, void *ud)
{
    const json_t *want = ud;
    if (!json_equal(data, want))
        abort();
    (void)t;
    (void)device;
    return 0;
}

static int check(acs_ev_type_t t, const char *device, const json_t *data, void *ud)
{
    (void)ud;
    if (!acs_ev_type_name(t) || !json_is_object(data) || (device && (!*device || strchr(device, ' '))))
        abort();
    buf_t b = BUF_INIT(1 << 20);
    if (acs_ev_share_put(&b, t, device, data) != 0 ||
        acs_ev_share_parse(b.data, b.len, again, (void *)data) != 1)
        abort();
    buf_free(&b);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* a copy of exactly size bytes: a read past it is ASan's to see */
    char *p = malloc(size ? size : 1);
    if (!p)
        return 0;
    memcpy(p, data, size);
    (void)acs_ev_share_parse(p, size, check, NULL);
    free(p);
    return 0;
}
