/*
 * prov_declare: declarations (what provisions want to know or have) and the
 * planner that turns the unsatisfied ones into the next RPC.
 *
 * A declaration is a path (prov_path.h syntax) with
 *   t_path, t_value, t_writable  the path's existence / the value / the
 *                 writable flag must have been read at or after that time
 *                 (Unix seconds; 0 = not asked; 1 = ever). A path with a
 *                 pattern is always resolved as of at least 1.
 *   value, type   a wanted value (type PROV_T_UNKNOWN: the data model's, else
 *                 `fallback`, the type the script's value suggests)
 *   count         for a pattern path: between count_min and count_max
 *                 matching instances (per parent instance when the parent
 *                 path has patterns too), reached with AddObject (the keys
 *                 of a final [K:v] selector are then set on the new
 *                 instance) and DeleteObject (highest instance numbers go
 *                 first).
 * A literal path without t_path is trusted to exist (no GetParameterNames
 * first): the operator knows the data model, and one round trip per
 * session is what matters at scale. A missing one answers 9005 to the GPV.
 *
 * Planning (prov_plan) reads the state, never the network, and yields one
 * RPC per round trip, in this order (each step only when the ones before
 * have nothing to do, because their answers change what the later ones see):
 *   1. GetParameterNames: structure needed to expand or check a path (see
 *      prov_state_resolve for which path and NextLevel; needs under the
 *      same table object are merged into one listing of it);
 *   2. GetParameterValues of every stale value, in one RPC (sorted names;
 *      an object path stands for its whole subtree);
 *   3. DeleteObject, one per RPC (CWMP has no batch form);
 *   4. AddObject, one per RPC;
 *   5. SetParameterValues of every differing value in one RPC (sorted;
 *      the last declaration of a name wins; pending key writes included);
 *   else converged (PROV_RPC_NONE).
 * A wanted value on a parameter known not writable, or a value its type
 * cannot carry, ends as PROV_RPC_FAULT naming the declaration.
 *
 * Virtual parameters ("VirtualParameters.<Name>") are not device
 * parameters: the planner asks the caller's prov_vp_fn (prov_engine.h
 * supplies one running the VP's Lua script) and stores the answer in the
 * state as a parameter of that name.
 *
 * Ownership: a prov_decls_t owns its declarations; a prov_rpc_t owns every
 * string it points to until prov_rpc_clear(). Pure: no I/O.
 */
#ifndef OUTPOST_ACS_PROV_DECLARE_H
#define OUTPOST_ACS_PROV_DECLARE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "acs/provision/prov_path.h"
#include "acs/provision/prov_state.h"
#include "codec/cwmp.h"

#define PROV_VP_PREFIX "VirtualParameters."

/* Why a provision stopped short. code: a CWMP-style fault code (9002-like
 * for script and engine faults, the CPE's own code for its faults). */
typedef struct prov_fault {
    int code;
    int provision;     /* index of the provision, -1 none */
    int line;          /* script line, 0 unknown */
    char message[256];
} prov_fault_t;

