/*
 * gw: the tunnel gateway's internal types, shared by its modules:
 *   gw_main.c     options, start-up, SIGHUP reload, drain, `hash-key`
 *   gw_session.c  one agent's WebSocket: handshake, dispatch
 *   gw_auth.c     logins: lock-outs (net/authguard), the queue of key checks
 *                 (gw_authq), PBKDF2 in the thread pool, the verified-key cache
 *   gw_route.c    streams between two sessions: open, credit, close, reset
 *   gw_mesh.c     links to other gateways: dialling, the MeshHello check
 *                 (identity, version, configuration digest), one link per pair
 *   gw_presence.c who is logged in where: announcing our agents, the routing
 *                 table (tunnel/mesh.h), split-brain logins
 *   gw_admin.c    loopback admin API and /metrics
 *
 * A session is either an agent's WebSocket or a mesh link to another
 * gateway (`mesh`): both carry streams with the same messages, so a stream's
 * leg is a session of either kind and the routing code does not care which
 * (A -> gw1 -> gw3 -> B is two streams' worth of legs: A|link on gw1,
 * link|B on gw3, credit checked and passed on at each).
 *
 * Ownership: the gw_t owns its sessions (list `sessions`), streams (list
 * `streams`) and configured peers (list `peers`); a session's map points at
 * the legs of the streams it carries (each stream is in exactly two maps,
 * one per leg). A session is freed in its WebSocket's on_close, after every
 * stream it carried was reset. `links` maps a peer gateway's name to its one
 * established link (a session in `sessions`).
 */
#ifndef OUTPOST_TUNNEL_GW_H
#define OUTPOST_TUNNEL_GW_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "core/config.h"
#include "core/runtime.h"
#include "net/addr.h"
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
#include "tunnel/mesh.h"
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

/* Why a mesh peer was refused (outpost_gateway_mesh_refused_total{reason}). */
typedef enum gw_mesh_refuse {
    GW_MESH_REFUSE_DIGEST,   /* its rules or agents differ from ours */
    GW_MESH_REFUSE_IDENTITY, /* its certificate's CN is not the name it gave */
    GW_MESH_REFUSE_VERSION,  /* it speaks no mesh (protocol < 2) */
    GW_MESH_REFUSE_PROTOCOL, /* no MeshHello in time, or a malformed one */
    GW_MESH_REFUSE_COUNT
} gw_mesh_refuse_t;

/* A session's send queue. Data that would pass it, less room kept for
 * control messages, resets the stream it belongs to (gw_route.c); only a
 * control message that does not fit ends the session. Credit alone does not
 * bound it: a receiver's windows over many streams may add up past it. */
enum { GW_SESSION_MAX_QUEUE = 128 * 1024 * 1024, GW_CONTROL_ROOM = 1024 * 1024 };

typedef struct gw gw_t;
typedef struct gw_session gw_session_t;
typedef struct gw_stream gw_stream_t;
typedef struct gw_peer gw_peer_t;

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
    /* the mesh */
    cfg_list_t peers;  /* wss://HOST:PORT/mesh of other gateways */
    char *mesh_listen; /* where peers connect; NULL/empty: we only dial */
    char *mesh_cert;   /* this gateway's certificate (its CN is its mesh name) */
    char *mesh_key;
    char *mesh_ca;     /* the CA of gateway certificates, not the agents' */
    int64_t mesh_keepalive_ms;
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
    bool via_mesh;        /* one leg is a mesh link */
    int64_t created_ms;
    int64_t deadline_ms;  /* open timeout while !open */
    char ip[TUNNEL_IP_MAX + 1];
    uint16_t port;
    char from[TUNNEL_NAME_MAX + 1], to[TUNNEL_NAME_MAX + 1]; /* the agents */
    gw_stream_t *prev, *next;
};

typedef struct gw_auth_work gw_auth_work_t;

struct gw_session {
    gw_t *gw;
    ws_t *ws;             /* NULL after on_close */
    char name[TUNNEL_NAME_MAX + 1]; /* the agent, or for a mesh link the peer gateway */
    bool mesh;            /* a link to another gateway (authed: MeshHellos exchanged) */
    bool outbound;        /* mesh: we dialled it */
    bool superseded;      /* mesh: replaced by another link to the same peer */
    gw_peer_t *dial;      /* mesh, outbound: the configured peer it belongs to */
    uint64_t epoch;       /* agent: its login epoch (tunnel/mesh.h) */
    uint64_t max_window;  /* the credit its grants may add up to (a peer's: its max-window) */
    uint64_t ping_seq;    /* mesh: our keepalive Pings */
    int64_t ping_ms;      /* mesh: when the last one went out */
    char peer[64];
    char host[64];        /* the peer's address alone: what lock-outs and turns go by */
    bool authed;
    bool registered;      /* holds its name in gw->by_name */
    bool closing;
    bool doomed;          /* send queue overflowed: closed by the next sweep */
    bool queue_full_said; /* a stream was reset for its full queue: logged once */
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
    size_t initiated, accepted; /* its legs in `streams`: streams it opened, opened to it */
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
    uint64_t c_queue_full; /* streams reset: their data did not fit the receiver's queue */
    uint64_t c_bytes[2];       /* payload relayed: [0] initiator to acceptor, [1] back */
    /* the mesh (gw_mesh.c, gw_presence.c) */
    bool mesh_on;              /* a mesh certificate is configured */
    char mesh_name[TUNNEL_NAME_MAX + 1]; /* ours: the CN of --mesh-cert */
    char digest[TUNNEL_DIGEST_LEN + 1];  /* of our agents and rules */
    tls_ctx_t *mesh_srv_tls, *mesh_cli_tls;
    http_server_t *mesh_http;
    gw_peer_t *peers;
    hmap_t links;              /* peer gateway name -> its established link */
    tunnel_mesh_t routes;      /* agent name -> gateway (ours included) */
    uv_timer_t mesh_timer;
    bool mesh_timer_started;
    struct gw_mesh_refusal {   /* the last refused peers, for /status */
        char name[TUNNEL_NAME_MAX + 1], addr[64], reason[200];
        int64_t at_s;
    } refusals[8];
    size_t nrefusals;
    uint64_t c_mesh_refused[GW_MESH_REFUSE_COUNT];
    uint64_t c_mesh_links_total, c_mesh_streams_total, c_mesh_replaced;
    size_t mesh_streams;       /* streams with a mesh leg now */
};

