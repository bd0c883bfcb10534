/*
 * acs_cr_udp: UDP connection requests (TR-069 Annex G, TR-111 Part 2).
 *
 * When: the device has a UDP connection request address (its
 * UDPConnectionRequestAddress or a STUN-learnt binding), the STUN server is
 * on (--stun-listen), and either the device is behind NAT (NATDetected, or
 * a binding our STUN server learnt) or --cr-udp prefer says UDP whenever an
 * address is known. Otherwise HTTP as before: without NAT a
 * ConnectionRequestURL works and answers (--cr-udp off: never UDP).
 *
 * How: the signed message (codec/udpcr.h; the device's connection request
 * credentials, as HTTP would use) goes from the STUN server's socket, so
 * the CPE's NAT mapping towards that socket lets it in, to the freshest
 * address: the STUN binding in memory, else the stored one. Datagrams get
 * lost, so copies with the same id go at 0, 0.5, 1.5 and 3.5 s (gaps of
 * 0.5, 1, 2 s). The caller hears ACS_CR_PENDING ("udp sent") at once, then
 * 0 ("ok") when the device's Inform with "6 CONNECTION REQUEST" arrives
 * (acs_cr_udp_informed), or -ETIMEDOUT ("timeout") after --cr-udp-timeout.
 * In flight at most --cr-max-in-flight, like HTTP ones; an address in
 * --cr-deny is refused (-EPERM), like HTTP ones.
 *
 * Behind an outpost cwmp-proxy (the device's URL is a --cr-proxy's), the
 * proxy sends them from inside the CPE's network: GET <proxy>/client?
 * origin=...&udp=IP:PORT (the CPE's own UDPConnectionRequestAddress), the
 * proxy's credentials, the proxy's checks (docs/cwmp-proxy.md); its 200
 * stands for "udp sent", and only then is the request counted sent (one
 * the proxy refuses is failed).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acs/acs_internal.h"
#include "codec/stun.h"
#include "codec/udpcr.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/str.h"

static const int64_t copies_at_ms[] = { 0, 500, 1500, 3500 };
enum { N_COPIES = sizeof copies_at_ms / sizeof copies_at_ms[0] };

typedef struct udp_cr {
    struct udp_cr *next, *prev;
    acs_t *a;
    acs_cr_done_fn done;
    void *ud;
    uv_timer_t t;
    int64_t start_ms;
    int copies;               /* sent so far */
    bool relaying;            /* the cwmp-proxy has not answered (relayed() will come) */
    bool finished;            /* the outcome was told; freed once not relaying */
    stun_addr_t to;
    char device[STORE_ID_MAX];
    char msg[UDPCR_MAX + 1];
    int len;
} udp_cr_t;

/* ---- bookkeeping ------------------------------------------------------------------ */

static void on_freed(uv_handle_t *h)
{
    free(h->data);
}

static void finish(udp_cr_t *c, int rc, long status, const char *reason)
{
    acs_t *a = c->a;
    if (c->prev)
        c->prev->next = c->next;
    else
        a->udp_crs = c->next;
    if (c->next)
        c->next->prev = c->prev;
    a->nudp_crs--;
    uv_timer_stop(&c->t);
    int64_t ms = clock_mono_ms() - c->start_ms;
    if (rc == 0) {
        a->n.cr_udp_ok++;
        log_info("cwmp_connection_request", LF_S("device", c->device), LF_S("via", "udp"), LF_S("outcome", "ok"),
                 LF_I("ms", ms), LF_I("copies", c->copies));
    } else if (rc == -ETIMEDOUT) {
        a->n.cr_udp_timeout++;
        log_warn("cwmp_connection_request", LF_S("device", c->device), LF_S("via", "udp"),
                 LF_S("outcome", "timeout"), LF_S("reason", reason), LF_I("copies", c->copies));
    }
    if (c->done)
        c->done(rc, status, reason, c->ud);
    c->done = NULL;
    c->finished = true;
    if (!c->relaying) /* else the proxy's answer still holds c: relayed() frees it */
        uv_close((uv_handle_t *)&c->t, on_freed);
}

static void on_timer(uv_timer_t *t)
{
    udp_cr_t *c = t->data;
    acs_t *a = c->a;
    int64_t elapsed = clock_mono_ms() - c->start_ms;
    if (c->copies < N_COPIES && elapsed >= copies_at_ms[c->copies]) {
        if (acs_stun_send(a, &c->to, c->msg, (size_t)c->len) == 0)
            a->n.cr_udp_datagrams++;
        c->copies++;
    }
    int64_t next = c->copies < N_COPIES ? copies_at_ms[c->copies] : a->o.cr_udp_timeout_ms;
    if (c->copies >= N_COPIES && elapsed >= a->o.cr_udp_timeout_ms) {
        finish(c, -ETIMEDOUT, 0, "no session with \"6 CONNECTION REQUEST\" in --cr-udp-timeout");
        return;
    }
    uv_timer_start(&c->t, on_timer, (uint64_t)(next > elapsed ? next - elapsed : 0), 0);
}

/* ---- the decision ------------------------------------------------------------------- */

static bool addr_parse(const char *text, stun_addr_t *out)
{
    struct sockaddr_storage ss;
    /* not a name: TR-069 says an IP address */
    return net_addr_numeric(text, &ss) == 0 && stun_addr_from_sockaddr((struct sockaddr *)&ss, out) == 0 &&
           out->port != 0;
}

/* The cwmp-proxy answered the relay request (udp=). Its 200 says the
 * datagrams are going out from inside: sent, and the outcome is the
 * device's session, as for direct ones. Anything else: nothing was sent
 * (failed; also counted and logged as the HTTP request it was). The
 * datagrams are the proxy's: the ACS counts none of them. */
