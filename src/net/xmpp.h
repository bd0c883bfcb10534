/*
 * xmpp: a small XMPP client (RFC 6120) on net/conn and expat, for TR-069
 * Annex K connection requests: the ACS's one login and each cpe-sim CPE's.
 * It does what those need and nothing else: STARTTLS (required unless the
 * caller passes no TLS context and allow_plain), SASL PLAIN over TLS,
 * resource binding, IQs both ways (many in flight, keyed by id, each with a
 * deadline), reconnecting with exponential backoff, and a hard cap on
 * stanza size. No roster, presence, messages or s2s.
 *
 * Why not libstrophe: its event loop select()s, so it cannot hold the
 * thousands of connections (fds above 1024) one cpe-sim loop carries, and
 * it would be a second TLS and socket stack next to net/conn.
 *
 * Ownership: the caller owns an xmpp_client_t from xmpp_client_new() to
 * xmpp_client_free(). Elements handed to callbacks (xmpp_el_t) live only
 * during the callback. Every pending IQ gets exactly one callback: its
 * answer, its timeout, the connection's loss (-ENOTCONN) or the client's
 * free (-ECANCELED).
 *
 * Parsing (xmpp_parse_*) is separate from the connection so that the fuzz
 * harness and unit tests drive it without sockets.
 */
#ifndef OUTPOST_NET_XMPP_H
#define OUTPOST_NET_XMPP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "core/buf.h"
#include "net/tls.h"

#define XMPP_NS_STANZAS "urn:ietf:params:xml:ns:xmpp-stanzas"

/* ---- elements ----------------------------------------------------------- */

/* A parsed element. Names are "NAMESPACE local" (expat's form with ' ' as
 * the separator) or "local" when it has no namespace. */
typedef struct xmpp_el xmpp_el_t;
struct xmpp_el {
    char *name;
    char **attrs;  /* name, value, ..., NULL (attribute names like element names) */
    char *text;    /* character data directly inside, "" when none */
    size_t text_len;
    xmpp_el_t *kids, *next;
};

const char *xmpp_el_attr(const xmpp_el_t *e, const char *name);
/* Is e the element ns+local? (ns NULL: any namespace) */
bool xmpp_el_is(const xmpp_el_t *e, const char *ns, const char *local);
/* The first child ns+local (ns NULL: any), or NULL. */
const xmpp_el_t *xmpp_el_child(const xmpp_el_t *e, const char *ns, const char *local);
/* The first child element whatever it is (an IQ's payload), or NULL. */
const xmpp_el_t *xmpp_el_first(const xmpp_el_t *e);
void xmpp_el_free(xmpp_el_t *e);

/* An IQ error's defined condition ("not-authorized"...), "" when absent. */
const char *xmpp_iq_error_condition(const xmpp_el_t *iq);

/* XML-escape s (for text and attribute values): 0 or -ENOBUFS. Control
 * characters XML cannot carry are refused (-EINVAL). */
int xmpp_xml_escape(buf_t *out, const char *s);

/* ---- the stream parser ---------------------------------------------------- */

/* Feeds bytes of one XML stream and calls on_open for <stream:stream>'s
 * start, on_stanza for every complete top-level child, on_close for its end.
 * A stanza over max_stanza bytes, a DOCTYPE, or bad XML is an error. */
typedef struct xmpp_parser xmpp_parser_t;
typedef struct xmpp_parser_cbs {
    void (*on_open)(void *ud, const xmpp_el_t *stream); /* attrs only */
    void (*on_stanza)(void *ud, const xmpp_el_t *stanza);
    void (*on_close)(void *ud);
} xmpp_parser_cbs_t;

xmpp_parser_t *xmpp_parser_new(size_t max_stanza, const xmpp_parser_cbs_t *cbs, void *ud);
void xmpp_parser_free(xmpp_parser_t *p);
/* A new stream (after STARTTLS and SASL). */
int xmpp_parser_reset(xmpp_parser_t *p);
/* 0, or -EPROTO with *reason (static) set; the parser is then unusable until reset.
 * A callback may stop the parser (xmpp_parser_stop) to end the feed. */
int xmpp_parser_feed(xmpp_parser_t *p, const char *data, size_t len, const char **reason);
void xmpp_parser_stop(xmpp_parser_t *p);

/* ---- JIDs (RFC 7622, ASCII-level checks) ------------------------------- */

enum { XMPP_JID_PART_MAX = 1023 };
typedef struct xmpp_jid {
    char local[XMPP_JID_PART_MAX + 1];  /* "" when none */
    char domain[XMPP_JID_PART_MAX + 1];
    char resource[XMPP_JID_PART_MAX + 1]; /* "" when none */
} xmpp_jid_t;

