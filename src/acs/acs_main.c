/*
 * acs_main: options, start-up and the orderly shutdown of `outpost acs`.
 * It starts and stops every other piece (acs_internal.h has the map); none
 * of them calls back here.
 */
#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acs/acs.h"
#include "acs/acs_api_prov.h"
#include "acs/acs_files.h"
#include "acs/acs_api_search.h"
#include "acs/acs_bulk.h"
#include "acs/acs_internal.h"
#include "acs/acs_keys.h"
#include "acs/acs_prov.h"
#include "acs/acs_tasks.h"
#include "acs/acs_webhook.h"
#include "acs/acs_work.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/str.h"
#include "net/egress.h"
#include "net/http_admin.h"

static int check_auth_mode(const char *v, char *err, size_t errlen)
{
    if (!strcmp(v, "digest") || !strcmp(v, "basic") || !strcmp(v, "both") || !strcmp(v, "none"))
        return 0;
    snprintf(err, errlen, "one of digest, basic, both, none");
    return -EINVAL;
}

static int check_log_mode(const char *v, char *err, size_t errlen)
{
    if (!strcmp(v, "errors") || !strcmp(v, "all") || !strcmp(v, "none"))
        return 0;
    snprintf(err, errlen, "one of errors, all, none");
    return -EINVAL;
}

/* --cwmp-url: a plain http(s) URL without path, query or user part (the
 * file store's URLs are made from it). */
static int check_cwmp_url(const char *v, char *err, size_t errlen)
{
    const char *host = strncmp(v, "http://", 7) == 0    ? v + 7
                       : strncmp(v, "https://", 8) == 0 ? v + 8
                                                        : NULL;
    size_t n = host ? strlen(host) : 0;
    while (n && host[n - 1] == '/')
        n--;
    if (!host || !n || strcspn(host, "/?#@ \t") < n || strlen(v) > 200) {
        snprintf(err, errlen, "an http(s)://HOST[:PORT] URL (no path), at most 200 characters");
        return -EINVAL;
    }
    return 0;
}

static int check_cr_udp(const char *v, char *err, size_t errlen)
{
    if (strcmp(v, "auto") && strcmp(v, "prefer") && strcmp(v, "off")) {
        snprintf(err, errlen, "one of auto, prefer, off");
        return -EINVAL;
    }
    return 0;
}

