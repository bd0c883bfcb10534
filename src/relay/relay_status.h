/*
 * relay_status: the relay's /status document (JSON: paths, peers with
 * class, id, certificate subject, since, bytes and messages each way) and
 * its Prometheus /metrics text, rendered from the hub and the server's own
 * refusal counters into a caller-owned buffer.
 */
#ifndef OUTPOST_RELAY_STATUS_H
#define OUTPOST_RELAY_STATUS_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "relay/relay_hub.h"

/* Refusals decided before a connection reaches the hub. */
typedef struct relay_counters {
    uint64_t not_found, forbidden, full, per_cert;
} relay_counters_t;

int relay_status_json(buf_t *out, relay_hub_t *hub, const relay_counters_t *cnt);
int relay_status_metrics(buf_t *out, relay_hub_t *hub, const relay_counters_t *cnt, size_t conns);

#endif
