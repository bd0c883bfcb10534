#include "core/runtime.h"

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/str.h"

static void on_drain_timeout(uv_timer_t *t)
{
    runtime_t *rt = t->data;
    log_error("shutdown_forced", LF_S("reason", "drain timeout"), LF_I("drain_ms", rt->drain_ms));
    _exit(1);
}

static void begin_stop(runtime_t *rt, const char *why, bool interactive)
{
    if (rt->stopping) {
        /* A second Ctrl-C means "now"; a repeated SIGTERM (supervisors, test
         * harnesses) just lets the drain, bounded by drain_ms, go on. */
        if (!interactive)
            return;
        log_warn("shutdown_forced", LF_S("reason", "second interrupt"));
        _exit(1);
    }
    rt->stopping = true;
    log_info("shutdown", LF_S("reason", why));
    /* Signal handles must not keep the loop alive while the daemon drains. */
    uv_unref((uv_handle_t *)&rt->sig_term);
    uv_unref((uv_handle_t *)&rt->sig_int);
    uv_unref((uv_handle_t *)&rt->sig_hup);
    uv_timer_start(&rt->drain_timer, on_drain_timeout, (uint64_t)rt->drain_ms, 0);
    uv_unref((uv_handle_t *)&rt->drain_timer);
    if (rt->on_stop)
        rt->on_stop(rt->ud);
}

static void on_trim(uv_timer_t *t)
{
    malloc_trim(0);
}

static void on_signal(uv_signal_t *s, int signum)
{
    runtime_t *rt = s->data;
    if (signum == SIGHUP) {
        if (rt->stopping)
            return;
        if (rt->on_reload) {
            log_info("reload", LF_S("reason", "SIGHUP"));
            rt->on_reload(rt->ud);
        } else {
            log_info("reload_unsupported", LF_S("reason", "SIGHUP ignored"));
        }
        return;
    }
    begin_stop(rt, signum == SIGTERM ? "SIGTERM" : "SIGINT", signum == SIGINT);
}

uint64_t runtime_fd_limit(void)
{
    static bool raised;
    struct rlimit r;
    if (getrlimit(RLIMIT_NOFILE, &r) != 0)
        return 1024;
    if (!raised && r.rlim_cur < r.rlim_max) {
        raised = true;
        rlim_t was = r.rlim_cur;
        /* An unlimited hard limit cannot be the soft one: the kernel's
         * ceiling is fs.nr_open, 2^20 unless raised. */
        r.rlim_cur = r.rlim_max == RLIM_INFINITY ? (rlim_t)1 << 20 : r.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &r) == 0)
            log_info("fd_limit_raised", LF_U("from", was), LF_U("to", r.rlim_cur));
        else
            log_warn("fd_limit_raise_failed", LF_U("soft", was), LF_ERR(-errno));
        getrlimit(RLIMIT_NOFILE, &r);
    }
    raised = true;
    return r.rlim_cur == RLIM_INFINITY ? (uint64_t)1 << 20 : (uint64_t)r.rlim_cur;
}

int64_t runtime_conn_cap(int64_t configured, uint64_t reserve, unsigned per_conn, int64_t min)
{
    if (configured > 0)
        return configured;
    uint64_t lim = runtime_fd_limit();
    int64_t cap = lim > reserve ? (int64_t)((lim - reserve) / (per_conn ? per_conn : 1)) : 0;
    return cap > min ? cap : min;
}

