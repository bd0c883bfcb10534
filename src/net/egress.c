/*
 * egress: the deny list for outbound requests to remote-chosen URLs (see
 * egress.h).
 */
#include "net/egress.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "core/str.h"

int net_egress_init(net_egress_t *e, char *const *cidrs, size_t n)
{
    memset(e, 0, sizeof *e);
    int rc = net_cidr_parse_list(cidrs, n, &e->deny);
    if (rc == 0)
        e->ndeny = n;
    return rc;
}

void net_egress_free(net_egress_t *e)
{
    if (!e)
        return;
    free(e->deny);
    e->deny = NULL;
    e->ndeny = 0;
}

bool net_egress_denied(const net_egress_t *e, const struct sockaddr *sa)
{
    uint8_t ip[16] = { 0 };
    if (sa->sa_family == AF_INET) {
        ip[10] = ip[11] = 0xff; /* the ::ffff:a.b.c.d form net_cidr_t uses */
        memcpy(ip + 12, &((const struct sockaddr_in *)sa)->sin_addr, 4);
    } else if (sa->sa_family == AF_INET6) {
        memcpy(ip, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
    } else {
        return true;
    }
    for (size_t i = 0; e && i < e->ndeny; i++)
        if (net_cidr_contains(&e->deny[i], ip))
            return true;
    return false;
}

static curl_socket_t open_socket(void *ud, curlsocktype purpose, struct curl_sockaddr *a)
{
    net_egress_check_t *chk = ud;
    const struct sockaddr *sa = (const struct sockaddr *)&a->addr;
    if (a->family != AF_INET && a->family != AF_INET6) {
        str_copy(chk->refused, sizeof chk->refused, "(not IP)");
        return CURL_SOCKET_BAD;
    }
    if (chk->eg && net_egress_denied(chk->eg, sa)) {
        net_addr_host(sa, chk->refused, sizeof chk->refused);
        return CURL_SOCKET_BAD;
    }
    return socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
}

void net_egress_apply(const net_egress_t *e, net_egress_check_t *chk, CURL *easy)
{
    chk->eg = e;
    chk->refused[0] = '\0';
    curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(easy, CURLOPT_PROXY, "");
    curl_easy_setopt(easy, CURLOPT_OPENSOCKETFUNCTION, open_socket);
    curl_easy_setopt(easy, CURLOPT_OPENSOCKETDATA, chk);
}
