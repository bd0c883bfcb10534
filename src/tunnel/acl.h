/*
 * acl: default-deny rules over (from agent, to agent, target address, port),
 * shared by the gateway's access control and the agent's whitelist. Pure
 * logic: parsing the rule text and matching.
 *
 * A rule is the "k=v k=v" text of one --rule / --allow item (or YAML map):
 *   from=NAME|*  to=NAME|*  net=CIDR[,CIDR...]|*  ports=P[,P-Q...]|*
 * The gateway requires from, to, net and ports; the agent's whitelist
 * requires net and ports and takes an optional from (the initiating agent).
 * A target is allowed when some rule matches every field. The acl owns its
 * rules; tunnel_acl_free() releases them.
 */
#ifndef OUTPOST_TUNNEL_ACL_H
#define OUTPOST_TUNNEL_ACL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/addr.h"


typedef struct tunnel_ports {
    uint16_t lo, hi;
} tunnel_ports_t;

enum { TUNNEL_ACL_MAX_NETS = 32, TUNNEL_ACL_MAX_PORTS = 32 };

typedef struct tunnel_rule {
    char from[65]; /* agent name, or "*" */
    char to[65];
    net_cidr_t nets[TUNNEL_ACL_MAX_NETS];
    size_t nnets;
    tunnel_ports_t ports[TUNNEL_ACL_MAX_PORTS];
    size_t nports;
    char text[512]; /* the rule as given, for logs and the admin API */
} tunnel_rule_t;

typedef struct tunnel_acl {
    tunnel_rule_t *rules;
    size_t n;
} tunnel_acl_t;

typedef enum tunnel_acl_kind {
    TUNNEL_ACL_GATEWAY,   /* from, to, net, ports all required */
    TUNNEL_ACL_WHITELIST, /* net, ports required; from optional; no to */
} tunnel_acl_kind_t;

/* Parse and append one rule. -EINVAL with a reason in err. */
int tunnel_acl_add(tunnel_acl_t *acl, tunnel_acl_kind_t kind, const char *text, char *err,
                   size_t errlen);
void tunnel_acl_free(tunnel_acl_t *acl);
/* The first matching rule, or NULL (denied). `to` may be NULL for whitelists.
 * `ip` must be an IP literal; anything else is denied. */
const tunnel_rule_t *tunnel_acl_match(const tunnel_acl_t *acl, const char *from, const char *to,
                                      const char *ip, uint16_t port);

/* A rule in a canonical form: "from=A to=B net=N1,N2 ports=P1,P2-P3" with
 * nets and port ranges sorted and merged, so equal rules read the same
 * whatever order they were written in (the mesh's configuration digest).
 * 0, or -ENOBUFS. */
int tunnel_acl_canon(const tunnel_rule_t *r, char *out, size_t len);
/* A name as a target (v2): the networks `from` may reach on port `port`
 * behind `to`, as a comma-separated CIDR list ("*" for any address) for the
 * acceptor to check the name's addresses against. Returns the number of
 * rules that matched (0: denied), or -ENOBUFS when the list does not fit. */
int tunnel_acl_nets(const tunnel_acl_t *acl, const char *from, const char *to, uint16_t port,
                    char *out, size_t len);
/* Is the IP literal `ip` inside the list tunnel_acl_nets() wrote? A list
 * that does not parse matches nothing. */
bool tunnel_acl_nets_match(const char *nets, size_t len, const char *ip);


#endif
