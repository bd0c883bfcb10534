/*
 * egress: where an outbound request that a remote party chose may go.
 *
 * A CPE reports its ConnectionRequestURL itself. A daemon that GETs it (the
 * ACS's connection requests, the cwmp-proxy's wake-ups) must not become a
 * client of its own host, of a cloud metadata service or of any other
 * address the operator keeps out of reach. A net_egress_t holds that deny
 * list (CIDRs, parsed once at start); net_egress_apply() installs it on a
 * libcurl easy handle:
 *
 *   - CURLOPT_OPENSOCKETFUNCTION checks every address curl is about to
 *     connect to, the addresses a name resolved to included (checking the
 *     URL's text would miss "localhost" or a DNS name pointing inside);
 *     a denied one is never connected to and is reported in the check;
 *   - CURLOPT_PROXY "": no http_proxy from the environment (the proxy would
 *     be the only address the check sees);
 *   - no redirects (a Location header would be a relay to anywhere), and
 *     http/https only.
 *
 * The net_egress_t belongs to the daemon and outlives every transfer; a
 * net_egress_check_t belongs to one transfer (it must live until curl is
 * done with the handle) and says which address was refused.
 */
#ifndef OUTPOST_NET_EGRESS_H
#define OUTPOST_NET_EGRESS_H

#include <curl/curl.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "net/addr.h"

/* The defaults of --wakeup-deny and --cr-deny: this host (loopback,
 * 0.0.0.0/8 and :: reach it too) and link-local (cloud metadata services). */
#define NET_EGRESS_DENY_DEFAULT "127.0.0.0/8,::1,0.0.0.0/8,::/128,169.254.0.0/16,fe80::/10"

typedef struct net_egress {
    net_cidr_t *deny;
    size_t ndeny;
} net_egress_t;

typedef struct net_egress_check {
    const net_egress_t *eg;        /* NULL: no address is denied */
    char refused[NET_ADDR_STR];    /* the last address refused, "" when none */
} net_egress_check_t;

/* Parse n CIDR texts (config-checked already). 0, -EINVAL or -ENOMEM. */
int net_egress_init(net_egress_t *e, char *const *cidrs, size_t n);
void net_egress_free(net_egress_t *e);
/* Is this socket address (AF_INET or AF_INET6) denied? Other families are. */
bool net_egress_denied(const net_egress_t *e, const struct sockaddr *sa);
/* Install the checks on `easy` (see above). e NULL: no deny list, the rest
 * still applies (a target the operator named). chk is reset. */
void net_egress_apply(const net_egress_t *e, net_egress_check_t *chk, CURL *easy);

#endif
