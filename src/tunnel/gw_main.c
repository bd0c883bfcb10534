/*
 * gw_main: `outpost gateway` — options, start-up, SIGHUP reload, drain — and
 * `outpost gateway hash-key`, which turns a key read from stdin into the
 * salted hash the configuration stores.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "core/clock.h"
#include "core/log.h"
#include "core/str.h"
#include "net/http_admin.h"
#include "tunnel/gw.h"
#include "tunnel/keyhash.h"
#include "tunnel/tunnel.h"

#define O(NAME, TYPE, FIELD, DEF, META, HELP, ...) \
    CFG_OPT(NAME, TYPE, gw_opts_t, FIELD, DEF, META, HELP, __VA_ARGS__)

static const cfg_opt_t gw_opt_table[] = {
    CFG_COMMON_LISTEN(gw_opts_t, "0.0.0.0:7000", "WebSocket listener for agents"),
    CFG_COMMON_ADMIN(gw_opts_t, "127.0.0.1:7002"),
    CFG_COMMON_MAX_CONNECTIONS(gw_opts_t, "live connections on --listen; at the cap it stops"
                                          " accepting until one closes (0: from the descriptor limit)"),
    CFG_COMMON_MAX_PER_ADDR(gw_opts_t, "live connections on --listen per client address (IPv6:"
                                       " per /64), before any handshake; one more is closed at once"
                                       " (0: no cap: agents behind one NAT share theirs)"),
    CFG_COMMON_TLS(gw_opts_t, "served to agents (wss); without it --insecure is required"),
    CFG_COMMON_INSECURE(gw_opts_t, "serve plain ws:// without TLS (logged as a warning)"),
    CFG_COMMON_DATA_DIR(gw_opts_t, "gateway"),
    CFG_COMMON_API_TOKEN(gw_opts_t),
    O("path", CFG_STR, path, "/tunnel", "PATH", "WebSocket path agents connect to"),
    O("agent", CFG_LIST, agents, NULL, "'name=N key-hash=H'",
      "an agent that may log in; H from `outpost gateway hash-key` (repeatable)"),
    O("rule", CFG_LIST, rules, NULL, "'from=A to=B net=CIDR,.. ports=P,P-Q'",
      "let agent A reach these targets behind agent B; default deny (repeatable, * = any)"),
    O("max-message", CFG_SIZE, max_message, "1MiB", "SIZE", "largest tunnel message",
      .min = 16384, .max = 64.0 * 1024 * 1024),
    O("max-window", CFG_SIZE, max_window, "16MiB", "SIZE",
      "largest credit an agent may grant per stream direction (bounds gateway buffering)",
      .min = 16384, .max = 1u << 31),
    O("legacy-window", CFG_SIZE, legacy_window, "256KiB", "SIZE",
      "credit the gateway grants on behalf of protocol-0 (seed) agents", .min = 16384,
      .max = 1u << 31),
    O("max-streams", CFG_INT, max_streams, "16384", "N",
      "streams an agent opens, and apart, streams opened to it", .min = 1,
      .max = 1000000),
    O("open-timeout", CFG_DURATION, open_timeout_ms, "15s", "DURATION",
      "how long the acceptor agent may take to answer an Initiator", .min = 100, .max = 600000),
    O("handshake-timeout", CFG_DURATION, handshake_timeout_ms, "10s", "DURATION",
      "time for a new connection to log in", .min = 100, .max = 600000),
    O("ping-interval", CFG_DURATION, ping_interval_ms, "20s", "DURATION",
      "WebSocket ping period towards agents (0: off)", .min = 0, .max = 3600000),
    O("idle-timeout", CFG_DURATION, idle_timeout_ms, "60s", "DURATION",
      "drop a protocol-1 agent that sent nothing for this long (agents Ping every "
      "--keepalive, 20s; keep this above it; 0: off)", .min = 0, .max = 3600000),
    O("drain-timeout", CFG_DURATION, drain_ms, "10s", "DURATION",
      "how long SIGTERM waits for agents to close", .min = 100, .max = 600000),
    O("cert-name-match", CFG_BOOL, cert_name_match, "true", NULL,
      "with --tls-ca: an agent's client certificate CN must equal its name"),
    O("auth-max-failures", CFG_INT, auth_max_failures, "10", "N",
      "failed logins in a row (wrong key or name, malformed or no handshake) that lock an "
      "address (IPv6: its /64) out (0: never)", .min = 0, .max = 1000000),
    O("auth-lockout", CFG_DURATION, auth_lockout_ms, "1m", "DURATION",
      "how long such an address is refused (close 4429) without its key being checked; "
      "doubles for each lock-out in a row, up to 64x (0: no lock-outs)", .min = 0,
      .max = 86400000),
    O("auth-log-interval", CFG_DURATION, auth_log_interval_ms, "1m", "DURATION",
      "failed logins are logged once per address per interval, with their count",
      .min = 1000, .max = 86400000),
    O("peer", CFG_LIST, peers, NULL, "wss://HOST:PORT/mesh",
      "another gateway of the mesh, dialled over mutual TLS (repeatable; two gateways may "
      "list each other, one link stays; this gateway's own URL is skipped)"),
    O("mesh-listen", CFG_STR, mesh_listen, NULL, "HOST:PORT",
      "where other gateways connect (wss, path /mesh; empty: only dial --peer)",
      .check = cfg_check_hostport),
    O("mesh-cert", CFG_STR, mesh_cert, NULL, "FILE",
      "this gateway's certificate for the mesh (PEM, from `outpost certs leaf`); its CN is "
      "the gateway's name in the mesh"),
    O("mesh-key", CFG_STR, mesh_key, NULL, "FILE",
      "private key for --mesh-cert (default: the key inside its file)"),
    O("mesh-ca", CFG_STR, mesh_ca, NULL, "FILE",
      "the CA of gateway certificates (not the agents' --tls-ca); peers must chain to it"),
    O("mesh-keepalive", CFG_DURATION, mesh_keepalive_ms, "5s", "DURATION",
      "Ping period on mesh links; a link silent for 3 periods is dropped with its routes",
      .min = 100, .max = 600000),
    CFG_END,
};

static const cfg_cmd_t gw_cmd = {
    .name = "gateway",
    .summary = "tunnel gateway: agents connect out over WebSocket; it routes TCP streams between "
               "them,\nalone or in a mesh of gateways (--peer, --mesh-listen)\n"
               "(`outpost gateway hash-key < KEYFILE` prints the hash for an --agent entry)",
    .positional = NULL,
    .opts = gw_opt_table,
};

const gw_agent_cfg_t *gw_agent_find(const gw_t *gw, const char *name)
{
    for (size_t i = 0; i < gw->nagents; i++)
        if (strcmp(gw->agents[i].name, name) == 0)
            return &gw->agents[i];
    return NULL;
}

/* Agents and rules from parsed options; on error nothing is kept. */
static int load_tables(const gw_opts_t *o, gw_agent_cfg_t **agents, size_t *nagents,
                       tunnel_acl_t *acl)
{
    *agents = calloc(o->agents.n ? o->agents.n : 1, sizeof **agents);
    *nagents = 0;
    memset(acl, 0, sizeof *acl);
    if (!*agents)
        return -ENOMEM;
    char err[256], key[32], val[256];
    for (size_t i = 0; i < o->agents.n; i++) {
        gw_agent_cfg_t *a = &(*agents)[i];
        size_t pos = 0;
        int rc;
        while ((rc = cfg_kv_next(o->agents.v[i], &pos, key, sizeof key, val, sizeof val)) == 1) {
            if (strcmp(key, "name") == 0 && tunnel_name_valid(val, strlen(val)))
                str_copy(a->name, sizeof a->name, val);
            else if ((strcmp(key, "key-hash") == 0 || strcmp(key, "key_hash") == 0) &&
                     tunnel_keyhash_valid(val))
                str_copy(a->hash, sizeof a->hash, val);
            else if (strcmp(key, "key") == 0)
                rc = -2; /* a clear key in the config: refuse, say why */
            else
                rc = -1;
            if (rc < 0)
                break;
        }
        if (rc == -2) {
            log_error("config_error", LF_S("option", "agent"), LF_I("item", i + 1),
                      LF_S("reason", "clear keys are not accepted; store key-hash= from "
                                     "`outpost gateway hash-key`"));
            goto fail;
        }
        if (rc != 0 || !a->name[0] || !a->hash[0]) {
            log_error("config_error", LF_S("option", "agent"), LF_I("item", i + 1),
                      LF_S("reason", "want 'name=NAME key-hash=pbkdf2-sha256$...'"));
            goto fail;
        }
        for (size_t j = 0; j < i; j++)
            if (strcmp((*agents)[j].name, a->name) == 0) {
                log_error("config_error", LF_S("option", "agent"), LF_S("agent", a->name),
                          LF_S("reason", "listed twice"));
                goto fail;
            }
        (*nagents)++;
    }
    for (size_t i = 0; i < o->rules.n; i++)
        if (tunnel_acl_add(acl, TUNNEL_ACL_GATEWAY, o->rules.v[i], err, sizeof err) != 0) {
            log_error("config_error", LF_S("option", "rule"), LF_S("rule", o->rules.v[i]),
                      LF_S("reason", err));
            goto fail;
        }
    return 0;
fail:
    free(*agents);
    *agents = NULL;
    tunnel_acl_free(acl);
    return -EINVAL;
}

