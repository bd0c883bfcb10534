/*
 * acs_prov_ext: the external calls a provision makes with ext(name, ...)
 * (acs_prov.h). The operator configures each one (--ext, repeatable):
 *
 *   name=NAME command=PATH [timeout=5s] [max_output=64KiB]
 *       PATH runs with argv PATH, then the call's arguments as strings, no
 *       shell, an empty environment but PATH=/usr/local/bin:/usr/bin:/bin,
 *       stdin and stderr on /dev/null. Its stdout, JSON, is the result. It
 *       is killed (SIGKILL) at the timeout or once its output passes
 *       max_output; a non-zero exit is an error.
 *   name=NAME url=http(s)://HOST[:PORT]/PATH [timeout=5s] [max_output=64KiB]
 *       POST {"name": NAME, "args": [...]} (application/json); a 2xx answer's
 *       body, JSON, is the result; anything else is an error.
 *
 * A result is handed to the script as a string: a JSON string's value, any
 * other JSON value as compact JSON text. Everything runs on the loop without
 * blocking it (uv_spawn and its pipe, the net floor's http_client); at most
 * EXT_MAX_IN_FLIGHT calls at once, beyond which a call fails at once (the
 * provision faults, the preset is retried later) rather than queueing
 * behind a slow endpoint. At shutdown every call in flight is killed or
 * cancelled and its caller told.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acs/acs_prov.h"
#include "core/log.h"
#include "core/str.h"
#include "net/addr.h"
#include "net/http_client.h"

enum {
    EXT_MAX_IN_FLIGHT = 64,
    EXT_MAX_ARGS = 32,
    EXT_DEFAULT_OUTPUT = 64 * 1024,
    EXT_MAX_OUTPUT = 16 * 1024 * 1024,
    EXT_DEFAULT_TIMEOUT_MS = 5000,
    EXT_MAX_TIMEOUT_MS = 300000,
};

typedef struct ext_def {
    char name[STORE_NAME];
    char *command;            /* or */
    char *url;
    int64_t timeout_ms;
    size_t max_output;
} ext_def_t;

typedef struct ext_call ext_call_t;

struct acs_ext {
    ext_def_t *defs;
    size_t n;
    http_client_t *http;      /* for url= calls */
    tls_ctx_t *tls;
    ext_call_t *calls;        /* in flight */
    size_t ncalls;
    bool stopping;
};

struct ext_call {
    acs_t *a;
    ext_call_t *prev, *next;
    const ext_def_t *def;
    acs_ext_done_fn done;
    void *ud;
    /* command */
    uv_process_t proc;
    uv_pipe_t out;
    uv_timer_t timer;
    int open;                 /* handles not closed yet */
    bool exited, eof;
    int64_t status;
    int term_signal;
    /* url */
    http_call_t *hc;
    /* both */
    buf_t buf;
    char err[256];            /* set: failed */
};

/* ---- the option ------------------------------------------------------------------------- */

