/*
 * sessions: token and ACS-cookie maps over one LRU list.
 */
#include "cwmp_proxy/sessions.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/str.h"
#include "core/hmap.h"

int sessions_init(sessions_t *s, size_t max, int64_t ttl_ms)
{
    memset(s, 0, sizeof *s);
    s->max = max ? max : 100000;
    s->ttl_ms = ttl_ms > 0 ? ttl_ms : 300000;
    hmap_init(&s->by_token);
    hmap_init(&s->by_cookie);
    if (str_random(s->key, sizeof s->key) ||
        str_random(&s->counter, sizeof s->counter)) {
        sessions_free(s);
        return -ENOMEM;
    }
    return 0;
}

static void unlink_lru(sessions_t *s, session_t *x)
{
    if (x->prev)
        x->prev->next = x->next;
    else
        s->head = x->next;
    if (x->next)
        x->next->prev = x->prev;
    else
        s->tail = x->prev;
    x->prev = x->next = NULL;
}

static void push_tail(sessions_t *s, session_t *x)
{
    x->prev = s->tail;
    x->next = NULL;
    if (s->tail)
        s->tail->next = x;
    else
        s->head = x;
    s->tail = x;
}

void sessions_free(sessions_t *s)
{
    session_t *x = s->head;
    while (x) {
        session_t *next = x->next;
        free(x->acs_cookie);
        free(x);
        x = next;
    }
    hmap_free(&s->by_token);
    hmap_free(&s->by_cookie);
    memset(s, 0, sizeof *s);
}

void sessions_end(sessions_t *s, session_t *x)
{
    hmap_del(&s->by_token, x->token, strlen(x->token));
    if (x->acs_cookie && hmap_gets(&s->by_cookie, x->acs_cookie) == x)
        hmap_del(&s->by_cookie, x->acs_cookie, strlen(x->acs_cookie));
    unlink_lru(s, x);
    free(x->acs_cookie);
    free(x);
    s->n--;
}

session_t *sessions_create(sessions_t *s, uint32_t backend_id, int64_t now_ms)
{
    while (s->n >= s->max && s->head) {
        sessions_end(s, s->head);
        s->evicted++;
    }
    session_t *x = calloc(1, sizeof *x);
    if (!x)
        return NULL;
    /* 128 bits from a keyed PRF over a counter: unguessable without the
     * process's random key, and no syscall per session. */
    uint64_t out[2], in[2] = { s->counter, 0 };
    s->counter++;
    out[0] = hmap_siphash(s->key[0], s->key[1], in, sizeof in);
    in[1] = 1;
    out[1] = hmap_siphash(s->key[0], s->key[1], in, sizeof in);
    str_hex(out, sizeof out, x->token);
    if (hmap_set_copy(&s->by_token, x->token, strlen(x->token), x, NULL)) {
        free(x);
        return NULL;
    }
    x->backend_id = backend_id;
    x->last_ms = now_ms;
    push_tail(s, x);
    s->n++;
    return x;
}

void sessions_touch(sessions_t *s, session_t *x, int64_t now_ms)
{
    x->last_ms = now_ms;
    unlink_lru(s, x);
    push_tail(s, x);
}

static session_t *live(sessions_t *s, session_t *x, int64_t now_ms)
{
    if (!x)
        return NULL;
    if (now_ms - x->last_ms >= s->ttl_ms) {
        sessions_end(s, x);
        return NULL;
    }
    sessions_touch(s, x, now_ms);
    return x;
}

session_t *sessions_find(sessions_t *s, const char *token, int64_t now_ms)
{
    return live(s, hmap_gets(&s->by_token, token), now_ms);
}

session_t *sessions_find_cookie(sessions_t *s, const char *pair, int64_t now_ms)
{
    return live(s, hmap_gets(&s->by_cookie, pair), now_ms);
}

int sessions_set_acs_cookie(sessions_t *s, session_t *x, const char *pair)
{
    if (x->acs_cookie && strcmp(x->acs_cookie, pair) == 0)
        return 0;
    char *copy = strdup(pair);
    if (!copy)
        return -ENOMEM;
    void *old = NULL;
    if (hmap_set_copy(&s->by_cookie, pair, strlen(pair), x, &old)) {
        free(copy);
        return -ENOMEM;
    }
    /* The same ACS cookie now names x; the session that had it loses it. */
    session_t *prev = old;
    if (prev && prev != x) {
        free(prev->acs_cookie);
        prev->acs_cookie = NULL;
    }
    if (x->acs_cookie && hmap_gets(&s->by_cookie, x->acs_cookie) == x)
        hmap_del(&s->by_cookie, x->acs_cookie, strlen(x->acs_cookie));
    free(x->acs_cookie);
    x->acs_cookie = copy;
    return 0;
}

void sessions_set_device(session_t *x, const char *device)
{
    str_copy(x->device, sizeof x->device, device);
}

size_t sessions_expire(sessions_t *s, int64_t now_ms)
{
    size_t n = 0;
    while (s->head && now_ms - s->head->last_ms >= s->ttl_ms) {
        sessions_end(s, s->head);
        n++;
    }
    return n;
}
