/*
 * acs_cr: connection requests. An HTTP GET to the CPE's
 * ConnectionRequestURL with Digest (Basic only when allowed), driven by
 * libcurl's multi interface on the loop; connect 2 s, total 5 s. A URL that
 * points at outpost cwmp-proxy's /client?origin=... endpoint is answered
 * with the configured proxy credentials (Basic, as the proxy asks).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "acs/acs_internal.h"
#include "core/log.h"
#include "core/str.h"

typedef struct cr {
    struct cr *next, *prev; /* in flight, for shutdown */
    acs_t *a;
    acs_cr_done_fn done;
    void *ud;
    char device[STORE_ID_MAX];
    char errbuf[CURL_ERROR_SIZE];
} cr_t;

static size_t discard(char *p, size_t size, size_t n, void *ud)
{
    return size * n; /* the body of a connection request answer carries nothing */
}

static void cr_unlink(cr_t *c)
{
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
    if (rc != CURLE_OK) {
        err = -EIO;
        reason = c->errbuf[0] ? c->errbuf : curl_easy_strerror(rc);
    } else if (status != 200 && status != 204) {
        err = -EACCES;
        reason = status == 401 ? "CPE refused our credentials" : "CPE answered with an error status";
    }
    if (err) {
        a->n.cr_failed++;
        log_warn("cwmp_connection_request", LF_S("device", c->device), LF_I("status", status),
                 LF_S("reason", reason));
    } else {
        a->n.cr_ok++;
        log_info("cwmp_connection_request", LF_S("device", c->device), LF_I("status", status));
    }
    if (c->done)
        c->done(err, status, reason, c->ud);
    free(c);
}

static bool via_proxy(const char *url)
{
    const char *p = strstr(url, "://");
    p = p ? strchr(p + 3, '/') : NULL;
    return p && strncmp(p, "/client?origin=", 15) == 0;
}

int acs_cr_send(acs_t *a, const store_device_t *d, acs_cr_done_fn done, void *ud)
{
    if (!a->curl || !d->cr_url[0])
        return -EINVAL;
    if (strncmp(d->cr_url, "http://", 7) != 0 && strncmp(d->cr_url, "https://", 8) != 0)
        return -EINVAL;
    cr_t *c = calloc(1, sizeof *c);
    CURL *e = c ? curl_easy_init() : NULL;
    if (!e) {
        free(c);
        return -ENOMEM;
    }
    c->a = a;
    c->done = done;
    c->ud = ud;
    str_copy(c->device, sizeof c->device, d->id);
    const char *user = d->cr_user[0] ? d->cr_user : a->o.cr_username;
    const char *pass = d->cr_user[0] ? d->cr_pass : a->o.cr_password;
    long auth = CURLAUTH_DIGEST | (a->o.cr_basic ? CURLAUTH_BASIC : 0);
    if (via_proxy(d->cr_url) && a->o.cr_proxy_username) {
        user = a->o.cr_proxy_username;
        pass = a->o.cr_proxy_password ? a->o.cr_proxy_password : "";
        auth = CURLAUTH_BASIC;
    }
    curl_easy_setopt(e, CURLOPT_URL, d->cr_url);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, 2000L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 5000L);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, c->errbuf);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "outpost-acs");
    if (user && *user) {
        curl_easy_setopt(e, CURLOPT_HTTPAUTH, auth);
        curl_easy_setopt(e, CURLOPT_USERNAME, user);
        curl_easy_setopt(e, CURLOPT_PASSWORD, pass ? pass : "");
    }
    /* CPE certificates are rarely verifiable (self-signed, IP addresses). */
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
    a->n.cr_sent++;
    int rc = net_curl_add(a->curl, e, cr_finished, c);
    if (rc != 0) {
        free(c);
        return rc;
    }
    c->next = a->crs;
    if (a->crs)
        ((cr_t *)a->crs)->prev = c;
    a->crs = c;
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