static int parse(const char *item, ext_def_t *d, char *err, size_t errlen)
{
    memset(d, 0, sizeof *d);
    d->timeout_ms = EXT_DEFAULT_TIMEOUT_MS;
    d->max_output = EXT_DEFAULT_OUTPUT;
    char key[32], val[1024], why[128];
    size_t pos = 0;
    int rc;
    const char *command = NULL, *url = NULL;
    char cbuf[1024], ubuf[1024]; /* the values until they are copied below */
    while ((rc = cfg_kv_next(item, &pos, key, sizeof key, val, sizeof val)) == 1) {
        if (strcmp(key, "name") == 0) {
            if (preset_name_check(val, why, sizeof why) != 0) {
                snprintf(err, errlen, "name '%s': %s", val, why);
                return -EINVAL;
            }
            str_copy(d->name, sizeof d->name, val);
        } else if (strcmp(key, "command") == 0) {
            str_copy(cbuf, sizeof cbuf, val);
            command = cbuf;
        } else if (strcmp(key, "url") == 0) {
            str_copy(ubuf, sizeof ubuf, val);
            url = ubuf;
        } else if (strcmp(key, "timeout") == 0) {
            if (cfg_parse_duration_ms(val, &d->timeout_ms) != 0 || d->timeout_ms < 1 ||
                d->timeout_ms > EXT_MAX_TIMEOUT_MS) {
                snprintf(err, errlen, "timeout '%s': a duration from 1ms to 5m", val);
                return -EINVAL;
            }
        } else if (strcmp(key, "max_output") == 0) {
            uint64_t b;
            if (cfg_parse_size(val, &b) != 0 || b < 1 || b > EXT_MAX_OUTPUT) {
                snprintf(err, errlen, "max_output '%s': a size from 1 byte to 16MiB", val);
                return -EINVAL;
            }
            d->max_output = (size_t)b;
        } else {
            snprintf(err, errlen, "unknown key '%s' (name, command or url, timeout, max_output)", key);
            return -EINVAL;
        }
    }
    if (rc < 0 || !d->name[0] || !command == !url) {
        snprintf(err, errlen, "expected 'name=NAME command=PATH' or 'name=NAME url=http://...'"
                              " [timeout=5s] [max_output=64KiB]");
        return -EINVAL;
    }
    if (command && command[0] != '/') {
        snprintf(err, errlen, "command '%s': an absolute path (no shell, no PATH search)", command);
        return -EINVAL;
    }
    net_url_t u;
    bool bad = url && (net_url_parse(url, &u) != 0 ||
                       (strcmp(u.scheme, "http") != 0 && strcmp(u.scheme, "https") != 0));
    net_url_clear(&u); /* its password is not used */
    if (bad) {
        char shown[NET_URL_SHOWN];
        net_url_redacted(url, shown, sizeof shown);
        snprintf(err, errlen, "url '%s': an http or https URL", shown);
        return -EINVAL;
    }
    if ((command && !(d->command = strdup(command))) || (url && !(d->url = strdup(url)))) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    return 0;
}

static void def_clear(ext_def_t *d)
{
    free(d->command);
    free(d->url);
}

int acs_ext_check(const char *item, char *err, size_t errlen)
{
    ext_def_t d;
    int rc = parse(item, &d, err, errlen);
    def_clear(&d);
    return rc;
}

int acs_ext_init(acs_t *a)
{
    struct acs_ext *E = calloc(1, sizeof *E);
    if (!E || !(E->defs = calloc(a->o.ext.n ? a->o.ext.n : 1, sizeof *E->defs))) {
        free(E);
        return -ENOMEM;
    }
    a->ext = E;
    size_t max_out = 0;
    bool urls = false;
    for (size_t i = 0; i < a->o.ext.n; i++) {
        char err[256];
        ext_def_t *d = &E->defs[E->n];
        if (parse(a->o.ext.v[i], d, err, sizeof err) != 0) {
            def_clear(d);
            log_error("acs_config", LF_S("option", "ext"), LF_S("reason", err));
            return -EINVAL;
        }
        for (size_t k = 0; k < E->n; k++)
            if (strcmp(E->defs[k].name, d->name) == 0) {
                log_error("acs_config", LF_S("option", "ext"), LF_S("name", d->name),
                          LF_S("reason", "given twice"));
                def_clear(d);
                return -EINVAL;
            }
        E->n++;
        urls |= d->url != NULL;
        if (d->max_output > max_out)
            max_out = d->max_output;
        char shown[NET_URL_SHOWN];
        net_url_redacted(d->url, shown, sizeof shown);
        log_info("ext_configured", LF_S("name", d->name),
                 LF_S(d->command ? "command" : "url", d->command ? d->command : shown),
                 LF_I("timeout_ms", d->timeout_ms), LF_U("max_output", d->max_output));
    }
    if (urls) {
        tls_opts_t to = { .server = false, .verify = TLS_VERIFY_REQUIRED };
        if (!(E->tls = tls_ctx_new(&to)))
            return -EINVAL;
        http_client_opts_t ho = { .tls = E->tls, .max_response_bytes = max_out,
                                  .request_timeout_ms = EXT_MAX_TIMEOUT_MS };
        if (!(E->http = http_client_new(a->loop, &ho)))
            return -ENOMEM;
    }
    return 0;
}

/* ---- calls ------------------------------------------------------------------------------- */

static void unlink_call(struct acs_ext *E, ext_call_t *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        E->calls = c->next;
    if (c->next)
        c->next->prev = c->prev;
    E->ncalls--;
}