static const cfg_opt_t acs_opts[] = {
    CFG_OPT("cwmp-listen", CFG_STR, acs_opts_t, cwmp_listen, "0.0.0.0:7547", "HOST:PORT",
            "CWMP endpoint (paths / and /cwmp)", .check = cfg_check_hostport),
    CFG_OPT("api-listen", CFG_STR, acs_opts_t, api_listen, "127.0.0.1:8080", "HOST:PORT",
            "REST API and dashboard", .check = cfg_check_hostport),
    CFG_COMMON_ADMIN(acs_opts_t, "127.0.0.1:8081"),
    CFG_COMMON_TLS(acs_opts_t, "for the CWMP endpoint (TLS when set)"),
    CFG_COMMON_DATA_DIR(acs_opts_t, "acs"),
    CFG_OPT("api-token", CFG_STR, acs_opts_t, common.api_token, NULL, "TOKEN",
            "bearer token for the API, an admin key (generated into the data dir and printed"
            " once when absent); keys with roles: outpost acs keys (docs/api-keys.md)",
            .flags = CFG_SECRET),
    CFG_OPT("db", CFG_STR, acs_opts_t, db, NULL, "URL",
            "store: sqlite:PATH, or postgres://... (PostgreSQL, a libpq URL: docs/acs.md)"
            " (default DATA_DIR/acs.db)"),
    CFG_OPT("db-sync-full", CFG_BOOL, acs_opts_t, db_sync_full, "false", NULL,
            "fsync every commit (SQLite synchronous=FULL): survives power loss, not just crashes"
            " (PostgreSQL: the server's synchronous_commit decides)"),
    CFG_OPT("cpe-auth", CFG_STR, acs_opts_t, cpe_auth, "digest", "MODE",
            "CPE authentication: digest, basic, both or none", .check = check_auth_mode),
    CFG_OPT("cpe-username", CFG_STR, acs_opts_t, cpe_username, "cpe", "USER",
            "fleet-wide user name CPEs authenticate with (see --cpe-password)"),
    CFG_OPT("cpe-password", CFG_STR, acs_opts_t, cpe_password, NULL, "PASS",
            "fleet-wide password CPEs authenticate with: it proves no device's identity"
            " (this or --cpe-credentials, unless --cpe-auth none)", .flags = CFG_SECRET),
    CFG_OPT("cpe-credentials", CFG_STR, acs_opts_t, cpe_credentials, NULL, "FILE",
            "per-device CPE credentials: lines of \"USER PASSWORD DEVICE_ID\", the user may"
            " inform as that device only (* for any device; without the column"
            " --cpe-username-template binds it); reloaded on SIGHUP; checked before --cpe-username"),
    CFG_OPT("cpe-username-template", CFG_STR, acs_opts_t, cpe_username_template, NULL, "TMPL",
            "binds --cpe-credentials users without a DEVICE_ID: the user name must be this filled"
            " in from the Inform's DeviceId ({oui}, {product_class}, {serial}, {id}: the device"
            " id), e.g. {oui}-{serial}", .check = acs_template_check),
    CFG_OPT("cpe-auth-max-failures", CFG_INT, acs_opts_t, cpe_auth_max_failures, "10", "N",
            "wrong CPE credentials in a row that lock an address (IPv6: its /64; behind"
            " --trusted-proxy: the forwarded one) out with 429 (0: never)", .min = 0, .max = 1000000),
    CFG_OPT("cpe-auth-lockout", CFG_DURATION, acs_opts_t, cpe_auth_lockout_ms, "1m", "DURATION",
            "the first lock-out; each one in a row lasts twice as long, up to 64 times this",
            .min = 100, .max = 86400000),
    CFG_OPT("cpe-basic-plain", CFG_BOOL, acs_opts_t, cpe_basic_plain, "false", NULL,
            "accept Basic CPE authentication without TLS"),
    /* connection requests (acs_cr.c) */
    CFG_OPT("cr-username", CFG_STR, acs_opts_t, cr_username, NULL, "USER",
            "connection request user name (devices without their own)"),
    CFG_OPT("cr-password", CFG_STR, acs_opts_t, cr_password, NULL, "PASS",
            "connection request password", .flags = CFG_SECRET),
    CFG_OPT("cr-basic", CFG_BOOL, acs_opts_t, cr_basic, "false", NULL,
            "answer a CPE's challenge that offers only Basic with Basic, over https (Digest"
            " otherwise; nothing is sent before a challenge)"),
    CFG_OPT("cr-basic-plain", CFG_BOOL, acs_opts_t, cr_basic_plain, "false", NULL,
            "with --cr-basic: over plain http too (the password in clear)"),
    CFG_OPT("cr-max-in-flight", CFG_INT, acs_opts_t, cr_max_in_flight, "256", "N",
            "connection requests out at once (each holds a socket up to 5 s); more are refused and "
            "recorded on their task", .min = 1, .max = 100000),
    CFG_OPT("cr-deny", CFG_LIST, acs_opts_t, cr_deny, NET_EGRESS_DENY_DEFAULT, "CIDR",
            "addresses a connection request never connects to, whatever ConnectionRequestURL"
            " a CPE reported (resolved names included; a --cr-proxy is exempt); giving the"
            " flag replaces the list", .check = net_cidr_check),
    CFG_OPT("cr-proxy", CFG_LIST, acs_opts_t, cr_proxies, NULL, "URL",
            "an outpost cwmp-proxy's --public-url: its URL/client?origin=... wake-ups get the"
            " proxy credentials (scheme, host and port must match)", .check = acs_cr_check_proxy),
    CFG_OPT("cr-proxy-username", CFG_STR, acs_opts_t, cr_proxy_username, NULL, "USER",
            "credentials for the --cr-proxy wake-up endpoints (needs --cr-proxy)"),
    CFG_OPT("cr-proxy-password", CFG_STR, acs_opts_t, cr_proxy_password, NULL, "PASS",
            "password for the cwmp-proxy", .flags = CFG_SECRET),
    /* XMPP connection requests, TR-069 Annex K (acs_cr_xmpp.c) */
    CFG_OPT("xmpp-jid", CFG_STR, acs_opts_t, xmpp_jid, NULL, "JID",
            "log in to an XMPP server as this JID (user@domain[/resource]) and wake devices that"
            " reported a ConnReqJabberID with a connectionRequest IQ instead of HTTP"),
    CFG_OPT("xmpp-password", CFG_STR, acs_opts_t, xmpp_password, NULL, "PASS",
            "the --xmpp-jid account's password (SASL PLAIN, over TLS only)", .flags = CFG_SECRET),
    CFG_OPT("xmpp-server", CFG_STR, acs_opts_t, xmpp_server, NULL, "HOST:PORT",
            "the XMPP server (default: the JID's domain, port 5222)", .check = cfg_check_hostport),
    CFG_OPT("xmpp-ca-file", CFG_STR, acs_opts_t, xmpp_ca_file, NULL, "FILE",
            "CA certificates (PEM) the XMPP server's certificate must chain to, for the JID's"
            " domain (default: the system store)"),
    CFG_OPT("xmpp-insecure", CFG_BOOL, acs_opts_t, xmpp_insecure, "false", NULL,
            "STARTTLS without verifying the XMPP server's certificate (tests only)"),
    CFG_OPT("xmpp-cr-domain", CFG_LIST, acs_opts_t, xmpp_cr_domains, NULL, "DOMAIN",
            "domains of the JIDs connection requests go to (the device's credentials travel in the"
            " IQ); a JID elsewhere is refused (default: --xmpp-jid's domain)"),
    CFG_OPT("xmpp-timeout", CFG_DURATION, acs_opts_t, xmpp_timeout_ms, "10s", "DURATION",
            "how long a CPE has to answer a connection request IQ", .min = 100, .max = 600000),
    CFG_OPT("session-timeout", CFG_DURATION, acs_opts_t, session_timeout_ms, "30s", "DURATION",
            "a CWMP session idle this long is ended", .min = 1000, .max = 3600000),
    CFG_OPT("default-inform-interval", CFG_DURATION, acs_opts_t, default_interval_ms, "1h", "DURATION",
            "PeriodicInformInterval assumed for `online` when a CPE reports none",
            .min = 1000, .max = 86400000 * 30.0),
    CFG_OPT("fleet-refresh", CFG_DURATION, acs_opts_t, fleet_refresh_ms, "15s", "DURATION",
            "how often the device and task gauges of /metrics are read from the store",
            .min = 100, .max = 3600000),
    CFG_OPT("task-ttl", CFG_DURATION, acs_opts_t, task_ttl_ms, "7d", "DURATION",
            "tasks not done by then expire (0: never)", .min = 0, .max = 86400000.0 * 365),
    CFG_OPT("task-retention", CFG_DURATION, acs_opts_t, task_retention_ms, "30d", "DURATION",
            "finished tasks are deleted this long after they finished (0: never); not a failed "
            "one whose fault is not cleared, nor a bulk's", .min = 0, .max = 86400000.0 * 3650),
    CFG_OPT("node-id", CFG_STR, acs_opts_t, node_id, NULL, "ID",
            "this node's name among several ACS nodes on one PostgreSQL store: a sent task's "
            "owner, shown in /status (default HOSTNAME-PID)"),
    CFG_OPT("task-lease", CFG_DURATION, acs_opts_t, task_lease_ms, "60s", "DURATION",
            "a sent task stays with its node this long unless renewed (every third of it, while "
            "its session lives); then a re-runnable one goes back to the queue",
            .min = 1000, .max = 3600000),
    CFG_OPT("cwmp-max-body", CFG_SIZE, acs_opts_t, cwmp_max_body, "8MiB", "SIZE",
            "largest CWMP message accepted", .min = 4096, .max = 256.0 * 1024 * 1024),
    CFG_OPT("max-sessions", CFG_INT, acs_opts_t, max_sessions, "20000", "N",
            "live CWMP sessions before new ones get 503", .min = 1, .max = 10000000),
    CFG_OPT("param-history", CFG_INT, acs_opts_t, param_history, "5", "N",
            "old values kept per parameter", .min = 1, .max = 1000),
    CFG_OPT("rediscover", CFG_BOOL, acs_opts_t, rediscover, "true", NULL,
            "after a 0 BOOTSTRAP Inform (parameters forgotten), read the device's whole data"
            " model again: a get_params and a get_names (writable flags) task of its root"),
    CFG_OPT("session-log", CFG_STR, acs_opts_t, session_log, "errors", "MODE",
            "keep a session's messages (last 64 KiB) with its row: errors (sessions that"
            " faulted or failed), all, none", .check = check_log_mode),
    CFG_OPT("trusted-proxy", CFG_LIST, acs_opts_t, trusted_proxies, NULL, "CIDR",
            "a proxy or balancer (outpost cwmp-proxy, haproxy) whose X-Forwarded-For names the"
            " CPE's address; its connections may carry several CPEs' requests",
            .check = net_cidr_check),
    /* connection limits (docs/acs.md, "Connection limits") */
    CFG_COMMON_MAX_CONNECTIONS(acs_opts_t,
            "live connections on the CWMP listener; at the cap it stops accepting until one"
            " closes (0: derived from the descriptor limit)"),
    CFG_OPT("api-max-connections", CFG_INT, acs_opts_t, api_max_connections, "0", "N",
            "live connections on the API listener, a budget apart so a CWMP flood cannot lock"
            " operators out (0: derived from the descriptor limit)", .min = 0, .max = 1000000),
    CFG_COMMON_MAX_PER_ADDR(acs_opts_t,
            "live CWMP connections per client address (IPv6: per /64); one more is answered 503"
            " and closed; --trusted-proxy addresses are exempt (0: no cap)"),
    /* provisioning (acs_api_prov.c; docs/acs.md, "Presets") */
    CFG_OPT("presets", CFG_JSON, acs_opts_t, presets, NULL, "JSON",
            "presets (in YAML a list of preset objects, each with its name): stored at start and"
            " on SIGHUP, they replace API presets of the same name, the API cannot change them,"
            " and those no longer listed are deleted", .check = acs_presets_check),
    CFG_OPT("ext", CFG_LIST, acs_opts_t, ext, NULL, "SPEC",
            "an external call provisions make with ext(NAME, ...): 'name=NAME command=/PATH' (run"
            " with the call's arguments, its JSON stdout is the result) or 'name=NAME"
            " url=http(s)://...' (POST {name, args}, the JSON answer is the result); optional"
            " timeout=5s (killed or cancelled then) and max_output=64KiB; repeatable",
            .check = acs_ext_check),
    /* webhooks (acs_webhook.c; docs/webhooks.md) */
    CFG_OPT("webhook", CFG_LIST, acs_opts_t, webhooks, NULL, "SPEC",
            "a receiver of signed JSON events: 'url=http(s)://... secret=SECRET' (or"
            " secret_file=PATH; at least 16 characters) with optional name=NAME, events=a,b (of"
            " device.registered, device.boot, device.offline, task.done, task.failed, fault,"
            " bulk.finished; default all), timeout=10s, ca=FILE, tls_verify=false; repeatable;"
            " read again on SIGHUP", .check = acs_webhook_check),
    CFG_OPT("webhook-max-pending", CFG_INT, acs_opts_t, webhook_max_pending, "100000", "N",
            "webhook deliveries waiting at most; beyond, new events are refused (counted, logged)",
            .min = 1, .max = 100000000),
    CFG_OPT("webhook-retry-for", CFG_DURATION, acs_opts_t, webhook_retry_for_ms, "24h", "DURATION",
            "how long a webhook delivery is retried after its event before it is failed",
            .min = 1000, .max = 86400000.0 * 30),
    CFG_OPT("webhook-backoff", CFG_DURATION, acs_opts_t, webhook_backoff_ms, "10s", "DURATION",
            "wait before the first webhook retry; doubles with each failed attempt (at most 1h)",
            .min = 1000, .max = 3600000),
    CFG_OPT("webhook-concurrency", CFG_INT, acs_opts_t, webhook_concurrency, "8", "N",
            "webhook deliveries sent at once", .min = 1, .max = 1000),
    CFG_OPT("webhook-offline-check", CFG_DURATION, acs_opts_t, webhook_offline_check_ms, "1m",
            "DURATION", "how often devices past their inform window (not `online`) are looked for,"
            " for device.offline webhooks and offline events (/api/events)", .min = 100, .max = 86400000),
    /* the file store (acs_files.c; docs/acs.md, "Files") */
    CFG_OPT("max-file-size", CFG_SIZE, acs_opts_t, max_file_size, "1GiB", "SIZE",
            "largest file the file store takes (a PUT /api/files/NAME, a CPE's upload): a larger"
            " one is refused with 413 while it streams and nothing of it is kept",
            .min = 1, .max = 4294967295.0),
    CFG_OPT("file-cache-size", CFG_SIZE, acs_opts_t, file_cache_size, "4GiB", "SIZE",
            "PostgreSQL store: this node's copies of the files (DATA_DIR/files/.cache) hold at"
            " most this; the least recently used go first, never one being downloaded, and a"
            " larger file is served, then dropped (0: no cap). SQLite: no effect (the files are"
            " the store, never removed)"),
    CFG_OPT("cwmp-url", CFG_STR, acs_opts_t, cwmp_url, NULL, "URL",
            "the CWMP listener's URL as CPEs reach it (http(s)://HOST:PORT), for the URLs of"
            " stored files in download and upload tasks (default: the --cwmp-listen address,"
            " unless it is a wildcard)", .check = check_cwmp_url),
    CFG_OPT("bulk-cr-rate", CFG_INT, acs_opts_t, bulk_cr_rate, "50", "N",
            "bulk tasks (POST /api/tasks) are released and their devices woken by connection"
            " request at most N a second over all bulks (0: no limit)", .min = 0, .max = 100000),
    CFG_OPT("search-param", CFG_LIST, acs_opts_t, search_params, NULL, "NAME",
            "a parameter device searches find by value through an index (filter param.NAME=...):"
            " its values are indexed as CPEs report them (a new one's stored values at start);"
            " others are checked device by device; repeatable", .check = acs_search_param_check),
    CFG_OPT("events-max-clients", CFG_INT, acs_opts_t, events_max_clients, "64", "N",
            "event streams (GET /api/events) open at once; more are refused with 503",
            .min = 0, .max = 100000),
    CFG_OPT("events-client-buffer", CFG_SIZE, acs_opts_t, events_client_buffer, "1MiB", "SIZE",
            "an event stream's bytes not yet taken by its client at most; a client past it is"
            " closed (it does not read)", .min = 1024, .max = 1073741824.0),
    CFG_OPT("events-heartbeat", CFG_DURATION, acs_opts_t, events_heartbeat_ms, "15s", "DURATION",
            "a comment line on every event stream this often (proxies and dead peers notice)",
            .min = 100, .max = 3600000),
    /* UDP connection requests behind NAT (TR-111 Part 2; acs_stun.c, acs_cr_udp.c) */
    CFG_OPT("stun-listen", CFG_STR, acs_opts_t, stun_listen, NULL, "ADDR:PORT",
            "STUN server (TR-111): answers Binding Requests, learns CPE bindings (USERNAME = device id)"
            " and sends UDP connection requests from this socket (off by default)",
            .check = cfg_check_hostport),
    CFG_OPT("stun-password", CFG_STR, acs_opts_t, stun_password, NULL, "PASS",
            "Binding Requests that bind a CPE must carry MESSAGE-INTEGRITY with this key (the CPEs'"
            " STUNPassword); others get 401", .flags = CFG_SECRET),
    CFG_OPT("stun-max-bindings", CFG_INT, acs_opts_t, stun_max_bindings, "1000000", "N",
            "known devices' bindings kept in memory at most (the least recently heard goes first;"
            " a USERNAME the store has not confirmed as a device never evicts one)", .min = 1,
            .max = 100000000),
    CFG_OPT("stun-rate", CFG_INT, acs_opts_t, stun_rate, "200", "N",
            "STUN datagrams per second from one address (IPv6: /64), bursts of 2N; more are dropped"
            " (0: no limit)", .min = 0, .max = 10000000),
    CFG_OPT("cr-udp", CFG_STR, acs_opts_t, cr_udp, "auto", "auto|prefer|off",
            "UDP connection requests (from --stun-listen's socket, or through a --cr-proxy): auto:"
            " devices behind NAT with a UDP address; prefer: every device with one; off: HTTP only",
            .check = check_cr_udp),
    CFG_OPT("cr-udp-timeout", CFG_DURATION, acs_opts_t, cr_udp_timeout_ms, "10s", "DURATION",
            "a UDP connection request whose device has not called by then is a timeout", .min = 4000,
            .max = 600000),
    CFG_OPT("web-dir", CFG_STR, acs_opts_t, web_dir, NULL, "DIR",
            "serve the dashboard (at / on the API listener) from the files in DIR, read on each"
            " request, instead of the copy built into the binary (development; docs/dashboard.md)"),
    CFG_END,
};

