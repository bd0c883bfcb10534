/*
 * cwmp_proxy: options, start-up, SIGHUP reload and shutdown of
 * `outpost cwmp-proxy`. The work happens in forward.c/upstream.c (CPE
 * traffic), wakeup.c (connection requests), health.c and admin.c.
 */
#include "cwmp_proxy/cwmp_proxy.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/log.h"
#include "core/str.h"
#include "cwmp_proxy/admin.h"
#include "cwmp_proxy/forward.h"
#include "net/http_admin.h"
#include "cwmp_proxy/health.h"
#include "cwmp_proxy/proxy.h"
#include "cwmp_proxy/wakeup.h"
#include "net/addr.h"
#include "net/egress.h"
#include "net/http_router.h"

#define S cwmp_proxy_opts_t
static const cfg_opt_t opts_table[] = {
    CFG_COMMON_LISTEN(S, "0.0.0.0:7548", "listener for CPEs (CWMP) and the ACS's wake-ups"),
    CFG_COMMON_ADMIN(S, "127.0.0.1:7549"),
    CFG_COMMON_MAX_CONNECTIONS(S, "live connections on --listen; at the cap it stops accepting"
                                  " until one closes (0: from the descriptor limit, two per CPE:"
                                  " its own and the one to the ACS)"),
    CFG_COMMON_MAX_PER_ADDR(S, "live connections on --listen per client address (IPv6: per /64);"
                               " one more is answered 503 and closed (0: no cap: CPEs behind one"
                               " NAT share theirs, and ACS nodes' wake-ups count too)"),
    CFG_COMMON_TLS(S, "to serve TLS to CPEs"),
    CFG_COMMON_DATA_DIR(S, "cwmp-proxy"),
    CFG_COMMON_API_TOKEN(S),
    CFG_OPT("backend", CFG_LIST, S, backends, NULL, "URL",
            "ACS node, repeatable: 'http://10.0.0.1:7547/' or 'url=URL weight=N name=NAME "
            "reuse=auto|on|off' (reuse: keep connections to it open across CWMP sessions; auto: "
            "once it answers as an Outpost ACS)"),
    CFG_OPT("public-url", CFG_STR, S, public_url, NULL, "URL",
            "how the ACS reaches this proxy; rewritten URLs are <public-url>/client?origin=..."),
    CFG_OPT("cookie-name", CFG_STR, S, cookie_name, "OPLB", "NAME", "the proxy's stickiness cookie"),
    CFG_OPT("proxy-cookie", CFG_BOOL, S, proxy_cookie, "true", NULL,
            "hand CPEs the proxy's cookie (false: follow the ACS's session cookie only)"),
    CFG_OPT("session-ttl", CFG_DURATION, S, session_ttl_ms, "5m", "DUR",
            "how long an idle session stays sticky for a reconnecting CPE", .min = 1000, .max = 86400000),
    CFG_OPT("max-sessions", CFG_INT, S, max_sessions, "200000", "N", "sessions remembered for stickiness",
            .min = 1, .max = 100000000),
    CFG_OPT("health-interval", CFG_DURATION, S, health_interval_ms, "2s", "DUR", "active check period",
            .min = 50, .max = 3600000),
    CFG_OPT("health-timeout", CFG_DURATION, S, health_timeout_ms, "1s", "DUR", "active check deadline",
            .min = 10, .max = 60000),
    CFG_OPT("health-rise", CFG_INT, S, health_rise, "2", "N", "passed checks that bring a node back",
            .min = 1, .max = 100),
    CFG_OPT("health-fall", CFG_INT, S, health_fall, "3", "N", "failed checks that take a node down",
            .min = 1, .max = 100),
    CFG_OPT("health-path", CFG_STR, S, health_path, "", "PATH",
            "HTTP path to GET for checks (status < 500 is healthy); empty: TCP connect"),
    CFG_OPT("passive-fall", CFG_INT, S, passive_fall, "1", "N",
            "failed connects in a row that take a node down at once (0: off)", .min = 0, .max = 100),
    CFG_OPT("retry-after", CFG_DURATION, S, retry_after_ms, "10s", "DUR",
            "Retry-After sent with 503 when no node is up", .min = 1000, .max = 3600000),
    CFG_OPT("backend-connect-timeout", CFG_DURATION, S, backend_connect_timeout_ms, "3s", "DUR",
            "connect (+TLS) deadline towards a node", .min = 10, .max = 60000),
    CFG_OPT("backend-timeout", CFG_DURATION, S, backend_timeout_ms, "60s", "DUR",
            "longest silence from a node during an exchange", .min = 100, .max = 3600000),
    CFG_OPT("backend-idle-timeout", CFG_DURATION, S, backend_idle_ms, "10s", "DUR",
            "how long a reusable connection to a node waits for the next session (keep it under "
            "the node's own keep-alive timeout)", .min = 100, .max = 3600000),
    CFG_OPT("backend-idle-max", CFG_INT, S, backend_idle_max, "256", "N",
            "idle reusable connections kept per node (0: none)", .min = 0, .max = 100000),
    CFG_OPT("backend-ca", CFG_STR, S, backend_ca, NULL, "FILE",
            "CA (PEM) for https:// nodes (default: the system store)"),
    CFG_OPT("backend-tls-verify", CFG_BOOL, S, backend_tls_verify, "true", NULL,
            "verify https:// nodes' certificates and names"),
    CFG_OPT("max-body", CFG_SIZE, S, max_body, "64MiB", "SIZE", "largest CPE request body (decoded)",
            .min = 1024, .max = 4294967296.0),
    CFG_OPT("rewrite-window", CFG_SIZE, S, rewrite_window, "1MiB", "SIZE",
            "bodies up to this size are rewritten whole and sent with Content-Length; larger ones "
            "are streamed chunked", .min = 1024, .max = 1073741824.0),
    CFG_OPT("backend-encoding", CFG_STR, S, backend_encoding, "identity", "identity|same",
            "a rewritten gzip/deflate body goes to the node decoded, or encoded again"),
    CFG_OPT("trust-forwarded", CFG_BOOL, S, trust_forwarded, "false", NULL,
            "every connection comes through a front proxy of yours: keep its X-Forwarded-For/"
            "Forwarded and append to them, and lock wake-up guessers out by the address it names "
            "(default: replace them; never turn on where CPEs can connect directly)"),
    CFG_OPT("idle-timeout", CFG_DURATION, S, idle_timeout_ms, "60s", "DUR",
            "keep-alive wait for a CPE's next request", .min = 100, .max = 3600000),
    /* -username like the ACS's options; the shorter spellings stay as aliases */
    CFG_OPT("acs-username", CFG_STR, S, acs_user, NULL, "NAME",
            "user the ACS must present for wake-ups (Digest or Basic)"),
    CFG_OPT("acs-user", CFG_STR, S, acs_user, NULL, "NAME", "alias of --acs-username", .flags = CFG_HIDDEN),
    CFG_OPT("acs-password", CFG_STR, S, acs_password, NULL, "SECRET", "its password", .flags = CFG_SECRET),
    CFG_OPT("cpe-username", CFG_STR, S, cpe_user, NULL, "NAME", "connection-request user for every CPE"),
    CFG_OPT("cpe-user", CFG_STR, S, cpe_user, NULL, "NAME", "alias of --cpe-username", .flags = CFG_HIDDEN),
    CFG_OPT("cpe-password", CFG_STR, S, cpe_password, NULL, "SECRET", "its password", .flags = CFG_SECRET),
    CFG_OPT("cpe-credential", CFG_LIST, S, cpe_credentials, NULL, "'device=ID user=U password=P'",
            "connection-request credentials of one device", .flags = CFG_SECRET),
    CFG_OPT("cpe-auth", CFG_STR, S, cpe_auth, "config", "config|acs",
            "without device or global credentials: none (config) or the ACS's (acs: compatibility)"),
    CFG_OPT("cpe-allow-basic", CFG_BOOL, S, cpe_allow_basic, "false", NULL,
            "answer a CPE's Basic challenge too (Digest only by default)"),
    CFG_OPT("wakeup-connect-timeout", CFG_DURATION, S, wakeup_connect_timeout_ms, "2s", "DUR",
            "connect deadline towards a CPE", .min = 10, .max = 60000),
    CFG_OPT("wakeup-timeout", CFG_DURATION, S, wakeup_timeout_ms, "5s", "DUR",
            "whole wake-up deadline", .min = 10, .max = 120000),
    CFG_OPT("wakeup-deny", CFG_LIST, S, wakeup_deny, NET_EGRESS_DENY_DEFAULT,
            "CIDR", "addresses a wake-up never connects to, whatever ConnectionRequestURL a CPE "
            "reported (403); giving the flag replaces the list",
            .check = net_cidr_check),
    CFG_OPT("max-wakeups", CFG_INT, S, max_wakeups, "256", "N", "wake-ups in flight (503 beyond)",
            .min = 1, .max = 100000),
    CFG_OPT("acs-auth-max-failures", CFG_INT, S, acs_auth_max_failures, "10", "N",
            "wrong wake-up passwords in a row that lock an address (IPv6: its /64) out (0: never)",
            .min = 0, .max = 1000000),
    CFG_OPT("acs-auth-lockout", CFG_DURATION, S, acs_auth_lockout_ms, "1m", "DUR",
            "how long such an address gets 429 without its credentials being checked",
            .min = 100, .max = 86400000),
    CFG_OPT("origin-ttl", CFG_DURATION, S, origin_ttl_ms, "30d", "DUR",
            "forget origins no CPE reported for this long (0: never)", .min = 0, .max = 3.2e10),
    CFG_OPT("max-origins", CFG_INT, S, max_origins, "2000000", "N", "origins remembered",
            .min = 1, .max = 100000000),
    CFG_OPT("origin-store", CFG_STR, S, origin_store, NULL, "URL",
            "where the origins live: a postgres:// URL (PostgreSQL) that several proxies share, so"
            " any of them relays a wake-up for a CPE that informed through another"
            " (default DATA_DIR/cwmp-proxy-origins.db, this proxy's own)"),
    CFG_OPT("origin-refresh", CFG_DURATION, S, origin_refresh_ms, "1s", "DUR",
            "with a shared --origin-store: how often the origins other proxies recorded are read",
            .min = 50, .max = 3600000),
    CFG_END,
};
#undef S

