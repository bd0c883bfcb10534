/*
 * stats: counters and the session latency histogram (see stats.h).
 */
#include "cpesim/stats.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/metrics.h"

/* Bucket of v: values below 16 map 1:1; above, the power of two picks a
 * group of 16 and the next 4 bits below the top bit pick the bucket. */
static unsigned bucket_of(uint64_t v)
{
    if (v < 16)
        return (unsigned)v;
    unsigned top = 63u - (unsigned)__builtin_clzll(v); /* >= 4 */
    unsigned sub = (unsigned)(v >> (top - 4)) & 15u;
    unsigned b = (top - 3) * 16 + sub;
    return b < STATS_HIST_BUCKETS ? b : STATS_HIST_BUCKETS - 1;
}

static uint64_t bucket_upper(unsigned b)
{
    if (b < 16)
        return b;
    unsigned top = b / 16 + 3, sub = b % 16;
    return ((16ull + sub + 1) << (top - 4)) - 1;
}

void stats_hist_add(stats_hist_t *h, uint64_t us)
{
    h->n++;
    h->sum_us += us;
    if (us > h->max_us)
        h->max_us = us;
    h->b[bucket_of(us)]++;
}

uint64_t stats_hist_quantile(const stats_hist_t *h, double q)
{
    if (!h->n)
        return 0;
    uint64_t rank = (uint64_t)ceil(q * (double)h->n);
    if (rank < 1)
        rank = 1;
    uint64_t seen = 0;
    for (unsigned b = 0; b < STATS_HIST_BUCKETS; b++) {
        seen += h->b[b];
        if (seen >= rank) {
            if (b == STATS_HIST_BUCKETS - 1) /* the overflow bucket has no upper edge */
                return h->max_us;
            uint64_t up = bucket_upper(b);
            return up < h->max_us ? up : h->max_us;
        }
    }
    return h->max_us;
}

static const char *const fail_names[STATS_FAIL_COUNT] = {
    [STATS_FAIL_CONNECT] = "connect",   [STATS_FAIL_TIMEOUT] = "timeout",
    [STATS_FAIL_HTTP] = "http_status",  [STATS_FAIL_AUTH] = "auth",
    [STATS_FAIL_PROTOCOL] = "protocol", [STATS_FAIL_CLOSED] = "closed",
    [STATS_FAIL_DROPPED] = "dropped",   [STATS_FAIL_FAULT] = "acs_fault",
};

const char *stats_fail_name(stats_fail_t f)
{
    return (unsigned)f < STATS_FAIL_COUNT ? fail_names[f] : "?";
}

static double ms(uint64_t us) { return (double)us / 1000.0; }

int stats_json(const stats_t *s, double elapsed_s, double recent, const char *const *rpc_names,
               size_t n_names, uint32_t cpes, uint32_t active, buf_t *out)
{
    double rate = elapsed_s > 0 ? (double)s->sessions_completed / elapsed_s : 0;
    int rc = buf_printf(out,
                        "{\"elapsed_s\":%.3f,\"cpes\":%u,\"active_sessions\":%u,"
                        "\"sessions\":{\"started\":%llu,\"completed\":%llu,\"failed\":%llu,"
                        "\"per_second\":%.1f,\"recent_per_second\":%.1f,\"failed_by\":{",
                        elapsed_s, cpes, active, (unsigned long long)s->sessions_started,
                        (unsigned long long)s->sessions_completed,
                        (unsigned long long)s->sessions_failed, rate, recent);
    for (int f = 0; f < STATS_FAIL_COUNT && !rc; f++)
        rc = buf_printf(out, "%s\"%s\":%llu", f ? "," : "", fail_names[f],
                        (unsigned long long)s->fail[f]);
    if (!rc)
        rc = buf_printf(out,
                        "}},\"latency_ms\":{\"p50\":%.3f,\"p99\":%.3f,\"max\":%.3f,\"mean\":%.3f},"
                        "\"informs\":%llu,\"http_requests\":%llu,\"connections\":%llu,\"rpcs\":{",
                        ms(stats_hist_quantile(&s->latency, 0.50)),
                        ms(stats_hist_quantile(&s->latency, 0.99)), ms(s->latency.max_us),
                        s->latency.n ? ms(s->latency.sum_us) / (double)s->latency.n : 0.0,
                        (unsigned long long)s->informs, (unsigned long long)s->http_requests,
                        (unsigned long long)s->connections);
    bool first = true;
    for (size_t i = 0; i < n_names && i < STATS_RPC_KINDS && !rc; i++) {
        if (!s->rpcs[i] || !rpc_names[i] || !*rpc_names[i])
            continue;
        rc = buf_printf(out, "%s\"%s\":%llu", first ? "" : ",", rpc_names[i],
                        (unsigned long long)s->rpcs[i]);
        first = false;
    }
    if (!rc)
        rc = buf_printf(out,
                        "},\"faults_sent\":%llu,\"connection_requests\":{\"answered\":%llu,"
                        "\"rejected\":%llu},\"downloads\":{\"ok\":%llu,\"failed\":%llu},"
                        "\"uploads\":{\"ok\":%llu,\"failed\":%llu},\"value_changes\":%llu,"
                        "\"reboots\":%llu,\"factory_resets\":%llu}",
                        (unsigned long long)s->faults_sent, (unsigned long long)s->cr_answered,
                        (unsigned long long)s->cr_rejected, (unsigned long long)s->downloads_ok,
                        (unsigned long long)s->downloads_failed, (unsigned long long)s->uploads_ok,
                        (unsigned long long)s->uploads_failed, (unsigned long long)s->value_changes,
                        (unsigned long long)s->reboots, (unsigned long long)s->factory_resets);
    return rc;
}