static const cfg_cmd_t acs_cmd = {
    .name = "acs",
    .summary = "TR-069 ACS: CWMP endpoint, device store, task queue, REST API, dashboard.\n"
               "API keys with roles: outpost acs keys add|list|revoke (docs/api-keys.md).",
    .opts = acs_opts,
};

const cfg_opt_t *acs_opt_table(void) { return acs_opts; }

static void on_stop(void *ud)
{
    acs_t *a = ud;
    if (a->stopping)
        return;
    a->stopping = true;
    log_info("acs_stopping", LF_U("sessions", a->nsessions));
    if (a->housekeeping.data) {
        uv_timer_stop(&a->housekeeping);
        uv_close((uv_handle_t *)&a->housekeeping, NULL);
    }
    acs_admin_stop(a);
    acs_cluster_stop(a);
    acs_waiters_stop(a);
    acs_files_stop(a);
    acs_bulk_stop(a);
    acs_events_stop(a); /* event streams end, so the API server can drain */
    acs_api_stop(a);
    acs_keys_stop(a);
    acs_cwmp_stop(a);
    acs_prov_stop(a);
    acs_webhook_stop(a);
    acs_stun_stop(a);
    acs_cr_xmpp_stop(a);
    if (a->curl) {
        net_curl_free(a->curl);
        a->curl = NULL;
        acs_cr_stop(a); /* before acs_cr_udp_stop: relays through a cwmp-proxy are HTTP */
    }
    acs_cr_udp_stop(a);
    /* Every queued job (session rows, results) is committed before exit. */
    store_worker_free(a->db);
    a->db = NULL;
}

