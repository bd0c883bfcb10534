/*
 * ag: the tunnel agent's internal types, shared by its modules:
 *   ag_main.c     options, start-up, drain
 *   ag_link.c     the WebSocket to a gateway: the list of gateways (failover,
 *                 DNS names with several addresses), handshake, reconnect
 *                 with backoff + jitter, keepalive, message dispatch
 *   ag_stream.c   one TCP connection carried as a stream: credit, half-close,
 *                 waiting for the link
 *   ag_target.c   streams towards us: whitelist, names resolved here, connect
 *   ag_socks.c    SOCKS5 listeners' handshake (codec/socks5), then a stream
 *   ag_forward.c  local listeners (forwards, SOCKS) and their state file
 *   ag_api.c      loopback REST API
 *
 * Ownership: the ag_t owns the link, the streams (map `streams` once they
 * have gone to the gateway, list `waiting` before; each freed in its
 * connection's on_close, or at once when it never had one) and the forwards
 * (list). Local connections are net_conn_t owned by the net module.
 */
#ifndef OUTPOST_TUNNEL_AG_H
#define OUTPOST_TUNNEL_AG_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "core/buf.h"
#include "core/config.h"
#include "core/runtime.h"
#include "net/addr.h"
#include "net/authguard.h"
#include "net/conn.h"
#include "net/http_router.h"
#include "net/http_server.h"
#include "net/tls.h"
#include "net/ws.h"
#include "tunnel/acl.h"
#include "tunnel/flow.h"
#include "core/hmap.h"
#include "tunnel/wire.h"

typedef struct ag ag_t;
typedef struct ag_stream ag_stream_t;
typedef struct ag_forward ag_forward_t;

typedef struct ag_opts {
    cfg_common_t common;
    cfg_list_t gateways; /* ws:// or wss:// URLs, tried in turn */
    char *gateway_prefer; /* "order" or "random" */
    char *name;
    char *key;
    char *key_file;
    cfg_list_t forwards; /* "local=.. gateway=.. ip=.. remote=.." */
    cfg_list_t socks;    /* "listen=.. gateway=.. [user=.. password-file=..]" */
    int64_t link_wait_ms;  /* a local connection waits this long for a link */
    int64_t link_wait_max; /* ... and this many at once */
    cfg_list_t allow;    /* whitelist: "net=.. ports=.. [from=..]" */
    uint64_t window;     /* initial receive window per stream */
    uint64_t max_window; /* how far it may grow (tunnel_rwin) */
    uint64_t window_budget; /* what all windows together may grow by */
    uint64_t max_message;
    int64_t connect_timeout_ms;
    int64_t reconnect_min_ms;
    int64_t reconnect_max_ms;
    int64_t keepalive_ms;
    int64_t keepalive_timeout_ms;
    int64_t drain_ms;
    int64_t max_streams;
} ag_opts_t;

typedef enum ag_link_state {
    AG_DOWN = 0,     /* waiting to reconnect */
    AG_CONNECTING,   /* WebSocket connecting */
    AG_HANDSHAKE,    /* Handshake sent, waiting for its Ack */
    AG_UP,
} ag_link_state_t;

typedef enum ag_stream_state {
    AGS_WAITING,     /* accepted while the link was down: waits for it (list `waiting`) */
    AGS_RETRY,       /* the far agent was offline: asked again shortly (out of the map) */
    AGS_OPENING,     /* we sent an Initiator; local reads paused until the Ack */
    AGS_CONNECTING,  /* we are the acceptor, connecting to the target */
    AGS_OPEN,
} ag_stream_state_t;

struct ag_stream {
    ag_t *ag;
    char guid[TUNNEL_GUID_MAX + 1];
    size_t glen;
    ag_stream_state_t state;
    net_conn_t *conn;      /* NULL once closed */
    ag_forward_t *fwd;     /* the forward it came in on (initiator side), or NULL */
    tunnel_dir_t tx;       /* our credit towards the peer */
    tunnel_rwin_t rx;      /* the window we granted */
    buf_t pending;         /* read locally, not yet sent (credit or link busy) */
    bool in_map;           /* registered under guid */
    bool eof_local;        /* local peer sent FIN */
    bool fin_sent, fin_recv;
    bool remote_gone;      /* peer reset/closed: send nothing more */
    bool waiting_link;     /* on the list of streams resumed when the link drains */
    bool closing;
    bool socks;            /* came in on a SOCKS listener: the Ack becomes a SOCKS reply */
    bool accepted;         /* opened to us (an Initiator from the gateway), not by us */
    char target[TUNNEL_NAME_MAX + TUNNEL_IP_MAX + 16]; /* agent:ip:port, for logs */
    /* what the Initiator asks for (initiator side; kept for a waiting stream):
     * the forward's ip, or a SOCKS client's target (an IP literal or a name) */
    char *host;            /* SOCKS only (heap; NULL: the forward's ip) */
    uint16_t port;
    int64_t accepted_ms;   /* the local client arrived (it waits --link-wait from then) */
    struct ag_resolve *resolve; /* acceptor side: a name being resolved */
    char *nets;            /* acceptor side, a name: the gateway's networks (heap) */
    uint64_t local_extra;  /* bytes we wrote to the local socket ourselves (a SOCKS reply) */
    ag_stream_t *wnext;    /* link-drain wait list */
    ag_stream_t *lnext;    /* the `waiting` list (AGS_WAITING) */
};

