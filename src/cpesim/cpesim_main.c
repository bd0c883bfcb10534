/*
 * cpesim_main: `outpost cpe-sim`: options, the shared data model, the
 * connection request listener, the fleet, and the report at exit.
 */
#include "cpesim/cpesim.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "core/log.h"
#include "core/runtime.h"
#include "core/str.h"
#include "net/http_admin.h"
#include "cpesim/dm_csv.h"
#include "cpesim/fleet.h"

#define O cpesim_opts_t

static int check_url(const char *v, char *err, size_t errlen)
{
    net_url_t u;
    bool ok = net_url_parse(v, &u) == 0 && (strcmp(u.scheme, "http") == 0 || strcmp(u.scheme, "https") == 0);
    net_url_clear(&u);
    if (!ok) {
        snprintf(err, errlen, "not an http(s) URL");
        return -EINVAL;
    }
    return 0;
}

static int check_version(const char *v, char *err, size_t errlen)
{
    if (strcmp(v, "1.0") && strcmp(v, "1.1") && strcmp(v, "1.2")) {
        snprintf(err, errlen, "one of 1.0, 1.1, 1.2");
        return -EINVAL;
    }
    return 0;
}

/* a bad --rate is a usage error (exit 2), found before anything starts */
static int check_rate(const char *v, char *err, size_t errlen)
{
    double rate;
    if (fleet_parse_rate(v, &rate) != 0) {
        snprintf(err, errlen, "expected N or N/s (CPEs booting per second)");
        return -EINVAL;
    }
    return 0;
}

