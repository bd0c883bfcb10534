/*
 * ag_socks: a SOCKS5 listener's clients, from accept to their CONNECT
 * request (RFC 1928; RFC 1929 username/password when the listener has
 * credentials, no authentication otherwise). The bytes are parsed by
 * codec/socks5. Once the request is in, the connection becomes a stream
 * towards the listener's agent (ag_stream_socks_start): the target the
 * client named -- an IP address, or a name that the far agent resolves --
 * is opened there, subject to that agent's whitelist and the gateways'
 * rules, and the stream's Ack becomes the SOCKS reply, whose code tells a
 * refusal by the rules (2), an unreachable network or host (3, 4) and a
 * refused connection (5) apart.
 *
 * Hostile clients: the handshake must be over within --connect-timeout, in
 * at most AG_SOCKS_BUF bytes; wrong passwords count per address in a
 * net/authguard (10 in a row lock the address out for a minute, doubling),
 * whose reports are the only log lines they cause.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "codec/socks5.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/str.h"
#include "tunnel/ag.h"

enum {
    AG_SOCKS_BUF = 2 + 255 + 3 + 255 + 255 + SOCKS5_REQUEST_MAX, /* all three messages */
    AG_SOCKS_GUARD_MAX = 4096,
    AG_SOCKS_MAX_FAILURES = 10,
    AG_SOCKS_LOCKOUT_MS = 60000,
};

typedef enum { SK_GREETING, SK_AUTH, SK_REQUEST } sk_phase_t;

typedef struct ag_socks_conn {
    ag_forward_t *f;
    sk_phase_t phase;
    size_t len;
    uint8_t buf[AG_SOCKS_BUF];
} ag_socks_conn_t;

/* Reply codes for the Ack Codes (TUNNEL_CODE_*), and for gateways that
 * send none, for the start of their Message. */
static const struct {
    const char *code, *message;
    socks5_reply_t reply;
} replies[] = {
    { TUNNEL_CODE_ACL, "denied by ACL", SOCKS5_REP_NOT_ALLOWED },
    { TUNNEL_CODE_WHITELIST, "not in whitelist", SOCKS5_REP_NOT_ALLOWED },
    { TUNNEL_CODE_REFUSED, "connection refused", SOCKS5_REP_REFUSED },
    { TUNNEL_CODE_NET_UNREACHABLE, "network unreachable", SOCKS5_REP_NET_UNREACHABLE },
    { TUNNEL_CODE_UNREACHABLE, "host unreachable", SOCKS5_REP_HOST_UNREACHABLE },
    { TUNNEL_CODE_UNREACHABLE, "connect timeout", SOCKS5_REP_HOST_UNREACHABLE },
    { TUNNEL_CODE_RESOLVE, "cannot resolve", SOCKS5_REP_HOST_UNREACHABLE },
    { TUNNEL_CODE_TIMEOUT, "open timeout", SOCKS5_REP_HOST_UNREACHABLE },
    { TUNNEL_CODE_OFFLINE, "agent ", SOCKS5_REP_NET_UNREACHABLE },
    { TUNNEL_CODE_INVALID, "names as targets", SOCKS5_REP_ATYP_UNSUPPORTED },
};

int ag_socks_reply_code(const char *code, const char *message)
{
    size_t n = sizeof replies / sizeof replies[0];
    if (code && *code) {
        if (strcmp(code, TUNNEL_CODE_INVALID) == 0 && message &&
            str_starts_with(message, "names as targets"))
            return SOCKS5_REP_ATYP_UNSUPPORTED;
        for (size_t i = 0; i < n; i++)
            if (strcmp(code, replies[i].code) == 0 && strcmp(code, TUNNEL_CODE_INVALID) != 0)
                return replies[i].reply;
        return SOCKS5_REP_FAILURE;
    }
    for (size_t i = 0; message && i < n; i++)
        if (str_starts_with(message, replies[i].message))
            return replies[i].reply;
    return SOCKS5_REP_FAILURE;
}