/* ---- housekeeping ------------------------------------------------------------------ */

/* Minutely; the task expiry sweep has its own timer (acs_waiters.c). */
static void on_housekeeping(uv_timer_t *t)
{
    acs_t *a = t->data;
    uv_timer_start(&a->housekeeping, on_housekeeping, HOUSEKEEPING_MS, 0);
    acs_cpe_auth_sweep(a);
}

/* ---- start-up: recover tasks interrupted by a crash, wake devices with work ----------- */

typedef struct wake {
    acs_t *a;
    char (*ids)[STORE_ID_MAX];
    size_t n;
    store_device_t *devs;
} wake_t;

static int collect_pending(const char *dev, void *ud)
{
    wake_t *w = ud;
    if (w->n >= 1000)
        return 1;
    str_copy(w->ids[w->n++], STORE_ID_MAX, dev);
    return 0;
}

static int recover_run(store_t *s, void *ud)
{
    wake_t *w = ud;
    const char *types[64];
    acs_task_requeue_list(types, sizeof types / sizeof types[0]);
    int n = store_task_recover(s, types, clock_real_s(), true, NULL, NULL);
    if (n > 0)
        log_info("tasks_recovered", LF_I("count", n));
    if (store_task_devices_pending(s, 1000, collect_pending, w) < 0)
        return -EIO;
    w->devs = calloc(w->n ? w->n : 1, sizeof *w->devs);
    if (!w->devs)
        return -ENOMEM;
    size_t k = 0;
    for (size_t i = 0; i < w->n; i++)
        if (store_device_get(s, w->ids[i], &w->devs[k]) == 0 &&
            (w->devs[k].cr_url[0] || w->devs[k].cr_udp[0])) /* HTTP, or UDP behind NAT */
            k++;
    w->n = k;
    return 0;
}

