/*
 * cwmp_proxy: `outpost cwmp-proxy`, the CWMP edge proxy.
 *
 * Sits where CPEs and ACS nodes can both reach it: forwards each CWMP
 * session to one ACS node (sticky weighted round-robin with health checks),
 * rewrites every ConnectionRequestURL the CPEs report so that it points at
 * the proxy, and relays the ACS's wake-ups (connection requests) to the CPEs
 * only it can reach. See docs/cwmp-proxy.md.
 */
#ifndef OUTPOST_CWMP_PROXY_CWMP_PROXY_H
#define OUTPOST_CWMP_PROXY_CWMP_PROXY_H

int cwmp_proxy_main(int argc, char **argv);

#endif
