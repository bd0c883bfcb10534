/*
 * Unit tests: net/curl_uv, against a tiny HTTP/1.1 server on the same loop
 * (127.0.0.1, port 0) that authenticates with net/http_auth Digest.
 *
 * Server paths: anything -> 401 challenge, then 200 "ok" once the Digest
 * credentials check out; /silent -> reads the request and never answers.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <cmocka.h>

#include "net/curl_uv.h"
#include "net/http_auth.h"

/* ---- the test server ------------------------------------------------------ */

typedef struct srv {
    uv_loop_t *loop;
    uv_tcp_t tcp;
    int port;
    http_auth_t *auth;
    int requests, ok, challenged, silent;
    char last_auth[1024];
    struct sconn *conns;
} srv_t;

typedef struct sconn {
    uv_tcp_t h;
    srv_t *srv;
    struct sconn *next;
    size_t len;
    char buf[8192];
} sconn_t;

static int lookup(const char *user, char *out, size_t outlen, void *ud)
{
    if (strcmp(user, "cpe"))
        return -ENOENT;
    snprintf(out, outlen, "%s", "s3cret:pass");
    return 0;
}

static void on_conn_closed(uv_handle_t *h)
{
    sconn_t *c = h->data, **pp = &c->srv->conns;
    while (*pp != c)
        pp = &(*pp)->next;
    *pp = c->next;
    free(c);
}

static void conn_close(sconn_t *c)
{
    if (!uv_is_closing((uv_handle_t *)&c->h))
        uv_close((uv_handle_t *)&c->h, on_conn_closed);
}

static void on_written(uv_write_t *w, int status)
{
    free(w->data);
    free(w);
}

static void reply(sconn_t *c, const char *text, size_t n)
{
    uv_write_t *w = malloc(sizeof *w);
    char *copy = malloc(n);
    assert_non_null(w);
    assert_non_null(copy);
    memcpy(copy, text, n);
    w->data = copy;
    uv_buf_t b = uv_buf_init(copy, (unsigned)n);
    if (uv_write(w, (uv_stream_t *)&c->h, &b, 1, on_written) != 0) {
        free(copy);
        free(w);
    }
}

/* One request head (no bodies in these tests). */
static void serve(sconn_t *c, char *head)
{
    srv_t *s = c->srv;
    char method[16], target[512];
    s->requests++;
    assert_int_equal(sscanf(head, "%15s %511s", method, target), 2);
    if (!strcmp(target, "/silent")) {
        s->silent++;
        return;
    }
    const char *auth = NULL;
    for (char *line = strstr(head, "\r\n"); line; line = strstr(line + 2, "\r\n")) {
        if (!strncasecmp(line + 2, "Authorization:", 14)) {
            char *v = line + 16, *eol = strstr(v, "\r\n");
            while (*v == ' ')
                v++;
            if (eol)
                *eol = '\0';
            snprintf(s->last_auth, sizeof s->last_auth, "%s", v);
            auth = s->last_auth;
            break;
        }
    }
    const char *why = NULL;
    char user[64];
    http_auth_result_t r =
        http_auth_check(s->auth, method, target, auth, lookup, NULL, user, sizeof user, &why);
    if (r == HTTP_AUTH_OK) {
        s->ok++;
        static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
        reply(c, ok, sizeof ok - 1);
        return;
    }
    s->challenged++;
    buf_t h = BUF_INIT(4096);
    buf_append_str(&h, "HTTP/1.1 401 Unauthorized\r\n");
    assert_int_equal(http_auth_challenge(s->auth, r == HTTP_AUTH_STALE, &h), 0);
    buf_append_str(&h, "Content-Length: 0\r\n\r\n");
    reply(c, h.data, h.len);
    buf_free(&h);
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
    sconn_t *c = h->data;
    b->base = c->buf + c->len;
    b->len = sizeof c->buf - 1 - c->len;
}

static void on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *b)
{
    sconn_t *c = st->data;
    if (n < 0 || (n == 0 && c->len == sizeof c->buf - 1)) {
        conn_close(c);
        return;
    }
    c->len += (size_t)n;
    c->buf[c->len] = '\0';
    char *end;
    while ((end = strstr(c->buf, "\r\n\r\n"))) {
        end[2] = '\0';
        serve(c, c->buf);
        size_t used = (size_t)(end + 4 - c->buf);
        memmove(c->buf, end + 4, c->len - used + 1);
        c->len -= used;
    }
}

static void on_accept(uv_stream_t *l, int status)
{
    srv_t *s = l->data;
    sconn_t *c = calloc(1, sizeof *c);
    assert_non_null(c);
    c->srv = s;
    uv_tcp_init(s->loop, &c->h);
    c->h.data = c;
    c->next = s->conns;
    s->conns = c;
    if (uv_accept(l, (uv_stream_t *)&c->h) == 0)
        uv_read_start((uv_stream_t *)&c->h, on_alloc, on_read);
    else
        conn_close(c);
}

