/*
 * flow: credit bookkeeping for tunnel streams (see flow.h).
 *
 * The receiver keeps granted - delivered <= window: what the sender may have
 * in flight plus what sits in our queue never exceeds one window, however
 * slowly the local socket drains. Grants wait until at least half a window
 * can be given, which keeps Window messages to about two per window of data.
 * The window doubles while at most a quarter window waits in our queue (the
 * reader keeps up) if the sender ran dry or a window's worth went through in
 * under TUNNEL_RWIN_FAST_MS (see flow.h), and only as far as the shared
 * budget, when there is one, still allows.
 */
#include <errno.h>

#include "tunnel/flow.h"

void tunnel_dir_init(tunnel_dir_t *d, uint64_t initial_credit)
{
    d->credit = initial_credit;
    d->bytes = 0;
    d->fin = false;
}

int tunnel_dir_data(tunnel_dir_t *d, size_t len, const char **why)
{
    if (d->fin) {
        *why = "data after fin";
        return -EPROTO;
    }
    if (len > d->credit) {
        *why = "flow control window exceeded";
        return -EPROTO;
    }
    d->credit -= len;
    d->bytes += len;
    return 0;
}

int tunnel_dir_grant(tunnel_dir_t *d, uint64_t credit, uint64_t max_outstanding,
                     const char **why)
{
    if (max_outstanding && (credit > max_outstanding || d->credit > max_outstanding - credit)) {
        *why = "window grant above the maximum window";
        return -EPROTO;
    }
    d->credit += credit;
    return 0;
}

int tunnel_dir_finish(tunnel_dir_t *d, const char **why)
{
    if (d->fin) {
        *why = "second fin";
        return -EPROTO;
    }
    d->fin = true;
    return 0;
}

void tunnel_rwin_init(tunnel_rwin_t *r, uint64_t window, uint64_t max_window, int64_t now_ms)
{
    r->mark = 0;
    r->mark_ms = now_ms;
    r->window = window;
    r->max_window = max_window > window ? max_window : window;
    r->starved = false;
    r->received = 0;
    r->delivered = 0;
    r->granted = window;
    r->budget = NULL;
    r->grown = 0;
}

void tunnel_rwin_release(tunnel_rwin_t *r)
{
    if (r->budget)
        *r->budget += r->grown;
    r->grown = 0;
}

int tunnel_rwin_received(tunnel_rwin_t *r, size_t len)
{
    if (r->received + len > r->granted)
        return -EPROTO;
    r->received += len;
    if (r->received == r->granted)
        r->starved = true;
    return 0;
}

uint64_t tunnel_rwin_delivered(tunnel_rwin_t *r, uint64_t delivered_total, int64_t now_ms)
{
    if (delivered_total > r->received)
        delivered_total = r->received; /* never credit what did not arrive */
    if (delivered_total > r->delivered)
        r->delivered = delivered_total;
    bool fast = false;
    if (r->delivered - r->mark >= r->window) { /* a window's worth went through */
        fast = now_ms - r->mark_ms < TUNNEL_RWIN_FAST_MS;
        r->mark = r->delivered;
        r->mark_ms = now_ms;
    }
    if ((r->starved || fast) && r->received - r->delivered <= r->window / 4 &&
        r->window < r->max_window) {
        uint64_t next = r->window > r->max_window / 2 ? r->max_window : r->window * 2;
        uint64_t more = next - r->window;
        if (!r->budget || *r->budget >= more) {
            if (r->budget) {
                *r->budget -= more;
                r->grown += more;
            }
            r->window = next;
            r->starved = false;
        }
    }
    uint64_t target = r->delivered + r->window; /* keep granted - delivered == window */
    if (target <= r->granted)
        return 0;
    uint64_t give = target - r->granted;
    uint64_t threshold = r->window / 2 ? r->window / 2 : 1;
    if (give < threshold)
        return 0;
    r->granted += give;
    r->starved = false;
    return give;
}
