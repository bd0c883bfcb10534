/*
 * acs_internal: what the ACS's files share. One acs_t per process, owned by
 * acs_main.c; sessions, works, waiters and wake-ups hang off it and are
 * freed by the module that created them.
 *
 * Who calls whom: arrows point down only. Nothing calls a module above it
 * except through a callback that module handed it (acs_work_rpc_fn, a
 * store job's done, a waiter's answer).
 *
 *   acs_main                 options, start-up, shutdown (starts and stops
 *                            everything below)
 *   ---- the operator side ---------------- the CWMP session ----------------
 *   acs_api       REST API: queues work,     acs_cwmp      the endpoint: messages,
 *                 waits on it                              the turn loop
 *   acs_api_prov  presets, provisions,       acs_inform    Inform, TransferComplete
 *                 virtual parameters; the
 *                 config file's presets
 *   acs_web       the dashboard's files (web/),
 *                 /api/whoami
 *   acs_keys      API keys: the router's lookup,
 *                 /api/keys; acs_keys_cli:
 *                 `outpost acs keys`
 *   acs_admin     /metrics /status /health   acs_session   live sessions, their
 *                 (and the counters'                       connections, timer, end
 *                 helpers, leaves)           acs_creds     CPE authentication
 *                                            acs_reply     answers: XML, faults,
 *                                                          the cookie
 *   ---- the work done in sessions: acs_work.h, the session's one way down ---
 *   acs_work        the work of one session; asks its sources in order:
 *   acs_work_tasks    1. the operator's queued tasks
 *   acs_work_prov     2. provisioning: presets in the session (acs_prov.h:
 *                        acs_prov_run, acs_prov_store; the engine in provision/)
 *   acs_prov_cache  presets and scripts in memory, reloaded after the API's
 *                   changes (acs_api_prov calls it) and the config's
 *   acs_prov_ext    --ext: external calls for ext(), off the loop
 *   ---- below both sides ---------------------------------------------------
 *   acs_files     the file store (acs_files.h): bytes on disk, body streams,
 *                 /files/ and /uploads/ on the CWMP listener, tasks naming a
 *                 file; its REST routes are acs_api_files
 *   acs_waiters   ?wait= callers and the task expiry sweep that answers them
 *   acs_cr        connection requests (libcurl multi on the loop); by
 *                 UDP behind NAT: acs_cr_udp, from the STUN server's
 *                 socket (acs_stun, which learns the CPEs' bindings); over
 *   acs_cr_xmpp   XMPP (Annex K) for devices with a JID: one login, IQs
 *   acs_events    the one place each live event is told: webhooks and
 *                 SSE (/api/events) fed from it, the minute ring
 *                 (/api/stats/history), the device.offline sweep
 *   acs_webhook   webhooks: events queued in the store, the dispatcher
 *                 (libcurl on the loop), the signature (acs_webhook.h)
 *   ---- pure (unit-tested, tests/unit/acs/) ---------------------------------
 *   acs_tasks       task types (acs_tasks.h: one row per type), task -> RPC
 *   acs_task_check  task request validation
 *   acs_results     CPE answers -> results, parameter rows
 *   acs_json        devices and tasks as JSON
 *
 * The API tells a live session about new work through acs_work_queued()
 * (acs_work.h), never through the session; whoever finishes a task (the
 * work, a cancel, the expiry sweep) tells acs_task_finished() (acs_waiters).
 */
#ifndef OUTPOST_ACS_INTERNAL_H
#define OUTPOST_ACS_INTERNAL_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "codec/cwmp.h"
#include "net/authguard.h"
#include "core/config.h"
#include "core/hmap.h"
#include "core/runtime.h"
#include "net/curl_uv.h"
#include "net/http_auth.h"
#include "net/http_router.h"
#include "net/http_server.h"
#include "net/tls.h"
#include "acs/acs_events.h"
#include "store/store.h"
#include "store/store_worker.h"

