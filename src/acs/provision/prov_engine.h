/*
 * prov_engine: one device's provisioning in one session, without I/O.
 *
 * prov_run_one() runs one provision (a Lua script, or a built-in made of
 * the same declarations in C) against the state, collecting declarations,
 * effects, log and fault. prov_session_step() is the loop: run every
 * provision from the top, plan, and say what to do next:
 *   PROV_STEP_SEND       send s->rpc (prov_rpc_msg), then prov_session_apply()
 *                        the answer and step again
 *   PROV_STEP_EXT        an external call is needed (s->ext_*): run it off the
 *                        loop, put its result in the cache the ext_lookup
 *                        callback reads, step again
 *   PROV_STEP_CONVERGED  nothing left; s->effects are what the provisions
 *                        asked of the ACS itself (tags, download, reboot tasks)
 *   PROV_STEP_FAULT      s->fault: which provision, message, line
 *   PROV_STEP_GAVE_UP    max_rounds rounds without converging (s->fault too)
 *   PROV_STEP_PREEMPTED  a script (a provision's or a virtual parameter's) used
 *                        more than opts.preempt_ns of thread CPU: nothing of
 *                        the step is kept; step again off the event loop
 *                        (with preempt_ns 0)
 * A round is one planning pass: an RPC, or a re-run because a virtual
 * parameter answer or a commit() changed what scripts see.
 *
 * Built-in provisions (name, args):
 *   set       path, value [, type [, fallback]]   declare the value (type:
 *                                         "" or absent for the data model's;
 *                                         fallback: the type when neither is known)
 *   refresh   path                        read again this session: a
 *                                         parameter's value, or an object's
 *                                         ("X.") whole subtree, names and values
 *   add_tag, remove_tag   tag             effect (tags are device metadata)
 *   download  file_type, url [, target]   effect (a download task)
 *   reboot                                effect (a reboot task)
 * Values are used as given: template expansion is the preset's business.
 *
 * Virtual parameters: the session resolves VirtualParameters.<Name> by
 * running the script opts.vp_lookup returns for <Name> in VP mode.
 *
 * Ownership: the session owns its declarations, effects, log, RPC and ext
 * strings; prov_session_free() releases them. Not thread-safe.
 */
#ifndef OUTPOST_ACS_PROV_ENGINE_H
#define OUTPOST_ACS_PROV_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "acs/provision/prov_declare.h"
#include "acs/provision/prov_lua.h"
#include "acs/provision/prov_state.h"
#include "core/buf.h"

typedef struct prov_provision {
    const char *name;         /* a built-in's name, or the script's (for logs) */
    const char *script;       /* Lua source; NULL: the built-in `name` */
    size_t script_len;
    const char *const *args;
    size_t nargs;
} prov_provision_t;

typedef enum prov_effect_kind {
    PROV_EFFECT_ADD_TAG = 0,
    PROV_EFFECT_REMOVE_TAG,
    PROV_EFFECT_DOWNLOAD,     /* arg[0] file type, arg[1] URL, arg[2] target or NULL */
    PROV_EFFECT_REBOOT,
} prov_effect_kind_t;

typedef struct prov_effect {
    prov_effect_kind_t kind;
    int provision;
    char *arg[3];
} prov_effect_t;

typedef struct prov_effects {
    prov_effect_t *v;
    size_t n, cap;
} prov_effects_t;

void prov_effects_reset(prov_effects_t *fx);
void prov_effects_free(prov_effects_t *fx);

/* Run provision p (index env->provision). Declarations go to decls, effects
 * to fx; out says how it ended (a built-in ends DONE or FAULT). 0 or
 * -ENOMEM. */
int prov_run_one(const prov_provision_t *p, const prov_lua_env_t *env, prov_decls_t *decls,
                 prov_effects_t *fx, prov_lua_out_t *out);
/* Is `name` a built-in provision? */
bool prov_builtin_exists(const char *name);

/* name -> the virtual parameter's script; false when there is none. */
typedef bool (*prov_vp_lookup_fn)(void *ud, const char *name, const char **script, size_t *len);

typedef struct prov_session_opts {
    int max_rounds;               /* default 32 */
    int64_t now;                  /* the session's time (now(), "this session") */
    const prov_device_t *device;
    const prov_lua_limits_t *limits;
    prov_vp_lookup_fn vp_lookup;
    void *vp_ud;
    prov_ext_lookup_fn ext_lookup;
    void *ext_ud;
    size_t log_max;               /* bytes of log per step; default 16 KiB */
    uint64_t preempt_ns;          /* each script run's thread CPU before
                                   * PROV_STEP_PREEMPTED; 0: never; may change
                                   * between steps */
} prov_session_opts_t;

typedef enum prov_step {
    PROV_STEP_SEND = 0,
    PROV_STEP_EXT,
    PROV_STEP_CONVERGED,
    PROV_STEP_FAULT,
    PROV_STEP_GAVE_UP,
    PROV_STEP_PREEMPTED,
} prov_step_t;

const char *prov_step_name(prov_step_t s);

typedef struct prov_session {
    prov_state_t *st;             /* borrowed */
    prov_session_opts_t o;
    int rounds;
    prov_decls_t decls;
    prov_effects_t effects;
    buf_t log;                    /* this step's script logs, "[name] line\n" */
    prov_rpc_t rpc;               /* PROV_STEP_SEND */
    prov_fault_t fault;           /* FAULT, GAVE_UP */
    char *ext_key, *ext_name;     /* PROV_STEP_EXT */
    char **ext_args;
    size_t n_ext_args;
    int ext_provision;
    bool preempted;               /* within a step only */
} prov_session_t;

void prov_session_init(prov_session_t *s, prov_state_t *st, const prov_session_opts_t *o);
void prov_session_free(prov_session_t *s);
/* The next step for provisions p[0..n). 0 with *out set, or -ENOMEM. */
int prov_session_step(prov_session_t *s, const prov_provision_t *p, size_t n, prov_step_t *out);
/* The CPE's answer to s->rpc. 0; 1 when it is a fault the session ends on
 * (s->fault); -EPROTO / -ENOBUFS as prov_rpc_apply. */
int prov_session_apply(prov_session_t *s, const cwmp_msg_t *resp, int64_t now);

#endif