static void srv_start(srv_t *s, uv_loop_t *loop, bool md5_only)
{
    memset(s, 0, sizeof *s);
    s->loop = loop;
    http_auth_opts_t o = { .realm = "outpost-test", .digest = true, .digest_md5_only = md5_only };
    s->auth = http_auth_new(&o);
    assert_non_null(s->auth);
    struct sockaddr_in sa;
    uv_ip4_addr("127.0.0.1", 0, &sa);
    assert_int_equal(uv_tcp_init(loop, &s->tcp), 0);
    s->tcp.data = s;
    assert_int_equal(uv_tcp_bind(&s->tcp, (struct sockaddr *)&sa, 0), 0);
    assert_int_equal(uv_listen((uv_stream_t *)&s->tcp, 64, on_accept), 0);
    int len = sizeof sa;
    assert_int_equal(uv_tcp_getsockname(&s->tcp, (struct sockaddr *)&sa, &len), 0);
    s->port = ntohs(sa.sin_port);
}

static void srv_stop(srv_t *s)
{
    for (sconn_t *c = s->conns; c; c = c->next)
        conn_close(c);
    uv_close((uv_handle_t *)&s->tcp, NULL);
}

/* ---- helpers --------------------------------------------------------------- */

typedef struct res {
    int done;
    CURLcode rc;
    long status;
    net_curl_t *nc;     /* for callbacks that free or add */
    int chain;          /* add another transfer from the callback this many times */
    int port;
    char body[64];
    size_t blen;
} res_t;

static size_t on_body(char *p, size_t sz, size_t n, void *ud)
{
    res_t *r = ud;
    size_t k = sz * n;
    if (r->blen + k < sizeof r->body) {
        memcpy(r->body + r->blen, p, k);
        r->blen += k;
    }
    return k;
}

static CURL *mk_easy(int port, const char *path, res_t *r, long timeout_ms)
{
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", port, path);
    CURL *e = curl_easy_init();
    assert_non_null(e);
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_HTTPAUTH, (long)CURLAUTH_DIGEST);
    curl_easy_setopt(e, CURLOPT_USERNAME, "cpe");
    curl_easy_setopt(e, CURLOPT_PASSWORD, "s3cret:pass");
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout_ms);
    return e;
}

static void on_done(CURL *easy, CURLcode rc, long status, void *ud)
{
    res_t *r = ud;
    r->done++;
    r->rc = rc;
    r->status = status;
    if (r->chain > 0) {
        r->chain--;
        assert_int_equal(net_curl_add(r->nc, mk_easy(r->port, "/again", r, 5000), on_done, r), 0);
    }
}

/* Run the loop until *flag >= want (curl's own timeouts bound the wait). */
static void run_until(uv_loop_t *loop, const int *flag, int want)
{
    while (*flag < want)
        assert_true(uv_run(loop, UV_RUN_ONCE) != 0 || *flag >= want);
}

/* Free everything and check that no handle was left open. */
static void finish(uv_loop_t *loop, net_curl_t *nc, srv_t *s)
{
    net_curl_free(nc);
    if (s) {
        srv_stop(s);
    }
    uv_run(loop, UV_RUN_DEFAULT);
    if (s)
        http_auth_free(s->auth);
    assert_int_equal(uv_loop_close(loop), 0);
}

/* ---- tests ------------------------------------------------------------------ */

static void digest_get(bool md5_only, const char *alg)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    srv_t s;
    srv_start(&s, &loop, md5_only);
    net_curl_t *nc = net_curl_new(&loop);
    assert_non_null(nc);
    res_t r = { 0 };
    assert_int_equal(net_curl_add(nc, mk_easy(s.port, "/cwmp?id=1", &r, 5000), on_done, &r), 0);
    assert_int_equal(net_curl_active(nc), 1);
    run_until(&loop, &r.done, 1);
    assert_int_equal(r.rc, CURLE_OK);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.blen, 2);
    assert_memory_equal(r.body, "ok", 2);
    assert_int_equal(net_curl_active(nc), 0);
    assert_int_equal(s.challenged, 1);
    assert_int_equal(s.ok, 1);
    assert_non_null(strstr(s.last_auth, alg));
    finish(&loop, nc, &s);
}

static void test_digest_get_sha256(void **state) { digest_get(false, "algorithm=SHA-256"); }
static void test_digest_get_md5(void **state) { digest_get(true, "algorithm=MD5"); }

static void test_wrong_password_is_401(void **state)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    srv_t s;
    srv_start(&s, &loop, false);
    net_curl_t *nc = net_curl_new(&loop);
    res_t r = { 0 };
    CURL *e = mk_easy(s.port, "/", &r, 5000);
    curl_easy_setopt(e, CURLOPT_PASSWORD, "wrong");
    assert_int_equal(net_curl_add(nc, e, on_done, &r), 0);
    run_until(&loop, &r.done, 1);
    assert_int_equal(r.rc, CURLE_OK);
    assert_int_equal(r.status, 401);
    assert_int_equal(s.ok, 0);
    finish(&loop, nc, &s);
}

