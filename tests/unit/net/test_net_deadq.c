/* Unit tests: net/deadq — deadlines sorted in one list, one timer, expiry in
 * order, and owners changing the queue from inside on_expire. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "core/clock.h"
#include "net/deadq.h"

typedef struct ent {
    net_deadq_item_t it; /* first: the entry from its item */
    char name;
    int64_t expired_at;
} ent_t;

typedef struct run {
    char order[16];
    size_t n;
    ent_t *del_on_a;    /* 'a' expiring takes this one out */
    ent_t *readd_on_b;  /* 'b' expiring queues this one again, 40 ms on */
    bool close_on_c;    /* 'c' expiring closes the queue */
} run_t;

static void on_expire(net_deadq_t *q, net_deadq_item_t *it, void *ud)
{
    run_t *r = ud;
    ent_t *e = (ent_t *)it;
    assert_false(it->queued); /* unlinked before the call */
    e->expired_at = clock_mono_ms();
    r->order[r->n++] = e->name;
    if (e->name == 'a' && r->del_on_a)
        net_deadq_del(q, &r->del_on_a->it);
    if (e->name == 'b' && r->readd_on_b) {
        net_deadq_add(q, &r->readd_on_b->it, clock_mono_ms() + 40);
        r->readd_on_b = NULL;
    }
    if (e->name == 'c' && r->close_on_c)
        net_deadq_close(q, NULL);
}

static void names(const net_deadq_t *q, char *out)
{
    size_t i = 0;
    for (const net_deadq_item_t *it = net_deadq_first(q); it; it = it->next)
        out[i++] = ((const ent_t *)it)->name;
    out[i] = '\0';
}

static void test_sorted_and_moved(void **state)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    run_t r = { 0 };
    net_deadq_t q;
    net_deadq_init(&loop, &q, on_expire, &r);
    assert_ptr_equal(q.timer.data, &r);
    ent_t e[5] = { { .name = 'a' }, { .name = 'b' }, { .name = 'c' }, { .name = 'd' }, { .name = 'e' } };
    int64_t t = clock_mono_ms() + 100000;
    net_deadq_add(&q, &e[0].it, t + 30);
    net_deadq_add(&q, &e[1].it, t + 10);
    net_deadq_add(&q, &e[2].it, t + 20);
    net_deadq_add(&q, &e[3].it, t + 10); /* equal deadlines keep their arrival order */
    net_deadq_add(&q, &e[4].it, t + 40);
    char s[8];
    names(&q, s);
    assert_string_equal(s, "bdcae");
    assert_int_equal(q.n, 5);
    net_deadq_add(&q, &e[4].it, t + 5); /* moved to the front */
    net_deadq_del(&q, &e[2].it);
    net_deadq_del(&q, &e[2].it); /* twice: nothing */
    names(&q, s);
    assert_string_equal(s, "ebda");
    assert_int_equal(q.n, 4);
    assert_true(uv_is_active((uv_handle_t *)&q.timer));
    for (int i = 0; i < 5; i++)
        net_deadq_del(&q, &e[i].it);
    assert_null(net_deadq_first(&q));
    assert_int_equal(q.n, 0);
    /* an empty queue stops its timer: the loop has nothing left to wait for */
    assert_false(uv_is_active((uv_handle_t *)&q.timer));
    assert_int_equal(uv_run(&loop, UV_RUN_NOWAIT), 0);
    net_deadq_close(&q, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_expiry_in_order_with_changes(void **state)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    ent_t a = { .name = 'a' }, b = { .name = 'b' }, c = { .name = 'c' }, d = { .name = 'd' };
    run_t r = { .del_on_a = &d, .readd_on_b = &a };
    net_deadq_t q;
    net_deadq_init(&loop, &q, on_expire, &r);
    int64_t t0 = clock_mono_ms();
    net_deadq_add(&q, &c.it, t0 + 60);
    net_deadq_add(&q, &a.it, t0 + 20);
    net_deadq_add(&q, &d.it, t0 + 80);
    net_deadq_add(&q, &b.it, t0 + 40);
    /* the loop runs for as long as something waits, and not longer */
    uv_run(&loop, UV_RUN_DEFAULT);
    r.order[r.n] = '\0';
    /* a (taking d out), b (queueing a again at +80), c, then a once more */
    assert_string_equal(r.order, "abca");
    assert_true(b.expired_at >= t0 + 40 && c.expired_at >= t0 + 60);
    assert_true(a.expired_at >= t0 + 80); /* the second time */
    assert_int_equal(d.expired_at, 0);
    assert_int_equal(q.n, 0);
    net_deadq_close(&q, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_close_from_on_expire(void **state)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    ent_t c = { .name = 'c' }, x = { .name = 'x' }, y = { .name = 'y' };
    run_t r = { .close_on_c = true };
    net_deadq_t q;
    net_deadq_init(&loop, &q, on_expire, &r);
    int64_t t0 = clock_mono_ms();
    net_deadq_add(&q, &c.it, t0 - 5);
    net_deadq_add(&q, &x.it, t0 - 1); /* due as well, but the queue is closed by then */
    net_deadq_add(&q, &y.it, t0 + 1000);
    uv_run(&loop, UV_RUN_DEFAULT); /* returns once the timer is closed */
    r.order[r.n] = '\0';
    assert_string_equal(r.order, "c");
    assert_true(x.it.queued && y.it.queued); /* still the owner's */
    net_deadq_del(&q, &x.it);                /* taking them out after the close is fine */
    net_deadq_del(&q, &y.it);
    assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sorted_and_moved),
        cmocka_unit_test(test_expiry_in_order_with_changes),
        cmocka_unit_test(test_close_from_on_expire),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
