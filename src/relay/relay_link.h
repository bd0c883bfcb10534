/*
 * relay_link: one end's connection to the relay, kept up for as long as the
 * daemon runs (relay-client and relay-connector each have one).
 *
 *   IDLE --backoff--> CONNECTING --101--> HELLO_SENT --partner HELLO--> UP
 *     ^                    |                  |                          |
 *     +-------- closed, refused, timeout, protocol error ----------------+
 *
 * On open the link sends its CONN:HELLO (messageId 0) and waits, as long as
 * it takes, for the partner's; anything else first is a protocol error
 * (close and reconnect). Reconnects back off exponentially from
 * backoff_min to backoff_max with jitter (each wait is uniform in
 * [delay/2, delay]: core's clock_backoff_ms), so a fleet of gateways does
 * not reconnect in lockstep after a relay restart; the delay resets once a
 * partner has been met.
 *
 * Message ids come from one counter for the link's lifetime (never reused
 * across reconnects, so a late answer cannot match a new request).
 *
 * The link owns its WebSocket and timer; relay_link_stop() closes them and
 * frees the link once both are gone (asynchronously).
 */
#ifndef OUTPOST_RELAY_LINK_H
#define OUTPOST_RELAY_LINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "codec/relay_msg.h"
#include "net/tls.h"

typedef struct relay_link relay_link_t;

typedef struct relay_link_cbs {
    /* The partner said HELLO: messages may flow. */
    void (*on_up)(relay_link_t *l, const char *peer_class, const char *peer_id, void *ud);
    /* A message from the partner (a decoded envelope; raw bytes alongside).
     * Both are only valid during the call. Non-JSON messages are logged and
     * dropped by the link. */
    void (*on_message)(relay_link_t *l, const relay_env_t *env, const char *raw, size_t len, void *ud);
    /* The link went down after being up (a reconnect is scheduled), or the
     * relay replaced the partner (a new HELLO while up; on_up follows). */
    void (*on_down)(relay_link_t *l, const char *reason, void *ud);
    /* The send queue drained below low water (after relay_link_congested). */
    void (*on_drain)(relay_link_t *l, void *ud);
} relay_link_cbs_t;

typedef struct relay_link_opts {
    const char *url;          /* wss://host:port/prefix/meeting-id */
    tls_ctx_t *tls;           /* client context (with our certificate) for wss */
    const char *peer_class;
    const char *peer_id;
    const char *name;         /* for logs: "relay-client" */
    int64_t backoff_min_ms;   /* default 500 ms */
    int64_t backoff_max_ms;   /* default 30 s */
    int64_t ping_interval_ms; /* default 10 s */
    int64_t pong_timeout_ms;  /* default 10 s */
    size_t max_message;       /* default 1 MiB */
} relay_link_opts_t;

/* Copies what it needs from opts (tls is borrowed and must outlive the
 * link). Connects at once. NULL on a bad URL (logged). */
relay_link_t *relay_link_start(uv_loop_t *loop, const relay_link_opts_t *o, const relay_link_cbs_t *cbs,
                               void *ud);
void relay_link_stop(relay_link_t *l);

bool relay_link_up(const relay_link_t *l);
bool relay_link_congested(const relay_link_t *l);
/* A fresh messageId. */
int64_t relay_link_next_id(relay_link_t *l);
/* Send a text message: 0, -ENOTCONN (no partner now), -ENOBUFS (queue full). */
int relay_link_send(relay_link_t *l, const char *data, size_t len);
/* Counters for logs and status. */
uint64_t relay_link_connects(const relay_link_t *l);

#endif