static void on_sweep(uv_timer_t *t)
{
    gw_t *gw = t->data;
    int64_t now = clock_mono_ms();
    gw_session_sweep(gw, now);
    gw_auth_sweep(gw, now);
    gw_route_sweep(gw, now);
    if (gw->mesh_on)
        gw_mesh_sweep(gw, now);
}

static void http_handler(http_req_t *req, void *ud)
{
    gw_t *gw = ud;
    if (strcmp(http_req_path(req), gw->opts.path) != 0) {
        http_respond_error(req, 404, "not found (agents connect to the tunnel path)");
        return;
    }
    gw_session_accept(gw, req, false);
}

static void on_stop(void *ud)
{
    gw_t *gw = ud;
    gw->stopping = true;
    log_info("shutdown", LF_U("agents", gw->nsessions), LF_U("streams", gw->nstreams));
    gw_mesh_stop(gw);
    if (gw->sweep_started) {
        uv_timer_stop(&gw->sweep);
        uv_close((uv_handle_t *)&gw->sweep, NULL);
        gw->sweep_started = false;
    }
    if (gw->http)
        http_server_close(gw->http, NULL, NULL);
    http_admin_close(gw->admin);
    gw->admin = NULL;
    gw->http = NULL;
    for (gw_session_t *s = gw->sessions, *next; s; s = next) {
        next = s->next;
        gw_session_goaway(s, "shutdown", "gateway shutting down", WS_CLOSE_GOING_AWAY);
    }
}

