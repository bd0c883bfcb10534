/*
 * cr_xmpp: connection requests over XMPP (TR-069 Annex K) for every
 * simulated CPE. With --xmpp-server each CPE keeps its own login,
 * <serial>@<domain>/<resource> (one net/xmpp client, one TCP+TLS connection
 * each, all on the fleet's loop), reports that JID as
 * ManagementServer.ConnReqJabberID in its Informs, and answers a
 * connectionRequest IQ: its ConnectionRequestUsername/Password -> an empty
 * result and a session with "6 CONNECTION REQUEST"; wrong ones ->
 * not-authorized; a sender not in ConnReqAllowedJabberIDs (when set), or a
 * CPE rebooting -> service-unavailable.
 *
 * Logins start paced (--xmpp-login-rate, in batches every LOGIN_TICK_MS): a
 * fleet of thousands does not hit the server with thousands of TLS
 * handshakes at once (Prosody's accept backlog overflows and logins time
 * out); each client then reconnects on its own with backoff.
 */
#include "cpesim/fleet.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/log.h"
#include "core/str.h"
#include "net/xmpp.h"

enum { LOGIN_TICK_MS = 20 };

typedef struct xcpe {
    struct cr_xmpp *x;
    xmpp_client_t *client;
    bool online;
} xcpe_t;

struct cr_xmpp {
    fleet_t *f;
    tls_ctx_t *tls;
    xcpe_t *cpes;
    uint32_t started, online;
    int64_t t0;         /* mono ms the logins began */
    uv_timer_t pace;
    bool pace_live;
    char host[NET_HOST_MAX];
    uint16_t port;
    log_rate_t offline_rate;
};

int cr_xmpp_jid(fleet_t *f, const cpe_t *c, buf_t *out)
{
    const cpesim_opts_t *o = f->o;
    if (!o->xmpp_server)
        return buf_append_str(out, "");
    char serial[96], host[NET_HOST_MAX];
    uint16_t port;
    fleet_serial(f, c, serial, sizeof serial);
    const char *domain = o->xmpp_domain;
    if (!domain) {
        if (net_split_hostport(o->xmpp_server, host, sizeof host, &port) != 0)
            return -EINVAL;
        domain = host;
    }
    return buf_printf(out, "%s@%s/%s", serial, domain, o->xmpp_resource ? o->xmpp_resource : "cwmp");
}

/* ManagementServer.ConnReqJabberID next to ConnectionRequestURL, whatever
 * the root ("Device." or "InternetGatewayDevice."). */
int cr_xmpp_inform_param(fleet_t *f, const dm_view_t *v, dm_visit_fn fn, void *ud)
{
    const char *url = f->xmpp ? dm_wk_name(f->model, DM_WK_CR_URL) : NULL;
    const char *tail = url ? strrchr(url, '.') : NULL;
    if (!tail)
        return 0;
    char name[DM_NAME_MAX * 2];
    snprintf(name, sizeof name, "%.*s.ConnReqJabberID", (int)(tail - url), url);
    int rc = dm_get_values(v, name, fn, ud);
    return rc > 0 ? 0 : rc; /* a model without it (CSV): nothing to report */
}

uint32_t cr_xmpp_online(const fleet_t *f) { return f->xmpp ? f->xmpp->online : 0; }

/* ---- answering ------------------------------------------------------------------ */

static int take_value(void *ud, const dm_item_t *it)
{
    return buf_append_str(ud, it->value ? it->value : "");
}

static int mgmt_value(fleet_t *f, cpe_t *c, const char *leaf, buf_t *out)
{
    const char *url = dm_wk_name(f->model, DM_WK_CR_URL);
    const char *tail = url ? strrchr(url, '.') : NULL;
    if (!tail)
        return -ENOENT;
    char name[DM_NAME_MAX * 2];
    snprintf(name, sizeof name, "%.*s.%s", (int)(tail - url), url, leaf);
    fleet_env_t env;
    dm_view_t v = fleet_view(f, c, &env);
    return dm_get_values(&v, name, take_value, out) ? -ENOENT : 0;
}

/* Is `from` in the comma-separated list (bare JIDs match any resource)? */
static bool jid_listed(const char *list, const char *from)
{
    for (const char *p = list; *p;) {
        while (*p == ' ' || *p == ',')
            p++;
        size_t n = strcspn(p, ",");
        while (n && p[n - 1] == ' ')
            n--;
        if (n) {
            char one[XMPP_JID_PART_MAX * 3 + 3];
            str_copyn(one, sizeof one, p, n);
            /* TR-181: a full JID must match exactly, a bare one matches any resource */
            if (xmpp_jid_matches(one, from))
                return true;
        }
        p += strcspn(p, ",");
    }
    return false;
}

