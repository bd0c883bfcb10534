/*
 * relay_bench: `outpost relay-bench MODE`, the load generator behind
 * bench/relay.sh (a hidden subcommand, like testd). One event loop drives
 * both peers of each pair through the relay, with the same WebSocket and
 * TLS code the daemons use:
 *
 *   throughput  peer A sends --messages of --size bytes as fast as the
 *               relay takes them (respecting backpressure); B counts.
 *   latency     A sends at a fixed --rate with a timestamp inside; B echoes
 *               each one back; A records round trips (first second skipped).
 *   idle        --pairs pairs connect, say HELLO, get paired, and stay.
 *
 * With --direct, A connects to an in-process mTLS WebSocket server instead
 * of the relay (no HELLO): the ceiling the relay is compared against.
 * Results go to stdout as key=value lines; CPU time used by this process is
 * included so the script can tell whether the generator was the bottleneck.
 */
#include "relay/relay.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "codec/relay_msg.h"
#include "core/clock.h"
#include "core/config.h"
#include "core/log.h"
#include "core/str.h"
#include "net/addr.h"
#include "net/http_server.h"
#include "net/tls.h"
#include "net/ws.h"

typedef struct bench_opts {
    cfg_common_t common; /* tls-cert/key/ca for the peers; listen for --direct */
    char *url;
    bool direct;
    char *server_cert;
    int64_t messages, size, rate, seconds, pairs, concurrency;
} bench_opts_t;

static const cfg_opt_t bench_table[] = {
    CFG_COMMON_TLS(bench_opts_t, "of the bench peers (client certificate)"),
    CFG_OPT("url", CFG_STR, bench_opts_t, url, NULL, "URL", "relay path base: wss://127.0.0.1:PORT/prefix/"),
    CFG_OPT("direct", CFG_BOOL, bench_opts_t, direct, "false", NULL, "no relay: A talks to an in-process server"),
    CFG_OPT("server-cert", CFG_STR, bench_opts_t, server_cert, NULL, "FILE", "cert+key of the --direct server"),
    CFG_OPT("messages", CFG_INT, bench_opts_t, messages, "500000", "N", "throughput: messages", .min = 1, .max = 1e9),
    CFG_OPT("size", CFG_INT, bench_opts_t, size, "200", "BYTES", "message size", .min = 16, .max = 1 << 20),
    CFG_OPT("rate", CFG_INT, bench_opts_t, rate, "5000", "N", "latency: messages per second", .min = 1, .max = 1e6),
    CFG_OPT("seconds", CFG_INT, bench_opts_t, seconds, "5", "N", "latency: duration", .min = 2, .max = 3600),
    CFG_OPT("pairs", CFG_INT, bench_opts_t, pairs, "5000", "N", "idle: pairs to open", .min = 1, .max = 1e6),
    CFG_OPT("concurrency", CFG_INT, bench_opts_t, concurrency, "64", "N", "idle: handshakes in flight",
            .min = 1, .max = 100000),
    CFG_END,
};

static const cfg_cmd_t bench_cmd = {
    "relay-bench", "Load generator for bench/relay.sh (throughput | latency | idle).", "MODE", bench_table,
};

typedef enum mode { M_THROUGHPUT, M_LATENCY, M_IDLE } mode_t_;

typedef struct bench bench_t;

typedef struct bpeer {
    bench_t *b;
    ws_t *ws;
    int role; /* 0 = A (sender), 1 = B (receiver/echo) */
    bool paired, closed;
    struct bpeer *other;
} bpeer_t;

struct bench {
    uv_loop_t *loop;
    bench_opts_t o;
    mode_t_ mode;
    tls_ctx_t *ctls, *stls;
    http_server_t *srv;
    char url[512];
    bpeer_t *peers; /* 2 per pair */
    int64_t opened, paired, failed, settled, next_pair; /* settled: peers paired or failed */
    /* throughput */
    int64_t sent, received;
    int64_t t0_us, t1_us;
    /* latency */
    uv_timer_t tick;
    int64_t lat_start_us;
    int64_t *rtt;
    size_t nrtt, maxrtt;
    char *payload;
    bool done;
};

static void start_pair(bench_t *b, int64_t i);

/* ---- helpers ---------------------------------------------------------------------- */

static double cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

