/*
 * acs_cr_xmpp: connection requests over XMPP (TR-069 Annex K). The ACS
 * keeps one login (--xmpp-jid) through net/xmpp, which reconnects with
 * backoff; a device that reported ConnReqJabberID (store_device_t.cr_jid)
 * is woken with a connectionRequest IQ carrying its connection request
 * credentials (the device's own, else --cr-username/--cr-password, as for
 * HTTP). The CPE's result IQ is "ok"; an error IQ (not-authorized...), no
 * answer within --xmpp-timeout, or the login being down is "failed" with
 * the reason, recorded like an HTTP outcome.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "acs/acs_internal.h"
#include "core/log.h"
#include "core/str.h"
#include "net/addr.h"
#include "net/xmpp.h"

enum { XMPP_MAX_PENDING = 100000 }; /* IQs waiting for CPEs: a bound on memory, not sockets */

struct acs_xmpp {
    tls_ctx_t *tls;
    xmpp_client_t *client;
    uint64_t sent, ok, failed;
};

typedef struct xcr {
    acs_t *a;
    acs_cr_done_fn done;
    void *ud;
    char device[STORE_ID_MAX];
    char jid[STORE_URL];
} xcr_t;

static void on_state(xmpp_client_t *c, bool online, const char *reason, void *ud)
{
    if (online)
        log_info("xmpp_online", LF_S("jid", xmpp_client_jid(c)));
    else
        log_warn("xmpp_offline", LF_S("jid", xmpp_client_jid(c)), LF_S("reason", reason));
}

/* Nobody may ask the ACS anything over XMPP: refuse politely. */
static void on_iq(xmpp_client_t *c, const xmpp_el_t *iq, void *ud)
{
    xmpp_client_reply(c, iq, "cancel", "service-unavailable", NULL);
}

int acs_cr_xmpp_start(acs_t *a)
{
    const acs_opts_t *o = &a->o;
    if (!o->xmpp_jid)
        return 0;
    xmpp_jid_t j;
    const char *why = NULL;
    if (xmpp_jid_parse(o->xmpp_jid, &j) != 0 || !j.local[0])
        why = "--xmpp-jid must be user@domain[/resource]";
    else if (!o->xmpp_password)
        why = "--xmpp-jid needs --xmpp-password";
    else if (o->xmpp_insecure && o->xmpp_ca_file)
        why = "--xmpp-insecure and --xmpp-ca-file contradict each other";
    if (why) {
        log_error("acs_config", LF_S("reason", why));
        return -EINVAL;
    }
    char host[NET_HOST_MAX] = "";
    uint16_t port = 5222;
    if (o->xmpp_server && net_split_hostport(o->xmpp_server, host, sizeof host, &port) != 0) {
        log_error("acs_config", LF_S("option", "xmpp-server"), LF_S("reason", "not HOST:PORT"));
        return -EINVAL;
    }
    struct acs_xmpp *x = calloc(1, sizeof *x);
    if (!x)
        return -ENOMEM;
    tls_opts_t to = { .ca_file = o->xmpp_ca_file,
                      .verify = o->xmpp_insecure ? TLS_VERIFY_NONE : TLS_VERIFY_REQUIRED };
    x->tls = tls_ctx_new(&to);
    if (!x->tls) {
        free(x);
        return -EINVAL; /* logged by tls_ctx_new */
    }
    if (o->xmpp_insecure)
        log_warn("acs_config", LF_S("reason", "--xmpp-insecure: the XMPP server's certificate is not "
                                              "verified (the CR credentials could go to anyone)"));
    xmpp_client_opts_t xo = {
        .jid = o->xmpp_jid, .password = o->xmpp_password, .host = host[0] ? host : NULL, .port = port,
        .tls = x->tls, .iq_timeout_ms = o->xmpp_timeout_ms, .on_state = on_state, .on_iq = on_iq,
        .ud = a,
    };
    int rc = xmpp_client_new(a->loop, &xo, &x->client);
    if (rc) {
        tls_ctx_free(x->tls);
        free(x);
        return rc;
    }
    a->xmpp = x;
    return 0;
}

void acs_cr_xmpp_stop(acs_t *a)
{
    struct acs_xmpp *x = a->xmpp;
    if (!x)
        return;
    a->xmpp = NULL; /* the -ECANCELED callbacks below see XMPP gone */
    xmpp_client_free(x->client);
    tls_ctx_free(x->tls); /* closing connections hold their own SSL_CTX reference */
    free(x);
}

bool acs_cr_xmpp_wanted(const acs_t *a, const store_device_t *d)
{
    return a->xmpp && d->cr_jid[0];
}

static void finish(acs_t *a, const char *device, int rc, const char *reason)
{
    if (rc == 0) {
        a->n.cr_ok++;
        if (a->xmpp)
            a->xmpp->ok++;
        log_info("cwmp_connection_request", LF_S("device", device), LF_S("via", "xmpp"),
                 LF_S("outcome", "ok"));
        return;
    }
    a->n.cr_failed++;
    if (a->xmpp)
        a->xmpp->failed++;
    log_warn("cwmp_connection_request", LF_S("device", device), LF_S("via", "xmpp"),
             LF_S("outcome", acs_cr_outcome(rc)), LF_S("reason", reason));
}

