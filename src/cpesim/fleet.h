/*
 * fleet: the simulated CPEs of one cpe-sim process and what they share.
 *
 * One event loop drives every CPE. A CPE is a 64-byte cpe_t plus its data
 * model overlay (NULL until the ACS writes to it) and, only while it has a
 * transfer or a pending reboot, a small cpe_x_t. A CPE in a CWMP session
 * additionally owns a session_t (connection, parser, buffers) that is freed
 * when the session ends, so memory follows the number of sessions in
 * flight, not the fleet size.
 *
 * Time: each CPE has at most one entry in the fleet's timer heap, keyed by
 * the earliest of its deadlines (next periodic Inform, session retry,
 * scheduled Inform, end of a reboot, start of a transfer, next simulated
 * value change); one uv_timer serves the whole heap.
 *
 * Modules: fleet.c (scheduling, events, identity), session.c (the CWMP
 * client), rpc.c (ACS RPCs against the data model), cr.c (connection
 * request listener), stun.c (STUN, UDP connection requests), cr_xmpp.c
 * (connection requests over XMPP, Annex K), transfer.c (Download/Upload),
 * state.c (--state-dir).
 * The fleet owns every cpe_t, session and transfer; all run on the loop
 * thread.
 */
#ifndef OUTPOST_CPESIM_FLEET_H
#define OUTPOST_CPESIM_FLEET_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "codec/cwmp.h"
#include "core/buf.h"
#include "core/config.h"
#include "cpesim/dm.h"
#include "cpesim/stats.h"
#include "net/addr.h"
#include "net/http_auth.h"
#include "net/http_client.h"
#include "net/http_server.h"
#include "net/tls.h"

/* ---- options ---------------------------------------------------------------- */

typedef struct cpesim_opts {
    cfg_common_t common;       /* listen (alias of cr-listen), tls-ca, insecure */
    char *acs;
    int64_t count;
    char *model;
    char *model_file;
    char *serial_prefix;
    int64_t inform_interval_ms;
    double jitter;
    char *username;
    char *password;
    char *cr_listen;
    char *cr_url;
    char *cr_username;
    char *cr_password;
    char *rate;
    int64_t duration_ms;
    int64_t stats_interval_ms;
    bool json;
    char *state_dir;
    double fault_rate;
    int64_t slow_ms;
    double drop_rate;
    bool cookie_only;
    int64_t session_timeout_ms;
    int64_t max_sessions;
    int64_t retry_min_ms;
    int64_t reboot_ms;
    int64_t value_change_ms;
    char *cwmp_version;
    bool get_rpc_methods;
    uint64_t max_response;
    int64_t seed;
    /* UDP connection requests and STUN (stun.c) */
    char *stun_server;
    char *stun_username;
    char *stun_password;
    int64_t stun_keepalive_ms;
    char *udp_listen;
    int64_t udp_cr_max_age_ms;
    /* XMPP connection requests, TR-069 Annex K (cr_xmpp.c) */
    char *xmpp_server;         /* HOST:PORT; unset: no XMPP */
    char *xmpp_domain;         /* JIDs are <serial>@DOMAIN/<resource> */
    char *xmpp_resource;
    char *xmpp_password;       /* {serial} is replaced */
    char *xmpp_ca_file;
    bool xmpp_insecure;
    char *xmpp_allowed_jid;    /* ConnReqAllowedJabberIDs' default */
    int64_t xmpp_login_rate;   /* logins started per second (0: all at once) */
} cpesim_opts_t;

/* ---- events (TR-069 3.7.1.5) ---------------------------------------------------- */

enum {
    EV_BOOTSTRAP = 1 << 0,
    EV_BOOT = 1 << 1,
    EV_PERIODIC = 1 << 2,
    EV_SCHEDULED = 1 << 3,
    EV_VALUE_CHANGE = 1 << 4,
    EV_CONNREQ = 1 << 5,
    EV_TRANSFER_COMPLETE = 1 << 6,
    EV_M_REBOOT = 1 << 7,
    EV_M_SCHEDULE = 1 << 8,
    EV_M_DOWNLOAD = 1 << 9,
    EV_M_UPLOAD = 1 << 10,
    EV_DIAG_COMPLETE = 1 << 11,
    EV_COUNT_BITS = 12,
    /* cleared by a TransferCompleteResponse, not by the InformResponse */
    EV_UNTIL_TC = EV_TRANSFER_COMPLETE | EV_M_DOWNLOAD | EV_M_UPLOAD,
};

/* cpe_t.flags */
enum {
    CPE_BOOTSTRAPPED = 1 << 0, /* an ACS acknowledged our BOOTSTRAP */
    CPE_AGAIN = 1 << 1,        /* start another session when this one ends */
    CPE_OFFLINE = 1 << 2,      /* rebooting: no sessions, connection requests refused */
    CPE_WAITING = 1 << 3,      /* in the fleet's queue for a session slot */
    CPE_STARTED = 1 << 4,      /* its first boot happened (start-up pacing) */
};

