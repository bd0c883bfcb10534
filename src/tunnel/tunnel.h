/*
 * tunnel: entry points of `outpost gateway` and `outpost agent` (the
 * multiplexed TCP tunnel, docs/tunnel.md). argv[0] is the subcommand name.
 */
#ifndef OUTPOST_TUNNEL_TUNNEL_H
#define OUTPOST_TUNNEL_TUNNEL_H

int tunnel_gateway_main(int argc, char **argv);
int tunnel_agent_main(int argc, char **argv);

#endif