static const cfg_opt_t opts[] = {
    CFG_OPT("acs", CFG_STR, O, acs, "http://127.0.0.1:7547/", "URL",
            "the ACS (or cwmp-proxy) the CPEs inform; their ManagementServer.URL", .check = check_url),
    CFG_OPT("count", CFG_INT, O, count, "1", "N", "number of simulated CPEs", .min = 1, .max = 1000000),
    CFG_OPT("model", CFG_STR, O, model, "tr181", "NAME", "built-in data model: tr181 (Device:2) or tr098 (InternetGatewayDevice:1)"),
    CFG_OPT("model-file", CFG_STR, O, model_file, NULL, "FILE",
            "simulate a real device from its parameter dump (CSV: Parameter,Object,Writable,Value,Value type,...)"),
    CFG_OPT("serial-prefix", CFG_STR, O, serial_prefix, "SIM", "TEXT", "serial numbers are PREFIX000001..."),
    CFG_OPT("inform-interval", CFG_DURATION, O, inform_interval_ms, "300s", "DUR",
            "periodic Inform interval (PeriodicInformInterval)", .min = 1, .max = 4294967295.0 * 1000),
    CFG_OPT("jitter", CFG_DOUBLE, O, jitter, "0.2", "FRACTION", "spread of periodic Informs (0.2: +-20%)",
            .min = 0, .max = 1),
    CFG_OPT("username", CFG_STR, O, username, NULL, "USER",
            "credentials the CPEs answer the ACS's challenge with ({serial} is replaced)"),
    CFG_OPT("password", CFG_STR, O, password, NULL, "PASS", "password for --username", .flags = CFG_SECRET),
    CFG_OPT("cr-listen", CFG_STR, O, cr_listen, "127.0.0.1:30000", "HOST:PORT",
            "connection request listener for every CPE (URL <listener>/cr/<serial>)", .check = cfg_check_hostport),
    CFG_COMMON_LISTEN(O, NULL, "same as --cr-listen"),
    CFG_OPT("cr-url", CFG_STR, O, cr_url, NULL, "URL",
            "base of the ConnectionRequestURL the CPEs report (default: http://<cr-listen>)", .check = check_url),
    CFG_OPT("cr-username", CFG_STR, O, cr_username, NULL, "USER",
            "connection request user ({serial} is replaced; default: the serial number)"),
    /* a secret's default is not printed by --help; this one is public, so say it */
    CFG_OPT("cr-password", CFG_STR, O, cr_password, "cpesim", "PASS",
            "connection request password (default: cpesim)", .flags = CFG_SECRET),
    CFG_OPT("rate", CFG_STR, O, rate, "1000/s", "N/s", "start-up pace: CPEs booting per second (0: all at once)",
            .check = check_rate),
    CFG_OPT("duration", CFG_DURATION, O, duration_ms, "0", "DUR", "stop after this long (0: run until SIGTERM)"),
    CFG_OPT("stats-interval", CFG_DURATION, O, stats_interval_ms, "10s", "DUR", "print counters this often (0: only at exit)"),
    CFG_OPT("json", CFG_BOOL, O, json, "false", NULL, "counters as JSON lines on stdout"),
    CFG_OPT("state-dir", CFG_STR, O, state_dir, NULL, "DIR", "keep CPE state (parameters, bootstrap) across runs here"),
    CFG_OPT("fault-rate", CFG_DOUBLE, O, fault_rate, "0", "FRACTION", "answer this share of ACS RPCs with fault 9002",
            .min = 0, .max = 1),
    CFG_OPT("slow-ms", CFG_DURATION, O, slow_ms, "0", "DUR",
            "wait this long before each request (a slow CPE); a bare number is milliseconds",
            .flags = CFG_BARE_MS),
    CFG_OPT("drop-rate", CFG_DOUBLE, O, drop_rate, "0", "FRACTION", "drop the connection after this share of requests",
            .min = 0, .max = 1),
    CFG_OPT("cookie-only", CFG_BOOL, O, cookie_only, "false", NULL,
            "a new TCP connection for every request; the session rides on cookies"),
    CFG_OPT("session-timeout", CFG_DURATION, O, session_timeout_ms, "30s", "DUR", "wait this long for each ACS answer",
            .min = 1, .max = 3600000),
    CFG_OPT("max-sessions", CFG_INT, O, max_sessions, "5000", "N", "sessions in flight at most (others queue)",
            .min = 1, .max = 1000000),
    CFG_OPT("retry-min", CFG_DURATION, O, retry_min_ms, "0", "DUR",
            "first retry wait after a failed session (0: CWMPRetryMinimumWaitInterval, 5 s)"),
    CFG_OPT("reboot-time", CFG_DURATION, O, reboot_ms, "2s", "DUR", "how long a (simulated) reboot takes"),
    CFG_OPT("value-change-interval", CFG_DURATION, O, value_change_ms, "0", "DUR",
            "each CPE changes a volatile parameter this often (0: never)"),
    CFG_OPT("cwmp-version", CFG_STR, O, cwmp_version, "1.0", "1.0|1.1|1.2", "CWMP namespace of the CPEs' messages",
            .check = check_version),
    CFG_OPT("get-rpc-methods", CFG_BOOL, O, get_rpc_methods, "false", NULL, "send GetRPCMethods after a BOOTSTRAP Inform"),
    CFG_OPT("max-response", CFG_SIZE, O, max_response, "8MiB", "SIZE", "largest ACS message accepted", .min = 1024,
            .max = 1024.0 * 1024 * 1024),
    CFG_OPT("seed", CFG_INT, O, seed, "0", "N", "random seed for jitter and fault injection (0: random)"),
    /* UDP connection requests behind NAT (TR-111 Part 2; stun.c) */
    CFG_OPT("stun-server", CFG_STR, O, stun_server, NULL, "HOST:PORT",
            "enable STUN for every CPE (STUNEnable, STUNServerAddress/Port): Binding Requests from its own UDP "
            "socket, UDP connection requests answered there", .check = cfg_check_hostport),
    CFG_OPT("stun-username", CFG_STR, O, stun_username, "{id}", "TEXT",
            "USERNAME of the Binding Requests when STUNUsername is empty ({id}: the ACS's device id "
            "OUI-ProductClass-Serial; {serial})"),
    CFG_OPT("stun-password", CFG_STR, O, stun_password, NULL, "PASS",
            "STUNPassword: Binding Requests carry MESSAGE-INTEGRITY", .flags = CFG_SECRET),
    CFG_OPT("stun-keepalive", CFG_DURATION, O, stun_keepalive_ms, "30s", "DUR",
            "Binding Request period (STUNMinimumKeepAlivePeriod's default; whole seconds)", .min = 1000,
            .max = 86400000),
    CFG_OPT("udp-listen", CFG_STR, O, udp_listen, NULL, "ADDR",
            "local address of the CPEs' UDP sockets, each on a port of its own (default: --cr-listen's host)"),
    CFG_OPT("udp-cr-max-age", CFG_DURATION, O, udp_cr_max_age_ms, "5m", "DUR",
            "UDP connection requests whose ts is further from our clock are ignored", .min = 1000,
            .max = 86400000),
    /* XMPP connection requests, TR-069 Annex K (cr_xmpp.c) */
    CFG_OPT("xmpp-server", CFG_STR, O, xmpp_server, NULL, "HOST:PORT",
            "every CPE logs in to this XMPP server and takes connection requests over it"
            " (reported as ManagementServer.ConnReqJabberID)", .check = cfg_check_hostport),
    CFG_OPT("xmpp-domain", CFG_STR, O, xmpp_domain, NULL, "DOMAIN",
            "the CPEs' JIDs are <serial>@DOMAIN/<resource> (default: --xmpp-server's host)"),
    CFG_OPT("xmpp-resource", CFG_STR, O, xmpp_resource, "cwmp", "NAME", "resource of the CPEs' JIDs"),
    CFG_OPT("xmpp-password", CFG_STR, O, xmpp_password, NULL, "PASS",
            "the CPEs' XMPP password ({serial} is replaced)", .flags = CFG_SECRET),
    CFG_OPT("xmpp-ca-file", CFG_STR, O, xmpp_ca_file, NULL, "FILE",
            "CA certificates (PEM) the XMPP server's certificate must chain to (default: the system store)"),
    CFG_OPT("xmpp-insecure", CFG_BOOL, O, xmpp_insecure, "false", NULL,
            "STARTTLS without verifying the XMPP server's certificate (tests only)"),
    CFG_OPT("xmpp-allowed-jid", CFG_STR, O, xmpp_allowed_jid, NULL, "JIDS",
            "take connection requests only from these JIDs (comma-separated; a bare JID matches"
            " any resource): the default of ConnReqAllowedJabberIDs, which the ACS may set"
            " (default: anyone)"),
    CFG_OPT("xmpp-login-rate", CFG_INT, O, xmpp_login_rate, "200", "N",
            "XMPP logins started per second at start-up (0: all at once; each then reconnects"
            " on its own with backoff)", .min = 0, .max = 1000000),
    CFG_OPT("tls-ca", CFG_STR, O, common.tls_ca, NULL, "FILE",
            "verify an https ACS and file servers against this CA (default: the system store)"),
    CFG_COMMON_INSECURE(O, "do not verify the ACS's TLS certificate"),
    CFG_COMMON_ADMIN(O, "127.0.0.1:30001"),
    CFG_COMMON_DATA_DIR(O, "cpe-sim"),
    CFG_COMMON_API_TOKEN(O),
    CFG_END,
};

