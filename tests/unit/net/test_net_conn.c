/* Unit tests: net/conn over loopback — backpressure, half-close, reset,
 * pause/resume with TLS-buffered data, failures reported through on_close. */
#include <errno.h>
#include <signal.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "net/conn.h"
#include "net/conn_int.h" /* the queue's buffers, to see what they keep */
#include "net/tls.h"

static char pki[64];

/* certificates for the TLS tests, made once with the openssl CLI */
static int make_pki(void **state)
{
    strcpy(pki, "/tmp/outpost-conn-XXXXXX");
    if (!mkdtemp(pki))
        return -1;
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "cd %s && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
             "-keyout ca.key -out ca.pem -days 2 -subj '/CN=ca' >/dev/null 2>&1 && "
             "for n in server client; do openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
             "-keyout $n.key -out $n.csr -subj \"/O=Unit/CN=$n\" >/dev/null 2>&1 && "
             "printf 'subjectAltName=IP:127.0.0.1\\n' > ext && openssl x509 -req -in $n.csr -CA ca.pem "
             "-CAkey ca.key -CAcreateserial -out $n.pem -days 2 -extfile ext >/dev/null 2>&1; done",
             pki);
    return system(cmd) == 0 ? 0 : -1;
}

static int rm_pki(void **state)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", pki);
    return system(cmd) == 0 ? 0 : -1;
}

static char *path(const char *name)
{
    static char buf[4][128];
    static int i;
    i = (i + 1) % 4;
    snprintf(buf[i], sizeof buf[i], "%s/%s", pki, name);
    return buf[i];
}

/* ---- a tiny test world: one server side and one client side ---------------- */

typedef struct side {
    net_conn_t *c;
    size_t got;
    bool opened, eof, closed, drained, congested_seen;
    int close_err;
    char data[64];
    size_t datalen;
    uint32_t hash; /* FNV-1a of every byte received, in order */
    bool pause_first, echo_eof;
} side_t;

typedef struct world {
    uv_loop_t loop;
    net_listener_t *l;
    side_t srv, cli;
    tls_ctx_t *stls, *ctls;
    uv_timer_t t;
    size_t to_send, sent;
    bool server_pause_on_accept;
} world_t;

static world_t W;

static void on_read(net_conn_t *c, const char *d, size_t n)
{
    side_t *s = net_conn_data(c);
    if (s->datalen + n <= sizeof s->data) {
        memcpy(s->data + s->datalen, d, n);
    }
    s->datalen += n;
    s->got += n;
    for (size_t i = 0; i < n; i++)
        s->hash = (s->hash ^ (uint8_t)d[i]) * 16777619u;
    if (s->pause_first) {
        s->pause_first = false;
        net_conn_pause(c);
    }
}

static void on_eof(net_conn_t *c)
{
    side_t *s = net_conn_data(c);
    s->eof = true;
    if (s->echo_eof) {
        net_conn_write(c, "xyz", 3);
        net_conn_shutdown(c);
    }
    if (s == &W.cli || !s->echo_eof)
        net_conn_close(c);
}

static void on_open(net_conn_t *c)
{
    side_t *s = net_conn_data(c);
    s->opened = true;
}

static void on_drain(net_conn_t *c)
{
    side_t *s = net_conn_data(c);
    s->drained = true;
}

static void on_close(net_conn_t *c, int err)
{
    side_t *s = net_conn_data(c);
    s->closed = true;
    s->close_err = err;
    s->c = NULL;
    if (W.l && W.srv.closed && W.cli.closed) {
        net_listener_close(W.l);
        W.l = NULL;
    }
}

static const net_conn_cbs_t cbs = { on_open, on_read, on_eof, on_drain, on_close };

static void on_accept(net_listener_t *l, net_conn_t *c, void *ud)
{
    W.srv.c = c;
    net_conn_set_cbs(c, &cbs, &W.srv);
    if (W.server_pause_on_accept)
        net_conn_pause(c);
}

