/*
 * balancer: backend list, smooth weighted round-robin, rise/fall health.
 */
#include "cwmp_proxy/balancer.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"

void balancer_init(balancer_t *b, const balancer_opts_t *o)
{
    memset(b, 0, sizeof *b);
    b->o = *o;
    if (!b->o.rise)
        b->o.rise = 2;
    if (!b->o.fall)
        b->o.fall = 3;
    b->next_id = 1;
}

static void backend_free(backend_t *be)
{
    free(be->url);
    free(be->name);
    free(be->host);
    free(be);
}

static void notify(balancer_t *b, backend_t *be, const char *what)
{
    if (b->on_change)
        b->on_change(b, be, what, b->ud);
}

void balancer_free(balancer_t *b)
{
    for (size_t i = 0; i < b->n; i++) {
        notify(b, b->v[i], "freed");
        backend_free(b->v[i]);
    }
    free(b->v);
    b->v = NULL;
    b->n = b->cap = 0;
}

static backend_t *backend_new(balancer_t *b, const backend_spec_t *s)
{
    backend_t *be = calloc(1, sizeof *be);
    if (!be)
        return NULL;
    char hp[300];
    snprintf(hp, sizeof hp, "%s:%u", s->host, s->port);
    be->url = strdup(s->url);
    be->name = strdup(s->name && s->name[0] ? s->name : hp);
    be->host = strdup(s->host);
    if (!be->url || !be->name || !be->host) {
        backend_free(be);
        return NULL;
    }
    be->port = s->port;
    be->tls = s->tls;
    be->weight = s->weight ? s->weight : 1;
    be->reuse = s->reuse;
    be->up = true; /* like haproxy: trusted until checks say otherwise */
    snprintf(be->reason, sizeof be->reason, "configured");
    return be;
}

static backend_t *find_live_url(const balancer_t *b, const char *url)
{
    for (size_t i = 0; i < b->n; i++)
        if (!b->v[i]->retired && strcmp(b->v[i]->url, url) == 0)
            return b->v[i];
    return NULL;
}

static void remove_at(balancer_t *b, size_t i)
{
    backend_t *be = b->v[i];
    memmove(b->v + i, b->v + i + 1, (b->n - i - 1) * sizeof *b->v);
    b->n--;
    notify(b, be, "freed");
    backend_free(be);
}

int balancer_apply(balancer_t *b, const backend_spec_t *specs, size_t n, size_t *added,
                   size_t *retired)
{
    /* Build the additions first so a failed allocation changes nothing. */
    backend_t **fresh = calloc(n ? n : 1, sizeof *fresh);
    if (!fresh)
        return -ENOMEM;
    size_t nfresh = 0;
    for (size_t i = 0; i < n; i++) {
        if (find_live_url(b, specs[i].url))
            continue;
        bool dup = false;
        for (size_t j = 0; j < nfresh; j++)
            dup |= strcmp(fresh[j]->url, specs[i].url) == 0;
        if (dup)
            continue;
        if (!(fresh[nfresh] = backend_new(b, &specs[i]))) {
            for (size_t j = 0; j < nfresh; j++)
                backend_free(fresh[j]);
            free(fresh);
            return -ENOMEM;
        }
        nfresh++;
    }
    if (b->n + nfresh > b->cap) {
        size_t cap = (b->n + nfresh) * 2;
        backend_t **v = realloc(b->v, cap * sizeof *v);
        if (!v) {
            for (size_t j = 0; j < nfresh; j++)
                backend_free(fresh[j]);
            free(fresh);
            return -ENOMEM;
        }
        b->v = v;
        b->cap = cap;
    }
    /* Retire what the new list lacks; update weights of what stays. */
    size_t nret = 0;
    for (size_t i = 0; i < b->n; i++) {
        backend_t *be = b->v[i];
        if (be->retired)
            continue;
        const backend_spec_t *s = NULL;
        for (size_t j = 0; j < n && !s; j++)
            if (strcmp(specs[j].url, be->url) == 0)
                s = &specs[j];
        if (s) {
            be->weight = s->weight ? s->weight : 1;
            be->reuse = s->reuse;
            continue;
        }
        be->retired = true;
        nret++;
        notify(b, be, "retired");
    }
    for (size_t j = 0; j < nfresh; j++) {
        fresh[j]->id = b->next_id++;
        b->v[b->n++] = fresh[j];
        notify(b, fresh[j], "added");
    }
    free(fresh);
    /* Retired backends nobody holds go now. */
    for (size_t i = b->n; i-- > 0;)
        if (b->v[i]->retired && b->v[i]->refs == 0)
            remove_at(b, i);
    /* Start the rotation afresh so the new list is walked evenly. */
    for (size_t i = 0; i < b->n; i++)
        b->v[i]->cw = 0;
    if (added)
        *added = nfresh;
    if (retired)
        *retired = nret;
    return 0;
}

