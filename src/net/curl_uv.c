/*
 * curl_uv: libcurl's multi-socket interface on a libuv loop.
 *
 * curl tells us which sockets to watch (CURLMOPT_SOCKETFUNCTION) and when to
 * wake it up (CURLMOPT_TIMERFUNCTION); we keep one uv_poll_t per socket and
 * one uv_timer_t, hand their events back with curl_multi_socket_action() and
 * collect finished transfers with curl_multi_info_read().
 *
 * Teardown: net_curl_free() removes every transfer (no callbacks), closes the
 * polls before curl closes the sockets they watch, cleans up the multi handle
 * and closes the timer; the struct itself goes in the last close callback.
 * If it is called from inside a done callback, it only marks the struct and
 * the teardown runs once the callback has returned.
 */
#include "net/curl_uv.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>

#include "core/log.h"

typedef struct xfer {
    struct xfer *prev, *next;
    CURL *easy;
    net_curl_done_fn done;
    void *ud;
} xfer_t;

typedef struct sock {
    uv_poll_t poll; /* first: the close callback gets this pointer */
    struct sock *prev, *next;
    net_curl_t *nc;
    curl_socket_t fd;
} sock_t;

struct net_curl {
    uv_loop_t *loop;
    CURLM *multi;
    uv_timer_t timer;
    xfer_t *xfers;     /* in flight, owned */
    size_t active;
    sock_t *socks;     /* watched sockets */
    unsigned open;     /* uv handles whose close callback has not run yet */
    unsigned depth;    /* > 0 while done callbacks run */
    bool freeing;      /* net_curl_free() was called */
    bool torn_down;    /* ... and the curl side is gone */
};

#define LIST_ADD(head, x)        \
    do {                         \
        (x)->prev = NULL;        \
        (x)->next = (head);      \
        if (head)                \
            (head)->prev = (x);  \
        (head) = (x);            \
    } while (0)

#define LIST_DEL(head, x)                \
    do {                                 \
        if ((x)->prev)                   \
            (x)->prev->next = (x)->next; \
        else                             \
            (head) = (x)->next;          \
        if ((x)->next)                   \
            (x)->next->prev = (x)->prev; \
    } while (0)

static void maybe_release(net_curl_t *nc)
{
    if (nc->torn_down && nc->open == 0)
        free(nc);
}

static void on_handle_closed(uv_handle_t *h)
{
    net_curl_t *nc;
    if (h->type == UV_POLL) {
        sock_t *s = (sock_t *)h;
        nc = s->nc;
        free(s);
    } else {
        nc = h->data;
    }
    nc->open--;
    maybe_release(nc);
}

static void sock_close(net_curl_t *nc, sock_t *s)
{
    LIST_DEL(nc->socks, s);
    curl_multi_assign(nc->multi, s->fd, NULL);
    /* uv_close stops the poll at once, so curl may close (and the kernel
     * reuse) the descriptor right after we return. */
    uv_close((uv_handle_t *)&s->poll, on_handle_closed);
}

static void teardown(net_curl_t *nc);

/* Finished transfers: detach, report, clean up. */
static void drain_done(net_curl_t *nc)
{
    CURLMsg *m;
    int left;
    nc->depth++;
    while (!nc->freeing && (m = curl_multi_info_read(nc->multi, &left))) {
        if (m->msg != CURLMSG_DONE)
            continue;
        CURL *easy = m->easy_handle;
        CURLcode rc = m->data.result; /* m is invalid once the handle is removed */
        xfer_t *x = NULL;
        long status = 0;
        curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&x);
        curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
        curl_multi_remove_handle(nc->multi, easy);
        if (x) {
            LIST_DEL(nc->xfers, x);
            nc->active--;
            if (x->done)
                x->done(easy, rc, status, x->ud);
            free(x);
        }
        curl_easy_cleanup(easy);
    }
    nc->depth--;
    if (nc->freeing && nc->depth == 0 && !nc->torn_down)
        teardown(nc);
}

static void action(net_curl_t *nc, curl_socket_t fd, int flags)
{
    int running = 0;
    CURLMcode mc = curl_multi_socket_action(nc->multi, fd, flags, &running);
    if (mc != CURLM_OK)
        log_warn("curl_multi_error", LF_S("err", curl_multi_strerror(mc)));
    drain_done(nc);
}

static void on_poll(uv_poll_t *h, int status, int events)
{
    sock_t *s = (sock_t *)h;
    int flags = 0;
    if (status < 0)
        flags = CURL_CSELECT_ERR; /* curl reads the socket error itself */
    if (events & UV_READABLE)
        flags |= CURL_CSELECT_IN;
    if (events & UV_WRITABLE)
        flags |= CURL_CSELECT_OUT;
    action(s->nc, s->fd, flags);
}

