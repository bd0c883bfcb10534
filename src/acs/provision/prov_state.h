/*
 * prov_state: the device's parameter tree as the ACS knows it during one
 * CWMP session, for the provisioning engine.
 *
 * Each node is a parameter or an object (path without the trailing '.',
 * `object` says which) with its value and type, its writable flag, and the
 * times (Unix seconds) each fact was last read from the device:
 *   t_value     the value (GetParameterValues, or set by us: SPV)
 *   t_path      the node's existence (seen in a names or values answer)
 *   t_writable  the writable flag (GetParameterNames)
 *   t_children  objects: when the list of its children was complete
 *               (GetParameterNames of it with NextLevel=true, or of it or an
 *               ancestor with NextLevel=false). A child missing from the tree
 *               is known absent as of that time.
 * A 0 time means "never". Paths the device said do not exist (a 9005 fault
 * to a GetParameterNames, a DeleteObject) stay as "absent" tombstones with
 * t_path = when that was learnt.
 *
 * Loading from the store: the stored rows carry one update time; values,
 * existence and the writable flag (when stored) take it, clamped to before
 * the session so that "read in this session" (timestamp = session start)
 * always means a fresh read. Stored rows never prove an object's children
 * list complete (a GetParameterValues of one parameter stores one row), so
 * loaded objects have t_children = 0 unless the caller vouches with
 * prov_state_assume_listed().
 *
 * Updates come from the CPE's answers, one item at a time (the codec's
 * on_param callback streams them) or as arrays. A hostile answer cannot grow
 * the tree without limit: nodes and bytes are capped (prov_state_opts_t) and
 * an update past a cap fails with -ENOBUFS (what was applied before stays).
 *
 * Pending writes: after an AddObject for a declaration with keys
 * (`[Alias:wan]`), the new instance's key parameters get a pending value the
 * planner sends in the next SetParameterValues; selectors match pending
 * values, so the new instance counts at once.
 *
 * Ownership: the state owns every string in it; node views handed out
 * (prov_node_info_t) are valid until the next update. Pure: no I/O, no
 * event loop, not thread-safe (one session uses it).
 */
#ifndef OUTPOST_ACS_PROV_STATE_H
#define OUTPOST_ACS_PROV_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "acs/provision/prov_path.h"
#include "codec/cwmp.h"
#include "store/store.h"

/* The TR-106 types the ACS reasons about. Unknown xsi:types from a CPE are
 * kept as PROV_T_STRING. */
typedef enum prov_type {
    PROV_T_UNKNOWN = 0,
    PROV_T_STRING,
    PROV_T_INT,
    PROV_T_UINT,
    PROV_T_LONG,
    PROV_T_ULONG,
    PROV_T_BOOL,
    PROV_T_DATETIME,
    PROV_T_BASE64,
    PROV_T_HEX,
    PROV_T_COUNT
} prov_type_t;

/* "xsd:string"...; NULL for PROV_T_UNKNOWN. */
const char *prov_type_name(prov_type_t t);
/* NULL / "" -> PROV_T_UNKNOWN; a name we do not know -> PROV_T_STRING.
 * Accepts the "xsd:" prefix or none. */
prov_type_t prov_type_from_name(const char *name);
/* Do two values of type t mean the same ("1" and "true" for booleans,
 * "007" and "7" for integers; strings byte for byte)? */
bool prov_value_equal(prov_type_t t, const char *a, const char *b);

typedef struct prov_state prov_state_t;
typedef struct prov_node prov_node_t; /* opaque */

typedef struct prov_state_opts {
    size_t max_nodes; /* default 100,000 */
    size_t max_bytes; /* paths, values, node overhead; default 32 MiB */
} prov_state_opts_t;

int prov_state_new(const prov_state_opts_t *opts, prov_state_t **out);
void prov_state_free(prov_state_t *st);
size_t prov_state_nodes(const prov_state_t *st);
size_t prov_state_bytes(const prov_state_t *st);

/* Stored parameters (names ending in '.' are objects). Times are
 * p->updated, or 1 ("read before this session") when 0, and never later
 * than session_start - 1. Invalid names are skipped. -ENOBUFS past a cap. */
int prov_state_load(prov_state_t *st, const store_param_t *p, size_t n, int64_t session_start);
/* The caller knows the stored subtree under `object_path` is complete as of
 * t (it stored a full GetParameterNames of it): every object in it gets
 * t_children = t. */
void prov_state_assume_listed(prov_state_t *st, const char *object_path, int64_t t);

/* ---- answers from the CPE -------------------------------------------------- */

/* GetParameterValuesResponse item. Objects are ignored. */
int prov_state_gpv_item(prov_state_t *st, const char *name, const char *value, const char *type,
                        int64_t now);
/* After the items: every requested name the answer did not cover still
 * counts as read now (its value stays what it was, possibly unknown), and a
 * requested object path marks every parameter under it read now. Without
 * this, a CPE that leaves a parameter out would make a declaration wait
 * forever. */
