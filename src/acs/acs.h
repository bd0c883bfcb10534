/*
 * acs: `outpost acs`, the TR-069 Auto Configuration Server (CWMP endpoint,
 * device store, task queue, connection requests, REST API, dashboard).
 * See docs/acs.md.
 */
#ifndef OUTPOST_ACS_H
#define OUTPOST_ACS_H

int acs_main(int argc, char **argv);

#endif
