/*
 * admin: the cwmp-proxy's loopback admin listener (net/http_admin): GET
 * /metrics (Prometheus text), /status (JSON) and /health (503 while no ACS
 * node is up), behind the API bearer token.
 */
#ifndef OUTPOST_CWMP_PROXY_ADMIN_H
#define OUTPOST_CWMP_PROXY_ADMIN_H

#include "cwmp_proxy/proxy.h"

/* Start the listener on o.common.admin_listen (no-op when empty). 0 or -errno. */
int admin_start(proxy_t *px);
/* Render the bodies (exposed for tests). */
int admin_metrics(proxy_t *px, buf_t *out);
int admin_status(proxy_t *px, buf_t *out);

#endif