void prov_state_gpv_done(prov_state_t *st, const char *const *requested, size_t n, int64_t now);
/* GetParameterNamesResponse for `path` ("" = the root) and next_level:
 * begin, one item per ParameterInfoStruct (names outside `path` are
 * ignored), end. end() applies what the listing proves absent: with
 * NextLevel=true, children of `path` not listed are removed; with
 * NextLevel=false, every node under `path` not listed is removed. */
int prov_state_gpn_begin(prov_state_t *st, const char *path, bool next_level, int64_t now);
int prov_state_gpn_item(prov_state_t *st, const char *name, int writable);
void prov_state_gpn_end(prov_state_t *st);
/* Array forms of the above. */
int prov_state_gpv(prov_state_t *st, const char *const *requested, size_t nreq,
                   const cwmp_param_t *p, size_t n, int64_t now);
int prov_state_gpn(prov_state_t *st, const char *path, bool next_level, const cwmp_param_t *p,
                   size_t n, int64_t now);
/* A SetParameterValues the CPE accepted: values become the ones sent, read
 * as of now; pending writes of those names are done. */
int prov_state_spv(prov_state_t *st, const cwmp_param_t *p, size_t n, int64_t now);
/* AddObject of object_path ("X.") answered with `instance`: the instance
 * exists (children unknown); keys[i] = {relative name, value} become
 * pending writes on it. */
int prov_state_added(prov_state_t *st, const char *object_path, uint32_t instance,
                     const prov_key_t *keys, size_t nkeys, int64_t now);
/* DeleteObject of path done, or the CPE said path does not exist (9005 to a
 * GetParameterNames of it): the subtree goes, a tombstone stays. */
int prov_state_absent(prov_state_t *st, const char *path, int64_t now);
/* A parameter the ACS computed (virtual parameters): value, type, writable
 * (-1 unknown), all read as of now. */
int prov_state_put(prov_state_t *st, const char *name, const char *value, prov_type_t type,
                   int writable, int64_t now);

/* ---- lookups --------------------------------------------------------------- */

typedef struct prov_node_info {
    const char *path;    /* without trailing '.' */
    const char *value;   /* NULL: never read */
    prov_type_t type;
    int writable;        /* -1 unknown */
    bool object;
    bool exists;         /* false: a tombstone */
    const char *pending; /* a pending write, or NULL */
    prov_type_t pending_type;
    int64_t t_value, t_path, t_writable, t_children;
} prov_node_info_t;

/* Exact path (a trailing '.' is ignored). 0 or -ENOENT (never heard of). */
int prov_state_get(const prov_state_t *st, const char *path, prov_node_info_t *out);
void prov_state_info(const prov_node_t *n, prov_node_info_t *out);
/* The type to send a parameter with: its own, else the same parameter of
 * another instance of its table ("A.2.B" -> "A.1.B"), else PROV_T_UNKNOWN. */
prov_type_t prov_state_type_hint(const prov_state_t *st, const char *path);

/* Resolving a (pattern) path against what is known, as of timestamp t_path
 * (0: the path is trusted to exist unless known absent; only for paths
 * without a pattern). Callbacks, in a deterministic order (instances by
 * number, names by byte order):
 *   MATCH       a node that matches (node NULL: a trusted path not in the
 *               tree; `path` is always its concrete name)
 *   NEED_NAMES  what is known is not enough: a GetParameterNames of `path`
 *               with `next_level` would tell (the smallest covering subtree:
 *               NextLevel=false when more than one level below is unknown)
 *   NEED_VALUE  a key selector needs this parameter's value
 * The callback returns 0 to go on, or a negative errno that stops the walk.
 * prov_state_resolve returns 0 when every match is known, 1 when something
 * was needed, or a negative errno (the callback's, -ENAMETOOLONG...). */
typedef enum prov_res_kind {
    PROV_RES_MATCH = 0,
    PROV_RES_NEED_NAMES,
    PROV_RES_NEED_VALUE,
} prov_res_kind_t;

typedef struct prov_res {
    prov_res_kind_t kind;
    const char *path;         /* concrete; objects with their trailing '.' for NEED_NAMES */
    bool next_level;          /* NEED_NAMES */
    const prov_node_t *node;  /* MATCH: the node, or NULL */
} prov_res_t;

typedef int (*prov_res_fn)(void *ud, const prov_res_t *r);
int prov_state_resolve(const prov_state_t *st, const prov_path_t *p, int64_t t_path,
                       prov_res_fn fn, void *ud);

/* What a subtree needs so that its names are known as of t_path and its
 * parameters' values as of t_value (either 0: not asked). */
typedef struct prov_subtree_need {
    bool names;   /* some object's children list is older than t_path */
    bool values;  /* some parameter's value is older than t_value */
} prov_subtree_need_t;
void prov_state_subtree_need(const prov_node_t *n, int64_t t_path, int64_t t_value,
                             prov_subtree_need_t *out);
/* Parameters in the subtree of n (n itself when a parameter), sorted. */
int prov_state_each_leaf(const prov_node_t *n, prov_res_fn fn, void *ud);

/* Pending writes (see above), sorted by path. */
typedef int (*prov_node_fn)(void *ud, const prov_node_info_t *n);
int prov_state_each_pending(const prov_state_t *st, prov_node_fn fn, void *ud);

#endif