static const cfg_cmd_t cmd = {
    "cwmp-proxy",
    "CWMP edge proxy: sticky balancing over ACS nodes, ConnectionRequestURL rewriting, wake-up relay",
    NULL, opts_table,
};

/* ---- option checks ------------------------------------------------------------ */

int proxy_parse_backend(const char *item, backend_item_t *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    char url[1024] = "", name[128] = "", w[16] = "1", reuse[8] = "auto";
    if (strstr(item, "url=")) {
        char key[16], val[1024];
        size_t pos = 0;
        int rc;
        while ((rc = cfg_kv_next(item, &pos, key, sizeof key, val, sizeof val)) == 1) {
            if (strcmp(key, "url") == 0)
                str_copy(url, sizeof url, val);
            else if (strcmp(key, "weight") == 0)
                str_copy(w, sizeof w, val);
            else if (strcmp(key, "name") == 0)
                str_copy(name, sizeof name, val);
            else if (strcmp(key, "reuse") == 0)
                str_copy(reuse, sizeof reuse, val);
            else {
                snprintf(err, errlen, "unknown key '%s' (url, weight, name, reuse)", key);
                return -EINVAL;
            }
        }
        if (rc < 0) {
            snprintf(err, errlen, "expected 'url=URL weight=N name=NAME'");
            return -EINVAL;
        }
    } else {
        str_copy(url, sizeof url, item);
    }
    net_url_t u;
    int64_t weight;
    char shown[NET_URL_SHOWN]; /* what an error may echo: the URL without its password */
    net_url_redacted(url, shown, sizeof shown);
    if (net_url_parse(url, &u) != 0 || (strcmp(u.scheme, "http") != 0 && strcmp(u.scheme, "https") != 0)) {
        snprintf(err, errlen, "'%s' is not an http(s) URL", shown);
        return -EINVAL;
    }
    if (strcmp(u.path, "/") != 0 || u.user[0] || u.pass[0]) {
        net_url_clear(&u); /* past here u holds no password */
        snprintf(err, errlen, "'%s': a node is scheme://host:port/ (requests keep their own path)", shown);
        return -EINVAL;
    }
    if (str_to_i64(w, 1, 100, &weight) != 0) {
        snprintf(err, errlen, "weight '%s' is not 1..100", w);
        return -EINVAL;
    }
    static const struct { const char *name; backend_reuse_t v; } reuses[] = {
        { "auto", BACKEND_REUSE_AUTO }, { "on", BACKEND_REUSE_ON }, { "off", BACKEND_REUSE_OFF },
    };
    size_t ri = 0;
    while (ri < sizeof reuses / sizeof reuses[0] && strcmp(reuses[ri].name, reuse) != 0)
        ri++;
    if (ri == sizeof reuses / sizeof reuses[0]) {
        snprintf(err, errlen, "reuse '%s' is auto, on or off", reuse);
        return -EINVAL;
    }
    str_copy(out->url, sizeof out->url, url);
    str_copy(out->name, sizeof out->name, name);
    str_copy(out->host, sizeof out->host, u.host);
    out->spec = (backend_spec_t){ .url = out->url, .name = out->name[0] ? out->name : NULL,
                                  .host = out->host, .port = u.port, .tls = u.tls,
                                  .weight = (unsigned)weight, .reuse = reuses[ri].v };
    return 0;
}