static void recover_done(int rc, void *ud)
{
    wake_t *w = ud;
    for (size_t i = 0; rc == 0 && i < w->n && !w->a->stopping; i++)
        acs_cr_send(w->a, &w->devs[i], NULL, NULL);
    free(w->devs);
    free(w->ids);
    free(w);
}

static void on_reload(void *ud)
{
    acs_t *a = ud;
    acs_creds_t *c;
    if (a->o.cpe_credentials &&
        acs_creds_load(a->o.cpe_credentials, a->o.cpe_username_template != NULL, &c) == 0) {
        acs_creds_free(a->creds);
        a->creds = c;
    }
    if (a->tls)
        (void)tls_ctx_reload(a->tls);
    acs_keys_reload(a);
    /* the config file's presets and webhooks: read it again (flags still win) */
    acs_opts_t *o = calloc(1, sizeof *o);
    cfg_result_t res;
    if (o && cfg_load(&acs_cmd, o, a->argc, a->argv, &res) == 0) {
        (void)acs_presets_sync(a, o->presets);
        acs_webhook_reload(a, &o->webhooks);
    } else {
        log_warn("presets_reload_failed", LF_S("reason", "the configuration has an error (above);"
                                                         " the presets and webhooks stay as they were"));
    }
    if (o)
        cfg_free(&acs_cmd, o);
    free(o);
}

