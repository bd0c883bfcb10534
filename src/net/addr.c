#include "net/addr.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/str.h"

int net_split_hostport(const char *s, char *host, size_t hostlen, uint16_t *port)
{
    const char *colon;
    const char *h = s;
    size_t hl;
    if (*s == '[') {
        const char *rb = strchr(s, ']');
        if (!rb || rb[1] != ':')
            return -EINVAL;
        h = s + 1;
        hl = (size_t)(rb - h);
        colon = rb + 1;
    } else {
        colon = strrchr(s, ':');
        if (!colon || strchr(s, ':') != colon) /* bare IPv6 needs brackets */
            return -EINVAL;
        hl = (size_t)(colon - s);
    }
    uint64_t p;
    if (str_to_u64n(colon + 1, strlen(colon + 1), 65535, &p))
        return -EINVAL;
    if (str_copyn(host, hostlen, h, hl))
        return -ENAMETOOLONG;
    *port = (uint16_t)p;
    return 0;
}

/* An IPv4/IPv6 literal and a port: 0 or -EINVAL. */
static int numeric(const char *host, uint16_t port, struct sockaddr_storage *out)
{
    memset(out, 0, sizeof *out);
    struct sockaddr_in *a4 = (struct sockaddr_in *)out;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)out;
    if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
        a4->sin_family = AF_INET;
        a4->sin_port = htons(port);
        return 0;
    }
    if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons(port);
        return 0;
    }
    return -EINVAL;
}

int net_addr_numeric(const char *hostport, struct sockaddr_storage *out)
{
    char host[NET_HOST_MAX];
    uint16_t port;
    int rc = net_split_hostport(hostport, host, sizeof host, &port);
    return rc ? rc : numeric(host, port, out);
}

int net_addr_resolve(const char *hostport, struct sockaddr_storage *out)
{
    char host[NET_HOST_MAX];
    uint16_t port;
    int rc = net_split_hostport(hostport, host, sizeof host, &port);
    if (rc)
        return rc;
    struct sockaddr_in *a4 = (struct sockaddr_in *)out;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)out;
    if (*host == '\0' || strcmp(host, "*") == 0)
        strcpy(host, "0.0.0.0");
    if (numeric(host, port, out) == 0)
        return 0;
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM }, *res = NULL;
    if (getaddrinfo(host, NULL, &hints, &res) != 0 || !res)
        return -EHOSTUNREACH;
    memcpy(out, res->ai_addr, res->ai_addrlen);
    if (out->ss_family == AF_INET)
        a4->sin_port = htons(port);
    else
        a6->sin6_port = htons(port);
    freeaddrinfo(res);
    return 0;
}

void net_addr_host(const struct sockaddr *sa, char *out, size_t len)
{
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *a6 = (const struct sockaddr_in6 *)sa;
        /* show v4-mapped peers as plain IPv4 */
        if (IN6_IS_ADDR_V4MAPPED(&a6->sin6_addr)) {
            inet_ntop(AF_INET, &a6->sin6_addr.s6_addr[12], out, (socklen_t)len);
            return;
        }
        inet_ntop(AF_INET6, &a6->sin6_addr, out, (socklen_t)len);
    } else if (sa->sa_family == AF_INET) {
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out, (socklen_t)len);
    } else {
        str_copy(out, len, "?");
    }
}

void net_addr_format(const struct sockaddr *sa, char *out, size_t len)
{
    char host[INET6_ADDRSTRLEN];
    net_addr_host(sa, host, sizeof host);
    unsigned port = sa->sa_family == AF_INET6 ? ntohs(((const struct sockaddr_in6 *)sa)->sin6_port)
                                             : ntohs(((const struct sockaddr_in *)sa)->sin_port);
    if (strchr(host, ':'))
        snprintf(out, len, "[%s]:%u", host, port);
    else
        snprintf(out, len, "%s:%u", host, port);
}

/* The userinfo's password goes through here too: the buffer is sized once
 * (a realloc would leave a copy) and wiped. */