static int parse_backends(const cwmp_proxy_opts_t *o, backend_item_t **items)
{
    if (o->backends.n == 0) {
        fprintf(stderr, "outpost cwmp-proxy: at least one --backend is required\n");
        return -EINVAL;
    }
    *items = calloc(o->backends.n, sizeof **items);
    if (!*items)
        return -ENOMEM;
    for (size_t i = 0; i < o->backends.n; i++) {
        char err[256];
        if (proxy_parse_backend(o->backends.v[i], &(*items)[i], err, sizeof err)) {
            fprintf(stderr, "outpost cwmp-proxy: --backend: %s\n", err);
            log_error("cwmp_proxy_config", LF_S("option", "backend"), LF_S("reason", err));
            free(*items);
            *items = NULL;
            return -EINVAL;
        }
    }
    return (int)o->backends.n;
}

static int apply_backends(proxy_t *px, const cwmp_proxy_opts_t *o, size_t *added, size_t *retired)
{
    backend_item_t *items;
    int n = parse_backends(o, &items);
    if (n < 0)
        return n;
    backend_spec_t *specs = calloc((size_t)n, sizeof *specs);
    int rc = specs ? 0 : -ENOMEM;
    for (int i = 0; i < n && specs; i++)
        specs[i] = items[i].spec;
    if (!rc)
        rc = balancer_apply(&px->bal, specs, (size_t)n, added, retired);
    free(specs);
    free(items);
    return rc;
}

