/*
 * store_pg_listen: the other nodes' news, as PostgreSQL notifications. A
 * dedicated libpq connection (not the store worker's) LISTENs on a few
 * channels; its socket is watched by libuv on the event loop (uv_poll on
 * PQsocket; PQconsumeInput, PQnotifies), so a notification reaches the loop
 * without a thread or a poll timer. A lost connection is made again with
 * backoff (0.5 s doubling to 10 s), connecting without blocking the loop
 * (PQconnectStart/PQconnectPoll; 10 s to connect and have the LISTEN
 * answered, or it is a failure like any other); on_up runs each time it (re)connects, so
 * the user can re-read what it may have missed meanwhile.
 *
 * The listener owns its connection and handles; channel names and the url
 * are copied. fn's strings live during the call only. Senders use
 * store_notify() from a store job (delivered only if that job commits).
 */
#ifndef OUTPOST_STORE_PG_LISTEN_H
#define OUTPOST_STORE_PG_LISTEN_H

#include <stdbool.h>
#include <uv.h>

typedef struct store_listen store_listen_t;
typedef void (*store_listen_fn)(const char *channel, const char *payload, void *ud);
typedef void (*store_listen_up_fn)(void *ud);

/* channels: NULL terminated, each a plain identifier (letters, digits, _).
 * -EPROTONOSUPPORT when url is not a PostgreSQL URL; -EINVAL for a bad
 * channel name; -ENOMEM. The first connection is made in the background. */
int store_listen_new(uv_loop_t *loop, const char *url, const char *const *channels,
                     store_listen_fn fn, store_listen_up_fn on_up, void *ud, store_listen_t **out);
/* Connected and listening now. */
bool store_listen_up(const store_listen_t *l);
/* Stops listening; the handles close in the background. NULL is fine. */
void store_listen_free(store_listen_t *l);

#endif
