/* wire: tunnel message send helpers (see wire.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/str.h"
#include "tunnel/wire.h"

int tunnel_wire_init(tunnel_wire_t *w, size_t max_message)
{
    memset(w, 0, sizeof *w);
    w->max_message = max_message ? max_message : TUNNEL_MAX_MESSAGE_DEFAULT;
    buf_init(&w->scratch, w->max_message);
    tunnel_limits_t lim = { .max_message = w->max_message };
    return tunnel_decoder_init(&w->dec, &lim);
}

void tunnel_wire_free(tunnel_wire_t *w)
{
    if (!w->max_message)
        return; /* never initialised */
    tunnel_decoder_free(&w->dec);
    buf_free(&w->scratch);
}

static int ship(tunnel_wire_t *w, ws_t *ws)
{
    w->last_len = w->scratch.len;
    int rc = ws_send(ws, WS_BINARY, w->scratch.data, w->scratch.len);
    /* Keep a warm buffer, but not a huge one after a burst of big messages. */
    buf_reset_keep(&w->scratch, 256 * 1024);
    if (rc == 0)
        w->msgs_out++;
    return rc;
}

int tunnel_wire_send(tunnel_wire_t *w, ws_t *ws, const tunnel_msg_t *m)
{
    buf_reset_keep(&w->scratch, 256 * 1024);
    int rc = tunnel_encode(&w->scratch, m);
    if (rc != 0)
        return rc;
    return ship(w, ws);
}

size_t tunnel_wire_max_data(size_t max_message)
{
    return max_message > TUNNEL_DATA_HEAD_MAX + 1024 ? max_message - TUNNEL_DATA_HEAD_MAX : 1024;
}

int tunnel_wire_data(tunnel_wire_t *w, ws_t *ws, const char *guid, size_t glen, const void *data,
                     size_t len, size_t peer_max)
{
    if (glen > TUNNEL_GUID_MAX)
        return -EINVAL;
    /* Pieces that fit the receiver's cap whatever this leg's GUID length;
     * header and payload go out as two buffers, so the payload is not copied
     * here (the WebSocket layer masks or writes it straight from `data`). */
    size_t max = tunnel_wire_max_data(peer_max ? peer_max : w->max_message);
    const char *p = data;
    int rc = 0;
    w->last_len = 0;
    do {
        size_t n = len < max ? len : max;
        uint8_t head[TUNNEL_DATA_HEAD_MAX];
        size_t hn = tunnel_encode_data_head(head, guid, glen, n);
        uv_buf_t v[2] = { uv_buf_init((char *)head, (unsigned)hn), uv_buf_init((char *)p, (unsigned)n) };
        rc = ws_sendv(ws, WS_BINARY, v, 2);
        if (rc != 0)
            break;
        w->msgs_out++;
        w->last_len += hn + n;
        p += n;
        len -= n;
    } while (len);
    return rc;
}

int tunnel_wire_window(tunnel_wire_t *w, ws_t *ws, const char *guid, size_t glen, uint64_t credit)
{
    tunnel_msg_t m = { .type = TUNNEL_WINDOW, .credit = credit };
    m.guid = (tunnel_str_t){ guid, glen };
    return tunnel_wire_send(w, ws, &m);
}

int tunnel_wire_term(tunnel_wire_t *w, ws_t *ws, int version, const char *guid, size_t glen,
                     tunnel_term_mode_t mode, const char *reason)
{
    tunnel_msg_t m = { .type = TUNNEL_TERMINATOR, .mode = mode };
    m.guid = (tunnel_str_t){ guid, glen };
    if (version >= 1) {
        if (mode != TUNNEL_TERM_CLOSE)
            m.has |= TUNNEL_F_MODE;
        if (reason && *reason) {
            m.reason = tunnel_s(reason);
            if (m.reason.n > TUNNEL_TEXT_MAX)
                m.reason.n = TUNNEL_TEXT_MAX;
            m.has |= TUNNEL_F_REASON;
        }
    }
    return tunnel_wire_send(w, ws, &m);
}

int tunnel_wire_ack(tunnel_wire_t *w, ws_t *ws, const char *guid, size_t glen, bool ok,
                    const char *message, const char *code, int64_t window)
{
    tunnel_msg_t m = { .type = TUNNEL_ACK, .ok = ok, .has = TUNNEL_F_MESSAGE };
    m.message = tunnel_s(message ? message : "");
    if (m.message.n > TUNNEL_TEXT_MAX)
        m.message.n = TUNNEL_TEXT_MAX;
    if (guid) {
        m.guid = (tunnel_str_t){ guid, glen };
        m.has |= TUNNEL_F_GUID;
    }
    if (window >= 0) {
        m.window = (uint64_t)window;
        m.has |= TUNNEL_F_WINDOW;
    }
    if (code && *code) {
        m.code = tunnel_s(code);
        m.has |= TUNNEL_F_CODE;
    }
    return tunnel_wire_send(w, ws, &m);
}

void tunnel_guid_new(char out[37])
{
    uint8_t b[16];
    if (str_random(b, sizeof b) != 0)
        memset(b, 0, sizeof b); /* getrandom failing is not survivable anyway */
    b[6] = (uint8_t)((b[6] & 0x0f) | 0x40);
    b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
    char h[33];
    str_hex(b, sizeof b, h);
    snprintf(out, 37, "%.8s-%.4s-%.4s-%.4s-%.12s", h, h + 8, h + 12, h + 16, h + 20);
}
