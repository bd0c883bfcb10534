/*
 * acs_cr: connection requests. An HTTP GET to the CPE's
 * ConnectionRequestURL, driven by libcurl's multi interface on the loop;
 * connect 2 s, total 5 s.
 *
 * The URL is the CPE's own word, so:
 *   - every address it leads to (a name's resolved ones included) is
 *     checked against --cr-deny before connecting (net/egress.h), with no
 *     redirects and no proxy from the environment;
 *   - credentials go out only in answer to a challenge: Digest; Basic only
 *     with --cr-basic, when the CPE offers nothing else, and over plain
 *     http only with --cr-basic-plain too;
 *   - the cwmp-proxy's credentials (--cr-proxy-username) go only to a URL
 *     whose scheme, host and port are those of a configured --cr-proxy and
 *     whose path is that proxy's /client endpoint. Those targets are the
 *     operator's own choice and are not checked against --cr-deny (the
 *     proxy checks the CPE's address against its --wakeup-deny).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "acs/acs_internal.h"
#include "core/log.h"
#include "core/str.h"
#include "net/egress.h"

typedef struct cr_proxy {
    char scheme[8];
    char host[NET_HOST_MAX];
    uint16_t port;
    char client[NET_URL_PATH_MAX]; /* the public URL's path + "/client" */
} cr_proxy_t;

struct acs_cr_conf {
    net_egress_t deny;     /* --cr-deny */
    cr_proxy_t *proxies;   /* --cr-proxy */
    size_t nproxies;
};

typedef struct cr {
    struct cr *next, *prev; /* in flight, for shutdown */
    acs_t *a;
    acs_cr_done_fn done;
    void *ud;
    char device[STORE_ID_MAX];
    bool creds;               /* we had credentials to answer a challenge with */
    bool proxy;               /* to a --cr-proxy's /client, not to the CPE */
    bool tls;
    long auth;                /* CURLOPT_HTTPAUTH as set */
    net_egress_check_t egress;
    char errbuf[CURL_ERROR_SIZE];
} cr_t;

/* ---- configuration ------------------------------------------------------------ */

/* A parsed URL on the heap: a CPE's or an option's, either may carry a
 * password. */
static void url_free(net_url_t *u)
{
    if (u)
        net_url_clear(u);
    free(u);
}

static const char *proxy_url_problem(const char *v, net_url_t *u)
{
    if (net_url_parse(v, u) != 0 || (strcmp(u->scheme, "http") != 0 && strcmp(u->scheme, "https") != 0))
        return "an http(s) URL: the cwmp-proxy's --public-url";
    if (strchr(u->path, '?') || strchr(v, '#') || u->user[0] || u->pass[0])
        return "the cwmp-proxy's --public-url, without query, fragment or credentials";
    return NULL;
}

int acs_cr_check_proxy(const char *v, char *err, size_t errlen)
{
    net_url_t *u = malloc(sizeof *u);
    const char *why = u ? proxy_url_problem(v, u) : "out of memory";
    url_free(u);
    if (!why)
        return 0;
    str_copy(err, errlen, why);
    return -EINVAL;
}

