/*
 * wakeup: the connection-request relay (see wakeup.h).
 */
#include "cwmp_proxy/wakeup.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/udpcr.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/str.h"
#include "net/authguard.h"
#include "net/addr.h"
#include "net/curl_uv.h"
#include "net/egress.h"
#include "net/http_auth.h"

enum { CRED_MAX = 128 };

typedef struct cred {
    char device[SESSION_DEVICE_MAX];
    char user[CRED_MAX];
    char pass[CRED_MAX];
} cred_t;

struct wakeup {
    proxy_t *px;
    net_curl_t *curl;
    http_auth_t *auth;       /* Digest or Basic, for the ACS */
    authguard_t guard;       /* addresses that keep guessing the ACS's password */
    cred_t *creds;           /* per device */
    size_t ncreds;
    net_egress_t deny;       /* --wakeup-deny */
    size_t active;
    uv_udp_t *udp4, *udp6;   /* UDP connection requests (opened on first use) */
    struct udp_relay *relays; /* their copies still to send */
    size_t nrelays;          /* at most --max-wakeups, as HTTP ones */
};

/* A UDP connection request's later copies (TR-069 Annex G: datagrams get
 * lost, so the same message goes again at 0.5, 1.5 and 3.5 s). */
typedef struct udp_relay {
    struct udp_relay *next, *prev;
    wakeup_t *w;
    uv_timer_t t;
    uv_udp_t *sock;
    struct sockaddr_storage to;
    int sent;
    int len;
    char msg[UDPCR_MAX + 1];
} udp_relay_t;

typedef struct wake {
    wakeup_t *w;
    http_req_t *r;           /* NULL once the ACS went away */
    char origin[2048];
    char device[SESSION_DEVICE_MAX];
    int64_t t0_us;
    size_t body;             /* bytes the CPE sent back (discarded) */
    bool creds;              /* we had credentials to answer a challenge with */
    net_egress_check_t egress; /* the CPE address --wakeup-deny refused, if any */
} wake_t;

const char *wakeup_outcome_name(int outcome)
{
    static const char *const names[WAKE_NOUTCOMES] = {
        "ok", "unauthorized", "forbidden", "cpe_auth_failed", "unreachable",
        "timeout", "cpe_error", "bad_request", "busy", "locked_out", "challenged",
    };
    return outcome >= 0 && outcome < WAKE_NOUTCOMES ? names[outcome] : "?";
}

static int parse_creds(wakeup_t *w)
{
    const cfg_list_t *l = &w->px->o.cpe_credentials;
    w->creds = calloc(l->n ? l->n : 1, sizeof *w->creds);
    if (!w->creds)
        return -ENOMEM;
    for (size_t i = 0; i < l->n; i++) {
        cred_t *c = &w->creds[i];
        char key[32], val[SESSION_DEVICE_MAX];
        size_t pos = 0;
        int rc;
        while ((rc = cfg_kv_next(l->v[i], &pos, key, sizeof key, val, sizeof val)) == 1) {
            if (strcmp(key, "device") == 0)
                rc = str_copy(c->device, sizeof c->device, val);
            else if (strcmp(key, "user") == 0)
                rc = str_copy(c->user, sizeof c->user, val);
            else if (strcmp(key, "password") == 0)
                rc = str_copy(c->pass, sizeof c->pass, val);
            else
                rc = -EINVAL;
            if (rc)
                break;
        }
        if (rc < 0 || !c->device[0] || !c->user[0]) {
            log_error("cwmp_proxy_config", LF_S("option", "cpe-credential"),
                      LF_S("reason", "expected 'device=ID user=NAME password=SECRET'"));
            return -EINVAL;
        }
    }
    w->ncreds = l->n;
    return 0;
}

static int lookup_acs(const char *user, char *out, size_t outlen, void *ud)
{
    wakeup_t *w = ud;
    const cwmp_proxy_opts_t *o = &w->px->o;
    if (!o->acs_user || !o->acs_password || strcmp(user, o->acs_user) != 0)
        return -ENOENT;
    return str_copy(out, outlen, o->acs_password) ? -ENOENT : 0;
}

/* Wrong ACS credentials and attempts refused while locked out: one line per
 * address per minute, and when a lock-out starts. */
static void say_guard(const authguard_report_t *rep, void *ud)
{
    log_warn("wakeup_auth_failed", LF_S("addr", rep->addr), LF_U("failures", rep->count),
             LF_I("locked_ms", rep->locked_ms), LF_U("strike", rep->strike));
}

