/*
 * relay_hub: the relay's pairing state machine, free of I/O.
 *
 * The hub knows meeting ids (paths), the peers on them and what has to
 * happen when a peer speaks, drains or leaves; the transport (WebSocket
 * connections, in relay_server.c) is reached only through relay_hub_ops_t.
 * That keeps every race of the original reproducible in unit tests with
 * fake transports.
 *
 * A peer's life:
 *
 *   PENDING --valid HELLO, path has 0 peers--> WAITING --partner HELLO--> PAIRED
 *   PENDING --valid HELLO, path has 1 peer---> PAIRED (both get the other's HELLO)
 *   PENDING --HELLO, path has 2 peers--------> closed 1008 "path busy"
 *   PENDING --anything else / timeout--------> closed 1008 with the reason
 *   PAIRED  --partner leaves--> closed 1001 "partner left", or WAITING with
 *                               keep_waiting (messages sent meanwhile are
 *                               dropped and counted: they were meant for
 *                               the partner that left)
 *   WAITING --message, never paired--> closed 1008 "message before partner"
 *
 * Design choices against the original's races:
 *  - a path slot is taken by a *valid HELLO*, never by a bare connection:
 *    a silent second connection cannot block a path (its HELLO timer
 *    closes it), and HELLOs may arrive in either order;
 *  - leaving is immediate: relay_hub_close() (ours) and relay_hub_gone()
 *    (theirs) detach the peer before anything else runs, so a partner can
 *    never be paired with a peer that is half-closed;
 *  - a message before any partner ever appeared is a protocol error, not
 *    queued: a queued REST:REQUEST could reach a gateway long after its
 *    sender gave up (a stale DELETE executed later is worse than an error).
 *
 * Backpressure: after forwarding to B, if B's transport is congested (it
 * holds more than its high-water mark: --pair-buffer in the relay), A
 * stops being read (ops->pause) until B drains (relay_hub_drained(B) ->
 * ops->resume(A)). Asking the transport rather than comparing sizes here
 * means the hub and the drain notification can never disagree. Memory per pair is therefore
 * bounded by about buffer_bytes + what was in flight, whatever B's speed.
 *
 * Ownership: the hub owns paths; peers are embedded in the transport's
 * connection object (relay_peer_t is caller-allocated; relay_hub_attach()
 * links it, relay_hub_gone() unlinks it for good).
 */
#ifndef OUTPOST_RELAY_HUB_H
#define OUTPOST_RELAY_HUB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

typedef struct relay_hub relay_hub_t;
typedef struct relay_path relay_path_t;
typedef struct relay_peer relay_peer_t;

typedef enum relay_peer_state {
    RELAY_PEER_PENDING = 0, /* connected, no valid HELLO yet */
    RELAY_PEER_WAITING,     /* HELLO said, alone on its path */
    RELAY_PEER_PAIRED,
    RELAY_PEER_CLOSED,      /* closing or gone: ignored by the hub */
} relay_peer_state_t;

enum { RELAY_MEETING_MAX = 256, RELAY_SUBJECT_MAX = 256 };

struct relay_peer {
    /* set by the transport before relay_hub_attach */
    void *conn;                       /* the transport's handle */
    char meeting[RELAY_MEETING_MAX + 1];
    char subject[RELAY_SUBJECT_MAX];  /* certificate subject, "" without TLS */
    char remote[64];                  /* "1.2.3.4:5678" */
    /* hub state */
    relay_peer_state_t state;
    relay_path_t *path;
    relay_peer_t *partner;
    relay_peer_t *prev, *next;        /* the hub's live or closing list */
    buf_t hello;                      /* our HELLO, verbatim, for the partner */
    char peer_class[257], peer_id[257];
    bool had_partner;
    bool paused;                      /* we stopped reading it (partner congested) */
    int64_t since_ms;                 /* connect time, then pairing time */
    uint64_t msgs_in, msgs_out, bytes_in, bytes_out, dropped;
};