static void on_timer(uv_timer_t *t)
{
    action(t->data, CURL_SOCKET_TIMEOUT, 0);
}

static int on_curl_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
    net_curl_t *nc = userp;
    sock_t *s = socketp;
    if (what == CURL_POLL_REMOVE) {
        if (s)
            sock_close(nc, s);
        return 0;
    }
    if (nc->freeing)
        return 0;
    if (!s) {
        s = calloc(1, sizeof *s);
        if (!s)
            return -1; /* curl fails the transfers on this socket */
        int rc = uv_poll_init_socket(nc->loop, &s->poll, fd);
        if (rc) {
            log_warn("curl_poll_init", LF_ERR(rc), LF_I("fd", fd));
            free(s);
            return -1;
        }
        s->nc = nc;
        s->fd = fd;
        nc->open++;
        LIST_ADD(nc->socks, s);
        curl_multi_assign(nc->multi, fd, s);
    }
    int ev = (what & CURL_POLL_IN ? UV_READABLE : 0) | (what & CURL_POLL_OUT ? UV_WRITABLE : 0);
    int rc = ev ? uv_poll_start(&s->poll, ev, on_poll) : uv_poll_stop(&s->poll);
    return rc ? -1 : 0;
}

static int on_curl_timer(CURLM *multi, long timeout_ms, void *userp)
{
    net_curl_t *nc = userp;
    if (nc->freeing)
        return 0;
    /* 0 means "as soon as possible": the timer fires on the next loop
     * iteration, never from inside this callback (curl forbids re-entry). */
    if (timeout_ms < 0)
        return uv_timer_stop(&nc->timer) ? -1 : 0;
    return uv_timer_start(&nc->timer, on_timer, (uint64_t)timeout_ms, 0) ? -1 : 0;
}

net_curl_t *net_curl_new(uv_loop_t *loop)
{
    if (!loop) {
        errno = EINVAL;
        return NULL;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        errno = ENOMEM;
        return NULL;
    }
    net_curl_t *nc = calloc(1, sizeof *nc);
    if (!nc || !(nc->multi = curl_multi_init())) {
        free(nc);
        curl_global_cleanup();
        errno = ENOMEM;
        return NULL;
    }
    nc->loop = loop;
    uv_timer_init(loop, &nc->timer);
    nc->timer.data = nc;
    nc->open = 1;
    curl_multi_setopt(nc->multi, CURLMOPT_SOCKETFUNCTION, on_curl_socket);
    curl_multi_setopt(nc->multi, CURLMOPT_SOCKETDATA, nc);
    curl_multi_setopt(nc->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
    curl_multi_setopt(nc->multi, CURLMOPT_TIMERDATA, nc);
    return nc;
}

static void teardown(net_curl_t *nc)
{
    while (nc->xfers) {
        xfer_t *x = nc->xfers;
        LIST_DEL(nc->xfers, x);
        curl_multi_remove_handle(nc->multi, x->easy); /* may report REMOVE */
        curl_easy_cleanup(x->easy);
        free(x);
    }
    nc->active = 0;
    while (nc->socks) /* anything curl still watches: stop before it closes */
        sock_close(nc, nc->socks);
    curl_multi_cleanup(nc->multi);
    nc->multi = NULL;
    curl_global_cleanup();
    nc->torn_down = true;
    uv_close((uv_handle_t *)&nc->timer, on_handle_closed);
}

void net_curl_free(net_curl_t *nc)
{
    if (!nc || nc->freeing)
        return;
    nc->freeing = true;
    if (nc->depth == 0)
        teardown(nc);
}

int net_curl_add(net_curl_t *nc, CURL *easy, net_curl_done_fn done, void *ud)
{
    if (!easy)
        return -EINVAL;
    if (!nc || nc->freeing) {
        curl_easy_cleanup(easy);
        return -EINVAL;
    }
    xfer_t *x = calloc(1, sizeof *x);
    if (!x) {
        curl_easy_cleanup(easy);
        return -ENOMEM;
    }
    x->easy = easy;
    x->done = done;
    x->ud = ud;
    curl_easy_setopt(easy, CURLOPT_PRIVATE, (void *)x);
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L); /* no SIGALRM in a daemon */
    CURLMcode mc = curl_multi_add_handle(nc->multi, easy);
    if (mc != CURLM_OK) {
        free(x);
        curl_easy_cleanup(easy);
        return mc == CURLM_OUT_OF_MEMORY ? -ENOMEM : -EINVAL;
    }
    LIST_ADD(nc->xfers, x);
    nc->active++;
    return 0;
}

size_t net_curl_active(const net_curl_t *nc)
{
    return nc ? nc->active : 0;
}
