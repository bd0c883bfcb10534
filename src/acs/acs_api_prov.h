/*
 * acs_api_prov: provisioning's side of the REST API and of the config file.
 *
 *   /api/presets[/{name}]                     presets (JSON; acs/provision/preset.h)
 *   /api/provisions[/{name}]                  Lua provisions, syntax-checked at upload
 *   /api/virtual-parameters[/{name}]          Lua virtual parameters, the same
 *   /api/devices/{id}/presets                 what became of each preset on the device
 *   /api/devices/{id}/presets/{name}/fault    clear a preset's fault (it runs again)
 *
 * Like every API handler, the store is touched only in jobs on the store
 * worker (store_worker_submit); JSON answers are built there. The config
 * file's `presets:` (--presets) is checked when the options are read and
 * synced into the store at start and on SIGHUP: those presets are the
 * file's, the API cannot change them. docs/acs.md, "Presets", says it all
 * for operators; docs/api/openapi.yaml describes the routes.
 */
#ifndef OUTPOST_ACS_API_PROV_H
#define OUTPOST_ACS_API_PROV_H

#include <stddef.h>

#include "acs/acs_internal.h"

/* Add the routes above to the API router (each with its role). 0 or -EINVAL. */
int acs_prov_api_register(acs_t *a, http_router_t *r);

/* The --presets check: null, or a JSON list of presets, each with its name
 * (unique). 0, or -EINVAL with "[i].FIELD: reason" in err. */
int acs_presets_check(const char *json, char *err, size_t errlen);

/* Make the stored config presets those of `json` (checked already; NULL:
 * none) in a store job; the outcome is logged. 0, or an error when the job
 * could not be queued. */
int acs_presets_sync(acs_t *a, const char *json);
/* The same at start, straight on a->store before the store worker runs
 * (so the first Inform sees them): 0 or an error (logged). */
int acs_presets_sync_start(acs_t *a, const char *json);

#endif
