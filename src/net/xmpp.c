/*
 * xmpp: the client connection of net/xmpp.h: stream negotiation (STARTTLS,
 * SASL PLAIN, bind), IQs with deadlines, reconnecting with backoff. The
 * XML side is xmpp_parse.c.
 *
 * The negotiation is driven by each <stream:features>: without TLS yet ->
 * STARTTLS; without authentication -> SASL; then bind. After <proceed/> and
 * <success/> the stream restarts, which needs a fresh parser: the handler
 * only stops the parser and sets `restart`; on_read acts after the feed.
 */
#include "net/xmpp.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "core/clock.h"
#include "core/hmap.h"
#include "core/log.h"
#include "core/str.h"
#include "net/conn.h"
#include "net/deadq.h"

#define NS_STREAMS "http://etherx.jabber.org/streams"
#define NS_TLS "urn:ietf:params:xml:ns:xmpp-tls"
#define NS_SASL "urn:ietf:params:xml:ns:xmpp-sasl"
#define NS_BIND "urn:ietf:params:xml:ns:xmpp-bind"

typedef enum xst {
    XST_OFFLINE = 0, /* waiting to reconnect */
    XST_CONNECTING,
    XST_FEATURES,    /* stream open, negotiating (tls_on/authed say how far) */
    XST_TLS,         /* STARTTLS handshake */
    XST_AUTH,        /* <auth> sent */
    XST_BIND,        /* bind IQ sent */
    XST_ONLINE,
} xst_t;

static const char *const xst_names[] = { "offline", "connecting", "negotiating", "tls", "auth", "bind", "online" };

typedef struct pending {
    net_deadq_item_t dq; /* first: the IQ from its deadline */
    char id[24];
    char *to;
    xmpp_iq_fn cb;
    void *ud;
} pending_t;

enum { STABLE_MS = 10000 }; /* online this long: the next reconnect starts from backoff_min */

enum { RESTART_NONE = 0, RESTART_TLS, RESTART_STREAM, RESTART_CLOSE };

struct xmpp_client {
    uv_loop_t *loop;
    xmpp_client_opts_t o;
    xmpp_jid_t jid;
    char *jid_str, *password, *host, *bound;
    net_conn_t *conn;
    xmpp_parser_t *parser;
    uv_timer_t retry;   /* reconnect backoff, and the connect-to-online deadline */
    net_deadq_t iqs;    /* pending IQs by deadline (all share one timeout) */
    int closes;         /* libuv handles still closing after free */
    bool freeing;
    xst_t st;
    bool tls_on, authed;
    int restart;        /* what on_read does after the feed */
    const char *close_reason;
    char reason_buf[160];
    int attempt;        /* failed logins since the last stable one (the backoff) */
    int64_t online_at;  /* when the last login completed (mono ms) */
    uint64_t seq;
    hmap_t by_id;
    xmpp_client_stats_t stats;
};

static void connect_now(xmpp_client_t *c);
static void on_retry_timer(uv_timer_t *t);

/* ---- pending IQs ------------------------------------------------------------ */

static void pend_finish(xmpp_client_t *c, pending_t *p, int rc, const xmpp_el_t *reply)
{
    hmap_del(&c->by_id, p->id, strlen(p->id));
    net_deadq_del(&c->iqs, &p->dq);
    c->stats.iq_pending--;
    if (rc == 0)
        c->stats.iq_ok++;
    else if (rc == -EREMOTEIO)
        c->stats.iq_error++;
    else if (rc == -ETIMEDOUT)
        c->stats.iq_timeout++;
    else
        c->stats.iq_lost++;
    xmpp_iq_fn cb = p->cb;
    void *ud = p->ud;
    free(p->to);
    free(p);
    cb(ud, rc, reply);
}

static void on_iq_expired(net_deadq_t *q, net_deadq_item_t *it, void *ud)
{
    pend_finish(ud, (pending_t *)it, -ETIMEDOUT, NULL);
}

static void fail_all(xmpp_client_t *c, int rc)
{
    while (net_deadq_first(&c->iqs))
        pend_finish(c, (pending_t *)net_deadq_first(&c->iqs), rc, NULL);
}

/* ---- sending ----------------------------------------------------------------- */

static int send_str(xmpp_client_t *c, const char *s, size_t n)
{
    if (!c->conn || net_conn_closing(c->conn))
        return -ENOTCONN;
    return net_conn_write(c->conn, s, n);
}