/* The listeners' caps not given on the command line, from the descriptor
 * limit L (docs/acs.md, "Connection limits"): the API gets L/16 within [64, 1024]; the
 * CWMP listener what is left after the daemon's own descriptors
 * (RUNTIME_FD_RESERVE), the API, the admin listener, connection requests
 * (libcurl, L/8 within [16, 4096]), webhook deliveries (--webhook-concurrency,
 * without --webhook too: a SIGHUP may add hooks) and one parked socket per
 * listener. */
static void acs_limits(acs_t *a)
{
    int64_t lim = (int64_t)runtime_fd_limit();
    int64_t api = lim / 16 < 64 ? 64 : lim / 16 > 1024 ? 1024 : lim / 16;
    int64_t cr = lim / 8 < 16 ? 16 : lim / 8 > 4096 ? 4096 : lim / 8;
    if (!a->o.api_max_connections)
        a->o.api_max_connections = api;
    a->o.common.max_connections = runtime_conn_cap(
        a->o.common.max_connections,
        RUNTIME_FD_RESERVE + (uint64_t)a->o.api_max_connections + CFG_ADMIN_MAX_CONNECTIONS + cr +
            (uint64_t)a->o.webhook_concurrency /* with no --webhook too: a SIGHUP may add some */ + 3,
        1, 16);
    log_info("acs_limits", LF_I("fd_limit", lim), LF_I("cwmp_max_connections", a->o.common.max_connections),
             LF_I("api_max_connections", a->o.api_max_connections),
             LF_I("max_connections_per_addr", a->o.common.max_per_addr));
}

