/*
 * testd: a test-only daemon (`outpost testd`, not listed in --help) that
 * exposes the network floor for integration tests and benchmarks: a fixed
 * small body, echo, streaming in both directions, TLS peer identity and a
 * WebSocket echo, over plain TCP or (mutual) TLS.
 */
#ifndef OUTPOST_TESTD_H
#define OUTPOST_TESTD_H

int testd_main(int argc, char **argv);

#endif