/* 0 or -EINVAL (empty domain, a part too long, forbidden characters). */
int xmpp_jid_parse(const char *s, xmpp_jid_t *out);
/* Do a and b name the same account (local@domain, ASCII case-insensitive)? */
bool xmpp_jid_bare_eq(const char *a, const char *b);
/* Is `jid` (a stanza's sender) the entity `want` names: the same account
 * and, when want has a resource, that resource exactly (resources are case
 * sensitive, RFC 7622)? A bare want matches any of the account's resources. */
bool xmpp_jid_matches(const char *want, const char *jid);

/* ---- the client -------------------------------------------------------- */

typedef struct xmpp_client xmpp_client_t;

typedef struct xmpp_client_opts {
    const char *jid;       /* local@domain[/resource] (copied) */
    const char *password;  /* copied */
    const char *host;      /* default: the JID's domain */
    uint16_t port;         /* default 5222 */
    tls_ctx_t *tls;        /* client context for STARTTLS (caller's; outlives the client) */
    bool allow_plain;      /* tls NULL: speak without TLS (tests only) */
    size_t max_stanza;     /* default 64 KiB */
    int64_t iq_timeout_ms; /* default 10 s */
    int64_t connect_timeout_ms; /* connect to bound; default 15 s */
    int64_t backoff_min_ms; /* reconnect delay, doubled per failure; default 1 s */
    int64_t backoff_max_ms; /* default 60 s */
    int64_t keepalive_ms;  /* whitespace ping while online; default 60 s, < 0: none */
    /* online: bound and usable; offline: why (static or valid until return). */
    void (*on_state)(xmpp_client_t *c, bool online, const char *reason, void *ud);
    /* An IQ get/set addressed to us: answer with xmpp_client_reply(). */
    void (*on_iq)(xmpp_client_t *c, const xmpp_el_t *iq, void *ud);
    void *ud;
} xmpp_client_opts_t;

/* Starts connecting at once. 0, -EINVAL (bad JID, no TLS without
 * allow_plain), -ENOMEM. */
int xmpp_client_new(uv_loop_t *loop, const xmpp_client_opts_t *o, xmpp_client_t **out);
/* Pending IQs get -ECANCELED; no on_state afterwards. */
void xmpp_client_free(xmpp_client_t *c);
bool xmpp_client_online(const xmpp_client_t *c);
/* The bound full JID once online, else the configured one. */
const char *xmpp_client_jid(const xmpp_client_t *c);
/* "offline", "connecting", "tls", "auth", "bind", "online". */
const char *xmpp_client_state(const xmpp_client_t *c);

/* rc 0: a result (reply is the <iq type='result'>); -EREMOTEIO: an error IQ
 * (reply is it, see xmpp_iq_error_condition); -ETIMEDOUT; -ENOTCONN (not
 * online, or the connection went while waiting); -ECANCELED. reply is NULL
 * unless rc is 0 or -EREMOTEIO. */
typedef void (*xmpp_iq_fn)(void *ud, int rc, const xmpp_el_t *reply);
/* Send <iq type=TYPE to=TO id=...>PAYLOAD</iq> (payload: serialized XML,
 * trusted). 0 (cb will be called later), or -ENOTCONN/-ENOBUFS/-ENOMEM with
 * no callback. */
int xmpp_client_iq(xmpp_client_t *c, const char *type, const char *to, const char *payload,
                   xmpp_iq_fn cb, void *ud);
/* Answer an incoming IQ: a result (condition NULL) or an error of
 * error_type ("cancel", "auth"...) with the given stanza condition; the
 * request's payload (if payload_xml) goes back inside the error. */
int xmpp_client_reply(xmpp_client_t *c, const xmpp_el_t *iq, const char *error_type,
                      const char *condition, const char *payload_xml);

typedef struct xmpp_client_stats {
    uint64_t connects;     /* times bound */
    uint64_t disconnects;
    uint64_t iq_sent, iq_ok, iq_error, iq_timeout, iq_lost;
    size_t iq_pending;
} xmpp_client_stats_t;
void xmpp_client_stats(const xmpp_client_t *c, xmpp_client_stats_t *st);

/* ---- TR-069 Annex K connection requests ----------------------------------- */

#define XMPP_CR_NS "urn:broadband-forum-org:cwmp:xmppConnReq-1-0"

/* The IQ payload <connectionRequest xmlns=...><username>U</username>
 * <password>P</password></connectionRequest>: 0, -EINVAL (a value XML
 * cannot carry), -ENOBUFS. `out` grows once, before the password goes in;
 * it holds the password in clear: free it with buf_free_secret. */
int xmpp_cr_build(buf_t *out, const char *user, const char *pass);
/* Is this IQ a connection request? 0 with *user and *pass pointing into
 * iq; -ENOENT: not one (another payload); -EINVAL: one, but not a get or
 * without its username and password. */
int xmpp_cr_parse(const xmpp_el_t *iq, const char **user, const char **pass);

#endif