wakeup_t *wakeup_new(proxy_t *px)
{
    wakeup_t *w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    w->px = px;
    authguard_init(&w->guard, 65536, (uint32_t)px->o.acs_auth_max_failures, px->o.acs_auth_lockout_ms);
    authguard_set_say(&w->guard, say_guard, NULL);
    /* Digest, so an ACS reaching us over plain HTTP does not have to send
     * the password; Basic still, for ACSs that only speak it. */
    http_auth_opts_t ao = { .realm = "outpost cwmp-proxy", .digest = true, .basic = true };
    w->auth = http_auth_new(&ao);
    w->curl = net_curl_new(px->loop);
    if (!w->auth || !w->curl || parse_creds(w) ||
        net_egress_init(&w->deny, px->o.wakeup_deny.v, px->o.wakeup_deny.n) != 0) {
        wakeup_free(w);
        return NULL;
    }
    if (!px->o.acs_user || !px->o.acs_password)
        log_warn("wakeup_relay_locked", LF_S("reason", "no --acs-username/--acs-password: every "
                                                        "wake-up is refused with 401"));
    return w;
}

static void free_handle(uv_handle_t *h)
{
    free(h->data);
}

static void relay_unlink(udp_relay_t *u)
{
    u->w->nrelays--;
    if (u->prev)
        u->prev->next = u->next;
    else
        u->w->relays = u->next;
    if (u->next)
        u->next->prev = u->prev;
}

void wakeup_free(wakeup_t *w)
{
    if (!w)
        return;
    while (w->relays) {
        udp_relay_t *u = w->relays;
        relay_unlink(u);
        uv_close((uv_handle_t *)&u->t, free_handle);
    }
    if (w->udp4)
        uv_close((uv_handle_t *)w->udp4, free_handle);
    if (w->udp6)
        uv_close((uv_handle_t *)w->udp6, free_handle);
    if (w->curl)
        net_curl_free(w->curl);
    http_auth_free(w->auth);
    authguard_free(&w->guard);
    free(w->creds);
    net_egress_free(&w->deny);
    free(w);
}

size_t wakeup_in_flight(const wakeup_t *w) { return w ? w->active : 0; }
size_t wakeup_locked_out(const wakeup_t *w) { return w ? w->guard.lockouts : 0; }

/* ---- answering the ACS ------------------------------------------------------ */

