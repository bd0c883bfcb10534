/*
 * acs_webhook_send: the webhook dispatcher (see acs_webhook.h). One timer:
 * a tick claims up to (concurrency - in flight) due rows in a store job,
 * each leased for its hook's timeout plus a margin so no row goes out
 * twice at once; one curl transfer per row (net/curl_uv, on the loop); each
 * outcome recorded in a store job of its own, whose completion ticks again.
 * Between, it sleeps until the earliest next attempt the claim reported;
 * acs_webhook_kick wakes it when something is queued.
 *
 * Backoff: the n-th failed attempt waits --webhook-backoff * 2^(n-1),
 * capped at BACKOFF_CAP_S; once the next attempt would come after the
 * event's deadline (its creation + --webhook-retry-for), the delivery is
 * failed.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acs/acs_webhook_int.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/str.h"
#include "core/version.h"
#include "net/addr.h"

struct hook_call {
    acs_hooks_t *h;
    hook_call_t *prev, *next;
    hook_set_t *set;          /* held while in flight: hook points into it */
    hook_t *hook;
    store_hook_delivery_t d;
    char *body;
    struct curl_slist *hdrs;
    char errbuf[CURL_ERROR_SIZE];
};

static void call_free(hook_call_t *c)
{
    acs_webhook_set_put(c->set);
    curl_slist_free_all(c->hdrs);
    free(c->body);
    free(c);
}

void acs_webhook_calls_free(acs_hooks_t *H)
{
    /* net_curl_free dropped them: their callbacks never ran */
    while (H->calls) {
        hook_call_t *c = H->calls;
        H->calls = c->next;
        call_free(c);
    }
}

static void tick(uv_timer_t *t);

/* Run the tick in ms (sooner if it was due sooner). */
static void schedule(acs_hooks_t *H, uint64_t ms)
{
    if (H->stopping || !H->timer)
        return;
    if (uv_is_active((uv_handle_t *)H->timer) && uv_timer_get_due_in(H->timer) <= ms)
        return;
    uv_timer_start(H->timer, tick, ms, 0);
}

void acs_webhook_kick(acs_t *a)
{
    acs_hooks_t *H = a->hooks;
    if (!H)
        return;
    if (H->claiming)
        H->again = true;
    else
        schedule(H, 0);
}

void acs_webhook_retried(acs_t *a)
{
    acs_webhook_kick(a);
}

typedef struct claim_job {
    acs_hooks_t *H;
    int64_t now, next_due, lease_s;
    size_t n, cap;
    hook_call_t **calls;
} claim_job_t;

static int claim_one(const store_hook_delivery_t *d, void *ud)
{
    claim_job_t *j = ud;
    if (j->n >= j->cap)
        return 0;
    hook_call_t *c = calloc(1, sizeof *c);
    if (!c || !(c->body = strdup(d->body ? d->body : ""))) {
        free(c);
        return 0; /* leased: it comes back once the lease runs out */
    }
    c->d = *d;
    c->d.body = NULL;
    j->calls[j->n++] = c;
    return 0;
}

static int claim_run(store_t *st, void *ud)
{
    claim_job_t *j = ud;
    return store_hook_claim(st, j->now, j->now + j->lease_s, (int64_t)j->cap, claim_one, j,
                            &j->next_due);
}

static void send_call(acs_hooks_t *H, hook_call_t *c);
static void record(acs_hooks_t *H, hook_call_t *c);

/* Queued for a hook the configuration no longer has (removed at a reload
 * or a restart): failed, counted, one line per 10 s. */
static void unconfigured(acs_hooks_t *H, hook_call_t *c)
{
    c->d.status = STORE_HOOK_FAILED;
    str_copy(c->d.last_error, sizeof c->d.last_error, "no hook of that name is configured");
    H->unconfigured++;
    int64_t now = clock_mono_ms();
    if (!H->unconfigured_logged_ms || now - H->unconfigured_logged_ms >= 10000) {
        log_warn("webhook_unconfigured", LF_S("hook", c->d.hook), LF_I("id", c->d.id),
                 LF_S("event", c->d.event), LF_S("reason", c->d.last_error),
                 LF_U("suppressed", H->unconfigured_suppressed));
        H->unconfigured_logged_ms = now;
        H->unconfigured_suppressed = 0;
    } else {
        H->unconfigured_suppressed++;
    }
    record(H, c);
}

