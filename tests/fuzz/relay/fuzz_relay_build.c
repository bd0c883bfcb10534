/*
 * Fuzz harness: HTTP pieces -> REST:REQUEST / REST:RESPONSE -> decoded
 * again. Input layout: NUL-separated fields "method\0target\0ctype\0cenc\0
 * name\0value\0body". Whatever the builders accept must decode, and the
 * body must come back byte for byte (the dataFormat rules lose nothing).
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "codec/relay_msg.h"
#include "codec/relay_rest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *field(const uint8_t **p, const uint8_t *end, size_t *len)
{
    const uint8_t *s = *p;
    const uint8_t *z = memchr(s, 0, (size_t)(end - s));
    if (!z) {
        *len = (size_t)(end - s);
        *p = end;
        return NULL;
    }
    *len = (size_t)(z - s);
    *p = z + 1;
    return (const char *)s;
}

static void check_roundtrip(const buf_t *msg, const relay_http_in_t *in, bool request)
{
    relay_env_t e;
    char err[RELAY_ERR_LEN];
    if (relay_env_decode(&e, msg->data, msg->len, err, sizeof err) != 0)
        __builtin_trap();
    relay_http_t h;
    relay_http_init(&h, 1 << 20);
    int rc = request ? relay_rest_request_decode(&e, &h, err, sizeof err)
                     : relay_rest_response_decode(&e, &h, err, sizeof err);
    /* Decoding may refuse what HTTP would not carry (a header name that is
     * no token...), but a body it returns must be the one we sent. */
    if (rc == 0 && in->body_len) {
        bool same = h.body.len == in->body_len && memcmp(h.body.data, in->body, in->body_len) == 0;
        if (!same) {
            /* JSON travels as a value: equal as JSON, not byte for byte */
            json_t *a = json_loadb(in->body, in->body_len, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
            json_t *b = json_loadb(h.body.data, h.body.len, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
            if (!a || !b || !json_equal(a, b))
                __builtin_trap();
            json_decref(a);
            json_decref(b);
        }
    }
    relay_http_free(&h);
    relay_env_free(&e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *p = data, *end = data + size;
    size_t l[6];
    const char *method = field(&p, end, &l[0]);
    const char *target = field(&p, end, &l[1]);
    const char *ctype = field(&p, end, &l[2]);
    const char *cenc = field(&p, end, &l[3]);
    const char *hname = field(&p, end, &l[4]);
    const char *hval = field(&p, end, &l[5]);
    if (!hval)
        return 0;
    relay_nv_t hdrs[3];
    size_t n = 0;
    if (l[2])
        hdrs[n++] = (relay_nv_t){ "Content-Type", 12, ctype, l[2] };
    if (l[3])
        hdrs[n++] = (relay_nv_t){ "Content-Encoding", 16, cenc, l[3] };
    hdrs[n++] = (relay_nv_t){ hname, l[4], hval, l[5] };
    relay_http_in_t in = { .method = method, .target = target, .status = 200 + (int)(size % 400),
                           .headers = hdrs, .nheaders = n, .body = p, .body_len = (size_t)(end - p) };
    buf_t out = BUF_INIT(1 << 20);
    char err[RELAY_ERR_LEN];
    if (relay_rest_request_build(&out, 1, &in, err, sizeof err) == 0)
        check_roundtrip(&out, &in, true);
    buf_reset(&out);
    if (relay_rest_response_build(&out, 2, 1, &in, err, sizeof err) == 0)
        check_roundtrip(&out, &in, false);
    buf_reset(&out);
    if (l[4] < RELAY_EVENT_NAME_MAX && relay_event_build(&out, 3, hname, l[2] ? ctype : NULL, in.body,
                                                          in.body_len, err, sizeof err) == 0) {
        relay_env_t e;
        if (relay_env_decode(&e, out.data, out.len, err, sizeof err) != 0 || e.kind != RELAY_KIND_EVENT)
            __builtin_trap();
        relay_env_free(&e);
    }
    buf_free(&out);
    return 0;
}
