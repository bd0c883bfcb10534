/*
 * gw: the tunnel gateway's internal types, shared by its modules:
 *   gw_main.c     options, start-up, SIGHUP reload, drain, `hash-key`
 *   gw_session.c  one agent's WebSocket: handshake, dispatch
 *   gw_auth.c     logins: lock-outs (net/authguard), the queue of key checks
 *                 (gw_authq), PBKDF2 in the thread pool, the verified-key cache
 *   gw_route.c    streams between two sessions: open, credit, close, reset
 *   gw_admin.c    loopback admin API and /metrics
 *
 * Ownership: the gw_t owns its sessions (list `sessions`) and streams (list
 * `streams`); a session's map points at the legs of the streams it carries
 * (each stream is in exactly two maps, one per leg). A session is freed in
 * its WebSocket's on_close, after every stream it carried was reset.
 */
#ifndef OUTPOST_TUNNEL_GW_H
#define OUTPOST_TUNNEL_GW_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "core/config.h"
#include "core/runtime.h"
#include "net/authguard.h"
#include "net/http_router.h"
#include "net/http_server.h"
#include "net/tls.h"
#include "net/ws.h"
#include "tunnel/acl.h"
#include "tunnel/flow.h"
#include "tunnel/gw_authq.h"
#include "tunnel/keyhash.h"
#include "core/hmap.h"
#include "tunnel/wire.h"

/* Why a stream did not open (outpost_gateway_stream_refusals_total{reason}). */
typedef enum gw_refuse {
    GW_REFUSE_INVALID,  /* a reserved GUID, a missing or out-of-range Window */
    GW_REFUSE_LIMIT,    /* --max-streams on the initiator */
    GW_REFUSE_ACL,      /* no --rule allows it */
    GW_REFUSE_OFFLINE,  /* the acceptor agent is not logged in */
    GW_REFUSE_AGENT,    /* the acceptor refused (its whitelist, the target did not answer) */
    GW_REFUSE_TIMEOUT,  /* the acceptor did not answer within --open-timeout */
    GW_REFUSE_COUNT
} gw_refuse_t;

typedef struct gw gw_t;
typedef struct gw_session gw_session_t;
typedef struct gw_stream gw_stream_t;

typedef struct gw_opts {
    cfg_common_t common;
    char *path;
    cfg_list_t agents; /* "name=NAME key-hash=pbkdf2-sha256$..." */
    cfg_list_t rules;  /* ACL: "from= to= net= ports=" */
    uint64_t max_message;
    uint64_t max_window;
    uint64_t legacy_window;
    int64_t max_streams;
    int64_t open_timeout_ms;
    int64_t handshake_timeout_ms;
    int64_t ping_interval_ms;
    int64_t idle_timeout_ms; /* v1 sessions that sent nothing this long are dropped */
    int64_t drain_ms;
    bool cert_name_match;
    int64_t auth_max_failures; /* 0: no lock-outs */
    int64_t auth_lockout_ms;   /* 0: no lock-outs */
    int64_t auth_log_interval_ms;
} gw_opts_t;

typedef struct gw_agent_cfg {
    char name[TUNNEL_NAME_MAX + 1];
    char hash[TUNNEL_KEYHASH_STRLEN];
    /* SHA-256 of the last key that verified, so reconnects skip PBKDF2. */
    unsigned char cache[32];
    bool cached;
} gw_agent_cfg_t;

typedef struct gw_leg {
    gw_stream_t *st;
    gw_session_t *s;      /* NULL once that side is gone */
    char guid[TUNNEL_GUID_MAX + 1];
    size_t glen;
    tunnel_dir_t tx;      /* what this leg's agent may send */
    uint64_t owed;        /* v0 receiver: credit not yet passed back to this sender */
    uint8_t *held;        /* v0 sender: bytes beyond the receiver's credit */
    size_t held_len;
} gw_leg_t;

struct gw_stream {
    gw_t *gw;
    uint64_t id;
    gw_leg_t leg[2];      /* 0: initiator, 1: acceptor */
    bool open;            /* the acceptor's Ack arrived */
    int64_t created_ms;
    int64_t deadline_ms;  /* open timeout while !open */
    char ip[TUNNEL_IP_MAX + 1];
    uint16_t port;
    gw_stream_t *prev, *next;
};

typedef struct gw_auth_work gw_auth_work_t;