static void claim_done(int rc, void *ud)
{
    claim_job_t *j = ud;
    acs_hooks_t *H = j->H;
    H->claiming = false;
    for (size_t i = 0; i < j->n; i++) {
        hook_call_t *c = j->calls[i];
        if (rc != 0 || H->stopping || !H->a->curl) {
            call_free(c); /* leased: released at the next start */
            continue;
        }
        c->h = H;
        c->hook = acs_webhook_hook(H, c->d.hook);
        if (!c->hook) {
            unconfigured(H, c);
            continue;
        }
        c->set = acs_webhook_set_get(H);
        send_call(H, c);
    }
    bool full = j->n == j->cap;
    int64_t next_due = j->next_due;
    free(j->calls);
    free(j);
    if (H->stopping)
        return;
    bool again = H->again;
    H->again = false;
    if (rc != 0)
        schedule(H, 1000);
    else if (again || (full && (int64_t)H->inflight < H->concurrency))
        schedule(H, 0);
    else if (next_due > 0) {
        /* a completion kicks too; otherwise sleep until the next row is due */
        /* rows are due from the start of their second (Unix s) */
        int64_t in_ms = next_due * 1000 - clock_real_ms();
        schedule(H, in_ms > 0 ? (uint64_t)in_ms + 5 : 1000);
    }
}

static void tick(uv_timer_t *t)
{
    acs_hooks_t *H = t->data;
    if (H->stopping || H->claiming || !H->a->db || H->a->stopping)
        return;
    if ((int64_t)H->inflight >= H->concurrency)
        return; /* a completion kicks */
    if (!H->set->n)
        return; /* no hooks (a reload adding one kicks): their rows wait */
    claim_job_t *j = calloc(1, sizeof *j);
    size_t cap = (size_t)(H->concurrency - (int64_t)H->inflight);
    if (!j || !(j->calls = calloc(cap, sizeof *j->calls))) {
        free(j);
        schedule(H, 1000);
        return;
    }
    j->H = H;
    j->cap = cap;
    j->now = clock_real_s();
    j->lease_s = H->set->lease_s;
    H->claiming = true;
    if (store_worker_submit(H->a->db, claim_run, claim_done, j) != 0) {
        H->claiming = false;
        free(j->calls);
        free(j);
        schedule(H, 1000);
    }
}

/* ---- one attempt --------------------------------------------------------------------------- */

static size_t discard(char *p, size_t size, size_t n, void *ud)
{
    (void)p;
    (void)ud;
    return size * n; /* the receiver's body says nothing we keep */
}

static void call_unlink(acs_hooks_t *H, hook_call_t *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        H->calls = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->prev = c->next = NULL;
}

typedef struct result_job {
    acs_hooks_t *H;
    store_hook_delivery_t d;
} result_job_t;

static int result_run(store_t *st, void *ud)
{
    result_job_t *j = ud;
    int rc = store_hook_result(st, &j->d, clock_real_s());
    return rc == -ESTALE ? 0 : rc; /* retried or pruned meanwhile: nothing to record */
}

static void result_done(int rc, void *ud)
{
    result_job_t *j = ud;
    (void)rc;
    if (!j->H->stopping)
        acs_webhook_kick(j->H->a);
    free(j);
}

/* Record c's outcome (c->d filled) and free c. */
static void record(acs_hooks_t *H, hook_call_t *c)
{
    result_job_t *j = malloc(sizeof *j);
    if (j) {
        j->H = H;
        j->d = c->d;
        /* a full store queue: the row stays leased and is tried again after the lease */
        if (!H->a->db || store_worker_submit(H->a->db, result_run, result_done, j) != 0)
            free(j);
    }
    call_free(c);
}