static const cfg_cmd_t cmd = {
    "cpe-sim", "a fleet of simulated TR-069 CPEs", NULL, opts,
};

typedef struct app {
    cpesim_opts_t o;
    fleet_t f;
    runtime_t rt;
    dm_model_t *model;
    http_admin_t *admin;
    char token[160];
} app_t;

static int write_metrics(buf_t *out, void *ud) { return fleet_metrics(&((app_t *)ud)->f, out); }

static int write_status(buf_t *out, void *ud)
{
    app_t *a = ud;
    return buf_printf(out, "{\"cpes\":%u,\"active\":%u,\"sessions_completed\":%llu,"
                           "\"sessions_failed\":%llu,\"acs\":\"",
                      a->f.count, a->f.active, (unsigned long long)a->f.st.sessions_completed,
                      (unsigned long long)a->f.st.sessions_failed) ||
                   str_json_escape(out, a->o.acs) || buf_append_str(out, "\"}");
}

/* Unhealthy while the ACS cannot be talked to: the last session failed. */
static int health(char *why, size_t len, void *ud)
{
    app_t *a = ud;
    if (a->f.st.sessions_completed + a->f.st.sessions_failed == 0 || a->f.st.last_ok)
        return 0;
    snprintf(why, len, "the last session failed (%llu of %llu so far)",
             (unsigned long long)a->f.st.sessions_failed,
             (unsigned long long)(a->f.st.sessions_completed + a->f.st.sessions_failed));
    return -1;
}

