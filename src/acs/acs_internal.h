/*
 * acs_internal: what the ACS's files share. One acs_t per process, owned by
 * acs_main.c; sessions, waiters and wake-ups hang off it and are freed by
 * the module that created them.
 *
 *   acs_main.c     options, start-up, shutdown
 *   acs_cwmp.c     the CWMP endpoint: sessions, the RPC loop
 *   acs_inform.c   the Inform and TransferComplete
 *   acs_creds.c    CPE authentication: credentials, identities, lock-outs
 *   acs_tasks.c    task JSON <-> CWMP messages (pure, unit-tested)
 *   acs_api.c      the REST API
 *   acs_api_prov.c presets, provisions, virtual parameters on the API; config presets
 *   acs_cr.c       connection requests (libcurl multi on the loop)
 *   acs_dash.c     the embedded dashboard
 *   acs_admin.c    /metrics, /status and /health on --admin-listen (net/http_admin)
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
#include "core/runtime.h"
#include "net/curl_uv.h"
#include "net/http_auth.h"
#include "net/http_router.h"
#include "net/http_server.h"
#include "net/tls.h"
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
    int64_t fleet_refresh_ms;  /* how often /metrics' fleet gauges are read from the store */
    int64_t cr_max_in_flight;  /* connection requests out at once; more are refused */
    uint64_t cwmp_max_body;
    int64_t max_sessions;
    int64_t param_history;
    char *session_log;         /* "errors" (default), "all", "none" */
    bool rediscover;           /* BOOTSTRAP queues a GetParameterValues of the root */
    cfg_list_t trusted_proxies; /* CIDRs whose X-Forwarded-For names the CPE */
    /* listener caps (common.max_connections is the CWMP listener's); 0 until
     * acs_main derives them from the descriptor limit */
    int64_t api_max_connections;
    int64_t max_per_addr;      /* CWMP connections per client address; 0: no cap */
    char *presets;             /* JSON list: the config file's presets (acs_api_prov.c) */
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

enum { ACS_HASH_BUCKETS = 16384 };

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
    char api_token[160];
    net_cidr_t *trusted;       /* --trusted-proxy, parsed */
    size_t ntrusted;
    int64_t default_interval_s;  /* --default-inform-interval in seconds */
    uv_timer_t housekeeping;
    bool stopping;

    /* live sessions, by cookie and by device id (by TCP connection: the
     * connection's own state, acs_session.c) */
    uint64_t hash_key[2];      /* acs_hash's key, random per process */
    acs_session_t *by_cookie[ACS_HASH_BUCKETS];
    acs_session_t *by_device[ACS_HASH_BUCKETS];
    acs_session_t *all;        /* list of every live session */
    size_t nsessions;
    acs_waiter_t *waiters;

    struct {
        uint64_t sessions, informs, rpcs, faults, cpe_faults, timeouts, auth_failures,
            bad_requests, cr_sent, cr_ok, cr_failed;
    } n;
    acs_metrics_t m;           /* the labelled series of /metrics (acs_admin.c) */
    acs_fleet_t fleet;         /* the last store snapshot of the fleet (acs_admin.c) */
    uv_timer_t *fleet_timer;   /* heap: freed in its close callback */
} acs_t;

/* ---- acs_cwmp.c ---- */
int acs_cwmp_start(acs_t *a, const char *listen);
void acs_cwmp_handle(http_req_t *req, void *ud);
/* The device has new work: tell a live session, or wake it (connection request). */
void acs_cwmp_kick(acs_t *a, const char *device_id);
/* A task finished (any path): wake API waiters. */
void acs_task_finished(acs_t *a, int64_t task_id);
/* Expired tasks are swept every HOUSEKEEPING_MS, and also right after the
 * earliest expiry among the tasks ?wait= callers wait on, so they are
 * answered when their task expires. acs_sweep_schedule re-plans the next
 * sweep after the waiters changed. */
