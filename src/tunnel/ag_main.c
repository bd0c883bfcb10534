/*
 * ag_main: `outpost agent` — options, start-up and drain.
 *
 *   outpost agent --gateway wss://gw:7000/tunnel [--gateway wss://gw2:7000/tunnel] \
 *     --name gw2 --key-file KEYFILE \
 *     --forward 'local=2022 gateway=gw1 ip=192.168.10.12 remote=22' \
 *     --socks 'listen=127.0.0.1:1080 gateway=gw1' \
 *     --allow 'net=10.10.10.0/24 ports=22,80'
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "core/log.h"
#include "core/str.h"
#include "net/http_admin.h"
#include "tunnel/ag.h"
#include "tunnel/tunnel.h"

#define O(NAME, TYPE, FIELD, DEF, META, HELP, ...) \
    CFG_OPT(NAME, TYPE, ag_opts_t, FIELD, DEF, META, HELP, __VA_ARGS__)

static const cfg_opt_t ag_opt_table[] = {
    O("gateway", CFG_LIST, gateways, NULL, "URL",
      "a gateway, wss://HOST:7000/tunnel (required; repeatable: on a lost link the next is "
      "tried, and a name's addresses in turn)"),
    O("gateway-prefer", CFG_STR, gateway_prefer, "order", "order|random",
      "which --gateway to try first: the first listed, or a random one (spreads agents)"),
    O("name", CFG_STR, name, NULL, "NAME", "this agent's unique name (required)"),
    O("key", CFG_STR, key, NULL, "KEY", "this agent's key (prefer --key-file: argv is visible)",
      .flags = CFG_SECRET),
    O("key-file", CFG_STR, key_file, NULL, "FILE", "file holding the key (first line)"),
    CFG_COMMON_LISTEN(ag_opts_t, "127.0.0.1:7001", "REST API listener (loopback; empty: off)"),
    CFG_COMMON_ADMIN(ag_opts_t, "127.0.0.1:7003"),
    CFG_COMMON_TLS(ag_opts_t, "presented to the gateway (mutual TLS)"),
    CFG_COMMON_INSECURE(ag_opts_t, "allow a plain ws:// gateway URL, and with wss:// do not verify "
                                   "the gateway's certificate (logged as a warning)"),
    CFG_COMMON_DATA_DIR(ag_opts_t, "agent"),
    CFG_COMMON_API_TOKEN(ag_opts_t),
    O("forward", CFG_LIST, forwards, NULL, "'local=PORT gateway=AGENT ip=ADDR remote=PORT'",
      "listen on local (127.0.0.1 unless HOST:PORT) and carry to ip:remote behind AGENT (repeatable)"),
    O("socks", CFG_LIST, socks, NULL, "'listen=HOST:PORT gateway=AGENT [user=U password-file=F]'",
      "a SOCKS5 server (CONNECT; no auth, or username/password: password-file=F, or "
      "password=P, visible in ps) whose targets are opened behind AGENT; names are resolved "
      "there (repeatable)"),
    O("allow", CFG_LIST, allow, NULL, "'net=CIDR,.. ports=P,P-Q [from=AGENT]'",
      "internal services this agent may connect to; default deny (repeatable, * = any)"),
    O("link-wait", CFG_DURATION, link_wait_ms, "5s", "DURATION",
      "a local connection that arrives while no gateway link is up waits this long for one, "
      "and one whose far agent is offline (failing over) is asked for again as long; then it "
      "is reset (0: at once)", .min = 0, .max = 600000),
    O("link-wait-max", CFG_INT, link_wait_max, "256", "N",
      "local connections that may wait for the link at once (more are reset)", .min = 0,
      .max = 100000),
    O("window", CFG_SIZE, window, "256KiB", "SIZE", "initial receive window per stream",
      .min = 16384, .max = 16.0 * 1024 * 1024),
    O("max-window", CFG_SIZE, max_window, "16MiB", "SIZE",
      "a stream's window doubles up to this while its reader keeps up and the window "
      "limits it (narrowed to the gateway's --max-window; <= --window: fixed)",
      .min = 16384, .max = 16.0 * 1024 * 1024),
    O("window-budget", CFG_SIZE, window_budget, "256MiB", "SIZE",
      "what the windows of all streams together may grow by beyond --window: the memory "
      "readers that were fast and then stopped can hold (0: windows never grow)",
      .min = 0, .max = 64.0 * 1024 * 1024 * 1024),
    O("max-message", CFG_SIZE, max_message, "1MiB", "SIZE", "largest tunnel message",
      .min = 16384, .max = 64.0 * 1024 * 1024),
    O("max-streams", CFG_INT, max_streams, "16384", "N",
      "concurrent streams this agent opens, and apart, those opened to it", .min = 1,
      .max = 1000000),
    O("connect-timeout", CFG_DURATION, connect_timeout_ms, "10s", "DURATION",
      "connecting to the gateway, and to internal targets", .min = 100, .max = 600000),
    O("reconnect-min", CFG_DURATION, reconnect_min_ms, "1s", "DURATION",
      "first reconnect delay (doubles per failure, with jitter)", .min = 10, .max = 3600000),
    O("reconnect-max", CFG_DURATION, reconnect_max_ms, "60s", "DURATION",
      "longest reconnect delay", .min = 10, .max = 3600000),
    O("keepalive", CFG_DURATION, keepalive_ms, "20s", "DURATION", "Ping period to the gateway",
      .min = 100, .max = 3600000),
    O("keepalive-timeout", CFG_DURATION, keepalive_timeout_ms, "10s", "DURATION",
      "no Pong within this drops the link", .min = 100, .max = 600000),
    O("drain-timeout", CFG_DURATION, drain_ms, "10s", "DURATION", "how long SIGTERM waits",
      .min = 100, .max = 600000),
    CFG_END,
};

static const cfg_cmd_t ag_cmd = {
    .name = "agent",
    .summary = "tunnel agent: local port forwards and whitelisted services behind NAT",
    .positional = NULL,
    .opts = ag_opt_table,
};

static void on_stop(void *ud)
{
    ag_t *ag = ud;
    log_info("shutdown", LF_U("streams", ag->nstreams));
    ag_forward_close_all(ag);
    if (ag->api)
        http_server_close(ag->api, NULL, NULL);
    ag->api = NULL;
    http_admin_close(ag->admin);
    ag->admin = NULL;
    ag_link_stop(ag);
}

static int load_key(ag_t *ag)
{
    const ag_opts_t *o = &ag->opts;
    if (o->key && o->key_file) {
        log_error("config_error", LF_S("reason", "give --key or --key-file, not both"));
        return -EINVAL;
    }
    if (o->key_file) {
        FILE *fp = fopen(o->key_file, "re");
        if (!fp || !fgets(ag->key, sizeof ag->key, fp)) {
            int e = errno;
            if (fp)
                fclose(fp);
            log_error("config_error", LF_S("option", "key-file"), LF_S("path", o->key_file),
                      LF_S("reason", e ? log_strerror(-e) : "empty file"));
            return -EINVAL;
        }
        fclose(fp);
        ag->key[strcspn(ag->key, "\r\n")] = '\0';
    } else if (o->key) {
        str_copy(ag->key, sizeof ag->key, o->key);
    }
    ag->keylen = strlen(ag->key);
    if (ag->keylen == 0 || ag->keylen > TUNNEL_KEY_MAX) {
        log_error("config_error", LF_S("option", "key"),
                  LF_S("reason", "a key (1..1024 bytes) is required: --key-file or --key"));
        return -EINVAL;
    }
    return 0;
}

static int start(ag_t *ag)
{
    ag_opts_t *o = &ag->opts;
    char err[256];
    if (ag_link_init(ag) != 0)
        return -EINVAL;
    if (!o->name || !tunnel_name_valid(o->name, strlen(o->name))) {
        log_error("config_error", LF_S("option", "name"),
                  LF_S("reason", "required: 1-64 of A-Z a-z 0-9 . _ -"));
        return -EINVAL;
    }
    if (load_key(ag) != 0)
        return -EINVAL;
    bool tls = false, plain = false;
    for (size_t i = 0; i < ag->ngws; i++)
        ag->gws[i].u.tls ? (tls = true) : (plain = true);
    if (plain)
        log_warn("insecure", LF_S("reason", "plain ws:// to the gateway"));
    if (o->reconnect_max_ms < o->reconnect_min_ms)
        o->reconnect_max_ms = o->reconnect_min_ms;
    for (size_t i = 0; i < o->allow.n; i++)
        if (tunnel_acl_add(&ag->allow, TUNNEL_ACL_WHITELIST, o->allow.v[i], err, sizeof err) != 0) {
            log_error("config_error", LF_S("option", "allow"), LF_S("rule", o->allow.v[i]),
                      LF_S("reason", err));
            return -EINVAL;
        }
    if (tls) {
        tls_opts_t to = { .server = false, .cert_file = o->common.tls_cert,
                          .key_file = o->common.tls_key, .ca_file = o->common.tls_ca,
                          .verify = o->common.insecure ? TLS_VERIFY_NONE : TLS_VERIFY_REQUIRED };
        if (!(ag->tls = tls_ctx_new(&to)))
            return -EINVAL;
        if (o->common.insecure)
            log_warn("insecure", LF_S("reason", "the gateway's certificate is not verified"));
    }
    int rc = tunnel_wire_init(&ag->wire, o->max_message);
    if (rc != 0)
        return rc;
    ag->peer_max_message = o->max_message;
    ag->window = o->window; /* narrowed at each login to the gateway's MaxWindow */
    ag->max_window = o->max_window;
    ag->window_budget = o->window_budget;
    hmap_init(&ag->streams);
    if ((rc = runtime_mkdirs(o->common.data_dir)) != 0)
        return rc;
    snprintf(ag->state_path, sizeof ag->state_path, "%s/forwards.json", o->common.data_dir);
    for (size_t i = 0; i < o->forwards.n; i++)
        if (ag_forward_add_text(ag, o->forwards.v[i], false, err, sizeof err) != 0) {
            log_error("config_error", LF_S("option", "forward"), LF_S("forward", o->forwards.v[i]),
                      LF_S("reason", err));
            return -EINVAL;
        }
    for (size_t i = 0; i < o->socks.n; i++)
        if (ag_socks_add_text(ag, o->socks.v[i], false, err, sizeof err) != 0) {
            log_error("config_error", LF_S("option", "socks"), LF_S("reason", err));
            return -EINVAL;
        }
    ag_forward_load_state(ag);
    if ((rc = ag_api_start(ag)) != 0)
        return rc;
    if (!ag->allow.n)
        log_info("whitelist_empty", LF_S("reason", "no --allow: streams towards this agent are refused"));
    size_t nf = 0, ns = 0;
    for (ag_forward_t *f = ag->forwards; f; f = f->next)
        f->socks ? ns++ : nf++;
    ag_link_start(ag);
    runtime_ready("agent", LF_S("listen", ag->api ? http_server_addr(ag->api) : "off"),
                  LF_S("admin", ag->admin ? http_admin_addr(ag->admin) : "off"),
                  LF_S("name", o->name), LF_S("gateway", ag->gws[0].shown),
                  LF_U("gateways", ag->ngws), LF_U("forwards", nf), LF_U("socks", ns),
                  LF_U("allow", ag->allow.n));
    return 0;
}

