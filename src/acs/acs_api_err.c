/*
 * acs_api_err: the API's answers for failures that are not a handler's own
 * (see acs_api_err.h). Retry-After where retrying soon is the right thing
 * to do: the queue drains in moments, a lost race is retried at once, the
 * database comes back by itself.
 */
#include "acs/acs_api_err.h"

#include <stddef.h>

static const acs_api_err_t rows[] = {
    { -EAGAIN, 503, "unavailable", "the store's queue is full: nothing was done, retry",
      "Retry-After: 1\r\n" },
    { -ACS_ERACED, 409, "conflict",
      "another writer (another ACS node on the shared store, or the config file's presets sync)"
      " changed the same record during each of several tries: nothing was written, retry",
      NULL },
    { -ENOTCONN, 503, "unavailable",
      "the store's database cannot be reached; nothing was stored, retry later", "Retry-After: 5\r\n" },
    { -ECANCELED, 503, "unavailable", "the ACS is shutting down", NULL },
    { -ENOMEM, 503, "unavailable", "out of memory: nothing was done, retry", "Retry-After: 1\r\n" },
};

static const acs_api_err_t fallback = { 0, 500, "internal", "store error", NULL };

const acs_api_err_t *acs_api_err_for(int rc)
{
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        if (rows[i].rc == rc)
            return &rows[i];
    return &fallback;
}