static void finish(wake_t *k, int outcome, int status, const char *extra, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static void finish(wake_t *k, int outcome, int status, const char *extra, const char *fmt, ...)
{
    proxy_t *px = k->w->px;
    char reason[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof reason, fmt, ap);
    va_end(ap);
    double secs = (double)(clock_mono_us() - k->t0_us) / 1e6;
    px->st.wakeups[outcome]++;
    metrics_hist_observe(&px->st.wakeup_latency, secs);
    /* A locked-out address was logged once when the lock began (and is
     * counted): its further attempts would only flood the log. A challenge
     * is the first half of a normal wake-up from an ACS that waits for one
     * (as the original's did), not a failure. */
    int level = outcome == WAKE_OK ? LOG_INFO
              : outcome == WAKE_LOCKED_OUT || outcome == WAKE_CHALLENGED ? LOG_DEBUG : LOG_WARN;
    char shown[NET_URL_SHOWN]; /* a CPE's URL may carry a password or token */
    net_url_redacted(k->origin, shown, sizeof shown);
    LOG_AT(level, "wakeup", LF_S("device", k->device),
           LF_S("origin", shown), LF_S("outcome", wakeup_outcome_name(outcome)),
           LF_I("status", status), LF_I("latency_ms", (int64_t)(secs * 1000)), LF_S("reason", reason));
    if (k->r) {
        char body[300];
        int n = snprintf(body, sizeof body, "%s\n", reason);
        http_respond_hdrs(k->r, status, extra, "text/plain; charset=utf-8", body,
                          (size_t)n < sizeof body ? (size_t)n : sizeof body - 1);
        k->r = NULL;
    }
}

static void on_acs_gone(http_req_t *r, void *ud)
{
    wake_t *k = ud;
    k->r = NULL;
    http_resp_end(r); /* releases it; the transfer finishes and is logged */
}

static size_t discard(char *p, size_t size, size_t n, void *ud)
{
    wake_t *k = ud;
    k->body += size * n;
    return k->body > 65536 ? 0 : size * n; /* a CPE has nothing long to say here */
}

static void on_done(CURL *easy, CURLcode rc, long status, void *ud)
{
    wake_t *k = ud;
    k->w->active--;
    if (rc == CURLE_OK && (status == 200 || status == 204))
        finish(k, WAKE_OK, (int)status, NULL, "CPE answered %ld", status);
    else if (rc == CURLE_OK && status == 401)
        /* the operator's fix differs: configure some, or correct them */
        finish(k, WAKE_CPE_AUTH_FAILED, 403, NULL, "CPE %s for device %s",
               k->creds ? "refused the connection-request credentials"
                        : "asked for credentials and none are configured",
               k->device[0] ? k->device : "(unknown)");
    else if (rc == CURLE_OK || rc == CURLE_WRITE_ERROR)
        finish(k, WAKE_CPE_ERROR, 502, NULL, "CPE answered %ld", status);
    else if (k->egress.refused[0])
        finish(k, WAKE_FORBIDDEN, 403, NULL, "CPE address %s is in --wakeup-deny", k->egress.refused);
    else if (rc == CURLE_OPERATION_TIMEDOUT)
        finish(k, WAKE_TIMEOUT, 504, NULL, "CPE did not answer in time: %s", curl_easy_strerror(rc));
    else
        finish(k, WAKE_UNREACHABLE, 502, NULL, "CPE unreachable: %s", curl_easy_strerror(rc));
    free(k);
}

/* The credentials for a device: its own, the global ones, or the ACS's. */
static void pick_creds(wakeup_t *w, const char *device, const char **user, const char **pass)
{
    const cwmp_proxy_opts_t *o = &w->px->o;
    *user = *pass = NULL;
    for (size_t i = 0; device[0] && i < w->ncreds; i++)
        if (strcmp(w->creds[i].device, device) == 0) {
            *user = w->creds[i].user;
            *pass = w->creds[i].pass;
            return;
        }
    if (o->cpe_user) {
        *user = o->cpe_user;
        *pass = o->cpe_password ? o->cpe_password : "";
    } else if (o->cpe_auth && strcmp(o->cpe_auth, "acs") == 0) {
        *user = o->acs_user;
        *pass = o->acs_password;
    }
}

static int start(wakeup_t *w, wake_t *k)
{
    const cwmp_proxy_opts_t *o = &w->px->o;
    CURL *e = curl_easy_init();
    if (!e)
        return -ENOMEM;
    const char *user, *pass;
    pick_creds(w, k->device, &user, &pass);
    k->creds = user != NULL;
    curl_easy_setopt(e, CURLOPT_URL, k->origin);
    /* A CPE reported this URL itself: every address it leads to is checked
     * against --wakeup-deny (resolved names included), no redirects, no
     * proxy from the environment, http(s) only (net/egress.h). Without
     * this it could point our GETs at our own host or a metadata service. */
    net_egress_apply(&w->deny, &k->egress, e);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)o->wakeup_connect_timeout_ms);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)o->wakeup_timeout_ms);
    curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 1L);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "outpost-cwmp-proxy/" OUTPOST_VERSION_STR);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, k);
    /* CPE certificates are self-signed as a rule; Digest never sends the
     * password, so an unverified TLS peer learns nothing it can replay. */
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
    if (user) {
        curl_easy_setopt(e, CURLOPT_HTTPAUTH,
                         CURLAUTH_DIGEST | (o->cpe_allow_basic ? CURLAUTH_BASIC : 0L));
        curl_easy_setopt(e, CURLOPT_USERNAME, user);
        curl_easy_setopt(e, CURLOPT_PASSWORD, pass ? pass : "");
    }
    int rc = net_curl_add(w->curl, e, on_done, k);
    if (rc == 0)
        w->active++;
    return rc;
}

/* ---- UDP connection requests (TR-069 Annex G) ----------------------------------- */

static const int64_t copies_at_ms[] = { 0, 500, 1500, 3500 };

static void relay_tick(uv_timer_t *t)
{
    udp_relay_t *u = t->data;
    uv_buf_t b = uv_buf_init(u->msg, (unsigned)u->len);
    (void)uv_udp_try_send(u->sock, &b, 1, (struct sockaddr *)&u->to);
    u->sent++;
    if (u->sent >= (int)(sizeof copies_at_ms / sizeof copies_at_ms[0])) {
        relay_unlink(u);
        uv_close((uv_handle_t *)&u->t, free_handle);
        return;
    }
    uv_timer_start(&u->t, relay_tick, (uint64_t)(copies_at_ms[u->sent] - copies_at_ms[u->sent - 1]), 0);
}

