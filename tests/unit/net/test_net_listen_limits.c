/* Unit tests: net/conn listener caps over loopback — accepting pauses at
 * max_connections and resumes as connections close, max_per_addr closes the
 * one too many (with its refusal), an exempt prefix is not counted, a
 * listener closed before its connections, and accept() failing with EMFILE
 * when libuv's spare descriptor is gone. Clients are plain blocking sockets
 * (a connect completes in the kernel's backlog, accepted or not). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include <cmocka.h>

#include "net/conn.h"

enum { MAXC = 16 };

typedef struct world {
    uv_loop_t loop;
    net_listener_t *l;
    net_conn_t *srv[MAXC]; /* accepted, in order; NULL once closed */
    size_t naccepted, nclosed;
    int cli[MAXC];
    size_t ncli;
} world_t;

static world_t W;

static void on_close(net_conn_t *c, int err)
{
    for (size_t i = 0; i < W.naccepted; i++)
        if (W.srv[i] == c)
            W.srv[i] = NULL;
    W.nclosed++;
}

static const net_conn_cbs_t cbs = { .on_close = on_close };

static void on_accept(net_listener_t *l, net_conn_t *c, void *ud)
{
    assert_true(W.naccepted < MAXC);
    W.srv[W.naccepted++] = c;
    net_conn_set_cbs(c, &cbs, NULL);
}

static void world_init(const net_listen_opts_t *lo)
{
    memset(&W, 0, sizeof W);
    uv_loop_init(&W.loop);
    assert_int_equal(net_listen(&W.loop, lo, on_accept, NULL, &W.l), 0);
}

/* Turn the loop for a while (connections keep it alive, so run_once would
 * block: poll with a short sleep instead). */
static void spin(int ms)
{
    for (int i = 0; i < ms; i++) {
        uv_run(&W.loop, UV_RUN_NOWAIT);
        usleep(1000);
    }
}

static int client_from(const char *src)
{
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(s >= 0);
    struct timeval tv = { .tv_sec = 2 };
    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (src) {
        struct sockaddr_in b = { .sin_family = AF_INET };
        inet_pton(AF_INET, src, &b.sin_addr);
        assert_int_equal(bind(s, (struct sockaddr *)&b, sizeof b), 0);
    }
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(net_listener_port(W.l)) };
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    assert_int_equal(connect(s, (struct sockaddr *)&a, sizeof a), 0);
    W.cli[W.ncli++] = s;
    return s;
}

static void client_close(int s)
{
    for (size_t i = 0; i < W.ncli; i++)
        if (W.cli[i] == s)
            W.cli[i] = -1;
    close(s);
}

static net_listener_stats_t stats(void)
{
    net_listener_stats_t st = { 0 };
    net_listener_stats(W.l, &st);
    return st;
}

static void world_done(void)
{
    for (size_t i = 0; i < W.ncli; i++)
        if (W.cli[i] >= 0)
            close(W.cli[i]);
    for (size_t i = 0; i < W.naccepted; i++)
        if (W.srv[i])
            net_conn_close(W.srv[i]);
    if (W.l)
        net_listener_close(W.l);
    uv_run(&W.loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&W.loop), 0);
}

/* Read what the server sent until it closed: bytes, or -1 on a timeout. */
static ssize_t read_to_close(int s, char *out, size_t len)
{
    size_t got = 0;
    for (;;) {
        ssize_t n = recv(s, out + got, len - got - 1, 0);
        if (n == 0 || (n < 0 && errno == ECONNRESET))
            break;
        if (n < 0)
            return -1;
        got += (size_t)n;
    }
    out[got] = '\0';
    return (ssize_t)got;
}

/* ---- tests ------------------------------------------------------------------ */

static void test_accept_pauses_at_cap_and_resumes(void **s)
{
    world_init(&(net_listen_opts_t){ .addr = "127.0.0.1:0", .max_connections = 2 });
    for (int i = 0; i < 4; i++)
        client_from(NULL);
    spin(100);
    /* two taken, the third parked in libuv, the fourth in the backlog */
    assert_int_equal(W.naccepted, 2);
    net_listener_stats_t st = stats();
    assert_true(st.paused);
    assert_int_equal(st.live, 2);
    assert_int_equal(st.pauses, 1);
    assert_int_equal(st.max_connections, 2);
    /* one closes: the parked one is taken, then the cap holds again */
    net_conn_close(W.srv[0]);
    spin(100);
    assert_int_equal(W.naccepted, 3);
    st = stats();
    assert_int_equal(st.live, 2);
    assert_true(st.paused);
    assert_int_equal(st.pauses, 2);
    /* two more close: the last client gets in and accepting goes on */
    net_conn_close(W.srv[1]);
    net_conn_close(W.srv[2]);
    spin(100);
    assert_int_equal(W.naccepted, 4);
    st = stats();
    assert_false(st.paused);
    assert_int_equal(st.live, 1);
    assert_int_equal(st.accepted, 4);
    /* under the cap, a newcomer is taken at once */
    client_from(NULL);
    spin(50);
    assert_int_equal(W.naccepted, 5);
    world_done();
}

