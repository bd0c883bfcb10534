/*
 * acs_tasks: the task vocabulary of the REST API and its CWMP translation.
 * Pure (no I/O, no loop, no acs_t): unit-tested in tests/unit/acs/.
 *
 * Everything the ACS does differently for one task type is one row of
 * acs_task_types[] (acs_tasks.c): the RPC it sends and the answer it
 * expects, which "parameters" the API accepts and how they are checked
 * (acs_task_check.c), how the RPC is built from them (acs_tasks.c), how the
 * CPE's answer becomes the task's result (acs_results.c), and whether the
 * task may be sent again when its answer was lost. A new task type is a new
 * row and its functions; nothing else switches on the type.
 *
 * Ownership: rows are static. An RPC built here points into the caller's
 * JSON, key buffer and an acs_rpc_scratch_t the caller frees; results are
 * new references / malloc'd text the caller frees.
 */
#ifndef OUTPOST_ACS_TASKS_H
#define OUTPOST_ACS_TASKS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "codec/cwmp.h"
#include "store/store.h"

/* What an RPC built from a task points to beyond the task's JSON: arrays,
 * formatted numbers, the parsed JSON tree or the names' text. Zeroed by the
 * builders; acs_rpc_scratch_free() releases it (and zeroes it again). */
typedef struct acs_rpc_scratch {
    cwmp_param_t *params;
    const char **names;
    char **owned;
    size_t nowned;
    json_t *tree;              /* acs_task_rpc_text: the parsed parameters */
    char *text;                /* acs_task_rpc_text: the names read without a tree */
} acs_rpc_scratch_t;

typedef struct acs_task_type {
    const char *name;              /* the API's "type" */
    cwmp_type_t rpc;               /* the RPC the task sends */
    cwmp_type_t response;          /* the answer it expects: cwmp_response_type(rpc) */
    const char *const *fields;     /* keys "parameters" may have */
    const char *const *required;   /* keys it must have */
    /* Checks beyond fields/required (p: the parameters, NULL when none came):
     * 0, or -EINVAL with the reason in err. NULL: nothing more to check. */
    int (*check)(json_t *p, char *err, size_t errlen);
    /* The RPC's own fields from validated parameters (m->type is set; key is
     * "task-ID", the CommandKey/ParameterKey naming the task). NULL: none. */
    int (*build)(json_t *p, cwmp_msg_t *m, acs_rpc_scratch_t *s, const char *key);
    /* The same from the stored JSON text without building a tree (long name
     * lists are the common case); -EINVAL: not in the expected shape, the
     * caller falls back to build. NULL: no such path. */
    int (*build_text)(const char *json, cwmp_msg_t *m, acs_rpc_scratch_t *s);
    /* The answer (m->type == response) as the task's result object; NULL:
     * {} (the answer carries nothing to keep). */
    json_t *(*result)(const cwmp_msg_t *m);
    /* The same as compact JSON text written without a tree (long parameter
     * lists); NULL: json_dumps of result. */
    char *(*result_text)(const cwmp_msg_t *m);
    /* Sending it twice is harmless (reads, sets of values or attributes):
     * a crash or a session that died before the answer puts it back in the
     * queue. The others (reboot, downloads, objects...) are never sent
     * twice: they wait for their CommandKey to come back in an Inform or a
     * TransferComplete, or expire. */
    bool requeue;
} acs_task_type_t;

extern const acs_task_type_t acs_task_types[];
extern const size_t acs_task_ntypes;

/* The row of a type name, or NULL. */
const acs_task_type_t *acs_task_type(const char *name);

/* Validate an API task request {"type", "parameters"}: unknown fields are
 * errors, so a typo never silently does nothing. On success *type_out is
 * the row's name (static) and *params_out a new reference (an empty object
 * when none came). On failure -EINVAL with the reason in err. */
int acs_task_validate(json_t *body, const char **type_out, json_t **params_out, char *err,
                      size_t errlen);
/* Build the RPC of a task from its validated parameters. keybuf receives
 * "task-ID". m's strings point into params, keybuf and *scratch. */
int acs_task_to_rpc(const char *type, json_t *params, int64_t task_id, cwmp_msg_t *m,
                    acs_rpc_scratch_t *scratch, char *keybuf, size_t keylen);
/* The same from a stored task's JSON text (NULL: no parameters): the row's
 * text path when it has one, else a tree kept in *scratch. */
int acs_task_rpc_text(const char *type, const char *json, int64_t task_id, cwmp_msg_t *m,
                      acs_rpc_scratch_t *scratch, char *keybuf, size_t keylen);
void acs_rpc_scratch_free(acs_rpc_scratch_t *s);
/* The response type a task expects; CWMP_NONE for an unknown type. */
cwmp_type_t acs_task_response_type(const char *type);
/* Whether a task of this type may be sent again (false for unknown types). */
bool acs_task_requeue_safe(const char *type);
/* The names of the requeue-safe types, NULL-terminated, into out[max]
 * (max > acs_task_ntypes is always enough); returns how many. */
