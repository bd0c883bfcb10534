/*
 * cpesim: `outpost cpe-sim`, a fleet of simulated TR-069 CPEs in one
 * process on one event loop, for demos, tests and benchmarks of an ACS or
 * of the cwmp-proxy. See docs/cpe-sim.md.
 */
#ifndef OUTPOST_CPESIM_CPESIM_H
#define OUTPOST_CPESIM_CPESIM_H

/* argv[0] is the subcommand name. Returns the process exit status. */
int cpesim_main(int argc, char **argv);

#endif
