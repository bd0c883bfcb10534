/*
 * metrics: histogram buckets and Prometheus text exposition (format 0.0.4).
 */
#include "core/metrics.h"

#include <dirent.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "core/version.h"

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
    /* whole numbers without a fraction; not floor(): this was the agent's
     * only libm call, and libm's pages cost it ~300 KB of RSS */
    if (fabs(v) < 1e15 && v == (double)(int64_t)v)
        return buf_printf(out, "%.0f", v);
    return buf_printf(out, "%.15g", v);
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

int metrics_one(buf_t *out, const char *name, const char *type, const char *help, double v)
{
    int rc = metrics_head(out, name, type, help);
    return rc ? rc : metrics_value(out, name, "", v);
}

/* ---- the process ------------------------------------------------------------------------ */

/* utime + stime (clock ticks) and starttime (ticks since boot) from
 * /proc/self/stat; the command name may hold spaces and ')', so fields are
 * counted from the last ')'. */
static int proc_stat(unsigned long long *cpu_ticks, unsigned long long *start_ticks)
{
    char buf[1024];
    FILE *f = fopen("/proc/self/stat", "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    if (!p)
        return -1;
    /* after ") ": state(3) ... utime(14) stime(15) ... starttime(22) */
    unsigned long long v[20] = { 0 };
    int field = 3;
    char *save = NULL;
    for (char *t = strtok_r(p + 2, " ", &save); t && field <= 22; t = strtok_r(NULL, " ", &save), field++)
        if (field >= 3)
            v[field - 3] = strtoull(t, NULL, 10);
    if (field <= 22)
        return -1;
    *cpu_ticks = v[14 - 3] + v[15 - 3];
    *start_ticks = v[22 - 3];
    return 0;
}

static double boot_time_s(void)
{
    char line[256];
    double t = 0;
    FILE *f = fopen("/proc/stat", "r");
    if (!f)
        return 0;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "btime ", 6) == 0) {
            t = strtod(line + 6, NULL);
            break;
        }
    fclose(f);
    return t;
}

static double rss_bytes(void)
{
    unsigned long long size = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f)
        return 0;
    if (fscanf(f, "%llu %llu", &size, &resident) != 2)
        resident = 0;
    fclose(f);
    return (double)resident * (double)sysconf(_SC_PAGESIZE);
}

static double open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return 0;
    double n = 0;
    for (struct dirent *e; (e = readdir(d));)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n - 1; /* the directory's own descriptor */
}

int metrics_process(buf_t *out, const char *daemon)
{
    int rc = metrics_head(out, "outpost_build_info", "gauge",
                          "Always 1; the labels say which build this daemon runs.");
    if (!rc)
        rc = buf_append_str(out, "outpost_build_info{daemon=\"");
    if (!rc)
        rc = metrics_label_escape(out, daemon);
    if (!rc)
        rc = buf_printf(out, "\",version=\"%s\",commit=\"%s\"} 1\n", OUTPOST_VERSION, OUTPOST_COMMIT);
    unsigned long long cpu = 0, start = 0;
    double hz = (double)sysconf(_SC_CLK_TCK);
    bool have_stat = proc_stat(&cpu, &start) == 0 && hz > 0;
    struct rlimit rl = { 0 };
    getrlimit(RLIMIT_NOFILE, &rl);
    if (!rc && have_stat)
        rc = metrics_one(out, "process_cpu_seconds_total", "counter",
                         "Total user and system CPU time spent in seconds.", (double)cpu / hz);
    if (!rc)
        rc = metrics_one(out, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.",
                         rss_bytes());
    if (!rc)
        rc = metrics_one(out, "process_open_fds", "gauge", "Number of open file descriptors.", open_fds());
    if (!rc)
        rc = metrics_one(out, "process_max_fds", "gauge", "Maximum number of open file descriptors.",
                         rl.rlim_cur == RLIM_INFINITY ? INFINITY : (double)rl.rlim_cur);
    if (!rc && have_stat)
        rc = metrics_one(out, "process_start_time_seconds", "gauge",
                         "Start time of the process since unix epoch in seconds.",
                         boot_time_s() + (double)start / hz);
    return rc;
}