typedef struct acs_opts {
    cfg_common_t common;       /* data_dir, api_token, tls_*, admin_listen unused */
    char *cwmp_listen;
    char *api_listen;
    char *db;                  /* store URL; default DATA_DIR/acs.db */
    bool db_sync_full;
    char *cpe_auth;            /* "digest" (default), "basic", "both", "none" */
    char *cpe_username;
    char *cpe_password;
    char *cpe_credentials;     /* file of "USER PASSWORD [DEVICE_ID]" lines */
    char *cpe_username_template; /* binds a file user to a DeviceId: "{oui}-{serial}" */
    int64_t cpe_auth_max_failures; /* wrong CPE credentials that lock an address out (0: off) */
    int64_t cpe_auth_lockout_ms;   /* the first lock-out */
    bool cpe_basic_plain;      /* allow Basic without TLS */
    char *cr_username;         /* default connection request credentials */
    char *cr_password;
    bool cr_basic;             /* allow Basic to CPEs (after a challenge offering only it) */
    bool cr_basic_plain;       /* ...over plain http too */
    char *cr_proxy_username;   /* credentials for outpost cwmp-proxy's /client */
    char *cr_proxy_password;
    cfg_list_t cr_proxies;     /* the cwmp-proxies' public URLs: where those go */
    cfg_list_t cr_deny;        /* CIDRs a connection request never connects to */
    int64_t session_timeout_ms;
    int64_t default_interval_ms; /* for `online` when a CPE reports none */
    int64_t task_ttl_ms;       /* tasks expire after this */
    int64_t task_retention_ms; /* finished tasks are deleted this long after (0: never) */
    int64_t fleet_refresh_ms;  /* how often /metrics' fleet gauges are read from the store */
    int64_t cr_max_in_flight;  /* connection requests out at once; more are refused */
    /* XMPP connection requests, TR-069 Annex K (acs_cr_xmpp.c) */
    char *xmpp_jid;            /* the ACS's own JID; unset: no XMPP */
    char *xmpp_password;
    cfg_list_t xmpp_cr_domains; /* JIDs' domains connection requests may go to (default: ours) */
    char *xmpp_server;         /* HOST:PORT; default the JID's domain, 5222 */
    char *xmpp_ca_file;        /* trust anchors for the server's certificate */
    bool xmpp_insecure;        /* TLS without verifying the server (tests) */
    int64_t xmpp_timeout_ms;   /* a CPE's answer to the IQ */
    uint64_t cwmp_max_body;
    int64_t max_sessions;
    int64_t param_history;
    char *session_log;         /* "errors" (default), "all", "none" */
    bool rediscover;           /* BOOTSTRAP queues a GetParameterValues and a GetParameterNames of the root */
    cfg_list_t trusted_proxies; /* CIDRs whose X-Forwarded-For names the CPE */
    /* listener caps (common.max_connections is the CWMP listener's); 0 until
     * acs_main derives them from the descriptor limit */
    int64_t api_max_connections;
    char *presets;             /* JSON list: the config file's presets (acs_api_prov.c) */
    cfg_list_t ext;            /* external calls for ext() (acs_prov_ext.c) */
    /* webhooks (acs_webhook.c; docs/webhooks.md) */
    cfg_list_t webhooks;       /* --webhook items */
    int64_t webhook_max_pending;
    int64_t webhook_retry_for_ms;
    int64_t webhook_backoff_ms;
    int64_t webhook_concurrency;
    int64_t webhook_offline_check_ms;
    /* the file store (acs_files.c) */
    uint64_t max_file_size;    /* a stored file's bytes at most (API PUTs, CPE uploads) */
    uint64_t file_cache_size;  /* a shared store's cached copies' bytes at most (0: no cap) */
    char *cwmp_url;            /* the CWMP listener's URL as CPEs reach it (file URLs) */
    int64_t bulk_cr_rate;      /* bulk tasks' connection requests per second, all bulks (0: no limit) */
    cfg_list_t search_params;  /* parameters searches find by value through an index */
    char *web_dir;             /* serve the dashboard from this directory (acs_web.c) */
    /* live events, GET /api/events (acs_events.c) */
    int64_t events_max_clients;
    uint64_t events_client_buffer;
    int64_t events_heartbeat_ms;
    /* UDP connection requests and the STUN server (acs_stun.c, acs_cr_udp.c) */
    char *stun_listen;         /* NULL: no STUN server, no UDP connection requests */
    char *stun_password;       /* CONNECTION-REQUEST-BINDING requests need MESSAGE-INTEGRITY with it */
    int64_t stun_max_bindings;
    int64_t stun_rate;         /* requests per second per source address (0: no limit) */
    char *cr_udp;              /* "auto" (behind NAT), "prefer" (whenever known), "off" */
    int64_t cr_udp_timeout_ms;
    /* several nodes on one store (acs_cluster.c) */
    char *node_id;             /* default HOST-PID */
    int64_t task_lease_ms;     /* a sent task's lease */
} acs_opts_t;

