/*
 * relay_server: `outpost relay`, the mutual-TLS WebSocket relay.
 *
 * This file is the transport glue: the wss listener, the upgrade checks
 * (path prefix, authorisation rules, connection cap), WebSocket callbacks
 * wired to the pairing state machine (relay_hub.c), HELLO deadlines, the
 * admin listener and shutdown. Each accepted WebSocket owns one rconn_t,
 * freed in its on_close.
 */
#include "relay/relay.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/config.h"
#include "core/hmap.h"
#include "core/log.h"
#include "core/runtime.h"
#include "core/str.h"
#include "net/addr.h"
#include "net/deadq.h"
#include "net/http_server.h"
#include "net/tls.h"
#include "net/ws.h"
#include "net/http_admin.h"
#include "relay/relay_hub.h"
#include "relay/relay_rules.h"
#include "relay/relay_status.h"

typedef struct relay_opts {
    cfg_common_t common;
    char *path_prefix;
    cfg_list_t allow;
    bool keep_waiting;
    int64_t hello_timeout_ms, ping_interval_ms, pong_timeout_ms;
    uint64_t max_message, pair_buffer;
    int64_t max_per_cert;
} relay_opts_t;

/* Connections the listener takes beyond --max-connections peers: requests
 * being answered, among them the 503s for peers over the count. */
enum { RELAY_LISTEN_HEADROOM = 64 };

static int check_prefix(const char *v, char *err, size_t n)
{
    if (v[0] == '/' && v[strlen(v) - 1] == '/')
        return 0;
    snprintf(err, n, "must start and end with '/' (e.g. /micronets/v1/ws-proxy/)");
    return -EINVAL;
}

static int check_rule(const char *v, char *err, size_t n)
{
    relay_rules_t rs = { 0 };
    int rc = relay_rules_add(&rs, v, err, n);
    relay_rules_free(&rs);
    return rc;
}

static const cfg_opt_t relay_table[] = {
    CFG_COMMON_LISTEN(relay_opts_t, "0.0.0.0:5050", "wss listener for the peers"),
    CFG_COMMON_ADMIN(relay_opts_t, "127.0.0.1:5051"),
    CFG_COMMON_TLS(relay_opts_t, "the relay presents to peers"),
    CFG_COMMON_INSECURE(relay_opts_t, "serve plain ws:// without TLS or client certificates (testing only)"),
    CFG_COMMON_DATA_DIR(relay_opts_t, "relay"),
    CFG_COMMON_API_TOKEN(relay_opts_t),
    CFG_OPT("path-prefix", CFG_STR, relay_opts_t, path_prefix, "/micronets/v1/ws-proxy/", "PATH",
            "URL path before the meeting id; other paths get 404", .check = check_prefix),
    CFG_OPT("allow", CFG_LIST, relay_opts_t, allow, NULL, "RULE",
            "who may join which meeting id: 'path=GLOB cn=GLOB org=GLOB fingerprint=HEX'\n"
            "({cn}/{org} in path stand for the certificate's); none: any valid certificate"
            , .check = check_rule),
    CFG_OPT("keep-waiting", CFG_BOOL, relay_opts_t, keep_waiting, "false", NULL,
            "when a peer leaves, its partner waits for a new one instead of being closed"),
    CFG_OPT("hello-timeout", CFG_DURATION, relay_opts_t, hello_timeout_ms, "10s", "DUR",
            "a connection must send CONN:HELLO within this time", .min = 100, .max = 3600000),
    CFG_OPT("ping-interval", CFG_DURATION, relay_opts_t, ping_interval_ms, "10s", "DUR",
            "WebSocket ping period (0: off)", .min = 0, .max = 3600000),
    CFG_OPT("pong-timeout", CFG_DURATION, relay_opts_t, pong_timeout_ms, "10s", "DUR",
            "close a peer whose pong is this late", .min = 100, .max = 3600000),
    CFG_OPT("max-message", CFG_SIZE, relay_opts_t, max_message, "1MiB", "SIZE",
            "largest message (bigger ones close with 1009)", .min = 1024, .max = 1 << 30),
    CFG_OPT("pair-buffer", CFG_SIZE, relay_opts_t, pair_buffer, "1MiB", "SIZE",
            "bytes queued towards a slow peer before its partner stops being read",
            .min = 4096, .max = 1 << 30),
    CFG_COMMON_MAX_CONNECTIONS(relay_opts_t,
            "peers connected at once: upgrades beyond get 503, and past 64 more connections the"
            " listener stops accepting until one closes (0: from the descriptor limit)"),
    CFG_COMMON_MAX_PER_ADDR(relay_opts_t,
            "live connections per client address (IPv6: per /64), TLS handshakes included;"
            " one more is closed at once (0: no cap)"),
    CFG_OPT("max-connections-per-cert", CFG_INT, relay_opts_t, max_per_cert, "0", "N",
            "live WebSocket connections per client certificate (by its SHA-256): one more is"
            " answered 429 (0: no cap)", .min = 0, .max = 1000000),
    CFG_END,
};

