/*
 * health: active checks of the ACS nodes. Every `interval` each live
 * backend gets one probe: a TCP (and TLS, for https nodes) connect, or,
 * with --health-path, an HTTP GET of that path where any status below 500
 * counts as healthy. Results go to the balancer, which applies rise/fall.
 * Probes of one backend never overlap; a retired backend's probe stops.
 *
 * The health_t is owned by the daemon and follows the balancer's changes
 * through health_backend_event() (wired to balancer.on_change).
 */
#ifndef OUTPOST_CWMP_PROXY_HEALTH_H
#define OUTPOST_CWMP_PROXY_HEALTH_H

#include "cwmp_proxy/proxy.h"

health_t *health_new(proxy_t *px);
/* Stop every probe and timer; frees itself once their handles closed. */
void health_stop(health_t *h);
/* balancer on_change hook: "added", "retired", "freed", "up", "down". */
void health_backend_event(health_t *h, backend_t *be, const char *what);

#endif