/* What /metrics counts beyond the plain counters (acs_admin.c). */
enum { ACS_EVENTS = 18, ACS_FAULT_CODES = 35, ACS_FAULT_VENDOR = 33, ACS_FAULT_OTHER = 34 };
typedef struct acs_metrics {
    uint64_t informs_by_event[ACS_EVENTS];
    uint64_t cpe_faults_by_code[ACS_FAULT_CODES]; /* 9000-9032, vendor, other */
    struct {
        char type[24];
        uint64_t n[STORE_TASK_CANCELLED + 1];
    } finished[32];            /* tasks finished, by type and status (from the store) */
    size_t nfinished;
    int64_t finished_from;     /* Unix s: the next snapshot counts the finished from here */
    uint64_t cr_refused;       /* connection requests not sent (no URL, --cr-deny...) */
    metrics_hist_t session_seconds;
    /* provisioning (acs_prov_run.c) */
    uint64_t prov_runs[3];     /* preset runs by outcome: done, fault, gave_up */
    uint64_t prov_rounds;      /* engine rounds (planning passes) */
    uint64_t prov_rpcs;        /* RPCs provisioning sent */
    uint64_t prov_preempted;   /* steps preempted on the loop, run again on the pool */
    double prov_engine_seconds; /* loop time in the engine (Lua runs and planning) */
    metrics_hist_t prov_step_seconds; /* one engine step */
} acs_metrics_t;

/* The fleet as the store last said (devices, open tasks by type and status,
 * and the tasks finished since the snapshot before). */
typedef struct acs_fleet {
    bool valid;
    int64_t at_s;
    store_stats_t stats;
    struct {
        char type[32];
        int status;
        int64_t count;
    } open[64], finished[64];
    size_t nopen, nfinished;
} acs_fleet_t;

typedef struct acs_session acs_session_t;
typedef struct acs_creds acs_creds_t;
typedef struct acs_waiter acs_waiter_t;

