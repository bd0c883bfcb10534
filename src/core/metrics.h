/*
 * metrics: the one Prometheus text writer (exposition format 0.0.4) every
 * daemon's /metrics uses: HELP/TYPE lines, samples, label escaping, latency
 * histograms, and the series every daemon exports the same way
 * (outpost_build_info and process_*). Counters are plain uint64_t fields in
 * the structs that own them; this module only knows how to bucket and print.
 * Names follow Prometheus conventions: one prefix `outpost_`, then the daemon
 * (`outpost_acs_...`), `_total` on counters, base units (`_seconds`, `_bytes`).
 */
#ifndef OUTPOST_CORE_METRICS_H
#define OUTPOST_CORE_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

enum { METRICS_NBUCKETS = 14 };

/* Upper bounds in seconds (the last bucket is +Inf). */
extern const double metrics_bounds_s[METRICS_NBUCKETS - 1];

typedef struct metrics_hist {
    uint64_t bucket[METRICS_NBUCKETS]; /* non-cumulative counts */
    uint64_t count;
    double sum;
} metrics_hist_t;

void metrics_hist_observe(metrics_hist_t *h, double seconds);
/* Quantile estimate (upper bound of the bucket holding it), seconds. */
double metrics_hist_quantile(const metrics_hist_t *h, double q);

/* "# HELP name help\n# TYPE name type\n". */
int metrics_head(buf_t *out, const char *name, const char *type, const char *help);
/* name{labels} value  (labels: "" or 'a="b",c="d"'). */
int metrics_value(buf_t *out, const char *name, const char *labels, double v);
/* name_bucket{labels,le=".."} ..., name_sum, name_count. */
int metrics_hist_write(buf_t *out, const char *name, const char *labels, const metrics_hist_t *h);
/* Append s escaped for a label value (\\, \", \n). */
int metrics_label_escape(buf_t *out, const char *s);
/* HELP, TYPE and one sample in one call (a series without labels). */
int metrics_one(buf_t *out, const char *name, const char *type, const char *help, double v);

/* outpost_build_info{daemon,version,commit} 1, then this process's
 * process_cpu_seconds_total, process_resident_memory_bytes,
 * process_open_fds, process_max_fds and process_start_time_seconds (from
 * /proc, as the Prometheus client libraries name them). */
int metrics_process(buf_t *out, const char *daemon);

#endif