static uv_udp_t *udp_socket(wakeup_t *w, int family)
{
    uv_udp_t **slot = family == AF_INET6 ? &w->udp6 : &w->udp4;
    if (*slot)
        return *slot;
    uv_udp_t *h = calloc(1, sizeof *h);
    struct sockaddr_storage any;
    if (!h)
        return NULL;
    if (family == AF_INET6)
        uv_ip6_addr("::", 0, (struct sockaddr_in6 *)&any);
    else
        uv_ip4_addr("0.0.0.0", 0, (struct sockaddr_in *)&any);
    uv_udp_init(w->px->loop, h);
    h->data = h;
    if (uv_udp_bind(h, (struct sockaddr *)&any, family == AF_INET6 ? UV_UDP_IPV6ONLY : 0) != 0) {
        uv_close((uv_handle_t *)h, free_handle);
        return NULL;
    }
    *slot = h;
    return h;
}

/* The ACS asks for a UDP connection request to `udp` ("ip:port") of the
 * CPE whose origin (u) this proxy rewrote. The address must be that CPE's
 * host (the relay is not a way to send datagrams anywhere) and pass
 * --wakeup-deny; the message is signed with the credentials an HTTP wake-up
 * would use. Answered 200 once the first copy is out: whether the CPE
 * called is the ACS's to see. */
static void relay_udp(wakeup_t *w, wake_t *k, const net_url_t *u, const char *udp)
{
    char host[NET_ADDR_STR];
    uint8_t a[16], b[16];
    struct sockaddr_storage to;
    if (net_addr_numeric(udp, &to) != 0 ||
        (to.ss_family == AF_INET ? ((struct sockaddr_in *)&to)->sin_port
                                 : ((struct sockaddr_in6 *)&to)->sin6_port) == 0) {
        finish(k, WAKE_BAD_REQUEST, 400, NULL, "udp parameter is not an IP:port");
        return;
    }
    net_addr_host((struct sockaddr *)&to, host, sizeof host);
    if (net_ip_parse(host, a) != 0 || net_ip_parse(u->host, b) != 0 || memcmp(a, b, 16) != 0) {
        finish(k, WAKE_FORBIDDEN, 403, NULL, "udp address %s is not the host of the CPE's origin", host);
        return;
    }
    if (net_egress_denied(&w->deny, (struct sockaddr *)&to)) {
        finish(k, WAKE_FORBIDDEN, 403, NULL, "CPE address %s is in --wakeup-deny", host);
        return;
    }
    const char *user, *pass;
    pick_creds(w, k->device, &user, &pass);
    if (!user) {
        finish(k, WAKE_CPE_AUTH_FAILED, 403, NULL, "no connection-request credentials are configured for "
               "device %s (a UDP connection request is signed with them)", k->device[0] ? k->device : "(unknown)");
        return;
    }
    /* each one is held for 3.5 s (its copies): bounded like HTTP wake-ups */
    if (w->nrelays >= (size_t)w->px->o.max_wakeups) {
        finish(k, WAKE_BUSY, 503, "Retry-After: 1\r\n", "too many UDP connection requests in flight");
        return;
    }
    udp_relay_t *r = calloc(1, sizeof *r);
    uint32_t id = 0;
    if (!r || str_random(&id, sizeof id) != 0 ||
        (r->len = udpcr_build(r->msg, sizeof r->msg, udp, clock_real_s(), id, user, NULL, pass ? pass : "")) < 0 ||
        !(r->sock = udp_socket(w, to.ss_family))) {
        free(r);
        finish(k, WAKE_UNREACHABLE, 502, NULL, "cannot send a UDP connection request to %s", udp);
        return;
    }
    r->w = w;
    r->to = to;
    uv_timer_init(w->px->loop, &r->t);
    r->t.data = r;
    r->next = w->relays;
    if (w->relays)
        w->relays->prev = r;
    w->relays = r;
    w->nrelays++;
    relay_tick(&r->t); /* the first copy now, the rest on the timer */
    finish(k, WAKE_OK, 200, NULL, "UDP connection request sent to %s", udp);
}

/* Whose failures a request counts as: the TCP peer, or with
 * --trust-forwarded (a proxy of ours in front) the address that proxy saw,
 * so one guesser cannot lock out everyone behind it. */
static void guard_addr(const wakeup_t *w, const http_req_t *r, char *out, size_t outlen)
{
    net_cidr_t peer;
    if (w->px->o.trust_forwarded && net_cidr_parse(http_req_peer_host(r), &peer) == 0)
        http_req_client_ip(r, &peer, 1, out, outlen);
    else
        str_copy(out, outlen, http_req_peer_host(r));
}