static int check_options(proxy_t *px)
{
    cwmp_proxy_opts_t *o = &px->o;
    net_url_t u;
    const char *why = NULL;
    if (!o->public_url)
        why = "--public-url is required (how the ACS reaches this proxy)";
    else if (net_url_parse(o->public_url, &u) != 0 ||
             (strcmp(u.scheme, "http") != 0 && strcmp(u.scheme, "https") != 0))
        why = "--public-url must be an http(s) URL";
    else if (strchr(u.path, '?') || strchr(o->public_url, '#') || u.user[0] || u.pass[0])
        why = "--public-url takes no query, fragment or credentials";
    else if (str_copy(px->public_url, sizeof px->public_url, o->public_url))
        why = "--public-url is too long";
    else if (strcmp(o->backend_encoding, "identity") != 0 && strcmp(o->backend_encoding, "same") != 0)
        why = "--backend-encoding is identity or same";
    else if (strcmp(o->cpe_auth, "config") != 0 && strcmp(o->cpe_auth, "acs") != 0)
        why = "--cpe-auth is config or acs";
    else if (!o->cookie_name[0] || strpbrk(o->cookie_name, " \t;,=\"\\()<>@:/[]?{}"))
        why = "--cookie-name must be a cookie token";
    net_url_clear(&u);
    if (why) {
        fprintf(stderr, "outpost cwmp-proxy: %s\n", why);
        return -EINVAL;
    }
    size_t n = strlen(px->public_url);
    while (n && px->public_url[n - 1] == '/')
        px->public_url[--n] = '\0';
    px->reencode = strcmp(o->backend_encoding, "same") == 0;
    return 0;
}

/* ---- runtime ----------------------------------------------------------------- */

static void on_backend_change(balancer_t *b, backend_t *be, const char *what, void *ud)
{
    proxy_t *px = ud;
    health_backend_event(px->health, be, what);
    if (strcmp(what, "retired") == 0)
        up_idle_drain(be);
    if (strcmp(what, "added") == 0 || strcmp(what, "retired") == 0)
        log_info("backend_configured", LF_S("backend", be->name), LF_S("url", be->url),
                 LF_S("change", what), LF_U("weight", be->weight));
}

static void housekeeping(uv_timer_t *t)
{
    proxy_t *px = t->data;
    sessions_expire(&px->sess, clock_mono_ms());
    static int64_t last_origin_sweep;
    int64_t now = clock_mono_ms();
    if (px->o.origin_ttl_ms > 0 && now - last_origin_sweep > 3600 * 1000) {
        last_origin_sweep = now;
        int64_t before = clock_real_s() - px->o.origin_ttl_ms / 1000;
        size_t gone = origins_expire(&px->origins, before);
        if (px->origins_sync)
            origins_sync_expire(px->origins_sync, before);
        if (gone)
            log_info("origins_expired", LF_U("count", gone));
    }
}