typedef struct acs {
    uv_loop_t *loop;
    runtime_t rt;
    acs_opts_t o;
    int argc;                  /* the command line, read again on SIGHUP (--presets) */
    char **argv;
    store_t *store;
    store_worker_t *db;
    tls_ctx_t *tls;
    http_server_t *cwmp;
    cwmp_decoder_t *dec;       /* one for the endpoint: decoding is synchronous on the loop */
    http_server_t *api;
    http_router_t *router;
    struct http_admin *admin;  /* --admin-listen, may be NULL */
    http_auth_t *cpe_auth;
    authguard_t cpe_guard;     /* addresses that keep failing CPE authentication */
    acs_creds_t *creds;        /* per-device CPE credentials (may be NULL) */
    net_curl_t *curl;
    void *crs;                 /* connection requests in flight (acs_cr.c) */
    size_t ncrs;
    struct acs_cr_conf *crconf; /* --cr-deny and --cr-proxy, parsed (acs_cr.c) */
    struct acs_stun *stun;     /* --stun-listen (acs_stun.c); NULL when off */
    void *udp_crs;             /* UDP connection requests waiting for their session (acs_cr_udp.c) */
    size_t nudp_crs;
    struct acs_xmpp *xmpp;     /* the XMPP login (acs_cr_xmpp.c); NULL without --xmpp-jid */
    char api_token[160];
    net_cidr_t *trusted;       /* --trusted-proxy, parsed */
    size_t ntrusted;
    int64_t default_interval_s;  /* --default-inform-interval in seconds */
    uv_timer_t housekeeping;
    bool stopping;

    /* live sessions by cookie and by device id (acs_session.c; by TCP
     * connection: the connection's own state); keys live in the sessions */
    hmap_t sessions_by_cookie, sessions_by_device;
    size_t nsessions;
    hmap_t works;              /* live works by device id (acs_work.c) */
    struct acs_prov *prov;     /* presets and scripts in memory (acs_prov_cache.c) */
    struct acs_ext *ext;       /* --ext (acs_prov_ext.c) */
    hmap_t log_devices;        /* devices whose sessions are all logged (acs_api_history.c) */
    acs_waiter_t *waiters;     /* ?wait= callers (acs_waiters.c) */
    uv_timer_t *sweep;         /* the task expiry sweep (acs_waiters.c); heap */

    struct {
        uint64_t sessions, informs, rpcs, faults, cpe_faults, timeouts, auth_failures,
            bad_requests, cr_sent, cr_ok, cr_failed, shared_connection_informs,
            shared_connection_others;
        uint64_t cr_udp_sent, cr_udp_ok, cr_udp_timeout, cr_udp_failed, cr_udp_datagrams;
    } n;
    acs_metrics_t m;           /* the labelled series of /metrics (acs_admin.c) */
    acs_fleet_t fleet;         /* the last store snapshot of the fleet (acs_admin.c) */
    struct acs_keys *keys;     /* API keys in memory (acs_keys.c) */
    uv_timer_t *fleet_timer;   /* heap: freed in its close callback */
    struct acs_hooks *hooks;   /* --webhook (acs_webhook.c); NULL without */
    struct acs_files *files;   /* the file store (acs_files.c) */
    struct acs_bulk *bulk;     /* the bulk task pump (acs_bulk.c) */
    struct acs_events *events; /* live events, SSE, the minute ring (acs_events.c) */
    char node_id[STORE_NODE_MAX]; /* this node among several on one store (acs_cluster.c) */
    struct acs_cluster *cluster;
} acs_t;

/* ---- acs_cwmp.c ---- */
int acs_cwmp_start(acs_t *a, const char *listen);
void acs_cwmp_handle(http_req_t *req, void *ud);
/* Every live session ends ("shutdown"); the listener closes. */
void acs_cwmp_stop(acs_t *a);
void acs_cwmp_free(acs_t *a);

/* ---- acs_waiters.c: ?wait= callers, and the task expiry sweep ---- */
/* How a waiter is answered, by whoever added it: rc 0: the task finished,
 * expired or the wait is over (answer with the task as it is now);
 * -ECANCELED: the ACS stops. */
typedef void (*acs_waiter_fn)(acs_t *a, http_req_t *req, int64_t task_id, int rc);
/* req waits (at most wait_s seconds) for task_id, which expires at
 * expires_at (Unix s, 0: never). 0, or -ENOMEM (nothing was kept: the
 * caller answers). If the client goes first, the waiter goes quietly. */
int acs_waiter_add(acs_t *a, http_req_t *req, int64_t task_id, int64_t expires_at, int64_t wait_s,
                   acs_waiter_fn answer);
/* A task finished (done, failed, cancelled, expired): answer its waiters. */
void acs_task_finished(acs_t *a, int64_t task_id);
/* Expired tasks are swept every HOUSEKEEPING_MS, and also right after the
 * earliest expiry among the tasks ?wait= callers wait on, so they are
 * answered when their task expires. The first sweep comes a second after
 * start-up. */
