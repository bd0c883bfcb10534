/*
 * dm: the simulated CPE's TR-069 data model engine.
 *
 * Two layers, so that 100,000 CPEs cost little more than one:
 *
 *  - dm_model_t: one shared parameter tree per fleet (objects and parameters
 *    with their xsd type, writability, default value, default notification
 *    and access list, and a hidden template instance for every table). It is
 *    built with dm_model_add() (the built-in TR-181/TR-098 models, the CSV
 *    loader), then sealed by dm_model_seal(); from then on it never changes.
 *
 *  - dm_inst_t: a CPE's copy-on-write overlay: the values and attributes the
 *    ACS changed, the objects it added (instantiated from the table's
 *    template) and the shared instances it deleted. A CPE that was never
 *    written to has no overlay at all (NULL); dm_inst_free() / factory reset
 *    drops it.
 *
 * Per-CPE values that are not stored (serial number, MAC and IP addresses,
 * ConnectionRequestURL, UpTime, the current time) are "dynamic": the node
 * carries a dm_dyn_t kind and the CPE's dm_env_t computes the text on read.
 *
 * Every operation works on a dm_view_t (model + the CPE's overlay pointer +
 * env) and returns 0, a positive CWMP fault code (9003, 9005...) or a
 * negative errno for internal failures. Result items go to a visitor; the
 * strings in a dm_item_t are only valid during the callback.
 *
 * Ownership: the model owns every node and string in it; an overlay owns its
 * strings; the view is the caller's (usually on the stack).
 */
#ifndef OUTPOST_CPESIM_DM_H
#define OUTPOST_CPESIM_DM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

typedef enum dm_type {
    DM_OBJECT = 0,
    DM_STRING,
    DM_INT,
    DM_UINT,
    DM_LONG,
    DM_ULONG,
    DM_BOOL,
    DM_DATETIME,
    DM_BASE64,
    DM_HEXBINARY,
    DM_TYPE_COUNT
} dm_type_t;

/* "xsd:string"...; NULL for DM_OBJECT. */
const char *dm_type_name(dm_type_t t);
/* "xsd:unsignedInt" (ASCII case-insensitive, prefix optional) -> type; -EINVAL. */
int dm_type_parse(const char *s, size_t n);

/* CWMP fault codes the engine returns (TR-069 Table A.5). */
enum {
    DM_FAULT_REQUEST_DENIED = 9001,
    DM_FAULT_INTERNAL = 9002,
    DM_FAULT_INVALID_ARGS = 9003,
    DM_FAULT_RESOURCES = 9004,
    DM_FAULT_BAD_NAME = 9005,
    DM_FAULT_BAD_TYPE = 9006,
    DM_FAULT_BAD_VALUE = 9007,
    DM_FAULT_READ_ONLY = 9008,
    DM_FAULT_NOTIFY_REJECTED = 9009,
};

/* Values computed per CPE on read (see dm_env_t). */
typedef enum dm_dyn {
    DM_DYN_NONE = 0,
    DM_DYN_SERIAL,   /* the CPE's serial number */
    DM_DYN_CR_URL,   /* its connection request URL */
    DM_DYN_CR_USER,  /* connection request username */
    DM_DYN_CR_PASS,  /* connection request password (reads give "") */
    DM_DYN_UPTIME,   /* seconds since its (simulated) boot */
    DM_DYN_NOW,      /* current time, xsd:dateTime */
    DM_DYN_MAC,      /* a MAC address unique per CPE and arg */
    DM_DYN_WAN_IP,   /* its WAN IPv4 address */
    DM_DYN_CR_JID,   /* its XMPP JID for connection requests ("" without XMPP) */
    DM_DYN_COUNT
} dm_dyn_t;

/* Flags for dm_model_add(). */
enum {
    DM_W = 1 << 0,          /* writable (objects: AddObject / DeleteObject allowed) */
    DM_NO_ACTIVE = 1 << 1,  /* active notification is refused (9009): counters, UpTime */
    DM_FORCED = 1 << 2,     /* in every Inform's ParameterList */
    DM_VOLATILE = 1 << 3,   /* changes by itself (the value-change simulation picks these) */
    DM_SECRET = 1 << 4,     /* reads give "" (passwords, keys) */
    DM_TABLE = 1 << 5,      /* object: a multi-instance table even with no instance yet */
};