static void on_reload(void *ud)
{
    gw_t *gw = ud;
    gw_opts_t fresh;
    memset(&fresh, 0, sizeof fresh);
    cfg_result_t res;
    if (cfg_load(&gw_cmd, &fresh, gw->argc, (char **)gw->argv, &res) != 0) {
        cfg_free(&gw_cmd, &fresh);
        log_error("reload_failed", LF_S("reason", "configuration invalid; keeping the old one"));
        return;
    }
    gw_agent_cfg_t *agents;
    size_t nagents;
    tunnel_acl_t acl;
    if (load_tables(&fresh, &agents, &nagents, &acl) != 0) {
        cfg_free(&gw_cmd, &fresh);
        log_error("reload_failed", LF_S("reason", "agents or rules invalid; keeping the old ones"));
        return;
    }
    /* Keep verified-key caches of agents whose hash did not change. */
    for (size_t i = 0; i < nagents; i++) {
        const gw_agent_cfg_t *old = gw_agent_find(gw, agents[i].name);
        if (old && strcmp(old->hash, agents[i].hash) == 0 && old->cached) {
            memcpy(agents[i].cache, old->cache, sizeof old->cache);
            agents[i].cached = true;
        }
    }
    char digest[TUNNEL_DIGEST_LEN + 1];
    if (gw_mesh_digest(agents, nagents, &acl, digest) != 0) {
        OPENSSL_cleanse(agents, nagents * sizeof *agents);
        free(agents);
        tunnel_acl_free(&acl);
        cfg_free(&gw_cmd, &fresh);
        log_error("reload_failed", LF_S("reason", "cannot digest the rules; keeping the old ones"));
        return;
    }
    /* Sessions whose agent was removed or whose key changed must log in again. */
    for (gw_session_t *s = gw->sessions, *next; s; s = next) {
        next = s->next;
        if (!s->authed || s->closing || s->mesh)
            continue;
        const gw_agent_cfg_t *old = gw_agent_find(gw, s->name);
        bool keep = false;
        for (size_t i = 0; i < nagents; i++)
            if (strcmp(agents[i].name, s->name) == 0)
                keep = old && strcmp(old->hash, agents[i].hash) == 0;
        if (!keep) {
            log_info("agent_removed", LF_S("agent", s->name));
            gw_session_goaway(s, "removed", "agent removed or key changed", WS_CLOSE_POLICY);
        }
    }
    OPENSSL_cleanse(gw->agents, gw->nagents * sizeof *gw->agents);
    free(gw->agents);
    tunnel_acl_free(&gw->acl);
    gw->agents = agents;
    gw->nagents = nagents;
    gw->acl = acl;
    bool changed = strcmp(digest, gw->digest) != 0;
    str_copy(gw->digest, sizeof gw->digest, digest);
    if (gw->tls)
        tls_ctx_reload(gw->tls);
    gw_mesh_reload(gw, &fresh, changed);
    cfg_free(&gw_cmd, &fresh);
    log_info("reloaded", LF_U("agents", nagents), LF_U("rules", acl.n), LF_S("digest", digest));
}