size_t acs_task_requeue_list(const char **out, size_t max);
/* Virtual parameters' names begin with this (the engine's PROV_VP_PREFIX). */
#define ACS_VP_PREFIX "VirtualParameters."
/* A get_params / set_params task naming a virtual parameter: provisioning
 * carries it out (acs_work.h, acs_work_delegate), not a plain RPC. */
bool acs_task_virtual(const char *type, const char *json);
/* A get_params / get_names task asking for "keep_result": false (its
 * answer goes into the device's parameters only; the task's result says
 * how many) -- the bootstrap rediscovery's reads. True for anything else. */
bool acs_task_keeps_result(const char *json);
/* "task-123" -> 123, or 0. */
int64_t acs_task_id_from_key(const char *command_key);
/* The names of a get_params/get_attributes task straight from its stored
 * JSON ({"names":[...]} as json_dumps writes it), without building a tree:
 * names point into *storage (free both). -EINVAL for anything else. */
int acs_task_names_parse(const char *json, const char ***names, size_t *n, char **storage);

/* ---- acs_results.c: what a CPE's message leaves behind ---- */
/* Any answer (a task type's response, a Fault, a TransferComplete) as
 * result JSON (new reference, never NULL but without memory). */
json_t *acs_result_json(const cwmp_msg_t *m);
/* The same as compact JSON text (malloc'd); long parameter lists are
 * written directly, without building a tree. */
char *acs_result_text(const cwmp_msg_t *m);
/* Copy a decoded parameter list (the decoder is reused for the next
 * message) as store rows: *params and one block *strings holding every
 * string (free both). values: names, values and types
 * (GetParameterValuesResponse, Inform); otherwise names and writable flags
 * (GetParameterNamesResponse). 0 or -ENOMEM. */
int acs_copy_params(const cwmp_msg_t *m, bool values, store_param_t **params, char **strings,
                    size_t *n);

/* What a set_params task the CPE accepted leaves in the store: its values
 * as the RPC carried them, set_by STORE_SET_BY_ACS (rows and one string
 * block, as acs_copy_params; none for another type). 0 or -ENOMEM/-EINVAL. */
int acs_set_rows(const char *type, const char *params_json, store_param_t **params,
                 char **strings, size_t *n);
/* The notification attributes a set_attributes task changed (its stored
 * JSON), and those a GetParameterAttributesResponse reports. */
int acs_set_attr_rows(const char *params_json, store_param_attr_t **attrs, char **strings, size_t *n);
int acs_attr_rows(const cwmp_msg_t *m, store_param_attr_t **attrs, char **strings, size_t *n);
/* Names with their writable flags (a GetParameterNamesResponse's rows)
 * merged into value rows: a value row takes its name's flag; the names no
 * value row has (objects...) are appended, pointing into the names'
 * strings (which must live as long as *vals). 0 or -ENOMEM (*vals intact
 * but maybe partly merged). */
int acs_merge_names(store_param_t **vals, size_t *nvals, const store_param_t *names, size_t nnames);
/* What parameter rows tell about the device (the root's
 * ManagementServer.PeriodicInformInterval, NATDetected,
 * UDPConnectionRequestAddress, ConnReqJabberID) into *f; true when any. */
bool acs_params_facts(const store_param_t *p, size_t n, int64_t now, store_device_facts_t *f);

/* ---- the rows' functions (acs_task_check.c, acs_tasks.c, acs_results.c) ---- */
int acs_check_names(json_t *p, char *err, size_t errlen);
int acs_check_set_values(json_t *p, char *err, size_t errlen);
int acs_check_get_names(json_t *p, char *err, size_t errlen);
int acs_check_object(json_t *p, char *err, size_t errlen);
int acs_check_set_attributes(json_t *p, char *err, size_t errlen);
int acs_check_transfer(json_t *p, char *err, size_t errlen);
int acs_check_schedule_inform(json_t *p, char *err, size_t errlen);
/* A stored file's name (acs_files.h): 1-128 of [A-Za-z0-9._-], starting
 * with a letter or digit: no path, no hidden or temporary name. */
bool acs_file_name_ok(const char *name);
/* A TR-069 FileType: "N text" (N 1-99: "1 Firmware Upgrade Image", "3
 * Vendor Configuration File"...) or a vendor's "X text"; printable ASCII,
 * at most 64 bytes. */
bool acs_file_type_ok(const char *type);
json_t *acs_result_values(const cwmp_msg_t *m);
char *acs_result_values_text(const cwmp_msg_t *m);
json_t *acs_result_names(const cwmp_msg_t *m);
char *acs_result_names_text(const cwmp_msg_t *m);
json_t *acs_result_attributes(const cwmp_msg_t *m);
json_t *acs_result_methods(const cwmp_msg_t *m);
json_t *acs_result_status(const cwmp_msg_t *m);
json_t *acs_result_add_object(const cwmp_msg_t *m);
json_t *acs_result_transfer(const cwmp_msg_t *m);

#endif
