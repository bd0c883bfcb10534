/*
 * acs_keys: the REST API's keys, each a bearer token with a role (viewer <
 * operator < admin, net/http_router.h), and `outpost acs keys`.
 *
 * A key's token is "opk_" ID "_" SECRET: ID is 12 hex digits, public (lists
 * and revocation name it), SECRET 32 random bytes in hex. The store keeps
 * the SHA-256 of the secret's bytes and nothing from which the token could
 * be rebuilt; the token is shown once, when the key is made.
 *
 * The ACS keeps every key's hash in memory (acs_keys_t, owned by acs_t and
 * used on the loop only): the router's key lookup (acs_key_role) hashes the
 * token presented and looks the hash up, no store query per request. The
 * table is read at start, changed at once by the API's POST and DELETE
 * /api/keys, and read again when the store's key version changes (checked
 * every ACS_KEYS_POLL_MS by a small store job: `outpost acs keys`, run
 * against the same database while the daemon runs, takes effect within
 * that) and on SIGHUP. The --api-token (or DATA_DIR/api-token) is the
 * router's own token, the first admin key; it is not in the store and
 * cannot be revoked through the API.
 *
 * Event streams (GET /api/events) outlive the request that was checked:
 * each remembers who opened it (acs_key_who) and every change of the table
 * (a revoke, a reload) tells acs_events_keys_changed, which ends at once
 * the streams whose key is gone or no longer has the role they need.
 *
 * Last use is kept in memory to the minute and written by the same poll.
 * docs/api-keys.md says it all for operators.
 */
#ifndef OUTPOST_ACS_KEYS_H
#define OUTPOST_ACS_KEYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "acs/acs_internal.h"

enum {
    ACS_KEY_TOKEN_LEN = 82, /* "opk_" + 12 + "_" + 64, with its NUL */
    ACS_KEYS_POLL_MS = 1000,
    ACS_KEY_HASH_LEN = 32,  /* SHA-256 of a key's secret */
};

/* Read the keys straight from a->store (before the store worker runs) and
 * arm the poll (its first job goes once the worker exists). 0 or an error
 * (logged). */
int acs_keys_start(acs_t *a);
/* SIGHUP: read the keys again at once. */
void acs_keys_reload(acs_t *a);
/* Shutdown: the poll stops (the unwritten last uses are dropped). */
void acs_keys_stop(acs_t *a);
/* After the loop's last run (the poll timer's memory is in the table). */
void acs_keys_free(acs_t *a);
/* The router's key lookup (ud = the acs_t): a role, or -1. */
int acs_key_role(const char *token, size_t len, void *ud);
/* Who a request that stays open was let in as: the --api-token, or a key
 * (its hash, the table's own key, and its id). Plain data, copied freely. */
typedef struct acs_key_who {
    bool key;                                /* false: the --api-token */
    char id[STORE_KEY_ID];
    unsigned char hash[ACS_KEY_HASH_LEN];
} acs_key_who_t;
/* The credential of an Authorization value the router let through, told
 * as the router tells it (its own token first): 0, or -ENOENT when it is
 * neither the --api-token nor a key of the table now. */
int acs_key_who(const acs_t *a, const char *authorization, acs_key_who_t *out);
/* Its role in the table now: the --api-token's admin, a key's role, or -1
 * for a key the table no longer has. One hash lookup. */
int acs_key_who_role(const acs_t *a, const acs_key_who_t *who);
/* GET/POST /api/keys, DELETE /api/keys/{id} (admin). 0 or -EINVAL. */
int acs_keys_api_register(acs_t *a, http_router_t *r);

/* Shared by the API and the command line. */
/* A new key: k filled (id, hash, name, role, created = now) and its token
 * into token[ACS_KEY_TOKEN_LEN]. 0, or -EINVAL with the reason in err
 * ("name: ..." or "role: ..."), or -errno if no randomness. */
int acs_key_make(const char *name, const char *role, int64_t now, store_key_t *k, char *token,
                 char *err, size_t errlen);

/* The id the --api-token goes by in lists (store ids are hex). */
#define ACS_KEY_TOKEN_ID "api-token"
/* A stored key as the API and `keys list --json` show it (no hash). */
json_t *acs_key_json(const store_key_t *k);
/* The --api-token's row in those lists. */
json_t *acs_key_token_json(void);

/* `outpost acs keys add|list|revoke` (argv[0] = "keys"). */
int acs_keys_main(int argc, char **argv);

#endif