typedef struct relay_hub_ops {
    /* Queue a message on p's transport: 0, or <0 when it cannot be queued
     * (the hub then closes p). */
    int (*send)(relay_peer_t *p, bool binary, const void *data, size_t len, void *ud);
    /* Start closing p's transport (close frame with code/reason). The hub
     * has already detached p; the transport later calls relay_hub_gone(),
     * possibly from inside this call, but p's memory must stay valid until
     * ops->close returns (the hub may still look at it). */
    void (*close)(relay_peer_t *p, uint16_t code, const char *reason, void *ud);
    void (*pause)(relay_peer_t *p, void *ud);
    void (*resume)(relay_peer_t *p, void *ud);
    size_t (*queued)(relay_peer_t *p, void *ud); /* bytes waiting on p's transport */
    /* Past its high-water mark: the transport will report relay_hub_drained()
     * once it is below its low-water mark again. */
    bool (*congested)(relay_peer_t *p, void *ud);
} relay_hub_ops_t;

typedef struct relay_hub_opts {
    bool keep_waiting;     /* a peer whose partner left waits for a new one */
    int64_t (*now_ms)(void); /* clock (tests); default clock_mono_ms */
} relay_hub_opts_t;

typedef struct relay_hub_stats {
    uint64_t connections_total, hellos, pairings, busy_rejects, protocol_rejects;
    uint64_t messages, bytes, dropped, pauses, partner_left, overflow_closes;
    size_t peers, pending, waiting_paths, paired_paths;
} relay_hub_stats_t;

relay_hub_t *relay_hub_new(const relay_hub_ops_t *ops, void *ud, const relay_hub_opts_t *opts);
/* Close every peer (1001 "relay shutting down") and free the hub once the
 * transports reported them gone; call relay_hub_free after that. */
void relay_hub_shutdown(relay_hub_t *h);
void relay_hub_free(relay_hub_t *h);
const relay_hub_stats_t *relay_hub_stats(relay_hub_t *h);

/* Would a new connection for `meeting` be refused right now? 0, or -EBUSY
 * (two peers paired there) so the transport can answer at once. */
int relay_hub_check_busy(const relay_hub_t *h, const char *meeting);

/* The transport refused a connection to a busy path (counted here). */
void relay_hub_note_busy(relay_hub_t *h);
/* A new transport connection: p->conn, p->meeting, p->subject set. */
void relay_hub_attach(relay_hub_t *h, relay_peer_t *p);
/* A complete message from p. */
void relay_hub_message(relay_hub_t *h, relay_peer_t *p, bool binary, const void *data, size_t len);
/* p's send queue fell below its low-water mark. */
void relay_hub_drained(relay_hub_t *h, relay_peer_t *p);
/* The HELLO deadline passed for p (only acts if p is still PENDING). */
void relay_hub_hello_timeout(relay_hub_t *h, relay_peer_t *p);
/* Close p ourselves (ping timeout, shutdown...): detach + ops->close. */
void relay_hub_close(relay_hub_t *h, relay_peer_t *p, uint16_t code, const char *reason);
/* The transport is gone (after ops->close, or the peer vanished): the hub
 * forgets p. Its memory is the caller's again. */
void relay_hub_gone(relay_hub_t *h, relay_peer_t *p);

/* Walk paths for /status: cb gets each path's id and its 1-2 peers. */
typedef void (*relay_hub_path_fn)(const char *meeting, relay_peer_t *a, relay_peer_t *b, void *ud);
void relay_hub_each_path(const relay_hub_t *h, relay_hub_path_fn cb, void *ud);

const char *relay_peer_state_name(relay_peer_state_t s);
/* Bytes waiting on p's transport (0 once p is closed). */
size_t relay_hub_peer_queued(relay_hub_t *h, relay_peer_t *p);

#endif