struct gw_session {
    gw_t *gw;
    ws_t *ws;             /* NULL after on_close */
    char name[TUNNEL_NAME_MAX + 1];
    char peer[64];
    char host[64];        /* the peer's address alone: what lock-outs and turns go by */
    bool authed;
    bool registered;      /* holds its name in gw->by_name */
    bool closing;
    bool doomed;          /* send queue overflowed: closed by the next sweep */
    bool failed;          /* its failed login was counted */
    bool busy;            /* no place to wait for a key check: 1013 at the next sweep */
    int version;
    size_t max_message;   /* the agent's message cap (Handshake MaxMessage) */
    int64_t since_ms;     /* accepted (monotonic) */
    int64_t since_real_s; /* authenticated (wall clock) */
    int64_t deadline_ms;  /* handshake deadline while !authed */
    int64_t last_rx_ms;   /* last bytes from the agent (monotonic) */
    uint64_t seen_in;     /* its connection's bytes in at the last sweep */
    gw_auth_work_t *auth; /* key check waiting in gw->authq or running in the pool */
    hmap_t streams; /* GUID -> gw_leg_t* */
    uint64_t bytes_in, bytes_out, msgs_in;
    gw_session_t *prev, *next;
};

struct gw {
    gw_opts_t opts;
    const char *const *argv; /* for SIGHUP reloads */
    int argc;
    uv_loop_t *loop;
    runtime_t rt;
    tls_ctx_t *tls;
    http_server_t *http;
    struct http_admin *admin;
    char token[80];
    uv_timer_t sweep;
    bool sweep_started;
    tunnel_wire_t wire;
    gw_agent_cfg_t *agents;
    size_t nagents;
    tunnel_acl_t acl;
    hmap_t by_name; /* name -> gw_session_t* (authenticated, current) */
    gw_session_t *sessions;
    gw_stream_t *streams;
    size_t nsessions, nstreams;
    uint64_t next_stream_id;
    authguard_t guard;    /* failed logins per address */
    gw_authq_t authq;     /* key checks waiting and running */
    bool auth_init;
    uint64_t busy_unlogged;  /* 1013 refusals since the last agent_auth_busy line */
    int64_t busy_logged_ms;
    bool stopping;
    int64_t started_ms;
    /* counters for /metrics */
    uint64_t c_auth_ok, c_auth_fail, c_auth_busy, c_auth_hashes;
    uint64_t c_streams_total;
    uint64_t c_refused[GW_REFUSE_COUNT]; /* opens that failed, by reason */
    uint64_t c_proto_errors, c_stream_errors, c_late_msgs, c_replaced;
    uint64_t c_bytes[2];       /* payload relayed: [0] initiator to acceptor, [1] back */
};

/* gw_session.c */
void gw_session_accept(gw_t *gw, http_req_t *req);
/* A session becomes a logged-in agent (its key was right). */
void gw_session_login(gw_session_t *s);
void gw_session_close(gw_session_t *s, uint16_t code, const char *reason);
void gw_session_goaway(gw_session_t *s, const char *code, const char *reason, uint16_t wscode);
void gw_session_sweep(gw_t *gw, int64_t now);
int gw_send(gw_session_t *s, const tunnel_msg_t *m);
/* Account for a message just sent with the wire helpers (rc = their result). */
void gw_sent(gw_session_t *s, int rc);

/* gw_auth.c */
void gw_auth_init(gw_t *gw);
void gw_auth_free(gw_t *gw);
/* A Handshake arrived on s: refuse it (locked out, wrong certificate), log
 * it in from the cache, or queue its key check. */
void gw_auth_start(gw_session_t *s, const tunnel_msg_t *m);
/* s failed its login without a key check (malformed or missing handshake,
 * certificate name): counted against its address once, logged by reports. */
void gw_auth_failed(gw_session_t *s, const char *reason);
/* s is going away: its waiting check is dropped, a running one forgotten. */
void gw_auth_session_gone(gw_session_t *s);
/* Every second: waiting logins past their deadline are refused, failure
 * counts that no later event flushed are logged. */
void gw_auth_sweep(gw_t *gw, int64_t now);

/* gw_route.c */
void gw_route_initiator(gw_session_t *s, const tunnel_msg_t *m);
void gw_route_ack(gw_session_t *s, const tunnel_msg_t *m);
void gw_route_data(gw_session_t *s, const tunnel_msg_t *m);
void gw_route_window(gw_session_t *s, const tunnel_msg_t *m);
void gw_route_terminator(gw_session_t *s, const tunnel_msg_t *m);
/* Reset every stream of a session that is going away. */
void gw_route_session_gone(gw_session_t *s, const char *reason);
void gw_route_sweep(gw_t *gw, int64_t now);
void gw_route_drained(gw_session_t *s);
void gw_stream_reset(gw_stream_t *st, const char *reason);

/* gw_admin.c */
int gw_admin_start(gw_t *gw);
const gw_agent_cfg_t *gw_agent_find(const gw_t *gw, const char *name);

#endif
