/* Fuzz harness: the WebSocket frame reader of a server endpoint (masking,
 * fragmentation, control frames, close codes, UTF-8 and size limits). */
#include <stddef.h>
#include <stdint.h>

#include "net/ws.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ws_frames_feed(data, size, 4096);
    return 0;
}