int tunnel_agent_main(int argc, char **argv)
{
    ag_t *ag = calloc(1, sizeof *ag);
    if (!ag)
        return 1;
    cfg_result_t res;
    int rc = cfg_load(&ag_cmd, &ag->opts, argc, argv, &res);
    if (rc != 0) {
        cfg_free(&ag_cmd, &ag->opts);
        free(ag);
        return rc > 0 ? 0 : 2;
    }
    ag->loop = uv_default_loop();
    int status = 1;
    if (runtime_init(&ag->rt, ag->loop, on_stop, NULL, ag, ag->opts.drain_ms) == 0) {
        if (start(ag) == 0) {
            status = runtime_run(&ag->rt);
        } else {
            runtime_stop(&ag->rt);
            runtime_run(&ag->rt);
            status = 1;
        }
    }
    if (ag->router)
        http_router_free(ag->router);
    hmap_free(&ag->streams);
    ag_link_free(ag);
    ag_socks_free(ag);
    tunnel_wire_free(&ag->wire);
    tunnel_acl_free(&ag->allow);
    if (ag->tls)
        tls_ctx_free(ag->tls);
    OPENSSL_cleanse(ag->key, sizeof ag->key);
    cfg_free(&ag_cmd, &ag->opts);
    uv_loop_close(ag->loop);
    free(ag);
    return status;
}