static bool cred_eq(const buf_t *want, const char *got)
{
    const char *w = want->data ? want->data : "";
    return str_ct_equal(w, strlen(w), got, strlen(got));
}

static void refuse(xcpe_t *xc, const xmpp_el_t *iq, const char *serial, const char *type, const char *cond,
                   const char *why)
{
    fleet_t *f = xc->x->f;
    f->st.cr_rejected++;
    const char *from = xmpp_el_attr(iq, "from");
    log_info("connection_request_refused", LF_S("cpe", serial), LF_S("via", "xmpp"),
             LF_S("from", from ? from : ""), LF_S("reason", why));
    buf_t echo = BUF_INIT(4096); /* the request's payload goes back inside the error (RFC 6120 8.3.1) */
    const char *u = NULL, *p = NULL;
    if (xmpp_cr_parse(iq, &u, &p) == 0 && xmpp_cr_build(&echo, u, "") != 0)
        buf_reset(&echo);
    xmpp_client_reply(xc->client, iq, type, cond, echo.data);
    buf_free(&echo);
}

static void on_iq(xmpp_client_t *cl, const xmpp_el_t *iq, void *ud)
{
    xcpe_t *xc = ud;
    fleet_t *f = xc->x->f;
    cpe_t *c = &f->cpes[xc - xc->x->cpes];
    char serial[96];
    fleet_serial(f, c, serial, sizeof serial);
    const char *user, *pass;
    int rc = xmpp_cr_parse(iq, &user, &pass);
    if (rc == -ENOENT)
        return (void)xmpp_client_reply(cl, iq, "cancel", "feature-not-implemented", NULL);
    if (rc)
        return refuse(xc, iq, serial, "modify", "bad-request", "malformed connectionRequest");
    const char *from = xmpp_el_attr(iq, "from");
    buf_t allowed = BUF_INIT(DM_VALUE_MAX);
    if (mgmt_value(f, c, "ConnReqAllowedJabberIDs", &allowed) != 0 || !allowed.data || !allowed.data[0]) {
        buf_reset(&allowed);
        buf_append_str(&allowed, f->o->xmpp_allowed_jid ? f->o->xmpp_allowed_jid : "");
    }
    bool listed = !allowed.data || !allowed.data[0] || (from && jid_listed(allowed.data, from));
    buf_free(&allowed);
    if (!listed)
        return refuse(xc, iq, serial, "cancel", "service-unavailable", "sender not in ConnReqAllowedJabberIDs");
    fleet_env_t env;
    dm_view_t v = fleet_view(f, c, &env);
    buf_t u = BUF_INIT(1024), p = BUF_INIT(1024);
    bool ok = dm_wk_get(&v, DM_WK_CR_USER, &u) == 0 && dm_wk_get(&v, DM_WK_CR_PASS, &p) == 0 &&
              ((int)cred_eq(&u, user) & (int)cred_eq(&p, pass)); /* both compared, always */
    buf_free(&u);
    buf_free_secret(&p);
    if (!ok)
        return refuse(xc, iq, serial, "cancel", "not-authorized", "bad credentials");
    if ((c->flags & CPE_OFFLINE) || f->stopping)
        return refuse(xc, iq, serial, "wait", "service-unavailable", "rebooting");
    f->st.cr_answered++;
    log_debug("connection_request", LF_S("cpe", serial), LF_S("via", "xmpp"), LF_S("from", from ? from : ""),
              LF_B("in_session", c->sess != NULL));
    xmpp_client_reply(cl, iq, NULL, NULL, NULL);
    fleet_trigger(f, c, EV_CONNREQ);
}

static void on_state(xmpp_client_t *cl, bool online, const char *reason, void *ud)
{
    xcpe_t *xc = ud;
    struct cr_xmpp *x = xc->x;
    if (online == xc->online) {
        if (!online) {
            uint64_t unsaid = 0;
            if (log_rate_ok(&x->offline_rate, clock_mono_ms(), 5000, &unsaid))
                log_info("xmpp_login_failed", LF_S("jid", xmpp_client_jid(cl)), LF_S("reason", reason),
                         LF_U("unsaid", unsaid));
        }
        return;
    }
    xc->online = online;
    if (online) {
        x->online++;
        log_debug("xmpp_online", LF_S("jid", xmpp_client_jid(cl)));
        if (x->online == x->f->count)
            log_info("xmpp_all_online", LF_U("cpes", x->online));
        return;
    }
    x->online--;
    uint64_t unsaid = 0;
    if (log_rate_ok(&x->offline_rate, clock_mono_ms(), 5000, &unsaid))
        log_info("xmpp_offline", LF_S("jid", xmpp_client_jid(cl)), LF_S("reason", reason),
                 LF_U("unsaid", unsaid), LF_U("online", x->online));
}

/* ---- life cycle ------------------------------------------------------------------- */

