/*
 * relay_rules: who may join which meeting id, beyond holding a certificate
 * chained to the relay's CA.
 *
 * A rule is "k=v k=v ..." (one --allow flag or YAML list item) with keys:
 *   path=GLOB         meeting ids it covers (fnmatch; default "*"); the
 *                     placeholders {cn} and {org} stand for the client
 *                     certificate's CN / O (glob-escaped), so
 *                     `path=gw-{cn}` lets each gateway join only its own path
 *   cn=GLOB org=GLOB  the certificate's subject CN / O must match
 *   fingerprint=HEX   SHA-256 of the certificate (64 hex digits, ':' allowed)
 * All given keys must match. A connection is admitted when any rule
 * matches; with no rules at all, every valid certificate is (the original's
 * behaviour).
 *
 * The set owns its rules; relay_rules_free releases them.
 */
#ifndef OUTPOST_RELAY_RULES_H
#define OUTPOST_RELAY_RULES_H

#include <stdbool.h>
#include <stddef.h>

typedef struct relay_ident {
    const char *cn;          /* "" when absent */
    const char *org;
    const char *fingerprint; /* lowercase hex */
} relay_ident_t;

typedef struct relay_rule {
    char *path, *cn, *org;
    char fingerprint[65]; /* "" = any */
} relay_rule_t;

typedef struct relay_rules {
    relay_rule_t *v;
    size_t n;
} relay_rules_t;

/* Parse one rule and append it. -EINVAL with a reason in err. */
int relay_rules_add(relay_rules_t *rs, const char *text, char *err, size_t errlen);
void relay_rules_free(relay_rules_t *rs);
/* Index of the first matching rule, -1 when rules exist and none matches,
 * -2 when there are no rules (everyone is admitted). */
int relay_rules_match(const relay_rules_t *rs, const char *meeting, const relay_ident_t *who);

#endif
