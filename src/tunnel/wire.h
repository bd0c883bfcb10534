/*
 * wire: sending and receiving tunnel messages on a WebSocket, shared by the
 * gateway and the agent. One tunnel_wire_t per daemon (the event loop is
 * single-threaded) holds the decoder and a scratch buffer capped at the
 * message size; ws_send() copies out of it, so nothing here outlives a call.
 */
#ifndef OUTPOST_TUNNEL_WIRE_H
#define OUTPOST_TUNNEL_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "codec/tunnel_frame.h"
#include "core/buf.h"
#include "net/ws.h"

typedef struct tunnel_wire {
    tunnel_decoder_t dec;
    buf_t scratch;
    size_t max_message;
    uint64_t msgs_out, msgs_in;
    size_t last_len; /* bytes of the last message sent */
} tunnel_wire_t;

int tunnel_wire_init(tunnel_wire_t *w, size_t max_message);
void tunnel_wire_free(tunnel_wire_t *w);

/* Encode and send. 0 or a negative error (ws_send's, or -EINVAL). */
int tunnel_wire_send(tunnel_wire_t *w, ws_t *ws, const tunnel_msg_t *m);
/* Largest Data payload that fits one message for a peer whose cap is max_message. */
size_t tunnel_wire_max_data(size_t max_message);
/* Data for a stream, split into messages that fit peer_max (the receiver's
 * message cap; 0 = ours). */
int tunnel_wire_data(tunnel_wire_t *w, ws_t *ws, const char *guid, size_t glen, const void *data,
                     size_t len, size_t peer_max);
int tunnel_wire_window(tunnel_wire_t *w, ws_t *ws, const char *guid, size_t glen, uint64_t credit);
/* v1 peers get Mode and Reason; v0 peers a bare Terminator{GUID}. */
int tunnel_wire_term(tunnel_wire_t *w, ws_t *ws, int version, const char *guid, size_t glen,
                     tunnel_term_mode_t mode, const char *reason);
/* Ack for a stream. window < 0: omitted. guid NULL: omitted (v0 peers).
 * code (v2: why it failed, TUNNEL_CODE_*): NULL omits it. */
int tunnel_wire_ack(tunnel_wire_t *w, ws_t *ws, const char *guid, size_t glen, bool ok,
                    const char *message, const char *code, int64_t window);

/* A random version-4 UUID as text (37 bytes with the NUL). */
void tunnel_guid_new(char out[37]);

#endif