void wakeup_handle(wakeup_t *w, http_req_t *r)
{
    proxy_t *px = w->px;
    wake_t *k = calloc(1, sizeof *k);
    if (!k) {
        http_respond_error(r, 503, "out of memory");
        return;
    }
    k->w = w;
    k->r = r;
    k->t0_us = clock_mono_us();
    str_copy(k->device, sizeof k->device, "");
    if (strcmp(http_req_method(r), "GET") != 0) {
        finish(k, WAKE_BAD_REQUEST, 405, "Allow: GET\r\n", "use GET");
        free(k);
        return;
    }
    /* 1. The ACS's credentials, unless that address keeps guessing them. */
    char addr[64];
    guard_addr(w, r, addr, sizeof addr);
    int64_t now = clock_mono_ms();
    int64_t locked = authguard_check(&w->guard, addr, now, NULL);
    if (locked > 0) {
        char hdr[HTTP_RETRY_AFTER_MAX];
        http_retry_after(hdr, locked);
        finish(k, WAKE_LOCKED_OUT, 429, hdr, "too many wrong credentials from %s; locked out", addr);
        free(k);
        return;
    }
    const char *why = NULL;
    http_auth_result_t ar = http_auth_check(w->auth, http_req_method(r), http_req_target(r),
                                            http_req_header(r, "Authorization"), lookup_acs, w,
                                            NULL, 0, &why);
    if (ar != HTTP_AUTH_OK) {
        /* Missing credentials do not count: that is how the ACS asks for
         * the challenge; nor does a Digest nonce that expired (the right
         * password: the ACS retries with the fresh one, stale=true). */
        bool asked = ar == HTTP_AUTH_MISSING || ar == HTTP_AUTH_STALE;
        if (!asked)
            authguard_fail(&w->guard, addr, now, NULL);
        buf_t hdr = BUF_INIT(1024);
        http_auth_challenge(w->auth, ar == HTTP_AUTH_STALE, &hdr);
        finish(k, asked ? WAKE_CHALLENGED : WAKE_UNAUTHORIZED, 401, hdr.data,
               ar == HTTP_AUTH_MISSING ? "credentials required"
               : ar == HTTP_AUTH_STALE ? "nonce expired" : "wrong credentials");
        buf_free(&hdr);
        free(k);
        return;
    }
    authguard_ok(&w->guard, addr);
    /* 2. An origin we rewrote ourselves, nothing else. */
    buf_t origin = BUF_INIT(sizeof k->origin - 1);
    int rc = http_req_query_param(r, "origin", &origin);
    if (rc || origin.len == 0 || memchr(origin.data, '\0', origin.len)) {
        buf_free(&origin);
        finish(k, WAKE_BAD_REQUEST, 400, NULL, rc == -ENOENT || rc == 0 ? "origin parameter missing"
                                                                          : "origin parameter malformed");
        free(k);
        return;
    }
    str_copy(k->origin, sizeof k->origin, origin.data);
    buf_free(&origin);
    const char *device = NULL;
    net_url_t u;
    if (!origins_lookup(&px->origins, k->origin, &device)) {
        finish(k, WAKE_FORBIDDEN, 403, NULL, "origin was not rewritten by this proxy");
        free(k);
        return;
    }
    str_copy(k->device, sizeof k->device, device ? device : "");
    if (net_url_parse(k->origin, &u) != 0 || (strcmp(u.scheme, "http") != 0 &&
                                              strcmp(u.scheme, "https") != 0) || u.user[0] || u.pass[0]) {
        net_url_clear(&u); /* past here u holds no password */
        finish(k, WAKE_FORBIDDEN, 403, NULL, "origin is not a plain http(s) URL");
        free(k);
        return;
    }
    /* 3. A UDP connection request (udp=IP:PORT), or the HTTP one. */
    buf_t udp = BUF_INIT(NET_ADDR_STR);
    rc = http_req_query_param(r, "udp", &udp);
    if (rc != -ENOENT) {
        if (rc || !udp.data || memchr(udp.data, '\0', udp.len))
            finish(k, WAKE_BAD_REQUEST, 400, NULL, "udp parameter malformed");
        else
            relay_udp(w, k, &u, udp.data);
        buf_free(&udp);
        free(k);
        return;
    }
    buf_free(&udp);
    /* 4. Bounded concurrency, then the CPE. */
    if (w->active >= (size_t)px->o.max_wakeups) {
        finish(k, WAKE_BUSY, 503, "Retry-After: 1\r\n", "too many wake-ups in flight");
        free(k);
        return;
    }
    http_req_on_abort(r, on_acs_gone, k);
    rc = start(w, k);
    if (rc) {
        http_req_on_abort(r, NULL, NULL);
        finish(k, WAKE_UNREACHABLE, 502, NULL, "cannot start the request: %s", log_strerror(rc));
        free(k);
    }
}
