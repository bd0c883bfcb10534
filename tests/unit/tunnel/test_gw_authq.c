/* Unit tests: tunnel/gw_authq, the fair queue of agent key checks. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "tunnel/gw_authq.h"

typedef struct login {
    gw_authq_ent_t ent;
    const char *addr;
    int id;
} login_t;

static login_t *of(gw_authq_ent_t *e) { return e ? (login_t *)((char *)e - offsetof(login_t, ent)) : NULL; }

static int push(gw_authq_t *q, login_t *l, const char *addr, int id, login_t **evicted)
{
    memset(l, 0, sizeof *l);
    l->addr = addr;
    l->id = id;
    gw_authq_ent_t *ev = NULL;
    int rc = gw_authq_push(q, &l->ent, addr, &ev);
    if (evicted)
        *evicted = of(ev);
    return rc;
}

/* One flooding address cannot make another wait more than its turn. */
static void test_turns_across_addresses(void **state)
{
    gw_authq_t q;
    gw_authq_init(&q, 2, 4, 64);
    login_t flood[4], agent;
    for (int i = 0; i < 4; i++)
        assert_int_equal(push(&q, &flood[i], "10.0.0.2", i, NULL), 0);
    /* both slots go to the flood: nothing else is waiting */
    assert_ptr_equal(of(gw_authq_next(&q)), &flood[0]);
    assert_ptr_equal(of(gw_authq_next(&q)), &flood[1]);
    assert_null(gw_authq_next(&q)); /* no slot free */
    assert_int_equal(push(&q, &agent, "10.0.0.1", 100, NULL), 0);
    assert_int_equal(gw_authq_waiting(&q), 3);
    /* the flood's address was first in line; the agent comes right after */
    gw_authq_done(&q);
    assert_ptr_equal(of(gw_authq_next(&q)), &flood[2]);
    gw_authq_done(&q);
    assert_ptr_equal(of(gw_authq_next(&q)), &agent);
    gw_authq_done(&q);
    assert_ptr_equal(of(gw_authq_next(&q)), &flood[3]);
    assert_null(gw_authq_next(&q));
    assert_int_equal(gw_authq_running(&q), 2);
    assert_int_equal(gw_authq_waiting(&q), 0);
    gw_authq_free(&q);
}

/* Three addresses with several logins each are served round-robin, each
 * address in the order its logins came. */
static void test_round_robin_order(void **state)
{
    gw_authq_t q;
    gw_authq_init(&q, 1, 4, 64);
    static const char *addrs[] = { "192.0.2.1", "192.0.2.2", "2001:db8::1" };
    login_t l[9];
    for (int i = 0; i < 9; i++)
        assert_int_equal(push(&q, &l[i], addrs[i / 3], i, NULL), 0);
    static const int want[] = { 0, 3, 6, 1, 4, 7, 2, 5, 8 };
    for (int i = 0; i < 9; i++) {
        login_t *got = of(gw_authq_next(&q));
        assert_non_null(got);
        assert_int_equal(got->id, want[i]);
        gw_authq_done(&q);
    }
    assert_null(gw_authq_next(&q));
    gw_authq_free(&q);
}

/* The per-address cap refuses that address only; an IPv6 /64 is one address;
 * an IPv4-mapped IPv6 address is the IPv4 one. */
static void test_per_address_cap(void **state)
{
    gw_authq_t q;
    gw_authq_init(&q, 1, 2, 64);
    login_t l[8];
    assert_int_equal(push(&q, &l[0], "2001:db8:1:2::1", 0, NULL), 0);
    assert_int_equal(push(&q, &l[1], "2001:db8:1:2:ffff::9", 1, NULL), 0);
    assert_int_equal(push(&q, &l[2], "2001:db8:1:2::77", 2, NULL), -EBUSY);
    assert_int_equal(push(&q, &l[3], "2001:db8:1:3::1", 3, NULL), 0); /* the next /64 */
    assert_int_equal(push(&q, &l[4], "198.51.100.7", 4, NULL), 0);
    assert_int_equal(push(&q, &l[5], "::ffff:198.51.100.7", 5, NULL), 0);
    assert_int_equal(push(&q, &l[6], "198.51.100.7", 6, NULL), -EBUSY);
    assert_int_equal(push(&q, &l[7], "not an address", 7, NULL), 0);
    assert_int_equal(gw_authq_waiting(&q), 6);
    /* serving one makes room for its address again */
    assert_ptr_equal(of(gw_authq_next(&q)), &l[0]);
    assert_int_equal(push(&q, &l[2], "2001:db8:1:2::77", 2, NULL), 0);
    gw_authq_free(&q);
}

/* A full queue evens out: a new address pushes out the newest login of the
 * address with the most waiting, but never in a swap that only trades places. */
