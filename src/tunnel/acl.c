/* acl: rule parsing and matching (see acl.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "core/str.h"
#include "tunnel/acl.h"

static int parse_nets(tunnel_rule_t *r, const char *v, char *err, size_t errlen)
{
    if (strcmp(v, "*") == 0) {
        memset(&r->nets[0], 0, sizeof r->nets[0]); /* ::/0 covers v4 and v6 */
        r->nnets = 1;
        return 0;
    }
    char tmp[512];
    if (str_copy(tmp, sizeof tmp, v) != 0) {
        snprintf(err, errlen, "net list too long");
        return -EINVAL;
    }
    char *save = NULL;
    for (char *t = strtok_r(tmp, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        if (r->nnets == TUNNEL_ACL_MAX_NETS) {
            snprintf(err, errlen, "more than %d nets in one rule", TUNNEL_ACL_MAX_NETS);
            return -EINVAL;
        }
        if (net_cidr_parse(t, &r->nets[r->nnets]) != 0) {
            snprintf(err, errlen, "bad net '%s' (want CIDR like 10.0.0.0/8 or an address)", t);
            return -EINVAL;
        }
        r->nnets++;
    }
    if (!r->nnets) {
        snprintf(err, errlen, "empty net list");
        return -EINVAL;
    }
    return 0;
}

static int parse_ports(tunnel_rule_t *r, const char *v, char *err, size_t errlen)
{
    if (strcmp(v, "*") == 0) {
        r->ports[0] = (tunnel_ports_t){ 1, 65535 };
        r->nports = 1;
        return 0;
    }
    char tmp[512];
    if (str_copy(tmp, sizeof tmp, v) != 0) {
        snprintf(err, errlen, "port list too long");
        return -EINVAL;
    }
    char *save = NULL;
    for (char *t = strtok_r(tmp, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        if (r->nports == TUNNEL_ACL_MAX_PORTS) {
            snprintf(err, errlen, "more than %d port ranges in one rule", TUNNEL_ACL_MAX_PORTS);
            return -EINVAL;
        }
        int64_t lo, hi;
        char *dash = strchr(t, '-');
        if (dash)
            *dash = '\0';
        if (str_to_i64(t, 1, 65535, &lo) != 0 ||
            (dash ? str_to_i64(dash + 1, lo, 65535, &hi) : (hi = lo, 0)) != 0) {
            snprintf(err, errlen, "bad port range (want P or P-Q within 1-65535)");
            return -EINVAL;
        }
        r->ports[r->nports++] = (tunnel_ports_t){ (uint16_t)lo, (uint16_t)hi };
    }
    if (!r->nports) {
        snprintf(err, errlen, "empty port list");
        return -EINVAL;
    }
    return 0;
}

static bool agent_pattern_ok(const char *v)
{
    if (strcmp(v, "*") == 0)
        return true;
    size_t n = strlen(v);
    if (n == 0 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = v[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return false;
    }
    return true;
}

int tunnel_acl_add(tunnel_acl_t *acl, tunnel_acl_kind_t kind, const char *text, char *err,
                   size_t errlen)
{
    tunnel_rule_t r;
    memset(&r, 0, sizeof r);
    str_copy(r.text, sizeof r.text, text);
    char key[32], val[512];
    size_t pos = 0;
    int rc;
    bool has_net = false, has_ports = false;
    while ((rc = cfg_kv_next(text, &pos, key, sizeof key, val, sizeof val)) == 1) {
        if (strcmp(key, "from") == 0 || (strcmp(key, "to") == 0 && kind == TUNNEL_ACL_GATEWAY)) {
            if (!agent_pattern_ok(val)) {
                snprintf(err, errlen, "bad agent name '%s' for %s", val, key);
                return -EINVAL;
            }
            str_copy(key[0] == 'f' ? r.from : r.to, sizeof r.from, val);
        } else if (strcmp(key, "net") == 0 || strcmp(key, "nets") == 0) {
            if (parse_nets(&r, val, err, errlen) != 0)
                return -EINVAL;
            has_net = true;
        } else if (strcmp(key, "ports") == 0 || strcmp(key, "port") == 0) {
            if (parse_ports(&r, val, err, errlen) != 0)
                return -EINVAL;
            has_ports = true;
        } else {
            snprintf(err, errlen, "unknown key '%s' (want %s)", key,
                     kind == TUNNEL_ACL_GATEWAY ? "from, to, net, ports" : "net, ports, from");
            return -EINVAL;
        }
    }
    if (rc < 0) {
        snprintf(err, errlen, "malformed rule (want k=v pairs)");
        return -EINVAL;
    }
    if (kind == TUNNEL_ACL_GATEWAY && (!r.from[0] || !r.to[0])) {
        snprintf(err, errlen, "rule needs from= and to= (an agent name or *)");
        return -EINVAL;
    }
    if (!has_net || !has_ports) {
        snprintf(err, errlen, "rule needs net= and ports= (use * for any)");
        return -EINVAL;
    }
    if (!r.from[0])
        strcpy(r.from, "*");
    if (!r.to[0])
        strcpy(r.to, "*");
    tunnel_rule_t *nr = realloc(acl->rules, (acl->n + 1) * sizeof *nr);
    if (!nr) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    acl->rules = nr;
    acl->rules[acl->n++] = r;
    return 0;
}

void tunnel_acl_free(tunnel_acl_t *acl)
{
    free(acl->rules);
    acl->rules = NULL;
    acl->n = 0;
}

static bool name_match(const char *pattern, const char *name)
{
    return strcmp(pattern, "*") == 0 || (name && strcmp(pattern, name) == 0);
}

const tunnel_rule_t *tunnel_acl_match(const tunnel_acl_t *acl, const char *from, const char *to,
                                      const char *ip, uint16_t port)
{
    uint8_t a[16];
    if (net_ip_parse(ip, a) != 0)
        return NULL;
    for (size_t i = 0; i < acl->n; i++) {
        const tunnel_rule_t *r = &acl->rules[i];
        if (!name_match(r->from, from) || !name_match(r->to, to))
            continue;
        bool port_ok = false;
        for (size_t p = 0; p < r->nports && !port_ok; p++)
            port_ok = port >= r->ports[p].lo && port <= r->ports[p].hi;
        if (!port_ok)
            continue;
        for (size_t k = 0; k < r->nnets; k++)
            if (net_cidr_contains(&r->nets[k], a))
                return r;
    }
    return NULL;
}