static int acs_run(acs_t *a, uv_loop_t *loop)
{
    a->default_interval_s = a->o.default_interval_ms / 1000; /* durations are parsed as ms */
    int rc = runtime_mkdirs(a->o.common.data_dir);
    if (rc)
        return 1;
    if ((rc = acs_files_init(a)) != 0) {
        log_error("acs_files", LF_S("dir", a->o.common.data_dir), LF_ERR(rc));
        return 1;
    }
    if (a->o.cpe_username_template && !a->o.cpe_credentials) {
        log_error("acs_config", LF_S("reason", "--cpe-username-template binds the users of "
                                               "--cpe-credentials: set that file too"));
        return 2;
    }
    if (a->o.cpe_credentials && acs_creds_load(a->o.cpe_credentials,
                                               a->o.cpe_username_template != NULL, &a->creds) != 0)
        return 2;
    if (strcmp(a->o.cpe_auth, "none") != 0 && a->o.cpe_password && a->creds)
        log_warn("acs_config", LF_S("reason", "--cpe-password is a fleet-wide credential: a CPE "
                                              "holding it may inform as any device, whatever "
                                              "--cpe-credentials binds"));
    if (strcmp(a->o.cpe_auth, "none") != 0 && !a->o.cpe_password && !a->creds) {
        log_error("acs_config", LF_S("reason", "set --cpe-password or --cpe-credentials (or "
                                               "--cpe-auth none to turn CPE authentication off)"));
        return 2;
    }
    /* Basic sends the password in clear: only over TLS, unless the operator
     * says so. Refused here, before anything is opened, as a usage error. */
    if (strcmp(a->o.cpe_auth, "basic") == 0 && !a->o.common.tls_cert && !a->o.cpe_basic_plain) {
        log_error("acs_config", LF_S("reason", "--cpe-auth basic needs TLS (--tls-cert) or "
                                               "--cpe-basic-plain"));
        return 2;
    }
    if (strcmp(a->o.cpe_auth, "none") == 0)
        log_warn("acs_config", LF_S("reason", "CPE authentication is off"));
    if ((rc = acs_cr_init(a)) != 0)
        return rc == -EINVAL ? 2 : 1;
    if ((rc = acs_cr_xmpp_start(a)) != 0)
        return rc == -EINVAL ? 2 : 1;
    if (net_cidr_parse_list(a->o.trusted_proxies.v, a->o.trusted_proxies.n, &a->trusted) != 0)
        return 1;
    a->ntrusted = a->o.trusted_proxies.n;
    if (runtime_api_token(a->o.common.data_dir, a->o.common.api_token, "acs", a->api_token,
                          sizeof a->api_token) != 0)
        return 1;
    char dbdef[4200];
    snprintf(dbdef, sizeof dbdef, "sqlite:%s/acs.db", a->o.common.data_dir);
    store_opts_t so = { .sync_full = a->o.db_sync_full, .param_history = (int)a->o.param_history };
    if ((rc = store_open(a->o.db ? a->o.db : dbdef, &so, &a->store)) != 0)
        return 1;
    if ((rc = acs_cluster_init(a)) != 0)
        return rc == -EINVAL ? 2 : 1;
    /* the config file's presets, then what sessions provision with, read
     * before the worker owns the store: the first Inform sees them all */
    if (acs_presets_sync_start(a, a->o.presets) != 0 || acs_search_params_sync(a) != 0)
        return 1;
    /* the API keys, in memory before the API listens */
    if (acs_keys_start(a) != 0)
        return 1;
    if ((rc = acs_prov_start(a)) != 0)
        return rc == -EINVAL ? 2 : 1;
    if ((rc = acs_webhook_init(a)) != 0)
        return rc == -EINVAL ? 2 : 1;
    if (acs_events_init(a) != 0)
        return 1;
    if (acs_session_logs_start(a) != 0)
        return 1;
    if ((rc = store_worker_new(loop, a->store, 200000, &a->db)) != 0)
        return 1;
    if ((rc = acs_files_start(a)) != 0) { /* a shared store's file transfers */
        log_error("acs_files", LF_S("reason", "cannot start the shared file store"), LF_ERR(rc));
        return 1;
    }
    if (a->o.common.tls_cert) {
        tls_opts_t to = { .server = true, .cert_file = a->o.common.tls_cert,
                          .key_file = a->o.common.tls_key, .ca_file = a->o.common.tls_ca,
                          .verify = a->o.common.tls_ca ? TLS_VERIFY_REQUIRED : TLS_VERIFY_NONE };
        if (!(a->tls = tls_ctx_new(&to)))
            return 1;
    }
    a->curl = net_curl_new(loop);
    if (!a->curl)
        return 1;
    acs_limits(a);
    acs_work_init(a);
    if ((rc = acs_cwmp_start(a, a->o.cwmp_listen)) != 0) {
        log_error("acs_listen", LF_S("addr", a->o.cwmp_listen), LF_ERR(rc));
        return 1;
    }
    acs_files_set_base(a);
    if ((rc = acs_api_start(a, a->o.api_listen)) != 0) {
        log_error("acs_listen", LF_S("addr", a->o.api_listen), LF_ERR(rc));
        return 1;
    }
    if (acs_stun_start(a) != 0)
        return 1;
    if (a->o.common.admin_listen && *a->o.common.admin_listen &&
        (rc = acs_admin_start(a, a->o.common.admin_listen)) != 0) {
        log_error("acs_listen", LF_S("addr", a->o.common.admin_listen), LF_ERR(rc));
        return 1;
    }
    wake_t *w = calloc(1, sizeof *w);
    if (w && (w->ids = calloc(1000, STORE_ID_MAX))) {
        w->a = a;
        if (store_worker_submit(a->db, recover_run, recover_done, w) != 0)
            recover_done(-EAGAIN, w);
    } else {
        free(w);
    }
    if (acs_waiters_start(a) != 0 || acs_webhook_start(a) != 0 || acs_bulk_start(a) != 0 ||
        acs_events_start(a) != 0 || acs_cluster_start(a) != 0)
        return 1;
    uv_timer_init(loop, &a->housekeeping);
    a->housekeeping.data = a;
    uv_timer_start(&a->housekeeping, on_housekeeping, 1000, 0);
    runtime_ready("acs", LF_S("listen", http_server_addr(a->cwmp)),
                  LF_S("api", http_server_addr(a->api)),
                  LF_S("admin", a->admin ? http_admin_addr(a->admin) : "off"),
                  LF_S("stun", acs_stun_addr(a)),
                  LF_B("tls", a->tls != NULL),
                  LF_S("cpe_auth", a->o.cpe_auth));
    return runtime_run(&a->rt);
}

