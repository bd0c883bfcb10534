/*
 * clock: wall-clock and monotonic time, and the ISO 8601 forms CWMP and the
 * REST APIs use ("2026-11-21T10:00:00Z"). Pure functions, no state.
 */
#ifndef OUTPOST_CORE_CLOCK_H
#define OUTPOST_CORE_CLOCK_H

#include <stddef.h>
#include <stdint.h>

enum { CLOCK_ISO_LEN = 32 };

int64_t clock_mono_ms(void);   /* monotonic, for timeouts and latency */
int64_t clock_mono_us(void);
int64_t clock_mono_ns(void);   /* for timing short computations */
int64_t clock_real_ms(void);   /* Unix epoch milliseconds */
int64_t clock_real_s(void);
/* Epoch seconds -> "YYYY-MM-DDTHH:MM:SSZ" (UTC). out: CLOCK_ISO_LEN bytes. */
void clock_iso8601(int64_t epoch_s, char *out);
/* Parse xsd:dateTime ("...Z", "+hh:mm" offset, fractional seconds ignored). */
int clock_parse_iso8601(const char *s, int64_t *epoch_s);

#endif
