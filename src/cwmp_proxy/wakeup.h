/*
 * wakeup: the connection-request relay. The ACS calls the URL the proxy put
 * in place of a CPE's ConnectionRequestURL,
 *
 *     GET <public-url>/client?origin=<the CPE's own URL>
 *
 * with Digest (SHA-256 or MD5, qop=auth) or Basic credentials; the proxy
 * checks them against its configuration (401 with both challenges when
 * missing or wrong), checks that it rewrote that origin itself (403
 * otherwise: no relaying to arbitrary hosts), then GETs the origin (never
 * an address in --wakeup-deny, net/egress.h) answering the CPE's Digest
 * challenge (MD5 or SHA-256, qop=auth; Basic only when allowed) with the
 * device's configured credentials, the global ones, or (compatibility
 * mode) the ACS's. An address that keeps sending wrong passwords is locked
 * out (429) for a while (authguard.h).
 *
 *   CPE 200/204 -> 200/204; CPE 401 after auth -> 403; other CPE status ->
 *   502; unreachable -> 502; connect (2 s) or total (5 s) timeout -> 504.
 *   Every answer carries a one-line reason; every wake-up is counted and
 *   logged with device, outcome and latency.
 *
 * With udp=IP:PORT (the CPE's UDPConnectionRequestAddress), the same
 * checks, then a UDP connection request (TR-069 Annex G, codec/udpcr.h)
 * signed with those credentials goes to that address, which must be the
 * origin's host and pass --wakeup-deny; 200 once the first copy is out
 * (copies at 0.5, 1.5, 3.5 s), the CPE's session being the ACS's to see.
 *
 * The wakeup_t belongs to the daemon; it owns its curl multi handle and its
 * UDP sockets.
 */
#ifndef OUTPOST_CWMP_PROXY_WAKEUP_H
#define OUTPOST_CWMP_PROXY_WAKEUP_H

#include <stddef.h>

#include "cwmp_proxy/proxy.h"
#include "net/http_server.h"

#define WAKEUP_PATH "/client"

/* NULL on failure (logged). */
wakeup_t *wakeup_new(proxy_t *px);
/* Abort transfers in flight (no answers) and free; the loop must run once
 * more for curl's handles to close. */
void wakeup_free(wakeup_t *w);
void wakeup_handle(wakeup_t *w, http_req_t *r);
size_t wakeup_in_flight(const wakeup_t *w);
/* Addresses locked out for wrong ACS credentials so far. */
size_t wakeup_locked_out(const wakeup_t *w);
const char *wakeup_outcome_name(int outcome);

#endif
