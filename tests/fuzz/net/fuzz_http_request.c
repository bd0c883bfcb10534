/* Fuzz harness: the HTTP/1.1 request parser. The first byte picks where the
 * input is split in two feeds (servers see requests in pieces); every
 * message is paused after completion and resumed, as the server does. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "net/http_parse.h"

static int on_headers(http_parser_t *p, http_msg_t *m)
{
    /* touch what a server reads */
    (void)http_msg_header(m, "Content-Length");
    (void)http_msg_header_has_token(m, "Connection", "upgrade");
    for (size_t i = 0; i < m->nheaders; i++) {
        const char *n, *v;
        http_msg_header_at(m, i, &n, &v);
        if (strlen(n) == 0)
            __builtin_trap(); /* an empty field name must never get through */
    }
    return 0;
}

static int on_body(http_parser_t *p, const char *d, size_t n) { return 0; }
static int on_complete(http_parser_t *p, http_msg_t *m) { return 1; }

static const http_parser_cbs_t cbs = { on_headers, on_body, on_complete };

static void feed(http_parser_t *p, const char *d, size_t n)
{
    while (n) {
        size_t used = 0;
        int rc = http_parser_feed(p, d, n, &used);
        if (rc < 0 || http_parser_upgraded(p))
            return;
        d += used;
        n -= used;
        if (rc == HTTP_PARSE_PAUSED)
            http_parser_resume(p);
        else if (used == 0)
            return;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t split = data[0] % (size);
    const char *d = (const char *)data + 1;
    size_t n = size - 1;
    if (split > n)
        split = n;
    http_parser_opts_t o = { .max_header_bytes = 4096, .max_target = 1024 };
    http_parser_t *p = http_parser_new(&o, &cbs, NULL);
    feed(p, d, split);
    feed(p, d + split, n - split);
    http_parser_free(p);
    return 0;
}