static int admin_start(app_t *a, uv_loop_t *loop)
{
    const cfg_common_t *c = &a->o.common;
    if (!c->admin_listen || !*c->admin_listen)
        return 0;
    int rc = runtime_api_token(c->data_dir, c->api_token, "cpe-sim", a->token, sizeof a->token);
    if (rc) {
        log_error("admin_token_failed", LF_S("daemon", "cpe-sim"),
                  LF_S("hint", "give --api-token or a writable --data-dir"), LF_ERR(rc));
        return rc;
    }
    http_admin_opts_t ao = { .daemon = "cpe-sim", .listen = c->admin_listen, .token = a->token,
                             .metrics_public = c->metrics_public, .metrics = write_metrics,
                             .status = write_status, .health = health, .ud = a };
    return http_admin_start(loop, &ao, &a->admin);
}

/* ---- the shared model ---------------------------------------------------------- */

static void ensure(dm_model_t *m, const char *rel, dm_type_t t, unsigned flags, const char *value)
{
    char name[DM_NAME_MAX + 1];
    snprintf(name, sizeof name, "%s%s", dm_model_root(m), rel);
    if (!dm_model_has(m, name))
        dm_model_add(m, name, t, flags, value);
}

static void set_default(dm_model_t *m, dm_wk_t wk, const char *value)
{
    const char *name = dm_wk_name(m, wk);
    if (name && dm_model_set_default(m, name, value) != 0)
        log_warn("model_default_refused", LF_S("param", name), LF_S("value", value));
}

static void set_dyn(dm_model_t *m, dm_wk_t wk, dm_dyn_t kind)
{
    const char *name = dm_wk_name(m, wk);
    if (name)
        dm_model_set_dyn(m, name, kind, 0);
}

typedef struct csv_fix {
    dm_model_t *m;
    unsigned macs;
    buf_t names; /* collected first: the model is not changed during the walk */
} csv_fix_t;

static int collect_names(void *ud, const dm_item_t *it)
{
    csv_fix_t *x = ud;
    if (!it->value)
        return 0;
    const char *n = it->name;
    bool mac = str_ends_with(n, "MACAddress") && strlen(it->value) == 17 && it->value[2] == ':';
    bool vol = str_ends_with(n, ".Channel") || str_ends_with(n, ".ExternalIPAddress") ||
               (strstr(n, ".Hosts.Host.") && str_ends_with(n, ".Active"));
    bool sec = str_ends_with(n, "Password") || str_ends_with(n, "PreSharedKey") ||
               str_ends_with(n, "KeyPassphrase") || str_ends_with(n, ".WEPKey");
    if (mac || vol || sec)
        return buf_printf(&x->names, "%c%c%c%s%c", mac ? 'm' : '-', vol ? 'v' : '-', sec ? 's' : '-', n, 0);
    return 0;
}

/* A real device's dump: give every simulated copy its own identity. */
static void personalise_csv(dm_model_t *m)
{
    csv_fix_t x = { .m = m, .names = BUF_INIT(64 * 1024 * 1024) };
    dm_inst_t *none = NULL;
    dm_view_t v = { m, &none, NULL };
    /* the walk needs a sealed model's order; a raw walk by name is enough here */
    dm_get_values(&v, "", collect_names, &x);
    for (size_t off = 0; off < x.names.len; off += strlen(x.names.data + off) + 1) {
        const char *e = x.names.data + off;
        if (e[0] == 'm')
            dm_model_set_dyn(m, e + 3, DM_DYN_MAC, 64 + (x.macs++ % 128));
        if (e[1] == 'v')
            dm_model_set_flags(m, e + 3, DM_VOLATILE, 0);
        if (e[2] == 's')
            dm_model_set_flags(m, e + 3, DM_SECRET, 0);
    }
    buf_free(&x.names);
    char name[DM_NAME_MAX + 1];
    snprintf(name, sizeof name, "%sTime.CurrentLocalTime", dm_model_root(m));
    dm_model_set_dyn(m, name, DM_DYN_NOW, 0);
}