static const cfg_cmd_t relay_cmd = {
    "relay", "Mutual-TLS WebSocket relay: pairs two peers per URL path and copies their messages.",
    NULL, relay_table,
};

typedef struct relay_srv relay_srv_t;

/* Live connections of one client certificate (--max-connections-per-cert):
 * without a cap, one certificate (a leaked key, a client in a reconnect
 * loop) could take every path and every slot of --max-connections. */
typedef struct cert_use {
    char fingerprint[65]; /* the key, lowercase hex */
    size_t live;
} cert_use_t;

typedef struct rconn {
    relay_peer_t peer; /* first: the hub hands us &peer */
    relay_srv_t *srv;
    ws_t *ws;
    net_deadq_item_t hello; /* queued until the HELLO comes */
    cert_use_t *cert;       /* counted here, or NULL (no cap, no certificate) */
} rconn_t;

struct relay_srv {
    uv_loop_t *loop;
    relay_opts_t o;
    relay_rules_t rules;
    tls_ctx_t *tls;
    http_server_t *http;
    http_admin_t *admin;
    log_rate_t refusals_said;  /* relay_refused / relay_forbidden lines */
    uint64_t refusals_unsaid;
    relay_hub_t *hub;
    ws_opts_t wso;
    net_deadq_t hellos;        /* connections waiting for their HELLO, by deadline */
    size_t nconns;
    hmap_t per_cert;           /* fingerprint -> cert_use_t, with --max-connections-per-cert */
    bool stopping;
    relay_counters_t cnt;
    char token[128];
};

/* ---- HELLO deadlines ------------------------------------------------------------- */

static void pending_del(relay_srv_t *s, rconn_t *c) { net_deadq_del(&s->hellos, &c->hello); }

static void pending_add(relay_srv_t *s, rconn_t *c)
{
    net_deadq_add(&s->hellos, &c->hello, clock_mono_ms() + s->o.hello_timeout_ms);
}

static void on_hello_expired(net_deadq_t *q, net_deadq_item_t *it, void *ud)
{
    rconn_t *c = (rconn_t *)((char *)it - offsetof(rconn_t, hello));
    relay_hub_hello_timeout(((relay_srv_t *)ud)->hub, &c->peer);
}

/* ---- connections per certificate ------------------------------------------------------ */

/* Count one more connection of the certificate in *use (its entry, created
 * on first use); false when that would pass the cap. *use stays NULL when
 * nothing is counted: no cap, no certificate (--insecure), or no memory for
 * an entry (--max-connections still holds). cert_release() gives it back. */
static bool cert_admit(relay_srv_t *s, const char *fingerprint, cert_use_t **use)
{
    *use = NULL;
    if (!s->o.max_per_cert || !fingerprint[0])
        return true;
    cert_use_t *u = hmap_gets(&s->per_cert, fingerprint);
    if (u && u->live >= (size_t)s->o.max_per_cert)
        return false;
    if (!u) {
        if (!(u = calloc(1, sizeof *u)))
            return true;
        str_copy(u->fingerprint, sizeof u->fingerprint, fingerprint);
        if (hmap_put(&s->per_cert, u->fingerprint, strlen(u->fingerprint), u) != 0) {
            free(u);
            return true;
        }
    }
    u->live++;
    *use = u;
    return true;
}

static void cert_release(relay_srv_t *s, cert_use_t *u)
{
    if (u && --u->live == 0) {
        hmap_del(&s->per_cert, u->fingerprint, strlen(u->fingerprint));
        free(u);
    }
}

/* ---- hub transport ops -------------------------------------------------------------- */

static int op_send(relay_peer_t *p, bool binary, const void *d, size_t len, void *ud)
{
    return ws_send(((rconn_t *)p)->ws, binary ? WS_BINARY : WS_TEXT, d, len);
}

