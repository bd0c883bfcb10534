/* Fuzz harness: the HTTP/1.1 response parser (clients, the WebSocket
 * handshake), including bodies delimited by the end of the connection. */
#include <stddef.h>
#include <stdint.h>

#include "net/http_parse.h"

static int on_complete(http_parser_t *p, http_msg_t *m) { return 0; }
static const http_parser_cbs_t cbs = { .on_complete = on_complete };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    http_parser_opts_t o = { .response = true, .max_header_bytes = 4096 };
    http_parser_t *p = http_parser_new(&o, &cbs, NULL);
    if (data[0] & 1)
        http_parser_expect_no_body(p);
    size_t used;
    int rc = http_parser_feed(p, (const char *)data + 1, size - 1, &used);
    if (rc >= 0)
        http_parser_finish(p);
    http_parser_free(p);
    return 0;
}
