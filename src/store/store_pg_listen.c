/*
 * store_pg_listen: LISTEN on a connection of its own, polled by libuv
 * (store_pg_listen.h). States: idle (waiting to retry), connecting
 * (PQconnectPoll driven by the socket), listening (LISTEN sent; up once
 * its results came back). Any failure closes the connection and retries
 * after a backoff; nothing here ever blocks the loop for long (the LISTEN
 * query is a few bytes written to a fresh socket).
 */
#include <errno.h>
#include <libpq-fe.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "store/store_pg_listen.h"

enum { BACKOFF_MIN_MS = 500, BACKOFF_MAX_MS = 10000, CONNECT_TIMEOUT_MS = 10000, CHANNELS_MAX = 8 };

typedef enum { L_IDLE, L_CONNECTING, L_LISTENING } lstate_t;

struct store_listen {
    uv_loop_t *loop;
    char *url;
    char *channels[CHANNELS_MAX + 1];
    store_listen_fn fn;
    store_listen_up_fn on_up;
    void *ud;
    PGconn *conn;
    uv_poll_t *poll;  /* watches conn's socket; NULL without one */
    int fd;           /* the socket it watches */
    uv_timer_t timer; /* retry backoff, connect timeout */
    lstate_t state;
    bool up, freeing;
    int handles;      /* open libuv handles: the struct goes with the last */
    uint64_t backoff_ms;
};

static void start_connect(store_listen_t *l);

static void handle_closed(uv_handle_t *h)
{
    store_listen_t *l = h->data;
    if (h != (uv_handle_t *)&l->timer)
        free(h);
    if (--l->handles == 0 && l->freeing) {
        for (int i = 0; l->channels[i]; i++)
            free(l->channels[i]);
        free(l->url);
        free(l);
    }
}

static void poll_drop(store_listen_t *l)
{
    if (!l->poll)
        return;
    uv_poll_stop(l->poll);
    uv_close((uv_handle_t *)l->poll, handle_closed);
    l->poll = NULL;
    l->fd = -1;
}

static void conn_drop(store_listen_t *l)
{
    poll_drop(l);
    if (l->conn)
        PQfinish(l->conn);
    l->conn = NULL;
    l->up = false;
}

static void on_retry(uv_timer_t *t)
{
    start_connect(t->data);
}

static void fail(store_listen_t *l, const char *why)
{
    const char *msg = l->conn ? PQerrorMessage(l->conn) : "";
    size_t len = strlen(msg);
    while (len && msg[len - 1] == '\n')
        len--;
    if (l->up || l->backoff_ms == BACKOFF_MIN_MS) /* once per outage, not per retry */
        log_warn("store_listen_lost", LF_S("reason", why), LF_SN("detail", msg, len),
                 LF_U("retry_ms", l->backoff_ms));
    conn_drop(l);
    l->state = L_IDLE;
    uv_timer_start(&l->timer, on_retry, l->backoff_ms, 0);
    l->backoff_ms = l->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : l->backoff_ms * 2;
}

static void on_poll(uv_poll_t *h, int status, int events);

/* Watch the connection's socket for `events` (the socket may change while
 * connecting: libpq tries the next address). */
static int watch(store_listen_t *l, int events)
{
    int fd = PQsocket(l->conn);
    if (fd < 0)
        return -EIO;
    if (l->poll && l->fd != fd)
        poll_drop(l);
    if (!l->poll) {
        uv_poll_t *p = malloc(sizeof *p);
        if (!p)
            return -ENOMEM;
        if (uv_poll_init(l->loop, p, fd) != 0) {
            free(p);
            return -EIO;
        }
        p->data = l;
        l->handles++;
        l->poll = p;
        l->fd = fd;
    }
    return uv_poll_start(l->poll, events, on_poll) == 0 ? 0 : -EIO;
}

/* Also covers the LISTEN's answer: a server that took the connection but
 * never answers would otherwise leave us "listening" to nothing, for good. */
static void on_connect_timeout(uv_timer_t *t)
{
    store_listen_t *l = t->data;
    if (l->state == L_CONNECTING || (l->state == L_LISTENING && !l->up))
        fail(l, "connect timed out");
}

/* The server's notices on this connection ("terminating connection due to
 * administrator command"...): the loss that follows is what gets logged. */
