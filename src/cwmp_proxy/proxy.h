/*
 * proxy: the cwmp-proxy daemon's shared state, seen by its modules
 * (forward, health, wakeup, admin) and owned by cwmp_proxy.c, which builds
 * it at start-up, reloads the backend list on SIGHUP and frees it on exit.
 */
#ifndef OUTPOST_CWMP_PROXY_PROXY_H
#define OUTPOST_CWMP_PROXY_PROXY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "codec/crurl.h"
#include "codec/zbody.h"
#include "core/config.h"
#include "core/runtime.h"
#include "cwmp_proxy/balancer.h"
#include "core/metrics.h"
#include "cwmp_proxy/origins.h"
#include "cwmp_proxy/origins_sync.h"
#include "cwmp_proxy/sessions.h"
#include "net/http_server.h"
#include "net/tls.h"

typedef struct cwmp_proxy_opts {
    cfg_common_t common;
    cfg_list_t backends;
    char *public_url;
    char *cookie_name;
    bool proxy_cookie;
    int64_t session_ttl_ms;
    int64_t max_sessions;
    /* health */
    int64_t health_interval_ms;
    int64_t health_timeout_ms;
    int64_t health_rise;
    int64_t health_fall;
    char *health_path;
    int64_t passive_fall;
    int64_t retry_after_ms;
    /* forwarding */
    int64_t backend_connect_timeout_ms;
    int64_t backend_timeout_ms;
    int64_t backend_idle_ms;
    int64_t backend_idle_max;
    char *backend_ca;
    bool backend_tls_verify;
    uint64_t max_body;
    uint64_t rewrite_window;
    char *backend_encoding;
    bool trust_forwarded;
    int64_t idle_timeout_ms;
    /* wake-up relay */
    char *acs_user;
    char *acs_password;
    char *cpe_user;
    char *cpe_password;
    cfg_list_t cpe_credentials;
    cfg_list_t wakeup_deny; /* CIDRs a wake-up never connects to */
    char *cpe_auth;
    bool cpe_allow_basic;
    int64_t wakeup_connect_timeout_ms;
    int64_t wakeup_timeout_ms;
    int64_t max_wakeups;
    int64_t acs_auth_max_failures;
    int64_t acs_auth_lockout_ms;
    /* origins */
    int64_t origin_ttl_ms;
    int64_t max_origins;
    char *origin_store;        /* NULL: DATA_DIR/cwmp-proxy-origins.db */
    int64_t origin_refresh_ms; /* a shared store: how often others' rows are read */
} cwmp_proxy_opts_t;

enum wakeup_outcome {
    WAKE_OK = 0,          /* CPE answered 200/204 */
    WAKE_UNAUTHORIZED,    /* ACS sent wrong credentials (Digest or Basic) */
    WAKE_FORBIDDEN,       /* origin never rewritten by us, or its address denied */
    WAKE_CPE_AUTH_FAILED, /* CPE refused our Digest answer */
    WAKE_UNREACHABLE,     /* connect refused, no route... */
    WAKE_TIMEOUT,
    WAKE_CPE_ERROR,       /* CPE answered something else */
    WAKE_BAD_REQUEST,
    WAKE_BUSY,            /* too many wake-ups in flight */
    WAKE_LOCKED_OUT,      /* too many wrong passwords from that address */
    WAKE_CHALLENGED,      /* no credentials yet (or a stale nonce): the ACS gets the challenge */
    WAKE_NOUTCOMES
};

typedef struct proxy_stats {
    uint64_t requests;            /* CPE requests forwarded (or refused) */
    uint64_t responses[6];        /* by status class, index 1..5 */
    uint64_t no_backend;          /* 503: nothing up */
    uint64_t upstream_errors;     /* 502/504 produced here */
    uint64_t redispatched;        /* first requests retried on another node */
    uint64_t reuse_retries;       /* requests sent again after an idle connection closed under them */
    uint64_t rewrites;            /* ConnectionRequestURL values replaced */
    uint64_t rewrite_skipped;
    uint64_t rewrite_passthrough; /* bodies we could not parse */
    uint64_t streamed_bodies;     /* requests over the rewrite window */
    uint64_t sessions;            /* CWMP sessions started (Informs) */
    uint64_t bytes_up, bytes_down;
    uint64_t wakeups[WAKE_NOUTCOMES];
    metrics_hist_t request_latency; /* request head in -> response end */
    metrics_hist_t wakeup_latency;
} proxy_stats_t;

typedef struct health health_t;
typedef struct wakeup wakeup_t;

typedef struct proxy {
    uv_loop_t *loop;
    cwmp_proxy_opts_t o;
    runtime_t rt;
    char public_url[1024];        /* without a trailing '/' */
    bool reencode;
    balancer_t bal;
    sessions_t sess;
    origins_t origins;
    crurl_t *rw;                  /* shared by whole-body rewrites (synchronous) */
    struct fwd *rw_owner;         /* the request it is rewriting */
    buf_t scratch_head;           /* request heads and response header blocks are built */
    buf_t scratch_cookie;         /* here and copied into a connection's queue at once */
    health_t *health;
    wakeup_t *wakeup;
    tls_ctx_t *tls_server, *tls_backend;
    http_server_t *srv;           /* CPE side (+ wake-ups from the ACS) */
    struct http_admin *admin;
    uv_timer_t housekeeping;      /* session expiry, origin expiry */
    uv_check_t flush_check;       /* writes pending origins in batches */
    origins_sync_t *origins_sync; /* a shared origin store's calls, off the loop */
    int64_t pend_since_ms;        /* oldest unwritten origin, 0 = none */
    char api_token[80];
    proxy_stats_t st;
    size_t fwd_conns;             /* client connections with proxy state */
    size_t in_flight;             /* requests being forwarded */
    bool stopping;
    bool timers_on;
    /* for SIGHUP: how the daemon was started */
    int argc;
    char **argv;
    int64_t started_ms;
} proxy_t;

/* forward.c: the CPE side of the main listener. */
void fwd_on_head(http_req_t *r, void *ud);
void fwd_handler(http_req_t *r, void *ud);
void fwd_origin_cb(void *ud, const char *origin, size_t len); /* the shared rewriter's */

/* Parse a --backend item into a spec (strings point into `storage`). */
typedef struct backend_item {
    backend_spec_t spec;
    char url[1024];
    char name[128];
    char host[256];
} backend_item_t;
int proxy_parse_backend(const char *item, backend_item_t *out, char *err, size_t errlen);

#endif