static void op_close(relay_peer_t *p, uint16_t code, const char *reason, void *ud)
{
    rconn_t *c = (rconn_t *)p;
    pending_del(c->srv, c);
    ws_close(c->ws, code, reason);
}

static void op_pause(relay_peer_t *p, void *ud) { ws_pause(((rconn_t *)p)->ws); }
static void op_resume(relay_peer_t *p, void *ud) { ws_resume(((rconn_t *)p)->ws); }
static size_t op_queued(relay_peer_t *p, void *ud) { return ws_queued(((rconn_t *)p)->ws); }
static bool op_congested(relay_peer_t *p, void *ud) { return ws_congested(((rconn_t *)p)->ws); }

static const relay_hub_ops_t hub_ops = { op_send, op_close, op_pause, op_resume, op_queued, op_congested };

/* ---- WebSocket callbacks ------------------------------------------------------------- */

static void on_ws_message(ws_t *ws, int type, const uint8_t *data, size_t len)
{
    rconn_t *c = ws_data(ws);
    relay_hub_message(c->srv->hub, &c->peer, type == WS_BINARY, data, len);
    if (c->hello.queued && c->peer.state != RELAY_PEER_PENDING)
        pending_del(c->srv, c);
}

static void on_ws_drain(ws_t *ws)
{
    rconn_t *c = ws_data(ws);
    relay_hub_drained(c->srv->hub, &c->peer);
}

static void on_ws_close(ws_t *ws, uint16_t code, const char *reason)
{
    rconn_t *c = ws_data(ws);
    relay_srv_t *s = c->srv;
    log_info("relay_disconnect", LF_S("path", c->peer.meeting), LF_S("peer", c->peer.remote),
             LF_S("peer_id", c->peer.peer_id), LF_I("code", code), LF_S("reason", reason),
             LF_U("bytes_in", c->peer.bytes_in), LF_U("bytes_out", c->peer.bytes_out));
    pending_del(s, c);
    relay_hub_gone(s->hub, &c->peer);
    cert_release(s, c->cert);
    free(c);
    s->nconns--;
}

static const ws_cbs_t ws_cbs = {
    .on_message = on_ws_message,
    .on_drain = on_ws_drain,
    .on_close = on_ws_close,
};

/* ---- the upgrade --------------------------------------------------------------------- */

/* Refusals are anyone's to cause: one line per 10 s, with how many went
 * unsaid (the counters in /metrics have them all). */
static bool say_refusal(relay_srv_t *s)
{
    uint64_t unsaid = 0;
    bool say = log_rate_ok(&s->refusals_said, clock_mono_ms(), 10000, &unsaid);
    s->refusals_unsaid = unsaid;
    return say;
}

static void refuse(relay_srv_t *s, http_req_t *r, int status, const char *reason, uint64_t *counter)
{
    (*counter)++;
    if (say_refusal(s)) {
        char shown[NET_URL_SHOWN]; /* the query may carry a token */
        net_url_redacted(http_req_target(r), shown, sizeof shown);
        log_warn("relay_refused", LF_S("peer", http_req_peer(r)), LF_S("target", shown),
                 LF_I("status", status), LF_S("reason", reason), LF_U("unsaid", s->refusals_unsaid));
    }
    http_respond_error(r, status, reason);
}

