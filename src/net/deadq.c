#include "net/deadq.h"

#include <stddef.h>

#include "core/clock.h"

static void on_timer(uv_timer_t *t);

static void arm(net_deadq_t *q)
{
    if (uv_is_closing((uv_handle_t *)&q->timer))
        return;
    if (!q->head) {
        uv_timer_stop(&q->timer);
        return;
    }
    int64_t left = q->head->deadline - clock_mono_ms();
    uv_timer_start(&q->timer, on_timer, left > 0 ? (uint64_t)left : 0, 0);
}

static void unlink_item(net_deadq_t *q, net_deadq_item_t *it)
{
    if (it->prev)
        it->prev->next = it->next;
    else
        q->head = it->next;
    if (it->next)
        it->next->prev = it->prev;
    else
        q->tail = it->prev;
    it->prev = it->next = NULL;
    it->queued = false;
    q->n--;
}

static void on_timer(uv_timer_t *t)
{
    net_deadq_t *q = (net_deadq_t *)t; /* the first member */
    int64_t now = clock_mono_ms();
    /* on_expire may close the queue: then nothing more is expired */
    while (q->head && q->head->deadline <= now && !uv_is_closing((uv_handle_t *)&q->timer)) {
        net_deadq_item_t *it = q->head;
        unlink_item(q, it);
        q->on_expire(q, it, q->ud);
    }
    arm(q);
}

void net_deadq_init(uv_loop_t *loop, net_deadq_t *q, net_deadq_fn on_expire, void *ud)
{
    q->head = q->tail = NULL;
    q->n = 0;
    q->on_expire = on_expire;
    q->ud = ud;
    uv_timer_init(loop, &q->timer);
    q->timer.data = ud;
}

void net_deadq_add(net_deadq_t *q, net_deadq_item_t *it, int64_t deadline)
{
    if (it->queued)
        unlink_item(q, it);
    it->deadline = deadline;
    /* from the tail: with one timeout per queue, the tail is the place */
    net_deadq_item_t *after = q->tail;
    while (after && after->deadline > deadline)
        after = after->prev;
    it->prev = after;
    it->next = after ? after->next : q->head;
    if (it->next)
        it->next->prev = it;
    else
        q->tail = it;
    if (after)
        after->next = it;
    else
        q->head = it;
    it->queued = true;
    q->n++;
    if (q->head == it)
        arm(q);
}

void net_deadq_del(net_deadq_t *q, net_deadq_item_t *it)
{
    if (!it->queued)
        return;
    unlink_item(q, it);
    /* a timer left for a later head only fires early and re-arms: cheaper
     * than restarting it on each answer; an empty queue stops it (an
     * active timer keeps the loop running) */
    if (!q->head && !uv_is_closing((uv_handle_t *)&q->timer))
        uv_timer_stop(&q->timer);
}

void net_deadq_close(net_deadq_t *q, uv_close_cb cb)
{
    uv_close((uv_handle_t *)&q->timer, cb);
}
