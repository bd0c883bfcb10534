/*
 * addr: socket addresses and URLs as the daemons write them.
 *
 * "HOST:PORT" / "[V6]:PORT" for listeners and connectors, and
 * "scheme://[user:pass@]host[:port]/path?query" URLs (http, https, ws, wss).
 * Everything is parsed into fixed-size fields; over-long input is an error.
 */
#ifndef OUTPOST_NET_ADDR_H
#define OUTPOST_NET_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

enum { NET_HOST_MAX = 256, NET_ADDR_STR = 64, NET_URL_PATH_MAX = 4096 };

/* Split "host:port" or "[v6]:port" (brackets removed from host). */
int net_split_hostport(const char *s, char *host, size_t hostlen, uint16_t *port);
/* Resolve a listener/connector address (numeric or a name, blocking lookup:
 * for start-up only). */
int net_addr_resolve(const char *hostport, struct sockaddr_storage *out);
/* The same for an address a peer gave ("1.2.3.4:80", "[::1]:80"): IP
 * literals only, never a lookup; -EINVAL otherwise. */
int net_addr_numeric(const char *hostport, struct sockaddr_storage *out);
/* "1.2.3.4:80" or "[::1]:80". */
void net_addr_format(const struct sockaddr *sa, char *out, size_t len);
/* Just the host part ("1.2.3.4" / "::1"). */
void net_addr_host(const struct sockaddr *sa, char *out, size_t len);

/* IP addresses in one 16-byte form (IPv4 as ::ffff:a.b.c.d), and prefixes
 * over it, for access rules and trusted-proxy lists. */
typedef struct net_cidr {
    uint8_t addr[16]; /* host bits cleared */
    uint8_t bits;     /* prefix length over the 128-bit form */
} net_cidr_t;

/* An IPv4/IPv6 literal -> 16 bytes; -EINVAL for anything else. */
int net_ip_parse(const char *ip, uint8_t out[16]);
/* Who a client is counted as (failed logins, connections per address, key
 * checks waiting): an IPv4 address whole, an IPv6 one cut to its /64 (one
 * host usually owns a whole /64, so counting single IPv6 addresses would
 * give it 2^64 fresh starts). In place, over the 16-byte form. */
void net_ip_client_key(uint8_t ip[16]);
/* The same as text: "192.0.2.1" or "2001:db8:1:2::/64". */
void net_ip_client_key_text(const uint8_t key[16], char *out, size_t len);
/* "10.0.0.0/8", "2001:db8::/32", or a bare address (a single host). */
int net_cidr_parse(const char *text, net_cidr_t *out);
bool net_cidr_contains(const net_cidr_t *c, const uint8_t addr[16]);
/* Is the IP literal `ip` inside any of the n prefixes? */
bool net_cidr_match(const net_cidr_t *list, size_t n, const char *ip);
/* A config check (core/config's cfg_check_fn) for CIDR options. */
int net_cidr_check(const char *value, char *err, size_t errlen);
/* Parse a list of CIDR texts into a new array (*out, owned by the caller). */
int net_cidr_parse_list(char *const *texts, size_t n, net_cidr_t **out);

typedef struct net_url {
    char scheme[8];         /* lower-case: http, https, ws, wss */
    char host[NET_HOST_MAX]; /* without brackets */
    uint16_t port;          /* explicit or the scheme's default */
    bool tls;               /* https or wss */
    char user[128];         /* percent-decoded userinfo, "" when absent */
    char pass[128];
    char path[NET_URL_PATH_MAX]; /* path + "?query", at least "/" */
} net_url_t;

/* -EINVAL for anything that is not an absolute http(s)/ws(s) URL (pass is
 * wiped then). A URL may carry a password: whoever parsed one calls
 * net_url_clear where its copy's life ends (before free, before a stack
 * copy goes out of scope). */
int net_url_parse(const char *s, net_url_t *u);
/* Wipe the password (the rest stays readable). */
void net_url_clear(net_url_t *u);
/* The URL as logs and error texts may show it: a password in its userinfo
 * becomes "***" (the user name stays), and so does the value of each query
 * parameter whose name says it is a credential (net_url_query_name_secret:
 * "?access_token=***&x=1"); everything else is copied as is. The userinfo is
 * what lies between "://" (or the start, when there is none) and the last
 * '@' before the first '/', '?' or '#', as net_url_parse reads it; an '@' in
 * the path or query is left alone. The query runs from the first '?' after
 * the authority to the first '#'; its pairs are split on '&' and names are
 * matched as the server decodes them ("%74oken" is a token). Works on any
 * text, parseable or not; out always NUL-terminated, -ENOSPC when cut (a
 * hidden value is never among what is copied, cut or not). NULL url: "". */
int net_url_redacted(const char *url, char *out, size_t cap);
/* Whether a query parameter named NAME (n bytes, not NUL-terminated) carries
 * a credential: its name, percent-escapes and '+' decoded, holds token,
 * secret, pass, pwd, key, sig, auth, credential or session, in any case. */
bool net_url_query_name_secret(const char *name, size_t n);
/* A buffer for net_url_redacted when the URL goes into one log line (a
 * longer one is cut there, which a log line can afford). */
enum { NET_URL_SHOWN = 1024 };
/* "host:port" suitable for a Host header (brackets for IPv6, port omitted
 * when it is the scheme default). */
void net_url_hostport(const net_url_t *u, char *out, size_t len);

#endif