static int hash_key_main(int argc, char **argv)
{
    int64_t iter = TUNNEL_KEYHASH_ITER_DEFAULT;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--iterations") == 0 && i + 1 < argc) {
            if (str_to_i64(argv[++i], TUNNEL_KEYHASH_ITER_MIN, TUNNEL_KEYHASH_ITER_MAX, &iter)) {
                fprintf(stderr, "hash-key: --iterations must be %d..%d\n",
                        TUNNEL_KEYHASH_ITER_MIN, TUNNEL_KEYHASH_ITER_MAX);
                return 2;
            }
        } else {
            fprintf(stdout, "usage: outpost gateway hash-key [--iterations N] < keyfile\n"
                            "Reads an agent key (one line) from stdin and prints the salted\n"
                            "PBKDF2-SHA256 hash to put in the gateway's agent entry:\n"
                            "  --agent 'name=NAME key-hash=HASH'\n");
            return strcmp(argv[i], "--help") == 0 ? 0 : 2;
        }
    }
    char key[TUNNEL_KEY_MAX + 2];
    if (!fgets(key, sizeof key, stdin)) {
        fprintf(stderr, "hash-key: no key on stdin\n");
        return 2;
    }
    size_t n = strcspn(key, "\r\n");
    key[n] = '\0';
    if (n == 0 || n > TUNNEL_KEY_MAX) {
        fprintf(stderr, "hash-key: the key must be 1..%d bytes\n", TUNNEL_KEY_MAX);
        return 2;
    }
    char out[TUNNEL_KEYHASH_STRLEN];
    int rc = tunnel_keyhash_make(key, n, (unsigned)iter, out, sizeof out);
    OPENSSL_cleanse(key, sizeof key);
    if (rc != 0) {
        fprintf(stderr, "hash-key: %s\n", log_strerror(rc));
        return 1;
    }
    printf("%s\n", out);
    return 0;
}