typedef struct dm_model dm_model_t;
typedef struct dm_inst dm_inst_t;

/* How a CPE fills dynamic values. `arg` is the node's dyn argument (which
 * MAC address...). Append the text to out; 0 or negative errno. */
typedef struct dm_env {
    int (*dyn)(void *ctx, dm_dyn_t kind, unsigned arg, buf_t *out);
    void *ctx;
} dm_env_t;

typedef struct dm_view {
    const dm_model_t *m;
    dm_inst_t **inst;       /* the CPE's overlay pointer; created on first write */
    const dm_env_t *env;    /* NULL: dynamic values read as their stored default */
} dm_view_t;

/* One node as the visitors see it. */
typedef struct dm_item {
    const char *name;   /* full path; objects end in '.' */
    const char *value;  /* NULL for objects */
    dm_type_t type;
    bool writable;
    uint8_t notify;     /* 0 off, 1 passive, 2 active */
    bool access_subscriber; /* access list {"Subscriber"} */
} dm_item_t;

typedef int (*dm_visit_fn)(void *ud, const dm_item_t *it);

/* ---- building a model ----------------------------------------------------- */

enum {
    DM_NAME_MAX = 256,       /* TR-069 parameter names are string(256) */
    DM_VALUE_MAX = 65535,    /* longest value a model or an ACS may store */
    DM_SEG_MAX = 64,         /* path segments */
};

dm_model_t *dm_model_new(void);
void dm_model_free(dm_model_t *m);
/* Add (or update) a node. `path` is a full name; objects end in '.' (or pass
 * DM_OBJECT). A "{i}" segment addresses a table's template instance, whose
 * nodes are what AddObject creates ("Device.NAT.PortMapping.{i}.Enable").
 * Missing parent objects are created. value may be NULL (type default).
 * -EINVAL for a malformed path, a parameter under a parameter, a value that
 * breaks its type; -EEXIST when an object/parameter kind conflicts. */
int dm_model_add(dm_model_t *m, const char *path, dm_type_t type, unsigned flags,
                 const char *value);
/* Attributes of an existing node, for loaders and fleet set-up. */
int dm_model_set_dyn(dm_model_t *m, const char *path, dm_dyn_t kind, unsigned arg);
int dm_model_set_default(dm_model_t *m, const char *path, const char *value);
int dm_model_set_flags(dm_model_t *m, const char *path, unsigned set, unsigned clear);
int dm_model_set_notify(dm_model_t *m, const char *path, uint8_t notify, bool subscriber);
/* Restrict values: "min:max" (either side may be empty) for numbers,
 * "len:N" for strings, "enum:a|b|c". */
int dm_model_set_constraint(dm_model_t *m, const char *path, const char *constraint);
/* Finish: derive templates of tables from their first instance, link the
 * *NumberOfEntries counters, order instances. No dm_model_add() after. */
int dm_model_seal(dm_model_t *m, char *err, size_t errlen);

/* The root object name ("Device." or "InternetGatewayDevice."); "" if empty. */
const char *dm_model_root(const dm_model_t *m);
/* Visible nodes (templates excluded) and parameters. */
size_t dm_model_nodes(const dm_model_t *m);
size_t dm_model_params(const dm_model_t *m);
/* Bytes held by the model, for the memory report. */
size_t dm_model_bytes(const dm_model_t *m);
bool dm_model_has(const dm_model_t *m, const char *path);
/* The default value of a parameter in the model (no overlay), or NULL. */
const char *dm_model_default(const dm_model_t *m, const char *path);

/* ---- RPC operations (TR-069 A.3.2) ---------------------------------------- */

/* GetParameterNames: path "" is the whole tree; a parameter name with
 * next_level is 9003; unknown 9005. Items carry name + writable. */
int dm_get_names(const dm_view_t *v, const char *path, bool next_level, dm_visit_fn fn, void *ud);
/* GetParameterValues for one name (full or partial path: every parameter
 * below it, in tree order). 9005 when unknown. */
int dm_get_values(const dm_view_t *v, const char *path, dm_visit_fn fn, void *ud);
/* GetParameterAttributes for one name (partial paths expand to parameters). */
int dm_get_attrs(const dm_view_t *v, const char *path, dm_visit_fn fn, void *ud);