static void finish(bench_t *b)
{
    if (b->done)
        return;
    b->done = true;
    for (int64_t i = 0; i < b->o.pairs * 2; i++)
        if (b->peers[i].ws && !b->peers[i].closed)
            ws_close(b->peers[i].ws, WS_CLOSE_NORMAL, "bench done");
    if (b->srv)
        http_server_close(b->srv, NULL, NULL);
    if (!uv_is_closing((uv_handle_t *)&b->tick))
        uv_close((uv_handle_t *)&b->tick, NULL);
}

static void pump_throughput(bench_t *b, bpeer_t *a)
{
    while (b->sent < b->o.messages && !ws_congested(a->ws)) {
        if (b->sent == 0)
            b->t0_us = clock_mono_us();
        if (ws_send(a->ws, WS_TEXT, b->payload, (size_t)b->o.size) != 0)
            return;
        b->sent++;
    }
}

static void on_lat_tick(uv_timer_t *t)
{
    bench_t *b = t->data;
    bpeer_t *a = &b->peers[0];
    int64_t now = clock_mono_us();
    if (!b->lat_start_us)
        b->lat_start_us = now;
    int64_t elapsed = now - b->lat_start_us;
    if (elapsed >= b->o.seconds * 1000000) {
        finish(b);
        return;
    }
    int64_t due = elapsed * b->o.rate / 1000000;
    while (b->sent < due) {
        /* a text message, like the relay's JSON: the send time in hex first */
        char ts[17];
        snprintf(ts, sizeof ts, "%016llx", (unsigned long long)clock_mono_us());
        memcpy(b->payload, ts, 16);
        if (ws_send(a->ws, WS_TEXT, b->payload, (size_t)b->o.size) != 0)
            break;
        b->sent++;
    }
}

static void all_paired(bench_t *b)
{
    if (b->mode == M_THROUGHPUT) {
        pump_throughput(b, &b->peers[0]);
    } else if (b->mode == M_LATENCY) {
        uv_timer_start(&b->tick, on_lat_tick, 1, 1);
    } else {
        printf("paired=%lld failed=%lld\n", (long long)b->paired / 2, (long long)b->failed);
        fflush(stdout);
        /* hold until stdin closes: the script measures the relay meanwhile */
    }
}

/* ---- peers -------------------------------------------------------------------------- */

/* Every pair either paired or failed: report once. */
static void idle_progress(bench_t *b)
{
    static bool reported;
    if (!reported && b->settled >= b->o.pairs * 2) {
        reported = true;
        all_paired(b);
    }
}

static void peer_paired(bpeer_t *p)
{
    bench_t *b = p->b;
    p->paired = true;
    b->paired++;
    b->settled++;
    if (b->mode == M_IDLE) {
        /* the next pair starts when this one is complete: a steady number
         * of handshakes in flight, not a growing storm */
        bpeer_t *mate = p->role ? p - 1 : p + 1;
        if (mate->paired && b->next_pair < b->o.pairs)
            start_pair(b, b->next_pair++);
        idle_progress(b);
    } else if (b->paired == 2) {
        all_paired(b);
    }
}

static void on_open(ws_t *ws)
{
    bpeer_t *p = ws_data(ws);
    bench_t *b = p->b;
    b->opened++;
    if (b->o.direct) {
        if (p->role == 0) {
            b->paired++; /* the server side counts as paired when accepted */
            peer_paired(p);
        }
        return;
    }
    buf_t h = BUF_INIT(1024);
    relay_hello_build(&h, 0, p->role ? "bench-b" : "bench-a", "bench");
    ws_send(ws, WS_TEXT, h.data, h.len);
    buf_free(&h);
}

static void on_message(ws_t *ws, int type, const uint8_t *data, size_t len)
{
    bpeer_t *p = ws_data(ws);
    bench_t *b = p->b;
    if (!p->paired) {
        peer_paired(p);
        return;
    }
    if (b->mode == M_THROUGHPUT && p->role == 1) {
        if (++b->received == b->o.messages) {
            b->t1_us = clock_mono_us();
            finish(b);
        }
    } else if (b->mode == M_LATENCY && p->role == 1) {
        ws_send(ws, type, data, len); /* echo */
    } else if (b->mode == M_LATENCY && p->role == 0 && len >= 16) {
        char hex[17];
        memcpy(hex, data, 16);
        hex[16] = '\0';
        int64_t ts = (int64_t)strtoull(hex, NULL, 16);
        int64_t now = clock_mono_us();
        b->received++;
        if (now - b->lat_start_us > 1000000 && b->nrtt < b->maxrtt) /* warm-up skipped */
            b->rtt[b->nrtt++] = now - ts;
    }
}