int acs_cr_init(acs_t *a)
{
    const acs_opts_t *o = &a->o;
    const char *why = NULL;
    if (o->cr_proxy_username && o->cr_proxies.n == 0)
        why = "--cr-proxy-username needs --cr-proxy URL (the cwmp-proxy's --public-url): the "
              "proxy's credentials go to that proxy only";
    else if (o->cr_basic_plain && !o->cr_basic)
        why = "--cr-basic-plain only widens --cr-basic: give both to allow Basic over plain http";
    if (why) {
        log_error("acs_config", LF_S("reason", why));
        return -EINVAL;
    }
    struct acs_cr_conf *c = calloc(1, sizeof *c);
    net_url_t *u = malloc(sizeof *u);
    if (!c || !u || !(c->proxies = calloc(o->cr_proxies.n ? o->cr_proxies.n : 1, sizeof *c->proxies))) {
        url_free(u);
        if (c)
            free(c->proxies);
        free(c);
        return -ENOMEM;
    }
    a->crconf = c;
    for (size_t i = 0; i < o->cr_proxies.n; i++) {
        cr_proxy_t *p = &c->proxies[i];
        if (proxy_url_problem(o->cr_proxies.v[i], u)) { /* the option's check said so already */
            url_free(u);
            return -EINVAL;
        }
        size_t n = strlen(u->path);
        while (n && u->path[n - 1] == '/')
            n--;
        u->path[n] = '\0';
        str_copy(p->scheme, sizeof p->scheme, u->scheme);
        str_copy(p->host, sizeof p->host, u->host);
        p->port = u->port;
        if ((size_t)snprintf(p->client, sizeof p->client, "%s/client", u->path) >= sizeof p->client) {
            log_error("acs_config", LF_S("option", "cr-proxy"), LF_S("reason", "URL too long"));
            url_free(u);
            return -EINVAL;
        }
    }
    c->nproxies = o->cr_proxies.n;
    url_free(u);
    if (c->nproxies && !o->cr_proxy_username)
        log_warn("acs_config", LF_S("reason", "--cr-proxy without --cr-proxy-username: the proxy "
                                              "will refuse every wake-up"));
    if (net_egress_init(&c->deny, o->cr_deny.v, o->cr_deny.n) != 0)
        return -EINVAL; /* checked as the option was read */
    return 0;
}

void acs_cr_free(acs_t *a)
{
    if (!a->crconf)
        return;
    net_egress_free(&a->crconf->deny);
    free(a->crconf->proxies);
    free(a->crconf);
    a->crconf = NULL;
}

/* The configured proxy this URL is the wake-up endpoint of, or NULL:
 * scheme, host and port equal, and the path is its /client (a query may
 * follow). Decided on the parsed URL, never on the path alone. */
static const cr_proxy_t *proxy_for(const struct acs_cr_conf *c, const net_url_t *u)
{
    for (size_t i = 0; i < c->nproxies; i++) {
        const cr_proxy_t *p = &c->proxies[i];
        size_t n = strlen(p->client);
        if (strcmp(u->scheme, p->scheme) == 0 && strcasecmp(u->host, p->host) == 0 &&
            u->port == p->port && strncmp(u->path, p->client, n) == 0 &&
            (u->path[n] == '\0' || u->path[n] == '?'))
            return p;
    }
    return NULL;
}

/* ---- outcomes ------------------------------------------------------------------- */

const char *acs_cr_outcome(int rc)
{
    switch (rc) {
    case 0: return "ok";
    case -ENOENT: /* no URL */
    case -EINVAL: /* not a plain http(s) URL */
    case -EPERM:  /* an address in --cr-deny */
    case -EBUSY:  /* --cr-max-in-flight requests are out already */
        return "refused";
    case ACS_CR_PENDING: return "udp sent"; /* acs_cr_udp.c: the outcome follows */
    case -ETIMEDOUT: return "timeout";      /* acs_cr_udp.c: no session came */
    default: return "failed";
    }
}

/* Refused (nothing sent) and failed are told apart in /metrics. */
static void count_failure(acs_t *a, int rc)
{
    if (strcmp(acs_cr_outcome(rc), "refused") == 0)
        a->m.cr_refused++;
    else
        a->n.cr_failed++;
}

const char *acs_cr_strerror(int rc)
{
    switch (rc) {
    case -ENOENT: return "the device has not reported a ConnectionRequestURL";
    case -EINVAL: return "the ConnectionRequestURL is not a plain http(s) URL";
    case -ECANCELED: return "shutting down";
    case -EBUSY: return "too many connection requests in flight (--cr-max-in-flight): not sent";
    case -EPERM: return "the address the device reported is not one connection requests go to"
                        " (--cr-deny, --xmpp-cr-domain): not contacted";
    case -ENOTCONN: return "xmpp not connected: the connection request was not sent";
    default: return log_strerror(rc);
    }
}

