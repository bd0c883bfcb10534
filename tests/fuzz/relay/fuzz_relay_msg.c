/*
 * Fuzz harness: every relay message decoder on arbitrary bytes (what a
 * peer can send the relay before pairing, and what relay-client/-connector
 * decode from their partner).
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "codec/relay_msg.h"
#include "codec/relay_rest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    relay_env_t e;
    char err[RELAY_ERR_LEN];
    if (relay_env_decode(&e, data, size, err, sizeof err) != 0) {
        if (strlen(err) >= RELAY_ERR_LEN)
            __builtin_trap();
        return 0;
    }
    relay_hello_t h;
    if (relay_hello_check(&e, &h, err, sizeof err) == 0 &&
        (strlen(h.peer_class) > RELAY_PEER_FIELD_MAX || strlen(h.peer_id) > RELAY_PEER_FIELD_MAX))
        __builtin_trap();
    relay_http_t http;
    relay_http_init(&http, 1 << 16);
    if (relay_rest_request_decode(&e, &http, err, sizeof err) == 0) {
        /* what goes on a request line and in header lines is safe there */
        if (memchr(http.target.data, ' ', http.target.len) || memchr(http.target.data, '\r', http.target.len) ||
            memchr(http.target.data, '\n', http.target.len) || http.target.data[0] != '/')
            __builtin_trap();
        for (size_t i = 0; i + 1 < http.headers.len; i++)
            if (http.headers.data[i] == '\n' && http.headers.data[i - 1] != '\r')
                __builtin_trap();
        if (strchr(http.ctype, '\n') || strchr(http.ctype, '\r'))
            __builtin_trap();
    }
    relay_http_free(&http);
    relay_http_init(&http, 1 << 16);
    if (relay_rest_response_decode(&e, &http, err, sizeof err) == 0 &&
        (http.status < 200 || http.status > 599 || strchr(http.reason, '\n')))
        __builtin_trap();
    relay_http_free(&http);
    relay_http_init(&http, 1 << 16);
    (void)relay_body_get(e.msg, &http, err, sizeof err);
    (void)relay_event_name(&e);
    relay_http_free(&http);
    relay_env_free(&e);
    return 0;
}
