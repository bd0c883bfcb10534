/* Unit tests: relay/relay_hub, the pairing state machine, with fake transports. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "codec/relay_msg.h"
#include "core/log.h"
#include "relay/relay_hub.h"

enum { MAX_INBOX = 64 };

typedef struct fake {
    relay_peer_t peer; /* first: the hub hands us &peer */
    char *inbox[MAX_INBOX];
    size_t inlen[MAX_INBOX];
    size_t n;
    size_t queued;
    bool closed, gone, paused, fail_send, gone_in_close;
    uint16_t code;
    char reason[128];
} fake_t;

static relay_hub_t *hub;
static int64_t now = 1000;
static int64_t fake_now(void) { return now; }

static int f_send(relay_peer_t *p, bool binary, const void *d, size_t len, void *ud)
{
    fake_t *f = (fake_t *)p;
    if (f->fail_send || f->n >= MAX_INBOX)
        return -ENOBUFS;
    f->inbox[f->n] = malloc(len + 2);
    f->inbox[f->n][0] = binary ? 'B' : 'T';
    memcpy(f->inbox[f->n] + 1, d, len);
    f->inbox[f->n][len + 1] = '\0';
    f->inlen[f->n++] = len;
    f->queued += len;
    return 0;
}

static void f_close(relay_peer_t *p, uint16_t code, const char *reason, void *ud)
{
    fake_t *f = (fake_t *)p;
    assert_false(f->closed); /* exactly once */
    f->closed = true;
    f->code = code;
    snprintf(f->reason, sizeof f->reason, "%s", reason);
    if (f->gone_in_close) {
        relay_hub_gone(hub, p);
        f->gone = true;
    }
}

static void f_pause(relay_peer_t *p, void *ud) { ((fake_t *)p)->paused = true; }
static void f_resume(relay_peer_t *p, void *ud) { ((fake_t *)p)->paused = false; }
static size_t f_queued(relay_peer_t *p, void *ud) { return ((fake_t *)p)->queued; }
static size_t buffer_limit;
static bool f_congested(relay_peer_t *p, void *ud) { return ((fake_t *)p)->queued > buffer_limit; }

static const relay_hub_ops_t ops = { f_send, f_close, f_pause, f_resume, f_queued, f_congested };

static void setup_hub(bool keep_waiting, size_t buffer)
{
    relay_hub_opts_t o = { .keep_waiting = keep_waiting, .now_ms = fake_now };
    buffer_limit = buffer;
    hub = relay_hub_new(&ops, NULL, &o);
    assert_non_null(hub);
}

static fake_t *connect_(const char *meeting)
{
    fake_t *f = calloc(1, sizeof *f);
    snprintf(f->peer.meeting, sizeof f->peer.meeting, "%s", meeting);
    snprintf(f->peer.remote, sizeof f->peer.remote, "127.0.0.1:1");
    relay_hub_attach(hub, &f->peer);
    return f;
}

static char *hello_text(const char *cls, const char *id)
{
    static char b[512];
    snprintf(b, sizeof b, "{\"message\":{\"messageId\":0,\"messageType\":\"CONN:HELLO\",\"requiresResponse\":false,"
                          "\"peerClass\":\"%s\",\"peerId\":\"%s\"}}", cls, id);
    return b;
}

static void say(fake_t *f, const char *text) { relay_hub_message(hub, &f->peer, false, text, strlen(text)); }
static void hello(fake_t *f, const char *cls, const char *id) { say(f, hello_text(cls, id)); }

/* The transport reports the close (after ours, or the peer vanished). */
static void gone(fake_t *f)
{
    if (!f->gone)
        relay_hub_gone(hub, &f->peer);
    f->gone = true;
}

static void destroy(fake_t *f)
{
    gone(f);
    for (size_t i = 0; i < f->n; i++)
        free(f->inbox[i]);
    free(f);
}

static void teardown_hub(void)
{
    relay_hub_free(hub);
    hub = NULL;
}

static void assert_inbox(const fake_t *f, size_t i, const char *text)
{
    assert_true(i < f->n);
    assert_string_equal(f->inbox[i] + 1, text);
}

/* ---- tests ---------------------------------------------------------------------- */

