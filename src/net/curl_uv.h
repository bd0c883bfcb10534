/*
 * curl_uv: libcurl's multi interface driven by the libuv loop, for outbound
 * requests that need curl's features (Digest with every quirk of real CPEs).
 *
 * The net_curl_t owns the multi handle; each added easy handle belongs to it
 * until its done callback has returned, after which it is cleaned up.
 * net_curl_free() aborts transfers in flight without calling their callbacks.
 *
 * curl's sockets are watched with one uv_poll_t each and its timeout with one
 * uv_timer_t; all of them are freed in their close callbacks, so the loop
 * must run once more after net_curl_free() (as for any libuv handle).
 * A done callback may add transfers and may call net_curl_free().
 * One loop thread only. CURLOPT_PRIVATE is taken: use the `ud` pointer.
 */
#ifndef OUTPOST_NET_CURL_UV_H
#define OUTPOST_NET_CURL_UV_H

#include <curl/curl.h>
#include <uv.h>

typedef struct net_curl net_curl_t;

/* rc: the transfer's result; status: the HTTP status (0 if none). */
typedef void (*net_curl_done_fn)(CURL *easy, CURLcode rc, long status, void *ud);

/* NULL (errno set) on failure. Calls curl_global_init (reference counted). */
net_curl_t *net_curl_new(uv_loop_t *loop);
void net_curl_free(net_curl_t *nc);
/* Start a transfer. 0 or -ENOMEM/-EINVAL (the easy handle is then cleaned up). */
int net_curl_add(net_curl_t *nc, CURL *easy, net_curl_done_fn done, void *ud);
/* Transfers in flight. */
size_t net_curl_active(const net_curl_t *nc);

#endif