static int send_header(xmpp_client_t *c)
{
    buf_t b = BUF_INIT(4096);
    int rc = buf_append_str(&b, "<?xml version='1.0'?><stream:stream to='");
    rc = rc ? rc : xmpp_xml_escape(&b, c->jid.domain);
    rc = rc ? rc : buf_append_str(&b, "' version='1.0' xml:lang='en' xmlns='jabber:client' "
                                      "xmlns:stream='" NS_STREAMS "'>");
    rc = rc ? rc : send_str(c, b.data, b.len);
    buf_free(&b);
    return rc;
}

/* ---- connection lifecycle ----------------------------------------------------- */

static void schedule_retry(xmpp_client_t *c)
{
    int64_t d = clock_backoff_ms(c->o.backoff_min_ms, c->o.backoff_max_ms, c->attempt, (uint32_t)str_seed64());
    if (c->attempt < 64) /* past the cap the count no longer matters */
        c->attempt++;
    uv_timer_start(&c->retry, on_retry_timer, (uint64_t)d, 0);
}

/* Close the connection for a reason of ours (stream error, timeout). */
static void drop(xmpp_client_t *c, const char *reason, const char *stream_cond)
{
    if (!c->conn)
        return;
    if (!c->close_reason) {
        str_copy(c->reason_buf, sizeof c->reason_buf, reason);
        c->close_reason = c->reason_buf;
    }
    if (stream_cond && !net_conn_closing(c->conn)) {
        char s[256];
        int n = snprintf(s, sizeof s, "<stream:error><%s xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>"
                                      "</stream:error></stream:stream>", stream_cond);
        net_conn_write(c->conn, s, (size_t)n);
    }
    net_conn_close(c->conn);
}

static void on_close(net_conn_t *nc, int err)
{
    xmpp_client_t *c = net_conn_data(nc);
    bool was_online = c->st == XST_ONLINE;
    bool in_tls = c->st == XST_TLS;
    c->conn = NULL;
    c->st = XST_OFFLINE;
    const char *why = c->close_reason ? c->close_reason : err ? log_strerror(err) : "server closed the stream";
    char reason[200];
    if (in_tls && !c->close_reason) /* net/conn logged the why (tls_handshake_failed) */
        snprintf(reason, sizeof reason, "STARTTLS handshake failed (%s): see tls_handshake_failed", why);
    else
        str_copy(reason, sizeof reason, why);
    c->close_reason = NULL;
    if (was_online) {
        c->stats.disconnects++;
        /* a login that lasted is a fresh start; one the server ends at once
         * (bad stanzas, kicked) keeps backing off */
        if (clock_mono_ms() - c->online_at >= STABLE_MS)
            c->attempt = 0;
    }
    fail_all(c, -ENOTCONN);
    if (c->freeing)
        return;
    uv_timer_stop(&c->retry);
    schedule_retry(c);
    if (c->o.on_state)
        c->o.on_state(c, false, reason, c->o.ud);
}

static void on_open(net_conn_t *nc)
{
    xmpp_client_t *c = net_conn_data(nc);
    if (c->st == XST_TLS)
        c->tls_on = true;
    c->st = XST_FEATURES;
    if (xmpp_parser_reset(c->parser) || send_header(c))
        drop(c, "out of memory", NULL);
}

/* ---- negotiation ----------------------------------------------------------------- */

static bool has_mech(const xmpp_el_t *mechs, const char *name)
{
    for (const xmpp_el_t *m = mechs ? mechs->kids : NULL; m; m = m->next)
        if (xmpp_el_is(m, NS_SASL, "mechanism") && strcmp(m->text, name) == 0)
            return true;
    return false;
}