static void on_answer(void *ud, int rc, const xmpp_el_t *reply)
{
    xcr_t *c = ud;
    acs_t *a = c->a;
    char reason[400];
    int err = 0;
    switch (rc) {
    case 0:
        str_copy(reason, sizeof reason, "CPE answered the XMPP connection request");
        break;
    case -EREMOTEIO: {
        const char *cond = xmpp_iq_error_condition(reply);
        err = strcmp(cond, "not-authorized") == 0 ? -EACCES : -EIO;
        snprintf(reason, sizeof reason, "xmpp: CPE answered %s%s", cond[0] ? cond : "an error",
                 err == -EACCES ? " (wrong connection request credentials)" : "");
        break;
    }
    case -ETIMEDOUT:
        err = rc;
        snprintf(reason, sizeof reason, "xmpp: no answer from %s within %.1fs (--xmpp-timeout)", c->jid,
                 (double)a->o.xmpp_timeout_ms / 1000);
        break;
    case -ECANCELED:
        err = rc;
        str_copy(reason, sizeof reason, "shutting down");
        break;
    default:
        err = rc;
        str_copy(reason, sizeof reason, "xmpp connection lost before the CPE answered");
        break;
    }
    if (err != -ECANCELED)
        finish(a, c->device, err, reason);
    if (c->done)
        c->done(err, 0, reason, c->ud);
    free(c);
}

/* The IQ carries the device's connection request password in clear: it goes
 * only to an account in a domain the operator named (--xmpp-cr-domain, by
 * default the ACS's own), not to whatever JID the device reported. */
static bool jid_allowed(const acs_t *a, const char *jid)
{
    xmpp_jid_t *j = malloc(sizeof *j), *own = malloc(sizeof *own);
    bool ok = j && own && xmpp_jid_parse(jid, j) == 0 && j->local[0] &&
              xmpp_jid_parse(a->o.xmpp_jid, own) == 0;
    const cfg_list_t *l = &a->o.xmpp_cr_domains;
    if (ok && l->n) {
        ok = false;
        for (size_t i = 0; i < l->n && !ok; i++)
            ok = strcasecmp(j->domain, l->v[i]) == 0;
    } else if (ok) {
        ok = strcasecmp(j->domain, own->domain) == 0;
    }
    free(j);
    free(own);
    return ok;
}

int acs_cr_xmpp_send(acs_t *a, const store_device_t *d, acs_cr_done_fn done, void *ud)
{
    struct acs_xmpp *x = a->xmpp;
    int rc = jid_allowed(a, d->cr_jid) ? 0 : -EPERM;
    xmpp_client_stats_t st;
    xmpp_client_stats(x->client, &st);
    if (!rc && !xmpp_client_online(x->client))
        rc = -ENOTCONN;
    else if (st.iq_pending >= XMPP_MAX_PENDING)
        rc = -EBUSY;
    const char *user = d->cr_user[0] ? d->cr_user : a->o.cr_username;
    const char *pass = d->cr_user[0] ? d->cr_pass : a->o.cr_password;
    buf_t payload = BUF_INIT(8192);
    if (!rc && xmpp_cr_build(&payload, user, pass) != 0)
        rc = -EPROTO; /* credentials XML cannot carry */
    xcr_t *c = rc ? NULL : calloc(1, sizeof *c);
    if (!rc && !c)
        rc = -ENOMEM;
    if (!rc) {
        c->a = a;
        c->done = done;
        c->ud = ud;
        str_copy(c->device, sizeof c->device, d->id);
        str_copy(c->jid, sizeof c->jid, d->cr_jid);
        rc = xmpp_client_iq(x->client, "get", d->cr_jid, payload.data, on_answer, c);
        if (rc)
            free(c);
    }
    buf_free_secret(&payload); /* it carries the CR password */
    if (rc) {
        if (strcmp(acs_cr_outcome(rc), "refused") != 0) {
            finish(a, d->id, rc, acs_cr_strerror(rc));
            return rc;
        }
        a->m.cr_refused++;
        log_warn("cwmp_connection_request", LF_S("device", d->id), LF_S("via", "xmpp"),
                 LF_S("outcome", "refused"), LF_S("reason", acs_cr_strerror(rc)));
        return rc;
    }
    a->n.cr_sent++;
    x->sent++;
    return 0;
}

void acs_cr_xmpp_stats(const acs_t *a, acs_xmpp_stats_t *st)
{
    memset(st, 0, sizeof *st);
    const struct acs_xmpp *x = a->xmpp;
    if (!x)
        return;
    xmpp_client_stats_t cs;
    xmpp_client_stats(x->client, &cs);
    st->configured = true;
    st->connected = xmpp_client_online(x->client);
    st->state = xmpp_client_state(x->client);
    st->jid = xmpp_client_jid(x->client);
    st->sent = x->sent;
    st->ok = x->ok;
    st->failed = x->failed;
    st->connects = cs.connects;
}