static int decode_into(const char *s, size_t n, char *out, size_t outlen)
{
    buf_t b = BUF_INIT(outlen - 1);
    int rc = buf_reserve(&b, outlen - 1);
    rc = rc ? rc : str_pct_decode(&b, s, n, false);
    if (!rc)
        rc = str_copyn(out, outlen, b.data ? b.data : "", b.len);
    buf_free_secret(&b);
    return rc ? -EINVAL : 0;
}

void net_url_clear(net_url_t *u)
{
    explicit_bzero(u->pass, sizeof u->pass);
}

static int url_parse(const char *s, net_url_t *u);

int net_url_parse(const char *s, net_url_t *u)
{
    int rc = url_parse(s, u);
    if (rc)
        net_url_clear(u); /* a caller that gives up on the URL has nothing to wipe */
    return rc;
}

static int url_parse(const char *s, net_url_t *u)
{
    memset(u, 0, sizeof *u);
    const char *sep = strstr(s, "://");
    if (!sep || sep == s || (size_t)(sep - s) >= sizeof u->scheme)
        return -EINVAL;
    for (size_t i = 0; i < (size_t)(sep - s); i++)
        u->scheme[i] = (char)tolower((unsigned char)s[i]);
    uint16_t defport;
    if (strcmp(u->scheme, "http") == 0 || strcmp(u->scheme, "ws") == 0)
        defport = 80;
    else if (strcmp(u->scheme, "https") == 0 || strcmp(u->scheme, "wss") == 0)
        defport = 443, u->tls = true;
    else
        return -EINVAL;

    const char *auth = sep + 3;
    const char *end = auth + strcspn(auth, "/?#");
    const char *at = NULL;
    for (const char *p = auth; p < end; p++)
        if (*p == '@')
            at = p;
    const char *hp = auth;
    if (at) {
        const char *colon = memchr(auth, ':', (size_t)(at - auth));
        const char *uend = colon ? colon : at;
        if (decode_into(auth, (size_t)(uend - auth), u->user, sizeof u->user))
            return -EINVAL;
        if (colon && decode_into(colon + 1, (size_t)(at - colon - 1), u->pass, sizeof u->pass))
            return -EINVAL;
        hp = at + 1;
    }
    /* host[:port] or [v6][:port] */
    const char *hend, *portp = NULL;
    if (*hp == '[') {
        const char *rb = memchr(hp, ']', (size_t)(end - hp));
        if (!rb)
            return -EINVAL;
        if (str_copyn(u->host, sizeof u->host, hp + 1, (size_t)(rb - hp - 1)))
            return -EINVAL;
        hend = rb + 1;
        if (hend < end && *hend == ':')
            portp = hend + 1;
        else if (hend != end)
            return -EINVAL;
    } else {
        const char *colon = memchr(hp, ':', (size_t)(end - hp));
        hend = colon ? colon : end;
        if (str_copyn(u->host, sizeof u->host, hp, (size_t)(hend - hp)))
            return -EINVAL;
        if (colon)
            portp = colon + 1;
    }
    if (u->host[0] == '\0')
        return -EINVAL;
    for (const char *p = u->host; *p; p++)
        if ((unsigned char)*p <= ' ' || *p == '/' || *p == '\\')
            return -EINVAL;
    u->port = defport;
    if (portp) {
        uint64_t port;
        if (str_to_u64n(portp, (size_t)(end - portp), 65535, &port) || port == 0)
            return -EINVAL;
        u->port = (uint16_t)port;
    }
    /* path + query, fragment dropped */
    const char *path = end;
    size_t plen = strcspn(path, "#");
    if (plen == 0)
        return str_copy(u->path, sizeof u->path, "/") ? -EINVAL : 0;
    if (*path == '?') {
        u->path[0] = '/';
        return str_copyn(u->path + 1, sizeof u->path - 1, path, plen) ? -EINVAL : 0;
    }
    for (size_t i = 0; i < plen; i++)
        if ((unsigned char)path[i] <= ' ')
            return -EINVAL;
    return str_copyn(u->path, sizeof u->path, path, plen) ? -EINVAL : 0;
}