static void on_features(xmpp_client_t *c, const xmpp_el_t *f)
{
    if (!c->tls_on && c->o.tls) {
        if (!xmpp_el_child(f, NS_TLS, "starttls"))
            return drop(c, "server offers no STARTTLS", "policy-violation");
        static const char st[] = "<starttls xmlns='" NS_TLS "'/>";
        send_str(c, st, sizeof st - 1);
        c->st = XST_TLS;
        return;
    }
    if (!c->authed) {
        if (!has_mech(xmpp_el_child(f, NS_SASL, "mechanisms"), "PLAIN"))
            return drop(c, "server offers no SASL PLAIN", "policy-violation");
        /* authzid empty, authcid = localpart (RFC 4616). Both buffers hold
         * the password (plain, then base64): sized once before it goes in
         * (a realloc would leave a copy behind), wiped however it ends. */
        static const char open_auth[] = "<auth xmlns='" NS_SASL "' mechanism='PLAIN'>";
        static const char close_auth[] = "</auth>";
        size_t rawlen = 2 + strlen(c->jid.local) + strlen(c->password);
        buf_t raw = BUF_INIT(4096), b = BUF_INIT(8192);
        int rc = buf_reserve(&raw, rawlen);
        rc = rc ? rc : buf_reserve(&b, sizeof open_auth + (rawlen + 2) / 3 * 4 + sizeof close_auth);
        rc = rc ? rc : buf_append_byte(&raw, '\0');
        rc = rc ? rc : buf_append_str(&raw, c->jid.local);
        rc = rc ? rc : buf_append_byte(&raw, '\0');
        rc = rc ? rc : buf_append_str(&raw, c->password);
        rc = rc ? rc : buf_append_str(&b, open_auth);
        rc = rc ? rc : str_base64_encode(&b, raw.data, raw.len);
        rc = rc ? rc : buf_append_str(&b, close_auth);
        if (!rc && c->conn)
            net_conn_secret(c->conn); /* and the connection's queue wipes its copy */
        rc = rc ? rc : send_str(c, b.data, b.len);
        buf_free_secret(&raw);
        buf_free_secret(&b);
        if (rc)
            return drop(c, "cannot send auth", NULL);
        c->st = XST_AUTH;
        return;
    }
    if (!xmpp_el_child(f, NS_BIND, "bind"))
        return drop(c, "server offers no resource binding", "policy-violation");
    buf_t b = BUF_INIT(4096);
    int rc = buf_append_str(&b, "<iq type='set' id='bind'><bind xmlns='" NS_BIND "'>");
    if (!rc && c->jid.resource[0]) {
        rc = buf_append_str(&b, "<resource>");
        rc = rc ? rc : xmpp_xml_escape(&b, c->jid.resource);
        rc = rc ? rc : buf_append_str(&b, "</resource>");
    }
    rc = rc ? rc : buf_append_str(&b, "</bind></iq>");
    rc = rc ? rc : send_str(c, b.data, b.len);
    buf_free(&b);
    if (rc)
        return drop(c, "cannot send bind", NULL);
    c->st = XST_BIND;
}

static void on_bound(xmpp_client_t *c, const xmpp_el_t *iq)
{
    const xmpp_el_t *jid = xmpp_el_child(xmpp_el_child(iq, NS_BIND, "bind"), NS_BIND, "jid");
    xmpp_jid_t j;
    if (strcmp(xmpp_el_attr(iq, "type") ? xmpp_el_attr(iq, "type") : "", "result") != 0 || !jid ||
        xmpp_jid_parse(jid->text, &j) != 0)
        return drop(c, "resource binding refused", NULL);
    free(c->bound);
    c->bound = strdup(jid->text);
    if (!c->bound)
        return drop(c, "out of memory", NULL);
    /* available, but with a negative priority: IQs to our full JID come,
     * messages to the bare JID do not (RFC 6121 4.7.2.3) */
    static const char presence[] = "<presence><priority>-1</priority></presence>";
    send_str(c, presence, sizeof presence - 1);
    c->st = XST_ONLINE;
    c->online_at = clock_mono_ms();
    c->stats.connects++;
    uv_timer_stop(&c->retry);
    if (c->o.keepalive_ms > 0)
        uv_timer_start(&c->retry, on_retry_timer, (uint64_t)c->o.keepalive_ms, 0);
    if (c->o.on_state)
        c->o.on_state(c, true, NULL, c->o.ud);
}

static void on_iq(xmpp_client_t *c, const xmpp_el_t *iq)
{
    const char *type = xmpp_el_attr(iq, "type");
    const char *id = xmpp_el_attr(iq, "id");
    if (!type || !id)
        return; /* RFC 6120 8.2.3: both required; nothing sensible to answer */
    if (strcmp(type, "result") == 0 || strcmp(type, "error") == 0) {
        pending_t *p = hmap_get(&c->by_id, id, strlen(id));
        const char *from = xmpp_el_attr(iq, "from");
        /* an answer must come from whom we asked (RFC 6120 8.1.2.1): ids
         * are guessable, and another resource of the CPE's account, or any
         * other account, could otherwise answer for it. Our IQs always name
         * `to`, so an answer without `from` is not one either. */
        if (!p || !from || !xmpp_jid_matches(p->to, from)) {
            log_debug("xmpp_answer_ignored", LF_S("id", id), LF_S("from", from ? from : ""));
            return;
        }
        pend_finish(c, p, type[0] == 'r' ? 0 : -EREMOTEIO, iq);
        return;
    }
    if (strcmp(type, "get") != 0 && strcmp(type, "set") != 0)
        return;
    if (c->o.on_iq)
        c->o.on_iq(c, iq, c->o.ud);
    else
        xmpp_client_reply(c, iq, "cancel", "service-unavailable", NULL);
}

