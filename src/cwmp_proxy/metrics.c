/*
 * metrics: histogram buckets and Prometheus text exposition (format 0.0.4).
 */
#include "cwmp_proxy/metrics.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

const double metrics_bounds_s[METRICS_NBUCKETS - 1] = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
};

void metrics_hist_observe(metrics_hist_t *h, double seconds)
{
    if (!(seconds >= 0))
        seconds = 0;
    size_t i = 0;
    while (i < METRICS_NBUCKETS - 1 && seconds > metrics_bounds_s[i])
        i++;
    h->bucket[i]++;
    h->count++;
    h->sum += seconds;
}

double metrics_hist_quantile(const metrics_hist_t *h, double q)
{
    if (h->count == 0)
        return 0;
    uint64_t want = (uint64_t)ceil(q * (double)h->count), acc = 0;
    for (size_t i = 0; i < METRICS_NBUCKETS; i++) {
        acc += h->bucket[i];
        if (acc >= want)
            return i < METRICS_NBUCKETS - 1 ? metrics_bounds_s[i] : INFINITY;
    }
    return INFINITY;
}

int metrics_head(buf_t *out, const char *name, const char *type, const char *help)
{
    return buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static int num(buf_t *out, double v)
{
    if (isinf(v))
        return buf_append_str(out, v > 0 ? "+Inf" : "-Inf");
    if (v == floor(v) && fabs(v) < 1e15)
        return buf_printf(out, "%.0f", v);
    return buf_printf(out, "%.9g", v);
}

int metrics_value(buf_t *out, const char *name, const char *labels, double v)
{
    int rc = labels && labels[0] ? buf_printf(out, "%s{%s} ", name, labels)
                                 : buf_printf(out, "%s ", name);
    if (!rc)
        rc = num(out, v);
    return rc ? rc : buf_append_byte(out, '\n');
}

int metrics_hist_write(buf_t *out, const char *name, const char *labels, const metrics_hist_t *h)
{
    uint64_t acc = 0;
    const char *sep = labels && labels[0] ? "," : "";
    int rc = 0;
    for (size_t i = 0; i < METRICS_NBUCKETS && !rc; i++) {
        acc += h->bucket[i];
        char le[32];
        if (i < METRICS_NBUCKETS - 1)
            snprintf(le, sizeof le, "%g", metrics_bounds_s[i]);
        else
            snprintf(le, sizeof le, "+Inf");
        rc = buf_printf(out, "%s_bucket{%s%sle=\"%s\"} %llu\n", name, labels ? labels : "", sep, le,
                        (unsigned long long)acc);
    }
    if (!rc)
        rc = labels && labels[0] ? buf_printf(out, "%s_sum{%s} %.9g\n%s_count{%s} %llu\n", name, labels,
                                              h->sum, name, labels, (unsigned long long)h->count)
                                 : buf_printf(out, "%s_sum %.9g\n%s_count %llu\n", name, h->sum, name,
                                              (unsigned long long)h->count);
    return rc;
}

int metrics_label_escape(buf_t *out, const char *s)
{
    for (; *s; s++) {
        int rc;
        if (*s == '\\' || *s == '"')
            rc = buf_printf(out, "\\%c", *s);
        else if (*s == '\n')
            rc = buf_append_str(out, "\\n");
        else
            rc = buf_append_byte(out, *s);
        if (rc)
            return rc;
    }
    return 0;
}