static void on_drain(ws_t *ws)
{
    bpeer_t *p = ws_data(ws);
    if (p->b->mode == M_THROUGHPUT && p->role == 0)
        pump_throughput(p->b, p);
}

static void on_close(ws_t *ws, uint16_t code, const char *reason)
{
    bpeer_t *p = ws_data(ws);
    bench_t *b = p->b;
    p->closed = true;
    p->ws = NULL;
    if (!b->done) {
        if (!p->paired) {
            b->failed++;
            b->settled++;
        }
        if (b->failed <= 5)
            fprintf(stderr, "relay-bench: peer closed early: %u %s\n", code, reason);
        if (b->mode == M_IDLE) {
            bpeer_t *mate = p->role ? p - 1 : p + 1;
            if ((mate->paired || mate->closed) && b->next_pair < b->o.pairs)
                start_pair(b, b->next_pair++);
            idle_progress(b);
        } else {
            finish(b);
        }
    }
}

static const ws_cbs_t peer_cbs = { on_open, on_message, on_drain, on_close };

static void connect_peer(bench_t *b, bpeer_t *p, const char *url)
{
    ws_opts_t wo = { .max_message = 1 << 20, .high_water = 1 << 20, .max_queue = 64 << 20 };
    ws_connect_opts_t co = { .url = url, .tls = b->ctls, .timeout_ms = 60000 };
    int rc = ws_connect(b->loop, &co, &wo, &peer_cbs, p, &p->ws);
    if (rc != 0) {
        /* a bad URL or no memory: nothing later would go better */
        char shown[NET_URL_SHOWN];
        net_url_redacted(url, shown, sizeof shown);
        fprintf(stderr, "relay-bench: cannot connect to %s: %s\n", shown, log_strerror(rc));
        exit(1);
    }
}

static void start_pair(bench_t *b, int64_t i)
{
    char url[600];
    if (b->o.direct)
        snprintf(url, sizeof url, "%s", b->url);
    else
        snprintf(url, sizeof url, "%sbench-%06lld", b->url, (long long)i);
    for (int r = 0; r < (b->o.direct ? 1 : 2); r++) {
        bpeer_t *p = &b->peers[2 * i + r];
        p->b = b;
        p->role = r;
        connect_peer(b, p, url);
    }
}

/* --direct: the receiving side is accepted here. */
static void srv_handler(http_req_t *r, void *ud)
{
    bench_t *b = ud;
    bpeer_t *p = &b->peers[1];
    p->b = b;
    p->role = 1;
    p->paired = true;
    ws_opts_t wo = { .max_message = 1 << 20, .high_water = 1 << 20, .max_queue = 64 << 20 };
    p->ws = ws_accept(r, &wo, &peer_cbs, p, NULL);
}

static int cmp_i64(const void *x, const void *y)
{
    int64_t a = *(const int64_t *)x, c = *(const int64_t *)y;
    return a < c ? -1 : a > c;
}

static double pct(const bench_t *b, double q)
{
    if (!b->nrtt)
        return 0;
    size_t i = (size_t)(q * (double)(b->nrtt - 1));
    return (double)b->rtt[i];
}