static void on_stanza(void *ud, const xmpp_el_t *s)
{
    xmpp_client_t *c = ud;
    if (c->restart || !c->conn || net_conn_closing(c->conn))
        return;
    if (xmpp_el_is(s, NS_STREAMS, "error")) {
        const xmpp_el_t *k = xmpp_el_first(s);
        const char *sp = k ? strrchr(k->name, ' ') : NULL;
        snprintf(c->reason_buf, sizeof c->reason_buf, "stream error: %s",
                 sp ? sp + 1 : k ? k->name : "unspecified");
        c->close_reason = c->reason_buf;
        c->restart = RESTART_CLOSE;
        xmpp_parser_stop(c->parser);
        return;
    }
    switch (c->st) {
    case XST_FEATURES:
        if (xmpp_el_is(s, NS_STREAMS, "features"))
            on_features(c, s);
        return;
    case XST_TLS:
        if (xmpp_el_is(s, NS_TLS, "proceed")) {
            c->restart = RESTART_TLS;
            xmpp_parser_stop(c->parser);
        } else {
            drop(c, "STARTTLS refused", NULL);
        }
        return;
    case XST_AUTH:
        if (xmpp_el_is(s, NS_SASL, "success")) {
            c->authed = true;
            c->restart = RESTART_STREAM;
            xmpp_parser_stop(c->parser);
        } else if (xmpp_el_is(s, NS_SASL, "failure")) {
            const xmpp_el_t *k = xmpp_el_first(s);
            const char *sp = k ? strrchr(k->name, ' ') : NULL;
            char why[160];
            snprintf(why, sizeof why, "authentication failed: %s", sp ? sp + 1 : "unspecified");
            drop(c, why, NULL);
        }
        return;
    case XST_BIND:
        if (xmpp_el_is(s, "jabber:client", "iq") && strcmp(xmpp_el_attr(s, "id") ? xmpp_el_attr(s, "id") : "", "bind") == 0)
            on_bound(c, s);
        return;
    case XST_ONLINE:
        if (xmpp_el_is(s, "jabber:client", "iq"))
            on_iq(c, s);
        return; /* messages and presence: not ours */
    default:
        return;
    }
}

static void on_stream_open(void *ud, const xmpp_el_t *stream)
{
    xmpp_client_t *c = ud;
    if (!xmpp_el_is(stream, NS_STREAMS, "stream")) {
        c->restart = RESTART_CLOSE;
        c->close_reason = "not an XMPP stream";
        xmpp_parser_stop(c->parser);
    }
}

static void on_stream_close(void *ud)
{
    xmpp_client_t *c = ud;
    c->close_reason = c->close_reason ? c->close_reason : "server closed the stream";
    c->restart = RESTART_CLOSE;
}

static void on_read(net_conn_t *nc, const char *data, size_t len)
{
    xmpp_client_t *c = net_conn_data(nc);
    const char *reason = NULL;
    int rc = xmpp_parser_feed(c->parser, data, len, &reason);
    if (!c->conn)
        return;
    int what = c->restart;
    c->restart = RESTART_NONE;
    if (rc) {
        log_debug("xmpp_bad_stream", LF_S("jid", c->jid_str), LF_S("reason", reason));
        char why[200];
        snprintf(why, sizeof why, "bad stream from server: %s", reason);
        return drop(c, why, strstr(reason, "too large") ? "policy-violation" : "not-well-formed");
    }
    switch (what) {
    case RESTART_TLS:
        if (net_conn_starttls(c->conn, c->o.tls, c->jid.domain, c->o.connect_timeout_ms))
            drop(c, "STARTTLS failed", NULL);
        return;
    case RESTART_STREAM:
        if (xmpp_parser_reset(c->parser) || send_header(c))
            drop(c, "out of memory", NULL);
        c->st = XST_FEATURES;
        return;
    case RESTART_CLOSE:
        if (c->conn)
            net_conn_close(c->conn);
        return;
    default:
        return;
    }
}