typedef struct session session_t;
typedef struct transfer transfer_t;

/* TransferComplete still to be delivered. */
typedef struct cpe_tc {
    char *command_key;
    char *fault_string;
    int fault_code;
    int64_t start_s, complete_s; /* epoch seconds */
    bool is_upload;
} cpe_tc_t;

/* What only a few CPEs need at any time. */
typedef struct cpe_x {
    char *ck_reboot;       /* CommandKey of the Reboot being reported */
    char *ck_sched;        /* CommandKey of the ScheduleInform */
    int64_t t_sched;       /* when the ScheduleInform fires (mono ms; 0: none) */
    int64_t t_reboot;      /* when the reboot completes (mono ms; 0: none) */
    bool factory_reset;    /* the reboot under way is a factory reset */
    transfer_t *xfer;      /* queued or running Download/Upload */
    int64_t t_xfer;        /* when it starts (mono ms) */
    cpe_tc_t tc;           /* a TransferComplete to report (command_key set) */
    bool has_tc;
} cpe_x_t;

typedef struct cpe {
    dm_inst_t *dm;        /* data model overlay; NULL = model defaults */
    cpe_x_t *x;           /* NULL unless needed */
    session_t *sess;      /* non-NULL during a session */
    int64_t t_session;    /* attempt a session at (mono ms; 0: none) */
    int64_t t_periodic;   /* next periodic Inform (mono ms; 0: off) */
    int64_t t_drift;      /* next simulated value change (mono ms; 0: off) */
    uint32_t heap_pos;    /* index in the fleet heap, UINT32_MAX when absent */
    uint32_t boot_s;      /* fleet clock (s) of its last boot, for UpTime */
    uint16_t events;      /* EV_* pending for the next Inform */
    uint8_t retries;      /* consecutive failed sessions (RetryCount) */
    uint8_t flags;        /* CPE_* */
} cpe_t;

/* ---- the fleet --------------------------------------------------------------- */

typedef struct fleet {
    uv_loop_t *loop;
    const cpesim_opts_t *o;
    dm_model_t *model;
    cpe_t *cpes;
    uint32_t count;
    unsigned serial_width;
    int64_t t0_ms;            /* mono ms at start */
    int64_t t0_real_s;        /* epoch seconds at start */
    uint64_t rng;

    uint32_t *heap;           /* CPE indices, a binary min-heap on heap_key */
    int64_t *heap_key;        /* due time of heap[i] (kept apart: sifting touches less memory) */
    uint32_t heap_n;
    uv_timer_t timer;
    int64_t timer_due;

    uint32_t *waitq;          /* CPEs waiting for a session slot (ring) */
    uint32_t wq_head, wq_n;
    uint32_t active;          /* sessions in flight */

    double rate;              /* start-up pacing, CPEs per second (0: all at once) */
    uint32_t periodic_s;      /* PeriodicInformInterval default, seconds */
    int64_t interval_ms;      /* --inform-interval */
    cwmp_ns_t ns;

    http_server_t *cr;        /* connection request listener */
    http_auth_t *cr_auth;
    char cr_base[NET_HOST_MAX + 48]; /* "http://127.0.0.1:30000/cr/" */
    struct stun_fleet *stun;  /* --stun-server: UDP sockets, STUN (stun.c); NULL without */
    struct cr_xmpp *xmpp;     /* each CPE's XMPP login (cr_xmpp.c); NULL without */
    http_client_t *http;      /* downloads and uploads */
    tls_ctx_t *tls;           /* client context for https ACS / file servers */

    buf_t scratch;            /* encoder output, reused */
    cwmp_decoder_t *dec;      /* one decoder: responses are handled synchronously */

    stats_t st;
    int64_t t_last_stats;     /* when the previous stats line was printed */
    uint64_t completed_last;  /* sessions completed by then */
    uv_timer_t stats_timer;
    uv_timer_t stop_timer;    /* --duration */
    uv_timer_t save_timer;    /* --state-dir */
    void (*request_stop)(void *ud);
    void *stop_ud;
    uint32_t fail_logged;     /* failure log lines this stats interval */
    uint32_t fail_suppressed;
    int64_t fail_window_ms;   /* without stats lines: when the failure budget renewed */
    bool stopping;
    bool state_dirty;
} fleet_t;

/* A CPE's dm_env_t: dynamic values computed from the fleet and the CPE.
 * Callers provide the storage (usually on the stack) to fleet_view(). */
typedef struct fleet_env {
    dm_env_t env;
    fleet_t *f;
    cpe_t *c;
} fleet_env_t;