static void on_pace(uv_timer_t *t)
{
    struct cr_xmpp *x = t->data;
    fleet_t *f = x->f;
    /* as many as the rate allows since the start (the first at once) */
    int64_t rate = f->o->xmpp_login_rate;
    uint64_t due = rate > 0 ? (uint64_t)((clock_mono_ms() - x->t0) * rate / 1000) + 1 : UINT64_MAX;
    for (; x->started < due && x->started < f->count; x->started++) {
        xcpe_t *xc = &x->cpes[x->started];
        cpe_t *c = &f->cpes[x->started];
        buf_t jid = BUF_INIT(4096), pass = BUF_INIT(4096);
        int rc = cr_xmpp_jid(f, c, &jid);
        (void)buf_reserve(&pass, 1024); /* one block for the password (a realloc would copy it) */
        rc = rc ? rc : fleet_fill_serial(f, c, f->o->xmpp_password, &pass);
        xmpp_client_opts_t o = {
            .jid = jid.data, .password = pass.data ? pass.data : "", .host = x->host, .port = x->port,
            .tls = x->tls, .on_state = on_state, .on_iq = on_iq, .ud = xc,
        };
        rc = rc ? rc : xmpp_client_new(f->loop, &o, &xc->client);
        if (rc) {
            char serial[96];
            fleet_serial(f, c, serial, sizeof serial);
            log_warn("xmpp_client_failed", LF_S("cpe", serial), LF_S("jid", jid.data ? jid.data : ""), LF_ERR(rc));
        }
        buf_free(&jid);
        buf_free_secret(&pass); /* the client keeps its own copy */
    }
    if (x->started >= f->count)
        uv_timer_stop(&x->pace);
}

int cr_xmpp_start(fleet_t *f, char *err, size_t errlen)
{
    const cpesim_opts_t *o = f->o;
    if (!o->xmpp_password) {
        str_copy(err, errlen, "--xmpp-server needs --xmpp-password");
        return -EINVAL;
    }
    if (o->xmpp_insecure && o->xmpp_ca_file) {
        str_copy(err, errlen, "--xmpp-insecure and --xmpp-ca-file contradict each other");
        return -EINVAL;
    }
    struct cr_xmpp *x = calloc(1, sizeof *x);
    if (!x || !(x->cpes = calloc(f->count, sizeof *x->cpes))) {
        free(x);
        str_copy(err, errlen, "out of memory");
        return -ENOMEM;
    }
    x->f = f;
    if (net_split_hostport(o->xmpp_server, x->host, sizeof x->host, &x->port) != 0) {
        str_copy(err, errlen, "--xmpp-server: not HOST:PORT");
        free(x->cpes);
        free(x);
        return -EINVAL;
    }
    /* a JID the server cannot take is a usage error, found before any login */
    buf_t probe = BUF_INIT(4096);
    f->xmpp = x; /* cr_xmpp_jid reads the options only */
    xmpp_jid_t j;
    int rc = cr_xmpp_jid(f, &f->cpes[0], &probe);
    if (rc || xmpp_jid_parse(probe.data, &j) != 0) {
        snprintf(err, errlen, "not a valid JID: %s (--xmpp-domain, --xmpp-resource, --serial-prefix)",
                 probe.data ? probe.data : "");
        buf_free(&probe);
        f->xmpp = NULL;
        free(x->cpes);
        free(x);
        return -EINVAL;
    }
    buf_free(&probe);
    tls_opts_t to = { .ca_file = o->xmpp_ca_file, .verify = o->xmpp_insecure ? TLS_VERIFY_NONE : TLS_VERIFY_REQUIRED };
    x->tls = tls_ctx_new(&to);
    if (!x->tls) {
        str_copy(err, errlen, "cannot load --xmpp-ca-file");
        f->xmpp = NULL;
        free(x->cpes);
        free(x);
        return -EINVAL;
    }
    for (uint32_t i = 0; i < f->count; i++)
        x->cpes[i].x = x;
    uv_timer_init(f->loop, &x->pace);
    x->pace.data = x;
    x->pace_live = true;
    x->t0 = clock_mono_ms();
    uv_timer_start(&x->pace, on_pace, 0, LOGIN_TICK_MS);
    return 0;
}

void cr_xmpp_stop(fleet_t *f)
{
    struct cr_xmpp *x = f->xmpp;
    if (!x || !x->pace_live)
        return;
    x->pace_live = false;
    uv_close((uv_handle_t *)&x->pace, NULL);
    for (uint32_t i = 0; i < x->started; i++) {
        xmpp_client_free(x->cpes[i].client);
        x->cpes[i].client = NULL;
    }
}

void cr_xmpp_free(fleet_t *f)
{
    struct cr_xmpp *x = f->xmpp;
    if (!x)
        return;
    tls_ctx_free(x->tls);
    free(x->cpes);
    free(x);
    f->xmpp = NULL;
}