int acs_main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "keys") == 0)
        return acs_keys_main(argc - 1, argv + 1);
    acs_t *a = calloc(1, sizeof *a);
    if (!a)
        return 1;
    cfg_result_t res;
    a->argc = argc;
    a->argv = argv;
    int rc = cfg_load(&acs_cmd, &a->o, argc, argv, &res);
    if (rc != 0) {
        free(a);
        return rc > 0 ? 0 : 2;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    /* Every session allocates and frees the same sizes again (request
     * bodies, the session's message log, parameter lists, tens to hundreds
     * of KiB): free() keeps that memory for the next session instead of
     * giving the top of the heap (or a mapping) back and faulting fresh
     * zeroed pages in again each time (bench/RESULTS.md, the ACS's hot
     * path). The runtime's periodic malloc_trim (core/runtime.h) still
     * hands it back once a burst is over. */
    mallopt(M_MMAP_THRESHOLD, 4 * 1024 * 1024);
    mallopt(M_TRIM_THRESHOLD, 64 * 1024 * 1024);
    uv_loop_t loop;
    uv_loop_init(&loop);
    a->loop = &loop;
    int status = 1;
    if (runtime_init(&a->rt, &loop, on_stop, on_reload, a, 0) == 0) {
        status = acs_run(a, &loop);
        if (!a->rt.stopping) {
            /* start-up failed: tear down what exists, close the runtime */
            runtime_stop(&a->rt);
            runtime_run(&a->rt);
        }
    }
    http_router_free(a->router);
    acs_cwmp_free(a);
    acs_work_free(a);
    acs_prov_free(a);
    acs_session_logs_free(a);
    store_close(a->store);
    tls_ctx_free(a->tls);
    acs_creds_free(a->creds);
    acs_files_free(a);
    acs_cr_free(a);
    free(a->trusted);
    uv_run(&loop, UV_RUN_DEFAULT);
    acs_keys_free(a); /* its poll timer has closed */
    acs_cluster_free(a);
    acs_webhook_free(a);
    acs_events_free(a);
    uv_loop_close(&loop);
    curl_global_cleanup();
    cfg_free(&acs_cmd, &a->o);
    free(a);
    return status;
}
