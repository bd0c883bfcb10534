/*
 * sessions: the cwmp-proxy's memory of CWMP sessions, so a CPE that
 * reconnects in the middle of a session reaches the same ACS node.
 *
 * A session is created when a new CWMP session (an Inform, or the first
 * request of a connection without a known cookie) is given a backend. Its
 * token goes to the CPE in the proxy's cookie; the ACS's own session cookie
 * (from its Set-Cookie) is mapped to it too, for CPEs that only echo that
 * one. Sessions expire `ttl_ms` after their last request and the table holds
 * at most `max` (the least recently used goes first), so it cannot grow
 * without bound whatever the CPEs do.
 *
 * The table owns the session_t objects. Pointers returned are valid until
 * the next call that may remove sessions (create, find, expire, end):
 * callers keep the token, not the pointer.
 */
#ifndef OUTPOST_CWMP_PROXY_SESSIONS_H
#define OUTPOST_CWMP_PROXY_SESSIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/hmap.h"

enum { SESSION_TOKEN_LEN = 32, SESSION_DEVICE_MAX = 224, SESSION_COOKIE_MAX = 512 };

typedef struct session {
    char token[SESSION_TOKEN_LEN + 1];
    uint32_t backend_id;
    char device[SESSION_DEVICE_MAX];   /* "" until an Inform said */
    char *acs_cookie;                  /* "name=value", or NULL */
    bool challenged;                   /* the node's last answer was 401: the
                                        * Inform is coming again, with credentials */
    int64_t last_ms;
    struct session *prev, *next;       /* LRU: head = least recently used */
} session_t;

typedef struct sessions {
    hmap_t by_token;       /* keys copied */
    hmap_t by_cookie;      /* keys copied */
    session_t *head, *tail;
    size_t n, max;
    int64_t ttl_ms;
    uint64_t evicted;                  /* pushed out by the cap */
    uint64_t key[2], counter;          /* token = SipHash(key, counter), 128 bits */
} sessions_t;

int sessions_init(sessions_t *s, size_t max, int64_t ttl_ms);
void sessions_free(sessions_t *s);

/* A new session on backend_id (random token). NULL on ENOMEM. */
session_t *sessions_create(sessions_t *s, uint32_t backend_id, int64_t now_ms);
/* By token / by the ACS's "name=value" cookie; NULL when unknown or
 * expired (an expired one is removed). A found session is touched. */
session_t *sessions_find(sessions_t *s, const char *token, int64_t now_ms);
session_t *sessions_find_cookie(sessions_t *s, const char *pair, int64_t now_ms);
void sessions_touch(sessions_t *s, session_t *x, int64_t now_ms);
/* Map the ACS's cookie to x (replacing x's previous one). 0 or -ENOMEM. */
int sessions_set_acs_cookie(sessions_t *s, session_t *x, const char *pair);
void sessions_set_device(session_t *x, const char *device);
void sessions_end(sessions_t *s, session_t *x);
/* Drop sessions idle for ttl_ms; returns how many. */
size_t sessions_expire(sessions_t *s, int64_t now_ms);

#endif
