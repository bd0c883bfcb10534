#include "relay/relay_link.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/log.h"
#include "core/str.h"
#include "net/addr.h"
#include "net/ws.h"

typedef enum link_state { LINK_IDLE, LINK_CONNECTING, LINK_HELLO_SENT, LINK_UP } link_state_t;

struct relay_link {
    uv_loop_t *loop;
    relay_link_opts_t o;
    char *url, *peer_class, *peer_id, *name;
    char shown[NET_URL_SHOWN]; /* url with its password hidden: what logs show */
    relay_link_cbs_t cbs;
    void *ud;
    ws_t *ws;
    uv_timer_t timer;
    link_state_t state;
    int attempt;
    int64_t next_id;
    uint64_t connects, bad_messages;
    bool stopping, timer_closed;
};

static void link_connect(relay_link_t *l);

bool relay_link_up(const relay_link_t *l) { return l->state == LINK_UP; }
bool relay_link_congested(const relay_link_t *l) { return l->ws && ws_congested(l->ws); }
int64_t relay_link_next_id(relay_link_t *l) { return l->next_id++; }
uint64_t relay_link_connects(const relay_link_t *l) { return l->connects; }

static void link_free(relay_link_t *l)
{
    free(l->url);
    free(l->peer_class);
    free(l->peer_id);
    free(l->name);
    free(l);
}

static void on_timer_closed(uv_handle_t *h)
{
    relay_link_t *l = h->data;
    l->timer_closed = true;
    if (!l->ws)
        link_free(l);
}

static void on_backoff(uv_timer_t *t) { link_connect(t->data); }

/* Exponential backoff with jitter: core's clock_backoff_ms, as every
 * reconnecting client. */
static void schedule(relay_link_t *l, const char *why)
{
    uint32_t r = 0;
    str_random(&r, sizeof r);
    int64_t wait = clock_backoff_ms(l->o.backoff_min_ms, l->o.backoff_max_ms, l->attempt, r);
    l->attempt++;
    log_info("relay_link_retry", LF_S("link", l->name), LF_S("url", l->shown), LF_S("reason", why),
             LF_I("in_ms", wait), LF_I("attempt", l->attempt));
    uv_timer_start(&l->timer, on_backoff, (uint64_t)wait, 0);
}

static void on_ws_open(ws_t *ws)
{
    relay_link_t *l = ws_data(ws);
    buf_t hello = BUF_INIT(4096);
    int rc = relay_hello_build(&hello, 0, l->peer_class, l->peer_id);
    if (!rc)
        rc = ws_send(ws, WS_TEXT, hello.data, hello.len);
    buf_free(&hello);
    if (rc) {
        ws_close(ws, WS_CLOSE_INTERNAL, "cannot send HELLO");
        return;
    }
    l->state = LINK_HELLO_SENT;
    log_info("relay_link_open", LF_S("link", l->name), LF_S("url", l->shown),
             LF_S("peer_class", l->peer_class), LF_S("peer_id", l->peer_id));
}

static void on_ws_message(ws_t *ws, int type, const uint8_t *data, size_t len)
{
    relay_link_t *l = ws_data(ws);
    relay_env_t env = { 0 };
    char err[RELAY_ERR_LEN] = "";
    int rc = type == WS_TEXT ? relay_env_decode(&env, data, len, err, sizeof err) : -EINVAL;
    if (type != WS_TEXT)
        str_copy(err, sizeof err, "binary message");
    if (l->state == LINK_HELLO_SENT) {
        relay_hello_t h;
        if (rc || relay_hello_check(&env, &h, err, sizeof err)) {
            log_warn("relay_link_bad_hello", LF_S("link", l->name), LF_S("reason", err));
            relay_env_free(&env);
            ws_close(ws, WS_CLOSE_POLICY, "expected the partner's CONN:HELLO");
            return;
        }
        l->state = LINK_UP;
        l->attempt = 0;
        log_info("relay_link_up", LF_S("link", l->name), LF_S("partner_class", h.peer_class),
                 LF_S("partner_id", h.peer_id));
        if (l->cbs.on_up)
            l->cbs.on_up(l, h.peer_class, h.peer_id, l->ud);
        relay_env_free(&env);
        return;
    }
    if (l->state != LINK_UP)
        return;
    relay_hello_t h;
    if (rc == 0 && env.kind == RELAY_KIND_HELLO && relay_hello_check(&env, &h, err, sizeof err) == 0) {
        /* A relay with --keep-waiting pairs us with a new partner without
         * closing us: what was in flight went to the old one and is lost. */
        log_info("relay_link_partner_changed", LF_S("link", l->name), LF_S("partner_class", h.peer_class),
                 LF_S("partner_id", h.peer_id));
        if (l->cbs.on_down)
            l->cbs.on_down(l, "partner replaced", l->ud);
        if (l->cbs.on_up)
            l->cbs.on_up(l, h.peer_class, h.peer_id, l->ud);
        relay_env_free(&env);
        return;
    }
    if (rc) {
        /* The relay does not police payloads; neither do we crash on them. */
        if (l->bad_messages++ % 1000 == 0)
            log_warn("relay_link_bad_message", LF_S("link", l->name), LF_S("reason", err),
                     LF_U("count", l->bad_messages));
        return;
    }
    if (l->cbs.on_message)
        l->cbs.on_message(l, &env, (const char *)data, len, l->ud);
    relay_env_free(&env);
}