backend_t *balancer_pick(balancer_t *b)
{
    backend_t *best = NULL;
    int64_t total = 0;
    for (size_t i = 0; i < b->n; i++) {
        backend_t *be = b->v[i];
        if (!be->up || be->retired)
            continue;
        be->cw += be->weight;
        total += be->weight;
        if (!best || be->cw > best->cw)
            best = be;
    }
    if (best)
        best->cw -= total;
    return best;
}

backend_t *balancer_find(const balancer_t *b, uint32_t id)
{
    for (size_t i = 0; i < b->n; i++)
        if (b->v[i]->id == id)
            return b->v[i];
    return NULL;
}

size_t balancer_count_up(const balancer_t *b)
{
    size_t n = 0;
    for (size_t i = 0; i < b->n; i++)
        n += b->v[i]->up && !b->v[i]->retired;
    return n;
}

size_t balancer_count_live(const balancer_t *b)
{
    size_t n = 0;
    for (size_t i = 0; i < b->n; i++)
        n += !b->v[i]->retired;
    return n;
}

size_t balancer_live(const balancer_t *b, backend_t **out, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < b->n; i++)
        if (!b->v[i]->retired && n < max)
            out[n++] = b->v[i];
    return n;
}

static bool set_state(balancer_t *b, backend_t *be, bool up, const char *reason, int64_t now_ms)
{
    if (be->up == up)
        return false;
    be->up = up;
    be->changed_ms = now_ms;
    snprintf(be->reason, sizeof be->reason, "%s", reason ? reason : "");
    be->ok_run = be->fail_run = be->passive_run = 0;
    if (up)
        log_info("backend_up", LF_S("backend", be->name), LF_S("reason", be->reason));
    else
        log_warn("backend_down", LF_S("backend", be->name), LF_S("reason", be->reason));
    notify(b, be, up ? "up" : "down");
    return true;
}

bool balancer_check_result(balancer_t *b, backend_t *be, bool ok, const char *reason, int64_t now_ms)
{
    if (ok) {
        be->fail_run = 0;
        if (be->ok_run < b->o.rise)
            be->ok_run++;
        if (!be->up && be->ok_run >= b->o.rise)
            return set_state(b, be, true, reason ? reason : "health check passed", now_ms);
        return false;
    }
    be->checks_failed++;
    be->ok_run = 0;
    if (be->fail_run < b->o.fall)
        be->fail_run++;
    if (be->up && be->fail_run >= b->o.fall)
        return set_state(b, be, false, reason ? reason : "health check failed", now_ms);
    return false;
}

bool balancer_connect_result(balancer_t *b, backend_t *be, bool ok, const char *reason,
                             int64_t now_ms)
{
    if (ok) {
        be->passive_run = 0;
        return false;
    }
    be->connect_failures++;
    if (b->o.passive_fall == 0)
        return false;
    if (be->passive_run < b->o.passive_fall)
        be->passive_run++;
    if (be->up && be->passive_run >= b->o.passive_fall)
        return set_state(b, be, false, reason ? reason : "connect failed", now_ms);
    return false;
}

void balancer_ref(backend_t *be) { be->refs++; }

void balancer_unref(balancer_t *b, backend_t *be)
{
    if (be->refs)
        be->refs--;
    if (!be->retired || be->refs)
        return;
    for (size_t i = 0; i < b->n; i++)
        if (b->v[i] == be) {
            remove_at(b, i);
            return;
        }
}