static void test_pair_either_order(void **state)
{
    for (int order = 0; order < 2; order++) {
        setup_hub(false, 1 << 20);
        fake_t *a = connect_("gw-1"), *b = connect_("gw-1");
        char ha[512], hb[512];
        snprintf(ha, sizeof ha, "%s", hello_text("manager", "m1"));
        snprintf(hb, sizeof hb, "%s", hello_text("dhcp", "d1"));
        if (order == 0) {
            say(a, ha);
            assert_int_equal(a->peer.state, RELAY_PEER_WAITING);
            say(b, hb);
        } else {
            say(b, hb);
            assert_int_equal(b->peer.state, RELAY_PEER_WAITING);
            say(a, ha);
        }
        assert_int_equal(a->peer.state, RELAY_PEER_PAIRED);
        assert_int_equal(b->peer.state, RELAY_PEER_PAIRED);
        /* each got the other's HELLO, verbatim, first */
        assert_int_equal(a->n, 1);
        assert_inbox(a, 0, hb);
        assert_int_equal(b->n, 1);
        assert_inbox(b, 0, ha);
        /* then everything verbatim and in order, text and binary */
        say(a, "not even json");
        relay_hub_message(hub, &a->peer, true, "\x00\x01", 2);
        say(b, "{\"x\":1}");
        assert_int_equal(b->n, 3);
        assert_inbox(b, 1, "not even json");
        assert_int_equal(b->inbox[2][0], 'B');
        assert_inbox(a, 1, "{\"x\":1}");
        const relay_hub_stats_t *st = relay_hub_stats(hub);
        assert_int_equal(st->pairings, 1);
        assert_int_equal(st->paired_paths, 1);
        assert_int_equal(st->waiting_paths, 0);
        assert_int_equal(st->pending, 0);
        destroy(a);
        assert_true(b->closed);
        assert_int_equal(b->code, 1001);
        assert_string_equal(b->reason, "partner left");
        destroy(b);
        assert_int_equal(relay_hub_stats(hub)->peers, 0);
        assert_int_equal(relay_hub_stats(hub)->paired_paths, 0);
        teardown_hub();
    }
}

static void test_silent_second_connection_blocks_nothing(void **state)
{
    setup_hub(false, 1 << 20);
    fake_t *a = connect_("gw-1");
    fake_t *silent = connect_("gw-1");
    hello(a, "manager", "m1");
    fake_t *c = connect_("gw-1");
    hello(c, "dhcp", "d1");
    assert_int_equal(c->peer.state, RELAY_PEER_PAIRED);
    assert_int_equal(silent->peer.state, RELAY_PEER_PENDING);
    relay_hub_hello_timeout(hub, &silent->peer);
    assert_true(silent->closed);
    assert_int_equal(silent->code, 1008);
    assert_string_equal(silent->reason, "no CONN:HELLO in time");
    assert_false(a->closed);
    /* a timeout firing late for a peer that did say HELLO is harmless */
    relay_hub_hello_timeout(hub, &a->peer);
    assert_false(a->closed);
    destroy(silent);
    destroy(a);
    destroy(c);
    teardown_hub();
}

static void test_third_peer_path_busy(void **state)
{
    setup_hub(false, 1 << 20);
    fake_t *a = connect_("gw-1"), *b = connect_("gw-1");
    hello(a, "manager", "m1");
    assert_int_equal(relay_hub_check_busy(hub, "gw-1"), 0);
    hello(b, "dhcp", "d1");
    assert_int_equal(relay_hub_check_busy(hub, "gw-1"), -EBUSY);
    assert_int_equal(relay_hub_check_busy(hub, "gw-2"), 0);
    fake_t *c = connect_("gw-1");
    hello(c, "intruder", "x");
    assert_true(c->closed);
    assert_int_equal(c->code, 1008);
    assert_string_equal(c->reason, "path busy");
    assert_false(a->closed);
    assert_false(b->closed);
    assert_int_equal(relay_hub_stats(hub)->busy_rejects, 1);
    destroy(c);
    assert_false(a->closed);
    destroy(a);
    destroy(b);
    teardown_hub();
}