enum { HOUSEKEEPING_MS = 60000 };
void acs_sweep_schedule(acs_t *a);
/* The earliest expires_at (Unix s) among waited-on tasks, 0 if none. */
int64_t acs_waiters_next_expiry(const acs_t *a);
/* A sweep at `now` (Unix s) is done: answer the waiters of tasks expired by then. */
void acs_waiters_expired(acs_t *a, int64_t now);
void acs_cwmp_stop(acs_t *a);
void acs_cwmp_free(acs_t *a);
bool acs_device_in_session(acs_t *a, const char *device_id);
uint32_t acs_hash(const acs_t *a, const char *s);

/* ---- acs_tasks.c (pure) ---- */
/* Validate an API task request {"type", "parameters"}; on success fills
 * *type_out (static string) and *params_out (new reference, normalised). On
 * failure returns -EINVAL with a message in err. */
int acs_task_validate(json_t *body, const char **type_out, json_t **params_out, char *err,
                      size_t errlen);
/* Build the RPC for a task. Strings in m point into params/keybuf; keep
 * both alive until encoding is done. scratch arrays are owned by *scratch
 * (free with acs_rpc_scratch_free). */
typedef struct acs_rpc_scratch {
    cwmp_param_t *params;
    const char **names;
    char **owned;
    size_t nowned;
} acs_rpc_scratch_t;
int acs_task_to_rpc(const char *type, json_t *params, int64_t task_id, cwmp_msg_t *m,
                    acs_rpc_scratch_t *scratch, char *keybuf, size_t keylen);
void acs_rpc_scratch_free(acs_rpc_scratch_t *s);
/* The response type a task expects. */
cwmp_type_t acs_task_response_type(const char *type);
/* A CPE response -> result JSON (new reference). */
json_t *acs_result_json(const cwmp_msg_t *m);
/* The same as compact JSON text (malloc'd); long parameter lists are
 * written directly, without building a tree. */
char *acs_result_text(const cwmp_msg_t *m);
/* Task types safe to send again after a crash. */
extern const char *const acs_requeue_types[];
/* The names of a get_params/get_attributes task straight from its stored
 * JSON ({"names":[...]} as json_dumps writes it), without building a tree:
 * names point into *storage (free both). -EINVAL for anything else (the
 * caller then uses jansson). */
int acs_task_names_parse(const char *json, const char ***names, size_t *n, char **storage);
/* "task-123" -> 123, or 0. */
int64_t acs_task_id_from_key(const char *command_key);

/* ---- acs_json.c (pure) ---- */
json_t *acs_task_json(const store_task_t *t);
json_t *acs_device_json(const store_device_t *d, int64_t now, int64_t default_interval);
void acs_iso(int64_t t, char *out);
/* A JSON string of s; bytes that are not UTF-8 become '?' (never NULL). */
json_t *acs_json_text(const char *s);
/* str_copy that cuts only between UTF-8 characters (-ENAMETOOLONG if cut). */
int acs_utf8_copy(char *dst, size_t size, const char *src);

/* ---- acs_api.c ---- */
int acs_api_start(acs_t *a, const char *listen);
void acs_api_json(http_req_t *req, int status, json_t *body); /* steals body */
void acs_api_error(http_req_t *req, int status, const char *code, const char *msg);
void acs_api_stop(acs_t *a);

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
 * -ENOMEM, -ECANCELED) is returned, logged, and done is not called; its
 * reason is acs_cr_strerror(rc). Otherwise done is called exactly once. */
int acs_cr_send(acs_t *a, const store_device_t *d, acs_cr_done_fn done, void *ud);
/* "ok", "refused" or "failed" for an rc as above. */
const char *acs_cr_outcome(int rc);
const char *acs_cr_strerror(int rc);
/* Shutdown: the transfers are dropped; their callbacks get -ECANCELED. */
void acs_cr_stop(acs_t *a);

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
/* The CPE authentication of the CWMP listener (http_auth, the failure
 * guard), and its end (the guard's last report). */
int acs_cpe_auth_start(acs_t *a);
void acs_cpe_auth_free(acs_t *a);

/* ---- acs_dash.c ---- */
void acs_dash_register(acs_t *a, http_router_t *r);

#endif