enum { HOUSEKEEPING_MS = 60000 };
int acs_waiters_start(acs_t *a);
/* Everyone still waiting is answered (-ECANCELED); the sweep stops. */
void acs_waiters_stop(acs_t *a);

/* A task finished on another node (its notification): answer its waiters
 * here, show it in the live events (no webhook: its node queued that). */
void acs_task_finished_elsewhere(acs_t *a, int64_t task_id);
/* Another node's sweep expired tasks: answer the waiters whose task's
 * expiry passed. */
void acs_waiters_expired(acs_t *a);
/* Read every waited-on task again and answer those finished (news from
 * the other nodes may have been missed). */
void acs_waiters_recheck(acs_t *a);

/* ---- acs_cluster.c: several nodes on one store (docs/scaling.md) ---- */
typedef struct acs_cluster acs_cluster_t;
/* The node id and lease given to the store: before the worker owns it. */
int acs_cluster_init(acs_t *a);
/* The lease tick; the listener on a shared store. */
int acs_cluster_start(acs_t *a);
void acs_cluster_stop(acs_t *a);
void acs_cluster_free(acs_t *a);
/* /status's "cluster" object. */
json_t *acs_cluster_json(const acs_t *a);

/* ---- acs_json.c (pure) ---- */
/* A task as the API shows it; its parameters through acs_task_params_hide. */
json_t *acs_task_json(const store_task_t *t);
/* Hide the secrets of task parameters p (in place) before anyone sees them:
 * a transfer's password as "***", its URLs as net_url_redacted shows them,
 * and the value of each set_params parameter whose last name says it is a
 * secret (Password, Passphrase, PreSharedKey, WEPKey, Secret). */
void acs_task_params_hide(json_t *p);
/* Whether a parameter name (n bytes) says, by its last name, that its value
 * is a secret (TR-181 hides these from reads). */
bool acs_param_secret(const char *name, size_t n);
/* A session's SOAP log d[n] as it may be stored and shown, appended to out:
 * the text of each Password element, the Value following a Name that
 * acs_param_secret calls a secret, and an upload URL's MAC become "***".
 * 0, or buf_append's error (out's cap). */
int acs_soap_log_hide(const char *d, size_t n, buf_t *out);
json_t *acs_device_json(const store_device_t *d, int64_t now, int64_t default_interval);
void acs_iso(int64_t t, char *out);
/* The time as an ISO 8601 JSON string; null for 0 (never happened). */
json_t *acs_json_time(int64_t t);
/* A JSON string of s; bytes that are not UTF-8 become '?' (never NULL). */
json_t *acs_json_text(const char *s);
/* str_copy that cuts only between UTF-8 characters (-ENAMETOOLONG if cut). */
int acs_utf8_copy(char *dst, size_t size, const char *src);

/* ---- acs_api.c ---- */
/* The API's routes (each group registers its own: the API's, the
 * dashboard's...) and its listener. */
int acs_api_start(acs_t *a, const char *listen);
void acs_api_json(http_req_t *req, int status, json_t *body); /* steals body */
void acs_api_error(http_req_t *req, int status, const char *code, const char *msg);
/* A failure that is not the handler's own (a store job's, a submission's):
 * answered from acs_api_err.h's table, one row per cause (the queue full,
 * a lost race, the database away, shutting down...; 500 otherwise). */
void acs_api_store_error(http_req_t *req, int rc);
/* The same for a CWMP request: 503 with Retry-After (CPEs retry). */
void acs_cwmp_store_error(http_req_t *req, int rc);
void acs_api_stop(acs_t *a);
/* Query parameters: false once answered (400 naming the parameter); an
 * absent one leaves *out as it is (a string: ""). */
bool acs_api_query_int(http_req_t *req, const char *name, int64_t min, int64_t max, int64_t *out);
bool acs_api_query_str(http_req_t *req, const char *name, char *out, size_t len);