/* snprintf into a message buffer, cut to fit (messages may be cut). */
void prov_msgf(char *out, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

enum {
    PROV_FAULT_SCRIPT = 9002,  /* script error, budget, memory cap, bad declaration */
};

typedef struct prov_decl {
    prov_path_t path;
    char *text;                 /* as declared */
    int64_t t_path, t_value, t_writable;
    char *value;                /* wanted value or NULL */
    prov_type_t type, fallback;
    bool count;
    uint32_t count_min, count_max;
    bool vp;                    /* VirtualParameters.<Name> */
    int provision;
} prov_decl_t;

typedef struct prov_decl_spec {
    const char *path;
    int64_t t_path, t_value, t_writable;
    const char *value;          /* NULL: none wanted */
    prov_type_t type;           /* PROV_T_UNKNOWN: the data model's */
    prov_type_t fallback;       /* used when neither declared nor known */
    bool count;
    uint32_t count_min, count_max;
    int provision;
} prov_decl_spec_t;

typedef struct prov_decls {
    prov_decl_t **v;
    size_t n, cap;
    size_t max;                 /* declarations; default 4096 */
    size_t bytes, max_bytes;    /* strings; default 1 MiB */
} prov_decls_t;

void prov_decls_init(prov_decls_t *d);
/* Forget every declaration (the memory of the array stays). */
void prov_decls_reset(prov_decls_t *d);
void prov_decls_free(prov_decls_t *d);
/* 0; -EINVAL (bad path, a count on a path without a final selector, a
 * value on an object...; *why, if given, says which), -ENOBUFS (caps). */
int prov_decls_add(prov_decls_t *d, const prov_decl_spec_t *s, const char **why);
/* Append copies of every declaration of src. */
int prov_decls_append(prov_decls_t *d, const prov_decls_t *src);

/* ---- the next RPC ---------------------------------------------------------- */

typedef enum prov_rpc_kind {
    PROV_RPC_NONE = 0, /* converged: nothing to ask or change */
    PROV_RPC_GPN,
    PROV_RPC_GPV,
    PROV_RPC_SPV,
    PROV_RPC_ADD,
    PROV_RPC_DEL,
    PROV_RPC_FAULT,    /* a declaration cannot be met: `fault` */
} prov_rpc_kind_t;

const char *prov_rpc_kind_name(prov_rpc_kind_t k);

typedef struct prov_rpc {
    prov_rpc_kind_t kind;
    char path[PROV_PATH_MAX + 16]; /* GPN path; ADD "X."; DEL "X.3." */
    bool next_level;               /* GPN */
    char **names;                  /* GPV */
    size_t n_names;
    cwmp_param_t *params;          /* SPV: name, value, type */
    size_t n_params;
    prov_path_t keys;              /* ADD: keys.key[0 .. n_keys) to set on the instance */
    size_t n_keys;
    int decl;                      /* the declaration behind it, -1 */
    prov_fault_t fault;            /* FAULT */
} prov_rpc_t;

void prov_rpc_init(prov_rpc_t *r);
void prov_rpc_clear(prov_rpc_t *r);
/* Fill a message for the encoder (type and RPC fields; pointers into r). The
 * caller sets ns, id and parameter_key. -EINVAL for NONE/FAULT. */
int prov_rpc_msg(const prov_rpc_t *r, cwmp_msg_t *m);
/* Apply the CPE's answer to r. 0; 1 when the answer is a fault the
 * provisions must see (`fault` filled; a 9005 to a GetParameterNames is not
 * one: it records the path as absent); -EPROTO for an answer of the wrong
 * type; -ENOBUFS when the state is full. */
int prov_rpc_apply(prov_state_t *st, const prov_rpc_t *r, const cwmp_msg_t *resp, int64_t now,
                   prov_fault_t *fault);

/* ---- virtual parameters ---------------------------------------------------- */

typedef struct prov_vp_req {
    const char *name;        /* "<Name>" (without the prefix) */
    bool set;                /* a wanted value: set mode */
    const char *value;       /* set mode */
    prov_type_t type;
    int64_t t_path, t_value, t_writable;
    int decl;                /* the declaration asking */
    int provision;
} prov_vp_req_t;

typedef enum prov_vp_status {
    PROV_VP_DONE = 0,  /* value/type/writable are the answer */
    PROV_VP_PENDING,   /* the VP script declared what it needs: in `more` */
    PROV_VP_ABSENT,    /* no such virtual parameter */
    PROV_VP_FAULT,     /* `fault` */
} prov_vp_status_t;

typedef struct prov_vp_res {
    prov_vp_status_t status;
    char *value;             /* malloc'd; the planner frees it */
    prov_type_t type;
    int writable;            /* -1 unknown */
    prov_fault_t fault;
} prov_vp_res_t;

typedef int (*prov_vp_fn)(void *ud, prov_state_t *st, const prov_vp_req_t *req,
                          prov_decls_t *more, prov_vp_res_t *res);

typedef struct prov_plan_opts {
    prov_vp_fn vp;          /* NULL: a needed virtual parameter is a fault */
    void *vp_ud;
    size_t gpv_max;         /* names per GPV (default 1000); the rest next round */
    size_t spv_max;         /* parameters per SPV (default 1000) */
} prov_plan_opts_t;

/* The next RPC for decls against st (VP answers are stored in st). rpc is
 * overwritten (prov_rpc_clear() it before reuse). 0 with rpc->kind set; a
 * negative errno for an engine failure (memory). */
int prov_plan(prov_state_t *st, const prov_decls_t *decls, int64_t now, prov_rpc_t *rpc);
int prov_plan_ex(prov_state_t *st, const prov_decls_t *decls, int64_t now,
                 const prov_plan_opts_t *opts, prov_rpc_t *rpc);
/* Would planning decls[from..] ask nothing (virtual parameters count as
 * satisfied only when the state already holds a fresh, equal answer)? Used
 * by a script's commit(). */
bool prov_decls_satisfied(const prov_state_t *st, const prov_decls_t *decls, size_t from);

#endif
