/*
 * relay_msg: the micronets relay message format, decoded and built. Pure:
 * bytes in, bytes or structs out, no I/O.
 *
 * Every message is a JSON object {"message": {...}} whose inner object has
 * messageType (string), messageId (integer), requiresResponse (boolean) and
 * optionally inResponseTo (integer). Types used here:
 *
 *   CONN:HELLO     peerClass, peerId (strings): the first message of a peer
 *   REST:REQUEST   method, path, queryStrings [{name,value}], headers
 *                  [{name,value}], dataFormat, messageBody
 *   REST:RESPONSE  inResponseTo, statusCode, reasonPhrase, headers,
 *                  dataFormat, messageBody
 *   EVENT:<name>   dataFormat, messageBody
 *
 * messageBody follows dataFormat: a JSON value for application/json (and
 * any "+json" type), base64 text for application/octet-stream, a string
 * otherwise. Content-Length, Content-Type and Content-Encoding travel in
 * dataFormat/messageBody, not in headers; relay_rest.h turns HTTP messages
 * into this form and back.
 *
 * Ownership: a relay_env_t owns its parsed document (relay_env_free); every
 * const char * it or relay_hello_t hands out points into that document and
 * lives as long as it. Builders append to a caller-owned, capped buf_t.
 * Errors are negative errno codes; `err` (may be NULL) receives a short
 * reason fit for a WebSocket close frame (<= 123 bytes) or an HTTP 4xx body.
 */
#ifndef OUTPOST_CODEC_RELAY_MSG_H
#define OUTPOST_CODEC_RELAY_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "core/buf.h"

enum {
    RELAY_ERR_LEN = 124,       /* fits a close frame's reason */
    RELAY_PEER_FIELD_MAX = 256, /* peerClass / peerId bytes */
    RELAY_EVENT_NAME_MAX = 256,
};

typedef enum relay_kind {
    RELAY_KIND_OTHER = 0, /* a well-formed envelope of a type we do not interpret */
    RELAY_KIND_HELLO,
    RELAY_KIND_REST_REQUEST,
    RELAY_KIND_REST_RESPONSE,
    RELAY_KIND_EVENT,
} relay_kind_t;

typedef struct relay_env {
    json_t *root;            /* owned: the whole document */
    json_t *msg;             /* borrowed: root["message"] */
    relay_kind_t kind;
    const char *type;        /* messageType */
    bool has_id;
    int64_t id;              /* messageId */
    bool requires_response;  /* false when absent */
    bool has_in_response_to;
    int64_t in_response_to;
} relay_env_t;

/* Parse and check the envelope: a JSON object with a "message" object whose
 * messageType is a non-empty string; messageId, inResponseTo must be
 * integers and requiresResponse a boolean when present. On error nothing is
 * owned (relay_env_free is still safe). */
int relay_env_decode(relay_env_t *e, const void *data, size_t len, char *err, size_t errlen);
void relay_env_free(relay_env_t *e);

/* ---- CONN:HELLO ------------------------------------------------------------ */

typedef struct relay_hello {
    const char *peer_class; /* borrowed from the envelope */
    const char *peer_id;
} relay_hello_t;

/* Check that a decoded envelope is a valid HELLO: type CONN:HELLO, integer
 * messageId, boolean requiresResponse, non-empty peerClass/peerId strings of
 * at most RELAY_PEER_FIELD_MAX bytes without control characters. */
int relay_hello_check(const relay_env_t *e, relay_hello_t *h, char *err, size_t errlen);
int relay_hello_build(buf_t *out, int64_t id, const char *peer_class, const char *peer_id);

/* ---- EVENT:<name> ---------------------------------------------------------- */

/* The event name (after "EVENT:"), or NULL when e is not an event. */
const char *relay_event_name(const relay_env_t *e);
/* An EVENT message; body/ctype follow the dataFormat rules (ctype NULL:
 * JSON if the body parses as JSON, else text/plain when it is UTF-8, else
 * octet-stream). No body: dataFormat and messageBody are left out. */
int relay_event_build(buf_t *out, int64_t id, const char *name, const char *ctype, const void *body,
                      size_t len, char *err, size_t errlen);

/* ---- helpers shared with relay_rest.c --------------------------------------- */

/* Is the media type JSON ("application/json", "application/x+json",
 * parameters ignored)? octet-stream? */
bool relay_mime_is_json(const char *ctype);
bool relay_mime_is_binary(const char *ctype);
/* The bare, lower-cased media type of a Content-Type value ("application/json"
 * from "Application/JSON; charset=utf-8") into out. */
void relay_mime_base(const char *ctype, char *out, size_t outlen);
/* Serialise the document compactly, in insertion order, into out. */
int relay_json_append(buf_t *out, const json_t *doc);
void relay_seterr(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
