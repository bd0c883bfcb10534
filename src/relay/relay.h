/*
 * relay: the relay daemons' entry points (subcommands of `outpost`).
 *   relay            the mutual-TLS WebSocket relay (relay_server.c)
 *   relay-client     the manager's end: local HTTP in, REST:REQUEST out (relay_client.c)
 *   relay-connector  the gateway's end: REST:REQUEST in, local HTTP out (relay_connector.c)
 */
#ifndef OUTPOST_RELAY_H
#define OUTPOST_RELAY_H

int relay_main(int argc, char **argv);
int relay_client_main(int argc, char **argv);
int relay_connector_main(int argc, char **argv);
/* The load generator of bench/relay.sh (hidden). */
int relay_bench_main(int argc, char **argv);

#endif
