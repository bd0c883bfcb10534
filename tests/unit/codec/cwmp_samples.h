/* cwmp_samples: one representative message of every CWMP type, shared by the
 * codec's round-trip and schema-validation tests. */
#ifndef OUTPOST_TEST_CWMP_SAMPLES_H
#define OUTPOST_TEST_CWMP_SAMPLES_H

#include "codec/cwmp.h"

/* Fill m with a sample of type t in namespace ns (static storage). */
void cwmp_sample(cwmp_type_t t, cwmp_ns_t ns, cwmp_msg_t *m);

#endif
