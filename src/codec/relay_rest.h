/*
 * relay_rest: HTTP requests and responses to REST:REQUEST / REST:RESPONSE
 * messages and back (the relay-client and relay-connector's codec). Pure.
 *
 * Building (HTTP -> message):
 *  - headers: every header except Content-Length, Content-Type,
 *    Content-Encoding and the hop-by-hop ones (Connection, Keep-Alive,
 *    Proxy-Connection, TE, Trailer, Transfer-Encoding, Upgrade);
 *  - requests: the target is split into path and queryStrings (names and
 *    values percent-decoded, '+' as space);
 *  - body (see relay_body_set): no body -> no dataFormat/messageBody; JSON
 *    type -> the parsed value; octet-stream -> base64; other types -> the
 *    text. A body that its Content-Type cannot carry (invalid JSON, text that
 *    is not UTF-8, or any Content-Encoding other than identity) goes as
 *    base64 octet-stream and keeps its real Content-Type/Content-Encoding in
 *    the headers list, so nothing is lost in transit (the seed's rules would
 *    corrupt such bodies).
 *
 * Decoding (message -> HTTP): names must be HTTP tokens and values free of
 * CR, LF and NUL (no header injection); hop-by-hop headers, Content-Length
 * and Host are dropped (the HTTP layer sets them); the Content-Type is the
 * headers list's own when present, else dataFormat.
 *
 * Ownership: a relay_http_t owns its buffers (relay_http_free). Header
 * lists given to the builders are borrowed for the call.
 */
#ifndef OUTPOST_CODEC_RELAY_REST_H
#define OUTPOST_CODEC_RELAY_REST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "codec/relay_msg.h"
#include "core/buf.h"

enum {
    RELAY_MAX_FIELDS = 256,   /* headers or queryStrings entries */
    RELAY_METHOD_MAX = 16,
    RELAY_CTYPE_MAX = 256,
    RELAY_REASON_MAX = 128,
};

typedef struct relay_nv {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
} relay_nv_t;

/* The parts of an HTTP message the builders read. */
typedef struct relay_http_in {
    const char *method;          /* requests */
    const char *target;          /* requests: "/path?query" as received */
    int status;                  /* responses */
    const char *reason;          /* responses; NULL -> the standard phrase */
    const relay_nv_t *headers;
    size_t nheaders;
    const void *body;
    size_t body_len;
} relay_http_in_t;

int relay_rest_request_build(buf_t *out, int64_t id, const relay_http_in_t *in, char *err,
                             size_t errlen);
int relay_rest_response_build(buf_t *out, int64_t id, int64_t in_response_to,
                              const relay_http_in_t *in, char *err, size_t errlen);

/* A REST message rebuilt as HTTP. */
typedef struct relay_http {
    char method[RELAY_METHOD_MAX];   /* requests */
    buf_t target;                    /* requests: "/path?name=value&..." (percent-encoded) */
    int status;                      /* responses */
    char reason[RELAY_REASON_MAX];   /* responses; "" when absent or null */
    buf_t headers;                   /* "Name: value\r\n" lines, without Content-Type */
    char ctype[RELAY_CTYPE_MAX];     /* Content-Type, "" when none */
    bool has_body;
    buf_t body;                      /* decoded bytes */
} relay_http_t;

/* max_body caps the decoded body (-> -ENOBUFS / "body too large"). */
void relay_http_init(relay_http_t *h, size_t max_body);
void relay_http_free(relay_http_t *h);
int relay_rest_request_decode(const relay_env_t *e, relay_http_t *h, char *err, size_t errlen);
int relay_rest_response_decode(const relay_env_t *e, relay_http_t *h, char *err, size_t errlen);

/* The dataFormat/messageBody pair of any message (requests, responses,
 * events) into h->ctype / h->body. Used by the decoders above. */
int relay_body_get(const json_t *msg, relay_http_t *h, char *err, size_t errlen);
/* Set dataFormat/messageBody on msg from a body and its Content-Type /
 * Content-Encoding (either may be NULL). *fallback is set when the body
 * went as octet-stream because its own type could not carry it: the
 * caller then keeps Content-Type/Content-Encoding in the headers list. */
int relay_body_set(json_t *msg, const char *ctype, const char *cenc, const void *body, size_t len,
                   bool *fallback, char *err, size_t errlen);

#endif