static void test_full_queue_evicts_the_longest(void **state)
{
    gw_authq_t q;
    gw_authq_init(&q, 1, 4, 6);
    login_t a[4], b[2], c, d, e, f;
    login_t *ev = NULL;
    for (int i = 0; i < 4; i++)
        assert_int_equal(push(&q, &a[i], "10.0.0.1", i, NULL), 0);
    for (int i = 0; i < 2; i++)
        assert_int_equal(push(&q, &b[i], "10.0.0.2", 10 + i, NULL), 0);
    assert_int_equal(push(&q, &c, "10.0.0.3", 20, &ev), 0);
    assert_ptr_equal(ev, &a[3]); /* a had 4: its newest goes */
    assert_false(gw_authq_queued(&a[3].ent));
    assert_int_equal(push(&q, &d, "10.0.0.4", 30, &ev), 0);
    assert_ptr_equal(ev, &a[2]);
    /* a:2 b:2 c:1 d:1 -- a fifth address still gets a place */
    assert_int_equal(push(&q, &e, "10.0.0.5", 40, &ev), 0);
    assert_true(ev == &a[1] || ev == &b[1]);
    /* now every address has at most 2 and the newcomer would have 1 */
    int twos = 0;
    login_t *heads[] = { &a[0], &b[0] };
    for (int i = 0; i < 2; i++)
        twos += gw_authq_queued(&heads[i]->ent);
    assert_int_equal(twos, 2);
    assert_int_equal(gw_authq_waiting(&q), 6);
    /* c (1 waiting) may not push out the one address left with 2 to reach 2 itself */
    assert_int_equal(push(&q, &f, "10.0.0.3", 21, &ev), -ENOSPC);
    assert_null(ev);
    assert_int_equal(gw_authq_waiting(&q), 6);
    gw_authq_free(&q);
}

/* Logins leave the queue when their connection goes, or all at once when
 * their address is locked out; other addresses keep their places. */
static void test_remove_and_take(void **state)
{
    gw_authq_t q;
    gw_authq_init(&q, 1, 4, 64);
    login_t a[3], b;
    for (int i = 0; i < 3; i++)
        assert_int_equal(push(&q, &a[i], "10.0.0.1", i, NULL), 0);
    assert_int_equal(push(&q, &b, "10.0.0.2", 9, NULL), 0);
    gw_authq_remove(&q, &a[1].ent);
    gw_authq_remove(&q, &a[1].ent); /* twice: no-op */
    assert_int_equal(gw_authq_waiting(&q), 3);
    assert_ptr_equal(of(gw_authq_take(&q, "10.0.0.1")), &a[0]);
    assert_ptr_equal(of(gw_authq_take(&q, "10.0.0.1")), &a[2]);
    assert_null(gw_authq_take(&q, "10.0.0.1"));
    assert_null(gw_authq_take(&q, "10.9.9.9"));
    assert_ptr_equal(of(gw_authq_next(&q)), &b);
    assert_int_equal(gw_authq_waiting(&q), 0);
    assert_int_equal(hmap_len(&q.by_addr), 0);
    /* an address that left comes back at the end of the line */
    gw_authq_done(&q);
    assert_int_equal(push(&q, &a[0], "10.0.0.1", 0, NULL), 0);
    assert_ptr_equal(of(gw_authq_next(&q)), &a[0]);
    gw_authq_free(&q);
}

/* Many addresses, each flooding at its cap, with a few agents among them:
 * over a long run every address gets the same number of turns (within one)
 * and memory stays with the addresses that have logins waiting. */
static void test_many_addresses_fair_and_bounded(void **state)
{
    enum { NADDR = 50, PER = 3, MAXW = 120 };
    gw_authq_t q;
    gw_authq_init(&q, 3, PER, MAXW);
    static login_t pool[NADDR][PER];
    char addrs[NADDR][32];
    unsigned served[NADDR] = { 0 };
    for (int i = 0; i < NADDR; i++)
        snprintf(addrs[i], sizeof addrs[i], "2001:db8:%x::1", i);
    for (int round = 0; round < 2000; round++) {
        /* every address tops its queue up to the cap: that is the flood */
        for (int i = 0; i < NADDR; i++)
            for (int j = 0; j < PER; j++)
                if (!gw_authq_queued(&pool[i][j].ent)) {
                    login_t *ev = NULL;
                    int rc = push(&q, &pool[i][j], addrs[i], i, &ev);
                    assert_true(rc == 0 || rc == -EBUSY || rc == -ENOSPC);
                }
        assert_true(gw_authq_waiting(&q) <= MAXW);
        assert_true(hmap_len(&q.by_addr) <= NADDR);
        login_t *l;
        while ((l = of(gw_authq_next(&q))) != NULL)
            served[l->id]++;
        for (unsigned k = 0; k < 3; k++)
            gw_authq_done(&q);
    }
    unsigned lo = served[0], hi = served[0];
    for (int i = 1; i < NADDR; i++) {
        lo = served[i] < lo ? served[i] : lo;
        hi = served[i] > hi ? served[i] : hi;
    }
    assert_true(hi - lo <= 1);
    assert_true(lo >= 2000 * 3 / NADDR - 1);
    gw_authq_free(&q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_turns_across_addresses),
        cmocka_unit_test(test_round_robin_order),
        cmocka_unit_test(test_per_address_cap),
        cmocka_unit_test(test_full_queue_evicts_the_longest),
        cmocka_unit_test(test_remove_and_take),
        cmocka_unit_test(test_many_addresses_fair_and_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