/* Why a CPE's 401 ended the request: Basic we withheld, or credentials. */
static const char *why_401(const cr_t *c, CURL *easy)
{
    if (c->proxy)
        return c->creds ? "the cwmp-proxy refused --cr-proxy-username/--cr-proxy-password"
                        : "the cwmp-proxy asked for credentials: set --cr-proxy-username";
    long avail = 0;
    curl_easy_getinfo(easy, CURLINFO_HTTPAUTH_AVAIL, &avail);
    if (c->creds && (avail & CURLAUTH_BASIC) && !(avail & CURLAUTH_DIGEST) &&
        !(c->auth & CURLAUTH_BASIC))
        return !c->a->o.cr_basic ? "CPE offers only Basic: not sent without --cr-basic "
                                   "(and --cr-basic-plain over plain http)"
                                 : "CPE offers only Basic over plain http: not sent without "
                                   "--cr-basic-plain";
    return c->creds ? "CPE refused our credentials" : "CPE asked for credentials and none are configured";
}

/* ---- transfers ------------------------------------------------------------------ */

static size_t discard(char *p, size_t size, size_t n, void *ud)
{
    return size * n; /* the body of a connection request answer carries nothing */
}

static void cr_unlink(cr_t *c)
{
    c->a->ncrs--;
    if (c->prev)
        c->prev->next = c->next;
    else
        c->a->crs = c->next;
    if (c->next)
        c->next->prev = c->prev;
}

static void cr_finished(CURL *easy, CURLcode rc, long status, void *ud)
{
    cr_t *c = ud;
    acs_t *a = c->a;
    cr_unlink(c);
    int err = 0;
    const char *reason = "ok";
    char text[160];
    if (rc != CURLE_OK && c->egress.refused[0]) {
        err = -EPERM;
        snprintf(text, sizeof text, "address %s is in --cr-deny: not contacted", c->egress.refused);
        reason = text;
    } else if (rc != CURLE_OK) {
        err = -EIO;
        reason = c->errbuf[0] ? c->errbuf : curl_easy_strerror(rc);
    } else if (status == 401) {
        err = -EACCES;
        reason = why_401(c, easy);
    } else if (status != 200 && status != 204) {
        err = -EIO;
        snprintf(text, sizeof text, "%s answered %ld", c->proxy ? "the cwmp-proxy" : "CPE", status);
        reason = text;
    }
    if (err) {
        count_failure(a, err);
        log_warn("cwmp_connection_request", LF_S("device", c->device), LF_I("status", status),
                 LF_S("outcome", acs_cr_outcome(err)), LF_S("reason", reason));
    } else {
        a->n.cr_ok++;
        log_info("cwmp_connection_request", LF_S("device", c->device), LF_I("status", status),
                 LF_S("outcome", "ok"));
    }
    if (c->done)
        c->done(err, status, reason, c->ud);
    free(c);
}

bool acs_cr_denied(const acs_t *a, const struct sockaddr *sa)
{
    return !a->crconf || net_egress_denied(&a->crconf->deny, sa);
}

bool acs_cr_is_proxy(const acs_t *a, const char *url)
{
    net_url_t *u = a->crconf ? malloc(sizeof *u) : NULL;
    bool yes = u && net_url_parse(url, u) == 0 && proxy_for(a->crconf, u) != NULL;
    url_free(u);
    return yes;
}

int acs_cr_send(acs_t *a, const store_device_t *d, acs_cr_done_fn done, void *ud)
{
    if (!a->curl || !a->crconf)
        return -ECANCELED;
    if (acs_cr_xmpp_wanted(a, d)) /* Annex K: the device keeps an XMPP login */
        return acs_cr_xmpp_send(a, d, done, ud);
    /* behind NAT: a UDP connection request (TR-069 Annex G), see acs_cr_udp.c */
    int urc = acs_cr_udp_try(a, d, done, ud);
    if (urc <= 0)
        return urc;
    return acs_cr_http(a, d, d->cr_url, done, ud);
}