static void say(const authguard_report_t *rep, void *ud)
{
    (void)ud;
    log_warn("socks_auth_failed", LF_S("addr", rep->addr), LF_U("failures", rep->count),
             LF_I("locked_ms", rep->locked_ms), LF_U("strike", rep->strike));
}

static authguard_t *guard(ag_t *ag)
{
    if (!ag->socks_guard_init) {
        authguard_init(&ag->socks_guard, AG_SOCKS_GUARD_MAX, AG_SOCKS_MAX_FAILURES,
                       AG_SOCKS_LOCKOUT_MS);
        authguard_set_say(&ag->socks_guard, say, NULL);
        ag->socks_guard_init = true;
    }
    return &ag->socks_guard;
}

static void fail(net_conn_t *c, ag_socks_conn_t *sc, const char *why, const uint8_t *reply,
                 size_t rlen)
{
    ag_t *ag = sc->f->ag;
    ag->c_socks_refused++;
    sc->f->refused++;
    log_info("socks_refused", LF_U("listener", sc->f->id), LF_S("peer", net_conn_peer(c)),
             LF_S("reason", why));
    if (rlen)
        net_conn_write(c, reply, rlen);
    net_conn_close(c); /* after the reply, if any */
}

/* The request is in: hand the connection over to a stream. */
static void handover(net_conn_t *c, ag_socks_conn_t *sc, const socks5_request_t *rq, size_t used)
{
    ag_forward_t *f = sc->f;
    ag_t *ag = f->ag;
    uint8_t r[SOCKS5_REPLY_LEN];
    /* ("1.2.3.4" sent as a name is taken as that address) */
    if (rq->atyp == SOCKS5_ATYP_DOMAIN && !tunnel_host_valid(rq->host, strlen(rq->host))) {
        fail(c, sc, "not a DNS name", r, socks5_reply(r, SOCKS5_REP_HOST_UNREACHABLE));
        return;
    }
    ag->c_socks_requests++;
    log_debug("socks_connect", LF_U("listener", f->id), LF_S("peer", net_conn_peer(c)),
              LF_S("host", rq->host), LF_I("port", rq->port));
    net_conn_timer(c, -1, NULL);
    char early[AG_SOCKS_BUF];
    size_t n = sc->len - used;
    memcpy(early, sc->buf + used, n);
    free(sc);
    /* the stream takes its own reference to the listener, then ours goes */
    ag_stream_socks_start(f, c, rq->host, rq->port, early, n);
    ag_forward_stream_gone(f);
}