int stats_text(const stats_t *s, double elapsed_s, double recent, const char *const *rpc_names,
               size_t n_names, uint32_t cpes, uint32_t active, buf_t *out)
{
    double rate = elapsed_s > 0 ? (double)s->sessions_completed / elapsed_s : 0;
    int rc = buf_printf(out,
                        "cpes=%u active=%u started=%llu completed=%llu failed=%llu rate=%.1f/s "
                        "recent=%.1f/s p50_ms=%.2f p99_ms=%.2f rpcs=",
                        cpes, active, (unsigned long long)s->sessions_started,
                        (unsigned long long)s->sessions_completed,
                        (unsigned long long)s->sessions_failed, rate, recent,
                        ms(stats_hist_quantile(&s->latency, 0.50)),
                        ms(stats_hist_quantile(&s->latency, 0.99)));
    uint64_t rpcs = 0;
    for (int i = 0; i < STATS_RPC_KINDS; i++)
        rpcs += s->rpcs[i];
    if (!rc)
        rc = buf_printf(out, "%llu faults=%llu cr=%llu", (unsigned long long)rpcs,
                        (unsigned long long)s->faults_sent, (unsigned long long)s->cr_answered);
    for (int f = 0; f < STATS_FAIL_COUNT && !rc; f++)
        if (s->fail[f])
            rc = buf_printf(out, " fail_%s=%llu", fail_names[f], (unsigned long long)s->fail[f]);
    for (size_t i = 0; i < n_names && i < STATS_RPC_KINDS && !rc; i++)
        if (s->rpcs[i] && rpc_names[i] && *rpc_names[i])
            rc = buf_printf(out, " rpc_%s=%llu", rpc_names[i], (unsigned long long)s->rpcs[i]);
    return rc;
}

int stats_prometheus(const stats_t *s, const char *const *rpc_names, size_t n_names, uint32_t cpes,
                     uint32_t active, buf_t *out)
{
    const struct {
        const char *name, *type, *help;
        double v;
    } one[] = {
        { "outpost_cpesim_cpes", "gauge", "Simulated CPEs.", cpes },
        { "outpost_cpesim_sessions_active", "gauge", "Sessions in progress.", active },
        { "outpost_cpesim_sessions_started_total", "counter", "Sessions started.",
          (double)s->sessions_started },
        { "outpost_cpesim_sessions_completed_total", "counter", "Sessions that ended with the ACS's 204.",
          (double)s->sessions_completed },
        { "outpost_cpesim_informs_total", "counter", "Informs sent (retries after 401 included).",
          (double)s->informs },
        { "outpost_cpesim_http_requests_total", "counter", "HTTP requests sent to the ACS.",
          (double)s->http_requests },
        { "outpost_cpesim_connections_total", "counter", "TCP connections opened to the ACS.",
          (double)s->connections },
        { "outpost_cpesim_faults_sent_total", "counter", "CWMP faults the CPEs answered with.",
          (double)s->faults_sent },
        { "outpost_cpesim_connection_requests_total", "counter", "Connection requests accepted.",
          (double)s->cr_answered },
        { "outpost_cpesim_connection_requests_rejected_total", "counter",
          "Connection requests refused (401, 404, 503).", (double)s->cr_rejected },
    };
    int rc = 0;
    for (size_t i = 0; i < sizeof one / sizeof one[0] && !rc; i++)
        rc = metrics_one(out, one[i].name, one[i].type, one[i].help, one[i].v);
    if (!rc)
        rc = metrics_head(out, "outpost_cpesim_sessions_failed_total", "counter", "Sessions failed, by reason.");
    for (int f = 0; f < STATS_FAIL_COUNT && !rc; f++) {
        char l[48];
        snprintf(l, sizeof l, "reason=\"%s\"", stats_fail_name((stats_fail_t)f));
        rc = metrics_value(out, "outpost_cpesim_sessions_failed_total", l, (double)s->fail[f]);
    }
    if (!rc)
        rc = metrics_head(out, "outpost_cpesim_rpcs_total", "counter", "ACS RPCs received, by method.");
    for (size_t i = 0; i < n_names && i < STATS_RPC_KINDS && !rc; i++) {
        if (!s->rpcs[i] || !rpc_names[i])
            continue;
        char l[96];
        snprintf(l, sizeof l, "method=\"%s\"", rpc_names[i]);
        rc = metrics_value(out, "outpost_cpesim_rpcs_total", l, (double)s->rpcs[i]);
    }
    static const double qs[] = { 0.5, 0.9, 0.99 };
    if (!rc)
        rc = metrics_head(out, "outpost_cpesim_session_seconds", "summary",
                          "Whole sessions, first byte to the end.");
    for (size_t i = 0; i < 3 && !rc; i++) {
        char l[32];
        snprintf(l, sizeof l, "quantile=\"%g\"", qs[i]);
        rc = metrics_value(out, "outpost_cpesim_session_seconds", l,
                           (double)stats_hist_quantile(&s->latency, qs[i]) / 1e6);
    }
    if (!rc)
        rc = metrics_value(out, "outpost_cpesim_session_seconds_sum", "", (double)s->latency.sum_us / 1e6);
    if (!rc)
        rc = metrics_value(out, "outpost_cpesim_session_seconds_count", "", (double)s->latency.n);
    return rc;
}