/* A configured peer (--peer URL): dialled until a link with it is up. */
typedef enum gw_peer_state {
    GW_PEER_DOWN,       /* waiting to dial (again) */
    GW_PEER_CONNECTING, /* dialled, MeshHellos not yet exchanged */
    GW_PEER_UP,         /* our link is the one in use */
    GW_PEER_INBOUND,    /* its own link to us is the one in use: we do not dial */
    GW_PEER_REFUSED,    /* the last attempt was refused (reason says why) */
    GW_PEER_SELF,       /* the URL is this gateway's own: never dialled again */
} gw_peer_state_t;

struct gw_peer {
    gw_t *gw;
    char url[512];
    char shown[NET_URL_SHOWN]; /* url with its password hidden: what logs, sessions and /status show */
    char name[TUNNEL_NAME_MAX + 1]; /* learnt from its MeshHello */
    gw_session_t *link;  /* our outbound link while it exists */
    gw_peer_state_t state;
    char reason[200];    /* why the last attempt failed */
    int attempt;         /* failures since the last link */
    int64_t next_ms;     /* next dial (monotonic) */
    int64_t since_s;     /* state since (wall clock) */
    bool removed;        /* no longer configured: freed once its link is gone */
    gw_peer_t *next;
};

/* gw_session.c */
/* The WebSocket upgrade of an agent's (or, mesh, a peer gateway's) request
 * into a session; 503 while stopping or without memory. */
void gw_session_accept(gw_t *gw, http_req_t *req, bool mesh);
/* A session for a WebSocket the mesh accepted or dialled (ws may be NULL
 * until ws_connect returns it: gw_session_attach). */
gw_session_t *gw_session_new(gw_t *gw, bool mesh, const char *peer);
void gw_session_attach(gw_session_t *s, ws_t *ws);
extern const ws_cbs_t gw_session_cbs;
/* The WebSocket options of agent sessions and mesh links. */
void gw_session_ws_opts(const gw_t *gw, ws_opts_t *wo);
/* A session becomes a logged-in agent (its key was right). */
void gw_session_login(gw_session_t *s);
void gw_session_close(gw_session_t *s, uint16_t code, const char *reason);
/* A malformed or unexpected message: logged once, the session closed (1002;
 * 1008 before login, which counts as a failed login of the address). */
void gw_session_protocol_error(gw_session_t *s, const char *why);
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
/* Ack towards a session: code (v2, may be NULL) only where it is understood. */
void gw_send_ack(gw_session_t *s, const char *guid, size_t glen, bool ok, const char *msg,
                 const char *code, int64_t window);

/* gw_mesh.c */
/* Options to state: certificates, our name, TLS contexts, listener, peers. */
int gw_mesh_start(gw_t *gw);
void gw_mesh_stop(gw_t *gw);
void gw_mesh_free(gw_t *gw);
/* SIGHUP: the fresh peer list and certificates; links whose peers left
 * the list are closed; a changed digest closes every link (each side then
 * checks the other again). */
void gw_mesh_reload(gw_t *gw, const gw_opts_t *fresh, bool digest_changed);
/* A dialled link is open: send our MeshHello. */
void gw_mesh_open(gw_session_t *s);
/* A message on a mesh session (decoded). */
void gw_mesh_message(gw_session_t *s, const tunnel_msg_t *m);
/* The mesh link s is closing (code/reason as the WebSocket says). */
void gw_mesh_link_gone(gw_session_t *s, const char *reason);
void gw_mesh_sweep(gw_t *gw, int64_t now);
/* The established link to peer gateway `name`, or NULL. */
gw_session_t *gw_mesh_link(gw_t *gw, const char *name);
const char *gw_mesh_refuse_name(gw_mesh_refuse_t r);
/* The bound mesh listener ("off" without one). */
const char *gw_mesh_listen_addr(const gw_t *gw);
/* The digest of agents + rules (tunnel_mesh_digest). */
int gw_mesh_digest(const gw_agent_cfg_t *agents, size_t n, const tunnel_acl_t *acl, char out[65]);

/* gw_presence.c */
/* A local agent logged in / left: routes and announcements. */
void gw_presence_login(gw_session_t *s);
void gw_presence_logout(gw_session_t *s);
/* A link came up: tell it who is logged in here. */
void gw_presence_snapshot(gw_session_t *link);
/* A Presence message on a link. */
void gw_presence_recv(gw_session_t *link, const tunnel_msg_t *m);
/* A link is gone for good: every route through its gateway goes. */
void gw_presence_link_lost(gw_session_t *link);
/* Where to send a stream for agent `name`: a local session or a link (NULL:
 * offline). */
gw_session_t *gw_presence_target(gw_t *gw, const char *name);

/* gw_admin.c */
int gw_admin_start(gw_t *gw);
const gw_agent_cfg_t *gw_agent_find(const gw_t *gw, const char *name);

#endif