int relay_bench_main(int argc, char **argv)
{
    bench_t b = { 0 };
    cfg_result_t res;
    int rc = cfg_load(&bench_cmd, &b.o, argc, argv, &res);
    if (rc)
        return rc > 0 ? 0 : 2;
    const char *m = res.npositional ? res.positional[0] : "";
    b.mode = strcmp(m, "throughput") == 0 ? M_THROUGHPUT : strcmp(m, "latency") == 0 ? M_LATENCY
           : strcmp(m, "idle") == 0       ? M_IDLE
                                          : (mode_t_)-1;
    if ((int)b.mode < 0 || (!b.o.url && !b.o.direct)) {
        fprintf(stderr, "usage: outpost relay-bench throughput|latency|idle --url URL | --direct ...\n");
        cfg_free(&bench_cmd, &b.o);
        return 2;
    }
    if (b.mode != M_IDLE)
        b.o.pairs = 1;
    b.loop = uv_default_loop();
    signal(SIGPIPE, SIG_IGN);
    b.ctls = tls_ctx_new(&(tls_opts_t){ .cert_file = b.o.common.tls_cert, .key_file = b.o.common.tls_key,
                                        .ca_file = b.o.common.tls_ca, .verify = TLS_VERIFY_REQUIRED });
    b.peers = calloc((size_t)b.o.pairs * 2, sizeof *b.peers);
    b.payload = malloc((size_t)b.o.size);
    b.maxrtt = (size_t)(b.o.rate * b.o.seconds + 16);
    b.rtt = b.mode == M_LATENCY ? calloc(b.maxrtt, sizeof *b.rtt) : NULL;
    if (!b.ctls || !b.peers || !b.payload || (b.mode == M_LATENCY && !b.rtt))
        return 1;
    memset(b.payload, 'x', (size_t)b.o.size);
    uv_timer_init(b.loop, &b.tick);
    b.tick.data = &b;
    if (b.o.direct) {
        b.stls = tls_ctx_new(&(tls_opts_t){ .server = true, .cert_file = b.o.server_cert,
                                            .ca_file = b.o.common.tls_ca, .verify = TLS_VERIFY_REQUIRED });
        b.srv = http_server_new(b.loop, &(http_server_opts_t){ .handler = srv_handler, .ud = &b });
        if (!b.stls || !b.srv ||
            http_server_listen(b.srv, &(net_listen_opts_t){ .addr = "127.0.0.1:0", .tls = b.stls }))
            return 1;
        snprintf(b.url, sizeof b.url, "wss://%s/direct", http_server_addr(b.srv));
    } else {
        str_copy(b.url, sizeof b.url, b.o.url);
    }
    double cpu0 = cpu_seconds();
    int64_t wall0 = clock_mono_us();
    int64_t first = b.mode == M_IDLE ? (b.o.concurrency < b.o.pairs ? b.o.concurrency : b.o.pairs) : 1;
    for (b.next_pair = 0; b.next_pair < first; b.next_pair++)
        start_pair(&b, b.next_pair);
    if (b.mode == M_IDLE) {
        /* run until everyone is paired, then hold until stdin closes */
        while (b.settled < b.o.pairs * 2)
            if (uv_run(b.loop, UV_RUN_ONCE) == 0)
                break; /* nothing left that could settle the rest */
        char line[16];
        if (!fgets(line, sizeof line, stdin))
            line[0] = '\0';
        finish(&b);
    }
    uv_run(b.loop, UV_RUN_DEFAULT);
    double cpu = cpu_seconds() - cpu0;
    double wall = (double)(clock_mono_us() - wall0) / 1e6;
    if (b.mode == M_THROUGHPUT) {
        double secs = (double)(b.t1_us - b.t0_us) / 1e6;
        printf("messages=%lld seconds=%.3f msgs_per_s=%.0f mbytes_per_s=%.1f gen_cpu_pct=%.0f\n",
               (long long)b.received, secs, secs > 0 ? (double)b.received / secs : 0,
               secs > 0 ? (double)b.received * (double)b.o.size / secs / 1e6 : 0, 100 * cpu / wall);
    } else if (b.mode == M_LATENCY) {
        qsort(b.rtt, b.nrtt, sizeof *b.rtt, cmp_i64);
        printf("sent=%lld received=%lld samples=%zu p50_us=%.0f p90_us=%.0f p99_us=%.0f p999_us=%.0f "
               "max_us=%.0f gen_cpu_pct=%.0f\n",
               (long long)b.sent, (long long)b.received, b.nrtt, pct(&b, 0.5), pct(&b, 0.9), pct(&b, 0.99),
               pct(&b, 0.999), pct(&b, 1.0), 100 * cpu / wall);
    }
    int ok = b.mode == M_IDLE ? b.failed == 0 : b.mode == M_THROUGHPUT ? b.received == b.o.messages : b.nrtt > 0;
    tls_ctx_free(b.ctls);
    tls_ctx_free(b.stls);
    free(b.peers);
    free(b.payload);
    free(b.rtt);
    cfg_free(&bench_cmd, &b.o);
    uv_loop_close(b.loop);
    return ok ? 0 : 1;
}