static void on_read(net_conn_t *c, const char *data, size_t len)
{
    ag_socks_conn_t *sc = net_conn_data(c);
    ag_forward_t *f = sc->f;
    uint8_t out[SOCKS5_REPLY_LEN];
    if (len > sizeof sc->buf - sc->len) {
        fail(c, sc, "handshake too long", NULL, 0);
        return;
    }
    memcpy(sc->buf + sc->len, data, len);
    sc->len += len;
    size_t used = 0;
    for (;;) {
        const char *why = "malformed";
        const uint8_t *p = sc->buf + used;
        size_t n = sc->len - used;
        int rc;
        if (sc->phase == SK_GREETING) {
            socks5_greeting_t g;
            if ((rc = socks5_parse_greeting(p, n, &g, &why)) <= 0) {
                if (rc < 0)
                    fail(c, sc, why, NULL, 0);
                break;
            }
            used += (size_t)rc;
            uint8_t m = f->user[0] ? (g.userpass ? SOCKS5_METHOD_USERPASS : SOCKS5_METHOD_UNACCEPTABLE)
                                   : (g.none ? SOCKS5_METHOD_NONE : SOCKS5_METHOD_UNACCEPTABLE);
            if (m == SOCKS5_METHOD_UNACCEPTABLE) {
                fail(c, sc, f->user[0] ? "client offers no username/password"
                                       : "client offers no 'no authentication'",
                     out, socks5_method_reply(out, m));
                return;
            }
            net_conn_write(c, out, socks5_method_reply(out, m));
            sc->phase = m == SOCKS5_METHOD_USERPASS ? SK_AUTH : SK_REQUEST;
        } else if (sc->phase == SK_AUTH) {
            socks5_userpass_t up;
            if ((rc = socks5_parse_userpass(p, n, &up, &why)) <= 0) {
                if (rc < 0)
                    fail(c, sc, why, NULL, 0);
                break;
            }
            used += (size_t)rc;
            const char *host = net_conn_peer_host(c);
            int64_t now = clock_mono_ms();
            bool ok = authguard_check(guard(f->ag), host, now, NULL) == 0 &&
                      str_ct_equal(up.user, up.user_len, f->user, strlen(f->user)) &&
                      str_ct_equal(up.pass, up.pass_len, f->pass, strlen(f->pass));
            OPENSSL_cleanse(&up, sizeof up);
            if (!ok) {
                if (authguard_locked(guard(f->ag), host, now) == 0)
                    authguard_fail(guard(f->ag), host, now, NULL);
                f->ag->c_socks_refused++;
                f->refused++;
                net_conn_write(c, out, socks5_userpass_reply(out, false));
                net_conn_close(c);
                return;
            }
            authguard_ok(guard(f->ag), host);
            net_conn_write(c, out, socks5_userpass_reply(out, true));
            sc->phase = SK_REQUEST;
        } else {
            socks5_request_t rq;
            int reply;
            if ((rc = socks5_parse_request(p, n, &rq, &reply, &why)) <= 0) {
                if (rc < 0)
                    fail(c, sc, why, out,
                         reply == SOCKS5_NO_REPLY ? 0 : socks5_reply(out, (socks5_reply_t)reply));
                break;
            }
            handover(c, sc, &rq, used + (size_t)rc);
            return;
        }
    }
    if (used) {
        memmove(sc->buf, sc->buf + used, sc->len - used);
        sc->len -= used;
    }
}

static void on_timeout(net_conn_t *c)
{
    ag_socks_conn_t *sc = net_conn_data(c);
    fail(c, sc, "handshake timeout", NULL, 0);
}

static void on_close(net_conn_t *c, int err)
{
    ag_socks_conn_t *sc = net_conn_data(c);
    (void)err;
    ag_forward_t *f = sc->f;
    free(sc);
    ag_forward_stream_gone(f);
}

static const net_conn_cbs_t socks_cbs = {
    .on_read = on_read,
    .on_close = on_close, /* on_eof NULL: a client that leaves mid-handshake is closed */
};

void ag_socks_accept(ag_forward_t *f, net_conn_t *c)
{
    ag_t *ag = f->ag;
    ag_socks_conn_t *sc = calloc(1, sizeof *sc);
    if (!sc || ag->stopping) {
        free(sc);
        net_conn_abort(c);
        return;
    }
    if (authguard_locked(guard(ag), net_conn_peer_host(c), clock_mono_ms()) > 0 && f->user[0]) {
        /* locked out: no handshake at all, nothing to log per attempt */
        authguard_check(guard(ag), net_conn_peer_host(c), clock_mono_ms(), NULL);
        free(sc);
        net_conn_abort(c);
        return;
    }
    sc->f = f;
    f->active++;
    net_conn_set_cbs(c, &socks_cbs, sc);
    net_conn_set_limits(c, &(net_limits_t){ .high_water = 16384, .low_water = 4096,
                                            .max_queue = 65536 });
    net_conn_timer(c, ag->opts.connect_timeout_ms, on_timeout);
}

void ag_socks_free(ag_t *ag)
{
    if (ag->socks_guard_init)
        authguard_free(&ag->socks_guard);
    ag->socks_guard_init = false;
}