static int start(gw_t *gw)
{
    gw_opts_t *o = &gw->opts;
    if (load_tables(o, &gw->agents, &gw->nagents, &gw->acl) != 0)
        return -EINVAL;
    if (!o->common.tls_cert && !o->common.insecure) {
        log_error("config_error", LF_S("reason", "no --tls-cert: give one, or --insecure for plain ws"));
        return -EINVAL;
    }
    if (o->path[0] != '/') {
        log_error("config_error", LF_S("option", "path"), LF_S("reason", "must start with /"));
        return -EINVAL;
    }
    if (!o->common.tls_cert)
        log_warn("insecure", LF_S("reason", "serving plain ws:// (agent keys cross the network in clear)"));
    if (o->common.tls_cert) {
        tls_opts_t to = { .server = true, .cert_file = o->common.tls_cert,
                          .key_file = o->common.tls_key, .ca_file = o->common.tls_ca,
                          .verify = o->common.tls_ca ? TLS_VERIFY_REQUIRED : TLS_VERIFY_NONE };
        if (!(gw->tls = tls_ctx_new(&to)))
            return -EINVAL;
    }
    if (!gw->nagents)
        log_warn("no_agents", LF_S("reason", "no --agent configured: nobody can log in"));
    int rc = tunnel_wire_init(&gw->wire, o->max_message);
    if (rc != 0)
        return rc;
    hmap_init(&gw->by_name);
    gw_auth_init(gw);
    if ((rc = gw_mesh_digest(gw->agents, gw->nagents, &gw->acl, gw->digest)) != 0 ||
        (rc = gw_mesh_start(gw)) != 0)
        return rc;
    http_server_opts_t ho = { .handler = http_handler, .ud = gw, .max_body_bytes = 4096,
                              .server_name = "outpost-gateway" };
    gw->http = http_server_new(gw->loop, &ho);
    if (!gw->http)
        return -ENOMEM;
    int64_t cap = runtime_conn_cap(o->common.max_connections,
                                   RUNTIME_FD_RESERVE + CFG_ADMIN_MAX_CONNECTIONS + 2, 1, 16);
    net_listen_opts_t lo = { .addr = o->common.listen, .tls = gw->tls, .max_connections = (size_t)cap,
                             .max_per_addr = (size_t)o->common.max_per_addr };
    if ((rc = http_server_listen(gw->http, &lo)) != 0) {
        log_error("listen_failed", LF_S("addr", o->common.listen), LF_ERR(rc));
        return rc;
    }
    if ((rc = gw_admin_start(gw)) != 0)
        return rc;
    uv_timer_init(gw->loop, &gw->sweep);
    gw->sweep.data = gw;
    uv_timer_start(&gw->sweep, on_sweep, 1000, 1000);
    gw->sweep_started = true;
    gw->started_ms = clock_mono_ms();
    runtime_ready("gateway", LF_S("listen", http_server_addr(gw->http)),
                  LF_S("admin", gw->admin ? http_admin_addr(gw->admin) : "off"),
                  LF_S("path", o->path), LF_B("tls", gw->tls != NULL), LF_U("agents", gw->nagents),
                  LF_U("rules", gw->acl.n), LF_S("mesh", gw->mesh_on ? gw->mesh_name : "off"),
                  LF_S("mesh_listen", gw_mesh_listen_addr(gw)));
    return 0;
}

int tunnel_gateway_main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "hash-key") == 0)
        return hash_key_main(argc - 1, argv + 1);
    gw_t *gw = calloc(1, sizeof *gw);
    if (!gw)
        return 1;
    cfg_result_t res;
    int rc = cfg_load(&gw_cmd, &gw->opts, argc, argv, &res);
    if (rc != 0) {
        cfg_free(&gw_cmd, &gw->opts);
        free(gw);
        return rc > 0 ? 0 : 2;
    }
    gw->argc = argc;
    gw->argv = (const char *const *)argv;
    gw->loop = uv_default_loop();
    tunnel_mesh_init(&gw->routes);
    hmap_init(&gw->links);
    int status = 1;
    if (runtime_init(&gw->rt, gw->loop, on_stop, on_reload, gw, gw->opts.drain_ms) == 0) {
        if (start(gw) == 0)
            status = runtime_run(&gw->rt);
        else {
            runtime_stop(&gw->rt);
            runtime_run(&gw->rt);
            status = 1;
        }
    }
    gw_auth_free(gw);
    gw_mesh_free(gw);
    tunnel_mesh_free(&gw->routes);
    hmap_free(&gw->by_name);
    tunnel_wire_free(&gw->wire);
    if (gw->tls)
        tls_ctx_free(gw->tls);
    if (gw->agents)
        OPENSSL_cleanse(gw->agents, gw->nagents * sizeof *gw->agents);
    free(gw->agents);
    tunnel_acl_free(&gw->acl);
    cfg_free(&gw_cmd, &gw->opts);
    uv_loop_close(gw->loop);
    free(gw);
    return status;
}