static void on_ws_drain(ws_t *ws)
{
    relay_link_t *l = ws_data(ws);
    if (l->state == LINK_UP && l->cbs.on_drain)
        l->cbs.on_drain(l, l->ud);
}

static void on_ws_close(ws_t *ws, uint16_t code, const char *reason)
{
    relay_link_t *l = ws_data(ws);
    bool was_up = l->state == LINK_UP;
    l->ws = NULL;
    l->state = LINK_IDLE;
    char why[160];
    snprintf(why, sizeof why, "%u %s", code, reason && *reason ? reason : "closed");
    log_warn("relay_link_closed", LF_S("link", l->name), LF_I("code", code), LF_S("reason", reason),
             LF_B("was_up", was_up));
    if (was_up && !l->stopping && l->cbs.on_down)
        l->cbs.on_down(l, why, l->ud); /* (a stopping owner has already let go) */
    if (l->stopping) {
        if (l->timer_closed)
            link_free(l);
        return;
    }
    schedule(l, why);
}

static const ws_cbs_t link_ws_cbs = {
    .on_open = on_ws_open,
    .on_message = on_ws_message,
    .on_drain = on_ws_drain,
    .on_close = on_ws_close,
};

static void link_connect(relay_link_t *l)
{
    if (l->stopping)
        return;
    ws_opts_t wo = { .max_message = l->o.max_message, .ping_interval_ms = l->o.ping_interval_ms,
                     .pong_timeout_ms = l->o.pong_timeout_ms };
    ws_connect_opts_t co = { .url = l->url, .tls = l->o.tls };
    l->connects++;
    l->state = LINK_CONNECTING;
    int rc = ws_connect(l->loop, &co, &wo, &link_ws_cbs, l, &l->ws);
    if (rc) {
        l->ws = NULL;
        l->state = LINK_IDLE;
        schedule(l, log_strerror(rc));
    }
}

relay_link_t *relay_link_start(uv_loop_t *loop, const relay_link_opts_t *o, const relay_link_cbs_t *cbs,
                               void *ud)
{
    net_url_t u;
    bool ok = net_url_parse(o->url, &u) == 0 && (!strcmp(u.scheme, "ws") || !strcmp(u.scheme, "wss")) &&
              (!u.tls || o->tls);
    net_url_clear(&u); /* its password is not used */
    if (!ok) {
        char shown[NET_URL_SHOWN];
        net_url_redacted(o->url, shown, sizeof shown);
        log_error("relay_link_bad_url", LF_S("url", shown),
                  LF_S("reason", "expected wss://host:port/path (ws:// only with --insecure)"));
        return NULL;
    }
    relay_link_t *l = calloc(1, sizeof *l);
    if (!l)
        return NULL;
    l->loop = loop;
    l->o = *o;
    l->cbs = *cbs;
    l->ud = ud;
    l->next_id = 1; /* 0 is the HELLO */
    l->url = strdup(o->url);
    net_url_redacted(o->url, l->shown, sizeof l->shown);
    l->peer_class = strdup(o->peer_class);
    l->peer_id = strdup(o->peer_id);
    l->name = strdup(o->name ? o->name : "relay-link");
    if (!l->url || !l->peer_class || !l->peer_id || !l->name) {
        link_free(l);
        return NULL;
    }
    if (!l->o.backoff_min_ms)
        l->o.backoff_min_ms = 500;
    if (!l->o.backoff_max_ms)
        l->o.backoff_max_ms = 30000;
    if (l->o.backoff_max_ms < l->o.backoff_min_ms)
        l->o.backoff_max_ms = l->o.backoff_min_ms;
    if (!l->o.ping_interval_ms)
        l->o.ping_interval_ms = 10000;
    uv_timer_init(loop, &l->timer);
    l->timer.data = l;
    link_connect(l);
    return l;
}

void relay_link_stop(relay_link_t *l)
{
    if (!l || l->stopping)
        return;
    l->stopping = true;
    uv_timer_stop(&l->timer);
    uv_close((uv_handle_t *)&l->timer, on_timer_closed);
    if (l->ws)
        ws_close(l->ws, WS_CLOSE_GOING_AWAY, "shutting down");
}

int relay_link_send(relay_link_t *l, const char *data, size_t len)
{
    if (l->state != LINK_UP || !l->ws)
        return -ENOTCONN;
    return ws_send(l->ws, WS_TEXT, data, len);
}