static void attempt_done(CURL *easy, CURLcode crc, long status, void *ud)
{
    hook_call_t *c = ud;
    acs_hooks_t *H = c->h;
    (void)easy;
    call_unlink(H, c);
    H->inflight--;
    int64_t now_ms = clock_real_ms(), now = now_ms / 1000;
    hook_t *h = c->hook;
    hook_stats_t *st = h->st;
    store_hook_delivery_t *d = &c->d;
    d->attempts++;
    d->last_status = crc == CURLE_OK ? (int)status : 0;
    if (crc == CURLE_OK && status >= 200 && status < 300) {
        d->status = STORE_HOOK_DELIVERED;
        d->last_error[0] = '\0';
        st->delivered++;
        st->attempts_ok++;
        /* debug: one line per event at info would double the log of a busy fleet */
        log_debug("webhook_delivered", LF_S("hook", h->name), LF_I("id", d->id),
                 LF_S("event", d->event), LF_I("status", status), LF_I("attempts", d->attempts));
    } else {
        st->attempts_err++;
        if (crc != CURLE_OK)
            snprintf(d->last_error, sizeof d->last_error, "%s",
                     c->errbuf[0] ? c->errbuf : curl_easy_strerror(crc));
        else
            snprintf(d->last_error, sizeof d->last_error, "the receiver answered %ld", status);
        int shift = d->attempts - 1 < 20 ? d->attempts - 1 : 20;
        int64_t delay = H->backoff_s << shift;
        if (delay > BACKOFF_CAP_S)
            delay = BACKOFF_CAP_S;
        if (now + delay > d->deadline) {
            d->status = STORE_HOOK_FAILED;
            st->failed++;
            char shown[NET_URL_SHOWN];
            net_url_redacted(h->url, shown, sizeof shown);
            log_warn("webhook_failed", LF_S("hook", h->name), LF_S("url", shown), LF_I("id", d->id),
                     LF_S("event", d->event), LF_I("attempts", d->attempts),
                     LF_S("reason", d->last_error));
        } else {
            d->status = STORE_HOOK_PENDING;
            /* rounded up: rows are due from the start of a second, and the
             * wait is never shorter than the backoff */
            d->next_attempt = (now_ms + delay * 1000 + 999) / 1000;
            log_debug("webhook_retry", LF_S("hook", h->name), LF_I("id", d->id),
                     LF_S("event", d->event), LF_I("attempts", d->attempts), LF_I("in_s", delay),
                     LF_S("reason", d->last_error));
        }
    }
    record(H, c);
    /* normally the recorded result kicks; should its job not run (the
     * store's queue full), look again in a second anyway */
    schedule(H, 1000);
}

static void send_call(acs_hooks_t *H, hook_call_t *c)
{
    hook_t *h = c->hook;
    int64_t ts = clock_real_s();
    char sig[ACS_WEBHOOK_SIG_HEX];
    size_t blen = strlen(c->body);
    CURL *e = curl_easy_init();
    bool ok = e && acs_webhook_sign(h->secret, h->secret_len, ts, c->body, blen, sig) == 0;
    struct curl_slist *l = NULL;
    char lines[6][256];
    snprintf(lines[0], sizeof lines[0], "Content-Type: application/json");
    snprintf(lines[1], sizeof lines[1], "Expect:"); /* no 100-continue round trip */
    /* the four of docs/webhooks.md */
    snprintf(lines[2], sizeof lines[2], "X-Outpost-Event: %s", c->d.event);
    snprintf(lines[3], sizeof lines[3], "X-Outpost-Delivery: %" PRId64, c->d.id);
    snprintf(lines[4], sizeof lines[4], "X-Outpost-Timestamp: %" PRId64, ts);
    snprintf(lines[5], sizeof lines[5], "X-Outpost-Signature: sha256=%s", sig);
    for (size_t i = 0; ok && i < 6; i++) {
        struct curl_slist *n = curl_slist_append(l, lines[i]);
        if (!n)
            ok = false;
        else
            l = n;
    }
    c->hdrs = l;
    if (!ok) {
        if (e)
            curl_easy_cleanup(e);
        /* out of memory: the row is leased and comes back later */
        call_free(c);
        return;
    }
    curl_easy_setopt(e, CURLOPT_URL, h->url);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_POST, 1L);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, c->body);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)blen);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, c->hdrs);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "outpost-acs/" OUTPOST_VERSION);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)h->timeout_ms);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)(h->timeout_ms < 10000 ? h->timeout_ms : 10000));
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, c->errbuf);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, h->tls_verify ? 1L : 0L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, h->tls_verify ? 2L : 0L);
    if (h->ca)
        curl_easy_setopt(e, CURLOPT_CAINFO, h->ca);
    c->next = H->calls;
    if (H->calls)
        H->calls->prev = c;
    H->calls = c;
    H->inflight++;
    if (net_curl_add(H->a->curl, e, attempt_done, c) != 0) {
        call_unlink(H, c);
        H->inflight--;
        call_free(c);
    }
}