int runtime_init(runtime_t *rt, uv_loop_t *loop, void (*on_stop)(void *), void (*on_reload)(void *),
                 void *ud, int64_t drain_ms)
{
    memset(rt, 0, sizeof *rt);
    (void)runtime_fd_limit();
    rt->loop = loop;
    rt->on_stop = on_stop;
    rt->on_reload = on_reload;
    rt->ud = ud;
    rt->drain_ms = drain_ms > 0 ? drain_ms : 10000;
    signal(SIGPIPE, SIG_IGN);
    uv_signal_t *sigs[] = { &rt->sig_term, &rt->sig_int, &rt->sig_hup };
    int nums[] = { SIGTERM, SIGINT, SIGHUP };
    for (int i = 0; i < 3; i++) {
        uv_signal_init(loop, sigs[i]);
        sigs[i]->data = rt;
        int rc = uv_signal_start(sigs[i], on_signal, nums[i]);
        if (rc)
            return rc;
    }
    uv_timer_init(loop, &rt->drain_timer);
    rt->drain_timer.data = rt;
    uv_timer_init(loop, &rt->trim_timer);
    uv_timer_start(&rt->trim_timer, on_trim, RUNTIME_TRIM_MS, RUNTIME_TRIM_MS);
    uv_unref((uv_handle_t *)&rt->trim_timer); /* never what keeps a draining daemon up */
    rt->started = true;
    return 0;
}

void runtime_stop(runtime_t *rt)
{
    if (!rt->stopping)
        begin_stop(rt, "requested", false);
}

int runtime_run(runtime_t *rt)
{
    uv_run(rt->loop, UV_RUN_DEFAULT);
    /* Drained: a late signal must not turn this clean exit into a kill.
     * (Closing libuv's signal handles restores the default action, so the
     * mask is set first and the handlers are replaced after.) */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigprocmask(SIG_BLOCK, &set, NULL);
    if (rt->started) {
        uv_close((uv_handle_t *)&rt->sig_term, NULL);
        uv_close((uv_handle_t *)&rt->sig_int, NULL);
        uv_close((uv_handle_t *)&rt->sig_hup, NULL);
        uv_close((uv_handle_t *)&rt->drain_timer, NULL);
        uv_close((uv_handle_t *)&rt->trim_timer, NULL);
        uv_run(rt->loop, UV_RUN_DEFAULT);
        rt->started = false;
    }
    signal(SIGTERM, SIG_IGN);
    signal(SIGINT, SIG_IGN);
    sigprocmask(SIG_UNBLOCK, &set, NULL);
    log_info("stopped");
    return 0;
}

int runtime_mkdirs(const char *path)
{
    char tmp[4096];
    if (str_copy(tmp, sizeof tmp, path))
        return -ENAMETOOLONG;
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, 0755) && errno != EEXIST) {
            int e = -errno;
            log_error("mkdir_failed", LF_S("path", tmp), LF_ERR(e));
            return e;
        }
        *p = '/';
    }
    if (mkdir(tmp, 0700) && errno != EEXIST) {
        int e = -errno;
        log_error("mkdir_failed", LF_S("path", tmp), LF_ERR(e));
        return e;
    }
    return 0;
}

int runtime_api_token(const char *data_dir, const char *configured, const char *daemon, char *out,
                      size_t outlen)
{
    if (configured && *configured)
        return str_copy(out, outlen, configured) ? -ENAMETOOLONG : 0;
    if (outlen < 65)
        return -EINVAL;
    char path[4096];
    snprintf(path, sizeof path, "%s/api-token", data_dir);
    FILE *f = fopen(path, "r");
    if (f) {
        char line[256] = "";
        bool ok = fgets(line, sizeof line, f) != NULL;
        fclose(f);
        char *t = str_trim(line);
        if (ok && *t)
            return str_copy(out, outlen, t) ? -ENAMETOOLONG : 0;
    }
    int rc = runtime_mkdirs(data_dir);
    if (rc)
        return rc;
    rc = str_random_hex(out, 32);
    if (rc)
        return rc;
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        rc = -errno;
        log_error("api_token_write_failed", LF_S("path", path), LF_ERR(rc));
        return rc;
    }
    dprintf(fd, "%s\n", out);
    close(fd);
    log_warn("api_token_generated", LF_S("daemon", daemon), LF_S("file", path), LF_S("token", out));
    return 0;
}

static void close_free_cb(uv_handle_t *h)
{
    free(h);
}

void runtime_close_free(uv_handle_t *h)
{
    uv_close(h, close_free_cb);
}
