/*
 * prov_lua: the Lua 5.4 sandbox that runs provision scripts and virtual
 * parameter scripts against a prov_state_t, recording declarations.
 *
 * One pooled lua_State per thread (prov_lua.c, "the pool"), built with a
 * counting allocator and set up once; each run gets a fresh environment
 * (its globals), fresh proxies of the libraries (empty tables with a locked
 * metatable indexing the real ones), `load` defaulting to that environment,
 * a reseeded math.random, and limits counted from its own start. So nothing
 * a script does (globals, library fields, the string metatable, `__gc`
 * tricks) can survive into another device's run, and a run costs about 8 us
 * instead of the 28 us of a fresh state (17 of them creating it and opening
 * its libraries; test_prov_lua's bench). Compiled scripts are cached by
 * source. test_pool_isolation checks what one run tries against the next.
 *
 * What a script sees: the base library without dofile, loadfile,
 * collectgarbage, print and warn; `load` for text chunks only; pcall/xpcall
 * that cannot swallow the engine's stops (budget, memory, commit, ext);
 * setmetatable without __gc (finalizers run with the hooks off);
 * string (without dump; the string metatable is locked), table, math, utf8.
 * No io, os, package/require, debug or coroutine: none has a use in a
 * provision that the API below does not cover, and each is a way out.
 * String pattern functions (find, match, gmatch, gsub) refuse a subject
 * whose worst-case backtracking cost is out of proportion (a CPE controls
 * the values a script matches) and charge their cost to the budget: the
 * VM's instruction hook cannot interrupt C code.
 *
 * The API (docs/provisioning.md has the details and examples):
 *   declare(path, timestamps, values) -> result   records a declaration
 *   commit()        end the run now unless every declaration so far is met
 *   log(...)        into the run's capped log
 *   now()           the session's time (Unix seconds)
 *   args            provision arguments (strings); VP mode: see below
 *   device          {id, oui, product_class, serial, tags = {name = true}}
 *   ext(name, ...)  an external call: the cached result (string; nil, error
 *                   on failure), else the run ends asking for it
 * Reading a result field declared fresher than the state ends the run with
 * PROV_RUN_COMMIT (not a fault): the engine fetches and runs it again.
 *
 * Virtual parameter mode (env->vp): args = {
 *   mode = "get" | "set",
 *   [1] = the declaration's timestamps {path=, value=, writable=},
 *   [2] = set mode: {value = {v, type}} (the wanted value); get: {} }
 * and the script returns {writable = bool, value = {v, type}} (a bare v is
 * taken as {v, "xsd:string"}).
 *
 * Limits end a run with a fault (code 9002) and never crash the process:
 * instructions (a count hook every 1000), memory (the allocator refuses past
 * the cap), thread CPU time as a backstop, log and declaration sizes.
 * Preemption is not a limit: a run past env->preempt_ns stops (checked by
 * the hook and by every allocation of PREEMPT_CHECK_BYTES or more, since
 * one string.rep may be worth milliseconds) so that it runs again off the
 * event loop.
 */
#ifndef OUTPOST_ACS_PROV_LUA_H
#define OUTPOST_ACS_PROV_LUA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "acs/provision/prov_declare.h"
#include "acs/provision/prov_state.h"
#include "core/buf.h"

typedef struct prov_lua_limits {
    uint64_t instructions; /* VM instructions per run; default 1,000,000 */
    size_t memory;         /* bytes of the Lua heap; default 4 MiB */
    size_t log_max;        /* bytes of log per run; default 4 KiB */
    uint64_t cpu_ns;       /* thread CPU time per run; default 250 ms */
} prov_lua_limits_t;

typedef struct prov_device {
    const char *id, *oui, *product_class, *serial;
    const char *tags;      /* comma-separated, as the store keeps them */
} prov_device_t;

/* The session's external-call cache. key: name and arguments joined by
 * '\x1f'. Return true when cached: *ok false for a failed call, with *value
 * its error text; the strings stay valid during the run. */
typedef bool (*prov_ext_lookup_fn)(void *ud, const char *key, size_t keylen, bool *ok,
                                   const char **value);

typedef struct prov_lua_env {
    prov_state_t *st;
    int64_t now;                 /* session time: now(), the "this session" timestamp */
    const prov_device_t *device;
    const char *const *args;     /* provision mode */
    size_t nargs;
    const prov_vp_req_t *vp;     /* virtual parameter mode when set */
    prov_ext_lookup_fn ext_lookup;
    void *ext_ud;
    const prov_lua_limits_t *limits; /* NULL: defaults */
    int provision;               /* recorded in declarations and faults */
    /* 0, or thread CPU after which the run stops with PROV_RUN_PREEMPTED:
     * a caller on an event loop runs it again where time may be spent */
    uint64_t preempt_ns;
} prov_lua_env_t;

typedef enum prov_run_status {
    PROV_RUN_DONE = 0, /* ran to the end */
    PROV_RUN_COMMIT,   /* stopped for data: plan, fetch, run again */
    PROV_RUN_EXT,      /* stopped for an external call: ext_* */
    PROV_RUN_FAULT,    /* fault */
    PROV_RUN_PREEMPTED, /* past env->preempt_ns: not a fault, nothing kept */
} prov_run_status_t;

typedef struct prov_lua_out {
    prov_run_status_t status;
    prov_fault_t fault;
    buf_t log;                 /* lines the caller logs; capped */
    char *ext_key;             /* PROV_RUN_EXT: the cache key */
    char *ext_name;
    char **ext_args;
    size_t n_ext_args;
    bool vp_done;              /* VP mode, DONE: the script's answer */
    char *vp_value;
    prov_type_t vp_type;
    int vp_writable;           /* -1 unknown */
    uint64_t instructions;     /* about: counted per 1000 */
    size_t mem_peak;
} prov_lua_out_t;

void prov_lua_out_init(prov_lua_out_t *o);
void prov_lua_out_free(prov_lua_out_t *o);

/* Compile src without running it. 0; -EINVAL with *line (0 if none) and the
 * message (without the chunk name and line) in msg; -ENOMEM. For uploads. */
int prov_lua_check(const char *src, size_t len, int *line, char *msg, size_t msglen);

/* Run src once. Declarations go to decls (the caller resets it between
 * rounds). out must be initialised; its previous contents are freed.
 * Returns 0 (out->status says how it ended) or -ENOMEM. */
int prov_lua_run(const char *src, size_t len, const prov_lua_env_t *env, prov_decls_t *decls,
                 prov_lua_out_t *out);

#endif