/* fleet.c */
/* --rate: "N" or "N/s", N >= 0 (0: every CPE at once). */
int fleet_parse_rate(const char *s, double *rate);
int fleet_init(fleet_t *f, uv_loop_t *loop, const cpesim_opts_t *o, dm_model_t *model);
void fleet_start(fleet_t *f);
void fleet_stop(fleet_t *f);  /* abort sessions, close handles */
void fleet_free(fleet_t *f);  /* after the loop has drained */
uint32_t fleet_index(const fleet_t *f, const cpe_t *c);
cpe_t *fleet_find_serial(fleet_t *f, const char *serial, size_t len);
void fleet_serial(const fleet_t *f, const cpe_t *c, char *out, size_t len);
dm_view_t fleet_view(fleet_t *f, cpe_t *c, fleet_env_t *e);
int64_t fleet_now(const fleet_t *f);        /* mono ms */
double fleet_random(fleet_t *f);            /* [0,1) */
cpe_x_t *fleet_x(cpe_t *c);                 /* allocate on demand (NULL: no memory) */
void fleet_x_release(cpe_t *c);             /* free it when nothing is left in it */
/* Something needs a session: raise events, start one now or when possible. */
void fleet_trigger(fleet_t *f, cpe_t *c, uint16_t events);
/* Re-key the CPE in the heap after one of its deadlines changed. */
void fleet_reschedule(fleet_t *f, cpe_t *c);
/* The periodic schedule from the CPE's current data model values. */
void fleet_periodic_reset(fleet_t *f, cpe_t *c);
/* Reboot (or factory reset) now: offline for --reboot-time, then boot. */
void fleet_reboot(fleet_t *f, cpe_t *c, bool factory);
/* The session ended (ok or not): bookkeeping, then the next one. */
void fleet_session_done(fleet_t *f, cpe_t *c, bool ok);
/* Log a session failure (rate-limited) and count it. */
void fleet_log_fail(fleet_t *f, const cpe_t *c, stats_fail_t why, const char *reason, int status);
/* The counters as Prometheus text, for the admin listener's /metrics. */
int fleet_metrics(fleet_t *f, buf_t *out);
void fleet_stats_print(fleet_t *f, bool final);

/* session.c */
int session_start(fleet_t *f, cpe_t *c);
void session_abort(session_t *s);           /* no callbacks, no stats */

/* Actions an RPC leaves for the end of the session. */
enum {
    ACT_REBOOT = 1 << 0,
    ACT_FACTORY_RESET = 1 << 1,
    ACT_TRANSFER = 1 << 2,
    ACT_SCHEDULE = 1 << 3,
    ACT_PERIODIC = 1 << 4,   /* periodic parameters changed */
    ACT_BOOTSTRAP = 1 << 5,  /* the ACS URL changed: bootstrap the new one */
    ACT_DIAG = 1 << 6,       /* an IPPing diagnostic was requested */
};

/* rpc.c: answer one ACS request into out (an envelope); *act gets ACT_*. */
int rpc_handle(fleet_t *f, cpe_t *c, const cwmp_msg_t *req, buf_t *out, unsigned *act);
/* The Inform for the CPE's pending events. */
int rpc_inform(fleet_t *f, cpe_t *c, buf_t *out);
int rpc_transfer_complete(fleet_t *f, cpe_t *c, buf_t *out);
int rpc_get_rpc_methods(fleet_t *f, buf_t *out);
/* After the session: run the actions the RPCs left. */
void rpc_after_session(fleet_t *f, cpe_t *c, unsigned act);

/* cr.c */
int cr_start(fleet_t *f, const char *listen, char *err, size_t errlen);
void cr_stop(fleet_t *f);

/* stun.c: STUN and UDP connection requests (with --stun-server). The
 * model's STUN parameters and their defaults, before it is sealed. */
void stun_model_prepare(dm_model_t *m, const cpesim_opts_t *o);
int stun_start(fleet_t *f, char *err, size_t errlen);
void stun_stop(fleet_t *f);
int stun_metrics(fleet_t *f, buf_t *out);
/* cr_xmpp.c: connection requests over XMPP (Annex K), with --xmpp-server */
int cr_xmpp_start(fleet_t *f, char *err, size_t errlen);
void cr_xmpp_stop(fleet_t *f);   /* log out (handles close on the loop) */
void cr_xmpp_free(fleet_t *f);   /* after the loop has drained */
/* The CPE's JID into out ("" without XMPP). */
int cr_xmpp_jid(fleet_t *f, const cpe_t *c, buf_t *out);
/* The Inform's ConnReqJabberID (with XMPP): visit it like a forced parameter. */
int cr_xmpp_inform_param(fleet_t *f, const dm_view_t *v, dm_visit_fn fn, void *ud);
/* CPEs logged in now. */
uint32_t cr_xmpp_online(const fleet_t *f);

/* fleet.c: tmpl with {serial} replaced by the CPE's serial number. */
int fleet_fill_serial(fleet_t *f, const cpe_t *c, const char *tmpl, buf_t *out);

/* transfer.c: Download (ck...) or Upload queued by an RPC; run at t_xfer. */
transfer_t *transfer_new(const cwmp_msg_t *req);
void transfer_free(transfer_t *t);
int64_t transfer_delay_ms(const transfer_t *t);
void transfer_run(fleet_t *f, cpe_t *c);
void transfer_abort_all(fleet_t *f);

/* state.c */
int state_load(fleet_t *f, const char *dir);
int state_save(fleet_t *f, const char *dir);

#endif