/* Write-behind of new origins: one transaction per 100 ms (or 500 rows),
 * so a bootstrap storm costs a few commits a second, not one per Inform. */
static void flush_origins(uv_check_t *c)
{
    proxy_t *px = c->data;
    if (!origins_pending(&px->origins)) {
        px->pend_since_ms = 0;
        return;
    }
    int64_t now = clock_mono_ms();
    if (!px->pend_since_ms)
        px->pend_since_ms = now;
    if (px->origins.npend >= 500 || now - px->pend_since_ms >= 100) {
        if (px->origins_sync)
            origins_sync_flush(px->origins_sync); /* on the thread pool */
        else
            origins_flush(&px->origins);
        px->pend_since_ms = 0;
    }
}

static void on_reload(void *ud)
{
    proxy_t *px = ud;
    cwmp_proxy_opts_t fresh;
    memset(&fresh, 0, sizeof fresh);
    cfg_result_t res;
    int rc = cfg_load(&cmd, &fresh, px->argc, px->argv, &res);
    size_t added = 0, retired = 0;
    if (rc == 0)
        rc = apply_backends(px, &fresh, &added, &retired);
    if (rc) {
        log_error("reload_failed", LF_S("reason", "configuration invalid; keeping the old backends"));
    } else {
        log_info("reload", LF_U("backends", balancer_count_live(&px->bal)), LF_U("added", added),
                 LF_U("retired", retired));
    }
    cfg_free(&cmd, &fresh);
    if (px->tls_server)
        tls_ctx_reload(px->tls_server);
}

static void on_stop(void *ud)
{
    proxy_t *px = ud;
    if (px->stopping)
        return;
    px->stopping = true;
    log_info("cwmp_proxy_stopping", LF_U("in_flight", px->in_flight),
             LF_U("wakeups", wakeup_in_flight(px->wakeup)));
    if (px->srv)
        http_server_close(px->srv, NULL, NULL);
    http_admin_close(px->admin);
    px->admin = NULL;
    px->srv = NULL;
    health_stop(px->health);
    px->health = NULL;
    for (size_t i = 0; i < px->bal.n; i++)
        up_idle_drain(px->bal.v[i]);
    if (px->timers_on) {
        uv_close((uv_handle_t *)&px->housekeeping, NULL);
        uv_close((uv_handle_t *)&px->flush_check, NULL);
    }
    origins_sync_close(px->origins_sync);
    px->origins_sync = NULL;
}

