/*
 * metrics: latency histograms and the Prometheus text format for the
 * cwmp-proxy's /metrics. Counters are plain uint64_t fields in the structs
 * that own them; this module only knows how to bucket and print.
 */
#ifndef OUTPOST_CWMP_PROXY_METRICS_H
#define OUTPOST_CWMP_PROXY_METRICS_H

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

#endif
