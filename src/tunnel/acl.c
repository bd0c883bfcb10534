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

/* ---- canonical forms --------------------------------------------------- */

static void cidr_text(const net_cidr_t *c, char *out, size_t len)
{
    static const uint8_t v4map[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
    char a[INET6_ADDRSTRLEN];
    if (c->bits == 0) {
        snprintf(out, len, "*");
    } else if (c->bits >= 96 && memcmp(c->addr, v4map, 12) == 0) {
        inet_ntop(AF_INET, c->addr + 12, a, sizeof a);
        snprintf(out, len, "%s/%u", a, (unsigned)(c->bits - 96));
    } else {
        inet_ntop(AF_INET6, c->addr, a, sizeof a);
        snprintf(out, len, "%s/%u", a, (unsigned)c->bits);
    }
}

static int cidr_cmp(const void *x, const void *y)
{
    const net_cidr_t *a = x, *b = y;
    int c = memcmp(a->addr, b->addr, sizeof a->addr);
    return c ? c : (int)a->bits - (int)b->bits;
}

static int ports_cmp(const void *x, const void *y)
{
    const tunnel_ports_t *a = x, *b = y;
    return a->lo != b->lo ? (int)a->lo - (int)b->lo : (int)a->hi - (int)b->hi;
}

static int put(char *out, size_t len, size_t *at, const char *s)
{
    size_t n = strlen(s);
    if (*at + n + 1 > len)
        return -ENOBUFS;
    memcpy(out + *at, s, n + 1);
    *at += n;
    return 0;
}

int tunnel_acl_canon(const tunnel_rule_t *r, char *out, size_t len)
{
    net_cidr_t nets[TUNNEL_ACL_MAX_NETS];
    tunnel_ports_t ports[TUNNEL_ACL_MAX_PORTS];
    memcpy(nets, r->nets, r->nnets * sizeof nets[0]);
    memcpy(ports, r->ports, r->nports * sizeof ports[0]);
    qsort(nets, r->nnets, sizeof nets[0], cidr_cmp);
    qsort(ports, r->nports, sizeof ports[0], ports_cmp);
    char item[160];
    size_t at = 0;
    snprintf(item, sizeof item, "from=%s to=%s net=", r->from, r->to);
    if (put(out, len, &at, item) != 0)
        return -ENOBUFS;
    for (size_t i = 0; i < r->nnets; i++) {
        if (i && cidr_cmp(&nets[i], &nets[i - 1]) == 0)
            continue;
        cidr_text(&nets[i], item, sizeof item);
        if ((i && put(out, len, &at, ",") != 0) || put(out, len, &at, item) != 0)
            return -ENOBUFS;
    }
    if (put(out, len, &at, " ports=") != 0)
        return -ENOBUFS;
    /* merge overlapping and adjacent ranges: 22,22-23,24 is 22-24 */
    size_t k = 0;
    for (size_t i = 0; i < r->nports; i++) {
        if (k && (uint32_t)ports[i].lo <= (uint32_t)ports[k - 1].hi + 1) {
            if (ports[i].hi > ports[k - 1].hi)
                ports[k - 1].hi = ports[i].hi;
        } else {
            ports[k++] = ports[i];
        }
    }
    for (size_t i = 0; i < k; i++) {
        if (ports[i].lo == ports[i].hi)
            snprintf(item, sizeof item, "%s%u", i ? "," : "", ports[i].lo);
        else
            snprintf(item, sizeof item, "%s%u-%u", i ? "," : "", ports[i].lo, ports[i].hi);
        if (put(out, len, &at, item) != 0)
            return -ENOBUFS;
    }
    return 0;
}

int tunnel_acl_nets(const tunnel_acl_t *acl, const char *from, const char *to, uint16_t port,
                    char *out, size_t len)
{
    size_t at = 0;
    int matched = 0;
    if (len == 0)
        return -ENOBUFS;
    out[0] = '\0';
    for (size_t i = 0; i < acl->n; i++) {
        const tunnel_rule_t *r = &acl->rules[i];
        if (!name_match(r->from, from) || !name_match(r->to, to))
            continue;
        bool port_ok = false;
        for (size_t p = 0; p < r->nports && !port_ok; p++)
            port_ok = port >= r->ports[p].lo && port <= r->ports[p].hi;
        if (!port_ok)
            continue;
        matched++;
        for (size_t k = 0; k < r->nnets; k++) {
            char item[80];
            cidr_text(&r->nets[k], item, sizeof item);
            if (strcmp(item, "*") == 0) {
                at = 0; /* any address: the rest adds nothing */
                out[0] = '\0';
                return put(out, len, &at, "*") == 0 ? matched : -ENOBUFS;
            }
            if ((at && put(out, len, &at, ",") != 0) || put(out, len, &at, item) != 0)
                return -ENOBUFS;
        }
    }
    return matched;
}

bool tunnel_acl_nets_match(const char *nets, size_t len, const char *ip)
{
    uint8_t a[16];
    char tmp[2048 + 1];
    if (len == 0 || len >= sizeof tmp || net_ip_parse(ip, a) != 0)
        return false;
    memcpy(tmp, nets, len);
    tmp[len] = '\0';
    if (strcmp(tmp, "*") == 0)
        return true;
    char *save = NULL;
    for (char *t = strtok_r(tmp, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        net_cidr_t c;
        if (net_cidr_parse(t, &c) != 0)
            return false; /* a list we cannot read allows nothing */
        if (net_cidr_contains(&c, a))
            return true;
    }
    return false;
}