static const net_conn_cbs_t conn_cbs = {
    .on_open = on_open,
    .on_read = on_read,
    .on_close = on_close,
};

static void connect_now(xmpp_client_t *c)
{
    if (c->conn || c->freeing)
        return;
    c->tls_on = c->authed = false;
    c->restart = RESTART_NONE;
    c->close_reason = NULL;
    c->st = XST_CONNECTING;
    net_connect_opts_t co = { .host = c->host, .port = c->o.port, .timeout_ms = c->o.connect_timeout_ms };
    int rc = net_connect(c->loop, &co, &conn_cbs, c, &c->conn);
    if (rc) {
        c->conn = NULL;
        c->st = XST_OFFLINE;
        schedule_retry(c);
        if (c->o.on_state)
            c->o.on_state(c, false, log_strerror(rc), c->o.ud);
        return;
    }
    net_conn_keepalive(c->conn, 60);
    /* the whole negotiation has a deadline too, not only TCP + TLS */
    uv_timer_start(&c->retry, on_retry_timer, (uint64_t)c->o.connect_timeout_ms, 0);
}

static void on_retry_timer(uv_timer_t *t)
{
    xmpp_client_t *c = t->data;
    if (!c->conn)
        connect_now(c);
    else if (c->st != XST_ONLINE)
        drop(c, "login timed out", NULL);
    else if (c->o.keepalive_ms > 0) {
        /* whitespace between stanzas (RFC 6120 4.6.1): keeps NAT bindings
         * and finds a dead path by the write failing */
        send_str(c, " ", 1);
        uv_timer_start(&c->retry, on_retry_timer, (uint64_t)c->o.keepalive_ms, 0);
    }
}

/* ---- the API ------------------------------------------------------------------- */

static const xmpp_parser_cbs_t parser_cbs = {
    .on_open = on_stream_open,
    .on_stanza = on_stanza,
    .on_close = on_stream_close,
};

/* The client's own copy of the password, wiped before it is freed. */
static void free_password(xmpp_client_t *c)
{
    if (c->password)
        OPENSSL_cleanse(c->password, strlen(c->password));
    free(c->password);
    c->password = NULL;
}

int xmpp_client_new(uv_loop_t *loop, const xmpp_client_opts_t *o, xmpp_client_t **out)
{
    *out = NULL;
    if (!o->jid || !o->password || (!o->tls && !o->allow_plain))
        return -EINVAL;
    xmpp_client_t *c = calloc(1, sizeof *c);
    if (!c)
        return -ENOMEM;
    if (xmpp_jid_parse(o->jid, &c->jid) || !c->jid.local[0]) {
        free(c);
        return -EINVAL;
    }
    c->loop = loop;
    c->o = *o;
    if (!c->o.port)
        c->o.port = 5222;
    if (!c->o.max_stanza)
        c->o.max_stanza = 65536;
    if (c->o.iq_timeout_ms <= 0)
        c->o.iq_timeout_ms = 10000;
    if (c->o.connect_timeout_ms <= 0)
        c->o.connect_timeout_ms = 15000;
    if (c->o.keepalive_ms == 0)
        c->o.keepalive_ms = 60000;
    if (c->o.backoff_min_ms <= 0)
        c->o.backoff_min_ms = 1000;
    if (c->o.backoff_max_ms < c->o.backoff_min_ms)
        c->o.backoff_max_ms = c->o.backoff_min_ms > 60000 ? c->o.backoff_min_ms : 60000;
    c->jid_str = strdup(o->jid);
    c->password = strdup(o->password);
    c->host = strdup(o->host && *o->host ? o->host : c->jid.domain);
    c->parser = xmpp_parser_new(c->o.max_stanza, &parser_cbs, c);
    hmap_init(&c->by_id);
    if (!c->jid_str || !c->password || !c->host || !c->parser) {
        free(c->jid_str);
        free_password(c);
        free(c->host);
        xmpp_parser_free(c->parser);
        hmap_free(&c->by_id);
        free(c);
        return -ENOMEM;
    }
    c->o.jid = c->jid_str;
    c->o.password = c->password;
    c->o.host = c->host;
    uv_timer_init(loop, &c->retry);
    c->retry.data = c;
    net_deadq_init(loop, &c->iqs, on_iq_expired, c);
    connect_now(c);
    *out = c;
    return 0;
}