/* ---- acs_cr.c ---- */
/* Parse --cr-deny/--cr-proxy and check the connection request options: 0,
 * or -EINVAL after logging the reason (a usage error, exit 2). */
int acs_cr_init(acs_t *a);
void acs_cr_free(acs_t *a);
/* The config check of a --cr-proxy value. */
int acs_cr_check_proxy(const char *v, char *err, size_t errlen);
/* rc: 0, or -ENOENT (no URL), -EINVAL (not a plain http(s) URL), -EPERM (an
 * address in --cr-deny) -- "refused", nothing was sent -- or any other
 * error: "failed" (-EACCES: the CPE's 401). */
typedef void (*acs_cr_done_fn)(int rc, long status, const char *reason, void *ud);
/* Wake a CPE; done may be NULL. A refusal known at once (-ENOENT, -EINVAL;
 * -EPERM: a UDP address in --cr-deny; -EBUSY, -ENOMEM, -ECANCELED) is
 * returned, logged, and done is not called; its reason is
 * acs_cr_strerror(rc). Otherwise done is called exactly once. */
int acs_cr_send(acs_t *a, const store_device_t *d, acs_cr_done_fn done, void *ud);
/* With UDP (acs_cr_udp.c) done is called twice: first with ACS_CR_PENDING
 * ("udp sent": the datagrams are going out), then once with the outcome:
 * 0 ("ok": the device's session came) or -ETIMEDOUT ("timeout"). */
enum { ACS_CR_PENDING = 1 };
/* The HTTP part of acs_cr_send, to this URL (the device's, or its
 * cwmp-proxy's with a udp= relay request: acs_cr_udp.c). */
int acs_cr_http(acs_t *a, const store_device_t *d, const char *url, acs_cr_done_fn done, void *ud);
/* Is this address in --cr-deny? (The UDP ones: acs_cr_udp.c.) */
bool acs_cr_denied(const acs_t *a, const struct sockaddr *sa);
/* The URL is a configured --cr-proxy's wake-up endpoint. */
bool acs_cr_is_proxy(const acs_t *a, const char *url);
/* "ok", "refused", "failed", "udp sent" or "timeout" for an rc as above. */
const char *acs_cr_outcome(int rc);
const char *acs_cr_strerror(int rc);
/* Shutdown: the transfers are dropped; their callbacks get -ECANCELED. */
void acs_cr_stop(acs_t *a);

/* ---- acs_stun.c: the STUN server (TR-111 Part 2) ---- */
struct stun_addr;
int acs_stun_start(acs_t *a);
void acs_stun_stop(acs_t *a);
const char *acs_stun_addr(const acs_t *a);
/* The binding learnt for this device (true), if the table holds one. */
bool acs_stun_binding(acs_t *a, const char *device, struct stun_addr *out);
/* Send from the STUN socket (UDP connection requests): 0 or an error. */
int acs_stun_send(acs_t *a, const struct stun_addr *to, const void *msg, size_t n);
void acs_stun_addr_text(const struct stun_addr *a, char *out, size_t len);
int acs_stun_metrics(acs_t *a, buf_t *o);

/* ---- acs_cr_udp.c: UDP connection requests (TR-069 Annex G) ---- */
/* 1: not for UDP (go on with HTTP); 0: sent (done as acs_cr_send says);
 * < 0: refused as acs_cr_send's. */