static void test_many_and_chained(void **state)
{
    enum { N = 16 };
    uv_loop_t loop;
    uv_loop_init(&loop);
    srv_t s;
    srv_start(&s, &loop, false);
    net_curl_t *nc = net_curl_new(&loop);
    res_t r[N];
    int done = 0;
    memset(r, 0, sizeof r);
    for (int i = 0; i < N; i++) {
        r[i].nc = nc;
        r[i].port = s.port;
        r[i].chain = i == 0 ? 3 : 0; /* the first one adds 3 more, one after another */
        assert_int_equal(net_curl_add(nc, mk_easy(s.port, "/x", &r[i], 5000), on_done, &r[i]),
                         0);
    }
    assert_int_equal(net_curl_active(nc), N);
    for (;;) {
        done = 0;
        for (int i = 0; i < N; i++)
            done += r[i].done;
        if (done == N + 3)
            break;
        assert_true(uv_run(&loop, UV_RUN_ONCE) != 0);
    }
    for (int i = 0; i < N; i++) {
        assert_int_equal(r[i].rc, CURLE_OK);
        assert_int_equal(r[i].status, 200);
    }
    assert_int_equal(s.ok, N + 3);
    finish(&loop, nc, &s);
}

static void test_refused(void **state)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    /* A port that was just free: bound, never listened on, closed. */
    uv_tcp_t t;
    struct sockaddr_in sa;
    uv_ip4_addr("127.0.0.1", 0, &sa);
    uv_tcp_init(&loop, &t);
    assert_int_equal(uv_tcp_bind(&t, (struct sockaddr *)&sa, 0), 0);
    int len = sizeof sa;
    uv_tcp_getsockname(&t, (struct sockaddr *)&sa, &len);
    uv_close((uv_handle_t *)&t, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);

    net_curl_t *nc = net_curl_new(&loop);
    res_t r = { 0 };
    assert_int_equal(net_curl_add(nc, mk_easy(ntohs(sa.sin_port), "/", &r, 5000), on_done, &r),
                     0);
    run_until(&loop, &r.done, 1);
    assert_int_equal(r.rc, CURLE_COULDNT_CONNECT);
    assert_int_equal(r.status, 0);
    finish(&loop, nc, NULL);
}

static void test_timeout(void **state)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    srv_t s;
    srv_start(&s, &loop, false);
    net_curl_t *nc = net_curl_new(&loop);
    res_t r = { 0 };
    assert_int_equal(net_curl_add(nc, mk_easy(s.port, "/silent", &r, 200), on_done, &r), 0);
    run_until(&loop, &r.done, 1);
    assert_int_equal(r.rc, CURLE_OPERATION_TIMEDOUT);
    assert_int_equal(s.silent, 1);
    finish(&loop, nc, &s);
}

static void test_free_aborts_without_callbacks(void **state)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    srv_t s;
    srv_start(&s, &loop, false);
    net_curl_t *nc = net_curl_new(&loop);
    res_t r = { 0 };
    for (int i = 0; i < 3; i++)
        assert_int_equal(net_curl_add(nc, mk_easy(s.port, "/silent", &r, 5000), on_done, &r), 0);
    run_until(&loop, &s.silent, 3); /* all three are on the wire */
    assert_int_equal(net_curl_active(nc), 3);
    finish(&loop, nc, &s);
    assert_int_equal(r.done, 0);
}

static void on_done_free(CURL *easy, CURLcode rc, long status, void *ud)
{
    res_t *r = ud;
    r->done++;
    r->status = status;
    net_curl_free(r->nc);
    /* Adding after free is refused, and the handle is still cleaned up. */
    assert_int_equal(net_curl_add(r->nc, curl_easy_init(), on_done, r), -EINVAL);
}

static void test_free_from_callback(void **state)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    srv_t s;
    srv_start(&s, &loop, false);
    net_curl_t *nc = net_curl_new(&loop);
    res_t r = { .nc = nc }, other = { 0 };
    assert_int_equal(net_curl_add(nc, mk_easy(s.port, "/silent", &other, 5000), on_done, &other),
                     0);
    assert_int_equal(net_curl_add(nc, mk_easy(s.port, "/a", &r, 5000), on_done_free, &r), 0);
    run_until(&loop, &r.done, 1);
    assert_int_equal(r.status, 200);
    srv_stop(&s);
    uv_run(&loop, UV_RUN_DEFAULT);
    http_auth_free(s.auth);
    assert_int_equal(uv_loop_close(&loop), 0);
    assert_int_equal(other.done, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_digest_get_sha256),
        cmocka_unit_test(test_digest_get_md5),
        cmocka_unit_test(test_wrong_password_is_401),
        cmocka_unit_test(test_many_and_chained),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_timeout),
        cmocka_unit_test(test_free_aborts_without_callbacks),
        cmocka_unit_test(test_free_from_callback),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