static dm_model_t *build_model(const cpesim_opts_t *o, uint32_t periodic_s)
{
    dm_model_t *m = dm_model_new();
    if (!m)
        return NULL;
    char err[512] = "";
    int rc;
    bool csv = o->model_file && *o->model_file;
    if (csv) {
        dm_csv_stats_t st;
        rc = dm_csv_load_file(m, o->model_file, &st, err, sizeof err);
        if (rc == 0)
            log_info("model_loaded", LF_S("file", o->model_file), LF_U("params", st.params),
                     LF_U("objects", st.objects), LF_U("skipped", st.skipped), LF_U("fixed", st.fixed));
    } else {
        rc = dm_builtin_load(m, o->model);
        if (rc)
            snprintf(err, sizeof err, "unknown model '%s' (tr181 or tr098)", o->model);
    }
    if (rc) {
        log_error("model_failed", LF_S("reason", err));
        dm_model_free(m);
        return NULL;
    }
    /* whatever the dump lacks of what a CWMP client needs */
    ensure(m, "ManagementServer.URL", DM_STRING, DM_W, "");
    ensure(m, "ManagementServer.Username", DM_STRING, DM_W, "");
    ensure(m, "ManagementServer.Password", DM_STRING, DM_W | DM_SECRET, "");
    ensure(m, "ManagementServer.PeriodicInformEnable", DM_BOOL, DM_W, "true");
    ensure(m, "ManagementServer.PeriodicInformInterval", DM_UINT, DM_W, "300");
    ensure(m, "ManagementServer.ParameterKey", DM_STRING, 0, "");
    ensure(m, "ManagementServer.ConnectionRequestURL", DM_STRING, 0, "");
    ensure(m, "ManagementServer.ConnectionRequestUsername", DM_STRING, DM_W, "");
    ensure(m, "ManagementServer.ConnectionRequestPassword", DM_STRING, DM_W | DM_SECRET, "");
    ensure(m, "DeviceInfo.SerialNumber", DM_STRING, 0, "");
    if (csv) {
        personalise_csv(m);
        set_dyn(m, DM_WK_SERIAL, DM_DYN_SERIAL);
        set_dyn(m, DM_WK_CR_URL, DM_DYN_CR_URL);
        set_dyn(m, DM_WK_CR_USER, DM_DYN_CR_USER);
        set_dyn(m, DM_WK_CR_PASS, DM_DYN_CR_PASS);
        set_dyn(m, DM_WK_UPTIME, DM_DYN_UPTIME);
        set_dyn(m, DM_WK_WAN_IP, DM_DYN_WAN_IP);
        const char *pi = dm_wk_name(m, DM_WK_PERIODIC_INTERVAL);
        if (pi)
            dm_model_set_constraint(m, pi, "1:");
    }
    char num[16];
    snprintf(num, sizeof num, "%u", periodic_s);
    set_default(m, DM_WK_ACS_URL, o->acs);
    set_default(m, DM_WK_ACS_USER, o->username ? o->username : "");
    set_default(m, DM_WK_ACS_PASS, o->password ? o->password : "");
    set_default(m, DM_WK_PERIODIC_ENABLE, "true");
    set_default(m, DM_WK_PERIODIC_INTERVAL, num);
    set_default(m, DM_WK_PARAMETER_KEY, "");
    stun_model_prepare(m, o);
    if (dm_model_seal(m, err, sizeof err) != 0) {
        log_error("model_failed", LF_S("reason", err));
        dm_model_free(m);
        return NULL;
    }
    return m;
}