static void on_request(http_req_t *r, void *ud)
{
    relay_srv_t *s = ud;
    const char *path = http_req_path(r);
    size_t plen = strlen(s->o.path_prefix);
    if (strncmp(path, s->o.path_prefix, plen) != 0 || path[plen] == '\0') {
        refuse(s, r, 404, "unknown path", &s->cnt.not_found);
        return;
    }
    const char *meeting = path + plen;
    if (strlen(meeting) > RELAY_MEETING_MAX) {
        refuse(s, r, 414, "meeting id too long", &s->cnt.not_found);
        return;
    }
    const tls_peer_t *tp = http_req_tls_peer(r);
    relay_ident_t who = { tp ? tp->cn : "", tp ? tp->org : "", tp ? tp->fingerprint : "" };
    if (relay_rules_match(&s->rules, meeting, &who) == -1) {
        if (say_refusal(s))
            log_warn("relay_forbidden", LF_S("peer", http_req_peer(r)), LF_S("path", meeting),
                     LF_S("subject", tp ? tp->subject : ""), LF_S("fingerprint", who.fingerprint),
                     LF_U("unsaid", s->refusals_unsaid));
        s->cnt.forbidden++;
        http_respond_error(r, 403, "certificate not allowed on this path");
        return;
    }
    if (s->nconns >= (size_t)s->o.common.max_connections) {
        refuse(s, r, 503, "too many connections", &s->cnt.full);
        return;
    }
    cert_use_t *use;
    if (!cert_admit(s, who.fingerprint, &use)) {
        refuse(s, r, 429, "too many connections for this certificate", &s->cnt.per_cert);
        return;
    }
    rconn_t *c = calloc(1, sizeof *c);
    if (!c) {
        cert_release(s, use);
        http_respond_error(r, 500, "out of memory");
        return;
    }
    c->srv = s;
    str_copy(c->peer.meeting, sizeof c->peer.meeting, meeting);
    str_copy(c->peer.subject, sizeof c->peer.subject, tp ? tp->subject : "");
    str_copy(c->peer.remote, sizeof c->peer.remote, http_req_peer(r));
    bool busy = relay_hub_check_busy(s->hub, meeting) != 0;
    /* ws_accept consumes the request: path, meeting and tp are gone after it */
    c->ws = ws_accept(r, &s->wso, &ws_cbs, c, NULL); /* answers 4xx itself on a bad upgrade */
    if (!c->ws) {
        cert_release(s, use);
        free(c);
        return;
    }
    c->cert = use;
    c->peer.conn = c;
    s->nconns++;
    relay_hub_attach(s->hub, &c->peer);
    log_debug("relay_connect", LF_S("path", c->peer.meeting), LF_S("peer", c->peer.remote),
              LF_S("subject", c->peer.subject));
    if (busy) {
        /* the peer gets a WebSocket close it can act on, not an HTTP error */
        relay_hub_note_busy(s->hub);
        log_warn("relay_path_busy", LF_S("path", c->peer.meeting), LF_S("peer", c->peer.remote));
        relay_hub_close(s->hub, &c->peer, WS_CLOSE_POLICY, "path busy");
        return;
    }
    pending_add(s, c);
}

/* ---- admin ----------------------------------------------------------------------------- */

static int write_status(buf_t *out, void *ud)
{
    relay_srv_t *s = ud;
    return relay_status_json(out, s->hub, &s->cnt);
}

static int write_metrics(buf_t *out, void *ud)
{
    relay_srv_t *s = ud;
    return relay_status_metrics(out, s->hub, &s->cnt, s->nconns);
}

/* ---- lifecycle ----------------------------------------------------------------------------- */

static void on_stop(void *ud)
{
    relay_srv_t *s = ud;
    s->stopping = true;
    http_server_close(s->http, NULL, NULL);
    http_admin_close(s->admin);
    s->admin = NULL;
    relay_hub_shutdown(s->hub);
    net_deadq_close(&s->hellos, NULL);
}

static void on_reload(void *ud)
{
    relay_srv_t *s = ud;
    if (s->tls && tls_ctx_reload(s->tls) == 0)
        log_info("relay_tls_reloaded", LF_S("cert", s->o.common.tls_cert));
}

/* TLS set-up per the flags; 0, or -EINVAL after explaining why. */
static int setup_tls(relay_srv_t *s)
{
    const cfg_common_t *c = &s->o.common;
    if (!c->tls_cert) {
        if (!c->insecure) {
            log_error("relay_tls_required", LF_S("reason", "mutual TLS needs --tls-cert and --tls-ca "
                                                           "(or --insecure for plain ws://)"));
            return -EINVAL;
        }
        log_warn("relay_insecure", LF_S("reason", "--insecure: plain ws://, no encryption, no client "
                                                  "certificates; anyone can join any path"));
        return 0;
    }
    if (!c->tls_ca && !c->insecure) {
        log_error("relay_tls_required", LF_S("reason", "client certificates are required: give --tls-ca "
                                                       "(or --insecure to accept any client)"));
        return -EINVAL;
    }
    if (!c->tls_ca)
        log_warn("relay_insecure", LF_S("reason", "--insecure: TLS without client certificates"));
    tls_opts_t to = { .server = true, .cert_file = c->tls_cert, .key_file = c->tls_key,
                      .ca_file = c->tls_ca, .verify = c->tls_ca ? TLS_VERIFY_REQUIRED : TLS_VERIFY_NONE };
    s->tls = tls_ctx_new(&to);
    return s->tls ? 0 : -EINVAL;
}