static void test_per_addr_cap_refuses_with_reason(void **s)
{
    world_init(&(net_listen_opts_t){ .addr = "127.0.0.1:0", .max_per_addr = 2,
                                     .refusal = "NO: too many\n" });
    client_from("127.0.0.1");
    client_from("127.0.0.1");
    int third = client_from("127.0.0.1");
    int other = client_from("127.0.0.2"); /* another address has its own count */
    spin(100);
    assert_int_equal(W.naccepted, 3);
    char buf[256];
    assert_int_equal(read_to_close(third, buf, sizeof buf), 13);
    assert_string_equal(buf, "NO: too many\n");
    net_listener_stats_t st = stats();
    assert_int_equal(st.refused_per_addr, 1);
    assert_int_equal(st.live, 4); /* the refusal lingers until its client closes */
    client_close(third);
    spin(50);
    st = stats();
    assert_int_equal(st.live, 3);
    assert_int_equal(st.addrs, 2);
    assert_int_equal(st.accepted, 4);
    /* the accepted ones are not touched: no data, no close */
    assert_true(recv(other, buf, sizeof buf, MSG_DONTWAIT) < 0 && errno == EAGAIN);
    /* one of the first two closes: the address may connect once more */
    net_conn_close(W.srv[0]);
    spin(50);
    client_from("127.0.0.1");
    spin(50);
    assert_int_equal(W.naccepted, 4);
    assert_int_equal(stats().refused_per_addr, 1);
    /* every connection gone: no address is counted any more */
    for (size_t i = 0; i < W.naccepted; i++)
        if (W.srv[i])
            net_conn_close(W.srv[i]);
    spin(50);
    assert_int_equal(stats().addrs, 0);
    assert_int_equal(stats().live, 0);
    world_done();
}

static void test_exempt_prefix_not_counted(void **s)
{
    net_cidr_t ex;
    assert_int_equal(net_cidr_parse("127.0.0.1/32", &ex), 0);
    world_init(&(net_listen_opts_t){ .addr = "127.0.0.1:0", .max_per_addr = 1, .exempt = &ex,
                                     .nexempt = 1 });
    for (int i = 0; i < 3; i++)
        client_from("127.0.0.1");
    client_from("127.0.0.3");
    int over = client_from("127.0.0.3");
    spin(100);
    assert_int_equal(W.naccepted, 4);
    char buf[64];
    assert_int_equal(read_to_close(over, buf, sizeof buf), 0); /* no refusal text: a bare close */
    net_listener_stats_t st = stats();
    assert_int_equal(st.refused_per_addr, 1);
    assert_int_equal(st.addrs, 1); /* 127.0.0.3 only */
    world_done();
}

static void test_listener_closed_before_its_connections(void **s)
{
    world_init(&(net_listen_opts_t){ .addr = "127.0.0.1:0", .max_connections = 1, .max_per_addr = 5 });
    client_from(NULL);
    client_from(NULL); /* parked */
    spin(50);
    assert_int_equal(W.naccepted, 1);
    net_listener_close(W.l);
    W.l = NULL;
    spin(20);
    /* the connection outlives the listener and still counts itself out */
    net_conn_close(W.srv[0]);
    spin(20);
    assert_int_equal(W.naccepted, 1);
    assert_int_equal(W.nclosed, 1);
    world_done();
}

/* accept() fails with EMFILE and libuv's spare descriptor is gone (another
 * thread took its slot): libuv then retries accept() in a loop that only our
 * own spare ends. The waiting clients are closed, the loop goes on. */
static void test_emfile_without_libuv_spare_does_not_spin(void **s)
{
    alarm(30); /* the failure this guards against is a loop that never returns */
    world_init(&(net_listen_opts_t){ .addr = "127.0.0.1:0" });
    int a = client_from(NULL), b = client_from(NULL);
    struct rlimit old, low;
    getrlimit(RLIMIT_NOFILE, &old);
    low = old;
    low.rlim_cur = 256;
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
    int fill[256], nfill = 0;
    /* libuv's spare goes, and the table fills up to the limit */
    close(W.loop.emfile_fd);
    W.loop.emfile_fd = -1;
    int fd;
    while (nfill < 256 && (fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0)
        fill[nfill++] = fd;
    assert_int_equal(errno, EMFILE);
    spin(100);
    for (int i = 0; i < nfill; i++)
        close(fill[i]);
    setrlimit(RLIMIT_NOFILE, &old);
    /* both clients were closed, none was handed over, the failure counted */
    char buf[16];
    assert_int_equal(read_to_close(a, buf, sizeof buf), 0);
    assert_int_equal(read_to_close(b, buf, sizeof buf), 0);
    assert_int_equal(W.naccepted, 0);
    assert_true(stats().accept_errors >= 1);
    /* and accepting works again */
    client_from(NULL);
    spin(50);
    assert_int_equal(W.naccepted, 1);
    world_done();
    alarm(0);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accept_pauses_at_cap_and_resumes),
        cmocka_unit_test(test_per_addr_cap_refuses_with_reason),
        cmocka_unit_test(test_exempt_prefix_not_counted),
        cmocka_unit_test(test_listener_closed_before_its_connections),
        cmocka_unit_test(test_emfile_without_libuv_spare_does_not_spin),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