/* The result to the caller, once: JSON output -> its text. */
static void deliver(ext_call_t *c)
{
    struct acs_ext *E = c->a->ext;
    unlink_call(E, c);
    bool ok = !c->err[0];
    char *text = NULL;
    if (ok) {
        json_error_t je;
        json_t *v = json_loadb(c->buf.data ? c->buf.data : "", c->buf.len, JSON_DECODE_ANY, &je);
        if (!v) {
            snprintf(c->err, sizeof c->err, "ext %.64s: the output is not JSON (%.100s)", c->def->name,
                     je.text);
            ok = false;
        } else {
            text = json_is_string(v) ? strdup(json_string_value(v))
                                     : json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
            json_decref(v);
            if (!text) {
                snprintf(c->err, sizeof c->err, "ext %.64s: out of memory", c->def->name);
                ok = false;
            }
        }
    }
    if (!ok)
        log_warn("ext_failed", LF_S("name", c->def->name), LF_S("reason", c->err));
    c->done(c->ud, ok, ok ? text : c->err);
    free(text);
    buf_free(&c->buf);
    free(c);
}

static void fail(ext_call_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(ext_call_t *c, const char *fmt, ...)
{
    if (c->err[0])
        return; /* the first reason stands */
    int n = snprintf(c->err, sizeof c->err, "ext %.64s: ", c->def->name);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err + n, sizeof c->err - (size_t)n, fmt, ap);
    va_end(ap);
}

static void on_closed(uv_handle_t *h)
{
    ext_call_t *c = h->data;
    if (--c->open > 0)
        return;
    if (!c->err[0] && c->term_signal)
        snprintf(c->err, sizeof c->err, "ext %.64s: killed by signal %d", c->def->name, c->term_signal);
    else if (!c->err[0] && c->status != 0)
        snprintf(c->err, sizeof c->err, "ext %.64s: exited with status %lld", c->def->name,
                 (long long)c->status);
    deliver(c);
}

static void maybe_close_timer(ext_call_t *c)
{
    if (c->exited && c->eof && !uv_is_closing((uv_handle_t *)&c->timer)) {
        uv_timer_stop(&c->timer);
        uv_close((uv_handle_t *)&c->timer, on_closed);
    }
}

static void kill_it(ext_call_t *c)
{
    if (!c->exited)
        uv_process_kill(&c->proc, SIGKILL);
}

static void on_exit_cb(uv_process_t *p, int64_t status, int term_signal)
{
    ext_call_t *c = p->data;
    c->exited = true;
    c->status = status;
    c->term_signal = term_signal;
    uv_close((uv_handle_t *)&c->proc, on_closed);
    maybe_close_timer(c);
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
    (void)h;
    static char chunk[16384]; /* the loop thread's: read into, appended at once */
    (void)hint;
    b->base = chunk;
    b->len = sizeof chunk;
}

static void close_out(ext_call_t *c)
{
    if (!c->eof) {
        c->eof = true;
        uv_read_stop((uv_stream_t *)&c->out);
        uv_close((uv_handle_t *)&c->out, on_closed);
    }
    maybe_close_timer(c);
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    ext_call_t *c = s->data;
    if (n > 0 && buf_append(&c->buf, b->base, (size_t)n) != 0) {
        fail(c, "output over %zu bytes", c->def->max_output);
        kill_it(c);
        close_out(c);
    } else if (n < 0) {
        close_out(c);
    }
}

static void on_timeout(uv_timer_t *t)
{
    ext_call_t *c = t->data;
    fail(c, "timed out after %.3gs", (double)c->def->timeout_ms / 1000);
    kill_it(c);
    close_out(c);
}

static int spawn(ext_call_t *c, char *const *args, size_t nargs)
{
    uv_loop_t *loop = c->a->loop;
    char *argv[EXT_MAX_ARGS + 2];
    argv[0] = c->def->command;
    for (size_t i = 0; i < nargs; i++)
        argv[i + 1] = args[i];
    argv[nargs + 1] = NULL;
    static char *env[] = { "PATH=/usr/local/bin:/usr/bin:/bin", NULL };
    uv_pipe_init(loop, &c->out, 0);
    uv_timer_init(loop, &c->timer);
    c->out.data = c->timer.data = c->proc.data = c;
    c->open = 3;
    uv_stdio_container_t io[3] = {
        { .flags = UV_IGNORE },
        { .flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE, .data.stream = (uv_stream_t *)&c->out },
        { .flags = UV_IGNORE },
    };
    uv_process_options_t po = { .exit_cb = on_exit_cb, .file = c->def->command, .args = argv,
                                .env = env, .stdio_count = 3, .stdio = io };
    int rc = uv_spawn(loop, &c->proc, &po);
    if (rc != 0) {
        fail(c, "cannot run it: %s", uv_strerror(rc));
        c->exited = c->eof = true;
        uv_close((uv_handle_t *)&c->proc, on_closed);
        uv_close((uv_handle_t *)&c->out, on_closed);
        uv_close((uv_handle_t *)&c->timer, on_closed);
        return 0; /* told through done, like any failure */
    }
    uv_read_start((uv_stream_t *)&c->out, on_alloc, on_read);
    uv_timer_start(&c->timer, on_timeout, (uint64_t)c->def->timeout_ms, 0);
    return 0;
}