struct ag_forward {
    ag_t *ag;
    uint64_t id;
    bool socks;            /* a SOCKS5 listener: targets come from each client */
    char local[NET_ADDR_STR + 8]; /* as configured */
    char bound[NET_ADDR_STR + 8]; /* actual address (port 0 resolved) */
    char gateway[TUNNEL_NAME_MAX + 1];
    char ip[TUNNEL_IP_MAX + 1];   /* forwards only */
    uint16_t remote;              /* forwards only */
    char user[256];               /* SOCKS username/password (RFC 1929); "" = no auth */
    char pass[256];
    char pass_file[512];          /* where the password came from (configured listeners) */
    uint64_t refused;             /* SOCKS requests answered with a failure */
    bool persist;          /* created by the API: kept in the state file */
    net_listener_t *listener;
    uint64_t streams_total, active; /* active: its streams that still exist */
    bool closed;           /* removed; freed when its last stream goes */
    ag_forward_t *next;
};

/* One --gateway URL; a DNS name is resolved at each round and its
 * addresses tried in turn. */
enum { AG_GW_ADDRS = 16 };
typedef struct ag_gateway {
    char url[512];
    char shown[NET_URL_SHOWN]; /* url with its password hidden: what logs and the API show */
    net_url_t u;
    bool is_name;          /* the host is a name, not an IP literal */
    char addrs[AG_GW_ADDRS][NET_ADDR_STR];
    size_t naddrs, next;   /* resolved addresses, the next one to try */
} ag_gateway_t;

struct ag {
    ag_opts_t opts;
    uv_loop_t *loop;
    runtime_t rt;
    tls_ctx_t *tls;        /* client context for wss */
    ag_gateway_t *gws;     /* --gateway, in order */
    size_t ngws, cur;      /* the one in use (or tried next) */
    char cur_addr[NET_ADDR_STR]; /* the address it was reached at ("" before) */
    struct ag_lookup *lookup; /* a name being resolved for the link */
    char key[TUNNEL_KEY_MAX + 1];
    size_t keylen;
    tunnel_wire_t wire;
    tunnel_acl_t allow;
    /* link */
    ws_t *ws;
    ag_link_state_t link;
    int version;
    size_t peer_max_message;
    uint64_t window, max_window; /* --window/--max-window within the gateway's MaxWindow */
    uint64_t window_budget;      /* growth still free for all streams' windows */
    int attempt;           /* reconnects since the last successful login */
    size_t last_up;        /* the gateway (index) of the last link that came up */
    bool was_up;           /* a link came up once: failovers are counted from then */
    bool replaced;         /* GoAway{replaced}: wait the maximum backoff */
    uv_timer_t timer;      /* reconnect / keepalive */
    bool timer_init;
    uint64_t ping_seq;
    int64_t ping_sent_ms;  /* 0: no ping outstanding */
    uint64_t ping_in, ping_out; /* link bytes moved when the Ping went out */
    int64_t last_rx_ms;
    int64_t up_since_s;
    /* streams */
    hmap_t streams;
    ag_stream_t *wait_head; /* streams paused until the link drains */
    ag_stream_t *waiting;   /* streams waiting for the link (FIFO: head, tail) */
    ag_stream_t *waiting_tail;
    size_t nwaiting;
    size_t nstreams;
    size_t naccepted; /* of them, opened to us: --max-streams caps each kind apart */
    /* forwards */
    ag_forward_t *forwards;
    uint64_t next_forward_id;
    char state_path[4096];
    struct json_t *state_kept; /* state entries that did not load: written back as they were */
    /* API */
    http_server_t *api;
    http_router_t *router;
    struct http_admin *admin;
    char token[80];
    bool stopping;
    authguard_t socks_guard; /* wrong SOCKS passwords per address (ag_socks.c) */
    bool socks_guard_init;
    /* counters */
    uint64_t c_streams_out, c_streams_in, c_refused_local, c_denied, c_connect_failed;
    uint64_t c_bytes_out, c_bytes_in, c_reconnects, c_proto_errors;
    uint64_t c_failovers;            /* links made to another gateway than the last one */
    uint64_t c_waited, c_wait_expired; /* local connections that waited for the link */
    uint64_t c_socks_requests, c_socks_refused;
};