int acs_cr_http(acs_t *a, const store_device_t *d, const char *url, acs_cr_done_fn done, void *ud)
{
    if (!a->curl || !a->crconf)
        return -ECANCELED;
    /* Each one holds a socket until the CPE answers (up to 5 s): a bulk
     * action on a large fleet must not take every descriptor. */
    int rc = url[0] ? 0 : -ENOENT;
    if (rc == 0 && a->ncrs >= (size_t)a->o.cr_max_in_flight)
        rc = -EBUSY;
    net_url_t *u = malloc(sizeof *u);
    if (!u)
        return -ENOMEM;
    if (rc == 0 && (net_url_parse(url, u) != 0 || u->user[0] ||
                    (strcmp(u->scheme, "http") != 0 && strcmp(u->scheme, "https") != 0)))
        rc = -EINVAL;
    cr_t *c = rc == 0 ? calloc(1, sizeof *c) : NULL;
    CURL *e = c ? curl_easy_init() : NULL;
    if (rc == 0 && !e)
        rc = -ENOMEM;
    if (rc) {
        count_failure(a, rc);
        log_warn("cwmp_connection_request", LF_S("device", d->id), LF_I("status", 0),
                 LF_S("outcome", acs_cr_outcome(rc)), LF_S("reason", acs_cr_strerror(rc)));
        free(c);
        url_free(u);
        return rc;
    }
    c->a = a;
    c->done = done;
    c->ud = ud;
    str_copy(c->device, sizeof c->device, d->id);
    const cr_proxy_t *px = proxy_for(a->crconf, u);
    const char *user, *pass;
    if (px) {
        user = a->o.cr_proxy_username;
        pass = a->o.cr_proxy_password;
    } else {
        user = d->cr_user[0] ? d->cr_user : a->o.cr_username;
        pass = d->cr_user[0] ? d->cr_pass : a->o.cr_password;
    }
    c->tls = u->tls;
    c->proxy = px != NULL;
    c->creds = user && *user;
    /* More than one bit makes curl ask first and answer the challenge with
     * the best scheme offered; Digest alone is never sent before one. */
    bool basic = a->o.cr_basic && (u->tls || a->o.cr_basic_plain);
    c->auth = CURLAUTH_DIGEST | (basic ? CURLAUTH_BASIC : 0);
    url_free(u);
    curl_easy_setopt(e, CURLOPT_URL, url);
    net_egress_apply(px ? NULL : &a->crconf->deny, &c->egress, e);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, 2000L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 5000L);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, c->errbuf);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "outpost-acs");
    if (c->creds) {
        curl_easy_setopt(e, CURLOPT_HTTPAUTH, c->auth);
        curl_easy_setopt(e, CURLOPT_USERNAME, user);
        curl_easy_setopt(e, CURLOPT_PASSWORD, pass ? pass : "");
    }
    /* CPE certificates are rarely verifiable (self-signed, IP addresses);
     * Digest never sends the password, and Basic goes only where allowed. */
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
    a->n.cr_sent++;
    rc = net_curl_add(a->curl, e, cr_finished, c);
    if (rc != 0) {
        free(c);
        return rc;
    }
    c->next = a->crs;
    if (a->crs)
        ((cr_t *)a->crs)->prev = c;
    a->crs = c;
    a->ncrs++;
    return 0;
}

void acs_cr_stop(acs_t *a)
{
    /* net_curl_free() drops transfers without callbacks: answer and free ours. */
    while (a->crs) {
        cr_t *c = a->crs;
        cr_unlink(c);
        if (c->done)
            c->done(-ECANCELED, 0, "shutting down", c->ud);
        free(c);
    }
}
