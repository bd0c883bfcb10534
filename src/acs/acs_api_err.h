/*
 * acs_api_err: what the REST API answers for a failure that is not a
 * handler's own (its 404s and 409s name what they are about): the store's
 * queue full, a write that lost to other writers, the database away,
 * shutting down, out of memory, anything else. One table, one row per
 * cause, so each says truthfully what happened (acs_api_store_error sends
 * it; acs_files.c's plain-text answers use the same rows). Pure: unit
 * tested in tests/unit/acs/test_acs_api_err.c.
 *
 * The codes: -EAGAIN means only "the store's queue is full"
 * (store_worker_submit). A store call inside a job that returns -EAGAIN
 * for another reason (store_preset_put/delete: other writers changed the
 * row under each of their tries) is renamed where the job returns, to
 * -ACS_ERACED, so that it is not taken for a full queue.
 */
#ifndef OUTPOST_ACS_API_ERR_H
#define OUTPOST_ACS_API_ERR_H

#include <errno.h>

/* A write lost to concurrent writers (another ACS node on a shared store,
 * the config file's presets sync) on each of its tries: nothing written. */
#define ACS_ERACED EDEADLK

typedef struct acs_api_err {
    int rc;                   /* the negative errno of the row; 0: the default row */
    int status;               /* HTTP status */
    const char *code;         /* the JSON "error" */
    const char *message;      /* the JSON "message": what happened, what to do */
    const char *headers;      /* extra header lines ("Retry-After: 5\r\n"), or NULL */
} acs_api_err_t;

/* The row for rc (a negative errno); never NULL: an unknown rc gets the
 * default row (500 internal). */
const acs_api_err_t *acs_api_err_for(int rc);

/* A store write's result as its job returns it: its -EAGAIN (lost to
 * other writers, store_preset_put/delete) becomes -ACS_ERACED. */
static inline int acs_api_raced(int rc)
{
    return rc == -EAGAIN ? -ACS_ERACED : rc;
}

#endif
