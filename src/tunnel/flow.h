/*
 * flow: the per-stream credit rules of the tunnel protocol, as pure logic
 * (no I/O), shared by the agent (which sends and receives) and the gateway
 * (which checks both legs of every stream it relays).
 *
 * A tunnel_dir_t is one direction of a stream seen from whoever enforces it:
 * how many payload bytes the sender may still send, and whether it finished.
 * A tunnel_rwin_t is the receiving end's bookkeeping: it turns "bytes
 * delivered to the TCP socket" into Window grants, in batches of at least
 * half a window, so that buffered + in-flight bytes never exceed the window.
 * The window starts small and doubles, up to a maximum, while our queue is
 * nearly empty (the reader keeps up) and either the sender ran out of credit
 * (a long path needs more bytes in flight) or a whole window went through in
 * under TUNNEL_RWIN_FAST_MS (a fast stream moves in bigger batches with a
 * bigger window: on loopback over ws, 8.5 Gbit/s at 4 MiB against 6 at
 * 256 KiB). Growth costs memory only if a fast reader later stops, and
 * an optional budget shared by a process's windows caps what all of them
 * together may grow by (a reader that stops holds at most its window).
 * Both are plain structs owned by the stream that embeds them.
 */
#ifndef OUTPOST_TUNNEL_FLOW_H
#define OUTPOST_TUNNEL_FLOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct tunnel_dir {
    uint64_t credit; /* bytes the sender may still send */
    uint64_t bytes;  /* payload bytes carried so far */
    bool fin;        /* the sender finished this direction */
} tunnel_dir_t;

void tunnel_dir_init(tunnel_dir_t *d, uint64_t initial_credit);
/* The sender sends len bytes. 0, or -EPROTO ("data after fin", "flow control
 * window exceeded") with *why set. */
int tunnel_dir_data(tunnel_dir_t *d, size_t len, const char **why);
/* The receiver grants `credit` more. Outstanding credit may not exceed
 * max_outstanding (0 = no limit): -EPROTO otherwise. */
int tunnel_dir_grant(tunnel_dir_t *d, uint64_t credit, uint64_t max_outstanding,
                     const char **why);
/* The sender ends the direction (fin/close); -EPROTO if it already had. */
int tunnel_dir_finish(tunnel_dir_t *d, const char **why);

typedef struct tunnel_rwin {
    uint64_t window;     /* receive window now (starts as the one we announced) */
    uint64_t max_window; /* how far it may grow */
    uint64_t received;  /* payload bytes received */
    uint64_t delivered; /* bytes passed on (left our queue) */
    uint64_t granted;   /* credit given in total, the initial window included */
    uint64_t mark;      /* `delivered` when the current window's worth began */
    int64_t mark_ms;    /* ... and when */
    bool starved;       /* the sender used up its credit since our last grant */
    uint64_t *budget;   /* growth all of a process's windows may still take (NULL: no cap) */
    uint64_t grown;     /* what this window took from it */
} tunnel_rwin_t;

enum { TUNNEL_RWIN_FAST_MS = 20 };

/* max_window below window means a fixed window; now_ms: any monotonic clock. */
void tunnel_rwin_init(tunnel_rwin_t *r, uint64_t window, uint64_t max_window, int64_t now_ms);
/* Bytes arrived: -EPROTO if they exceed what was granted. */
int tunnel_rwin_received(tunnel_rwin_t *r, size_t len);
/* `delivered_total` bytes have now left our queue: the credit to grant now
 * (0 = not worth a message yet). The caller sends it as a Window message. */
uint64_t tunnel_rwin_delivered(tunnel_rwin_t *r, uint64_t delivered_total, int64_t now_ms);

/* The stream is gone: what its window grew by goes back to the budget. */
void tunnel_rwin_release(tunnel_rwin_t *r);

#endif