/* ag_link.c */
/* Parse --gateway URLs (and --gateway-prefer); -EINVAL logged. */
int ag_link_init(ag_t *ag);
void ag_link_free(ag_t *ag);
void ag_link_start(ag_t *ag);
void ag_link_stop(ag_t *ag);
bool ag_link_up(const ag_t *ag);
/* The gateway URL in use (or tried next), its password hidden: for logs and the API. */
const char *ag_link_url(const ag_t *ag);
/* Send through the link; errors close the link (the caller sees -EPIPE). */
int ag_send(ag_t *ag, const tunnel_msg_t *m);
void ag_sent(ag_t *ag, int rc);

/* ag_stream.c */
void ag_stream_local_accept(ag_forward_t *f, net_conn_t *c);
/* A SOCKS client asked for host:port (its handshake is done): a stream like
 * a forward's, whose Ack is answered with a SOCKS reply. `early` holds bytes
 * the client sent after its request. */
void ag_stream_socks_start(ag_forward_t *f, net_conn_t *c, const char *host, uint16_t port,
                           const char *early, size_t early_len);
/* The link is up: waiting streams go now. */
void ag_stream_link_up(ag_t *ag);
/* A stream we started did not open (code: TUNNEL_CODE_* or "" / NULL). */
void ag_stream_refused(ag_stream_t *st, const char *code, const char *msg);
/* Shared with ag_target.c */
ag_stream_t *ag_stream_new(ag_t *ag, const char *guid, size_t glen);
void ag_stream_free(ag_stream_t *st);
extern const net_conn_cbs_t ag_target_cbs;
const char *ag_connect_code(int err);
const char *ag_connect_reason(int err);

/* ag_target.c */
void ag_stream_on_initiator(ag_t *ag, const tunnel_msg_t *m);
/* The stream is going: a lookup in flight forgets it. */
void ag_target_forget(ag_stream_t *st);
void ag_stream_on_ack(ag_t *ag, const tunnel_msg_t *m);
void ag_stream_on_data(ag_t *ag, const tunnel_msg_t *m);
void ag_stream_on_window(ag_t *ag, const tunnel_msg_t *m);
void ag_stream_on_terminator(ag_t *ag, const tunnel_msg_t *m);
void ag_stream_link_drained(ag_t *ag);
/* The link is gone: reset every local connection. */
void ag_stream_link_lost(ag_t *ag, const char *reason);

/* ag_forward.c */
/* Parse "local=.. gateway=.. ip=.. remote=.." (or the JSON fields) and listen. */
int ag_forward_add(ag_t *ag, const char *local, const char *gateway, const char *ip,
                   int64_t remote, bool persist, char *err, size_t errlen, ag_forward_t **out);
int ag_forward_add_text(ag_t *ag, const char *text, bool persist, char *err, size_t errlen);
/* SOCKS listeners: "listen=HOST:PORT gateway=AGENT [user=U password=P | password-file=F]". */
int ag_socks_add(ag_t *ag, const char *listen, const char *gateway, const char *user,
                 const char *pass, bool persist, char *err, size_t errlen, ag_forward_t **out);
int ag_socks_add_text(ag_t *ag, const char *text, bool persist, char *err, size_t errlen);
/* Close forward (socks: SOCKS listener) `id`: -ENOENT, or the state file's error. */
int ag_forward_remove(ag_t *ag, uint64_t id, bool socks);
int ag_forward_load_state(ag_t *ag);
int ag_forward_save_state(ag_t *ag);
void ag_forward_close_all(ag_t *ag);
/* A stream that came in on f is gone (f may be freed if it was closed). */
void ag_forward_stream_gone(ag_forward_t *f);

/* ag_socks.c */
/* A client connected to a SOCKS listener: its handshake starts. */
void ag_socks_accept(ag_forward_t *f, net_conn_t *c);
/* The Ack for a SOCKS stream: the reply code its Code and Message mean. */
int ag_socks_reply_code(const char *code, const char *message);
void ag_socks_free(ag_t *ag);

/* ag_api.c */
/* The REST API on --listen and the admin listener on --admin-listen. */
int ag_api_start(ag_t *ag);

#endif
