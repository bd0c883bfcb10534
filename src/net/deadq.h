/*
 * deadq: deadlines kept in one list sorted by time and served by one libuv
 * timer, armed for the earliest. For the owners that wait on many things at
 * once with one timeout each (XMPP IQs, the relay client's requests in
 * flight, the relay's HELLO waits): entries usually arrive in deadline
 * order, so an insert is O(1) from the tail; removal is O(1).
 *
 * Intrusive: the owner embeds a net_deadq_item_t in each entry (and finds
 * the entry again from it). On expiry the queue unlinks the item first, then
 * calls on_expire, which may free the entry, add or remove others, or stop
 * the queue. The owner owns the queue's storage and its timer: it closes it
 * with net_deadq_close(); the timer's `data` is the owner's `ud`, for its
 * close callback. All on the loop's thread.
 */
#ifndef OUTPOST_NET_DEADQ_H
#define OUTPOST_NET_DEADQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct net_deadq_item {
    int64_t deadline; /* clock_mono_ms() */
    struct net_deadq_item *prev, *next;
    bool queued;
} net_deadq_item_t;

typedef struct net_deadq net_deadq_t;
typedef void (*net_deadq_fn)(net_deadq_t *q, net_deadq_item_t *it, void *ud);

struct net_deadq {
    uv_timer_t timer; /* first: the timer callback finds the queue from it */
    net_deadq_item_t *head, *tail;
    size_t n;
    net_deadq_fn on_expire;
    void *ud;
};

void net_deadq_init(uv_loop_t *loop, net_deadq_t *q, net_deadq_fn on_expire, void *ud);
/* Queue it to expire at `deadline` (mono ms; after earlier equal ones). An
 * item already queued is moved. */
void net_deadq_add(net_deadq_t *q, net_deadq_item_t *it, int64_t deadline);
/* Take it out (nothing if not queued). */
void net_deadq_del(net_deadq_t *q, net_deadq_item_t *it);
/* The earliest, or NULL. */
static inline net_deadq_item_t *net_deadq_first(const net_deadq_t *q) { return q->head; }
/* Close the timer (cb may be NULL). Items still queued stay the owner's; no
 * on_expire comes after this. */
void net_deadq_close(net_deadq_t *q, uv_close_cb cb);

#endif