/* ---- life cycle ----------------------------------------------------------------- */

static void on_stop(void *ud)
{
    app_t *a = ud;
    http_admin_close(a->admin);
    a->admin = NULL;
    fleet_stop(&a->f);
}

static void request_stop(void *ud)
{
    app_t *a = ud;
    runtime_stop(&a->rt);
}

int cpesim_main(int argc, char **argv)
{
    app_t *a = calloc(1, sizeof *a);
    if (!a)
        return 1;
    cfg_result_t res;
    int rc = cfg_load(&cmd, &a->o, argc, argv, &res);
    if (rc) {
        free(a);
        return rc > 0 ? 0 : 2;
    }
    cpesim_opts_t *o = &a->o;
    const char *listen = o->common.listen && *o->common.listen ? o->common.listen : o->cr_listen;
    int status = 1;
    uv_loop_t *loop = uv_default_loop();
    uint32_t periodic_s = (uint32_t)((o->inform_interval_ms + 999) / 1000);
    a->model = build_model(o, periodic_s ? periodic_s : 1);
    if (!a->model)
        goto out;
    if (fleet_init(&a->f, loop, o, a->model) != 0) {
        log_error("cpesim_start_failed", LF_S("reason", "out of memory or bad options"));
        goto out;
    }
    a->f.request_stop = request_stop;
    a->f.stop_ud = a;
    if (strncmp(o->acs, "https:", 6) == 0) {
        tls_opts_t to = { .ca_file = o->common.tls_ca,
                          .verify = o->common.insecure ? TLS_VERIFY_NONE : TLS_VERIFY_REQUIRED };
        if (o->common.insecure)
            log_warn("tls_unverified", LF_S("reason", "--insecure: the ACS's certificate is not checked"));
        a->f.tls = tls_ctx_new(&to);
        if (!a->f.tls) {
            fleet_stop(&a->f);
            uv_run(loop, UV_RUN_DEFAULT);
            goto out;
        }
    }
    if (o->state_dir && state_load(&a->f, o->state_dir) != 0)
        log_warn("state_unreadable", LF_S("dir", o->state_dir));
    char err[256];
    if (cr_start(&a->f, listen, err, sizeof err) != 0) {
        log_error("cpesim_start_failed", LF_S("reason", err));
        fleet_stop(&a->f);
        uv_run(loop, UV_RUN_DEFAULT);
        goto out;
    }
    if (stun_start(&a->f, err, sizeof err) != 0 ||
        (o->xmpp_server && cr_xmpp_start(&a->f, err, sizeof err) != 0)) {
        log_error("cpesim_start_failed", LF_S("reason", err));
        fleet_stop(&a->f);
        uv_run(loop, UV_RUN_DEFAULT);
        goto out;
    }
    if (admin_start(a, loop) != 0 || runtime_init(&a->rt, loop, on_stop, NULL, a, 0) != 0) {
        http_admin_close(a->admin);
        fleet_stop(&a->f);
        uv_run(loop, UV_RUN_DEFAULT);
        goto out;
    }
    fleet_start(&a->f);
    char acs[NET_URL_SHOWN];
    net_url_redacted(o->acs, acs, sizeof acs);
    runtime_ready("cpe-sim", LF_S("listen", http_server_addr(a->f.cr)),
                  LF_S("admin", a->admin ? http_admin_addr(a->admin) : "off"), LF_U("cpes", a->f.count),
                  LF_S("model", o->model_file ? o->model_file : o->model),
                  LF_S("root", dm_model_root(a->model)), LF_U("params", dm_model_params(a->model)),
                  LF_S("acs", acs), LF_S("serial", o->serial_prefix));
    status = runtime_run(&a->rt);
    fleet_stats_print(&a->f, true);
    if (o->state_dir)
        state_save(&a->f, o->state_dir);
out:
    fleet_free(&a->f);
    tls_ctx_free(a->f.tls);
    dm_model_free(a->model);
    cfg_free(&cmd, &a->o);
    uv_loop_close(loop);
    free(a);
    return status;
}