static void world_init(bool tls, bool client_cert)
{
    memset(&W, 0, sizeof W);
    uv_loop_init(&W.loop);
    uv_timer_init(&W.loop, &W.t);
    if (tls) {
        tls_opts_t so = { .server = true, .cert_file = path("server.pem"), .key_file = path("server.key"),
                          .ca_file = path("ca.pem"), .verify = TLS_VERIFY_REQUIRED };
        W.stls = tls_ctx_new(&so);
        tls_opts_t co = { .server = false, .ca_file = path("ca.pem"), .verify = TLS_VERIFY_REQUIRED,
                          .cert_file = client_cert ? path("client.pem") : NULL,
                          .key_file = client_cert ? path("client.key") : NULL };
        W.ctls = tls_ctx_new(&co);
        assert_non_null(W.stls);
        assert_non_null(W.ctls);
    }
    net_listen_opts_t lo = { .addr = "127.0.0.1:0", .tls = W.stls };
    assert_int_equal(net_listen(&W.loop, &lo, on_accept, NULL, &W.l), 0);
}

static void world_connect(void)
{
    net_connect_opts_t co = { .host = "127.0.0.1", .port = net_listener_port(W.l), .tls = W.ctls };
    assert_int_equal(net_connect(&W.loop, &co, &cbs, &W.cli, &W.cli.c), 0);
}

static void world_run_until(bool *flag)
{
    for (int i = 0; i < 100000 && !*flag; i++)
        uv_run(&W.loop, UV_RUN_ONCE);
    assert_true(*flag);
}

static void world_done(void)
{
    if (W.srv.c)
        net_conn_close(W.srv.c);
    if (W.cli.c)
        net_conn_close(W.cli.c);
    if (W.l)
        net_listener_close(W.l);
    W.l = NULL;
    uv_close((uv_handle_t *)&W.t, NULL);
    uv_run(&W.loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&W.loop), 0);
    tls_ctx_free(W.stls);
    tls_ctx_free(W.ctls);
}

/* ---- tests -------------------------------------------------------------------- */

static void resume_server(uv_timer_t *t) { net_conn_resume(W.srv.c); }

static void run_backpressure(bool tls)
{
    world_init(tls, true);
    W.server_pause_on_accept = true;
    world_connect();
    world_run_until(&W.cli.opened);
    static char block[65536];
    size_t total = 0;
    /* the reader is paused: the writer's queue must pass high water */
    while (!net_conn_congested(W.cli.c)) {
        assert_int_equal(net_conn_write(W.cli.c, block, sizeof block), 0);
        total += sizeof block;
        uv_run(&W.loop, UV_RUN_NOWAIT);
        assert_true(total < (256u << 20));
    }
    assert_true(net_conn_queued(W.cli.c) > 256 * 1024);
    uv_timer_start(&W.t, resume_server, 20, 0);
    world_run_until(&W.cli.drained);
    assert_false(net_conn_congested(W.cli.c));
    while (W.srv.got < total)
        uv_run(&W.loop, UV_RUN_ONCE);
    assert_int_equal(W.srv.got, total);
    world_done();
}

static void test_backpressure_plain(void **s) { run_backpressure(false); }
static void test_backpressure_tls(void **s) { run_backpressure(true); }

static void test_queue_cap(void **s)
{
    world_init(false, false);
    W.server_pause_on_accept = true;
    world_connect();
    world_run_until(&W.cli.opened);
    net_conn_set_limits(W.cli.c, &(net_limits_t){ .high_water = 1000, .low_water = 500, .max_queue = 2000000 });
    static char block[1 << 20];
    int rc = 0;
    for (int i = 0; i < 64 && rc == 0; i++)
        rc = net_conn_write(W.cli.c, block, sizeof block);
    assert_int_equal(rc, -ENOBUFS);
    assert_true(net_conn_queued(W.cli.c) <= 2000000);
    world_done();
}

