/*
 * Unit tests: net/egress, the deny list for requests to remote-chosen URLs.
 * Addresses are checked directly, then through real (blocking) curl
 * transfers against a listening socket on 127.0.0.1 that never answers:
 * whether a connection arrived in its accept queue is what is asserted.
 */
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <unistd.h>
#include <cmocka.h>

#include "net/egress.h"

static bool denied(const net_egress_t *e, const char *ip)
{
    struct sockaddr_storage ss = { 0 };
    if (strchr(ip, ':')) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
        s6->sin6_family = AF_INET6;
        assert_int_equal(inet_pton(AF_INET6, ip, &s6->sin6_addr), 1);
    } else {
        struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
        s4->sin_family = AF_INET;
        assert_int_equal(inet_pton(AF_INET, ip, &s4->sin_addr), 1);
    }
    return net_egress_denied(e, (struct sockaddr *)&ss);
}

static int init_default(net_egress_t *e)
{
    char def[] = NET_EGRESS_DENY_DEFAULT;
    char *v[16];
    size_t n = 0;
    for (char *save = NULL, *t = strtok_r(def, ",", &save); t; t = strtok_r(NULL, ",", &save))
        v[n++] = t;
    return net_egress_init(e, v, n);
}

static void test_default_list(void **state)
{
    (void)state;
    net_egress_t e;
    assert_int_equal(init_default(&e), 0);
    static const char *const in[] = {
        "127.0.0.1", "127.255.255.254", "::1", "0.0.0.0", "0.1.2.3", "::", "169.254.169.254",
        "fe80::1", "febf::ffff", "::ffff:127.0.0.1", "::ffff:169.254.169.254",
    };
    static const char *const out[] = {
        "10.0.0.1", "192.0.2.1", "128.0.0.1", "1.0.0.0", "2001:db8::1", "::2", "fec0::1",
        "169.255.0.1", "::ffff:10.0.0.1",
    };
    for (size_t i = 0; i < sizeof in / sizeof in[0]; i++)
        if (!denied(&e, in[i]))
            fail_msg("%s not denied", in[i]);
    for (size_t i = 0; i < sizeof out / sizeof out[0]; i++)
        if (denied(&e, out[i]))
            fail_msg("%s denied", out[i]);
    /* Anything that is not IP (a Unix socket) is refused outright. */
    struct sockaddr_un un = { .sun_family = AF_UNIX };
    assert_true(net_egress_denied(&e, (struct sockaddr *)&un));
    net_egress_free(&e);
    net_egress_free(&e); /* twice is harmless */
}

static void test_init(void **state)
{
    (void)state;
    net_egress_t e;
    char *bad[] = { "10.0.0.0/8", "not-an-address" };
    assert_int_equal(net_egress_init(&e, bad, 2), -EINVAL);
    assert_null(e.deny);
    assert_int_equal(net_egress_init(&e, NULL, 0), 0); /* an empty list denies no IP */
    assert_false(denied(&e, "127.0.0.1"));
    assert_false(net_egress_denied(NULL, (struct sockaddr *)&(struct sockaddr_in){ .sin_family = AF_INET }));
    net_egress_free(&e);
}

/* ---- through curl -------------------------------------------------------- */

static int listener(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(fd, 8), 0);
    socklen_t len = sizeof a;
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    *port = ntohs(a.sin_port);
    return fd;
}

/* Connections that reached the listener (drained). */
static int arrived(int fd)
{
    int n = 0, c;
    while ((c = accept(fd, NULL, NULL)) >= 0) {
        close(c);
        n++;
    }
    return n;
}

static CURLcode fetch(const net_egress_t *e, net_egress_check_t *chk, const char *url)
{
    CURL *c = curl_easy_init();
    assert_non_null(c);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 300L); /* the listener never answers */
    net_egress_apply(e, chk, c);
    CURLcode rc = curl_easy_perform(c);
    curl_easy_cleanup(c);
    return rc;
}

static void test_curl_refused_before_connecting(void **state)
{
    (void)state;
    net_egress_t e;
    assert_int_equal(init_default(&e), 0);
    int port, fd = listener(&port);
    char url[64];
    net_egress_check_t chk;
    snprintf(url, sizeof url, "http://127.0.0.1:%d/cr", port);
    assert_int_equal(fetch(&e, &chk, url), CURLE_COULDNT_CONNECT);
    assert_string_equal(chk.refused, "127.0.0.1");
    /* a name is checked by the addresses it resolves to */
    snprintf(url, sizeof url, "http://localhost:%d/cr", port);
    assert_int_not_equal(fetch(&e, &chk, url), CURLE_OK);
    assert_true(strcmp(chk.refused, "127.0.0.1") == 0 || strcmp(chk.refused, "::1") == 0);
    assert_int_equal(arrived(fd), 0);
    /* Without a deny list (a target the operator named) it connects. */
    assert_int_equal(fetch(NULL, &chk, url), CURLE_OPERATION_TIMEDOUT);
    assert_string_equal(chk.refused, "");
    assert_true(arrived(fd) >= 1);
    close(fd);
    net_egress_free(&e);
}

static void test_curl_allowed_no_env_proxy_no_file(void **state)
{
    (void)state;
    net_egress_t e;
    char *deny[] = { "169.254.0.0/16" };
    assert_int_equal(net_egress_init(&e, deny, 1), 0);
    int port, fd = listener(&port);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/cr", port);
    /* A proxy from the environment is not used: it would be the only
     * address the check sees (and here it is denied). */
    setenv("http_proxy", "http://169.254.1.1:3128", 1);
    net_egress_check_t chk;
    assert_int_equal(fetch(&e, &chk, url), CURLE_OPERATION_TIMEDOUT);
    unsetenv("http_proxy");
    assert_string_equal(chk.refused, "");
    assert_int_equal(arrived(fd), 1);
    /* http and https only */
    assert_int_equal(fetch(&e, &chk, "file:///etc/passwd"), CURLE_UNSUPPORTED_PROTOCOL);
    snprintf(url, sizeof url, "ftp://127.0.0.1:%d/x", port);
    assert_int_equal(fetch(&e, &chk, url), CURLE_UNSUPPORTED_PROTOCOL);
    assert_int_equal(arrived(fd), 0);
    close(fd);
    net_egress_free(&e);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_list),
        cmocka_unit_test(test_init),
        cmocka_unit_test(test_curl_refused_before_connecting),
        cmocka_unit_test(test_curl_allowed_no_env_proxy_no_file),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