static void test_peer_drops_during_pairing(void **state)
{
    setup_hub(false, 1 << 20);
    fake_t *a = connect_("gw-1");
    hello(a, "manager", "m1");
    destroy(a); /* vanished while waiting */
    assert_int_equal(relay_hub_stats(hub)->waiting_paths, 0);
    fake_t *b = connect_("gw-1");
    hello(b, "dhcp", "d1");
    assert_int_equal(b->peer.state, RELAY_PEER_WAITING); /* not paired with a ghost */
    assert_int_equal(b->n, 0);
    fake_t *c = connect_("gw-1");
    /* c's transport fails as the pairing sends it b's HELLO */
    c->fail_send = true;
    hello(c, "manager", "m2");
    assert_true(c->closed);
    assert_int_equal(c->code, 1011);
    /* b is told its partner left (no keep-waiting) and never saw c's HELLO */
    assert_true(b->closed);
    assert_int_equal(b->code, 1001);
    assert_int_equal(b->n, 0);
    destroy(b);
    destroy(c);
    teardown_hub();
}

static void test_bad_first_messages(void **state)
{
    static const struct {
        const char *text;
        bool binary;
        const char *why;
    } bad[] = {
        { "\x01\x02", true, "expected a CONN:HELLO text message" },
        { "hello?", false, "not JSON" },
        { "{\"message\":{\"messageId\":1,\"messageType\":\"REST:REQUEST\",\"requiresResponse\":true}}", false,
          "expected CONN:HELLO first" },
        { "{\"message\":{\"messageId\":0,\"messageType\":\"CONN:HELLO\",\"requiresResponse\":false}}", false,
          "peerClass" },
    };
    setup_hub(false, 1 << 20);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        fake_t *f = connect_("gw-1");
        relay_hub_message(hub, &f->peer, bad[i].binary, bad[i].text, strlen(bad[i].text));
        assert_true(f->closed);
        assert_int_equal(f->code, 1008);
        if (!strstr(f->reason, bad[i].why))
            fail_msg("case %zu: reason '%s' lacks '%s'", i, f->reason, bad[i].why);
        /* further messages in flight are ignored */
        say(f, hello_text("a", "b"));
        destroy(f);
    }
    assert_int_equal(relay_hub_stats(hub)->protocol_rejects, 4);
    assert_int_equal(relay_hub_stats(hub)->pending, 0);
    teardown_hub();
}

static void test_message_before_partner(void **state)
{
    setup_hub(false, 1 << 20);
    fake_t *a = connect_("gw-1");
    hello(a, "manager", "m1");
    say(a, "{\"message\":{\"messageId\":1,\"messageType\":\"REST:REQUEST\"}}");
    assert_true(a->closed);
    assert_int_equal(a->code, 1008);
    assert_string_equal(a->reason, "message before partner");
    destroy(a);
    assert_int_equal(relay_hub_stats(hub)->waiting_paths, 0);
    teardown_hub();
}

static void test_keep_waiting(void **state)
{
    setup_hub(true, 1 << 20);
    fake_t *gw = connect_("gw-1"), *m1 = connect_("gw-1");
    hello(gw, "dhcp", "d1");
    hello(m1, "manager", "m1");
    destroy(m1);
    assert_false(gw->closed);
    assert_int_equal(gw->peer.state, RELAY_PEER_WAITING);
    /* a late answer meant for m1 is dropped, not a protocol error */
    say(gw, "{\"message\":{\"messageId\":5,\"messageType\":\"REST:RESPONSE\",\"inResponseTo\":1}}");
    assert_false(gw->closed);
    assert_int_equal(gw->peer.dropped, 1);
    fake_t *m2 = connect_("gw-1");
    hello(m2, "manager", "m2");
    assert_int_equal(gw->peer.state, RELAY_PEER_PAIRED);
    assert_true(strstr(gw->inbox[gw->n - 1], "\"m2\"") != NULL);
    assert_true(strstr(m2->inbox[0], "\"d1\"") != NULL); /* gw's original HELLO again */
    assert_int_equal(m2->n, 1);                          /* and nothing stale */
    destroy(m2);
    destroy(gw);
    teardown_hub();
}

static void test_backpressure(void **state)
{
    setup_hub(false, 1000);
    fake_t *a = connect_("p"), *b = connect_("p");
    hello(a, "x", "a");
    hello(b, "y", "b");
    b->queued = 0;
    char msg[601];
    memset(msg, 'm', 600);
    msg[600] = '\0';
    say(a, msg);
    assert_false(a->paused);
    say(a, msg); /* b now holds 1200 > 1000 */
    assert_true(a->paused);
    assert_int_equal(relay_hub_stats(hub)->pauses, 1);
    say(a, msg); /* already in flight: still forwarded, no second pause */
    assert_int_equal(relay_hub_stats(hub)->pauses, 1);
    assert_false(b->paused); /* the other direction is independent */
    b->queued = 100;
    relay_hub_drained(hub, &b->peer);
    assert_false(a->paused);
    /* a paused peer whose congested partner leaves is resumed when it waits */
    say(a, msg);
    say(a, msg);
    assert_true(a->paused);
    destroy(a);
    destroy(b);
    teardown_hub();
}