static void run_half_close(bool tls)
{
    world_init(tls, true);
    world_connect();
    world_run_until(&W.cli.opened);
    W.srv.echo_eof = true;
    assert_int_equal(net_conn_write(W.cli.c, "abc", 3), 0);
    net_conn_shutdown(W.cli.c);
    /* writing after a shutdown is refused */
    assert_int_equal(net_conn_write(W.cli.c, "x", 1), -EPIPE);
    world_run_until(&W.srv.eof);
    assert_int_equal(W.srv.datalen, 3);
    assert_memory_equal(W.srv.data, "abc", 3);
    world_run_until(&W.cli.eof);
    assert_int_equal(W.cli.datalen, 3);
    assert_memory_equal(W.cli.data, "xyz", 3);
    world_run_until(&W.cli.closed);
    assert_int_equal(W.cli.close_err, 0);
    net_conn_close(W.srv.c);
    world_run_until(&W.srv.closed);
    world_done();
}

/* Corked writes only queue; uncork delivers them in order, and close
 * uncorks implicitly so nothing queued under a cork is lost. */
static void run_cork(bool tls)
{
    world_init(tls, true);
    world_connect();
    world_run_until(&W.cli.opened);
    net_conn_cork(W.cli.c);
    for (int i = 0; i < 8; i++)
        assert_int_equal(net_conn_write(W.cli.c, "abcd", 4), 0);
    net_conn_cork(W.cli.c); /* corks nest */
    for (int i = 0; i < 8; i++)
        assert_int_equal(net_conn_write(W.cli.c, "abcd", 4), 0);
    net_conn_uncork(W.cli.c);
    assert_int_equal(net_conn_queued(W.cli.c), 64);
    for (int i = 0; i < 50; i++)
        uv_run(&W.loop, UV_RUN_NOWAIT);
    assert_int_equal(W.srv.got, 0); /* nothing left while corked */
    net_conn_uncork(W.cli.c);
    while (W.srv.got < 64)
        uv_run(&W.loop, UV_RUN_ONCE);
    assert_int_equal(W.srv.got, 64);
    assert_memory_equal(W.srv.data, "abcdabcdabcdabcd", 16);
    /* close while corked still flushes, then closes */
    net_conn_cork(W.cli.c);
    assert_int_equal(net_conn_write(W.cli.c, "tail", 4), 0);
    net_conn_close(W.cli.c);
    world_run_until(&W.srv.eof);
    assert_int_equal(W.srv.got, 68);
    world_run_until(&W.cli.closed);
    world_done();
}

/* Congestion is announced whenever the queue passes high water, also when
 * what takes it there is TLS's record overhead added as a cork lifts: a
 * producer that stops on net_conn_congested() waits for an on_drain, which
 * only comes after congestion was announced. */
static void test_tls_overhead_counts_for_congestion(void **s)
{
    world_init(true, true);
    W.server_pause_on_accept = true; /* the reader never reads: the kernel fills */
    world_connect();
    world_run_until(&W.cli.opened);
    static char block[16384];
    while (net_conn_queued(W.cli.c) == 0) {
        assert_int_equal(net_conn_write(W.cli.c, block, sizeof block), 0);
        for (int i = 0; i < 20; i++)
            uv_run(&W.loop, UV_RUN_NOWAIT);
    }
    size_t high = net_conn_queued(W.cli.c) + 500;
    net_conn_set_limits(W.cli.c, &(net_limits_t){ .high_water = high, .low_water = 1024 });
    assert_false(net_conn_congested(W.cli.c));
    /* one-byte records: 1 byte corked, ~23 queued once the cork lifts */
    for (int i = 0; i < 1000 && !net_conn_congested(W.cli.c); i++) {
        net_conn_cork(W.cli.c);
        assert_int_equal(net_conn_write(W.cli.c, "x", 1), 0);
        net_conn_uncork(W.cli.c);
        if (net_conn_queued(W.cli.c) > high)
            assert_true(net_conn_congested(W.cli.c));
    }
    assert_true(net_conn_congested(W.cli.c));
    world_done();
}