/* Query parameters whose values are credentials, by the name's words
 * (matched anywhere in the name, in any case): access_token, api_key,
 * X-Amz-Signature and X-Amz-Credential, an Azure SAS's sig, password... A
 * name that only looks like one ("monkey") loses its value in a log too,
 * which costs a log reader less than a leaked token costs an operator. */
static const char *const url_secret_words[] = {
    "token", "secret", "pass", "pwd", "key", "sig", "auth", "credential", "session",
};

/* The byte of a query name at *i as the server will read it (a "%XX"
 * escape decoded, '+' a space), *i moved past it. Lenient where
 * str_pct_decode is strict: a '%' that starts no escape is itself, so that
 * one bad escape does not keep the rest of the name from being read. */
static unsigned char url_name_byte(const char *name, size_t n, size_t *i)
{
    unsigned char c = (unsigned char)name[*i];
    if (c == '%' && *i + 2 < n && str_hexval(name[*i + 1]) >= 0 && str_hexval(name[*i + 2]) >= 0) {
        c = (unsigned char)(str_hexval(name[*i + 1]) << 4 | str_hexval(name[*i + 2]));
        *i += 3;
        return c;
    }
    (*i)++;
    return c == '+' ? ' ' : c;
}

/* Whether WORD occurs in the name as the server decodes it: each of its
 * letters written plainly or escaped ("%74oken" is "token" to the server, so
 * its value is the credential all the same). */
static bool url_name_has_word(const char *name, size_t n, const char *word)
{
    for (size_t start = 0; start < n; start++) {
        size_t i = start;
        const char *w = word;
        while (*w && i < n && tolower(url_name_byte(name, n, &i)) == *w)
            w++;
        if (!*w)
            return true;
    }
    return false;
}

bool net_url_query_name_secret(const char *name, size_t n)
{
    for (size_t w = 0; w < sizeof url_secret_words / sizeof url_secret_words[0]; w++)
        if (url_name_has_word(name, n, url_secret_words[w]))
            return true;
    return false;
}

/* Append n bytes at *len; a piece that does not fit is cut (out stays
 * NUL-terminated, a prefix of the whole) and -ENOSPC says so. */
static int shown_put(char *out, size_t cap, size_t *len, const char *s, size_t n)
{
    if (str_copyn(out + *len, cap - *len, s, n))
        return -ENOSPC;
    *len += n;
    return 0;
}

int net_url_redacted(const char *url, char *out, size_t cap)
{
    if (cap == 0)
        return -ENOSPC;
    if (!url)
        url = "";
    out[0] = '\0';
    size_t len = 0;
    const char *copied = url; /* what lies before has been written */
    const char *sep = strstr(url, "://");
    const char *auth = sep ? sep + 3 : url;
    const char *end = auth + strcspn(auth, "/?#");
    const char *at = NULL;
    for (const char *p = auth; p < end; p++)
        if (*p == '@')
            at = p; /* the last one, as url_parse takes it: a raw '@' in a password stays hidden */
    const char *colon = at ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
    if (colon) { /* "scheme://user:" + "***", then on from "@host" */
        if (shown_put(out, cap, &len, url, (size_t)(colon + 1 - url)) ||
            shown_put(out, cap, &len, "***", 3))
            return -ENOSPC;
        copied = at;
    }
    /* the query, from the first '?' after the authority to the fragment:
     * each secret-named parameter's value becomes "***" */
    const char *frag = end + strcspn(end, "#");
    const char *q = memchr(end, '?', (size_t)(frag - end));
    while (q && q < frag) {
        const char *name = q + 1;
        const char *amp = memchr(name, '&', (size_t)(frag - name));
        const char *pair_end = amp ? amp : frag;
        const char *eq = memchr(name, '=', (size_t)(pair_end - name));
        if (eq && net_url_query_name_secret(name, (size_t)(eq - name))) {
            if (shown_put(out, cap, &len, copied, (size_t)(eq + 1 - copied)) ||
                shown_put(out, cap, &len, "***", 3))
                return -ENOSPC;
            copied = pair_end;
        }
        q = amp;
    }
    return shown_put(out, cap, &len, copied, strlen(copied));
}