static int start(relay_srv_t *s, runtime_t *rt)
{
    char err[256] = "";
    for (size_t i = 0; i < s->o.allow.n; i++)
        if (relay_rules_add(&s->rules, s->o.allow.v[i], err, sizeof err))
            return -EINVAL; /* validated by cfg already */
    int rc = setup_tls(s);
    if (rc)
        return rc;
    s->wso = (ws_opts_t){
        .max_message = s->o.max_message,
        .high_water = s->o.pair_buffer,
        .low_water = s->o.pair_buffer / 4,
        /* what may still arrive after the sender was paused: a read chunk
         * of frames plus one message being reassembled */
        .max_queue = s->o.pair_buffer + 2 * s->o.max_message + 256 * 1024,
        .ping_interval_ms = s->o.ping_interval_ms,
        .pong_timeout_ms = s->o.pong_timeout_ms,
    };
    hmap_init(&s->per_cert);
    s->hub = relay_hub_new(&hub_ops, s, &(relay_hub_opts_t){ .keep_waiting = s->o.keep_waiting });
    if (!s->hub)
        return -ENOMEM;
    net_deadq_init(s->loop, &s->hellos, on_hello_expired, s);
    http_server_opts_t so = { .handler = on_request, .ud = s, .max_body_bytes = 4096 };
    s->http = http_server_new(s->loop, &so);
    if (!s->http)
        return -ENOMEM;
    s->o.common.max_connections = runtime_conn_cap(
        s->o.common.max_connections,
        RUNTIME_FD_RESERVE + CFG_ADMIN_MAX_CONNECTIONS + RELAY_LISTEN_HEADROOM + 2, 1, 16);
    rc = http_server_listen(s->http, &(net_listen_opts_t){
        .addr = s->o.common.listen, .tls = s->tls,
        .max_connections = (size_t)s->o.common.max_connections + RELAY_LISTEN_HEADROOM,
        .max_per_addr = (size_t)s->o.common.max_per_addr });
    if (rc) {
        log_error("relay_listen_failed", LF_S("listen", s->o.common.listen), LF_ERR(rc));
        return rc;
    }
    if (s->o.common.admin_listen && *s->o.common.admin_listen) {
        rc = runtime_api_token(s->o.common.data_dir, s->o.common.api_token, "relay", s->token,
                               sizeof s->token);
        if (rc) {
            log_error("relay_token_failed", LF_S("hint", "give --api-token or a writable --data-dir"),
                      LF_ERR(rc));
            return rc;
        }
        http_admin_opts_t ao = { .daemon = "relay", .listen = s->o.common.admin_listen,
                                 .token = s->token, .metrics_public = s->o.common.metrics_public,
                                 .status = write_status, .metrics = write_metrics, .ud = s };
        if ((rc = http_admin_start(s->loop, &ao, &s->admin)) != 0)
            return rc;
    }
    return runtime_init(rt, s->loop, on_stop, on_reload, s, 0);
}

int relay_main(int argc, char **argv)
{
    relay_srv_t s = { 0 };
    cfg_result_t res;
    int rc = cfg_load(&relay_cmd, &s.o, argc, argv, &res);
    if (rc)
        return rc > 0 ? 0 : 2;
    s.loop = uv_default_loop();
    runtime_t rt;
    rc = start(&s, &rt);
    if (rc == 0) {
        runtime_ready("relay", LF_S("listen", http_server_addr(s.http)),
                      LF_S("admin", s.admin ? http_admin_addr(s.admin) : "off"),
                      LF_B("tls", s.tls != NULL), LF_S("prefix", s.o.path_prefix));
        runtime_run(&rt);
    } else {
        /* unwind whatever started */
        if (s.http)
            http_server_close(s.http, NULL, NULL);
        http_admin_close(s.admin);
        if (s.hub)
            net_deadq_close(&s.hellos, NULL);
        uv_run(s.loop, UV_RUN_DEFAULT);
    }
    relay_hub_free(s.hub);
    hmap_free(&s.per_cert); /* empty: every connection released its count */
    relay_rules_free(&s.rules);
    tls_ctx_free(s.tls);
    cfg_free(&relay_cmd, &s.o);
    uv_loop_close(s.loop);
    return rc ? 1 : 0;
}
