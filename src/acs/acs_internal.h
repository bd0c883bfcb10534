/*
 * acs_internal: what the ACS's files share. One acs_t per process, owned by
 * acs_main.c; sessions, waiters and wake-ups hang off it and are freed by
 * the module that created them.
 *
 *   acs_main.c     options, start-up, shutdown
 *   acs_cwmp.c     the CWMP endpoint: sessions, the RPC loop
 *   acs_inform.c   the Inform and TransferComplete
 *   acs_creds.c    per-device CPE credentials
 *   acs_tasks.c    task JSON <-> CWMP messages (pure, unit-tested)
 *   acs_api.c      the REST API
 *   acs_cr.c       connection requests (libcurl multi on the loop)
 *   acs_dash.c     the embedded dashboard
 *   acs_admin.c    /metrics and /status on --admin-listen
 */
#ifndef OUTPOST_ACS_INTERNAL_H
#define OUTPOST_ACS_INTERNAL_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "codec/cwmp.h"
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
    char *cpe_credentials;     /* file of per-device "USER PASSWORD" lines */
    bool cpe_basic_plain;      /* allow Basic without TLS */
    char *cr_username;         /* default connection request credentials */
    char *cr_password;
    bool cr_basic;             /* allow Basic to CPEs */
    char *cr_proxy_username;   /* credentials for outpost cwmp-proxy's /client */
    char *cr_proxy_password;
    int64_t session_timeout_ms;
    int64_t default_interval_ms; /* for `online` when a CPE reports none */
    int64_t task_ttl_ms;       /* tasks expire after this */
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
} acs_opts_t;

typedef struct acs_session acs_session_t;
typedef struct acs_creds acs_creds_t;
typedef struct acs_waiter acs_waiter_t;

enum { ACS_HASH_BUCKETS = 16384 };

typedef struct acs {
    uv_loop_t *loop;
    runtime_t rt;
    acs_opts_t o;
    store_t *store;
    store_worker_t *db;
    tls_ctx_t *tls;
    http_server_t *cwmp;
    http_server_t *api;
    http_router_t *router;
    http_server_t *admin;      /* --admin-listen, may be NULL */
    http_router_t *admin_router;
    http_auth_t *cpe_auth;
    acs_creds_t *creds;        /* per-device CPE credentials (may be NULL) */
    net_curl_t *curl;
    void *crs;                 /* connection requests in flight (acs_cr.c) */
    char api_token[160];
    net_cidr_t *trusted;       /* --trusted-proxy, parsed */
    size_t ntrusted;
    int64_t default_interval_s;  /* --default-inform-interval in seconds */
    uv_timer_t housekeeping;
    bool stopping;

    /* live sessions, by cookie, by device id and by TCP connection */
    uint64_t hash_key[2];      /* acs_hash's key, random per process */
    acs_session_t *by_cookie[ACS_HASH_BUCKETS];
    acs_session_t *by_device[ACS_HASH_BUCKETS];
    acs_session_t *by_conn[ACS_HASH_BUCKETS];
    acs_session_t *all;        /* list of every live session */
    size_t nsessions;
    acs_waiter_t *waiters;

    struct {
        uint64_t sessions, informs, rpcs, faults, cpe_faults, timeouts, auth_failures,
            bad_requests, cr_sent, cr_ok, cr_failed;
    } n;
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
typedef void (*acs_cr_done_fn)(int rc, long status, const char *reason, void *ud);
/* Wake a CPE; done may be NULL. */
int acs_cr_send(acs_t *a, const store_device_t *d, acs_cr_done_fn done, void *ud);
/* Shutdown: the transfers are dropped; their callbacks get -ECANCELED. */
void acs_cr_stop(acs_t *a);

/* ---- acs_admin.c ---- */
int acs_admin_start(acs_t *a, const char *listen);
void acs_admin_stop(acs_t *a);

/* ---- acs_creds.c ---- */
int acs_creds_load(const char *path, acs_creds_t **out);
void acs_creds_free(acs_creds_t *c);
/* The password of `user`, or NULL. */
const char *acs_creds_find(const acs_creds_t *c, const char *user);

/* ---- acs_dash.c ---- */
void acs_dash_register(acs_t *a, http_router_t *r);

#endif