static void test_keep_waiting_resumes_paused(void **state)
{
    setup_hub(true, 100);
    fake_t *a = connect_("p"), *b = connect_("p");
    hello(a, "x", "a");
    hello(b, "y", "b");
    say(a, "0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789");
    assert_true(a->paused);
    destroy(b);
    assert_false(a->paused);
    assert_int_equal(a->peer.state, RELAY_PEER_WAITING);
    destroy(a);
    teardown_hub();
}

static void test_gone_inside_close_and_shutdown(void **state)
{
    setup_hub(false, 1 << 20);
    fake_t *f[6];
    for (int i = 0; i < 6; i++) {
        char m[16];
        snprintf(m, sizeof m, "m%d", i / 2);
        f[i] = connect_(m);
        f[i]->gone_in_close = true; /* the transport reports at once */
        if (i < 5)
            hello(f[i], "c", m);
    }
    assert_int_equal(relay_hub_stats(hub)->paired_paths, 2);
    assert_int_equal(relay_hub_stats(hub)->waiting_paths, 1);
    relay_hub_shutdown(hub);
    for (int i = 0; i < 6; i++) {
        assert_true(f[i]->closed);
        assert_int_equal(f[i]->code, 1001);
        assert_string_equal(f[i]->reason, "relay shutting down");
    }
    assert_int_equal(relay_hub_stats(hub)->peers, 0);
    for (int i = 0; i < 6; i++)
        destroy(f[i]);
    teardown_hub();
}

static void test_many_paths(void **state)
{
    setup_hub(false, 1 << 20);
    enum { N = 3000 };
    fake_t **f = calloc(2 * N, sizeof *f);
    for (int i = 0; i < 2 * N; i++) {
        char m[32];
        snprintf(m, sizeof m, "gw-%05d", i % N);
        f[i] = connect_(m);
        hello(f[i], "c", m);
    }
    const relay_hub_stats_t *st = relay_hub_stats(hub);
    assert_int_equal(st->paired_paths, N);
    assert_int_equal(st->pairings, N);
    for (int i = 0; i < N; i++)
        assert_int_equal(f[i]->peer.partner, &f[i + N]->peer);
    for (int i = 0; i < 2 * N; i++)
        destroy(f[i]);
    assert_int_equal(relay_hub_stats(hub)->paired_paths, 0);
    free(f);
    teardown_hub();
}

static size_t count_paths;
static void each_cb(const char *meeting, relay_peer_t *a, relay_peer_t *b, void *ud)
{
    count_paths++;
    assert_non_null(a);
    if (strcmp(meeting, "pair") == 0)
        assert_non_null(b);
    else
        assert_null(b);
}

static void test_each_path(void **state)
{
    setup_hub(false, 1 << 20);
    fake_t *a = connect_("pair"), *b = connect_("pair"), *c = connect_("alone"), *d = connect_("pending");
    hello(a, "x", "1");
    hello(b, "x", "2");
    hello(c, "x", "3");
    count_paths = 0;
    relay_hub_each_path(hub, each_cb, NULL);
    assert_int_equal(count_paths, 2);
    destroy(a);
    destroy(b);
    destroy(c);
    destroy(d);
    teardown_hub();
}

int main(void)
{
    log_set_level(LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pair_either_order),
        cmocka_unit_test(test_silent_second_connection_blocks_nothing),
        cmocka_unit_test(test_third_peer_path_busy),
        cmocka_unit_test(test_peer_drops_during_pairing),
        cmocka_unit_test(test_bad_first_messages),
        cmocka_unit_test(test_message_before_partner),
        cmocka_unit_test(test_keep_waiting),
        cmocka_unit_test(test_backpressure),
        cmocka_unit_test(test_keep_waiting_resumes_paused),
        cmocka_unit_test(test_gone_inside_close_and_shutdown),
        cmocka_unit_test(test_many_paths),
        cmocka_unit_test(test_each_path),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