int acs_cr_udp_try(acs_t *a, const store_device_t *d, acs_cr_done_fn done, void *ud);
/* The device's Inform carried "6 CONNECTION REQUEST": its requests are ok. */
void acs_cr_udp_informed(acs_t *a, const char *device);
/* Shutdown: every one waiting gets -ECANCELED. */
void acs_cr_udp_stop(acs_t *a);
/* ---- acs_cr_xmpp.c: connection requests over XMPP (Annex K) ---- */
/* Log in with --xmpp-jid (nothing without it): 0, -EINVAL (logged: usage). */
int acs_cr_xmpp_start(acs_t *a);
/* Log out; IQs waiting get -ECANCELED. */
void acs_cr_xmpp_stop(acs_t *a);
/* Is XMPP the way to this device (it reported a JID and we have a login)? */
bool acs_cr_xmpp_wanted(const acs_t *a, const store_device_t *d);
/* As acs_cr_send; -ENOTCONN when the login is down (nothing sent). */
int acs_cr_xmpp_send(acs_t *a, const store_device_t *d, acs_cr_done_fn done, void *ud);
/* For /metrics and /status (NULL/zeros without XMPP). */
typedef struct acs_xmpp_stats {
    bool configured, connected;
    const char *state, *jid;
    uint64_t sent, ok, failed, connects;
} acs_xmpp_stats_t;
void acs_cr_xmpp_stats(const acs_t *a, acs_xmpp_stats_t *st);

/* ---- acs_admin.c ---- */
int acs_admin_start(acs_t *a, const char *listen);
void acs_admin_stop(acs_t *a);
/* Count an Inform's event code, a CPE fault code. */
void acs_metrics_event(acs_t *a, const char *code);
void acs_metrics_fault(acs_t *a, int code);

/* ---- acs_creds.c ---- */
/* Say the failed-login counts no later failure flushed (housekeeping). */
void acs_cpe_auth_sweep(acs_t *a);
enum { ACS_USER_MAX = 128 }; /* a CPE user name, with its NUL */
/* Lines without a DEVICE_ID are refused unless have_template (logged once,
 * file:line). */
int acs_creds_load(const char *path, bool have_template, acs_creds_t **out);
void acs_creds_free(acs_creds_t *c);
/* The password of `user`, or NULL. */
const char *acs_creds_find(const acs_creds_t *c, const char *user);
/* --cpe-username-template: known placeholders, at least one (a cfg check). */
int acs_template_check(const char *v, char *err, size_t errlen);
/* Whether `user`, who authenticated, may speak for this DeviceId (device_id:
 * as store_device_id builds it): its file line's device, the template, or
 * the fleet-wide --cpe-username (any device). */
bool acs_identity_allows(const acs_t *a, const char *user, const cwmp_device_id_t *d,
                         const char *device_id);
/* The CPE failure guard's word on this request: true with its client's
 * address (the one --trusted-proxy names) in addr; false when that address
 * is locked out, answered then (429 with Retry-After). */
bool acs_cpe_guard_admits(acs_t *a, http_req_t *req, char *addr, size_t addrlen);
/* The CPE authentication of the CWMP listener (http_auth, the failure
 * guard), and its end (the guard's last report). */
int acs_cpe_auth_start(acs_t *a);
void acs_cpe_auth_free(acs_t *a);

/* ---- acs_main.c ---- */
/* The ACS's option rows (CFG_END-terminated): `outpost acs keys` reads the
 * daemon's options and config file with them (acs_keys_cli.c). */
const cfg_opt_t *acs_opt_table(void);
/* ---- acs_api_history.c: a device's history, sessions, the fleet's faults ---- */
/* GET /api/devices/{id}/parameters/history, GET /api/devices/{id}/sessions,
 * GET /api/faults, POST /api/faults/.../retry, DELETE /api/faults/... */
int acs_history_api_register(acs_t *a, http_router_t *r);
/* A stored parameter's set_by, set_at, notification and access_list, added
 * to its JSON object o (null when unknown). */
void acs_param_history_fields(json_t *o, const store_param_t *p);
/* The devices whose every session keeps its log (PUT
 * /api/devices/{id}/session-log), read from the store at start (before the
 * worker owns it) and kept in a->log_devices; at most this many. */
enum { ACS_LOG_DEVICES_MAX = 10000 };
int acs_session_logs_start(acs_t *a);
void acs_session_logs_free(acs_t *a);
bool acs_session_logged(const acs_t *a, const char *device_id);

/* ---- acs_web.c: the dashboard's files (web/, embedded or --web-dir), /api/whoami ---- */
int acs_web_register(acs_t *a, http_router_t *r);

#endif
