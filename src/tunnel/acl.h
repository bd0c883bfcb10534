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


#endif