typedef struct dm_set {
    const char *name;
    const char *value;
    const char *type;   /* xsi:type as sent, NULL when absent */
} dm_set_t;

/* SetParameterValues, all or nothing. On a fault returns 9003 with
 * faults[i] set for every failing item (0 for good ones); faults has n
 * entries. parameter_key (may be NULL) is stored on success. *changed_mask
 * (may be NULL) gets the DM_WK_* bits of well-known parameters written. */
int dm_set_values(const dm_view_t *v, const dm_set_t *items, size_t n, const char *parameter_key,
                  int *faults, uint32_t *changed_mask);

typedef struct dm_attr_set {
    const char *name;
    bool notification_change;
    int notification;
    bool access_list_change;
    bool subscriber;    /* the new access list is {"Subscriber"} */
} dm_attr_set_t;

/* SetParameterAttributes, all or nothing; the fault item index goes to
 * *bad (may be NULL). 9005 unknown, 9009 active refused, 9003 bad value. */
int dm_set_attrs(const dm_view_t *v, const dm_attr_set_t *items, size_t n, size_t *bad);

/* AddObject on a table path ("Device.NAT.PortMapping."): the new instance
 * number goes to *instance. 9005 unknown / not an addable table, 9004 when
 * the CPE's overlay is full. */
int dm_add_object(const dm_view_t *v, const char *path, const char *parameter_key,
                  uint32_t *instance);
/* DeleteObject on an instance path ("Device.NAT.PortMapping.3."). */
int dm_delete_object(const dm_view_t *v, const char *path, const char *parameter_key);

/* ---- the CPE's own use ---------------------------------------------------- */

/* Well-known parameters (relative to the root), resolved at seal time. */
typedef enum dm_wk {
    DM_WK_MANUFACTURER,
    DM_WK_OUI,
    DM_WK_PRODUCT_CLASS,
    DM_WK_SERIAL,
    DM_WK_SW_VERSION,
    DM_WK_HW_VERSION,
    DM_WK_UPTIME,
    DM_WK_ACS_URL,
    DM_WK_ACS_USER,
    DM_WK_ACS_PASS,
    DM_WK_PERIODIC_ENABLE,
    DM_WK_PERIODIC_INTERVAL,
    DM_WK_PARAMETER_KEY,
    DM_WK_CR_URL,
    DM_WK_CR_USER,
    DM_WK_CR_PASS,
    DM_WK_WAN_IP,
    DM_WK_RETRY_MIN,
    DM_WK_RETRY_MULT,
    DM_WK_COUNT
} dm_wk_t;

/* Full name of a well-known parameter, NULL if the model lacks it. */
const char *dm_wk_name(const dm_model_t *m, dm_wk_t wk);
/* Its current value for this CPE (secrets included) appended to out;
 * -ENOENT when the model lacks it. */
int dm_wk_get(const dm_view_t *v, dm_wk_t wk, buf_t *out);

/* A value change made by the CPE itself (not the ACS): stores it and, when
 * the parameter's notification is on, marks it for the next Inform.
 * Returns the notification level (0, 1, 2) or a negative error. */
int dm_set_internal(const dm_view_t *v, const char *path, const char *value);
/* Parameters of the next Inform: the forced ones, then those changed with
 * notification on (and not already listed). */
int dm_inform_params(const dm_view_t *v, dm_visit_fn fn, void *ud);
/* Forget pending value changes (after an InformResponse). */
void dm_clear_changes(const dm_view_t *v);
/* True when a pending change has active notification. */
bool dm_has_active_change(const dm_view_t *v);
/* Pick the n-th volatile parameter (mod their count); NULL if none. */
const char *dm_volatile_param(const dm_model_t *m, size_t n, dm_type_t *type);

/* Drop the overlay (factory reset). */
void dm_inst_free(dm_inst_t *in);
/* Bytes the overlay holds (for the memory report). */
size_t dm_inst_bytes(const dm_inst_t *in);
/* Overlay cap per CPE (default 256 KiB): writes past it fail with 9004. */
void dm_set_inst_cap(size_t bytes);

/* Persistence (--state-dir): text lines describing the overlay, and their
 * reverse. Names the model does not know are skipped on load. */
int dm_inst_save(const dm_view_t *v, buf_t *out);
int dm_inst_load_line(const dm_view_t *v, const char *line, size_t len);

#endif
