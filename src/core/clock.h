/*
 * clock: wall-clock and monotonic time, and the ISO 8601 forms CWMP and the
 * REST APIs use ("2026-11-21T10:00:00Z"), reconnect backoff. Pure
 * functions, no state.
 */
#ifndef OUTPOST_CORE_CLOCK_H
#define OUTPOST_CORE_CLOCK_H

#include <stddef.h>
#include <stdint.h>

enum { CLOCK_ISO_LEN = 32 };

int64_t clock_mono_ms(void);   /* monotonic, for timeouts and latency */
int64_t clock_mono_us(void);
int64_t clock_mono_ns(void);   /* for timing short computations */
int64_t clock_thread_cpu_ns(void); /* the calling thread's CPU time */
int64_t clock_real_ms(void);   /* Unix epoch milliseconds */
int64_t clock_real_s(void);
/* Epoch seconds -> "YYYY-MM-DDTHH:MM:SSZ" (UTC). out: CLOCK_ISO_LEN bytes. */
void clock_iso8601(int64_t epoch_s, char *out);
/* Parse xsd:dateTime ("...Z", "+hh:mm" offset, fractional seconds ignored). */
int clock_parse_iso8601(const char *s, int64_t *epoch_s);
/* Reconnect delay after `attempt` failures (0 = first retry): base =
 * min(max_ms, min_ms * 2^attempt), then uniform in [base/2, base] (the
 * half rounded up) from `rnd` (any 32-bit random value; 0 gives the bottom),
 * so a fleet of clients does not come back at the same instant. min_ms < 1
 * counts as 1, max_ms < min_ms as min_ms; however many attempts, no
 * overflow. Every reconnecting client (XMPP, relay link, agent, gateway
 * mesh) uses this one. */
int64_t clock_backoff_ms(int64_t min_ms, int64_t max_ms, int attempt, uint32_t rnd);

#endif