static void on_http(int err, const http_response_t *resp, void *ud)
{
    ext_call_t *c = ud;
    c->hc = NULL;
    if (err) {
        fail(c, "%s", err == -ETIMEDOUT ? "timed out" : err == -ENOBUFS ? "answer too large"
                                                                          : log_strerror(err));
    } else if (resp->status < 200 || resp->status > 299) {
        fail(c, "HTTP status %d", resp->status);
    } else if (resp->body_len > c->def->max_output) {
        fail(c, "answer over %zu bytes", c->def->max_output);
    } else if (buf_append(&c->buf, resp->body, resp->body_len) != 0) {
        fail(c, "%s", "out of memory");
    }
    deliver(c);
}

static int post(ext_call_t *c, char *const *args, size_t nargs)
{
    struct acs_ext *E = c->a->ext;
    json_t *a = json_array();
    for (size_t i = 0; i < nargs; i++)
        json_array_append_new(a, acs_json_text(args[i]));
    json_t *body = json_pack("{s:s, s:o}", "name", c->def->name, "args", a);
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    if (!text)
        return -ENOMEM;
    http_request_spec_t spec = { .method = "POST", .url = c->def->url,
                                 .headers = "Content-Type: application/json\r\n", .body = text,
                                 .body_len = strlen(text), .timeout_ms = c->def->timeout_ms };
    int err = 0;
    c->hc = http_client_request(E->http, &spec, on_http, c, &err);
    free(text);
    if (!c->hc)
        return err ? err : -EINVAL;
    return 0;
}

int acs_ext_call(acs_t *a, const char *name, char *const *args, size_t nargs, acs_ext_done_fn done,
                 void *ud)
{
    struct acs_ext *E = a->ext;
    const ext_def_t *d = NULL;
    for (size_t i = 0; E && i < E->n && !d; i++)
        if (strcmp(E->defs[i].name, name) == 0)
            d = &E->defs[i];
    if (!d)
        return -ENOENT;
    if (E->stopping || E->ncalls >= EXT_MAX_IN_FLIGHT || nargs > EXT_MAX_ARGS)
        return -EAGAIN;
    ext_call_t *c = calloc(1, sizeof *c);
    if (!c)
        return -ENOMEM;
    c->a = a;
    c->def = d;
    c->done = done;
    c->ud = ud;
    c->buf = BUF_INIT(d->max_output);
    c->next = E->calls;
    if (E->calls)
        E->calls->prev = c;
    E->calls = c;
    E->ncalls++;
    int rc = d->command ? spawn(c, args, nargs) : post(c, args, nargs);
    if (rc != 0) {
        unlink_call(E, c);
        buf_free(&c->buf);
        free(c);
    }
    return rc;
}

/* ---- shutdown ----------------------------------------------------------------------------- */

void acs_ext_stop(acs_t *a)
{
    struct acs_ext *E = a->ext;
    if (!E)
        return;
    E->stopping = true;
    /* processes are killed (their handles close, callers told "killed"); HTTP calls are
     * cancelled (no callback) and told here */
    for (ext_call_t *c = E->calls, *nx; c; c = nx) {
        nx = c->next;
        if (c->def->command) {
            fail(c, "%s", "the ACS stops");
            kill_it(c);
            close_out(c);
        } else if (c->hc) {
            http_call_cancel(c->hc);
            c->hc = NULL;
            fail(c, "%s", "the ACS stops");
            deliver(c);
        }
    }
    if (E->http) {
        http_client_free(E->http);
        E->http = NULL;
    }
}

void acs_ext_free(acs_t *a)
{
    struct acs_ext *E = a->ext;
    if (!E)
        return;
    for (size_t i = 0; i < E->n; i++)
        def_clear(&E->defs[i]);
    free(E->defs);
    tls_ctx_free(E->tls);
    free(E);
    a->ext = NULL;
}