/* TLS 1.3 record overhead with an AEAD: header 5, content type 1, tag 16. */
enum { REC_OVERHEAD = 22 };

static uint32_t fnv(uint32_t h, const char *d, size_t n)
{
    for (size_t i = 0; i < n; i++)
        h = (h ^ (uint8_t)d[i]) * 16777619u;
    return h;
}

typedef enum { ONE_WRITEV, CORKED_WRITES, SINGLE_WRITES } send_mode_t;

/* Send bufs as `mode` says and return the ciphertext it cost; the server
 * must get the bytes, in order. */
static uint64_t tls_cost(const uv_buf_t *bufs, size_t n, send_mode_t mode)
{
    uint64_t before = net_conn_bytes_out(W.cli.c);
    size_t goal = W.srv.got;
    uint32_t want = W.srv.hash;
    if (mode == ONE_WRITEV)
        assert_int_equal(net_conn_writev(W.cli.c, bufs, n), 0);
    if (mode == CORKED_WRITES)
        net_conn_cork(W.cli.c);
    for (size_t i = 0; i < n; i++) {
        if (mode != ONE_WRITEV)
            assert_int_equal(net_conn_write(W.cli.c, bufs[i].base, bufs[i].len), 0);
        goal += bufs[i].len;
        want = fnv(want, bufs[i].base, bufs[i].len);
    }
    if (mode == CORKED_WRITES)
        net_conn_uncork(W.cli.c);
    while (W.srv.got < goal || net_conn_queued(W.cli.c))
        uv_run(&W.loop, UV_RUN_ONCE);
    assert_int_equal(W.srv.got, goal);
    assert_int_equal(W.srv.hash, want);
    return net_conn_bytes_out(W.cli.c) - before;
}

/* A gather list (a WebSocket header, a msgpack head, a payload) and small
 * corked writes become as few TLS records as their length allows, not a
 * record per piece: each record costs the peer a decryption, and each piece
 * once cost a write() and a wake-up. */
static void test_tls_small_pieces_share_records(void **s)
{
    world_init(true, true);
    world_connect();
    world_run_until(&W.srv.opened);
    W.srv.hash = 2166136261u;
    static char payload[65536];
    for (size_t i = 0; i < sizeof payload; i++)
        payload[i] = (char)(i * 7 + i / 251);
    char head[10] = "012345678", meta[22] = "abcdefghijklmnopqrstu";

    /* 10 + 22 + 65536 bytes fit 5 records (4 full and one of 32 bytes) */
    uv_buf_t v[3] = { uv_buf_init(head, sizeof head), uv_buf_init(meta, sizeof meta),
                      uv_buf_init(payload, sizeof payload) };
    assert_int_equal(tls_cost(v, 3, ONE_WRITEV), 65568 + 5 * REC_OVERHEAD);

    /* corked: 100 pieces of 10 bytes and one of 20,000 make 2 records */
    uv_buf_t pieces[101];
    for (int i = 0; i < 100; i++)
        pieces[i] = uv_buf_init(head, sizeof head);
    pieces[100] = uv_buf_init(payload, 20000);
    assert_int_equal(tls_cost(pieces, 101, CORKED_WRITES), 21000 + 2 * REC_OVERHEAD);

    /* uncorked writes leave as they come, a record each */
    assert_int_equal(tls_cost(pieces, 3, SINGLE_WRITES), 30 + 3 * REC_OVERHEAD);
    /* and a large one is cut into full records only */
    uv_buf_t big = uv_buf_init(payload, sizeof payload);
    assert_int_equal(tls_cost(&big, 1, SINGLE_WRITES), 65536 + 4 * REC_OVERHEAD);
    world_done();
}

/* Credentials that waited in the queue (a cork makes them: plain TCP in
 * `out`, TLS in the plaintext stage) are wiped once sent: the memory the
 * queue keeps for reuse holds none of them. Without net_conn_secret they
 * stay there (which shows the test sees the queue's memory at all). */
