#include "relay/relay_end.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "core/metrics.h"
#include "core/runtime.h"
#include "core/str.h"
#include "net/addr.h"

int relay_end_tls(const cfg_common_t *c, const relay_end_opts_t *e, const char *name, tls_ctx_t **out)
{
    *out = NULL;
    if (!e->relay_url || !*e->relay_url) {
        log_error("relay_url_missing", LF_S("daemon", name), LF_S("hint", "give --relay-url wss://..."));
        return -EINVAL;
    }
    net_url_t u;
    bool ok = net_url_parse(e->relay_url, &u) == 0 && (!strcmp(u.scheme, "wss") || !strcmp(u.scheme, "ws"));
    net_url_clear(&u); /* its password is not used */
    char shown[NET_URL_SHOWN];
    net_url_redacted(e->relay_url, shown, sizeof shown);
    if (!ok) {
        log_error("relay_url_bad", LF_S("url", shown), LF_S("hint", "expected wss://HOST:PORT/PATH"));
        return -EINVAL;
    }
    if (!u.tls) {
        if (!c->insecure) {
            log_error("relay_tls_required", LF_S("url", shown),
                      LF_S("hint", "ws:// sends everything in clear: use wss:// or pass --insecure"));
            return -EINVAL;
        }
        log_warn("relay_insecure", LF_S("daemon", name), LF_S("reason", "--insecure: plain ws:// to the relay"));
        return 0;
    }
    if (!c->tls_cert && !c->insecure) {
        log_error("relay_tls_required", LF_S("daemon", name),
                  LF_S("hint", "the relay wants a client certificate: give --tls-cert (and --tls-ca)"));
        return -EINVAL;
    }
    if (c->insecure)
        log_warn("relay_insecure", LF_S("daemon", name), LF_S("reason", "--insecure: the relay's certificate "
                                                                        "is not verified"));
    tls_opts_t to = { .server = false, .cert_file = c->tls_cert, .key_file = c->tls_key, .ca_file = c->tls_ca,
                      .verify = c->insecure ? TLS_VERIFY_NONE : TLS_VERIFY_REQUIRED };
    *out = tls_ctx_new(&to);
    return *out ? 0 : -EINVAL;
}

relay_link_t *relay_end_link(uv_loop_t *loop, const relay_end_opts_t *e, tls_ctx_t *tls, const char *name,
                             const relay_link_cbs_t *cbs, void *ud)
{
    char host[256] = "";
    const char *peer_id = e->peer_id;
    if (!peer_id || !*peer_id) {
        if (gethostname(host, sizeof host - 1) != 0 || !*host)
            str_copy(host, sizeof host, "unknown");
        peer_id = host;
    }
    relay_link_opts_t lo = {
        .url = e->relay_url, .tls = tls, .peer_class = e->peer_class, .peer_id = peer_id, .name = name,
        .backoff_min_ms = e->reconnect_min_ms, .backoff_max_ms = e->reconnect_max_ms,
        .ping_interval_ms = e->ping_interval_ms, .pong_timeout_ms = e->pong_timeout_ms,
        .max_message = e->max_message,
    };
    return relay_link_start(loop, &lo, cbs, ud);
}

/* ---- admin ------------------------------------------------------------------------------ */

static int end_metrics(buf_t *out, void *ud)
{
    relay_end_admin_t *a = ud;
    relay_link_t *l = *a->link;
    int rc = metrics_one(out, "outpost_relay_end_paired", "gauge",
                         "1 while the relay path has a partner.", l && relay_link_up(l));
    if (!rc)
        rc = metrics_one(out, "outpost_relay_end_connects_total", "counter",
                         "Connections made to the relay.", l ? (double)relay_link_connects(l) : 0);
    return !rc && a->extra ? a->extra(out, a->ud) : rc;
}

static int end_status(buf_t *out, void *ud)
{
    relay_end_admin_t *a = ud;
    relay_link_t *l = *a->link;
    return buf_printf(out, "{\"daemon\":\"%s\",\"paired\":%s,\"connects\":%llu}", a->daemon,
                      l && relay_link_up(l) ? "true" : "false",
                      l ? (unsigned long long)relay_link_connects(l) : 0ULL);
}

static int end_health(char *why, size_t len, void *ud)
{
    relay_end_admin_t *a = ud;
    if (*a->link && relay_link_up(*a->link))
        return 0;
    snprintf(why, len, "not paired: no partner on the relay path");
    return -1;
}

int relay_end_admin_start(uv_loop_t *loop, relay_end_admin_t *a, http_admin_t **out)
{
    *out = NULL;
    if (!a->common->admin_listen || !*a->common->admin_listen)
        return 0;
    int rc = runtime_api_token(a->common->data_dir, a->common->api_token, a->daemon, a->token,
                               sizeof a->token);
    if (rc) {
        log_error("admin_token_failed", LF_S("daemon", a->daemon),
                  LF_S("hint", "give --api-token or a writable --data-dir"), LF_ERR(rc));
        return rc;
    }
    http_admin_opts_t ao = { .daemon = a->daemon, .listen = a->common->admin_listen, .token = a->token,
                             .metrics_public = a->common->metrics_public, .metrics = end_metrics,
                             .status = end_status, .health = end_health, .ud = a };
    return http_admin_start(loop, &ao, out);
}