void net_url_hostport(const net_url_t *u, char *out, size_t len)
{
    bool v6 = strchr(u->host, ':') != NULL;
    uint16_t def = u->tls ? 443 : 80;
    if (u->port == def)
        snprintf(out, len, v6 ? "[%s]" : "%s", u->host);
    else
        snprintf(out, len, v6 ? "[%s]:%u" : "%s:%u", u->host, u->port);
}

int net_ip_parse(const char *ip, uint8_t out[16])
{
    struct in_addr a4;
    if (inet_pton(AF_INET, ip, &a4) == 1) {
        memset(out, 0, 10);
        out[10] = out[11] = 0xff;
        memcpy(out + 12, &a4, 4);
        return 0;
    }
    struct in6_addr a6;
    if (inet_pton(AF_INET6, ip, &a6) == 1) {
        memcpy(out, &a6, 16);
        return 0;
    }
    return -EINVAL;
}

static bool ip_is_v4(const uint8_t ip[16])
{
    static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
    return memcmp(ip, mapped, sizeof mapped) == 0;
}

void net_ip_client_key(uint8_t ip[16])
{
    if (!ip_is_v4(ip))
        memset(ip + 8, 0, 8);
}

void net_ip_client_key_text(const uint8_t key[16], char *out, size_t len)
{
    if (ip_is_v4(key)) {
        inet_ntop(AF_INET, key + 12, out, (socklen_t)len);
        return;
    }
    /* a /64 prints as at most "xxxx:xxxx:xxxx:xxxx::" */
    if (inet_ntop(AF_INET6, key, out, (socklen_t)len) && strlen(out) + 4 <= len)
        strcat(out, "/64");
}

int net_cidr_parse(const char *text, net_cidr_t *out)
{
    char ip[64];
    const char *slash = strchr(text, '/');
    size_t n = slash ? (size_t)(slash - text) : strlen(text);
    if (n == 0 || n >= sizeof ip)
        return -EINVAL;
    memcpy(ip, text, n);
    ip[n] = '\0';
    if (net_ip_parse(ip, out->addr) != 0)
        return -EINVAL;
    bool v4 = strchr(ip, ':') == NULL;
    int64_t bits = v4 ? 32 : 128;
    if (slash && str_to_i64(slash + 1, 0, v4 ? 32 : 128, &bits) != 0)
        return -EINVAL;
    out->bits = (uint8_t)(v4 ? bits + 96 : bits);
    /* clear host bits so matching is a plain prefix compare */
    for (int i = 0; i < 16; i++) {
        int keep = out->bits - i * 8;
        if (keep <= 0)
            out->addr[i] = 0;
        else if (keep < 8)
            out->addr[i] &= (uint8_t)(0xff << (8 - keep));
    }
    return 0;
}

bool net_cidr_contains(const net_cidr_t *c, const uint8_t a[16])
{
    for (int i = 0; i < 16; i++) {
        int keep = c->bits - i * 8;
        if (keep <= 0)
            return true;
        uint8_t mask = keep >= 8 ? 0xff : (uint8_t)(0xff << (8 - keep));
        if ((a[i] & mask) != c->addr[i])
            return false;
    }
    return true;
}

bool net_cidr_match(const net_cidr_t *list, size_t n, const char *ip)
{
    uint8_t a[16];
    if (net_ip_parse(ip, a) != 0)
        return false;
    for (size_t i = 0; i < n; i++)
        if (net_cidr_contains(&list[i], a))
            return true;
    return false;
}

int net_cidr_check(const char *value, char *err, size_t errlen)
{
    net_cidr_t c;
    if (net_cidr_parse(value, &c) == 0)
        return 0;
    snprintf(err, errlen, "expected an address or prefix such as 10.0.0.0/8 or 2001:db8::/32");
    return -EINVAL;
}

int net_cidr_parse_list(char *const *texts, size_t n, net_cidr_t **out)
{
    *out = NULL;
    if (!n)
        return 0;
    net_cidr_t *v = calloc(n, sizeof *v);
    if (!v)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++)
        if (net_cidr_parse(texts[i], &v[i]) != 0) {
            free(v);
            return -EINVAL;
        }
    *out = v;
    return 0;
}