static void run_secret(bool tls, bool secret)
{
    static const char req[] = "GET / HTTP/1.1\r\nAuthorization: Basic dXNlcjpzM2NyZXQ=\r\n\r\n";
    world_init(tls, true);
    world_connect();
    world_run_until(&W.cli.opened);
    net_conn_t *c = W.cli.c;
    net_conn_cork(c);
    if (secret)
        net_conn_secret(c);
    assert_int_equal(net_conn_write(c, req, sizeof req - 1), 0);
    net_conn_uncork(c);
    for (int i = 0; i < 100000 && W.srv.got < sizeof req - 1; i++)
        uv_run(&W.loop, UV_RUN_ONCE);
    assert_int_equal(W.srv.got, sizeof req - 1);
    assert_int_equal(net_conn_queued(c), 0);
    const buf_t *q[] = { &c->out, &c->inflight, &c->plain_pending };
    bool kept = false;
    for (size_t i = 0; i < 3; i++)
        kept |= q[i]->data && memmem(q[i]->data, q[i]->cap, "dXNlcjpzM2NyZXQ", 15) != NULL;
    assert_int_equal(kept, !secret);
    assert_false(c->secret); /* the queue emptied: later writes are not wiped */
    world_done();
}

static void test_secret_wiped_plain(void **s) { run_secret(false, true); }
static void test_secret_wiped_tls(void **s) { run_secret(true, true); }
static void test_not_secret_kept_plain(void **s) { run_secret(false, false); }
static void test_not_secret_kept_tls(void **s) { run_secret(true, false); }

static void test_cork_plain(void **s) { run_cork(false); }
static void test_cork_tls(void **s) { run_cork(true); }

static void test_half_close_plain(void **s) { run_half_close(false); }
static void test_half_close_tls(void **s) { run_half_close(true); }

static void test_abort_resets_peer(void **s)
{
    world_init(false, false);
    world_connect();
    world_run_until(&W.cli.opened);
    world_run_until(&W.srv.opened);
    net_conn_abort(W.cli.c);
    world_run_until(&W.srv.closed);
    assert_int_equal(W.srv.close_err, -ECONNRESET);
    world_done();
}

static void test_connect_refused(void **s)
{
    world_init(false, false);
    uint16_t port = net_listener_port(W.l);
    net_listener_close(W.l);
    W.l = NULL;
    uv_run(&W.loop, UV_RUN_NOWAIT);
    net_connect_opts_t co = { .host = "127.0.0.1", .port = port };
    assert_int_equal(net_connect(&W.loop, &co, &cbs, &W.cli, &W.cli.c), 0);
    world_run_until(&W.cli.closed);
    assert_false(W.cli.opened);
    assert_int_equal(W.cli.close_err, -ECONNREFUSED);
    world_done();
}

static void test_tls_requires_client_cert(void **s)
{
    world_init(true, false);
    world_connect();
    /* TLS 1.3 clients finish their side first and learn of the refusal
     * from the server's alert: the connection then fails. */
    world_run_until(&W.cli.closed);
    assert_true(W.cli.close_err != 0);
    assert_int_equal(W.cli.got, 0);
    world_run_until(&W.srv.closed);
    assert_false(W.srv.opened);
    world_done();
}

static void test_tls_peer_identity(void **s)
{
    world_init(true, true);
    world_connect();
    world_run_until(&W.cli.opened);
    world_run_until(&W.srv.opened);
    const tls_peer_t *p = net_conn_tls_peer(W.srv.c);
    assert_non_null(p);
    assert_true(p->has_cert);
    assert_true(p->verified);
    assert_string_equal(p->cn, "client");
    assert_string_equal(p->org, "Unit");
    assert_int_equal(strlen(p->fingerprint), 64);
    const tls_peer_t *sp = net_conn_tls_peer(W.cli.c);
    assert_string_equal(sp->cn, "server");
    world_done();
}

