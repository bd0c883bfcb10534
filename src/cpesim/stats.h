/*
 * stats: the fleet's counters and a latency histogram, printed at
 * --stats-interval and at exit, as a log line or (--json) as JSON.
 *
 * The histogram is log-linear (16 sub-buckets per power of two, ~3% error)
 * over microseconds, so p50/p99 of millions of sessions cost a fixed 5 KiB.
 * Everything here is owned by the fleet and touched on the loop thread only.
 */
#ifndef OUTPOST_CPESIM_STATS_H
#define OUTPOST_CPESIM_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

enum { STATS_HIST_BUCKETS = 40 * 16 };

typedef struct stats_hist {
    uint64_t n;
    uint64_t sum_us;
    uint64_t max_us;
    uint64_t b[STATS_HIST_BUCKETS];
} stats_hist_t;

void stats_hist_add(stats_hist_t *h, uint64_t us);
/* q in [0,1]; 0 when empty. Returns the upper edge of the bucket. */
uint64_t stats_hist_quantile(const stats_hist_t *h, double q);

/* Why a session failed (one counter each). */
typedef enum stats_fail {
    STATS_FAIL_CONNECT,   /* connect refused / DNS / TLS */
    STATS_FAIL_TIMEOUT,   /* the ACS did not answer in time */
    STATS_FAIL_HTTP,      /* an HTTP status other than 200/204 */
    STATS_FAIL_AUTH,      /* 401 after answering the challenge */
    STATS_FAIL_PROTOCOL,  /* malformed HTTP or SOAP, wrong message */
    STATS_FAIL_CLOSED,    /* the ACS closed the connection mid-session */
    STATS_FAIL_DROPPED,   /* we dropped it on purpose (--drop-rate) */
    STATS_FAIL_FAULT,     /* the ACS answered our request with a SOAP fault */
    STATS_FAIL_COUNT
} stats_fail_t;

enum { STATS_RPC_KINDS = 48 }; /* indexed by cwmp_type_t */

typedef struct stats {
    uint64_t sessions_started;
    uint64_t sessions_completed;
    uint64_t sessions_failed;
    uint64_t fail[STATS_FAIL_COUNT];
    uint64_t informs;          /* Inform requests sent (incl. retries after 401) */
    uint64_t http_requests;
    uint64_t connections;      /* TCP connections opened to the ACS */
    uint64_t rpcs[STATS_RPC_KINDS]; /* ACS RPCs received, by type */
    uint64_t faults_sent;      /* CWMP faults we answered with */
    uint64_t cr_answered;      /* connection requests accepted */
    uint64_t cr_rejected;      /* 401/404/503 */
    uint64_t downloads_ok, downloads_failed, uploads_ok, uploads_failed;
    uint64_t value_changes;
    uint64_t reboots, factory_resets;
    stats_hist_t latency;      /* whole sessions, first byte to end */
    bool last_ok;              /* how the most recent session ended (for /health) */
} stats_t;

const char *stats_fail_name(stats_fail_t f);

/* The counters as Prometheus text (outpost_cpesim_*), session latency as a
 * summary with the 0.5/0.9/0.99 quantiles. */
int stats_prometheus(const stats_t *s, const char *const *rpc_names, size_t n_names, uint32_t cpes,
                     uint32_t active, buf_t *out);

/* Append a JSON object (no newline). `elapsed_s` for the average rate,
 * `recent` the sessions completed per second since the previous line;
 * names of RPC kinds come from rpc_names (NULL entries are skipped). */
int stats_json(const stats_t *s, double elapsed_s, double recent, const char *const *rpc_names,
               size_t n_names, uint32_t cpes, uint32_t active, buf_t *out);
/* The same as one human line (key=value); RPC kinds seen so far as
 * rpc_<Name>=N, so that the log says which RPCs the ACS used, not only how many. */
int stats_text(const stats_t *s, double elapsed_s, double recent, const char *const *rpc_names,
               size_t n_names, uint32_t cpes, uint32_t active, buf_t *out);

#endif
