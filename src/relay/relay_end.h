/*
 * relay_end: what relay-client and relay-connector share as the two ends
 * of a relay path: the options that reach the relay (URL, certificate,
 * HELLO identity, reconnect pacing, keepalive), their TLS client context
 * and the link built from them.
 *
 * A relay_end_opts_t is embedded in each daemon's options struct as `end`
 * (next to `common`); RELAY_END_OPTS(S) declares its table entries.
 */
#ifndef OUTPOST_RELAY_END_H
#define OUTPOST_RELAY_END_H

#include <stdint.h>

#include "core/config.h"
#include "net/http_admin.h"
#include "net/tls.h"
#include "relay/relay_link.h"

typedef struct relay_end_opts {
    char *relay_url;
    char *peer_class;
    char *peer_id;
    int64_t reconnect_min_ms, reconnect_max_ms;
    int64_t ping_interval_ms, pong_timeout_ms;
    uint64_t max_message;
} relay_end_opts_t;

#define RELAY_END_OPTS(S, CLASS)                                                                    \
    CFG_OPT("relay-url", CFG_STR, S, end.relay_url, NULL, "URL",                                   \
            "the relay path to join: wss://HOST:5050/micronets/v1/ws-proxy/MEETING-ID (required)"), \
    CFG_OPT("peer-class", CFG_STR, S, end.peer_class, CLASS, "NAME", "peerClass sent in CONN:HELLO"), \
    CFG_OPT("peer-id", CFG_STR, S, end.peer_id, NULL, "ID",                                        \
            "peerId sent in CONN:HELLO (default: the host name)"),                                   \
    CFG_OPT("reconnect-min", CFG_DURATION, S, end.reconnect_min_ms, "500ms", "DUR",                 \
            "first reconnect delay (doubles up to --reconnect-max, with jitter)", .min = 10,         \
            .max = 3600000),                                                                        \
    CFG_OPT("reconnect-max", CFG_DURATION, S, end.reconnect_max_ms, "30s", "DUR",                   \
            "longest reconnect delay", .min = 10, .max = 3600000),                                  \
    CFG_OPT("ping-interval", CFG_DURATION, S, end.ping_interval_ms, "10s", "DUR",                   \
            "WebSocket ping period towards the relay", .min = 100, .max = 3600000),                 \
    CFG_OPT("pong-timeout", CFG_DURATION, S, end.pong_timeout_ms, "10s", "DUR",                     \
            "reconnect when a pong is this late", .min = 100, .max = 3600000),                      \
    CFG_OPT("max-message", CFG_SIZE, S, end.max_message, "1MiB", "SIZE",                            \
            "largest message to send or accept (keep it within the relay's)", .min = 1024,         \
            .max = 1 << 30)

/* The TLS client context for the link per --tls-cert/--tls-key/--tls-ca
 * and --insecure; *out NULL for ws://. -EINVAL (logged) on bad flags. */
int relay_end_tls(const cfg_common_t *c, const relay_end_opts_t *e, const char *name, tls_ctx_t **out);
/* Start the link; NULL (logged) on a bad URL. */
relay_link_t *relay_end_link(uv_loop_t *loop, const relay_end_opts_t *e, tls_ctx_t *tls, const char *name,
                             const relay_link_cbs_t *cbs, void *ud);

/* The admin listener of a relay end (net/http_admin on --admin-listen,
 * token from --api-token or the data dir): /metrics with the link's series
 * (outpost_relay_end_*) and the daemon's own from `extra` (may be NULL),
 * /status with the link's state, /health 503 while the path has no
 * partner. *out NULL when the listener is off. */
typedef struct relay_end_admin {
    const char *daemon;          /* "relay-client" */
    const cfg_common_t *common;
    relay_link_t *const *link;   /* where the daemon keeps its link (set after start) */
    http_admin_writer_fn extra;
    void *ud;
    char token[160];
} relay_end_admin_t;
int relay_end_admin_start(uv_loop_t *loop, relay_end_admin_t *a, http_admin_t **out);

#endif