/* STARTTLS: a plain client connection turned into TLS in place (the TLS
 * listener stands for a server that said "proceed"); the name is verified
 * as net_connect() verifies it, and a second upgrade is refused. */
static void run_starttls(const char *name, bool ok)
{
    world_init(true, true);
    net_connect_opts_t co = { .host = "127.0.0.1", .port = net_listener_port(W.l) };
    assert_int_equal(net_connect(&W.loop, &co, &cbs, &W.cli, &W.cli.c), 0);
    world_run_until(&W.cli.opened);
    assert_false(net_conn_is_tls(W.cli.c));
    W.cli.opened = false;
    assert_int_equal(net_conn_starttls(W.cli.c, W.ctls, name, 5000), 0);
    assert_int_equal(net_conn_starttls(W.cli.c, W.ctls, name, 5000), -EINVAL);
    if (!ok) {
        world_run_until(&W.cli.closed);
        assert_false(W.cli.opened);
        assert_int_equal(W.cli.close_err, -EPROTO);
        world_done();
        return;
    }
    world_run_until(&W.cli.opened); /* on_open again, now over TLS */
    assert_true(net_conn_is_tls(W.cli.c));
    assert_string_equal(net_conn_tls_peer(W.cli.c)->cn, "server");
    assert_int_equal(net_conn_write(W.cli.c, "hello", 5), 0);
    world_run_until(&W.srv.opened);
    while (W.srv.got < 5)
        uv_run(&W.loop, UV_RUN_ONCE);
    assert_memory_equal(W.srv.data, "hello", 5);
    assert_string_equal(net_conn_tls_peer(W.srv.c)->cn, "client");
    world_done();
}

static void test_starttls(void **s) { run_starttls("127.0.0.1", true); }
static void test_starttls_verifies_the_name(void **s) { run_starttls("10.9.9.9", false); }

static void test_tls_pause_keeps_decrypted_data(void **s)
{
    world_init(true, true);
    world_connect();
    world_run_until(&W.srv.opened);
    W.srv.pause_first = true;
    static char block[200000];
    memset(block, 'q', sizeof block);
    assert_int_equal(net_conn_write(W.cli.c, block, sizeof block), 0);
    /* the server paused after its first chunk; everything else waits */
    while (!net_conn_paused(W.srv.c) || W.srv.got == 0)
        uv_run(&W.loop, UV_RUN_ONCE);
    for (int i = 0; i < 50; i++)
        uv_run(&W.loop, UV_RUN_NOWAIT);
    assert_true(W.srv.got < sizeof block);
    net_conn_resume(W.srv.c);
    while (W.srv.got < sizeof block)
        uv_run(&W.loop, UV_RUN_ONCE);
    assert_int_equal(W.srv.got, sizeof block);
    world_done();
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_backpressure_plain),
        cmocka_unit_test(test_backpressure_tls),
        cmocka_unit_test(test_queue_cap),
        cmocka_unit_test(test_tls_overhead_counts_for_congestion),
        cmocka_unit_test(test_cork_plain),
        cmocka_unit_test(test_cork_tls),
        cmocka_unit_test(test_secret_wiped_plain),
        cmocka_unit_test(test_secret_wiped_tls),
        cmocka_unit_test(test_not_secret_kept_plain),
        cmocka_unit_test(test_not_secret_kept_tls),
        cmocka_unit_test(test_tls_small_pieces_share_records),
        cmocka_unit_test(test_half_close_plain),
        cmocka_unit_test(test_half_close_tls),
        cmocka_unit_test(test_abort_resets_peer),
        cmocka_unit_test(test_connect_refused),
        cmocka_unit_test(test_tls_requires_client_cert),
        cmocka_unit_test(test_tls_peer_identity),
        cmocka_unit_test(test_tls_pause_keeps_decrypted_data),
        cmocka_unit_test(test_starttls),
        cmocka_unit_test(test_starttls_verifies_the_name),
    };
    return cmocka_run_group_tests(tests, make_pki, rm_pki);
}