static void on_handle_closed(uv_handle_t *h)
{
    xmpp_client_t *c = h->data;
    if (--c->closes)
        return;
    xmpp_parser_free(c->parser);
    hmap_free(&c->by_id);
    free(c->jid_str);
    free_password(c);
    free(c->host);
    free(c->bound);
    free(c);
}

void xmpp_client_free(xmpp_client_t *c)
{
    if (!c)
        return;
    c->freeing = true;
    if (c->conn) {
        net_conn_t *nc = c->conn;
        if (c->st == XST_ONLINE && !net_conn_closing(nc))
            net_conn_write(nc, "</stream:stream>", 16);
        net_conn_set_cbs(nc, NULL, NULL); /* no callbacks into a freed client */
        net_conn_close(nc);
        c->conn = NULL;
    }
    fail_all(c, -ECANCELED);
    c->closes = 2;
    uv_close((uv_handle_t *)&c->retry, on_handle_closed);
    net_deadq_close(&c->iqs, on_handle_closed);
}

bool xmpp_client_online(const xmpp_client_t *c) { return c && c->st == XST_ONLINE; }
const char *xmpp_client_jid(const xmpp_client_t *c) { return c->bound ? c->bound : c->jid_str; }
const char *xmpp_client_state(const xmpp_client_t *c) { return xst_names[c->st]; }

void xmpp_client_stats(const xmpp_client_t *c, xmpp_client_stats_t *st) { *st = c->stats; }

int xmpp_client_iq(xmpp_client_t *c, const char *type, const char *to, const char *payload,
                   xmpp_iq_fn cb, void *ud)
{
    if (c->st != XST_ONLINE)
        return -ENOTCONN;
    pending_t *p = calloc(1, sizeof *p);
    if (!p)
        return -ENOMEM;
    snprintf(p->id, sizeof p->id, "op%llu", (unsigned long long)++c->seq);
    p->to = strdup(to);
    /* a payload may carry a secret (a connection request's password, TR-069
     * Annex K): the stanza is built in one allocation and wiped after */
    const char *pl = payload ? payload : "";
    buf_t b = BUF_INIT(1 << 20);
    int rc = p->to ? 0 : -ENOMEM;
    rc = rc ? rc : buf_reserve(&b, 64 + strlen(type) + sizeof p->id + 6 * strlen(to) + strlen(pl));
    rc = rc ? rc : buf_printf(&b, "<iq type='%s' id='%s' to='", type, p->id);
    rc = rc ? rc : xmpp_xml_escape(&b, to);
    rc = rc ? rc : buf_append_str(&b, "'>");
    rc = rc ? rc : buf_append_str(&b, pl);
    rc = rc ? rc : buf_append_str(&b, "</iq>");
    if (!rc && payload && c->conn)
        net_conn_secret(c->conn);
    rc = rc ? rc : send_str(c, b.data, b.len);
    buf_free_secret(&b);
    if (rc == 0)
        rc = hmap_put(&c->by_id, p->id, strlen(p->id), p);
    if (rc) {
        free(p->to);
        free(p);
        return rc;
    }
    p->cb = cb;
    p->ud = ud;
    net_deadq_add(&c->iqs, &p->dq, clock_mono_ms() + c->o.iq_timeout_ms);
    c->stats.iq_pending++;
    c->stats.iq_sent++;
    return 0;
}

int xmpp_client_reply(xmpp_client_t *c, const xmpp_el_t *iq, const char *error_type,
                      const char *condition, const char *payload_xml)
{
    const char *id = xmpp_el_attr(iq, "id");
    const char *from = xmpp_el_attr(iq, "from");
    buf_t b = BUF_INIT(1 << 16);
    int rc = buf_printf(&b, "<iq type='%s' id='", condition ? "error" : "result");
    rc = rc ? rc : xmpp_xml_escape(&b, id ? id : "");
    if (!rc && from) {
        rc = buf_append_str(&b, "' to='");
        rc = rc ? rc : xmpp_xml_escape(&b, from);
    }
    rc = rc ? rc : buf_append_str(&b, condition ? "'>" : "'/>");
    if (!rc && condition) {
        rc = buf_append_str(&b, payload_xml ? payload_xml : "");
        rc = rc ? rc : buf_printf(&b, "<error type='%s'><%s xmlns='" XMPP_NS_STANZAS "'/></error></iq>",
                                  error_type ? error_type : "cancel", condition);
    }
    rc = rc ? rc : send_str(c, b.data, b.len);
    buf_free(&b);
    return rc;
}