static void quiet_notice(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

static void start_connect(store_listen_t *l)
{
    static const char *const keys[] = { "keepalives_idle", "keepalives_interval", "keepalives_count",
                                        "application_name", "dbname", NULL };
    const char *vals[] = { "30", "10", "3", "outpost-listen", l->url, NULL };
    l->conn = PQconnectStartParams(keys, vals, 1);
    if (!l->conn || PQstatus(l->conn) == CONNECTION_BAD || watch(l, UV_WRITABLE) != 0) {
        fail(l, "connect failed");
        return;
    }
    PQsetNoticeProcessor(l->conn, quiet_notice, NULL);
    l->state = L_CONNECTING;
    uv_timer_start(&l->timer, on_connect_timeout, CONNECT_TIMEOUT_MS, 0);
}

static void send_listen(store_listen_t *l)
{
    char sql[CHANNELS_MAX * 80];
    size_t len = 0;
    for (int i = 0; l->channels[i]; i++)
        len += (size_t)snprintf(sql + len, sizeof sql - len, "LISTEN %s;", l->channels[i]);
    if (!PQsendQuery(l->conn, sql) || watch(l, UV_READABLE) != 0) {
        fail(l, "LISTEN failed");
        return;
    }
    l->state = L_LISTENING; /* the connect timer runs on until its answer */
}

static void connecting(store_listen_t *l)
{
    switch (PQconnectPoll(l->conn)) {
    case PGRES_POLLING_READING:
        if (watch(l, UV_READABLE) != 0)
            fail(l, "poll failed");
        return;
    case PGRES_POLLING_WRITING:
        if (watch(l, UV_WRITABLE) != 0)
            fail(l, "poll failed");
        return;
    case PGRES_POLLING_OK:
        send_listen(l);
        return;
    default:
        fail(l, "connect failed");
        return;
    }
}

static void listening(store_listen_t *l)
{
    if (!PQconsumeInput(l->conn)) {
        fail(l, "connection lost");
        return;
    }
    /* the LISTEN's results (and nothing else: we send nothing more) */
    while (!PQisBusy(l->conn)) {
        PGresult *r = PQgetResult(l->conn);
        if (!r)
            break;
        bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
        PQclear(r);
        if (!ok) {
            fail(l, "LISTEN refused");
            return;
        }
        if (!l->up) {
            l->up = true;
            l->backoff_ms = BACKOFF_MIN_MS;
            uv_timer_stop(&l->timer);
            log_info("store_listen_up", LF_S("channel", l->channels[0]));
            if (l->on_up)
                l->on_up(l->ud);
            if (l->freeing || !l->conn)
                return;
        }
    }
    PGnotify *n;
    while (l->conn && (n = PQnotifies(l->conn)) != NULL) {
        l->fn(n->relname, n->extra ? n->extra : "", l->ud);
        PQfreemem(n);
        if (l->freeing)
            return;
    }
    if (l->conn && PQstatus(l->conn) == CONNECTION_BAD)
        fail(l, "connection lost");
}

static void on_poll(uv_poll_t *h, int status, int events)
{
    store_listen_t *l = h->data;
    (void)events;
    if (l->freeing || h != l->poll)
        return;
    if (status < 0 && l->state == L_LISTENING) {
        fail(l, "socket error");
        return;
    }
    if (l->state == L_CONNECTING)
        connecting(l);
    else if (l->state == L_LISTENING)
        listening(l);
}

static bool channel_ok(const char *c)
{
    if (!*c || strlen(c) > 63)
        return false;
    for (; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '_'))
            return false;
    return true;
}

int store_listen_new(uv_loop_t *loop, const char *url, const char *const *channels,
                     store_listen_fn fn, store_listen_up_fn on_up, void *ud, store_listen_t **out)
{
    *out = NULL;
    if (strncmp(url, "postgres://", 11) != 0 && strncmp(url, "postgresql://", 13) != 0)
        return -EPROTONOSUPPORT;
    store_listen_t *l = calloc(1, sizeof *l);
    if (!l)
        return -ENOMEM;
    l->loop = loop;
    l->fn = fn;
    l->on_up = on_up;
    l->ud = ud;
    l->fd = -1;
    l->backoff_ms = BACKOFF_MIN_MS;
    int n = 0, rc = 0;
    for (; channels[n] && !rc; n++)
        if (n >= CHANNELS_MAX || !channel_ok(channels[n]))
            rc = -EINVAL;
        else if (!(l->channels[n] = strdup(channels[n])))
            rc = -ENOMEM;
    if (!rc && !(l->url = strdup(url)))
        rc = -ENOMEM;
    if (rc) {
        for (int i = 0; i < CHANNELS_MAX && l->channels[i]; i++)
            free(l->channels[i]);
        free(l->url);
        free(l);
        return rc;
    }
    uv_timer_init(loop, &l->timer);
    l->timer.data = l;
    l->handles = 1;
    start_connect(l);
    *out = l;
    return 0;
}

bool store_listen_up(const store_listen_t *l)
{
    return l && l->up;
}

void store_listen_free(store_listen_t *l)
{
    if (!l)
        return;
    l->freeing = true;
    conn_drop(l);
    uv_timer_stop(&l->timer);
    uv_close((uv_handle_t *)&l->timer, handle_closed);
}