static int start(proxy_t *px)
{
    cwmp_proxy_opts_t *o = &px->o;
    int rc = check_options(px);
    if (rc)
        return rc;
    balancer_opts_t bo = { .rise = (unsigned)o->health_rise, .fall = (unsigned)o->health_fall,
                           .passive_fall = (unsigned)o->passive_fall };
    balancer_init(&px->bal, &bo);
    px->bal.on_change = on_backend_change;
    px->bal.ud = px;
    if ((rc = apply_backends(px, o, NULL, NULL)))
        return rc;
    if ((rc = runtime_mkdirs(o->common.data_dir)) ||
        (rc = runtime_api_token(o->common.data_dir, o->common.api_token, "cwmp-proxy", px->api_token,
                                sizeof px->api_token)))
        return rc;
    if (o->common.tls_cert) {
        tls_opts_t to = { .server = true, .cert_file = o->common.tls_cert, .key_file = o->common.tls_key,
                          .ca_file = o->common.tls_ca,
                          .verify = o->common.tls_ca ? TLS_VERIFY_REQUIRED : TLS_VERIFY_NONE };
        if (!(px->tls_server = tls_ctx_new(&to)))
            return -EINVAL;
    }
    tls_opts_t bt = { .ca_file = o->backend_ca,
                      .verify = o->backend_tls_verify ? TLS_VERIFY_REQUIRED : TLS_VERIFY_NONE };
    if (!(px->tls_backend = tls_ctx_new(&bt)))
        return -EINVAL;
    if ((rc = sessions_init(&px->sess, (size_t)o->max_sessions, o->session_ttl_ms)))
        return rc;
    char path[4200];
    snprintf(path, sizeof path, "%s/cwmp-proxy-origins.db", o->common.data_dir);
    /* the first load waits on a shared store too: nothing is served yet */
    if ((rc = origins_open(&px->origins, o->origin_store ? o->origin_store : path,
                           (size_t)o->max_origins)))
        return rc;
    if (px->origins.store && origin_store_shared(px->origins.store) &&
        (rc = origins_sync_start(px->loop, &px->origins, o->origin_refresh_ms, &px->origins_sync)))
        return rc;
    buf_init(&px->scratch_head, 64 * 1024);
    buf_init(&px->scratch_cookie, 16 * 1024);
    crurl_opts_t ro = { .public_url = px->public_url, .max_value = FWD_ORIGIN_MAX,
                        .on_origin = fwd_origin_cb, .ud = px };
    if (!(px->rw = crurl_new(&ro)) || !(px->wakeup = wakeup_new(px)) || !(px->health = health_new(px)))
        return -ENOMEM;
    http_server_opts_t so = {
        .max_body_bytes = 64 * 1024, /* wake-ups only: CWMP bodies are streamed */
        .idle_timeout_ms = o->idle_timeout_ms,
        .server_name = "outpost-cwmp-proxy",
        .on_head = fwd_on_head,
        .handler = fwd_handler,
        .ud = px,
    };
    if (!(px->srv = http_server_new(px->loop, &so)))
        return -ENOMEM;
    /* each CPE connection may hold one to an ACS node; wake-ups connect out */
    int64_t cap = runtime_conn_cap(o->common.max_connections,
                                   RUNTIME_FD_RESERVE + CFG_ADMIN_MAX_CONNECTIONS + (uint64_t)o->max_wakeups + 2,
                                   2, 16);
    net_listen_opts_t lo = { .addr = o->common.listen, .tls = px->tls_server, .max_connections = (size_t)cap,
                             .max_per_addr = (size_t)o->common.max_per_addr };
    if ((rc = http_server_listen(px->srv, &lo)))
        return rc; /* net logged it */
    if ((rc = admin_start(px)))
        return rc;
    uv_timer_init(px->loop, &px->housekeeping);
    px->housekeeping.data = px;
    uv_timer_start(&px->housekeeping, housekeeping, 5000, 5000);
    uv_unref((uv_handle_t *)&px->housekeeping);
    uv_check_init(px->loop, &px->flush_check);
    px->flush_check.data = px;
    uv_check_start(&px->flush_check, flush_origins);
    uv_unref((uv_handle_t *)&px->flush_check);
    px->timers_on = true;
    return 0;
}

int cwmp_proxy_main(int argc, char **argv)
{
    proxy_t *px = calloc(1, sizeof *px);
    if (!px)
        return 1;
    cfg_result_t res;
    int rc = cfg_load(&cmd, &px->o, argc, argv, &res);
    if (rc) {
        free(px);
        return rc > 0 ? 0 : 2;
    }
    px->argc = argc;
    px->argv = argv;
    px->loop = uv_default_loop();
    px->started_ms = clock_mono_ms();
    rc = start(px);
    bool running = false;
    if (rc == 0 && (rc = runtime_init(&px->rt, px->loop, on_stop, on_reload, px, 0)) == 0) {
        runtime_ready("cwmp-proxy", LF_S("listen", http_server_addr(px->srv)),
                      LF_S("admin", px->admin ? http_admin_addr(px->admin) : "off"),
                      LF_U("backends", balancer_count_live(&px->bal)),
                      LF_S("public_url", px->public_url), LF_U("origins", origins_count(&px->origins)));
        running = true;
        rc = runtime_run(&px->rt);
    }
    if (!running) {
        log_error("cwmp_proxy_start_failed", LF_ERR(rc));
        if (!px->stopping && px->loop) {
            on_stop(px);
            uv_run(px->loop, UV_RUN_DEFAULT);
        }
    }
    /* Everything that holds handles is closed: free the rest. */
    wakeup_free(px->wakeup);
    uv_run(px->loop, UV_RUN_DEFAULT); /* curl's handles close */

    crurl_free(px->rw);
    buf_free(&px->scratch_head);
    buf_free(&px->scratch_cookie);
    origins_close(&px->origins);
    sessions_free(&px->sess);
    balancer_free(&px->bal);
    tls_ctx_free(px->tls_server);
    tls_ctx_free(px->tls_backend);
    cfg_free(&cmd, &px->o);
    uv_loop_close(px->loop);
    free(px);
    if (!running)
        return rc == -EINVAL ? 2 : 1;
    return rc;
}
