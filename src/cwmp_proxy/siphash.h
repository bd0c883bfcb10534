/*
 * siphash: SipHash-2-4 (Aumasson & Bernstein), a keyed 64-bit PRF. The
 * cwmp-proxy uses it for hash tables fed from the network (strmap) and to
 * derive session tokens from a secret key and a counter (sessions), which
 * saves a getrandom() per session without making tokens guessable.
 */
#ifndef OUTPOST_CWMP_PROXY_SIPHASH_H
#define OUTPOST_CWMP_PROXY_SIPHASH_H

#include <stddef.h>
#include <stdint.h>

uint64_t siphash24(uint64_t k0, uint64_t k1, const void *in, size_t len);

#endif