static void relayed(int rc, long status, const char *reason, void *ud)
{
    udp_cr_t *c = ud;
    c->relaying = false;
    if (c->finished) { /* the device called before the proxy answered: ok already */
        uv_close((uv_handle_t *)&c->t, on_freed);
        return;
    }
    if (rc != 0) {
        c->a->n.cr_udp_failed++;
        finish(c, rc, status, reason);
        return;
    }
    c->copies = N_COPIES; /* the proxy sends them */
    c->a->n.cr_udp_sent++;
    if (c->done)
        c->done(ACS_CR_PENDING, 0, "udp sent (through the cwmp-proxy)", c->ud);
    uv_timer_start(&c->t, on_timer, (uint64_t)c->a->o.cr_udp_timeout_ms, 0);
}

int acs_cr_udp_try(acs_t *a, const store_device_t *d, acs_cr_done_fn done, void *ud)
{
    if (strcmp(a->o.cr_udp, "off") == 0)
        return 1;
    stun_addr_t to;
    /* behind a --cr-proxy, the proxy sends from inside the CPE's network to
     * the address the CPE reported (what our STUN server saw is outside) */
    bool via_proxy = d->cr_url[0] && acs_cr_is_proxy(a, d->cr_url);
    bool bound = !via_proxy && acs_stun_binding(a, d->id, &to);
    if (!bound && !addr_parse(d->cr_udp, &to))
        return 1; /* no usable UDP address: HTTP */
    if (!via_proxy && !a->stun)
        return 1; /* no socket the CPE's NAT mapping lets through */
    bool prefer = strcmp(a->o.cr_udp, "prefer") == 0;
    if (!prefer && !d->cr_nat && (!bound || d->cr_url[0]))
        return 1; /* not behind NAT: the ConnectionRequestURL works */
    const char *user = d->cr_user[0] ? d->cr_user : a->o.cr_username ? a->o.cr_username : "";
    const char *pass = d->cr_user[0] ? d->cr_pass : a->o.cr_password ? a->o.cr_password : "";
    int rc = 0;
    /* The address is the CPE's word (or a STUN source, spoofable without
     * --stun-password): --cr-deny holds as for HTTP. Through a proxy, the
     * proxy checks it against its --wakeup-deny. */
    struct sockaddr_storage ss;
    stun_addr_to_sockaddr(&to, &ss);
    if (!via_proxy && acs_cr_denied(a, (struct sockaddr *)&ss))
        rc = -EPERM;
    else if (a->nudp_crs + a->ncrs >= (size_t)a->o.cr_max_in_flight)
        rc = -EBUSY;
    udp_cr_t *c = rc ? NULL : calloc(1, sizeof *c);
    if (!rc && !c)
        rc = -ENOMEM;
    char host[NET_ADDR_STR];
    acs_stun_addr_text(&to, host, sizeof host);
    uint32_t id = 0;
    if (!rc && str_random(&id, sizeof id) != 0)
        rc = -EIO;
    if (!rc && (c->len = udpcr_build(c->msg, sizeof c->msg, host, clock_real_s(), id, user, NULL, pass)) < 0)
        rc = c->len;
    if (rc) {
        free(c);
        a->m.cr_refused++;
        log_warn("cwmp_connection_request", LF_S("device", d->id), LF_S("via", "udp"), LF_S("to", host),
                 LF_S("outcome", acs_cr_outcome(rc)), LF_S("reason", acs_cr_strerror(rc)));
        return rc;
    }
    c->a = a;
    c->done = done;
    c->ud = ud;
    c->to = to;
    c->start_ms = clock_mono_ms();
    str_copy(c->device, sizeof c->device, d->id);
    uv_timer_init(a->loop, &c->t);
    c->t.data = c;
    c->next = a->udp_crs;
    if (a->udp_crs)
        ((udp_cr_t *)a->udp_crs)->prev = c;
    a->udp_crs = c;
    a->nudp_crs++;
    if (via_proxy) {
        /* GET <proxy>/client?origin=...&udp=IP:PORT with the proxy's credentials */
        char url[STORE_URL + 2 * NET_ADDR_STR + 8];
        buf_t q = BUF_INIT(3 * NET_ADDR_STR);
        str_pct_encode(&q, host, strlen(host), NULL);
        snprintf(url, sizeof url, "%s&udp=%s", d->cr_url, q.data ? q.data : "");
        buf_free(&q);
        log_info("cwmp_connection_request", LF_S("device", d->id), LF_S("via", "udp-proxy"), LF_S("to", host));
        c->relaying = true;
        rc = acs_cr_http(a, d, url, relayed, c);
        if (rc) {
            c->relaying = false; /* refused at once: relayed() never comes */
            c->done = NULL;      /* acs_cr_send's caller hears rc */
            finish(c, rc, 0, acs_cr_strerror(rc));
        }
        return rc;
    }
    a->n.cr_udp_sent++; /* the copies go from our socket */
    log_info("cwmp_connection_request", LF_S("device", d->id), LF_S("via", "udp"), LF_S("to", host),
             LF_S("outcome", "udp sent"), LF_B("stun_binding", bound));
    on_timer(&c->t); /* the first copy now */
    if (done)
        done(ACS_CR_PENDING, 0, "udp sent", ud);
    return 0;
}

void acs_cr_udp_informed(acs_t *a, const char *device)
{
    for (udp_cr_t *c = a->udp_crs, *next; c; c = next) {
        next = c->next;
        if (strcmp(c->device, device) == 0)
            finish(c, 0, 0, "the device called (6 CONNECTION REQUEST)");
    }
}

void acs_cr_udp_stop(acs_t *a)
{
    while (a->udp_crs)
        finish(a->udp_crs, -ECANCELED, 0, "shutting down");
}
